// SPDX-License-Identifier: GPL-2.0
/*
 * crucible-agent command-line parsing and usage text.
 */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>

#include "../lib/parse.h"

#ifndef CRUCIBLE_VERSION
#define CRUCIBLE_VERSION "unknown"
#endif

void agent_version(FILE *out)
{
	fprintf(out, "crucible-agent (dm-crucible) %s\n", CRUCIBLE_VERSION);
}

void agent_usage(FILE *out)
{
	fprintf(out,
		"Usage: crucible-agent [OPTIONS]\n"
		"Watch dm-crucible volumes: log leg and repair state changes, and start\n"
		"the repair of stale regions that nobody is repairing.\n\n"
		"Options:\n"
		"  -f, --foreground         stay in the foreground (default: daemonize)\n"
		"  -s, --syslog             log to syslog (the default when daemonized)\n"
		"  -d, --state-dir DIR      state directory, holds the pid file\n"
		"                           (default " AGENT_DEFAULT_STATE_DIR ")\n"
		"  -n, --no-reconcile       only watch and log; never start a repair\n"
		"  -r, --rescan SEC         rescan every SEC seconds even without events\n"
		"                           (default %d, 0 = only on events)\n"
		"  -v, --verbose            debug messages\n"
		"  -h, --help               show this help\n"
		"  -V, --version            show the version\n\n"
		"Signals: SIGTERM and SIGINT stop the agent, SIGHUP rescans.\n"
		"See crucible-agent(8).\n", AGENT_DEFAULT_RESCAN);
}

int agent_parse_args(int argc, char **argv, struct agent_opts *o,
		     struct cru_err *err)
{
	static const struct option lo[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "syslog", no_argument, NULL, 's' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "no-reconcile", no_argument, NULL, 'n' },
		{ "rescan", required_argument, NULL, 'r' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c;

	memset(o, 0, sizeof(*o));
	o->action = AGENT_RUN;
	o->auto_reconcile = true;
	o->state_dir = AGENT_DEFAULT_STATE_DIR;
	o->rescan = AGENT_DEFAULT_RESCAN;
	opterr = 0;
	optind = 0;

	while ((c = getopt_long(argc, argv, ":fsd:nr:vhV", lo, NULL)) != -1) {
		switch (c) {
		case 'f':
			o->foreground = true;
			break;
		case 's':
			o->syslog = true;
			break;
		case 'd':
			if (!*optarg)
				return cru_err_set(err, -EINVAL,
						   "--state-dir: empty directory name");
			o->state_dir = optarg;
			break;
		case 'n':
			o->auto_reconcile = false;
			break;
		case 'r':
			if (cru_parse_u64(optarg, &v) || v > 86400)
				return cru_err_set(err, -EINVAL,
						   "--rescan: '%s' is not a number of seconds (0 to 86400)",
						   optarg);
			o->rescan = (unsigned int)v;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'h':
			o->action = AGENT_HELP;
			return 0;
		case 'V':
			o->action = AGENT_VERSION;
			return 0;
		case ':':
			return cru_err_set(err, -EINVAL,
					   "option '%s' needs a value",
					   argv[optind - 1]);
		default:
			if (optopt)
				return cru_err_set(err, -EINVAL,
						   "unknown option '-%c'", optopt);
			return cru_err_set(err, -EINVAL,
					   "unknown option '%s'",
					   argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cru_err_set(err, -EINVAL,
				   "unexpected argument '%s' (see 'crucible-agent --help')",
				   argv[optind]);
	return 0;
}

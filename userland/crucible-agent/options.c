// SPDX-License-Identifier: GPL-2.0
/*
 * crucible-agent command-line parsing and usage text.
 */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <string.h>

#include <crucible/netlink.h>

#include "../lib/parse.h"
#include "../lib/table.h"

/* Long options without a short form. */
enum {
	OPT_NO_NETLINK = 256,
	OPT_EVENT_RCVBUF,
	OPT_REPAIR_THROTTLE,
	OPT_REPAIR_BATCH,
};

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
		"Watch dm-crucible volumes: log leg and repair state changes, and repair\n"
		"stale regions that nobody is repairing.\n\n"
		"Options:\n"
		"  -f, --foreground         stay in the foreground (default: daemonize)\n"
		"  -s, --syslog             log to syslog (the default when daemonized)\n"
		"  -d, --state-dir DIR      state directory, holds the pid file\n"
		"                           (default " AGENT_DEFAULT_STATE_DIR ")\n"
		"  -n, --no-reconcile       only watch and log; never start a repair\n"
		"  -r, --rescan SEC         rescan every SEC seconds even without events\n"
		"                           (default %d, 0 = only on events)\n"
		"      --repair-throttle MIBS\n"
		"                           set each volume's repair throttle to MIBS MiB/s\n"
		"                           (0 = unlimited) before repairing it (default:\n"
		"                           leave the volume's own)\n"
		"      --repair-batch N     at most N regions per repair request (default %d)\n"
		"      --event-rcvbuf BYTES receive buffer of the event socket (default: the\n"
		"                           system's); a small one loses events, which the\n"
		"                           agent notices and recovers from\n"
		"      --no-netlink         use device-mapper events and status only, as with\n"
		"                           a module without the netlink family\n"
		"  -v, --verbose            debug messages\n"
		"  -h, --help               show this help\n"
		"  -V, --version            show the version\n\n"
		"Signals: SIGTERM and SIGINT stop the agent, SIGHUP rescans.\n"
		"See crucible-agent(8).\n", AGENT_DEFAULT_RESCAN,
		AGENT_DEFAULT_REPAIR_BATCH);
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
		{ "no-netlink", no_argument, NULL, OPT_NO_NETLINK },
		{ "event-rcvbuf", required_argument, NULL, OPT_EVENT_RCVBUF },
		{ "repair-throttle", required_argument, NULL,
		  OPT_REPAIR_THROTTLE },
		{ "repair-batch", required_argument, NULL, OPT_REPAIR_BATCH },
		{ NULL, 0, NULL, 0 },
	};
	struct cru_err serr;
	uint64_t v;
	int c;

	memset(o, 0, sizeof(*o));
	o->action = AGENT_RUN;
	o->auto_reconcile = true;
	o->state_dir = AGENT_DEFAULT_STATE_DIR;
	o->rescan = AGENT_DEFAULT_RESCAN;
	o->repair_throttle = -1;
	o->repair_batch = AGENT_DEFAULT_REPAIR_BATCH;
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
		case OPT_NO_NETLINK:
			o->no_netlink = true;
			break;
		case OPT_EVENT_RCVBUF:
			if (cru_parse_size(optarg, &v, &serr))
				return cru_err_set(err, -EINVAL,
						   "--event-rcvbuf: %s", serr.msg);
			if (!v || v > INT_MAX / 2)
				return cru_err_set(err, -EINVAL,
						   "--event-rcvbuf: '%s' is out of range (1 byte to 1G)",
						   optarg);
			o->event_rcvbuf = (int)v;
			break;
		case OPT_REPAIR_THROTTLE:
			if (cru_parse_u64(optarg, &v) || v > CRU_THROTTLE_MAX)
				return cru_err_set(err, -EINVAL,
						   "--repair-throttle: '%s' is not a number of MiB/s (0 to %llu)",
						   optarg, CRU_THROTTLE_MAX);
			o->repair_throttle = (int64_t)v;
			break;
		case OPT_REPAIR_BATCH:
			if (cru_parse_u64(optarg, &v) || !v ||
			    v > CRUCIBLE_NL_MAX_COUNT)
				return cru_err_set(err, -EINVAL,
						   "--repair-batch: '%s' is not a number of regions (1 to %llu)",
						   optarg, CRUCIBLE_NL_MAX_COUNT);
			o->repair_batch = v;
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

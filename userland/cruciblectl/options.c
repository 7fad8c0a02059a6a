// SPDX-License-Identifier: GPL-2.0
/*
 * cruciblectl command-line parsing and usage text.
 */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>

#include <crucible/netlink.h>

#include "../lib/parse.h"

#ifndef CRUCIBLE_VERSION
#define CRUCIBLE_VERSION "unknown"
#endif

static const struct {
	enum ctl_cmd cmd;
	const char *name;
	const char *synopsis;
	const char *help;
} commands[] = {
	{ CTL_CMD_FORMAT, "format",
	  "format <leg0> <leg1> <leg2> --size SIZE [--region-size SIZE] [--parent DEV] [--force]",
	  "  Write a new leg set: check that the three legs are blank, zero their\n"
	  "  metadata area and write their superblocks.\n"
	  "    -s, --size SIZE          volume size (bytes, or with K, M, G, T, P)\n"
	  "    -r, --region-size SIZE   region size, a power of two, 64K..1G (default 1M)\n"
	  "    -p, --parent DEV         the volume will be made from this read-only parent:\n"
	  "                             record its size (it is not written)\n"
	  "    -f, --force              format legs that are not blank\n" },
	{ CTL_CMD_UPGRADE, "upgrade", "upgrade <leg0> <leg1> <leg2>",
	  "  Upgrade the legs of a volume from on-disk format version 1 to version 2\n"
	  "  (the kernel module refuses version 1 legs).  The volume must not be\n"
	  "  active.  Legs at version 2 already are left alone: an upgrade that was\n"
	  "  interrupted is finished by running it again.\n" },
	{ CTL_CMD_CREATE, "create", "create <spec.json|->",
	  "  Create and activate a volume from a JSON volume spec ('-' reads stdin).\n" },
	{ CTL_CMD_STATUS, "status", "status [<volume>] [--json]",
	  "  Show every crucible volume, or one: states, sync and hydration\n"
	  "  progress, counters, legs.\n"
	  "    -j, --json               machine-readable output (schema in the man page)\n" },
	{ CTL_CMD_RECONCILE, "reconcile",
	  "reconcile <volume> start|stop [--wait] [--interval SEC] [--timeout SEC]",
	  "  Start or stop the repair of stale regions.\n"
	  "    -w, --wait               start: wait until repair is idle, showing progress;\n"
	  "                             stop: wait until repair is no longer running\n"
	  "    -i, --interval SEC       seconds between status polls (default 1)\n"
	  "    -t, --timeout SEC        give up waiting after SEC seconds (default: never)\n" },
	{ CTL_CMD_LEG, "leg",
	  "leg <volume> fail|restore <n> | leg <volume> replace <n> <device> [--force]",
	  "  Fail leg n (0, 1 or 2) of a volume, or bring it back (it is then repaired),\n"
	  "  or replace it with a new device, which the kernel then fills from the\n"
	  "  other legs.  The action may also come first: leg replace <volume> <n> <device>.\n"
	  "    -f, --force              replace: even if leg n holds the only in-sync\n"
	  "                             copy of some region (that data is lost)\n" },
	{ CTL_CMD_REMOVE, "remove", "remove <volume>",
	  "  Deactivate and remove a volume (its legs keep their data).\n" },
	{ CTL_CMD_REGIONS, "regions",
	  "regions <volume> [--first N] [--count N] [--json]",
	  "  Show the regions that are not clean (stale legs, dirty, rehash, verify,\n"
	  "  being repaired) and the repair the agent would plan for them.\n"
	  "    -F, --first N            from region N (default 0)\n"
	  "    -c, --count N            N regions (default: to the end)\n"
	  "    -j, --json               machine-readable output\n" },
	{ CTL_CMD_POOL, "pool",
	  "pool init <device|file> [--name NAME] [--force] | pool list | pool show <pool> | pool open|close <pool>|--all",
	  "  Pools: leg regions carved out of a raw device (or a file).\n"
	  "    init <device|file>       write a new pool; refuses a device with a filesystem,\n"
	  "                             swap, LUKS, LVM, a partition table, a pool or a leg\n"
	  "    list                     the pools registered on this host\n"
	  "    show <pool>              geometry, free space and regions of a pool\n"
	  "    open <pool>|--all        create the device of every region (after a reboot)\n"
	  "    close <pool>|--all       remove the devices of every region\n"
	  "    -n, --name NAME          init: the pool's name (default: the device's file name)\n"
	  "    -f, --force              init: overwrite whatever the device holds\n"
	  "    -a, --all                open, close: every registered pool\n"
	  "    -R, --registry FILE      the pool registry (default $CRUCIBLE_POOLS or\n"
	  "                             /etc/crucible/pools)\n"
	  "  <pool> is a registered name or a path.  Regions appear as\n"
	  "  /dev/mapper/crucible-pool-<pool>-<region>.\n" },
	{ CTL_CMD_REGION, "region",
	  "region create <pool> --size SIZE [--name NAME] | region remove <pool> <region> | region list <pool>",
	  "  Regions of a pool, each a device-mapper linear device usable as a leg.\n"
	  "    create <pool>            allocate a zeroed region and create its device\n"
	  "    remove <pool> <region>   remove its device (refused while it is open) and free it\n"
	  "    list <pool>              the regions, their extents and devices\n"
	  "    -s, --size SIZE          create: the region's size\n"
	  "    -n, --name NAME          create: its name (default r<N>)\n"
	  "    -R, --registry FILE      the pool registry\n" },
	{ CTL_CMD_RECORDS, "records",
	  "records <volume> <leg> <first> <count> [--json]",
	  "  Show the per-block records (hash, flush number, check) of blocks\n"
	  "  first..first+count-1 on one leg.\n"
	  "    -j, --json               machine-readable output\n" },
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define NR_COMMANDS ARRAY_SIZE(commands)

const char *ctl_cmd_name(enum ctl_cmd cmd)
{
	size_t i;

	for (i = 0; i < NR_COMMANDS; i++)
		if (commands[i].cmd == cmd)
			return commands[i].name;
	if (cmd == CTL_CMD_HELP)
		return "help";
	if (cmd == CTL_CMD_VERSION)
		return "version";
	return "";
}

void ctl_version(FILE *out)
{
	fprintf(out, "cruciblectl (dm-crucible) %s\n", CRUCIBLE_VERSION);
}

void ctl_usage(FILE *out, enum ctl_cmd cmd)
{
	size_t i;

	for (i = 0; i < NR_COMMANDS; i++) {
		if (commands[i].cmd != cmd)
			continue;
		fprintf(out, "Usage: cruciblectl [-v] %s\n%s", commands[i].synopsis,
			commands[i].help);
		return;
	}
	fprintf(out,
		"Usage: cruciblectl [OPTIONS] COMMAND [ARGS...]\n"
		"Manage dm-crucible volumes (three-way mirrored, hash-verified).\n\n"
		"Commands:\n");
	for (i = 0; i < NR_COMMANDS; i++)
		fprintf(out, "  %s\n", commands[i].synopsis);
	fprintf(out,
		"\nOptions:\n"
		"  -v, --verbose   more messages (repeat for debug)\n"
		"  -h, --help      show this help; COMMAND --help for a command's\n"
		"  -V, --version   show the version\n\n"
		"regions and records need the kernel's netlink family.\n\n"
		"Exit status: 0 ok, 1 failure, 2 usage or invalid input, 3 no such\n"
		"crucible volume, 4 leg or pool device not blank (format, pool init),\n"
		"5 reconcile --wait did not finish, 6 no such pool or region, 7 not\n"
		"enough free space in the pool.  See cruciblectl(8).\n");
}

/*
 * getopt_long over a subcommand's words.  Returns the option, -1 at the
 * end, or -EINVAL with the reason in @err.
 */
static int next_opt(int argc, char **argv, const char *shortopts,
		    const struct option *longopts, const char *cmd,
		    struct cru_err *err)
{
	int before = optind;
	int c = getopt_long(argc, argv, shortopts, longopts, NULL);
	const char *word;

	if (c != '?' && c != ':')
		return c;
	/*
	 * A long option is a word of its own and always consumed; a short
	 * one in "-xyz" is only one letter of it, @optopt (and the word is
	 * not consumed while letters are left).  getopt sets optopt to 0
	 * for an unknown long option, and to its val for a known one given
	 * a value it does not take.
	 */
	word = argv[optind - 1];
	if (optind == before || strncmp(word, "--", 2)) {
		if (c == ':')
			return cru_err_set(err, -EINVAL,
					   "%s: option '-%c' needs a value",
					   cmd, optopt);
		return cru_err_set(err, -EINVAL, "%s: unknown option '-%c'",
				   cmd, optopt);
	}
	if (c == ':')
		return cru_err_set(err, -EINVAL,
				   "%s: option '%s' needs a value", cmd, word);
	if (optopt)
		return cru_err_set(err, -EINVAL,
				   "%s: option '%.*s' takes no value",
				   cmd, (int)strcspn(word, "="), word);
	return cru_err_set(err, -EINVAL, "%s: unknown option '%s'", cmd, word);
}

/* A subcommand's --help: show its usage instead of running it. */
static int ask_help(struct ctl_opts *o)
{
	o->help_cmd = o->cmd;
	o->cmd = CTL_CMD_HELP;
	return 0;
}

/* The index of @word in @names (the words of an action enum), or -1. */
static int lookup_action(const char *word, const char *const *names,
			 size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(word, names[i]))
			return (int)i;
	return -1;
}

/*
 * @cmd's action @word: its index in @names, or -EINVAL with an error that
 * lists them ("expected a, b or c").
 */
static int parse_action(const char *cmd, const char *word,
			const char *const *names, size_t n,
			struct cru_err *err)
{
	int a = lookup_action(word, names, n);
	char expected[64];
	size_t i, len = 0;

	if (a >= 0)
		return a;
	expected[0] = '\0';
	for (i = 0; i < n && len < sizeof(expected); i++)
		len += snprintf(expected + len, sizeof(expected) - len, "%s%s",
				!i ? "" : i + 1 < n ? ", " : " or ", names[i]);
	return cru_err_set(err, -EINVAL,
			   "%s: unknown action '%s' (expected %s)", cmd, word,
			   expected);
}

static int parse_uint_opt(const char *cmd, const char *opt, const char *val,
			  unsigned int min, unsigned int *out,
			  struct cru_err *err)
{
	uint64_t v;

	if (cru_parse_u64(val, &v) || v < min || v > 86400 * 365)
		return cru_err_set(err, -EINVAL,
				   "%s: %s '%s' is not a number of seconds (%u or more)",
				   cmd, opt, val, min);
	*out = (unsigned int)v;
	return 0;
}

static int parse_size_opt(const char *cmd, const char *opt, const char *val,
			  uint64_t *out, struct cru_err *err)
{
	struct cru_err serr;

	if (cru_parse_size(val, out, &serr))
		return cru_err_set(err, -EINVAL, "%s: %s: %s", cmd, opt,
				   serr.msg);
	return 0;
}

/* Positional words of a subcommand: exactly @min..@max of them. */
static int want_args(const char *cmd, int have, int min, int max,
		     struct cru_err *err)
{
	if (have < min)
		return cru_err_set(err, -EINVAL,
				   "%s: missing arguments (see 'cruciblectl %s --help')",
				   cmd, cmd);
	if (have > max)
		return cru_err_set(err, -EINVAL,
				   "%s: too many arguments (see 'cruciblectl %s --help')",
				   cmd, cmd);
	return 0;
}

static int parse_format(int argc, char **argv, struct ctl_opts *o,
			struct cru_err *err)
{
	static const struct option lo[] = {
		{ "size", required_argument, NULL, 's' },
		{ "region-size", required_argument, NULL, 'r' },
		{ "parent", required_argument, NULL, 'p' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool have_size = false;
	int c, i, ret;

	while ((c = next_opt(argc, argv, ":s:r:p:fh", lo, "format", err)) != -1) {
		switch (c) {
		case 's':
			ret = parse_size_opt("format", "--size", optarg,
					     &o->size, err);
			if (ret)
				return ret;
			have_size = true;
			break;
		case 'r':
			ret = parse_size_opt("format", "--region-size", optarg,
					     &o->region_size, err);
			if (ret)
				return ret;
			break;
		case 'p':
			if (!*optarg)
				return cru_err_set(err, -EINVAL,
						   "format: --parent needs a device");
			o->parent = optarg;
			break;
		case 'f':
			o->force = true;
			break;
		case 'h':
			return ask_help(o);
		default:
			return c;
		}
	}
	ret = want_args("format", argc - optind, CRU_NR_LEGS, CRU_NR_LEGS, err);
	if (ret)
		return ret;
	for (i = 0; i < CRU_NR_LEGS; i++)
		o->legs[i] = argv[optind + i];
	if (!have_size)
		return cru_err_set(err, -EINVAL,
				   "format: --size is required");
	if (!o->size || o->size % 4096)
		return cru_err_set(err, -EINVAL,
				   "format: --size %llu bytes: must be a non-zero multiple of 4 KiB",
				   (unsigned long long)o->size);
	if (o->region_size &&
	    (o->region_size < 65536 || o->region_size > (1ULL << 30) ||
	     (o->region_size & (o->region_size - 1))))
		return cru_err_set(err, -EINVAL,
				   "format: --region-size %llu bytes: must be a power of two between 64 KiB and 1 GiB",
				   (unsigned long long)o->region_size);
	return 0;
}

/* Subcommands whose only option is --help (and, for status and records,
 * --json). */
static int parse_simple(int argc, char **argv, struct ctl_opts *o,
			const char *cmd, int min, int max,
			struct cru_err *err)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool status = o->cmd == CTL_CMD_STATUS || o->cmd == CTL_CMD_RECORDS;
	int c;

	while ((c = next_opt(argc, argv, status ? ":jh" : ":h",
			     status ? lo : lo + 1, cmd, err)) != -1) {
		switch (c) {
		case 'j':
			o->json = true;
			break;
		case 'h':
			return ask_help(o);
		default:
			return c;
		}
	}
	return want_args(cmd, argc - optind, min, max, err);
}

static const char *const reconcile_actions[] = {
	[CTL_RECONCILE_START] = "start",
	[CTL_RECONCILE_STOP] = "stop",
};

static int parse_reconcile(int argc, char **argv, struct ctl_opts *o,
			   struct cru_err *err)
{
	static const struct option lo[] = {
		{ "wait", no_argument, NULL, 'w' },
		{ "interval", required_argument, NULL, 'i' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool have_timing = false;
	int c, ret;

	while ((c = next_opt(argc, argv, ":wi:t:h", lo, "reconcile", err)) != -1) {
		switch (c) {
		case 'w':
			o->wait = true;
			break;
		case 'i':
			ret = parse_uint_opt("reconcile", "--interval", optarg,
					     1, &o->interval, err);
			if (ret)
				return ret;
			have_timing = true;
			break;
		case 't':
			ret = parse_uint_opt("reconcile", "--timeout", optarg,
					     1, &o->timeout, err);
			if (ret)
				return ret;
			have_timing = true;
			break;
		case 'h':
			return ask_help(o);
		default:
			return c;
		}
	}
	ret = want_args("reconcile", argc - optind, 2, 2, err);
	if (ret)
		return ret;
	o->volume = argv[optind];
	ret = parse_action("reconcile", argv[optind + 1], reconcile_actions,
			   ARRAY_SIZE(reconcile_actions), err);
	if (ret < 0)
		return ret;
	o->reconcile = ret;
	if (have_timing && !o->wait)
		return cru_err_set(err, -EINVAL,
				   "reconcile: --interval and --timeout need --wait");
	return 0;
}

static const char *const leg_actions[] = {
	[CTL_LEG_FAIL] = "fail",
	[CTL_LEG_RESTORE] = "restore",
	[CTL_LEG_REPLACE] = "replace",
};

static int leg_action(const char *word)
{
	return lookup_action(word, leg_actions, ARRAY_SIZE(leg_actions));
}

static int parse_leg_index(const char *cmd, const char *word, int *leg,
			   struct cru_err *err)
{
	uint64_t n;

	if (cru_parse_u64(word, &n) || n >= CRU_NR_LEGS)
		return cru_err_set(err, -EINVAL,
				   "%s: '%s' is not a leg (0, 1 or 2)", cmd, word);
	*leg = (int)n;
	return 0;
}

/*
 * leg <volume> <action> <n> [<device>], or with the action first.  The
 * second word decides when both could be an action: the volume-first
 * form is the original one.
 */
static int parse_leg(int argc, char **argv, struct ctl_opts *o,
		     struct cru_err *err)
{
	static const struct option lo[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char **w;
	int c, ret, action;

	while ((c = next_opt(argc, argv, ":fh", lo, "leg", err)) != -1) {
		switch (c) {
		case 'f':
			o->force = true;
			break;
		case 'h':
			return ask_help(o);
		default:
			return c;
		}
	}
	ret = want_args("leg", argc - optind, 3, 4, err);
	if (ret)
		return ret;
	w = argv + optind;
	action = leg_action(w[1]);
	if (action >= 0) {
		o->volume = w[0];
	} else {
		action = leg_action(w[0]);
		if (action < 0)	/* neither: as if volume-first */
			return parse_action("leg", w[1], leg_actions,
					    ARRAY_SIZE(leg_actions), err);
		o->volume = w[1];
	}
	o->leg_action = action;
	ret = parse_leg_index("leg", w[2], &o->leg, err);
	if (ret)
		return ret;
	if (action == CTL_LEG_REPLACE) {
		if (argc - optind != 4)
			return cru_err_set(err, -EINVAL,
					   "leg replace: expected <volume> <n> <new-device>");
		if (!*w[3])
			return cru_err_set(err, -EINVAL,
					   "leg replace: empty device name");
		o->new_device = w[3];
		return 0;
	}
	if (argc - optind != 3)
		return cru_err_set(err, -EINVAL,
				   "leg: too many arguments (see 'cruciblectl leg --help')");
	if (o->force)
		return cru_err_set(err, -EINVAL,
				   "leg: --force is for replace only");
	return 0;
}

static int parse_number(const char *cmd, const char *what, const char *word,
			uint64_t min, uint64_t max, uint64_t *out,
			struct cru_err *err)
{
	uint64_t v;

	if (cru_parse_u64(word, &v) || v < min || v > max)
		return cru_err_set(err, -EINVAL,
				   "%s: %s '%s' is not a number from %llu to %llu",
				   cmd, what, word, (unsigned long long)min,
				   (unsigned long long)max);
	*out = v;
	return 0;
}

static int parse_regions(int argc, char **argv, struct ctl_opts *o,
			 struct cru_err *err)
{
	static const struct option lo[] = {
		{ "first", required_argument, NULL, 'F' },
		{ "count", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, ret;

	while ((c = next_opt(argc, argv, ":F:c:jh", lo, "regions", err)) != -1) {
		switch (c) {
		case 'F':
			ret = parse_number("regions", "--first", optarg, 0,
					   UINT64_MAX, &o->first, err);
			if (ret)
				return ret;
			break;
		case 'c':
			ret = parse_number("regions", "--count", optarg, 1,
					   UINT64_MAX, &o->count, err);
			if (ret)
				return ret;
			o->has_count = true;
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			return ask_help(o);
		default:
			return c;
		}
	}
	ret = want_args("regions", argc - optind, 1, 1, err);
	if (ret)
		return ret;
	o->volume = argv[optind];
	return 0;
}

static int parse_records(int argc, char **argv, struct ctl_opts *o,
			 struct cru_err *err)
{
	int ret;

	ret = parse_simple(argc, argv, o, "records", 4, 4, err);
	if (ret || o->cmd == CTL_CMD_HELP)
		return ret;
	o->volume = argv[optind];
	ret = parse_leg_index("records", argv[optind + 1], &o->leg, err);
	if (!ret)
		ret = parse_number("records", "first block", argv[optind + 2],
				   0, UINT64_MAX, &o->first, err);
	if (!ret)
		ret = parse_number("records", "count", argv[optind + 3], 1,
				   CRUCIBLE_NL_MAX_COUNT, &o->count, err);
	o->has_count = true;
	return ret;
}

/* The words after the action of pool and region: exactly @want of them. */
static int want_words(const char *cmd, const char *action, int have, int want,
		      struct cru_err *err)
{
	if (have != want)
		return cru_err_set(err, -EINVAL,
				   "%s %s: expected %d argument%s, got %d (see 'cruciblectl %s --help')",
				   cmd, action, want, want == 1 ? "" : "s", have, cmd);
	return 0;
}

/* The <pool> of pool and region actions: a name or a path, not empty. */
static int pool_word(struct ctl_opts *o, const char *cmd, const char *action,
		     const char *word, struct cru_err *err)
{
	o->pool = word;
	if (!*word)
		return cru_err_set(err, -EINVAL, "%s %s: empty pool", cmd, action);
	return 0;
}

static const char *const pool_actions[] = {
	[CTL_POOL_INIT] = "init",
	[CTL_POOL_LIST] = "list",
	[CTL_POOL_SHOW] = "show",
	[CTL_POOL_OPEN] = "open",
	[CTL_POOL_CLOSE] = "close",
};

/* pool <action> [<pool>|<device>]: @n words @w after the action. */
static int pool_args(struct ctl_opts *o, const char *action, int n, char **w,
		     bool have_size, struct cru_err *err)
{
	int a = parse_action("pool", action, pool_actions,
			     ARRAY_SIZE(pool_actions), err);
	int ret;

	if (a < 0)
		return a;
	o->pool_action = a;
	if ((o->name || o->force) && a != CTL_POOL_INIT)
		return cru_err_set(err, -EINVAL,
				   "pool %s: --name and --force are for init", action);
	if (o->all && a != CTL_POOL_OPEN && a != CTL_POOL_CLOSE)
		return cru_err_set(err, -EINVAL,
				   "pool %s: --all is for open and close", action);
	if (have_size)
		return cru_err_set(err, -EINVAL,
				   "pool %s: --size is for region create", action);
	if (a == CTL_POOL_LIST)
		return want_words("pool", action, n, 0, err);
	if (o->all) {
		if (n)
			return cru_err_set(err, -EINVAL,
					   "pool %s: --all or a pool, not both", action);
		return 0;
	}
	ret = want_words("pool", action, n, 1, err);
	if (ret)
		return ret;
	return pool_word(o, "pool", action, w[0], err);
}

static const char *const region_actions[] = {
	[CTL_REGION_CREATE] = "create",
	[CTL_REGION_REMOVE] = "remove",
	[CTL_REGION_LIST] = "list",
};

/* region <action> <pool> [<region>]: @n words @w after the action. */
static int region_args(struct ctl_opts *o, const char *action, int n,
		       char **w, bool have_size, struct cru_err *err)
{
	int a = parse_action("region", action, region_actions,
			     ARRAY_SIZE(region_actions), err);
	int ret;

	if (a < 0)
		return a;
	o->region_action = a;
	if (o->force || o->all)
		return cru_err_set(err, -EINVAL, "region: --force and --all are for pool");
	if (a != CTL_REGION_CREATE && (o->name || have_size))
		return cru_err_set(err, -EINVAL,
				   "region %s: --name and --size are for create", action);
	ret = want_words("region", action, n, a == CTL_REGION_REMOVE ? 2 : 1, err);
	if (!ret)
		ret = pool_word(o, "region", action, w[0], err);
	if (ret)
		return ret;
	if (a == CTL_REGION_REMOVE) {
		o->region = w[1];
		if (!*o->region)
			return cru_err_set(err, -EINVAL, "region remove: empty region");
	}
	if (a == CTL_REGION_CREATE && (!have_size || !o->size))
		return cru_err_set(err, -EINVAL,
				   "region create: --size is required (and not 0)");
	return 0;
}

/* pool <action> ... and region <action> ...: options anywhere. */
static int parse_pool_region(int argc, char **argv, struct ctl_opts *o,
			     struct cru_err *err)
{
	static const struct option lo[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 's' },
		{ "force", no_argument, NULL, 'f' },
		{ "all", no_argument, NULL, 'a' },
		{ "registry", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool pool = o->cmd == CTL_CMD_POOL, have_size = false;
	const char *cmd = pool ? "pool" : "region";
	char **w;
	int c, n, ret;

	while ((c = next_opt(argc, argv, ":n:s:faR:h", lo, cmd, err)) != -1) {
		switch (c) {
		case 'n':
			if (!*optarg)
				return cru_err_set(err, -EINVAL, "%s: --name is empty", cmd);
			o->name = optarg;
			break;
		case 's':
			ret = parse_size_opt(cmd, "--size", optarg, &o->size, err);
			if (ret)
				return ret;
			have_size = true;
			break;
		case 'f':
			o->force = true;
			break;
		case 'a':
			o->all = true;
			break;
		case 'R':
			o->registry = optarg;
			break;
		case 'h':
			return ask_help(o);
		default:
			return c;
		}
	}
	n = argc - optind;
	w = argv + optind;
	if (n < 1)
		return cru_err_set(err, -EINVAL,
				   "%s: missing action (see 'cruciblectl %s --help')",
				   cmd, cmd);
	if (pool)
		return pool_args(o, w[0], n - 1, w + 1, have_size, err);
	return region_args(o, w[0], n - 1, w + 1, have_size, err);
}

static enum ctl_cmd lookup_cmd(const char *name)
{
	size_t i;

	for (i = 0; i < NR_COMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return commands[i].cmd;
	return CTL_CMD_NONE;
}

int ctl_parse_args(int argc, char **argv, struct ctl_opts *o,
		   struct cru_err *err)
{
	static const struct option lo[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c, i, sub_argc;
	char **sub_argv;

	memset(o, 0, sizeof(*o));
	o->interval = 1;
	opterr = 0;
	optind = 0;	/* full re-initialisation: parse may run many times */

	/* '+': stop at the subcommand, its options are its own. */
	while ((c = next_opt(argc, argv, "+:vhV", lo, "cruciblectl", err)) != -1) {
		switch (c) {
		case 'v':
			o->verbose++;
			break;
		case 'h':
			o->cmd = CTL_CMD_HELP;
			return 0;
		case 'V':
			o->cmd = CTL_CMD_VERSION;
			return 0;
		default:
			return c;
		}
	}
	if (optind >= argc)
		return cru_err_set(err, -EINVAL,
				   "no command given (see 'cruciblectl --help')");
	if (!strcmp(argv[optind], "help")) {
		o->cmd = CTL_CMD_HELP;
		if (optind + 1 < argc)
			o->help_cmd = lookup_cmd(argv[optind + 1]);
		return 0;
	}
	o->cmd = lookup_cmd(argv[optind]);
	if (o->cmd == CTL_CMD_NONE)
		return cru_err_set(err, -EINVAL,
				   "unknown command '%s' (see 'cruciblectl --help')",
				   argv[optind]);

	sub_argc = argc - optind;
	sub_argv = argv + optind;
	optind = 0;
	switch (o->cmd) {
	case CTL_CMD_FORMAT:
		return parse_format(sub_argc, sub_argv, o, err);
	case CTL_CMD_UPGRADE:
		c = parse_simple(sub_argc, sub_argv, o, "upgrade", CRU_NR_LEGS,
				 CRU_NR_LEGS, err);
		for (i = 0; !c && o->cmd != CTL_CMD_HELP && i < CRU_NR_LEGS; i++)
			o->legs[i] = sub_argv[optind + i];
		return c;
	case CTL_CMD_CREATE:
		c = parse_simple(sub_argc, sub_argv, o, "create", 1, 1, err);
		if (!c && o->cmd != CTL_CMD_HELP)
			o->spec = sub_argv[optind];
		return c;
	case CTL_CMD_STATUS:
		c = parse_simple(sub_argc, sub_argv, o, "status", 0, 1, err);
		if (!c && o->cmd != CTL_CMD_HELP && optind < sub_argc)
			o->volume = sub_argv[optind];
		return c;
	case CTL_CMD_RECONCILE:
		return parse_reconcile(sub_argc, sub_argv, o, err);
	case CTL_CMD_LEG:
		return parse_leg(sub_argc, sub_argv, o, err);
	case CTL_CMD_REMOVE:
		c = parse_simple(sub_argc, sub_argv, o, "remove", 1, 1, err);
		if (!c && o->cmd != CTL_CMD_HELP)
			o->volume = sub_argv[optind];
		return c;
	case CTL_CMD_REGIONS:
		return parse_regions(sub_argc, sub_argv, o, err);
	case CTL_CMD_RECORDS:
		return parse_records(sub_argc, sub_argv, o, err);
	case CTL_CMD_POOL:
	case CTL_CMD_REGION:
		return parse_pool_region(sub_argc, sub_argv, o, err);
	default:
		return cru_err_set(err, -EINVAL, "internal: command %d", o->cmd);
	}
}

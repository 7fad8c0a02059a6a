// SPDX-License-Identifier: GPL-2.0
/*
 * cruciblectl's command line.
 */
#include "test.h"

#include "../cruciblectl/options.h"

/* Parse a NULL-terminated array of words as argv (getopt permutes it). */
static int parse_words(struct ctl_opts *o, struct cru_err *err,
		       const char *const *words)
{
	static char *argv[32];
	static char copy[32][128];
	int argc = 0;

	argv[argc] = copy[argc];
	strcpy(copy[argc++], "cruciblectl");
	for (; *words; words++) {
		snprintf(copy[argc], sizeof(copy[argc]), "%s", *words);
		argv[argc] = copy[argc];
		argc++;
	}
	argv[argc] = NULL;
	err->msg[0] = '\0';
	return ctl_parse_args(argc, argv, o, err);
}

/* parse_words over a NULL-terminated list of arguments. */
static int parse(struct ctl_opts *o, struct cru_err *err, ...)
{
	const char *words[32];
	size_t n = 0;
	va_list ap;

	va_start(ap, err);
	while ((words[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	return parse_words(o, err, words);
}

/* Words refused with exactly a message. */
struct refusal {
	const char *words[10];	/* NULL-terminated */
	const char *msg;
};

static void expect_refusals(const struct refusal *cases, size_t n)
{
	struct ctl_opts o;
	struct cru_err err;
	size_t i;

	for (i = 0; i < n; i++) {
		assert_int_equal(parse_words(&o, &err, cases[i].words), -EINVAL);
		assert_string_equal(err.msg, cases[i].msg);
	}
}

static void format_with_every_option(void **state)
{
	struct ctl_opts o;
	struct cru_err err;

	(void)state;
	assert_int_equal(parse(&o, &err, "format", "/dev/a", "/dev/b", "/dev/c",
			       "--size", "1G", "--region-size", "2M", "--force",
			       "--parent", "/dev/image", NULL), 0);
	assert_int_equal(o.cmd, CTL_CMD_FORMAT);
	assert_string_equal(o.legs[0], "/dev/a");
	assert_string_equal(o.legs[1], "/dev/b");
	assert_string_equal(o.legs[2], "/dev/c");
	assert_int_equal(o.size, 1 << 30);
	assert_int_equal(o.region_size, 2 << 20);
	assert_true(o.force);
	assert_string_equal(o.parent, "/dev/image");
}

static void format_options_before_the_legs(void **state)
{
	struct ctl_opts o;
	struct cru_err err;

	(void)state;
	assert_int_equal(parse(&o, &err, "-v", "format", "-s", "64M", "a", "b",
			       "c", NULL), 0);
	assert_int_equal(o.verbose, 1);
	assert_int_equal(o.size, 64 << 20);
	assert_int_equal(o.region_size, 0);
	assert_false(o.force);
	assert_null(o.parent);
	assert_string_equal(o.legs[2], "c");
	assert_int_equal(parse(&o, &err, "format", "-p", "7:9", "-s", "64M", "a",
			       "b", "c", NULL), 0);
	assert_string_equal(o.parent, "7:9");
}

static void format_usage_errors(void **state)
{
	struct ctl_opts o;
	struct cru_err err;

	(void)state;
	assert_int_equal(parse(&o, &err, "format", "a", "b", "c", NULL), -EINVAL);
	assert_contains(err.msg, "--size is required");
	assert_int_equal(parse(&o, &err, "format", "a", "b", "--size", "1G", NULL),
			 -EINVAL);
	assert_contains(err.msg, "missing arguments");
	assert_int_equal(parse(&o, &err, "format", "a", "b", "c", "d", "--size",
			       "1G", NULL), -EINVAL);
	assert_contains(err.msg, "too many arguments");
	assert_int_equal(parse(&o, &err, "format", "a", "b", "c", "--size",
			       "1Q", NULL), -EINVAL);
	assert_contains(err.msg, "--size");
	assert_int_equal(parse(&o, &err, "format", "a", "b", "c", "--size",
			       "1000", NULL), -EINVAL);
	assert_contains(err.msg, "multiple of 4 KiB");
	assert_int_equal(parse(&o, &err, "format", "a", "b", "c", "--size",
			       "1G", "--region-size", "3M", NULL), -EINVAL);
	assert_contains(err.msg, "--region-size");
	assert_int_equal(parse(&o, &err, "format", "a", "b", "c", "--size", NULL),
			 -EINVAL);
	assert_contains(err.msg, "needs a value");
	assert_int_equal(parse(&o, &err, "format", "a", "b", "c", "--size", "1G",
			       "--bogus", NULL), -EINVAL);
	assert_contains(err.msg, "unknown option '--bogus'");
	assert_int_equal(parse(&o, &err, "format", "-x", NULL), -EINVAL);
	assert_contains(err.msg, "unknown option '-x'");
	assert_int_equal(parse(&o, &err, "format", "a", "b", "c", "--size", "1G",
			       "--parent", NULL), -EINVAL);
	assert_contains(err.msg, "'--parent' needs a value");
	assert_int_equal(parse(&o, &err, "format", "a", "b", "c", "--size", "1G",
			       "--parent", "", NULL), -EINVAL);
	assert_contains(err.msg, "--parent needs a device");
}

static void create_takes_one_spec(void **state)
{
	struct ctl_opts o;
	struct cru_err err;

	(void)state;
	assert_int_equal(parse(&o, &err, "create", "vol.json", NULL), 0);
	assert_int_equal(o.cmd, CTL_CMD_CREATE);
	assert_string_equal(o.spec, "vol.json");
	assert_int_equal(parse(&o, &err, "create", "-", NULL), 0);
	assert_string_equal(o.spec, "-");
	assert_int_equal(parse(&o, &err, "create", NULL), -EINVAL);
	assert_int_equal(parse(&o, &err, "create", "a", "b", NULL), -EINVAL);
	assert_int_equal(parse(&o, &err, "create", "--json", "a", NULL), -EINVAL);
}

static void status_of_all_or_one(void **state)
{
	struct ctl_opts o;
	struct cru_err err;

	(void)state;
	assert_int_equal(parse(&o, &err, "status", NULL), 0);
	assert_int_equal(o.cmd, CTL_CMD_STATUS);
	assert_null(o.volume);
	assert_false(o.json);
	assert_int_equal(parse(&o, &err, "status", "vol0", "--json", NULL), 0);
	assert_string_equal(o.volume, "vol0");
	assert_true(o.json);
	assert_int_equal(parse(&o, &err, "status", "-j", NULL), 0);
	assert_true(o.json);
	assert_int_equal(parse(&o, &err, "status", "a", "b", NULL), -EINVAL);
}

static void reconcile_actions_and_wait(void **state)
{
	struct ctl_opts o;
	struct cru_err err;

	(void)state;
	assert_int_equal(parse(&o, &err, "reconcile", "vol0", "start", NULL), 0);
	assert_int_equal(o.cmd, CTL_CMD_RECONCILE);
	assert_string_equal(o.volume, "vol0");
	assert_int_equal(o.reconcile, CTL_RECONCILE_START);
	assert_false(o.wait);
	assert_int_equal(o.interval, 1);
	assert_int_equal(o.timeout, 0);

	assert_int_equal(parse(&o, &err, "reconcile", "--wait", "vol0", "start",
			       "--interval", "2", "--timeout", "30", NULL), 0);
	assert_true(o.wait);
	assert_int_equal(o.interval, 2);
	assert_int_equal(o.timeout, 30);

	assert_int_equal(parse(&o, &err, "reconcile", "vol0", "stop", "-w", NULL), 0);
	assert_int_equal(o.reconcile, CTL_RECONCILE_STOP);
	assert_true(o.wait);

	assert_int_equal(parse(&o, &err, "reconcile", "vol0", "go", NULL), -EINVAL);
	assert_contains(err.msg, "unknown action 'go'");
	assert_int_equal(parse(&o, &err, "reconcile", "vol0", NULL), -EINVAL);
	assert_int_equal(parse(&o, &err, "reconcile", "vol0", "start",
			       "--timeout", "5", NULL), -EINVAL);
	assert_contains(err.msg, "need --wait");
	assert_int_equal(parse(&o, &err, "reconcile", "vol0", "start", "--wait",
			       "--interval", "0", NULL), -EINVAL);
	assert_contains(err.msg, "--interval");
}

static void leg_fail_and_restore(void **state)
{
	struct ctl_opts o;
	struct cru_err err;

	(void)state;
	assert_int_equal(parse(&o, &err, "leg", "vol0", "fail", "1", NULL), 0);
	assert_int_equal(o.cmd, CTL_CMD_LEG);
	assert_string_equal(o.volume, "vol0");
	assert_int_equal(o.leg_action, CTL_LEG_FAIL);
	assert_int_equal(o.leg, 1);
	assert_int_equal(parse(&o, &err, "leg", "vol0", "restore", "2", NULL), 0);
	assert_int_equal(o.leg_action, CTL_LEG_RESTORE);
	assert_int_equal(o.leg, 2);

	assert_int_equal(parse(&o, &err, "leg", "vol0", "fail", "3", NULL), -EINVAL);
	assert_contains(err.msg, "'3' is not a leg");
	assert_int_equal(parse(&o, &err, "leg", "vol0", "kill", "0", NULL), -EINVAL);
	assert_contains(err.msg, "unknown action 'kill'");
	assert_int_equal(parse(&o, &err, "leg", "vol0", "fail", NULL), -EINVAL);
	assert_int_equal(parse(&o, &err, "leg", "vol0", "fail", "1", "/dev/x", NULL),
			 -EINVAL);
	assert_contains(err.msg, "too many arguments");
	assert_int_equal(parse(&o, &err, "leg", "vol0", "fail", "1", "--force", NULL),
			 -EINVAL);
	assert_contains(err.msg, "--force is for replace only");
}

static void leg_replace_either_word_order(void **state)
{
	struct ctl_opts o;
	struct cru_err err;

	(void)state;
	assert_int_equal(parse(&o, &err, "leg", "vol0", "replace", "2", "/dev/sdz",
			       NULL), 0);
	assert_int_equal(o.cmd, CTL_CMD_LEG);
	assert_int_equal(o.leg_action, CTL_LEG_REPLACE);
	assert_string_equal(o.volume, "vol0");
	assert_int_equal(o.leg, 2);
	assert_string_equal(o.new_device, "/dev/sdz");
	assert_false(o.force);

	assert_int_equal(parse(&o, &err, "leg", "replace", "vol0", "1", "/dev/sdy",
			       "--force", NULL), 0);
	assert_int_equal(o.leg_action, CTL_LEG_REPLACE);
	assert_string_equal(o.volume, "vol0");
	assert_int_equal(o.leg, 1);
	assert_string_equal(o.new_device, "/dev/sdy");
	assert_true(o.force);

	assert_int_equal(parse(&o, &err, "leg", "fail", "vol0", "0", NULL), 0);
	assert_int_equal(o.leg_action, CTL_LEG_FAIL);
	assert_string_equal(o.volume, "vol0");
	/* A volume named like an action: the second word decides. */
	assert_int_equal(parse(&o, &err, "leg", "restore", "fail", "0", NULL), 0);
	assert_string_equal(o.volume, "restore");
	assert_int_equal(o.leg_action, CTL_LEG_FAIL);

	assert_int_equal(parse(&o, &err, "leg", "vol0", "replace", "2", NULL),
			 -EINVAL);
	assert_contains(err.msg, "expected <volume> <n> <new-device>");
	assert_int_equal(parse(&o, &err, "leg", "vol0", "replace", "3", "/dev/x",
			       NULL), -EINVAL);
	assert_contains(err.msg, "'3' is not a leg");
	assert_int_equal(parse(&o, &err, "leg", "vol0", "replace", "1", "", NULL),
			 -EINVAL);
}

static void regions_range_and_json(void **state)
{
	struct ctl_opts o;
	struct cru_err err;

	(void)state;
	assert_int_equal(parse(&o, &err, "regions", "vol0", NULL), 0);
	assert_int_equal(o.cmd, CTL_CMD_REGIONS);
	assert_string_equal(o.volume, "vol0");
	assert_int_equal(o.first, 0);
	assert_false(o.has_count);
	assert_false(o.json);
	assert_int_equal(parse(&o, &err, "regions", "--first", "10", "vol0",
			       "--count", "5", "--json", NULL), 0);
	assert_int_equal(o.first, 10);
	assert_true(o.has_count);
	assert_int_equal(o.count, 5);
	assert_true(o.json);
	assert_int_equal(parse(&o, &err, "regions", "vol0", "--count", "0", NULL),
			 -EINVAL);
	assert_contains(err.msg, "regions: --count '0' is not a number");
	assert_int_equal(parse(&o, &err, "regions", "vol0", "--first", "x", NULL),
			 -EINVAL);
	assert_int_equal(parse(&o, &err, "regions", NULL), -EINVAL);
	assert_int_equal(parse(&o, &err, "regions", "a", "b", NULL), -EINVAL);
}

static void records_leg_and_range(void **state)
{
	struct ctl_opts o;
	struct cru_err err;

	(void)state;
	assert_int_equal(parse(&o, &err, "records", "vol0", "2", "256", "16",
			       "--json", NULL), 0);
	assert_int_equal(o.cmd, CTL_CMD_RECORDS);
	assert_string_equal(o.volume, "vol0");
	assert_int_equal(o.leg, 2);
	assert_int_equal(o.first, 256);
	assert_int_equal(o.count, 16);
	assert_true(o.json);
	assert_int_equal(parse(&o, &err, "records", "vol0", "3", "0", "1", NULL),
			 -EINVAL);
	assert_contains(err.msg, "records: '3' is not a leg");
	assert_int_equal(parse(&o, &err, "records", "vol0", "0", "0", "0", NULL),
			 -EINVAL);
	assert_contains(err.msg, "records: count '0' is not a number from 1 to 4294967296");
	assert_int_equal(parse(&o, &err, "records", "vol0", "0", "0", "4294967297",
			       NULL), -EINVAL);
	assert_int_equal(parse(&o, &err, "records", "vol0", "0", "0", NULL), -EINVAL);
	assert_contains(err.msg, "missing arguments");
}

static void remove_takes_one_volume(void **state)
{
	struct ctl_opts o;
	struct cru_err err;

	(void)state;
	assert_int_equal(parse(&o, &err, "remove", "vol0", NULL), 0);
	assert_int_equal(o.cmd, CTL_CMD_REMOVE);
	assert_string_equal(o.volume, "vol0");
	assert_int_equal(parse(&o, &err, "remove", NULL), -EINVAL);
}

static void pool_init_forms(void **state)
{
	struct ctl_opts o;
	struct cru_err err;

	(void)state;
	assert_int_equal(parse(&o, &err, "pool", "init", "/dev/sdb", NULL), 0);
	assert_int_equal(o.cmd, CTL_CMD_POOL);
	assert_int_equal(o.pool_action, CTL_POOL_INIT);
	assert_string_equal(o.pool, "/dev/sdb");
	assert_null(o.name);
	assert_false(o.force);
	assert_false(o.all);
	assert_null(o.registry);
	assert_null(o.region);
	assert_int_equal(o.size, 0);

	assert_int_equal(parse(&o, &err, "pool", "init", "/dev/sdb", "--name", "p0",
			       "--force", "--registry", "/tmp/reg", NULL), 0);
	assert_int_equal(o.pool_action, CTL_POOL_INIT);
	assert_string_equal(o.pool, "/dev/sdb");
	assert_string_equal(o.name, "p0");
	assert_true(o.force);
	assert_string_equal(o.registry, "/tmp/reg");

	/* Short options, before the action and after the device. */
	assert_int_equal(parse(&o, &err, "-v", "pool", "-n", "big.pool", "-f",
			       "init", "disk.img", "-R", "reg", NULL), 0);
	assert_int_equal(o.verbose, 1);
	assert_int_equal(o.pool_action, CTL_POOL_INIT);
	assert_string_equal(o.pool, "disk.img");
	assert_string_equal(o.name, "big.pool");
	assert_true(o.force);
	assert_string_equal(o.registry, "reg");
	assert_int_equal(parse(&o, &err, "pool", "init", "--name=p1", "disk.img",
			       NULL), 0);
	assert_string_equal(o.name, "p1");
	assert_false(o.force);
}

static void pool_list_and_show_forms(void **state)
{
	struct ctl_opts o;
	struct cru_err err;

	(void)state;
	assert_int_equal(parse(&o, &err, "pool", "list", NULL), 0);
	assert_int_equal(o.cmd, CTL_CMD_POOL);
	assert_int_equal(o.pool_action, CTL_POOL_LIST);
	assert_null(o.pool);
	assert_null(o.registry);
	assert_int_equal(parse(&o, &err, "pool", "list", "--registry", "/etc/x",
			       NULL), 0);
	assert_int_equal(o.pool_action, CTL_POOL_LIST);
	assert_string_equal(o.registry, "/etc/x");

	assert_int_equal(parse(&o, &err, "pool", "show", "p0", NULL), 0);
	assert_int_equal(o.pool_action, CTL_POOL_SHOW);
	assert_string_equal(o.pool, "p0");
	assert_null(o.registry);
	assert_int_equal(parse(&o, &err, "pool", "-R", "r", "show", "/dev/sdb",
			       NULL), 0);
	assert_int_equal(o.pool_action, CTL_POOL_SHOW);
	assert_string_equal(o.pool, "/dev/sdb");
	assert_string_equal(o.registry, "r");
}

static void pool_open_and_close_forms(void **state)
{
	struct ctl_opts o;
	struct cru_err err;

	(void)state;
	assert_int_equal(parse(&o, &err, "pool", "open", "p0", NULL), 0);
	assert_int_equal(o.cmd, CTL_CMD_POOL);
	assert_int_equal(o.pool_action, CTL_POOL_OPEN);
	assert_string_equal(o.pool, "p0");
	assert_false(o.all);
	assert_int_equal(parse(&o, &err, "pool", "close", "p0", "--registry", "r",
			       NULL), 0);
	assert_int_equal(o.pool_action, CTL_POOL_CLOSE);
	assert_string_equal(o.pool, "p0");
	assert_string_equal(o.registry, "r");
	assert_false(o.all);

	assert_int_equal(parse(&o, &err, "pool", "open", "--all", NULL), 0);
	assert_int_equal(o.pool_action, CTL_POOL_OPEN);
	assert_true(o.all);
	assert_null(o.pool);
	assert_int_equal(parse(&o, &err, "pool", "-a", "close", "-R", "r", NULL), 0);
	assert_int_equal(o.pool_action, CTL_POOL_CLOSE);
	assert_true(o.all);
	assert_null(o.pool);
	assert_string_equal(o.registry, "r");
}

static void pool_usage_errors(void **state)
{
	struct ctl_opts o;
	struct cru_err err;

	(void)state;
	assert_int_equal(parse(&o, &err, "pool", NULL), -EINVAL);
	assert_contains(err.msg, "pool: missing action");
	assert_int_equal(parse(&o, &err, "pool", "--force", NULL), -EINVAL);
	assert_contains(err.msg, "pool: missing action");
	assert_int_equal(parse(&o, &err, "pool", "format", "/dev/sdb", NULL), -EINVAL);
	assert_contains(err.msg, "pool: unknown action 'format'");

	/* Missing or extra device / pool. */
	assert_int_equal(parse(&o, &err, "pool", "init", NULL), -EINVAL);
	assert_contains(err.msg, "pool init: expected 1 argument, got 0");
	assert_int_equal(parse(&o, &err, "pool", "init", "--name", "p0", "--force",
			       NULL), -EINVAL);
	assert_contains(err.msg, "pool init: expected 1 argument, got 0");
	assert_int_equal(parse(&o, &err, "pool", "init", "a", "b", NULL), -EINVAL);
	assert_contains(err.msg, "pool init: expected 1 argument, got 2");
	assert_int_equal(parse(&o, &err, "pool", "init", "", NULL), -EINVAL);
	assert_contains(err.msg, "pool init: empty pool");
	assert_int_equal(parse(&o, &err, "region", "list", "", NULL), -EINVAL);
	assert_contains(err.msg, "region list: empty pool");
	assert_int_equal(parse(&o, &err, "region", "create", "", "--size", "1M",
			       NULL), -EINVAL);
	assert_contains(err.msg, "region create: empty pool");
	assert_int_equal(parse(&o, &err, "region", "remove", "p", "", NULL), -EINVAL);
	assert_contains(err.msg, "region remove: empty region");
	assert_int_equal(parse(&o, &err, "pool", "show", NULL), -EINVAL);
	assert_contains(err.msg, "pool show: expected 1 argument, got 0");
	assert_int_equal(parse(&o, &err, "pool", "show", "p0", "p1", NULL), -EINVAL);
	assert_contains(err.msg, "pool show: expected 1 argument, got 2");
	assert_int_equal(parse(&o, &err, "pool", "list", "p0", NULL), -EINVAL);
	assert_contains(err.msg, "pool list: expected 0 arguments, got 1");
	assert_int_equal(parse(&o, &err, "pool", "open", NULL), -EINVAL);
	assert_contains(err.msg, "pool open: expected 1 argument, got 0");
	assert_int_equal(parse(&o, &err, "pool", "close", "a", "b", NULL), -EINVAL);
	assert_contains(err.msg, "pool close: expected 1 argument, got 2");
	assert_int_equal(parse(&o, &err, "pool", "open", "p0", "--all", NULL),
			 -EINVAL);
	assert_contains(err.msg, "pool open: --all or a pool, not both");
	assert_int_equal(parse(&o, &err, "pool", "close", "--all", "p0", NULL),
			 -EINVAL);
	assert_contains(err.msg, "pool close: --all or a pool, not both");

	/* Options of other actions. */
	assert_int_equal(parse(&o, &err, "pool", "show", "p0", "--force", NULL),
			 -EINVAL);
	assert_contains(err.msg, "pool show: --name and --force are for init");
	assert_int_equal(parse(&o, &err, "pool", "list", "--name", "p0", NULL),
			 -EINVAL);
	assert_contains(err.msg, "pool list: --name and --force are for init");
	assert_int_equal(parse(&o, &err, "pool", "open", "p0", "-f", NULL), -EINVAL);
	assert_contains(err.msg, "pool open: --name and --force are for init");
	assert_int_equal(parse(&o, &err, "pool", "init", "x", "--all", NULL),
			 -EINVAL);
	assert_contains(err.msg, "pool init: --all is for open and close");
	assert_int_equal(parse(&o, &err, "pool", "show", "--all", NULL), -EINVAL);
	assert_contains(err.msg, "pool show: --all is for open and close");
	assert_int_equal(parse(&o, &err, "pool", "list", "--all", NULL), -EINVAL);
	assert_contains(err.msg, "pool list: --all is for open and close");
	assert_int_equal(parse(&o, &err, "pool", "init", "x", "--size", "1G", NULL),
			 -EINVAL);
	assert_contains(err.msg, "pool init: --size is for region create");
	assert_int_equal(parse(&o, &err, "pool", "init", "x", "--size", "1Q", NULL),
			 -EINVAL);
	assert_contains(err.msg, "pool: --size: '1Q': unknown unit");

	/* Bad option values, unknown options. */
	assert_int_equal(parse(&o, &err, "pool", "init", "x", "--name", "", NULL),
			 -EINVAL);
	assert_contains(err.msg, "pool: --name is empty");
	assert_int_equal(parse(&o, &err, "pool", "init", "x", "--name", NULL),
			 -EINVAL);
	assert_contains(err.msg, "pool: option '--name' needs a value");
	assert_int_equal(parse(&o, &err, "pool", "list", "--registry", NULL),
			 -EINVAL);
	assert_contains(err.msg, "pool: option '--registry' needs a value");
	assert_int_equal(parse(&o, &err, "pool", "init", "x", "--bogus", NULL),
			 -EINVAL);
	assert_contains(err.msg, "pool: unknown option '--bogus'");
	assert_int_equal(parse(&o, &err, "pool", "list", "-z", NULL), -EINVAL);
	assert_contains(err.msg, "pool: unknown option '-z'");
	/* Options of other subcommands are unknown here. */
	assert_int_equal(parse(&o, &err, "pool", "list", "--json", NULL), -EINVAL);
	assert_contains(err.msg, "pool: unknown option '--json'");
}

static void region_create_forms(void **state)
{
	static const struct {
		const char *word;
		uint64_t bytes;
	} sizes[] = {
		{ "4096", 4096 },
		{ "8192B", 8192 },
		{ "512K", 512ULL << 10 },
		{ "64M", 64ULL << 20 },
		{ "64m", 64ULL << 20 },
		{ "3G", 3ULL << 30 },
		{ "2GiB", 2ULL << 30 },
		{ "1T", 1ULL << 40 },
		{ "5000", 5000 },	/* rounded up to blocks by the pool */
	};
	struct ctl_opts o;
	struct cru_err err;
	size_t i;

	(void)state;
	assert_int_equal(parse(&o, &err, "region", "create", "p0", "--size", "64M",
			       NULL), 0);
	assert_int_equal(o.cmd, CTL_CMD_REGION);
	assert_int_equal(o.region_action, CTL_REGION_CREATE);
	assert_string_equal(o.pool, "p0");
	assert_int_equal(o.size, 64 << 20);
	assert_null(o.name);
	assert_null(o.region);
	assert_null(o.registry);
	assert_false(o.force);
	assert_false(o.all);

	assert_int_equal(parse(&o, &err, "region", "create", "-s", "1G", "-n", "leg0",
			       "-R", "/tmp/reg", "/dev/sdb", NULL), 0);
	assert_int_equal(o.region_action, CTL_REGION_CREATE);
	assert_string_equal(o.pool, "/dev/sdb");
	assert_int_equal(o.size, 1 << 30);
	assert_string_equal(o.name, "leg0");
	assert_string_equal(o.registry, "/tmp/reg");
	/* The name is not checked here: the pool says what is valid. */
	assert_int_equal(parse(&o, &err, "region", "--name", "leg-0", "create", "p0",
			       "--size=128K", NULL), 0);
	assert_string_equal(o.name, "leg-0");
	assert_int_equal(o.size, 128 << 10);

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		assert_int_equal(parse(&o, &err, "region", "create", "p0", "--size",
				       sizes[i].word, NULL), 0);
		assert_true(o.size == sizes[i].bytes);
	}
	/* The last --size wins. */
	assert_int_equal(parse(&o, &err, "region", "create", "p0", "-s", "1M", "-s",
			       "2M", NULL), 0);
	assert_int_equal(o.size, 2 << 20);
}

static void region_remove_and_list_forms(void **state)
{
	struct ctl_opts o;
	struct cru_err err;

	(void)state;
	assert_int_equal(parse(&o, &err, "region", "remove", "p0", "leg0", NULL), 0);
	assert_int_equal(o.cmd, CTL_CMD_REGION);
	assert_int_equal(o.region_action, CTL_REGION_REMOVE);
	assert_string_equal(o.pool, "p0");
	assert_string_equal(o.region, "leg0");
	assert_null(o.name);
	assert_int_equal(o.size, 0);
	assert_int_equal(parse(&o, &err, "region", "remove", "--registry", "r",
			       "/dev/sdb", "r3", NULL), 0);
	assert_int_equal(o.region_action, CTL_REGION_REMOVE);
	assert_string_equal(o.pool, "/dev/sdb");
	assert_string_equal(o.region, "r3");
	assert_string_equal(o.registry, "r");

	assert_int_equal(parse(&o, &err, "region", "list", "p0", NULL), 0);
	assert_int_equal(o.region_action, CTL_REGION_LIST);
	assert_string_equal(o.pool, "p0");
	assert_null(o.region);
	assert_int_equal(parse(&o, &err, "region", "list", "p0", "-R", "r", NULL), 0);
	assert_string_equal(o.registry, "r");

	/* "region" and "regions" are different commands. */
	assert_int_equal(parse(&o, &err, "regions", "vol0", NULL), 0);
	assert_int_equal(o.cmd, CTL_CMD_REGIONS);
	assert_string_equal(o.volume, "vol0");
}

static void region_usage_errors(void **state)
{
	struct ctl_opts o;
	struct cru_err err;

	(void)state;
	assert_int_equal(parse(&o, &err, "region", NULL), -EINVAL);
	assert_contains(err.msg, "region: missing action");
	assert_int_equal(parse(&o, &err, "region", "resize", "p0", "r0", NULL),
			 -EINVAL);
	assert_contains(err.msg, "region: unknown action 'resize'");
	assert_int_equal(parse(&o, &err, "region", "init", "p0", NULL), -EINVAL);
	assert_contains(err.msg, "region: unknown action 'init'");

	/* Missing or extra pool / region. */
	assert_int_equal(parse(&o, &err, "region", "create", "--size", "1M", NULL),
			 -EINVAL);
	assert_contains(err.msg, "region create: expected 1 argument, got 0");
	assert_int_equal(parse(&o, &err, "region", "create", "p0", "r0", "--size",
			       "1M", NULL), -EINVAL);
	assert_contains(err.msg, "region create: expected 1 argument, got 2");
	assert_int_equal(parse(&o, &err, "region", "remove", "p0", NULL), -EINVAL);
	assert_contains(err.msg, "region remove: expected 2 arguments, got 1");
	assert_int_equal(parse(&o, &err, "region", "remove", NULL), -EINVAL);
	assert_contains(err.msg, "region remove: expected 2 arguments, got 0");
	assert_int_equal(parse(&o, &err, "region", "remove", "p0", "a", "b", NULL),
			 -EINVAL);
	assert_contains(err.msg, "region remove: expected 2 arguments, got 3");
	assert_int_equal(parse(&o, &err, "region", "list", NULL), -EINVAL);
	assert_contains(err.msg, "region list: expected 1 argument, got 0");
	assert_int_equal(parse(&o, &err, "region", "list", "p0", "r0", NULL),
			 -EINVAL);
	assert_contains(err.msg, "region list: expected 1 argument, got 2");

	/* --size: required, not 0, a size. */
	assert_int_equal(parse(&o, &err, "region", "create", "p0", NULL), -EINVAL);
	assert_contains(err.msg, "region create: --size is required");
	assert_int_equal(parse(&o, &err, "region", "create", "p0", "--name", "x",
			       NULL), -EINVAL);
	assert_contains(err.msg, "region create: --size is required");
	assert_int_equal(parse(&o, &err, "region", "create", "p0", "--size", "0",
			       NULL), -EINVAL);
	assert_contains(err.msg, "--size is required (and not 0)");
	assert_int_equal(parse(&o, &err, "region", "create", "p0", "--size", "0G",
			       NULL), -EINVAL);
	assert_contains(err.msg, "--size is required (and not 0)");
	assert_int_equal(parse(&o, &err, "region", "create", "p0", "--size", "1Q",
			       NULL), -EINVAL);
	assert_contains(err.msg, "region: --size: '1Q': unknown unit 'Q'");
	assert_int_equal(parse(&o, &err, "region", "create", "p0", "--size", "1MBB",
			       NULL), -EINVAL);
	assert_contains(err.msg, "region: --size: '1MBB': unknown unit");
	assert_int_equal(parse(&o, &err, "region", "create", "p0", "--size", "big",
			       NULL), -EINVAL);
	assert_contains(err.msg, "region: --size: 'big' is not a size");
	assert_int_equal(parse(&o, &err, "region", "create", "p0", "--size", "-1M",
			       NULL), -EINVAL);
	assert_contains(err.msg, "region: --size: '-1M' is not a size");
	assert_int_equal(parse(&o, &err, "region", "create", "p0", "--size", "",
			       NULL), -EINVAL);
	assert_contains(err.msg, "region: --size: '' is not a size");
	assert_int_equal(parse(&o, &err, "region", "create", "p0", "--size",
			       "20000000000000000P", NULL), -EINVAL);
	assert_contains(err.msg, "is too large");
	assert_int_equal(parse(&o, &err, "region", "create", "p0", "--size", NULL),
			 -EINVAL);
	assert_contains(err.msg, "region: option '--size' needs a value");

	/* Options that are not the action's. */
	assert_int_equal(parse(&o, &err, "region", "create", "p0", "--size", "1M",
			       "--force", NULL), -EINVAL);
	assert_contains(err.msg, "region: --force and --all are for pool");
	assert_int_equal(parse(&o, &err, "region", "list", "p0", "--all", NULL),
			 -EINVAL);
	assert_contains(err.msg, "region: --force and --all are for pool");
	assert_int_equal(parse(&o, &err, "region", "list", "p0", "--name", "x",
			       NULL), -EINVAL);
	assert_contains(err.msg, "region list: --name and --size are for create");
	assert_int_equal(parse(&o, &err, "region", "remove", "p0", "r0", "--size",
			       "1M", NULL), -EINVAL);
	assert_contains(err.msg, "region remove: --name and --size are for create");
	assert_int_equal(parse(&o, &err, "region", "create", "p0", "--size", "1M",
			       "--name", "", NULL), -EINVAL);
	assert_contains(err.msg, "region: --name is empty");
	assert_int_equal(parse(&o, &err, "region", "create", "p0", "--size", "1M",
			       "--bogus", NULL), -EINVAL);
	assert_contains(err.msg, "region: unknown option '--bogus'");
	assert_int_equal(parse(&o, &err, "region", "list", "p0", "-x", NULL),
			 -EINVAL);
	assert_contains(err.msg, "region: unknown option '-x'");
	assert_int_equal(parse(&o, &err, "region", "list", "p0", "--registry", NULL),
			 -EINVAL);
	assert_contains(err.msg, "region: option '--registry' needs a value");
}

static void pool_and_region_help(void **state)
{
	struct ctl_opts o;
	struct cru_err err;

	(void)state;
	assert_int_equal(parse(&o, &err, "pool", "--help", NULL), 0);
	assert_int_equal(o.cmd, CTL_CMD_HELP);
	assert_int_equal(o.help_cmd, CTL_CMD_POOL);
	/* --help wins over what would be a usage error. */
	assert_int_equal(parse(&o, &err, "pool", "init", "-h", NULL), 0);
	assert_int_equal(o.cmd, CTL_CMD_HELP);
	assert_int_equal(o.help_cmd, CTL_CMD_POOL);
	assert_int_equal(parse(&o, &err, "region", "create", "--help", NULL), 0);
	assert_int_equal(o.cmd, CTL_CMD_HELP);
	assert_int_equal(o.help_cmd, CTL_CMD_REGION);
	assert_int_equal(parse(&o, &err, "help", "pool", NULL), 0);
	assert_int_equal(o.help_cmd, CTL_CMD_POOL);
	assert_int_equal(parse(&o, &err, "help", "region", NULL), 0);
	assert_int_equal(o.help_cmd, CTL_CMD_REGION);
	assert_string_equal(ctl_cmd_name(CTL_CMD_POOL), "pool");
	assert_string_equal(ctl_cmd_name(CTL_CMD_REGION), "region");
}

/* Option errors name the option as it was written. */
static void option_errors_name_the_option_as_written(void **state)
{
	static const struct refusal cases[] = {
		/* A long option given a value it does not take (not "-f"). */
		{ { "pool", "init", "x", "--force=yes" },
		  "pool: option '--force' takes no value" },
		{ { "format", "a", "b", "c", "--size", "1G", "--force=1" },
		  "format: option '--force' takes no value" },
		{ { "status", "--json=yes" },
		  "status: option '--json' takes no value" },
		{ { "--verbose=2", "status" },
		  "cruciblectl: option '--verbose' takes no value" },
		/* Abbreviated: as the user wrote it. */
		{ { "pool", "open", "--al=" },
		  "pool: option '--al' takes no value" },

		/* Unknown options; a short one also in a cluster after a long one. */
		{ { "pool", "list", "--bogus=1" },
		  "pool: unknown option '--bogus=1'" },
		{ { "pool", "--all", "-zf", "open" },
		  "pool: unknown option '-z'" },
		{ { "pool", "open", "--all", "-fz" },
		  "pool: unknown option '-z'" },
		{ { "leg", "--force", "-q", "v", "fail", "1" },
		  "leg: unknown option '-q'" },

		/* An option that needs a value and has none: long, short, and
		 * the last of a cluster (the option, not the cluster). */
		{ { "pool", "init", "x", "--name" },
		  "pool: option '--name' needs a value" },
		{ { "pool", "init", "x", "--na" },
		  "pool: option '--na' needs a value" },
		{ { "pool", "init", "x", "-n" },
		  "pool: option '-n' needs a value" },
		{ { "pool", "init", "x", "-fn" },
		  "pool: option '-n' needs a value" },
		{ { "reconcile", "v", "start", "-wt" },
		  "reconcile: option '-t' needs a value" },
	};

	(void)state;
	expect_refusals(cases, ARRAY_SIZE(cases));
}

/* An unknown action is refused with the list of the command's actions. */
static void unknown_actions_list_the_known_ones(void **state)
{
	static const struct refusal cases[] = {
		{ { "reconcile", "v", "go" },
		  "reconcile: unknown action 'go' (expected start or stop)" },
		/* Neither word an action: the second one is named. */
		{ { "leg", "v", "kill", "0" },
		  "leg: unknown action 'kill' (expected fail, restore or replace)" },
		{ { "pool", "frob" },
		  "pool: unknown action 'frob' (expected init, list, show, open or close)" },
		{ { "region", "resize", "p0", "r0" },
		  "region: unknown action 'resize' (expected create, remove or list)" },
	};

	(void)state;
	expect_refusals(cases, ARRAY_SIZE(cases));
}

static void help_and_version(void **state)
{
	struct ctl_opts o;
	struct cru_err err;

	(void)state;
	assert_int_equal(parse(&o, &err, "--help", NULL), 0);
	assert_int_equal(o.cmd, CTL_CMD_HELP);
	assert_int_equal(o.help_cmd, CTL_CMD_NONE);
	assert_int_equal(parse(&o, &err, "-V", NULL), 0);
	assert_int_equal(o.cmd, CTL_CMD_VERSION);
	assert_int_equal(parse(&o, &err, "status", "--help", NULL), 0);
	assert_int_equal(o.cmd, CTL_CMD_HELP);
	assert_int_equal(o.help_cmd, CTL_CMD_STATUS);
	assert_int_equal(parse(&o, &err, "help", "reconcile", NULL), 0);
	assert_int_equal(o.cmd, CTL_CMD_HELP);
	assert_int_equal(o.help_cmd, CTL_CMD_RECONCILE);
	assert_int_equal(parse(&o, &err, "format", "-h", NULL), 0);
	assert_int_equal(o.help_cmd, CTL_CMD_FORMAT);
}

static void unknown_or_missing_command(void **state)
{
	struct ctl_opts o;
	struct cru_err err;

	(void)state;
	assert_int_equal(parse(&o, &err, NULL), -EINVAL);
	assert_contains(err.msg, "no command");
	assert_int_equal(parse(&o, &err, "frobnicate", NULL), -EINVAL);
	assert_contains(err.msg, "unknown command 'frobnicate'");
	assert_int_equal(parse(&o, &err, "--bogus", "status", NULL), -EINVAL);
	assert_contains(err.msg, "--bogus");
}

static void usage_lists_every_command(void **state)
{
	static const enum ctl_cmd cmds[] = {
		CTL_CMD_FORMAT, CTL_CMD_CREATE, CTL_CMD_STATUS,
		CTL_CMD_RECONCILE, CTL_CMD_LEG, CTL_CMD_REMOVE,
		CTL_CMD_REGIONS, CTL_CMD_RECORDS, CTL_CMD_POOL,
		CTL_CMD_REGION,
	};
	char *text = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	ctl_usage(f, CTL_CMD_NONE);
	fclose(f);
	for (i = 0; i < ARRAY_SIZE(cmds); i++)
		assert_contains(text, ctl_cmd_name(cmds[i]));
	assert_contains(text, "--version");
	assert_contains(text, "Exit status");
	assert_contains(text, "pool init <device|file>");
	assert_contains(text, "region create <pool> --size SIZE");
	assert_contains(text, "6 no such pool or region");
	assert_contains(text, "enough free space in the pool");
	free(text);

	f = open_memstream(&text, &len);
	ctl_usage(f, CTL_CMD_POOL);
	fclose(f);
	assert_contains(text, "--name NAME");
	assert_contains(text, "--force");
	assert_contains(text, "--all");
	assert_contains(text, "--registry FILE");
	free(text);

	f = open_memstream(&text, &len);
	ctl_usage(f, CTL_CMD_REGION);
	fclose(f);
	assert_contains(text, "--size SIZE");
	assert_contains(text, "remove <pool> <region>");
	assert_contains(text, "--registry FILE");
	free(text);

	f = open_memstream(&text, &len);
	ctl_usage(f, CTL_CMD_RECONCILE);
	fclose(f);
	assert_contains(text, "--wait");
	assert_contains(text, "--timeout");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(format_with_every_option),
		cmocka_unit_test(format_options_before_the_legs),
		cmocka_unit_test(format_usage_errors),
		cmocka_unit_test(create_takes_one_spec),
		cmocka_unit_test(status_of_all_or_one),
		cmocka_unit_test(reconcile_actions_and_wait),
		cmocka_unit_test(leg_fail_and_restore),
		cmocka_unit_test(leg_replace_either_word_order),
		cmocka_unit_test(regions_range_and_json),
		cmocka_unit_test(records_leg_and_range),
		cmocka_unit_test(remove_takes_one_volume),
		cmocka_unit_test(pool_init_forms),
		cmocka_unit_test(pool_list_and_show_forms),
		cmocka_unit_test(pool_open_and_close_forms),
		cmocka_unit_test(pool_usage_errors),
		cmocka_unit_test(region_create_forms),
		cmocka_unit_test(region_remove_and_list_forms),
		cmocka_unit_test(region_usage_errors),
		cmocka_unit_test(pool_and_region_help),
		cmocka_unit_test(option_errors_name_the_option_as_written),
		cmocka_unit_test(unknown_actions_list_the_known_ones),
		cmocka_unit_test(help_and_version),
		cmocka_unit_test(unknown_or_missing_command),
		cmocka_unit_test(usage_lists_every_command),
	};

	return cmocka_run_group_tests_name("cruciblectl options", tests, NULL, NULL);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * crucible-agent's command line.
 */
#include "test.h"

#include "../crucible-agent/options.h"

static int parse(struct agent_opts *o, struct cru_err *err, ...)
{
	static char *argv[32];
	static char words[32][128];
	const char *w;
	va_list ap;
	int argc = 0;

	argv[argc] = words[argc];
	strcpy(words[argc++], "crucible-agent");
	va_start(ap, err);
	while ((w = va_arg(ap, const char *))) {
		snprintf(words[argc], sizeof(words[argc]), "%s", w);
		argv[argc] = words[argc];
		argc++;
	}
	va_end(ap);
	argv[argc] = NULL;
	err->msg[0] = '\0';
	return agent_parse_args(argc, argv, o, err);
}

static void defaults(void **state)
{
	struct agent_opts o;
	struct cru_err err;

	(void)state;
	assert_int_equal(parse(&o, &err, NULL), 0);
	assert_int_equal(o.action, AGENT_RUN);
	assert_false(o.foreground);
	assert_false(o.syslog);
	assert_true(o.auto_reconcile);
	assert_string_equal(o.state_dir, "/run/crucible-agent");
	assert_int_equal(o.rescan, AGENT_DEFAULT_RESCAN);
	assert_int_equal(o.verbose, 0);
	assert_false(o.no_netlink);
	assert_int_equal(o.event_rcvbuf, 0);
	assert_int_equal(o.repair_throttle, -1);
	assert_int_equal(o.repair_batch, AGENT_DEFAULT_REPAIR_BATCH);
}

static void netlink_options(void **state)
{
	struct agent_opts o;
	struct cru_err err;

	(void)state;
	assert_int_equal(parse(&o, &err, "--event-rcvbuf", "4K",
			       "--repair-throttle", "0", "--repair-batch", "8",
			       "--no-netlink", NULL), 0);
	assert_int_equal(o.event_rcvbuf, 4096);
	assert_int_equal(o.repair_throttle, 0);
	assert_int_equal(o.repair_batch, 8);
	assert_true(o.no_netlink);
	assert_int_equal(parse(&o, &err, "--event-rcvbuf=1", "--repair-throttle=1000000",
			       NULL), 0);
	assert_int_equal(o.event_rcvbuf, 1);
	assert_int_equal(o.repair_throttle, 1000000);

	assert_int_equal(parse(&o, &err, "--event-rcvbuf", "0", NULL), -EINVAL);
	assert_contains(err.msg, "--event-rcvbuf: '0' is out of range");
	assert_int_equal(parse(&o, &err, "--event-rcvbuf", "2G", NULL), -EINVAL);
	assert_int_equal(parse(&o, &err, "--event-rcvbuf", "lots", NULL), -EINVAL);
	assert_contains(err.msg, "--event-rcvbuf");
	assert_int_equal(parse(&o, &err, "--repair-throttle", "1000001", NULL),
			 -EINVAL);
	assert_contains(err.msg, "--repair-throttle: '1000001' is not a number of MiB/s");
	assert_int_equal(parse(&o, &err, "--repair-throttle", "-1", NULL), -EINVAL);
	assert_int_equal(parse(&o, &err, "--repair-batch", "0", NULL), -EINVAL);
	assert_contains(err.msg, "--repair-batch: '0' is not a number of regions");
	assert_int_equal(parse(&o, &err, "--repair-batch", NULL), -EINVAL);
	assert_contains(err.msg, "needs a value");
}

static void every_option(void **state)
{
	struct agent_opts o;
	struct cru_err err;

	(void)state;
	assert_int_equal(parse(&o, &err, "--foreground", "--syslog", "--state-dir",
			       "/run/ca", "--no-reconcile", "--rescan", "0", "-v",
			       NULL), 0);
	assert_true(o.foreground);
	assert_true(o.syslog);
	assert_false(o.auto_reconcile);
	assert_string_equal(o.state_dir, "/run/ca");
	assert_int_equal(o.rescan, 0);
	assert_int_equal(o.verbose, 1);

	assert_int_equal(parse(&o, &err, "-f", "-s", "-d", "/x", "-n", "-r", "30",
			       NULL), 0);
	assert_true(o.foreground);
	assert_string_equal(o.state_dir, "/x");
	assert_int_equal(o.rescan, 30);
}

static void help_and_version(void **state)
{
	struct agent_opts o;
	struct cru_err err;

	(void)state;
	assert_int_equal(parse(&o, &err, "--help", NULL), 0);
	assert_int_equal(o.action, AGENT_HELP);
	assert_int_equal(parse(&o, &err, "-f", "--version", NULL), 0);
	assert_int_equal(o.action, AGENT_VERSION);
}

static void usage_errors(void **state)
{
	struct agent_opts o;
	struct cru_err err;

	(void)state;
	assert_int_equal(parse(&o, &err, "--bogus", NULL), -EINVAL);
	assert_contains(err.msg, "unknown option '--bogus'");
	assert_int_equal(parse(&o, &err, "-z", NULL), -EINVAL);
	assert_contains(err.msg, "'-z'");
	assert_int_equal(parse(&o, &err, "--state-dir", NULL), -EINVAL);
	assert_contains(err.msg, "needs a value");
	assert_int_equal(parse(&o, &err, "--state-dir", "", NULL), -EINVAL);
	assert_int_equal(parse(&o, &err, "--rescan", "soon", NULL), -EINVAL);
	assert_contains(err.msg, "--rescan");
	assert_int_equal(parse(&o, &err, "--rescan", "86401", NULL), -EINVAL);
	assert_int_equal(parse(&o, &err, "extra", NULL), -EINVAL);
	assert_contains(err.msg, "unexpected argument 'extra'");
}

static void usage_lists_every_option(void **state)
{
	static const char *const opts[] = {
		"--foreground", "--syslog", "--state-dir", "--no-reconcile",
		"--rescan", "--verbose", "--help", "--version", "SIGHUP",
		"--repair-throttle", "--repair-batch", "--event-rcvbuf",
		"--no-netlink",
	};
	char *text = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	agent_usage(f);
	fclose(f);
	for (i = 0; i < ARRAY_SIZE(opts); i++)
		assert_contains(text, opts[i]);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults),
		cmocka_unit_test(every_option),
		cmocka_unit_test(netlink_options),
		cmocka_unit_test(help_and_version),
		cmocka_unit_test(usage_errors),
		cmocka_unit_test(usage_lists_every_option),
	};

	return cmocka_run_group_tests_name("crucible-agent options", tests, NULL, NULL);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * The built programs, run as a user would: --help, --version, usage
 * errors and their exit codes, and `cruciblectl format` on files.
 * Nothing here needs device-mapper.
 */
#include "test.h"

#include <sys/wait.h>

#include <crucible/format.h>

#ifndef CTL_BIN
#error "CTL_BIN: path of cruciblectl"
#endif
#ifndef AGENT_BIN
#error "AGENT_BIN: path of crucible-agent"
#endif

struct run {
	int status;		/* exit status, or 128 + signal */
	char out[16384];
	char err[16384];
};

static void slurp(FILE *f, char *buf, size_t len)
{
	size_t n;

	rewind(f);
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* Run @argv[0] with @argv, stdin from /dev/null, capturing both outputs. */
static void run(struct run *r, const char *const *argv)
{
	FILE *out = tmpfile(), *err = tmpfile();
	pid_t pid;
	int ws;

	assert_non_null(out);
	assert_non_null(err);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		int devnull = open("/dev/null", O_RDONLY);

		dup2(devnull, 0);
		dup2(fileno(out), 1);
		dup2(fileno(err), 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &ws, 0), pid);
	r->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	slurp(out, r->out, sizeof(r->out));
	slurp(err, r->err, sizeof(r->err));
}

#define RUN(r, ...) run((r), (const char *const[]){ __VA_ARGS__, NULL })

static void cruciblectl_help_lists_every_subcommand(void **state)
{
	static const char *const subcommands[] = {
		"format <leg0> <leg1> <leg2> --size SIZE", "create <spec.json",
		"status [<volume>] [--json]", "reconcile <volume> start|stop",
		"leg <volume> fail|restore <n>",
		"leg <volume> replace <n> <device>", "remove <volume>",
		"regions <volume> [--first N] [--count N] [--json]",
		"records <volume> <leg> <first> <count> [--json]",
		"--version", "--help",
	};
	struct run *r = malloc(sizeof(*r));
	size_t i;

	(void)state;
	RUN(r, CTL_BIN, "--help");
	assert_int_equal(r->status, 0);
	for (i = 0; i < ARRAY_SIZE(subcommands); i++)
		assert_contains(r->out, subcommands[i]);
	assert_string_equal(r->err, "");
	free(r);
}

static void cruciblectl_version(void **state)
{
	struct run *r = malloc(sizeof(*r));

	(void)state;
	RUN(r, CTL_BIN, "--version");
	assert_int_equal(r->status, 0);
	assert_int_equal(strncmp(r->out, "cruciblectl (dm-crucible) ", 26), 0);
	assert_true(strlen(r->out) > 27);
	free(r);
}

static void cruciblectl_subcommand_help(void **state)
{
	struct run *r = malloc(sizeof(*r));

	(void)state;
	RUN(r, CTL_BIN, "status", "--help");
	assert_int_equal(r->status, 0);
	assert_contains(r->out, "--json");
	RUN(r, CTL_BIN, "help", "format");
	assert_int_equal(r->status, 0);
	assert_contains(r->out, "--region-size");
	free(r);
}

static void cruciblectl_usage_errors_exit_2(void **state)
{
	struct run *r = malloc(sizeof(*r));

	(void)state;
	RUN(r, CTL_BIN);
	assert_int_equal(r->status, 2);
	assert_contains(r->err, "no command");
	RUN(r, CTL_BIN, "frobnicate");
	assert_int_equal(r->status, 2);
	assert_contains(r->err, "cruciblectl: error: unknown command 'frobnicate'");
	RUN(r, CTL_BIN, "leg", "vol0", "fail", "7");
	assert_int_equal(r->status, 2);
	assert_contains(r->err, "'7' is not a leg");
	free(r);
}

static void cruciblectl_create_names_the_bad_field(void **state)
{
	struct run *r = malloc(sizeof(*r));
	char *dir = test_tmpdir();
	char spec[512];
	FILE *f;

	(void)state;
	assert_non_null(dir);
	snprintf(spec, sizeof(spec), "%s/bad.json", dir);
	f = fopen(spec, "w");
	assert_non_null(f);
	fputs("{\"name\": \"v\", \"size\": \"1G\", \"legs\": [\"/dev/a\", \"/dev/b\"]}\n", f);
	fclose(f);
	RUN(r, CTL_BIN, "create", spec);
	assert_int_equal(r->status, 2);
	assert_contains(r->err, spec);
	assert_contains(r->err, "field 'legs': expected 3 devices, got 2");
	test_rm_rf(dir);
	free(dir);
	free(r);
}

static void cruciblectl_format_on_files(void **state)
{
	struct run *r = malloc(sizeof(*r));
	char *dir = test_tmpdir();
	char legs[3][512], image[512];
	struct crucible_sb sb;
	int i;

	(void)state;
	assert_non_null(dir);
	for (i = 0; i < 3; i++) {
		snprintf(legs[i], sizeof(legs[i]), "%s/leg%d", dir, i);
		test_make_file(legs[i], 12 << 20);
	}
	RUN(r, CTL_BIN, "format", legs[0], legs[1], legs[2], "--size", "8M");
	assert_int_equal(r->status, 0);
	assert_contains(r->out, "formatted");
	assert_contains(r->out, "8 regions");
	for (i = 0; i < 3; i++) {
		test_pread(legs[i], &sb, sizeof(sb), 0);
		assert_int_equal(crucible_sb_check(&sb), CRUCIBLE_SB_VALID);
	}

	RUN(r, CTL_BIN, "format", legs[0], legs[1], legs[2], "--size", "8M");
	assert_int_equal(r->status, 4);
	assert_contains(r->err, "already formatted");

	RUN(r, CTL_BIN, "format", "--force", legs[0], legs[1], legs[2], "-s", "8M",
	    "-r", "64K");
	assert_int_equal(r->status, 0);
	assert_contains(r->out, "128 regions");

	RUN(r, CTL_BIN, "format", legs[0], legs[1], legs[2], "--size", "1G", "-f");
	assert_int_equal(r->status, 1);
	assert_contains(r->err, "too small");

	/* A volume to be made from an image: the image's size is recorded. */
	snprintf(image, sizeof(image), "%s/image", dir);
	test_make_file(image, 6 << 20);
	RUN(r, CTL_BIN, "format", legs[0], legs[1], legs[2], "--size", "8M",
	    "--parent", image, "--force");
	assert_int_equal(r->status, 0);
	assert_contains(r->out, "parent");
	assert_contains(r->out, "of 12288 sectors");
	for (i = 0; i < 3; i++) {
		test_pread(legs[i], &sb, sizeof(sb), 0);
		assert_int_equal(crucible_sb_check(&sb), CRUCIBLE_SB_VALID);
		assert_int_equal(le64_to_cpu(sb.parent_sectors), 12288);
	}
	RUN(r, CTL_BIN, "format", legs[0], legs[1], legs[2], "--size", "4M",
	    "--parent", image, "--force");
	assert_int_equal(r->status, 1);
	assert_contains(r->err, "is larger than the volume (12288 > 8192 sectors)");

	test_rm_rf(dir);
	free(dir);
	free(r);
}

/*
 * Commands that need the netlink family say so when the kernel has none
 * (this host: no dm-crucible); with it, the volume does not exist.
 */
static void cruciblectl_netlink_commands_name_what_is_missing(void **state)
{
	struct run *r = malloc(sizeof(*r));

	(void)state;
	RUN(r, CTL_BIN, "regions", "no-such-volume-here");
	if (r->status == 1) {
		assert_contains(r->err, "no 'crucible' netlink family");
	} else {
		assert_int_equal(r->status, 3);
		assert_contains(r->err, "no crucible volume named no-such-volume-here");
	}
	RUN(r, CTL_BIN, "records", "no-such-volume-here", "0", "0", "8", "--json");
	assert_true(r->status == 1 || r->status == 3);
	assert_string_equal(r->out, "");
	free(r);
}

static void agent_help_and_version(void **state)
{
	struct run *r = malloc(sizeof(*r));

	(void)state;
	RUN(r, AGENT_BIN, "--help");
	assert_int_equal(r->status, 0);
	assert_contains(r->out, "--foreground");
	assert_contains(r->out, "--syslog");
	assert_contains(r->out, "--state-dir");
	assert_contains(r->out, "--no-reconcile");
	assert_contains(r->out, "--event-rcvbuf");
	assert_contains(r->out, "--repair-throttle");
	assert_contains(r->out, "--version");
	RUN(r, AGENT_BIN, "--version");
	assert_int_equal(r->status, 0);
	assert_int_equal(strncmp(r->out, "crucible-agent (dm-crucible) ", 29), 0);
	free(r);
}

static void agent_usage_error_exits_2(void **state)
{
	struct run *r = malloc(sizeof(*r));

	(void)state;
	RUN(r, AGENT_BIN, "--bogus");
	assert_int_equal(r->status, 2);
	assert_contains(r->err, "crucible-agent: error: unknown option '--bogus'");
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cruciblectl_help_lists_every_subcommand),
		cmocka_unit_test(cruciblectl_version),
		cmocka_unit_test(cruciblectl_subcommand_help),
		cmocka_unit_test(cruciblectl_usage_errors_exit_2),
		cmocka_unit_test(cruciblectl_create_names_the_bad_field),
		cmocka_unit_test(cruciblectl_format_on_files),
		cmocka_unit_test(cruciblectl_netlink_commands_name_what_is_missing),
		cmocka_unit_test(agent_help_and_version),
		cmocka_unit_test(agent_usage_error_exits_2),
	};

	return cmocka_run_group_tests_name("programs", tests, NULL, NULL);
}

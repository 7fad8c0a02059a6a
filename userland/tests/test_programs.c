// SPDX-License-Identifier: GPL-2.0
/*
 * The built programs, run as a user would: --help, --version, usage
 * errors and their exit codes, and `cruciblectl format`, `pool` and
 * `region` on files.  Nothing here needs device-mapper: a pool on a file
 * has no region devices, so region create and remove only change the pool.
 */
#include "test.h"

#include <limits.h>
#include <sys/file.h>
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

/* RUN, and check the exit status. */
#define RUN_EXIT(r, want, ...)						\
	do {								\
		RUN(r, __VA_ARGS__);					\
		assert_int_equal((r)->status, (want));			\
	} while (0)

/* RUN_EXIT, and check that stderr contains @msg. */
#define RUN_FAILS(r, want, msg, ...)					\
	do {								\
		RUN_EXIT(r, want, __VA_ARGS__);				\
		assert_contains((r)->err, (msg));			\
	} while (0)

static void cruciblectl_help_lists_every_subcommand(void **state)
{
	static const char *const subcommands[] = {
		"format <leg0> <leg1> <leg2> --size SIZE", "create <spec.json",
		"status [<volume>] [--json]", "reconcile <volume> start|stop",
		"leg <volume> fail|restore <n>",
		"leg <volume> replace <n> <device>", "remove <volume>",
		"regions <volume> [--first N] [--count N] [--json]",
		"records <volume> <leg> <first> <count> [--json]",
		"pool init <device|file> [--name NAME] [--force]", "pool list",
		"pool show <pool>", "pool open|close <pool>|--all",
		"region create <pool> --size SIZE [--name NAME]",
		"region remove <pool> <region>", "region list <pool>",
		"6 no such pool or region", "7 not\nenough free space",
		"--version", "--help",
	};
	struct run *r = malloc(sizeof(*r));
	size_t i;

	(void)state;
	RUN_EXIT(r, 0, CTL_BIN, "--help");
	for (i = 0; i < ARRAY_SIZE(subcommands); i++)
		assert_contains(r->out, subcommands[i]);
	assert_string_equal(r->err, "");
	free(r);
}

static void cruciblectl_version(void **state)
{
	struct run *r = malloc(sizeof(*r));

	(void)state;
	RUN_EXIT(r, 0, CTL_BIN, "--version");
	assert_int_equal(strncmp(r->out, "cruciblectl (dm-crucible) ", 26), 0);
	assert_true(strlen(r->out) > 27);
	free(r);
}

static void cruciblectl_subcommand_help(void **state)
{
	struct run *r = malloc(sizeof(*r));

	(void)state;
	RUN_EXIT(r, 0, CTL_BIN, "status", "--help");
	assert_contains(r->out, "--json");
	RUN_EXIT(r, 0, CTL_BIN, "help", "format");
	assert_contains(r->out, "--region-size");
	RUN_EXIT(r, 0, CTL_BIN, "pool", "--help");
	assert_contains(r->out, "Usage: cruciblectl [-v] pool init <device|file>");
	assert_contains(r->out, "--registry FILE");
	assert_contains(r->out, "/dev/mapper/crucible-pool-<pool>-<region>");
	RUN_EXIT(r, 0, CTL_BIN, "help", "region");
	assert_contains(r->out, "Usage: cruciblectl [-v] region create <pool> --size SIZE");
	assert_contains(r->out, "-n, --name NAME");
	RUN_EXIT(r, 0, CTL_BIN, "region", "create", "--help");
	assert_contains(r->out, "--size SIZE");
	free(r);
}

static void cruciblectl_usage_errors_exit_2(void **state)
{
	struct run *r = malloc(sizeof(*r));

	(void)state;
	RUN_FAILS(r, 2, "no command", CTL_BIN);
	RUN_FAILS(r, 2, "cruciblectl: error: unknown command 'frobnicate'",
		  CTL_BIN, "frobnicate");
	RUN_FAILS(r, 2, "'7' is not a leg",
		  CTL_BIN, "leg", "vol0", "fail", "7");
	free(r);
}

/* Pool and region usage errors: exit 2 before anything is opened. */
static void cruciblectl_pool_usage_errors_exit_2(void **state)
{
	struct run *r = malloc(sizeof(*r));

	(void)state;
	RUN_FAILS(r, 2, "cruciblectl: error: pool: missing action",
		  CTL_BIN, "pool");
	RUN_FAILS(r, 2, "pool: unknown action 'frob'",
		  CTL_BIN, "pool", "frob", "x");
	RUN_FAILS(r, 2, "pool init: expected 1 argument, got 0",
		  CTL_BIN, "pool", "init");
	RUN_FAILS(r, 2, "--name and --force are for init",
		  CTL_BIN, "pool", "show", "p0", "--force");
	RUN_FAILS(r, 2, "--all or a pool, not both",
		  CTL_BIN, "pool", "open", "p0", "--all");
	RUN_FAILS(r, 2, "region create: --size is required",
		  CTL_BIN, "region", "create", "p0");
	RUN_FAILS(r, 2, "unknown unit 'X'",
		  CTL_BIN, "region", "create", "p0", "--size", "12X");
	RUN_FAILS(r, 2, "region remove: expected 2 arguments, got 1",
		  CTL_BIN, "region", "remove", "p0");
	RUN_FAILS(r, 2, "region: unknown option '--bogus'",
		  CTL_BIN, "region", "list", "p0", "--bogus");
	assert_string_equal(r->out, "");
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
	RUN_FAILS(r, 2, spec, CTL_BIN, "create", spec);
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
	RUN_EXIT(r, 0, CTL_BIN, "format", legs[0], legs[1], legs[2], "--size",
		 "8M");
	assert_contains(r->out, "formatted");
	assert_contains(r->out, "8 regions");
	for (i = 0; i < 3; i++) {
		test_pread(legs[i], &sb, sizeof(sb), 0);
		assert_int_equal(crucible_sb_check(&sb), CRUCIBLE_SB_VALID);
	}

	RUN_FAILS(r, 4, "already formatted",
		  CTL_BIN, "format", legs[0], legs[1], legs[2], "--size", "8M");

	RUN_EXIT(r, 0, CTL_BIN, "format", "--force", legs[0], legs[1], legs[2],
		 "-s", "8M", "-r", "64K");
	assert_contains(r->out, "128 regions");

	RUN_FAILS(r, 1, "too small",
		  CTL_BIN, "format", legs[0], legs[1], legs[2], "--size", "1G",
		  "-f");

	/* A volume to be made from an image: the image's size is recorded. */
	snprintf(image, sizeof(image), "%s/image", dir);
	test_make_file(image, 6 << 20);
	RUN_EXIT(r, 0, CTL_BIN, "format", legs[0], legs[1], legs[2], "--size",
		 "8M", "--parent", image, "--force");
	assert_contains(r->out, "parent");
	assert_contains(r->out, "of 12288 sectors");
	for (i = 0; i < 3; i++) {
		test_pread(legs[i], &sb, sizeof(sb), 0);
		assert_int_equal(crucible_sb_check(&sb), CRUCIBLE_SB_VALID);
		assert_int_equal(le64_to_cpu(sb.parent_sectors), 12288);
	}
	RUN_FAILS(r, 1, "is larger than the volume (12288 > 8192 sectors)",
		  CTL_BIN, "format", legs[0], legs[1], legs[2], "--size", "4M",
		  "--parent", image, "--force");

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

/*
 * A 64 MiB sparse file for a pool, and a registry of its own through
 * $CRUCIBLE_POOLS (which the programs run here inherit).
 */
struct pool_fx {
	char *dir;
	char file[PATH_MAX + 16];	/* the pool's file, as realpath() says */
	char registry[PATH_MAX + 16];
	struct run r;
};

static int pool_setup(void **state)
{
	struct pool_fx *fx = calloc(1, sizeof(*fx));
	char real[PATH_MAX];

	if (!fx)
		return -1;
	fx->dir = test_tmpdir();
	if (!fx->dir || !realpath(fx->dir, real)) {
		free(fx);
		return -1;
	}
	snprintf(fx->file, sizeof(fx->file), "%s/pool.img", real);
	snprintf(fx->registry, sizeof(fx->registry), "%s/pools", real);
	test_make_file(fx->file, 64 << 20);
	if (setenv("CRUCIBLE_POOLS", fx->registry, 1))
		return -1;
	*state = fx;
	return 0;
}

static int pool_teardown(void **state)
{
	struct pool_fx *fx = *state;

	unsetenv("CRUCIBLE_POOLS");
	test_rm_rf(fx->dir);
	free(fx->dir);
	free(fx);
	return 0;
}

static void read_text(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	slurp(f, buf, len);
}

/* `pool init FILE --name p`, checked; its uuid into @uuid. */
static void init_pool(struct pool_fx *fx, char uuid[37])
{
	struct run *r = &fx->r;
	char want[2 * PATH_MAX];
	const char *u;

	RUN_EXIT(r, 0, CTL_BIN, "pool", "init", fx->file, "--name", "p");
	snprintf(want, sizeof(want), "pool p on %s: 64.0 MiB, block size 4096, ",
		 fx->file);
	assert_contains(r->out, want);
	assert_contains(r->out, "256 region slots");
	snprintf(want, sizeof(want), "registered in %s\n", fx->registry);
	assert_contains(r->out, want);
	assert_string_equal(r->err, "");
	u = strstr(r->out, ", uuid ");
	assert_non_null(u);
	memcpy(uuid, u + 7, 36);
	uuid[36] = '\0';
	assert_int_equal(strspn(uuid, "0123456789abcdef-"), 36);
}

static void pool_init_list_show_on_a_file(void **state)
{
	struct pool_fx *fx = *state;
	struct run *r = &fx->r;
	char uuid[37], want[2 * PATH_MAX], text[8192], other[PATH_MAX + 16];

	init_pool(fx, uuid);
	/* The registry: "<name> <path> <uuid>". */
	read_text(fx->registry, text, sizeof(text));
	snprintf(want, sizeof(want), "\np %s %s\n", fx->file, uuid);
	assert_contains(text, want);

	RUN_EXIT(r, 0, CTL_BIN, "pool", "list");
	assert_contains(r->out, "POOL");
	assert_contains(r->out, "STATE");
	snprintf(want, sizeof(want), "p                %s", fx->file);
	assert_contains(r->out, want);
	assert_contains(r->out, "62.0 MiB   62.0 MiB    0/256  ok\n");
	assert_string_equal(r->err, "");

	RUN_EXIT(r, 0, CTL_BIN, "pool", "show", "p");
	snprintf(want, sizeof(want), "pool p: 64.0 MiB on %s (file)\n", fx->file);
	assert_contains(r->out, want);
	snprintf(want, sizeof(want), "  uuid             %s\n", uuid);
	assert_contains(r->out, want);
	assert_contains(r->out, "  block size       4096\n");
	assert_contains(r->out, "  generation       1\n");
	assert_contains(r->out, "  space            62.0 MiB, 62.0 MiB free in 1 extent (largest 62.0 MiB)\n");
	assert_contains(r->out, "  regions          0 of 256\n");
	assert_null(strstr(r->out, "needs recovery"));
	assert_string_equal(r->err, "");

	/* By path (anything with a '/'), and the same pool. */
	RUN_EXIT(r, 0, CTL_BIN, "pool", "show", fx->file);
	snprintf(want, sizeof(want), "  uuid             %s\n", uuid);
	assert_contains(r->out, want);

	/* --registry wins over $CRUCIBLE_POOLS. */
	snprintf(other, sizeof(other), "%s/other", fx->dir);
	RUN_EXIT(r, 0, CTL_BIN, "pool", "list", "--registry", other);
	snprintf(want, sizeof(want), "no pools registered in %s\n", other);
	assert_string_equal(r->out, want);
	RUN_FAILS(r, 6, "no pool named p in ",
		  CTL_BIN, "pool", "show", "p", "-R", other);
}

static void pool_init_refuses_what_it_finds(void **state)
{
	struct pool_fx *fx = *state;
	struct run *r = &fx->r;
	char uuid[37], want[2 * PATH_MAX], before[8192], after[8192];
	char second[PATH_MAX + 16], small[PATH_MAX + 16], missing[PATH_MAX + 16];
	static const char zero[65536];
	char *head = malloc(sizeof(zero));

	assert_non_null(head);
	init_pool(fx, uuid);
	read_text(fx->registry, before, sizeof(before));

	/* A pool on it: exit 4, naming the pool found. */
	RUN_EXIT(r, 4, CTL_BIN, "pool", "init", fx->file);
	snprintf(want, sizeof(want),
		 "cruciblectl: error: pool init: %s carries a crucible pool 'p' (uuid %s); not touching it (use --force to overwrite)",
		 fx->file, uuid);
	assert_contains(r->err, want);
	assert_string_equal(r->out, "");
	RUN_FAILS(r, 4, "carries a crucible pool 'p'",
		  CTL_BIN, "pool", "init", fx->file, "--name", "q");
	/* Nothing changed: the same pool, the same registry. */
	read_text(fx->registry, after, sizeof(after));
	assert_string_equal(before, after);
	RUN_EXIT(r, 0, CTL_BIN, "pool", "show", "p");
	snprintf(want, sizeof(want), "  uuid             %s\n", uuid);
	assert_contains(r->out, want);

	/* A name registered for another device: exit 2, nothing written. */
	snprintf(second, sizeof(second), "%s/second.img", fx->dir);
	test_make_file(second, 64 << 20);
	RUN_EXIT(r, 2, CTL_BIN, "pool", "init", second, "--name", "p");
	snprintf(want, sizeof(want), "a pool named p is already registered at %s",
		 fx->file);
	assert_contains(r->err, want);
	test_pread(second, head, sizeof(zero), 0);
	assert_memory_equal(head, zero, sizeof(zero));
	read_text(fx->registry, after, sizeof(after));
	assert_string_equal(before, after);
	/* The same for the name init would choose itself (the file's name). */
	snprintf(second, sizeof(second), "%s/p", fx->dir);
	test_make_file(second, 64 << 20);
	RUN_FAILS(r, 2, "choose another with --name",
		  CTL_BIN, "pool", "init", second);
	test_pread(second, head, sizeof(zero), 0);
	assert_memory_equal(head, zero, sizeof(zero));
	read_text(fx->registry, after, sizeof(after));
	assert_string_equal(before, after);

	/* Too small, or missing: exit 1. */
	snprintf(small, sizeof(small), "%s/small.img", fx->dir);
	test_make_file(small, 1 << 20);
	RUN_FAILS(r, 1, "too small for a pool (1.0 MiB;",
		  CTL_BIN, "pool", "init", small, "--name", "s");
	snprintf(missing, sizeof(missing), "%s/missing.img", fx->dir);
	RUN_FAILS(r, 1, "No such file or directory",
		  CTL_BIN, "pool", "init", missing, "--name", "m");
	read_text(fx->registry, after, sizeof(after));
	assert_string_equal(before, after);

	/* --force overwrites it: a new pool (new uuid), registered again. */
	RUN_EXIT(r, 0, CTL_BIN, "pool", "init", fx->file, "--name", "p",
		 "--force");
	assert_contains(r->out, "registered in");
	assert_null(strstr(r->out, uuid));
	read_text(fx->registry, after, sizeof(after));
	assert_null(strstr(after, uuid));
	snprintf(want, sizeof(want), "\np %s ", fx->file);
	assert_contains(after, want);
	free(head);
}

static void region_create_refusals(void **state)
{
	struct pool_fx *fx = *state;
	struct run *r = &fx->r;
	char uuid[37], want[2 * PATH_MAX], blank[PATH_MAX + 16];
	char other[PATH_MAX + 16];

	init_pool(fx, uuid);

	/* No such pool: exit 6, saying where it looked. */
	RUN_EXIT(r, 6, CTL_BIN, "region", "create", "nopool", "--size", "1M");
	snprintf(want, sizeof(want), "cruciblectl: error: no pool named nopool in %s",
		 fx->registry);
	assert_contains(r->err, want);
	assert_string_equal(r->out, "");
	snprintf(blank, sizeof(blank), "%s/blank.img", fx->dir);
	test_make_file(blank, 64 << 20);
	RUN_FAILS(r, 6, "no crucible pool on it",
		  CTL_BIN, "region", "create", blank, "--size", "1M");
	snprintf(want, sizeof(want), "%s/nothing-here", fx->dir);
	RUN_EXIT(r, 6, CTL_BIN, "region", "create", want, "--size", "1M");
	RUN_EXIT(r, 6, CTL_BIN, "region", "list", "nopool");
	RUN_EXIT(r, 6, CTL_BIN, "region", "remove", "nopool", "r0");
	RUN_EXIT(r, 6, CTL_BIN, "pool", "show", "nopool");
	RUN_EXIT(r, 6, CTL_BIN, "pool", "open", "nopool");

	/* Over the free space: exit 7, saying how much is free. */
	RUN_FAILS(r, 7, "region create: pool p: not enough free space for region r0: 1.0 GiB needed, 62.0 MiB free",
		  CTL_BIN, "region", "create", "p", "--size", "1G");
	assert_string_equal(r->out, "");
	RUN_FAILS(r, 7, "not enough free space for region big: 63.0 MiB needed, 62.0 MiB free",
		  CTL_BIN, "region", "create", "p", "--size", "63M", "--name",
		  "big");

	/* The registered name now on another pool (re-made under another
	 * registry): refused, exit 6. */
	snprintf(other, sizeof(other), "%s/other", fx->dir);
	RUN_EXIT(r, 0, CTL_BIN, "pool", "init", fx->file, "--name", "p",
		 "--force", "--registry", other);
	RUN_EXIT(r, 6, CTL_BIN, "region", "create", "p", "--size", "1M");
	snprintf(want, sizeof(want), "not the registered one (uuid %s)", uuid);
	assert_contains(r->err, want);

	/* None of that changed the pool. */
	RUN_EXIT(r, 0, CTL_BIN, "pool", "show", "p", "--registry", other);
	assert_contains(r->out, "  generation       1\n");
	assert_contains(r->out, "  regions          0 of 256\n");
	assert_contains(r->out, "62.0 MiB, 62.0 MiB free");
}

/* A pool on a file: regions are allocated and freed, with no device. */
static void regions_of_a_pool_on_a_file(void **state)
{
	struct pool_fx *fx = *state;
	struct run *r = &fx->r;
	char uuid[37];

	init_pool(fx, uuid);
	RUN_EXIT(r, 0, CTL_BIN, "region", "create", "p", "--size", "8M",
		 "--name", "leg0");
	assert_string_equal(r->out, "region leg0 of pool p: 8.0 MiB in 1 extent (the pool is a file: no device)\n");
	RUN_EXIT(r, 0, CTL_BIN, "region", "create", "p", "-s", "5000");
	assert_string_equal(r->out, "region r0 of pool p: 8.0 KiB in 1 extent (the pool is a file: no device)\n");

	RUN_FAILS(r, 2, "region leg0 already exists",
		  CTL_BIN, "region", "create", "p", "--size", "1M", "--name",
		  "leg0");
	RUN_FAILS(r, 2, "'-x' is not a valid region name",
		  CTL_BIN, "region", "create", "p", "--size", "1M", "--name",
		  "-x");
	/* 62 MiB - 8 MiB - 8 KiB are left. */
	RUN_FAILS(r, 7, "54.0 MiB needed, 54.0 MiB free",
		  CTL_BIN, "region", "create", "p", "--size", "54M");

	RUN_EXIT(r, 0, CTL_BIN, "region", "list", "p");
	assert_contains(r->out, "  leg0                    8.0 MiB  1 extent    /dev/mapper/crucible-pool-p-leg0  (pool on a file)\n");
	assert_contains(r->out, "  r0                      8.0 KiB  1 extent    /dev/mapper/crucible-pool-p-r0  (pool on a file)\n");
	RUN_EXIT(r, 0, CTL_BIN, "pool", "list");
	assert_contains(r->out, "62.0 MiB   54.0 MiB    2/256  ok\n");
	RUN_EXIT(r, 0, CTL_BIN, "pool", "show", "p");
	assert_contains(r->out, "  regions          2 of 256\n");
	assert_contains(r->out, "      extent 0: blocks 512+2048\n");

	/* A pool on a file has no region devices to open. */
	RUN_FAILS(r, 1, "its regions have no devices (use a loop device)",
		  CTL_BIN, "pool", "open", "p");
	RUN_EXIT(r, 1, CTL_BIN, "pool", "close", "--all");

	RUN_EXIT(r, 0, CTL_BIN, "region", "remove", "p", "leg0");
	assert_string_equal(r->out, "region leg0 of pool p removed\n");
	RUN_FAILS(r, 6, "pool p has no region named leg0",
		  CTL_BIN, "region", "remove", "p", "leg0");
	RUN_EXIT(r, 0, CTL_BIN, "region", "remove", "p", "r0");
	RUN_EXIT(r, 0, CTL_BIN, "region", "list", "p");
	assert_string_equal(r->out, "pool p has no regions\n");
	RUN_EXIT(r, 0, CTL_BIN, "pool", "show", "p");
	assert_contains(r->out, "62.0 MiB, 62.0 MiB free in 1 extent");
	assert_contains(r->out, "  regions          0 of 256\n");

	/* With no regions, open and close have nothing to do. */
	RUN_EXIT(r, 0, CTL_BIN, "pool", "open", "p");
	assert_string_equal(r->out, "pool p: 0 region devices active\n");
	RUN_EXIT(r, 0, CTL_BIN, "pool", "close", "--all");
	assert_string_equal(r->out, "pool p: 0 region devices removed\n");
}

/* pool list: a pool another process holds is busy, a missing one unusable. */
static void pool_list_busy_and_unusable(void **state)
{
	struct pool_fx *fx = *state;
	struct run *r = &fx->r;
	char uuid[37], gone[PATH_MAX + 16], want[2 * PATH_MAX];
	int fd;

	init_pool(fx, uuid);
	snprintf(gone, sizeof(gone), "%s/gone.img", fx->dir);
	test_make_file(gone, 64 << 20);
	RUN_EXIT(r, 0, CTL_BIN, "pool", "init", gone, "--name", "gone");
	assert_int_equal(unlink(gone), 0);

	fd = open(fx->file, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	RUN(r, CTL_BIN, "pool", "list");
	close(fd);
	assert_int_equal(r->status, 0);
	snprintf(want, sizeof(want), "p                %s", fx->file);
	assert_contains(r->out, want);
	assert_contains(r->out, "-          -        -  busy\n");
	snprintf(want, sizeof(want), "gone             %s", gone);
	assert_contains(r->out, want);
	assert_contains(r->out, "-  unusable\n");

	RUN_EXIT(r, 0, CTL_BIN, "pool", "list");
	assert_contains(r->out, "0/256  ok\n");
	RUN_FAILS(r, 6, "cannot open: No such file or directory",
		  CTL_BIN, "pool", "show", "gone");
}

static void agent_help_and_version(void **state)
{
	struct run *r = malloc(sizeof(*r));

	(void)state;
	RUN_EXIT(r, 0, AGENT_BIN, "--help");
	assert_contains(r->out, "--foreground");
	assert_contains(r->out, "--syslog");
	assert_contains(r->out, "--state-dir");
	assert_contains(r->out, "--no-reconcile");
	assert_contains(r->out, "--event-rcvbuf");
	assert_contains(r->out, "--repair-throttle");
	assert_contains(r->out, "--version");
	RUN_EXIT(r, 0, AGENT_BIN, "--version");
	assert_int_equal(strncmp(r->out, "crucible-agent (dm-crucible) ", 29), 0);
	free(r);
}

static void agent_usage_error_exits_2(void **state)
{
	struct run *r = malloc(sizeof(*r));

	(void)state;
	RUN_FAILS(r, 2, "crucible-agent: error: unknown option '--bogus'",
		  AGENT_BIN, "--bogus");
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cruciblectl_help_lists_every_subcommand),
		cmocka_unit_test(cruciblectl_version),
		cmocka_unit_test(cruciblectl_subcommand_help),
		cmocka_unit_test(cruciblectl_usage_errors_exit_2),
		cmocka_unit_test(cruciblectl_pool_usage_errors_exit_2),
		cmocka_unit_test(cruciblectl_create_names_the_bad_field),
		cmocka_unit_test(cruciblectl_format_on_files),
		cmocka_unit_test(cruciblectl_netlink_commands_name_what_is_missing),
		cmocka_unit_test_setup_teardown(pool_init_list_show_on_a_file,
						pool_setup, pool_teardown),
		cmocka_unit_test_setup_teardown(pool_init_refuses_what_it_finds,
						pool_setup, pool_teardown),
		cmocka_unit_test_setup_teardown(region_create_refusals,
						pool_setup, pool_teardown),
		cmocka_unit_test_setup_teardown(regions_of_a_pool_on_a_file,
						pool_setup, pool_teardown),
		cmocka_unit_test_setup_teardown(pool_list_busy_and_unusable,
						pool_setup, pool_teardown),
		cmocka_unit_test(agent_help_and_version),
		cmocka_unit_test(agent_usage_error_exits_2),
	};

	return cmocka_run_group_tests_name("programs", tests, NULL, NULL);
}

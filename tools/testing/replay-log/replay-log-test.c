// SPDX-License-Identifier: GPL-2.0
/*
 * Self-test for replay-log, runnable on a host without dm-log-writes.
 *
 * Each case builds a synthetic log in memory exactly as
 * drivers/md/dm-log-writes.c lays it out (its own encoder, independent of
 * the tool's decoder), runs the replay-log binary on it, and checks the
 * output, the exit status and the replayed file against a model: an
 * in-memory image to which the same writes and discards were applied.
 *
 * Usage: replay-log-test PATH-TO-replay-log
 * Prints "ok - <case>" or "not ok - <case>" per case; exits 1 on failure.
 * Block-device cases use a loop device when run as root with losetup
 * available, and are reported as skipped otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* On-disk constants, as in drivers/md/dm-log-writes.c. */
#define FLUSH		(1ULL << 0)
#define FUA		(1ULL << 1)
#define DISCARD		(1ULL << 2)
#define MARK		(1ULL << 3)
#define METADATA	(1ULL << 4)
#define LOG_MAGIC	0x6a736677736872ULL
#define LOG_VERSION	1ULL

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define DEV_BYTES	(256 * 1024)
#define MAX_OPS		64
#define OUT_MAX		(64 * 1024)

static const char *tool;
static char tmpdir[] = "/tmp/replay-log-test.XXXXXX";
static int failed_cases;
static bool case_failed;

/* ---- reporting ---------------------------------------------------------- */

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void fail(const char *fmt, ...)
{
	va_list ap;

	case_failed = true;
	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

#define expect(cond, ...) do { if (!(cond)) fail(__VA_ARGS__); } while (0)

static void die(const char *what)
{
	fprintf(stderr, "replay-log-test: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void *xmalloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);

	if (!p)
		die("calloc");
	return p;
}

/* The path of a file in the scratch directory; stable for each name. */
static const char *path_in_tmp(const char *name)
{
	static struct { const char *name; char path[512]; } paths[16];
	size_t i;

	for (i = 0; i < 16 && paths[i].name; i++)
		if (!strcmp(paths[i].name, name))
			return paths[i].path;
	if (i == 16) {
		fprintf(stderr, "replay-log-test: too many scratch files\n");
		exit(1);
	}
	paths[i].name = name;
	snprintf(paths[i].path, sizeof(paths[i].path), "%s/%s", tmpdir, name);
	return paths[i].path;
}

/* ---- a deterministic random source --------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

/* ---- scenario: the operations a log records, and the model ---------------- */

struct op {
	uint64_t sector;	/* log sectorsize units */
	uint64_t nr_sectors;
	uint64_t flags;
	char mark[64];
	unsigned char *data;	/* nr_sectors * sectorsize bytes (writes) */
};

struct scenario {
	uint32_t ss;
	size_t nr_ops;
	struct op ops[MAX_OPS];
};

static void sc_init(struct scenario *sc, uint32_t ss)
{
	memset(sc, 0, sizeof(*sc));
	sc->ss = ss;
}

static void sc_free(struct scenario *sc)
{
	size_t i;

	for (i = 0; i < sc->nr_ops; i++)
		free(sc->ops[i].data);
	sc->nr_ops = 0;
}

static struct op *sc_add(struct scenario *sc, uint64_t sector, uint64_t nr,
			 uint64_t flags)
{
	struct op *op;

	if (sc->nr_ops == MAX_OPS) {
		fprintf(stderr, "replay-log-test: too many ops\n");
		exit(1);
	}
	op = &sc->ops[sc->nr_ops++];
	memset(op, 0, sizeof(*op));
	op->sector = sector;
	op->nr_sectors = nr;
	op->flags = flags;
	return op;
}

/* A write (optionally with FLUSH/FUA/METADATA) of random, distinct data. */
static void sc_write(struct scenario *sc, uint64_t sector, uint64_t nr, uint64_t flags)
{
	struct op *op = sc_add(sc, sector, nr, flags);
	size_t i, len = nr * sc->ss;

	op->data = xmalloc(len);
	for (i = 0; i < len; i++)
		op->data[i] = (unsigned char)(rnd() | 1);	/* never zero */
}

static void sc_flush(struct scenario *sc)
{
	sc_add(sc, 0, 0, FLUSH);
}

static void sc_discard(struct scenario *sc, uint64_t sector, uint64_t nr)
{
	sc_add(sc, sector, nr, DISCARD);
}

static void sc_mark(struct scenario *sc, const char *name)
{
	struct op *op = sc_add(sc, 0, 0, MARK);

	snprintf(op->mark, sizeof(op->mark), "%s", name);
}

/* The initial content of every replay target: a pattern with no zero byte. */
static unsigned char initial_byte(size_t i)
{
	return (unsigned char)(0x80 | ((i * 37 + i / 512) & 0x7f));
}

static const struct scenario no_ops = { .ss = 512 };

static unsigned char *model(const struct scenario *sc, size_t start, size_t end)
{
	unsigned char *img = xmalloc(DEV_BYTES);
	size_t i;

	for (i = 0; i < DEV_BYTES; i++)
		img[i] = initial_byte(i);
	for (i = start; i < end; i++) {
		const struct op *op = &sc->ops[i];
		size_t off = op->sector * sc->ss, len = op->nr_sectors * sc->ss;

		if (op->flags & MARK)
			continue;
		if (off >= DEV_BYTES)
			continue;
		if (len > DEV_BYTES - off)
			len = DEV_BYTES - off;	/* a file does not grow by a discard */
		if (op->flags & DISCARD)
			memset(img + off, 0, len);
		else if (len)
			memcpy(img + off, op->data, len);
	}
	return img;
}

/* ---- the encoder: dm-log-writes' on-disk layout --------------------------- */

struct logbuf {
	unsigned char *p;
	size_t len;
};

static void put_le64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put_le32(unsigned char *p, uint32_t v)
{
	int i;

	for (i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/*
 * Lay the scenario out as dm-log-writes does: super block in sector 0,
 * then per entry one header sector (struct log_write_entry + mark text)
 * followed by the written data, none for discards and marks.  The super
 * block claims nr_entries entries (normally sc->nr_ops).
 */
static struct logbuf encode(const struct scenario *sc, uint64_t nr_entries)
{
	struct logbuf lb;
	size_t i, off, ss = sc->ss;

	lb.len = ss;
	for (i = 0; i < sc->nr_ops; i++) {
		lb.len += ss;
		if (!(sc->ops[i].flags & DISCARD))
			lb.len += sc->ops[i].nr_sectors * ss;
	}
	lb.p = xmalloc(lb.len);
	put_le64(lb.p, LOG_MAGIC);
	put_le64(lb.p + 8, LOG_VERSION);
	put_le64(lb.p + 16, nr_entries);
	put_le32(lb.p + 24, sc->ss);

	off = ss;
	for (i = 0; i < sc->nr_ops; i++) {
		const struct op *op = &sc->ops[i];
		size_t mark_len = (op->flags & MARK) ? strlen(op->mark) : 0;

		put_le64(lb.p + off, op->sector);
		put_le64(lb.p + off + 8, op->nr_sectors);
		put_le64(lb.p + off + 16, op->flags);
		put_le64(lb.p + off + 24, mark_len);
		memcpy(lb.p + off + 32, op->mark, mark_len);
		off += ss;
		if (!(op->flags & DISCARD) && op->nr_sectors) {
			memcpy(lb.p + off, op->data, op->nr_sectors * ss);
			off += op->nr_sectors * ss;
		}
	}
	return lb;
}

static void write_file(const char *path, const void *p, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, p, len) != (ssize_t)len || close(fd))
		die(path);
}

static void write_log(const char *path, const struct scenario *sc)
{
	struct logbuf lb = encode(sc, sc->nr_ops);

	write_file(path, lb.p, lb.len);
	free(lb.p);
}

static void make_target(const char *path)
{
	unsigned char *img = model(&no_ops, 0, 0);

	write_file(path, img, DEV_BYTES);
	free(img);
}

/* Compare a file with the expected image; report the first difference. */
static bool same_content(const char *path, const unsigned char *want, size_t len)
{
	unsigned char *got = xmalloc(len + 1);
	int fd = open(path, O_RDONLY);
	ssize_t n;
	size_t i;
	bool ok = true;

	if (fd < 0)
		die(path);
	n = pread(fd, got, len + 1, 0);
	close(fd);
	if (n != (ssize_t)len) {
		fail("%s: %zd bytes, want %zu", path, n, len);
		ok = false;
	} else {
		for (i = 0; i < len; i++) {
			if (got[i] != want[i]) {
				fail("%s: byte %zu (sector %zu) is 0x%02x, want 0x%02x",
				     path, i, i / 512, got[i], want[i]);
				ok = false;
				break;
			}
		}
	}
	free(got);
	return ok;
}

/* ---- running the tool ---------------------------------------------------- */

struct result {
	int status;		/* exit status, or -1 if killed */
	char out[OUT_MAX];
	char err[OUT_MAX];
};

static void slurp(const char *path, char *buf)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		die(path);
	n = read(fd, buf, OUT_MAX - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = '\0';
}

static void run_argv(struct result *r, char **argv)
{
	posix_spawn_file_actions_t fa;
	const char *out = path_in_tmp("stdout"), *err = path_in_tmp("stderr");
	pid_t pid;
	int st, e;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	e = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (e) {
		errno = e;
		die(argv[0]);
	}
	if (waitpid(pid, &st, 0) < 0)
		die("waitpid");
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	slurp(out, r->out);
	slurp(err, r->err);
}

/* run(r, "--log", path, ..., NULL): replay-log with these arguments. */
static void run(struct result *r, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;

	argv[argc++] = (char *)tool;
	va_start(ap, r);
	while (argc < 31 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	run_argv(r, argv);
}

static bool exited(const struct result *r, int want)
{
	if (r->status == want)
		return true;
	fail("exit status %d, want %d; stderr: %s", r->status, want, r->err);
	return false;
}

static void expect_output(const struct result *r, const char *want)
{
	expect(!strcmp(r->out, want), "stdout:\n%s# want:\n%s", r->out, want);
}

static void expect_error(const struct result *r, int status, const char *needle)
{
	if (exited(r, status))
		expect(strstr(r->err, needle), "stderr lacks '%s': %s", needle, r->err);
}

static const char *num(uint64_t v)
{
	static char buf[8][24];
	static int next;
	char *p = buf[next++ % 8];

	snprintf(p, sizeof(buf[0]), "%" PRIu64, v);
	return p;
}

/* ---- scenarios ----------------------------------------------------------- */

/*
 * A small history with every kind of entry, the shape dm-log-writes logs:
 * writes appear in batches before the FLUSH that made them durable.
 *   0 write 8@16      1 write 8@24      2 FLUSH          3 MARK "start"
 *   4 FUA|META 1@0    5 write 4@16      6 DISCARD 8@24   7 FLUSH
 *   8 MARK "c1"       9 write 16@40    10 FLUSH+data 2@0 11 MARK "c1"
 *  12 write 8@400    13 MARK "dm-log-writes-end"
 */
static void basic_scenario(struct scenario *sc)
{
	sc_init(sc, 512);
	sc_write(sc, 16, 8, 0);
	sc_write(sc, 24, 8, 0);
	sc_flush(sc);
	sc_mark(sc, "start");
	sc_write(sc, 0, 1, FUA | METADATA);
	sc_write(sc, 16, 4, 0);
	sc_discard(sc, 24, 8);
	sc_flush(sc);
	sc_mark(sc, "c1");
	sc_write(sc, 40, 16, 0);
	sc_write(sc, 0, 2, FLUSH);
	sc_mark(sc, "c1");
	sc_write(sc, 400, 8, 0);
	sc_mark(sc, "dm-log-writes-end");
}

/* Log + target files for a scenario; returns the log path. */
static const char *setup(const struct scenario *sc, const char **target)
{
	const char *log = path_in_tmp("log");

	write_log(log, sc);
	*target = path_in_tmp("target");
	make_target(*target);
	return log;
}

static bool replay_matches(const struct scenario *sc, const char *log,
			   const char *target, size_t start, size_t end,
			   const char *how)
{
	unsigned char *want = model(sc, start, end);
	struct result r;
	bool ok;

	make_target(target);
	run(&r, "--log", log, "--replay", target, "--start-entry", num(start),
	    "--limit", num(end), NULL);
	ok = exited(&r, 0) && same_content(target, want, DEV_BYTES);
	if (!ok)
		fail("%s: replay of entries %zu..%zu", how, start, end);
	free(want);
	return ok;
}

/* ---- cases --------------------------------------------------------------- */

static void test_list_shows_every_entry(void)
{
	struct scenario sc;
	const char *target, *log;
	struct result r;

	basic_scenario(&sc);
	log = setup(&sc, &target);
	run(&r, "--log", log, "--list", NULL);
	if (exited(&r, 0))
		expect_output(&r,
			      "0 16 8 -\n"
			      "1 24 8 -\n"
			      "2 0 0 FLUSH\n"
			      "3 0 0 MARK start\n"
			      "4 0 1 FUA|METADATA\n"
			      "5 16 4 -\n"
			      "6 24 8 DISCARD\n"
			      "7 0 0 FLUSH\n"
			      "8 0 0 MARK c1\n"
			      "9 40 16 -\n"
			      "10 0 2 FLUSH\n"
			      "11 0 0 MARK c1\n"
			      "12 400 8 -\n"
			      "13 0 0 MARK dm-log-writes-end\n");
	run(&r, "--log", log, "--list", "--start-entry", "9", "--limit", "11", NULL);
	if (exited(&r, 0))
		expect_output(&r, "9 40 16 -\n10 0 2 FLUSH\n");
	sc_free(&sc);
}

static void test_list_escapes_odd_mark_text(void)
{
	struct scenario sc;
	const char *target, *log;
	struct result r;

	sc_init(&sc, 512);
	sc_mark(&sc, "a b\\c\x01");
	log = setup(&sc, &target);
	run(&r, "--log", log, "--list", NULL);
	if (exited(&r, 0))
		expect_output(&r, "0 0 0 MARK a\\x20b\\x5cc\\x01\n");
	sc_free(&sc);
}

static void test_replay_whole_log(void)
{
	struct scenario sc;
	const char *target, *log;
	unsigned char *want;
	struct result r;

	basic_scenario(&sc);
	log = setup(&sc, &target);
	want = model(&sc, 0, sc.nr_ops);
	run(&r, "--log", log, "--replay", target, NULL);
	if (exited(&r, 0))
		same_content(target, want, DEV_BYTES);
	expect(!r.out[0], "replay printed: %s", r.out);
	free(want);
	sc_free(&sc);
}

static void test_replay_every_prefix(void)
{
	struct scenario sc;
	const char *target, *log;
	size_t n;

	basic_scenario(&sc);
	log = setup(&sc, &target);
	for (n = 0; n <= sc.nr_ops && !case_failed; n++)
		replay_matches(&sc, log, target, 0, n, "prefix");
	sc_free(&sc);
}

static void test_start_entry_applies_only_later_entries(void)
{
	struct scenario sc;
	const char *target, *log;
	size_t s;

	basic_scenario(&sc);
	log = setup(&sc, &target);
	for (s = 0; s <= sc.nr_ops && !case_failed; s++)
		replay_matches(&sc, log, target, s, sc.nr_ops, "suffix");
	replay_matches(&sc, log, target, 4, 10, "middle");
	sc_free(&sc);
}

static void test_end_mark_replays_through_the_mark(void)
{
	struct scenario sc;
	const char *target, *log;
	unsigned char *want;
	struct result r;

	basic_scenario(&sc);
	log = setup(&sc, &target);

	/* First "c1" is entry 8: entries 0..8, not the write at entry 9. */
	want = model(&sc, 0, 9);
	run(&r, "--log", log, "--replay", target, "--end-mark", "c1", NULL);
	if (exited(&r, 0))
		same_content(target, want, DEV_BYTES);
	free(want);

	/* Searching from entry 9 finds the second "c1" (entry 11). */
	make_target(target);
	want = model(&sc, 9, 12);
	run(&r, "--log", log, "--replay", target, "--start-entry", "9",
	    "--end-mark", "c1", NULL);
	if (exited(&r, 0))
		same_content(target, want, DEV_BYTES);
	free(want);
	sc_free(&sc);
}

static void test_find_prints_the_mark_index(void)
{
	struct scenario sc;
	const char *target, *log;
	struct result r;

	basic_scenario(&sc);
	log = setup(&sc, &target);
	run(&r, "--log", log, "--find", "--end-mark", "start", NULL);
	if (exited(&r, 0))
		expect_output(&r, "3\n");
	run(&r, "--log", log, "--find", "--end-mark", "c1", NULL);
	if (exited(&r, 0))
		expect_output(&r, "8\n");
	run(&r, "--log", log, "--find", "--end-mark", "c1", "--start-entry", "9", NULL);
	if (exited(&r, 0))
		expect_output(&r, "11\n");
	run(&r, "--log", log, "--find", "--end-mark", "dm-log-writes-end", NULL);
	if (exited(&r, 0))
		expect_output(&r, "13\n");
	/* A mark name is matched whole, not as a prefix. */
	run(&r, "--log", log, "--find", "--end-mark", "c", NULL);
	expect_error(&r, 1, "mark 'c' not found");
	sc_free(&sc);
}

static void test_flushes_lists_flush_and_fua_entries(void)
{
	struct scenario sc;
	const char *target, *log;
	struct result r;

	basic_scenario(&sc);
	log = setup(&sc, &target);
	run(&r, "--log", log, "--flushes", NULL);
	if (exited(&r, 0))
		expect_output(&r, "2\n4\n7\n10\n");
	/* What a crash test asks: the last flush before mark c1 ... */
	run(&r, "--log", log, "--flushes", "--end-mark", "c1", NULL);
	if (exited(&r, 0))
		expect_output(&r, "2\n4\n7\n");
	/* ... and the first flush after it. */
	run(&r, "--log", log, "--flushes", "--start-entry", "9", NULL);
	if (exited(&r, 0))
		expect_output(&r, "10\n");
	run(&r, "--log", log, "--flushes", "--limit", "2", NULL);
	if (exited(&r, 0))
		expect_output(&r, "");
	sc_free(&sc);
}

static void test_sectorsize_4096_log(void)
{
	struct scenario sc;
	const char *target, *log;
	struct result r;
	size_t n;

	/* Units of 4 KiB on disk, printed as 512-byte sectors. */
	sc_init(&sc, 4096);
	sc_write(&sc, 2, 3, 0);
	sc_discard(&sc, 3, 1);
	sc_flush(&sc);
	sc_mark(&sc, "m");
	sc_write(&sc, 60, 2, FUA);
	log = setup(&sc, &target);
	run(&r, "--log", log, "--list", NULL);
	if (exited(&r, 0))
		expect_output(&r,
			      "0 16 24 -\n"
			      "1 24 8 DISCARD\n"
			      "2 0 0 FLUSH\n"
			      "3 0 0 MARK m\n"
			      "4 480 16 FUA\n");
	for (n = 0; n <= sc.nr_ops && !case_failed; n++)
		replay_matches(&sc, log, target, 0, n, "4096-byte sectors");
	sc_free(&sc);
}

static void test_discard_replays_as_zeroes(void)
{
	struct scenario sc;
	const char *target, *log;
	unsigned char *want;
	struct result r;
	size_t i;

	sc_init(&sc, 512);
	sc_discard(&sc, 100, 300);
	log = setup(&sc, &target);
	want = model(&sc, 0, 1);
	for (i = 100 * 512; i < 400 * 512; i++)
		expect(!want[i], "model did not zero byte %zu", i);
	run(&r, "--log", log, "--replay", target, NULL);
	if (exited(&r, 0))
		same_content(target, want, DEV_BYTES);
	/* --discard on a regular file falls back to writing zeroes. */
	make_target(target);
	run(&r, "--log", log, "--replay", target, "--discard", NULL);
	if (exited(&r, 0))
		same_content(target, want, DEV_BYTES);
	free(want);
	sc_free(&sc);
}

static void test_discard_past_the_end_of_a_file(void)
{
	struct scenario sc;
	const char *target, *log;
	unsigned char *want;
	struct result r;
	struct stat st;

	/*
	 * A discard of 512 TiB (a damaged log could claim that much) punches
	 * the rest of the file and neither grows it nor takes long.
	 */
	sc_init(&sc, 512);
	sc_discard(&sc, 100, 1ULL << 40);
	sc_discard(&sc, DEV_BYTES, 8);
	log = setup(&sc, &target);
	want = model(&sc, 0, sc.nr_ops);
	run(&r, "--log", log, "--replay", target, NULL);
	if (exited(&r, 0))
		same_content(target, want, DEV_BYTES);
	expect(!stat(target, &st) && st.st_size == DEV_BYTES, "target size changed");
	free(want);
	sc_free(&sc);
}

static void test_large_write_spans_copy_chunks(void)
{
	struct scenario sc;
	const char *target, *log;

	unsigned char *got = xmalloc(641 * 4096 + 1);
	struct result r;
	int fd;

	/*
	 * 2.5 MiB in one entry (the tool copies in 1 MiB chunks), past the
	 * end of the target file, which grows as a file written there would.
	 */
	sc_init(&sc, 4096);
	sc_write(&sc, 1, 640, FUA);
	sc_write(&sc, 0, 1, 0);
	log = setup(&sc, &target);
	run(&r, "--log", log, "--replay", target, NULL);
	if (exited(&r, 0)) {
		fd = open(target, O_RDONLY);
		if (fd < 0 || pread(fd, got, 641 * 4096 + 1, 0) != 641 * 4096)
			fail("target is not 641 blocks long after the replay");
		else if (memcmp(got, sc.ops[1].data, 4096) ||
			 memcmp(got + 4096, sc.ops[0].data, 640 * 4096))
			fail("large write replayed wrong");
		if (fd >= 0)
			close(fd);
	}
	free(got);
	sc_free(&sc);
}

static void test_super_block_entry_count_bounds_the_log(void)
{
	struct scenario sc;
	struct logbuf lb;
	const char *target, *log;
	unsigned char *want;
	struct result r;

	/*
	 * dm-log-writes updates nr_entries only on FUA, marks and at the end:
	 * entries past it are not part of the log (and may be stale).
	 */
	basic_scenario(&sc);
	log = setup(&sc, &target);
	lb = encode(&sc, 5);
	write_file(log, lb.p, lb.len);
	free(lb.p);
	run(&r, "--log", log, "--list", NULL);
	if (exited(&r, 0))
		expect_output(&r, "0 16 8 -\n1 24 8 -\n2 0 0 FLUSH\n3 0 0 MARK start\n"
			      "4 0 1 FUA|METADATA\n");
	want = model(&sc, 0, 5);
	run(&r, "--log", log, "--replay", target, NULL);
	if (exited(&r, 0))
		same_content(target, want, DEV_BYTES);
	run(&r, "--log", log, "--find", "--end-mark", "c1", NULL);
	expect_error(&r, 1, "not found");
	free(want);
	sc_free(&sc);
}

static void test_empty_log(void)
{
	struct scenario sc;
	const char *target, *log;
	unsigned char *want;
	struct result r;

	sc_init(&sc, 512);
	log = setup(&sc, &target);
	want = model(&sc, 0, 0);
	run(&r, "--log", log, "--list", NULL);
	if (exited(&r, 0))
		expect_output(&r, "");
	run(&r, "--log", log, "--replay", target, NULL);
	if (exited(&r, 0))
		same_content(target, want, DEV_BYTES);
	free(want);
	sc_free(&sc);
}

static void test_bad_magic_is_refused(void)
{
	struct scenario sc;
	struct logbuf lb;
	const char *target, *log;
	unsigned char *want;
	struct result r;

	basic_scenario(&sc);
	log = setup(&sc, &target);
	lb = encode(&sc, sc.nr_ops);
	lb.p[0] ^= 0xff;
	write_file(log, lb.p, lb.len);
	run(&r, "--log", log, "--replay", target, NULL);
	expect_error(&r, 1, "bad magic");
	want = model(&sc, 0, 0);
	same_content(target, want, DEV_BYTES);
	run(&r, "--log", log, "--list", NULL);
	expect_error(&r, 1, "bad magic");
	free(want);
	free(lb.p);
	sc_free(&sc);
}

static void test_bad_super_fields_are_refused(void)
{
	struct scenario sc;
	struct logbuf lb;
	const char *target, *log;
	struct result r;

	basic_scenario(&sc);
	log = setup(&sc, &target);
	lb = encode(&sc, sc.nr_ops);

	put_le64(lb.p + 8, 2);
	write_file(log, lb.p, lb.len);
	run(&r, "--log", log, "--list", NULL);
	expect_error(&r, 1, "unsupported log version 2");

	put_le64(lb.p + 8, LOG_VERSION);
	put_le32(lb.p + 24, 1000);
	write_file(log, lb.p, lb.len);
	run(&r, "--log", log, "--list", NULL);
	expect_error(&r, 1, "bad sectorsize 1000");

	write_file(log, lb.p, 20);
	run(&r, "--log", log, "--list", NULL);
	expect_error(&r, 1, "truncated log");
	free(lb.p);
	sc_free(&sc);
}

static void test_truncated_log_is_refused_before_any_write(void)
{
	struct scenario sc;
	struct logbuf lb;
	const char *target, *log;
	unsigned char *want;
	struct result r;

	basic_scenario(&sc);
	log = setup(&sc, &target);
	lb = encode(&sc, sc.nr_ops);
	want = model(&sc, 0, 0);

	/* Cut inside the data of entry 12 (the last write). */
	write_file(log, lb.p, lb.len - 512 - 100);
	run(&r, "--log", log, "--replay", target, NULL);
	expect_error(&r, 1, "truncated log: entry 12 data");
	same_content(target, want, DEV_BYTES);
	run(&r, "--log", log, "--list", NULL);
	expect_error(&r, 1, "truncated log");

	/* Cut inside the header of entry 13 (the end mark). */
	write_file(log, lb.p, lb.len - 300);
	run(&r, "--log", log, "--replay", target, "--end-mark", "dm-log-writes-end", NULL);
	expect_error(&r, 1, "truncated log: entry 13 header");
	same_content(target, want, DEV_BYTES);

	/* The intact part still replays. */
	free(want);
	replay_matches(&sc, log, target, 0, 12, "prefix of a truncated log");
	free(lb.p);
	sc_free(&sc);
}

static void test_corrupt_entries_are_refused(void)
{
	struct scenario sc;
	struct logbuf lb;
	const char *target, *log;
	struct result r;
	/* super, entry 0 + 8 sectors, entry 1 + 8 sectors, entry 2 (FLUSH) */
	size_t hdr3 = 512 + (512 + 8 * 512) * 2 + 512;

	basic_scenario(&sc);
	log = setup(&sc, &target);
	lb = encode(&sc, sc.nr_ops);
	expect(lb.p[hdr3 + 16] == MARK && !memcmp(lb.p + hdr3 + 32, "start", 5),
	       "test layout: entry 3 is not where expected");

	put_le64(lb.p + hdr3 + 16, MARK | (1ULL << 9));
	write_file(log, lb.p, lb.len);
	run(&r, "--log", log, "--list", NULL);
	expect_error(&r, 1, "entry 3 at byte 10240: unknown flags 0x208");

	put_le64(lb.p + hdr3 + 16, MARK);
	put_le64(lb.p + hdr3 + 24, 600);
	write_file(log, lb.p, lb.len);
	run(&r, "--log", log, "--list", NULL);
	expect_error(&r, 1, "entry 3: malformed mark");

	put_le64(lb.p + hdr3 + 16, 0);
	put_le64(lb.p + hdr3 + 24, 5);
	write_file(log, lb.p, lb.len);
	run(&r, "--log", log, "--list", NULL);
	expect_error(&r, 1, "entry 3: data_len 5 on a non-mark entry");

	put_le64(lb.p + hdr3 + 24, 0);
	put_le64(lb.p + hdr3, UINT64_MAX / 256);
	put_le64(lb.p + hdr3 + 16, DISCARD);
	put_le64(lb.p + hdr3 + 8, 1);
	write_file(log, lb.p, lb.len);
	run(&r, "--log", log, "--list", NULL);
	expect_error(&r, 1, "overflows");
	free(lb.p);
	sc_free(&sc);
}

static void test_range_errors(void)
{
	struct scenario sc;
	const char *target, *log;
	struct result r;

	basic_scenario(&sc);
	log = setup(&sc, &target);
	run(&r, "--log", log, "--replay", target, "--limit", "15", NULL);
	expect_error(&r, 1, "--limit 15 is beyond the end of the log (14 entries)");
	run(&r, "--log", log, "--replay", target, "--end-mark", "nope", NULL);
	expect_error(&r, 1, "mark 'nope' not found");
	run(&r, "--log", log, "--list", "--start-entry", "5", "--limit", "4", NULL);
	expect_error(&r, 1, "--start-entry 5 is past the end");
	/* A mark before the start entry is not found. */
	run(&r, "--log", log, "--find", "--end-mark", "start", "--start-entry", "4", NULL);
	expect_error(&r, 1, "not found");
	/* The full range is allowed. */
	run(&r, "--log", log, "--list", "--start-entry", "14", "--limit", "14", NULL);
	if (exited(&r, 0))
		expect_output(&r, "");
	sc_free(&sc);
}

static void test_missing_files_are_errors(void)
{
	struct scenario sc;
	const char *target, *log, *nowhere = path_in_tmp("does-not-exist");
	struct result r;
	struct stat st;

	basic_scenario(&sc);
	log = setup(&sc, &target);
	run(&r, "--log", nowhere, "--list", NULL);
	expect_error(&r, 1, "No such file or directory");
	run(&r, "--log", log, "--replay", nowhere, NULL);
	expect_error(&r, 1, "No such file or directory");
	expect(stat(nowhere, &st) < 0, "replay created its target");
	run(&r, "--log", tmpdir, "--list", NULL);
	expect_error(&r, 1, "not a regular file or block device");
	sc_free(&sc);
}

static void test_usage_errors_exit_2(void)
{
	static const char *const cases[][8] = {
		{ NULL },
		{ "--list", NULL },
		{ "--log", "L", NULL },
		{ "--log", "L", "--list", "--flushes", NULL },
		{ "--log", "L", "--replay", "D", "--list", NULL },
		{ "--log", "L", "--find", NULL },
		{ "--log", "L", "--list", "--limit", "3", "--end-mark", "m", NULL },
		{ "--log", "L", "--list", "--limit", "-1", NULL },
		{ "--log", "L", "--list", "--limit", "3x", NULL },
		{ "--log", "L", "--list", "--start-entry", "", NULL },
		{ "--log", "L", "--list", "--discard", NULL },
		{ "--log", "L", "--list", "--bogus", NULL },
		{ "--log", "L", "--list", "extra", NULL },
		{ "--log", NULL },
		{ "--log", "L", "-x", NULL },
	};
	size_t i, j;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		char *argv[10] = { (char *)tool };
		struct result r;

		for (j = 0; cases[i][j]; j++)
			argv[j + 1] = (char *)cases[i][j];
		run_argv(&r, argv);
		if (!exited(&r, 2))
			fail("usage case %zu (%s %s %s ...) not refused", i,
			     cases[i][0] ? cases[i][0] : "", j > 1 ? cases[i][1] : "",
			     j > 2 ? cases[i][2] : "");
		else
			expect(strstr(r.err, "--help"), "case %zu: no hint: %s", i, r.err);
	}
}

static void test_help_and_version(void)
{
	struct result r;

	run(&r, "--help", NULL);
	if (exited(&r, 0))
		expect(strstr(r.out, "--replay DEV") && strstr(r.out, "--flushes") &&
		       strstr(r.out, "--end-mark") && strstr(r.out, "--start-entry"),
		       "--help does not list every option: %s", r.out);
	run(&r, "--version", NULL);
	if (exited(&r, 0))
		expect(!strncmp(r.out, "replay-log ", 11), "--version: %s", r.out);
}

/*
 * Random histories against the model: random writes, discards, flushes,
 * FUAs and marks in both sector sizes, replayed over random ranges.
 */
static void test_random_logs_match_the_model(void)
{
	struct scenario sc;
	const char *target, *log;
	int round, k;

	for (round = 0; round < 40 && !case_failed; round++) {
		uint32_t ss = (round & 1) ? 4096 : 512;
		uint64_t dev_sectors = DEV_BYTES / ss;
		size_t nr = 1 + rnd_below(40);

		sc_init(&sc, ss);
		while (sc.nr_ops < nr) {
			uint64_t len = 1 + rnd_below(ss == 512 ? 24 : 4);
			uint64_t sector = rnd_below(dev_sectors - len + 1);
			char name[16];

			switch (rnd_below(8)) {
			case 0:
				sc_flush(&sc);
				break;
			case 1:
				snprintf(name, sizeof(name), "m%d", (int)rnd_below(4));
				sc_mark(&sc, name);
				break;
			case 2:
				sc_discard(&sc, sector, len);
				break;
			case 3:
				sc_write(&sc, sector, len, rnd_below(2) ? FUA : FLUSH);
				break;
			default:
				sc_write(&sc, sector, len, rnd_below(4) ? 0 : METADATA);
				break;
			}
		}
		log = setup(&sc, &target);
		for (k = 0; k < 3 && !case_failed; k++) {
			size_t end = rnd_below(sc.nr_ops + 1);
			size_t start = rnd_below(end + 1);

			replay_matches(&sc, log, target, start, end, "random");
		}
		sc_free(&sc);
	}
}

/* ---- block devices (root + losetup) --------------------------------------- */

static char loopdev[64];

static int shell(const char *cmd, char *out, size_t outlen)
{
	FILE *p = popen(cmd, "r");
	size_t n = 0;

	if (!p)
		return -1;
	if (out) {
		n = fread(out, 1, outlen - 1, p);
		out[n] = '\0';
		out[strcspn(out, "\n")] = '\0';
	} else {
		char sink[256];

		while (fread(sink, 1, sizeof(sink), p) > 0)
			;
	}
	return pclose(p);
}

static const char *loop_setup(void)
{
	char cmd[600];

	if (geteuid() != 0)
		return "not root";
	make_target(path_in_tmp("loop-backing"));
	snprintf(cmd, sizeof(cmd), "losetup -f --show %s 2>/dev/null",
		 path_in_tmp("loop-backing"));
	if (shell(cmd, loopdev, sizeof(loopdev)) != 0 || strncmp(loopdev, "/dev/", 5)) {
		loopdev[0] = '\0';
		return "losetup failed";
	}
	return NULL;
}

static void loop_teardown(void)
{
	char cmd[128];

	if (!loopdev[0])
		return;
	snprintf(cmd, sizeof(cmd), "losetup -d %s", loopdev);
	if (shell(cmd, NULL, 0) != 0)
		fprintf(stderr, "replay-log-test: could not detach %s\n", loopdev);
	loopdev[0] = '\0';
}

/* Read the loop device back with O_DIRECT, bypassing any page cache. */
static bool loop_content_is(const unsigned char *want)
{
	unsigned char *got;
	int fd;
	bool ok;

	if (posix_memalign((void **)&got, 4096, DEV_BYTES))
		die("posix_memalign");
	fd = open(loopdev, O_RDONLY | O_DIRECT);
	if (fd < 0 || pread(fd, got, DEV_BYTES, 0) != DEV_BYTES) {
		fail("cannot read %s back: %s", loopdev, strerror(errno));
		ok = false;
	} else {
		ok = !memcmp(got, want, DEV_BYTES);
		if (!ok)
			fail("%s does not hold the replayed content", loopdev);
	}
	if (fd >= 0)
		close(fd);
	free(got);
	return ok;
}

static void loop_reset(void)
{
	unsigned char *img = model(&no_ops, 0, 0);
	int fd = open(loopdev, O_WRONLY);

	if (fd < 0 || pwrite(fd, img, DEV_BYTES, 0) != DEV_BYTES || fsync(fd))
		die(loopdev);
	close(fd);
	free(img);
}

static void test_block_device_replay(const char *skip)
{
	struct scenario sc;
	const char *target, *log;
	unsigned char *want;
	struct result r;
	int holder;

	if (skip)
		return;
	basic_scenario(&sc);
	log = setup(&sc, &target);

	loop_reset();
	want = model(&sc, 0, 9);
	run(&r, "--log", log, "--replay", loopdev, "--end-mark", "c1", NULL);
	if (exited(&r, 0))
		loop_content_is(want);
	free(want);

	/* BLKDISCARD on a loop device over a file reads back as zeroes. */
	loop_reset();
	want = model(&sc, 0, sc.nr_ops);
	run(&r, "--log", log, "--replay", loopdev, "--discard", NULL);
	if (exited(&r, 0))
		loop_content_is(want);
	free(want);

	/* A device held exclusively (as by a dm table) is refused. */
	holder = open(loopdev, O_RDONLY | O_EXCL);
	if (holder >= 0) {
		run(&r, "--log", log, "--replay", loopdev, NULL);
		expect_error(&r, 1, "Device or resource busy");
		close(holder);
	}
	sc_free(&sc);
}

static void test_block_device_too_small_is_refused(const char *skip)
{
	struct scenario sc;
	const char *target, *log;
	unsigned char *want;
	struct result r;

	if (skip)
		return;
	sc_init(&sc, 512);
	sc_write(&sc, 0, 8, 0);
	sc_write(&sc, DEV_BYTES / 512 - 4, 8, 0);	/* runs 2 KiB past the end */
	log = setup(&sc, &target);
	loop_reset();
	want = model(&sc, 0, 0);
	run(&r, "--log", log, "--replay", loopdev, NULL);
	expect_error(&r, 1, "past the end of");
	loop_content_is(want);
	free(want);
	sc_free(&sc);
}

/* ---- main ----------------------------------------------------------------- */

struct test_case {
	const char *name;
	void (*fn)(void);
	void (*blk_fn)(const char *skip);
};

static const struct test_case cases[] = {
	{ "list_shows_every_entry", test_list_shows_every_entry, NULL },
	{ "list_escapes_odd_mark_text", test_list_escapes_odd_mark_text, NULL },
	{ "replay_whole_log", test_replay_whole_log, NULL },
	{ "replay_every_prefix", test_replay_every_prefix, NULL },
	{ "start_entry_applies_only_later_entries",
	  test_start_entry_applies_only_later_entries, NULL },
	{ "end_mark_replays_through_the_mark", test_end_mark_replays_through_the_mark, NULL },
	{ "find_prints_the_mark_index", test_find_prints_the_mark_index, NULL },
	{ "flushes_lists_flush_and_fua_entries",
	  test_flushes_lists_flush_and_fua_entries, NULL },
	{ "sectorsize_4096_log", test_sectorsize_4096_log, NULL },
	{ "discard_replays_as_zeroes", test_discard_replays_as_zeroes, NULL },
	{ "discard_past_the_end_of_a_file", test_discard_past_the_end_of_a_file, NULL },
	{ "large_write_spans_copy_chunks", test_large_write_spans_copy_chunks, NULL },
	{ "super_block_entry_count_bounds_the_log",
	  test_super_block_entry_count_bounds_the_log, NULL },
	{ "empty_log", test_empty_log, NULL },
	{ "bad_magic_is_refused", test_bad_magic_is_refused, NULL },
	{ "bad_super_fields_are_refused", test_bad_super_fields_are_refused, NULL },
	{ "truncated_log_is_refused_before_any_write",
	  test_truncated_log_is_refused_before_any_write, NULL },
	{ "corrupt_entries_are_refused", test_corrupt_entries_are_refused, NULL },
	{ "range_errors", test_range_errors, NULL },
	{ "missing_files_are_errors", test_missing_files_are_errors, NULL },
	{ "usage_errors_exit_2", test_usage_errors_exit_2, NULL },
	{ "help_and_version", test_help_and_version, NULL },
	{ "random_logs_match_the_model", test_random_logs_match_the_model, NULL },
	{ "block_device_replay", NULL, test_block_device_replay },
	{ "block_device_too_small_is_refused", NULL,
	  test_block_device_too_small_is_refused },
};

static void cleanup_tmpdir(void)
{
	static const char *const files[] = {
		"log", "target", "stdout", "stderr", "loop-backing",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(files); i++)
		unlink(path_in_tmp(files[i]));
	rmdir(tmpdir);
}

int main(int argc, char **argv)
{
	const char *blk_skip;
	size_t i;

	if (argc != 2) {
		fprintf(stderr, "usage: %s PATH-TO-replay-log\n", argv[0]);
		return 2;
	}
	tool = argv[1];
	if (access(tool, X_OK)) {
		fprintf(stderr, "replay-log-test: %s: %s\n", tool, strerror(errno));
		return 2;
	}
	if (!mkdtemp(tmpdir))
		die("mkdtemp");
	setvbuf(stdout, NULL, _IOLBF, 0);
	blk_skip = loop_setup();
	atexit(loop_teardown);

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		case_failed = false;
		if (cases[i].fn)
			cases[i].fn();
		else
			cases[i].blk_fn(blk_skip);
		if (case_failed)
			failed_cases++;
		if (cases[i].blk_fn && blk_skip)
			printf("ok - %s # SKIP %s\n", cases[i].name, blk_skip);
		else
			printf("%s - %s\n", case_failed ? "not ok" : "ok", cases[i].name);
	}
	cleanup_tmpdir();
	printf("# %zu cases, %d failed\n", ARRAY_SIZE(cases), failed_cases);
	return failed_cases ? 1 : 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * crash-check: the checker of the crash-consistency test
 * (tools/testing/vm/tests/080-crash-log-writes.sh), for a volume assembled
 * from legs replayed to a crash point of a crash-workload run.
 *
 *   crash-check volume --journal J --anchor A --device DEV [--save IMAGE]
 *                      [--same-as IMAGE] [--data-offset BYTES --leg L0 --leg L1 --leg L2]
 *   crash-check legs   --journal J --image IMAGE --data-offset BYTES
 *                      --leg L0 --leg L1 --leg L2
 *   crash-check records --journal J --leg L0 --leg L1 --leg L2
 *   crash-check copy   SRC DST [SRC DST]...
 *
 * (legs and records take --anchor A too, only to label what they print.)
 *
 * The anchor says where the crash is, in the journal's terms:
 *
 *   mark:K    a crash at mark "fsyncK": the legs were replayed to points
 *             between the mark and their next flush
 *   fua:SEQ   a crash right after RWF_DSYNC write SEQ reached every leg
 *             (REQ_FUA), before the flush that follows it
 *   end       the whole logs: the volume was taken down cleanly
 *
 * "volume" reads every block of DEV (O_DIRECT) and checks that it holds a
 * version it may hold after that crash: at least the version the last
 * completed sync before the anchor made durable (for fua:SEQ, SEQ's own
 * version of its block too), at most the last version issued before the
 * first sync completed after the anchor (nothing issued later can be in
 * the replayed logs), and zeros only if no version was durable. Anything
 * else, an older version, another block's content or garbage, is a
 * violation. --save writes what was read to IMAGE; --same-as checks that
 * every block reads as it did into IMAGE earlier (no write in between).
 *
 * With --leg, "volume" then compares the data area of each leg (a file or
 * device, from byte BYTES) with what it read, block by block: after repair
 * the three legs must hold what the volume returns. "legs" does the same
 * against a saved IMAGE.
 *
 * "records" looks at each leg on its own, as replayed and before any
 * assembly (a file of the leg): a valid superblock, and the invariant the
 * target's recovery rests on (DESIGN.md, "Flush and commit"): outside
 * regions marked dirty, every block's record matches the data it
 * describes (and passes its check).
 *
 * "copy" copies regular files, keeping holes (the crash test's legs are
 * sparse); one process for three legs is much cheaper than three cp under
 * emulation. DST keeps its inode: a loop device over it stays valid.
 *
 * Each violation is printed with the block, what was found and what was
 * allowed; exit 0 when there is none, 1 when there is one, 2 on a usage
 * or I/O error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "crash-common.h"
#include "../../../include/crucible/format.h"

#define MAX_REPORTS	20
#define CHUNK_BLOCKS	256	/* 1 MiB reads */
#define NR_LEGS		3

struct write {
	uint64_t seq;
	uint64_t block;
	uint64_t version;
	uint64_t epoch;		/* marks sent before it was issued */
	int dsync;
};

enum ev_type { EV_WRITE, EV_SYNC, EV_MARK, EV_END };

struct event {
	enum ev_type type;
	uint64_t arg;		/* write index, or mark number */
};

static struct {
	uint64_t seed;
	uint64_t blocks;
	struct write *w;
	size_t nr_w;
	struct event *ev;
	size_t nr_ev;
	/* versions of block b: w[ver_idx[ver_off[b] + v - 1]] */
	size_t *ver_off;
	size_t *ver_idx;
} j;

static uint64_t *lower, *upper;
static const char *anchor_str;
static unsigned long reports;

static void usage(void)
{
	fprintf(stderr,
		"usage: crash-check volume --journal J --anchor mark:K|fua:SEQ|end --device DEV [--save IMAGE]\n"
		"                          [--same-as IMAGE] [--data-offset BYTES --leg L0 --leg L1 --leg L2]\n"
		"       crash-check legs --journal J --image IMAGE --data-offset BYTES --leg L0 --leg L1 --leg L2\n"
		"       crash-check records --journal J --leg L0 --leg L1 --leg L2\n"
		"       crash-check copy SRC DST [SRC DST]...\n");
	exit(2);
}

static void fatal(const char *what)
{
	fprintf(stderr, "crash-check: %s: %s\n", what, strerror(errno));
	exit(2);
}

static uint64_t num(const char *s)
{
	char *end;
	uint64_t v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || !*s || *end)
		usage();
	return v;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p)
		fatal("calloc");
	return p;
}

static void add_event(enum ev_type type, uint64_t arg)
{
	static size_t cap;

	if (j.nr_ev == cap) {
		cap = cap ? 2 * cap : 4096;
		j.ev = realloc(j.ev, cap * sizeof(*j.ev));
		if (!j.ev)
			fatal("realloc");
	}
	j.ev[j.nr_ev].type = type;
	j.ev[j.nr_ev].arg = arg;
	j.nr_ev++;
}

static void bad_journal(const char *path, unsigned long line, const char *why)
{
	fprintf(stderr, "crash-check: %s:%lu: %s\n", path, line, why);
	exit(2);
}

static void read_journal(const char *path)
{
	uint64_t epoch = 0, a, b, c, *count;
	size_t cap = 0, i;
	unsigned long line = 0;
	char buf[256];
	int version, d;
	FILE *f;

	f = fopen(path, "r");
	if (!f)
		fatal(path);
	if (!fgets(buf, sizeof(buf), f) ||
	    sscanf(buf, "# crash-workload %d seed %" SCNu64 " blocks %" SCNu64,
		   &version, &j.seed, &j.blocks) != 3)
		bad_journal(path, 1, "no crash-workload header");
	if (version != CRASH_JOURNAL_VERSION)
		bad_journal(path, 1, "unknown journal version");
	line = 1;
	while (fgets(buf, sizeof(buf), f)) {
		line++;
		switch (buf[0]) {
		case 'W':
			if (sscanf(buf, "W %" SCNu64 " %" SCNu64 " %" SCNu64 " %d",
				   &a, &b, &c, &d) != 4 || b >= j.blocks || !c)
				bad_journal(path, line, "bad write line");
			if (j.nr_w == cap) {
				cap = cap ? 2 * cap : 4096;
				j.w = realloc(j.w, cap * sizeof(*j.w));
				if (!j.w)
					fatal("realloc");
			}
			j.w[j.nr_w] = (struct write){ a, b, c, epoch, d };
			add_event(EV_WRITE, j.nr_w++);
			break;
		case 'S':
			add_event(EV_SYNC, 0);
			break;
		case 'M':
			if (sscanf(buf, "M %" SCNu64, &a) != 1)
				bad_journal(path, line, "bad mark line");
			add_event(EV_MARK, a);
			epoch++;
			break;
		case 'E':
			add_event(EV_END, 0);
			break;
		default:
			bad_journal(path, line, "unknown event");
		}
	}
	fclose(f);
	if (!j.nr_ev || j.ev[j.nr_ev - 1].type != EV_END)
		bad_journal(path, line, "journal does not end with E (workload died?)");

	/* Index the versions of each block; they must be 1, 2, 3, ... */
	count = xcalloc(j.blocks, sizeof(*count));
	j.ver_off = xcalloc(j.blocks + 1, sizeof(*j.ver_off));
	j.ver_idx = xcalloc(j.nr_w, sizeof(*j.ver_idx));
	for (i = 0; i < j.nr_w; i++)
		if (j.w[i].version != ++count[j.w[i].block])
			bad_journal(path, 0, "versions of a block out of order");
	for (b = 0; b < j.blocks; b++)
		j.ver_off[b + 1] = j.ver_off[b] + count[b];
	for (i = 0; i < j.nr_w; i++)
		j.ver_idx[j.ver_off[j.w[i].block] + j.w[i].version - 1] = i;
	free(count);
}

static const struct write *find_write(uint64_t block, uint64_t version)
{
	if (block >= j.blocks || !version ||
	    version > j.ver_off[block + 1] - j.ver_off[block])
		return NULL;
	return &j.w[j.ver_idx[j.ver_off[block] + version - 1]];
}

/*
 * Bounds for each block after a crash at the anchor: lower[b] the version
 * that must at least be there (0: none, zeros allowed), upper[b] the last
 * version that may be.
 */
static void set_bounds(const char *anchor)
{
	size_t p = SIZE_MAX, q = SIZE_MAX, u, i;
	const struct write *fua = NULL;
	uint64_t v;

	if (!strncmp(anchor, "mark:", 5)) {
		v = num(anchor + 5);
		for (i = 0; i < j.nr_ev; i++)
			if (j.ev[i].type == EV_MARK && j.ev[i].arg == v)
				p = i;
	} else if (!strncmp(anchor, "fua:", 4)) {
		v = num(anchor + 4);
		for (i = 0; i < j.nr_ev; i++)
			if (j.ev[i].type == EV_WRITE && j.w[j.ev[i].arg].seq == v)
				p = i;
		if (p != SIZE_MAX) {
			fua = &j.w[j.ev[p].arg];
			if (!fua->dsync) {
				fprintf(stderr, "crash-check: write %" PRIu64 " is not a RWF_DSYNC write\n", v);
				exit(2);
			}
		}
	} else if (!strcmp(anchor, "end")) {
		p = j.nr_ev - 1;
	} else {
		usage();
	}
	if (p == SIZE_MAX) {
		fprintf(stderr, "crash-check: anchor %s is not in the journal\n", anchor);
		exit(2);
	}
	for (i = 0; i < p; i++)
		if (j.ev[i].type == EV_SYNC)
			q = i;
	for (u = p + 1; u < j.nr_ev && j.ev[u].type != EV_SYNC; u++)
		;

	lower = xcalloc(j.blocks, sizeof(*lower));
	upper = xcalloc(j.blocks, sizeof(*upper));
	for (i = 0; i < u && i < j.nr_ev; i++) {
		const struct write *w;

		if (j.ev[i].type != EV_WRITE)
			continue;
		w = &j.w[j.ev[i].arg];
		if (q != SIZE_MAX && i < q)
			lower[w->block] = w->version;
		upper[w->block] = w->version;
	}
	if (fua)
		lower[fua->block] = fua->version;
}

static void describe(char *out, size_t len, const void *buf, uint64_t block)
{
	uint64_t b, v;
	const struct write *w;

	switch (crash_classify(buf, j.seed, &b, &v)) {
	case CRASH_ZEROS:
		snprintf(out, len, "zeros");
		return;
	case CRASH_VERSION:
		w = find_write(b, v);
		if (b != block)
			snprintf(out, len, "version %" PRIu64 " of block %" PRIu64 " (misplaced)", v, b);
		else if (w)
			snprintf(out, len, "v%" PRIu64 " (write %" PRIu64 ", issued after fsync%" PRIu64 "%s)",
				 v, w->seq, w->epoch ? w->epoch - 1 : 0,
				 w->dsync ? ", RWF_DSYNC" : "");
		else
			snprintf(out, len, "v%" PRIu64 " (never written by this run)", v);
		return;
	default: {
		const uint64_t *q = buf;

		snprintf(out, len, "garbage (words %016" PRIx64 " %016" PRIx64 " %016" PRIx64 " %016" PRIx64 ")",
			 q[0], q[1], q[2], q[3]);
		return;
	}
	}
}

static void allowed(char *out, size_t len, uint64_t b)
{
	if (!upper[b])
		snprintf(out, len, "zeros (never written)");
	else if (!lower[b] && upper[b] == 1)
		snprintf(out, len, "zeros or v1 (nothing durable)");
	else if (!lower[b])
		snprintf(out, len, "zeros or v1..v%" PRIu64 " (nothing durable)", upper[b]);
	else if (lower[b] == upper[b])
		snprintf(out, len, "v%" PRIu64 " (durable)", lower[b]);
	else
		snprintf(out, len, "v%" PRIu64 " (durable) .. v%" PRIu64, lower[b], upper[b]);
}

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...)
{
	va_list ap;

	if (++reports > MAX_REPORTS) {
		if (reports == MAX_REPORTS + 1)
			printf("crash-check: more violations not shown\n");
		return;
	}
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

static void *aligned_buf(size_t len)
{
	void *p;

	if (posix_memalign(&p, CRASH_BLOCK, len))
		fatal("posix_memalign");
	return p;
}

static void read_full(int fd, void *buf, size_t len, off_t off, const char *path)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = pread(fd, (char *)buf + done, len - done, off + done);
		if (n < 0) {
			fprintf(stderr, "crash-check: read %s at byte %lld: %s\n", path,
				(long long)(off + done), strerror(errno));
			exit(2);
		}
		if (!n) {
			fprintf(stderr, "crash-check: %s ends at byte %lld\n", path,
				(long long)(off + done));
			exit(2);
		}
		done += n;
	}
}

/* The whole of a device or file of the volume's size, read into memory. */
static uint8_t *load(const char *path, int direct)
{
	size_t len = (size_t)j.blocks * CRASH_BLOCK;
	uint8_t *buf = aligned_buf(len);
	int fd;

	fd = open(path, O_RDONLY | (direct ? O_DIRECT : 0));
	if (fd < 0)
		fatal(path);
	read_full(fd, buf, len, 0, path);
	close(fd);
	return buf;
}

static int check_volume(const uint8_t *vol)
{
	uint64_t x, bb, v, bad = 0, zeros = 0, at_lower = 0, later = 0;
	uint64_t written = 0;
	char found[160], want[96];

	for (x = 0; x < j.blocks; x++) {
		const void *blk = vol + x * CRASH_BLOCK;
		int ok;

		if (upper[x])
			written++;
		switch (crash_classify(blk, j.seed, &bb, &v)) {
		case CRASH_ZEROS:
			ok = !lower[x];
			zeros += !!upper[x];
			break;
		case CRASH_VERSION:
			ok = bb == x && v >= lower[x] && v <= upper[x];
			if (ok && v == lower[x])
				at_lower++;
			else if (ok)
				later++;
			break;
		default:
			ok = 0;
		}
		if (ok)
			continue;
		bad++;
		describe(found, sizeof(found), blk, x);
		allowed(want, sizeof(want), x);
		report("VIOLATION %s: volume block %" PRIu64 " holds %s; allowed: %s\n",
		       anchor_str, x, found, want);
	}
	printf("crash-check %s: %" PRIu64 " blocks read, %" PRIu64 " written by then: %" PRIu64
	       " at their durable version, %" PRIu64 " at a later one, %" PRIu64
	       " zeros; %" PRIu64 " violation(s)\n",
	       anchor_str, j.blocks, written, at_lower, later, zeros, bad);
	return bad ? 1 : 0;
}

/*
 * Nothing wrote to the volume since @earlier was read from it: every block
 * must read the same (a block must not change as repair goes on).
 */
static int check_same(const uint8_t *vol, const uint8_t *earlier, const char *path)
{
	char now[160], then[160];
	uint64_t x, bad = 0;

	for (x = 0; x < j.blocks; x++) {
		if (!memcmp(vol + x * CRASH_BLOCK, earlier + x * CRASH_BLOCK, CRASH_BLOCK))
			continue;
		bad++;
		describe(now, sizeof(now), vol + x * CRASH_BLOCK, x);
		describe(then, sizeof(then), earlier + x * CRASH_BLOCK, x);
		report("VIOLATION %s: volume block %" PRIu64 " read as %s before, as %s now (%s), with no write in between\n",
		       anchor_str, x, then, now, path);
	}
	printf("crash-check %s: %" PRIu64 " block(s) read differently than in %s\n",
	       anchor_str, bad, path);
	return bad ? 1 : 0;
}

/*
 * Each leg's data area, from @data_offset, must hold exactly what the
 * volume returned.  The legs are read through their files (or devices)
 * without O_DIRECT: a loop device writes through its backing file's page
 * cache, which is what a read of the file sees.
 */
static int check_legs(const uint8_t *vol, off_t data_offset, const char **legs)
{
	uint64_t b, n, bad = 0, differ[NR_LEGS] = { 0 };
	uint8_t *leg[NR_LEGS];
	char d_vol[160], d_leg[NR_LEGS][160];
	int fd[NR_LEGS], i;

	for (i = 0; i < NR_LEGS; i++) {
		fd[i] = open(legs[i], O_RDONLY);
		if (fd[i] < 0)
			fatal(legs[i]);
		leg[i] = aligned_buf((size_t)CHUNK_BLOCKS * CRASH_BLOCK);
	}
	for (b = 0; b < j.blocks; b += n) {
		const uint8_t *img = vol + b * CRASH_BLOCK;
		uint64_t k;

		n = j.blocks - b < CHUNK_BLOCKS ? j.blocks - b : CHUNK_BLOCKS;
		for (i = 0; i < NR_LEGS; i++)
			read_full(fd[i], leg[i], n * CRASH_BLOCK,
				  data_offset + (off_t)b * CRASH_BLOCK, legs[i]);
		for (k = 0; k < n; k++) {
			size_t off = k * CRASH_BLOCK;
			int diff = 0;

			for (i = 0; i < NR_LEGS; i++) {
				if (memcmp(img + off, leg[i] + off, CRASH_BLOCK)) {
					differ[i]++;
					diff = 1;
				}
			}
			if (!diff)
				continue;
			bad++;
			describe(d_vol, sizeof(d_vol), img + off, b + k);
			for (i = 0; i < NR_LEGS; i++)
				describe(d_leg[i], sizeof(d_leg[i]), leg[i] + off, b + k);
			report("VIOLATION %s: legs differ at volume block %" PRIu64
			       " after repair: the volume reads %s; leg 0 holds %s; leg 1 holds %s; leg 2 holds %s\n",
			       anchor_str, b + k, d_vol, d_leg[0], d_leg[1], d_leg[2]);
		}
	}
	for (i = 0; i < NR_LEGS; i++) {
		close(fd[i]);
		free(leg[i]);
	}
	printf("crash-check %s: legs' data areas against the volume: %" PRIu64
	       " block(s) differ (leg 0: %" PRIu64 ", leg 1: %" PRIu64 ", leg 2: %" PRIu64 ")\n",
	       anchor_str, bad, differ[0], differ[1], differ[2]);
	return bad ? 1 : 0;
}

/* Which version of @block has hash @h, as text. */
static void describe_hash(char *out, size_t len, uint64_t block, uint64_t h)
{
	uint64_t want[CRASH_WORDS], v, n;
	const struct write *w;

	n = block < j.blocks ? j.ver_off[block + 1] - j.ver_off[block] : 0;
	for (v = 1; v <= n; v++) {
		crash_fill(want, j.seed, block, v);
		if (crucible_block_hash(want) != h)
			continue;
		w = find_write(block, v);
		snprintf(out, len, "v%" PRIu64 " (write %" PRIu64 ", issued after fsync%" PRIu64 "%s)",
			 v, w->seq, w->epoch ? w->epoch - 1 : 0, w->dsync ? ", RWF_DSYNC" : "");
		return;
	}
	snprintf(out, len, "hash %016" PRIx64 " (no version of this block)", h);
}

/* One leg, before assembly: clean regions' records match their data. */
static uint64_t check_leg_records(int leg, const char *path, uint64_t *stats)
{
	const struct crucible_sb *sb;
	struct crucible_geometry geo;
	struct crucible_region_meta m;
	struct crucible_rec rec;
	char found[160], claim[160];
	uint64_t r, b, b0, n, bad = 0;
	uint8_t *meta, *data = NULL;
	struct stat st;
	int fd, pick;

	/*
	 * Superblocks, region table and records: everything before the data
	 * area. The data of a clean region is read only if it has a record.
	 */
	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st))
		fatal(path);
	meta = aligned_buf(2 * CRASH_BLOCK);
	if (st.st_size < 2 * CRASH_BLOCK) {
		report("VIOLATION %s: leg %d is too short to hold superblocks\n", anchor_str, leg);
		return 1;
	}
	read_full(fd, meta, 2 * CRASH_BLOCK, 0, path);
	sb = (const struct crucible_sb *)meta;
	pick = crucible_sb_pick(&sb[0], crucible_sb_check(&sb[0]),
				&sb[1], crucible_sb_check(&sb[1]));
	if (pick < 0) {
		report("VIOLATION %s: leg %d has no valid superblock (%s, %s)\n", anchor_str, leg,
		       crucible_sb_verdict_str(crucible_sb_check(&sb[0])),
		       crucible_sb_verdict_str(crucible_sb_check(&sb[1])));
		return 1;
	}
	sb = &sb[pick];
	if (crucible_geometry_init(&geo, le64_to_cpu(sb->volume_blocks),
				   le32_to_cpu(sb->region_blocks)) ||
	    geo.volume_blocks != j.blocks ||
	    (off_t)((geo.data_start + geo.volume_blocks) * CRASH_BLOCK) > st.st_size) {
		report("VIOLATION %s: leg %d: superblock geometry does not fit the volume\n", anchor_str, leg);
		return 1;
	}
	{
		struct crucible_sb keep = *sb;

		free(meta);
		meta = aligned_buf(geo.data_start * CRASH_BLOCK);
		read_full(fd, meta, geo.data_start * CRASH_BLOCK, 0, path);
		memcpy(meta + pick * CRASH_BLOCK, &keep, sizeof(keep));
		sb = (const struct crucible_sb *)(meta + pick * CRASH_BLOCK);
	}
	data = aligned_buf((size_t)geo.region_blocks * CRASH_BLOCK);
	for (r = 0; r < geo.nr_regions; r++) {
		const struct crucible_region_entry *e =
			(const struct crucible_region_entry *)(meta + geo.region_table_start * CRASH_BLOCK) + r;
		const struct crucible_record *rp =
			(const struct crucible_record *)(meta + geo.record_start * CRASH_BLOCK);
		int loaded = 0;

		crucible_region_decode(e, le64_to_cpu(sb->seed), r, &m);
		if (!m.valid || m.dirty) {
			stats[m.valid ? 1 : 2]++;
			continue;
		}
		stats[0]++;
		b0 = r * geo.region_blocks;
		n = j.blocks - b0 < geo.region_blocks ? j.blocks - b0 : geo.region_blocks;
		for (b = b0; b < b0 + n; b++) {
			const uint8_t *blk = data + (b - b0) * CRASH_BLOCK;

			if (!crucible_record_decode(&rp[b], le64_to_cpu(sb->seed), b, m.stamped, &rec)) {
				bad++;
				report("VIOLATION %s: leg %d, clean region %" PRIu64 " (generation %" PRIu64
				       ", flush %" PRIu64 "): the record of block %" PRIu64 " fails its check\n",
				       anchor_str, leg, r, (uint64_t)m.generation, (uint64_t)m.flush, b);
				continue;
			}
			if (rec.hash == CRUCIBLE_HASH_UNWRITTEN)
				continue;
			stats[3]++;
			if (!loaded) {
				read_full(fd, data, n * CRASH_BLOCK,
					  (off_t)(geo.data_start + b0) * CRASH_BLOCK, path);
				loaded = 1;
			}
			if (crucible_block_hash(blk) == rec.hash)
				continue;
			bad++;
			describe(found, sizeof(found), blk, b);
			describe_hash(claim, sizeof(claim), b, rec.hash);
			report("VIOLATION %s: leg %d, clean region %" PRIu64 " (generation %" PRIu64
			       ", flush %" PRIu64 "): block %" PRIu64 "'s record (flush %u) describes %s"
			       ", the data holds %s\n",
			       anchor_str, leg, r, (uint64_t)m.generation, (uint64_t)m.flush, b,
			       (unsigned int)rec.flush, claim, found);
		}
	}
	free(data);
	free(meta);
	close(fd);
	return bad;
}

static int check_records(const char **legs)
{
	uint64_t bad = 0, stats[NR_LEGS][4] = { { 0 } };
	int i;

	for (i = 0; i < NR_LEGS; i++)
		bad += check_leg_records(i, legs[i], stats[i]);
	printf("crash-check %s: records of clean regions against the data, leg by leg:", anchor_str);
	for (i = 0; i < NR_LEGS; i++)
		printf(" leg %d %" PRIu64 " clean (%" PRIu64 " records), %" PRIu64 " dirty, %" PRIu64 " invalid;",
		       i, stats[i][0], stats[i][3], stats[i][1], stats[i][2]);
	printf(" %" PRIu64 " violation(s)\n", bad);
	return bad ? 1 : 0;
}

/* Copy @src over @dst (same inode), data extents only: holes stay holes. */
static void copy_sparse(const char *src, const char *dst)
{
	static uint8_t buf[1 << 20];
	off_t pos = 0, data, hole, o;
	struct stat st;
	int in, out;
	ssize_t n;

	in = open(src, O_RDONLY);
	if (in < 0 || fstat(in, &st))
		fatal(src);
	out = open(dst, O_WRONLY | O_CREAT, 0644);
	if (out < 0 || ftruncate(out, 0) || ftruncate(out, st.st_size))
		fatal(dst);
	for (;;) {
		data = lseek(in, pos, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			break;
		hole = data < 0 ? -1 : lseek(in, data, SEEK_HOLE);
		if (hole < 0)
			fatal(src);
		for (o = data; o < hole; o += n) {
			n = pread(in, buf, hole - o < (off_t)sizeof(buf) ? (size_t)(hole - o) : sizeof(buf), o);
			if (n <= 0)
				fatal(src);
			if (pwrite(out, buf, n, o) != n)
				fatal(dst);
		}
		pos = hole;
	}
	if (close(out))
		fatal(dst);
	close(in);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "journal", required_argument, NULL, 'j' },
		{ "anchor", required_argument, NULL, 'a' },
		{ "device", required_argument, NULL, 'd' },
		{ "save", required_argument, NULL, 's' },
		{ "image", required_argument, NULL, 'i' },
		{ "data-offset", required_argument, NULL, 'o' },
		{ "leg", required_argument, NULL, 'l' },
		{ "same-as", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	const char *journal = NULL, *dev = NULL, *save = NULL, *image = NULL;
	const char *same_as = NULL;
	const char *legs[NR_LEGS];
	uint64_t data_offset = 0;
	int c, nr_legs = 0, have_offset = 0;
	const char *mode;

	if (argc < 2)
		usage();
	mode = argv[1];
	if (!strcmp(mode, "copy")) {
		if (argc < 4 || argc % 2)
			usage();
		for (c = 2; c < argc; c += 2)
			copy_sparse(argv[c], argv[c + 1]);
		return 0;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'j': journal = optarg; break;
		case 'a': anchor_str = optarg; break;
		case 'd': dev = optarg; break;
		case 's': save = optarg; break;
		case 'i': image = optarg; break;
		case 'S': same_as = optarg; break;
		case 'o': data_offset = num(optarg); have_offset = 1; break;
		case 'l':
			if (nr_legs == NR_LEGS)
				usage();
			legs[nr_legs++] = optarg;
			break;
		default: usage();
		}
	}
	if (optind != argc || !journal)
		usage();
	read_journal(journal);
	if (!strcmp(mode, "volume")) {
		uint8_t *vol;
		int r;

		if (!anchor_str || !dev || image || (nr_legs && nr_legs != NR_LEGS) ||
		    (nr_legs && !have_offset))
			usage();
		set_bounds(anchor_str);
		vol = load(dev, 1);
		if (save) {
			int fd = open(save, O_WRONLY | O_CREAT | O_TRUNC, 0644);

			if (fd < 0 || write(fd, vol, (size_t)j.blocks * CRASH_BLOCK) !=
			    (ssize_t)((size_t)j.blocks * CRASH_BLOCK) || close(fd))
				fatal(save);
		}
		r = check_volume(vol);
		if (same_as)
			r |= check_same(vol, load(same_as, 0), same_as);
		if (nr_legs)
			r |= check_legs(vol, (off_t)data_offset, legs);
		return r;
	}
	if (!strcmp(mode, "records")) {
		if (nr_legs != NR_LEGS || dev || save || image || same_as)
			usage();
		if (!anchor_str)
			anchor_str = "records";
		return check_records(legs);
	}
	if (!strcmp(mode, "legs")) {
		if (!image || !have_offset || nr_legs != NR_LEGS || dev || save)
			usage();
		if (!anchor_str)
			anchor_str = "legs";
		return check_legs(load(image, 0), (off_t)data_offset, legs);
	}
	usage();
	return 2;
}

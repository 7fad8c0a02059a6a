// SPDX-License-Identifier: GPL-2.0
/*
 * crash-workload: the writer of the crash-consistency test
 * (tools/testing/vm/tests/080-crash-log-writes.sh).
 *
 * Writes 4 KiB blocks with O_DIRECT at random places of a device, each
 * block's content naming the block and its version (crash-common.h), up to
 * QD writes in flight (Linux AIO), never two in flight to the same block.
 * After a random number of writes (1 .. 2K-1, K = --sync-every) it waits
 * for every write, calls fsync, and then puts a mark "fsync<k>" on each
 * dm-log-writes device named with --mark (DM_TARGET_MSG ioctl), before the
 * next write is issued. About one write in D (--dsync-every) is a RWF_DSYNC
 * write, issued alone (REQ_FUA, then the block layer's flush), to a block
 * with no write since the last sync (see dsync_block()). Half the
 * writes go to a small set of hot blocks (H blocks, 8 in each of H/8
 * regions of R blocks), so blocks get many versions; and about half the
 * stretches between two syncs write only hot blocks: their regions stay
 * dirty, so no region has to be marked dirty (which flushes the legs) and
 * more unflushed writes pile up after a mark, in the crash window.
 *
 * Everything it does goes to the journal (--journal, format in
 * crash-common.h), from which crash-check derives what each block may hold
 * after a crash at any mark.
 *
 *   crash-workload --dev DEV --blocks N --writes W --journal FILE
 *                  [--seed S] [--qd Q] [--sync-every K] [--dsync-every D]
 *                  [--hot H] [--region-blocks R] [--mark DM_NAME]...
 *
 * Exits 0 when every write and sync succeeded, 1 on an I/O or mark error,
 * 2 on a usage error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <linux/aio_abi.h>
#include <linux/dm-ioctl.h>

#include "crash-common.h"

#define MAX_QD		64
#define MAX_MARKS	8

struct slot {
	struct iocb cb;
	void *buf;
	uint64_t block;
	int busy;
};

static struct {
	const char *dev;
	const char *journal;
	uint64_t blocks;
	uint64_t writes;
	uint64_t seed;
	unsigned int qd;
	unsigned int sync_every;
	unsigned int dsync_every;
	unsigned int hot;
	unsigned int region_blocks;
	const char *marks[MAX_MARKS];
	unsigned int nr_marks;
} opt = {
	.qd = 4,
	.sync_every = 12,
	.dsync_every = 16,
	.hot = 64,
	.region_blocks = 32,
};

static FILE *journal;
static int dev_fd = -1, ctl_fd = -1;
static aio_context_t ctx;
static struct slot slots[MAX_QD];
static unsigned int inflight;
static uint8_t *busy_block;
static uint8_t *unsynced;		/* written since the last sync */
static uint64_t *unsynced_list, nr_unsynced;
static uint64_t *version;
static uint64_t rng;
static uint64_t nr_syncs, nr_dsync, nr_marks_sent;
static int hot_only;		/* this stretch writes hot blocks only */

static void usage(void)
{
	fprintf(stderr,
		"usage: crash-workload --dev DEV --blocks N --writes W --journal FILE\n"
		"                      [--seed S] [--qd Q] [--sync-every K] [--dsync-every D]\n"
		"                      [--hot H] [--region-blocks R] [--mark DM_NAME]...\n");
	exit(2);
}

static void die(const char *what)
{
	fprintf(stderr, "crash-workload: %s: %s\n", what, strerror(errno));
	exit(1);
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

static uint64_t rnd(uint64_t n)
{
	return crash_splitmix(&rng) % n;
}

/* A mark on a dm-log-writes device: "dmsetup message NAME 0 mark TEXT". */
static void dm_mark(const char *name, const char *text)
{
	size_t len = sizeof(struct dm_ioctl) + sizeof(struct dm_target_msg) +
		     strlen("mark ") + strlen(text) + 1;
	struct dm_target_msg *tm;
	struct dm_ioctl *io;

	/* Room for the kernel to answer, as libdevmapper leaves. */
	len = (len + 7) & ~(size_t)7;
	if (len < 16384)
		len = 16384;
	io = calloc(1, len);
	if (!io)
		die("calloc");
	io->version[0] = DM_VERSION_MAJOR;
	io->version[1] = 0;
	io->version[2] = 0;
	io->data_size = len;
	io->data_start = sizeof(struct dm_ioctl);
	if (strlen(name) >= DM_NAME_LEN) {
		errno = ENAMETOOLONG;
		die(name);
	}
	strcpy(io->name, name);
	tm = (struct dm_target_msg *)((char *)io + io->data_start);
	tm->sector = 0;
	sprintf(tm->message, "mark %s", text);
	if (ioctl(ctl_fd, DM_TARGET_MSG, io)) {
		fprintf(stderr, "crash-workload: mark %s on %s: %s\n", text, name,
			strerror(errno));
		exit(1);
	}
	free(io);
}

static void reap(unsigned int min)
{
	struct io_event ev[MAX_QD];
	long n, i;

	while (min) {
		n = syscall(SYS_io_getevents, ctx, 1, MAX_QD, ev, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("io_getevents");
		}
		for (i = 0; i < n; i++) {
			struct slot *s = (struct slot *)(uintptr_t)ev[i].data;

			if (ev[i].res != CRASH_BLOCK) {
				fprintf(stderr, "crash-workload: write of block %" PRIu64 " failed: %s\n",
					s->block, (long long)ev[i].res < 0 ?
					strerror(-(long long)ev[i].res) : "short write");
				exit(1);
			}
			busy_block[s->block] = 0;
			s->busy = 0;
			inflight--;
		}
		min = (unsigned int)n >= min ? 0 : min - n;
	}
}

static void drain(void)
{
	if (inflight)
		reap(inflight);
}

static struct slot *free_slot(void)
{
	unsigned int i;

	if (inflight == opt.qd)
		reap(1);
	for (i = 0; i < opt.qd; i++)
		if (!slots[i].busy)
			return &slots[i];
	fprintf(stderr, "crash-workload: no free slot\n");
	exit(1);
}

/* Hot block @i: 8 blocks in each of hot/8 regions spread over the volume. */
static uint64_t hot_block(uint64_t i)
{
	uint64_t regions = opt.blocks / opt.region_blocks;
	uint64_t stride = regions / (opt.hot / 8);

	return (i / 8) * stride * opt.region_blocks +
	       (i % 8) * (opt.region_blocks / 8) + 1;
}

static uint64_t pick_block(void)
{
	uint64_t b;

	for (;;) {
		if (opt.hot && (hot_only || rnd(2)))
			b = hot_block(rnd(opt.hot));
		else
			b = rnd(opt.blocks);
		if (!busy_block[b])
			return b;
	}
}

static void synced(void)
{
	while (nr_unsynced)
		unsynced[unsynced_list[--nr_unsynced]] = 0;
	nr_syncs++;
	fprintf(journal, "S\n");
}

static void sync_dev(void)
{
	drain();
	if (fsync(dev_fd))
		die("fsync");
	synced();
}

/*
 * The block of a RWF_DSYNC write: one with no write since the last sync.
 * dm-log-writes logs a plain write only at the next flush, but a FUA
 * write as soon as it completes: a plain write to the block that completed
 * before the FUA write would be logged after it, and a replay would put
 * the older data back over the FUA write's, which no disk can do. If the
 * draws keep finding such blocks, a sync first makes the block's last
 * write durable (and logged) before the FUA write.
 */
static uint64_t dsync_block(void)
{
	uint64_t b = 0;
	int tries;

	for (tries = 0; tries < 64; tries++) {
		b = pick_block();
		if (!unsynced[b])
			return b;
	}
	sync_dev();
	return b;
}

static void mark_all(uint64_t k)
{
	char text[32];
	unsigned int i;

	snprintf(text, sizeof(text), "fsync%" PRIu64, k);
	for (i = 0; i < opt.nr_marks; i++)
		dm_mark(opt.marks[i], text);
	nr_marks_sent++;
	fprintf(journal, "M %" PRIu64 "\n", k);
}

static void write_block(uint64_t seq, int dsync)
{
	uint64_t b = dsync ? dsync_block() : pick_block();
	uint64_t v = ++version[b];
	off_t off = (off_t)b * CRASH_BLOCK;

	if (!unsynced[b]) {
		unsynced[b] = 1;
		unsynced_list[nr_unsynced++] = b;
	}
	fprintf(journal, "W %" PRIu64 " %" PRIu64 " %" PRIu64 " %d\n", seq, b, v, dsync);
	if (dsync) {
		/* Alone: what it promises must not depend on writes in flight. */
		struct iovec iov;

		drain();
		iov.iov_base = slots[0].buf;
		iov.iov_len = CRASH_BLOCK;
		crash_fill(slots[0].buf, opt.seed, b, v);
		if (pwritev2(dev_fd, &iov, 1, off, RWF_DSYNC) != CRASH_BLOCK)
			die("RWF_DSYNC write");
		nr_dsync++;
		synced();
	} else {
		struct slot *s = free_slot();
		struct iocb *cbp = &s->cb;

		crash_fill(s->buf, opt.seed, b, v);
		memset(&s->cb, 0, sizeof(s->cb));
		s->cb.aio_data = (uintptr_t)s;
		s->cb.aio_lio_opcode = IOCB_CMD_PWRITE;
		s->cb.aio_fildes = dev_fd;
		s->cb.aio_buf = (uintptr_t)s->buf;
		s->cb.aio_nbytes = CRASH_BLOCK;
		s->cb.aio_offset = off;
		s->block = b;
		s->busy = 1;
		busy_block[b] = 1;
		inflight++;
		if (syscall(SYS_io_submit, ctx, 1, &cbp) != 1)
			die("io_submit");
	}
}

static uint64_t next_sync(void)
{
	hot_only = opt.hot && rnd(2);
	return 1 + rnd(2 * (uint64_t)opt.sync_every - 1);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "blocks", required_argument, NULL, 'b' },
		{ "writes", required_argument, NULL, 'w' },
		{ "journal", required_argument, NULL, 'j' },
		{ "seed", required_argument, NULL, 's' },
		{ "qd", required_argument, NULL, 'q' },
		{ "sync-every", required_argument, NULL, 'k' },
		{ "dsync-every", required_argument, NULL, 'D' },
		{ "hot", required_argument, NULL, 'H' },
		{ "region-blocks", required_argument, NULL, 'R' },
		{ "mark", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct timespec t0, t1;
	uint64_t seq, k = 0, countdown;
	unsigned int i;
	double secs;
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': opt.dev = optarg; break;
		case 'b': opt.blocks = num(optarg); break;
		case 'w': opt.writes = num(optarg); break;
		case 'j': opt.journal = optarg; break;
		case 's': opt.seed = num(optarg); break;
		case 'q': opt.qd = num(optarg); break;
		case 'k': opt.sync_every = num(optarg); break;
		case 'D': opt.dsync_every = num(optarg); break;
		case 'H': opt.hot = num(optarg); break;
		case 'R': opt.region_blocks = num(optarg); break;
		case 'm':
			if (opt.nr_marks == MAX_MARKS)
				usage();
			opt.marks[opt.nr_marks++] = optarg;
			break;
		default: usage();
		}
	}
	if (optind != argc || !opt.dev || !opt.journal || !opt.blocks ||
	    !opt.writes || !opt.qd || opt.qd > MAX_QD || !opt.sync_every ||
	    opt.hot % 8 || opt.region_blocks < 8 || opt.region_blocks % 8 ||
	    opt.blocks % opt.region_blocks ||
	    opt.hot / 8 > opt.blocks / opt.region_blocks ||
	    (opt.hot && opt.hot <= opt.qd))	/* a free hot block always exists */
		usage();

	rng = opt.seed;
	busy_block = calloc(opt.blocks, 1);
	unsynced = calloc(opt.blocks, 1);
	unsynced_list = calloc(opt.blocks, sizeof(*unsynced_list));
	version = calloc(opt.blocks, sizeof(*version));
	if (!busy_block || !unsynced || !unsynced_list || !version)
		die("calloc");
	for (i = 0; i < opt.qd; i++)
		if (posix_memalign(&slots[i].buf, CRASH_BLOCK, CRASH_BLOCK))
			die("posix_memalign");
	journal = fopen(opt.journal, "w");
	if (!journal)
		die(opt.journal);
	dev_fd = open(opt.dev, O_RDWR | O_DIRECT);
	if (dev_fd < 0)
		die(opt.dev);
	if (opt.nr_marks) {
		ctl_fd = open("/dev/mapper/control", O_RDWR);
		if (ctl_fd < 0)
			die("/dev/mapper/control");
	}
	if (syscall(SYS_io_setup, opt.qd, &ctx))
		die("io_setup");

	fprintf(journal, "# crash-workload %d seed %" PRIu64 " blocks %" PRIu64 "\n",
		CRASH_JOURNAL_VERSION, opt.seed, opt.blocks);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	sync_dev();
	mark_all(k);
	countdown = next_sync();
	for (seq = 1; seq <= opt.writes; seq++) {
		write_block(seq, opt.dsync_every && !rnd(opt.dsync_every));
		if (!--countdown) {
			sync_dev();
			mark_all(++k);
			countdown = next_sync();
		}
	}
	sync_dev();
	mark_all(++k);
	fprintf(journal, "E\n");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (fclose(journal))
		die(opt.journal);
	syscall(SYS_io_destroy, ctx);
	close(dev_fd);

	secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("crash-workload: %" PRIu64 " writes (%" PRIu64 " RWF_DSYNC), %" PRIu64
	       " syncs, %" PRIu64 " marks in %.1fs (%.0f writes/s), seed %" PRIu64 "\n",
	       opt.writes, nr_dsync, nr_syncs, nr_marks_sent, secs,
	       secs > 0 ? opt.writes / secs : 0.0, opt.seed);
	return 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * pool-bench: throughput of the pool allocator on a big sparse pool file.
 *
 *   make -C userland pool-bench
 *   userland/build/pool-bench [-s SIZE] [-n OPS] [-r SEED] [FILE]
 *
 * Makes FILE (default /var/tmp/dm-crucible/pool-bench.img) a sparse file
 * of SIZE (default 4T), writes a pool on it, and measures:
 *   - pool init, and pool open (warm, and with the file's cached pages
 *     dropped first: posix_fadvise DONTNEED);
 *   - region create and remove, each its own committed transaction
 *     (intent, bitmaps, region slot, superblocks, five flushes);
 *   - the same in transactions of 32 operations;
 *   - on a fragmented pool (thousands of free extents), and open again.
 * Regions are 1 MiB to 4 GiB; each new region is zeroed as cruciblectl
 * does (hole punching on a file).  The file is removed at the end unless
 * -k.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../userland/lib/log.h"
#include "../../userland/lib/parse.h"
#include "../../userland/lib/pool.h"

#define MAX_REGIONS 16384

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, const struct cru_err *err)
{
	fprintf(stderr, "pool-bench: %s: %s\n", what, err ? err->msg : strerror(errno));
	exit(1);
}

static uint64_t rnd_size(void)
{
	/* Log-uniform from 1 MiB to 4 GiB: many small regions, a few big. */
	unsigned int shift = 20 + (unsigned int)(random() % 13);

	return (1ULL << shift) + ((uint64_t)random() % (1ULL << shift));
}

static struct cru_pool *open_pool(const char *path, double *secs, bool cold)
{
	struct cru_pool *p;
	struct cru_err err;
	double t;
	int fd;

	if (cold) {
		fd = open(path, O_RDONLY);
		if (fd < 0 || fdatasync(fd) ||
		    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED))
			die("dropping cached pages", NULL);
		close(fd);
	}
	t = now();
	if (cru_pool_open(path, NULL, &p, &err))
		die("open", &err);
	*secs = now() - t;
	return p;
}

struct names {
	char (*v)[24];
	int n;
	long next;
};

static void add(struct cru_pool *p, struct names *nm, bool quiet_full)
{
	const struct cru_pool_region *r;
	struct cru_err err;
	int ret;

	if (nm->n == MAX_REGIONS)
		return;
	snprintf(nm->v[nm->n], sizeof(nm->v[0]), "b%ld", nm->next++);
	ret = cru_pool_region_create(p, nm->v[nm->n], rnd_size(), 0, &r, &err);
	if (ret == -ENOSPC && quiet_full)
		return;
	if (ret)
		die("region create", &err);
	nm->n++;
}

static void drop(struct cru_pool *p, struct names *nm)
{
	struct cru_err err;
	int i;

	if (!nm->n)
		return;
	i = (int)(random() % nm->n);
	if (cru_pool_region_remove(p, nm->v[i], &err))
		die("region remove", &err);
	memcpy(nm->v[i], nm->v[--nm->n], sizeof(nm->v[0]));
}

static void report(const char *what, long ops, double secs)
{
	printf("  %-52s %8ld ops in %7.3f s: %10.0f ops/s\n", what, ops, secs,
	       ops / secs);
}

int main(int argc, char **argv)
{
	const char *path = "/var/tmp/dm-crucible/pool-bench.img";
	uint64_t size = 4ULL << 40;
	struct cru_pool_init_opts io = { .name = "bench", .max_regions = MAX_REGIONS };
	struct cru_pool_info info;
	struct names nm = { 0 };
	struct cru_pool *p;
	struct cru_err err;
	unsigned int seed = 1;
	long ops = 2000, i;
	bool keep = false;
	double t, secs;
	char sz[32], fr[32];
	int c, fd;

	while ((c = getopt(argc, argv, "s:n:r:kh")) != -1) {
		switch (c) {
		case 's':
			if (cru_parse_size(optarg, &size, &err))
				die("-s", &err);
			break;
		case 'n':
			ops = strtol(optarg, NULL, 10);
			break;
		case 'r':
			seed = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'k':
			keep = true;
			break;
		default:
			fprintf(stderr, "usage: pool-bench [-s SIZE] [-n OPS] [-r SEED] [-k] [FILE]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind < argc)
		path = argv[optind];
	if (ops < 100)
		ops = 100;
	log_init("pool-bench", LOG_TO_STDERR, LOG_LEVEL_WARN);
	srandom(seed);
	nm.v = calloc(MAX_REGIONS, sizeof(*nm.v));

	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)size))
		die(path, NULL);
	close(fd);
	cru_format_size(size, sz, sizeof(sz));
	printf("pool-bench: %s pool on sparse file %s, %u region slots, seed %u\n",
	       sz, path, MAX_REGIONS, seed);

	t = now();
	if (cru_pool_init(path, &io, &info, &err))
		die("init", &err);
	secs = now() - t;
	printf("  init: %.3f s (%llu bitmap blocks per copy, data area at block %llu)\n",
	       secs, (unsigned long long)info.bitmap_blocks,
	       (unsigned long long)info.data_start);
	p = open_pool(path, &secs, false);
	printf("  open, empty pool, warm cache:                %8.3f s\n", secs);
	cru_pool_close(p);
	p = open_pool(path, &secs, true);
	printf("  open, empty pool, file pages dropped:        %8.3f s\n", secs);

	/* One committed transaction per operation. */
	t = now();
	for (i = 0; i < ops; i++)
		add(p, &nm, false);
	report("region create, one transaction each", ops, now() - t);
	t = now();
	for (i = 0; i < ops / 2; i++)
		drop(p, &nm);
	report("region remove, one transaction each", ops / 2, now() - t);

	/* Transactions of 32 operations. */
	t = now();
	for (i = 0; i < ops; i++) {
		if (i % 32 == 0 && cru_pool_begin(p, &err))
			die("begin", &err);
		add(p, &nm, false);
		if (i % 32 == 31 && cru_pool_commit(p, &err))
			die("commit", &err);
	}
	if (cru_pool_commit(p, &err))
		die("commit", &err);
	report("region create, 32 per transaction", ops, now() - t);
	t = now();
	for (i = 0; i < ops; i++) {
		if (i % 32 == 0 && cru_pool_begin(p, &err))
			die("begin", &err);
		drop(p, &nm);
		if (i % 32 == 31 && cru_pool_commit(p, &err))
			die("commit", &err);
	}
	if (cru_pool_commit(p, &err))
		die("commit", &err);
	report("region remove, 32 per transaction", ops, now() - t);

	/* Fragment it: many regions, every other one freed. */
	for (i = 0; i < 4 * ops && nm.n < MAX_REGIONS; i++) {
		if (i % 32 == 0 && cru_pool_begin(p, &err))
			die("begin", &err);
		add(p, &nm, true);
		if (i % 32 == 31 && cru_pool_commit(p, &err))
			die("commit", &err);
	}
	if (cru_pool_commit(p, &err))
		die("commit", &err);
	cru_pool_close(p);
	{
		/* Free the odd ones (by name) in one go through a fresh handle. */
		struct cru_pool *q;
		int kept = 0, j;
		char (*all)[24] = nm.v;

		q = open_pool(path, &secs, false);
		if (cru_pool_begin(q, &err))
			die("begin", &err);
		for (j = 0; j < MAX_REGIONS; j++) {
			const struct cru_pool_region *r = cru_pool_region_slot(q, (uint32_t)j);

			if (!r)
				continue;
			if (j % 2) {
				char name[64];

				snprintf(name, sizeof(name), "%s", r->name);
				if (cru_pool_region_remove(q, name, &err))
					die("remove", &err);
			} else {
				snprintf(all[kept++], sizeof(all[0]), "%.23s", r->name);
			}
		}
		if (cru_pool_commit(q, &err))
			die("commit", &err);
		nm.n = kept;
		cru_pool_close(q);
	}
	p = open_pool(path, &secs, true);
	cru_pool_get_info(p, &info);
	cru_format_size(info.free_blocks * info.block_size, fr, sizeof(fr));
	printf("  fragmented: %u regions, %s free in %llu extents\n",
	       info.nr_regions, fr, (unsigned long long)info.free_extents);
	printf("  open, fragmented pool, file pages dropped:   %8.3f s\n", secs);
	cru_pool_close(p);
	p = open_pool(path, &secs, false);
	printf("  open, fragmented pool, warm cache:           %8.3f s\n", secs);

	t = now();
	for (i = 0; i < ops; i++) {
		if (i % 32 == 0 && cru_pool_begin(p, &err))
			die("begin", &err);
		if (i % 2)
			drop(p, &nm);
		else
			add(p, &nm, true);
		if (i % 32 == 31 && cru_pool_commit(p, &err))
			die("commit", &err);
	}
	if (cru_pool_commit(p, &err))
		die("commit", &err);
	report("fragmented: create/remove mix, 32 per transaction", ops, now() - t);
	t = now();
	for (i = 0; i < ops / 4; i++) {
		if (i % 2)
			drop(p, &nm);
		else
			add(p, &nm, true);
	}
	report("fragmented: create/remove mix, one transaction each", ops / 4,
	       now() - t);
	cru_pool_get_info(p, &info);
	printf("  discards issued: %llu (%llu MiB)\n",
	       (unsigned long long)info.discards,
	       (unsigned long long)(info.discarded_bytes >> 20));
	cru_pool_close(p);
	if (!keep)
		unlink(path);
	free(nm.v);
	return 0;
}

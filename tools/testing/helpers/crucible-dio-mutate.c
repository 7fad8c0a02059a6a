// SPDX-License-Identifier: GPL-2.0
/*
 * crucible-dio-mutate: O_DIRECT I/O from a buffer that another thread keeps
 * changing while the I/O is in flight.
 *
 * One thread writes (or reads, with -r) the device with O_DIRECT at random
 * 4 KiB-aligned places and sizes, always from the same buffer; a second
 * thread flips bytes all over that buffer without pause.  A target that
 * hashes the caller's pages and then writes them (or writes them to three
 * legs at three different moments) ends up with legs that differ from each
 * other or from their hashes; one that works from a stable copy does not.
 *
 *   crucible-dio-mutate [-r] [-n IOS] [-o FIRST_BLOCK] [-b BLOCKS]
 *                       [-a MISALIGN] [-S SEED] DEVICE
 *
 *   -r            read instead of write (the data read is thrown away)
 *   -n IOS        number of I/Os (default 2000)
 *   -o, -b        the range of 4 KiB blocks used (default: the whole device)
 *   -a MISALIGN   offset of the buffer from a page boundary, a multiple of
 *                 512 (default 0); with it a 4 KiB block spans two pages
 *   -S SEED       random seed (default 1)
 *
 * Exits 0 when every I/O completed in full, 1 on an I/O error or a short
 * transfer, 2 on a usage error.  Prints the number of I/Os, blocks and
 * buffer mutations.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define BLOCK 4096U
#define MAX_IO_BLOCKS 64U	/* 256 KiB: more than the target's largest bio */

static const unsigned int io_blocks[] = { 1, 1, 2, 3, 8, 16, 32, 33, 64 };

static unsigned char *buf;
static size_t buf_len;
static atomic_int stop;
static atomic_ulong mutations;

/* xorshift64*: small, fast and good enough to pick places and sizes. */
static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static void *mutator(void *arg)
{
	volatile unsigned char *p = buf;
	uint64_t s = (uintptr_t)arg | 1;
	unsigned long n = 0;

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		uint64_t r = next_rand(&s);
		size_t at = r % buf_len;

		/* Mostly single bytes; now and then a whole stretch. */
		if ((r >> 56) == 0) {
			size_t len = (r >> 20) % 8192;

			if (at + len > buf_len)
				len = buf_len - at;
			memset((void *)(p + at), (int)(r >> 40), len);
		} else {
			p[at] ^= (unsigned char)(r >> 32) | 1;
		}
		n++;
	}
	atomic_store(&mutations, n);
	return NULL;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: crucible-dio-mutate [-r] [-n IOS] [-o FIRST_BLOCK] [-b BLOCKS] [-a MISALIGN] [-S SEED] DEVICE\n");
	exit(2);
}

static unsigned long long num(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || !*s || *end)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	unsigned long long ios = 2000, first = 0, blocks = 0, seed = 1;
	unsigned long long done = 0, done_blocks = 0, dev_bytes;
	unsigned int misalign = 0;
	int reading = 0, fd, opt, rc = 0;
	pthread_t thr;
	uint64_t rng;
	void *base;

	while ((opt = getopt(argc, argv, "rn:o:b:a:S:")) != -1) {
		switch (opt) {
		case 'r':
			reading = 1;
			break;
		case 'n':
			ios = num(optarg);
			break;
		case 'o':
			first = num(optarg);
			break;
		case 'b':
			blocks = num(optarg);
			break;
		case 'a':
			misalign = num(optarg);
			break;
		case 'S':
			seed = num(optarg);
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1 || misalign % 512 || misalign >= BLOCK)
		usage();

	fd = open(argv[optind], (reading ? O_RDONLY : O_RDWR) | O_DIRECT);
	if (fd < 0) {
		perror(argv[optind]);
		return 1;
	}
	if (ioctl(fd, BLKGETSIZE64, &dev_bytes)) {
		perror("BLKGETSIZE64");
		return 1;
	}
	if (!blocks)
		blocks = dev_bytes / BLOCK - first;
	if (!blocks || (first + blocks) * BLOCK > dev_bytes) {
		fprintf(stderr, "range %llu+%llu blocks is outside the device (%llu bytes)\n",
			first, blocks, dev_bytes);
		return 2;
	}

	buf_len = (size_t)MAX_IO_BLOCKS * BLOCK;
	if (posix_memalign(&base, BLOCK, buf_len + BLOCK)) {
		perror("posix_memalign");
		return 1;
	}
	buf = (unsigned char *)base + misalign;
	memset(buf, 0x5a, buf_len);

	if (pthread_create(&thr, NULL, mutator, (void *)(uintptr_t)(seed * 7919 + 1))) {
		perror("pthread_create");
		return 1;
	}

	rng = seed * 0x9e3779b97f4a7c15ULL | 1;
	for (done = 0; done < ios; done++) {
		unsigned long long n = io_blocks[next_rand(&rng) %
						 (sizeof(io_blocks) / sizeof(io_blocks[0]))];
		unsigned long long at;
		ssize_t r;

		if (n > blocks)
			n = blocks;
		at = first + next_rand(&rng) % (blocks - n + 1);
		if (reading)
			r = pread(fd, buf, n * BLOCK, at * BLOCK);
		else
			r = pwrite(fd, buf, n * BLOCK, at * BLOCK);
		if (r != (ssize_t)(n * BLOCK)) {
			fprintf(stderr, "%s of %llu blocks at block %llu: %s\n",
				reading ? "read" : "write", n, at,
				r < 0 ? strerror(errno) : "short transfer");
			rc = 1;
			break;
		}
		done_blocks += n;
	}
	atomic_store(&stop, 1);
	pthread_join(thr, NULL);
	if (!rc && !reading && fsync(fd)) {
		perror("fsync");
		rc = 1;
	}
	close(fd);
	printf("%s: %llu I/Os, %llu blocks, %lu buffer mutations\n",
	       reading ? "read" : "wrote", done, done_blocks,
	       atomic_load(&mutations));
	if (!rc && atomic_load(&mutations) < done) {
		fprintf(stderr, "the buffer changed fewer times than there were I/Os: the test proves nothing\n");
		rc = 1;
	}
	free(base);
	return rc;
}

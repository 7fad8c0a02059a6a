// SPDX-License-Identifier: GPL-2.0
/*
 * crucible-read-blocks: read a range of 4 KiB blocks one O_DIRECT read at
 * a time, each block several times in a row, and compare every read with
 * an image.
 *
 * With a round-robin read policy, N reads in a row of the same block go to
 * N different legs (when N legs may serve it), so every copy of every block
 * is read and checked: a stale or corrupt copy that the target failed to
 * notice shows up here as wrong data.
 *
 *   crucible-read-blocks [-t TIMES] [-e IMAGE]... DEVICE FIRST_BLOCK COUNT
 *
 *   -t TIMES   reads of each block in a row (default 3)
 *   -e IMAGE   a file holding the device's expected content from block 0:
 *              block B must equal IMAGE's bytes at B * 4096; with several
 *              -e, block B must equal block B of one of them (after a
 *              crash: the old data or the new, never anything else)
 *
 * Exits 0 when every read succeeded (and matched), 1 otherwise, 2 on a
 * usage error.  Each failure is printed with the block and the pass.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK 4096U
#define MAX_REPORTS 20
#define MAX_IMAGES 4

static void usage(void)
{
	fprintf(stderr, "usage: crucible-read-blocks [-t TIMES] [-e IMAGE]... DEVICE FIRST_BLOCK COUNT\n");
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
	unsigned long long first, count, b, bad = 0;
	unsigned int times = 3, t, nr_images = 0, i;
	const char *image[MAX_IMAGES];
	static unsigned char want[MAX_IMAGES][BLOCK];
	int img[MAX_IMAGES];
	void *got;
	int fd, opt;

	while ((opt = getopt(argc, argv, "t:e:")) != -1) {
		switch (opt) {
		case 't':
			times = num(optarg);
			break;
		case 'e':
			if (nr_images == MAX_IMAGES)
				usage();
			image[nr_images++] = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 3 || !times)
		usage();
	first = num(argv[optind + 1]);
	count = num(argv[optind + 2]);

	fd = open(argv[optind], O_RDONLY | O_DIRECT);
	if (fd < 0) {
		perror(argv[optind]);
		return 1;
	}
	for (i = 0; i < nr_images; i++) {
		img[i] = open(image[i], O_RDONLY);
		if (img[i] < 0) {
			perror(image[i]);
			return 1;
		}
	}
	if (posix_memalign(&got, BLOCK, BLOCK)) {
		perror("posix_memalign");
		return 1;
	}

	for (b = first; b < first + count; b++) {
		for (i = 0; i < nr_images; i++) {
			if (pread(img[i], want[i], BLOCK, b * BLOCK) != BLOCK) {
				fprintf(stderr, "%s has no block %llu\n", image[i], b);
				return 1;
			}
		}
		for (t = 0; t < times; t++) {
			ssize_t r = pread(fd, got, BLOCK, b * BLOCK);

			if (r != BLOCK) {
				if (bad++ < MAX_REPORTS)
					fprintf(stderr, "block %llu read %u: %s\n", b, t + 1,
						r < 0 ? strerror(errno) : "short read");
				continue;
			}
			for (i = 0; i < nr_images; i++)
				if (!memcmp(got, want[i], BLOCK))
					break;
			if (nr_images && i == nr_images) {
				if (bad++ < MAX_REPORTS)
					fprintf(stderr, "block %llu read %u: wrong data\n", b, t + 1);
			}
		}
	}
	free(got);
	close(fd);
	for (i = 0; i < nr_images; i++)
		close(img[i]);
	if (bad) {
		fprintf(stderr, "%llu bad reads of %llu\n", bad, count * times);
		return 1;
	}
	printf("read %llu blocks %u times each%s\n", count, times,
	       nr_images ? ", all as expected" : "");
	return 0;
}

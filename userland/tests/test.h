/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Common includes and small helpers of the native tests.
 */
#ifndef CRU_TEST_H
#define CRU_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Assert that @haystack contains @needle, showing both if not. */
#define assert_contains(haystack, needle)                                    \
	do {                                                                 \
		const char *h_ = (haystack), *n_ = (needle);                 \
		if (!strstr(h_, n_))                                         \
			fail_msg("'%s' does not contain '%s'", h_, n_);      \
	} while (0)

/* A temporary directory under $TMPDIR (or /tmp), removed by the caller. */
static inline char *test_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *path;

	if (asprintf(&path, "%s/crucible-test.XXXXXX", base ? base : "/tmp") < 0)
		return NULL;
	if (!mkdtemp(path)) {
		free(path);
		return NULL;
	}
	return path;
}

/* Create @path with @size bytes, all zero (sparse). */
static inline void test_make_file(const char *path, off_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, size), 0);
	close(fd);
}

static inline void test_pwrite(const char *path, const void *buf, size_t len,
			       off_t off)
{
	int fd = open(path, O_RDWR);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf, len, off), (ssize_t)len);
	close(fd);
}

static inline void test_pread(const char *path, void *buf, size_t len,
			      off_t off)
{
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, off), (ssize_t)len);
	close(fd);
}

static inline void test_rm_rf(const char *path)
{
	char *cmd;

	if (asprintf(&cmd, "rm -rf '%s'", path) >= 0) {
		if (system(cmd))
			fprintf(stderr, "# cannot remove %s\n", path);
		free(cmd);
	}
}

/*
 * Skip the current case, saying why: run-tests counts a skip without a
 * reason as a failure.  The reason goes out as "# skip: <reason>".
 */
#define test_skip(...)				\
	do {					\
		printf("# skip: " __VA_ARGS__);	\
		printf("\n");			\
		fflush(stdout);			\
		skip();				\
	} while (0)

#endif /* CRU_TEST_H */

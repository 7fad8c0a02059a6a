/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the pool tests share: a temporary directory with the path of one
 * file in it, opening a pool that must open, and comparing the two copies
 * of its bitmap on disk.
 */
#ifndef CRU_POOL_FIXTURE_H
#define CRU_POOL_FIXTURE_H

#include "test.h"

#include "../lib/pool.h"

#define MiB (1024 * 1024ULL)
#define BS 4096ULL

struct pool_fixture {
	char *dir;
	char path[512];
};

/*
 * Set *@state to a zeroed fixture of @size bytes that starts with a
 * struct pool_fixture: a new directory, and @file's path in it.
 */
static inline int pool_fixture_setup(void **state, size_t size,
				     const char *file)
{
	struct pool_fixture *fx = calloc(1, size);

	if (!fx)
		return -1;
	fx->dir = test_tmpdir();
	if (!fx->dir) {
		free(fx);
		return -1;
	}
	snprintf(fx->path, sizeof(fx->path), "%s/%s", fx->dir, file);
	*state = fx;
	return 0;
}

static inline int pool_fixture_teardown(void **state)
{
	struct pool_fixture *fx = *state;

	test_rm_rf(fx->dir);
	free(fx->dir);
	free(fx);
	return 0;
}

/* Open the pool on @path read-write; fail the test if it does not open. */
static inline struct cru_pool *test_pool_open(const char *path)
{
	struct cru_pool *p;
	struct cru_err err;

	if (cru_pool_open(path, NULL, &p, &err))
		fail_msg("pool open: %s", err.msg);
	return p;
}

/*
 * The primary and mirror bitmap of the pool on @path hold the same bits
 * and the same generation and index (the copy number and the checksum
 * differ).
 */
static inline void test_pool_bitmaps_equal(const char *path,
					   const struct cru_pool_info *info,
					   const char *when)
{
	size_t bs = info->block_size;
	uint8_t *a = malloc(bs), *b = malloc(bs);
	uint64_t c;

	assert_non_null(a);
	assert_non_null(b);
	for (c = 0; c < info->bitmap_blocks; c++) {
		test_pread(path, a, bs, (off_t)((info->bitmap_start + c) * bs));
		test_pread(path, b, bs, (off_t)((info->mirror_start + c) * bs));
		if (memcmp(a + CRU_POOL_BITMAP_HDR, b + CRU_POOL_BITMAP_HDR,
			   bs - CRU_POOL_BITMAP_HDR))
			fail_msg("%s: the bitmap copies of block %llu differ",
				 when, (unsigned long long)c);
		if (memcmp(a + offsetof(struct cru_pool_bitmap_hdr, generation),
			   b + offsetof(struct cru_pool_bitmap_hdr, generation),
			   2 * sizeof(__le64)))
			fail_msg("%s: the bitmap copies of block %llu differ in generation or index",
				 when, (unsigned long long)c);
	}
	free(a);
	free(b);
}

#endif /* CRU_POOL_FIXTURE_H */

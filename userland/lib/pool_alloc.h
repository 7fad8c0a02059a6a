/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pool's in-memory allocator: the free extents of the data area,
 * indexed twice (by start, to coalesce neighbours; by length then start,
 * for best fit), plus a summary per chunk (one chunk = the blocks one
 * bitmap block describes): its free count and its first free block.
 *
 * It is derived from the on-disk bitmap when the pool is opened and kept
 * in step with it by the transactions of pool.c; it never does I/O.
 * Allocation is O(log n) in the number of free extents and never scans
 * the bitmap.
 */
#ifndef CRU_POOL_ALLOC_H
#define CRU_POOL_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cru_pool_extent {
	uint64_t start;		/* pool block */
	uint64_t len;		/* blocks */
};

struct cru_xt;

struct cru_alloc {
	uint64_t base;		/* first block managed (the data area) */
	uint64_t nr;		/* blocks managed */
	uint64_t free;		/* free blocks */
	uint64_t nr_free_extents;
	struct cru_xt *by_start;
	struct cru_xt *by_len;
	uint32_t chunk_bits;	/* blocks per chunk */
	uint64_t nr_chunks;
	uint32_t *chunk_free;	/* free blocks in each chunk */
	uint32_t *chunk_first;	/* first free block in each chunk (offset), or chunk_bits */
	uint64_t rng;
};

/* Every block starts allocated; add the free ones with cru_alloc_add_free. */
int cru_alloc_init(struct cru_alloc *a, uint64_t base, uint64_t nr,
		   uint32_t chunk_bits);
void cru_alloc_destroy(struct cru_alloc *a);

/*
 * Make [start, start+len) free, coalescing with free neighbours.  -EINVAL
 * if the range is outside the data area or any block of it is free.
 */
int cru_alloc_add_free(struct cru_alloc *a, uint64_t start, uint64_t len);
/* Make [start, start+len) allocated; -EINVAL unless all of it is free. */
int cru_alloc_take(struct cru_alloc *a, uint64_t start, uint64_t len);

/*
 * Best fit for @blocks: the smallest free extent that holds them all
 * (the lowest one among equals); if there is none, the largest extents
 * whole, then the best fit for the rest, so that the fewest extents are
 * used.  At most @max_extents.  Takes them, and returns how many in
 * *@nr.  -ENOSPC if there is not that much free space, -E2BIG if it
 * would need more than @max_extents extents; nothing is taken then.
 */
int cru_alloc_best_fit(struct cru_alloc *a, uint64_t blocks,
		       uint32_t max_extents, struct cru_pool_extent *out,
		       uint32_t *nr);

bool cru_alloc_is_free(const struct cru_alloc *a, uint64_t start,
		       uint64_t len);		/* every block free */
bool cru_alloc_is_allocated(const struct cru_alloc *a, uint64_t start,
			    uint64_t len);	/* no block free */
uint64_t cru_alloc_largest(const struct cru_alloc *a);
/* Free blocks in [start, start+len). */
uint64_t cru_alloc_count_free(const struct cru_alloc *a, uint64_t start,
			      uint64_t len);

/*
 * Bits of @nbits blocks from @first (1 allocated, 0 free), LSB first, into
 * @bits; the bytes past the last bit are not touched.
 */
void cru_alloc_fill_bits(const struct cru_alloc *a, uint64_t first,
			 uint64_t nbits, uint8_t *bits);

/* Call @fn on every free extent in order of start; stop if it returns non-zero. */
int cru_alloc_for_each_free(const struct cru_alloc *a,
			    int (*fn)(const struct cru_pool_extent *, void *),
			    void *arg);

#endif /* CRU_POOL_ALLOC_H */

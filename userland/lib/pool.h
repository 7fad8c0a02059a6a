/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Crucible pools: leg regions carved out of a raw block device (or a file)
 * with an on-disk bitmap allocator.  Format: pool_format.h and
 * Documentation/pool-format.rst.
 *
 * A pool is opened by one process at a time (flock); every change is a
 * transaction: recorded in the intent log and made durable before the
 * bitmaps and the region table change, committed by the superblocks.  An
 * interrupted transaction is rolled back when the pool is next opened.
 *
 * Operations commit one by one, unless cru_pool_begin() opened a
 * transaction: then they accumulate until cru_pool_commit().  Blocks
 * freed in a transaction are not allocated again before it commits.
 *
 * After an I/O error the handle refuses everything but cru_pool_close():
 * open the pool again (which resolves what was left half-done).
 */
#ifndef CRU_POOL_H
#define CRU_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "log.h"
#include "pool_alloc.h"
#include "pool_format.h"

struct cru_pool;

struct cru_pool_init_opts {
	const char *name;		/* NULL: from the device's file name */
	bool force;			/* overwrite signatures */
	uint32_t block_size;		/* 0: 4 KiB or the device's if larger */
	uint32_t max_regions;		/* 0: CRU_POOL_DEFAULT_REGIONS */
};

struct cru_pool_open_opts {
	bool readonly;			/* resolve in memory only, write nothing */
	bool nowait;			/* -EBUSY at once if another process holds it */
	/*
	 * Tests: after this many writes (when >= 0) every write fails, as if
	 * the machine stopped there; with @torn the first refused write is
	 * half done.  0 in a zeroed struct means "stop before the first
	 * write": set it to -1 for normal use (cru_pool_open_opts_default).
	 */
	long crash_after;
	bool torn;
};

static inline struct cru_pool_open_opts cru_pool_open_opts_default(void)
{
	struct cru_pool_open_opts o = { .crash_after = -1 };

	return o;
}

/* What the last open had to repair. */
struct cru_pool_recovery {
	bool sb_repaired;		/* a superblock copy was bad or behind */
	uint32_t ops_rolled_back;	/* operations of an interrupted transaction */
	uint64_t primary_bad;		/* bitmap blocks failing their checks */
	uint64_t mirror_bad;
	uint64_t bitmap_rewritten;	/* bitmap blocks rewritten (both copies) */
	uint64_t leaked_blocks;		/* allocated in the bitmap, owned by no region */
	uint64_t unrecorded_blocks;	/* owned by a region, free in the bitmap */
	bool bitmap_rebuilt;		/* from the region table */
};

struct cru_pool_region {
	bool used;
	uint32_t slot;
	uint64_t generation;
	uint8_t uuid[16];
	char name[CRU_POOL_REGION_NAME_LEN];
	uint64_t blocks;
	uint64_t created;
	uint32_t nr_extents;
	struct cru_pool_extent *extents;
};

struct cru_pool_info {
	char path[4096];
	char name[CRU_POOL_NAME_LEN];
	uint8_t uuid[16];
	bool is_bdev;
	dev_t rdev;
	uint32_t block_size;
	uint64_t generation;
	uint64_t total_blocks;
	uint64_t intent_start, intent_blocks;
	uint64_t region_table_start;
	uint32_t max_regions;
	uint32_t nr_regions;		/* in use */
	uint64_t bitmap_start, mirror_start, bitmap_blocks;
	uint32_t bits_per_block;
	uint64_t data_start, data_blocks;
	uint64_t free_blocks;
	uint64_t free_extents;
	uint64_t largest_free;		/* blocks */
	uint32_t flags;			/* CRU_POOL_F_* */
	uint32_t optimal_io;
	uint64_t created;
	uint64_t discarded_bytes;	/* by this handle */
	uint64_t discards;
};

/* Pool and region names: 1 to 31 (pool) or 63 (region) of [A-Za-z0-9_.+], region also '-'. */
bool cru_pool_name_valid(const char *name);
bool cru_pool_region_name_valid(const char *name);

/*
 * Write a new pool on @path.  Refuses (-EEXIST, saying what it found) a
 * device or file with a signature (filesystem, swap, LUKS, LVM, partition
 * table, a crucible pool or leg) unless @o->force; -ENOSPC if it is too
 * small.  Block devices are opened exclusively.
 */
int cru_pool_init(const char *path, const struct cru_pool_init_opts *o,
		  struct cru_pool_info *info, struct cru_err *err);

/*
 * Open the pool on @path: -EMEDIUMTYPE if there is none, -EUCLEAN if it is
 * damaged beyond what recovery can resolve, -EBUSY if another process
 * holds it (with @o->nowait).
 */
int cru_pool_open(const char *path, const struct cru_pool_open_opts *o,
		  struct cru_pool **pp, struct cru_err *err);
/* Issue queued discards (unless the handle failed) and close. */
void cru_pool_close(struct cru_pool *p);

void cru_pool_get_info(const struct cru_pool *p, struct cru_pool_info *info);
const struct cru_pool_recovery *cru_pool_recovery(const struct cru_pool *p);
int cru_pool_fd(const struct cru_pool *p);

/* Regions: by name, or every slot in order (NULL for free slots). */
const struct cru_pool_region *cru_pool_region_find(const struct cru_pool *p,
						   const char *name);
const struct cru_pool_region *cru_pool_region_slot(const struct cru_pool *p,
						   uint32_t slot);

/* Flags of cru_pool_region_create. */
#define CRU_POOL_NOZERO		BIT(0)	/* do not zero the new region */

/*
 * Allocate a region of @bytes (rounded up to whole blocks) named @name
 * (NULL: "r<n>", the lowest free), zeroed so that it is a blank leg.
 * -EEXIST if the name is taken, -ENOSPC if there is not enough free
 * space or no free slot, -E2BIG if the free space is too fragmented.
 */
int cru_pool_region_create(struct cru_pool *p, const char *name,
			   uint64_t bytes, unsigned int flags,
			   const struct cru_pool_region **out,
			   struct cru_err *err);
/* Free a region and all its blocks; -ENOENT if there is none of that name. */
int cru_pool_region_remove(struct cru_pool *p, const char *name,
			   struct cru_err *err);
/*
 * Give back blocks [start, start+len) of region @name: they must be part
 * of one of its extents (-EINVAL otherwise: free, or another region's),
 * and not all of the region (-EINVAL: remove it instead).
 */
int cru_pool_free_extent(struct cru_pool *p, const char *name,
			 uint64_t start, uint64_t len, struct cru_err *err);

/* Group the following operations into one transaction. */
int cru_pool_begin(struct cru_pool *p, struct cru_err *err);
int cru_pool_commit(struct cru_pool *p, struct cru_err *err);

/* Is block @block (a pool block in the data area) free? */
bool cru_pool_block_free(const struct cru_pool *p, uint64_t block);
/* The allocator's summary of chunk @c: free blocks and the first free one. */
void cru_pool_chunk_summary(const struct cru_pool *p, uint64_t c,
			    uint32_t *free_blocks, uint32_t *first_free);
/* Issue the queued discards now. */
int cru_pool_discard_flush(struct cru_pool *p, struct cru_err *err);

/* Tests: stop writing after @writes more writes (-1: never). */
void cru_pool_set_crash_after(struct cru_pool *p, long writes, bool torn);
uint64_t cru_pool_writes(const struct cru_pool *p);

/* The name pool init gives a pool on @path when none is asked for. */
void cru_pool_default_name(const char *path, char name[CRU_POOL_NAME_LEN]);

#endif /* CRU_POOL_H */

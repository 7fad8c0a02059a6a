/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pool regions as device-mapper linear devices, named
 * "crucible-pool-<pool>-<region>" (pool names have no '-', so the name
 * splits one way only), with the device-mapper UUID
 * "CRUCIBLE-POOL-<pool uuid>-<region uuid>".
 */
#ifndef CRU_POOL_DM_H
#define CRU_POOL_DM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "log.h"
#include "pool.h"

#define CRU_POOL_DM_PREFIX "crucible-pool-"

/* 0, or -ENAMETOOLONG. */
int cru_pool_dm_name(const char *pool, const char *region, char *buf,
		     size_t len);

/*
 * The table of region @r of a pool on device @pooldev with @block_size
 * blocks: one "linear" line per extent, '\n'-separated.
 */
int cru_pool_dm_table(dev_t pooldev, uint32_t block_size,
		      const struct cru_pool_region *r, char **table);

/*
 * Create the device @name for region @r.  A device of that name with the
 * same table is left as it is (*@created false); with another table it is
 * -EEXIST.
 */
int cru_pool_dm_create(const char *name, dev_t pooldev, uint32_t block_size,
		       const uint8_t pool_uuid[16],
		       const struct cru_pool_region *r, bool *created,
		       struct cru_err *err);

/* Does @name exist, and how many openers does it have? */
int cru_pool_dm_info(const char *name, bool *exists, int *open_count,
		     struct cru_err *err);

/*
 * Remove @name: -ENODEV if there is no such device, -EBUSY if it is open
 * (a leg of a volume, mounted, ...).
 */
int cru_pool_dm_remove(const char *name, struct cru_err *err);

#endif /* CRU_POOL_DM_H */

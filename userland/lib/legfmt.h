/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Formatting a new leg set (cruciblectl format): check that the three legs
 * are blank and big enough, zero their metadata area, and write the two
 * superblock copies of each with the shared format code.
 */
#ifndef CRU_LEGFMT_H
#define CRU_LEGFMT_H

#include <stdbool.h>
#include <stdint.h>

#include <crucible/format.h>

#include "log.h"
#include "status.h"

/* Bytes of a leg that must be zero for it to count as blank. */
#define CRU_BLANK_CHECK_BYTES	(128 * 1024)

struct cru_format_opts {
	uint64_t volume_bytes;
	uint64_t region_bytes;		/* 0: the default (1 MiB) */
	bool force;			/* format legs that are not blank */
	/*
	 * The parent the volume will be made from, or NULL.  Only its size
	 * is recorded (parent_sectors): the target accepts a parent only on
	 * legs that record one of that size.
	 */
	const char *parent;
};

struct cru_format_result {
	uint8_t uuid[16];
	uint64_t seed;
	struct crucible_geometry geo;
	uint64_t parent_sectors;	/* 0: no parent */
};

/*
 * Returns 0, or -EEXIST when a leg is not blank and !force, -ENOSPC when a
 * leg is too small, -EINVAL for bad sizes (or a parent larger than the
 * volume, or the same device as a leg), another -errno for I/O errors.
 * Every leg and the parent are checked before any leg is written.
 */
int cru_format_legs(const char *const legs[CRU_NR_LEGS],
		    const struct cru_format_opts *opts,
		    struct cru_format_result *res, struct cru_err *err);

/* Fill superblock copy @sb for leg @leg_index of a new leg set. */
void cru_format_sb(struct crucible_sb *sb, const struct crucible_geometry *geo,
		   const uint8_t uuid[16], uint64_t seed, unsigned int leg_index,
		   uint64_t parent_sectors);

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" */
void cru_uuid_str(const uint8_t uuid[16], char out[37]);

#endif /* CRU_LEGFMT_H */

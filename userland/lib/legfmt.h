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

/* What cru_upgrade_legs() did to each leg. */
struct cru_upgrade_result {
	unsigned int from_version[CRU_NR_LEGS];	/* 2: nothing to do */
	uint64_t stamped_regions[CRU_NR_LEGS];
	uint64_t initialised[CRU_NR_LEGS];	/* record slots given "never written" */
	uint8_t uuid[16];
};

/*
 * Upgrade a leg set of format version 1 to version 2
 * (Documentation/on-disk-format.rst, "Upgrading from version 1"): in every
 * region a leg has stamped, each blank record slot gets the record "never
 * written", that is made durable, then both superblock copies are written
 * as version 2.  Legs at version 2 already are left alone, so an
 * interrupted upgrade is finished by running it again.  The legs must not
 * be in use (block devices are opened O_EXCL) and must be the three legs
 * of one volume.  Returns 0, or -EINVAL (not a leg set of one volume,
 * a version it does not know) or another -errno.
 */
int cru_upgrade_legs(const char *const legs[CRU_NR_LEGS],
		     struct cru_upgrade_result *res, struct cru_err *err);

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" */
void cru_uuid_str(const uint8_t uuid[16], char out[37]);

#endif /* CRU_LEGFMT_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a device (or file) is: its block sizes, optimal I/O size, whether it
 * is rotational and can discard (from sysfs, with ioctls as a fallback),
 * and whether it carries something that must not be overwritten by
 * accident (libblkid: filesystems, swap, LUKS, LVM, RAID members,
 * partition tables; and our own formats: a crucible pool or leg).
 */
#ifndef CRU_BLKPROBE_H
#define CRU_BLKPROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "log.h"

struct cru_blkprobe {
	bool is_bdev;
	dev_t rdev;			/* block devices */
	uint64_t bytes;
	uint32_t logical_block;		/* bytes; files: 512 */
	uint32_t physical_block;	/* bytes; files: 4096 */
	uint32_t optimal_io;		/* bytes, 0 = not reported */
	bool rotational;
	bool discard;			/* BLKDISCARD (devices) or hole punching (files) */
	uint64_t discard_max;		/* bytes per discard, devices */
};

/* Probe the open @fd of @path. */
int cru_blkprobe(int fd, const char *path, struct cru_blkprobe *out,
		 struct cru_err *err);

/*
 * Look for signatures on @fd.  Returns 0 if there is none, 1 if there is
 * one (@what then says what: "an ext4 filesystem", "a gpt partition
 * table", "a crucible pool 'p0' (uuid ...)"), or a negative errno.
 */
int cru_blkprobe_signature(int fd, const char *path, char *what, size_t len,
			   struct cru_err *err);

/* ---- whole reads and writes of a device or file */

/*
 * All @len bytes at @off (interrupted and short transfers go on): 0 or a
 * negative errno; a transfer that meets the end is -EIO.
 */
int cru_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);
int cru_pread_all(int fd, void *buf, size_t len, uint64_t off);

/*
 * Make bytes [@off, @off + @len) read as zeros: BLKZEROOUT on a block
 * device; on a file a punched hole (@punch: its space is given back) or
 * FALLOC_FL_ZERO_RANGE; written zeros where those are not supported.
 */
int cru_zero_range(int fd, bool is_bdev, uint64_t off, uint64_t len,
		   bool punch);

#endif /* CRU_BLKPROBE_H */

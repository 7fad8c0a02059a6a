// SPDX-License-Identifier: GPL-2.0
/*
 * Formatting a leg set.
 */
#include "legfmt.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blkprobe.h"
#include "parse.h"

_Static_assert(sizeof(struct crucible_sb) == CRUCIBLE_BLOCK_SIZE,
	       "superblock is one block");

struct leg {
	const char *path;
	int fd;
	bool is_bdev;
	struct stat st;
	uint64_t bytes;
};

void cru_uuid_str(const uint8_t u[16], char out[37])
{
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
		 u[10], u[11], u[12], u[13], u[14], u[15]);
}

void cru_format_sb(struct crucible_sb *sb, const struct crucible_geometry *geo,
		   const uint8_t uuid[16], uint64_t seed, unsigned int leg_index,
		   uint64_t parent_sectors)
{
	memset(sb, 0, sizeof(*sb));
	sb->magic = cpu_to_le64(CRUCIBLE_MAGIC);
	sb->version = cpu_to_le32(CRUCIBLE_FORMAT_VERSION);
	sb->leg_index = cpu_to_le32(leg_index);
	sb->nr_legs = cpu_to_le32(CRUCIBLE_NR_LEGS);
	sb->block_size = cpu_to_le32(CRUCIBLE_BLOCK_SIZE);
	sb->seq = cpu_to_le64(1);
	memcpy(sb->uuid, uuid, sizeof(sb->uuid));
	sb->volume_blocks = cpu_to_le64(geo->volume_blocks);
	sb->region_blocks = cpu_to_le32(geo->region_blocks);
	sb->region_table_start = cpu_to_le64(geo->region_table_start);
	sb->record_start = cpu_to_le64(geo->record_start);
	sb->data_start = cpu_to_le64(geo->data_start);
	/* generation 0, flush 0: the first activation stamps both. */
	sb->seed = cpu_to_le64(seed);
	/* Hydration starts at block 0: hydrated_blocks stays 0. */
	sb->parent_sectors = cpu_to_le64(parent_sectors);
	/* leg_state all CRUCIBLE_LEG_OK (0), owner empty, flags 0. */
	crucible_sb_seal(sb);
}

static void legs_close(struct leg *legs)
{
	int i;

	for (i = 0; i < CRU_NR_LEGS; i++)
		if (legs[i].fd >= 0)
			close(legs[i].fd);
}

static int leg_open(struct leg *leg, int idx, struct cru_err *err)
{
	struct stat st;

	if (stat(leg->path, &st))
		return cru_err_set(err, -errno, "leg %d (%s): %s", idx,
				   leg->path, strerror(errno));
	leg->is_bdev = S_ISBLK(st.st_mode);
	if (!leg->is_bdev && !S_ISREG(st.st_mode))
		return cru_err_set(err, -EINVAL,
				   "leg %d (%s): not a block device or regular file",
				   idx, leg->path);
	/* O_EXCL on a block device: refuse one that is mounted or mapped. */
	leg->fd = open(leg->path,
		       O_RDWR | O_CLOEXEC | (leg->is_bdev ? O_EXCL : 0));
	if (leg->fd < 0) {
		if (errno == EBUSY)
			return cru_err_set(err, -EBUSY,
					   "leg %d (%s): in use (mounted, or part of another device)",
					   idx, leg->path);
		return cru_err_set(err, -errno, "leg %d (%s): cannot open: %s",
				   idx, leg->path, strerror(errno));
	}
	if (fstat(leg->fd, &leg->st))
		return cru_err_set(err, -errno, "leg %d (%s): %s", idx,
				   leg->path, strerror(errno));
	if (leg->is_bdev) {
		if (ioctl(leg->fd, BLKGETSIZE64, &leg->bytes))
			return cru_err_set(err, -errno,
					   "leg %d (%s): cannot read its size: %s",
					   idx, leg->path, strerror(errno));
	} else {
		leg->bytes = leg->st.st_size;
	}
	return 0;
}

static bool same_leg(const struct leg *a, const struct leg *b)
{
	if (a->is_bdev != b->is_bdev)
		return false;
	if (a->is_bdev)
		return a->st.st_rdev == b->st.st_rdev;
	return a->st.st_dev == b->st.st_dev && a->st.st_ino == b->st.st_ino;
}

/*
 * The parent is only read, and may be in use (by other volumes made from
 * it): no O_EXCL.  Its size in sectors is what the target compares.
 */
static int parent_open(struct leg *parent, struct cru_err *err)
{
	struct stat st;

	if (stat(parent->path, &st))
		return cru_err_set(err, -errno, "parent (%s): %s", parent->path,
				   strerror(errno));
	parent->is_bdev = S_ISBLK(st.st_mode);
	if (!parent->is_bdev && !S_ISREG(st.st_mode))
		return cru_err_set(err, -EINVAL,
				   "parent (%s): not a block device or regular file",
				   parent->path);
	parent->fd = open(parent->path, O_RDONLY | O_CLOEXEC);
	if (parent->fd < 0)
		return cru_err_set(err, -errno, "parent (%s): cannot open: %s",
				   parent->path, strerror(errno));
	if (fstat(parent->fd, &parent->st))
		return cru_err_set(err, -errno, "parent (%s): %s", parent->path,
				   strerror(errno));
	if (parent->is_bdev) {
		if (ioctl(parent->fd, BLKGETSIZE64, &parent->bytes))
			return cru_err_set(err, -errno,
					   "parent (%s): cannot read its size: %s",
					   parent->path, strerror(errno));
	} else {
		parent->bytes = parent->st.st_size;
	}
	return 0;
}

static int parent_check(const struct leg *parent, const struct leg *legs,
			uint64_t volume_bytes, struct cru_err *err)
{
	int i;

	for (i = 0; i < CRU_NR_LEGS; i++)
		if (same_leg(parent, &legs[i]))
			return cru_err_set(err, -EINVAL,
					   "parent (%s) is the same device as leg %d",
					   parent->path, i);
	/* A loop device over a file ends at the last whole sector. */
	if (parent->bytes >> 9 == 0)
		return cru_err_set(err, -EINVAL,
				   "parent (%s): empty (less than one sector)",
				   parent->path);
	if (parent->bytes >> 9 > volume_bytes >> 9)
		return cru_err_set(err, -EINVAL,
				   "parent (%s) is larger than the volume (%llu > %llu sectors)",
				   parent->path,
				   (unsigned long long)(parent->bytes >> 9),
				   (unsigned long long)(volume_bytes >> 9));
	return 0;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* 0 if blank, -EEXIST (with the reason) if not. */
static int leg_blank_check(const struct leg *leg, int idx, uint8_t *buf,
			   struct cru_err *err)
{
	size_t len = CRU_BLANK_CHECK_BYTES;
	const struct crucible_sb *sb = (const struct crucible_sb *)buf;
	enum crucible_sb_verdict v[2];
	ssize_t n;
	int c;

	if (leg->bytes < len)
		len = leg->bytes;
	n = pread(leg->fd, buf, len, 0);
	if (n < 0)
		return cru_err_set(err, -errno, "leg %d (%s): cannot read: %s",
				   idx, leg->path, strerror(errno));
	if ((size_t)n != len)
		return cru_err_set(err, -EIO, "leg %d (%s): short read",
				   idx, leg->path);
	if (all_zero(buf, len))
		return 0;
	for (c = 0; c < 2; c++)
		v[c] = crucible_sb_check(&sb[c]);
	for (c = 0; c < 2; c++) {
		char uuid[37];

		if (v[c] == CRUCIBLE_SB_BLANK)
			continue;
		if (v[c] == CRUCIBLE_SB_VALID) {
			cru_uuid_str(sb[c].uuid, uuid);
			return cru_err_set(err, -EEXIST,
					   "leg %d (%s): already formatted (leg %u of volume %s); use --force to overwrite",
					   idx, leg->path,
					   le32_to_cpu(sb[c].leg_index), uuid);
		}
		return cru_err_set(err, -EEXIST,
				   "leg %d (%s): carries a crucible superblock (%s); use --force to overwrite",
				   idx, leg->path, crucible_sb_verdict_str(v[c]));
	}
	return cru_err_set(err, -EEXIST,
			   "leg %d (%s): not blank (non-zero data in its first %d KiB: a filesystem or partition table?); use --force to overwrite",
			   idx, leg->path, CRU_BLANK_CHECK_BYTES / 1024);
}

static int check_sizes(const struct cru_format_opts *opts,
		       struct crucible_geometry *geo, struct cru_err *err)
{
	uint64_t region = opts->region_bytes ? opts->region_bytes :
			  (uint64_t)CRUCIBLE_DEFAULT_REGION_BLOCKS *
			  CRUCIBLE_BLOCK_SIZE;

	if (!opts->volume_bytes || opts->volume_bytes % CRUCIBLE_BLOCK_SIZE)
		return cru_err_set(err, -EINVAL,
				   "size %llu bytes: must be a non-zero multiple of 4 KiB",
				   (unsigned long long)opts->volume_bytes);
	if (region % CRUCIBLE_BLOCK_SIZE ||
	    !crucible_region_blocks_valid(region / CRUCIBLE_BLOCK_SIZE))
		return cru_err_set(err, -EINVAL,
				   "region size %llu bytes: must be a power of two between 64 KiB and 1 GiB",
				   (unsigned long long)region);
	if (crucible_geometry_init(geo, opts->volume_bytes / CRUCIBLE_BLOCK_SIZE,
				   region / CRUCIBLE_BLOCK_SIZE))
		return cru_err_set(err, -EINVAL,
				   "size %llu bytes: too large",
				   (unsigned long long)opts->volume_bytes);
	return 0;
}

int cru_format_legs(const char *const paths[CRU_NR_LEGS],
		    const struct cru_format_opts *opts,
		    struct cru_format_result *res, struct cru_err *err)
{
	struct leg legs[CRU_NR_LEGS];
	struct leg parent = { .fd = -1, .path = opts->parent };
	struct crucible_sb sb;
	uint8_t *buf = NULL;
	uint64_t need;
	int i, j, c, ret;

	memset(res, 0, sizeof(*res));
	for (i = 0; i < CRU_NR_LEGS; i++) {
		memset(&legs[i], 0, sizeof(legs[i]));
		legs[i].fd = -1;
		legs[i].path = paths[i];
	}
	ret = check_sizes(opts, &res->geo, err);
	if (ret)
		return ret;
	need = res->geo.leg_blocks * CRUCIBLE_BLOCK_SIZE;

	buf = malloc(CRU_BLANK_CHECK_BYTES);
	if (!buf)
		return cru_err_set(err, -ENOMEM, "out of memory");

	for (i = 0; i < CRU_NR_LEGS; i++) {
		ret = leg_open(&legs[i], i, err);
		if (ret)
			goto out;
		for (j = 0; j < i; j++)
			if (same_leg(&legs[i], &legs[j])) {
				ret = cru_err_set(err, -EINVAL,
						  "legs %d and %d are the same device (%s)",
						  j, i, legs[i].path);
				goto out;
			}
		if (legs[i].bytes < need) {
			char have[32], want[32];

			cru_format_size(legs[i].bytes, have, sizeof(have));
			cru_format_size(need, want, sizeof(want));
			ret = cru_err_set(err, -ENOSPC,
					  "leg %d (%s): too small (%s, a volume of this size needs %s per leg)",
					  i, legs[i].path, have, want);
			goto out;
		}
	}
	if (opts->parent) {
		ret = parent_open(&parent, err);
		if (!ret)
			ret = parent_check(&parent, legs, opts->volume_bytes,
					   err);
		if (ret)
			goto out;
		res->parent_sectors = parent.bytes >> 9;
	}
	/* Check every leg before writing any: never leave a mixed set. */
	for (i = 0; i < CRU_NR_LEGS && !opts->force; i++) {
		ret = leg_blank_check(&legs[i], i, buf, err);
		if (ret)
			goto out;
	}

	if (getrandom(res->uuid, sizeof(res->uuid), 0) != sizeof(res->uuid) ||
	    getrandom(&res->seed, sizeof(res->seed), 0) != sizeof(res->seed)) {
		ret = cru_err_set(err, -EIO, "cannot get random bytes: %s",
				  strerror(errno));
		goto out;
	}
	res->uuid[6] = (res->uuid[6] & 0x0f) | 0x40;	/* version 4 */
	res->uuid[8] = (res->uuid[8] & 0x3f) | 0x80;	/* RFC 4122 variant */

	for (i = 0; i < CRU_NR_LEGS; i++) {
		/* Zeros over the metadata area: old records must not survive. */
		ret = cru_zero_range(legs[i].fd, legs[i].is_bdev, 0,
				     res->geo.data_start * CRUCIBLE_BLOCK_SIZE,
				     false);
		if (ret) {
			cru_err_set(err, ret, "leg %d (%s): cannot zero its metadata area: %s",
				    i, legs[i].path, strerror(-ret));
			goto out;
		}
		cru_format_sb(&sb, &res->geo, res->uuid, res->seed, i,
			      res->parent_sectors);
		for (c = 0; c < CRUCIBLE_SB_COPIES && !ret; c++)
			ret = cru_pwrite_all(legs[i].fd, &sb, sizeof(sb),
					     (uint64_t)c * CRUCIBLE_BLOCK_SIZE);
		if (!ret && fsync(legs[i].fd))
			ret = -errno;
		if (ret) {
			cru_err_set(err, ret, "leg %d (%s): cannot write its superblock: %s",
				    i, legs[i].path, strerror(-ret));
			goto out;
		}
	}
out:
	legs_close(legs);
	if (parent.fd >= 0)
		close(parent.fd);
	free(buf);
	return ret;
}

/*
 * Upgrading version 1 legs
 */

/* Read both superblock copies of @leg; the one to use goes to @sb. */
static int upgrade_read_sb(struct leg *leg, int idx, struct crucible_sb *sb,
			   struct cru_err *err)
{
	struct crucible_sb copies[CRUCIBLE_SB_COPIES];
	enum crucible_sb_verdict v[CRUCIBLE_SB_COPIES];
	int c, pick, ret;

	ret = cru_pread_all(leg->fd, copies, sizeof(copies), 0);
	if (ret)
		return cru_err_set(err, ret, "leg %d (%s): cannot read its superblocks: %s",
				   idx, leg->path, strerror(-ret));
	for (c = 0; c < CRUCIBLE_SB_COPIES; c++)
		v[c] = crucible_sb_check_any(&copies[c]);
	pick = crucible_sb_pick(&copies[0], v[0], &copies[1], v[1]);
	if (pick < 0)
		return cru_err_set(err, -EINVAL,
				   "leg %d (%s): no valid superblock (%s): not a crucible leg, or a damaged one",
				   idx, leg->path,
				   crucible_sb_verdict_str(v[0] == CRUCIBLE_SB_BLANK ? v[1] : v[0]));
	*sb = copies[pick];
	if (le32_to_cpu(sb->leg_index) != (unsigned int)idx)
		return cru_err_set(err, -EINVAL,
				   "leg %d (%s): holds leg %u of its volume: legs are given in the wrong order",
				   idx, leg->path, le32_to_cpu(sb->leg_index));
	return 0;
}

/*
 * Give every blank record slot of the regions @leg stamped the record
 * "never written"; returns 0 and counts in @res, or -errno.
 */
static int upgrade_records(struct leg *leg, int idx, const struct crucible_sb *sb,
			   struct cru_upgrade_result *res, struct cru_err *err)
{
	static const struct crucible_rec unwritten = { .hash = CRUCIBLE_HASH_UNWRITTEN };
	const size_t chunk_blocks = 256;
	struct crucible_geometry geo;
	struct crucible_region_meta m;
	struct crucible_region_entry *table = NULL;
	struct crucible_record *recs = NULL;
	uint64_t seed = le64_to_cpu(sb->seed), blk, r, b;
	size_t n, i;
	bool changed;
	int ret;

	if (crucible_geometry_init(&geo, le64_to_cpu(sb->volume_blocks),
				   le32_to_cpu(sb->region_blocks)))
		return cru_err_set(err, -EINVAL, "leg %d (%s): impossible geometry",
				   idx, leg->path);
	table = malloc(geo.region_table_blocks * CRUCIBLE_BLOCK_SIZE);
	recs = malloc(chunk_blocks * CRUCIBLE_BLOCK_SIZE);
	if (!table || !recs) {
		ret = cru_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	ret = cru_pread_all(leg->fd, table, geo.region_table_blocks * CRUCIBLE_BLOCK_SIZE,
			    geo.region_table_start * CRUCIBLE_BLOCK_SIZE);
	if (ret) {
		cru_err_set(err, ret, "leg %d (%s): cannot read its region table: %s",
			    idx, leg->path, strerror(-ret));
		goto out;
	}
	for (r = 0; r < geo.nr_regions; r++) {
		crucible_region_decode(&table[r], seed, r, &m);
		if (m.stamped)
			res->stamped_regions[idx]++;
	}
	for (blk = 0; blk < geo.record_blocks; blk += n) {
		n = geo.record_blocks - blk < chunk_blocks ? geo.record_blocks - blk :
		    chunk_blocks;
		ret = cru_pread_all(leg->fd, recs, n * CRUCIBLE_BLOCK_SIZE,
				    (geo.record_start + blk) * CRUCIBLE_BLOCK_SIZE);
		if (ret) {
			cru_err_set(err, ret, "leg %d (%s): cannot read its records: %s",
				    idx, leg->path, strerror(-ret));
			goto out;
		}
		changed = false;
		for (i = 0; i < n * CRUCIBLE_RECORDS_PER_BLOCK; i++) {
			b = blk * CRUCIBLE_RECORDS_PER_BLOCK + i;
			if (b >= geo.volume_blocks)
				break;
			r = b >> geo.region_shift;
			if (!crucible_record_blank(&recs[i]))
				continue;
			crucible_region_decode(&table[r], seed, r, &m);
			if (!m.stamped)
				continue;
			crucible_record_encode(&recs[i], seed, b, &unwritten);
			res->initialised[idx]++;
			changed = true;
		}
		if (!changed)
			continue;
		ret = cru_pwrite_all(leg->fd, recs, n * CRUCIBLE_BLOCK_SIZE,
				     (geo.record_start + blk) * CRUCIBLE_BLOCK_SIZE);
		if (ret) {
			cru_err_set(err, ret, "leg %d (%s): cannot write its records: %s",
				    idx, leg->path, strerror(-ret));
			goto out;
		}
	}
	if (fsync(leg->fd))
		ret = cru_err_set(err, -errno, "leg %d (%s): cannot flush: %s",
				  idx, leg->path, strerror(errno));
out:
	free(table);
	free(recs);
	return ret;
}

/*
 * Both copies as version 2, one after the other, each made durable: a
 * crash between them leaves one valid version 2 copy, the newer.
 */
static int upgrade_write_sbs(struct leg *leg, int idx, struct crucible_sb *sb,
			     struct cru_err *err)
{
	uint64_t seq = le64_to_cpu(sb->seq);
	int step, ret;

	sb->version = cpu_to_le32(CRUCIBLE_FORMAT_VERSION);
	for (step = 1; step <= CRUCIBLE_SB_COPIES; step++) {
		sb->seq = cpu_to_le64(seq + step);
		crucible_sb_seal(sb);
		ret = cru_pwrite_all(leg->fd, sb, sizeof(*sb),
				     ((seq + step) % CRUCIBLE_SB_COPIES) * CRUCIBLE_BLOCK_SIZE);
		if (!ret && fsync(leg->fd))
			ret = -errno;
		if (ret)
			return cru_err_set(err, ret, "leg %d (%s): cannot write its superblock: %s",
					   idx, leg->path, strerror(-ret));
	}
	return 0;
}

int cru_upgrade_legs(const char *const paths[CRU_NR_LEGS],
		     struct cru_upgrade_result *res, struct cru_err *err)
{
	struct crucible_sb sb[CRU_NR_LEGS];
	struct leg legs[CRU_NR_LEGS];
	int i, ret = 0;

	memset(res, 0, sizeof(*res));
	for (i = 0; i < CRU_NR_LEGS; i++) {
		memset(&legs[i], 0, sizeof(legs[i]));
		legs[i].fd = -1;
		legs[i].path = paths[i];
	}
	/* Everything is checked before any leg is written. */
	for (i = 0; i < CRU_NR_LEGS && !ret; i++) {
		ret = leg_open(&legs[i], i, err);
		if (!ret)
			ret = upgrade_read_sb(&legs[i], i, &sb[i], err);
		if (!ret && i && (memcmp(sb[i].uuid, sb[0].uuid, sizeof(sb[0].uuid)) ||
				  sb[i].seed != sb[0].seed ||
				  sb[i].volume_blocks != sb[0].volume_blocks ||
				  sb[i].region_blocks != sb[0].region_blocks)) {
			char a[37], b[37];

			cru_uuid_str(sb[0].uuid, a);
			cru_uuid_str(sb[i].uuid, b);
			ret = cru_err_set(err, -EINVAL,
					  "leg %d (%s) is not a leg of the same volume as leg 0 (%s: volume %s, leg 0: volume %s)",
					  i, paths[i], paths[i], b, a);
		}
	}
	if (ret)
		goto out;
	memcpy(res->uuid, sb[0].uuid, sizeof(res->uuid));
	for (i = 0; i < CRU_NR_LEGS && !ret; i++) {
		res->from_version[i] = le32_to_cpu(sb[i].version);
		if (res->from_version[i] == CRUCIBLE_FORMAT_VERSION)
			continue;
		ret = upgrade_records(&legs[i], i, &sb[i], res, err);
		if (!ret)
			ret = upgrade_write_sbs(&legs[i], i, &sb[i], err);
	}
out:
	legs_close(legs);
	return ret;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Device probing: sysfs queue attributes and libblkid signatures.
 */
#include "blkprobe.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <blkid.h>
#include <crucible/format.h>

#include "legfmt.h"
#include "pool_format.h"

/* One number from /sys/dev/block/M:m/queue/@attr (or the disk's, for a partition). */
static bool sysfs_queue_u64(dev_t dev, const char *attr, uint64_t *out)
{
	static const char *const dirs[] = { "queue", "../queue" };
	char path[128], buf[64];
	size_t i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		FILE *f;
		bool ok;

		snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/%s/%s",
			 major(dev), minor(dev), dirs[i], attr);
		f = fopen(path, "re");
		if (!f)
			continue;
		ok = fgets(buf, sizeof(buf), f) &&
		     sscanf(buf, "%" SCNu64, out) == 1;
		fclose(f);
		if (ok)
			return true;
	}
	return false;
}

int cru_blkprobe(int fd, const char *path, struct cru_blkprobe *out,
		 struct cru_err *err)
{
	struct stat st;
	uint64_t v;
	int iv;
	unsigned int uv;

	memset(out, 0, sizeof(*out));
	if (fstat(fd, &st))
		return cru_err_set(err, -errno, "%s: %s", path, strerror(errno));
	if (S_ISREG(st.st_mode)) {
		/* A file follows the rules of a 4 KiB-sector device. */
		out->bytes = st.st_size;
		out->logical_block = 512;
		out->physical_block = 4096;
		out->discard = true;	/* hole punching; dropped if refused */
		return 0;
	}
	if (!S_ISBLK(st.st_mode))
		return cru_err_set(err, -EINVAL,
				   "%s: not a block device or regular file", path);
	out->is_bdev = true;
	out->rdev = st.st_rdev;
	if (ioctl(fd, BLKGETSIZE64, &out->bytes))
		return cru_err_set(err, -errno, "%s: cannot read its size: %s",
				   path, strerror(errno));
	if (sysfs_queue_u64(st.st_rdev, "logical_block_size", &v))
		out->logical_block = (uint32_t)v;
	else if (!ioctl(fd, BLKSSZGET, &iv))
		out->logical_block = (uint32_t)iv;
	if (sysfs_queue_u64(st.st_rdev, "physical_block_size", &v))
		out->physical_block = (uint32_t)v;
	else if (!ioctl(fd, BLKPBSZGET, &uv))
		out->physical_block = uv;
	if (sysfs_queue_u64(st.st_rdev, "optimal_io_size", &v))
		out->optimal_io = (uint32_t)v;
	else if (!ioctl(fd, BLKIOOPT, &uv))
		out->optimal_io = uv;
	if (sysfs_queue_u64(st.st_rdev, "rotational", &v))
		out->rotational = v != 0;
	if (sysfs_queue_u64(st.st_rdev, "discard_max_bytes", &v)) {
		out->discard_max = v;
		out->discard = v > 0;
	}
	if (!out->logical_block)
		out->logical_block = 512;
	if (out->physical_block < out->logical_block)
		out->physical_block = out->logical_block;
	return 0;
}

static int read_head(int fd, const char *path, uint8_t *buf, size_t len,
		     size_t *got, struct cru_err *err)
{
	ssize_t n;

	*got = 0;
	while (*got < len) {
		n = pread(fd, buf + *got, len - *got, (off_t)*got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return cru_err_set(err, -errno, "%s: cannot read: %s",
					   path, strerror(errno));
		}
		if (!n)
			break;
		*got += (size_t)n;
	}
	return 0;
}

/* A crucible pool superblock (either copy) or leg superblock. */
static int own_signature(int fd, const char *path, char *what, size_t len,
			 struct cru_err *err)
{
	size_t head = 2 * CRU_POOL_MAX_BLOCK, got, off;
	uint8_t *buf = malloc(head);
	char uuid[37];
	int ret, c;

	if (!buf)
		return cru_err_set(err, -ENOMEM, "out of memory");
	ret = read_head(fd, path, buf, head, &got, err);
	if (ret)
		goto out;
	for (off = 0; off + sizeof(struct cru_pool_sb) <= got;
	     off = off ? off * 2 : CRU_POOL_MIN_BLOCK) {
		const struct cru_pool_sb *sb = (const void *)(buf + off);

		if (le64_to_cpu(sb->magic) != CRU_POOL_MAGIC)
			continue;
		cru_uuid_str(sb->uuid, uuid);
		snprintf(what, len, "a crucible pool '%.*s' (uuid %s)",
			 CRU_POOL_NAME_LEN - 1, sb->name, uuid);
		ret = 1;
		goto out;
	}
	for (c = 0; c < CRUCIBLE_SB_COPIES; c++) {
		const struct crucible_sb *sb;
		enum crucible_sb_verdict v;

		if ((size_t)(c + 1) * CRUCIBLE_BLOCK_SIZE > got)
			break;
		sb = (const void *)(buf + c * CRUCIBLE_BLOCK_SIZE);
		v = crucible_sb_check_any(sb);
		if (v == CRUCIBLE_SB_BLANK)
			continue;
		cru_uuid_str(sb->uuid, uuid);
		if (v == CRUCIBLE_SB_VALID)
			snprintf(what, len, "a crucible leg (leg %u of volume %s)",
				 le32_to_cpu(sb->leg_index), uuid);
		else
			snprintf(what, len, "a crucible leg superblock (%s)",
				 crucible_sb_verdict_str(v));
		ret = 1;
		goto out;
	}
	ret = 0;
out:
	free(buf);
	return ret;
}

static void describe(blkid_probe pr, char *what, size_t len)
{
	const char *type = NULL, *usage = NULL, *label = NULL;
	char lab[96] = "";

	if (!blkid_probe_lookup_value(pr, "LABEL", &label, NULL) && label &&
	    *label)
		snprintf(lab, sizeof(lab), " labelled '%.64s'", label);
	if (!blkid_probe_lookup_value(pr, "PTTYPE", &type, NULL) && type) {
		snprintf(what, len, "a %s partition table", type);
		return;
	}
	if (blkid_probe_lookup_value(pr, "TYPE", &type, NULL) || !type)
		type = "unknown";
	if (blkid_probe_lookup_value(pr, "USAGE", &usage, NULL) || !usage)
		usage = "";
	if (!strcmp(type, "swap"))
		snprintf(what, len, "swap space (TYPE=swap)%s", lab);
	else if (!strcmp(type, "crypto_LUKS"))
		snprintf(what, len, "a LUKS encrypted volume (TYPE=crypto_LUKS)%s",
			 lab);
	else if (!strcmp(type, "LVM2_member") || !strcmp(type, "LVM1_member"))
		snprintf(what, len, "an LVM physical volume (TYPE=%s)", type);
	else if (!strcmp(usage, "filesystem"))
		snprintf(what, len, "a filesystem (TYPE=%s)%s", type, lab);
	else if (!strcmp(usage, "raid"))
		snprintf(what, len, "a RAID member (TYPE=%s)", type);
	else
		snprintf(what, len, "a %s signature (USAGE=%s)", type,
			 *usage ? usage : "unknown");
}

int cru_blkprobe_signature(int fd, const char *path, char *what, size_t len,
			   struct cru_err *err)
{
	blkid_probe pr;
	int ret, rc;

	what[0] = '\0';
	ret = own_signature(fd, path, what, len, err);
	if (ret)
		return ret;
	pr = blkid_new_probe();
	if (!pr)
		return cru_err_set(err, -ENOMEM, "%s: cannot start libblkid", path);
	if (blkid_probe_set_device(pr, fd, 0, 0)) {
		blkid_free_probe(pr);
		return cru_err_set(err, -EIO, "%s: libblkid cannot probe it", path);
	}
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE |
					  BLKID_SUBLKS_USAGE |
					  BLKID_SUBLKS_LABEL);
	blkid_probe_enable_partitions(pr, 1);
	blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC);
	rc = blkid_do_safeprobe(pr);
	if (rc == 0) {
		describe(pr, what, len);
		ret = 1;
	} else if (rc == -2) {
		snprintf(what, len, "several conflicting signatures (libblkid: ambivalent result)");
		ret = 1;
	} else if (rc == 1) {
		ret = 0;
	} else {
		ret = cru_err_set(err, -EIO, "%s: libblkid failed to probe it",
				  path);
	}
	blkid_free_probe(pr);
	return ret;
}

/* ---- whole reads and writes */

/* pread, or pwrite if @wr, of all @len bytes; 0 bytes transferred is -EIO. */
static int rw_all(int fd, uint8_t *b, size_t len, uint64_t off, bool wr)
{
	while (len) {
		ssize_t n = wr ? pwrite(fd, b, len, (off_t)off) :
				    pread(fd, b, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!n)
			return -EIO;	/* past the end: the device shrank */
		b += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int cru_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	/* rw_all only reads from @buf when it writes. */
	return rw_all(fd, (uint8_t *)(uintptr_t)buf, len, off, true);
}

int cru_pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	return rw_all(fd, buf, len, off, false);
}

int cru_zero_range(int fd, bool is_bdev, uint64_t off, uint64_t len,
		   bool punch)
{
	static const uint8_t zero[65536];
	uint64_t range[2] = { off, len }, done;
	int ret;

	if (is_bdev && !ioctl(fd, BLKZEROOUT, range))
		return 0;
	if (!is_bdev && punch &&
	    !fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		       (off_t)off, (off_t)len))
		return 0;
	if (!is_bdev &&
	    !fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
		       (off_t)off, (off_t)len))
		return 0;
	for (done = 0; done < len; done += sizeof(zero)) {
		size_t n = len - done < sizeof(zero) ? len - done : sizeof(zero);

		ret = cru_pwrite_all(fd, zero, n, off + done);
		if (ret)
			return ret;
	}
	return 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Pool regions as device-mapper linear devices (libdevmapper).
 */
#include "pool_dm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include <libdevmapper.h>
#include <linux/dm-ioctl.h>

#include "dm.h"
#include "legfmt.h"

int cru_pool_dm_name(const char *pool, const char *region, char *buf,
		     size_t len)
{
	int n = snprintf(buf, len, CRU_POOL_DM_PREFIX "%s-%s", pool, region);

	return n < 0 || (size_t)n >= len || n >= DM_NAME_LEN ? -ENAMETOOLONG : 0;
}

int cru_pool_dm_table(dev_t pooldev, uint32_t block_size,
		      const struct cru_pool_region *r, char **table)
{
	uint64_t spb = block_size / 512, at = 0;
	size_t len;
	uint32_t i;
	FILE *f = open_memstream(table, &len);

	if (!f)
		return -ENOMEM;
	for (i = 0; i < r->nr_extents; i++) {
		fprintf(f, "%s%llu %llu linear %u:%u %llu", i ? "\n" : "",
			(unsigned long long)at,
			(unsigned long long)(r->extents[i].len * spb),
			major(pooldev), minor(pooldev),
			(unsigned long long)(r->extents[i].start * spb));
		at += r->extents[i].len * spb;
	}
	if (fclose(f)) {
		free(*table);
		*table = NULL;
		return -ENOMEM;
	}
	return 0;
}

int cru_pool_dm_info(const char *name, bool *exists, int *open_count,
		     struct cru_err *err)
{
	struct dm_info info;
	int ret = cru_dm_info(name, true, &info, err);

	*exists = !ret && info.exists;
	*open_count = ret ? 0 : info.open_count;
	return ret;
}

/* The current table of @name, in the form cru_pool_dm_table makes. */
static int current_table(const char *name, char **table, struct cru_err *err)
{
	struct dm_task *dmt = cru_dm_task_new(DM_DEVICE_TABLE, name, false, err);
	void *next = NULL;
	size_t len;
	bool first = true;
	FILE *f;
	int ret;

	if (!dmt)
		return -ENXIO;
	ret = cru_dm_task_run(dmt, name, "reading the table", err);
	if (ret) {
		dm_task_destroy(dmt);
		return ret;
	}
	f = open_memstream(table, &len);
	if (!f) {
		dm_task_destroy(dmt);
		return cru_err_set(err, -ENOMEM, "out of memory");
	}
	do {
		uint64_t start, length;
		char *type = NULL, *params = NULL;

		next = dm_get_next_target(dmt, next, &start, &length, &type,
					  &params);
		if (!type)
			break;
		fprintf(f, "%s%llu %llu %s %s", first ? "" : "\n",
			(unsigned long long)start, (unsigned long long)length,
			type, params ? params : "");
		first = false;
	} while (next);
	dm_task_destroy(dmt);
	if (fclose(f)) {
		free(*table);
		*table = NULL;
		return cru_err_set(err, -ENOMEM, "out of memory");
	}
	return 0;
}

/* Run @dmt (a create or a remove) and wait until udev has made its nodes. */
static int task_run_udev(struct dm_task *dmt, const char *what,
			 const char *name, struct cru_err *err)
{
	char doing[160];
	uint32_t cookie = 0;
	int ret;

	if (!dm_task_set_cookie(dmt, &cookie, 0))
		return cru_err_set(err, -EIO, "cannot set up a udev cookie");
	snprintf(doing, sizeof(doing), "%s %s", what, name);
	ret = cru_dm_task_run(dmt, NULL, doing, err);
	dm_udev_wait(cookie);
	return ret;
}

int cru_pool_dm_create(const char *name, dev_t pooldev, uint32_t block_size,
		       const uint8_t pool_uuid[16],
		       const struct cru_pool_region *r, bool *created,
		       struct cru_err *err)
{
	char *table = NULL, *have = NULL, *line, *save = NULL;
	char dmuuid[128], pu[37], ru[37];
	struct dm_task *dmt;
	bool exists;
	int opens, ret;

	*created = false;
	ret = cru_pool_dm_info(name, &exists, &opens, err);
	if (ret)
		return ret;
	if (cru_pool_dm_table(pooldev, block_size, r, &table))
		return cru_err_set(err, -ENOMEM, "out of memory");
	if (exists) {
		ret = current_table(name, &have, err);
		if (!ret && strcmp(have, table))
			ret = cru_err_set(err, -EEXIST,
					  "a device-mapper device named %s already exists with another table",
					  name);
		free(have);
		free(table);
		return ret;
	}
	dmt = cru_dm_task_new(DM_DEVICE_CREATE, name, false, err);
	if (!dmt) {
		free(table);
		return -ENXIO;
	}
	cru_uuid_str(pool_uuid, pu);
	cru_uuid_str(r->uuid, ru);
	snprintf(dmuuid, sizeof(dmuuid), "CRUCIBLE-POOL-%s-%s", pu, ru);
	dm_task_set_uuid(dmt, dmuuid);
	for (line = strtok_r(table, "\n", &save); line && !ret;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned long long start, len;
		int n = 0;

		if (sscanf(line, "%llu %llu linear %n", &start, &len, &n) != 2 ||
		    !n || !dm_task_add_target(dmt, start, len, "linear", line + n))
			ret = cru_err_set(err, -ENOMEM, "cannot build the table of %s",
					  name);
	}
	if (!ret)
		ret = task_run_udev(dmt, "creating", name, err);
	dm_task_destroy(dmt);
	free(table);
	if (!ret)
		*created = true;
	return ret;
}

int cru_pool_dm_remove(const char *name, struct cru_err *err)
{
	struct dm_task *dmt;
	bool exists;
	int opens, ret;

	ret = cru_pool_dm_info(name, &exists, &opens, err);
	if (ret)
		return ret;
	if (!exists)
		return cru_err_set(err, -ENODEV, "no device-mapper device named %s",
				   name);
	if (opens)
		return cru_err_set(err, -EBUSY,
				   "/dev/mapper/%s is in use (open %d times: a leg of a volume, mounted, or open in a program)",
				   name, opens);
	dmt = cru_dm_task_new(DM_DEVICE_REMOVE, name, false, err);
	if (!dmt)
		return -ENXIO;
	dm_task_retry_remove(dmt);
	ret = task_run_udev(dmt, "removing", name, err);
	if (ret == -EBUSY)
		cru_err_set(err, ret, "/dev/mapper/%s is in use", name);
	dm_task_destroy(dmt);
	return ret;
}

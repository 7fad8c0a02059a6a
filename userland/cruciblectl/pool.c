// SPDX-License-Identifier: GPL-2.0
/*
 * cruciblectl pool ... and region ...: pools of leg regions on raw devices.
 *
 * Every command opens the pool itself and holds its lock (flock; block
 * devices are also opened exclusively by init) until it exits, so two
 * commands never interleave; the agent is not needed.  Each region is a
 * device-mapper linear device, /dev/mapper/crucible-pool-<pool>-<region>.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <crucible/format.h>

#include "../lib/legfmt.h"
#include "../lib/log.h"
#include "../lib/parse.h"
#include "../lib/pool.h"
#include "../lib/pool_dm.h"
#include "../lib/pool_registry.h"
#include "../lib/spec.h"
#include "options.h"
#include "pool.h"

static int exit_for_pool(int ret)
{
	switch (ret) {
	case -ENOENT:
	case -EMEDIUMTYPE:
		return CTL_EXIT_NO_POOL;
	case -ENOSPC:
	case -E2BIG:
		return CTL_EXIT_NO_SPACE;
	default:
		return CTL_EXIT_ERROR;
	}
}

struct where {
	char path[PATH_MAX];
	char name[CRU_POOL_NAME_LEN];	/* registered name, or "" */
	char uuid[37];			/* registered uuid, or "" */
};

/* A registered name, or a path (anything with a '/'). */
static int locate(const char *pool, const char *registry, struct where *w,
		  struct cru_err *err)
{
	struct cru_pool_reg e;
	int ret;

	memset(w, 0, sizeof(*w));
	if (strchr(pool, '/')) {
		snprintf(w->path, sizeof(w->path), "%s", pool);
		return 0;
	}
	ret = cru_pool_registry_find(cru_pool_registry_path(registry), pool, &e,
				     err);
	if (ret)
		return ret;
	snprintf(w->path, sizeof(w->path), "%s", e.path);
	snprintf(w->name, sizeof(w->name), "%s", e.name);
	snprintf(w->uuid, sizeof(w->uuid), "%s", e.uuid);
	return 0;
}

/* Open the pool @pool names, checking that it is the one registered. */
static int pool_open(const char *pool, const char *registry, bool readonly,
		     struct cru_pool **pp, struct cru_err *err)
{
	struct cru_pool_open_opts oo = cru_pool_open_opts_default();
	struct cru_pool_info info;
	struct where w;
	char uuid[37];
	int ret;

	ret = locate(pool, registry, &w, err);
	if (ret)
		return ret;
	oo.readonly = readonly;
	ret = cru_pool_open(w.path, &oo, pp, err);
	if (ret)
		return ret;
	cru_pool_get_info(*pp, &info);
	cru_uuid_str(info.uuid, uuid);
	if (w.uuid[0] && strcmp(w.uuid, uuid)) {
		cru_pool_close(*pp);
		*pp = NULL;
		return cru_err_set(err, -EMEDIUMTYPE,
				   "pool %s: %s now holds pool '%s' (uuid %s), not the registered one (uuid %s)",
				   pool, w.path, info.name, uuid, w.uuid);
	}
	return 0;
}

/* pool_open for a command: on failure, log why and give its exit status. */
static int cmd_pool_open(const char *pool, const char *registry,
			 bool readonly, struct cru_pool **pp)
{
	struct cru_err err;
	int ret = pool_open(pool, registry, readonly, pp, &err);

	if (ret) {
		log_error("%s", err.msg);
		return exit_for_pool(ret);
	}
	return CTL_EXIT_OK;
}

static void dm_name_of(const struct cru_pool_info *info,
		       const struct cru_pool_region *r, char *buf, size_t len)
{
	if (cru_pool_dm_name(info->name, r->name, buf, len))
		snprintf(buf, len, "(name too long)");
}

/* Create the device of @r; a pool on a file has none. */
static int region_activate(struct cru_pool *p, const struct cru_pool_region *r,
			   bool *created, struct cru_err *err)
{
	struct cru_pool_info info;
	char name[160];

	*created = false;
	cru_pool_get_info(p, &info);
	if (!info.is_bdev)
		return cru_err_set(err, -ENOTBLK,
				   "pool %s is on a file (%s): its regions can become devices only through a loop device (losetup, then use /dev/loopN)",
				   info.name, info.path);
	if (cru_pool_dm_name(info.name, r->name, name, sizeof(name)))
		return cru_err_set(err, -ENAMETOOLONG,
				   "region %s of pool %s: device name too long",
				   r->name, info.name);
	return cru_pool_dm_create(name, info.rdev, info.block_size, info.uuid, r,
				  created, err);
}

static const char *plural(uint64_t n, const char *word, char *buf, size_t len)
{
	snprintf(buf, len, "%llu %s%s", (unsigned long long)n, word,
		 n == 1 ? "" : "s");
	return buf;
}

/* ---- pool ------------------------------------------------------------- */

static int pool_init(const struct ctl_opts *o)
{
	struct cru_pool_init_opts io = { .name = o->name, .force = o->force };
	const char *registry = cru_pool_registry_path(o->registry);
	struct cru_pool_reg e, old;
	struct cru_pool_info info;
	char path[PATH_MAX], size[32], data[32], uuid[37], w[32];
	char name[CRU_POOL_NAME_LEN];
	struct cru_err err;
	int ret;

	if (!realpath(o->pool, path)) {
		log_error("pool init: %s: %s", o->pool, strerror(errno));
		return CTL_EXIT_ERROR;
	}
	/* A name in use for another device: refuse before writing anything. */
	if (o->name)
		snprintf(name, sizeof(name), "%s", o->name);
	else
		cru_pool_default_name(path, name);
	if (!cru_pool_registry_find(registry, name, &old, &err) &&
	    strcmp(old.path, path)) {
		log_error("pool init: a pool named %s is already registered at %s (%s)%s",
			  name, old.path, registry,
			  o->name ? "" : "; choose another with --name");
		return CTL_EXIT_USAGE;
	}
	ret = cru_pool_init(path, &io, &info, &err);
	if (ret) {
		log_error("pool init: %s", err.msg);
		if (ret == -EEXIST)
			return CTL_EXIT_NOT_BLANK;
		return ret == -EINVAL ? CTL_EXIT_USAGE : CTL_EXIT_ERROR;
	}
	cru_uuid_str(info.uuid, uuid);
	cru_format_size(info.total_blocks * info.block_size, size, sizeof(size));
	cru_format_size(info.data_blocks * info.block_size, data, sizeof(data));
	printf("pool %s on %s: %s, block size %u, data area %s at block %llu, %s, uuid %s\n",
	       info.name, path, size, info.block_size, data,
	       (unsigned long long)info.data_start,
	       plural(info.max_regions, "region slot", w, sizeof(w)), uuid);
	memset(&e, 0, sizeof(e));
	snprintf(e.name, sizeof(e.name), "%s", info.name);
	snprintf(e.path, sizeof(e.path), "%s", path);
	snprintf(e.uuid, sizeof(e.uuid), "%s", uuid);
	ret = cru_pool_registry_add(registry, &e, &err);
	if (ret) {
		log_error("pool %s was written but not registered: %s", info.name,
			  err.msg);
		return CTL_EXIT_ERROR;
	}
	printf("registered in %s\n", registry);
	return CTL_EXIT_OK;
}

static int pool_list(const struct ctl_opts *o)
{
	const char *registry = cru_pool_registry_path(o->registry);
	struct cru_pool_open_opts oo = cru_pool_open_opts_default();
	struct cru_pool_reg *v;
	struct cru_err err;
	size_t n, i;
	int ret;

	ret = cru_pool_registry_load(registry, &v, &n, &err);
	if (ret) {
		log_error("%s", err.msg);
		return CTL_EXIT_ERROR;
	}
	if (!n) {
		printf("no pools registered in %s\n", registry);
		return CTL_EXIT_OK;
	}
	printf("%-16s %-28s %10s %10s %8s  %s\n", "POOL", "DEVICE", "SIZE",
	       "FREE", "REGIONS", "STATE");
	oo.readonly = true;
	oo.nowait = true;
	for (i = 0; i < n; i++) {
		struct cru_pool_info info;
		struct cru_pool *p;
		char size[32], free_[32], regions[16];

		ret = cru_pool_open(v[i].path, &oo, &p, &err);
		if (ret) {
			printf("%-16s %-28s %10s %10s %8s  %s\n", v[i].name,
			       v[i].path, "-", "-", "-",
			       ret == -EBUSY ? "busy" : "unusable");
			log_debug("%s", err.msg);
			continue;
		}
		cru_pool_get_info(p, &info);
		cru_format_size(info.data_blocks * info.block_size, size,
				sizeof(size));
		cru_format_size(info.free_blocks * info.block_size, free_,
				sizeof(free_));
		snprintf(regions, sizeof(regions), "%u/%u", info.nr_regions,
			 info.max_regions);
		printf("%-16s %-28s %10s %10s %8s  %s\n", v[i].name, v[i].path,
		       size, free_, regions, "ok");
		cru_pool_close(p);
	}
	free(v);
	return CTL_EXIT_OK;
}

static void region_line(const struct cru_pool_info *info,
			const struct cru_pool_region *r)
{
	char size[32], dev[160], state[48], w[32];
	bool exists = false;
	int opens = 0;
	struct cru_err err;

	cru_format_size(r->blocks * info->block_size, size, sizeof(size));
	dm_name_of(info, r, dev, sizeof(dev));
	if (!info->is_bdev)
		snprintf(state, sizeof(state), "(pool on a file)");
	else if (cru_pool_dm_info(dev, &exists, &opens, &err))
		snprintf(state, sizeof(state), "unknown");
	else if (!exists)
		snprintf(state, sizeof(state), "inactive");
	else if (opens)
		snprintf(state, sizeof(state), "active, open %d", opens);
	else
		snprintf(state, sizeof(state), "active");
	printf("  %-20s %10s  %-11s /dev/mapper/%s  %s\n", r->name, size,
	       plural(r->nr_extents, "extent", w, sizeof(w)), dev, state);
}

static int pool_show(const struct ctl_opts *o)
{
	struct cru_pool_info info;
	const struct cru_pool_recovery *rec;
	struct cru_pool *p;
	char uuid[37], a[32], b[32], c[32], w[32];
	uint32_t s, k;
	int ret;

	ret = cmd_pool_open(o->pool, o->registry, true, &p);
	if (ret)
		return ret;
	cru_pool_get_info(p, &info);
	rec = cru_pool_recovery(p);
	cru_uuid_str(info.uuid, uuid);
	cru_format_size(info.total_blocks * info.block_size, a, sizeof(a));
	printf("pool %s: %s on %s (%s)\n", info.name, a, info.path,
	       info.is_bdev ? "block device" : "file");
	printf("  uuid             %s\n", uuid);
	printf("  block size       %u\n", info.block_size);
	printf("  generation       %llu\n", (unsigned long long)info.generation);
	printf("  probed at init   %s, %s, optimal I/O %u\n",
	       info.flags & CRU_POOL_F_ROTATIONAL ? "rotational" : "non-rotational",
	       info.flags & CRU_POOL_F_DISCARD ? "discard" : "no discard",
	       info.optimal_io);
	printf("  layout (blocks)  intent %llu+%llu, region table %llu+%u, bitmaps %llu and %llu (+%llu each), data %llu+%llu\n",
	       (unsigned long long)info.intent_start,
	       (unsigned long long)info.intent_blocks,
	       (unsigned long long)info.region_table_start, info.max_regions,
	       (unsigned long long)info.bitmap_start,
	       (unsigned long long)info.mirror_start,
	       (unsigned long long)info.bitmap_blocks,
	       (unsigned long long)info.data_start,
	       (unsigned long long)info.data_blocks);
	cru_format_size(info.data_blocks * info.block_size, a, sizeof(a));
	cru_format_size(info.free_blocks * info.block_size, b, sizeof(b));
	cru_format_size(info.largest_free * info.block_size, c, sizeof(c));
	printf("  space            %s, %s free in %s (largest %s)\n",
	       a, b, plural(info.free_extents, "extent", w, sizeof(w)), c);
	if (rec->ops_rolled_back || rec->sb_repaired || rec->primary_bad ||
	    rec->mirror_bad || rec->bitmap_rebuilt)
		printf("  needs recovery   %u operations to roll back, %llu/%llu bad bitmap blocks%s%s (resolved at the next read-write open)\n",
		       rec->ops_rolled_back, (unsigned long long)rec->primary_bad,
		       (unsigned long long)rec->mirror_bad,
		       rec->sb_repaired ? ", a superblock copy to rewrite" : "",
		       rec->bitmap_rebuilt ? ", bitmap to rebuild" : "");
	printf("  regions          %u of %u\n", info.nr_regions, info.max_regions);
	for (s = 0; s < info.max_regions; s++) {
		const struct cru_pool_region *r = cru_pool_region_slot(p, s);

		if (!r)
			continue;
		region_line(&info, r);
		for (k = 0; k < r->nr_extents; k++)
			printf("      extent %u: blocks %llu+%llu\n", k,
			       (unsigned long long)r->extents[k].start,
			       (unsigned long long)r->extents[k].len);
	}
	cru_pool_close(p);
	return CTL_EXIT_OK;
}

/* Create (open) or remove (close) the devices of every region of one pool. */
static int pool_devices(const char *pool, const char *registry, bool open)
{
	struct cru_pool_info info;
	struct cru_pool *p;
	struct cru_err err;
	unsigned int done = 0, failed = 0;
	uint32_t s;
	int ret;

	/* open resolves any interrupted transaction: read-write. */
	ret = cmd_pool_open(pool, registry, !open, &p);
	if (ret)
		return ret;
	cru_pool_get_info(p, &info);
	if (!info.is_bdev && info.nr_regions) {
		log_error("pool %s is on a file (%s): its regions have no devices (use a loop device)",
			  info.name, info.path);
		cru_pool_close(p);
		return CTL_EXIT_ERROR;
	}
	for (s = 0; s < info.max_regions; s++) {
		const struct cru_pool_region *r = cru_pool_region_slot(p, s);
		char name[160];
		bool created;

		if (!r)
			continue;
		if (open) {
			ret = region_activate(p, r, &created, &err);
		} else {
			dm_name_of(&info, r, name, sizeof(name));
			ret = cru_pool_dm_remove(name, &err);
			if (ret == -ENODEV)
				ret = 0;	/* not active: nothing to do */
		}
		if (ret) {
			log_error("pool %s: region %s: %s", info.name, r->name,
				  err.msg);
			failed++;
		} else {
			done++;
		}
	}
	cru_pool_close(p);
	printf("pool %s: %u region devices %s%s\n", info.name, done,
	       open ? "active" : "removed", failed ? " (some failed)" : "");
	return failed ? CTL_EXIT_ERROR : CTL_EXIT_OK;
}

static int pool_open_close(const struct ctl_opts *o)
{
	bool open = o->pool_action == CTL_POOL_OPEN;
	struct cru_pool_reg *v;
	struct cru_err err;
	size_t n, i;
	int rc = CTL_EXIT_OK, r;

	if (!o->all)
		return pool_devices(o->pool, o->registry, open);
	if (cru_pool_registry_load(cru_pool_registry_path(o->registry), &v, &n,
				   &err)) {
		log_error("%s", err.msg);
		return CTL_EXIT_ERROR;
	}
	for (i = 0; i < n; i++) {
		r = pool_devices(v[i].name, o->registry, open);
		if (r != CTL_EXIT_OK)
			rc = r;
	}
	free(v);
	return rc;
}

int ctl_cmd_pool(const struct ctl_opts *o)
{
	switch (o->pool_action) {
	case CTL_POOL_INIT:
		return pool_init(o);
	case CTL_POOL_LIST:
		return pool_list(o);
	case CTL_POOL_SHOW:
		return pool_show(o);
	case CTL_POOL_OPEN:
	case CTL_POOL_CLOSE:
		return pool_open_close(o);
	}
	return CTL_EXIT_ERROR;
}

/* ---- region ------------------------------------------------------------- */

/*
 * Allocate region @name (NULL: automatic) of @bytes and create its device;
 * if the device cannot be made, the region is freed again.
 */
static int region_make(struct cru_pool *p, const char *name, uint64_t bytes,
		       const struct cru_pool_region **out, struct cru_err *err)
{
	struct cru_pool_info info;
	struct cru_err uerr;
	char rname[CRU_POOL_REGION_NAME_LEN];
	bool created;
	int ret;

	ret = cru_pool_region_create(p, name, bytes, 0, out, err);
	if (ret)
		return ret;
	cru_pool_get_info(p, &info);
	if (!info.is_bdev)
		return 0;	/* a file: no device, said by the caller */
	ret = region_activate(p, *out, &created, err);
	if (!ret)
		return 0;
	snprintf(rname, sizeof(rname), "%s", (*out)->name);
	if (cru_pool_region_remove(p, rname, &uerr))
		log_error("region %s stays allocated: %s", rname, uerr.msg);
	return ret;
}

static int region_create(const struct ctl_opts *o)
{
	const struct cru_pool_region *r;
	struct cru_pool_info info;
	struct cru_pool *p;
	struct cru_err err;
	char size[32], dev[160], w[32];
	int ret;

	ret = cmd_pool_open(o->pool, o->registry, false, &p);
	if (ret)
		return ret;
	ret = region_make(p, o->name, o->size, &r, &err);
	if (ret) {
		log_error("region create: %s", err.msg);
		cru_pool_close(p);
		return ret == -EINVAL || ret == -EEXIST ? CTL_EXIT_USAGE :
		       exit_for_pool(ret);
	}
	cru_pool_get_info(p, &info);
	cru_format_size(r->blocks * info.block_size, size, sizeof(size));
	dm_name_of(&info, r, dev, sizeof(dev));
	if (info.is_bdev)
		printf("region %s of pool %s: %s in %s, /dev/mapper/%s\n", r->name,
		       info.name, size, plural(r->nr_extents, "extent", w, sizeof(w)),
		       dev);
	else
		printf("region %s of pool %s: %s in %s (the pool is a file: no device)\n",
		       r->name, info.name, size,
		       plural(r->nr_extents, "extent", w, sizeof(w)));
	cru_pool_close(p);
	return CTL_EXIT_OK;
}

static int region_remove(const struct ctl_opts *o)
{
	const struct cru_pool_region *r;
	struct cru_pool_info info;
	struct cru_pool *p;
	struct cru_err err;
	char dev[160];
	int ret;

	ret = cmd_pool_open(o->pool, o->registry, false, &p);
	if (ret)
		return ret;
	cru_pool_get_info(p, &info);
	r = cru_pool_region_find(p, o->region);
	if (!r) {
		log_error("pool %s has no region named %s", info.name, o->region);
		cru_pool_close(p);
		return CTL_EXIT_NO_POOL;
	}
	/* The device first: a region still in use must not be freed. */
	if (info.is_bdev) {
		dm_name_of(&info, r, dev, sizeof(dev));
		ret = cru_pool_dm_remove(dev, &err);
		if (ret && ret != -ENODEV) {
			log_error("region remove: %s; region %s is kept", err.msg,
				  o->region);
			cru_pool_close(p);
			return CTL_EXIT_ERROR;
		}
	}
	ret = cru_pool_region_remove(p, o->region, &err);
	cru_pool_close(p);
	if (ret) {
		log_error("region remove: %s", err.msg);
		return CTL_EXIT_ERROR;
	}
	printf("region %s of pool %s removed\n", o->region, info.name);
	return CTL_EXIT_OK;
}

static int region_list(const struct ctl_opts *o)
{
	struct cru_pool_info info;
	struct cru_pool *p;
	uint32_t s;
	int ret;

	ret = cmd_pool_open(o->pool, o->registry, true, &p);
	if (ret)
		return ret;
	cru_pool_get_info(p, &info);
	if (!info.nr_regions)
		printf("pool %s has no regions\n", info.name);
	for (s = 0; s < info.max_regions; s++) {
		const struct cru_pool_region *r = cru_pool_region_slot(p, s);

		if (r)
			region_line(&info, r);
	}
	cru_pool_close(p);
	return CTL_EXIT_OK;
}

int ctl_cmd_region(const struct ctl_opts *o)
{
	switch (o->region_action) {
	case CTL_REGION_CREATE:
		return region_create(o);
	case CTL_REGION_REMOVE:
		return region_remove(o);
	case CTL_REGION_LIST:
		return region_list(o);
	}
	return CTL_EXIT_ERROR;
}

/* ---- legs of a volume spec ------------------------------------------------ */

/*
 * Give every pool leg of @spec a device: its region (allocated if it is
 * missing), with its device created.  @created says which regions were
 * made here (to undo them if the volume cannot be created).  Returns a
 * cruciblectl exit status.
 */
int ctl_pool_resolve_legs(struct cru_spec *spec, const char *registry,
			  bool created[CRU_NR_LEGS])
{
	uint64_t need = cru_spec_leg_bytes(spec);
	int i, ret;

	for (i = 0; i < CRU_NR_LEGS; i++)
		created[i] = false;
	for (i = 0; i < CRU_NR_LEGS; i++) {
		struct cru_spec_pool_leg *pl = &spec->pool_legs[i];
		const struct cru_pool_region *r;
		struct cru_pool_info info;
		struct cru_pool *p;
		struct cru_err err;
		char dev[160], a[32], b[32];
		bool made;

		if (!pl->used)
			continue;
		ret = pool_open(pl->pool, registry, false, &p, &err);
		if (ret) {
			log_error("leg %d: %s", i, err.msg);
			return exit_for_pool(ret);
		}
		cru_pool_get_info(p, &info);
		r = pl->region[0] ? cru_pool_region_find(p, pl->region) : NULL;
		if (r) {
			if (pl->size && r->blocks * info.block_size != pl->size) {
				cru_format_size(r->blocks * info.block_size, a, sizeof(a));
				cru_format_size(pl->size, b, sizeof(b));
				log_error("leg %d: region %s of pool %s is %s, the spec says %s",
					  i, pl->region, pl->pool, a, b);
				cru_pool_close(p);
				return CTL_EXIT_USAGE;
			}
			ret = region_activate(p, r, &made, &err);
		} else if (!info.is_bdev) {
			/* Before allocating: region_make makes no device here. */
			ret = cru_err_set(&err, -ENOTBLK,
					  "pool %s is on a file: a leg needs a device",
					  pl->pool);
		} else {
			ret = region_make(p, pl->region[0] ? pl->region : NULL,
					  pl->size ? pl->size : need, &r, &err);
			if (!ret) {
				created[i] = true;
				snprintf(pl->region, sizeof(pl->region), "%s", r->name);
				log_info("leg %d: allocated region %s of pool %s",
					 i, r->name, pl->pool);
			}
		}
		if (ret) {
			log_error("leg %d: %s", i, err.msg);
			cru_pool_close(p);
			return exit_for_pool(ret);
		}
		if (r->blocks * info.block_size < need) {
			cru_format_size(r->blocks * info.block_size, a, sizeof(a));
			cru_format_size(need, b, sizeof(b));
			log_error("leg %d: region %s of pool %s is %s; a leg of this volume needs %s",
				  i, r->name, pl->pool, a, b);
			cru_pool_close(p);
			return CTL_EXIT_USAGE;
		}
		dm_name_of(&info, r, dev, sizeof(dev));
		snprintf(spec->table.legs[i], sizeof(spec->table.legs[i]),
			 "/dev/mapper/%s", dev);
		cru_pool_close(p);
	}
	return CTL_EXIT_OK;
}

/* Free the regions ctl_pool_resolve_legs allocated. */
void ctl_pool_undo_legs(const struct cru_spec *spec, const char *registry,
			const bool created[CRU_NR_LEGS])
{
	int i;

	for (i = 0; i < CRU_NR_LEGS; i++) {
		const struct cru_spec_pool_leg *pl = &spec->pool_legs[i];
		struct cru_pool *p;
		struct cru_err err;
		char dev[160];

		if (!created[i])
			continue;
		if (pool_open(pl->pool, registry, false, &p, &err)) {
			log_error("cannot free region %s of pool %s: %s", pl->region,
				  pl->pool, err.msg);
			continue;
		}
		if (!cru_pool_dm_name(pl->pool, pl->region, dev, sizeof(dev)))
			cru_pool_dm_remove(dev, &err);
		if (cru_pool_region_remove(p, pl->region, &err))
			log_error("cannot free region %s of pool %s: %s", pl->region,
				  pl->pool, err.msg);
		else
			log_info("freed region %s of pool %s again", pl->region,
				 pl->pool);
		cru_pool_close(p);
	}
}

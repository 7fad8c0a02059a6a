/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libdevmapper helpers: find crucible volumes, read their status and
 * table, send messages, create and remove them, and watch device-mapper
 * events.  libdm's own messages go through our logger.
 */
#ifndef CRU_DM_H
#define CRU_DM_H

#include <stdbool.h>
#include <stdint.h>

#include "log.h"
#include "nbdleg.h"
#include "nl.h"
#include "spec.h"
#include "status.h"
#include "table.h"

struct cru_volume {
	char name[CRU_NAME_MAX + 1];
	uint64_t sectors;
	uint32_t event_nr;
	struct cru_status status;
	struct cru_table table;
	/* NBD legs: filled by the caller (cru_nbdleg_describe), else zero. */
	struct cru_nbdleg_info nbd[CRU_NR_LEGS];
};

struct cru_dm_name {
	char name[CRU_NAME_MAX + 1];
	uint32_t event_nr;
};

/* Route libdm's log into ours; call once before anything else here. */
void cru_dm_init(void);

/*
 * For the library's other libdevmapper users (pool_dm.c): a task of @type
 * (DM_DEVICE_*) for @name (NULL: none), asking for the device's open
 * count only if @open_count; and running it, saying on failure what the
 * kernel answered ("<what> of <name>: <libdm's error>", or "<what> of
 * <name> failed: <errno>"; without " of <name>" when @name is NULL).
 */
struct dm_task;
struct dm_task *cru_dm_task_new(int type, const char *name, bool open_count,
				struct cru_err *err);
int cru_dm_task_run(struct dm_task *dmt, const char *name, const char *what,
		    struct cru_err *err);

/* libdm's info on @name (any device; its open count only if @open_count). */
struct dm_info;
int cru_dm_info(const char *name, bool open_count, struct dm_info *info,
		struct cru_err *err);

/*
 * Names (and event numbers) of every device-mapper device whose table is
 * one crucible target.  *@names is malloc'ed; free it.
 */
int cru_dm_list(struct cru_dm_name **names, size_t *count,
		struct cru_err *err);

/*
 * Status and table of volume @name: -ENODEV if there is no such device,
 * -EMEDIUMTYPE if it is not a crucible volume, -EPROTO if its status or
 * table cannot be parsed.
 */
int cru_dm_volume_read(const char *name, struct cru_volume *vol,
		       struct cru_err *err);

/* Send `dmsetup message <name> 0 <msg>`. */
int cru_dm_message(const char *name, const char *msg, struct cru_err *err);

/*
 * Name @v after its device-mapper device, found by device number: the
 * name device-mapper knows it by, whatever CRUCIBLE_ATTR_NAME says (a
 * module may send "major:minor" there).  Unchanged if there is none.
 */
void cru_dm_name_nl_volume(struct cru_nl_volume *v);

/* The device numbers of @name (any device-mapper device). */
int cru_dm_devno(const char *name, unsigned int *major, unsigned int *minor,
		 struct cru_err *err);

/* Every leg and the parent named by path exists and is a block device. */
int cru_dm_check_devices(const struct cru_table *t, struct cru_err *err);

/* Create and activate @name with one crucible target of @sectors. */
int cru_dm_create(const char *name, uint64_t sectors, const char *params,
		  struct cru_err *err);

/*
 * Load @params as the new table of crucible volume @name (same length,
 * @sectors) and resume it, as `dmsetup reload` and `dmsetup resume` do.
 * If the target refuses the new table when it resumes (assembly), the
 * volume is put back on @old_params so that it runs as before, and the
 * error says why the new one was refused.
 */
int cru_dm_reload(const char *name, uint64_t sectors, const char *params,
		  const char *old_params, struct cru_err *err);

/* Remove @name (it must be a crucible volume). */
int cru_dm_remove(const char *name, struct cru_err *err);

/*
 * Event watching, as multipathd does it: a file descriptor of
 * /dev/mapper/control polls readable after any device-mapper event
 * since it was last armed.  Arm it before reading the state you compare
 * against, so that no event falls between the two.
 */
int cru_dm_event_open(struct cru_err *err);
int cru_dm_event_arm(int fd, struct cru_err *err);

#endif /* CRU_DM_H */

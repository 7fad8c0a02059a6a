// SPDX-License-Identifier: GPL-2.0
/*
 * libdevmapper helpers.
 */
#include "dm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libdevmapper.h>
#include <linux/dm-ioctl.h>

#include "kmsg.h"

#define DM_CONTROL "/dev/mapper/control"

/* libdm's log levels (lib/log/log.h there); higher bits are flags. */
#define LIBDM_LEVEL_MASK	0x0f
#define LIBDM_LOG_ERR		3
#define LIBDM_LOG_WARN		4

/*
 * The first error libdm reported since the current task began: our own
 * error message quotes it, since it says what the kernel answered ("reload
 * ioctl on vol failed: Invalid argument").
 */
static char dm_last_error[CRU_ERR_LEN];

static void __attribute__((format(printf, 5, 6)))
dm_log(int level, const char *file, int line, int dm_errno_or_class,
       const char *fmt, ...)
{
	char msg[CRU_ERR_LEN];
	va_list ap;

	(void)file;
	(void)line;
	(void)dm_errno_or_class;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	level &= LIBDM_LEVEL_MASK;
	if (level <= LIBDM_LOG_ERR) {
		/* The first error is the cause; later ones are consequences. */
		if (!dm_last_error[0])
			snprintf(dm_last_error, sizeof(dm_last_error), "%s",
				 msg);
		log_debug("libdevmapper: %s", msg);
	} else if (level == LIBDM_LOG_WARN) {
		log_warn("libdevmapper: %s", msg);
	} else {
		log_debug("libdevmapper: %s", msg);
	}
}

void cru_dm_init(void)
{
	dm_log_with_errno_init(dm_log);
}

struct dm_task *cru_dm_task_new(int type, const char *name, bool open_count,
				struct cru_err *err)
{
	struct dm_task *dmt;

	dm_last_error[0] = '\0';
	dmt = dm_task_create(type);
	if (!dmt) {
		/* libdm checks the driver here: say why it is unusable. */
		cru_err_set(err, -ENXIO, "device-mapper is not available: %s",
			    dm_last_error[0] ? dm_last_error : "out of memory");
		return NULL;
	}
	if (name && !dm_task_set_name(dmt, name)) {
		dm_task_destroy(dmt);
		cru_err_set(err, -EINVAL, "'%s' is not a usable device name",
			    name);
		return NULL;
	}
	if (!open_count)
		dm_task_no_open_count(dmt);
	return dmt;
}

static struct dm_task *task_new(int type, const char *name,
				struct cru_err *err)
{
	return cru_dm_task_new(type, name, false, err);
}

/* Run @dmt; on failure say what the kernel answered.  @what: "status". */
int cru_dm_task_run(struct dm_task *dmt, const char *name, const char *what,
		    struct cru_err *err)
{
	int e;

	dm_last_error[0] = '\0';
	if (dm_task_run(dmt))
		return 0;
	e = dm_task_get_errno(dmt);
	if (!e)
		e = EIO;
	if (dm_last_error[0])
		return cru_err_set(err, -e, "%s%s%s: %s", what,
				   name ? " of " : "", name ? name : "",
				   dm_last_error);
	return cru_err_set(err, -e, "%s%s%s failed: %s", what,
			   name ? " of " : "", name ? name : "", strerror(e));
}

int cru_dm_info(const char *name, bool open_count, struct dm_info *info,
		struct cru_err *err)
{
	struct dm_task *dmt = cru_dm_task_new(DM_DEVICE_INFO, name, open_count,
					      err);
	int ret;

	if (!dmt)
		return -ENOMEM;
	ret = cru_dm_task_run(dmt, name, "device-mapper info", err);
	if (!ret && !dm_task_get_info(dmt, info))
		ret = cru_err_set(err, -EIO, "no device-mapper info for %s",
				  name);
	dm_task_destroy(dmt);
	return ret;
}

struct dm_target_line {
	uint64_t start;
	uint64_t len;
	char *type;
	char *params;
	int count;		/* targets in the table */
};

static void target_line_free(struct dm_target_line *tl)
{
	free(tl->type);
	free(tl->params);
	tl->type = NULL;
	tl->params = NULL;
}

/* The first target of @name's STATUS or TABLE, and how many there are. */
static int dm_target(const char *name, int type, struct dm_target_line *tl,
		     struct cru_err *err)
{
	struct dm_task *dmt;
	void *next = NULL;
	int ret;

	memset(tl, 0, sizeof(*tl));
	dmt = task_new(type, name, err);
	if (!dmt)
		return -ENOMEM;
	ret = cru_dm_task_run(dmt, name,
			      type == DM_DEVICE_STATUS ? "status" : "table",
			      err);
	if (ret)
		goto out;
	do {
		uint64_t start, len;
		char *ttype = NULL, *params = NULL;

		next = dm_get_next_target(dmt, next, &start, &len, &ttype,
					  &params);
		if (!ttype)
			break;
		if (!tl->count++) {
			tl->start = start;
			tl->len = len;
			tl->type = strdup(ttype);
			tl->params = strdup(params ? params : "");
			if (!tl->type || !tl->params) {
				ret = cru_err_set(err, -ENOMEM,
						  "out of memory");
				goto out;
			}
		}
	} while (next);
out:
	if (ret)
		target_line_free(tl);
	dm_task_destroy(dmt);
	return ret;
}

static bool is_crucible(const struct dm_target_line *tl)
{
	return tl->count == 1 && !strcmp(tl->type, CRU_TARGET_NAME);
}

static int not_crucible(const char *name, const struct dm_target_line *tl,
			struct cru_err *err)
{
	if (!tl->count)
		return cru_err_set(err, -EMEDIUMTYPE,
				   "%s is not a crucible volume (it has no table loaded)",
				   name);
	if (tl->count > 1)
		return cru_err_set(err, -EMEDIUMTYPE,
				   "%s is not a crucible volume (its table has %d targets)",
				   name, tl->count);
	return cru_err_set(err, -EMEDIUMTYPE,
			   "%s is not a crucible volume (its target is %s)",
			   name, tl->type);
}

/*
 * Since device-mapper interface 4.37 (Linux 4.14) the kernel stores each
 * device's event number after its name in the DM_DEVICE_LIST answer,
 * 8-byte aligned.  libdm of this release has no accessor for it.
 */
static uint32_t dm_names_event_nr(const struct dm_names *n)
{
	uintptr_t p = (uintptr_t)(strchr(n->name, '\0') + 1);

	p = (p + 7) & ~(uintptr_t)7;
	return *(const uint32_t *)p;
}

int cru_dm_list(struct cru_dm_name **names, size_t *count,
		struct cru_err *err)
{
	struct cru_dm_name *out = NULL;
	struct dm_names *n;
	struct dm_task *dmt;
	size_t nr = 0, cap = 0;
	int ret;

	*names = NULL;
	*count = 0;
	dmt = task_new(DM_DEVICE_LIST, NULL, err);
	if (!dmt)
		return -ENOMEM;
	ret = cru_dm_task_run(dmt, NULL, "listing device-mapper devices", err);
	if (ret)
		goto out;
	n = dm_task_get_names(dmt);
	if (!n || !n->dev)
		goto out;	/* no devices at all */
	for (;;) {
		struct dm_target_line tl;
		struct cru_err terr;

		/*
		 * A device can vanish between LIST and STATUS, and a device
		 * we cannot read is someone else's business: skip both.
		 */
		if (!dm_target(n->name, DM_DEVICE_TABLE, &tl, &terr)) {
			bool ours = is_crucible(&tl);

			target_line_free(&tl);
			if (ours && strlen(n->name) <= CRU_NAME_MAX) {
				if (nr == cap) {
					struct cru_dm_name *bigger;

					cap = cap ? 2 * cap : 8;
					bigger = realloc(out, cap * sizeof(*out));
					if (!bigger) {
						ret = cru_err_set(err, -ENOMEM,
								  "out of memory");
						goto out;
					}
					out = bigger;
				}
				strcpy(out[nr].name, n->name);
				out[nr].event_nr = dm_names_event_nr(n);
				nr++;
			}
		} else {
			log_debug("skipping %s: %s", n->name, terr.msg);
		}
		if (!n->next)
			break;
		n = (struct dm_names *)((char *)n + n->next);
	}
out:
	dm_task_destroy(dmt);
	if (ret) {
		free(out);
		return ret;
	}
	*names = out;
	*count = nr;
	return 0;
}

int cru_dm_volume_read(const char *name, struct cru_volume *vol,
		       struct cru_err *err)
{
	struct dm_target_line tl;
	struct dm_info info;
	struct cru_err perr;
	int ret;

	memset(vol, 0, sizeof(*vol));
	if (strlen(name) > CRU_NAME_MAX)
		return cru_err_set(err, -ENAMETOOLONG,
				   "volume name '%.40s...' is too long", name);
	strcpy(vol->name, name);

	ret = cru_dm_info(name, false, &info, err);
	if (ret)
		return ret;
	if (!info.exists)
		return cru_err_set(err, -ENODEV,
				   "no device-mapper device named %s", name);
	vol->event_nr = info.event_nr;

	ret = dm_target(name, DM_DEVICE_STATUS, &tl, err);
	if (ret)
		return ret;
	if (!is_crucible(&tl)) {
		ret = not_crucible(name, &tl, err);
		target_line_free(&tl);
		return ret;
	}
	vol->sectors = tl.len;
	ret = cru_status_parse(tl.params, &vol->status, &perr);
	target_line_free(&tl);
	if (ret)
		return cru_err_set(err, -EPROTO, "%s: cannot read its status: %s",
				   name, perr.msg);

	ret = dm_target(name, DM_DEVICE_TABLE, &tl, err);
	if (ret)
		return ret;
	if (!is_crucible(&tl)) {
		/* The table changed under us: report it as it is now. */
		ret = not_crucible(name, &tl, err);
		target_line_free(&tl);
		return ret;
	}
	ret = cru_table_parse(tl.params, &vol->table, &perr);
	target_line_free(&tl);
	if (ret)
		return cru_err_set(err, -EPROTO, "%s: cannot read its table: %s",
				   name, perr.msg);
	return 0;
}

/* Refuse to touch a device that is not a crucible volume. */
static int check_crucible(const char *name, struct dm_info *info,
			  struct cru_err *err)
{
	struct dm_target_line tl;
	int ret;

	ret = cru_dm_info(name, false, info, err);
	if (ret)
		return ret;
	if (!info->exists)
		return cru_err_set(err, -ENODEV,
				   "no device-mapper device named %s", name);
	ret = dm_target(name, DM_DEVICE_TABLE, &tl, err);
	if (ret)
		return ret;
	if (!is_crucible(&tl))
		ret = not_crucible(name, &tl, err);
	target_line_free(&tl);
	return ret;
}

int cru_dm_message(const char *name, const char *msg, struct cru_err *err)
{
	char reason[CRU_ERR_LEN], devno[32];
	struct dm_info info;
	struct dm_task *dmt;
	char what[128];
	int kfd, ret;

	ret = check_crucible(name, &info, err);
	if (ret)
		return ret;
	dmt = task_new(DM_DEVICE_TARGET_MSG, name, err);
	if (!dmt)
		return -ENOMEM;
	if (!dm_task_set_sector(dmt, 0) || !dm_task_set_message(dmt, msg)) {
		dm_task_destroy(dmt);
		return cru_err_set(err, -ENOMEM, "out of memory");
	}
	snprintf(what, sizeof(what), "message '%s' to %s", msg, name);
	/* The target's own log lines name the device as "major:minor". */
	snprintf(devno, sizeof(devno), "%u:%u: ", info.major, info.minor);
	kfd = cru_kmsg_open();
	ret = cru_dm_task_run(dmt, NULL, what, err);
	if (ret && cru_kmsg_reason(kfd, devno, reason, sizeof(reason)))
		cru_err_set(err, ret, "%s: the target refused message '%s': %s",
			    name, msg, reason);
	else if (ret == -EINVAL)
		cru_err_set(err, ret,
			    "%s: the target refused message '%s' (see the kernel log, dmesg)",
			    name, msg);
	else if (!ret)
		cru_kmsg_reason(kfd, NULL, reason, sizeof(reason)); /* closes */
	if (!ret && dm_task_get_message_response(dmt) &&
	    *dm_task_get_message_response(dmt))
		log_info("%s: %s", name, dm_task_get_message_response(dmt));
	dm_task_destroy(dmt);
	return ret;
}

static int check_device(const char *what, const char *dev, struct cru_err *err)
{
	struct stat st;

	/* "major:minor" names no file; anything with a slash must exist. */
	if (!strchr(dev, '/'))
		return 0;
	if (stat(dev, &st))
		return cru_err_set(err, -errno, "%s %s: %s", what, dev,
				   strerror(errno));
	if (!S_ISBLK(st.st_mode))
		return cru_err_set(err, -ENOTBLK, "%s %s: not a block device",
				   what, dev);
	return 0;
}

int cru_dm_check_devices(const struct cru_table *t, struct cru_err *err)
{
	char what[16];
	int i, ret;

	for (i = 0; i < CRU_NR_LEGS; i++) {
		snprintf(what, sizeof(what), "leg %d", i);
		ret = check_device(what, t->legs[i], err);
		if (ret)
			return ret;
	}
	return t->has_parent ? check_device("parent", t->parent, err) : 0;
}

int cru_dm_create(const char *name, uint64_t sectors, const char *params,
		  struct cru_err *err)
{
	char reason[CRU_ERR_LEN];
	struct dm_task *dmt;
	struct dm_info info;
	struct cru_err why;
	uint32_t cookie = 0;
	int kfd, ret;

	ret = cru_dm_info(name, false, &info, err);
	if (ret)
		return ret;
	if (info.exists)
		return cru_err_set(err, -EEXIST,
				   "a device-mapper device named %s already exists",
				   name);
	dmt = task_new(DM_DEVICE_CREATE, name, err);
	if (!dmt)
		return -ENOMEM;
	if (!dm_task_add_target(dmt, 0, sectors, CRU_TARGET_NAME, params)) {
		dm_task_destroy(dmt);
		return cru_err_set(err, -ENOMEM, "out of memory");
	}
	if (!dm_task_set_cookie(dmt, &cookie, 0)) {
		dm_task_destroy(dmt);
		return cru_err_set(err, -EIO, "cannot set up udev cookie");
	}
	kfd = cru_kmsg_open();
	ret = cru_dm_task_run(dmt, NULL, "creating the device", &why);
	if (ret && cru_kmsg_reason(kfd, CRU_KMSG_TABLE_ERROR, reason,
				   sizeof(reason)))
		cru_err_set(err, ret, "cannot create %s: the target refused its table: %s",
			    name, reason);
	else if (ret)
		cru_err_set(err, ret,
			    "cannot create %s: %s (see the kernel log, dmesg)",
			    name, why.msg);
	else
		cru_kmsg_reason(kfd, NULL, reason, sizeof(reason)); /* closes */
	dm_udev_wait(cookie);
	dm_task_destroy(dmt);
	return ret;
}

int cru_dm_devno(const char *name, unsigned int *major, unsigned int *minor,
		 struct cru_err *err)
{
	struct dm_info info;
	int ret;

	ret = cru_dm_info(name, false, &info, err);
	if (ret)
		return ret;
	if (!info.exists)
		return cru_err_set(err, -ENODEV,
				   "no device-mapper device named %s", name);
	*major = info.major;
	*minor = info.minor;
	return 0;
}

void cru_dm_name_nl_volume(struct cru_nl_volume *v)
{
	unsigned int major, minor;
	struct dm_task *dmt;
	struct cru_err err;
	const char *name;

	cru_nl_decode_dev(v->dev, &major, &minor);
	dmt = task_new(DM_DEVICE_INFO, NULL, &err);
	if (!dmt)
		return;
	if (dm_task_set_major(dmt, (int)major) &&
	    dm_task_set_minor(dmt, (int)minor) &&
	    !cru_dm_task_run(dmt, NULL, "device-mapper info", &err)) {
		name = dm_task_get_name(dmt);
		if (name && *name && strlen(name) <= CRU_NAME_MAX)
			strcpy(v->name, name);
	}
	dm_task_destroy(dmt);
}

/* Load @params into @name's inactive table slot. */
static int load_table(const char *name, uint64_t sectors, const char *params,
		      struct cru_err *err)
{
	char reason[CRU_ERR_LEN];
	struct dm_task *dmt;
	struct cru_err why;
	int kfd, ret;

	dmt = task_new(DM_DEVICE_RELOAD, name, err);
	if (!dmt)
		return -ENOMEM;
	if (!dm_task_add_target(dmt, 0, sectors, CRU_TARGET_NAME, params)) {
		dm_task_destroy(dmt);
		return cru_err_set(err, -ENOMEM, "out of memory");
	}
	kfd = cru_kmsg_open();
	ret = cru_dm_task_run(dmt, NULL, "loading the table", &why);
	if (ret && cru_kmsg_reason(kfd, CRU_KMSG_TABLE_ERROR, reason,
				   sizeof(reason)))
		cru_err_set(err, ret, "%s: the target refused the new table: %s",
			    name, reason);
	else if (ret)
		cru_err_set(err, ret, "%s: cannot load the new table: %s (see the kernel log, dmesg)",
			    name, why.msg);
	else
		cru_kmsg_reason(kfd, NULL, reason, sizeof(reason)); /* closes */
	dm_task_destroy(dmt);
	return ret;
}

/* Resume @name, swapping in its inactive table if it has one. */
static int resume(const char *name, char *reason, size_t len,
		  struct cru_err *err)
{
	struct dm_task *dmt;
	uint32_t cookie = 0;
	int kfd, ret;

	reason[0] = '\0';
	dmt = task_new(DM_DEVICE_RESUME, name, err);
	if (!dmt)
		return -ENOMEM;
	if (!dm_task_set_cookie(dmt, &cookie, 0)) {
		dm_task_destroy(dmt);
		return cru_err_set(err, -EIO, "cannot set up udev cookie");
	}
	kfd = cru_kmsg_open();
	ret = cru_dm_task_run(dmt, NULL, "resuming", err);
	if (ret)
		cru_kmsg_reason(kfd, NULL, reason, len);
	else
		cru_kmsg_reason(kfd, NULL, reason, 0);	/* closes */
	dm_udev_wait(cookie);
	dm_task_destroy(dmt);
	return ret;
}

int cru_dm_reload(const char *name, uint64_t sectors, const char *params,
		  const char *old_params, struct cru_err *err)
{
	char reason[CRU_ERR_LEN], back[CRU_ERR_LEN];
	struct cru_err rerr;
	struct dm_info info;
	int ret;

	ret = check_crucible(name, &info, err);
	if (ret)
		return ret;
	ret = load_table(name, sectors, params, err);
	if (ret)
		return ret;
	ret = resume(name, reason, sizeof(reason), &rerr);
	if (!ret)
		return 0;
	/* Refused at assembly: the device is suspended on the new table. */
	if (load_table(name, sectors, old_params, err) ||
	    resume(name, back, sizeof(back), err))
		return cru_err_set(err, ret,
				   "%s: the target refused the new table (%s), and putting the old one back failed: %s; the volume may be suspended",
				   name, reason[0] ? reason : rerr.msg,
				   err->msg);
	return cru_err_set(err, ret,
			   "%s: the target refused the new table: %s; the volume runs on its old table",
			   name, reason[0] ? reason : rerr.msg);
}

int cru_dm_remove(const char *name, struct cru_err *err)
{
	struct dm_task *dmt;
	struct dm_info info;
	struct cru_err why;
	uint32_t cookie = 0;
	int ret;

	ret = check_crucible(name, &info, err);
	if (ret)
		return ret;
	dmt = task_new(DM_DEVICE_REMOVE, name, err);
	if (!dmt)
		return -ENOMEM;
	dm_task_retry_remove(dmt);
	if (!dm_task_set_cookie(dmt, &cookie, 0)) {
		dm_task_destroy(dmt);
		return cru_err_set(err, -EIO, "cannot set up udev cookie");
	}
	ret = cru_dm_task_run(dmt, NULL, "removing the device", &why);
	if (ret == -EBUSY)
		cru_err_set(err, ret, "cannot remove %s: it is in use", name);
	else if (ret)
		cru_err_set(err, ret, "cannot remove %s: %s", name, why.msg);
	dm_udev_wait(cookie);
	dm_task_destroy(dmt);
	return ret;
}

int cru_dm_event_open(struct cru_err *err)
{
	int fd = open(DM_CONTROL, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return cru_err_set(err, -errno, "cannot open %s: %s",
				   DM_CONTROL, strerror(errno));
	return fd;
}

int cru_dm_event_arm(int fd, struct cru_err *err)
{
	struct dm_ioctl dmi;

	memset(&dmi, 0, sizeof(dmi));
	/* DM_DEV_ARM_POLL appeared in interface 4.37. */
	dmi.version[0] = 4;
	dmi.version[1] = 37;
	dmi.version[2] = 0;
	dmi.data_size = sizeof(dmi);
	dmi.data_start = offsetof(struct dm_ioctl, data);
	if (ioctl(fd, DM_DEV_ARM_POLL, &dmi))
		return cru_err_set(err, -errno,
				   "cannot arm device-mapper event polling: %s",
				   strerror(errno));
	return 0;
}

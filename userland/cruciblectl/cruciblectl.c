// SPDX-License-Identifier: GPL-2.0
/*
 * cruciblectl: the operator's command-line tool for dm-crucible volumes.
 * See Documentation/cruciblectl.rst.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "../lib/dm.h"
#include "../lib/legfmt.h"
#include "../lib/log.h"
#include "../lib/nl.h"
#include "../lib/parse.h"
#include "../lib/plan.h"
#include "../lib/spec.h"
#include "nbdlegs.h"
#include "options.h"
#include "pool.h"
#include "render.h"

#define TABLE_LEN 4096

/* Exit status for a failed volume operation. */
static int exit_for(int ret)
{
	if (ret == -ENODEV || ret == -EMEDIUMTYPE)
		return CTL_EXIT_NO_VOLUME;
	return CTL_EXIT_ERROR;
}

/*
 * The kernel's netlink family, or NULL when it has none (an older module,
 * or none loaded): @required commands then fail, the others use
 * device-mapper messages.
 */
static struct cru_nl *nl_open(bool required)
{
	struct cru_err err;
	struct cru_nl *nl;

	if (!cru_nl_open(&nl, &err))
		return nl;
	if (required)
		log_error("%s", err.msg);
	else
		log_debug("%s; using device-mapper messages", err.msg);
	return NULL;
}

/*
 * The volume named @name as netlink sees it.  Volumes are named after
 * their device-mapper device (found by number), so that a module that
 * reports another NAME is still understood.
 */
static int nl_volume(struct cru_nl *nl, const char *name,
		     struct cru_nl_volume *v)
{
	struct cru_nl_volume *vols;
	struct cru_err err;
	size_t count, i;
	int ret;

	ret = cru_nl_list_volumes(nl, &vols, &count, &err);
	if (ret) {
		log_error("%s", err.msg);
		return ret;
	}
	ret = -ENODEV;
	for (i = 0; i < count && ret; i++) {
		cru_dm_name_nl_volume(&vols[i]);
		if (!strcmp(vols[i].name, name)) {
			*v = vols[i];
			ret = 0;
		}
	}
	free(vols);
	if (ret)
		log_error("no crucible volume named %s", name);
	return ret;
}

static void print_json(json_object *doc)
{
	printf("%s\n", json_object_to_json_string_ext(doc,
			JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
			JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(doc);
}

static int cmd_format(const struct ctl_opts *o)
{
	struct cru_format_opts fo = {
		.volume_bytes = o->size,
		.region_bytes = o->region_size,
		.force = o->force,
		.parent = o->parent,
	};
	struct cru_format_result res;
	char uuid[37], size[32], region[32];
	struct cru_err err;
	int ret;

	ret = cru_format_legs(o->legs, &fo, &res, &err);
	if (ret) {
		log_error("format: %s", err.msg);
		if (ret == -EEXIST)
			return CTL_EXIT_NOT_BLANK;
		return CTL_EXIT_ERROR;
	}
	cru_uuid_str(res.uuid, uuid);
	cru_format_size(o->size, size, sizeof(size));
	cru_format_size((uint64_t)res.geo.region_blocks * CRUCIBLE_BLOCK_SIZE,
			region, sizeof(region));
	printf("formatted %s %s %s: volume %s, %s, region size %s, %llu regions, data at block %llu",
	       o->legs[0], o->legs[1], o->legs[2], uuid, size, region,
	       (unsigned long long)res.geo.nr_regions,
	       (unsigned long long)res.geo.data_start);
	if (o->parent)
		printf(", parent %s of %llu sectors", o->parent,
		       (unsigned long long)res.parent_sectors);
	putchar('\n');
	return CTL_EXIT_OK;
}

static int cmd_upgrade(const struct ctl_opts *o)
{
	struct cru_upgrade_result res;
	struct cru_err err;
	char uuid[37];
	int i, ret;

	ret = cru_upgrade_legs(o->legs, &res, &err);
	if (ret) {
		log_error("upgrade: %s", err.msg);
		return ret == -EINVAL ? CTL_EXIT_USAGE : CTL_EXIT_ERROR;
	}
	cru_uuid_str(res.uuid, uuid);
	for (i = 0; i < CRU_NR_LEGS; i++) {
		if (res.from_version[i] == CRUCIBLE_FORMAT_VERSION)
			printf("leg %d (%s): at version %d already\n", i,
			       o->legs[i], CRUCIBLE_FORMAT_VERSION);
		else
			printf("leg %d (%s): upgraded from version %u to %d (%llu stamped regions, %llu records initialised)\n",
			       i, o->legs[i], res.from_version[i],
			       CRUCIBLE_FORMAT_VERSION,
			       (unsigned long long)res.stamped_regions[i],
			       (unsigned long long)res.initialised[i]);
	}
	printf("volume %s: format version %d\n", uuid, CRUCIBLE_FORMAT_VERSION);
	return CTL_EXIT_OK;
}

static int cmd_create(const struct ctl_opts *o)
{
	struct cru_spec spec;
	struct cru_err err;
	char params[TABLE_LEN];
	char size[32];
	bool allocated[CRU_NR_LEGS] = { false, false, false };
	int attached[CRU_NR_LEGS] = { -1, -1, -1 };
	int ret;

	ret = cru_spec_parse_file(o->spec, &spec, &err);
	if (ret) {
		log_error("%s: %s", o->spec, err.msg);
		return ret == -EINVAL ? CTL_EXIT_USAGE : CTL_EXIT_ERROR;
	}
	/* Legs from pools: their regions, allocated if they are missing. */
	ret = ctl_pool_resolve_legs(&spec, o->registry, allocated);
	/* Legs on other hosts: exports connected to /dev/nbdN. */
	if (ret == CTL_EXIT_OK)
		ret = ctl_nbd_resolve_legs(&spec, attached);
	if (ret != CTL_EXIT_OK)
		goto undo;
	ret = cru_table_format(&spec.table, params, sizeof(params), &err);
	if (ret) {
		log_error("%s: %s", o->spec, err.msg);
		ret = CTL_EXIT_USAGE;
		goto undo;
	}
	ret = cru_dm_check_devices(&spec.table, &err);
	if (ret) {
		log_error("cannot create %s: %s", spec.name, err.msg);
		ret = CTL_EXIT_ERROR;
		goto undo;
	}
	log_debug("%s: table 0 %llu %s %s", spec.name,
		  (unsigned long long)cru_spec_sectors(&spec), CRU_TARGET_NAME,
		  params);
	ret = cru_dm_create(spec.name, cru_spec_sectors(&spec), params, &err);
	if (ret) {
		log_error("%s", err.msg);
		ret = CTL_EXIT_ERROR;
		goto undo;
	}
	cru_format_size(spec.size, size, sizeof(size));
	printf("created %s (%s) as /dev/mapper/%s\n", spec.name, size,
	       spec.name);
	return CTL_EXIT_OK;
undo:
	ctl_nbd_undo_legs(attached);
	ctl_pool_undo_legs(&spec, o->registry, allocated);
	return ret;
}

static int print_volumes(const struct ctl_opts *o, struct cru_volume *vols,
			 size_t count)
{
	const char *state_dir = getenv("CRUCIBLE_AGENT_STATE_DIR");
	size_t i;
	int leg;

	/* What the NBD legs are connected to, and what the agent says. */
	for (i = 0; i < count; i++)
		for (leg = 0; leg < CRU_NR_LEGS; leg++)
			cru_nbdleg_describe(vols[i].table.legs[leg],
					    state_dir ? state_dir : CRU_AGENT_STATE_DIR,
					    &vols[i].nbd[leg]);

	if (o->json) {
		print_json(ctl_status_json(vols, count));
		return 0;
	}
	if (!count && !o->volume)
		printf("no crucible volumes\n");
	for (i = 0; i < count; i++) {
		if (i)
			putchar('\n');
		ctl_render_volume(stdout, &vols[i]);
	}
	return 0;
}

static int cmd_status(const struct ctl_opts *o)
{
	struct cru_volume *vols = NULL;
	struct cru_dm_name *names;
	size_t nr_names, count = 0, i;
	struct cru_err err;
	int rc = CTL_EXIT_OK;
	int ret;

	if (o->volume) {
		vols = malloc(sizeof(*vols));
		if (!vols) {
			log_error("out of memory");
			return CTL_EXIT_ERROR;
		}
		ret = cru_dm_volume_read(o->volume, vols, &err);
		if (ret) {
			log_error("%s", err.msg);
			free(vols);
			return exit_for(ret);
		}
		print_volumes(o, vols, 1);
		free(vols);
		return CTL_EXIT_OK;
	}

	ret = cru_dm_list(&names, &nr_names, &err);
	if (ret) {
		log_error("%s", err.msg);
		return CTL_EXIT_ERROR;
	}
	if (nr_names) {
		vols = calloc(nr_names, sizeof(*vols));
		if (!vols) {
			free(names);
			log_error("out of memory");
			return CTL_EXIT_ERROR;
		}
	}
	for (i = 0; i < nr_names; i++) {
		ret = cru_dm_volume_read(names[i].name, &vols[count], &err);
		if (!ret) {
			count++;
		} else if (ret != -ENODEV) {	/* removed meanwhile: fine */
			log_error("%s", err.msg);
			rc = CTL_EXIT_ERROR;
		}
	}
	print_volumes(o, vols, count);
	free(vols);
	free(names);
	return rc;
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Sleep until the next poll is due, or until the kernel sends an event
 * (then a little longer, so that a burst of them is read at once).  An
 * event socket that fails is closed: polling goes on without it.
 */
static void wait_a_while(struct cru_nl **ev, unsigned int seconds)
{
	struct pollfd pfd;
	struct cru_err err;
	int ret;

	if (!*ev) {
		sleep(seconds);
		return;
	}
	pfd.fd = cru_nl_fd(*ev);
	pfd.events = POLLIN;
	if (poll(&pfd, 1, (int)seconds * 1000) <= 0)
		return;
	usleep(100000);
	do {
		ret = cru_nl_read_events(*ev, NULL, NULL, &err);
	} while (ret == -ENOBUFS);
	if (ret < 0) {
		log_debug("%s; polling only", err.msg);
		cru_nl_close(*ev);
		*ev = NULL;
	}
}

static int reconcile_wait(const struct ctl_opts *o, struct cru_nl **ev)
{
	double start = now_seconds();
	char line[512], last[512] = "";
	struct cru_volume vol;
	struct cru_err err;
	int ret;

	for (;;) {
		ret = cru_dm_volume_read(o->volume, &vol, &err);
		if (ret) {
			log_error("%s", err.msg);
			return exit_for(ret);
		}
		ctl_progress_line(line, sizeof(line), &vol);
		if (strcmp(line, last)) {
			printf("%s\n", line);
			fflush(stdout);
			strcpy(last, line);
		}
		switch (ctl_wait_verdict(o->reconcile, &vol.status)) {
		case CTL_WAIT_DONE:
			return CTL_EXIT_OK;
		case CTL_WAIT_STOPPED:
			log_error("%s: repair was paused before it finished",
				  o->volume);
			return CTL_EXIT_INCOMPLETE;
		case CTL_WAIT_FAILED:
			log_error("%s: the volume failed (no usable leg)",
				  o->volume);
			return CTL_EXIT_INCOMPLETE;
		case CTL_WAIT_MORE:
			break;
		}
		if (o->timeout && now_seconds() - start >= o->timeout) {
			log_error("%s: repair still %s after %u seconds",
				  o->volume,
				  cru_repair_state_name(vol.status.repair_state),
				  o->timeout);
			return CTL_EXIT_INCOMPLETE;
		}
		wait_a_while(ev, o->interval);
	}
}

static int cmd_reconcile(const struct ctl_opts *o)
{
	bool start = o->reconcile == CTL_RECONCILE_START;
	const char *msg = start ? "reconcile start" : "reconcile stop";
	struct cru_nl *nl = nl_open(false), *ev = NULL;
	struct cru_nl_volume v;
	struct cru_err err;
	char what[CRU_NAME_MAX + 32];
	int ret;

	if (nl) {
		ret = nl_volume(nl, o->volume, &v);
		if (ret) {
			cru_nl_close(nl);
			return exit_for(ret);
		}
		/* Subscribed before the change: --wait wakes up on events. */
		if (o->wait && cru_nl_open_events(&ev, 0, &err))
			log_debug("%s; polling only", err.msg);
		snprintf(what, sizeof(what), "%s: %s", o->volume, msg);
		ret = cru_nl_request(nl, cru_nl_msg_reconcile(cru_nl_family(nl),
							       v.dev, start),
				     what, &err);
		cru_nl_close(nl);
	} else {
		ret = cru_dm_message(o->volume, msg, &err);
	}
	if (ret) {
		log_error("%s", err.msg);
		cru_nl_close(ev);
		return exit_for(ret);
	}
	if (!o->wait) {
		printf("%s: %s\n", o->volume, msg);
		return CTL_EXIT_OK;
	}
	ret = reconcile_wait(o, &ev);
	cru_nl_close(ev);
	return ret;
}

/* fail_leg / restore_leg, through netlink when the kernel has it. */
static int leg_fail_restore(const struct ctl_opts *o)
{
	bool fail = o->leg_action == CTL_LEG_FAIL;
	struct cru_nl *nl = nl_open(false);
	struct cru_nl_volume v;
	struct cru_err err;
	char what[CRU_NAME_MAX + 32];
	int ret;

	if (nl) {
		ret = nl_volume(nl, o->volume, &v);
		if (ret) {
			cru_nl_close(nl);
			return exit_for(ret);
		}
		snprintf(what, sizeof(what), "%s: %s leg %d", o->volume,
			 fail ? "fail" : "restore", o->leg);
		ret = cru_nl_request(nl, cru_nl_msg_set_leg(cru_nl_family(nl),
			v.dev, (uint8_t)o->leg,
			fail ? CRUCIBLE_LEG_ACTION_FAIL :
			       CRUCIBLE_LEG_ACTION_RESTORE), what, &err);
		cru_nl_close(nl);
	} else {
		snprintf(what, sizeof(what), "%s %d",
			 fail ? "fail_leg" : "restore_leg", o->leg);
		ret = cru_dm_message(o->volume, what, &err);
	}
	if (ret) {
		log_error("%s", err.msg);
		return exit_for(ret);
	}
	printf("%s: leg %d %s\n", o->volume, o->leg,
	       fail ? "failed" : "restored (repair of its stale regions follows)");
	return CTL_EXIT_OK;
}

/* "major:minor" of a table word, as the TABLE line shows devices. */
static bool table_devno(const char *word, dev_t *dev)
{
	unsigned int ma, mi;
	char end;

	if (sscanf(word, "%u:%u%c", &ma, &mi, &end) != 2)
		return false;
	*dev = makedev(ma, mi);
	return true;
}

/*
 * Would replacing leg @leg lose data?  It does if some region has no
 * in-sync copy in service on another leg.  Without the netlink family
 * the regions cannot be looked at: then another leg must be in sync
 * everywhere (A).  Returns 0 when safe, else logs why.
 */
static int replace_is_safe(const struct ctl_opts *o,
			   const struct cru_volume *vol)
{
	struct cru_nl *nl = nl_open(false);
	unsigned int others, in_service, stale;
	struct cru_nl_region *regions;
	uint64_t lost = 0, first = 0;
	struct cru_nl_volume v;
	struct cru_err err;
	size_t nr, i;
	int ret, l;

	if (!nl) {
		for (l = 0; l < CRU_NR_LEGS; l++)
			if (l != o->leg && vol->status.legs[l] == CRU_LEG_ALIVE)
				return 0;
		log_error("%s: no leg but %d is in sync everywhere, and without the kernel's netlink family its regions cannot be checked one by one: replacing leg %d may lose data (--force to replace it anyway)",
			  o->volume, o->leg, o->leg);
		return -EBUSY;
	}
	ret = nl_volume(nl, o->volume, &v);
	if (!ret)
		ret = cru_nl_get_regions(nl, v.dev, 0, 0, &regions, &nr, &err);
	else
		err.msg[0] = '\0';
	cru_nl_close(nl);
	if (ret) {
		if (err.msg[0])
			log_error("%s", err.msg);
		return ret;
	}
	in_service = cru_nl_volume_in_service(&v);
	others = in_service & ~(1U << o->leg);
	for (i = 0; i < nr; i++) {
		stale = regions[i].flags & CRUCIBLE_NL_REGION_STALE_MASK;
		if (others & ~stale)
			continue;
		if (!lost++)
			first = regions[i].region;
	}
	/* With no other leg in service, every region depends on this one. */
	if (!others)
		lost = v.nr_regions;
	free(regions);
	if (!lost)
		return 0;
	log_error("%s: %llu regions (the first is region %llu) have no in-sync copy in service but on leg %d: replacing it would lose them (--force to replace it anyway)",
		  o->volume, (unsigned long long)lost,
		  (unsigned long long)(others ? first : 0), o->leg);
	return -EBUSY;
}

static int leg_replace(const struct ctl_opts *o)
{
	char params[TABLE_LEN], old_params[TABLE_LEN];
	unsigned int ma, mi;
	struct cru_volume vol;
	struct cru_table t;
	struct cru_err err;
	struct stat st;
	dev_t dev;
	int ret, l;

	ret = cru_dm_volume_read(o->volume, &vol, &err);
	if (ret) {
		log_error("%s", err.msg);
		return exit_for(ret);
	}
	if (vol.table.unknown_args) {
		log_error("%s: its table has %u arguments this cruciblectl does not know; reload it by hand",
			  o->volume, vol.table.unknown_args);
		return CTL_EXIT_ERROR;
	}
	if (stat(o->new_device, &st)) {
		log_error("leg replace: %s: %s", o->new_device, strerror(errno));
		return CTL_EXIT_ERROR;
	}
	if (!S_ISBLK(st.st_mode)) {
		log_error("leg replace: %s is not a block device", o->new_device);
		return CTL_EXIT_USAGE;
	}
	for (l = 0; l < CRU_NR_LEGS; l++) {
		if (l != o->leg && table_devno(vol.table.legs[l], &dev) &&
		    dev == st.st_rdev) {
			log_error("leg replace: %s is already leg %d of %s",
				  o->new_device, l, o->volume);
			return CTL_EXIT_USAGE;
		}
	}
	if (vol.table.has_parent && table_devno(vol.table.parent, &dev) &&
	    dev == st.st_rdev) {
		log_error("leg replace: %s is the parent of %s", o->new_device,
			  o->volume);
		return CTL_EXIT_USAGE;
	}
	if (!cru_dm_devno(o->volume, &ma, &mi, &err) &&
	    makedev(ma, mi) == st.st_rdev) {
		log_error("leg replace: %s is %s itself", o->new_device,
			  o->volume);
		return CTL_EXIT_USAGE;
	}
	if (!o->force && replace_is_safe(o, &vol))
		return CTL_EXIT_ERROR;

	t = vol.table;
	snprintf(t.legs[o->leg], sizeof(t.legs[o->leg]), "%s", o->new_device);
	t.replace_leg = o->leg;
	ret = cru_table_format(&t, params, sizeof(params), &err);
	if (!ret)
		ret = cru_table_format(&vol.table, old_params,
				       sizeof(old_params), &err);
	if (ret) {
		log_error("%s: %s", o->volume, err.msg);
		return CTL_EXIT_ERROR;
	}
	log_debug("%s: new table 0 %llu %s %s", o->volume,
		  (unsigned long long)vol.sectors, CRU_TARGET_NAME, params);
	ret = cru_dm_reload(o->volume, vol.sectors, params, old_params, &err);
	if (ret) {
		log_error("%s", err.msg);
		return CTL_EXIT_ERROR;
	}
	printf("%s: leg %d is now %s; the kernel fills it from the other legs%s\n",
	       o->volume, o->leg, o->new_device,
	       vol.table.repair == CRU_REPAIR_MODE_MANUAL ?
	       " when repair runs (repair is manual: crucible-agent or 'cruciblectl reconcile <volume> start')" :
	       "");
	return CTL_EXIT_OK;
}

static int cmd_leg(const struct ctl_opts *o)
{
	if (o->leg_action == CTL_LEG_REPLACE)
		return leg_replace(o);
	return leg_fail_restore(o);
}

static int cmd_regions(const struct ctl_opts *o)
{
	struct cru_nl *nl = nl_open(true);
	struct cru_nl_region *regions = NULL;
	struct cru_nl_volume v;
	struct cru_plan plan;
	struct cru_err err;
	uint64_t count;
	size_t nr;
	int ret;

	if (!nl)
		return CTL_EXIT_ERROR;
	ret = nl_volume(nl, o->volume, &v);
	if (ret) {
		cru_nl_close(nl);
		return exit_for(ret);
	}
	count = o->has_count ? o->count :
		(o->first < v.nr_regions ? v.nr_regions - o->first : 0);
	if (o->first >= v.nr_regions || count > v.nr_regions - o->first) {
		log_error("regions: %s has %llu regions (0 to %llu)", o->volume,
			  (unsigned long long)v.nr_regions,
			  (unsigned long long)(v.nr_regions - 1));
		cru_nl_close(nl);
		return CTL_EXIT_USAGE;
	}
	/* The whole volume, or an explicit range (FIRST alone is refused). */
	ret = cru_nl_get_regions(nl, v.dev, o->first,
				 o->first || o->has_count ? count : 0,
				 &regions, &nr, &err);
	cru_nl_close(nl);
	if (!ret)
		ret = cru_plan_repairs(regions, nr, v.leg_states, v.nr_regions,
				       0, &plan, &err);
	if (ret) {
		log_error("%s: %s", o->volume, err.msg);
		free(regions);
		return exit_for(ret);
	}
	if (o->json)
		print_json(ctl_regions_json(&v, o->first, count, regions, nr,
					    &plan));
	else
		ctl_render_regions(stdout, &v, o->first, count, regions, nr,
				   &plan);
	cru_plan_free(&plan);
	free(regions);
	return CTL_EXIT_OK;
}

static int cmd_records(const struct ctl_opts *o)
{
	struct cru_nl *nl = nl_open(true);
	struct cru_nl_record *records;
	struct cru_nl_volume v;
	struct cru_err err;
	size_t nr;
	int ret;

	if (!nl)
		return CTL_EXIT_ERROR;
	ret = nl_volume(nl, o->volume, &v);
	if (ret) {
		cru_nl_close(nl);
		return exit_for(ret);
	}
	if ((v.have & CRU_NL_HAVE(CRUCIBLE_ATTR_VOLUME_BLOCKS)) &&
	    (o->first >= v.volume_blocks ||
	     o->count > v.volume_blocks - o->first)) {
		log_error("records: %s has %llu blocks (0 to %llu)", o->volume,
			  (unsigned long long)v.volume_blocks,
			  (unsigned long long)(v.volume_blocks - 1));
		cru_nl_close(nl);
		return CTL_EXIT_USAGE;
	}
	ret = cru_nl_get_records(nl, v.dev, (uint8_t)o->leg, o->first,
				 o->count, &records, &nr, &err);
	cru_nl_close(nl);
	if (ret) {
		log_error("%s", err.msg);
		return exit_for(ret);
	}
	if (o->json)
		print_json(ctl_records_json(&v, o->leg, o->first, o->count,
					    records, nr));
	else
		ctl_render_records(stdout, &v, o->leg, o->first, o->count,
				   records, nr);
	free(records);
	return CTL_EXIT_OK;
}

static int cmd_remove(const struct ctl_opts *o)
{
	struct cru_volume vol;
	struct cru_err err;
	bool have;
	int ret;

	/* Its legs, to let go of the NBD devices cruciblectl connected. */
	have = !cru_dm_volume_read(o->volume, &vol, &err);
	ret = cru_dm_remove(o->volume, &err);
	if (ret) {
		log_error("%s", err.msg);
		return exit_for(ret);
	}
	printf("removed %s\n", o->volume);
	if (have)
		ctl_nbd_release_legs(&vol.table);
	return CTL_EXIT_OK;
}

int main(int argc, char **argv)
{
	struct ctl_opts o;
	struct cru_err err;

	log_init("cruciblectl", LOG_TO_STDERR, LOG_LEVEL_INFO);
	if (ctl_parse_args(argc, argv, &o, &err)) {
		log_error("%s", err.msg);
		return CTL_EXIT_USAGE;
	}
	if (o.verbose)
		log_set_level(LOG_LEVEL_DEBUG);

	switch (o.cmd) {
	case CTL_CMD_HELP:
		ctl_usage(stdout, o.help_cmd);
		return CTL_EXIT_OK;
	case CTL_CMD_VERSION:
		ctl_version(stdout);
		return CTL_EXIT_OK;
	case CTL_CMD_FORMAT:
		return cmd_format(&o);
	case CTL_CMD_UPGRADE:
		return cmd_upgrade(&o);
	default:
		break;
	}

	cru_dm_init();
	switch (o.cmd) {
	case CTL_CMD_CREATE:
		return cmd_create(&o);
	case CTL_CMD_STATUS:
		return cmd_status(&o);
	case CTL_CMD_RECONCILE:
		return cmd_reconcile(&o);
	case CTL_CMD_LEG:
		return cmd_leg(&o);
	case CTL_CMD_REMOVE:
		return cmd_remove(&o);
	case CTL_CMD_REGIONS:
		return cmd_regions(&o);
	case CTL_CMD_RECORDS:
		return cmd_records(&o);
	case CTL_CMD_POOL:
		return ctl_cmd_pool(&o);
	case CTL_CMD_REGION:
		return ctl_cmd_region(&o);
	default:
		log_error("internal error: command %d", o.cmd);
		return CTL_EXIT_ERROR;
	}
}

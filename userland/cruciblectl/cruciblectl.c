// SPDX-License-Identifier: GPL-2.0
/*
 * cruciblectl: the operator's command-line tool for dm-crucible volumes.
 * See Documentation/cruciblectl.rst.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../lib/dm.h"
#include "../lib/legfmt.h"
#include "../lib/log.h"
#include "../lib/parse.h"
#include "../lib/spec.h"
#include "options.h"
#include "render.h"

#define TABLE_LEN 4096

/* Exit status for a failed volume operation. */
static int exit_for(int ret)
{
	if (ret == -ENODEV || ret == -EMEDIUMTYPE)
		return CTL_EXIT_NO_VOLUME;
	return CTL_EXIT_ERROR;
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

static int cmd_create(const struct ctl_opts *o)
{
	struct cru_spec spec;
	struct cru_err err;
	char params[TABLE_LEN];
	char size[32];
	int ret;

	ret = cru_spec_parse_file(o->spec, &spec, &err);
	if (ret) {
		log_error("%s: %s", o->spec, err.msg);
		return ret == -EINVAL ? CTL_EXIT_USAGE : CTL_EXIT_ERROR;
	}
	ret = cru_table_format(&spec.table, params, sizeof(params), &err);
	if (ret) {
		log_error("%s: %s", o->spec, err.msg);
		return CTL_EXIT_USAGE;
	}
	ret = cru_dm_check_devices(&spec.table, &err);
	if (ret) {
		log_error("cannot create %s: %s", spec.name, err.msg);
		return CTL_EXIT_ERROR;
	}
	log_debug("%s: table 0 %llu %s %s", spec.name,
		  (unsigned long long)cru_spec_sectors(&spec), CRU_TARGET_NAME,
		  params);
	ret = cru_dm_create(spec.name, cru_spec_sectors(&spec), params, &err);
	if (ret) {
		log_error("%s", err.msg);
		return CTL_EXIT_ERROR;
	}
	cru_format_size(spec.size, size, sizeof(size));
	printf("created %s (%s) as /dev/mapper/%s\n", spec.name, size,
	       spec.name);
	return CTL_EXIT_OK;
}

static int print_volumes(const struct ctl_opts *o, struct cru_volume *vols,
			 size_t count)
{
	size_t i;

	if (o->json) {
		json_object *doc = ctl_status_json(vols, count);

		printf("%s\n", json_object_to_json_string_ext(doc,
				JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
				JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(doc);
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

static int reconcile_wait(const struct ctl_opts *o)
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
		sleep(o->interval);
	}
}

static int cmd_reconcile(const struct ctl_opts *o)
{
	const char *msg = o->reconcile == CTL_RECONCILE_START ?
			  "reconcile start" : "reconcile stop";
	struct cru_err err;
	int ret;

	ret = cru_dm_message(o->volume, msg, &err);
	if (ret) {
		log_error("%s", err.msg);
		return exit_for(ret);
	}
	if (!o->wait) {
		printf("%s: %s\n", o->volume, msg);
		return CTL_EXIT_OK;
	}
	return reconcile_wait(o);
}

static int cmd_leg(const struct ctl_opts *o)
{
	struct cru_err err;
	char msg[32];
	int ret;

	snprintf(msg, sizeof(msg), "%s %d",
		 o->leg_action == CTL_LEG_FAIL ? "fail_leg" : "restore_leg",
		 o->leg);
	ret = cru_dm_message(o->volume, msg, &err);
	if (ret) {
		log_error("%s", err.msg);
		return exit_for(ret);
	}
	printf("%s: leg %d %s\n", o->volume, o->leg,
	       o->leg_action == CTL_LEG_FAIL ? "failed" : "restored (repair of its stale regions follows)");
	return CTL_EXIT_OK;
}

static int cmd_remove(const struct ctl_opts *o)
{
	struct cru_err err;
	int ret;

	ret = cru_dm_remove(o->volume, &err);
	if (ret) {
		log_error("%s", err.msg);
		return exit_for(ret);
	}
	printf("removed %s\n", o->volume);
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
	default:
		log_error("internal error: command %d", o.cmd);
		return CTL_EXIT_ERROR;
	}
}

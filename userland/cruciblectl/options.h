/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cruciblectl's command line, parsed into a struct so that it can be
 * tested: nothing here prints or exits.
 */
#ifndef CTL_OPTIONS_H
#define CTL_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../lib/log.h"
#include "../lib/status.h"

/* Exit codes (Documentation/cruciblectl.rst, "Exit status"). */
#define CTL_EXIT_OK		0
#define CTL_EXIT_ERROR		1	/* device-mapper, kernel or I/O failure */
#define CTL_EXIT_USAGE		2	/* bad options, arguments or spec */
#define CTL_EXIT_NO_VOLUME	3	/* no such volume / not crucible */
#define CTL_EXIT_NOT_BLANK	4	/* format: a leg is not blank */
#define CTL_EXIT_INCOMPLETE	5	/* reconcile --wait: did not finish */
#define CTL_EXIT_NO_POOL	6	/* no such pool or region */
#define CTL_EXIT_NO_SPACE	7	/* region create: the pool has no room */

enum ctl_cmd {
	CTL_CMD_NONE,
	CTL_CMD_HELP,
	CTL_CMD_VERSION,
	CTL_CMD_FORMAT,
	CTL_CMD_UPGRADE,
	CTL_CMD_CREATE,
	CTL_CMD_STATUS,
	CTL_CMD_RECONCILE,
	CTL_CMD_LEG,
	CTL_CMD_REMOVE,
	CTL_CMD_REGIONS,
	CTL_CMD_RECORDS,
	CTL_CMD_POOL,
	CTL_CMD_REGION,
};

enum ctl_pool_action {
	CTL_POOL_INIT,
	CTL_POOL_LIST,
	CTL_POOL_SHOW,
	CTL_POOL_OPEN,
	CTL_POOL_CLOSE,
};

enum ctl_region_action {
	CTL_REGION_CREATE,
	CTL_REGION_REMOVE,
	CTL_REGION_LIST,
};

enum ctl_reconcile_action {
	CTL_RECONCILE_START,
	CTL_RECONCILE_STOP,
};

enum ctl_leg_action {
	CTL_LEG_FAIL,
	CTL_LEG_RESTORE,
	CTL_LEG_REPLACE,
};

struct ctl_opts {
	enum ctl_cmd cmd;
	enum ctl_cmd help_cmd;	/* CTL_CMD_HELP: the subcommand asked about */
	int verbose;
	const char *volume;

	/* format */
	const char *legs[CRU_NR_LEGS];
	uint64_t size;
	uint64_t region_size;	/* bytes, 0 = default */
	bool force;		/* format: legs not blank; leg replace: risky */
	const char *parent;	/* record this parent's size, or NULL */

	/* create */
	const char *spec;

	/* status, regions, records */
	bool json;

	/* reconcile */
	enum ctl_reconcile_action reconcile;
	bool wait;
	unsigned int interval;	/* seconds between polls */
	unsigned int timeout;	/* seconds, 0 = none */

	/* leg, records */
	enum ctl_leg_action leg_action;
	int leg;
	const char *new_device;	/* leg replace */

	/* regions (has_count false: to the end), records */
	uint64_t first;
	uint64_t count;
	bool has_count;

	/* pool, region (size and force above) */
	enum ctl_pool_action pool_action;
	enum ctl_region_action region_action;
	const char *pool;	/* registered name or path; init: the device */
	const char *region;
	const char *name;	/* --name */
	bool all;		/* pool open|close --all */
	const char *registry;	/* --registry FILE */
};

/* 0, or -EINVAL with the reason in @err (a usage error). */
int ctl_parse_args(int argc, char **argv, struct ctl_opts *opts,
		   struct cru_err *err);

const char *ctl_cmd_name(enum ctl_cmd cmd);
/* Usage of @cmd, or of the whole program for CTL_CMD_NONE. */
void ctl_usage(FILE *out, enum ctl_cmd cmd);
void ctl_version(FILE *out);

#endif /* CTL_OPTIONS_H */

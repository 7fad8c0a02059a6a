/* SPDX-License-Identifier: GPL-2.0 */
/*
 * How cruciblectl shows volumes: the human table, the JSON document
 * (schema in Documentation/cruciblectl.rst) and reconcile progress.
 * Pure functions of a struct cru_volume.
 */
#ifndef CTL_RENDER_H
#define CTL_RENDER_H

#include <stdio.h>

#include <json.h>

#include "../lib/dm.h"
#include "options.h"

#define CTL_JSON_SCHEMA 1

void ctl_render_volume(FILE *out, const struct cru_volume *vol);
json_object *ctl_volume_json(const struct cru_volume *vol);
/* {"schema": 1, "volumes": [...]} */
json_object *ctl_status_json(const struct cru_volume *vols, size_t count);

/* One line of `reconcile --wait` progress, without the newline. */
void ctl_progress_line(char *buf, size_t len, const struct cru_volume *vol);

enum ctl_wait_verdict {
	CTL_WAIT_MORE,		/* keep polling */
	CTL_WAIT_DONE,		/* what was asked for has happened */
	CTL_WAIT_STOPPED,	/* repair paused before it was done */
	CTL_WAIT_FAILED,	/* the volume failed: no leg usable */
};

/* Has `reconcile <action> --wait` finished, given the volume's status? */
enum ctl_wait_verdict ctl_wait_verdict(enum ctl_reconcile_action action,
				       const struct cru_status *st);

#endif /* CTL_RENDER_H */

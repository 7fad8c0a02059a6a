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
#include "../lib/nl.h"
#include "../lib/plan.h"
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

/*
 * `regions`: the regions of @v from @first, @count of them, that the
 * kernel listed (@r, in order), and the repair plan for them.
 */
void ctl_render_regions(FILE *out, const struct cru_nl_volume *v,
			uint64_t first, uint64_t count,
			const struct cru_nl_region *r, size_t nr,
			const struct cru_plan *plan);
json_object *ctl_regions_json(const struct cru_nl_volume *v, uint64_t first,
			      uint64_t count, const struct cru_nl_region *r,
			      size_t nr, const struct cru_plan *plan);

/* `records`: blocks @first.. of leg @leg, @count of them. */
void ctl_render_records(FILE *out, const struct cru_nl_volume *v, int leg,
			uint64_t first, uint64_t count,
			const struct cru_nl_record *r, size_t nr);
json_object *ctl_records_json(const struct cru_nl_volume *v, int leg,
			      uint64_t first, uint64_t count,
			      const struct cru_nl_record *r, size_t nr);

/* "written", "unwritten" (hash 0) or "zeroed" (hash 2). */
const char *ctl_record_state(uint64_t hash);

#endif /* CTL_RENDER_H */

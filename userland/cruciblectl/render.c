// SPDX-License-Identifier: GPL-2.0
/*
 * Human and JSON views of a crucible volume.
 */
#include "render.h"

#include <string.h>

#include "../lib/parse.h"

static double percent(uint64_t done, uint64_t total)
{
	return total ? 100.0 * (double)done / (double)total : 100.0;
}

void ctl_render_volume(FILE *out, const struct cru_volume *vol)
{
	const struct cru_status *st = &vol->status;
	const struct cru_table *t = &vol->table;
	char size[32];
	int i;

	cru_format_size(vol->sectors * 512, size, sizeof(size));
	fprintf(out, "%s: %s, mode %s, generation %llu, flush %llu\n",
		vol->name, size, cru_mode_name(st->mode),
		(unsigned long long)st->generation,
		(unsigned long long)st->flush);
	fprintf(out, "  regions in sync  %llu/%llu (%.1f%%), repair %s\n",
		(unsigned long long)st->in_sync_regions,
		(unsigned long long)st->nr_regions,
		percent(st->in_sync_regions, st->nr_regions),
		cru_repair_state_name(st->repair_state));
	if (st->has_parent) {
		fprintf(out, "  hydration        %llu/%llu blocks (%.1f%%)",
			(unsigned long long)st->hydrated,
			(unsigned long long)st->hydration_total,
			percent(st->hydrated, st->hydration_total));
		if (st->hydration_state != CRU_HYDRATION_UNKNOWN)
			fprintf(out, ", %s",
				cru_hydration_state_name(st->hydration_state));
		fprintf(out, ", from %s\n", t->has_parent ? t->parent : "parent");
		if (st->has_parent_errors)
			fprintf(out, "  parent errors    %llu\n",
				(unsigned long long)st->parent_errors);
	} else {
		fprintf(out, "  hydration        - (no parent)\n");
	}
	fprintf(out, "  I/O              reads %llu, writes %llu, flushes %llu\n",
		(unsigned long long)st->reads, (unsigned long long)st->writes,
		(unsigned long long)st->flushes);
	fprintf(out, "  integrity        mismatches %llu, repaired blocks %llu\n",
		(unsigned long long)st->mismatches,
		(unsigned long long)st->repaired_blocks);
	if (t->has_region_size || t->has_owner) {
		fprintf(out, "  table            ");
		if (t->has_region_size) {
			cru_format_size(t->region_size * 512, size,
					sizeof(size));
			fprintf(out, "region size %s", size);
		}
		if (t->has_owner)
			fprintf(out, "%sowner %s",
				t->has_region_size ? ", " : "", t->owner);
		fputc('\n', out);
	}
	fprintf(out, "  LEG  STATE     ERRORS  DEVICE\n");
	for (i = 0; i < CRU_NR_LEGS; i++)
		fprintf(out, "  %-3d  %-8s  %6llu  %s\n", i,
			cru_leg_state_name(st->legs[i]),
			(unsigned long long)st->leg_errors[i], t->legs[i]);
}

static json_object *u64(uint64_t v)
{
	return json_object_new_uint64(v);
}

static json_object *fraction(const char *done_key, uint64_t done,
			     uint64_t total)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, done_key, u64(done));
	json_object_object_add(o, "total", u64(total));
	return o;
}

json_object *ctl_volume_json(const struct cru_volume *vol)
{
	const struct cru_status *st = &vol->status;
	const struct cru_table *t = &vol->table;
	json_object *o = json_object_new_object();
	json_object *counters, *legs, *hyd;
	char code[2] = { 0, 0 };
	int i;

	json_object_object_add(o, "name", json_object_new_string(vol->name));
	json_object_object_add(o, "size_bytes", u64(vol->sectors * 512));
	json_object_object_add(o, "mode",
			       json_object_new_string(cru_mode_name(st->mode)));
	json_object_object_add(o, "generation", u64(st->generation));
	json_object_object_add(o, "flush", u64(st->flush));
	json_object_object_add(o, "regions",
			       fraction("in_sync", st->in_sync_regions,
					st->nr_regions));
	if (st->has_parent) {
		hyd = fraction("hydrated", st->hydrated, st->hydration_total);
		json_object_object_add(hyd, "done",
				       json_object_new_boolean(cru_status_hydration_done(st)));
		json_object_object_add(hyd, "state",
				       st->hydration_state == CRU_HYDRATION_UNKNOWN ?
				       NULL :
				       json_object_new_string(cru_hydration_state_name(st->hydration_state)));
	} else {
		hyd = NULL;
	}
	json_object_object_add(o, "hydration", hyd);
	json_object_object_add(o, "repair_state",
			       json_object_new_string(cru_repair_state_name(st->repair_state)));

	counters = json_object_new_object();
	json_object_object_add(counters, "reads", u64(st->reads));
	json_object_object_add(counters, "writes", u64(st->writes));
	json_object_object_add(counters, "flushes", u64(st->flushes));
	json_object_object_add(counters, "mismatches", u64(st->mismatches));
	json_object_object_add(counters, "repaired_blocks",
			       u64(st->repaired_blocks));
	json_object_object_add(counters, "parent_errors",
			       st->has_parent_errors ? u64(st->parent_errors) : NULL);
	json_object_object_add(o, "counters", counters);

	legs = json_object_new_array();
	for (i = 0; i < CRU_NR_LEGS; i++) {
		json_object *leg = json_object_new_object();

		code[0] = (char)st->legs[i];
		json_object_object_add(leg, "index", json_object_new_int(i));
		json_object_object_add(leg, "device",
				       json_object_new_string(t->legs[i]));
		json_object_object_add(leg, "state",
				       json_object_new_string(cru_leg_state_name(st->legs[i])));
		json_object_object_add(leg, "state_code",
				       json_object_new_string(code));
		json_object_object_add(leg, "errors", u64(st->leg_errors[i]));
		json_object_array_add(legs, leg);
	}
	json_object_object_add(o, "legs", legs);

	json_object_object_add(o, "parent",
			       t->has_parent ? json_object_new_string(t->parent) : NULL);
	json_object_object_add(o, "region_size_bytes",
			       t->has_region_size ? u64(t->region_size * 512) : NULL);
	json_object_object_add(o, "owner",
			       t->has_owner ? json_object_new_string(t->owner) : NULL);
	return o;
}

json_object *ctl_status_json(const struct cru_volume *vols, size_t count)
{
	json_object *doc = json_object_new_object();
	json_object *arr = json_object_new_array();
	size_t i;

	json_object_object_add(doc, "schema", json_object_new_int(CTL_JSON_SCHEMA));
	for (i = 0; i < count; i++)
		json_object_array_add(arr, ctl_volume_json(&vols[i]));
	json_object_object_add(doc, "volumes", arr);
	return doc;
}

void ctl_progress_line(char *buf, size_t len, const struct cru_volume *vol)
{
	const struct cru_status *st = &vol->status;
	char legs[CRU_NR_LEGS + 1];
	int i;

	for (i = 0; i < CRU_NR_LEGS; i++)
		legs[i] = (char)st->legs[i];
	legs[CRU_NR_LEGS] = '\0';
	snprintf(buf, len,
		 "%s: repair %s, %llu/%llu regions in sync (%.1f%%), %llu blocks repaired, legs %s",
		 vol->name, cru_repair_state_name(st->repair_state),
		 (unsigned long long)st->in_sync_regions,
		 (unsigned long long)st->nr_regions,
		 percent(st->in_sync_regions, st->nr_regions),
		 (unsigned long long)st->repaired_blocks, legs);
}

enum ctl_wait_verdict ctl_wait_verdict(enum ctl_reconcile_action action,
				       const struct cru_status *st)
{
	if (st->mode == CRU_MODE_FAILED)
		return CTL_WAIT_FAILED;
	if (action == CTL_RECONCILE_STOP)
		return st->repair_state == CRU_REPAIR_RUNNING ? CTL_WAIT_MORE :
								CTL_WAIT_DONE;
	switch (st->repair_state) {
	case CRU_REPAIR_IDLE:
		return CTL_WAIT_DONE;
	case CRU_REPAIR_PAUSED:
		return CTL_WAIT_STOPPED;
	case CRU_REPAIR_RUNNING:
	case CRU_REPAIR_WAITING:
		break;
	}
	return CTL_WAIT_MORE;
}

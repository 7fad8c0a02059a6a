// SPDX-License-Identifier: GPL-2.0
/*
 * Human and JSON views of a crucible volume.
 */
#include "render.h"

#include <string.h>

#include <crucible/format.h>

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
	fprintf(out, "  integrity        mismatches %llu, repaired blocks %llu",
		(unsigned long long)st->mismatches,
		(unsigned long long)st->repaired_blocks);
	if (st->has_unrecoverable)
		fprintf(out, ", unrecoverable blocks %llu",
			(unsigned long long)st->unrecoverable);
	fprintf(out, "\n");
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
	for (i = 0; i < CRU_NR_LEGS; i++) {
		const struct cru_nbdleg_info *nb = &vol->nbd[i];

		if (!nb->nbd)
			continue;
		fprintf(out, "  leg %d: %s on /dev/nbd%d, link %s", i, nb->uri,
			nb->index, nb->link[0] ? nb->link : "unknown (no agent)");
		if (nb->reconnects >= 0)
			fprintf(out, ", %lld reconnect%s", nb->reconnects,
				nb->reconnects == 1 ? "" : "s");
		fputc('\n', out);
	}
}

static json_object *ju64(uint64_t v)
{
	return json_object_new_uint64(v);
}

static json_object *fraction(const char *done_key, uint64_t done,
			     uint64_t total)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, done_key, ju64(done));
	json_object_object_add(o, "total", ju64(total));
	return o;
}

/* An NBD leg: {"uri", "device", "link", "reconnects"}, else null. */
static json_object *nbd_json(const struct cru_nbdleg_info *nb)
{
	json_object *o;
	char dev[32];

	if (!nb->nbd)
		return NULL;
	o = json_object_new_object();
	snprintf(dev, sizeof(dev), "/dev/nbd%d", nb->index);
	json_object_object_add(o, "uri", json_object_new_string(nb->uri));
	json_object_object_add(o, "device", json_object_new_string(dev));
	json_object_object_add(o, "link", nb->link[0] ?
			       json_object_new_string(nb->link) : NULL);
	json_object_object_add(o, "reconnects", nb->reconnects >= 0 ?
			       json_object_new_int64(nb->reconnects) : NULL);
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
	json_object_object_add(o, "size_bytes", ju64(vol->sectors * 512));
	json_object_object_add(o, "mode",
			       json_object_new_string(cru_mode_name(st->mode)));
	json_object_object_add(o, "generation", ju64(st->generation));
	json_object_object_add(o, "flush", ju64(st->flush));
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
	json_object_object_add(counters, "reads", ju64(st->reads));
	json_object_object_add(counters, "writes", ju64(st->writes));
	json_object_object_add(counters, "flushes", ju64(st->flushes));
	json_object_object_add(counters, "mismatches", ju64(st->mismatches));
	json_object_object_add(counters, "repaired_blocks",
			       ju64(st->repaired_blocks));
	json_object_object_add(counters, "parent_errors",
			       st->has_parent_errors ? ju64(st->parent_errors) : NULL);
	json_object_object_add(counters, "unrecoverable",
			       st->has_unrecoverable ? ju64(st->unrecoverable) : NULL);
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
		json_object_object_add(leg, "errors", ju64(st->leg_errors[i]));
		json_object_object_add(leg, "nbd", nbd_json(&vol->nbd[i]));
		json_object_array_add(legs, leg);
	}
	json_object_object_add(o, "legs", legs);

	json_object_object_add(o, "parent",
			       t->has_parent ? json_object_new_string(t->parent) : NULL);
	json_object_object_add(o, "region_size_bytes",
			       t->has_region_size ? ju64(t->region_size * 512) : NULL);
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

static void legs_code(const struct cru_nl_volume *v, char out[CRU_NR_LEGS + 1])
{
	int i;

	for (i = 0; i < CRU_NR_LEGS; i++)
		out[i] = cru_nl_leg_state_code(v->leg_states[i]);
	out[CRU_NR_LEGS] = '\0';
}

void ctl_render_regions(FILE *out, const struct cru_nl_volume *v,
			uint64_t first, uint64_t count,
			const struct cru_nl_region *r, size_t nr,
			const struct cru_plan *plan)
{
	char legs[CRU_NR_LEGS + 1], size[32], flags[96], range[64], dst[32];
	size_t i;

	legs_code(v, legs);
	cru_format_size((uint64_t)v->region_blocks * CRUCIBLE_BLOCK_SIZE, size,
			sizeof(size));
	fprintf(out, "%s: %llu regions of %s, %llu in sync, legs %s, repair %s\n",
		v->name, (unsigned long long)v->nr_regions, size,
		(unsigned long long)v->in_sync, legs,
		cru_nl_repair_state_name(v->repair_state));
	cru_regions_str(first, count, range, sizeof(range));
	if (!nr) {
		fprintf(out, "  %s: all clean\n", range);
		return;
	}
	fprintf(out, "  %12s  %14s  %s\n", "REGION", "FIRST BLOCK", "STATE");
	for (i = 0; i < nr; i++) {
		cru_region_flags_str(r[i].flags, flags, sizeof(flags));
		fprintf(out, "  %12llu  %14llu  %s\n",
			(unsigned long long)r[i].region,
			(unsigned long long)(r[i].region * v->region_blocks),
			flags);
	}
	fprintf(out, "  %zu of %s not clean\n", nr, range);
	for (i = 0; i < plan->nr_requests; i++) {
		const struct cru_nl_repair *q = &plan->requests[i].repair;

		if (!i)
			fprintf(out, "repair plan (%llu regions):\n",
				(unsigned long long)plan->to_repair);
		cru_regions_str(q->first, q->count, range, sizeof(range));
		cru_legs_str(q->dst, dst, sizeof(dst));
		fprintf(out, "  %s from leg %u to %s\n", range, q->src, dst);
	}
	if (plan->locked)
		fprintf(out, "being repaired now: %llu regions\n",
			(unsigned long long)plan->locked);
	if (plan->waiting)
		fprintf(out, "stale only on legs out of service: %llu regions\n",
			(unsigned long long)plan->waiting);
	for (i = 0; i < plan->nr_no_source; i++) {
		cru_regions_str(plan->no_source[i].first,
				plan->no_source[i].count, range, sizeof(range));
		cru_legs_str(plan->no_source[i].stale, dst, sizeof(dst));
		fprintf(out, "no source: %s (stale on %s, no other leg in service)\n",
			range, dst);
	}
}

static json_object *legs_array(unsigned int mask)
{
	json_object *a = json_object_new_array();
	int i;

	for (i = 0; i < CRU_NR_LEGS; i++)
		if (mask & (1U << i))
			json_object_array_add(a, json_object_new_int(i));
	return a;
}

static json_object *volume_head(const struct cru_nl_volume *v)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "schema", json_object_new_int(CTL_JSON_SCHEMA));
	json_object_object_add(o, "volume", json_object_new_string(v->name));
	return o;
}

json_object *ctl_regions_json(const struct cru_nl_volume *v, uint64_t first,
			      uint64_t count, const struct cru_nl_region *r,
			      size_t nr, const struct cru_plan *plan)
{
	json_object *o = volume_head(v);
	json_object *regions = json_object_new_array();
	json_object *p = json_object_new_object();
	json_object *reqs = json_object_new_array();
	json_object *ns = json_object_new_array();
	size_t i;

	json_object_object_add(o, "nr_regions", ju64(v->nr_regions));
	json_object_object_add(o, "region_blocks", ju64(v->region_blocks));
	json_object_object_add(o, "in_sync", ju64(v->in_sync));
	json_object_object_add(o, "first", ju64(first));
	json_object_object_add(o, "count", ju64(count));
	for (i = 0; i < nr; i++) {
		json_object *e = json_object_new_object();
		uint32_t f = r[i].flags;

		json_object_object_add(e, "region", ju64(r[i].region));
		json_object_object_add(e, "first_block",
				       ju64(r[i].region * v->region_blocks));
		json_object_object_add(e, "flags", ju64(f));
		json_object_object_add(e, "stale_legs",
				       legs_array(f & CRUCIBLE_NL_REGION_STALE_MASK));
		json_object_object_add(e, "dirty",
				       json_object_new_boolean(f & CRUCIBLE_NL_REGION_DIRTY));
		json_object_object_add(e, "rehash",
				       json_object_new_boolean(f & CRUCIBLE_NL_REGION_REHASH));
		json_object_object_add(e, "verify",
				       json_object_new_boolean(f & CRUCIBLE_NL_REGION_VERIFY));
		json_object_object_add(e, "locked",
				       json_object_new_boolean(f & CRUCIBLE_NL_REGION_LOCKED));
		json_object_array_add(regions, e);
	}
	json_object_object_add(o, "regions", regions);

	for (i = 0; i < plan->nr_requests; i++) {
		const struct cru_nl_repair *q = &plan->requests[i].repair;
		json_object *e = json_object_new_object();

		json_object_object_add(e, "first", ju64(q->first));
		json_object_object_add(e, "count", ju64(q->count));
		json_object_object_add(e, "source", json_object_new_int(q->src));
		json_object_object_add(e, "destinations", legs_array(q->dst));
		json_object_array_add(reqs, e);
	}
	for (i = 0; i < plan->nr_no_source; i++) {
		json_object *e = json_object_new_object();

		json_object_object_add(e, "first", ju64(plan->no_source[i].first));
		json_object_object_add(e, "count", ju64(plan->no_source[i].count));
		json_object_object_add(e, "stale_legs",
				       legs_array(plan->no_source[i].stale));
		json_object_array_add(ns, e);
	}
	json_object_object_add(p, "requests", reqs);
	json_object_object_add(p, "regions_to_repair", ju64(plan->to_repair));
	json_object_object_add(p, "locked", ju64(plan->locked));
	json_object_object_add(p, "waiting", ju64(plan->waiting));
	json_object_object_add(p, "no_source", ns);
	json_object_object_add(o, "plan", p);
	return o;
}

const char *ctl_record_state(uint64_t hash)
{
	if (hash == CRUCIBLE_HASH_UNWRITTEN)
		return "unwritten";
	if (hash == CRUCIBLE_HASH_ZEROED)
		return "zeroed";
	return "written";
}

void ctl_render_records(FILE *out, const struct cru_nl_volume *v, int leg,
			uint64_t first, uint64_t count,
			const struct cru_nl_record *r, size_t nr)
{
	char hash[24];
	size_t i;

	fprintf(out, "%s: leg %d (%s), blocks %llu-%llu\n", v->name, leg,
		cru_nl_leg_state_name(v->leg_states[leg]),
		(unsigned long long)first,
		(unsigned long long)(first + count - 1));
	fprintf(out, "  %14s  %-18s  %-9s  %10s  %s\n", "BLOCK", "HASH", "STATE",
		"FLUSH", "CHECK");
	for (i = 0; i < nr; i++) {
		if (crucible_hash_has_data(r[i].hash))
			snprintf(hash, sizeof(hash), "%016llx",
				 (unsigned long long)r[i].hash);
		else
			snprintf(hash, sizeof(hash), "-");
		fprintf(out, "  %14llu  %-18s  %-9s  %10u  %s\n",
			(unsigned long long)r[i].block, hash,
			ctl_record_state(r[i].hash), r[i].flush,
			r[i].ok ? "ok" : "BAD");
	}
}

json_object *ctl_records_json(const struct cru_nl_volume *v, int leg,
			      uint64_t first, uint64_t count,
			      const struct cru_nl_record *r, size_t nr)
{
	json_object *o = volume_head(v);
	json_object *recs = json_object_new_array();
	char hash[24];
	size_t i;

	json_object_object_add(o, "leg", json_object_new_int(leg));
	json_object_object_add(o, "first", ju64(first));
	json_object_object_add(o, "count", ju64(count));
	for (i = 0; i < nr; i++) {
		json_object *e = json_object_new_object();

		/* A string: JSON readers often hold numbers in doubles. */
		snprintf(hash, sizeof(hash), "%016llx",
			 (unsigned long long)r[i].hash);
		json_object_object_add(e, "block", ju64(r[i].block));
		json_object_object_add(e, "hash", json_object_new_string(hash));
		json_object_object_add(e, "state",
				       json_object_new_string(ctl_record_state(r[i].hash)));
		json_object_object_add(e, "flush", ju64(r[i].flush));
		json_object_object_add(e, "ok", json_object_new_boolean(r[i].ok));
		json_object_array_add(recs, e);
	}
	json_object_object_add(o, "records", recs);
	return o;
}

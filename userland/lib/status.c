// SPDX-License-Identifier: GPL-2.0
/*
 * Parser of the crucible status line.  Pure: no I/O, no allocation, so it
 * is tested on literal strings.
 */
#include "status.h"

#include <errno.h>
#include <string.h>

#include "parse.h"

struct field {
	const char *p;
	size_t len;
};

/* Next whitespace-separated field of *cursor; false at the end. */
static bool next_field(const char **cursor, struct field *f)
{
	const char *s = *cursor;

	s += strspn(s, " \t\n");
	if (!*s) {
		*cursor = s;
		return false;
	}
	f->p = s;
	f->len = strcspn(s, " \t\n");
	*cursor = s + f->len;
	return true;
}

static bool field_is(const struct field *f, const char *word)
{
	return f->len == strlen(word) && !memcmp(f->p, word, f->len);
}

/* Field names as the documentation calls them, for error messages. */
static const char *const field_names[CRU_STATUS_FIELDS] = {
	"version", "mode", "generation", "flush", "legs", "regions",
	"hydration", "repair_state", "reads", "writes", "flushes",
	"mismatches", "repaired_blocks", "err0", "err1", "err2",
	"hydration_state", "parent_errors", "unrecoverable",
};

static int bad_field(struct cru_err *err, int idx, const struct field *f,
		     const char *expected)
{
	return cru_err_set(err, -EINVAL,
			   "status field %d (%s): expected %s, got '%.*s'",
			   idx + 1, field_names[idx], expected,
			   (int)(f->len > 40 ? 40 : f->len), f->p);
}

static int parse_number(const struct field *f, int idx, uint64_t *out,
			struct cru_err *err)
{
	if (cru_parse_u64_n(f->p, f->len, out))
		return bad_field(err, idx, f, "an unsigned decimal number");
	return 0;
}

/* "<a>/<b>" with a <= b. */
static int parse_fraction(const struct field *f, int idx, uint64_t *a,
			  uint64_t *b, struct cru_err *err)
{
	const char *slash = memchr(f->p, '/', f->len);
	size_t alen;

	if (!slash)
		return bad_field(err, idx, f, "<done>/<total>");
	alen = slash - f->p;
	if (cru_parse_u64_n(f->p, alen, a) ||
	    cru_parse_u64_n(slash + 1, f->len - alen - 1, b))
		return bad_field(err, idx, f, "<done>/<total>");
	if (*a > *b)
		return bad_field(err, idx, f, "<done>/<total> with done <= total");
	return 0;
}

static int parse_mode(const struct field *f, enum cru_mode *mode,
		      struct cru_err *err)
{
	if (field_is(f, "rw"))
		*mode = CRU_MODE_RW;
	else if (field_is(f, "fenced"))
		*mode = CRU_MODE_FENCED;
	else if (field_is(f, "failed"))
		*mode = CRU_MODE_FAILED;
	else
		return bad_field(err, 1, f, "rw, fenced or failed");
	return 0;
}

static int parse_legs(const struct field *f, enum cru_leg_state *legs,
		      struct cru_err *err)
{
	size_t i;

	if (f->len != CRU_NR_LEGS)
		return bad_field(err, 4, f, "3 leg states (A, S, F or D)");
	for (i = 0; i < CRU_NR_LEGS; i++) {
		switch (f->p[i]) {
		case CRU_LEG_ALIVE:
		case CRU_LEG_STALE:
		case CRU_LEG_FAULTED:
		case CRU_LEG_DISABLED:
			legs[i] = (enum cru_leg_state)f->p[i];
			break;
		default:
			return bad_field(err, 4, f,
					 "3 leg states (A, S, F or D)");
		}
	}
	return 0;
}

static int parse_repair_state(const struct field *f,
			      enum cru_repair_state *rs, struct cru_err *err)
{
	if (field_is(f, "idle"))
		*rs = CRU_REPAIR_IDLE;
	else if (field_is(f, "running"))
		*rs = CRU_REPAIR_RUNNING;
	else if (field_is(f, "paused"))
		*rs = CRU_REPAIR_PAUSED;
	else if (field_is(f, "waiting"))
		*rs = CRU_REPAIR_WAITING;
	else
		return bad_field(err, 7, f, "idle, running, paused or waiting");
	return 0;
}

static int parse_hydration_state(const struct field *f, bool has_parent,
				 enum cru_hydration_state *hs,
				 struct cru_err *err)
{
	if (field_is(f, "-"))
		*hs = CRU_HYDRATION_NONE;
	else if (field_is(f, "running"))
		*hs = CRU_HYDRATION_RUNNING;
	else if (field_is(f, "paused"))
		*hs = CRU_HYDRATION_PAUSED;
	else if (field_is(f, "waiting"))
		*hs = CRU_HYDRATION_WAITING;
	else if (field_is(f, "backoff"))
		*hs = CRU_HYDRATION_BACKOFF;
	else if (field_is(f, "done"))
		*hs = CRU_HYDRATION_DONE;
	else
		return bad_field(err, 16, f,
				 "-, running, paused, waiting, backoff or done");
	/* Both fields come from one snapshot: they cannot disagree. */
	if (has_parent && *hs == CRU_HYDRATION_NONE)
		return bad_field(err, 16, f,
				 "a hydration state (field 7 shows a parent)");
	if (!has_parent && *hs != CRU_HYDRATION_NONE)
		return bad_field(err, 16, f, "- (field 7 shows no parent)");
	return 0;
}

int cru_status_parse(const char *params, struct cru_status *st,
		     struct cru_err *err)
{
	uint64_t *counters[] = {
		&st->reads, &st->writes, &st->flushes, &st->mismatches,
		&st->repaired_blocks, &st->leg_errors[0], &st->leg_errors[1],
		&st->leg_errors[2],
	};
	const char *cursor = params;
	struct field f[CRU_STATUS_FIELDS] = { { 0 } };
	struct field extra;
	uint64_t version;
	int n, ret;

	memset(st, 0, sizeof(*st));
	for (n = 0; n < CRU_STATUS_FIELDS; n++) {
		if (next_field(&cursor, &f[n]))
			continue;
		if (!n)
			return cru_err_set(err, -EINVAL, "empty status line");
		/* An older module stops here; anything between is cut short. */
		if (n == CRU_STATUS_MIN_FIELDS || n == CRU_STATUS_MIN_FIELDS + 2)
			break;
		return cru_err_set(err, -EINVAL,
				   "status line ends after %d fields, missing '%s' (expected %d, %d or %d fields)",
				   n, field_names[n], CRU_STATUS_MIN_FIELDS,
				   CRU_STATUS_MIN_FIELDS + 2, CRU_STATUS_FIELDS);
	}
	/* The version decides how the rest reads: check it first. */
	if (cru_parse_u64_n(f[0].p, f[0].len, &version))
		return bad_field(err, 0, &f[0], "a status format version");
	if (version != CRU_STATUS_VERSION)
		return cru_err_set(err, -EPROTO,
				   "unsupported status format version %llu (this program reads version %d)",
				   (unsigned long long)version,
				   CRU_STATUS_VERSION);
	st->version = version;

	ret = parse_mode(&f[1], &st->mode, err);
	if (!ret)
		ret = parse_number(&f[2], 2, &st->generation, err);
	if (!ret)
		ret = parse_number(&f[3], 3, &st->flush, err);
	if (!ret)
		ret = parse_legs(&f[4], st->legs, err);
	if (!ret)
		ret = parse_fraction(&f[5], 5, &st->in_sync_regions,
				     &st->nr_regions, err);
	if (!ret && !st->nr_regions)
		ret = bad_field(err, 5, &f[5], "at least one region");
	if (!ret && !field_is(&f[6], "-")) {
		st->has_parent = true;
		ret = parse_fraction(&f[6], 6, &st->hydrated,
				     &st->hydration_total, err);
	}
	if (!ret)
		ret = parse_repair_state(&f[7], &st->repair_state, err);
	for (n = 0; !ret && n < 8; n++)
		ret = parse_number(&f[8 + n], 8 + n, counters[n], err);
	if (ret)
		return ret;

	if (!f[16].p) {
		st->hydration_state = CRU_HYDRATION_UNKNOWN;
		return 0;
	}
	ret = parse_hydration_state(&f[16], st->has_parent,
				    &st->hydration_state, err);
	if (!ret)
		ret = parse_number(&f[17], 17, &st->parent_errors, err);
	if (ret)
		return ret;
	st->has_parent_errors = true;
	if (f[18].p) {
		ret = parse_number(&f[18], 18, &st->unrecoverable, err);
		if (ret)
			return ret;
		st->has_unrecoverable = true;
	}

	while (next_field(&cursor, &extra))
		st->extra_fields++;
	return 0;
}

int cru_status_parse_line(const char *line, uint64_t *start, uint64_t *len,
			  struct cru_status *st, struct cru_err *err)
{
	const char *cursor = line;
	struct field f[3];
	uint64_t v[2];
	int i;

	for (i = 0; i < 3; i++)
		if (!next_field(&cursor, &f[i]))
			return cru_err_set(err, -EINVAL,
					   "status line too short: expected '<start> <length> crucible ...'");
	for (i = 0; i < 2; i++)
		if (cru_parse_u64_n(f[i].p, f[i].len, &v[i]))
			return cru_err_set(err, -EINVAL,
					   "status line: %s '%.*s' is not a number",
					   i ? "length" : "start",
					   (int)f[i].len, f[i].p);
	if (!field_is(&f[2], "crucible"))
		return cru_err_set(err, -EINVAL,
				   "status line: target type is '%.*s', not crucible",
				   (int)f[2].len, f[2].p);
	if (start)
		*start = v[0];
	if (len)
		*len = v[1];
	return cru_status_parse(cursor, st, err);
}

const char *cru_mode_name(enum cru_mode mode)
{
	switch (mode) {
	case CRU_MODE_RW:
		return "rw";
	case CRU_MODE_FENCED:
		return "fenced";
	case CRU_MODE_FAILED:
		return "failed";
	}
	return "unknown";
}

const char *cru_repair_state_name(enum cru_repair_state rs)
{
	switch (rs) {
	case CRU_REPAIR_IDLE:
		return "idle";
	case CRU_REPAIR_RUNNING:
		return "running";
	case CRU_REPAIR_PAUSED:
		return "paused";
	case CRU_REPAIR_WAITING:
		return "waiting";
	}
	return "unknown";
}

const char *cru_hydration_state_name(enum cru_hydration_state hs)
{
	switch (hs) {
	case CRU_HYDRATION_UNKNOWN:
		break;
	case CRU_HYDRATION_NONE:
		return "none";
	case CRU_HYDRATION_RUNNING:
		return "running";
	case CRU_HYDRATION_PAUSED:
		return "paused";
	case CRU_HYDRATION_WAITING:
		return "waiting";
	case CRU_HYDRATION_BACKOFF:
		return "backoff";
	case CRU_HYDRATION_DONE:
		return "done";
	}
	return "unknown";
}

bool cru_status_hydration_done(const struct cru_status *st)
{
	if (!st->has_parent)
		return false;
	if (st->hydration_state != CRU_HYDRATION_UNKNOWN)
		return st->hydration_state == CRU_HYDRATION_DONE;
	return st->hydrated == st->hydration_total;
}

const char *cru_leg_state_name(enum cru_leg_state ls)
{
	switch (ls) {
	case CRU_LEG_ALIVE:
		return "alive";
	case CRU_LEG_STALE:
		return "stale";
	case CRU_LEG_FAULTED:
		return "faulted";
	case CRU_LEG_DISABLED:
		return "disabled";
	}
	return "unknown";
}

unsigned int cru_status_alive_mask(const struct cru_status *st)
{
	unsigned int mask = 0;
	int i;

	for (i = 0; i < CRU_NR_LEGS; i++)
		if (st->legs[i] == CRU_LEG_ALIVE || st->legs[i] == CRU_LEG_STALE)
			mask |= 1U << i;
	return mask;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Parser and builder of the crucible table line.
 */
#include "table.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "parse.h"

#define MAX_WORDS 64
#define WORD_LEN CRU_DEV_LEN

void cru_table_init(struct cru_table *t)
{
	memset(t, 0, sizeof(*t));
	t->replace_leg = -1;
}

bool cru_region_size_valid(uint64_t sectors)
{
	return sectors >= CRU_MIN_REGION_SECTORS &&
	       sectors <= CRU_MAX_REGION_SECTORS &&
	       !(sectors & (sectors - 1));
}

bool cru_table_word_valid(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (isspace((unsigned char)*s) || !isprint((unsigned char)*s))
			return false;
	return true;
}

const char *cru_read_policy_name(enum cru_read_policy p)
{
	switch (p) {
	case CRU_READ_POLICY_ROUND_ROBIN:
		return "round_robin";
	case CRU_READ_POLICY_LEAST_PENDING:
		return "least_pending";
	case CRU_READ_POLICY_DEFAULT:
		break;
	}
	return "default";
}

const char *cru_repair_mode_name(enum cru_repair_mode m)
{
	switch (m) {
	case CRU_REPAIR_MODE_AUTO:
		return "auto";
	case CRU_REPAIR_MODE_MANUAL:
		return "manual";
	case CRU_REPAIR_MODE_DEFAULT:
		break;
	}
	return "default";
}

const char *cru_hydration_mode_name(enum cru_hydration_mode m)
{
	switch (m) {
	case CRU_HYDRATION_MODE_ON:
		return "on";
	case CRU_HYDRATION_MODE_OFF:
		return "off";
	case CRU_HYDRATION_MODE_DEFAULT:
		break;
	}
	return "default";
}

struct words {
	int n;
	char w[MAX_WORDS][WORD_LEN];
};

static int split_words(const char *s, struct words *ws, struct cru_err *err)
{
	ws->n = 0;
	for (;;) {
		size_t len;

		s += strspn(s, " \t\n");
		if (!*s)
			return 0;
		len = strcspn(s, " \t\n");
		if (ws->n == MAX_WORDS)
			return cru_err_set(err, -E2BIG,
					   "table has more than %d words",
					   MAX_WORDS);
		if (len >= WORD_LEN)
			return cru_err_set(err, -ENAMETOOLONG,
					   "table word '%.40s...' is longer than %d characters",
					   s, WORD_LEN - 1);
		memcpy(ws->w[ws->n], s, len);
		ws->w[ws->n][len] = '\0';
		ws->n++;
		s += len;
	}
}

static int parse_opt_u64(const char *key, const char *val, uint64_t *out,
			 struct cru_err *err)
{
	if (cru_parse_u64(val, out))
		return cru_err_set(err, -EINVAL,
				   "table argument %s: expected a number, got '%s'",
				   key, val);
	return 0;
}

static int parse_opt(struct cru_table *t, const char *key, const char *val,
		     struct cru_err *err)
{
	uint64_t v;
	int ret;

	if (!strcmp(key, "generation")) {
		ret = parse_opt_u64(key, val, &t->generation, err);
		t->has_generation = !ret;
		return ret;
	}
	if (!strcmp(key, "region_size")) {
		ret = parse_opt_u64(key, val, &v, err);
		if (ret)
			return ret;
		if (!cru_region_size_valid(v))
			return cru_err_set(err, -EINVAL,
					   "table argument region_size: %s is not a power of two between %llu and %llu sectors",
					   val, CRU_MIN_REGION_SECTORS,
					   CRU_MAX_REGION_SECTORS);
		t->region_size = v;
		t->has_region_size = true;
		return 0;
	}
	if (!strcmp(key, "owner")) {
		if (strlen(val) > CRU_OWNER_MAX)
			return cru_err_set(err, -EINVAL,
					   "table argument owner: '%s' is longer than %d characters",
					   val, CRU_OWNER_MAX);
		strcpy(t->owner, val);
		t->has_owner = true;
		return 0;
	}
	if (!strcmp(key, "replace_leg")) {
		ret = parse_opt_u64(key, val, &v, err);
		if (ret)
			return ret;
		if (v >= CRU_NR_LEGS)
			return cru_err_set(err, -EINVAL,
					   "table argument replace_leg: leg %s does not exist (0, 1 or 2)",
					   val);
		t->replace_leg = (int)v;
		return 0;
	}
	if (!strcmp(key, "repair")) {
		if (!strcmp(val, "auto"))
			t->repair = CRU_REPAIR_MODE_AUTO;
		else if (!strcmp(val, "manual"))
			t->repair = CRU_REPAIR_MODE_MANUAL;
		else
			return cru_err_set(err, -EINVAL,
					   "table argument repair: expected auto or manual, got '%s'",
					   val);
		return 0;
	}
	if (!strcmp(key, "repair_throttle")) {
		ret = parse_opt_u64(key, val, &t->repair_throttle, err);
		t->has_repair_throttle = !ret;
		return ret;
	}
	if (!strcmp(key, "read_policy")) {
		if (!strcmp(val, "round_robin"))
			t->read_policy = CRU_READ_POLICY_ROUND_ROBIN;
		else if (!strcmp(val, "least_pending"))
			t->read_policy = CRU_READ_POLICY_LEAST_PENDING;
		else
			return cru_err_set(err, -EINVAL,
					   "table argument read_policy: expected round_robin or least_pending, got '%s'",
					   val);
		return 0;
	}
	if (!strcmp(key, "commit_period")) {
		ret = parse_opt_u64(key, val, &t->commit_period, err);
		t->has_commit_period = !ret;
		return ret;
	}
	if (!strcmp(key, "hydration")) {
		if (!strcmp(val, "on"))
			t->hydration = CRU_HYDRATION_MODE_ON;
		else if (!strcmp(val, "off"))
			t->hydration = CRU_HYDRATION_MODE_OFF;
		else
			return cru_err_set(err, -EINVAL,
					   "table argument hydration: expected on or off, got '%s'",
					   val);
		return 0;
	}
	if (!strcmp(key, "hydration_throttle")) {
		ret = parse_opt_u64(key, val, &t->hydration_throttle, err);
		t->has_hydration_throttle = !ret;
		return ret;
	}
	/* A key a newer target knows: keep reading, it takes one value. */
	t->unknown_args++;
	return 0;
}

int cru_table_parse(const char *params, struct cru_table *t,
		    struct cru_err *err)
{
	struct words ws;
	uint64_t nr_opt;
	int i, ret;

	cru_table_init(t);
	ret = split_words(params, &ws, err);
	if (ret)
		return ret;
	if (ws.n < CRU_NR_LEGS + 1)
		return cru_err_set(err, -EINVAL,
				   "table has %d words, expected '<leg0> <leg1> <leg2> <parent|-> [<#opt_args> <opt_arg>...]'",
				   ws.n);
	for (i = 0; i < CRU_NR_LEGS; i++)
		strcpy(t->legs[i], ws.w[i]);
	if (strcmp(ws.w[3], "-")) {
		t->has_parent = true;
		strcpy(t->parent, ws.w[3]);
	}
	if (ws.n == CRU_NR_LEGS + 1)
		return 0;

	if (cru_parse_u64(ws.w[4], &nr_opt))
		return cru_err_set(err, -EINVAL,
				   "table: #opt_args '%s' is not a number",
				   ws.w[4]);
	if (nr_opt % 2)
		return cru_err_set(err, -EINVAL,
				   "table: #opt_args is %llu, expected an even count (each key takes one value)",
				   (unsigned long long)nr_opt);
	if (nr_opt != (uint64_t)(ws.n - 5))
		return cru_err_set(err, -EINVAL,
				   "table: #opt_args says %llu words but %d follow",
				   (unsigned long long)nr_opt, ws.n - 5);
	for (i = 5; i < ws.n; i += 2) {
		ret = parse_opt(t, ws.w[i], ws.w[i + 1], err);
		if (ret)
			return ret;
	}
	return 0;
}

struct out {
	char *buf;
	size_t len;
	size_t used;
	bool overflow;
};

static void __attribute__((format(printf, 2, 3)))
emit(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->used, o->len - o->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->len - o->used) {
		o->overflow = true;
		return;
	}
	o->used += n;
}

int cru_table_format(const struct cru_table *t, char *buf, size_t len,
		     struct cru_err *err)
{
	struct out o = { .buf = buf, .len = len };
	unsigned int nr_opt = 0;
	int i;

	if (!len)
		return cru_err_set(err, -ENOSPC, "table buffer too small");
	buf[0] = '\0';
	for (i = 0; i < CRU_NR_LEGS; i++) {
		if (!cru_table_word_valid(t->legs[i]))
			return cru_err_set(err, -EINVAL,
					   "leg %d: '%s' is not a usable device name (empty or with spaces)",
					   i, t->legs[i]);
		emit(&o, "%s ", t->legs[i]);
	}
	if (t->has_parent && !cru_table_word_valid(t->parent))
		return cru_err_set(err, -EINVAL,
				   "parent: '%s' is not a usable device name (empty or with spaces)",
				   t->parent);
	emit(&o, "%s", t->has_parent ? t->parent : "-");

	if (t->has_owner && (!cru_table_word_valid(t->owner) ||
			     strlen(t->owner) > CRU_OWNER_MAX))
		return cru_err_set(err, -EINVAL,
				   "owner: '%s' must be 1 to %d characters without spaces",
				   t->owner, CRU_OWNER_MAX);
	if (t->has_region_size && !cru_region_size_valid(t->region_size))
		return cru_err_set(err, -EINVAL,
				   "region_size: %llu sectors is not a power of two between %llu and %llu",
				   (unsigned long long)t->region_size,
				   CRU_MIN_REGION_SECTORS,
				   CRU_MAX_REGION_SECTORS);
	if (t->replace_leg >= CRU_NR_LEGS)
		return cru_err_set(err, -EINVAL,
				   "replace_leg: leg %d does not exist",
				   t->replace_leg);
	if (t->has_hydration_throttle &&
	    t->hydration_throttle > CRU_THROTTLE_MAX)
		return cru_err_set(err, -EINVAL,
				   "hydration_throttle: %llu MiB/s is more than %llu",
				   (unsigned long long)t->hydration_throttle,
				   CRU_THROTTLE_MAX);

	nr_opt += t->has_generation + t->has_region_size + t->has_owner +
		  (t->replace_leg >= 0) +
		  (t->repair != CRU_REPAIR_MODE_DEFAULT) +
		  t->has_repair_throttle +
		  (t->read_policy != CRU_READ_POLICY_DEFAULT) +
		  t->has_commit_period +
		  (t->hydration != CRU_HYDRATION_MODE_DEFAULT) +
		  t->has_hydration_throttle;
	if (nr_opt)
		emit(&o, " %u", nr_opt * 2);
	if (t->has_generation)
		emit(&o, " generation %llu", (unsigned long long)t->generation);
	if (t->has_region_size)
		emit(&o, " region_size %llu",
		     (unsigned long long)t->region_size);
	if (t->has_owner)
		emit(&o, " owner %s", t->owner);
	if (t->replace_leg >= 0)
		emit(&o, " replace_leg %d", t->replace_leg);
	if (t->repair != CRU_REPAIR_MODE_DEFAULT)
		emit(&o, " repair %s", cru_repair_mode_name(t->repair));
	if (t->has_repair_throttle)
		emit(&o, " repair_throttle %llu",
		     (unsigned long long)t->repair_throttle);
	if (t->read_policy != CRU_READ_POLICY_DEFAULT)
		emit(&o, " read_policy %s",
		     cru_read_policy_name(t->read_policy));
	if (t->has_commit_period)
		emit(&o, " commit_period %llu",
		     (unsigned long long)t->commit_period);
	if (t->hydration != CRU_HYDRATION_MODE_DEFAULT)
		emit(&o, " hydration %s", cru_hydration_mode_name(t->hydration));
	if (t->has_hydration_throttle)
		emit(&o, " hydration_throttle %llu",
		     (unsigned long long)t->hydration_throttle);
	if (o.overflow)
		return cru_err_set(err, -ENOSPC,
				   "table does not fit in %zu bytes", len);
	return 0;
}

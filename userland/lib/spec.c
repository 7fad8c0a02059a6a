// SPDX-License-Identifier: GPL-2.0
/*
 * JSON volume spec parser (json-c).
 */
#include "spec.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#include <crucible/format.h>
#include "nbd.h"
#include "parse.h"
#include "pool.h"

#define SPEC_MAX_BYTES (1024 * 1024)

static const char *const spec_fields[] = {
	"name", "size", "legs", "parent", "generation", "region_size", "owner",
	"hydration", "hydration_throttle",
};

bool cru_volume_name_valid(const char *name)
{
	size_t len = strlen(name);
	const char *p;

	if (!len || len > CRU_NAME_MAX || !strcmp(name, ".") ||
	    !strcmp(name, ".."))
		return false;
	for (p = name; *p; p++)
		if (*p == '/' || isspace((unsigned char)*p) ||
		    !isprint((unsigned char)*p))
			return false;
	return true;
}

static const char *json_type_word(json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "a boolean";
	case json_type_double:
		return "a fractional number";
	case json_type_int:
		return "an integer";
	case json_type_object:
		return "an object";
	case json_type_array:
		return "an array";
	case json_type_string:
		return "a string";
	}
	return "something else";
}

static int want_string(json_object *o, const char *field, const char **out,
		       struct cru_err *err)
{
	if (!json_object_is_type(o, json_type_string))
		return cru_err_set(err, -EINVAL,
				   "field '%s': expected a string, got %s",
				   field, json_type_word(o));
	*out = json_object_get_string(o);
	return 0;
}

/* A size as bytes (integer) or a string with a unit. */
static int want_size(json_object *o, const char *field, uint64_t *bytes,
		     struct cru_err *err)
{
	struct cru_err perr;
	int64_t v;

	if (json_object_is_type(o, json_type_int)) {
		v = json_object_get_int64(o);
		if (v <= 0)
			return cru_err_set(err, -EINVAL,
					   "field '%s': %lld is not a positive size",
					   field, (long long)v);
		*bytes = (uint64_t)v;
		return 0;
	}
	if (json_object_is_type(o, json_type_string)) {
		if (cru_parse_size(json_object_get_string(o), bytes, &perr))
			return cru_err_set(err, -EINVAL, "field '%s': %s",
					   field, perr.msg);
		return 0;
	}
	return cru_err_set(err, -EINVAL,
			   "field '%s': expected bytes (an integer) or a size string such as \"1G\", got %s",
			   field, json_type_word(o));
}

static int copy_word(const char *field, const char *s, char *dst,
		     size_t dstlen, struct cru_err *err)
{
	if (!cru_table_word_valid(s))
		return cru_err_set(err, -EINVAL,
				   "field '%s': '%s' is not a device (empty or contains spaces)",
				   field, s);
	if (strlen(s) >= dstlen)
		return cru_err_set(err, -ENAMETOOLONG,
				   "field '%s': '%.40s...' is longer than %zu characters",
				   field, s, dstlen - 1);
	strcpy(dst, s);
	return 0;
}

static int spec_name(json_object *o, struct cru_spec *spec,
		     struct cru_err *err)
{
	const char *s = NULL;
	int ret = want_string(o, "name", &s, err);

	if (ret)
		return ret;
	if (!cru_volume_name_valid(s))
		return cru_err_set(err, -EINVAL,
				   "field 'name': '%s' is not a valid volume name (1 to %d printable characters, no '/' or spaces)",
				   s, CRU_NAME_MAX);
	strcpy(spec->name, s);
	return 0;
}

static int spec_size(json_object *o, struct cru_spec *spec,
		     struct cru_err *err)
{
	int ret = want_size(o, "size", &spec->size, err);

	if (ret)
		return ret;
	if (spec->size % 4096)
		return cru_err_set(err, -EINVAL,
				   "field 'size': %llu bytes is not a multiple of the 4 KiB block size",
				   (unsigned long long)spec->size);
	return 0;
}

/* {"pool": "p0", "region": "name", "size": "64M"}: a leg from a pool. */
static int spec_pool_leg(json_object *leg, const char *field,
			 struct cru_spec_pool_leg *pl, struct cru_err *err)
{
	char sub[48];
	const char *s = NULL;
	json_object *v;
	int ret;

	json_object_object_foreach(leg, key, val) {
		(void)val;
		if (strcmp(key, "pool") && strcmp(key, "region") &&
		    strcmp(key, "size"))
			return cru_err_set(err, -EINVAL,
					   "field '%s': unknown field '%s' (known: pool, region, size)",
					   field, key);
	}
	if (!json_object_object_get_ex(leg, "pool", &v))
		return cru_err_set(err, -EINVAL,
				   "field '%s': a leg object needs \"pool\"", field);
	snprintf(sub, sizeof(sub), "%s.pool", field);
	ret = want_string(v, sub, &s, err);
	if (ret)
		return ret;
	if (!cru_pool_name_valid(s))
		return cru_err_set(err, -EINVAL,
				   "field '%s': '%s' is not a pool name", sub, s);
	snprintf(pl->pool, sizeof(pl->pool), "%s", s);
	if (json_object_object_get_ex(leg, "region", &v)) {
		snprintf(sub, sizeof(sub), "%s.region", field);
		ret = want_string(v, sub, &s, err);
		if (ret)
			return ret;
		if (!cru_pool_region_name_valid(s))
			return cru_err_set(err, -EINVAL,
					   "field '%s': '%s' is not a region name (1 to %d of A-Z a-z 0-9 _ . + -)",
					   sub, s, CRU_POOL_REGION_NAME_LEN - 1);
		snprintf(pl->region, sizeof(pl->region), "%s", s);
	}
	if (json_object_object_get_ex(leg, "size", &v)) {
		snprintf(sub, sizeof(sub), "%s.size", field);
		ret = want_size(v, sub, &pl->size, err);
		if (ret)
			return ret;
		if (pl->size % 4096)
			return cru_err_set(err, -EINVAL,
					   "field '%s': %llu bytes is not a multiple of 4 KiB",
					   sub, (unsigned long long)pl->size);
	}
	pl->used = true;
	return 0;
}

/* "nbd://host:port/export": a remote leg, kept in canonical form. */
static int spec_nbd_leg(const char *s, const char *field,
			struct cru_spec_nbd_leg *nl, struct cru_err *err)
{
	struct cru_nbd_uri u;
	struct cru_err e;
	char buf[CRU_NBD_URI_MAX + 1];

	if (cru_nbd_parse_uri(s, &u, &e))
		return cru_err_set(err, -EINVAL, "field '%s': %s", field, e.msg);
	cru_nbd_format_uri(&u, buf, sizeof(buf));
	if (strlen(buf) > CRU_SPEC_URI_MAX)
		return cru_err_set(err, -EINVAL,
				   "field '%s': the URI is longer than %d characters",
				   field, CRU_SPEC_URI_MAX);
	nl->used = true;
	snprintf(nl->uri, sizeof(nl->uri), "%s", buf);
	return 0;
}

static bool same_leg(const struct cru_spec *spec, size_t a, size_t b)
{
	const struct cru_spec_pool_leg *x = &spec->pool_legs[a];
	const struct cru_spec_pool_leg *y = &spec->pool_legs[b];

	if (spec->nbd_legs[a].used || spec->nbd_legs[b].used)
		return spec->nbd_legs[a].used && spec->nbd_legs[b].used &&
		       !strcmp(spec->nbd_legs[a].uri, spec->nbd_legs[b].uri);
	if (x->used != y->used)
		return false;
	if (!x->used)
		return !strcmp(spec->table.legs[a], spec->table.legs[b]);
	return !strcmp(x->pool, y->pool) && x->region[0] &&
	       !strcmp(x->region, y->region);
}

static int spec_legs(json_object *o, struct cru_spec *spec,
		     struct cru_err *err)
{
	char field[16];
	size_t n, i, j;
	int ret;

	if (!json_object_is_type(o, json_type_array))
		return cru_err_set(err, -EINVAL,
				   "field 'legs': expected an array of %d devices, got %s",
				   CRU_NR_LEGS, json_type_word(o));
	n = json_object_array_length(o);
	if (n != CRU_NR_LEGS)
		return cru_err_set(err, -EINVAL,
				   "field 'legs': expected %d devices, got %zu",
				   CRU_NR_LEGS, n);
	for (i = 0; i < n; i++) {
		json_object *leg = json_object_array_get_idx(o, i);
		const char *s;

		snprintf(field, sizeof(field), "legs[%zu]", i);
		if (json_object_is_type(leg, json_type_object)) {
			ret = spec_pool_leg(leg, field, &spec->pool_legs[i], err);
			if (ret)
				return ret;
			for (j = 0; j < i; j++)
				if (same_leg(spec, j, i))
					return cru_err_set(err, -EINVAL,
							   "field 'legs': legs %zu and %zu are the same region '%s' of pool '%s'",
							   j, i, spec->pool_legs[i].region,
							   spec->pool_legs[i].pool);
			continue;
		}
		if (!json_object_is_type(leg, json_type_string))
			return cru_err_set(err, -EINVAL,
					   "field '%s': expected a string (a device or an nbd:// URI) or an object (a pool region), got %s",
					   field, json_type_word(leg));
		s = json_object_get_string(leg);
		if (!strncmp(s, "nbd", 3) && strstr(s, "://"))
			ret = spec_nbd_leg(s, field, &spec->nbd_legs[i], err);
		else
			ret = copy_word(field, s, spec->table.legs[i],
					sizeof(spec->table.legs[i]), err);
		if (ret)
			return ret;
		for (j = 0; j < i; j++)
			if (same_leg(spec, j, i))
				return cru_err_set(err, -EINVAL,
						   "field 'legs': legs %zu and %zu are the same device '%s'",
						   j, i, s);
	}
	return 0;
}

static int spec_parent(json_object *o, struct cru_spec *spec,
		       struct cru_err *err)
{
	const char *s = NULL;
	int i, ret;

	if (!o || json_object_is_type(o, json_type_null))
		return 0;
	ret = want_string(o, "parent", &s, err);
	if (!ret)
		ret = copy_word("parent", s, spec->table.parent,
				sizeof(spec->table.parent), err);
	if (ret)
		return ret;
	/* The parent is only read; a leg is written: never the same device. */
	for (i = 0; i < CRU_NR_LEGS; i++)
		if (!strcmp(spec->table.legs[i], s))
			return cru_err_set(err, -EINVAL,
					   "field 'parent': '%s' is also leg %d",
					   s, i);
	spec->table.has_parent = true;
	return 0;
}

static int spec_generation(json_object *o, struct cru_spec *spec,
			   struct cru_err *err)
{
	int64_t v;

	if (!json_object_is_type(o, json_type_int))
		return cru_err_set(err, -EINVAL,
				   "field 'generation': expected an integer, got %s",
				   json_type_word(o));
	v = json_object_get_int64(o);
	if (v < 1)
		return cru_err_set(err, -EINVAL,
				   "field 'generation': %lld is not a generation (1 or more)",
				   (long long)v);
	spec->table.generation = (uint64_t)v;
	spec->table.has_generation = true;
	return 0;
}

static int spec_region_size(json_object *o, struct cru_spec *spec,
			    struct cru_err *err)
{
	uint64_t bytes;
	int ret = want_size(o, "region_size", &bytes, err);

	if (ret)
		return ret;
	if (bytes % 512 || !cru_region_size_valid(bytes >> 9))
		return cru_err_set(err, -EINVAL,
				   "field 'region_size': %llu bytes is not a power of two between 64 KiB and 1 GiB",
				   (unsigned long long)bytes);
	spec->table.region_size = bytes >> 9;
	spec->table.has_region_size = true;
	return 0;
}

static int spec_owner(json_object *o, struct cru_spec *spec,
		      struct cru_err *err)
{
	const char *s = NULL;
	int ret = want_string(o, "owner", &s, err);

	if (ret)
		return ret;
	if (!cru_table_word_valid(s) || strlen(s) > CRU_OWNER_MAX)
		return cru_err_set(err, -EINVAL,
				   "field 'owner': '%s' must be 1 to %d printable characters without spaces",
				   s, CRU_OWNER_MAX);
	strcpy(spec->table.owner, s);
	spec->table.has_owner = true;
	return 0;
}

static int spec_hydration(json_object *o, struct cru_spec *spec,
			  struct cru_err *err)
{
	if (!json_object_is_type(o, json_type_boolean))
		return cru_err_set(err, -EINVAL,
				   "field 'hydration': expected true or false, got %s",
				   json_type_word(o));
	spec->table.hydration = json_object_get_boolean(o) ?
				CRU_HYDRATION_MODE_ON : CRU_HYDRATION_MODE_OFF;
	return 0;
}

static int spec_hydration_throttle(json_object *o, struct cru_spec *spec,
				   struct cru_err *err)
{
	int64_t v;

	if (!json_object_is_type(o, json_type_int))
		return cru_err_set(err, -EINVAL,
				   "field 'hydration_throttle': expected MiB/s (an integer), got %s",
				   json_type_word(o));
	v = json_object_get_int64(o);
	if (v < 0 || (uint64_t)v > CRU_THROTTLE_MAX)
		return cru_err_set(err, -EINVAL,
				   "field 'hydration_throttle': %lld is not MiB/s from 0 (unlimited) to %llu",
				   (long long)v, CRU_THROTTLE_MAX);
	spec->table.hydration_throttle = (uint64_t)v;
	spec->table.has_hydration_throttle = true;
	return 0;
}

static int check_fields(json_object *root, struct cru_err *err)
{
	json_object_object_foreach(root, key, val) {
		size_t i;
		bool known = false;

		(void)val;
		for (i = 0; i < sizeof(spec_fields) / sizeof(spec_fields[0]); i++)
			if (!strcmp(key, spec_fields[i]))
				known = true;
		if (!known)
			return cru_err_set(err, -EINVAL,
					   "unknown field '%s' (known: name, size, legs, parent, generation, region_size, owner, hydration, hydration_throttle)",
					   key);
	}
	return 0;
}

static int required(json_object *root, const char *field, json_object **o,
		    struct cru_err *err)
{
	if (!json_object_object_get_ex(root, field, o))
		return cru_err_set(err, -EINVAL, "field '%s': missing (required)",
				   field);
	return 0;
}

static int spec_from_json(json_object *root, struct cru_spec *spec,
			  struct cru_err *err)
{
	json_object *o;
	int ret;

	if (!json_object_is_type(root, json_type_object))
		return cru_err_set(err, -EINVAL,
				   "spec: expected a JSON object, got %s",
				   json_type_word(root));
	ret = check_fields(root, err);
	if (ret)
		return ret;

	ret = required(root, "name", &o, err);
	if (!ret)
		ret = spec_name(o, spec, err);
	if (!ret)
		ret = required(root, "size", &o, err);
	if (!ret)
		ret = spec_size(o, spec, err);
	if (!ret)
		ret = required(root, "legs", &o, err);
	if (!ret)
		ret = spec_legs(o, spec, err);
	if (ret)
		return ret;
	if (json_object_object_get_ex(root, "parent", &o)) {
		ret = spec_parent(o, spec, err);
		if (ret)
			return ret;
	}
	if (json_object_object_get_ex(root, "generation", &o)) {
		ret = spec_generation(o, spec, err);
		if (ret)
			return ret;
	}
	if (json_object_object_get_ex(root, "region_size", &o)) {
		ret = spec_region_size(o, spec, err);
		if (ret)
			return ret;
	}
	if (json_object_object_get_ex(root, "owner", &o)) {
		ret = spec_owner(o, spec, err);
		if (ret)
			return ret;
	}
	if (json_object_object_get_ex(root, "hydration", &o)) {
		ret = spec_hydration(o, spec, err);
		if (ret)
			return ret;
	}
	if (json_object_object_get_ex(root, "hydration_throttle", &o)) {
		ret = spec_hydration_throttle(o, spec, err);
		if (ret)
			return ret;
	}
	/* Hydration settings without a parent are a mistake, not a no-op. */
	if (!spec->table.has_parent &&
	    (spec->table.hydration != CRU_HYDRATION_MODE_DEFAULT ||
	     spec->table.has_hydration_throttle))
		return cru_err_set(err, -EINVAL,
				   "field '%s': the volume has no parent to hydrate from (set 'parent')",
				   spec->table.hydration != CRU_HYDRATION_MODE_DEFAULT ?
				   "hydration" : "hydration_throttle");
	return 0;
}

int cru_spec_parse(const char *json, struct cru_spec *spec,
		   struct cru_err *err)
{
	struct json_tokener *tok;
	enum json_tokener_error jerr;
	json_object *root;
	size_t len = strlen(json);
	size_t end;
	int ret;

	memset(spec, 0, sizeof(*spec));
	cru_table_init(&spec->table);

	tok = json_tokener_new();
	if (!tok)
		return cru_err_set(err, -ENOMEM, "out of memory");
	root = json_tokener_parse_ex(tok, json, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (jerr == json_tokener_continue)
		return cru_err_set(err, -EINVAL,
				   "spec is not valid JSON: unexpected end of input");
	if (jerr != json_tokener_success || !root) {
		json_object_put(root);
		return cru_err_set(err, -EINVAL,
				   "spec is not valid JSON: %s at offset %zu",
				   json_tokener_error_desc(jerr), end);
	}
	end += strspn(json + end, " \t\r\n");
	if (end != len) {
		json_object_put(root);
		return cru_err_set(err, -EINVAL,
				   "spec is not valid JSON: unexpected text at offset %zu",
				   end);
	}
	ret = spec_from_json(root, spec, err);
	json_object_put(root);
	return ret;
}

int cru_spec_parse_file(const char *path, struct cru_spec *spec,
			struct cru_err *err)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "re") : stdin;
	char *buf;
	size_t n;
	int ret;

	if (!f)
		return cru_err_set(err, -errno, "cannot open spec %s: %s", path,
				   strerror(errno));
	buf = malloc(SPEC_MAX_BYTES + 1);
	if (!buf) {
		if (f != stdin)
			fclose(f);
		return cru_err_set(err, -ENOMEM, "out of memory");
	}
	n = fread(buf, 1, SPEC_MAX_BYTES + 1, f);
	ret = ferror(f) ? -EIO : 0;
	if (f != stdin)
		fclose(f);
	if (ret) {
		free(buf);
		return cru_err_set(err, ret, "cannot read spec %s", path);
	}
	if (n > SPEC_MAX_BYTES) {
		free(buf);
		return cru_err_set(err, -EFBIG, "spec %s is larger than %d bytes",
				   path, SPEC_MAX_BYTES);
	}
	if (memchr(buf, '\0', n)) {
		free(buf);
		return cru_err_set(err, -EINVAL, "spec %s contains a NUL byte",
				   path);
	}
	buf[n] = '\0';
	ret = cru_spec_parse(buf, spec, err);
	free(buf);
	return ret;
}

int cru_spec_table_line(const struct cru_spec *spec, char *buf, size_t len,
			struct cru_err *err)
{
	int n = snprintf(buf, len, "0 %llu %s ",
			 (unsigned long long)cru_spec_sectors(spec),
			 CRU_TARGET_NAME);

	if (n < 0 || (size_t)n >= len)
		return cru_err_set(err, -ENOSPC, "table buffer too small");
	return cru_table_format(&spec->table, buf + n, len - n, err);
}

uint64_t cru_spec_leg_bytes(const struct cru_spec *spec)
{
	struct crucible_geometry geo;
	uint32_t region = spec->table.has_region_size ?
			  (uint32_t)(spec->table.region_size / CRUCIBLE_SECTORS_PER_BLOCK) :
			  CRUCIBLE_DEFAULT_REGION_BLOCKS;

	if (crucible_geometry_init(&geo, spec->size / CRUCIBLE_BLOCK_SIZE, region))
		return spec->size;
	return geo.leg_blocks * CRUCIBLE_BLOCK_SIZE;
}

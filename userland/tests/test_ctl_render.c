// SPDX-License-Identifier: GPL-2.0
/*
 * What `cruciblectl status` shows, in both forms, and when `reconcile
 * --wait` stops waiting.
 */
#include "test.h"

#include "../cruciblectl/render.h"

/* A volume as cru_dm_volume_read would fill it from these two lines. */
static void make_volume(struct cru_volume *v, const char *name,
			uint64_t sectors, const char *status,
			const char *table)
{
	struct cru_err err;

	memset(v, 0, sizeof(*v));
	strcpy(v->name, name);
	v->sectors = sectors;
	if (cru_status_parse(status, &v->status, &err))
		fail_msg("status: %s", err.msg);
	if (cru_table_parse(table, &v->table, &err))
		fail_msg("table: %s", err.msg);
}

static json_object *get(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("no key '%s' in %s", key, json_object_to_json_string(o));
	return v;
}

/* What ctl_render_volume shows of @v, to be freed. */
static char *rendered(const struct cru_volume *v)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	ctl_render_volume(f, v);
	fclose(f);
	return text;
}

static void json_of_a_degraded_volume(void **state)
{
	struct cru_volume v;
	json_object *o, *leg, *counters;

	(void)state;
	make_volume(&v, "vol0", 2097152,
		    "1 rw 7 99 ASF 1000/1024 - running 1 2 3 4 5 0 0 17",
		    "253:1 253:2 253:3 - 4 generation 7 owner host-a");
	o = ctl_volume_json(&v);
	assert_string_equal(json_object_get_string(get(o, "name")), "vol0");
	assert_int_equal(json_object_get_uint64(get(o, "size_bytes")), 1 << 30);
	assert_string_equal(json_object_get_string(get(o, "mode")), "rw");
	assert_int_equal(json_object_get_uint64(get(o, "generation")), 7);
	assert_int_equal(json_object_get_uint64(get(o, "flush")), 99);
	assert_int_equal(json_object_get_uint64(get(get(o, "regions"), "in_sync")), 1000);
	assert_int_equal(json_object_get_uint64(get(get(o, "regions"), "total")), 1024);
	assert_true(json_object_is_type(get(o, "hydration"), json_type_null));
	assert_string_equal(json_object_get_string(get(o, "repair_state")), "running");
	counters = get(o, "counters");
	assert_int_equal(json_object_get_uint64(get(counters, "reads")), 1);
	assert_int_equal(json_object_get_uint64(get(counters, "writes")), 2);
	assert_int_equal(json_object_get_uint64(get(counters, "flushes")), 3);
	assert_int_equal(json_object_get_uint64(get(counters, "mismatches")), 4);
	assert_int_equal(json_object_get_uint64(get(counters, "repaired_blocks")), 5);
	/* A 16-field line: the module does not count parent errors. */
	assert_true(json_object_is_type(get(counters, "parent_errors"), json_type_null));
	assert_int_equal(json_object_array_length(get(o, "legs")), 3);
	leg = json_object_array_get_idx(get(o, "legs"), 2);
	assert_int_equal(json_object_get_int(get(leg, "index")), 2);
	assert_string_equal(json_object_get_string(get(leg, "device")), "253:3");
	assert_string_equal(json_object_get_string(get(leg, "state")), "faulted");
	assert_string_equal(json_object_get_string(get(leg, "state_code")), "F");
	assert_int_equal(json_object_get_uint64(get(leg, "errors")), 17);
	leg = json_object_array_get_idx(get(o, "legs"), 1);
	assert_string_equal(json_object_get_string(get(leg, "state")), "stale");
	assert_true(json_object_is_type(get(o, "parent"), json_type_null));
	assert_true(json_object_is_type(get(o, "region_size_bytes"), json_type_null));
	assert_string_equal(json_object_get_string(get(o, "owner")), "host-a");
	json_object_put(o);
}

static void json_of_a_hydrating_volume(void **state)
{
	struct cru_volume v;
	json_object *o, *hyd;

	(void)state;
	make_volume(&v, "img", 16384,
		    "1 rw 1 0 AAA 8/8 512/2048 idle 0 0 0 0 0 0 0 0 backoff 6",
		    "7:0 7:1 7:2 7:9 6 region_size 2048 hydration on hydration_throttle 0");
	o = ctl_volume_json(&v);
	hyd = get(o, "hydration");
	assert_int_equal(json_object_get_uint64(get(hyd, "hydrated")), 512);
	assert_int_equal(json_object_get_uint64(get(hyd, "total")), 2048);
	assert_false(json_object_get_boolean(get(hyd, "done")));
	assert_string_equal(json_object_get_string(get(hyd, "state")), "backoff");
	assert_int_equal(json_object_get_uint64(get(get(o, "counters"), "parent_errors")), 6);
	assert_string_equal(json_object_get_string(get(o, "parent")), "7:9");
	assert_int_equal(json_object_get_uint64(get(o, "region_size_bytes")), 1 << 20);
	json_object_put(o);
}

/* "done" is the target's word: every block copied is not yet committed. */
static void json_hydration_done_follows_the_state(void **state)
{
	static const struct {
		const char *status;
		bool done;
		const char *state;	/* NULL: JSON null */
	} cases[] = {
		{ "1 rw 1 0 AAA 8/8 2048/2048 idle 0 0 0 0 0 0 0 0 running 0", false, "running" },
		{ "1 rw 1 0 AAA 8/8 2048/2048 idle 0 0 0 0 0 0 0 0 done 0", true, "done" },
		{ "1 rw 1 0 AAA 8/8 100/2048 idle 0 0 0 0 0 0 0 0 paused 0", false, "paused" },
		/* An older module: only the progress field says. */
		{ "1 rw 1 0 AAA 8/8 2048/2048 idle 0 0 0 0 0 0 0 0", true, NULL },
		{ "1 rw 1 0 AAA 8/8 2047/2048 idle 0 0 0 0 0 0 0 0", false, NULL },
	};
	struct cru_volume v;
	json_object *o, *hyd;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		make_volume(&v, "img", 16384, cases[i].status, "7:0 7:1 7:2 7:9");
		o = ctl_volume_json(&v);
		hyd = get(o, "hydration");
		if (json_object_get_boolean(get(hyd, "done")) != cases[i].done)
			fail_msg("'%s': done should be %d", cases[i].status,
				 cases[i].done);
		if (cases[i].state)
			assert_string_equal(json_object_get_string(get(hyd, "state")),
					    cases[i].state);
		else
			assert_true(json_object_is_type(get(hyd, "state"), json_type_null));
		json_object_put(o);
	}
}

static void human_table_shows_hydration_progress(void **state)
{
	struct cru_volume v;
	char *text;

	(void)state;
	make_volume(&v, "clone", 16384,
		    "1 rw 1 0 AAA 8/8 512/2048 idle 0 0 0 0 0 0 0 0 running 2",
		    "7:0 7:1 7:2 7:9 4 hydration on hydration_throttle 0");
	text = rendered(&v);
	assert_contains(text, "  hydration        512/2048 blocks (25.0%), running, from 7:9\n");
	assert_contains(text, "  parent errors    2\n");
	free(text);

	/* An older module: no state word and no parent error count. */
	make_volume(&v, "clone", 16384,
		    "1 rw 1 0 AAA 8/8 2048/2048 idle 0 0 0 0 0 0 0 0",
		    "7:0 7:1 7:2 7:9");
	text = rendered(&v);
	assert_contains(text, "  hydration        2048/2048 blocks (100.0%), from 7:9\n");
	assert_null(strstr(text, "parent errors"));
	free(text);

	/* No parent: no parent error line either. */
	make_volume(&v, "plain", 16384,
		    "1 rw 1 0 AAA 8/8 - idle 0 0 0 0 0 0 0 0 - 0", "7:0 7:1 7:2 -");
	text = rendered(&v);
	assert_contains(text, "  hydration        - (no parent)\n");
	assert_null(strstr(text, "parent errors"));
	free(text);
}

static void status_document_round_trips(void **state)
{
	struct cru_volume v[2];
	json_object *doc, *back;
	const char *text;

	(void)state;
	make_volume(&v[0], "a", 16384, "1 rw 1 0 AAA 8/8 - idle 0 0 0 0 0 0 0 0",
		    "7:0 7:1 7:2 -");
	make_volume(&v[1], "b", 16384, "1 fenced 2 5 AAD 8/8 - idle 0 0 0 0 0 0 0 0",
		    "7:3 7:4 7:5 -");
	doc = ctl_status_json(v, 2);
	text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY);
	back = json_tokener_parse(text);
	assert_non_null(back);
	assert_int_equal(json_object_get_int(get(back, "schema")), CTL_JSON_SCHEMA);
	assert_int_equal(json_object_array_length(get(back, "volumes")), 2);
	assert_string_equal(json_object_get_string(get(json_object_array_get_idx(get(back, "volumes"), 1), "mode")),
			    "fenced");
	json_object_put(back);
	json_object_put(doc);

	doc = ctl_status_json(NULL, 0);
	assert_int_equal(json_object_array_length(get(doc, "volumes")), 0);
	json_object_put(doc);
}

static void human_table_shows_legs_and_progress(void **state)
{
	struct cru_volume v;
	char *text;

	(void)state;
	make_volume(&v, "vol0", 2097152,
		    "1 rw 7 99 ASF 1020/1024 - running 1 2 3 4 5 0 0 17",
		    "253:1 253:2 253:3 - 4 region_size 2048 owner host-a");
	text = rendered(&v);
	assert_contains(text, "vol0: 1.0 GiB, mode rw, generation 7, flush 99");
	assert_contains(text, "1020/1024 (99.6%), repair running");
	assert_contains(text, "hydration        - (no parent)");
	assert_contains(text, "mismatches 4, repaired blocks 5");
	assert_contains(text, "region size 1.0 MiB, owner host-a");
	assert_contains(text, "LEG  STATE     ERRORS  DEVICE");
	assert_contains(text, "  0    alive          0  253:1");
	assert_contains(text, "  1    stale          0  253:2");
	assert_contains(text, "  2    faulted       17  253:3");
	free(text);
}

static void nbd_legs_show_remote_device_link_and_reconnects(void **state)
{
	struct cru_volume v;
	json_object *o, *nb;
	char *text;

	(void)state;
	make_volume(&v, "vol0", 2097152,
		    "1 rw 7 99 AFA 1020/1024 - running 1 2 3 4 5 0 0 17",
		    "253:1 43:32 43:64 - 0");
	v.nbd[1] = (struct cru_nbdleg_info){ .nbd = true, .index = 1,
		.uri = "nbd://host-b:10809/disk", .link = "dead", .reconnects = 2 };
	v.nbd[2] = (struct cru_nbdleg_info){ .nbd = true, .index = 2,
		.uri = "nbd://host-c:10809/disk", .reconnects = -1 };
	text = rendered(&v);
	assert_contains(text, "  leg 1: nbd://host-b:10809/disk on /dev/nbd1, link dead, 2 reconnects\n");
	assert_contains(text, "  leg 2: nbd://host-c:10809/disk on /dev/nbd2, link unknown (no agent)\n");
	if (strstr(text, "leg 0:"))
		fail_msg("a local leg described as NBD: %s", text);
	free(text);

	o = ctl_volume_json(&v);
	assert_true(json_object_is_type(get(json_object_array_get_idx(get(o, "legs"), 0), "nbd"),
					json_type_null));
	nb = get(json_object_array_get_idx(get(o, "legs"), 1), "nbd");
	assert_string_equal(json_object_get_string(get(nb, "uri")), "nbd://host-b:10809/disk");
	assert_string_equal(json_object_get_string(get(nb, "device")), "/dev/nbd1");
	assert_string_equal(json_object_get_string(get(nb, "link")), "dead");
	assert_int_equal(json_object_get_int64(get(nb, "reconnects")), 2);
	nb = get(json_object_array_get_idx(get(o, "legs"), 2), "nbd");
	assert_true(json_object_is_type(get(nb, "link"), json_type_null));
	assert_true(json_object_is_type(get(nb, "reconnects"), json_type_null));
	json_object_put(o);
}

static void progress_line(void **state)
{
	struct cru_volume v;
	char line[256];

	(void)state;
	make_volume(&v, "vol0", 16384, "1 rw 7 99 AAS 3/4 - running 0 0 0 0 42 0 0 0",
		    "a b c -");
	ctl_progress_line(line, sizeof(line), &v);
	assert_string_equal(line, "vol0: repair running, 3/4 regions in sync (75.0%), 42 blocks repaired, legs AAS");
}

static void wait_verdicts(void **state)
{
	static const struct {
		enum ctl_reconcile_action action;
		const char *status;
		enum ctl_wait_verdict verdict;
	} cases[] = {
		{ CTL_RECONCILE_START, "1 rw 1 0 AAA 8/8 - idle 0 0 0 0 0 0 0 0", CTL_WAIT_DONE },
		{ CTL_RECONCILE_START, "1 rw 1 0 AAS 7/8 - running 0 0 0 0 0 0 0 0", CTL_WAIT_MORE },
		{ CTL_RECONCILE_START, "1 rw 1 0 AFS 7/8 - waiting 0 0 0 0 0 0 0 0", CTL_WAIT_MORE },
		{ CTL_RECONCILE_START, "1 rw 1 0 AAS 7/8 - paused 0 0 0 0 0 0 0 0", CTL_WAIT_STOPPED },
		{ CTL_RECONCILE_START, "1 failed 1 0 FFF 0/8 - waiting 0 0 0 0 0 0 0 0", CTL_WAIT_FAILED },
		{ CTL_RECONCILE_STOP, "1 rw 1 0 AAS 7/8 - running 0 0 0 0 0 0 0 0", CTL_WAIT_MORE },
		{ CTL_RECONCILE_STOP, "1 rw 1 0 AAS 7/8 - paused 0 0 0 0 0 0 0 0", CTL_WAIT_DONE },
		{ CTL_RECONCILE_STOP, "1 rw 1 0 AAA 8/8 - idle 0 0 0 0 0 0 0 0", CTL_WAIT_DONE },
	};
	struct cru_status st;
	struct cru_err err;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		assert_int_equal(cru_status_parse(cases[i].status, &st, &err), 0);
		if (ctl_wait_verdict(cases[i].action, &st) != cases[i].verdict)
			fail_msg("case %zu (%s): wrong verdict", i, cases[i].status);
	}
}

static struct cru_nl_volume nl_volume(void)
{
	struct cru_nl_volume v;

	memset(&v, 0, sizeof(v));
	strcpy(v.name, "vol0");
	v.nr_regions = 64;
	v.in_sync = 60;
	v.region_blocks = 256;
	v.volume_blocks = 16384;
	v.leg_states[0] = CRUCIBLE_NL_LEG_ALIVE;
	v.leg_states[1] = CRUCIBLE_NL_LEG_STALE;
	v.leg_states[2] = CRUCIBLE_NL_LEG_FAILED;
	v.repair_state = CRUCIBLE_NL_REPAIR_PAUSED;
	return v;
}

static const struct cru_nl_region some_regions[] = {
	{ 3, 0x2 | CRUCIBLE_NL_REGION_DIRTY }, { 4, 0x2 }, { 9, 0x4 },
	{ 12, 0x3 },
};

static char *render_regions(const struct cru_nl_volume *v,
			    const struct cru_nl_region *r, size_t nr,
			    struct cru_plan *p)
{
	struct cru_err err;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (cru_plan_repairs(r, nr, v->leg_states, v->nr_regions, 0, p, &err))
		fail_msg("plan: %s", err.msg);
	f = open_memstream(&text, &len);
	ctl_render_regions(f, v, 0, 64, r, nr, p);
	fclose(f);
	return text;
}

static void regions_table_and_plan(void **state)
{
	struct cru_nl_volume v = nl_volume();
	struct cru_plan p;
	char *text;

	(void)state;
	text = render_regions(&v, some_regions, ARRAY_SIZE(some_regions), &p);
	assert_contains(text, "vol0: 64 regions of 1.0 MiB, 60 in sync, legs ASF, repair paused");
	assert_contains(text, "REGION     FIRST BLOCK  STATE");
	assert_contains(text, "           3             768  stale:1 dirty");
	assert_contains(text, "          12            3072  stale:0,1");
	assert_contains(text, "4 of regions 0-63 not clean");
	assert_contains(text, "repair plan (2 regions):\n  regions 3-4 from leg 0 to leg 1\n");
	assert_contains(text, "stale only on legs out of service: 1 regions");
	assert_contains(text, "no source: region 12 (stale on legs 0,1, no other leg in service)");
	free(text);
	cru_plan_free(&p);

	text = render_regions(&v, NULL, 0, &p);
	assert_contains(text, "regions 0-63: all clean");
	free(text);
	cru_plan_free(&p);
}

static void regions_json(void **state)
{
	struct cru_nl_volume v = nl_volume();
	json_object *doc, *r0, *plan, *req;
	struct cru_plan p;

	(void)state;
	free(render_regions(&v, some_regions, ARRAY_SIZE(some_regions), &p));
	doc = ctl_regions_json(&v, 0, 64, some_regions,
			       ARRAY_SIZE(some_regions), &p);
	assert_int_equal(json_object_get_int(get(doc, "schema")), CTL_JSON_SCHEMA);
	assert_string_equal(json_object_get_string(get(doc, "volume")), "vol0");
	assert_int_equal(json_object_get_int64(get(doc, "nr_regions")), 64);
	assert_int_equal(json_object_array_length(get(doc, "regions")), 4);
	r0 = json_object_array_get_idx(get(doc, "regions"), 0);
	assert_int_equal(json_object_get_int64(get(r0, "region")), 3);
	assert_int_equal(json_object_get_int64(get(r0, "first_block")), 768);
	assert_true(json_object_get_boolean(get(r0, "dirty")));
	assert_false(json_object_get_boolean(get(r0, "locked")));
	assert_int_equal(json_object_array_length(get(r0, "stale_legs")), 1);
	assert_int_equal(json_object_get_int(json_object_array_get_idx(get(r0, "stale_legs"), 0)), 1);
	plan = get(doc, "plan");
	assert_int_equal(json_object_array_length(get(plan, "requests")), 1);
	req = json_object_array_get_idx(get(plan, "requests"), 0);
	assert_int_equal(json_object_get_int64(get(req, "first")), 3);
	assert_int_equal(json_object_get_int64(get(req, "count")), 2);
	assert_int_equal(json_object_get_int(get(req, "source")), 0);
	assert_int_equal(json_object_get_int64(get(plan, "waiting")), 1);
	assert_int_equal(json_object_array_length(get(plan, "no_source")), 1);
	json_object_put(doc);
	cru_plan_free(&p);
}

static const struct cru_nl_record some_records[] = {
	{ 768, 0x0123456789abcdefULL, 12, true },
	{ 769, 0, 0, true },
	{ 770, 2, 13, true },
	{ 771, 0xfedcba9876543210ULL, 14, false },
};

static void records_table_and_json(void **state)
{
	struct cru_nl_volume v = nl_volume();
	json_object *doc, *r;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	f = open_memstream(&text, &len);
	ctl_render_records(f, &v, 1, 768, 4, some_records, 4);
	fclose(f);
	assert_contains(text, "vol0: leg 1 (stale), blocks 768-771");
	assert_contains(text, "BLOCK  HASH                STATE           FLUSH  CHECK");
	assert_contains(text, "768  0123456789abcdef    written            12  ok");
	assert_contains(text, "769  -                   unwritten           0  ok");
	assert_contains(text, "770  -                   zeroed             13  ok");
	assert_contains(text, "771  fedcba9876543210    written            14  BAD");
	free(text);

	doc = ctl_records_json(&v, 1, 768, 4, some_records, 4);
	assert_int_equal(json_object_get_int(get(doc, "leg")), 1);
	assert_int_equal(json_object_array_length(get(doc, "records")), 4);
	r = json_object_array_get_idx(get(doc, "records"), 3);
	assert_int_equal(json_object_get_int64(get(r, "block")), 771);
	assert_string_equal(json_object_get_string(get(r, "hash")), "fedcba9876543210");
	assert_string_equal(json_object_get_string(get(r, "state")), "written");
	assert_false(json_object_get_boolean(get(r, "ok")));
	r = json_object_array_get_idx(get(doc, "records"), 1);
	assert_string_equal(json_object_get_string(get(r, "state")), "unwritten");
	json_object_put(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(json_of_a_degraded_volume),
		cmocka_unit_test(json_of_a_hydrating_volume),
		cmocka_unit_test(json_hydration_done_follows_the_state),
		cmocka_unit_test(human_table_shows_hydration_progress),
		cmocka_unit_test(status_document_round_trips),
		cmocka_unit_test(human_table_shows_legs_and_progress),
		cmocka_unit_test(nbd_legs_show_remote_device_link_and_reconnects),
		cmocka_unit_test(progress_line),
		cmocka_unit_test(wait_verdicts),
		cmocka_unit_test(regions_table_and_plan),
		cmocka_unit_test(regions_json),
		cmocka_unit_test(records_table_and_json),
	};

	return cmocka_run_group_tests_name("cruciblectl render", tests, NULL, NULL);
}

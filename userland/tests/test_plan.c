// SPDX-License-Identifier: GPL-2.0
/*
 * The repair planner on tables of region states: which REPAIR requests,
 * in which order, and what it refuses to guess.
 */
#include "test.h"

#include "../lib/plan.h"

#define A CRUCIBLE_NL_LEG_ALIVE
#define S CRUCIBLE_NL_LEG_STALE
#define F CRUCIBLE_NL_LEG_FAILED
#define D CRUCIBLE_NL_LEG_DISABLED

#define DIRTY CRUCIBLE_NL_REGION_DIRTY
#define REHASH CRUCIBLE_NL_REGION_REHASH
#define VERIFY CRUCIBLE_NL_REGION_VERIFY
#define LOCKED CRUCIBLE_NL_REGION_LOCKED

struct want {
	uint64_t first, count;
	uint8_t src, dst;
};

static void plan(const struct cru_nl_region *r, size_t nr,
		 const uint8_t legs[3], uint64_t batch, struct cru_plan *p)
{
	struct cru_err err;

	if (cru_plan_repairs(r, nr, legs, 64, batch, p, &err))
		fail_msg("plan failed: %s", err.msg);
}

static void expect_requests(const struct cru_plan *p, const struct want *w,
			    size_t n)
{
	size_t i;

	if (p->nr_requests != n)
		fail_msg("%zu requests, expected %zu", p->nr_requests, n);
	for (i = 0; i < n; i++) {
		const struct cru_nl_repair *r = &p->requests[i].repair;

		if (r->first != w[i].first || r->count != w[i].count ||
		    r->src != w[i].src || r->dst != w[i].dst)
			fail_msg("request %zu: first %llu count %llu src %u dst %u; expected %llu %llu %u %u",
				 i, (unsigned long long)r->first,
				 (unsigned long long)r->count, r->src, r->dst,
				 (unsigned long long)w[i].first,
				 (unsigned long long)w[i].count, w[i].src,
				 w[i].dst);
	}
}

/* Leg 1 was out while regions 3-5 and 9 were written; it is back. */
static void returning_leg_is_repaired_from_leg_0(void **state)
{
	static const struct cru_nl_region r[] = {
		{ 3, 0x2 | DIRTY }, { 4, 0x2 }, { 5, 0x2 }, { 9, 0x2 },
		{ 20, DIRTY },		/* being written: nothing to repair */
	};
	static const uint8_t legs[3] = { A, S, A };
	static const struct want w[] = { { 3, 3, 0, 0x2 }, { 9, 1, 0, 0x2 } };
	struct cru_plan p;

	(void)state;
	plan(r, ARRAY_SIZE(r), legs, 0, &p);
	expect_requests(&p, w, ARRAY_SIZE(w));
	assert_int_equal(p.to_repair, 4);
	assert_int_equal(p.waiting, 0);
	assert_int_equal(p.nr_no_source, 0);
	cru_plan_free(&p);
}

/* Leg 0 stale: the source is the next in-sync leg, not leg 0. */
static void source_is_the_lowest_leg_in_sync_there(void **state)
{
	static const struct cru_nl_region r[] = {
		{ 0, 0x1 }, { 1, 0x3 }, { 2, 0x1 },
	};
	static const uint8_t legs[3] = { S, S, A };
	static const struct want w[] = {
		{ 1, 1, 2, 0x3 },	/* one good copy: first */
		{ 0, 1, 1, 0x1 },
		{ 2, 1, 1, 0x1 },
	};
	struct cru_plan p;

	(void)state;
	plan(r, ARRAY_SIZE(r), legs, 0, &p);
	expect_requests(&p, w, ARRAY_SIZE(w));
	assert_int_equal(p.requests[0].good, 1);
	assert_int_equal(p.requests[1].good, 2);
	cru_plan_free(&p);
}

/* A run splits where the destinations change, and the riskier goes first. */
static void fewest_good_copies_first(void **state)
{
	static const struct cru_nl_region r[] = {
		{ 10, 0x4 }, { 11, 0x4 }, { 12, 0x6 }, { 13, 0x6 }, { 14, 0x4 },
		{ 2, 0x4 },
	};
	static const uint8_t legs[3] = { A, S, S };
	static const struct want w[] = {
		{ 12, 2, 0, 0x6 }, { 2, 1, 0, 0x4 }, { 10, 2, 0, 0x4 },
		{ 14, 1, 0, 0x4 },
	};
	struct cru_plan p;

	(void)state;
	plan(r, ARRAY_SIZE(r), legs, 0, &p);
	expect_requests(&p, w, ARRAY_SIZE(w));
	cru_plan_free(&p);
}

/* Stale copies on a leg out of service wait for it; they are not "done". */
static void leg_out_of_service_is_not_a_destination(void **state)
{
	static const struct cru_nl_region r[] = {
		{ 1, 0x4 }, { 2, 0x4 }, { 3, 0x6 }, { 4, 0x2 },
	};
	static const uint8_t legs[3] = { A, S, F };
	static const struct want w[] = { { 3, 2, 0, 0x2 } };
	struct cru_plan p;

	(void)state;
	plan(r, ARRAY_SIZE(r), legs, 0, &p);
	expect_requests(&p, w, ARRAY_SIZE(w));
	assert_int_equal(p.waiting, 2);
	cru_plan_free(&p);
}

/* A leg out of service is never a source either. */
static void disabled_leg_is_not_a_source(void **state)
{
	static const struct cru_nl_region r[] = { { 7, 0x4 } };
	static const uint8_t legs[3] = { D, A, S };
	static const struct want w[] = { { 7, 1, 1, 0x4 } };
	struct cru_plan p;

	(void)state;
	plan(r, ARRAY_SIZE(r), legs, 0, &p);
	expect_requests(&p, w, ARRAY_SIZE(w));
	cru_plan_free(&p);
}

/* Every leg in service is stale there: reported, never guessed. */
static void region_without_a_source_is_reported(void **state)
{
	static const struct cru_nl_region r[] = {
		{ 5, 0x6 }, { 6, 0x6 }, { 7, 0x7 }, { 8, 0x2 },
	};
	static const uint8_t legs[3] = { F, S, S };
	static const struct want w[] = { { 8, 1, 2, 0x2 } };
	struct cru_plan p;

	(void)state;
	plan(r, ARRAY_SIZE(r), legs, 0, &p);
	expect_requests(&p, w, ARRAY_SIZE(w));
	assert_int_equal(p.unsourced, 3);
	assert_int_equal(p.nr_no_source, 2);
	assert_int_equal(p.no_source[0].first, 5);
	assert_int_equal(p.no_source[0].count, 2);
	assert_int_equal(p.no_source[0].stale, 0x6);
	assert_int_equal(p.no_source[1].first, 7);
	assert_int_equal(p.no_source[1].stale, 0x7);
	cru_plan_free(&p);
}

/* The kernel holds the lock of a region it repairs: leave it alone. */
static void locked_region_is_skipped_and_splits_the_run(void **state)
{
	static const struct cru_nl_region r[] = {
		{ 0, 0x2 }, { 1, 0x2 | LOCKED | VERIFY }, { 2, 0x2 },
	};
	static const uint8_t legs[3] = { A, S, A };
	static const struct want w[] = { { 0, 1, 0, 0x2 }, { 2, 1, 0, 0x2 } };
	struct cru_plan p;

	(void)state;
	plan(r, ARRAY_SIZE(r), legs, 0, &p);
	expect_requests(&p, w, ARRAY_SIZE(w));
	assert_int_equal(p.locked, 1);
	cru_plan_free(&p);
}

/* Records that may lag the data: only the kernel's own repair rehashes. */
static void rehash_region_is_left_to_the_kernel(void **state)
{
	static const struct cru_nl_region r[] = {
		{ 0, 0x6 }, { 1, 0x6 | REHASH | DIRTY }, { 2, 0x6 },
	};
	static const uint8_t legs[3] = { A, S, S };
	static const struct want w[] = { { 0, 1, 0, 0x6 }, { 2, 1, 0, 0x6 } };
	struct cru_plan p;

	(void)state;
	plan(r, ARRAY_SIZE(r), legs, 0, &p);
	expect_requests(&p, w, ARRAY_SIZE(w));
	assert_int_equal(p.rehash, 1);
	assert_int_equal(p.to_repair, 2);
	cru_plan_free(&p);
}

static void batch_bounds_a_request(void **state)
{
	struct cru_nl_region r[10];
	static const uint8_t legs[3] = { A, A, S };
	static const struct want w[] = {
		{ 0, 4, 0, 0x4 }, { 4, 4, 0, 0x4 }, { 8, 2, 0, 0x4 },
	};
	struct cru_plan p;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(r); i++) {
		r[ARRAY_SIZE(r) - 1 - i].region = i;	/* given backwards */
		r[ARRAY_SIZE(r) - 1 - i].flags = 0x4;
	}
	plan(r, ARRAY_SIZE(r), legs, 4, &p);
	expect_requests(&p, w, ARRAY_SIZE(w));
	cru_plan_free(&p);
}

static void clean_volume_has_an_empty_plan(void **state)
{
	static const uint8_t legs[3] = { A, A, A };
	static const struct cru_nl_region r[] = { { 3, DIRTY } };
	struct cru_plan p;

	(void)state;
	plan(NULL, 0, legs, 0, &p);
	assert_int_equal(p.nr_requests, 0);
	cru_plan_free(&p);
	plan(r, 1, legs, 0, &p);
	assert_int_equal(p.nr_requests, 0);
	assert_int_equal(p.waiting, 0);
	cru_plan_free(&p);
}

static void bad_region_lists_are_refused(void **state)
{
	static const struct cru_nl_region past[] = { { 64, 0x1 } };
	static const struct cru_nl_region twice[] = { { 3, 0x1 }, { 3, 0x2 } };
	static const uint8_t legs[3] = { S, S, A };
	struct cru_plan p;
	struct cru_err err;

	(void)state;
	assert_int_equal(cru_plan_repairs(past, 1, legs, 64, 0, &p, &err),
			 -EPROTO);
	assert_string_equal(err.msg, "region 64 is past the end of the volume (64 regions)");
	assert_int_equal(cru_plan_repairs(twice, 2, legs, 64, 0, &p, &err),
			 -EPROTO);
	assert_string_equal(err.msg, "region 3 is listed twice");
}

static void request_progress_is_read_from_its_range(void **state)
{
	static const struct cru_nl_repair req = {
		.first = 10, .count = 3, .src = 0, .dst = 0x2,
	};
	static const uint8_t legs[3] = { A, S, A };
	static const uint8_t leg1_out[3] = { A, F, A };
	static const uint8_t src_out[3] = { D, S, A };
	static const struct cru_nl_region left[] = {
		{ 9, 0x2 }, { 12, 0x2 | LOCKED },
	};
	static const struct cru_nl_region done[] = {
		{ 9, 0x2 }, { 11, DIRTY }, { 13, 0x2 },
	};
	static const struct cru_nl_region src_stale[] = { { 11, 0x3 } };

	(void)state;
	assert_int_equal(cru_plan_check(&req, left, 2, legs),
			 CRU_REQUEST_PENDING);
	assert_int_equal(cru_plan_check(&req, done, 3, legs), CRU_REQUEST_DONE);
	assert_int_equal(cru_plan_check(&req, NULL, 0, legs), CRU_REQUEST_DONE);
	/* The destination left service: nothing more this request can do. */
	assert_int_equal(cru_plan_check(&req, left, 2, leg1_out),
			 CRU_REQUEST_DONE);
	assert_int_equal(cru_plan_check(&req, src_stale, 1, legs),
			 CRU_REQUEST_NO_SOURCE);
	assert_int_equal(cru_plan_check(&req, left, 2, src_out),
			 CRU_REQUEST_NO_SOURCE);
}

static void words_for_legs_regions_and_flags(void **state)
{
	char buf[96];

	(void)state;
	cru_legs_str(0x4, buf, sizeof(buf));
	assert_string_equal(buf, "leg 2");
	cru_legs_str(0x5, buf, sizeof(buf));
	assert_string_equal(buf, "legs 0,2");
	cru_legs_str(0, buf, sizeof(buf));
	assert_string_equal(buf, "no leg");
	cru_regions_str(7, 1, buf, sizeof(buf));
	assert_string_equal(buf, "region 7");
	cru_regions_str(7, 6, buf, sizeof(buf));
	assert_string_equal(buf, "regions 7-12");
	cru_region_flags_str(0x6 | DIRTY | VERIFY, buf, sizeof(buf));
	assert_string_equal(buf, "stale:1,2 dirty verify");
	cru_region_flags_str(REHASH | LOCKED | 0x100, buf, sizeof(buf));
	assert_string_equal(buf, "rehash locked 0x100");
	cru_region_flags_str(0, buf, sizeof(buf));
	assert_string_equal(buf, "-");
	assert_int_equal(cru_plan_source(0x6, 0x2), 2);
	assert_int_equal(cru_plan_source(0x6, 0x6), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(returning_leg_is_repaired_from_leg_0),
		cmocka_unit_test(source_is_the_lowest_leg_in_sync_there),
		cmocka_unit_test(fewest_good_copies_first),
		cmocka_unit_test(leg_out_of_service_is_not_a_destination),
		cmocka_unit_test(disabled_leg_is_not_a_source),
		cmocka_unit_test(region_without_a_source_is_reported),
		cmocka_unit_test(locked_region_is_skipped_and_splits_the_run),
		cmocka_unit_test(rehash_region_is_left_to_the_kernel),
		cmocka_unit_test(batch_bounds_a_request),
		cmocka_unit_test(clean_volume_has_an_empty_plan),
		cmocka_unit_test(bad_region_lists_are_refused),
		cmocka_unit_test(request_progress_is_read_from_its_range),
		cmocka_unit_test(words_for_legs_regions_and_flags),
	};

	return cmocka_run_group_tests_name("repair planner", tests, NULL, NULL);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the dm-crucible reconcile rule (shared/reconcile.c): which
 * leg is the source of a region after re-assembly, which legs are stale, and
 * when a region is rehashed; and the write-unwritten rule of hydration.
 *
 * The source cases are those of Oxide Crucible's upstairs/src/mend.rs tests
 * (find_source / find_dest): highest generation, then highest flush number,
 * then dirty set; ties go to the lowest leg index.
 */
#include <kunit/test.h>

#include "../include/crucible/reconcile.h"

#define ALL_LEGS	0x7

/* ---- the cases of mend.rs ---- */

/*
 * One extent of a mend.rs test, as three legs' (generation, flush, dirty).
 * @mend_dest is what mend.rs repairs: every other leg that differs from the
 * source, or all of them if the source is dirty.  @stale is what
 * crucible_plan_region() repairs.  The two differ in one way only: when any
 * leg is dirty, dm-crucible rehashes the region from the source and treats
 * every other leg as stale, even one whose entry equals the source's (mend.rs
 * leaves such a leg alone).  So @stale always includes @mend_dest.
 */
struct mend_case {
	const char *name;
	u64 gen[CRUCIBLE_NR_LEGS];
	u64 flush[CRUCIBLE_NR_LEGS];
	bool dirty[CRUCIBLE_NR_LEGS];
	int source;
	u8 mend_dest;
	u8 stale;
	bool rehash;
};

static const struct mend_case mend_cases[] = {
	{ "reconcile_one: all agree",
	  { 1, 1, 1 }, { 3, 3, 3 }, { 0, 0, 0 }, 0, 0x0, 0x0, false },
	{ "reconcile_to_repair extent 1: all agree",
	  { 2, 2, 2 }, { 5, 5, 5 }, { 0, 0, 0 }, 0, 0x0, 0x0, false },
	{ "reconcile_to_repair extent 3: never written",
	  { 0, 0, 0 }, { 0, 0, 0 }, { 0, 0, 0 }, 0, 0x0, 0x0, false },
	{ "reconcile_dirty_mismatch_c0 extent 2",
	  { 7, 7, 7 }, { 2, 2, 3 }, { 0, 1, 1 }, 2, 0x3, 0x3, true },
	{ "reconcile_dirty_mismatch_c2 extent 1",
	  { 8, 8, 7 }, { 1, 1, 1 }, { 0, 0, 1 }, 0, 0x4, 0x6, true },
	{ "reconcile_dirty_mismatch_c1 extent 2",
	  { 7, 7, 7 }, { 2, 2, 2 }, { 0, 1, 0 }, 1, 0x5, 0x5, true },
	{ "reconcile_dirty_true extent 0",
	  { 9, 9, 9 }, { 2, 2, 2 }, { 1, 1, 1 }, 0, 0x6, 0x6, true },
	{ "reconcile_dirty_true extent 3",
	  { 7, 7, 7 }, { 1, 1, 1 }, { 1, 1, 1 }, 0, 0x6, 0x6, true },
	{ "reconcile_generation_mismatch_c0 extent 0",
	  { 9, 8, 8 }, { 2, 2, 2 }, { 0, 0, 0 }, 0, 0x6, 0x6, false },
	{ "reconcile_generation_mismatch_c1 extent 0",
	  { 9, 8, 9 }, { 2, 2, 2 }, { 0, 0, 0 }, 0, 0x2, 0x2, false },
	{ "reconcile_generation_mismatch_c2 extent 0",
	  { 7, 8, 8 }, { 2, 2, 2 }, { 0, 0, 0 }, 1, 0x1, 0x1, false },
	{ "reconcile_generation_mismatch_c2 extent 1",
	  { 8, 9, 10 }, { 1, 1, 1 }, { 0, 0, 0 }, 2, 0x3, 0x3, false },
	{ "reconcile_generation_mismatch_c2 extent 3",
	  { 5, 4, 3 }, { 3, 3, 3 }, { 0, 0, 0 }, 0, 0x6, 0x6, false },
	{ "reconcile_flush_mismatch_c0 extent 0",
	  { 9, 9, 9 }, { 1, 2, 2 }, { 0, 0, 0 }, 1, 0x1, 0x1, false },
	{ "reconcile_flush_mismatch_c1 extent 0",
	  { 9, 9, 9 }, { 1, 2, 3 }, { 0, 0, 0 }, 2, 0x3, 0x3, false },
	{ "reconcile_flush_mismatch_c1 extent 1",
	  { 8, 8, 8 }, { 2, 1, 3 }, { 0, 0, 0 }, 2, 0x3, 0x3, false },
	{ "reconcile_flush_mismatch_c1 extent 2",
	  { 7, 7, 7 }, { 3, 2, 3 }, { 0, 0, 0 }, 0, 0x2, 0x2, false },
	{ "reconcile_flush_mismatch_c1 extent 3",
	  { 7, 7, 7 }, { 3, 2, 1 }, { 0, 0, 0 }, 0, 0x6, 0x6, false },
	{ "reconcile_flush_mismatch_c1 extent 4",
	  { 6, 6, 6 }, { 1, 3, 3 }, { 0, 0, 0 }, 1, 0x1, 0x1, false },
	{ "reconcile_flush_mismatch_c1 extent 5",
	  { 5, 5, 5 }, { 2, 3, 2 }, { 0, 0, 0 }, 1, 0x5, 0x5, false },
	{ "reconcile_flush_mismatch_c2 extent 0",
	  { 9, 9, 9 }, { 1, 1, 2 }, { 0, 0, 0 }, 2, 0x3, 0x3, false },
	{ "reconcile_flush_mismatch_c2 extent 3",
	  { 7, 7, 7 }, { 1, 1, 3 }, { 0, 0, 0 }, 2, 0x3, 0x3, false },
	{ "reconcile_one_of_each extent 0",
	  { 9, 9, 9 }, { 2, 2, 3 }, { 0, 0, 1 }, 2, 0x3, 0x3, true },
	{ "reconcile_one_of_each extent 1",
	  { 8, 7, 8 }, { 1, 1, 1 }, { 0, 0, 0 }, 0, 0x2, 0x2, false },
	{ "reconcile_one_of_each extent 2",
	  { 7, 7, 8 }, { 2, 2, 2 }, { 0, 1, 0 }, 2, 0x3, 0x3, true },
	{ "reconcile_one_of_each extent 3",
	  { 7, 7, 7 }, { 1, 1, 1 }, { 1, 1, 1 }, 0, 0x6, 0x6, true },
	{ "reconcile_multiple_source extent 0",
	  { 9, 9, 8 }, { 1, 2, 3 }, { 0, 0, 0 }, 1, 0x5, 0x5, false },
	{ "reconcile_multiple_source extent 1",
	  { 7, 8, 8 }, { 1, 1, 2 }, { 0, 0, 0 }, 2, 0x3, 0x3, false },
	{ "reconcile_multiple_source extent 2",
	  { 7, 9, 7 }, { 2, 1, 3 }, { 0, 0, 0 }, 1, 0x5, 0x5, false },
	{ "reconcile_multiple_source extent 3",
	  { 7, 8, 9 }, { 5, 4, 3 }, { 0, 0, 0 }, 2, 0x3, 0x3, false },
};

static void mend_case_desc(const struct mend_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(mend, mend_cases, mend_case_desc);

static void set_legs(struct crucible_region_meta m[CRUCIBLE_NR_LEGS],
		     const u64 gen[CRUCIBLE_NR_LEGS],
		     const u64 flush[CRUCIBLE_NR_LEGS],
		     const bool dirty[CRUCIBLE_NR_LEGS])
{
	int i;

	for (i = 0; i < CRUCIBLE_NR_LEGS; i++) {
		m[i].generation = gen[i];
		m[i].flush = flush[i];
		m[i].dirty = dirty[i];
		m[i].valid = true;
	}
}

static void crucible_mend_cases(struct kunit *test)
{
	const struct mend_case *c = test->param_value;
	struct crucible_region_meta m[CRUCIBLE_NR_LEGS];
	struct crucible_region_plan plan;

	set_legs(m, c->gen, c->flush, c->dirty);
	KUNIT_EXPECT_EQ(test, crucible_find_source(m, ALL_LEGS), c->source);

	crucible_plan_region(m, ALL_LEGS, &plan);
	KUNIT_EXPECT_EQ(test, plan.source, c->source);
	KUNIT_EXPECT_EQ(test, plan.stale_mask, c->stale);
	KUNIT_EXPECT_EQ(test, plan.rehash, c->rehash);
	/* Every leg mend.rs repairs, dm-crucible repairs too. */
	KUNIT_EXPECT_EQ(test, c->mend_dest & ~plan.stale_mask, 0);
}

/*
 * mend.rs's reconcile_gen_{a,b,c} and reconcile_flush_{a,b,c} try every
 * generation (or flush number) 1..3 on two legs against a fixed third.  Here
 * all three legs take every generation, flush number and dirty bit, checked
 * against the rule stated plainly: rank legs by (generation, flush, dirty)
 * and take the first of the best.
 */
static void crucible_find_source_exhaustive(struct kunit *test)
{
	struct crucible_region_meta m[CRUCIBLE_NR_LEGS];
	struct crucible_region_plan plan;
	unsigned int combo, bad = 0;
	int i, want;

	/* 3 generations x 3 flush numbers x 2 dirty states, per leg. */
	for (combo = 0; combo < 18 * 18 * 18; combo++) {
		unsigned int rank[CRUCIBLE_NR_LEGS], c = combo;
		bool any_dirty = false;
		u8 stale = 0;

		for (i = 0; i < CRUCIBLE_NR_LEGS; i++, c /= 18) {
			m[i].generation = 1 + c % 3;
			m[i].flush = 1 + c / 3 % 3;
			m[i].dirty = c / 9 % 2;
			m[i].valid = true;
			rank[i] = m[i].generation * 100 + m[i].flush * 10 + m[i].dirty;
			any_dirty |= m[i].dirty;
		}
		want = 0;
		for (i = 1; i < CRUCIBLE_NR_LEGS; i++)
			if (rank[i] > rank[want])
				want = i;
		for (i = 0; i < CRUCIBLE_NR_LEGS; i++)
			if (i != want && (any_dirty || rank[i] / 10 != rank[want] / 10))
				stale |= 1U << i;

		crucible_plan_region(m, ALL_LEGS, &plan);
		if (crucible_find_source(m, ALL_LEGS) != want || plan.source != want ||
		    plan.stale_mask != stale || plan.rehash != any_dirty) {
			if (!bad)
				kunit_err(test, "legs (%llu,%llu,%d) (%llu,%llu,%d) (%llu,%llu,%d): source %d stale %#x, want %d %#x\n",
					  m[0].generation, m[0].flush, m[0].dirty,
					  m[1].generation, m[1].flush, m[1].dirty,
					  m[2].generation, m[2].flush, m[2].dirty,
					  plan.source, plan.stale_mask, want, stale);
			bad++;
		}
	}
	KUNIT_EXPECT_EQ(test, bad, 0U);
}

/* ---- crucible_plan_region ---- */

static void legs(struct crucible_region_meta m[CRUCIBLE_NR_LEGS],
		 u64 g0, u64 f0, bool d0, u64 g1, u64 f1, bool d1,
		 u64 g2, u64 f2, bool d2)
{
	const u64 gen[] = { g0, g1, g2 };
	const u64 flush[] = { f0, f1, f2 };
	const bool dirty[] = { d0, d1, d2 };

	set_legs(m, gen, flush, dirty);
}

static void expect_plan(struct kunit *test,
			const struct crucible_region_meta m[CRUCIBLE_NR_LEGS],
			u8 alive, int source, u8 stale, bool rehash)
{
	struct crucible_region_plan plan;

	crucible_plan_region(m, alive, &plan);
	KUNIT_EXPECT_EQ(test, plan.source, source);
	KUNIT_EXPECT_EQ(test, plan.stale_mask, stale);
	KUNIT_EXPECT_EQ(test, plan.rehash, rehash);
}

static void crucible_plan_in_sync(struct kunit *test)
{
	struct crucible_region_meta m[CRUCIBLE_NR_LEGS];

	legs(m, 5, 10, false, 5, 10, false, 5, 10, false);
	expect_plan(test, m, ALL_LEGS, 0, 0, false);
	legs(m, 0, 0, false, 0, 0, false, 0, 0, false);
	expect_plan(test, m, ALL_LEGS, 0, 0, false);
}

/* A leg that missed the writes of an outage is the only one repaired. */
static void crucible_plan_stale_after_outage(struct kunit *test)
{
	struct crucible_region_meta m[CRUCIBLE_NR_LEGS];

	legs(m, 3, 10, false, 3, 7, false, 3, 10, false);
	expect_plan(test, m, ALL_LEGS, 0, 0x2, false);
	legs(m, 3, 7, false, 3, 10, false, 3, 10, false);
	expect_plan(test, m, ALL_LEGS, 1, 0x1, false);
	legs(m, 3, 7, false, 3, 7, false, 3, 10, false);
	expect_plan(test, m, ALL_LEGS, 2, 0x3, false);
}

/* A leg left behind by an older activation loses whatever its flush number. */
static void crucible_plan_older_generation(struct kunit *test)
{
	struct crucible_region_meta m[CRUCIBLE_NR_LEGS];

	legs(m, 4, 1, false, 4, 1, false, 3, 500, false);
	expect_plan(test, m, ALL_LEGS, 0, 0x4, false);
	legs(m, 3, 500, true, 4, 1, false, 4, 1, false);
	expect_plan(test, m, ALL_LEGS, 1, 0x5, true);
}

/*
 * Writes were in flight when the volume stopped: records may lag the data on
 * any leg, so the region is rehashed from the source and every other leg is
 * repaired from it, even one whose entry looks like the source's.
 */
static void crucible_plan_dirty_rehash(struct kunit *test)
{
	struct crucible_region_meta m[CRUCIBLE_NR_LEGS];

	legs(m, 3, 10, false, 3, 10, true, 3, 10, false);
	expect_plan(test, m, ALL_LEGS, 1, 0x5, true);
	legs(m, 3, 10, true, 3, 10, true, 3, 10, true);
	expect_plan(test, m, ALL_LEGS, 0, 0x6, true);
	/* The dirty leg is not the source; the clean twin is still repaired. */
	legs(m, 8, 1, false, 8, 1, false, 7, 1, true);
	expect_plan(test, m, ALL_LEGS, 0, 0x6, true);
	/* A single alive leg that is dirty: rehashed, nothing to copy. */
	expect_plan(test, m, 0x4, 2, 0x0, true);
}

/* Legs that are down are neither the source nor repaired, and do not vote. */
static void crucible_plan_dead_legs(struct kunit *test)
{
	struct crucible_region_meta m[CRUCIBLE_NR_LEGS];

	legs(m, 3, 1, false, 9, 1, false, 3, 1, false);
	expect_plan(test, m, 0x5, 0, 0x0, false);
	expect_plan(test, m, 0x6, 1, 0x4, false);
	expect_plan(test, m, 0x4, 2, 0x0, false);

	/* A dead leg's dirty bit does not force a rehash of the live ones. */
	legs(m, 3, 1, false, 3, 1, false, 3, 1, true);
	expect_plan(test, m, 0x3, 0, 0x0, false);

	/* Bits above the three legs mean nothing. */
	legs(m, 1, 1, false, 2, 1, false, 1, 2, false);
	expect_plan(test, m, 0xff, 1, 0x5, false);
	expect_plan(test, m, 0xf9, 0, 0x0, false);
}

static void crucible_plan_no_alive_leg(struct kunit *test)
{
	struct crucible_region_meta m[CRUCIBLE_NR_LEGS];

	legs(m, 3, 1, true, 3, 1, false, 3, 2, false);
	KUNIT_EXPECT_EQ(test, crucible_find_source(m, 0), -1);
	expect_plan(test, m, 0x0, -1, 0x0, false);
	KUNIT_EXPECT_EQ(test, crucible_find_source(m, 0xf8), -1);
	expect_plan(test, m, 0xf8, -1, 0x0, false);
}

/*
 * An entry that failed its check can never be the source while a valid one
 * is alive, whatever it claims; its region is rehashed.
 */
static void crucible_plan_invalid_entry(struct kunit *test)
{
	struct crucible_region_meta m[CRUCIBLE_NR_LEGS];

	/* As crucible_region_decode() reports a bad entry. */
	legs(m, 5, 9, false, 0, 0, true, 5, 9, false);
	m[1].valid = false;
	expect_plan(test, m, ALL_LEGS, 0, 0x6, true);

	/* Even one that claims the highest generation and flush number. */
	legs(m, 100, 100, true, 1, 1, false, 1, 2, false);
	m[0].valid = false;
	KUNIT_EXPECT_EQ(test, crucible_find_source(m, ALL_LEGS), 2);
	expect_plan(test, m, ALL_LEGS, 2, 0x3, true);

	/* The valid leg is down: the best of the invalid ones is used. */
	m[1].valid = false;
	expect_plan(test, m, 0x3, 0, 0x2, true);
	expect_plan(test, m, 0x6, 2, 0x2, true);

	/* No entry checks out: lowest index, everything rehashed. */
	legs(m, 0, 0, true, 0, 0, true, 0, 0, true);
	m[0].valid = false;
	m[1].valid = false;
	m[2].valid = false;
	expect_plan(test, m, ALL_LEGS, 0, 0x6, true);
}

/* Region entries as read from three legs, one of them damaged on disk. */
static void crucible_plan_from_disk_entries(struct kunit *test)
{
	const struct crucible_region_meta written[CRUCIBLE_NR_LEGS] = {
		{ .generation = 4, .flush = 20, .valid = true },
		{ .generation = 4, .flush = 20, .valid = true },
		{ .generation = 4, .flush = 18, .valid = true },
	};
	struct crucible_region_entry e[CRUCIBLE_NR_LEGS];
	struct crucible_region_meta m[CRUCIBLE_NR_LEGS];
	const u64 seed = 0x1234, region = 99;
	int i;

	for (i = 0; i < CRUCIBLE_NR_LEGS; i++)
		crucible_region_encode(&e[i], seed, region, &written[i]);
	for (i = 0; i < CRUCIBLE_NR_LEGS; i++)
		crucible_region_decode(&e[i], seed, region, &m[i]);
	expect_plan(test, m, ALL_LEGS, 0, 0x4, false);

	((u8 *)&e[0])[3] ^= 0x10;
	for (i = 0; i < CRUCIBLE_NR_LEGS; i++)
		crucible_region_decode(&e[i], seed, region, &m[i]);
	KUNIT_EXPECT_FALSE(test, m[0].valid);
	expect_plan(test, m, ALL_LEGS, 1, 0x5, true);
}

/* ---- write-unwritten ---- */

/* Hydration may copy parent data only into blocks never written. */
static void crucible_write_unwritten(struct kunit *test)
{
	const struct crucible_rec never = { .hash = CRUCIBLE_HASH_UNWRITTEN };
	const struct crucible_rec never_flushed = {
		.hash = CRUCIBLE_HASH_UNWRITTEN, .flush = 77,
	};
	const struct crucible_rec zero_hash = { .hash = CRUCIBLE_HASH_ZERO_REMAP };
	const struct crucible_rec written = { .hash = 0xdeadbeefcafeULL, .flush = 3 };
	struct crucible_record r;
	struct crucible_rec rec;

	KUNIT_EXPECT_TRUE(test, crucible_may_write_unwritten(&never));
	KUNIT_EXPECT_TRUE(test, crucible_may_write_unwritten(&never_flushed));
	/* A block the guest filled with data hashing to 0 is written. */
	KUNIT_EXPECT_FALSE(test, crucible_may_write_unwritten(&zero_hash));
	KUNIT_EXPECT_FALSE(test, crucible_may_write_unwritten(&written));

	/* Through the on-disk record: blank in a region never stamped... */
	memset(&r, 0, sizeof(r));
	KUNIT_ASSERT_TRUE(test, crucible_record_decode(&r, 1, 5, false, &rec));
	KUNIT_EXPECT_TRUE(test, crucible_may_write_unwritten(&rec));
	/* ...or initialised "never written" in a stamped one. */
	crucible_record_encode(&r, 1, 5, &never);
	KUNIT_ASSERT_TRUE(test, crucible_record_decode(&r, 1, 5, true, &rec));
	KUNIT_EXPECT_TRUE(test, crucible_may_write_unwritten(&rec));
	/* A lost record is no licence to write: decode fails. */
	memset(&r, 0, sizeof(r));
	KUNIT_EXPECT_FALSE(test, crucible_record_decode(&r, 1, 5, true, &rec));
	crucible_record_encode(&r, 1, 5, &written);
	KUNIT_ASSERT_TRUE(test, crucible_record_decode(&r, 1, 5, true, &rec));
	KUNIT_EXPECT_FALSE(test, crucible_may_write_unwritten(&rec));
	crucible_record_encode(&r, 1, 5, &zero_hash);
	KUNIT_ASSERT_TRUE(test, crucible_record_decode(&r, 1, 5, true, &rec));
	KUNIT_EXPECT_FALSE(test, crucible_may_write_unwritten(&rec));
}

static struct kunit_case crucible_reconcile_cases[] = {
	KUNIT_CASE_PARAM(crucible_mend_cases, mend_gen_params),
	KUNIT_CASE(crucible_find_source_exhaustive),
	KUNIT_CASE(crucible_plan_in_sync),
	KUNIT_CASE(crucible_plan_stale_after_outage),
	KUNIT_CASE(crucible_plan_older_generation),
	KUNIT_CASE(crucible_plan_dirty_rehash),
	KUNIT_CASE(crucible_plan_dead_legs),
	KUNIT_CASE(crucible_plan_no_alive_leg),
	KUNIT_CASE(crucible_plan_invalid_entry),
	KUNIT_CASE(crucible_plan_from_disk_entries),
	KUNIT_CASE(crucible_write_unwritten),
	{}
};

static struct kunit_suite crucible_reconcile_suite = {
	.name = "crucible_reconcile",
	.test_cases = crucible_reconcile_cases,
};

kunit_test_suites(&crucible_reconcile_suite);

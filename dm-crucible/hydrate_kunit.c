// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for parent hydration (shared/hydrate.c): the write-unwritten
 * decision, the hydration cursor's bookkeeping (chunks, durability across
 * commits, resuming from the legs' superblocks) and the rules for giving
 * or dropping a parent.
 */
#include <kunit/test.h>
#include <linux/random.h>

#include "../include/crucible/hydrate.h"

/* ---- write-unwritten ---- */

struct decide_case {
	const char *name;
	bool rec_ok;
	u64 hash;
	bool parent_zero;
	enum crucible_hydrate_action want;
};

static const struct decide_case decide_cases[] = {
	{ "never written, parent data", true, CRUCIBLE_HASH_UNWRITTEN, false,
	  CRUCIBLE_HYDRATE_COPY },
	{ "never written, parent zeros", true, CRUCIBLE_HASH_UNWRITTEN, true,
	  CRUCIBLE_HYDRATE_MARK_ZERO },
	{ "written by the guest", true, 0x1234abcdULL, false,
	  CRUCIBLE_HYDRATE_SKIP },
	{ "written by the guest, parent zeros", true, 0x1234abcdULL, true,
	  CRUCIBLE_HYDRATE_SKIP },
	{ "written with a block hashing to 0", true, CRUCIBLE_HASH_ZERO_REMAP,
	  false, CRUCIBLE_HYDRATE_SKIP },
	{ "discarded", true, CRUCIBLE_HASH_ZEROED, false, CRUCIBLE_HYDRATE_SKIP },
	{ "record fails its check", false, CRUCIBLE_HASH_UNWRITTEN, false,
	  CRUCIBLE_HYDRATE_SKIP },
	{ "record fails its check, parent zeros", false,
	  CRUCIBLE_HASH_UNWRITTEN, true, CRUCIBLE_HYDRATE_SKIP },
};

static void decide_test(struct kunit *test)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(decide_cases); i++) {
		const struct decide_case *d = &decide_cases[i];
		struct crucible_rec rec = { .hash = d->hash, .flush = 3 };

		KUNIT_EXPECT_EQ_MSG(test, crucible_hydrate_decide(d->rec_ok, &rec,
								  d->parent_zero),
				    d->want, "%s", d->name);
	}
}

/* Only "never written" takes parent data, for every hash value. */
static void decide_sweep_test(struct kunit *test)
{
	struct crucible_rec rec;
	unsigned int i;

	for (i = 0; i < 1000; i++) {
		rec.hash = i < 4 ? i : get_random_u64();
		rec.flush = i;
		if (rec.hash == CRUCIBLE_HASH_UNWRITTEN)
			continue;
		KUNIT_EXPECT_EQ(test, crucible_hydrate_decide(true, &rec, false),
				CRUCIBLE_HYDRATE_SKIP);
		KUNIT_EXPECT_EQ(test, crucible_hydrate_decide(true, &rec, true),
				CRUCIBLE_HYDRATE_SKIP);
	}
}

/* Hash values that name no data never come out of a real block's hash. */
static void hash_fixup_test(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, crucible_hash_fixup(CRUCIBLE_HASH_UNWRITTEN),
			CRUCIBLE_HASH_ZERO_REMAP);
	KUNIT_EXPECT_EQ(test, crucible_hash_fixup(CRUCIBLE_HASH_ZEROED),
			CRUCIBLE_HASH_ZERO_REMAP);
	KUNIT_EXPECT_EQ(test, crucible_hash_fixup(1), 1ULL);
	KUNIT_EXPECT_EQ(test, crucible_hash_fixup(3), 3ULL);
	KUNIT_EXPECT_FALSE(test, crucible_hash_has_data(CRUCIBLE_HASH_UNWRITTEN));
	KUNIT_EXPECT_FALSE(test, crucible_hash_has_data(CRUCIBLE_HASH_ZEROED));
	KUNIT_EXPECT_TRUE(test, crucible_hash_has_data(CRUCIBLE_HASH_ZERO_REMAP));
}

/* ---- the cursor ---- */

static void parent_blocks_test(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, crucible_parent_blocks(0), 0ULL);
	KUNIT_EXPECT_EQ(test, crucible_parent_blocks(1), 1ULL);
	KUNIT_EXPECT_EQ(test, crucible_parent_blocks(8), 1ULL);
	KUNIT_EXPECT_EQ(test, crucible_parent_blocks(9), 2ULL);
	KUNIT_EXPECT_EQ(test, crucible_parent_blocks(24579), 3073ULL);
}

static void init_test(struct kunit *test)
{
	const u64 stored[3] = { 40, 100, 0 };
	const u64 past[2] = { 5, 900 };
	struct crucible_hydration h;

	crucible_hydration_init(&h, 500, NULL, 0);
	KUNIT_EXPECT_EQ(test, h.cursor, 0ULL);
	KUNIT_EXPECT_EQ(test, h.durable, 0ULL);
	KUNIT_EXPECT_EQ(test, h.total, 500ULL);
	KUNIT_EXPECT_FALSE(test, crucible_hydration_done(&h));

	/* A leg that missed commits has an older cursor: the newest wins. */
	crucible_hydration_init(&h, 500, stored, 3);
	KUNIT_EXPECT_EQ(test, h.cursor, 100ULL);
	KUNIT_EXPECT_EQ(test, h.durable, 100ULL);

	/* Never past the parent's end. */
	crucible_hydration_init(&h, 500, past, 2);
	KUNIT_EXPECT_EQ(test, h.cursor, 500ULL);
	KUNIT_EXPECT_TRUE(test, crucible_hydration_done(&h));

	/* No parent: nothing to do. */
	crucible_hydration_init(&h, 0, NULL, 0);
	KUNIT_EXPECT_TRUE(test, crucible_hydration_done(&h));
}

static void next_test(struct kunit *test)
{
	struct crucible_hydration h;
	u64 first;
	u32 nr;

	crucible_hydration_init(&h, 1000, NULL, 0);
	/* Bounded by the chunk size. */
	KUNIT_ASSERT_TRUE(test, crucible_hydration_next(&h, 1024, 256, &first, &nr));
	KUNIT_EXPECT_EQ(test, first, 0ULL);
	KUNIT_EXPECT_EQ(test, nr, 256U);
	/* Bounded by the region. */
	h.cursor = 250;
	KUNIT_ASSERT_TRUE(test, crucible_hydration_next(&h, 256, 256, &first, &nr));
	KUNIT_EXPECT_EQ(test, first, 250ULL);
	KUNIT_EXPECT_EQ(test, nr, 6U);
	/* Bounded by the parent's end. */
	h.cursor = 990;
	KUNIT_ASSERT_TRUE(test, crucible_hydration_next(&h, 16, 256, &first, &nr));
	KUNIT_EXPECT_EQ(test, nr, 2U);	/* region 61 ends at 992 */
	h.cursor = 992;
	KUNIT_ASSERT_TRUE(test, crucible_hydration_next(&h, 256, 256, &first, &nr));
	KUNIT_EXPECT_EQ(test, nr, 8U);
	h.cursor = 1000;
	KUNIT_EXPECT_FALSE(test, crucible_hydration_next(&h, 256, 256, &first, &nr));
	/* Nonsense sizes give nothing rather than a zero-length chunk. */
	h.cursor = 0;
	KUNIT_EXPECT_FALSE(test, crucible_hydration_next(&h, 256, 0, &first, &nr));
}

static void advance_test(struct kunit *test)
{
	struct crucible_hydration h;

	crucible_hydration_init(&h, 100, NULL, 0);
	KUNIT_EXPECT_TRUE(test, crucible_hydration_advance(&h, 0, 16));
	KUNIT_EXPECT_EQ(test, h.cursor, 16ULL);
	/* A chunk that is not at the cursor (stale, or ahead) moves nothing. */
	KUNIT_EXPECT_FALSE(test, crucible_hydration_advance(&h, 0, 16));
	KUNIT_EXPECT_FALSE(test, crucible_hydration_advance(&h, 32, 16));
	KUNIT_EXPECT_FALSE(test, crucible_hydration_advance(&h, 16, 0));
	KUNIT_EXPECT_EQ(test, h.cursor, 16ULL);
	/* Never past the end. */
	KUNIT_EXPECT_TRUE(test, crucible_hydration_advance(&h, 16, 200));
	KUNIT_EXPECT_EQ(test, h.cursor, 100ULL);
	KUNIT_EXPECT_TRUE(test, crucible_hydration_done(&h));
	/* The durable cursor only moves with a commit. */
	KUNIT_EXPECT_EQ(test, h.durable, 0ULL);
}

static void commit_test(struct kunit *test)
{
	struct crucible_hydration h;
	u64 snap;

	crucible_hydration_init(&h, 100, NULL, 0);
	crucible_hydration_advance(&h, 0, 10);
	snap = crucible_hydration_commit_begin(&h);
	/* A chunk finished while the commit runs is not covered by it. */
	crucible_hydration_advance(&h, 10, 10);
	crucible_hydration_commit_end(&h, snap);
	KUNIT_EXPECT_EQ(test, h.durable, 10ULL);
	KUNIT_EXPECT_EQ(test, h.cursor, 20ULL);
	/* An older commit finishing late never moves the durable cursor back. */
	crucible_hydration_commit_end(&h, 4);
	KUNIT_EXPECT_EQ(test, h.durable, 10ULL);
	snap = crucible_hydration_commit_begin(&h);
	crucible_hydration_commit_end(&h, snap);
	KUNIT_EXPECT_EQ(test, h.durable, 20ULL);
}

/*
 * Hydrate a parent chunk by chunk with commits, crashes (back to the
 * durable cursor, as stored) and reloads at random points: every block is
 * visited, in order, none is skipped; the durable cursor never passes the
 * in-memory one or goes back; the stored cursor only names blocks that
 * were copied before a commit began.
 */
static void sweep_test(struct kunit *test)
{
	static const u32 regions[] = { 16, 64, 256, 1024 };
	unsigned int round;

	for (round = 0; round < 200; round++) {
		u64 total = 1 + get_random_u32_below(3000);
		u32 region = regions[round % ARRAY_SIZE(regions)];
		struct crucible_hydration h;
		u64 copied_upto = 0, stored = 0, snap = 0, first;
		bool in_commit = false;
		u32 nr, steps = 0;

		crucible_hydration_init(&h, total, &stored, 1);
		while (crucible_hydration_next(&h, region, 256, &first, &nr)) {
			u32 op = get_random_u32_below(10);

			KUNIT_ASSERT_LE(test, first, copied_upto);
			KUNIT_ASSERT_GT(test, nr, 0U);
			KUNIT_ASSERT_EQ(test, first / region, (first + nr - 1) / region);
			KUNIT_ASSERT_LE(test, first + nr, total);
			if (first + nr > copied_upto)
				copied_upto = first + nr;
			KUNIT_ASSERT_TRUE(test, crucible_hydration_advance(&h, first, nr));
			if (op == 0 && !in_commit) {
				snap = crucible_hydration_commit_begin(&h);
				in_commit = true;
			} else if (op == 1 && in_commit) {
				crucible_hydration_commit_end(&h, snap);
				stored = h.durable;
				in_commit = false;
			} else if (op == 2) {
				/* Crash: what the superblocks say is all that is left. */
				crucible_hydration_init(&h, total, &stored, 1);
				in_commit = false;
			}
			KUNIT_ASSERT_LE(test, h.durable, h.cursor);
			KUNIT_ASSERT_LE(test, stored, copied_upto);
			KUNIT_ASSERT_LT(test, ++steps, 100000U);
		}
		KUNIT_EXPECT_EQ(test, h.cursor, total);
		KUNIT_EXPECT_EQ(test, copied_upto, total);
	}
}

/* ---- giving and dropping a parent ---- */

struct parent_case {
	const char *name;
	bool blank;
	u64 recorded;
	u64 hydrated;
	bool given;
	u64 given_sectors;
	enum crucible_parent_verdict want;
};

static const struct parent_case parent_cases[] = {
	{ "new volume with a parent", true, 0, 0, true, 2048, CRUCIBLE_PARENT_OK },
	{ "new volume without", true, 0, 0, false, 0, CRUCIBLE_PARENT_OK },
	{ "same parent again", false, 2048, 10, true, 2048, CRUCIBLE_PARENT_OK },
	{ "parent of another size", false, 2048, 10, true, 4096,
	  CRUCIBLE_PARENT_SIZE_DIFFERS },
	{ "parent for a volume made without", false, 0, 0, true, 2048,
	  CRUCIBLE_PARENT_NOT_RECORDED },
	{ "no parent, never had one", false, 0, 0, false, 0, CRUCIBLE_PARENT_OK },
	{ "dropped before hydration completed", false, 2048, 255, false, 0,
	  CRUCIBLE_PARENT_STILL_NEEDED },
	{ "dropped with nothing hydrated", false, 2048, 0, false, 0,
	  CRUCIBLE_PARENT_STILL_NEEDED },
	{ "dropped after hydration completed", false, 2048, 256, false, 0,
	  CRUCIBLE_PARENT_OK },
	{ "partial last block still needed", false, 2049, 256, false, 0,
	  CRUCIBLE_PARENT_STILL_NEEDED },
	{ "partial last block hydrated", false, 2049, 257, false, 0,
	  CRUCIBLE_PARENT_OK },
	{ "given again after completion", false, 2048, 256, true, 2048,
	  CRUCIBLE_PARENT_OK },
};

static void parent_check_test(struct kunit *test)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(parent_cases); i++) {
		const struct parent_case *p = &parent_cases[i];

		KUNIT_EXPECT_EQ_MSG(test,
				    crucible_parent_check(p->blank, p->recorded,
							  p->hydrated, p->given,
							  p->given_sectors),
				    p->want, "%s", p->name);
	}
}

static struct kunit_case crucible_hydrate_cases[] = {
	KUNIT_CASE(decide_test),
	KUNIT_CASE(decide_sweep_test),
	KUNIT_CASE(hash_fixup_test),
	KUNIT_CASE(parent_blocks_test),
	KUNIT_CASE(init_test),
	KUNIT_CASE(next_test),
	KUNIT_CASE(advance_test),
	KUNIT_CASE(commit_test),
	KUNIT_CASE(sweep_test),
	KUNIT_CASE(parent_check_test),
	{}
};

static struct kunit_suite crucible_hydrate_suite = {
	.name = "crucible_hydrate",
	.test_cases = crucible_hydrate_cases,
};

kunit_test_suites(&crucible_hydrate_suite);

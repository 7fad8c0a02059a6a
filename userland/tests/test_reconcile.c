// SPDX-License-Identifier: GPL-2.0
/*
 * The reconcile rule (shared/reconcile.c) on tables of region states:
 * which leg is the source, which legs are stale, when to rehash.
 */
#include "test.h"

#include <crucible/reconcile.h>

#define ALL 0x7

/* One region's entries on legs 0..2, written as {gen, flush, dirty, valid}. */
#define R(g, f, d) { .generation = (g), .flush = (f), .dirty = (d), .valid = true }
#define BAD { .generation = 0, .flush = 0, .dirty = true, .valid = false }

struct source_case {
	const char *what;
	struct crucible_region_meta m[CRUCIBLE_NR_LEGS];
	uint8_t alive;
	int source;
};

static void source_is_highest_generation_then_flush_then_dirty(void **state)
{
	static const struct source_case cases[] = {
		{ "all equal: lowest index", { R(1, 5, 0), R(1, 5, 0), R(1, 5, 0) }, ALL, 0 },
		{ "generation beats flush", { R(1, 99, 0), R(2, 1, 0), R(1, 50, 0) }, ALL, 1 },
		{ "generation beats dirty", { R(3, 1, 1), R(4, 1, 0), R(3, 1, 1) }, ALL, 1 },
		{ "flush decides at equal generation", { R(2, 5, 0), R(2, 6, 0), R(2, 7, 0) }, ALL, 2 },
		{ "flush beats dirty", { R(2, 5, 1), R(2, 6, 0), R(2, 5, 1) }, ALL, 1 },
		{ "dirty decides at equal gen and flush", { R(2, 6, 0), R(2, 6, 1), R(2, 6, 0) }, ALL, 1 },
		{ "tie between dirty legs: lowest index", { R(2, 6, 0), R(2, 6, 1), R(2, 6, 1) }, ALL, 1 },
		{ "tie on the best: lowest index", { R(1, 1, 0), R(5, 9, 0), R(5, 9, 0) }, ALL, 1 },
		{ "never written vs written", { R(0, 0, 0), R(0, 0, 0), R(1, 1, 0) }, ALL, 2 },
		{ "dead leg never chosen", { R(1, 1, 0), R(9, 9, 0), R(2, 2, 0) }, 0x5, 2 },
		{ "only one leg alive", { R(9, 9, 0), R(1, 1, 0), R(9, 9, 1) }, 0x2, 1 },
		{ "no leg alive", { R(1, 1, 0), R(1, 1, 0), R(1, 1, 0) }, 0x0, -1 },
		{ "invalid entry loses to any valid one", { BAD, R(0, 0, 0), R(0, 0, 0) }, ALL, 1 },
		{ "all invalid: lowest alive", { BAD, BAD, BAD }, 0x6, 1 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		int got = crucible_find_source(cases[i].m, cases[i].alive);

		if (got != cases[i].source)
			fail_msg("%s: source %d, expected %d", cases[i].what,
				 got, cases[i].source);
	}
}

struct plan_case {
	const char *what;
	struct crucible_region_meta m[CRUCIBLE_NR_LEGS];
	uint8_t alive;
	int source;
	uint8_t stale;
	bool rehash;
};

static void plan_marks_stale_legs_and_rehash(void **state)
{
	static const struct plan_case cases[] = {
		{ "in sync: nothing to do", { R(2, 8, 0), R(2, 8, 0), R(2, 8, 0) }, ALL, 0, 0, false },
		{ "never written anywhere", { R(0, 0, 0), R(0, 0, 0), R(0, 0, 0) }, ALL, 0, 0, false },
		{ "one leg missed flushes", { R(2, 8, 0), R(2, 5, 0), R(2, 8, 0) }, ALL, 0, 0x2, false },
		{ "leg from an older generation", { R(1, 9, 0), R(2, 3, 0), R(2, 3, 0) }, ALL, 1, 0x1, false },
		{ "two legs behind", { R(2, 8, 0), R(2, 1, 0), R(3, 1, 0) }, ALL, 2, 0x3, false },
		{ "dirty region: rehash, all others stale", { R(2, 8, 0), R(2, 8, 1), R(2, 8, 0) }, ALL, 1, 0x5, true },
		{ "dirty on a losing leg still rehashes", { R(3, 8, 0), R(2, 8, 1), R(3, 8, 0) }, ALL, 0, 0x6, true },
		{ "invalid entry: rehash", { R(2, 8, 0), BAD, R(2, 8, 0) }, ALL, 0, 0x6, true },
		{ "dead leg is never stale", { R(2, 8, 0), R(1, 1, 0), R(2, 8, 0) }, 0x5, 0, 0, false },
		{ "dead leg, dirty survivor", { R(2, 8, 1), R(2, 8, 0), R(1, 1, 0) }, 0x3, 0, 0x2, true },
		{ "nothing alive", { R(2, 8, 0), R(2, 8, 0), R(2, 8, 0) }, 0, -1, 0, false },
	};
	struct crucible_region_plan p;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		crucible_plan_region(cases[i].m, cases[i].alive, &p);
		if (p.source != cases[i].source || p.stale_mask != cases[i].stale ||
		    p.rehash != cases[i].rehash)
			fail_msg("%s: source %d stale 0x%x rehash %d, expected %d 0x%x %d",
				 cases[i].what, p.source, p.stale_mask, p.rehash,
				 cases[i].source, cases[i].stale, cases[i].rehash);
	}
}

static void source_is_never_stale(void **state)
{
	struct crucible_region_meta m[CRUCIBLE_NR_LEGS];
	struct crucible_region_plan p;
	unsigned int g0, f1, d2, alive;

	(void)state;
	/* Every combination of a small grid of states. */
	for (g0 = 0; g0 < 3; g0++)
		for (f1 = 0; f1 < 3; f1++)
			for (d2 = 0; d2 < 2; d2++)
				for (alive = 1; alive < 8; alive++) {
					struct crucible_region_meta a = R(g0, 1, 0);
					struct crucible_region_meta b = R(1, f1, 0);
					struct crucible_region_meta c = R(1, 1, d2);

					m[0] = a;
					m[1] = b;
					m[2] = c;
					crucible_plan_region(m, alive, &p);
					assert_true(p.source >= 0);
					assert_true(alive & (1U << p.source));
					assert_false(p.stale_mask & (1U << p.source));
					assert_int_equal(p.stale_mask & ~alive, 0);
				}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(source_is_highest_generation_then_flush_then_dirty),
		cmocka_unit_test(plan_marks_stale_legs_and_rehash),
		cmocka_unit_test(source_is_never_stale),
	};

	return cmocka_run_group_tests_name("reconcile rule", tests, NULL, NULL);
}

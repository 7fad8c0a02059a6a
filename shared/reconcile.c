// SPDX-License-Identifier: GPL-2.0
/*
 * The reconcile rule: which leg is the source of a region, and which legs
 * must be repaired from it.  Crucible's upstairs/src/mend.rs rule.
 */
#include "../include/crucible/reconcile.h"

/* Is a strictly better source than b?  (gen, flush, dirty) */
static bool meta_better(const struct crucible_region_meta *a,
			const struct crucible_region_meta *b)
{
	if (a->generation != b->generation)
		return a->generation > b->generation;
	if (a->flush != b->flush)
		return a->flush > b->flush;
	return a->dirty && !b->dirty;
}

int crucible_find_source(const struct crucible_region_meta m[CRUCIBLE_NR_LEGS],
			 u8 alive_mask)
{
	bool any_valid = false;
	int best = -1;
	int i;

	for (i = 0; i < CRUCIBLE_NR_LEGS; i++)
		if ((alive_mask & (1U << i)) && m[i].valid)
			any_valid = true;

	for (i = 0; i < CRUCIBLE_NR_LEGS; i++) {
		if (!(alive_mask & (1U << i)))
			continue;
		if (any_valid && !m[i].valid)
			continue;
		/* Strictly better only: ties stay with the lower index. */
		if (best < 0 || meta_better(&m[i], &m[best]))
			best = i;
	}
	return best;
}

void crucible_plan_region(const struct crucible_region_meta m[CRUCIBLE_NR_LEGS],
			  u8 alive_mask, struct crucible_region_plan *plan)
{
	const struct crucible_region_meta *src;
	int i;

	plan->stale_mask = 0;
	plan->rehash = false;
	plan->source = crucible_find_source(m, alive_mask);
	if (plan->source < 0)
		return;
	src = &m[plan->source];

	for (i = 0; i < CRUCIBLE_NR_LEGS; i++) {
		if (!(alive_mask & (1U << i)))
			continue;
		if (m[i].dirty || !m[i].valid)
			plan->rehash = true;
	}
	for (i = 0; i < CRUCIBLE_NR_LEGS; i++) {
		if (i == plan->source || !(alive_mask & (1U << i)))
			continue;
		if (plan->rehash || m[i].generation != src->generation ||
		    m[i].flush != src->flush)
			plan->stale_mask |= 1U << i;
	}
}

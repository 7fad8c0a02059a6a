/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The reconcile rule (DESIGN.md section 3, "Assembly and reconciliation"),
 * shared by the kernel target and crucible-agent.
 */
#ifndef CRUCIBLE_RECONCILE_H
#define CRUCIBLE_RECONCILE_H

#include "format.h"

struct crucible_region_plan {
	int source;		/* leg to copy from, -1 if no leg can be */
	u8 stale_mask;		/* legs that must be repaired from source */
	bool rehash;		/* records may lag data: rehash from data */
};

/*
 * Pick the source among the legs in @alive_mask: highest generation, then
 * highest flush number, then dirty set; ties go to the lowest leg index.
 * Legs whose entry failed its check only qualify if no leg's entry passed.
 */
int crucible_find_source(const struct crucible_region_meta m[CRUCIBLE_NR_LEGS],
			 u8 alive_mask);

/*
 * Decide what a region needs: every alive leg whose entry differs from the
 * source's is stale; if any entry is dirty (or failed its check) the region
 * is rehashed from the source and every other alive leg is stale.
 */
void crucible_plan_region(const struct crucible_region_meta m[CRUCIBLE_NR_LEGS],
			  u8 alive_mask, struct crucible_region_plan *plan);

/*
 * Write-unwritten: may parent data be copied into a block whose record is
 * @rec?  Only if the block was never written.
 */
static inline bool crucible_may_write_unwritten(const struct crucible_rec *rec)
{
	return rec->hash == CRUCIBLE_HASH_UNWRITTEN;
}

#endif /* CRUCIBLE_RECONCILE_H */

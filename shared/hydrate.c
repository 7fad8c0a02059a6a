// SPDX-License-Identifier: GPL-2.0
/*
 * Parent hydration rules, shared by the kernel target and userland.
 */
#include "../include/crucible/hydrate.h"

enum crucible_hydrate_action
crucible_hydrate_decide(bool rec_ok, const struct crucible_rec *rec,
			bool parent_zero)
{
	if (!rec_ok || rec->hash != CRUCIBLE_HASH_UNWRITTEN)
		return CRUCIBLE_HYDRATE_SKIP;
	return parent_zero ? CRUCIBLE_HYDRATE_MARK_ZERO : CRUCIBLE_HYDRATE_COPY;
}

u64 crucible_parent_blocks(u64 parent_sectors)
{
	return (parent_sectors + CRUCIBLE_SECTORS_PER_BLOCK - 1) /
	       CRUCIBLE_SECTORS_PER_BLOCK;
}

void crucible_hydration_init(struct crucible_hydration *h, u64 total,
			     const u64 *stored, unsigned int n)
{
	unsigned int i;
	u64 best = 0;

	for (i = 0; i < n; i++)
		if (stored[i] > best)
			best = stored[i];
	if (best > total)
		best = total;
	h->total = total;
	h->cursor = best;
	h->durable = best;
}

bool crucible_hydration_done(const struct crucible_hydration *h)
{
	return h->cursor >= h->total;
}

bool crucible_hydration_next(const struct crucible_hydration *h,
			     u32 region_blocks, u32 max_blocks,
			     u64 *first, u32 *nr)
{
	u64 end;

	if (crucible_hydration_done(h) || !max_blocks || !region_blocks)
		return false;
	end = (h->cursor | ((u64)region_blocks - 1)) + 1;	/* region end */
	if (end > h->total)
		end = h->total;
	if (end - h->cursor > max_blocks)
		end = h->cursor + max_blocks;
	*first = h->cursor;
	*nr = (u32)(end - h->cursor);
	return true;
}

bool crucible_hydration_advance(struct crucible_hydration *h, u64 first,
				u32 nr)
{
	if (first != h->cursor || !nr)
		return false;
	h->cursor = first + nr > h->total ? h->total : first + nr;
	return true;
}

u64 crucible_hydration_commit_begin(const struct crucible_hydration *h)
{
	return h->cursor;
}

void crucible_hydration_commit_end(struct crucible_hydration *h, u64 snapshot)
{
	if (snapshot > h->durable)
		h->durable = snapshot;
}

enum crucible_parent_verdict
crucible_parent_check(bool blank, u64 recorded_sectors, u64 hydrated_blocks,
		      bool given, u64 given_sectors)
{
	if (blank)
		return CRUCIBLE_PARENT_OK;
	if (given) {
		if (!recorded_sectors)
			return CRUCIBLE_PARENT_NOT_RECORDED;
		if (recorded_sectors != given_sectors)
			return CRUCIBLE_PARENT_SIZE_DIFFERS;
		return CRUCIBLE_PARENT_OK;
	}
	if (recorded_sectors &&
	    hydrated_blocks < crucible_parent_blocks(recorded_sectors))
		return CRUCIBLE_PARENT_STILL_NEEDED;
	return CRUCIBLE_PARENT_OK;
}

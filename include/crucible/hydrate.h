/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Parent hydration: the write-unwritten decision, the hydration cursor and
 * the rules for giving or dropping a parent.  Shared by the kernel target
 * and userland (DESIGN.md section 3, "Parent (read-only origin) and
 * hydration"; Documentation/admin-guide/crucible.rst).
 */
#ifndef CRUCIBLE_HYDRATE_H
#define CRUCIBLE_HYDRATE_H

#include "format.h"

/* What hydration does with one block. */
enum crucible_hydrate_action {
	CRUCIBLE_HYDRATE_SKIP,		/* owned already: leave it alone */
	CRUCIBLE_HYDRATE_COPY,		/* copy the parent's data, record its hash */
	CRUCIBLE_HYDRATE_MARK_ZERO,	/* parent block is zeros: record ZEROED only */
};

/*
 * Write-unwritten: the block's record on the source leg is @rec, which
 * decoded (@rec_ok) or failed its check.  Only a block that was never
 * written, hydrated or discarded takes parent data; a record that fails
 * its check may vouch for a guest write, so it counts as written.
 */
enum crucible_hydrate_action
crucible_hydrate_decide(bool rec_ok, const struct crucible_rec *rec,
			bool parent_zero);

/*
 * The hydration cursor.  Every block below @cursor is owned (written,
 * hydrated or discarded) in memory; every block below @durable is owned
 * with its record on disk, which is what the superblocks may say.
 */
struct crucible_hydration {
	u64 total;		/* parent blocks (parent size rounded up to 4 KiB) */
	u64 cursor;
	u64 durable;
};

u64 crucible_parent_blocks(u64 parent_sectors);

/*
 * Start from the cursors stored on the legs (@n of them; blank legs give
 * 0): the highest one, since a leg that missed commits only has an older
 * one, and never past @total.
 */
void crucible_hydration_init(struct crucible_hydration *h, u64 total,
			     const u64 *stored, unsigned int n);

bool crucible_hydration_done(const struct crucible_hydration *h);

/*
 * The next chunk to hydrate: from the cursor, at most @max_blocks, never
 * across a region boundary (@region_blocks, a power of two) or past the
 * parent's end.  Returns false when there is nothing left.
 */
bool crucible_hydration_next(const struct crucible_hydration *h,
			     u32 region_blocks, u32 max_blocks,
			     u64 *first, u32 *nr);

/*
 * The chunk [@first, @first + @nr) is owned in memory now.  Only the chunk
 * at the cursor moves it (a stale chunk changes nothing); returns whether
 * it moved.
 */
bool crucible_hydration_advance(struct crucible_hydration *h, u64 first,
				u32 nr);

/*
 * A commit takes a snapshot of the cursor before it writes the records,
 * and once they are on disk makes the snapshot durable.  The durable
 * cursor never goes back.
 */
u64 crucible_hydration_commit_begin(const struct crucible_hydration *h);
void crucible_hydration_commit_end(struct crucible_hydration *h, u64 snapshot);

/* Giving or dropping a parent, checked when a table is loaded. */
enum crucible_parent_verdict {
	CRUCIBLE_PARENT_OK = 0,
	CRUCIBLE_PARENT_NOT_RECORDED,	/* the volume was made without one */
	CRUCIBLE_PARENT_SIZE_DIFFERS,	/* not the size the volume was made on */
	CRUCIBLE_PARENT_STILL_NEEDED,	/* '-' before hydration completed */
};

/*
 * @blank: the legs are new (the parent, if any, is recorded now).
 * @recorded_sectors / @hydrated_blocks: what the superblocks say.
 * @given / @given_sectors: the parent in the table, and its size.
 */
enum crucible_parent_verdict
crucible_parent_check(bool blank, u64 recorded_sectors, u64 hydrated_blocks,
		      bool given, u64 given_sectors);

#endif /* CRUCIBLE_HYDRATE_H */

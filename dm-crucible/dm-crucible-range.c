// SPDX-License-Identifier: GPL-2.0
/*
 * dm-crucible range locks: a read and a write of the same block, or two
 * writes of it, are never in flight at once.
 *
 * Without them a read can find a leg's data already replaced by a write
 * whose record is not, and take the race for corruption (count a mismatch,
 * send a good leg to repair); and two writes of one block can reach the
 * legs in different orders, leaving the legs different from each other and
 * from the record.  Reads share a range with reads.
 *
 * A bio never crosses a region (dm_set_target_max_io_len), so ranges are
 * kept per region, in one of CRUCIBLE_RANGE_BUCKETS lists hashed by region
 * number, each under its own spinlock: no lock is shared by the whole
 * volume.  Waiters queue in order (as in dm-integrity): a range that
 * conflicts with one already waiting waits behind it, so a stream of reads
 * cannot starve a write.
 */
#include <linux/sched.h>

#include "dm-crucible.h"

static struct crucible_range_bucket *bucket_of(struct crucible *c,
					       const struct crucible_range *r)
{
	u64 region = crucible_block_to_region(c, r->first);

	return &c->range_buckets[region % CRUCIBLE_RANGE_BUCKETS];
}

static bool ranges_conflict(const struct crucible_range *a,
			    const struct crucible_range *b)
{
	return (a->write || b->write) && a->first < b->first + b->nr &&
	       b->first < a->first + a->nr;
}

/* Does @r conflict with a range held, or (up to @stop) one waiting? */
static bool __range_blocked(struct crucible_range_bucket *b,
			    const struct crucible_range *r,
			    const struct crucible_range *stop)
{
	struct crucible_range *o;

	list_for_each_entry(o, &b->held, node)
		if (ranges_conflict(o, r))
			return true;
	list_for_each_entry(o, &b->waiting, node) {
		if (o == stop)
			break;
		if (ranges_conflict(o, r))
			return true;
	}
	return false;
}

void crucible_range_init(struct crucible_range *r, u64 first, unsigned int nr,
			 bool write)
{
	r->first = first;
	r->nr = nr;
	r->write = write;
	r->waiting = false;
	r->task = NULL;
}

/* Take @r if nothing stands in its way; any context. */
bool crucible_range_trylock(struct crucible *c, struct crucible_range *r)
{
	struct crucible_range_bucket *b = bucket_of(c, r);
	unsigned long flags;
	bool ok;

	spin_lock_irqsave(&b->lock, flags);
	ok = !__range_blocked(b, r, NULL);
	if (ok)
		list_add_tail(&r->node, &b->held);
	spin_unlock_irqrestore(&b->lock, flags);
	return ok;
}

/* Take @r, waiting in line for it; process context, never in map. */
void crucible_range_lock(struct crucible *c, struct crucible_range *r)
{
	struct crucible_range_bucket *b = bucket_of(c, r);

	spin_lock_irq(&b->lock);
	if (!__range_blocked(b, r, NULL)) {
		list_add_tail(&r->node, &b->held);
		spin_unlock_irq(&b->lock);
		return;
	}
	r->task = current;
	r->waiting = true;
	list_add_tail(&r->node, &b->waiting);
	while (r->waiting) {
		set_current_state(TASK_UNINTERRUPTIBLE);
		spin_unlock_irq(&b->lock);
		io_schedule();
		spin_lock_irq(&b->lock);
	}
	__set_current_state(TASK_RUNNING);
	spin_unlock_irq(&b->lock);
}

/* Give @r up and let the waiters it held back go, in order; any context. */
void crucible_range_unlock(struct crucible *c, struct crucible_range *r)
{
	struct crucible_range_bucket *b = bucket_of(c, r);
	struct crucible_range *w, *tmp;
	unsigned long flags;

	spin_lock_irqsave(&b->lock, flags);
	list_del(&r->node);
	list_for_each_entry_safe(w, tmp, &b->waiting, node) {
		if (__range_blocked(b, w, w))
			continue;
		list_move_tail(&w->node, &b->held);
		w->waiting = false;
		wake_up_process(w->task);
	}
	spin_unlock_irqrestore(&b->lock, flags);
}

void crucible_range_buckets_init(struct crucible *c)
{
	unsigned int i;

	for (i = 0; i < CRUCIBLE_RANGE_BUCKETS; i++) {
		spin_lock_init(&c->range_buckets[i].lock);
		INIT_LIST_HEAD(&c->range_buckets[i].held);
		INIT_LIST_HEAD(&c->range_buckets[i].waiting);
	}
}

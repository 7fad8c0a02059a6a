// SPDX-License-Identifier: GPL-2.0
/*
 * dm-crucible repair: bring stale copies of a region back in line with its
 * source, block by block, copying only the blocks that differ.
 *
 * A region is repaired under its lock (RS_LOCKED: new writes wait, writes
 * in flight drain first) and marked dirty on every leg before any leg is
 * touched, so a crash in the middle leaves it dirty everywhere and the
 * next assembly rehashes and finishes it: repair resumes, it never starts
 * a region over blindly, and it never leaves a copy that claims to be in
 * sync when it is not.
 */
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/delay.h>

#include "dm-crucible.h"

static bool block_is_zero(const void *p)
{
	return !memchr_inv(p, 0, CRUCIBLE_BLOCK_SIZE);
}

/* Block @i of the chunk of @leg's data read into its repair buffer. */
static void *leg_block(struct crucible *c, unsigned int leg, unsigned int i)
{
	return c->repair_buf[leg] + ((size_t)i << CRUCIBLE_BLOCK_SHIFT);
}

static int read_chunk(struct crucible *c, unsigned int leg, u64 b0,
		      unsigned int n)
{
	return crucible_sync_io(c, leg, REQ_OP_READ, 0, c->geo.data_start + b0,
				n, c->repair_buf[leg]);
}

/*
 * Read the source's records of a chunk.  Returns the number of written
 * blocks, or -EILSEQ if a record fails its check.
 */
static int source_records(struct crucible *c, unsigned int src, u64 b0,
			  unsigned int n, u64 *hash, u32 *flush)
{
	struct crucible_rec rec;
	unsigned int i;
	int r, written = 0;

	for (i = 0; i < n; i++) {
		r = crucible_md_get_record(c, src, b0 + i, &rec);
		if (r)
			return r;
		hash[i] = rec.hash;
		flush[i] = rec.flush;
		if (crucible_hash_has_data(rec.hash))
			written++;
	}
	return written;
}

/*
 * The hash a block of a region found dirty at assembly gets: its records
 * may lag the data, so the source's data decides (an all-zero block with
 * no record stays unwritten).  One exception: when the source's copy fails
 * a record of its own and another leg's copy matches that record, the
 * source's copy is the damaged one, and the other copy replaces it in the
 * source buffer (*src_bad tells the caller to write it back).
 *
 * A block marked zeroed stays so: its data area means nothing.  On a
 * volume with a parent, a record that no copy matches over an all-zero
 * data area is the record of a first write whose data never reached the
 * disk (records can be written back before the data is flushed): the
 * block was unwritten before it, and reads from the parent again.
 */
static u64 rehash_block(struct crucible *c, unsigned int src, u8 others,
			unsigned int i, u64 block, u64 rec_hash, bool *src_bad)
{
	void *data = leg_block(c, src, i);
	unsigned int t;
	u64 h;

	*src_bad = false;
	if (rec_hash == CRUCIBLE_HASH_ZEROED)
		return rec_hash;
	if (!rec_hash && block_is_zero(data))
		return CRUCIBLE_HASH_UNWRITTEN;
	h = crucible_block_hash(data);
	if (!rec_hash || h == rec_hash)
		return h;
	for (t = 0; t < CRUCIBLE_NR_LEGS; t++) {
		if (!(others & BIT(t)) ||
		    crucible_block_hash(leg_block(c, t, i)) != rec_hash)
			continue;
		memcpy(data, leg_block(c, t, i), CRUCIBLE_BLOCK_SIZE);
		*src_bad = true;
		return rec_hash;
	}
	if (c->parent_recorded && block_is_zero(data) &&
	    block < crucible_parent_blocks(c->parent_recorded))
		return CRUCIBLE_HASH_UNWRITTEN;
	return h;
}

/*
 * Write to @leg the runs of blocks set in @blocks, volume blocks @b0 on,
 * from @src (block i of the chunk at @src + i * 4 KiB).
 */
static int crucible_copy_runs(struct crucible *c, unsigned int leg, void *src,
			      u64 b0, unsigned int n, const unsigned long *blocks,
			      u64 *copied)
{
	unsigned int start, end;
	int r;

	for (start = find_first_bit(blocks, n); start < n;
	     start = find_next_bit(blocks, n, end)) {
		end = find_next_zero_bit(blocks, n, start);
		r = crucible_sync_io(c, leg, REQ_OP_WRITE, 0,
				     c->geo.data_start + b0 + start, end - start,
				     src + ((size_t)start << CRUCIBLE_BLOCK_SHIFT));
		if (r)
			return r;
		*copied += end - start;
	}
	return 0;
}

/*
 * Bring one leg's copy of a chunk in line with the source's.  With
 * @have_data the leg's data is in its buffer and decides what differs;
 * otherwise its records do.
 */
static int repair_chunk_leg(struct crucible *c, unsigned int leg,
			    unsigned int src, u64 b0, unsigned int n,
			    bool have_data, u64 *copied)
{
	DECLARE_BITMAP(differs, CRUCIBLE_REPAIR_CHUNK_BLOCKS);
	const u64 *hash = c->repair_hash;
	struct crucible_rec rec;
	unsigned int i;
	int r;

	bitmap_zero(differs, CRUCIBLE_REPAIR_CHUNK_BLOCKS);
	for (i = 0; i < n; i++) {
		if (hash[i] == CRUCIBLE_HASH_ZEROED)
			continue;	/* no data to copy, the record says it */
		if (hash[i] == CRUCIBLE_HASH_UNWRITTEN) {
			/*
			 * Reads of it return zeros anyway; still, leave no
			 * leftover of a lost write behind on one leg only.
			 */
			if (have_data && block_is_zero(leg_block(c, src, i)) &&
			    !block_is_zero(leg_block(c, leg, i)))
				__set_bit(i, differs);
			continue;
		}
		if (have_data) {
			if (crucible_block_hash(leg_block(c, leg, i)) != hash[i])
				__set_bit(i, differs);
			continue;
		}
		r = crucible_md_get_record(c, leg, b0 + i, &rec);
		if (r == -EILSEQ || (!r && rec.hash != hash[i]))
			__set_bit(i, differs);
		else if (r)
			return r;
	}
	r = crucible_copy_runs(c, leg, c->repair_buf[src], b0, n, differs,
			       copied);
	if (r)
		return r;
	/* Records follow the source's, block for block. */
	for (i = 0; i < n; i++) {
		r = crucible_md_set_records(c, leg, b0 + i, 1, &hash[i],
					    c->repair_flush[i]);
		if (r)
			return r;
	}
	return 0;
}

/*
 * Repair one chunk of a region from @src to the legs in *@targets (a leg
 * that fails is failed and dropped from the mask).  Returns -EILSEQ when
 * the source's copy of a block fails its record (another leg must be the
 * source), another error when the source fails.
 */
static int repair_chunk(struct crucible *c, unsigned int src, u8 *targets,
			u64 b0, unsigned int n, bool rehash, bool verify,
			u64 *copied)
{
	DECLARE_BITMAP(src_fix, CRUCIBLE_REPAIR_CHUNK_BLOCKS);
	u64 *hash = c->repair_hash;
	u32 *flush = c->repair_flush;
	bool have_data = rehash || verify, bad;
	unsigned int i, t;
	u64 h;
	int r;

	r = source_records(c, src, b0, n, hash, flush);
	if (r == -EILSEQ && rehash) {
		/* Rehashing rewrites the records from the data anyway. */
		memset(hash, 0, n * sizeof(*hash));
		memset(flush, 0, n * sizeof(*flush));
		r = 0;
	}
	if (r < 0)
		return r;
	/* A chunk never written needs no data read, only records. */
	if (!r && !rehash)
		have_data = false;
	if (r || rehash) {
		r = read_chunk(c, src, b0, n);
		if (r)
			return r;
	}
	for (t = 0; t < CRUCIBLE_NR_LEGS && have_data; t++) {
		if ((*targets & BIT(t)) && read_chunk(c, t, b0, n)) {
			crucible_leg_failed(c, t, -EIO);
			*targets &= ~BIT(t);
		}
	}

	bitmap_zero(src_fix, CRUCIBLE_REPAIR_CHUNK_BLOCKS);
	for (i = 0; i < n; i++) {
		if (!rehash) {
			/* Never copy a bad source block over a copy. */
			if (crucible_hash_has_data(hash[i]) &&
			    crucible_block_hash(leg_block(c, src, i)) != hash[i]) {
				atomic64_inc(&c->stats.mismatches);
				crucible_nl_mismatch(c, src, b0 + i);
				DMERR_LIMIT("%s: repair: leg %u block %llu fails its record",
					    dm_table_device_name(c->ti->table),
					    src, (unsigned long long)(b0 + i));
				return -EILSEQ;
			}
			continue;
		}
		h = rehash_block(c, src, *targets, i, b0 + i, hash[i], &bad);
		if (bad)
			__set_bit(i, src_fix);
		if (h != hash[i]) {
			hash[i] = h;
			r = crucible_md_set_records(c, src, b0 + i, 1, &hash[i],
						    flush[i]);
			if (r)
				return r;
		}
	}
	if (!bitmap_empty(src_fix, n)) {
		r = crucible_copy_runs(c, src, c->repair_buf[src], b0, n,
				       src_fix, copied);
		if (r)
			return r;
	}

	for (t = 0; t < CRUCIBLE_NR_LEGS; t++) {
		if (!(*targets & BIT(t)))
			continue;
		if (repair_chunk_leg(c, t, src, b0, n, have_data, copied)) {
			crucible_leg_failed(c, t, -EIO);
			*targets &= ~BIT(t);
		}
	}
	return 0;
}

static int pick_source(struct crucible *c, u32 s, u8 alive)
{
	u8 ok = alive & ~(s & RS_STALE_MASK);
	int i;

	for (i = 0; i < CRUCIBLE_NR_LEGS; i++)
		if (ok & BIT(i))
			return i;
	return -1;
}

/*
 * Take @region for repair, hydration or a discard: new writes wait for the
 * worker, writes in flight drain.  *@src is the leg to read from (alive,
 * not stale there).  Returns -EAGAIN when the region must be rehashed
 * first (repair it), -ENODEV when no leg can be the source.
 */
int crucible_lock_region(struct crucible *c, u64 region, int *src)
{
	u32 s;

	spin_lock_irq(&c->lock);
	s = c->rstate[region];
	*src = pick_source(c, s, crucible_alive_mask(c));
	if (*src < 0 || (s & RS_REHASH)) {
		spin_unlock_irq(&c->lock);
		return *src < 0 ? -ENODEV : -EAGAIN;
	}
	c->rstate[region] |= RS_LOCKED;
	spin_unlock_irq(&c->lock);
	wait_event(c->inflight_wait,
		   !RS_INFLIGHT(READ_ONCE(c->rstate[region])));
	return 0;
}

/*
 * Repair-like work wrote @region on the legs in @ok: the others missed it
 * and are stale there; the next commit stamps it.
 */
void crucible_region_written(struct crucible *c, u64 region, u8 ok)
{
	u8 all = BIT(CRUCIBLE_NR_LEGS) - 1;

	spin_lock_irq(&c->lock);
	if (ok != all)
		__crucible_set_stale(c, region, all & ~ok);
	c->rstate[region] |= RS_WRITTEN;
	c->need_commit = true;
	spin_unlock_irq(&c->lock);
}

/* Let the writes that waited for a locked region go. */
void crucible_unlock_region(struct crucible *c, u64 region)
{
	spin_lock_irq(&c->lock);
	c->rstate[region] &= ~RS_LOCKED;
	spin_unlock_irq(&c->lock);
	crucible_wake_worker(c);
}

/*
 * Repair one region: rehash it if its records may lag the data, then copy
 * to each alive stale leg the blocks that differ from the source.  Worker
 * context (the ordered workqueue), may sleep.  Returns -ENODEV when no leg
 * can serve as the source.
 */
int crucible_repair_region(struct crucible *c, u64 region)
{
	struct crucible_region_meta m;
	u64 b0, end, copied = 0;
	u8 alive, targets, done;
	bool rehash, verify;
	int src, i, r = 0;
	u32 s;

	spin_lock_irq(&c->lock);
	s = c->rstate[region];
	alive = crucible_alive_mask(c);
	src = pick_source(c, s, alive);
	targets = s & RS_STALE_MASK & alive;
	rehash = s & RS_REHASH;
	verify = s & RS_VERIFY;
	if (src < 0 || (!targets && !rehash)) {
		spin_unlock_irq(&c->lock);
		return src < 0 ? -ENODEV : 0;
	}
	c->rstate[region] |= RS_LOCKED;
	spin_unlock_irq(&c->lock);

	wait_event(c->inflight_wait,
		   !RS_INFLIGHT(READ_ONCE(c->rstate[region])));

	r = crucible_md_mark_dirty(c, &region, 1);
	if (r)
		goto unlock;

	done = targets;
	b0 = region << c->geo.region_shift;
	end = min_t(u64, b0 + c->geo.region_blocks, c->geo.volume_blocks);
	for (; b0 < end; b0 += CRUCIBLE_REPAIR_CHUNK_BLOCKS) {
		unsigned int n = min_t(u64, CRUCIBLE_REPAIR_CHUNK_BLOCKS, end - b0);

		r = repair_chunk(c, src, &done, b0, n, rehash, verify, &copied);
		if (r == -EILSEQ) {
			/* The source is bad here too: let another leg be it. */
			spin_lock_irq(&c->lock);
			__crucible_set_stale(c, region, BIT(src) | RS_VERIFY);
			spin_unlock_irq(&c->lock);
			goto unlock;
		}
		if (r) {
			crucible_leg_failed(c, src, r);
			goto unlock;
		}
		cond_resched();
	}

	/* The repaired legs now carry the source's stamp (still dirty). */
	crucible_md_get_region(c, src, region, &m);
	m.dirty = true;
	m.valid = true;
	for (i = 0; i < CRUCIBLE_NR_LEGS; i++)
		if (done & BIT(i))
			crucible_md_set_region(c, i, region, &m);

	spin_lock_irq(&c->lock);
	__crucible_clear_stale(c, region, done | RS_REHASH |
			       ((c->rstate[region] & RS_STALE_MASK & ~done) ? 0 : RS_VERIFY));
	/* The next commit stamps every leg alike, the one after cleans it. */
	c->rstate[region] |= RS_WRITTEN;
	c->need_commit = true;
	spin_unlock_irq(&c->lock);
unlock:
	atomic64_add(copied, &c->stats.repaired);
	c->repair_bytes += copied << CRUCIBLE_BLOCK_SHIFT;
	crucible_unlock_region(c, region);
	return r;
}

/*
 * Once nothing is left to repair for an alive leg, it is whole again: drop
 * its "failed" and "replacing" marks (in memory; the next commit writes them).
 * Repair need not have copied anything: a leg restored after an outage in
 * which nothing was written is whole at once, whatever the repair mode.
 * Return whether a mark was dropped.
 */
bool crucible_mark_whole_legs(struct crucible *c)
{
	bool changed = false;
	u32 stale = 0;
	u64 r;
	int i;

	spin_lock_irq(&c->lock);
	if (c->unsynced)
		for (r = 0; r < c->geo.nr_regions; r++)
			stale |= c->rstate[r];
	for (i = 0; i < CRUCIBLE_NR_LEGS; i++) {
		struct crucible_leg *leg = &c->legs[i];

		if (leg->state != CRUCIBLE_LEG_ALIVE || (stale & (1U << i)))
			continue;
		if (leg->fresh || (c->fault_persisted & (1U << i))) {
			leg->fresh = false;
			c->fault_persisted &= ~(1U << i);
			changed = true;
		}
	}
	spin_unlock_irq(&c->lock);
	return changed;
}

static void finish_sync(struct crucible *c)
{
	if (crucible_mark_whole_legs(c)) {
		/* Whatever the repairs wrote is durable before we say so. */
		crucible_md_commit(c);
		crucible_raise_event(c);
	}
}

void crucible_repair_work(struct work_struct *ws)
{
	struct crucible *c = container_of(to_delayed_work(ws), struct crucible,
					  repair_work);
	u64 n, region = 0;
	unsigned long delay = 0;
	bool found = false;
	u8 alive;
	int r;

	spin_lock_irq(&c->lock);
	if (c->suspended || c->mode != CRUCIBLE_MODE_RW || !c->assembled) {
		spin_unlock_irq(&c->lock);
		return;
	}
	if (!c->repair_running) {
		/* Repair is off, but a leg with nothing stale is whole. */
		spin_unlock_irq(&c->lock);
		finish_sync(c);
		return;
	}
	alive = crucible_alive_mask(c);
	if (c->unsynced) {
		for (n = 0; n < c->geo.nr_regions; n++) {
			region = (c->repair_cursor + n) % c->geo.nr_regions;
			if (crucible_region_repairable(c->rstate[region], alive)) {
				found = true;
				break;
			}
		}
	}
	spin_unlock_irq(&c->lock);

	if (!found) {
		finish_sync(c);
		if (c->repair_active) {
			/* Repair done (or stuck waiting for a leg): say so. */
			c->repair_active = false;
			crucible_raise_event(c);
		}
		return;
	}
	c->repair_active = true;
	c->repair_bytes = 0;
	r = crucible_repair_region(c, region);
	/* On -EILSEQ the region is retried with another source. */
	if (r != -EILSEQ)
		c->repair_cursor = region + 1;
	/* Progress for the agent, at most once a second. */
	if (time_after_eq(jiffies, c->repair_event + HZ)) {
		c->repair_event = jiffies;
		crucible_raise_event(c);
	}
	if (c->repair_throttle && c->repair_bytes)
		delay = msecs_to_jiffies(div_u64(c->repair_bytes * 1000,
						 (u64)c->repair_throttle << 20));
	queue_delayed_work(c->wq, &c->repair_work, delay);
}

/* Run repair now, or with repair off, only note legs that became whole. */
void crucible_kick_repair(struct crucible *c)
{
	if (!c->suspended)
		mod_delayed_work(c->wq, &c->repair_work, 0);
}

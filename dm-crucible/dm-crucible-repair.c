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
 * What repair works out about one chunk of a region before it writes
 * anything.  Bit i of each map is block b0 + i.
 */
struct repair_chunk {
	u64 b0;
	unsigned int n;
	unsigned int src;
	u8 peers;		/* alive legs in sync in the region, not src */
	u8 read;		/* legs whose data of the chunk is in repair_buf */
	DECLARE_BITMAP(src_rec, CRUCIBLE_REPAIR_CHUNK_BLOCKS);	/* rewrite src's record */
	DECLARE_BITMAP(no_rec, CRUCIBLE_REPAIR_CHUNK_BLOCKS);	/* no leg has a record */
	DECLARE_BITMAP(src_fix, CRUCIBLE_REPAIR_CHUNK_BLOCKS);	/* rewrite src's data */
	DECLARE_BITMAP(bad, CRUCIBLE_REPAIR_CHUNK_BLOCKS);	/* no copy matches */
};

/*
 * The records of a chunk: the source's, or where the source's record of a
 * block is lost or fails its check, the first valid one of a leg in sync
 * with it (the source's is then rewritten).  A block no such leg has a
 * valid record of is in no_rec.  Returns the number of blocks with data,
 * or the source's read error.
 */
static int chunk_records(struct crucible *c, struct repair_chunk *ch,
			 u64 *hash, u32 *flush)
{
	struct crucible_rec rec;
	unsigned int i, t;
	int r, written = 0;

	for (i = 0; i < ch->n; i++) {
		u64 b = ch->b0 + i;

		r = crucible_md_get_record(c, ch->src, b, &rec);
		if (r && r != -EILSEQ)
			return r;
		if (r) {
			__set_bit(i, ch->src_rec);
			for (t = 0; t < CRUCIBLE_NR_LEGS && r; t++)
				if (ch->peers & BIT(t))
					r = crucible_md_get_record(c, t, b, &rec);
			if (r) {
				__set_bit(i, ch->no_rec);
				rec.hash = CRUCIBLE_HASH_UNWRITTEN;
				rec.flush = 0;
			}
		}
		hash[i] = rec.hash;
		flush[i] = rec.flush;
		if (crucible_hash_has_data(rec.hash))
			written++;
	}
	return written;
}

/*
 * Block @i of the source does not match its record @h: find a leg whose
 * copy does, among the legs read already and then the source's peers,
 * and put that copy in the source's buffer.  Returns false if no copy
 * matches.
 */
static bool find_good_copy(struct crucible *c, struct repair_chunk *ch,
			   unsigned int i, u64 h, void *buf)
{
	void *dst = leg_block(c, ch->src, i);
	unsigned int t;

	for (t = 0; t < CRUCIBLE_NR_LEGS; t++) {
		if (t == ch->src || !(ch->read & BIT(t)) ||
		    crucible_block_hash(leg_block(c, t, i)) != h)
			continue;
		memcpy(dst, leg_block(c, t, i), CRUCIBLE_BLOCK_SIZE);
		return true;
	}
	for (t = 0; t < CRUCIBLE_NR_LEGS && buf; t++) {
		if (!(ch->peers & BIT(t)) || (ch->read & BIT(t)))
			continue;
		if (crucible_sync_io(c, t, REQ_OP_READ, 0,
				     c->geo.data_start + ch->b0 + i, 1, buf) ||
		    crucible_block_hash(buf) != h)
			continue;
		memcpy(dst, buf, CRUCIBLE_BLOCK_SIZE);
		return true;
	}
	return false;
}

/*
 * The hash a block gets when its record may lag its data (a region found
 * dirty at assembly) or no leg has a record of it: the source's data
 * decides (an all-zero block with no record stays unwritten).  One
 * exception: when the source's copy fails a record of its own and another
 * copy read matches that record, the source's copy is the damaged one, and
 * the other copy replaces it in the source buffer (src_fix).
 *
 * A block marked zeroed stays so: its data area means nothing.  On a
 * volume with a parent, a record that no copy matches over an all-zero
 * data area is the record of a first write whose data never reached the
 * disk (records can be written back before the data is flushed): the
 * block was unwritten before it, and reads from the parent again.
 */
static u64 rehash_block(struct crucible *c, struct repair_chunk *ch,
			unsigned int i, u64 rec_hash)
{
	void *data = leg_block(c, ch->src, i);
	u64 block = ch->b0 + i;
	u64 h;

	if (rec_hash == CRUCIBLE_HASH_ZEROED)
		return rec_hash;
	if (!rec_hash && block_is_zero(data))
		return CRUCIBLE_HASH_UNWRITTEN;
	h = crucible_block_hash(data);
	if (!rec_hash || h == rec_hash)
		return h;
	if (find_good_copy(c, ch, i, rec_hash, NULL)) {
		__set_bit(i, ch->src_fix);
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
 * otherwise its records do.  Blocks no copy of which matches their record
 * (bad) are not copied: their records say what they should hold, and
 * reads of them fail until they are written again.
 */
static int repair_chunk_leg(struct crucible *c, struct repair_chunk *ch,
			    unsigned int leg, bool have_data, u64 *copied)
{
	DECLARE_BITMAP(differs, CRUCIBLE_REPAIR_CHUNK_BLOCKS);
	const u64 *hash = c->repair_hash;
	unsigned int i, src = ch->src;
	struct crucible_rec rec;
	int r;

	bitmap_zero(differs, CRUCIBLE_REPAIR_CHUNK_BLOCKS);
	for (i = 0; i < ch->n; i++) {
		if (hash[i] == CRUCIBLE_HASH_ZEROED || test_bit(i, ch->bad))
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
		r = crucible_md_get_record(c, leg, ch->b0 + i, &rec);
		if (r == -EILSEQ || (!r && rec.hash != hash[i]))
			__set_bit(i, differs);
		else if (r)
			return r;
	}
	r = crucible_copy_runs(c, leg, c->repair_buf[src], ch->b0, ch->n,
			       differs, copied);
	if (r)
		return r;
	/* Records follow the source's, block for block. */
	for (i = 0; i < ch->n; i++) {
		r = crucible_md_set_records(c, leg, ch->b0 + i, 1, &hash[i],
					    c->repair_flush[i]);
		if (r)
			return r;
	}
	return 0;
}

/*
 * Repair one chunk of a region from @src to the legs in *@targets (a leg
 * that fails is failed and dropped from the mask).  Each block is checked
 * against its record before it is copied: a source copy that fails it is
 * replaced by a good copy from another leg, and a block with no good copy
 * anywhere is reported unrecoverable and not copied; either way the rest
 * of the chunk goes on.  Returns an error only when the source fails.
 */
static int repair_chunk(struct crucible *c, unsigned int src, u8 peers,
			u8 *targets, u64 b0, unsigned int n, bool rehash,
			bool verify, u64 *copied)
{
	struct repair_chunk ch = {
		.b0 = b0, .n = n, .src = src, .peers = peers,
	};
	u64 *hash = c->repair_hash;
	u32 *flush = c->repair_flush;
	bool have_data = rehash || verify;
	void *buf = NULL;
	unsigned int i, t;
	u64 h;
	int r;

	r = chunk_records(c, &ch, hash, flush);
	if (r < 0)
		return r;
	/* A chunk never written needs no data read, only records. */
	if (!r && !rehash && bitmap_empty(ch.no_rec, n))
		have_data = false;
	if (r || rehash || !bitmap_empty(ch.no_rec, n)) {
		r = read_chunk(c, src, b0, n);
		if (r)
			return r;
		ch.read |= BIT(src);
	}
	for (t = 0; t < CRUCIBLE_NR_LEGS && have_data; t++) {
		if (!(*targets & BIT(t)))
			continue;
		if (read_chunk(c, t, b0, n)) {
			crucible_leg_failed(c, t, -EIO);
			*targets &= ~BIT(t);
			continue;
		}
		ch.read |= BIT(t);
	}

	for (i = 0; i < n; i++) {
		if (rehash || test_bit(i, ch.no_rec)) {
			h = rehash_block(c, &ch, i, hash[i]);
			if (h != hash[i])
				__set_bit(i, ch.src_rec);
			hash[i] = h;
			continue;
		}
		/* Never copy a bad source block over a copy. */
		if (!crucible_hash_has_data(hash[i]) ||
		    crucible_block_hash(leg_block(c, src, i)) == hash[i])
			continue;
		atomic64_inc(&c->stats.mismatches);
		crucible_nl_mismatch(c, src, b0 + i);
		if (!buf)
			buf = crucible_block_alloc(c);
		if (find_good_copy(c, &ch, i, hash[i], buf)) {
			__set_bit(i, ch.src_fix);
			continue;
		}
		__set_bit(i, ch.bad);
		crucible_block_unrecoverable(c, b0 + i);
	}
	if (buf)
		crucible_block_free(c, buf);

	if (!bitmap_empty(ch.src_fix, n)) {
		r = crucible_copy_runs(c, src, c->repair_buf[src], b0, n,
				       ch.src_fix, copied);
		if (r)
			return r;
	}
	for (i = 0; i < n; i++) {
		if (!test_bit(i, ch.src_rec))
			continue;
		r = crucible_md_set_records(c, src, b0 + i, 1, &hash[i],
					    flush[i]);
		if (r)
			return r;
	}

	for (t = 0; t < CRUCIBLE_NR_LEGS; t++) {
		if (!(*targets & BIT(t)))
			continue;
		if (repair_chunk_leg(c, &ch, t, have_data, copied)) {
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
	set_bit(CRUCIBLE_F_NEED_COMMIT, &c->flags);
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
	u8 alive, targets, done, peers;
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
	peers = alive & ~(s & RS_STALE_MASK) & ~BIT(src);
	c->rstate[region] |= RS_LOCKED;
	spin_unlock_irq(&c->lock);

	wait_event(c->inflight_wait,
		   !RS_INFLIGHT(READ_ONCE(c->rstate[region])));

	r = crucible_md_enter(c);
	if (r)
		goto unlock;
	r = crucible_md_mark_dirty(c, &region, 1);
	if (r)
		goto end;

	done = targets;
	b0 = region << c->geo.region_shift;
	end = min_t(u64, b0 + c->geo.region_blocks, c->geo.volume_blocks);
	for (; b0 < end; b0 += CRUCIBLE_REPAIR_CHUNK_BLOCKS) {
		unsigned int n = min_t(u64, CRUCIBLE_REPAIR_CHUNK_BLOCKS, end - b0);

		r = repair_chunk(c, src, peers, &done, b0, n, rehash, verify,
				 &copied);
		if (r) {
			crucible_leg_failed(c, src, r);
			goto end;
		}
		cond_resched();
	}

	/* The repaired legs now carry the source's stamp (still dirty). */
	crucible_md_get_region(c, src, region, &m);
	m.dirty = true;
	m.valid = true;
	for (i = 0; i < CRUCIBLE_NR_LEGS; i++)
		if ((done & BIT(i)) && crucible_md_set_region(c, i, region, &m))
			crucible_leg_failed(c, i, -EIO);

	spin_lock_irq(&c->lock);
	__crucible_clear_stale(c, region, done | RS_REHASH |
			       ((c->rstate[region] & RS_STALE_MASK & ~done) ? 0 : RS_VERIFY));
	/* The next commit stamps every leg alike, the one after cleans it. */
	c->rstate[region] |= RS_WRITTEN;
	set_bit(CRUCIBLE_F_NEED_COMMIT, &c->flags);
	spin_unlock_irq(&c->lock);
end:
	crucible_md_end(c);
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

		/* A failure not yet on disk is recorded first. */
		if (leg->state != CRUCIBLE_LEG_ALIVE || (stale & (1U << i)) ||
		    (c->fault_pending & BIT(i)))
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
	crucible_repair_region(c, region);
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

// SPDX-License-Identifier: GPL-2.0
/*
 * dm-crucible parent (read-only origin) support: reads of blocks the volume
 * does not own yet come from the parent, a background task copies the
 * parent into the legs (hydration), and discards mark blocks owned as
 * zeros.
 *
 * Hydration copies chunks in volume order, each under its region's lock,
 * with write-unwritten semantics: a block whose record says it was
 * written, hydrated or discarded is never given parent data (the shared
 * rule in shared/hydrate.c).  Copied data is written FUA before its record,
 * so a record that reaches the disk early never vouches for data that did
 * not.  The cursor moves in memory after each chunk and reaches the
 * superblocks only with the commit that made the chunk's records durable.
 */
#include <linux/slab.h>
#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/highmem.h>

#include "dm-crucible.h"

static const char *dev_name_of(struct crucible *c)
{
	return dm_table_device_name(c->ti->table);
}

/* Does a read of @block, if the volume does not own it, need the parent? */
bool crucible_parent_backed(struct crucible *c, u64 block)
{
	return c->parent && block < c->hydr.total;
}

static int parent_io(struct crucible *c, sector_t sector, sector_t count,
		     void *buf)
{
	int r = crucible_dm_io(c, c->parent->bdev, REQ_OP_READ, sector, count,
			       buf);

	if (r)
		atomic64_inc(&c->stats.parent_errors);
	return r;
}

/*
 * Read parent blocks [@block, @block + @nr) into @buf; what lies past the
 * parent's end reads as zeros.
 */
int crucible_read_parent(struct crucible *c, u64 block, unsigned int nr,
			 void *buf)
{
	sector_t start = block << (CRUCIBLE_BLOCK_SHIFT - 9);
	sector_t len = (sector_t)nr << (CRUCIBLE_BLOCK_SHIFT - 9);
	sector_t have = 0;

	if (start < c->parent_sectors)
		have = min_t(sector_t, len, c->parent_sectors - start);
	if (have < len)
		memset(buf + (have << 9), 0, (len - have) << 9);
	return have ? parent_io(c, start, have, buf) : 0;
}

static void zero_bio_blocks(struct bio *bio, unsigned int i, unsigned int n)
{
	struct bvec_iter iter = bio->bi_iter;
	unsigned int left = n << CRUCIBLE_BLOCK_SHIFT;

	bio_advance_iter(bio, &iter, i << CRUCIBLE_BLOCK_SHIFT);
	while (left) {
		struct bio_vec bv = bio_iter_iovec(bio, iter);
		unsigned int len = min(bv.bv_len, left);

		bv.bv_len = len;
		memzero_bvec(&bv);
		bio_advance_iter(bio, &iter, len);
		left -= len;
	}
}

/* Read whole parent blocks straight into blocks [@i, @i + @n) of @bio. */
static int parent_read_into_bio(struct crucible *c, struct bio *bio,
				u64 first, unsigned int i, unsigned int n)
{
	struct bio *clone;
	int r;

	clone = bio_alloc_clone(c->parent->bdev, bio, GFP_NOIO, &c->bs);
	bio_advance(clone, i << CRUCIBLE_BLOCK_SHIFT);
	clone->bi_iter.bi_size = n << CRUCIBLE_BLOCK_SHIFT;
	clone->bi_iter.bi_sector = (first + i) << (CRUCIBLE_BLOCK_SHIFT - 9);
	clone->bi_opf = REQ_OP_READ;
	r = submit_bio_wait(clone);
	bio_put(clone);
	if (r)
		atomic64_inc(&c->stats.parent_errors);
	return r;
}

/* Copy @len bytes from @buf into @bio from byte @off of it. */
static void fill_bio(struct bio *bio, unsigned int off, const void *buf,
		     unsigned int len)
{
	struct bvec_iter iter = bio->bi_iter;

	bio_advance_iter(bio, &iter, off);
	while (len) {
		struct bio_vec bv = bio_iter_iovec(bio, iter);
		unsigned int n = min(bv.bv_len, len);

		bv.bv_len = n;
		memcpy_to_bvec(&bv, buf);
		buf += n;
		len -= n;
		bio_advance_iter(bio, &iter, n);
	}
}

/*
 * Fill the blocks set in @blocks (of the @nr blocks of @bio, which starts
 * at volume block @first) from the parent: whole parent blocks are read
 * into the bio, a partial last block through a bounce page, blocks past
 * the parent's end are zeroed.
 */
int crucible_read_parent_bio(struct crucible *c, struct bio *bio, u64 first,
			     const unsigned long *blocks, unsigned int nr)
{
	u64 whole = c->parent_sectors >> (CRUCIBLE_BLOCK_SHIFT - 9);
	unsigned int start, end, mid;
	void *buf;
	int r;

	for (start = find_first_bit(blocks, nr); start < nr;
	     start = find_next_bit(blocks, nr, end)) {
		end = find_next_zero_bit(blocks, nr, start);
		mid = end;
		if (first + end > whole)
			mid = first + start >= whole ? start : whole - first;
		if (mid > start) {
			r = parent_read_into_bio(c, bio, first, start,
						 mid - start);
			if (r)
				return r;
		}
		if (mid == end)
			continue;
		/* The partial last block of the parent, then zeros. */
		if (first + mid == whole && first + mid < c->hydr.total) {
			buf = crucible_block_alloc(c);
			r = crucible_read_parent(c, first + mid, 1, buf);
			if (!r)
				fill_bio(bio, mid << CRUCIBLE_BLOCK_SHIFT, buf,
					 CRUCIBLE_BLOCK_SIZE);
			crucible_block_free(c, buf);
			if (r)
				return r;
			mid++;
		}
		if (end > mid)
			zero_bio_blocks(bio, mid, end - mid);
	}
	return 0;
}

/*
 * Hydration
 */

static bool block_is_zero(const void *p)
{
	return !memchr_inv(p, 0, CRUCIBLE_BLOCK_SIZE);
}

/* Record the blocks set in @blocks with their hashes on @leg. */
static int set_runs(struct crucible *c, unsigned int leg, u64 b0,
		    unsigned int n, const unsigned long *blocks,
		    const u64 *hash, u32 flush)
{
	unsigned int start, end;
	int r;

	for (start = find_first_bit(blocks, n); start < n;
	     start = find_next_bit(blocks, n, end)) {
		end = find_next_zero_bit(blocks, n, start);
		r = crucible_md_set_records(c, leg, b0 + start, end - start,
					    hash + start, flush);
		if (r)
			return r;
	}
	return 0;
}

/*
 * Write the runs of blocks set in @blocks from @buf to every leg in @legs
 * at once, FUA.  Returns the legs that failed (and fails them).
 */
static u8 write_runs(struct crucible *c, u8 legs, void *buf, u64 b0,
		     unsigned int n, const unsigned long *blocks)
{
	struct dm_io_region where[CRUCIBLE_NR_LEGS];
	struct dm_io_request req = {
		.bi_opf = REQ_OP_WRITE | REQ_FUA,
		.mem.type = DM_IO_VMA,
		.client = c->io_client,
	};
	unsigned int start, end, nr, i;
	int leg[CRUCIBLE_NR_LEGS], t;
	unsigned long error_bits;
	u8 failed = 0;

	for (start = find_first_bit(blocks, n); start < n;
	     start = find_next_bit(blocks, n, end)) {
		end = find_next_zero_bit(blocks, n, start);
		nr = 0;
		for (t = 0; t < CRUCIBLE_NR_LEGS; t++) {
			if (!(legs & ~failed & BIT(t)))
				continue;
			where[nr].bdev = c->legs[t].dev->bdev;
			where[nr].sector = crucible_leg_data_sector(c, b0 + start);
			where[nr].count = (sector_t)(end - start) <<
					  (CRUCIBLE_BLOCK_SHIFT - 9);
			leg[nr++] = t;
		}
		if (!nr)
			break;
		req.mem.ptr.vma = buf + ((size_t)start << CRUCIBLE_BLOCK_SHIFT);
		error_bits = 0;
		/* -EIO with error_bits names the legs; without, all of them. */
		if (dm_io(&req, nr, where, &error_bits, IOPRIO_DEFAULT) &&
		    !error_bits)
			error_bits = BIT(nr) - 1;
		for (i = 0; i < nr; i++)
			if (error_bits & BIT(i))
				failed |= BIT(leg[i]);
	}
	for (t = 0; t < CRUCIBLE_NR_LEGS; t++)
		if (failed & BIT(t))
			crucible_leg_failed(c, t, -EIO);
	return failed;
}

/*
 * Mark @region dirty before hydration writes to it, and with it the next
 * regions hydration is about to reach: one metadata write for several
 * regions.  A region marked early and cleaned by a commit before hydration
 * gets there is marked again; marking is always safe.
 */
#define HYDRATE_MARK_AHEAD	16

static int mark_ahead(struct crucible *c, u64 region)
{
	u64 regions[HYDRATE_MARK_AHEAD], r;
	u64 last = crucible_block_to_region(c, c->hydr.total - 1);
	unsigned int n = 0;

	if (READ_ONCE(c->rstate[region]) & RS_DIRTY)
		return 0;
	for (r = region; r <= last && n < HYDRATE_MARK_AHEAD; r++)
		if (!(READ_ONCE(c->rstate[r]) & RS_DIRTY))
			regions[n++] = r;
	return crucible_md_mark_dirty(c, regions, n);
}

/*
 * Hydrate blocks [@b0, @b0 + @n) of one region.  Returns 0, -EAGAIN if the
 * region needs repair first, -ENOLINK if the parent failed, another error
 * if no leg could take the chunk.
 */
static int hydrate_chunk(struct crucible *c, u64 b0, unsigned int n)
{
	DECLARE_BITMAP(copy, CRUCIBLE_REPAIR_CHUNK_BLOCKS);
	DECLARE_BITMAP(take, CRUCIBLE_REPAIR_CHUNK_BLOCKS);
	u64 region = crucible_block_to_region(c, b0);
	void *buf = c->repair_buf[0];
	u64 *hash = c->repair_hash;
	enum crucible_hydrate_action act;
	struct crucible_rec rec;
	u8 alive, peers, ok = 0;
	unsigned int i;
	u32 flush;
	int src, r, t;

	r = crucible_lock_region(c, region, &src);
	if (r)
		return r;
	r = crucible_md_enter(c);
	if (r)
		goto unlock_region;
	r = mark_ahead(c, region);
	if (r)
		goto unlock;

	spin_lock_irq(&c->lock);
	peers = crucible_alive_mask(c) & ~(c->rstate[region] & RS_STALE_MASK) &
		~BIT(src);
	spin_unlock_irq(&c->lock);
	bitmap_zero(copy, CRUCIBLE_REPAIR_CHUNK_BLOCKS);
	bitmap_zero(take, CRUCIBLE_REPAIR_CHUNK_BLOCKS);
	for (i = 0; i < n; i++) {
		r = crucible_md_get_record(c, src, b0 + i, &rec);
		if (r && r != -EILSEQ) {
			crucible_leg_failed(c, src, r);
			goto unlock;
		}
		/* The source lost its record: a leg in sync with it decides. */
		for (t = 0; t < CRUCIBLE_NR_LEGS && r; t++)
			if (peers & BIT(t))
				r = crucible_md_get_record(c, t, b0 + i, &rec);
		if (r) {
			/*
			 * No leg has a record: whether the guest wrote the
			 * block is only in the data now.  Rehash the region
			 * first (write-unwritten must never guess).
			 */
			spin_lock_irq(&c->lock);
			__crucible_set_stale(c, region, RS_REHASH | RS_VERIFY);
			spin_unlock_irq(&c->lock);
			r = -EAGAIN;
			goto unlock;
		}
		/* The parent's content does not matter yet: zero or not. */
		if (crucible_hydrate_decide(true, &rec, false) != CRUCIBLE_HYDRATE_SKIP)
			__set_bit(i, take);
	}
	r = 0;
	if (bitmap_empty(take, n))
		goto unlock;

	r = crucible_read_parent(c, b0, n, buf);
	if (r) {
		r = -ENOLINK;
		goto unlock;
	}
	for (i = 0; i < n; i++) {
		void *data = buf + ((size_t)i << CRUCIBLE_BLOCK_SHIFT);

		if (!test_bit(i, take))
			continue;
		rec.hash = CRUCIBLE_HASH_UNWRITTEN;
		act = crucible_hydrate_decide(true, &rec, block_is_zero(data));
		if (act == CRUCIBLE_HYDRATE_COPY) {
			__set_bit(i, copy);
			hash[i] = crucible_block_hash(data);
		} else {
			hash[i] = CRUCIBLE_HASH_ZEROED;
		}
	}

	alive = crucible_alive_legs(c);
	/* FUA: the records may reach the disk before the next flush. */
	alive &= ~write_runs(c, alive, buf, b0, n, copy);
	flush = (u32)(READ_ONCE(c->flush) + 1);
	for (t = 0; t < CRUCIBLE_NR_LEGS; t++) {
		if (!(alive & BIT(t)))
			continue;
		if (set_runs(c, t, b0, n, take, hash, flush)) {
			crucible_leg_failed(c, t, -EIO);
			continue;
		}
		ok |= BIT(t);
	}

	crucible_region_written(c, region, ok);
	if (!ok)
		r = -EIO;
unlock:
	crucible_md_end(c);
unlock_region:
	crucible_unlock_region(c, region);
	return r;
}

static bool hydrate_can_run(struct crucible *c)
{
	return c->parent && c->hydrate_on && c->assembled && !c->suspended &&
	       c->mode == CRUCIBLE_MODE_RW;
}

const char *crucible_hydration_state(struct crucible *c)
{
	if (!c->parent)
		return "-";
	if (crucible_hydration_done(&c->hydr))
		return c->hydrate_reported ? "done" : "running";
	if (!c->hydrate_on)
		return "paused";
	if (c->suspended || c->mode != CRUCIBLE_MODE_RW)
		return "waiting";
	if (c->hydrate_backoff_ms)
		return "backoff";
	return "running";
}

/* Everything copied: make it durable, then say so. */
static void hydrate_finish(struct crucible *c)
{
	if (c->hydrate_reported)
		return;
	if (c->hydr.durable < c->hydr.total && crucible_md_commit(c)) {
		queue_delayed_work(c->wq, &c->hydrate_work, HZ);
		return;
	}
	if (c->hydr.durable < c->hydr.total)
		return;	/* a commit that could not say it: the next one will */
	c->hydrate_reported = true;
	DMINFO("%s: hydration complete (%llu blocks)", dev_name_of(c),
	       (unsigned long long)c->hydr.total);
	crucible_raise_event(c);
}

void crucible_hydrate_work(struct work_struct *ws)
{
	struct crucible *c = container_of(to_delayed_work(ws), struct crucible,
					  hydrate_work);
	unsigned long delay = 0;
	u64 b0, ios;
	u32 n;
	int r;

	if (!hydrate_can_run(c))
		return;
	if (!crucible_hydration_next(&c->hydr, c->geo.region_blocks,
				     CRUCIBLE_REPAIR_CHUNK_BLOCKS, &b0, &n)) {
		hydrate_finish(c);
		return;
	}
	/*
	 * Back off while the volume is busy, by one wait between chunks and
	 * no more: dm-clone hydrates only when idle and stalls under a steady
	 * load; this finishes at a lower rate instead.
	 */
	ios = atomic64_read(&c->stats.reads) + atomic64_read(&c->stats.writes);
	if (ios != c->hydrate_ios && !c->hydrate_waited) {
		c->hydrate_waited = true;
		c->hydrate_ios = ios;
		queue_delayed_work(c->wq, &c->hydrate_work,
				   msecs_to_jiffies(CRUCIBLE_HYDRATE_BUSY_WAIT_MS));
		return;
	}
	c->hydrate_waited = false;

	r = hydrate_chunk(c, b0, n);
	if (r == -EAGAIN) {
		/* Records may lag the data there: rehash before deciding. */
		r = crucible_repair_region(c, crucible_block_to_region(c, b0));
		if (r && r != -EILSEQ)
			delay = HZ;
	} else if (r == -ENOLINK) {
		bool first = !c->hydrate_backoff_ms;

		c->hydrate_backoff_ms = first ? CRUCIBLE_HYDRATE_BACKOFF_MIN_MS :
			min(c->hydrate_backoff_ms * 2, CRUCIBLE_HYDRATE_BACKOFF_MAX_MS);
		DMERR_LIMIT("%s: hydration: parent read of blocks %llu-%llu failed, retry in %u ms",
			    dev_name_of(c), (unsigned long long)b0,
			    (unsigned long long)(b0 + n - 1), c->hydrate_backoff_ms);
		if (first)
			crucible_raise_event(c);
		delay = msecs_to_jiffies(c->hydrate_backoff_ms);
	} else if (r) {
		/* A leg or the source failed: let the failure settle first. */
		delay = HZ;
	} else {
		if (c->hydrate_backoff_ms) {
			c->hydrate_backoff_ms = 0;
			crucible_raise_event(c);
		}
		spin_lock_irq(&c->lock);
		crucible_hydration_advance(&c->hydr, b0, n);
		spin_unlock_irq(&c->lock);
		if (c->hydrate_throttle)
			delay = msecs_to_jiffies(div_u64((u64)n * CRUCIBLE_BLOCK_SIZE * 1000,
							 (u64)c->hydrate_throttle << 20));
	}
	c->hydrate_ios = atomic64_read(&c->stats.reads) +
			 atomic64_read(&c->stats.writes);
	queue_delayed_work(c->wq, &c->hydrate_work, delay);
}

void crucible_kick_hydration(struct crucible *c)
{
	if (hydrate_can_run(c))
		mod_delayed_work(c->wq, &c->hydrate_work, 0);
}

/*
 * Discards (and write-zeroes): the blocks become owned and read as zeros;
 * only records change.
 */

/* Is there nothing in @region a discard could change? */
static bool region_untouched(struct crucible *c, u64 region)
{
	struct crucible_region_meta m;
	u8 alive;
	int i;

	if (crucible_parent_backed(c, region << c->geo.region_shift))
		return false;
	if (READ_ONCE(c->rstate[region]) & (RS_DIRTY | RS_WRITTEN | RS_STALE_MASK | RS_REHASH))
		return false;
	alive = crucible_alive_legs(c);
	for (i = 0; i < CRUCIBLE_NR_LEGS; i++) {
		if (!(alive & BIT(i)))
			continue;
		crucible_md_get_region(c, i, region, &m);
		if (!m.valid || m.dirty || m.generation || m.flush)
			return false;
	}
	return true;
}

static int discard_region(struct crucible *c, u64 region, u64 b, u64 end)
{
	u8 alive, ok = 0;
	u32 flush = (u32)(READ_ONCE(c->flush) + 1);
	u64 *zeroed = c->repair_hash;
	unsigned int n;
	int src, r, t;
	u64 i;

	r = crucible_lock_region(c, region, &src);
	if (r == -EAGAIN) {
		r = crucible_repair_region(c, region);
		if (r && r != -EILSEQ)
			return r;
		r = crucible_lock_region(c, region, &src);
	}
	if (r)
		return r;
	r = crucible_md_enter(c);
	if (r)
		goto unlock_region;
	r = crucible_md_mark_dirty(c, &region, 1);
	if (r)
		goto unlock;
	for (i = 0; i < CRUCIBLE_REPAIR_CHUNK_BLOCKS; i++)
		zeroed[i] = CRUCIBLE_HASH_ZEROED;
	alive = crucible_alive_legs(c);
	for (t = 0; t < CRUCIBLE_NR_LEGS; t++) {
		if (!(alive & BIT(t)))
			continue;
		for (i = b; i < end; i += n) {
			n = min_t(u64, end - i, CRUCIBLE_REPAIR_CHUNK_BLOCKS);
			if (crucible_md_set_records(c, t, i, n, zeroed, flush))
				break;
		}
		if (i < end) {
			crucible_leg_failed(c, t, -EIO);
			continue;
		}
		ok |= BIT(t);
	}
	crucible_region_written(c, region, ok);
	r = ok ? 0 : -EIO;
unlock:
	crucible_md_end(c);
unlock_region:
	crucible_unlock_region(c, region);
	return r;
}

/* Worker context. */
int crucible_discard(struct crucible *c, struct bio *bio)
{
	u64 b = dm_target_offset(c->ti, bio->bi_iter.bi_sector) >>
		(CRUCIBLE_BLOCK_SHIFT - 9);
	u64 end = b + (bio_sectors(bio) >> (CRUCIBLE_BLOCK_SHIFT - 9));
	int r;

	while (b < end) {
		u64 region = crucible_block_to_region(c, b);
		u64 rend = min_t(u64, (region + 1) << c->geo.region_shift, end);

		if (c->mode != CRUCIBLE_MODE_RW)
			return -EIO;
		if (!region_untouched(c, region)) {
			r = discard_region(c, region, b, rend);
			if (r)
				return r;
		}
		b = rend;
		cond_resched();
	}
	return 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * dm-crucible: keeps every block of a volume on three legs, with an xxh64
 * record per block that every read is verified against.
 *
 * This file is the target: table parsing, the bio's life (map, leg
 * clones, completion, read verification), the worker that marks regions
 * dirty and commits, status and messages.  Metadata lives in
 * dm-crucible-metadata.c, repair in dm-crucible-repair.c.
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/highmem.h>
#include <linux/blkdev.h>
#include <linux/xxhash.h>
#include <net/genetlink.h>

#include "dm-crucible.h"
#include "../include/crucible/netlink.h"

#define CRUCIBLE_MIN_IOS	64
#define CRUCIBLE_DIRTY_BATCH	64

/* A leg's clone of a write: which I/O it belongs to and which leg. */
struct crucible_clone {
	struct crucible_io *io;
	unsigned int leg;
	struct bio bio;
};

enum map_result {
	MAP_SUBMITTED,
	MAP_DEFER_DIRTY,	/* region must be marked dirty first */
	MAP_DEFER_REPAIR,	/* region must be repaired first */
	MAP_ERROR,
};

/*
 * Constructor errors name the leg and the value, so they are formatted.
 * device-mapper reads ti->error once, right after the constructor returns,
 * and never frees it: each message is allocated and kept for a minute (an
 * age no caller can reach between our return and that read), then freed
 * when a later message is made, or when the module goes.  No buffer is
 * shared: concurrent table loads never overwrite each other's reason.
 */
struct crucible_err_msg {
	struct list_head node;
	unsigned long made;		/* jiffies */
	char text[];
};

#define CRUCIBLE_ERR_KEEP	(60 * HZ)

static LIST_HEAD(crucible_err_msgs);
static DEFINE_SPINLOCK(crucible_err_lock);

static void free_err_msgs(bool all)
{
	struct crucible_err_msg *m, *tmp;
	LIST_HEAD(old);

	spin_lock(&crucible_err_lock);
	list_for_each_entry_safe(m, tmp, &crucible_err_msgs, node) {
		if (!all && time_before(jiffies, m->made + CRUCIBLE_ERR_KEEP))
			break;	/* oldest first: the rest are younger */
		list_move_tail(&m->node, &old);
	}
	spin_unlock(&crucible_err_lock);
	list_for_each_entry_safe(m, tmp, &old, node)
		kfree(m);
}

void crucible_err(char **error, const char *fmt, ...)
{
	struct crucible_err_msg *m;
	va_list args;
	int len;

	free_err_msgs(false);
	va_start(args, fmt);
	len = vsnprintf(NULL, 0, fmt, args);
	va_end(args);
	m = kmalloc(struct_size(m, text, len + 1), GFP_KERNEL);
	if (!m) {
		*error = "Cannot construct crucible target (no memory for the reason)";
		return;
	}
	va_start(args, fmt);
	vsnprintf(m->text, len + 1, fmt, args);
	va_end(args);
	m->made = jiffies;
	spin_lock(&crucible_err_lock);
	list_add_tail(&m->node, &crucible_err_msgs);
	spin_unlock(&crucible_err_lock);
	*error = m->text;
}

static const char *dev_name_of(struct crucible *c)
{
	return dm_table_device_name(c->ti->table);
}

/*
 * Region state helpers
 */

static bool rs_unsynced(u32 s)
{
	return s & (RS_STALE_MASK | RS_REHASH);
}

void __crucible_set_stale(struct crucible *c, u64 region, u32 bits)
{
	u32 old = c->rstate[region];

	c->rstate[region] |= bits;
	if (!rs_unsynced(old) && rs_unsynced(c->rstate[region]))
		c->unsynced++;
}

void __crucible_clear_stale(struct crucible *c, u64 region, u32 bits)
{
	u32 old = c->rstate[region];

	c->rstate[region] &= ~bits;
	if (rs_unsynced(old) && !rs_unsynced(c->rstate[region]))
		c->unsynced--;
}

/*
 * Events and leg failure
 */

static void do_event(struct work_struct *ws)
{
	struct crucible *c = container_of(ws, struct crucible, event_work);

	dm_table_event(c->ti->table);
	crucible_nl_notify(c);
}

void crucible_raise_event(struct crucible *c)
{
	schedule_work(&c->event_work);
}

void crucible_wake_worker(struct crucible *c)
{
	queue_work(c->wq, &c->worker);
}

/*
 * Take a leg out of service after an I/O error.  Safe from any context;
 * the worker records the failure in the other legs' superblocks.
 */
void crucible_leg_failed(struct crucible *c, unsigned int leg, int err)
{
	unsigned long flags;
	bool changed = false;

	atomic64_inc(&c->legs[leg].errors);
	spin_lock_irqsave(&c->lock, flags);
	if (c->legs[leg].state == CRUCIBLE_LEG_ALIVE) {
		c->legs[leg].state = CRUCIBLE_LEG_FAILED;
		c->legs[leg].out_flush = c->flush;
		c->legs[leg].out_flushed = false;
		c->fault_pending |= BIT(leg);
		changed = true;
		if (!crucible_alive_mask(c))
			c->mode = CRUCIBLE_MODE_FAILED;
	}
	spin_unlock_irqrestore(&c->lock, flags);
	if (changed) {
		DMERR("%s: leg %u failed (error %d)",
		      dm_table_device_name(c->ti->table), leg, err);
		crucible_raise_event(c);
		crucible_wake_worker(c);
	}
}

/*
 * Synchronous I/O on a leg (metadata, repair, read retries)
 */

/* Synchronous I/O of @count sectors at @sector of @bdev, to or from @buf. */
int crucible_dm_io(struct crucible *c, struct block_device *bdev,
		   blk_opf_t opf, sector_t sector, sector_t count, void *buf)
{
	struct dm_io_region where = {
		.bdev = bdev,
		.sector = sector,
		.count = count,
	};
	struct dm_io_request req = {
		.bi_opf = opf,
		.mem.type = is_vmalloc_addr(buf) ? DM_IO_VMA : DM_IO_KMEM,
		.mem.ptr.addr = buf,
		.client = c->io_client,
	};
	unsigned long error_bits = 0;
	int r;

	r = dm_io(&req, 1, &where, &error_bits, IOPRIO_DEFAULT);
	if (!r && error_bits)
		r = -EIO;
	return r;
}

int crucible_sync_io(struct crucible *c, unsigned int leg, enum req_op op,
		     blk_opf_t flags, u64 block, unsigned int nr, void *buf)
{
	return crucible_dm_io(c, c->legs[leg].dev->bdev, op | flags,
			      block << (CRUCIBLE_BLOCK_SHIFT - 9),
			      (sector_t)nr << (CRUCIBLE_BLOCK_SHIFT - 9), buf);
}

/*
 * A 4 KiB buffer in the kernel's direct map, for synchronous I/O of one
 * block (dm-io takes its address); never fails, may sleep.
 */
void *crucible_block_alloc(struct crucible *c)
{
	return mempool_alloc(&c->block_pool, GFP_NOIO);
}

void crucible_block_free(struct crucible *c, void *buf)
{
	mempool_free(buf, &c->block_pool);
}

/*
 * Walking the 4 KiB blocks of a bio
 */

enum block_op { BLOCK_HASH, BLOCK_ZERO, BLOCK_FILL };

/*
 * Hash, zero or fill (from @buf) block @blk of @bio.  A block may span
 * several bio_vecs when the caller's buffer is not page aligned.
 */
static u64 bio_block_op(struct bio *bio, unsigned int blk, enum block_op op,
			const void *buf)
{
	struct bvec_iter iter = bio->bi_iter;
	unsigned int left = CRUCIBLE_BLOCK_SIZE, done = 0;
	struct xxh64_state st;
	u64 h;

	xxh64_reset(&st, 0);
	bio_advance_iter(bio, &iter, blk << CRUCIBLE_BLOCK_SHIFT);
	while (left) {
		struct bio_vec bv = bio_iter_iovec(bio, iter);
		unsigned int len = min(bv.bv_len, left);
		void *p = bvec_kmap_local(&bv);

		if (op == BLOCK_HASH)
			xxh64_update(&st, p, len);
		else if (op == BLOCK_ZERO)
			memset(p, 0, len);
		else
			memcpy(p, buf + done, len);
		kunmap_local(p);
		bio_advance_iter(bio, &iter, len);
		left -= len;
		done += len;
	}
	if (op != BLOCK_HASH)
		return 0;
	h = xxh64_digest(&st);
	return crucible_hash_fixup(h);
}

/*
 * Writes
 */

static void free_bounce(struct crucible *c, struct bio *bounce)
{
	struct bvec_iter_all iter;
	struct bio_vec *bv;

	bio_for_each_segment_all(bv, bounce, iter)
		mempool_free(bv->bv_page, &c->page_pool);
	bio_put(bounce);
}

/*
 * Everything a write needs, all of it or none: the stable copy's bio and
 * pages, and one clone per leg.  A writer that held part of a set while
 * it waited for the rest could deadlock with others doing the same on the
 * shared pools (dm-crypt's reason for its bio_alloc_lock).  So the first
 * try never waits; if it comes up short it gives everything back, and
 * writers then wait for whole sets one at a time, under bounce_lock, which
 * the pools' reserves always satisfy.
 */
static bool alloc_write_set(struct crucible *c, struct crucible_io *io,
			    u8 legs, gfp_t gfp, struct bio **clones)
{
	unsigned int bytes = io->nr_blocks << CRUCIBLE_BLOCK_SHIFT, off, len;
	struct bio *bounce;
	struct page *page;
	int i;

	memset(clones, 0, CRUCIBLE_NR_LEGS * sizeof(*clones));
	bounce = bio_alloc_bioset(NULL, DIV_ROUND_UP(bytes, PAGE_SIZE),
				  REQ_OP_WRITE, gfp, &c->bs);
	if (!bounce)
		return false;
	for (off = 0; off < bytes; off += len) {
		len = min_t(unsigned int, bytes - off, PAGE_SIZE);
		page = mempool_alloc(&c->page_pool, gfp);
		if (!page)
			goto fail;
		__bio_add_page(bounce, page, len, 0);
	}
	for (i = 0; i < CRUCIBLE_NR_LEGS; i++) {
		if (!(legs & BIT(i)))
			continue;
		clones[i] = bio_alloc_clone(c->legs[i].dev->bdev, bounce, gfp,
					    &c->bs);
		if (!clones[i])
			goto fail;
	}
	io->bounce = bounce;
	return true;
fail:
	for (i = 0; i < CRUCIBLE_NR_LEGS; i++)
		if (clones[i])
			bio_put(clones[i]);
	free_bounce(c, bounce);
	return false;
}

/*
 * Copy the caller's data into pages only we can see, and hash those: a
 * caller that changes its buffer during an O_DIRECT write must not make
 * the legs differ from each other or from the records.  Hashed per 4 KiB
 * block, whatever the page size.
 */
static void fill_bounce(struct crucible *c, struct crucible_io *io,
			struct bio *bio)
{
	unsigned int i;

	bio_copy_data(io->bounce, bio);
	for (i = 0; i < io->nr_blocks; i++)
		io->hash[i] = bio_block_op(io->bounce, i, BLOCK_HASH, NULL);
}

static void write_leg_endio(struct bio *clone)
{
	struct crucible_clone *cl = container_of(clone, struct crucible_clone, bio);
	struct crucible_io *io = cl->io;

	struct crucible_leg *l = &io->c->legs[cl->leg];

	if (clone->bi_status)
		set_bit(cl->leg, &io->failed);
	bio_put(clone);
	if (atomic_dec_and_test(&l->writes))
		wake_up(&io->c->inflight_wait);
	if (atomic_dec_and_test(&io->pending))
		queue_work(io->c->io_wq, &io->work);
}

static void write_complete(struct work_struct *ws);
static void issue_read(struct crucible *c, struct bio *bio);

/*
 * Did a write that reached the legs in @ok miss a leg whose failure is not
 * on disk yet?  Lock held.
 */
static bool missed_unrecorded(struct crucible *c, u8 ok)
{
	return (BIT(CRUCIBLE_NR_LEGS) - 1) & ~ok & ~c->fault_persisted;
}

static void issue_write(struct crucible *c, struct bio *bio)
{
	struct crucible_io *io = dm_per_bio_data(bio, sizeof(*io));
	blk_opf_t flags = bio->bi_opf & (REQ_FUA | REQ_SYNC);
	struct bio *clones[CRUCIBLE_NR_LEGS];
	u8 legs = io->legs_written;
	int i, n = 0;

	if (!alloc_write_set(c, io, legs, GFP_NOWAIT | __GFP_NOWARN, clones)) {
		mutex_lock(&c->bounce_lock);
		alloc_write_set(c, io, legs, GFP_NOIO, clones);
		mutex_unlock(&c->bounce_lock);
	}
	fill_bounce(c, io, bio);
	io->failed = 0;
	INIT_WORK(&io->work, write_complete);

	for (i = 0; i < CRUCIBLE_NR_LEGS; i++) {
		struct crucible_clone *cl;
		struct bio *clone = clones[i];

		if (!clone)
			continue;
		cl = container_of(clone, struct crucible_clone, bio);
		cl->io = io;
		cl->leg = i;
		clone->bi_opf = REQ_OP_WRITE | flags;
		clone->bi_iter.bi_sector = crucible_leg_data_sector(c, io->first_block);
		clone->bi_end_io = write_leg_endio;
		clones[n++] = clone;
	}
	atomic_set(&io->pending, n);
	for (i = 0; i < n; i++) {
		struct crucible_clone *cl = container_of(clones[i],
							 struct crucible_clone, bio);

		atomic_inc(&c->legs[cl->leg].writes);
		submit_bio_noacct(clones[i]);
	}
}

/* A bio whose range was taken when it was mapped: wait for it here. */
static void issue_when_locked(struct work_struct *ws)
{
	struct crucible_io *io = container_of(ws, struct crucible_io, work);
	struct bio *bio = dm_bio_from_per_bio_data(io, sizeof(*io));

	crucible_range_lock(io->c, &io->range);
	if (io->range.write)
		issue_write(io->c, bio);
	else
		issue_read(io->c, bio);
}

/*
 * Issue a mapped bio once it holds its blocks' range.  The map function
 * must not sleep (the legs' clones of bios mapped before it would wait
 * behind it on the submitter's bio list), so a bio whose range is held
 * waits on the workqueue.
 */
static void dispatch(struct crucible *c, struct bio *bio, bool write)
{
	struct crucible_io *io = dm_per_bio_data(bio, sizeof(*io));

	crucible_range_init(&io->range, io->first_block, io->nr_blocks, write);
	if (!crucible_range_trylock(c, &io->range)) {
		INIT_WORK(&io->work, issue_when_locked);
		queue_work(c->io_wq, &io->work);
		return;
	}
	if (write)
		issue_write(c, bio);
	else
		issue_read(c, bio);
}

/*
 * Blocks bad on every leg
 */

/*
 * No leg holds a copy of @block that matches its record (or any valid
 * record of it): reads of it fail until it is written again.  Counted,
 * named in an event once; the rest of its region is served as usual.
 */
void crucible_block_unrecoverable(struct crucible *c, u64 block)
{
	int r;

	if (block > ULONG_MAX)
		return;
	r = xa_insert_irq(&c->unrecoverable, block, xa_mk_value(1), GFP_NOIO);
	if (r)
		return;		/* known already (-EBUSY), or no memory */
	atomic64_inc(&c->nr_unrecoverable);
	vol_err_ratelimited(c, "block %llu is bad on every leg: reads of it fail until it is written again",
			    (unsigned long long)block);
	crucible_nl_unrecoverable(c, block);
}

/* A write of [@first, @first + @nr) reached a leg: those blocks are good. */
static void forget_unrecoverable(struct crucible *c, u64 first,
				 unsigned int nr)
{
	unsigned int i;

	if (likely(!atomic64_read(&c->nr_unrecoverable)))
		return;
	for (i = 0; i < nr; i++)
		if (xa_erase_irq(&c->unrecoverable, first + i))
			atomic64_dec(&c->nr_unrecoverable);
}

static void complete_write(struct crucible *c, struct bio *bio)
{
	struct crucible_io *io = dm_per_bio_data(bio, sizeof(*io));

	bio->bi_status = io->status;
	bio_endio(bio);
}

static void write_complete(struct work_struct *ws)
{
	struct crucible_io *io = container_of(ws, struct crucible_io, work);
	struct bio *bio = dm_bio_from_per_bio_data(io, sizeof(*io));
	struct crucible *c = io->c;
	u8 ok = io->legs_written & ~io->failed;
	u32 flush = (u32)(READ_ONCE(c->flush) + 1);
	bool wait_fault = false;
	int i;

	for (i = 0; i < CRUCIBLE_NR_LEGS; i++) {
		if (!(ok & (1U << i)))
			continue;
		if (crucible_md_set_records(c, i, io->first_block, io->nr_blocks,
					    io->hash, flush)) {
			ok &= ~(1U << i);
			io->failed |= 1U << i;
		}
	}
	free_bounce(c, io->bounce);
	io->bounce = NULL;
	if (ok)
		forget_unrecoverable(c, io->first_block, io->nr_blocks);
	/* Data and records agree now: overlapping reads and writes may go. */
	crucible_range_unlock(c, &io->range);
	/* A fence waits for this: the write and its records are in. */
	atomic_dec(&c->writes_in_flight);

	for (i = 0; i < CRUCIBLE_NR_LEGS; i++)
		if (io->failed & (1U << i))
			crucible_leg_failed(c, i, -EIO);

	spin_lock_irq(&c->lock);
	c->rstate[io->region] -= RS_INFLIGHT_ONE;
	c->rstate[io->region] |= RS_WRITTEN;
	set_bit(CRUCIBLE_F_NEED_COMMIT, &c->flags);
	if (io->failed)
		__crucible_set_stale(c, io->region, io->failed);
	if (!ok) {
		io->status = BLK_STS_IOERR;
	} else if (missed_unrecorded(c, ok)) {
		/*
		 * Never acknowledge a write that a leg missed (it failed the
		 * write, or was out of service already) before the other legs
		 * say so on disk: after a crash that leg must not be chosen
		 * as the source.
		 */
		bio_list_add(&c->fault_waiters, bio);
		wait_fault = true;
	}
	spin_unlock_irq(&c->lock);
	wake_up(&c->inflight_wait);
	atomic64_inc(&c->stats.writes);

	if (wait_fault)
		crucible_wake_worker(c);
	else
		complete_write(c, bio);
}

/*
 * Reads
 */

static int choose_read_leg(struct crucible *c, u8 candidates)
{
	int i, best = -1;

	if (!candidates)
		return -1;
	if (c->read_policy == CRUCIBLE_READ_LEAST_PENDING) {
		for (i = 0; i < CRUCIBLE_NR_LEGS; i++) {
			if (!(candidates & (1U << i)))
				continue;
			if (best < 0 || atomic_read(&c->legs[i].pending) <
					atomic_read(&c->legs[best].pending))
				best = i;
		}
		return best;
	}
	for (i = 0; i < CRUCIBLE_NR_LEGS; i++) {
		int leg = (c->rr_next + i) % CRUCIBLE_NR_LEGS;

		if (candidates & (1U << leg)) {
			c->rr_next = leg + 1;
			return leg;
		}
	}
	return -1;
}

static void read_verify(struct work_struct *ws);

/*
 * Blocks a read may check in its completion context.  A larger read is
 * checked on the (unbound) workqueue: hashing it would keep the completing
 * CPU from other completions, and the workqueue spreads reads over CPUs.
 */
#define CRUCIBLE_INLINE_VERIFY_BLOCKS	4

/*
 * The fast path of a read: its records were in the cache when it was
 * mapped (issue_read peeks only for reads of at most
 * CRUCIBLE_INLINE_VERIFY_BLOCKS), and every block the leg returned matches
 * its record.  Anything else (a block that is not data, a mismatch, an
 * error) takes the full path on the workqueue, which fetches the records
 * again and sorts it out.
 */
static bool read_verified_inline(struct crucible_io *io, struct bio *bio)
{
	unsigned int i;

	if (!io->peeked || io->status != BLK_STS_OK)
		return false;
	for (i = 0; i < io->nr_blocks; i++)
		if (!crucible_hash_has_data(io->hash[i]) ||
		    bio_block_op(bio, i, BLOCK_HASH, NULL) != io->hash[i])
			return false;
	return true;
}

static void complete_read(struct crucible *c, struct bio *bio,
			  blk_status_t status)
{
	struct crucible_io *io = dm_per_bio_data(bio, sizeof(*io));

	crucible_range_unlock(c, &io->range);
	atomic64_inc(&c->stats.reads);
	bio->bi_status = status;
	bio_endio(bio);
}

static void read_leg_endio(struct bio *clone)
{
	struct crucible_clone *cl = container_of(clone, struct crucible_clone, bio);
	struct crucible_io *io = cl->io;
	struct bio *bio = dm_bio_from_per_bio_data(io, sizeof(*io));
	struct crucible *c = io->c;

	io->status = clone->bi_status;
	atomic_dec(&c->legs[cl->leg].pending);
	bio_put(clone);
	if (read_verified_inline(io, bio)) {
		complete_read(c, bio, BLK_STS_OK);
		return;
	}
	queue_work(c->io_wq, &io->work);
}

/* Legs a read of @region may use: alive and not stale there; lock held. */
static u8 read_candidates(struct crucible *c, u64 region)
{
	return crucible_alive_mask(c) & ~(c->rstate[region] & RS_STALE_MASK);
}

/* A read that holds its range: pick a leg and send it there. */
static void issue_read(struct crucible *c, struct bio *bio)
{
	struct crucible_io *io = dm_per_bio_data(bio, sizeof(*io));
	struct crucible_clone *cl;
	unsigned long flags;
	struct bio *clone;
	int leg;

	spin_lock_irqsave(&c->lock, flags);
	leg = choose_read_leg(c, read_candidates(c, io->region));
	spin_unlock_irqrestore(&c->lock, flags);
	if (leg < 0) {
		/* The last leg that could serve it failed meanwhile. */
		complete_read(c, bio, BLK_STS_IOERR);
		return;
	}
	io->leg = leg;
	io->status = BLK_STS_OK;
	io->peeked = io->nr_blocks <= CRUCIBLE_INLINE_VERIFY_BLOCKS &&
		     crucible_md_peek_records(c, leg, io->first_block,
					      io->nr_blocks, io->hash);
	INIT_WORK(&io->work, read_verify);
	clone = bio_alloc_clone(c->legs[leg].dev->bdev, bio, GFP_NOIO, &c->bs);
	cl = container_of(clone, struct crucible_clone, bio);
	cl->io = io;
	cl->leg = leg;
	clone->bi_iter.bi_sector = crucible_leg_data_sector(c, io->first_block);
	clone->bi_end_io = read_leg_endio;
	atomic_inc(&c->legs[leg].pending);
	submit_bio_noacct(clone);
}

/* Where the content of a block comes from, by its record. */
enum block_src {
	SRC_DATA,	/* the leg's data area, checked against the record */
	SRC_ZERO,	/* zeros: never written (no parent behind), or zeroed */
	SRC_PARENT,	/* never written, and the parent has it */
};

static enum block_src record_src(struct crucible *c, u64 b,
				 const struct crucible_rec *rec)
{
	if (rec->hash == CRUCIBLE_HASH_UNWRITTEN)
		return crucible_parent_backed(c, b) ? SRC_PARENT : SRC_ZERO;
	return rec->hash == CRUCIBLE_HASH_ZEROED ? SRC_ZERO : SRC_DATA;
}

/*
 * Read block @b from @leg into @buf and check it against that leg's
 * record.  Returns 0 if good (*src says whether @buf holds it), -EBADMSG
 * if the leg has no valid record of it, -EILSEQ if its copy does not match
 * the record, -EIO if the leg failed the read.
 */
static int read_good_block(struct crucible *c, unsigned int leg, u64 b,
			   void *buf, enum block_src *src)
{
	struct crucible_rec rec;
	int r;

	r = crucible_md_get_record(c, leg, b, &rec);
	if (r)
		return r == -EILSEQ ? -EBADMSG : r;
	*src = record_src(c, b, &rec);
	if (*src != SRC_DATA)
		return 0;
	r = crucible_sync_io(c, leg, REQ_OP_READ, 0, c->geo.data_start + b, 1,
			     buf);
	if (r)
		return r;
	return crucible_block_hash(buf) == rec.hash ? 0 : -EILSEQ;
}

/* Put a good block into the bio; returns 1 if the parent must fill it. */
static int serve_block(struct bio *bio, unsigned int i, enum block_src src,
		       const void *buf)
{
	if (src == SRC_PARENT)
		return 1;
	if (src == SRC_ZERO)
		bio_block_op(bio, i, BLOCK_ZERO, NULL);
	else
		bio_block_op(bio, i, BLOCK_FILL, buf);
	return 0;
}

/* Mark @leg's copy of @region bad so repair rewrites it from a good one. */
static void schedule_heal(struct crucible *c, u64 region, unsigned int leg)
{
	spin_lock_irq(&c->lock);
	__crucible_set_stale(c, region, (1U << leg) | RS_VERIFY);
	spin_unlock_irq(&c->lock);
	crucible_raise_event(c);
	crucible_kick_repair(c);
}

/*
 * No leg in sync holds a valid record of a block of @region: its records
 * are recomputed from the source's data, as after a crash, before the
 * region serves I/O again.
 */
static void schedule_rehash(struct crucible *c, u64 region)
{
	spin_lock_irq(&c->lock);
	__crucible_set_stale(c, region, RS_REHASH | RS_VERIFY);
	spin_unlock_irq(&c->lock);
	crucible_raise_event(c);
	crucible_kick_repair(c);
}

static void report_mismatch(struct crucible *c, unsigned int leg, u64 b,
			    int why)
{
	atomic64_inc(&c->stats.mismatches);
	crucible_nl_mismatch(c, leg, b);
	DMERR_LIMIT("%s: block %llu: leg %u %s",
		    dev_name_of(c), (unsigned long long)b, leg,
		    why == -EBADMSG ? "has no valid record of it" :
		    "copy does not match its record");
}

/*
 * Block @i of a read did not verify on the leg it was read from (@why:
 * -EBADMSG no valid record, -EILSEQ the data does not match the record,
 * -EIO the leg failed the read).  Serve it from a copy that passes its own
 * check, and send the bad one to repair.  The read holds its range, so no
 * write of the block is in flight: a mismatch is real, unless the caller
 * changed its buffer while we read into it (O_DIRECT), which a read into
 * our own buffer rules out first.  Returns 1 if the block is the parent's
 * to serve, -EIO if no leg can serve it.
 */
static int fix_read_block(struct crucible *c, struct crucible_io *io,
			  struct bio *bio, unsigned int i, void *buf, int why)
{
	u64 b = io->first_block + i;
	bool any_record = why != -EBADMSG, io_error = why == -EIO;
	enum block_src src;
	u8 others;
	int leg, r;

	if (why == -EILSEQ) {
		r = read_good_block(c, io->leg, b, buf, &src);
		if (!r)
			return serve_block(bio, i, src, buf);
		why = r;
	}
	if (why != -EIO)
		report_mismatch(c, io->leg, b, why);

	spin_lock_irq(&c->lock);
	others = read_candidates(c, io->region) & ~BIT(io->leg);
	spin_unlock_irq(&c->lock);
	for (leg = 0; leg < CRUCIBLE_NR_LEGS; leg++) {
		if (!(others & BIT(leg)))
			continue;
		r = read_good_block(c, leg, b, buf, &src);
		if (!r) {
			schedule_heal(c, io->region, io->leg);
			return serve_block(bio, i, src, buf);
		}
		if (r != -EBADMSG)
			any_record = true;
		if (r == -EIO)
			io_error = true;
		else
			report_mismatch(c, leg, b, r);
	}
	if (!any_record) {
		vol_err_ratelimited(c, "block %llu: no leg has a valid record of it: its region is rehashed",
				    (unsigned long long)b);
		schedule_rehash(c, io->region);
	} else if (!io_error) {
		crucible_block_unrecoverable(c, b);
	} else {
		DMERR_LIMIT("%s: block %llu: no leg could serve it",
			    dev_name_of(c), (unsigned long long)b);
	}
	return -EIO;
}

static void read_verify(struct work_struct *ws)
{
	struct crucible_io *io = container_of(ws, struct crucible_io, work);
	struct bio *bio = dm_bio_from_per_bio_data(io, sizeof(*io));
	DECLARE_BITMAP(from_parent, CRUCIBLE_MAX_IO_BLOCKS);
	struct crucible *c = io->c;
	bool io_error = io->status != BLK_STS_OK;
	blk_status_t status = BLK_STS_OK;
	void *buf = NULL;
	unsigned int i;

	bitmap_zero(from_parent, CRUCIBLE_MAX_IO_BLOCKS);
	if (io_error) {
		atomic64_inc(&c->legs[io->leg].errors);
		schedule_heal(c, io->region, io->leg);
	}
	for (i = 0; i < io->nr_blocks; i++) {
		u64 b = io->first_block + i;
		struct crucible_rec rec;
		int r = -EIO;

		if (!io_error) {
			r = crucible_md_get_record(c, io->leg, b, &rec);
			/* Not data: whatever the leg holds does not count. */
			if (!r && record_src(c, b, &rec) != SRC_DATA) {
				if (serve_block(bio, i, record_src(c, b, &rec), NULL))
					__set_bit(i, from_parent);
				continue;
			}
			if (!r && bio_block_op(bio, i, BLOCK_HASH, NULL) == rec.hash)
				continue;
			if (!r)
				r = -EILSEQ;
			else if (r == -EILSEQ)
				r = -EBADMSG;
		}
		if (!buf)
			buf = crucible_block_alloc(c);
		r = fix_read_block(c, io, bio, i, buf, r);
		if (r < 0)
			status = BLK_STS_IOERR;
		else if (r)
			__set_bit(i, from_parent);
	}
	if (buf)
		crucible_block_free(c, buf);
	if (status == BLK_STS_OK && !bitmap_empty(from_parent, io->nr_blocks) &&
	    crucible_read_parent_bio(c, bio, io->first_block, from_parent,
				     io->nr_blocks)) {
		DMERR_LIMIT("%s: read of block %llu+%u: the parent failed it",
			    dev_name_of(c), (unsigned long long)io->first_block,
			    io->nr_blocks);
		status = BLK_STS_IOERR;
	}
	complete_read(c, bio, status);
}

/*
 * Mapping
 */

static void init_io(struct crucible *c, struct bio *bio)
{
	struct crucible_io *io = dm_per_bio_data(bio, sizeof(*io));

	io->c = c;
	io->first_block = dm_target_offset(c->ti, bio->bi_iter.bi_sector) >>
			  (CRUCIBLE_BLOCK_SHIFT - 9);
	io->nr_blocks = bio_sectors(bio) >> (CRUCIBLE_BLOCK_SHIFT - 9);
	io->region = crucible_block_to_region(c, io->first_block);
	io->status = BLK_STS_OK;
	io->bounce = NULL;
}

static enum map_result map_bio(struct crucible *c, struct bio *bio)
{
	struct crucible_io *io = dm_per_bio_data(bio, sizeof(*io));
	unsigned long flags;
	u8 alive, legs;
	u32 s;

	spin_lock_irqsave(&c->lock, flags);
	s = c->rstate[io->region];
	alive = crucible_alive_mask(c);
	if (c->mode != CRUCIBLE_MODE_RW || !alive) {
		spin_unlock_irqrestore(&c->lock, flags);
		return MAP_ERROR;
	}
	if (s & RS_REHASH) {
		spin_unlock_irqrestore(&c->lock, flags);
		return MAP_DEFER_REPAIR;
	}
	if (bio_data_dir(bio) == READ) {
		legs = read_candidates(c, io->region);
		spin_unlock_irqrestore(&c->lock, flags);
		if (!legs)
			return MAP_ERROR;
		dispatch(c, bio, false);
		return MAP_SUBMITTED;
	}
	if (s & RS_LOCKED) {
		spin_unlock_irqrestore(&c->lock, flags);
		return MAP_DEFER_REPAIR;
	}
	if (!(s & RS_DIRTY)) {
		spin_unlock_irqrestore(&c->lock, flags);
		return MAP_DEFER_DIRTY;
	}
	c->rstate[io->region] += RS_INFLIGHT_ONE;
	atomic_inc(&c->writes_in_flight);
	/* Legs out of service miss this write: they are stale here now. */
	if (alive != (1U << CRUCIBLE_NR_LEGS) - 1)
		__crucible_set_stale(c, io->region,
				     ~alive & ((1U << CRUCIBLE_NR_LEGS) - 1));
	spin_unlock_irqrestore(&c->lock, flags);
	io->legs_written = alive;
	dispatch(c, bio, true);
	return MAP_SUBMITTED;
}

static void defer_bio(struct crucible *c, struct bio *bio)
{
	unsigned long flags;

	spin_lock_irqsave(&c->lock, flags);
	bio_list_add(&c->deferred, bio);
	spin_unlock_irqrestore(&c->lock, flags);
	crucible_wake_worker(c);
}

static int crucible_map(struct dm_target *ti, struct bio *bio)
{
	struct crucible *c = ti->private;

	init_io(c, bio);
	if ((bio->bi_opf & REQ_PREFLUSH) || op_is_discard(bio->bi_opf) ||
	    bio_op(bio) == REQ_OP_WRITE_ZEROES) {
		defer_bio(c, bio);
		return DM_MAPIO_SUBMITTED;
	}
	if (bio_op(bio) != REQ_OP_READ && bio_op(bio) != REQ_OP_WRITE)
		return DM_MAPIO_KILL;

	switch (map_bio(c, bio)) {
	case MAP_SUBMITTED:
		break;
	case MAP_ERROR:
		return DM_MAPIO_KILL;
	default:
		defer_bio(c, bio);
		break;
	}
	return DM_MAPIO_SUBMITTED;
}

/*
 * The worker: dirty marking, commits, deferred bios, fault records
 */

static void record_faults(struct crucible *c)
{
	struct bio_list waiters, later;
	struct bio *bio;
	u8 failed = 0;
	int i, err = 0;

	spin_lock_irq(&c->lock);
	/*
	 * Legs out of service, and legs that went out and are back already
	 * (writes they missed may still wait for this).
	 */
	for (i = 0; i < CRUCIBLE_NR_LEGS; i++)
		if (c->legs[i].state != CRUCIBLE_LEG_ALIVE)
			failed |= 1U << i;
	failed = (failed | c->fault_pending) & ~c->fault_persisted;
	/* Written into the superblocks, but not durable until they are. */
	c->fault_recording = failed;
	spin_unlock_irq(&c->lock);

	if (failed) {
		err = crucible_md_enter(c);
		if (!err) {
			err = crucible_md_write_sbs(c);
			crucible_md_end(c);
		}
	}

	bio_list_init(&later);
	spin_lock_irq(&c->lock);
	if (failed && !err) {
		c->fault_persisted |= failed;
		c->fault_pending &= ~failed;
	}
	c->fault_recording = 0;
	waiters = c->fault_waiters;
	bio_list_init(&c->fault_waiters);
	while ((bio = bio_list_pop(&waiters))) {
		struct crucible_io *io = dm_per_bio_data(bio, sizeof(*io));

		/* A leg failed meanwhile: wait for its record too. */
		if (!err && missed_unrecorded(c, io->legs_written & ~io->failed))
			bio_list_add(&c->fault_waiters, bio);
		else
			bio_list_add(&later, bio);
	}
	if (!bio_list_empty(&c->fault_waiters))
		crucible_wake_worker(c);
	spin_unlock_irq(&c->lock);

	while ((bio = bio_list_pop(&later))) {
		/* No leg could record the failure: nothing we can vouch for. */
		if (err) {
			bio->bi_status = BLK_STS_IOERR;
			bio_endio(bio);
		} else {
			complete_write(c, bio);
		}
	}
}

static void complete_flushes(struct bio_list *flushes, int err,
			     struct bio_list *writes)
{
	struct bio *bio;

	while ((bio = bio_list_pop(flushes))) {
		if (err) {
			bio->bi_status = BLK_STS_IOERR;
			bio_endio(bio);
		} else if (bio_sectors(bio)) {
			/* The data of a PREFLUSH write goes after the flush. */
			bio->bi_opf &= ~REQ_PREFLUSH;
			bio_list_add(writes, bio);
		} else {
			bio_endio(bio);
		}
	}
}

static bool commit_due(struct crucible *c)
{
	return time_after_eq(jiffies, c->last_commit +
			     msecs_to_jiffies(c->commit_period_ms));
}

static void process_bios(struct crucible *c, struct bio_list *bios)
{
	u64 regions[CRUCIBLE_DIRTY_BATCH];
	struct bio_list again;
	struct bio *bio;
	unsigned int nr, i;
	int r;

	while (!bio_list_empty(bios)) {
		bio_list_init(&again);
		nr = 0;
		while ((bio = bio_list_pop(bios))) {
			struct crucible_io *io = dm_per_bio_data(bio, sizeof(*io));

			switch (map_bio(c, bio)) {
			case MAP_SUBMITTED:
				break;
			case MAP_ERROR:
				bio_io_error(bio);
				break;
			case MAP_DEFER_REPAIR:
				/*
				 * -EILSEQ: the source was bad too and another leg
				 * gets to be it; anything else ends the bio, so
				 * this loop always ends.
				 */
				r = crucible_repair_region(c, io->region);
				if (r && r != -EILSEQ) {
					bio_io_error(bio);
					break;
				}
				bio_list_add(&again, bio);
				break;
			case MAP_DEFER_DIRTY:
				for (i = 0; i < nr; i++)
					if (regions[i] == io->region)
						break;
				if (i == nr && nr == CRUCIBLE_DIRTY_BATCH) {
					bio_list_add(&again, bio);
					break;
				}
				if (i == nr)
					regions[nr++] = io->region;
				bio_list_add(&again, bio);
				break;
			}
		}
		if (nr) {
			if (crucible_md_check_fence(c) ||
			    crucible_md_mark_dirty(c, regions, nr)) {
				while ((bio = bio_list_pop(&again)))
					bio_io_error(bio);
				return;
			}
		}
		bio_list_merge(bios, &again);
		cond_resched();
	}
}

static void do_worker(struct work_struct *ws)
{
	struct crucible *c = container_of(ws, struct crucible, worker);
	struct bio_list bios, flushes, writes, discards;
	struct bio *bio;
	int err;

	record_faults(c);

	bio_list_init(&discards);
	bio_list_init(&flushes);
	bio_list_init(&writes);
	spin_lock_irq(&c->lock);
	bios = c->deferred;
	bio_list_init(&c->deferred);
	spin_unlock_irq(&c->lock);

	while ((bio = bio_list_pop(&bios))) {
		if (bio->bi_opf & REQ_PREFLUSH)
			bio_list_add(&flushes, bio);
		else if (op_is_discard(bio->bi_opf) ||
			 bio_op(bio) == REQ_OP_WRITE_ZEROES)
			bio_list_add(&discards, bio);
		else
			bio_list_add(&writes, bio);
	}
	while ((bio = bio_list_pop(&discards))) {
		bio->bi_status = crucible_discard(c, bio) ? BLK_STS_IOERR : BLK_STS_OK;
		bio_endio(bio);
	}

	if (!bio_list_empty(&flushes) ||
	    (test_bit(CRUCIBLE_F_NEED_COMMIT, &c->flags) && commit_due(c))) {
		/* Cleared first: a write completing meanwhile sets it again. */
		clear_bit(CRUCIBLE_F_NEED_COMMIT, &c->flags);
		err = crucible_md_commit(c);
		atomic64_add(bio_list_size(&flushes), &c->stats.flushes);
		complete_flushes(&flushes, err, &writes);
		record_faults(c);
	}
	process_bios(c, &writes);
}

static void do_waker(struct work_struct *ws)
{
	struct crucible *c = container_of(to_delayed_work(ws), struct crucible,
					  waker);

	if (test_bit(CRUCIBLE_F_NEED_COMMIT, &c->flags))
		crucible_wake_worker(c);
	queue_delayed_work(c->wq, &c->waker,
			   msecs_to_jiffies(c->commit_period_ms));
}

/*
 * The tables of this kernel that hold a volume's legs: a new owner fences
 * the others before it reads the legs (crucible_md_fence()).
 */
static LIST_HEAD(crucible_instances);
static DEFINE_MUTEX(crucible_instances_lock);

/*
 * Fence every other table in this kernel that holds volume @c->uuid.
 * Returns whether one was live: the legs must then be read again.
 */
static bool fence_other_instances(struct crucible *c)
{
	struct crucible *o;
	bool fenced = false;

	mutex_lock(&crucible_instances_lock);
	list_for_each_entry(o, &crucible_instances, fence_node) {
		if (o == c || memcmp(o->uuid, c->uuid, sizeof(c->uuid)))
			continue;
		crucible_md_fence(o, c->generation);
		fenced = true;
	}
	mutex_unlock(&crucible_instances_lock);
	return fenced;
}

static void register_instance(struct crucible *c)
{
	mutex_lock(&crucible_instances_lock);
	list_add(&c->fence_node, &crucible_instances);
	mutex_unlock(&crucible_instances_lock);
}

static void unregister_instance(struct crucible *c)
{
	mutex_lock(&crucible_instances_lock);
	list_del_init(&c->fence_node);
	mutex_unlock(&crucible_instances_lock);
}

/*
 * Constructor
 */

static int parse_u64(const char *s, u64 *v)
{
	return kstrtoull(s, 10, v);
}

int crucible_parse_opt_args(struct crucible *c, struct dm_arg_set *as,
			    char **error)
{
	static const struct dm_arg _args[] = {
		{0, 20, "Invalid number of optional arguments"},
	};
	unsigned int argc;
	const char *key, *val;
	u64 v;
	int r;

	if (!as->argc)
		return 0;
	r = dm_read_arg_group(_args, as, &argc, error);
	if (r)
		return r;
	if (argc % 2) {
		crucible_err(error, "Optional arguments come in '<name> <value>' pairs");
		return -EINVAL;
	}
	while (argc) {
		key = dm_shift_arg(as);
		val = dm_shift_arg(as);
		argc -= 2;

		if (!strcasecmp(key, "generation")) {
			if (parse_u64(val, &v) || !v) {
				crucible_err(error, "generation: expected an integer >= 1");
				return -EINVAL;
			}
			c->generation = v;
			c->generation_given = true;
		} else if (!strcasecmp(key, "region_size")) {
			if (parse_u64(val, &v) || v % CRUCIBLE_SECTORS_PER_BLOCK ||
			    v / CRUCIBLE_SECTORS_PER_BLOCK > CRUCIBLE_MAX_REGION_BLOCKS ||
			    !crucible_region_blocks_valid(v / CRUCIBLE_SECTORS_PER_BLOCK)) {
				crucible_err(error, "region_size: expected a power of two from 128 to 2097152 sectors");
				return -EINVAL;
			}
			c->geo.region_blocks = v / CRUCIBLE_SECTORS_PER_BLOCK;
		} else if (!strcasecmp(key, "owner")) {
			if (!*val || strlen(val) >= CRUCIBLE_OWNER_LEN) {
				crucible_err(error, "owner: expected 1 to 63 characters");
				return -EINVAL;
			}
			strscpy(c->owner, val, sizeof(c->owner));
		} else if (!strcasecmp(key, "replace_leg")) {
			if (parse_u64(val, &v) || v >= CRUCIBLE_NR_LEGS) {
				crucible_err(error, "replace_leg: expected 0, 1 or 2");
				return -EINVAL;
			}
			c->replace_leg = v;
		} else if (!strcasecmp(key, "repair")) {
			if (!strcasecmp(val, "auto")) {
				c->repair_auto = true;
			} else if (!strcasecmp(val, "manual")) {
				c->repair_auto = false;
			} else {
				crucible_err(error, "repair: expected 'auto' or 'manual'");
				return -EINVAL;
			}
		} else if (!strcasecmp(key, "repair_throttle")) {
			if (parse_u64(val, &v) || v > 1000000) {
				crucible_err(error, "repair_throttle: expected MiB/s from 0 (unlimited) to 1000000");
				return -EINVAL;
			}
			c->repair_throttle = v;
		} else if (!strcasecmp(key, "read_policy")) {
			if (!strcasecmp(val, "round_robin")) {
				c->read_policy = CRUCIBLE_READ_ROUND_ROBIN;
			} else if (!strcasecmp(val, "least_pending")) {
				c->read_policy = CRUCIBLE_READ_LEAST_PENDING;
			} else {
				crucible_err(error, "read_policy: expected 'round_robin' or 'least_pending'");
				return -EINVAL;
			}
		} else if (!strcasecmp(key, "commit_period")) {
			if (parse_u64(val, &v) || v < 10 || v > 60000) {
				crucible_err(error, "commit_period: expected milliseconds from 10 to 60000");
				return -EINVAL;
			}
			c->commit_period_ms = v;
		} else if (!strcasecmp(key, "hydration")) {
			if (!strcasecmp(val, "on")) {
				c->hydrate_on = true;
			} else if (!strcasecmp(val, "off")) {
				c->hydrate_on = false;
			} else {
				crucible_err(error, "hydration: expected 'on' or 'off'");
				return -EINVAL;
			}
		} else if (!strcasecmp(key, "hydration_throttle")) {
			if (parse_u64(val, &v) || v > 1000000) {
				crucible_err(error, "hydration_throttle: expected MiB/s from 0 (unlimited) to 1000000");
				return -EINVAL;
			}
			c->hydrate_throttle = v;
		} else {
			crucible_err(error, "Unknown optional argument (expected generation, region_size, owner, replace_leg, repair, repair_throttle, read_policy, commit_period, hydration or hydration_throttle)");
			return -EINVAL;
		}
	}
	return 0;
}

static int get_legs(struct crucible *c, struct dm_arg_set *as, char **error)
{
	struct dm_target *ti = c->ti;
	int i, j, r;

	for (i = 0; i < CRUCIBLE_NR_LEGS; i++) {
		const char *path = dm_shift_arg(as);

		r = dm_get_device(ti, path, dm_table_get_mode(ti->table),
				  &c->legs[i].dev);
		if (r) {
			crucible_err(error, "leg %d: cannot open device '%s'",
				     i, path);
			return r;
		}
		for (j = 0; j < i; j++) {
			if (c->legs[j].dev->bdev->bd_dev == c->legs[i].dev->bdev->bd_dev) {
				crucible_err(error, "leg %d is the same device as leg %d",
					     i, j);
				return -EINVAL;
			}
		}
	}
	return 0;
}

static int get_parent(struct crucible *c, const char *path, char **error)
{
	struct dm_target *ti = c->ti;
	sector_t size;
	int i, r;

	if (!strcmp(path, "-"))
		return 0;
	r = dm_get_device(ti, path, FMODE_READ, &c->parent);
	if (r) {
		crucible_err(error, "parent: cannot open device '%s'", path);
		return r;
	}
	for (i = 0; i < CRUCIBLE_NR_LEGS; i++) {
		if (c->legs[i].dev->bdev->bd_dev == c->parent->bdev->bd_dev) {
			crucible_err(error, "parent is the same device as leg %d", i);
			return -EINVAL;
		}
	}
	size = bdev_nr_sectors(c->parent->bdev);
	if (size > ti->len) {
		crucible_err(error, "parent is larger than the volume (%llu > %llu sectors)",
			     (unsigned long long)size,
			     (unsigned long long)ti->len);
		return -EINVAL;
	}
	if (!size) {
		crucible_err(error, "parent '%s' is empty", path);
		return -EINVAL;
	}
	c->parent_sectors = size;
	return 0;
}

static int check_leg_sizes(struct crucible *c, char **error)
{
	sector_t need = c->geo.leg_blocks << (CRUCIBLE_BLOCK_SHIFT - 9);
	int i;

	for (i = 0; i < CRUCIBLE_NR_LEGS; i++) {
		sector_t have = bdev_nr_sectors(c->legs[i].dev->bdev);

		if (have < need) {
			crucible_err(error, "leg %d is too small: %llu sectors, the volume needs %llu",
				     i, (unsigned long long)have,
				     (unsigned long long)need);
			return -EINVAL;
		}
	}
	return 0;
}

static int alloc_runtime(struct crucible *c, char **error)
{
	int i, r;

	for (i = 0; i < CRUCIBLE_NR_LEGS; i++) {
		c->repair_buf[i] = vmalloc(CRUCIBLE_REPAIR_CHUNK_BLOCKS *
					   CRUCIBLE_BLOCK_SIZE);
		if (!c->repair_buf[i])
			return -ENOMEM;
	}
	c->repair_hash = kcalloc(CRUCIBLE_REPAIR_CHUNK_BLOCKS, sizeof(u64), GFP_KERNEL);
	c->repair_flush = kcalloc(CRUCIBLE_REPAIR_CHUNK_BLOCKS, sizeof(u32), GFP_KERNEL);
	if (!c->repair_hash ||
	    !c->repair_flush) {
		crucible_err(error, "cannot allocate region state");
		return -ENOMEM;
	}
	for (i = 0; i < CRUCIBLE_NR_LEGS; i++) {
		/* A power of two: kmalloc aligns it, as direct I/O needs. */
		c->fence_read[i].sb = kmalloc(CRUCIBLE_SB_COPIES * CRUCIBLE_BLOCK_SIZE,
					      GFP_KERNEL);
		if (!c->fence_read[i].sb)
			return -ENOMEM;
	}
	c->io_client = dm_io_client_create();
	if (IS_ERR(c->io_client)) {
		r = PTR_ERR(c->io_client);
		c->io_client = NULL;
		crucible_err(error, "cannot create dm-io client");
		return r;
	}
	r = bioset_init(&c->bs, CRUCIBLE_MIN_IOS,
			offsetof(struct crucible_clone, bio), BIOSET_NEED_BVECS);
	if (r) {
		crucible_err(error, "cannot create bio set");
		return r;
	}
	r = mempool_init_page_pool(&c->page_pool,
				   CRUCIBLE_MAX_IO_BLOCKS * 4, 0);
	if (!r)
		r = mempool_init_kmalloc_pool(&c->block_pool, 4,
					      CRUCIBLE_BLOCK_SIZE);
	if (r) {
		crucible_err(error, "cannot create page pool");
		return r;
	}
	c->wq = alloc_ordered_workqueue("dm-crucible", WQ_MEM_RECLAIM);
	c->io_wq = alloc_workqueue("dm-crucible-io", WQ_MEM_RECLAIM | WQ_UNBOUND, 0);
	if (!c->wq || !c->io_wq) {
		crucible_err(error, "cannot create workqueues");
		return -ENOMEM;
	}
	return 0;
}

static void crucible_dtr(struct dm_target *ti);

static int crucible_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct dm_arg_set as = { .argc = argc, .argv = argv };
	struct crucible *c;
	char *error = NULL;
	u32 max_io;
	u64 blocks;
	int r;

	if (argc < CRUCIBLE_NR_LEGS + 1) {
		ti->error = "Expected <leg0> <leg1> <leg2> <parent|-> [<#opt_args> <opt_arg>...]";
		return -EINVAL;
	}
	if (ti->len % CRUCIBLE_SECTORS_PER_BLOCK || ti->begin % CRUCIBLE_SECTORS_PER_BLOCK) {
		ti->error = "Target start and length must be multiples of 8 sectors (4 KiB blocks)";
		return -EINVAL;
	}

	c = kzalloc(sizeof(*c), GFP_KERNEL);
	if (!c) {
		ti->error = "Cannot allocate crucible context";
		return -ENOMEM;
	}
	ti->private = c;
	c->ti = ti;
	c->replace_leg = -1;
	c->repair_auto = true;
	c->commit_period_ms = 1000;
	c->hydrate_on = true;
	c->geo.region_blocks = CRUCIBLE_DEFAULT_REGION_BLOCKS;
	crucible_md_default_owner(c->owner, sizeof(c->owner));
	spin_lock_init(&c->lock);
	mutex_init(&c->mark_lock);
	mutex_init(&c->bounce_lock);
	mutex_init(&c->fence_lock);
	init_completion(&c->fence_done);
	INIT_LIST_HEAD(&c->fence_node);
	bio_list_init(&c->deferred);
	bio_list_init(&c->fault_waiters);
	init_waitqueue_head(&c->inflight_wait);
	crucible_range_buckets_init(c);
	xa_init_flags(&c->unrecoverable, XA_FLAGS_LOCK_IRQ);
	INIT_WORK(&c->worker, do_worker);
	INIT_WORK(&c->event_work, do_event);
	INIT_LIST_HEAD(&c->nl_node);
	INIT_DELAYED_WORK(&c->waker, do_waker);
	INIT_DELAYED_WORK(&c->repair_work, crucible_repair_work);
	INIT_DELAYED_WORK(&c->hydrate_work, crucible_hydrate_work);
	c->suspended = true;

	r = get_legs(c, &as, &error);
	if (r)
		goto bad;
	/* The parent is opened after the options: its checks need them. */
	as.argc--;
	as.argv++;
	r = crucible_parse_opt_args(c, &as, &error);
	if (r)
		goto bad;
	if (as.argc) {
		crucible_err(&error, "unexpected argument '%s' after the optional arguments",
			     as.argv[0]);
		r = -EINVAL;
		goto bad;
	}
	r = get_parent(c, argv[CRUCIBLE_NR_LEGS], &error);
	if (r)
		goto bad;

	blocks = ti->len / CRUCIBLE_SECTORS_PER_BLOCK;
	r = crucible_geometry_init(&c->geo, blocks, c->geo.region_blocks);
	if (r) {
		error = "volume size or region size out of range";
		goto bad;
	}
	/* Before anything is sized by the volume: a length the legs cannot hold. */
	r = check_leg_sizes(c, &error);
	if (r)
		goto bad;
	r = alloc_runtime(c, &error);
	if (r)
		goto bad;
	r = crucible_md_open_bufio(c, &error);
	if (r)
		goto bad;
	r = crucible_md_open(c, &error);
	if (r)
		goto bad;
	r = check_leg_sizes(c, &error);
	if (r)
		goto bad;
	/* Sized now: the region size may have come from the superblock. */
	c->loaded_new = c->new_volume;
	memcpy(c->loaded_uuid, c->uuid, sizeof(c->uuid));
	c->loaded_region_blocks = c->geo.region_blocks;
	c->rstate = kvcalloc(c->geo.nr_regions, sizeof(*c->rstate),
			     GFP_KERNEL | __GFP_NOWARN);
	if (!c->rstate) {
		crucible_err(&error, "cannot allocate state for %llu regions: use a larger region_size",
			     (unsigned long long)c->geo.nr_regions);
		r = -ENOMEM;
		goto bad;
	}

	max_io = min_t(u32, c->geo.region_blocks, CRUCIBLE_MAX_IO_BLOCKS);
	r = dm_set_target_max_io_len(ti, max_io * CRUCIBLE_SECTORS_PER_BLOCK);
	if (r) {
		error = "cannot set max I/O length";
		goto bad;
	}
	ti->num_flush_bios = 1;
	ti->flush_supported = true;
	/* Discards and write-zeroes only change records: the legs need not. */
	ti->num_discard_bios = 1;
	ti->num_write_zeroes_bios = 1;
	ti->discards_supported = true;
	ti->per_io_data_size = sizeof(struct crucible_io);
	c->assembled = false;
	return 0;

bad:
	ti->error = error ? error : "Cannot construct crucible target";
	crucible_dtr(ti);
	ti->private = NULL;
	return r;
}

static void crucible_dtr(struct dm_target *ti)
{
	struct crucible *c = ti->private;
	int i;

	if (!c)
		return;
	/* Out of the netlink list first: no command reaches it after this. */
	crucible_nl_unregister(c);
	unregister_instance(c);
	if (c->wq) {
		cancel_delayed_work_sync(&c->waker);
		cancel_delayed_work_sync(&c->repair_work);
		cancel_delayed_work_sync(&c->hydrate_work);
		flush_workqueue(c->wq);
		destroy_workqueue(c->wq);
	}
	if (c->io_wq)
		destroy_workqueue(c->io_wq);
	flush_work(&c->event_work);
	crucible_md_close(c);
	for (i = 0; i < CRUCIBLE_NR_LEGS; i++)
		if (c->legs[i].dev)
			dm_put_device(ti, c->legs[i].dev);
	if (c->parent)
		dm_put_device(ti, c->parent);
	mempool_exit(&c->page_pool);
	mempool_exit(&c->block_pool);
	xa_destroy(&c->unrecoverable);
	bioset_exit(&c->bs);
	if (c->io_client)
		dm_io_client_destroy(c->io_client);
	for (i = 0; i < CRUCIBLE_NR_LEGS; i++)
		vfree(c->repair_buf[i]);
	kfree(c->repair_hash);
	kfree(c->repair_flush);
	for (i = 0; i < CRUCIBLE_NR_LEGS; i++)
		kfree(c->fence_read[i].sb);
	kvfree(c->rstate);
	kfree(c);
}

/*
 * Suspend and resume
 */

static void crucible_presuspend(struct dm_target *ti)
{
	struct crucible *c = ti->private;

	spin_lock_irq(&c->lock);
	c->suspended = true;
	spin_unlock_irq(&c->lock);
	cancel_delayed_work_sync(&c->repair_work);
	cancel_delayed_work_sync(&c->hydrate_work);
}

static void crucible_postsuspend(struct dm_target *ti)
{
	struct crucible *c = ti->private;

	cancel_delayed_work_sync(&c->waker);
	flush_workqueue(c->wq);
	flush_workqueue(c->io_wq);
	/*
	 * Leave the legs with everything committed, and clean: the second
	 * commit clears the dirty marks of regions the first one stamped, so
	 * the next assembly has nothing to rehash after a clean suspend. A
	 * restored leg that had nothing to repair loses its "failed" mark
	 * here at the latest, so the next table can use it as a source.
	 */
	if (c->assembled && c->mode == CRUCIBLE_MODE_RW) {
		crucible_mark_whole_legs(c);
		if (!crucible_md_commit(c))
			crucible_md_commit(c);
	}
}

/*
 * The legs are read again at the first resume.  They must still be what
 * the constructor found and sized the target's state for: another table
 * may have formatted, wiped or reused them in between.
 */
static int check_legs_unchanged(struct crucible *c, char **error)
{
	const char *prefix = "the legs changed since the table was loaded";

	if (c->loaded_new && !c->new_volume) {
		crucible_err(error, "%s: they were blank, now they hold volume %pUb; load the table again",
			     prefix, c->uuid);
	} else if (!c->loaded_new && c->new_volume) {
		crucible_err(error, "%s: they held volume %pUb, now they are blank; load the table again",
			     prefix, c->loaded_uuid);
	} else if (!c->loaded_new && memcmp(c->uuid, c->loaded_uuid, sizeof(c->uuid))) {
		crucible_err(error, "%s: they held volume %pUb, now another volume (%pUb); load the table again",
			     prefix, c->loaded_uuid, c->uuid);
	} else if (c->geo.region_blocks != c->loaded_region_blocks) {
		crucible_err(error, "%s: region size %u sectors, the table was loaded for %u; load the table again",
			     prefix, c->geo.region_blocks * CRUCIBLE_SECTORS_PER_BLOCK,
			     c->loaded_region_blocks * CRUCIBLE_SECTORS_PER_BLOCK);
	} else {
		return 0;
	}
	/* Nothing sized by the constructor may follow the new geometry. */
	crucible_geometry_init(&c->geo, c->geo.volume_blocks,
			       c->loaded_region_blocks);
	return -EINVAL;
}

static int crucible_preresume(struct dm_target *ti)
{
	struct crucible *c = ti->private;
	char *error = NULL;
	int r;

	if (c->assembled)
		return 0;
	/*
	 * Assemble here, not in the constructor: a table being replaced
	 * is suspended by now, so the legs' metadata is at rest.
	 */
	r = crucible_md_open(c, &error);
	/* Another table here on the same legs stops first; read them again. */
	if (!r && !c->new_volume && fence_other_instances(c))
		r = crucible_md_open(c, &error);
	if (!r)
		r = check_legs_unchanged(c, &error);
	if (!r)
		r = crucible_md_assemble(c, &error);
	/*
	 * Activate: take the legs over, the new generation in both copies of
	 * every superblock, so that one late write of an old owner cannot
	 * erase it.
	 */
	if (!r)
		r = crucible_md_write_sbs(c);
	if (!r)
		r = crucible_md_write_sbs(c);
	if (r) {
		DMERR("%s: cannot assemble: %s",
		      dm_table_device_name(ti->table), error ? error : "I/O error");
		return r;
	}
	c->assembled = true;
	register_instance(c);
	c->last_commit = jiffies;
	c->repair_running = c->repair_auto;
	return 0;
}

static void crucible_resume(struct dm_target *ti)
{
	struct crucible *c = ti->private;

	spin_lock_irq(&c->lock);
	c->suspended = false;
	spin_unlock_irq(&c->lock);
	queue_delayed_work(c->wq, &c->waker,
			   msecs_to_jiffies(c->commit_period_ms));
	crucible_kick_repair(c);
	crucible_kick_hydration(c);
	if (list_empty(&c->nl_node)) {
		crucible_nl_reset(c);
		crucible_nl_register(c);
		/*
		 * device-mapper's own events of a new table come before it
		 * is listed here: one more, so that an agent listing volumes
		 * on device events finds it now, not at its next rescan.
		 */
		crucible_raise_event(c);
	}
}

/*
 * Status and messages
 */

static char leg_state_char(struct crucible *c, unsigned int leg)
{
	switch (c->legs[leg].state) {
	case CRUCIBLE_LEG_FAILED:
		return 'F';
	case CRUCIBLE_LEG_DISABLED:
		return 'D';
	default:
		return c->legs[leg].stale ? 'S' : 'A';
	}
}

static const char *repair_state(struct crucible *c, bool repairable)
{
	if (!c->unsynced)
		return "idle";
	if (!c->repair_running)
		return "paused";
	if (c->mode != CRUCIBLE_MODE_RW || c->suspended || !repairable)
		return "waiting";
	return "running";
}

static const char *mode_str(struct crucible *c)
{
	switch (c->mode) {
	case CRUCIBLE_MODE_FENCED:
		return "fenced";
	case CRUCIBLE_MODE_FAILED:
		return "failed";
	default:
		return "rw";
	}
}

/*
 * Note, per leg, whether any region is stale for it; return whether repair
 * can do anything now.
 */
static bool refresh_leg_stale(struct crucible *c)
{
	u8 alive = crucible_alive_mask(c);
	bool repairable = false;
	u32 any = 0;
	u64 r;
	int i;

	if (c->unsynced) {
		for (r = 0; r < c->geo.nr_regions; r++) {
			any |= c->rstate[r] & RS_STALE_MASK;
			if (crucible_region_repairable(c->rstate[r], alive))
				repairable = true;
		}
	}
	for (i = 0; i < CRUCIBLE_NR_LEGS; i++)
		c->legs[i].stale = !!(any & (1U << i));
	return repairable;
}

static void crucible_status(struct dm_target *ti, status_type_t type,
			    unsigned int status_flags, char *result,
			    unsigned int maxlen)
{
	struct crucible *c = ti->private;
	unsigned int sz = 0;
	const char *hstate;
	bool repairable;
	int i;

	switch (type) {
	case STATUSTYPE_INFO:
		spin_lock_irq(&c->lock);
		repairable = refresh_leg_stale(c);
		DMEMIT("1 %s %llu %llu %c%c%c %llu/%llu",
		       mode_str(c), (unsigned long long)c->generation,
		       (unsigned long long)c->flush,
		       leg_state_char(c, 0), leg_state_char(c, 1),
		       leg_state_char(c, 2),
		       (unsigned long long)(c->geo.nr_regions - c->unsynced),
		       (unsigned long long)c->geo.nr_regions);
		if (c->parent)
			DMEMIT(" %llu/%llu", (unsigned long long)c->hydr.cursor,
			       (unsigned long long)c->hydr.total);
		else
			DMEMIT(" -");
		DMEMIT(" %s", repair_state(c, repairable));
		hstate = crucible_hydration_state(c);
		spin_unlock_irq(&c->lock);
		DMEMIT(" %llu %llu %llu %llu %llu",
		       (unsigned long long)atomic64_read(&c->stats.reads),
		       (unsigned long long)atomic64_read(&c->stats.writes),
		       (unsigned long long)atomic64_read(&c->stats.flushes),
		       (unsigned long long)atomic64_read(&c->stats.mismatches),
		       (unsigned long long)atomic64_read(&c->stats.repaired));
		for (i = 0; i < CRUCIBLE_NR_LEGS; i++)
			DMEMIT(" %llu", (unsigned long long)
			       atomic64_read(&c->legs[i].errors));
		DMEMIT(" %s %llu %llu", hstate, (unsigned long long)
		       atomic64_read(&c->stats.parent_errors),
		       (unsigned long long)atomic64_read(&c->nr_unrecoverable));
		break;
	case STATUSTYPE_TABLE:
		for (i = 0; i < CRUCIBLE_NR_LEGS; i++)
			DMEMIT("%s ", c->legs[i].dev->name);
		DMEMIT("%s", c->parent ? c->parent->name : "-");
		DMEMIT(" %u generation %llu region_size %u owner %s",
		       (c->replace_leg >= 0 && c->legs[c->replace_leg].fresh ? 16 : 14) +
		       (c->parent ? 4 : 0),
		       (unsigned long long)c->generation,
		       c->geo.region_blocks * CRUCIBLE_SECTORS_PER_BLOCK, c->owner);
		DMEMIT(" repair %s read_policy %s",
		       c->repair_auto ? "auto" : "manual",
		       c->read_policy == CRUCIBLE_READ_LEAST_PENDING ?
		       "least_pending" : "round_robin");
		DMEMIT(" commit_period %u repair_throttle %u",
		       c->commit_period_ms, c->repair_throttle);
		if (c->replace_leg >= 0 && c->legs[c->replace_leg].fresh)
			DMEMIT(" replace_leg %d", c->replace_leg);
		if (c->parent)
			DMEMIT(" hydration %s hydration_throttle %u",
			       c->hydrate_on ? "on" : "off", c->hydrate_throttle);
		break;
	case STATUSTYPE_IMA:
		*result = '\0';
		break;
	}
}

/* Would taking @leg out leave some region without an in-sync copy? */
static bool leg_is_last_copy(struct crucible *c, unsigned int leg)
{
	u8 others = crucible_alive_mask(c) & ~(1U << leg);
	u64 r;

	if (!others)
		return true;
	if (!c->unsynced)
		return false;
	for (r = 0; r < c->geo.nr_regions; r++)
		if (!(others & ~(c->rstate[r] & RS_STALE_MASK)))
			return true;
	return false;
}

/*
 * The operator took a healthy leg out: once the writes it had in flight are
 * done, flush it, so that what it acknowledged before is durable on it and
 * need not be verified when it comes back (crucible_md_prepare_leg()).
 */
static void flush_disabled_leg(struct crucible *c, unsigned int leg)
{
	struct crucible_leg *l = &c->legs[leg];
	int r;

	wait_event(c->inflight_wait, !atomic_read(&l->writes));
	if (!crucible_md_begin(c))
		return;
	r = dm_bufio_write_dirty_buffers(l->bufio);
	if (!r)
		r = blkdev_issue_flush(l->dev->bdev);
	crucible_md_end(c);
	spin_lock_irq(&c->lock);
	/* Unless it went out and came back meanwhile. */
	if (l->state == CRUCIBLE_LEG_DISABLED)
		l->out_flushed = !r;
	spin_unlock_irq(&c->lock);
}

/*
 * Take a leg out of service or bring it back (messages and netlink).  On
 * refusal *@why says why.
 */
int crucible_set_leg(struct crucible *c, unsigned int leg, bool fail,
		     const char **why)
{
	bool locked = false;
	u64 nr_stale = 0;
	int r = 0;

	if (!fail && !(crucible_alive_legs(c) & BIT(leg))) {
		r = crucible_md_prepare_leg(c, leg, &nr_stale, why);
		if (r)
			return r == -EINVAL ? r : -EIO;
		locked = true;
	}
	spin_lock_irq(&c->lock);
	if (fail) {
		if (c->legs[leg].state != CRUCIBLE_LEG_ALIVE) {
			*why = "the leg is not in service";
			r = -EINVAL;
		} else if (leg_is_last_copy(c, leg)) {
			*why = "the leg holds the only in-sync copy of some region";
			r = -EBUSY;
		} else {
			c->legs[leg].state = CRUCIBLE_LEG_DISABLED;
			c->legs[leg].out_flush = c->flush;
			c->legs[leg].out_flushed = false;
			c->fault_pending |= BIT(leg);
		}
	} else {
		if (c->legs[leg].state == CRUCIBLE_LEG_ALIVE) {
			*why = "the leg is already in service";
			r = -EINVAL;
		} else {
			c->legs[leg].state = CRUCIBLE_LEG_ALIVE;
			if (c->mode == CRUCIBLE_MODE_FAILED)
				c->mode = CRUCIBLE_MODE_RW;
		}
	}
	spin_unlock_irq(&c->lock);
	if (locked)
		crucible_md_unlock_marks(c);
	if (r)
		return r;
	if (fail)
		flush_disabled_leg(c, leg);
	if (nr_stale)
		DMINFO("%s: leg %u back in service, stale in %llu regions its copy lags",
		       dev_name_of(c), leg, (unsigned long long)nr_stale);
	if (!fail)
		crucible_kick_repair(c);
	crucible_raise_event(c);
	crucible_wake_worker(c);
	return 0;
}

static int msg_leg(struct crucible *c, const char *arg, bool fail)
{
	const char *why = NULL;
	unsigned int leg;
	int r;

	if (kstrtouint(arg, 10, &leg) || leg >= CRUCIBLE_NR_LEGS) {
		DMWARN("%s: leg must be 0, 1 or 2, not '%s'", dev_name_of(c), arg);
		return -EINVAL;
	}
	r = crucible_set_leg(c, leg, fail, &why);
	if (r)
		DMWARN("%s: %s: leg %u: %s", dev_name_of(c),
		       fail ? "fail_leg" : "restore_leg", leg, why);
	return r;
}

/* repair_throttle and hydration_throttle: MiB/s, 0 = unlimited. */
static int msg_throttle(struct crucible *c, const char *name, const char *arg,
			unsigned int *throttle)
{
	unsigned int v;

	if (kstrtouint(arg, 10, &v) || v > 1000000) {
		DMWARN("%s: %s: expected MiB/s from 0 (unlimited) to 1000000",
		       dev_name_of(c), name);
		return -EINVAL;
	}
	*throttle = v;
	return 0;
}

static int msg_hydration(struct crucible *c, const char *arg)
{
	bool on;

	if (!strcasecmp(arg, "on")) {
		on = true;
	} else if (!strcasecmp(arg, "off")) {
		on = false;
	} else {
		DMWARN("%s: hydration: expected 'on' or 'off'", dev_name_of(c));
		return -EINVAL;
	}
	if (!c->parent) {
		DMWARN("%s: hydration: the volume has no parent", dev_name_of(c));
		return -EINVAL;
	}
	c->hydrate_on = on;
	if (on)
		crucible_kick_hydration(c);
	crucible_raise_event(c);
	return 0;
}

static int crucible_message(struct dm_target *ti, unsigned int argc,
			    char **argv, char *result, unsigned int maxlen)
{
	struct crucible *c = ti->private;

	if (argc == 2 && !strcasecmp(argv[0], "reconcile")) {
		if (!strcasecmp(argv[1], "start")) {
			c->repair_running = true;
			crucible_kick_repair(c);
		} else if (!strcasecmp(argv[1], "stop")) {
			c->repair_running = false;
		} else {
			DMWARN("%s: reconcile: expected 'start' or 'stop'", dev_name_of(c));
			return -EINVAL;
		}
		crucible_raise_event(c);
		return 0;
	}
	if (argc == 2 && !strcasecmp(argv[0], "fail_leg"))
		return msg_leg(c, argv[1], true);
	if (argc == 2 && !strcasecmp(argv[0], "restore_leg"))
		return msg_leg(c, argv[1], false);
	if (argc == 1 && !strcasecmp(argv[0], "reset_counters")) {
		int i;

		atomic64_set(&c->stats.reads, 0);
		atomic64_set(&c->stats.writes, 0);
		atomic64_set(&c->stats.flushes, 0);
		atomic64_set(&c->stats.mismatches, 0);
		atomic64_set(&c->stats.repaired, 0);
		atomic64_set(&c->stats.parent_errors, 0);
		for (i = 0; i < CRUCIBLE_NR_LEGS; i++)
			atomic64_set(&c->legs[i].errors, 0);
		return 0;
	}
	if (argc == 2 && !strcasecmp(argv[0], "repair_throttle"))
		return msg_throttle(c, argv[0], argv[1], &c->repair_throttle);
	if (argc == 2 && !strcasecmp(argv[0], "read_policy")) {
		if (!strcasecmp(argv[1], "round_robin")) {
			c->read_policy = CRUCIBLE_READ_ROUND_ROBIN;
		} else if (!strcasecmp(argv[1], "least_pending")) {
			c->read_policy = CRUCIBLE_READ_LEAST_PENDING;
		} else {
			DMWARN("%s: read_policy: expected 'round_robin' or 'least_pending'",
			       dev_name_of(c));
			return -EINVAL;
		}
		return 0;
	}
	if (argc == 2 && !strcasecmp(argv[0], "hydration"))
		return msg_hydration(c, argv[1]);
	if (argc == 2 && !strcasecmp(argv[0], "hydration_throttle"))
		return msg_throttle(c, argv[0], argv[1], &c->hydrate_throttle);
	DMWARN("%s: unknown message '%s'; expected reconcile start|stop, fail_leg <n>,",
	       dev_name_of(c), argc ? argv[0] : "");
	DMWARN("restore_leg <n>, reset_counters, repair_throttle <MiB/s>, read_policy <name>,");
	DMWARN("hydration on|off or hydration_throttle <MiB/s>");
	return -EINVAL;
}

static int crucible_iterate_devices(struct dm_target *ti,
				    iterate_devices_callout_fn fn, void *data)
{
	struct crucible *c = ti->private;
	int i, r = 0;

	for (i = 0; i < CRUCIBLE_NR_LEGS && !r; i++)
		r = fn(ti, c->legs[i].dev,
		       c->geo.data_start << (CRUCIBLE_BLOCK_SHIFT - 9),
		       ti->len, data);
	return r;
}

static void crucible_io_hints(struct dm_target *ti, struct queue_limits *limits)
{
	limits->logical_block_size = CRUCIBLE_BLOCK_SIZE;
	limits->physical_block_size = CRUCIBLE_BLOCK_SIZE;
	limits->io_min = CRUCIBLE_BLOCK_SIZE;
	limits->discard_granularity = CRUCIBLE_BLOCK_SIZE;
	limits->max_discard_sectors = 1U << 21;		/* 1 GiB */
	limits->max_hw_discard_sectors = 1U << 21;
	limits->max_write_zeroes_sectors = 1U << 21;
}

static struct target_type crucible_target = {
	.name = "crucible",
	.version = {1, 0, 0},
	.module = THIS_MODULE,
	.ctr = crucible_ctr,
	.dtr = crucible_dtr,
	.map = crucible_map,
	.presuspend = crucible_presuspend,
	.postsuspend = crucible_postsuspend,
	.preresume = crucible_preresume,
	.resume = crucible_resume,
	.status = crucible_status,
	.message = crucible_message,
	.iterate_devices = crucible_iterate_devices,
	.io_hints = crucible_io_hints,
};

static int __init dm_crucible_init(void)
{
	int r = dm_register_target(&crucible_target);

	if (r < 0) {
		DMERR("register failed %d", r);
		return r;
	}
	r = crucible_nl_init();
	if (r) {
		DMERR("cannot register the generic netlink family (error %d)", r);
		dm_unregister_target(&crucible_target);
	}
	return r;
}

static void __exit dm_crucible_exit(void)
{
	/* No command may reach a target type that is going away. */
	crucible_nl_exit();
	dm_unregister_target(&crucible_target);
	free_err_msgs(true);
}

module_init(dm_crucible_init);
module_exit(dm_crucible_exit);

MODULE_DESCRIPTION(DM_NAME " three-leg mirror with per-block hashes");
MODULE_AUTHOR("dm-crucible developers");
MODULE_LICENSE("GPL");
MODULE_ALIAS_GENL_FAMILY(CRUCIBLE_GENL_NAME);

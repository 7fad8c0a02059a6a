/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-crucible: a three-leg mirror with per-block xxh64 records.
 *
 * Internal interfaces between the target (I/O path, ctr/status/message),
 * the metadata (superblocks, region table, records, commit) and repair.
 */
#ifndef DM_CRUCIBLE_H
#define DM_CRUCIBLE_H

#include <linux/device-mapper.h>
#include <linux/dm-bufio.h>
#include <linux/dm-io.h>
#include <linux/bio.h>
#include <linux/workqueue.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/atomic.h>
#include <linux/mutex.h>
#include <linux/xarray.h>
#include <linux/completion.h>

#include "../include/crucible/format.h"
#include "../include/crucible/reconcile.h"
#include "../include/crucible/hydrate.h"

#define DM_MSG_PREFIX "crucible"

/* Messages about one volume, prefixed with its device name. */
#define vol_err(c, fmt, ...) \
	DMERR("%s: " fmt, dm_table_device_name((c)->ti->table), ##__VA_ARGS__)
#define vol_err_ratelimited(c, fmt, ...) \
	DMERR_LIMIT("%s: " fmt, dm_table_device_name((c)->ti->table), ##__VA_ARGS__)
#define vol_warn(c, fmt, ...) \
	DMWARN("%s: " fmt, dm_table_device_name((c)->ti->table), ##__VA_ARGS__)
#define vol_info(c, fmt, ...) \
	DMINFO("%s: " fmt, dm_table_device_name((c)->ti->table), ##__VA_ARGS__)

/* The largest bio the target accepts in one piece: 128 KiB. */
#define CRUCIBLE_MAX_IO_BLOCKS		32

/* Blocks the repair engine moves per I/O. */
#define CRUCIBLE_REPAIR_CHUNK_BLOCKS	256

enum crucible_leg_state {
	CRUCIBLE_LEG_ALIVE = 0,	/* takes I/O (may still be stale in regions) */
	CRUCIBLE_LEG_FAILED,	/* an I/O error took it out */
	CRUCIBLE_LEG_DISABLED,	/* the operator took it out */
};

enum crucible_read_policy {
	CRUCIBLE_READ_ROUND_ROBIN = 0,
	CRUCIBLE_READ_LEAST_PENDING,
};

enum crucible_mode {
	CRUCIBLE_MODE_RW = 0,
	CRUCIBLE_MODE_FENCED,	/* a newer owner took the legs over */
	CRUCIBLE_MODE_FAILED,	/* no leg left */
};

/*
 * Per-region in-memory state, one u32 each, under crucible->lock.
 * bits 0-2	leg i is stale: its copy of the region may differ from the
 *		source; reads avoid it, commits do not stamp it
 * DIRTY	the region is marked dirty on disk (on every alive leg); writes
 *		may go straight to the legs
 * WRITTEN	written since the last commit: stamp it at the next one
 * REHASH	records may lag the data (found dirty at assembly): no I/O is
 *		served until repair has rehashed it from the source
 * VERIFY	stale legs' records cannot be trusted: repair hashes their data
 * LOCKED	repair owns the region: new writes wait
 * INIT		its records are initialised on the legs in sync (it was
 *		stamped, or marked dirty, at least once): an all-zero record
 *		in it is a lost record, not "never written"
 * STAMP, CLEAN	scratch bits of a commit (worker context only)
 * bits 16-31	writes in flight
 */
#define RS_STALE_MASK		0x7U
#define RS_DIRTY		BIT(3)
#define RS_WRITTEN		BIT(4)
#define RS_REHASH		BIT(5)
#define RS_VERIFY		BIT(6)
#define RS_LOCKED		BIT(7)
#define RS_STAMP		BIT(8)
#define RS_CLEAN		BIT(9)
#define RS_INIT			BIT(10)
#define RS_INFLIGHT_SHIFT	16
#define RS_INFLIGHT_ONE		BIT(RS_INFLIGHT_SHIFT)
#define RS_INFLIGHT(s)		((s) >> RS_INFLIGHT_SHIFT)

struct crucible_leg {
	struct dm_dev *dev;
	struct dm_bufio_client *bufio;	/* region table and records */
	struct crucible_sb *sb;		/* in-core superblock, written alternately */
	u64 sb_acked_seq;		/* seq and flush of the last superblock */
	u64 sb_acked_flush;		/* write the leg acknowledged */
	u64 out_flush;			/* the flush number when it went out */
	bool out_flushed;		/* flushed after it went out (fail_leg) */
	atomic_t writes;		/* write clones in flight to it */
	enum crucible_leg_state state;	/* under crucible->lock */
	bool fresh;			/* blank or replaced: everything stale */
	bool stale;			/* some region is stale here (status) */
	atomic_t pending;		/* reads in flight, for least_pending */
	atomic64_t errors;
};

struct crucible_stats {
	atomic64_t reads;
	atomic64_t writes;
	atomic64_t flushes;
	atomic64_t mismatches;
	atomic64_t repaired;
	atomic64_t parent_errors;	/* parent reads that failed */
};

/* While the volume is busy, hydration waits this long between chunks. */
#define CRUCIBLE_HYDRATE_BUSY_WAIT_MS	100
/* After a parent read error: first retry, and the longest wait. */
#define CRUCIBLE_HYDRATE_BACKOFF_MIN_MS	1000
#define CRUCIBLE_HYDRATE_BACKOFF_MAX_MS	60000

/* Netlink: what the last event described, and mismatches to report. */
#define CRUCIBLE_NL_MISMATCH_QUEUE	16

struct crucible_nl_mismatch {
	u8 cmd;				/* CRUCIBLE_EVENT_MISMATCH or _UNRECOVERABLE */
	u8 leg;
	u64 block;
};

struct crucible_nl_last {
	u8 legs[CRUCIBLE_NR_LEGS];	/* CRUCIBLE_NL_LEG_* */
	u64 in_sync;
};

/* A range of blocks a bio holds (dm-crucible-range.c). */
struct crucible_range {
	struct list_head node;		/* in its bucket's held or waiting list */
	u64 first;
	u32 nr;
	bool write;
	bool waiting;			/* under the bucket lock */
	struct task_struct *task;	/* the waiter */
};

#define CRUCIBLE_RANGE_BUCKETS		64

struct crucible_range_bucket {
	spinlock_t lock;		/* the two lists */
	struct list_head held;
	struct list_head waiting;	/* in the order they came */
};

/* crucible->flags */
#define CRUCIBLE_F_NEED_COMMIT	0	/* written since the last commit */

/* One leg's superblock copies, read by crucible_md_check_fence(). */
struct crucible_fence_read {
	struct crucible *c;
	unsigned long error;
	struct crucible_sb *sb;		/* CRUCIBLE_SB_COPIES, block aligned */
};

struct crucible {
	struct dm_target *ti;
	struct crucible_leg legs[CRUCIBLE_NR_LEGS];
	struct dm_dev *parent;		/* read-only origin, or NULL */
	sector_t parent_sectors;	/* its size */
	u64 parent_recorded;		/* parent size the legs were made on */
	struct crucible_geometry geo;
	u64 seed;
	u8 uuid[16];

	/* Table arguments. */
	u64 generation;
	bool generation_given;
	char owner[CRUCIBLE_OWNER_LEN];
	int replace_leg;		/* -1: none */
	bool repair_auto;
	unsigned int repair_throttle;	/* MiB/s, 0 = unlimited */
	enum crucible_read_policy read_policy;
	unsigned int commit_period_ms;
	bool hydrate_on;
	unsigned int hydrate_throttle;	/* MiB/s, 0 = unlimited */

	spinlock_t lock;		/* region states, leg states, lists */
	struct mutex mark_lock;		/* dirty marking vs. a leg coming back */
	u32 *rstate;			/* per region, see RS_* */
	u64 unsynced;			/* regions with a stale leg or REHASH */
	u8 fault_persisted;		/* legs whose failure is on disk */
	u8 fault_recording;		/* legs whose failure is being written */
	u8 fault_pending;		/* legs that went out since it was */
	u8 faulted_on_disk;		/* legs other legs' superblocks call failed */
	enum crucible_mode mode;
	bool repair_running;		/* reconcile started */
	bool suspended;
	bool assembled;			/* preresume compared the legs */
	bool new_volume;		/* crucible_md_open found three blank legs */
	/* What the constructor found, and sized rstate for. */
	bool loaded_new;
	u8 loaded_uuid[16];
	u32 loaded_region_blocks;
	unsigned long flags;		/* CRUCIBLE_F_*, atomic bit operations */
	bool repair_active;		/* repaired something since last idle */
	unsigned int rr_next;		/* round robin cursor */

	struct bio_list deferred;	/* bios for the worker */
	struct bio_list fault_waiters;	/* writes acked only once a fault is on disk */

	u64 flush;			/* last committed flush number */
	unsigned long last_commit;	/* jiffies */
	u64 repair_cursor;		/* next region background repair looks at */
	u64 repair_bytes;		/* copied by the last region repair */
	unsigned long repair_event;	/* jiffies of the last progress event */

	/* Hydration: the cursor is under lock, the rest is the hydrate work's. */
	struct crucible_hydration hydr;
	unsigned int hydrate_backoff_ms; /* 0, or the wait after a parent error */
	bool hydrate_waited;		/* waited once for a busy volume */
	bool hydrate_reported;		/* "complete" said */
	u64 hydrate_ios;		/* reads + writes when the last chunk ended */

	struct workqueue_struct *wq;	/* ordered: worker and repair */
	struct workqueue_struct *io_wq;	/* completions, read verification */
	struct work_struct worker;
	struct delayed_work repair_work;
	struct delayed_work hydrate_work;
	struct delayed_work waker;	/* periodic commit */
	struct work_struct event_work;	/* dm_table_event */
	wait_queue_head_t inflight_wait;

	struct dm_io_client *io_client;
	struct bio_set bs;
	mempool_t page_pool;		/* bounce pages of writes */
	struct mutex bounce_lock;	/* writers waiting for whole sets */
	mempool_t block_pool;		/* 4 KiB buffers, crucible_block_alloc() */

	void *repair_buf[CRUCIBLE_NR_LEGS];	/* a chunk of each leg's data */
	u64 *repair_hash;		/* source hashes of the chunk */
	u32 *repair_flush;		/* source flush numbers of the chunk */

	struct crucible_stats stats;

	/* Fencing (dm-crucible-metadata.c) */
	atomic_t md_ops;		/* metadata operations in progress */
	atomic_t writes_in_flight;	/* data writes mapped, not yet completed */
	struct list_head fence_node;	/* in the instances of this kernel */
	struct mutex fence_lock;	/* fence_read[] */
	atomic_t fence_reads;
	struct completion fence_done;
	struct crucible_fence_read fence_read[CRUCIBLE_NR_LEGS];

	struct crucible_range_bucket range_buckets[CRUCIBLE_RANGE_BUCKETS];

	/* Blocks with no good copy on any leg: reads of them fail. */
	struct xarray unrecoverable;	/* block -> xa_mk_value(1) */
	atomic64_t nr_unrecoverable;

	/* Netlink (dm-crucible-netlink.c) */
	struct list_head nl_node;	/* in the volume list once resumed */
	u32 nl_dev;			/* the volume's dev_t, encoded */
	struct crucible_nl_last nl_last;
	unsigned long nl_last_progress;	/* jiffies of the last progress event */
	bool nl_hydrated_sent;
	unsigned int nl_nr_mismatch;	/* under lock */
	struct crucible_nl_mismatch nl_mismatch[CRUCIBLE_NL_MISMATCH_QUEUE];
};

/* Per-bio data of the original bio. */
struct crucible_io {
	struct crucible *c;
	struct work_struct work;
	u64 region;
	u64 first_block;		/* volume block of the bio's start */
	unsigned int nr_blocks;
	int leg;			/* read: the leg read from */
	atomic_t pending;		/* write: leg clones in flight */
	unsigned long failed;		/* write: legs that failed (bit mask) */
	u8 legs_written;		/* write: legs the data went to */
	blk_status_t status;
	struct bio *bounce;		/* write: the stable copy */
	bool peeked;			/* read: hash[] holds the records */
	struct crucible_range range;
	u64 hash[CRUCIBLE_MAX_IO_BLOCKS];
};

static inline u64 crucible_block_to_region(struct crucible *c, u64 block)
{
	return block >> c->geo.region_shift;
}

static inline sector_t crucible_leg_data_sector(struct crucible *c, u64 block)
{
	return (c->geo.data_start + block) << (CRUCIBLE_BLOCK_SHIFT - 9);
}

/* The legs in service; crucible->lock held. */
static inline u8 crucible_alive_mask(struct crucible *c)
{
	u8 mask = 0;
	int i;

	for (i = 0; i < CRUCIBLE_NR_LEGS; i++)
		if (c->legs[i].state == CRUCIBLE_LEG_ALIVE)
			mask |= 1U << i;
	return mask;
}

/* The legs in service, for callers that do not hold crucible->lock. */
static inline u8 crucible_alive_legs(struct crucible *c)
{
	unsigned long flags;
	u8 alive;

	spin_lock_irqsave(&c->lock, flags);
	alive = crucible_alive_mask(c);
	spin_unlock_irqrestore(&c->lock, flags);
	return alive;
}

/* Can repair do anything for a region in state @s now? */
static inline bool crucible_region_repairable(u32 s, u8 alive)
{
	if (!(alive & ~(s & RS_STALE_MASK)))
		return false;	/* no source until a leg comes back */
	return (s & RS_REHASH) || (s & RS_STALE_MASK & alive);
}

/* Region state updates that keep crucible->unsynced right; lock held. */
void __crucible_set_stale(struct crucible *c, u64 region, u32 bits);
void __crucible_clear_stale(struct crucible *c, u64 region, u32 bits);

/* dm-crucible-metadata.c */
int crucible_md_open_bufio(struct crucible *c, char **error);
void crucible_md_default_owner(char *owner, size_t len);
int crucible_md_open(struct crucible *c, char **error);
void crucible_md_close(struct crucible *c);
int crucible_md_assemble(struct crucible *c, char **error);
int crucible_md_write_sb(struct crucible *c, unsigned int leg);
int crucible_md_write_sbs(struct crucible *c);
int crucible_md_mark_dirty(struct crucible *c, const u64 *regions,
			   unsigned int nr);
int crucible_md_commit(struct crucible *c);
bool crucible_md_begin(struct crucible *c);
void crucible_md_end(struct crucible *c);
int crucible_md_enter(struct crucible *c);
int crucible_md_check_fence(struct crucible *c);
void crucible_md_fence(struct crucible *c, u64 by_generation);
int crucible_md_prepare_leg(struct crucible *c, unsigned int leg,
			    u64 *nr_stale, const char **why);
void crucible_md_unlock_marks(struct crucible *c);
int crucible_md_get_record(struct crucible *c, unsigned int leg, u64 block,
			   struct crucible_rec *rec);
bool crucible_md_peek_records(struct crucible *c, unsigned int leg, u64 block,
			      unsigned int nr, u64 *hashes);
int crucible_md_set_records(struct crucible *c, unsigned int leg, u64 block,
			    unsigned int nr, const u64 *hashes, u32 flush);
void crucible_md_get_region(struct crucible *c, unsigned int leg, u64 region,
			    struct crucible_region_meta *m);
int crucible_md_set_region(struct crucible *c, unsigned int leg, u64 region,
			   const struct crucible_region_meta *m);
void crucible_leg_failed(struct crucible *c, unsigned int leg, int err);

/* dm-crucible-repair.c */
int crucible_lock_region(struct crucible *c, u64 region, int *src);
void crucible_region_written(struct crucible *c, u64 region, u8 ok);
void crucible_unlock_region(struct crucible *c, u64 region);
int crucible_repair_region(struct crucible *c, u64 region);
void crucible_repair_work(struct work_struct *ws);
void crucible_kick_repair(struct crucible *c);
bool crucible_mark_whole_legs(struct crucible *c);

/* dm-crucible-hydrate.c */
bool crucible_parent_backed(struct crucible *c, u64 block);
int crucible_read_parent(struct crucible *c, u64 block, unsigned int nr,
			 void *buf);
int crucible_read_parent_bio(struct crucible *c, struct bio *bio, u64 first,
			     const unsigned long *blocks, unsigned int nr);
void crucible_hydrate_work(struct work_struct *ws);
void crucible_kick_hydration(struct crucible *c);
const char *crucible_hydration_state(struct crucible *c);
int crucible_discard(struct crucible *c, struct bio *bio);

/* dm-crucible-range.c */
void crucible_range_buckets_init(struct crucible *c);
void crucible_range_init(struct crucible_range *r, u64 first, unsigned int nr,
			 bool write);
bool crucible_range_trylock(struct crucible *c, struct crucible_range *r);
void crucible_range_lock(struct crucible *c, struct crucible_range *r);
void crucible_range_unlock(struct crucible *c, struct crucible_range *r);

/* dm-crucible-netlink.c */
int crucible_nl_init(void);
void crucible_nl_exit(void);
void crucible_nl_register(struct crucible *c);
void crucible_nl_unregister(struct crucible *c);
void crucible_nl_reset(struct crucible *c);
void crucible_nl_notify(struct crucible *c);
void crucible_nl_mismatch(struct crucible *c, unsigned int leg, u64 block);
void crucible_nl_unrecoverable(struct crucible *c, u64 block);

/* dm-crucible-target.c */
int crucible_set_leg(struct crucible *c, unsigned int leg, bool fail,
		     const char **why);
void crucible_wake_worker(struct crucible *c);
void crucible_raise_event(struct crucible *c);
void crucible_block_unrecoverable(struct crucible *c, u64 block);
void crucible_err(char **error, const char *fmt, ...) __printf(2, 3);
int crucible_parse_opt_args(struct crucible *c, struct dm_arg_set *as,
			    char **error);
int crucible_dm_io(struct crucible *c, struct block_device *bdev,
		   blk_opf_t opf, sector_t sector, sector_t count, void *buf);
int crucible_sync_io(struct crucible *c, unsigned int leg, enum req_op op,
		     blk_opf_t flags, u64 block, unsigned int nr, void *buf);
void *crucible_block_alloc(struct crucible *c);
void crucible_block_free(struct crucible *c, void *buf);

#endif /* DM_CRUCIBLE_H */

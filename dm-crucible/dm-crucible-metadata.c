// SPDX-License-Identifier: GPL-2.0
/*
 * dm-crucible metadata: superblocks, the region table and the per-block
 * records of each leg, read and written through dm-bufio, and the commit
 * that makes them durable.
 *
 * Ordering rules (Documentation/admin-guide/crucible.rst):
 * - a region is marked dirty on disk, and that is flushed, before the
 *   first data write into it;
 * - a commit flushes the legs' data, then writes records and region
 *   entries, flushes again, then stamps the flush number in the superblock;
 * - a region's dirty mark is cleared only by a commit after the one that
 *   made its records durable, when no write is in flight in it.
 */
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/utsname.h>

#include "dm-crucible.h"

/* Scratch bits in rstate used only inside a commit (worker context). */
#define RS_STAMP	BIT(8)
#define RS_CLEAN	BIT(9)

static sector_t sb_sector(unsigned int copy)
{
	return (sector_t)copy << (CRUCIBLE_BLOCK_SHIFT - 9);
}

static int read_sb_copy(struct crucible *c, unsigned int leg, unsigned int copy,
			struct crucible_sb *sb)
{
	return crucible_sync_io(c, leg, REQ_OP_READ, 0,
				sb_sector(copy) >> (CRUCIBLE_BLOCK_SHIFT - 9),
				1, sb);
}

/*
 * Read both superblock copies of a leg and keep the valid one with the
 * higher sequence number in @sb.  Returns the verdict for the leg: valid if
 * either copy is; otherwise the most telling failure of the two.
 */
static enum crucible_sb_verdict read_leg_sb(struct crucible *c, unsigned int leg,
					    struct crucible_sb *sb, int *err)
{
	struct crucible_sb *b;
	enum crucible_sb_verdict va, vb;
	int pick;

	*err = 0;
	b = kmalloc(sizeof(*b), GFP_KERNEL);
	if (!b) {
		*err = -ENOMEM;
		return CRUCIBLE_SB_BAD_FIELDS;
	}
	*err = read_sb_copy(c, leg, 0, sb);
	if (!*err)
		*err = read_sb_copy(c, leg, 1, b);
	if (*err) {
		kfree(b);
		return CRUCIBLE_SB_BAD_FIELDS;
	}
	va = crucible_sb_check(sb);
	vb = crucible_sb_check(b);
	pick = crucible_sb_pick(sb, va, b, vb);
	/* Keep the copy the verdict is about, for the error message. */
	if (pick == 1 || (pick < 0 && va == CRUCIBLE_SB_BLANK))
		memcpy(sb, b, sizeof(*b));
	kfree(b);
	if (pick >= 0)
		return CRUCIBLE_SB_VALID;
	if (va == CRUCIBLE_SB_BLANK && vb == CRUCIBLE_SB_BLANK)
		return CRUCIBLE_SB_BLANK;
	/* One copy blank and the other broken is still a broken leg. */
	if (va == CRUCIBLE_SB_BLANK)
		return vb;
	if (vb == CRUCIBLE_SB_BLANK)
		return va;
	return va == CRUCIBLE_SB_BAD_VERSION ? va : vb;
}

static void init_new_sb(struct crucible *c, struct crucible_sb *sb,
			unsigned int leg)
{
	memset(sb, 0, sizeof(*sb));
	sb->magic = cpu_to_le64(CRUCIBLE_MAGIC);
	sb->version = cpu_to_le32(CRUCIBLE_FORMAT_VERSION);
	sb->leg_index = cpu_to_le32(leg);
	sb->nr_legs = cpu_to_le32(CRUCIBLE_NR_LEGS);
	sb->block_size = cpu_to_le32(CRUCIBLE_BLOCK_SIZE);
	memcpy(sb->uuid, c->uuid, sizeof(sb->uuid));
	sb->volume_blocks = cpu_to_le64(c->geo.volume_blocks);
	sb->region_blocks = cpu_to_le32(c->geo.region_blocks);
	sb->region_table_start = cpu_to_le64(c->geo.region_table_start);
	sb->record_start = cpu_to_le64(c->geo.record_start);
	sb->data_start = cpu_to_le64(c->geo.data_start);
	sb->seed = cpu_to_le64(c->seed);
}

/*
 * The parent the legs were made on and how far hydration got, against the
 * parent in the table (shared/hydrate.c has the rules).
 */
static int open_parent_state(struct crucible *c, const struct crucible_sb *ref,
			     u64 stored_gen, char **error)
{
	u64 stored[CRUCIBLE_NR_LEGS], recorded = le64_to_cpu(ref->parent_sectors);
	/* Formatted (cruciblectl format) but never activated: nothing written. */
	bool blank = !stored_gen;
	unsigned int i, n = 0;
	u64 total;

	if (blank)
		recorded = c->parent_sectors;
	total = crucible_parent_blocks(recorded);
	for (i = 0; i < CRUCIBLE_NR_LEGS; i++)
		if (!c->legs[i].fresh && !blank)
			stored[n++] = le64_to_cpu(c->legs[i].sb->hydrated_blocks);
	crucible_hydration_init(&c->hydr, total, stored, n);

	switch (crucible_parent_check(blank, recorded, c->hydr.durable,
				      c->parent, c->parent_sectors)) {
	case CRUCIBLE_PARENT_NOT_RECORDED:
		crucible_err(error, "the volume was created without a parent; a parent can only be given when the volume is created");
		return -EINVAL;
	case CRUCIBLE_PARENT_SIZE_DIFFERS:
		crucible_err(error, "parent size differs: the volume was made from a parent of %llu sectors, this one has %llu",
			     (unsigned long long)recorded,
			     (unsigned long long)c->parent_sectors);
		return -EINVAL;
	case CRUCIBLE_PARENT_STILL_NEEDED:
		crucible_err(error, "parent still needed: %llu of %llu blocks hydrated; keep it in the table until hydration completes",
			     (unsigned long long)c->hydr.durable,
			     (unsigned long long)total);
		return -EINVAL;
	default:
		break;
	}
	c->parent_recorded = recorded;
	c->hydrate_reported = !c->parent || crucible_hydration_done(&c->hydr);
	return 0;
}

/*
 * Read and validate the legs' superblocks; decide the volume's identity,
 * geometry and activation generation.  Writes nothing.  On failure *error
 * names the leg and the reason.
 */
int crucible_md_open(struct crucible *c, char **error)
{
	enum crucible_sb_verdict v[CRUCIBLE_NR_LEGS];
	struct crucible_sb *ref = NULL;
	u64 stored_gen = 0, stored_seq = 0;
	const char *stored_owner = "";
	u32 region_blocks;
	int i, r, err, nr_valid = 0;

	for (i = 0; i < CRUCIBLE_NR_LEGS; i++) {
		v[i] = read_leg_sb(c, i, c->legs[i].sb, &err);
		if (err) {
			crucible_err(error, "leg %d: cannot read superblock (error %d)",
				     i, err);
			return err;
		}
		if (i == c->replace_leg) {
			c->legs[i].fresh = true;
			continue;
		}
		switch (v[i]) {
		case CRUCIBLE_SB_VALID:
			nr_valid++;
			if (!ref || le64_to_cpu(c->legs[i].sb->generation) >
				    le64_to_cpu(ref->generation))
				ref = c->legs[i].sb;
			break;
		case CRUCIBLE_SB_BLANK:
			c->legs[i].fresh = true;
			break;
		case CRUCIBLE_SB_BAD_VERSION:
			crucible_err(error, "leg %d: format version %u is not supported (this module reads version %u)",
				     i, le32_to_cpu(c->legs[i].sb->version),
				     CRUCIBLE_FORMAT_VERSION);
			return -EINVAL;
		default:
			crucible_err(error, "leg %d: %s in both copies; replace it with 'replace_leg %d'",
				     i, crucible_sb_verdict_str(v[i]), i);
			return -EINVAL;
		}
	}

	if (!nr_valid) {
		if (c->replace_leg >= 0) {
			crucible_err(error, "replace_leg %d given but no other leg is formatted",
				     c->replace_leg);
			return -EINVAL;
		}
		/* Three blank legs: a new volume. */
		get_random_bytes(c->uuid, sizeof(c->uuid));
		get_random_bytes(&c->seed, sizeof(c->seed));
		c->flush = 0;
		if (!c->generation_given)
			c->generation = 1;
		for (i = 0; i < CRUCIBLE_NR_LEGS; i++) {
			init_new_sb(c, c->legs[i].sb, i);
			c->legs[i].fresh = false;	/* nothing to sync */
		}
		/* A new volume records the parent it is made on. */
		c->parent_recorded = c->parent_sectors;
		crucible_hydration_init(&c->hydr,
					crucible_parent_blocks(c->parent_sectors),
					NULL, 0);
		c->hydrate_reported = !c->parent;
		return 0;
	}

	for (i = 0; i < CRUCIBLE_NR_LEGS; i++) {
		struct crucible_sb *sb = c->legs[i].sb;

		if (c->legs[i].fresh) {
			if (i != c->replace_leg) {
				crucible_err(error, "leg %d is blank beside formatted legs; pass 'replace_leg %d' to accept it as a replacement",
					     i, i);
				return -EINVAL;
			}
			continue;
		}
		if (memcmp(sb->uuid, ref->uuid, sizeof(sb->uuid))) {
			crucible_err(error, "leg %d belongs to another volume (uuid %pUb, expected %pUb)",
				     i, sb->uuid, ref->uuid);
			return -EINVAL;
		}
		if (le32_to_cpu(sb->leg_index) != i) {
			crucible_err(error, "leg %d holds leg %u of its volume: legs are given in the wrong order",
				     i, le32_to_cpu(sb->leg_index));
			return -EINVAL;
		}
		if (le64_to_cpu(sb->volume_blocks) != le64_to_cpu(ref->volume_blocks) ||
		    le32_to_cpu(sb->region_blocks) != le32_to_cpu(ref->region_blocks) ||
		    le64_to_cpu(sb->seed) != le64_to_cpu(ref->seed)) {
			crucible_err(error, "leg %d: geometry differs from the other legs'",
				     i);
			return -EINVAL;
		}
		if (le64_to_cpu(sb->generation) > stored_gen ||
		    (le64_to_cpu(sb->generation) == stored_gen &&
		     le64_to_cpu(sb->seq) > stored_seq)) {
			stored_gen = le64_to_cpu(sb->generation);
			stored_seq = le64_to_cpu(sb->seq);
			stored_owner = (const char *)sb->owner;
		}
		c->flush = max_t(u64, c->flush, le64_to_cpu(sb->flush));
	}

	region_blocks = le32_to_cpu(ref->region_blocks);
	if (le64_to_cpu(ref->volume_blocks) != c->geo.volume_blocks) {
		crucible_err(error, "volume length %llu sectors does not match the formatted size %llu sectors",
			     (unsigned long long)c->ti->len,
			     (unsigned long long)le64_to_cpu(ref->volume_blocks) *
			     CRUCIBLE_SECTORS_PER_BLOCK);
		return -EINVAL;
	}
	if (region_blocks != c->geo.region_blocks) {
		/* The table's region size only applies to a new volume. */
		if (crucible_geometry_init(&c->geo, c->geo.volume_blocks,
					   region_blocks)) {
			crucible_err(error, "formatted region size is invalid");
			return -EINVAL;
		}
	}
	memcpy(c->uuid, ref->uuid, sizeof(c->uuid));
	c->seed = le64_to_cpu(ref->seed);

	r = open_parent_state(c, ref, stored_gen, error);
	if (r)
		return r;

	if (!c->generation_given) {
		if (stored_gen == U64_MAX) {
			crucible_err(error, "stored generation %llu cannot be raised: no takeover possible",
				     (unsigned long long)stored_gen);
			return -EINVAL;
		}
		c->generation = stored_gen + 1;
	} else if (c->generation < stored_gen) {
		crucible_err(error, "generation %llu is lower than the stored generation %llu",
			     (unsigned long long)c->generation,
			     (unsigned long long)stored_gen);
		return -EINVAL;
	} else if (c->generation == stored_gen &&
		   strncmp(stored_owner, c->owner, CRUCIBLE_OWNER_LEN)) {
		crucible_err(error, "generation %llu is the stored generation of owner '%.*s', not of '%s'",
			     (unsigned long long)c->generation,
			     CRUCIBLE_OWNER_LEN, stored_owner, c->owner);
		return -EINVAL;
	}

	for (i = 0; i < CRUCIBLE_NR_LEGS; i++) {
		if (c->legs[i].fresh) {
			init_new_sb(c, c->legs[i].sb, i);
			c->legs[i].sb->seq = ref->seq;
		}
	}
	return 0;
}

static sector_t region_entry_block(struct crucible *c, u64 region)
{
	return c->geo.region_table_start + region / CRUCIBLE_ENTRIES_PER_BLOCK;
}

static sector_t record_block(struct crucible *c, u64 block)
{
	return c->geo.record_start + block / CRUCIBLE_RECORDS_PER_BLOCK;
}

void crucible_md_get_region(struct crucible *c, unsigned int leg, u64 region,
			    struct crucible_region_meta *m)
{
	struct crucible_region_entry *e;
	struct dm_buffer *buf;
	void *data;

	data = dm_bufio_read(c->legs[leg].bufio, region_entry_block(c, region),
			     &buf);
	if (IS_ERR(data)) {
		/* Unreadable: as suspicious as a failed check. */
		memset(m, 0, sizeof(*m));
		m->dirty = true;
		return;
	}
	e = (struct crucible_region_entry *)data +
	    region % CRUCIBLE_ENTRIES_PER_BLOCK;
	crucible_region_decode(e, c->seed, region, m);
	dm_bufio_release(buf);
}

int crucible_md_set_region(struct crucible *c, unsigned int leg, u64 region,
			   const struct crucible_region_meta *m)
{
	struct crucible_region_entry *e;
	struct dm_buffer *buf;
	void *data;

	data = dm_bufio_read(c->legs[leg].bufio, region_entry_block(c, region),
			     &buf);
	if (IS_ERR(data))
		return PTR_ERR(data);
	e = (struct crucible_region_entry *)data +
	    region % CRUCIBLE_ENTRIES_PER_BLOCK;
	crucible_region_encode(e, c->seed, region, m);
	dm_bufio_mark_buffer_dirty(buf);
	dm_bufio_release(buf);
	return 0;
}

int crucible_md_get_record(struct crucible *c, unsigned int leg, u64 block,
			   struct crucible_rec *rec)
{
	struct crucible_record *r;
	struct dm_buffer *buf;
	void *data;
	bool ok;

	data = dm_bufio_read(c->legs[leg].bufio, record_block(c, block), &buf);
	if (IS_ERR(data))
		return PTR_ERR(data);
	r = (struct crucible_record *)data + block % CRUCIBLE_RECORDS_PER_BLOCK;
	ok = crucible_record_decode(r, c->seed, block, rec);
	dm_bufio_release(buf);
	return ok ? 0 : -EILSEQ;
}

/*
 * The record hashes of blocks [@block, @block + @nr) on @leg, if every
 * record block they live in is in dm-bufio's cache: never issues I/O (a
 * read's fast path fetches them when it is mapped; dm_bufio_get() only
 * waits for a read of the block already in flight).  Returns false if one
 * is not cached or fails its check.
 */
bool crucible_md_peek_records(struct crucible *c, unsigned int leg, u64 block,
			      unsigned int nr, u64 *hashes)
{
	struct crucible_record *r;
	struct crucible_rec rec;
	struct dm_buffer *buf = NULL;
	sector_t cur = (sector_t)-1;
	void *data = NULL;
	unsigned int i;
	bool ok = true;

	for (i = 0; i < nr && ok; i++) {
		u64 b = block + i;

		if (record_block(c, b) != cur) {
			if (buf)
				dm_bufio_release(buf);
			buf = NULL;
			cur = record_block(c, b);
			data = dm_bufio_get(c->legs[leg].bufio, cur, &buf);
			if (IS_ERR_OR_NULL(data)) {
				buf = NULL;
				return false;
			}
		}
		r = (struct crucible_record *)data + b % CRUCIBLE_RECORDS_PER_BLOCK;
		ok = crucible_record_decode(r, c->seed, b, &rec);
		hashes[i] = rec.hash;
	}
	if (buf)
		dm_bufio_release(buf);
	return ok;
}

int crucible_md_set_records(struct crucible *c, unsigned int leg, u64 block,
			    unsigned int nr, const u64 *hashes, u32 flush)
{
	struct crucible_record *r;
	struct crucible_rec rec;
	struct dm_buffer *buf = NULL;
	sector_t cur = (sector_t)-1;
	void *data = NULL;
	unsigned int i;

	for (i = 0; i < nr; i++) {
		u64 b = block + i;

		if (record_block(c, b) != cur) {
			if (buf) {
				dm_bufio_mark_buffer_dirty(buf);
				dm_bufio_release(buf);
			}
			cur = record_block(c, b);
			data = dm_bufio_read(c->legs[leg].bufio, cur, &buf);
			if (IS_ERR(data))
				return PTR_ERR(data);
		}
		r = (struct crucible_record *)data + b % CRUCIBLE_RECORDS_PER_BLOCK;
		rec.hash = hashes[i];
		rec.flush = hashes[i] ? (u32)flush : 0;
		crucible_record_encode(r, c->seed, b, &rec);
	}
	if (buf) {
		dm_bufio_mark_buffer_dirty(buf);
		dm_bufio_release(buf);
	}
	return 0;
}

/*
 * Write the next copy of a leg's superblock, FUA.  The caller has flushed
 * whatever the superblock vouches for.
 */
int crucible_md_write_sb(struct crucible *c, unsigned int leg)
{
	struct crucible_sb *sb = c->legs[leg].sb;
	u64 seq = le64_to_cpu(sb->seq) + 1;

	sb->seq = cpu_to_le64(seq);
	crucible_sb_seal(sb);
	return crucible_sync_io(c, leg, REQ_OP_WRITE, REQ_SYNC | REQ_FUA,
				seq & 1, 1, sb);
}

static void fill_sb_state(struct crucible *c, struct crucible_sb *sb)
{
	int i;

	sb->generation = cpu_to_le64(c->generation);
	sb->flush = cpu_to_le64(c->flush);
	memset(sb->owner, 0, sizeof(sb->owner));
	strscpy((char *)sb->owner, c->owner, sizeof(sb->owner));
	sb->parent_sectors = cpu_to_le64(c->parent_recorded);
	sb->hydrated_blocks = cpu_to_le64(c->hydr.durable);
	for (i = 0; i < CRUCIBLE_NR_LEGS; i++)
		sb->leg_state[i] = (c->fault_persisted & (1U << i)) ?
				   CRUCIBLE_LEG_FAULTED : CRUCIBLE_LEG_OK;
}

/*
 * Stamp generation, flush number and leg states into every alive leg's
 * superblock.  A leg that fails the write is failed.  Returns -EIO when no
 * leg took it.
 */
int crucible_md_write_sbs(struct crucible *c)
{
	int i, ok = 0;

	for (i = 0; i < CRUCIBLE_NR_LEGS; i++) {
		struct crucible_leg *leg = &c->legs[i];

		if (leg->state != CRUCIBLE_LEG_ALIVE)
			continue;
		fill_sb_state(c, leg->sb);
		if (leg->fresh)
			leg->sb->flags |= cpu_to_le32(CRUCIBLE_SB_F_REPLACING);
		else
			leg->sb->flags &= ~cpu_to_le32(CRUCIBLE_SB_F_REPLACING);
		if (crucible_md_write_sb(c, i))
			crucible_leg_failed(c, i, -EIO);
		else
			ok++;
	}
	return ok ? 0 : -EIO;
}

#define ASSEMBLY_PREFETCH	64

/* Decode @nr entries of region-table block @blk of a leg into @m. */
static void get_region_block(struct crucible *c, unsigned int leg, u64 blk,
			     unsigned int nr, struct crucible_region_meta *m)
{
	struct crucible_region_entry *e;
	struct dm_buffer *buf;
	unsigned int k;
	void *data;

	data = dm_bufio_read(c->legs[leg].bufio, c->geo.region_table_start + blk,
			     &buf);
	for (k = 0; k < nr; k++) {
		if (IS_ERR(data)) {
			/* Unreadable: as suspicious as a failed check. */
			memset(&m[k], 0, sizeof(m[k]));
			m[k].dirty = true;
			continue;
		}
		e = (struct crucible_region_entry *)data + k;
		crucible_region_decode(e, c->seed,
				       blk * CRUCIBLE_ENTRIES_PER_BLOCK + k, &m[k]);
	}
	if (!IS_ERR(data))
		dm_bufio_release(buf);
}

/* A region's in-memory state from its entries on the formatted legs. */
static u32 assemble_region(struct crucible *c,
			   const struct crucible_region_meta *m,
			   u8 formatted, u8 source_mask)
{
	struct crucible_region_plan plan;
	const struct crucible_region_meta *src;
	u32 s;
	int i;

	crucible_plan_region(m, source_mask, &plan);
	s = plan.stale_mask;
	if (plan.rehash)
		s |= RS_REHASH | RS_VERIFY;
	src = &m[plan.source];
	for (i = 0; i < CRUCIBLE_NR_LEGS; i++) {
		if (!(formatted & BIT(i)) || (source_mask & BIT(i)))
			continue;
		/* A leg recorded as failed is compared, never the source. */
		if (plan.rehash || !m[i].valid ||
		    m[i].generation != src->generation ||
		    m[i].flush != src->flush)
			s |= BIT(i);
	}
	for (i = 0; i < CRUCIBLE_NR_LEGS; i++)
		if (c->legs[i].fresh)
			s |= BIT(i) | RS_VERIFY;
	return s;
}

/*
 * Compare the region tables of all legs and work out, per region, which
 * legs are stale and whether records must be rehashed (DESIGN.md section 3,
 * "Assembly and reconciliation").  Runs before the first resume.
 */
int crucible_md_assemble(struct crucible *c, char **error)
{
	struct crucible_region_meta m[CRUCIBLE_NR_LEGS], *mt;
	u8 formatted = 0, source_mask;
	u64 blk;
	u32 st;
	int i, j;

	c->faulted_on_disk = 0;
	for (i = 0; i < CRUCIBLE_NR_LEGS; i++) {
		if (c->legs[i].fresh)
			continue;
		formatted |= 1U << i;
		if (le32_to_cpu(c->legs[i].sb->flags) & CRUCIBLE_SB_F_REPLACING)
			c->legs[i].fresh = true;	/* resume an interrupted fill */
	}
	for (i = 0; i < CRUCIBLE_NR_LEGS; i++) {
		if (!(formatted & (1U << i)))
			continue;
		for (j = 0; j < CRUCIBLE_NR_LEGS; j++)
			if (j != i && c->legs[i].sb->leg_state[j] == CRUCIBLE_LEG_FAULTED)
				c->faulted_on_disk |= 1U << j;
	}
	for (i = 0; i < CRUCIBLE_NR_LEGS; i++)
		if (c->legs[i].fresh)
			formatted &= ~(1U << i);
	if (!formatted) {
		crucible_err(error, "no leg holds a complete copy of the volume");
		return -EINVAL;
	}
	/*
	 * A leg other legs recorded as failed may have missed acknowledged
	 * writes: it is never the source while another leg can be.
	 */
	source_mask = formatted & ~c->faulted_on_disk;
	if (!source_mask)
		source_mask = formatted;
	c->fault_persisted = c->faulted_on_disk & formatted;

	mt = kmalloc_array(CRUCIBLE_NR_LEGS * CRUCIBLE_ENTRIES_PER_BLOCK,
			   sizeof(*mt), GFP_KERNEL);
	if (!mt)
		return -ENOMEM;
	c->unsynced = 0;
	for (blk = 0; blk < c->geo.region_table_blocks; blk++) {
		u64 first = blk * CRUCIBLE_ENTRIES_PER_BLOCK;
		unsigned int k, nr = min_t(u64, CRUCIBLE_ENTRIES_PER_BLOCK,
					   c->geo.nr_regions - first);

		for (i = 0; i < CRUCIBLE_NR_LEGS; i++) {
			if (!(formatted & BIT(i)))
				continue;
			if (!(blk % ASSEMBLY_PREFETCH))
				dm_bufio_prefetch(c->legs[i].bufio,
						  c->geo.region_table_start + blk,
						  min_t(u64, ASSEMBLY_PREFETCH,
							c->geo.region_table_blocks - blk));
			get_region_block(c, i, blk, nr,
					 mt + i * CRUCIBLE_ENTRIES_PER_BLOCK);
		}
		for (k = 0; k < nr; k++) {
			for (i = 0; i < CRUCIBLE_NR_LEGS; i++)
				if (formatted & BIT(i))
					m[i] = mt[i * CRUCIBLE_ENTRIES_PER_BLOCK + k];
			st = assemble_region(c, m, formatted, source_mask);
			c->rstate[first + k] = st;
			if (st & (RS_STALE_MASK | RS_REHASH))
				c->unsynced++;
		}
		cond_resched();
	}
	kfree(mt);
	return 0;
}

static int flush_leg(struct crucible *c, unsigned int leg)
{
	return blkdev_issue_flush(c->legs[leg].dev->bdev);
}

/* Write a leg's dirty metadata and flush it (dm-bufio flushes after). */
static int write_leg_metadata(struct crucible *c, unsigned int leg)
{
	return dm_bufio_write_dirty_buffers(c->legs[leg].bufio);
}

/*
 * Mark regions dirty on every alive leg and make that durable before the
 * caller writes data into them.
 */
int crucible_md_mark_dirty(struct crucible *c, const u64 *regions,
			   unsigned int nr)
{
	struct crucible_region_meta m;
	unsigned int i, n, ok = 0;
	u8 alive;

	mutex_lock(&c->mark_lock);
	spin_lock_irq(&c->lock);
	alive = crucible_alive_mask(c);
	spin_unlock_irq(&c->lock);

	for (i = 0; i < CRUCIBLE_NR_LEGS; i++) {
		if (!(alive & BIT(i)))
			continue;
		for (n = 0; n < nr; n++) {
			crucible_md_get_region(c, i, regions[n], &m);
			m.dirty = true;
			if (crucible_md_set_region(c, i, regions[n], &m))
				break;
		}
		if (n < nr || write_leg_metadata(c, i))
			crucible_leg_failed(c, i, -EIO);
		else
			ok++;
	}
	/* Under mark_lock, so a leg coming back sees every dirty region. */
	if (ok) {
		spin_lock_irq(&c->lock);
		for (n = 0; n < nr; n++)
			c->rstate[regions[n]] |= RS_DIRTY;
		spin_unlock_irq(&c->lock);
	}
	mutex_unlock(&c->mark_lock);
	return ok ? 0 : -EIO;
}

/*
 * Region @r is clean in memory (state @s) but @leg, coming back, still has
 * it dirty (@m): writes were in flight when the leg went out, and commits
 * cleaned the other legs' entries since.  It may be cleaned on @leg too if
 * the leg is in sync there and its stamp is that of an alive in-sync peer
 * whose entry is clean.
 */
static bool entry_cleanable(struct crucible *c, unsigned int leg, u64 r, u32 s,
			    const struct crucible_region_meta *m)
{
	struct crucible_region_meta peer;
	int i, src = -1;

	if (!m->dirty || !m->valid ||
	    (s & (BIT(leg) | RS_REHASH | RS_LOCKED)))
		return false;
	spin_lock_irq(&c->lock);
	for (i = 0; i < CRUCIBLE_NR_LEGS && src < 0; i++)
		if (i != leg && c->legs[i].state == CRUCIBLE_LEG_ALIVE &&
		    !(c->rstate[r] & BIT(i)))
			src = i;
	spin_unlock_irq(&c->lock);
	if (src < 0)
		return false;
	crucible_md_get_region(c, src, r, &peer);
	return !peer.dirty && peer.valid && peer.generation == m->generation &&
	       peer.flush == m->flush;
}

/*
 * A leg comes back into service: regions marked dirty while it was out
 * are not dirty on it, yet writes will reach it at once.  Mark them on it
 * too, before it takes a write, or a crash could leave it with records
 * ahead of its data in a region its own entry calls clean.
 *
 * The other way round, regions the leg left dirty (writes in flight when it
 * went out) and that commits cleaned on the other legs meanwhile: where the
 * leg is in sync and its stamp is its peers', its data and records are
 * made durable and its entry is cleaned too, or the next assembly would
 * rehash the region and call every other leg stale in it.
 *
 * Returns with mark_lock held on success: the caller puts the leg in
 * service, then calls crucible_md_unlock_marks().
 */
int crucible_md_prepare_leg(struct crucible *c, unsigned int leg)
{
	struct crucible_region_meta m;
	bool flushed = false, can_clean;
	int err;
	u32 s;
	u64 r;

	mutex_lock(&c->mark_lock);
	/*
	 * The first call collects dm-bufio's error from writes that failed
	 * while the leg was out; the second tells whether it takes writes now.
	 * Only a leg whose records all reached it may have entries cleaned.
	 */
	can_clean = !dm_bufio_write_dirty_buffers(c->legs[leg].bufio);
	for (r = 0; r < c->geo.nr_regions; r++) {
		s = READ_ONCE(c->rstate[r]);
		crucible_md_get_region(c, leg, r, &m);
		if (s & RS_DIRTY) {
			if (m.dirty && m.valid)
				continue;
			m.dirty = true;
		} else {
			/* Under mark_lock: no write can make it dirty now. */
			if (!can_clean || !entry_cleanable(c, leg, r, s, &m))
				continue;
			if (!flushed) {
				/* Its data and records first, then the entry. */
				err = write_leg_metadata(c, leg);
				if (!err)
					err = flush_leg(c, leg);
				if (err)
					goto fail;
				flushed = true;
			}
			m.dirty = false;
		}
		err = crucible_md_set_region(c, leg, r, &m);
		if (err)
			goto fail;
		cond_resched();
	}
	err = write_leg_metadata(c, leg);
	if (!err)
		return 0;
fail:
	mutex_unlock(&c->mark_lock);
	return err;
}

void crucible_md_unlock_marks(struct crucible *c)
{
	mutex_unlock(&c->mark_lock);
}

/*
 * Has a newer owner taken the legs over?  Activation writes the new
 * generation to every leg before its first I/O, so an owner that finds a
 * higher generation on any leg stops at once: it commits nothing more and
 * fails all I/O (DESIGN.md "Generations and fencing").  Checked at every
 * commit, which bounds how long a fenced owner can go on writing.
 */
static bool check_fenced(struct crucible *c)
{
	struct crucible_sb *sb;
	bool fenced = false;
	unsigned int copy;
	u8 alive;
	int i;

	sb = kmalloc(sizeof(*sb), GFP_NOIO);
	if (!sb)
		return false;
	spin_lock_irq(&c->lock);
	alive = crucible_alive_mask(c);
	spin_unlock_irq(&c->lock);
	for (i = 0; i < CRUCIBLE_NR_LEGS && !fenced; i++) {
		if (!(alive & BIT(i)))
			continue;
		for (copy = 0; copy < CRUCIBLE_SB_COPIES; copy++) {
			if (read_sb_copy(c, i, copy, sb) ||
			    crucible_sb_check(sb) != CRUCIBLE_SB_VALID ||
			    memcmp(sb->uuid, c->uuid, sizeof(c->uuid)))
				continue;
			if (le64_to_cpu(sb->generation) > c->generation) {
				DMERR("%s: leg %d has generation %llu > ours (%llu): fenced",
				      dm_table_device_name(c->ti->table), i,
				      (unsigned long long)le64_to_cpu(sb->generation),
				      (unsigned long long)c->generation);
				fenced = true;
				break;
			}
		}
	}
	kfree(sb);
	return fenced;
}

/*
 * Commit: flush the legs' data, write records and region entries, flush,
 * stamp the new flush number in the superblocks.  Worker context only.
 */
int crucible_md_commit(struct crucible *c)
{
	struct crucible_region_meta m;
	u64 r, new_flush, hydrated;
	u8 alive;
	int i, ok;

	if (check_fenced(c)) {
		spin_lock_irq(&c->lock);
		c->mode = CRUCIBLE_MODE_FENCED;
		spin_unlock_irq(&c->lock);
		crucible_raise_event(c);
		return -EIO;
	}

	/* Decide under the lock what this commit stamps and cleans. */
	spin_lock_irq(&c->lock);
	for (r = 0; r < c->geo.nr_regions; r++) {
		u32 s = c->rstate[r];

		if (s & RS_WRITTEN) {
			s = (s & ~RS_WRITTEN) | RS_STAMP;
		} else if ((s & RS_DIRTY) && !RS_INFLIGHT(s) &&
			   !(s & (RS_STALE_MASK | RS_REHASH | RS_LOCKED))) {
			/* New writes now wait for the worker to re-mark it. */
			s = (s & ~RS_DIRTY) | RS_CLEAN;
		}
		c->rstate[r] = s;
	}
	alive = crucible_alive_mask(c);
	/* Every block below this has its data on the legs by now. */
	hydrated = crucible_hydration_commit_begin(&c->hydr);
	spin_unlock_irq(&c->lock);

	for (i = 0; i < CRUCIBLE_NR_LEGS; i++)
		if ((alive & (1U << i)) && flush_leg(c, i))
			crucible_leg_failed(c, i, -EIO);

	new_flush = c->flush + 1;
	for (r = 0; r < c->geo.nr_regions; r++) {
		u32 s = READ_ONCE(c->rstate[r]);

		if (!(s & (RS_STAMP | RS_CLEAN)))
			continue;
		spin_lock_irq(&c->lock);
		s = c->rstate[r];
		c->rstate[r] &= ~(RS_STAMP | RS_CLEAN);
		alive = crucible_alive_mask(c);
		spin_unlock_irq(&c->lock);

		for (i = 0; i < CRUCIBLE_NR_LEGS; i++) {
			if (!(alive & (1U << i)) || (s & (1U << i)))
				continue;	/* stale legs keep their old stamp */
			crucible_md_get_region(c, i, r, &m);
			if (s & RS_STAMP) {
				m.generation = c->generation;
				m.flush = new_flush;
				m.dirty = true;
				m.valid = true;
			} else {
				m.dirty = false;
			}
			crucible_md_set_region(c, i, r, &m);
		}
		cond_resched();
	}

	spin_lock_irq(&c->lock);
	alive = crucible_alive_mask(c);
	spin_unlock_irq(&c->lock);
	for (i = 0; i < CRUCIBLE_NR_LEGS; i++)
		if ((alive & (1U << i)) && write_leg_metadata(c, i))
			crucible_leg_failed(c, i, -EIO);

	c->flush = new_flush;
	/* The records below the snapshot are on disk: the cursor may say so. */
	spin_lock_irq(&c->lock);
	crucible_hydration_commit_end(&c->hydr, hydrated);
	spin_unlock_irq(&c->lock);
	ok = crucible_md_write_sbs(c);
	c->last_commit = jiffies;
	return ok;
}

void crucible_md_close(struct crucible *c)
{
	int i;

	for (i = 0; i < CRUCIBLE_NR_LEGS; i++) {
		if (c->legs[i].bufio)
			dm_bufio_client_destroy(c->legs[i].bufio);
		c->legs[i].bufio = NULL;
		kfree(c->legs[i].sb);
		c->legs[i].sb = NULL;
	}
}

/* Allocate in-core superblocks and bufio clients for the legs. */
int crucible_md_open_bufio(struct crucible *c, char **error)
{
	int i;

	for (i = 0; i < CRUCIBLE_NR_LEGS; i++) {
		struct crucible_leg *leg = &c->legs[i];

		leg->sb = kzalloc(sizeof(*leg->sb), GFP_KERNEL);
		if (!leg->sb)
			return -ENOMEM;
		leg->bufio = dm_bufio_client_create(leg->dev->bdev,
						    CRUCIBLE_BLOCK_SIZE, 1, 0,
						    NULL, NULL, 0);
		if (IS_ERR(leg->bufio)) {
			int r = PTR_ERR(leg->bufio);

			leg->bufio = NULL;
			crucible_err(error, "cannot create dm-bufio client");
			return r;
		}
	}
	return 0;
}

/* The owner recorded with the generation when the table names none. */
void crucible_md_default_owner(char *owner, size_t len)
{
	strscpy(owner, utsname()->nodename, len);
}

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

/* Region-table blocks read ahead when a whole table is walked. */
#define ASSEMBLY_PREFETCH	64

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
	if (va == CRUCIBLE_SB_BAD_VERSION || va == CRUCIBLE_SB_OLD_VERSION)
		return va;
	return vb;
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

	/* Called again at the first resume: nothing from the last call counts. */
	c->new_volume = false;
	for (i = 0; i < CRUCIBLE_NR_LEGS; i++)
		c->legs[i].fresh = false;
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
		case CRUCIBLE_SB_OLD_VERSION:
			crucible_err(error, "leg %d: format version 1: upgrade the three legs to version %u with 'cruciblectl upgrade' first",
				     i, CRUCIBLE_FORMAT_VERSION);
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
		c->new_volume = true;
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
		m->stamped = true;
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

/*
 * Were the records of @block's region initialised?  RS_INIT only ever goes
 * from clear to set, before the first write into the region.
 */
static bool block_stamped(struct crucible *c, u64 block)
{
	return READ_ONCE(c->rstate[crucible_block_to_region(c, block)]) & RS_INIT;
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
	ok = crucible_record_decode(r, c->seed, block, block_stamped(c, block),
				    rec);
	dm_bufio_release(buf);
	return ok ? 0 : -EILSEQ;
}

/*
 * The record hashes of blocks [@block, @block + @nr) on @leg, if every
 * record block they live in is in dm-bufio's cache: never issues I/O (a
 * read's fast path fetches them when it is mapped; dm_bufio_get() only
 * waits for a read of the block already in flight).  Returns false if one
 * is not cached or is not a valid record.
 */
bool crucible_md_peek_records(struct crucible *c, unsigned int leg, u64 block,
			      unsigned int nr, u64 *hashes)
{
	struct crucible_record *r;
	struct crucible_rec rec;
	struct dm_buffer *buf = NULL;
	sector_t cur = (sector_t)-1;
	bool stamped = block_stamped(c, block);
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
		ok = crucible_record_decode(r, c->seed, b, stamped, &rec);
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
		rec.flush = flush;
		crucible_record_encode(r, c->seed, b, &rec);
	}
	if (buf) {
		dm_bufio_mark_buffer_dirty(buf);
		dm_bufio_release(buf);
	}
	return 0;
}

/*
 * Give every record slot of @region on @leg that holds nothing at all the
 * record "never written", before the region is first marked dirty: from
 * then on a record that reads back as zeros is known to be lost.  Slots
 * that hold anything (a record, or garbage) are left as they are.
 */
static int init_region_records(struct crucible *c, unsigned int leg, u64 region)
{
	static const struct crucible_rec unwritten = {
		.hash = CRUCIBLE_HASH_UNWRITTEN,
	};
	u64 b = region << c->geo.region_shift;
	u64 end = min_t(u64, b + c->geo.region_blocks, c->geo.volume_blocks);
	struct crucible_record *r;
	struct dm_buffer *buf;
	bool changed;
	void *data;

	dm_bufio_prefetch(c->legs[leg].bufio, record_block(c, b),
			  record_block(c, end - 1) - record_block(c, b) + 1);
	while (b < end) {
		u64 stop = min_t(u64, end, (b | (CRUCIBLE_RECORDS_PER_BLOCK - 1)) + 1);

		data = dm_bufio_read(c->legs[leg].bufio, record_block(c, b), &buf);
		if (IS_ERR(data))
			return PTR_ERR(data);
		changed = false;
		for (; b < stop; b++) {
			r = (struct crucible_record *)data +
			    b % CRUCIBLE_RECORDS_PER_BLOCK;
			if (!crucible_record_blank(r))
				continue;
			crucible_record_encode(r, c->seed, b, &unwritten);
			changed = true;
		}
		if (changed)
			dm_bufio_mark_buffer_dirty(buf);
		dm_bufio_release(buf);
		cond_resched();
	}
	return 0;
}

/*
 * Write the next copy of a leg's superblock, FUA.  The caller has flushed
 * whatever the superblock vouches for.
 */
int crucible_md_write_sb(struct crucible *c, unsigned int leg)
{
	struct crucible_leg *l = &c->legs[leg];
	struct crucible_sb *sb = l->sb;
	u64 seq = le64_to_cpu(sb->seq) + 1;
	int r;

	sb->seq = cpu_to_le64(seq);
	crucible_sb_seal(sb);
	r = crucible_sync_io(c, leg, REQ_OP_WRITE, REQ_SYNC | REQ_FUA,
			     seq & 1, 1, sb);
	if (!r) {
		/* What the leg acknowledged: a leg coming back must show it. */
		l->sb_acked_seq = seq;
		l->sb_acked_flush = le64_to_cpu(sb->flush);
	}
	return r;
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
		sb->leg_state[i] = ((c->fault_persisted | c->fault_recording) &
				    BIT(i)) ? CRUCIBLE_LEG_FAULTED : CRUCIBLE_LEG_OK;
}

/*
 * Stamp generation, flush number and leg states into every alive leg's
 * superblock.  A leg that fails the write is failed.  Returns -EIO when no
 * leg took it.
 */
int crucible_md_write_sbs(struct crucible *c)
{
	u8 alive = crucible_alive_legs(c);
	int i, ok = 0;

	for (i = 0; i < CRUCIBLE_NR_LEGS; i++) {
		struct crucible_leg *leg = &c->legs[i];

		if (!(alive & BIT(i)))
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
			m[k].stamped = true;
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
			bool stamped = false;

			for (i = 0; i < CRUCIBLE_NR_LEGS; i++) {
				if (!(formatted & BIT(i)))
					continue;
				m[i] = mt[i * CRUCIBLE_ENTRIES_PER_BLOCK + k];
				stamped |= m[i].stamped;
			}
			st = assemble_region(c, m, formatted, source_mask);
			if (stamped)
				st |= RS_INIT;
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
 * caller writes data into them.  A region marked for the first time gets
 * its records initialised in the same write (init_region_records()).
 */
int crucible_md_mark_dirty(struct crucible *c, const u64 *regions,
			   unsigned int nr)
{
	struct crucible_region_meta m;
	unsigned int i, n, ok = 0;
	int err;
	u8 alive;

	if (!crucible_md_begin(c))
		return -EIO;
	mutex_lock(&c->mark_lock);
	alive = crucible_alive_legs(c);

	for (i = 0; i < CRUCIBLE_NR_LEGS; i++) {
		if (!(alive & BIT(i)))
			continue;
		err = 0;
		for (n = 0; n < nr && !err; n++) {
			if (!(READ_ONCE(c->rstate[regions[n]]) & RS_INIT))
				err = init_region_records(c, i, regions[n]);
			crucible_md_get_region(c, i, regions[n], &m);
			m.dirty = true;
			if (!err)
				err = crucible_md_set_region(c, i, regions[n], &m);
		}
		if (err || write_leg_metadata(c, i))
			crucible_leg_failed(c, i, -EIO);
		else
			ok++;
	}
	/* Under mark_lock, so a leg coming back sees every dirty region. */
	if (ok) {
		spin_lock_irq(&c->lock);
		for (n = 0; n < nr; n++)
			c->rstate[regions[n]] |= RS_DIRTY | RS_INIT;
		spin_unlock_irq(&c->lock);
	}
	mutex_unlock(&c->mark_lock);
	crucible_md_end(c);
	return ok ? 0 : -EIO;
}

/*
 * The leg's superblock as it is on the device now.  Returns 0 with *@flush
 * its flush number, or an error with *@why saying what is wrong with it.
 */
static int reread_leg_sb(struct crucible *c, unsigned int leg, u64 *seq,
			 u64 *flush, const char **why)
{
	enum crucible_sb_verdict v;
	struct crucible_sb *sb;
	int err;

	sb = kmalloc(sizeof(*sb), GFP_KERNEL);
	if (!sb) {
		*why = "out of memory";
		return -ENOMEM;
	}
	v = read_leg_sb(c, leg, sb, &err);
	if (err) {
		*why = "its superblock cannot be read";
	} else if (v != CRUCIBLE_SB_VALID) {
		*why = "its superblock is not valid any more: replace the leg (replace_leg)";
		err = -EINVAL;
	} else if (memcmp(sb->uuid, c->uuid, sizeof(c->uuid)) ||
		   le32_to_cpu(sb->leg_index) != leg) {
		*why = "it now holds another volume or another leg: replace the leg (replace_leg)";
		err = -EINVAL;
	} else {
		*seq = le64_to_cpu(sb->seq);
		*flush = le64_to_cpu(sb->flush);
	}
	kfree(sb);
	return err;
}

/*
 * Must @leg, back in service, be repaired in region @r (state @s)?  @m is
 * its entry as the device holds it now, @peer that of a leg in sync there.
 * A leg is trusted only as far as what it holds shows; what it
 * acknowledged does not count: a leg may acknowledge writes, flushes and
 * FUAs and keep none of them (a remote host that lost its page cache, an
 * enclosure that lost power).
 */
static bool leg_lags(const struct crucible_region_meta *m,
		     const struct crucible_region_meta *peer, u32 s,
		     bool lost, u64 disk_flush, bool committed_since)
{
	/* Stamped by a commit it missed, or its entry is damaged. */
	if (!m->valid || m->generation != peer->generation ||
	    m->flush != peer->flush)
		return true;
	/* It lost a dirty mark, or missed one made while it was out. */
	if (!m->dirty && peer->dirty)
		return true;
	/* It lost commits: whatever was stamped since may be missing. */
	if (lost && peer->flush > disk_flush)
		return true;
	/*
	 * Written since the last commit, and no commit since the leg went
	 * out: it acknowledged those writes, but no flush made them durable.
	 */
	return (s & RS_WRITTEN) && !committed_since;
}

/*
 * A leg comes back into service.  Before it takes a write:
 *
 * - what it still has in dm-bufio's cache goes out (records of writes it
 *   completed before it went out); if it fails that, it is not taken back;
 * - then the cache is dropped, and its superblock and region table are read
 *   again from the device.  A superblock older than the last one it
 *   acknowledged means it lost acknowledged writes: it is verified (its
 *   data compared, not only its records) wherever it is stale, and made
 *   stale wherever a later commit stamped something;
 * - every region whose entry on the leg lags what the target wrote to its
 *   peers (leg_lags()) is made stale on it, with its data verified;
 * - regions marked dirty while it was out are marked dirty on it too, or a
 *   crash could leave it with records ahead of its data in a region its
 *   own entry calls clean.
 *
 * Returns with mark_lock held on success (no region can be marked dirty
 * meanwhile): the caller puts the leg in service, then calls
 * crucible_md_unlock_marks().  *@nr_stale counts the regions made stale.
 */
int crucible_md_prepare_leg(struct crucible *c, unsigned int leg,
			    u64 *nr_stale, const char **why)
{
	struct crucible_leg *l = &c->legs[leg];
	struct crucible_region_meta m, peer;
	u64 r, seq = 0, disk_flush = 0;
	bool lost, committed_since, flushed = false;
	u8 alive;
	int err, i, p;
	u32 s;

	*nr_stale = 0;
	if (!crucible_md_begin(c)) {
		*why = "the volume is fenced";
		return -EIO;
	}
	mutex_lock(&c->mark_lock);
	/*
	 * The first call collects dm-bufio's error from writes that failed
	 * while the leg was out; the second tells whether it takes writes now.
	 */
	dm_bufio_write_dirty_buffers(l->bufio);
	err = dm_bufio_write_dirty_buffers(l->bufio);
	if (err) {
		*why = "the leg still fails writes";
		goto fail;
	}
	dm_bufio_client_reset(l->bufio);
	err = reread_leg_sb(c, leg, &seq, &disk_flush, why);
	if (err)
		goto fail;
	lost = seq < l->sb_acked_seq || disk_flush < l->sb_acked_flush;
	if (lost)
		vol_warn(c, "leg %u lost writes it acknowledged: its superblock has flush %llu (seq %llu), it acknowledged flush %llu (seq %llu); its copy is verified wherever it may differ",
			 leg, (unsigned long long)disk_flush, (unsigned long long)seq,
			 (unsigned long long)l->sb_acked_flush,
			 (unsigned long long)l->sb_acked_seq);

	spin_lock_irq(&c->lock);
	alive = crucible_alive_mask(c) & ~BIT(leg);
	committed_since = c->flush != l->out_flush || l->out_flushed;
	spin_unlock_irq(&c->lock);
	for (r = 0; r < c->geo.nr_regions; r++) {
		if (!(r % (ASSEMBLY_PREFETCH * CRUCIBLE_ENTRIES_PER_BLOCK)))
			dm_bufio_prefetch(l->bufio, region_entry_block(c, r),
					  min_t(u64, ASSEMBLY_PREFETCH,
						c->geo.region_table_blocks -
						r / CRUCIBLE_ENTRIES_PER_BLOCK));
		s = READ_ONCE(c->rstate[r]);
		crucible_md_get_region(c, leg, r, &m);
		p = -1;
		for (i = 0; i < CRUCIBLE_NR_LEGS && p < 0; i++)
			if ((alive & BIT(i)) && !(s & BIT(i)))
				p = i;
		if (s & BIT(leg)) {
			if (lost) {
				spin_lock_irq(&c->lock);
				c->rstate[r] |= RS_VERIFY;
				spin_unlock_irq(&c->lock);
			}
		} else if (p >= 0) {
			crucible_md_get_region(c, p, r, &peer);
			if (leg_lags(&m, &peer, s, lost, disk_flush,
				     committed_since)) {
				spin_lock_irq(&c->lock);
				__crucible_set_stale(c, r, BIT(leg) | RS_VERIFY);
				spin_unlock_irq(&c->lock);
				(*nr_stale)++;
			} else if (m.dirty && !peer.dirty && !(s & RS_DIRTY)) {
				/*
				 * It went out with writes in flight and the
				 * peers' entries were cleaned since, with no
				 * write in between: what it holds is what
				 * that commit made durable.  Its data and
				 * records go out first, then its entry is
				 * cleaned too, or the next assembly would
				 * rehash the region.
				 */
				if (!flushed) {
					err = write_leg_metadata(c, leg);
					if (err) {
						*why = "the leg still fails writes";
						goto fail;
					}
					flushed = true;
				}
				m.dirty = false;
				err = crucible_md_set_region(c, leg, r, &m);
				if (err) {
					*why = "the leg's region table cannot be read";
					goto fail;
				}
			}
		}
		if ((s & RS_DIRTY) && !(m.dirty && m.valid)) {
			m.dirty = true;
			err = crucible_md_set_region(c, leg, r, &m);
			if (err) {
				*why = "the leg's region table cannot be read";
				goto fail;
			}
		}
		cond_resched();
	}
	err = write_leg_metadata(c, leg);
	if (!err)
		return 0;
	*why = "the leg still fails writes";
fail:
	mutex_unlock(&c->mark_lock);
	crucible_md_end(c);
	return err;
}

void crucible_md_unlock_marks(struct crucible *c)
{
	mutex_unlock(&c->mark_lock);
	crucible_md_end(c);
}

/*
 * Fencing (DESIGN.md "Generations and fencing").  A new owner of the legs
 * writes its higher generation to both superblock copies of every leg
 * before it reads their metadata; an old owner must write nothing after
 * that.  Two mechanisms:
 *
 * - In one kernel (a second table over the same legs, an agent taking a
 *   volume over from another on the same host), the new owner fences the
 *   old one itself before it assembles (crucible_fence()): no metadata
 *   operation of the old one may start after that, those in progress and
 *   its data writes in flight are waited for, and its dirty metadata is
 *   written out then, so that nothing of it lands after the takeover.
 *   crucible_md_begin() / crucible_md_end() bracket every metadata
 *   operation for that.
 * - Across machines, every metadata operation first reads the superblocks
 *   of the legs in service (crucible_md_check_fence()): a higher generation
 *   on any leg fences the volume.  Data writes into regions already dirty
 *   need no metadata write; they stop at the next commit at the latest
 *   (commit_period), so across machines an old owner's writes can still
 *   land for that long after a takeover.
 *
 * Both fail closed: an operation that cannot tell is not done.
 */
bool crucible_md_begin(struct crucible *c)
{
	atomic_inc(&c->md_ops);
	/* Against crucible_fence(): it sets the mode, then reads the count. */
	smp_mb__after_atomic();
	if (READ_ONCE(c->mode) != CRUCIBLE_MODE_FENCED)
		return true;
	crucible_md_end(c);
	return false;
}

void crucible_md_end(struct crucible *c)
{
	if (atomic_dec_and_test(&c->md_ops))
		wake_up(&c->inflight_wait);
}

/*
 * Begin a metadata operation that writes: not fenced in this kernel, and no
 * newer owner on the legs.  0, or an error with nothing begun.
 */
int crucible_md_enter(struct crucible *c)
{
	int r;

	if (!crucible_md_begin(c))
		return -EIO;
	r = crucible_md_check_fence(c);
	if (r)
		crucible_md_end(c);
	return r;
}

static void fence_read_done(unsigned long error, void *context)
{
	struct crucible_fence_read *fr = context;

	fr->error = error;
	if (atomic_dec_and_test(&fr->c->fence_reads))
		complete(&fr->c->fence_done);
}

/*
 * Has a newer owner taken the legs over?  Reads both superblock copies of
 * every leg in service, all legs at once.  Returns 0, or -EIO when the
 * volume is (now) fenced or no leg could be read.
 */
int crucible_md_check_fence(struct crucible *c)
{
	struct dm_io_region where;
	struct dm_io_request req = {
		.bi_opf = REQ_OP_READ | REQ_SYNC,
		.mem.type = DM_IO_KMEM,
		.notify.fn = fence_read_done,
		.client = c->io_client,
	};
	u64 higher = 0;
	int i, copy, leg = -1, read = 0;
	u8 alive;

	mutex_lock(&c->fence_lock);
	alive = crucible_alive_legs(c);
	atomic_set(&c->fence_reads, 1);
	reinit_completion(&c->fence_done);
	for (i = 0; i < CRUCIBLE_NR_LEGS; i++) {
		struct crucible_fence_read *fr = &c->fence_read[i];

		fr->c = c;
		fr->error = 0;
		if (!(alive & BIT(i)))
			continue;
		where.bdev = c->legs[i].dev->bdev;
		where.sector = 0;
		where.count = CRUCIBLE_SB_COPIES << (CRUCIBLE_BLOCK_SHIFT - 9);
		req.mem.ptr.addr = fr->sb;
		req.notify.context = fr;
		atomic_inc(&c->fence_reads);
		if (dm_io(&req, 1, &where, NULL, IOPRIO_DEFAULT)) {
			fr->error = 1;
			atomic_dec(&c->fence_reads);
		}
	}
	if (!atomic_dec_and_test(&c->fence_reads))
		wait_for_completion(&c->fence_done);

	for (i = 0; i < CRUCIBLE_NR_LEGS; i++) {
		struct crucible_fence_read *fr = &c->fence_read[i];

		if (!(alive & BIT(i)))
			continue;
		if (fr->error) {
			crucible_leg_failed(c, i, -EIO);
			continue;
		}
		read++;
		for (copy = 0; copy < CRUCIBLE_SB_COPIES; copy++) {
			const struct crucible_sb *sb = &fr->sb[copy];

			if (crucible_sb_check(sb) != CRUCIBLE_SB_VALID ||
			    memcmp(sb->uuid, c->uuid, sizeof(c->uuid)) ||
			    le64_to_cpu(sb->generation) <= c->generation)
				continue;
			if (le64_to_cpu(sb->generation) > higher) {
				higher = le64_to_cpu(sb->generation);
				leg = i;
			}
		}
	}
	mutex_unlock(&c->fence_lock);
	if (!read)
		return -EIO;
	if (!higher)
		return 0;
	spin_lock_irq(&c->lock);
	c->mode = CRUCIBLE_MODE_FENCED;
	spin_unlock_irq(&c->lock);
	DMERR("%s: leg %d has generation %llu > ours (%llu): fenced",
	      dm_table_device_name(c->ti->table), leg,
	      (unsigned long long)higher, (unsigned long long)c->generation);
	crucible_raise_event(c);
	return -EIO;
}

/*
 * Fence @c, another instance of a volume that a new owner in this kernel
 * takes over: when this returns, nothing of @c reaches the legs any more.
 */
void crucible_md_fence(struct crucible *c, u64 by_generation)
{
	enum crucible_mode was;
	int i;

	spin_lock_irq(&c->lock);
	was = c->mode;
	c->mode = CRUCIBLE_MODE_FENCED;
	spin_unlock_irq(&c->lock);
	/* Against crucible_md_begin(): the mode first, then the count. */
	smp_mb();
	wait_event(c->inflight_wait, !atomic_read(&c->md_ops) &&
		   !atomic_read(&c->writes_in_flight));
	/*
	 * What it still holds dirty (records of writes that completed before
	 * the fence) goes out now, before the new owner reads the legs, and
	 * never after: nothing can dirty its buffers again.
	 */
	for (i = 0; i < CRUCIBLE_NR_LEGS; i++)
		if (c->legs[i].bufio)
			dm_bufio_write_dirty_buffers(c->legs[i].bufio);
	if (was != CRUCIBLE_MODE_FENCED) {
		DMERR("%s: taken over by a table with generation %llu: fenced",
		      dm_table_device_name(c->ti->table),
		      (unsigned long long)by_generation);
		crucible_raise_event(c);
	}
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

	ok = crucible_md_enter(c);
	if (ok)
		return ok;

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
			if (crucible_md_set_region(c, i, r, &m))
				crucible_leg_failed(c, i, -EIO);
		}
		cond_resched();
	}

	alive = crucible_alive_legs(c);
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
	crucible_md_end(c);
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

// SPDX-License-Identifier: GPL-2.0
/*
 * dm-crucible on-disk format: geometry, superblock, region entries and
 * per-block records.  Plain C built into the kernel module and into the
 * userland programs alike.
 */
#include "../include/crucible/format.h"

#define CRUCIBLE_SB_CSUM_SEED 0x6373627275637263ULL

static u64 div_round_up_u64(u64 n, u64 d)
{
	return (n + d - 1) / d;
}

bool crucible_region_blocks_valid(u32 region_blocks)
{
	return region_blocks >= CRUCIBLE_MIN_REGION_BLOCKS &&
	       region_blocks <= CRUCIBLE_MAX_REGION_BLOCKS &&
	       !(region_blocks & (region_blocks - 1));
}

int crucible_geometry_init(struct crucible_geometry *geo, u64 volume_blocks,
			   u32 region_blocks)
{
	u64 end;

	if (!volume_blocks || !crucible_region_blocks_valid(region_blocks))
		return -EINVAL;
	/* 2^52 blocks = 16 EiB: keeps every product below 2^64. */
	if (volume_blocks > (1ULL << 52))
		return -EINVAL;

	memset(geo, 0, sizeof(*geo));
	geo->volume_blocks = volume_blocks;
	geo->region_blocks = region_blocks;
	while ((1U << geo->region_shift) < region_blocks)
		geo->region_shift++;
	geo->nr_regions = div_round_up_u64(volume_blocks, region_blocks);
	geo->region_table_start = CRUCIBLE_SB_COPIES;
	geo->region_table_blocks = div_round_up_u64(geo->nr_regions,
						    CRUCIBLE_ENTRIES_PER_BLOCK);
	geo->record_start = geo->region_table_start + geo->region_table_blocks;
	geo->record_blocks = div_round_up_u64(volume_blocks,
					      CRUCIBLE_RECORDS_PER_BLOCK);
	end = geo->record_start + geo->record_blocks;
	geo->data_start = div_round_up_u64(end, CRUCIBLE_DATA_ALIGN_BLOCKS) *
			  CRUCIBLE_DATA_ALIGN_BLOCKS;
	geo->leg_blocks = geo->data_start + volume_blocks;
	return 0;
}

u64 crucible_block_hash(const void *data)
{
	u64 h = crucible_xxh64(data, CRUCIBLE_BLOCK_SIZE, 0);

	return crucible_hash_fixup(h);
}

const char *crucible_sb_verdict_str(enum crucible_sb_verdict v)
{
	switch (v) {
	case CRUCIBLE_SB_VALID:
		return "valid";
	case CRUCIBLE_SB_BLANK:
		return "blank (not formatted)";
	case CRUCIBLE_SB_BAD_CSUM:
		return "superblock checksum mismatch";
	case CRUCIBLE_SB_BAD_VERSION:
		return "unsupported format version";
	case CRUCIBLE_SB_OLD_VERSION:
		return "format version 1 (upgrade it with 'cruciblectl upgrade')";
	case CRUCIBLE_SB_BAD_FIELDS:
		return "superblock fields inconsistent";
	}
	return "unknown";
}

static u64 sb_csum(const struct crucible_sb *sb)
{
	/* The checksum covers everything after the csum field itself. */
	return crucible_xxh64((const u8 *)sb + sizeof(sb->csum),
			      sizeof(*sb) - sizeof(sb->csum),
			      CRUCIBLE_SB_CSUM_SEED);
}

void crucible_sb_seal(struct crucible_sb *sb)
{
	sb->csum = cpu_to_le64(sb_csum(sb));
}

/*
 * Version 1 differs from version 2 only in what an all-zero record means in
 * a stamped region, so the fields of both are checked alike.
 */
enum crucible_sb_verdict crucible_sb_check_any(const struct crucible_sb *sb)
{
	struct crucible_geometry geo;
	u32 version;

	if (le64_to_cpu(sb->magic) != CRUCIBLE_MAGIC)
		return CRUCIBLE_SB_BLANK;
	if (le64_to_cpu(sb->csum) != sb_csum(sb))
		return CRUCIBLE_SB_BAD_CSUM;
	version = le32_to_cpu(sb->version);
	if (version != CRUCIBLE_FORMAT_VERSION &&
	    version != CRUCIBLE_FORMAT_VERSION_1)
		return CRUCIBLE_SB_BAD_VERSION;
	if (le32_to_cpu(sb->block_size) != CRUCIBLE_BLOCK_SIZE ||
	    le32_to_cpu(sb->nr_legs) != CRUCIBLE_NR_LEGS ||
	    le32_to_cpu(sb->leg_index) >= CRUCIBLE_NR_LEGS)
		return CRUCIBLE_SB_BAD_FIELDS;
	if (crucible_geometry_init(&geo, le64_to_cpu(sb->volume_blocks),
				   le32_to_cpu(sb->region_blocks)))
		return CRUCIBLE_SB_BAD_FIELDS;
	if (le64_to_cpu(sb->region_table_start) != geo.region_table_start ||
	    le64_to_cpu(sb->record_start) != geo.record_start ||
	    le64_to_cpu(sb->data_start) != geo.data_start)
		return CRUCIBLE_SB_BAD_FIELDS;
	return CRUCIBLE_SB_VALID;
}

enum crucible_sb_verdict crucible_sb_check(const struct crucible_sb *sb)
{
	enum crucible_sb_verdict v = crucible_sb_check_any(sb);

	if (v == CRUCIBLE_SB_VALID &&
	    le32_to_cpu(sb->version) == CRUCIBLE_FORMAT_VERSION_1)
		return CRUCIBLE_SB_OLD_VERSION;
	return v;
}

/*
 * Choose between the two superblock copies of one leg: the valid one with
 * the higher sequence number.  Returns 0 or 1, or -1 if neither is valid.
 */
int crucible_sb_pick(const struct crucible_sb *a, enum crucible_sb_verdict va,
		     const struct crucible_sb *b, enum crucible_sb_verdict vb)
{
	if (va == CRUCIBLE_SB_VALID && vb == CRUCIBLE_SB_VALID)
		return le64_to_cpu(b->seq) > le64_to_cpu(a->seq) ? 1 : 0;
	if (va == CRUCIBLE_SB_VALID)
		return 0;
	if (vb == CRUCIBLE_SB_VALID)
		return 1;
	return -1;
}

static u64 region_check(const struct crucible_region_entry *e, u64 seed,
			u64 region)
{
	return crucible_xxh64(e, offsetof(struct crucible_region_entry, check),
			      seed ^ region);
}

void crucible_region_encode(struct crucible_region_entry *e, u64 seed,
			    u64 region, const struct crucible_region_meta *m)
{
	memset(e, 0, sizeof(*e));
	if (!m->generation && !m->flush && !m->dirty)
		return;	/* never written: all zero */
	e->generation = cpu_to_le64(m->generation);
	e->flush = cpu_to_le64(m->flush);
	e->flags = cpu_to_le32(m->dirty ? CRUCIBLE_REGION_F_DIRTY : 0);
	e->check = cpu_to_le64(region_check(e, seed, region));
}

static bool all_zero(const void *p, size_t len)
{
	const u8 *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

/*
 * An entry that fails its check is reported as invalid, dirty, generation
 * and flush 0: it can never win the source vote against a valid entry, and
 * its region is always rehashed.
 */
void crucible_region_decode(const struct crucible_region_entry *e, u64 seed,
			    u64 region, struct crucible_region_meta *m)
{
	memset(m, 0, sizeof(*m));
	m->valid = true;
	if (all_zero(e, sizeof(*e)))
		return;
	/* Whatever else it says: records may have been initialised. */
	m->stamped = true;
	if (le64_to_cpu(e->check) != region_check(e, seed, region)) {
		m->valid = false;
		m->dirty = true;
		return;
	}
	m->generation = le64_to_cpu(e->generation);
	m->flush = le64_to_cpu(e->flush);
	m->dirty = le32_to_cpu(e->flags) & CRUCIBLE_REGION_F_DIRTY;
}

static u32 record_check(const struct crucible_record *r, u64 seed, u64 block)
{
	return (u32)crucible_xxh64(r, offsetof(struct crucible_record, check),
				   seed ^ block);
}

/*
 * Every record is encoded with its check, "never written" included: that
 * one carries CRUCIBLE_RECORD_UNWRITTEN_MARK as its flush number, so no
 * record the encoder writes is all zero.
 */
void crucible_record_encode(struct crucible_record *r, u64 seed, u64 block,
			    const struct crucible_rec *rec)
{
	memset(r, 0, sizeof(*r));
	r->hash = cpu_to_le64(rec->hash);
	r->flush = cpu_to_le32(rec->hash == CRUCIBLE_HASH_UNWRITTEN ?
			       CRUCIBLE_RECORD_UNWRITTEN_MARK : rec->flush);
	r->check = cpu_to_le32(record_check(r, seed, block));
}

bool crucible_record_blank(const struct crucible_record *r)
{
	return all_zero(r, sizeof(*r));
}

bool crucible_record_decode(const struct crucible_record *r, u64 seed,
			    u64 block, bool stamped, struct crucible_rec *rec)
{
	u64 hash;
	u32 flush;

	rec->hash = CRUCIBLE_HASH_UNWRITTEN;
	rec->flush = 0;
	if (all_zero(r, sizeof(*r)))
		return !stamped;
	if (le32_to_cpu(r->check) != record_check(r, seed, block))
		return false;
	hash = le64_to_cpu(r->hash);
	flush = le32_to_cpu(r->flush);
	if (hash == CRUCIBLE_HASH_UNWRITTEN)
		return flush == CRUCIBLE_RECORD_UNWRITTEN_MARK;
	rec->hash = hash;
	rec->flush = flush;
	return true;
}

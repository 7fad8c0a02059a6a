/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-crucible on-disk format, shared by the kernel target and userland.
 * Documentation/on-disk-format.rst describes it field by field.
 *
 * Every leg is laid out in 4 KiB blocks:
 *
 *   block 0, 1        superblock, two copies written alternately
 *   region table      one 32-byte entry per region
 *   record area       one 16-byte record per data block
 *   data area         the volume's blocks, aligned to 1 MiB
 *
 * All integers are little-endian.  An all-zero region entry means "never
 * stamped", and in a region never stamped an all-zero record means "never
 * written", so a zeroed device needs only its superblocks written to be
 * formatted.  The first time a region is marked dirty its records are
 * initialised, "never written" included (format version 2): from then on an
 * all-zero record in it is a lost record, never "never written".
 */
#ifndef CRUCIBLE_FORMAT_H
#define CRUCIBLE_FORMAT_H

#include "compat.h"

#define CRUCIBLE_MAGIC			0x454c424943555243ULL /* "CRUCIBLE" */
#define CRUCIBLE_FORMAT_VERSION		2
/* Legs of version 1 are read only by `cruciblectl upgrade`. */
#define CRUCIBLE_FORMAT_VERSION_1	1
#define CRUCIBLE_NR_LEGS		3

#define CRUCIBLE_BLOCK_SHIFT		12
#define CRUCIBLE_BLOCK_SIZE		4096U	/* 1 << CRUCIBLE_BLOCK_SHIFT */
#define CRUCIBLE_SECTORS_PER_BLOCK	(CRUCIBLE_BLOCK_SIZE >> 9)

#define CRUCIBLE_SB_COPIES		2
#define CRUCIBLE_RECORD_SIZE		16
#define CRUCIBLE_RECORDS_PER_BLOCK	(CRUCIBLE_BLOCK_SIZE / CRUCIBLE_RECORD_SIZE)
#define CRUCIBLE_REGION_ENTRY_SIZE	32
#define CRUCIBLE_ENTRIES_PER_BLOCK	(CRUCIBLE_BLOCK_SIZE / CRUCIBLE_REGION_ENTRY_SIZE)
#define CRUCIBLE_DATA_ALIGN_BLOCKS	256	/* data area starts on 1 MiB */

/* Region size bounds, in blocks: 64 KiB .. 1 GiB, a power of two. */
#define CRUCIBLE_MIN_REGION_BLOCKS	16
#define CRUCIBLE_MAX_REGION_BLOCKS	262144
#define CRUCIBLE_DEFAULT_REGION_BLOCKS	256	/* 1 MiB */

#define CRUCIBLE_OWNER_LEN		64

/*
 * Record hash values that name no data: 0 means "never written" (reads come
 * from the parent, or zeros without one); 2 means "owned, reads as zeros"
 * (discarded, or hydrated from an all-zero parent block) and the data area
 * holds nothing meaningful.  A block whose real xxh64 is 0 or 2 is stored
 * as 1.
 */
#define CRUCIBLE_HASH_UNWRITTEN		0ULL
#define CRUCIBLE_HASH_ZERO_REMAP	1ULL
#define CRUCIBLE_HASH_ZEROED		2ULL

/* The stored form of a block's xxh64. */
static inline u64 crucible_hash_fixup(u64 h)
{
	return (h == CRUCIBLE_HASH_UNWRITTEN || h == CRUCIBLE_HASH_ZEROED) ?
	       CRUCIBLE_HASH_ZERO_REMAP : h;
}

/* Does a record with this hash vouch for data in the data area? */
static inline bool crucible_hash_has_data(u64 h)
{
	return h != CRUCIBLE_HASH_UNWRITTEN && h != CRUCIBLE_HASH_ZEROED;
}

/*
 * The flush field of an initialised record that says "never written": it
 * makes the record non-zero whatever its check, so that it can never be
 * mistaken for a record that was lost.
 */
#define CRUCIBLE_RECORD_UNWRITTEN_MARK	0x54494e49U	/* "INIT" */

/* crucible_sb.leg_state[] */
#define CRUCIBLE_LEG_OK			0
#define CRUCIBLE_LEG_FAULTED		1

/* crucible_sb.flags */
#define CRUCIBLE_SB_F_REPLACING		BIT(0) /* being filled as a replacement */

/* crucible_region_entry.flags */
#define CRUCIBLE_REGION_F_DIRTY		BIT(0)

struct crucible_sb {
	__le64 csum;		/* xxh64 of bytes 8..4095 of the block */
	__le64 magic;
	__le32 version;
	__le32 leg_index;
	__le32 nr_legs;
	__le32 block_size;	/* bytes */
	__le64 seq;		/* bumped on every write; higher valid copy wins */
	__u8 uuid[16];		/* the volume's */
	__le64 volume_blocks;	/* data blocks in the volume */
	__le32 region_blocks;	/* blocks per region */
	__le32 flags;		/* CRUCIBLE_SB_F_* */
	__le64 region_table_start;	/* first block of the region table */
	__le64 record_start;	/* first block of the record area */
	__le64 data_start;	/* first block of the data area */
	__le64 generation;	/* highest activation generation seen */
	__le64 flush;		/* last committed flush number */
	__le64 seed;		/* seed of region entry and record checks */
	__le64 hydrated_blocks;	/* durable hydration cursor: blocks below are owned */
	__u8 leg_state[4];	/* CRUCIBLE_LEG_*, as this leg last knew */
	__u8 owner[CRUCIBLE_OWNER_LEN];	/* who activated `generation` */
	__le64 parent_sectors;	/* size of the parent the volume was made on, 0 = none */
	__u8 pad[CRUCIBLE_BLOCK_SIZE - 204];
} __packed;

struct crucible_region_entry {
	__le64 generation;	/* generation last stamped on the region */
	__le64 flush;		/* flush number last stamped on the region */
	__le32 flags;		/* CRUCIBLE_REGION_F_* */
	__le32 reserved;
	__le64 check;		/* xxh64 of the above, seed ^ region number */
} __packed;

struct crucible_record {
	__le64 hash;		/* xxh64 of the block; 0 = never written */
	__le32 flush;		/* low 32 bits of its flush number; the mark for 0 */
	__le32 check;		/* low 32 bits of xxh64 of the above, seed ^ block */
} __packed;

/* Where things are on a leg, in 4 KiB blocks. */
struct crucible_geometry {
	u64 volume_blocks;
	u32 region_blocks;
	u32 region_shift;	/* log2(region_blocks) */
	u64 nr_regions;
	u64 region_table_start;
	u64 region_table_blocks;
	u64 record_start;
	u64 record_blocks;
	u64 data_start;
	u64 leg_blocks;		/* minimum leg size */
};

/* In-memory view of a region entry, as the reconcile rule sees it. */
struct crucible_region_meta {
	u64 generation;
	u64 flush;
	bool dirty;
	bool valid;		/* entry passed its check */
	bool stamped;		/* entry not all zero: records initialised */
};

/* In-memory view of a per-block record. */
struct crucible_rec {
	u64 hash;
	u32 flush;
};

/* Result of validating one superblock copy. */
enum crucible_sb_verdict {
	CRUCIBLE_SB_VALID = 0,
	CRUCIBLE_SB_BLANK,		/* no magic: never formatted */
	CRUCIBLE_SB_BAD_CSUM,		/* magic present, checksum wrong */
	CRUCIBLE_SB_BAD_VERSION,	/* format version we cannot read */
	CRUCIBLE_SB_OLD_VERSION,	/* version 1: cruciblectl upgrade reads it */
	CRUCIBLE_SB_BAD_FIELDS,		/* checksum right, fields impossible */
};

const char *crucible_sb_verdict_str(enum crucible_sb_verdict v);

int crucible_geometry_init(struct crucible_geometry *geo, u64 volume_blocks,
			   u32 region_blocks);
bool crucible_region_blocks_valid(u32 region_blocks);

u64 crucible_block_hash(const void *data);

void crucible_sb_seal(struct crucible_sb *sb);
enum crucible_sb_verdict crucible_sb_check(const struct crucible_sb *sb);
/* As crucible_sb_check(), but a sound version 1 copy is valid too. */
enum crucible_sb_verdict crucible_sb_check_any(const struct crucible_sb *sb);
int crucible_sb_pick(const struct crucible_sb *a, enum crucible_sb_verdict va,
		     const struct crucible_sb *b, enum crucible_sb_verdict vb);

void crucible_region_encode(struct crucible_region_entry *e, u64 seed,
			    u64 region, const struct crucible_region_meta *m);
void crucible_region_decode(const struct crucible_region_entry *e, u64 seed,
			    u64 region, struct crucible_region_meta *m);

void crucible_record_encode(struct crucible_record *r, u64 seed, u64 block,
			    const struct crucible_rec *rec);
/*
 * Decode the record of @block.  @stamped: its region was ever stamped on
 * this leg (or on any leg in service), so its records were initialised and
 * an all-zero record is a lost one.  Returns false if the record is lost or
 * fails its check (@rec then says "never written", which must not be
 * trusted).
 */
bool crucible_record_decode(const struct crucible_record *r, u64 seed,
			    u64 block, bool stamped, struct crucible_rec *rec);
/* A record slot that holds nothing at all: never initialised, or lost. */
bool crucible_record_blank(const struct crucible_record *r);

#endif /* CRUCIBLE_FORMAT_H */

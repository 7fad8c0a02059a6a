/* SPDX-License-Identifier: GPL-2.0 */
/*
 * On-disk format of a crucible pool: a raw block device (or a file) that
 * leg regions are carved out of.  Documentation/pool-format.rst describes
 * every field; this header is the only definition.
 *
 * The pool is laid out in pool blocks of block_size bytes (4 KiB or the
 * device's block size if larger):
 *
 *   block 0, 1            superblock, two copies, both written at a commit
 *   intent log            1 header block + 2 blocks per operation
 *   region table          one block per region slot
 *   primary bitmap        bitmap blocks: 64-byte header + bits
 *   mirror bitmap         the same, written after the primary is durable
 *   data area             aligned to the optimal I/O size (at least 1 MiB)
 *
 * Bit i of the bitmap is data block data_start + i: 1 allocated, 0 free.
 * All integers are little-endian; every block carries an xxh64 checksum of
 * its bytes 8 to the end (the superblock: of its first 4 KiB).
 */
#ifndef CRU_POOL_FORMAT_H
#define CRU_POOL_FORMAT_H

#include <crucible/compat.h>

#define CRU_POOL_MAGIC		0x4c4f4f5043555243ULL	/* "CRUCPOOL" */
#define CRU_POOL_INTENT_MAGIC	0x544e495043555243ULL	/* "CRUCPINT" */
#define CRU_POOL_REGION_MAGIC	0x4745525043555243ULL	/* "CRUCPREG" */
#define CRU_POOL_BITMAP_MAGIC	0x504d425043555243ULL	/* "CRUCPBMP" */
#define CRU_POOL_VERSION	1

#define CRU_POOL_SB_SIZE	4096U	/* the checksummed part of a superblock */
#define CRU_POOL_MIN_BLOCK	4096U
#define CRU_POOL_MAX_BLOCK	65536U
#define CRU_POOL_SB_SEED	0x6c6f6f7063757263ULL	/* "crucpool" */

#define CRU_POOL_INTENT_OPS	32	/* operations per transaction */
#define CRU_POOL_INTENT_BLOCKS	(1 + 2 * CRU_POOL_INTENT_OPS)

#define CRU_POOL_BITMAP_HDR	64	/* bytes before the bits of a bitmap block */
#define CRU_POOL_REGION_HDR	256	/* bytes before the extents of a region slot */

#define CRU_POOL_NAME_LEN	32	/* pool name: up to 31 characters */
#define CRU_POOL_REGION_NAME_LEN 64	/* region name: up to 63 characters */

#define CRU_POOL_DEFAULT_REGIONS 256
#define CRU_POOL_MAX_REGIONS	65536

/* crucible_pool_sb.flags: what pool init found when it probed. */
#define CRU_POOL_F_ROTATIONAL	BIT(0)
#define CRU_POOL_F_DISCARD	BIT(1)
#define CRU_POOL_F_FILE		BIT(2)

struct cru_pool_sb {
	__le64 csum;		/* xxh64 of bytes 8..4095, seed CRU_POOL_SB_SEED */
	__le64 magic;
	__le32 version;
	__le32 block_size;	/* bytes */
	__u8 uuid[16];
	__le64 generation;	/* last committed transaction */
	__le64 total_blocks;	/* pool size in blocks, at init */
	__le64 intent_start;
	__le32 intent_blocks;
	__le32 max_regions;	/* region table slots = blocks */
	__le64 region_table_start;
	__le64 bitmap_start;
	__le64 mirror_start;
	__le64 bitmap_blocks;	/* each copy */
	__le64 data_start;
	__le64 data_blocks;
	__le32 bits_per_block;	/* bits in one bitmap block */
	__le32 copy;		/* 0 or 1: which copy this is */
	__le64 created;		/* unix time of pool init */
	__le32 flags;		/* CRU_POOL_F_* */
	__le32 optimal_io;	/* bytes, as probed; 0 = none reported */
	char name[CRU_POOL_NAME_LEN];
	__u8 pad[CRU_POOL_SB_SIZE - 176];
} __packed;

/* The header of each bitmap block; the bits follow. */
struct cru_pool_bitmap_hdr {
	__le64 csum;		/* xxh64 of bytes 8..block_size-1, seed: pool seed */
	__le64 magic;
	__le64 generation;	/* transaction that wrote it */
	__le64 index;		/* bitmap block number within its copy */
	__le32 copy;		/* 0 primary, 1 mirror */
	__le32 reserved;
	__u8 pad[CRU_POOL_BITMAP_HDR - 40];
} __packed;

struct cru_pool_extent_disk {
	__le64 start;		/* pool block */
	__le64 len;		/* blocks */
} __packed;

/* crucible_pool_region_disk.state */
#define CRU_POOL_SLOT_FREE	0
#define CRU_POOL_SLOT_USED	1

/* One region table slot: one block; the extents follow the header. */
struct cru_pool_region_disk {
	__le64 csum;		/* xxh64 of bytes 8..block_size-1, seed: pool seed */
	__le64 magic;
	__le64 generation;	/* transaction that wrote it */
	__le32 slot;
	__le32 state;		/* CRU_POOL_SLOT_* */
	__u8 uuid[16];		/* the region's */
	char name[CRU_POOL_REGION_NAME_LEN];
	__le64 blocks;		/* size: the sum of the extents */
	__le64 created;		/* unix time */
	__le32 nr_extents;
	__le32 reserved;
	__u8 pad[CRU_POOL_REGION_HDR - 136];
	struct cru_pool_extent_disk extents[];
} __packed;

/* crucible_pool_intent_op.type */
#define CRU_POOL_OP_CREATE	1
#define CRU_POOL_OP_REMOVE	2
#define CRU_POOL_OP_UPDATE	3

struct cru_pool_intent_op {
	__le32 slot;
	__le32 type;
	__le64 pre_csum;	/* csum field of the slot image before the op */
	__le64 post_csum;	/* ... and after it */
} __packed;

/*
 * The intent log header; operation i's slot images before and after
 * follow in blocks intent_start + 1 + 2i and + 2 + 2i.
 */
struct cru_pool_intent_hdr {
	__le64 csum;		/* xxh64 of bytes 8..block_size-1, seed: pool seed */
	__le64 magic;
	__le64 generation;	/* the transaction it belongs to */
	__le32 nr_ops;		/* 0: no transaction pending */
	__le32 reserved;
	struct cru_pool_intent_op ops[CRU_POOL_INTENT_OPS];
} __packed;

_Static_assert(sizeof(struct cru_pool_sb) == CRU_POOL_SB_SIZE, "pool sb size");
_Static_assert(sizeof(struct cru_pool_bitmap_hdr) == CRU_POOL_BITMAP_HDR,
	       "bitmap header size");
_Static_assert(sizeof(struct cru_pool_region_disk) == CRU_POOL_REGION_HDR,
	       "region header size");
_Static_assert(sizeof(struct cru_pool_intent_hdr) <= CRU_POOL_MIN_BLOCK,
	       "intent header fits a block");

/* Extents a region slot of @block_size bytes holds. */
static inline u32 cru_pool_slot_extents(u32 block_size)
{
	return (block_size - CRU_POOL_REGION_HDR) /
	       sizeof(struct cru_pool_extent_disk);
}

static inline u32 cru_pool_bits_per_block(u32 block_size)
{
	return (block_size - CRU_POOL_BITMAP_HDR) * 8;
}

#endif /* CRU_POOL_FORMAT_H */

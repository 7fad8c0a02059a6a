// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the dm-crucible on-disk format (shared/format.c): where
 * things are on a leg, and how superblocks, region entries and per-block
 * records are sealed, checked and decoded.
 *
 * Expected geometries are worked out by hand from the layout described in
 * include/crucible/format.h, not from the code under test.
 */
#include <kunit/test.h>
#include <linux/prandom.h>
#include <linux/slab.h>
#include <linux/xxhash.h>

#include "../include/crucible/format.h"

#define TEST_SEED	0x5eed0f0cba5eba11ULL

/* ---- geometry ---- */

struct geometry_case {
	const char *name;
	u64 volume_blocks;
	u32 region_blocks;
	u32 region_shift;
	u64 nr_regions;
	u64 region_table_blocks;
	u64 record_start;
	u64 record_blocks;
	u64 data_start;
	u64 leg_blocks;
};

static const struct geometry_case geometry_cases[] = {
	{ "one block, smallest region", 1, 16, 4,
	  1, 1, 3, 1, 256, 257 },
	{ "odd size, partial last region", 12345, 64, 6,
	  193, 2, 4, 49, 256, 12601 },
	{ "whole regions only", 1024, 256, 8,
	  4, 1, 3, 4, 256, 1280 },
	{ "region table of two blocks", 2064, 16, 4,
	  129, 2, 4, 9, 256, 2320 },
	/* 3 + 253 record blocks end exactly on the first 1 MiB boundary... */
	{ "records end on the 1 MiB boundary", 64768, 262144, 18,
	  1, 1, 3, 253, 256, 65024 },
	/* ...and one more block pushes the data area to the next one. */
	{ "records one block past the boundary", 64769, 262144, 18,
	  1, 1, 3, 254, 512, 65281 },
	/* 1 TiB = 2^28 blocks: 2^20 regions of 1 MiB, 2^20 record blocks. */
	{ "1 TiB, 1 MiB regions", 1ULL << 28, 256, 8,
	  1ULL << 20, 8192, 8194, 1ULL << 20, 1057024, 269492480 },
	{ "1 TiB, 1 GiB regions", 1ULL << 28, 262144, 18,
	  1024, 8, 10, 1ULL << 20, 1048832, 269484288 },
	{ "largest volume, 2^52 blocks", 1ULL << 52, 262144, 18,
	  1ULL << 34, 1ULL << 27, (1ULL << 27) + 2, 1ULL << 44,
	  (1ULL << 44) + (1ULL << 27) + 256,
	  (1ULL << 52) + (1ULL << 44) + (1ULL << 27) + 256 },
};

static void geometry_case_desc(const struct geometry_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(geometry, geometry_cases, geometry_case_desc);

static void crucible_geometry_layout(struct kunit *test)
{
	const struct geometry_case *c = test->param_value;
	struct crucible_geometry geo;

	KUNIT_ASSERT_EQ(test, crucible_geometry_init(&geo, c->volume_blocks,
						     c->region_blocks), 0);
	KUNIT_EXPECT_EQ(test, geo.volume_blocks, c->volume_blocks);
	KUNIT_EXPECT_EQ(test, geo.region_blocks, c->region_blocks);
	KUNIT_EXPECT_EQ(test, geo.region_shift, c->region_shift);
	KUNIT_EXPECT_EQ(test, geo.nr_regions, c->nr_regions);
	KUNIT_EXPECT_EQ(test, geo.region_table_start, 2ULL);
	KUNIT_EXPECT_EQ(test, geo.region_table_blocks, c->region_table_blocks);
	KUNIT_EXPECT_EQ(test, geo.record_start, c->record_start);
	KUNIT_EXPECT_EQ(test, geo.record_blocks, c->record_blocks);
	KUNIT_EXPECT_EQ(test, geo.data_start, c->data_start);
	KUNIT_EXPECT_EQ(test, geo.leg_blocks, c->leg_blocks);
}

/*
 * The contract tells test scripts how to find a block's data on a leg:
 * data_start = ceil((2 + ceil(nr_regions / 128) + ceil(volume_blocks / 256))
 * / 256) * 256.  Check that formula, and that the areas neither overlap nor
 * leave a gap, over a sweep of sizes and every region size.
 */
static void crucible_geometry_sweep(struct kunit *test)
{
	struct crucible_geometry geo;
	u32 region_blocks;
	u64 v, formula;

	for (region_blocks = CRUCIBLE_MIN_REGION_BLOCKS;
	     region_blocks <= CRUCIBLE_MAX_REGION_BLOCKS; region_blocks <<= 1) {
		for (v = 1; v < 200000; v = v * 3 / 2 + 1) {
			KUNIT_ASSERT_EQ(test,
					crucible_geometry_init(&geo, v, region_blocks),
					0);
			KUNIT_EXPECT_EQ(test, 1U << geo.region_shift, region_blocks);
			/* nr_regions covers the volume, and no more. */
			KUNIT_EXPECT_GE(test, geo.nr_regions * region_blocks, v);
			KUNIT_EXPECT_LT(test, (geo.nr_regions - 1) * region_blocks, v);
			/* The region table holds every entry, in as few blocks as it can. */
			KUNIT_EXPECT_GE(test, geo.region_table_blocks * 128, geo.nr_regions);
			KUNIT_EXPECT_LT(test, (geo.region_table_blocks - 1) * 128,
					geo.nr_regions);
			KUNIT_EXPECT_EQ(test, geo.record_start,
					2 + geo.region_table_blocks);
			/* One 16-byte record per block. */
			KUNIT_EXPECT_GE(test, geo.record_blocks * 256, v);
			KUNIT_EXPECT_LT(test, (geo.record_blocks - 1) * 256, v);
			KUNIT_EXPECT_EQ(test, geo.data_start % 256, 0ULL);
			KUNIT_EXPECT_GE(test, geo.data_start,
					geo.record_start + geo.record_blocks);
			KUNIT_EXPECT_LT(test, geo.data_start,
					geo.record_start + geo.record_blocks + 256);
			KUNIT_EXPECT_EQ(test, geo.leg_blocks, geo.data_start + v);

			formula = DIV_ROUND_UP_ULL(2 + DIV_ROUND_UP_ULL(geo.nr_regions, 128) +
						   DIV_ROUND_UP_ULL(v, 256), 256) * 256;
			KUNIT_EXPECT_EQ(test, geo.data_start, formula);
		}
	}
}

static void crucible_region_size_bounds(struct kunit *test)
{
	static const u32 good[] = { 16, 32, 256, 4096, 131072, 262144 };
	static const u32 bad[] = {
		0, 1, 8, 15, 17, 24, 100, 255, 257, 262143, 262145, 524288,
		0x80000000U, 0xffffffffU,
	};
	struct crucible_geometry geo;
	int i;

	for (i = 0; i < ARRAY_SIZE(good); i++) {
		KUNIT_EXPECT_TRUE_MSG(test, crucible_region_blocks_valid(good[i]),
				      "region of %u blocks", good[i]);
		KUNIT_EXPECT_EQ_MSG(test, crucible_geometry_init(&geo, 1000, good[i]),
				    0, "region of %u blocks", good[i]);
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		KUNIT_EXPECT_FALSE_MSG(test, crucible_region_blocks_valid(bad[i]),
				       "region of %u blocks", bad[i]);
		KUNIT_EXPECT_EQ_MSG(test, crucible_geometry_init(&geo, 1000, bad[i]),
				    -EINVAL, "region of %u blocks", bad[i]);
	}
}

static void crucible_geometry_rejects_bad_volume(struct kunit *test)
{
	struct crucible_geometry geo;

	KUNIT_EXPECT_EQ(test, crucible_geometry_init(&geo, 0, 256), -EINVAL);
	KUNIT_EXPECT_EQ(test, crucible_geometry_init(&geo, (1ULL << 52) + 1, 256),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, crucible_geometry_init(&geo, U64_MAX, 256), -EINVAL);
	KUNIT_EXPECT_EQ(test, crucible_geometry_init(&geo, 1ULL << 52, 16), 0);
}

/* ---- superblock ---- */

static void crucible_layout_sizes(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, sizeof(struct crucible_sb), (size_t)CRUCIBLE_BLOCK_SIZE);
	KUNIT_EXPECT_EQ(test, sizeof(struct crucible_region_entry),
			(size_t)CRUCIBLE_REGION_ENTRY_SIZE);
	KUNIT_EXPECT_EQ(test, sizeof(struct crucible_record),
			(size_t)CRUCIBLE_RECORD_SIZE);
	KUNIT_EXPECT_EQ(test, offsetof(struct crucible_sb, csum), (size_t)0);
	KUNIT_EXPECT_EQ(test, offsetof(struct crucible_sb, magic), (size_t)8);
	KUNIT_EXPECT_EQ(test, offsetof(struct crucible_sb, version), (size_t)16);
	KUNIT_EXPECT_EQ(test, offsetof(struct crucible_sb, hydrated_blocks), (size_t)120);
	KUNIT_EXPECT_EQ(test, offsetof(struct crucible_sb, owner), (size_t)132);
	KUNIT_EXPECT_EQ(test, offsetof(struct crucible_sb, parent_sectors), (size_t)196);
	KUNIT_EXPECT_EQ(test, offsetof(struct crucible_sb, pad), (size_t)204);
}

/* A valid superblock, as a formatted leg @leg of a 12345-block volume. */
static struct crucible_sb *make_sb(struct kunit *test, u32 leg, u64 seq)
{
	struct crucible_geometry geo;
	struct crucible_sb *sb;

	sb = kunit_kzalloc(test, sizeof(*sb), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, sb);
	KUNIT_ASSERT_EQ(test, crucible_geometry_init(&geo, 12345, 64), 0);

	sb->magic = cpu_to_le64(CRUCIBLE_MAGIC);
	sb->version = cpu_to_le32(CRUCIBLE_FORMAT_VERSION);
	sb->leg_index = cpu_to_le32(leg);
	sb->nr_legs = cpu_to_le32(CRUCIBLE_NR_LEGS);
	sb->block_size = cpu_to_le32(CRUCIBLE_BLOCK_SIZE);
	sb->seq = cpu_to_le64(seq);
	memset(sb->uuid, 0xa5, sizeof(sb->uuid));
	sb->volume_blocks = cpu_to_le64(geo.volume_blocks);
	sb->region_blocks = cpu_to_le32(geo.region_blocks);
	sb->region_table_start = cpu_to_le64(geo.region_table_start);
	sb->record_start = cpu_to_le64(geo.record_start);
	sb->data_start = cpu_to_le64(geo.data_start);
	sb->generation = cpu_to_le64(7);
	sb->flush = cpu_to_le64(42);
	sb->seed = cpu_to_le64(TEST_SEED);
	memcpy(sb->owner, "host-a", 6);
	crucible_sb_seal(sb);
	return sb;
}

static void crucible_sb_valid(struct kunit *test)
{
	u32 leg;

	for (leg = 0; leg < CRUCIBLE_NR_LEGS; leg++)
		KUNIT_EXPECT_EQ(test, crucible_sb_check(make_sb(test, leg, 1)),
				CRUCIBLE_SB_VALID);
}

static void crucible_sb_blank(struct kunit *test)
{
	struct crucible_sb *sb = kunit_kzalloc(test, sizeof(*sb), GFP_KERNEL);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, sb);
	KUNIT_EXPECT_EQ(test, crucible_sb_check(sb), CRUCIBLE_SB_BLANK);

	/* Sealing a block without the magic does not make it a superblock. */
	crucible_sb_seal(sb);
	KUNIT_EXPECT_EQ(test, crucible_sb_check(sb), CRUCIBLE_SB_BLANK);
}

/* Every single-bit flip anywhere in the block is caught. */
static void crucible_sb_bit_flip(struct kunit *test)
{
	struct crucible_sb *sb = make_sb(test, 1, 3);
	u8 *p = (u8 *)sb;
	enum crucible_sb_verdict v, want;
	int bad = -1;
	size_t bit;

	for (bit = 0; bit < sizeof(*sb) * 8; bit++) {
		size_t byte = bit / 8;

		p[byte] ^= 1U << (bit % 8);
		v = crucible_sb_check(sb);
		p[byte] ^= 1U << (bit % 8);

		/* A damaged magic reads as an unformatted block. */
		if (byte >= offsetof(struct crucible_sb, magic) &&
		    byte < offsetof(struct crucible_sb, version))
			want = CRUCIBLE_SB_BLANK;
		else
			want = CRUCIBLE_SB_BAD_CSUM;
		if (v != want && bad < 0)
			bad = bit;
	}
	KUNIT_EXPECT_EQ_MSG(test, bad, -1, "flip of bit %d not reported", bad);
	KUNIT_EXPECT_EQ(test, crucible_sb_check(sb), CRUCIBLE_SB_VALID);
}

static void crucible_sb_bad_version(struct kunit *test)
{
	struct crucible_sb *sb = make_sb(test, 0, 1);

	sb->version = cpu_to_le32(CRUCIBLE_FORMAT_VERSION + 1);
	crucible_sb_seal(sb);
	KUNIT_EXPECT_EQ(test, crucible_sb_check(sb), CRUCIBLE_SB_BAD_VERSION);

	/* A newer format is reported as such, not as a garbled older one. */
	sb->block_size = cpu_to_le32(8192);
	crucible_sb_seal(sb);
	KUNIT_EXPECT_EQ(test, crucible_sb_check(sb), CRUCIBLE_SB_BAD_VERSION);

	sb = make_sb(test, 0, 1);
	sb->version = 0;
	crucible_sb_seal(sb);
	KUNIT_EXPECT_EQ(test, crucible_sb_check(sb), CRUCIBLE_SB_BAD_VERSION);
}

/*
 * A sound version 1 superblock is "old": the target refuses it and names
 * the upgrade, which reads it with crucible_sb_check_any().
 */
static void crucible_sb_old_version(struct kunit *test)
{
	struct crucible_sb *sb = make_sb(test, 0, 1);

	sb->version = cpu_to_le32(CRUCIBLE_FORMAT_VERSION_1);
	crucible_sb_seal(sb);
	KUNIT_EXPECT_EQ(test, crucible_sb_check(sb), CRUCIBLE_SB_OLD_VERSION);
	KUNIT_EXPECT_EQ(test, crucible_sb_check_any(sb), CRUCIBLE_SB_VALID);
	/* Its fields are checked all the same. */
	sb->block_size = cpu_to_le32(8192);
	crucible_sb_seal(sb);
	KUNIT_EXPECT_EQ(test, crucible_sb_check(sb), CRUCIBLE_SB_BAD_FIELDS);
	KUNIT_EXPECT_EQ(test, crucible_sb_check_any(sb), CRUCIBLE_SB_BAD_FIELDS);
}

struct sb_mutation {
	const char *name;
	void (*mutate)(struct crucible_sb *sb);
};

static void sb_block_size_512(struct crucible_sb *sb)
{
	sb->block_size = cpu_to_le32(512);
}

static void sb_two_legs(struct crucible_sb *sb)
{
	sb->nr_legs = cpu_to_le32(2);
}

static void sb_leg_index_3(struct crucible_sb *sb)
{
	sb->leg_index = cpu_to_le32(3);
}

static void sb_region_not_pow2(struct crucible_sb *sb)
{
	sb->region_blocks = cpu_to_le32(100);
}

static void sb_region_too_small(struct crucible_sb *sb)
{
	sb->region_blocks = cpu_to_le32(8);
}

static void sb_no_blocks(struct crucible_sb *sb)
{
	sb->volume_blocks = 0;
}

static void sb_volume_grown(struct crucible_sb *sb)
{
	le64_add_cpu(&sb->volume_blocks, 1 << 20);
}

static void sb_region_table_moved(struct crucible_sb *sb)
{
	le64_add_cpu(&sb->region_table_start, 1);
}

static void sb_records_moved(struct crucible_sb *sb)
{
	le64_add_cpu(&sb->record_start, 1);
}

static void sb_data_moved(struct crucible_sb *sb)
{
	le64_add_cpu(&sb->data_start, 256);
}

static const struct sb_mutation sb_mutations[] = {
	{ "block size 512", sb_block_size_512 },
	{ "two legs", sb_two_legs },
	{ "leg index 3", sb_leg_index_3 },
	{ "region size not a power of two", sb_region_not_pow2 },
	{ "region size below the minimum", sb_region_too_small },
	{ "zero volume blocks", sb_no_blocks },
	{ "volume larger than its layout", sb_volume_grown },
	{ "region table moved", sb_region_table_moved },
	{ "record area moved", sb_records_moved },
	{ "data area moved", sb_data_moved },
};

static void sb_mutation_desc(const struct sb_mutation *m, char *desc)
{
	strscpy(desc, m->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(sb_mutation, sb_mutations, sb_mutation_desc);

/* A correctly sealed superblock whose fields cannot describe a leg. */
static void crucible_sb_inconsistent(struct kunit *test)
{
	const struct sb_mutation *m = test->param_value;
	struct crucible_sb *sb = make_sb(test, 2, 1);

	m->mutate(sb);
	KUNIT_EXPECT_EQ(test, crucible_sb_check(sb), CRUCIBLE_SB_BAD_CSUM);
	crucible_sb_seal(sb);
	KUNIT_EXPECT_EQ(test, crucible_sb_check(sb), CRUCIBLE_SB_BAD_FIELDS);
}

static void crucible_sb_verdict_strings(struct kunit *test)
{
	static const enum crucible_sb_verdict all[] = {
		CRUCIBLE_SB_VALID, CRUCIBLE_SB_BLANK, CRUCIBLE_SB_BAD_CSUM,
		CRUCIBLE_SB_BAD_VERSION, CRUCIBLE_SB_BAD_FIELDS,
	};
	int i, j;

	for (i = 0; i < ARRAY_SIZE(all); i++) {
		const char *s = crucible_sb_verdict_str(all[i]);

		KUNIT_ASSERT_NOT_ERR_OR_NULL(test, s);
		KUNIT_EXPECT_GT(test, strlen(s), (size_t)0);
		for (j = 0; j < i; j++)
			KUNIT_EXPECT_STRNEQ(test, s, crucible_sb_verdict_str(all[j]));
	}
	KUNIT_EXPECT_STREQ(test, crucible_sb_verdict_str(99), "unknown");
}

static int pick(struct crucible_sb *a, struct crucible_sb *b)
{
	return crucible_sb_pick(a, crucible_sb_check(a), b, crucible_sb_check(b));
}

static void crucible_sb_pick_copy(struct kunit *test)
{
	struct crucible_sb *blank = kunit_kzalloc(test, sizeof(*blank), GFP_KERNEL);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, blank);

	/* Both valid: the higher sequence number wins; a tie goes to copy 0. */
	KUNIT_EXPECT_EQ(test, pick(make_sb(test, 0, 5), make_sb(test, 0, 6)), 1);
	KUNIT_EXPECT_EQ(test, pick(make_sb(test, 0, 7), make_sb(test, 0, 6)), 0);
	KUNIT_EXPECT_EQ(test, pick(make_sb(test, 0, 6), make_sb(test, 0, 6)), 0);
	KUNIT_EXPECT_EQ(test, pick(make_sb(test, 0, 1ULL << 40),
				   make_sb(test, 0, (1ULL << 40) + 1)), 1);

	/* One valid: that one, whatever the sequence numbers say. */
	KUNIT_EXPECT_EQ(test, pick(blank, make_sb(test, 0, 1)), 1);
	KUNIT_EXPECT_EQ(test, pick(make_sb(test, 0, 1), blank), 0);

	/* Neither. */
	KUNIT_EXPECT_EQ(test, pick(blank, blank), -1);
}

/*
 * A torn write of the newer copy (its checksum and sequence number reached
 * the disk, its new flush number did not) leaves the older, intact copy in
 * charge.
 */
static void crucible_sb_pick_torn_copy(struct kunit *test)
{
	struct crucible_sb *old = make_sb(test, 0, 10);
	struct crucible_sb *torn = make_sb(test, 0, 11);
	size_t head = offsetof(struct crucible_sb, seq) + sizeof(torn->seq);

	torn->flush = cpu_to_le64(43);
	crucible_sb_seal(torn);
	memcpy((u8 *)torn + head, (u8 *)old + head, sizeof(*old) - head);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(torn->seq), 11ULL);
	KUNIT_EXPECT_EQ(test, crucible_sb_check(torn), CRUCIBLE_SB_BAD_CSUM);
	KUNIT_EXPECT_EQ(test, pick(old, torn), 0);
	KUNIT_EXPECT_EQ(test, pick(torn, old), 1);

	torn = make_sb(test, 0, 11);
	torn->version = cpu_to_le32(CRUCIBLE_FORMAT_VERSION + 1);
	crucible_sb_seal(torn);
	KUNIT_EXPECT_EQ(test, pick(old, torn), 0);
}

/* ---- region entries ---- */

static const struct crucible_region_meta region_metas[] = {
	{ .generation = 1, .flush = 1, .dirty = false, .valid = true },
	{ .generation = 1, .flush = 0, .dirty = true, .valid = true },
	{ .generation = 0, .flush = 0, .dirty = true, .valid = true },
	{ .generation = 0, .flush = 9, .dirty = false, .valid = true },
	{ .generation = 123456789, .flush = 987654321, .dirty = true, .valid = true },
	{ .generation = U64_MAX, .flush = U64_MAX, .dirty = false, .valid = true },
	{ .generation = U64_MAX, .flush = U64_MAX, .dirty = true, .valid = true },
};

static void crucible_region_round_trip(struct kunit *test)
{
	struct crucible_region_entry e;
	struct crucible_region_meta m;
	u64 region;
	int i;

	for (i = 0; i < ARRAY_SIZE(region_metas); i++) {
		const struct crucible_region_meta *want = &region_metas[i];

		for (region = 0; region < 1ULL << 40; region = region * 5 + 3) {
			crucible_region_encode(&e, TEST_SEED, region, want);
			KUNIT_EXPECT_NOT_NULL(test, memchr_inv(&e, 0, sizeof(e)));
			crucible_region_decode(&e, TEST_SEED, region, &m);
			KUNIT_EXPECT_TRUE(test, m.valid);
			KUNIT_EXPECT_EQ(test, m.generation, want->generation);
			KUNIT_EXPECT_EQ(test, m.flush, want->flush);
			KUNIT_EXPECT_EQ(test, m.dirty, want->dirty);
		}
	}
}

/* A zeroed region table is valid: every region reads as never written. */
static void crucible_region_zero_never_written(struct kunit *test)
{
	static const struct crucible_region_meta never = { .valid = true };
	struct crucible_region_entry e;
	struct crucible_region_meta m;

	memset(&m, 0xff, sizeof(m));
	memset(&e, 0, sizeof(e));
	crucible_region_decode(&e, TEST_SEED, 77, &m);
	KUNIT_EXPECT_TRUE(test, m.valid);
	KUNIT_EXPECT_FALSE(test, m.dirty);
	KUNIT_EXPECT_EQ(test, m.generation, 0ULL);
	KUNIT_EXPECT_EQ(test, m.flush, 0ULL);

	memset(&e, 0xff, sizeof(e));
	crucible_region_encode(&e, TEST_SEED, 77, &never);
	KUNIT_EXPECT_NULL(test, memchr_inv(&e, 0, sizeof(e)));
}

static void crucible_region_bit_flip(struct kunit *test)
{
	const struct crucible_region_meta want = {
		.generation = 3, .flush = 17, .dirty = false, .valid = true,
	};
	struct crucible_region_entry e;
	struct crucible_region_meta m;
	int bit, bad = -1;

	crucible_region_encode(&e, TEST_SEED, 1000, &want);
	for (bit = 0; bit < sizeof(e) * 8; bit++) {
		((u8 *)&e)[bit / 8] ^= 1U << (bit % 8);
		crucible_region_decode(&e, TEST_SEED, 1000, &m);
		((u8 *)&e)[bit / 8] ^= 1U << (bit % 8);

		/* Invalid, and as weak as can be: dirty, generation 0. */
		if ((m.valid || !m.dirty || m.generation || m.flush) && bad < 0)
			bad = bit;
	}
	KUNIT_EXPECT_EQ_MSG(test, bad, -1, "flip of bit %d not caught", bad);
	crucible_region_decode(&e, TEST_SEED, 1000, &m);
	KUNIT_EXPECT_TRUE(test, m.valid);
}

/* An entry written for another region or another volume does not check. */
static void crucible_region_misplaced(struct kunit *test)
{
	const struct crucible_region_meta want = {
		.generation = 3, .flush = 17, .dirty = true, .valid = true,
	};
	struct crucible_region_entry e;
	struct crucible_region_meta m;

	crucible_region_encode(&e, TEST_SEED, 5, &want);
	crucible_region_decode(&e, TEST_SEED, 6, &m);
	KUNIT_EXPECT_FALSE(test, m.valid);
	crucible_region_decode(&e, TEST_SEED ^ 1, 5, &m);
	KUNIT_EXPECT_FALSE(test, m.valid);
	crucible_region_decode(&e, TEST_SEED, 5, &m);
	KUNIT_EXPECT_TRUE(test, m.valid);
}

/* ---- per-block records ---- */

static void crucible_record_round_trip(struct kunit *test)
{
	static const struct crucible_rec recs[] = {
		{ .hash = CRUCIBLE_HASH_ZERO_REMAP, .flush = 0 },
		{ .hash = 2, .flush = 1 },
		{ .hash = 0x0123456789abcdefULL, .flush = 0xdeadbeef },
		{ .hash = U64_MAX, .flush = U32_MAX },
	};
	struct crucible_record r;
	struct crucible_rec rec;
	u64 block;
	int i;

	for (i = 0; i < ARRAY_SIZE(recs); i++) {
		for (block = 0; block < 1ULL << 50; block = block * 7 + 1) {
			crucible_record_encode(&r, TEST_SEED, block, &recs[i]);
			KUNIT_EXPECT_TRUE(test, crucible_record_decode(&r, TEST_SEED,
								       block, true, &rec));
			KUNIT_EXPECT_EQ(test, rec.hash, recs[i].hash);
			KUNIT_EXPECT_EQ(test, rec.flush, recs[i].flush);
		}
	}
}

/*
 * A zeroed record area is valid only in a region never stamped: there
 * every block reads as never written.  In a stamped region an all-zero
 * record is a lost one (format version 2).
 */
static void crucible_record_zero_never_written(struct kunit *test)
{
	struct crucible_record r;
	struct crucible_rec rec = { .hash = 99, .flush = 99 };

	memset(&r, 0, sizeof(r));
	KUNIT_EXPECT_TRUE(test, crucible_record_decode(&r, TEST_SEED, 12, false, &rec));
	KUNIT_EXPECT_EQ(test, rec.hash, CRUCIBLE_HASH_UNWRITTEN);
	KUNIT_EXPECT_EQ(test, rec.flush, 0U);
	rec.hash = 99;
	KUNIT_EXPECT_FALSE(test, crucible_record_decode(&r, TEST_SEED, 12, true, &rec));
	KUNIT_EXPECT_EQ(test, rec.hash, CRUCIBLE_HASH_UNWRITTEN);
	KUNIT_EXPECT_TRUE(test, crucible_record_blank(&r));
}

/*
 * "Never written" is encoded like any other record, with its check and a
 * mark in place of the flush number, so it is never all zero whatever the
 * block: it can never be mistaken for a lost record.
 */
static void crucible_record_unwritten_encoded(struct kunit *test)
{
	const struct crucible_rec unwritten = { .hash = 0, .flush = 1234 };
	struct crucible_record r;
	struct crucible_rec rec = { .hash = 99, .flush = 99 };
	u64 block;

	for (block = 0; block < 1ULL << 50; block = block * 5 + 3) {
		memset(&r, 0, sizeof(r));
		crucible_record_encode(&r, TEST_SEED, block, &unwritten);
		KUNIT_EXPECT_FALSE(test, crucible_record_blank(&r));
		KUNIT_EXPECT_EQ(test, le32_to_cpu(r.flush),
				CRUCIBLE_RECORD_UNWRITTEN_MARK);
		KUNIT_EXPECT_TRUE(test, crucible_record_decode(&r, TEST_SEED, block,
							       true, &rec));
		KUNIT_EXPECT_EQ(test, rec.hash, CRUCIBLE_HASH_UNWRITTEN);
		KUNIT_EXPECT_EQ(test, rec.flush, 0U);
	}
	/* Hash 0 with anything but the mark is no record the encoder makes. */
	crucible_record_encode(&r, TEST_SEED, 7, &unwritten);
	r.flush = cpu_to_le32(5);
	KUNIT_EXPECT_FALSE(test, crucible_record_decode(&r, TEST_SEED, 7, false, &rec));
}

static void crucible_record_bit_flip(struct kunit *test)
{
	const struct crucible_rec want = { .hash = 0xfeedface12345678ULL, .flush = 5 };
	struct crucible_record r;
	struct crucible_rec rec;
	int bit, bad = -1;

	crucible_record_encode(&r, TEST_SEED, 4242, &want);
	for (bit = 0; bit < sizeof(r) * 8; bit++) {
		bool ok;

		((u8 *)&r)[bit / 8] ^= 1U << (bit % 8);
		ok = crucible_record_decode(&r, TEST_SEED, 4242, true, &rec);
		((u8 *)&r)[bit / 8] ^= 1U << (bit % 8);

		/* A bad record must not pass, nor hand back a hash. */
		if ((ok || rec.hash || rec.flush) && bad < 0)
			bad = bit;
	}
	KUNIT_EXPECT_EQ_MSG(test, bad, -1, "flip of bit %d not caught", bad);
	KUNIT_EXPECT_TRUE(test, crucible_record_decode(&r, TEST_SEED, 4242, true, &rec));
	KUNIT_EXPECT_EQ(test, rec.hash, want.hash);
}

/* A record read from the wrong slot (a misdirected write) does not check. */
static void crucible_record_misplaced(struct kunit *test)
{
	const struct crucible_rec want = { .hash = 0xabcdef, .flush = 9 };
	struct crucible_record r;
	struct crucible_rec rec;

	crucible_record_encode(&r, TEST_SEED, 256, &want);
	KUNIT_EXPECT_FALSE(test, crucible_record_decode(&r, TEST_SEED, 257, true, &rec));
	KUNIT_EXPECT_FALSE(test, crucible_record_decode(&r, TEST_SEED, 0, true, &rec));
	KUNIT_EXPECT_FALSE(test, crucible_record_decode(&r, ~TEST_SEED, 256, true, &rec));
	KUNIT_EXPECT_TRUE(test, crucible_record_decode(&r, TEST_SEED, 256, true, &rec));
}

/* ---- block hash ---- */

/*
 * The block hash is xxh64 with seed 0, except that 0 (kept for "never
 * written") becomes CRUCIBLE_HASH_ZERO_REMAP.  No 4 KiB block hashing to 0
 * is known, so the remap itself is checked through its contract: the hash of
 * any block, the zero block included, is a real xxh64 and is never 0.
 */
static void crucible_block_hash_values(struct kunit *test)
{
	struct rnd_state rnd;
	u8 *block;
	u64 h;
	int i;

	KUNIT_EXPECT_NE(test, CRUCIBLE_HASH_ZERO_REMAP, CRUCIBLE_HASH_UNWRITTEN);

	block = kunit_kzalloc(test, CRUCIBLE_BLOCK_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, block);
	h = crucible_block_hash(block);
	KUNIT_EXPECT_NE(test, h, CRUCIBLE_HASH_UNWRITTEN);
	KUNIT_EXPECT_EQ(test, h, xxh64(block, CRUCIBLE_BLOCK_SIZE, 0));

	prandom_seed_state(&rnd, 2024);
	for (i = 0; i < 256; i++) {
		prandom_bytes_state(&rnd, block, CRUCIBLE_BLOCK_SIZE);
		h = xxh64(block, CRUCIBLE_BLOCK_SIZE, 0);
		KUNIT_EXPECT_EQ(test, crucible_block_hash(block),
				h ? h : CRUCIBLE_HASH_ZERO_REMAP);
		KUNIT_EXPECT_NE(test, crucible_block_hash(block),
				CRUCIBLE_HASH_UNWRITTEN);
	}
}

/* Silent corruption of one bit anywhere in a block changes its hash. */
static void crucible_block_hash_bit_flip(struct kunit *test)
{
	struct rnd_state rnd;
	int bit, bad = -1;
	u8 *block;
	u64 h;

	block = kunit_kzalloc(test, CRUCIBLE_BLOCK_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, block);
	prandom_seed_state(&rnd, 7);
	prandom_bytes_state(&rnd, block, CRUCIBLE_BLOCK_SIZE);
	h = crucible_block_hash(block);

	for (bit = 0; bit < CRUCIBLE_BLOCK_SIZE * 8; bit += 13) {
		block[bit / 8] ^= 1U << (bit % 8);
		if (crucible_block_hash(block) == h && bad < 0)
			bad = bit;
		block[bit / 8] ^= 1U << (bit % 8);
	}
	KUNIT_EXPECT_EQ_MSG(test, bad, -1, "flip of bit %d not seen", bad);
	KUNIT_EXPECT_EQ(test, crucible_block_hash(block), h);
}

static struct kunit_case crucible_format_cases[] = {
	KUNIT_CASE_PARAM(crucible_geometry_layout, geometry_gen_params),
	KUNIT_CASE(crucible_geometry_sweep),
	KUNIT_CASE(crucible_region_size_bounds),
	KUNIT_CASE(crucible_geometry_rejects_bad_volume),
	KUNIT_CASE(crucible_layout_sizes),
	KUNIT_CASE(crucible_sb_valid),
	KUNIT_CASE(crucible_sb_blank),
	KUNIT_CASE(crucible_sb_bit_flip),
	KUNIT_CASE(crucible_sb_bad_version),
	KUNIT_CASE(crucible_sb_old_version),
	KUNIT_CASE_PARAM(crucible_sb_inconsistent, sb_mutation_gen_params),
	KUNIT_CASE(crucible_sb_verdict_strings),
	KUNIT_CASE(crucible_sb_pick_copy),
	KUNIT_CASE(crucible_sb_pick_torn_copy),
	KUNIT_CASE(crucible_region_round_trip),
	KUNIT_CASE(crucible_region_zero_never_written),
	KUNIT_CASE(crucible_region_bit_flip),
	KUNIT_CASE(crucible_region_misplaced),
	KUNIT_CASE(crucible_record_round_trip),
	KUNIT_CASE(crucible_record_zero_never_written),
	KUNIT_CASE(crucible_record_unwritten_encoded),
	KUNIT_CASE(crucible_record_bit_flip),
	KUNIT_CASE(crucible_record_misplaced),
	KUNIT_CASE(crucible_block_hash_values),
	KUNIT_CASE(crucible_block_hash_bit_flip),
	{}
};

static struct kunit_suite crucible_format_suite = {
	.name = "crucible_format",
	.test_cases = crucible_format_cases,
};

kunit_test_suites(&crucible_format_suite);

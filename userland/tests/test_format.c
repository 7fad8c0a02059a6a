// SPDX-License-Identifier: GPL-2.0
/*
 * The shared on-disk format code (shared/format.c), natively: geometry,
 * superblock seal/check/pick, region entries and per-block records.
 */
#include "test.h"

#include <xxhash.h>

#include <crucible/format.h>
#include <crucible/reconcile.h>

#include "../lib/legfmt.h"

static uint64_t div_up(uint64_t n, uint64_t d)
{
	return (n + d - 1) / d;
}

static void geometry_of_a_1g_volume(void **state)
{
	struct crucible_geometry g;

	(void)state;
	assert_int_equal(crucible_geometry_init(&g, 262144, 256), 0);
	assert_int_equal(g.volume_blocks, 262144);
	assert_int_equal(g.region_blocks, 256);
	assert_int_equal(g.region_shift, 8);
	assert_int_equal(g.nr_regions, 1024);
	assert_int_equal(g.region_table_start, 2);
	assert_int_equal(g.region_table_blocks, 8);
	assert_int_equal(g.record_start, 10);
	assert_int_equal(g.record_blocks, 1024);
	assert_int_equal(g.data_start, 1280);
	assert_int_equal(g.leg_blocks, 1280 + 262144);
}

/* data_start as the target contract tells tests to compute it. */
static void geometry_matches_the_contract_formula(void **state)
{
	static const struct {
		uint64_t volume_blocks;
		uint32_t region_blocks;
	} cases[] = {
		{ 1, 16 }, { 1000, 16 }, { 2048, 256 }, { 4096, 256 },
		{ 65536, 256 }, { 65537, 256 }, { 262144, 2048 },
		{ 1ULL << 28, 256 }, { 12345678, 262144 }, { 33554432, 16 },
	};
	struct crucible_geometry g;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t vb = cases[i].volume_blocks;
		uint64_t nr = div_up(vb, cases[i].region_blocks);
		uint64_t ds = div_up(2 + div_up(nr, 128) + div_up(vb, 256), 256) * 256;

		assert_int_equal(crucible_geometry_init(&g, vb, cases[i].region_blocks), 0);
		assert_int_equal(g.nr_regions, nr);
		assert_int_equal(g.data_start, ds);
		assert_true(g.record_start + g.record_blocks <= g.data_start);
		assert_int_equal(g.data_start % CRUCIBLE_DATA_ALIGN_BLOCKS, 0);
		assert_int_equal(g.leg_blocks, ds + vb);
		assert_int_equal(1U << g.region_shift, cases[i].region_blocks);
	}
}

static void impossible_geometry_is_refused(void **state)
{
	struct crucible_geometry g;

	(void)state;
	assert_int_equal(crucible_geometry_init(&g, 0, 256), -EINVAL);
	assert_int_equal(crucible_geometry_init(&g, 1024, 0), -EINVAL);
	assert_int_equal(crucible_geometry_init(&g, 1024, 8), -EINVAL);
	assert_int_equal(crucible_geometry_init(&g, 1024, 24), -EINVAL);
	assert_int_equal(crucible_geometry_init(&g, 1024, 524288), -EINVAL);
	assert_int_equal(crucible_geometry_init(&g, (1ULL << 52) + 1, 256), -EINVAL);
	assert_int_equal(crucible_geometry_init(&g, 1ULL << 52, 256), 0);
	assert_true(crucible_region_blocks_valid(16));
	assert_true(crucible_region_blocks_valid(262144));
	assert_false(crucible_region_blocks_valid(15));
	assert_false(crucible_region_blocks_valid(32768 + 16));
}

static void block_hash_is_xxh64_and_never_unwritten(void **state)
{
	static uint8_t block[CRUCIBLE_BLOCK_SIZE];
	uint64_t zero_hash, h;

	(void)state;
	memset(block, 0, sizeof(block));
	zero_hash = crucible_block_hash(block);
	assert_true(zero_hash != CRUCIBLE_HASH_UNWRITTEN);
	assert_true(zero_hash == XXH64(block, sizeof(block), 0));
	block[4095] = 1;
	h = crucible_block_hash(block);
	assert_true(h != zero_hash);
	assert_true(h == XXH64(block, sizeof(block), 0));
}

static void new_sb(struct crucible_sb *sb, unsigned int leg)
{
	static const uint8_t uuid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
					  13, 14, 15, 16 };
	struct crucible_geometry g;

	assert_int_equal(crucible_geometry_init(&g, 262144, 256), 0);
	cru_format_sb(sb, &g, uuid, 0x1234, leg, 0);
}

static void sealed_superblock_checks_valid(void **state)
{
	struct crucible_sb sb;

	(void)state;
	new_sb(&sb, 2);
	assert_int_equal(crucible_sb_check(&sb), CRUCIBLE_SB_VALID);
	assert_int_equal(le32_to_cpu(sb.leg_index), 2);
	assert_int_equal(le64_to_cpu(sb.data_start), 1280);
	assert_string_equal(crucible_sb_verdict_str(CRUCIBLE_SB_VALID), "valid");
}

static void damaged_superblocks_get_the_right_verdict(void **state)
{
	struct crucible_sb sb;

	(void)state;
	memset(&sb, 0, sizeof(sb));
	assert_int_equal(crucible_sb_check(&sb), CRUCIBLE_SB_BLANK);

	new_sb(&sb, 0);
	sb.pad[100] ^= 1;		/* torn write / bit rot */
	assert_int_equal(crucible_sb_check(&sb), CRUCIBLE_SB_BAD_CSUM);

	new_sb(&sb, 0);
	sb.generation = cpu_to_le64(5);	/* changed but not resealed */
	assert_int_equal(crucible_sb_check(&sb), CRUCIBLE_SB_BAD_CSUM);
	crucible_sb_seal(&sb);
	assert_int_equal(crucible_sb_check(&sb), CRUCIBLE_SB_VALID);

	new_sb(&sb, 0);
	sb.version = cpu_to_le32(CRUCIBLE_FORMAT_VERSION + 1);
	crucible_sb_seal(&sb);
	assert_int_equal(crucible_sb_check(&sb), CRUCIBLE_SB_BAD_VERSION);

	new_sb(&sb, 0);
	sb.leg_index = cpu_to_le32(3);
	crucible_sb_seal(&sb);
	assert_int_equal(crucible_sb_check(&sb), CRUCIBLE_SB_BAD_FIELDS);

	new_sb(&sb, 0);
	sb.block_size = cpu_to_le32(512);
	crucible_sb_seal(&sb);
	assert_int_equal(crucible_sb_check(&sb), CRUCIBLE_SB_BAD_FIELDS);

	new_sb(&sb, 0);
	sb.data_start = cpu_to_le64(1024);
	crucible_sb_seal(&sb);
	assert_int_equal(crucible_sb_check(&sb), CRUCIBLE_SB_BAD_FIELDS);

	new_sb(&sb, 0);
	sb.region_blocks = cpu_to_le32(100);
	crucible_sb_seal(&sb);
	assert_int_equal(crucible_sb_check(&sb), CRUCIBLE_SB_BAD_FIELDS);
}

static void superblock_pick_prefers_valid_then_newest(void **state)
{
	struct crucible_sb a, b;
	const enum crucible_sb_verdict V = CRUCIBLE_SB_VALID;

	(void)state;
	new_sb(&a, 0);
	new_sb(&b, 0);
	a.seq = cpu_to_le64(7);
	b.seq = cpu_to_le64(8);
	assert_int_equal(crucible_sb_pick(&a, V, &b, V), 1);
	assert_int_equal(crucible_sb_pick(&b, V, &a, V), 0);
	b.seq = cpu_to_le64(7);
	assert_int_equal(crucible_sb_pick(&a, V, &b, V), 0);
	b.seq = cpu_to_le64(100);
	assert_int_equal(crucible_sb_pick(&a, V, &b, CRUCIBLE_SB_BAD_CSUM), 0);
	assert_int_equal(crucible_sb_pick(&a, CRUCIBLE_SB_BLANK, &b, V), 1);
	assert_int_equal(crucible_sb_pick(&a, CRUCIBLE_SB_BAD_CSUM, &b,
					  CRUCIBLE_SB_BAD_VERSION), -1);
}

static void region_entries_round_trip(void **state)
{
	static const struct crucible_region_meta metas[] = {
		{ .generation = 1, .flush = 0, .dirty = false, .valid = true },
		{ .generation = 3, .flush = 77, .dirty = true, .valid = true },
		{ .generation = UINT64_MAX, .flush = UINT64_MAX, .dirty = false, .valid = true },
		{ .generation = 0, .flush = 0, .dirty = true, .valid = true },
	};
	struct crucible_region_entry e;
	struct crucible_region_meta m;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(metas); i++) {
		crucible_region_encode(&e, 0xabc, 42, &metas[i]);
		crucible_region_decode(&e, 0xabc, 42, &m);
		assert_true(m.valid);
		assert_true(m.generation == metas[i].generation);
		assert_true(m.flush == metas[i].flush);
		assert_int_equal(m.dirty, metas[i].dirty);
	}
}

static void never_written_region_is_all_zero(void **state)
{
	static const uint8_t zero[sizeof(struct crucible_region_entry)];
	struct crucible_region_meta m = { .valid = true };
	struct crucible_region_entry e;

	(void)state;
	crucible_region_encode(&e, 0xabc, 7, &m);
	assert_memory_equal(&e, zero, sizeof(e));
	m.generation = 99;
	crucible_region_decode(&e, 0xabc, 7, &m);
	assert_true(m.valid);
	assert_false(m.dirty);
	assert_int_equal(m.generation, 0);
	assert_int_equal(m.flush, 0);
}

static void damaged_region_entry_is_invalid_and_dirty(void **state)
{
	struct crucible_region_meta in = { .generation = 5, .flush = 9, .valid = true };
	struct crucible_region_entry e;
	struct crucible_region_meta m;

	(void)state;
	crucible_region_encode(&e, 0xabc, 7, &in);
	e.flush = cpu_to_le64(10);
	crucible_region_decode(&e, 0xabc, 7, &m);
	assert_false(m.valid);
	assert_true(m.dirty);
	assert_int_equal(m.generation, 0);

	/* An intact entry read for the wrong region or seed is not trusted. */
	crucible_region_encode(&e, 0xabc, 7, &in);
	crucible_region_decode(&e, 0xabc, 8, &m);
	assert_false(m.valid);
	crucible_region_decode(&e, 0xabd, 7, &m);
	assert_false(m.valid);
}

static void records_round_trip(void **state)
{
	struct crucible_rec in = { .hash = 0x1122334455667788ULL, .flush = 0xdeadbeef };
	struct crucible_rec out;
	struct crucible_record r;

	(void)state;
	crucible_record_encode(&r, 0x55, 1000, &in);
	assert_true(crucible_record_decode(&r, 0x55, 1000, true, &out));
	assert_true(out.hash == in.hash);
	assert_true(out.flush == in.flush);
	assert_true(crucible_may_write_unwritten(&(struct crucible_rec){ 0, 0 }));
	assert_false(crucible_may_write_unwritten(&out));
}

/* Version 2: "never written" has a check; only a blank slot is all zero. */
static void unwritten_record_is_never_blank(void **state)
{
	struct crucible_rec in = { .hash = CRUCIBLE_HASH_UNWRITTEN, .flush = 5 };
	struct crucible_rec out = { 1, 1 };
	struct crucible_record r;

	(void)state;
	crucible_record_encode(&r, 0x55, 3, &in);
	assert_false(crucible_record_blank(&r));
	assert_int_equal(le32_to_cpu(r.flush), CRUCIBLE_RECORD_UNWRITTEN_MARK);
	assert_true(crucible_record_decode(&r, 0x55, 3, true, &out));
	assert_int_equal(out.hash, 0);
	assert_int_equal(out.flush, 0);
}

/* A blank slot says "never written" in a region never stamped, else "lost". */
static void blank_record_counts_only_where_never_stamped(void **state)
{
	struct crucible_rec out = { 1, 1 };
	struct crucible_record r;

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_true(crucible_record_blank(&r));
	assert_true(crucible_record_decode(&r, 0x55, 3, false, &out));
	assert_int_equal(out.hash, 0);
	assert_false(crucible_record_decode(&r, 0x55, 3, true, &out));
	assert_int_equal(out.hash, 0);
}

static void damaged_or_misplaced_record_fails_its_check(void **state)
{
	struct crucible_rec in = { .hash = 42, .flush = 1 };
	struct crucible_rec out;
	struct crucible_record r;

	(void)state;
	crucible_record_encode(&r, 0x55, 1000, &in);
	r.hash = cpu_to_le64(43);
	assert_false(crucible_record_decode(&r, 0x55, 1000, true, &out));
	assert_int_equal(out.hash, 0);

	crucible_record_encode(&r, 0x55, 1000, &in);
	assert_false(crucible_record_decode(&r, 0x55, 1001, true, &out));
	assert_false(crucible_record_decode(&r, 0x56, 1000, true, &out));
}

static void struct_sizes_match_the_format(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct crucible_sb), CRUCIBLE_BLOCK_SIZE);
	assert_int_equal(sizeof(struct crucible_region_entry), CRUCIBLE_REGION_ENTRY_SIZE);
	assert_int_equal(sizeof(struct crucible_record), CRUCIBLE_RECORD_SIZE);
}

/* The offsets Documentation/on-disk-format.rst gives, field by field. */
static void superblock_offsets_match_the_documentation(void **state)
{
	(void)state;
	assert_int_equal(offsetof(struct crucible_sb, seq), 32);
	assert_int_equal(offsetof(struct crucible_sb, uuid), 40);
	assert_int_equal(offsetof(struct crucible_sb, volume_blocks), 56);
	assert_int_equal(offsetof(struct crucible_sb, seed), 112);
	assert_int_equal(offsetof(struct crucible_sb, hydrated_blocks), 120);
	assert_int_equal(offsetof(struct crucible_sb, leg_state), 128);
	assert_int_equal(offsetof(struct crucible_sb, owner), 132);
	assert_int_equal(offsetof(struct crucible_sb, parent_sectors), 196);
	assert_int_equal(offsetof(struct crucible_sb, pad), 204);
	assert_int_equal(sizeof(((struct crucible_sb *)0)->pad), 3892);
}

/* 0 and 2 name no data, so no block's stored hash is ever one of them. */
static void hashes_that_name_no_data_are_remapped(void **state)
{
	(void)state;
	assert_true(crucible_hash_fixup(CRUCIBLE_HASH_UNWRITTEN) == CRUCIBLE_HASH_ZERO_REMAP);
	assert_true(crucible_hash_fixup(CRUCIBLE_HASH_ZEROED) == CRUCIBLE_HASH_ZERO_REMAP);
	assert_true(crucible_hash_fixup(1) == 1);
	assert_true(crucible_hash_fixup(3) == 3);
	assert_true(crucible_hash_fixup(UINT64_MAX) == UINT64_MAX);
	assert_false(crucible_hash_has_data(CRUCIBLE_HASH_UNWRITTEN));
	assert_false(crucible_hash_has_data(CRUCIBLE_HASH_ZEROED));
	assert_true(crucible_hash_has_data(CRUCIBLE_HASH_ZERO_REMAP));
	assert_true(crucible_hash_has_data(0xac869b6f32d8bbdbULL));
}

/* A discarded block's record (hash 2) is a valid record, not "unwritten". */
static void zeroed_record_round_trips(void **state)
{
	struct crucible_rec in = { .hash = CRUCIBLE_HASH_ZEROED, .flush = 9 };
	struct crucible_rec out;
	struct crucible_record r;

	(void)state;
	crucible_record_encode(&r, 0x77, 4242, &in);
	assert_true(crucible_record_decode(&r, 0x77, 4242, true, &out));
	assert_true(out.hash == CRUCIBLE_HASH_ZEROED);
	assert_int_equal(out.flush, 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(geometry_of_a_1g_volume),
		cmocka_unit_test(geometry_matches_the_contract_formula),
		cmocka_unit_test(impossible_geometry_is_refused),
		cmocka_unit_test(block_hash_is_xxh64_and_never_unwritten),
		cmocka_unit_test(sealed_superblock_checks_valid),
		cmocka_unit_test(damaged_superblocks_get_the_right_verdict),
		cmocka_unit_test(superblock_pick_prefers_valid_then_newest),
		cmocka_unit_test(region_entries_round_trip),
		cmocka_unit_test(never_written_region_is_all_zero),
		cmocka_unit_test(damaged_region_entry_is_invalid_and_dirty),
		cmocka_unit_test(records_round_trip),
		cmocka_unit_test(unwritten_record_is_never_blank),
		cmocka_unit_test(blank_record_counts_only_where_never_stamped),
		cmocka_unit_test(damaged_or_misplaced_record_fails_its_check),
		cmocka_unit_test(struct_sizes_match_the_format),
		cmocka_unit_test(superblock_offsets_match_the_documentation),
		cmocka_unit_test(hashes_that_name_no_data_are_remapped),
		cmocka_unit_test(zeroed_record_round_trips),
	};

	return cmocka_run_group_tests_name("shared format", tests, NULL, NULL);
}

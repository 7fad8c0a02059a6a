// SPDX-License-Identifier: GPL-2.0
/*
 * Formatting a leg set (cruciblectl format) on regular files.
 */
#include "test.h"

#include <crucible/format.h>

#include "../lib/legfmt.h"

#define MiB (1024 * 1024)

struct fixture {
	char *dir;
	char path[CRU_NR_LEGS][512];
	const char *legs[CRU_NR_LEGS];
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	int i;

	if (!fx)
		return -1;
	fx->dir = test_tmpdir();
	if (!fx->dir)
		return -1;
	for (i = 0; i < CRU_NR_LEGS; i++) {
		snprintf(fx->path[i], sizeof(fx->path[i]), "%s/leg%d", fx->dir, i);
		test_make_file(fx->path[i], 16 * MiB);
		fx->legs[i] = fx->path[i];
	}
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	test_rm_rf(fx->dir);
	free(fx->dir);
	free(fx);
	return 0;
}

static void read_sb(const char *path, int copy, struct crucible_sb *sb)
{
	test_pread(path, sb, sizeof(*sb), (off_t)copy * CRUCIBLE_BLOCK_SIZE);
}

static void format_ok(struct fixture *fx, uint64_t volume, uint64_t region,
		      bool force, struct cru_format_result *res)
{
	struct cru_format_opts o = { .volume_bytes = volume,
				     .region_bytes = region, .force = force };
	struct cru_err err;

	if (cru_format_legs(fx->legs, &o, res, &err))
		fail_msg("format failed: %s", err.msg);
}

static void zeroed_legs_get_two_valid_superblocks_each(void **state)
{
	struct fixture *fx = *state;
	struct cru_format_result res;
	struct crucible_geometry geo;
	struct crucible_sb sb, first;
	int i, c;

	format_ok(fx, 8 * MiB, 0, false, &res);
	assert_int_equal(crucible_geometry_init(&geo, 2048, 256), 0);
	assert_memory_equal(&res.geo, &geo, sizeof(geo));
	assert_int_equal(res.uuid[6] >> 4, 4);		/* random (v4) uuid */
	assert_int_equal(res.uuid[8] & 0xc0, 0x80);

	read_sb(fx->path[0], 0, &first);
	for (i = 0; i < CRU_NR_LEGS; i++) {
		for (c = 0; c < CRUCIBLE_SB_COPIES; c++) {
			read_sb(fx->path[i], c, &sb);
			assert_int_equal(crucible_sb_check(&sb), CRUCIBLE_SB_VALID);
			assert_int_equal(le32_to_cpu(sb.leg_index), i);
			assert_int_equal(le64_to_cpu(sb.volume_blocks), 2048);
			assert_int_equal(le32_to_cpu(sb.region_blocks), 256);
			assert_int_equal(le64_to_cpu(sb.data_start), geo.data_start);
			assert_int_equal(le64_to_cpu(sb.generation), 0);
			assert_int_equal(le64_to_cpu(sb.flush), 0);
			assert_memory_equal(sb.uuid, res.uuid, 16);
			assert_memory_equal(sb.uuid, first.uuid, 16);
			assert_true(le64_to_cpu(sb.seed) == res.seed);
		}
	}
}

static void region_size_is_recorded(void **state)
{
	struct fixture *fx = *state;
	struct cru_format_result res;
	struct crucible_sb sb;

	format_ok(fx, 8 * MiB, 64 * 1024, false, &res);
	read_sb(fx->path[1], 0, &sb);
	assert_int_equal(le32_to_cpu(sb.region_blocks), 16);
	assert_int_equal(res.geo.nr_regions, 128);
}

static void formatted_legs_are_refused_without_force(void **state)
{
	struct fixture *fx = *state;
	struct cru_format_opts o = { .volume_bytes = 8 * MiB };
	struct cru_format_result res, again;
	struct crucible_sb sb;
	struct cru_err err;

	format_ok(fx, 8 * MiB, 0, false, &res);
	assert_int_equal(cru_format_legs(fx->legs, &o, &again, &err), -EEXIST);
	assert_contains(err.msg, "leg 0");
	assert_contains(err.msg, fx->path[0]);
	assert_contains(err.msg, "already formatted");
	assert_contains(err.msg, "--force");
	read_sb(fx->path[2], 0, &sb);
	assert_memory_equal(sb.uuid, res.uuid, 16);	/* untouched */

	format_ok(fx, 8 * MiB, 0, true, &again);
	assert_memory_not_equal(again.uuid, res.uuid, 16);
	read_sb(fx->path[2], 1, &sb);
	assert_memory_equal(sb.uuid, again.uuid, 16);
}

static void non_blank_leg_stops_the_whole_set(void **state)
{
	struct fixture *fx = *state;
	struct cru_format_opts o = { .volume_bytes = 8 * MiB };
	struct cru_format_result res;
	static const uint8_t ext_magic[2] = { 0x53, 0xef };
	struct crucible_sb sb;
	struct cru_err err;

	/* Something at the ext4 superblock's place on leg 2. */
	test_pwrite(fx->path[2], ext_magic, sizeof(ext_magic), 1024 + 56);
	assert_int_equal(cru_format_legs(fx->legs, &o, &res, &err), -EEXIST);
	assert_contains(err.msg, "leg 2");
	assert_contains(err.msg, "not blank");
	/* Legs 0 and 1 were blank and must still be. */
	read_sb(fx->path[0], 0, &sb);
	assert_int_equal(crucible_sb_check(&sb), CRUCIBLE_SB_BLANK);
}

static void damaged_crucible_superblock_is_named(void **state)
{
	struct fixture *fx = *state;
	struct cru_format_opts o = { .volume_bytes = 8 * MiB };
	struct cru_format_result res;
	struct crucible_sb sb;
	struct cru_err err;
	uint8_t junk = 0xff;

	format_ok(fx, 8 * MiB, 0, false, &res);
	test_pwrite(fx->path[0], &junk, 1, 3000);	/* copy 0 */
	test_pwrite(fx->path[0], &junk, 1, 4096 + 3000);	/* copy 1 */
	read_sb(fx->path[0], 0, &sb);
	assert_int_equal(crucible_sb_check(&sb), CRUCIBLE_SB_BAD_CSUM);
	assert_int_equal(cru_format_legs(fx->legs, &o, &res, &err), -EEXIST);
	assert_contains(err.msg, "checksum");
}

static void force_zeroes_old_metadata(void **state)
{
	struct fixture *fx = *state;
	struct cru_format_result res;
	uint8_t buf[4096], zero[4096];
	int i;

	memset(buf, 0xa5, sizeof(buf));
	memset(zero, 0, sizeof(zero));
	for (i = 0; i < CRU_NR_LEGS; i++) {
		test_pwrite(fx->path[i], buf, sizeof(buf), 2 * 4096);	/* region table */
		test_pwrite(fx->path[i], buf, sizeof(buf), 3 * 4096);	/* records */
	}
	format_ok(fx, 8 * MiB, 0, true, &res);
	assert_int_equal(res.geo.record_start, 3);
	for (i = 0; i < CRU_NR_LEGS; i++) {
		test_pread(fx->path[i], buf, sizeof(buf), 2 * 4096);
		assert_memory_equal(buf, zero, sizeof(buf));
		test_pread(fx->path[i], buf, sizeof(buf), 3 * 4096);
		assert_memory_equal(buf, zero, sizeof(buf));
	}
}

static void data_area_is_left_alone(void **state)
{
	struct fixture *fx = *state;
	struct cru_format_result res;
	uint8_t buf[4096], back[4096];

	memset(buf, 0x3c, sizeof(buf));
	test_pwrite(fx->path[1], buf, sizeof(buf), 256 * 4096);	/* data block 0 */
	format_ok(fx, 8 * MiB, 0, true, &res);
	assert_int_equal(res.geo.data_start, 256);
	test_pread(fx->path[1], back, sizeof(back), 256 * 4096);
	assert_memory_equal(buf, back, sizeof(buf));
}

static void small_leg_is_refused(void **state)
{
	struct fixture *fx = *state;
	struct cru_format_opts o = { .volume_bytes = 16 * MiB };
	struct cru_format_result res;
	struct cru_err err;

	/* 16 MiB of data + 1 MiB of metadata > 16 MiB legs. */
	assert_int_equal(cru_format_legs(fx->legs, &o, &res, &err), -ENOSPC);
	assert_contains(err.msg, "leg 0");
	assert_contains(err.msg, "too small");
	assert_contains(err.msg, "17.0 MiB");
	o.volume_bytes = 15 * MiB;	/* exactly fits */
	assert_int_equal(cru_format_legs(fx->legs, &o, &res, &err), 0);
}

static void same_leg_twice_is_refused(void **state)
{
	struct fixture *fx = *state;
	struct cru_format_opts o = { .volume_bytes = 8 * MiB };
	struct cru_format_result res;
	const char *legs[CRU_NR_LEGS] = { fx->path[0], fx->path[1], fx->path[0] };
	struct cru_err err;

	assert_int_equal(cru_format_legs(legs, &o, &res, &err), -EINVAL);
	assert_contains(err.msg, "legs 0 and 2 are the same device");
}

static void unusable_paths_are_named(void **state)
{
	struct fixture *fx = *state;
	struct cru_format_opts o = { .volume_bytes = 8 * MiB };
	struct cru_format_result res;
	const char *legs[CRU_NR_LEGS] = { fx->path[0], "/nonexistent/leg", fx->path[2] };
	struct cru_err err;

	assert_int_equal(cru_format_legs(legs, &o, &res, &err), -ENOENT);
	assert_contains(err.msg, "leg 1 (/nonexistent/leg)");
	legs[1] = fx->dir;
	assert_int_equal(cru_format_legs(legs, &o, &res, &err), -EINVAL);
	assert_contains(err.msg, "not a block device or regular file");
}

static void bad_sizes_are_refused(void **state)
{
	struct fixture *fx = *state;
	struct cru_format_opts o = { .volume_bytes = 8 * MiB + 512 };
	struct cru_format_result res;
	struct cru_err err;

	assert_int_equal(cru_format_legs(fx->legs, &o, &res, &err), -EINVAL);
	assert_contains(err.msg, "4 KiB");
	o.volume_bytes = 8 * MiB;
	o.region_bytes = 3 * MiB;
	assert_int_equal(cru_format_legs(fx->legs, &o, &res, &err), -EINVAL);
	assert_contains(err.msg, "region size");
	o.region_bytes = 32 * 1024;
	assert_int_equal(cru_format_legs(fx->legs, &o, &res, &err), -EINVAL);
}

static void make_parent(struct fixture *fx, char *path, size_t len,
			off_t bytes)
{
	snprintf(path, len, "%s/parent", fx->dir);
	test_make_file(path, bytes);
}

/* The parent's size is recorded on every leg; the parent is not written. */
static void parent_size_is_recorded(void **state)
{
	struct fixture *fx = *state;
	struct cru_format_opts o = { .volume_bytes = 8 * MiB };
	struct cru_format_result res;
	struct crucible_sb sb;
	struct cru_err err;
	char parent[600];
	uint8_t buf[4096], back[4096];
	int i, c;

	/* Not a multiple of 4 KiB, nor of a sector: the whole sectors count. */
	make_parent(fx, parent, sizeof(parent), 5 * MiB + 4096 + 700);
	memset(buf, 0x5a, sizeof(buf));
	test_pwrite(parent, buf, sizeof(buf), 0);
	o.parent = parent;
	assert_int_equal(cru_format_legs(fx->legs, &o, &res, &err), 0);
	assert_int_equal(res.parent_sectors, (5 * MiB + 4096) / 512 + 1);
	for (i = 0; i < CRU_NR_LEGS; i++)
		for (c = 0; c < CRUCIBLE_SB_COPIES; c++) {
			read_sb(fx->path[i], c, &sb);
			assert_int_equal(crucible_sb_check(&sb), CRUCIBLE_SB_VALID);
			assert_int_equal(le64_to_cpu(sb.parent_sectors),
					 res.parent_sectors);
			assert_int_equal(le64_to_cpu(sb.hydrated_blocks), 0);
		}
	test_pread(parent, back, sizeof(back), 0);
	assert_memory_equal(buf, back, sizeof(buf));

	/* Without --parent: 0, "made without a parent". */
	format_ok(fx, 8 * MiB, 0, true, &res);
	assert_int_equal(res.parent_sectors, 0);
	read_sb(fx->path[1], 0, &sb);
	assert_int_equal(le64_to_cpu(sb.parent_sectors), 0);
}

static void parent_as_large_as_the_volume_is_accepted(void **state)
{
	struct fixture *fx = *state;
	struct cru_format_opts o = { .volume_bytes = 8 * MiB };
	struct cru_format_result res;
	struct cru_err err;
	char parent[600];

	make_parent(fx, parent, sizeof(parent), 8 * MiB);
	o.parent = parent;
	assert_int_equal(cru_format_legs(fx->legs, &o, &res, &err), 0);
	assert_int_equal(res.parent_sectors, 16384);
}

static void unusable_parents_are_refused_before_any_write(void **state)
{
	struct fixture *fx = *state;
	struct cru_format_opts o = { .volume_bytes = 8 * MiB };
	struct cru_format_result res;
	struct crucible_sb sb;
	struct cru_err err;
	char parent[600];
	int i;

	make_parent(fx, parent, sizeof(parent), 8 * MiB + 512);
	o.parent = parent;
	assert_int_equal(cru_format_legs(fx->legs, &o, &res, &err), -EINVAL);
	assert_contains(err.msg, "is larger than the volume (16385 > 16384 sectors)");

	make_parent(fx, parent, sizeof(parent), 100);
	assert_int_equal(cru_format_legs(fx->legs, &o, &res, &err), -EINVAL);
	assert_contains(err.msg, "empty");

	o.parent = "/nonexistent/image";
	assert_int_equal(cru_format_legs(fx->legs, &o, &res, &err), -ENOENT);
	assert_contains(err.msg, "parent (/nonexistent/image)");

	o.parent = fx->dir;
	assert_int_equal(cru_format_legs(fx->legs, &o, &res, &err), -EINVAL);
	assert_contains(err.msg, "parent");
	assert_contains(err.msg, "not a block device or regular file");

	o.parent = fx->path[1];
	assert_int_equal(cru_format_legs(fx->legs, &o, &res, &err), -EINVAL);
	assert_contains(err.msg, "is the same device as leg 1");

	for (i = 0; i < CRU_NR_LEGS; i++) {
		read_sb(fx->path[i], 0, &sb);
		assert_int_equal(crucible_sb_check(&sb), CRUCIBLE_SB_BLANK);
	}
}

/*
 * ---- upgrade from version 1
 *
 * A version 1 leg set as the version 1 module left it: superblocks at
 * version 1, region 0 stamped with blank records for the blocks never
 * written and a record for block 5, region 1 never stamped.
 */
static void make_v1_legs(struct fixture *fx, struct cru_format_result *res)
{
	const struct crucible_region_meta stamped = {
		.generation = 3, .flush = 7, .valid = true,
	};
	const struct crucible_rec written = { .hash = 0x1234567890abcdefULL, .flush = 7 };
	struct crucible_region_entry e;
	struct crucible_record r;
	struct crucible_sb sb;
	int i, c;

	format_ok(fx, 8 * MiB, 0, false, res);
	for (i = 0; i < CRU_NR_LEGS; i++) {
		for (c = 0; c < CRUCIBLE_SB_COPIES; c++) {
			read_sb(fx->path[i], c, &sb);
			sb.version = cpu_to_le32(CRUCIBLE_FORMAT_VERSION_1);
			crucible_sb_seal(&sb);
			test_pwrite(fx->path[i], &sb, sizeof(sb),
				    (off_t)c * CRUCIBLE_BLOCK_SIZE);
		}
		crucible_region_encode(&e, res->seed, 0, &stamped);
		test_pwrite(fx->path[i], &e, sizeof(e),
			    res->geo.region_table_start * CRUCIBLE_BLOCK_SIZE);
		crucible_record_encode(&r, res->seed, 5, &written);
		test_pwrite(fx->path[i], &r, sizeof(r),
			    res->geo.record_start * CRUCIBLE_BLOCK_SIZE + 5 * sizeof(r));
	}
}

static void record_at(struct fixture *fx, int leg, const struct cru_format_result *res,
		      uint64_t b, struct crucible_record *r)
{
	test_pread(fx->path[leg], r, sizeof(*r),
		   res->geo.record_start * CRUCIBLE_BLOCK_SIZE + b * sizeof(*r));
}

static void version_1_legs_are_refused_by_the_target_check(void **state)
{
	struct fixture *fx = *state;
	struct cru_format_result res;
	struct crucible_sb sb;

	make_v1_legs(fx, &res);
	read_sb(fx->path[1], 0, &sb);
	assert_int_equal(crucible_sb_check(&sb), CRUCIBLE_SB_OLD_VERSION);
	assert_int_equal(crucible_sb_check_any(&sb), CRUCIBLE_SB_VALID);
}

static void upgrade_initialises_records_of_stamped_regions_only(void **state)
{
	struct fixture *fx = *state;
	struct cru_format_result res;
	struct cru_upgrade_result up;
	struct crucible_record r;
	struct crucible_rec rec;
	struct crucible_sb sb;
	struct cru_err err;
	int i, c;

	make_v1_legs(fx, &res);
	assert_int_equal(cru_upgrade_legs(fx->legs, &up, &err), 0);
	for (i = 0; i < CRU_NR_LEGS; i++) {
		assert_int_equal(up.from_version[i], 1);
		assert_int_equal(up.stamped_regions[i], 1);
		/* Region 0 is blocks 0..255; block 5 had a record already. */
		assert_int_equal(up.initialised[i], 255);
		for (c = 0; c < CRUCIBLE_SB_COPIES; c++) {
			read_sb(fx->path[i], c, &sb);
			assert_int_equal(crucible_sb_check(&sb), CRUCIBLE_SB_VALID);
			assert_int_equal(le32_to_cpu(sb.version), CRUCIBLE_FORMAT_VERSION);
		}
		/* Never written, and now says so with a check. */
		record_at(fx, i, &res, 0, &r);
		assert_false(crucible_record_blank(&r));
		assert_true(crucible_record_decode(&r, res.seed, 0, true, &rec));
		assert_int_equal(rec.hash, CRUCIBLE_HASH_UNWRITTEN);
		record_at(fx, i, &res, 255, &r);
		assert_false(crucible_record_blank(&r));
		/* The written block keeps its record. */
		record_at(fx, i, &res, 5, &r);
		assert_true(crucible_record_decode(&r, res.seed, 5, true, &rec));
		assert_int_equal(rec.hash, 0x1234567890abcdefULL);
		/* A region never stamped keeps its blank records. */
		record_at(fx, i, &res, 256, &r);
		assert_true(crucible_record_blank(&r));
	}
	/* Again: nothing left to do, nothing changed. */
	assert_int_equal(cru_upgrade_legs(fx->legs, &up, &err), 0);
	for (i = 0; i < CRU_NR_LEGS; i++) {
		assert_int_equal(up.from_version[i], CRUCIBLE_FORMAT_VERSION);
		assert_int_equal(up.initialised[i], 0);
	}
}

/* An upgrade stopped after one leg is finished by running it again. */
static void interrupted_upgrade_is_finished_by_another(void **state)
{
	struct fixture *fx = *state;
	struct cru_format_result res;
	struct cru_upgrade_result up;
	struct crucible_sb sb;
	struct cru_err err;
	int c;

	make_v1_legs(fx, &res);
	assert_int_equal(cru_upgrade_legs(fx->legs, &up, &err), 0);
	/* Leg 2 back to version 1, as if the upgrade had stopped before it. */
	for (c = 0; c < CRUCIBLE_SB_COPIES; c++) {
		read_sb(fx->path[2], c, &sb);
		sb.version = cpu_to_le32(CRUCIBLE_FORMAT_VERSION_1);
		crucible_sb_seal(&sb);
		test_pwrite(fx->path[2], &sb, sizeof(sb), (off_t)c * CRUCIBLE_BLOCK_SIZE);
	}
	assert_int_equal(cru_upgrade_legs(fx->legs, &up, &err), 0);
	assert_int_equal(up.from_version[0], CRUCIBLE_FORMAT_VERSION);
	assert_int_equal(up.from_version[2], 1);
	assert_int_equal(up.initialised[2], 0);	/* done the first time */
	read_sb(fx->path[2], 1, &sb);
	assert_int_equal(crucible_sb_check(&sb), CRUCIBLE_SB_VALID);
}

static void upgrade_refuses_legs_of_two_volumes(void **state)
{
	struct fixture *fx = *state;
	struct cru_format_result res;
	struct cru_upgrade_result up;
	struct crucible_sb sb, before;
	struct cru_err err;

	make_v1_legs(fx, &res);
	read_sb(fx->path[0], 0, &before);
	read_sb(fx->path[1], 0, &sb);
	sb.uuid[0] ^= 1;
	crucible_sb_seal(&sb);
	test_pwrite(fx->path[1], &sb, sizeof(sb), 0);
	test_pwrite(fx->path[1], &sb, sizeof(sb), CRUCIBLE_BLOCK_SIZE);
	assert_int_equal(cru_upgrade_legs(fx->legs, &up, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "not a leg of the same volume"));
	/* Nothing was written, leg 0 included. */
	read_sb(fx->path[0], 0, &sb);
	assert_memory_equal(&sb, &before, sizeof(sb));
}

static void upgrade_refuses_a_blank_leg(void **state)
{
	struct fixture *fx = *state;
	struct cru_upgrade_result up;
	struct cru_err err;

	assert_int_equal(cru_upgrade_legs(fx->legs, &up, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "leg 0"));
	assert_non_null(strstr(err.msg, "no valid superblock"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(zeroed_legs_get_two_valid_superblocks_each, setup, teardown),
		cmocka_unit_test_setup_teardown(region_size_is_recorded, setup, teardown),
		cmocka_unit_test_setup_teardown(formatted_legs_are_refused_without_force, setup, teardown),
		cmocka_unit_test_setup_teardown(non_blank_leg_stops_the_whole_set, setup, teardown),
		cmocka_unit_test_setup_teardown(damaged_crucible_superblock_is_named, setup, teardown),
		cmocka_unit_test_setup_teardown(force_zeroes_old_metadata, setup, teardown),
		cmocka_unit_test_setup_teardown(data_area_is_left_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(small_leg_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(same_leg_twice_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(unusable_paths_are_named, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_sizes_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(parent_size_is_recorded, setup, teardown),
		cmocka_unit_test_setup_teardown(parent_as_large_as_the_volume_is_accepted, setup, teardown),
		cmocka_unit_test_setup_teardown(unusable_parents_are_refused_before_any_write, setup, teardown),
		cmocka_unit_test_setup_teardown(version_1_legs_are_refused_by_the_target_check, setup, teardown),
		cmocka_unit_test_setup_teardown(upgrade_initialises_records_of_stamped_regions_only, setup, teardown),
		cmocka_unit_test_setup_teardown(interrupted_upgrade_is_finished_by_another, setup, teardown),
		cmocka_unit_test_setup_teardown(upgrade_refuses_legs_of_two_volumes, setup, teardown),
		cmocka_unit_test_setup_teardown(upgrade_refuses_a_blank_leg, setup, teardown),
	};

	return cmocka_run_group_tests_name("leg format", tests, NULL, NULL);
}

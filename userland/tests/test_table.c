// SPDX-License-Identifier: GPL-2.0
/*
 * The table-line parser and builder.
 */
#include "test.h"

#include "../lib/table.h"

static void table_without_options(void **state)
{
	struct cru_table t;
	struct cru_err err;

	(void)state;
	assert_int_equal(cru_table_parse("253:1 253:2 253:3 -", &t, &err), 0);
	assert_string_equal(t.legs[0], "253:1");
	assert_string_equal(t.legs[1], "253:2");
	assert_string_equal(t.legs[2], "253:3");
	assert_false(t.has_parent);
	assert_false(t.has_generation);
	assert_false(t.has_region_size);
	assert_false(t.has_owner);
	assert_int_equal(t.replace_leg, -1);
}

static void table_as_the_target_prints_it(void **state)
{
	struct cru_table t;
	struct cru_err err;

	(void)state;
	assert_int_equal(cru_table_parse("7:0 7:1 7:2 7:3 6 generation 3 region_size 2048 owner host-a\n",
					 &t, &err), 0);
	assert_true(t.has_parent);
	assert_string_equal(t.parent, "7:3");
	assert_true(t.has_generation);
	assert_int_equal(t.generation, 3);
	assert_int_equal(t.region_size, 2048);
	assert_string_equal(t.owner, "host-a");
	assert_int_equal(t.unknown_args, 0);
}

static void every_optional_argument(void **state)
{
	struct cru_table t;
	struct cru_err err;

	(void)state;
	assert_int_equal(cru_table_parse("a b c - 16 generation 9 region_size 128 owner o "
					 "replace_leg 2 repair manual repair_throttle 50 "
					 "read_policy least_pending commit_period 250",
					 &t, &err), 0);
	assert_int_equal(t.generation, 9);
	assert_int_equal(t.region_size, 128);
	assert_int_equal(t.replace_leg, 2);
	assert_int_equal(t.repair, CRU_REPAIR_MODE_MANUAL);
	assert_true(t.has_repair_throttle);
	assert_int_equal(t.repair_throttle, 50);
	assert_int_equal(t.read_policy, CRU_READ_POLICY_LEAST_PENDING);
	assert_int_equal(t.commit_period, 250);
}

static void unknown_keys_of_a_newer_target_are_skipped(void **state)
{
	struct cru_table t;
	struct cru_err err;

	(void)state;
	assert_int_equal(cru_table_parse("a b c - 4 cache_mode wb generation 5",
					 &t, &err), 0);
	assert_int_equal(t.unknown_args, 1);
	assert_int_equal(t.generation, 5);
}

/* With a parent the target prints its hydration settings. */
static void table_of_a_volume_with_a_parent(void **state)
{
	struct cru_table t;
	struct cru_err err;

	(void)state;
	assert_int_equal(cru_table_parse("7:0 7:1 7:2 7:9 18 generation 2 region_size 2048 owner h "
					 "repair auto read_policy round_robin commit_period 1000 "
					 "repair_throttle 0 hydration off hydration_throttle 40",
					 &t, &err), 0);
	assert_true(t.has_parent);
	assert_string_equal(t.parent, "7:9");
	assert_int_equal(t.hydration, CRU_HYDRATION_MODE_OFF);
	assert_true(t.has_hydration_throttle);
	assert_int_equal(t.hydration_throttle, 40);
	assert_int_equal(t.unknown_args, 0);

	assert_int_equal(cru_table_parse("7:0 7:1 7:2 7:9 4 hydration on hydration_throttle 0",
					 &t, &err), 0);
	assert_int_equal(t.hydration, CRU_HYDRATION_MODE_ON);
	assert_int_equal(t.hydration_throttle, 0);

	assert_int_equal(cru_table_parse("7:0 7:1 7:2 7:9", &t, &err), 0);
	assert_int_equal(t.hydration, CRU_HYDRATION_MODE_DEFAULT);
	assert_false(t.has_hydration_throttle);
	assert_string_equal(cru_hydration_mode_name(CRU_HYDRATION_MODE_OFF), "off");
}

static void malformed_tables_are_refused(void **state)
{
	static const struct {
		const char *line;
		const char *msg;
	} cases[] = {
		{ "", "0 words" },
		{ "a b c", "3 words" },
		{ "a b c - x", "#opt_args" },
		{ "a b c - 3 generation 1 owner", "even" },
		{ "a b c - 4 generation 1", "4 words but 2" },
		{ "a b c - 2 generation 1 extra", "2 words but 3" },
		{ "a b c - 2 generation one", "generation" },
		{ "a b c - 2 region_size 1000", "region_size" },
		{ "a b c - 2 region_size 64", "region_size" },
		{ "a b c - 2 region_size 4194304", "region_size" },
		{ "a b c - 2 replace_leg 3", "replace_leg" },
		{ "a b c - 2 repair sometimes", "repair" },
		{ "a b c - 2 read_policy random", "read_policy" },
		{ "a b c - 2 commit_period -1", "commit_period" },
		{ "a b c p 2 hydration maybe", "table argument hydration: expected on or off" },
		{ "a b c p 2 hydration 1", "hydration" },
		{ "a b c p 2 hydration_throttle fast", "hydration_throttle" },
		{ "a b c p 2 hydration_throttle -5", "hydration_throttle" },
		{ "a b c p 1 hydration", "even" },
		{ "a b c - 2 owner 0123456789012345678901234567890123456789012345678901234567890123",
		  "owner" },
	};
	struct cru_table t;
	struct cru_err err;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		err.msg[0] = '\0';
		if (cru_table_parse(cases[i].line, &t, &err) >= 0)
			fail_msg("accepted malformed table '%s'", cases[i].line);
		assert_contains(err.msg, cases[i].msg);
	}
}

static void built_table_has_the_documented_order(void **state)
{
	struct cru_table t;
	struct cru_err err;
	char buf[512];

	(void)state;
	cru_table_init(&t);
	strcpy(t.legs[0], "/dev/a");
	strcpy(t.legs[1], "/dev/b");
	strcpy(t.legs[2], "/dev/c");
	assert_int_equal(cru_table_format(&t, buf, sizeof(buf), &err), 0);
	assert_string_equal(buf, "/dev/a /dev/b /dev/c -");

	t.has_parent = true;
	strcpy(t.parent, "/dev/origin");
	t.has_generation = true;
	t.generation = 4;
	t.has_region_size = true;
	t.region_size = 4096;
	t.has_owner = true;
	strcpy(t.owner, "host-b");
	assert_int_equal(cru_table_format(&t, buf, sizeof(buf), &err), 0);
	assert_string_equal(buf, "/dev/a /dev/b /dev/c /dev/origin 6 generation 4 region_size 4096 owner host-b");
}

static void built_table_parses_back_to_the_same(void **state)
{
	struct cru_table t, back;
	struct cru_err err;
	char buf[512];

	(void)state;
	cru_table_init(&t);
	strcpy(t.legs[0], "8:16");
	strcpy(t.legs[1], "8:32");
	strcpy(t.legs[2], "8:48");
	t.has_generation = true;
	t.generation = 12;
	t.replace_leg = 1;
	t.repair = CRU_REPAIR_MODE_AUTO;
	t.has_repair_throttle = true;
	t.repair_throttle = 0;
	t.read_policy = CRU_READ_POLICY_ROUND_ROBIN;
	t.has_commit_period = true;
	t.commit_period = 1000;
	assert_int_equal(cru_table_format(&t, buf, sizeof(buf), &err), 0);
	assert_int_equal(cru_table_parse(buf, &back, &err), 0);
	assert_memory_equal(&t, &back, sizeof(t));

	t.has_parent = true;
	strcpy(t.parent, "8:64");
	t.hydration = CRU_HYDRATION_MODE_OFF;
	t.has_hydration_throttle = true;
	t.hydration_throttle = 25;
	assert_int_equal(cru_table_format(&t, buf, sizeof(buf), &err), 0);
	assert_int_equal(cru_table_parse(buf, &back, &err), 0);
	assert_memory_equal(&t, &back, sizeof(t));
}

static void hydration_arguments_are_built_after_the_others(void **state)
{
	struct cru_table t;
	struct cru_err err;
	char buf[512];

	(void)state;
	cru_table_init(&t);
	strcpy(t.legs[0], "/dev/a");
	strcpy(t.legs[1], "/dev/b");
	strcpy(t.legs[2], "/dev/c");
	t.has_parent = true;
	strcpy(t.parent, "/dev/image");
	t.has_generation = true;
	t.generation = 1;
	t.hydration = CRU_HYDRATION_MODE_ON;
	t.has_hydration_throttle = true;
	t.hydration_throttle = 100;
	assert_int_equal(cru_table_format(&t, buf, sizeof(buf), &err), 0);
	assert_string_equal(buf, "/dev/a /dev/b /dev/c /dev/image 6 generation 1 "
			    "hydration on hydration_throttle 100");

	t.hydration = CRU_HYDRATION_MODE_DEFAULT;
	t.hydration_throttle = CRU_THROTTLE_MAX;
	assert_int_equal(cru_table_format(&t, buf, sizeof(buf), &err), 0);
	assert_string_equal(buf, "/dev/a /dev/b /dev/c /dev/image 4 generation 1 "
			    "hydration_throttle 1000000");

	t.hydration_throttle = CRU_THROTTLE_MAX + 1;
	assert_int_equal(cru_table_format(&t, buf, sizeof(buf), &err), -EINVAL);
	assert_contains(err.msg, "hydration_throttle");
}

static void unusable_words_are_refused_when_building(void **state)
{
	struct cru_table t;
	struct cru_err err;
	char buf[512];

	(void)state;
	cru_table_init(&t);
	strcpy(t.legs[0], "/dev/a");
	strcpy(t.legs[1], "/dev/my disk");
	strcpy(t.legs[2], "/dev/c");
	assert_int_equal(cru_table_format(&t, buf, sizeof(buf), &err), -EINVAL);
	assert_contains(err.msg, "leg 1");

	strcpy(t.legs[1], "/dev/b");
	t.has_region_size = true;
	t.region_size = 100;
	assert_int_equal(cru_table_format(&t, buf, sizeof(buf), &err), -EINVAL);
	assert_contains(err.msg, "region_size");

	t.has_region_size = false;
	assert_int_equal(cru_table_format(&t, buf, 10, &err), -ENOSPC);
}

static void region_size_bounds(void **state)
{
	(void)state;
	assert_false(cru_region_size_valid(64));
	assert_true(cru_region_size_valid(128));
	assert_true(cru_region_size_valid(2048));
	assert_false(cru_region_size_valid(2049));
	assert_true(cru_region_size_valid(2097152));
	assert_false(cru_region_size_valid(4194304));
	assert_false(cru_region_size_valid(0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table_without_options),
		cmocka_unit_test(table_as_the_target_prints_it),
		cmocka_unit_test(every_optional_argument),
		cmocka_unit_test(unknown_keys_of_a_newer_target_are_skipped),
		cmocka_unit_test(table_of_a_volume_with_a_parent),
		cmocka_unit_test(malformed_tables_are_refused),
		cmocka_unit_test(built_table_has_the_documented_order),
		cmocka_unit_test(built_table_parses_back_to_the_same),
		cmocka_unit_test(hydration_arguments_are_built_after_the_others),
		cmocka_unit_test(unusable_words_are_refused_when_building),
		cmocka_unit_test(region_size_bounds),
	};

	return cmocka_run_group_tests_name("table", tests, NULL, NULL);
}

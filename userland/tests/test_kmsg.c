// SPDX-License-Identifier: GPL-2.0
/*
 * Picking the crucible target's reason out of kernel log records.
 */
#include "test.h"

#include "../lib/kmsg.h"

static void table_error_gives_the_reason(void **state)
{
	char out[256];

	(void)state;
	assert_true(cru_kmsg_parse("3,1234,56789012,-;device-mapper: table: 254:2: crucible: leg 1 belongs to another volume (uuid 1, expected 2) (-EINVAL)\n",
				   CRU_KMSG_TABLE_ERROR, out, sizeof(out)));
	assert_string_equal(out, "leg 1 belongs to another volume (uuid 1, expected 2) (-EINVAL)");
}

static void target_message_with_device_filter(void **state)
{
	char out[256];

	(void)state;
	assert_true(cru_kmsg_parse("4,9,1,-;device-mapper: crucible: 254:3: fail_leg: leg 5 does not exist\n SUBSYSTEM=block\n",
				   "254:3: ", out, sizeof(out)));
	assert_string_equal(out, "254:3: fail_leg: leg 5 does not exist");
	/* Another device's line is not ours. */
	assert_false(cru_kmsg_parse("4,9,1,-;device-mapper: crucible: 254:30: leg 1 failed (error -5)\n",
				    "254:3: ", out, sizeof(out)));
}

static void other_lines_are_ignored(void **state)
{
	static const char *const records[] = {
		"6,1,1,-;loop0: detected capacity change from 0 to 73728\n",
		"3,2,2,-;device-mapper: table: 254:2: linear: Device lookup failed (-ENXIO)\n",
		"3,3,3,-;crucible: not from device-mapper\n",
		"no separator at all",
		"3,4,4,-;device-mapper: table: 254:2: crucible: \n",
		/* "crucible: " only in a continuation line. */
		"3,5,5,-;device-mapper: table: 254:2: error\n DEVICE=crucible: x\n",
	};
	char out[64];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(records); i++)
		if (cru_kmsg_parse(records[i], NULL, out, sizeof(out)))
			fail_msg("took '%s' for a crucible reason", records[i]);
	assert_false(cru_kmsg_parse("3,1,1,-;device-mapper: crucible: x\n",
				    CRU_KMSG_TABLE_ERROR, out, sizeof(out)));
}

static void long_reason_is_truncated_safely(void **state)
{
	char rec[600], out[16];

	(void)state;
	snprintf(rec, sizeof(rec), "3,1,1,-;device-mapper: table: 1:2: crucible: %0500d\n", 7);
	assert_true(cru_kmsg_parse(rec, NULL, out, sizeof(out)));
	assert_int_equal(strlen(out), sizeof(out) - 1);
}

static void closed_or_missing_log_gives_no_reason(void **state)
{
	char out[64];

	(void)state;
	assert_false(cru_kmsg_reason(-1, NULL, out, sizeof(out)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table_error_gives_the_reason),
		cmocka_unit_test(target_message_with_device_filter),
		cmocka_unit_test(other_lines_are_ignored),
		cmocka_unit_test(long_reason_is_truncated_safely),
		cmocka_unit_test(closed_or_missing_log_gives_no_reason),
	};

	return cmocka_run_group_tests_name("kernel log reasons", tests, NULL, NULL);
}

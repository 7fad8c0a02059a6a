// SPDX-License-Identifier: GPL-2.0
/*
 * Numbers and sizes.
 */
#include "test.h"

#include "../lib/parse.h"

static void numbers(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(cru_parse_u64("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(cru_parse_u64("18446744073709551615", &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(cru_parse_u64("18446744073709551616", &v), -ERANGE);
	assert_int_equal(cru_parse_u64("", &v), -EINVAL);
	assert_int_equal(cru_parse_u64("-1", &v), -EINVAL);
	assert_int_equal(cru_parse_u64("+1", &v), -EINVAL);
	assert_int_equal(cru_parse_u64(" 1", &v), -EINVAL);
	assert_int_equal(cru_parse_u64("1 ", &v), -EINVAL);
	assert_int_equal(cru_parse_u64("0x10", &v), -EINVAL);
	assert_int_equal(cru_parse_u64_n("123abc", 3, &v), 0);
	assert_int_equal(v, 123);
}

static void sizes_with_units(void **state)
{
	static const struct {
		const char *s;
		uint64_t bytes;
	} cases[] = {
		{ "4096", 4096 },
		{ "4096B", 4096 },
		{ "64K", 65536 },
		{ "64k", 65536 },
		{ "1M", 1048576 },
		{ "1MiB", 1048576 },
		{ "1MB", 1048576 },
		{ "1G", 1073741824ULL },
		{ "2GiB", 2147483648ULL },
		{ "3T", 3ULL << 40 },
		{ "1P", 1ULL << 50 },
	};
	struct cru_err err;
	uint64_t v;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		assert_int_equal(cru_parse_size(cases[i].s, &v, &err), 0);
		assert_true(v == cases[i].bytes);
	}
}

static void bad_sizes(void **state)
{
	static const char *const bad[] = { "", "G", "1X", "1GG", "1 G", "-1G",
					   "1.5G", "1Gi" };
	struct cru_err err;
	uint64_t v;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		err.msg[0] = '\0';
		if (!cru_parse_size(bad[i], &v, &err))
			fail_msg("accepted size '%s'", bad[i]);
		assert_contains(err.msg, bad[i]);
	}
	assert_int_equal(cru_parse_size("16385P", &v, &err), -ERANGE);
	assert_contains(err.msg, "too large");
}

static void human_sizes(void **state)
{
	char buf[32];

	(void)state;
	cru_format_size(512, buf, sizeof(buf));
	assert_string_equal(buf, "512 B");
	cru_format_size(65536, buf, sizeof(buf));
	assert_string_equal(buf, "64.0 KiB");
	cru_format_size(1536ULL << 20, buf, sizeof(buf));
	assert_string_equal(buf, "1.5 GiB");
	cru_format_size(UINT64_MAX, buf, sizeof(buf));
	assert_string_equal(buf, "16.0 EiB");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(numbers),
		cmocka_unit_test(sizes_with_units),
		cmocka_unit_test(bad_sizes),
		cmocka_unit_test(human_sizes),
	};

	return cmocka_run_group_tests_name("parse", tests, NULL, NULL);
}

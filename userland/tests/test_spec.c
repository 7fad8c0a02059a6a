// SPDX-License-Identifier: GPL-2.0
/*
 * JSON volume specs: good ones become the right table, bad ones are
 * refused with a message naming the field.
 */
#include "test.h"

#include "../lib/dm.h"
#include "../lib/spec.h"

static void full_spec_becomes_its_table(void **state)
{
	struct cru_spec spec;
	struct cru_err err;
	char line[1024];

	(void)state;
	assert_int_equal(cru_spec_parse("{\"name\": \"vol0\", \"size\": \"1G\","
					" \"legs\": [\"/dev/a\", \"/dev/b\", \"/dev/c\"],"
					" \"parent\": \"/dev/origin\", \"generation\": 7,"
					" \"region_size\": \"2M\", \"owner\": \"host-a\"}",
					&spec, &err), 0);
	assert_string_equal(spec.name, "vol0");
	assert_int_equal(spec.size, 1073741824ULL);
	assert_int_equal(cru_spec_sectors(&spec), 2097152);
	assert_int_equal(cru_spec_table_line(&spec, line, sizeof(line), &err), 0);
	assert_string_equal(line, "0 2097152 crucible /dev/a /dev/b /dev/c /dev/origin "
			    "6 generation 7 region_size 4096 owner host-a");
}

static void minimal_spec_with_size_in_bytes(void **state)
{
	struct cru_spec spec;
	struct cru_err err;
	char line[1024];

	(void)state;
	assert_int_equal(cru_spec_parse("{\"legs\":[\"7:0\",\"7:1\",\"7:2\"],"
					"\"size\":8388608,\"name\":\"v\",\"parent\":null}",
					&spec, &err), 0);
	assert_false(spec.table.has_parent);
	assert_int_equal(cru_spec_table_line(&spec, line, sizeof(line), &err), 0);
	assert_string_equal(line, "0 16384 crucible 7:0 7:1 7:2 -");
}

static void spec_with_a_parent_and_hydration_settings(void **state)
{
	struct cru_spec spec;
	struct cru_err err;
	char line[1024];

	(void)state;
	assert_int_equal(cru_spec_parse("{\"name\":\"clone\",\"size\":\"8G\","
					"\"legs\":[\"/dev/a\",\"/dev/b\",\"/dev/c\"],"
					"\"parent\":\"/dev/mapper/image\","
					"\"hydration\":false,\"hydration_throttle\":50}",
					&spec, &err), 0);
	assert_true(spec.table.has_parent);
	assert_string_equal(spec.table.parent, "/dev/mapper/image");
	assert_int_equal(spec.table.hydration, CRU_HYDRATION_MODE_OFF);
	assert_int_equal(spec.table.hydration_throttle, 50);
	assert_int_equal(cru_spec_table_line(&spec, line, sizeof(line), &err), 0);
	assert_string_equal(line, "0 16777216 crucible /dev/a /dev/b /dev/c /dev/mapper/image "
			    "4 hydration off hydration_throttle 50");

	assert_int_equal(cru_spec_parse("{\"name\":\"clone\",\"size\":\"8G\","
					"\"legs\":[\"/dev/a\",\"/dev/b\",\"/dev/c\"],"
					"\"parent\":\"7:9\",\"hydration\":true,"
					"\"hydration_throttle\":0,\"generation\":3}",
					&spec, &err), 0);
	assert_int_equal(cru_spec_table_line(&spec, line, sizeof(line), &err), 0);
	assert_string_equal(line, "0 16777216 crucible /dev/a /dev/b /dev/c 7:9 "
			    "6 generation 3 hydration on hydration_throttle 0");

	/* A parent alone: hydration is left to the target's default (on). */
	assert_int_equal(cru_spec_parse("{\"name\":\"clone\",\"size\":\"8G\","
					"\"legs\":[\"/dev/a\",\"/dev/b\",\"/dev/c\"],"
					"\"parent\":\"7:9\",\"hydration_throttle\":1000000}",
					&spec, &err), 0);
	assert_int_equal(spec.table.hydration, CRU_HYDRATION_MODE_DEFAULT);
	assert_int_equal(cru_spec_table_line(&spec, line, sizeof(line), &err), 0);
	assert_string_equal(line, "0 16777216 crucible /dev/a /dev/b /dev/c 7:9 "
			    "2 hydration_throttle 1000000");
}

static void region_size_in_bytes(void **state)
{
	struct cru_spec spec;
	struct cru_err err;

	(void)state;
	assert_int_equal(cru_spec_parse("{\"name\":\"v\",\"size\":\"64M\",\"legs\":[\"a\",\"b\",\"c\"],"
					"\"region_size\":65536}", &spec, &err), 0);
	assert_int_equal(spec.table.region_size, 128);
}

static void bad_json_is_refused(void **state)
{
	static const struct {
		const char *json;
		const char *msg;
	} cases[] = {
		{ "", "not valid JSON" },
		{ "{\"name\": \"v\",", "not valid JSON" },
		{ "{\"name\": }", "not valid JSON" },
		{ "{} trailing", "unexpected text" },
		{ "[1, 2]", "expected a JSON object" },
		{ "\"vol\"", "expected a JSON object" },
	};
	struct cru_spec spec;
	struct cru_err err;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		err.msg[0] = '\0';
		if (cru_spec_parse(cases[i].json, &spec, &err) != -EINVAL)
			fail_msg("accepted '%s'", cases[i].json);
		assert_contains(err.msg, cases[i].msg);
	}
}

/* @json is refused with a message that contains @msg. */
static void expect_refused(const char *json, const char *msg)
{
	struct cru_spec spec;
	struct cru_err err;

	err.msg[0] = '\0';
	if (cru_spec_parse(json, &spec, &err) >= 0)
		fail_msg("accepted '%s'", json);
	assert_contains(err.msg, msg);
}

#define LEGS "\"legs\":[\"a\",\"b\",\"c\"]"
#define GOOD_BASE "\"name\":\"v\",\"size\":\"1G\"," LEGS
#define PARENT GOOD_BASE ",\"parent\":\"/dev/image\""

/* Each spec has one thing wrong; the message must name that field. */
static void bad_fields_are_named(void **state)
{
	static const struct {
		const char *json;
		const char *msg;
	} cases[] = {
		{ "{\"size\":\"1G\"," LEGS "}", "field 'name': missing" },
		{ "{\"name\":\"v\"," LEGS "}", "field 'size': missing" },
		{ "{\"name\":\"v\",\"size\":\"1G\"}", "field 'legs': missing" },
		{ "{\"name\":5,\"size\":\"1G\"," LEGS "}", "field 'name': expected a string" },
		{ "{\"name\":\"\",\"size\":\"1G\"," LEGS "}", "field 'name'" },
		{ "{\"name\":\"a/b\",\"size\":\"1G\"," LEGS "}", "field 'name'" },
		{ "{\"name\":\"a b\",\"size\":\"1G\"," LEGS "}", "field 'name'" },
		{ "{\"name\":\"v\",\"size\":true," LEGS "}", "field 'size'" },
		{ "{\"name\":\"v\",\"size\":1.5," LEGS "}", "field 'size'" },
		{ "{\"name\":\"v\",\"size\":-4096," LEGS "}", "field 'size'" },
		{ "{\"name\":\"v\",\"size\":0," LEGS "}", "field 'size'" },
		{ "{\"name\":\"v\",\"size\":\"1X\"," LEGS "}", "field 'size'" },
		{ "{\"name\":\"v\",\"size\":1000," LEGS "}", "field 'size': 1000 bytes is not a multiple" },
		{ "{\"name\":\"v\",\"size\":\"1G\",\"legs\":\"a\"}", "field 'legs': expected an array" },
		{ "{\"name\":\"v\",\"size\":\"1G\",\"legs\":[\"a\",\"b\"]}", "field 'legs': expected 3 devices, got 2" },
		{ "{\"name\":\"v\",\"size\":\"1G\",\"legs\":[\"a\",\"b\",\"c\",\"d\"]}", "got 4" },
		{ "{\"name\":\"v\",\"size\":\"1G\",\"legs\":[\"a\",2,\"c\"]}", "field 'legs[1]': expected a string" },
		{ "{\"name\":\"v\",\"size\":\"1G\",\"legs\":[\"a\",\"\",\"c\"]}", "field 'legs[1]'" },
		{ "{\"name\":\"v\",\"size\":\"1G\",\"legs\":[\"a\",\"b c\",\"d\"]}", "field 'legs[1]'" },
		{ "{\"name\":\"v\",\"size\":\"1G\",\"legs\":[\"a\",\"b\",\"a\"]}", "legs 0 and 2 are the same device 'a'" },
		{ "{" GOOD_BASE ",\"parent\":5}", "field 'parent'" },
		{ "{" GOOD_BASE ",\"parent\":\"\"}", "field 'parent'" },
		{ "{" GOOD_BASE ",\"parent\":\"b\"}", "field 'parent': 'b' is also leg 1" },
		{ "{" GOOD_BASE ",\"generation\":\"7\"}", "field 'generation': expected an integer" },
		{ "{" GOOD_BASE ",\"generation\":0}", "field 'generation'" },
		{ "{" GOOD_BASE ",\"generation\":-2}", "field 'generation'" },
		{ "{" GOOD_BASE ",\"region_size\":\"3M\"}", "field 'region_size'" },
		{ "{" GOOD_BASE ",\"region_size\":4096}", "field 'region_size'" },
		{ "{" GOOD_BASE ",\"region_size\":\"2G\"}", "field 'region_size'" },
		{ "{" GOOD_BASE ",\"owner\":\"a b\"}", "field 'owner'" },
		{ "{" GOOD_BASE ",\"owner\":7}", "field 'owner'" },
		{ "{" GOOD_BASE ",\"owner\":\"0123456789012345678901234567890123456789012345678901234567890123\"}",
		  "field 'owner'" },
		{ "{" GOOD_BASE ",\"sise\":\"1G\"}", "unknown field 'sise'" },
		{ "{" GOOD_BASE ",\"hydrate\":true}", "unknown field 'hydrate'" },
		{ "{" PARENT ",\"hydration\":\"on\"}", "field 'hydration': expected true or false, got a string" },
		{ "{" PARENT ",\"hydration\":1}", "field 'hydration': expected true or false, got an integer" },
		{ "{" PARENT ",\"hydration\":null}", "field 'hydration': expected true or false, got null" },
		{ "{" PARENT ",\"hydration_throttle\":\"50\"}", "field 'hydration_throttle': expected MiB/s" },
		{ "{" PARENT ",\"hydration_throttle\":2.5}", "field 'hydration_throttle': expected MiB/s" },
		{ "{" PARENT ",\"hydration_throttle\":true}", "field 'hydration_throttle'" },
		{ "{" PARENT ",\"hydration_throttle\":-1}", "field 'hydration_throttle': -1 is not MiB/s" },
		{ "{" PARENT ",\"hydration_throttle\":1000001}", "field 'hydration_throttle': 1000001" },
		{ "{" PARENT ",\"hydration_throttle\":99999999999999999999}", "field 'hydration_throttle'" },
		{ "{" GOOD_BASE ",\"hydration\":false}", "field 'hydration': the volume has no parent" },
		{ "{" GOOD_BASE ",\"parent\":null,\"hydration_throttle\":5}",
		  "field 'hydration_throttle': the volume has no parent" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		expect_refused(cases[i].json, cases[i].msg);
}

static void legs_can_be_pool_regions(void **state)
{
	struct cru_spec spec;
	struct cru_err err;
	int i;

	(void)state;
	assert_int_equal(cru_spec_parse("{\"name\": \"v\", \"size\": \"64M\","
					" \"legs\": [{\"pool\": \"p0\", \"size\": \"80M\"},"
					" {\"pool\": \"p0\", \"region\": \"leg-b\"},"
					" \"/dev/sdc\"]}", &spec, &err), 0);
	assert_true(spec.pool_legs[0].used);
	assert_string_equal(spec.pool_legs[0].pool, "p0");
	assert_string_equal(spec.pool_legs[0].region, "");
	assert_int_equal(spec.pool_legs[0].size, 80 * 1024 * 1024);
	assert_string_equal(spec.pool_legs[1].region, "leg-b");
	assert_int_equal(spec.pool_legs[1].size, 0);
	assert_false(spec.pool_legs[2].used);
	assert_string_equal(spec.table.legs[2], "/dev/sdc");
	/* Pool legs get their device when cruciblectl resolves them. */
	assert_string_equal(spec.table.legs[0], "");

	/* Three unnamed regions of one pool are three different legs. */
	assert_int_equal(cru_spec_parse("{\"name\": \"v\", \"size\": 8388608,"
					" \"legs\": [{\"pool\": \"p0\"}, {\"pool\": \"p0\"},"
					" {\"pool\": \"p0\"}]}", &spec, &err), 0);
	for (i = 0; i < CRU_NR_LEGS; i++) {
		assert_true(spec.pool_legs[i].used);
		assert_string_equal(spec.pool_legs[i].pool, "p0");
		assert_string_equal(spec.pool_legs[i].region, "");
	}
}

/* A spec whose "legs" is each case's is refused with its message. */
struct legs_case {
	const char *legs;
	const char *msg;
};

static void expect_legs_refused(const struct legs_case *cases, size_t n)
{
	char json[512];
	size_t i;

	for (i = 0; i < n; i++) {
		snprintf(json, sizeof(json),
			 "{\"name\": \"v\", \"size\": \"8M\", \"legs\": %s}",
			 cases[i].legs);
		expect_refused(json, cases[i].msg);
	}
}

static void bad_pool_legs_are_named(void **state)
{
	static const struct legs_case cases[] = {
		{ "[{\"region\": \"r\"}, \"/dev/b\", \"/dev/c\"]",
		  "field 'legs[0]': a leg object needs \"pool\"" },
		{ "[\"/dev/a\", {\"pool\": \"a-b\"}, \"/dev/c\"]",
		  "field 'legs[1].pool': 'a-b' is not a pool name" },
		{ "[\"/dev/a\", \"/dev/b\", {\"pool\": \"p\", \"region\": \"x y\"}]",
		  "field 'legs[2].region': 'x y' is not a region name" },
		{ "[{\"pool\": \"p\", \"size\": 1000}, \"/dev/b\", \"/dev/c\"]",
		  "field 'legs[0].size': 1000 bytes is not a multiple of 4 KiB" },
		{ "[{\"pool\": \"p\", \"sise\": 4096}, \"/dev/b\", \"/dev/c\"]",
		  "field 'legs[0]': unknown field 'sise'" },
		{ "[{\"pool\": \"p\", \"region\": \"r\"}, {\"pool\": \"p\", \"region\": \"r\"}, \"/dev/c\"]",
		  "legs 0 and 1 are the same region 'r' of pool 'p'" },
		{ "[{\"pool\": 7}, \"/dev/b\", \"/dev/c\"]",
		  "field 'legs[0].pool': expected a string" },
	};
	(void)state;
	expect_legs_refused(cases, ARRAY_SIZE(cases));
}

static void legs_can_be_nbd_exports(void **state)
{
	struct cru_spec spec;
	struct cru_err err;

	(void)state;
	assert_int_equal(cru_spec_parse("{\"name\": \"v\", \"size\": \"64M\","
					" \"legs\": [\"/dev/sda\", \"nbd://host-b/disk\","
					" \"nbd://[fd00::2]:10810/a%20b\"]}", &spec, &err), 0);
	assert_false(spec.nbd_legs[0].used);
	assert_string_equal(spec.table.legs[0], "/dev/sda");
	assert_true(spec.nbd_legs[1].used);
	/* Kept canonical: the port always given. */
	assert_string_equal(spec.nbd_legs[1].uri, "nbd://host-b:10809/disk");
	assert_string_equal(spec.nbd_legs[2].uri, "nbd://[fd00::2]:10810/a%20b");
	/* Connected by cruciblectl create: no device until then. */
	assert_string_equal(spec.table.legs[1], "");
}

static void bad_nbd_legs_are_named(void **state)
{
	static const struct legs_case cases[] = {
		{ "[\"nbd://\", \"/dev/b\", \"/dev/c\"]",
		  "field 'legs[0]': 'nbd://': no host" },
		{ "[\"/dev/a\", \"nbd://h:99999/e\", \"/dev/c\"]",
		  "field 'legs[1]': 'nbd://h:99999/e': the port" },
		{ "[\"/dev/a\", \"/dev/b\", \"nbds://h/e\"]",
		  "field 'legs[2]': 'nbds://h/e': NBD over TLS (nbds://) is not supported" },
		/* The same export once the URIs are canonical. */
		{ "[\"nbd://h/e\", \"nbd://h:10809/e\", \"/dev/c\"]",
		  "legs 0 and 1 are the same device 'nbd://h:10809/e'" },
	};
	(void)state;
	expect_legs_refused(cases, ARRAY_SIZE(cases));
}

static void spec_file_is_read(void **state)
{
	struct cru_spec spec;
	struct cru_err err;
	char *dir = test_tmpdir();
	char path[512];
	FILE *f;

	(void)state;
	assert_non_null(dir);
	snprintf(path, sizeof(path), "%s/vol.json", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\n  \"name\": \"fromfile\",\n  \"size\": \"16M\",\n  " LEGS "\n}\n", f);
	fclose(f);
	assert_int_equal(cru_spec_parse_file(path, &spec, &err), 0);
	assert_string_equal(spec.name, "fromfile");
	assert_int_equal(spec.size, 16 << 20);

	snprintf(path, sizeof(path), "%s/missing.json", dir);
	assert_int_equal(cru_spec_parse_file(path, &spec, &err), -ENOENT);
	assert_contains(err.msg, path);
	test_rm_rf(dir);
	free(dir);
}

static void volume_names(void **state)
{
	char longname[200];

	(void)state;
	assert_true(cru_volume_name_valid("vol-0_a.b"));
	assert_false(cru_volume_name_valid(""));
	assert_false(cru_volume_name_valid("."));
	assert_false(cru_volume_name_valid(".."));
	assert_false(cru_volume_name_valid("a/b"));
	assert_false(cru_volume_name_valid("a\tb"));
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_false(cru_volume_name_valid(longname));
	longname[127] = '\0';
	assert_true(cru_volume_name_valid(longname));
}

/* Before device-mapper is asked: every device named by path must exist. */
static void devices_named_by_the_spec_are_checked(void **state)
{
	struct cru_spec spec;
	struct cru_err err;
	struct stat st;

	(void)state;
	assert_int_equal(cru_spec_parse("{\"name\":\"v\",\"size\":\"8M\",\"legs\":[\"7:0\",\"7:1\",\"7:2\"]}",
					&spec, &err), 0);
	assert_int_equal(cru_dm_check_devices(&spec.table, &err), 0);

	assert_int_equal(cru_spec_parse("{\"name\":\"v\",\"size\":\"8M\",\"legs\":[\"7:0\",\"/nonexistent/b\",\"7:2\"]}",
					&spec, &err), 0);
	assert_int_equal(cru_dm_check_devices(&spec.table, &err), -ENOENT);
	assert_contains(err.msg, "leg 1 /nonexistent/b");

	assert_int_equal(cru_spec_parse("{\"name\":\"v\",\"size\":\"8M\",\"legs\":[\"7:0\",\"7:1\",\"7:2\"],\"parent\":\"/dev/null\"}",
					&spec, &err), 0);
	assert_int_equal(cru_dm_check_devices(&spec.table, &err), -ENOTBLK);
	assert_contains(err.msg, "parent /dev/null: not a block device");

	/* A real block device passes, where the machine has one. */
	if (!stat("/dev/loop0", &st) && S_ISBLK(st.st_mode)) {
		assert_int_equal(cru_spec_parse("{\"name\":\"v\",\"size\":\"8M\",\"legs\":[\"/dev/loop0\",\"7:1\",\"7:2\"]}",
						&spec, &err), 0);
		assert_int_equal(cru_dm_check_devices(&spec.table, &err), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(full_spec_becomes_its_table),
		cmocka_unit_test(minimal_spec_with_size_in_bytes),
		cmocka_unit_test(spec_with_a_parent_and_hydration_settings),
		cmocka_unit_test(region_size_in_bytes),
		cmocka_unit_test(bad_json_is_refused),
		cmocka_unit_test(bad_fields_are_named),
		cmocka_unit_test(legs_can_be_pool_regions),
		cmocka_unit_test(bad_pool_legs_are_named),
		cmocka_unit_test(legs_can_be_nbd_exports),
		cmocka_unit_test(bad_nbd_legs_are_named),
		cmocka_unit_test(spec_file_is_read),
		cmocka_unit_test(volume_names),
		cmocka_unit_test(devices_named_by_the_spec_are_checked),
	};

	return cmocka_run_group_tests_name("spec", tests, NULL, NULL);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * The status-line parser, on literal strings as the target prints them.
 */
#include "test.h"

#include "../lib/status.h"

/* As a module without parent support prints it: 16 fields. */
#define HEALTHY "1 rw 3 1042 AAA 1024/1024 - idle 10 20 3 0 0 0 0 0"
/* The same volume from a module that appends the hydration fields. */
#define HEALTHY18 HEALTHY " - 0"
/* Hydrating from a parent: 512 of 2048 blocks copied, 3 parent errors. */
#define HYDRATING "1 rw 2 77 AAA 16/16 512/2048 idle 40 5 1 0 0 0 0 0 running 3"

static void healthy_volume_parses_every_field(void **state)
{
	struct cru_status st;
	struct cru_err err;

	(void)state;
	assert_int_equal(cru_status_parse(HEALTHY, &st, &err), 0);
	assert_int_equal(st.version, 1);
	assert_int_equal(st.mode, CRU_MODE_RW);
	assert_int_equal(st.generation, 3);
	assert_int_equal(st.flush, 1042);
	assert_int_equal(st.legs[0], CRU_LEG_ALIVE);
	assert_int_equal(st.legs[1], CRU_LEG_ALIVE);
	assert_int_equal(st.legs[2], CRU_LEG_ALIVE);
	assert_int_equal(st.in_sync_regions, 1024);
	assert_int_equal(st.nr_regions, 1024);
	assert_false(st.has_parent);
	assert_int_equal(st.repair_state, CRU_REPAIR_IDLE);
	assert_int_equal(st.reads, 10);
	assert_int_equal(st.writes, 20);
	assert_int_equal(st.flushes, 3);
	assert_int_equal(st.mismatches, 0);
	assert_int_equal(st.repaired_blocks, 0);
	assert_int_equal(st.extra_fields, 0);
	assert_int_equal(cru_status_stale_regions(&st), 0);
	assert_int_equal(cru_status_alive_mask(&st), 7);
}

static void degraded_volume_with_parent(void **state)
{
	struct cru_status st;
	struct cru_err err;

	(void)state;
	assert_int_equal(cru_status_parse("1 rw 7 99 ASF 1000/1024 512/2048 running 1 2 3 4 5 0 0 17",
					  &st, &err), 0);
	assert_int_equal(st.legs[0], CRU_LEG_ALIVE);
	assert_int_equal(st.legs[1], CRU_LEG_STALE);
	assert_int_equal(st.legs[2], CRU_LEG_FAULTED);
	assert_int_equal(cru_status_stale_regions(&st), 24);
	assert_true(st.has_parent);
	assert_int_equal(st.hydrated, 512);
	assert_int_equal(st.hydration_total, 2048);
	assert_int_equal(st.repair_state, CRU_REPAIR_RUNNING);
	assert_int_equal(st.mismatches, 4);
	assert_int_equal(st.repaired_blocks, 5);
	assert_int_equal(st.leg_errors[0], 0);
	assert_int_equal(st.leg_errors[2], 17);
	assert_int_equal(cru_status_alive_mask(&st), 3);
}

static void every_mode_and_repair_state(void **state)
{
	static const struct {
		const char *line;
		enum cru_mode mode;
		enum cru_repair_state rs;
		const char *legs;
	} cases[] = {
		{ "1 rw 1 0 AAA 1/1 - idle 0 0 0 0 0 0 0 0", CRU_MODE_RW,
		  CRU_REPAIR_IDLE, "AAA" },
		{ "1 fenced 1 0 DAS 0/1 - paused 0 0 0 0 0 0 0 0",
		  CRU_MODE_FENCED, CRU_REPAIR_PAUSED, "DAS" },
		{ "1 failed 1 0 FFF 0/8 - waiting 0 0 0 0 0 1 1 1",
		  CRU_MODE_FAILED, CRU_REPAIR_WAITING, "FFF" },
		{ "1 rw 1 0 SSA 3/8 - running 0 0 0 0 0 0 0 0", CRU_MODE_RW,
		  CRU_REPAIR_RUNNING, "SSA" },
	};
	struct cru_status st;
	struct cru_err err;
	size_t i;
	int l;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		assert_int_equal(cru_status_parse(cases[i].line, &st, &err), 0);
		assert_int_equal(st.mode, cases[i].mode);
		assert_int_equal(st.repair_state, cases[i].rs);
		for (l = 0; l < CRU_NR_LEGS; l++)
			assert_int_equal(st.legs[l], cases[i].legs[l]);
	}
}

static void appended_fields_are_tolerated(void **state)
{
	struct cru_status st;
	struct cru_err err;

	(void)state;
	assert_int_equal(cru_status_parse(HEALTHY18 " 7 future 12 x=y", &st, &err), 0);
	assert_int_equal(st.extra_fields, 3);
	assert_true(st.has_unrecoverable);
	assert_int_equal(st.unrecoverable, 7);
	assert_int_equal(st.leg_errors[2], 0);
	assert_int_equal(st.flush, 1042);
	assert_int_equal(st.hydration_state, CRU_HYDRATION_NONE);
	assert_true(st.has_parent_errors);
}

/* A module without per-block verdicts prints 18: unrecoverable unknown. */
static void eighteen_fields_leave_unrecoverable_unknown(void **state)
{
	struct cru_status st;
	struct cru_err err;

	(void)state;
	assert_int_equal(cru_status_parse(HEALTHY18, &st, &err), 0);
	assert_true(st.has_parent_errors);
	assert_false(st.has_unrecoverable);
	assert_int_equal(cru_status_parse(HEALTHY18 " x", &st, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "unrecoverable"));
}

/* An older module prints 16 fields: accepted, hydration state unknown. */
static void sixteen_fields_leave_the_hydration_state_unknown(void **state)
{
	struct cru_status st;
	struct cru_err err;

	(void)state;
	assert_int_equal(cru_status_parse(HEALTHY, &st, &err), 0);
	assert_int_equal(st.hydration_state, CRU_HYDRATION_UNKNOWN);
	assert_false(st.has_parent_errors);
	assert_int_equal(st.parent_errors, 0);
	assert_int_equal(st.extra_fields, 0);
	assert_false(cru_status_hydration_done(&st));

	/* With a parent, "done" can only come from the progress field. */
	assert_int_equal(cru_status_parse("1 rw 1 0 AAA 1/1 8/8 idle 0 0 0 0 0 0 0 0",
					  &st, &err), 0);
	assert_int_equal(st.hydration_state, CRU_HYDRATION_UNKNOWN);
	assert_true(cru_status_hydration_done(&st));
	assert_int_equal(cru_status_parse("1 rw 1 0 AAA 1/1 7/8 idle 0 0 0 0 0 0 0 0",
					  &st, &err), 0);
	assert_false(cru_status_hydration_done(&st));
}

static void volume_without_parent_reports_no_hydration(void **state)
{
	struct cru_status st;
	struct cru_err err;

	(void)state;
	assert_int_equal(cru_status_parse(HEALTHY18, &st, &err), 0);
	assert_false(st.has_parent);
	assert_int_equal(st.hydration_state, CRU_HYDRATION_NONE);
	assert_true(st.has_parent_errors);
	assert_int_equal(st.parent_errors, 0);
	assert_int_equal(st.extra_fields, 0);
	assert_false(cru_status_hydration_done(&st));
}

static void hydrating_volume_parses_state_and_parent_errors(void **state)
{
	struct cru_status st;
	struct cru_err err;

	(void)state;
	assert_int_equal(cru_status_parse(HYDRATING, &st, &err), 0);
	assert_true(st.has_parent);
	assert_int_equal(st.hydrated, 512);
	assert_int_equal(st.hydration_total, 2048);
	assert_int_equal(st.hydration_state, CRU_HYDRATION_RUNNING);
	assert_true(st.has_parent_errors);
	assert_int_equal(st.parent_errors, 3);
	assert_int_equal(st.leg_errors[2], 0);
	assert_int_equal(st.extra_fields, 0);
	assert_false(cru_status_hydration_done(&st));
}

static void every_hydration_state(void **state)
{
	static const struct {
		const char *line;
		enum cru_hydration_state hs;
		const char *name;
		bool done;
	} cases[] = {
		{ "1 rw 1 0 AAA 1/1 0/8 idle 0 0 0 0 0 0 0 0 running 0",
		  CRU_HYDRATION_RUNNING, "running", false },
		{ "1 rw 1 0 AAA 1/1 3/8 idle 0 0 0 0 0 0 0 0 paused 0",
		  CRU_HYDRATION_PAUSED, "paused", false },
		{ "1 fenced 1 0 AAA 1/1 3/8 idle 0 0 0 0 0 0 0 0 waiting 0",
		  CRU_HYDRATION_WAITING, "waiting", false },
		{ "1 rw 1 0 AAA 1/1 3/8 idle 0 0 0 0 0 0 0 0 backoff 12",
		  CRU_HYDRATION_BACKOFF, "backoff", false },
		{ "1 rw 1 0 AAA 1/1 8/8 idle 0 0 0 0 0 0 0 0 done 0",
		  CRU_HYDRATION_DONE, "done", true },
		/* Copied to the end but not yet committed: not done. */
		{ "1 rw 1 0 AAA 1/1 8/8 idle 0 0 0 0 0 0 0 0 running 0",
		  CRU_HYDRATION_RUNNING, "running", false },
		{ "1 rw 1 0 AAA 1/1 - idle 0 0 0 0 0 0 0 0 - 0",
		  CRU_HYDRATION_NONE, "none", false },
	};
	struct cru_status st;
	struct cru_err err;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		if (cru_status_parse(cases[i].line, &st, &err))
			fail_msg("refused '%s': %s", cases[i].line, err.msg);
		assert_int_equal(st.hydration_state, cases[i].hs);
		assert_string_equal(cru_hydration_state_name(st.hydration_state),
				    cases[i].name);
		if (cru_status_hydration_done(&st) != cases[i].done)
			fail_msg("'%s': done should be %d", cases[i].line,
				 cases[i].done);
	}
	assert_string_equal(cru_hydration_state_name(CRU_HYDRATION_UNKNOWN),
			    "unknown");
}

static void largest_parent_error_count_parses(void **state)
{
	struct cru_status st;
	struct cru_err err;

	(void)state;
	assert_int_equal(cru_status_parse("1 rw 1 0 AAA 1/1 3/8 idle 0 0 0 0 0 0 0 0 backoff 18446744073709551615",
					  &st, &err), 0);
	assert_true(st.parent_errors == UINT64_MAX);
}

/* The two appended fields, wrong in each way a broken line can be. */
static void malformed_hydration_fields_are_refused(void **state)
{
	static const struct {
		const char *line;
		const char *msg;
	} cases[] = {
		/* 17 fields: the state without the error count. */
		{ HEALTHY " -", "ends after 17 fields, missing 'parent_errors'" },
		{ "1 rw 2 77 AAA 16/16 512/2048 idle 40 5 1 0 0 0 0 0 running",
		  "parent_errors" },
		{ "1 rw 2 77 AAA 16/16 512/2048 idle 40 5 1 0 0 0 0 0 hydrating 3",
		  "status field 17 (hydration_state)" },
		{ "1 rw 2 77 AAA 16/16 512/2048 idle 40 5 1 0 0 0 0 0 RUNNING 3",
		  "hydration_state" },
		{ "1 rw 2 77 AAA 16/16 512/2048 idle 40 5 1 0 0 0 0 0 idle 3",
		  "hydration_state" },
		{ "1 rw 2 77 AAA 16/16 512/2048 idle 40 5 1 0 0 0 0 0 running three",
		  "status field 18 (parent_errors)" },
		{ "1 rw 2 77 AAA 16/16 512/2048 idle 40 5 1 0 0 0 0 0 running -1",
		  "parent_errors" },
		{ "1 rw 2 77 AAA 16/16 512/2048 idle 40 5 1 0 0 0 0 0 running 3x",
		  "parent_errors" },
		{ "1 rw 2 77 AAA 16/16 512/2048 idle 40 5 1 0 0 0 0 0 running 18446744073709551616",
		  "parent_errors" },
		{ "1 rw 2 77 AAA 16/16 512/2048 idle 40 5 1 0 0 0 0 0 running -",
		  "parent_errors" },
		/* hydrated > total. */
		{ "1 rw 2 77 AAA 16/16 2049/2048 idle 40 5 1 0 0 0 0 0 running 3",
		  "status field 7 (hydration)" },
		{ "1 rw 2 77 AAA 16/16 2048 idle 40 5 1 0 0 0 0 0 done 0",
		  "hydration" },
		/* The progress field and the state disagree about a parent. */
		{ "1 rw 2 77 AAA 16/16 512/2048 idle 40 5 1 0 0 0 0 0 - 3",
		  "hydration_state" },
		{ "1 rw 2 77 AAA 16/16 - idle 40 5 1 0 0 0 0 0 running 0",
		  "hydration_state" },
		{ "1 rw 2 77 AAA 16/16 - idle 40 5 1 0 0 0 0 0 done 0",
		  "hydration_state" },
	};
	struct cru_status st;
	struct cru_err err;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		err.msg[0] = '\0';
		if (cru_status_parse(cases[i].line, &st, &err) != -EINVAL)
			fail_msg("accepted malformed line '%s'", cases[i].line);
		assert_contains(err.msg, cases[i].msg);
	}
}

static void whitespace_and_newline_are_tolerated(void **state)
{
	struct cru_status st;
	struct cru_err err;

	(void)state;
	assert_int_equal(cru_status_parse("  1\trw 3  1042 AAA 1024/1024 - idle 10 20 3 0 0 0 0 0\n",
					  &st, &err), 0);
	assert_int_equal(st.flush, 1042);
	assert_int_equal(st.extra_fields, 0);
}

static void largest_counters_parse(void **state)
{
	struct cru_status st;
	struct cru_err err;

	(void)state;
	assert_int_equal(cru_status_parse("1 rw 18446744073709551615 0 AAA 1/1 - idle 18446744073709551615 0 0 0 0 0 0 0",
					  &st, &err), 0);
	assert_true(st.generation == UINT64_MAX);
	assert_true(st.reads == UINT64_MAX);
}

static void whole_dmsetup_line_parses(void **state)
{
	struct cru_status st;
	struct cru_err err;
	uint64_t start = 1, len = 0;

	(void)state;
	assert_int_equal(cru_status_parse_line("0 2097152 crucible " HEALTHY,
					       &start, &len, &st, &err), 0);
	assert_int_equal(start, 0);
	assert_int_equal(len, 2097152);
	assert_int_equal(st.flush, 1042);
	assert_int_equal(cru_status_parse_line("0 16384 crucible " HYDRATING "\n",
					       &start, &len, &st, &err), 0);
	assert_int_equal(len, 16384);
	assert_int_equal(st.hydration_state, CRU_HYDRATION_RUNNING);
	assert_int_equal(st.parent_errors, 3);

	assert_int_equal(cru_status_parse_line("0 2097152 linear 8:0 0", NULL,
					       NULL, &st, &err), -EINVAL);
	assert_contains(err.msg, "linear");
	assert_int_equal(cru_status_parse_line("0 x crucible " HEALTHY, NULL,
					       NULL, &st, &err), -EINVAL);
	assert_contains(err.msg, "length");
	assert_int_equal(cru_status_parse_line("0 8", NULL, NULL, &st, &err),
			 -EINVAL);
}

/* Each malformed line is refused with a message naming the bad field. */
static void malformed_lines_are_refused(void **state)
{
	static const struct {
		const char *line;
		const char *msg;
	} cases[] = {
		{ "", "empty" },
		{ "   \n", "empty" },
		{ "1 rw 3 1042 AAA", "regions" },
		{ "1 rw 3 1042 AAA 1024/1024 - idle 10 20 3 0 0 0 0", "err2" },
		{ "x rw 3 1042 AAA 1024/1024 - idle 10 20 3 0 0 0 0 0", "version" },
		{ "1 ro 3 1042 AAA 1024/1024 - idle 10 20 3 0 0 0 0 0", "mode" },
		{ "1 rw -3 1042 AAA 1024/1024 - idle 10 20 3 0 0 0 0 0", "generation" },
		{ "1 rw 3 10x AAA 1024/1024 - idle 10 20 3 0 0 0 0 0", "flush" },
		{ "1 rw 3 1042 AA 1024/1024 - idle 10 20 3 0 0 0 0 0", "legs" },
		{ "1 rw 3 1042 AAAA 1024/1024 - idle 10 20 3 0 0 0 0 0", "legs" },
		{ "1 rw 3 1042 AXA 1024/1024 - idle 10 20 3 0 0 0 0 0", "legs" },
		{ "1 rw 3 1042 aaa 1024/1024 - idle 10 20 3 0 0 0 0 0", "legs" },
		{ "1 rw 3 1042 AAA 1024 - idle 10 20 3 0 0 0 0 0", "regions" },
		{ "1 rw 3 1042 AAA 1025/1024 - idle 10 20 3 0 0 0 0 0", "regions" },
		{ "1 rw 3 1042 AAA /1024 - idle 10 20 3 0 0 0 0 0", "regions" },
		{ "1 rw 3 1042 AAA 0/0 - idle 10 20 3 0 0 0 0 0", "regions" },
		{ "1 rw 3 1042 AAA 1024/1024 5/ idle 10 20 3 0 0 0 0 0", "hydration" },
		{ "1 rw 3 1042 AAA 1024/1024 9/5 idle 10 20 3 0 0 0 0 0", "hydration" },
		{ "1 rw 3 1042 AAA 1024/1024 - busy 10 20 3 0 0 0 0 0", "repair_state" },
		{ "1 rw 3 1042 AAA 1024/1024 - idle ten 20 3 0 0 0 0 0", "reads" },
		{ "1 rw 3 1042 AAA 1024/1024 - idle 10 20 3 +1 0 0 0 0", "mismatches" },
		{ "1 rw 3 1042 AAA 1024/1024 - idle 10 20 3 0 0 0 0 18446744073709551616", "err2" },
		{ "1 rw 3 1042 AAA 1024/1024 - idle 10 20 3 0 0 0 0 0x1", "err2" },
	};
	struct cru_status st;
	struct cru_err err;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		err.msg[0] = '\0';
		if (cru_status_parse(cases[i].line, &st, &err) != -EINVAL)
			fail_msg("accepted malformed line '%s'", cases[i].line);
		assert_contains(err.msg, cases[i].msg);
	}
}

static void other_status_version_is_refused(void **state)
{
	struct cru_status st;
	struct cru_err err;

	(void)state;
	assert_int_equal(cru_status_parse("2 rw 3 1042 AAA 1024/1024 - idle 10 20 3 0 0 0 0 0",
					  &st, &err), -EPROTO);
	assert_contains(err.msg, "unsupported status format version 2");
}

static void names_of_states(void **state)
{
	(void)state;
	assert_string_equal(cru_mode_name(CRU_MODE_FENCED), "fenced");
	assert_string_equal(cru_repair_state_name(CRU_REPAIR_WAITING), "waiting");
	assert_string_equal(cru_leg_state_name(CRU_LEG_STALE), "stale");
	assert_string_equal(cru_leg_state_name(CRU_LEG_DISABLED), "disabled");
	assert_string_equal(cru_leg_state_name(CRU_LEG_FAULTED), "faulted");
	assert_string_equal(cru_hydration_state_name(CRU_HYDRATION_BACKOFF), "backoff");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(healthy_volume_parses_every_field),
		cmocka_unit_test(degraded_volume_with_parent),
		cmocka_unit_test(every_mode_and_repair_state),
		cmocka_unit_test(appended_fields_are_tolerated),
		cmocka_unit_test(eighteen_fields_leave_unrecoverable_unknown),
		cmocka_unit_test(sixteen_fields_leave_the_hydration_state_unknown),
		cmocka_unit_test(volume_without_parent_reports_no_hydration),
		cmocka_unit_test(hydrating_volume_parses_state_and_parent_errors),
		cmocka_unit_test(every_hydration_state),
		cmocka_unit_test(largest_parent_error_count_parses),
		cmocka_unit_test(malformed_hydration_fields_are_refused),
		cmocka_unit_test(whitespace_and_newline_are_tolerated),
		cmocka_unit_test(largest_counters_parse),
		cmocka_unit_test(whole_dmsetup_line_parses),
		cmocka_unit_test(malformed_lines_are_refused),
		cmocka_unit_test(other_status_version_is_refused),
		cmocka_unit_test(names_of_states),
	};

	return cmocka_run_group_tests_name("status", tests, NULL, NULL);
}

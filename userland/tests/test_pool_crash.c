// SPDX-License-Identifier: GPL-2.0
/*
 * Pools that stop after any write: an allocation, a free, a partial free
 * and a transaction of several operations are interrupted after each of
 * their writes (cleanly, or with the next write torn in half), and the
 * pool is opened again.  Every time: no block is leaked or owned twice,
 * the operation happened entirely or not at all (entirely once the first
 * superblock copy is down), the two bitmaps agree, and a second open finds
 * nothing left to repair.  Recovery itself is interrupted too.
 */
#include "pool_fixture.h"

struct fixture {
	struct pool_fixture pf;	/* first: pool_fixture_setup */
	struct cru_pool_info info;
	uint8_t *snap;		/* the metadata area before the operation */
	size_t snap_len;
};

typedef int (*pool_op)(struct cru_pool *p, struct cru_err *err);

static int setup(void **state)
{
	return pool_fixture_setup(state, sizeof(struct fixture), "pool.img");
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	free(fx->snap);
	return pool_fixture_teardown(state);
}

/* Keep the metadata area as it is now, for restore(). */
static void snapshot(struct fixture *fx)
{
	free(fx->snap);
	fx->snap_len = fx->info.data_start * BS;
	fx->snap = malloc(fx->snap_len);
	assert_non_null(fx->snap);
	test_pread(fx->pf.path, fx->snap, fx->snap_len, 0);
}

/*
 * A pool of three bitmap blocks with regions: a spans the boundary of
 * the first two, b and c are small, and there is a hole between a and b.
 */
static void base_pool(struct fixture *fx)
{
	struct cru_pool_init_opts o = { .name = "crash", .max_regions = 16 };
	struct cru_pool *p;
	struct cru_err err;

	test_make_file(fx->pf.path, 300 * MiB);
	if (cru_pool_init(fx->pf.path, &o, &fx->info, &err))
		fail_msg("init: %s", err.msg);
	p = test_pool_open(fx->pf.path);
	assert_int_equal(cru_pool_region_create(p, "a", (fx->info.bits_per_block + 500) * BS,
						0, NULL, &err), 0);
	assert_int_equal(cru_pool_region_create(p, "gap", 64 * BS, 0, NULL, &err), 0);
	assert_int_equal(cru_pool_region_create(p, "b", 100 * BS, 0, NULL, &err), 0);
	assert_int_equal(cru_pool_region_create(p, "c", 7 * BS, 0, NULL, &err), 0);
	assert_int_equal(cru_pool_region_remove(p, "gap", &err), 0);
	cru_pool_close(p);
	snapshot(fx);
}

static void restore(struct fixture *fx)
{
	test_pwrite(fx->pf.path, fx->snap, fx->snap_len, 0);
}

/* The regions, as a string to compare states by. */
static void describe(struct cru_pool *p, char *buf, size_t len)
{
	struct cru_pool_info info;
	size_t n = 0;
	uint32_t s, k;

	cru_pool_get_info(p, &info);
	buf[0] = '\0';
	for (s = 0; s < info.max_regions; s++) {
		const struct cru_pool_region *r = cru_pool_region_slot(p, s);

		if (!r)
			continue;
		n += (size_t)snprintf(buf + n, len - n, "%s:%llu", r->name,
				      (unsigned long long)r->blocks);
		for (k = 0; k < r->nr_extents; k++)
			n += (size_t)snprintf(buf + n, len - n, ",%llu+%llu",
					      (unsigned long long)r->extents[k].start,
					      (unsigned long long)r->extents[k].len);
		n += (size_t)snprintf(buf + n, len - n, " ");
	}
}

/* No block leaked, none owned twice, both bitmaps the same on disk. */
static void check_invariants(struct fixture *fx, struct cru_pool *p,
			     const char *when)
{
	const struct cru_pool_recovery *rec = cru_pool_recovery(p);
	struct cru_pool_info info;
	uint8_t *owners;
	uint64_t i;
	uint32_t s, k;

	cru_pool_get_info(p, &info);
	owners = calloc(info.data_blocks, 1);
	assert_non_null(owners);
	for (s = 0; s < info.max_regions; s++) {
		const struct cru_pool_region *r = cru_pool_region_slot(p, s);

		for (k = 0; r && k < r->nr_extents; k++)
			for (i = 0; i < r->extents[k].len; i++)
				if (owners[r->extents[k].start - info.data_start + i]++)
					fail_msg("%s: block %llu owned twice", when,
						 (unsigned long long)(r->extents[k].start + i));
	}
	for (i = 0; i < info.data_blocks; i++) {
		bool free_ = cru_pool_block_free(p, info.data_start + i);

		if (!free_ && !owners[i])
			fail_msg("%s: block %llu leaked (allocated, no owner)", when,
				 (unsigned long long)(info.data_start + i));
		if (free_ && owners[i])
			fail_msg("%s: block %llu owned and free", when,
				 (unsigned long long)(info.data_start + i));
	}
	free(owners);
	/* The protocol, not the safety net, kept it consistent. */
	if (rec->leaked_blocks || rec->unrecorded_blocks || rec->bitmap_rebuilt)
		fail_msg("%s: recovery had to rebuild the bitmap (%llu leaked, %llu unrecorded)",
			 when, (unsigned long long)rec->leaked_blocks,
			 (unsigned long long)rec->unrecorded_blocks);
	test_pool_bitmaps_equal(fx->pf.path, &info, when);
}

static void expect_nothing_to_repair(struct fixture *fx, const char *when)
{
	struct cru_pool *p = test_pool_open(fx->pf.path);
	const struct cru_pool_recovery *r = cru_pool_recovery(p);

	if (r->sb_repaired || r->ops_rolled_back || r->primary_bad ||
	    r->mirror_bad || r->bitmap_rewritten)
		fail_msg("%s: the second open still repaired something (sb %d, ops %u, bad %llu/%llu, rewritten %llu)",
			 when, r->sb_repaired, r->ops_rolled_back,
			 (unsigned long long)r->primary_bad,
			 (unsigned long long)r->mirror_bad,
			 (unsigned long long)r->bitmap_rewritten);
	cru_pool_close(p);
}

/*
 * Run @op on the base pool once to count its writes, then once per write
 * count n (clean and torn), stopping after n writes; reopen and check.
 * Returns the number of writes of @op.
 */
static uint64_t crash_everywhere(struct fixture *fx, pool_op op,
				 const char *name)
{
	char before[4096], after[4096], now[4096], when[160];
	struct cru_pool *p;
	struct cru_err err;
	uint64_t w0, writes, n;
	int torn, rolled = 0, kept = 0;

	base_pool(fx);
	p = test_pool_open(fx->pf.path);
	describe(p, before, sizeof(before));
	w0 = cru_pool_writes(p);
	if (op(p, &err))
		fail_msg("%s: %s", name, err.msg);
	writes = cru_pool_writes(p) - w0;
	describe(p, after, sizeof(after));
	cru_pool_close(p);
	assert_string_not_equal(before, after);
	assert_true(writes >= 6);

	for (torn = 0; torn < 2; torn++) {
		for (n = 0; n < writes; n++) {
			snprintf(when, sizeof(when), "%s, stopped after write %llu of %llu%s",
				 name, (unsigned long long)n,
				 (unsigned long long)writes, torn ? ", the next torn" : "");
			restore(fx);
			p = test_pool_open(fx->pf.path);
			cru_pool_set_crash_after(p, (long)n, torn);
			if (!op(p, &err))
				fail_msg("%s: the operation did not fail", when);
			cru_pool_close(p);

			p = test_pool_open(fx->pf.path);
			check_invariants(fx, p, when);
			describe(p, now, sizeof(now));
			/*
			 * Write writes-1 is the first superblock copy: the
			 * commit.  Torn, it may hold the whole new superblock
			 * (its second half is padding): then either outcome.
			 */
			if (torn && n == writes - 2 && !strcmp(now, after)) {
				kept++;
			} else if (n >= writes - 1) {
				if (strcmp(now, after))
					fail_msg("%s: committed, yet the pool is '%s', not '%s'",
						 when, now, after);
				kept++;
			} else {
				if (strcmp(now, before))
					fail_msg("%s: not committed, yet the pool is '%s', not '%s'",
						 when, now, before);
				rolled++;
			}
			cru_pool_close(p);
			expect_nothing_to_repair(fx, when);
		}
	}
	printf("# %s: %llu writes; %d crashes rolled back, %d kept the operation\n",
	       name, (unsigned long long)writes, rolled, kept);
	return writes;
}

static int op_allocate(struct cru_pool *p, struct cru_err *err)
{
	/* Bigger than the hole: it goes after c, over two blocks of bitmap. */
	struct cru_pool_info info;

	cru_pool_get_info(p, &info);
	return cru_pool_region_create(p, "new",
				      (info.bits_per_block + 2000) * BS, 0,
				      NULL, err);
}

static int op_free(struct cru_pool *p, struct cru_err *err)
{
	return cru_pool_region_remove(p, "a", err);
}

static int op_free_part(struct cru_pool *p, struct cru_err *err)
{
	const struct cru_pool_region *b = cru_pool_region_find(p, "b");

	return cru_pool_free_extent(p, "b", b->extents[0].start + 10, 30, err);
}

static int op_transaction(struct cru_pool *p, struct cru_err *err)
{
	const struct cru_pool_region *a = cru_pool_region_find(p, "a");
	uint64_t a0 = a->extents[0].start;
	int ret;

	ret = cru_pool_begin(p, err);
	if (!ret)
		ret = cru_pool_region_remove(p, "b", err);
	if (!ret)
		ret = cru_pool_region_create(p, "x", 40 * BS, 0, NULL, err);
	if (!ret)
		ret = cru_pool_free_extent(p, "a", a0 + 100, 200, err);
	if (!ret)
		ret = cru_pool_region_create(p, "y", 3000 * BS, 0, NULL, err);
	if (!ret)
		ret = cru_pool_region_remove(p, "c", err);
	if (!ret)
		ret = cru_pool_commit(p, err);
	return ret;
}

static void crash_at_every_write_of_an_allocation(void **state)
{
	crash_everywhere(*state, op_allocate, "allocation");
}

static void crash_at_every_write_of_a_free(void **state)
{
	crash_everywhere(*state, op_free, "free");
}

static void crash_at_every_write_of_a_partial_free(void **state)
{
	crash_everywhere(*state, op_free_part, "partial free");
}

static void crash_at_every_write_of_a_transaction(void **state)
{
	crash_everywhere(*state, op_transaction, "transaction of 5 operations");
}

/*
 * Stop a transaction just before its commit (both bitmaps and the slots
 * written), then stop the recovery after each of its writes: the next
 * open still finds the pool as it was before the transaction.
 */
static void crash_during_recovery(void **state)
{
	struct fixture *fx = *state;
	struct cru_pool_open_opts o = cru_pool_open_opts_default();
	char before[4096], now[4096], when[128];
	uint64_t writes, k, recovery_writes;
	struct cru_pool *p;
	struct cru_err err;
	int torn;

	writes = crash_everywhere(fx, op_transaction, "transaction (for recovery)");
	/* The state that needs the most recovery: everything but the superblocks. */
	restore(fx);
	p = test_pool_open(fx->pf.path);
	describe(p, before, sizeof(before));
	cru_pool_set_crash_after(p, (long)(writes - 2), false);
	assert_int_not_equal(op_transaction(p, &err), 0);
	cru_pool_close(p);
	snapshot(fx);

	/* How many writes does the recovery make? */
	p = test_pool_open(fx->pf.path);
	recovery_writes = cru_pool_writes(p);
	assert_int_equal(cru_pool_recovery(p)->ops_rolled_back, 5);
	cru_pool_close(p);
	assert_true(recovery_writes >= 3);

	for (torn = 0; torn < 2; torn++) {
		for (k = 0; k < recovery_writes; k++) {
			snprintf(when, sizeof(when), "recovery stopped after write %llu of %llu%s",
				 (unsigned long long)k,
				 (unsigned long long)recovery_writes,
				 torn ? ", the next torn" : "");
			restore(fx);
			o.crash_after = (long)k;
			o.torn = torn;
			if (!cru_pool_open(fx->pf.path, &o, &p, &err))
				fail_msg("%s: the open did not fail", when);
			p = test_pool_open(fx->pf.path);
			check_invariants(fx, p, when);
			describe(p, now, sizeof(now));
			if (strcmp(now, before))
				fail_msg("%s: the pool is '%s', not '%s'", when, now,
					 before);
			cru_pool_close(p);
			expect_nothing_to_repair(fx, when);
		}
	}
	printf("# recovery: %llu writes, stopped after each\n",
	       (unsigned long long)recovery_writes);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(crash_at_every_write_of_an_allocation, setup, teardown),
		cmocka_unit_test_setup_teardown(crash_at_every_write_of_a_free, setup, teardown),
		cmocka_unit_test_setup_teardown(crash_at_every_write_of_a_partial_free, setup, teardown),
		cmocka_unit_test_setup_teardown(crash_at_every_write_of_a_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(crash_during_recovery, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

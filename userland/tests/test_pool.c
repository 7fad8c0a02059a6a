// SPDX-License-Identifier: GPL-2.0
/*
 * Pools on files: the allocator against a model, best fit, fragmentation
 * and coalescing, a full pool, refused frees, transactions, damaged
 * bitmaps, superblocks and region slots, discards, the registry.
 */
#include "pool_fixture.h"

#include <sys/sysmacros.h>
#include <sys/time.h>

#include "../lib/pool_dm.h"
#include "../lib/pool_registry.h"

static int setup(void **state)
{
	return pool_fixture_setup(state, sizeof(struct pool_fixture), "pool.img");
}

static void make_pool(struct pool_fixture *fx, uint64_t bytes,
		      uint32_t regions, struct cru_pool_info *info)
{
	struct cru_pool_init_opts o = { .name = "tp", .max_regions = regions };
	struct cru_err err;

	test_make_file(fx->path, (off_t)bytes);
	if (cru_pool_init(fx->path, &o, info, &err))
		fail_msg("pool init: %s", err.msg);
}

static const struct cru_pool_region *create(struct cru_pool *p,
					    const char *name, uint64_t bytes)
{
	const struct cru_pool_region *r;
	struct cru_err err;

	if (cru_pool_region_create(p, name, bytes, 0, &r, &err))
		fail_msg("create %s: %s", name ? name : "(auto)", err.msg);
	return r;
}

static void remove_region(struct cru_pool *p, const char *name)
{
	struct cru_err err;

	if (cru_pool_region_remove(p, name, &err))
		fail_msg("remove %s: %s", name, err.msg);
}

static void expect_clean_recovery(const struct cru_pool *p)
{
	const struct cru_pool_recovery *r = cru_pool_recovery(p);

	assert_false(r->sb_repaired);
	assert_int_equal(r->ops_rolled_back, 0);
	assert_int_equal(r->primary_bad, 0);
	assert_int_equal(r->mirror_bad, 0);
	assert_int_equal(r->bitmap_rewritten, 0);
	assert_int_equal(r->leaked_blocks, 0);
	assert_int_equal(r->unrecorded_blocks, 0);
	assert_false(r->bitmap_rebuilt);
}

/* ---- format ------------------------------------------------------------------ */

static void new_pool_is_empty_and_aligned(void **state)
{
	struct pool_fixture *fx = *state;
	struct cru_pool_info info, again;
	struct cru_pool *p;
	struct cru_pool_sb sb[2];

	make_pool(fx, 64 * MiB, 32, &info);
	assert_string_equal(info.name, "tp");
	assert_int_equal(info.block_size, 4096);
	assert_int_equal(info.total_blocks, 16384);
	assert_int_equal(info.data_start * BS % MiB, 0);
	assert_int_equal(info.data_start + info.data_blocks, 16384);
	assert_true(info.bitmap_start >= info.region_table_start + 32);
	assert_true(info.mirror_start >= info.bitmap_start + info.bitmap_blocks);
	assert_true(info.data_start >= info.mirror_start + info.bitmap_blocks);
	assert_true(info.flags & CRU_POOL_F_FILE);

	test_pread(fx->path, sb, sizeof(sb[0]), 0);
	test_pread(fx->path, &sb[1], sizeof(sb[1]), BS);
	assert_int_equal(le64_to_cpu(sb[0].magic), CRU_POOL_MAGIC);
	assert_int_equal(le64_to_cpu(sb[1].magic), CRU_POOL_MAGIC);
	assert_int_equal(le32_to_cpu(sb[1].copy), 1);
	assert_memory_equal(sb[0].uuid, info.uuid, 16);

	p = test_pool_open(fx->path);
	cru_pool_get_info(p, &again);
	assert_int_equal(again.free_blocks, info.data_blocks);
	assert_int_equal(again.free_extents, 1);
	assert_int_equal(again.largest_free, info.data_blocks);
	assert_int_equal(again.nr_regions, 0);
	assert_memory_equal(again.uuid, info.uuid, 16);
	expect_clean_recovery(p);
	cru_pool_close(p);
}

static void larger_block_size_is_honoured(void **state)
{
	struct pool_fixture *fx = *state;
	struct cru_pool_init_opts o = { .block_size = 16384, .max_regions = 8 };
	struct cru_pool_info info;
	struct cru_pool *p;
	const struct cru_pool_region *r;
	struct cru_err err;

	test_make_file(fx->path, 32 * MiB);
	if (cru_pool_init(fx->path, &o, &info, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(info.block_size, 16384);
	assert_string_equal(info.name, "pool.img");	/* from the file name */
	p = test_pool_open(fx->path);
	r = create(p, "a", 100000);	/* rounded up to 7 blocks of 16 KiB */
	assert_int_equal(r->blocks, 7);
	cru_pool_close(p);
	o.block_size = 6000;
	o.force = true;
	assert_int_equal(cru_pool_init(fx->path, &o, &info, &err), -EINVAL);
	assert_contains(err.msg, "block size 6000");
}

static void too_small_a_file_is_refused(void **state)
{
	struct pool_fixture *fx = *state;
	struct cru_pool_info info;
	struct cru_err err;

	test_make_file(fx->path, 1 * MiB);
	assert_int_equal(cru_pool_init(fx->path, NULL, &info, &err), -ENOSPC);
	assert_contains(err.msg, fx->path);
	assert_contains(err.msg, "too small");
}

static void names_are_checked(void **state)
{
	struct pool_fixture *fx = *state;
	struct cru_pool_init_opts o = { .name = "a-b" };
	struct cru_pool_info info;
	struct cru_pool *p;
	struct cru_err err;
	char dm[128];

	assert_true(cru_pool_name_valid("p0"));
	assert_false(cru_pool_name_valid("a-b"));	/* '-' splits dm names */
	assert_false(cru_pool_name_valid(".hidden"));
	assert_false(cru_pool_name_valid(""));
	assert_true(cru_pool_region_name_valid("leg-0"));
	assert_false(cru_pool_region_name_valid("a/b"));
	assert_false(cru_pool_region_name_valid("a b"));
	test_make_file(fx->path, 16 * MiB);
	assert_int_equal(cru_pool_init(fx->path, &o, &info, &err), -EINVAL);
	assert_contains(err.msg, "'a-b'");

	make_pool(fx, 16 * MiB, 8, &info);
	p = test_pool_open(fx->path);
	create(p, "leg-0", MiB);
	assert_int_equal(cru_pool_region_create(p, "leg-0", MiB, 0, NULL, &err),
			 -EEXIST);
	assert_contains(err.msg, "leg-0 already exists");
	assert_int_equal(cru_pool_region_create(p, "bad name", MiB, 0, NULL, &err),
			 -EINVAL);
	assert_string_equal(create(p, NULL, MiB)->name, "r0");
	assert_string_equal(create(p, NULL, MiB)->name, "r1");
	cru_pool_close(p);

	assert_int_equal(cru_pool_dm_name("p0", "leg-0", dm, sizeof(dm)), 0);
	assert_string_equal(dm, "crucible-pool-p0-leg-0");
}

/* ---- a model of the allocator ---------------------------------------------------- */

/*
 * The model: who owns each data block (0 free, -1 freed in the open
 * transaction, s + 1 region slot s), and the expected best fit computed
 * from its free runs.
 */
struct model {
	uint64_t base, nr;
	int *owner;
	char names[64][16];
	bool used[64];
};

struct run {
	uint64_t start, len;
};

static size_t model_runs(const struct model *m, struct run *runs)
{
	size_t n = 0;
	uint64_t b = 0;

	while (b < m->nr) {
		uint64_t s;

		if (m->owner[b]) {
			b++;
			continue;
		}
		for (s = b; b < m->nr && !m->owner[b]; b++)
			;
		runs[n].start = m->base + s;
		runs[n++].len = b - s;
	}
	return n;
}

static int run_less(const struct run *a, const struct run *b)
{
	return a->len != b->len ? a->len < b->len : a->start < b->start;
}

/* The extents the allocator must choose for @blocks, or 0 if it must refuse. */
static size_t model_best_fit(const struct model *m, uint64_t blocks,
			     struct run *out, struct run *runs)
{
	size_t n = model_runs(m, runs), i, k = 0;
	const struct run *last = NULL;
	uint64_t need = blocks, total = 0;

	for (i = 0; i < n; i++)
		total += runs[i].len;
	if (blocks > total)
		return 0;
	while (need) {
		const struct run *best = NULL, *top = NULL;

		for (i = 0; i < n; i++) {
			if (last && !run_less(&runs[i], last))
				continue;
			if (runs[i].len >= need &&
			    (!best || run_less(&runs[i], best)))
				best = &runs[i];
			if (!top || run_less(top, &runs[i]))
				top = &runs[i];
		}
		if (best) {
			out[k].start = best->start;
			out[k++].len = need;
			return k;
		}
		out[k++] = *top;
		need -= top->len;
		last = top;
	}
	return k;
}

static void model_check(const struct model *m, struct cru_pool *p,
			 struct run *runs, bool deep)
{
	struct cru_pool_info info;
	uint64_t free = 0, largest = 0, b, c;
	size_t n = model_runs(m, runs), i;

	for (i = 0; i < n; i++) {
		free += runs[i].len;
		if (runs[i].len > largest)
			largest = runs[i].len;
	}
	cru_pool_get_info(p, &info);
	if (info.free_blocks != free || info.free_extents != n)
		fail_msg("the pool has %llu blocks free in %llu extents, the model %llu in %zu",
			 (unsigned long long)info.free_blocks,
			 (unsigned long long)info.free_extents,
			 (unsigned long long)free, n);
	assert_int_equal(info.largest_free, largest);
	if (!deep)
		return;
	for (b = 0; b < m->nr; b++)
		if (cru_pool_block_free(p, m->base + b) != (m->owner[b] == 0))
			fail_msg("block %llu: pool says %s, model says owner %d",
				 (unsigned long long)(m->base + b),
				 cru_pool_block_free(p, m->base + b) ? "free" : "used",
				 m->owner[b]);
	/* The chunk summary: free count and first free block of each. */
	for (c = 0; c * info.bits_per_block < m->nr; c++) {
		uint32_t cf, ff, want = 0, first = info.bits_per_block;

		for (b = c * info.bits_per_block;
		     b < m->nr && b < (c + 1) * info.bits_per_block; b++) {
			if (m->owner[b])
				continue;
			if (first == info.bits_per_block)
				first = (uint32_t)(b - c * info.bits_per_block);
			want++;
		}
		cru_pool_chunk_summary(p, c, &cf, &ff);
		assert_int_equal(cf, want);
		assert_int_equal(ff, first);
	}
	/* Every region as the model has it. */
	for (i = 0; i < 64; i++) {
		const struct cru_pool_region *r;
		uint32_t k;

		if (!m->used[i])
			continue;
		r = cru_pool_region_find(p, m->names[i]);
		assert_non_null(r);
		for (k = 0; k < r->nr_extents; k++)
			for (b = r->extents[k].start;
			     b < r->extents[k].start + r->extents[k].len; b++)
				assert_int_equal(m->owner[b - m->base], (int)i + 1);
	}
}

static void model_commit(struct model *m)
{
	uint64_t b;

	for (b = 0; b < m->nr; b++)
		if (m->owner[b] == -1)
			m->owner[b] = 0;
}

static void random_operations_match_a_model(void **state)
{
	struct pool_fixture *fx = *state;
	struct cru_pool_info info;
	struct model m;
	struct run *runs, want[300];
	struct cru_pool *p;
	struct cru_err err;
	unsigned int seed;
	const char *env = getenv("POOL_TEST_SEED");
	struct timeval tv;
	int op, ops = 3000, creates = 0, removes = 0, frees = 0, full = 0, multi = 0;

	gettimeofday(&tv, NULL);
	seed = env ? (unsigned int)strtoul(env, NULL, 0) :
	       (unsigned int)(tv.tv_sec ^ tv.tv_usec);
	printf("# random_operations_match_a_model: seed %u (POOL_TEST_SEED=%u to repeat)\n",
	       seed, seed);
	srandom(seed);

	/* 300 MiB: three bitmap blocks, so extents cross chunk boundaries. */
	make_pool(fx, 300 * MiB, 64, &info);
	memset(&m, 0, sizeof(m));
	m.base = info.data_start;
	m.nr = info.data_blocks;
	m.owner = calloc(m.nr, sizeof(*m.owner));
	runs = calloc(m.nr / 2 + 2, sizeof(*runs));
	assert_non_null(m.owner);
	assert_non_null(runs);
	assert_true(m.nr > 2 * info.bits_per_block);

	p = test_pool_open(fx->path);
	assert_int_equal(cru_pool_begin(p, &err), 0);
	for (op = 1; op <= ops; op++) {
		int dice = (int)(random() % 100), i, slot = -1;

		if (dice < 50) {
			uint64_t blocks = 1 + (uint64_t)random() %
					  (random() % 8 ? 600 : 12000);
			const struct cru_pool_region *r;
			size_t k, nw;
			int ret;

			for (i = 0; i < 64 && slot < 0; i++)
				if (!m.used[i])
					slot = i;
			if (slot < 0)
				goto next;
			snprintf(m.names[slot], sizeof(m.names[slot]), "m%d", op);
			nw = model_best_fit(&m, blocks, want, runs);
			ret = cru_pool_region_create(p, m.names[slot], blocks * BS,
						     CRU_POOL_NOZERO, &r, &err);
			if (!nw) {
				assert_int_equal(ret, -ENOSPC);
				full++;
				goto next;
			}
			if (ret)
				fail_msg("op %d: create %llu blocks: %s", op,
					 (unsigned long long)blocks, err.msg);
			assert_int_equal(r->nr_extents, nw);
			for (k = 0; k < nw; k++) {
				uint64_t b;

				if (r->extents[k].start != want[k].start ||
				    r->extents[k].len != want[k].len)
					fail_msg("op %d: %llu blocks: extent %zu of %zu is %llu+%llu, the model wants %llu+%llu",
						 op, (unsigned long long)blocks, k, nw,
						 (unsigned long long)r->extents[k].start,
						 (unsigned long long)r->extents[k].len,
						 (unsigned long long)want[k].start,
						 (unsigned long long)want[k].len);
				for (b = 0; b < want[k].len; b++) {
					assert_int_equal(m.owner[want[k].start - m.base + b], 0);
					m.owner[want[k].start - m.base + b] = slot + 1;
				}
			}
			m.used[slot] = true;
			creates++;
			multi += nw > 1;
		} else {
			const struct cru_pool_region *r;
			int start = (int)(random() % 64);

			for (i = 0; i < 64 && slot < 0; i++)
				if (m.used[(start + i) % 64])
					slot = (start + i) % 64;
			if (slot < 0)
				goto next;
			r = cru_pool_region_find(p, m.names[slot]);
			assert_non_null(r);
			if (dice < 85 || r->blocks < 2) {
				uint32_t k;
				uint64_t b;

				for (k = 0; k < r->nr_extents; k++)
					for (b = 0; b < r->extents[k].len; b++)
						m.owner[r->extents[k].start - m.base + b] = -1;
				remove_region(p, m.names[slot]);
				m.used[slot] = false;
				removes++;
			} else {
				/* A piece of one of its extents. */
				const struct cru_pool_extent ex =
					r->extents[random() % r->nr_extents], *e = &ex;
				uint64_t off = e->len > 1 ? (uint64_t)random() % e->len : 0;
				uint64_t len = 1 + (uint64_t)random() % (e->len - off);
				uint64_t b;
				int ret;

				if (len == r->blocks)
					goto next;
				ret = cru_pool_free_extent(p, m.names[slot],
							   e->start + off, len, &err);
				if (ret == -E2BIG)
					goto next;
				if (ret)
					fail_msg("op %d: free %llu+%llu of %s: %s", op,
						 (unsigned long long)(e->start + off),
						 (unsigned long long)len,
						 m.names[slot], err.msg);
				for (b = 0; b < len; b++)
					m.owner[e->start + off - m.base + b] = -1;
				frees++;
			}
		}
next:
		/* Commit now and then; a full transaction commits by itself. */
		if (op % 25 == 0) {
			if (cru_pool_commit(p, &err))
				fail_msg("op %d: commit: %s", op, err.msg);
			model_commit(&m);
			assert_int_equal(cru_pool_begin(p, &err), 0);
		}
		if (getenv("POOL_TEST_TRACE"))
			fprintf(stderr, "# op %d dice %d slot %d\n", op, dice, slot);
		model_check(&m, p, runs, false);
		if (op % 500 == 0) {
			assert_int_equal(cru_pool_commit(p, &err), 0);
			model_commit(&m);
			model_check(&m, p, runs, true);
			cru_pool_close(p);
			p = test_pool_open(fx->path);
			expect_clean_recovery(p);
			model_check(&m, p, runs, true);
			assert_int_equal(cru_pool_begin(p, &err), 0);
		}
	}
	assert_int_equal(cru_pool_commit(p, &err), 0);
	cru_pool_close(p);
	printf("# %d creates (%d refused: full, %d in several extents), %d removes, %d partial frees\n",
	       creates, full, multi, removes, frees);
	assert_true(creates > 500 && removes > 500 && frees > 50 && multi > 0);
	free(runs);
	free(m.owner);
}

/* ---- best fit, fragmentation, coalescing ------------------------------------------- */

static void best_fit_takes_the_smallest_hole_that_fits(void **state)
{
	struct pool_fixture *fx = *state;
	const struct cru_pool_region *a, *r;
	struct cru_pool_info info;
	struct cru_pool *p;
	uint64_t hole8, hole4;

	make_pool(fx, 64 * MiB, 32, &info);
	p = test_pool_open(fx->path);
	a = create(p, "a", 8 * BS);
	hole8 = a->extents[0].start;
	create(p, "b", 1 * BS);
	a = create(p, "c", 4 * BS);
	hole4 = a->extents[0].start;
	create(p, "d", 1 * BS);
	remove_region(p, "a");
	remove_region(p, "c");
	/* Holes of 8 and 4 blocks, and the big rest: 3 blocks go in the 4. */
	r = create(p, "e", 3 * BS);
	assert_int_equal(r->nr_extents, 1);
	assert_int_equal(r->extents[0].start, hole4);
	r = create(p, "f", 5 * BS);
	assert_int_equal(r->extents[0].start, hole8);
	r = create(p, "g", 9 * BS);	/* only the rest holds 9 */
	assert_true(r->extents[0].start > hole4);
	cru_pool_close(p);
}

static void fragmented_space_is_used_and_coalesces_when_freed(void **state)
{
	struct pool_fixture *fx = *state;
	const struct cru_pool_region *r;
	struct cru_pool_info info, now;
	struct cru_pool *p;
	char name[16];
	uint64_t rest;
	int i;

	make_pool(fx, 16 * MiB, 64, &info);
	p = test_pool_open(fx->path);
	/* 20 regions of 10 blocks, then everything else. */
	for (i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		create(p, name, 10 * BS);
	}
	cru_pool_get_info(p, &now);
	rest = now.free_blocks;
	create(p, "rest", rest * BS);
	cru_pool_get_info(p, &now);
	assert_int_equal(now.free_blocks, 0);
	assert_int_equal(now.free_extents, 0);
	/* Free every other one: ten holes of 10 blocks. */
	for (i = 0; i < 20; i += 2) {
		snprintf(name, sizeof(name), "s%d", i);
		remove_region(p, name);
	}
	cru_pool_get_info(p, &now);
	assert_int_equal(now.free_blocks, 100);
	assert_int_equal(now.free_extents, 10);
	assert_int_equal(now.largest_free, 10);
	/* 35 blocks: three whole holes and 5 blocks of a fourth. */
	r = create(p, "frag", 35 * BS);
	assert_int_equal(r->nr_extents, 4);
	assert_int_equal(r->blocks, 35);
	assert_int_equal(r->extents[0].len + r->extents[1].len +
			 r->extents[2].len + r->extents[3].len, 35);
	cru_pool_get_info(p, &now);
	assert_int_equal(now.free_blocks, 65);
	assert_int_equal(now.free_extents, 7);
	/* Free all: one extent again. */
	remove_region(p, "frag");
	remove_region(p, "rest");
	for (i = 1; i < 20; i += 2) {
		snprintf(name, sizeof(name), "s%d", i);
		remove_region(p, name);
	}
	cru_pool_get_info(p, &now);
	assert_int_equal(now.free_blocks, info.data_blocks);
	assert_int_equal(now.free_extents, 1);
	cru_pool_close(p);
	p = test_pool_open(fx->path);
	cru_pool_get_info(p, &now);
	assert_int_equal(now.free_extents, 1);
	expect_clean_recovery(p);
	cru_pool_close(p);
}

static void a_full_pool_refuses_and_changes_nothing(void **state)
{
	struct pool_fixture *fx = *state;
	struct cru_pool_info info, before, after;
	struct cru_pool *p;
	struct cru_err err;
	uint64_t gen;

	make_pool(fx, 16 * MiB, 4, &info);
	p = test_pool_open(fx->path);
	create(p, "big", (info.data_blocks - 10) * BS);
	cru_pool_get_info(p, &before);
	gen = before.generation;
	assert_int_equal(cru_pool_region_create(p, "more", 11 * BS, 0, NULL, &err),
			 -ENOSPC);
	assert_contains(err.msg, "not enough free space for region more");
	assert_contains(err.msg, "40.0 KiB free");
	cru_pool_get_info(p, &after);
	assert_int_equal(after.generation, gen);
	assert_int_equal(after.free_blocks, 10);
	assert_null(cru_pool_region_find(p, "more"));
	create(p, "last", 10 * BS);
	cru_pool_get_info(p, &after);
	assert_int_equal(after.free_blocks, 0);
	cru_pool_close(p);
}

static void a_full_region_table_is_refused(void **state)
{
	struct pool_fixture *fx = *state;
	struct cru_pool_info info;
	struct cru_pool *p;
	struct cru_err err;

	make_pool(fx, 16 * MiB, 2, &info);
	p = test_pool_open(fx->path);
	create(p, "a", BS);
	create(p, "b", BS);
	assert_int_equal(cru_pool_region_create(p, "c", BS, 0, NULL, &err), -ENOSPC);
	assert_contains(err.msg, "region table is full (2 regions)");
	cru_pool_close(p);
}

static void double_and_foreign_frees_are_refused(void **state)
{
	struct pool_fixture *fx = *state;
	const struct cru_pool_region *a, *b;
	struct cru_pool_info info, before, after;
	struct cru_pool_extent ea, eb;
	struct cru_pool *p;
	struct cru_err err;

	make_pool(fx, 16 * MiB, 8, &info);
	p = test_pool_open(fx->path);
	a = create(p, "a", 10 * BS);
	ea = a->extents[0];
	b = create(p, "b", 10 * BS);
	eb = b->extents[0];
	cru_pool_get_info(p, &before);

	/* b's blocks through a. */
	assert_int_equal(cru_pool_free_extent(p, "a", eb.start, 2, &err), -EINVAL);
	assert_contains(err.msg, "belongs to region b");
	/* Free space. */
	assert_int_equal(cru_pool_free_extent(p, "a", eb.start + 20, 1, &err),
			 -EINVAL);
	assert_contains(err.msg, "is free");
	/* Outside the data area. */
	assert_int_equal(cru_pool_free_extent(p, "a", 0, 1, &err), -EINVAL);
	assert_contains(err.msg, "outside the data area");
	/* Spilling over the end of a's extent. */
	assert_int_equal(cru_pool_free_extent(p, "a", ea.start + 8, 4, &err),
			 -EINVAL);
	/* All of a: that is a remove. */
	assert_int_equal(cru_pool_free_extent(p, "a", ea.start, 10, &err), -EINVAL);
	assert_contains(err.msg, "remove the region instead");
	cru_pool_get_info(p, &after);
	assert_int_equal(after.generation, before.generation);
	assert_int_equal(after.free_blocks, before.free_blocks);

	/* Once is fine, twice is a double free. */
	assert_int_equal(cru_pool_free_extent(p, "a", ea.start + 2, 3, &err), 0);
	assert_int_equal(cru_pool_region_find(p, "a")->blocks, 7);
	assert_int_equal(cru_pool_region_find(p, "a")->nr_extents, 2);
	assert_int_equal(cru_pool_free_extent(p, "a", ea.start + 2, 3, &err),
			 -EINVAL);
	assert_contains(err.msg, "is free");
	cru_pool_get_info(p, &after);
	assert_int_equal(after.free_blocks, before.free_blocks + 3);

	remove_region(p, "b");
	assert_int_equal(cru_pool_region_remove(p, "b", &err), -ENOENT);
	assert_contains(err.msg, "no region named b");
	cru_pool_close(p);

	/* What was freed stays freed, what was kept stays kept. */
	p = test_pool_open(fx->path);
	expect_clean_recovery(p);
	a = cru_pool_region_find(p, "a");
	assert_non_null(a);
	assert_int_equal(a->blocks, 7);
	assert_true(cru_pool_block_free(p, ea.start + 2));
	assert_false(cru_pool_block_free(p, ea.start + 1));
	assert_false(cru_pool_block_free(p, ea.start + 5));
	assert_true(cru_pool_block_free(p, eb.start));
	cru_pool_close(p);
}

static void blocks_freed_in_a_transaction_wait_for_its_commit(void **state)
{
	struct pool_fixture *fx = *state;
	const struct cru_pool_region *r;
	struct cru_pool_info info;
	struct cru_pool_extent old;
	struct cru_pool *p;
	struct cru_err err;
	uint64_t gen;

	make_pool(fx, 16 * MiB, 8, &info);
	p = test_pool_open(fx->path);
	/* Fill the pool with two regions. */
	r = create(p, "a", 100 * BS);
	old = r->extents[0];
	create(p, "b", (info.data_blocks - 100) * BS);
	cru_pool_get_info(p, &info);
	gen = info.generation;

	assert_int_equal(cru_pool_begin(p, &err), 0);
	remove_region(p, "a");
	/* a's blocks are not free before the commit: the pool is full. */
	assert_int_equal(cru_pool_region_create(p, "c", 10 * BS, 0, NULL, &err),
			 -ENOSPC);
	cru_pool_get_info(p, &info);
	assert_int_equal(info.free_blocks, 0);
	assert_int_equal(info.generation, gen);
	assert_int_equal(cru_pool_commit(p, &err), 0);
	cru_pool_get_info(p, &info);
	assert_int_equal(info.generation, gen + 1);
	assert_int_equal(info.free_blocks, 100);
	r = create(p, "c", 10 * BS);
	assert_int_equal(r->extents[0].start, old.start);
	cru_pool_close(p);
}

/* ---- damage ------------------------------------------------------------------------ */

static void scribble(const char *path, uint64_t block, size_t off)
{
	uint8_t junk[16];

	memset(junk, 0xa5, sizeof(junk));
	test_pwrite(path, junk, sizeof(junk), (off_t)(block * BS + off));
}

/* A pool with regions a (spanning) and b, both bitmap copies in place. */
static void damaged_setup(struct pool_fixture *fx, struct cru_pool_info *info,
			  struct cru_pool_extent *ea)
{
	struct cru_pool *p;

	make_pool(fx, 300 * MiB, 16, info);
	p = test_pool_open(fx->path);
	*ea = create(p, "a", (info->bits_per_block + 100) * BS)->extents[0];
	create(p, "b", 50 * BS);
	cru_pool_close(p);
}

static void expect_regions_intact(struct cru_pool *p,
				  const struct cru_pool_extent *ea,
				  const struct cru_pool_info *info)
{
	struct cru_pool_info now;

	assert_non_null(cru_pool_region_find(p, "a"));
	assert_non_null(cru_pool_region_find(p, "b"));
	assert_false(cru_pool_block_free(p, ea->start));
	assert_false(cru_pool_block_free(p, ea->start + ea->len - 1));
	cru_pool_get_info(p, &now);
	assert_int_equal(now.free_blocks,
			 info->data_blocks - info->bits_per_block - 150);
}

static void a_damaged_primary_bitmap_falls_back_to_the_mirror(void **state)
{
	struct pool_fixture *fx = *state;
	struct cru_pool_info info;
	struct cru_pool_extent ea;
	struct cru_pool *p;

	damaged_setup(fx, &info, &ea);
	scribble(fx->path, info.bitmap_start, 100);
	scribble(fx->path, info.bitmap_start + 1, 3000);
	p = test_pool_open(fx->path);
	assert_int_equal(cru_pool_recovery(p)->primary_bad, 2);
	assert_int_equal(cru_pool_recovery(p)->mirror_bad, 0);
	assert_int_equal(cru_pool_recovery(p)->bitmap_rewritten, 2);
	assert_false(cru_pool_recovery(p)->bitmap_rebuilt);
	expect_regions_intact(p, &ea, &info);
	cru_pool_close(p);
	test_pool_bitmaps_equal(fx->path, &info, "after recovery");
	p = test_pool_open(fx->path);	/* repaired for good */
	expect_clean_recovery(p);
	cru_pool_close(p);
}

static void a_damaged_mirror_is_rewritten_from_the_primary(void **state)
{
	struct pool_fixture *fx = *state;
	struct cru_pool_info info;
	struct cru_pool_extent ea;
	struct cru_pool *p;

	damaged_setup(fx, &info, &ea);
	scribble(fx->path, info.mirror_start, 2000);
	p = test_pool_open(fx->path);
	assert_int_equal(cru_pool_recovery(p)->primary_bad, 0);
	assert_int_equal(cru_pool_recovery(p)->mirror_bad, 1);
	assert_int_equal(cru_pool_recovery(p)->bitmap_rewritten, 1);
	assert_false(cru_pool_recovery(p)->bitmap_rebuilt);
	expect_regions_intact(p, &ea, &info);
	cru_pool_close(p);
	test_pool_bitmaps_equal(fx->path, &info, "after recovery");
	p = test_pool_open(fx->path);	/* the mirror passes its checks again */
	expect_clean_recovery(p);
	cru_pool_close(p);
}

static void both_bitmap_copies_lost_are_rebuilt_from_the_region_table(void **state)
{
	struct pool_fixture *fx = *state;
	struct cru_pool_info info;
	struct cru_pool_extent ea;
	struct cru_pool *p;

	damaged_setup(fx, &info, &ea);
	scribble(fx->path, info.bitmap_start, 500);
	scribble(fx->path, info.mirror_start, 900);
	p = test_pool_open(fx->path);
	assert_true(cru_pool_recovery(p)->bitmap_rebuilt);
	expect_regions_intact(p, &ea, &info);
	cru_pool_close(p);
	test_pool_bitmaps_equal(fx->path, &info, "after recovery");
	p = test_pool_open(fx->path);
	expect_clean_recovery(p);
	cru_pool_close(p);
}

static void a_damaged_superblock_copy_falls_back_to_the_other(void **state)
{
	struct pool_fixture *fx = *state;
	struct cru_pool_info info;
	struct cru_pool_extent ea;
	struct cru_pool_open_opts ro = cru_pool_open_opts_default();
	struct cru_pool *p;
	struct cru_err err;
	int copy;

	damaged_setup(fx, &info, &ea);
	for (copy = 0; copy < 2; copy++) {
		scribble(fx->path, (uint64_t)copy, 60);
		/* Read-only: resolved in memory, nothing written. */
		ro.readonly = true;
		assert_int_equal(cru_pool_open(fx->path, &ro, &p, &err), 0);
		assert_true(cru_pool_recovery(p)->sb_repaired);
		expect_regions_intact(p, &ea, &info);
		cru_pool_close(p);
		p = test_pool_open(fx->path);
		assert_true(cru_pool_recovery(p)->sb_repaired);
		expect_regions_intact(p, &ea, &info);
		cru_pool_close(p);
		p = test_pool_open(fx->path);
		expect_clean_recovery(p);
		cru_pool_close(p);
	}
	/* Both copies: no pool can be trusted. */
	scribble(fx->path, 0, 60);
	scribble(fx->path, 1, 60);
	assert_int_equal(cru_pool_open(fx->path, NULL, &p, &err), -EUCLEAN);
	assert_contains(err.msg, "no usable pool superblock");
	assert_contains(err.msg, "bad checksum");
}

static void a_damaged_region_slot_is_reported(void **state)
{
	struct pool_fixture *fx = *state;
	struct cru_pool_info info;
	struct cru_pool_extent ea;
	struct cru_pool *p;
	struct cru_err err;

	damaged_setup(fx, &info, &ea);
	scribble(fx->path, info.region_table_start + 1, 300);
	assert_int_equal(cru_pool_open(fx->path, NULL, &p, &err), -EUCLEAN);
	assert_contains(err.msg, fx->path);
	assert_contains(err.msg, "region slot 1 is damaged");
}

static void not_a_pool_is_told_apart(void **state)
{
	struct pool_fixture *fx = *state;
	struct cru_pool_sb sb;
	struct cru_pool *p;
	struct cru_err err;
	struct cru_pool_info info;

	test_make_file(fx->path, 16 * MiB);
	assert_int_equal(cru_pool_open(fx->path, NULL, &p, &err), -EMEDIUMTYPE);
	assert_contains(err.msg, "no crucible pool");

	/* A newer format version is refused as such. */
	make_pool(fx, 16 * MiB, 4, &info);
	test_pread(fx->path, &sb, sizeof(sb), 0);
	sb.version = cpu_to_le32(2);
	sb.csum = cpu_to_le64(crucible_xxh64((uint8_t *)&sb + 8,
					     CRU_POOL_SB_SIZE - 8, CRU_POOL_SB_SEED));
	test_pwrite(fx->path, &sb, sizeof(sb), 0);
	test_pwrite(fx->path, &sb, sizeof(sb), BS);
	assert_int_equal(cru_pool_open(fx->path, NULL, &p, &err), -EPROTONOSUPPORT);
	assert_contains(err.msg, "format version 2");
}

/* ---- data: zeroing and discards ------------------------------------------------------ */

static void new_regions_read_as_zeros_and_freed_ones_are_discarded(void **state)
{
	struct pool_fixture *fx = *state;
	const struct cru_pool_region *r;
	struct cru_pool_info info;
	struct cru_pool *p;
	struct stat st;
	uint8_t *buf = malloc(MiB);
	uint64_t off;
	blkcnt_t before;
	size_t i, k;

	assert_non_null(buf);
	make_pool(fx, 64 * MiB, 8, &info);
	p = test_pool_open(fx->path);
	r = create(p, "a", 8 * MiB);
	off = r->extents[0].start * BS;
	memset(buf, 0x5a, MiB);
	for (i = 0; i < 8; i++)
		test_pwrite(fx->path, buf, MiB, (off_t)(off + i * MiB));
	assert_int_equal(stat(fx->path, &st), 0);
	before = st.st_blocks;
	remove_region(p, "a");
	cru_pool_close(p);	/* issues the queued discards */
	assert_int_equal(stat(fx->path, &st), 0);
	assert_true(st.st_blocks <= before - (blkcnt_t)(8 * MiB / 512));

	/* Garbage left in free space must not show through a new region. */
	for (i = 0; i < 8; i++)
		test_pwrite(fx->path, buf, MiB, (off_t)(off + i * MiB));
	p = test_pool_open(fx->path);
	r = create(p, "b", 8 * MiB);
	assert_int_equal(r->nr_extents, 1);
	assert_int_equal(r->extents[0].start * BS, off);
	for (k = 0; k < 8; k++) {
		test_pread(fx->path, buf, MiB, (off_t)(off + k * MiB));
		for (i = 0; i < MiB; i++)
			if (buf[i])
				fail_msg("byte %zu of the new region is %#x",
					 (size_t)(k * MiB + i), buf[i]);
	}
	cru_pool_close(p);
	free(buf);
}

/* ---- the registry ---------------------------------------------------------------------- */

static void the_registry_records_pools(void **state)
{
	struct pool_fixture *fx = *state;
	struct cru_pool_reg e = { 0 }, got, *v;
	struct cru_err err;
	char file[600];
	size_t n;

	snprintf(file, sizeof(file), "%s/etc/pools", fx->dir);
	assert_int_equal(cru_pool_registry_load(file, &v, &n, &err), 0);
	assert_int_equal(n, 0);
	strcpy(e.name, "p0");
	strcpy(e.path, "/dev/loop0");
	strcpy(e.uuid, "11111111-2222-4333-8444-555555555555");
	assert_int_equal(cru_pool_registry_add(file, &e, &err), 0);
	strcpy(e.name, "p1");
	strcpy(e.path, "/dev/loop1");
	assert_int_equal(cru_pool_registry_add(file, &e, &err), 0);
	assert_int_equal(cru_pool_registry_find(file, "p1", &got, &err), 0);
	assert_string_equal(got.path, "/dev/loop1");
	/* Another device under a name in use. */
	strcpy(e.path, "/dev/loop2");
	assert_int_equal(cru_pool_registry_add(file, &e, &err), -EEXIST);
	assert_contains(err.msg, "already registered at /dev/loop1");
	/* The same device again (pool init --force): replaced. */
	strcpy(e.name, "p9");
	strcpy(e.path, "/dev/loop0");
	assert_int_equal(cru_pool_registry_add(file, &e, &err), 0);
	assert_int_equal(cru_pool_registry_find(file, "p0", &got, &err), -ENOENT);
	assert_int_equal(cru_pool_registry_load(file, &v, &n, &err), 0);
	assert_int_equal(n, 2);
	free(v);
	assert_int_equal(cru_pool_registry_remove(file, "p1", &err), 0);
	assert_int_equal(cru_pool_registry_remove(file, "p1", &err), -ENOENT);
	assert_int_equal(cru_pool_registry_find(file, "p9", &got, &err), 0);

	setenv(CRU_POOL_REGISTRY_ENV, file, 1);
	assert_string_equal(cru_pool_registry_path(NULL), file);
	assert_string_equal(cru_pool_registry_path("/x"), "/x");
	unsetenv(CRU_POOL_REGISTRY_ENV);
	assert_string_equal(cru_pool_registry_path(NULL), "/etc/crucible/pools");
}

static void a_region_maps_to_linear_targets(void **state)
{
	struct cru_pool_extent ext[2] = { { 300, 10 }, { 1000, 5 } };
	struct cru_pool_region r = { .used = true, .nr_extents = 2,
				     .blocks = 15, .extents = ext };
	char *t;

	(void)state;
	assert_int_equal(cru_pool_dm_table(makedev(7, 3), 4096, &r, &t), 0);
	assert_string_equal(t, "0 80 linear 7:3 2400\n80 40 linear 7:3 8000");
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(new_pool_is_empty_and_aligned, setup, pool_fixture_teardown),
		cmocka_unit_test_setup_teardown(larger_block_size_is_honoured, setup, pool_fixture_teardown),
		cmocka_unit_test_setup_teardown(too_small_a_file_is_refused, setup, pool_fixture_teardown),
		cmocka_unit_test_setup_teardown(names_are_checked, setup, pool_fixture_teardown),
		cmocka_unit_test_setup_teardown(random_operations_match_a_model, setup, pool_fixture_teardown),
		cmocka_unit_test_setup_teardown(best_fit_takes_the_smallest_hole_that_fits, setup, pool_fixture_teardown),
		cmocka_unit_test_setup_teardown(fragmented_space_is_used_and_coalesces_when_freed, setup, pool_fixture_teardown),
		cmocka_unit_test_setup_teardown(a_full_pool_refuses_and_changes_nothing, setup, pool_fixture_teardown),
		cmocka_unit_test_setup_teardown(a_full_region_table_is_refused, setup, pool_fixture_teardown),
		cmocka_unit_test_setup_teardown(double_and_foreign_frees_are_refused, setup, pool_fixture_teardown),
		cmocka_unit_test_setup_teardown(blocks_freed_in_a_transaction_wait_for_its_commit, setup, pool_fixture_teardown),
		cmocka_unit_test_setup_teardown(a_damaged_primary_bitmap_falls_back_to_the_mirror, setup, pool_fixture_teardown),
		cmocka_unit_test_setup_teardown(a_damaged_mirror_is_rewritten_from_the_primary, setup, pool_fixture_teardown),
		cmocka_unit_test_setup_teardown(both_bitmap_copies_lost_are_rebuilt_from_the_region_table, setup, pool_fixture_teardown),
		cmocka_unit_test_setup_teardown(a_damaged_superblock_copy_falls_back_to_the_other, setup, pool_fixture_teardown),
		cmocka_unit_test_setup_teardown(a_damaged_region_slot_is_reported, setup, pool_fixture_teardown),
		cmocka_unit_test_setup_teardown(not_a_pool_is_told_apart, setup, pool_fixture_teardown),
		cmocka_unit_test_setup_teardown(new_regions_read_as_zeros_and_freed_ones_are_discarded, setup, pool_fixture_teardown),
		cmocka_unit_test_setup_teardown(the_registry_records_pools, setup, pool_fixture_teardown),
		cmocka_unit_test(a_region_maps_to_linear_targets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

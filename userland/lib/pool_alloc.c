// SPDX-License-Identifier: GPL-2.0
/*
 * The pool allocator's free-extent index: two treaps over the same nodes.
 */
#include "pool_alloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { BY_START, BY_LEN };

struct cru_xt {
	uint64_t start;
	uint64_t len;
	struct cru_xt *kid[2][2];	/* [tree][left, right] */
	uint32_t prio;
};

static bool xt_less(int t, const struct cru_xt *a, const struct cru_xt *b)
{
	if (t == BY_LEN && a->len != b->len)
		return a->len < b->len;
	return a->start < b->start;
}

/* Split @root into the nodes less than @key and the others. */
static void tr_split(int t, struct cru_xt *root, const struct cru_xt *key,
		     struct cru_xt **l, struct cru_xt **r)
{
	if (!root) {
		*l = *r = NULL;
	} else if (xt_less(t, root, key)) {
		tr_split(t, root->kid[t][1], key, &root->kid[t][1], r);
		*l = root;
	} else {
		tr_split(t, root->kid[t][0], key, l, &root->kid[t][0]);
		*r = root;
	}
}

static struct cru_xt *tr_merge(int t, struct cru_xt *a, struct cru_xt *b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	if (a->prio > b->prio) {
		a->kid[t][1] = tr_merge(t, a->kid[t][1], b);
		return a;
	}
	b->kid[t][0] = tr_merge(t, a, b->kid[t][0]);
	return b;
}

static void tr_insert(int t, struct cru_xt **root, struct cru_xt *n)
{
	struct cru_xt *l, *r;

	n->kid[t][0] = n->kid[t][1] = NULL;
	tr_split(t, *root, n, &l, &r);
	*root = tr_merge(t, tr_merge(t, l, n), r);
}

static void tr_remove(int t, struct cru_xt **root, struct cru_xt *n)
{
	struct cru_xt **p = root;

	while (*p != n)
		p = &(*p)->kid[t][xt_less(t, *p, n) ? 1 : 0];
	*p = tr_merge(t, n->kid[t][0], n->kid[t][1]);
}

/* The free extent with the greatest start <= @pos. */
static struct cru_xt *floor_start(const struct cru_alloc *a, uint64_t pos)
{
	struct cru_xt *n = a->by_start, *best = NULL;

	while (n) {
		if (n->start <= pos) {
			best = n;
			n = n->kid[BY_START][1];
		} else {
			n = n->kid[BY_START][0];
		}
	}
	return best;
}

/* The free extent with the least start >= @pos. */
static struct cru_xt *ceil_start(const struct cru_alloc *a, uint64_t pos)
{
	struct cru_xt *n = a->by_start, *best = NULL;

	while (n) {
		if (n->start >= pos) {
			best = n;
			n = n->kid[BY_START][0];
		} else {
			n = n->kid[BY_START][1];
		}
	}
	return best;
}

/* The smallest free extent of at least @len blocks (lowest start among equals). */
static struct cru_xt *ceil_len(const struct cru_alloc *a, uint64_t len)
{
	struct cru_xt *n = a->by_len, *best = NULL;

	while (n) {
		if (n->len >= len) {
			best = n;
			n = n->kid[BY_LEN][0];
		} else {
			n = n->kid[BY_LEN][1];
		}
	}
	return best;
}

/* The greatest extent in length order that is less than @x (all if NULL). */
static struct cru_xt *prev_len(const struct cru_alloc *a,
			       const struct cru_xt *x)
{
	struct cru_xt *n = a->by_len, *best = NULL;

	while (n) {
		if (!x || xt_less(BY_LEN, n, x)) {
			best = n;
			n = n->kid[BY_LEN][1];
		} else {
			n = n->kid[BY_LEN][0];
		}
	}
	return best;
}

static uint32_t next_prio(struct cru_alloc *a)
{
	/* xorshift64: treap priorities need only be well spread. */
	a->rng ^= a->rng << 13;
	a->rng ^= a->rng >> 7;
	a->rng ^= a->rng << 17;
	return (uint32_t)(a->rng >> 16);
}

static void xt_link(struct cru_alloc *a, struct cru_xt *n)
{
	tr_insert(BY_START, &a->by_start, n);
	tr_insert(BY_LEN, &a->by_len, n);
	a->nr_free_extents++;
}

static void xt_unlink(struct cru_alloc *a, struct cru_xt *n)
{
	tr_remove(BY_START, &a->by_start, n);
	tr_remove(BY_LEN, &a->by_len, n);
	a->nr_free_extents--;
}

static struct cru_xt *xt_new(struct cru_alloc *a, uint64_t start,
			     uint64_t len)
{
	struct cru_xt *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->start = start;
	n->len = len;
	n->prio = next_prio(a);
	return n;
}

static void free_tree(struct cru_xt *n)
{
	if (!n)
		return;
	free_tree(n->kid[BY_START][0]);
	free_tree(n->kid[BY_START][1]);
	free(n);
}

int cru_alloc_init(struct cru_alloc *a, uint64_t base, uint64_t nr,
		   uint32_t chunk_bits)
{
	uint64_t c;

	memset(a, 0, sizeof(*a));
	if (!chunk_bits)
		return -EINVAL;
	a->base = base;
	a->nr = nr;
	a->chunk_bits = chunk_bits;
	a->nr_chunks = (nr + chunk_bits - 1) / chunk_bits;
	a->rng = 0x9e3779b97f4a7c15ULL ^ base ^ (nr << 7);
	a->chunk_free = calloc(a->nr_chunks ? a->nr_chunks : 1, sizeof(uint32_t));
	a->chunk_first = calloc(a->nr_chunks ? a->nr_chunks : 1, sizeof(uint32_t));
	if (!a->chunk_free || !a->chunk_first) {
		cru_alloc_destroy(a);
		return -ENOMEM;
	}
	for (c = 0; c < a->nr_chunks; c++)
		a->chunk_first[c] = chunk_bits;
	return 0;
}

void cru_alloc_destroy(struct cru_alloc *a)
{
	free_tree(a->by_start);
	free(a->chunk_free);
	free(a->chunk_first);
	memset(a, 0, sizeof(*a));
}

/* The first free block at or after @pos, or UINT64_MAX. */
static uint64_t first_free_from(const struct cru_alloc *a, uint64_t pos)
{
	struct cru_xt *x = floor_start(a, pos);

	if (x && x->start + x->len > pos)
		return pos;
	x = ceil_start(a, pos);
	return x ? x->start : UINT64_MAX;
}

/* Update the chunk summary for [start, start+len) becoming free or not. */
static void chunks_update(struct cru_alloc *a, uint64_t start, uint64_t len,
			  bool freed)
{
	uint64_t off = start - a->base, end = off + len;
	uint64_t c = off / a->chunk_bits;

	for (; c * a->chunk_bits < end; c++) {
		uint64_t cs = c * a->chunk_bits;
		uint64_t ce = cs + a->chunk_bits;
		uint64_t lo = off > cs ? off : cs;
		uint64_t hi = end < ce ? end : ce;

		if (freed) {
			a->chunk_free[c] += (uint32_t)(hi - lo);
			if (lo - cs < a->chunk_first[c])
				a->chunk_first[c] = (uint32_t)(lo - cs);
		} else {
			a->chunk_free[c] -= (uint32_t)(hi - lo);
			if (a->chunk_first[c] >= lo - cs &&
			    a->chunk_first[c] < hi - cs) {
				uint64_t f = first_free_from(a, a->base + hi);

				a->chunk_first[c] = f - a->base < ce ?
					(uint32_t)(f - a->base - cs) :
					a->chunk_bits;
			}
		}
	}
}

int cru_alloc_add_free(struct cru_alloc *a, uint64_t start, uint64_t len)
{
	struct cru_xt *l, *r, *n;

	if (!len || start < a->base || start - a->base > a->nr ||
	    len > a->nr - (start - a->base))
		return -EINVAL;
	l = floor_start(a, start);
	if (l && l->start + l->len > start)
		return -EINVAL;
	r = ceil_start(a, start);
	if (r && r->start < start + len)
		return -EINVAL;
	if (l && l->start + l->len != start)
		l = NULL;
	if (r && r->start != start + len)
		r = NULL;

	if (l && r) {
		xt_unlink(a, l);
		xt_unlink(a, r);
		l->len += len + r->len;
		free(r);
		xt_link(a, l);
	} else if (l) {
		xt_unlink(a, l);
		l->len += len;
		xt_link(a, l);
	} else if (r) {
		xt_unlink(a, r);
		r->start = start;
		r->len += len;
		xt_link(a, r);
	} else {
		n = xt_new(a, start, len);
		if (!n)
			return -ENOMEM;
		xt_link(a, n);
	}
	a->free += len;
	chunks_update(a, start, len, true);
	return 0;
}

int cru_alloc_take(struct cru_alloc *a, uint64_t start, uint64_t len)
{
	struct cru_xt *x = floor_start(a, start), *tail;
	uint64_t xend;

	if (!len || !x || x->start + x->len < start + len ||
	    start + len < start)
		return -EINVAL;
	xend = x->start + x->len;
	/* Allocate the tail node first: failing then leaves nothing changed. */
	tail = NULL;
	if (x->start < start && start + len < xend) {
		tail = xt_new(a, start + len, xend - start - len);
		if (!tail)
			return -ENOMEM;
	}
	xt_unlink(a, x);
	if (x->start < start) {
		x->len = start - x->start;
		xt_link(a, x);
		if (tail)
			xt_link(a, tail);
	} else if (start + len < xend) {
		x->start = start + len;
		x->len = xend - x->start;
		xt_link(a, x);
	} else {
		free(x);
	}
	a->free -= len;
	chunks_update(a, start, len, false);
	return 0;
}

int cru_alloc_best_fit(struct cru_alloc *a, uint64_t blocks,
		       uint32_t max_extents, struct cru_pool_extent *out,
		       uint32_t *nr)
{
	const struct cru_xt *last = NULL, *c, *x;
	uint64_t need = blocks;
	uint32_t k = 0, i;
	int ret;

	*nr = 0;
	if (!blocks || blocks > a->free)
		return -ENOSPC;
	/* Plan without changing anything: whole extents, largest first. */
	while (need) {
		c = ceil_len(a, need);
		if (c && (!last || xt_less(BY_LEN, c, last))) {
			if (k == max_extents)
				return -E2BIG;
			out[k].start = c->start;
			out[k++].len = need;
			need = 0;
			break;
		}
		x = prev_len(a, last);
		if (!x)
			return -ENOSPC;
		if (k == max_extents)
			return -E2BIG;
		out[k].start = x->start;
		out[k++].len = x->len;
		need -= x->len;
		last = x;
	}
	for (i = 0; i < k; i++) {
		ret = cru_alloc_take(a, out[i].start, out[i].len);
		if (ret) {
			/* Only -ENOMEM can get here: give back what was taken. */
			while (i--)
				cru_alloc_add_free(a, out[i].start, out[i].len);
			return ret;
		}
	}
	*nr = k;
	return 0;
}

bool cru_alloc_is_free(const struct cru_alloc *a, uint64_t start,
		       uint64_t len)
{
	struct cru_xt *x = floor_start(a, start);

	return x && x->start + x->len >= start + len;
}

bool cru_alloc_is_allocated(const struct cru_alloc *a, uint64_t start,
			    uint64_t len)
{
	struct cru_xt *x;

	if (start < a->base || start - a->base > a->nr ||
	    len > a->nr - (start - a->base))
		return false;
	x = floor_start(a, start);
	if (x && x->start + x->len > start)
		return false;
	x = ceil_start(a, start);
	return !x || x->start >= start + len;
}

uint64_t cru_alloc_largest(const struct cru_alloc *a)
{
	const struct cru_xt *x = prev_len(a, NULL);

	return x ? x->len : 0;
}

uint64_t cru_alloc_count_free(const struct cru_alloc *a, uint64_t start,
			      uint64_t len)
{
	uint64_t end = start + len, n = 0;
	struct cru_xt *x = floor_start(a, start);

	if (!x || x->start + x->len <= start)
		x = ceil_start(a, start);
	while (x && x->start < end) {
		uint64_t lo = x->start > start ? x->start : start;
		uint64_t hi = x->start + x->len < end ? x->start + x->len : end;

		n += hi - lo;
		x = ceil_start(a, x->start + 1);
	}
	return n;
}

static void clear_bits(uint8_t *bits, uint64_t from, uint64_t to)
{
	while (from < to && (from & 7)) {
		bits[from >> 3] &= (uint8_t)~(1u << (from & 7));
		from++;
	}
	if (to - from >= 8) {
		memset(bits + (from >> 3), 0, (to - from) >> 3);
		from += (to - from) & ~7ULL;
	}
	while (from < to) {
		bits[from >> 3] &= (uint8_t)~(1u << (from & 7));
		from++;
	}
}

void cru_alloc_fill_bits(const struct cru_alloc *a, uint64_t first,
			 uint64_t nbits, uint8_t *bits)
{
	uint64_t end = first + nbits;
	struct cru_xt *x;

	memset(bits, 0xff, nbits / 8);
	if (nbits & 7)
		bits[nbits / 8] |= (uint8_t)((1u << (nbits & 7)) - 1);
	x = floor_start(a, first);
	if (!x || x->start + x->len <= first)
		x = ceil_start(a, first);
	while (x && x->start < end) {
		uint64_t lo = x->start > first ? x->start : first;
		uint64_t hi = x->start + x->len < end ? x->start + x->len : end;

		clear_bits(bits, lo - first, hi - first);
		x = ceil_start(a, x->start + 1);
	}
}

static int walk(const struct cru_xt *n,
		int (*fn)(const struct cru_pool_extent *, void *), void *arg)
{
	struct cru_pool_extent e;
	int ret;

	if (!n)
		return 0;
	ret = walk(n->kid[BY_START][0], fn, arg);
	if (ret)
		return ret;
	e.start = n->start;
	e.len = n->len;
	ret = fn(&e, arg);
	if (ret)
		return ret;
	return walk(n->kid[BY_START][1], fn, arg);
}

int cru_alloc_for_each_free(const struct cru_alloc *a,
			    int (*fn)(const struct cru_pool_extent *, void *),
			    void *arg)
{
	return walk(a->by_start, fn, arg);
}

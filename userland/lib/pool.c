// SPDX-License-Identifier: GPL-2.0
/*
 * Crucible pools: format, transactions and recovery.
 *
 * A transaction (generation G+1 on a pool committed at G) is written in
 * this order, with a flush after each step:
 *
 *   1. the intent log: for every operation, the region slot images before
 *      and after it;
 *   2. the primary bitmap blocks it changes, and the region slots;
 *   3. the mirror bitmap blocks;
 *   4. superblock copy 0, then copy 1: the transaction is committed.
 *
 * Everything written in 1-3 is stamped G+1.  On open, a valid intent of
 * generation G+1 is a transaction that did not commit: it is undone
 * (slots get their image from before; bits of each operation's extents
 * get their values from before, operations undone last first).  A bitmap
 * block is taken from the copy stamped at or below G (the committed one;
 * at most one copy is being written at any time, so one of them is whole),
 * or from the copy stamped G+1 with the undo applied.  A copy that fails
 * its checksum is replaced by the other.  Recovery writes only committed
 * images (stamped at or below G), so a crash during recovery is resolved
 * by running it again.
 */
#include "pool.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "blkprobe.h"
#include "legfmt.h"
#include "parse.h"

#define IO_BATCH_BLOCKS		256	/* bitmap blocks read or written at once */
#define DISCARD_BATCH_BYTES	(1ULL << 30)
#define DATA_ALIGN_MIN		(1U << 20)

struct txn_op {
	uint32_t type;
	uint32_t slot;
	struct cru_pool_region pre;
	struct cru_pool_region post;
};

struct extent_list {
	struct cru_pool_extent *v;
	size_t nr, cap;
	uint64_t blocks;
};

struct cru_pool {
	int fd;
	char path[4096];
	bool readonly;
	bool failed;
	struct cru_blkprobe probe;

	struct cru_pool_sb sb;		/* the committed superblock, as on disk */
	uint32_t bs;
	uint64_t seed;
	uint64_t generation;
	uint64_t total_blocks;
	uint64_t intent_start;
	uint32_t intent_blocks;
	uint32_t max_regions;
	uint64_t region_table_start;
	uint64_t bitmap_start;
	uint64_t mirror_start;
	uint64_t bitmap_blocks;
	uint64_t data_start;
	uint64_t data_blocks;
	uint32_t bpb;			/* bits per bitmap block */
	uint32_t max_extents;		/* per region */

	struct cru_pool_region *slots;
	struct cru_alloc alloc;

	bool in_txn;
	uint32_t nr_ops;
	struct txn_op ops[CRU_POOL_INTENT_OPS];
	struct extent_list pending;	/* freed in the open transaction */
	struct extent_list discard;	/* freed and committed, not yet discarded */
	bool can_discard;

	long crash_budget;
	bool torn;
	uint64_t writes;
	uint64_t discarded_bytes;
	uint64_t discards;
	struct cru_pool_recovery rec;
};

/* ---- names ---------------------------------------------------------- */

/* [A-Za-z0-9_.+], and '-' if @dash. */
static bool name_char_ok(char c, bool dash)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '+' ||
	       (dash && c == '-');
}

static bool name_chars_ok(const char *name, size_t max, bool dash)
{
	size_t len = strlen(name), i;

	if (!len || len > max || name[0] == '.' || name[0] == '-')
		return false;
	for (i = 0; i < len; i++)
		if (!name_char_ok(name[i], dash))
			return false;
	return true;
}

bool cru_pool_name_valid(const char *name)
{
	/* No '-': "crucible-pool-<pool>-<region>" must split one way only. */
	return name_chars_ok(name, CRU_POOL_NAME_LEN - 1, false);
}

bool cru_pool_region_name_valid(const char *name)
{
	return name_chars_ok(name, CRU_POOL_REGION_NAME_LEN - 1, true);
}

/* ---- regions in memory ---------------------------------------------- */

static void region_clear(struct cru_pool_region *r)
{
	free(r->extents);
	memset(r, 0, sizeof(*r));
}

static int region_copy(struct cru_pool_region *dst,
		       const struct cru_pool_region *src)
{
	*dst = *src;
	dst->extents = NULL;
	if (src->nr_extents) {
		dst->extents = malloc(src->nr_extents * sizeof(*dst->extents));
		if (!dst->extents)
			return -ENOMEM;
		memcpy(dst->extents, src->extents,
		       src->nr_extents * sizeof(*dst->extents));
	}
	return 0;
}

static void slots_free(struct cru_pool *p)
{
	uint32_t s;

	for (s = 0; p->slots && s < p->max_regions; s++)
		region_clear(&p->slots[s]);
	free(p->slots);
	p->slots = NULL;
}

static void free_slot_image(struct cru_pool_region *r, uint32_t slot,
			    uint64_t generation)
{
	memset(r, 0, sizeof(*r));
	r->slot = slot;
	r->generation = generation;
}

/* ---- checksums and encoding ----------------------------------------- */

static uint64_t block_csum(const struct cru_pool *p, const void *blk)
{
	return crucible_xxh64((const uint8_t *)blk + 8, p->bs - 8, p->seed);
}

static uint64_t sb_csum(const struct cru_pool_sb *sb)
{
	return crucible_xxh64((const uint8_t *)sb + 8, CRU_POOL_SB_SIZE - 8,
			      CRU_POOL_SB_SEED);
}

static uint64_t uuid_seed(const uint8_t uuid[16])
{
	uint64_t a, b;

	memcpy(&a, uuid, 8);
	memcpy(&b, uuid + 8, 8);
	return le64_to_cpu(a) ^ le64_to_cpu(b);
}

static void slot_encode(const struct cru_pool *p,
			const struct cru_pool_region *r, void *blk)
{
	struct cru_pool_region_disk *d = blk;
	uint32_t i;

	memset(blk, 0, p->bs);
	d->magic = cpu_to_le64(CRU_POOL_REGION_MAGIC);
	d->generation = cpu_to_le64(r->generation);
	d->slot = cpu_to_le32(r->slot);
	d->state = cpu_to_le32(r->used ? CRU_POOL_SLOT_USED : CRU_POOL_SLOT_FREE);
	if (r->used) {
		memcpy(d->uuid, r->uuid, sizeof(d->uuid));
		memcpy(d->name, r->name, sizeof(d->name));
		d->blocks = cpu_to_le64(r->blocks);
		d->created = cpu_to_le64(r->created);
		d->nr_extents = cpu_to_le32(r->nr_extents);
		for (i = 0; i < r->nr_extents; i++) {
			d->extents[i].start = cpu_to_le64(r->extents[i].start);
			d->extents[i].len = cpu_to_le64(r->extents[i].len);
		}
	}
	d->csum = cpu_to_le64(block_csum(p, blk));
}

/*
 * Decode slot image @blk expected at @slot.  Returns 0, or -EUCLEAN with
 * the reason when it fails a check.
 */
static int slot_decode(const struct cru_pool *p, const void *blk,
		       uint32_t slot, struct cru_pool_region *r,
		       struct cru_err *err)
{
	const struct cru_pool_region_disk *d = blk;
	uint64_t sum = 0, end;
	uint32_t i, n;

	memset(r, 0, sizeof(*r));
	if (le64_to_cpu(d->magic) != CRU_POOL_REGION_MAGIC ||
	    le64_to_cpu(d->csum) != block_csum(p, blk))
		return cru_err_set(err, -EUCLEAN, "region slot %u: bad checksum",
				   slot);
	if (le32_to_cpu(d->slot) != slot)
		return cru_err_set(err, -EUCLEAN,
				   "region slot %u: holds the image of slot %u",
				   slot, le32_to_cpu(d->slot));
	r->slot = slot;
	r->generation = le64_to_cpu(d->generation);
	if (le32_to_cpu(d->state) == CRU_POOL_SLOT_FREE)
		return 0;
	if (le32_to_cpu(d->state) != CRU_POOL_SLOT_USED)
		return cru_err_set(err, -EUCLEAN, "region slot %u: state %u",
				   slot, le32_to_cpu(d->state));
	n = le32_to_cpu(d->nr_extents);
	if (!n || n > p->max_extents || d->name[CRU_POOL_REGION_NAME_LEN - 1])
		return cru_err_set(err, -EUCLEAN,
				   "region slot %u: impossible fields", slot);
	r->extents = malloc(n * sizeof(*r->extents));
	if (!r->extents)
		return cru_err_set(err, -ENOMEM, "out of memory");
	end = p->data_start + p->data_blocks;
	for (i = 0; i < n; i++) {
		r->extents[i].start = le64_to_cpu(d->extents[i].start);
		r->extents[i].len = le64_to_cpu(d->extents[i].len);
		if (!r->extents[i].len || r->extents[i].start < p->data_start ||
		    r->extents[i].start >= end ||
		    r->extents[i].len > end - r->extents[i].start) {
			region_clear(r);
			return cru_err_set(err, -EUCLEAN,
					   "region slot %u: extent %u lies outside the data area",
					   slot, i);
		}
		sum += r->extents[i].len;
	}
	r->used = true;
	r->nr_extents = n;
	memcpy(r->uuid, d->uuid, sizeof(r->uuid));
	memcpy(r->name, d->name, sizeof(r->name));
	r->blocks = le64_to_cpu(d->blocks);
	r->created = le64_to_cpu(d->created);
	if (sum != r->blocks || !cru_pool_region_name_valid(r->name)) {
		region_clear(r);
		return cru_err_set(err, -EUCLEAN,
				   "region slot %u: impossible fields", slot);
	}
	return 0;
}

static void sb_seal(struct cru_pool_sb *sb, uint32_t copy, uint64_t generation)
{
	sb->copy = cpu_to_le32(copy);
	sb->generation = cpu_to_le64(generation);
	sb->csum = cpu_to_le64(sb_csum(sb));
}

/* ---- I/O ------------------------------------------------------------- */

static int pool_fail(struct cru_pool *p, int ret, struct cru_err *err,
		     const char *what)
{
	p->failed = true;
	return cru_err_set(err, ret,
			   "%s: %s: %s (the pool is left as it was committed; open it again to resolve the interrupted transaction)",
			   p->path, what, strerror(-ret));
}

/* How many of @left blocks to read or write in one go. */
static uint64_t io_batch(uint64_t left)
{
	return left < IO_BATCH_BLOCKS ? left : IO_BATCH_BLOCKS;
}

/*
 * Every write of the pool goes through here, so that tests can stop the
 * pool after any one of them, as a crash would.
 */
static bool crash_point(struct cru_pool *p, const void *buf, size_t len,
			uint64_t off)
{
	if (p->crash_budget < 0)
		return false;
	if (p->crash_budget > 0) {
		p->crash_budget--;
		return false;
	}
	if (p->torn && buf && len >= 1024)
		cru_pwrite_all(p->fd, buf, (len / 2) & ~511UL, off);
	p->failed = true;
	return true;
}

static int pool_write(struct cru_pool *p, const void *buf, size_t len,
		      uint64_t block)
{
	uint64_t off = block * p->bs;

	if (p->failed || crash_point(p, buf, len, off))
		return -EIO;
	p->writes++;
	return cru_pwrite_all(p->fd, buf, len, off);
}

static int pool_sync(struct cru_pool *p)
{
	if (p->failed)
		return -EIO;
	return fsync(p->fd) ? -errno : 0;
}

static int pool_read(struct cru_pool *p, void *buf, size_t len,
		     uint64_t block)
{
	return cru_pread_all(p->fd, buf, len, block * p->bs);
}

/* Zero blocks [start, start+len) of the data area: a new region is a blank leg. */
static int zero_range(struct cru_pool *p, uint64_t start, uint64_t len)
{
	uint64_t off = start * p->bs;

	if (p->failed || crash_point(p, NULL, 0, off))
		return -EIO;
	p->writes++;
	return cru_zero_range(p->fd, p->probe.is_bdev, off, len * p->bs, true);
}

/* ---- extent lists ------------------------------------------------------ */

static int xl_add(struct extent_list *l, uint64_t start, uint64_t len)
{
	if (l->nr == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct cru_pool_extent *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->nr].start = start;
	l->v[l->nr++].len = len;
	l->blocks += len;
	return 0;
}

static void xl_free(struct extent_list *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* Take [start, start+len) out of every extent of @l. */
static int xl_subtract(struct extent_list *l, uint64_t start, uint64_t len)
{
	uint64_t end = start + len;
	size_t i, n = l->nr;

	for (i = 0; i < n; i++) {
		struct cru_pool_extent *e = &l->v[i];
		uint64_t eend = e->start + e->len;

		if (eend <= start || e->start >= end)
			continue;
		if (e->start < start && eend > end) {
			uint64_t tail = eend - end;

			e->len = start - e->start;
			l->blocks -= len;
			if (xl_add(l, end, tail))
				return -ENOMEM;
			l->blocks -= tail;	/* xl_add counted it again */
			continue;
		}
		if (e->start < start) {
			l->blocks -= eend - start;
			e->len = start - e->start;
		} else if (eend > end) {
			l->blocks -= end - e->start;
			e->len = eend - end;
			e->start = end;
		} else {
			l->blocks -= e->len;
			e->len = 0;
		}
	}
	/* Drop the emptied ones. */
	for (i = n = 0; i < l->nr; i++)
		if (l->v[i].len)
			l->v[n++] = l->v[i];
	l->nr = n;
	return 0;
}

static int extent_cmp(const void *a, const void *b)
{
	const struct cru_pool_extent *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* ---- discards ------------------------------------------------------------ */

int cru_pool_discard_flush(struct cru_pool *p, struct cru_err *err)
{
	size_t i, n;
	int ret = 0;

	if (!p->discard.nr)
		return 0;
	if (p->failed || !p->can_discard) {
		xl_free(&p->discard);
		return 0;
	}
	qsort(p->discard.v, p->discard.nr, sizeof(*p->discard.v), extent_cmp);
	for (i = n = 0; i < p->discard.nr; i++) {
		if (n && p->discard.v[n - 1].start + p->discard.v[n - 1].len ==
			 p->discard.v[i].start)
			p->discard.v[n - 1].len += p->discard.v[i].len;
		else
			p->discard.v[n++] = p->discard.v[i];
	}
	for (i = 0; i < n && !ret; i++) {
		uint64_t off = p->discard.v[i].start * p->bs;
		uint64_t bytes = p->discard.v[i].len * p->bs;
		uint64_t range[2] = { off, bytes };
		int r;

		if (p->probe.is_bdev)
			r = ioctl(p->fd, BLKDISCARD, range) ? -errno : 0;
		else
			r = fallocate(p->fd, FALLOC_FL_PUNCH_HOLE |
				      FALLOC_FL_KEEP_SIZE, (off_t)off,
				      (off_t)bytes) ? -errno : 0;
		if (r == -EOPNOTSUPP || r == -ENOTTY) {
			/* Discard is advice: stop asking a device that cannot. */
			p->can_discard = false;
			break;
		}
		if (r) {
			ret = cru_err_set(err, r, "%s: discard of blocks %llu+%llu failed: %s",
					  p->path,
					  (unsigned long long)p->discard.v[i].start,
					  (unsigned long long)p->discard.v[i].len,
					  strerror(-r));
			break;
		}
		p->discards++;
		p->discarded_bytes += bytes;
	}
	xl_free(&p->discard);
	return ret;
}

/* ---- bitmap blocks ------------------------------------------------------- */

static uint64_t nr_chunks(const struct cru_pool *p)
{
	return (p->data_blocks + p->bpb - 1) / p->bpb;
}

static uint64_t chunk_bits(const struct cru_pool *p, uint64_t c)
{
	uint64_t left = p->data_blocks - c * p->bpb;

	return left < p->bpb ? left : p->bpb;
}

static void bit_assign(uint8_t *bits, uint64_t i, bool set)
{
	if (set)
		bits[i >> 3] |= (uint8_t)(1u << (i & 7));
	else
		bits[i >> 3] &= (uint8_t)~(1u << (i & 7));
}

static void bits_assign(uint8_t *bits, uint64_t from, uint64_t to, bool set)
{
	for (; from < to && (from & 7); from++)
		bit_assign(bits, from, set);
	if (to > from + 8) {
		memset(bits + (from >> 3), set ? 0xff : 0, (to - from) >> 3);
		from += (to - from) & ~7ULL;
	}
	for (; from < to; from++)
		bit_assign(bits, from, set);
}

/* Assign @set to the bits of chunk @c that [start, start+len) covers. */
static void chunk_assign(const struct cru_pool *p, uint8_t *bits, uint64_t c,
			 uint64_t start, uint64_t len, bool set)
{
	uint64_t cs = p->data_start + c * p->bpb, ce = cs + chunk_bits(p, c);
	uint64_t lo = start > cs ? start : cs;
	uint64_t hi = start + len < ce ? start + len : ce;

	if (lo < hi)
		bits_assign(bits, lo - cs, hi - cs, set);
}

/* The image of bitmap block @c as the allocator (less pending frees) has it. */
static void chunk_build(const struct cru_pool *p, uint64_t c, uint32_t copy,
			uint64_t generation, uint8_t *blk)
{
	struct cru_pool_bitmap_hdr *h = (void *)blk;
	uint8_t *bits = blk + CRU_POOL_BITMAP_HDR;
	size_t i;

	memset(blk, 0, p->bs);
	cru_alloc_fill_bits(&p->alloc, p->data_start + c * p->bpb,
			    chunk_bits(p, c), bits);
	for (i = 0; i < p->pending.nr; i++)
		chunk_assign(p, bits, c, p->pending.v[i].start,
			     p->pending.v[i].len, false);
	h->magic = cpu_to_le64(CRU_POOL_BITMAP_MAGIC);
	h->generation = cpu_to_le64(generation);
	h->index = cpu_to_le64(c);
	h->copy = cpu_to_le32(copy);
	h->csum = cpu_to_le64(block_csum(p, blk));
}

static bool chunk_valid(const struct cru_pool *p, const uint8_t *blk,
			uint64_t c, uint32_t copy)
{
	const struct cru_pool_bitmap_hdr *h = (const void *)blk;

	return le64_to_cpu(h->magic) == CRU_POOL_BITMAP_MAGIC &&
	       le64_to_cpu(h->csum) == block_csum(p, blk) &&
	       le64_to_cpu(h->index) == c && le32_to_cpu(h->copy) == copy;
}

/* Write bitmap blocks @chunks[0..n) of copy @copy, contiguous runs at once. */
static int chunks_write(struct cru_pool *p, const uint64_t *chunks, size_t n,
			uint32_t copy, uint64_t generation, uint8_t *buf)
{
	uint64_t area = copy ? p->mirror_start : p->bitmap_start;
	size_t i = 0, k;
	int ret;

	while (i < n) {
		for (k = 0; i + k < n && k < IO_BATCH_BLOCKS &&
			    chunks[i + k] == chunks[i] + k; k++)
			chunk_build(p, chunks[i + k], copy, generation,
				    buf + k * p->bs);
		ret = pool_write(p, buf, k * p->bs, area + chunks[i]);
		if (ret)
			return ret;
		i += k;
	}
	return 0;
}

/* ---- superblocks ---------------------------------------------------------- */

static int sb_write(struct cru_pool *p, uint32_t copy, uint64_t generation,
		    uint8_t *buf)
{
	struct cru_pool_sb sb = p->sb;

	sb_seal(&sb, copy, generation);
	memset(buf, 0, p->bs);
	memcpy(buf, &sb, sizeof(sb));
	return pool_write(p, buf, p->bs, copy);
}

static int intent_clear(struct cru_pool *p, uint8_t *buf)
{
	struct cru_pool_intent_hdr *h = (void *)buf;

	memset(buf, 0, p->bs);
	h->magic = cpu_to_le64(CRU_POOL_INTENT_MAGIC);
	h->generation = cpu_to_le64(p->generation);
	h->csum = cpu_to_le64(block_csum(p, buf));
	return pool_write(p, buf, p->bs, p->intent_start);
}

/* ---- transactions ----------------------------------------------------------- */

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int add_chunks(const struct cru_pool *p, const struct cru_pool_region *r,
		      uint64_t **v, size_t *n, size_t *cap)
{
	uint32_t i;
	uint64_t c, last;

	for (i = 0; i < r->nr_extents; i++) {
		c = (r->extents[i].start - p->data_start) / p->bpb;
		last = (r->extents[i].start + r->extents[i].len - 1 -
			p->data_start) / p->bpb;
		for (; c <= last; c++) {
			if (*n == *cap) {
				size_t nc = *cap ? 2 * *cap : 64;
				uint64_t *nv = realloc(*v, nc * sizeof(*nv));

				if (!nv)
					return -ENOMEM;
				*v = nv;
				*cap = nc;
			}
			(*v)[(*n)++] = c;
		}
	}
	return 0;
}

/* The bitmap blocks the open transaction changes, sorted, each once. */
static int txn_chunks(const struct cru_pool *p, uint64_t **out, size_t *nr)
{
	uint64_t *v = NULL;
	size_t n = 0, cap = 0, i, k;
	int ret = 0;

	for (i = 0; i < p->nr_ops && !ret; i++) {
		ret = add_chunks(p, &p->ops[i].pre, &v, &n, &cap);
		if (!ret)
			ret = add_chunks(p, &p->ops[i].post, &v, &n, &cap);
	}
	if (ret) {
		free(v);
		return ret;
	}
	if (n)
		qsort(v, n, sizeof(*v), u64_cmp);
	for (i = k = 0; i < n; i++)
		if (!k || v[k - 1] != v[i])
			v[k++] = v[i];
	*out = v;
	*nr = k;
	return 0;
}

static void ops_clear(struct txn_op *ops, uint32_t nr)
{
	uint32_t i;

	for (i = 0; i < nr; i++) {
		region_clear(&ops[i].pre);
		region_clear(&ops[i].post);
	}
}

static void txn_reset(struct cru_pool *p)
{
	ops_clear(p->ops, p->nr_ops);
	p->nr_ops = 0;
	xl_free(&p->pending);
}

static int txn_commit(struct cru_pool *p, struct cru_err *err)
{
	uint64_t g = p->generation + 1, *chunks = NULL;
	struct cru_pool_intent_hdr *h;
	size_t nr_chunks_tx = 0, bufsz, i;
	uint8_t *buf;
	int ret;

	if (!p->nr_ops)
		return 0;
	bufsz = (size_t)(IO_BATCH_BLOCKS > CRU_POOL_INTENT_BLOCKS ?
			 IO_BATCH_BLOCKS : CRU_POOL_INTENT_BLOCKS) * p->bs;
	buf = aligned_alloc(4096, bufsz);
	if (!buf || txn_chunks(p, &chunks, &nr_chunks_tx)) {
		free(buf);
		return pool_fail(p, -ENOMEM, err, "cannot commit");
	}

	/* 1. The intent: slot images before and after each operation. */
	memset(buf, 0, (size_t)(1 + 2 * p->nr_ops) * p->bs);
	h = (void *)buf;
	h->magic = cpu_to_le64(CRU_POOL_INTENT_MAGIC);
	h->generation = cpu_to_le64(g);
	h->nr_ops = cpu_to_le32(p->nr_ops);
	for (i = 0; i < p->nr_ops; i++) {
		struct txn_op *op = &p->ops[i];
		uint8_t *pre = buf + (1 + 2 * i) * p->bs;
		uint8_t *post = pre + p->bs;

		op->post.generation = g;
		slot_encode(p, &op->pre, pre);
		slot_encode(p, &op->post, post);
		h->ops[i].slot = cpu_to_le32(op->slot);
		h->ops[i].type = cpu_to_le32(op->type);
		h->ops[i].pre_csum = ((struct cru_pool_region_disk *)pre)->csum;
		h->ops[i].post_csum = ((struct cru_pool_region_disk *)post)->csum;
	}
	h->csum = cpu_to_le64(block_csum(p, buf));
	ret = pool_write(p, buf, (size_t)(1 + 2 * p->nr_ops) * p->bs,
			 p->intent_start);
	if (!ret)
		ret = pool_sync(p);
	if (ret)
		goto fail;

	/* 2. Primary bitmap and region slots. */
	ret = chunks_write(p, chunks, nr_chunks_tx, 0, g, buf);
	for (i = 0; i < p->nr_ops && !ret; i++) {
		slot_encode(p, &p->ops[i].post, buf);
		ret = pool_write(p, buf, p->bs,
				 p->region_table_start + p->ops[i].slot);
	}
	if (!ret)
		ret = pool_sync(p);
	/* 3. Mirror bitmap, once the primary is durable. */
	if (!ret)
		ret = chunks_write(p, chunks, nr_chunks_tx, 1, g, buf);
	if (!ret)
		ret = pool_sync(p);
	/* 4. Commit: superblock copies one after the other. */
	if (!ret)
		ret = sb_write(p, 0, g, buf);
	if (!ret)
		ret = pool_sync(p);
	if (!ret)
		ret = sb_write(p, 1, g, buf);
	if (!ret)
		ret = pool_sync(p);
	if (ret)
		goto fail;

	p->generation = g;
	p->sb.generation = cpu_to_le64(g);
	for (i = 0; i < p->nr_ops; i++)
		p->slots[p->ops[i].slot].generation = g;
	/* Only now may the freed blocks be allocated again, or discarded. */
	for (i = 0; i < p->pending.nr; i++) {
		ret = cru_alloc_add_free(&p->alloc, p->pending.v[i].start,
					 p->pending.v[i].len);
		if (!ret && p->can_discard)
			ret = xl_add(&p->discard, p->pending.v[i].start,
				     p->pending.v[i].len);
		if (ret) {
			ret = pool_fail(p, ret, err, "after commit");
			goto out;
		}
	}
	txn_reset(p);
	if (p->discard.blocks * p->bs >= DISCARD_BATCH_BYTES) {
		struct cru_err derr;

		if (cru_pool_discard_flush(p, &derr))
			log_warn("%s", derr.msg);
	}
	ret = 0;
	goto out;
fail:
	ret = pool_fail(p, ret, err, "cannot commit a transaction");
out:
	free(chunks);
	free(buf);
	return ret;
}

static int usable(struct cru_pool *p, struct cru_err *err)
{
	if (p->failed)
		return cru_err_set(err, -EIO,
				   "%s: an earlier write failed; open the pool again",
				   p->path);
	if (p->readonly)
		return cru_err_set(err, -EROFS, "%s: the pool is open read-only",
				   p->path);
	return 0;
}

int cru_pool_begin(struct cru_pool *p, struct cru_err *err)
{
	int ret = usable(p, err);

	if (ret)
		return ret;
	if (p->in_txn)
		return cru_err_set(err, -EBUSY, "%s: a transaction is already open",
				   p->path);
	p->in_txn = true;
	return 0;
}

int cru_pool_commit(struct cru_pool *p, struct cru_err *err)
{
	int ret = usable(p, err);

	if (ret)
		return ret;
	p->in_txn = false;
	return txn_commit(p, err);
}

/* Room for one more operation: a full open transaction commits first. */
static int txn_room(struct cru_pool *p, struct cru_err *err)
{
	if (p->nr_ops < CRU_POOL_INTENT_OPS)
		return 0;
	return txn_commit(p, err);
}

static int txn_done(struct cru_pool *p, struct cru_err *err)
{
	return p->in_txn ? 0 : txn_commit(p, err);
}

/* The next operation of the transaction (txn_room made room for it). */
static struct txn_op *txn_op_new(struct cru_pool *p, uint32_t type,
				 uint32_t slot)
{
	struct txn_op *op = &p->ops[p->nr_ops];

	memset(op, 0, sizeof(*op));
	op->type = type;
	op->slot = slot;
	return op;
}

/* ---- region operations -------------------------------------------------------- */

const struct cru_pool_region *cru_pool_region_find(const struct cru_pool *p,
						   const char *name)
{
	uint32_t i;

	for (i = 0; i < p->max_regions; i++)
		if (p->slots[i].used && !strcmp(p->slots[i].name, name))
			return &p->slots[i];
	return NULL;
}

const struct cru_pool_region *cru_pool_region_slot(const struct cru_pool *p,
						   uint32_t slot)
{
	if (slot >= p->max_regions || !p->slots[slot].used)
		return NULL;
	return &p->slots[slot];
}

static int random_uuid(uint8_t uuid[16])
{
	if (getrandom(uuid, 16, 0) != 16)
		return -errno;
	uuid[6] = (uuid[6] & 0x0f) | 0x40;
	uuid[8] = (uuid[8] & 0x3f) | 0x80;
	return 0;
}

static void size_words(const struct cru_pool *p, uint64_t blocks, char *buf,
		       size_t len)
{
	cru_format_size(blocks * p->bs, buf, len);
}

int cru_pool_region_create(struct cru_pool *p, const char *name,
			   uint64_t bytes, unsigned int flags,
			   const struct cru_pool_region **out,
			   struct cru_err *err)
{
	struct cru_pool_region r, *slot = NULL;
	struct cru_pool_extent *ext;
	char auto_name[16], need[32], have[32], big[32];
	uint64_t blocks;
	uint32_t i, n;
	struct txn_op *op;
	int ret;

	ret = usable(p, err);
	if (ret)
		return ret;
	if (!name) {
		for (i = 0; i <= p->max_regions; i++) {
			snprintf(auto_name, sizeof(auto_name), "r%u", i);
			if (!cru_pool_region_find(p, auto_name))
				break;
		}
		name = auto_name;
	}
	if (!cru_pool_region_name_valid(name))
		return cru_err_set(err, -EINVAL,
				   "'%s' is not a valid region name (1 to %d of A-Z a-z 0-9 _ . + -, not starting with . or -)",
				   name, CRU_POOL_REGION_NAME_LEN - 1);
	if (cru_pool_region_find(p, name))
		return cru_err_set(err, -EEXIST, "pool %s: region %s already exists",
				   p->sb.name, name);
	if (!bytes)
		return cru_err_set(err, -EINVAL, "region %s: size 0", name);
	blocks = bytes / p->bs + !!(bytes % p->bs);
	for (i = 0; i < p->max_regions && !slot; i++)
		if (!p->slots[i].used)
			slot = &p->slots[i];
	if (!slot)
		return cru_err_set(err, -ENOSPC,
				   "pool %s: the region table is full (%u regions)",
				   p->sb.name, p->max_regions);
	ret = txn_room(p, err);
	if (ret)
		return ret;

	ext = calloc(p->max_extents, sizeof(*ext));
	if (!ext)
		return cru_err_set(err, -ENOMEM, "out of memory");
	ret = cru_alloc_best_fit(&p->alloc, blocks, p->max_extents, ext, &n);
	if (ret) {
		size_words(p, blocks, need, sizeof(need));
		size_words(p, p->alloc.free, have, sizeof(have));
		size_words(p, cru_alloc_largest(&p->alloc), big, sizeof(big));
		free(ext);
		if (ret == -ENOSPC)
			return cru_err_set(err, ret,
					   "pool %s: not enough free space for region %s: %s needed, %s free",
					   p->sb.name, name, need, have);
		if (ret == -E2BIG)
			return cru_err_set(err, ret,
					   "pool %s: free space too fragmented for region %s: %s would need more than %u extents (largest free extent %s)",
					   p->sb.name, name, need, p->max_extents, big);
		return cru_err_set(err, ret, "pool %s: %s", p->sb.name,
				   strerror(-ret));
	}
	for (i = 0; i < n && !(flags & CRU_POOL_NOZERO); i++) {
		ret = zero_range(p, ext[i].start, ext[i].len);
		if (ret) {
			while (n--)
				cru_alloc_add_free(&p->alloc, ext[n].start,
						   ext[n].len);
			free(ext);
			return pool_fail(p, ret, err, "cannot zero the new region");
		}
	}
	/* Blocks queued for discard are someone's again: never discard them. */
	for (i = 0; i < n; i++)
		if (xl_subtract(&p->discard, ext[i].start, ext[i].len))
			xl_free(&p->discard);

	memset(&r, 0, sizeof(r));
	r.used = true;
	r.slot = (uint32_t)(slot - p->slots);
	r.generation = p->generation + 1;
	snprintf(r.name, sizeof(r.name), "%s", name);
	r.blocks = blocks;
	r.created = (uint64_t)time(NULL);
	r.nr_extents = n;
	r.extents = ext;
	ret = random_uuid(r.uuid);
	op = txn_op_new(p, CRU_POOL_OP_CREATE, r.slot);
	free_slot_image(&op->pre, r.slot, slot->generation);
	if (!ret)
		ret = region_copy(&op->post, &r);
	if (ret) {
		region_clear(&r);
		return pool_fail(p, ret, err, "cannot create a region");
	}
	p->nr_ops++;
	region_clear(slot);
	*slot = r;
	ret = txn_done(p, err);
	if (!ret && out)
		*out = slot;
	return ret;
}

/* Region @name of a pool that can be changed, for remove and free_extent. */
static int region_to_change(struct cru_pool *p, const char *name,
			    struct cru_pool_region **r, struct cru_err *err)
{
	int ret = usable(p, err);

	if (ret)
		return ret;
	*r = (struct cru_pool_region *)cru_pool_region_find(p, name);
	if (!*r)
		return cru_err_set(err, -ENOENT, "pool %s: no region named %s",
				   p->sb.name, name);
	return 0;
}

int cru_pool_region_remove(struct cru_pool *p, const char *name,
			   struct cru_err *err)
{
	struct cru_pool_region *r;
	struct txn_op *op;
	uint32_t i;
	int ret;

	ret = region_to_change(p, name, &r, err);
	if (ret)
		return ret;
	ret = txn_room(p, err);
	if (ret)
		return ret;
	op = txn_op_new(p, CRU_POOL_OP_REMOVE, r->slot);
	ret = region_copy(&op->pre, r);
	free_slot_image(&op->post, r->slot, p->generation + 1);
	for (i = 0; i < r->nr_extents && !ret; i++)
		ret = xl_add(&p->pending, r->extents[i].start, r->extents[i].len);
	if (ret)
		return pool_fail(p, ret, err, "cannot remove a region");
	p->nr_ops++;
	i = r->slot;
	region_clear(r);
	free_slot_image(r, i, p->generation + 1);
	return txn_done(p, err);
}

/* Who holds block @b, for an error message. */
static void block_owner(const struct cru_pool *p, uint64_t b, char *buf,
			size_t len)
{
	uint32_t s, i;

	for (i = 0; i < p->pending.nr; i++)
		if (b >= p->pending.v[i].start &&
		    b < p->pending.v[i].start + p->pending.v[i].len) {
			snprintf(buf, len, "it was freed in this transaction");
			return;
		}
	for (s = 0; s < p->max_regions; s++) {
		const struct cru_pool_region *r = &p->slots[s];

		for (i = 0; r->used && i < r->nr_extents; i++)
			if (b >= r->extents[i].start &&
			    b < r->extents[i].start + r->extents[i].len) {
				snprintf(buf, len, "block %llu belongs to region %s",
					 (unsigned long long)b, r->name);
				return;
			}
	}
	if (b < p->data_start || b >= p->data_start + p->data_blocks)
		snprintf(buf, len, "block %llu is outside the data area (%llu to %llu)",
			 (unsigned long long)b,
			 (unsigned long long)p->data_start,
			 (unsigned long long)(p->data_start + p->data_blocks - 1));
	else
		snprintf(buf, len, "block %llu is free", (unsigned long long)b);
}

int cru_pool_free_extent(struct cru_pool *p, const char *name, uint64_t start,
			 uint64_t len, struct cru_err *err)
{
	struct cru_pool_region *r, post;
	struct cru_pool_extent *e;
	char why[128];
	struct txn_op *op;
	uint32_t i, k, n;
	int ret;

	ret = region_to_change(p, name, &r, err);
	if (ret)
		return ret;
	for (i = 0; i < r->nr_extents; i++)
		if (len && start >= r->extents[i].start &&
		    start + len <= r->extents[i].start + r->extents[i].len &&
		    start + len > start)
			break;
	if (i == r->nr_extents) {
		uint64_t b;

		/* Name the first block that is not the region's. */
		for (b = start; b < start + len; b++) {
			uint32_t j;
			bool mine = false;

			for (j = 0; j < r->nr_extents && !mine; j++)
				mine = b >= r->extents[j].start &&
				       b < r->extents[j].start + r->extents[j].len;
			if (!mine)
				break;
		}
		if (!len)
			snprintf(why, sizeof(why), "it is empty");
		else if (b == start + len)
			snprintf(why, sizeof(why), "it spans two of its extents");
		else
			block_owner(p, b, why, sizeof(why));
		return cru_err_set(err, -EINVAL,
				   "pool %s: blocks %llu+%llu are not an extent of region %s: %s",
				   p->sb.name, (unsigned long long)start,
				   (unsigned long long)len, name, why);
	}
	if (len == r->blocks)
		return cru_err_set(err, -EINVAL,
				   "pool %s: blocks %llu+%llu are all of region %s: remove the region instead",
				   p->sb.name, (unsigned long long)start,
				   (unsigned long long)len, name);
	e = &r->extents[i];
	n = r->nr_extents - 1 + (start > e->start) +
	    (start + len < e->start + e->len);
	if (n > p->max_extents)
		return cru_err_set(err, -E2BIG,
				   "pool %s: region %s would have more than %u extents",
				   p->sb.name, name, p->max_extents);
	ret = txn_room(p, err);
	if (ret)
		return ret;

	post = *r;
	post.extents = malloc(n * sizeof(*post.extents));
	if (!post.extents)
		return pool_fail(p, -ENOMEM, err, "cannot free an extent");
	for (k = 0, i = 0; i < r->nr_extents; i++) {
		const struct cru_pool_extent *x = &r->extents[i];

		if (x != e) {
			post.extents[k++] = *x;
			continue;
		}
		if (start > x->start) {
			post.extents[k].start = x->start;
			post.extents[k++].len = start - x->start;
		}
		if (start + len < x->start + x->len) {
			post.extents[k].start = start + len;
			post.extents[k++].len = x->start + x->len - start - len;
		}
	}
	post.nr_extents = n;
	post.blocks -= len;
	post.generation = p->generation + 1;
	op = txn_op_new(p, CRU_POOL_OP_UPDATE, r->slot);
	ret = region_copy(&op->pre, r);
	if (!ret)
		ret = region_copy(&op->post, &post);
	if (!ret)
		ret = xl_add(&p->pending, start, len);
	if (ret) {
		free(post.extents);
		return pool_fail(p, ret, err, "cannot free an extent");
	}
	p->nr_ops++;
	region_clear(r);
	*r = post;
	return txn_done(p, err);
}

/* ---- init ------------------------------------------------------------------------- */

static uint64_t gcd64(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

void cru_pool_default_name(const char *path, char name[CRU_POOL_NAME_LEN])
{
	char *copy = strdup(path), *base;
	size_t i, n = 0;

	base = copy ? basename(copy) : NULL;
	for (i = 0; base && base[i] && n < CRU_POOL_NAME_LEN - 1; i++) {
		char c = base[i];

		if (!n && (c == '.' || c == '-'))
			continue;
		name[n++] = name_char_ok(c, false) ? c : '_';
	}
	name[n] = '\0';
	if (!n)
		strcpy(name, "pool");
	free(copy);
}

static int open_locked(const char *path, int flags, int lock, bool nowait,
		       struct cru_err *err)
{
	int fd = open(path, flags | O_CLOEXEC);

	if (fd < 0) {
		if (errno == EBUSY)
			return cru_err_set(err, -EBUSY,
					   "%s: in use (mounted, or held by another device)",
					   path);
		return cru_err_set(err, -errno, "%s: cannot open: %s", path,
				   strerror(errno));
	}
	/* One command at a time: cruciblectl holds this for its whole run. */
	if (flock(fd, lock | (nowait ? LOCK_NB : 0))) {
		int e = errno;

		close(fd);
		if (e == EWOULDBLOCK)
			return cru_err_set(err, -EBUSY,
					   "%s: another process holds the pool",
					   path);
		return cru_err_set(err, -e, "%s: cannot lock: %s", path,
				   strerror(e));
	}
	return fd;
}

int cru_pool_init(const char *path, const struct cru_pool_init_opts *o,
		  struct cru_pool_info *info, struct cru_err *err)
{
	struct cru_pool_init_opts defaults = { 0 };
	struct cru_pool *p = NULL;
	struct cru_pool_sb *sb;
	struct cru_blkprobe probe;
	struct stat st;
	char what[256], have[32];
	uint64_t align, fixed, bm, i, area;
	uint32_t bs, regions;
	uint8_t *buf = NULL;
	int fd, ret;

	if (!o)
		o = &defaults;
	if (o->name && !cru_pool_name_valid(o->name))
		return cru_err_set(err, -EINVAL,
				   "'%s' is not a valid pool name (1 to %d of A-Z a-z 0-9 _ . +, not starting with .)",
				   o->name, CRU_POOL_NAME_LEN - 1);
	if (stat(path, &st))
		return cru_err_set(err, -errno, "%s: %s", path, strerror(errno));
	/* O_EXCL on a block device: refuse one that is mounted or mapped. */
	fd = open_locked(path, O_RDWR | (S_ISBLK(st.st_mode) ? O_EXCL : 0),
			 LOCK_EX, true, err);
	if (fd < 0)
		return fd;
	ret = cru_blkprobe(fd, path, &probe, err);
	if (ret)
		goto out;
	if (!o->force) {
		ret = cru_blkprobe_signature(fd, path, what, sizeof(what), err);
		if (ret == 1) {
			ret = cru_err_set(err, -EEXIST,
					  "%s carries %s; not touching it (use --force to overwrite)",
					  path, what);
			goto out;
		}
		if (ret)
			goto out;
	}

	bs = o->block_size ? o->block_size : CRU_POOL_MIN_BLOCK;
	if (!o->block_size) {
		if (probe.logical_block > bs)
			bs = probe.logical_block;
		if (probe.physical_block > bs)
			bs = probe.physical_block;
	}
	if (bs < CRU_POOL_MIN_BLOCK || bs > CRU_POOL_MAX_BLOCK ||
	    (bs & (bs - 1)) || bs < probe.logical_block) {
		ret = cru_err_set(err, -EINVAL,
				  "%s: block size %u: must be a power of two from 4 KiB to 64 KiB, and at least the device's logical block size (%u)",
				  path, bs, probe.logical_block);
		goto out;
	}
	regions = o->max_regions ? o->max_regions : CRU_POOL_DEFAULT_REGIONS;
	if (regions > CRU_POOL_MAX_REGIONS) {
		ret = cru_err_set(err, -EINVAL, "%s: at most %u regions", path,
				  CRU_POOL_MAX_REGIONS);
		goto out;
	}
	/* The data area starts on the optimal I/O size, and on 1 MiB at least. */
	align = DATA_ALIGN_MIN;
	if (probe.optimal_io)
		align = probe.optimal_io >= DATA_ALIGN_MIN ? probe.optimal_io :
			(DATA_ALIGN_MIN + probe.optimal_io - 1) /
			probe.optimal_io * probe.optimal_io;
	align = align / gcd64(align, bs) * bs;	/* lcm with the block size */
	align /= bs;

	p = calloc(1, sizeof(*p));
	buf = aligned_alloc(4096, (size_t)IO_BATCH_BLOCKS * bs);
	if (!p || !buf) {
		ret = cru_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	p->fd = fd;
	p->crash_budget = -1;
	snprintf(p->path, sizeof(p->path), "%s", path);
	p->probe = probe;
	p->bs = bs;
	p->total_blocks = probe.bytes / bs;
	p->bpb = cru_pool_bits_per_block(bs);
	p->intent_start = 2;
	p->intent_blocks = CRU_POOL_INTENT_BLOCKS;
	p->region_table_start = p->intent_start + p->intent_blocks;
	p->max_regions = regions;
	fixed = p->region_table_start + regions;
	bm = p->total_blocks > fixed ?
	     (p->total_blocks - fixed + p->bpb - 1) / p->bpb : 1;
	p->bitmap_start = fixed;
	p->mirror_start = fixed + bm;
	p->data_start = (p->mirror_start + bm + align - 1) / align * align;
	if (p->data_start + DATA_ALIGN_MIN / bs > p->total_blocks) {
		cru_format_size(probe.bytes, have, sizeof(have));
		ret = cru_err_set(err, -ENOSPC,
				  "%s: too small for a pool (%s; metadata needs %llu KiB, plus at least 1 MiB of data)",
				  path, have,
				  (unsigned long long)(p->data_start * bs / 1024));
		goto out;
	}
	p->data_blocks = p->total_blocks - p->data_start;
	p->bitmap_blocks = nr_chunks(p);
	if (random_uuid(p->sb.uuid)) {
		ret = cru_err_set(err, -EIO, "cannot get random bytes: %s",
				  strerror(errno));
		goto out;
	}
	p->seed = uuid_seed(p->sb.uuid);
	p->generation = 1;

	sb = &p->sb;
	sb->magic = cpu_to_le64(CRU_POOL_MAGIC);
	sb->version = cpu_to_le32(CRU_POOL_VERSION);
	sb->block_size = cpu_to_le32(bs);
	sb->total_blocks = cpu_to_le64(p->total_blocks);
	sb->intent_start = cpu_to_le64(p->intent_start);
	sb->intent_blocks = cpu_to_le32(p->intent_blocks);
	sb->max_regions = cpu_to_le32(regions);
	sb->region_table_start = cpu_to_le64(p->region_table_start);
	sb->bitmap_start = cpu_to_le64(p->bitmap_start);
	sb->mirror_start = cpu_to_le64(p->mirror_start);
	sb->bitmap_blocks = cpu_to_le64(p->bitmap_blocks);
	sb->data_start = cpu_to_le64(p->data_start);
	sb->data_blocks = cpu_to_le64(p->data_blocks);
	sb->bits_per_block = cpu_to_le32(p->bpb);
	sb->created = cpu_to_le64((uint64_t)time(NULL));
	sb->flags = cpu_to_le32((probe.rotational ? CRU_POOL_F_ROTATIONAL : 0) |
				(probe.discard ? CRU_POOL_F_DISCARD : 0) |
				(probe.is_bdev ? 0 : CRU_POOL_F_FILE));
	sb->optimal_io = cpu_to_le32(probe.optimal_io);
	if (o->name)
		snprintf(sb->name, sizeof(sb->name), "%s", o->name);
	else
		cru_pool_default_name(path, sb->name);

	/*
	 * Old superblocks go first, so that a crash half-way leaves no pool
	 * rather than an old superblock over new metadata.
	 */
	memset(buf, 0, 2 * (size_t)bs);
	ret = pool_write(p, buf, 2 * (size_t)bs, 0);
	if (!ret)
		ret = pool_sync(p);
	if (!ret)
		ret = intent_clear(p, buf);
	for (i = 0; i < regions && !ret; i += area) {
		uint64_t k;

		area = io_batch(regions - i);
		for (k = 0; k < area; k++) {
			struct cru_pool_region r;

			free_slot_image(&r, (uint32_t)(i + k), p->generation);
			slot_encode(p, &r, buf + k * bs);
		}
		ret = pool_write(p, buf, area * bs, p->region_table_start + i);
	}
	ret = ret ? ret : cru_alloc_init(&p->alloc, p->data_start,
					 p->data_blocks, p->bpb);
	ret = ret ? ret : cru_alloc_add_free(&p->alloc, p->data_start,
					     p->data_blocks);
	for (i = 0; i < p->bitmap_blocks && !ret; i += area) {
		uint64_t k, idx[IO_BATCH_BLOCKS];

		area = io_batch(p->bitmap_blocks - i);
		for (k = 0; k < area; k++)
			idx[k] = i + k;
		ret = chunks_write(p, idx, area, 0, p->generation, buf);
		if (!ret)
			ret = chunks_write(p, idx, area, 1, p->generation, buf);
	}
	if (!ret)
		ret = pool_sync(p);
	if (!ret)
		ret = sb_write(p, 0, p->generation, buf);
	if (!ret)
		ret = pool_sync(p);
	if (!ret)
		ret = sb_write(p, 1, p->generation, buf);
	if (!ret)
		ret = pool_sync(p);
	if (ret) {
		ret = cru_err_set(err, ret, "%s: cannot write the pool: %s",
				  path, strerror(-ret));
		goto out;
	}
	if (info)
		cru_pool_get_info(p, info);	/* no slots: no regions */
out:
	if (p) {
		cru_alloc_destroy(&p->alloc);
		free(p);
	}
	free(buf);
	close(fd);
	return ret;
}

/* ---- open and recovery ---------------------------------------------------------------- */

static int sb_check(const struct cru_pool_sb *sb, uint32_t copy,
		    uint64_t dev_bytes, char *why, size_t len)
{
	uint32_t bs = le32_to_cpu(sb->block_size);
	uint64_t total = le64_to_cpu(sb->total_blocks);
	uint64_t rt = le64_to_cpu(sb->region_table_start);
	uint64_t bm = le64_to_cpu(sb->bitmap_start);
	uint64_t mir = le64_to_cpu(sb->mirror_start);
	uint64_t bmb = le64_to_cpu(sb->bitmap_blocks);
	uint64_t ds = le64_to_cpu(sb->data_start);
	uint64_t db = le64_to_cpu(sb->data_blocks);
	uint32_t regions = le32_to_cpu(sb->max_regions);

	if (le64_to_cpu(sb->magic) != CRU_POOL_MAGIC) {
		snprintf(why, len, "no pool magic");
		return -EMEDIUMTYPE;
	}
	if (le64_to_cpu(sb->csum) != sb_csum(sb)) {
		snprintf(why, len, "bad checksum");
		return -EUCLEAN;
	}
	if (le32_to_cpu(sb->version) != CRU_POOL_VERSION) {
		snprintf(why, len, "format version %u (this program reads version %u)",
			 le32_to_cpu(sb->version), CRU_POOL_VERSION);
		return -EPROTONOSUPPORT;
	}
	if (bs < CRU_POOL_MIN_BLOCK || bs > CRU_POOL_MAX_BLOCK ||
	    (bs & (bs - 1)) || le32_to_cpu(sb->copy) != copy ||
	    le64_to_cpu(sb->intent_start) != 2 ||
	    le32_to_cpu(sb->intent_blocks) != CRU_POOL_INTENT_BLOCKS ||
	    rt != 2 + CRU_POOL_INTENT_BLOCKS || !regions ||
	    regions > CRU_POOL_MAX_REGIONS || bm < rt + regions ||
	    le32_to_cpu(sb->bits_per_block) != cru_pool_bits_per_block(bs) ||
	    !db || bmb != (db + cru_pool_bits_per_block(bs) - 1) /
			  cru_pool_bits_per_block(bs) ||
	    mir < bm + bmb || ds < mir + bmb || ds + db > total ||
	    ds + db < ds || sb->name[CRU_POOL_NAME_LEN - 1]) {
		snprintf(why, len, "impossible geometry");
		return -EUCLEAN;
	}
	if (total > dev_bytes / bs) {
		snprintf(why, len, "the pool has %llu blocks but the device only %llu (was it truncated?)",
			 (unsigned long long)total,
			 (unsigned long long)(dev_bytes / bs));
		return -EUCLEAN;
	}
	return 0;
}

/* Read and choose the superblock: the valid copy of the highest generation. */
static int sb_load(struct cru_pool *p, struct cru_err *err)
{
	struct cru_pool_sb *copy[2] = { NULL, NULL };
	char why[2][160] = { "", "" };
	int ret[2] = { -EMEDIUMTYPE, -EMEDIUMTYPE }, c, best = -1;
	uint8_t *buf;
	uint32_t off;

	buf = aligned_alloc(4096, 2 * CRU_POOL_SB_SIZE);
	if (!buf)
		return cru_err_set(err, -ENOMEM, "out of memory");
	copy[0] = (void *)buf;
	copy[1] = (void *)(buf + CRU_POOL_SB_SIZE);
	ret[0] = cru_pread_all(p->fd, copy[0], CRU_POOL_SB_SIZE, 0);
	if (ret[0]) {
		free(buf);
		return cru_err_set(err, ret[0], "%s: cannot read its superblock: %s",
				   p->path, strerror(-ret[0]));
	}
	ret[0] = sb_check(copy[0], 0, p->probe.bytes, why[0], sizeof(why[0]));
	/* Copy 1 is block 1: where that is depends on the block size. */
	for (off = CRU_POOL_MIN_BLOCK; off <= CRU_POOL_MAX_BLOCK; off *= 2) {
		if (!ret[0] && off != le32_to_cpu(copy[0]->block_size))
			continue;
		char w[160];
		int r;

		if (cru_pread_all(p->fd, copy[1], CRU_POOL_SB_SIZE, off))
			continue;
		r = sb_check(copy[1], 1, p->probe.bytes, w, sizeof(w));
		if (!r && le32_to_cpu(copy[1]->block_size) != off) {
			snprintf(w, sizeof(w), "block size %u found at offset %u",
				 le32_to_cpu(copy[1]->block_size), off);
			r = -EUCLEAN;
		}
		/* Keep the most telling reason: one from a block with our magic. */
		if (r != -EMEDIUMTYPE || ret[1] == -EMEDIUMTYPE) {
			ret[1] = r;
			snprintf(why[1], sizeof(why[1]), "%s", w);
		}
		if (!r || !ret[0])
			break;
	}
	for (c = 0; c < 2; c++)
		if (!ret[c] && (best < 0 ||
				le64_to_cpu(copy[c]->generation) >
				le64_to_cpu(copy[best]->generation)))
			best = c;
	if (best < 0) {
		int r = ret[0] == -EMEDIUMTYPE ? ret[1] : ret[0];

		free(buf);
		if (r == -EMEDIUMTYPE)
			return cru_err_set(err, r, "%s: no crucible pool on it",
					   p->path);
		return cru_err_set(err, r == -EPROTONOSUPPORT ? r : -EUCLEAN,
				   "%s: no usable pool superblock (copy 0: %s; copy 1: %s)",
				   p->path, why[0][0] ? why[0] : "ok",
				   why[1][0] ? why[1] : "ok");
	}
	if (ret[!best] || memcmp((uint8_t *)copy[0] + 16, (uint8_t *)copy[1] + 16,
				 offsetof(struct cru_pool_sb, copy) - 16)) {
		p->rec.sb_repaired = true;
		log_debug("%s: superblock copy %d: %s; using copy %d", p->path,
			  !best, ret[!best] ? why[!best] : "older", best);
	}
	p->sb = *copy[best];
	free(buf);
	p->bs = le32_to_cpu(p->sb.block_size);
	p->generation = le64_to_cpu(p->sb.generation);
	p->total_blocks = le64_to_cpu(p->sb.total_blocks);
	p->intent_start = le64_to_cpu(p->sb.intent_start);
	p->intent_blocks = le32_to_cpu(p->sb.intent_blocks);
	p->max_regions = le32_to_cpu(p->sb.max_regions);
	p->region_table_start = le64_to_cpu(p->sb.region_table_start);
	p->bitmap_start = le64_to_cpu(p->sb.bitmap_start);
	p->mirror_start = le64_to_cpu(p->sb.mirror_start);
	p->bitmap_blocks = le64_to_cpu(p->sb.bitmap_blocks);
	p->data_start = le64_to_cpu(p->sb.data_start);
	p->data_blocks = le64_to_cpu(p->sb.data_blocks);
	p->bpb = le32_to_cpu(p->sb.bits_per_block);
	p->max_extents = cru_pool_slot_extents(p->bs);
	p->seed = uuid_seed(p->sb.uuid);
	return 0;
}

/* The pending transaction, if the intent log holds one: its undo records. */
struct undo {
	uint32_t nr;
	struct txn_op ops[CRU_POOL_INTENT_OPS];
};

static void undo_free(struct undo *u)
{
	ops_clear(u->ops, u->nr);
	u->nr = 0;
}

static int intent_load(struct cru_pool *p, struct undo *u, struct cru_err *err)
{
	size_t len = (size_t)p->intent_blocks * p->bs;
	struct cru_pool_intent_hdr *h;
	struct cru_err ierr;
	uint8_t *buf = aligned_alloc(4096, len);
	uint32_t i, n;
	int ret;

	u->nr = 0;
	if (!buf)
		return cru_err_set(err, -ENOMEM, "out of memory");
	ret = pool_read(p, buf, len, p->intent_start);
	if (ret) {
		free(buf);
		return cru_err_set(err, ret, "%s: cannot read the intent log: %s",
				   p->path, strerror(-ret));
	}
	h = (void *)buf;
	n = le32_to_cpu(h->nr_ops);
	/*
	 * Anything but a whole intent of the next generation means no
	 * transaction is pending: the intent is written (and flushed) before
	 * anything else of its transaction.
	 */
	if (le64_to_cpu(h->magic) != CRU_POOL_INTENT_MAGIC ||
	    le64_to_cpu(h->csum) != block_csum(p, buf) ||
	    le64_to_cpu(h->generation) != p->generation + 1 || !n ||
	    n > CRU_POOL_INTENT_OPS) {
		free(buf);
		return 0;
	}
	for (i = 0; i < n; i++) {
		struct txn_op *op = &u->ops[i];
		const uint8_t *pre = buf + (1 + 2 * i) * p->bs;
		const uint8_t *post = pre + p->bs;

		op->slot = le32_to_cpu(h->ops[i].slot);
		op->type = le32_to_cpu(h->ops[i].type);
		u->nr = i + 1;	/* undo_free frees what slot_decode made */
		if (op->slot >= p->max_regions ||
		    ((const struct cru_pool_region_disk *)pre)->csum !=
		    h->ops[i].pre_csum ||
		    ((const struct cru_pool_region_disk *)post)->csum !=
		    h->ops[i].post_csum ||
		    slot_decode(p, pre, op->slot, &op->pre, &ierr) ||
		    slot_decode(p, post, op->slot, &op->post, &ierr)) {
			undo_free(u);
			free(buf);
			log_info("%s: the intent log of transaction %llu is incomplete: the transaction never started",
				 p->path, (unsigned long long)(p->generation + 1));
			return 0;
		}
	}
	free(buf);
	return 0;
}

static int regions_load(struct cru_pool *p, const struct undo *u,
			bool *rewrite, struct cru_err *err)
{
	uint8_t *buf = aligned_alloc(4096, (size_t)IO_BATCH_BLOCKS * p->bs);
	struct cru_err serr;
	uint32_t i, k, n;
	int ret = 0, *bad;

	bad = calloc(p->max_regions, sizeof(*bad));
	p->slots = calloc(p->max_regions, sizeof(*p->slots));
	if (!buf || !bad || !p->slots) {
		free(buf);
		free(bad);
		return cru_err_set(err, -ENOMEM, "out of memory");
	}
	for (i = 0; i < p->max_regions && !ret; i += n) {
		n = (uint32_t)io_batch(p->max_regions - i);
		ret = pool_read(p, buf, (size_t)n * p->bs,
				p->region_table_start + i);
		if (ret) {
			ret = cru_err_set(err, ret, "%s: cannot read the region table: %s",
					  p->path, strerror(-ret));
			break;
		}
		for (k = 0; k < n; k++) {
			bad[i + k] = slot_decode(p, buf + (size_t)k * p->bs, i + k,
						 &p->slots[i + k], &serr);
			if (!bad[i + k] &&
			    p->slots[i + k].generation > p->generation)
				bad[i + k] = -EAGAIN;	/* not committed */
		}
	}
	free(buf);
	/* Undo the pending transaction, last operation first. */
	for (i = u->nr; i-- > 0 && !ret;) {
		uint32_t s = u->ops[i].slot;

		region_clear(&p->slots[s]);
		ret = region_copy(&p->slots[s], &u->ops[i].pre);
		bad[s] = 0;
		rewrite[s] = true;
	}
	if (ret)
		ret = cru_err_set(err, ret, "out of memory");
	for (i = 0; i < p->max_regions && !ret; i++) {
		if (bad[i] == -EAGAIN)
			ret = cru_err_set(err, -EUCLEAN,
					  "%s: region slot %u was written by transaction %llu, which did not commit and has no intent",
					  p->path, i,
					  (unsigned long long)p->slots[i].generation);
		else if (bad[i])
			ret = cru_err_set(err, -EUCLEAN,
					  "%s: region slot %u is damaged (bad checksum); the pool cannot tell which blocks it owned",
					  p->path, i);
	}
	for (i = 0; i < p->max_regions && !ret; i++) {
		for (k = 0; k < i && p->slots[i].used; k++)
			if (p->slots[k].used &&
			    !strcmp(p->slots[k].name, p->slots[i].name))
				ret = cru_err_set(err, -EUCLEAN,
						  "%s: two regions are named %s (slots %u and %u)",
						  p->path, p->slots[i].name, k, i);
	}
	free(bad);
	return ret;
}

/* Apply the undo of the pending transaction to the bits of chunk @c. */
static void chunk_undo(const struct cru_pool *p, const struct undo *u,
		       uint64_t c, uint8_t *bits)
{
	uint32_t i, k;

	for (i = u->nr; i-- > 0;) {
		const struct txn_op *op = &u->ops[i];

		for (k = 0; k < op->post.nr_extents; k++)
			chunk_assign(p, bits, c, op->post.extents[k].start,
				     op->post.extents[k].len, false);
		for (k = 0; k < op->pre.nr_extents; k++)
			chunk_assign(p, bits, c, op->pre.extents[k].start,
				     op->pre.extents[k].len, true);
	}
}

struct run_builder {
	uint64_t start;
	bool open;
	int ret;
};

/* Block @b is free (@is_free) or allocated: open or close the current run. */
static void run_step(struct cru_pool *p, struct run_builder *rb, uint64_t b,
		     bool is_free)
{
	if (is_free && !rb->open) {
		rb->open = true;
		rb->start = b;
	} else if (!is_free && rb->open) {
		rb->ret = cru_alloc_add_free(&p->alloc, rb->start, b - rb->start);
		rb->open = false;
	}
}

/* Feed the bits of chunk @c into the allocator as free runs. */
static void chunk_runs(struct cru_pool *p, uint64_t c, const uint8_t *bits,
		       struct run_builder *rb)
{
	uint64_t n = chunk_bits(p, c), i = 0;
	uint64_t base = p->data_start + c * p->bpb;

	while (i < n && !rb->ret) {
		uint64_t w;

		/* Whole 64-bit words of one value take one step. */
		if (!(i & 63) && n - i >= 64) {
			memcpy(&w, bits + i / 8, 8);
			w = le64toh(w);
			if (w == 0 || w == ~0ULL) {
				run_step(p, rb, base + i, w == 0);
				i += 64;
				continue;
			}
		}
		run_step(p, rb, base + i, !(bits[i / 8] & (1u << (i & 7))));
		i++;
	}
}

static void chunk_mark(uint8_t *set, uint64_t c)
{
	set[c / 8] |= (uint8_t)(1u << (c & 7));
}

static bool chunk_marked(const uint8_t *set, uint64_t c)
{
	return set[c / 8] & (1u << (c & 7));
}

/*
 * Read both bitmaps, choose each block's committed copy, undo the pending
 * transaction in it, and build the allocator.  Blocks whose copies must be
 * rewritten are marked in @rewrite; *@rebuild is set when a block has no
 * usable copy (then the region table decides).
 */
static int bitmap_load(struct cru_pool *p, const struct undo *u,
		       uint8_t *rewrite, bool *rebuild, struct cru_err *err)
{
	size_t batch = (size_t)IO_BATCH_BLOCKS * p->bs;
	uint8_t *pb = aligned_alloc(4096, batch), *mb = aligned_alloc(4096, batch);
	struct run_builder rb = { 0 };
	uint64_t c, n, k, total = nr_chunks(p);
	int ret = 0;

	if (!pb || !mb) {
		free(pb);
		free(mb);
		return cru_err_set(err, -ENOMEM, "out of memory");
	}
	for (c = 0; c < total && !ret && !rb.ret; c += n) {
		n = io_batch(total - c);
		ret = pool_read(p, pb, n * p->bs, p->bitmap_start + c);
		if (!ret)
			ret = pool_read(p, mb, n * p->bs, p->mirror_start + c);
		if (ret) {
			ret = cru_err_set(err, ret, "%s: cannot read the bitmaps: %s",
					  p->path, strerror(-ret));
			break;
		}
		for (k = 0; k < n; k++) {
			uint8_t *blk[2] = { pb + k * p->bs, mb + k * p->bs };
			uint64_t gen[2] = { 0, 0 };
			bool ok[2];
			int pick = -1, i;

			for (i = 0; i < 2; i++) {
				ok[i] = chunk_valid(p, blk[i], c + k, (uint32_t)i);
				if (ok[i])
					gen[i] = le64_to_cpu(((struct cru_pool_bitmap_hdr *)
							      blk[i])->generation);
			}
			p->rec.primary_bad += !ok[0];
			p->rec.mirror_bad += !ok[1];
			/* The committed copy wins: stamped at or below G. */
			for (i = 0; i < 2; i++)
				if (ok[i] && gen[i] <= p->generation &&
				    (pick < 0 || gen[i] > gen[pick]))
					pick = i;
			if (pick < 0 && u->nr)
				for (i = 1; i >= 0; i--)
					if (ok[i])
						pick = i;
			if (pick < 0) {
				if (ok[0] || ok[1])
					log_warn("%s: bitmap block %llu was written by a transaction that did not commit and has no intent",
						 p->path, (unsigned long long)(c + k));
				*rebuild = true;
				continue;
			}
			if (!ok[!pick] || gen[0] != gen[1] ||
			    memcmp(blk[0] + CRU_POOL_BITMAP_HDR,
				   blk[1] + CRU_POOL_BITMAP_HDR,
				   p->bs - CRU_POOL_BITMAP_HDR))
				chunk_mark(rewrite, c + k);
			if (gen[pick] > p->generation) {
				chunk_undo(p, u, c + k, blk[pick] + CRU_POOL_BITMAP_HDR);
				chunk_mark(rewrite, c + k);
			}
			if (!*rebuild)
				chunk_runs(p, c + k, blk[pick] + CRU_POOL_BITMAP_HDR,
					   &rb);
		}
	}
	if (!ret && !rb.ret && !*rebuild)	/* close the last run */
		run_step(p, &rb, p->data_start + p->data_blocks, false);
	if (!ret && rb.ret)
		ret = cru_err_set(err, rb.ret, "%s: cannot build the free list: %s",
				  p->path, strerror(-rb.ret));
	free(pb);
	free(mb);
	return ret;
}

static int extent_owner_cmp(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;	/* start, len, slot */

	return x[0] < y[0] ? -1 : x[0] > y[0];
}

/*
 * The region table is the authority on who owns what: check the bitmap
 * against it, and no two regions overlap.
 */
static int check_ownership(struct cru_pool *p, bool *mismatch,
			   struct cru_err *err)
{
	uint64_t (*v)[3] = NULL, owned = 0, owned_alloc = 0, allocated;
	size_t n = 0, cap = 0, i;
	uint32_t s, k;

	for (s = 0; s < p->max_regions; s++) {
		const struct cru_pool_region *r = &p->slots[s];

		for (k = 0; r->used && k < r->nr_extents; k++) {
			if (n == cap) {
				size_t nc = cap ? 2 * cap : 64;
				void *nv = realloc(v, nc * sizeof(*v));

				if (!nv) {
					free(v);
					return cru_err_set(err, -ENOMEM, "out of memory");
				}
				v = nv;
				cap = nc;
			}
			v[n][0] = r->extents[k].start;
			v[n][1] = r->extents[k].len;
			v[n++][2] = s;
			owned += r->extents[k].len;
			owned_alloc += r->extents[k].len -
				cru_alloc_count_free(&p->alloc, r->extents[k].start,
						     r->extents[k].len);
		}
	}
	if (n)
		qsort(v, n, sizeof(*v), extent_owner_cmp);
	for (i = 1; i < n; i++) {
		if (v[i - 1][0] + v[i - 1][1] > v[i][0]) {
			int ret = cru_err_set(err, -EUCLEAN,
					      "%s: regions %s and %s both own block %llu",
					      p->path, p->slots[v[i - 1][2]].name,
					      p->slots[v[i][2]].name,
					      (unsigned long long)v[i][0]);
			free(v);
			return ret;
		}
	}
	free(v);
	allocated = p->data_blocks - p->alloc.free;
	p->rec.leaked_blocks = allocated - owned_alloc;
	p->rec.unrecorded_blocks = owned - owned_alloc;
	*mismatch = p->rec.leaked_blocks || p->rec.unrecorded_blocks;
	return 0;
}

static int rebuild_from_regions(struct cru_pool *p, struct cru_err *err)
{
	uint32_t s, k;
	int ret;

	cru_alloc_destroy(&p->alloc);
	ret = cru_alloc_init(&p->alloc, p->data_start, p->data_blocks, p->bpb);
	if (!ret)
		ret = cru_alloc_add_free(&p->alloc, p->data_start, p->data_blocks);
	for (s = 0; s < p->max_regions && !ret; s++)
		for (k = 0; p->slots[s].used && k < p->slots[s].nr_extents &&
			    !ret; k++)
			ret = cru_alloc_take(&p->alloc, p->slots[s].extents[k].start,
					     p->slots[s].extents[k].len);
	if (ret)
		return cru_err_set(err, -EUCLEAN,
				   "%s: cannot rebuild the bitmap from the region table: %s",
				   p->path, strerror(-ret));
	p->rec.bitmap_rebuilt = true;
	return 0;
}

static int recovery_write(struct cru_pool *p, const bool *slot_rewrite,
			  const uint8_t *rewrite, bool pending, bool sb_bad[2],
			  struct cru_err *err)
{
	uint64_t total = nr_chunks(p), c, *list = NULL;
	size_t n = 0;
	uint8_t *buf = aligned_alloc(4096, (size_t)IO_BATCH_BLOCKS * p->bs);
	uint32_t s;
	int ret = 0, copy;

	if (!buf)
		return cru_err_set(err, -ENOMEM, "out of memory");
	for (c = 0; c < total; c++)
		n += chunk_marked(rewrite, c);
	if (n) {
		list = malloc(n * sizeof(*list));
		if (!list) {
			free(buf);
			return cru_err_set(err, -ENOMEM, "out of memory");
		}
		for (c = 0, n = 0; c < total; c++)
			if (chunk_marked(rewrite, c))
				list[n++] = c;
	}
	p->rec.bitmap_rewritten = n;
	/* Committed images only (stamped <= G): a crash here is resolved the same way. */
	for (s = 0; s < p->max_regions && !ret; s++) {
		if (!slot_rewrite[s])
			continue;
		slot_encode(p, &p->slots[s], buf);
		ret = pool_write(p, buf, p->bs, p->region_table_start + s);
	}
	if (!ret)
		ret = chunks_write(p, list, n, 0, p->generation, buf);
	if (!ret && n)
		ret = pool_sync(p);
	if (!ret)
		ret = chunks_write(p, list, n, 1, p->generation, buf);
	if (!ret)
		ret = pool_sync(p);
	if (!ret && pending) {
		ret = intent_clear(p, buf);
		if (!ret)
			ret = pool_sync(p);
	}
	for (copy = 0; copy < 2 && !ret; copy++) {
		if (!sb_bad[copy])
			continue;
		ret = sb_write(p, (uint32_t)copy, p->generation, buf);
		if (!ret)
			ret = pool_sync(p);
	}
	free(list);
	free(buf);
	if (ret)
		return pool_fail(p, ret, err, "cannot write what recovery repaired");
	return 0;
}

int cru_pool_open(const char *path, const struct cru_pool_open_opts *o,
		  struct cru_pool **pp, struct cru_err *err)
{
	struct cru_pool_open_opts defaults = cru_pool_open_opts_default();
	struct undo u = { 0 };
	struct cru_pool *p;
	uint8_t *rewrite = NULL;
	bool *slot_rewrite = NULL, rebuild = false, mismatch = false;
	bool sb_bad[2] = { false, false };
	size_t rewrite_len;
	int ret, fd;

	*pp = NULL;
	if (!o)
		o = &defaults;
	fd = open_locked(path, o->readonly ? O_RDONLY : O_RDWR,
			 o->readonly ? LOCK_SH : LOCK_EX, o->nowait, err);
	if (fd < 0)
		return fd;
	p = calloc(1, sizeof(*p));
	if (!p) {
		close(fd);
		return cru_err_set(err, -ENOMEM, "out of memory");
	}
	p->fd = fd;
	p->readonly = o->readonly;
	p->crash_budget = o->crash_after;
	p->torn = o->torn;
	snprintf(p->path, sizeof(p->path), "%s", path);
	ret = cru_blkprobe(fd, path, &p->probe, err);
	if (!ret)
		ret = sb_load(p, err);
	if (ret)
		goto fail;
	p->can_discard = p->probe.discard;
	ret = intent_load(p, &u, err);
	if (ret)
		goto fail;
	p->rec.ops_rolled_back = u.nr;
	slot_rewrite = calloc(p->max_regions, sizeof(*slot_rewrite));
	rewrite_len = nr_chunks(p) / 8 + 1;	/* a bit per bitmap block */
	rewrite = calloc(rewrite_len, 1);
	if (!slot_rewrite || !rewrite) {
		ret = cru_err_set(err, -ENOMEM, "out of memory");
		goto fail;
	}
	ret = regions_load(p, &u, slot_rewrite, err);
	if (!ret)
		ret = cru_alloc_init(&p->alloc, p->data_start, p->data_blocks,
				     p->bpb);
	if (!ret)
		ret = bitmap_load(p, &u, rewrite, &rebuild, err);
	if (!ret && !rebuild)
		ret = check_ownership(p, &mismatch, err);
	if (ret)
		goto fail;
	if (rebuild || mismatch) {
		log_warn("%s: the bitmap disagrees with the region table (%llu blocks leaked, %llu unrecorded%s); rebuilding it from the region table",
			 path, (unsigned long long)p->rec.leaked_blocks,
			 (unsigned long long)p->rec.unrecorded_blocks,
			 rebuild ? ", or a bitmap block lost both copies" : "");
		ret = rebuild_from_regions(p, err);
		if (ret)
			goto fail;
		memset(rewrite, 0xff, rewrite_len);
	}
	if (p->rec.sb_repaired) {
		/* Rewrite whichever copy is not the chosen one. */
		sb_bad[!le32_to_cpu(p->sb.copy)] = true;
	}
	if (!p->readonly) {
		bool dirty = u.nr || rebuild || mismatch || p->rec.sb_repaired;
		size_t c;

		for (c = 0; c < rewrite_len && !dirty; c++)
			dirty = rewrite[c];
		if (dirty)
			ret = recovery_write(p, slot_rewrite, rewrite, u.nr > 0,
					     sb_bad, err);
		if (ret)
			goto fail;
	}
	if (u.nr)
		log_info("%s: rolled back transaction %llu (%u operations) that did not commit",
			 path, (unsigned long long)(p->generation + 1), u.nr);
	undo_free(&u);
	free(rewrite);
	free(slot_rewrite);
	*pp = p;
	return 0;
fail:
	undo_free(&u);
	free(rewrite);
	free(slot_rewrite);
	slots_free(p);
	cru_alloc_destroy(&p->alloc);
	free(p);
	close(fd);
	return ret;
}

void cru_pool_close(struct cru_pool *p)
{
	struct cru_err err;

	if (!p)
		return;
	if (!p->failed && !p->readonly && p->nr_ops)
		log_warn("%s: closing with an open transaction of %u operations: it is dropped",
			 p->path, p->nr_ops);
	txn_reset(p);
	if (!p->failed && !p->readonly && cru_pool_discard_flush(p, &err))
		log_warn("%s", err.msg);
	xl_free(&p->discard);
	slots_free(p);
	cru_alloc_destroy(&p->alloc);
	close(p->fd);
	free(p);
}

/* ---- queries --------------------------------------------------------------------------- */

void cru_pool_get_info(const struct cru_pool *p, struct cru_pool_info *info)
{
	uint32_t s;

	memset(info, 0, sizeof(*info));
	snprintf(info->path, sizeof(info->path), "%s", p->path);
	memcpy(info->name, p->sb.name, sizeof(info->name));
	info->name[sizeof(info->name) - 1] = '\0';
	memcpy(info->uuid, p->sb.uuid, sizeof(info->uuid));
	info->is_bdev = p->probe.is_bdev;
	info->rdev = p->probe.rdev;
	info->block_size = p->bs;
	info->generation = p->generation;
	info->total_blocks = p->total_blocks;
	info->intent_start = p->intent_start;
	info->intent_blocks = p->intent_blocks;
	info->region_table_start = p->region_table_start;
	info->max_regions = p->max_regions;
	for (s = 0; p->slots && s < p->max_regions; s++)
		info->nr_regions += p->slots[s].used;
	info->bitmap_start = p->bitmap_start;
	info->mirror_start = p->mirror_start;
	info->bitmap_blocks = p->bitmap_blocks;
	info->bits_per_block = p->bpb;
	info->data_start = p->data_start;
	info->data_blocks = p->data_blocks;
	info->free_blocks = p->alloc.free;
	info->free_extents = p->alloc.nr_free_extents;
	info->largest_free = cru_alloc_largest(&p->alloc);
	info->flags = le32_to_cpu(p->sb.flags);
	info->optimal_io = le32_to_cpu(p->sb.optimal_io);
	info->created = le64_to_cpu(p->sb.created);
	info->discarded_bytes = p->discarded_bytes;
	info->discards = p->discards;
}

const struct cru_pool_recovery *cru_pool_recovery(const struct cru_pool *p)
{
	return &p->rec;
}

int cru_pool_fd(const struct cru_pool *p)
{
	return p->fd;
}

bool cru_pool_block_free(const struct cru_pool *p, uint64_t block)
{
	return cru_alloc_is_free(&p->alloc, block, 1);
}

void cru_pool_chunk_summary(const struct cru_pool *p, uint64_t c,
			    uint32_t *free_blocks, uint32_t *first_free)
{
	*free_blocks = c < p->alloc.nr_chunks ? p->alloc.chunk_free[c] : 0;
	*first_free = c < p->alloc.nr_chunks ? p->alloc.chunk_first[c] : p->bpb;
}

void cru_pool_set_crash_after(struct cru_pool *p, long writes, bool torn)
{
	p->crash_budget = writes;
	p->torn = torn;
}

uint64_t cru_pool_writes(const struct cru_pool *p)
{
	return p->writes;
}

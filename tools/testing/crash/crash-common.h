/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by crash-workload (writes) and crash-check (checks after a
 * replayed crash): the content of a block version and the journal.
 *
 * Block content: every 4 KiB block the workload writes says which volume
 * block and which version of it it is, so the checker can tell "the old
 * version", "a later version", "zeros" and "garbage" apart:
 *
 *   u64 magic, u64 block, u64 version, u64 run seed, then 508 u64 words of a
 *   stream seeded by (seed, block, version).
 *
 * Journal (text, one event a line, in the order the workload did them):
 *
 *   # crash-workload 1 seed <seed> blocks <n>
 *   W <seq> <block> <version> <dsync>   write issued (dsync: RWF_DSYNC)
 *   S                                   a sync completed: fsync returned, or
 *                                       a RWF_DSYNC write returned
 *   M <k>                               mark "fsync<k>" sent to every leg's
 *                                       log (right after an S)
 *   E                                   the workload ended (after a last S)
 */
#ifndef CRASH_COMMON_H
#define CRASH_COMMON_H

#include <stdint.h>
#include <string.h>

#define CRASH_BLOCK		4096U
#define CRASH_WORDS		(CRASH_BLOCK / 8)
#define CRASH_MAGIC		0x314b4c4248535243ULL	/* "CRSHBLK1" */
#define CRASH_JOURNAL_VERSION	1

static inline uint64_t crash_splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* The content of version @version of volume block @block in run @seed. */
static inline void crash_fill(void *buf, uint64_t seed, uint64_t block,
			      uint64_t version)
{
	uint64_t *w = buf;
	uint64_t x = seed ^ (block * 0xd6e8feb86659fd93ULL) ^
		     (version * 0xa0761d6478bd642fULL);
	unsigned int i;

	w[0] = CRASH_MAGIC;
	w[1] = block;
	w[2] = version;
	w[3] = seed;
	for (i = 4; i < CRASH_WORDS; i++)
		w[i] = crash_splitmix(&x);
}

enum crash_kind {
	CRASH_ZEROS,		/* all zero: never written */
	CRASH_VERSION,		/* exactly some version of some block */
	CRASH_GARBAGE,		/* anything else */
};

/*
 * What a block holds: zeros, version *version of block *block (of run
 * @seed), or garbage.
 */
static inline enum crash_kind crash_classify(const void *buf, uint64_t seed,
					     uint64_t *block, uint64_t *version)
{
	static const uint8_t zero[CRASH_BLOCK];
	uint64_t want[CRASH_WORDS];
	const uint64_t *w = buf;

	if (!memcmp(buf, zero, CRASH_BLOCK))
		return CRASH_ZEROS;
	if (w[0] != CRASH_MAGIC || w[3] != seed || !w[2])
		return CRASH_GARBAGE;
	crash_fill(want, seed, w[1], w[2]);
	if (memcmp(want, buf, CRASH_BLOCK))
		return CRASH_GARBAGE;
	*block = w[1];
	*version = w[2];
	return CRASH_VERSION;
}

#endif /* CRASH_COMMON_H */

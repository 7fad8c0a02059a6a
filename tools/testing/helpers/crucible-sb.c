// SPDX-License-Identifier: GPL-2.0
/*
 * crucible-sb: look at a leg's two superblock copies, or change one field
 * in both and reseal them, so that tests can make legs the target must
 * refuse for one precise reason (a format version it does not know, say)
 * rather than for a checksum failure.
 *
 *   crucible-sb DEVICE show            both copies, one line each
 *   crucible-sb DEVICE get FIELD       FIELD of the copy the target would use
 *   crucible-sb DEVICE set FIELD VALUE set FIELD in every copy that has the
 *                                      magic, recompute the checksums
 *   crucible-sb DEVICE record BLOCK    the on-disk record of volume block
 *                                      BLOCK, and whether the leg's data
 *                                      matches it
 *   crucible-sb DEVICE region REGION   the on-disk region table entry
 *
 * FIELD: version leg_index seq generation flush volume_blocks region_blocks
 * data_start flags faulted (a mask of the legs this copy records as failed;
 * set: version leg_index generation flush flags).
 * Uses O_DIRECT so that no page cache stands between it and the target.
 * Exits 0 on success, 1 on failure, 2 on a usage error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../../include/crucible/format.h"

static void usage(void)
{
	fprintf(stderr,
		"usage: crucible-sb DEVICE show\n"
		"       crucible-sb DEVICE get FIELD\n"
		"       crucible-sb DEVICE set FIELD VALUE\n"
		"       crucible-sb DEVICE record BLOCK\n"
		"       crucible-sb DEVICE region REGION\n");
	exit(2);
}

static int get_field(const struct crucible_sb *sb, const char *f,
		     unsigned long long *v)
{
	if (!strcmp(f, "version"))
		*v = le32_to_cpu(sb->version);
	else if (!strcmp(f, "leg_index"))
		*v = le32_to_cpu(sb->leg_index);
	else if (!strcmp(f, "seq"))
		*v = le64_to_cpu(sb->seq);
	else if (!strcmp(f, "generation"))
		*v = le64_to_cpu(sb->generation);
	else if (!strcmp(f, "flush"))
		*v = le64_to_cpu(sb->flush);
	else if (!strcmp(f, "volume_blocks"))
		*v = le64_to_cpu(sb->volume_blocks);
	else if (!strcmp(f, "region_blocks"))
		*v = le32_to_cpu(sb->region_blocks);
	else if (!strcmp(f, "data_start"))
		*v = le64_to_cpu(sb->data_start);
	else if (!strcmp(f, "flags"))
		*v = le32_to_cpu(sb->flags);
	else if (!strcmp(f, "faulted")) {
		*v = 0;
		for (int i = 0; i < CRUCIBLE_NR_LEGS; i++)
			if (sb->leg_state[i] == CRUCIBLE_LEG_FAULTED)
				*v |= 1U << i;
	} else
		return -1;
	return 0;
}

static int set_field(struct crucible_sb *sb, const char *f,
		     unsigned long long v)
{
	if (!strcmp(f, "version"))
		sb->version = cpu_to_le32((u32)v);
	else if (!strcmp(f, "leg_index"))
		sb->leg_index = cpu_to_le32((u32)v);
	else if (!strcmp(f, "generation"))
		sb->generation = cpu_to_le64(v);
	else if (!strcmp(f, "flush"))
		sb->flush = cpu_to_le64(v);
	else if (!strcmp(f, "flags"))
		sb->flags = cpu_to_le32((u32)v);
	else
		return -1;
	return 0;
}

static void show(const struct crucible_sb *sb, int copy,
		 enum crucible_sb_verdict v)
{
	printf("copy %d: %s", copy, crucible_sb_verdict_str(v));
	if (v == CRUCIBLE_SB_BLANK) {
		printf("\n");
		return;
	}
	printf(" version %u leg %u seq %llu generation %llu flush %llu owner '%.*s' volume_blocks %llu region_blocks %u data_start %llu flags %#x legs %u%u%u\n",
	       le32_to_cpu(sb->version), le32_to_cpu(sb->leg_index),
	       (unsigned long long)le64_to_cpu(sb->seq),
	       (unsigned long long)le64_to_cpu(sb->generation),
	       (unsigned long long)le64_to_cpu(sb->flush),
	       CRUCIBLE_OWNER_LEN, (const char *)sb->owner,
	       (unsigned long long)le64_to_cpu(sb->volume_blocks),
	       le32_to_cpu(sb->region_blocks),
	       (unsigned long long)le64_to_cpu(sb->data_start),
	       le32_to_cpu(sb->flags), sb->leg_state[0], sb->leg_state[1],
	       sb->leg_state[2]);
}

/*
 * Was the region of @block ever stamped on this leg (its entry not all
 * zero)?  Then its records were initialised, and a blank one is lost.
 */
static bool region_stamped(int fd, const struct crucible_sb *s, unsigned long long block)
{
	struct crucible_region_entry e;
	struct crucible_region_meta m;
	unsigned long long region = block >> __builtin_ctz(le32_to_cpu(s->region_blocks));
	off_t at = (off_t)le64_to_cpu(s->region_table_start) * CRUCIBLE_BLOCK_SIZE +
		   (off_t)region * sizeof(e);
	void *buf;
	bool stamped = true;

	/* O_DIRECT: whole aligned blocks only. */
	if (posix_memalign(&buf, CRUCIBLE_BLOCK_SIZE, CRUCIBLE_BLOCK_SIZE))
		return true;
	if (pread(fd, buf, CRUCIBLE_BLOCK_SIZE, at & ~(off_t)(CRUCIBLE_BLOCK_SIZE - 1)) ==
	    CRUCIBLE_BLOCK_SIZE) {
		memcpy(&e, (char *)buf + (at & (CRUCIBLE_BLOCK_SIZE - 1)), sizeof(e));
		crucible_region_decode(&e, le64_to_cpu(s->seed), region, &m);
		stamped = m.stamped;
	}
	free(buf);
	return stamped;
}

/* Print the record of a volume block and check the leg's data against it. */
static int show_record(int fd, const char *dev, struct crucible_sb **sb,
		       const enum crucible_sb_verdict *v, const char *arg)
{
	const struct crucible_sb *s;
	struct crucible_record *recs;
	struct crucible_rec rec;
	unsigned long long block;
	void *buf;
	char *end;
	off_t at;
	int pick;

	pick = crucible_sb_pick(sb[0], v[0], sb[1], v[1]);
	if (pick < 0) {
		fprintf(stderr, "%s: no valid superblock\n", dev);
		return 1;
	}
	s = sb[pick];
	errno = 0;
	block = strtoull(arg, &end, 0);
	if (errno || !*arg || *end || block >= le64_to_cpu(s->volume_blocks))
		usage();
	if (posix_memalign(&buf, CRUCIBLE_BLOCK_SIZE, CRUCIBLE_BLOCK_SIZE)) {
		perror("posix_memalign");
		return 1;
	}
	at = (off_t)(le64_to_cpu(s->record_start) + block / CRUCIBLE_RECORDS_PER_BLOCK) *
	     CRUCIBLE_BLOCK_SIZE;
	if (pread(fd, buf, CRUCIBLE_BLOCK_SIZE, at) != CRUCIBLE_BLOCK_SIZE) {
		fprintf(stderr, "%s: cannot read the record block\n", dev);
		return 1;
	}
	recs = buf;
	if (!crucible_record_decode(&recs[block % CRUCIBLE_RECORDS_PER_BLOCK],
				    le64_to_cpu(s->seed), block,
				    region_stamped(fd, s, block), &rec)) {
		printf("block %llu: record %s\n", block,
		       crucible_record_blank(&recs[block % CRUCIBLE_RECORDS_PER_BLOCK]) ?
		       "lost (blank in a stamped region)" : "fails its check");
		free(buf);
		return 0;
	}
	at = (off_t)(le64_to_cpu(s->data_start) + block) * CRUCIBLE_BLOCK_SIZE;
	if (pread(fd, buf, CRUCIBLE_BLOCK_SIZE, at) != CRUCIBLE_BLOCK_SIZE) {
		fprintf(stderr, "%s: cannot read block %llu\n", dev, block);
		return 1;
	}
	if (rec.hash == CRUCIBLE_HASH_UNWRITTEN)
		printf("block %llu: unwritten\n", block);
	else
		printf("block %llu: hash %016llx flush %u, data %s\n", block,
		       (unsigned long long)rec.hash, rec.flush,
		       crucible_block_hash(buf) == rec.hash ? "matches" : "DIFFERS");
	free(buf);
	return 0;
}

/* Print a region's table entry as the target would decode it. */
static int show_region(int fd, const char *dev, struct crucible_sb **sb,
		       const enum crucible_sb_verdict *v, const char *arg)
{
	const struct crucible_sb *s;
	struct crucible_region_entry *e;
	struct crucible_region_meta m;
	struct crucible_geometry geo;
	unsigned long long region;
	void *buf;
	char *end;
	off_t at;
	int pick;

	pick = crucible_sb_pick(sb[0], v[0], sb[1], v[1]);
	if (pick < 0) {
		fprintf(stderr, "%s: no valid superblock\n", dev);
		return 1;
	}
	s = sb[pick];
	if (crucible_geometry_init(&geo, le64_to_cpu(s->volume_blocks),
				   le32_to_cpu(s->region_blocks)))
		return 1;
	errno = 0;
	region = strtoull(arg, &end, 0);
	if (errno || !*arg || *end || region >= geo.nr_regions)
		usage();
	if (posix_memalign(&buf, CRUCIBLE_BLOCK_SIZE, CRUCIBLE_BLOCK_SIZE)) {
		perror("posix_memalign");
		return 1;
	}
	at = (off_t)(geo.region_table_start + region / CRUCIBLE_ENTRIES_PER_BLOCK) *
	     CRUCIBLE_BLOCK_SIZE;
	if (pread(fd, buf, CRUCIBLE_BLOCK_SIZE, at) != CRUCIBLE_BLOCK_SIZE) {
		fprintf(stderr, "%s: cannot read the region table\n", dev);
		return 1;
	}
	e = (struct crucible_region_entry *)buf + region % CRUCIBLE_ENTRIES_PER_BLOCK;
	crucible_region_decode(e, le64_to_cpu(s->seed), region, &m);
	printf("region %llu: generation %llu flush %llu%s%s\n", region,
	       (unsigned long long)m.generation, (unsigned long long)m.flush,
	       m.dirty ? " dirty" : " clean", m.valid ? "" : " INVALID");
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	struct crucible_sb *sb[CRUCIBLE_SB_COPIES];
	enum crucible_sb_verdict v[CRUCIBLE_SB_COPIES];
	unsigned long long val;
	const char *cmd;
	int fd, i, pick, changed = 0;
	char *end;

	if (argc < 3)
		usage();
	cmd = argv[2];
	if (!((!strcmp(cmd, "show") && argc == 3) ||
	      (!strcmp(cmd, "get") && argc == 4) ||
	      (!strcmp(cmd, "set") && argc == 5) ||
	      (!strcmp(cmd, "record") && argc == 4) ||
	      (!strcmp(cmd, "region") && argc == 4)))
		usage();

	fd = open(argv[1], (!strcmp(cmd, "set") ? O_RDWR : O_RDONLY) | O_DIRECT);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	for (i = 0; i < CRUCIBLE_SB_COPIES; i++) {
		void *p;

		if (posix_memalign(&p, CRUCIBLE_BLOCK_SIZE, sizeof(**sb))) {
			perror("posix_memalign");
			return 1;
		}
		sb[i] = p;
		if (pread(fd, sb[i], sizeof(**sb), (off_t)i * CRUCIBLE_BLOCK_SIZE) !=
		    (ssize_t)sizeof(**sb)) {
			fprintf(stderr, "%s: cannot read superblock copy %d\n", argv[1], i);
			return 1;
		}
		v[i] = crucible_sb_check(sb[i]);
	}

	if (!strcmp(cmd, "show")) {
		for (i = 0; i < CRUCIBLE_SB_COPIES; i++)
			show(sb[i], i, v[i]);
		return 0;
	}
	if (!strcmp(cmd, "record"))
		return show_record(fd, argv[1], sb, v, argv[3]);
	if (!strcmp(cmd, "region"))
		return show_region(fd, argv[1], sb, v, argv[3]);
	if (!strcmp(cmd, "get")) {
		pick = crucible_sb_pick(sb[0], v[0], sb[1], v[1]);
		if (pick < 0) {
			fprintf(stderr, "%s: no valid superblock (%s, %s)\n", argv[1],
				crucible_sb_verdict_str(v[0]),
				crucible_sb_verdict_str(v[1]));
			return 1;
		}
		if (get_field(sb[pick], argv[3], &val)) {
			fprintf(stderr, "unknown field '%s'\n", argv[3]);
			return 2;
		}
		printf("%llu\n", val);
		return 0;
	}

	errno = 0;
	val = strtoull(argv[4], &end, 0);
	if (errno || !*argv[4] || *end)
		usage();
	for (i = 0; i < CRUCIBLE_SB_COPIES; i++) {
		if (v[i] == CRUCIBLE_SB_BLANK)
			continue;
		if (set_field(sb[i], argv[3], val)) {
			fprintf(stderr, "field '%s' cannot be set\n", argv[3]);
			return 2;
		}
		crucible_sb_seal(sb[i]);
		if (pwrite(fd, sb[i], sizeof(**sb), (off_t)i * CRUCIBLE_BLOCK_SIZE) !=
		    (ssize_t)sizeof(**sb)) {
			fprintf(stderr, "%s: cannot write superblock copy %d\n", argv[1], i);
			return 1;
		}
		changed++;
	}
	if (!changed) {
		fprintf(stderr, "%s: no superblock to change (blank leg)\n", argv[1]);
		return 1;
	}
	if (fsync(fd)) {
		perror("fsync");
		return 1;
	}
	close(fd);
	for (i = 0; i < CRUCIBLE_SB_COPIES; i++)
		free(sb[i]);
	return 0;
}

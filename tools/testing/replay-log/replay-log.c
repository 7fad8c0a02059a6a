// SPDX-License-Identifier: GPL-2.0
/*
 * replay-log: list and replay a dm-log-writes log, for crash-consistency
 * tests (Debian ships no xfstests, hence no replay-log of its own).
 *
 * The on-disk format is the one written by drivers/md/dm-log-writes.c
 * (log version 1), read here with explicit little-endian decoding:
 *
 *   byte 0:           super block, one log sector:
 *                       le64 magic, le64 version, le64 nr_entries,
 *                       le32 sectorsize
 *   byte sectorsize:  nr_entries times
 *                       [one log sector: le64 sector, le64 nr_sectors,
 *                        le64 flags, le64 data_len, mark text]
 *                       [nr_sectors * sectorsize bytes of data,
 *                        absent for DISCARD entries]
 *
 * sector and nr_sectors count units of sectorsize bytes (the logical block
 * size of the logged device), not 512-byte sectors.  Every user-visible
 * number this tool prints is in 512-byte sectors, like dmsetup and blockdev.
 *
 * Entries are numbered from 0.  --limit N applies entries 0..N-1, so the
 * state after a crash "just after entry i" is --limit i+1.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define PROGRAM_NAME	"replay-log"
#define PROGRAM_VERSION	"1.0"

/* From drivers/md/dm-log-writes.c. */
#define LOG_FLUSH_FLAG		(1ULL << 0)
#define LOG_FUA_FLAG		(1ULL << 1)
#define LOG_DISCARD_FLAG	(1ULL << 2)
#define LOG_MARK_FLAG		(1ULL << 3)
#define LOG_METADATA_FLAG	(1ULL << 4)
#define LOG_KNOWN_FLAGS		(LOG_FLUSH_FLAG | LOG_FUA_FLAG | \
				 LOG_DISCARD_FLAG | LOG_MARK_FLAG | \
				 LOG_METADATA_FLAG)
#define WRITE_LOG_VERSION	1ULL
#define WRITE_LOG_MAGIC		0x6a736677736872ULL

#define LOG_SUPER_BYTES		28	/* magic, version, nr_entries, sectorsize */
#define LOG_ENTRY_BYTES		32	/* struct log_write_entry */
#define MIN_SECTORSIZE		512
#define MAX_SECTORSIZE		65536
#define COPY_CHUNK		(1024 * 1024)

enum { EXIT_OK = 0, EXIT_ERROR = 1, EXIT_USAGE = 2 };

enum action { ACTION_NONE, ACTION_LIST, ACTION_REPLAY, ACTION_FIND, ACTION_FLUSHES };

struct options {
	const char *log_path;
	const char *replay_path;
	enum action action;
	bool have_limit;
	uint64_t limit;
	const char *end_mark;
	uint64_t start_entry;
	bool blkdiscard;
	bool help;
	bool version;
};

struct log {
	const char *path;
	int fd;
	uint64_t size;		/* bytes */
	uint32_t sectorsize;
	uint64_t nr_entries;
	uint64_t next_index;	/* entry found at next_offset */
	uint64_t next_offset;
	unsigned char *sector_buf;
};

struct log_entry {
	uint64_t index;
	uint64_t sector;	/* log sectorsize units, as stored */
	uint64_t nr_sectors;	/* log sectorsize units, as stored */
	uint64_t flags;
	uint64_t byte_offset;	/* on the replayed device */
	uint64_t byte_len;	/* on the replayed device */
	uint64_t data_offset;	/* in the log */
	const unsigned char *mark;	/* MARK entries: points into sector_buf */
	size_t mark_len;
};

struct replay_dev {
	const char *path;
	int fd;
	bool is_blkdev;
	uint64_t size;		/* bytes; block devices only */
	bool blkdiscard;
	unsigned char *buf;
	unsigned char *zeroes;
};

static void errmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void errmsg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROGRAM_NAME ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: " PROGRAM_NAME " --log LOG ACTION [RANGE]\n"
"List or replay a dm-log-writes log (drivers/md/dm-log-writes.c format).\n"
"\n"
"Actions (exactly one):\n"
"  --list              print one line per entry:\n"
"                        INDEX SECTOR NR_SECTORS FLAGS [MARK]\n"
"                      (sectors of 512 bytes; FLAGS is FLUSH|FUA|DISCARD|\n"
"                      MARK|METADATA joined with '|', or '-')\n"
"  --replay DEV        apply the entries' writes and discards to DEV\n"
"                      (a block device or a regular file; it must exist)\n"
"  --find              print the index of the mark named by --end-mark\n"
"  --flushes           print the index of every FLUSH or FUA entry\n"
"\n"
"Range (default: the whole log):\n"
"  --limit N           stop before entry N (entries 0..N-1)\n"
"  --end-mark NAME     stop after the first mark NAME at or after the start\n"
"  --start-entry N     begin at entry N (earlier entries are not applied,\n"
"                      listed or searched)\n"
"\n"
"Other options:\n"
"  --discard           replay discards on a block device with BLKDISCARD\n"
"                      (default: write zeroes there, so discarded blocks\n"
"                      read 0; regular files always get a punched hole)\n"
"  -h, --help          show this help\n"
"  -V, --version       show the version\n"
"\n"
"Exit status: 0 ok, 1 error (bad log, I/O error, mark not found), 2 usage.\n");
}

static bool parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

static int set_action(struct options *o, enum action a, const char *name)
{
	if (o->action != ACTION_NONE && o->action != a) {
		errmsg("%s cannot be combined with another action", name);
		return EXIT_USAGE;
	}
	o->action = a;
	return EXIT_OK;
}

/* Returns EXIT_OK, or EXIT_USAGE after printing why. */
static int parse_options(int argc, char **argv, struct options *o)
{
	enum { OPT_LOG = 256, OPT_REPLAY, OPT_LIMIT, OPT_END_MARK,
	       OPT_START_ENTRY, OPT_FIND, OPT_LIST, OPT_FLUSHES, OPT_DISCARD };
	static const struct option longopts[] = {
		{ "log",	 required_argument, NULL, OPT_LOG },
		{ "replay",	 required_argument, NULL, OPT_REPLAY },
		{ "limit",	 required_argument, NULL, OPT_LIMIT },
		{ "end-mark",	 required_argument, NULL, OPT_END_MARK },
		{ "start-entry", required_argument, NULL, OPT_START_ENTRY },
		{ "find",	 no_argument,	    NULL, OPT_FIND },
		{ "list",	 no_argument,	    NULL, OPT_LIST },
		{ "flushes",	 no_argument,	    NULL, OPT_FLUSHES },
		{ "discard",	 no_argument,	    NULL, OPT_DISCARD },
		{ "help",	 no_argument,	    NULL, 'h' },
		{ "version",	 no_argument,	    NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int c, r;

	memset(o, 0, sizeof(*o));
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
		r = EXIT_OK;
		switch (c) {
		case OPT_LOG:
			o->log_path = optarg;
			break;
		case OPT_REPLAY:
			o->replay_path = optarg;
			r = set_action(o, ACTION_REPLAY, "--replay");
			break;
		case OPT_LIMIT:
			if (!parse_u64(optarg, &o->limit)) {
				errmsg("--limit: '%s' is not an entry count", optarg);
				return EXIT_USAGE;
			}
			o->have_limit = true;
			break;
		case OPT_END_MARK:
			o->end_mark = optarg;
			break;
		case OPT_START_ENTRY:
			if (!parse_u64(optarg, &o->start_entry)) {
				errmsg("--start-entry: '%s' is not an entry index", optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_FIND:
			r = set_action(o, ACTION_FIND, "--find");
			break;
		case OPT_LIST:
			r = set_action(o, ACTION_LIST, "--list");
			break;
		case OPT_FLUSHES:
			r = set_action(o, ACTION_FLUSHES, "--flushes");
			break;
		case OPT_DISCARD:
			o->blkdiscard = true;
			break;
		case 'h':
			o->help = true;
			return EXIT_OK;
		case 'V':
			o->version = true;
			return EXIT_OK;
		default:
			if (optopt > 0 && optopt < 256)
				errmsg("option -%c: unknown or missing its argument", optopt);
			else
				errmsg("%s: unknown option or missing its argument",
				       argv[optind - 1]);
			return EXIT_USAGE;
		}
		if (r)
			return r;
	}
	if (optind < argc) {
		errmsg("unexpected argument: %s", argv[optind]);
		return EXIT_USAGE;
	}
	if (!o->log_path) {
		errmsg("--log LOG is required");
		return EXIT_USAGE;
	}
	if (o->action == ACTION_NONE) {
		errmsg("no action: give --list, --replay DEV, --find or --flushes");
		return EXIT_USAGE;
	}
	if (o->have_limit && o->end_mark) {
		errmsg("--limit and --end-mark both end the range: give one");
		return EXIT_USAGE;
	}
	if (o->action == ACTION_FIND && !o->end_mark) {
		errmsg("--find needs --end-mark NAME");
		return EXIT_USAGE;
	}
	if (o->blkdiscard && o->action != ACTION_REPLAY) {
		errmsg("--discard only applies to --replay");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static int pread_full(int fd, void *buf, size_t len, uint64_t off,
		      const char *path)
{
	unsigned char *p = buf;
	ssize_t n;

	while (len) {
		n = pread(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			errmsg("%s: read at byte %" PRIu64 ": %s", path, off,
			       strerror(errno));
			return -1;
		}
		if (n == 0) {
			errmsg("%s: truncated log: unexpected end of file at byte %" PRIu64,
			       path, off);
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int pwrite_full(int fd, const void *buf, size_t len, uint64_t off,
		       const char *path)
{
	const unsigned char *p = buf;
	ssize_t n;

	while (len) {
		n = pwrite(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			errmsg("%s: write at byte %" PRIu64 ": %s", path, off,
			       n < 0 ? strerror(errno) : "no progress");
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* Size in bytes of a regular file or block device; -1 for anything else. */
static int file_size(int fd, const char *path, bool *is_blkdev, uint64_t *size)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		errmsg("%s: stat: %s", path, strerror(errno));
		return -1;
	}
	*is_blkdev = S_ISBLK(st.st_mode);
	if (*is_blkdev) {
		if (ioctl(fd, BLKGETSIZE64, size) < 0) {
			errmsg("%s: BLKGETSIZE64: %s", path, strerror(errno));
			return -1;
		}
		return 0;
	}
	if (!S_ISREG(st.st_mode)) {
		errmsg("%s: not a regular file or block device", path);
		return -1;
	}
	*size = (uint64_t)st.st_size;
	return 0;
}

static uint64_t get_le64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static uint32_t get_le32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static int log_open(struct log *log, const char *path)
{
	unsigned char super[LOG_SUPER_BYTES];
	bool is_blkdev;
	uint64_t magic, version;

	memset(log, 0, sizeof(*log));
	log->path = path;
	log->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (log->fd < 0) {
		errmsg("%s: %s", path, strerror(errno));
		return -1;
	}
	if (file_size(log->fd, path, &is_blkdev, &log->size))
		goto fail;
	/*
	 * The log device may have been read (and cached) while dm-log-writes
	 * was still appending to it through bios: drop clean cached pages so
	 * that we read what is on the device now.
	 */
	if (is_blkdev)
		posix_fadvise(log->fd, 0, 0, POSIX_FADV_DONTNEED);

	if (log->size < LOG_SUPER_BYTES) {
		errmsg("%s: truncated log: %" PRIu64 " bytes, too short for a super block",
		       path, log->size);
		goto fail;
	}
	if (pread_full(log->fd, super, sizeof(super), 0, path))
		goto fail;
	magic = get_le64(super);
	version = get_le64(super + 8);
	log->nr_entries = get_le64(super + 16);
	log->sectorsize = get_le32(super + 24);
	if (magic != WRITE_LOG_MAGIC) {
		errmsg("%s: bad magic 0x%" PRIx64 " (a dm-log-writes log has 0x%llx)",
		       path, magic, WRITE_LOG_MAGIC);
		goto fail;
	}
	if (version != WRITE_LOG_VERSION) {
		errmsg("%s: unsupported log version %" PRIu64 " (this tool reads version %llu)",
		       path, version, WRITE_LOG_VERSION);
		goto fail;
	}
	if (log->sectorsize < MIN_SECTORSIZE || log->sectorsize > MAX_SECTORSIZE ||
	    (log->sectorsize & (log->sectorsize - 1))) {
		errmsg("%s: bad sectorsize %" PRIu32 " in the super block", path,
		       log->sectorsize);
		goto fail;
	}
	log->sector_buf = malloc(log->sectorsize);
	if (!log->sector_buf) {
		errmsg("out of memory");
		goto fail;
	}
	log->next_index = 0;
	log->next_offset = log->sectorsize;
	return 0;
fail:
	close(log->fd);
	log->fd = -1;
	return -1;
}

static void log_close(struct log *log)
{
	if (log->fd >= 0)
		close(log->fd);
	free(log->sector_buf);
}

static void log_rewind(struct log *log)
{
	log->next_index = 0;
	log->next_offset = log->sectorsize;
}

static int log_truncated(struct log *log, uint64_t index, uint64_t from,
			 uint64_t bytes, const char *what)
{
	errmsg("%s: truncated log: entry %" PRIu64 " %s needs bytes %" PRIu64
	       "..%" PRIu64 ", the log has %" PRIu64 " (super block says %" PRIu64
	       " entries)", log->path, index, what, from,
	       from + bytes - 1, log->size, log->nr_entries);
	return -1;
}

/*
 * Read and check the next entry header.  Returns 1 with *e filled in, 0 at
 * the end of the log, -1 on error.  The log layout is sequential, so entries
 * can only be reached by walking from the first one.
 */
static int log_next(struct log *log, struct log_entry *e)
{
	uint64_t ss = log->sectorsize, index = log->next_index;
	uint64_t off = log->next_offset, data_len, data_bytes;
	unsigned char *p = log->sector_buf;

	if (index >= log->nr_entries)
		return 0;
	if (off > log->size || log->size - off < ss)
		return log_truncated(log, index, off, ss, "header");
	if (pread_full(log->fd, p, ss, off, log->path))
		return -1;

	memset(e, 0, sizeof(*e));
	e->index = index;
	e->sector = get_le64(p);
	e->nr_sectors = get_le64(p + 8);
	e->flags = get_le64(p + 16);
	data_len = get_le64(p + 24);

	if (e->flags & ~LOG_KNOWN_FLAGS) {
		errmsg("%s: entry %" PRIu64 " at byte %" PRIu64 ": unknown flags 0x%" PRIx64,
		       log->path, index, off, e->flags);
		return -1;
	}
	if (e->nr_sectors > UINT64_MAX / ss || e->sector > UINT64_MAX / ss ||
	    e->sector * ss > UINT64_MAX - e->nr_sectors * ss) {
		errmsg("%s: entry %" PRIu64 ": sector %" PRIu64 " + %" PRIu64
		       " overflows a byte offset", log->path, index, e->sector,
		       e->nr_sectors);
		return -1;
	}
	e->byte_offset = e->sector * ss;
	e->byte_len = e->nr_sectors * ss;

	if (e->flags & LOG_MARK_FLAG) {
		/* dm-log-writes keeps the mark text inside the header sector. */
		if (data_len > ss - LOG_ENTRY_BYTES || e->nr_sectors) {
			errmsg("%s: entry %" PRIu64 ": malformed mark (data_len %" PRIu64
			       ", nr_sectors %" PRIu64 ")", log->path, index,
			       data_len, e->nr_sectors);
			return -1;
		}
		e->mark = p + LOG_ENTRY_BYTES;
		e->mark_len = strnlen((const char *)e->mark, data_len);
	} else if (data_len) {
		/* The kernel never logs inline data outside marks. */
		errmsg("%s: entry %" PRIu64 ": data_len %" PRIu64 " on a non-mark entry",
		       log->path, index, data_len);
		return -1;
	}

	/* Same accounting as log_writes_kthread()'s next_sector. */
	data_bytes = (e->flags & LOG_DISCARD_FLAG) ? 0 : e->byte_len;
	e->data_offset = off + ss;
	if (log->size - e->data_offset < data_bytes)
		return log_truncated(log, index, e->data_offset, data_bytes, "data");

	log->next_index = index + 1;
	log->next_offset = e->data_offset + data_bytes;
	return 1;
}

static bool entry_is_mark(const struct log_entry *e, const char *name)
{
	size_t len = strlen(name);

	return (e->flags & LOG_MARK_FLAG) && e->mark_len == len &&
	       !memcmp(e->mark, name, len);
}

/*
 * Work out the end of the range (exclusive entry index) and check every
 * entry header up to it, so that a damaged log or an unknown mark is
 * reported before anything is written.  With a replay device, also check
 * that every write of the range fits on it.
 */
static int find_range_end(struct log *log, const struct options *o,
			  const struct replay_dev *dev, uint64_t *end)
{
	struct log_entry e;
	uint64_t stop = o->have_limit ? o->limit : log->nr_entries;
	int r;

	if (o->have_limit && o->limit > log->nr_entries) {
		errmsg("%s: --limit %" PRIu64 " is beyond the end of the log (%" PRIu64
		       " entries)", log->path, o->limit, log->nr_entries);
		return -1;
	}
	if (o->start_entry > stop) {
		errmsg("%s: --start-entry %" PRIu64 " is past the end of the range (%" PRIu64
		       " entries)", log->path, o->start_entry, stop);
		return -1;
	}

	log_rewind(log);
	while (log->next_index < stop) {
		r = log_next(log, &e);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		if (dev && dev->is_blkdev && e.index >= o->start_entry &&
		    !(e.flags & LOG_MARK_FLAG) &&
		    e.byte_offset + e.byte_len > dev->size) {
			errmsg("%s: entry %" PRIu64 " covers bytes %" PRIu64 "..%" PRIu64
			       ", past the end of %s (%" PRIu64 " bytes)", log->path,
			       e.index, e.byte_offset, e.byte_offset + e.byte_len - 1,
			       dev->path, dev->size);
			return -1;
		}
		if (o->end_mark && e.index >= o->start_entry &&
		    entry_is_mark(&e, o->end_mark)) {
			*end = e.index + 1;
			return 0;
		}
	}
	if (o->end_mark) {
		errmsg("%s: mark '%s' not found (searched from entry %" PRIu64
		       " of %" PRIu64 ")", log->path, o->end_mark, o->start_entry,
		       log->nr_entries);
		return -1;
	}
	*end = stop;
	return 0;
}

static void print_flags(uint64_t flags)
{
	static const struct { uint64_t flag; const char *name; } names[] = {
		{ LOG_FLUSH_FLAG, "FLUSH" },
		{ LOG_FUA_FLAG, "FUA" },
		{ LOG_DISCARD_FLAG, "DISCARD" },
		{ LOG_MARK_FLAG, "MARK" },
		{ LOG_METADATA_FLAG, "METADATA" },
	};
	bool first = true;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++) {
		if (!(flags & names[i].flag))
			continue;
		printf("%s%s", first ? "" : "|", names[i].name);
		first = false;
	}
	if (first)
		putchar('-');
}

/* Mark text comes from a dmsetup message; keep the line one shell word. */
static void print_mark(const unsigned char *mark, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (mark[i] > ' ' && mark[i] < 0x7f && mark[i] != '\\')
			putchar(mark[i]);
		else
			printf("\\x%02x", mark[i]);
	}
}

static int print_entries(struct log *log, const struct options *o, uint64_t end)
{
	uint64_t per512 = log->sectorsize / 512;
	struct log_entry e;
	int r;

	log_rewind(log);
	while (log->next_index < end) {
		r = log_next(log, &e);
		if (r <= 0)
			return r;
		if (e.index < o->start_entry)
			continue;
		if (o->action == ACTION_FLUSHES) {
			if (e.flags & (LOG_FLUSH_FLAG | LOG_FUA_FLAG))
				printf("%" PRIu64 "\n", e.index);
			continue;
		}
		printf("%" PRIu64 " %" PRIu64 " %" PRIu64 " ", e.index,
		       e.sector * per512, e.nr_sectors * per512);
		print_flags(e.flags);
		if (e.flags & LOG_MARK_FLAG) {
			putchar(' ');
			print_mark(e.mark, e.mark_len);
		}
		putchar('\n');
	}
	return 0;
}

static int replay_dev_open(struct replay_dev *dev, const char *path, bool blkdiscard)
{
	struct stat st;
	int flags = O_RDWR | O_CLOEXEC;

	memset(dev, 0, sizeof(*dev));
	dev->path = path;
	dev->blkdiscard = blkdiscard;
	dev->fd = -1;
	/*
	 * Never create the target (a mistyped /dev path would silently become
	 * a regular file), and open block devices exclusively so that a leg
	 * still in use by a dm table is refused rather than scribbled on.
	 */
	if (stat(path, &st) < 0) {
		errmsg("%s: %s", path, strerror(errno));
		return -1;
	}
	if (S_ISBLK(st.st_mode))
		flags |= O_EXCL;
	dev->fd = open(path, flags);
	if (dev->fd < 0) {
		errmsg("%s: %s", path, strerror(errno));
		return -1;
	}
	if (file_size(dev->fd, path, &dev->is_blkdev, &dev->size))
		return -1;
	dev->buf = malloc(COPY_CHUNK);
	dev->zeroes = calloc(1, COPY_CHUNK);
	if (!dev->buf || !dev->zeroes) {
		errmsg("out of memory");
		return -1;
	}
	return 0;
}

static void replay_dev_close(struct replay_dev *dev)
{
	if (dev->fd >= 0)
		close(dev->fd);
	free(dev->buf);
	free(dev->zeroes);
}

static int replay_zeroes(struct replay_dev *dev, uint64_t off, uint64_t len)
{
	size_t n;

	while (len) {
		n = len < COPY_CHUNK ? (size_t)len : COPY_CHUNK;
		if (pwrite_full(dev->fd, dev->zeroes, n, off, dev->path))
			return -1;
		off += n;
		len -= n;
	}
	return 0;
}

/*
 * A discarded range reads back as zeroes: a hole punched in a regular file
 * (the part past its end reads as zeroes already, and stays a hole if a
 * later write extends the file), zeroes written on a block device, or
 * BLKDISCARD when asked for.  The work is bounded by the size of the target,
 * whatever length a damaged log claims.
 */
static int replay_discard(struct replay_dev *dev, const struct log_entry *e)
{
	uint64_t off = e->byte_offset, len = e->byte_len, range[2] = { off, len };
	struct stat st;

	if (dev->is_blkdev && dev->blkdiscard) {
		/* BLKDISCARD bypasses the page cache our writes went through. */
		if (fdatasync(dev->fd) < 0) {
			errmsg("%s: fdatasync: %s", dev->path, strerror(errno));
			return -1;
		}
		if (ioctl(dev->fd, BLKDISCARD, range) == 0)
			return 0;
		if (errno != EOPNOTSUPP && errno != EINVAL) {
			errmsg("%s: entry %" PRIu64 ": BLKDISCARD: %s", dev->path,
			       e->index, strerror(errno));
			return -1;
		}
	}
	if (dev->is_blkdev)
		return replay_zeroes(dev, off, len);

	if (fstat(dev->fd, &st) < 0) {
		errmsg("%s: stat: %s", dev->path, strerror(errno));
		return -1;
	}
	if (off >= (uint64_t)st.st_size)
		return 0;
	if (len > (uint64_t)st.st_size - off)
		len = (uint64_t)st.st_size - off;
	if (fallocate(dev->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)off, (off_t)len) == 0)
		return 0;
	if (errno != EOPNOTSUPP) {
		errmsg("%s: entry %" PRIu64 ": punching a hole: %s", dev->path,
		       e->index, strerror(errno));
		return -1;
	}
	return replay_zeroes(dev, off, len);
}

static int replay_entry(struct replay_dev *dev, struct log *log,
			const struct log_entry *e)
{
	uint64_t done = 0;
	size_t n;

	if ((e->flags & LOG_MARK_FLAG) || !e->byte_len)
		return 0;
	if (e->flags & LOG_DISCARD_FLAG)
		return replay_discard(dev, e);
	while (done < e->byte_len) {
		n = e->byte_len - done < COPY_CHUNK ? (size_t)(e->byte_len - done) : COPY_CHUNK;
		if (pread_full(log->fd, dev->buf, n, e->data_offset + done, log->path) ||
		    pwrite_full(dev->fd, dev->buf, n, e->byte_offset + done, dev->path))
			return -1;
		done += n;
	}
	return 0;
}

static int replay(struct log *log, struct replay_dev *dev,
		  const struct options *o, uint64_t end)
{
	struct log_entry e;
	int r;

	log_rewind(log);
	while (log->next_index < end) {
		r = log_next(log, &e);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		if (e.index >= o->start_entry && replay_entry(dev, log, &e))
			return -1;
	}
	/*
	 * The replayed device is about to be opened by a dm table, whose bios
	 * bypass this page cache: everything must be on the device first, and
	 * no cached copy may outlive later changes made underneath it.
	 */
	if (fsync(dev->fd) < 0) {
		errmsg("%s: fsync: %s", dev->path, strerror(errno));
		return -1;
	}
	if (dev->is_blkdev)
		posix_fadvise(dev->fd, 0, 0, POSIX_FADV_DONTNEED);
	return 0;
}

static int run(const struct options *o)
{
	struct replay_dev dev = { .fd = -1 };
	struct log log;
	uint64_t end;
	int r = -1;

	if (log_open(&log, o->log_path))
		return EXIT_ERROR;
	if (o->action == ACTION_REPLAY &&
	    replay_dev_open(&dev, o->replay_path, o->blkdiscard))
		goto out;
	if (find_range_end(&log, o, o->action == ACTION_REPLAY ? &dev : NULL, &end))
		goto out;

	switch (o->action) {
	case ACTION_FIND:
		printf("%" PRIu64 "\n", end - 1);
		r = 0;
		break;
	case ACTION_LIST:
	case ACTION_FLUSHES:
		r = print_entries(&log, o, end);
		break;
	case ACTION_REPLAY:
		r = replay(&log, &dev, o, end);
		break;
	case ACTION_NONE:
		break;
	}
out:
	replay_dev_close(&dev);
	log_close(&log);
	if (fflush(stdout) || ferror(stdout)) {
		errmsg("writing to standard output failed");
		r = -1;
	}
	return r ? EXIT_ERROR : EXIT_OK;
}

int main(int argc, char **argv)
{
	struct options o;
	int r;

	r = parse_options(argc, argv, &o);
	if (r) {
		fprintf(stderr, "Try '" PROGRAM_NAME " --help' for more information.\n");
		return r;
	}
	if (o.help) {
		usage(stdout);
		return EXIT_OK;
	}
	if (o.version) {
		printf(PROGRAM_NAME " (dm-crucible) " PROGRAM_VERSION "\n");
		return EXIT_OK;
	}
	return run(&o);
}

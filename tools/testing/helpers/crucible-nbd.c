// SPDX-License-Identifier: GPL-2.0
/*
 * crucible-nbd: drive userland/lib/nbd.c by hand, for the VM tests and
 * for an operator debugging a remote leg (Documentation/nbd.rst).
 *
 *   crucible-nbd handshake URI [--min-size SIZE]
 *       negotiate the export and print what the server said; exit 1 with
 *       the reason when it is refused
 *   crucible-nbd connect URI [--index N] [--timeout S] [--dead-timeout S]
 *                            [--backend ID] [--min-size SIZE]
 *       negotiate, hand the socket to the kernel, print /dev/nbdN
 *   crucible-nbd reconnect N URI [--backend ID]
 *       a new connection for /dev/nbdN, whose link died
 *   crucible-nbd disconnect N
 *   crucible-nbd status N
 *       "connected" or "disconnected"
 *   crucible-nbd watch [--count N]
 *       print "link-dead /dev/nbdN" for each NBD_CMD_LINK_DEAD event, after
 *       a first line "watching"; until killed or N events
 *
 * --connect-timeout MS limits the TCP connection and the handshake
 * (default 10000).  --backend defaults to the canonical URI, for connect
 * and reconnect alike.  Exit status: 0 done, 1 failed, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../userland/lib/log.h"
#include "../../../userland/lib/nbd.h"
#include "../../../userland/lib/nl.h"

#define PROG "crucible-nbd"
#define VERSION "0.1"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: " PROG " [options] COMMAND ARGS\n"
		"\n"
		"commands:\n"
		"  handshake URI          negotiate and print the export's size, flags and block sizes\n"
		"  connect URI            negotiate and connect a /dev/nbdN to the export (printed)\n"
		"  reconnect N URI        give /dev/nbdN, whose link died, a new connection\n"
		"  disconnect N           disconnect /dev/nbdN\n"
		"  status N               print 'connected' or 'disconnected'\n"
		"  watch                  print 'link-dead /dev/nbdN' for each dead link\n"
		"\n"
		"URI: nbd://host[:port]/export (port 10809 by default, IPv6 as [addr])\n"
		"\n"
		"options:\n"
		"  --index N              connect: use /dev/nbdN (default: the kernel picks)\n"
		"  --timeout S            connect: the kernel's per-request timeout\n"
		"  --dead-timeout S       connect: how long I/O waits for a reconnect\n"
		"  --backend ID           connect, reconnect: backend identifier (default: the URI)\n"
		"  --min-size BYTES       refuse smaller exports\n"
		"  --connect-timeout MS   limit on the TCP connection and handshake (10000)\n"
		"  --count N              watch: stop after N events\n"
		"  -v, --verbose          debug messages\n"
		"  -h, --help             this text\n"
		"  -V, --version          the version\n");
}

struct args {
	long index;
	uint64_t timeout_s;
	uint64_t dead_timeout_s;
	const char *backend;
	uint64_t min_size;
	int connect_timeout_ms;
	long count;
};

static int parse_num(const char *opt, const char *s, uint64_t max,
		     uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (!*s || *end || errno || v > max || *s == '-') {
		fprintf(stderr, PROG ": %s: '%s' is not a number from 0 to %" PRIu64 "\n",
			opt, s, max);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_uri(const char *s, struct cru_nbd_uri *u)
{
	struct cru_err err;

	if (cru_nbd_parse_uri(s, u, &err)) {
		fprintf(stderr, PROG ": %s\n", err.msg);
		return -1;
	}
	return 0;
}

static int parse_index(const char *s, int *index)
{
	uint64_t v;

	if (!strncmp(s, "/dev/nbd", 8))
		s += 8;
	if (parse_num("device", s, INT32_MAX, &v))
		return -1;
	*index = (int)v;
	return 0;
}

/* Exit status 1, with the reason. */
static int failed(const struct cru_err *err)
{
	fprintf(stderr, PROG ": %s\n", err->msg);
	return 1;
}

static struct cru_nbd_options options(const struct args *a)
{
	return (struct cru_nbd_options){
		.timeout_ms = a->connect_timeout_ms,
		.min_size = a->min_size,
	};
}

static int cmd_handshake(const struct args *a, const char *uri)
{
	struct cru_nbd_options o = options(a);
	struct cru_nbd_export ex;
	struct cru_nbd_uri u;
	struct cru_err err;
	char server[CRU_NBD_HOST_MAX + 16], flags[256];
	uint32_t bs;
	int fd;

	if (parse_uri(uri, &u))
		return 2;
	if (cru_nbd_open(&u, &o, &fd, &ex, &err))
		return failed(&err);
	close(fd);
	cru_nbd_format_server(&u, server, sizeof(server));
	cru_nbd_format_flags(ex.flags, flags, sizeof(flags));
	cru_nbd_block_size(&ex, &bs, NULL);
	printf("server %s\n", server);
	printf("export %s\n", u.export_name);
	printf("size %" PRIu64 "\n", ex.size);
	printf("flags 0x%04x %s\n", ex.flags, flags);
	printf("handshake_flags 0x%04x\n", ex.handshake_flags);
	printf("block_sizes %" PRIu32 " %" PRIu32 " %" PRIu32 "\n",
	       ex.min_block, ex.pref_block, ex.max_block);
	printf("block_size %" PRIu32 "\n", bs);
	printf("negotiation %s\n",
	       ex.export_name_fallback ? "NBD_OPT_EXPORT_NAME" : "NBD_OPT_GO");
	return 0;
}

static int cmd_connect(const struct args *a, const char *uri)
{
	struct cru_nbd_options o = options(a);
	struct cru_nbd_config c = {
		.index = (int)a->index,
		.timeout_s = a->timeout_s,
		.dead_conn_timeout_s = a->dead_timeout_s,
		.backend = a->backend,
	};
	struct cru_nbd_export ex;
	struct cru_nl *nl;
	struct cru_nbd_uri u;
	struct cru_err err;
	int index, ret;

	if (parse_uri(uri, &u))
		return 2;
	if (cru_nbd_nl_open(&nl, &err))
		return failed(&err);
	ret = cru_nbd_attach(nl, &u, &o, &c, &index, &ex, &err);
	cru_nl_close(nl);
	if (ret)
		return failed(&err);
	printf("/dev/nbd%d\n", index);
	return 0;
}

static int cmd_reconnect(const struct args *a, const char *dev,
			 const char *uri)
{
	struct cru_nbd_options o = options(a);
	struct cru_nbd_export ex;
	struct cru_nl *nl;
	struct cru_nbd_uri u;
	struct cru_err err;
	int index, ret;

	if (parse_index(dev, &index) || parse_uri(uri, &u))
		return 2;
	if (cru_nbd_nl_open(&nl, &err))
		return failed(&err);
	ret = cru_nbd_reattach(nl, index, &u, &o, a->backend, &ex, &err);
	cru_nl_close(nl);
	if (ret)
		return failed(&err);
	printf("/dev/nbd%d\n", index);
	return 0;
}

static int cmd_disconnect_or_status(const char *dev, bool status)
{
	struct cru_nl *nl;
	struct cru_err err;
	bool connected = false;
	int index, ret;

	if (parse_index(dev, &index))
		return 2;
	if (cru_nbd_nl_open(&nl, &err))
		return failed(&err);
	if (status)
		ret = cru_nbd_kernel_status(nl, index, &connected, &err);
	else
		ret = cru_nbd_kernel_disconnect(nl, index, &err);
	cru_nl_close(nl);
	if (ret)
		return failed(&err);
	if (status)
		printf("%s\n", connected ? "connected" : "disconnected");
	return 0;
}

static void print_link_dead(int index, void *arg)
{
	long *seen = arg;

	printf("link-dead /dev/nbd%d\n", index);
	(*seen)++;
}

static int cmd_watch(const struct args *a)
{
	struct cru_nl *nl;
	struct pollfd pfd;
	struct cru_err err;
	long seen = 0;
	int r;

	if (cru_nbd_nl_open_events(&nl, &err))
		return failed(&err);
	printf("watching\n");
	fflush(stdout);
	pfd.fd = cru_nl_fd(nl);
	pfd.events = POLLIN;
	while (!a->count || seen < a->count) {
		r = poll(&pfd, 1, -1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			perror(PROG ": poll");
			break;
		}
		r = cru_nbd_nl_read_events(nl, print_link_dead, &seen, &err);
		if (r == -ENOBUFS) {
			printf("events-lost\n");
		} else if (r < 0) {
			cru_nl_close(nl);
			return failed(&err);
		}
		fflush(stdout);
	}
	cru_nl_close(nl);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "index", required_argument, NULL, 'i' },
		{ "timeout", required_argument, NULL, 't' },
		{ "dead-timeout", required_argument, NULL, 'd' },
		{ "backend", required_argument, NULL, 'b' },
		{ "min-size", required_argument, NULL, 'm' },
		{ "connect-timeout", required_argument, NULL, 'c' },
		{ "count", required_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct args a = { .index = -1 };
	const char *cmd;
	uint64_t v;
	int c, npos;
	char **pos;

	log_init(PROG, LOG_TO_STDERR, LOG_LEVEL_INFO);
	signal(SIGPIPE, SIG_IGN);
	while ((c = getopt_long(argc, argv, "vhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (parse_num("--index", optarg, INT32_MAX, &v))
				return 2;
			a.index = (long)v;
			break;
		case 't':
			if (parse_num("--timeout", optarg, UINT32_MAX,
				      &a.timeout_s))
				return 2;
			break;
		case 'd':
			if (parse_num("--dead-timeout", optarg, UINT32_MAX,
				      &a.dead_timeout_s))
				return 2;
			break;
		case 'b':
			a.backend = optarg;
			break;
		case 'm':
			if (parse_num("--min-size", optarg, UINT64_MAX,
				      &a.min_size))
				return 2;
			break;
		case 'c':
			if (parse_num("--connect-timeout", optarg, INT32_MAX,
				      &v))
				return 2;
			a.connect_timeout_ms = (int)v;
			break;
		case 'n':
			if (parse_num("--count", optarg, INT32_MAX, &v))
				return 2;
			a.count = (long)v;
			break;
		case 'v':
			log_set_level(LOG_LEVEL_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf(PROG " " VERSION "\n");
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind];
	pos = argv + optind + 1;
	npos = argc - optind - 1;
#define NEED(n)                                                               \
	do {                                                                  \
		if (npos != (n)) {                                            \
			fprintf(stderr, PROG ": %s takes %d argument%s\n",    \
				cmd, (n), (n) == 1 ? "" : "s");               \
			return 2;                                             \
		}                                                             \
	} while (0)
	if (!strcmp(cmd, "handshake")) {
		NEED(1);
		return cmd_handshake(&a, pos[0]);
	}
	if (!strcmp(cmd, "connect")) {
		NEED(1);
		return cmd_connect(&a, pos[0]);
	}
	if (!strcmp(cmd, "reconnect")) {
		NEED(2);
		return cmd_reconnect(&a, pos[0], pos[1]);
	}
	if (!strcmp(cmd, "disconnect")) {
		NEED(1);
		return cmd_disconnect_or_status(pos[0], false);
	}
	if (!strcmp(cmd, "status")) {
		NEED(1);
		return cmd_disconnect_or_status(pos[0], true);
	}
	if (!strcmp(cmd, "watch")) {
		NEED(0);
		return cmd_watch(&a);
	}
	fprintf(stderr, PROG ": unknown command '%s' (try --help)\n", cmd);
	return 2;
}

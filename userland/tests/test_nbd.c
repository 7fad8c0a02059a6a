// SPDX-License-Identifier: GPL-2.0
/*
 * The NBD client of lib/nbd.c:
 *
 *   URIs, good and bad;
 *
 *   the handshake against a scripted fake server on a socketpair, which
 *   checks every byte the client sends and plays the broken and hostile
 *   servers no real one can be made into: wrong magic, truncated
 *   handshakes, oversized replies, absurd sizes, refusals, a server that
 *   does not know NBD_OPT_GO (the NBD_OPT_EXPORT_NAME fallback), one that
 *   says nothing;
 *
 *   the handshake against the real nbd-server and nbdkit on localhost
 *   over TCP: sizes, flags and block sizes, and the refusals they can be
 *   configured to give (unknown export, no fixed newstyle, oldstyle, size
 *   0, a size not a multiple of 512, an absurd size), with no descriptor
 *   left open after a failure;
 *
 *   the "nbd" netlink messages built and parsed without a kernel, and the
 *   error when the host has no nbd module.
 *
 * The fake speaks the protocol from literal bytes, not from nbd.c's
 * constants, so that a wrong constant there cannot agree with itself.
 */
#include "test.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <endian.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#include <linux/nbd-netlink.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>

#include "../lib/nbd.h"
#include "../lib/nbdleg.h"
#include "../lib/nl.h"

#define MIB (1024ULL * 1024)

/* ---- URIs */

static void parse_ok(const char *s, const char *host, unsigned int port,
		     const char *name)
{
	struct cru_nbd_uri u;
	struct cru_err err = { "" };
	int ret = cru_nbd_parse_uri(s, &u, &err);

	if (ret)
		fail_msg("'%s' refused: %s", s, err.msg);
	assert_string_equal(u.host, host);
	assert_int_equal(u.port, port);
	assert_string_equal(u.export_name, name);
}

static void uri_forms_are_parsed(void **state)
{
	(void)state;
	parse_ok("nbd://server/disk0", "server", 10809, "disk0");
	parse_ok("nbd://10.0.0.2:10810/leg-b", "10.0.0.2", 10810, "leg-b");
	parse_ok("nbd://[::1]:2000/x", "::1", 2000, "x");
	parse_ok("nbd://[fe80::1:2]/x", "fe80::1:2", 10809, "x");
	parse_ok("nbd://host.example.org", "host.example.org", 10809, "");
	parse_ok("nbd://host/", "host", 10809, "");
	parse_ok("nbd://h:1/a/b", "h", 1, "a/b");
	parse_ok("nbd://h:65535/disk%201%2F2", "h", 65535, "disk 1/2");
}

static void uri_round_trips(void **state)
{
	static const char *const uris[] = {
		"nbd://server:10809/disk0",
		"nbd://[::1]:2000/a/b",
		"nbd://h:7/with%20space%25",
		"nbd://h:10809/",
	};
	char buf[CRU_NBD_URI_MAX];
	struct cru_nbd_uri u;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(uris); i++) {
		assert_int_equal(cru_nbd_parse_uri(uris[i], &u, NULL), 0);
		cru_nbd_format_uri(&u, buf, sizeof(buf));
		assert_string_equal(buf, uris[i]);
	}
	assert_int_equal(cru_nbd_parse_uri("nbd://h/x", &u, NULL), 0);
	cru_nbd_format_uri(&u, buf, sizeof(buf));
	assert_string_equal(buf, "nbd://h:10809/x");
	cru_nbd_format_server(&u, buf, sizeof(buf));
	assert_string_equal(buf, "h:10809");
}

static void parse_bad(const char *s, const char *why)
{
	struct cru_nbd_uri u;
	struct cru_err err = { "" };

	if (!cru_nbd_parse_uri(s, &u, &err))
		fail_msg("'%s' accepted (host '%s', port %u, export '%s')", s,
			 u.host, u.port, u.export_name);
	assert_contains(err.msg, why);
}

static void bad_uris_are_refused_with_a_reason(void **state)
{
	char *longname;

	(void)state;
	parse_bad("http://h/x", "not an NBD URI");
	parse_bad("nbd:/h/x", "not an NBD URI");
	parse_bad("/dev/sdb", "not an NBD URI");
	parse_bad("nbds://h/x", "TLS");
	parse_bad("nbd+unix:///x?socket=/s", "only nbd:// over TCP");
	parse_bad("nbd://", "no host");
	parse_bad("nbd:///x", "no host");
	parse_bad("nbd://:10809/x", "no host");
	parse_bad("nbd://h:/x", "without a port");
	parse_bad("nbd://h:0/x", "1 to 65535");
	parse_bad("nbd://h:65536/x", "1 to 65535");
	parse_bad("nbd://h:12a/x", "1 to 65535");
	parse_bad("nbd://h:0000010809/x", "1 to 65535");
	parse_bad("nbd://[::1/x", "without ']'");
	parse_bad("nbd://[]/x", "bad IPv6");
	parse_bad("nbd://[zz::1]/x", "not an IPv6 address");
	parse_bad("nbd://[::1]x/y", "junk after");
	parse_bad("nbd://ho st/x", "not allowed in a host name");
	parse_bad("nbd://user@h/x", "user information");
	parse_bad("nbd://h/x?tls=on", "query");
	parse_bad("nbd://h/x#frag", "query and fragment");
	parse_bad("nbd://h/%zz", "bad %-escape");
	parse_bad("nbd://h/%4", "bad %-escape");
	parse_bad("nbd://h/a%00b", "NUL");
	parse_bad("nbd://h/a b", "control character or space");
	parse_bad("nbd://h/a\tb", "control character or space");

	longname = malloc(CRU_NBD_EXPORT_MAX + 32);
	assert_non_null(longname);
	strcpy(longname, "nbd://h/");
	memset(longname + 8, 'x', CRU_NBD_EXPORT_MAX + 1);
	longname[8 + CRU_NBD_EXPORT_MAX + 1] = '\0';
	parse_bad(longname, "longer than 4096");
	longname[8 + CRU_NBD_EXPORT_MAX] = '\0';
	parse_ok(longname, "h", 10809, longname + 8);
	free(longname);
}

/* ---- the scripted fake server */

struct fake;
typedef void (*script_fn)(struct fake *f);

struct fake {
	int fd;
	script_fn script;
	pthread_t thread;
	char problem[512];	/* the first thing the client got wrong */
	size_t extra;		/* bytes the client sent after the script */
	bool expect_abort;	/* the client must leave with NBD_OPT_ABORT */
	bool expect_disc;	/* ... or with NBD_CMD_DISC */
	sem_t scripted;		/* posted when the script has run */
	/* What the scripts send. */
	uint16_t hflags;
	uint64_t size;
	uint16_t flags;
	uint32_t bs[3];
	uint32_t err_type;
	const char *err_text;
	const char *name;	/* the export the client asks for */
};

__attribute__((format(printf, 2, 3)))
static void problem(struct fake *f, const char *fmt, ...)
{
	va_list ap;

	if (f->problem[0])
		return;
	va_start(ap, fmt);
	vsnprintf(f->problem, sizeof(f->problem), fmt, ap);
	va_end(ap);
}

static void f_send(struct fake *f, const void *buf, size_t len)
{
	/* The client may have hung up already: that is its right. */
	if (send(f->fd, buf, len, MSG_NOSIGNAL) != (ssize_t)len)
		return;
}

static void f_be16(struct fake *f, uint16_t v)
{
	v = htobe16(v);
	f_send(f, &v, 2);
}

static void f_be32(struct fake *f, uint32_t v)
{
	v = htobe32(v);
	f_send(f, &v, 4);
}

static void f_be64(struct fake *f, uint64_t v)
{
	v = htobe64(v);
	f_send(f, &v, 8);
}

/* Read exactly @len bytes: false at the end of the stream or a timeout. */
static bool f_recv(struct fake *f, void *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = recv(f->fd, (char *)buf + done, len - done, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		done += n;
	}
	return true;
}

/* The client must send exactly @want now. */
static void f_expect(struct fake *f, const void *want, size_t len,
		     const char *what)
{
	uint8_t *got = malloc(len);
	size_t i;

	assert_non_null(got);
	if (!f_recv(f, got, len)) {
		problem(f, "%s: the client sent fewer than %zu bytes", what,
			len);
	} else if (memcmp(got, want, len)) {
		for (i = 0; got[i] == ((const uint8_t *)want)[i]; i++)
			;
		problem(f, "%s: byte %zu is 0x%02x, expected 0x%02x", what, i,
			got[i], ((const uint8_t *)want)[i]);
	}
	free(got);
}

/* Big-endian bytes into a buffer. */
static size_t be(uint8_t *p, uint64_t v, int bytes)
{
	int i;

	for (i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
	return bytes;
}

static void greet(struct fake *f)
{
	f_send(f, "NBDMAGIC", 8);
	f_send(f, "IHAVEOPT", 8);
	f_be16(f, f->hflags);
}

static void expect_cflags(struct fake *f)
{
	uint8_t want[4];

	/* FIXED_NEWSTYLE, and NO_ZEROES exactly when it was offered. */
	be(want, 1 | (f->hflags & 2), 4);
	f_expect(f, want, 4, "client flags");
}

/* NBD_OPT_GO for f->name with one info request: NBD_INFO_BLOCK_SIZE. */
static void expect_go(struct fake *f)
{
	size_t n = strlen(f->name), len = 0;
	uint8_t want[64 + 256];

	assert_true(n < 256);
	memcpy(want, "IHAVEOPT", 8);
	len = 8;
	len += be(want + len, 7, 4);
	len += be(want + len, 4 + n + 2 + 2, 4);
	len += be(want + len, n, 4);
	memcpy(want + len, f->name, n);
	len += n;
	len += be(want + len, 1, 2);
	len += be(want + len, 3, 2);
	f_expect(f, want, len, "NBD_OPT_GO");
}

/* How every script starts: greeting, client flags, NBD_OPT_GO. */
static void until_go(struct fake *f)
{
	greet(f);
	expect_cflags(f);
	expect_go(f);
}

static void reply_hdr(struct fake *f, uint32_t opt, uint32_t type,
		      uint32_t len)
{
	f_be64(f, 0x0003e889045565a9ULL);
	f_be32(f, opt);
	f_be32(f, type);
	f_be32(f, len);
}

static void info_export(struct fake *f)
{
	reply_hdr(f, 7, 3, 12);
	f_be16(f, 0);
	f_be64(f, f->size);
	f_be16(f, f->flags);
}

static void info_block_size(struct fake *f)
{
	reply_hdr(f, 7, 3, 14);
	f_be16(f, 3);
	f_be32(f, f->bs[0]);
	f_be32(f, f->bs[1]);
	f_be32(f, f->bs[2]);
}

static void ack(struct fake *f)
{
	reply_hdr(f, 7, 1, 0);
}

static void error_reply(struct fake *f)
{
	size_t n = f->err_text ? strlen(f->err_text) : 0;

	reply_hdr(f, 7, f->err_type, (uint32_t)n);
	f_send(f, f->err_text, n);
}

/* The usual server: greeting, GO answered with a name, the export, its
 * block sizes, ACK. */
static void script_go(struct fake *f)
{
	until_go(f);
	/* NBD_INFO_NAME: the client must skip info types it does not use. */
	reply_hdr(f, 7, 3, 2 + 5);
	f_be16(f, 1);
	f_send(f, "disk0", 5);
	info_export(f);
	if (f->bs[0])
		info_block_size(f);
	ack(f);
}

static void script_go_refused(struct fake *f)
{
	until_go(f);
	error_reply(f);
	f->expect_abort = true;
}

/* A server from before NBD_OPT_GO: NBD_REP_ERR_UNSUP, then EXPORT_NAME. */
static void script_export_name(struct fake *f)
{
	size_t n = strlen(f->name);
	uint8_t want[16 + 256], zeroes[124] = { 0 };

	until_go(f);
	f->err_type = 0x80000001;
	error_reply(f);
	memcpy(want, "IHAVEOPT", 8);
	be(want + 8, 1, 4);
	be(want + 12, n, 4);
	memcpy(want + 16, f->name, n);
	f_expect(f, want, 16 + n, "NBD_OPT_EXPORT_NAME");
	f_be64(f, f->size);
	f_be16(f, f->flags);
	if (!(f->hflags & 2))
		f_send(f, zeroes, sizeof(zeroes));
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	uint8_t buf[256];
	ssize_t n;

	f->script(f);
	sem_post(&f->scripted);
	if (f->expect_abort) {
		static const uint8_t abort_opt[16] = {
			'I', 'H', 'A', 'V', 'E', 'O', 'P', 'T', 0, 0, 0, 2,
			0, 0, 0, 0
		};
		f_expect(f, abort_opt, sizeof(abort_opt), "NBD_OPT_ABORT");
	}
	if (f->expect_disc) {
		uint8_t disc[28] = { 0x25, 0x60, 0x95, 0x13, 0, 0, 0, 2 };

		f_expect(f, disc, sizeof(disc), "NBD_CMD_DISC");
	}
	/* Whatever else the client sends is a mistake. */
	while ((n = recv(f->fd, buf, sizeof(buf), 0)) > 0)
		f->extra += n;
	close(f->fd);
	return NULL;
}

/* Negotiate f->name with the fake running @script; the result and *ex. */
static int run_fake(struct fake *f, script_fn script, int timeout_ms,
		    uint64_t min_size, struct cru_nbd_export *ex,
		    struct cru_err *err)
{
	struct cru_nbd_options o = { .timeout_ms = timeout_ms,
				     .min_size = min_size };
	struct timeval tv = { .tv_sec = 5 };
	int sv[2], ret;

	if (!f->name)
		f->name = "disk0";
	f->script = script;
	sem_init(&f->scripted, 0, 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	f->fd = sv[1];
	/* A client that stops talking must not hang the fake. */
	setsockopt(f->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
	err->msg[0] = '\0';
	ret = cru_nbd_handshake(sv[0], "fake:10809", f->name, &o, ex, err);
	/* The handshake leaves the descriptor as it found it: blocking. */
	assert_false(fcntl(sv[0], F_GETFL) & O_NONBLOCK);
	if (!ret) {
		struct timespec until;
		char c;

		/*
		 * Once the server has said everything, nothing of the
		 * handshake may be left unread: the kernel would take it
		 * for a reply.
		 */
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 5;
		assert_int_equal(sem_timedwait(&f->scripted, &until), 0);
		if (recv(sv[0], &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0)
			fail_msg("the handshake left bytes of the server unread");
	}
	close(sv[0]);
	pthread_join(f->thread, NULL);
	if (f->problem[0])
		fail_msg("the client broke the protocol: %s", f->problem);
	assert_int_equal(f->extra, 0);
	return ret;
}

static struct fake good_server(void)
{
	return (struct fake){
		.hflags = 3, .size = 64 * MIB, .flags = 0x2d,
		.bs = { 512, 4096, 32 * 1024 * 1024 },
	};
}

static void go_negotiates_size_flags_and_block_sizes(void **state)
{
	struct fake f = good_server();
	struct cru_nbd_export ex;
	struct cru_err err;
	uint32_t bs;

	(void)state;
	assert_int_equal(run_fake(&f, script_go, 0, 0, &ex, &err), 0);
	assert_int_equal(ex.size, 64 * MIB);
	assert_int_equal(ex.flags, 0x2d);
	assert_int_equal(ex.handshake_flags, 3);
	assert_int_equal(ex.min_block, 512);
	assert_int_equal(ex.pref_block, 4096);
	assert_int_equal(ex.max_block, 32 * 1024 * 1024);
	assert_false(ex.export_name_fallback);
	assert_int_equal(cru_nbd_block_size(&ex, &bs, &err), 0);
	assert_int_equal(bs, 512);
}

static void no_zeroes_is_asked_for_only_when_offered(void **state)
{
	struct fake f = good_server();
	struct cru_nbd_export ex;
	struct cru_err err;

	(void)state;
	f.hflags = 1;
	f.bs[0] = 0;	/* and no NBD_INFO_BLOCK_SIZE at all */
	assert_int_equal(run_fake(&f, script_go, 0, 0, &ex, &err), 0);
	assert_int_equal(ex.size, 64 * MIB);
	assert_int_equal(ex.min_block, 0);
}

static void block_size_is_the_servers_minimum(void **state)
{
	struct fake f = good_server();
	struct cru_nbd_export ex;
	struct cru_err err;
	uint32_t bs;

	(void)state;
	f.bs[0] = 4096;
	assert_int_equal(run_fake(&f, script_go, 0, 0, &ex, &err), 0);
	assert_int_equal(cru_nbd_block_size(&ex, &bs, &err), 0);
	assert_int_equal(bs, 4096);
}

static void export_name_fallback_without_zeroes(void **state)
{
	struct fake f = good_server();
	struct cru_nbd_export ex;
	struct cru_err err;

	(void)state;
	f.name = "old-leg";
	/* A short time limit: waiting for 124 zeroes that never come fails. */
	assert_int_equal(run_fake(&f, script_export_name, 2000, 0, &ex, &err),
			 0);
	assert_true(ex.export_name_fallback);
	assert_int_equal(ex.size, 64 * MIB);
	assert_int_equal(ex.flags, 0x2d);
}

static void export_name_fallback_with_zeroes(void **state)
{
	struct fake f = good_server();
	struct cru_nbd_export ex;
	struct cru_err err;

	(void)state;
	f.hflags = 1;
	assert_int_equal(run_fake(&f, script_export_name, 0, 0, &ex, &err), 0);
	assert_true(ex.export_name_fallback);
	assert_int_equal(ex.size, 64 * MIB);
}

/* A server's bytes, then it closes. */
struct raw {
	const void *bytes;
	size_t len;
};
static struct raw raw_bytes;

static void script_raw(struct fake *f)
{
	f_send(f, raw_bytes.bytes, raw_bytes.len);
	shutdown(f->fd, SHUT_WR);
}

static void expect_raw_refused(const void *bytes, size_t len,
			       const char *why)
{
	struct fake f = good_server();
	struct cru_nbd_export ex;
	struct cru_err err;

	raw_bytes = (struct raw){ bytes, len };
	assert_true(run_fake(&f, script_raw, 2000, 0, &ex, &err) < 0);
	assert_contains(err.msg, "NBD server fake:10809");
	assert_contains(err.msg, why);
}

static void broken_greetings_are_refused(void **state)
{
	static const char http[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
	static const uint8_t oldstyle[] = {
		'N', 'B', 'D', 'M', 'A', 'G', 'I', 'C',
		0, 0, 0x42, 0x02, 0x81, 0x86, 0x12, 0x53,
	};
	static const char not_ihaveopt[] = "NBDMAGICIHAVEOPX\0\3";
	static const char no_fixed[] = "NBDMAGICIHAVEOPT\0\0";

	(void)state;
	expect_raw_refused(http, sizeof(http) - 1, "wrong magic 0x48545450");
	expect_raw_refused(oldstyle, sizeof(oldstyle), "oldstyle");
	expect_raw_refused(not_ihaveopt, 18, "expected IHAVEOPT");
	expect_raw_refused(no_fixed, 18, "fixed newstyle");
	expect_raw_refused("", 0, "truncated handshake");
	expect_raw_refused("NBDMAGICIHAV", 12,
			   "truncated handshake: the connection closed while reading the greeting (12 of 16 bytes)");
	expect_raw_refused("NBDMAGICIHAVEOPT\0", 17, "truncated handshake");
}

/* Scripts for broken answers to NBD_OPT_GO. */
static void script_truncated_reply(struct fake *f)
{
	until_go(f);
	f_be64(f, 0x0003e889045565a9ULL);
	f_be32(f, 7);
	shutdown(f->fd, SHUT_WR);
}

static void script_truncated_info(struct fake *f)
{
	until_go(f);
	reply_hdr(f, 7, 3, 12);
	f_be16(f, 0);
	f_be32(f, 1);
	shutdown(f->fd, SHUT_WR);
}

static void script_huge_reply(struct fake *f)
{
	until_go(f);
	reply_hdr(f, 7, 3, 65537);
}

static void script_wrong_reply_magic(struct fake *f)
{
	until_go(f);
	f_be64(f, 0x0003e889045565a8ULL);
	f_be32(f, 7);
	f_be32(f, 1);
	f_be32(f, 0);
}

static void script_reply_to_other_option(struct fake *f)
{
	until_go(f);
	reply_hdr(f, 6, 1, 0);
}

static void script_ack_without_export(struct fake *f)
{
	until_go(f);
	ack(f);
}

static void script_bad_info_export(struct fake *f)
{
	until_go(f);
	reply_hdr(f, 7, 3, 10);
	f_be16(f, 0);
	f_be64(f, f->size);
}

static void script_unexpected_type(struct fake *f)
{
	until_go(f);
	reply_hdr(f, 7, 2, 0);	/* NBD_REP_SERVER */
}

static void script_silent(struct fake *f)
{
	until_go(f);
	/* ... and nothing: the client gives up at its deadline. */
}

static void expect_refused(script_fn script, struct fake f, uint64_t min_size,
			   const char *why)
{
	struct cru_nbd_export ex;
	struct cru_err err;
	int ret;

	ret = run_fake(&f, script, 2000, min_size, &ex, &err);
	if (!ret)
		fail_msg("accepted (size %llu), expected '%s'",
			 (unsigned long long)ex.size, why);
	assert_contains(err.msg, "NBD server fake:10809");
	assert_contains(err.msg, why);
}

static void broken_replies_are_refused(void **state)
{
	struct fake f = good_server();

	(void)state;
	expect_refused(script_truncated_reply, f, 0, "truncated handshake");
	expect_refused(script_truncated_info, f, 0, "truncated handshake");
	expect_refused(script_huge_reply, f, 0,
		       "option reply of 65537 bytes (more than 65536)");
	expect_refused(script_wrong_reply_magic, f, 0,
		       "wrong option reply magic 0x0003e889045565a8");
	expect_refused(script_reply_to_other_option, f, 0,
		       "reply for option 6 to NBD_OPT_GO");
	expect_refused(script_ack_without_export, f, 0, "no NBD_INFO_EXPORT");
	expect_refused(script_bad_info_export, f, 0,
		       "NBD_INFO_EXPORT of 10 bytes, expected 12");
	expect_refused(script_unexpected_type, f, 0, "unexpected reply type 2");
}

static void silent_server_times_out(void **state)
{
	struct fake f = good_server();
	struct cru_nbd_export ex;
	struct cru_err err;
	struct timespec t0, t1;
	long ms;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(run_fake(&f, script_silent, 300, 0, &ex, &err),
			 -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_contains(err.msg, "no progress within 300 ms");
	assert_true(ms >= 290 && ms < 3000);
}

static void absurd_sizes_are_refused(void **state)
{
	struct fake f = good_server();

	(void)state;
	f.expect_disc = true;	/* the export was negotiated: leave politely */
	f.size = 0;
	expect_refused(script_go, f, 0, "export 'disk0' is empty (size 0)");
	f.size = 64 * MIB + 100;
	expect_refused(script_go, f, 0, "not a multiple of 512");
	f.size = (1ULL << 62) + 512;
	expect_refused(script_go, f, 0, "absurd size of 4611686018427388416");
	f.size = UINT64_MAX;
	expect_refused(script_go, f, 0, "absurd size");
	f.size = 64 * MIB;
	expect_refused(script_go, f, 64 * MIB + 4096,
		       "fewer than the 67112960 needed");
	/* A block size the kernel cannot use (more than a page). */
	f.bs[0] = 8192;
	f.bs[1] = 8192;
	expect_refused(script_go, f, 0, "more than the kernel's client can use");
	/* The same through the fallback. */
	f = good_server();
	f.expect_disc = true;
	f.size = 12345;
	expect_refused(script_export_name, f, 0, "not a multiple of 512");
}

static void bad_block_sizes_are_refused(void **state)
{
	struct fake f = good_server();

	(void)state;
	f.bs[0] = 3;
	expect_refused(script_go, f, 0,
		       "minimum block size 3 is not a power of two");
	f = good_server();
	f.bs[1] = 256;
	expect_refused(script_go, f, 0, "preferred block size 256");
	f = good_server();
	f.bs[2] = 1000;
	expect_refused(script_go, f, 0, "maximum block size 1000");
}

static void refusals_name_the_reason_and_quote_the_server(void **state)
{
	struct fake f = good_server();

	(void)state;
	f.err_type = 0x80000006;	/* NBD_REP_ERR_UNKNOWN */
	f.err_text = "export 'disk0' not found";
	expect_refused(script_go_refused, f, 0,
		       "export 'disk0' refused: no such export (\"export 'disk0' not found\")");
	f.err_type = 0x80000002;	/* POLICY, no text */
	f.err_text = NULL;
	expect_refused(script_go_refused, f, 0,
		       "refused by the server's policy");
	f.err_type = 0x80000005;	/* TLS_REQD */
	f.err_text = "TLS\nrequired\x01";	/* not printable: quoted safely */
	expect_refused(script_go_refused, f, 0, "requires TLS");
	expect_refused(script_go_refused, f, 0, "(\"TLS?required?\")");
	f.err_type = 0x8000000a;	/* EXT_HEADER_REQD */
	expect_refused(script_go_refused, f, 0, "extended headers");
	f.err_type = 0x80000077;
	f.err_text = "?";
	expect_refused(script_go_refused, f, 0, "error 0x80000077");
}

/* ---- servers over TCP: descriptors, connection errors */

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own */
}

/* A TCP listener on 127.0.0.1 with a free port. */
static int listen_local(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

struct tcp_fake {
	int lfd;
	struct fake f;
};

static void *tcp_fake_main(void *arg)
{
	struct tcp_fake *t = arg;

	t->f.fd = accept(t->lfd, NULL, NULL);
	if (t->f.fd < 0)
		return NULL;
	return fake_main(&t->f);
}

static void open_leaves_no_descriptor_when_refused(void **state)
{
	struct tcp_fake t = { .f = good_server() };
	struct cru_nbd_export ex;
	struct cru_nbd_uri u;
	struct cru_err err;
	char uri[64];
	pthread_t th;
	uint16_t port;
	int before, fd = 7;

	(void)state;
	t.lfd = listen_local(&port);
	t.f.name = "leg";
	t.f.size = 1000;
	t.f.expect_disc = true;
	t.f.script = script_go;
	sem_init(&t.f.scripted, 0, 0);
	snprintf(uri, sizeof(uri), "nbd://127.0.0.1:%u/leg", port);
	assert_int_equal(cru_nbd_parse_uri(uri, &u, &err), 0);
	before = open_fds();
	assert_int_equal(pthread_create(&th, NULL, tcp_fake_main, &t), 0);
	assert_int_equal(cru_nbd_open(&u, NULL, &fd, &ex, &err), -EINVAL);
	pthread_join(th, NULL);
	assert_contains(err.msg, "NBD server 127.0.0.1:");
	assert_contains(err.msg, "not a multiple of 512");
	assert_int_equal(fd, -1);
	/* The fake closed its side; the client closed its own. */
	assert_int_equal(open_fds(), before);
	assert_null(t.f.problem[0] ? t.f.problem : NULL);
	close(t.lfd);
}

static void connection_refused_is_reported(void **state)
{
	struct cru_nbd_export ex;
	struct cru_nbd_uri u;
	struct cru_err err;
	char uri[64];
	uint16_t port;
	int before, fd;

	(void)state;
	/* A port nobody listens on: taken, then released. */
	close(listen_local(&port));
	snprintf(uri, sizeof(uri), "nbd://127.0.0.1:%u/x", port);
	assert_int_equal(cru_nbd_parse_uri(uri, &u, &err), 0);
	before = open_fds();
	assert_int_equal(cru_nbd_open(&u, NULL, &fd, &ex, &err), -ECONNREFUSED);
	assert_contains(err.msg, "cannot connect: Connection refused");
	assert_int_equal(open_fds(), before);

	assert_int_equal(cru_nbd_parse_uri("nbd://no-such-host.invalid/x", &u,
					   &err), 0);
	assert_int_equal(cru_nbd_open(&u, NULL, &fd, &ex, &err), -EHOSTUNREACH);
	assert_contains(err.msg, "cannot resolve 'no-such-host.invalid'");
	assert_int_equal(open_fds(), before);
}

/* ---- real servers: nbdkit and nbd-server on localhost */

struct server {
	pid_t pid;
	uint16_t port;
	char *dir;
	char log[512];
};

/* Is something listening on 127.0.0.1:@port?  (No probe connection: an
 * nbd-server -d serves exactly one.) */
static bool listening(uint16_t port)
{
	char line[512], want[32];
	FILE *f = fopen("/proc/net/tcp", "re");
	bool found = false;

	assert_non_null(f);
	/* local_address 0100007F:PORT, state 0A (LISTEN) */
	snprintf(want, sizeof(want), "0100007F:%04X 00000000:0000 0A", port);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, want) != NULL;
	fclose(f);
	return found;
}

/* Run @argv (argv[0] found in PATH) in the background until it listens. */
static bool server_start(struct server *s, char *const argv[])
{
	char logpath[600];
	int i, status;

	snprintf(logpath, sizeof(logpath), "%s/server.log", s->dir);
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (!s->pid) {
		int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	for (i = 0; i < 1000; i++) {
		if (listening(s->port))
			return true;
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			break;
		}
		usleep(10000);
	}
	{
		int fd = open(logpath, O_RDONLY);
		ssize_t n = fd >= 0 ? read(fd, s->log, sizeof(s->log) - 1) : 0;

		s->log[n > 0 ? n : 0] = '\0';
		if (fd >= 0)
			close(fd);
	}
	return false;
}

static void server_stop(struct server *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
}

static bool have_program(const char *name)
{
	char *cmd;
	int r;

	assert_true(asprintf(&cmd, "command -v %s >/dev/null 2>&1", name) > 0);
	r = system(cmd);
	free(cmd);
	return r == 0;
}

/* nbdkit ARGS... on a free port of 127.0.0.1. */
static void nbdkit_start(struct server *s, const char *const *args)
{
	char port[8], *argv[32];
	int n, i, tries;

	if (!have_program("nbdkit"))
		fail_msg("nbdkit is not installed (scripts/setup installs it)");
	for (tries = 0; tries < 3; tries++) {
		close(listen_local(&s->port));
		snprintf(port, sizeof(port), "%u", s->port);
		n = 0;
		argv[n++] = "nbdkit";
		argv[n++] = "--exit-with-parent";
		argv[n++] = "-f";
		argv[n++] = "-i";
		argv[n++] = "127.0.0.1";
		argv[n++] = "-p";
		argv[n++] = port;
		for (i = 0; args[i]; i++)
			argv[n++] = (char *)args[i];
		argv[n] = NULL;
		if (server_start(s, argv))
			return;
	}
	fail_msg("nbdkit did not start: %s", s->log);
}

/*
 * nbd-server -d (one connection, then it exits) with a configuration in
 * the test's directory exporting a @mib MiB file as "disk0", with the
 * options @extra added to the export's section.
 */
static void nbd_server_start(struct server *s, unsigned int mib,
			     const char *extra)
{
	char conf[600], img[600], port[8];
	char *argv[] = { "nbd-server", "-C", conf, "-d", NULL };
	FILE *f;
	int tries;

	if (!have_program("nbd-server"))
		fail_msg("nbd-server is not installed (scripts/setup installs it)");
	snprintf(img, sizeof(img), "%s/disk0.img", s->dir);
	test_make_file(img, (off_t)mib * MIB);
	snprintf(conf, sizeof(conf), "%s/nbd-server.conf", s->dir);
	for (tries = 0; tries < 3; tries++) {
		close(listen_local(&s->port));
		snprintf(port, sizeof(port), "%u", s->port);
		f = fopen(conf, "w");
		assert_non_null(f);
		fprintf(f, "[generic]\nport = %s\nlistenaddr = 127.0.0.1\n"
			"[disk0]\nexportname = %s\n%s", port, img,
			extra ? extra : "");
		fclose(f);
		if (server_start(s, argv))
			return;
	}
	fail_msg("nbd-server did not start: %s", s->log);
}

static int setup_server(void **state)
{
	struct server *s = calloc(1, sizeof(*s));

	if (!s)
		return -1;
	s->dir = test_tmpdir();
	*state = s;
	return s->dir ? 0 : -1;
}

static int teardown_server(void **state)
{
	struct server *s = *state;

	server_stop(s);
	test_rm_rf(s->dir);
	free(s->dir);
	free(s);
	return 0;
}

/* Negotiate @name with the server of @s; on failure, no descriptor left. */
static int real_open(struct server *s, const char *name, uint64_t min_size,
		     struct cru_nbd_export *ex, struct cru_err *err)
{
	struct cru_nbd_options o = { .timeout_ms = 5000, .min_size = min_size };
	struct cru_nbd_uri u;
	char uri[128];
	int fd, ret, before;

	snprintf(uri, sizeof(uri), "nbd://127.0.0.1:%u/%s", s->port, name);
	assert_int_equal(cru_nbd_parse_uri(uri, &u, err), 0);
	before = open_fds();
	ret = cru_nbd_open(&u, &o, &fd, ex, err);
	if (ret) {
		assert_int_equal(fd, -1);
		assert_int_equal(open_fds(), before);
		return ret;
	}
	assert_true(fd >= 0);
	/* Handed over as the kernel would get it: blocking, in transmission. */
	assert_false(fcntl(fd, F_GETFL) & O_NONBLOCK);
	close(fd);
	return 0;
}

static void nbdkit_memory_export(void **state)
{
	static const char *const args[] = { "memory", "64M", NULL };
	struct server *s = *state;
	struct cru_nbd_export ex;
	struct cru_err err;
	uint32_t bs;
	char flags[128];

	nbdkit_start(s, args);
	if (real_open(s, "", 0, &ex, &err))
		fail_msg("%s", err.msg);
	cru_nbd_format_flags(ex.flags, flags, sizeof(flags));
	print_message("# nbdkit memory 64M: size %llu flags %s block sizes %u/%u/%u\n",
		      (unsigned long long)ex.size, flags, ex.min_block,
		      ex.pref_block, ex.max_block);
	assert_int_equal(ex.size, 64 * MIB);
	assert_false(ex.export_name_fallback);
	assert_true(ex.flags & 1);		/* HAS_FLAGS */
	assert_false(ex.flags & 2);		/* not READ_ONLY */
	assert_true(ex.flags & 4);		/* SEND_FLUSH */
	assert_true(ex.flags & 8);		/* SEND_FUA */
	assert_true(ex.handshake_flags & 1);	/* FIXED_NEWSTYLE */
	assert_int_equal(cru_nbd_block_size(&ex, &bs, &err), 0);
	assert_int_equal(bs, 512);
}

static void nbdkit_file_export_read_only(void **state)
{
	struct server *s = *state;
	char img[600];
	const char *args[] = { "-r", "file", img, NULL };
	struct cru_nbd_export ex;
	struct cru_err err;

	snprintf(img, sizeof(img), "%s/file.img", s->dir);
	test_make_file(img, 32 * MIB);
	nbdkit_start(s, args);
	if (real_open(s, "whatever", 0, &ex, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(ex.size, 32 * MIB);
	assert_true(ex.flags & 2);		/* READ_ONLY */
	/* Not big enough for a leg that needs 64 MiB. */
	assert_int_equal(real_open(s, "x", 64 * MIB, &ex, &err), -ENOSPC);
	assert_contains(err.msg, "fewer than the 67108864 needed");
}

static void nbdkit_refuses_an_unknown_export(void **state)
{
	static const char *const args[] = {
		"--filter=exportname", "memory", "16M", "exportname=disk0",
		"exportname-strict=true", NULL
	};
	struct server *s = *state;
	struct cru_nbd_export ex;
	struct cru_err err;

	nbdkit_start(s, args);
	assert_int_equal(real_open(s, "disk1", 0, &ex, &err), -ENOENT);
	print_message("# %s\n", err.msg);
	assert_contains(err.msg, "export 'disk1' refused: no such export");
	if (real_open(s, "disk0", 0, &ex, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(ex.size, 16 * MIB);
}

static void nbdkit_broken_configurations_are_refused(void **state)
{
	static const struct {
		const char *args[6];
		const char *why;
	} cases[] = {
		{ { "--mask-handshake=0", "memory", "1M" }, "fixed newstyle" },
		{ { "--oldstyle", "memory", "1M" }, "oldstyle" },
		{ { "memory", "1000" }, "1000 bytes, not a multiple of 512" },
		{ { "null", "0" }, "is empty (size 0)" },
		{ { "null", "4611686018427388416" }, "absurd size" },
	};
	struct server *s = *state;
	struct cru_nbd_export ex;
	struct cru_err err;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		nbdkit_start(s, cases[i].args);
		if (!real_open(s, "", 0, &ex, &err))
			fail_msg("nbdkit %s %s accepted", cases[i].args[0],
				 cases[i].args[1]);
		print_message("# nbdkit %s %s: %s\n", cases[i].args[0],
			      cases[i].args[1], err.msg);
		assert_contains(err.msg, "NBD server 127.0.0.1:");
		assert_contains(err.msg, cases[i].why);
		server_stop(s);
	}
}

static void nbd_server_export(void **state)
{
	struct server *s = *state;
	struct cru_nbd_export ex;
	struct cru_err err;
	char flags[128];

	nbd_server_start(s, 48, "flush = true\nfua = true\ntrim = true\n");
	if (real_open(s, "disk0", 0, &ex, &err))
		fail_msg("%s", err.msg);
	cru_nbd_format_flags(ex.flags, flags, sizeof(flags));
	print_message("# nbd-server: size %llu flags %s block sizes %u/%u/%u\n",
		      (unsigned long long)ex.size, flags, ex.min_block,
		      ex.pref_block, ex.max_block);
	assert_int_equal(ex.size, 48 * MIB);
	assert_false(ex.export_name_fallback);
	assert_true(ex.flags & 1);		/* HAS_FLAGS */
	assert_true(ex.flags & 4);		/* SEND_FLUSH */
	assert_true(ex.flags & 8);		/* SEND_FUA */
	assert_true(ex.flags & 32);		/* SEND_TRIM */
	assert_false(ex.flags & 2);
}

static void nbd_server_read_only_export(void **state)
{
	struct server *s = *state;
	struct cru_nbd_export ex;
	struct cru_err err;

	nbd_server_start(s, 8, "readonly = true\n");
	if (real_open(s, "disk0", 0, &ex, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(ex.size, 8 * MIB);
	assert_true(ex.flags & 2);		/* READ_ONLY */
	assert_false(ex.flags & 4);		/* no flush asked for */
}

static void nbd_server_refuses_an_unknown_export(void **state)
{
	struct server *s = *state;
	struct cru_nbd_export ex;
	struct cru_err err;

	nbd_server_start(s, 8, NULL);
	assert_int_equal(real_open(s, "disk9", 0, &ex, &err), -ENOENT);
	print_message("# %s\n", err.msg);
	assert_contains(err.msg, "export 'disk9' refused: no such export");
}

/* ---- netlink messages */

#define FAMILY 0x21

static struct nlmsghdr *hdr_of(struct nl_msg *m)
{
	assert_non_null(m);
	return nlmsg_hdr(m);
}

static void connect_message_carries_the_configuration(void **state)
{
	struct cru_nbd_config c = {
		.index = 3, .size = 64 * MIB, .block_size = 4096,
		.flags = 0x2d, .timeout_s = 30, .dead_conn_timeout_s = 120,
		.backend = "nbd://h:10809/disk0",
	};
	struct nlattr *tb[NBD_ATTR_MAX + 1], *item, *sock[NBD_SOCK_MAX + 1];
	struct nl_msg *m = cru_nbd_msg_connect(FAMILY, 9, &c);
	struct nlmsghdr *h = hdr_of(m);
	struct genlmsghdr *g = nlmsg_data(h);
	int rem, socks = 0;

	(void)state;
	assert_int_equal(h->nlmsg_type, FAMILY);
	assert_int_equal(g->cmd, NBD_CMD_CONNECT);
	assert_int_equal(g->version, 1);
	assert_int_equal(genlmsg_parse(h, 0, tb, NBD_ATTR_MAX, NULL), 0);
	assert_int_equal(nla_get_u32(tb[NBD_ATTR_INDEX]), 3);
	assert_int_equal(nla_get_u64(tb[NBD_ATTR_SIZE_BYTES]), 64 * MIB);
	assert_int_equal(nla_get_u64(tb[NBD_ATTR_BLOCK_SIZE_BYTES]), 4096);
	assert_int_equal(nla_get_u64(tb[NBD_ATTR_SERVER_FLAGS]), 0x2d);
	assert_int_equal(nla_get_u64(tb[NBD_ATTR_TIMEOUT]), 30);
	assert_int_equal(nla_get_u64(tb[NBD_ATTR_DEAD_CONN_TIMEOUT]), 120);
	assert_string_equal(nla_get_string(tb[NBD_ATTR_BACKEND_IDENTIFIER]),
			    "nbd://h:10809/disk0");
	assert_null(tb[NBD_ATTR_CLIENT_FLAGS]);
	nla_for_each_nested(item, tb[NBD_ATTR_SOCKETS], rem) {
		assert_int_equal(nla_type(item), NBD_SOCK_ITEM);
		assert_int_equal(nla_parse_nested(sock, NBD_SOCK_MAX, item,
						  NULL), 0);
		assert_int_equal(nla_get_u32(sock[NBD_SOCK_FD]), 9);
		socks++;
	}
	assert_int_equal(socks, 1);
	nlmsg_free(m);

	/* The kernel picks the index; no timeouts, no backend. */
	c = (struct cru_nbd_config){ .index = -1, .size = MIB };
	m = cru_nbd_msg_connect(FAMILY, 4, &c);
	assert_int_equal(genlmsg_parse(hdr_of(m), 0, tb, NBD_ATTR_MAX, NULL), 0);
	assert_null(tb[NBD_ATTR_INDEX]);
	assert_null(tb[NBD_ATTR_TIMEOUT]);
	assert_null(tb[NBD_ATTR_DEAD_CONN_TIMEOUT]);
	assert_null(tb[NBD_ATTR_BACKEND_IDENTIFIER]);
	assert_int_equal(nla_get_u64(tb[NBD_ATTR_BLOCK_SIZE_BYTES]), 512);
	nlmsg_free(m);
}

static void other_messages_name_the_device(void **state)
{
	struct nlattr *tb[NBD_ATTR_MAX + 1];
	struct nl_msg *m;

	(void)state;
	m = cru_nbd_msg_reconfigure(FAMILY, 5, 11, "id");
	assert_int_equal(((struct genlmsghdr *)nlmsg_data(hdr_of(m)))->cmd,
			 NBD_CMD_RECONFIGURE);
	assert_int_equal(genlmsg_parse(hdr_of(m), 0, tb, NBD_ATTR_MAX, NULL), 0);
	assert_int_equal(nla_get_u32(tb[NBD_ATTR_INDEX]), 5);
	assert_string_equal(nla_get_string(tb[NBD_ATTR_BACKEND_IDENTIFIER]), "id");
	assert_non_null(tb[NBD_ATTR_SOCKETS]);
	assert_null(tb[NBD_ATTR_SIZE_BYTES]);	/* never resized */
	nlmsg_free(m);

	m = cru_nbd_msg_disconnect(FAMILY, 6);
	assert_int_equal(((struct genlmsghdr *)nlmsg_data(hdr_of(m)))->cmd,
			 NBD_CMD_DISCONNECT);
	assert_int_equal(genlmsg_parse(hdr_of(m), 0, tb, NBD_ATTR_MAX, NULL), 0);
	assert_int_equal(nla_get_u32(tb[NBD_ATTR_INDEX]), 6);
	nlmsg_free(m);

	m = cru_nbd_msg_status(FAMILY, 7);
	assert_int_equal(((struct genlmsghdr *)nlmsg_data(hdr_of(m)))->cmd,
			 NBD_CMD_STATUS);
	assert_int_equal(genlmsg_parse(hdr_of(m), 0, tb, NBD_ATTR_MAX, NULL), 0);
	assert_int_equal(nla_get_u32(tb[NBD_ATTR_INDEX]), 7);
	nlmsg_free(m);
}

static struct nl_msg *kernel_msg(uint8_t cmd)
{
	struct nl_msg *m = nlmsg_alloc();

	assert_non_null(m);
	assert_non_null(genlmsg_put(m, 0, 1, FAMILY, 0, 0, cmd, 1));
	return m;
}

static void replies_and_events_are_parsed(void **state)
{
	struct nlattr *list, *dev;
	struct cru_err err;
	struct nl_msg *m;
	bool connected;
	int index = -1, i;

	(void)state;
	m = kernel_msg(NBD_CMD_CONNECT);
	nla_put_u32(m, NBD_ATTR_INDEX, 12);
	assert_int_equal(cru_nbd_parse_index(nlmsg_hdr(m), FAMILY,
					     NBD_CMD_CONNECT, &index, &err), 0);
	assert_int_equal(index, 12);
	/* The same message is not a LINK_DEAD event. */
	assert_int_equal(cru_nbd_parse_index(nlmsg_hdr(m), FAMILY,
					     NBD_CMD_LINK_DEAD, &index, &err),
			 -EBADMSG);
	nlmsg_free(m);

	m = kernel_msg(NBD_CMD_LINK_DEAD);
	assert_int_equal(cru_nbd_parse_index(nlmsg_hdr(m), FAMILY,
					     NBD_CMD_LINK_DEAD, &index, &err),
			 -EBADMSG);
	assert_contains(err.msg, "without a device index");
	nla_put_u32(m, NBD_ATTR_INDEX, 2);
	assert_int_equal(cru_nbd_parse_index(nlmsg_hdr(m), FAMILY,
					     NBD_CMD_LINK_DEAD, &index, &err), 0);
	assert_int_equal(index, 2);
	nlmsg_free(m);

	/* STATUS lists devices 0, 1, 2; only 1 is connected. */
	m = kernel_msg(NBD_CMD_STATUS);
	list = nla_nest_start(m, NBD_ATTR_DEVICE_LIST);
	for (i = 0; i < 3; i++) {
		dev = nla_nest_start(m, NBD_DEVICE_ITEM);
		nla_put_u32(m, NBD_DEVICE_INDEX, i);
		nla_put_u8(m, NBD_DEVICE_CONNECTED, i == 1);
		nla_nest_end(m, dev);
	}
	nla_nest_end(m, list);
	assert_int_equal(cru_nbd_parse_status(nlmsg_hdr(m), FAMILY, 1,
					      &connected, &err), 0);
	assert_true(connected);
	assert_int_equal(cru_nbd_parse_status(nlmsg_hdr(m), FAMILY, 2,
					      &connected, &err), 0);
	assert_false(connected);
	assert_int_equal(cru_nbd_parse_status(nlmsg_hdr(m), FAMILY, 5,
					      &connected, &err), -ENODEV);
	assert_contains(err.msg, "no device /dev/nbd5");
	nlmsg_free(m);
}

static void missing_nbd_module_is_named(void **state)
{
	struct cru_nl *nl = NULL;
	struct cru_err err;
	int before;

	(void)state;
	if (access("/sys/module/nbd", F_OK) == 0)
		test_skip("the nbd module is loaded on this host: the message for a missing one cannot be seen");
	before = open_fds();
	assert_int_equal(cru_nbd_nl_open(&nl, &err), -ENOENT);
	assert_null(nl);
	assert_string_equal(err.msg,
			    "nbd: the nbd module is not loaded (modprobe nbd)");
	assert_int_equal(cru_nbd_nl_open_events(&nl, &err), -ENOENT);
	assert_int_equal(open_fds(), before);
}

/* ---- old connections (cru_nbdleg_lingering) */

static void tcp_table_counts_unfinished_orphans_only(void **state)
{
	static const char table[] =
		"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
		/* listening, not connected to the server */
		"   0: 00000000:2A29 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 634 1 0 100 0 0 10 0\n"
		/* FIN_WAIT1 orphan to 10.99.12.2:10809: counts */
		"   1: 010C630A:B2A4 020C630A:2A39 04 00001000:00000000 01:00000123 00000002     0        0 0 1 0 20 4 30 10 -1\n"
		/* FIN_WAIT2 orphan: counts; lower-case hex too */
		"   2: 010C630A:B2A6 020c630a:2a39 05 00000000:00000000 00:00000000 00000000     0        0 0 1 0 20 4 30 10 -1\n"
		/* CLOSING orphan: counts */
		"   3: 010C630A:B2A8 020C630A:2A39 0B 00000000:00000000 00:00000000 00000000     0        0 0 1 0 20 4 30 10 -1\n"
		/* the live connection (a descriptor or the kernel holds it) */
		"   4: 010C630A:B2AA 020C630A:2A39 01 00000000:00000000 00:00000000 00000000     0        0 8812 1 0 20 4 30 10 -1\n"
		/* FIN_WAIT1 but still held: not let go of yet */
		"   5: 010C630A:B2AC 020C630A:2A39 04 00000000:00000000 00:00000000 00000000     0        0 8813 1 0 20 4 30 10 -1\n"
		/* TIME_WAIT and LAST_ACK: the server is done */
		"   6: 010C630A:B2AE 020C630A:2A39 06 00000000:00000000 03:00000100 00000000     0        0 0 3 0\n"
		"   7: 010C630A:B2B0 020C630A:2A39 09 00000000:00000000 00:00000000 00000000     0        0 0 1 0 20 4 30 10 -1\n"
		/* another port of the same host, another host */
		"   8: 010C630A:B2B2 020C630A:2A3A 04 00000000:00000000 00:00000000 00000000     0        0 0 1 0 20 4 30 10 -1\n"
		"   9: 010B630A:B2B4 020B630A:2A39 04 00000000:00000000 00:00000000 00000000     0        0 0 1 0 20 4 30 10 -1\n"
		"garbage line\n";
	FILE *f;

	(void)state;
	f = fmemopen((void *)table, sizeof(table) - 1, "r");
	assert_non_null(f);
	assert_int_equal(cru_tcp_table_lingering(f, "020C630A:2A39"), 3);
	fclose(f);
	f = fmemopen((void *)table, sizeof(table) - 1, "r");
	assert_int_equal(cru_tcp_table_lingering(f, "020C630A:2A3A"), 1);
	fclose(f);
}

/*
 * A real orphan: a client that closes with data the server never read
 * stays in FIN_WAIT1 on its own; once the server closes too, it is gone.
 * Sockets connected by cru_nbd_tcp_connect carry TCP_USER_TIMEOUT.
 */
static void lingering_connection_is_found_until_it_ends(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	static char junk[1 << 16];
	struct cru_nbd_uri u = { .host = "127.0.0.1" };
	unsigned int user = 0;
	socklen_t ulen = sizeof(user);
	struct cru_err err;
	int l, c, sv, n, i, small = 4096;

	(void)state;
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(l >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&a, &alen), 0);
	u.port = ntohs(a.sin_port);

	assert_int_equal(cru_nbd_tcp_connect(&u, 2000, &c, &err), 0);
	assert_int_equal(getsockopt(c, IPPROTO_TCP, TCP_USER_TIMEOUT, &user,
				    &ulen), 0);
	assert_int_equal(user, CRU_NBD_USER_TIMEOUT_MS);
	sv = accept(l, NULL, NULL);
	assert_true(sv >= 0);
	setsockopt(sv, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));

	/* Held by a descriptor: not lingering. */
	assert_int_equal(cru_nbdleg_lingering(&u, &n, &err), 0);
	assert_int_equal(n, 0);
	/* More than the server takes in, then let go of it. */
	fcntl(c, F_SETFL, O_NONBLOCK);
	for (i = 0; i < 64; i++)
		if (send(c, junk, sizeof(junk), MSG_NOSIGNAL) < 0)
			break;
	assert_true(i < 64);
	close(c);
	assert_int_equal(cru_nbdleg_lingering(&u, &n, &err), 0);
	assert_int_equal(n, 1);
	/* The server ends it (unread data: a reset): nothing lingers. */
	close(sv);
	for (i = 0; i < 50; i++) {
		assert_int_equal(cru_nbdleg_lingering(&u, &n, &err), 0);
		if (!n)
			break;
		usleep(20000);
	}
	assert_int_equal(n, 0);
	close(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(uri_forms_are_parsed),
		cmocka_unit_test(uri_round_trips),
		cmocka_unit_test(bad_uris_are_refused_with_a_reason),
		cmocka_unit_test(go_negotiates_size_flags_and_block_sizes),
		cmocka_unit_test(no_zeroes_is_asked_for_only_when_offered),
		cmocka_unit_test(block_size_is_the_servers_minimum),
		cmocka_unit_test(export_name_fallback_without_zeroes),
		cmocka_unit_test(export_name_fallback_with_zeroes),
		cmocka_unit_test(broken_greetings_are_refused),
		cmocka_unit_test(broken_replies_are_refused),
		cmocka_unit_test(silent_server_times_out),
		cmocka_unit_test(absurd_sizes_are_refused),
		cmocka_unit_test(bad_block_sizes_are_refused),
		cmocka_unit_test(refusals_name_the_reason_and_quote_the_server),
		cmocka_unit_test(open_leaves_no_descriptor_when_refused),
		cmocka_unit_test(connection_refused_is_reported),
		cmocka_unit_test_setup_teardown(nbdkit_memory_export,
						setup_server, teardown_server),
		cmocka_unit_test_setup_teardown(nbdkit_file_export_read_only,
						setup_server, teardown_server),
		cmocka_unit_test_setup_teardown(nbdkit_refuses_an_unknown_export,
						setup_server, teardown_server),
		cmocka_unit_test_setup_teardown(nbdkit_broken_configurations_are_refused,
						setup_server, teardown_server),
		cmocka_unit_test_setup_teardown(nbd_server_export,
						setup_server, teardown_server),
		cmocka_unit_test_setup_teardown(nbd_server_read_only_export,
						setup_server, teardown_server),
		cmocka_unit_test_setup_teardown(nbd_server_refuses_an_unknown_export,
						setup_server, teardown_server),
		cmocka_unit_test(connect_message_carries_the_configuration),
		cmocka_unit_test(other_messages_name_the_device),
		cmocka_unit_test(replies_and_events_are_parsed),
		cmocka_unit_test(missing_nbd_module_is_named),
		cmocka_unit_test(tcp_table_counts_unfinished_orphans_only),
		cmocka_unit_test(lingering_connection_is_found_until_it_ends),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

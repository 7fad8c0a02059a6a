// SPDX-License-Identifier: GPL-2.0
/*
 * NBD client side for remote legs: URIs, the fixed-newstyle handshake,
 * and the kernel's "nbd" generic netlink family.
 *
 * Why the handshake is written here and not taken from libnbd: the
 * kernel needs the socket itself, and libnbd (1.14 in Debian 12) has no
 * supported way to give it up after negotiation ("the caller must not use
 * the socket in any way" once nbd_connect_socket owns it; a dup'd
 * descriptor is outside its contract), and newer libnbd negotiates
 * extended headers unless told not to, which the kernel cannot read.  The
 * part of the protocol needed here is small: NBD_OPT_GO with one info
 * request, NBD_OPT_EXPORT_NAME for servers that do not know GO.
 * Documentation/nbd.rst describes exactly what is sent and refused.
 */
#include "nbd.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/nbd-netlink.h>
#include <linux/nbd.h>
#include <linux/netlink.h>

#include <netlink/genl/genl.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>

#include "nl.h"

/*
 * The handshake's constants (the NBD protocol, doc/proto.md); the
 * kernel's uapi has only those of the transmission phase.
 */
#define NBDMAGIC		0x4e42444d41474943ULL	/* "NBDMAGIC" */
#define IHAVEOPT		0x49484156454f5054ULL	/* "IHAVEOPT" */
#define OLDSTYLE_MAGIC		0x0000420281861253ULL
#define OPT_REPLY_MAGIC		0x0003e889045565a9ULL

#define HS_FLAG_FIXED_NEWSTYLE	(1U << 0)
#define HS_FLAG_NO_ZEROES	(1U << 1)
#define CL_FLAG_FIXED_NEWSTYLE	(1U << 0)
#define CL_FLAG_NO_ZEROES	(1U << 1)

#define OPT_EXPORT_NAME		1
#define OPT_ABORT		2
#define OPT_GO			7

#define REP_ACK			1
#define REP_INFO		3
#define REP_FLAG_ERROR		(1U << 31)
#define REP_ERR_UNSUP		(REP_FLAG_ERROR | 1)
#define REP_ERR_POLICY		(REP_FLAG_ERROR | 2)
#define REP_ERR_INVALID		(REP_FLAG_ERROR | 3)
#define REP_ERR_PLATFORM	(REP_FLAG_ERROR | 4)
#define REP_ERR_TLS_REQD	(REP_FLAG_ERROR | 5)
#define REP_ERR_UNKNOWN		(REP_FLAG_ERROR | 6)
#define REP_ERR_SHUTDOWN	(REP_FLAG_ERROR | 7)
#define REP_ERR_BLOCK_SIZE_REQD	(REP_FLAG_ERROR | 8)
#define REP_ERR_TOO_BIG		(REP_FLAG_ERROR | 9)
#define REP_ERR_EXT_HEADER_REQD	(REP_FLAG_ERROR | 10)

#define INFO_EXPORT		0
#define INFO_BLOCK_SIZE		3

/* Bytes of zeroes after NBD_OPT_EXPORT_NAME's answer without NO_ZEROES. */
#define EXPORT_NAME_ZEROES	124
/* The kernel's block size limit (blk_validate_block_size): the page. */
#define KERNEL_MAX_BLOCK	4096
/* Of a server's error message, what is quoted. */
#define SERVER_MSG_MAX		120

/* ---- URIs */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static bool host_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_';
}

/* Quote at most this much of a URI in a message. */
#define URI_QUOTE_MAX	80

int cru_nbd_parse_uri(const char *uri, struct cru_nbd_uri *u,
		      struct cru_err *err)
{
	static const char scheme[] = "nbd://";
	char s[URI_QUOTE_MAX + 4];
	const char *p, *host, *host_end, *path;
	size_t hlen, n = 0;
	char v6[INET6_ADDRSTRLEN + 1];
	struct in6_addr a6;

	snprintf(s, sizeof(s), "%.*s%s", URI_QUOTE_MAX, uri,
		 strlen(uri) > URI_QUOTE_MAX ? "..." : "");
	memset(u, 0, sizeof(*u));
	u->port = CRU_NBD_DEFAULT_PORT;
	if (!strncmp(uri, "nbds://", 7) || !strncmp(uri, "nbds+", 5))
		return cru_err_set(err, -EPROTONOSUPPORT,
				   "'%s': NBD over TLS (nbds://) is not supported",
				   s);
	if (!strncmp(uri, "nbd+", 4))
		return cru_err_set(err, -EPROTONOSUPPORT,
				   "'%s': only nbd:// over TCP is supported", s);
	if (strncmp(uri, scheme, sizeof(scheme) - 1))
		return cru_err_set(err, -EINVAL,
				   "'%s' is not an NBD URI (nbd://host[:port]/export)",
				   s);
	host = uri + sizeof(scheme) - 1;
	if (strpbrk(host, "?#"))
		return cru_err_set(err, -EINVAL,
				   "'%s': query and fragment are not supported", s);
	path = strchr(host, '/');
	if (memchr(host, '@', path ? (size_t)(path - host) : strlen(host)))
		return cru_err_set(err, -EINVAL,
				   "'%s': user information is not supported", s);
	host_end = path ? path : host + strlen(host);

	if (*host == '[') {
		p = memchr(host, ']', host_end - host);
		if (!p)
			return cru_err_set(err, -EINVAL,
					   "'%s': '[' without ']' around an IPv6 address",
					   s);
		hlen = p - host - 1;
		if (!hlen || hlen >= sizeof(v6))
			return cru_err_set(err, -EINVAL,
					   "'%s': bad IPv6 address", s);
		memcpy(v6, host + 1, hlen);
		v6[hlen] = '\0';
		if (inet_pton(AF_INET6, v6, &a6) != 1)
			return cru_err_set(err, -EINVAL,
					   "'%s': '%s' is not an IPv6 address",
					   s, v6);
		memcpy(u->host, v6, hlen + 1);
		p++;
		if (p != host_end && *p != ':')
			return cru_err_set(err, -EINVAL,
					   "'%s': junk after the IPv6 address", s);
	} else {
		for (p = host; p < host_end && *p != ':'; p++)
			if (!host_char(*p))
				return cru_err_set(err, -EINVAL,
						   "'%s': character '%c' is not allowed in a host name",
						   s, *p);
		hlen = p - host;
		if (!hlen)
			return cru_err_set(err, -EINVAL, "'%s': no host", s);
		if (hlen > CRU_NBD_HOST_MAX)
			return cru_err_set(err, -EINVAL,
					   "'%s': host name longer than %d characters",
					   s, CRU_NBD_HOST_MAX);
		memcpy(u->host, host, hlen);
		u->host[hlen] = '\0';
	}
	if (p < host_end && *p == ':') {
		unsigned long port = 0;
		const char *q;

		p++;
		if (p == host_end)
			return cru_err_set(err, -EINVAL,
					   "'%s': ':' without a port", s);
		for (q = p; q < host_end; q++) {
			if (!isdigit((unsigned char)*q) || q - p > 5)
				return cru_err_set(err, -EINVAL,
						   "'%s': the port must be a number from 1 to 65535",
						   s);
			port = port * 10 + (*q - '0');
		}
		if (!port || port > 65535)
			return cru_err_set(err, -EINVAL,
					   "'%s': the port must be a number from 1 to 65535",
					   s);
		u->port = (uint16_t)port;
	}

	if (!path)
		return 0;	/* nbd://host: the default export "" */
	for (p = path + 1; *p; p++) {
		char c = *p;

		if (c == '%') {
			int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);

			if (hi < 0 || lo < 0)
				return cru_err_set(err, -EINVAL,
						   "'%s': bad %%-escape in the export name",
						   s);
			c = (char)(hi << 4 | lo);
			if (!c)
				return cru_err_set(err, -EINVAL,
						   "'%s': the export name cannot hold a NUL",
						   s);
			p += 2;
		} else if ((unsigned char)c < 0x20 || c == 0x7f || c == ' ') {
			return cru_err_set(err, -EINVAL,
					   "'%s': control character or space in the export name (use %%-escapes)",
					   s);
		}
		if (n == CRU_NBD_EXPORT_MAX)
			return cru_err_set(err, -ENAMETOOLONG,
					   "'%s': export name longer than %d bytes",
					   s, CRU_NBD_EXPORT_MAX);
		u->export_name[n++] = c;
	}
	u->export_name[n] = '\0';
	return 0;
}

void cru_nbd_format_server(const struct cru_nbd_uri *u, char *buf,
			   size_t len)
{
	if (strchr(u->host, ':'))
		snprintf(buf, len, "[%s]:%u", u->host, u->port);
	else
		snprintf(buf, len, "%s:%u", u->host, u->port);
}

void cru_nbd_format_uri(const struct cru_nbd_uri *u, char *buf, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n;
	const char *p;

	if (!len)
		return;
	snprintf(buf, len, "nbd://");
	n = strlen(buf);
	cru_nbd_format_server(u, buf + n, len - n);
	n += strlen(buf + n);
	if (n + 1 < len)
		buf[n++] = '/';
	for (p = u->export_name; *p && n + 1 < len; p++) {
		unsigned char c = (unsigned char)*p;

		if (isalnum(c) || strchr("-._~/:@!$&'()*+,;=", c)) {
			buf[n++] = (char)c;
		} else {
			if (n + 3 >= len)
				break;
			buf[n++] = '%';
			buf[n++] = hex[c >> 4];
			buf[n++] = hex[c & 15];
		}
	}
	buf[n] = '\0';
}

void cru_nbd_format_flags(uint16_t flags, char *buf, size_t len)
{
	static const char *const names[16] = {
		"HAS_FLAGS", "READ_ONLY", "SEND_FLUSH", "SEND_FUA",
		"ROTATIONAL", "SEND_TRIM", "SEND_WRITE_ZEROES", "SEND_DF",
		"CAN_MULTI_CONN", "SEND_RESIZE", "SEND_CACHE",
		"SEND_FAST_ZERO", "BLOCK_STAT_PAYLOAD",
	};
	size_t n = 0;
	int i;

	if (!len)
		return;
	buf[0] = '\0';
	for (i = 0; i < 16; i++) {
		if (!(flags & (1U << i)))
			continue;
		if (names[i])
			snprintf(buf + n, len - n, "%s%s", n ? "," : "",
				 names[i]);
		else
			snprintf(buf + n, len - n, "%sbit%d", n ? "," : "", i);
		n += strlen(buf + n);
	}
	if (!n)
		snprintf(buf, len, "none");
}

/* ---- the handshake */

struct hs {
	int fd;
	const char *server;
	const char *export_name;
	int64_t deadline;	/* CLOCK_MONOTONIC, ms */
	int timeout_ms;
	struct cru_err *err;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Fail with "NBD server HOST:PORT: <sentence>". */
__attribute__((format(printf, 3, 4)))
static int hs_fail(struct hs *h, int ret, const char *fmt, ...)
{
	char what[CRU_ERR_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return cru_err_set(h->err, ret, "NBD server %s: %s", h->server, what);
}

/* Wait for @events on the socket until the deadline. */
static int hs_wait(struct hs *h, short events, const char *during)
{
	struct pollfd pfd = { .fd = h->fd, .events = events };
	int64_t left;
	int r;

	for (;;) {
		left = h->deadline - now_ms();
		if (left <= 0)
			return hs_fail(h, -ETIMEDOUT,
				       "no progress within %d ms while %s",
				       h->timeout_ms, during);
		r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return hs_fail(h, -errno, "poll: %s", strerror(errno));
		if (r > 0)
			return 0;
	}
}

static int hs_read(struct hs *h, void *buf, size_t len, const char *during)
{
	size_t done = 0;
	ssize_t n;
	int ret;

	while (done < len) {
		ret = hs_wait(h, POLLIN, during);
		if (ret)
			return ret;
		n = read(h->fd, (char *)buf + done, len - done);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return hs_fail(h, -errno, "%s while %s", strerror(errno),
				       during);
		if (!n)
			return hs_fail(h, -ECONNRESET,
				       "truncated handshake: the connection closed while %s (%zu of %zu bytes)",
				       during, done, len);
		done += n;
	}
	return 0;
}

static int hs_write(struct hs *h, const void *buf, size_t len,
		    const char *during)
{
	size_t done = 0;
	ssize_t n;
	int ret;

	while (done < len) {
		ret = hs_wait(h, POLLOUT, during);
		if (ret)
			return ret;
		n = send(h->fd, (const char *)buf + done, len - done,
			 MSG_NOSIGNAL);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return hs_fail(h, -errno, "%s while %s", strerror(errno),
				       during);
		done += n;
	}
	return 0;
}

static void put_be16(uint8_t *p, uint16_t v)
{
	v = htobe16(v);
	memcpy(p, &v, 2);
}

static void put_be32(uint8_t *p, uint32_t v)
{
	v = htobe32(v);
	memcpy(p, &v, 4);
}

static void put_be64(uint8_t *p, uint64_t v)
{
	v = htobe64(v);
	memcpy(p, &v, 8);
}

static uint16_t get_be16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return be16toh(v);
}

static uint32_t get_be32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return be32toh(v);
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return be64toh(v);
}

/* An option: IHAVEOPT, option, length, then @len bytes of @data. */
static int send_option(struct hs *h, uint32_t opt, const void *data,
		       uint32_t len, const char *during)
{
	uint8_t hdr[16];
	int ret;

	put_be64(hdr, IHAVEOPT);
	put_be32(hdr + 8, opt);
	put_be32(hdr + 12, len);
	ret = hs_write(h, hdr, sizeof(hdr), during);
	if (!ret && len)
		ret = hs_write(h, data, len, during);
	return ret;
}

/*
 * Leave politely after a refusal in the option phase; the error to
 * report is already decided, so whether the server reads this is not
 * checked.
 */
static void send_abort(struct hs *h)
{
	uint8_t hdr[16];

	put_be64(hdr, IHAVEOPT);
	put_be32(hdr + 8, OPT_ABORT);
	put_be32(hdr + 12, 0);
	if (send(h->fd, hdr, sizeof(hdr), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug("NBD server %s: NBD_OPT_ABORT not sent: %s",
			  h->server, strerror(errno));
}

/* The same after the export was negotiated: NBD_CMD_DISC. */
static void send_disc(struct hs *h)
{
	uint8_t req[28] = { 0 };

	put_be32(req, NBD_REQUEST_MAGIC);
	put_be16(req + 6, NBD_CMD_DISC);
	if (send(h->fd, req, sizeof(req), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug("NBD server %s: NBD_CMD_DISC not sent: %s",
			  h->server, strerror(errno));
}

/* A server's text, printable and short, for a message. */
static void quote_text(const uint8_t *p, size_t len, char *buf, size_t size)
{
	size_t i, n = 0;

	for (i = 0; i < len && n + 4 < size && n < SERVER_MSG_MAX; i++)
		buf[n++] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
	if (i < len && n + 4 < size) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
}

static const char *rep_error_text(uint32_t type, int *ret)
{
	switch (type) {
	case REP_ERR_UNKNOWN:
		*ret = -ENOENT;
		return "no such export";
	case REP_ERR_POLICY:
		*ret = -EACCES;
		return "refused by the server's policy";
	case REP_ERR_TLS_REQD:
		*ret = -EPROTONOSUPPORT;
		return "the server requires TLS, which is not supported";
	case REP_ERR_INVALID:
		*ret = -EINVAL;
		return "the server calls the request invalid";
	case REP_ERR_PLATFORM:
		*ret = -EOPNOTSUPP;
		return "not supported on the server's platform";
	case REP_ERR_SHUTDOWN:
		*ret = -ESHUTDOWN;
		return "the server is shutting down";
	case REP_ERR_BLOCK_SIZE_REQD:
		*ret = -EPROTO;
		return "the server wants block sizes that were requested";
	case REP_ERR_TOO_BIG:
		*ret = -E2BIG;
		return "the server calls the request too big";
	case REP_ERR_EXT_HEADER_REQD:
		*ret = -EPROTONOSUPPORT;
		return "the server requires extended headers, which the kernel's client cannot use";
	}
	*ret = -EPROTO;
	return NULL;
}

/* NBD_INFO_BLOCK_SIZE: the rules of doc/proto.md "Block size constraints". */
static int check_block_sizes(struct hs *h, uint32_t min, uint32_t pref,
			     uint32_t max)
{
	if (!min || (min & (min - 1)) || min > 65536)
		return hs_fail(h, -EPROTO,
			       "minimum block size %" PRIu32 " is not a power of two from 1 to 64 KiB",
			       min);
	if (!pref || (pref & (pref - 1)) || pref < min)
		return hs_fail(h, -EPROTO,
			       "preferred block size %" PRIu32 " is not a power of two of at least the minimum %" PRIu32,
			       pref, min);
	if (max < min || (max != UINT32_MAX && max % min))
		return hs_fail(h, -EPROTO,
			       "maximum block size %" PRIu32 " does not fit the minimum %" PRIu32,
			       max, min);
	return 0;
}

static int parse_info(struct hs *h, const uint8_t *p, uint32_t len,
		      struct cru_nbd_export *ex, bool *have_export)
{
	uint16_t type;
	int ret;

	if (len < 2)
		return hs_fail(h, -EPROTO,
			       "NBD_REP_INFO of %" PRIu32 " bytes has no type",
			       len);
	type = get_be16(p);
	switch (type) {
	case INFO_EXPORT:
		if (len != 12)
			return hs_fail(h, -EPROTO,
				       "NBD_INFO_EXPORT of %" PRIu32 " bytes, expected 12",
				       len);
		ex->size = get_be64(p + 2);
		ex->flags = get_be16(p + 10);
		*have_export = true;
		return 0;
	case INFO_BLOCK_SIZE:
		if (len != 14)
			return hs_fail(h, -EPROTO,
				       "NBD_INFO_BLOCK_SIZE of %" PRIu32 " bytes, expected 14",
				       len);
		ret = check_block_sizes(h, get_be32(p + 2), get_be32(p + 6),
					get_be32(p + 10));
		if (ret)
			return ret;
		ex->min_block = get_be32(p + 2);
		ex->pref_block = get_be32(p + 6);
		ex->max_block = get_be32(p + 10);
		return 0;
	}
	/* NBD_INFO_NAME, _DESCRIPTION, and ones newer than this code. */
	return 0;
}

/*
 * NBD_OPT_GO.  0 when the export is described and acknowledged, 1 when
 * the server does not know the option (fall back to EXPORT_NAME).
 */
static int opt_go(struct hs *h, struct cru_nbd_export *ex)
{
	size_t nlen = strlen(h->export_name);
	uint8_t hdr[20], *data, *payload = NULL;
	bool have_export = false;
	uint32_t type, len, opt;
	char text[SERVER_MSG_MAX + 8];
	const char *why;
	int ret;

	/* name length, name, 1 info request: NBD_INFO_BLOCK_SIZE. */
	data = malloc(4 + nlen + 4);
	if (!data)
		return cru_err_set(h->err, -ENOMEM, "out of memory");
	put_be32(data, (uint32_t)nlen);
	memcpy(data + 4, h->export_name, nlen);
	put_be16(data + 4 + nlen, 1);
	put_be16(data + 6 + nlen, INFO_BLOCK_SIZE);
	ret = send_option(h, OPT_GO, data, (uint32_t)(nlen + 8),
			  "sending NBD_OPT_GO");
	free(data);
	if (ret)
		return ret;

	for (;;) {
		ret = hs_read(h, hdr, sizeof(hdr), "reading the reply to NBD_OPT_GO");
		if (ret)
			return ret;
		if (get_be64(hdr) != OPT_REPLY_MAGIC)
			return hs_fail(h, -EPROTO,
				       "wrong option reply magic 0x%016" PRIx64,
				       get_be64(hdr));
		opt = get_be32(hdr + 8);
		type = get_be32(hdr + 12);
		len = get_be32(hdr + 16);
		if (opt != OPT_GO)
			return hs_fail(h, -EPROTO,
				       "reply for option %" PRIu32 " to NBD_OPT_GO (%d)",
				       opt, OPT_GO);
		if (len > CRU_NBD_MAX_REPLY)
			return hs_fail(h, -EPROTO,
				       "option reply of %" PRIu32 " bytes (more than %d)",
				       len, CRU_NBD_MAX_REPLY);
		free(payload);
		payload = NULL;
		if (len) {
			payload = malloc(len);
			if (!payload)
				return cru_err_set(h->err, -ENOMEM,
						   "out of memory");
			ret = hs_read(h, payload, len,
				      "reading the reply to NBD_OPT_GO");
			if (ret)
				break;
		}
		if (type == REP_INFO) {
			ret = parse_info(h, payload, len, ex, &have_export);
			if (ret)
				break;
			continue;
		}
		if (type == REP_ACK) {
			if (!have_export)
				ret = hs_fail(h, -EPROTO,
					      "acknowledged NBD_OPT_GO without describing the export (no NBD_INFO_EXPORT)");
			break;
		}
		if (type == REP_ERR_UNSUP) {
			ret = 1;
			break;
		}
		if (!(type & REP_FLAG_ERROR)) {
			ret = hs_fail(h, -EPROTO,
				      "unexpected reply type %" PRIu32 " to NBD_OPT_GO",
				      type);
			break;
		}
		why = rep_error_text(type, &ret);
		quote_text(payload, len, text, sizeof(text));
		if (why)
			hs_fail(h, ret, "export '%s' refused: %s%s%s%s",
				h->export_name, why, len ? " (\"" : "", text,
				len ? "\")" : "");
		else
			hs_fail(h, ret,
				"export '%s' refused with error 0x%08" PRIx32 "%s%s%s",
				h->export_name, type, len ? " (\"" : "", text,
				len ? "\")" : "");
		send_abort(h);
		break;
	}
	free(payload);
	return ret;
}

/* NBD_OPT_EXPORT_NAME: no reply header; a refusal closes the connection. */
static int opt_export_name(struct hs *h, bool no_zeroes,
			   struct cru_nbd_export *ex)
{
	uint8_t buf[10 + EXPORT_NAME_ZEROES];
	size_t want = no_zeroes ? 10 : sizeof(buf);
	int ret;

	ret = send_option(h, OPT_EXPORT_NAME, h->export_name,
			  (uint32_t)strlen(h->export_name),
			  "sending NBD_OPT_EXPORT_NAME");
	if (ret)
		return ret;
	ret = hs_read(h, buf, want,
		      "reading the answer to NBD_OPT_EXPORT_NAME (unknown export?)");
	if (ret)
		return ret;
	ex->size = get_be64(buf);
	ex->flags = get_be16(buf + 8);
	ex->export_name_fallback = true;
	return 0;
}

static int check_export(struct hs *h, const struct cru_nbd_export *ex,
			uint64_t min_size)
{
	struct cru_err why;
	uint32_t bs;

	if (!ex->size)
		return hs_fail(h, -EINVAL, "export '%s' is empty (size 0)",
			       h->export_name);
	if (ex->size > CRU_NBD_MAX_SIZE)
		return hs_fail(h, -EFBIG,
			       "export '%s' has an absurd size of %" PRIu64 " bytes (more than 2^62)",
			       h->export_name, ex->size);
	if (ex->size % 512)
		return hs_fail(h, -EINVAL,
			       "export '%s' has %" PRIu64 " bytes, not a multiple of 512",
			       h->export_name, ex->size);
	if (ex->size < min_size)
		return hs_fail(h, -ENOSPC,
			       "export '%s' has %" PRIu64 " bytes, fewer than the %" PRIu64 " needed",
			       h->export_name, ex->size, min_size);
	if (cru_nbd_block_size(ex, &bs, &why))
		return hs_fail(h, -EINVAL, "export '%s': %s", h->export_name,
			       why.msg);
	return 0;
}

int cru_nbd_block_size(const struct cru_nbd_export *ex, uint32_t *bs,
		       struct cru_err *err)
{
	uint32_t b = ex->min_block > 512 ? ex->min_block : 512;

	*bs = b;
	if (b > KERNEL_MAX_BLOCK || (b & (b - 1)))
		return cru_err_set(err, -EINVAL,
				   "minimum block size %" PRIu32 " is more than the kernel's client can use (%d)",
				   b, KERNEL_MAX_BLOCK);
	if (ex->size % b)
		return cru_err_set(err, -EINVAL,
				   "size %" PRIu64 " is not a multiple of the block size %" PRIu32,
				   ex->size, b);
	return 0;
}

int cru_nbd_handshake(int fd, const char *server, const char *export_name,
		      const struct cru_nbd_options *o,
		      struct cru_nbd_export *ex, struct cru_err *err)
{
	struct hs h = {
		.fd = fd, .server = server, .export_name = export_name,
		.err = err,
	};
	uint8_t greet[18], cflags[4];
	uint16_t hflags;
	uint32_t cf;
	int fl, ret;

	memset(ex, 0, sizeof(*ex));
	h.timeout_ms = o && o->timeout_ms > 0 ? o->timeout_ms :
		       CRU_NBD_DEFAULT_TIMEOUT_MS;
	h.deadline = now_ms() + h.timeout_ms;
	if (strlen(export_name) > CRU_NBD_EXPORT_MAX)
		return hs_fail(&h, -ENAMETOOLONG,
			       "export name longer than %d bytes",
			       CRU_NBD_EXPORT_MAX);
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return hs_fail(&h, -errno, "fcntl: %s", strerror(errno));

	/* NBDMAGIC, then IHAVEOPT (oldstyle servers send their magic). */
	ret = hs_read(&h, greet, 16, "reading the greeting");
	if (ret)
		goto out;
	if (get_be64(greet) != NBDMAGIC) {
		ret = hs_fail(&h, -EPROTO,
			      "wrong magic 0x%016" PRIx64 " in the greeting (not an NBD server?)",
			      get_be64(greet));
		goto out;
	}
	if (get_be64(greet + 8) == OLDSTYLE_MAGIC) {
		ret = hs_fail(&h, -EPROTONOSUPPORT,
			      "speaks the oldstyle protocol, which has no export names: configure it for newstyle");
		goto out;
	}
	if (get_be64(greet + 8) != IHAVEOPT) {
		ret = hs_fail(&h, -EPROTO,
			      "wrong magic 0x%016" PRIx64 " after NBDMAGIC, expected IHAVEOPT",
			      get_be64(greet + 8));
		goto out;
	}
	ret = hs_read(&h, greet + 16, 2, "reading the handshake flags");
	if (ret)
		goto out;
	hflags = get_be16(greet + 16);
	ex->handshake_flags = hflags;
	if (!(hflags & HS_FLAG_FIXED_NEWSTYLE)) {
		ret = hs_fail(&h, -EPROTONOSUPPORT,
			      "does not offer fixed newstyle negotiation (handshake flags 0x%04x)",
			      hflags);
		goto out;
	}
	cf = CL_FLAG_FIXED_NEWSTYLE;
	if (hflags & HS_FLAG_NO_ZEROES)
		cf |= CL_FLAG_NO_ZEROES;
	put_be32(cflags, cf);
	ret = hs_write(&h, cflags, sizeof(cflags), "sending the client flags");
	if (ret)
		goto out;

	ret = opt_go(&h, ex);
	if (ret == 1) {
		log_debug("NBD server %s: NBD_OPT_GO unsupported, using NBD_OPT_EXPORT_NAME",
			  server);
		ret = opt_export_name(&h, hflags & HS_FLAG_NO_ZEROES, ex);
	}
	if (ret)
		goto out;
	ret = check_export(&h, ex, o ? o->min_size : 0);
	if (ret)
		send_disc(&h);
out:
	if (fcntl(fd, F_SETFL, fl) < 0 && !ret)
		ret = hs_fail(&h, -errno, "fcntl: %s", strerror(errno));
	return ret;
}

/* ---- TCP */

static void tune_socket(int fd)
{
	/*
	 * Keepalive probes find a link that died while idle: after 10 s of
	 * silence, 3 probes 5 s apart.  The kernel's client then sees the
	 * socket fail and reports the link dead.
	 */
	int one = 1, idle = 10, intvl = 5, cnt = 3;
	unsigned int user = CRU_NBD_USER_TIMEOUT_MS;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/*
	 * Data unacknowledged for this long ends the connection (and bounds
	 * keepalive): a cut link is found dead in seconds rather than at the
	 * request timeout, and above all a connection the kernel has given
	 * up on cannot deliver its queued writes to the server later, after
	 * the leg was brought back and repaired over a new connection.
	 */
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user, sizeof(user));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

/* One address: 0 and a connected non-blocking socket, or a -errno. */
static int connect_one(const struct addrinfo *ai, int64_t deadline, int *out)
{
	struct pollfd pfd = { .events = POLLOUT };
	socklen_t elen = sizeof(int);
	int fd, e = 0, r;
	int64_t left;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
	if (fd < 0)
		return -errno;
	if (!connect(fd, ai->ai_addr, ai->ai_addrlen))
		goto done;
	if (errno != EINPROGRESS) {
		e = -errno;
		goto fail;
	}
	pfd.fd = fd;
	for (;;) {
		left = deadline - now_ms();
		if (left <= 0) {
			e = -ETIMEDOUT;
			goto fail;
		}
		r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			e = -errno;
			goto fail;
		}
		if (r)
			break;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) < 0)
		e = errno;
	if (e) {
		e = -e;
		goto fail;
	}
done:
	*out = fd;
	return 0;
fail:
	close(fd);
	return e;
}

int cru_nbd_resolve(const struct cru_nbd_uri *u, struct addrinfo **res,
		    struct cru_err *err)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICSERV,
	};
	char port[8], server[CRU_NBD_HOST_MAX + 16];
	int r;

	snprintf(port, sizeof(port), "%u", u->port);
	r = getaddrinfo(u->host, port, &hints, res);
	if (!r)
		return 0;
	cru_nbd_format_server(u, server, sizeof(server));
	return cru_err_set(err, -EHOSTUNREACH,
			   "NBD server %s: cannot resolve '%s': %s", server,
			   u->host, r == EAI_SYSTEM ? strerror(errno) :
			   gai_strerror(r));
}

int cru_nbd_tcp_connect(const struct cru_nbd_uri *u, int timeout_ms, int *fd,
			struct cru_err *err)
{
	struct addrinfo *res, *ai;
	char server[CRU_NBD_HOST_MAX + 16];
	int64_t deadline;
	int r, ret, sfd = -1;

	*fd = -1;
	if (timeout_ms <= 0)
		timeout_ms = CRU_NBD_DEFAULT_TIMEOUT_MS;
	deadline = now_ms() + timeout_ms;
	cru_nbd_format_server(u, server, sizeof(server));
	ret = cru_nbd_resolve(u, &res, err);
	if (ret)
		return ret;
	ret = -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		ret = connect_one(ai, deadline, &sfd);
		if (!ret || ret == -ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	if (ret == -ETIMEDOUT)
		return cru_err_set(err, ret,
				   "NBD server %s: no connection within %d ms",
				   server, timeout_ms);
	if (ret)
		return cru_err_set(err, ret, "NBD server %s: cannot connect: %s",
				   server, strerror(-ret));
	tune_socket(sfd);
	r = fcntl(sfd, F_GETFL);
	if (r < 0 || fcntl(sfd, F_SETFL, r & ~O_NONBLOCK) < 0) {
		ret = -errno;
		close(sfd);
		return cru_err_set(err, ret, "fcntl: %s", strerror(-ret));
	}
	*fd = sfd;
	return 0;
}

int cru_nbd_open(const struct cru_nbd_uri *u, const struct cru_nbd_options *o,
		 int *fd, struct cru_nbd_export *ex, struct cru_err *err)
{
	struct cru_nbd_options opts = o ? *o : (struct cru_nbd_options){ 0 };
	char server[CRU_NBD_HOST_MAX + 16];
	int64_t start = now_ms(), left;
	int sfd, ret;

	*fd = -1;
	if (opts.timeout_ms <= 0)
		opts.timeout_ms = CRU_NBD_DEFAULT_TIMEOUT_MS;
	ret = cru_nbd_tcp_connect(u, opts.timeout_ms, &sfd, err);
	if (ret)
		return ret;
	/* One time limit for the connection and the negotiation. */
	left = opts.timeout_ms - (now_ms() - start);
	opts.timeout_ms = left > 1 ? (int)left : 1;
	cru_nbd_format_server(u, server, sizeof(server));
	ret = cru_nbd_handshake(sfd, server, u->export_name, &opts, ex, err);
	if (ret) {
		close(sfd);
		return ret;
	}
	*fd = sfd;
	return 0;
}

/* ---- netlink messages */

static struct nl_msg *new_msg(int family, uint8_t cmd)
{
	return cru_genl_msg_new(family, cmd, 0, NBD_GENL_VERSION);
}


/* NBD_ATTR_SOCKETS { NBD_SOCK_ITEM { NBD_SOCK_FD } } */
static int put_socket(struct nl_msg *m, int fd)
{
	struct nlattr *socks, *item;

	socks = nla_nest_start(m, NBD_ATTR_SOCKETS);
	if (!socks)
		return -1;
	item = nla_nest_start(m, NBD_SOCK_ITEM);
	if (!item || nla_put_u32(m, NBD_SOCK_FD, (uint32_t)fd))
		return -1;
	nla_nest_end(m, item);
	nla_nest_end(m, socks);
	return 0;
}

struct nl_msg *cru_nbd_msg_connect(int family, int fd,
				   const struct cru_nbd_config *c)
{
	struct nl_msg *m = new_msg(family, NBD_CMD_CONNECT);
	int e = 0;

	if (!m)
		return NULL;
	if (c->index >= 0)
		e |= nla_put_u32(m, NBD_ATTR_INDEX, (uint32_t)c->index);
	e |= nla_put_u64(m, NBD_ATTR_SIZE_BYTES, c->size);
	e |= nla_put_u64(m, NBD_ATTR_BLOCK_SIZE_BYTES,
			 c->block_size ? c->block_size : 512);
	e |= nla_put_u64(m, NBD_ATTR_SERVER_FLAGS, c->flags);
	if (c->timeout_s)
		e |= nla_put_u64(m, NBD_ATTR_TIMEOUT, c->timeout_s);
	if (c->dead_conn_timeout_s)
		e |= nla_put_u64(m, NBD_ATTR_DEAD_CONN_TIMEOUT,
				 c->dead_conn_timeout_s);
	if (c->backend)
		e |= nla_put_string(m, NBD_ATTR_BACKEND_IDENTIFIER,
				    c->backend);
	e |= put_socket(m, fd);
	return cru_genl_msg_done(m, e);
}

struct nl_msg *cru_nbd_msg_reconfigure(int family, int index, int fd,
				       const char *backend)
{
	struct nl_msg *m = new_msg(family, NBD_CMD_RECONFIGURE);
	int e;

	if (!m)
		return NULL;
	e = nla_put_u32(m, NBD_ATTR_INDEX, (uint32_t)index);
	if (backend)
		e |= nla_put_string(m, NBD_ATTR_BACKEND_IDENTIFIER, backend);
	e |= put_socket(m, fd);
	return cru_genl_msg_done(m, e);
}

struct nl_msg *cru_nbd_msg_disconnect(int family, int index)
{
	struct nl_msg *m = new_msg(family, NBD_CMD_DISCONNECT);

	if (!m)
		return NULL;
	return cru_genl_msg_done(m, nla_put_u32(m, NBD_ATTR_INDEX,
					   (uint32_t)index));
}

struct nl_msg *cru_nbd_msg_status(int family, int index)
{
	struct nl_msg *m = new_msg(family, NBD_CMD_STATUS);

	if (!m)
		return NULL;
	return cru_genl_msg_done(m, nla_put_u32(m, NBD_ATTR_INDEX,
					   (uint32_t)index));
}

/* A message of @family and command @cmd, split into attributes. */
static int parse_nbd_msg(const struct nlmsghdr *nlh, int family, uint8_t cmd,
			 struct nlattr **tb, struct cru_err *err)
{
	const struct genlmsghdr *g;

	if (nlh->nlmsg_type != family ||
	    nlh->nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN)
		return cru_err_set(err, -EBADMSG,
				   "not a message of the nbd family");
	g = nlmsg_data(nlh);
	if (g->cmd != cmd)
		return cru_err_set(err, -EBADMSG,
				   "nbd message with command %u, expected %u",
				   g->cmd, cmd);
	if (genlmsg_parse((struct nlmsghdr *)nlh, 0, tb, NBD_ATTR_MAX, NULL))
		return cru_err_set(err, -EBADMSG,
				   "nbd message with malformed attributes");
	return 0;
}

int cru_nbd_parse_index(const struct nlmsghdr *nlh, int family, uint8_t cmd,
			int *index, struct cru_err *err)
{
	struct nlattr *tb[NBD_ATTR_MAX + 1];
	int ret = parse_nbd_msg(nlh, family, cmd, tb, err);

	if (ret)
		return ret;
	if (!tb[NBD_ATTR_INDEX] || nla_len(tb[NBD_ATTR_INDEX]) != 4)
		return cru_err_set(err, -EBADMSG,
				   "nbd message without a device index");
	*index = (int)nla_get_u32(tb[NBD_ATTR_INDEX]);
	if (*index < 0)
		return cru_err_set(err, -EBADMSG,
				   "nbd message with index %u",
				   nla_get_u32(tb[NBD_ATTR_INDEX]));
	return 0;
}

int cru_nbd_parse_status(const struct nlmsghdr *nlh, int family, int index,
			 bool *connected, struct cru_err *err)
{
	struct nlattr *tb[NBD_ATTR_MAX + 1], *dev[NBD_DEVICE_ATTR_MAX + 1];
	struct nlattr *item;
	int rem, ret;

	ret = parse_nbd_msg(nlh, family, NBD_CMD_STATUS, tb, err);
	if (ret)
		return ret;
	*connected = false;
	if (!tb[NBD_ATTR_DEVICE_LIST])
		return cru_err_set(err, -EBADMSG,
				   "nbd STATUS reply without a device list");
	nla_for_each_nested(item, tb[NBD_ATTR_DEVICE_LIST], rem) {
		if (nla_type(item) != NBD_DEVICE_ITEM)
			continue;
		if (nla_parse_nested(dev, NBD_DEVICE_ATTR_MAX, item, NULL))
			return cru_err_set(err, -EBADMSG,
					   "nbd STATUS reply with a malformed device");
		if (!dev[NBD_DEVICE_INDEX] ||
		    nla_len(dev[NBD_DEVICE_INDEX]) != 4 ||
		    nla_get_u32(dev[NBD_DEVICE_INDEX]) != (uint32_t)index)
			continue;
		if (!dev[NBD_DEVICE_CONNECTED] ||
		    nla_len(dev[NBD_DEVICE_CONNECTED]) != 1)
			return cru_err_set(err, -EBADMSG,
					   "nbd STATUS reply without CONNECTED for /dev/nbd%d",
					   index);
		*connected = nla_get_u8(dev[NBD_DEVICE_CONNECTED]);
		return 0;
	}
	return cru_err_set(err, -ENODEV, "no device /dev/nbd%d", index);
}

/* ---- netlink sockets (nl.c's, for the "nbd" family) */

/* What the kernel's errors mean for each request. */
static const char *errno_hint(uint8_t cmd, int error)
{
	switch (error) {
	case -EPERM:
		return "needs CAP_SYS_ADMIN";
	case -EBUSY:
		return cmd == NBD_CMD_CONNECT ? "the device is already connected" : NULL;
	case -EINVAL:
		switch (cmd) {
		case NBD_CMD_CONNECT:
			return "the kernel refused the configuration or the socket (see the kernel log)";
		case NBD_CMD_RECONFIGURE:
			return "no such device, not connected, or another backend identifier (see the kernel log)";
		case NBD_CMD_DISCONNECT:
			return "no such device";
		}
	}
	return NULL;
}

/* "<what>: <kernel's message>", or the errno with what it means here. */
static void nbd_sentence(const struct cru_nl_ack *ack,
			 const struct nlmsghdr *req, const char *what,
			 char *buf, size_t len)
{
	const struct genlmsghdr *g = req ? nlmsg_data(req) : NULL;
	const char *hint = errno_hint(g ? g->cmd : 0, ack->error);

	if (ack->msg[0])
		snprintf(buf, len, "%s: %s", what, ack->msg);
	else
		snprintf(buf, len, "%s: %s%s%s", what, strerror(-ack->error),
			 hint ? ": " : "", hint ? hint : "");
}

static const struct cru_genl_family nbd_family = {
	.name = NBD_GENL_FAMILY_NAME,
	.missing = "the nbd module is not loaded (modprobe nbd)",
	.timeout_ms = 30000,	/* CONNECT waits for the device */
	.sentence = nbd_sentence,
};

/* nl.c's sentences about the socket, as this file's: "nbd: ...". */
static int nbd_prefixed(int ret, struct cru_err *err)
{
	char msg[CRU_ERR_LEN];

	if (!err)
		return ret;
	snprintf(msg, sizeof(msg), "%s", err->msg);
	return cru_err_set(err, ret, "nbd: %s", msg);
}

int cru_nbd_nl_open(struct cru_nl **nl, struct cru_err *err)
{
	int ret = cru_genl_open(nl, &nbd_family, err);

	return ret ? nbd_prefixed(ret, err) : 0;
}

int cru_nbd_nl_open_events(struct cru_nl **nl, struct cru_err *err)
{
	int ret = cru_genl_open_events(nl, &nbd_family,
				       NBD_GENL_MCAST_GROUP_NAME, 0, err);

	return ret ? nbd_prefixed(ret, err) : 0;
}

/* The reply a request of @cmd (CONNECT, STATUS) waits for. */
struct reply {
	int family;
	uint8_t cmd;
	int index;		/* CONNECT's answer; STATUS's question */
	bool connected;		/* STATUS */
	bool got;
};

static int take_reply(const struct nlmsghdr *nlh, void *arg,
		      struct cru_err *err)
{
	struct reply *r = arg;

	if (r->got)
		return 0;
	r->got = true;
	if (r->cmd == NBD_CMD_STATUS)
		return cru_nbd_parse_status(nlh, r->family, r->index,
					    &r->connected, err);
	return cru_nbd_parse_index(nlh, r->family, r->cmd, &r->index, err);
}

/* Send @m (consumed) and wait for its ack, and for reply @r if not NULL. */
static int request(struct cru_nl *nl, struct nl_msg *m, const char *what,
		   struct reply *r, struct cru_err *err)
{
	int ret;

	if (!m)
		return cru_err_set(err, -ENOMEM, "%s: out of memory", what);
	ret = cru_genl_request(nl, m, what, r ? take_reply : NULL, r, err);
	if (!ret && r && !r->got)
		return cru_err_set(err, -EBADMSG,
				   "%s: the kernel acknowledged without a reply",
				   what);
	return ret;
}

int cru_nbd_kernel_connect(struct cru_nl *nl, int fd,
			   const struct cru_nbd_config *c, int *index,
			   struct cru_err *err)
{
	struct reply r = { .family = cru_nl_family(nl),
			   .cmd = NBD_CMD_CONNECT, .index = -1 };
	char what[64];
	int ret;

	if (c->index >= 0)
		snprintf(what, sizeof(what), "nbd: connecting /dev/nbd%d",
			 c->index);
	else
		snprintf(what, sizeof(what), "nbd: connecting a device");
	ret = request(nl, cru_nbd_msg_connect(r.family, fd, c), what, &r,
		      err);
	if (!ret)
		*index = r.index;
	return ret;
}

int cru_nbd_kernel_reconfigure(struct cru_nl *nl, int index, int fd,
			       const char *backend, struct cru_err *err)
{
	char what[64];

	snprintf(what, sizeof(what), "nbd: reconnecting /dev/nbd%d", index);
	return request(nl, cru_nbd_msg_reconfigure(cru_nl_family(nl), index,
						   fd, backend),
		       what, NULL, err);
}

int cru_nbd_kernel_disconnect(struct cru_nl *nl, int index,
			      struct cru_err *err)
{
	char what[64];

	snprintf(what, sizeof(what), "nbd: disconnecting /dev/nbd%d", index);
	return request(nl, cru_nbd_msg_disconnect(cru_nl_family(nl), index),
		       what, NULL, err);
}

int cru_nbd_kernel_status(struct cru_nl *nl, int index, bool *connected,
			  struct cru_err *err)
{
	struct reply r = { .family = cru_nl_family(nl),
			   .cmd = NBD_CMD_STATUS, .index = index };
	char what[64];
	int ret;

	snprintf(what, sizeof(what), "nbd: status of /dev/nbd%d", index);
	ret = request(nl, cru_nbd_msg_status(r.family, index), what, &r, err);
	if (ret == -ENODEV)
		cru_err_set(err, ret, "nbd: no device /dev/nbd%d", index);
	if (!ret)
		*connected = r.connected;
	return ret;
}

struct link_dead_ctx {
	int family;
	cru_nbd_event_fn fn;
	void *arg;
	int seen;
};

static void link_dead(const struct nlmsghdr *nlh, void *arg)
{
	struct link_dead_ctx *x = arg;
	struct cru_err perr;
	int index;

	/* The group carries LINK_DEAD only, for now. */
	if (cru_nbd_parse_index(nlh, x->family, NBD_CMD_LINK_DEAD, &index,
				&perr)) {
		log_debug("nbd: event ignored: %s", perr.msg);
		return;
	}
	x->fn(index, x->arg);
	x->seen++;
}

int cru_nbd_nl_read_events(struct cru_nl *nl, cru_nbd_event_fn fn, void *arg,
			   struct cru_err *err)
{
	struct link_dead_ctx x = { .family = cru_nl_family(nl), .fn = fn,
				   .arg = arg };
	int ret = cru_genl_read_events(nl, link_dead, &x, err);

	return ret < 0 ? nbd_prefixed(ret, err) : x.seen;
}

/* ---- high level */

int cru_nbd_dev_size(int index, uint64_t *bytes, struct cru_err *err)
{
	char path[64], line[32];
	unsigned long long sectors;
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/sys/block/nbd%d/size", index);
	f = fopen(path, "re");
	if (!f)
		return cru_err_set(err, -ENODEV, "no device /dev/nbd%d", index);
	ok = fgets(line, sizeof(line), f) && sscanf(line, "%llu", &sectors) == 1;
	fclose(f);
	if (!ok)
		return cru_err_set(err, -EIO, "cannot read %s", path);
	*bytes = (uint64_t)sectors * 512;
	return 0;
}

int cru_nbd_attach(struct cru_nl *nl, const struct cru_nbd_uri *u,
		   const struct cru_nbd_options *o,
		   const struct cru_nbd_config *c, int *index,
		   struct cru_nbd_export *ex, struct cru_err *err)
{
	struct cru_nbd_config cfg = *c;
	char uri[CRU_NBD_URI_MAX];
	uint32_t bs;
	int fd, ret;

	ret = cru_nbd_open(u, o, &fd, ex, err);
	if (ret)
		return ret;
	ret = cru_nbd_block_size(ex, &bs, err);
	if (ret)
		goto out;
	cfg.size = ex->size;
	cfg.flags = ex->flags;
	cfg.block_size = bs;
	if (!cfg.backend) {
		cru_nbd_format_uri(u, uri, sizeof(uri));
		cfg.backend = uri;
	}
	ret = cru_nbd_kernel_connect(nl, fd, &cfg, index, err);
out:
	/* The kernel holds its own reference to the socket now. */
	close(fd);
	return ret;
}

int cru_nbd_reattach(struct cru_nl *nl, int index,
		     const struct cru_nbd_uri *u,
		     const struct cru_nbd_options *o, const char *backend,
		     struct cru_nbd_export *ex, struct cru_err *err)
{
	char uri[CRU_NBD_URI_MAX];
	bool connected;
	uint64_t size;
	int fd, ret;

	ret = cru_nbd_kernel_status(nl, index, &connected, err);
	if (ret)
		return ret;
	if (!connected)
		return cru_err_set(err, -ENOTCONN,
				   "nbd: /dev/nbd%d is not connected (reconnect gives a connected device a new link; use connect)",
				   index);
	ret = cru_nbd_dev_size(index, &size, err);
	if (ret)
		return ret;
	ret = cru_nbd_open(u, o, &fd, ex, err);
	if (ret)
		return ret;
	if (ex->size != size) {
		char server[CRU_NBD_HOST_MAX + 16];

		cru_nbd_format_server(u, server, sizeof(server));
		ret = cru_err_set(err, -EINVAL,
				  "NBD server %s: export '%s' now has %" PRIu64 " bytes, /dev/nbd%d has %" PRIu64 ": not the same export",
				  server, u->export_name, ex->size, index,
				  size);
		goto out;
	}
	if (!backend) {
		cru_nbd_format_uri(u, uri, sizeof(uri));
		backend = uri;
	}
	ret = cru_nbd_kernel_reconfigure(nl, index, fd, backend, err);
out:
	close(fd);
	return ret;
}

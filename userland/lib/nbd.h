/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Remote legs over NBD (Documentation/nbd.rst): connect to an export,
 * negotiate it, and hand the socket to the kernel's NBD client.
 *
 * Three halves:
 *
 *   URIs: "nbd://host[:port]/export" (RFC 3986 with the NBD URI rules:
 *     IPv6 addresses in brackets, default port 10809, the export name is
 *     the percent-decoded path after the first '/').
 *
 *   the handshake: a TCP connection with a deadline, then the
 *     fixed-newstyle negotiation written here (NBD_OPT_GO, falling back to
 *     NBD_OPT_EXPORT_NAME for servers that do not know GO).  Structured
 *     replies and extended headers are never asked for: the kernel's
 *     client reads simple replies only.  A server that breaks the protocol
 *     or offers an export the kernel cannot use is refused with a sentence
 *     that names the server and what was wrong.
 *
 *   the kernel: the "nbd" generic netlink family (libnl-genl-3): CONNECT,
 *     RECONFIGURE (a new socket for a dead link), DISCONNECT, STATUS, and
 *     the LINK_DEAD events of the "nbd_mc_group" group.
 *
 * Errors follow log.h: 0 or a negative errno, with a sentence in the
 * struct cru_err.  No function leaves a file descriptor open on failure.
 */
#ifndef CRU_NBD_H
#define CRU_NBD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"

struct cru_nl;
struct nl_msg;
struct nlmsghdr;

#define CRU_NBD_DEFAULT_PORT	10809
/* A DNS name is at most 253 characters; an IPv6 literal fewer. */
#define CRU_NBD_HOST_MAX	255
/* The protocol's limit on export names (doc/proto.md). */
#define CRU_NBD_EXPORT_MAX	4096
/* "nbd://[host]:65535/" and a name whose every byte is %-encoded. */
#define CRU_NBD_URI_MAX		(16 + CRU_NBD_HOST_MAX + 3 * CRU_NBD_EXPORT_MAX)

/* Connect plus handshake, when the caller gives no time limit. */
#define CRU_NBD_DEFAULT_TIMEOUT_MS	10000
/* Largest option reply read: export names and messages are far shorter. */
#define CRU_NBD_MAX_REPLY	65536
/* The largest export accepted: the kernel counts in signed 64-bit bytes. */
#define CRU_NBD_MAX_SIZE	(1ULL << 62)

/* ---- URIs */

struct cru_nbd_uri {
	char host[CRU_NBD_HOST_MAX + 1];	/* without IPv6 brackets */
	uint16_t port;
	char export_name[CRU_NBD_EXPORT_MAX + 1];	/* decoded, may be "" */
};

/*
 * Parse @s.  Refused with a sentence: another scheme (nbds:// and
 * nbd+unix:// included: TLS and local sockets are not supported), user
 * information, a query or fragment, an empty or malformed host, a port
 * that is not 1 to 65535, a bad %-escape or an encoded NUL, an export
 * name longer than the protocol allows.
 */
int cru_nbd_parse_uri(const char *s, struct cru_nbd_uri *u,
		      struct cru_err *err);

/* The canonical form: port always given, the name %-encoded as needed. */
void cru_nbd_format_uri(const struct cru_nbd_uri *u, char *buf, size_t len);

/* "host:port" or "[v6]:port", to name the server in messages. */
void cru_nbd_format_server(const struct cru_nbd_uri *u, char *buf,
			   size_t len);

/* ---- the handshake */

/* What the server told about its export. */
struct cru_nbd_export {
	uint64_t size;			/* bytes */
	uint16_t flags;			/* transmission flags, NBD_FLAG_* */
	uint16_t handshake_flags;	/* the server's NBD_FLAG_FIXED_NEWSTYLE... */
	/* NBD_INFO_BLOCK_SIZE; all 0 when the server sent none. */
	uint32_t min_block;
	uint32_t pref_block;
	uint32_t max_block;
	bool export_name_fallback;	/* NBD_OPT_GO unsupported: EXPORT_NAME used */
};

struct cru_nbd_options {
	int timeout_ms;		/* connect + handshake; 0: the default */
	uint64_t min_size;	/* refuse smaller exports (bytes); 0: any */
};

/*
 * Negotiate export @export_name on connected stream @fd, whose server
 * @server (for messages, "host:port") is on the other end.  The whole
 * negotiation must end within @timeout_ms.  @fd stays the caller's; on
 * success the connection is in the transmission phase, ready for the
 * kernel, with its blocking mode as it was.
 */
int cru_nbd_handshake(int fd, const char *server, const char *export_name,
		      const struct cru_nbd_options *o,
		      struct cru_nbd_export *ex, struct cru_err *err);

/* The addresses of @u's host (stream sockets to its port), for freeaddrinfo. */
struct addrinfo;
int cru_nbd_resolve(const struct cru_nbd_uri *u, struct addrinfo **res,
		    struct cru_err *err);

/* TCP_USER_TIMEOUT of every NBD connection (see tune_socket in nbd.c). */
#define CRU_NBD_USER_TIMEOUT_MS	10000

/*
 * A TCP connection to @u's host and port (every address the name
 * resolves to, in order) within @timeout_ms, with TCP_NODELAY,
 * SO_KEEPALIVE and TCP_USER_TIMEOUT, in blocking mode: the new descriptor
 * in *@fd.
 */
int cru_nbd_tcp_connect(const struct cru_nbd_uri *u, int timeout_ms, int *fd,
			struct cru_err *err);

/* Connect and negotiate: *@fd is ready for cru_nbd_kernel_connect. */
int cru_nbd_open(const struct cru_nbd_uri *u, const struct cru_nbd_options *o,
		 int *fd, struct cru_nbd_export *ex, struct cru_err *err);

/*
 * The block size to give the kernel for @ex: the server's minimum, at
 * least 512; -EINVAL if the kernel cannot use it (above the page size,
 * not a power of two) or the size is not a multiple of it.
 */
int cru_nbd_block_size(const struct cru_nbd_export *ex, uint32_t *bs,
		       struct cru_err *err);

/* "HAS_FLAGS,SEND_FLUSH,SEND_FUA,...": the names of transmission @flags. */
void cru_nbd_format_flags(uint16_t flags, char *buf, size_t len);

/*
 * ---- the kernel's NBD client ("nbd" generic netlink family)
 *
 * Its sockets are nl.h's (struct cru_nl): cru_nl_close, cru_nl_fd.
 */

/* How a device is set up by CONNECT. */
struct cru_nbd_config {
	int index;			/* /dev/nbdN to use; -1: the kernel picks */
	uint64_t size;			/* bytes */
	uint32_t block_size;		/* 0: 512 */
	uint16_t flags;			/* the export's transmission flags */
	uint64_t timeout_s;		/* per request; 0: the kernel's default */
	uint64_t dead_conn_timeout_s;	/* I/O waits this long for a reconnect */
	const char *backend;		/* identifier RECONFIGURE must repeat */
};

/*
 * The command socket.  -ENOENT ("the nbd module is not loaded") when the
 * kernel has no "nbd" family.
 */
int cru_nbd_nl_open(struct cru_nl **nl, struct cru_err *err);
/*
 * The event socket: joined to "nbd_mc_group", non-blocking; poll its
 * cru_nl_fd for POLLIN and read with cru_nbd_nl_read_events.
 */
int cru_nbd_nl_open_events(struct cru_nl **nl, struct cru_err *err);

/*
 * CONNECT: the kernel takes its own reference to socket @fd (the caller
 * closes its descriptor afterwards); the device's index in *@index.
 */
int cru_nbd_kernel_connect(struct cru_nl *nl, int fd,
			   const struct cru_nbd_config *c, int *index,
			   struct cru_err *err);
/*
 * RECONFIGURE device @index with socket @fd in place of a dead one.
 * @backend must be the identifier given at CONNECT (or NULL if none was).
 * The kernel ignores the socket when no link of the device is dead.
 */
int cru_nbd_kernel_reconfigure(struct cru_nl *nl, int index, int fd,
			       const char *backend, struct cru_err *err);
/* DISCONNECT device @index: outstanding and later I/O fails. */
int cru_nbd_kernel_disconnect(struct cru_nl *nl, int index,
			      struct cru_err *err);
/*
 * STATUS of device @index: *@connected says whether it has a
 * configuration (it stays connected while a link is dead); -ENODEV when
 * there is no such device.
 */
int cru_nbd_kernel_status(struct cru_nl *nl, int index, bool *connected,
			  struct cru_err *err);

/*
 * Read every LINK_DEAD event waiting on event socket @nl (all the
 * messages of each datagram), calling @fn with each device's index;
 * messages that are not a well-formed LINK_DEAD are skipped.  Returns the
 * number of events, -ENOBUFS when events were lost (the socket goes on
 * working; what is queued is read at the next call), or another negative
 * errno.
 */
typedef void (*cru_nbd_event_fn)(int index, void *arg);
int cru_nbd_nl_read_events(struct cru_nl *nl, cru_nbd_event_fn fn, void *arg,
			   struct cru_err *err);

/* ---- high level: what the agent and crucible-nbd do */

/*
 * Connect to @u, negotiate, hand the socket to the kernel with @c (its
 * size, block size and flags taken from the export), close our copy:
 * the device's index in *@index.  @c->backend NULL: the canonical URI.
 */
int cru_nbd_attach(struct cru_nl *nl, const struct cru_nbd_uri *u,
		   const struct cru_nbd_options *o,
		   const struct cru_nbd_config *c, int *index,
		   struct cru_nbd_export *ex, struct cru_err *err);

/*
 * A new connection to @u for device @index, whose link died: refused if
 * the device is not connected (-ENOTCONN) or the export's size is no
 * longer the device's.  @backend NULL: the
 * canonical URI (as cru_nbd_attach set it).
 */
int cru_nbd_reattach(struct cru_nl *nl, int index,
		     const struct cru_nbd_uri *u,
		     const struct cru_nbd_options *o, const char *backend,
		     struct cru_nbd_export *ex, struct cru_err *err);

/* The size in bytes of /dev/nbd@index (sysfs); -ENODEV if none. */
int cru_nbd_dev_size(int index, uint64_t *bytes, struct cru_err *err);

/* ---- messages (pure: built and parsed without a kernel; for tests) */

struct nl_msg *cru_nbd_msg_connect(int family, int fd,
				   const struct cru_nbd_config *c);
struct nl_msg *cru_nbd_msg_reconfigure(int family, int index, int fd,
				       const char *backend);
struct nl_msg *cru_nbd_msg_disconnect(int family, int index);
struct nl_msg *cru_nbd_msg_status(int family, int index);

/* The INDEX of a CONNECT reply or a LINK_DEAD event of command @cmd. */
int cru_nbd_parse_index(const struct nlmsghdr *nlh, int family, uint8_t cmd,
			int *index, struct cru_err *err);
/*
 * A STATUS reply: is device @index in its DEVICE_LIST and connected?
 * -ENODEV if it is not listed.
 */
int cru_nbd_parse_status(const struct nlmsghdr *nlh, int family, int index,
			 bool *connected, struct cru_err *err);

#endif /* CRU_NBD_H */

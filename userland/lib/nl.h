/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small client of the "crucible" generic netlink family
 * (include/crucible/netlink.h, Documentation/netlink.rst) over
 * libnl-genl-3.
 *
 * Two halves:
 *
 *   parsing: messages (a struct nlmsghdr) into plain structs, acks and
 *     extended acks into an errno and the kernel's sentence.  Pure
 *     functions, unit-tested on messages built with nlmsg_alloc/nla_put.
 *
 *   sockets: a command socket (requests, acks, dumps) and an event socket
 *     (the "events" multicast group).  A request names its volume by
 *     CRUCIBLE_ATTR_DEV; cru_nl_find_volume maps a device-mapper name to
 *     it through LIST_VOLUMES, so nothing here depends on how the kernel
 *     encodes a dev_t.
 *
 * Errors follow log.h: 0 or a negative errno, with a sentence in the
 * struct cru_err ("REPAIR refused: source leg 1 is stale in region 3
 * (attribute SRC_LEG)").
 */
#ifndef CRU_NL_H
#define CRU_NL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/netlink.h>

#include <crucible/netlink.h>

#include "log.h"
#include "spec.h"
#include "status.h"

struct nl_msg;
struct nl_sock;

/* Bit of attribute @a in a "have" mask. */
#define CRU_NL_HAVE(a)	(1ULL << (a))

/* "DEV", "LEG_STATES", ...; "attribute N" for an unknown one. */
const char *cru_nl_attr_name(int attr);
/* "LIST_VOLUMES", "LEG_FAULTED", ...; NULL for an unknown command. */
const char *cru_nl_cmd_name(int cmd);
/* "alive", "stale", "failed", "disabled", or "unknown". */
const char *cru_nl_leg_state_name(unsigned int state);
/* "rw", "fenced", "failed", or "unknown". */
const char *cru_nl_mode_name(unsigned int mode);
/* "idle", "running", "paused", "waiting", or "unknown". */
const char *cru_nl_repair_state_name(unsigned int state);
/* The status line's leg letter: A, S, F, D, or ? for an unknown state. */
char cru_nl_leg_state_code(unsigned int state);
/* Leg @state keeps the leg in service (alive or stale). */
static inline bool cru_nl_leg_in_service(unsigned int state)
{
	return state == CRUCIBLE_NL_LEG_ALIVE || state == CRUCIBLE_NL_LEG_STALE;
}

/* One CRUCIBLE_CMD_VOLUME message (LIST_VOLUMES). */
struct cru_nl_volume {
	uint64_t have;			/* CRU_NL_HAVE() of each attribute */
	uint32_t dev;
	char name[CRU_NAME_MAX + 1];
	uint8_t mode;			/* CRUCIBLE_NL_MODE_* */
	uint64_t generation;
	uint64_t flush;
	uint64_t nr_regions;
	uint64_t in_sync;
	uint32_t region_blocks;
	uint64_t volume_blocks;
	uint8_t leg_states[CRU_NR_LEGS];	/* CRUCIBLE_NL_LEG_* */
	uint8_t repair_state;		/* CRUCIBLE_NL_REPAIR_* */
	uint64_t repaired;
	uint64_t hydrated;
	uint64_t hydration_total;	/* 0: no parent */
	uint32_t repair_throttle;	/* MiB/s, 0 unlimited */
	uint32_t hydration_throttle;
	uint64_t unrecoverable;		/* blocks bad on every leg (0 before) */
};

/* Legs in service (alive or stale), as a bit mask. */
unsigned int cru_nl_volume_in_service(const struct cru_nl_volume *v);

/*
 * CRUCIBLE_ATTR_DEV is the kernel's new_encode_dev() of the volume's
 * dev_t: the encoding of stat(2)'s st_rdev for 32-bit numbers.
 */
static inline uint32_t cru_nl_encode_dev(unsigned int major, unsigned int minor)
{
	return (minor & 0xffU) | (major << 8) | ((minor & ~0xffU) << 12);
}

static inline void cru_nl_decode_dev(uint32_t dev, unsigned int *major,
				     unsigned int *minor)
{
	*major = (dev & 0xfff00U) >> 8;
	*minor = (dev & 0xffU) | ((dev >> 12) & 0xfff00U);
}

/* One CRUCIBLE_CMD_REGION message (GET_REGIONS). */
struct cru_nl_region {
	uint64_t region;
	uint32_t flags;			/* CRUCIBLE_NL_REGION_* */
};

/* One CRUCIBLE_CMD_RECORD message (GET_RECORDS). */
struct cru_nl_record {
	uint64_t block;
	uint64_t hash;			/* 0 never written, 2 zeroed */
	uint32_t flush;			/* low 32 bits of the flush number */
	bool ok;			/* the record passed its check */
};

/* An event of the "events" group; fields the event has are in @have. */
struct cru_nl_event {
	uint8_t cmd;			/* CRUCIBLE_EVENT_* */
	uint64_t have;
	uint32_t dev;
	uint8_t leg;
	uint8_t leg_state;
	uint64_t in_sync;
	uint64_t nr_regions;
	uint64_t repaired;
	uint64_t block;
	uint64_t hydrated;
	uint64_t hydration_total;
};

/* ---- parsing (pure) */

/*
 * Split a crucible message into attributes: @tb[CRUCIBLE_ATTR_MAX + 1]
 * is filled, *@cmd set.  Every attribute this header knows is checked
 * for its size and, where the header gives one, its range; attributes of
 * a newer kernel (numbers above CRUCIBLE_ATTR_MAX) are ignored.
 */
int cru_nl_parse_attrs(const struct nlmsghdr *nlh, struct nlattr **tb,
		       uint8_t *cmd, struct cru_err *err);

int cru_nl_parse_volume(struct nlattr **tb, struct cru_nl_volume *v,
			struct cru_err *err);
int cru_nl_parse_region(struct nlattr **tb, struct cru_nl_region *r,
			struct cru_err *err);
int cru_nl_parse_record(struct nlattr **tb, struct cru_nl_record *r,
			struct cru_err *err);
/* Every event needs DEV and the attributes the header lists for it. */
int cru_nl_parse_event(struct nlattr **tb, uint8_t cmd,
		       struct cru_nl_event *ev, struct cru_err *err);

/* The kernel's answer to a request: an ack, an error, or the end of a dump. */
struct cru_nl_ack {
	int error;		/* 0 or a negative errno */
	char msg[CRU_ERR_LEN];	/* NLMSGERR_ATTR_MSG, or "" */
	bool has_offset;
	uint32_t offset;	/* NLMSGERR_ATTR_OFFS: bad attribute's offset */
	int missing;		/* NLMSGERR_ATTR_MISS_TYPE: missing attribute, or 0 */
};

/*
 * Parse an NLMSG_ERROR (ack or error) or NLMSG_DONE message, with the
 * extended-ack attributes that follow it.  -EBADMSG if it is neither or
 * is truncated.
 */
int cru_nl_parse_ack(const struct nlmsghdr *nlh, struct cru_nl_ack *ack);

/*
 * The attribute of request @req at byte @offset (an extended ack's
 * NLMSGERR_ATTR_OFFS, counted from the start of the netlink header), or
 * -1 if no top-level attribute starts there.
 */
int cru_nl_attr_at_offset(const struct nlmsghdr *req, uint32_t offset);

/*
 * The sentence for an error answer to request @req (which may be NULL):
 * "<what>: <kernel's message or strerror> (attribute <NAME>)".
 */
void cru_nl_ack_sentence(const struct cru_nl_ack *ack,
			 const struct nlmsghdr *req, const char *what,
			 char *buf, size_t len);

/* ---- requests (pure: build the message) */

struct cru_nl_repair {
	uint64_t first;		/* region */
	uint64_t count;		/* regions */
	uint8_t src;		/* leg */
	uint8_t dst;		/* bit mask of legs */
};

/* Each returns a new message for family @family, or NULL (no memory). */
struct nl_msg *cru_nl_msg_list_volumes(int family);
/* @count 0: neither FIRST nor COUNT unless @first (the whole volume). */
struct nl_msg *cru_nl_msg_get_regions(int family, uint32_t dev,
				      uint64_t first, uint64_t count);
struct nl_msg *cru_nl_msg_get_records(int family, uint32_t dev, uint8_t leg,
				      uint64_t first, uint64_t count);
struct nl_msg *cru_nl_msg_repair(int family, uint32_t dev,
				 const struct cru_nl_repair *r);
struct nl_msg *cru_nl_msg_set_leg(int family, uint32_t dev, uint8_t leg,
				  uint8_t action);
/* A negative throttle is left out of the request. */
struct nl_msg *cru_nl_msg_set_throttle(int family, uint32_t dev,
				       int64_t repair, int64_t hydration);
struct nl_msg *cru_nl_msg_reconcile(int family, uint32_t dev, bool start);

/* ---- sockets */

struct cru_nl;

/* Called with every answer to a request sent by cru_nl_send_async. */
typedef void (*cru_nl_ack_fn)(uint32_t seq, const struct cru_nl_ack *ack,
			      const struct nlmsghdr *req, void *arg);

/*
 * Open a command socket and resolve the family.  -ENOENT when the kernel
 * has no "crucible" family (the module is not loaded, or is older than
 * the family); -EPROTONOSUPPORT without generic netlink.
 */
int cru_nl_open(struct cru_nl **nl, struct cru_err *err);
void cru_nl_close(struct cru_nl *nl);
/*
 * For tests: a socket that talks to the user-space netlink socket
 * @peer_port (a stand-in for the kernel, CAP_NET_ADMIN needed) and takes
 * @family as the family's id.  It reads events as well as answers.
 */
int cru_nl_open_peer(struct cru_nl **nl, uint32_t peer_port, int family,
		     struct cru_err *err);
uint32_t cru_nl_port(const struct cru_nl *nl);
int cru_nl_family(const struct cru_nl *nl);
int cru_nl_fd(const struct cru_nl *nl);
/* Where cru_nl_send_async's answers go. */
void cru_nl_set_ack_handler(struct cru_nl *nl, cru_nl_ack_fn fn, void *arg);

/*
 * Send @msg (consumed) and wait for the ack: 0, or the kernel's error
 * with its sentence in @err, prefixed with @what.
 */
int cru_nl_request(struct cru_nl *nl, struct nl_msg *msg, const char *what,
		   struct cru_err *err);

/*
 * Send @msg (consumed) without waiting; *@seq identifies its answer,
 * which goes to the ack handler from cru_nl_process or from any
 * synchronous call that reads it first.
 */
int cru_nl_send_async(struct cru_nl *nl, struct nl_msg *msg, uint32_t *seq,
		      struct cru_err *err);

/* Read the answers that are there (non-blocking), for the ack handler. */
int cru_nl_process(struct cru_nl *nl, struct cru_err *err);

/*
 * Run dump @msg (consumed): @fn gets every reply's attributes and command
 * and returns 0, or a negative errno to abort the dump with that error.
 */
typedef int (*cru_nl_dump_fn)(struct nlattr **tb, uint8_t cmd, void *arg,
			      struct cru_err *err);
int cru_nl_dump(struct cru_nl *nl, struct nl_msg *msg, const char *what,
		cru_nl_dump_fn fn, void *arg, struct cru_err *err);

/* LIST_VOLUMES into a malloc'ed array. */
int cru_nl_list_volumes(struct cru_nl *nl, struct cru_nl_volume **vols,
			size_t *count, struct cru_err *err);
/* The volume named @name: -ENODEV if no crucible volume has that name. */
int cru_nl_find_volume(struct cru_nl *nl, const char *name,
		       struct cru_nl_volume *v, struct cru_err *err);
/*
 * GET_REGIONS into a malloc'ed array: the whole volume (@first and @count
 * 0) or @count regions from @first.
 */
int cru_nl_get_regions(struct cru_nl *nl, uint32_t dev, uint64_t first,
		       uint64_t count, struct cru_nl_region **regions,
		       size_t *nr, struct cru_err *err);
/* GET_RECORDS into a malloc'ed array. */
int cru_nl_get_records(struct cru_nl *nl, uint32_t dev, uint8_t leg,
		       uint64_t first, uint64_t count,
		       struct cru_nl_record **records, size_t *nr,
		       struct cru_err *err);

/*
 * The event socket: subscribed to the "events" group, non-blocking.
 * @rcvbuf > 0 sets its receive buffer (SO_RCVBUF; the kernel doubles it
 * and applies its minimum).
 */
int cru_nl_open_events(struct cru_nl **nl, int rcvbuf, struct cru_err *err);

/*
 * Is event socket @nl still in the events group?  0, or -ENOENT when the
 * kernel dropped it: unregistering the family (the module unloaded)
 * empties its groups, and a family registered again may get the same
 * ids, so requests go on working while no event comes.
 */
int cru_nl_subscribed(const struct cru_nl *nl, struct cru_err *err);

/*
 * Read the events that are there: @fn (if not NULL) gets each one.  A message that
 * cannot be parsed is given to @fn with ev->cmd set and an error in
 * @perr (so a caller can still act on ev->dev when ev->have says it is
 * there).  Returns the number of events, -ENOBUFS when the kernel
 * dropped events since the last read (the socket goes on working; what
 * was queued is read at the next call), or another negative errno.
 */
typedef void (*cru_nl_event_fn)(const struct cru_nl_event *ev,
				const struct cru_err *perr, void *arg);
int cru_nl_read_events(struct cru_nl *nl, cru_nl_event_fn fn, void *arg,
		       struct cru_err *err);

/*
 * A generic netlink request of @family (any family: the nbd client uses
 * these too), or NULL when out of memory.  cru_genl_msg_done() frees @m
 * and returns NULL if @puts (the OR of nla_put_* results, non-zero only
 * when the message is full) says an attribute did not fit.
 */
struct nl_msg *cru_genl_msg_new(int family, uint8_t cmd, int flags,
				uint8_t version);
struct nl_msg *cru_genl_msg_done(struct nl_msg *m, int puts);

/*
 * A generic netlink family described for cru_genl_open() and
 * cru_genl_open_events() (cru_nl_open() and cru_nl_open_events() are
 * those for the crucible family).  The cru_nl_* socket calls (close, fd,
 * family, process) work on sockets of any family.
 */
struct cru_genl_family {
	const char *name;	/* "crucible", "nbd" */
	const char *missing;	/* the sentence when the kernel has no such family */
	int timeout_ms;		/* how long a request waits for its answer */
	/* How an error answer to request @req reads (cru_nl_ack_sentence). */
	void (*sentence)(const struct cru_nl_ack *ack,
			 const struct nlmsghdr *req, const char *what,
			 char *buf, size_t len);
};

/* As cru_nl_open: -ENOENT with @f->missing when the kernel has no @f. */
int cru_genl_open(struct cru_nl **nl, const struct cru_genl_family *f,
		  struct cru_err *err);
/* As cru_nl_open_events, joined to multicast group @group of @f. */
int cru_genl_open_events(struct cru_nl **nl, const struct cru_genl_family *f,
			 const char *group, int rcvbuf, struct cru_err *err);

/*
 * Send @msg (consumed) and wait for its ack, as cru_nl_request; @fn (if
 * not NULL) gets each reply of the family that comes before the ack,
 * until it returns an error, which is the request's error once the ack
 * came ("<what>: <fn's sentence>").
 */
typedef int (*cru_genl_reply_fn)(const struct nlmsghdr *nlh, void *arg,
				 struct cru_err *err);
int cru_genl_request(struct cru_nl *nl, struct nl_msg *msg, const char *what,
		     cru_genl_reply_fn fn, void *arg, struct cru_err *err);

/*
 * Every message of @nl's family waiting on event socket @nl (all the
 * messages of each datagram, in order) to @fn, until none is left.
 * Returns their number, -ENOBUFS when the kernel dropped events since the
 * last read (the socket goes on working; what is queued is read at the
 * next call), or another negative errno.  cru_nl_read_events is this for
 * the crucible family.
 */
typedef void (*cru_genl_msg_fn)(const struct nlmsghdr *nlh, void *arg);
int cru_genl_read_events(struct cru_nl *nl, cru_genl_msg_fn fn, void *arg,
			 struct cru_err *err);

#endif /* CRU_NL_H */

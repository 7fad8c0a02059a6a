// SPDX-License-Identifier: GPL-2.0
/*
 * Client of the "crucible" generic netlink family.
 *
 * libnl builds and parses messages and resolves the family; answers are
 * read from the socket here, so that an ack for an asynchronous request
 * that arrives in the middle of a dump reaches its handler, ENOBUFS on
 * the event socket is seen as such, and an error at the end of a dump
 * (NLMSG_DONE) is not lost.
 */
#include "nl.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>

#include "table.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

/* How long a synchronous request waits for the kernel's answer. */
#define CRU_NL_TIMEOUT_MS	10000
/* Requests sent with cru_nl_send_async whose answer has not come yet. */
#define CRU_NL_MAX_PENDING	32
/* Dump replies are at most 32 KiB (the kernel's cap on its dump buffers). */
#define CRU_NL_BUF_LEN		65536
/* A dump that a concurrent change made inconsistent is run again. */
#define CRU_NL_DUMP_TRIES	3

enum attr_type { T_NONE, T_U8, T_U32, T_U64, T_STRING, T_BINARY };

static const struct {
	const char *name;
	enum attr_type type;
	bool ranged;
	uint64_t min, max;
	size_t len;		/* T_BINARY: exact length; T_STRING: max chars */
} attrs[CRUCIBLE_ATTR_MAX + 1] = {
	[CRUCIBLE_ATTR_PAD] = { "PAD", T_NONE },
	[CRUCIBLE_ATTR_DEV] = { "DEV", T_U32 },
	[CRUCIBLE_ATTR_NAME] = { "NAME", T_STRING, .len = CRU_NAME_MAX },
	[CRUCIBLE_ATTR_LEG] = { "LEG", T_U8, true, 0, CRU_NR_LEGS - 1 },
	[CRUCIBLE_ATTR_SRC_LEG] = { "SRC_LEG", T_U8, true, 0, CRU_NR_LEGS - 1 },
	[CRUCIBLE_ATTR_DST_LEGS] = { "DST_LEGS", T_U8, true, 1, 7 },
	[CRUCIBLE_ATTR_FIRST] = { "FIRST", T_U64 },
	[CRUCIBLE_ATTR_COUNT] = { "COUNT", T_U64, true, 1, UINT64_MAX },
	[CRUCIBLE_ATTR_LEG_ACTION] = { "LEG_ACTION", T_U8, true,
				       CRUCIBLE_LEG_ACTION_FAIL,
				       CRUCIBLE_LEG_ACTION_RESTORE },
	[CRUCIBLE_ATTR_REPAIR_THROTTLE] = { "REPAIR_THROTTLE", T_U32, true, 0,
					    CRU_THROTTLE_MAX },
	[CRUCIBLE_ATTR_HYDRATION_THROTTLE] = { "HYDRATION_THROTTLE", T_U32,
					       true, 0, CRU_THROTTLE_MAX },
	[CRUCIBLE_ATTR_RECONCILE] = { "RECONCILE", T_U8, true, 0, 1 },
	[CRUCIBLE_ATTR_MODE] = { "MODE", T_U8 },
	[CRUCIBLE_ATTR_GENERATION] = { "GENERATION", T_U64 },
	[CRUCIBLE_ATTR_FLUSH] = { "FLUSH", T_U64 },
	[CRUCIBLE_ATTR_NR_REGIONS] = { "NR_REGIONS", T_U64 },
	[CRUCIBLE_ATTR_IN_SYNC] = { "IN_SYNC", T_U64 },
	[CRUCIBLE_ATTR_REGION_BLOCKS] = { "REGION_BLOCKS", T_U32 },
	[CRUCIBLE_ATTR_VOLUME_BLOCKS] = { "VOLUME_BLOCKS", T_U64 },
	[CRUCIBLE_ATTR_LEG_STATES] = { "LEG_STATES", T_BINARY,
				       .len = CRU_NR_LEGS },
	[CRUCIBLE_ATTR_LEG_STATE] = { "LEG_STATE", T_U8 },
	[CRUCIBLE_ATTR_REPAIR_STATE] = { "REPAIR_STATE", T_U8 },
	[CRUCIBLE_ATTR_REPAIRED] = { "REPAIRED", T_U64 },
	[CRUCIBLE_ATTR_HYDRATED] = { "HYDRATED", T_U64 },
	[CRUCIBLE_ATTR_HYDRATION_TOTAL] = { "HYDRATION_TOTAL", T_U64 },
	[CRUCIBLE_ATTR_REGION] = { "REGION", T_U64 },
	[CRUCIBLE_ATTR_REGION_FLAGS] = { "REGION_FLAGS", T_U32 },
	[CRUCIBLE_ATTR_BLOCK] = { "BLOCK", T_U64 },
	[CRUCIBLE_ATTR_HASH] = { "HASH", T_U64 },
	[CRUCIBLE_ATTR_RECORD_OK] = { "RECORD_OK", T_U8, true, 0, 1 },
	[CRUCIBLE_ATTR_UNRECOVERABLE] = { "UNRECOVERABLE", T_U64 },
};

static const char *const cmd_names[CRUCIBLE_CMD_MAX + 1] = {
	[CRUCIBLE_CMD_LIST_VOLUMES] = "LIST_VOLUMES",
	[CRUCIBLE_CMD_GET_REGIONS] = "GET_REGIONS",
	[CRUCIBLE_CMD_GET_RECORDS] = "GET_RECORDS",
	[CRUCIBLE_CMD_REPAIR] = "REPAIR",
	[CRUCIBLE_CMD_SET_LEG] = "SET_LEG",
	[CRUCIBLE_CMD_SET_THROTTLE] = "SET_THROTTLE",
	[CRUCIBLE_CMD_RECONCILE] = "RECONCILE",
	[CRUCIBLE_CMD_VOLUME] = "VOLUME",
	[CRUCIBLE_CMD_REGION] = "REGION",
	[CRUCIBLE_CMD_RECORD] = "RECORD",
	[CRUCIBLE_EVENT_LEG_FAULTED] = "LEG_FAULTED",
	[CRUCIBLE_EVENT_LEG_BACK] = "LEG_BACK",
	[CRUCIBLE_EVENT_NEED_REPAIR] = "NEED_REPAIR",
	[CRUCIBLE_EVENT_REPAIR_PROGRESS] = "REPAIR_PROGRESS",
	[CRUCIBLE_EVENT_REPAIR_DONE] = "REPAIR_DONE",
	[CRUCIBLE_EVENT_MISMATCH] = "MISMATCH",
	[CRUCIBLE_EVENT_HYDRATION_DONE] = "HYDRATION_DONE",
	[CRUCIBLE_EVENT_VOLUME_GONE] = "VOLUME_GONE",
	[CRUCIBLE_EVENT_UNRECOVERABLE] = "UNRECOVERABLE",
};

const char *cru_nl_attr_name(int attr)
{
	static __thread char buf[32];

	if (attr > 0 && attr <= CRUCIBLE_ATTR_MAX && attrs[attr].name)
		return attrs[attr].name;
	snprintf(buf, sizeof(buf), "attribute %d", attr);
	return buf;
}

const char *cru_nl_cmd_name(int cmd)
{
	if (cmd > 0 && cmd <= CRUCIBLE_CMD_MAX)
		return cmd_names[cmd];
	return NULL;
}

const char *cru_nl_leg_state_name(unsigned int state)
{
	switch (state) {
	case CRUCIBLE_NL_LEG_ALIVE:
		return "alive";
	case CRUCIBLE_NL_LEG_STALE:
		return "stale";
	case CRUCIBLE_NL_LEG_FAILED:
		return "failed";
	case CRUCIBLE_NL_LEG_DISABLED:
		return "disabled";
	}
	return "unknown";
}

char cru_nl_leg_state_code(unsigned int state)
{
	static const char codes[] = "ASFD";

	return state < 4 ? codes[state] : '?';
}

const char *cru_nl_mode_name(unsigned int mode)
{
	switch (mode) {
	case CRUCIBLE_NL_MODE_RW:
		return "rw";
	case CRUCIBLE_NL_MODE_FENCED:
		return "fenced";
	case CRUCIBLE_NL_MODE_FAILED:
		return "failed";
	}
	return "unknown";
}

const char *cru_nl_repair_state_name(unsigned int state)
{
	switch (state) {
	case CRUCIBLE_NL_REPAIR_IDLE:
		return "idle";
	case CRUCIBLE_NL_REPAIR_RUNNING:
		return "running";
	case CRUCIBLE_NL_REPAIR_PAUSED:
		return "paused";
	case CRUCIBLE_NL_REPAIR_WAITING:
		return "waiting";
	}
	return "unknown";
}

unsigned int cru_nl_volume_in_service(const struct cru_nl_volume *v)
{
	unsigned int mask = 0;
	int i;

	for (i = 0; i < CRU_NR_LEGS; i++)
		if (cru_nl_leg_in_service(v->leg_states[i]))
			mask |= 1U << i;
	return mask;
}

/* ---- parsing */

static int check_attr(const struct nlattr *a, int type, struct cru_err *err)
{
	const char *name = attrs[type].name;
	int len = nla_len(a);
	uint64_t v = 0;
	const char *s;

	switch (attrs[type].type) {
	case T_NONE:
		return 0;
	case T_U8:
		if (len != 1)
			goto bad_len;
		v = nla_get_u8((struct nlattr *)a);
		break;
	case T_U32:
		if (len != 4)
			goto bad_len;
		v = nla_get_u32((struct nlattr *)a);
		break;
	case T_U64:
		if (len != 8)
			goto bad_len;
		v = nla_get_u64((struct nlattr *)a);
		break;
	case T_STRING:
		s = nla_data(a);
		if (len < 1 || s[len - 1] != '\0')
			return cru_err_set(err, -EBADMSG,
					   "attribute %s: not a NUL-terminated string",
					   name);
		if (strlen(s) > attrs[type].len || !*s)
			return cru_err_set(err, -EBADMSG,
					   "attribute %s: %zu characters, expected 1 to %zu",
					   name, strlen(s), attrs[type].len);
		return 0;
	case T_BINARY:
		if ((size_t)len != attrs[type].len)
			return cru_err_set(err, -EBADMSG,
					   "attribute %s: %d bytes, expected %zu",
					   name, len, attrs[type].len);
		return 0;
	}
	if (attrs[type].ranged && (v < attrs[type].min || v > attrs[type].max))
		return cru_err_set(err, -EBADMSG,
				   "attribute %s: %llu is out of range (%llu to %llu)",
				   name, (unsigned long long)v,
				   (unsigned long long)attrs[type].min,
				   (unsigned long long)attrs[type].max);
	return 0;

bad_len:
	return cru_err_set(err, -EBADMSG, "attribute %s: %d bytes, expected %d",
			   name, len,
			   attrs[type].type == T_U8 ? 1 :
			   attrs[type].type == T_U32 ? 4 : 8);
}

int cru_nl_parse_attrs(const struct nlmsghdr *nlh, struct nlattr **tb,
		       uint8_t *cmd, struct cru_err *err)
{
	const struct genlmsghdr *g;
	int i, ret;

	memset(tb, 0, sizeof(*tb) * (CRUCIBLE_ATTR_MAX + 1));
	*cmd = 0;
	if (nlh->nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN)
		return cru_err_set(err, -EBADMSG,
				   "message of %u bytes is too short for a generic netlink header",
				   nlh->nlmsg_len);
	g = nlmsg_data(nlh);
	*cmd = g->cmd;
	ret = genlmsg_parse((struct nlmsghdr *)nlh, 0, tb, CRUCIBLE_ATTR_MAX,
			    NULL);
	if (ret) {
		memset(tb, 0, sizeof(*tb) * (CRUCIBLE_ATTR_MAX + 1));
		return cru_err_set(err, -EBADMSG, "malformed attributes: %s",
				   nl_geterror(ret));
	}
	for (i = 1; i <= CRUCIBLE_ATTR_MAX; i++) {
		if (!tb[i])
			continue;
		ret = check_attr(tb[i], i, err);
		if (ret)
			return ret;
	}
	return 0;
}

/* Every attribute of @need is in @tb; else name the first one missing. */
static int require(struct nlattr **tb, const int *need, const char *what,
		   struct cru_err *err)
{
	for (; *need; need++)
		if (!tb[*need])
			return cru_err_set(err, -EBADMSG,
					   "%s message without attribute %s",
					   what, attrs[*need].name);
	return 0;
}

static uint64_t have_mask(struct nlattr **tb)
{
	uint64_t have = 0;
	int i;

	for (i = 1; i <= CRUCIBLE_ATTR_MAX; i++)
		if (tb[i])
			have |= CRU_NL_HAVE(i);
	return have;
}

static uint8_t get_u8(struct nlattr **tb, int a)
{
	return tb[a] ? nla_get_u8(tb[a]) : 0;
}

static uint32_t get_u32(struct nlattr **tb, int a)
{
	return tb[a] ? nla_get_u32(tb[a]) : 0;
}

static uint64_t get_u64(struct nlattr **tb, int a)
{
	return tb[a] ? nla_get_u64(tb[a]) : 0;
}

int cru_nl_parse_volume(struct nlattr **tb, struct cru_nl_volume *v,
			struct cru_err *err)
{
	static const int need[] = {
		CRUCIBLE_ATTR_DEV, CRUCIBLE_ATTR_NAME, CRUCIBLE_ATTR_MODE,
		CRUCIBLE_ATTR_NR_REGIONS, CRUCIBLE_ATTR_IN_SYNC,
		CRUCIBLE_ATTR_LEG_STATES, CRUCIBLE_ATTR_REPAIR_STATE, 0
	};
	int ret;

	memset(v, 0, sizeof(*v));
	ret = require(tb, need, "VOLUME", err);
	if (ret)
		return ret;
	v->have = have_mask(tb);
	v->dev = get_u32(tb, CRUCIBLE_ATTR_DEV);
	snprintf(v->name, sizeof(v->name), "%s",
		 nla_get_string(tb[CRUCIBLE_ATTR_NAME]));
	v->mode = get_u8(tb, CRUCIBLE_ATTR_MODE);
	v->generation = get_u64(tb, CRUCIBLE_ATTR_GENERATION);
	v->flush = get_u64(tb, CRUCIBLE_ATTR_FLUSH);
	v->nr_regions = get_u64(tb, CRUCIBLE_ATTR_NR_REGIONS);
	v->in_sync = get_u64(tb, CRUCIBLE_ATTR_IN_SYNC);
	v->region_blocks = get_u32(tb, CRUCIBLE_ATTR_REGION_BLOCKS);
	v->volume_blocks = get_u64(tb, CRUCIBLE_ATTR_VOLUME_BLOCKS);
	memcpy(v->leg_states, nla_data(tb[CRUCIBLE_ATTR_LEG_STATES]),
	       CRU_NR_LEGS);
	v->repair_state = get_u8(tb, CRUCIBLE_ATTR_REPAIR_STATE);
	v->repaired = get_u64(tb, CRUCIBLE_ATTR_REPAIRED);
	v->hydrated = get_u64(tb, CRUCIBLE_ATTR_HYDRATED);
	v->hydration_total = get_u64(tb, CRUCIBLE_ATTR_HYDRATION_TOTAL);
	v->repair_throttle = get_u32(tb, CRUCIBLE_ATTR_REPAIR_THROTTLE);
	v->hydration_throttle = get_u32(tb, CRUCIBLE_ATTR_HYDRATION_THROTTLE);
	v->unrecoverable = get_u64(tb, CRUCIBLE_ATTR_UNRECOVERABLE);
	if (v->in_sync > v->nr_regions)
		return cru_err_set(err, -EBADMSG,
				   "VOLUME %s: IN_SYNC %llu is more than NR_REGIONS %llu",
				   v->name, (unsigned long long)v->in_sync,
				   (unsigned long long)v->nr_regions);
	return 0;
}

int cru_nl_parse_region(struct nlattr **tb, struct cru_nl_region *r,
			struct cru_err *err)
{
	static const int need[] = {
		CRUCIBLE_ATTR_REGION, CRUCIBLE_ATTR_REGION_FLAGS, 0
	};
	int ret;

	memset(r, 0, sizeof(*r));
	ret = require(tb, need, "REGION", err);
	if (ret)
		return ret;
	r->region = get_u64(tb, CRUCIBLE_ATTR_REGION);
	r->flags = get_u32(tb, CRUCIBLE_ATTR_REGION_FLAGS);
	return 0;
}

int cru_nl_parse_record(struct nlattr **tb, struct cru_nl_record *r,
			struct cru_err *err)
{
	static const int need[] = {
		CRUCIBLE_ATTR_BLOCK, CRUCIBLE_ATTR_HASH, CRUCIBLE_ATTR_FLUSH,
		CRUCIBLE_ATTR_RECORD_OK, 0
	};
	int ret;

	memset(r, 0, sizeof(*r));
	ret = require(tb, need, "RECORD", err);
	if (ret)
		return ret;
	r->block = get_u64(tb, CRUCIBLE_ATTR_BLOCK);
	r->hash = get_u64(tb, CRUCIBLE_ATTR_HASH);
	r->flush = (uint32_t)get_u64(tb, CRUCIBLE_ATTR_FLUSH);
	r->ok = get_u8(tb, CRUCIBLE_ATTR_RECORD_OK);
	return 0;
}

int cru_nl_parse_event(struct nlattr **tb, uint8_t cmd,
		       struct cru_nl_event *ev, struct cru_err *err)
{
	static const int leg_faulted[] = {
		CRUCIBLE_ATTR_DEV, CRUCIBLE_ATTR_LEG, CRUCIBLE_ATTR_LEG_STATE, 0
	};
	static const int leg_back[] = {
		CRUCIBLE_ATTR_DEV, CRUCIBLE_ATTR_LEG, 0
	};
	static const int need_repair[] = {
		CRUCIBLE_ATTR_DEV, CRUCIBLE_ATTR_IN_SYNC,
		CRUCIBLE_ATTR_NR_REGIONS, 0
	};
	static const int progress[] = {
		CRUCIBLE_ATTR_DEV, CRUCIBLE_ATTR_IN_SYNC,
		CRUCIBLE_ATTR_NR_REGIONS, CRUCIBLE_ATTR_REPAIRED, 0
	};
	static const int mismatch[] = {
		CRUCIBLE_ATTR_DEV, CRUCIBLE_ATTR_LEG, CRUCIBLE_ATTR_BLOCK, 0
	};
	static const int hydration_done[] = {
		CRUCIBLE_ATTR_DEV, CRUCIBLE_ATTR_HYDRATED,
		CRUCIBLE_ATTR_HYDRATION_TOTAL, 0
	};
	static const int gone[] = { CRUCIBLE_ATTR_DEV, 0 };
	static const int unrecoverable[] = {
		CRUCIBLE_ATTR_DEV, CRUCIBLE_ATTR_BLOCK, 0
	};
	const int *need;
	const char *what = cru_nl_cmd_name(cmd);

	memset(ev, 0, sizeof(*ev));
	ev->cmd = cmd;
	ev->have = have_mask(tb);
	ev->dev = get_u32(tb, CRUCIBLE_ATTR_DEV);
	ev->leg = get_u8(tb, CRUCIBLE_ATTR_LEG);
	ev->leg_state = get_u8(tb, CRUCIBLE_ATTR_LEG_STATE);
	ev->in_sync = get_u64(tb, CRUCIBLE_ATTR_IN_SYNC);
	ev->nr_regions = get_u64(tb, CRUCIBLE_ATTR_NR_REGIONS);
	ev->repaired = get_u64(tb, CRUCIBLE_ATTR_REPAIRED);
	ev->block = get_u64(tb, CRUCIBLE_ATTR_BLOCK);
	ev->hydrated = get_u64(tb, CRUCIBLE_ATTR_HYDRATED);
	ev->hydration_total = get_u64(tb, CRUCIBLE_ATTR_HYDRATION_TOTAL);

	switch (cmd) {
	case CRUCIBLE_EVENT_LEG_FAULTED:
		need = leg_faulted;
		break;
	case CRUCIBLE_EVENT_LEG_BACK:
		need = leg_back;
		break;
	case CRUCIBLE_EVENT_NEED_REPAIR:
		need = need_repair;
		break;
	case CRUCIBLE_EVENT_REPAIR_PROGRESS:
	case CRUCIBLE_EVENT_REPAIR_DONE:
		need = progress;
		break;
	case CRUCIBLE_EVENT_MISMATCH:
		need = mismatch;
		break;
	case CRUCIBLE_EVENT_HYDRATION_DONE:
		need = hydration_done;
		break;
	case CRUCIBLE_EVENT_VOLUME_GONE:
		need = gone;
		break;
	case CRUCIBLE_EVENT_UNRECOVERABLE:
		need = unrecoverable;
		break;
	default:
		return cru_err_set(err, -EBADMSG, "command %u is not an event",
				   cmd);
	}
	return require(tb, need, what, err);
}

int cru_nl_parse_ack(const struct nlmsghdr *nlh, struct cru_nl_ack *ack)
{
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	size_t hdr, total = nlh->nlmsg_len;

	memset(ack, 0, sizeof(*ack));
	if (total < NLMSG_HDRLEN)
		return -EBADMSG;
	if (nlh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = NLMSG_DATA(nlh);

		if (total < NLMSG_HDRLEN + sizeof(*e))
			return -EBADMSG;
		ack->error = e->error;
		hdr = sizeof(*e);
		/* Without NETLINK_CAP_ACK the request follows, in full. */
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED) &&
		    e->msg.nlmsg_len > NLMSG_HDRLEN)
			hdr += e->msg.nlmsg_len - NLMSG_HDRLEN;
	} else if (nlh->nlmsg_type == NLMSG_DONE) {
		int e;

		/* Very old kernels end a dump with an empty DONE. */
		if (total < NLMSG_HDRLEN + sizeof(int))
			return 0;
		memcpy(&e, NLMSG_DATA(nlh), sizeof(e));
		ack->error = e < 0 ? e : 0;
		hdr = sizeof(int);
	} else {
		return -EBADMSG;
	}
	if (ack->error > 0)
		ack->error = -ack->error;
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return 0;
	hdr = NLMSG_ALIGN(hdr);
	if (NLMSG_HDRLEN + hdr > total)
		return -EBADMSG;
	if (nla_parse(tb, NLMSGERR_ATTR_MAX,
		      (struct nlattr *)((char *)NLMSG_DATA(nlh) + hdr),
		      (int)(total - NLMSG_HDRLEN - hdr), NULL))
		return -EBADMSG;
	if (tb[NLMSGERR_ATTR_MSG] && nla_len(tb[NLMSGERR_ATTR_MSG]) > 0)
		snprintf(ack->msg, sizeof(ack->msg), "%.*s",
			 nla_len(tb[NLMSGERR_ATTR_MSG]),
			 (const char *)nla_data(tb[NLMSGERR_ATTR_MSG]));
	/* The string's NUL, if the kernel counted it, is not ours. */
	ack->msg[strcspn(ack->msg, "\n")] = '\0';
	if (tb[NLMSGERR_ATTR_OFFS] && nla_len(tb[NLMSGERR_ATTR_OFFS]) == 4) {
		ack->has_offset = true;
		ack->offset = nla_get_u32(tb[NLMSGERR_ATTR_OFFS]);
	}
	if (tb[NLMSGERR_ATTR_MISS_TYPE] &&
	    nla_len(tb[NLMSGERR_ATTR_MISS_TYPE]) == 4)
		ack->missing = (int)nla_get_u32(tb[NLMSGERR_ATTR_MISS_TYPE]);
	return 0;
}

int cru_nl_attr_at_offset(const struct nlmsghdr *req, uint32_t offset)
{
	const struct nlattr *a;
	size_t pos = NLMSG_HDRLEN + GENL_HDRLEN;
	int rem;

	if (!req || req->nlmsg_len < pos)
		return -1;
	a = (const struct nlattr *)((const char *)req + pos);
	rem = (int)(req->nlmsg_len - pos);
	for (; nla_ok(a, rem); a = nla_next(a, &rem)) {
		if ((const char *)a - (const char *)req == (ptrdiff_t)offset)
			return nla_type(a);
	}
	return -1;
}

void cru_nl_ack_sentence(const struct cru_nl_ack *ack,
			 const struct nlmsghdr *req, const char *what,
			 char *buf, size_t len)
{
	char where[64] = "";
	int attr = -1;

	if (ack->has_offset)
		attr = cru_nl_attr_at_offset(req, ack->offset);
	if (attr > 0)
		snprintf(where, sizeof(where), " (attribute %s)",
			 cru_nl_attr_name(attr));
	else if (ack->missing > 0)
		snprintf(where, sizeof(where), " (missing attribute %s)",
			 cru_nl_attr_name(ack->missing));
	snprintf(buf, len, "%s: %s%s", what,
		 ack->msg[0] ? ack->msg : strerror(-ack->error), where);
}

/* ---- requests */

struct nl_msg *cru_genl_msg_new(int family, uint8_t cmd, int flags,
				uint8_t version)
{
	struct nl_msg *m = nlmsg_alloc();

	if (!m)
		return NULL;
	if (!genlmsg_put(m, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, flags, cmd,
			 version)) {
		nlmsg_free(m);
		return NULL;
	}
	return m;
}

struct nl_msg *cru_genl_msg_done(struct nl_msg *m, int puts)
{
	if (puts) {
		nlmsg_free(m);
		return NULL;
	}
	return m;
}

static struct nl_msg *new_msg(int family, uint8_t cmd, int flags)
{
	return cru_genl_msg_new(family, cmd, flags, CRUCIBLE_GENL_VERSION);
}


struct nl_msg *cru_nl_msg_list_volumes(int family)
{
	return new_msg(family, CRUCIBLE_CMD_LIST_VOLUMES, NLM_F_DUMP);
}

struct nl_msg *cru_nl_msg_get_regions(int family, uint32_t dev,
				      uint64_t first, uint64_t count)
{
	struct nl_msg *m = new_msg(family, CRUCIBLE_CMD_GET_REGIONS,
				   NLM_F_DUMP);
	int e;

	if (!m)
		return NULL;
	e = nla_put_u32(m, CRUCIBLE_ATTR_DEV, dev);
	if (first || count)
		e |= nla_put_u64(m, CRUCIBLE_ATTR_FIRST, first);
	if (count)
		e |= nla_put_u64(m, CRUCIBLE_ATTR_COUNT, count);
	return cru_genl_msg_done(m, e);
}

struct nl_msg *cru_nl_msg_get_records(int family, uint32_t dev, uint8_t leg,
				      uint64_t first, uint64_t count)
{
	struct nl_msg *m = new_msg(family, CRUCIBLE_CMD_GET_RECORDS,
				   NLM_F_DUMP);
	int e;

	if (!m)
		return NULL;
	e = nla_put_u32(m, CRUCIBLE_ATTR_DEV, dev);
	e |= nla_put_u8(m, CRUCIBLE_ATTR_LEG, leg);
	e |= nla_put_u64(m, CRUCIBLE_ATTR_FIRST, first);
	e |= nla_put_u64(m, CRUCIBLE_ATTR_COUNT, count);
	return cru_genl_msg_done(m, e);
}

struct nl_msg *cru_nl_msg_repair(int family, uint32_t dev,
				 const struct cru_nl_repair *r)
{
	struct nl_msg *m = new_msg(family, CRUCIBLE_CMD_REPAIR, 0);
	int e;

	if (!m)
		return NULL;
	e = nla_put_u32(m, CRUCIBLE_ATTR_DEV, dev);
	e |= nla_put_u64(m, CRUCIBLE_ATTR_FIRST, r->first);
	e |= nla_put_u64(m, CRUCIBLE_ATTR_COUNT, r->count);
	e |= nla_put_u8(m, CRUCIBLE_ATTR_SRC_LEG, r->src);
	e |= nla_put_u8(m, CRUCIBLE_ATTR_DST_LEGS, r->dst);
	return cru_genl_msg_done(m, e);
}

struct nl_msg *cru_nl_msg_set_leg(int family, uint32_t dev, uint8_t leg,
				  uint8_t action)
{
	struct nl_msg *m = new_msg(family, CRUCIBLE_CMD_SET_LEG, 0);
	int e;

	if (!m)
		return NULL;
	e = nla_put_u32(m, CRUCIBLE_ATTR_DEV, dev);
	e |= nla_put_u8(m, CRUCIBLE_ATTR_LEG, leg);
	e |= nla_put_u8(m, CRUCIBLE_ATTR_LEG_ACTION, action);
	return cru_genl_msg_done(m, e);
}

struct nl_msg *cru_nl_msg_set_throttle(int family, uint32_t dev,
				       int64_t repair, int64_t hydration)
{
	struct nl_msg *m = new_msg(family, CRUCIBLE_CMD_SET_THROTTLE, 0);
	int e;

	if (!m)
		return NULL;
	e = nla_put_u32(m, CRUCIBLE_ATTR_DEV, dev);
	if (repair >= 0)
		e |= nla_put_u32(m, CRUCIBLE_ATTR_REPAIR_THROTTLE,
				 (uint32_t)repair);
	if (hydration >= 0)
		e |= nla_put_u32(m, CRUCIBLE_ATTR_HYDRATION_THROTTLE,
				 (uint32_t)hydration);
	return cru_genl_msg_done(m, e);
}

struct nl_msg *cru_nl_msg_reconcile(int family, uint32_t dev, bool start)
{
	struct nl_msg *m = new_msg(family, CRUCIBLE_CMD_RECONCILE, 0);
	int e;

	if (!m)
		return NULL;
	e = nla_put_u32(m, CRUCIBLE_ATTR_DEV, dev);
	e |= nla_put_u8(m, CRUCIBLE_ATTR_RECONCILE, start ? 1 : 0);
	return cru_genl_msg_done(m, e);
}

/* ---- sockets */

struct cru_pending {
	uint32_t seq;
	struct nl_msg *msg;	/* the request, to name a refused attribute */
};

struct cru_nl {
	struct nl_sock *sk;
	const struct cru_genl_family *fam;
	int family;
	int group;		/* event sockets: the group joined, else -1 */
	cru_nl_ack_fn ack_fn;
	void *ack_arg;
	struct cru_pending pending[CRU_NL_MAX_PENDING];
	size_t nr_pending;
	char *buf;
};

static int nl_errno(int nlerr)
{
	switch (-nlerr) {
	case NLE_OBJ_NOTFOUND:
		return -ENOENT;
	case NLE_PERM:
		return -EPERM;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_PROTO_MISMATCH:
	case NLE_AF_NOSUPPORT:
	case NLE_OPNOTSUPP:
		return -EPROTONOSUPPORT;
	}
	return -EIO;
}

static const struct cru_genl_family crucible_family = {
	.name = CRUCIBLE_GENL_NAME,
	.missing = "the kernel has no '" CRUCIBLE_GENL_NAME
		   "' netlink family (dm-crucible not loaded, or too old)",
	.timeout_ms = CRU_NL_TIMEOUT_MS,
	.sentence = cru_nl_ack_sentence,
};

/* A connected generic netlink socket for @f, family not resolved yet. */
static int new_socket(struct cru_nl **out, const struct cru_genl_family *f,
		      struct cru_err *err)
{
	struct cru_nl *nl = calloc(1, sizeof(*nl));
	int one = 1, ret;

	*out = NULL;
	if (!nl)
		return cru_err_set(err, -ENOMEM, "out of memory");
	nl->fam = f;
	nl->group = -1;
	nl->buf = malloc(CRU_NL_BUF_LEN);
	nl->sk = nl_socket_alloc();
	if (!nl->buf || !nl->sk) {
		cru_nl_close(nl);
		return cru_err_set(err, -ENOMEM, "out of memory");
	}
	ret = genl_connect(nl->sk);
	if (ret) {
		cru_nl_close(nl);
		return cru_err_set(err, -EPROTONOSUPPORT,
				   "cannot open a generic netlink socket: %s",
				   nl_geterror(ret));
	}
	/* Errors with the kernel's sentence, without the request echoed. */
	setsockopt(nl_socket_get_fd(nl->sk), SOL_NETLINK, NETLINK_EXT_ACK,
		   &one, sizeof(one));
	setsockopt(nl_socket_get_fd(nl->sk), SOL_NETLINK, NETLINK_CAP_ACK,
		   &one, sizeof(one));
	setsockopt(nl_socket_get_fd(nl->sk), SOL_NETLINK,
		   NETLINK_GET_STRICT_CHK, &one, sizeof(one));
	*out = nl;
	return 0;
}

static int resolve_family(struct cru_nl *nl, struct cru_err *err)
{
	int ret;

	nl->family = genl_ctrl_resolve(nl->sk, nl->fam->name);
	if (nl->family >= 0)
		return 0;
	ret = nl_errno(nl->family);
	if (ret == -ENOENT)
		return cru_err_set(err, ret, "%s", nl->fam->missing);
	return cru_err_set(err, ret,
			   "cannot resolve the '%s' netlink family: %s",
			   nl->fam->name, strerror(-ret));
}

int cru_genl_open(struct cru_nl **out, const struct cru_genl_family *f,
		  struct cru_err *err)
{
	struct cru_nl *nl;
	int ret;

	ret = new_socket(&nl, f, err);
	if (ret)
		return ret;
	ret = resolve_family(nl, err);
	if (ret) {
		cru_nl_close(nl);
		return ret;
	}
	*out = nl;
	return 0;
}

int cru_nl_open(struct cru_nl **out, struct cru_err *err)
{
	return cru_genl_open(out, &crucible_family, err);
}

int cru_nl_open_peer(struct cru_nl **out, uint32_t peer_port, int family,
		     struct cru_err *err)
{
	int ret = new_socket(out, &crucible_family, err);

	if (ret)
		return ret;
	nl_socket_set_peer_port((*out)->sk, peer_port);
	(*out)->family = family;
	return 0;
}

uint32_t cru_nl_port(const struct cru_nl *nl)
{
	return nl_socket_get_local_port(nl->sk);
}

int cru_genl_open_events(struct cru_nl **out,
			 const struct cru_genl_family *f, const char *group,
			 int rcvbuf, struct cru_err *err)
{
	struct cru_nl *nl;
	int grp, ret, fd;

	ret = cru_genl_open(&nl, f, err);
	if (ret)
		return ret;
	fd = nl_socket_get_fd(nl->sk);
	grp = genl_ctrl_resolve_grp(nl->sk, f->name, group);
	if (grp < 0) {
		cru_nl_close(nl);
		return cru_err_set(err, nl_errno(grp),
				   "netlink family '%s' has no multicast group '%s': %s",
				   f->name, group, nl_geterror(grp));
	}
	if (rcvbuf > 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf))) {
		ret = -errno;
		cru_nl_close(nl);
		return cru_err_set(err, ret,
				   "cannot set the event socket's receive buffer to %d bytes: %s",
				   rcvbuf, strerror(-ret));
	}
	ret = nl_socket_add_membership(nl->sk, grp);
	if (ret) {
		cru_nl_close(nl);
		return cru_err_set(err, nl_errno(ret),
				   "cannot join multicast group '%s': %s",
				   group, nl_geterror(ret));
	}
	nl_socket_set_nonblocking(nl->sk);
	nl->group = grp;
	*out = nl;
	return 0;
}

int cru_nl_open_events(struct cru_nl **out, int rcvbuf, struct cru_err *err)
{
	return cru_genl_open_events(out, &crucible_family, CRUCIBLE_GENL_MCGRP,
				    rcvbuf, err);
}

int cru_nl_subscribed(const struct cru_nl *nl, struct cru_err *err)
{
	uint32_t groups[64] = { 0 };
	socklen_t len = sizeof(groups);

	if (nl->group < 0)
		return cru_err_set(err, -EINVAL, "not an event socket");
	if (getsockopt(nl_socket_get_fd(nl->sk), SOL_NETLINK,
		       NETLINK_LIST_MEMBERSHIPS, groups, &len))
		return cru_err_set(err, -errno,
				   "cannot list the event socket's groups: %s",
				   strerror(errno));
	/* Groups are numbered from 1: bit (group - 1). */
	if ((size_t)(nl->group - 1) / 32 < len / sizeof(groups[0]) &&
	    (groups[(nl->group - 1) / 32] & (1U << ((nl->group - 1) % 32))))
		return 0;
	return cru_err_set(err, -ENOENT,
			   "the event socket is no longer in group '%s' (the module was reloaded?)",
			   CRUCIBLE_GENL_MCGRP);
}

void cru_nl_close(struct cru_nl *nl)
{
	size_t i;

	if (!nl)
		return;
	for (i = 0; i < nl->nr_pending; i++)
		nlmsg_free(nl->pending[i].msg);
	if (nl->sk)
		nl_socket_free(nl->sk);
	free(nl->buf);
	free(nl);
}

int cru_nl_family(const struct cru_nl *nl)
{
	return nl->family;
}

int cru_nl_fd(const struct cru_nl *nl)
{
	return nl_socket_get_fd(nl->sk);
}

void cru_nl_set_ack_handler(struct cru_nl *nl, cru_nl_ack_fn fn, void *arg)
{
	nl->ack_fn = fn;
	nl->ack_arg = arg;
}

/* Send @msg (not consumed); *@seq is the sequence number it got. */
static int send_msg(struct cru_nl *nl, struct nl_msg *msg, uint32_t *seq,
		    struct cru_err *err)
{
	int ret = nl_send_auto(nl->sk, msg);

	if (ret < 0)
		return cru_err_set(err, nl_errno(ret),
				   "cannot send a netlink request: %s",
				   nl_geterror(ret));
	*seq = nlmsg_hdr(msg)->nlmsg_seq;
	return 0;
}

/*
 * One datagram into nl->buf: its length, -EAGAIN when there is none
 * (@wait_ms 0) or none came in time (-ETIMEDOUT), or another error.
 */
static int recv_datagram(struct cru_nl *nl, int wait_ms)
{
	struct pollfd pfd = { .fd = nl_socket_get_fd(nl->sk), .events = POLLIN };
	struct iovec iov = { .iov_base = nl->buf, .iov_len = CRU_NL_BUF_LEN };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;
	int r;

	for (;;) {
		r = poll(&pfd, 1, wait_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (!r)
			return wait_ms ? -ETIMEDOUT : -EAGAIN;
		n = recvmsg(pfd.fd, &mh, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN && wait_ms)
			continue;
		if (n < 0)
			return -errno;
		if (mh.msg_flags & MSG_TRUNC)
			return -EMSGSIZE;
		return (int)n;
	}
}

static struct cru_pending *pending_find(struct cru_nl *nl, uint32_t seq)
{
	size_t i;

	for (i = 0; i < nl->nr_pending; i++)
		if (nl->pending[i].seq == seq)
			return &nl->pending[i];
	return NULL;
}

/* An answer to an asynchronous request: hand it over, forget it. */
static void dispatch_async(struct cru_nl *nl, const struct nlmsghdr *nlh)
{
	struct cru_pending *p;
	struct cru_nl_ack ack;

	if (nlh->nlmsg_type != NLMSG_ERROR)
		return;
	p = pending_find(nl, nlh->nlmsg_seq);
	if (!p) {
		log_debug("netlink: answer to unknown request %u ignored",
			  nlh->nlmsg_seq);
		return;
	}
	if (cru_nl_parse_ack(nlh, &ack)) {
		ack.error = -EBADMSG;
		snprintf(ack.msg, sizeof(ack.msg), "malformed answer");
	}
	if (nl->ack_fn)
		nl->ack_fn(p->seq, &ack, nlmsg_hdr(p->msg), nl->ack_arg);
	nlmsg_free(p->msg);
	*p = nl->pending[--nl->nr_pending];
}

int cru_nl_send_async(struct cru_nl *nl, struct nl_msg *msg, uint32_t *seq,
		      struct cru_err *err)
{
	int ret;

	if (!msg)
		return cru_err_set(err, -ENOMEM, "out of memory");
	if (nl->nr_pending == CRU_NL_MAX_PENDING) {
		nlmsg_free(msg);
		return cru_err_set(err, -EBUSY,
				   "%d netlink requests already wait for an answer",
				   CRU_NL_MAX_PENDING);
	}
	ret = send_msg(nl, msg, seq, err);
	if (ret) {
		nlmsg_free(msg);
		return ret;
	}
	nl->pending[nl->nr_pending].seq = *seq;
	nl->pending[nl->nr_pending].msg = msg;
	nl->nr_pending++;
	return 0;
}

int cru_nl_process(struct cru_nl *nl, struct cru_err *err)
{
	struct nlmsghdr *nlh;
	int n;

	for (;;) {
		n = recv_datagram(nl, 0);
		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return cru_err_set(err, n, "netlink receive: %s",
					   strerror(-n));
		for (nlh = (struct nlmsghdr *)nl->buf; NLMSG_OK(nlh, n);
		     nlh = NLMSG_NEXT(nlh, n))
			dispatch_async(nl, nlh);
	}
}

struct wait_ctx {
	uint32_t seq;
	bool dump;		/* NLMSG_DONE ends it too */
	cru_genl_reply_fn fn;	/* NULL: replies are not expected */
	void *arg;
	bool done;
	bool interrupted;	/* NLM_F_DUMP_INTR */
	int fn_ret;		/* the callback's error: drain, then report it */
	struct cru_err fn_err;
	struct cru_nl_ack ack;
};

static void wait_one(struct cru_nl *nl, struct wait_ctx *w,
		     const struct nlmsghdr *nlh)
{
	if (nlh->nlmsg_seq != w->seq) {
		dispatch_async(nl, nlh);
		return;
	}
	if (nlh->nlmsg_type == NLMSG_ERROR ||
	    (w->dump && nlh->nlmsg_type == NLMSG_DONE)) {
		if (cru_nl_parse_ack(nlh, &w->ack)) {
			w->ack.error = -EBADMSG;
			snprintf(w->ack.msg, sizeof(w->ack.msg),
				 "malformed answer");
		}
		w->done = true;
		return;
	}
	if (!w->fn || nlh->nlmsg_type != nl->family)
		return;
	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		w->interrupted = true;
	if (w->fn_ret)
		return;		/* already failed: only drain */
	w->fn_ret = w->fn(nlh, w->arg, &w->fn_err);
}

/* Send @msg (consumed) and read until its answer is complete. */
static int transact(struct cru_nl *nl, struct nl_msg *msg, const char *what,
		    struct wait_ctx *w, struct cru_err *err)
{
	struct nlmsghdr *nlh;
	char sentence[CRU_ERR_LEN];
	int n, ret;

	if (!msg)
		return cru_err_set(err, -ENOMEM, "out of memory");
	ret = send_msg(nl, msg, &w->seq, err);
	while (!ret && !w->done) {
		n = recv_datagram(nl, nl->fam->timeout_ms);
		if (n == -ETIMEDOUT) {
			ret = cru_err_set(err, n,
					  "%s: no answer from the kernel in %d s",
					  what, nl->fam->timeout_ms / 1000);
			break;
		}
		if (n < 0) {
			ret = cru_err_set(err, n, "%s: netlink receive: %s",
					  what, strerror(-n));
			break;
		}
		for (nlh = (struct nlmsghdr *)nl->buf; NLMSG_OK(nlh, n);
		     nlh = NLMSG_NEXT(nlh, n))
			wait_one(nl, w, nlh);
	}
	if (!ret && w->ack.error) {
		nl->fam->sentence(&w->ack, nlmsg_hdr(msg), what, sentence,
				  sizeof(sentence));
		ret = cru_err_set(err, w->ack.error, "%s", sentence);
	} else if (!ret && w->fn_ret) {
		ret = cru_err_set(err, w->fn_ret, "%s: %s", what,
				  w->fn_err.msg);
	} else if (!ret && w->interrupted) {
		ret = cru_err_set(err, -EAGAIN,
				  "%s: the state changed during the dump", what);
	}
	nlmsg_free(msg);
	return ret;
}

int cru_genl_request(struct cru_nl *nl, struct nl_msg *msg, const char *what,
		     cru_genl_reply_fn fn, void *arg, struct cru_err *err)
{
	struct wait_ctx w = { .fn = fn, .arg = arg };

	return transact(nl, msg, what, &w, err);
}

int cru_nl_request(struct cru_nl *nl, struct nl_msg *msg, const char *what,
		   struct cru_err *err)
{
	return cru_genl_request(nl, msg, what, NULL, NULL, err);
}

struct dump_ctx {
	cru_nl_dump_fn fn;
	void *arg;
};

/* A crucible dump's reply, split into attributes for its callback. */
static int dump_reply(const struct nlmsghdr *nlh, void *arg,
		      struct cru_err *err)
{
	struct nlattr *tb[CRUCIBLE_ATTR_MAX + 1];
	struct dump_ctx *d = arg;
	uint8_t cmd;
	int ret;

	ret = cru_nl_parse_attrs(nlh, tb, &cmd, err);
	return ret ? ret : d->fn(tb, cmd, d->arg, err);
}

int cru_nl_dump(struct cru_nl *nl, struct nl_msg *msg, const char *what,
		cru_nl_dump_fn fn, void *arg, struct cru_err *err)
{
	struct dump_ctx d = { .fn = fn, .arg = arg };
	struct wait_ctx w = { .dump = true, .fn = dump_reply, .arg = &d };

	return transact(nl, msg, what, &w, err);
}

/* A growing array of @size-byte items. */
struct array {
	void *items;
	size_t nr, cap, size;
};

static void *array_add(struct array *a)
{
	if (a->nr == a->cap) {
		size_t cap = a->cap ? 2 * a->cap : 64;
		void *p = realloc(a->items, cap * a->size);

		if (!p)
			return NULL;
		a->items = p;
		a->cap = cap;
	}
	return (char *)a->items + a->size * a->nr++;
}

static int collect_volume(struct nlattr **tb, uint8_t cmd, void *arg,
			  struct cru_err *err)
{
	struct cru_nl_volume *v;

	if (cmd != CRUCIBLE_CMD_VOLUME)
		return 0;
	v = array_add(arg);
	if (!v)
		return cru_err_set(err, -ENOMEM, "out of memory");
	return cru_nl_parse_volume(tb, v, err);
}

static int collect_region(struct nlattr **tb, uint8_t cmd, void *arg,
			  struct cru_err *err)
{
	struct cru_nl_region *r;

	if (cmd != CRUCIBLE_CMD_REGION)
		return 0;
	r = array_add(arg);
	if (!r)
		return cru_err_set(err, -ENOMEM, "out of memory");
	return cru_nl_parse_region(tb, r, err);
}

static int collect_record(struct nlattr **tb, uint8_t cmd, void *arg,
			  struct cru_err *err)
{
	struct cru_nl_record *r;

	if (cmd != CRUCIBLE_CMD_RECORD)
		return 0;
	r = array_add(arg);
	if (!r)
		return cru_err_set(err, -ENOMEM, "out of memory");
	return cru_nl_parse_record(tb, r, err);
}

/* Run a dump into an array, again if a concurrent change spoilt it. */
static int dump_array(struct cru_nl *nl, struct nl_msg *(*build)(void *),
		      void *build_arg, const char *what, cru_nl_dump_fn fn,
		      struct array *a, struct cru_err *err)
{
	int tries, ret = 0;

	for (tries = 0; tries < CRU_NL_DUMP_TRIES; tries++) {
		a->nr = 0;
		ret = cru_nl_dump(nl, build(build_arg), what, fn, a, err);
		if (ret != -EAGAIN)
			break;
	}
	if (ret) {
		free(a->items);
		a->items = NULL;
		a->nr = 0;
	}
	return ret;
}

struct build_args {
	int family;
	uint32_t dev;
	uint8_t leg;
	uint64_t first, count;
};

static struct nl_msg *build_list(void *p)
{
	return cru_nl_msg_list_volumes(((struct build_args *)p)->family);
}

static struct nl_msg *build_regions(void *p)
{
	struct build_args *b = p;

	return cru_nl_msg_get_regions(b->family, b->dev, b->first, b->count);
}

static struct nl_msg *build_records(void *p)
{
	struct build_args *b = p;

	return cru_nl_msg_get_records(b->family, b->dev, b->leg, b->first,
				      b->count);
}

int cru_nl_list_volumes(struct cru_nl *nl, struct cru_nl_volume **vols,
			size_t *count, struct cru_err *err)
{
	struct array a = { .size = sizeof(struct cru_nl_volume) };
	struct build_args b = { .family = nl->family };
	int ret;

	ret = dump_array(nl, build_list, &b, "listing crucible volumes",
			 collect_volume, &a, err);
	*vols = a.items;
	*count = a.nr;
	return ret;
}

int cru_nl_find_volume(struct cru_nl *nl, const char *name,
		       struct cru_nl_volume *v, struct cru_err *err)
{
	struct cru_nl_volume *vols;
	size_t count, i;
	int ret;

	ret = cru_nl_list_volumes(nl, &vols, &count, err);
	if (ret)
		return ret;
	ret = cru_err_set(err, -ENODEV, "no crucible volume named %s", name);
	for (i = 0; i < count; i++) {
		if (!strcmp(vols[i].name, name)) {
			*v = vols[i];
			ret = 0;
			break;
		}
	}
	free(vols);
	return ret;
}

int cru_nl_get_regions(struct cru_nl *nl, uint32_t dev, uint64_t first,
		       uint64_t count, struct cru_nl_region **regions,
		       size_t *nr, struct cru_err *err)
{
	struct array a = { .size = sizeof(struct cru_nl_region) };
	struct build_args b = { .family = nl->family, .dev = dev,
				.first = first, .count = count };
	int ret;

	ret = dump_array(nl, build_regions, &b, "reading region state",
			 collect_region, &a, err);
	*regions = a.items;
	*nr = a.nr;
	return ret;
}

int cru_nl_get_records(struct cru_nl *nl, uint32_t dev, uint8_t leg,
		       uint64_t first, uint64_t count,
		       struct cru_nl_record **records, size_t *nr,
		       struct cru_err *err)
{
	struct array a = { .size = sizeof(struct cru_nl_record) };
	struct build_args b = { .family = nl->family, .dev = dev, .leg = leg,
				.first = first, .count = count };
	int ret;

	ret = dump_array(nl, build_records, &b, "reading block records",
			 collect_record, &a, err);
	*records = a.items;
	*nr = a.nr;
	return ret;
}

int cru_genl_read_events(struct cru_nl *nl, cru_genl_msg_fn fn, void *arg,
			 struct cru_err *err)
{
	struct nlmsghdr *nlh;
	int n, msgs = 0;

	for (;;) {
		n = recv_datagram(nl, 0);
		if (n == -EAGAIN)
			return msgs;
		if (n == -ENOBUFS)
			return cru_err_set(err, n,
					   "events were lost: the event socket's receive buffer overflowed");
		if (n < 0)
			return cru_err_set(err, n, "reading events: %s",
					   strerror(-n));
		/* Every message of the datagram: none is left behind. */
		for (nlh = (struct nlmsghdr *)nl->buf; NLMSG_OK(nlh, n);
		     nlh = NLMSG_NEXT(nlh, n)) {
			if (nlh->nlmsg_type != nl->family)
				continue;
			fn(nlh, arg);
			msgs++;
		}
	}
}

struct event_ctx {
	cru_nl_event_fn fn;
	void *arg;
};

/* A crucible event, parsed as far as it goes, for the caller's @fn. */
static void crucible_event(const struct nlmsghdr *nlh, void *arg)
{
	struct nlattr *tb[CRUCIBLE_ATTR_MAX + 1];
	struct event_ctx *x = arg;
	struct cru_nl_event ev = { 0 };
	struct cru_err perr;
	uint8_t cmd = 0;

	perr.msg[0] = '\0';
	if (!cru_nl_parse_attrs(nlh, tb, &cmd, &perr)) {
		cru_nl_parse_event(tb, cmd, &ev, &perr);
	} else {
		/* Which volume, if that much is readable. */
		ev.cmd = cmd;
		if (tb[CRUCIBLE_ATTR_DEV] &&
		    nla_len(tb[CRUCIBLE_ATTR_DEV]) == 4) {
			ev.dev = nla_get_u32(tb[CRUCIBLE_ATTR_DEV]);
			ev.have = CRU_NL_HAVE(CRUCIBLE_ATTR_DEV);
		}
	}
	if (x->fn)
		x->fn(&ev, perr.msg[0] ? &perr : NULL, x->arg);
}

int cru_nl_read_events(struct cru_nl *nl, cru_nl_event_fn fn, void *arg,
		       struct cru_err *err)
{
	struct event_ctx x = { .fn = fn, .arg = arg };

	return cru_genl_read_events(nl, crucible_event, &x, err);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * The netlink client's pure half: replies, events and acks built here
 * with libnl, as the kernel would send them, parsed into structs; and the
 * requests it builds, parsed back.  No kernel needed.
 */
#include "test.h"

#include <netlink/genl/genl.h>
#include <netlink/msg.h>

#include "../lib/nl.h"

#define FAMILY 0x1c

static struct nl_msg *reply(uint8_t cmd)
{
	struct nl_msg *m = nlmsg_alloc();

	assert_non_null(m);
	assert_non_null(genlmsg_put(m, 0, 42, FAMILY, 0, 0, cmd,
				    CRUCIBLE_GENL_VERSION));
	return m;
}

/* A VOLUME message as the kernel sends it for a volume with leg 2 stale. */
static struct nl_msg *volume_msg(void)
{
	static const uint8_t legs[3] = {
		CRUCIBLE_NL_LEG_ALIVE, CRUCIBLE_NL_LEG_ALIVE,
		CRUCIBLE_NL_LEG_STALE,
	};
	struct nl_msg *m = reply(CRUCIBLE_CMD_VOLUME);

	nla_put_u32(m, CRUCIBLE_ATTR_DEV, (253U << 20) | 4);
	nla_put_string(m, CRUCIBLE_ATTR_NAME, "vol0");
	nla_put_u8(m, CRUCIBLE_ATTR_MODE, CRUCIBLE_NL_MODE_RW);
	nla_put_u64(m, CRUCIBLE_ATTR_GENERATION, 7);
	nla_put_u64(m, CRUCIBLE_ATTR_FLUSH, 99);
	nla_put_u64(m, CRUCIBLE_ATTR_NR_REGIONS, 64);
	nla_put_u64(m, CRUCIBLE_ATTR_IN_SYNC, 60);
	nla_put_u32(m, CRUCIBLE_ATTR_REGION_BLOCKS, 256);
	nla_put_u64(m, CRUCIBLE_ATTR_VOLUME_BLOCKS, 16384);
	nla_put(m, CRUCIBLE_ATTR_LEG_STATES, 3, legs);
	nla_put_u8(m, CRUCIBLE_ATTR_REPAIR_STATE, CRUCIBLE_NL_REPAIR_PAUSED);
	nla_put_u64(m, CRUCIBLE_ATTR_REPAIRED, 1234);
	nla_put_u64(m, CRUCIBLE_ATTR_HYDRATED, 10);
	nla_put_u64(m, CRUCIBLE_ATTR_HYDRATION_TOTAL, 20);
	nla_put_u32(m, CRUCIBLE_ATTR_REPAIR_THROTTLE, 50);
	nla_put_u32(m, CRUCIBLE_ATTR_HYDRATION_THROTTLE, 0);
	return m;
}

/* Parse @m as a VOLUME message; the error (if any) goes to @err. */
static int parse_volume(struct nl_msg *m, struct cru_nl_volume *v,
			struct cru_err *err)
{
	struct nlattr *tb[CRUCIBLE_ATTR_MAX + 1];
	uint8_t cmd;
	int ret;

	err->msg[0] = '\0';
	ret = cru_nl_parse_attrs(nlmsg_hdr(m), tb, &cmd, err);
	if (!ret) {
		assert_int_equal(cmd, CRUCIBLE_CMD_VOLUME);
		ret = cru_nl_parse_volume(tb, v, err);
	}
	nlmsg_free(m);
	return ret;
}

static void volume_message_parses_into_a_struct(void **state)
{
	struct cru_nl_volume v;
	struct cru_err err;

	(void)state;
	assert_int_equal(parse_volume(volume_msg(), &v, &err), 0);
	assert_int_equal(v.dev, (253U << 20) | 4);
	assert_string_equal(v.name, "vol0");
	assert_int_equal(v.mode, CRUCIBLE_NL_MODE_RW);
	assert_int_equal(v.generation, 7);
	assert_int_equal(v.flush, 99);
	assert_int_equal(v.nr_regions, 64);
	assert_int_equal(v.in_sync, 60);
	assert_int_equal(v.region_blocks, 256);
	assert_int_equal(v.volume_blocks, 16384);
	assert_int_equal(v.leg_states[2], CRUCIBLE_NL_LEG_STALE);
	assert_int_equal(v.repair_state, CRUCIBLE_NL_REPAIR_PAUSED);
	assert_int_equal(v.repaired, 1234);
	assert_int_equal(v.hydrated, 10);
	assert_int_equal(v.hydration_total, 20);
	assert_int_equal(v.repair_throttle, 50);
	assert_true(v.have & CRU_NL_HAVE(CRUCIBLE_ATTR_HYDRATION_THROTTLE));
	assert_int_equal(cru_nl_volume_in_service(&v), 7);
}

static void volume_without_an_essential_attribute_is_refused(void **state)
{
	struct nl_msg *m = reply(CRUCIBLE_CMD_VOLUME);
	struct cru_nl_volume v;
	struct cru_err err;

	(void)state;
	nla_put_u32(m, CRUCIBLE_ATTR_DEV, 1);
	nla_put_string(m, CRUCIBLE_ATTR_NAME, "vol0");
	nla_put_u8(m, CRUCIBLE_ATTR_MODE, 0);
	nla_put_u64(m, CRUCIBLE_ATTR_NR_REGIONS, 64);
	nla_put_u64(m, CRUCIBLE_ATTR_IN_SYNC, 64);
	nla_put_u8(m, CRUCIBLE_ATTR_REPAIR_STATE, 0);
	assert_int_equal(parse_volume(m, &v, &err), -EBADMSG);
	assert_string_equal(err.msg, "VOLUME message without attribute LEG_STATES");
}

static void attribute_of_the_wrong_size_is_named(void **state)
{
	struct cru_nl_volume v;
	struct nl_msg *m;
	struct cru_err err;

	(void)state;
	m = reply(CRUCIBLE_CMD_VOLUME);
	nla_put(m, CRUCIBLE_ATTR_LEG_STATES, 2, "\0\0");
	assert_int_equal(parse_volume(m, &v, &err), -EBADMSG);
	assert_string_equal(err.msg, "attribute LEG_STATES: 2 bytes, expected 3");

	m = reply(CRUCIBLE_CMD_VOLUME);
	nla_put_u64(m, CRUCIBLE_ATTR_DEV, 1);
	assert_int_equal(parse_volume(m, &v, &err), -EBADMSG);
	assert_string_equal(err.msg, "attribute DEV: 8 bytes, expected 4");

	m = reply(CRUCIBLE_CMD_VOLUME);
	nla_put_u32(m, CRUCIBLE_ATTR_IN_SYNC, 1);
	assert_int_equal(parse_volume(m, &v, &err), -EBADMSG);
	assert_string_equal(err.msg, "attribute IN_SYNC: 4 bytes, expected 8");
}

static void name_must_be_a_string(void **state)
{
	struct cru_nl_volume v;
	struct nl_msg *m;
	struct cru_err err;

	(void)state;
	m = reply(CRUCIBLE_CMD_VOLUME);
	nla_put(m, CRUCIBLE_ATTR_NAME, 4, "vol0");	/* no NUL */
	assert_int_equal(parse_volume(m, &v, &err), -EBADMSG);
	assert_contains(err.msg, "attribute NAME: not a NUL-terminated string");

	m = reply(CRUCIBLE_CMD_VOLUME);
	nla_put_string(m, CRUCIBLE_ATTR_NAME, "");
	assert_int_equal(parse_volume(m, &v, &err), -EBADMSG);
	assert_contains(err.msg, "attribute NAME: 0 characters");
}

static void values_out_of_range_are_refused(void **state)
{
	struct nlattr *tb[CRUCIBLE_ATTR_MAX + 1];
	struct nl_msg *m = reply(CRUCIBLE_EVENT_MISMATCH);
	struct cru_err err;
	uint8_t cmd;

	(void)state;
	nla_put_u32(m, CRUCIBLE_ATTR_DEV, 1);
	nla_put_u8(m, CRUCIBLE_ATTR_LEG, 3);
	nla_put_u64(m, CRUCIBLE_ATTR_BLOCK, 9);
	assert_int_equal(cru_nl_parse_attrs(nlmsg_hdr(m), tb, &cmd, &err),
			 -EBADMSG);
	assert_string_equal(err.msg, "attribute LEG: 3 is out of range (0 to 2)");
	nlmsg_free(m);
}

static void in_sync_beyond_the_regions_is_refused(void **state)
{
	struct nl_msg *m = volume_msg();
	struct nlattr *tb[CRUCIBLE_ATTR_MAX + 1];
	struct cru_nl_volume v;
	struct cru_err err;
	uint8_t cmd;

	(void)state;
	assert_int_equal(cru_nl_parse_attrs(nlmsg_hdr(m), tb, &cmd, &err), 0);
	memcpy(nla_data(tb[CRUCIBLE_ATTR_IN_SYNC]), &(uint64_t){ 65 }, 8);
	assert_int_equal(cru_nl_parse_volume(tb, &v, &err), -EBADMSG);
	assert_string_equal(err.msg, "VOLUME vol0: IN_SYNC 65 is more than NR_REGIONS 64");
	nlmsg_free(m);
}

/* A newer kernel may add attributes: they are skipped, not refused. */
static void attributes_of_a_newer_kernel_are_ignored(void **state)
{
	struct nl_msg *m = volume_msg();
	struct cru_nl_volume v;
	struct cru_err err;

	(void)state;
	nla_put_u64(m, CRUCIBLE_ATTR_MAX + 1, 5);
	nla_put_u32(m, CRUCIBLE_ATTR_MAX + 20, 5);
	assert_int_equal(parse_volume(m, &v, &err), 0);
	assert_string_equal(v.name, "vol0");
}

static void region_and_record_messages(void **state)
{
	struct nlattr *tb[CRUCIBLE_ATTR_MAX + 1];
	struct cru_nl_region r;
	struct cru_nl_record rec;
	struct cru_err err;
	struct nl_msg *m;
	uint8_t cmd;

	(void)state;
	m = reply(CRUCIBLE_CMD_REGION);
	nla_put_u32(m, CRUCIBLE_ATTR_DEV, 1);
	nla_put_u64(m, CRUCIBLE_ATTR_REGION, 17);
	nla_put_u32(m, CRUCIBLE_ATTR_REGION_FLAGS,
		    0x4 | CRUCIBLE_NL_REGION_VERIFY);
	assert_int_equal(cru_nl_parse_attrs(nlmsg_hdr(m), tb, &cmd, &err), 0);
	assert_int_equal(cmd, CRUCIBLE_CMD_REGION);
	assert_int_equal(cru_nl_parse_region(tb, &r, &err), 0);
	assert_int_equal(r.region, 17);
	assert_int_equal(r.flags, 0x4 | CRUCIBLE_NL_REGION_VERIFY);
	nlmsg_free(m);

	m = reply(CRUCIBLE_CMD_RECORD);
	nla_put_u64(m, CRUCIBLE_ATTR_BLOCK, 4096);
	nla_put_u64(m, CRUCIBLE_ATTR_HASH, 0xfedcba9876543210ULL);
	nla_put_u64(m, CRUCIBLE_ATTR_FLUSH, 0x100000007ULL);
	nla_put_u8(m, CRUCIBLE_ATTR_RECORD_OK, 1);
	assert_int_equal(cru_nl_parse_attrs(nlmsg_hdr(m), tb, &cmd, &err), 0);
	assert_int_equal(cru_nl_parse_record(tb, &rec, &err), 0);
	assert_int_equal(rec.block, 4096);
	assert_true(rec.hash == 0xfedcba9876543210ULL);
	assert_int_equal(rec.flush, 7);		/* the low 32 bits */
	assert_true(rec.ok);
	nlmsg_free(m);

	m = reply(CRUCIBLE_CMD_RECORD);
	nla_put_u64(m, CRUCIBLE_ATTR_BLOCK, 4096);
	nla_put_u64(m, CRUCIBLE_ATTR_HASH, 0);
	nla_put_u8(m, CRUCIBLE_ATTR_RECORD_OK, 1);
	assert_int_equal(cru_nl_parse_attrs(nlmsg_hdr(m), tb, &cmd, &err), 0);
	assert_int_equal(cru_nl_parse_record(tb, &rec, &err), -EBADMSG);
	assert_string_equal(err.msg, "RECORD message without attribute FLUSH");
	nlmsg_free(m);
}

/* Each event with exactly the attributes the header lists for it. */
static const struct {
	uint8_t cmd;
	int attrs[4];
} events[] = {
	{ CRUCIBLE_EVENT_LEG_FAULTED, { CRUCIBLE_ATTR_DEV, CRUCIBLE_ATTR_LEG,
					CRUCIBLE_ATTR_LEG_STATE } },
	{ CRUCIBLE_EVENT_LEG_BACK, { CRUCIBLE_ATTR_DEV, CRUCIBLE_ATTR_LEG } },
	{ CRUCIBLE_EVENT_NEED_REPAIR, { CRUCIBLE_ATTR_DEV, CRUCIBLE_ATTR_IN_SYNC,
					CRUCIBLE_ATTR_NR_REGIONS } },
	{ CRUCIBLE_EVENT_REPAIR_PROGRESS, { CRUCIBLE_ATTR_DEV,
					    CRUCIBLE_ATTR_IN_SYNC,
					    CRUCIBLE_ATTR_NR_REGIONS,
					    CRUCIBLE_ATTR_REPAIRED } },
	{ CRUCIBLE_EVENT_REPAIR_DONE, { CRUCIBLE_ATTR_DEV, CRUCIBLE_ATTR_IN_SYNC,
					CRUCIBLE_ATTR_NR_REGIONS,
					CRUCIBLE_ATTR_REPAIRED } },
	{ CRUCIBLE_EVENT_MISMATCH, { CRUCIBLE_ATTR_DEV, CRUCIBLE_ATTR_LEG,
				     CRUCIBLE_ATTR_BLOCK } },
	{ CRUCIBLE_EVENT_HYDRATION_DONE, { CRUCIBLE_ATTR_DEV,
					   CRUCIBLE_ATTR_HYDRATED,
					   CRUCIBLE_ATTR_HYDRATION_TOTAL } },
	{ CRUCIBLE_EVENT_VOLUME_GONE, { CRUCIBLE_ATTR_DEV } },
};

static void put_value(struct nl_msg *m, int attr)
{
	switch (attr) {
	case CRUCIBLE_ATTR_DEV:
		nla_put_u32(m, attr, 77);
		break;
	case CRUCIBLE_ATTR_LEG:
		nla_put_u8(m, attr, 2);
		break;
	case CRUCIBLE_ATTR_LEG_STATE:
		nla_put_u8(m, attr, CRUCIBLE_NL_LEG_DISABLED);
		break;
	default:
		nla_put_u64(m, attr, 1000 + attr);
		break;
	}
}

static int parse_event(uint8_t cmd, const int *attrs, int skip,
		       struct cru_nl_event *ev, struct cru_err *err)
{
	struct nlattr *tb[CRUCIBLE_ATTR_MAX + 1];
	struct nl_msg *m = reply(cmd);
	uint8_t got;
	int i, ret;

	for (i = 0; i < 4 && attrs[i]; i++)
		if (i != skip)
			put_value(m, attrs[i]);
	ret = cru_nl_parse_attrs(nlmsg_hdr(m), tb, &got, err);
	assert_int_equal(ret, 0);
	assert_int_equal(got, cmd);
	ret = cru_nl_parse_event(tb, got, ev, err);
	nlmsg_free(m);
	return ret;
}

static void every_event_needs_its_attributes(void **state)
{
	struct cru_nl_event ev;
	struct cru_err err;
	char want[128];
	size_t e;
	int i;

	(void)state;
	for (e = 0; e < ARRAY_SIZE(events); e++) {
		assert_int_equal(parse_event(events[e].cmd, events[e].attrs, -1,
					     &ev, &err), 0);
		assert_int_equal(ev.cmd, events[e].cmd);
		assert_int_equal(ev.dev, 77);
		for (i = 0; i < 4 && events[e].attrs[i]; i++) {
			assert_int_equal(parse_event(events[e].cmd,
						     events[e].attrs, i, &ev,
						     &err), -EBADMSG);
			snprintf(want, sizeof(want),
				 "%s message without attribute %s",
				 cru_nl_cmd_name(events[e].cmd),
				 cru_nl_attr_name(events[e].attrs[i]));
			assert_string_equal(err.msg, want);
		}
	}
	assert_int_equal(parse_event(CRUCIBLE_EVENT_LEG_FAULTED,
				     events[0].attrs, -1, &ev, &err), 0);
	assert_int_equal(ev.leg, 2);
	assert_int_equal(ev.leg_state, CRUCIBLE_NL_LEG_DISABLED);
	assert_int_equal(parse_event(CRUCIBLE_EVENT_REPAIR_PROGRESS,
				     events[3].attrs, -1, &ev, &err), 0);
	assert_int_equal(ev.in_sync, 1000 + CRUCIBLE_ATTR_IN_SYNC);
	assert_int_equal(ev.repaired, 1000 + CRUCIBLE_ATTR_REPAIRED);
	assert_int_equal(parse_event(CRUCIBLE_CMD_VOLUME, events[7].attrs, -1,
				     &ev, &err), -EBADMSG);
	assert_contains(err.msg, "is not an event");
}

/* Byte offset of attribute @type in @nlh, as an extended ack gives it. */
static uint32_t offset_of(const struct nlmsghdr *nlh, int type)
{
	struct nlattr *a;
	int rem;

	nla_for_each_attr(a, genlmsg_attrdata(nlmsg_data(nlh), 0),
			  genlmsg_attrlen(nlmsg_data(nlh), 0), rem)
		if (nla_type(a) == type)
			return (uint32_t)((char *)a - (char *)nlh);
	fail_msg("no attribute %d", type);
	return 0;
}

/*
 * The kernel's answer to @req: NLMSG_ERROR with @error, the request
 * echoed in full unless @capped, then the extended-ack attributes.
 */
static struct nl_msg *error_msg(const struct nlmsghdr *req, int error,
				bool capped, const char *text, int bad_attr,
				int missing)
{
	struct nl_msg *m = nlmsg_alloc();
	size_t echo = capped ? 0 : req->nlmsg_len - NLMSG_HDRLEN;
	struct nlmsghdr *nlh;
	struct nlmsgerr *e;

	assert_non_null(m);
	nlh = nlmsg_put(m, 0, req->nlmsg_seq, NLMSG_ERROR,
			(int)(sizeof(*e) + echo),
			(capped ? NLM_F_CAPPED : 0) | NLM_F_ACK_TLVS);
	assert_non_null(nlh);
	e = nlmsg_data(nlh);
	e->error = error;
	memcpy(&e->msg, req, sizeof(*req) + echo);
	if (text)
		nla_put_string(m, NLMSGERR_ATTR_MSG, text);
	if (bad_attr)
		nla_put_u32(m, NLMSGERR_ATTR_OFFS, offset_of(req, bad_attr));
	if (missing)
		nla_put_u32(m, NLMSGERR_ATTR_MISS_TYPE, (uint32_t)missing);
	return m;
}

static struct nl_msg *repair_request(void)
{
	struct cru_nl_repair r = { .first = 3, .count = 2, .src = 1, .dst = 4 };
	struct nl_msg *req = cru_nl_msg_repair(FAMILY, 77, &r);

	assert_non_null(req);
	nlmsg_hdr(req)->nlmsg_seq = 9;
	return req;
}

static void refusal_names_the_attribute(void **state)
{
	struct nl_msg *req = repair_request(), *m;
	struct cru_nl_ack ack;
	char line[CRU_ERR_LEN];
	bool capped;

	(void)state;
	for (capped = false; ; capped = true) {
		m = error_msg(nlmsg_hdr(req), -EINVAL, capped,
			      "source leg 1 is stale in region 4",
			      CRUCIBLE_ATTR_SRC_LEG, 0);
		assert_int_equal(cru_nl_parse_ack(nlmsg_hdr(m), &ack), 0);
		assert_int_equal(ack.error, -EINVAL);
		assert_string_equal(ack.msg, "source leg 1 is stale in region 4");
		assert_true(ack.has_offset);
		assert_int_equal(cru_nl_attr_at_offset(nlmsg_hdr(req), ack.offset),
				 CRUCIBLE_ATTR_SRC_LEG);
		cru_nl_ack_sentence(&ack, nlmsg_hdr(req), "vol0: repair", line,
				    sizeof(line));
		assert_string_equal(line, "vol0: repair: source leg 1 is stale in region 4 (attribute SRC_LEG)");
		nlmsg_free(m);
		if (capped)
			break;
	}
	/* An offset that is no attribute's start names none. */
	assert_int_equal(cru_nl_attr_at_offset(nlmsg_hdr(req), 3), -1);
	nlmsg_free(req);
}

static void refusal_without_a_message_says_the_errno(void **state)
{
	struct nl_msg *req = repair_request(), *m;
	struct cru_nl_ack ack;
	char line[CRU_ERR_LEN];

	(void)state;
	m = error_msg(nlmsg_hdr(req), -EPERM, true, NULL, 0, 0);
	assert_int_equal(cru_nl_parse_ack(nlmsg_hdr(m), &ack), 0);
	assert_int_equal(ack.error, -EPERM);
	cru_nl_ack_sentence(&ack, nlmsg_hdr(req), "vol0: repair", line,
			    sizeof(line));
	assert_string_equal(line, "vol0: repair: Operation not permitted");
	nlmsg_free(m);

	m = error_msg(nlmsg_hdr(req), -EINVAL, true, "Missing attribute", 0,
		      CRUCIBLE_ATTR_COUNT);
	assert_int_equal(cru_nl_parse_ack(nlmsg_hdr(m), &ack), 0);
	cru_nl_ack_sentence(&ack, nlmsg_hdr(req), "vol0: repair", line,
			    sizeof(line));
	assert_string_equal(line, "vol0: repair: Missing attribute (missing attribute COUNT)");
	nlmsg_free(m);
	nlmsg_free(req);
}

static void success_ack_and_end_of_dump(void **state)
{
	struct nl_msg *req = repair_request(), *m;
	struct cru_nl_ack ack;
	struct nlmsghdr *nlh;
	int *payload;

	(void)state;
	m = error_msg(nlmsg_hdr(req), 0, true, NULL, 0, 0);
	assert_int_equal(cru_nl_parse_ack(nlmsg_hdr(m), &ack), 0);
	assert_int_equal(ack.error, 0);
	assert_string_equal(ack.msg, "");
	nlmsg_free(m);

	/* A dump that failed part-way: the error rides on NLMSG_DONE. */
	m = nlmsg_alloc();
	nlh = nlmsg_put(m, 0, 9, NLMSG_DONE, sizeof(int), NLM_F_MULTI |
			NLM_F_ACK_TLVS);
	payload = nlmsg_data(nlh);
	*payload = -ENODEV;
	nla_put_string(m, NLMSGERR_ATTR_MSG, "no such crucible volume");
	assert_int_equal(cru_nl_parse_ack(nlmsg_hdr(m), &ack), 0);
	assert_int_equal(ack.error, -ENODEV);
	assert_string_equal(ack.msg, "no such crucible volume");
	nlmsg_free(m);

	/* Any other message is not an answer. */
	assert_int_equal(cru_nl_parse_ack(nlmsg_hdr(req), &ack), -EBADMSG);
	nlmsg_free(req);
}

static void truncated_ack_is_refused(void **state)
{
	struct nlmsghdr nlh = {
		.nlmsg_len = NLMSG_HDRLEN + 4,
		.nlmsg_type = NLMSG_ERROR,
	};
	struct cru_nl_ack ack;

	(void)state;
	assert_int_equal(cru_nl_parse_ack(&nlh, &ack), -EBADMSG);
}

/* Parse request @m back: its command and attributes. */
static uint8_t request_attrs(struct nl_msg *m, struct nlattr **tb)
{
	struct genlmsghdr *g = nlmsg_data(nlmsg_hdr(m));

	assert_int_equal(nlmsg_hdr(m)->nlmsg_type, FAMILY);
	assert_int_equal(g->version, CRUCIBLE_GENL_VERSION);
	assert_int_equal(genlmsg_parse(nlmsg_hdr(m), 0, tb, CRUCIBLE_ATTR_MAX,
				       NULL), 0);
	return g->cmd;
}

static void requests_carry_the_contract_attributes(void **state)
{
	struct nlattr *tb[CRUCIBLE_ATTR_MAX + 1];
	struct nl_msg *m;

	(void)state;
	m = repair_request();
	assert_int_equal(request_attrs(m, tb), CRUCIBLE_CMD_REPAIR);
	assert_int_equal(nla_get_u32(tb[CRUCIBLE_ATTR_DEV]), 77);
	assert_int_equal(nla_get_u64(tb[CRUCIBLE_ATTR_FIRST]), 3);
	assert_int_equal(nla_get_u64(tb[CRUCIBLE_ATTR_COUNT]), 2);
	assert_int_equal(nla_get_u8(tb[CRUCIBLE_ATTR_SRC_LEG]), 1);
	assert_int_equal(nla_get_u8(tb[CRUCIBLE_ATTR_DST_LEGS]), 4);
	nlmsg_free(m);

	m = cru_nl_msg_list_volumes(FAMILY);
	assert_int_equal(request_attrs(m, tb), CRUCIBLE_CMD_LIST_VOLUMES);
	assert_true(nlmsg_hdr(m)->nlmsg_flags & NLM_F_DUMP);
	assert_null(tb[CRUCIBLE_ATTR_DEV]);
	nlmsg_free(m);

	/* Whole volume: neither FIRST nor COUNT. */
	m = cru_nl_msg_get_regions(FAMILY, 77, 0, 0);
	assert_int_equal(request_attrs(m, tb), CRUCIBLE_CMD_GET_REGIONS);
	assert_true(nlmsg_hdr(m)->nlmsg_flags & NLM_F_DUMP);
	assert_non_null(tb[CRUCIBLE_ATTR_DEV]);
	assert_null(tb[CRUCIBLE_ATTR_FIRST]);
	assert_null(tb[CRUCIBLE_ATTR_COUNT]);
	nlmsg_free(m);
	m = cru_nl_msg_get_regions(FAMILY, 77, 5, 0);
	request_attrs(m, tb);
	assert_int_equal(nla_get_u64(tb[CRUCIBLE_ATTR_FIRST]), 5);
	assert_null(tb[CRUCIBLE_ATTR_COUNT]);
	nlmsg_free(m);

	m = cru_nl_msg_get_records(FAMILY, 77, 2, 256, 16);
	assert_int_equal(request_attrs(m, tb), CRUCIBLE_CMD_GET_RECORDS);
	assert_int_equal(nla_get_u8(tb[CRUCIBLE_ATTR_LEG]), 2);
	assert_int_equal(nla_get_u64(tb[CRUCIBLE_ATTR_FIRST]), 256);
	assert_int_equal(nla_get_u64(tb[CRUCIBLE_ATTR_COUNT]), 16);
	nlmsg_free(m);

	m = cru_nl_msg_set_leg(FAMILY, 77, 1, CRUCIBLE_LEG_ACTION_RESTORE);
	assert_int_equal(request_attrs(m, tb), CRUCIBLE_CMD_SET_LEG);
	assert_int_equal(nla_get_u8(tb[CRUCIBLE_ATTR_LEG_ACTION]),
			 CRUCIBLE_LEG_ACTION_RESTORE);
	nlmsg_free(m);

	m = cru_nl_msg_set_throttle(FAMILY, 77, 25, -1);
	assert_int_equal(request_attrs(m, tb), CRUCIBLE_CMD_SET_THROTTLE);
	assert_int_equal(nla_get_u32(tb[CRUCIBLE_ATTR_REPAIR_THROTTLE]), 25);
	assert_null(tb[CRUCIBLE_ATTR_HYDRATION_THROTTLE]);
	nlmsg_free(m);

	m = cru_nl_msg_reconcile(FAMILY, 77, false);
	assert_int_equal(request_attrs(m, tb), CRUCIBLE_CMD_RECONCILE);
	assert_int_equal(nla_get_u8(tb[CRUCIBLE_ATTR_RECONCILE]), 0);
	nlmsg_free(m);
}

/* The kernel's new_encode_dev, as stat(2) reports device numbers. */
static void device_numbers_round_trip(void **state)
{
	unsigned int major, minor;

	(void)state;
	assert_int_equal(cru_nl_encode_dev(254, 0), 0xfe00);
	assert_int_equal(cru_nl_encode_dev(254, 3), 0xfe03);
	assert_int_equal(cru_nl_encode_dev(253, 0x1234), 0x120fd34);
	assert_true(cru_nl_encode_dev(4095, 0xfffff) == 0xffffffffU);
	cru_nl_decode_dev(0x120fd34, &major, &minor);
	assert_int_equal(major, 253);
	assert_int_equal(minor, 0x1234);
	cru_nl_decode_dev(cru_nl_encode_dev(7, 300), &major, &minor);
	assert_int_equal(major, 7);
	assert_int_equal(minor, 300);
}

static void names_of_states(void **state)
{
	(void)state;
	assert_string_equal(cru_nl_leg_state_name(CRUCIBLE_NL_LEG_DISABLED),
			    "disabled");
	assert_string_equal(cru_nl_leg_state_name(9), "unknown");
	assert_int_equal(cru_nl_leg_state_code(CRUCIBLE_NL_LEG_FAILED), 'F');
	assert_int_equal(cru_nl_leg_state_code(9), '?');
	assert_string_equal(cru_nl_mode_name(CRUCIBLE_NL_MODE_FENCED), "fenced");
	assert_string_equal(cru_nl_repair_state_name(CRUCIBLE_NL_REPAIR_WAITING),
			    "waiting");
	assert_string_equal(cru_nl_attr_name(CRUCIBLE_ATTR_HYDRATION_THROTTLE),
			    "HYDRATION_THROTTLE");
	assert_string_equal(cru_nl_attr_name(200), "attribute 200");
	assert_string_equal(cru_nl_cmd_name(CRUCIBLE_EVENT_VOLUME_GONE),
			    "VOLUME_GONE");
	assert_null(cru_nl_cmd_name(CRUCIBLE_CMD_MAX + 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(volume_message_parses_into_a_struct),
		cmocka_unit_test(volume_without_an_essential_attribute_is_refused),
		cmocka_unit_test(attribute_of_the_wrong_size_is_named),
		cmocka_unit_test(name_must_be_a_string),
		cmocka_unit_test(values_out_of_range_are_refused),
		cmocka_unit_test(in_sync_beyond_the_regions_is_refused),
		cmocka_unit_test(attributes_of_a_newer_kernel_are_ignored),
		cmocka_unit_test(region_and_record_messages),
		cmocka_unit_test(every_event_needs_its_attributes),
		cmocka_unit_test(refusal_names_the_attribute),
		cmocka_unit_test(refusal_without_a_message_says_the_errno),
		cmocka_unit_test(success_ack_and_end_of_dump),
		cmocka_unit_test(truncated_ack_is_refused),
		cmocka_unit_test(requests_carry_the_contract_attributes),
		cmocka_unit_test(device_numbers_round_trip),
		cmocka_unit_test(names_of_states),
	};

	return cmocka_run_group_tests_name("netlink messages", tests, NULL, NULL);
}

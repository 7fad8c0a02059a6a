// SPDX-License-Identifier: GPL-2.0
/*
 * The netlink client's socket half against a stand-in for the kernel: a
 * user-space netlink socket in a thread, which the client's socket is
 * pointed at (cru_nl_open_peer).  It answers as the kernel's family
 * would: acks and extended acks, dumps over several datagrams ending in
 * NLMSG_DONE, an error at the end of a dump, an inconsistent dump, the
 * answer to an asynchronous request arriving in the middle of a dump,
 * events.  Sending to a user-space socket needs CAP_NET_ADMIN: without
 * it the tests are skipped.
 */
#include "test.h"

#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>

#include <netlink/genl/genl.h>
#include <netlink/msg.h>
#include <linux/nbd-netlink.h>

#include "../lib/nbd.h"
#include "../lib/nl.h"

#define FAMILY 0x1d

struct fake;
typedef void (*serve_fn)(struct fake *f, const struct nlmsghdr *req);

struct fake {
	int fd;
	uint32_t port;
	uint32_t client;
	serve_fn serve;
	pthread_t thread;
	volatile bool stop;
	int requests;			/* requests served */
	uint8_t cmds[16];		/* their commands */
	uint32_t held_seq;		/* a request answered later */
	struct nlmsghdr held;
};

struct ctx {
	struct fake fake;
	struct cru_nl *nl;
};

/* ---- the stand-in kernel */

static void send_buf(struct fake *f, const void *buf, size_t len)
{
	struct sockaddr_nl to = { .nl_family = AF_NETLINK, .nl_pid = f->client };

	if (sendto(f->fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to)) !=
	    (ssize_t)len)
		fprintf(stderr, "# fake kernel: sendto: %s\n", strerror(errno));
}

/* Several messages in one datagram, as the kernel packs a dump. */
static void send_msgs(struct fake *f, struct nl_msg **m, int n)
{
	char buf[16384];
	size_t len = 0;
	int i;

	for (i = 0; i < n; i++) {
		struct nlmsghdr *h = nlmsg_hdr(m[i]);
		size_t l = NLMSG_ALIGN(h->nlmsg_len);

		assert_true(len + l <= sizeof(buf));
		memcpy(buf + len, h, h->nlmsg_len);
		memset(buf + len + h->nlmsg_len, 0, l - h->nlmsg_len);
		len += l;
		nlmsg_free(m[i]);
	}
	send_buf(f, buf, len);
}

static struct nl_msg *reply(uint32_t seq, uint8_t cmd, int flags)
{
	struct nl_msg *m = nlmsg_alloc();

	genlmsg_put(m, 0, seq, FAMILY, 0, flags, cmd, CRUCIBLE_GENL_VERSION);
	return m;
}

static struct nl_msg *volume(uint32_t seq, const char *name, int flags)
{
	static const uint8_t legs[3];
	struct nl_msg *m = reply(seq, CRUCIBLE_CMD_VOLUME, NLM_F_MULTI | flags);

	nla_put_u32(m, CRUCIBLE_ATTR_DEV, (uint32_t)name[1]);
	nla_put_string(m, CRUCIBLE_ATTR_NAME, name);
	nla_put_u8(m, CRUCIBLE_ATTR_MODE, CRUCIBLE_NL_MODE_RW);
	nla_put_u64(m, CRUCIBLE_ATTR_NR_REGIONS, 8);
	nla_put_u64(m, CRUCIBLE_ATTR_IN_SYNC, 8);
	nla_put(m, CRUCIBLE_ATTR_LEG_STATES, 3, legs);
	nla_put_u8(m, CRUCIBLE_ATTR_REPAIR_STATE, CRUCIBLE_NL_REPAIR_IDLE);
	return m;
}

/* NLMSG_DONE, with an error and a sentence if @error. */
static struct nl_msg *done(uint32_t seq, int error, const char *text)
{
	struct nl_msg *m = nlmsg_alloc();
	struct nlmsghdr *h = nlmsg_put(m, 0, seq, NLMSG_DONE, sizeof(int),
				       NLM_F_MULTI | (text ? NLM_F_ACK_TLVS : 0));

	memcpy(nlmsg_data(h), &error, sizeof(error));
	if (text)
		nla_put_string(m, NLMSGERR_ATTR_MSG, text);
	return m;
}

/* NLMSG_ERROR for @req (capped, as NETLINK_CAP_ACK asks). */
static struct nl_msg *ack(const struct nlmsghdr *req, int error,
			  const char *text, uint32_t bad_offset)
{
	struct nl_msg *m = nlmsg_alloc();
	struct nlmsghdr *h;
	struct nlmsgerr *e;

	h = nlmsg_put(m, 0, req->nlmsg_seq, NLMSG_ERROR, sizeof(*e),
		      NLM_F_CAPPED | (text ? NLM_F_ACK_TLVS : 0));
	e = nlmsg_data(h);
	e->error = error;
	e->msg = *req;
	if (text)
		nla_put_string(m, NLMSGERR_ATTR_MSG, text);
	if (bad_offset)
		nla_put_u32(m, NLMSGERR_ATTR_OFFS, bad_offset);
	return m;
}

static uint8_t cmd_of(const struct nlmsghdr *req)
{
	return ((const struct genlmsghdr *)NLMSG_DATA(req))->cmd;
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	char buf[16384];

	while (!f->stop) {
		struct pollfd pfd = { .fd = f->fd, .events = POLLIN };
		struct nlmsghdr *h = (struct nlmsghdr *)buf;
		ssize_t n;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		n = recv(f->fd, buf, sizeof(buf), 0);
		if (n < (ssize_t)(NLMSG_HDRLEN + GENL_HDRLEN))
			continue;
		if (f->requests < (int)sizeof(f->cmds))
			f->cmds[f->requests] = cmd_of(h);
		f->requests++;
		f->serve(f, h);
	}
	return NULL;
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	socklen_t len = sizeof(sa);
	struct cru_err err;

	c->fake.fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC,
			    NETLINK_GENERIC);
	assert_true(c->fake.fd >= 0);
	assert_int_equal(bind(c->fake.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(c->fake.fd, (struct sockaddr *)&sa, &len), 0);
	c->fake.port = sa.nl_pid;
	if (cru_nl_open_peer(&c->nl, c->fake.port, FAMILY, &err))
		fail_msg("%s", err.msg);
	c->fake.client = cru_nl_port(c->nl);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	if (c->fake.serve) {
		c->fake.stop = true;
		pthread_join(c->fake.thread, NULL);
	}
	cru_nl_close(c->nl);
	close(c->fake.fd);
	free(c);
	return 0;
}

/* Start serving with @serve; skip the test where user-space peers are
 * not allowed (no CAP_NET_ADMIN). */
static struct ctx *start(void **state, serve_fn serve)
{
	struct ctx *c = *state;
	struct sockaddr_nl to = { .nl_family = AF_NETLINK, .nl_pid = c->fake.port };
	struct nlmsghdr probe = { .nlmsg_len = NLMSG_HDRLEN, .nlmsg_type = NLMSG_NOOP };
	char buf[64];

	if (sendto(c->fake.fd, &probe, sizeof(probe), 0, (struct sockaddr *)&to,
		   sizeof(to)) < 0) {
		if (errno == EPERM)
			test_skip("netlink sendto to a userland port refused (EPERM): no fake kernel here");
		fail_msg("sendto: %s", strerror(errno));
	}
	assert_true(recv(c->fake.fd, buf, sizeof(buf), 0) > 0);
	c->fake.serve = serve;
	assert_int_equal(pthread_create(&c->fake.thread, NULL, fake_main,
					&c->fake), 0);
	return c;
}

/* ---- scenarios */

static uint32_t offset_of_attr(const struct nlmsghdr *req, int type)
{
	const struct nlattr *a;
	int rem;

	nla_for_each_attr(a, genlmsg_attrdata(NLMSG_DATA(req), 0),
			  genlmsg_attrlen(NLMSG_DATA(req), 0), rem)
		if (nla_type(a) == type)
			return (uint32_t)((const char *)a - (const char *)req);
	return 0;
}

static void serve_refusal(struct fake *f, const struct nlmsghdr *req)
{
	struct nl_msg *m;

	if (!(req->nlmsg_flags & NLM_F_ACK) ||
	    !(req->nlmsg_flags & NLM_F_REQUEST))
		m = ack(req, -EPROTO, "request without NLM_F_REQUEST|NLM_F_ACK", 0);
	else if (cmd_of(req) == CRUCIBLE_CMD_REPAIR)
		m = ack(req, -EINVAL, "source leg 1 is stale in region 4",
			offset_of_attr(req, CRUCIBLE_ATTR_SRC_LEG));
	else
		m = ack(req, 0, NULL, 0);
	send_msgs(f, &m, 1);
}

static void request_gets_the_kernels_answer(void **state)
{
	struct ctx *c = start(state, serve_refusal);
	struct cru_nl_repair r = { .first = 3, .count = 2, .src = 1, .dst = 4 };
	struct cru_err err;

	assert_int_equal(cru_nl_request(c->nl, cru_nl_msg_repair(FAMILY, 5, &r),
					"vol0: repair", &err), -EINVAL);
	assert_string_equal(err.msg, "vol0: repair: source leg 1 is stale in region 4 (attribute SRC_LEG)");
	assert_int_equal(cru_nl_request(c->nl,
					cru_nl_msg_reconcile(FAMILY, 5, true),
					"vol0: reconcile", &err), 0);
	assert_int_equal(c->fake.requests, 2);
	assert_int_equal(c->fake.cmds[0], CRUCIBLE_CMD_REPAIR);
	assert_int_equal(c->fake.cmds[1], CRUCIBLE_CMD_RECONCILE);
}

static void serve_dumps(struct fake *f, const struct nlmsghdr *req)
{
	struct nl_msg *m[3];
	struct nlattr *tb[CRUCIBLE_ATTR_MAX + 1];

	switch (cmd_of(req)) {
	case CRUCIBLE_CMD_LIST_VOLUMES:
		/* Three volumes over two datagrams, as a long dump goes. */
		m[0] = volume(req->nlmsg_seq, "va", 0);
		m[1] = volume(req->nlmsg_seq, "vb", 0);
		send_msgs(f, m, 2);
		m[0] = volume(req->nlmsg_seq, "vc", 0);
		m[1] = done(req->nlmsg_seq, 0, NULL);
		send_msgs(f, m, 2);
		break;
	case CRUCIBLE_CMD_GET_REGIONS:
		genlmsg_parse((struct nlmsghdr *)req, 0, tb, CRUCIBLE_ATTR_MAX,
			      NULL);
		if (!tb[CRUCIBLE_ATTR_DEV] || nla_get_u32(tb[CRUCIBLE_ATTR_DEV]) != 5) {
			/* Refused before the dump starts. */
			m[0] = ack(req, -ENODEV, "no crucible volume with that DEV",
				   offset_of_attr(req, CRUCIBLE_ATTR_DEV));
			send_msgs(f, m, 1);
			break;
		}
		m[0] = reply(req->nlmsg_seq, CRUCIBLE_CMD_REGION, NLM_F_MULTI);
		nla_put_u64(m[0], CRUCIBLE_ATTR_REGION, 6);
		nla_put_u32(m[0], CRUCIBLE_ATTR_REGION_FLAGS, 0x2);
		/* The volume went away in the middle of the dump. */
		m[1] = done(req->nlmsg_seq, -ENODEV, "the volume went away");
		send_msgs(f, m, 2);
		break;
	case CRUCIBLE_CMD_GET_RECORDS:
		m[0] = reply(req->nlmsg_seq, CRUCIBLE_CMD_RECORD, NLM_F_MULTI);
		nla_put_u64(m[0], CRUCIBLE_ATTR_BLOCK, 1);
		nla_put_u64(m[0], CRUCIBLE_ATTR_HASH, 1);
		nla_put_u8(m[0], CRUCIBLE_ATTR_RECORD_OK, 1);	/* no FLUSH */
		m[1] = done(req->nlmsg_seq, 0, NULL);
		send_msgs(f, m, 2);
		break;
	}
}

static void dump_collects_every_reply(void **state)
{
	struct ctx *c = start(state, serve_dumps);
	struct cru_nl_volume *vols, v;
	struct cru_err err;
	size_t n;

	assert_int_equal(cru_nl_list_volumes(c->nl, &vols, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(vols[0].name, "va");
	assert_string_equal(vols[2].name, "vc");
	free(vols);
	assert_int_equal(cru_nl_find_volume(c->nl, "vb", &v, &err), 0);
	assert_int_equal(v.dev, 'b');
	assert_int_equal(cru_nl_find_volume(c->nl, "vz", &v, &err), -ENODEV);
	assert_string_equal(err.msg, "no crucible volume named vz");
}

static void dump_errors_at_start_and_at_the_end(void **state)
{
	struct ctx *c = start(state, serve_dumps);
	struct cru_nl_region *regions;
	struct cru_nl_record *records;
	struct cru_nl_volume *vols;
	struct cru_err err;
	size_t n;

	assert_int_equal(cru_nl_get_regions(c->nl, 9, 0, 0, &regions, &n, &err),
			 -ENODEV);
	assert_string_equal(err.msg, "reading region state: no crucible volume with that DEV (attribute DEV)");
	assert_null(regions);
	assert_int_equal(cru_nl_get_regions(c->nl, 5, 0, 0, &regions, &n, &err),
			 -ENODEV);
	assert_string_equal(err.msg, "reading region state: the volume went away");
	assert_int_equal(n, 0);
	/* A reply the client cannot read fails the dump, which is drained. */
	assert_int_equal(cru_nl_get_records(c->nl, 5, 0, 0, 1, &records, &n,
					    &err), -EBADMSG);
	assert_string_equal(err.msg, "reading block records: RECORD message without attribute FLUSH");
	assert_int_equal(cru_nl_list_volumes(c->nl, &vols, &n, &err), 0);
	assert_int_equal(n, 3);
	free(vols);
}

static void serve_inconsistent_once(struct fake *f, const struct nlmsghdr *req)
{
	struct nl_msg *m[2];

	m[0] = volume(req->nlmsg_seq, "va",
		      f->requests == 1 ? NLM_F_DUMP_INTR : 0);
	m[1] = done(req->nlmsg_seq, 0, NULL);
	send_msgs(f, m, 2);
}

static void inconsistent_dump_is_run_again(void **state)
{
	struct ctx *c = start(state, serve_inconsistent_once);
	struct cru_nl_volume *vols;
	struct cru_err err;
	size_t n;

	assert_int_equal(cru_nl_list_volumes(c->nl, &vols, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(c->fake.requests, 2);
	free(vols);
}

/* REPAIR is answered only in the middle of the next dump. */
static void serve_late_answer(struct fake *f, const struct nlmsghdr *req)
{
	struct nl_msg *m[3];

	if (cmd_of(req) == CRUCIBLE_CMD_REPAIR) {
		f->held = *req;
		return;
	}
	m[0] = volume(req->nlmsg_seq, "va", 0);
	m[1] = ack(&f->held, -EBUSY, "region 3 is being replaced",
		   0);
	m[2] = done(req->nlmsg_seq, 0, NULL);
	send_msgs(f, m, 1);
	send_msgs(f, m + 1, 2);
}

struct answers {
	int n;
	uint32_t seq;
	int error;
	char msg[CRU_ERR_LEN];
	uint8_t cmd;
};

static void on_answer(uint32_t seq, const struct cru_nl_ack *a,
		      const struct nlmsghdr *req, void *arg)
{
	struct answers *ans = arg;

	ans->n++;
	ans->seq = seq;
	ans->error = a->error;
	snprintf(ans->msg, sizeof(ans->msg), "%s", a->msg);
	ans->cmd = cmd_of(req);
}

static void async_answer_during_a_dump_reaches_its_handler(void **state)
{
	struct ctx *c = start(state, serve_late_answer);
	struct cru_nl_repair r = { .first = 3, .count = 1, .src = 0, .dst = 2 };
	struct answers ans = { 0 };
	struct cru_nl_volume *vols;
	struct cru_err err;
	uint32_t seq;
	size_t n;

	cru_nl_set_ack_handler(c->nl, on_answer, &ans);
	assert_int_equal(cru_nl_send_async(c->nl, cru_nl_msg_repair(FAMILY, 5, &r),
					   &seq, &err), 0);
	assert_int_equal(cru_nl_list_volumes(c->nl, &vols, &n, &err), 0);
	assert_int_equal(n, 1);
	free(vols);
	assert_int_equal(ans.n, 1);
	assert_int_equal(ans.seq, seq);
	assert_int_equal(ans.error, -EBUSY);
	assert_string_equal(ans.msg, "region 3 is being replaced");
	assert_int_equal(ans.cmd, CRUCIBLE_CMD_REPAIR);
}

static void serve_ack_all(struct fake *f, const struct nlmsghdr *req)
{
	struct nl_msg *m = ack(req, 0, NULL, 0);

	send_msgs(f, &m, 1);
}

static void process_reads_the_answers_that_are_there(void **state)
{
	struct ctx *c = start(state, serve_ack_all);
	struct cru_nl_repair r = { .first = 0, .count = 1, .src = 0, .dst = 2 };
	struct answers ans = { 0 };
	struct pollfd pfd;
	struct cru_err err;
	uint32_t seq;

	cru_nl_set_ack_handler(c->nl, on_answer, &ans);
	assert_int_equal(cru_nl_process(c->nl, &err), 0);
	assert_int_equal(ans.n, 0);
	assert_int_equal(cru_nl_send_async(c->nl, cru_nl_msg_repair(FAMILY, 5, &r),
					   &seq, &err), 0);
	pfd.fd = cru_nl_fd(c->nl);
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	assert_int_equal(cru_nl_process(c->nl, &err), 0);
	assert_int_equal(ans.n, 1);
	assert_int_equal(ans.seq, seq);
	assert_int_equal(ans.error, 0);
}

struct seen {
	int n, bad;
	struct cru_nl_event last;
	char perr[CRU_ERR_LEN];
};

static void on_event(const struct cru_nl_event *ev, const struct cru_err *perr,
		     void *arg)
{
	struct seen *s = arg;

	s->n++;
	s->last = *ev;
	if (perr) {
		s->bad++;
		snprintf(s->perr, sizeof(s->perr), "%s", perr->msg);
	}
}

static void serve_nothing(struct fake *f, const struct nlmsghdr *req)
{
	(void)f;
	(void)req;
}

static void events_are_read_until_none_is_left(void **state)
{
	struct ctx *c = start(state, serve_nothing);
	struct seen s = { 0 };
	struct nl_msg *m[3];
	struct nlmsghdr other = { .nlmsg_len = NLMSG_HDRLEN + GENL_HDRLEN,
				  .nlmsg_type = FAMILY + 1 };
	struct pollfd pfd = { .fd = cru_nl_fd(c->nl), .events = POLLIN };
	struct cru_err err;
	char pad[NLMSG_HDRLEN + GENL_HDRLEN] = { 0 };

	m[0] = reply(0, CRUCIBLE_EVENT_MISMATCH, 0);
	nla_put_u32(m[0], CRUCIBLE_ATTR_DEV, 5);
	nla_put_u8(m[0], CRUCIBLE_ATTR_LEG, 1);
	nla_put_u64(m[0], CRUCIBLE_ATTR_BLOCK, 4242);
	m[1] = reply(0, CRUCIBLE_EVENT_LEG_BACK, 0);	/* no LEG */
	nla_put_u32(m[1], CRUCIBLE_ATTR_DEV, 6);
	send_msgs(&c->fake, m, 2);
	/* Another family's message on the socket is not an event. */
	memcpy(pad, &other, sizeof(other));
	send_buf(&c->fake, pad, sizeof(pad));
	m[0] = reply(0, CRUCIBLE_EVENT_VOLUME_GONE, 0);
	nla_put_u32(m[0], CRUCIBLE_ATTR_DEV, 7);
	send_msgs(&c->fake, m, 1);

	assert_int_equal(poll(&pfd, 1, 5000), 1);
	usleep(100000);		/* all three datagrams are queued by now */
	assert_int_equal(cru_nl_read_events(c->nl, on_event, &s, &err), 3);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.bad, 1);
	assert_string_equal(s.perr, "LEG_BACK message without attribute LEG");
	assert_int_equal(s.last.cmd, CRUCIBLE_EVENT_VOLUME_GONE);
	assert_int_equal(s.last.dev, 7);
	assert_int_equal(cru_nl_read_events(c->nl, on_event, &s, &err), 0);
}

static struct nl_msg *link_dead(int index)
{
	struct nl_msg *m = nlmsg_alloc();

	genlmsg_put(m, 0, 0, FAMILY, 0, 0, NBD_CMD_LINK_DEAD, 1);
	if (index >= 0)
		nla_put_u32(m, NBD_ATTR_INDEX, index);
	return m;
}

static void note_index(int index, void *arg)
{
	int *got = arg;

	got[++got[0]] = index;
}

/* Every LINK_DEAD of a datagram is read, not only its first. */
static void nbd_events_in_one_datagram_are_all_read(void **state)
{
	struct ctx *c = start(state, serve_nothing);
	struct pollfd pfd = { .fd = cru_nl_fd(c->nl), .events = POLLIN };
	struct nl_msg *m[3];
	struct cru_err err;
	int got[8] = { 0 };

	m[0] = link_dead(3);
	m[1] = link_dead(-1);		/* no index: skipped */
	m[2] = link_dead(9);
	send_msgs(&c->fake, m, 3);
	m[0] = link_dead(4);
	send_msgs(&c->fake, m, 1);

	assert_int_equal(poll(&pfd, 1, 5000), 1);
	usleep(100000);		/* both datagrams are queued by now */
	assert_int_equal(cru_nbd_nl_read_events(c->nl, note_index, got, &err),
			 3);
	assert_int_equal(got[0], 3);
	assert_int_equal(got[1], 3);
	assert_int_equal(got[2], 9);
	assert_int_equal(got[3], 4);
	assert_int_equal(cru_nbd_nl_read_events(c->nl, note_index, got, &err),
			 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(request_gets_the_kernels_answer,
						setup, teardown),
		cmocka_unit_test_setup_teardown(dump_collects_every_reply,
						setup, teardown),
		cmocka_unit_test_setup_teardown(dump_errors_at_start_and_at_the_end,
						setup, teardown),
		cmocka_unit_test_setup_teardown(inconsistent_dump_is_run_again,
						setup, teardown),
		cmocka_unit_test_setup_teardown(async_answer_during_a_dump_reaches_its_handler,
						setup, teardown),
		cmocka_unit_test_setup_teardown(process_reads_the_answers_that_are_there,
						setup, teardown),
		cmocka_unit_test_setup_teardown(events_are_read_until_none_is_left,
						setup, teardown),
		cmocka_unit_test_setup_teardown(nbd_events_in_one_datagram_are_all_read,
						setup, teardown),
	};

	return cmocka_run_group_tests_name("netlink sockets", tests, NULL, NULL);
}

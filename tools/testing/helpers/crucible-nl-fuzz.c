// SPDX-License-Identifier: GPL-2.0
/*
 * crucible-nl-fuzz: throw generic netlink messages at the "crucible"
 * family (include/crucible/netlink.h).
 *
 *   crucible-nl-fuzz fuzz SEED COUNT DEV
 *       COUNT random requests: random commands (real ones and not), random
 *       flags (request or dump), random attribute sets (real attributes with
 *       right and wrong sizes, unknown ones, random payloads), half of them
 *       naming volume DEV (the encoded dev_t) so that they reach the
 *       handlers.  Prints how the kernel answered, by error.  Exits 0 when
 *       every request got an answer (the kernel must neither crash nor hang:
 *       the harness watches its log).
 *   crucible-nl-fuzz perm
 *       Every command, as a request and as a dump, must be refused with
 *       EPERM, and joining the event group too: run it without
 *       CAP_NET_ADMIN.  Exits 1 if anything was not refused.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netlink/netlink.h>
#include <netlink/genl/genl.h>
#include <netlink/genl/ctrl.h>

#include "../../../include/crucible/netlink.h"

static int fail(const char *what, int err)
{
	fprintf(stderr, "crucible-nl-fuzz: %s: %s\n", what, nl_geterror(err));
	return 2;
}

static int on_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	(void)nla;
	*(int *)arg = e->error;
	return NL_STOP;
}

static int on_ack(struct nl_msg *msg, void *arg)
{
	(void)msg;
	*(int *)arg = 0;
	return NL_STOP;
}

static int on_valid(struct nl_msg *msg, void *arg)
{
	(void)msg;
	(*(long *)arg)++;
	return NL_OK;
}

/* Send @msg and wait for its answer: 0, or a negative errno. */
static int transact(struct nl_sock *sk, struct nl_msg *msg, long *replies)
{
	struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
	int err = 1, r;

	if (!cb)
		return -ENOMEM;
	nl_cb_err(cb, NL_CB_CUSTOM, on_error, &err);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, on_ack, &err);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, on_ack, &err);
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_valid, replies);
	r = nl_send_auto(sk, msg);
	while (r >= 0 && err > 0)
		r = nl_recvmsgs(sk, cb);
	nl_cb_put(cb);
	if (r < 0 && err > 0)
		return r == -NLE_AGAIN ? -ETIMEDOUT : -EIO;
	return err;
}

static struct nl_sock *open_family(int *family)
{
	struct timeval tv = { .tv_sec = 30 };
	struct nl_sock *sk = nl_socket_alloc();
	int r;

	if (!sk) {
		fprintf(stderr, "crucible-nl-fuzz: out of memory\n");
		return NULL;
	}
	r = genl_connect(sk);
	if (r < 0) {
		fail("connect", r);
		nl_socket_free(sk);
		return NULL;
	}
	/* A kernel that never answers shows as a timeout, not a hang. */
	setsockopt(nl_socket_get_fd(sk), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	*family = genl_ctrl_resolve(sk, CRUCIBLE_GENL_NAME);
	if (*family < 0) {
		fail("resolve family " CRUCIBLE_GENL_NAME, *family);
		nl_socket_free(sk);
		return NULL;
	}
	return sk;
}

static unsigned int rnd(unsigned int n)
{
	return (unsigned int)random() % n;
}

/* The right size of each real attribute, 0 for strings and binaries. */
static int attr_size(int type)
{
	switch (type) {
	case CRUCIBLE_ATTR_DEV:
	case CRUCIBLE_ATTR_REPAIR_THROTTLE:
	case CRUCIBLE_ATTR_HYDRATION_THROTTLE:
	case CRUCIBLE_ATTR_REGION_BLOCKS:
	case CRUCIBLE_ATTR_REGION_FLAGS:
		return 4;
	case CRUCIBLE_ATTR_LEG:
	case CRUCIBLE_ATTR_SRC_LEG:
	case CRUCIBLE_ATTR_DST_LEGS:
	case CRUCIBLE_ATTR_LEG_ACTION:
	case CRUCIBLE_ATTR_RECONCILE:
	case CRUCIBLE_ATTR_MODE:
	case CRUCIBLE_ATTR_LEG_STATE:
	case CRUCIBLE_ATTR_REPAIR_STATE:
	case CRUCIBLE_ATTR_RECORD_OK:
		return 1;
	case CRUCIBLE_ATTR_NAME:
	case CRUCIBLE_ATTR_LEG_STATES:
		return 0;
	default:
		return 8;
	}
}

/* A value that is often in range: small numbers, edges, random bits. */
static unsigned long long some_value(void)
{
	static const unsigned long long edges[] = {
		0, 1, 2, 3, 7, 8, 255, 256, 1000000, 1000001, 0xffffffffULL,
		0x100000000ULL, ~0ULL,
	};

	if (rnd(2))
		return edges[rnd(sizeof(edges) / sizeof(edges[0]))];
	return ((unsigned long long)random() << 32) | (unsigned long long)random();
}

static int fuzz(unsigned int seed, long count, unsigned int dev)
{
	long replies = 0, answered = 0, by_err[200] = { 0 }, other = 0;
	struct nl_sock *sk;
	int family, i;
	long n;

	sk = open_family(&family);
	if (!sk)
		return 2;
	srandom(seed);
	for (n = 0; n < count; n++) {
		struct nl_msg *msg = nlmsg_alloc();
		unsigned int nattrs = rnd(7);
		int cmd = rnd(8) ? 1 + (int)rnd(CRUCIBLE_CMD_RECONCILE) : (int)rnd(40);
		/* Mostly the kind the command is (the first three are dumps). */
		int flags = (cmd <= CRUCIBLE_CMD_GET_RECORDS) == (rnd(5) != 0) ?
			    NLM_F_DUMP : 0;
		unsigned char buf[64];
		int r;

		if (!msg)
			return fail("nlmsg_alloc", -NLE_NOMEM);
		if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, flags,
				 cmd, rnd(10) ? CRUCIBLE_GENL_VERSION : rnd(256))) {
			nlmsg_free(msg);
			return fail("genlmsg_put", -NLE_NOMEM);
		}
		if (rnd(2))
			nla_put_u32(msg, CRUCIBLE_ATTR_DEV, rnd(8) ? dev : (unsigned int)some_value());
		for (i = 0; i < (int)nattrs; i++) {
			int type = rnd(10) ? 1 + (int)rnd(CRUCIBLE_ATTR_MAX) : (int)rnd(300);
			int size = attr_size(type);
			unsigned long long v = some_value();

			if (!size || !rnd(6))
				size = rnd(sizeof(buf));
			if (size <= 8) {
				memcpy(buf, &v, sizeof(v));
			} else {
				for (int k = 0; k < size; k++)
					buf[k] = (unsigned char)random();
			}
			if (rnd(20) == 0)
				type |= NLA_F_NESTED;
			nla_put(msg, type, size, buf);
		}
		r = transact(sk, msg, &replies);
		nlmsg_free(msg);
		if (r == -ETIMEDOUT) {
			fprintf(stderr, "crucible-nl-fuzz: request %ld (cmd %d) got no answer\n",
				n, cmd);
			nl_socket_free(sk);
			return 1;
		}
		answered++;
		if (r <= 0 && -r < 200)
			by_err[-r]++;
		else
			other++;
	}
	printf("seed %u: %ld requests answered, %ld reply messages\n", seed,
	       answered, replies);
	for (i = 0; i < 200; i++)
		if (by_err[i])
			printf("  %-28s %ld\n", i ? strerror(i) : "ok", by_err[i]);
	if (other)
		printf("  other                        %ld\n", other);
	nl_socket_free(sk);
	return 0;
}

static int perm(void)
{
	struct nl_sock *sk;
	int family, cmd, grp, bad = 0, flags, r;
	long replies = 0;

	sk = open_family(&family);
	if (!sk)
		return 2;
	for (cmd = CRUCIBLE_CMD_LIST_VOLUMES; cmd <= CRUCIBLE_CMD_RECONCILE; cmd++) {
		for (flags = 0; flags <= NLM_F_DUMP; flags += NLM_F_DUMP) {
			struct nl_msg *msg = nlmsg_alloc();

			if (!msg || !genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0,
						 flags, cmd, CRUCIBLE_GENL_VERSION))
				return fail("message", -NLE_NOMEM);
			r = transact(sk, msg, &replies);
			nlmsg_free(msg);
			printf("command %d%s: %s\n", cmd, flags ? " (dump)" : "",
			       r ? strerror(-r) : "accepted");
			if (r != -EPERM)
				bad++;
		}
	}
	grp = genl_ctrl_resolve_grp(sk, CRUCIBLE_GENL_NAME, CRUCIBLE_GENL_MCGRP);
	if (grp < 0)
		return fail("resolve group", grp);
	r = nl_socket_add_membership(sk, grp);
	printf("join group %s: %s\n", CRUCIBLE_GENL_MCGRP,
	       r ? nl_geterror(r) : "accepted");
	if (r != -NLE_PERM)
		bad++;
	nl_socket_free(sk);
	if (bad)
		printf("%d of them were not refused with EPERM\n", bad);
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "fuzz"))
		return fuzz(strtoul(argv[2], NULL, 0), strtol(argv[3], NULL, 0),
			    strtoul(argv[4], NULL, 0));
	if (argc == 2 && !strcmp(argv[1], "perm"))
		return perm();
	fprintf(stderr, "usage: crucible-nl-fuzz fuzz SEED COUNT DEV | perm\n");
	return 2;
}

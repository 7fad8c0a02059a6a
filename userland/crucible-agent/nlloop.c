// SPDX-License-Identifier: GPL-2.0
/*
 * crucible-agent over the "crucible" netlink family: one poll loop over
 *
 *   the event socket      the "events" multicast group: something happened
 *                         to a volume (leg faulted or back, regions to
 *                         repair, repair progress and done, a mismatch,
 *                         hydration done, volume gone);
 *   the command socket    answers to the REPAIR requests the agent sends
 *                         without waiting (dumps and small requests wait
 *                         for their answer in place);
 *   the signalfd          SIGTERM/SIGINT stop, SIGHUP rebuilds everything;
 *   /dev/mapper/control   when it can be armed: a device-mapper event
 *                         (a volume created, a reconcile message) makes
 *                         the agent list the volumes again;
 *   the NBD event socket  LINK_DEAD of the "nbd" family: a remote leg's
 *                         link died (nbdwatch.c reconnects it).
 *
 * Events only say where to look.  What the agent acts on is always read
 * back from the kernel (LIST_VOLUMES, GET_REGIONS), so a lost event
 * costs latency, never a wrong decision; when the kernel says events
 * were lost (ENOBUFS) the agent re-reads every volume at once.
 *
 * Per volume, the agent plans the repair (lib/plan.c), issues the first
 * request, checks its range when the kernel reports progress, and then
 * plans again from what is left: one request in flight per volume.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/dm.h"
#include "../lib/log.h"
#include "../lib/nl.h"
#include "../lib/plan.h"
#include "agent.h"
#include "nbdwatch.h"

/* While the family is gone (module unloaded), look for it this often. */
#define RECONNECT_SECONDS	5.0

struct nl_agent {
	struct agent *a;
	const struct agent_opts *opts;
	struct cru_nl *cmd;		/* NULL while disconnected */
	struct cru_nl *ev;
	double next_connect;
	struct agent_nl_volume *vols;
	size_t nr, cap;
	bool refresh;			/* LIST_VOLUMES at the next pass */
	double last_list;
	struct agent_nbd nbd;		/* NBD legs kept connected */
};

static struct agent_nl_volume *find_dev(struct nl_agent *n, uint32_t dev)
{
	size_t i;

	for (i = 0; i < n->nr; i++)
		if (n->vols[i].cur.dev == dev)
			return &n->vols[i];
	return NULL;
}

static struct agent_nl_volume *add_volume(struct nl_agent *n)
{
	struct agent_nl_volume *v;

	if (n->nr == n->cap) {
		size_t cap = n->cap ? 2 * n->cap : 8;

		v = realloc(n->vols, cap * sizeof(*v));
		if (!v)
			return NULL;
		n->vols = v;
		n->cap = cap;
	}
	v = &n->vols[n->nr++];
	memset(v, 0, sizeof(*v));
	return v;
}

static const char *name_of(const struct agent_nl_volume *v)
{
	return v ? v->cur.name : "(a volume not listed yet)";
}

/* ---- connection */

static void disconnect_after(struct nl_agent *n, const char *why,
			     double delay)
{
	log_warn("%s: closing the netlink sockets; looking for the '%s' family again in %.0f s",
		 why, CRUCIBLE_GENL_NAME, delay);
	cru_nl_close(n->cmd);
	cru_nl_close(n->ev);
	n->cmd = n->ev = NULL;
	n->nr = 0;
	n->next_connect = agent_now() + delay;
}

static void disconnect(struct nl_agent *n, const char *why)
{
	disconnect_after(n, why, RECONNECT_SECONDS);
}

/* After ENOENT the family id is stale: the module went away. */
static bool family_gone(int ret)
{
	return ret == -ENOENT || ret == -EOPNOTSUPP;
}

static void on_answer(uint32_t seq, const struct cru_nl_ack *ack,
		      const struct nlmsghdr *req, void *arg);

static int connect_family(struct nl_agent *n, struct cru_err *err)
{
	int ret;

	ret = cru_nl_open(&n->cmd, err);
	if (ret)
		return ret;
	ret = cru_nl_open_events(&n->ev, n->opts->event_rcvbuf, err);
	if (ret) {
		cru_nl_close(n->cmd);
		n->cmd = NULL;
		return ret;
	}
	cru_nl_set_ack_handler(n->cmd, on_answer, n);
	n->refresh = true;
	return 0;
}

/* ---- volumes: what LIST_VOLUMES says */

static void log_changes(struct agent_nl_volume *v,
			const struct cru_nl_volume *cur)
{
	struct agent_event ev[AGENT_MAX_EVENTS];
	struct cru_status prev_st, cur_st;
	char line[512];
	size_t k, i;

	agent_nl_status(cur, &cur_st);
	if (v->have)
		agent_nl_status(&v->cur, &prev_st);
	k = agent_diff(v->have ? &prev_st : NULL, &cur_st, ev,
		       AGENT_MAX_EVENTS);
	for (i = 0; i < k; i++) {
		int level = agent_event_str(cur->name, &cur_st, &ev[i], line,
					    sizeof(line));

		log_msg(level, "%s", line);
	}
}

static void log_progress(struct agent_nl_volume *v, double now, bool force)
{
	if (!force && now - v->last_progress_log < AGENT_PROGRESS_LOG)
		return;
	v->last_progress_log = now;
	log_info("%s: repair progress: %llu/%llu regions in sync, %llu blocks repaired",
		 v->cur.name, (unsigned long long)v->cur.in_sync,
		 (unsigned long long)v->cur.nr_regions,
		 (unsigned long long)v->cur.repaired);
}

static int refresh(struct nl_agent *n, double now)
{
	struct cru_nl_volume *list;
	struct cru_err err;
	size_t count, i;
	int ret;

	ret = cru_nl_list_volumes(n->cmd, &list, &count, &err);
	if (ret) {
		if (family_gone(ret))
			disconnect(n, err.msg);
		else
			log_error("%s", err.msg);
		return ret;
	}
	/* A module reloaded between two listings: no event would come. */
	if (cru_nl_subscribed(n->ev, &err) == -ENOENT) {
		free(list);
		disconnect_after(n, err.msg, 1);
		return -ENOENT;
	}
	n->refresh = false;
	n->last_list = now;
	for (i = 0; i < n->nr; i++)
		n->vols[i].seen = false;
	for (i = 0; i < count; i++) {
		struct agent_nl_volume *v = find_dev(n, list[i].dev);

		/*
		 * While a table is being replaced, both may be listed: the
		 * live one comes first.
		 */
		if (v && v->seen)
			continue;
		cru_dm_name_nl_volume(&list[i]);
		/* A device number reused by another volume: a new one. */
		if (v && strcmp(v->cur.name, list[i].name)) {
			log_info("%s: removed", v->cur.name);
			memset(v, 0, sizeof(*v));
		}
		if (!v)
			v = add_volume(n);
		if (!v) {
			log_error("%s: out of memory", list[i].name);
			continue;
		}
		log_changes(v, &list[i]);
		if (agent_nl_observe(v, &list[i], now))
			log_info("%s: repair was stopped by an operator; leaving it paused (cruciblectl reconcile %s start resumes it)",
				 v->cur.name, v->cur.name);
		v->seen = true;
		if (v->rq == AGENT_RQ_RUNNING) {
			v->check = true;
			log_progress(v, now, false);
		}
	}
	free(list);
	for (i = 0; i < n->nr;) {
		if (n->vols[i].seen) {
			i++;
			continue;
		}
		log_info("%s: removed", n->vols[i].cur.name);
		n->vols[i] = n->vols[--n->nr];
	}
	return 0;
}

/* Forget what was concluded from events: re-read and re-plan everything. */
static void rebuild_all(struct nl_agent *n)
{
	size_t i;

	n->refresh = true;
	for (i = 0; i < n->nr; i++) {
		n->vols[i].plan_empty = false;
		n->vols[i].check = true;
	}
}

/* ---- events */

static void on_event(const struct cru_nl_event *ev, const struct cru_err *perr,
		     void *arg)
{
	struct nl_agent *n = arg;
	const char *what = cru_nl_cmd_name(ev->cmd);
	struct agent_nl_volume *v = NULL;
	double now = agent_now();

	if (!what)
		what = "unknown";
	if (ev->have & CRU_NL_HAVE(CRUCIBLE_ATTR_DEV))
		v = find_dev(n, ev->dev);
	if (perr)
		log_warn("%s: malformed %s event: %s", name_of(v), what,
			 perr->msg);
	/* Whatever it was, the volume is worth a look. */
	if (ev->cmd != CRUCIBLE_EVENT_REPAIR_PROGRESS || !v || perr)
		n->refresh = true;
	if (v) {
		v->check = true;
		v->plan_empty = false;
	}
	if (perr)
		return;

	switch (ev->cmd) {
	case CRUCIBLE_EVENT_REPAIR_PROGRESS:
		log_debug("%s: event %s: %llu/%llu regions in sync, %llu blocks repaired",
			  name_of(v), what, (unsigned long long)ev->in_sync,
			  (unsigned long long)ev->nr_regions,
			  (unsigned long long)ev->repaired);
		if (!v)
			break;
		if (v->cur.in_sync != ev->in_sync ||
		    v->cur.repaired != ev->repaired)
			v->last_progress = now;
		v->cur.in_sync = ev->in_sync < v->cur.nr_regions ?
				 ev->in_sync : v->cur.nr_regions;
		v->cur.repaired = ev->repaired;
		log_progress(v, now, false);
		break;
	case CRUCIBLE_EVENT_MISMATCH:
		log_warn("%s: block %llu: leg %u's copy did not match its record (read from another leg; the copy is healed)",
			 name_of(v), (unsigned long long)ev->block, ev->leg);
		break;
	case CRUCIBLE_EVENT_UNRECOVERABLE:
		log_error("%s: block %llu is unrecoverable: no leg holds a copy that matches its record; reads of it fail until it is written again",
			name_of(v), (unsigned long long)ev->block);
		break;
	case CRUCIBLE_EVENT_HYDRATION_DONE:
		log_info("%s: hydration from the parent is complete (%llu blocks)",
			 name_of(v), (unsigned long long)ev->hydration_total);
		break;
	case CRUCIBLE_EVENT_LEG_FAULTED:
		log_debug("%s: event %s: leg %u %s", name_of(v), what, ev->leg,
			  cru_nl_leg_state_name(ev->leg_state));
		break;
	case CRUCIBLE_EVENT_LEG_BACK:
		log_debug("%s: event %s: leg %u", name_of(v), what, ev->leg);
		break;
	case CRUCIBLE_EVENT_VOLUME_GONE:
		/* Still listed at the next refresh: a new table replaced it. */
		log_debug("%s: event %s", name_of(v), what);
		if (v)
			v->reloaded = true;
		break;
	default:
		log_debug("%s: event %s", name_of(v), what);
		break;
	}
}

static void read_events(struct nl_agent *n)
{
	struct cru_err err, lost;
	bool dropped = false;
	int ret;

	/* After ENOBUFS the socket goes on: read what is queued behind it. */
	while (n->ev) {
		ret = cru_nl_read_events(n->ev, on_event, n, &err);
		if (ret == -ENOBUFS) {
			lost = err;
			dropped = true;
			continue;
		}
		/* Anything else would come back at every poll: start afresh. */
		if (ret < 0)
			disconnect(n, err.msg);
		break;
	}
	if (dropped) {
		log_warn("%s: rebuilding the state of every volume from LIST_VOLUMES",
			 lost.msg);
		rebuild_all(n);
	}
}

/* ---- repairs */

static void request_str(const struct agent_nl_volume *v,
			const struct cru_nl_repair *r, char *buf, size_t len)
{
	char regions[64], dst[32];

	cru_regions_str(r->first, r->count, regions, sizeof(regions));
	cru_legs_str(r->dst, dst, sizeof(dst));
	snprintf(buf, len, "%s: repair of %s from leg %u to %s", v->cur.name,
		 regions, r->src, dst);
}

static void on_answer(uint32_t seq, const struct cru_nl_ack *ack,
		      const struct nlmsghdr *req, void *arg)
{
	struct nl_agent *n = arg;
	double now = agent_now();
	char what[CRU_ERR_LEN], sentence[CRU_ERR_LEN + 160];
	size_t i;

	for (i = 0; i < n->nr; i++) {
		struct agent_nl_volume *v = &n->vols[i];

		if (v->rq != AGENT_RQ_SENT || v->req_seq != seq)
			continue;
		request_str(v, &v->req, what, sizeof(what));
		agent_nl_answered(v, ack->error, now);
		if (!ack->error) {
			log_debug("%s: accepted", what);
			return;
		}
		cru_nl_ack_sentence(ack, req, what, sentence, sizeof(sentence));
		log_error("%s refused (retry in %.0f s)", sentence,
			  v->next_attempt - now);
		return;
	}
	log_debug("answer to request %u of a volume no longer watched", seq);
}

static void check_request(struct nl_agent *n, struct agent_nl_volume *v,
			  double now)
{
	struct cru_nl_region *regions;
	char what[CRU_ERR_LEN];
	struct cru_err err;
	size_t nr;
	int ret;

	ret = cru_nl_get_regions(n->cmd, v->cur.dev, v->req.first,
				 v->req.count, &regions, &nr, &err);
	if (ret) {
		if (family_gone(ret))
			disconnect(n, err.msg);
		else
			log_warn("%s: %s", v->cur.name, err.msg);
		return;
	}
	request_str(v, &v->req, what, sizeof(what));
	switch (agent_nl_checked(v, cru_plan_check(&v->req, regions, nr,
						   v->cur.leg_states), now)) {
	case AGENT_CHECK_DONE:
		log_info("%s done", what);
		break;
	case AGENT_CHECK_REPLAN:
		log_warn("%s: leg %u is no longer an in-sync source there; planning again",
			 what, v->req.src);
		break;
	case AGENT_CHECK_STALLED:
		log_warn("%s made no progress in %.0f s and the kernel's repair is %s: issuing it again in %.0f s",
			 what, AGENT_STALL_SECONDS,
			 cru_nl_repair_state_name(v->cur.repair_state),
			 v->next_attempt - now);
		break;
	case AGENT_CHECK_WAIT:
		break;
	}
	free(regions);
}

static void report_plan(struct agent_nl_volume *v, const struct cru_plan *p)
{
	char regions[64], legs[32];
	size_t i;

	if (p->unsourced != v->reported_unsourced) {
		for (i = 0; i < p->nr_no_source; i++) {
			cru_regions_str(p->no_source[i].first,
					p->no_source[i].count, regions,
					sizeof(regions));
			cru_legs_str(p->no_source[i].stale, legs, sizeof(legs));
			log_error("%s: %s: stale on %s and no other leg in service holds them: they cannot be repaired until a leg with an in-sync copy comes back",
				  v->cur.name, regions, legs);
		}
		v->reported_unsourced = p->unsourced;
	}
	if (p->waiting != v->reported_waiting) {
		if (p->waiting)
			log_info("%s: %llu regions are stale only on legs out of service: they are repaired when those legs return",
				 v->cur.name, (unsigned long long)p->waiting);
		v->reported_waiting = p->waiting;
	}
}

static int apply_throttle(struct nl_agent *n, struct agent_nl_volume *v);

/*
 * Regions whose records may lag their data can only be repaired by the
 * kernel's own repair, which rehashes them: REPAIR refuses them.  Start
 * it, as `reconcile start` does.
 */
static void start_kernel_repair(struct nl_agent *n, struct agent_nl_volume *v,
				const struct cru_plan *p, double now)
{
	char what[CRU_ERR_LEN];
	struct cru_err err;
	int ret;

	if (apply_throttle(n, v)) {
		agent_nl_failed(v, now);
		return;
	}
	log_info("%s: %llu regions must be rehashed from their data, which only the kernel's repair does: starting repair (reconcile start%s)",
		 v->cur.name, (unsigned long long)p->rehash,
		 v->attempts ? ", retry" : "");
	snprintf(what, sizeof(what), "%s: reconcile start", v->cur.name);
	ret = cru_nl_request(n->cmd,
			     cru_nl_msg_reconcile(cru_nl_family(n->cmd),
						  v->cur.dev, true),
			     what, &err);
	if (ret) {
		log_error("%s", err.msg);
		agent_nl_failed(v, now);
		return;
	}
	/* It shows as running at the next look; until then, do not plan. */
	v->cur.repair_state = CRUCIBLE_NL_REPAIR_RUNNING;
	n->refresh = true;
}

/* Set the volume's repair throttle to the agent's, if it has one. */
static int apply_throttle(struct nl_agent *n, struct agent_nl_volume *v)
{
	int64_t want = n->opts->repair_throttle;
	char what[CRU_ERR_LEN];
	struct cru_err err;
	int ret;

	if (want < 0 ||
	    ((v->cur.have & CRU_NL_HAVE(CRUCIBLE_ATTR_REPAIR_THROTTLE)) &&
	     v->cur.repair_throttle == want))
		return 0;
	snprintf(what, sizeof(what), "%s: setting the repair throttle",
		 v->cur.name);
	ret = cru_nl_request(n->cmd,
			     cru_nl_msg_set_throttle(cru_nl_family(n->cmd),
						     v->cur.dev, want, -1),
			     what, &err);
	if (ret) {
		log_error("%s", err.msg);
		return ret;
	}
	v->cur.repair_throttle = (uint32_t)want;
	v->cur.have |= CRU_NL_HAVE(CRUCIBLE_ATTR_REPAIR_THROTTLE);
	log_info("%s: repair throttle set to %lld MiB/s%s", v->cur.name,
		 (long long)want, want ? "" : " (unlimited)");
	return 0;
}

static void start_repair(struct nl_agent *n, struct agent_nl_volume *v,
			 double now)
{
	struct cru_nl_region *regions;
	const struct cru_plan_request *r;
	char what[CRU_ERR_LEN], range[64], dst[32], retry[32] = "";
	struct cru_plan plan;
	struct cru_err err;
	uint32_t seq;
	size_t nr;
	int ret;

	ret = cru_nl_get_regions(n->cmd, v->cur.dev, 0, 0, &regions, &nr,
				 &err);
	if (ret) {
		if (family_gone(ret)) {
			disconnect(n, err.msg);
			return;
		}
		log_error("%s: %s", v->cur.name, err.msg);
		agent_nl_failed(v, now);
		return;
	}
	ret = cru_plan_repairs(regions, nr, v->cur.leg_states,
			       v->cur.nr_regions, n->opts->repair_batch, &plan,
			       &err);
	free(regions);
	if (ret) {
		log_error("%s: cannot plan the repair: %s", v->cur.name,
			  err.msg);
		agent_nl_failed(v, now);
		return;
	}
	report_plan(v, &plan);
	if (!plan.nr_requests && plan.rehash) {
		start_kernel_repair(n, v, &plan, now);
		cru_plan_free(&plan);
		return;
	}
	if (!plan.nr_requests) {
		log_debug("%s: nothing the agent can repair now (%llu/%llu regions in sync, %llu being repaired)",
			  v->cur.name, (unsigned long long)v->cur.in_sync,
			  (unsigned long long)v->cur.nr_regions,
			  (unsigned long long)plan.locked);
		agent_nl_plan_empty(v);
		cru_plan_free(&plan);
		return;
	}
	if (apply_throttle(n, v)) {
		agent_nl_failed(v, now);
		cru_plan_free(&plan);
		return;
	}
	r = &plan.requests[0];
	request_str(v, &r->repair, what, sizeof(what));
	cru_regions_str(r->repair.first, r->repair.count, range, sizeof(range));
	cru_legs_str(r->repair.dst, dst, sizeof(dst));
	if (v->attempts)
		snprintf(retry, sizeof(retry), ", retry %u", v->attempts);
	/* "starting repair": the words an operator (and test 070) look for. */
	log_info("%s: starting repair of %s from leg %u to %s (request 1 of %zu, %llu regions to repair%s)",
		 v->cur.name, range, r->repair.src, dst, plan.nr_requests,
		 (unsigned long long)plan.to_repair, retry);
	ret = cru_nl_send_async(n->cmd,
				cru_nl_msg_repair(cru_nl_family(n->cmd),
						  v->cur.dev, &r->repair),
				&seq, &err);
	if (ret) {
		log_error("%s: %s", what, err.msg);
		agent_nl_failed(v, now);
	} else {
		agent_nl_sent(v, &r->repair, seq, now);
	}
	cru_plan_free(&plan);
}

/*
 * Worth listing every AGENT_PROGRESS_POLL seconds: a request of ours is in
 * flight, or the kernel's repair runs and moved lately (one that runs with
 * nothing it can do, stale copies waiting for a leg, is not polled).
 */
static bool repair_running(const struct agent_nl_volume *v, double now)
{
	return v->rq != AGENT_RQ_NONE ||
	       (v->cur.repair_state == CRUCIBLE_NL_REPAIR_RUNNING &&
		now - v->last_progress < AGENT_STALL_SECONDS);
}

/* Everything that is due: reconnect, re-read, check, plan. */
static void pass(struct nl_agent *n)
{
	double now = agent_now();
	struct cru_err err;
	size_t i;

	if (!n->cmd) {
		if (now < n->next_connect)
			return;
		if (connect_family(n, &err)) {
			log_debug("%s", err.msg);
			n->next_connect = now + RECONNECT_SECONDS;
			return;
		}
		log_info("connected to the '%s' netlink family again",
			 CRUCIBLE_GENL_NAME);
	}
	if (n->opts->rescan && now - n->last_list >= n->opts->rescan)
		n->refresh = true;
	for (i = 0; i < n->nr && !n->refresh; i++)
		if (repair_running(&n->vols[i], now) &&
		    now - n->last_list >= AGENT_PROGRESS_POLL)
			n->refresh = true;
	if (n->refresh && refresh(n, now))
		return;
	for (i = 0; i < n->nr && n->cmd; i++) {
		struct agent_nl_volume *v = &n->vols[i];

		if (v->rq == AGENT_RQ_RUNNING && v->check)
			check_request(n, v, now);
		if (!n->cmd)
			break;
		switch (agent_nl_decide(v, n->opts->auto_reconcile, now)) {
		case AGENT_START_REPAIR:
			start_repair(n, v, now);
			break;
		case AGENT_BACKOFF:
		case AGENT_HOLD:
		case AGENT_NONE:
			break;
		}
	}
}

/* Milliseconds until something is due without an event, or -1. */
static int poll_timeout(const struct nl_agent *n, double now)
{
	double next = -1;
	size_t i;

#define SOONER(t) do { if (next < 0 || (t) < next) next = (t); } while (0)
	if (n->refresh)
		return 0;
	if (!n->cmd) {
		SOONER(n->next_connect);
	} else {
		if (n->opts->rescan)
			SOONER(n->last_list + n->opts->rescan);
		for (i = 0; i < n->nr; i++) {
			const struct agent_nl_volume *v = &n->vols[i];

			if (repair_running(v, now))
				SOONER(n->last_list + AGENT_PROGRESS_POLL);
			if (v->attempts && v->rq == AGENT_RQ_NONE)
				SOONER(v->next_attempt);
			if (v->rq == AGENT_RQ_SENT)
				SOONER(v->req_time + AGENT_ACK_TIMEOUT);
		}
	}
	if (agent_nbd_next(&n->nbd) >= 0)
		SOONER(agent_nbd_next(&n->nbd));
#undef SOONER
	if (next < 0)
		return -1;
	if (next <= now)
		return 0;
	return (int)((next - now) * 1000) + 1;
}

int agent_run_netlink(struct agent *a)
{
	struct nl_agent n = { .a = a, .opts = a->opts };
	struct cru_err err;
	int ret;

	ret = connect_family(&n, &err);
	if (ret) {
		log_warn("%s: using device-mapper events and status lines instead",
			 err.msg);
		return AGENT_NO_FAMILY;
	}
	log_info("watching volumes through the '%s' netlink family%s",
		 CRUCIBLE_GENL_NAME,
		 a->dm_fd >= 0 ? " and device-mapper events" : "");
	agent_arm_dm_events(a);
	agent_nbd_init(&n.nbd, a->opts->state_dir);
	ret = 0;
	for (;;) {
		struct pollfd pfd[5];
		int k;

		/* First what is due: it may reconnect (new sockets). */
		pass(&n);
		agent_nbd_pass(&n.nbd, n.vols, n.nr, n.cmd, agent_now());
		pfd[0] = (struct pollfd){ .fd = a->signal_fd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = n.ev ? cru_nl_fd(n.ev) : -1,
					  .events = POLLIN };
		pfd[2] = (struct pollfd){ .fd = n.cmd ? cru_nl_fd(n.cmd) : -1,
					  .events = POLLIN };
		pfd[3] = (struct pollfd){ .fd = a->dm_fd, .events = POLLIN };
		pfd[4] = (struct pollfd){ .fd = agent_nbd_fd(&n.nbd),
					  .events = POLLIN };
		k = poll(pfd, 5, poll_timeout(&n, agent_now()));
		if (k < 0) {
			if (errno == EINTR)
				continue;
			log_error("poll: %s", strerror(errno));
			ret = 1;
			break;
		}
		if (pfd[0].revents & POLLIN) {
			enum agent_signal s = agent_read_signals(a);

			if (s == AGENT_SIGNAL_EXIT)
				break;
			if (s == AGENT_SIGNAL_RESCAN) {
				agent_arm_dm_events(a);
				rebuild_all(&n);
			}
		}
		if (n.ev && pfd[1].revents)
			read_events(&n);
		if (pfd[4].fd >= 0 && pfd[4].revents &&
		    agent_nbd_read_events(&n.nbd, agent_now()))
			n.refresh = true;
		if (n.cmd && pfd[2].revents && cru_nl_process(n.cmd, &err))
			disconnect(&n, err.msg);
		if (a->dm_fd >= 0 && (pfd[3].revents & (POLLERR | POLLHUP))) {
			log_warn("device-mapper event polling failed; going on without it");
			close(a->dm_fd);
			a->dm_fd = -1;
		} else if (a->dm_fd >= 0 && (pfd[3].revents & POLLIN)) {
			/* Re-arm first: an event during the refresh wakes us. */
			log_debug("device-mapper event");
			agent_arm_dm_events(a);
			n.refresh = true;
		}
	}
	agent_nbd_close(&n.nbd);
	cru_nl_close(n.cmd);
	cru_nl_close(n.ev);
	free(n.vols);
	return ret;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * crucible-agent's policy: which status changes it reports, and when it
 * starts a repair.
 */
#include <syslog.h>

#include "test.h"

#include "../crucible-agent/nbdwatch.h"
#include "../crucible-agent/policy.h"

static struct cru_status st(const char *line)
{
	struct cru_status s;
	struct cru_err err;

	if (cru_status_parse(line, &s, &err))
		fail_msg("bad test status '%s': %s", line, err.msg);
	return s;
}

static size_t diff(const char *prev, const char *cur, struct agent_event *ev)
{
	struct cru_status a = st(prev), b = st(cur);

	return agent_diff(&a, &b, ev, AGENT_MAX_EVENTS);
}

#define HEALTHY "1 rw 3 100 AAA 64/64 - idle 10 20 3 0 0 0 0 0"

static void first_sight_is_reported_once(void **state)
{
	struct agent_event ev[AGENT_MAX_EVENTS];
	struct cru_status s = st(HEALTHY);
	char line[256];

	(void)state;
	assert_int_equal(agent_diff(NULL, &s, ev, AGENT_MAX_EVENTS), 1);
	assert_int_equal(ev[0].kind, AGENT_EV_FOUND);
	assert_int_equal(agent_event_str("vol0", &s, &ev[0], line, sizeof(line)),
			 LOG_INFO);
	assert_string_equal(line, "vol0: watching: mode rw, legs AAA, 64/64 regions in sync, repair idle");
	assert_int_equal(diff(HEALTHY, HEALTHY, ev), 0);
}

static void leg_fault_is_reported_with_its_errors(void **state)
{
	struct agent_event ev[AGENT_MAX_EVENTS];
	struct cru_status cur = st("1 rw 3 101 AAF 64/64 - idle 10 21 3 0 0 0 0 2");
	char line[256];
	size_t n;

	(void)state;
	n = agent_diff((struct cru_status[]){ st(HEALTHY) }, &cur, ev,
		       AGENT_MAX_EVENTS);
	assert_int_equal(n, 2);
	assert_int_equal(ev[0].kind, AGENT_EV_LEG_ERRORS);
	assert_int_equal(ev[0].leg, 2);
	assert_int_equal(ev[0].value, 2);
	assert_int_equal(ev[1].kind, AGENT_EV_LEG_FAULTED);
	assert_int_equal(ev[1].leg, 2);
	assert_int_equal(agent_event_str("vol0", &cur, &ev[1], line, sizeof(line)),
			 LOG_WARNING);
	assert_string_equal(line, "vol0: leg 2 faulted (2 I/O errors), legs AAF");
}

static void leg_return_and_resync_are_reported(void **state)
{
	struct agent_event ev[AGENT_MAX_EVENTS];
	struct cru_status cur = st("1 rw 3 101 AAA 64/64 - idle 0 0 0 0 9 0 0 2");
	char line[256];

	(void)state;
	assert_int_equal(diff("1 rw 3 101 AAF 64/64 - idle 0 0 0 0 0 0 0 2",
			      "1 rw 3 101 AAS 60/64 - running 0 0 0 0 0 0 0 2", ev), 2);
	assert_int_equal(ev[0].kind, AGENT_EV_LEG_BACK);
	assert_int_equal(ev[0].leg, 2);
	assert_int_equal(ev[1].kind, AGENT_EV_REPAIR_STARTED);

	assert_int_equal(diff("1 rw 3 101 AAS 60/64 - running 0 0 0 0 0 0 0 2",
			      "1 rw 3 101 AAA 64/64 - idle 0 0 0 0 9 0 0 2", ev), 2);
	assert_int_equal(ev[0].kind, AGENT_EV_LEG_IN_SYNC);
	assert_int_equal(ev[1].kind, AGENT_EV_REPAIR_DONE);
	agent_event_str("vol0", &cur, &ev[1], line, sizeof(line));
	assert_string_equal(line, "vol0: repair done, 64/64 regions in sync, 9 blocks repaired, legs AAA");
}

static void operator_disable_and_stale_legs(void **state)
{
	struct agent_event ev[AGENT_MAX_EVENTS];

	(void)state;
	assert_int_equal(diff(HEALTHY, "1 rw 3 100 DAA 64/64 - idle 10 20 3 0 0 0 0 0", ev), 1);
	assert_int_equal(ev[0].kind, AGENT_EV_LEG_DISABLED);
	assert_int_equal(ev[0].leg, 0);
	assert_int_equal(diff("1 rw 3 100 DAA 64/64 - idle 10 20 3 0 0 0 0 0",
			      "1 rw 3 100 SAA 60/64 - paused 10 20 3 0 0 0 0 0", ev), 2);
	assert_int_equal(ev[0].kind, AGENT_EV_LEG_BACK);
	assert_int_equal(ev[1].kind, AGENT_EV_REPAIR_PAUSED);
	assert_int_equal(diff(HEALTHY, "1 rw 3 100 ASA 63/64 - waiting 10 20 3 0 0 0 0 0", ev), 2);
	assert_int_equal(ev[0].kind, AGENT_EV_LEG_STALE);
	assert_int_equal(ev[0].leg, 1);
	assert_int_equal(ev[1].kind, AGENT_EV_REPAIR_WAITING);
}

static void mode_mismatches_and_hydration(void **state)
{
	struct agent_event ev[AGENT_MAX_EVENTS];
	struct cru_status failed = st("1 failed 3 100 FFF 0/64 - waiting 10 20 3 0 0 1 1 1");
	char line[256];

	(void)state;
	assert_int_equal(diff(HEALTHY, "1 rw 3 100 AAA 64/64 - idle 10 20 3 5 5 0 0 0", ev), 1);
	assert_int_equal(ev[0].kind, AGENT_EV_MISMATCHES);
	assert_int_equal(ev[0].value, 5);

	assert_true(diff(HEALTHY, "1 failed 3 100 FFF 0/64 - waiting 10 20 3 0 0 1 1 1", ev) >= 4);
	assert_int_equal(ev[0].kind, AGENT_EV_MODE);
	assert_int_equal(agent_event_str("v", &failed, &ev[0], line, sizeof(line)), LOG_ERR);
	assert_string_equal(line, "v: mode is now failed");

	assert_int_equal(diff("1 rw 3 100 AAA 64/64 100/200 idle 0 0 0 0 0 0 0 0",
			      "1 rw 3 100 AAA 64/64 200/200 idle 0 0 0 0 0 0 0 0", ev), 1);
	assert_int_equal(ev[0].kind, AGENT_EV_HYDRATION_DONE);
	assert_int_equal(diff("1 rw 3 100 AAA 64/64 200/200 idle 0 0 0 0 0 0 0 0",
			      "1 rw 3 100 AAA 64/64 200/200 idle 0 0 0 0 0 0 0 0", ev), 0);
}

/* A module that says `done` is believed: not before, and only once. */
static void hydration_done_when_the_target_says_so(void **state)
{
	struct agent_event ev[AGENT_MAX_EVENTS];

	(void)state;
	assert_int_equal(diff("1 rw 3 100 AAA 64/64 100/200 idle 0 0 0 0 0 0 0 0 running 0",
			      "1 rw 3 100 AAA 64/64 200/200 idle 0 0 0 0 0 0 0 0 running 0", ev), 0);
	assert_int_equal(diff("1 rw 3 100 AAA 64/64 200/200 idle 0 0 0 0 0 0 0 0 running 0",
			      "1 rw 3 100 AAA 64/64 200/200 idle 0 0 0 0 0 0 0 0 done 0", ev), 1);
	assert_int_equal(ev[0].kind, AGENT_EV_HYDRATION_DONE);
	assert_int_equal(diff("1 rw 3 100 AAA 64/64 200/200 idle 0 0 0 0 0 0 0 0 done 0",
			      "1 rw 3 100 AAA 64/64 200/200 idle 0 0 0 0 0 0 0 0 done 0", ev), 0);
	assert_int_equal(diff("1 rw 3 100 AAA 64/64 50/200 idle 0 0 0 0 0 0 0 0 backoff 1",
			      "1 rw 3 100 AAA 64/64 50/200 idle 0 0 0 0 0 0 0 0 paused 1", ev), 0);
}

static void counter_reset_is_not_an_event(void **state)
{
	struct agent_event ev[AGENT_MAX_EVENTS];

	(void)state;
	assert_int_equal(diff("1 rw 3 100 AAA 64/64 - idle 10 20 3 7 7 1 2 3",
			      "1 rw 3 100 AAA 64/64 - idle 0 0 0 0 0 0 0 0", ev), 0);
}

/* Run agent_decide as the agent does: decide, then remember the status. */
static enum agent_decision decide(struct agent_volume *v, const char *line,
				  bool auto_reconcile, double now)
{
	struct cru_status s = st(line);
	enum agent_decision d = agent_decide(v, &s, auto_reconcile, now);

	v->status = s;
	v->have_status = true;
	return d;
}

#define PAUSED_STALE "1 rw 3 100 AAS 60/64 - paused 0 0 0 0 0 0 0 0"
#define RUNNING "1 rw 3 100 AAS 61/64 - running 0 0 0 0 0 0 0 0"

static void paused_stale_volume_gets_a_repair(void **state)
{
	struct agent_volume v = { .name = "vol0" };

	(void)state;
	assert_int_equal(decide(&v, PAUSED_STALE, true, 100.0), AGENT_START_REPAIR);
	assert_int_equal(v.attempts, 1);
	/* Still paused right after: back off instead of hammering. */
	assert_int_equal(decide(&v, PAUSED_STALE, true, 101.0), AGENT_BACKOFF);
	assert_int_equal(decide(&v, PAUSED_STALE, true, 105.0), AGENT_START_REPAIR);
	assert_int_equal(v.attempts, 2);
	assert_true(v.next_attempt == 115.0);
	/* It runs: the slate is clean again. */
	assert_int_equal(decide(&v, RUNNING, true, 106.0), AGENT_NONE);
	assert_int_equal(v.attempts, 0);
}

static void nothing_to_repair_means_no_repair(void **state)
{
	static const char *const lines[] = {
		HEALTHY,
		"1 rw 3 100 AAA 64/64 - paused 0 0 0 0 0 0 0 0",	/* in sync */
		RUNNING,
		"1 rw 3 100 AFS 60/64 - waiting 0 0 0 0 0 0 0 0",
		"1 fenced 3 100 AAS 60/64 - paused 0 0 0 0 0 0 0 0",
		"1 failed 3 100 FFF 0/64 - paused 0 0 0 0 0 0 0 0",
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(lines); i++) {
		struct agent_volume v = { .name = "v" };

		if (decide(&v, lines[i], true, 0) != AGENT_NONE)
			fail_msg("decided to act on '%s'", lines[i]);
	}
}

static void no_reconcile_policy_only_watches(void **state)
{
	struct agent_volume v = { .name = "v" };

	(void)state;
	assert_int_equal(decide(&v, PAUSED_STALE, false, 0), AGENT_NONE);
	assert_int_equal(decide(&v, PAUSED_STALE, false, 1000), AGENT_NONE);
}

static void operator_stop_is_respected_until_a_leg_returns(void **state)
{
	struct agent_volume v = { .name = "v" };

	(void)state;
	assert_int_equal(decide(&v, RUNNING, true, 0), AGENT_NONE);
	/* running -> paused with no leg returning: someone said stop. */
	assert_int_equal(decide(&v, PAUSED_STALE, true, 1), AGENT_HOLD);
	assert_int_equal(decide(&v, PAUSED_STALE, true, 500), AGENT_NONE);
	/* A leg fails and comes back: its regions need repair anyway. */
	assert_int_equal(decide(&v, "1 rw 3 100 AFS 60/64 - paused 0 0 0 0 0 0 0 0",
				true, 501), AGENT_NONE);
	assert_int_equal(decide(&v, "1 rw 3 100 ASS 40/64 - paused 0 0 0 0 0 0 0 0",
				true, 502), AGENT_START_REPAIR);
}

static void operator_restart_clears_the_hold(void **state)
{
	struct agent_volume v = { .name = "v" };

	(void)state;
	decide(&v, RUNNING, true, 0);
	assert_int_equal(decide(&v, PAUSED_STALE, true, 1), AGENT_HOLD);
	assert_int_equal(decide(&v, RUNNING, true, 2), AGENT_NONE);
	assert_false(v.operator_paused);
	/* Paused again later, first seen paused by a restarted agent. */
	v.have_status = false;
	assert_int_equal(decide(&v, PAUSED_STALE, true, 3), AGENT_START_REPAIR);
}

static void backoff_doubles_up_to_five_minutes(void **state)
{
	(void)state;
	assert_true(agent_backoff(1) == 5.0);
	assert_true(agent_backoff(2) == 10.0);
	assert_true(agent_backoff(3) == 20.0);
	assert_true(agent_backoff(7) == 300.0);
	assert_true(agent_backoff(100) == 300.0);
}

static void nbd_reconnect_backoff_doubles_up_to_thirty_seconds(void **state)
{
	(void)state;
	assert_true(agent_nbd_backoff(0) == 1.0);
	assert_true(agent_nbd_backoff(1) == 1.0);
	assert_true(agent_nbd_backoff(2) == 2.0);
	assert_true(agent_nbd_backoff(5) == 16.0);
	assert_true(agent_nbd_backoff(6) == 30.0);
	assert_true(agent_nbd_backoff(1000) == 30.0);
}

/* ---- with the netlink family: the agent's own requests */

/* A VOLUME message: legs as "AAS", repair state, regions in sync of 64. */
static struct cru_nl_volume nlv(const char *legs, uint8_t repair,
				uint64_t in_sync)
{
	struct cru_nl_volume v;
	int i;

	memset(&v, 0, sizeof(v));
	v.dev = 42;
	strcpy(v.name, "vol0");
	v.mode = CRUCIBLE_NL_MODE_RW;
	v.nr_regions = 64;
	v.in_sync = in_sync;
	v.repair_state = repair;
	for (i = 0; i < 3; i++)
		v.leg_states[i] = legs[i] == 'A' ? CRUCIBLE_NL_LEG_ALIVE :
				  legs[i] == 'S' ? CRUCIBLE_NL_LEG_STALE :
				  legs[i] == 'F' ? CRUCIBLE_NL_LEG_FAILED :
						   CRUCIBLE_NL_LEG_DISABLED;
	return v;
}

#define NL_RUNNING CRUCIBLE_NL_REPAIR_RUNNING
#define NL_PAUSED CRUCIBLE_NL_REPAIR_PAUSED
#define NL_IDLE CRUCIBLE_NL_REPAIR_IDLE
#define NL_WAITING CRUCIBLE_NL_REPAIR_WAITING

static const struct cru_nl_repair req = { .first = 3, .count = 2, .src = 0,
					  .dst = 0x4 };

static void observe(struct agent_nl_volume *v, struct cru_nl_volume cur,
		    double now, bool want_stop)
{
	assert_int_equal(agent_nl_observe(v, &cur, now), want_stop);
}

static void netlink_changes_are_described_like_status_changes(void **state)
{
	struct agent_event ev[AGENT_MAX_EVENTS];
	struct cru_nl_volume a = nlv("AAA", NL_IDLE, 64), b = nlv("AAF", NL_IDLE, 64);
	struct cru_status sa, sb;
	char line[256];

	(void)state;
	agent_nl_status(&a, &sa);
	agent_nl_status(&b, &sb);
	assert_int_equal(agent_diff(&sa, &sb, ev, AGENT_MAX_EVENTS), 1);
	assert_int_equal(ev[0].kind, AGENT_EV_LEG_FAULTED);
	agent_event_str("vol0", &sb, &ev[0], line, sizeof(line));
	assert_string_equal(line, "vol0: leg 2 faulted, legs AAF");

	b = nlv("AAD", NL_IDLE, 64);
	agent_nl_status(&b, &sb);
	assert_int_equal(agent_diff(&sa, &sb, ev, AGENT_MAX_EVENTS), 1);
	agent_event_str("vol0", &sb, &ev[0], line, sizeof(line));
	assert_string_equal(line, "vol0: leg 2 disabled by the operator, legs AAD");

	a = nlv("AAS", NL_PAUSED, 60);
	b = nlv("AAA", NL_IDLE, 64);
	b.repaired = 512;
	agent_nl_status(&a, &sa);
	agent_nl_status(&b, &sb);
	assert_int_equal(agent_diff(&sa, &sb, ev, AGENT_MAX_EVENTS), 2);
	agent_event_str("vol0", &sb, &ev[1], line, sizeof(line));
	assert_string_equal(line, "vol0: repair done, 64/64 regions in sync, 512 blocks repaired, legs AAA");
	/* An unknown mode is not rw. */
	b.mode = 9;
	agent_nl_status(&b, &sb);
	assert_int_equal(sb.mode, CRU_MODE_FAILED);
}

/* Repair manual, a leg back: the agent plans, issues, sees it through. */
static void agent_repairs_a_paused_volume_one_request_at_a_time(void **state)
{
	struct agent_nl_volume v = { 0 };

	(void)state;
	observe(&v, nlv("AAS", NL_PAUSED, 60), 0, false);
	assert_int_equal(agent_nl_decide(&v, true, 0), AGENT_START_REPAIR);
	agent_nl_sent(&v, &req, 7, 0);
	assert_int_equal(agent_nl_decide(&v, true, 1), AGENT_NONE);
	agent_nl_answered(&v, 0, 1);
	assert_int_equal(v.rq, AGENT_RQ_RUNNING);
	observe(&v, nlv("AAS", NL_RUNNING, 61), 2, false);
	assert_int_equal(agent_nl_checked(&v, CRU_REQUEST_PENDING, 3),
			 AGENT_CHECK_WAIT);
	assert_int_equal(agent_nl_checked(&v, CRU_REQUEST_DONE, 4),
			 AGENT_CHECK_DONE);
	/* The kernel's repair runs on over the rest: no second request. */
	assert_int_equal(agent_nl_decide(&v, true, 4), AGENT_NONE);
	observe(&v, nlv("AAA", NL_IDLE, 64), 5, false);
	assert_int_equal(agent_nl_decide(&v, true, 5), AGENT_NONE);
	assert_false(v.operator_paused);
}

/* The kernel's own background repair runs: the agent only watches. */
static void kernel_repair_running_is_left_alone(void **state)
{
	struct agent_nl_volume v = { 0 };

	(void)state;
	observe(&v, nlv("AAS", NL_RUNNING, 60), 0, false);
	assert_int_equal(agent_nl_decide(&v, true, 0), AGENT_NONE);
	observe(&v, nlv("AAS", NL_WAITING, 60), 1, false);
	assert_int_equal(agent_nl_decide(&v, true, 1), AGENT_NONE);
	observe(&v, nlv("AAA", NL_IDLE, 64), 2, false);
	assert_int_equal(agent_nl_decide(&v, true, 2), AGENT_NONE);
	observe(&v, nlv("AAS", NL_PAUSED, 60), 3, false);
	assert_int_equal(agent_nl_decide(&v, false, 3), AGENT_NONE);
	v.cur.mode = CRUCIBLE_NL_MODE_FENCED;
	assert_int_equal(agent_nl_decide(&v, true, 3), AGENT_NONE);
}

static void operator_stop_holds_the_volume(void **state)
{
	struct agent_nl_volume v = { 0 };

	(void)state;
	observe(&v, nlv("AAS", NL_RUNNING, 60), 0, false);
	observe(&v, nlv("AAS", NL_PAUSED, 61), 1, true);
	assert_true(v.operator_paused);
	assert_int_equal(agent_nl_decide(&v, true, 1), AGENT_NONE);
	/* Reported once. */
	observe(&v, nlv("AAS", NL_PAUSED, 61), 2, false);
	assert_int_equal(agent_nl_decide(&v, true, 2), AGENT_NONE);
	/* A leg coming back lifts the hold. */
	observe(&v, nlv("AAD", NL_PAUSED, 61), 3, false);
	observe(&v, nlv("AAS", NL_PAUSED, 60), 4, false);
	assert_false(v.operator_paused);
	assert_int_equal(agent_nl_decide(&v, true, 4), AGENT_START_REPAIR);
}

static void operator_stop_during_our_request(void **state)
{
	struct agent_nl_volume v = { 0 };

	(void)state;
	observe(&v, nlv("AAS", NL_PAUSED, 60), 0, false);
	agent_nl_sent(&v, &req, 7, 0);
	agent_nl_answered(&v, 0, 0);
	observe(&v, nlv("AAS", NL_RUNNING, 60), 1, false);
	observe(&v, nlv("AAS", NL_PAUSED, 60), 2, true);
	assert_true(v.operator_paused);
	assert_int_equal(v.rq, AGENT_RQ_NONE);
	assert_int_equal(agent_nl_decide(&v, true, 3), AGENT_NONE);
	/* `reconcile start`: it runs again, the hold is gone. */
	observe(&v, nlv("AAS", NL_RUNNING, 60), 4, false);
	assert_false(v.operator_paused);
}

/* A pause that comes with newly stale regions, or with a new table, is
 * not an operator's stop: the repair is needed. */
static void pause_with_new_stale_regions_or_a_reload_is_not_a_stop(void **state)
{
	struct agent_nl_volume v = { 0 };

	(void)state;
	observe(&v, nlv("AAS", NL_RUNNING, 60), 0, false);
	observe(&v, nlv("AAS", NL_PAUSED, 50), 1, false);
	assert_int_equal(agent_nl_decide(&v, true, 1), AGENT_START_REPAIR);

	observe(&v, nlv("AAS", NL_RUNNING, 60), 2, false);
	v.reloaded = true;	/* VOLUME_GONE of the old table */
	observe(&v, nlv("AAS", NL_PAUSED, 60), 3, false);
	assert_false(v.operator_paused);
	assert_false(v.reloaded);
	assert_int_equal(agent_nl_decide(&v, true, 3), AGENT_START_REPAIR);
}

static void refused_request_backs_off(void **state)
{
	struct agent_nl_volume v = { 0 };

	(void)state;
	observe(&v, nlv("SAA", NL_PAUSED, 60), 0, false);
	agent_nl_sent(&v, &req, 7, 0);
	agent_nl_answered(&v, -EINVAL, 0);
	assert_int_equal(v.rq, AGENT_RQ_NONE);
	assert_int_equal(v.attempts, 1);
	assert_int_equal(agent_nl_decide(&v, true, 4.9), AGENT_BACKOFF);
	assert_int_equal(agent_nl_decide(&v, true, 5), AGENT_START_REPAIR);
	agent_nl_failed(&v, 5);
	assert_int_equal(agent_nl_decide(&v, true, 14.9), AGENT_BACKOFF);
	assert_int_equal(agent_nl_decide(&v, true, 15), AGENT_START_REPAIR);
	/* An answer for a request no longer in flight changes nothing. */
	agent_nl_answered(&v, 0, 16);
	assert_int_equal(v.rq, AGENT_RQ_NONE);
}

static void unanswered_request_expires(void **state)
{
	struct agent_nl_volume v = { 0 };

	(void)state;
	observe(&v, nlv("AAS", NL_PAUSED, 60), 0, false);
	agent_nl_sent(&v, &req, 7, 0);
	assert_int_equal(agent_nl_decide(&v, true, AGENT_ACK_TIMEOUT - 1),
			 AGENT_NONE);
	assert_int_equal(agent_nl_decide(&v, true, AGENT_ACK_TIMEOUT),
			 AGENT_BACKOFF);
	assert_int_equal(v.rq, AGENT_RQ_NONE);
}

static void stalled_request_is_issued_again(void **state)
{
	struct agent_nl_volume v = { 0 };
	double t = AGENT_STALL_SECONDS;

	(void)state;
	observe(&v, nlv("AAS", NL_PAUSED, 60), 0, false);
	agent_nl_sent(&v, &req, 7, 0);
	agent_nl_answered(&v, 0, 0);
	/* Progress keeps it alive... */
	observe(&v, nlv("AAS", NL_PAUSED, 61), t - 1, false);
	assert_int_equal(agent_nl_checked(&v, CRU_REQUEST_PENDING, t),
			 AGENT_CHECK_WAIT);
	/* ...the kernel saying it runs does too... */
	observe(&v, nlv("AAS", NL_RUNNING, 61), 2 * t, false);
	assert_int_equal(agent_nl_checked(&v, CRU_REQUEST_PENDING, 2 * t),
			 AGENT_CHECK_WAIT);
	/* ...but no progress for a while with the kernel idle is a stall. */
	observe(&v, nlv("AAS", NL_IDLE, 61), 2 * t + 1, false);
	assert_int_equal(agent_nl_checked(&v, CRU_REQUEST_PENDING, 2 * t + 1),
			 AGENT_CHECK_STALLED);
	assert_int_equal(v.attempts, 1);
	assert_int_equal(agent_nl_decide(&v, true, 2 * t + 1), AGENT_BACKOFF);
}

static void source_lost_plans_again_at_once(void **state)
{
	struct agent_nl_volume v = { 0 };

	(void)state;
	observe(&v, nlv("AAS", NL_PAUSED, 60), 0, false);
	agent_nl_sent(&v, &req, 7, 0);
	agent_nl_answered(&v, 0, 0);
	observe(&v, nlv("FAS", NL_PAUSED, 60), 1, false);
	assert_int_equal(agent_nl_checked(&v, CRU_REQUEST_NO_SOURCE, 1),
			 AGENT_CHECK_REPLAN);
	assert_int_equal(agent_nl_decide(&v, true, 1), AGENT_START_REPAIR);
}

/* Nothing to issue (stale only on a leg out of service): no re-planning
 * until the state changes. */
static void empty_plan_is_not_redone_for_the_same_state(void **state)
{
	struct agent_nl_volume v = { 0 };

	(void)state;
	observe(&v, nlv("AAF", NL_PAUSED, 60), 0, false);
	assert_int_equal(agent_nl_decide(&v, true, 0), AGENT_START_REPAIR);
	agent_nl_plan_empty(&v);
	assert_int_equal(agent_nl_decide(&v, true, 1), AGENT_NONE);
	observe(&v, nlv("AAF", NL_PAUSED, 59), 2, false);
	assert_int_equal(agent_nl_decide(&v, true, 2), AGENT_START_REPAIR);
	agent_nl_plan_empty(&v);
	observe(&v, nlv("AAS", NL_PAUSED, 59), 3, false);
	assert_int_equal(agent_nl_decide(&v, true, 3), AGENT_START_REPAIR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(first_sight_is_reported_once),
		cmocka_unit_test(leg_fault_is_reported_with_its_errors),
		cmocka_unit_test(leg_return_and_resync_are_reported),
		cmocka_unit_test(operator_disable_and_stale_legs),
		cmocka_unit_test(mode_mismatches_and_hydration),
		cmocka_unit_test(hydration_done_when_the_target_says_so),
		cmocka_unit_test(counter_reset_is_not_an_event),
		cmocka_unit_test(paused_stale_volume_gets_a_repair),
		cmocka_unit_test(nothing_to_repair_means_no_repair),
		cmocka_unit_test(no_reconcile_policy_only_watches),
		cmocka_unit_test(operator_stop_is_respected_until_a_leg_returns),
		cmocka_unit_test(operator_restart_clears_the_hold),
		cmocka_unit_test(backoff_doubles_up_to_five_minutes),
		cmocka_unit_test(netlink_changes_are_described_like_status_changes),
		cmocka_unit_test(agent_repairs_a_paused_volume_one_request_at_a_time),
		cmocka_unit_test(kernel_repair_running_is_left_alone),
		cmocka_unit_test(operator_stop_holds_the_volume),
		cmocka_unit_test(operator_stop_during_our_request),
		cmocka_unit_test(pause_with_new_stale_regions_or_a_reload_is_not_a_stop),
		cmocka_unit_test(refused_request_backs_off),
		cmocka_unit_test(unanswered_request_expires),
		cmocka_unit_test(stalled_request_is_issued_again),
		cmocka_unit_test(source_lost_plans_again_at_once),
		cmocka_unit_test(empty_plan_is_not_redone_for_the_same_state),
		cmocka_unit_test(nbd_reconnect_backoff_doubles_up_to_thirty_seconds),
	};

	return cmocka_run_group_tests_name("crucible-agent policy", tests, NULL, NULL);
}

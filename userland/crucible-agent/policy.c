// SPDX-License-Identifier: GPL-2.0
/*
 * crucible-agent's policy: events from status changes, repair decisions.
 */
#include "policy.h"

#include <stdio.h>
#include <string.h>
#include <syslog.h>

static bool leg_alive(enum cru_leg_state s)
{
	return s == CRU_LEG_ALIVE || s == CRU_LEG_STALE;
}

static bool leg_out(enum cru_leg_state s)
{
	return s == CRU_LEG_FAULTED || s == CRU_LEG_DISABLED;
}

struct ev_list {
	struct agent_event *ev;
	size_t n;
	size_t max;
};

static void add(struct ev_list *l, enum agent_event_kind kind, int leg,
		uint64_t value)
{
	if (l->n == l->max)
		return;
	l->ev[l->n].kind = kind;
	l->ev[l->n].leg = leg;
	l->ev[l->n].value = value;
	l->n++;
}

static void diff_legs(const struct cru_status *prev,
		      const struct cru_status *cur, struct ev_list *l)
{
	int i;

	for (i = 0; i < CRU_NR_LEGS; i++) {
		enum cru_leg_state a = prev->legs[i], b = cur->legs[i];

		if (cur->leg_errors[i] > prev->leg_errors[i])
			add(l, AGENT_EV_LEG_ERRORS, i,
			    cur->leg_errors[i] - prev->leg_errors[i]);
		if (a == b)
			continue;
		if (b == CRU_LEG_FAULTED)
			add(l, AGENT_EV_LEG_FAULTED, i, 0);
		else if (b == CRU_LEG_DISABLED)
			add(l, AGENT_EV_LEG_DISABLED, i, 0);
		else if (leg_out(a) && leg_alive(b))
			add(l, AGENT_EV_LEG_BACK, i, 0);
		else if (a == CRU_LEG_ALIVE && b == CRU_LEG_STALE)
			add(l, AGENT_EV_LEG_STALE, i, 0);
		else if (a == CRU_LEG_STALE && b == CRU_LEG_ALIVE)
			add(l, AGENT_EV_LEG_IN_SYNC, i, 0);
	}
}

static void diff_repair(const struct cru_status *prev,
			const struct cru_status *cur, struct ev_list *l)
{
	enum cru_repair_state a = prev->repair_state, b = cur->repair_state;

	if (a == b)
		return;
	if (b == CRU_REPAIR_RUNNING)
		add(l, AGENT_EV_REPAIR_STARTED, -1, 0);
	else if (b == CRU_REPAIR_IDLE)
		add(l, AGENT_EV_REPAIR_DONE, -1, 0);
	else if (b == CRU_REPAIR_PAUSED)
		add(l, AGENT_EV_REPAIR_PAUSED, -1, 0);
	else if (b == CRU_REPAIR_WAITING)
		add(l, AGENT_EV_REPAIR_WAITING, -1, 0);
}

size_t agent_diff(const struct cru_status *prev, const struct cru_status *cur,
		  struct agent_event *ev, size_t max)
{
	struct ev_list l = { .ev = ev, .max = max };

	if (!prev) {
		add(&l, AGENT_EV_FOUND, -1, 0);
		return l.n;
	}
	if (prev->mode != cur->mode)
		add(&l, AGENT_EV_MODE, -1, cur->mode);
	diff_legs(prev, cur, &l);
	/* Counters only grow, except after reset_counters: ignore drops. */
	if (cur->mismatches > prev->mismatches)
		add(&l, AGENT_EV_MISMATCHES, -1,
		    cur->mismatches - prev->mismatches);
	diff_repair(prev, cur, &l);
	if (cru_status_hydration_done(cur) && !cru_status_hydration_done(prev))
		add(&l, AGENT_EV_HYDRATION_DONE, -1, 0);
	return l.n;
}

static void legs_str(const struct cru_status *st, char out[CRU_NR_LEGS + 1])
{
	int i;

	for (i = 0; i < CRU_NR_LEGS; i++)
		out[i] = (char)st->legs[i];
	out[CRU_NR_LEGS] = '\0';
}

int agent_event_str(const char *name, const struct cru_status *cur,
		    const struct agent_event *ev, char *buf, size_t len)
{
	unsigned long long in_sync = cur->in_sync_regions;
	unsigned long long nr = cur->nr_regions;
	unsigned long long value = ev->value;
	char legs[CRU_NR_LEGS + 1];

	legs_str(cur, legs);
	switch (ev->kind) {
	case AGENT_EV_FOUND:
		snprintf(buf, len,
			 "%s: watching: mode %s, legs %s, %llu/%llu regions in sync, repair %s",
			 name, cru_mode_name(cur->mode), legs, in_sync, nr,
			 cru_repair_state_name(cur->repair_state));
		return LOG_INFO;
	case AGENT_EV_MODE:
		snprintf(buf, len, "%s: mode is now %s", name,
			 cru_mode_name(cur->mode));
		return cur->mode == CRU_MODE_FAILED ? LOG_ERR :
		       cur->mode == CRU_MODE_FENCED ? LOG_WARNING : LOG_INFO;
	case AGENT_EV_LEG_FAULTED:
		/* Netlink volumes carry no error counters. */
		if (!cur->leg_errors[ev->leg])
			snprintf(buf, len, "%s: leg %d faulted, legs %s", name,
				 ev->leg, legs);
		else
			snprintf(buf, len,
				 "%s: leg %d faulted (%llu I/O errors), legs %s",
				 name, ev->leg,
				 (unsigned long long)cur->leg_errors[ev->leg],
				 legs);
		return LOG_WARNING;
	case AGENT_EV_LEG_DISABLED:
		snprintf(buf, len, "%s: leg %d disabled by the operator, legs %s",
			 name, ev->leg, legs);
		return LOG_WARNING;
	case AGENT_EV_LEG_BACK:
		snprintf(buf, len, "%s: leg %d is back (%s), legs %s", name,
			 ev->leg, cru_leg_state_name(cur->legs[ev->leg]), legs);
		return LOG_INFO;
	case AGENT_EV_LEG_STALE:
		snprintf(buf, len, "%s: leg %d is stale in some regions, legs %s",
			 name, ev->leg, legs);
		return LOG_INFO;
	case AGENT_EV_LEG_IN_SYNC:
		snprintf(buf, len, "%s: leg %d is in sync, legs %s", name,
			 ev->leg, legs);
		return LOG_INFO;
	case AGENT_EV_LEG_ERRORS:
		snprintf(buf, len, "%s: leg %d: %llu new I/O errors", name,
			 ev->leg, value);
		return LOG_WARNING;
	case AGENT_EV_MISMATCHES:
		snprintf(buf, len,
			 "%s: %llu new integrity mismatches (blocks healed from another leg)",
			 name, value);
		return LOG_WARNING;
	case AGENT_EV_REPAIR_STARTED:
		snprintf(buf, len, "%s: repair running, %llu/%llu regions in sync",
			 name, in_sync, nr);
		return LOG_INFO;
	case AGENT_EV_REPAIR_DONE:
		snprintf(buf, len,
			 "%s: repair done, %llu/%llu regions in sync, %llu blocks repaired, legs %s",
			 name, in_sync, nr,
			 (unsigned long long)cur->repaired_blocks, legs);
		return LOG_INFO;
	case AGENT_EV_REPAIR_PAUSED:
		snprintf(buf, len, "%s: repair paused, %llu/%llu regions in sync",
			 name, in_sync, nr);
		return LOG_INFO;
	case AGENT_EV_REPAIR_WAITING:
		snprintf(buf, len,
			 "%s: repair waiting (cannot run now), %llu/%llu regions in sync",
			 name, in_sync, nr);
		return LOG_INFO;
	case AGENT_EV_HYDRATION_DONE:
		snprintf(buf, len, "%s: hydration from the parent is complete",
			 name);
		return LOG_INFO;
	}
	snprintf(buf, len, "%s: unknown event %d", name, ev->kind);
	return LOG_DEBUG;
}

double agent_backoff(unsigned int attempts)
{
	double d = AGENT_BACKOFF_FIRST;

	while (attempts-- > 1 && d < AGENT_BACKOFF_MAX)
		d *= 2;
	return d < AGENT_BACKOFF_MAX ? d : AGENT_BACKOFF_MAX;
}

static bool a_leg_came_back(const struct cru_status *prev,
			    const struct cru_status *cur)
{
	int i;

	for (i = 0; i < CRU_NR_LEGS; i++)
		if (leg_out(prev->legs[i]) && leg_alive(cur->legs[i]))
			return true;
	return false;
}

enum agent_decision agent_decide(struct agent_volume *v,
				 const struct cru_status *cur,
				 bool auto_reconcile, double now)
{
	const struct cru_status *prev = v->have_status ? &v->status : NULL;
	bool just_paused = false;

	if (prev && a_leg_came_back(prev, cur))
		v->operator_paused = false;
	else if (prev && prev->repair_state == CRU_REPAIR_RUNNING &&
		 cur->repair_state == CRU_REPAIR_PAUSED)
		just_paused = v->operator_paused = true;

	if (cur->repair_state != CRU_REPAIR_PAUSED) {
		/* Running, idle or waiting: the target has it in hand. */
		v->operator_paused = false;
		goto no_repair;
	}
	if (cur->mode != CRU_MODE_RW || !cru_status_stale_regions(cur) ||
	    !auto_reconcile)
		goto no_repair;
	if (v->operator_paused) {
		v->attempts = 0;
		v->next_attempt = 0;
		return just_paused ? AGENT_HOLD : AGENT_NONE;
	}
	if (v->attempts && now < v->next_attempt)
		return AGENT_BACKOFF;
	v->attempts++;
	v->next_attempt = now + agent_backoff(v->attempts);
	return AGENT_START_REPAIR;

no_repair:
	/* Whatever happens next starts from a clean slate. */
	v->attempts = 0;
	v->next_attempt = 0;
	return AGENT_NONE;
}

void agent_nl_status(const struct cru_nl_volume *v, struct cru_status *st)
{
	static const enum cru_leg_state legs[] = {
		[CRUCIBLE_NL_LEG_ALIVE] = CRU_LEG_ALIVE,
		[CRUCIBLE_NL_LEG_STALE] = CRU_LEG_STALE,
		[CRUCIBLE_NL_LEG_FAILED] = CRU_LEG_FAULTED,
		[CRUCIBLE_NL_LEG_DISABLED] = CRU_LEG_DISABLED,
	};
	int i;

	memset(st, 0, sizeof(*st));
	st->version = CRU_STATUS_VERSION;
	/* An unknown mode is not rw: nothing is repaired in it. */
	st->mode = v->mode == CRUCIBLE_NL_MODE_RW ? CRU_MODE_RW :
		   v->mode == CRUCIBLE_NL_MODE_FENCED ? CRU_MODE_FENCED :
		   CRU_MODE_FAILED;
	st->generation = v->generation;
	st->flush = v->flush;
	for (i = 0; i < CRU_NR_LEGS; i++)
		st->legs[i] = v->leg_states[i] <= CRUCIBLE_NL_LEG_DISABLED ?
			      legs[v->leg_states[i]] : CRU_LEG_FAULTED;
	st->in_sync_regions = v->in_sync;
	st->nr_regions = v->nr_regions;
	switch (v->repair_state) {
	case CRUCIBLE_NL_REPAIR_RUNNING:
		st->repair_state = CRU_REPAIR_RUNNING;
		break;
	case CRUCIBLE_NL_REPAIR_PAUSED:
		st->repair_state = CRU_REPAIR_PAUSED;
		break;
	case CRUCIBLE_NL_REPAIR_WAITING:
		st->repair_state = CRU_REPAIR_WAITING;
		break;
	default:
		st->repair_state = CRU_REPAIR_IDLE;
		break;
	}
	st->repaired_blocks = v->repaired;
	st->hydration_state = CRU_HYDRATION_NONE;
}

static bool nl_leg_came_back(const struct cru_nl_volume *prev,
			     const struct cru_nl_volume *cur)
{
	int i;

	for (i = 0; i < CRU_NR_LEGS; i++)
		if (!cru_nl_leg_in_service(prev->leg_states[i]) &&
		    cru_nl_leg_in_service(cur->leg_states[i]))
			return true;
	return false;
}

bool agent_nl_observe(struct agent_nl_volume *v,
		      const struct cru_nl_volume *cur, double now)
{
	const struct cru_nl_volume *prev = v->have ? &v->cur : NULL;
	bool operator_stop = false;

	if (prev) {
		if (nl_leg_came_back(prev, cur))
			v->operator_paused = false;
		if (prev->in_sync != cur->in_sync ||
		    prev->repaired != cur->repaired)
			v->last_progress = now;
		if (prev->repair_state == CRUCIBLE_NL_REPAIR_RUNNING &&
		    cur->repair_state == CRUCIBLE_NL_REPAIR_PAUSED &&
		    cur->in_sync < cur->nr_regions &&
		    cur->in_sync >= prev->in_sync && !v->reloaded &&
		    !v->operator_paused) {
			operator_stop = v->operator_paused = true;
			v->rq = AGENT_RQ_NONE;
		}
	} else {
		v->last_progress = now;		/* first sight */
	}
	if (cur->repair_state != CRUCIBLE_NL_REPAIR_PAUSED)
		v->operator_paused = false;	/* it runs again, or is done */
	v->reloaded = false;
	v->cur = *cur;
	v->have = true;
	return operator_stop;
}

static void backoff(struct agent_nl_volume *v, double now)
{
	v->attempts++;
	v->next_attempt = now + agent_backoff(v->attempts);
}

enum agent_decision agent_nl_decide(struct agent_nl_volume *v,
				    bool auto_reconcile, double now)
{
	const struct cru_nl_volume *c = &v->cur;

	if (v->rq == AGENT_RQ_SENT && now - v->req_time >= AGENT_ACK_TIMEOUT) {
		v->rq = AGENT_RQ_NONE;
		backoff(v, now);
	}
	if (!v->have || !auto_reconcile)
		return AGENT_NONE;
	if (c->mode != CRUCIBLE_NL_MODE_RW || c->in_sync >= c->nr_regions ||
	    v->operator_paused) {
		v->attempts = 0;
		v->next_attempt = 0;
		return AGENT_NONE;
	}
	if (v->rq != AGENT_RQ_NONE)
		return AGENT_NONE;
	/* Running or waiting: the kernel's own repair has it in hand. */
	if (c->repair_state == CRUCIBLE_NL_REPAIR_RUNNING ||
	    c->repair_state == CRUCIBLE_NL_REPAIR_WAITING)
		return AGENT_NONE;
	if (v->plan_empty && v->plan_in_sync == c->in_sync &&
	    !memcmp(v->plan_legs, c->leg_states, CRU_NR_LEGS))
		return AGENT_NONE;
	if (v->attempts && now < v->next_attempt)
		return AGENT_BACKOFF;
	return AGENT_START_REPAIR;
}

void agent_nl_plan_empty(struct agent_nl_volume *v)
{
	v->plan_empty = true;
	v->plan_in_sync = v->cur.in_sync;
	memcpy(v->plan_legs, v->cur.leg_states, CRU_NR_LEGS);
}

void agent_nl_sent(struct agent_nl_volume *v, const struct cru_nl_repair *r,
		   uint32_t seq, double now)
{
	v->rq = AGENT_RQ_SENT;
	v->req = *r;
	v->req_seq = seq;
	v->req_time = now;
	v->plan_empty = false;
}

void agent_nl_answered(struct agent_nl_volume *v, int error, double now)
{
	if (v->rq != AGENT_RQ_SENT)
		return;
	if (error) {
		v->rq = AGENT_RQ_NONE;
		backoff(v, now);
		return;
	}
	v->rq = AGENT_RQ_RUNNING;
	v->req_time = now;
	v->last_progress = now;
	v->check = true;
}

void agent_nl_failed(struct agent_nl_volume *v, double now)
{
	v->rq = AGENT_RQ_NONE;
	backoff(v, now);
}

enum agent_check agent_nl_checked(struct agent_nl_volume *v,
				  enum cru_request_state st, double now)
{
	v->check = false;
	if (v->rq != AGENT_RQ_RUNNING)
		return AGENT_CHECK_WAIT;
	switch (st) {
	case CRU_REQUEST_DONE:
		v->rq = AGENT_RQ_NONE;
		v->attempts = 0;
		v->next_attempt = 0;
		return AGENT_CHECK_DONE;
	case CRU_REQUEST_NO_SOURCE:
		v->rq = AGENT_RQ_NONE;
		return AGENT_CHECK_REPLAN;
	case CRU_REQUEST_PENDING:
		break;
	}
	if (now - v->last_progress >= AGENT_STALL_SECONDS &&
	    v->cur.repair_state != CRUCIBLE_NL_REPAIR_RUNNING) {
		v->rq = AGENT_RQ_NONE;
		backoff(v, now);
		return AGENT_CHECK_STALLED;
	}
	return AGENT_CHECK_WAIT;
}

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What crucible-agent makes of a volume's status: the state changes worth
 * a log line, and whether to start a repair.  Pure functions of the old
 * and new status, so they are tested on literal status lines.
 */
#ifndef AGENT_POLICY_H
#define AGENT_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/nl.h"
#include "../lib/plan.h"
#include "../lib/spec.h"
#include "../lib/status.h"

/* Retry a refused or ignored `reconcile start` after 5 s, 10 s, ... 5 min. */
#define AGENT_BACKOFF_FIRST	5.0
#define AGENT_BACKOFF_MAX	300.0

enum agent_event_kind {
	AGENT_EV_FOUND,		/* first sight of the volume */
	AGENT_EV_MODE,		/* mode changed (value: new enum cru_mode) */
	AGENT_EV_LEG_FAULTED,
	AGENT_EV_LEG_DISABLED,
	AGENT_EV_LEG_BACK,	/* faulted/disabled leg alive again */
	AGENT_EV_LEG_STALE,	/* in-sync leg became stale */
	AGENT_EV_LEG_IN_SYNC,	/* stale leg is in sync again */
	AGENT_EV_LEG_ERRORS,	/* value: new I/O errors on the leg */
	AGENT_EV_MISMATCHES,	/* value: new integrity mismatches */
	AGENT_EV_REPAIR_STARTED,
	AGENT_EV_REPAIR_DONE,
	AGENT_EV_REPAIR_PAUSED,
	AGENT_EV_REPAIR_WAITING,
	AGENT_EV_HYDRATION_DONE,
};

struct agent_event {
	enum agent_event_kind kind;
	int leg;		/* -1 if not about one leg */
	uint64_t value;
};

#define AGENT_MAX_EVENTS 32

/*
 * Compare @prev (NULL: first sight) with @cur; fill @ev and return how
 * many events there are (at most @max).
 */
size_t agent_diff(const struct cru_status *prev, const struct cru_status *cur,
		  struct agent_event *ev, size_t max);

/* A log line for @ev of volume @name; returns the syslog level. */
int agent_event_str(const char *name, const struct cru_status *cur,
		    const struct agent_event *ev, char *buf, size_t len);

/* What the agent remembers of a volume between scans. */
struct agent_volume {
	char name[CRU_NAME_MAX + 1];
	bool have_status;
	struct cru_status status;
	uint32_t event_nr;	/* device-mapper event number at last read */
	bool seen;		/* in the current scan */
	bool operator_paused;	/* someone stopped its repair: leave it */
	unsigned int attempts;	/* reconcile starts sent without effect */
	double next_attempt;	/* monotonic seconds */
};

enum agent_decision {
	AGENT_NONE,		/* nothing to do */
	AGENT_START_REPAIR,	/* send `reconcile start` now */
	AGENT_HOLD,		/* paused by the operator: leave it (log once) */
	AGENT_BACKOFF,		/* would start, but wait until next_attempt */
};

/*
 * Should the agent start the repair of @v, whose status is now @cur?
 * @v->status is the previous status if @v->have_status.  Updates the
 * bookkeeping in @v (but not v->status).
 *
 * A volume with stale regions whose repair is paused gets `reconcile
 * start`, unless the agent saw the repair go from running to paused with
 * no leg coming back: that is an operator's `reconcile stop`, respected
 * until a leg returns or the repair runs again.
 */
enum agent_decision agent_decide(struct agent_volume *v,
				 const struct cru_status *cur,
				 bool auto_reconcile, double now);

double agent_backoff(unsigned int attempts);

/*
 * With the netlink family the agent plans the repairs itself: it issues
 * one REPAIR request at a time per volume and watches it to completion.
 * What follows is that bookkeeping, kept out of the I/O loop so that it
 * is tested without a kernel.
 *
 * A REPAIR marks its regions and switches the kernel's repair on (as
 * `reconcile start` does); the kernel then works until nothing it can
 * repair is left: its state goes from running to idle (or stays running
 * while stale copies wait for a leg out of service).  It never goes from
 * running back to paused by itself, so that transition, with no region
 * newly stale and no table reloaded, is an operator's `reconcile stop`.
 */

/* Poll LIST_VOLUMES this often while a repair runs (events may be lost). */
#define AGENT_PROGRESS_POLL	5.0
/* Log repair progress at most this often. */
#define AGENT_PROGRESS_LOG	10.0
/* A request whose regions did not move for this long, the kernel's
 * repair not running, is issued again. */
#define AGENT_STALL_SECONDS	60.0
/* An asynchronous request without an answer for this long failed. */
#define AGENT_ACK_TIMEOUT	30.0

/*
 * The status fields a VOLUME message carries, in a struct cru_status so
 * that agent_diff and agent_event_str describe its changes; counters the
 * message does not have are 0 (mismatches and leg faults come as events),
 * and hydration is left out (HYDRATION_DONE says when it is done).
 */
void agent_nl_status(const struct cru_nl_volume *v, struct cru_status *st);

enum agent_request {
	AGENT_RQ_NONE,
	AGENT_RQ_SENT,		/* REPAIR sent, no answer yet */
	AGENT_RQ_RUNNING,	/* accepted: the kernel works on it */
};

struct agent_nl_volume {
	struct cru_nl_volume cur;	/* the latest VOLUME message */
	bool have;
	bool seen;			/* in the latest LIST_VOLUMES */
	bool operator_paused;		/* someone stopped its repair: leave it */
	unsigned int attempts;		/* requests refused or stalled in a row */
	double next_attempt;		/* monotonic seconds */

	enum agent_request rq;
	struct cru_nl_repair req;	/* the request in flight */
	uint32_t req_seq;
	double req_time;		/* when sent, then when accepted */
	double last_progress;		/* in_sync or repaired last moved */
	bool check;			/* check the request at the next pass */
	bool reloaded;			/* its table was replaced (VOLUME_GONE
					 * for a volume still listed) */

	bool plan_empty;		/* the last plan had nothing to issue... */
	uint64_t plan_in_sync;		/* ...for this state: skip replanning */
	uint8_t plan_legs[CRU_NR_LEGS];
	uint64_t reported_unsourced;	/* what was last logged */
	uint64_t reported_waiting;
	double last_progress_log;
};

/*
 * Take @cur, the volume's new VOLUME message.  Returns true when it shows
 * an operator's `reconcile stop` (log it once): the repair went from
 * running to paused with regions left, none of them newly stale, and no
 * table reload in between.  A request in flight is then forgotten.
 */
bool agent_nl_observe(struct agent_nl_volume *v,
		      const struct cru_nl_volume *cur, double now);

/*
 * Plan and issue the next request now?  AGENT_START_REPAIR: yes;
 * AGENT_BACKOFF: after v->next_attempt; AGENT_NONE: the volume needs
 * nothing, a request is in flight, the kernel's own repair runs, an
 * operator stopped it, or the last plan found nothing to do in this same
 * state.  Expires a request the kernel never answered.
 */
enum agent_decision agent_nl_decide(struct agent_nl_volume *v,
				    bool auto_reconcile, double now);

/* The plan for the current state was empty (nothing the agent can do). */
void agent_nl_plan_empty(struct agent_nl_volume *v);

/* Request @r was sent as @seq. */
void agent_nl_sent(struct agent_nl_volume *v, const struct cru_nl_repair *r,
		   uint32_t seq, double now);

/* The kernel answered the request in flight: 0 or its error. */
void agent_nl_answered(struct agent_nl_volume *v, int error, double now);

/* A request failed before the kernel took it (back off, then plan again). */
void agent_nl_failed(struct agent_nl_volume *v, double now);

enum agent_check {
	AGENT_CHECK_WAIT,	/* still running */
	AGENT_CHECK_DONE,	/* finished: plan the next one */
	AGENT_CHECK_REPLAN,	/* its source is gone: plan again now */
	AGENT_CHECK_STALLED,	/* no progress and the kernel idle: retry */
};

/* The request in flight stands at @st (cru_plan_check): what now? */
enum agent_check agent_nl_checked(struct agent_nl_volume *v,
				  enum cru_request_state st, double now);

#endif /* AGENT_POLICY_H */

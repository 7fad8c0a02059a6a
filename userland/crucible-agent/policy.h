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

#endif /* AGENT_POLICY_H */

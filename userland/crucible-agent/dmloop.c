// SPDX-License-Identifier: GPL-2.0
/*
 * crucible-agent without the netlink family: one poll loop over
 * /dev/mapper/control, armed with DM_DEV_ARM_POLL (readable after any
 * device-mapper event; a crucible volume raises one on every state
 * change), and the signalfd.
 *
 * On each wake-up it rescans every crucible volume's status: state kept
 * between scans is only what the decisions need, so a lost or merged
 * event costs nothing but latency.  Repairs are started with `reconcile
 * start`; the kernel chooses the regions.  When a scan finds volumes and
 * the netlink family has appeared (the module was loaded after the
 * agent started), the loop hands over to nlloop.c.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/dm.h"
#include "../lib/log.h"
#include "../lib/nl.h"
#include "agent.h"

static struct agent_volume *volume_get(struct agent *a, const char *name)
{
	struct agent_volume *v;
	size_t i;

	for (i = 0; i < a->nr_vols; i++)
		if (!strcmp(a->vols[i].name, name))
			return &a->vols[i];
	if (a->nr_vols == a->cap_vols) {
		size_t cap = a->cap_vols ? 2 * a->cap_vols : 8;

		v = realloc(a->vols, cap * sizeof(*v));
		if (!v)
			return NULL;
		a->vols = v;
		a->cap_vols = cap;
	}
	v = &a->vols[a->nr_vols++];
	memset(v, 0, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "%s", name);
	return v;
}

static void start_repair(struct agent_volume *v)
{
	struct cru_err err;

	log_info("%s: %llu stale regions and repair paused: starting repair (attempt %u)",
		 v->name,
		 (unsigned long long)cru_status_stale_regions(&v->status),
		 v->attempts);
	if (cru_dm_message(v->name, "reconcile start", &err))
		log_error("%s: cannot start repair: %s (retry in %.0f s)",
			  v->name, err.msg, agent_backoff(v->attempts));
}

static void volume_update(struct agent *a, struct agent_volume *v,
			  const struct cru_status *cur, double now)
{
	struct agent_event ev[AGENT_MAX_EVENTS];
	enum agent_decision d;
	char line[512];
	size_t n, i;

	n = agent_diff(v->have_status ? &v->status : NULL, cur, ev,
		       AGENT_MAX_EVENTS);
	for (i = 0; i < n; i++) {
		int level = agent_event_str(v->name, cur, &ev[i], line,
					    sizeof(line));

		log_msg(level, "%s", line);
	}
	d = agent_decide(v, cur, a->opts->auto_reconcile, now);
	v->status = *cur;
	v->have_status = true;
	switch (d) {
	case AGENT_START_REPAIR:
		start_repair(v);
		break;
	case AGENT_HOLD:
		log_info("%s: repair was stopped by an operator; leaving it paused (cruciblectl reconcile %s start resumes it)",
			 v->name, v->name);
		break;
	case AGENT_BACKOFF:
		log_debug("%s: repair still paused; next attempt in %.0f s",
			  v->name, v->next_attempt - now);
		break;
	case AGENT_NONE:
		break;
	}
}

/* Has the netlink family appeared since the agent started? */
static bool netlink_appeared(struct agent *a)
{
	struct cru_err err;
	struct cru_nl *nl;

	if (a->opts->no_netlink || cru_nl_open(&nl, &err))
		return false;
	cru_nl_close(nl);
	log_info("the '%s' netlink family is there now: switching to it",
		 CRUCIBLE_GENL_NAME);
	return true;
}

/*
 * Read the volumes and act on what changed.  After a device-mapper event
 * (@all false) only volumes whose event number moved are read again, as
 * multipathd does; at start, on SIGHUP, on the timer and for retries
 * (@all true) every volume is.  Returns true when the netlink family has
 * appeared.
 */
static bool scan(struct agent *a, bool all)
{
	struct cru_dm_name *names;
	struct cru_volume vol;
	struct cru_err err;
	double now = agent_now();
	size_t count, i;

	if (all)
		a->last_full_scan = now;
	if (cru_dm_list(&names, &count, &err)) {
		log_error("%s", err.msg);
		return false;
	}
	if (count && netlink_appeared(a)) {
		free(names);
		return true;
	}
	for (i = 0; i < a->nr_vols; i++)
		a->vols[i].seen = false;
	for (i = 0; i < count; i++) {
		struct agent_volume *v = volume_get(a, names[i].name);
		int ret;

		if (!v) {
			log_error("%s: out of memory", names[i].name);
			continue;
		}
		v->seen = true;
		if (!all && v->have_status && v->event_nr == names[i].event_nr)
			continue;
		ret = cru_dm_volume_read(names[i].name, &vol, &err);
		if (ret) {
			if (ret != -ENODEV)
				log_error("%s", err.msg);
			v->seen = ret != -ENODEV;
			continue;
		}
		/* The number read with the status, not the (older) listed one. */
		v->event_nr = vol.event_nr;
		volume_update(a, v, &vol.status, now);
	}
	free(names);

	for (i = 0; i < a->nr_vols;) {
		if (a->vols[i].seen) {
			i++;
			continue;
		}
		if (a->vols[i].have_status)
			log_info("%s: removed", a->vols[i].name);
		a->vols[i] = a->vols[--a->nr_vols];
	}
	return false;
}

/* Milliseconds until the next scan we owe without an event, or -1. */
static int poll_timeout(const struct agent *a, double now)
{
	double next = -1;
	size_t i;

	/* From the last full scan: a stream of events must not delay it. */
	if (a->opts->rescan)
		next = a->last_full_scan + a->opts->rescan;
	else if (a->dm_fd < 0)
		next = a->last_full_scan + 5;	/* no events: we must poll */
	for (i = 0; i < a->nr_vols; i++) {
		const struct agent_volume *v = &a->vols[i];

		if (v->attempts && (next < 0 || v->next_attempt < next))
			next = v->next_attempt;
	}
	if (next < 0)
		return -1;
	if (next <= now)
		return 0;
	return (int)((next - now) * 1000) + 1;
}

int agent_run_dm(struct agent *a)
{
	int ret = 0;

	log_info("watching volumes through device-mapper events and status lines");
	agent_arm_dm_events(a);
	if (scan(a, true))
		ret = AGENT_TRY_NETLINK;
	while (!ret) {
		struct pollfd pfd[2] = {
			{ .fd = a->signal_fd, .events = POLLIN },
			{ .fd = a->dm_fd, .events = POLLIN },
		};
		int timeout = poll_timeout(a, agent_now());
		int n = poll(pfd, a->dm_fd >= 0 ? 2 : 1, timeout);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("poll: %s", strerror(errno));
			ret = 1;
			break;
		}
		if (pfd[0].revents & POLLIN) {
			switch (agent_read_signals(a)) {
			case AGENT_SIGNAL_EXIT:
				goto out;
			case AGENT_SIGNAL_RESCAN:
				agent_arm_dm_events(a);
				if (scan(a, true))
					ret = AGENT_TRY_NETLINK;
				continue;
			case AGENT_SIGNAL_NONE:
				break;
			}
		}
		if (a->dm_fd >= 0 && (pfd[1].revents & (POLLERR | POLLHUP))) {
			log_warn("event polling failed; rescanning on a timer");
			close(a->dm_fd);
			a->dm_fd = -1;
		}
		if (!n || (a->dm_fd >= 0 && (pfd[1].revents & POLLIN))) {
			/* Re-arm first: an event during the scan wakes us again. */
			log_debug("%s", n ? "device-mapper event" : "timer");
			agent_arm_dm_events(a);
			if (scan(a, !n))
				ret = AGENT_TRY_NETLINK;
		}
	}
out:
	free(a->vols);
	a->vols = NULL;
	a->nr_vols = a->cap_vols = 0;
	return ret;
}

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * crucible-agent's two loops and what they share.
 *
 *   nlloop.c  the netlink family is there: events, region state, REPAIR
 *             requests planned by the agent (the normal mode);
 *   dmloop.c  it is not (an older module, or --no-netlink): device-mapper
 *             events and status lines, `reconcile start` messages.
 */
#ifndef AGENT_AGENT_H
#define AGENT_AGENT_H

#include <stdbool.h>
#include <stddef.h>

#include "options.h"
#include "policy.h"

/* What a loop returns besides an exit status. */
#define AGENT_NO_FAMILY		-1	/* nlloop: no netlink family at start */
#define AGENT_TRY_NETLINK	-2	/* dmloop: the family has appeared */

struct agent {
	const struct agent_opts *opts;
	int dm_fd;		/* -1 if device-mapper event polling is off */
	int signal_fd;
	int pid_fd;
	char pid_path[4096];

	/* dmloop */
	struct agent_volume *vols;
	size_t nr_vols;
	size_t cap_vols;
	double last_full_scan;	/* monotonic seconds */
};

double agent_now(void);

enum agent_signal {
	AGENT_SIGNAL_NONE,
	AGENT_SIGNAL_EXIT,	/* SIGTERM, SIGINT */
	AGENT_SIGNAL_RESCAN,	/* SIGHUP */
};

/* Read every pending signal from the signalfd: what to do about them. */
enum agent_signal agent_read_signals(struct agent *a);

/*
 * Re-arm device-mapper event polling; if that fails, close the file
 * descriptor (logged) and go on without it.
 */
void agent_arm_dm_events(struct agent *a);

/* Each returns the exit status, or AGENT_NO_FAMILY / AGENT_TRY_NETLINK. */
int agent_run_netlink(struct agent *a);
int agent_run_dm(struct agent *a);

#endif /* AGENT_AGENT_H */

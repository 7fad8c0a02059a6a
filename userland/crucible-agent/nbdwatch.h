/* SPDX-License-Identifier: GPL-2.0 */
/*
 * crucible-agent: keep NBD legs connected (Documentation/nbd.rst).
 *
 * A leg device connected by cruciblectl or by the agent carries its
 * export's URI as the NBD backend identifier.  The agent reconnects such a
 * device when the NBD family says its link died (LINK_DEAD), or when a
 * crucible leg on it has failed: a new connection and handshake, handed
 * to the kernel with NBD_CMD_RECONFIGURE (or a fresh CONNECT of the same
 * device when its configuration is gone), with back-off from 1 s to 30 s;
 * then it puts the leg back in service, and reconciliation repairs what
 * the leg missed.  A leg the operator took out is left alone.
 *
 * What it knows is written to <state-dir>/nbd.json for cruciblectl status.
 */
#ifndef AGENT_NBDWATCH_H
#define AGENT_NBDWATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "../lib/nl.h"
#include "../lib/spec.h"
#include "policy.h"

#define AGENT_NBD_MAX		64
#define AGENT_NBD_BACKOFF_FIRST	1.0
#define AGENT_NBD_BACKOFF_MAX	30.0
#define AGENT_NBD_CONNECT_MS	3000	/* one attempt blocks the loop this long at most */

enum agent_nbd_link {
	AGENT_NBD_UP,
	AGENT_NBD_DEAD,		/* LINK_DEAD, or the leg on it failed */
	AGENT_NBD_RECONNECTED,	/* up again: restore the leg at the next pass,
				 * once old connections to the server are done */
};

/* Look again this often while old connections linger. */
#define AGENT_NBD_LINGER_POLL	1.0

struct agent_nbd_dev {
	bool used;
	int index;
	char uri[CRU_SPEC_URI_MAX + 1];
	char volume[CRU_NAME_MAX + 1];	/* "" until seen as a leg */
	int leg;
	enum agent_nbd_link link;
	unsigned int attempts;		/* failed attempts in a row */
	double next_attempt;
	unsigned int reconnects;	/* successful ones, since the agent started */
	int lingering;			/* old connections last seen unfinished */
	char last_error[256];
};

struct agent_nbd {
	const char *state_dir;
	struct cru_nl *ev;		/* LINK_DEAD events; NULL without nbd */
	double next_open;
	struct agent_nbd_dev devs[AGENT_NBD_MAX];
	bool dirty;			/* nbd.json to be written */
};

void agent_nbd_init(struct agent_nbd *nb, const char *state_dir);
void agent_nbd_close(struct agent_nbd *nb);
/* The event socket to poll, or -1. */
int agent_nbd_fd(const struct agent_nbd *nb);
/* Read LINK_DEAD events: whether a device of ours is now due. */
bool agent_nbd_read_events(struct agent_nbd *nb, double now);
/*
 * Look at the volumes (their failed legs on NBD devices), reconnect what
 * is due and restore legs through @cmd.
 */
void agent_nbd_pass(struct agent_nbd *nb, struct agent_nl_volume *vols,
		    size_t nr, struct cru_nl *cmd, double now);
/* Monotonic seconds when something is due, or -1. */
double agent_nbd_next(const struct agent_nbd *nb);

/* Back-off after @attempts failed attempts (pure, for tests). */
double agent_nbd_backoff(unsigned int attempts);

#endif /* AGENT_NBDWATCH_H */

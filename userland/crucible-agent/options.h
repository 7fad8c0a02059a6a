/* SPDX-License-Identifier: GPL-2.0 */
/*
 * crucible-agent's command line, parsed into a struct (tested natively).
 */
#ifndef AGENT_OPTIONS_H
#define AGENT_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../lib/log.h"
#include "../lib/nbdleg.h"

#define AGENT_DEFAULT_STATE_DIR		CRU_AGENT_STATE_DIR	/* lib/nbdleg.h */
#define AGENT_DEFAULT_RESCAN		60	/* seconds */
#define AGENT_DEFAULT_REPAIR_BATCH	64	/* regions per REPAIR request */
#define AGENT_PID_FILE			"crucible-agent.pid"

enum agent_action {
	AGENT_RUN,
	AGENT_HELP,
	AGENT_VERSION,
};

struct agent_opts {
	enum agent_action action;
	bool foreground;
	bool syslog;
	bool auto_reconcile;
	int verbose;
	const char *state_dir;
	unsigned int rescan;	/* seconds between full rescans, 0 = never */
	bool no_netlink;	/* device-mapper events and status only */
	int event_rcvbuf;	/* event socket SO_RCVBUF, 0 = the default */
	int64_t repair_throttle; /* MiB/s to set before repairs, -1 = leave */
	uint64_t repair_batch;	/* most regions in one REPAIR request */
};

int agent_parse_args(int argc, char **argv, struct agent_opts *opts,
		     struct cru_err *err);
void agent_usage(FILE *out);
void agent_version(FILE *out);

#endif /* AGENT_OPTIONS_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * crucible-agent's command line, parsed into a struct (tested natively).
 */
#ifndef AGENT_OPTIONS_H
#define AGENT_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>

#include "../lib/log.h"

#define AGENT_DEFAULT_STATE_DIR		"/var/lib/crucible-agent"
#define AGENT_DEFAULT_RESCAN		60	/* seconds */
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
};

int agent_parse_args(int argc, char **argv, struct agent_opts *opts,
		     struct cru_err *err);
void agent_usage(FILE *out);
void agent_version(FILE *out);

#endif /* AGENT_OPTIONS_H */

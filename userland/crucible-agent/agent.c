// SPDX-License-Identifier: GPL-2.0
/*
 * crucible-agent: watches dm-crucible volumes and repairs their stale
 * regions.  This file: start-up (options, state directory and pid lock,
 * daemonizing, signals) and the choice of loop: nlloop.c when the
 * kernel has the "crucible" netlink family, dmloop.c when it has not.
 * See Documentation/crucible-agent.rst.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../lib/dm.h"
#include "../lib/log.h"
#include "agent.h"

double agent_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int setup_signals(struct agent *a)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL)) {
		log_error("cannot block signals: %s", strerror(errno));
		return -1;
	}
	signal(SIGPIPE, SIG_IGN);
	a->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (a->signal_fd < 0) {
		log_error("cannot create a signalfd: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int mkdir_p(const char *path)
{
	char buf[4096];
	char *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0755) && errno != EEXIST)
		return -1;
	return 0;
}

/* Lock the pid file: one agent per state directory. */
static int pidfile_lock(struct agent *a)
{
	const char *dir = a->opts->state_dir;
	char other[32] = "";
	ssize_t n;

	if (mkdir_p(dir)) {
		log_error("state directory %s: %s", dir, strerror(errno));
		return -1;
	}
	if (snprintf(a->pid_path, sizeof(a->pid_path), "%s/%s", dir,
		     AGENT_PID_FILE) >= (int)sizeof(a->pid_path)) {
		log_error("state directory %s: name too long", dir);
		return -1;
	}
	a->pid_fd = open(a->pid_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (a->pid_fd < 0) {
		log_error("%s: %s", a->pid_path, strerror(errno));
		return -1;
	}
	if (flock(a->pid_fd, LOCK_EX | LOCK_NB)) {
		n = pread(a->pid_fd, other, sizeof(other) - 1, 0);
		if (n > 0)
			other[strcspn(other, "\n")] = '\0';
		log_error("another crucible-agent (pid %s) uses state directory %s",
			  n > 0 ? other : "unknown", dir);
		close(a->pid_fd);
		a->pid_fd = -1;
		return -1;
	}
	return 0;
}

static int pidfile_write(struct agent *a)
{
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());

	if (ftruncate(a->pid_fd, 0) || pwrite(a->pid_fd, buf, len, 0) != len) {
		log_error("%s: %s", a->pid_path, strerror(errno));
		return -1;
	}
	return 0;
}

static void pidfile_remove(struct agent *a)
{
	if (a->pid_fd < 0)
		return;
	unlink(a->pid_path);
	close(a->pid_fd);
	a->pid_fd = -1;
}

void agent_arm_dm_events(struct agent *a)
{
	struct cru_err err;

	if (a->dm_fd < 0 || !cru_dm_event_arm(a->dm_fd, &err))
		return;
	log_warn("%s; going on without device-mapper events", err.msg);
	close(a->dm_fd);
	a->dm_fd = -1;
}

enum agent_signal agent_read_signals(struct agent *a)
{
	struct signalfd_siginfo si;
	bool rescan = false;

	while (read(a->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_info("%s: exiting", strsignal(si.ssi_signo));
			return AGENT_SIGNAL_EXIT;
		case SIGHUP:
			rescan = true;
			break;
		}
	}
	if (!rescan)
		return AGENT_SIGNAL_NONE;
	log_info("SIGHUP: rescanning");
	return AGENT_SIGNAL_RESCAN;
}

int main(int argc, char **argv)
{
	struct agent_opts opts;
	struct agent a = { .opts = &opts, .dm_fd = -1, .signal_fd = -1,
			   .pid_fd = -1 };
	struct cru_err err;
	int rc;

	log_init("crucible-agent", LOG_TO_STDERR, LOG_LEVEL_INFO);
	if (agent_parse_args(argc, argv, &opts, &err)) {
		log_error("%s", err.msg);
		return 2;
	}
	if (opts.action == AGENT_HELP) {
		agent_usage(stdout);
		return 0;
	}
	if (opts.action == AGENT_VERSION) {
		agent_version(stdout);
		return 0;
	}
	/* Until daemonized, errors go where the one who started us looks. */
	log_init("crucible-agent", opts.syslog ? LOG_TO_SYSLOG : LOG_TO_STDERR,
		 opts.verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	cru_dm_init();

	if (pidfile_lock(&a))
		return 1;
	/*
	 * Device-mapper events are the whole story without the netlink
	 * family; with it they only say "something changed" (a volume
	 * created, a reconcile message), which netlink has no event for.
	 */
	a.dm_fd = cru_dm_event_open(&err);
	if (a.dm_fd < 0) {
		if (opts.no_netlink) {
			log_error("%s", err.msg);
			pidfile_remove(&a);
			return 1;
		}
		log_warn("%s; going on without device-mapper events", err.msg);
	}
	if (!opts.foreground) {
		if (daemon(0, 0)) {
			log_error("cannot daemonize: %s", strerror(errno));
			pidfile_remove(&a);
			return 1;
		}
		log_init("crucible-agent", LOG_TO_SYSLOG, log_get_level());
	}
	if (pidfile_write(&a) || setup_signals(&a)) {
		pidfile_remove(&a);
		return 1;
	}
	log_info("started (pid %d, state in %s, auto-reconcile %s)",
		 (int)getpid(), opts.state_dir,
		 opts.auto_reconcile ? "on" : "off");

	rc = opts.no_netlink ? AGENT_NO_FAMILY : agent_run_netlink(&a);
	while (rc == AGENT_NO_FAMILY || rc == AGENT_TRY_NETLINK) {
		if (rc == AGENT_TRY_NETLINK)
			rc = agent_run_netlink(&a);
		else if (a.dm_fd < 0) {
			log_error("neither the netlink family nor device-mapper events: nothing to watch volumes with");
			rc = 1;
		} else
			rc = agent_run_dm(&a);
	}

	pidfile_remove(&a);
	if (a.dm_fd >= 0)
		close(a.dm_fd);
	close(a.signal_fd);
	return rc;
}

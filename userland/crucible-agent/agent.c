// SPDX-License-Identifier: GPL-2.0
/*
 * crucible-agent: watches dm-crucible volumes and starts the repair of
 * stale regions.  One poll loop over two file descriptors:
 *
 *   /dev/mapper/control, armed with DM_DEV_ARM_POLL: readable after any
 *     device-mapper event (a crucible volume raises one on every state
 *     change);
 *   a signalfd: SIGTERM/SIGINT stop the agent, SIGHUP rescans.
 *
 * On each wake-up it rescans every crucible volume's status: state kept
 * between scans is only what the decisions need, so a lost or merged
 * event costs nothing but latency.  See Documentation/crucible-agent.rst.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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
#include "options.h"
#include "policy.h"

struct agent {
	const struct agent_opts *opts;
	int dm_fd;		/* -1 if event polling is unavailable */
	int signal_fd;
	int pid_fd;
	char pid_path[4096];
	struct agent_volume *vols;
	size_t nr_vols;
	size_t cap_vols;
	double last_full_scan;	/* monotonic seconds */
};

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

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

/*
 * Read the volumes and act on what changed.  After a device-mapper event
 * (@all false) only volumes whose event number moved are read again, as
 * multipathd does; at start, on SIGHUP, on the timer and for retries
 * (@all true) every volume is.
 */
static void scan(struct agent *a, bool all)
{
	struct cru_dm_name *names;
	struct cru_volume vol;
	struct cru_err err;
	double now = now_seconds();
	size_t count, i;

	if (all)
		a->last_full_scan = now;
	if (cru_dm_list(&names, &count, &err)) {
		log_error("%s", err.msg);
		return;
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

static void arm_events(struct agent *a)
{
	struct cru_err err;

	if (a->dm_fd < 0 || !cru_dm_event_arm(a->dm_fd, &err))
		return;
	log_warn("%s; falling back to rescanning every %u s", err.msg,
		 a->opts->rescan ? a->opts->rescan : 5);
	close(a->dm_fd);
	a->dm_fd = -1;
}

/* Returns true when the agent should exit. */
static bool handle_signals(struct agent *a)
{
	struct signalfd_siginfo si;
	bool rescan = false;

	while (read(a->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_info("%s: exiting", strsignal(si.ssi_signo));
			return true;
		case SIGHUP:
			rescan = true;
			break;
		}
	}
	if (rescan) {
		log_info("SIGHUP: rescanning");
		arm_events(a);
		scan(a, true);
	}
	return false;
}

static int run(struct agent *a)
{
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = a->signal_fd, .events = POLLIN },
			{ .fd = a->dm_fd, .events = POLLIN },
		};
		int timeout = poll_timeout(a, now_seconds());
		int n = poll(pfd, a->dm_fd >= 0 ? 2 : 1, timeout);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("poll: %s", strerror(errno));
			return 1;
		}
		if (pfd[0].revents & POLLIN) {
			if (handle_signals(a))
				return 0;
		}
		if (a->dm_fd >= 0 && (pfd[1].revents & (POLLERR | POLLHUP))) {
			log_warn("event polling failed; rescanning on a timer");
			close(a->dm_fd);
			a->dm_fd = -1;
		}
		if (!n || (a->dm_fd >= 0 && (pfd[1].revents & POLLIN))) {
			/* Re-arm first: an event during the scan wakes us again. */
			log_debug("%s", n ? "device-mapper event" : "timer");
			arm_events(a);
			scan(a, !n);
		}
	}
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
	a.dm_fd = cru_dm_event_open(&err);
	if (a.dm_fd < 0) {
		log_error("%s", err.msg);
		pidfile_remove(&a);
		return 1;
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

	arm_events(&a);
	scan(&a, true);
	rc = run(&a);

	pidfile_remove(&a);
	if (a.dm_fd >= 0)
		close(a.dm_fd);
	close(a.signal_fd);
	free(a.vols);
	return rc;
}

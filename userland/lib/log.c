// SPDX-License-Identifier: GPL-2.0
/*
 * Logging to stderr or syslog, and the error-message convention.
 */
#include "log.h"

#include <errno.h>
#include <string.h>

static const char *log_ident = "crucible";
static enum log_target log_target = LOG_TO_STDERR;
static int log_level = LOG_LEVEL_INFO;
static FILE *log_stream;

void log_init(const char *ident, enum log_target target, int level)
{
	if (log_target == LOG_TO_SYSLOG)
		closelog();
	log_ident = ident;
	log_target = target;
	log_level = level;
	if (target == LOG_TO_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_set_level(int level)
{
	log_level = level;
}

int log_get_level(void)
{
	return log_level;
}

void log_set_stream(FILE *stream)
{
	log_stream = stream;
}

static const char *level_prefix(int level)
{
	switch (level) {
	case LOG_LEVEL_ERROR:
		return "error: ";
	case LOG_LEVEL_WARN:
		return "warning: ";
	case LOG_LEVEL_DEBUG:
		return "debug: ";
	default:
		return "";
	}
}

void log_vmsg(int level, const char *fmt, va_list ap)
{
	FILE *out = log_stream ? log_stream : stderr;
	int saved_errno = errno;

	if (level > log_level)
		return;
	if (log_target == LOG_TO_SYSLOG) {
		vsyslog(level, fmt, ap);
	} else {
		fprintf(out, "%s: %s", log_ident, level_prefix(level));
		vfprintf(out, fmt, ap);
		fputc('\n', out);
		fflush(out);
	}
	errno = saved_errno;
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

int cru_err_set(struct cru_err *err, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return ret;
}

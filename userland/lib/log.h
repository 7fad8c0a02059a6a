/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One logging and error convention for the userland programs.
 *
 * Logging: log_error/log_warn/log_info/log_debug write one line to stderr
 * ("<ident>: <message>") or to syslog, filtered by a level.
 *
 * Errors: functions that can fail return 0 or a negative errno and, when
 * they are given a struct cru_err, leave a sentence in it that names what
 * was wrong ("field 'legs': expected 3 devices, got 2").  The caller adds
 * the context it knows (the device, the file) and logs it once.
 */
#ifndef CRU_LOG_H
#define CRU_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <syslog.h>

enum log_level {
	LOG_LEVEL_ERROR = LOG_ERR,
	LOG_LEVEL_WARN = LOG_WARNING,
	LOG_LEVEL_INFO = LOG_INFO,
	LOG_LEVEL_DEBUG = LOG_DEBUG,
};

enum log_target {
	LOG_TO_STDERR,
	LOG_TO_SYSLOG,
};

void log_init(const char *ident, enum log_target target, int level);
void log_set_level(int level);
int log_get_level(void);
/* Tests and in-process callers can send stderr-target output elsewhere. */
void log_set_stream(FILE *stream);

void log_msg(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_vmsg(int level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#define CRU_ERR_LEN 256

struct cru_err {
	char msg[CRU_ERR_LEN];
};

/*
 * Record why something failed and return @ret (a negative errno), so that
 * `return cru_err_set(err, -EINVAL, "...")` reads as one step.  @err may be
 * NULL.
 */
int cru_err_set(struct cru_err *err, int ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* CRU_LOG_H */

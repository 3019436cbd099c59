/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging: one record per line, `time=... level=... prog=... func=... msg`.
 * The shim points its log fd at containerd's log fifo, the agent at the
 * guest console. A write that fails (EPIPE when containerd is gone) drops
 * the record: logging must never stop the process.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base.h"

static const char	*log_prog = "kiln";
static enum log_level	 log_level = LOG_LVL_INFO;
static int		 log_fd = 2;

static const char *const log_level_names[] = {
	[LOG_LVL_DEBUG] = "debug",
	[LOG_LVL_INFO] = "info",
	[LOG_LVL_WARN] = "warning",
	[LOG_LVL_ERROR] = "error",
};

void
log_init(const char *prog, enum log_level level, int fd)
{
	log_prog = prog;
	log_level = level;
	log_fd = fd;
}

void
log_set_level(enum log_level level)
{
	log_level = level;
}

bool
log_enabled(enum log_level level)
{
	return level >= log_level;
}

/* Format one record into line and write it with a single write(2). */
static void
log_vwrite(enum log_level, const char *, const char *, va_list)
    __attribute__((format(printf, 3, 0)));

static void
log_vwrite(enum log_level level, const char *func, const char *fmt,
    va_list ap)
{
	char line[2048], stamp[40];
	struct timespec ts;
	struct tm tm;
	int n, saved = errno;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof line, "time=\"%s.%06ldZ\" level=%s prog=%s "
	    "func=%s msg=\"", stamp, ts.tv_nsec / 1000, log_level_names[level],
	    log_prog, func);
	if (n < 0 || (size_t)n >= sizeof line)
		return;
	errno = saved;
	n += vsnprintf(line + n, sizeof line - n - 2, fmt, ap);
	if ((size_t)n > sizeof line - 3)
		n = sizeof line - 3;
	line[n++] = '"';
	line[n++] = '\n';
	if (log_fd >= 0)
		(void)write(log_fd, line, n);
	errno = saved;
}

void
log_msg(enum log_level level, const char *func, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	log_vwrite(level, func, fmt, ap);
	va_end(ap);
}

void
fatal_msg(bool with_errno, const char *func, const char *fmt, ...)
{
	char msg[1024];
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (with_errno)
		log_msg(LOG_LVL_ERROR, func, "fatal: %s error=\"%s\"", msg,
		    strerror(saved));
	else
		log_msg(LOG_LVL_ERROR, func, "fatal: %s", msg);
	abort();
}

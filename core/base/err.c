/* SPDX-License-Identifier: Apache-2.0 */
/*
 * struct err: a fixed-size, caller-owned error record (code plus message).
 * err_set() returns -1 so that a failure is one `return err_set(...)` line.
 */
#include <stdio.h>
#include <string.h>

#include "base.h"

int
err_set(struct err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	return -1;
}

int
err_wrap(struct err *err, const char *fmt, ...)
{
	char prefix[ERR_MSG_MAX], joined[2 * ERR_MSG_MAX + 2];
	va_list ap;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	/* Join in a buffer big enough for both, then cut to size. */
	snprintf(joined, sizeof joined, "%s: %s", prefix, err->msg);
	memcpy(err->msg, joined, sizeof err->msg - 1);
	err->msg[sizeof err->msg - 1] = '\0';
	return -1;
}

void
err_clear(struct err *err)
{
	if (err == NULL)
		return;
	err->code = 0;
	err->msg[0] = '\0';
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A tiny TAP (Test Anything Protocol) emitter for kiln's C tests, read by
 * prove(1): plan, ok / not ok with a description, diagnostics, skip. Each
 * assertion is one numbered line, so prove's summary counts real checks.
 */
#ifndef KILN_TAP_H
#define KILN_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed, tap_planned = -1;

__attribute__((unused)) static void
tap_plan(int n)
{
	tap_planned = n;
	printf("1..%d\n", n);
	fflush(stdout);
}

__attribute__((unused, format(printf, 1, 2))) static void
diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

__attribute__((unused, format(printf, 2, 3))) static bool
ok(bool cond, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return cond;
}

#define is_int(got, want, ...) ({					\
	long long _g = (long long)(got), _w = (long long)(want);	\
	bool _r = ok(_g == _w, __VA_ARGS__);				\
	if (!_r)							\
		diag("  got: %lld, expected: %lld", _g, _w);		\
	_r;								\
})

#define is_str(got, want, ...) ({					\
	const char *_g = (got), *_w = (want);				\
	bool _r = ok(_g != NULL && _w != NULL && strcmp(_g, _w) == 0,	\
	    __VA_ARGS__);						\
	if (!_r)							\
		diag("  got: '%s', expected: '%s'", _g ? _g : "(null)",	\
		    _w ? _w : "(null)");				\
	_r;								\
})

__attribute__((unused, format(printf, 2, 3))) static void
skip(int n, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	while (n-- > 0)
		printf("ok %d # SKIP %s\n", ++tap_n, why);
	fflush(stdout);
}

/* Print the plan if none was given; exit non-zero on any failure. */
__attribute__((unused)) static int
tap_done(void)
{
	if (tap_planned < 0)
		printf("1..%d\n", tap_n);
	else if (tap_planned != tap_n)
		diag("planned %d tests but ran %d", tap_planned, tap_n);
	fflush(stdout);
	return tap_failed == 0 && (tap_planned < 0 || tap_planned == tap_n) ?
	    0 : 1;
}

#endif

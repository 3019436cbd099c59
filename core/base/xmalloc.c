/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Allocators that abort on out-of-memory, as tmux and crun do: a process
 * that cannot allocate a few bytes cannot report anything useful either.
 */
#include <stdio.h>
#include <string.h>

#include "base.h"

void *
xmalloc(size_t size)
{
	void *p = malloc(size == 0 ? 1 : size);

	if (p == NULL)
		fatal("malloc %zu", size);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);

	if (p == NULL)
		fatal("calloc %zu x %zu", n, size);
	return p;
}

void *
xrealloc(void *old, size_t size)
{
	void *p = realloc(old, size == 0 ? 1 : size);

	if (p == NULL)
		fatal("realloc %zu", size);
	return p;
}

void *
xreallocarray(void *old, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		fatalx("reallocarray overflow %zu x %zu", n, size);
	return xrealloc(old, n * size);
}

char *
xstrdup(const char *s)
{
	return xmemdup(s, strlen(s) + 1);
}

char *
xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = xmalloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

void *
xmemdup(const void *src, size_t n)
{
	void *p = xmalloc(n);

	if (n != 0)
		memcpy(p, src, n);
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatal("vasprintf");
	return s;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * struct buf: a byte queue for I/O. Writers append at the end, readers
 * consume from the front; consumed space is reclaimed by sliding the
 * unread bytes down when the front gap grows larger than the data.
 */
#include <stdio.h>
#include <string.h>

#include "base.h"

void
buf_init(struct buf *b)
{
	memset(b, 0, sizeof *b);
}

void
buf_fini(struct buf *b)
{
	free(b->data);
	memset(b, 0, sizeof *b);
}

size_t
buf_used(const struct buf *b)
{
	return b->len - b->off;
}

const uint8_t *
buf_head(const struct buf *b)
{
	/* An empty buffer may have no storage: NULL + 0 is undefined in C. */
	return b->data != NULL ? b->data + b->off : NULL;
}

uint8_t *
buf_reserve(struct buf *b, size_t n)
{
	size_t need;

	if (b->off > 0 && b->off >= buf_used(b)) {
		memmove(b->data, b->data + b->off, buf_used(b));
		b->len -= b->off;
		b->off = 0;
	}
	need = b->len + n;
	if (need > b->cap) {
		size_t cap = b->cap == 0 ? 4096 : b->cap;

		while (cap < need)
			cap *= 2;
		b->data = xrealloc(b->data, cap);
		b->cap = cap;
	}
	return b->data + b->len;
}

void
buf_commit(struct buf *b, size_t n)
{
	if (b->len + n > b->cap)
		fatalx("buf_commit past capacity");
	b->len += n;
}

void
buf_append(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	memcpy(buf_reserve(b, n), p, n);
	buf_commit(b, n);
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	va_start(ap, fmt);
	/* One byte more for vsnprintf's NUL, which is not committed. */
	vsnprintf((char *)buf_reserve(b, (size_t)n + 1), (size_t)n + 1, fmt,
	    ap);
	va_end(ap);
	buf_commit(b, (size_t)n);
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n > buf_used(b))
		fatalx("buf_consume %zu > %zu", n, buf_used(b));
	b->off += n;
	if (b->off == b->len)
		b->off = b->len = 0;
}

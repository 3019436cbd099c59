/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reactor: HTTP on the reactor's event_base. The server side is
 * libevent's evhttp on a listening socket the caller made (unix or TCP),
 * so no HTTP request is ever parsed here; handlers may answer later. The
 * client side fetches one GET over a unix socket: libevent 2.1's evhttp
 * client can only dial TCP (a unix path arrives in 2.2), so it writes an
 * HTTP/1.0 request and reads the answer to EOF, then checks the status
 * line, the header block and Content-Length before handing the body on.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "reactor_int.h"

struct reactor_http_req {
	LIST_ENTRY(reactor_http_req) entry;
	struct reactor_http	*h;		/* borrowed */
	struct evhttp_request	*ev;		/* NULL: its connection died */
	char			 path[256];
};

struct reactor_http {
	struct evhttp		*http;
	reactor_http_cb		 cb;
	void			*arg;
	LIST_HEAD(, reactor_http_req) reqs;	/* handed out, unanswered */
};

/*
 * evhttp frees a connection's requests with it. A request we were given
 * stops reading until it is answered, so this runs only from evhttp_free
 * or a write error; either way the pointer must not be used again.
 */
static void
reactor_http_closed_cb(struct evhttp_connection *evcon, void *arg)
{
	struct reactor_http *h = arg;
	struct reactor_http_req *q;

	LIST_FOREACH(q, &h->reqs, entry)
		if (q->ev != NULL && evhttp_request_get_connection(q->ev) ==
		    evcon)
			q->ev = NULL;
}

static void
reactor_http_req_cb(struct evhttp_request *ev, void *arg)
{
	struct reactor_http *h = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	struct reactor_http_req *q;

	if (path == NULL || strlen(path) >= sizeof q->path) {
		evhttp_send_error(ev, HTTP_BADREQUEST, NULL);
		return;
	}
	q = xcalloc(1, sizeof *q);
	q->h = h;
	q->ev = ev;
	snprintf(q->path, sizeof q->path, "%s", path);
	LIST_INSERT_HEAD(&h->reqs, q, entry);
	evhttp_connection_set_closecb(evhttp_request_get_connection(ev),
	    reactor_http_closed_cb, h);
	h->cb(q, q->path, h->arg);
}

struct reactor_http *
reactor_http_new(struct reactor *r, int fd, reactor_http_cb cb, void *arg,
    struct err *err)
{
	struct reactor_http *h = xcalloc(1, sizeof *h);

	LIST_INIT(&h->reqs);
	h->cb = cb;
	h->arg = arg;
	if ((h->http = evhttp_new(reactor_base(r))) == NULL) {
		close(fd);
		free(h);
		err_set(err, ENOMEM, "evhttp_new failed");
		return NULL;
	}
	/* Scrapes are small GETs: anything else is refused by evhttp. */
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET);
	evhttp_set_max_headers_size(h->http, 8192);
	evhttp_set_max_body_size(h->http, 0);
	evhttp_set_timeout(h->http, 30);
	evhttp_set_gencb(h->http, reactor_http_req_cb, h);
	if (fd_set_nonblock_cloexec(fd) < 0 ||
	    evhttp_accept_socket_with_handle(h->http, fd) == NULL) {
		close(fd);
		evhttp_free(h->http);
		free(h);
		err_set(err, EINVAL, "evhttp: cannot accept on fd %d", fd);
		return NULL;
	}
	return h;
}

void
reactor_http_reply(struct reactor_http_req *q, int code,
    const char *content_type, const void *body, size_t len)
{
	struct evbuffer *out;

	LIST_REMOVE(q, entry);
	if (q->ev != NULL && (out = evbuffer_new()) != NULL) {
		evhttp_add_header(evhttp_request_get_output_headers(q->ev),
		    "Content-Type", content_type);
		evbuffer_add(out, body, len);
		evhttp_send_reply(q->ev, code, code == 200 ? "OK" : "Error",
		    out);
		evbuffer_free(out);
	}
	free(q);
}

const char *
reactor_http_path(const struct reactor_http_req *q)
{
	return q->path;
}

size_t
reactor_http_pending(const struct reactor_http *h)
{
	const struct reactor_http_req *q;
	size_t n = 0;

	LIST_FOREACH(q, &h->reqs, entry)
		n++;
	return n;
}

void
reactor_http_free(struct reactor_http *h)
{
	struct reactor_http_req *q;

	if (h == NULL)
		return;
	/* Owners answer first; what is left is dropped, never leaked. */
	while ((q = LIST_FIRST(&h->reqs)) != NULL) {
		LIST_REMOVE(q, entry);
		free(q);
	}
	evhttp_free(h->http);
	free(h);
}

/* ---- the client: one GET over a unix socket ------------------------- */

struct reactor_http_get {
	struct reactor		*r;		/* borrowed */
	int			 fd;
	struct reactor_io	*io;
	struct reactor_timer	*timer;
	struct buf		 out, in;
	size_t			 max;
	reactor_http_get_cb	 cb;
	void			*arg;
	struct err		 err;		/* set before a deferred fail */
};

static void
reactor_http_get_free(struct reactor_http_get *g)
{
	reactor_io_free(g->io);
	reactor_timer_free(g->timer);
	reactor_defer_cancel(g->r, g);
	close_fd(&g->fd);
	buf_fini(&g->out);
	buf_fini(&g->in);
	free(g);
}

/* Report once, then free (body points into g->in). */
static void
reactor_http_get_done(struct reactor_http_get *g, int status,
    const uint8_t *body, size_t len, const struct err *err)
{
	g->cb(status, body, len, err, g->arg);
	reactor_http_get_free(g);
}

static void
reactor_http_get_fail(struct reactor_http_get *g, int code,
    const char *why)
{
	struct err err;

	err_set(&err, code, "http: %s", why);
	reactor_http_get_done(g, 0, NULL, 0, &err);
}

/* Content-Length in the header block (len bytes at h), or -1 if absent. */
static long long
reactor_http_clen(const char *h, size_t len)
{
	const char *p = h, *end = h + len, *nl;

	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if ((size_t)(nl - p) > 15 &&
		    strncasecmp(p, "Content-Length:", 15) == 0)
			return strtoll(p + 15, NULL, 10);
		p = nl + 1;
	}
	return -1;
}

int
reactor_http_parse(const uint8_t *data, size_t len, int *status,
    size_t *body_off, struct err *err)
{
	const char *s = (const char *)data, *hend;
	long long clen;
	int code;

	/* The buffer has no terminating NUL: digits are read one by one. */
	if (len < 12 || memcmp(s, "HTTP/1.", 7) != 0 || s[8] != ' ' ||
	    s[9] < '1' || s[9] > '5' || s[10] < '0' || s[10] > '9' ||
	    s[11] < '0' || s[11] > '9')
		return err_set(err, ERR_PROTOCOL, "http: no status line");
	code = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	hend = memmem(s, len, "\r\n\r\n", 4);
	if (hend == NULL)
		return err_set(err, ERR_PROTOCOL, "http: headers never end");
	*body_off = (size_t)(hend - s) + 4;
	clen = reactor_http_clen(s, (size_t)(hend - s) + 2);
	if (clen >= 0 && (size_t)clen != len - *body_off)
		return err_set(err, ERR_PROTOCOL, "http: %zu body bytes, "
		    "Content-Length %lld", len - *body_off, clen);
	*status = code;
	return 0;
}

static void
reactor_http_get_eof(struct reactor_http_get *g)
{
	size_t off;
	int status;
	struct err err;

	if (reactor_http_parse(buf_head(&g->in), buf_used(&g->in), &status,
	    &off, &err) < 0)
		return reactor_http_get_done(g, 0, NULL, 0, &err);
	reactor_http_get_done(g, status, buf_head(&g->in) + off,
	    buf_used(&g->in) - off, NULL);
}

static void
reactor_http_get_io_cb(int fd, int what, void *arg)
{
	struct reactor_http_get *g = arg;
	ssize_t n;

	if ((what & REACTOR_WRITE) && buf_used(&g->out) > 0) {
		n = write(fd, buf_head(&g->out), buf_used(&g->out));
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return reactor_http_get_fail(g, errno,
			    strerror(errno));
		if (n > 0)
			buf_consume(&g->out, (size_t)n);
		if (buf_used(&g->out) == 0)
			reactor_io_set(g->io, REACTOR_READ);
	}
	if (!(what & REACTOR_READ))
		return;
	n = read(fd, buf_reserve(&g->in, 65536), 65536);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0)
		return reactor_http_get_fail(g, errno, strerror(errno));
	if (n == 0)
		return reactor_http_get_eof(g);
	buf_commit(&g->in, (size_t)n);
	if (buf_used(&g->in) > g->max)
		reactor_http_get_fail(g, E2BIG, "answer over the size limit");
}

static void
reactor_http_get_timeout_cb(void *arg)
{
	reactor_http_get_fail(arg, ERR_TIMEOUT, "no answer in time");
}

static void
reactor_http_get_defer_cb(void *arg)
{
	struct reactor_http_get *g = arg;
	struct err err = g->err;

	reactor_http_get_done(g, 0, NULL, 0, &err);
}

static int
reactor_http_connect(const char *sock, struct err *err)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(sock) >= sizeof sun.sun_path)
		return err_set(err, ENAMETOOLONG, "%s: path too long", sock);
	memcpy(sun.sun_path, sock, strlen(sock) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(err, errno, "socket: %m");
	/* A unix connect completes or fails at once (EAGAIN: backlog). */
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
		err_set(err, errno, "connect %s: %m", sock);
		close(fd);
		return -1;
	}
	return fd;
}

void
reactor_http_get(struct reactor *r, const char *sock, const char *path,
    uint64_t timeout_ms, size_t max, reactor_http_get_cb cb, void *arg)
{
	struct reactor_http_get *g = xcalloc(1, sizeof *g);
	char *req = xasprintf("GET %s HTTP/1.0\r\nHost: kiln\r\n"
	    "Connection: close\r\n\r\n", path);

	g->r = r;
	g->max = max;
	g->cb = cb;
	g->arg = arg;
	buf_init(&g->out);
	buf_init(&g->in);
	buf_append(&g->out, req, strlen(req));
	free(req);
	g->timer = reactor_timer_new(r, reactor_http_get_timeout_cb, g);
	if ((g->fd = reactor_http_connect(sock, &g->err)) < 0) {
		/* Callbacks never run inside the call that starts them. */
		reactor_defer(r, reactor_http_get_defer_cb, g);
		return;
	}
	g->io = reactor_io_new(r, g->fd, REACTOR_WRITE | REACTOR_READ,
	    reactor_http_get_io_cb, g);
	reactor_timer_start(g->timer, timeout_ms, false);
}

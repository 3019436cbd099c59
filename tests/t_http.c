/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reactor_http: evhttp on a unix socket answering now and later, 404s,
 * a request held while the server is freed, and the GET client against
 * good, short, lying, oversized and silent peers. Every wait is bounded by a deadline timer, never a sleep.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "reactor/reactor.h"
#include "tests/tap.h"

struct ctx {
	struct reactor		*r;
	struct reactor_http_req	*held;		/* answered later */
	int			 asked;
	int			 answers;
	int			 status;
	char			 body[256];
	char			 err[256];
	bool			 deadline;
};

static void
deadline_cb(void *arg)
{
	struct ctx *c = arg;

	c->deadline = true;
	reactor_stop(c->r);
}

/* Run until the callbacks have seen n answers, or 10 s pass. */
static bool
run_until(struct ctx *c, int n)
{
	struct reactor_timer *t = reactor_timer_new(c->r, deadline_cb, c);

	c->deadline = false;
	reactor_timer_start(t, 10000, false);
	while (c->answers < n && !c->deadline)
		reactor_run_once(c->r, true);
	reactor_timer_free(t);
	return !c->deadline;
}

static void
later_cb(void *arg)
{
	struct ctx *c = arg;

	reactor_http_reply(TAKE_PTR(c->held), 200, "text/plain", "later\n",
	    6);
}

/* /now answers at once, /later from a deferred call, /hold never. */
static void
handler_cb(struct reactor_http_req *q, const char *path, void *arg)
{
	struct ctx *c = arg;

	c->asked++;
	if (strcmp(path, "/now") == 0)
		reactor_http_reply(q, 200, "text/plain; version=0.0.4", "now\n",
		    4);
	else if (strcmp(path, "/later") == 0 || strcmp(path, "/hold") == 0) {
		c->held = q;
		if (strcmp(path, "/later") == 0)
			reactor_defer(c->r, later_cb, c);
		else
			c->answers++;	/* the test goes on while it waits */
	} else
		reactor_http_reply(q, 404, "text/plain", "no\n", 3);
}

static void
got_cb(int status, const uint8_t *body, size_t len, const struct err *err,
    void *arg)
{
	struct ctx *c = arg;

	c->answers++;
	c->status = status;
	snprintf(c->body, sizeof c->body, "%.*s", (int)len,
	    body != NULL ? (const char *)body : "");
	snprintf(c->err, sizeof c->err, "%s", err != NULL ? err->msg : "");
}

static int
listen_unix(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0 ||
	    listen(fd, 8) < 0)
		return -1;
	return fd;
}

static void
get(struct ctx *c, const char *sock, const char *path)
{
	int want = c->answers + 1;

	reactor_http_get(c->r, sock, path, 5000, 1 << 20, got_cb, c);
	run_until(c, want);
}

static void
test_server(struct ctx *c, const char *sock)
{
	struct err err = { 0 };
	struct reactor_http *h;

	h = reactor_http_new(c->r, listen_unix(sock), handler_cb, c, &err);
	ok(h != NULL, "http: evhttp serves a unix socket (%s)", err.msg);
	get(c, sock, "/now");
	ok(c->status == 200 && strcmp(c->body, "now\n") == 0, "http: GET "
	    "/now answered at once (%d%s)", c->status, c->err);
	get(c, sock, "/later?x=1");
	ok(c->status == 200 && strcmp(c->body, "later\n") == 0, "http: GET "
	    "/later answered from a later callback, query ignored (%d)",
	    c->status);
	get(c, sock, "/other");
	ok(c->status == 404, "http: another path is a 404 (%d)", c->status);
	get(c, sock, "/hold");
	ok(c->held != NULL && reactor_http_pending(h) == 1, "http: a held "
	    "request stays pending");
	reactor_http_reply(TAKE_PTR(c->held), 503, "text/plain", "x", 1);
	run_until(c, c->answers + 1);
	ok(c->status == 503, "http: its client gets the late 503 (%d)",
	    c->status);
	ok(reactor_http_pending(h) == 0, "http: nothing pending after");
	get(c, sock, "/hold");
	/* Freed with a request unanswered: dropped, not leaked. */
	c->held = NULL;
	reactor_http_free(h);
	run_until(c, c->answers + 1);
	ok(c->err[0] != '\0', "http: free with a request held closes its "
	    "client (%s)", c->err);
}

/* A scripted peer: accept one client, read its request, say reply. */
struct peer {
	struct ctx		*c;
	int			 lfd, fd;
	const char		*reply;
	struct reactor_io	*io;
};

static void
peer_io_cb(int fd, int what, void *arg)
{
	struct peer *p = arg;
	char buf[1024];

	(void)what;
	if (fd == p->lfd) {
		p->fd = accept(p->lfd, NULL, NULL);
		reactor_io_free(p->io);
		p->io = reactor_io_new(p->c->r, p->fd, REACTOR_READ,
		    peer_io_cb, p);
		return;
	}
	if (read(fd, buf, sizeof buf) > 0 && p->reply != NULL) {
		(void)write_all(fd, p->reply, strlen(p->reply));
		reactor_io_free(p->io);
		p->io = NULL;
		close_fd(&p->fd);
	}
}

static void
peer_says(struct ctx *c, const char *sock, const char *reply,
    uint64_t timeout_ms)
{
	struct peer p = { c, listen_unix(sock), -1, reply, NULL };
	int want = c->answers + 1;

	p.io = reactor_io_new(c->r, p.lfd, REACTOR_READ, peer_io_cb, &p);
	reactor_http_get(c->r, sock, "/metrics", timeout_ms, 4096, got_cb, c);
	run_until(c, want);
	reactor_io_free(p.io);
	close_fd(&p.fd);
	close(p.lfd);
}

static void
test_client(struct ctx *c, const char *sock)
{
	char big[8192];

	peer_says(c, sock, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
	    5000);
	ok(c->status == 200 && strcmp(c->body, "abc") == 0, "http get: a "
	    "good answer (%d %s)", c->status, c->err);
	peer_says(c, sock, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc",
	    5000);
	ok(c->err[0] != '\0', "http get: a body shorter than Content-Length "
	    "is refused (%s)", c->err);
	peer_says(c, sock, "SSH-2.0-OpenSSH\r\n", 5000);
	ok(c->err[0] != '\0', "http get: no status line is refused (%s)",
	    c->err);
	peer_says(c, sock, "HTTP/1.1 200 OK\r\nX: y\r\n", 5000);
	ok(c->err[0] != '\0', "http get: headers that never end are refused "
	    "(%s)", c->err);
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	memcpy(big, "HTTP/1.1 200 OK\r\n\r\n", 19);
	peer_says(c, sock, big, 5000);
	ok(c->err[0] != '\0', "http get: an answer over the limit is refused "
	    "(%s)", c->err);
	peer_says(c, sock, NULL, 200);
	ok(c->err[0] != '\0', "http get: a silent peer times out (%s)",
	    c->err);
	unlink(sock);
	get(c, sock, "/metrics");
	ok(c->err[0] != '\0', "http get: no socket is an error from a later "
	    "callback (%s)", c->err);
}

int
main(void)
{
	struct ctx c = { 0 };
	struct err err = { 0 };
	char sock[64];

	log_init("t_http", LOG_LVL_ERROR, 2);
	snprintf(sock, sizeof sock, "/tmp/t_http-%d.sock", (int)getpid());
	c.r = reactor_new(&err);
	test_server(&c, sock);
	test_client(&c, sock);
	reactor_free(c.r);
	unlink(sock);
	return tap_done();
}

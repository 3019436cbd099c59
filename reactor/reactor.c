/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The reactor on libevent. Each watcher kind keeps a list in the reactor so
 * reactor_free() can release what owners left behind. Child exits come from
 * a pidfd per child when pidfd_open() works (one precise wake-up per exit)
 * and from a SIGCHLD scan otherwise; either path delivers an exit once,
 * because the first waitpid() that returns the pid consumes it.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <event2/event.h>

#include "reactor_int.h"

struct reactor_io {
	LIST_ENTRY(reactor_io)	 entry;
	struct reactor		*r;
	struct event		*ev;
	int			 fd;
	int			 what;
	reactor_io_cb		 cb;
	void			*arg;
};

struct reactor_timer {
	LIST_ENTRY(reactor_timer) entry;
	struct reactor		*r;
	struct event		*ev;
	reactor_timer_cb	 cb;
	void			*arg;
};

struct reactor_sig {
	LIST_ENTRY(reactor_sig)	 entry;
	struct event		*ev;
	reactor_sig_cb		 cb;
	void			*arg;
};

struct reactor_child {
	LIST_ENTRY(reactor_child) entry;
	struct reactor		*r;
	pid_t			 pid;
	int			 pidfd;
	struct event		*ev;	/* on pidfd, or NULL */
	bool			 done;
	reactor_child_cb	 cb;
	void			*arg;
};

struct reactor_deferred {
	TAILQ_ENTRY(reactor_deferred) entry;
	uint64_t		 gen;
	reactor_defer_cb	 cb;
	void			*arg;
};

struct reactor {
	struct event_base	*base;
	struct event		*sigchld;
	struct event		*defer_ev;
	LIST_HEAD(, reactor_io)	 ios;
	LIST_HEAD(, reactor_timer) timers;
	LIST_HEAD(, reactor_sig) sigs;
	LIST_HEAD(, reactor_child) children;
	TAILQ_HEAD(, reactor_deferred) deferred;
	uint64_t		 defer_gen;
	bool			 stopping;
	bool			 pidfd_ok;
	reactor_child_cb	 orphan_cb;
	void			*orphan_arg;
	uint64_t		 wakeups;
};

static void	reactor_sigchld_cb(evutil_socket_t, short, void *);
static void	reactor_defer_run_cb(evutil_socket_t, short, void *);

static int
reactor_pidfd_open(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	errno = ENOSYS;
	return -1;
#endif
}

/*
 * pidfd works if we can open one for ourselves. KILN_REACTOR_NO_PIDFD
 * forces the SIGCHLD path so tests cover both.
 */
static bool
reactor_probe_pidfd(void)
{
	int fd;

	if (getenv("KILN_REACTOR_NO_PIDFD") != NULL)
		return false;
	fd = reactor_pidfd_open(getpid());

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

struct reactor *
reactor_new(struct err *err)
{
	struct event_config *cfg;
	struct reactor *r;

	r = xcalloc(1, sizeof *r);
	LIST_INIT(&r->ios);
	LIST_INIT(&r->timers);
	LIST_INIT(&r->sigs);
	LIST_INIT(&r->children);
	TAILQ_INIT(&r->deferred);
	cfg = event_config_new();
	if (cfg == NULL)
		goto fail;
	/* epoll only: select/poll fall-backs would hide fd-limit bugs. */
	event_config_avoid_method(cfg, "select");
	event_config_avoid_method(cfg, "poll");
	r->base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (r->base == NULL)
		goto fail;
	signal(SIGPIPE, SIG_IGN);
	r->sigchld = evsignal_new(r->base, SIGCHLD, reactor_sigchld_cb, r);
	r->defer_ev = event_new(r->base, -1, 0, reactor_defer_run_cb, r);
	if (r->sigchld == NULL || r->defer_ev == NULL ||
	    evsignal_add(r->sigchld, NULL) < 0)
		goto fail;
	r->pidfd_ok = reactor_probe_pidfd();
	return r;
fail:
	err_set(err, ENOMEM, "cannot create the libevent base");
	reactor_free(r);
	return NULL;
}

void
reactor_free(struct reactor *r)
{
	struct reactor_deferred *d;

	if (r == NULL)
		return;
	while (!LIST_EMPTY(&r->ios))
		reactor_io_free(LIST_FIRST(&r->ios));
	while (!LIST_EMPTY(&r->timers))
		reactor_timer_free(LIST_FIRST(&r->timers));
	while (!LIST_EMPTY(&r->sigs))
		reactor_sig_free(LIST_FIRST(&r->sigs));
	while (!LIST_EMPTY(&r->children))
		reactor_child_free(LIST_FIRST(&r->children));
	while ((d = TAILQ_FIRST(&r->deferred)) != NULL) {
		TAILQ_REMOVE(&r->deferred, d, entry);
		free(d);
	}
	if (r->sigchld != NULL)
		event_free(r->sigchld);
	if (r->defer_ev != NULL)
		event_free(r->defer_ev);
	if (r->base != NULL)
		event_base_free(r->base);
	free(r);
}

int
reactor_run_once(struct reactor *r, bool block)
{
	int ret;

	ret = event_base_loop(r->base, block ? EVLOOP_ONCE :
	    EVLOOP_ONCE | EVLOOP_NONBLOCK);
	if (ret < 0)
		return -1;
	r->wakeups++;
	return 0;
}

int
reactor_run(struct reactor *r)
{
	r->stopping = false;
	while (!r->stopping) {
		if (reactor_run_once(r, true) < 0)
			return -1;
	}
	/* Let deferred calls queued before the stop (frees, flushes) run. */
	while (!TAILQ_EMPTY(&r->deferred))
		reactor_defer_run_cb(-1, 0, r);
	return 0;
}

void
reactor_stop(struct reactor *r)
{
	r->stopping = true;
	event_base_loopbreak(r->base);
}

struct event_base *
reactor_base(struct reactor *r)
{
	return r->base;
}

uint64_t
reactor_wakeups(const struct reactor *r)
{
	return r->wakeups;
}

static void
reactor_io_event_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct reactor_io *io = arg;
	int what = 0;

	if (ev & EV_READ)
		what |= REACTOR_READ;
	if (ev & EV_WRITE)
		what |= REACTOR_WRITE;
	/* The callback may free io: touch nothing after it. */
	io->cb(fd, what, io->arg);
}

struct reactor_io *
reactor_io_new(struct reactor *r, int fd, int what, reactor_io_cb cb,
    void *arg)
{
	struct reactor_io *io = xcalloc(1, sizeof *io);

	io->r = r;
	io->fd = fd;
	io->cb = cb;
	io->arg = arg;
	io->what = -1;
	LIST_INSERT_HEAD(&r->ios, io, entry);
	reactor_io_set(io, what);
	return io;
}

void
reactor_io_set(struct reactor_io *io, int what)
{
	short flags = EV_PERSIST;

	if (what == io->what)
		return;
	if (io->ev != NULL) {
		event_free(io->ev);
		io->ev = NULL;
	}
	io->what = what;
	if (what == 0)
		return;
	if (what & REACTOR_READ)
		flags |= EV_READ;
	if (what & REACTOR_WRITE)
		flags |= EV_WRITE;
	io->ev = event_new(io->r->base, io->fd, flags, reactor_io_event_cb,
	    io);
	if (io->ev == NULL || event_add(io->ev, NULL) < 0)
		fatalx("cannot watch fd %d", io->fd);
}

int
reactor_io_get(const struct reactor_io *io)
{
	return io->what;
}

void
reactor_io_free(struct reactor_io *io)
{
	if (io == NULL)
		return;
	if (io->ev != NULL)
		event_free(io->ev);
	LIST_REMOVE(io, entry);
	free(io);
}

static void
reactor_timer_event_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct reactor_timer *t = arg;

	(void)fd;
	(void)ev;
	t->cb(t->arg);
}

struct reactor_timer *
reactor_timer_new(struct reactor *r, reactor_timer_cb cb, void *arg)
{
	struct reactor_timer *t = xcalloc(1, sizeof *t);

	t->r = r;
	t->cb = cb;
	t->arg = arg;
	LIST_INSERT_HEAD(&r->timers, t, entry);
	return t;
}

void
reactor_timer_start(struct reactor_timer *t, uint64_t ms, bool periodic)
{
	struct timeval tv;

	reactor_timer_stop(t);
	t->ev = event_new(t->r->base, -1, periodic ? EV_PERSIST : 0,
	    reactor_timer_event_cb, t);
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	if (t->ev == NULL || event_add(t->ev, &tv) < 0)
		fatalx("cannot arm timer");
}

void
reactor_timer_stop(struct reactor_timer *t)
{
	if (t->ev != NULL) {
		event_free(t->ev);
		t->ev = NULL;
	}
}

bool
reactor_timer_pending(const struct reactor_timer *t)
{
	return t->ev != NULL && event_pending(t->ev, EV_TIMEOUT, NULL);
}

void
reactor_timer_free(struct reactor_timer *t)
{
	if (t == NULL)
		return;
	reactor_timer_stop(t);
	LIST_REMOVE(t, entry);
	free(t);
}

static void
reactor_sig_event_cb(evutil_socket_t signo, short ev, void *arg)
{
	struct reactor_sig *s = arg;

	(void)ev;
	s->cb((int)signo, s->arg);
}

struct reactor_sig *
reactor_sig_new(struct reactor *r, int signo, reactor_sig_cb cb, void *arg)
{
	struct reactor_sig *s = xcalloc(1, sizeof *s);

	if (signo == SIGCHLD)
		fatalx("SIGCHLD belongs to the reactor");
	s->cb = cb;
	s->arg = arg;
	s->ev = evsignal_new(r->base, signo, reactor_sig_event_cb, s);
	if (s->ev == NULL || evsignal_add(s->ev, NULL) < 0)
		fatalx("cannot watch signal %d", signo);
	LIST_INSERT_HEAD(&r->sigs, s, entry);
	return s;
}

void
reactor_sig_free(struct reactor_sig *s)
{
	if (s == NULL)
		return;
	event_free(s->ev);
	LIST_REMOVE(s, entry);
	free(s);
}

/* Hand one exit to its watcher; the watcher is spent afterwards. */
static void
reactor_child_deliver(struct reactor_child *c, int status)
{
	c->done = true;
	if (c->ev != NULL) {
		event_free(c->ev);
		c->ev = NULL;
	}
	close_fd(&c->pidfd);
	c->cb(c->pid, status, c->arg);
}

/* Reap c if it has exited; true if it was delivered. */
static bool
reactor_child_poll(struct reactor_child *c)
{
	int status;
	pid_t p;

	if (c->done)
		return false;
	do
		p = waitpid(c->pid, &status, WNOHANG);
	while (p < 0 && errno == EINTR);
	if (p != c->pid)
		return false;
	reactor_child_deliver(c, status);
	return true;
}

static void
reactor_pidfd_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	reactor_child_poll(arg);
}

static struct reactor_child *
reactor_child_find(struct reactor *r, pid_t pid)
{
	struct reactor_child *c;

	LIST_FOREACH(c, &r->children, entry)
		if (c->pid == pid && !c->done)
			return c;
	return NULL;
}

/* Orphan mode: reap everything, routing watched pids to their watchers. */
static void
reactor_reap_all(struct reactor *r)
{
	struct reactor_child *c;
	int status;
	pid_t p;

	while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
		c = reactor_child_find(r, p);
		if (c != NULL)
			reactor_child_deliver(c, status);
		else
			r->orphan_cb(p, status, r->orphan_arg);
	}
}

/*
 * SIGCHLD: scan the watched children. A callback may free any watcher, so
 * restart the scan after each delivery instead of holding a next pointer.
 */
static void
reactor_sigchld_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct reactor *r = arg;
	struct reactor_child *c;
	bool again = true;

	(void)fd;
	(void)ev;
	if (r->orphan_cb != NULL) {
		reactor_reap_all(r);
		return;
	}
	while (again) {
		again = false;
		LIST_FOREACH(c, &r->children, entry) {
			if (reactor_child_poll(c)) {
				again = true;
				break;
			}
		}
	}
}

struct reactor_child *
reactor_child_new(struct reactor *r, pid_t pid, reactor_child_cb cb,
    void *arg)
{
	struct reactor_child *c = xcalloc(1, sizeof *c);

	c->r = r;
	c->pid = pid;
	c->cb = cb;
	c->arg = arg;
	c->pidfd = r->pidfd_ok ? reactor_pidfd_open(pid) : -1;
	if (c->pidfd >= 0) {
		c->ev = event_new(r->base, c->pidfd, EV_READ | EV_PERSIST,
		    reactor_pidfd_cb, c);
		if (c->ev == NULL || event_add(c->ev, NULL) < 0)
			fatalx("cannot watch pidfd of %d", (int)pid);
	}
	LIST_INSERT_HEAD(&r->children, c, entry);
	return c;
}

void
reactor_child_free(struct reactor_child *c)
{
	if (c == NULL)
		return;
	if (c->ev != NULL)
		event_free(c->ev);
	close_fd(&c->pidfd);
	LIST_REMOVE(c, entry);
	free(c);
}

bool
reactor_uses_pidfd(const struct reactor *r)
{
	return r->pidfd_ok;
}

void
reactor_reap_orphans(struct reactor *r, reactor_child_cb cb, void *arg)
{
	r->orphan_cb = cb;
	r->orphan_arg = arg;
}

/* Run the calls queued before this turn; later ones wait a turn. */
static void
reactor_defer_run_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct reactor *r = arg;
	struct reactor_deferred *d;
	uint64_t gen = ++r->defer_gen;

	(void)fd;
	(void)ev;
	while ((d = TAILQ_FIRST(&r->deferred)) != NULL && d->gen < gen) {
		TAILQ_REMOVE(&r->deferred, d, entry);
		d->cb(d->arg);
		free(d);
	}
	if (!TAILQ_EMPTY(&r->deferred))
		event_active(r->defer_ev, 0, 0);
}

void
reactor_defer(struct reactor *r, reactor_defer_cb cb, void *arg)
{
	struct reactor_deferred *d = xcalloc(1, sizeof *d);

	d->gen = r->defer_gen;
	d->cb = cb;
	d->arg = arg;
	TAILQ_INSERT_TAIL(&r->deferred, d, entry);
	event_active(r->defer_ev, 0, 0);
}

void
reactor_defer_cancel(struct reactor *r, void *arg)
{
	struct reactor_deferred *d, *next;

	for (d = TAILQ_FIRST(&r->deferred); d != NULL; d = next) {
		next = TAILQ_NEXT(d, entry);
		if (d->arg != arg)
			continue;
		TAILQ_REMOVE(&r->deferred, d, entry);
		free(d);
	}
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The reactor: timers in order, periodic timers, fd readiness and write
 * interest, child exit status by pidfd and by SIGCHLD, signals, deferred
 * calls, orphan reaping, and a stop that frees what owners left behind.
 * Each wait is bounded by a generous deadline timer, never a sleep.
 */
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "reactor/reactor.h"
#include "tests/tap.h"

struct ctx {
	struct reactor	*r;
	int		 order[8];
	int		 norder;
	int		 ticks;
	int		 status;
	pid_t		 pid;
	int		 signo;
	char		 got[64];
	int		 writable;
	bool		 deadline;
	bool		 inside_defer;
	bool		 ran_inside;
};

static void
deadline_cb(void *arg)
{
	struct ctx *c = arg;

	c->deadline = true;
	reactor_stop(c->r);
}

/* Run the loop until a callback stops it or 10 s pass. */
static bool
run_until_stop(struct ctx *c)
{
	struct reactor_timer *t = reactor_timer_new(c->r, deadline_cb, c);

	c->deadline = false;
	reactor_timer_start(t, 10000, false);
	reactor_run(c->r);
	reactor_timer_free(t);
	return !c->deadline;
}

struct order_timer {
	struct ctx	*c;
	int		 id;
	int		 last;
};

static void
order_cb(void *arg)
{
	struct order_timer *ot = arg;

	ot->c->order[ot->c->norder++] = ot->id;
	if (ot->last)
		reactor_stop(ot->c->r);
}

static void
test_timers(struct ctx *c)
{
	struct order_timer ots[3] = { { c, 3, 1 }, { c, 1, 0 }, { c, 2, 0 } };
	uint64_t ms[3] = { 60, 20, 40 };
	struct reactor_timer *t[3];
	int i;

	c->norder = 0;
	for (i = 0; i < 3; i++) {
		t[i] = reactor_timer_new(c->r, order_cb, &ots[i]);
		reactor_timer_start(t[i], ms[i], false);
	}
	ok(reactor_timer_pending(t[0]), "reactor: armed timer is pending");
	ok(run_until_stop(c), "reactor: timers fired before the deadline");
	ok(c->norder == 3 && c->order[0] == 1 && c->order[1] == 2 &&
	    c->order[2] == 3, "reactor: one-shot timers fire in due order");
	ok(!reactor_timer_pending(t[0]), "reactor: fired one-shot is no "
	    "longer pending");
	for (i = 0; i < 3; i++)
		reactor_timer_free(t[i]);
}

static void
tick_cb(void *arg)
{
	struct ctx *c = arg;

	if (++c->ticks == 5)
		reactor_stop(c->r);
}

static void
test_periodic(struct ctx *c)
{
	struct reactor_timer *t = reactor_timer_new(c->r, tick_cb, c);

	c->ticks = 0;
	reactor_timer_start(t, 5, true);
	ok(run_until_stop(c) && c->ticks == 5, "reactor: periodic timer "
	    "fires repeatedly");
	reactor_timer_stop(t);
	ok(!reactor_timer_pending(t), "reactor: stopped timer is idle");
	reactor_timer_free(t);
}

static void
read_cb(int fd, int what, void *arg)
{
	struct ctx *c = arg;
	ssize_t n;

	if ((what & REACTOR_READ) == 0)
		return;
	n = read(fd, c->got, sizeof c->got - 1);
	c->got[n > 0 ? n : 0] = '\0';
	reactor_stop(c->r);
}

static void
write_cb(int fd, int what, void *arg)
{
	struct ctx *c = arg;

	(void)fd;
	if (what & REACTOR_WRITE)
		c->writable++;
	reactor_stop(c->r);
}

static void
test_fds(struct ctx *c)
{
	struct reactor_io *rio, *wio;
	int sv[2];

	socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv);
	rio = reactor_io_new(c->r, sv[0], REACTOR_READ, read_cb, c);
	wio = reactor_io_new(c->r, sv[1], 0, write_cb, c);
	write(sv[1], "ping", 4);
	ok(run_until_stop(c), "reactor: read readiness arrives");
	is_str(c->got, "ping", "reactor: read callback got the bytes");
	ok(c->writable == 0, "reactor: no write callback without write "
	    "interest");
	reactor_io_set(wio, REACTOR_WRITE);
	is_int(reactor_io_get(wio), REACTOR_WRITE, "reactor: interest "
	    "changed");
	ok(run_until_stop(c) && c->writable == 1, "reactor: write readiness "
	    "once interest is set");
	reactor_io_free(rio);
	reactor_io_free(wio);
	close(sv[0]);
	close(sv[1]);
}

static void
child_cb(pid_t pid, int status, void *arg)
{
	struct ctx *c = arg;

	c->pid = pid;
	c->status = status;
	reactor_stop(c->r);
}

/*
 * Start a child that exits with code, or kills itself with sig. It execs
 * a shell so leak checkers see a fresh image, not a copy of this one.
 */
static pid_t
spawn(int code, int sig)
{
	char script[64];
	pid_t pid;

	if (sig != 0)
		snprintf(script, sizeof script, "kill -%d $$", sig);
	else
		snprintf(script, sizeof script, "exit %d", code);
	pid = fork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", script, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void
test_children(struct ctx *c, const char *how)
{
	struct reactor_child *ch;
	pid_t pid;

	pid = spawn(7, 0);
	ch = reactor_child_new(c->r, pid, child_cb, c);
	ok(run_until_stop(c) && c->pid == pid, "reactor (%s): child exit "
	    "delivered", how);
	ok(WIFEXITED(c->status) && WEXITSTATUS(c->status) == 7,
	    "reactor (%s): exit code 7 reported", how);
	reactor_child_free(ch);
	pid = spawn(0, SIGTERM);
	ch = reactor_child_new(c->r, pid, child_cb, c);
	ok(run_until_stop(c) && WIFSIGNALED(c->status) &&
	    WTERMSIG(c->status) == SIGTERM, "reactor (%s): death by SIGTERM "
	    "reported", how);
	reactor_child_free(ch);
}

static void
sig_cb(int signo, void *arg)
{
	struct ctx *c = arg;

	c->signo = signo;
	reactor_stop(c->r);
}

static void
test_signals(struct ctx *c)
{
	struct reactor_sig *s = reactor_sig_new(c->r, SIGUSR1, sig_cb, c);

	kill(getpid(), SIGUSR1);
	ok(run_until_stop(c) && c->signo == SIGUSR1, "reactor: SIGUSR1 "
	    "delivered as an event");
	reactor_sig_free(s);
	ok(signal(SIGPIPE, SIG_IGN) == SIG_IGN, "reactor: SIGPIPE is "
	    "ignored");
}

static void
defer_cb(void *arg)
{
	struct order_timer *ot = arg;

	if (ot->c->inside_defer)
		ot->c->ran_inside = true;
	order_cb(arg);
}

static void
test_defer(struct ctx *c)
{
	struct order_timer ots[4] = { { c, 1, 0 }, { c, 2, 0 }, { c, 9, 0 },
	    { c, 3, 1 } };
	int i;

	c->norder = 0;
	c->inside_defer = true;
	for (i = 0; i < 4; i++)
		reactor_defer(c->r, defer_cb, &ots[i]);
	reactor_defer_cancel(c->r, &ots[2]);
	c->inside_defer = false;
	ok(!c->ran_inside, "reactor: deferred calls never run inside "
	    "reactor_defer");
	ok(run_until_stop(c), "reactor: deferred calls ran");
	ok(c->norder == 3 && c->order[0] == 1 && c->order[1] == 2 &&
	    c->order[2] == 3, "reactor: deferred calls run FIFO, cancelled "
	    "one skipped");
}

static void
orphan_cb(pid_t pid, int status, void *arg)
{
	struct ctx *c = arg;

	c->pid = pid;
	c->status = status;
	reactor_stop(c->r);
}

static void
test_orphans(struct ctx *c)
{
	pid_t pid;

	reactor_reap_orphans(c->r, orphan_cb, c);
	pid = spawn(3, 0);
	ok(run_until_stop(c) && c->pid == pid && WEXITSTATUS(c->status) == 3,
	    "reactor: unwatched child reaped by the orphan handler");
}

static void
noop_io_cb(int fd, int what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static void
noop_cb(void *arg)
{
	(void)arg;
}

int
main(void)
{
	struct ctx c = { 0 };
	struct err err = { 0 };
	int sv[2];

	log_init("t_reactor", LOG_LVL_ERROR, 2);
	c.r = reactor_new(&err);
	ok(c.r != NULL, "reactor: created");
	test_timers(&c);
	test_periodic(&c);
	test_fds(&c);
	test_children(&c, reactor_uses_pidfd(c.r) ? "pidfd" : "sigchld");
	test_signals(&c);
	test_defer(&c);
	reactor_free(c.r);

	setenv("KILN_REACTOR_NO_PIDFD", "1", 1);
	c.r = reactor_new(&err);
	ok(!reactor_uses_pidfd(c.r), "reactor: pidfd can be turned off");
	test_children(&c, "sigchld");
	test_orphans(&c);
	/* Leave watchers registered: reactor_free must release them. */
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	reactor_io_new(c.r, sv[0], REACTOR_READ, noop_io_cb, NULL);
	reactor_timer_start(reactor_timer_new(c.r, noop_cb, NULL), 1000,
	    true);
	reactor_defer(c.r, noop_cb, NULL);
	reactor_child_new(c.r, spawn(0, 0), child_cb, &c);
	reactor_free(c.r);
	ok(true, "reactor: free releases leftover watchers (leak checkers "
	    "confirm)");
	close(sv[0]);
	close(sv[1]);
	return tap_done();
}

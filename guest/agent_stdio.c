/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Container stdio in the guest: pipes to and from the process, carried to
 * the host as StreamFrames with credit-based flow control (proto.h,
 * PROTO_STREAM_WINDOW). The agent reads a stdout/stderr pipe only while
 * the host has granted credit, so a slow host reader pushes back on the
 * container through the pipe instead of growing a buffer here; stdin data
 * from the host is bounded by the window the agent grants.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>

#include "guest/agent.h"

static void	stdio_out_cb(int, int, void *);
static void	stdio_in_cb(int, int, void *);

static bool
stdio_is_out(const struct agent_stream *s)
{
	return s->fd_no != 0;
}

static void
stdio_watch(struct agent_stream *s)
{
	struct agent *a = s->p->c->a;
	int what = 0;

	if (s->fd < 0)
		return;
	if (stdio_is_out(s) && s->credit > 0 && a->conn != NULL &&
	    !a->hanging)
		what = REACTOR_READ;
	if (!stdio_is_out(s) && buf_used(&s->pending) > 0)
		what = REACTOR_WRITE;
	if (s->io == NULL)
		s->io = reactor_io_new(a->r, s->fd, what, stdio_is_out(s) ?
		    stdio_out_cb : stdio_in_cb, s);
	else
		reactor_io_set(s->io, what);
}

static void
stdio_close_stream(struct agent_stream *s)
{
	reactor_io_free(s->io);
	s->io = NULL;
	close_fd(&s->fd);
}

int
agent_stdio_open(struct agent_process *p, int child[3], bool want_stdin,
    struct err *err)
{
	int fds[2], i;

	for (i = 0; i < 3; i++) {
		p->streams[i].opened = true;
		if (i == 0 && !want_stdin)
			continue;
		if (pipe2(fds, O_CLOEXEC) < 0) {
			agent_stdio_close(p);
			return err_set(err, errno, "pipe: %m");
		}
		/* The child's end: read end for stdin, write end otherwise. */
		child[i] = i == 0 ? fds[0] : fds[1];
		p->streams[i].fd = i == 0 ? fds[1] : fds[0];
		fd_set_nonblock_cloexec(p->streams[i].fd);
		stdio_watch(&p->streams[i]);
	}
	if (!want_stdin)
		p->streams[0].eof_seen = true;
	/* Stdin that came (and maybe ended) before the process existed. */
	if (p->streams[0].eof_seen && buf_used(&p->streams[0].pending) == 0)
		stdio_close_stream(&p->streams[0]);
	return 0;
}

void
agent_stdio_adopt_pty(struct agent_process *p, int master)
{
	int i;

	for (i = 0; i < 3; i++)
		p->streams[i].opened = true;
	fd_set_nonblock_cloexec(master);
	p->streams[1].fd = master;
	p->streams[0].fd = p->want_stdin ? fcntl(master, F_DUPFD_CLOEXEC, 3) :
	    -1;
	if (!p->want_stdin)
		p->streams[0].eof_seen = true;
	/* A terminal has one output stream: stderr is the pty too. */
	p->streams[2].eof_seen = p->streams[2].eof_sent = true;
	if (p->winsize.rows > 0)
		(void)agent_stdio_resize(p, p->winsize.rows, p->winsize.cols,
		    NULL);
	for (i = 0; i < 2; i++)
		stdio_watch(&p->streams[i]);
	if (p->streams[0].eof_seen && buf_used(&p->streams[0].pending) == 0)
		stdio_close_stream(&p->streams[0]);
}

int
agent_stdio_resize(struct agent_process *p, uint16_t rows, uint16_t cols,
    struct err *err)
{
	struct winsize ws = { .ws_row = rows, .ws_col = cols };

	p->winsize.rows = rows;
	p->winsize.cols = cols;
	if (!p->terminal || p->streams[1].fd < 0)
		return 0;	/* applied when the pty arrives */
	if (ioctl(p->streams[1].fd, TIOCSWINSZ, &ws) < 0)
		return err_set(err, errno, "TIOCSWINSZ: %m");
	return 0;
}

void
agent_stdio_close(struct agent_process *p)
{
	int i;

	for (i = 0; i < 3; i++) {
		stdio_close_stream(&p->streams[i]);
		buf_fini(&p->streams[i].pending);
	}
}

/* Both output streams have sent EOF (or never existed). */
static void
stdio_check_done(struct agent_process *p)
{
	struct err err;

	if (p->io_done || p->streams[1].fd >= 0 || p->streams[2].fd >= 0)
		return;
	p->io_done = true;
	(void)agent_proc_event(p, AGENT_PROC_EV_IO_DONE, NULL, &err);
}

static void
stdio_send(struct agent_stream *s, const uint8_t *data, size_t len,
    bool eof, uint32_t credit)
{
	struct agent_process *p = s->p;
	struct proto_stream_msg m = { p->c->id, p->exec_id, s->fd_no, data,
	    len, eof, credit };
	struct err err;

	if (p->c->a->conn != NULL)
		(void)proto_stream_send(p->c->a->conn, &m, &err);
}

/*
 * Output from the process: while the host grants credit, read and send a
 * few chunks per callback (a loop turn per pipe write is costly in an
 * emulated guest), then wait for more credit or more data.
 */
static void
stdio_out_cb(int fd, int what, void *arg)
{
	struct agent_stream *s = arg;
	uint8_t buf[PROTO_STREAM_CHUNK];
	int rounds;
	ssize_t n;

	(void)what;
	for (rounds = 0; rounds < 8 && s->credit > 0; rounds++) {
		n = read(fd, buf, s->credit < sizeof buf ? s->credit :
		    sizeof buf);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n <= 0) {
			stdio_send(s, NULL, 0, true, 0);
			s->eof_seen = s->eof_sent = true;
			stdio_close_stream(s);
			stdio_check_done(s->p);
			return;
		}
		stdio_send(s, buf, (size_t)n, false, 0);
		s->credit -= (uint32_t)n;
	}
	/* Output is moving: the drain watchdog restarts. */
	if (s->p->exited)
		reactor_timer_start(s->p->timer, AGENT_DRAIN_MS, false);
	stdio_watch(s);
}

/* Credit the host for what reached the pipe, in quarter windows. */
static void
stdio_credit(struct agent_stream *s, bool force)
{
	if (s->unacked == 0 || (!force && s->unacked < PROTO_STREAM_WINDOW / 4))
		return;
	stdio_send(s, NULL, 0, false, (uint32_t)s->unacked);
	s->unacked = 0;
}

static void
stdio_in_cb(int fd, int what, void *arg)
{
	struct agent_stream *s = arg;
	ssize_t n;

	(void)what;
	n = write(fd, buf_head(&s->pending), buf_used(&s->pending));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		/* The reader is gone: what is left can never be delivered. */
		buf_consume(&s->pending, buf_used(&s->pending));
		stdio_close_stream(s);
		return;
	}
	buf_consume(&s->pending, (size_t)n);
	s->unacked += (size_t)n;
	stdio_credit(s, buf_used(&s->pending) == 0);
	if (buf_used(&s->pending) == 0 && s->eof_seen)
		stdio_close_stream(s);
	else
		stdio_watch(s);
}

void
agent_stdio_close_stdin(struct agent_process *p)
{
	struct agent_stream *s = &p->streams[0];

	s->eof_seen = true;
	if (s->opened && (buf_used(&s->pending) == 0 || p->exited))
		stdio_close_stream(s);
}

void
agent_stdio_kick(struct agent_process *p)
{
	int i;

	for (i = 0; i < 3; i++)
		stdio_watch(&p->streams[i]);
}

/*
 * Stdin data or EOF from the host. Before the process exists (an exec
 * between Exec and Start) it is kept, within the window, for the pipe.
 */
static void
stdio_host_data(struct agent_stream *s, const struct proto_stream_msg *m)
{
	if ((s->opened && s->fd < 0) || s->eof_seen) {
		log_debug("stdin of %s/%s closed, %zu bytes dropped",
		    s->p->c->id, s->p->exec_id, m->len);
		return;
	}
	if (buf_used(&s->pending) + m->len > PROTO_STREAM_WINDOW) {
		log_warnx("host overran the stdin window of %s/%s",
		    s->p->c->id, s->p->exec_id);
		return;
	}
	buf_append(&s->pending, m->data, m->len);
	if (m->eof)
		agent_stdio_close_stdin(s->p);
	else
		stdio_watch(s);
}

/* Credit from the host for stdout/stderr. */
static void
stdio_host_credit(struct agent_stream *s, uint32_t credit)
{
	s->credit += credit;
	if (s->credit > PROTO_STREAM_WINDOW)
		s->credit = PROTO_STREAM_WINDOW;
	stdio_watch(s);
}

void
agent_stdio_frame(struct agent *a, const uint8_t *data, size_t len)
{
	struct Kiln__Agent__V1__StreamFrame *f;
	struct agent_container *c;
	struct agent_process *p;
	struct proto_stream_msg m;
	struct err err;

	if (proto_stream_decode(data, len, &f, &m, &err) < 0) {
		log_warnx("%s", err.msg);
		return;
	}
	c = agent_container_find(a, m.container_id);
	p = c != NULL ? agent_process_find(c, m.exec_id) : NULL;
	if (p == NULL)
		log_debug("stream frame for unknown %s/%s", m.container_id,
		    m.exec_id);
	else if (m.fd == 0)
		stdio_host_data(&p->streams[0], &m);
	else
		stdio_host_credit(&p->streams[m.fd], m.credit);
	proto_stream_free(f);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerd's stdio fifos bridged to the agent's stream frames, without
 * ever blocking the reactor (reference section 5).
 *
 * Output (stdout/stderr): frames from the guest are queued and written to
 * the fifo as it accepts them; the guest is credited only for bytes that
 * reached the fifo, so a slow reader (ctr) slows the container down
 * instead of growing a buffer here. Like runc we keep a read end of each
 * output fifo open, so a reader that leaves does not turn into EPIPE.
 * Input (stdin): read only while the agent has granted credit; a read of
 * 0 after readiness is ctr closing its end, which becomes the EOF frame.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "core/core_int.h"

struct core_stdio_stream {
	struct core_stdio	*s;		/* borrowed: owner */
	uint32_t		 fd_no;
	int			 fd;
	int			 keep_rd;	/* our reader of an out fifo */
	struct reactor_io	*io;
	struct buf		 pending;	/* out: for the fifo */
	size_t			 to_credit;	/* out: written, not credited */
	bool			 guest_eof;	/* out: EOF frame arrived */
	bool			 done;		/* closed, nothing pending */
	bool			 direct;	/* out: a regular file */
};

struct core_stdio {
	struct reactor		*r;		/* borrowed */
	char			 cid[PROTO_ID_MAX + 1];
	char			 eid[PROTO_ID_MAX + 1];
	struct proto_conn	*conn;		/* borrowed; NULL if none */
	struct core_stdio_stream streams[3];
	uint32_t		 stdin_credit;
	bool			 stdin_eof_sent;
	core_stdio_drained_cb	 drained_cb;
	void			*drained_arg;
	bool			 drained;
};

static void	stdio_in_cb(int, int, void *);
static void	stdio_out_cb(int, int, void *);

static void
stdio_send(struct core_stdio *s, uint32_t fd, const uint8_t *data,
    size_t len, bool eof, uint32_t credit)
{
	struct proto_stream_msg m = { s->cid, s->eid, fd, data, len, eof,
	    credit };
	struct err err;

	if (s->conn != NULL)
		(void)proto_stream_send(s->conn, &m, &err);
}

static void
stdio_watch(struct core_stdio_stream *st)
{
	struct core_stdio *s = st->s;
	int what = 0;

	if (st->fd < 0 || st->direct)
		return;
	if (st->fd_no == 0 && s->conn != NULL && s->stdin_credit > 0)
		what = REACTOR_READ;
	if (st->fd_no != 0 && buf_used(&st->pending) > 0)
		what = REACTOR_WRITE;
	if (st->io == NULL)
		st->io = reactor_io_new(s->r, st->fd, what, st->fd_no == 0 ?
		    stdio_in_cb : stdio_out_cb, st);
	else
		reactor_io_set(st->io, what);
}

static void
stdio_close(struct core_stdio_stream *st)
{
	reactor_io_free(st->io);
	st->io = NULL;
	close_fd(&st->fd);
	close_fd(&st->keep_rd);
	st->done = true;
}

/* Tell the waiter, once, when both output streams are done. */
static void
stdio_check_drained(struct core_stdio *s)
{
	if (s->drained || s->drained_cb == NULL || !s->streams[1].done ||
	    !s->streams[2].done)
		return;
	s->drained = true;
	s->drained_cb(s->drained_arg);
}

/* Open one fifo (or regular file for output) named by containerd. */
static int
stdio_open(struct core_stdio_stream *st, const char *path, struct err *err)
{
	struct stat sb;

	if (path == NULL || path[0] == '\0') {
		st->done = true;
		return 0;
	}
	if (strstr(path, "://") != NULL)
		return err_set(err, ERR_UNIMPLEMENTED, "stdio URI %s: only "
		    "fifos and files are supported", path);
	if (st->fd_no == 0)
		st->fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	else if (stat(path, &sb) == 0 && S_ISFIFO(sb.st_mode)) {
		/* A reader first, so the writer's open cannot fail ENXIO. */
		st->keep_rd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		st->fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	} else
		st->fd = open(path, O_WRONLY | O_APPEND | O_CREAT |
		    O_NONBLOCK | O_CLOEXEC, 0600);
	if (st->fd < 0)
		return err_set(err, errno, "open %s: %m", path);
	/*
	 * epoll refuses regular files and most devices (EPERM), and the
	 * reactor treats a refused registration as a broken invariant. So
	 * only fifos and sockets are watched; a regular output file, which
	 * never makes a writer wait, is written at once; anything else is
	 * refused here rather than crashing the shim later.
	 */
	if (fstat(st->fd, &sb) < 0)
		return err_set(err, errno, "stat %s: %m", path);
	if (st->fd_no != 0 && S_ISREG(sb.st_mode))
		st->direct = true;
	else if (!S_ISFIFO(sb.st_mode) && !S_ISSOCK(sb.st_mode))
		return err_set(err, EINVAL, "%s %s: not a fifo%s", st->fd_no ==
		    0 ? "stdin" : "output", path, st->fd_no == 0 ? "" :
		    " or a regular file");
	stdio_watch(st);
	return 0;
}

struct core_stdio *
core_stdio_new(struct reactor *r, const char *cid, const char *eid,
    const char *in, const char *out, const char *errp, struct err *err)
{
	struct core_stdio *s = xcalloc(1, sizeof *s);
	const char *paths[3] = { in, out, errp };
	int i;

	s->r = r;
	snprintf(s->cid, sizeof s->cid, "%s", cid);
	snprintf(s->eid, sizeof s->eid, "%s", eid);
	s->stdin_credit = PROTO_STREAM_WINDOW;
	for (i = 0; i < 3; i++) {
		s->streams[i].s = s;
		s->streams[i].fd_no = (uint32_t)i;
		s->streams[i].fd = s->streams[i].keep_rd = -1;
		buf_init(&s->streams[i].pending);
	}
	for (i = 0; i < 3; i++)
		if (stdio_open(&s->streams[i], paths[i], err) < 0) {
			core_stdio_free(s);
			return NULL;
		}
	return s;
}

void
core_stdio_attach(struct core_stdio *s, struct proto_conn *conn)
{
	s->conn = conn;
	stdio_watch(&s->streams[0]);
}

/* stdin: the fifo is readable (data, or ctr closed its end). */
static void
stdio_in_cb(int fd, int what, void *arg)
{
	struct core_stdio_stream *st = arg;
	struct core_stdio *s = st->s;
	uint8_t buf[PROTO_STREAM_CHUNK];
	size_t want = s->stdin_credit < sizeof buf ? s->stdin_credit :
	    sizeof buf;
	ssize_t n;

	(void)what;
	n = read(fd, buf, want);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		core_stdio_close_stdin(s);
		return;
	}
	stdio_send(s, 0, buf, (size_t)n, false, 0);
	s->stdin_credit -= (uint32_t)n;
	stdio_watch(st);
}

void
core_stdio_close_stdin(struct core_stdio *s)
{
	if (!s->stdin_eof_sent) {
		stdio_send(s, 0, NULL, 0, true, 0);
		s->stdin_eof_sent = true;
	}
	stdio_close(&s->streams[0]);
}

/* Credit the guest in quarter windows, or at once when caught up. */
static void
stdio_credit(struct core_stdio_stream *st)
{
	if (st->to_credit == 0 || (buf_used(&st->pending) > 0 &&
	    st->to_credit < PROTO_STREAM_WINDOW / 4))
		return;
	stdio_send(st->s, st->fd_no, NULL, 0, false,
	    (uint32_t)st->to_credit);
	st->to_credit = 0;
}

static void
stdio_out_done_if_flushed(struct core_stdio_stream *st)
{
	if (st->guest_eof && buf_used(&st->pending) == 0) {
		stdio_close(st);
		stdio_check_drained(st->s);
	}
}

static void
stdio_out_cb(int fd, int what, void *arg)
{
	struct core_stdio_stream *st = arg;
	ssize_t n;

	(void)what;
	n = write(fd, buf_head(&st->pending), buf_used(&st->pending));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		/* Nobody will ever read it: drop, and keep the guest going. */
		log_debug("stdio %s/%s fd %u: %m, output dropped", st->s->cid,
		    st->s->eid, st->fd_no);
		n = (ssize_t)buf_used(&st->pending);
	}
	buf_consume(&st->pending, (size_t)n);
	st->to_credit += (size_t)n;
	stdio_credit(st);
	stdio_watch(st);
	stdio_out_done_if_flushed(st);
}

void
core_stdio_frame(struct core_stdio *s, const struct proto_stream_msg *m)
{
	struct core_stdio_stream *st = &s->streams[m->fd];

	if (m->fd == 0) {
		s->stdin_credit += m->credit;
		if (s->stdin_credit > PROTO_STREAM_WINDOW)
			s->stdin_credit = PROTO_STREAM_WINDOW;
		stdio_watch(st);
		return;
	}
	if (st->done || st->guest_eof) {
		/* Nowhere to put it: credit it back so the guest goes on. */
		if (m->len > 0)
			stdio_send(s, m->fd, NULL, 0, false, (uint32_t)m->len);
		return;
	}
	if (buf_used(&st->pending) + m->len > PROTO_STREAM_WINDOW) {
		log_warnx("stdio %s/%s: guest overran its output window, "
		    "%zu bytes dropped", s->cid, s->eid, m->len);
		return;
	}
	buf_append(&st->pending, m->data, m->len);
	if (m->eof)
		st->guest_eof = true;
	if (st->direct) {
		/* Written, credited and maybe closed, as on readiness. */
		stdio_out_cb(st->fd, REACTOR_WRITE, st);
		return;
	}
	stdio_credit(st);
	stdio_watch(st);
	stdio_out_done_if_flushed(st);
}

void
core_stdio_when_drained(struct core_stdio *s, core_stdio_drained_cb cb,
    void *arg)
{
	int i;

	s->drained_cb = cb;
	s->drained_arg = arg;
	/* Without a guest any more, flush what is here and finish. */
	if (s->conn == NULL)
		for (i = 1; i < 3; i++) {
			s->streams[i].guest_eof = true;
			stdio_out_done_if_flushed(&s->streams[i]);
		}
	stdio_check_drained(s);
}

void
core_stdio_free(struct core_stdio *s)
{
	int i;

	if (s == NULL)
		return;
	for (i = 0; i < 3; i++) {
		stdio_close(&s->streams[i]);
		buf_fini(&s->streams[i].pending);
	}
	free(s);
}

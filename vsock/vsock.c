/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host end of the agent channel: connect (unix chardev socket or
 * AF_VSOCK), read exactly the greeting frame, then hand the fd to a ttrpc
 * client connection. User callbacks run from deferred calls, outside any
 * dispatch, so they may dispatch their own machines or free the channel.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <linux/vm_sockets.h>

#include "vsock/vsock_int.h"

#define VSOCK_RETRY_MS	10

static void	vsock_try_connect(struct vsock_chan *);

static void
vsock_event(struct vsock_chan *ch, int ev)
{
	struct err err;

	(void)fsm_dispatch(&ch->fsm, ev, NULL, &err);
}

static void
vsock_timeout_cb(void *arg)
{
	struct vsock_chan *ch = arg;

	err_set(&ch->why, ERR_TIMEOUT, "%s: no agent greeting in time",
	    ch->name);
	vsock_event(ch, VSOCK_EV_TIMEOUT);
}

static void
vsock_retry_cb(void *arg)
{
	vsock_try_connect(arg);
}

static struct vsock_chan *
vsock_new(struct reactor *r, struct fsm_env *env, const struct vsock_opts *o)
{
	struct vsock_chan *ch = xcalloc(1, sizeof *ch);

	ch->r = r;
	ch->env = env;
	ch->opts = *o;
	if (ch->opts.timeout_ms == 0)
		ch->opts.timeout_ms = 30000;
	snprintf(ch->name, sizeof ch->name, "%s", o->name != NULL ? o->name :
	    "agent");
	ch->fd = -1;
	ch->timeout = reactor_timer_new(r, vsock_timeout_cb, ch);
	ch->retry = reactor_timer_new(r, vsock_retry_cb, ch);
	fsm_init(&ch->fsm, &vsock_fsm_def, env, ch->name, ch);
	reactor_timer_start(ch->timeout, ch->opts.timeout_ms, false);
	return ch;
}

/* One non-blocking connect attempt; the outcome arrives as an event. */
static int
vsock_connect_once(struct vsock_chan *ch)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct sockaddr_vm svm = { .svm_family = AF_VSOCK };
	struct sockaddr *sa;
	socklen_t len;
	int fd;

	fd = socket(ch->is_vsock ? AF_VSOCK : AF_UNIX, SOCK_STREAM |
	    SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (ch->is_vsock) {
		svm.svm_cid = ch->cid;
		svm.svm_port = ch->port;
		sa = (struct sockaddr *)&svm;
		len = sizeof svm;
	} else {
		memcpy(sun.sun_path, ch->path, strlen(ch->path) + 1);
		sa = (struct sockaddr *)&sun;
		len = sizeof sun;
	}
	if (connect(fd, sa, len) < 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	ch->fd = fd;
	return 0;
}

static void
vsock_connected_cb(int fd, int what, void *arg)
{
	struct vsock_chan *ch = arg;
	socklen_t len = sizeof(int);
	int soerr = 0;

	(void)what;
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
	reactor_io_free(ch->io);
	ch->io = NULL;
	if (soerr != 0) {
		close_fd(&ch->fd);
		vsock_event(ch, VSOCK_EV_DIAL_RETRY);
		return;
	}
	vsock_event(ch, VSOCK_EV_CONNECTED);
}

static void
vsock_try_connect(struct vsock_chan *ch)
{
	if (vsock_connect_once(ch) < 0) {
		vsock_event(ch, VSOCK_EV_DIAL_RETRY);
		return;
	}
	/* Completion (or refusal) shows up as write readiness. */
	ch->io = reactor_io_new(ch->r, ch->fd, REACTOR_WRITE,
	    vsock_connected_cb, ch);
}

struct vsock_chan *
vsock_dial_serial(struct reactor *r, struct fsm_env *env, const char *path,
    const struct vsock_opts *o, struct err *err)
{
	struct sockaddr_un sun;
	struct vsock_chan *ch;

	if (strlen(path) >= sizeof sun.sun_path)
		return err_set(err, ENAMETOOLONG, "socket path too long: %s",
		    path), NULL;
	ch = vsock_new(r, env, o);
	ch->path = xstrdup(path);
	vsock_try_connect(ch);
	return ch;
}

struct vsock_chan *
vsock_dial_vsock(struct reactor *r, struct fsm_env *env, unsigned cid,
    unsigned port, const struct vsock_opts *o, struct err *err)
{
	struct vsock_chan *ch;

	(void)err;
	ch = vsock_new(r, env, o);
	ch->is_vsock = true;
	ch->cid = cid;
	ch->port = port;
	vsock_try_connect(ch);
	return ch;
}

bool
vsock_host_has_vsock(void)
{
	return access("/dev/vhost-vsock", F_OK) == 0;
}

struct proto_conn *
vsock_conn(const struct vsock_chan *ch)
{
	return ch->fsm.state == VSOCK_ST_READY ? ch->conn : NULL;
}

bool
vsock_ready(const struct vsock_chan *ch)
{
	return ch->fsm.state == VSOCK_ST_READY;
}

/* Read up to want bytes of the greeting; false if not there yet. */
static bool
vsock_hello_fill(struct vsock_chan *ch, int fd, size_t want)
{
	ssize_t n;

	if (ch->hello_len >= want)
		return true;
	n = read(fd, ch->hello + ch->hello_len, want - ch->hello_len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return false;
	if (n <= 0) {
		err_set(&ch->why, ERR_CLOSED, "%s: closed before the greeting",
		    ch->name);
		vsock_event(ch, VSOCK_EV_CONN_CLOSED);
		return false;
	}
	ch->hello_len += (size_t)n;
	return ch->hello_len >= want;
}

/*
 * Read the greeting byte-exactly (header, then its body), so nothing
 * after it is consumed here: the ttrpc connection gets the rest. Anything
 * but the exact greeting is a bad guest.
 */
static void
vsock_hello_cb(int fd, int what, void *arg)
{
	const size_t body = strlen(PROTO_AGENT_HELLO);
	struct vsock_chan *ch = arg;
	struct proto_hdr h;

	(void)what;
	if (!vsock_hello_fill(ch, fd, PROTO_HDR_LEN))
		return;
	proto_hdr_decode(ch->hello, &h);
	if (h.type != PROTO_FT_KILN_HELLO || h.len != body) {
		err_set(&ch->why, ERR_PROTOCOL, "%s: bad greeting (type 0x%x, "
		    "%u bytes)", ch->name, h.type, h.len);
		vsock_event(ch, VSOCK_EV_BAD_HELLO);
		return;
	}
	if (!vsock_hello_fill(ch, fd, PROTO_HDR_LEN + body))
		return;
	if (memcmp(ch->hello + PROTO_HDR_LEN, PROTO_AGENT_HELLO, body) != 0) {
		err_set(&ch->why, ERR_PROTOCOL, "%s: unknown greeting",
		    ch->name);
		vsock_event(ch, VSOCK_EV_BAD_HELLO);
		return;
	}
	vsock_event(ch, VSOCK_EV_HELLO);
}

void
vsock_do_watch_hello(struct vsock_chan *ch)
{
	ch->io = reactor_io_new(ch->r, ch->fd, REACTOR_READ, vsock_hello_cb,
	    ch);
}

void
vsock_do_schedule_retry(struct vsock_chan *ch)
{
	reactor_timer_start(ch->retry, VSOCK_RETRY_MS, false);
}

static void
vsock_conn_closed_cb(struct proto_conn *c, void *arg)
{
	struct vsock_chan *ch = arg;

	(void)c;
	err_set(&ch->why, ERR_CLOSED, "%s: agent channel closed", ch->name);
	vsock_event(ch, VSOCK_EV_CONN_CLOSED);
}

static void
vsock_call_timeout_cb(struct proto_conn *c, void *arg)
{
	struct vsock_chan *ch = arg;

	(void)c;
	if (ch->opts.on_timeout != NULL)
		ch->opts.on_timeout(ch, ch->opts.arg);
}

/*
 * After READY, outside the dispatch (the connection has a machine of its
 * own, and machines never dispatch each other): wrap the fd in a ttrpc
 * connection and tell the user. The machine is asked first (READY_NOTICE
 * has a row only in READY): a channel torn down meanwhile has closed the
 * fd, and its user must hear on_closed only.
 */
static void
vsock_notify_ready_cb(void *arg)
{
	struct vsock_chan *ch = arg;
	struct proto_conn_opts o = {
		.name = ch->name, .on_closed = vsock_conn_closed_cb,
		.on_stream = ch->opts.on_stream, .arg = ch,
		.stream_arg = ch->opts.stream_arg != NULL ?
		    ch->opts.stream_arg : ch->opts.arg,
		.on_timeout = vsock_call_timeout_cb,
		.call_hist = ch->opts.call_hist,
	};
	struct err err;

	if (fsm_dispatch(&ch->fsm, VSOCK_EV_READY_NOTICE, NULL, &err) < 0)
		return;
	ch->conn = proto_conn_adopt(ch->r, ch->env, take_fd(&ch->fd), &o);
	if (ch->opts.on_ready != NULL)
		ch->opts.on_ready(ch, ch->conn, ch->opts.arg);
}

void
vsock_do_adopt(struct vsock_chan *ch)
{
	reactor_timer_stop(ch->timeout);
	reactor_io_free(ch->io);
	ch->io = NULL;
	reactor_defer(ch->r, vsock_notify_ready_cb, ch);
}

/*
 * Tell the owner, then free the connection it was given: until on_closed
 * has run, the owner's pointer to it must stay a connection (closed).
 * Calls deferred before this one (say, a failed call's cleanup) use it.
 */
static void
vsock_notify_closed_cb(void *arg)
{
	struct vsock_chan *ch = arg;
	/* Taken first: on_closed may free ch. */
	struct proto_conn *c = TAKE_PTR(ch->old_conn);

	if (ch->opts.on_closed != NULL)
		ch->opts.on_closed(ch, &ch->why, ch->opts.arg);
	proto_conn_free(c);
}

void
vsock_do_teardown(struct vsock_chan *ch)
{
	reactor_timer_stop(ch->timeout);
	reactor_timer_stop(ch->retry);
	reactor_io_free(ch->io);
	ch->io = NULL;
	close_fd(&ch->fd);
	/*
	 * Out of READY only by CONN_CLOSED (the connection is closed: its
	 * fd is gone) or a bug; either way the owner may still hold it until
	 * told, so it is kept for vsock_notify_closed_cb to free.
	 */
	ch->old_conn = TAKE_PTR(ch->conn);
	/*
	 * A ready notice still queued (READY left before it ran) must not
	 * adopt the fd closed above nor call on_ready after teardown. It is
	 * the only other call deferred on ch: teardown runs once.
	 */
	reactor_defer_cancel(ch->r, ch);
	if (ch->why.msg[0] == '\0')
		err_set(&ch->why, ERR_CLOSED, "%s: closed", ch->name);
	reactor_defer(ch->r, vsock_notify_closed_cb, ch);
}

void
vsock_free(struct vsock_chan *ch)
{
	if (ch == NULL)
		return;
	reactor_defer_cancel(ch->r, ch);
	reactor_timer_free(ch->timeout);
	reactor_timer_free(ch->retry);
	reactor_io_free(ch->io);
	close_fd(&ch->fd);
	proto_conn_free(ch->conn);
	proto_conn_free(ch->old_conn);
	fsm_fini(&ch->fsm);
	free(ch->path);
	free(ch);
}

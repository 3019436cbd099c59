/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A ttrpc connection: framing on a non-blocking stream fd, a write queue
 * that asks for write readiness only while it holds data, and the client
 * half (pending calls by stream id, per-call timers). Its life is the
 * proto_conn machine (proto_conn_fsm.c); user callbacks run outside any
 * dispatch, from I/O callbacks or deferred calls, so they may dispatch
 * other machines.
 *
 * Lifetime: callbacks may free the connection. While one of its callbacks
 * is on the stack (busy > 0) a free only marks it doomed, and the outermost
 * callback frees it on the way out.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "proto/proto_int.h"

#define PROTO_READ_CHUNK	(64 * 1024)
#define PROTO_WRITE_BURST	(1024 * 1024)

static void	proto_conn_io_cb(int, int, void *);
static void	proto_conn_timer_cb(void *);
static void	proto_conn_stall_cb(void *);
static void	proto_conn_free_now(struct proto_conn *);

static unsigned proto_conn_serial;

struct proto_conn *
proto_conn_create(struct reactor *r, struct fsm_env *env, int fd,
    enum proto_role role, const struct proto_conn_opts *opts)
{
	struct proto_conn *c = xcalloc(1, sizeof *c);

	c->r = r;
	c->role = role;
	c->fd = fd;
	c->next_id = 1;
	if (opts != NULL)
		c->opts = *opts;
	if (c->opts.drain_ms == 0)
		c->opts.drain_ms = 5000;
	if (c->opts.connect_ms == 0)
		c->opts.connect_ms = 5000;
	snprintf(c->name, sizeof c->name, "%s#%u", c->opts.name != NULL ?
	    c->opts.name : (role == PROTO_ROLE_SERVER ? "server" : "client"),
	    ++proto_conn_serial);
	c->opts.name = c->name;
	buf_init(&c->in);
	buf_init(&c->out);
	TAILQ_INIT(&c->pending);
	TAILQ_INIT(&c->calls);
	c->timer = reactor_timer_new(r, proto_conn_timer_cb, c);
	c->stall = reactor_timer_new(r, proto_conn_stall_cb, c);
	fsm_init(&c->fsm, &proto_conn_fsm_def, env, c->name, c);
	fd_set_nonblock_cloexec(fd);
	c->io = reactor_io_new(r, fd, 0, proto_conn_io_cb, c);
	return c;
}

static void	proto_conn_rearm(struct proto_conn *);
static void	proto_conn_check_out(struct proto_conn *);

/* Dispatch a life event, then watch what the new state needs. */
void
proto_conn_event(struct proto_conn *c, int event)
{
	struct err err;

	(void)fsm_dispatch(&c->fsm, event, NULL, &err);
	proto_conn_rearm(c);
}

struct proto_conn *
proto_conn_dial(struct reactor *r, struct fsm_env *env, const char *path,
    const struct proto_conn_opts *opts, struct err *err)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct proto_conn *c;
	int fd;

	if (strlen(path) >= sizeof sun.sun_path)
		return err_set(err, ENAMETOOLONG, "socket path too long: %s",
		    path), NULL;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(err, errno, "socket: %s", strerror(errno)),
		    NULL;
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0 &&
	    errno != EINPROGRESS && errno != EAGAIN) {
		err_set(err, errno, "connect %s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	c = proto_conn_create(r, env, fd, PROTO_ROLE_CLIENT, opts);
	/* Completion (or failure) shows up as write readiness. */
	reactor_io_set(c->io, REACTOR_WRITE);
	reactor_timer_start(c->timer, c->opts.connect_ms, false);
	return c;
}

struct proto_conn *
proto_conn_adopt(struct reactor *r, struct fsm_env *env, int fd,
    const struct proto_conn_opts *opts)
{
	struct proto_conn *c;

	c = proto_conn_create(r, env, fd, PROTO_ROLE_CLIENT, opts);
	proto_conn_event(c, PROTO_CONN_EV_CONNECTED);
	return c;
}

bool
proto_conn_ready(const struct proto_conn *c)
{
	return c->fsm.state == PROTO_CONN_ST_READY;
}

bool
proto_conn_closed(const struct proto_conn *c)
{
	return c->fsm.state == PROTO_CONN_ST_CLOSED;
}

const char *
proto_conn_name(const struct proto_conn *c)
{
	return c->name;
}

size_t
proto_conn_out_pending(const struct proto_conn *c)
{
	return buf_used(&c->out);
}

size_t
proto_conn_calls_pending(const struct proto_conn *c)
{
	return c->npending;
}

void
proto_conn_close(struct proto_conn *c)
{
	proto_conn_event(c, PROTO_CONN_EV_CLOSE);
}

/* Watch for reading (while open) and writing (while output is queued). */
static void
proto_conn_rearm(struct proto_conn *c)
{
	int what = 0;

	if (c->fsm.state == PROTO_CONN_ST_READY)
		what |= REACTOR_READ;
	if (buf_used(&c->out) > 0 && (c->fsm.state == PROTO_CONN_ST_READY ||
	    c->fsm.state == PROTO_CONN_ST_DRAINING))
		what |= REACTOR_WRITE;
	if (c->fsm.state == PROTO_CONN_ST_CONNECTING)
		what = REACTOR_WRITE;
	if (c->io != NULL)
		reactor_io_set(c->io, what);
}

/* Append one frame whose body is msg packed. */
static void
proto_conn_queue_raw(struct proto_conn *c, uint32_t stream, uint8_t type,
    const uint8_t *body, size_t len)
{
	struct proto_hdr h = { (uint32_t)len, stream, type, 0 };
	uint8_t hdr[PROTO_HDR_LEN];

	proto_hdr_encode(hdr, &h);
	buf_append(&c->out, hdr, sizeof hdr);
	buf_append(&c->out, body, len);
	proto_conn_rearm(c);
	proto_conn_check_out(c);
}

void
proto_conn_queue_frame(struct proto_conn *c, uint32_t stream, uint8_t type,
    const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	struct proto_hdr h = { (uint32_t)len, stream, type, 0 };
	uint8_t *p;

	if (c->fsm.state == PROTO_CONN_ST_CLOSED)
		return;
	p = buf_reserve(&c->out, PROTO_HDR_LEN + len);
	proto_hdr_encode(p, &h);
	protobuf_c_message_pack(msg, p + PROTO_HDR_LEN);
	buf_commit(&c->out, PROTO_HDR_LEN + len);
	proto_conn_rearm(c);
	proto_conn_check_out(c);
}

/*
 * A peer that never reads its replies must not grow our memory without
 * end: past out_max bytes unread it is treated as gone (PEER_CLOSED tears
 * down at once; draining would only wait for it to read).
 */
static void
proto_conn_check_out(struct proto_conn *c)
{
	if (c->out_max == 0 || buf_used(&c->out) <= c->out_max)
		return;
	log_warnx("conn=%s unread=%zu max=%zu peer does not read its replies, "
	    "closing", c->name, buf_used(&c->out), c->out_max);
	proto_conn_event(c, PROTO_CONN_EV_PEER_CLOSED);
}

int
proto_conn_send_frame(struct proto_conn *c, uint8_t type, const uint8_t *data,
    size_t len, struct err *err)
{
	if (c->fsm.state != PROTO_CONN_ST_READY &&
	    c->fsm.state != PROTO_CONN_ST_CONNECTING)
		return err_set(err, ERR_CLOSED, "%s: connection closed",
		    c->name);
	if (len > PROTO_FRAME_MAX)
		return err_set(err, E2BIG, "frame of %zu bytes", len);
	proto_conn_queue_raw(c, 0, type, data, len);
	return 0;
}

/* ---- client calls ---------------------------------------------------- */

static void
proto_pending_free(struct proto_pending *p)
{
	reactor_timer_free(p->timer);
	free(p);
}

static void
proto_pending_unlink(struct proto_conn *c, struct proto_pending *p)
{
	TAILQ_REMOVE(&c->pending, p, entry);
	c->npending--;
}

/* Finish a pending call with rep; the callback may free the conn. */
static void
proto_pending_finish(struct proto_conn *c, struct proto_pending *p,
    const struct proto_reply *rep)
{
	proto_pending_unlink(c, p);
	if (c->opts.call_hist != NULL)
		hist_add(c->opts.call_hist, time_mono_ns() - p->sent_ns);
	c->busy++;
	p->cb(rep, p->arg);
	c->busy--;
	proto_pending_free(p);
}

static void
proto_pending_fail(struct proto_conn *c, struct proto_pending *p, int code,
    const char *msg)
{
	struct proto_reply rep = { code, msg, NULL };

	proto_pending_finish(c, p, &rep);
}

static void
proto_pending_timeout_cb(void *arg)
{
	struct proto_pending *p = arg;
	struct proto_conn *c = p->conn;

	proto_pending_fail(c, p, PROTO_DEADLINE_EXCEEDED,
	    "ttrpc: call timed out");
	if (!c->doomed && c->opts.on_timeout != NULL) {
		c->busy++;
		c->opts.on_timeout(c, c->opts.arg);
		c->busy--;
	}
	if (c->doomed && c->busy == 0)
		proto_conn_free_now(c);
}

static struct proto_pending *
proto_pending_find(struct proto_conn *c, uint32_t id)
{
	struct proto_pending *p;

	TAILQ_FOREACH(p, &c->pending, entry)
		if (p->id == id)
			return p;
	return NULL;
}

/* Build the ttrpc Request envelope around the packed argument. */
static void
proto_request_fill(Ttrpc__Request *rq, Ttrpc__KeyValue *kv,
    Ttrpc__KeyValue **kvp, const char *service, const char *method,
    const ProtobufCMessage *req, const struct proto_call_opts *opts)
{
	ttrpc__request__init(rq);
	rq->service = (char *)(uintptr_t)service;
	rq->method = (char *)(uintptr_t)method;
	rq->payload.len = protobuf_c_message_get_packed_size(req);
	rq->payload.data = xmalloc(rq->payload.len);
	protobuf_c_message_pack(req, rq->payload.data);
	if (opts != NULL && opts->timeout_ms > 0)
		rq->timeout_nano = (int64_t)opts->timeout_ms * 1000000;
	if (opts != NULL && opts->namespace != NULL) {
		ttrpc__key_value__init(kv);
		kv->key = (char *)(uintptr_t)"containerd-namespace-ttrpc";
		kv->value = (char *)(uintptr_t)opts->namespace;
		kvp[0] = kv;
		rq->n_metadata = 1;
		rq->metadata = kvp;
	}
}

uint32_t
proto_conn_call(struct proto_conn *c, const char *service,
    const char *method, const ProtobufCMessage *req,
    const ProtobufCMessageDescriptor *resp_desc,
    const struct proto_call_opts *opts, proto_reply_cb cb, void *arg,
    struct err *err)
{
	Ttrpc__KeyValue kv, *kvp[1];
	struct proto_pending *p;
	Ttrpc__Request rq;

	if (c->role != PROTO_ROLE_CLIENT)
		fatalx("%s: call on a server connection", c->name);
	if (c->fsm.state != PROTO_CONN_ST_READY &&
	    c->fsm.state != PROTO_CONN_ST_CONNECTING)
		return err_set(err, ERR_CLOSED, "%s: connection closed",
		    c->name), 0;
	proto_request_fill(&rq, &kv, kvp, service, method, req, opts);
	p = xcalloc(1, sizeof *p);
	p->conn = c;
	p->id = c->next_id;
	/* Client stream ids are odd (ttrpc 1.1.1 rejects even ones). */
	c->next_id += 2;
	if (c->next_id < 2)
		c->next_id = 1;
	p->resp_desc = resp_desc;
	p->cb = cb;
	p->arg = arg;
	p->sent_ns = time_mono_ns();
	p->timer = reactor_timer_new(c->r, proto_pending_timeout_cb, p);
	if (opts != NULL && opts->timeout_ms > 0)
		reactor_timer_start(p->timer, opts->timeout_ms, false);
	TAILQ_INSERT_TAIL(&c->pending, p, entry);
	c->npending++;
	proto_conn_queue_frame(c, p->id, PROTO_FT_REQUEST,
	    &rq.base);
	free(rq.payload.data);
	return p->id;
}

void
proto_conn_cancel(struct proto_conn *c, uint32_t id)
{
	struct proto_pending *p = proto_pending_find(c, id);

	if (p == NULL)
		return;
	proto_pending_unlink(c, p);
	proto_pending_free(p);
}

/* A Response frame on a client connection. */
static void
proto_conn_response(struct proto_conn *c, uint32_t stream,
    const uint8_t *data, size_t len)
{
	struct proto_reply rep = { PROTO_OK, "", NULL };
	struct proto_pending *p = proto_pending_find(c, stream);
	Ttrpc__Response *resp;

	if (p == NULL) {
		log_debug("conn=%s stream=%u reply for an unknown call",
		    c->name, stream);
		return;
	}
	resp = ttrpc__response__unpack(NULL, len, data);
	if (resp == NULL) {
		proto_pending_fail(c, p, PROTO_INTERNAL,
		    "ttrpc: cannot decode response");
		return;
	}
	if (resp->status != NULL && resp->status->code != 0) {
		rep.code = resp->status->code;
		rep.message = resp->status->message;
	} else {
		rep.msg = protobuf_c_message_unpack(p->resp_desc, NULL,
		    resp->payload.len, resp->payload.data);
		if (rep.msg == NULL) {
			rep.code = PROTO_INTERNAL;
			rep.message = "ttrpc: cannot decode reply payload";
		}
	}
	proto_pending_finish(c, p, &rep);
	if (rep.msg != NULL)
		protobuf_c_message_free_unpacked(rep.msg, NULL);
	ttrpc__response__free_unpacked(resp, NULL);
}

/* ---- reading --------------------------------------------------------- */

/* Route one complete frame by type and role. */
static void
proto_conn_frame(struct proto_conn *c, const struct proto_hdr *h,
    const uint8_t *body)
{
	if (h->type == PROTO_FT_KILN_STREAM && c->opts.on_stream != NULL) {
		c->opts.on_stream(c, body, h->len, c->opts.stream_arg != NULL ?
		    c->opts.stream_arg : c->opts.arg);
		return;
	}
	if (h->type == PROTO_FT_REQUEST && c->role == PROTO_ROLE_SERVER) {
		proto_server_request(c, h->stream, body, h->len);
		return;
	}
	if (h->type == PROTO_FT_RESPONSE && c->role == PROTO_ROLE_CLIENT) {
		proto_conn_response(c, h->stream, body, h->len);
		return;
	}
	/* ttrpc 1.1.1 ignores frame types it does not expect. */
	log_debug("conn=%s type=%u stream=%u frame ignored", c->name,
	    h->type, h->stream);
}

/*
 * A partial frame must make progress within stall_ms: the deadline runs
 * while the input holds one and restarts whenever a frame completes, so a
 * busy peer streaming back-to-back frames is never cut off.
 */
static void
proto_conn_watch_stall(struct proto_conn *c, bool progress)
{
	if (c->stall_ms == 0 || c->doomed)
		return;
	if (c->fsm.state != PROTO_CONN_ST_READY || buf_used(&c->in) == 0) {
		reactor_timer_stop(c->stall);
		return;
	}
	if (progress || !reactor_timer_pending(c->stall))
		reactor_timer_start(c->stall, c->stall_ms, false);
}

/* Parse, then watch what is left over. */
static void	proto_conn_parse_frames(struct proto_conn *, bool *);

static void
proto_conn_parse(struct proto_conn *c)
{
	bool progress = false;

	proto_conn_parse_frames(c, &progress);
	proto_conn_watch_stall(c, progress);
}

/*
 * Parse and dispatch every complete frame in the input buffer. Stops if a
 * callback closed or doomed the connection.
 */
static void
proto_conn_parse_frames(struct proto_conn *c, bool *progress)
{
	struct proto_hdr h;

	while (buf_used(&c->in) >= PROTO_HDR_LEN && !c->doomed &&
	    c->fsm.state == PROTO_CONN_ST_READY) {
		proto_hdr_decode(buf_head(&c->in), &h);
		if (h.len > PROTO_FRAME_MAX) {
			log_warnx("conn=%s stream=%u len=%u frame over the "
			    "%u byte limit, closing", c->name, h.stream, h.len,
			    PROTO_FRAME_MAX);
			if (c->role == PROTO_ROLE_SERVER)
				proto_server_send_status(c, h.stream,
				    PROTO_RESOURCE_EXHAUSTED, "message length "
				    "exceeds maximum message size of 4194304");
			buf_consume(&c->in, buf_used(&c->in));
			proto_conn_event(c, PROTO_CONN_EV_PROTOCOL_ERROR);
			return;
		}
		if (buf_used(&c->in) < PROTO_HDR_LEN + (size_t)h.len)
			return;
		proto_conn_frame(c, &h, buf_head(&c->in) + PROTO_HDR_LEN);
		buf_consume(&c->in, PROTO_HDR_LEN + (size_t)h.len);
		*progress = true;
	}
}

void
proto_conn_feed(struct proto_conn *c, const uint8_t *data, size_t len)
{
	c->busy++;
	buf_append(&c->in, data, len);
	proto_conn_parse(c);
	c->busy--;
	if (c->doomed && c->busy == 0)
		proto_conn_free_now(c);
}

/* EOF or an error: a partial frame left over means a truncated frame. */
static void
proto_conn_eof(struct proto_conn *c, int error)
{
	if (buf_used(&c->in) > 0)
		log_warnx("conn=%s truncated frame: %zu bytes left at %s",
		    c->name, buf_used(&c->in), error != 0 ? strerror(error) :
		    "EOF");
	else if (error != 0 && error != ECONNRESET && error != EPIPE)
		log_warnx("conn=%s read error=\"%s\"", c->name,
		    strerror(error));
	proto_conn_event(c, PROTO_CONN_EV_PEER_CLOSED);
}

static void
proto_conn_read(struct proto_conn *c)
{
	ssize_t n;

	n = read(c->fd, buf_reserve(&c->in, PROTO_READ_CHUNK),
	    PROTO_READ_CHUNK);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		proto_conn_eof(c, n < 0 ? errno : 0);
		return;
	}
	buf_commit(&c->in, (size_t)n);
	proto_conn_parse(c);
}

/*
 * Write queued output until the fd is full, at most PROTO_WRITE_BURST
 * bytes per callback: a virtio-serial port takes 32 KiB per write(2), and
 * a loop turn per 32 KiB is what a slow (emulated) guest cannot afford.
 */
static void
proto_conn_write(struct proto_conn *c)
{
	size_t done = 0;
	ssize_t n;

	while (buf_used(&c->out) > 0 && done < PROTO_WRITE_BURST) {
		n = write(c->fd, buf_head(&c->out), buf_used(&c->out));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			proto_conn_eof(c, errno);
			return;
		}
		buf_consume(&c->out, (size_t)n);
		done += (size_t)n;
	}
	if (buf_used(&c->out) == 0 && c->fsm.state == PROTO_CONN_ST_DRAINING)
		proto_conn_event(c, PROTO_CONN_EV_DRAINED);
	else
		proto_conn_rearm(c);
}

/* A non-blocking connect finished; SO_ERROR says how. */
static void
proto_conn_connected(struct proto_conn *c)
{
	socklen_t len = sizeof(int);
	int soerr = 0;

	getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
	if (soerr != 0) {
		log_warnx("conn=%s connect error=\"%s\"", c->name,
		    strerror(soerr));
		proto_conn_event(c, PROTO_CONN_EV_CONNECT_FAILED);
		return;
	}
	proto_conn_event(c, PROTO_CONN_EV_CONNECTED);
}

static void
proto_conn_io_cb(int fd, int what, void *arg)
{
	struct proto_conn *c = arg;

	(void)fd;
	c->busy++;
	if (c->fsm.state == PROTO_CONN_ST_CONNECTING)
		proto_conn_connected(c);
	else {
		if ((what & REACTOR_READ) && !c->doomed)
			proto_conn_read(c);
		if ((what & REACTOR_WRITE) && !c->doomed && c->fd >= 0 &&
		    buf_used(&c->out) > 0)
			proto_conn_write(c);
	}
	c->busy--;
	if (c->doomed && c->busy == 0)
		proto_conn_free_now(c);
}

static void
proto_conn_timer_cb(void *arg)
{
	struct proto_conn *c = arg;

	c->busy++;
	proto_conn_event(c, PROTO_CONN_EV_TIMEOUT);
	c->busy--;
	if (c->doomed && c->busy == 0)
		proto_conn_free_now(c);
}

/* A frame begun and never finished: a protocol error (drain, close). */
static void
proto_conn_stall_cb(void *arg)
{
	struct proto_conn *c = arg;

	c->busy++;
	log_warnx("conn=%s partial=%zu ms=%llu frame stalled, closing",
	    c->name, buf_used(&c->in), (unsigned long long)c->stall_ms);
	proto_conn_event(c, PROTO_CONN_EV_PROTOCOL_ERROR);
	c->busy--;
	if (c->doomed && c->busy == 0)
		proto_conn_free_now(c);
}

/* ---- teardown -------------------------------------------------------- */

/*
 * Deferred after the conn reached CLOSED: fail the pending calls and tell
 * the owner. Runs outside any dispatch, so callbacks may do anything.
 */
static void
proto_conn_notify_cb(void *arg)
{
	struct proto_conn *c = arg;
	struct proto_pending *p;

	c->busy++;
	while (!c->doomed && (p = TAILQ_FIRST(&c->pending)) != NULL)
		proto_pending_fail(c, p, PROTO_UNAVAILABLE, "ttrpc: closed");
	if (c->role == PROTO_ROLE_SERVER)
		proto_server_conn_gone(c);
	c->notified = true;
	if (!c->doomed && c->opts.on_closed != NULL)
		c->opts.on_closed(c, c->opts.arg);
	c->busy--;
	if (c->doomed && c->busy == 0)
		proto_conn_free_now(c);
}

/* Action helpers called by the table (proto_conn_fsm.c). */
void	proto_conn_do_ready(struct proto_conn *);
void	proto_conn_do_drain(struct proto_conn *);
void	proto_conn_do_teardown(struct proto_conn *);

void
proto_conn_do_ready(struct proto_conn *c)
{
	reactor_timer_stop(c->timer);
}

void
proto_conn_do_drain(struct proto_conn *c)
{
	if (buf_used(&c->out) == 0) {
		fsm_post(&c->fsm, PROTO_CONN_EV_DRAINED, NULL, 0);
		return;
	}
	reactor_timer_start(c->timer, c->opts.drain_ms, false);
}

void
proto_conn_do_teardown(struct proto_conn *c)
{
	reactor_timer_stop(c->timer);
	reactor_timer_stop(c->stall);
	reactor_io_free(c->io);
	c->io = NULL;
	close_fd(&c->fd);
	/*
	 * The buffers stay until the free: a frame handler may be running
	 * above us with a pointer into the input.
	 */
	buf_consume(&c->out, buf_used(&c->out));
	reactor_defer(c->r, proto_conn_notify_cb, c);
}

static void
proto_conn_free_now(struct proto_conn *c)
{
	struct proto_pending *p;
	struct proto_call *call;

	reactor_defer_cancel(c->r, c);
	while ((p = TAILQ_FIRST(&c->pending)) != NULL) {
		proto_pending_unlink(c, p);
		proto_pending_free(p);
	}
	/* Calls still held by handlers live on; their replies go nowhere. */
	while ((call = TAILQ_FIRST(&c->calls)) != NULL) {
		TAILQ_REMOVE(&c->calls, call, entry);
		call->conn = NULL;
	}
	proto_server_forget(c);
	fsm_fini(&c->fsm);
	reactor_timer_free(c->timer);
	reactor_timer_free(c->stall);
	reactor_io_free(c->io);
	close_fd(&c->fd);
	buf_fini(&c->in);
	buf_fini(&c->out);
	free(c);
}

void
proto_conn_fail_calls(struct proto_conn *c, const char *why)
{
	struct proto_pending *p;

	if (c == NULL)
		return;
	while ((p = TAILQ_FIRST(&c->pending)) != NULL)
		proto_pending_fail(c, p, PROTO_UNAVAILABLE, why);
}

void
proto_conn_free(struct proto_conn *c)
{
	if (c == NULL)
		return;
	if (c->busy > 0) {
		c->doomed = true;
		return;
	}
	proto_conn_free_now(c);
}

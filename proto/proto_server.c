/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ttrpc server: accepts connections, decodes Request envelopes, finds
 * the service and method, decodes the argument and hands it to the handler
 * as a proto_call that the handler answers now or later. Errors mirror the
 * Go server (reference section 1.6): unknown service or method is
 * UNIMPLEMENTED, an undecodable envelope or an even stream id
 * INVALID_ARGUMENT; an undecodable argument is INVALID_ARGUMENT too.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "proto/proto_int.h"

struct proto_server {
	struct reactor			*r;	/* borrowed */
	struct fsm_env			*env;	/* borrowed */
	const struct proto_service	*services;	/* borrowed */
	size_t				 nservices;
	int				 listen_fd;
	bool				 same_uid;
	struct reactor_io		*listen_io;
	struct proto_conn_q		 conns;
	size_t				 nconns;
	size_t				 max_conns;
	size_t				 max_out;
	uint64_t			 stall_ms;
	uint64_t			 refused;
	uint64_t			 refused_ns;	/* last refusal logged */
};

/*
 * Connections taken per wake-up of the listening socket: enough that a
 * burst empties the backlog in a few turns, few enough that the turn stays
 * short. The socket is level-triggered, so the rest wakes us again.
 */
#define PROTO_ACCEPT_BURST	64

struct proto_server *
proto_server_new(struct reactor *r, struct fsm_env *env,
    const struct proto_service *services, size_t nservices)
{
	struct proto_server *s = xcalloc(1, sizeof *s);

	s->r = r;
	s->env = env;
	s->services = services;
	s->nservices = nservices;
	s->listen_fd = -1;
	s->max_conns = PROTO_SERVER_MAX_CONNS;
	s->max_out = PROTO_SERVER_MAX_OUT;
	s->stall_ms = PROTO_SERVER_STALL_MS;
	TAILQ_INIT(&s->conns);
	return s;
}

void
proto_server_set_limits(struct proto_server *s, size_t max_conns,
    size_t max_out, uint64_t stall_ms)
{
	s->max_conns = max_conns > 0 ? max_conns : PROTO_SERVER_MAX_CONNS;
	s->max_out = max_out > 0 ? max_out : PROTO_SERVER_MAX_OUT;
	s->stall_ms = stall_ms > 0 ? stall_ms : PROTO_SERVER_STALL_MS;
}

uint64_t
proto_server_refused(const struct proto_server *s)
{
	return s->refused;
}

size_t
proto_server_buffered(const struct proto_server *s)
{
	const struct proto_conn *c;
	size_t n = 0;

	TAILQ_FOREACH(c, &s->conns, entry)
		n += c->in.cap + c->out.cap;
	return n;
}

size_t
proto_server_calls(const struct proto_server *s)
{
	const struct proto_conn *c;
	size_t n = 0;

	TAILQ_FOREACH(c, &s->conns, entry)
		n += c->ncalls;
	return n;
}

void
proto_server_free(struct proto_server *s)
{
	struct proto_conn *c;

	if (s == NULL)
		return;
	while ((c = TAILQ_FIRST(&s->conns)) != NULL) {
		TAILQ_REMOVE(&s->conns, c, entry);
		s->nconns--;
		c->server = NULL;
		proto_conn_free(c);
	}
	reactor_io_free(s->listen_io);
	close_fd(&s->listen_fd);
	free(s);
}

size_t
proto_server_conns(const struct proto_server *s)
{
	return s->nconns;
}

struct proto_conn *
proto_server_adopt(struct proto_server *s, int fd,
    const struct proto_conn_opts *opts)
{
	struct proto_conn *c;

	c = proto_conn_create(s->r, s->env, fd, PROTO_ROLE_SERVER, opts);
	c->server = s;
	TAILQ_INSERT_TAIL(&s->conns, c, entry);
	s->nconns++;
	proto_conn_event(c, PROTO_CONN_EV_CONNECTED);
	return c;
}

/* Drop c from the server's list (c is being freed). */
void
proto_server_forget(struct proto_conn *c)
{
	struct proto_server *s = c->server;

	if (s == NULL)
		return;
	TAILQ_REMOVE(&s->conns, c, entry);
	s->nconns--;
	c->server = NULL;
}

/* The connection closed: forget it, and free it unless an owner does. */
void
proto_server_conn_gone(struct proto_conn *c)
{
	proto_server_forget(c);
	if (c->opts.on_closed == NULL)
		proto_conn_free(c);
}

/* ttrpc's "require same user" check (reference section 1.1). */
static bool
proto_peer_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof cred;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	return cred.uid == geteuid() && cred.gid == getegid();
}

/*
 * Over max_conns: the peer is accepted and closed at once (it sees EOF,
 * not a full backlog that would make every later connect() fail too).
 * Logged at most once a second, since a burst would flood the log.
 */
static void
proto_server_refuse_conn(struct proto_server *s, int cfd)
{
	uint64_t now = time_mono_ns();

	close(cfd);
	s->refused++;
	if (now - s->refused_ns < 1000000000ull && s->refused > 1)
		return;
	s->refused_ns = now;
	log_warnx("server conns=%zu max=%zu refused=%llu connection refused: "
	    "too many connections", s->nconns, s->max_conns,
	    (unsigned long long)s->refused);
}

/* Take one connection; false once the backlog is empty (or on error). */
static bool
proto_server_accept_one(struct proto_server *s, int fd)
{
	struct proto_conn *c;
	int cfd;

	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("accept");
		return false;
	}
	if (s->same_uid && !proto_peer_allowed(cfd)) {
		log_warnx("peer with another uid/gid refused");
		close(cfd);
		return true;
	}
	if (s->nconns >= s->max_conns) {
		proto_server_refuse_conn(s, cfd);
		return true;
	}
	c = proto_server_adopt(s, cfd, NULL);
	c->out_max = s->max_out;
	c->stall_ms = s->stall_ms;
	return true;
}

/* Empty the backlog, a burst at a time (one accept per wake-up let a
 * tight connect loop overflow it: connect() then fails with EAGAIN). */
static void
proto_server_accept_cb(int fd, int what, void *arg)
{
	struct proto_server *s = arg;
	int i;

	(void)what;
	for (i = 0; i < PROTO_ACCEPT_BURST; i++)
		if (!proto_server_accept_one(s, fd))
			break;
}

void
proto_server_listen(struct proto_server *s, int fd, bool same_uid)
{
	reactor_io_free(s->listen_io);
	close_fd(&s->listen_fd);
	s->listen_fd = fd;
	s->same_uid = same_uid;
	fd_set_nonblock_cloexec(fd);
	/*
	 * Whoever bound fd chose its backlog; a burst of connects needs the
	 * largest the kernel allows. listen() again only resizes it.
	 */
	if (listen(fd, SOMAXCONN) < 0)
		log_warn("listen fd=%d", fd);
	s->listen_io = reactor_io_new(s->r, fd, REACTOR_READ,
	    proto_server_accept_cb, s);
}

/* Queue a Response frame with an error status. */
void
proto_server_send_status(struct proto_conn *c, uint32_t stream, int code,
    const char *msg)
{
	Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
	Ttrpc__Response resp = TTRPC__RESPONSE__INIT;

	st.code = code;
	st.message = (char *)(uintptr_t)msg;
	resp.status = &st;
	proto_conn_queue_frame(c, stream, PROTO_FT_RESPONSE, &resp.base);
}

static const struct proto_service *
proto_server_service(const struct proto_server *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->nservices; i++)
		if (strcmp(s->services[i].name, name) == 0)
			return &s->services[i];
	return NULL;
}

static const struct proto_method *
proto_service_method(const struct proto_service *svc, const char *name)
{
	size_t i;

	for (i = 0; i < svc->nmethods; i++)
		if (strcmp(svc->methods[i].name, name) == 0)
			return &svc->methods[i];
	return NULL;
}

static void
proto_call_free(struct proto_call *call)
{
	if (call->conn != NULL) {
		TAILQ_REMOVE(&call->conn->calls, call, entry);
		call->conn->ncalls--;
	}
	if (call->input != NULL)
		protobuf_c_message_free_unpacked(call->input, NULL);
	if (call->req != NULL)
		ttrpc__request__free_unpacked(call->req, NULL);
	free(call);
}

/* Refuse a request before any call exists. */
static void
proto_server_refuse(struct proto_conn *c, uint32_t stream, int code,
    const char *fmt, ...) PRINTF_LIKE(4, 5);

static void
proto_server_refuse(struct proto_conn *c, uint32_t stream, int code,
    const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_debug("conn=%s stream=%u code=%s %s", c->name, stream,
	    proto_code_name(code), msg);
	proto_server_send_status(c, stream, code, msg);
}

/* Find the method for rq, or refuse the request and return NULL. */
static const struct proto_method *
proto_server_route(struct proto_conn *c, uint32_t stream,
    const Ttrpc__Request *rq, void **svc_arg)
{
	const struct proto_service *svc;
	const struct proto_method *m;

	svc = proto_server_service(c->server, rq->service);
	if (svc == NULL) {
		proto_server_refuse(c, stream, PROTO_UNIMPLEMENTED,
		    "service %s", rq->service);
		return NULL;
	}
	m = proto_service_method(svc, rq->method);
	if (m == NULL) {
		proto_server_refuse(c, stream, PROTO_UNIMPLEMENTED,
		    "method %s", rq->method);
		return NULL;
	}
	*svc_arg = svc->arg;
	return m;
}

void
proto_server_request(struct proto_conn *c, uint32_t stream,
    const uint8_t *data, size_t len)
{
	const struct proto_method *m;
	struct proto_call *call;
	Ttrpc__Request *rq;
	void *svc_arg = NULL;

	if (c->server == NULL)
		return;
	if (stream % 2 == 0) {
		proto_server_refuse(c, stream, PROTO_INVALID_ARGUMENT,
		    "StreamID must be odd for client initiated streams");
		return;
	}
	if (c->ncalls >= PROTO_MAX_SERVER_CALLS) {
		proto_server_refuse(c, stream, PROTO_RESOURCE_EXHAUSTED,
		    "too many calls in flight");
		return;
	}
	rq = ttrpc__request__unpack(NULL, len, data);
	if (rq == NULL) {
		proto_server_refuse(c, stream, PROTO_INVALID_ARGUMENT,
		    "unmarshal request error: malformed ttrpc.Request");
		return;
	}
	m = proto_server_route(c, stream, rq, &svc_arg);
	if (m == NULL) {
		ttrpc__request__free_unpacked(rq, NULL);
		return;
	}
	call = xcalloc(1, sizeof *call);
	call->conn = c;
	call->stream = stream;
	call->req = rq;
	call->input = protobuf_c_message_unpack(m->input, NULL,
	    rq->payload.len, rq->payload.data);
	TAILQ_INSERT_TAIL(&c->calls, call, entry);
	c->ncalls++;
	if (call->input == NULL) {
		proto_call_fail(call, PROTO_INVALID_ARGUMENT, "cannot decode "
		    "%s argument of %s", m->input->name, rq->method);
		return;
	}
	m->fn(call, call->input, svc_arg);
}

void
proto_call_reply(struct proto_call *call, const ProtobufCMessage *resp)
{
	Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
	Ttrpc__Response r = TTRPC__RESPONSE__INIT;
	size_t len;

	if (call->conn != NULL) {
		len = protobuf_c_message_get_packed_size(resp);
		r.status = &st;
		r.payload.len = len;
		r.payload.data = xmalloc(len);
		protobuf_c_message_pack(resp, r.payload.data);
		proto_conn_queue_frame(call->conn, call->stream,
		    PROTO_FT_RESPONSE, &r.base);
		free(r.payload.data);
	}
	proto_call_free(call);
}

void
proto_call_fail(struct proto_call *call, int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (call->conn != NULL)
		proto_server_send_status(call->conn, call->stream, code, msg);
	proto_call_free(call);
}

void
proto_call_reply_empty(struct proto_call *call)
{
	Google__Protobuf__Empty e = GOOGLE__PROTOBUF__EMPTY__INIT;

	proto_call_reply(call, &e.base);
}

void
proto_call_fail_err(struct proto_call *call, const struct err *err)
{
	proto_call_fail(call, proto_code_from_err(err), "%s", err->msg);
}

void
proto_call_drop(struct proto_call *call)
{
	proto_call_free(call);
}

struct proto_conn *
proto_call_conn(const struct proto_call *call)
{
	return call->conn;
}

const char *
proto_call_method(const struct proto_call *call)
{
	return call->req->method;
}

const char *
proto_call_metadata(const struct proto_call *call, const char *key)
{
	size_t i;

	for (i = 0; i < call->req->n_metadata; i++)
		if (strcmp(call->req->metadata[i]->key, key) == 0)
			return call->req->metadata[i]->value;
	return NULL;
}

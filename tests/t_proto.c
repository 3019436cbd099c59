/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ttrpc wire layer: frame bytes against the reference's worked
 * example, client<->server round trips over a socketpair and a unix
 * socket, 64 calls in flight, asynchronous replies, timeouts, a peer that
 * closes mid-call, oversized frames, garbage, even stream ids, unknown
 * services and methods, malformed payloads, and the connection machine's
 * trace; a listening server under bursts of connects, half-frame stallers
 * and a client that never reads; the 1024-calls-in-flight limit and the
 * server's count of held calls. Also the vsock channel that adopts such a
 * connection, where the greeting and teardown race, and whose connection
 * stays one until its owner hears it closed.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "proto/proto_int.h"
#include "containerd/task.pb-c.h"
#include "tests/tap.h"
#include "vsock/vsock_int.h"

#define SVC	"kiln.test.v1.Test"

struct world {
	struct reactor		*r;
	struct fsm_env		*env;
	struct proto_server	*server;
	struct proto_call	*held[64];	/* async calls not yet answered */
	int			 nheld;
	int			 replies;
	int			 want;
	int			 codes[128];
	uint32_t		 values[128];
	char			 last_msg[256];
	bool			 deadline;
	bool			 closed;
};

static struct world W;

/* Connect{id} answers ConnectResponse{shim_pid = strlen(id), 5678}. */
static void
h_connect(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	const Containerd__Task__V2__ConnectRequest *req = (const void *)m;
	Containerd__Task__V2__ConnectResponse resp =
	    CONTAINERD__TASK__V2__CONNECT_RESPONSE__INIT;
	const char *ns = proto_call_metadata(call,
	    "containerd-namespace-ttrpc");

	(void)arg;
	resp.shim_pid = (uint32_t)strlen(req->id);
	resp.task_pid = 5678;
	resp.version = (char *)(uintptr_t)(ns != NULL ? ns : "");
	proto_call_reply(call, &resp.base);
}

/* Wait is held and answered later, in reverse order of arrival. */
static void
h_wait(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	(void)m;
	(void)arg;
	W.held[W.nheld++] = call;
}

/* Kill closes the connection under the caller's feet. */
static void
h_kill(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	(void)m;
	(void)arg;
	W.held[W.nheld++] = call;
	proto_conn_close(proto_call_conn(call));
}

/* Hold keeps every call, up to the server's limit (test_in_flight). */
static struct proto_call	*hold[PROTO_MAX_SERVER_CALLS];
static int			 nhold;

static void
h_hold(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	(void)m;
	(void)arg;
	if (nhold < PROTO_MAX_SERVER_CALLS)
		hold[nhold++] = call;
	else
		proto_call_fail(call, PROTO_INTERNAL, "held too many");
}

static const struct proto_method test_methods[] = {
	{ "Connect", &containerd__task__v2__connect_request__descriptor,
	  h_connect },
	{ "Wait", &containerd__task__v2__wait_request__descriptor, h_wait },
	{ "Kill", &containerd__task__v2__kill_request__descriptor, h_kill },
	{ "Hold", &containerd__task__v2__wait_request__descriptor, h_hold },
};
static const struct proto_service test_services[] = {
	{ SVC, test_methods, ARRAY_SIZE(test_methods), NULL },
};

static void
deadline_cb(void *arg)
{
	(void)arg;
	W.deadline = true;
	reactor_stop(W.r);
}

/* Run the loop until `want` replies arrived or 10 s passed. */
static bool
run_for_replies(int want)
{
	struct reactor_timer *t = reactor_timer_new(W.r, deadline_cb, NULL);

	W.want = want;
	W.deadline = false;
	reactor_timer_start(t, 10000, false);
	if (W.replies < want)
		reactor_run(W.r);
	reactor_timer_free(t);
	return !W.deadline;
}

static void
closed_poll_cb(void *arg)
{
	(void)arg;
	if (W.closed)
		reactor_stop(W.r);
}

/* Run the loop until the client connection reports it closed. */
static bool
run_until_closed(void)
{
	struct reactor_timer *t = reactor_timer_new(W.r, deadline_cb, NULL);
	struct reactor_timer *p = reactor_timer_new(W.r, closed_poll_cb, NULL);

	W.deadline = false;
	reactor_timer_start(t, 10000, false);
	reactor_timer_start(p, 1, true);
	while (!W.closed && !W.deadline)
		reactor_run(W.r);
	reactor_timer_free(t);
	reactor_timer_free(p);
	return W.closed;
}

static void
reply_cb(const struct proto_reply *rep, void *arg)
{
	int slot = (int)(intptr_t)arg;
	const Containerd__Task__V2__ConnectResponse *cr = (const void *)rep->msg;

	W.codes[slot] = rep->code;
	W.values[slot] = 0;
	if (rep->code == PROTO_OK && rep->msg != NULL &&
	    rep->msg->descriptor ==
	    &containerd__task__v2__connect_response__descriptor)
		W.values[slot] = cr->shim_pid;
	if (rep->code == PROTO_OK && rep->msg != NULL &&
	    rep->msg->descriptor ==
	    &containerd__task__v2__wait_response__descriptor)
		W.values[slot] = ((const Containerd__Task__V2__WaitResponse *)
		    (const void *)rep->msg)->exit_status;
	snprintf(W.last_msg, sizeof W.last_msg, "%s", rep->message != NULL ?
	    rep->message : "");
	if (++W.replies >= W.want)
		reactor_stop(W.r);
}

static uint32_t
call_connect(struct proto_conn *c, const char *id, int slot,
    uint64_t timeout_ms)
{
	Containerd__Task__V2__ConnectRequest req =
	    CONTAINERD__TASK__V2__CONNECT_REQUEST__INIT;
	struct proto_call_opts o = { timeout_ms, "default" };
	struct err err = { 0 };

	req.id = (char *)(uintptr_t)id;
	return proto_conn_call(c, SVC, "Connect", &req.base,
	    &containerd__task__v2__connect_response__descriptor, &o,
	    reply_cb, (void *)(intptr_t)slot, &err);
}

static uint32_t
call_method(struct proto_conn *c, const char *svc, const char *method,
    int slot, uint64_t timeout_ms)
{
	Containerd__Task__V2__WaitRequest req =
	    CONTAINERD__TASK__V2__WAIT_REQUEST__INIT;
	struct proto_call_opts o = { timeout_ms, NULL };
	struct err err = { 0 };

	req.id = (char *)(uintptr_t)"x";
	return proto_conn_call(c, svc, method, &req.base,
	    &containerd__task__v2__wait_response__descriptor, &o, reply_cb,
	    (void *)(intptr_t)slot, &err);
}

static void
closed_cb(struct proto_conn *c, void *arg)
{
	(void)c;
	(void)arg;
	W.closed = true;
}

/* A client and a server connection on a socketpair. */
static struct proto_conn *
pair(void)
{
	struct proto_conn_opts o = { .name = "client", .on_closed = closed_cb };
	int sv[2];

	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	proto_server_adopt(W.server, sv[1], NULL);
	W.closed = false;
	return proto_conn_adopt(W.r, W.env, sv[0], &o);
}

static void
test_worked_example(void)
{
	static const uint8_t want[] = {
		0x00, 0x00, 0x00, 0x51, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00,
	};
	Containerd__Task__V2__ConnectRequest cr =
	    CONTAINERD__TASK__V2__CONNECT_REQUEST__INIT;
	Ttrpc__Request rq = TTRPC__REQUEST__INIT;
	Ttrpc__KeyValue kv = TTRPC__KEY_VALUE__INIT, *kvp[1] = { &kv };
	struct proto_hdr h = { 0 }, back;
	uint8_t payload[16], hdr[PROTO_HDR_LEN];

	cr.id = (char *)(uintptr_t)"demo";
	rq.service = (char *)(uintptr_t)"containerd.task.v2.Task";
	rq.method = (char *)(uintptr_t)"Connect";
	rq.payload.len = protobuf_c_message_pack(&cr.base, payload);
	rq.payload.data = payload;
	kv.key = (char *)(uintptr_t)"containerd-namespace-ttrpc";
	kv.value = (char *)(uintptr_t)"default";
	rq.n_metadata = 1;
	rq.metadata = kvp;
	h.len = (uint32_t)protobuf_c_message_get_packed_size(&rq.base);
	h.stream = 1;
	h.type = PROTO_FT_REQUEST;
	proto_hdr_encode(hdr, &h);
	ok(memcmp(hdr, want, sizeof want) == 0, "frame: Connect request "
	    "header matches the reference bytes (len 0x51, stream 1)");
	proto_hdr_decode(hdr, &back);
	ok(back.len == 0x51 && back.stream == 1 && back.type == 1 &&
	    back.flags == 0, "frame: header decodes back");
	h.len = 0xfffffffe;
	h.stream = 0x80000001;
	proto_hdr_encode(hdr, &h);
	proto_hdr_decode(hdr, &back);
	ok(back.len == 0xfffffffe && back.stream == 0x80000001,
	    "frame: big-endian fields round-trip at the extremes");
}

static void
test_roundtrips(void)
{
	struct proto_conn *c = pair();
	int i, good = 0;

	W.replies = 0;
	call_connect(c, "demo", 0, 0);
	ok(run_for_replies(1) && W.codes[0] == 0 && W.values[0] == 4,
	    "ttrpc: socketpair round trip returns the handler's answer");
	W.replies = 0;
	for (i = 0; i < 64; i++)
		call_connect(c, i % 2 ? "abc" : "abcdef", i, 0);
	ok(run_for_replies(64), "ttrpc: 64 calls in flight all answered");
	for (i = 0; i < 64; i++)
		good += W.codes[i] == 0 && W.values[i] == (i % 2 ? 3u : 6u);
	is_int(good, 64, "ttrpc: every in-flight reply matched its call");

	/* Async: three Waits held, answered in reverse order. */
	W.replies = 0;
	W.nheld = 0;
	for (i = 0; i < 3; i++)
		call_method(c, SVC, "Wait", 10 + i, 0);
	call_connect(c, "later", 20, 0);
	ok(run_for_replies(1) && W.codes[20] == 0 && W.nheld == 3,
	    "ttrpc: a later call is answered while Waits stay pending");
	is_int(proto_conn_calls_pending(c), 3, "ttrpc: client counts 3 "
	    "pending calls");
	W.replies = 0;
	for (i = 2; i >= 0; i--) {
		Containerd__Task__V2__WaitResponse wr =
		    CONTAINERD__TASK__V2__WAIT_RESPONSE__INIT;

		wr.exit_status = 100 + (uint32_t)i;
		proto_call_reply(W.held[i], &wr.base);
	}
	W.nheld = 0;
	ok(run_for_replies(3) && W.values[10] == 100 && W.values[11] == 101 &&
	    W.values[12] == 102, "ttrpc: asynchronous replies in any order "
	    "reach their calls");
	proto_conn_free(c);
}

static void
test_errors(void)
{
	struct proto_conn *c = pair();

	W.replies = 0;
	call_method(c, "no.such.Service", "Wait", 0, 0);
	call_method(c, SVC, "NoSuchMethod", 1, 0);
	ok(run_for_replies(2) && W.codes[0] == PROTO_UNIMPLEMENTED &&
	    W.codes[1] == PROTO_UNIMPLEMENTED, "ttrpc: unknown service and "
	    "method answer UNIMPLEMENTED");
	is_str(W.last_msg, "method NoSuchMethod", "ttrpc: message names the "
	    "method, as the Go server does");

	/* A Wait held by the server and a 50 ms deadline. */
	W.replies = 0;
	W.nheld = 0;
	call_method(c, SVC, "Wait", 2, 50);
	ok(run_for_replies(1) && W.codes[2] == PROTO_DEADLINE_EXCEEDED,
	    "ttrpc: a call past its deadline fails DEADLINE_EXCEEDED");
	is_int(proto_conn_calls_pending(c), 0, "ttrpc: timed-out call is "
	    "forgotten");
	proto_call_fail(W.held[0], PROTO_CANCELLED, "late");
	W.nheld = 0;

	/* Cancelled calls never call back. */
	W.replies = 0;
	proto_conn_cancel(c, call_connect(c, "gone", 3, 0));
	call_connect(c, "kept", 4, 0);
	ok(run_for_replies(1) && W.replies == 1 && W.codes[4] == 0,
	    "ttrpc: a cancelled call does not call back");

	/* The server closes the connection in the middle of the call. */
	W.replies = 0;
	call_method(c, SVC, "Kill", 5, 0);
	ok(run_for_replies(1) && W.codes[5] == PROTO_UNAVAILABLE,
	    "ttrpc: peer closing mid-call fails it UNAVAILABLE");
	is_str(W.last_msg, "ttrpc: closed", "ttrpc: with Go's message");
	ok(proto_conn_closed(c) && W.closed, "ttrpc: client reached CLOSED "
	    "and told its owner");
	proto_call_fail(W.held[0], PROTO_CANCELLED, "reply to a closed conn "
	    "goes nowhere");
	W.nheld = 0;
	ok(proto_conn_call(c, SVC, "Connect", NULL, NULL, NULL, reply_cb,
	    NULL, NULL) == 0, "ttrpc: calls on a closed connection fail at "
	    "once");
	proto_conn_free(c);
}

/* A raw client: write bytes, read one response frame. */
struct raw {
	int		 fd;
	uint8_t		 buf[8192];
	size_t		 len;
	bool		 eof;
};

static void
raw_read_cb(int fd, int what, void *arg)
{
	struct raw *raw = arg;
	ssize_t n;

	(void)what;
	n = read(fd, raw->buf + raw->len, sizeof raw->buf - raw->len);
	if (n <= 0)
		raw->eof = true;
	else
		raw->len += (size_t)n;
	reactor_stop(W.r);
}

/* Run until the raw client has a full frame (or EOF); decode its status. */
static int
raw_response(struct raw *raw, uint32_t *stream, char *msg, size_t msglen)
{
	struct reactor_io *io = reactor_io_new(W.r, raw->fd, REACTOR_READ,
	    raw_read_cb, raw);
	struct reactor_timer *t = reactor_timer_new(W.r, deadline_cb, NULL);
	struct proto_hdr h;
	Ttrpc__Response *resp;
	int code = -1;

	W.deadline = false;
	reactor_timer_start(t, 10000, false);
	for (;;) {
		if (raw->len >= PROTO_HDR_LEN) {
			proto_hdr_decode(raw->buf, &h);
			if (raw->len >= PROTO_HDR_LEN + h.len)
				break;
		}
		if (raw->eof || W.deadline)
			goto out;
		reactor_run(W.r);
	}
	*stream = h.stream;
	resp = ttrpc__response__unpack(NULL, h.len, raw->buf + PROTO_HDR_LEN);
	if (resp != NULL && resp->status != NULL) {
		code = resp->status->code;
		snprintf(msg, msglen, "%s", resp->status->message);
	}
	if (resp != NULL)
		ttrpc__response__free_unpacked(resp, NULL);
	memmove(raw->buf, raw->buf + PROTO_HDR_LEN + h.len,
	    raw->len - PROTO_HDR_LEN - h.len);
	raw->len -= PROTO_HDR_LEN + h.len;
out:
	reactor_io_free(io);
	reactor_timer_free(t);
	return code;
}

/* Run until the raw client sees EOF. */
static bool
raw_eof(struct raw *raw)
{
	struct reactor_io *io = reactor_io_new(W.r, raw->fd, REACTOR_READ,
	    raw_read_cb, raw);
	struct reactor_timer *t = reactor_timer_new(W.r, deadline_cb, NULL);

	W.deadline = false;
	reactor_timer_start(t, 10000, false);
	while (!raw->eof && !W.deadline) {
		raw->len = 0;
		reactor_run(W.r);
	}
	reactor_io_free(io);
	reactor_timer_free(t);
	return raw->eof;
}

static void
raw_open(struct raw *raw)
{
	int sv[2];

	memset(raw, 0, sizeof *raw);
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	proto_server_adopt(W.server, sv[1], NULL);
	raw->fd = sv[0];
}

static void
raw_frame(struct raw *raw, uint32_t stream, uint8_t type, const void *body,
    uint32_t len)
{
	struct proto_hdr h = { len, stream, type, 0 };
	uint8_t hdr[PROTO_HDR_LEN];

	proto_hdr_encode(hdr, &h);
	write(raw->fd, hdr, sizeof hdr);
	if (len > 0 && body != NULL)
		write(raw->fd, body, len);
}

static void
test_hostile(void)
{
	Ttrpc__Request rq = TTRPC__REQUEST__INIT;
	uint8_t body[256], junk[64];
	size_t before = proto_server_conns(W.server);
	struct raw raw;
	uint32_t stream = 0;
	char msg[256] = "";
	size_t len;

	raw_open(&raw);
	rq.service = (char *)(uintptr_t)SVC;
	rq.method = (char *)(uintptr_t)"Connect";
	len = protobuf_c_message_pack(&rq.base, body);
	raw_frame(&raw, 2, PROTO_FT_REQUEST, body, (uint32_t)len);
	ok(raw_response(&raw, &stream, msg, sizeof msg) ==
	    PROTO_INVALID_ARGUMENT && stream == 2, "ttrpc: even stream id "
	    "refused INVALID_ARGUMENT on that id");

	memset(junk, 0xff, sizeof junk);
	raw_frame(&raw, 3, PROTO_FT_REQUEST, junk, sizeof junk);
	ok(raw_response(&raw, &stream, msg, sizeof msg) ==
	    PROTO_INVALID_ARGUMENT && strncmp(msg, "unmarshal request error",
	    23) == 0, "ttrpc: garbage request envelope refused (%s)", msg);

	rq.payload.data = junk;
	rq.payload.len = sizeof junk;
	len = protobuf_c_message_pack(&rq.base, body);
	raw_frame(&raw, 5, PROTO_FT_REQUEST, body, (uint32_t)len);
	ok(raw_response(&raw, &stream, msg, sizeof msg) ==
	    PROTO_INVALID_ARGUMENT && stream == 5, "ttrpc: malformed payload "
	    "answered INVALID_ARGUMENT (%s)", msg);

	raw_frame(&raw, 7, 0x7f, junk, 8);
	raw_frame(&raw, 9, PROTO_FT_RESPONSE, junk, 8);
	rq.payload.len = 0;
	len = protobuf_c_message_pack(&rq.base, body);
	raw_frame(&raw, 11, PROTO_FT_REQUEST, body, (uint32_t)len);
	ok(raw_response(&raw, &stream, msg, sizeof msg) == PROTO_OK &&
	    stream == 11, "ttrpc: unknown frame types ignored, connection "
	    "still serves");

	raw_frame(&raw, 13, PROTO_FT_REQUEST, NULL, PROTO_FRAME_MAX + 1);
	ok(raw_response(&raw, &stream, msg, sizeof msg) ==
	    PROTO_RESOURCE_EXHAUSTED && stream == 13, "ttrpc: oversized frame "
	    "answered RESOURCE_EXHAUSTED");
	ok(raw_eof(&raw), "ttrpc: oversized frame closes the connection");
	close(raw.fd);

	raw_open(&raw);
	raw_frame(&raw, 1, PROTO_FT_REQUEST, NULL, 100);
	write(raw.fd, junk, 10);
	shutdown(raw.fd, SHUT_WR);
	ok(raw_eof(&raw), "ttrpc: truncated frame then EOF closes the "
	    "connection");
	close(raw.fd);
	W.replies = 0;
	proto_conn_free(pair());
	ok(proto_server_conns(W.server) <= before + 1, "ttrpc: closed server "
	    "connections are freed (%zu left)", proto_server_conns(W.server));
}

/*
 * The server holds at most 1024 calls per connection: the next one is
 * refused at once, and proto_server_calls() counts what is held.
 */
static void
test_in_flight(void)
{
	Ttrpc__Request rq = TTRPC__REQUEST__INIT;
	struct proto_hdr h = { 0, 0, PROTO_FT_REQUEST, 0 };
	size_t before = proto_server_calls(W.server);
	uint8_t body[64], hdr[PROTO_HDR_LEN];
	uint32_t i, stream = 0;
	struct buf wire;
	char msg[256] = "";
	struct raw raw;
	size_t len;
	int code;

	raw_open(&raw);
	rq.service = (char *)(uintptr_t)SVC;
	rq.method = (char *)(uintptr_t)"Hold";
	len = protobuf_c_message_pack(&rq.base, body);
	/* One write: a frame a write would fill the socket with skbs. */
	buf_init(&wire);
	for (i = 0; i <= PROTO_MAX_SERVER_CALLS; i++) {
		h.len = (uint32_t)len;
		h.stream = 2 * i + 1;
		proto_hdr_encode(hdr, &h);
		buf_append(&wire, hdr, sizeof hdr);
		buf_append(&wire, body, len);
	}
	ok(write(raw.fd, buf_head(&wire), buf_used(&wire)) ==
	    (ssize_t)buf_used(&wire), "ttrpc: 1025 calls written");
	buf_fini(&wire);
	code = raw_response(&raw, &stream, msg, sizeof msg);
	ok(code == PROTO_RESOURCE_EXHAUSTED &&
	    stream == 2 * PROTO_MAX_SERVER_CALLS + 1, "ttrpc: call 1025 in "
	    "flight refused RESOURCE_EXHAUSTED (%s)", msg);
	is_int((int)(proto_server_calls(W.server) - before),
	    PROTO_MAX_SERVER_CALLS, "ttrpc: the server counts 1024 calls "
	    "held");
	for (i = 0; i < (uint32_t)nhold; i++)
		proto_call_reply_empty(hold[i]);
	nhold = 0;
	is_int((int)proto_server_calls(W.server), (int)before, "ttrpc: "
	    "answered calls are no longer counted");
	close(raw.fd);
}

static void
test_unix_socket(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct proto_conn *c;
	struct err err = { 0 };
	int fd;

	snprintf(sun.sun_path, sizeof sun.sun_path, "/tmp/kiln-t_proto-%d",
	    (int)getpid());
	unlink(sun.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bind(fd, (struct sockaddr *)&sun, sizeof sun);
	listen(fd, 16);
	proto_server_listen(W.server, fd, true);
	c = proto_conn_dial(W.r, W.env, sun.sun_path, NULL, &err);
	ok(c != NULL, "ttrpc: dial a unix socket");
	W.replies = 0;
	call_connect(c, "unix", 0, 0);
	ok(run_for_replies(1) && W.codes[0] == 0 && W.values[0] == 4,
	    "ttrpc: round trip over a unix socket (same-uid peer accepted)");
	proto_conn_free(c);
	unlink(sun.sun_path);

	c = proto_conn_dial(W.r, W.env, sun.sun_path, NULL, &err);
	ok(c == NULL && err.code == ENOENT, "ttrpc: dialing a missing socket "
	    "fails clearly (%s)", err.msg);
}

/* The trace of one client connection's life. */
static void
test_trace(void)
{
	const struct fsm_trace_rec *rec;
	struct proto_conn *c = pair();
	struct err err = { 0 };
	const char *states[8];
	int i, n = 0;

	ok(fsm_check(fsm_registry_find("ttrpc_conn"), &err) == 0,
	    "ttrpc_conn table passes fsm_check");
	proto_conn_close(c);
	run_until_closed();
	for (i = 0; i < 256 && n < 8; i++) {
		rec = fsm_env_last(W.env, (unsigned)i);
		if (rec == NULL)
			break;
		if (strcmp(rec->id, proto_conn_name(c)) == 0)
			states[n++] = fsm_state_name(rec->def, rec->to);
	}
	ok(n == 3 && strcmp(states[2], "READY") == 0 &&
	    strcmp(states[1], "DRAINING") == 0 &&
	    strcmp(states[0], "CLOSED") == 0, "ttrpc_conn trace: READY, "
	    "DRAINING, CLOSED");
	proto_conn_free(c);
}

/* ---- the listening server under load -------------------------------- */

static char burst_path[108];

static void	run_until_closed_count(size_t);

/* A fresh listening socket for W.server, with a deliberately small
 * backlog: proto_server_listen must make it a real one. */
static void
burst_listen(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	snprintf(burst_path, sizeof burst_path, "/tmp/kiln-t_proto-burst-%d",
	    (int)getpid());
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", burst_path);
	unlink(burst_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bind(fd, (struct sockaddr *)&sun, sizeof sun);
	listen(fd, 16);
	proto_server_listen(W.server, fd, true);
}

/* A non-blocking connect as Go's net.Dial makes it; -1 with errno. */
static int
burst_connect(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);

	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", burst_path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0 &&
	    errno != EINPROGRESS) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* n connect/close pairs, as fast as possible; returns the failures. */
static int
burst_pairs(int n, int *first_errno)
{
	int i, failed = 0, fd;

	*first_errno = 0;
	for (i = 0; i < n; i++) {
		if ((fd = burst_connect()) >= 0) {
			close(fd);
			continue;
		}
		if (failed++ == 0)
			*first_errno = errno;
	}
	return failed;
}

/*
 * 500 connect/close pairs with no loop turn in between (stricter than a
 * client in another process, which the server would drain meanwhile):
 * only a real backlog holds them; then the accept loop must empty it in a
 * few turns so that the next real call is answered.
 */
static void
test_burst(void)
{
	struct proto_conn *c;
	struct err err = { 0 };
	size_t before = proto_server_conns(W.server);
	int failed, e;

	burst_listen();
	failed = burst_pairs(500, &e);
	ok(failed == 0, "server: 500 connect/close pairs in a tight loop, "
	    "every connect() succeeds (%d failed, first: %s)", failed,
	    e != 0 ? strerror(e) : "none");
	c = proto_conn_dial(W.r, W.env, burst_path, NULL, &err);
	W.replies = 0;
	if (c != NULL)
		call_connect(c, "burst", 0, 5000);
	ok(c != NULL && run_for_replies(1) && W.codes[0] == PROTO_OK &&
	    W.values[0] == 5, "server: the real call right after the burst is "
	    "answered");
	proto_conn_free(c);
	run_until_closed_count(before);
	diag("refused over the bound during the burst: %llu",
	    (unsigned long long)proto_server_refused(W.server));
}

/* Turns until the server is back to n connections (closes are async). */
static void
run_until_closed_count(size_t n)
{
	struct reactor_timer *t = reactor_timer_new(W.r, deadline_cb, NULL);

	W.deadline = false;
	reactor_timer_start(t, 10000, false);
	while (proto_server_conns(W.server) > n && !W.deadline)
		reactor_run_once(W.r, true);
	reactor_timer_free(t);
}

#define STALLERS	50

/* Read (non-blocking) until EOF; false on EAGAIN or an error. */
static bool
drain_to_eof(int fd)
{
	char sink[4096];
	ssize_t n;

	while ((n = read(fd, sink, sizeof sink)) > 0)
		;
	return n == 0;
}

/*
 * 50 peers each send half a frame and stall; a normal client is served
 * meanwhile, the stallers cost little, and the frame deadline (300 ms
 * here) closes them while the normal client stays.
 */
static void
test_stallers(void)
{
	struct proto_hdr h = { 1000, 1, PROTO_FT_REQUEST, 0 };
	uint8_t frame[PROTO_HDR_LEN + 10] = { 0 };
	int fds[STALLERS], i, good = 0, eofs;
	size_t before = proto_server_conns(W.server), mem;
	struct proto_conn *c;
	struct err err = { 0 };

	proto_server_set_limits(W.server, 0, 0, 300);
	proto_hdr_encode(frame, &h);
	for (i = 0; i < STALLERS; i++)
		if ((fds[i] = burst_connect()) >= 0 &&
		    write(fds[i], frame, sizeof frame) == (ssize_t)sizeof frame)
			good++;
	c = proto_conn_dial(W.r, W.env, burst_path, NULL, &err);
	W.replies = 0;
	for (i = 0; c != NULL && i < 20; i++)
		call_connect(c, "stall", i, 5000);
	ok(good == STALLERS && c != NULL && run_for_replies(20) &&
	    W.codes[0] == PROTO_OK && W.codes[19] == PROTO_OK, "server: 50 "
	    "half-frame stallers, a normal client's 20 calls are answered");
	mem = proto_server_buffered(W.server);
	ok(proto_server_conns(W.server) == before + STALLERS + 1 &&
	    mem <= (STALLERS + 1) * 2 * 64 * 1024, "server: the stallers cost "
	    "bounded memory (%zu KiB buffered for %zu connections)",
	    mem / 1024, proto_server_conns(W.server));
	/* The normal client stays; the stallers pass the 300 ms deadline. */
	run_until_closed_count(before + 1);
	for (i = 0, eofs = 0; i < STALLERS; i++)
		if (fds[i] >= 0 && drain_to_eof(fds[i]))
			eofs++;
	ok(proto_server_conns(W.server) == before + 1 && eofs == STALLERS,
	    "server: stalled frames are closed after the deadline (%d of %d "
	    "read EOF), the normal client is kept", eofs, STALLERS);
	W.replies = 0;
	call_connect(c, "after", 0, 5000);
	ok(run_for_replies(1) && W.codes[0] == PROTO_OK, "server: the normal "
	    "client is still served");
	proto_conn_free(c);
	for (i = 0; i < STALLERS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	run_until_closed_count(before);
	ok(proto_server_conns(W.server) == before, "server: every connection "
	    "freed");
	proto_server_set_limits(W.server, 0, 0, 0);
}

/* A Connect request whose 4 KiB namespace the reply echoes back. */
static size_t
big_request(uint8_t *out, size_t outlen, uint32_t stream)
{
	Containerd__Task__V2__ConnectRequest req =
	    CONTAINERD__TASK__V2__CONNECT_REQUEST__INIT;
	Ttrpc__Request rq = TTRPC__REQUEST__INIT;
	Ttrpc__KeyValue kv = TTRPC__KEY_VALUE__INIT, *kvp[1] = { &kv };
	static char ns[4096];
	uint8_t body[512];
	struct proto_hdr h;
	size_t len;

	memset(ns, 'n', sizeof ns - 1);
	req.id = (char *)(uintptr_t)"x";
	rq.service = (char *)(uintptr_t)SVC;
	rq.method = (char *)(uintptr_t)"Connect";
	rq.payload.len = protobuf_c_message_pack(&req.base, body);
	rq.payload.data = body;
	kv.key = (char *)(uintptr_t)"containerd-namespace-ttrpc";
	kv.value = ns;
	rq.metadata = kvp;
	rq.n_metadata = 1;
	len = protobuf_c_message_get_packed_size(&rq.base);
	if (len + PROTO_HDR_LEN > outlen)
		return 0;
	h = (struct proto_hdr){ (uint32_t)len, stream, PROTO_FT_REQUEST, 0 };
	proto_hdr_encode(out, &h);
	protobuf_c_message_pack(&rq.base, out + PROTO_HDR_LEN);
	return len + PROTO_HDR_LEN;
}

/*
 * A client that sends requests with 4 KiB replies and never reads them:
 * once more than max_out (64 KiB here) waits unread, it is disconnected.
 */
static void
test_never_reads(void)
{
	static uint8_t frame[8192];
	size_t before = proto_server_conns(W.server), len, off = 0;
	int fd, sent = 0, turns;
	uint64_t got = 0;
	ssize_t n;
	char sink[65536];

	proto_server_set_limits(W.server, 0, 64 * 1024, 0);
	fd = burst_connect();
	len = big_request(frame, sizeof frame, 1);
	/* Write until the server hangs up on us, never reading. */
	for (turns = 0; fd >= 0 && turns < 20000 && sent < 4000; turns++) {
		n = write(fd, frame + off, len - off);
		if (n > 0 && (off += (size_t)n) == len) {
			off = 0;
			sent++;
		}
		if (n < 0 && errno != EAGAIN)
			break;
		reactor_run_once(W.r, false);
	}
	run_until_closed_count(before);
	ok(fd >= 0 && sent > 0 && proto_server_conns(W.server) == before,
	    "server: a client that never reads is disconnected once its "
	    "unread replies pass the bound (%d requests sent)", sent);
	while (fd >= 0 && (n = read(fd, sink, sizeof sink)) > 0)
		got += (uint64_t)n;
	ok(fd >= 0 && sent > 0 && n == 0 && got < (uint64_t)sent * 4096,
	    "server: it reads EOF after %llu KiB, not all %d replies",
	    (unsigned long long)got / 1024, sent);
	if (fd >= 0)
		close(fd);
	proto_server_set_limits(W.server, 0, 0, 0);
}

/* Past max_conns, a connection is accepted and closed at once. */
static void
test_max_conns(void)
{
	size_t before = proto_server_conns(W.server);
	uint64_t refused = proto_server_refused(W.server);
	int fds[4], i, extra;
	char b;

	proto_server_set_limits(W.server, before + 3, 0, 0);
	for (i = 0; i < 4; i++)
		fds[i] = burst_connect();
	for (i = 0; i < 50 && proto_server_refused(W.server) == refused; i++)
		reactor_run_once(W.r, true);
	/* The refused one reads EOF; the others stay open (EAGAIN). */
	extra = fds[3] >= 0 ? (int)read(fds[3], &b, 1) : -2;
	ok(proto_server_conns(W.server) == before + 3 &&
	    proto_server_refused(W.server) == refused + 1 && extra == 0,
	    "server: over max_conns the peer is accepted, closed and counted "
	    "(%zu open, %llu refused)", proto_server_conns(W.server),
	    (unsigned long long)(proto_server_refused(W.server) - refused));
	for (i = 0; i < 4; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	run_until_closed_count(before);
	proto_server_set_limits(W.server, 0, 0, 0);
}

/* ---- the vsock channel ---------------------------------------------- */

struct vt {
	int	ready;
	int	closed;
};

static void
vt_ready_cb(struct vsock_chan *ch, struct proto_conn *c, void *arg)
{
	struct vt *vt = arg;

	(void)ch;
	(void)c;
	vt->ready++;
}

static void
vt_closed_cb(struct vsock_chan *ch, const struct err *why, void *arg)
{
	struct vt *vt = arg;

	(void)ch;
	(void)why;
	vt->closed++;
}

/* Loop turns until *flag (or the channel's state is want), 10 s at most. */
static bool
vt_run_until(struct vsock_chan *ch, int want, const int *flag)
{
	struct reactor_timer *t = reactor_timer_new(W.r, deadline_cb, NULL);

	W.deadline = false;
	reactor_timer_start(t, 10000, false);
	while (!W.deadline && (flag != NULL ? *flag == 0 :
	    ch->fsm.state != want))
		reactor_run_once(W.r, true);
	reactor_timer_free(t);
	return !W.deadline;
}

/* A listening unix socket standing in for QEMU's agent chardev. */
static int
vt_listen(char *path, size_t len)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	snprintf(path, len, "/tmp/kiln-t_proto-vsock-%d", (int)getpid());
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bind(fd, (struct sockaddr *)&sun, sizeof sun);
	listen(fd, 4);
	return fd;
}

/*
 * HELLO made the channel READY and deferred the ready notice; CLOSE tore
 * it down before that ran (issue 17's TLC trace, with CLOSE for the
 * TIMEOUT). The owner must hear on_closed only, and no connection may be
 * made on the closed fd.
 */
static void
test_vsock_teardown_before_ready(void)
{
	struct vt vt = { 0, 0 };
	struct vsock_opts o = { .name = "vt", .on_ready = vt_ready_cb,
	    .on_closed = vt_closed_cb, .arg = &vt };
	struct err err = { 0 };
	struct vsock_chan *ch;
	char path[108];
	uint64_t rejected;
	bool ran;
	int lfd = vt_listen(path, sizeof path);

	ch = vsock_dial_serial(W.r, W.env, path, &o, &err);
	ok(ch != NULL && vt_run_until(ch, VSOCK_ST_AWAIT_HELLO, NULL),
	    "vsock: dialed, waiting for the greeting");
	(void)fsm_dispatch(&ch->fsm, VSOCK_EV_HELLO, NULL, &err);
	(void)fsm_dispatch(&ch->fsm, VSOCK_EV_CLOSE, NULL, &err);
	rejected = fsm_env_rejected(W.env);
	/* Run first: ok()'s other arguments read the counts. */
	ran = vt_run_until(ch, 0, &vt.closed);
	ok(ran && vt.closed == 1 && vt.ready == 0, "vsock: torn down before "
	    "the ready notice ran: on_closed only (ready %d, closed %d)",
	    vt.ready, vt.closed);
	/* A few more turns: nothing deferred may be left to fire. */
	reactor_run_once(W.r, false);
	reactor_run_once(W.r, false);
	ok(vt.ready == 0 && vsock_conn(ch) == NULL && ch->conn == NULL &&
	    fsm_env_rejected(W.env) == rejected, "vsock: the notice was "
	    "cancelled, no connection on the closed fd");
	vsock_free(ch);
	close(lfd);
	unlink(path);
}

/* The same greeting path with no teardown still tells the owner once. */
static void
test_vsock_ready(void)
{
	struct vt vt = { 0, 0 };
	struct vsock_opts o = { .name = "vt2", .on_ready = vt_ready_cb,
	    .on_closed = vt_closed_cb, .arg = &vt };
	struct err err = { 0 };
	struct vsock_chan *ch;
	char path[108];
	int lfd = vt_listen(path, sizeof path);

	ch = vsock_dial_serial(W.r, W.env, path, &o, &err);
	ok(ch != NULL && vt_run_until(ch, VSOCK_ST_AWAIT_HELLO, NULL),
	    "vsock: dialed again");
	(void)fsm_dispatch(&ch->fsm, VSOCK_EV_HELLO, NULL, &err);
	ok(vt_run_until(ch, 0, &vt.ready) && vt.ready == 1 && vt.closed == 0 &&
	    vsock_conn(ch) != NULL, "vsock: READY and the notice ran: "
	    "on_ready once with a connection");
	vsock_free(ch);
	close(lfd);
	unlink(path);
}

/* The owner's side of a channel (test_vsock_conn_outlives_close). */
struct vo {
	struct proto_conn	*conn;	/* from on_ready; NULL once told */
	int			 replies;
	int			 checks;
	bool			 saw_closed;
	int			 closed;
};

static void
vo_ready_cb(struct vsock_chan *ch, struct proto_conn *c, void *arg)
{
	struct vo *vo = arg;

	(void)ch;
	vo->conn = c;
}

static void
vo_closed_cb(struct vsock_chan *ch, const struct err *why, void *arg)
{
	struct vo *vo = arg;

	(void)ch;
	(void)why;
	vo->conn = NULL;
	vo->closed++;
}

/* Deferred by a failed call, as core's exec_free_cb is: uses the conn. */
static void
vo_check_cb(void *arg)
{
	struct vo *vo = arg;

	if (vo->conn == NULL)
		return;
	vo->checks++;
	vo->saw_closed = proto_conn_closed(vo->conn);
	proto_conn_cancel(vo->conn, 12345);
}

static void
vo_reply_cb(const struct proto_reply *rep, void *arg)
{
	struct vo *vo = arg;

	(void)rep;
	vo->replies++;
	reactor_defer(W.r, vo_check_cb, vo);
}

/*
 * The agent hangs up with a call pending: the call fails, and what its
 * callback deferred runs before the channel's on_closed, with the
 * connection the owner was given still in hand. It must still be a
 * connection (closed), not freed memory (found by fuzz_ttrpc: exec_free
 * cancelling its calls on a freed agent connection).
 */
static void
test_vsock_conn_outlives_close(void)
{
	struct vo vo = { 0 };
	struct vsock_opts o = { .name = "vt3", .on_ready = vo_ready_cb,
	    .on_closed = vo_closed_cb, .arg = &vo };
	Google__Protobuf__Empty e = GOOGLE__PROTOBUF__EMPTY__INIT;
	struct proto_hdr h = { sizeof PROTO_AGENT_HELLO - 1, 0,
	    PROTO_FT_KILN_HELLO, 0 };
	uint8_t hello[PROTO_HDR_LEN + sizeof PROTO_AGENT_HELLO];
	struct err err = { 0 };
	struct vsock_chan *ch;
	char path[108];
	int lfd = vt_listen(path, sizeof path), afd = -1, i;

	ch = vsock_dial_serial(W.r, W.env, path, &o, &err);
	for (i = 0; i < 1000 && afd < 0; i++) {
		reactor_run_once(W.r, false);
		afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	}
	proto_hdr_encode(hello, &h);
	memcpy(hello + PROTO_HDR_LEN, PROTO_AGENT_HELLO, h.len);
	ok(afd >= 0 && write(afd, hello, PROTO_HDR_LEN + h.len) ==
	    (ssize_t)(PROTO_HDR_LEN + h.len), "vsock: the agent greets");
	for (i = 0; i < 1000 && vo.conn == NULL; i++)
		reactor_run_once(W.r, false);
	ok(vo.conn != NULL && proto_conn_call(vo.conn, "kiln.agent.v1.Agent",
	    "Ping", &e.base, &google__protobuf__empty__descriptor, NULL,
	    vo_reply_cb, &vo, &err) != 0, "vsock: READY, a call pending");
	close(afd);
	for (i = 0; i < 1000 && vo.closed == 0; i++)
		reactor_run_once(W.r, false);
	ok(vo.replies == 1 && vo.checks == 1 && vo.saw_closed &&
	    vo.closed == 1, "vsock: the owner's connection is still one "
	    "(closed) until on_closed (replies %d, checks %d, closed %d)",
	    vo.replies, vo.checks, vo.closed);
	vsock_free(ch);
	close(lfd);
	unlink(path);
}

int
main(void)
{
	struct err err = { 0 };

	log_init("t_proto", LOG_LVL_ERROR, 2);
	W.r = reactor_new(&err);
	W.env = fsm_env_new();
	W.server = proto_server_new(W.r, W.env, test_services,
	    ARRAY_SIZE(test_services));
	test_worked_example();
	test_roundtrips();
	test_errors();
	test_hostile();
	test_in_flight();
	test_unix_socket();
	test_trace();
	test_burst();
	test_stallers();
	test_never_reads();
	test_max_conns();
	unlink(burst_path);
	test_vsock_teardown_before_ready();
	test_vsock_ready();
	test_vsock_conn_outlives_close();
	proto_server_free(W.server);
	reactor_free(W.r);
	fsm_env_free(W.env);
	return tap_done();
}

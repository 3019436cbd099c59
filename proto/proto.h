/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proto: kiln's wire layer. ttrpc 1.1.1 framing, one connection type that
 * serves three uses (containerd calling the shim, the shim publishing
 * events to containerd, the shim calling the guest agent), a server with a
 * service/method registry whose handlers may answer later, and a client
 * with per-call timeouts. Above reactor/ and fsm/, below qmp/vsock/core.
 *
 * Facts followed here: ../shared/reference/containerd-shim-v2.md, section
 * 1 (framing, status codes, odd client stream ids, 4 MiB limit).
 *
 * Everything read from a connection is untrusted: a bad frame closes that
 * connection with a logged error, a bad request gets an error status; no
 * input makes the process crash or grow without bound.
 */
#ifndef KILN_PROTO_H
#define KILN_PROTO_H

#include <stdbool.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "core/base/base.h"
#include "fsm/fsm.h"
#include "reactor/reactor.h"

#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "ttrpc.pb-c.h"

/* ttrpc frame header: length, stream id, type, flags; big-endian. */
#define PROTO_HDR_LEN		10
#define PROTO_FRAME_MAX		(4u << 20)

enum proto_frame_type {
	PROTO_FT_REQUEST = 0x01,
	PROTO_FT_RESPONSE = 0x02,
	/* kiln's agent channel only: stdio StreamFrame, either direction. */
	PROTO_FT_KILN_STREAM = 0x20,
	/*
	 * kiln's agent channel only: the agent's greeting. virtio-serial drops
	 * what the host writes before the guest opened the port, so the host
	 * sends nothing until it has seen this frame (body: "kiln.agent.v1").
	 */
	PROTO_FT_KILN_HELLO = 0x21,
};

/* The agent channel: virtio-serial port name, AF_VSOCK port, greeting. */
#define PROTO_AGENT_PORT_NAME	"kiln.agent"
#define PROTO_AGENT_VSOCK_PORT	1024
#define PROTO_AGENT_HELLO	"kiln.agent.v1"
/*
 * Stdio flow control: each direction of each stream may have this many
 * bytes sent but not yet credited back by the receiver.
 */
#define PROTO_STREAM_WINDOW	(1024u * 1024)
#define PROTO_STREAM_CHUNK	(64u * 1024)	/* data bytes per frame */
#define PROTO_ID_MAX		76	/* containerd's identifier limit */

struct proto_hdr {
	uint32_t	len;
	uint32_t	stream;
	uint8_t		type;
	uint8_t		flags;
};

void	proto_hdr_encode(uint8_t out[PROTO_HDR_LEN], const struct proto_hdr *);
void	proto_hdr_decode(const uint8_t in[PROTO_HDR_LEN], struct proto_hdr *);

/* gRPC status codes as ttrpc carries them (google.rpc.Code). */
enum proto_code {
	PROTO_OK = 0,
	PROTO_CANCELLED = 1,
	PROTO_UNKNOWN = 2,
	PROTO_INVALID_ARGUMENT = 3,
	PROTO_DEADLINE_EXCEEDED = 4,
	PROTO_NOT_FOUND = 5,
	PROTO_ALREADY_EXISTS = 6,
	PROTO_RESOURCE_EXHAUSTED = 8,
	PROTO_FAILED_PRECONDITION = 9,
	PROTO_UNIMPLEMENTED = 12,
	PROTO_INTERNAL = 13,
	PROTO_UNAVAILABLE = 14,
};
const char	*proto_code_name(int code);
/* Map a struct err code (errno or ERR_*) to a gRPC code. */
int		 proto_code_from_err(const struct err *);

struct proto_conn;
struct proto_server;
struct proto_call;

/* ---- connections ------------------------------------------------------ */

/* Called once, from a deferred call, when the connection has closed. */
typedef void	(*proto_closed_cb)(struct proto_conn *, void *arg);
/* A call on this connection passed its deadline (after its callback). */
typedef void	(*proto_timeout_cb)(struct proto_conn *, void *arg);
/* A kiln stream frame arrived (agent channel); data is borrowed. */
typedef void	(*proto_stream_cb)(struct proto_conn *, const uint8_t *data,
		    size_t len, void *arg);

struct proto_conn_opts {
	const char	*name;		/* for logs and the trace id */
	proto_closed_cb	 on_closed;
	proto_stream_cb	 on_stream;	/* NULL: stream frames ignored */
	void		*arg;
	void		*stream_arg;	/* on_stream's arg; NULL: arg */
	proto_timeout_cb on_timeout;	/* NULL: timeouts only fail calls */
	uint64_t	 drain_ms;	/* DRAINING timeout; 0 = 5000 */
	uint64_t	 connect_ms;	/* CONNECTING timeout; 0 = 5000 */
	/* Borrowed, may be NULL: each client call's time to its answer
	 * (reply, error, timeout or close alike) is added here. */
	struct hist	*call_hist;
};

/*
 * Client side: connect (non-blocking) to a unix socket path. The
 * connection starts CONNECTING; calls made now are sent once it is READY.
 * Returns NULL with err on an immediate failure.
 */
struct proto_conn *proto_conn_dial(struct reactor *, struct fsm_env *,
		    const char *path, const struct proto_conn_opts *,
		    struct err *);
/* Client side on an already connected fd (taken). Never fails. */
struct proto_conn *proto_conn_adopt(struct reactor *, struct fsm_env *,
		    int fd, const struct proto_conn_opts *);
/* Start an orderly close: stop reading, flush, then CLOSED. */
void		 proto_conn_close(struct proto_conn *);
/*
 * Free now, whatever the state; pending calls are dropped without their
 * callbacks. Safe from inside on_closed. NULL is a no-op.
 */
void		 proto_conn_free(struct proto_conn *);
/*
 * Answer every call still waiting for a reply with PROTO_UNAVAILABLE and
 * why (borrowed), now: the callbacks run before this returns, so call it
 * outside any dispatch. For an owner about to free a connection whose
 * callers must hear the end (proto_conn_free drops them silently).
 * NULL is a no-op.
 */
void		 proto_conn_fail_calls(struct proto_conn *, const char *why);
bool		 proto_conn_ready(const struct proto_conn *);
bool		 proto_conn_closed(const struct proto_conn *);
const char	*proto_conn_name(const struct proto_conn *);
/* Bytes queued for writing (back-pressure for stream producers). */
size_t		 proto_conn_out_pending(const struct proto_conn *);
/* Queue a kiln frame (PROTO_FT_KILN_*) with a raw body. */
int		 proto_conn_send_frame(struct proto_conn *, uint8_t type,
		    const uint8_t *, size_t, struct err *);
/* Feed raw bytes as if read from the socket (fuzzing, tests). */
void		 proto_conn_feed(struct proto_conn *, const uint8_t *, size_t);

/* ---- client calls ---------------------------------------------------- */

/* The outcome of a call: code 0 and msg set, or an error code and text. */
struct proto_reply {
	int			 code;
	const char		*message;
	ProtobufCMessage	*msg;	/* unpacked result, freed after cb */
};
typedef void	(*proto_reply_cb)(const struct proto_reply *, void *arg);

struct proto_call_opts {
	uint64_t	 timeout_ms;	/* 0: no deadline */
	const char	*namespace;	/* metadata containerd-namespace-ttrpc */
};

/*
 * Send service/method(req) and call cb later (never from inside this
 * call) with the unpacked reply of type resp_desc. Returns a call id for
 * proto_conn_cancel(), or 0 with err if the connection is closed.
 * Timeouts answer DEADLINE_EXCEEDED; a dropped connection UNAVAILABLE.
 */
uint32_t	 proto_conn_call(struct proto_conn *, const char *service,
		    const char *method, const ProtobufCMessage *req,
		    const ProtobufCMessageDescriptor *resp_desc,
		    const struct proto_call_opts *, proto_reply_cb,
		    void *arg, struct err *);
/* Forget a pending call; its callback will not run. */
void		 proto_conn_cancel(struct proto_conn *, uint32_t id);
size_t		 proto_conn_calls_pending(const struct proto_conn *);

/* ---- server ---------------------------------------------------------- */

/*
 * A method handler. req is owned by call and valid until the reply. The
 * handler must eventually answer with proto_call_reply() or
 * proto_call_fail(), now or later (e.g. Wait); the answer frees call.
 */
typedef void	(*proto_method_fn)(struct proto_call *,
		    const ProtobufCMessage *req, void *arg);

struct proto_method {
	const char			*name;
	const ProtobufCMessageDescriptor *input;
	proto_method_fn			 fn;
};

struct proto_service {
	const char			*name;
	const struct proto_method	*methods;
	size_t				 nmethods;
	void				*arg;
};

/* services (and their tables) are borrowed for the server's life. */
struct proto_server *proto_server_new(struct reactor *, struct fsm_env *,
		    const struct proto_service *services, size_t nservices);
void		 proto_server_free(struct proto_server *);
/*
 * Accept connections on listening socket fd (taken), whose backlog is
 * raised to SOMAXCONN. If same_uid, peers whose SO_PEERCRED uid/gid
 * differ from ours are dropped (ttrpc's rule).
 */
void		 proto_server_listen(struct proto_server *, int fd,
		    bool same_uid);
/*
 * Limits on connections accepted from the listening socket (adopted ones
 * are the caller's business): at most max_conns open at once (more are
 * accepted and closed at once, logged and counted); at most max_out bytes
 * of replies a peer has not read before it is disconnected; and a frame
 * begun must make progress within stall_ms or the connection is closed as
 * a protocol error (so stallers cannot hold every slot). 0 keeps the
 * default (PROTO_SERVER_MAX_CONNS, _MAX_OUT, _STALL_MS). Applies to
 * connections accepted afterwards.
 */
#define PROTO_SERVER_MAX_CONNS	128
#define PROTO_SERVER_MAX_OUT	(2 * (PROTO_FRAME_MAX + PROTO_HDR_LEN))
#define PROTO_SERVER_STALL_MS	10000
void		 proto_server_set_limits(struct proto_server *,
		    size_t max_conns, size_t max_out, uint64_t stall_ms);
/* Serve one connected fd (taken), e.g. a socketpair or serial port. */
struct proto_conn *proto_server_adopt(struct proto_server *, int fd,
		    const struct proto_conn_opts *);
size_t		 proto_server_conns(const struct proto_server *);
/* Connections refused for being over max_conns, over the server's life. */
uint64_t	 proto_server_refused(const struct proto_server *);
/* Bytes the server's connections hold in their buffers (allocated). */
size_t		 proto_server_buffered(const struct proto_server *);
/*
 * Calls the server's connections have handed to handlers and not yet
 * seen answered (a connection refuses calls past 1024 in flight).
 */
size_t		 proto_server_calls(const struct proto_server *);

/* Answer with resp (borrowed; packed at once) and free call. */
void		 proto_call_reply(struct proto_call *,
		    const ProtobufCMessage *resp);
/* Answer with google.protobuf.Empty and free call. */
void		 proto_call_reply_empty(struct proto_call *);
/* Answer with err's message and the gRPC code for err's code. */
void		 proto_call_fail_err(struct proto_call *, const struct err *);
/* Answer with an error status and free call. */
void		 proto_call_fail(struct proto_call *, int code,
		    const char *fmt, ...) PRINTF_LIKE(3, 4);
/* Free call without ever answering it (a test hook that plays dead). */
void		 proto_call_drop(struct proto_call *);
/* The connection the call came on, or NULL if it has closed. */
struct proto_conn *proto_call_conn(const struct proto_call *);
const char	*proto_call_method(const struct proto_call *);
/* First metadata value for key, or NULL. */
const char	*proto_call_metadata(const struct proto_call *,
		    const char *key);

/* ---- stdio stream frames (agent channel) ----------------------------- */

struct proto_stream_msg {
	const char	*container_id;
	const char	*exec_id;	/* "" for the init process */
	uint32_t	 fd;		/* 0 stdin, 1 stdout, 2 stderr */
	const uint8_t	*data;
	size_t		 len;
	bool		 eof;
	uint32_t	 credit;
};
/* Pack and queue one StreamFrame. */
int		 proto_stream_send(struct proto_conn *,
		    const struct proto_stream_msg *, struct err *);
/*
 * Decode an untrusted StreamFrame into out (pointers into *frame, which
 * the caller frees with proto_stream_free). Checks ids, fd, data size and
 * credit. Returns 0, or -1 with err (ERR_PROTOCOL).
 */
struct Kiln__Agent__V1__StreamFrame;
int		 proto_stream_decode(const uint8_t *, size_t,
		    struct Kiln__Agent__V1__StreamFrame **frame,
		    struct proto_stream_msg *out, struct err *);
void		 proto_stream_free(struct Kiln__Agent__V1__StreamFrame *);

/* ---- helpers --------------------------------------------------------- */

/* Pack msg into any with a bare type URL (containerd 1.6 style). */
void		 proto_any_pack(Google__Protobuf__Any *, const char *type_url,
		    const ProtobufCMessage *);
void		 proto_any_clear(Google__Protobuf__Any *);
void		 proto_timestamp_from_ns(Google__Protobuf__Timestamp *,
		    uint64_t real_ns);

#endif

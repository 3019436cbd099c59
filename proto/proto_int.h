/* SPDX-License-Identifier: Apache-2.0 */
/* Internals shared by the files of proto/; nothing outside includes it. */
#ifndef KILN_PROTO_INT_H
#define KILN_PROTO_INT_H

#include <sys/queue.h>

#include "proto/proto.h"

#define PROTO_CONN_STATES(X, P) X(P, CONNECTING) X(P, READY) \
	X(P, DRAINING) X(P, CLOSED)
#define PROTO_CONN_EVENTS(X, P) X(P, CONNECTED) X(P, CONNECT_FAILED) \
	X(P, TIMEOUT) X(P, PEER_CLOSED) X(P, PROTOCOL_ERROR) X(P, CLOSE) \
	X(P, DRAINED) X(P, FAIL)

enum proto_conn_state {
	PROTO_CONN_STATES(FSM_X_ENUM, PROTO_CONN_ST_) PROTO_CONN_ST__COUNT
};
enum proto_conn_event {
	PROTO_CONN_EVENTS(FSM_X_ENUM, PROTO_CONN_EV_) PROTO_CONN_EV__COUNT
};

extern const struct fsm_def proto_conn_fsm_def;

/* Most server calls one connection may have in flight. */
#define PROTO_MAX_SERVER_CALLS	1024

enum proto_role { PROTO_ROLE_CLIENT, PROTO_ROLE_SERVER };

struct proto_pending {
	TAILQ_ENTRY(proto_pending)	 entry;
	struct proto_conn		*conn;	/* borrowed */
	uint32_t			 id;
	const ProtobufCMessageDescriptor *resp_desc;
	struct reactor_timer		*timer;
	proto_reply_cb			 cb;
	void				*arg;
	uint64_t			 sent_ns;	/* for call_hist */
};
TAILQ_HEAD(proto_pending_q, proto_pending);

struct proto_call {
	TAILQ_ENTRY(proto_call)	 entry;
	struct proto_conn	*conn;	/* borrowed; NULL once closed */
	uint32_t		 stream;
	Ttrpc__Request		*req;
	ProtobufCMessage	*input;
};
TAILQ_HEAD(proto_call_q, proto_call);

struct proto_conn {
	struct fsm		 fsm;
	struct reactor		*r;	/* borrowed */
	enum proto_role		 role;
	struct proto_server	*server;	/* borrowed; server role */
	TAILQ_ENTRY(proto_conn)	 entry;		/* in server->conns */
	int			 fd;
	struct reactor_io	*io;
	struct reactor_timer	*timer;
	struct buf		 in;
	struct buf		 out;
	struct proto_conn_opts	 opts;
	char			 name[64];
	uint32_t		 next_id;
	struct proto_pending_q	 pending;
	size_t			 npending;
	struct proto_call_q	 calls;
	size_t			 ncalls;
	size_t			 out_max;	/* unread output bound; 0: none */
	uint64_t		 stall_ms;	/* partial frame deadline; 0: none */
	struct reactor_timer	*stall;		/* runs while a frame is partial */
	int			 busy;		/* callbacks on the stack */
	bool			 doomed;	/* free once not busy */
	bool			 notified;	/* on_closed has run */
};
TAILQ_HEAD(proto_conn_q, proto_conn);

/* proto_conn.c */
struct proto_conn *proto_conn_create(struct reactor *, struct fsm_env *,
		    int fd, enum proto_role, const struct proto_conn_opts *);
void		 proto_conn_queue_frame(struct proto_conn *, uint32_t stream,
		    uint8_t type, const ProtobufCMessage *);
void		 proto_conn_event(struct proto_conn *, int event);

/* proto_server.c */
void		 proto_server_request(struct proto_conn *, uint32_t stream,
		    const uint8_t *, size_t);
void		 proto_server_conn_gone(struct proto_conn *);
void		 proto_server_forget(struct proto_conn *);
void		 proto_server_send_status(struct proto_conn *, uint32_t stream,
		    int code, const char *msg);

#endif

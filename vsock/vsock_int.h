/* SPDX-License-Identifier: Apache-2.0 */
/* Internals shared by vsock.c and vsock_fsm.c. */
#ifndef KILN_VSOCK_INT_H
#define KILN_VSOCK_INT_H

#include "vsock/vsock.h"

#define VSOCK_STATES(X, P) X(P, DIALING) X(P, AWAIT_HELLO) X(P, READY) \
	X(P, CLOSED)
#define VSOCK_EVENTS(X, P) X(P, CONNECTED) X(P, DIAL_RETRY) X(P, HELLO) \
	X(P, BAD_HELLO) X(P, CONN_CLOSED) X(P, TIMEOUT) X(P, CLOSE) X(P, FAIL) \
	X(P, READY_NOTICE)

enum vsock_state { VSOCK_STATES(FSM_X_ENUM, VSOCK_ST_) VSOCK_ST__COUNT };
enum vsock_event { VSOCK_EVENTS(FSM_X_ENUM, VSOCK_EV_) VSOCK_EV__COUNT };

extern const struct fsm_def vsock_fsm_def;

struct vsock_chan {
	struct fsm		 fsm;
	struct reactor		*r;		/* borrowed */
	struct fsm_env		*env;		/* borrowed */
	struct vsock_opts	 opts;
	char			 name[64];
	bool			 is_vsock;
	char			*path;		/* serial: chardev socket */
	unsigned		 cid, port;	/* vsock */
	int			 fd;
	struct reactor_io	*io;
	struct reactor_timer	*timeout;	/* whole dial + greeting */
	struct reactor_timer	*retry;		/* next connect attempt */
	uint8_t			 hello[PROTO_HDR_LEN + 64];
	size_t			 hello_len;
	struct proto_conn	*conn;
	/*
	 * The connection after teardown: the owner still holds it (on_ready
	 * gave it) until on_closed has run, so it is freed only then.
	 */
	struct proto_conn	*old_conn;
	struct err		 why;		/* reason for CLOSED */
};

/* vsock.c: what the table's actions do. */
void	vsock_do_watch_hello(struct vsock_chan *);
void	vsock_do_schedule_retry(struct vsock_chan *);
void	vsock_do_adopt(struct vsock_chan *);
void	vsock_do_teardown(struct vsock_chan *);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vsock: the host end of the channel to the guest agent. Two transports
 * behind one interface: a virtio-serial port whose QEMU chardev is a unix
 * socket (what this host has), and AF_VSOCK (where /dev/vhost-vsock
 * exists). Either way the host waits for the agent's greeting frame before
 * sending anything, because virtio-serial drops bytes written before the
 * guest opened its port; then the channel is a ttrpc client connection
 * (proto_conn) with stream frames for stdio.
 *
 * The channel's life is the vsock_chan machine (vsock_fsm.c): DIALING
 * (retrying while QEMU creates the socket or the agent is not listening),
 * AWAIT_HELLO, READY, CLOSED; both waiting states time out.
 */
#ifndef KILN_VSOCK_H
#define KILN_VSOCK_H

#include "proto/proto.h"

struct vsock_chan;

/* The greeting arrived; conn is owned by the channel. */
typedef void	(*vsock_ready_cb)(struct vsock_chan *, struct proto_conn *,
		    void *arg);
/* The channel failed or closed; why is borrowed for the call. */
typedef void	(*vsock_closed_cb)(struct vsock_chan *, const struct err *why,
		    void *arg);

struct vsock_opts {
	const char	*name;		/* logs and trace id */
	uint64_t	 timeout_ms;	/* dial + greeting; 0 = 30000 */
	vsock_ready_cb	 on_ready;
	vsock_closed_cb	 on_closed;
	proto_stream_cb	 on_stream;	/* stdio frames from the guest */
	void		*arg;
	void		*stream_arg;	/* on_stream's arg; NULL: arg */
	/* An agent call passed its deadline: the guest may be wedged. */
	void		(*on_timeout)(struct vsock_chan *, void *arg);
	struct hist	*call_hist;	/* borrowed: proto_conn_opts' */
};

/*
 * Dial QEMU's chardev socket of the agent's virtio-serial port, retrying
 * until it exists. Callbacks run later from the reactor, never from here.
 * Returns NULL with err only for a path that cannot be a socket.
 */
struct vsock_chan *vsock_dial_serial(struct reactor *, struct fsm_env *,
		    const char *path, const struct vsock_opts *,
		    struct err *);
/* Dial AF_VSOCK cid:port (PROTO_AGENT_VSOCK_PORT), retrying likewise. */
struct vsock_chan *vsock_dial_vsock(struct reactor *, struct fsm_env *,
		    unsigned cid, unsigned port, const struct vsock_opts *,
		    struct err *);
/* The ttrpc connection once READY, else NULL. */
struct proto_conn *vsock_conn(const struct vsock_chan *);
bool		 vsock_ready(const struct vsock_chan *);
/* Close and free; no callback runs afterwards. NULL is a no-op. Safe from
 * inside the channel's own callbacks. */
void		 vsock_free(struct vsock_chan *);
/* True if this host can use AF_VSOCK (/dev/vhost-vsock is present). */
bool		 vsock_host_has_vsock(void);

#endif

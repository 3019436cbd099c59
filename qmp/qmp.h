/* SPDX-License-Identifier: Apache-2.0 */
/*
 * qmp: an asynchronous client for QEMU's machine protocol on the reactor.
 * One struct qmp is one connection to one QEMU's QMP unix socket: it dials
 * (retrying while QEMU has not created the socket yet), waits for the
 * greeting, negotiates capabilities and then carries commands, replies
 * matched by id, and asynchronous events. Its life is the "qmp" machine
 * (qmp/qmp_fsm.c). Above proto/, reactor/ and fsm/; used by core/.
 *
 * Facts followed here: QEMU's docs/interop/qmp-spec.txt (sections 2.2 the
 * greeting, 2.4 command replies, 2.5 events, 4 capabilities negotiation)
 * and ../shared/reference/qemu-guest-notes.md (what QEMU 7.2 sends).
 *
 * Everything QEMU sends is untrusted: lines are bounded (QMP_LINE_MAX),
 * pending calls are bounded (QMP_CALLS_MAX), non-object JSON closes the
 * connection with ERR_PROTOCOL, and no input may crash, leak or block.
 *
 * Callbacks: no function here invokes a user callback before it returns.
 * Callbacks run from the reactor (I/O callbacks, timers, deferred calls),
 * never inside an fsm_dispatch, so they may dispatch other machines and may
 * call any function here, including qmp_free() on this very object.
 */
#ifndef KILN_QMP_H
#define KILN_QMP_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "core/base/base.h"
#include "fsm/fsm.h"
#include "reactor/reactor.h"

/* Longest message line, most calls queued + sent, connect retry period. */
#define QMP_LINE_MAX		(1u << 20)
#define QMP_CALLS_MAX		256
#define QMP_RETRY_MS		10

struct qmp;

/*
 * The outcome of one call. ret is the reply's "return" member (borrowed,
 * valid during the callback only; json_incref() it to keep it) or NULL
 * when err is set. err->code: ERR_TIMEOUT when the call's own timeout
 * expired, ERR_CLOSED when the connection dropped first, ERR_PROTOCOL for
 * a reply with the call's id but no usable "return" or "error", EIO for a
 * QEMU {"error":...} reply, with "command: Class: desc" in err->msg.
 * Runs exactly once per call unless the call is cancelled or the qmp
 * freed first.
 */
typedef void	(*qmp_reply_cb)(const json_t *ret, const struct err *err,
		    void *arg);
/*
 * An asynchronous QMP event (SHUTDOWN, STOP, RESUME, GUEST_PANICKED,
 * DEVICE_DELETED, VSERPORT_CHANGE, ACPI_DEVICE_OST, ...): its name and
 * "data" member, both borrowed for the callback; data may be NULL.
 */
typedef void	(*qmp_event_cb)(struct qmp *, const char *event,
		    const json_t *data, void *arg);
/* Capabilities are negotiated: the connection is READY. Runs once. */
typedef void	(*qmp_ready_cb)(struct qmp *, void *arg);
/*
 * The connection is CLOSED (peer EOF, I/O error, protocol error, connect
 * or handshake timeout). why is borrowed for the callback. Runs once,
 * after every pending call has failed with ERR_CLOSED.
 */
typedef void	(*qmp_closed_cb)(struct qmp *, const struct err *why,
		    void *arg);

/* Options, copied by qmp_new()/qmp_adopt(); name is copied too. */
struct qmp_opts {
	const char	*name;		/* trace id; NULL: "qmp" */
	uint64_t	 connect_ms;	/* CONNECTING deadline; 0 = 10000 */
	uint64_t	 handshake_ms;	/* greeting+negotiation; 0=5000 */
	qmp_event_cb	 on_event;	/* each may be NULL */
	qmp_ready_cb	 on_ready;
	qmp_closed_cb	 on_closed;
	void		*arg;		/* borrowed, for the above */
	/* Borrowed, may be NULL: each call's time to its outcome. */
	struct hist	*call_hist;
};

/*
 * Dial QEMU's QMP unix socket at sock_path (copied), non-blocking. While
 * connect() fails with ENOENT, ECONNREFUSED or EAGAIN (QEMU has not made
 * the socket yet) it retries every QMP_RETRY_MS until opts->connect_ms.
 * r and env are borrowed and must outlive the qmp; opts may be NULL.
 * Returns NULL with err only for a path that cannot be a socket address
 * (ENAMETOOLONG, EINVAL); every later failure, including the connect
 * timeout (ERR_TIMEOUT), arrives through on_closed. State: CONNECTING.
 */
struct qmp	*qmp_new(struct reactor *, struct fsm_env *,
		    const char *sock_path, const struct qmp_opts *,
		    struct err *);
/*
 * The same on an already connected stream fd, which the qmp takes (it
 * becomes non-blocking and close-on-exec). Starts in GREETING, waiting
 * for QEMU's banner. Never fails.
 */
struct qmp	*qmp_adopt(struct reactor *, struct fsm_env *, int fd,
		    const struct qmp_opts *);
/*
 * Run command with args (a JSON object, or NULL for none; stolen, even on
 * failure) and call cb(arg) later with the outcome, never from inside this
 * call. timeout_ms 0 means no timeout. May be called in any state but
 * CLOSED: calls made before READY are queued and sent once capabilities
 * are negotiated. Returns the call's id (> 0, for qmp_cancel) or -1 with
 * err: ERR_CLOSED (the connection is closed), EAGAIN (QMP_CALLS_MAX
 * pending), EINVAL (empty command, args not an object or not encodable).
 */
int		 qmp_call(struct qmp *, const char *command, json_t *args,
		    uint64_t timeout_ms, qmp_reply_cb cb, void *arg,
		    struct err *);
/*
 * qmp_call with an fd passed to QEMU by SCM_RIGHTS along with the
 * command's bytes (getfd, add-fd). fd is borrowed: the qmp sends a dup of
 * it and closes the dup once sent or when the call is dropped. One such
 * call at a time: EBUSY while another fd is still on its way.
 */
int		 qmp_call_fd(struct qmp *, const char *command, json_t *args,
		    int fd, uint64_t timeout_ms, qmp_reply_cb cb, void *arg,
		    struct err *);
/*
 * Forget call id: its callback will not run. A command already sent still
 * runs in QEMU; its reply is ignored. Unknown ids are a no-op. Any state.
 */
void		 qmp_cancel(struct qmp *, int id);
/* True in READY (capabilities negotiated, connection open). */
bool		 qmp_ready(const struct qmp *);
/* Calls queued or sent and not yet answered. */
size_t		 qmp_pending(const struct qmp *);
/* The trace id ("name#N"); valid for the qmp's life. */
const char	*qmp_name(const struct qmp *);
/*
 * Feed raw bytes as if read from the socket (fuzzing, tests). May run
 * reply and event callbacks before it returns; any state but CONNECTING.
 */
void		 qmp_feed(struct qmp *, const uint8_t *, size_t);
/*
 * Close the connection and free everything. Pending callbacks, on_ready
 * and on_closed are dropped, never run. Safe from inside any callback of
 * this qmp (the memory goes once the callback returns). NULL is a no-op.
 */
void		 qmp_free(struct qmp *);

#endif

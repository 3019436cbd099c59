/* SPDX-License-Identifier: Apache-2.0 */
/* Internals shared by the files of qmp/; nothing outside includes it. */
#ifndef KILN_QMP_INT_H
#define KILN_QMP_INT_H

#include <sys/queue.h>

#include "qmp/qmp.h"

#define QMP_STATES(X, P) X(P, CONNECTING) X(P, GREETING) \
	X(P, NEGOTIATING) X(P, READY) X(P, CLOSED)
#define QMP_EVENTS(X, P) X(P, START) X(P, RETRY) X(P, CONNECTED) \
	X(P, CONNECT_FAILED) X(P, GREETING_RX) X(P, CAPS_OK) \
	X(P, CAPS_FAILED) X(P, PEER_CLOSED) X(P, PROTOCOL_ERROR) \
	X(P, TIMEOUT) X(P, FAIL)

enum qmp_state {
	QMP_STATES(FSM_X_ENUM, QMP_ST_) QMP_ST__COUNT
};
enum qmp_event {
	QMP_EVENTS(FSM_X_ENUM, QMP_EV_) QMP_EV__COUNT
};

extern const struct fsm_def qmp_fsm_def;

/* The id of our qmp_capabilities command; user calls get ids > 0. */
#define QMP_CAPS_ID	0

/* A call, queued (line != NULL, not yet written) or sent. */
struct qmp_pending {
	TAILQ_ENTRY(qmp_pending) entry;
	struct qmp		*q;		/* borrowed */
	int			 id;
	char			*command;
	char			*line;		/* JSON + "\n" until sent */
	struct reactor_timer	*timer;
	uint64_t		 timeout_ms;
	qmp_reply_cb		 cb;
	void			*arg;
	int			 pass_fd;	/* SCM_RIGHTS with line, or -1 */
	uint64_t		 sent_ns;	/* for call_hist */
};
TAILQ_HEAD(qmp_pending_q, qmp_pending);

struct qmp {
	struct fsm		 fsm;
	struct reactor		*r;		/* borrowed */
	struct qmp_opts		 opts;
	char			 name[64];
	char			*path;		/* NULL when adopted */
	int			 fd;
	struct reactor_io	*io;
	struct reactor_timer	*timer;		/* connect/handshake deadline */
	struct reactor_timer	*retry;		/* next connect attempt */
	int			 dial_errno;	/* last connect failure */
	struct buf		 in;
	size_t			 scanned;	/* in: bytes without a \n */
	struct buf		 out;
	int			 next_id;
	struct qmp_pending_q	 pending;
	size_t			 npending;
	struct err		 why;		/* reason for CLOSED */
	uint64_t		 warn_ns;	/* last input warning */
	unsigned		 warn_dropped;
	int			 pass_fd;	/* to send with out's byte */
	size_t			 pass_at;	/* ... at this offset, or -1 */
	int			 busy;		/* callbacks on the stack */
	bool			 doomed;	/* free once not busy */
};

/* Action bodies called by the table (qmp_fsm.c), defined in qmp.c. */
void	qmp_do_start(struct qmp *);
void	qmp_do_dial(struct qmp *);
void	qmp_do_connected(struct qmp *);
void	qmp_do_negotiate(struct qmp *);
void	qmp_do_ready(struct qmp *);
void	qmp_do_teardown(struct qmp *, const struct err *why);

#endif

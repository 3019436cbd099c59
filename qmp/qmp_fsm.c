/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The QMP connection machine. A qmp dials QEMU's socket, retrying while it
 * does not exist yet (CONNECTING), waits for the {"QMP":...} banner
 * (GREETING), sends qmp_capabilities and waits for its reply (NEGOTIATING),
 * carries commands and events (READY) and ends CLOSED, where teardown has
 * released the fd and a deferred call fails the pending calls and tells
 * the owner. Every waiting state has a deadline: QEMU may hang. Replies
 * and events are not machine events, only the connection's life is.
 *
 * Events that carry a reason (CONNECT_FAILED, CAPS_FAILED, PEER_CLOSED,
 * PROTOCOL_ERROR) pass a const struct err * as their data.
 */
#include <string.h>

#include "qmp/qmp_int.h"

static const char *const qmp_state_names[] = {
	QMP_STATES(FSM_X_NAME, QMP_ST_)
};
static const char *const qmp_event_names[] = {
	QMP_EVENTS(FSM_X_NAME, QMP_EV_)
};

/* What a state waits for, for the timeout message. */
static const char *const qmp_waits_for[QMP_ST__COUNT] = {
	[QMP_ST_CONNECTING] = "connect",
	[QMP_ST_GREETING] = "greeting",
	[QMP_ST_NEGOTIATING] = "capabilities reply",
	[QMP_ST_READY] = "nothing",
	[QMP_ST_CLOSED] = "nothing",
};

static int
qmp_act_start(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	qmp_do_start(m->ctx);
	return 0;
}

static int
qmp_act_dial(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	qmp_do_dial(m->ctx);
	return 0;
}

static int
qmp_act_connected(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	qmp_do_connected(m->ctx);
	return 0;
}

static int
qmp_act_negotiate(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	qmp_do_negotiate(m->ctx);
	return 0;
}

static int
qmp_act_ready(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	qmp_do_ready(m->ctx);
	return 0;
}

/* data: the reason (const struct err *), or NULL. */
static int
qmp_act_teardown(struct fsm *m, const void *data, struct err *err)
{
	(void)err;
	qmp_do_teardown(m->ctx, data);
	return 0;
}

/* The deadline of a waiting state passed; say which one. */
static int
qmp_act_timeout(struct fsm *m, const void *data, struct err *err)
{
	struct qmp *q = m->ctx;
	struct err why;

	(void)data;
	(void)err;
	err_set(&why, ERR_TIMEOUT, "qmp %s: no %s within %llu ms%s%s",
	    q->name, qmp_waits_for[m->state], (unsigned long long)
	    (m->state == QMP_ST_CONNECTING ? q->opts.connect_ms :
	    q->opts.handshake_ms), q->dial_errno != 0 ? ", last error: " : "",
	    q->dial_errno != 0 ? strerror(q->dial_errno) : "");
	qmp_do_teardown(q, &why);
	return 0;
}

/* A handshake message where the protocol does not allow it. */
static int
qmp_act_unexpected(struct fsm *m, const void *data, struct err *err)
{
	struct qmp *q = m->ctx;
	struct err why;

	(void)data;
	(void)err;
	err_set(&why, ERR_PROTOCOL, "qmp %s: unexpected handshake message "
	    "in state %s", q->name, qmp_state_names[m->state]);
	log_warnx("qmp=%s %s", q->name, why.msg);
	qmp_do_teardown(q, &why);
	return 0;
}

#define S(x)	QMP_ST_##x
#define E(x)	QMP_EV_##x
static const struct fsm_row qmp_fsm_rows[] = {
	FSM_ROW(S(CONNECTING), E(START), NULL, qmp_act_start, FSM_SAME),
	FSM_ROW(S(CONNECTING), E(RETRY), NULL, qmp_act_dial, FSM_SAME),
	FSM_ROW(S(CONNECTING), E(CONNECTED), NULL, qmp_act_connected,
	    S(GREETING)),
	FSM_ROW(S(CONNECTING), E(CONNECT_FAILED), NULL, qmp_act_teardown,
	    S(CLOSED)),
	FSM_ROW(S(CONNECTING), E(TIMEOUT), NULL, qmp_act_timeout, S(CLOSED)),

	FSM_ROW(S(GREETING), E(GREETING_RX), NULL, qmp_act_negotiate,
	    S(NEGOTIATING)),
	FSM_ROW(S(GREETING), E(CAPS_OK), NULL, qmp_act_unexpected,
	    S(CLOSED)),
	FSM_ROW(S(GREETING), E(CAPS_FAILED), NULL, qmp_act_unexpected,
	    S(CLOSED)),
	FSM_ROW(S(GREETING), E(PEER_CLOSED), NULL, qmp_act_teardown,
	    S(CLOSED)),
	FSM_ROW(S(GREETING), E(PROTOCOL_ERROR), NULL, qmp_act_teardown,
	    S(CLOSED)),
	FSM_ROW(S(GREETING), E(TIMEOUT), NULL, qmp_act_timeout, S(CLOSED)),

	FSM_ROW(S(NEGOTIATING), E(CAPS_OK), NULL, qmp_act_ready, S(READY)),
	FSM_ROW(S(NEGOTIATING), E(CAPS_FAILED), NULL, qmp_act_teardown,
	    S(CLOSED)),
	FSM_ROW(S(NEGOTIATING), E(GREETING_RX), NULL, qmp_act_unexpected,
	    S(CLOSED)),
	FSM_ROW(S(NEGOTIATING), E(PEER_CLOSED), NULL, qmp_act_teardown,
	    S(CLOSED)),
	FSM_ROW(S(NEGOTIATING), E(PROTOCOL_ERROR), NULL, qmp_act_teardown,
	    S(CLOSED)),
	FSM_ROW(S(NEGOTIATING), E(TIMEOUT), NULL, qmp_act_timeout,
	    S(CLOSED)),

	FSM_ROW(S(READY), E(GREETING_RX), NULL, qmp_act_unexpected,
	    S(CLOSED)),
	/* A second capabilities reply is a peer's oddity, not a threat. */
	FSM_ROW(S(READY), E(CAPS_OK), NULL, NULL, FSM_SAME),
	FSM_ROW(S(READY), E(CAPS_FAILED), NULL, NULL, FSM_SAME),
	FSM_ROW(S(READY), E(PEER_CLOSED), NULL, qmp_act_teardown, S(CLOSED)),
	FSM_ROW(S(READY), E(PROTOCOL_ERROR), NULL, qmp_act_teardown,
	    S(CLOSED)),

	FSM_ROW(S(CLOSED), E(FAIL), NULL, NULL, FSM_SAME),
	/* No action here can fail today; if one does, give up the fd. */
	FSM_ROW(FSM_ANY, E(FAIL), NULL, qmp_act_teardown, S(CLOSED)),
};
#undef S
#undef E

const struct fsm_def qmp_fsm_def = {
	.name = "qmp",
	.version = 1,
	.state_names = qmp_state_names,
	.nstates = QMP_ST__COUNT,
	.event_names = qmp_event_names,
	.nevents = QMP_EV__COUNT,
	.rows = qmp_fsm_rows,
	.nrows = (int)ARRAY_SIZE(qmp_fsm_rows),
	.initial = QMP_ST_CONNECTING,
	.fail_event = QMP_EV_FAIL,
	.timeout_event = QMP_EV_TIMEOUT,
	.terminal = FSM_BIT(QMP_ST_CLOSED),
	.waiting = FSM_BIT(QMP_ST_CONNECTING) | FSM_BIT(QMP_ST_GREETING) |
	    FSM_BIT(QMP_ST_NEGOTIATING),
};
FSM_REGISTER(qmp_fsm_def);

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ttrpc connection machine. A connection dials (CONNECTING, with a
 * timeout), serves (READY), flushes what it owes before closing
 * (DRAINING, with a timeout) and ends CLOSED, where teardown has released
 * the fd and a deferred call tells the owner. Frames themselves are not
 * events: only the connection's life is.
 */
#include "proto/proto_int.h"

void	proto_conn_do_ready(struct proto_conn *);
void	proto_conn_do_drain(struct proto_conn *);
void	proto_conn_do_teardown(struct proto_conn *);

static const char *const proto_conn_state_names[] = {
	PROTO_CONN_STATES(FSM_X_NAME, PROTO_CONN_ST_)
};
static const char *const proto_conn_event_names[] = {
	PROTO_CONN_EVENTS(FSM_X_NAME, PROTO_CONN_EV_)
};

static int
proto_conn_act_ready(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	proto_conn_do_ready(m->ctx);
	return 0;
}

static int
proto_conn_act_drain(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	proto_conn_do_drain(m->ctx);
	return 0;
}

static int
proto_conn_act_teardown(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	proto_conn_do_teardown(m->ctx);
	return 0;
}

#define S(x)	PROTO_CONN_ST_##x
#define E(x)	PROTO_CONN_EV_##x
static const struct fsm_row proto_conn_fsm_rows[] = {
	FSM_ROW(S(CONNECTING), E(CONNECTED), NULL, proto_conn_act_ready,
	    S(READY)),
	FSM_ROW(S(CONNECTING), E(CONNECT_FAILED), NULL,
	    proto_conn_act_teardown, S(CLOSED)),
	FSM_ROW(S(CONNECTING), E(TIMEOUT), NULL, proto_conn_act_teardown,
	    S(CLOSED)),
	FSM_ROW(S(CONNECTING), E(CLOSE), NULL, proto_conn_act_teardown,
	    S(CLOSED)),
	FSM_ROW(S(READY), E(PEER_CLOSED), NULL, proto_conn_act_teardown,
	    S(CLOSED)),
	FSM_ROW(S(READY), E(PROTOCOL_ERROR), NULL, proto_conn_act_drain,
	    S(DRAINING)),
	FSM_ROW(S(READY), E(CLOSE), NULL, proto_conn_act_drain, S(DRAINING)),
	FSM_ROW(S(DRAINING), E(DRAINED), NULL, proto_conn_act_teardown,
	    S(CLOSED)),
	FSM_ROW(S(DRAINING), E(TIMEOUT), NULL, proto_conn_act_teardown,
	    S(CLOSED)),
	FSM_ROW(S(DRAINING), E(PEER_CLOSED), NULL, proto_conn_act_teardown,
	    S(CLOSED)),
	/* Closing twice is harmless. */
	FSM_ROW(S(DRAINING), E(CLOSE), NULL, NULL, FSM_SAME),
	FSM_ROW(S(CLOSED), E(CLOSE), NULL, NULL, FSM_SAME),
	FSM_ROW(S(CLOSED), E(FAIL), NULL, NULL, FSM_SAME),
	/* No action here can fail today; if one does, give up the fd. */
	FSM_ROW(FSM_ANY, E(FAIL), NULL, proto_conn_act_teardown, S(CLOSED)),
};
#undef S
#undef E

const struct fsm_def proto_conn_fsm_def = {
	.name = "ttrpc_conn",
	.version = 1,
	.state_names = proto_conn_state_names,
	.nstates = PROTO_CONN_ST__COUNT,
	.event_names = proto_conn_event_names,
	.nevents = PROTO_CONN_EV__COUNT,
	.rows = proto_conn_fsm_rows,
	.nrows = (int)ARRAY_SIZE(proto_conn_fsm_rows),
	.initial = PROTO_CONN_ST_CONNECTING,
	.fail_event = PROTO_CONN_EV_FAIL,
	.timeout_event = PROTO_CONN_EV_TIMEOUT,
	.terminal = FSM_BIT(PROTO_CONN_ST_CLOSED),
	.waiting = FSM_BIT(PROTO_CONN_ST_CONNECTING) |
	    FSM_BIT(PROTO_CONN_ST_DRAINING),
};
FSM_REGISTER(proto_conn_fsm_def);

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent channel machine: dial (retrying), wait for the greeting, serve
 * as a ttrpc connection, close. Both waiting states share one deadline
 * timer (opts.timeout_ms) whose expiry is the TIMEOUT event. READY_NOTICE
 * is the deferred ready callback checking in before it hands the fd on.
 */
#include "vsock/vsock_int.h"

static const char *const vsock_state_names[] = {
	VSOCK_STATES(FSM_X_NAME, VSOCK_ST_)
};
static const char *const vsock_event_names[] = {
	VSOCK_EVENTS(FSM_X_NAME, VSOCK_EV_)
};

static int
vsock_act_watch_hello(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	vsock_do_watch_hello(m->ctx);
	return 0;
}

static int
vsock_act_retry(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	vsock_do_schedule_retry(m->ctx);
	return 0;
}

static int
vsock_act_adopt(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	vsock_do_adopt(m->ctx);
	return 0;
}

static int
vsock_act_teardown(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	vsock_do_teardown(m->ctx);
	return 0;
}

#define S(x)	VSOCK_ST_##x
#define E(x)	VSOCK_EV_##x
static const struct fsm_row vsock_fsm_rows[] = {
	FSM_ROW(S(DIALING), E(CONNECTED), NULL, vsock_act_watch_hello,
	    S(AWAIT_HELLO)),
	FSM_ROW(S(DIALING), E(DIAL_RETRY), NULL, vsock_act_retry, FSM_SAME),
	FSM_ROW(S(AWAIT_HELLO), E(HELLO), NULL, vsock_act_adopt, S(READY)),
	FSM_ROW(S(AWAIT_HELLO), E(BAD_HELLO), NULL, vsock_act_teardown,
	    S(CLOSED)),
	FSM_ROW(S(READY), E(CONN_CLOSED), NULL, vsock_act_teardown,
	    S(CLOSED)),
	/*
	 * The deferred ready notice asks before it adopts the fd: only READY
	 * has a row, so anywhere else it is rejected (logged, counted) and
	 * does nothing. Teardown cancels it, so that would be a bug.
	 */
	FSM_ROW(S(READY), E(READY_NOTICE), NULL, NULL, FSM_SAME),
	/* Late or repeated news once closed changes nothing. */
	FSM_ROW(S(CLOSED), E(CLOSE), NULL, NULL, FSM_SAME),
	FSM_ROW(S(CLOSED), E(CONN_CLOSED), NULL, NULL, FSM_SAME),
	FSM_ROW(S(CLOSED), E(TIMEOUT), NULL, NULL, FSM_SAME),
	FSM_ROW(S(CLOSED), E(FAIL), NULL, NULL, FSM_SAME),
	/* From any live state: EOF, the deadline, a local close, a bug. */
	FSM_ROW(FSM_ANY, E(CONN_CLOSED), NULL, vsock_act_teardown, S(CLOSED)),
	FSM_ROW(FSM_ANY, E(TIMEOUT), NULL, vsock_act_teardown, S(CLOSED)),
	FSM_ROW(FSM_ANY, E(CLOSE), NULL, vsock_act_teardown, S(CLOSED)),
	FSM_ROW(FSM_ANY, E(FAIL), NULL, vsock_act_teardown, S(CLOSED)),
};
#undef S
#undef E

const struct fsm_def vsock_fsm_def = {
	.name = "vsock_chan",
	.version = 2,
	.state_names = vsock_state_names,
	.nstates = VSOCK_ST__COUNT,
	.event_names = vsock_event_names,
	.nevents = VSOCK_EV__COUNT,
	.rows = vsock_fsm_rows,
	.nrows = (int)ARRAY_SIZE(vsock_fsm_rows),
	.initial = VSOCK_ST_DIALING,
	.fail_event = VSOCK_EV_FAIL,
	.timeout_event = VSOCK_EV_TIMEOUT,
	.terminal = FSM_BIT(VSOCK_ST_CLOSED),
	.waiting = FSM_BIT(VSOCK_ST_DIALING) | FSM_BIT(VSOCK_ST_AWAIT_HELLO),
};
FSM_REGISTER(vsock_fsm_def);

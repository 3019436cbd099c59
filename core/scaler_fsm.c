/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The vertical scaler's machine (scaler.c does its work).
 *
 *   OFF --RUN--> WAITING (a tick armed: the scaler samples only while the
 *     task runs, so an idle shim never wakes up for it)
 *   WAITING --TICK [the task runs]--> SAMPLING (agent GetMetrics)
 *   WAITING --TICK--> OFF (it stopped or paused: no tick armed)
 *   SAMPLING --STEADY--> WAITING        the decision and its inputs traced
 *   SAMPLING --SCALE--> RESIZING        (resize.c's queue, after any Update)
 *   RESIZING --RESIZED / RESIZE_FAILED--> WAITING
 *
 * Each waiting state has a deadline (TIMEOUT); HALT (the VM is gone) ends
 * in OFF from anywhere. Late news (an answer after a deadline) is taken
 * without moving.
 */
#include "core/core_int.h"

#define SC(m)	((struct core_scaler *)(m)->ctx)

static const char *const state_names[] = {
	SCALER_STATES(FSM_X_NAME, SCALER_ST_)
};
static const char *const event_names[] = {
	SCALER_EVENTS(FSM_X_NAME, SCALER_EV_)
};

static bool
sc_guard_runs(const struct fsm *m, const void *data)
{
	(void)data;
	return scaler_task_runs(SC(m));
}

static int
sc_act_arm(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	return scaler_arm(SC(m), err);
}

static int
sc_act_sample(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	return scaler_sample(SC(m), err);
}

static int
sc_act_steady(struct fsm *m, const void *data, struct err *err)
{
	return scaler_note(SC(m), data, err);
}

static int
sc_act_scale(struct fsm *m, const void *data, struct err *err)
{
	return scaler_apply(SC(m), data, err);
}

static int
sc_act_resized(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	return scaler_resized(SC(m), true, err);
}

static int
sc_act_resize_failed(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	return scaler_resized(SC(m), false, err);
}

static int
sc_act_stop(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	return scaler_stop(SC(m), err);
}

#define S(x)	SCALER_ST_##x
#define E(x)	SCALER_EV_##x
static const struct fsm_row rows[] = {
	FSM_ROW(S(OFF), E(RUN), NULL, sc_act_arm, S(WAITING)),
	FSM_ROW(S(WAITING), E(TICK), sc_guard_runs, sc_act_sample,
	    S(SAMPLING)),
	FSM_ROW(S(WAITING), E(TICK), NULL, sc_act_stop, S(OFF)),
	FSM_ROW(S(SAMPLING), E(STEADY), NULL, sc_act_steady, S(WAITING)),
	FSM_ROW(S(SAMPLING), E(SCALE), NULL, sc_act_scale, S(RESIZING)),
	FSM_ROW(S(SAMPLING), E(SAMPLE_FAILED), NULL, sc_act_arm,
	    S(WAITING)),
	FSM_ROW(S(SAMPLING), E(TIMEOUT), NULL, sc_act_arm, S(WAITING)),
	FSM_ROW(S(RESIZING), E(RESIZED), NULL, sc_act_resized, S(WAITING)),
	FSM_ROW(S(RESIZING), E(RESIZE_FAILED), NULL, sc_act_resize_failed,
	    S(WAITING)),
	FSM_ROW(S(RESIZING), E(TIMEOUT), NULL, sc_act_resize_failed,
	    S(WAITING)),

	/* Already on: a task resumed while the scaler still samples. */
	FSM_ROW(S(WAITING), E(RUN), NULL, NULL, FSM_SAME),
	FSM_ROW(S(SAMPLING), E(RUN), NULL, NULL, FSM_SAME),
	FSM_ROW(S(RESIZING), E(RUN), NULL, NULL, FSM_SAME),

	/* Late news: answers after their deadline or after HALT. */
	FSM_ROW(S(OFF), E(TICK), NULL, NULL, FSM_SAME),
	FSM_ROW(S(OFF), E(STEADY), NULL, NULL, FSM_SAME),
	FSM_ROW(S(OFF), E(SCALE), NULL, NULL, FSM_SAME),
	FSM_ROW(S(OFF), E(SAMPLE_FAILED), NULL, NULL, FSM_SAME),
	FSM_ROW(S(OFF), E(RESIZED), NULL, NULL, FSM_SAME),
	FSM_ROW(S(OFF), E(RESIZE_FAILED), NULL, NULL, FSM_SAME),
	FSM_ROW(S(OFF), E(TIMEOUT), NULL, NULL, FSM_SAME),
	FSM_ROW(S(WAITING), E(STEADY), NULL, NULL, FSM_SAME),
	FSM_ROW(S(WAITING), E(SCALE), NULL, NULL, FSM_SAME),
	FSM_ROW(S(WAITING), E(SAMPLE_FAILED), NULL, NULL, FSM_SAME),
	FSM_ROW(S(WAITING), E(RESIZED), NULL, NULL, FSM_SAME),
	FSM_ROW(S(WAITING), E(RESIZE_FAILED), NULL, NULL, FSM_SAME),
	FSM_ROW(S(WAITING), E(TIMEOUT), NULL, NULL, FSM_SAME),

	/* The VM is gone, or an action failed: the scaler stops. */
	FSM_ROW(FSM_ANY, E(HALT), NULL, sc_act_stop, S(OFF)),
	FSM_ROW(FSM_ANY, E(FAIL), NULL, sc_act_stop, S(OFF)),
};
#undef S
#undef E

const struct fsm_def scaler_fsm_def = {
	.name = "scaler",
	.version = 1,
	.state_names = state_names,
	.nstates = SCALER_ST__COUNT,
	.event_names = event_names,
	.nevents = SCALER_EV__COUNT,
	.rows = rows,
	.nrows = (int)ARRAY_SIZE(rows),
	.initial = SCALER_ST_OFF,
	.fail_event = SCALER_EV_FAIL,
	.timeout_event = SCALER_EV_TIMEOUT,
	.terminal = 0,
	.waiting = FSM_BIT(SCALER_ST_SAMPLING) | FSM_BIT(SCALER_ST_RESIZING),
};
FSM_REGISTER(scaler_fsm_def);

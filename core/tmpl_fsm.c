/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The template machine: one VM's view of the snapshot template for its
 * key (tmpl.c does the work).
 *
 *   NEW --LOOKUP [found]--> READY --RESTORED--> USED
 *                                 --FAILED--> STALE (removed; cold boot)
 *   NEW --LOOKUP [locked]--> BUILDING --SAVED--> READY (renamed into place)
 *                                     --FAILED/TIMEOUT--> NONE
 *   NEW --LOOKUP--> NONE (none ready and another shim builds it: cold boot)
 *
 * The probe (a stat, an flock without waiting) runs before LOOKUP is
 * posted, so the guards only read its result. The VM machine reads this
 * machine's state in its own guards (restore, build) and posts SAVED,
 * RESTORED and FAILED; every cold boot for want of a template is a
 * transition into NONE with its reason in the trace detail.
 */
#include "core/core_int.h"

static const char *const tmpl_state_names[] = {
	TMPL_STATES(FSM_X_NAME, TMPL_ST_)
};
static const char *const tmpl_event_names[] = {
	TMPL_EVENTS(FSM_X_NAME, TMPL_EV_)
};

#define TM(m)	((struct core_tmpl *)(m)->ctx)

static bool
tmpl_guard_found(const struct fsm *m, const void *data)
{
	(void)data;
	return TM(m)->found;
}

static bool
tmpl_guard_locked(const struct fsm *m, const void *data)
{
	(void)data;
	return TM(m)->locked;
}

static int
tmpl_act_use(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	tmpl_do_use(TM(m));
	return 0;
}

static int
tmpl_act_build(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	return tmpl_do_build(TM(m), err);
}

static int
tmpl_act_cold(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	tmpl_do_cold(TM(m));
	return 0;
}

static int
tmpl_act_commit(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	return tmpl_do_commit(TM(m), err);
}

static int
tmpl_act_discard(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	tmpl_do_discard(TM(m));
	return 0;
}

static int
tmpl_act_stale(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	tmpl_do_stale(TM(m));
	return 0;
}

#define S(x)	TMPL_ST_##x
#define E(x)	TMPL_EV_##x
static const struct fsm_row tmpl_fsm_rows[] = {
	FSM_ROW(S(NEW), E(LOOKUP), tmpl_guard_found, tmpl_act_use, S(READY)),
	FSM_ROW(S(NEW), E(LOOKUP), tmpl_guard_locked, tmpl_act_build,
	    S(BUILDING)),
	FSM_ROW(S(NEW), E(LOOKUP), NULL, tmpl_act_cold, S(NONE)),
	/* tmpl_act_build failed: nothing to restore, nothing to save into. */
	FSM_ROW(S(NEW), E(FAIL), NULL, tmpl_act_discard, S(NONE)),

	FSM_ROW(S(BUILDING), E(SAVED), NULL, tmpl_act_commit, S(READY)),
	FSM_ROW(S(BUILDING), E(FAILED), NULL, tmpl_act_discard, S(NONE)),
	FSM_ROW(S(BUILDING), E(TIMEOUT), NULL, tmpl_act_discard, S(NONE)),
	FSM_ROW(S(BUILDING), E(FAIL), NULL, tmpl_act_discard, S(NONE)),

	FSM_ROW(S(READY), E(RESTORED), NULL, NULL, S(USED)),
	FSM_ROW(S(READY), E(FAILED), NULL, tmpl_act_stale, S(STALE)),

	/* Late news once the outcome is known (the VM's last words). */
	FSM_ROW(FSM_ANY, E(SAVED), NULL, NULL, FSM_SAME),
	FSM_ROW(FSM_ANY, E(RESTORED), NULL, NULL, FSM_SAME),
	FSM_ROW(FSM_ANY, E(FAILED), NULL, NULL, FSM_SAME),
	FSM_ROW(FSM_ANY, E(TIMEOUT), NULL, NULL, FSM_SAME),
	FSM_ROW(FSM_ANY, E(FAIL), NULL, NULL, FSM_SAME),
};
#undef S
#undef E

const struct fsm_def tmpl_fsm_def = {
	.name = "template",
	.version = 1,
	.state_names = tmpl_state_names,
	.nstates = TMPL_ST__COUNT,
	.event_names = tmpl_event_names,
	.nevents = TMPL_EV__COUNT,
	.rows = tmpl_fsm_rows,
	.nrows = (int)ARRAY_SIZE(tmpl_fsm_rows),
	.initial = TMPL_ST_NEW,
	.fail_event = TMPL_EV_FAIL,
	.timeout_event = TMPL_EV_TIMEOUT,
	.terminal = FSM_BIT(TMPL_ST_USED) | FSM_BIT(TMPL_ST_STALE) |
	    FSM_BIT(TMPL_ST_NONE),
	.waiting = FSM_BIT(TMPL_ST_BUILDING),
};
FSM_REGISTER(tmpl_fsm_def);

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CNI attachment machine: one container's interface on one network.
 *
 *   IDLE --ADD--> ADDING --PLUGIN_OK [last]--> ATTACHED --DEL--> DELETING
 *   DELETING --PLUGIN_OK [first]--> DETACHED
 *   ADDING --PLUGIN_FAILED|TIMEOUT|FAIL--> ROLLING_BACK --...--> FAILED
 *   ATTACHED --CHECK--> CHECKING --PLUGIN_OK [last]|PLUGIN_FAILED--> ATTACHED
 *
 * A chain runs one plugin at a time: PLUGIN_OK with cni_guard_more starts
 * the next one (ADD and CHECK forwards, DEL backwards) and the unguarded
 * row after it ends the chain. An ADD that fails at plugin k DELs plugins
 * k..0 (ROLLING_BACK, best effort: a failing DEL does not stop it) and
 * ends in FAILED, from which only DEL leads on; a DEL that fails ends in
 * FAILED too, with the cache entry kept, so that DEL can be retried. DEL
 * without a config (from-cache with no entry) and DEL after DETACHED
 * succeed at once: CNI's DEL is idempotent. Every waiting state has a
 * TIMEOUT row (a plugin past its deadline, killed); every state that runs
 * an action has a FAIL row. States change only through this table.
 */
#include "cni/cni_int.h"

static const char *const cni_state_names[] = {
	CNI_STATES(FSM_X_NAME, CNI_ST_)
};
static const char *const cni_event_names[] = {
	CNI_EVENTS(FSM_X_NAME, CNI_EV_)
};

#define CNI(m)	((struct cni_attach *)(m)->ctx)

/* A config to run: given, or found in the cache entry. */
static bool
cni_guard_has_config(const struct fsm *m, const void *data)
{
	(void)data;
	return CNI(m)->conf != NULL;
}

/* A plugin after the one that just ended, in the chain's direction. */
static bool
cni_guard_more(const struct fsm *m, const void *data)
{
	(void)data;
	return cni_more(CNI(m));
}

static int
cni_act_begin_add(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	return cni_do_begin(CNI(m), CNI_CMD_ADD, err);
}

static int
cni_act_begin_check(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	return cni_do_begin(CNI(m), CNI_CMD_CHECK, err);
}

static int
cni_act_begin_del(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	return cni_do_begin(CNI(m), CNI_CMD_DEL, err);
}

static int
cni_act_next(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	cni_do_next(CNI(m));
	return 0;
}

/* The last ADD succeeded: cache the result (may fail), tell the owner. */
static int
cni_act_add_done(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	return cni_do_add_done(CNI(m), err);
}

static int
cni_act_rollback(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	cni_do_rollback(CNI(m));
	return 0;
}

static int
cni_act_rolled_back(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	cni_do_rolled_back(CNI(m));
	return 0;
}

static int
cni_act_check_done(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	cni_do_finish(CNI(m), true);
	return 0;
}

/* A CHECK that fails reports; the attachment is still there to DEL. */
static int
cni_act_check_failed(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	cni_do_finish(CNI(m), false);
	return 0;
}

/* The first plugin's DEL succeeded: remove the cache entry (may fail). */
static int
cni_act_del_done(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	return cni_do_del_done(CNI(m), err);
}

static int
cni_act_del_failed(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	cni_do_finish(CNI(m), false);
	return 0;
}

static int
cni_act_nothing_to_delete(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	cni_do_nothing_to_delete(CNI(m));
	return 0;
}

/* An operation's first action failed: nothing ran; say why. */
static int
cni_act_report(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	cni_do_report(CNI(m));
	return 0;
}

#define S(x)	CNI_ST_##x
#define E(x)	CNI_EV_##x
static const struct fsm_row cni_fsm_rows[] = {
	FSM_ROW(S(IDLE), E(ADD), cni_guard_has_config, cni_act_begin_add,
	    S(ADDING)),
	FSM_ROW(S(IDLE), E(CHECK), cni_guard_has_config, cni_act_begin_check,
	    S(CHECKING)),
	FSM_ROW(S(IDLE), E(DEL), cni_guard_has_config, cni_act_begin_del,
	    S(DELETING)),
	FSM_ROW(S(IDLE), E(DEL), NULL, cni_act_nothing_to_delete,
	    S(DETACHED)),
	FSM_ROW(S(IDLE), E(FAIL), NULL, cni_act_report, FSM_SAME),

	FSM_ROW(S(ADDING), E(PLUGIN_OK), cni_guard_more, cni_act_next,
	    FSM_SAME),
	FSM_ROW(S(ADDING), E(PLUGIN_OK), NULL, cni_act_add_done,
	    S(ATTACHED)),
	FSM_ROW(S(ADDING), E(PLUGIN_FAILED), NULL, cni_act_rollback,
	    S(ROLLING_BACK)),
	FSM_ROW(S(ADDING), E(TIMEOUT), NULL, cni_act_rollback,
	    S(ROLLING_BACK)),
	FSM_ROW(S(ADDING), E(FAIL), NULL, cni_act_rollback, S(ROLLING_BACK)),

	FSM_ROW(S(ROLLING_BACK), E(PLUGIN_OK), cni_guard_more, cni_act_next,
	    FSM_SAME),
	FSM_ROW(S(ROLLING_BACK), E(PLUGIN_OK), NULL, cni_act_rolled_back,
	    S(FAILED)),
	FSM_ROW(S(ROLLING_BACK), E(PLUGIN_FAILED), cni_guard_more,
	    cni_act_next, FSM_SAME),
	FSM_ROW(S(ROLLING_BACK), E(PLUGIN_FAILED), NULL, cni_act_rolled_back,
	    S(FAILED)),
	FSM_ROW(S(ROLLING_BACK), E(TIMEOUT), cni_guard_more, cni_act_next,
	    FSM_SAME),
	FSM_ROW(S(ROLLING_BACK), E(TIMEOUT), NULL, cni_act_rolled_back,
	    S(FAILED)),
	FSM_ROW(S(ROLLING_BACK), E(FAIL), NULL, cni_act_rolled_back,
	    S(FAILED)),

	FSM_ROW(S(ATTACHED), E(CHECK), NULL, cni_act_begin_check,
	    S(CHECKING)),
	FSM_ROW(S(ATTACHED), E(DEL), NULL, cni_act_begin_del, S(DELETING)),
	FSM_ROW(S(ATTACHED), E(FAIL), NULL, cni_act_report, FSM_SAME),

	FSM_ROW(S(CHECKING), E(PLUGIN_OK), cni_guard_more, cni_act_next,
	    FSM_SAME),
	FSM_ROW(S(CHECKING), E(PLUGIN_OK), NULL, cni_act_check_done,
	    S(ATTACHED)),
	FSM_ROW(S(CHECKING), E(PLUGIN_FAILED), NULL, cni_act_check_failed,
	    S(ATTACHED)),
	FSM_ROW(S(CHECKING), E(TIMEOUT), NULL, cni_act_check_failed,
	    S(ATTACHED)),
	FSM_ROW(S(CHECKING), E(FAIL), NULL, cni_act_check_failed,
	    S(ATTACHED)),

	FSM_ROW(S(DELETING), E(PLUGIN_OK), cni_guard_more, cni_act_next,
	    FSM_SAME),
	FSM_ROW(S(DELETING), E(PLUGIN_OK), NULL, cni_act_del_done,
	    S(DETACHED)),
	FSM_ROW(S(DELETING), E(PLUGIN_FAILED), NULL, cni_act_del_failed,
	    S(FAILED)),
	FSM_ROW(S(DELETING), E(TIMEOUT), NULL, cni_act_del_failed, S(FAILED)),
	FSM_ROW(S(DELETING), E(FAIL), NULL, cni_act_del_failed, S(FAILED)),

	FSM_ROW(S(FAILED), E(DEL), NULL, cni_act_begin_del, S(DELETING)),
	FSM_ROW(S(FAILED), E(FAIL), NULL, cni_act_report, FSM_SAME),

	/* Terminal, but DEL of nothing still answers (and succeeds). */
	FSM_ROW(S(DETACHED), E(DEL), NULL, cni_act_nothing_to_delete,
	    FSM_SAME),
	FSM_ROW(S(DETACHED), E(FAIL), NULL, NULL, FSM_SAME),
};
#undef S
#undef E

const struct fsm_def cni_fsm_def = {
	.name = "cni",
	.version = 1,
	.state_names = cni_state_names,
	.nstates = CNI_ST__COUNT,
	.event_names = cni_event_names,
	.nevents = CNI_EV__COUNT,
	.rows = cni_fsm_rows,
	.nrows = (int)ARRAY_SIZE(cni_fsm_rows),
	.initial = CNI_ST_IDLE,
	.fail_event = CNI_EV_FAIL,
	.timeout_event = CNI_EV_TIMEOUT,
	.terminal = FSM_BIT(CNI_ST_DETACHED),
	.waiting = FSM_BIT(CNI_ST_ADDING) | FSM_BIT(CNI_ST_CHECKING) |
	    FSM_BIT(CNI_ST_ROLLING_BACK) | FSM_BIT(CNI_ST_DELETING),
};
FSM_REGISTER(cni_fsm_def);

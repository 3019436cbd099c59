/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The exec machine: one process started in a running container.
 *
 *   NEW --ADD--> ADDING (agent ExecProcess) --AGENT_ADDED--> CREATED
 *   CREATED --START--> STARTING --AGENT_STARTED--> RUNNING
 *   RUNNING --EXITED--> EXITING --IO_DRAINED--> STOPPED --DELETE--> DELETED
 *
 * Kill before Start is FAILED_PRECONDITION, after the exit NOT_FOUND (as
 * containerd expects). The VM dying stops it with 137, once.
 */
#include <errno.h>

#include "core/core_int.h"

static const char *const exec_state_names[] = {
	EXEC_STATES(FSM_X_NAME, EXEC_ST_)
};
static const char *const exec_event_names[] = {
	EXEC_EVENTS(FSM_X_NAME, EXEC_EV_)
};

#define EXEC(m)	((struct exec_proc *)(m)->ctx)

#define EXEC_ACTION(name, call)						\
static int								\
name(struct fsm *m, const void *data, struct err *err)		\
{									\
	(void)data;							\
	(void)err;							\
	call(EXEC(m));							\
	return 0;							\
}

EXEC_ACTION(exec_act_add, exec_do_add)
EXEC_ACTION(exec_act_added, exec_do_added)
EXEC_ACTION(exec_act_add_failed, exec_do_add_failed)
EXEC_ACTION(exec_act_started, exec_do_started)
EXEC_ACTION(exec_act_start_failed, exec_do_start_failed)
EXEC_ACTION(exec_act_stopped, exec_do_stopped)
EXEC_ACTION(exec_act_vm_died, exec_do_vm_died)
EXEC_ACTION(exec_act_deleted, exec_do_deleted)

static int
exec_act_start(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	return exec_do_start(EXEC(m), err);
}

static int
exec_act_kill(struct fsm *m, const void *data, struct err *err)
{
	return exec_do_kill(EXEC(m), data, err);
}

static int
exec_act_kill_unstarted(struct fsm *m, const void *data, struct err *err)
{
	(void)m;
	(void)data;
	return err_set(err, EBUSY, "exec not started");
}

static int
exec_act_kill_finished(struct fsm *m, const void *data, struct err *err)
{
	(void)m;
	(void)data;
	return err_set(err, ENOENT, "process already finished: not found");
}

static int
exec_act_record_exit(struct fsm *m, const void *data, struct err *err)
{
	(void)err;
	exec_do_record_exit(EXEC(m), data);
	return 0;
}

static int
exec_act_exited(struct fsm *m, const void *data, struct err *err)
{
	(void)err;
	exec_do_record_exit(EXEC(m), data);
	exec_do_drain(EXEC(m));
	return 0;
}

static bool
exec_guard_exited(const struct fsm *m, const void *data)
{
	(void)data;
	return EXEC(m)->exited_ns != 0;
}

#define S(x)	EXEC_ST_##x
#define E(x)	EXEC_EV_##x
static const struct fsm_row exec_fsm_rows[] = {
	FSM_ROW(S(NEW), E(ADD), NULL, exec_act_add, S(ADDING)),
	FSM_ROW(S(NEW), E(FAIL), NULL, exec_act_add_failed, S(DELETED)),

	FSM_ROW(S(ADDING), E(AGENT_ADDED), NULL, exec_act_added, S(CREATED)),
	FSM_ROW(S(ADDING), E(AGENT_FAILED), NULL, exec_act_add_failed,
	    S(DELETED)),
	FSM_ROW(S(ADDING), E(TIMEOUT), NULL, exec_act_add_failed, S(DELETED)),
	FSM_ROW(S(ADDING), E(VM_DIED), NULL, exec_act_add_failed, S(DELETED)),

	FSM_ROW(S(CREATED), E(START), NULL, exec_act_start, S(STARTING)),
	FSM_ROW(S(CREATED), E(KILL), NULL, exec_act_kill_unstarted, FSM_SAME),
	FSM_ROW(S(CREATED), E(DELETE), NULL, exec_act_deleted, S(DELETED)),
	FSM_ROW(S(CREATED), E(VM_DIED), NULL, exec_act_vm_died, S(STOPPED)),

	FSM_ROW(S(STARTING), E(AGENT_STARTED), exec_guard_exited,
	    exec_act_started, S(EXITING)),
	FSM_ROW(S(STARTING), E(AGENT_STARTED), NULL, exec_act_started,
	    S(RUNNING)),
	FSM_ROW(S(STARTING), E(AGENT_FAILED), NULL, exec_act_start_failed,
	    S(STOPPED)),
	FSM_ROW(S(STARTING), E(TIMEOUT), NULL, exec_act_start_failed,
	    S(STOPPED)),
	FSM_ROW(S(STARTING), E(EXITED), NULL, exec_act_record_exit, FSM_SAME),
	FSM_ROW(S(STARTING), E(KILL), NULL, exec_act_kill, FSM_SAME),
	FSM_ROW(S(STARTING), E(VM_DIED), NULL, exec_act_vm_died, S(STOPPED)),

	FSM_ROW(S(RUNNING), E(KILL), NULL, exec_act_kill, FSM_SAME),
	FSM_ROW(S(RUNNING), E(EXITED), NULL, exec_act_exited, S(EXITING)),
	FSM_ROW(S(RUNNING), E(VM_DIED), NULL, exec_act_vm_died, S(STOPPED)),

	FSM_ROW(S(EXITING), E(IO_DRAINED), NULL, exec_act_stopped, S(STOPPED)),
	FSM_ROW(S(EXITING), E(TIMEOUT), NULL, exec_act_stopped, S(STOPPED)),
	FSM_ROW(S(EXITING), E(VM_DIED), NULL, exec_act_stopped, S(STOPPED)),
	FSM_ROW(S(EXITING), E(KILL), NULL, exec_act_kill_finished, FSM_SAME),

	FSM_ROW(S(STOPPED), E(KILL), NULL, exec_act_kill_finished, FSM_SAME),
	FSM_ROW(S(STOPPED), E(DELETE), NULL, exec_act_deleted, S(DELETED)),
	FSM_ROW(S(STOPPED), E(VM_DIED), NULL, NULL, FSM_SAME),
	FSM_ROW(S(STOPPED), E(EXITED), NULL, NULL, FSM_SAME),
	FSM_ROW(S(STOPPED), E(TIMEOUT), NULL, NULL, FSM_SAME),

	FSM_ROW(S(DELETED), E(VM_DIED), NULL, NULL, FSM_SAME),
	FSM_ROW(S(DELETED), E(EXITED), NULL, NULL, FSM_SAME),
	FSM_ROW(S(DELETED), E(AGENT_FAILED), NULL, NULL, FSM_SAME),

	/* A failed action was answered by its caller; the state holds. */
	FSM_ROW(FSM_ANY, E(FAIL), NULL, NULL, FSM_SAME),
};
#undef S
#undef E

const struct fsm_def exec_fsm_def = {
	.name = "exec",
	.version = 1,
	.state_names = exec_state_names,
	.nstates = EXEC_ST__COUNT,
	.event_names = exec_event_names,
	.nevents = EXEC_EV__COUNT,
	.rows = exec_fsm_rows,
	.nrows = (int)ARRAY_SIZE(exec_fsm_rows),
	.initial = EXEC_ST_NEW,
	.fail_event = EXEC_EV_FAIL,
	.timeout_event = EXEC_EV_TIMEOUT,
	.terminal = FSM_BIT(EXEC_ST_DELETED),
	.waiting = FSM_BIT(EXEC_ST_ADDING) | FSM_BIT(EXEC_ST_STARTING) |
	    FSM_BIT(EXEC_ST_EXITING),
};
FSM_REGISTER(exec_fsm_def);

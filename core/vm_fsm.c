/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VM machine: one QEMU per container.
 *
 *   NEW --SPAWN--> SPAWNING --QMP_READY--> BOOTING --AGENT_READY--> READY
 *   READY --STOP--> STOPPING --QEMU_EXITED--> STOPPED
 *
 * QMP and the agent greeting may arrive in either order (guards read which
 * one came first). Every waiting state has a TIMEOUT row: a boot that does
 * not finish, or a stop that does not end, is killed. QEMU exiting is
 * STOPPED from any state; whether that was a crash is the owner's concern
 * (stop_requested).
 */
#include "core/core_int.h"

static const char *const vm_state_names[] = { VM_STATES(FSM_X_NAME, VM_ST_) };
static const char *const vm_event_names[] = { VM_EVENTS(FSM_X_NAME, VM_EV_) };

#define VM(m)	((struct vm *)(m)->ctx)

static bool
vm_guard_agent_up(const struct fsm *m, const void *data)
{
	(void)data;
	return VM(m)->agent_up;
}

static bool
vm_guard_qmp_up(const struct fsm *m, const void *data)
{
	(void)data;
	return VM(m)->qmp_up;
}

static int
vm_act_spawn(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	return vm_do_spawn(VM(m), err);
}

static int
vm_act_ready(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	vm_do_ready(VM(m));
	return 0;
}

static int
vm_act_powerdown(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	vm_do_powerdown(VM(m));
	return 0;
}

static int
vm_act_kill(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	vm_do_kill(VM(m));
	return 0;
}

static int
vm_act_stopped(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	vm_do_stopped(VM(m));
	return 0;
}

#define S(x)	VM_ST_##x
#define E(x)	VM_EV_##x
static const struct fsm_row vm_fsm_rows[] = {
	FSM_ROW(S(NEW), E(SPAWN), NULL, vm_act_spawn, S(SPAWNING)),
	FSM_ROW(S(NEW), E(STOP), NULL, vm_act_stopped, S(STOPPED)),
	FSM_ROW(S(NEW), E(FAIL), NULL, vm_act_stopped, S(STOPPED)),

	FSM_ROW(S(SPAWNING), E(QMP_READY), vm_guard_agent_up, vm_act_ready,
	    S(READY)),
	FSM_ROW(S(SPAWNING), E(QMP_READY), NULL, NULL, S(BOOTING)),
	FSM_ROW(S(SPAWNING), E(AGENT_READY), vm_guard_qmp_up, vm_act_ready,
	    S(READY)),
	FSM_ROW(S(SPAWNING), E(AGENT_READY), NULL, NULL, FSM_SAME),
	FSM_ROW(S(BOOTING), E(AGENT_READY), NULL, vm_act_ready, S(READY)),

	FSM_ROW(S(READY), E(STOP), NULL, vm_act_powerdown, S(STOPPING)),
	FSM_ROW(S(READY), E(AGENT_LOST), NULL, vm_act_kill, S(STOPPING)),

	FSM_ROW(S(STOPPING), E(TIMEOUT), NULL, vm_act_kill, FSM_SAME),
	FSM_ROW(S(STOPPING), E(STOP), NULL, NULL, FSM_SAME),
	FSM_ROW(S(STOPPING), E(AGENT_LOST), NULL, NULL, FSM_SAME),
	FSM_ROW(S(STOPPING), E(QMP_READY), NULL, NULL, FSM_SAME),
	FSM_ROW(S(STOPPING), E(AGENT_READY), NULL, NULL, FSM_SAME),

	/* QEMU gone, from wherever we were. */
	FSM_ROW(S(STOPPED), E(QEMU_EXITED), NULL, NULL, FSM_SAME),
	FSM_ROW(FSM_ANY, E(QEMU_EXITED), NULL, vm_act_stopped, S(STOPPED)),

	FSM_ROW(S(STOPPED), E(STOP), NULL, NULL, FSM_SAME),
	FSM_ROW(S(STOPPED), E(AGENT_LOST), NULL, NULL, FSM_SAME),
	FSM_ROW(S(STOPPED), E(TIMEOUT), NULL, NULL, FSM_SAME),
	FSM_ROW(S(STOPPED), E(QMP_READY), NULL, NULL, FSM_SAME),
	FSM_ROW(S(STOPPED), E(AGENT_READY), NULL, NULL, FSM_SAME),
	FSM_ROW(S(STOPPED), E(FAIL), NULL, NULL, FSM_SAME),

	/* Booting that stalls, fails or is abandoned: kill it. */
	FSM_ROW(FSM_ANY, E(TIMEOUT), NULL, vm_act_kill, S(STOPPING)),
	FSM_ROW(FSM_ANY, E(STOP), NULL, vm_act_kill, S(STOPPING)),
	FSM_ROW(FSM_ANY, E(AGENT_LOST), NULL, vm_act_kill, S(STOPPING)),
	FSM_ROW(FSM_ANY, E(FAIL), NULL, vm_act_kill, S(STOPPING)),
};
#undef S
#undef E

const struct fsm_def vm_fsm_def = {
	.name = "vm",
	.version = 1,
	.state_names = vm_state_names,
	.nstates = VM_ST__COUNT,
	.event_names = vm_event_names,
	.nevents = VM_EV__COUNT,
	.rows = vm_fsm_rows,
	.nrows = (int)ARRAY_SIZE(vm_fsm_rows),
	.initial = VM_ST_NEW,
	.fail_event = VM_EV_FAIL,
	.timeout_event = VM_EV_TIMEOUT,
	.terminal = FSM_BIT(VM_ST_STOPPED),
	.waiting = FSM_BIT(VM_ST_SPAWNING) | FSM_BIT(VM_ST_BOOTING) |
	    FSM_BIT(VM_ST_STOPPING),
};
FSM_REGISTER(vm_fsm_def);

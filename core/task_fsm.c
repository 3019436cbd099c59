/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The task machine: the container's init process as containerd sees it.
 *
 *   NEW --CREATE--> CREATING (rootfs mounted, netns, the rootfs image
 *     being built --ROOTFS_READY--> VM booting; 9p: VM booting at once)
 *     --VM_READY--> (createRuntime, prestart hooks) --HOOKS_DONE-->
 *     (NICs wired) --NET_READY--> (agent CreateContainer)
 *     --AGENT_CREATED--> CREATED
 *   CREATED --START--> STARTING (NICs CNI added since are wired)
 *     --NET_READY--> (agent StartProcess) --AGENT_STARTED--> RUNNING
 *   RUNNING --PAUSE--> PAUSING --AGENT_PAUSED--> PAUSED
 *     --RESUME--> RESUMING --AGENT_RESUMED--> RUNNING
 *   RUNNING --EXITED--> EXITING (output drains into the fifos)
 *     --IO_DRAINED--> STOPPED (Waits answered, TaskExit published)
 *   STOPPED --DELETE--> DELETING (VM stopped, rootfs unmounted)
 *     --VM_STOPPED--> (poststop hooks) --HOOKS_DONE--> DELETED
 *
 * The VM dying ends the task with 137 from any live state, exactly once;
 * a failed create goes straight to DELETING. Waiting states time out.
 */
#include <errno.h>

#include "core/core_int.h"

static const char *const task_state_names[] = {
	TASK_STATES(FSM_X_NAME, TASK_ST_)
};
static const char *const task_event_names[] = {
	TASK_EVENTS(FSM_X_NAME, TASK_EV_)
};

#define TASK(m)	((struct task *)(m)->ctx)

static int
task_act_create(struct fsm *m, const void *data, struct err *err)
{
	return task_do_create(TASK(m), data, err);
}

static int
task_act_agent_create(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	task_do_agent_create(TASK(m));
	return 0;
}

static int
task_act_boot(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	task_do_boot(TASK(m));
	return 0;
}

static int
task_act_wire(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	task_do_wire(TASK(m));
	return 0;
}

static int
task_act_create_hooks(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	task_do_create_hooks(TASK(m));
	return 0;
}

static int
task_act_poststop(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	task_do_poststop(TASK(m));
	return 0;
}

static int
task_act_net_failed_create(struct fsm *m, const void *data,
    struct err *err)
{
	(void)data;
	(void)err;
	task_do_net_failed(TASK(m));
	task_do_fail_create(TASK(m));
	return 0;
}

static int
task_act_net_failed_start(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	task_do_net_failed(TASK(m));
	task_do_fail_start(TASK(m));
	return 0;
}

static int
task_act_created(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	task_do_reply_created(TASK(m));
	return 0;
}

static int
task_act_create_failed(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	task_do_fail_create(TASK(m));
	return 0;
}

static int
task_act_start(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	return task_do_start(TASK(m), err);
}

static int
task_act_started(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	task_do_reply_started(TASK(m));
	return 0;
}

static int
task_act_start_failed(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	task_do_fail_start(TASK(m));
	return 0;
}

static int
task_act_kill(struct fsm *m, const void *data, struct err *err)
{
	return task_do_kill(TASK(m), data, err);
}

/* Kill of a finished process: NOT_FOUND, as containerd expects. */
static int
task_act_kill_finished(struct fsm *m, const void *data, struct err *err)
{
	(void)m;
	(void)data;
	return err_set(err, ENOENT, "process already finished: not found");
}

static int
task_act_record_exit(struct fsm *m, const void *data, struct err *err)
{
	(void)err;
	task_do_record_exit(TASK(m), data);
	return 0;
}

static int
task_act_exited(struct fsm *m, const void *data, struct err *err)
{
	(void)err;
	task_do_record_exit(TASK(m), data);
	task_do_drain(TASK(m));
	return 0;
}

static int
task_act_stopped(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	task_do_stopped(TASK(m));
	return 0;
}

static int
task_act_vm_died(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	task_do_vm_died(TASK(m));
	return 0;
}

static int
task_act_delete(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	task_do_delete(TASK(m));
	return 0;
}

static int
task_act_deleted(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	task_do_deleted(TASK(m));
	return 0;
}

static int
task_act_pause(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	return task_do_pause(TASK(m), false, err);
}

static int
task_act_resume(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	return task_do_pause(TASK(m), true, err);
}

static int
task_act_paused(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	task_do_paused(TASK(m), false);
	return 0;
}

static int
task_act_resumed(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	task_do_paused(TASK(m), true);
	return 0;
}

static int
task_act_pause_failed(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	task_do_pause_failed(TASK(m));
	return 0;
}

/* The process exited while a pause or resume was in flight. */
static int
task_act_exited_midway(struct fsm *m, const void *data, struct err *err)
{
	(void)err;
	task_do_answer_pending(TASK(m), "the process exited");
	task_do_record_exit(TASK(m), data);
	task_do_drain(TASK(m));
	return 0;
}

/* An exit that arrives while Start is in flight: note it, act later. */
static bool
task_guard_exited(const struct fsm *m, const void *data)
{
	(void)data;
	return TASK(m)->exited_ns != 0;
}

#define S(x)	TASK_ST_##x
#define E(x)	TASK_EV_##x
static const struct fsm_row task_fsm_rows[] = {
	FSM_ROW(S(NEW), E(CREATE), NULL, task_act_create, S(CREATING)),
	FSM_ROW(S(NEW), E(FAIL), NULL, NULL, S(DELETED)),

	/* The rootfs image is built (rootfs "erofs"): the VM may start. */
	FSM_ROW(S(CREATING), E(ROOTFS_READY), NULL, task_act_boot, FSM_SAME),
	FSM_ROW(S(CREATING), E(ROOTFS_FAILED), NULL, task_act_create_failed,
	    S(DELETING)),

	/*
	 * VM up: createRuntime and prestart hooks on the host, then wire
	 * what CNI (or a hook) made, then the agent creates.
	 */
	FSM_ROW(S(CREATING), E(VM_READY), NULL, task_act_create_hooks,
	    FSM_SAME),
	FSM_ROW(S(CREATING), E(HOOKS_DONE), NULL, task_act_wire, FSM_SAME),
	FSM_ROW(S(CREATING), E(HOOKS_FAILED), NULL, task_act_create_failed,
	    S(DELETING)),
	FSM_ROW(S(CREATING), E(NET_READY), NULL, task_act_agent_create,
	    FSM_SAME),
	FSM_ROW(S(CREATING), E(NET_FAILED), NULL, task_act_net_failed_create,
	    S(DELETING)),
	FSM_ROW(S(CREATING), E(AGENT_CREATED), NULL, task_act_created,
	    S(CREATED)),
	FSM_ROW(S(CREATING), E(AGENT_FAILED), NULL, task_act_create_failed,
	    S(DELETING)),
	FSM_ROW(S(CREATING), E(VM_DIED), NULL, task_act_create_failed,
	    S(DELETING)),
	FSM_ROW(S(CREATING), E(TIMEOUT), NULL, task_act_create_failed,
	    S(DELETING)),

	/* Start: what CNI added since Create is wired first. */
	FSM_ROW(S(CREATED), E(START), NULL, task_act_wire, S(STARTING)),
	FSM_ROW(S(STARTING), E(NET_READY), NULL, task_act_start, FSM_SAME),
	FSM_ROW(S(STARTING), E(NET_FAILED), NULL, task_act_net_failed_start,
	    S(STOPPED)),
	FSM_ROW(S(CREATED), E(KILL), NULL, task_act_kill, FSM_SAME),
	FSM_ROW(S(CREATED), E(EXITED), NULL, task_act_exited, S(EXITING)),
	FSM_ROW(S(CREATED), E(DELETE), NULL, task_act_delete, S(DELETING)),

	FSM_ROW(S(STARTING), E(AGENT_STARTED), task_guard_exited,
	    task_act_started, S(EXITING)),
	FSM_ROW(S(STARTING), E(AGENT_STARTED), NULL, task_act_started,
	    S(RUNNING)),
	FSM_ROW(S(STARTING), E(AGENT_FAILED), NULL, task_act_start_failed,
	    S(STOPPED)),
	FSM_ROW(S(STARTING), E(TIMEOUT), NULL, task_act_start_failed,
	    S(STOPPED)),
	FSM_ROW(S(STARTING), E(EXITED), NULL, task_act_record_exit, FSM_SAME),
	FSM_ROW(S(STARTING), E(KILL), NULL, task_act_kill, FSM_SAME),

	FSM_ROW(S(RUNNING), E(KILL), NULL, task_act_kill, FSM_SAME),
	FSM_ROW(S(RUNNING), E(EXITED), NULL, task_act_exited, S(EXITING)),
	FSM_ROW(S(RUNNING), E(PAUSE), NULL, task_act_pause, S(PAUSING)),

	FSM_ROW(S(PAUSING), E(AGENT_PAUSED), NULL, task_act_paused,
	    S(PAUSED)),
	FSM_ROW(S(PAUSING), E(AGENT_FAILED), NULL, task_act_pause_failed,
	    S(RUNNING)),
	FSM_ROW(S(PAUSING), E(TIMEOUT), NULL, task_act_pause_failed,
	    S(RUNNING)),
	FSM_ROW(S(PAUSING), E(EXITED), NULL, task_act_exited_midway,
	    S(EXITING)),
	FSM_ROW(S(PAUSING), E(KILL), NULL, task_act_kill, FSM_SAME),

	FSM_ROW(S(PAUSED), E(RESUME), NULL, task_act_resume, S(RESUMING)),
	FSM_ROW(S(PAUSED), E(KILL), NULL, task_act_kill, FSM_SAME),
	FSM_ROW(S(PAUSED), E(EXITED), NULL, task_act_exited, S(EXITING)),

	FSM_ROW(S(RESUMING), E(AGENT_RESUMED), NULL, task_act_resumed,
	    S(RUNNING)),
	FSM_ROW(S(RESUMING), E(AGENT_FAILED), NULL, task_act_pause_failed,
	    S(PAUSED)),
	FSM_ROW(S(RESUMING), E(TIMEOUT), NULL, task_act_pause_failed,
	    S(PAUSED)),
	FSM_ROW(S(RESUMING), E(EXITED), NULL, task_act_exited_midway,
	    S(EXITING)),
	FSM_ROW(S(RESUMING), E(KILL), NULL, task_act_kill, FSM_SAME),

	FSM_ROW(S(EXITING), E(IO_DRAINED), NULL, task_act_stopped,
	    S(STOPPED)),
	FSM_ROW(S(EXITING), E(TIMEOUT), NULL, task_act_stopped, S(STOPPED)),
	FSM_ROW(S(EXITING), E(KILL), NULL, task_act_kill_finished, FSM_SAME),
	/* Answers to a pause or resume the exit overtook. */
	FSM_ROW(S(EXITING), E(AGENT_PAUSED), NULL, NULL, FSM_SAME),
	FSM_ROW(S(EXITING), E(AGENT_RESUMED), NULL, NULL, FSM_SAME),
	FSM_ROW(S(EXITING), E(AGENT_FAILED), NULL, NULL, FSM_SAME),

	FSM_ROW(S(STOPPED), E(KILL), NULL, task_act_kill_finished, FSM_SAME),
	FSM_ROW(S(STOPPED), E(DELETE), NULL, task_act_delete, S(DELETING)),
	FSM_ROW(S(STOPPED), E(VM_DIED), NULL, NULL, FSM_SAME),
	FSM_ROW(S(STOPPED), E(EXITED), NULL, NULL, FSM_SAME),

	/* The VM is gone: poststop hooks, then the answer. */
	FSM_ROW(S(DELETING), E(VM_STOPPED), NULL, task_act_poststop,
	    FSM_SAME),
	FSM_ROW(S(DELETING), E(HOOKS_DONE), NULL, task_act_deleted,
	    S(DELETED)),
	FSM_ROW(S(DELETING), E(HOOKS_FAILED), NULL, task_act_deleted,
	    S(DELETED)),
	FSM_ROW(S(DELETING), E(TIMEOUT), NULL, task_act_deleted, S(DELETED)),
	FSM_ROW(S(DELETING), E(VM_DIED), NULL, NULL, FSM_SAME),
	FSM_ROW(S(DELETING), E(EXITED), NULL, NULL, FSM_SAME),
	FSM_ROW(S(DELETING), E(AGENT_FAILED), NULL, NULL, FSM_SAME),
	FSM_ROW(S(DELETING), E(AGENT_CREATED), NULL, NULL, FSM_SAME),
	/* A VM that came up after the task gave up on it: being stopped. */
	FSM_ROW(S(DELETING), E(VM_READY), NULL, NULL, FSM_SAME),
	/* Delete after a failed create: answered when the VM is gone. */
	FSM_ROW(S(DELETING), E(DELETE), NULL, NULL, FSM_SAME),

	/* Late news from a VM the task is done with. */
	FSM_ROW(S(DELETED), E(VM_DIED), NULL, NULL, FSM_SAME),
	FSM_ROW(S(DELETED), E(VM_STOPPED), NULL, NULL, FSM_SAME),
	FSM_ROW(S(DELETED), E(VM_READY), NULL, NULL, FSM_SAME),

	/* The VM died under a live task: exit 137, exactly once. */
	FSM_ROW(S(CREATED), E(VM_DIED), NULL, task_act_vm_died, S(STOPPED)),
	FSM_ROW(S(STARTING), E(VM_DIED), NULL, task_act_vm_died, S(STOPPED)),
	FSM_ROW(S(RUNNING), E(VM_DIED), NULL, task_act_vm_died, S(STOPPED)),
	FSM_ROW(S(PAUSING), E(VM_DIED), NULL, task_act_vm_died, S(STOPPED)),
	FSM_ROW(S(PAUSED), E(VM_DIED), NULL, task_act_vm_died, S(STOPPED)),
	FSM_ROW(S(RESUMING), E(VM_DIED), NULL, task_act_vm_died, S(STOPPED)),
	FSM_ROW(S(EXITING), E(VM_DIED), NULL, task_act_stopped, S(STOPPED)),

	/*
	 * Agent answers that come after the task moved on (a pause that
	 * timed out, an exit that overtook a resume): late news, ignored.
	 */
	FSM_ROW(FSM_ANY, E(AGENT_PAUSED), NULL, NULL, FSM_SAME),
	FSM_ROW(FSM_ANY, E(AGENT_RESUMED), NULL, NULL, FSM_SAME),
	FSM_ROW(FSM_ANY, E(AGENT_FAILED), NULL, NULL, FSM_SAME),
	FSM_ROW(FSM_ANY, E(NET_READY), NULL, NULL, FSM_SAME),
	FSM_ROW(FSM_ANY, E(NET_FAILED), NULL, NULL, FSM_SAME),
	FSM_ROW(FSM_ANY, E(HOOKS_DONE), NULL, NULL, FSM_SAME),
	FSM_ROW(FSM_ANY, E(HOOKS_FAILED), NULL, NULL, FSM_SAME),
	FSM_ROW(FSM_ANY, E(ROOTFS_READY), NULL, NULL, FSM_SAME),
	FSM_ROW(FSM_ANY, E(ROOTFS_FAILED), NULL, NULL, FSM_SAME),

	/* A failed action was answered by its caller; the state holds. */
	FSM_ROW(FSM_ANY, E(FAIL), NULL, NULL, FSM_SAME),
};
#undef S
#undef E

const struct fsm_def task_fsm_def = {
	.name = "task",
	.version = 6,
	.state_names = task_state_names,
	.nstates = TASK_ST__COUNT,
	.event_names = task_event_names,
	.nevents = TASK_EV__COUNT,
	.rows = task_fsm_rows,
	.nrows = (int)ARRAY_SIZE(task_fsm_rows),
	.initial = TASK_ST_NEW,
	.fail_event = TASK_EV_FAIL,
	.timeout_event = TASK_EV_TIMEOUT,
	.terminal = FSM_BIT(TASK_ST_DELETED),
	.waiting = FSM_BIT(TASK_ST_CREATING) | FSM_BIT(TASK_ST_STARTING) |
	    FSM_BIT(TASK_ST_PAUSING) | FSM_BIT(TASK_ST_RESUMING) |
	    FSM_BIT(TASK_ST_EXITING) | FSM_BIT(TASK_ST_DELETING),
};
FSM_REGISTER(task_fsm_def);

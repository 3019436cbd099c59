/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VM machine: one QEMU per container.
 *
 *   NEW --SPAWN--> SPAWNING --QMP_READY--> BOOTING --AGENT_READY--> READY
 *   READY --STOP--> STOPPING --QEMU_EXITED--> STOPPED
 *
 * Snapshot start (issue 15; vm_snap.c, tmpl.c), when the template machine
 * found one ready or is building one:
 *
 *   NEW --SPAWN [restore]--> INCOMING --QMP_READY--> LOADING (migrate-incoming)
 *     --MIGRATED--> RESUMING (cont) --AGENT_READY--> CLOCKING (SetClock)
 *     --CLOCK_SET--> READY
 *   NEW --SPAWN [build]--> SPAWNING .. greeting [save]--> SAVING (migrate)
 *     --MIGRATED--> RESPAWN (QEMU killed) --QEMU_EXITED [restore]--> INCOMING
 *
 * Any failure on those paths (a QMP error, a failed migration, SetClock
 * refused, a timeout) kills QEMU and waits in FALLBACK for its exit, then
 * cold-boots (SPAWNING); QEMU dying on them cold-boots at once. The
 * template hears FAILED and is removed (stale) or not built.
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

static bool
vm_guard_restore(const struct fsm *m, const void *data)
{
	(void)data;
	return VM(m)->tmpl != NULL && VM(m)->tmpl->fsm.state == TMPL_ST_READY;
}

static bool
vm_guard_build(const struct fsm *m, const void *data)
{
	(void)data;
	return VM(m)->tmpl != NULL &&
	    VM(m)->tmpl->fsm.state == TMPL_ST_BUILDING;
}

/* This QEMU is the template's and the template still wants it. */
static bool
vm_guard_save(const struct fsm *m, const void *data)
{
	return VM(m)->mode == VM_MODE_BUILD && vm_guard_build(m, data);
}

static bool
vm_guard_save_agent_up(const struct fsm *m, const void *data)
{
	return vm_guard_save(m, data) && VM(m)->agent_up;
}

static bool
vm_guard_save_qmp_up(const struct fsm *m, const void *data)
{
	return vm_guard_save(m, data) && VM(m)->qmp_up;
}

/* No QEMU to wait for: it never started, or it is reaped. */
static bool
vm_guard_qemu_gone(const struct fsm *m, const void *data)
{
	(void)data;
	return VM(m)->qemu_pid <= 0;
}

static int
vm_act_spawn(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	return vm_do_spawn(VM(m), VM_MODE_COLD, err);
}

static int
vm_act_spawn_build(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	return vm_do_spawn(VM(m), VM_MODE_BUILD, err);
}

static int
vm_act_spawn_restore(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	return vm_do_spawn(VM(m), VM_MODE_RESTORE, err);
}

static int
vm_act_respawn_restore(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	return vm_do_respawn(VM(m), VM_MODE_RESTORE, err);
}

static int
vm_act_respawn_cold(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	return vm_do_respawn(VM(m), VM_MODE_COLD, err);
}

/* QEMU died saving or restoring: the template failed; boot from cold. */
static int
vm_act_fallback(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	log_warnx("vm=%s template QEMU exited: %s; cold boot", m->id,
	    VM(m)->why);
	fsm_post(&VM(m)->tmpl->fsm, TMPL_EV_FAILED, NULL, 0);
	return vm_do_respawn(VM(m), VM_MODE_COLD, err);
}

static int
vm_act_migrate(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	return vm_do_migrate(VM(m), err);
}

static int
vm_act_cont(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	return vm_do_cont(VM(m), err);
}

static int
vm_act_set_clock(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	return vm_do_set_clock(VM(m), err);
}

static int
vm_act_saved(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	vm_do_saved(VM(m));
	return 0;
}

static int
vm_act_unusable(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	vm_do_unusable(VM(m));
	return 0;
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
/*
 * Saving or restoring gone wrong, in state st: QEMU killed, then FALLBACK
 * (or a cold boot at once if QEMU is already gone). The channel to a
 * paused or reloaded guest may drop on the way: not the VM's end.
 */
#define VM_SNAP_FAILS(st)						\
	FSM_ROW(S(st), E(MIGRATE_FAILED), NULL, vm_act_unusable,	\
	    S(FALLBACK)),						\
	FSM_ROW(S(st), E(CLOCK_FAILED), NULL, vm_act_unusable,		\
	    S(FALLBACK)),						\
	FSM_ROW(S(st), E(TIMEOUT), NULL, vm_act_unusable, S(FALLBACK)),	\
	FSM_ROW(S(st), E(FAIL), vm_guard_qemu_gone, vm_act_stopped,	\
	    S(STOPPED)),						\
	FSM_ROW(S(st), E(FAIL), NULL, vm_act_unusable, S(FALLBACK)),	\
	FSM_ROW(S(st), E(QEMU_EXITED), NULL, vm_act_fallback,		\
	    S(SPAWNING)),						\
	FSM_ROW(S(st), E(AGENT_LOST), NULL, NULL, FSM_SAME)
/* A QEMU on its way out: its news changes nothing. */
#define VM_SNAP_IGNORE(st)						\
	FSM_ROW(S(st), E(AGENT_LOST), NULL, NULL, FSM_SAME),		\
	FSM_ROW(S(st), E(AGENT_READY), NULL, NULL, FSM_SAME),		\
	FSM_ROW(S(st), E(QMP_READY), NULL, NULL, FSM_SAME),		\
	FSM_ROW(S(st), E(FAIL), vm_guard_qemu_gone, vm_act_stopped,	\
	    S(STOPPED))
static const struct fsm_row vm_fsm_rows[] = {
	FSM_ROW(S(NEW), E(SPAWN), vm_guard_restore, vm_act_spawn_restore,
	    S(INCOMING)),
	FSM_ROW(S(NEW), E(SPAWN), vm_guard_build, vm_act_spawn_build,
	    S(SPAWNING)),
	FSM_ROW(S(NEW), E(SPAWN), NULL, vm_act_spawn, S(SPAWNING)),
	FSM_ROW(S(NEW), E(STOP), NULL, vm_act_stopped, S(STOPPED)),
	FSM_ROW(S(NEW), E(FAIL), NULL, vm_act_stopped, S(STOPPED)),

	/* A template's QEMU: saved at its greeting, before the host speaks. */
	FSM_ROW(S(SPAWNING), E(QMP_READY), vm_guard_save_agent_up,
	    vm_act_migrate, S(SAVING)),
	FSM_ROW(S(SPAWNING), E(AGENT_READY), vm_guard_save_qmp_up,
	    vm_act_migrate, S(SAVING)),
	FSM_ROW(S(BOOTING), E(AGENT_READY), vm_guard_save, vm_act_migrate,
	    S(SAVING)),
	FSM_ROW(S(SPAWNING), E(QMP_READY), vm_guard_agent_up, vm_act_ready,
	    S(READY)),
	FSM_ROW(S(SPAWNING), E(QMP_READY), NULL, NULL, S(BOOTING)),
	FSM_ROW(S(SPAWNING), E(AGENT_READY), vm_guard_qmp_up, vm_act_ready,
	    S(READY)),
	FSM_ROW(S(SPAWNING), E(AGENT_READY), NULL, NULL, FSM_SAME),
	FSM_ROW(S(BOOTING), E(AGENT_READY), NULL, vm_act_ready, S(READY)),

	/* Restoring from the template. */
	FSM_ROW(S(INCOMING), E(QMP_READY), NULL, vm_act_migrate, S(LOADING)),
	FSM_ROW(S(LOADING), E(MIGRATED), NULL, vm_act_cont, S(RESUMING)),
	FSM_ROW(S(RESUMING), E(AGENT_READY), NULL, vm_act_set_clock,
	    S(CLOCKING)),
	FSM_ROW(S(CLOCKING), E(CLOCK_SET), NULL, vm_act_ready, S(READY)),
	FSM_ROW(S(SAVING), E(MIGRATED), NULL, vm_act_saved, S(RESPAWN)),
	FSM_ROW(S(RESPAWN), E(QEMU_EXITED), vm_guard_restore,
	    vm_act_respawn_restore, S(INCOMING)),
	FSM_ROW(S(RESPAWN), E(QEMU_EXITED), NULL, vm_act_respawn_cold,
	    S(SPAWNING)),
	FSM_ROW(S(FALLBACK), E(QEMU_EXITED), NULL, vm_act_respawn_cold,
	    S(SPAWNING)),
	/* The guest runs only after cont: a greeting before is stale. */
	FSM_ROW(S(INCOMING), E(AGENT_READY), NULL, NULL, FSM_SAME),
	FSM_ROW(S(LOADING), E(AGENT_READY), NULL, NULL, FSM_SAME),
	VM_SNAP_FAILS(INCOMING),
	VM_SNAP_FAILS(LOADING),
	VM_SNAP_FAILS(RESUMING),
	VM_SNAP_FAILS(CLOCKING),
	VM_SNAP_FAILS(SAVING),
	/* Waiting for a QEMU already killed: kill again, ignore its news. */
	FSM_ROW(S(RESPAWN), E(TIMEOUT), NULL, vm_act_kill, FSM_SAME),
	FSM_ROW(S(FALLBACK), E(TIMEOUT), NULL, vm_act_kill, FSM_SAME),
	VM_SNAP_IGNORE(RESPAWN),
	VM_SNAP_IGNORE(FALLBACK),

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

	/* A spawn or respawn that failed with no QEMU left: the end. */
	FSM_ROW(FSM_ANY, E(FAIL), vm_guard_qemu_gone, vm_act_stopped,
	    S(STOPPED)),
	/* A migration's or SetClock's late answer, past its state. */
	FSM_ROW(FSM_ANY, E(MIGRATED), NULL, NULL, FSM_SAME),
	FSM_ROW(FSM_ANY, E(MIGRATE_FAILED), NULL, NULL, FSM_SAME),
	FSM_ROW(FSM_ANY, E(CLOCK_SET), NULL, NULL, FSM_SAME),
	FSM_ROW(FSM_ANY, E(CLOCK_FAILED), NULL, NULL, FSM_SAME),

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
	.version = 2,
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
	    FSM_BIT(VM_ST_STOPPING) | FSM_BIT(VM_ST_INCOMING) |
	    FSM_BIT(VM_ST_LOADING) | FSM_BIT(VM_ST_RESUMING) |
	    FSM_BIT(VM_ST_CLOCKING) | FSM_BIT(VM_ST_SAVING) |
	    FSM_BIT(VM_ST_RESPAWN) | FSM_BIT(VM_ST_FALLBACK),
};
FSM_REGISTER(vm_fsm_def);

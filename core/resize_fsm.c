/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The two resize machines, one per resource (resize.c does their work).
 *
 * cpu:  IDLE --RESIZE--> QUERYING (query-hotpluggable-cpus)
 *         QUERYING --QMP_OK [more]--> PLUGGING (device_add) --QMP_OK-->
 *           QUERYING
 *         QUERYING --QMP_OK [fewer, KVM]--> UNPLUGGING (device_del) --QMP_OK-->
 *           EJECTING --POLL--> QUERYING   (the guest ejects; we look again)
 *         QUERYING --QMP_OK [ejecting]--> EJECTING
 *         QUERYING --QMP_OK--> ONLINING (agent onlines what arrived, or
 *           offlines what is too many: how the VM shrinks under TCG)
 *         ONLINING --AGENT_OK [online]--> IDLE, else ONLINE_WAIT --POLL-->
 *           ONLINING
 *
 * memory: IDLE --RESIZE--> SETTING (virtio-mem requested-size)
 *         SETTING --QMP_OK--> READING (its size) --QMP_OK [reached]-->
 *           ONLINING (agent: cgroup limits, MemTotal) --AGENT_OK--> IDLE
 *         READING --QMP_OK--> WAITING --POLL--> READING
 *
 * Every waiting state fails on a QMP or agent error, on the step's
 * deadline and when the VM goes away: the failure goes to the caller
 * (resize.c restores the previous size), to the log and to a counter,
 * never ignored. IDLE takes late news without moving.
 */
#include <stdio.h>

#include "core/core_int.h"

#define RZ(m)	((struct core_resize *)(m)->ctx)

static const char *const cpu_state_names[] = {
	CPU_RZ_STATES(FSM_X_NAME, CPU_RZ_ST_)
};
static const char *const cpu_event_names[] = {
	CPU_RZ_EVENTS(FSM_X_NAME, CPU_RZ_EV_)
};
static const char *const mem_state_names[] = {
	MEM_RZ_STATES(FSM_X_NAME, MEM_RZ_ST_)
};
static const char *const mem_event_names[] = {
	MEM_RZ_EVENTS(FSM_X_NAME, MEM_RZ_EV_)
};

/* ---- guards: what the last answer said ------------------------------- */

static bool
cpu_guard_more(const struct fsm *m, const void *data)
{
	(void)data;
	return RZ(m)->present < RZ(m)->want_vcpus && !RZ(m)->ejecting;
}

static bool
cpu_guard_fewer(const struct fsm *m, const void *data)
{
	(void)data;
	return RZ(m)->unplug && RZ(m)->present > RZ(m)->want_vcpus &&
	    RZ(m)->nadded > 0 && !RZ(m)->ejecting;
}

static bool
cpu_guard_ejecting(const struct fsm *m, const void *data)
{
	(void)data;
	return RZ(m)->ejecting;
}

static bool
cpu_guard_online(const struct fsm *m, const void *data)
{
	(void)data;
	return RZ(m)->guest_cpus == (RZ(m)->want_vcpus < RZ(m)->present ?
	    RZ(m)->want_vcpus : RZ(m)->present);
}

static bool
mem_guard_reached(const struct fsm *m, const void *data)
{
	(void)data;
	return RZ(m)->mem_plugged == RZ(m)->mem_requested;
}

/* ---- actions ----------------------------------------------------------- */

#define RZ_ACTION(name, call)						\
static int								\
name(struct fsm *m, const void *data, struct err *err)			\
{									\
	(void)data;							\
	return resize_failed_with(RZ(m), (call), err);			\
}

static int
resize_failed_with(struct core_resize *rz, int rc, const struct err *err)
{
	if (rc < 0)
		snprintf(rz->error, sizeof rz->error, "%s", err->msg);
	return rc;
}

RZ_ACTION(cpu_act_query, resize_cpu_query(RZ(m), err))
RZ_ACTION(cpu_act_plug, resize_cpu_plug(RZ(m), err))
RZ_ACTION(cpu_act_unplug, resize_cpu_unplug(RZ(m), err))
RZ_ACTION(cpu_act_poll_later, resize_poll_later(RZ(m), true, err))
RZ_ACTION(cpu_act_online, resize_cpu_online(RZ(m), err))
RZ_ACTION(cpu_act_done, resize_step_done(RZ(m), true, err))
RZ_ACTION(cpu_act_failed, resize_step_failed(RZ(m), true, err))
RZ_ACTION(mem_act_set, resize_mem_set(RZ(m), err))
RZ_ACTION(mem_act_read, resize_mem_read(RZ(m), err))
RZ_ACTION(mem_act_poll_later, resize_poll_later(RZ(m), false, err))
RZ_ACTION(mem_act_limits, resize_mem_limits(RZ(m), err))
RZ_ACTION(mem_act_done, resize_step_done(RZ(m), false, err))
RZ_ACTION(mem_act_failed, resize_step_failed(RZ(m), false, err))

/*
 * Rows both tables end with, in the S()/E() of the table being defined:
 * late news while nothing is in flight (the answer to a cancelled call, a
 * stale poll) leaves IDLE alone; anywhere else a failed call, a timeout or
 * the VM's end ends the step with its reason and goes back to IDLE. FAIL
 * is never late news: in IDLE it means RESIZE's own action failed (QMP
 * already gone), and the request waiting for it must hear so.
 */
#define RZ_SHARED_ROWS(failed)						\
	FSM_ROW(S(IDLE), E(QMP_OK), NULL, NULL, FSM_SAME),		\
	FSM_ROW(S(IDLE), E(QMP_FAILED), NULL, NULL, FSM_SAME),		\
	FSM_ROW(S(IDLE), E(AGENT_OK), NULL, NULL, FSM_SAME),		\
	FSM_ROW(S(IDLE), E(AGENT_FAILED), NULL, NULL, FSM_SAME),	\
	FSM_ROW(S(IDLE), E(POLL), NULL, NULL, FSM_SAME),		\
	FSM_ROW(S(IDLE), E(TIMEOUT), NULL, NULL, FSM_SAME),		\
	FSM_ROW(S(IDLE), E(VM_GONE), NULL, NULL, FSM_SAME),		\
	FSM_ROW(FSM_ANY, E(QMP_FAILED), NULL, failed, S(IDLE)),		\
	FSM_ROW(FSM_ANY, E(AGENT_FAILED), NULL, failed, S(IDLE)),	\
	FSM_ROW(FSM_ANY, E(TIMEOUT), NULL, failed, S(IDLE)),		\
	FSM_ROW(FSM_ANY, E(VM_GONE), NULL, failed, S(IDLE)),		\
	FSM_ROW(FSM_ANY, E(FAIL), NULL, failed, S(IDLE))

/* ---- the cpu table ------------------------------------------------------- */

#define S(x)	CPU_RZ_ST_##x
#define E(x)	CPU_RZ_EV_##x
static const struct fsm_row cpu_fsm_rows[] = {
	FSM_ROW(S(IDLE), E(RESIZE), NULL, cpu_act_query, S(QUERYING)),
	FSM_ROW(S(QUERYING), E(QMP_OK), cpu_guard_ejecting,
	    cpu_act_poll_later, S(EJECTING)),
	FSM_ROW(S(QUERYING), E(QMP_OK), cpu_guard_more, cpu_act_plug,
	    S(PLUGGING)),
	FSM_ROW(S(QUERYING), E(QMP_OK), cpu_guard_fewer, cpu_act_unplug,
	    S(UNPLUGGING)),
	FSM_ROW(S(QUERYING), E(QMP_OK), NULL, cpu_act_online, S(ONLINING)),
	FSM_ROW(S(PLUGGING), E(QMP_OK), NULL, cpu_act_query, S(QUERYING)),
	FSM_ROW(S(UNPLUGGING), E(QMP_OK), NULL, cpu_act_poll_later,
	    S(EJECTING)),
	FSM_ROW(S(EJECTING), E(POLL), NULL, cpu_act_query, S(QUERYING)),
	FSM_ROW(S(ONLINING), E(AGENT_OK), cpu_guard_online, cpu_act_done,
	    S(IDLE)),
	FSM_ROW(S(ONLINING), E(AGENT_OK), NULL, cpu_act_poll_later,
	    S(ONLINE_WAIT)),
	FSM_ROW(S(ONLINE_WAIT), E(POLL), NULL, cpu_act_online, S(ONLINING)),

	RZ_SHARED_ROWS(cpu_act_failed),
};
#undef S
#undef E

const struct fsm_def cpu_rz_fsm_def = {
	.name = "cpu_resize",
	.version = 1,
	.state_names = cpu_state_names,
	.nstates = CPU_RZ_ST__COUNT,
	.event_names = cpu_event_names,
	.nevents = CPU_RZ_EV__COUNT,
	.rows = cpu_fsm_rows,
	.nrows = (int)ARRAY_SIZE(cpu_fsm_rows),
	.initial = CPU_RZ_ST_IDLE,
	.fail_event = CPU_RZ_EV_FAIL,
	.timeout_event = CPU_RZ_EV_TIMEOUT,
	.terminal = 0,
	.waiting = FSM_BIT(CPU_RZ_ST_QUERYING) | FSM_BIT(CPU_RZ_ST_PLUGGING) |
	    FSM_BIT(CPU_RZ_ST_UNPLUGGING) | FSM_BIT(CPU_RZ_ST_EJECTING) |
	    FSM_BIT(CPU_RZ_ST_ONLINING) | FSM_BIT(CPU_RZ_ST_ONLINE_WAIT),
};
FSM_REGISTER(cpu_rz_fsm_def);

/* ---- the memory table ----------------------------------------------------- */

#define S(x)	MEM_RZ_ST_##x
#define E(x)	MEM_RZ_EV_##x
static const struct fsm_row mem_fsm_rows[] = {
	FSM_ROW(S(IDLE), E(RESIZE), NULL, mem_act_set, S(SETTING)),
	FSM_ROW(S(SETTING), E(QMP_OK), NULL, mem_act_read, S(READING)),
	FSM_ROW(S(READING), E(QMP_OK), mem_guard_reached, mem_act_limits,
	    S(ONLINING)),
	FSM_ROW(S(READING), E(QMP_OK), NULL, mem_act_poll_later, S(WAITING)),
	FSM_ROW(S(WAITING), E(POLL), NULL, mem_act_read, S(READING)),
	FSM_ROW(S(ONLINING), E(AGENT_OK), NULL, mem_act_done, S(IDLE)),

	RZ_SHARED_ROWS(mem_act_failed),
};
#undef S
#undef E

const struct fsm_def mem_rz_fsm_def = {
	.name = "mem_resize",
	.version = 1,
	.state_names = mem_state_names,
	.nstates = MEM_RZ_ST__COUNT,
	.event_names = mem_event_names,
	.nevents = MEM_RZ_EV__COUNT,
	.rows = mem_fsm_rows,
	.nrows = (int)ARRAY_SIZE(mem_fsm_rows),
	.initial = MEM_RZ_ST_IDLE,
	.fail_event = MEM_RZ_EV_FAIL,
	.timeout_event = MEM_RZ_EV_TIMEOUT,
	.terminal = 0,
	.waiting = FSM_BIT(MEM_RZ_ST_SETTING) | FSM_BIT(MEM_RZ_ST_READING) |
	    FSM_BIT(MEM_RZ_ST_WAITING) | FSM_BIT(MEM_RZ_ST_ONLINING),
};
FSM_REGISTER(mem_rz_fsm_def);

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The NIC machine: one veth of the VM's namespace wired into the guest.
 *
 *   NEW --PLUG--> (TAP + tc redirects, QMP getfd) GETFD
 *     --QMP_OK--> (netdev_add) NETDEV --QMP_OK--> (device_add) DEVICE
 *     --QMP_OK--> (agent ConfigureNetwork) CONFIGURING --AGENT_OK--> UP
 *
 * Every waiting state fails on a QMP or agent error, on its timer and when
 * the VM goes away; FAILED undoes what was added (device, netdev, TAP,
 * qdiscs) and tells the task, so a half-plugged NIC never stays behind.
 * Answers that arrive after the machine moved on are late news.
 */
#include <stdio.h>

#include "core/core_int.h"

static const char *const nic_state_names[] = { NIC_STATES(FSM_X_NAME, NIC_ST_) };
static const char *const nic_event_names[] = { NIC_EVENTS(FSM_X_NAME, NIC_EV_) };

#define NIC(m)	((struct nic *)(m)->ctx)

/* A failed step's reason, kept for the FAIL row and the task's answer. */
static int
nic_failed_with(struct nic *nic, int rc, const struct err *err)
{
	if (rc < 0)
		snprintf(nic->error, sizeof nic->error, "%s", err->msg);
	return rc;
}

static int
nic_act_plug(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	return nic_failed_with(NIC(m), nic_do_plug(NIC(m), err), err);
}

static int
nic_act_netdev(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	return nic_failed_with(NIC(m), nic_do_netdev(NIC(m), err), err);
}

static int
nic_act_device(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	return nic_failed_with(NIC(m), nic_do_device(NIC(m), err), err);
}

static int
nic_act_configure(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	return nic_failed_with(NIC(m), nic_do_configure(NIC(m), err), err);
}

static int
nic_act_up(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	nic_do_up(NIC(m));
	return 0;
}

static int
nic_act_failed(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	nic_do_failed(NIC(m));
	return 0;
}

#define S(x)	NIC_ST_##x
#define E(x)	NIC_EV_##x
static const struct fsm_row nic_fsm_rows[] = {
	FSM_ROW(S(NEW), E(PLUG), NULL, nic_act_plug, S(GETFD)),
	FSM_ROW(S(GETFD), E(QMP_OK), NULL, nic_act_netdev, S(NETDEV)),
	FSM_ROW(S(NETDEV), E(QMP_OK), NULL, nic_act_device, S(DEVICE)),
	FSM_ROW(S(DEVICE), E(QMP_OK), NULL, nic_act_configure,
	    S(CONFIGURING)),
	FSM_ROW(S(CONFIGURING), E(AGENT_OK), NULL, nic_act_up, S(UP)),

	/* The NIC lives as long as the VM; its end needs no unplug. */
	FSM_ROW(S(UP), E(VM_GONE), NULL, NULL, FSM_SAME),

	/* Late news for a machine that has finished. */
	FSM_ROW(S(UP), E(QMP_OK), NULL, NULL, FSM_SAME),
	FSM_ROW(S(UP), E(QMP_FAILED), NULL, NULL, FSM_SAME),
	FSM_ROW(S(UP), E(AGENT_OK), NULL, NULL, FSM_SAME),
	FSM_ROW(S(UP), E(AGENT_FAILED), NULL, NULL, FSM_SAME),
	FSM_ROW(S(UP), E(TIMEOUT), NULL, NULL, FSM_SAME),
	FSM_ROW(S(UP), E(FAIL), NULL, NULL, FSM_SAME),
	FSM_ROW(S(FAILED), E(QMP_OK), NULL, NULL, FSM_SAME),
	FSM_ROW(S(FAILED), E(QMP_FAILED), NULL, NULL, FSM_SAME),
	FSM_ROW(S(FAILED), E(AGENT_OK), NULL, NULL, FSM_SAME),
	FSM_ROW(S(FAILED), E(AGENT_FAILED), NULL, NULL, FSM_SAME),
	FSM_ROW(S(FAILED), E(VM_GONE), NULL, NULL, FSM_SAME),
	FSM_ROW(S(FAILED), E(TIMEOUT), NULL, NULL, FSM_SAME),
	FSM_ROW(S(FAILED), E(FAIL), NULL, NULL, FSM_SAME),

	/* Whatever went wrong on the way: undo, tell the task. */
	FSM_ROW(FSM_ANY, E(QMP_FAILED), NULL, nic_act_failed, S(FAILED)),
	FSM_ROW(FSM_ANY, E(AGENT_FAILED), NULL, nic_act_failed, S(FAILED)),
	FSM_ROW(FSM_ANY, E(TIMEOUT), NULL, nic_act_failed, S(FAILED)),
	FSM_ROW(FSM_ANY, E(VM_GONE), NULL, nic_act_failed, S(FAILED)),
	FSM_ROW(FSM_ANY, E(FAIL), NULL, nic_act_failed, S(FAILED)),
};
#undef S
#undef E

const struct fsm_def nic_fsm_def = {
	.name = "nic",
	.version = 1,
	.state_names = nic_state_names,
	.nstates = NIC_ST__COUNT,
	.event_names = nic_event_names,
	.nevents = NIC_EV__COUNT,
	.rows = nic_fsm_rows,
	.nrows = (int)ARRAY_SIZE(nic_fsm_rows),
	.initial = NIC_ST_NEW,
	.fail_event = NIC_EV_FAIL,
	.timeout_event = NIC_EV_TIMEOUT,
	.terminal = FSM_BIT(NIC_ST_UP) | FSM_BIT(NIC_ST_FAILED),
	.waiting = FSM_BIT(NIC_ST_GETFD) | FSM_BIT(NIC_ST_NETDEV) |
	    FSM_BIT(NIC_ST_DEVICE) | FSM_BIT(NIC_ST_CONFIGURING),
};
FSM_REGISTER(nic_fsm_def);

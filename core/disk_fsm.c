/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The disk machine: a pod's app container's rootfs image hot-added to the
 * pod's running VM, and taken out again when the container is deleted.
 *
 *   NEW --PLUG--> (blockdev-add) BLOCKDEV --QMP_OK--> (device_add) DEVICE
 *     --QMP_OK--> PLUGGED (the task hears VM_READY)
 *   PLUGGED --UNPLUG--> (device_del) UNPLUGGING --DELETED--> (blockdev-del)
 *     BLOCKDEL --QMP_OK--> UNPLUGGED (the task hears VM_STOPPED)
 *
 * An UNPLUG while QMP is still adding is remembered (disk->unplugging, set
 * before the event is posted): the next QMP_OK takes the disk out instead.
 *
 * DELETED is QEMU's DEVICE_DELETED event: the guest let the device go.
 * Every waiting state fails on a QMP error, on its timer and when the VM
 * goes away. FAILED tells the task what it waits for (a plug: the create
 * fails; an unplug: the container is gone anyway, the slot stays taken),
 * so no task ever waits on a disk. Answers after the end are late news.
 */
#include <stdio.h>

#include "core/core_int.h"

static const char *const disk_state_names[] = {
	DISK_STATES(FSM_X_NAME, DISK_ST_)
};
static const char *const disk_event_names[] = {
	DISK_EVENTS(FSM_X_NAME, DISK_EV_)
};

#define DISK(m)	((struct disk *)(m)->ctx)

/* A failed step's reason, kept for the FAIL row and the task's answer. */
static int
disk_failed_with(struct disk *d, int rc, const struct err *err)
{
	if (rc < 0)
		snprintf(d->error, sizeof d->error, "%s", err->msg);
	return rc;
}

static int
disk_act_blockdev(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	return disk_failed_with(DISK(m), disk_do_blockdev(DISK(m), err), err);
}

static int
disk_act_device(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	return disk_failed_with(DISK(m), disk_do_device(DISK(m), err), err);
}

static int
disk_act_plugged(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	disk_do_plugged(DISK(m));
	return 0;
}

static int
disk_act_unplug(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	return disk_failed_with(DISK(m), disk_do_unplug(DISK(m), err), err);
}

static int
disk_act_blockdel(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	return disk_failed_with(DISK(m), disk_do_blockdel(DISK(m), err), err);
}

static int
disk_act_unplugged(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	disk_do_unplugged(DISK(m));
	return 0;
}

static int
disk_act_failed(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	disk_do_failed(DISK(m));
	return 0;
}

/* The task was deleted while the disk was going in: take it out next. */
static bool
disk_guard_unplugging(const struct fsm *m, const void *data)
{
	(void)data;
	return DISK(m)->unplugging;
}

#define S(x)	DISK_ST_##x
#define E(x)	DISK_EV_##x
static const struct fsm_row disk_fsm_rows[] = {
	FSM_ROW(S(NEW), E(PLUG), NULL, disk_act_blockdev, S(BLOCKDEV)),
	FSM_ROW(S(BLOCKDEV), E(QMP_OK), disk_guard_unplugging,
	    disk_act_blockdel, S(BLOCKDEL)),
	FSM_ROW(S(BLOCKDEV), E(QMP_OK), NULL, disk_act_device, S(DEVICE)),
	FSM_ROW(S(DEVICE), E(QMP_OK), disk_guard_unplugging, disk_act_unplug,
	    S(UNPLUGGING)),
	FSM_ROW(S(DEVICE), E(QMP_OK), NULL, disk_act_plugged, S(PLUGGED)),
	/* An unplug while QMP adds: the guard above takes it out after. */
	FSM_ROW(S(BLOCKDEV), E(UNPLUG), NULL, NULL, FSM_SAME),
	FSM_ROW(S(DEVICE), E(UNPLUG), NULL, NULL, FSM_SAME),

	/* The container is deleted: the guest must let the device go. */
	FSM_ROW(S(PLUGGED), E(UNPLUG), NULL, disk_act_unplug, S(UNPLUGGING)),
	FSM_ROW(S(UNPLUGGING), E(QMP_OK), NULL, NULL, FSM_SAME),
	FSM_ROW(S(UNPLUGGING), E(DELETED), NULL, disk_act_blockdel,
	    S(BLOCKDEL)),
	FSM_ROW(S(BLOCKDEL), E(QMP_OK), NULL, disk_act_unplugged,
	    S(UNPLUGGED)),
	/* Never plugged (the image failed first): nothing to take out. */
	FSM_ROW(S(NEW), E(UNPLUG), NULL, disk_act_unplugged, S(UNPLUGGED)),
	/* A failed disk answers an unplug at once. */
	FSM_ROW(S(FAILED), E(UNPLUG), NULL, disk_act_unplugged, FSM_SAME),

	/* Late news for a disk that is in place or finished. */
	FSM_ROW(S(PLUGGED), E(QMP_OK), NULL, NULL, FSM_SAME),
	FSM_ROW(S(PLUGGED), E(QMP_FAILED), NULL, NULL, FSM_SAME),
	FSM_ROW(S(PLUGGED), E(DELETED), NULL, NULL, FSM_SAME),
	FSM_ROW(S(PLUGGED), E(TIMEOUT), NULL, NULL, FSM_SAME),
	FSM_ROW(S(UNPLUGGED), E(QMP_OK), NULL, NULL, FSM_SAME),
	FSM_ROW(S(UNPLUGGED), E(QMP_FAILED), NULL, NULL, FSM_SAME),
	FSM_ROW(S(UNPLUGGED), E(DELETED), NULL, NULL, FSM_SAME),
	FSM_ROW(S(UNPLUGGED), E(UNPLUG), NULL, NULL, FSM_SAME),
	FSM_ROW(S(UNPLUGGED), E(VM_GONE), NULL, NULL, FSM_SAME),
	FSM_ROW(S(UNPLUGGED), E(TIMEOUT), NULL, NULL, FSM_SAME),
	FSM_ROW(S(UNPLUGGED), E(FAIL), NULL, NULL, FSM_SAME),
	FSM_ROW(S(FAILED), E(QMP_OK), NULL, NULL, FSM_SAME),
	FSM_ROW(S(FAILED), E(QMP_FAILED), NULL, NULL, FSM_SAME),
	FSM_ROW(S(FAILED), E(DELETED), NULL, NULL, FSM_SAME),
	FSM_ROW(S(FAILED), E(VM_GONE), NULL, NULL, FSM_SAME),
	FSM_ROW(S(FAILED), E(TIMEOUT), NULL, NULL, FSM_SAME),
	FSM_ROW(S(FAILED), E(FAIL), NULL, NULL, FSM_SAME),
	/* The guest may eject a device while QEMU adds it: a failure. */
	FSM_ROW(FSM_ANY, E(DELETED), NULL, disk_act_failed, S(FAILED)),

	/* Whatever went wrong on the way: tell the task, keep the slot. */
	FSM_ROW(FSM_ANY, E(QMP_FAILED), NULL, disk_act_failed, S(FAILED)),
	FSM_ROW(FSM_ANY, E(TIMEOUT), NULL, disk_act_failed, S(FAILED)),
	FSM_ROW(FSM_ANY, E(VM_GONE), NULL, disk_act_failed, S(FAILED)),
	FSM_ROW(FSM_ANY, E(FAIL), NULL, disk_act_failed, S(FAILED)),
};
#undef S
#undef E

const struct fsm_def disk_fsm_def = {
	.name = "disk",
	.version = 1,
	.state_names = disk_state_names,
	.nstates = DISK_ST__COUNT,
	.event_names = disk_event_names,
	.nevents = DISK_EV__COUNT,
	.rows = disk_fsm_rows,
	.nrows = (int)ARRAY_SIZE(disk_fsm_rows),
	.initial = DISK_ST_NEW,
	.fail_event = DISK_EV_FAIL,
	.timeout_event = DISK_EV_TIMEOUT,
	.terminal = FSM_BIT(DISK_ST_UNPLUGGED) | FSM_BIT(DISK_ST_FAILED),
	.waiting = FSM_BIT(DISK_ST_BLOCKDEV) | FSM_BIT(DISK_ST_DEVICE) |
	    FSM_BIT(DISK_ST_UNPLUGGING) | FSM_BIT(DISK_ST_BLOCKDEL),
};
FSM_REGISTER(disk_fsm_def);

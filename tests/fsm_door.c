/* SPDX-License-Identifier: Apache-2.0 */
/* The door test machine; see fsm_door.h. */
#include <errno.h>

#include "tests/fsm_door.h"

static const char *const door_state_names[] = {
	DOOR_STATES(FSM_X_NAME, DOOR_ST_)
};
static const char *const door_event_names[] = {
	DOOR_EVENTS(FSM_X_NAME, DOOR_EV_)
};

static bool
door_guard_has_key(const struct fsm *m, const void *data)
{
	const struct door *d = m->ctx;

	(void)data;
	return d->has_key;
}

static int
door_act_start_motor(struct fsm *m, const void *data, struct err *err)
{
	struct door *d = m->ctx;

	(void)data;
	if (d->motor_broken)
		return err_set(err, EIO, "motor does not start");
	d->motor_starts++;
	if (d->auto_open)
		fsm_post(m, DOOR_EV_OPENED, NULL, 0);
	fsm_detail(m, "motor_starts=%d", d->motor_starts);
	return 0;
}

static int
door_act_alarm(struct fsm *m, const void *data, struct err *err)
{
	struct door *d = m->ctx;

	(void)data;
	(void)err;
	d->alarms++;
	return 0;
}

/* The whole machine; the first matching row wins. */
static const struct fsm_row door_fsm_rows[] = {
	FSM_ROW(DOOR_ST_CLOSED, DOOR_EV_OPEN, NULL, door_act_start_motor,
	    DOOR_ST_OPENING),
	FSM_ROW(DOOR_ST_CLOSED, DOOR_EV_LOCK, door_guard_has_key, NULL,
	    DOOR_ST_LOCKED),
	FSM_ROW(DOOR_ST_CLOSED, DOOR_EV_FAIL, NULL, door_act_alarm,
	    FSM_SAME),
	FSM_ROW(DOOR_ST_OPENING, DOOR_EV_OPENED, NULL, NULL, DOOR_ST_OPEN),
	FSM_ROW(DOOR_ST_OPENING, DOOR_EV_TIMEOUT, NULL, door_act_alarm,
	    DOOR_ST_CLOSED),
	FSM_ROW(DOOR_ST_OPENING, DOOR_EV_FAIL, NULL, NULL, DOOR_ST_CLOSED),
	FSM_ROW(DOOR_ST_OPEN, DOOR_EV_CLOSE, NULL, NULL, DOOR_ST_CLOSED),
	FSM_ROW(DOOR_ST_LOCKED, DOOR_EV_UNLOCK, door_guard_has_key, NULL,
	    DOOR_ST_CLOSED),
	FSM_ROW(DOOR_ST_LOCKED, DOOR_EV_OPEN, NULL, NULL, FSM_SAME),
	FSM_ROW(FSM_ANY, DOOR_EV_SMASH, NULL, door_act_alarm, DOOR_ST_BROKEN),
	/* A failed smash alarm leaves the door where it was. */
	FSM_ROW(FSM_ANY, DOOR_EV_FAIL, NULL, NULL, FSM_SAME),
};

const struct fsm_def door_fsm_def = {
	.name = "door",
	.version = 1,
	.state_names = door_state_names,
	.nstates = DOOR_ST__COUNT,
	.event_names = door_event_names,
	.nevents = DOOR_EV__COUNT,
	.rows = door_fsm_rows,
	.nrows = (int)ARRAY_SIZE(door_fsm_rows),
	.initial = DOOR_ST_CLOSED,
	.fail_event = DOOR_EV_FAIL,
	.timeout_event = DOOR_EV_TIMEOUT,
	.terminal = FSM_BIT(DOOR_ST_BROKEN),
	.waiting = FSM_BIT(DOOR_ST_OPENING),
};
FSM_REGISTER(door_fsm_def);

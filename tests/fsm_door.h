/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The "door": a small machine that exercises every engine feature (guards,
 * fallible actions, a waiting state with a timeout, ANY rows, a terminal
 * state). Used by t_fsm and rendered by `make docs`.
 */
#ifndef KILN_TESTS_FSM_DOOR_H
#define KILN_TESTS_FSM_DOOR_H

#include "fsm/fsm.h"

#define DOOR_STATES(X, P) X(P, CLOSED) X(P, OPENING) X(P, OPEN) \
	X(P, LOCKED) X(P, BROKEN)
#define DOOR_EVENTS(X, P) X(P, OPEN) X(P, OPENED) X(P, CLOSE) X(P, LOCK) \
	X(P, UNLOCK) X(P, TIMEOUT) X(P, FAIL) X(P, SMASH)

enum door_state { DOOR_STATES(FSM_X_ENUM, DOOR_ST_) DOOR_ST__COUNT };
enum door_event { DOOR_EVENTS(FSM_X_ENUM, DOOR_EV_) DOOR_EV__COUNT };

/* The owner object a door machine's actions and guards read. */
struct door {
	struct fsm	 fsm;
	bool		 has_key;	/* guard input */
	bool		 motor_broken;	/* makes the motor action fail */
	bool		 auto_open;	/* the motor posts OPENED itself */
	int		 motor_starts;
	int		 alarms;
};

extern const struct fsm_def door_fsm_def;

#endif

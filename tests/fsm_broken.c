/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Two deliberately broken tables, linked only into tests/kiln-fsm-broken,
 * so that tests/e2e/t_spin.sh can show SPIN catching each (and printing
 * the counter-example as a trace). Both pass fsm_check():
 *   spin_guarded_timeout  WAITING's only TIMEOUT row is guarded: a timer
 *                         that fires while the guard says no leaves the
 *                         machine waiting forever (liveness)
 *   spin_leaves_terminal  a row leaves the terminal DONE (TerminalIsFinal)
 */
#include "fsm/fsm.h"

#define BRK_STATES(X, P) X(P, IDLE) X(P, WAITING) X(P, DONE)
#define BRK_EVENTS(X, P) X(P, GO) X(P, REPLY) X(P, STOP) X(P, TIMEOUT) \
	X(P, FAIL)

enum brk_state { BRK_STATES(FSM_X_ENUM, BRK_ST_) BRK_ST__COUNT };
enum brk_event { BRK_EVENTS(FSM_X_ENUM, BRK_EV_) BRK_EV__COUNT };

static const char *const brk_state_names[] = {
	BRK_STATES(FSM_X_NAME, BRK_ST_)
};
static const char *const brk_event_names[] = {
	BRK_EVENTS(FSM_X_NAME, BRK_EV_)
};

/* Never called: the checkers treat every guard as a free choice. */
static bool
brk_guard_retry_allowed(const struct fsm *m, const void *data)
{
	(void)m;
	(void)data;
	return true;
}

static const struct fsm_row brk_guarded_rows[] = {
	FSM_ROW(BRK_ST_IDLE, BRK_EV_GO, NULL, NULL, BRK_ST_WAITING),
	FSM_ROW(BRK_ST_IDLE, BRK_EV_STOP, NULL, NULL, BRK_ST_DONE),
	FSM_ROW(BRK_ST_WAITING, BRK_EV_REPLY, NULL, NULL, BRK_ST_IDLE),
	/* The bug: no unguarded TIMEOUT row behind this one. */
	FSM_ROW(BRK_ST_WAITING, BRK_EV_TIMEOUT, brk_guard_retry_allowed,
	    NULL, BRK_ST_IDLE),
	FSM_ROW(FSM_ANY, BRK_EV_FAIL, NULL, NULL, FSM_SAME),
};

static const struct fsm_row brk_terminal_rows[] = {
	FSM_ROW(BRK_ST_IDLE, BRK_EV_GO, NULL, NULL, BRK_ST_WAITING),
	FSM_ROW(BRK_ST_IDLE, BRK_EV_STOP, NULL, NULL, BRK_ST_DONE),
	FSM_ROW(BRK_ST_WAITING, BRK_EV_REPLY, NULL, NULL, BRK_ST_IDLE),
	FSM_ROW(BRK_ST_WAITING, BRK_EV_TIMEOUT, NULL, NULL, BRK_ST_IDLE),
	/* The bug: DONE is terminal, yet GO leaves it. */
	FSM_ROW(BRK_ST_DONE, BRK_EV_GO, NULL, NULL, BRK_ST_WAITING),
	FSM_ROW(FSM_ANY, BRK_EV_FAIL, NULL, NULL, FSM_SAME),
};

#define BRK_DEF(n, rows_)						\
	{ .name = (n), .version = 1, .state_names = brk_state_names,	\
	  .nstates = BRK_ST__COUNT, .event_names = brk_event_names,	\
	  .nevents = BRK_EV__COUNT, .rows = (rows_),			\
	  .nrows = (int)ARRAY_SIZE(rows_), .initial = BRK_ST_IDLE,	\
	  .fail_event = BRK_EV_FAIL, .timeout_event = BRK_EV_TIMEOUT,	\
	  .terminal = FSM_BIT(BRK_ST_DONE),				\
	  .waiting = FSM_BIT(BRK_ST_WAITING) }

static const struct fsm_def brk_guarded_def =
    BRK_DEF("spin_guarded_timeout", brk_guarded_rows);
static const struct fsm_def brk_terminal_def =
    BRK_DEF("spin_leaves_terminal", brk_terminal_rows);
FSM_REGISTER(brk_guarded_def);
FSM_REGISTER(brk_terminal_def);

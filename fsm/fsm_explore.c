/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exhaustive exploration of one table: from the initial state, every
 * event, every guard outcome and every action outcome (a failed action
 * keeps the state and is followed by the failure event), breadth first.
 * Guards read live data and actions touch the world, so both are treated
 * as free choices: what is explored is a superset of what can happen.
 * Checked on the way: TerminalIsFinal (no row leaves a terminal state),
 * NoDeadEnd (every reachable non-terminal state can be left) and
 * WaitingStatesTimeout (every waiting state has a timeout row).
 */
#include <errno.h>
#include <string.h>

#include "fsm.h"

/* Call fn for each row that (state, event) can select, guards free. */
void
fsm_each_choice(const struct fsm_def *def, int state, int event,
    void (*fn)(const struct fsm_row *, int row, void *), void *arg)
{
	int i;

	for (i = 0; i < def->nrows; i++) {
		const struct fsm_row *r = &def->rows[i];

		if (r->event != event || (r->from != FSM_ANY &&
		    r->from != state))
			continue;
		fn(r, i, arg);
		/* An unguarded row hides every later one. */
		if (r->guard == NULL)
			return;
	}
}

struct explore_ctx {
	const struct fsm_def	*def;
	uint64_t		 seen;
	int			 queue[FSM_MAX_STATES];
	int			 nq;
	int			 from;
	uint64_t		 transitions;
	bool			 leaves;
};

static void
explore_push(struct explore_ctx *x, int s)
{
	if ((x->seen & FSM_BIT(s)) != 0)
		return;
	x->seen |= FSM_BIT(s);
	x->queue[x->nq++] = s;
}

static void
explore_row(const struct fsm_row *r, int row, void *arg)
{
	struct explore_ctx *x = arg;
	int to = fsm_row_target(r, x->from);

	(void)row;
	x->transitions++;
	if (to != x->from)
		x->leaves = true;
	explore_push(x, to);
	/* A failing action: the state stays, the failure event follows. */
	if (r->action != NULL && x->def->fail_event != FSM_NONE &&
	    r->event != x->def->fail_event)
		x->transitions++;
}

int
fsm_explore(const struct fsm_def *def, struct fsm_explore_stats *st,
    struct err *err)
{
	struct explore_ctx x = { .def = def };
	int i, e, s;

	memset(st, 0, sizeof *st);
	explore_push(&x, def->initial);
	for (i = 0; i < x.nq; i++) {
		s = x.from = x.queue[i];
		x.leaves = false;
		for (e = 0; e < def->nevents; e++)
			fsm_each_choice(def, s, e, explore_row, &x);
		if ((def->terminal & FSM_BIT(s)) != 0 && x.leaves)
			return err_set(err, EINVAL, "%s: TerminalIsFinal: a row "
			    "leaves terminal state %s", def->name,
			    def->state_names[s]);
		if ((def->terminal & FSM_BIT(s)) == 0 && !x.leaves)
			return err_set(err, EINVAL, "%s: NoDeadEnd: state %s "
			    "cannot be left", def->name, def->state_names[s]);
		if ((def->waiting & FSM_BIT(s)) != 0 &&
		    (def->timeout_event == FSM_NONE ||
		    !fsm_has_choice(def, s, def->timeout_event)))
			return err_set(err, EINVAL, "%s: WaitingStatesTimeout: "
			    "%s has no timeout row", def->name,
			    def->state_names[s]);
	}
	st->states = (uint64_t)x.nq;
	st->transitions = x.transitions;
	return 0;
}

static void
has_choice_cb(const struct fsm_row *r, int row, void *arg)
{
	(void)r;
	(void)row;
	*(bool *)arg = true;
}

bool
fsm_has_choice(const struct fsm_def *def, int state, int event)
{
	bool any = false;

	fsm_each_choice(def, state, event, has_choice_cb, &any);
	return any;
}

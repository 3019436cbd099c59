/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Static checks of a transition table and its Graphviz rendering. Both
 * read only the const fsm_def, so tools and tests run them on the very
 * tables the shim and agent dispatch.
 */
#include <errno.h>
#include <string.h>

#include "fsm.h"

static bool
fsm_state_ok(const struct fsm_def *def, int s)
{
	return s >= 0 && s < def->nstates;
}

static bool
fsm_event_ok(const struct fsm_def *def, int e)
{
	return e >= 0 && e < def->nevents;
}

static bool
fsm_row_applies(const struct fsm_row *row, int state)
{
	return row->from == FSM_ANY || row->from == state;
}

static bool
fsm_guarded(const struct fsm_row *row)
{
	return row->guard != NULL;
}

/* Every id in the def and its rows is in range. */
static int
fsm_check_ranges(const struct fsm_def *def, struct err *err)
{
	int i;

	if (def->nstates <= 0 || def->nstates > FSM_MAX_STATES)
		return err_set(err, EINVAL, "%s: %d states (1..%d allowed)",
		    def->name, def->nstates, FSM_MAX_STATES);
	if (!fsm_state_ok(def, def->initial))
		return err_set(err, EINVAL, "%s: initial state out of range",
		    def->name);
	if (def->fail_event != FSM_NONE && !fsm_event_ok(def, def->fail_event))
		return err_set(err, EINVAL, "%s: failure event out of range",
		    def->name);
	if (def->timeout_event != FSM_NONE &&
	    !fsm_event_ok(def, def->timeout_event))
		return err_set(err, EINVAL, "%s: timeout event out of range",
		    def->name);
	for (i = 0; i < def->nrows; i++) {
		const struct fsm_row *r = &def->rows[i];

		if (r->from != FSM_ANY && !fsm_state_ok(def, r->from))
			return err_set(err, EINVAL, "%s: row %d: from state "
			    "%d out of range", def->name, i, r->from);
		if (!fsm_event_ok(def, r->event))
			return err_set(err, EINVAL, "%s: row %d: event %d out "
			    "of range", def->name, i, r->event);
		if (r->to != FSM_SAME && !fsm_state_ok(def, r->to))
			return err_set(err, EINVAL, "%s: row %d: to state %d "
			    "out of range", def->name, i, r->to);
	}
	return 0;
}

/*
 * Row j can never fire if an earlier row covers its from state and event
 * and has no guard, or has the very same guard.
 */
static int
fsm_check_shadowed(const struct fsm_def *def, struct err *err)
{
	int i, j;

	for (j = 0; j < def->nrows; j++) {
		const struct fsm_row *rj = &def->rows[j];

		for (i = 0; i < j; i++) {
			const struct fsm_row *ri = &def->rows[i];

			if (ri->event != rj->event)
				continue;
			if (ri->from != FSM_ANY && ri->from != rj->from)
				continue;
			if (fsm_guarded(ri) && ri->guard != rj->guard)
				continue;
			return err_set(err, EINVAL, "%s: row %d (%s, %s) is "
			    "shadowed by row %d", def->name, j,
			    fsm_state_name(def, rj->from),
			    fsm_event_name(def, rj->event), i);
		}
	}
	return 0;
}

/* Bitmask of states reachable from the initial state. */
static uint64_t
fsm_reachable(const struct fsm_def *def)
{
	uint64_t seen = FSM_BIT(def->initial), before;
	int s, i;

	do {
		before = seen;
		for (s = 0; s < def->nstates; s++) {
			if ((seen & FSM_BIT(s)) == 0)
				continue;
			for (i = 0; i < def->nrows; i++)
				if (fsm_row_applies(&def->rows[i], s))
					seen |= FSM_BIT(fsm_row_target(
					    &def->rows[i], s));
		}
	} while (seen != before);
	return seen;
}

/* Is there a row for (s, e)? */
static bool
fsm_handles(const struct fsm_def *def, int s, int e)
{
	int i;

	for (i = 0; i < def->nrows; i++)
		if (def->rows[i].event == e &&
		    fsm_row_applies(&def->rows[i], s))
			return true;
	return false;
}

/* Can an action run in state s? */
static bool
fsm_runs_action(const struct fsm_def *def, int s)
{
	int i;

	for (i = 0; i < def->nrows; i++)
		if (def->rows[i].action != NULL &&
		    fsm_row_applies(&def->rows[i], s))
			return true;
	return false;
}

/* Does state s have a row that leaves it? */
static bool
fsm_has_exit(const struct fsm_def *def, int s)
{
	int i;

	for (i = 0; i < def->nrows; i++)
		if (fsm_row_applies(&def->rows[i], s) &&
		    fsm_row_target(&def->rows[i], s) != s)
			return true;
	return false;
}

/* Per-state rules: reachable, a way out, failure and timeout rows. */
static int
fsm_check_states(const struct fsm_def *def, struct err *err)
{
	uint64_t reach = fsm_reachable(def);
	int s;

	for (s = 0; s < def->nstates; s++) {
		const char *name = def->state_names[s];
		bool terminal = (def->terminal & FSM_BIT(s)) != 0;

		if ((reach & FSM_BIT(s)) == 0)
			return err_set(err, EINVAL, "%s: state %s is "
			    "unreachable", def->name, name);
		if (!terminal && !fsm_has_exit(def, s))
			return err_set(err, EINVAL, "%s: non-terminal state "
			    "%s has no way out", def->name, name);
		if (def->fail_event != FSM_NONE && fsm_runs_action(def, s) &&
		    !fsm_handles(def, s, def->fail_event))
			return err_set(err, EINVAL, "%s: state %s runs "
			    "actions but has no %s row", def->name, name,
			    fsm_event_name(def, def->fail_event));
		if ((def->waiting & FSM_BIT(s)) == 0)
			continue;
		if (def->timeout_event == FSM_NONE ||
		    !fsm_handles(def, s, def->timeout_event))
			return err_set(err, EINVAL, "%s: waiting state %s has "
			    "no timeout row", def->name, name);
	}
	return 0;
}

int
fsm_check(const struct fsm_def *def, struct err *err)
{
	if (def->state_names == NULL || def->event_names == NULL ||
	    def->rows == NULL || def->nrows <= 0)
		return err_set(err, EINVAL, "%s: incomplete definition",
		    def->name);
	if (fsm_check_ranges(def, err) < 0 ||
	    fsm_check_shadowed(def, err) < 0 ||
	    fsm_check_states(def, err) < 0)
		return -1;
	return 0;
}

/* One edge per row; ANY rows are drawn from every state they cover. */
static void
fsm_dot_row(const struct fsm_def *def, const struct fsm_row *r, int s,
    FILE *f)
{
	fprintf(f, "\t\"%s\" -> \"%s\" [label=\"%s", def->state_names[s],
	    def->state_names[fsm_row_target(r, s)],
	    def->event_names[r->event]);
	if (r->guard != NULL)
		fprintf(f, "\\n[%s]", r->guard_name);
	if (r->action != NULL)
		fprintf(f, "\\n/ %s", r->action_name);
	fprintf(f, "\"%s];\n", r->from == FSM_ANY ? ", style=dashed" : "");
}

void
fsm_dot(const struct fsm_def *def, FILE *f)
{
	int s, i;

	fprintf(f, "digraph \"%s\" {\n\trankdir=LR;\n\tlabel=\"%s v%u\";\n"
	    "\tnode [shape=box, style=rounded, fontname=\"Helvetica\"];\n"
	    "\tedge [fontname=\"Helvetica\", fontsize=9];\n", def->name,
	    def->name, def->version);
	for (s = 0; s < def->nstates; s++) {
		const char *shape = "";

		if (def->terminal & FSM_BIT(s))
			shape = ", peripheries=2";
		else if (def->waiting & FSM_BIT(s))
			shape = ", style=\"rounded,dashed\"";
		fprintf(f, "\t\"%s\" [label=\"%s\"%s%s];\n",
		    def->state_names[s], def->state_names[s], shape,
		    s == def->initial ? ", penwidth=2" : "");
	}
	for (i = 0; i < def->nrows; i++) {
		const struct fsm_row *r = &def->rows[i];

		if (r->from != FSM_ANY) {
			fsm_dot_row(def, r, r->from, f);
			continue;
		}
		for (s = 0; s < def->nstates; s++)
			if ((def->terminal & FSM_BIT(s)) == 0)
				fsm_dot_row(def, r, s, f);
	}
	fprintf(f, "}\n");
}

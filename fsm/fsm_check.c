/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Static checks of a transition table and its Graphviz rendering. Both
 * read only the const fsm_def, so tools and tests run them on the very
 * tables the shim and agent dispatch.
 */
#include <errno.h>
#include <stdlib.h>
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

static void
fsm_dot_head(const struct fsm_def *def, FILE *f)
{
	fprintf(f, "digraph \"%s\" {\n\trankdir=LR;\n\tlabel=\"%s v%u\";\n"
	    "\tnode [shape=box, style=rounded, fontname=\"Helvetica\"];\n"
	    "\tedge [fontname=\"Helvetica\", fontsize=9];\n", def->name,
	    def->name, def->version);
}

static const char *
fsm_dot_node_style(const struct fsm_def *def, int s)
{
	if (def->terminal & FSM_BIT(s))
		return ", peripheries=2";
	if (def->waiting & FSM_BIT(s))
		return ", style=\"rounded,dashed\"";
	return "";
}

/* Every row as an edge, ANY rows from each state: the full detail. */
void
fsm_dot_full(const struct fsm_def *def, FILE *f)
{
	int s, i;

	fsm_dot_head(def, f);
	for (s = 0; s < def->nstates; s++)
		fprintf(f, "\t\"%s\" [label=\"%s\"%s%s];\n",
		    def->state_names[s], def->state_names[s],
		    fsm_dot_node_style(def, s),
		    s == def->initial ? ", penwidth=2" : "");
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

/* Row i is the one dispatch takes in state s for its event (or a guarded
 * alternative of it): no earlier unguarded row for (s, event). */
static bool
fsm_row_live(const struct fsm_def *def, int i, int s)
{
	const struct fsm_row *r = &def->rows[i];
	int j;

	if (r->from != FSM_ANY && r->from != s)
		return false;
	for (j = 0; j < i; j++) {
		const struct fsm_row *q = &def->rows[j];

		if (q->event == r->event && q->guard == NULL &&
		    (q->from == s || q->from == FSM_ANY))
			return false;
	}
	return true;
}

/* Late news: the row keeps the state and does nothing. */
static bool
fsm_row_ignores(const struct fsm_row *r, int s)
{
	return r->action == NULL && r->guard == NULL &&
	    (r->to == FSM_SAME || r->to == s);
}

/* How a compact edge looks: failures red, timeouts orange, out of rank. */
static const char *
fsm_dot_edge_style(const struct fsm_def *def, const struct fsm_row *r)
{
	const char *e = def->event_names[r->event];

	if (r->event == def->timeout_event)
		return ", color=darkorange, fontcolor=darkorange, "
		    "style=dashed, constraint=false";
	if (r->event == def->fail_event || strstr(e, "FAIL") != NULL ||
	    strstr(e, "DIED") != NULL || strstr(e, "LOST") != NULL ||
	    strstr(e, "GONE") != NULL)
		return ", color=firebrick, fontcolor=firebrick, "
		    "constraint=false";
	return ", penwidth=1.5";
}

/* A compact edge; rows with the same ends, guard and action share one. */
struct fsm_dot_edge {
	const char	*from, *to, *guard, *action, *style;
	char		 events[256];
};

struct fsm_dot_edges {
	struct fsm_dot_edge	*v;
	int			 n;
};

static void
fsm_dot_edge(const struct fsm_def *def, const struct fsm_row *r,
    const char *from, const char *to, struct fsm_dot_edges *es)
{
	const char *guard = r->guard != NULL ? r->guard_name : NULL;
	const char *action = r->action != NULL ? r->action_name : NULL;
	const char *style = fsm_dot_edge_style(def, r);
	struct fsm_dot_edge *e;
	size_t n;
	int i;

	for (i = 0; i < es->n; i++) {
		e = &es->v[i];
		if (strcmp(e->from, from) == 0 && strcmp(e->to, to) == 0 &&
		    e->guard == guard && e->action == action &&
		    e->style == style) {
			n = strlen(e->events);
			snprintf(e->events + n, sizeof e->events - n, "%s%s",
			    n % 40 > 28 ? ",\\n" : ", ",
			    def->event_names[r->event]);
			return;
		}
	}
	es->v = realloc(es->v, (size_t)(es->n + 1) * sizeof *es->v);
	if (es->v == NULL)
		abort();
	e = &es->v[es->n++];
	*e = (struct fsm_dot_edge){ from, to, guard, action, style, "" };
	snprintf(e->events, sizeof e->events, "%s", def->event_names[r->event]);
}

static void
fsm_dot_edges_print(struct fsm_dot_edges *es, FILE *f)
{
	int i;

	for (i = 0; i < es->n; i++) {
		const struct fsm_dot_edge *e = &es->v[i];

		fprintf(f, "\t\"%s\" -> \"%s\" [label=\"%s", e->from, e->to,
		    e->events);
		if (e->guard != NULL)
			fprintf(f, "\\n[%s]", e->guard);
		if (e->action != NULL)
			fprintf(f, "\\n/ %s", e->action);
		fprintf(f, "\"%s];\n", e->style);
	}
	free(es->v);
	es->v = NULL;
	es->n = 0;
}

/* The events listed in a node: a line of at most three names each. */
static void
fsm_dot_ignored(const struct fsm_def *def, const bool *ev, const char *what,
    FILE *f)
{
	int e, n = 0;

	for (e = 0; e < def->nevents; e++) {
		if (!ev[e])
			continue;
		fprintf(f, "%s%s", n == 0 ? "<br/><font point-size=\"8\" "
		    "color=\"gray40\">" : n % 3 == 0 ? ",<br/>" : ", ",
		    n == 0 ? what : "");
		fprintf(f, "%s", def->event_names[e]);
		n++;
	}
	if (n > 0)
		fprintf(f, "</font>");
}

/*
 * A state node: its name, and the events it takes without moving or
 * acting (late news) in small print instead of as self-loops.
 */
static void
fsm_dot_state(const struct fsm_def *def, int s, FILE *f)
{
	bool ev[64] = { false };
	int i;

	for (i = 0; i < def->nrows; i++)
		if (def->rows[i].from == s && def->rows[i].event < 64 &&
		    fsm_row_ignores(&def->rows[i], s) && fsm_row_live(def, i, s))
			ev[def->rows[i].event] = true;
	fprintf(f, "\t\"%s\" [label=<<b>%s</b>", def->state_names[s],
	    def->state_names[s]);
	fsm_dot_ignored(def, ev, "ignores ", f);
	fprintf(f, ">%s%s];\n", fsm_dot_node_style(def, s),
	    s == def->initial ? ", penwidth=2" : "");
}

/* ANY rows: one edge from an "(any state)" node, its ignores listed. */
static void
fsm_dot_any(const struct fsm_def *def, struct fsm_dot_edges *es, FILE *f)
{
	bool ev[64] = { false }, any = false;
	int i, s;

	for (i = 0; i < def->nrows; i++)
		if (def->rows[i].from == FSM_ANY) {
			any = true;
			if (fsm_row_ignores(&def->rows[i], FSM_ANY) &&
			    def->rows[i].event < 64)
				ev[def->rows[i].event] = true;
		}
	if (!any)
		return;
	fprintf(f, "\t\"(any state)\" [shape=plaintext, label=<<i>any other "
	    "state</i>");
	fsm_dot_ignored(def, ev, "ignores ", f);
	fprintf(f, ">];\n");
	for (i = 0; i < def->nrows; i++) {
		const struct fsm_row *r = &def->rows[i];

		if (r->from != FSM_ANY || fsm_row_ignores(r, FSM_ANY))
			continue;
		for (s = 0; s < def->nstates; s++)
			if (fsm_row_live(def, i, s))
				break;
		/* A row that stays where it acts loops on the any node. */
		if (s < def->nstates)
			fsm_dot_edge(def, r, "(any state)", r->to == FSM_SAME ?
			    "(any state)" : def->state_names[r->to], es);
	}
}

/*
 * The picture people read: the main path left to right, failures and
 * timeouts in their own colours without pulling the layout, late news
 * inside the states, ANY rows drawn once. fsm_dot_full has every row.
 */
void
fsm_dot(const struct fsm_def *def, FILE *f)
{
	int s, i;

	struct fsm_dot_edges es = { NULL, 0 };

	fsm_dot_head(def, f);
	for (s = 0; s < def->nstates; s++)
		fsm_dot_state(def, s, f);
	fsm_dot_any(def, &es, f);
	for (i = 0; i < def->nrows; i++) {
		const struct fsm_row *r = &def->rows[i];

		if (r->from == FSM_ANY || fsm_row_ignores(r, r->from) ||
		    !fsm_row_live(def, i, r->from))
			continue;
		fsm_dot_edge(def, r, def->state_names[r->from],
		    def->state_names[fsm_row_target(r, r->from)], &es);
	}
	fsm_dot_edges_print(&es, f);
	fprintf(f, "}\n");
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Promela from the linked tables, for the SPIN model checker (kiln-fsm
 * promela, tests/e2e/t_spin.sh). Nothing here is written per machine: the
 * states, events and rows come from the fsm_def, and the selection code is
 * the engine's (fsm.c) rewritten in Promela, so SPIN checks the very table
 * the shim dispatches.
 *
 * Per machine (prefix P, e.g. "qmp_"):
 *   P_S_<STATE>, P_E_<EVENT>     the ids, as #defines
 *   P_select(e)                  fsm_select: rows in table order, the first
 *                                match wins; a guard is a free choice
 *   P_fire(e)                    the row: to its target (FSM_SAME keeps the
 *                                state), or a fallible action fails: state
 *                                kept, P_fail set so the failure event is
 *                                dispatched next (fsm_step + fsm_post)
 *   P_dispatch(e, outer, inner)  both, one "KILN" trace printf, and the
 *                                table checks of fsm_explore as assertions;
 *                                outer: an outside event (P_tok, P_tfail
 *                                say what a timeout did), inner: posted by
 *                                a machine (rejected: P_lost)
 *   P_drain()                    the failure event of a failed action
 * fsm_promela() adds the open world of one table: an environment process
 * sending any event through a bounded channel, a timer process that
 * expires only in waiting states (weak fairness makes it fire) and the
 * liveness claim. The task x VM composition (core/task_vm_promela.c) uses
 * the per-machine parts with its own environment.
 */
#include <string.h>

#include "fsm.h"

#define PROMELA_QLEN	2

/* Is row r's action explored failing? By default every action may fail. */
static bool
promela_fallible(const struct fsm_promela_opts *o, const struct fsm_def *def,
    const struct fsm_row *r)
{
	if (r->action == NULL || def->fail_event == FSM_NONE ||
	    r->event == def->fail_event)
		return false;
	if (o->fallible == NULL)
		return true;
	return o->fallible(r, o->arg);
}

void
fsm_promela_ids(const struct fsm_def *def, const char *p, FILE *f)
{
	uint64_t bits;
	int i;

	fprintf(f, "/* machine %s v%u: %d states, %d events, %d rows */\n",
	    def->name, def->version, def->nstates, def->nevents, def->nrows);
	for (i = 0; i < def->nstates; i++)
		fprintf(f, "#define %sS_%s\t%d\n", p, def->state_names[i], i);
	for (i = 0; i < def->nevents; i++)
		fprintf(f, "#define %sE_%s\t%d\n", p, def->event_names[i], i);
	fprintf(f, "#define %sNEV\t%d\n", p, def->nevents);
	for (i = 0; i < 2; i++) {
		bits = i == 0 ? def->terminal : def->waiting;
		fprintf(f, "#define %s%s(s)\t(false", p,
		    i == 0 ? "TERMINAL" : "WAITING");
		for (int s = 0; s < def->nstates; s++)
			if ((bits & FSM_BIT(s)) != 0)
				fprintf(f, " || (s) == %sS_%s", p,
				    def->state_names[s]);
		fprintf(f, ")\n");
	}
	fprintf(f, "byte %sst = %sS_%s;\n", p, p,
	    def->state_names[def->initial]);
	/*
	 * Scratch of one dispatch; reset at its end so that it never
	 * splits a state in two.
	 */
	fprintf(f, "byte %srow = NOROW, %sfrom, %sres, %sprow;\n"
	    "bool %sfail, %sleaves, %shastmo;\n", p, p, p, p, p, p, p);
	/* What the last dispatch did with a timeout, for the claim. */
	fprintf(f, "bool %stok, %stfail;\n", p, p);
	fprintf(f, "bool %slost;\t/* a posted event was rejected */\n\n", p);
}

/* The condition "row r applies in the current state" (FSM_ANY: always). */
static void
promela_from(const struct fsm_def *def, const char *p,
    const struct fsm_row *r, FILE *f)
{
	if (r->from == FSM_ANY)
		fprintf(f, "true");
	else
		fprintf(f, "%sst == %sS_%s", p, p, def->state_names[r->from]);
}

static void
promela_row_comment(const struct fsm_def *def, int i, FILE *f)
{
	const struct fsm_row *r = &def->rows[i];

	fprintf(f, "\t/* row %d: %s --%s", i, fsm_state_name(def, r->from),
	    def->event_names[r->event]);
	if (r->guard != NULL)
		fprintf(f, " [%s]", r->guard_name);
	if (r->action != NULL)
		fprintf(f, " / %s", r->action_name);
	fprintf(f, "--> %s */\n", fsm_state_name(def, r->to));
}

/*
 * fsm_select: rows in table order, skipping those whose event or state
 * does not match; the first whose guard holds wins. A guard reads live
 * data, so here it is a free choice, unless the composition says what it
 * reads (opts->guard); "no" is remembered as GUARDED.
 */
static void
promela_select(const struct fsm_def *def, const char *p,
    const struct fsm_promela_opts *o, FILE *f)
{
	const char *cond;
	int i;

	fprintf(f, "inline %sselect(e) {\n\t%sres = R_REJECTED;\n", p, p);
	for (i = 0; i < def->nrows; i++) {
		const struct fsm_row *r = &def->rows[i];

		promela_row_comment(def, i, f);
		fprintf(f, "\tif\n\t:: %srow == NOROW && e == %sE_%s && ", p,
		    p, def->event_names[r->event]);
		promela_from(def, p, r, f);
		cond = r->guard != NULL && o->guard != NULL ?
		    o->guard(def, r, o->arg) : NULL;
		if (r->guard == NULL)
			fprintf(f, " -> %srow = %d\n", p, i);
		else if (cond != NULL)
			fprintf(f, " ->\n\t\tif\n\t\t:: %s -> %srow = %d\n"
			    "\t\t:: else -> %sres = R_GUARDED\n\t\tfi\n",
			    cond, p, i, p);
		else
			fprintf(f, " ->\n\t\tif\n\t\t:: %srow = %d\n"
			    "\t\t:: %sres = R_GUARDED\n\t\tfi\n", p, i, p);
		fprintf(f, "\t:: else -> skip\n\tfi;\n");
	}
	fprintf(f, "}\n\n");
}

/* The row fires: its target and effects, or its action fails. */
static void
promela_fire(const struct fsm_def *def, const char *p,
    const struct fsm_promela_opts *o, FILE *f)
{
	int i;

	fprintf(f, "inline %sfire(e) {\n\tif\n\t:: %srow == NOROW -> skip\n",
	    p, p);
	for (i = 0; i < def->nrows; i++) {
		const struct fsm_row *r = &def->rows[i];
		bool fallible = promela_fallible(o, def, r);

		fprintf(f, "\t:: %srow == %d ->\n", p, i);
		if (fallible)
			fprintf(f, "\t\tif\n\t\t:: %sres = R_FAILED; %sfail = "
			    "true\n\t\t:: true ->\n", p, p);
		fprintf(f, "\t\t%sres = R_OK;\n", p);
		if (r->to != FSM_SAME)
			fprintf(f, "\t\t%sst = %sS_%s;\n", p, p,
			    def->state_names[r->to]);
		if (o->effects != NULL)
			o->effects(def, r, f, o->arg);
		fprintf(f, "\t\tskip\n");
		if (fallible)
			fprintf(f, "\t\tfi\n");
	}
	fprintf(f, "\tfi\n}\n\n");
}

/*
 * What fsm_explore checks in each reachable state, from the rows as the
 * engine reads them: per event, the choices fsm_each_choice gives (up to
 * and including the first unguarded row). Deterministic, so it runs as one
 * d_step and adds no state.
 */
static void
promela_probe(const struct fsm_def *def, const char *p, FILE *f)
{
	int e, i;

	fprintf(f, "inline %sprobe() {\n\t%sleaves = false;\n"
	    "\t%shastmo = false;\n", p, p, p);
	for (e = 0; e < def->nevents; e++) {
		fprintf(f, "\t%sprow = NOROW;\t/* %s */\n", p,
		    def->event_names[e]);
		for (i = 0; i < def->nrows; i++) {
			const struct fsm_row *r = &def->rows[i];

			if (r->event != e)
				continue;
			fprintf(f, "\tif\n\t:: %sprow == NOROW && (", p);
			promela_from(def, p, r, f);
			fprintf(f, ") ->\n");
			if (r->to != FSM_SAME)
				fprintf(f, "\t\t%sleaves = %sleaves || "
				    "%sst != %sS_%s;\n", p, p, p, p,
				    def->state_names[r->to]);
			if (e == def->timeout_event)
				fprintf(f, "\t\t%shastmo = true;\n", p);
			fprintf(f, "\t\t%sprow = %s;\n", p,
			    r->guard == NULL ? "0" : "NOROW");
			fprintf(f, "\t:: else -> skip\n\tfi;\n");
		}
	}
	fprintf(f, "\t%sprow = NOROW\n}\n\n", p);
}

static void
promela_dispatch(const struct fsm_def *def, const char *p, FILE *f)
{
	fprintf(f, "/* The table checks of fsm_explore, in the state reached. */\n"
	    "inline %scheck() {\n"
	    "\td_step {\n"
	    "\t\t%sprobe();\n"
	    "\t\tassert(%sTERMINAL(%sst) || %sleaves);\t/* NoDeadEnd */\n"
	    "\t\tassert(!%sWAITING(%sst) || %shastmo);"
	    "\t/* WaitingStatesTimeout */\n"
	    "\t\t%sleaves = false;\n\t\t%shastmo = false\n"
	    "\t}\n}\n\n", p, p, p, p, p, p, p, p, p, p);
	fprintf(f, "inline %sdispatch(e, outer, inner) {\n"
	    "\t%sfrom = %sst;\n"
	    "\t%sselect(e);\n"
	    "\t%sfire(e);\n"
	    "\tprintf(\"KILN %s %%d %%d %%d %%d %%d\\n\", %sfrom, e, %sst, "
	    "%sres, %srow);\n"
	    "\tassert(!%sTERMINAL(%sfrom) || %sst == %sfrom);"
	    "\t/* TerminalIsFinal */\n"
	    "\t%scheck();\n", p, p, p, p, p, def->name, p, p, p, p, p, p, p,
	    p, p);
	/*
	 * The last outside event was a timeout: handled, or its action
	 * failed. The claim sees only the end of an atomic step, so the
	 * failure event that follows (drain) must not overwrite it.
	 */
	if (def->timeout_event != FSM_NONE)
		fprintf(f, "\tif\n\t:: outer ->\n"
		    "\t\t%stok = (e == %sE_%s && %sres == R_OK);\n"
		    "\t\t%stfail = (e == %sE_%s && %sres == R_FAILED)\n"
		    "\t:: else -> skip\n\tfi;\n", p, p,
		    def->event_names[def->timeout_event], p, p, p,
		    def->event_names[def->timeout_event], p);
	/* An event one machine posted to another must not be rejected. */
	fprintf(f, "\tif\n\t:: inner && (%sres == R_REJECTED || %sres == "
	    "R_GUARDED) -> %slost = true\n\t:: else -> skip\n\tfi;\n", p, p,
	    p);
	fprintf(f, "\t%srow = NOROW;\n\t%sfrom = 0;\n\t%sres = 0\n}\n\n",
	    p, p, p);
	/* Run-to-completion: the failure event runs before anything else. */
	fprintf(f, "inline %sdrain() {\n\tif\n", p);
	if (def->fail_event != FSM_NONE)
		fprintf(f, "\t:: %sfail -> %sfail = false; "
		    "%sdispatch(%sE_%s, false, true)\n",
		    p, p, p, p, def->event_names[def->fail_event]);
	fprintf(f, "\t:: else -> skip\n\tfi\n}\n\n");
}

void
fsm_promela_prelude(FILE *f)
{
	fprintf(f, "#define NOROW\t255\n#define R_OK\t%d\n#define R_REJECTED"
	    "\t%d\n#define R_GUARDED\t%d\n#define R_FAILED\t%d\n\n",
	    FSM_RES_OK, FSM_RES_REJECTED, FSM_RES_GUARDED, FSM_RES_FAILED);
}

void
fsm_promela_machine(const struct fsm_def *def, const char *p,
    const struct fsm_promela_opts *o, FILE *f)
{
	promela_select(def, p, o, f);
	promela_fire(def, p, o, f);
	promela_probe(def, p, f);
	promela_dispatch(def, p, f);
}

/*
 * Each waiting state is eventually left, or its timeout is handled by a
 * row that keeps it on purpose (vm STOPPING kills QEMU again and waits on).
 * Assumed: an action whose timeout keeps failing eventually succeeds
 * (strong fairness of the action's outcome, which pan -f cannot express),
 * else any action failing forever would be a counter-example.
 *
 * One claim per waiting state, <name>_<STATE>: [](a && b) is []a && []b,
 * and SPIN's LTL translation is exponential in the size of a formula (one
 * conjunction over vm's ten waiting states took `spin -a` 222 s; ten
 * claims take well under one).
 */
void
fsm_promela_ltl_left(const struct fsm_def *def, const char *p,
    const char *name, FILE *f)
{
	int s, n = 0;

	for (s = 0; s < def->nstates; s++) {
		if ((def->waiting & FSM_BIT(s)) == 0)
			continue;
		fprintf(f, "ltl %s_%s {\n\t(([]<> %stfail) -> ([]<> %stok)) ->"
		    "\n\t[] (%sst == %sS_%s -> <> (%sst != %sS_%s || %stok))\n}\n",
		    name, def->state_names[s], p, p, p, p, def->state_names[s],
		    p, p, def->state_names[s], p);
		n++;
	}
	if (n == 0)
		fprintf(f, "/* %s has no waiting state. */\n", def->name);
}

void
fsm_promela(const struct fsm_def *def, FILE *f)
{
	struct fsm_promela_opts o = { NULL, NULL, NULL, NULL };
	char p[64];
	int e;

	snprintf(p, sizeof p, "%s_", def->name);
	fprintf(f, "/*\n * Generated by `kiln-fsm promela %s` from the linked "
	    "fsm_def (v%u).\n * Do not edit: change the C table and "
	    "regenerate.\n *\n * Open world: any event may arrive, in any "
	    "state (as fsm_explore); the\n * timer expires only in waiting "
	    "states. Every action may fail.\n */\n", def->name, def->version);
	fsm_promela_prelude(f);
	fsm_promela_ids(def, p, f);
	fsm_promela_machine(def, p, &o, f);
	fprintf(f, "chan %sq = [%d] of { byte };\nbool %stmo;\n\n", p,
	    PROMELA_QLEN, p);
	fprintf(f, "active proctype env() {\nend:\n\tdo\n");
	for (e = 0; e < def->nevents; e++)
		fprintf(f, "\t:: %sq ! %sE_%s\n", p, p, def->event_names[e]);
	fprintf(f, "\tod\n}\n\n");
	if (def->timeout_event != FSM_NONE)
		fprintf(f, "/* Armed exactly while waiting; weak fairness "
		    "(pan -f) makes it fire. */\n"
		    "active proctype timer() {\nend:\n\tdo\n"
		    "\t:: atomic { %sWAITING(%sst) && !%stmo -> %stmo = true }\n"
		    "\tod\n}\n\n", p, p, p, p);
	/*
	 * An expired timer is dispatched before the next queued event: the
	 * expiry itself may happen between any two, so nothing is lost, and
	 * the machine's only enabled step is then the timeout, which weak
	 * fairness cannot starve.
	 */
	fprintf(f, "active proctype machine() {\n\tbyte e;\n\n\t%scheck();\n"
	    "end:\n\tdo\n", p);
	if (def->timeout_event != FSM_NONE)
		fprintf(f, "\t:: atomic { %stmo -> %stmo = false;\n"
		    "\t\t%sdispatch(%sE_%s, true, false); %sdrain() }\n", p, p, p, p,
		    def->event_names[def->timeout_event], p);
	fprintf(f, "\t:: atomic { !%stmo && nempty(%sq) -> %sq ? e;\n"
	    "\t\t%sdispatch(e, true, false); %sdrain(); e = 0 }\n\tod\n}\n\n", p, p, p, p,
	    p);
	fsm_promela_ltl_left(def, p, "waiting_left", f);
}

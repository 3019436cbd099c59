/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The task x VM x exec product of task_vm_model.c as Promela, for SPIN
 * (kiln-fsmcheck --promela, tests/e2e/t_spin.sh). The three machines are
 * the real tables through fsm_promela_machine(); their environment is
 * task_vm_model.c's own tables (tvm_effects, tvm_rules, tvm_guards),
 * written out here, so nothing about it is said twice. What is written
 * here by hand is only how those tables read in Promela, the run-to-
 * completion drain, the invariants (model_violation) and the claims.
 *
 * Unlike the C explorer this one has no depth bound and checks liveness
 * under weak fairness (pan -a -f) of what the specs assume fair: timers,
 * deferred callbacks, and QEMU exiting once it was SIGKILLed. The world
 * (containerd, the agent, QEMU, the stdio drain) is one unfair process:
 * it may stay silent.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/core_int.h"
#include "core/task_vm_model.h"

#define TVP_QMAX	3	/* QMAX of task_vm_model.c */

static const char *const tvp_prefix[TVM__COUNT] = { "task_", "vm_",
	"exec_" };

static const char *
tvp_ev(const struct model_defs *d, int m, int e)
{
	return fsm_event_name(tvm_def(d, m), e);
}

static const char *
tvp_st(const struct model_defs *d, int m, int s)
{
	return fsm_state_name(tvm_def(d, m), s);
}

static bool
tvp_fallible(const struct fsm_row *r, void *arg)
{
	(void)arg;
	return task_vm_model_fallible(r);
}

static int
tvp_machine(const struct model_defs *d, const struct fsm_def *def)
{
	int m;

	for (m = 0; m < TVM__COUNT; m++)
		if (tvm_def(d, m) == def)
			return m;
	fatalx("%s: table %s is not in the composition", __func__,
	    def->name);
}

/* post_i(machine * 64 + event), as task_vm_model.c's qi packs them. */
static void
tvp_post(const struct model_defs *d, int m, int e, FILE *f)
{
	fprintf(f, "post_i(%d + %sE_%s)", m << 6, tvp_prefix[m],
	    tvp_ev(d, m, e));
}

/* tvm_apply, as Promela after the row's own state change. */
static void
tvp_effects(const struct fsm_def *def, const struct fsm_row *r, FILE *f,
    void *arg)
{
	const struct model_defs *d = arg;
	const struct tvm_effect *e;
	const char *const *vn = tvm_var_names;
	int m = tvp_machine(d, def);
	size_t i;

	for (i = 0; i < tvm_neffects; i++) {
		e = &tvm_effects[i];
		if ((int)e->m != m || r->action == NULL ||
		    strcmp(r->action_name, e->action) != 0)
			continue;
		fprintf(f, "\t\t");
		switch (e->op) {
		case TVM_SET:
			fprintf(f, "%s = %d;\n", vn[e->a], e->b);
			break;
		case TVM_INC:
			fprintf(f, "%s++;\n", vn[e->a]);
			break;
		case TVM_POST:
			tvp_post(d, e->a, e->b, f);
			fprintf(f, ";\n");
			break;
		case TVM_CALL:
			fprintf(f, "if\n\t\t:: CHAN_OPEN -> %s = %d\n"
			    "\t\t:: else -> ", vn[e->a], e->b);
			tvp_post(d, m, e->c, f);
			fprintf(f, "\n\t\tfi;\n");
			break;
		case TVM_STOP_VM:
			fprintf(f, "if\n\t\t:: vm_st == vm_S_%s -> ",
			    tvp_st(d, TVM_VM, VM_ST_STOPPED));
			tvp_post(d, TVM_TASK, TASK_EV_VM_STOPPED, f);
			fprintf(f, "\n\t\t:: else -> stop_requested = 1; ");
			tvp_post(d, TVM_VM, VM_EV_STOP, f);
			fprintf(f, "\n\t\tfi;\n");
			break;
		case TVM_KILL_VM:
			fprintf(f, "if\n\t\t:: vm_st != vm_S_%s -> "
			    "stop_requested = 1;\n\t\t\tif\n"
			    "\t\t\t:: QEMU_RUNS -> killed = 1\n"
			    "\t\t\t:: else -> skip\n\t\t\tfi;\n\t\t\t",
			    tvp_st(d, TVM_VM, VM_ST_STOPPED));
			tvp_post(d, TVM_VM, VM_EV_STOP, f);
			fprintf(f, "\n\t\t:: else -> skip\n\t\tfi;\n");
			break;
		case TVM_DEFER:
			fprintf(f, "post_t(task_E_%s);\n",
			    tvp_ev(d, TVM_TASK, e->b));
			break;
		case TVM_DEFER_STOPPED:
			fprintf(f, "if\n\t\t:: stop_requested -> "
			    "post_t(task_E_%s)\n\t\t:: else -> "
			    "post_t(task_E_%s)\n\t\tfi;\n",
			    tvp_ev(d, TVM_TASK, TASK_EV_VM_STOPPED),
			    tvp_ev(d, TVM_TASK, TASK_EV_VM_DIED));
			break;
		case TVM_DEFER_FREE:
			fprintf(f, "post_t(Q_FREE);\n");
			break;
		}
	}
}

/* tvm_guard_var: the guards the composition reads. */
static const char *
tvp_guard(const struct fsm_def *def, const struct fsm_row *r, void *arg)
{
	static char buf[64];
	int m = tvp_machine(arg, def);
	size_t i;

	for (i = 0; i < tvm_nguards; i++)
		if ((int)tvm_guards[i].m == m &&
		    strcmp(tvm_guards[i].guard, r->guard_name) == 0) {
			snprintf(buf, sizeof buf, "(%s != 0)",
			    tvm_var_names[tvm_guards[i].var]);
			return buf;
		}
	return NULL;
}

/* "(false || P_st == P_S_A || ...)" for the states in mask. */
static void
tvp_state_set(const struct model_defs *d, int m, uint64_t mask, FILE *f)
{
	const struct fsm_def *def = tvm_def(d, m);
	const char *p = tvp_prefix[m];
	int s;

	fprintf(f, "(false");
	for (s = 0; s < def->nstates; s++)
		if ((mask & FSM_BIT(s)) != 0)
			fprintf(f, " || %sst == %sS_%s", p, p,
			    def->state_names[s]);
	fprintf(f, ")");
}

/* The queues, the variables and the helpers the effects call. */
static void
tvp_globals(const struct model_defs *d, FILE *f)
{
	int v;

	fprintf(f, "chan qi = [%d] of { byte };\t/* fsm_post inside a "
	    "dispatch: machine * 64 + event */\n"
	    "chan qt = [%d] of { byte };\t/* the deferred callbacks */\n"
	    "#define Q_FREE\t%d\t/* exec_free_cb in qt */\n",
	    TVP_QMAX, TVP_QMAX, TVM_Q_FREE);
	fprintf(f, "/* task_vm_model.c's variables (tvm_var_names). */\n");
	for (v = 1; v < TVM__NVARS; v++)
		fprintf(f, "byte %s;\n", tvm_var_names[v]);
	fprintf(f, "byte news;\t/* VM_DIED/VM_STOPPED in qt */\n"
	    "bool lost;\t/* a queue overflowed */\n"
	    "/* Ghosts for the claims. */\nbool started, exec_started;\n"
	    "byte x;\n\n");
	fprintf(f, "#define CHAN_OPEN\t(vm_st == vm_S_%s || vm_st == vm_S_%s)\n"
	    "#define QEMU_RUNS\t(vm_st != vm_S_%s && vm_st != vm_S_%s)\n",
	    tvp_st(d, TVM_VM, VM_ST_READY), tvp_st(d, TVM_VM, VM_ST_STOPPING),
	    tvp_st(d, TVM_VM, VM_ST_NEW), tvp_st(d, TVM_VM, VM_ST_STOPPED));
	fprintf(f, "#define TASK_LIVE\t");
	tvp_state_set(d, TVM_TASK, tvm_task_live, f);
	fprintf(f, "\n#define EXEC_LIVE\t");
	tvp_state_set(d, TVM_EXEC, tvm_exec_live, f);
	fprintf(f, "\n\n/* More in flight than modelled is flagged "
	    "(q_push). */\n"
	    "inline post_i(ev) {\n\tif\n\t:: nfull(qi) -> qi ! ev\n"
	    "\t:: full(qi) -> lost = true\n\tfi\n}\n\n"
	    "inline post_t(ev) {\n\tif\n\t:: nfull(qt) -> qt ! ev;\n"
	    "\t\tif\n\t\t:: ev == task_E_%s || ev == task_E_%s -> news++\n"
	    "\t\t:: else -> skip\n\t\tfi\n"
	    "\t:: full(qt) -> lost = true\n\tfi\n}\n\n",
	    tvp_ev(d, TVM_TASK, TASK_EV_VM_DIED),
	    tvp_ev(d, TVM_TASK, TASK_EV_VM_STOPPED));
}

/* model_violation, checked between steps (qi is empty then). */
static void
tvp_invariants(const struct model_defs *d, FILE *f)
{
	fprintf(f, "inline invariants() {\n\td_step {\n"
	    "\t\tassert(exits <= 1);\t/* ExitPublishedOnce */\n"
	    "\t\tassert(!(vm_st == vm_S_%s && news == 0 && TASK_LIVE));"
	    "\t/* NoRunningTaskWithStoppedVM */\n"
	    "\t\tassert(!(task_st == task_S_%s && vm_st != vm_S_%s &&\n"
	    "\t\t    vm_st != vm_S_%s && !stop_requested));"
	    "\t/* DeleteStopsVM */\n"
	    "\t\tassert(!lost && !task_lost && !vm_lost && !exec_lost);"
	    "\t/* NoLostMessage */\n"
	    "\t\tassert(exec_exits <= 1);\t/* ExecExitPublishedOnce */\n"
	    "\t\tassert(!(vm_st == vm_S_%s && news == 0 && exec == 1 &&\n"
	    "\t\t    EXEC_LIVE));\t/* NoLiveExecWithStoppedVM */\n",
	    tvp_st(d, TVM_VM, VM_ST_STOPPED),
	    tvp_st(d, TVM_TASK, TASK_ST_DELETED),
	    tvp_st(d, TVM_VM, VM_ST_STOPPED), tvp_st(d, TVM_VM, VM_ST_NEW),
	    tvp_st(d, TVM_VM, VM_ST_STOPPED));
	fprintf(f, "\t\tif\n\t\t:: task_st == task_S_%s -> started = true\n"
	    "\t\t:: else -> skip\n\t\tfi;\n"
	    "\t\tif\n\t\t:: exec == 1 && exec_st == exec_S_%s -> "
	    "exec_started = true\n\t\t:: else -> skip\n\t\tfi\n\t}\n}\n\n",
	    tvp_st(d, TVM_TASK, TASK_ST_RUNNING),
	    tvp_st(d, TVM_EXEC, EXEC_ST_RUNNING));
}

/*
 * Run-to-completion: failure events first, then qi FIFO, to the end. Each
 * dispatch inline is written out once in mdispatch(): SPIN's simulator
 * (the trail replay) slows down badly with many copies.
 */
static void
tvp_drain(const struct model_defs *d, FILE *f)
{
	fprintf(f, "byte dm, de;\t/* the event being dispatched: machine, id "
	    "*/\nbool dout, din;\n"
	    "inline mdispatch() {\n\tif\n"
	    "\t:: dm == %d -> task_dispatch(de, dout, din)\n"
	    "\t:: dm == %d -> vm_dispatch(de, dout, din)\n"
	    "\t:: dm == %d -> exec_dispatch(de, dout, din)\n\tfi;\n"
	    "\tdm = 0; de = 0; dout = false; din = false\n}\n\n",
	    TVM_TASK, TVM_VM, TVM_EXEC);
	fprintf(f, "inline drain_one() {\n\tif\n"
	    "\t:: task_fail -> task_fail = false; dm = %d; de = task_E_%s\n"
	    "\t:: vm_fail -> vm_fail = false; dm = %d; de = vm_E_%s\n"
	    "\t:: exec_fail -> exec_fail = false; dm = %d; de = exec_E_%s\n"
	    "\t:: !task_fail && !vm_fail && !exec_fail && nempty(qi) ->\n"
	    "\t\tqi ? x; dm = x / 64; de = x %% 64; x = 0\n"
	    "\tfi;\n\tdin = true;\n\tmdispatch()\n}\n\n",
	    TVM_TASK, tvp_ev(d, TVM_TASK, TASK_EV_FAIL),
	    TVM_VM, tvp_ev(d, TVM_VM, VM_EV_FAIL),
	    TVM_EXEC, tvp_ev(d, TVM_EXEC, EXEC_EV_FAIL));
	fprintf(f, "/* Everything the last dispatch posted, then the "
	    "invariants. */\ninline drain_all() {\n"
	    "\tdo\n\t:: task_fail || vm_fail || exec_fail || nempty(qi) -> "
	    "drain_one()\n\t:: else -> break\n\tod;\n\tinvariants()\n}\n\n"
	    "/* One step: the event, everything it posts, the invariants. */\n"
	    "inline step(m, ev, inner) {\n"
	    "\tdm = m; de = ev; dout = true; din = inner;\n"
	    "\tmdispatch();\n\tdrain_all()\n}\n\n");
}

/* A rule's condition (tvm_rule_holds) as a Promela expression. */
static void
tvp_rule_cond(const struct model_defs *d, const struct tvm_rule *r,
    FILE *f)
{
	fprintf(f, "true");
	if (r->var != TVM_V_NONE && r->val == 0)
		fprintf(f, " && %s != 0", tvm_var_names[r->var]);
	else if (r->var != TVM_V_NONE)
		fprintf(f, " && %s == %d", tvm_var_names[r->var], r->val);
	if (r->unless != TVM_V_NONE)
		fprintf(f, " && %s == 0", tvm_var_names[r->unless]);
	if (r->chan)
		fprintf(f, " && CHAN_OPEN");
	if (r->qemu)
		fprintf(f, " && QEMU_RUNS");
	if (r->mask != 0) {
		fprintf(f, " && ");
		tvp_state_set(d, r->in, r->mask, f);
	}
}

/* tvm_rules: one option each; the step itself is written once. */
static void
tvp_world(const struct model_defs *d, FILE *f)
{
	const struct tvm_rule *r;
	size_t k;

	fprintf(f, "/* tvm_rules: containerd, the agent, QEMU, the stdio "
	    "drain. */\nbyte wm, we;\nactive proctype world() {\nend:\n"
	    "\tdo\n\t:: atomic {\n\t\tif\n");
	for (k = 0; k < tvm_nrules; k++) {
		r = &tvm_rules[k];
		fprintf(f, "\t\t:: ");
		tvp_rule_cond(d, r, f);
		fprintf(f, " ->\n\t\t\t");
		if (r->clear != TVM_V_NONE)
			fprintf(f, "%s = 0; ", tvm_var_names[r->clear]);
		if (r->set != TVM_V_NONE)
			fprintf(f, "%s = %d; ", tvm_var_names[r->set],
			    r->setval);
		fprintf(f, "wm = %d; we = %sE_%s\t/* %s */\n", r->m,
		    tvp_prefix[r->m], tvp_ev(d, r->m, r->event), r->who);
	}
	fprintf(f, "\t\tfi;\n\t\tstep(wm, we, false); wm = 0; we = 0\n"
	    "\t}\n\tod\n}\n\n");
}

/* What the specs assume fair, each its own process for pan -f. */
static void
tvp_fair(const struct model_defs *d, FILE *f)
{
	int m;

	fprintf(f, "/*\n * The deferred callbacks run, in order: exec_free_cb "
	    "(the exec's agent calls\n * cancelled); task_vm_stopped_cb, "
	    "which posts VM_DIED to the exec if it\n * is in t->execs, then "
	    "tells the task; on_ready.\n */\n"
	    "active proctype deferred() {\nend:\n\tdo\n"
	    "\t:: atomic { nempty(qt) -> qt ? x;\n\t\tif\n"
	    "\t\t:: x == Q_FREE -> exec = 2; exec_op = 0; exec_wait = 0;\n"
	    "\t\t\tinvariants()\n"
	    "\t\t:: x == task_E_%s || x == task_E_%s -> news--;\n"
	    "\t\t\tif\n\t\t\t:: exec == 1",
	    tvp_ev(d, TVM_TASK, TASK_EV_VM_DIED),
	    tvp_ev(d, TVM_TASK, TASK_EV_VM_STOPPED));
	if (d->broken_exec_news)
		fprintf(f, " && TASK_LIVE");
	fprintf(f, " -> ");
	tvp_post(d, TVM_EXEC, EXEC_EV_VM_DIED, f);
	fprintf(f, "\n\t\t\t:: else -> skip\n\t\t\tfi;\n"
	    "\t\t\tpost_i(x); drain_all()\n"
	    "\t\t:: else -> step(%d, x, true)\n\t\tfi;\n\t\tx = 0 }\n"
	    "\tod\n}\n\n", TVM_TASK);
	fprintf(f, "/* Timers are armed exactly in the waiting states (the "
	    "exec's while it exists). */\n");
	for (m = 0; m < TVM__COUNT; m++)
		fprintf(f, "active proctype %stimer() {\nend:\n\tdo\n"
		    "\t:: atomic { %s%sWAITING(%sst) -> step(%d, %sE_%s, "
		    "false) }\n\tod\n}\n\n", tvp_prefix[m],
		    m == TVM_EXEC ? "exec == 1 && " : "", tvp_prefix[m],
		    tvp_prefix[m], m, tvp_prefix[m],
		    tvp_ev(d, m, tvm_def(d, m)->timeout_event));
	fprintf(f, "/* A SIGKILLed QEMU exits. */\n"
	    "active proctype qemu() {\nend:\n\tdo\n"
	    "\t:: atomic { killed && QEMU_RUNS -> killed = 0;\n"
	    "\t\tstep(%d, vm_E_%s, false) }\n\tod\n}\n\n", TVM_VM,
	    tvp_ev(d, TVM_VM, VM_EV_QEMU_EXITED));
}

/*
 * The liveness claims. A started process's exit is published once it has
 * happened: the guest reported it, or the VM is gone. (Not before: the
 * world is unfair, so a process may run for ever, and then no exit is due.)
 */
static void
tvp_claims(const struct model_defs *d, FILE *f)
{
	fprintf(f, "/* A started task's exit, once reported or its VM gone, is "
	    "published. */\nltl exit_published {\n"
	    "\t[] ((started && (task_exited != 0 || vm_st == vm_S_%s)) ->\n"
	    "\t    <> (exits > 0))\n}\n",
	    tvp_st(d, TVM_VM, VM_ST_STOPPED));
	fprintf(f, "/* The same for the exec. */\nltl exec_exit_published {\n"
	    "\t[] ((exec_started && (exec_exited != 0 || vm_st == vm_S_%s)) "
	    "->\n\t    <> (exec_exits > 0))\n}\n",
	    tvp_st(d, TVM_VM, VM_ST_STOPPED));
	fprintf(f, "/* Delete eventually stops the VM (or none was made). */\n"
	    "ltl delete_stops_vm {\n\t[] ((task_st == task_S_%s || task_st == "
	    "task_S_%s) ->\n\t    <> (vm_st == vm_S_%s || vm_st == vm_S_%s))\n"
	    "}\n", tvp_st(d, TVM_TASK, TASK_ST_DELETING),
	    tvp_st(d, TVM_TASK, TASK_ST_DELETED),
	    tvp_st(d, TVM_VM, VM_ST_STOPPED), tvp_st(d, TVM_VM, VM_ST_NEW));
	/*
	 * Against vacuity: claims that must be violated, i.e. states that
	 * must be reachable, or the claims above say nothing (a world that
	 * never lets the task reach CREATED makes exit_published true).
	 */
	fprintf(f, "/* reach_*: must FAIL (t_spin.sh): it gets there. */\n"
	    "ltl reach_task_exit { [] !(started && exits > 0) }\n"
	    "ltl reach_exec_exit { [] !(exec_started && exec_exits > 0) }\n"
	    "ltl reach_exec_freed { [] !(exec == 2) }\n"
	    "ltl reach_deleted { [] !(task_st == task_S_%s && vm_st == "
	    "vm_S_%s) }\n", tvp_st(d, TVM_TASK, TASK_ST_DELETED),
	    tvp_st(d, TVM_VM, VM_ST_STOPPED));
}

void
task_vm_promela(const struct model_defs *d, FILE *f)
{
	struct fsm_promela_opts o = { .fallible = tvp_fallible,
	    .effects = tvp_effects, .guard = tvp_guard };
	int m;

	o.arg = (void *)(uintptr_t)d;
	fprintf(f, "/*\n * Generated by `kiln-fsmcheck --promela` from the "
	    "linked task v%u, vm v%u and\n * exec v%u tables and the "
	    "environment of core/task_vm_model.c.%s\n * Do not edit.\n */\n",
	    d->task->version, d->vm->version, d->exec->version,
	    d->broken_exec_news ? "\n * BROKEN on purpose (test only): "
	    "on_stopped tells the exec only\n * while the task is "
	    "CREATING..RESUMING." : "");
	fsm_promela_prelude(f);
	/* The effects name the other machines' ids: all come first. */
	for (m = 0; m < TVM__COUNT; m++)
		fsm_promela_ids(tvm_def(d, m), tvp_prefix[m], f);
	tvp_globals(d, f);
	for (m = 0; m < TVM__COUNT; m++)
		fsm_promela_machine(tvm_def(d, m), tvp_prefix[m], &o, f);
	tvp_invariants(d, f);
	tvp_drain(d, f);
	tvp_world(d, f);
	tvp_fair(d, f);
	tvp_claims(d, f);
}

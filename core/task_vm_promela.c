/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The task x VM product of task_vm_model.c as Promela, for SPIN
 * (kiln-fsmcheck --promela, tests/e2e/t_spin.sh). The two machines are the
 * real tables through fsm_promela_machine(); what is written here is only
 * what task_vm_model.c models by hand, mirrored rule for rule: the effects
 * of the actions (task_effects, vm_effects), which outside events the
 * world may send (world_sends_task, world_sends_vm, model_answered) and
 * the invariants (model_violation). Keep the two files in step.
 *
 * Unlike the C explorer this one has no depth bound and checks liveness
 * under weak fairness (pan -a -f) of what the specs assume fair: timers,
 * deferred callbacks, and QEMU exiting once it was SIGKILLed. The world
 * (containerd, the agent, QEMU) is one unfair process: it may stay silent.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/core_int.h"
#include "core/task_vm_model.h"

#define TVP_QMAX	3	/* QMAX of task_vm_model.c */
#define TVP_VM_TAG	128	/* QI_VM: an internal post to the VM */

static const char *
tev(int e)
{
	return fsm_event_name(&task_fsm_def, e);
}

static const char *
vev(int e)
{
	return fsm_event_name(&vm_fsm_def, e);
}

static bool
tvp_action_is(const struct fsm_row *r, const char *name)
{
	return r->action != NULL && strcmp(r->action_name, name) == 0;
}

static bool
tvp_fallible(const struct fsm_row *r, void *arg)
{
	(void)arg;
	return task_vm_model_fallible(r);
}

/* task_effects: vm_start/vm_stop post to the VM, TaskExit is counted. */
static void
tvp_task_effects(const struct fsm_row *r, FILE *f)
{
	if (tvp_action_is(r, "task_act_create"))
		fprintf(f, "\t\tpend_rootfs = true;\n");
	if (tvp_action_is(r, "task_act_boot"))
		fprintf(f, "\t\tpost_i(%d + vm_E_%s);\n", TVP_VM_TAG,
		    vev(VM_EV_SPAWN));
	if (tvp_action_is(r, "task_act_create_failed") ||
	    tvp_action_is(r, "task_act_delete"))
		fprintf(f, "\t\tif\n\t\t:: vm_st == vm_S_STOPPED -> "
		    "post_i(task_E_%s)\n\t\t:: else -> stop_requested = true; "
		    "post_i(%d + vm_E_%s)\n\t\tfi;\n", tev(TASK_EV_VM_STOPPED),
		    TVP_VM_TAG, vev(VM_EV_STOP));
	if (tvp_action_is(r, "task_act_deleted"))
		fprintf(f, "\t\tif\n\t\t:: vm_st != vm_S_STOPPED -> "
		    "stop_requested = true; post_i(%d + vm_E_%s)\n"
		    "\t\t:: else -> skip\n\t\tfi;\n", TVP_VM_TAG,
		    vev(VM_EV_STOP));
	if (tvp_action_is(r, "task_act_stopped") ||
	    tvp_action_is(r, "task_act_vm_died"))
		fprintf(f, "\t\texits++;\n");
	if (tvp_action_is(r, "task_act_agent_create"))
		fprintf(f, "\t\tpend_create = true; pend_wait = true;\n");
	if (tvp_action_is(r, "task_act_start") ||
	    tvp_action_is(r, "task_act_pause") ||
	    tvp_action_is(r, "task_act_resume"))
		fprintf(f, "\t\tpend_start = true;\n");
}

/* vm_effects: the VM tells the task through deferred callbacks. */
static void
tvp_vm_effects(const struct fsm_row *r, FILE *f)
{
	if (tvp_action_is(r, "vm_act_ready"))
		fprintf(f, "\t\tpost_t(task_E_%s);\n", tev(TASK_EV_VM_READY));
	if (tvp_action_is(r, "vm_act_stopped"))
		fprintf(f, "\t\tif\n\t\t:: stop_requested -> post_t(task_E_%s)\n"
		    "\t\t:: else -> post_t(task_E_%s)\n\t\tfi;\n",
		    tev(TASK_EV_VM_STOPPED), tev(TASK_EV_VM_DIED));
	/* For the fairness of "a SIGKILLed QEMU exits" only. */
	if (tvp_action_is(r, "vm_act_kill"))
		fprintf(f, "\t\tkilled = true;\n");
}

static void
tvp_effects(const struct fsm_def *def, const struct fsm_row *r, FILE *f,
    void *arg)
{
	const struct model_defs *d = arg;

	if (def == d->task)
		tvp_task_effects(r, f);
	else
		tvp_vm_effects(r, f);
}

/* The queues, the counters and the helpers the effects call. */
static void
tvp_globals(FILE *f)
{
	fprintf(f, "chan qi = [%d] of { byte };\t/* fsm_post inside a "
	    "dispatch */\nchan qt = [%d] of { byte };\t/* deferred to the "
	    "task */\n", TVP_QMAX, TVP_QMAX);
	fprintf(f, "byte exits, news;\t/* TaskExits; VM_DIED/VM_STOPPED in qt "
	    "*/\nbool stop_requested, lost, pend_create, pend_start, "
	    "pend_wait, pend_rootfs;\n/* Ghosts for the claims. */\nbool started, killed;\n"
	    "byte x;\n\n");
	fprintf(f, "/* More in flight than modelled is flagged (q_push). */\n"
	    "inline post_i(ev) {\n\tif\n\t:: nfull(qi) -> qi ! ev\n"
	    "\t:: full(qi) -> lost = true\n\tfi\n}\n\n"
	    "inline post_t(ev) {\n\tif\n\t:: nfull(qt) -> qt ! ev;\n"
	    "\t\tif\n\t\t:: ev == task_E_%s || ev == task_E_%s -> news++\n"
	    "\t\t:: else -> skip\n\t\tfi\n"
	    "\t:: full(qt) -> lost = true\n\tfi\n}\n\n",
	    tev(TASK_EV_VM_DIED), tev(TASK_EV_VM_STOPPED));
}

static void
tvp_state_set(const struct fsm_def *def, const char *p, const int *st,
    size_t n, FILE *f)
{
	size_t i;

	fprintf(f, "(false");
	for (i = 0; i < n; i++)
		fprintf(f, " || %sst == %sS_%s", p, p,
		    fsm_state_name(def, st[i]));
	fprintf(f, ")");
}

/* model_violation, checked between steps (qi is empty then). */
static void
tvp_invariants(FILE *f)
{
	static const int live[] = { TASK_ST_CREATING, TASK_ST_CREATED,
	    TASK_ST_STARTING, TASK_ST_RUNNING, TASK_ST_PAUSING,
	    TASK_ST_PAUSED, TASK_ST_RESUMING };

	fprintf(f, "#define TASK_LIVE\t");
	tvp_state_set(&task_fsm_def, "task_", live, ARRAY_SIZE(live), f);
	fprintf(f, "\n\ninline invariants() {\n\td_step {\n"
	    "\t\tassert(exits <= 1);\t/* ExitPublishedOnce */\n"
	    "\t\tassert(!(vm_st == vm_S_STOPPED && news == 0 && TASK_LIVE));"
	    "\t/* NoRunningTaskWithStoppedVM */\n"
	    "\t\tassert(!(task_st == task_S_DELETED && vm_st != vm_S_STOPPED "
	    "&&\n\t\t    vm_st != vm_S_NEW && !stop_requested));"
	    "\t/* DeleteStopsVM */\n"
	    "\t\tassert(!lost && !task_lost && !vm_lost);"
	    "\t/* NoLostMessage */\n"
	    "\t\tif\n\t\t:: task_st == task_S_%s -> started = true\n"
	    "\t\t:: else -> skip\n\t\tfi\n\t}\n}\n\n",
	    fsm_state_name(&task_fsm_def, TASK_ST_RUNNING));
}

/*
 * Run-to-completion: failure events first, then qi FIFO, to the end. Each
 * dispatch inline is written out once here and once in step(): SPIN's
 * simulator (the trail replay) slows down badly with many copies.
 */
static void
tvp_drain(FILE *f)
{
	fprintf(f, "byte dm, de;\t/* the drained event: machine, id */\n"
	    "inline drain_one() {\n\tif\n"
	    "\t:: task_fail -> task_fail = false; dm = 0; de = task_E_%s\n"
	    "\t:: vm_fail -> vm_fail = false; dm = 1; de = vm_E_%s\n"
	    "\t:: !task_fail && !vm_fail && nempty(qi) -> qi ? x;\n"
	    "\t\tif\n\t\t:: x >= %d -> dm = 1; de = x - %d\n"
	    "\t\t:: else -> dm = 0; de = x\n\t\tfi;\n\t\tx = 0\n"
	    "\tfi;\n"
	    "\tif\n\t:: dm == 0 -> task_dispatch(de, false, true)\n"
	    "\t:: else -> vm_dispatch(de, false, true)\n\tfi;\n"
	    "\tdm = 0; de = 0\n}\n\n",
	    tev(TASK_EV_FAIL), vev(VM_EV_FAIL), TVP_VM_TAG, TVP_VM_TAG);
	fprintf(f, "/* One step: the event, everything it posts, the invariants. "
	    "*/\ninline step(m, ev, inner) {\n"
	    "\tif\n\t:: m == 0 -> task_dispatch(ev, true, inner)\n"
	    "\t:: else -> vm_dispatch(ev, true, inner)\n\tfi;\n"
	    "\tdo\n\t:: task_fail || vm_fail || nempty(qi) -> drain_one()\n"
	    "\t:: else -> break\n\tod;\n\tinvariants()\n}\n\n");
}

/* model_answered, then the dispatch of an agent reply. */
static void
tvp_world_task(FILE *f)
{
	fprintf(f, "#define CHAN_OPEN\t(vm_st == vm_S_%s || vm_st == vm_S_%s)\n"
	    "#define QEMU_RUNS\t(vm_st != vm_S_%s && vm_st != vm_S_%s)\n\n",
	    fsm_state_name(&vm_fsm_def, VM_ST_READY),
	    fsm_state_name(&vm_fsm_def, VM_ST_STOPPING),
	    fsm_state_name(&vm_fsm_def, VM_ST_NEW),
	    fsm_state_name(&vm_fsm_def, VM_ST_STOPPED));
	fprintf(f, "/* world_sends_task and world_sends_vm: containerd may "
	    "call anything;\n * the agent answers only what was asked, while "
	    "its channel is open. */\n"
	    "byte wm, we;\nactive proctype world() {\nend:\n\tdo\n"
	    "\t:: atomic {\n\t\tif\n");
	fprintf(f, "\t\t:: we = task_E_%s\n\t\t:: we = task_E_%s\n"
	    "\t\t:: we = task_E_%s\n\t\t:: we = task_E_%s\n"
	    "\t\t:: we = task_E_%s\n\t\t:: we = task_E_%s\n",
	    tev(TASK_EV_CREATE), tev(TASK_EV_START), tev(TASK_EV_KILL),
	    tev(TASK_EV_DELETE), tev(TASK_EV_PAUSE), tev(TASK_EV_RESUME));
	fprintf(f, "\t\t:: pend_rootfs -> pend_rootfs = false; we = task_E_%s\n"
	    "\t\t:: pend_rootfs -> pend_rootfs = false; we = task_E_%s\n",
	    tev(TASK_EV_ROOTFS_READY), tev(TASK_EV_ROOTFS_FAILED));
	fprintf(f, "\t\t:: pend_create && CHAN_OPEN -> pend_create = false;\n"
	    "\t\t\twe = task_E_%s\n", tev(TASK_EV_AGENT_CREATED));
	fprintf(f, "\t\t:: pend_start && CHAN_OPEN -> pend_start = false;\n"
	    "\t\t\twe = task_E_%s\n", tev(TASK_EV_AGENT_STARTED));
	fprintf(f, "\t\t:: pend_start && CHAN_OPEN -> pend_start = false;\n"
	    "\t\t\twe = task_E_%s\n", tev(TASK_EV_AGENT_PAUSED));
	fprintf(f, "\t\t:: pend_start && CHAN_OPEN -> pend_start = false;\n"
	    "\t\t\twe = task_E_%s\n", tev(TASK_EV_AGENT_RESUMED));
	fprintf(f, "\t\t:: pend_create -> pend_create = false; we = task_E_%s\n"
	    "\t\t:: !pend_create && pend_start -> pend_start = false;\n"
	    "\t\t\twe = task_E_%s\n", tev(TASK_EV_AGENT_FAILED),
	    tev(TASK_EV_AGENT_FAILED));
	fprintf(f, "\t\t:: pend_wait && CHAN_OPEN -> pend_wait = false;\n"
	    "\t\t\twe = task_E_%s\n", tev(TASK_EV_EXITED));
	fprintf(f, "\t\t:: task_st == task_S_%s -> we = task_E_%s\n",
	    fsm_state_name(&task_fsm_def, TASK_ST_EXITING),
	    tev(TASK_EV_IO_DRAINED));
	fprintf(f, "\t\t:: QEMU_RUNS -> wm = 1; we = vm_E_%s\n"
	    "\t\t:: QEMU_RUNS -> wm = 1; we = vm_E_%s\n"
	    "\t\t:: QEMU_RUNS -> wm = 1; we = vm_E_%s\n"
	    "\t\t:: QEMU_RUNS -> wm = 1; we = vm_E_%s\n\t\tfi;\n"
	    "\t\tstep(wm, we, false); wm = 0; we = 0\n\t}\n\tod\n}\n\n",
	    vev(VM_EV_QMP_READY), vev(VM_EV_AGENT_READY),
	    vev(VM_EV_AGENT_LOST), vev(VM_EV_QEMU_EXITED));
}

/* What the specs assume fair, each its own process for pan -f. */
static void
tvp_fair(FILE *f)
{
	fprintf(f, "/* The deferred callbacks run, in order. */\n"
	    "active proctype deferred() {\nend:\n\tdo\n"
	    "\t:: atomic { nempty(qt) -> qt ? x;\n"
	    "\t\tif\n\t\t:: x == task_E_%s || x == task_E_%s -> news--\n"
	    "\t\t:: else -> skip\n\t\tfi;\n"
	    "\t\tstep(0, x, true); x = 0 }\n\tod\n}\n\n",
	    tev(TASK_EV_VM_DIED), tev(TASK_EV_VM_STOPPED));
	fprintf(f, "/* Timers are armed exactly in the waiting states. */\n"
	    "active proctype task_timer() {\nend:\n\tdo\n"
	    "\t:: atomic { task_WAITING(task_st) -> "
	    "step(0, task_E_%s, false) }\n\tod\n}\n\n"
	    "active proctype vm_timer() {\nend:\n\tdo\n"
	    "\t:: atomic { vm_WAITING(vm_st) -> step(1, vm_E_%s, false) }\n"
	    "\tod\n}\n\n",
	    tev(TASK_EV_TIMEOUT), vev(VM_EV_TIMEOUT));
	fprintf(f, "/* A SIGKILLed QEMU exits. */\n"
	    "active proctype qemu() {\nend:\n\tdo\n"
	    "\t:: atomic { killed && QEMU_RUNS -> killed = false;\n"
	    "\t\tstep(1, vm_E_%s, false) }\n\tod\n}\n\n",
	    vev(VM_EV_QEMU_EXITED));
}

static void
tvp_claims(FILE *f)
{
	fprintf(f, "/* A started task's exit is published once its VM is gone. "
	    "*/\nltl exit_published {\n\t[] ((started && vm_st == vm_S_%s) -> "
	    "<> (exits > 0))\n}\n",
	    fsm_state_name(&vm_fsm_def, VM_ST_STOPPED));
	fprintf(f, "/* Delete eventually stops the VM (or none was made). */\n"
	    "ltl delete_stops_vm {\n\t[] ((task_st == task_S_%s || task_st == "
	    "task_S_%s) ->\n\t    <> (vm_st == vm_S_%s || vm_st == vm_S_%s))\n"
	    "}\n", fsm_state_name(&task_fsm_def, TASK_ST_DELETING),
	    fsm_state_name(&task_fsm_def, TASK_ST_DELETED),
	    fsm_state_name(&vm_fsm_def, VM_ST_STOPPED),
	    fsm_state_name(&vm_fsm_def, VM_ST_NEW));
}

void
task_vm_promela(const struct model_defs *d, FILE *f)
{
	struct fsm_promela_opts o = { tvp_fallible, tvp_effects, NULL };

	o.arg = (void *)(uintptr_t)d;
	fprintf(f, "/*\n * Generated by `kiln-fsmcheck --promela` from the "
	    "linked task v%u and vm v%u\n * tables and core/task_vm_promela.c "
	    "(the environment of task_vm_model.c).\n * Do not edit.\n */\n",
	    d->task->version, d->vm->version);
	fsm_promela_prelude(f);
	/* The effects name the other machine's ids: both come first. */
	fsm_promela_ids(d->task, "task_", f);
	fsm_promela_ids(d->vm, "vm_", f);
	tvp_globals(f);
	fsm_promela_machine(d->task, "task_", &o, f);
	fsm_promela_machine(d->vm, "vm_", &o, f);
	tvp_invariants(f);
	tvp_drain(f);
	tvp_world_task(f);
	tvp_fair(f);
	tvp_claims(f);
}

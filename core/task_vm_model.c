/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The task x VM x exec product, explored exhaustively on the real tables
 * (kiln-fsmcheck). Each machine's rows are used as they are; what the code
 * around them does is written here once, as data, by action name: which
 * requests an action sends another machine or the agent (tvm_effects),
 * which outside events the world may send and when (tvm_rules), and the
 * guards that read what the model tracks (tvm_guards). task_vm_promela.c
 * writes the same tables as Promela for SPIN, so the two cannot drift.
 * Events from outside (containerd's calls, the agent's replies, QEMU's
 * exit, timers) arrive in any order the world allows; messages between
 * the machines queue FIFO, as fsm_post and the deferred callbacks do.
 * Other guards are free choices, and the fallible actions may fail.
 *
 * One exec is enough: execs never touch one another (each has its own
 * machine, agent calls, stdio and timer; none of its actions posts to the
 * task, the VM or another exec), and every exec property is about one
 * exec, so N execs are N interleaved copies of this one. The exec may be
 * made whenever h_exec allows it (the task's status is RUNNING), so every
 * moment of its life against the task's and the VM's is covered.
 *
 * Invariants, named as in tla/TaskVM.tla and tla/Exec.tla:
 *   ExitPublishedOnce           at most one TaskExit per task
 *   NoRunningTaskWithStoppedVM  a task is not CREATING..RESUMING while its
 *                               VM is STOPPED and no news is on the way
 *   DeleteStopsVM               a DELETED task's VM is stopped, told to
 *                               stop, or was never spawned
 *   NoLostMessage               no message between the machines is
 *                               rejected, none overflows a queue
 *   ExecExitPublishedOnce       at most one TaskExit for the exec
 *   NoLiveExecWithStoppedVM     the exec is not ADDING..EXITING while the
 *                               VM is STOPPED and no news is on the way
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/core_int.h"
#include "core/task_vm_model.h"

#define QMAX	3
#define QI_EV	0x3f	/* qi entries: machine << 6 | event */

#define TVM_X_NAME(id, name)	#name,
const char *const tvm_var_names[TVM__NVARS] = { NULL,
	TVM_VARS(TVM_X_NAME) };
#undef TVM_X_NAME

#define V(x)	TVM_V_##x
#define TE(x)	TASK_EV_##x
#define VE(x)	VM_EV_##x
#define XE(x)	EXEC_EV_##x

/* What the code around the actions does (core/task.c, vm.c, exec.c). */
const struct tvm_effect tvm_effects[] = {
	/* Create builds the rootfs image (9p: ready at once); then boot. */
	{ TVM_TASK, "task_act_create", TVM_SET, V(PEND_ROOTFS), 1, 0 },
	{ TVM_TASK, "task_act_boot", TVM_POST, TVM_VM, VE(SPAWN), 0 },
	{ TVM_TASK, "task_act_create_failed", TVM_STOP_VM, 0, 0, 0 },
	{ TVM_TASK, "task_act_net_failed_create", TVM_STOP_VM, 0, 0, 0 },
	{ TVM_TASK, "task_act_delete", TVM_STOP_VM, 0, 0, 0 },
	{ TVM_TASK, "task_act_deleted", TVM_KILL_VM, 0, 0, 0 },
	{ TVM_TASK, "task_act_stopped", TVM_INC, V(EXITS), 0, 0 },
	{ TVM_TASK, "task_act_vm_died", TVM_INC, V(EXITS), 0, 0 },
	/* CreateContainer and WaitProcess go out; StartProcess likewise. */
	{ TVM_TASK, "task_act_agent_create", TVM_SET, V(PEND_CREATE), 1, 0 },
	{ TVM_TASK, "task_act_agent_create", TVM_SET, V(PEND_WAIT), 1, 0 },
	/* Wiring answers with NET_READY or NET_FAILED, once. */
	{ TVM_TASK, "task_act_wire", TVM_SET, V(PEND_NET), 1, 0 },
	{ TVM_TASK, "task_act_create_hooks", TVM_SET, V(PEND_HOOKS), 1, 0 },
	{ TVM_TASK, "task_act_poststop", TVM_SET, V(PEND_HOOKS), 1, 0 },
	{ TVM_TASK, "task_act_start", TVM_SET, V(PEND_START), 1, 0 },
	{ TVM_TASK, "task_act_pause", TVM_SET, V(PEND_START), 1, 0 },
	{ TVM_TASK, "task_act_resume", TVM_SET, V(PEND_START), 1, 0 },
	/* The VM tells the task through deferred callbacks. */
	{ TVM_VM, "vm_act_ready", TVM_DEFER, 0, TE(VM_READY), 0 },
	{ TVM_VM, "vm_act_stopped", TVM_DEFER_STOPPED, 0, 0, 0 },
	{ TVM_VM, "vm_act_kill", TVM_SET, V(KILLED), 1, 0 },
	/* exec_do_add posts AGENT_FAILED itself when there is no channel. */
	{ TVM_EXEC, "exec_act_add", TVM_CALL, V(EXEC_OP), 1, XE(AGENT_FAILED) },
	{ TVM_EXEC, "exec_act_added", TVM_SET, V(EXEC_WAIT), 1, 0 },
	{ TVM_EXEC, "exec_act_start", TVM_SET, V(EXEC_OP), 2, 0 },
	{ TVM_EXEC, "exec_act_stopped", TVM_INC, V(EXEC_EXITS), 0, 0 },
	{ TVM_EXEC, "exec_act_vm_died", TVM_INC, V(EXEC_EXITS), 0, 0 },
	{ TVM_EXEC, "exec_act_add_failed", TVM_DEFER_FREE, 0, 0, 0 },
	{ TVM_EXEC, "exec_act_deleted", TVM_DEFER_FREE, 0, 0, 0 },
};
const size_t tvm_neffects = ARRAY_SIZE(tvm_effects);

#define TS(x)	FSM_BIT(TASK_ST_##x)
#define XS(x)	FSM_BIT(EXEC_ST_##x)

const uint64_t tvm_task_live = TS(CREATING) | TS(CREATED) | TS(STARTING) |
    TS(RUNNING) | TS(PAUSING) | TS(PAUSED) | TS(RESUMING);
/* task_status() RUNNING: the states in which h_exec makes an exec. */
const uint64_t tvm_task_running = TS(STARTING) | TS(RUNNING) |
    TS(EXITING);
const uint64_t tvm_exec_live = XS(ADDING) | XS(CREATED) | XS(STARTING) |
    XS(RUNNING) | XS(EXITING);

/*
 * The world. containerd may call anything (an exec's calls once it
 * exists); the agent answers only what was asked, while its channel is
 * open, and any call may fail (a closed channel fails them all); QEMU's
 * news comes while it runs.
 */
#define CALL(e)		{ TVM_TASK, TE(e), .who = "containerd" }
#define ANSWER(m, e, v, c) \
	{ m, e, .var = V(v), .chan = c, .clear = V(v), .who = "agent" }
#define QEMU(e)		{ TVM_VM, VE(e), .qemu = true, .who = "qemu" }
#define XCALL(e)	{ TVM_EXEC, XE(e), .var = V(EXEC), .val = 1, \
			  .who = "containerd" }
const struct tvm_rule tvm_rules[] = {
	CALL(CREATE), CALL(START), CALL(KILL), CALL(DELETE), CALL(PAUSE),
	CALL(RESUME),
	ANSWER(TVM_TASK, TE(AGENT_CREATED), PEND_CREATE, true),
	ANSWER(TVM_TASK, TE(AGENT_STARTED), PEND_START, true),
	ANSWER(TVM_TASK, TE(AGENT_PAUSED), PEND_START, true),
	ANSWER(TVM_TASK, TE(AGENT_RESUMED), PEND_START, true),
	ANSWER(TVM_TASK, TE(AGENT_FAILED), PEND_CREATE, false),
	{ TVM_TASK, TE(AGENT_FAILED), .var = V(PEND_START),
	  .unless = V(PEND_CREATE), .clear = V(PEND_START), .who = "agent" },
	{ TVM_TASK, TE(EXITED), .var = V(PEND_WAIT), .chan = true,
	  .clear = V(PEND_WAIT), .set = V(TEXITED), .setval = 1,
	  .who = "agent" },
	ANSWER(TVM_TASK, TE(NET_READY), PEND_NET, false),
	ANSWER(TVM_TASK, TE(NET_FAILED), PEND_NET, false),
	ANSWER(TVM_TASK, TE(HOOKS_DONE), PEND_HOOKS, false),
	ANSWER(TVM_TASK, TE(HOOKS_FAILED), PEND_HOOKS, false),
	ANSWER(TVM_TASK, TE(ROOTFS_READY), PEND_ROOTFS, false),
	ANSWER(TVM_TASK, TE(ROOTFS_FAILED), PEND_ROOTFS, false),
	{ TVM_TASK, TE(IO_DRAINED), .in = TVM_TASK, .mask = TS(EXITING),
	  .who = "stdio" },
	QEMU(QMP_READY), QEMU(AGENT_READY), QEMU(AGENT_LOST), QEMU(MIGRATED),
	QEMU(MIGRATE_FAILED), QEMU(CLOCK_SET), QEMU(CLOCK_FAILED),
	{ TVM_VM, VE(QEMU_EXITED), .qemu = true, .clear = V(KILLED),
	  .who = "qemu" },
	/* h_exec: only while task_status() is RUNNING; ADD at once. */
	{ TVM_EXEC, XE(ADD), .unless = V(EXEC), .in = TVM_TASK,
	  .mask = TS(STARTING) | TS(RUNNING) | TS(EXITING), .set = V(EXEC),
	  .setval = 1, .who = "containerd" },
	XCALL(START), XCALL(KILL), XCALL(DELETE),
	{ TVM_EXEC, XE(AGENT_ADDED), .var = V(EXEC_OP), .val = 1,
	  .chan = true, .clear = V(EXEC_OP), .who = "agent" },
	{ TVM_EXEC, XE(AGENT_STARTED), .var = V(EXEC_OP), .val = 2,
	  .chan = true, .clear = V(EXEC_OP), .who = "agent" },
	ANSWER(TVM_EXEC, XE(AGENT_FAILED), EXEC_OP, false),
	{ TVM_EXEC, XE(EXITED), .var = V(EXEC_WAIT), .chan = true,
	  .clear = V(EXEC_WAIT), .set = V(EEXITED), .setval = 1,
	  .who = "agent" },
	{ TVM_EXEC, XE(IO_DRAINED), .var = V(EXEC), .val = 1,
	  .in = TVM_EXEC, .mask = XS(EXITING), .who = "stdio" },
};
const size_t tvm_nrules = ARRAY_SIZE(tvm_rules);
#undef CALL
#undef ANSWER
#undef QEMU
#undef XCALL

/* Both read exited_ns, which in STARTING is set iff EXITED came. */
const struct tvm_guard tvm_guards[] = {
	{ TVM_TASK, "task_guard_exited", V(TEXITED) },
	{ TVM_EXEC, "exec_guard_exited", V(EEXITED) },
};
const size_t tvm_nguards = ARRAY_SIZE(tvm_guards);

/* One product state; small and plain so it can be hashed and compared. */
struct ms {
	uint8_t	st[TVM__COUNT];
	uint8_t	qt[QMAX], nqt;		/* the deferred callbacks, FIFO */
	/*
	 * Posted inside a dispatch (fsm_post): they run before the outer
	 * dispatch returns, before anything else. machine << 6 | event.
	 */
	uint8_t	qi[QMAX], nqi;
	uint8_t	v[TVM__NVARS];
	uint8_t	lost;			/* a posted message was rejected */
};

struct node {
	struct ms	 s;
	int		 parent;
	char		 step[96];	/* "machine FROM --EVENT--> TO" */
	int		 depth;
};

struct model {
	const struct model_defs	*d;
	struct node		*nodes;
	size_t			 n, cap;
	int			*hash;		/* open addressing into nodes */
	size_t			 hcap;
	uint64_t		 transitions;
	int			 max_depth;
	int			 bad;		/* node index of a violation */
	const char		*violated;
};

const struct fsm_def *
tvm_def(const struct model_defs *d, int m)
{
	switch ((enum tvm_machine)m) {
	case TVM_TASK:
		return d->task;
	case TVM_VM:
		return d->vm;
	case TVM_EXEC:
		return d->exec;
	case TVM__COUNT:
		break;
	}
	fatalx("%s: machine %d", __func__, m);
}

static uint64_t
ms_hash(const struct ms *s)
{
	const uint8_t *p = (const uint8_t *)s;
	uint64_t h = 1469598103934665603ull;
	size_t i;

	for (i = 0; i < sizeof *s; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

/* Index of s if seen, else -1 (and the free slot in *slot). */
static int
model_find(struct model *m, const struct ms *s, size_t *slot)
{
	size_t i = ms_hash(s) & (m->hcap - 1);

	while (m->hash[i] >= 0) {
		if (memcmp(&m->nodes[m->hash[i]].s, s, sizeof *s) == 0)
			return m->hash[i];
		i = (i + 1) & (m->hcap - 1);
	}
	*slot = i;
	return -1;
}

static void
model_grow(struct model *m)
{
	size_t i, slot;

	free(m->hash);
	m->hcap *= 2;
	m->hash = xcalloc(m->hcap, sizeof *m->hash);
	for (i = 0; i < m->hcap; i++)
		m->hash[i] = -1;
	for (i = 0; i < m->n; i++)
		if (model_find(m, &m->nodes[i].s, &slot) < 0)
			m->hash[slot] = (int)i;
}

static int
model_add(struct model *m, const struct ms *s, int parent, const char *step)
{
	size_t slot;
	int idx;

	if (m->n * 2 >= m->hcap)
		model_grow(m);
	if ((idx = model_find(m, s, &slot)) >= 0)
		return -1;
	if (m->n == m->cap) {
		m->cap = m->cap == 0 ? 1024 : m->cap * 2;
		m->nodes = xreallocarray(m->nodes, m->cap, sizeof *m->nodes);
	}
	m->nodes[m->n].s = *s;
	m->nodes[m->n].parent = parent;
	m->nodes[m->n].depth = parent >= 0 ? m->nodes[parent].depth + 1 : 0;
	snprintf(m->nodes[m->n].step, sizeof m->nodes[m->n].step, "%s", step);
	m->hash[slot] = (int)m->n;
	return (int)m->n++;
}

/* More in flight than modelled is flagged, never dropped silently. */
static void
q_push(uint8_t *q, uint8_t *n, int ev, struct ms *s)
{
	if (*n < QMAX)
		q[(*n)++] = (uint8_t)ev;
	else
		s->lost = 1;
}

static void
qi_push(struct ms *s, int m, int ev)
{
	q_push(s->qi, &s->nqi, m << 6 | ev, s);
}

static bool
action_is(const struct fsm_row *r, const char *name)
{
	return r->action != NULL && strcmp(r->action_name, name) == 0;
}

/*
 * The actions whose C function can return an error (the others always
 * return 0): only these are explored failing.
 */
bool
task_vm_model_fallible(const struct fsm_row *r)
{
	static const char *const fallible[] = { "task_act_create",
	    "task_act_start", "task_act_kill", "task_act_kill_finished",
	    "task_act_pause", "task_act_resume", "vm_act_spawn",
	    "exec_act_start", "exec_act_kill", "exec_act_kill_unstarted",
	    "exec_act_kill_finished" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fallible); i++)
		if (action_is(r, fallible[i]))
			return true;
	return false;
}

/* The agent channel: up from READY until QEMU is gone. */
static bool
chan_open(const struct ms *s)
{
	return s->st[TVM_VM] == VM_ST_READY || s->st[TVM_VM] == VM_ST_STOPPING;
}

static bool
qemu_runs(const struct ms *s)
{
	return s->st[TVM_VM] != VM_ST_NEW && s->st[TVM_VM] != VM_ST_STOPPED;
}

/* Row r of machine m fired: the effects tvm_effects lists for it. */
static void
tvm_apply(int m, const struct fsm_row *r, struct ms *s)
{
	const struct tvm_effect *e;
	size_t i;

	for (i = 0; i < tvm_neffects; i++) {
		e = &tvm_effects[i];
		if ((int)e->m != m || !action_is(r, e->action))
			continue;
		switch (e->op) {
		case TVM_SET:
			s->v[e->a] = (uint8_t)e->b;
			break;
		case TVM_INC:
			s->v[e->a]++;
			break;
		case TVM_POST:
			qi_push(s, e->a, e->b);
			break;
		case TVM_CALL:
			if (chan_open(s))
				s->v[e->a] = (uint8_t)e->b;
			else
				qi_push(s, m, e->c);
			break;
		case TVM_STOP_VM:
			if (s->st[TVM_VM] == VM_ST_STOPPED)
				qi_push(s, TVM_TASK, TASK_EV_VM_STOPPED);
			else {
				s->v[V(STOP_REQ)] = 1;
				qi_push(s, TVM_VM, VM_EV_STOP);
			}
			break;
		case TVM_KILL_VM:
			/* vm_kill: SIGKILL first, then STOP. */
			if (s->st[TVM_VM] != VM_ST_STOPPED) {
				s->v[V(STOP_REQ)] = 1;
				if (qemu_runs(s))
					s->v[V(KILLED)] = 1;
				qi_push(s, TVM_VM, VM_EV_STOP);
			}
			break;
		case TVM_DEFER:
			q_push(s->qt, &s->nqt, e->b, s);
			break;
		case TVM_DEFER_STOPPED:
			q_push(s->qt, &s->nqt, s->v[V(STOP_REQ)] ?
			    TASK_EV_VM_STOPPED : TASK_EV_VM_DIED, s);
			break;
		case TVM_DEFER_FREE:
			q_push(s->qt, &s->nqt, TVM_Q_FREE, s);
			break;
		}
	}
}

/* The variable a guard reads, or TVM_V_NONE: a free choice. */
static int
tvm_guard_var(int m, const struct fsm_row *r)
{
	size_t i;

	if (r->guard == NULL)
		return TVM_V_NONE;
	for (i = 0; i < tvm_nguards; i++)
		if ((int)tvm_guards[i].m == m &&
		    strcmp(tvm_guards[i].guard, r->guard_name) == 0)
			return tvm_guards[i].var;
	return TVM_V_NONE;
}

/* One step's context while the choices of a dispatch are enumerated. */
struct step {
	struct model	*m;
	int		 parent;
	struct ms	 base;		/* state before, event dequeued */
	int		 mach;
	bool		 internal;	/* from another machine */
	int		 event;
	bool		 any;
	bool		 decided;	/* a guard the model reads held */
	int		 failing_from;
};

static void
step_emit(struct step *st, struct ms *s, int from, int to, const char *res)
{
	const struct fsm_def *d = tvm_def(st->m->d, st->mach);
	char label[96];

	snprintf(label, sizeof label, "%s %s --%s--> %s %s", d->name,
	    fsm_state_name(d, from), fsm_event_name(d, st->event),
	    fsm_state_name(d, to), res);
	st->m->transitions++;
	(void)model_add(st->m, s, st->parent, label);
}

/* The failure event's row after a failed action. */
static void
step_fail_row(const struct fsm_row *r, int row, void *arg)
{
	struct step *st = arg;
	struct ms s = st->base;

	(void)row;
	s.st[st->mach] = (uint8_t)fsm_row_target(r, st->failing_from);
	tvm_apply(st->mach, r, &s);
	step_emit(st, &s, st->failing_from, s.st[st->mach],
	    "failed, then FAIL");
}

/* A row fires: its target and effects; or its action fails. */
static void
step_row(const struct fsm_row *r, int row, void *arg)
{
	struct step *st = arg;
	const struct fsm_def *d = tvm_def(st->m->d, st->mach);
	struct ms s = st->base;
	int from, gv;

	(void)row;
	/* fsm_select: the first row whose guard holds wins. */
	if (st->decided)
		return;
	if ((gv = tvm_guard_var(st->mach, r)) != TVM_V_NONE) {
		if (st->base.v[gv] == 0)
			return;
		st->decided = true;
	}
	st->any = true;
	from = s.st[st->mach];
	s.st[st->mach] = (uint8_t)fsm_row_target(r, from);
	tvm_apply(st->mach, r, &s);
	step_emit(st, &s, from, s.st[st->mach], "ok");
	if (!task_vm_model_fallible(r) || d->fail_event == FSM_NONE ||
	    r->event == d->fail_event)
		return;
	/*
	 * The action fails: the state is kept and the failure event is
	 * dispatched before anything else (run-to-completion).
	 */
	st->failing_from = from;
	fsm_each_choice(d, from, d->fail_event, step_fail_row, st);
}

static void
step_dispatch(struct model *m, int parent, const struct ms *base, int mach,
    int event, bool internal)
{
	struct step st = { .m = m, .parent = parent, .base = *base,
	    .mach = mach, .internal = internal, .event = event };
	const struct fsm_def *d = tvm_def(m->d, mach);
	struct ms s;
	int state = base->st[mach];

	fsm_each_choice(d, state, event, step_row, &st);
	if (st.any)
		return;
	/* Rejected: harmless from outside, a lost message from inside. */
	s = *base;
	if (internal)
		s.lost = 1;
	step_emit(&st, &s, state, state, internal ? "rejected(lost)" :
	    "rejected");
}

/* Does the world's rule r allow its event in s? */
static bool
tvm_rule_holds(const struct tvm_rule *r, const struct ms *s)
{
	if (r->var != TVM_V_NONE && (r->val == 0 ? s->v[r->var] == 0 :
	    s->v[r->var] != r->val))
		return false;
	if (r->unless != TVM_V_NONE && s->v[r->unless] != 0)
		return false;
	if (r->chan && !chan_open(s))
		return false;
	if (r->qemu && !qemu_runs(s))
		return false;
	return r->mask == 0 || (r->mask & FSM_BIT(s->st[r->in])) != 0;
}

/* Is machine mach's timer armed (exactly in its waiting states)? */
static bool
timer_armed(const struct model_defs *d, const struct ms *s, int mach)
{
	if (mach == TVM_EXEC && s->v[V(EXEC)] != 1)
		return false;
	return (tvm_def(d, mach)->waiting & FSM_BIT(s->st[mach])) != 0;
}

static const char *
model_violation(const struct ms *s)
{
	bool news = false;
	int i;

	for (i = 0; i < s->nqt; i++)
		if (s->qt[i] == TASK_EV_VM_DIED ||
		    s->qt[i] == TASK_EV_VM_STOPPED)
			news = true;
	if (s->v[V(EXITS)] > 1)
		return "ExitPublishedOnce";
	if (s->st[TVM_VM] == VM_ST_STOPPED && !news &&
	    (tvm_task_live & FSM_BIT(s->st[TVM_TASK])) != 0)
		return "NoRunningTaskWithStoppedVM";
	/* A VM still NEW was never spawned: there is nothing to stop. */
	if (s->st[TVM_TASK] == TASK_ST_DELETED &&
	    s->st[TVM_VM] != VM_ST_STOPPED && s->st[TVM_VM] != VM_ST_NEW &&
	    !s->v[V(STOP_REQ)])
		return "DeleteStopsVM";
	if (s->lost)
		return "NoLostMessage";
	if (s->v[V(EXEC_EXITS)] > 1)
		return "ExecExitPublishedOnce";
	if (s->st[TVM_VM] == VM_ST_STOPPED && !news && s->v[V(EXEC)] == 1 &&
	    (tvm_exec_live & FSM_BIT(s->st[TVM_EXEC])) != 0)
		return "NoLiveExecWithStoppedVM";
	return NULL;
}

/*
 * The head of the deferred FIFO runs: exec_free_cb, on_stopped (which
 * posts VM_DIED to every exec of the task, then tells the task; both
 * drain before anything else), or on_ready.
 */
static void
model_deferred(struct model *m, int i, const struct ms *s)
{
	struct ms base = *s;
	int ev = s->qt[0];

	memmove(base.qt, base.qt + 1, --base.nqt);
	if (ev == TVM_Q_FREE) {
		/* exec_free cancels the agent calls still on the way. */
		base.v[V(EXEC)] = 2;
		base.v[V(EXEC_OP)] = base.v[V(EXEC_WAIT)] = 0;
		m->transitions++;
		(void)model_add(m, &base, i, "reactor exec_free_cb");
	} else if (ev == TASK_EV_VM_DIED || ev == TASK_EV_VM_STOPPED) {
		if (base.v[V(EXEC)] == 1 && (!m->d->broken_exec_news ||
		    (tvm_task_live & FSM_BIT(base.st[TVM_TASK])) != 0))
			qi_push(&base, TVM_EXEC, EXEC_EV_VM_DIED);
		qi_push(&base, TVM_TASK, ev);
		m->transitions++;
		(void)model_add(m, &base, i, "reactor task_vm_stopped_cb");
	} else
		step_dispatch(m, i, &base, TVM_TASK, ev, true);
}

/*
 * Expand node i: events posted inside the last dispatch first and alone;
 * otherwise the head of the deferred queue, any event the world may send,
 * or a timer.
 */
static void
model_expand(struct model *m, int i)
{
	struct ms s = m->nodes[i].s, base;
	const struct tvm_rule *r;
	size_t k;
	int mach;

	if (s.nqi > 0) {
		base = s;
		memmove(base.qi, base.qi + 1, --base.nqi);
		step_dispatch(m, i, &base, s.qi[0] >> 6, s.qi[0] & QI_EV,
		    true);
		return;
	}
	if (s.nqt > 0)
		model_deferred(m, i, &s);
	for (k = 0; k < tvm_nrules; k++) {
		r = &tvm_rules[k];
		if (!tvm_rule_holds(r, &s))
			continue;
		base = s;
		if (r->clear != TVM_V_NONE)
			base.v[r->clear] = 0;
		if (r->set != TVM_V_NONE)
			base.v[r->set] = (uint8_t)r->setval;
		step_dispatch(m, i, &base, r->m, r->event, false);
	}
	for (mach = 0; mach < TVM__COUNT; mach++)
		if (timer_armed(m->d, &s, mach))
			step_dispatch(m, i, &s, mach,
			    tvm_def(m->d, mach)->timeout_event, false);
}

/* The path from the initial state to node i, as trace JSON lines. */
static void
model_print_path(const struct model *m, int i, FILE *out)
{
	const struct ms *s;
	int path[256], n = 0, k;

	for (; i >= 0 && n < 256; i = m->nodes[i].parent)
		path[n++] = i;
	for (k = n - 2; k >= 0; k--) {
		s = &m->nodes[path[k]].s;
		fprintf(out, "{\"seq\":%d,\"model\":\"task_x_vm_x_exec\","
		    "\"step\":\"%s\",\"task\":\"%s\",\"vm\":\"%s\","
		    "\"exec\":\"%s\",\"exits\":%u,\"exec_exits\":%u}\n",
		    n - 1 - k, m->nodes[path[k]].step,
		    fsm_state_name(m->d->task, s->st[TVM_TASK]),
		    fsm_state_name(m->d->vm, s->st[TVM_VM]),
		    s->v[V(EXEC)] == 0 ? "none" : s->v[V(EXEC)] == 2 ?
		    "freed" : fsm_state_name(m->d->exec, s->st[TVM_EXEC]),
		    s->v[V(EXITS)], s->v[V(EXEC_EXITS)]);
	}
}

int
task_vm_model_check(const struct model_defs *d, int max_depth,
    struct model_stats *st, FILE *counterexample, struct err *err)
{
	struct model m = { .d = d, .max_depth = max_depth, .bad = -1 };
	struct ms init = { 0 };
	const char *v;
	size_t i;
	int k;

	for (k = 0; k < TVM__COUNT; k++) {
		/* qi packs machine << 6 | event. */
		if (tvm_def(d, k)->nevents > QI_EV)
			return err_set(err, EINVAL, "%s: too many events",
			    tvm_def(d, k)->name);
		init.st[k] = (uint8_t)tvm_def(d, k)->initial;
	}
	m.hcap = 1024;
	m.hash = xcalloc(m.hcap, sizeof *m.hash);
	for (i = 0; i < m.hcap; i++)
		m.hash[i] = -1;
	(void)model_add(&m, &init, -1, "init");
	for (i = 0; i < m.n && m.bad < 0; i++) {
		/* Invariants hold between dispatches, not inside one. */
		if (m.nodes[i].s.nqi == 0 &&
		    (v = model_violation(&m.nodes[i].s)) != NULL) {
			m.bad = (int)i;
			m.violated = v;
			break;
		}
		if (m.nodes[i].depth < max_depth)
			model_expand(&m, (int)i);
	}
	st->states = m.n;
	st->transitions = m.transitions;
	if (m.bad >= 0) {
		if (counterexample != NULL)
			model_print_path(&m, m.bad, counterexample);
		err_set(err, EINVAL, "task_x_vm_x_exec: %s violated after %d "
		    "steps", m.violated, m.nodes[m.bad].depth);
	}
	free(m.nodes);
	free(m.hash);
	return m.bad >= 0 ? -1 : 0;
}

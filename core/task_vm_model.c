/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The task x VM product, explored exhaustively on the real tables
 * (kiln-fsmcheck). Each machine's rows are used as they are; what the code
 * around them does is modelled here, by action name: which requests a
 * task action sends the VM (vm_start, vm_stop), what the VM tells the task
 * when it is ready or stopped, which actions publish a TaskExit. Events
 * from outside (containerd's calls, the agent's replies, QEMU's exit,
 * timers) arrive in any order the world allows; messages between the two
 * machines queue FIFO, as fsm_post and the deferred callbacks do. Guards
 * are free choices, and any action may fail.
 *
 * Invariants, named as in tla/TaskVM.tla:
 *   ExitPublishedOnce           at most one TaskExit per task
 *   NoRunningTaskWithStoppedVM  a task is not CREATING..RUNNING while its
 *                               VM is STOPPED and no news is on the way
 *   DeleteStopsVM               a DELETED task's VM is stopped, told to
 *                               stop, or was never spawned
 *   NoLostMessage               no message between the two is rejected
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/core_int.h"
#include "core/task_vm_model.h"

#define QMAX	3

/* One product state; small and plain so it can be hashed and compared. */
struct ms {
	uint8_t	task, vm;
	uint8_t	qt[QMAX], nqt;		/* events queued for the task */
	uint8_t	qv[QMAX], nqv;		/* events queued for the VM */
	/*
	 * Posted inside a dispatch (fsm_post): they run before the outer
	 * dispatch returns, before anything else. 0x80 marks the VM's.
	 */
	uint8_t	qi[QMAX], nqi;
	uint8_t	exits;
	uint8_t	stop_requested;
	uint8_t	lost;			/* a queued message was rejected */
	uint8_t	pend_create;		/* agent calls awaiting a reply */
	uint8_t	pend_start;
	uint8_t	pend_wait;
	uint8_t	pend_net;		/* NICs being wired */
	uint8_t	pend_hooks;		/* OCI hooks running */
	uint8_t	pend_rootfs;		/* the rootfs image being built */
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

static void
q_push(uint8_t *q, uint8_t *n, int ev, struct ms *s)
{
	if (*n < QMAX)
		q[(*n)++] = (uint8_t)ev;
	else
		s->lost = 1;	/* more in flight than modelled: flag it */
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
	    "task_act_pause", "task_act_resume", "vm_act_spawn" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fallible); i++)
		if (action_is(r, fallible[i]))
			return true;
	return false;
}

#define QI_VM	0x80

/*
 * What the code around the task's actions does: vm_start and vm_stop
 * post to the VM, task_stop_vm may post VM_STOPPED to the task itself; all
 * of it drains before the dispatch returns.
 */
static void
task_effects(const struct fsm_row *r, struct ms *s)
{
	/* Create builds the rootfs image (9p: ready at once); then boot. */
	if (action_is(r, "task_act_create"))
		s->pend_rootfs = 1;
	if (action_is(r, "task_act_boot"))
		q_push(s->qi, &s->nqi, QI_VM | VM_EV_SPAWN, s);
	if (action_is(r, "task_act_create_failed") ||
	    action_is(r, "task_act_net_failed_create") ||
	    action_is(r, "task_act_delete")) {
		if (s->vm == VM_ST_STOPPED)
			q_push(s->qi, &s->nqi, TASK_EV_VM_STOPPED, s);
		else {
			s->stop_requested = 1;
			q_push(s->qi, &s->nqi, QI_VM | VM_EV_STOP, s);
		}
	}
	if (action_is(r, "task_act_deleted") && s->vm != VM_ST_STOPPED) {
		s->stop_requested = 1;
		q_push(s->qi, &s->nqi, QI_VM | VM_EV_STOP, s);
	}
	if (action_is(r, "task_act_stopped") ||
	    action_is(r, "task_act_vm_died"))
		s->exits++;
	/* CreateContainer and WaitProcess go out; StartProcess likewise. */
	if (action_is(r, "task_act_agent_create"))
		s->pend_create = s->pend_wait = 1;
	/* Wiring answers with NET_READY or NET_FAILED, once. */
	if (action_is(r, "task_act_wire"))
		s->pend_net = 1;
	if (action_is(r, "task_act_create_hooks") ||
	    action_is(r, "task_act_poststop"))
		s->pend_hooks = 1;
	if (action_is(r, "task_act_start") || action_is(r, "task_act_pause") ||
	    action_is(r, "task_act_resume"))
		s->pend_start = 1;
}

/* The VM tells the task through deferred callbacks: a later loop turn. */
static void
vm_effects(const struct fsm_row *r, struct ms *s)
{
	if (action_is(r, "vm_act_ready"))
		q_push(s->qt, &s->nqt, TASK_EV_VM_READY, s);
	if (action_is(r, "vm_act_stopped"))
		q_push(s->qt, &s->nqt, s->stop_requested ? TASK_EV_VM_STOPPED :
		    TASK_EV_VM_DIED, s);
}

/* One step's context while the choices of a dispatch are enumerated. */
struct step {
	struct model	*m;
	int		 parent;
	struct ms	 base;		/* state before, event dequeued */
	bool		 is_task;
	bool		 internal;	/* the event came from the other machine */
	int		 event;
	bool		 any;
	int		 failing_from;
};

static const struct fsm_def *
step_def(const struct step *st)
{
	return st->is_task ? st->m->d->task : st->m->d->vm;
}

static void
step_label(const struct step *st, int from, int to, const char *res,
    char *out, size_t len)
{
	const struct fsm_def *d = step_def(st);

	snprintf(out, len, "%s %s --%s--> %s %s", d->name,
	    fsm_state_name(d, from), fsm_event_name(d, st->event),
	    fsm_state_name(d, to), res);
}

static void
step_emit(struct step *st, struct ms *s, int from, int to, const char *res)
{
	char label[96];

	step_label(st, from, to, res, label, sizeof label);
	st->m->transitions++;
	(void)model_add(st->m, s, st->parent, label);
}

/* The failure event's row after a failed action. */
static void
step_fail_row(const struct fsm_row *r, int row, void *arg)
{
	struct step *st = arg;
	struct ms s = st->base;
	uint8_t *state = st->is_task ? &s.task : &s.vm;

	(void)row;
	*state = (uint8_t)fsm_row_target(r, st->failing_from);
	if (st->is_task)
		task_effects(r, &s);
	else
		vm_effects(r, &s);
	step_emit(st, &s, st->failing_from, *state, "failed, then FAIL");
}

/* A row fires: its target and effects; or its action fails. */
static void
step_row(const struct fsm_row *r, int row, void *arg)
{
	struct step *st = arg;
	const struct fsm_def *d = step_def(st);
	uint8_t *state = NULL;
	struct ms s = st->base;
	int from;

	(void)row;
	st->any = true;
	state = st->is_task ? &s.task : &s.vm;
	from = *state;
	*state = (uint8_t)fsm_row_target(r, from);
	if (st->is_task)
		task_effects(r, &s);
	else
		vm_effects(r, &s);
	step_emit(st, &s, from, *state, "ok");
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
step_dispatch(struct model *m, int parent, const struct ms *base,
    bool is_task, int event, bool internal)
{
	struct step st = { m, parent, *base, is_task, internal, event, false,
	    0 };
	const struct fsm_def *d = is_task ? m->d->task : m->d->vm;
	struct ms s;
	int state = is_task ? base->task : base->vm;

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

/* Which outside events the world can send in s. */
/*
 * Which outside events the world can send in s. The agent answers only
 * what was asked, while its channel is open; a call pending when the
 * channel closes fails (AGENT_FAILED).
 */
static bool
world_sends_task(const struct ms *s, int ev)
{
	bool open = s->vm == VM_ST_READY || s->vm == VM_ST_STOPPING;

	switch ((enum task_event)ev) {
	case TASK_EV_CREATE:
	case TASK_EV_START:
	case TASK_EV_KILL:
	case TASK_EV_DELETE:
		return true;	/* containerd may call anything */
	case TASK_EV_AGENT_CREATED:
		return s->pend_create && open;
	case TASK_EV_AGENT_STARTED:
	case TASK_EV_AGENT_PAUSED:
	case TASK_EV_AGENT_RESUMED:
		return s->pend_start && open;
	case TASK_EV_PAUSE:
	case TASK_EV_RESUME:
		return true;
	case TASK_EV_AGENT_FAILED:
		return s->pend_create || s->pend_start;
	case TASK_EV_EXITED:
		return s->pend_wait && open;
	case TASK_EV_NET_READY:
	case TASK_EV_NET_FAILED:
		return s->pend_net;
	case TASK_EV_HOOKS_DONE:
	case TASK_EV_HOOKS_FAILED:
		return s->pend_hooks;
	case TASK_EV_ROOTFS_READY:
	case TASK_EV_ROOTFS_FAILED:
		return s->pend_rootfs;
	case TASK_EV_IO_DRAINED:
		return s->task == TASK_ST_EXITING;
	case TASK_EV_TIMEOUT:
		/* Timers run only in waiting states. */
		return (task_fsm_def.waiting & FSM_BIT(s->task)) != 0;
	case TASK_EV_VM_READY:
	case TASK_EV_VM_DIED:
	case TASK_EV_VM_STOPPED:
	case TASK_EV_FAIL:
	case TASK_EV__COUNT:
		return false;	/* only from the VM or the engine */
	}
	return false;
}

static bool
world_sends_vm(const struct ms *s, int ev)
{
	bool qemu_runs = s->vm != VM_ST_NEW && s->vm != VM_ST_STOPPED;

	switch ((enum vm_event)ev) {
	case VM_EV_QMP_READY:
	case VM_EV_AGENT_READY:
	case VM_EV_AGENT_LOST:
	case VM_EV_QEMU_EXITED:
	case VM_EV_MIGRATED:
	case VM_EV_MIGRATE_FAILED:
	case VM_EV_CLOCK_SET:
	case VM_EV_CLOCK_FAILED:
		return qemu_runs;
	case VM_EV_TIMEOUT:
		return (vm_fsm_def.waiting & FSM_BIT(s->vm)) != 0;
	case VM_EV_SPAWN:
	case VM_EV_STOP:
	case VM_EV_FAIL:
	case VM_EV__COUNT:
		return false;	/* only from the task or the engine */
	}
	return false;
}

static const char *
model_violation(const struct model *m, const struct ms *s)
{
	bool news = false;
	int i;

	for (i = 0; i < s->nqt; i++)
		if (s->qt[i] == TASK_EV_VM_DIED ||
		    s->qt[i] == TASK_EV_VM_STOPPED)
			news = true;
	if (s->exits > 1)
		return "ExitPublishedOnce";
	if (s->vm == VM_ST_STOPPED && !news && (s->task == TASK_ST_CREATING ||
	    s->task == TASK_ST_CREATED || s->task == TASK_ST_STARTING ||
	    s->task == TASK_ST_RUNNING || s->task == TASK_ST_PAUSING ||
	    s->task == TASK_ST_PAUSED || s->task == TASK_ST_RESUMING))
		return "NoRunningTaskWithStoppedVM";
	/* A VM still NEW was never spawned: there is nothing to stop. */
	if (s->task == TASK_ST_DELETED && s->vm != VM_ST_STOPPED &&
	    s->vm != VM_ST_NEW && !s->stop_requested)
		return "DeleteStopsVM";
	if (s->lost)
		return "NoLostMessage";
	(void)m;
	return NULL;
}

/* An agent reply is delivered: that call is no longer pending. */
static void
model_answered(struct ms *s, int ev)
{
	if (ev == TASK_EV_NET_READY || ev == TASK_EV_NET_FAILED)
		s->pend_net = 0;
	if (ev == TASK_EV_HOOKS_DONE || ev == TASK_EV_HOOKS_FAILED)
		s->pend_hooks = 0;
	if (ev == TASK_EV_ROOTFS_READY || ev == TASK_EV_ROOTFS_FAILED)
		s->pend_rootfs = 0;
	if (ev == TASK_EV_AGENT_CREATED ||
	    (ev == TASK_EV_AGENT_FAILED && s->pend_create))
		s->pend_create = 0;
	else if (ev == TASK_EV_AGENT_STARTED || ev == TASK_EV_AGENT_FAILED ||
	    ev == TASK_EV_AGENT_PAUSED || ev == TASK_EV_AGENT_RESUMED)
		s->pend_start = 0;
	else if (ev == TASK_EV_EXITED)
		s->pend_wait = 0;
}

/*
 * Expand node i: events posted inside the last dispatch first and alone;
 * otherwise the head of each deferred queue, or any event from outside.
 */
static void
model_expand(struct model *m, int i)
{
	struct ms s = m->nodes[i].s, base;
	int e;

	if (s.nqi > 0) {
		base = s;
		memmove(base.qi, base.qi + 1, --base.nqi);
		step_dispatch(m, i, &base, (s.qi[0] & QI_VM) == 0,
		    s.qi[0] & ~QI_VM, true);
		return;
	}
	if (s.nqt > 0) {
		base = s;
		memmove(base.qt, base.qt + 1, --base.nqt);
		step_dispatch(m, i, &base, true, s.qt[0], true);
	}
	if (s.nqv > 0) {
		base = s;
		memmove(base.qv, base.qv + 1, --base.nqv);
		step_dispatch(m, i, &base, false, s.qv[0], true);
	}
	for (e = 0; e < m->d->task->nevents; e++)
		if (world_sends_task(&s, e)) {
			base = s;
			model_answered(&base, e);
			step_dispatch(m, i, &base, true, e, false);
		}
	for (e = 0; e < m->d->vm->nevents; e++)
		if (world_sends_vm(&s, e))
			step_dispatch(m, i, &s, false, e, false);
}

/* The path from the initial state to node i, as trace JSON lines. */
static void
model_print_path(const struct model *m, int i, FILE *out)
{
	int path[256], n = 0, k;

	for (; i >= 0 && n < 256; i = m->nodes[i].parent)
		path[n++] = i;
	for (k = n - 2; k >= 0; k--)
		fprintf(out, "{\"seq\":%d,\"model\":\"task_x_vm\",\"step\":"
		    "\"%s\",\"task\":\"%s\",\"vm\":\"%s\",\"exits\":%u}\n",
		    n - 1 - k, m->nodes[path[k]].step,
		    m->d->task->state_names[m->nodes[path[k]].s.task],
		    m->d->vm->state_names[m->nodes[path[k]].s.vm],
		    m->nodes[path[k]].s.exits);
}

int
task_vm_model_check(const struct model_defs *d, int max_depth,
    struct model_stats *st, FILE *counterexample, struct err *err)
{
	struct model m = { .d = d, .max_depth = max_depth, .bad = -1 };
	struct ms init = { .task = (uint8_t)d->task->initial,
	    .vm = (uint8_t)d->vm->initial };
	const char *v;
	size_t i;

	m.hcap = 1024;
	m.hash = xcalloc(m.hcap, sizeof *m.hash);
	for (i = 0; i < m.hcap; i++)
		m.hash[i] = -1;
	(void)model_add(&m, &init, -1, "init");
	for (i = 0; i < m.n && m.bad < 0; i++) {
		/* Invariants hold between dispatches, not inside one. */
		if (m.nodes[i].s.nqi == 0 &&
		    (v = model_violation(&m, &m.nodes[i].s)) != NULL) {
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
		err_set(err, EINVAL, "task_x_vm: %s violated after %d steps",
		    m.violated, m.nodes[m.bad].depth);
	}
	free(m.nodes);
	free(m.hash);
	return m.bad >= 0 ? -1 : 0;
}

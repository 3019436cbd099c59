/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The vertical scaler: while the task runs, one GetMetrics every
 * scaler_interval_ms (a pod's: every container's, summed), and the VM
 * grows or shrinks between its boot size and the container's limit (else
 * the config's maximum; vCPUs never past the host's online CPUs) through
 * resize.c's queue, behind any Update. Its machine is scaler_fsm.c.
 *
 * The policy (scaler_decide, pure, so t_core checks it):
 *   vCPUs   hot: the container kept its vCPUs over half busy and tasks
 *           waited for one (guest cpu PSI over 10 %, or eBPF run-queue
 *           waits over 1 ms on average): utilization alone would add CPUs
 *           to a single busy thread, which cannot use them. (Half, not
 *           80 %: loops that touch the 9p rootfs wait on I/O for a part
 *           of each interval while others queue for the vCPU.)
 *           cold: what it used would keep one vCPU fewer under 50 %
 *           (u * n / (n - 1) < 0.5) and no task waits for a CPU (PSI
 *           under 5 %, run-queue waits under 1 ms).
 *   memory  hot: MemAvailable under 15 % of MemTotal or memory PSI over
 *           5 %; step max(128 MiB, a quarter), split so that the memory
 *           map of what is added (~1.6 %) fits in what is available, else
 *           refused. cold: over half available and no stall; shrink by a
 *           step while a quarter stays available.
 *   A change needs scaler_up_samples hot samples in a row to grow,
 *   scaler_down_samples cold ones to shrink (hysteresis); after a change the
 *   rates start again from a new first sample.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/core_int.h"

#define SCALER_MEM_STEP_MIB	128
#define SCALER_BLOCK_MIB	2	/* virtio-mem's block */
#define SCALER_RESIZE_MS	300000	/* +1 vCPU under TCG: ~16 s */

static uint64_t
delta(uint64_t now, uint64_t prev)
{
	return now > prev ? now - prev : 0;
}

static unsigned
round_block(unsigned mib)
{
	return mib - mib % SCALER_BLOCK_MIB;
}

/* Count a streak: hot and cold are exclusive; neither resets both. */
static void
streak(bool hot, bool cold, unsigned *h, unsigned *c)
{
	*h = hot ? *h + 1 : 0;
	*c = cold ? *c + 1 : 0;
}

static void
decide_cpu(const struct scaler_policy *p, struct scaler_streaks *st,
    struct scaler_decision *d)
{
	unsigned n = d->vcpus;
	bool hot = d->util > 0.5 && (d->cpu_psi > 0.1 || d->runq_ms > 1.0);
	/* Nobody may be waiting for a CPU: offlining one under load stalls
	 * the guest (measured: the agent stopped answering for 30 s). */
	bool cold = n > 1 && d->util * n / (n - 1) < 0.5 &&
	    d->cpu_psi < 0.05 && d->runq_ms < 1.0;

	streak(hot, cold, &st->cpu_hot, &st->cpu_cold);
	if (st->cpu_hot >= p->up_samples && n < p->cap_vcpus) {
		d->to_vcpus = n + 1;
		d->why = "cpu hot";
	} else if (st->cpu_cold >= p->down_samples && n > p->floor_vcpus) {
		d->to_vcpus = n - 1;
		d->why = "cpu cold";
	}
	if (d->to_vcpus != n)
		st->cpu_hot = st->cpu_cold = 0;
}

/* One memory step: a quarter of the size, at least 128 MiB. */
static unsigned
mem_step(unsigned mib)
{
	return mib / 4 > SCALER_MEM_STEP_MIB ? mib / 4 : SCALER_MEM_STEP_MIB;
}

/* Grow by a step, split to what the guest can map, or refuse. */
static void
grow_mem(const struct scaler_policy *p, const struct scaler_sample *now,
    struct scaler_decision *d)
{
	unsigned m = d->mem_mib, step, fits;

	step = mem_step(m);
	if (m + step > p->cap_mem)
		step = p->cap_mem - m;
	/* The struct pages of what is added: ~1.6 % of it, from what's free. */
	fits = (unsigned)(now->mem_avail / MIB * 1000 / 16);
	if (step > fits)
		step = fits;
	step = round_block(step);
	if (step == 0) {
		d->why = "memory step refused (no room for its memory map)";
		d->refused = true;
		return;
	}
	d->to_mem = m + step;
	d->why = "memory hot";
}

static void
shrink_mem(const struct scaler_policy *p, const struct scaler_sample *now,
    struct scaler_decision *d)
{
	unsigned m = d->mem_mib, step, spare;

	step = mem_step(m);
	if (m - step < p->floor_mem)
		step = m - p->floor_mem;
	/* A quarter of MemTotal stays available after the step. */
	spare = (unsigned)(delta(now->mem_avail, now->mem_total / 4) / MIB);
	if (step > spare)
		step = spare;
	step = round_block(step);
	if (step == 0)
		return;
	d->to_mem = m - step;
	d->why = "memory cold";
}

static void
decide_mem(const struct scaler_policy *p, struct scaler_streaks *st,
    const struct scaler_sample *now, struct scaler_decision *d)
{
	bool hot = d->avail < 0.15 || d->mem_psi > 0.05;
	bool cold = d->avail > 0.5 && d->mem_psi == 0;

	streak(hot, cold, &st->mem_hot, &st->mem_cold);
	if (st->mem_hot >= p->up_samples && d->mem_mib < p->cap_mem)
		grow_mem(p, now, d);
	else if (st->mem_cold >= p->down_samples && d->mem_mib > p->floor_mem)
		shrink_mem(p, now, d);
	if (d->to_mem != d->mem_mib)
		st->mem_hot = st->mem_cold = 0;
}

bool
scaler_decide(const struct scaler_policy *p, struct scaler_streaks *st,
    const struct scaler_sample *prev, const struct scaler_sample *now,
    unsigned vcpus, unsigned mem_mib, struct scaler_decision *d)
{
	uint64_t dt = delta(now->t_us, prev->t_us);
	uint64_t nq = delta(now->runq_count, prev->runq_count);

	memset(d, 0, sizeof *d);
	d->vcpus = d->to_vcpus = vcpus;
	d->mem_mib = d->to_mem = mem_mib;
	d->why = "steady";
	if (dt == 0 || vcpus == 0 || now->mem_total == 0)
		return false;
	d->util = (double)delta(now->cpu_usec, prev->cpu_usec) /
	    ((double)dt * vcpus);
	d->cpu_psi = (double)delta(now->cpu_some_usec, prev->cpu_some_usec) /
	    (double)dt;
	d->mem_psi = (double)delta(now->mem_some_usec, prev->mem_some_usec) /
	    (double)dt;
	d->runq_ms = nq > 0 ? (double)delta(now->runq_sum_ns,
	    prev->runq_sum_ns) / (double)nq / 1e6 : 0.0;
	d->avail = (double)now->mem_avail / (double)now->mem_total;
	decide_cpu(p, st, d);
	decide_mem(p, st, now, d);
	return d->to_vcpus != vcpus || d->to_mem != mem_mib;
}

/* ---- the machine's work ------------------------------------------------ */

static void
scaler_event(struct core_scaler *s, int ev, const void *data)
{
	struct err err;

	(void)fsm_dispatch(&s->fsm, ev, data, &err);
}

static void
scaler_tick_cb(void *arg)
{
	scaler_event(arg, SCALER_EV_TICK, NULL);
}

static void
scaler_deadline_cb(void *arg)
{
	scaler_event(arg, SCALER_EV_TIMEOUT, NULL);
}

bool
scaler_task_runs(const struct core_scaler *s)
{
	return s->t->fsm.state == TASK_ST_RUNNING && s->t->vm != NULL &&
	    !vm_is_stopped(s->t->vm);
}

/*
 * Nothing to do and nothing waiting: a sample that would move nothing
 * even if the next one looked the same (the idle back-off).
 */
static bool
scaler_quiet(const struct scaler_decision *d)
{
	return d->util < 0.05 && d->cpu_psi < 0.01 && d->mem_psi < 0.01 &&
	    d->avail > 0.25;
}

/* The next interval: doubled while quiet, up to scaler_idle_ms. */
static void
scaler_pace(struct core_scaler *s, bool quiet)
{
	const struct core_config *c = &s->t->shim->cfg;
	uint64_t next = s->interval_ms * 2;

	if (!quiet || s->interval_ms == 0 || c->scaler_idle_ms <=
	    c->scaler_interval_ms)
		s->interval_ms = c->scaler_interval_ms;
	else
		s->interval_ms = next < c->scaler_idle_ms ? next :
		    c->scaler_idle_ms;
}

int
scaler_arm(struct core_scaler *s, struct err *err)
{
	int no_qmp = 0;

	(void)err;
	/*
	 * A sample past its deadline is not answered later: a late reply
	 * would be taken for the next sample's.
	 */
	vm_calls_cancel(s->t->vm, &no_qmp, &s->agent_id);
	reactor_timer_stop(s->deadline);
	if (s->interval_ms == 0)
		s->interval_ms = s->t->shim->cfg.scaler_interval_ms;
	reactor_timer_start(s->tick, s->interval_ms, false);
	return 0;
}

int
scaler_stop(struct core_scaler *s, struct err *err)
{
	int no_qmp = 0;

	(void)err;
	reactor_timer_stop(s->tick);
	reactor_timer_stop(s->deadline);
	vm_calls_cancel(s->t->vm, &no_qmp, &s->agent_id);
	core_resize_forget(s->t->resize, s);
	s->have_prev = false;
	s->interval_ms = 0;
	return 0;
}

static void
sample_from(const Kiln__Agent__V1__MetricsResponse *r,
    struct scaler_sample *x)
{
	const Kiln__Agent__V1__ContainerMetrics *c;
	size_t i;

	memset(x, 0, sizeof *x);
	x->t_us = time_mono_ns() / 1000;
	/* A pod's are all its containers' (the check bounded how many). */
	for (i = 0; i < r->n_containers; i++) {
		c = r->containers[i];
		x->cpu_usec += c->cpu_usage_usec;
		x->runq_sum_ns += c->runq_sum_ns;
		x->runq_count += c->runq_count;
	}
	x->cpu_some_usec = r->guest->cpu_some_usec;
	x->mem_some_usec = r->guest->memory_some_usec;
	x->mem_total = r->guest->memory_total_bytes;
	x->mem_avail = r->guest->memory_available_bytes;
	x->cpus = r->guest->online_cpus;
}

static void
scaler_policy_of(const struct core_scaler *s, struct scaler_policy *p)
{
	const struct core_resize *rz = s->t->resize;

	long host = sysconf(_SC_NPROCESSORS_ONLN);

	p->floor_vcpus = rz->boot_vcpus;
	/*
	 * Never past the host's CPUs: more vCPUs add no capacity, and under
	 * TCG 4 vCPUs on 2 busy host cores starved the guest's own agent
	 * (30 s without an answer: the VM was aborted). An Update may still
	 * ask for more; the scaler does not.
	 */
	p->cap_vcpus = host > 0 && (unsigned long)host < rz->cap_vcpus ?
	    (unsigned)host : rz->cap_vcpus;
	if (p->cap_vcpus < p->floor_vcpus)
		p->cap_vcpus = p->floor_vcpus;
	p->floor_mem = rz->floor_mem > rz->boot_mem ? rz->floor_mem :
	    rz->boot_mem;
	p->cap_mem = rz->cap_mem;
	p->up_samples = s->t->shim->cfg.scaler_up_samples;
	p->down_samples = s->t->shim->cfg.scaler_down_samples;
}

/* What the scaler samples: the container, or every one of a pod. */
static const char *
scaler_cid(const struct core_scaler *s)
{
	return s->t->pod_sandbox ? "" : s->t->id;
}

/* The guest's answer, checked whole before one value is used. */
static void
scaler_sample_cb(const struct proto_reply *rep, void *arg)
{
	struct core_scaler *s = arg;
	const Kiln__Agent__V1__MetricsResponse *r = (const void *)rep->msg;
	struct scaler_decision d;
	struct scaler_policy p;
	struct scaler_sample now;
	struct err err;
	bool scale;

	s->agent_id = 0;
	if (rep->code != PROTO_OK || core_metrics_check(r, scaler_cid(s),
	    &err) < 0 || r->n_containers < 1 || (!s->t->pod_sandbox &&
	    r->n_containers != 1) || r->guest == NULL) {
		log_warn("task=%s scaler: no sample: %s", s->t->id,
		    rep->code != PROTO_OK ? rep->message : "bad metrics");
		return scaler_event(s, SCALER_EV_SAMPLE_FAILED, NULL);
	}
	sample_from(r, &now);
	scaler_policy_of(s, &p);
	scale = s->have_prev && scaler_decide(&p, &s->streaks, &s->prev, &now,
	    s->t->resize->vcpus, s->t->resize->mem_mib, &d);
	if (!s->have_prev) {
		memset(&d, 0, sizeof d);
		d.why = "first sample";
	}
	s->prev = now;
	s->have_prev = true;
	scaler_event(s, scale ? SCALER_EV_SCALE : SCALER_EV_STEADY, &d);
}

int
scaler_sample(struct core_scaler *s, struct err *err)
{
	Kiln__Agent__V1__ContainerRef ref = KILN__AGENT__V1__CONTAINER_REF__INIT;
	uint64_t ms = s->t->shim->cfg.agent_timeout_ms;

	ref.container_id = (char *)(uintptr_t)scaler_cid(s);
	s->agent_id = task_agent_call(s->t, "GetMetrics", &ref.base,
	    &kiln__agent__v1__metrics_response__descriptor, ms,
	    scaler_sample_cb, s);
	if (s->agent_id == 0)
		return err_set(err, ERR_CLOSED, "agent channel closed");
	reactor_timer_start(s->deadline, ms + 1000, false);
	return 0;
}

/* The trace carries the decision with its inputs. */
static void
scaler_detail(struct core_scaler *s, const struct scaler_decision *d)
{
	fsm_detail(&s->fsm, "%s: util=%.2f cpu_psi=%.2f runq_ms=%.2f "
	    "mem_psi=%.2f avail=%.2f vcpus %u->%u mem %u->%u MiB next=%llums",
	    d->why, d->util, d->cpu_psi, d->runq_ms, d->mem_psi, d->avail,
	    d->vcpus, d->to_vcpus, d->mem_mib, d->to_mem,
	    (unsigned long long)s->interval_ms);
}

int
scaler_note(struct core_scaler *s, const struct scaler_decision *d,
    struct err *err)
{
	scaler_pace(s, scaler_quiet(d));
	scaler_detail(s, d);
	if (d->refused) {
		s->refused++;
		log_info("task=%s scaler: %s", s->t->id, d->why);
	}
	return scaler_arm(s, err);
}

static void
scaler_resize_done(void *arg, bool ok, const char *why)
{
	struct core_scaler *s = arg;

	if (!ok)
		log_warn("task=%s scaler: resize failed: %s", s->t->id, why);
	scaler_event(s, ok ? SCALER_EV_RESIZED : SCALER_EV_RESIZE_FAILED,
	    NULL);
}

int
scaler_apply(struct core_scaler *s, const struct scaler_decision *d,
    struct err *err)
{
	(void)err;
	scaler_detail(s, d);
	log_info("task=%s scaler: %s: vcpus %u -> %u, memory %u -> %u MiB",
	    s->t->id, d->why, d->vcpus, d->to_vcpus, d->mem_mib, d->to_mem);
	if (d->to_vcpus > d->vcpus || d->to_mem > d->mem_mib)
		s->ups++;
	else
		s->downs++;
	reactor_timer_start(s->deadline, SCALER_RESIZE_MS, false);
	core_resize_scale(s->t->resize, d->to_vcpus, d->to_mem,
	    scaler_resize_done, s);
	return 0;
}

int
scaler_resized(struct core_scaler *s, bool ok, struct err *err)
{
	/*
	 * Past the deadline the step may still be queued or running in
	 * resize.c: its end is no news of ours any more (it would be taken
	 * for the next step's). Once it ended, this finds nothing.
	 */
	if (!ok)
		core_resize_forget(s->t->resize, s);
	if (!ok)
		s->failures++;
	/* The VM changed size: rates start again from a new sample. */
	s->have_prev = false;
	scaler_pace(s, false);
	return scaler_arm(s, err);
}

/* ---- life ---------------------------------------------------------------- */

struct core_scaler *
core_scaler_new(struct task *t)
{
	struct core_scaler *s = xcalloc(1, sizeof *s);
	struct reactor *r = t->shim->r;
	char id[FSM_ID_MAX];

	s->t = t;
	s->tick = reactor_timer_new(r, scaler_tick_cb, s);
	s->deadline = reactor_timer_new(r, scaler_deadline_cb, s);
	snprintf(id, sizeof id, "%s/scaler", t->id);
	fsm_init(&s->fsm, &scaler_fsm_def, t->shim->env, id, s);
	return s;
}

/* Only when configured, and only when there is room to move. */
void
core_scaler_run(struct core_scaler *s)
{
	const struct core_resize *rz;

	if (s == NULL || !s->t->shim->cfg.scaler || (rz = s->t->resize) ==
	    NULL)
		return;
	if (rz->cap_vcpus <= rz->boot_vcpus && rz->cap_mem <= rz->boot_mem)
		return;
	fsm_post(&s->fsm, SCALER_EV_RUN, NULL, 0);
}

void
core_scaler_halt(struct core_scaler *s)
{
	if (s != NULL)
		fsm_post(&s->fsm, SCALER_EV_HALT, NULL, 0);
}

void
core_scaler_free(struct core_scaler *s)
{
	int no_qmp = 0;

	if (s == NULL)
		return;
	vm_calls_cancel(s->t->vm, &no_qmp, &s->agent_id);
	reactor_timer_free(s->tick);
	reactor_timer_free(s->deadline);
	fsm_fini(&s->fsm);
	free(s);
}

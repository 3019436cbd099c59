/* SPDX-License-Identifier: Apache-2.0 */
/*
 * core: the guest's GetMetrics answer, checked and printed. Nothing the
 * guest says is trusted: counts, bucket counts, ids and comms are checked
 * against the bounds the agent promises (proto/kiln/agent.proto) before a
 * single value is used, and a bad answer is refused whole. The printer
 * writes Prometheus text exposition 0.0.4 (metric names, base units,
 * _total counters, _bucket/_sum/_count histograms).
 */
#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/core_int.h"

static bool
printable(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (i >= max || s[i] < 0x20 || s[i] > 0x7e || s[i] == '"' ||
		    s[i] == '\\')
			return false;
	return true;
}

static int
metrics_check_one(const Kiln__Agent__V1__ContainerMetrics *m,
    uint32_t nbuckets, struct err *err)
{
	size_t i;

	if (m == NULL || m->container_id == NULL ||
	    !ident_valid(m->container_id, PROTO_ID_MAX))
		return err_set(err, EPROTO, "metrics: bad container id");
	if (m->n_runq_buckets != nbuckets || m->n_blkio_buckets != nbuckets)
		return err_set(err, EPROTO, "metrics: %s: %zu and %zu buckets, "
		    "not %u", m->container_id, m->n_runq_buckets,
		    m->n_blkio_buckets, nbuckets);
	if (m->n_oom_victims > CORE_METRICS_MAX_VICTIMS)
		return err_set(err, EPROTO, "metrics: %s: %zu OOM victims",
		    m->container_id, m->n_oom_victims);
	for (i = 0; i < m->n_oom_victims; i++)
		if (m->oom_victims[i] == NULL ||
		    m->oom_victims[i]->comm == NULL ||
		    !printable(m->oom_victims[i]->comm, 15))
			return err_set(err, EPROTO, "metrics: %s: bad OOM "
			    "victim", m->container_id);
	return 0;
}

int
core_metrics_check(const Kiln__Agent__V1__MetricsResponse *r,
    const char *cid, struct err *err)
{
	size_t i;

	if (r->runq_buckets != CORE_METRICS_BUCKETS)
		return err_set(err, EPROTO, "metrics: %u buckets, not %u",
		    r->runq_buckets, CORE_METRICS_BUCKETS);
	if (r->n_containers > CORE_METRICS_MAX_CONTAINERS ||
	    r->n_missing > CORE_METRICS_MAX_MISSING)
		return err_set(err, EPROTO, "metrics: %zu containers, %zu "
		    "missing sources", r->n_containers, r->n_missing);
	for (i = 0; i < r->n_containers; i++) {
		if (metrics_check_one(r->containers[i], r->runq_buckets,
		    err) < 0)
			return -1;
		if (cid != NULL && cid[0] != '\0' &&
		    strcmp(r->containers[i]->container_id, cid) != 0)
			return err_set(err, EPROTO, "metrics: asked for %s, "
			    "got %s", cid, r->containers[i]->container_id);
	}
	/* The guest's own figures (absent from an older agent: zeros). */
	if (r->guest != NULL && (r->guest->online_cpus > CORE_METRICS_MAX_CPUS ||
	    r->guest->memory_available_bytes > r->guest->memory_total_bytes))
		return err_set(err, EPROTO, "metrics: guest: %u CPUs online, "
		    "%llu of %llu bytes available", r->guest->online_cpus,
		    (unsigned long long)r->guest->memory_available_bytes,
		    (unsigned long long)r->guest->memory_total_bytes);
	if (r->n_programs > CORE_METRICS_MAX_PROGRAMS)
		return err_set(err, EPROTO, "metrics: %zu eBPF programs",
		    r->n_programs);
	for (i = 0; i < r->n_programs; i++)
		if (r->programs[i] == NULL || r->programs[i]->name == NULL ||
		    !ident_valid(r->programs[i]->name, 63))
			return err_set(err, EPROTO, "metrics: bad eBPF program");
	for (i = 0; i < r->n_missing; i++)
		if (r->missing[i] == NULL || r->missing[i]->source == NULL ||
		    !ident_valid(r->missing[i]->source, 32) ||
		    r->missing[i]->reason == NULL ||
		    !printable(r->missing[i]->reason, 255))
			return err_set(err, EPROTO, "metrics: bad missing "
			    "source");
	return 0;
}

static void PRINTF_LIKE(2, 3)
out(struct buf *b, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n > 0)
		buf_append(b, line, (size_t)n < sizeof line ? (size_t)n :
		    sizeof line - 1);
}

static void
head(struct buf *b, const char *name, const char *type, const char *help)
{
	out(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One value line per container: name{labels} value. */
#define EACH(b, r, ns, name, expr) do {					\
	size_t i_;							\
	for (i_ = 0; i_ < (r)->n_containers; i_++) {			\
		const Kiln__Agent__V1__ContainerMetrics *m =		\
		    (r)->containers[i_];				\
		out((b), "%s{namespace=\"%s\",container=\"%s\"} %.9g\n",\
		    (name), (ns), m->container_id, (double)(expr));	\
	}								\
} while (0)

/* One of the guest's log2-microsecond histograms of a container. */
struct prom_hist {
	const char	*name, *help;
	const uint64_t	*(*buckets)(const Kiln__Agent__V1__ContainerMetrics *);
	uint64_t	 (*sum_ns)(const Kiln__Agent__V1__ContainerMetrics *);
};

static const uint64_t *
runq_buckets(const Kiln__Agent__V1__ContainerMetrics *m)
{
	return m->runq_buckets;
}

static uint64_t
runq_sum(const Kiln__Agent__V1__ContainerMetrics *m)
{
	return m->runq_sum_ns;
}

static const uint64_t *
blkio_buckets(const Kiln__Agent__V1__ContainerMetrics *m)
{
	return m->blkio_buckets;
}

static uint64_t
blkio_sum(const Kiln__Agent__V1__ContainerMetrics *m)
{
	return m->blkio_sum_ns;
}

static const struct prom_hist prom_hists[] = {
	{ "kiln_container_runqueue_latency_seconds",
	  "Time runnable before running (eBPF).", runq_buckets, runq_sum },
	{ "kiln_container_blkio_latency_seconds",
	  "Block request issue to completion (eBPF).", blkio_buckets,
	  blkio_sum },
};

/*
 * Cumulative buckets from the guest's counts: the count is their total,
 * so whatever the guest sends, the series is a valid histogram.
 */
static void
prom_histogram(struct buf *b, const char *ns,
    const Kiln__Agent__V1__MetricsResponse *r, const struct prom_hist *h)
{
	size_t i, j;

	head(b, h->name, "histogram", h->help);
	for (i = 0; i < r->n_containers; i++) {
		const Kiln__Agent__V1__ContainerMetrics *m = r->containers[i];
		const uint64_t *v = h->buckets(m);
		uint64_t cum = 0;

		/* Bucket j holds < 2^j us; the last (r->runq_buckets - 1) none. */
		for (j = 0; j + 1 < r->runq_buckets; j++) {
			cum += v[j];
			out(b, "%s_bucket{namespace=\"%s\",container=\"%s\","
			    "le=\"%.9g\"} %llu\n", h->name, ns, m->container_id,
			    (double)(1ull << j) / 1e6, (unsigned long long)cum);
		}
		cum += v[r->runq_buckets - 1];
		out(b, "%s_bucket{namespace=\"%s\",container=\"%s\","
		    "le=\"+Inf\"} %llu\n", h->name, ns, m->container_id,
		    (unsigned long long)cum);
		out(b, "%s_sum{namespace=\"%s\",container=\"%s\"} %.9g\n",
		    h->name, ns, m->container_id, (double)h->sum_ns(m) / 1e9);
		out(b, "%s_count{namespace=\"%s\",container=\"%s\"} %llu\n",
		    h->name, ns, m->container_id, (unsigned long long)cum);
	}
}

/* The eBPF I/O, network and reclaim counters: a uint64 field each. */
#define CM_FIELD(f)	offsetof(Kiln__Agent__V1__ContainerMetrics, f)
static const struct {
	const char	*name, *help;
	size_t		 off;
	double		 scale;		/* to the base unit */
} prom_io_counters[] = {
	{ "kiln_container_blkio_read_bytes_total",
	  "Bytes read by completed block requests (eBPF).",
	  CM_FIELD(blkio_read_bytes), 1 },
	{ "kiln_container_blkio_write_bytes_total",
	  "Bytes written by completed block requests (eBPF).",
	  CM_FIELD(blkio_write_bytes), 1 },
	{ "kiln_container_blkio_reads_total",
	  "Completed block read requests (eBPF).", CM_FIELD(blkio_read_ios), 1 },
	{ "kiln_container_blkio_writes_total",
	  "Completed block write requests (eBPF).",
	  CM_FIELD(blkio_write_ios), 1 },
	{ "kiln_container_network_receive_bytes_total",
	  "Bytes the container's sockets received (eBPF cgroup_skb).",
	  CM_FIELD(net_rx_bytes), 1 },
	{ "kiln_container_network_transmit_bytes_total",
	  "Bytes the container's sockets sent (eBPF cgroup_skb).",
	  CM_FIELD(net_tx_bytes), 1 },
	{ "kiln_container_network_receive_packets_total",
	  "Packets (skbs) the container's sockets received (eBPF).",
	  CM_FIELD(net_rx_packets), 1 },
	{ "kiln_container_network_transmit_packets_total",
	  "Packets (skbs) the container's sockets sent (eBPF).",
	  CM_FIELD(net_tx_packets), 1 },
	{ "kiln_container_direct_reclaim_seconds_total",
	  "Time the container's tasks stalled in direct reclaim (eBPF).",
	  CM_FIELD(reclaim_ns), 1e-9 },
	{ "kiln_container_direct_reclaims_total",
	  "Direct reclaim stalls of the container's tasks (eBPF).",
	  CM_FIELD(reclaim_count), 1 },
};
#undef CM_FIELD

static void
prom_io(struct buf *b, const char *ns,
    const Kiln__Agent__V1__MetricsResponse *r)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(prom_io_counters); i++) {
		size_t off = prom_io_counters[i].off;
		double scale = prom_io_counters[i].scale;

		head(b, prom_io_counters[i].name, "counter",
		    prom_io_counters[i].help);
		EACH(b, r, ns, prom_io_counters[i].name, (double)*(const
		    uint64_t *)(const void *)((const char *)m + off) * scale);
	}
}

/* What the guest's probes cost: per program, the whole guest's. */
static void
prom_programs(struct buf *b, const char *ns, const char *cid,
    const Kiln__Agent__V1__MetricsResponse *r)
{
	size_t i;

	head(b, "kiln_guest_bpf_program_run_seconds_total", "counter",
	    "Time the guest spent in each eBPF program (BPF_ENABLE_STATS).");
	for (i = 0; i < r->n_programs; i++)
		out(b, "kiln_guest_bpf_program_run_seconds_total{namespace="
		    "\"%s\"%s%s%s,program=\"%s\"} %.9g\n", ns, cid != NULL ?
		    ",container=\"" : "", cid != NULL ? cid : "", cid != NULL ?
		    "\"" : "", r->programs[i]->name,
		    (double)r->programs[i]->run_ns / 1e9);
	head(b, "kiln_guest_bpf_program_runs_total", "counter",
	    "Times each eBPF program ran in the guest.");
	for (i = 0; i < r->n_programs; i++)
		out(b, "kiln_guest_bpf_program_runs_total{namespace=\"%s\"%s%s%s,"
		    "program=\"%s\"} %llu\n", ns, cid != NULL ?
		    ",container=\"" : "", cid != NULL ? cid : "", cid != NULL ?
		    "\"" : "", r->programs[i]->name,
		    (unsigned long long)r->programs[i]->runs);
}

void
core_metrics_prom(struct buf *b, const char *ns, const char *cid,
    const Kiln__Agent__V1__MetricsResponse *r)
{
	size_t i;

	head(b, "kiln_container_cpu_seconds_total", "counter",
	    "CPU time of the container's cgroup (cpu.stat).");
	EACH(b, r, ns, "kiln_container_cpu_seconds_total",
	    (double)m->cpu_usage_usec / 1e6);
	head(b, "kiln_container_oncpu_seconds_total", "counter",
	    "Time on a CPU, from sched_switch (eBPF).");
	EACH(b, r, ns, "kiln_container_oncpu_seconds_total",
	    (double)m->oncpu_ns / 1e9);
	head(b, "kiln_container_memory_bytes", "gauge",
	    "memory.current of the container's cgroup.");
	EACH(b, r, ns, "kiln_container_memory_bytes", m->memory_bytes);
	head(b, "kiln_container_oom_kills_total", "counter",
	    "Processes killed by the OOM killer (memory.events).");
	EACH(b, r, ns, "kiln_container_oom_kills_total", m->oom_kills);
	head(b, "kiln_container_context_switches_total", "counter",
	    "Times a task of the container left a CPU (eBPF).");
	EACH(b, r, ns, "kiln_container_context_switches_total",
	    m->context_switches);
	head(b, "kiln_container_page_faults_total", "counter",
	    "User page faults, minor and major (eBPF).");
	EACH(b, r, ns, "kiln_container_page_faults_total", m->page_faults);
	head(b, "kiln_container_execs_total", "counter",
	    "Successful execve calls (eBPF).");
	EACH(b, r, ns, "kiln_container_execs_total", m->execs);
	head(b, "kiln_container_exits_total", "counter",
	    "Processes that exited (eBPF).");
	EACH(b, r, ns, "kiln_container_exits_total", m->exits);
	head(b, "kiln_container_cpu_pressure_seconds_total", "counter",
	    "Time some task of the container waited for a CPU (PSI).");
	EACH(b, r, ns, "kiln_container_cpu_pressure_seconds_total",
	    (double)m->cpu_some_usec / 1e6);
	head(b, "kiln_container_memory_pressure_seconds_total", "counter",
	    "Time some task of the container stalled on memory (PSI).");
	EACH(b, r, ns, "kiln_container_memory_pressure_seconds_total",
	    (double)m->memory_some_usec / 1e6);
	for (i = 0; i < ARRAY_SIZE(prom_hists); i++)
		prom_histogram(b, ns, r, &prom_hists[i]);
	prom_io(b, ns, r);
	prom_programs(b, ns, cid, r);
	head(b, "kiln_metrics_source_missing", "gauge",
	    "1 for each source of values the guest could not use.");
	/* One guest per shim: the container label keeps shims apart. */
	for (i = 0; i < r->n_missing; i++)
		out(b, "kiln_metrics_source_missing{namespace=\"%s\"%s%s%s,"
		    "source=\"%s\"} 1\n", ns, cid != NULL ?
		    ",container=\"" : "", cid != NULL ? cid : "",
		    cid != NULL ? "\"" : "", r->missing[i]->source);
}

/* ---- Stats: cgroup values, eBPF where they are missing ----------------- */

/*
 * ctr task metrics decodes cgroups v2 Metrics; the guest's cgroup files
 * fill them, but a field the cgroup left at zero (no cpu controller in
 * the container's cgroup, an unread memory.stat) is taken from the eBPF
 * counters measuring the same thing. Sub-messages the guest left out
 * point into fill (caller-owned) and must be detached before the
 * unpacked message is freed: core_metrics_unfill.
 */
void
core_metrics_fill(Io__Containerd__Cgroups__V2__Metrics *m,
    const struct core_bpf_values *v, struct core_metrics_fill *fill)
{
	memset(fill, 0, sizeof *fill);
	if (m->cpu == NULL && v->oncpu_ns != 0) {
		io__containerd__cgroups__v2__cpustat__init(&fill->cpu);
		m->cpu = fill->cpu_set = &fill->cpu;
	}
	if (m->cpu != NULL && m->cpu->usage_usec == 0)
		m->cpu->usage_usec = v->oncpu_ns / 1000;
	if (m->memory == NULL && (v->page_faults != 0 || v->memory_bytes != 0)) {
		io__containerd__cgroups__v2__memory_stat__init(&fill->mem);
		m->memory = fill->mem_set = &fill->mem;
	}
	if (m->memory != NULL && m->memory->pgfault == 0)
		m->memory->pgfault = v->page_faults;
	if (m->memory != NULL && m->memory->usage == 0)
		m->memory->usage = v->memory_bytes;
	if (m->memory_events == NULL && v->oom_kills != 0) {
		io__containerd__cgroups__v2__memory_events__init(&fill->ev);
		m->memory_events = fill->ev_set = &fill->ev;
	}
	if (m->memory_events != NULL && m->memory_events->oom_kill == 0)
		m->memory_events->oom_kill = v->oom_kills;
}

void
core_metrics_unfill(Io__Containerd__Cgroups__V2__Metrics *m,
    const struct core_metrics_fill *fill)
{
	if (fill->cpu_set != NULL && m->cpu == fill->cpu_set)
		m->cpu = NULL;
	if (fill->mem_set != NULL && m->memory == fill->mem_set)
		m->memory = NULL;
	if (fill->ev_set != NULL && m->memory_events == fill->ev_set)
		m->memory_events = NULL;
}

/* The values of container cid in a checked answer; false if absent. */
bool
core_metrics_values(const Kiln__Agent__V1__MetricsResponse *r,
    const char *cid, struct core_bpf_values *v)
{
	size_t i;

	memset(v, 0, sizeof *v);
	for (i = 0; i < r->n_containers; i++) {
		const Kiln__Agent__V1__ContainerMetrics *m = r->containers[i];

		if (strcmp(m->container_id, cid) != 0)
			continue;
		v->oncpu_ns = m->oncpu_ns;
		v->page_faults = m->page_faults;
		v->oom_kills = m->bpf_oom_kills > m->oom_kills ?
		    m->bpf_oom_kills : m->oom_kills;
		v->memory_bytes = m->memory_bytes;
		return true;
	}
	return false;
}

/* ---- the shim's own metrics --------------------------------------------- */

void
core_stats_fsm(struct core_stats *s, const struct fsm_trace_rec *rec)
{
	struct core_fsm_count *c = NULL;
	size_t i;

	for (i = 0; i < s->nfsm; i++)
		if (s->fsm[i].def == rec->def)
			c = &s->fsm[i];
	if (c == NULL) {
		s->fsm = xreallocarray(s->fsm, s->nfsm + 1, sizeof *s->fsm);
		c = &s->fsm[s->nfsm++];
		c->def = rec->def;
		c->n = xcalloc((size_t)rec->def->nevents * CORE_FSM_RESULTS,
		    sizeof *c->n);
	}
	if (rec->event >= 0 && rec->event < rec->def->nevents &&
	    (unsigned)rec->result < CORE_FSM_RESULTS)
		c->n[(size_t)rec->event * CORE_FSM_RESULTS + rec->result]++;
}

void
core_stats_fini(struct core_stats *s)
{
	size_t i;

	for (i = 0; i < s->nfsm; i++)
		free(s->fsm[i].n);
	free(s->fsm);
	s->fsm = NULL;
	s->nfsm = 0;
}

/* A latency histogram as name_bucket/_sum/_count, in seconds. */
static void
prom_hist(struct buf *b, const char *name, const char *labels,
    const struct hist *h)
{
	uint64_t cum = 0;
	unsigned i;

	for (i = 0; i < HIST_BUCKETS; i++) {
		cum += h->buckets[i];
		out(b, "%s_bucket{%s,le=\"%.9g\"} %llu\n", name, labels,
		    (double)hist_bound_us(i) / 1e6, (unsigned long long)cum);
	}
	out(b, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, labels,
	    (unsigned long long)h->count);
	out(b, "%s_sum{%s} %.9g\n", name, labels, (double)h->sum_ns / 1e9);
	out(b, "%s_count{%s} %llu\n", name, labels,
	    (unsigned long long)h->count);
}

static void
prom_fsm(struct buf *b, const char *labels, const struct core_stats *s)
{
	const char *n = "kiln_shim_fsm_transitions_total";
	size_t i;
	int e, k;

	head(b, n, "counter", "State machine dispatches by machine, event "
	    "and result.");
	for (i = 0; i < s->nfsm; i++) {
		const struct fsm_def *d = s->fsm[i].def;

		if (!ident_valid(d->name, 64))
			continue;
		for (e = 0; e < d->nevents; e++)
			for (k = 0; k < CORE_FSM_RESULTS; k++) {
				uint64_t v = s->fsm[i].n[(size_t)e *
				    CORE_FSM_RESULTS + k];

				if (v != 0 && ident_valid(d->event_names[e],
				    64))
					out(b, "%s{%s,machine=\"%s\",event="
					    "\"%s\",result=\"%s\"} %llu\n", n,
					    labels, d->name, d->event_names[e],
					    fsm_result_name(k),
					    (unsigned long long)v);
			}
	}
}

static void
prom_resizes(struct buf *b, const char *labels, const struct core_vm_size *vm)
{
	head(b, "kiln_vm_resize_failures_total", "counter",
	    "Resize steps that failed (QMP, the guest, a deadline).");
	out(b, "kiln_vm_resize_failures_total{%s} %llu\n", labels,
	    (unsigned long long)vm->resize_failures);
	head(b, "kiln_vm_scaler_steps_total", "counter",
	    "Resizes the vertical scaler asked for, by direction.");
	out(b, "kiln_vm_scaler_steps_total{%s,direction=\"up\"} %llu\n",
	    labels, (unsigned long long)vm->scaler_up);
	out(b, "kiln_vm_scaler_steps_total{%s,direction=\"down\"} %llu\n",
	    labels, (unsigned long long)vm->scaler_down);
	head(b, "kiln_vm_scaler_refused_total", "counter",
	    "Memory steps refused: no room in the guest for their memory map.");
	out(b, "kiln_vm_scaler_refused_total{%s} %llu\n", labels,
	    (unsigned long long)vm->scaler_refused);
	head(b, "kiln_vm_scaler_failures_total", "counter",
	    "Scaler resizes that failed or timed out.");
	out(b, "kiln_vm_scaler_failures_total{%s} %llu\n", labels,
	    (unsigned long long)vm->scaler_failed);
}

void
core_stats_prom(struct buf *b, const char *ns, const char *cid,
    const struct core_stats *s, const struct core_vm_size *vm)
{
	char labels[256];

	snprintf(labels, sizeof labels, "namespace=\"%s\",container=\"%s\"",
	    ns, cid);
	head(b, "kiln_shim_agent_call_seconds", "histogram",
	    "Time from an agent call to its answer, error or timeout.");
	prom_hist(b, "kiln_shim_agent_call_seconds", labels, &s->agent);
	head(b, "kiln_shim_qmp_call_seconds", "histogram",
	    "Time from a QMP command to its answer, error or timeout.");
	prom_hist(b, "kiln_shim_qmp_call_seconds", labels, &s->qmp);
	prom_fsm(b, labels, s);
	head(b, "kiln_vm_vcpus", "gauge", "vCPUs the container's VM has.");
	out(b, "kiln_vm_vcpus{%s} %u\n", labels, vm->vcpus);
	head(b, "kiln_vm_memory_bytes", "gauge",
	    "Memory the container's VM has (boot plus hot-plugged).");
	out(b, "kiln_vm_memory_bytes{%s} %llu\n", labels,
	    (unsigned long long)vm->mem_mib << 20);
	prom_resizes(b, labels, vm);
}

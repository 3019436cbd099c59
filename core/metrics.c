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
	if (m->n_runq_buckets != nbuckets)
		return err_set(err, EPROTO, "metrics: %s: %zu buckets, not %u",
		    m->container_id, m->n_runq_buckets, nbuckets);
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

static void
prom_histogram(struct buf *b, const char *ns,
    const Kiln__Agent__V1__MetricsResponse *r)
{
	const char *n = "kiln_container_runqueue_latency_seconds";
	size_t i, j;

	head(b, n, "histogram", "Time runnable before running (eBPF).");
	for (i = 0; i < r->n_containers; i++) {
		const Kiln__Agent__V1__ContainerMetrics *m = r->containers[i];
		uint64_t cum = 0;

		/* Bucket j holds waits < 2^j us; the last has no bound. */
		for (j = 0; j + 1 < m->n_runq_buckets; j++) {
			cum += m->runq_buckets[j];
			out(b, "%s_bucket{namespace=\"%s\",container=\"%s\","
			    "le=\"%.9g\"} %llu\n", n, ns, m->container_id,
			    (double)(1ull << j) / 1e6, (unsigned long long)cum);
		}
		out(b, "%s_bucket{namespace=\"%s\",container=\"%s\","
		    "le=\"+Inf\"} %llu\n", n, ns, m->container_id,
		    (unsigned long long)m->runq_count);
		out(b, "%s_sum{namespace=\"%s\",container=\"%s\"} %.9g\n", n,
		    ns, m->container_id, (double)m->runq_sum_ns / 1e9);
		out(b, "%s_count{namespace=\"%s\",container=\"%s\"} %llu\n",
		    n, ns, m->container_id, (unsigned long long)m->runq_count);
	}
}

void
core_metrics_prom(struct buf *b, const char *ns,
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
	prom_histogram(b, ns, r);
	head(b, "kiln_metrics_source_missing", "gauge",
	    "1 for each source of values the guest could not use.");
	for (i = 0; i < r->n_missing; i++)
		out(b, "kiln_metrics_source_missing{namespace=\"%s\","
		    "source=\"%s\"} 1\n", ns, r->missing[i]->source);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Container metrics, read from the container's cgroup v2 files in the
 * guest (cpu.stat, memory.*, pids.*, io.stat) into the
 * io.containerd.cgroups.v2.Metrics that ctr task metrics decodes; and
 * GetMetrics, the same files plus the eBPF counters (agent_bpf.c) of each
 * container, keyed by its cgroup id.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "guest/agent.h"

#define MAX_IO_ENTRIES	16

/* "key value" lines of a cgroup file mapped onto uint64 fields. */
struct stat_field {
	const char	*key;
	size_t		 off;
};

#define CPU(f)	{ #f, offsetof(Io__Containerd__Cgroups__V2__CPUStat, f) }
static const struct stat_field cpu_fields[] = {
	CPU(usage_usec), CPU(user_usec), CPU(system_usec), CPU(nr_periods),
	CPU(nr_throttled), CPU(throttled_usec),
};
#undef CPU

#define MEM(f)	{ #f, offsetof(Io__Containerd__Cgroups__V2__MemoryStat, f) }
static const struct stat_field mem_fields[] = {
	MEM(anon), MEM(file), MEM(kernel_stack), MEM(slab), MEM(sock),
	MEM(shmem), MEM(file_mapped), MEM(file_dirty), MEM(file_writeback),
	MEM(anon_thp), MEM(inactive_anon), MEM(active_anon),
	MEM(inactive_file), MEM(active_file), MEM(unevictable),
	MEM(slab_reclaimable), MEM(slab_unreclaimable), MEM(pgfault),
	MEM(pgmajfault), MEM(workingset_refault), MEM(workingset_activate),
	MEM(workingset_nodereclaim), MEM(pgrefill), MEM(pgscan), MEM(pgsteal),
	MEM(pgactivate), MEM(pgdeactivate), MEM(pglazyfree), MEM(pglazyfreed),
	MEM(thp_fault_alloc), MEM(thp_collapse_alloc),
};
#undef MEM

#define EVT(f)	{ #f, offsetof(Io__Containerd__Cgroups__V2__MemoryEvents, f) }
static const struct stat_field event_fields[] = {
	EVT(low), EVT(high), EVT(max), EVT(oom), EVT(oom_kill),
};
#undef EVT

static FILE *
cg_open(const char *cid, const char *file)
{
	char path[256];

	agent_cgroup_path(path, sizeof path, cid, file);
	return fopen(path, "re");
}

static void
cg_keyed(const char *cid, const char *file, const struct stat_field *fs,
    size_t n, void *base)
{
	char key[64];
	unsigned long long v;
	FILE *f = cg_open(cid, file);
	size_t i;

	if (f == NULL)
		return;
	while (fscanf(f, "%63s %llu", key, &v) == 2)
		for (i = 0; i < n; i++)
			if (strcmp(key, fs[i].key) == 0)
				*(uint64_t *)(void *)((char *)base +
				    fs[i].off) = v;
	fclose(f);
}

/* One number, or "max" (no limit: containerd's math.MaxUint64). */
static uint64_t
cg_value(const char *cid, const char *file)
{
	char word[32] = "";
	FILE *f = cg_open(cid, file);

	if (f == NULL)
		return 0;
	if (fscanf(f, "%31s", word) != 1)
		word[0] = '\0';
	fclose(f);
	if (strcmp(word, "max") == 0)
		return UINT64_MAX;
	return strtoull(word, NULL, 10);
}

/*
 * A PSI file's total stall time (us) on its "some" or "full" line:
 * "some avg10=0.00 avg60=0.00 avg300=0.00 total=123". Closes f.
 */
static uint64_t
psi_total(FILE *f, const char *kind)
{
	char line[160], *t;
	uint64_t v = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, kind, strlen(kind)) == 0 &&
		    (t = strstr(line, "total=")) != NULL)
			v = strtoull(t + 6, NULL, 10);
	fclose(f);
	return v;
}

/* io.stat: "MAJ:MIN rbytes=N wbytes=N rios=N wios=N ...". */
static size_t
cg_io(const char *cid, Io__Containerd__Cgroups__V2__IOEntry *e, size_t max)
{
	char line[512];
	FILE *f = cg_open(cid, "io.stat");
	size_t n = 0;

	if (f == NULL)
		return 0;
	while (n < max && fgets(line, sizeof line, f) != NULL) {
		unsigned long long maj, min, rb = 0, wb = 0, ri = 0, wi = 0;
		char *p;

		if (sscanf(line, "%llu:%llu", &maj, &min) != 2)
			continue;
		if ((p = strstr(line, "rbytes=")) != NULL)
			rb = strtoull(p + 7, NULL, 10);
		if ((p = strstr(line, "wbytes=")) != NULL)
			wb = strtoull(p + 7, NULL, 10);
		if ((p = strstr(line, "rios=")) != NULL)
			ri = strtoull(p + 5, NULL, 10);
		if ((p = strstr(line, "wios=")) != NULL)
			wi = strtoull(p + 5, NULL, 10);
		io__containerd__cgroups__v2__ioentry__init(&e[n]);
		e[n].major = maj;
		e[n].minor = min;
		e[n].rbytes = rb;
		e[n].wbytes = wb;
		e[n].rios = ri;
		e[n].wios = wi;
		n++;
	}
	fclose(f);
	return n;
}

int
agent_stats_reply(struct agent_container *c, struct proto_call *call)
{
	Io__Containerd__Cgroups__V2__Metrics m =
	    IO__CONTAINERD__CGROUPS__V2__METRICS__INIT;
	Io__Containerd__Cgroups__V2__PidsStat pids =
	    IO__CONTAINERD__CGROUPS__V2__PIDS_STAT__INIT;
	Io__Containerd__Cgroups__V2__CPUStat cpu =
	    IO__CONTAINERD__CGROUPS__V2__CPUSTAT__INIT;
	Io__Containerd__Cgroups__V2__MemoryStat mem =
	    IO__CONTAINERD__CGROUPS__V2__MEMORY_STAT__INIT;
	Io__Containerd__Cgroups__V2__MemoryEvents ev =
	    IO__CONTAINERD__CGROUPS__V2__MEMORY_EVENTS__INIT;
	Io__Containerd__Cgroups__V2__IOStat io =
	    IO__CONTAINERD__CGROUPS__V2__IOSTAT__INIT;
	Io__Containerd__Cgroups__V2__IOEntry entries[MAX_IO_ENTRIES];
	Io__Containerd__Cgroups__V2__IOEntry *eptr[MAX_IO_ENTRIES];
	Kiln__Agent__V1__StatsResponse r = KILN__AGENT__V1__STATS_RESPONSE__INIT;
	FILE *probe = cg_open(c->id, "cgroup.procs");
	size_t i;

	if (probe == NULL)
		return -1;
	fclose(probe);
	pids.current = cg_value(c->id, "pids.current");
	pids.limit = cg_value(c->id, "pids.max");
	cg_keyed(c->id, "cpu.stat", cpu_fields, ARRAY_SIZE(cpu_fields), &cpu);
	cg_keyed(c->id, "memory.stat", mem_fields, ARRAY_SIZE(mem_fields),
	    &mem);
	cg_keyed(c->id, "memory.events", event_fields,
	    ARRAY_SIZE(event_fields), &ev);
	mem.usage = cg_value(c->id, "memory.current");
	mem.usage_limit = cg_value(c->id, "memory.max");
	mem.swap_usage = cg_value(c->id, "memory.swap.current");
	mem.swap_limit = cg_value(c->id, "memory.swap.max");
	io.n_usage = cg_io(c->id, entries, MAX_IO_ENTRIES);
	for (i = 0; i < io.n_usage; i++)
		eptr[i] = &entries[i];
	io.usage = eptr;
	m.pids = &pids;
	m.cpu = &cpu;
	m.memory = &mem;
	m.memory_events = &ev;
	m.io = &io;
	r.metrics = &m;
	proto_call_reply(call, &r.base);
	return 0;
}

/* ---- GetMetrics -------------------------------------------------------- */

#define AGENT_METRICS_VICTIMS	4
#define AGENT_METRICS_PROGRAMS	32	/* agent.proto: at most 32 */

/* Everything one container's ContainerMetrics points into. */
struct metrics_slot {
	Kiln__Agent__V1__ContainerMetrics	 m;
	uint64_t				 buckets[KILN_RQ_SLOTS];
	uint64_t				 blk_buckets[KILN_RQ_SLOTS];
	Kiln__Agent__V1__OomVictim		 v[AGENT_METRICS_VICTIMS];
	Kiln__Agent__V1__OomVictim		*vp[AGENT_METRICS_VICTIMS];
	struct kiln_oom_event			 ev[AGENT_METRICS_VICTIMS];
};

/* The cgroup v2 id of the container's cgroup is its directory's inode. */
static uint64_t
cg_id(const char *cid)
{
	char path[256];
	struct stat st;

	agent_cgroup_path(path, sizeof path, cid, NULL);
	return stat(path, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

static void
metrics_cgroup(Kiln__Agent__V1__ContainerMetrics *m, const char *cid)
{
	Io__Containerd__Cgroups__V2__CPUStat cpu =
	    IO__CONTAINERD__CGROUPS__V2__CPUSTAT__INIT;
	Io__Containerd__Cgroups__V2__MemoryStat mem =
	    IO__CONTAINERD__CGROUPS__V2__MEMORY_STAT__INIT;
	Io__Containerd__Cgroups__V2__MemoryEvents ev =
	    IO__CONTAINERD__CGROUPS__V2__MEMORY_EVENTS__INIT;

	cg_keyed(cid, "cpu.stat", cpu_fields, ARRAY_SIZE(cpu_fields), &cpu);
	cg_keyed(cid, "memory.stat", mem_fields, ARRAY_SIZE(mem_fields),
	    &mem);
	cg_keyed(cid, "memory.events", event_fields,
	    ARRAY_SIZE(event_fields), &ev);
	m->cpu_usage_usec = cpu.usage_usec;
	m->memory_bytes = cg_value(cid, "memory.current");
	m->memory_limit = cg_value(cid, "memory.max");
	m->pgfault = mem.pgfault;
	m->pgmajfault = mem.pgmajfault;
	m->oom_kills = ev.oom_kill;
	m->cpu_some_usec = psi_total(cg_open(cid, "cpu.pressure"), "some");
	m->memory_some_usec = psi_total(cg_open(cid, "memory.pressure"),
	    "some");
	m->memory_full_usec = psi_total(cg_open(cid, "memory.pressure"),
	    "full");
}

/* A /proc/meminfo line's value in bytes ("MemTotal:  123 kB"). */
static uint64_t
meminfo_bytes(const char *key)
{
	char line[128];
	unsigned long long kb = 0;
	size_t n = strlen(key);
	FILE *f = fopen("/proc/meminfo", "re");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, key, n) == 0 && line[n] == ':') {
			kb = strtoull(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return (uint64_t)kb * 1024;
}

/* CPUs online: the ranges of /sys/devices/system/cpu/online ("0-1,3"). */
static uint32_t
online_cpus(void)
{
	char path[256];
	unsigned a, b;
	uint32_t n = 0;
	FILE *f;
	int c;

	snprintf(path, sizeof path, "%s/devices/system/cpu/online",
	    agent_sysfs);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	while (fscanf(f, "%u", &a) == 1) {
		b = a;
		if ((c = fgetc(f)) == '-') {
			if (fscanf(f, "%u", &b) != 1)
				break;
			c = fgetc(f);
		}
		if (b >= a)
			n += b - a + 1;
		if (c != ',')
			break;
	}
	fclose(f);
	return n;
}

static void
metrics_guest(Kiln__Agent__V1__GuestMetrics *g)
{
	g->online_cpus = online_cpus();
	g->memory_total_bytes = meminfo_bytes("MemTotal");
	g->memory_available_bytes = meminfo_bytes("MemAvailable");
	g->cpu_some_usec = psi_total(fopen("/proc/pressure/cpu", "re"),
	    "some");
	g->memory_some_usec = psi_total(fopen("/proc/pressure/memory", "re"),
	    "some");
	g->memory_full_usec = psi_total(fopen("/proc/pressure/memory", "re"),
	    "full");
}

static void
metrics_bpf(struct agent *a, struct metrics_slot *s)
{
	Kiln__Agent__V1__ContainerMetrics *m = &s->m;
	struct kiln_cg_stats st;
	int i, n;

	/* Zeroed when not tracked (yet): still exactly KILN_RQ_SLOTS. */
	agent_bpf_read(a->bpf, m->cgroup_id, &st);
	m->oncpu_ns = st.oncpu_ns;
	m->context_switches = st.switches;
	memcpy(s->buckets, st.rq_slots, sizeof s->buckets);
	m->n_runq_buckets = KILN_RQ_SLOTS;
	m->runq_buckets = s->buckets;
	m->runq_sum_ns = st.rq_sum_ns;
	m->runq_count = st.rq_count;
	m->page_faults = st.faults;
	m->execs = st.execs;
	m->exits = st.exits;
	m->bpf_oom_kills = st.oom_kills;
	m->blkio_read_bytes = st.blk_read_bytes;
	m->blkio_write_bytes = st.blk_write_bytes;
	m->blkio_read_ios = st.blk_read_ios;
	m->blkio_write_ios = st.blk_write_ios;
	memcpy(s->blk_buckets, st.blk_slots, sizeof s->blk_buckets);
	m->n_blkio_buckets = KILN_RQ_SLOTS;
	m->blkio_buckets = s->blk_buckets;
	m->blkio_sum_ns = st.blk_sum_ns;
	m->net_rx_bytes = st.net_rx_bytes;
	m->net_tx_bytes = st.net_tx_bytes;
	m->net_rx_packets = st.net_rx_packets;
	m->net_tx_packets = st.net_tx_packets;
	m->reclaim_ns = st.reclaim_ns;
	m->reclaim_count = st.reclaim_count;
	n = agent_bpf_victims(a->bpf, m->cgroup_id, s->ev,
	    AGENT_METRICS_VICTIMS);
	for (i = 0; i < n; i++) {
		kiln__agent__v1__oom_victim__init(&s->v[i]);
		s->v[i].pid = s->ev[i].pid;
		s->v[i].comm = s->ev[i].comm;
		s->v[i].time_ns = s->ev[i].time_ns;
		s->vp[i] = &s->v[i];
	}
	m->n_oom_victims = (size_t)n;
	m->oom_victims = s->vp;
}

static void
metrics_fill(struct agent *a, struct agent_container *c,
    struct metrics_slot *s)
{
	kiln__agent__v1__container_metrics__init(&s->m);
	s->m.container_id = c->id;
	s->m.cgroup_id = cg_id(c->id);
	metrics_cgroup(&s->m, c->id);
	metrics_bpf(a, s);
}

/*
 * At most AGENT_MAX_CONTAINERS slots of fixed size: the answer is bounded
 * by construction (about 64 x 400 bytes).
 */
void
agent_metrics_reply(struct agent *a, struct proto_call *call, const char *cid)
{
	Kiln__Agent__V1__MetricsResponse r =
	    KILN__AGENT__V1__METRICS_RESPONSE__INIT;
	Kiln__Agent__V1__MissingSource miss =
	    KILN__AGENT__V1__MISSING_SOURCE__INIT;
	Kiln__Agent__V1__MissingSource *missp = &miss;
	Kiln__Agent__V1__GuestMetrics guest =
	    KILN__AGENT__V1__GUEST_METRICS__INIT;
	Kiln__Agent__V1__ContainerMetrics *mp[AGENT_MAX_CONTAINERS];
	struct agent_bpf_prog progs[AGENT_METRICS_PROGRAMS];
	Kiln__Agent__V1__BpfProgram pm[AGENT_METRICS_PROGRAMS];
	Kiln__Agent__V1__BpfProgram *pp[AGENT_METRICS_PROGRAMS];
	size_t i;
	struct metrics_slot *slots;
	struct agent_container *c;
	size_t n = 0;

	slots = xcalloc(AGENT_MAX_CONTAINERS, sizeof *slots);
	TAILQ_FOREACH(c, &a->containers, entry) {
		if (n == AGENT_MAX_CONTAINERS)
			break;
		if (cid[0] != '\0' && strcmp(cid, c->id) != 0)
			continue;
		metrics_fill(a, c, &slots[n]);
		mp[n] = &slots[n].m;
		n++;
	}
	r.n_containers = n;
	r.containers = mp;
	r.runq_buckets = KILN_RQ_SLOTS;
	metrics_guest(&guest);
	r.guest = &guest;
	r.n_programs = (size_t)agent_bpf_programs(a->bpf, progs,
	    AGENT_METRICS_PROGRAMS);
	for (i = 0; i < r.n_programs; i++) {
		kiln__agent__v1__bpf_program__init(&pm[i]);
		pm[i].name = (char *)(uintptr_t)progs[i].name;
		pm[i].run_ns = progs[i].run_ns;
		pm[i].runs = progs[i].runs;
		pp[i] = &pm[i];
	}
	r.programs = pp;
	if (a->bpf == NULL) {
		miss.source = (char *)"bpf";
		miss.reason = a->bpf_missing[0] != '\0' ? a->bpf_missing :
		    (char *)"not loaded yet";
		r.n_missing = 1;
		r.missing = &missp;
	}
	proto_call_reply(call, &r.base);
	free(slots);
}

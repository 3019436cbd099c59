/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest's eBPF metrics end to end: one VM (TCG here, one vCPU),
 * kiln-agent loads kiln_metrics.bpf.c in the background, and GetMetrics
 * is driven directly over the agent channel. Busy, idle and fork/exec
 * containers check that the kernel-side counters mean what they say.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>

#include "tests/tap.h"
#include "tests/vmtest.h"

#define ARGS(...)	((const char *const[]){ __VA_ARGS__, NULL })
#define BUSY		"while :; do :; done"
#define ZERO		KILN__AGENT__V1__CONTAINER_METRICS__INIT

static struct vmt V;
static bool never;

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Let the guest run for ms while the host loop keeps serving. */
static void
pass(uint64_t ms)
{
	vmt_run_until(&V, &never, ms);
}

/* GetMetrics for cid ("" for all); NULL on an error answer. */
static Kiln__Agent__V1__MetricsResponse *
metrics(const char *cid, struct vmt_reply *rep)
{
	Kiln__Agent__V1__ContainerRef ref = KILN__AGENT__V1__CONTAINER_REF__INIT;
	Kiln__Agent__V1__MetricsResponse *r = NULL;

	ref.container_id = (char *)(uintptr_t)cid;
	if (vmt_call(&V, "GetMetrics", &ref.base,
	    &kiln__agent__v1__metrics_response__descriptor,
	    (ProtobufCMessage **)&r, rep, 30000) < 0)
		return NULL;
	return r;
}

/* One container's values (copied); false if absent. */
static bool
one(const char *cid, Kiln__Agent__V1__ContainerMetrics *out,
    uint64_t *rq)
{
	Kiln__Agent__V1__MetricsResponse *r;
	struct vmt_reply rep;
	bool found = false;

	r = metrics(cid, &rep);
	if (r != NULL && r->n_containers == 1 &&
	    r->containers[0]->n_runq_buckets == r->runq_buckets &&
	    r->runq_buckets <= 64) {
		*out = *r->containers[0];
		memcpy(rq, r->containers[0]->runq_buckets,
		    r->runq_buckets * sizeof *rq);
		found = true;
	}
	if (r != NULL)
		kiln__agent__v1__metrics_response__free_unpacked(r, NULL);
	vmt_reply_fini(&rep);
	return found;
}

/* Waits of at least 1 ms: buckets from slot 11 (>= 1024 us) up. */
static uint64_t
above_1ms(const uint64_t *rq, size_t n)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 11; i < n; i++)
		sum += rq[i];
	return sum;
}

static int
start(const char *id, const char *const *args, struct vmt_reply *wait)
{
	Kiln__Agent__V1__CreateContainerRequest cr =
	    KILN__AGENT__V1__CREATE_CONTAINER_REQUEST__INIT;
	Kiln__Agent__V1__ProcessRef pref = KILN__AGENT__V1__PROCESS_REF__INIT;
	_cleanup_free_ char *spec = vmt_spec(args, true);
	struct vmt_reply rep;

	cr.container_id = pref.container_id = (char *)(uintptr_t)id;
	pref.exec_id = (char *)"";
	cr.rootfs_tag = (char *)VMT_TAG;
	cr.spec_json.data = (uint8_t *)spec;
	cr.spec_json.len = strlen(spec);
	if (vmt_call(&V, "CreateContainer", &cr.base, NULL, NULL, &rep,
	    60000) < 0) {
		diag("%s: create: %s", id, rep.message);
		return -1;
	}
	vmt_call_async(&V, "WaitProcess", &pref.base, wait);
	if (vmt_call(&V, "StartProcess", &pref.base, NULL, NULL, &rep,
	    60000) < 0) {
		diag("%s: start: %s", id, rep.message);
		return -1;
	}
	return 0;
}

/* SIGKILL everything in it, wait for init, remove it. */
static void
stop(const char *id, struct vmt_reply *wait)
{
	Kiln__Agent__V1__SignalRequest sr = KILN__AGENT__V1__SIGNAL_REQUEST__INIT;
	Kiln__Agent__V1__ContainerRef ref = KILN__AGENT__V1__CONTAINER_REF__INIT;
	struct vmt_reply rep;

	sr.container_id = ref.container_id = (char *)(uintptr_t)id;
	sr.exec_id = (char *)"";
	sr.signal = 9;
	sr.all = true;
	if (!wait->done)
		vmt_call(&V, "SignalProcess", &sr.base, NULL, NULL, &rep, 30000);
	vmt_run_until(&V, &wait->done, 60000);
	vmt_reply_fini(wait);
	ok(vmt_call(&V, "RemoveContainer", &ref.base, NULL, NULL, &rep,
	    60000) == 0, "%s: removed (%s)", id, rep.message);
}

/* The programs load in the background: poll until "bpf" is not missing. */
static bool
wait_bpf(void)
{
	Kiln__Agent__V1__MetricsResponse *r;
	struct vmt_reply rep;
	uint64_t t0 = mono_ns();
	bool loaded = false;
	int i;

	for (i = 0; i < 120 && !loaded; i++) {
		r = metrics("", &rep);
		loaded = r != NULL && r->n_missing == 0;
		if (r != NULL && r->n_missing > 0 && i % 20 == 0)
			diag("missing %s: %s", r->missing[0]->source,
			    r->missing[0]->reason);
		if (r != NULL)
			kiln__agent__v1__metrics_response__free_unpacked(r,
			    NULL);
		vmt_reply_fini(&rep);
		if (!loaded)
			pass(500);
	}
	diag("bpf attached %.1f s after the first GetMetrics",
	    (double)(mono_ns() - t0) / 1e9);
	return loaded;
}

static void
test_malformed(void)
{
	Kiln__Agent__V1__MetricsResponse *r;
	struct vmt_reply rep;
	char longid[300];

	r = metrics("../etc", &rep);
	ok(r == NULL && rep.code == PROTO_INVALID_ARGUMENT,
	    "GetMetrics: a path-like id is INVALID_ARGUMENT (%s)",
	    rep.message);
	r = metrics("nosuch", &rep);
	ok(r == NULL && rep.code == PROTO_NOT_FOUND,
	    "GetMetrics: an unknown container is NOT_FOUND (%s)",
	    rep.message);
	memset(longid, 'a', sizeof longid - 1);
	longid[sizeof longid - 1] = '\0';
	r = metrics(longid, &rep);
	ok(r == NULL && rep.code == PROTO_INVALID_ARGUMENT,
	    "GetMetrics: a 299-byte id is INVALID_ARGUMENT (%s)",
	    rep.message);
	r = metrics("", &rep);
	ok(r != NULL && r->n_containers == 0 && r->runq_buckets == 24,
	    "GetMetrics: no container, an empty answer with 24 buckets");
	if (r != NULL)
		kiln__agent__v1__metrics_response__free_unpacked(r, NULL);
	vmt_reply_fini(&rep);
}

/* Values of cid now and ms later (the container runs meanwhile). */
static void
window(const char *cid, uint64_t ms, Kiln__Agent__V1__ContainerMetrics *a,
    uint64_t *rqa, Kiln__Agent__V1__ContainerMetrics *b, uint64_t *rqb,
    double *wall)
{
	uint64_t t0;

	pass(1000);
	one(cid, a, rqa);
	t0 = mono_ns();
	pass(ms);
	one(cid, b, rqb);
	*wall = (double)(mono_ns() - t0) / 1e9;
}

/*
 * One container at a time (the rootfs tag mounts once). A busy loop alone
 * on the vCPU: on-CPU time grows by about the wall time. Two busy loops
 * sharing it: waits above 1 ms. A mostly sleeping container: wakes up
 * often, waits stay below 1 ms.
 */
static void
test_busy_and_runqueue(void)
{
	Kiln__Agent__V1__ContainerMetrics a = ZERO, b = ZERO;
	uint64_t rqa[64] = { 0 }, rqb[64] = { 0 };
	struct vmt_reply w;
	double wall, ratio;

	ok(start("busy", ARGS("sh", "-c", BUSY), &w) == 0, "busy: started");
	window("busy", 4000, &a, rqa, &b, rqb, &wall);
	ratio = (double)(b.oncpu_ns - a.oncpu_ns) / 1e9 / wall;
	ok(ratio > 0.5 && ratio < 1.3, "busy: on-CPU time grew %.2f s in "
	    "%.2f s of wall time (ratio %.2f)", (double)(b.oncpu_ns -
	    a.oncpu_ns) / 1e9, wall, ratio);
	diag("busy: cgroup cpu.stat grew %.2f s, %llu switches",
	    (double)(b.cpu_usage_usec - a.cpu_usage_usec) / 1e6,
	    (unsigned long long)(b.context_switches - a.context_switches));
	ok(b.cgroup_id != 0 && b.cgroup_id == a.cgroup_id,
	    "busy: keyed by its cgroup id (%llu)",
	    (unsigned long long)b.cgroup_id);
	stop("busy", &w);

	ok(start("pair", ARGS("sh", "-c", BUSY " & " BUSY), &w) == 0,
	    "pair: two busy loops started");
	window("pair", 4000, &a, rqa, &b, rqb, &wall);
	ok(above_1ms(rqb, 24) - above_1ms(rqa, 24) >= 10,
	    "pair: %llu run-queue waits above 1 ms (mean %.2f ms)",
	    (unsigned long long)(above_1ms(rqb, 24) - above_1ms(rqa, 24)),
	    b.runq_count > a.runq_count ? (double)(b.runq_sum_ns -
	    a.runq_sum_ns) / 1e6 / (double)(b.runq_count - a.runq_count) :
	    0.0);
	stop("pair", &w);

	ok(start("idle", ARGS("sh", "-c", "while :; do sleep 0.2; done"),
	    &w) == 0, "idle: started");
	window("idle", 3000, &a, rqa, &b, rqb, &wall);
	/* A loaded host (TCG under ASan) delays a few wakeups: a tenth. */
	ok(b.runq_count - a.runq_count >= 10 && above_1ms(rqb, 24) -
	    above_1ms(rqa, 24) <= (b.runq_count - a.runq_count) / 10,
	    "idle: %llu wakeups, %llu waits above "
	    "1 ms (mean %.3f ms)", (unsigned long long)(b.runq_count -
	    a.runq_count), (unsigned long long)(above_1ms(rqb, 24) -
	    above_1ms(rqa, 24)), b.runq_count > a.runq_count ?
	    (double)(b.runq_sum_ns - a.runq_sum_ns) / 1e6 /
	    (double)(b.runq_count - a.runq_count) : 0.0);
	stop("idle", &w);
}

/* 50 execs of true from a shell: at least 50 execs and exits counted. */
static void
test_exec_loop(void)
{
	Kiln__Agent__V1__ContainerMetrics m = ZERO;
	uint64_t rq[64] = { 0 };
	struct vmt_reply w;

	ok(start("execs", ARGS("sh", "-c", "i=0; while [ $i -lt 50 ]; do "
	    "/bin/true; i=$((i+1)); done"), &w) == 0, "execs: started");
	ok(vmt_run_until(&V, &w.done, 120000) && w.code == 0,
	    "execs: the loop finished");
	one("execs", &m, rq);
	ok(m.execs >= 50 && m.exits >= 50, "execs: %llu execs, %llu exits counted",
	    (unsigned long long)m.execs, (unsigned long long)m.exits);
	ok(m.page_faults > 0, "execs: %llu user page faults (cgroup "
	    "pgfault %llu)", (unsigned long long)m.page_faults,
	    (unsigned long long)m.pgfault);
	stop("execs", &w);
}

/* BPF_ENABLE_STATS: each program's run time, sched_switch's above 0. */
static void
test_program_stats(void)
{
	Kiln__Agent__V1__MetricsResponse *r = NULL;
	struct vmt_reply rep;
	uint64_t ns = 0, runs = 0, all_ns = 0;
	size_t i, n = 0;

	r = metrics("", &rep);
	if (r != NULL) {
		n = r->n_programs;
		for (i = 0; i < n; i++) {
			all_ns += r->programs[i]->run_ns;
			if (strcmp(r->programs[i]->name, "kiln_switch") == 0) {
				ns = r->programs[i]->run_ns;
				runs = r->programs[i]->runs;
			}
		}
		kiln__agent__v1__metrics_response__free_unpacked(r, NULL);
	}
	vmt_reply_fini(&rep);
	ok(n >= 10 && runs > 0 && ns > 0, "bpf: %zu programs with run-time "
	    "statistics; kiln_switch ran %llu times, %.0f ns each; all "
	    "programs %.3f s", n, (unsigned long long)runs, runs > 0 ?
	    (double)ns / (double)runs : 0.0, (double)all_ns / 1e9);
}

/*
 * A guest whose programs cannot load (CO-RE against a BTF file that is
 * not there): GetMetrics names bpf as missing with the reason, once the
 * load was tried, and still serves the cgroup values.
 */
static void
test_load_failure(const char *rootfs)
{
	Kiln__Agent__V1__ContainerMetrics m = ZERO;
	Kiln__Agent__V1__MetricsResponse *r;
	uint64_t rq[64] = { 0 };
	struct vmt_reply rep, w;
	struct err err = { 0 };
	char reason[256] = "";
	int i;

	setenv("KILN_GUEST_CMDLINE", "kiln.bpf_btf=/nonexistent/vmlinux", 1);
	if (!ok(vmt_init(&V, &err) == 0 && vmt_boot(&V, rootfs, &err) == 0,
	    "a guest told to use a BTF file that is not there boots (%s)",
	    err.msg))
		return;
	for (i = 0; i < 120 && (reason[0] == '\0' ||
	    strcmp(reason, "not loaded yet") == 0); i++) {
		r = metrics("", &rep);
		if (r != NULL && r->n_missing == 1)
			snprintf(reason, sizeof reason, "%s",
			    r->missing[0]->reason);
		if (r != NULL)
			kiln__agent__v1__metrics_response__free_unpacked(r,
			    NULL);
		vmt_reply_fini(&rep);
		if (reason[0] == '\0' || strcmp(reason, "not loaded yet") == 0)
			pass(500);
	}
	ok(strstr(reason, "/nonexistent/vmlinux") != NULL &&
	    strstr(reason, "No such file") != NULL, "bpf load failure: "
	    "GetMetrics says why (%s)", reason);
	ok(start("nobpf", ARGS("sh", "-c", "i=0; while [ $i -lt 200000 ]; "
	    "do i=$((i+1)); done"), &w) == 0 && vmt_run_until(&V, &w.done,
	    120000) && one("nobpf", &m, rq) && m.cpu_usage_usec > 0 &&
	    m.oncpu_ns == 0, "bpf load failure: the cgroup values still come "
	    "(cpu %llu us, eBPF on-CPU %llu ns)",
	    (unsigned long long)m.cpu_usage_usec,
	    (unsigned long long)m.oncpu_ns);
	stop("nobpf", &w);
	ok(vmt_shutdown(&V, &err) == 0, "that guest shut down (%s)", err.msg);
	vmt_fini(&V);
	unsetenv("KILN_GUEST_CMDLINE");
}

int
main(void)
{
	char rootfs[64] = "/tmp/kiln-rootfs-XXXXXX", cmd[256];
	struct err err = { 0 };

	log_init("t_bpf", LOG_LVL_WARN, 2);
	if (mkdtemp(rootfs) == NULL)
		return 1;
	snprintf(cmd, sizeof cmd, "tests/e2e/lib/mkbusybox-rootfs.sh %s",
	    rootfs);
	ok(system(cmd) == 0, "busybox rootfs built in %s", rootfs);
	ok(vmt_init(&V, &err) == 0, "driver ready");
	if (!ok(vmt_boot(&V, rootfs, &err) == 0, "VM boots (%s)", err.msg)) {
		vmt_fini(&V);
		return tap_done();
	}
	test_malformed();
	if (ok(wait_bpf(), "bpf: programs loaded and attached in the guest")) {
		test_busy_and_runqueue();
		test_exec_loop();
		test_program_stats();
	}
	ok(vmt_shutdown(&V, &err) == 0, "guest shut down (%s)", err.msg);
	vmt_fini(&V);
	test_load_failure(rootfs);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", rootfs);
	(void)system(cmd);
	return tap_done();
}

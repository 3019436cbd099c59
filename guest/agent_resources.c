/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the guest does when the host resizes its VM: hot-added CPUs arrive
 * offline and are onlined here (idempotent: an online CPU is left as it
 * is), the agent widens its own CPU affinity so the processes it starts
 * next may use them, memory blocks that virtio-mem adds online themselves
 * as movable (set at boot, so they can be taken back), and a container's
 * cgroup v2 limits (memory.max, cpu.max) follow the host's Update. The
 * host checks the figures it gets back; it does not take our word.
 */
#include <dirent.h>
#include <stdlib.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "guest/agent.h"

#define CPU_DIR		"/sys/devices/system/cpu"
#define AUTO_ONLINE	"/sys/devices/system/memory/auto_online_blocks"

int
agent_write_file(const char *path, const char *text, struct err *err)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write_all(fd, text, strlen(text)) < 0)
		return err_set(err, errno, "write %s: %m", path);
	return 0;
}

void
agent_resources_init(void)
{
	struct err err;

	/* online_movable: blocks that can be unplugged again. */
	if (agent_write_file(AUTO_ONLINE, "online_movable", &err) < 0)
		log_warnx("%s", err.msg);
}

static int
cpu_cmp(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* The numbers of the present CPUs, sorted; cpu0 first. */
static int
present_cpus(int *out, int max)
{
	DIR *d = opendir(CPU_DIR);
	struct dirent *e;
	char *end;
	long v;
	int n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL && n < max) {
		if (strncmp(e->d_name, "cpu", 3) != 0)
			continue;
		v = strtol(e->d_name + 3, &end, 10);
		if (end != e->d_name + 3 && *end == '\0' && v >= 0 && v < 4096)
			out[n++] = (int)v;
	}
	closedir(d);
	qsort(out, (size_t)n, sizeof *out, cpu_cmp);
	return n;
}

static void
cpu_set_online(int cpu, bool on)
{
	char path[96], state[4] = "";
	struct err err;
	int fd;

	snprintf(path, sizeof path, CPU_DIR "/cpu%d/online", cpu);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;		/* cpu0: always online */
	(void)!read(fd, state, sizeof state - 1);
	close(fd);
	if ((state[0] == '1') != on && agent_write_file(path, on ? "1" : "0",
	    &err) < 0)
		log_warnx("%s", err.msg);
}

/*
 * The first target present CPUs online, the rest offline (0: all
 * online). Idempotent. Offlining is how the VM shrinks under TCG, where
 * QEMU 7.2 cannot take a vCPU back safely (see docs/resources.md).
 */
static void
online_cpus(uint32_t target)
{
	int cpus[256], n = present_cpus(cpus, 256), i;

	for (i = 0; i < n; i++)
		cpu_set_online(cpus[i], target == 0 || (uint32_t)i < target);
}

/* The agent's children (crun, so containers and execs) get every CPU. */
static void
widen_affinity(void)
{
	cpu_set_t set;
	long n = sysconf(_SC_NPROCESSORS_CONF), i;

	CPU_ZERO(&set);
	for (i = 0; i < n && i < CPU_SETSIZE; i++)
		CPU_SET((int)i, &set);
	(void)sched_setaffinity(0, sizeof set, &set);
}

static uint64_t
mem_total_bytes(void)
{
	char line[128];
	unsigned long long kib = 0;
	FILE *f = fopen("/proc/meminfo", "re");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "MemTotal: %llu kB", &kib) == 1)
			break;
	fclose(f);
	return (uint64_t)kib * 1024;
}

static int
cgroup_write(const char *cid, const char *file, const char *value,
    struct err *err)
{
	char path[256];

	agent_cgroup_path(path, sizeof path, cid, file);
	return agent_write_file(path, value, err);
}

static int64_t
cgroup_memory_max(const char *cid)
{
	char path[256], text[32] = "";
	long long v;
	FILE *f;

	agent_cgroup_path(path, sizeof path, cid, "memory.max");
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	if (fgets(text, sizeof text, f) == NULL)
		text[0] = '\0';
	fclose(f);
	if (strncmp(text, "max", 3) == 0)
		return -1;
	return sscanf(text, "%lld", &v) == 1 ? v : 0;
}

static int
set_limits(const Kiln__Agent__V1__ResourcesRequest *r, struct err *err)
{
	char v[64];

	if (r->memory_limit != 0) {
		if (r->memory_limit < 0)
			snprintf(v, sizeof v, "max");
		else
			snprintf(v, sizeof v, "%" PRId64, r->memory_limit);
		if (cgroup_write(r->container_id, "memory.max", v, err) < 0)
			return -1;
	}
	if (r->cpu_quota != 0) {
		uint64_t period = r->cpu_period != 0 ? r->cpu_period : 100000;

		if (r->cpu_quota < 0)
			snprintf(v, sizeof v, "max %" PRIu64, period);
		else
			snprintf(v, sizeof v, "%" PRId64 " %" PRIu64,
			    r->cpu_quota, period);
		if (cgroup_write(r->container_id, "cpu.max", v, err) < 0)
			return -1;
	}
	return 0;
}

static int
resources_check(struct agent *a, const Kiln__Agent__V1__ResourcesRequest *r,
    struct err *err)
{
	if (r->container_id[0] != '\0' &&
	    (!ident_valid(r->container_id, PROTO_ID_MAX) ||
	    agent_container_find(a, r->container_id) == NULL))
		return err_set(err, ENOENT, "container %s: not found",
		    r->container_id);
	if (r->memory_limit < -1 || (r->memory_limit > 0 &&
	    r->memory_limit < 4096) || r->cpu_quota < -1 ||
	    (r->cpu_quota > 0 && r->cpu_quota < 1000) ||
	    r->cpu_period > 1000000 || (r->cpu_period != 0 &&
	    r->cpu_period < 1000) || r->target_cpus > 256)
		return err_set(err, EINVAL, "resources out of range");
	return 0;
}

struct resources_job {
	struct agent		*a;
	struct proto_call	*call;
	char			 cid[PROTO_ID_MAX + 1];
	struct reactor_child	*child;
};

static void
resources_reply(struct agent *a, struct proto_call *call, const char *cid)
{
	Kiln__Agent__V1__ResourcesResponse rep =
	    KILN__AGENT__V1__RESOURCES_RESPONSE__INIT;

	(void)a;
	rep.online_cpus = (uint32_t)sysconf(_SC_NPROCESSORS_ONLN);
	rep.mem_total_bytes = mem_total_bytes();
	if (cid[0] != '\0')
		rep.memory_max = cgroup_memory_max(cid);
	proto_call_reply(call, &rep.base);
}

static void
resources_job_free_cb(void *arg)
{
	struct resources_job *j = arg;

	reactor_child_free(j->child);
	free(j);
}

static void
resources_onlined_cb(pid_t pid, int status, void *arg)
{
	struct resources_job *j = arg;

	(void)pid;
	if (status != 0)
		log_warnx("cpu onlining helper ended with status 0x%x", status);
	widen_affinity();
	resources_reply(j->a, j->call, j->cid);
	reactor_defer(j->a->r, resources_job_free_cb, j);
}

/*
 * Writing a CPU's online file returns only once the kernel has brought it
 * up or down, seconds under TCG: a child does it, PID 1 keeps serving.
 */
static int
resources_online_async(struct agent *a, struct proto_call *call,
    const Kiln__Agent__V1__ResourcesRequest *r, struct err *err)
{
	struct resources_job *j;
	pid_t pid = fork();

	if (pid < 0)
		return err_set(err, errno, "fork: %m");
	if (pid == 0) {
		online_cpus(r->target_cpus);
		_exit(0);
	}
	j = xcalloc(1, sizeof *j);
	j->a = a;
	j->call = call;
	str_copy(j->cid, r->container_id, sizeof j->cid);
	j->child = reactor_child_new(a->r, pid, resources_onlined_cb, j);
	return 0;
}

void
agent_update_resources(struct agent *a, struct proto_call *call,
    const Kiln__Agent__V1__ResourcesRequest *r)
{
	struct err err;

	if (resources_check(a, r, &err) < 0)
		return proto_call_fail_err(call, &err);
	if (r->container_id[0] != '\0' && set_limits(r, &err) < 0)
		return proto_call_fail_err(call, &err);
	if (r->online) {
		if (resources_online_async(a, call, r, &err) < 0)
			proto_call_fail_err(call, &err);
		return;
	}
	resources_reply(a, call, r->container_id);
}

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
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "guest/agent.h"

#define CPU_DIR		"/sys/devices/system/cpu"
#define AUTO_ONLINE	"/sys/devices/system/memory/auto_online_blocks"

static int
file_write(const char *path, const char *text, struct err *err)
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
	if (file_write(AUTO_ONLINE, "online_movable", &err) < 0)
		log_warnx("%s", err.msg);
}

/* Online every present CPU that is offline; cpu0 has no online file. */
static void
online_cpus(void)
{
	DIR *d = opendir(CPU_DIR);
	struct dirent *e;
	char path[300], state[4];
	struct err err;
	int fd;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "cpu", 3) != 0 ||
		    e->d_name[3] < '0' || e->d_name[3] > '9')
			continue;
		snprintf(path, sizeof path, CPU_DIR "/%s/online", e->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		memset(state, 0, sizeof state);
		(void)!read(fd, state, sizeof state - 1);
		close(fd);
		if (state[0] == '0' && file_write(path, "1", &err) < 0)
			log_warnx("%s", err.msg);
	}
	closedir(d);
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

	snprintf(path, sizeof path, "/sys/fs/cgroup/%s/%s/%s",
	    AGENT_CGROUP_PARENT, cid, file);
	return file_write(path, value, err);
}

static int64_t
cgroup_memory_max(const char *cid)
{
	char path[256], text[32] = "";
	long long v;
	FILE *f;

	snprintf(path, sizeof path, "/sys/fs/cgroup/%s/%s/memory.max",
	    AGENT_CGROUP_PARENT, cid);
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
	    r->cpu_period < 1000))
		return err_set(err, EINVAL, "resources out of range");
	return 0;
}

void
agent_update_resources(struct agent *a, struct proto_call *call,
    const Kiln__Agent__V1__ResourcesRequest *r)
{
	Kiln__Agent__V1__ResourcesResponse rep =
	    KILN__AGENT__V1__RESOURCES_RESPONSE__INIT;
	struct err err;

	if (resources_check(a, r, &err) < 0)
		return proto_call_fail_err(call, &err);
	if (r->online) {
		online_cpus();
		widen_affinity();
	}
	if (r->container_id[0] != '\0' && set_limits(r, &err) < 0)
		return proto_call_fail_err(call, &err);
	rep.online_cpus = (uint32_t)sysconf(_SC_NPROCESSORS_ONLN);
	rep.mem_total_bytes = mem_total_bytes();
	if (r->container_id[0] != '\0')
		rep.memory_max = cgroup_memory_max(r->container_id);
	proto_call_reply(call, &rep.base);
}

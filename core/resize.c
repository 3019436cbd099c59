/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VM's size follows the container's limits. At Create the VM is sized
 * from the spec (vCPUs = ceil(quota / period), else the cpuset's size,
 * else the default; memory = the limit + a guest overhead), bounded by the
 * config's maxima, and QEMU gets room to grow (maxcpus, a virtio-mem
 * device). An Update (containerd's Task/Update, CRI's
 * UpdateContainerResources) resizes the running VM: the cpu machine
 * hot-adds or removes vCPUs, the memory machine sets virtio-mem's
 * requested size and waits for the guest, then the agent sets the
 * container's cgroup limits. Updates are served one at a time; one that
 * fails is answered with its reason after the previous size is restored.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/core_int.h"

/* One machine's whole step; bringing a vCPU up takes seconds under TCG. */
#define RESIZE_STEP_MS	180000
#define RESIZE_AGENT_MS	150000
#define RESIZE_POLL_MS	100

/* ---- sizing ------------------------------------------------------------- */

/* "0-3,6" → 5; -1 if malformed. */
static int
cpuset_count(const char *s)
{
	unsigned long a, b;
	int n = 0;
	char *end;

	while (*s != '\0') {
		a = strtoul(s, &end, 10);
		if (end == s)
			return -1;
		b = a;
		if (*end == '-') {
			s = end + 1;
			b = strtoul(s, &end, 10);
			if (end == s || b < a)
				return -1;
		}
		n += (int)(b - a + 1);
		if (*end == ',')
			end++;
		else if (*end != '\0')
			return -1;
		s = end;
	}
	return n;
}

static int
size_cpu(const json_t *cpu, const struct core_config *cfg,
    struct core_size *sz, struct err *err)
{
	json_int_t quota = json_integer_value(json_object_get(cpu, "quota"));
	json_int_t period = json_integer_value(json_object_get(cpu, "period"));
	const char *cpus = json_string_value(json_object_get(cpu, "cpus"));
	int n;

	sz->vcpus = cfg->vcpus;
	if (period <= 0)
		period = 100000;
	if (quota > 0) {
		sz->vcpus = (unsigned)((quota + period - 1) / period);
		sz->cpu_quota = quota;
		sz->cpu_period = (uint64_t)period;
		sz->cpu_given = true;
	} else if (cpus != NULL && cpus[0] != '\0') {
		if ((n = cpuset_count(cpus)) <= 0)
			return err_set(err, EINVAL, "cpu.cpus %s: not a cpu "
			    "list", cpus);
		sz->vcpus = (unsigned)n;
		sz->cpu_given = true;
	}
	return 0;
}

int
core_size_from(const json_t *res, const struct core_config *cfg,
    bool refuse_over_max, struct core_size *sz, struct err *err)
{
	json_int_t limit = json_integer_value(json_object_get(
	    json_object_get(res, "memory"), "limit"));

	memset(sz, 0, sizeof *sz);
	if (size_cpu(json_object_get(res, "cpu"), cfg, sz, err) < 0)
		return -1;
	sz->mem_mib = cfg->mem_mib;
	sz->mem_given = limit != 0;
	/*
	 * The limit plus the guest's own, but never below the default: a
	 * small limit is the container's cgroup's business, and the guest
	 * needs its default memory to boot at all.
	 */
	if (limit > 0) {
		sz->mem_limit = limit;
		sz->mem_mib = (unsigned)((limit + MIB - 1) / MIB) +
		    cfg->mem_overhead_mib;
		if (sz->mem_mib < cfg->mem_mib)
			sz->mem_mib = cfg->mem_mib;
	} else if (limit < 0)
		sz->mem_limit = -1;
	if (refuse_over_max && (sz->vcpus > cfg->max_vcpus ||
	    sz->mem_mib > cfg->max_mem_mib))
		return err_set(err, ERANGE, "%u vCPUs and %u MiB asked for: "
		    "the maximum is %u vCPUs and %u MiB (config max_vcpus, "
		    "max_memory_mib)", sz->vcpus, sz->mem_mib, cfg->max_vcpus,
		    cfg->max_mem_mib);
	if (sz->vcpus > cfg->max_vcpus)
		sz->vcpus = cfg->max_vcpus;
	if (sz->mem_mib > cfg->max_mem_mib)
		sz->mem_mib = cfg->max_mem_mib;
	if (sz->vcpus < 1)
		sz->vcpus = 1;
	sz->mem_mib = (sz->mem_mib + 1) & ~1u;	/* virtio-mem's 2 MiB blocks */
	return 0;
}

/* ---- the resizer -------------------------------------------------------- */

static void
resize_cpu_timer_cb(void *arg)
{
	struct core_resize *rz = arg;
	struct err err;

	snprintf(rz->error, sizeof rz->error, "cpu: timed out in %s",
	    fsm_state_name(&cpu_rz_fsm_def, rz->cpu.state));
	(void)fsm_dispatch(&rz->cpu, CPU_RZ_EV_TIMEOUT, NULL, &err);
}

static void
resize_mem_timer_cb(void *arg)
{
	struct core_resize *rz = arg;
	struct err err;

	snprintf(rz->error, sizeof rz->error, "memory: the guest holds "
	    "%" PRIu64 " MiB of virtio-mem, %" PRIu64 " asked for",
	    rz->mem_plugged / MIB, rz->mem_requested / MIB);
	(void)fsm_dispatch(&rz->mem, MEM_RZ_EV_TIMEOUT, NULL, &err);
}

static void
resize_cpu_poll_cb(void *arg)
{
	struct core_resize *rz = arg;
	struct err err;

	(void)fsm_dispatch(&rz->cpu, CPU_RZ_EV_POLL, NULL, &err);
}

static void
resize_mem_poll_cb(void *arg)
{
	struct core_resize *rz = arg;
	struct err err;

	(void)fsm_dispatch(&rz->mem, MEM_RZ_EV_POLL, NULL, &err);
}

static void	resize_req_end(struct resize_req *, bool ok, const char *why);

/*
 * What the scaler may grow to: the container's own limit where it set one
 * (the size it asked for), else the config's maximum.
 */
static void
resize_caps(struct core_resize *rz, const struct core_size *sz)
{
	const struct core_config *cfg = &rz->t->shim->cfg;
	bool limited = sz->mem_given && sz->mem_limit > 0;	/* -1: none */

	if (sz->cpu_given || rz->cap_vcpus == 0)
		rz->cap_vcpus = sz->cpu_given ? sz->vcpus : cfg->max_vcpus;
	if (sz->mem_given || rz->cap_mem == 0)
		rz->cap_mem = limited ? sz->mem_mib : cfg->max_mem_mib;
	/*
	 * Memory within a container's limit is never taken back: the guest
	 * would OOM-kill it below what its cgroup allows. So the scaler
	 * moves memory only for containers without a limit.
	 */
	if (sz->mem_given || rz->floor_mem == 0)
		rz->floor_mem = limited ? sz->mem_mib : rz->boot_mem;
	if (rz->cap_vcpus < rz->boot_vcpus)
		rz->cap_vcpus = rz->boot_vcpus;
	if (rz->cap_mem < rz->boot_mem)
		rz->cap_mem = rz->boot_mem;
}

struct core_resize *
core_resize_new(struct task *t, const struct core_size *boot)
{
	struct core_resize *rz = xcalloc(1, sizeof *rz);
	struct reactor *r = t->shim->r;
	char id[FSM_ID_MAX];

	rz->t = t;
	rz->boot_vcpus = rz->vcpus = boot->vcpus;
	rz->boot_mem = rz->mem_mib = boot->mem_mib;
	rz->prev = *boot;
	snprintf(rz->limits_cid, sizeof rz->limits_cid, "%s", t->id);
	rz->cap_vcpus = rz->cap_mem = 0;
	resize_caps(rz, boot);
	/*
	 * QEMU 7.2 under TCG corrupts its heap when a vCPU is plugged
	 * again after one was unplugged (measured: "malloc(): unsorted
	 * double linked list corrupted"): there the guest offlines instead.
	 */
	rz->unplug = t->vm != NULL && strcmp(t->vm->accel, "kvm") == 0;
	TAILQ_INIT(&rz->queue);
	rz->cpu_timer = reactor_timer_new(r, resize_cpu_timer_cb, rz);
	rz->mem_timer = reactor_timer_new(r, resize_mem_timer_cb, rz);
	rz->cpu_poll = reactor_timer_new(r, resize_cpu_poll_cb, rz);
	rz->mem_poll = reactor_timer_new(r, resize_mem_poll_cb, rz);
	snprintf(id, sizeof id, "%s/cpu", t->id);
	fsm_init(&rz->cpu, &cpu_rz_fsm_def, t->shim->env, id, rz);
	snprintf(id, sizeof id, "%s/mem", t->id);
	fsm_init(&rz->mem, &mem_rz_fsm_def, t->shim->env, id, rz);
	return rz;
}

static void
resize_cancel_calls(struct core_resize *rz)
{
	vm_calls_cancel(rz->t->vm, &rz->qmp_id, &rz->agent_id);
}

void
core_resize_free(struct core_resize *rz)
{
	struct resize_req *q;

	if (rz == NULL)
		return;
	resize_cancel_calls(rz);
	if (rz->cur != NULL)
		TAILQ_INSERT_HEAD(&rz->queue, rz->cur, entry);
	while ((q = TAILQ_FIRST(&rz->queue)) != NULL) {
		TAILQ_REMOVE(&rz->queue, q, entry);
		resize_req_end(q, false, "task deleted");
	}
	reactor_timer_free(rz->cpu_timer);
	reactor_timer_free(rz->mem_timer);
	reactor_timer_free(rz->cpu_poll);
	reactor_timer_free(rz->mem_poll);
	json_decref(rz->free_slot);
	free(rz->slot_type);
	fsm_fini(&rz->cpu);
	fsm_fini(&rz->mem);
	free(rz);
}

void
core_resize_forget(struct core_resize *rz, void *arg)
{
	struct resize_req *q;

	if (rz == NULL)
		return;
	if (rz->cur != NULL && rz->cur->done_arg == arg)
		rz->cur->done = NULL;
	TAILQ_FOREACH(q, &rz->queue, entry)
		if (q->done_arg == arg)
			q->done = NULL;
}

void
core_resize_vm_gone(struct core_resize *rz)
{
	if (rz == NULL)
		return;
	fsm_post(&rz->cpu, CPU_RZ_EV_VM_GONE, NULL, 0);
	fsm_post(&rz->mem, MEM_RZ_EV_VM_GONE, NULL, 0);
}

/* The container whose cgroup limits the request in progress sets. */
static const char *
resize_limits_cid(const struct core_resize *rz)
{
	return rz->cur != NULL && rz->cur->cid[0] != '\0' ? rz->cur->cid :
	    rz->t->id;
}

/* The next queued Update starts with the cpu machine. */
static void
resize_next(struct core_resize *rz)
{
	if (rz->cur != NULL || (rz->cur = TAILQ_FIRST(&rz->queue)) == NULL)
		return;
	TAILQ_REMOVE(&rz->queue, rz->cur, entry);
	rz->prev = rz->want;
	rz->prev.vcpus = rz->vcpus;
	rz->prev.mem_mib = rz->mem_mib;
	rz->want = rz->cur->size;
	/* The previous limits were another container's: leave this one's. */
	if (strcmp(rz->limits_cid, resize_limits_cid(rz)) != 0) {
		rz->prev.mem_limit = 0;
		rz->prev.cpu_quota = 0;
		snprintf(rz->limits_cid, sizeof rz->limits_cid, "%s",
		    resize_limits_cid(rz));
	}
	if (rz->want.vcpus == 0)
		rz->want.vcpus = rz->vcpus;
	if (rz->want.mem_mib == 0)
		rz->want.mem_mib = rz->mem_mib;
	/* Never below the boot size: the cgroup limits the container. */
	if (rz->want.vcpus < rz->boot_vcpus)
		rz->want.vcpus = rz->boot_vcpus;
	if (rz->want.mem_mib < rz->boot_mem)
		rz->want.mem_mib = rz->boot_mem;
	rz->restoring = false;
	rz->error[0] = '\0';
	fsm_post(&rz->cpu, CPU_RZ_EV_RESIZE, NULL, 0);
}

void
core_resize_update(struct core_resize *rz, struct proto_call *call,
    const json_t *res)
{
	struct err err;
	struct core_size sz;

	if (core_size_from(res, &rz->t->shim->cfg, true, &sz, &err) < 0)
		return (void)proto_call_fail(call, PROTO_INVALID_ARGUMENT,
		    "update %s: %s", rz->t->id, err.msg);
	/*
	 * What the request leaves out keeps the size the VM has when the
	 * request runs (0: resolved in resize_next), whatever came between:
	 * an Update queued before it or a scaler step.
	 */
	if (!sz.cpu_given) {
		sz.vcpus = 0;
		sz.cpu_quota = 0;
	}
	if (!sz.mem_given)
		sz.mem_mib = 0;
	core_resize_queue(rz, &sz, NULL, call, NULL, NULL);
}

void
core_resize_queue(struct core_resize *rz, const struct core_size *sz,
    const char *cid, struct proto_call *call, core_resize_done_fn done,
    void *arg)
{
	struct resize_req *q = xcalloc(1, sizeof *q);

	resize_caps(rz, sz);
	q->call = call;
	q->done = done;
	q->done_arg = arg;
	q->size = *sz;
	if (cid != NULL)
		snprintf(q->cid, sizeof q->cid, "%s", cid);
	TAILQ_INSERT_TAIL(&rz->queue, q, entry);
	resize_next(rz);
}

void
core_resize_scale(struct core_resize *rz, unsigned vcpus, unsigned mem_mib,
    core_resize_done_fn done, void *arg)
{
	struct resize_req *q = xcalloc(1, sizeof *q);

	/* No limits given: the agent leaves the cgroup's as they are. */
	q->size.vcpus = vcpus;
	q->size.mem_mib = mem_mib;
	q->done = done;
	q->done_arg = arg;
	TAILQ_INSERT_TAIL(&rz->queue, q, entry);
	resize_next(rz);
}

/*
 * ACPI_DEVICE_OST: the guest's _OST verdict on a hot-plugged device,
 * {"info": {"device": "kcpu1", "source": 1, "status": 0, ...}}. A non-zero
 * status on a vCPU being plugged or ejected fails the step now, with the
 * guest's reason, instead of at its deadline.
 */
void
core_resize_qmp_event(struct core_resize *rz, const char *event,
    const json_t *data)
{
	const json_t *info = json_object_get(data, "info");
	const char *dev = json_string_value(json_object_get(info, "device"));
	const json_t *st = json_object_get(info, "status");
	struct err err;

	if (rz == NULL || strcmp(event, "ACPI_DEVICE_OST") != 0 ||
	    dev == NULL || strncmp(dev, "kcpu", 4) != 0 ||
	    !json_is_integer(st) || json_integer_value(st) == 0)
		return;
	log_warnx("task=%s the guest refused %s (ACPI _OST status %#llx)",
	    rz->t->id, dev, (unsigned long long)json_integer_value(st));
	if (rz->cpu.state == CPU_RZ_ST_IDLE)
		return;
	snprintf(rz->error, sizeof rz->error, "cpu: the guest refused %s "
	    "(ACPI _OST status %#llx)", dev,
	    (unsigned long long)json_integer_value(st));
	(void)fsm_dispatch(&rz->cpu, CPU_RZ_EV_QMP_FAILED, NULL, &err);
}

/* ---- QMP and agent answers ------------------------------------------------ */

static struct qmp *
resize_qmp(struct core_resize *rz, struct err *err)
{
	return vm_qmp_live(rz->t->vm, err);
}

static void
resize_cpu_qmp_cb(const json_t *ret, const struct err *e, void *arg);
static void
resize_mem_qmp_cb(const json_t *ret, const struct err *e, void *arg);

static void
resize_event(struct fsm *m, int ev)
{
	struct err err;

	(void)fsm_dispatch(m, ev, NULL, &err);
}

/* A QMP answer came (the call is over); an error fails machine m. */
static bool
resize_qmp_failed(struct core_resize *rz, struct fsm *m, const char *what,
    int failed_ev, const struct err *e)
{
	rz->qmp_id = 0;
	if (e == NULL || e->code == 0)
		return false;
	snprintf(rz->error, sizeof rz->error, "%s: %s", what, e->msg);
	resize_event(m, failed_ev);
	return true;
}

static int
resize_call(struct core_resize *rz, bool cpu, const char *cmd, json_t *args,
    struct err *err)
{
	struct qmp *q = resize_qmp(rz, err);

	if (q == NULL) {
		json_decref(args);
		return -1;
	}
	rz->qmp_id = qmp_call(q, cmd, args, 10000, cpu ? resize_cpu_qmp_cb :
	    resize_mem_qmp_cb, rz, err);
	return rz->qmp_id < 0 ? -1 : 0;
}

/*
 * The lowest free slot: QEMU lists them highest first, and the first one
 * listed gave the guest's cpu1 APIC ID 3 (of 4 cores); under TCG that vCPU
 * then answered no IPI (an expedited RCU grace period, so a umount, hung
 * forever). Taken in order, cpu N gets APIC ID N, as at boot.
 */
static bool
slot_lower(const json_t *props, const json_t *than)
{
	static const char *const keys[] = { "socket-id", "core-id",
	    "thread-id" };
	json_int_t a, b;
	size_t i;

	if (than == NULL)
		return true;
	for (i = 0; i < ARRAY_SIZE(keys); i++) {
		a = json_integer_value(json_object_get(props, keys[i]));
		b = json_integer_value(json_object_get(than, keys[i]));
		if (a != b)
			return a < b;
	}
	return false;
}

/*
 * query-hotpluggable-cpus: count the present vCPUs, find a free slot, and
 * see whether the vCPU being removed is gone yet (its qom-path is).
 */
static void
resize_read_slots(struct core_resize *rz, const json_t *ret)
{
	char ours[64];
	bool ours_present = false;
	const json_t *e;
	const char *qom;
	size_t i;

	rz->present = 0;
	json_decref(rz->free_slot);
	rz->free_slot = NULL;
	snprintf(ours, sizeof ours, "/machine/peripheral/kcpu%u",
	    rz->unplugging);
	json_array_foreach(ret, i, e) {
		qom = json_string_value(json_object_get(e, "qom-path"));
		if (qom != NULL) {
			rz->present++;
			ours_present |= strcmp(qom, ours) == 0;
			continue;
		}
		if (json_is_object(json_object_get(e, "props")) &&
		    json_is_string(json_object_get(e, "type")) &&
		    slot_lower(json_object_get(e, "props"), rz->free_slot)) {
			json_decref(rz->free_slot);
			rz->free_slot = json_deep_copy(json_object_get(e,
			    "props"));
			free(rz->slot_type);
			rz->slot_type = xstrdup(json_string_value(
			    json_object_get(e, "type")));
		}
	}
	if (rz->unplugging != 0 && !ours_present) {
		rz->nadded--;		/* ejected */
		rz->unplugging = 0;
	}
	rz->ejecting = rz->unplugging != 0;
	rz->vcpus = rz->present;
}

static void
resize_cpu_qmp_cb(const json_t *ret, const struct err *e, void *arg)
{
	struct core_resize *rz = arg;

	if (resize_qmp_failed(rz, &rz->cpu, "cpu", CPU_RZ_EV_QMP_FAILED, e))
		return;
	if (json_is_array(ret))
		resize_read_slots(rz, ret);
	resize_event(&rz->cpu, CPU_RZ_EV_QMP_OK);
}

int
resize_cpu_query(struct core_resize *rz, struct err *err)
{
	if (rz->cpu.state == CPU_RZ_ST_IDLE) {
		rz->want_vcpus = rz->want.vcpus;
		reactor_timer_start(rz->cpu_timer, RESIZE_STEP_MS, false);
		fsm_detail(&rz->cpu, "vcpus %u -> %u", rz->vcpus,
		    rz->want_vcpus);
	}
	return resize_call(rz, true, "query-hotpluggable-cpus", NULL, err);
}

int
resize_cpu_plug(struct core_resize *rz, struct err *err)
{
	json_t *args;

	if (rz->free_slot == NULL || rz->nadded == RESIZE_MAX_CPUS)
		return err_set(err, ENOSPC, "cpu: no free slot (maxcpus "
		    "reached)");
	args = json_deep_copy(rz->free_slot);
	json_object_set_new(args, "driver", json_string(rz->slot_type));
	json_object_set_new(args, "id", json_sprintf("kcpu%u",
	    ++rz->next_cpu_id));
	rz->added[rz->nadded++] = rz->next_cpu_id;
	fsm_detail(&rz->cpu, "kcpu%u", rz->next_cpu_id);
	return resize_call(rz, true, "device_add", args, err);
}

/* Only vCPUs kiln added can go, the newest first; the guest ejects it. */
int
resize_cpu_unplug(struct core_resize *rz, struct err *err)
{
	rz->unplugging = rz->added[rz->nadded - 1];
	rz->ejecting = true;
	fsm_detail(&rz->cpu, "kcpu%u", rz->unplugging);
	return resize_call(rz, true, "device_del", json_pack("{s:o}", "id",
	    json_sprintf("kcpu%u", rz->unplugging)), err);
}

int
resize_poll_later(struct core_resize *rz, bool cpu, struct err *err)
{
	(void)err;
	reactor_timer_start(cpu ? rz->cpu_poll : rz->mem_poll, RESIZE_POLL_MS,
	    false);
	return 0;
}

static void
resize_agent_cb(const struct proto_reply *rep, void *arg, bool cpu)
{
	const Kiln__Agent__V1__ResourcesResponse *r = (const void *)rep->msg;
	struct core_resize *rz = arg;
	struct fsm *m = cpu ? &rz->cpu : &rz->mem;
	struct err err;

	rz->agent_id = 0;
	if (rep->code != PROTO_OK || r == NULL) {
		snprintf(rz->error, sizeof rz->error, "agent: %s",
		    rep->message != NULL ? rep->message : "no answer");
		(void)fsm_dispatch(m, cpu ? CPU_RZ_EV_AGENT_FAILED :
		    MEM_RZ_EV_AGENT_FAILED, NULL, &err);
		return;
	}
	/* The guest's word, bounded by what the VM can hold. */
	rz->guest_cpus = r->online_cpus <= RESIZE_MAX_CPUS ? r->online_cpus :
	    0;
	rz->guest_mem_total = r->mem_total_bytes;
	(void)fsm_dispatch(m, cpu ? CPU_RZ_EV_AGENT_OK : MEM_RZ_EV_AGENT_OK,
	    NULL, &err);
}

static void
resize_cpu_agent_cb(const struct proto_reply *rep, void *arg)
{
	resize_agent_cb(rep, arg, true);
}

static void
resize_mem_agent_cb(const struct proto_reply *rep, void *arg)
{
	resize_agent_cb(rep, arg, false);
}

static int
resize_agent(struct core_resize *rz, bool cpu, bool limits, struct err *err)
{
	Kiln__Agent__V1__ResourcesRequest r =
	    KILN__AGENT__V1__RESOURCES_REQUEST__INIT;

	r.container_id = (char *)(uintptr_t)(limits ? resize_limits_cid(rz) :
	    "");
	r.online = cpu;
	r.target_cpus = rz->want_vcpus;
	if (limits) {
		r.memory_limit = rz->want.mem_limit;
		r.cpu_quota = rz->want.cpu_quota;
		r.cpu_period = rz->want.cpu_period;
	}
	rz->agent_id = task_agent_call(rz->t, "UpdateResources", &r.base,
	    &kiln__agent__v1__resources_response__descriptor,
	    RESIZE_AGENT_MS, cpu ? resize_cpu_agent_cb : resize_mem_agent_cb,
	    rz);
	if (rz->agent_id == 0)
		return err_set(err, ERR_CLOSED, "agent channel closed");
	return 0;
}

int
resize_cpu_online(struct core_resize *rz, struct err *err)
{
	return resize_agent(rz, true, false, err);
}

/* ---- memory ---------------------------------------------------------------- */

static void
resize_mem_qmp_cb(const json_t *ret, const struct err *e, void *arg)
{
	struct core_resize *rz = arg;

	if (resize_qmp_failed(rz, &rz->mem, "memory", MEM_RZ_EV_QMP_FAILED, e))
		return;
	if (json_is_integer(ret) && json_integer_value(ret) >= 0)
		rz->mem_plugged = (uint64_t)json_integer_value(ret);
	resize_event(&rz->mem, MEM_RZ_EV_QMP_OK);
}

int
resize_mem_set(struct core_resize *rz, struct err *err)
{
	rz->want_mem = rz->want.mem_mib;
	rz->mem_requested = (uint64_t)(rz->want_mem - rz->boot_mem) * MIB;
	reactor_timer_start(rz->mem_timer, RESIZE_STEP_MS, false);
	fsm_detail(&rz->mem, "memory %u -> %u MiB", rz->mem_mib, rz->want_mem);
	if (rz->t->shim->cfg.max_mem_mib <= rz->boot_mem) {
		rz->mem_plugged = rz->mem_requested = 0;	/* no device */
		return resize_call(rz, false, "query-status", NULL, err);
	}
	return resize_call(rz, false, "qom-set", json_pack("{s:s,s:s,s:I}",
	    "path", "kiln-mem", "property", "requested-size", "value",
	    (json_int_t)rz->mem_requested), err);
}

int
resize_mem_read(struct core_resize *rz, struct err *err)
{
	if (rz->t->shim->cfg.max_mem_mib <= rz->boot_mem)
		return resize_call(rz, false, "query-status", NULL, err);
	return resize_call(rz, false, "qom-get", json_pack("{s:s,s:s}", "path",
	    "kiln-mem", "property", "size"), err);
}

/* The VM has its size: the container's cgroup limits follow. */
int
resize_mem_limits(struct core_resize *rz, struct err *err)
{
	rz->mem_mib = rz->boot_mem + (unsigned)(rz->mem_plugged / MIB);
	return resize_agent(rz, false, true, err);
}

/* ---- ends of steps ------------------------------------------------------------ */

/*
 * A request is over: done hears it first (the scaler's, a pod's), then an
 * Update's caller.
 */
static void
resize_req_end(struct resize_req *q, bool ok, const char *why)
{
	Google__Protobuf__Empty e = GOOGLE__PROTOBUF__EMPTY__INIT;

	if (q->done != NULL)
		q->done(q->done_arg, ok, why);
	if (q->call != NULL && ok)
		proto_call_reply(q->call, &e.base);
	else if (q->call != NULL)
		proto_call_fail(q->call, PROTO_UNKNOWN, "%s", why);
	free(q);
}

static void
resize_answer(struct core_resize *rz, bool ok)
{
	char why[400];

	snprintf(why, sizeof why, "update %s: %s%s", rz->t->id, rz->error,
	    rz->restoring ? " (the previous size was restored)" : "");
	resize_req_end(TAKE_PTR(rz->cur), ok, why);
	resize_next(rz);
}

int
resize_step_done(struct core_resize *rz, bool cpu, struct err *err)
{
	(void)err;
	reactor_timer_stop(cpu ? rz->cpu_timer : rz->mem_timer);
	reactor_timer_stop(cpu ? rz->cpu_poll : rz->mem_poll);
	if (cpu) {
		rz->vcpus = rz->guest_cpus;
		log_info("task=%s vcpus=%u online (%u plugged)", rz->t->id,
		    rz->vcpus, rz->present);
		fsm_post(&rz->mem, MEM_RZ_EV_RESIZE, NULL, 0);
		return 0;
	}
	log_info("task=%s memory=%u MiB guest MemTotal=%" PRIu64 " MiB",
	    rz->t->id, rz->mem_mib, rz->guest_mem_total / MIB);
	if (rz->restoring)
		resize_answer(rz, false);
	else if (rz->cur != NULL)
		resize_answer(rz, true);
	return 0;
}

/*
 * A step failed: counted and logged, never ignored. The previous size is
 * put back once (a failed restore is reported as it is), then the caller
 * hears why.
 */
int
resize_step_failed(struct core_resize *rz, bool cpu, struct err *err)
{
	(void)err;
	reactor_timer_stop(cpu ? rz->cpu_timer : rz->mem_timer);
	reactor_timer_stop(cpu ? rz->cpu_poll : rz->mem_poll);
	resize_cancel_calls(rz);
	rz->failures++;
	if (rz->error[0] == '\0')
		snprintf(rz->error, sizeof rz->error, "%s resize failed",
		    cpu ? "cpu" : "memory");
	log_warnx("task=%s resize failed (%" PRIu64 " so far): %s",
	    rz->t->id, rz->failures, rz->error);
	if (rz->cur == NULL)
		return 0;
	if (rz->restoring || rz->t->vm == NULL || vm_is_stopped(rz->t->vm)) {
		resize_answer(rz, false);
		return 0;
	}
	rz->restoring = true;
	rz->want = rz->prev;
	fsm_post(&rz->cpu, CPU_RZ_EV_RESIZE, NULL, 0);
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pods, as Kata has them: one shim and one VM per pod. CRI's annotations
 * say what a bundle is. The sandbox container is the shim's first task
 * and owns the VM (booted with spare PCIe root ports); each app container
 * is another task of the same shim (`start` hands containerd the running
 * shim's address) that borrows the VM. Its rootfs image is built in the
 * pod's run dir, where the jailed QEMU can open it, and hot-added as a
 * virtio-blk disk (the disk machine, disk_fsm.c) whose serial names the
 * slot; the agent mounts it and runs the container in the sandbox's
 * namespaces. Delete removes the container in the guest, then the disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "core/core_int.h"

#define POD_AGENT_SVC	"kiln.agent.v1.Agent"

enum core_pod_role
core_pod_role(const json_t *spec, const char **sandbox_id)
{
	const json_t *ann = json_object_get(spec, "annotations");
	const char *type = json_string_value(json_object_get(ann,
	    CORE_POD_TYPE_KEY));

	*sandbox_id = json_string_value(json_object_get(ann,
	    CORE_POD_SANDBOX_KEY));
	if (type != NULL && strcmp(type, "sandbox") == 0)
		return CORE_POD_SANDBOX;
	if (type != NULL && strcmp(type, "container") == 0)
		return CORE_POD_CONTAINER;
	return CORE_POD_NONE;
}

int
core_pod_role_of_bundle(const char *bundle, enum core_pod_role *role,
    char sandbox_id[PROTO_ID_MAX + 1], struct err *err)
{
	_cleanup_free_ char *path = xasprintf("%s/config.json", bundle);
	json_error_t jerr;
	json_t *spec = json_load_file(path, 0, &jerr);
	const char *sb;

	sandbox_id[0] = '\0';
	if (!json_is_object(spec)) {
		json_decref(spec);
		return err_set(err, EINVAL, "%s: %s", path, jerr.text);
	}
	*role = core_pod_role(spec, &sb);
	if (*role == CORE_POD_CONTAINER &&
	    (sb == NULL || !ident_valid(sb, PROTO_ID_MAX))) {
		json_decref(spec);
		return err_set(err, EINVAL, "%s: %s is not a valid id", path,
		    CORE_POD_SANDBOX_KEY);
	}
	if (sb != NULL && ident_valid(sb, PROTO_ID_MAX))
		snprintf(sandbox_id, PROTO_ID_MAX + 1, "%s", sb);
	json_decref(spec);
	return 0;
}

/* ---- the pod's tasks ---------------------------------------------------- */

struct task *
core_pod_member(struct task *t, const char *id)
{
	struct task *m;

	TAILQ_FOREACH(m, &t->shim->members, pod_entry)
		if (m->pod == t && strcmp(m->id, id) == 0 &&
		    m->fsm.state != TASK_ST_DELETED)
			return m;
	return NULL;
}

struct task *
core_pod_task(struct task *t, const char *id)
{
	return strcmp(t->id, id) == 0 ? t : core_pod_member(t, id);
}

/* The agent's conn is gone: no member's stdio may send on it. */
void
core_pod_conn_lost(struct task *t)
{
	struct task *m;
	struct exec_proc *e;

	TAILQ_FOREACH(m, &t->shim->members, pod_entry) {
		if (m->fsm.state == TASK_ST_DELETED)
			continue;	/* its stdio is gone */
		core_stdio_attach(m->stdio, NULL);
		TAILQ_FOREACH(e, &m->execs, entry)
			core_stdio_attach(e->stdio, NULL);
	}
}

/* QEMU is gone: every app container ends with it, its disk too. */
void
core_pod_vm_gone(struct task *t)
{
	struct task *m;
	struct exec_proc *e;

	TAILQ_FOREACH(m, &t->shim->members, pod_entry) {
		if (m->disk != NULL)
			fsm_post(&m->disk->fsm, DISK_EV_VM_GONE, NULL, 0);
		TAILQ_FOREACH(e, &m->execs, entry)
			fsm_post(&e->fsm, EXEC_EV_VM_DIED, NULL, 0);
		fsm_post(&m->fsm, TASK_EV_VM_DIED, NULL, 0);
	}
}

/* DEVICE_DELETED names the device by its id: that disk's news. */
void
core_pod_qmp_event(struct task *t, const char *event, const json_t *data)
{
	const char *dev = json_string_value(json_object_get(data, "device"));
	struct task *m;

	if (strcmp(event, "DEVICE_DELETED") != 0 || dev == NULL)
		return;
	TAILQ_FOREACH(m, &t->shim->members, pod_entry)
		if (m->disk != NULL && strcmp(m->disk->id, dev) == 0)
			fsm_post(&m->disk->fsm, DISK_EV_DELETED, NULL, 0);
}

/* ---- the pod's size ------------------------------------------------------ */

/*
 * What an app container asks of the pod's VM: its limits (vCPUs for a
 * quota or a cpuset, its memory limit), nothing where it set none.
 */
static void
pod_demand(const struct core_size *sz, unsigned *vcpus, unsigned *mem_mib)
{
	*vcpus = sz->cpu_given ? sz->vcpus : 0;
	*mem_mib = sz->mem_limit > 0 ?
	    (unsigned)((sz->mem_limit + MIB - 1) / MIB) : 0;
}

/*
 * The sandbox's boot size plus every live app container's demand, m's
 * taken from msz; false if that passes the config's maxima.
 */
static bool
pod_total(const struct task *m, const struct core_size *msz,
    unsigned *vcpus, unsigned *mem_mib)
{
	const struct core_config *cfg = &m->shim->cfg;
	const struct task *x;
	unsigned v, mem;

	*vcpus = m->pod->resize->boot_vcpus;
	*mem_mib = m->pod->resize->boot_mem;
	TAILQ_FOREACH(x, &m->shim->members, pod_entry) {
		if (x->pod != m->pod || x->fsm.state == TASK_ST_DELETED)
			continue;
		pod_demand(x == m ? msz : &x->size, &v, &mem);
		*vcpus += v;
		*mem_mib += mem;
	}
	*mem_mib = (*mem_mib + 1) & ~1u;	/* virtio-mem's 2 MiB blocks */
	return *vcpus <= cfg->max_vcpus && *mem_mib <= cfg->max_mem_mib;
}

/*
 * The scaler may grow a pod to the config's maxima (its containers
 * without limits may need it) and never takes back the memory within
 * the containers' limits.
 */
static void
pod_caps(struct task *sb, unsigned mem_mib)
{
	struct core_resize *rz = sb->resize;

	rz->cap_vcpus = sb->shim->cfg.max_vcpus;
	rz->cap_mem = sb->shim->cfg.max_mem_mib;
	if (mem_mib > rz->floor_mem)
		rz->floor_mem = mem_mib;
}

static void
pod_grown_cb(void *arg, bool ok, const char *why)
{
	struct task *t = arg;	/* the sandbox: it outlives its resizer */

	if (!ok)
		log_warnx("task=%s the pod's VM did not grow: %s", t->id, why);
}

/* Created: the VM grows by t's limits (crun sets its cgroup's). */
void
core_pod_grow(struct task *t)
{
	struct core_resize *rz = t->pod->resize;
	struct core_size sz = { 0 };
	unsigned v, mem;

	if (rz == NULL)
		return;
	if (!pod_total(t, &t->size, &v, &mem)) {
		log_warnx("task=%s the pod's VM stays within the maxima "
		    "(%u vCPUs, %u MiB asked for)", t->id, v, mem);
		v = v < t->shim->cfg.max_vcpus ? v : t->shim->cfg.max_vcpus;
		mem = mem < t->shim->cfg.max_mem_mib ? mem :
		    t->shim->cfg.max_mem_mib;
	}
	if (v <= rz->vcpus && mem <= rz->mem_mib)
		return;
	sz.vcpus = v > rz->vcpus ? v : 0;	/* 0: as it is */
	sz.mem_mib = mem > rz->mem_mib ? mem : 0;
	core_resize_queue(rz, &sz, NULL, NULL, pod_grown_cb, t->pod);
	pod_caps(t->pod, mem);
}

/* An app container's Update in flight: its limits, kept once it is done. */
struct pod_update {
	struct task		*sb;	/* outlives the resizer's queue */
	char			 cid[PROTO_ID_MAX + 1];
	struct core_size	 size;	/* its limits once done */
};

static void
pod_updated_cb(void *arg, bool ok, const char *why)
{
	struct pod_update *u = arg;
	struct task *m = core_pod_member(u->sb, u->cid);

	(void)why;	/* the resizer answers the call with it */
	if (ok && m != NULL)
		m->size = u->size;
	free(u);
}

/* The request's limits over t's: what it leaves out stays. */
static void
pod_merge(struct core_size *to, const struct core_size *req)
{
	if (req->cpu_given) {
		to->vcpus = req->vcpus;
		to->cpu_quota = req->cpu_quota;
		to->cpu_period = req->cpu_period;
		to->cpu_given = true;
	}
	if (req->mem_given) {
		to->mem_limit = req->mem_limit;
		to->mem_given = true;
	}
}

void
core_pod_update(struct task *t, struct proto_call *call, const json_t *res)
{
	struct core_resize *rz = t->pod->resize;
	struct pod_update *u;
	struct core_size req, sz;
	unsigned v, mem;
	struct err err;

	if (core_size_from(res, &t->shim->cfg, true, &req, &err) < 0)
		return (void)proto_call_fail(call, PROTO_INVALID_ARGUMENT,
		    "update %s: %s", t->id, err.msg);
	u = xcalloc(1, sizeof *u);
	u->size = t->size;
	pod_merge(&u->size, &req);
	if (!pod_total(t, &u->size, &v, &mem)) {
		free(u);
		return (void)proto_call_fail(call, PROTO_INVALID_ARGUMENT,
		    "update %s: the pod would need %u vCPUs and %u MiB: the "
		    "maximum is %u vCPUs and %u MiB (config max_vcpus, "
		    "max_memory_mib)", t->id, v, mem, t->shim->cfg.max_vcpus,
		    t->shim->cfg.max_mem_mib);
	}
	u->sb = t->pod;
	snprintf(u->cid, sizeof u->cid, "%s", t->id);
	/* The VM at the pod's total; the cgroup limits the request's. */
	sz = req;
	sz.vcpus = req.cpu_given ? v : 0;
	sz.mem_mib = req.mem_given ? mem : 0;
	core_resize_queue(rz, &sz, t->id, call, pod_updated_cb, u);
	pod_caps(t->pod, mem);
}

/* ---- an app container's disk -------------------------------------------- */

static void
disk_timer_cb(void *arg)
{
	struct disk *d = arg;
	struct err err;

	(void)fsm_dispatch(&d->fsm, DISK_EV_TIMEOUT, NULL, &err);
}

int
core_pod_attach(struct task *t, struct err *err)
{
	struct task *sb = t->pod;
	struct disk *d;
	int i;

	for (i = 0; i < CORE_POD_DISKS; i++)
		if ((sb->pod_slots & (1u << i)) == 0)
			break;
	if (i == CORE_POD_DISKS)
		return err_set(err, ENOSPC, "pod %s is full: %d app containers "
		    "at most", sb->id, CORE_POD_DISKS);
	sb->pod_slots |= 1u << i;
	d = xcalloc(1, sizeof *d);
	d->t = t;
	d->index = i;
	snprintf(d->id, sizeof d->id, "rfs%d", i);
	d->timer = reactor_timer_new(t->shim->r, disk_timer_cb, d);
	fsm_init(&d->fsm, &disk_fsm_def, t->shim->env, t->id, d);
	t->disk = d;
	/* In the pod's run dir: QEMU's jail sees it, at the same path. */
	t->rootfs_image = xasprintf(CORE_POD_IMAGE_FMT, sb->run_dir, i);
	return 0;
}

/* The slot is free again only once the guest let the disk go. */
void
core_pod_detach(struct task *t)
{
	struct disk *d = t->disk;

	if (d == NULL)
		return;
	if (d->fsm.state == DISK_ST_UNPLUGGED || !d->added)
		t->pod->pod_slots &= ~(1u << d->index);
	vm_calls_cancel(t->vm, &d->qmp_id, &d->agent_id);
	reactor_timer_free(d->timer);
	fsm_fini(&d->fsm);
	free(d);
	t->disk = NULL;
}

void
core_pod_plug(struct task *t)
{
	fsm_post(&t->disk->fsm, DISK_EV_PLUG, NULL, 0);
}

static void
pod_removed_cb(const struct proto_reply *rep, void *arg)
{
	struct task *t = arg;

	t->disk->agent_id = 0;
	if (rep->code != PROTO_OK)
		log_warnx("task=%s remove in the guest: %s", t->id,
		    rep->message);
	fsm_post(&t->disk->fsm, DISK_EV_UNPLUG, NULL, 0);
}

/* The guest unmounts the rootfs first; the disk goes after it. */
void
core_pod_unplug(struct task *t)
{
	Kiln__Agent__V1__ContainerRef ref = KILN__AGENT__V1__CONTAINER_REF__INIT;
	struct disk *d = t->disk;

	d->unplugging = true;
	ref.container_id = t->id;
	if (d->plugged)
		d->agent_id = task_agent_call(t, "RemoveContainer", &ref.base,
		    &google__protobuf__empty__descriptor, AGENT_MS(t),
		    pod_removed_cb, t);
	if (d->agent_id == 0)
		fsm_post(&d->fsm, DISK_EV_UNPLUG, NULL, 0);
}

/* ---- the disk machine's actions ----------------------------------------- */

static void
disk_qmp_cb(const json_t *ret, const struct err *e, void *arg)
{
	struct disk *d = arg;
	struct err err;

	(void)ret;
	d->qmp_id = 0;
	if (e != NULL && e->code != 0)
		snprintf(d->error, sizeof d->error, "%s", e->msg);
	(void)fsm_dispatch(&d->fsm, e != NULL && e->code != 0 ?
	    DISK_EV_QMP_FAILED : DISK_EV_QMP_OK, NULL, &err);
}

static int
disk_qmp_call(struct disk *d, const char *cmd, json_t *args, struct err *err)
{
	struct qmp *q = vm_qmp_live(d->t->vm, err);

	if (q == NULL) {
		json_decref(args);
		return -1;
	}
	reactor_timer_start(d->timer, AGENT_MS(d->t), false);
	d->qmp_id = qmp_call(q, cmd, args, AGENT_MS(d->t), disk_qmp_cb, d,
	    err);
	return d->qmp_id < 0 ? -1 : 0;
}

/*
 * add-fd and remove-fd: what matters is blockdev-add's answer. No disk
 * is passed: the disk may be gone before QEMU answers.
 */
static void
disk_fdset_cb(const json_t *ret, const struct err *e, void *arg)
{
	(void)ret;
	(void)arg;
	if (e != NULL && e->code != 0)
		log_debug("pod disk fd set: %s", e->msg);
}

/*
 * The image goes to QEMU as an fd (QMP add-fd into the disk's own fd
 * set): a jailed QEMU cannot open the shim's run directory. QMP runs
 * commands in order, so blockdev-add opens "/dev/fdset/N" after add-fd
 * made it, and remove-fd right behind it lets the set go once the block
 * node closes its dup (QEMU keeps a set while a dup is open).
 */
int
disk_do_blockdev(struct disk *d, struct err *err)
{
	struct qmp *q = vm_qmp_live(d->t->vm, err);
	int set = CORE_FDSET_DISK0 + d->index, id;
	_cleanup_close_ int fd = -1;
	char node[24], file[32];
	struct err rm_err;

	if (q == NULL)
		return -1;
	if ((fd = open(d->t->rootfs_image, O_RDONLY | O_CLOEXEC)) < 0)
		return err_set(err, errno, "disk %s: %s: %m", d->id,
		    d->t->rootfs_image);
	id = qmp_call_fd(q, "add-fd", json_pack("{si}", "fdset-id", set), fd,
	    AGENT_MS(d->t), disk_fdset_cb, NULL, err);
	if (id < 0)
		return -1;
	snprintf(node, sizeof node, "%s-blk", d->id);
	snprintf(file, sizeof file, "/dev/fdset/%d", set);
	fsm_detail(&d->fsm, "image=%s fdset=%d", d->t->rootfs_image, set);
	d->added = true;
	if (disk_qmp_call(d, "blockdev-add", json_pack("{sssssbs{sssssb}}",
	    "driver", "raw", "node-name", node, "read-only", 1, "file",
	    "driver", "file", "filename", file, "read-only", 1), err) < 0)
		return -1;
	/* Not sent: the set stays in QEMU until it ends, no worse. */
	if (qmp_call(q, "remove-fd", json_pack("{si}", "fdset-id", set),
	    AGENT_MS(d->t), disk_fdset_cb, NULL, &rm_err) < 0)
		log_warnx("disk=%s %s", d->id, rm_err.msg);
	return 0;
}

int
disk_do_device(struct disk *d, struct err *err)
{
	char node[24], serial[24], bus[16];

	snprintf(node, sizeof node, "%s-blk", d->id);
	snprintf(serial, sizeof serial, "%s%d", CORE_POD_DISK_SERIAL,
	    d->index);
	snprintf(bus, sizeof bus, "kiln-rp%d", CORE_MAX_NICS + d->index);
	return disk_qmp_call(d, "device_add", json_pack("{ssssssssss}",
	    "driver", "virtio-blk-pci", "id", d->id, "drive", node, "serial",
	    serial, "bus", bus), err);
}

void
disk_do_plugged(struct disk *d)
{
	reactor_timer_stop(d->timer);
	d->plugged = true;
	fsm_post(&d->t->fsm, TASK_EV_VM_READY, NULL, 0);
}

int
disk_do_unplug(struct disk *d, struct err *err)
{
	return disk_qmp_call(d, "device_del", json_pack("{ss}", "id", d->id),
	    err);
}

int
disk_do_blockdel(struct disk *d, struct err *err)
{
	char node[24];

	snprintf(node, sizeof node, "%s-blk", d->id);
	return disk_qmp_call(d, "blockdev-del", json_pack("{ss}", "node-name",
	    node), err);
}

void
disk_do_unplugged(struct disk *d)
{
	reactor_timer_stop(d->timer);
	fsm_post(&d->t->fsm, TASK_EV_VM_STOPPED, NULL, 0);
}

/* The task hears what it waits for; a live container hears its VM's end. */
void
disk_do_failed(struct disk *d)
{
	struct task *t = d->t;

	reactor_timer_stop(d->timer);
	if (d->error[0] == '\0')
		snprintf(d->error, sizeof d->error, "%s", d->plugged ?
		    "the VM or the guest let it go" : "timed out");
	log_warnx("task=%s disk %s: %s", t->id, d->id, d->error);
	if (d->unplugging)
		fsm_post(&t->fsm, TASK_EV_VM_STOPPED, NULL, 0);
	else if (!d->plugged) {
		snprintf(t->error, sizeof t->error, "rootfs disk: %s",
		    d->error);
		fsm_post(&t->fsm, TASK_EV_ROOTFS_FAILED, NULL, 0);
	}
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A task: the container's init process, its rootfs, its VM and its stdio.
 * The machine is in task_fsm.c; this file holds what its actions do, and
 * the callbacks (agent replies, VM news, drained output) that become its
 * events. Everything the guest says is checked before it is believed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "core/core_int.h"

#define TASK_AGENT_SVC	"kiln.agent.v1.Agent"
#define TASK_DRAIN_MS	10000		/* output flush after the exit */
#define TASK_DELETE_MS	30000

static void
task_timer_cb(void *arg)
{
	struct task *t = arg;
	struct err err;

	(void)task_event(t, TASK_EV_TIMEOUT, NULL, &err);
}

struct task *
task_new(struct shim *shim, const char *id)
{
	struct task *t = xcalloc(1, sizeof *t);

	t->shim = shim;
	snprintf(t->id, sizeof t->id, "%s", id);
	TAILQ_INIT(&t->waiters);
	TAILQ_INIT(&t->execs);
	t->timer = reactor_timer_new(shim->r, task_timer_cb, t);
	fsm_init(&t->fsm, &task_fsm_def, shim->env, id, t);
	return t;
}

void
task_free(struct task *t)
{
	struct task_waiter *w;

	if (t == NULL)
		return;
	while (!TAILQ_EMPTY(&t->execs))
		exec_free(TAILQ_FIRST(&t->execs));
	while ((w = TAILQ_FIRST(&t->waiters)) != NULL) {
		TAILQ_REMOVE(&t->waiters, w, entry);
		proto_call_fail(w->call, PROTO_UNAVAILABLE, "shim exiting");
		free(w);
	}
	if (t->pending != NULL)
		proto_call_fail(t->pending, PROTO_UNAVAILABLE, "shim exiting");
	core_metrics_srv_free(t->metrics);
	core_resize_free(t->resize);
	core_scaler_free(t->scaler);
	core_pod_detach(t);
	if (t->pod == NULL)
		vm_free(t->vm);
	core_net_free(t->net);
	core_stdio_free(t->stdio);
	reactor_timer_free(t->timer);
	reactor_defer_cancel(t->shim->r, t);
	fsm_fini(&t->fsm);
	free(t->bundle);
	free(t->rootfs);
	free(t->stdin_path);
	free(t->stdout_path);
	free(t->stderr_path);
	free(t->spec_json);
	free(t->hostname);
	core_hooks_free(t->hooks);
	core_hooks_free(t->hooks_bg);
	json_decref(t->spec);
	free(t->run_dir);
	free(t);
}

int
task_event(struct task *t, int ev, const void *data, struct err *err)
{
	return fsm_send(&t->fsm, ev, data, 0, err);
}

uint32_t
task_pid(const struct task *t)
{
	return t->vm != NULL && t->vm->qemu_pid > 0 ?
	    (uint32_t)t->vm->qemu_pid : 0;
}

/* ---- create ---------------------------------------------------------- */

static int
task_read_spec(struct task *t, struct err *err)
{
	_cleanup_free_ char *path = xasprintf("%s/config.json", t->bundle);
	_cleanup_close_ int fd = -1;
	struct stat st;
	ssize_t n;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0)
		return err_set(err, errno, "open %s: %m", path);
	if (st.st_size <= 0 || st.st_size > (off_t)PROTO_FRAME_MAX / 2)
		return err_set(err, EINVAL, "%s: size %lld out of range", path,
		    (long long)st.st_size);
	t->spec_len = (size_t)st.st_size;
	t->spec_json = xmalloc(t->spec_len);
	n = read(fd, t->spec_json, t->spec_len);
	if (n != (ssize_t)t->spec_len)
		return err_set(err, EIO, "read %s: short read", path);
	return 0;
}

/* Mount the rootfs containerd describes (reference section 6). */
static int
task_mount_rootfs(struct task *t,
    const Containerd__Task__V2__CreateTaskRequest *req, struct err *err)
{
	size_t i, j;

	if (req->n_rootfs > 1)
		return err_set(err, ERR_UNIMPLEMENTED, "%zu rootfs mounts: "
		    "only one is supported", req->n_rootfs);
	mkdir(t->rootfs, 0711);
	for (i = 0; i < req->n_rootfs; i++) {
		const Containerd__Types__Mount *m = req->rootfs[i];
		_cleanup_free_ char *opts = xstrdup("");
		unsigned long flags = 0;

		for (j = 0; j < m->n_options; j++) {
			char *o = m->options[j], *joined;

			if (strcmp(o, "rbind") == 0 || strcmp(o, "bind") == 0) {
				flags |= MS_BIND | MS_REC;
				continue;
			}
			if (strcmp(o, "rw") == 0)
				continue;
			if (strcmp(o, "ro") == 0) {
				flags |= MS_RDONLY;
				continue;
			}
			joined = xasprintf("%s%s%s", opts, opts[0] ? "," : "",
			    o);
			free(opts);
			opts = joined;
		}
		if (strlen(opts) >= 4096)
			return err_set(err, E2BIG, "mount options of %zu bytes",
			    strlen(opts));
		if (mount(m->source, t->rootfs, m->type, flags, opts) < 0)
			return err_set(err, errno, "mount %s on %s: %m",
			    m->type, t->rootfs);
		t->rootfs_mounted = true;
	}
	return 0;
}

/* Without rootfs mounts (ctr run --rootfs), share root.path itself. */
static char *
task_share_dir(struct task *t, const json_t *spec, struct err *err)
{
	const char *path;

	if (t->rootfs_mounted)
		return xstrdup(t->rootfs);
	path = json_string_value(json_object_get(json_object_get(spec,
	    "root"), "path"));
	if (path == NULL) {
		err_set(err, EINVAL, "config.json: no root.path");
		return NULL;
	}
	return path[0] == '/' ? xstrdup(path) : xasprintf("%s/%s", t->bundle,
	    path);
}

/* The spec as JSON, for the few fields the host side needs. */
static json_t *
task_parse_spec(struct task *t, struct err *err)
{
	const char *host, *sandbox_id;
	json_error_t jerr;
	json_t *spec;

	spec = json_loadb(t->spec_json, t->spec_len, 0, &jerr);
	if (!json_is_object(spec)) {
		json_decref(spec);
		err_set(err, EINVAL, "config.json: line %d: %s", jerr.line,
		    jerr.text);
		return NULL;
	}
	host = json_string_value(json_object_get(spec, "hostname"));
	if (host != NULL && ident_valid(host, 63))
		t->hostname = xstrdup(host);
	t->pod_sandbox = core_pod_role(spec, &sandbox_id) == CORE_POD_SANDBOX;
	/* The VM is sized from the container's limits, within the maxima. */
	if (core_size_from(json_object_get(json_object_get(spec, "linux"),
	    "resources"), &t->shim->cfg, false, &t->size, err) < 0) {
		json_decref(spec);
		return NULL;
	}
	return spec;
}

static void	task_build_rootfs(struct task *, const char *);
static void	task_vm_ready_cb(struct vm *, struct proto_conn *, void *);
static void	task_vm_stopped_cb(struct vm *, bool, const char *, void *);
static void	task_stream_cb(struct proto_conn *, const uint8_t *, size_t,
		    void *);

/* The agent's conn goes: no stdio may send on it (CloseIO, stdin). */
static void
task_conn_lost_cb(struct vm *vm, void *arg)
{
	struct task *t = arg;
	struct exec_proc *e;

	(void)vm;
	core_stdio_attach(t->stdio, NULL);
	TAILQ_FOREACH(e, &t->execs, entry)
		core_stdio_attach(e->stdio, NULL);
	core_pod_conn_lost(t);
}

static void
task_qmp_event_cb(struct vm *vm, const char *event, const json_t *data,
    void *arg)
{
	struct task *t = arg;

	(void)vm;
	core_resize_qmp_event(t->resize, event, data);
	core_pod_qmp_event(t, event, data);
}

/* The task's own VM (the pod's, if it is a sandbox), not yet started. */
static void
task_new_vm(struct task *t, const char *share)
{
	struct vm_opts vo = {
		.cfg = &t->shim->cfg, .id = t->id, .on_ready = task_vm_ready_cb,
		.on_stopped = task_vm_stopped_cb, .on_stream = task_stream_cb,
		.on_qmp_event = task_qmp_event_cb,
		.on_conn_lost = task_conn_lost_cb, .arg = t,
		.agent_hist = &t->shim->stats.agent,
		.qmp_hist = &t->shim->stats.qmp,
	};

	vo.netns_fd = t->net->nsfd;
	vo.pod = t->pod_sandbox;
	vo.vcpus = t->size.vcpus;
	vo.mem_mib = t->size.mem_mib;
	vo.run_dir = t->run_dir;
	vo.share_dir = share;
	if (strcmp(t->shim->cfg.rootfs, "erofs") == 0)
		t->rootfs_image = xasprintf("%s/%s", t->run_dir,
		    CORE_ROOTFS_IMAGE);
	vo.rootfs_image = t->rootfs_image;
	vo.bundle = t->bundle;
	t->vm = vm_new(t->shim->r, t->shim->env, &vo);
	t->resize = core_resize_new(t, &t->size);
	t->scaler = core_scaler_new(t);
}

/* A pod's app container borrows the sandbox's VM; its network too. */
static int
task_join_pod(struct task *t, struct err *err)
{
	if (strcmp(t->shim->cfg.rootfs, "erofs") != 0)
		return err_set(err, ERR_UNIMPLEMENTED, "pod containers need "
		    "rootfs \"erofs\" (the configuration says \"%s\")",
		    t->shim->cfg.rootfs);
	if (core_pod_attach(t, err) < 0)
		return -1;
	t->vm = t->pod->vm;
	core_pod_grow(t);
	return 0;
}

int
task_do_create(struct task *t, const void *data, struct err *err)
{
	const Containerd__Task__V2__CreateTaskRequest *req = data;
	_cleanup_free_ char *share = NULL;
	json_t *spec = NULL;
	int rc = -1;

	t->terminal = req->terminal;
	t->bundle = xstrdup(req->bundle);
	t->rootfs = xasprintf("%s/rootfs", req->bundle);
	t->stdin_path = xstrdup(req->stdin);
	t->stdout_path = xstrdup(req->stdout);
	t->stderr_path = xstrdup(req->stderr);
	t->run_dir = core_run_dir(t->shim->namespace, t->id);
	if (task_read_spec(t, err) < 0 ||
	    (spec = task_parse_spec(t, err)) == NULL ||
	    task_mount_rootfs(t, req, err) < 0 ||
	    (share = task_share_dir(t, spec, err)) == NULL)
		goto out;
	mkdir(t->run_dir, 0700);
	/* Metrics are an extra: a socket that cannot be made is logged. */
	if ((t->metrics = core_metrics_srv_new(t, t->run_dir, err)) == NULL)
		log_warnx("task=%s metrics endpoint: %s", t->id, err->msg);
	if (t->pod != NULL ? task_join_pod(t, err) < 0 :
	    (t->net = core_net_new(t, spec, t->run_dir, err)) == NULL)
		goto out;
	t->stdio = core_stdio_new(t->shim->r, t->id, "", req->stdin,
	    req->stdout, req->stderr, err);
	if (t->stdio == NULL)
		goto out;
	rc = 0;
out:
	t->spec = spec;
	if (rc < 0)
		return -1;
	if (t->pod == NULL)
		task_new_vm(t, share);
	reactor_timer_start(t->timer, t->shim->cfg.boot_timeout_ms + AGENT_MS(t),
	    false);
	/* One path for both: the VM boots (or the disk goes in) on READY. */
	if (t->rootfs_image == NULL)
		fsm_post(&t->fsm, TASK_EV_ROOTFS_READY, NULL, 0);
	else
		task_build_rootfs(t, share);
	return 0;
}

/* ---- the rootfs image (rootfs.c) --------------------------------------- */

static void
task_rootfs_built_cb(const char *error, void *arg)
{
	struct task *t = arg;

	if (error != NULL)
		snprintf(t->error, sizeof t->error, "rootfs: %s", error);
	fsm_post(&t->fsm, error == NULL ? TASK_EV_ROOTFS_READY :
	    TASK_EV_ROOTFS_FAILED, NULL, 0);
}

/* The image is built while nothing else waits; the VM starts after it. */
static void
task_build_rootfs(struct task *t, const char *src)
{
	struct err err;

	t->rootfs_build = core_rootfs_build(t->shim->r, t->shim->cfg.mkfs_erofs,
	    src, t->rootfs_image, t->shim->cfg.boot_timeout_ms,
	    task_rootfs_built_cb, t, &err);
	if (t->rootfs_build == NULL)
		task_rootfs_built_cb(err.msg, t);
}

void
task_do_boot(struct task *t)
{
	core_rootfs_free(TAKE_PTR(t->rootfs_build));
	if (t->pod != NULL)
		core_pod_plug(t);
	else
		vm_start(t->vm);
}

/* ---- agent calls ----------------------------------------------------- */

/* timeout_ms 0: the call lasts as long as it must (WaitProcess). */
uint32_t
task_agent_call(struct task *t, const char *method,
    const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp,
    uint64_t timeout_ms, proto_reply_cb cb, void *arg)
{
	struct proto_call_opts o = { timeout_ms, NULL };
	struct err err;
	uint32_t id = 0;

	if (t->vm != NULL && t->vm->conn != NULL)
		id = proto_conn_call(t->vm->conn, TASK_AGENT_SVC, method, req,
		    resp, &o, cb, arg, &err);
	return id;
}

static void
task_agent_result(struct task *t, const struct proto_reply *rep, int ok_ev)
{
	struct err err;

	if (rep->code != PROTO_OK)
		snprintf(t->error, sizeof t->error, "agent: %s (%s)",
		    rep->message, proto_code_name(rep->code));
	(void)task_event(t, rep->code == PROTO_OK ? ok_ev :
	    TASK_EV_AGENT_FAILED, NULL, &err);
}

static void
task_created_cb(const struct proto_reply *rep, void *arg)
{
	task_agent_result(arg, rep, TASK_EV_AGENT_CREATED);
}

/*
 * The guest's word on the exit. Its clock is not ours and its numbers are
 * not trusted: the time is the host's, the status must fit in a byte.
 */
static void
task_wait_cb(const struct proto_reply *rep, void *arg)
{
	const Kiln__Agent__V1__WaitProcessResponse *wr = (const void *)rep->msg;
	struct task_exit ex = { 255, time_real_ns() };
	struct task *t = arg;
	struct err err;

	t->wait_call = 0;
	if (rep->code != PROTO_OK || wr == NULL)
		return;		/* the channel is gone: VM_DIED follows */
	if (wr->exit_status > 255)
		log_warnx("task=%s guest reported exit status %u, using 255",
		    t->id, wr->exit_status);
	else
		ex.status = wr->exit_status;
	(void)task_event(t, TASK_EV_EXITED, &ex, &err);
}

static void	task_next_event(struct task *);

/*
 * The agent's asynchronous news, one long-poll at a time. Only an OOM of
 * this task's container is believed; exits come through WaitProcess.
 */
static void
task_guest_event_cb(const struct proto_reply *rep, void *arg)
{
	const Kiln__Agent__V1__GuestEvent *ev = (const void *)rep->msg;
	Containerd__Events__TaskOOM oom = CONTAINERD__EVENTS__TASK_OOM__INIT;
	struct task *t = arg, *who;

	if (rep->code != PROTO_OK || ev == NULL)
		return;		/* channel gone: the VM's end follows */
	who = ev->kind_case == KILN__AGENT__V1__GUEST_EVENT__KIND_OOM &&
	    ev->oom != NULL ? core_pod_task(t, ev->oom->container_id) : NULL;
	if (who != NULL) {
		log_warnx("task=%s out of memory in the guest", who->id);
		oom.container_id = who->id;
		task_publish(t, "/tasks/oom", "containerd.events.TaskOOM",
		    &oom.base);
	} else if (ev->kind_case != KILN__AGENT__V1__GUEST_EVENT__KIND_EXITED)
		log_warnx("task=%s unexpected guest event %d ignored", t->id,
		    (int)ev->kind_case);
	task_next_event(t);
}

static void
task_next_event(struct task *t)
{
	Kiln__Agent__V1__NextEventRequest r =
	    KILN__AGENT__V1__NEXT_EVENT_REQUEST__INIT;

	(void)task_agent_call(t, "NextEvent", &r.base,
	    &kiln__agent__v1__guest_event__descriptor, 0, task_guest_event_cb,
	    t);
}

void
task_do_agent_create(struct task *t)
{
	Kiln__Agent__V1__CreateContainerRequest cr =
	    KILN__AGENT__V1__CREATE_CONTAINER_REQUEST__INIT;
	Kiln__Agent__V1__ProcessRef ref = KILN__AGENT__V1__PROCESS_REF__INIT;
	char serial[24];

	core_stdio_attach(t->stdio, t->vm->conn);
	cr.container_id = t->id;
	cr.rootfs_tag = (char *)(uintptr_t)(t->rootfs_image != NULL ?
	    CORE_ROOTFS_SERIAL : "rootfs");
	if (t->pod != NULL) {
		snprintf(serial, sizeof serial, "%s%d", CORE_POD_DISK_SERIAL,
		    t->disk->index);
		cr.rootfs_tag = serial;
		cr.sandbox_id = t->pod->id;
	}
	cr.rootfs_type = (char *)(uintptr_t)(t->rootfs_image != NULL ?
	    "erofs" : "9p");
	cr.spec_json.data = (uint8_t *)t->spec_json;
	cr.spec_json.len = t->spec_len;
	cr.terminal = t->terminal;
	cr.stdin = t->stdin_path[0] != '\0';
	cr.stdout = t->stdout_path[0] != '\0';
	cr.stderr = t->stderr_path[0] != '\0';
	if (task_agent_call(t, "CreateContainer", &cr.base,
	    &google__protobuf__empty__descriptor, AGENT_MS(t), task_created_cb,
	    t) == 0) {
		snprintf(t->error, sizeof t->error, "agent channel closed");
		fsm_post(&t->fsm, TASK_EV_AGENT_FAILED, NULL, 0);
		return;
	}
	/* Wait from the start, as containerd does: no exit can slip by. */
	ref.container_id = t->id;
	ref.exec_id = (char *)(uintptr_t)"";
	t->wait_call = task_agent_call(t, "WaitProcess", &ref.base,
	    &kiln__agent__v1__wait_process_response__descriptor, 0,
	    task_wait_cb, t);
	/* One long-poll per VM: the sandbox's hears its members' news. */
	if (t->pod == NULL)
		task_next_event(t);
}

void
task_publish(struct task *t, const char *topic, const char *type,
    const ProtobufCMessage *msg)
{
	core_events_publish(t->shim->events, topic, type, msg);
}

void
task_do_reply_created(struct task *t)
{
	Containerd__Task__V2__CreateTaskResponse r =
	    CONTAINERD__TASK__V2__CREATE_TASK_RESPONSE__INIT;
	Containerd__Events__TaskCreate ev = CONTAINERD__EVENTS__TASK_CREATE__INIT;
	Containerd__Events__TaskIO io = CONTAINERD__EVENTS__TASK_IO__INIT;
	struct err err;

	reactor_timer_stop(t->timer);
	/* An app container's `delete` must not kill the pod's QEMU. */
	core_state_write(t->bundle, t->pod == NULL ? t->vm->qemu_pid : 0,
	    t->run_dir, &err);
	r.pid = task_pid(t);
	if (t->pending != NULL)
		proto_call_reply(TAKE_PTR(t->pending), &r.base);
	ev.container_id = t->id;
	ev.bundle = t->bundle;
	io.stdin = t->stdin_path;
	io.stdout = t->stdout_path;
	io.stderr = t->stderr_path;
	ev.io = &io;
	ev.pid = task_pid(t);
	task_publish(t, "/tasks/create", "containerd.events.TaskCreate",
	    &ev.base);
}

/* The VM is stopped already, or is asked to stop: VM_STOPPED follows. */
static void
task_stop_vm(struct task *t)
{
	if (t->vm == NULL || vm_is_stopped(t->vm))
		fsm_post(&t->fsm, TASK_EV_VM_STOPPED, NULL, 0);
	else if (t->pod != NULL)
		core_pod_unplug(t);
	else
		vm_stop(t->vm);
	reactor_timer_start(t->timer, TASK_DELETE_MS, false);
}

void
task_do_fail_create(struct task *t)
{
	/*
	 * createRuntime/prestart hooks still running are killed: their
	 * HOOKS_DONE would reach DELETING's rows, which are the poststop
	 * hooks' (the task would end before its VM, without CNI DEL or
	 * poststop hooks).
	 */
	core_hooks_free(TAKE_PTR(t->hooks));
	if (t->error[0] == '\0')
		snprintf(t->error, sizeof t->error, "%s", t->vm != NULL &&
		    t->vm->why[0] != '\0' ? t->vm->why : "create timed out");
	if (t->pending != NULL)
		proto_call_fail(TAKE_PTR(t->pending), PROTO_UNKNOWN,
		    "create %s: %s", t->id, t->error);
	task_stop_vm(t);
}

/* ---- start, kill ----------------------------------------------------- */

static void
task_started_cb(const struct proto_reply *rep, void *arg)
{
	const Kiln__Agent__V1__StartProcessResponse *r = (const void *)rep->msg;
	struct task *t = arg;

	if (rep->code == PROTO_OK && r != NULL)
		t->guest_pid = r->pid;
	task_agent_result(t, rep, TASK_EV_AGENT_STARTED);
}

int
task_do_start(struct task *t, struct err *err)
{
	Kiln__Agent__V1__ProcessRef ref = KILN__AGENT__V1__PROCESS_REF__INIT;

	ref.container_id = t->id;
	ref.exec_id = (char *)(uintptr_t)"";
	if (task_agent_call(t, "StartProcess", &ref.base,
	    &kiln__agent__v1__start_process_response__descriptor, AGENT_MS(t),
	    task_started_cb, t) == 0)
		return err_set(err, ERR_CLOSED, "agent channel closed");
	reactor_timer_start(t->timer, AGENT_MS(t), false);
	return 0;
}

/* ---- hooks ------------------------------------------------------------- */

static const char *const task_create_hooks[] = { "createRuntime",
    "prestart", NULL };
static const char *const task_poststart_hooks[] = { "poststart", NULL };
static const char *const task_poststop_hooks[] = { "poststop", NULL };

static void
task_hooks_cb(const char *error, void *arg)
{
	struct task *t = arg;

	if (error != NULL)
		snprintf(t->error, sizeof t->error, "hook: %s", error);
	fsm_post(&t->fsm, error != NULL ? TASK_EV_HOOKS_FAILED :
	    TASK_EV_HOOKS_DONE, NULL, 0);
}

/* Poststart and poststop failures are warnings (runtime-spec). */
static void
task_hooks_logged_cb(const char *error, void *arg)
{
	struct task *t = arg;

	if (error != NULL)
		log_warnx("task=%s poststart: %s", t->id, error);
}

static void
task_run_hooks(struct task *t, struct core_hooks **slot,
    const char *const *kinds, const char *status, core_hooks_done_cb cb)
{
	char *state = core_oci_state(t->id, status, (pid_t)task_pid(t),
	    t->bundle, t->spec);

	core_hooks_free(*slot);
	*slot = core_hooks_run(t->shim->r, t->spec, kinds, state, cb, t);
	free(state);
}

/* createRuntime and prestart: the VM's namespaces exist, QEMU's pid too. */
void
task_do_create_hooks(struct task *t)
{
	task_run_hooks(t, &t->hooks, task_create_hooks, "creating",
	    task_hooks_cb);
}

static void
task_released_cb(void *arg)
{
	struct task *t = arg;

	task_run_hooks(t, &t->hooks, task_poststop_hooks, "stopped",
	    task_hooks_cb);
}

/* The VM is gone: CNI DEL where kiln ran ADD, then poststop hooks. */
void
task_do_poststop(struct task *t)
{
	if (t->net != NULL)
		core_net_release(t->net, task_released_cb, t);
	else
		task_released_cb(t);
}

/* Wire what CNI made (NET_READY or NET_FAILED follows), under a deadline. */
void
task_do_wire(struct task *t)
{
	reactor_timer_start(t->timer, 2 * AGENT_MS(t), false);
	if (t->net == NULL)	/* a pod's app container: the sandbox's */
		fsm_post(&t->fsm, TASK_EV_NET_READY, NULL, 0);
	else
		core_net_wire(t->net);
}

void
task_do_net_failed(struct task *t)
{
	log_warnx("task=%s %s", t->id, t->error);
}

void
task_do_reply_started(struct task *t)
{
	Containerd__Task__V2__StartResponse r =
	    CONTAINERD__TASK__V2__START_RESPONSE__INIT;
	Containerd__Events__TaskStart ev = CONTAINERD__EVENTS__TASK_START__INIT;

	reactor_timer_stop(t->timer);
	core_scaler_run(t->scaler);
	r.pid = task_pid(t);
	if (t->pending != NULL)
		proto_call_reply(TAKE_PTR(t->pending), &r.base);
	ev.container_id = t->id;
	ev.pid = task_pid(t);
	task_publish(t, "/tasks/start", "containerd.events.TaskStart",
	    &ev.base);
	if (core_hooks_count(t->spec, task_poststart_hooks) > 0)
		task_run_hooks(t, &t->hooks_bg, task_poststart_hooks,
		    "running", task_hooks_logged_cb);
	/* The exit may have come first: its drain starts now. */
	if (t->exited_ns != 0)
		task_do_drain(t);
}

void
core_answer_waiters(struct task_waiter_q *q, uint32_t status,
    uint64_t exited_ns)
{
	Containerd__Task__V2__WaitResponse r =
	    CONTAINERD__TASK__V2__WAIT_RESPONSE__INIT;
	Google__Protobuf__Timestamp ts;
	struct task_waiter *w;

	proto_timestamp_from_ns(&ts, exited_ns);
	r.exit_status = status;
	r.exited_at = &ts;
	while ((w = TAILQ_FIRST(q)) != NULL) {
		TAILQ_REMOVE(q, w, entry);
		proto_call_reply(w->call, &r.base);
		free(w);
	}
}

static void
task_answer_waiters(struct task *t)
{
	core_answer_waiters(&t->waiters, t->exit_status, t->exited_ns);
}

void
task_do_fail_start(struct task *t)
{
	reactor_timer_stop(t->timer);
	if (t->pending != NULL)
		proto_call_fail(TAKE_PTR(t->pending), PROTO_UNKNOWN,
		    "start %s: %s", t->id, t->error[0] != '\0' ? t->error :
		    "timed out");
	if (t->exited_ns == 0) {
		t->exit_status = 255;
		t->exited_ns = time_real_ns();
	}
	task_answer_waiters(t);
}

/* The agent's answer to a signal answers containerd's Kill (init/exec). */
void
core_killed_cb(const struct proto_reply *rep, void *arg)
{
	Google__Protobuf__Empty e = GOOGLE__PROTOBUF__EMPTY__INIT;
	struct proto_call *call = arg;

	if (rep->code == PROTO_OK)
		proto_call_reply(call, &e.base);
	else
		proto_call_fail(call, rep->code == PROTO_NOT_FOUND ||
		    rep->code == PROTO_FAILED_PRECONDITION ? rep->code :
		    PROTO_UNKNOWN, "kill: %s", rep->message);
}

int
task_do_kill(struct task *t, const void *data, struct err *err)
{
	const struct task_kill *k = data;
	Kiln__Agent__V1__SignalRequest sr = KILN__AGENT__V1__SIGNAL_REQUEST__INIT;

	if (k->req->signal < 1 || k->req->signal > 64)
		return err_set(err, EINVAL, "invalid signal %u",
		    k->req->signal);
	sr.container_id = t->id;
	sr.exec_id = (char *)(uintptr_t)"";
	sr.signal = k->req->signal;
	sr.all = k->req->all;
	if (task_agent_call(t, "SignalProcess", &sr.base,
	    &google__protobuf__empty__descriptor, AGENT_MS(t), core_killed_cb,
	    k->call) == 0)
		return err_set(err, ERR_CLOSED, "agent channel closed");
	return 0;
}

/* ---- pause, resume --------------------------------------------------- */

static void
task_paused_cb(const struct proto_reply *rep, void *arg)
{
	task_agent_result(arg, rep, TASK_EV_AGENT_PAUSED);
}

static void
task_resumed_cb(const struct proto_reply *rep, void *arg)
{
	task_agent_result(arg, rep, TASK_EV_AGENT_RESUMED);
}

/* Freeze or thaw the container in the guest (the agent's cgroup). */
int
task_do_pause(struct task *t, bool resume, struct err *err)
{
	Kiln__Agent__V1__ContainerRef ref = KILN__AGENT__V1__CONTAINER_REF__INIT;

	ref.container_id = t->id;
	if (task_agent_call(t, resume ? "ResumeContainer" : "PauseContainer",
	    &ref.base, &google__protobuf__empty__descriptor, AGENT_MS(t),
	    resume ? task_resumed_cb : task_paused_cb, t) == 0)
		return err_set(err, ERR_CLOSED, "agent channel closed");
	reactor_timer_start(t->timer, AGENT_MS(t), false);
	return 0;
}

void
task_do_paused(struct task *t, bool resumed)
{
	Google__Protobuf__Empty e = GOOGLE__PROTOBUF__EMPTY__INIT;
	Containerd__Events__TaskPaused p = CONTAINERD__EVENTS__TASK_PAUSED__INIT;
	Containerd__Events__TaskResumed r =
	    CONTAINERD__EVENTS__TASK_RESUMED__INIT;

	reactor_timer_stop(t->timer);
	if (resumed)
		core_scaler_run(t->scaler);
	if (t->pending != NULL)
		proto_call_reply(TAKE_PTR(t->pending), &e.base);
	p.container_id = r.container_id = t->id;
	if (resumed)
		task_publish(t, "/tasks/resumed", "containerd.events."
		    "TaskResumed", &r.base);
	else
		task_publish(t, "/tasks/paused", "containerd.events.TaskPaused",
		    &p.base);
}

void
task_do_answer_pending(struct task *t, const char *why)
{
	if (t->pending != NULL)
		proto_call_fail(TAKE_PTR(t->pending), PROTO_FAILED_PRECONDITION,
		    "task %s: %s", t->id, why);
}

void
task_do_pause_failed(struct task *t)
{
	reactor_timer_stop(t->timer);
	core_scaler_run(t->scaler);	/* back to RUNNING, or PAUSED: it looks */
	task_do_answer_pending(t, t->error[0] != '\0' ? t->error :
	    "timed out");
}

/* ---- exit, stop, delete ---------------------------------------------- */

void
task_do_record_exit(struct task *t, const void *data)
{
	const struct task_exit *ex = data;

	if (t->exited_ns != 0)
		return;
	t->exit_status = ex->status;
	t->exited_ns = ex->at_ns;
	fsm_detail(&t->fsm, "exit_status=%u", ex->status);
}

static void
task_drained_cb(void *arg)
{
	struct task *t = arg;
	struct err err;

	(void)task_event(t, TASK_EV_IO_DRAINED, NULL, &err);
}

/* Output the guest sent before its exit reaches the fifos first. */
void
task_do_drain(struct task *t)
{
	reactor_timer_start(t->timer, TASK_DRAIN_MS, false);
	core_stdio_when_drained(t->stdio, task_drained_cb, t);
}

void
task_do_stopped(struct task *t)
{
	Containerd__Events__TaskExit ev = CONTAINERD__EVENTS__TASK_EXIT__INIT;
	Google__Protobuf__Timestamp ts;

	reactor_timer_stop(t->timer);
	task_answer_waiters(t);
	proto_timestamp_from_ns(&ts, t->exited_ns);
	ev.container_id = t->id;
	ev.id = t->id;
	ev.pid = task_pid(t);
	ev.exit_status = t->exit_status;
	ev.exited_at = &ts;
	task_publish(t, "/tasks/exit", "containerd.events.TaskExit", &ev.base);
}

/* The VM went away under a live task: SIGKILL's status, once. */
void
task_do_vm_died(struct task *t)
{
	task_do_answer_pending(t, "its VM died");
	if (t->exited_ns == 0) {
		t->exit_status = 137;
		t->exited_ns = time_real_ns();
	}
	log_warnx("task=%s vm died: %s", t->id, t->vm != NULL ? t->vm->why :
	    "?");
	core_stdio_attach(t->stdio, NULL);
	task_do_stopped(t);
}

void
task_do_delete(struct task *t)
{
	task_stop_vm(t);
}

static void
task_cleanup_host(struct task *t)
{
	_cleanup_free_ char *state = xasprintf("%s/%s", t->bundle,
	    SHIM_STATE_FILE);

	core_rootfs_free(TAKE_PTR(t->rootfs_build));
	core_pod_detach(t);
	if (t->rootfs_image != NULL)
		unlink(t->rootfs_image);
	if (t->rootfs_mounted && umount2(t->rootfs, MNT_DETACH) < 0)
		log_warn("umount %s", t->rootfs);
	t->rootfs_mounted = false;
	core_stdio_free(t->stdio);
	t->stdio = NULL;
	core_net_free(t->net);
	t->net = NULL;
	core_resize_free(t->resize);
	t->resize = NULL;
	core_scaler_free(t->scaler);
	t->scaler = NULL;
	core_metrics_srv_free(t->metrics);
	t->metrics = NULL;
	unlink(state);
	if (t->run_dir != NULL) {
		_cleanup_free_ char *log = xasprintf("%s/console.log",
		    t->run_dir);
		_cleanup_free_ char *qlog = xasprintf("%s/qemu.log", t->run_dir);

		unlink(log);
		unlink(qlog);
		rmdir(t->run_dir);
	}
}

void
task_do_deleted(struct task *t)
{
	Containerd__Task__V2__DeleteResponse r =
	    CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
	Containerd__Events__TaskDelete ev = CONTAINERD__EVENTS__TASK_DELETE__INIT;
	Google__Protobuf__Timestamp ts;

	reactor_timer_stop(t->timer);
	if (t->pod == NULL && t->vm != NULL && !vm_is_stopped(t->vm))
		vm_kill(t->vm);
	task_cleanup_host(t);
	proto_timestamp_from_ns(&ts, t->exited_ns);
	r.pid = ev.pid = task_pid(t);
	r.exit_status = ev.exit_status = t->exit_status;
	r.exited_at = ev.exited_at = t->exited_ns != 0 ? &ts : NULL;
	if (t->pending != NULL)
		proto_call_reply(TAKE_PTR(t->pending), &r.base);
	ev.container_id = t->id;
	task_publish(t, "/tasks/delete", "containerd.events.TaskDelete",
	    &ev.base);
	task_answer_waiters(t);
	shim_task_gone(t);
}

/* ---- VM and stream callbacks ----------------------------------------- */

static void
task_vm_ready_cb(struct vm *vm, struct proto_conn *conn, void *arg)
{
	struct task *t = arg;
	struct err err;

	(void)vm;
	(void)conn;
	(void)task_event(t, TASK_EV_VM_READY, NULL, &err);
}

/*
 * QEMU is gone, whatever the task's state: every exec ends with it (found
 * by tla/Exec.tla: an exec told only from the task's live states would
 * hang when the VM died after the init had exited).
 */
static void
task_vm_stopped_cb(struct vm *vm, bool crashed, const char *why, void *arg)
{
	struct task *t = arg;
	struct exec_proc *e;
	struct err err;

	(void)vm;
	TAILQ_FOREACH(e, &t->execs, entry)
		fsm_post(&e->fsm, EXEC_EV_VM_DIED, NULL, 0);
	core_net_vm_gone(t->net);
	core_resize_vm_gone(t->resize);
	core_scaler_halt(t->scaler);
	core_pod_vm_gone(t);
	if (crashed)
		log_warnx("task=%s vm stopped unexpectedly: %s", t->id, why);
	(void)task_event(t, crashed ? TASK_EV_VM_DIED : TASK_EV_VM_STOPPED,
	    NULL, &err);
}

/* Stdio from the guest: only the streams of this VM's tasks are accepted. */
static void
task_stream_cb(struct proto_conn *c, const uint8_t *data, size_t len,
    void *arg)
{
	struct Kiln__Agent__V1__StreamFrame *f;
	struct proto_stream_msg m;
	struct task *t = arg;
	struct err err;

	(void)c;
	if (proto_stream_decode(data, len, &f, &m, &err) < 0) {
		log_warnx("task=%s hostile guest: %s", t->id, err.msg);
		vm_abort(t->vm, "guest sent a malformed stream frame");
		return;
	}
	if (core_pod_task(t, m.container_id) != NULL)
		t = core_pod_task(t, m.container_id);
	if (strcmp(m.container_id, t->id) != 0) {
		log_warnx("task=%s hostile guest: stream frame for %s/%s",
		    t->id, m.container_id, m.exec_id);
		vm_abort(t->vm, "guest sent a stream frame for another "
		    "container");
	} else if (m.exec_id[0] != '\0') {
		/* A deleted exec's last credit may still be on the way. */
		struct exec_proc *e = exec_find(t, m.exec_id);

		if (e != NULL && e->stdio != NULL)
			core_stdio_frame(e->stdio, &m);
	} else if (t->stdio != NULL)
		core_stdio_frame(t->stdio, &m);
	proto_stream_free(f);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerd.task.v2.Task over ttrpc (reference section 3). One shim, one
 * task: every call names it by id; exec ids, terminals, pause, checkpoint
 * and update answer UNIMPLEMENTED until they exist. Handlers check the
 * request and turn it into a task event; Create, Start, Delete, Kill and
 * Wait are answered when the machine gets that far.
 */
#include <errno.h>
#include <string.h>

#include "core/core_int.h"

static Containerd__V1__Types__Status task_status(const struct task *);

/* The live task named id (the first, or a pod's app container), or NULL. */
static struct task *
shim_find(struct shim *s, const char *id)
{
	struct task *t = s->task;

	if (t != NULL && (t = core_pod_task(t, id)) != NULL &&
	    t->fsm.state != TASK_ST_DELETED)
		return t;
	return NULL;
}

/* The live task named id, or NULL after answering NOT_FOUND. */
static struct task *
find_task(struct shim *s, struct proto_call *call, const char *id)
{
	struct task *t = shim_find(s, id);

	if (t == NULL) {
		proto_call_fail(call, PROTO_NOT_FOUND, "task %s: not found",
		    id);
		return NULL;
	}
	return t;
}

/*
 * For requests that name a process: the task, and in *e the exec when
 * exec_id is not "" (NULL: the init). NULL after answering NOT_FOUND.
 */
static struct task *
find_proc(struct shim *s, struct proto_call *call, const char *id,
    const char *exec_id, struct exec_proc **e)
{
	struct task *t = find_task(s, call, id);

	*e = NULL;
	if (t == NULL || exec_id == NULL || exec_id[0] == '\0')
		return t;
	*e = exec_find(t, exec_id);
	if (*e == NULL || (*e)->fsm.state == EXEC_ST_DELETED) {
		proto_call_fail(call, PROTO_NOT_FOUND, "exec %s: not found",
		    exec_id);
		return NULL;
	}
	return t;
}

/* Hold call in *pending while ev runs; answer errors at once. */
static void
with_pending(struct proto_call *call, struct proto_call **pending,
    struct fsm *m, int ev, const void *data)
{
	struct err err;

	if (*pending != NULL)
		return (void)proto_call_fail(call, PROTO_FAILED_PRECONDITION,
		    "%s: another operation is in progress", m->id);
	*pending = call;
	if (fsm_send(m, ev, data, 0, &err) < 0) {
		*pending = NULL;
		proto_call_fail_err(call, &err);
	}
}

/*
 * A second task is a pod's app container: its bundle must name this
 * shim's first task as its sandbox, and that sandbox's VM must be up.
 */
static bool
create_pod_member_ok(struct shim *s, struct proto_call *call,
    const Containerd__Task__V2__CreateTaskRequest *req)
{
	char sandbox[PROTO_ID_MAX + 1];
	enum core_pod_role role;
	struct err err;

	if (shim_find(s, req->id) != NULL)
		return proto_call_fail(call, PROTO_ALREADY_EXISTS,
		    "task %s: already exists", req->id), false;
	if (core_pod_role_of_bundle(req->bundle, &role, sandbox, &err) < 0)
		return proto_call_fail_err(call, &err), false;
	if (role != CORE_POD_CONTAINER || strcmp(sandbox, s->task->id) != 0)
		return proto_call_fail(call, PROTO_INVALID_ARGUMENT,
		    "task id %s: this shim serves %s and its pod's "
		    "containers", req->id, s->id), false;
	if (!s->task->pod_sandbox || task_status(s->task) !=
	    CONTAINERD__V1__TYPES__STATUS__RUNNING || s->task->vm == NULL ||
	    s->task->vm->conn == NULL)
		return proto_call_fail(call, PROTO_FAILED_PRECONDITION,
		    "pod sandbox %s: not running", s->task->id), false;
	return true;
}

static void
h_create(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	const Containerd__Task__V2__CreateTaskRequest *req = (const void *)m;
	struct shim *s = arg;
	struct task *t;
	struct err err;

	if (!ident_valid(req->id, PROTO_ID_MAX) || (s->task == NULL &&
	    strcmp(req->id, s->id) != 0))
		return (void)proto_call_fail(call, PROTO_INVALID_ARGUMENT,
		    "task id %s: this shim serves %s", req->id, s->id);
	if (s->config_error != NULL)
		return (void)proto_call_fail(call, PROTO_INVALID_ARGUMENT,
		    "kiln configuration: %s", s->config_error);
	if (req->bundle[0] != '/' || req->checkpoint[0] != '\0')
		return (void)proto_call_fail(call, req->checkpoint[0] != '\0' ?
		    PROTO_UNIMPLEMENTED : PROTO_INVALID_ARGUMENT,
		    req->checkpoint[0] != '\0' ? "restore from checkpoint is "
		    "not supported" : "bundle must be an absolute path");
	if (s->task != NULL && !create_pod_member_ok(s, call, req))
		return;
	t = task_new(s, req->id);
	if (s->task == NULL)
		s->task = t;
	else {
		t->pod = s->task;
		TAILQ_INSERT_TAIL(&s->members, t, pod_entry);
	}
	t->pending = call;
	if (task_event(t, TASK_EV_CREATE, req, &err) < 0) {
		t->pending = NULL;
		proto_call_fail_err(call, &err);
	}
}

static void
h_start(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	const Containerd__Task__V2__StartRequest *req = (const void *)m;
	struct exec_proc *e;
	struct task *t = find_proc(arg, call, req->id, req->exec_id, &e);

	if (t == NULL)
		return;
	if (e != NULL)
		with_pending(call, &e->pending, &e->fsm, EXEC_EV_START, NULL);
	else
		with_pending(call, &t->pending, &t->fsm, TASK_EV_START, NULL);
}

/* containerd.v1.types.Status of a task state. */
static Containerd__V1__Types__Status
task_status(const struct task *t)
{
	switch ((enum task_state)t->fsm.state) {
	case TASK_ST_NEW:
	case TASK_ST_DELETED:
	case TASK_ST__COUNT:
		return CONTAINERD__V1__TYPES__STATUS__UNKNOWN;
	case TASK_ST_CREATING:
	case TASK_ST_CREATED:
		return CONTAINERD__V1__TYPES__STATUS__CREATED;
	case TASK_ST_PAUSING:
		return CONTAINERD__V1__TYPES__STATUS__PAUSING;
	case TASK_ST_PAUSED:
	case TASK_ST_RESUMING:
		return CONTAINERD__V1__TYPES__STATUS__PAUSED;
	case TASK_ST_STARTING:
	case TASK_ST_RUNNING:
	case TASK_ST_EXITING:
		/* EXITING: ctr must not see STOPPED before Wait returns. */
		return CONTAINERD__V1__TYPES__STATUS__RUNNING;
	case TASK_ST_STOPPED:
	case TASK_ST_DELETING:
		return CONTAINERD__V1__TYPES__STATUS__STOPPED;
	}
	return CONTAINERD__V1__TYPES__STATUS__UNKNOWN;
}

/* containerd.v1.types.Status of an exec state. */
static Containerd__V1__Types__Status
exec_status(const struct exec_proc *e)
{
	switch ((enum exec_state)e->fsm.state) {
	case EXEC_ST_NEW:
	case EXEC_ST_DELETED:
	case EXEC_ST__COUNT:
		return CONTAINERD__V1__TYPES__STATUS__UNKNOWN;
	case EXEC_ST_ADDING:
	case EXEC_ST_CREATED:
		return CONTAINERD__V1__TYPES__STATUS__CREATED;
	case EXEC_ST_STARTING:
	case EXEC_ST_RUNNING:
	case EXEC_ST_EXITING:
		return CONTAINERD__V1__TYPES__STATUS__RUNNING;
	case EXEC_ST_STOPPED:
		return CONTAINERD__V1__TYPES__STATUS__STOPPED;
	}
	return CONTAINERD__V1__TYPES__STATUS__UNKNOWN;
}

static void
exec_state(struct proto_call *call, struct task *t, struct exec_proc *e)
{
	Containerd__Task__V2__StateResponse r =
	    CONTAINERD__TASK__V2__STATE_RESPONSE__INIT;
	Google__Protobuf__Timestamp ts;

	r.id = t->id;
	r.exec_id = e->id;
	r.bundle = t->bundle;
	r.pid = e->guest_pid;
	r.status = exec_status(e);
	r.stdin = e->stdin_path;
	r.stdout = e->stdout_path;
	r.stderr = e->stderr_path;
	if (r.status == CONTAINERD__V1__TYPES__STATUS__STOPPED) {
		r.exit_status = e->exit_status;
		proto_timestamp_from_ns(&ts, e->exited_ns);
		r.exited_at = &ts;
	}
	proto_call_reply(call, &r.base);
}

static void
h_state(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	const Containerd__Task__V2__StateRequest *req = (const void *)m;
	Containerd__Task__V2__StateResponse r =
	    CONTAINERD__TASK__V2__STATE_RESPONSE__INIT;
	struct exec_proc *e;
	struct task *t = find_proc(arg, call, req->id, req->exec_id, &e);
	Google__Protobuf__Timestamp ts;

	if (t == NULL)
		return;
	if (e != NULL)
		return exec_state(call, t, e);
	r.id = t->id;
	r.bundle = t->bundle != NULL ? t->bundle : (char *)(uintptr_t)"";
	r.pid = task_pid(t);
	r.status = task_status(t);
	r.stdin = t->stdin_path != NULL ? t->stdin_path : r.stdin;
	r.stdout = t->stdout_path != NULL ? t->stdout_path : r.stdout;
	r.stderr = t->stderr_path != NULL ? t->stderr_path : r.stderr;
	r.terminal = t->terminal;
	if (r.status == CONTAINERD__V1__TYPES__STATUS__STOPPED) {
		r.exit_status = t->exit_status;
		proto_timestamp_from_ns(&ts, t->exited_ns);
		r.exited_at = &ts;
	}
	proto_call_reply(call, &r.base);
}

static void
h_wait(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	const Containerd__Task__V2__WaitRequest *req = (const void *)m;
	struct exec_proc *e;
	struct task *t = find_proc(arg, call, req->id, req->exec_id, &e);
	struct task_waiter_q *q;
	struct task_waiter *w;
	bool stopped;

	if (t == NULL)
		return;
	stopped = e != NULL ? exec_status(e) ==
	    CONTAINERD__V1__TYPES__STATUS__STOPPED : task_status(t) ==
	    CONTAINERD__V1__TYPES__STATUS__STOPPED;
	q = e != NULL ? &e->waiters : &t->waiters;
	w = xcalloc(1, sizeof *w);
	w->call = call;
	TAILQ_INSERT_TAIL(q, w, entry);
	if (stopped)
		core_answer_waiters(q, e != NULL ? e->exit_status :
		    t->exit_status, e != NULL ? e->exited_ns : t->exited_ns);
}

static void
h_kill(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	const Containerd__Task__V2__KillRequest *req = (const void *)m;
	struct exec_proc *e;
	struct task *t = find_proc(arg, call, req->id, req->exec_id, &e);
	struct task_kill k = { req, call };
	struct err err;

	if (t == NULL)
		return;
	if ((e != NULL ? exec_event(e, EXEC_EV_KILL, &k, &err) :
	    task_event(t, TASK_EV_KILL, &k, &err)) < 0)
		proto_call_fail_err(call, &err);
}

/* Pause, Resume: the task's table decides; the agent answers later. */
static void
pause_resume(struct proto_call *call, const char *id, struct shim *s,
    int ev)
{
	struct task *t = find_task(s, call, id);

	if (t != NULL)
		with_pending(call, &t->pending, &t->fsm, ev, NULL);
}

static void
h_pause(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	const Containerd__Task__V2__PauseRequest *req = (const void *)m;

	pause_resume(call, req->id, arg, TASK_EV_PAUSE);
}

static void
h_resume(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	const Containerd__Task__V2__ResumeRequest *req = (const void *)m;

	pause_resume(call, req->id, arg, TASK_EV_RESUME);
}

/* A Stats call between its two agent calls: GetMetrics, then Stats. */
struct stats_req {
	struct proto_call	*call;
	struct task		*t;		/* borrowed */
	struct core_bpf_values	 bpf;
};

/*
 * The guest's cgroup metrics, re-packed as the Any ctr decodes, with
 * zero fields taken from the eBPF values. The guest is not trusted to be
 * brief: an answer larger than a sane metrics message is refused rather
 * than passed on.
 */
static void
stats_cb(const struct proto_reply *rep, void *arg)
{
	Kiln__Agent__V1__StatsResponse *sr = (void *)rep->msg;
	Containerd__Task__V2__StatsResponse r =
	    CONTAINERD__TASK__V2__STATS_RESPONSE__INIT;
	struct stats_req *q = arg;
	struct core_metrics_fill fill;
	Google__Protobuf__Any any;

	if (rep->code != PROTO_OK || sr == NULL || sr->metrics == NULL) {
		proto_call_fail(q->call, PROTO_NOT_FOUND, "stats: %s: not "
		    "found", rep->code != PROTO_OK ? rep->message :
		    "no metrics");
	} else if (protobuf_c_message_get_packed_size(&sr->metrics->base) >
	    65536) {
		proto_call_fail(q->call, PROTO_INTERNAL, "stats: the guest's "
		    "answer is too large");
	} else {
		core_metrics_fill(sr->metrics, &q->bpf, &fill);
		proto_any_pack(&any, "io.containerd.cgroups.v2.Metrics",
		    &sr->metrics->base);
		core_metrics_unfill(sr->metrics, &fill);
		r.stats = &any;
		proto_call_reply(q->call, &r.base);
		proto_any_clear(&any);
	}
	free(q);
}

static bool
stats_send(struct task *t, struct stats_req *q)
{
	Kiln__Agent__V1__ContainerRef ref = KILN__AGENT__V1__CONTAINER_REF__INIT;

	ref.container_id = t->id;
	return task_agent_call(t, "Stats", &ref.base,
	    &kiln__agent__v1__stats_response__descriptor, 10000, stats_cb,
	    q) != 0;
}

/*
 * The eBPF half first. An error status (say, an agent without
 * GetMetrics) leaves the cgroup values alone; an answer that breaks
 * agent.proto's bounds fails the call, with what was wrong.
 */
static void
stats_metrics_cb(const struct proto_reply *rep, void *arg)
{
	const Kiln__Agent__V1__MetricsResponse *mr = (const void *)rep->msg;
	struct stats_req *q = arg;
	struct task *t = q->t;	/* calls outlive no task: vm_free drops them */
	struct err err;

	if (t->vm == NULL || t->vm->conn == NULL) {
		proto_call_fail(q->call, PROTO_NOT_FOUND, "stats: the VM is "
		    "gone: not found");
		return free(q);
	}
	if (rep->code == PROTO_OK && mr != NULL) {
		if (core_metrics_check(mr, t->id, &err) < 0) {
			log_warnx("task=%s hostile guest: %s", t->id, err.msg);
			proto_call_fail(q->call, PROTO_INTERNAL, "stats: the "
			    "guest's eBPF metrics are malformed: %s", err.msg);
			return free(q);
		}
		(void)core_metrics_values(mr, t->id, &q->bpf);
	} else
		log_debug("task=%s GetMetrics: %s", t->id, rep->message);
	if (!stats_send(t, q)) {
		proto_call_fail(q->call, PROTO_NOT_FOUND, "stats: the VM is "
		    "gone: not found");
		free(q);
	}
}

static void
h_stats(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	const Containerd__Task__V2__StatsRequest *req = (const void *)m;
	Kiln__Agent__V1__ContainerRef ref = KILN__AGENT__V1__CONTAINER_REF__INIT;
	struct task *t = find_task(arg, call, req->id);
	struct stats_req *q;

	if (t == NULL)
		return;
	q = xcalloc(1, sizeof *q);
	q->call = call;
	q->t = t;
	ref.container_id = t->id;
	if (task_agent_call(t, "GetMetrics", &ref.base,
	    &kiln__agent__v1__metrics_response__descriptor, 10000,
	    stats_metrics_cb, q) == 0) {
		proto_call_fail(call, PROTO_NOT_FOUND, "task %s: no VM to "
		    "measure: not found", t->id);
		free(q);
	}
}

static void
resized_cb(const struct proto_reply *rep, void *arg)
{
	Google__Protobuf__Empty e = GOOGLE__PROTOBUF__EMPTY__INIT;

	if (rep->code == PROTO_OK)
		proto_call_reply(arg, &e.base);
	else
		proto_call_fail(arg, rep->code == PROTO_NOT_FOUND ?
		    PROTO_NOT_FOUND : PROTO_UNKNOWN, "resize: %s",
		    rep->message);
}

/* ResizePty: the pty lives in the guest; the agent sets its size. */
static void
h_resize(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	const Containerd__Task__V2__ResizePtyRequest *req = (const void *)m;
	Kiln__Agent__V1__ResizePtyRequest r =
	    KILN__AGENT__V1__RESIZE_PTY_REQUEST__INIT;
	struct exec_proc *e;
	struct task *t = find_proc(arg, call, req->id, req->exec_id, &e);

	if (t == NULL)
		return;
	r.container_id = t->id;
	r.exec_id = e != NULL ? e->id : (char *)(uintptr_t)"";
	r.width = req->width;
	r.height = req->height;
	if (task_agent_call(t, "ResizePty", &r.base,
	    &google__protobuf__empty__descriptor, AGENT_MS(t), resized_cb,
	    call) == 0)
		proto_call_fail(call, PROTO_FAILED_PRECONDITION, "task %s: no "
		    "VM", t->id);
}

static void
h_delete(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	const Containerd__Task__V2__DeleteRequest *req = (const void *)m;
	struct exec_proc *e;
	struct task *t = find_proc(arg, call, req->id, req->exec_id, &e);

	if (t == NULL)
		return;
	if (e != NULL)
		with_pending(call, &e->pending, &e->fsm, EXEC_EV_DELETE, NULL);
	else
		with_pending(call, &t->pending, &t->fsm, TASK_EV_DELETE, NULL);
}

struct pids_req {
	struct proto_call	*call;
	uint32_t		 qemu_pid;
};

/* Guest pids (the agent's word, bounded) after the VM's own pid. */
static void
pids_cb(const struct proto_reply *rep, void *arg)
{
	const Kiln__Agent__V1__ListPidsResponse *lp = (const void *)rep->msg;
	Containerd__Task__V2__PidsResponse r =
	    CONTAINERD__TASK__V2__PIDS_RESPONSE__INIT;
	Containerd__V1__Types__ProcessInfo info[257], *ptrs[257];
	struct pids_req *pr = arg;
	size_t i, n = 0;

	if (rep->code == PROTO_OK && lp != NULL)
		for (i = 0; i < lp->n_pids && n < 256; i++) {
			containerd__v1__types__process_info__init(&info[n]);
			info[n].pid = lp->pids[i];
			ptrs[n] = &info[n];
			n++;
		}
	r.n_processes = n;
	r.processes = ptrs;
	proto_call_reply(pr->call, &r.base);
	free(pr);
}

static void
h_pids(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	const Containerd__Task__V2__PidsRequest *req = (const void *)m;
	Kiln__Agent__V1__ContainerRef ref = KILN__AGENT__V1__CONTAINER_REF__INIT;
	struct task *t = find_task(arg, call, req->id);
	struct proto_call_opts o = { 10000, NULL };
	struct proto_reply none = { PROTO_UNAVAILABLE, "", NULL };
	struct pids_req *pr;
	struct err err;

	if (t == NULL)
		return;
	pr = xcalloc(1, sizeof *pr);
	pr->call = call;
	ref.container_id = t->id;
	if (t->vm == NULL || t->vm->conn == NULL ||
	    proto_conn_call(t->vm->conn, "kiln.agent.v1.Agent", "ListPids",
	    &ref.base, &kiln__agent__v1__list_pids_response__descriptor, &o,
	    pids_cb, pr, &err) == 0)
		pids_cb(&none, pr);
}

static void
h_connect(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	const Containerd__Task__V2__ConnectRequest *req = (const void *)m;
	Containerd__Task__V2__ConnectResponse r =
	    CONTAINERD__TASK__V2__CONNECT_RESPONSE__INIT;
	struct shim *s = arg;

	r.shim_pid = (uint32_t)getpid();
	r.task_pid = shim_find(s, req->id) != NULL ?
	    task_pid(shim_find(s, req->id)) : 0;
	r.version = (char *)(uintptr_t)KILN_VERSION;
	proto_call_reply(call, &r.base);
}

static void
h_exec(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	const Containerd__Task__V2__ExecProcessRequest *req = (const void *)m;
	struct task *t = find_task(arg, call, req->id);
	struct exec_proc *e;

	if (t == NULL)
		return;
	if (task_status(t) != CONTAINERD__V1__TYPES__STATUS__RUNNING)
		return (void)proto_call_fail(call, PROTO_FAILED_PRECONDITION,
		    "task %s: not running", t->id);
	if (!ident_valid(req->exec_id, PROTO_ID_MAX))
		return (void)proto_call_fail(call, PROTO_INVALID_ARGUMENT,
		    "invalid exec id %s", req->exec_id);
	if (exec_find(t, req->exec_id) != NULL)
		return (void)proto_call_fail(call, PROTO_ALREADY_EXISTS,
		    "exec %s: already exists", req->exec_id);
	if (req->spec == NULL || req->spec->value.len == 0)
		return (void)proto_call_fail(call, PROTO_INVALID_ARGUMENT,
		    "exec %s: no process spec", req->exec_id);
	if (t->nexecs >= SHIM_MAX_EXECS)
		return (void)proto_call_fail(call, PROTO_RESOURCE_EXHAUSTED,
		    "too many execs");
	e = exec_new(t, req->exec_id, req);
	with_pending(call, &e->pending, &e->fsm, EXEC_EV_ADD, NULL);
}

static void
h_shutdown(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	struct shim *s = arg;

	(void)m;
	proto_call_reply_empty(call);
	shim_maybe_exit(s);
}

static void
h_close_io(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	const Containerd__Task__V2__CloseIORequest *req = (const void *)m;
	struct exec_proc *e;
	struct task *t = find_proc(arg, call, req->id, req->exec_id, &e);
	struct core_stdio *io;

	if (t == NULL)
		return;
	io = e != NULL ? e->stdio : t->stdio;
	if (req->stdin && io != NULL)
		core_stdio_close_stdin(io);
	proto_call_reply_empty(call);
}

#define LINUX_RESOURCES_URL \
	"types.containerd.io/opencontainers/runtime-spec/1/LinuxResources"

/*
 * Update: the resources are JSON LinuxResources in an Any (containerd's
 * typeurl); the VM is resized and the container's limits follow.
 */
static void
h_update(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	const Containerd__Task__V2__UpdateTaskRequest *req = (const void *)m;
	struct task *t = find_task(arg, call, req->id);
	json_error_t jerr;
	json_t *res;

	if (t == NULL)
		return;
	if (req->resources == NULL || req->resources->type_url == NULL ||
	    strcmp(req->resources->type_url, LINUX_RESOURCES_URL) != 0)
		return (void)proto_call_fail(call, PROTO_INVALID_ARGUMENT,
		    "update %s: resources must be %s", t->id,
		    LINUX_RESOURCES_URL);
	if ((t->pod != NULL ? t->pod->resize : t->resize) == NULL ||
	    t->vm == NULL || t->vm->conn == NULL || t->exited_ns != 0)
		return (void)proto_call_fail(call, PROTO_FAILED_PRECONDITION,
		    "update %s: the task is not running", t->id);
	res = json_loadb((const char *)req->resources->value.data,
	    req->resources->value.len, 0, &jerr);
	if (!json_is_object(res)) {
		json_decref(res);
		return (void)proto_call_fail(call, PROTO_INVALID_ARGUMENT,
		    "update %s: resources: %s", t->id, jerr.text);
	}
	if (t->pod != NULL)
		core_pod_update(t, call, res);
	else
		core_resize_update(t->resize, call, res);
	json_decref(res);
}

static void
h_unimplemented(struct proto_call *call, const ProtobufCMessage *m,
    void *arg)
{
	(void)m;
	(void)arg;
	proto_call_fail(call, PROTO_UNIMPLEMENTED, "%s is not implemented by "
	    "kiln yet", proto_call_method(call));
}

#define D(name)	&containerd__task__v2__##name##__descriptor
const struct proto_method shim_task_methods[] = {
	{ "State", D(state_request), h_state },
	{ "Create", D(create_task_request), h_create },
	{ "Start", D(start_request), h_start },
	{ "Delete", D(delete_request), h_delete },
	{ "Pids", D(pids_request), h_pids },
	{ "Pause", D(pause_request), h_pause },
	{ "Resume", D(resume_request), h_resume },
	{ "Checkpoint", D(checkpoint_task_request), h_unimplemented },
	{ "Kill", D(kill_request), h_kill },
	{ "Exec", D(exec_process_request), h_exec },
	{ "ResizePty", D(resize_pty_request), h_resize },
	{ "CloseIO", D(close_iorequest), h_close_io },
	{ "Update", D(update_task_request), h_update },
	{ "Wait", D(wait_request), h_wait },
	{ "Stats", D(stats_request), h_stats },
	{ "Connect", D(connect_request), h_connect },
	{ "Shutdown", D(shutdown_request), h_shutdown },
};
#undef D
const size_t shim_task_nmethods = ARRAY_SIZE(shim_task_methods);

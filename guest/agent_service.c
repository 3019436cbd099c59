/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kiln.agent.v1.Agent handlers. Each checks its request (ids, sizes,
 * signals, that the object exists) before anything happens, turns it into
 * an event of the container or process machine, and answers at once or
 * when that machine's action completes (Create, Start, Wait, Remove,
 * NextEvent answer later).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "guest/agent.h"

/*
 * Every handler starts here: note that the host spoke, and play dead after
 * TestHang (the call is freed, never answered).
 */
static bool
agent_enter(struct agent *a, struct proto_call *call)
{
	a->heard_host = true;
	if (!a->hanging)
		return true;
	proto_call_drop(call);
	return false;
}

static bool
exec_id_ok(const char *id)
{
	return id[0] == '\0' || ident_valid(id, PROTO_ID_MAX);
}

/* Find container id and process exec_id, or answer NOT_FOUND. */
static struct agent_process *
lookup(struct agent *a, struct proto_call *call, const char *cid,
    const char *eid)
{
	struct agent_container *c;
	struct agent_process *p = NULL;

	if (!ident_valid(cid, PROTO_ID_MAX) || !exec_id_ok(eid)) {
		proto_call_fail(call, PROTO_INVALID_ARGUMENT, "invalid id");
		return NULL;
	}
	c = agent_container_find(a, cid);
	if (c != NULL)
		p = agent_process_find(c, eid);
	if (p == NULL)
		proto_call_fail(call, PROTO_NOT_FOUND, "process %s/%s: not "
		    "found", cid, eid);
	return p;
}

static void
h_ping(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	Kiln__Agent__V1__PingResponse r = KILN__AGENT__V1__PING_RESPONSE__INIT;
	struct agent *a = arg;

	(void)m;
	if (!agent_enter(a, call))
		return;
	r.kernel_release = a->kernel_release;
	r.agent_version = (char *)(uintptr_t)KILN_VERSION;
	r.boot_ns = a->boot_ns;
	r.ready_ns = a->ready_ns;
	proto_call_reply(call, &r.base);
}

static int
create_check(struct agent *a, const Kiln__Agent__V1__CreateContainerRequest
    *req, struct err *err)
{
	if (!ident_valid(req->container_id, PROTO_ID_MAX))
		return err_set(err, EINVAL, "invalid container id");
	if (!ident_valid(req->rootfs_tag, 20))	/* a virtio-blk serial's max */
		return err_set(err, EINVAL, "invalid rootfs tag");
	if (req->rootfs_type[0] != '\0' && strcmp(req->rootfs_type, "9p") != 0 &&
	    strcmp(req->rootfs_type, "erofs") != 0)
		return err_set(err, EINVAL, "invalid rootfs type");
	if (agent_container_find(a, req->container_id) != NULL)
		return err_set(err, EEXIST, "container %s: already exists",
		    req->container_id);
	if (a->ncontainers >= AGENT_MAX_CONTAINERS)
		return err_set(err, EBUSY, "too many containers");
	return 0;
}

/* A pod's app container joins its sandbox's namespaces: the init's pid. */
static int
create_join_pid(struct agent *a, const char *sandbox_id, pid_t *pid,
    struct err *err)
{
	struct agent_container *sb;

	*pid = 0;
	if (sandbox_id[0] == '\0')
		return 0;
	sb = agent_container_find(a, sandbox_id);
	if (sb == NULL || sb->init == NULL || sb->init->pid <= 0)
		return err_set(err, ENOENT, "sandbox %s: not running in this "
		    "guest", sandbox_id);
	*pid = sb->init->pid;
	return 0;
}

static void
h_create(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	const Kiln__Agent__V1__CreateContainerRequest *req = (const void *)m;
	struct agent *a = arg;
	struct agent_container *c;
	struct agent_process *p;
	struct err err;
	json_t *spec;
	char *rootfs;
	pid_t join;

	if (!agent_enter(a, call))
		return;
	if (create_check(a, req, &err) < 0 ||
	    create_join_pid(a, req->sandbox_id, &join, &err) < 0)
		return proto_call_fail_err(call, &err);
	rootfs = xasprintf("%s/%s/rootfs", agent_run_dir, req->container_id);
	spec = agent_spec_prepare(req->spec_json.data, req->spec_json.len,
	    req->container_id, rootfs, join, &err);
	free(rootfs);
	if (spec == NULL)
		return proto_call_fail_err(call, &err);
	c = agent_container_new(a, req->container_id);
	if (agent_ctr_prepare(c, req->rootfs_type[0] != '\0' ?
	    req->rootfs_type : "9p", req->rootfs_tag, spec, &err) < 0) {
		json_decref(spec);
		return proto_call_fail_err(call, &err);
	}
	json_decref(spec);
	p = agent_process_new(c, "");
	p->want_stdin = req->stdin;
	p->terminal = req->terminal;
	p->winsize.rows = (uint16_t)(req->console_height <= 0xffff ?
	    req->console_height : 0);
	p->winsize.cols = (uint16_t)(req->console_width <= 0xffff ?
	    req->console_width : 0);
	p->pending = call;
	if (agent_proc_event(p, AGENT_PROC_EV_CREATE, NULL, &err) < 0) {
		p->pending = NULL;
		proto_call_fail_err(call, &err);
	}
}

static void
h_start(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	const Kiln__Agent__V1__ProcessRef *req = (const void *)m;
	struct agent_process *p;
	struct err err;

	if (!agent_enter(arg, call) ||
	    (p = lookup(arg, call, req->container_id, req->exec_id)) == NULL)
		return;
	if (p->pending != NULL)
		return (void)proto_call_fail(call, PROTO_FAILED_PRECONDITION,
		    "an operation on this process is in progress");
	p->pending = call;
	if (agent_proc_event(p, AGENT_PROC_EV_START, NULL, &err) < 0) {
		p->pending = NULL;
		proto_call_fail_err(call, &err);
	}
}

static void
h_exec(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	const Kiln__Agent__V1__ExecProcessRequest *req = (const void *)m;
	struct agent_container *c;
	struct agent_process *p;
	struct agent *a = arg;
	struct err err;
	json_t *proc;

	if (!agent_enter(a, call))
		return;
	if (!ident_valid(req->container_id, PROTO_ID_MAX) ||
	    !ident_valid(req->exec_id, PROTO_ID_MAX))
		return (void)proto_call_fail(call, PROTO_INVALID_ARGUMENT,
		    "invalid id");
	if ((c = agent_container_find(a, req->container_id)) == NULL)
		return (void)proto_call_fail(call, PROTO_NOT_FOUND,
		    "container %s: not found", req->container_id);
	/* Only a running container takes execs: the table decides. */
	if (agent_ctr_event(c, AGENT_CTR_EV_EXEC, &err) < 0)
		return proto_call_fail_err(call, &err);
	if (agent_process_find(c, req->exec_id) != NULL)
		return (void)proto_call_fail(call, PROTO_ALREADY_EXISTS,
		    "exec %s: already exists", req->exec_id);
	if (c->nprocs >= AGENT_MAX_PROCESSES)
		return (void)proto_call_fail(call, PROTO_RESOURCE_EXHAUSTED,
		    "too many processes");
	proc = agent_spec_process(req->process_json.data,
	    req->process_json.len, &err);
	if (proc == NULL)
		return proto_call_fail_err(call, &err);
	p = agent_process_new(c, req->exec_id);
	p->want_stdin = req->stdin;
	p->terminal = req->terminal;
	if (agent_proc_event(p, AGENT_PROC_EV_CREATE, proc, &err) < 0) {
		agent_process_free(p);
		proto_call_fail_err(call, &err);
	} else
		proto_call_reply_empty(call);
	json_decref(proc);
}

static void
h_signal(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	const Kiln__Agent__V1__SignalRequest *req = (const void *)m;
	struct agent_process *p;

	if (!agent_enter(arg, call) ||
	    (p = lookup(arg, call, req->container_id, req->exec_id)) == NULL)
		return;
	if (req->signal < 1 || req->signal >= (uint32_t)NSIG)
		return (void)proto_call_fail(call, PROTO_INVALID_ARGUMENT,
		    "invalid signal %u", req->signal);
	if (req->all) {
		agent_container_kill_all(p->c, (int)req->signal);
		return proto_call_reply_empty(call);
	}
	if (p->exited)
		return (void)proto_call_fail(call, PROTO_NOT_FOUND,
		    "process already finished: not found");
	if (p->pid <= 0)
		return (void)proto_call_fail(call, PROTO_FAILED_PRECONDITION,
		    "process not started yet");
	if (kill(p->pid, (int)req->signal) < 0)
		return (void)proto_call_fail(call, PROTO_UNKNOWN, "kill: %s",
		    strerror(errno));
	proto_call_reply_empty(call);
}

static void
h_wait(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	const Kiln__Agent__V1__ProcessRef *req = (const void *)m;
	Kiln__Agent__V1__WaitProcessResponse r =
	    KILN__AGENT__V1__WAIT_PROCESS_RESPONSE__INIT;
	struct agent_process *p;
	struct agent_waiter *w;

	if (!agent_enter(arg, call) ||
	    (p = lookup(arg, call, req->container_id, req->exec_id)) == NULL)
		return;
	if (!fsm_is_terminal(&p->fsm)) {
		w = xcalloc(1, sizeof *w);
		w->call = call;
		TAILQ_INSERT_TAIL(&p->waiters, w, entry);
		return;
	}
	r.signaled = WIFSIGNALED(p->wait_status);
	r.signal = r.signaled ? (uint32_t)WTERMSIG(p->wait_status) : 0;
	r.exit_status = r.signaled ? 128 + r.signal :
	    (uint32_t)WEXITSTATUS(p->wait_status);
	r.exited_at_sec = (int64_t)(p->exited_ns / 1000000000ull);
	r.exited_at_nsec = (int32_t)(p->exited_ns % 1000000000ull);
	proto_call_reply(call, &r.base);
}

/* containerd.v1.types.Status numbers from the process machine's state. */
static uint32_t
proc_status(const struct agent_process *p)
{
	switch ((enum agent_proc_state)p->fsm.state) {
	case AGENT_PROC_ST_NEW:
		return 0;
	case AGENT_PROC_ST_CREATING:
	case AGENT_PROC_ST_CREATED:
		return 1;
	case AGENT_PROC_ST_STARTING:
	case AGENT_PROC_ST_RUNNING:
	case AGENT_PROC_ST_DRAINING:
		return 2;
	case AGENT_PROC_ST_STOPPED:
		return 3;
	case AGENT_PROC_ST__COUNT:
		break;
	}
	return 0;
}

static void
h_state(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	const Kiln__Agent__V1__ProcessRef *req = (const void *)m;
	Kiln__Agent__V1__ProcessStateResponse r =
	    KILN__AGENT__V1__PROCESS_STATE_RESPONSE__INIT;
	struct agent_process *p;

	if (!agent_enter(arg, call) ||
	    (p = lookup(arg, call, req->container_id, req->exec_id)) == NULL)
		return;
	r.status = proc_status(p);
	r.pid = (uint32_t)p->pid;
	if (p->exited)
		r.exit_status = WIFSIGNALED(p->wait_status) ?
		    128 + (uint32_t)WTERMSIG(p->wait_status) :
		    (uint32_t)WEXITSTATUS(p->wait_status);
	proto_call_reply(call, &r.base);
}

static struct agent_container *
lookup_container(struct agent *a, struct proto_call *call, const char *cid)
{
	struct agent_container *c = NULL;

	if (!ident_valid(cid, PROTO_ID_MAX))
		proto_call_fail(call, PROTO_INVALID_ARGUMENT, "invalid id");
	else if ((c = agent_container_find(a, cid)) == NULL)
		proto_call_fail(call, PROTO_NOT_FOUND, "container %s: not "
		    "found", cid);
	return c;
}

static void
h_pids(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	const Kiln__Agent__V1__ContainerRef *req = (const void *)m;
	Kiln__Agent__V1__ListPidsResponse r =
	    KILN__AGENT__V1__LIST_PIDS_RESPONSE__INIT;
	struct agent_container *c;
	pid_t pids[1024];
	uint32_t out[1024];
	struct err err;
	int i, n;

	if (!agent_enter(arg, call) ||
	    (c = lookup_container(arg, call, req->container_id)) == NULL)
		return;
	n = agent_container_pids(c, pids, (int)ARRAY_SIZE(pids), &err);
	if (n < 0)
		n = 0;
	for (i = 0; i < n; i++)
		out[i] = (uint32_t)pids[i];
	r.n_pids = (size_t)n;
	r.pids = out;
	proto_call_reply(call, &r.base);
}

static void
h_close_stdin(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	const Kiln__Agent__V1__ProcessRef *req = (const void *)m;
	struct agent_process *p;

	if (!agent_enter(arg, call) ||
	    (p = lookup(arg, call, req->container_id, req->exec_id)) == NULL)
		return;
	agent_stdio_close_stdin(p);
	proto_call_reply_empty(call);
}

static void
h_resize(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	const Kiln__Agent__V1__ResizePtyRequest *req = (const void *)m;
	struct agent_process *p;
	struct err err;

	if (!agent_enter(arg, call) ||
	    (p = lookup(arg, call, req->container_id, req->exec_id)) == NULL)
		return;
	if (req->width > 0xffff || req->height > 0xffff)
		return (void)proto_call_fail(call, PROTO_INVALID_ARGUMENT,
		    "terminal size %ux%u", req->width, req->height);
	if (agent_stdio_resize(p, (uint16_t)req->height,
	    (uint16_t)req->width, &err) < 0)
		return proto_call_fail_err(call, &err);
	proto_call_reply_empty(call);
}

static void
h_remove(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	const Kiln__Agent__V1__ContainerRef *req = (const void *)m;
	struct agent_container *c;
	struct err err;

	if (!agent_enter(arg, call) ||
	    (c = lookup_container(arg, call, req->container_id)) == NULL)
		return;
	if (c->pending != NULL)
		return (void)proto_call_fail(call, PROTO_FAILED_PRECONDITION,
		    "removal in progress");
	c->pending = call;
	if (agent_ctr_event(c, AGENT_CTR_EV_REMOVE, &err) < 0) {
		c->pending = NULL;
		proto_call_fail_err(call, &err);
	}
}

static void
h_stats(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	const Kiln__Agent__V1__ContainerRef *req = (const void *)m;
	struct agent_container *c;

	if (!agent_enter(arg, call) ||
	    (c = lookup_container(arg, call, req->container_id)) == NULL)
		return;
	if (agent_stats_reply(c, call) < 0)
		proto_call_fail(call, PROTO_NOT_FOUND, "container %s: no "
		    "cgroup: not found", c->id);
}

/* GetMetrics: "" means every container; an id must name one. */
static void
h_metrics(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	const Kiln__Agent__V1__ContainerRef *req = (const void *)m;

	if (!agent_enter(arg, call))
		return;
	if (req->container_id[0] != '\0' &&
	    lookup_container(arg, call, req->container_id) == NULL)
		return;
	agent_metrics_reply(arg, call, req->container_id);
}

static void
h_configure_network(struct proto_call *call, const ProtobufCMessage *m,
    void *arg)
{
	if (!agent_enter(arg, call))
		return;
	agent_net_configure(arg, call, (const void *)m);
}

static void
h_update_resources(struct proto_call *call, const ProtobufCMessage *m,
    void *arg)
{
	if (!agent_enter(arg, call))
		return;
	agent_update_resources(arg, call, (const void *)m);
}

/*
 * Pause and resume are container events: the table says when. A pause is
 * answered once the freezer reports the container frozen.
 */
static void
pause_resume(struct proto_call *call, const ProtobufCMessage *m, void *arg,
    int ev)
{
	const Kiln__Agent__V1__ContainerRef *req = (const void *)m;
	struct agent_container *c;
	struct err err;

	if (!agent_enter(arg, call) ||
	    (c = lookup_container(arg, call, req->container_id)) == NULL)
		return;
	if (c->pending != NULL)
		return (void)proto_call_fail(call, PROTO_FAILED_PRECONDITION,
		    "container %s: busy", c->id);
	if (ev == AGENT_CTR_EV_PAUSE)
		c->pending = call;
	if (agent_ctr_event(c, ev, &err) < 0) {
		if (ev == AGENT_CTR_EV_PAUSE)
			c->pending = NULL;
		return proto_call_fail_err(call, &err);
	}
	if (ev != AGENT_CTR_EV_PAUSE)
		proto_call_reply_empty(call);
}

static void
h_pause(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	pause_resume(call, m, arg, AGENT_CTR_EV_PAUSE);
}

static void
h_resume(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	pause_resume(call, m, arg, AGENT_CTR_EV_RESUME);
}

static void
h_next_event(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	struct agent *a = arg;

	(void)m;
	if (!agent_enter(a, call))
		return;
	if (a->event_call != NULL)
		proto_call_fail(a->event_call, PROTO_CANCELLED, "superseded "
		    "by a newer NextEvent");
	a->event_call = call;
	agent_events_flush(a);
}

static void
h_shutdown(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	(void)m;
	if (!agent_enter(arg, call))
		return;
	proto_call_reply_empty(call);
	agent_power_off(arg);
}

/* Sane wall-clock bounds: a host clock outside them is not trusted. */
#define CLOCK_MIN_NS	(1577836800LL * 1000000000LL)	/* 2020-01-01 */
#define CLOCK_MAX_NS	(7258118400LL * 1000000000LL)	/* 2200-01-01 */

static void
h_set_clock(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	const Kiln__Agent__V1__SetClockRequest *req = (const void *)m;
	struct timespec ts;

	if (!agent_enter(arg, call))
		return;
	if (req->realtime_ns < CLOCK_MIN_NS || req->realtime_ns > CLOCK_MAX_NS) {
		proto_call_fail(call, PROTO_INVALID_ARGUMENT, "SetClock: "
		    "realtime_ns %lld is outside 2020..2200",
		    (long long)req->realtime_ns);
		return;
	}
	ts.tv_sec = (time_t)(req->realtime_ns / 1000000000LL);
	ts.tv_nsec = (long)(req->realtime_ns % 1000000000LL);
	if (clock_settime(CLOCK_REALTIME, &ts) < 0) {
		proto_call_fail(call, PROTO_INTERNAL, "SetClock: %s",
		    strerror(errno));
		return;
	}
	log_debug("SetClock: wall clock set to %lld.%09ld", (long long)
	    ts.tv_sec, ts.tv_nsec);
	proto_call_reply_empty(call);
}

static void
h_test_hang(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	struct agent *a = arg;

	(void)m;
	if (!agent_enter(a, call))
		return;
	log_warnx("TestHang: no more answers from now on");
	a->hanging = true;
	proto_call_drop(call);
}

#define D(name)	&kiln__agent__v1__##name##__descriptor
const struct proto_method agent_methods[] = {
	{ "Ping", D(ping_request), h_ping },
	{ "CreateContainer", D(create_container_request), h_create },
	{ "StartProcess", D(process_ref), h_start },
	{ "ExecProcess", D(exec_process_request), h_exec },
	{ "SignalProcess", D(signal_request), h_signal },
	{ "WaitProcess", D(process_ref), h_wait },
	{ "ProcessState", D(process_ref), h_state },
	{ "ListPids", D(container_ref), h_pids },
	{ "PauseContainer", D(container_ref), h_pause },
	{ "ResumeContainer", D(container_ref), h_resume },
	{ "CloseStdin", D(process_ref), h_close_stdin },
	{ "ResizePty", D(resize_pty_request), h_resize },
	{ "Stats", D(container_ref), h_stats },
	{ "GetMetrics", D(container_ref), h_metrics },
	{ "RemoveContainer", D(container_ref), h_remove },
	{ "NextEvent", D(next_event_request), h_next_event },
	{ "ConfigureNetwork", D(network_config), h_configure_network },
	{ "UpdateResources", D(resources_request), h_update_resources },
	{ "SetClock", D(set_clock_request), h_set_clock },
	{ "Shutdown", &google__protobuf__empty__descriptor, h_shutdown },
	{ "TestHang", &google__protobuf__empty__descriptor, h_test_hang },
};
#undef D
const size_t agent_nmethods = ARRAY_SIZE(agent_methods);

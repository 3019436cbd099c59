/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exec processes (ctr task exec): each is its own machine (exec_fsm.c)
 * with its own stdio bridge, Waits and exit. The agent runs it with
 * crun exec in the container's VM; its exit reaches containerd as a
 * TaskExit whose id is the exec id.
 */
#include <errno.h>
#include <string.h>

#include "core/core_int.h"

#define EXEC_DRAIN_MS	10000

static void
exec_timer_cb(void *arg)
{
	struct exec_proc *e = arg;
	struct err err;

	(void)exec_event(e, EXEC_EV_TIMEOUT, NULL, &err);
}

struct exec_proc *
exec_new(struct task *t, const char *id,
    const Containerd__Task__V2__ExecProcessRequest *req)
{
	struct exec_proc *e = xcalloc(1, sizeof *e);
	char fid[2 * PROTO_ID_MAX + 2];

	e->t = t;
	snprintf(e->id, sizeof e->id, "%s", id);
	e->terminal = req->terminal;
	e->stdin_path = xstrdup(req->stdin);
	e->stdout_path = xstrdup(req->stdout);
	e->stderr_path = xstrdup(req->stderr);
	if (req->spec != NULL) {
		e->process_len = req->spec->value.len;
		e->process_json = xmemdup(req->spec->value.data,
		    e->process_len);
	}
	TAILQ_INIT(&e->waiters);
	e->timer = reactor_timer_new(t->shim->r, exec_timer_cb, e);
	snprintf(fid, sizeof fid, "%s/%s", t->id, id);
	fsm_init(&e->fsm, &exec_fsm_def, t->shim->env, fid, e);
	TAILQ_INSERT_TAIL(&t->execs, e, entry);
	t->nexecs++;
	return e;
}

struct exec_proc *
exec_find(struct task *t, const char *id)
{
	struct exec_proc *e;

	TAILQ_FOREACH(e, &t->execs, entry)
		if (strcmp(e->id, id) == 0)
			return e;
	return NULL;
}

void
exec_free(struct exec_proc *e)
{
	struct task_waiter *w;

	if (e == NULL)
		return;
	while ((w = TAILQ_FIRST(&e->waiters)) != NULL) {
		TAILQ_REMOVE(&e->waiters, w, entry);
		proto_call_fail(w->call, PROTO_NOT_FOUND, "exec %s: deleted",
		    e->id);
		free(w);
	}
	if (e->pending != NULL)
		proto_call_fail(e->pending, PROTO_UNAVAILABLE, "exec %s: gone",
		    e->id);
	/* Agent answers still on the way must not find a freed exec. */
	if (e->t->vm != NULL && e->t->vm->conn != NULL) {
		proto_conn_cancel(e->t->vm->conn, e->op_call);
		proto_conn_cancel(e->t->vm->conn, e->wait_call);
	}
	TAILQ_REMOVE(&e->t->execs, e, entry);
	e->t->nexecs--;
	reactor_defer_cancel(e->t->shim->r, e);
	core_stdio_free(e->stdio);
	reactor_timer_free(e->timer);
	fsm_fini(&e->fsm);
	free(e->stdin_path);
	free(e->stdout_path);
	free(e->stderr_path);
	free(e->process_json);
	free(e);
}

/* Freed on the next loop turn: the machine is still on the stack now. */
static void
exec_free_cb(void *arg)
{
	exec_free(arg);
}

int
exec_event(struct exec_proc *e, int ev, const void *data, struct err *err)
{
	return fsm_send(&e->fsm, ev, data, 0, err);
}

static void
exec_result(struct exec_proc *e, const struct proto_reply *rep, int ok_ev)
{
	struct err err;

	e->op_call = 0;
	if (rep->code != PROTO_OK)
		snprintf(e->error, sizeof e->error, "agent: %s (%s)",
		    rep->message, proto_code_name(rep->code));
	(void)exec_event(e, rep->code == PROTO_OK ? ok_ev :
	    EXEC_EV_AGENT_FAILED, NULL, &err);
}

static void
exec_added_cb(const struct proto_reply *rep, void *arg)
{
	exec_result(arg, rep, EXEC_EV_AGENT_ADDED);
}

void
exec_do_add(struct exec_proc *e)
{
	Kiln__Agent__V1__ExecProcessRequest r =
	    KILN__AGENT__V1__EXEC_PROCESS_REQUEST__INIT;

	r.container_id = e->t->id;
	r.exec_id = e->id;
	r.process_json.data = e->process_json;
	r.process_json.len = e->process_len;
	r.terminal = e->terminal;
	r.stdin = e->stdin_path[0] != '\0';
	r.stdout = e->stdout_path[0] != '\0';
	r.stderr = e->stderr_path[0] != '\0';
	reactor_timer_start(e->timer, AGENT_MS(e->t), false);
	e->op_call = task_agent_call(e->t, "ExecProcess", &r.base,
	    &google__protobuf__empty__descriptor, AGENT_MS(e->t), exec_added_cb, e);
	if (e->op_call == 0) {
		snprintf(e->error, sizeof e->error, "agent channel closed");
		fsm_post(&e->fsm, EXEC_EV_AGENT_FAILED, NULL, 0);
	}
}

/* The guest's word on the exit, checked as the init's is. */
static void
exec_wait_cb(const struct proto_reply *rep, void *arg)
{
	const Kiln__Agent__V1__WaitProcessResponse *wr = (const void *)rep->msg;
	struct task_exit ex = { 255, time_real_ns() };
	struct exec_proc *e = arg;
	struct err err;

	e->wait_call = 0;
	if (rep->code != PROTO_OK || wr == NULL)
		return;
	if (wr->exit_status <= 255)
		ex.status = wr->exit_status;
	(void)exec_event(e, EXEC_EV_EXITED, &ex, &err);
}

void
exec_do_added(struct exec_proc *e)
{
	Containerd__Events__TaskExecAdded ev =
	    CONTAINERD__EVENTS__TASK_EXEC_ADDED__INIT;
	Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
	Kiln__Agent__V1__ProcessRef ref = KILN__AGENT__V1__PROCESS_REF__INIT;
	struct err err;

	reactor_timer_stop(e->timer);
	e->stdio = core_stdio_new(e->t->shim->r, e->t->id, e->id,
	    e->stdin_path, e->stdout_path, e->stderr_path, &err);
	if (e->stdio == NULL)
		log_warnx("exec=%s stdio: %s", e->id, err.msg);
	else
		core_stdio_attach(e->stdio, e->t->vm->conn);
	ref.container_id = e->t->id;
	ref.exec_id = e->id;
	e->wait_call = task_agent_call(e->t, "WaitProcess", &ref.base,
	    &kiln__agent__v1__wait_process_response__descriptor, 0,
	    exec_wait_cb, e);
	if (e->pending != NULL)
		proto_call_reply(TAKE_PTR(e->pending), &empty.base);
	ev.container_id = e->t->id;
	ev.exec_id = e->id;
	task_publish(e->t, "/tasks/exec-added",
	    "containerd.events.TaskExecAdded", &ev.base);
}

static void
exec_fail_pending(struct exec_proc *e, int code, const char *what)
{
	if (e->pending != NULL)
		proto_call_fail(TAKE_PTR(e->pending), code, "%s %s: %s", what,
		    e->id, e->error[0] != '\0' ? e->error : "timed out");
}

void
exec_do_add_failed(struct exec_proc *e)
{
	reactor_timer_stop(e->timer);
	exec_fail_pending(e, PROTO_UNKNOWN, "exec");
	reactor_defer(e->t->shim->r, exec_free_cb, e);
}

static void
exec_started_cb(const struct proto_reply *rep, void *arg)
{
	const Kiln__Agent__V1__StartProcessResponse *r = (const void *)rep->msg;
	struct exec_proc *e = arg;

	if (rep->code == PROTO_OK && r != NULL)
		e->guest_pid = r->pid;
	exec_result(e, rep, EXEC_EV_AGENT_STARTED);
}

int
exec_do_start(struct exec_proc *e, struct err *err)
{
	Kiln__Agent__V1__ProcessRef ref = KILN__AGENT__V1__PROCESS_REF__INIT;

	ref.container_id = e->t->id;
	ref.exec_id = e->id;
	e->op_call = task_agent_call(e->t, "StartProcess", &ref.base,
	    &kiln__agent__v1__start_process_response__descriptor, AGENT_MS(e->t),
	    exec_started_cb, e);
	if (e->op_call == 0)
		return err_set(err, ERR_CLOSED, "agent channel closed");
	reactor_timer_start(e->timer, AGENT_MS(e->t), false);
	return 0;
}

void
exec_do_started(struct exec_proc *e)
{
	Containerd__Task__V2__StartResponse r =
	    CONTAINERD__TASK__V2__START_RESPONSE__INIT;
	Containerd__Events__TaskExecStarted ev =
	    CONTAINERD__EVENTS__TASK_EXEC_STARTED__INIT;

	reactor_timer_stop(e->timer);
	r.pid = e->guest_pid;
	if (e->pending != NULL)
		proto_call_reply(TAKE_PTR(e->pending), &r.base);
	ev.container_id = e->t->id;
	ev.exec_id = e->id;
	ev.pid = e->guest_pid;
	task_publish(e->t, "/tasks/exec-started",
	    "containerd.events.TaskExecStarted", &ev.base);
	if (e->exited_ns != 0)
		exec_do_drain(e);
}

void
exec_do_start_failed(struct exec_proc *e)
{
	reactor_timer_stop(e->timer);
	exec_fail_pending(e, PROTO_UNKNOWN, "start exec");
	if (e->exited_ns == 0) {
		e->exit_status = 255;
		e->exited_ns = time_real_ns();
	}
	core_answer_waiters(&e->waiters, e->exit_status, e->exited_ns);
}

int
exec_do_kill(struct exec_proc *e, const void *data, struct err *err)
{
	const struct task_kill *k = data;
	Kiln__Agent__V1__SignalRequest sr = KILN__AGENT__V1__SIGNAL_REQUEST__INIT;

	if (k->req->signal < 1 || k->req->signal > 64)
		return err_set(err, EINVAL, "invalid signal %u",
		    k->req->signal);
	sr.container_id = e->t->id;
	sr.exec_id = e->id;
	sr.signal = k->req->signal;
	if (task_agent_call(e->t, "SignalProcess", &sr.base,
	    &google__protobuf__empty__descriptor, AGENT_MS(e->t), core_killed_cb,
	    k->call) == 0)
		return err_set(err, ERR_CLOSED, "agent channel closed");
	return 0;
}

void
exec_do_record_exit(struct exec_proc *e, const void *data)
{
	const struct task_exit *ex = data;

	if (e->exited_ns != 0)
		return;
	e->exit_status = ex->status;
	e->exited_ns = ex->at_ns;
	fsm_detail(&e->fsm, "exit_status=%u", ex->status);
}

static void
exec_drained_cb(void *arg)
{
	struct exec_proc *e = arg;
	struct err err;

	(void)exec_event(e, EXEC_EV_IO_DRAINED, NULL, &err);
}

void
exec_do_drain(struct exec_proc *e)
{
	reactor_timer_start(e->timer, EXEC_DRAIN_MS, false);
	if (e->stdio == NULL)
		fsm_post(&e->fsm, EXEC_EV_IO_DRAINED, NULL, 0);
	else
		core_stdio_when_drained(e->stdio, exec_drained_cb, e);
}

void
exec_do_stopped(struct exec_proc *e)
{
	Containerd__Events__TaskExit ev = CONTAINERD__EVENTS__TASK_EXIT__INIT;
	Google__Protobuf__Timestamp ts;

	reactor_timer_stop(e->timer);
	core_answer_waiters(&e->waiters, e->exit_status, e->exited_ns);
	proto_timestamp_from_ns(&ts, e->exited_ns);
	ev.container_id = e->t->id;
	ev.id = e->id;
	ev.pid = e->guest_pid;
	ev.exit_status = e->exit_status;
	ev.exited_at = &ts;
	task_publish(e->t, "/tasks/exit", "containerd.events.TaskExit",
	    &ev.base);
}

void
exec_do_vm_died(struct exec_proc *e)
{
	if (e->exited_ns == 0) {
		e->exit_status = 137;
		e->exited_ns = time_real_ns();
	}
	exec_fail_pending(e, PROTO_UNKNOWN, "exec");
	if (e->stdio != NULL)
		core_stdio_attach(e->stdio, NULL);
	exec_do_stopped(e);
}

/* Delete: containerd waits for EOF on the fifos, so close them now. */
void
exec_do_deleted(struct exec_proc *e)
{
	Containerd__Task__V2__DeleteResponse r =
	    CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
	Google__Protobuf__Timestamp ts;

	core_stdio_free(e->stdio);
	e->stdio = NULL;
	proto_timestamp_from_ns(&ts, e->exited_ns);
	r.pid = e->guest_pid;
	r.exit_status = e->exit_status;
	r.exited_at = e->exited_ns != 0 ? &ts : NULL;
	if (e->pending != NULL)
		proto_call_reply(TAKE_PTR(e->pending), &r.base);
	reactor_defer(e->t->shim->r, exec_free_cb, e);
}

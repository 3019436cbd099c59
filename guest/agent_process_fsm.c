/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The process machine of the agent: one per container init or exec.
 *
 *   NEW --CREATE--> CREATING (crun create) --HELPER_OK--> CREATED
 *   CREATED --START--> STARTING (crun start / crun exec -d) --HELPER_OK-->
 *   RUNNING --EXITED--> DRAINING (output still flowing) --IO_DONE--> STOPPED
 *
 * A process is done only when it has exited AND its output pipes reached
 * EOF (two events, as tmux's job.c does): WaitProcess is answered and the
 * exit event queued in STOPPED, so every output byte reaches the host
 * before the exit does. An exec has no create step: its CREATE row only
 * writes the process file. Every waiting state has a timeout row.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "guest/agent.h"

static const char *const agent_proc_state_names[] = {
	AGENT_PROC_STATES(FSM_X_NAME, AGENT_PROC_ST_)
};
static const char *const agent_proc_event_names[] = {
	AGENT_PROC_EVENTS(FSM_X_NAME, AGENT_PROC_EV_)
};

#define PROC(m)	((struct agent_process *)(m)->ctx)

static void	proc_forget_exec(struct agent_process *);
static int	proc_console_listen(struct agent_process *, char **,
		    struct err *);
static int	proc_console_receive(struct agent_process *);

/* ---- helpers: crun runs ---------------------------------------------- */

static char *
proc_file(struct agent_process *p, const char *what)
{
	char name[PROTO_ID_MAX + 32];

	if (p->is_init)
		snprintf(name, sizeof name, "init.%s", what);
	else
		snprintf(name, sizeof name, "exec-%s.%s", p->exec_id, what);
	return agent_path(p->c, name);
}

/* The last line crun logged, for error replies. */
static void
proc_read_crun_error(struct agent_process *p)
{
	_cleanup_free_ char *log = agent_path(p->c, "crun.log");
	char line[512];
	FILE *f;

	snprintf(p->last_error, sizeof p->last_error, "crun failed");
	if ((f = fopen(log, "re")) == NULL)
		return;
	while (fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] != '\0')
			snprintf(p->last_error, sizeof p->last_error, "crun: %s",
			    line);
	}
	fclose(f);
}

static pid_t
proc_read_pid(struct agent_process *p)
{
	_cleanup_free_ char *path = proc_file(p, "pid");
	long pid = 0;
	FILE *f;

	if ((f = fopen(path, "re")) == NULL)
		return 0;
	if (fscanf(f, "%ld", &pid) != 1 || pid <= 1)
		pid = 0;
	fclose(f);
	return (pid_t)pid;
}

/*
 * crun create / start / exec finished. Success with a pid file (create,
 * exec) sets the pid; the process may have exited already, in which case
 * PID 1 kept its status for us to claim.
 */
static void
proc_helper_cb(pid_t pid, int status, void *arg)
{
	struct agent_process *p = arg;
	int ev = AGENT_PROC_EV_HELPER_OK, st;
	struct err err;

	(void)pid;
	reactor_child_free(p->helper);
	p->helper = NULL;
	p->helper_pid = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		proc_read_crun_error(p);
		ev = AGENT_PROC_EV_HELPER_FAILED;
	} else if (p->pid == 0 && (p->pid = proc_read_pid(p)) == 0) {
		snprintf(p->last_error, sizeof p->last_error,
		    "crun left no pid file");
		ev = AGENT_PROC_EV_HELPER_FAILED;
	} else if (p->console_fd >= 0) {
		int master = proc_console_receive(p);

		if (master < 0) {
			snprintf(p->last_error, sizeof p->last_error,
			    "crun sent no terminal");
			ev = AGENT_PROC_EV_HELPER_FAILED;
		} else
			agent_stdio_adopt_pty(p, master);
	}
	(void)agent_proc_event(p, ev, NULL, &err);
	if (ev == AGENT_PROC_EV_HELPER_OK && p->pid > 0 && !p->exited &&
	    agent_claim_exit(p->c->a, p->pid, &st))
		(void)agent_proc_event(p, AGENT_PROC_EV_EXITED, &st, &err);
}

static int
proc_run_crun(struct agent_process *p, char *const argv[], int child[3],
    struct err *err)
{
	_cleanup_free_ char *log = agent_path(p->c, "crun.log");
	int none[3] = { -1, -1, -1 };

	p->helper_pid = agent_spawn(p->c->a, argv, child != NULL ? child : none,
	    log, proc_helper_cb, p, &p->helper, err);
	if (p->helper_pid < 0)
		return -1;
	reactor_timer_start(p->timer, AGENT_HELPER_MS, false);
	return 0;
}

static void
close_child_fds(int child[3])
{
	int i;

	for (i = 0; i < 3; i++)
		close_fd(&child[i]);
}

/* ---- terminals ------------------------------------------------------- */

/*
 * A terminal process: crun connects to this socket and sends the pty
 * master (--console-socket, SCM_RIGHTS) before it exits.
 */
static int
proc_console_listen(struct agent_process *p, char **path, struct err *err)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	*path = proc_file(p, "console");
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", *path);
	unlink(*path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0 ||
	    listen(fd, 1) < 0) {
		close_fd(&fd);
		return err_set(err, errno, "console socket %s: %m", *path);
	}
	p->console_fd = fd;
	return 0;
}

/* The pty master crun sent, or -1. */
static int
proc_console_receive(struct agent_process *p)
{
	char cbuf[CMSG_SPACE(sizeof(int))], byte[64];
	struct iovec iov = { byte, sizeof byte };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	struct cmsghdr *cm;
	int conn, fd = -1;

	conn = accept4(p->console_fd, NULL, NULL, SOCK_CLOEXEC);
	close_fd(&p->console_fd);
	if (conn < 0)
		return -1;
	if (recvmsg(conn, &msg, MSG_CMSG_CLOEXEC) >= 0 &&
	    (cm = CMSG_FIRSTHDR(&msg)) != NULL &&
	    cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
	    cm->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&fd, CMSG_DATA(cm), sizeof fd);
	close(conn);
	return fd;
}

/*
 * Run crun create or exec with the process's stdio: pipes, or for a
 * terminal its console socket, inserted before the container id, which
 * is argv[id_at] (two free slots follow it).
 */
static int
proc_spawn_stdio(struct agent_process *p, char *argv[], int id_at,
    struct err *err)
{
	_cleanup_free_ char *console = NULL;
	int child[3] = { -1, -1, -1 }, ret;

	if (p->terminal) {
		if (proc_console_listen(p, &console, err) < 0)
			return -1;
		argv[id_at + 2] = argv[id_at];
		argv[id_at] = (char *)"--console-socket";
		argv[id_at + 1] = console;
	} else if (agent_stdio_open(p, child, p->want_stdin, err) < 0)
		return -1;
	ret = proc_run_crun(p, argv, child, err);
	close_child_fds(child);
	return ret;
}

/* ---- guards ---------------------------------------------------------- */

static bool
proc_guard_is_exec(const struct fsm *m, const void *data)
{
	(void)data;
	return !PROC(m)->is_init;
}

static bool
proc_guard_exited(const struct fsm *m, const void *data)
{
	(void)data;
	return PROC(m)->exited;
}

/* ---- actions --------------------------------------------------------- */

static int
proc_act_spawn_create(struct fsm *m, const void *data, struct err *err)
{
	struct agent_process *p = PROC(m);
	_cleanup_free_ char *log = agent_path(p->c, "crun.log");
	_cleanup_free_ char *logopt = xasprintf("--log=file:%s", log);
	_cleanup_free_ char *pidf = proc_file(p, "pid");
	char *argv[] = { (char *)AGENT_CRUN, logopt, (char *)"create",
	    (char *)"--bundle", p->c->dir, (char *)"--pid-file", pidf, p->c->id,
	    NULL, NULL, NULL };

	(void)data;
	return proc_spawn_stdio(p, argv, 7, err);
}

/* Exec: validate-and-write happened in the handler; data is the JSON. */
static int
proc_act_write_exec(struct fsm *m, const void *data, struct err *err)
{
	struct agent_process *p = PROC(m);
	_cleanup_free_ char *path = proc_file(p, "json");

	return agent_json_write(data, path, err);
}

static int
proc_act_spawn_start(struct fsm *m, const void *data, struct err *err)
{
	struct agent_process *p = PROC(m);
	char *argv[] = { (char *)AGENT_CRUN, (char *)"start", p->c->id, NULL };

	(void)data;
	return proc_run_crun(p, argv, NULL, err);
}

static int
proc_act_spawn_exec(struct fsm *m, const void *data, struct err *err)
{
	struct agent_process *p = PROC(m);
	_cleanup_free_ char *json = proc_file(p, "json");
	_cleanup_free_ char *pidf = proc_file(p, "pid");
	char *argv[] = { (char *)AGENT_CRUN, (char *)"exec", (char *)"-d",
	    (char *)"--pid-file", pidf, (char *)"--process", json, p->c->id,
	    NULL, NULL, NULL };

	(void)data;
	return proc_spawn_stdio(p, argv, 7, err);
}

static void
proc_reply_empty(struct agent_process *p)
{
	Google__Protobuf__Empty e = GOOGLE__PROTOBUF__EMPTY__INIT;

	if (p->pending != NULL)
		proto_call_reply(TAKE_PTR(p->pending), &e.base);
}

static void
proc_reply_error(struct agent_process *p, int code)
{
	if (p->pending != NULL)
		proto_call_fail(TAKE_PTR(p->pending), code, "%s",
		    p->last_error);
}

/* Record how the process ended; the first report wins. */
static void
proc_record_exit(struct agent_process *p, const int *status)
{
	if (p->exited)
		return;
	p->exited = true;
	p->wait_status = *status;
	p->exited_ns = time_real_ns();
}

/* After the exit: stdin is pointless; output drains, with a watchdog. */
static void
proc_begin_drain(struct agent_process *p)
{
	agent_stdio_close_stdin(p);
	reactor_timer_start(p->timer, AGENT_DRAIN_MS, false);
	if (p->io_done)
		fsm_post(&p->fsm, AGENT_PROC_EV_IO_DONE, NULL, 0);
}

static int
proc_act_created(struct fsm *m, const void *data, struct err *err)
{
	struct agent_process *p = PROC(m);

	(void)data;
	(void)err;
	reactor_timer_stop(p->timer);
	proc_reply_empty(p);
	if (p->is_init)
		fsm_post(&p->c->fsm, AGENT_CTR_EV_INIT_CREATED, NULL, 0);
	if (p->exited)
		proc_begin_drain(p);
	return 0;
}

static void
proc_kill_helper(struct agent_process *p)
{
	if (p->helper_pid > 0)
		kill(p->helper_pid, SIGKILL);
}

/* Mark a process that never ran as stopped with 255, like runc's shim. */
static void
proc_never_ran(struct agent_process *p)
{
	int status = 255 << 8;

	proc_record_exit(p, &status);
	if (p->pid > 0)
		kill(p->pid, SIGKILL);
	agent_stdio_close(p);
	if (p->is_init)
		fsm_post(&p->c->fsm, AGENT_CTR_EV_INIT_STOPPED, NULL, 0);
	proc_forget_exec(p);
}

/*
 * crun create or start failed, or timed out (its helper still running):
 * stop it, answer the pending call, and end the process unborn.
 */
static void
proc_helper_failed(struct agent_process *p, const char *what)
{
	reactor_timer_stop(p->timer);
	if (p->helper_pid > 0)
		snprintf(p->last_error, sizeof p->last_error, "%s timed out",
		    what);
	proc_kill_helper(p);
	proc_reply_error(p, PROTO_UNKNOWN);
	proc_never_ran(p);
}

static int
proc_act_create_failed(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	proc_helper_failed(PROC(m), "crun create");
	return 0;
}

static int
proc_act_started(struct fsm *m, const void *data, struct err *err)
{
	Kiln__Agent__V1__StartProcessResponse r =
	    KILN__AGENT__V1__START_PROCESS_RESPONSE__INIT;
	struct agent_process *p = PROC(m);

	(void)data;
	(void)err;
	reactor_timer_stop(p->timer);
	r.pid = (uint32_t)p->pid;
	if (p->pending != NULL)
		proto_call_reply(TAKE_PTR(p->pending), &r.base);
	if (p->exited)
		proc_begin_drain(p);
	return 0;
}

static int
proc_act_start_failed(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	proc_helper_failed(PROC(m), "start");
	return 0;
}

/* An exit seen while crun is still running: note it, act later. */
static int
proc_act_record_exit(struct fsm *m, const void *data, struct err *err)
{
	(void)err;
	proc_record_exit(PROC(m), data);
	return 0;
}

static int
proc_act_exited(struct fsm *m, const void *data, struct err *err)
{
	struct agent_process *p = PROC(m);

	(void)err;
	proc_record_exit(p, data);
	proc_begin_drain(p);
	fsm_detail(m, "status=0x%x", p->wait_status);
	return 0;
}

static void
proc_free_cb(void *arg)
{
	agent_process_free(arg);
}

/*
 * An exec is forgotten once it is over and its Waits are answered (the
 * host keeps its own record), so its id can be used again and execs do not
 * pile up in a long-lived container.
 */
static void
proc_forget_exec(struct agent_process *p)
{
	if (!p->is_init)
		reactor_defer(p->c->a->r, proc_free_cb, p);
}

/* Exit and output both done: answer every Wait, queue the event. */
static int
proc_act_finish(struct fsm *m, const void *data, struct err *err)
{
	Kiln__Agent__V1__WaitProcessResponse r =
	    KILN__AGENT__V1__WAIT_PROCESS_RESPONSE__INIT;
	struct agent_process *p = PROC(m);
	struct agent_waiter *w;
	int st = p->wait_status;

	(void)data;
	(void)err;
	reactor_timer_stop(p->timer);
	agent_stdio_close(p);
	r.signaled = WIFSIGNALED(st);
	r.signal = r.signaled ? (uint32_t)WTERMSIG(st) : 0;
	r.exit_status = r.signaled ? 128 + r.signal : (uint32_t)WEXITSTATUS(st);
	r.exited_at_sec = (int64_t)(p->exited_ns / 1000000000ull);
	r.exited_at_nsec = (int32_t)(p->exited_ns % 1000000000ull);
	while ((w = TAILQ_FIRST(&p->waiters)) != NULL) {
		TAILQ_REMOVE(&p->waiters, w, entry);
		proto_call_reply(w->call, &r.base);
		free(w);
	}
	agent_push_exit_event(p->c->a, p);
	if (p->is_init)
		fsm_post(&p->c->fsm, AGENT_CTR_EV_INIT_STOPPED, NULL, 0);
	fsm_detail(m, "exit_status=%u", r.exit_status);
	proc_forget_exec(p);
	return 0;
}

static int
proc_act_stopped(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	proc_never_ran(PROC(m));
	return 0;
}

#define S(x)	AGENT_PROC_ST_##x
#define E(x)	AGENT_PROC_EV_##x
static const struct fsm_row agent_proc_fsm_rows[] = {
	FSM_ROW(S(NEW), E(CREATE), proc_guard_is_exec, proc_act_write_exec,
	    S(CREATED)),
	FSM_ROW(S(NEW), E(CREATE), NULL, proc_act_spawn_create, S(CREATING)),
	FSM_ROW(S(NEW), E(FAIL), NULL, proc_act_stopped, S(STOPPED)),

	FSM_ROW(S(CREATING), E(HELPER_OK), proc_guard_exited, proc_act_created,
	    S(DRAINING)),
	FSM_ROW(S(CREATING), E(HELPER_OK), NULL, proc_act_created, S(CREATED)),
	FSM_ROW(S(CREATING), E(HELPER_FAILED), NULL, proc_act_create_failed,
	    S(STOPPED)),
	FSM_ROW(S(CREATING), E(TIMEOUT), NULL, proc_act_create_failed,
	    S(STOPPED)),
	FSM_ROW(S(CREATING), E(EXITED), NULL, proc_act_record_exit, FSM_SAME),
	FSM_ROW(S(CREATING), E(IO_DONE), NULL, NULL, FSM_SAME),

	FSM_ROW(S(CREATED), E(START), proc_guard_is_exec, proc_act_spawn_exec,
	    S(STARTING)),
	FSM_ROW(S(CREATED), E(START), NULL, proc_act_spawn_start,
	    S(STARTING)),
	FSM_ROW(S(CREATED), E(EXITED), NULL, proc_act_exited, S(DRAINING)),
	FSM_ROW(S(CREATED), E(IO_DONE), NULL, NULL, FSM_SAME),

	FSM_ROW(S(STARTING), E(HELPER_OK), proc_guard_exited, proc_act_started,
	    S(DRAINING)),
	FSM_ROW(S(STARTING), E(HELPER_OK), NULL, proc_act_started,
	    S(RUNNING)),
	FSM_ROW(S(STARTING), E(HELPER_FAILED), NULL, proc_act_start_failed,
	    S(STOPPED)),
	FSM_ROW(S(STARTING), E(TIMEOUT), NULL, proc_act_start_failed,
	    S(STOPPED)),
	FSM_ROW(S(STARTING), E(EXITED), NULL, proc_act_record_exit, FSM_SAME),
	FSM_ROW(S(STARTING), E(IO_DONE), NULL, NULL, FSM_SAME),

	FSM_ROW(S(RUNNING), E(EXITED), NULL, proc_act_exited, S(DRAINING)),
	FSM_ROW(S(RUNNING), E(IO_DONE), NULL, NULL, FSM_SAME),

	FSM_ROW(S(DRAINING), E(IO_DONE), NULL, proc_act_finish, S(STOPPED)),
	FSM_ROW(S(DRAINING), E(TIMEOUT), NULL, proc_act_finish, S(STOPPED)),

	/* Late news about a process already accounted for. */
	FSM_ROW(S(STOPPED), E(EXITED), NULL, NULL, FSM_SAME),
	FSM_ROW(S(STOPPED), E(IO_DONE), NULL, NULL, FSM_SAME),
	FSM_ROW(S(STOPPED), E(HELPER_OK), NULL, NULL, FSM_SAME),
	FSM_ROW(S(STOPPED), E(HELPER_FAILED), NULL, NULL, FSM_SAME),
	FSM_ROW(S(STOPPED), E(TIMEOUT), NULL, NULL, FSM_SAME),

	/* A failed action was answered by its caller; the state holds. */
	FSM_ROW(FSM_ANY, E(FAIL), NULL, NULL, FSM_SAME),
};
#undef S
#undef E

const struct fsm_def agent_proc_fsm_def = {
	.name = "agent_process",
	.version = 1,
	.state_names = agent_proc_state_names,
	.nstates = AGENT_PROC_ST__COUNT,
	.event_names = agent_proc_event_names,
	.nevents = AGENT_PROC_EV__COUNT,
	.rows = agent_proc_fsm_rows,
	.nrows = (int)ARRAY_SIZE(agent_proc_fsm_rows),
	.initial = AGENT_PROC_ST_NEW,
	.fail_event = AGENT_PROC_EV_FAIL,
	.timeout_event = AGENT_PROC_EV_TIMEOUT,
	.terminal = FSM_BIT(AGENT_PROC_ST_STOPPED),
	.waiting = FSM_BIT(AGENT_PROC_ST_CREATING) |
	    FSM_BIT(AGENT_PROC_ST_STARTING) | FSM_BIT(AGENT_PROC_ST_DRAINING),
};
FSM_REGISTER(agent_proc_fsm_def);

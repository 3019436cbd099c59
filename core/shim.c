/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shim daemon: the process containerd talks to for one task. It serves
 * containerd.task.v2.Task on the socket that `start` bound (inherited as
 * fd 3), publishes events, logs to containerd's log fifo, and exits once
 * its task is deleted, Shutdown came and the events are out.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "core/core_int.h"
#include "core/shim.h"

/* FNV-1a: short, stable names for per-task paths (not a security hash). */
static uint64_t
core_hash(const char *a, const char *b, const char *c)
{
	const char *parts[3] = { a, b, c };
	uint64_t h = 1469598103934665603ull;
	const char *p;
	int i;

	for (i = 0; i < 3; i++) {
		for (p = parts[i] != NULL ? parts[i] : ""; *p != '\0'; p++)
			h = (h ^ (uint8_t)*p) * 1099511628211ull;
		h = (h ^ '/') * 1099511628211ull;
	}
	return h;
}

char *
core_run_dir_path(const char *ns, const char *id)
{
	return xasprintf("%s/%016llx", SHIM_RUN_DIR,
	    (unsigned long long)core_hash(ns, id, NULL));
}

char *
core_run_dir(const char *ns, const char *id)
{
	char *dir = core_run_dir_path(ns, id);

	mkdir(SHIM_RUN_DIR, 0700);
	mkdir(dir, 0700);
	return dir;
}

char *
shim_socket_path(const char *address, const char *ns, const char *id)
{
	return xasprintf("%s/s/%016llx.sock", SHIM_RUN_DIR,
	    (unsigned long long)core_hash(address, ns, id));
}

/* What `delete` needs if this daemon dies: QEMU's pid and our run dir. */
int
core_state_write(const char *bundle, pid_t qemu_pid, const char *run_dir,
    struct err *err)
{
	_cleanup_free_ char *tmp = xasprintf("%s/.%s", bundle, SHIM_STATE_FILE);
	_cleanup_free_ char *path = xasprintf("%s/%s", bundle, SHIM_STATE_FILE);
	json_t *j = json_pack("{s:i,s:s}", "qemu_pid", (json_int_t)qemu_pid,
	    "run_dir", run_dir);
	int ret = 0;

	if (json_dump_file(j, tmp, JSON_COMPACT) < 0 || rename(tmp, path) < 0)
		ret = err_set(err, errno, "write %s: %m", path);
	json_decref(j);
	return ret;
}

static void
shim_exit_timer_cb(void *arg)
{
	struct shim *s = arg;

	/* Flush queued events first (the Go shim waits up to 5 s too). */
	if (core_events_idle(s->events) || ++s->exit_polls > 500)
		reactor_stop(s->r);
}

/* Every task is deleted: the pod's app containers and the first. */
static bool
shim_all_deleted(const struct shim *s)
{
	const struct task *t;

	if (s->task != NULL && s->task->fsm.state != TASK_ST_DELETED)
		return false;
	TAILQ_FOREACH(t, &s->members, pod_entry)
		if (t->fsm.state != TASK_ST_DELETED)
			return false;
	return true;
}

void
shim_maybe_exit(struct shim *s)
{
	if (!shim_all_deleted(s))
		return;
	if (s->shutting_down)
		return;
	s->shutting_down = true;
	s->exit_timer = reactor_timer_new(s->r, shim_exit_timer_cb, s);
	reactor_timer_start(s->exit_timer, 10, true);
}

/*
 * A deleted app container stays listed (as DELETED: no call finds it)
 * until the shim exits, so no late reply can reach a freed task.
 */
void
shim_task_gone(const struct task *t)
{
	log_info("task=%s deleted", t->id);
}

static void
shim_signal_cb(int signo, void *arg)
{
	struct shim *s = arg;

	log_info("signal %d: exiting", signo);
	if (s->task != NULL && s->task->vm != NULL)
		vm_kill(s->task->vm);
	reactor_stop(s->r);
}

/* Every dispatch is counted (metrics); with -debug, one log line each. */
static void
shim_trace_hook(const struct fsm_trace_rec *rec, void *arg)
{
	struct shim *s = arg;

	core_stats_fsm(&s->stats, rec);
	log_debug("machine=%s id=%s seq=%llu %s --%s--> %s result=%s "
	    "detail=\"%s\"", rec->def->name, rec->id,
	    (unsigned long long)rec->seq, fsm_state_name(rec->def, rec->from),
	    fsm_event_name(rec->def, rec->event),
	    fsm_state_name(rec->def, rec->to), fsm_result_name(rec->result),
	    rec->detail);
}

/* stderr to containerd's log fifo in the bundle (reference 2.7). */
static void
shim_open_log(bool debug)
{
	int fd = open("log", O_WRONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0) {
		dup2(fd, 2);
		close(fd);
	}
	log_init(SHIM_NAME, debug ? LOG_LVL_DEBUG : LOG_LVL_INFO, 2);
}

static struct proto_service shim_service;

static int
shim_setup(struct shim *s, const struct shim_args *a, struct err *err)
{
	s->namespace = xstrdup(a->namespace);
	s->id = xstrdup(a->id);
	TAILQ_INIT(&s->members);
	if ((s->r = reactor_new(err)) == NULL)
		return -1;
	s->env = fsm_env_new();
	/* A bad config fails each Create with its message, not the shim. */
	if (core_config_load(&s->cfg, err) < 0) {
		log_error("%s", err->msg);
		s->config_error = xstrdup(err->msg);
	}
	if (a->debug)
		s->cfg.debug = true;
	log_set_level(s->cfg.debug ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	fsm_env_set_hook(s->env, shim_trace_hook, s);
	if (s->cfg.trace_file != NULL &&
	    fsm_env_trace_file(s->env, s->cfg.trace_file, err) < 0)
		return -1;
	shim_service.name = "containerd.task.v2.Task";
	shim_service.methods = shim_task_methods;
	shim_service.nmethods = shim_task_nmethods;
	shim_service.arg = s;
	s->server = proto_server_new(s->r, s->env, &shim_service, 1);
	proto_server_listen(s->server, 3, true);
	s->events = core_events_new(s->r, s->env, getenv("TTRPC_ADDRESS"),
	    a->namespace);
	reactor_sig_new(s->r, SIGTERM, shim_signal_cb, s);
	reactor_sig_new(s->r, SIGINT, shim_signal_cb, s);
	return 0;
}

static void
shim_teardown(struct shim *s, const struct shim_args *a)
{
	_cleanup_free_ char *sock = shim_socket_path(a->address, a->namespace,
	    a->id);
	struct task *t;

	unlink(sock);
	while ((t = TAILQ_FIRST(&s->members)) != NULL) {
		TAILQ_REMOVE(&s->members, t, pod_entry);
		task_free(t);
	}
	task_free(s->task);
	proto_server_free(s->server);
	core_events_free(s->events);
	reactor_timer_free(s->exit_timer);
	reactor_free(s->r);
	fsm_env_free(s->env);
	core_config_fini(&s->cfg);
	core_stats_fini(&s->stats);
	free(s->namespace);
	free(s->id);
	free(s->config_error);
}

int
shim_daemon(const struct shim_args *a)
{
	struct shim s;
	struct err err;
	int ret = 0;

	memset(&s, 0, sizeof s);
	shim_open_log(a->debug);
	/* Orphans of our children come to us, not to containerd's init. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (shim_setup(&s, a, &err) < 0) {
		log_error("%s", err.msg);
		ret = 1;
	} else {
		log_info("serving task=%s namespace=%s", a->id, a->namespace);
		if (reactor_run(s.r) < 0)
			ret = 1;
	}
	shim_teardown(&s, a);
	return ret;
}

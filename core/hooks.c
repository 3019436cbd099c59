/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OCI hooks that run in the runtime's namespace: prestart, createRuntime,
 * poststart and poststop run here, on the host, as runc runs them: each
 * hook in order, the OCI state on its stdin (pid = the VM's QEMU, whose
 * namespaces are the container's boundary), its own args, env and
 * timeout. Tools that set up networking through hooks then work as they
 * do with runc. The guest never sees a hook (the agent drops them).
 *
 * A run is a list of hooks with one child at a time; its end is a
 * callback from the reactor, never from inside core_hooks_run. The task
 * turns that end into an event of its machine.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "core/core_int.h"

#define HOOK_DEFAULT_S	30

struct core_hooks {
	struct reactor		*r;		/* borrowed */
	json_t			*list;		/* the hooks, one array */
	size_t			 next;		/* the next to run */
	char			*state;		/* OCI state JSON */
	pid_t			 pid;
	bool			 timed_out;
	struct reactor_child	*child;
	struct reactor_timer	*timer;
	core_hooks_done_cb	 done;
	void			*arg;
	char			 error[512];
};

static void	hooks_next_cb(void *);

/* A JSON array of strings as a NULL-terminated argv (others skipped). */
static char **
hook_strings(const json_t *a)
{
	size_t i, k = 0, n = json_array_size(a);
	char **v = xcalloc(n + 1, sizeof *v);

	for (i = 0; i < n; i++)
		if (json_is_string(json_array_get(a, i)))
			v[k++] = xstrdup(json_string_value(json_array_get(a,
			    i)));
	return v;
}

/* In the child: the state on stdin; stdout and stderr are the shim's. */
static void __attribute__((noreturn))
hook_exec(const char *path, char **argv, char **envp, int in)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	dup2(in, 0);
	execve(path, argv, envp);
	_exit(127);
}

static void
hooks_end(struct core_hooks *h, bool failed)
{
	reactor_timer_stop(h->timer);
	log_info("hooks: %s", failed ? h->error : "done");
	if (h->done != NULL)
		h->done(failed ? h->error : NULL, h->arg);
}

static void
hook_exit_cb(pid_t pid, int status, void *arg)
{
	struct core_hooks *h = arg;

	(void)pid;
	h->pid = 0;
	reactor_timer_stop(h->timer);
	if (!h->timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		reactor_defer(h->r, hooks_next_cb, h);
		return;
	}
	if (h->timed_out)
		snprintf(h->error, sizeof h->error, "hook %zu timed out",
		    h->next - 1);
	else
		snprintf(h->error, sizeof h->error, "hook %zu failed (%s %d)",
		    h->next - 1, WIFEXITED(status) ? "exit status" : "signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) :
		    WTERMSIG(status));
	hooks_end(h, true);
}

static void
hook_timeout_cb(void *arg)
{
	struct core_hooks *h = arg;

	h->timed_out = true;
	if (h->pid > 0)
		kill(h->pid, SIGKILL);
}

/* The state fits a pipe's buffer (a few hundred bytes): written at once. */
static int
hook_spawn(struct core_hooks *h, const json_t *hook, struct err *err)
{
	const char *path = json_string_value(json_object_get(hook, "path"));
	json_int_t secs = json_integer_value(json_object_get(hook,
	    "timeout"));
	char **argv, **envp;
	int p[2];

	if (path == NULL || path[0] != '/')
		return err_set(err, EINVAL, "hook %zu: path must be absolute",
		    h->next);
	if (pipe2(p, O_CLOEXEC) < 0)
		return err_set(err, errno, "pipe: %m");
	(void)write_all(p[1], h->state, strlen(h->state));
	close(p[1]);
	argv = hook_strings(json_object_get(hook, "args"));
	if (argv[0] == NULL) {
		free(argv);
		argv = xcalloc(2, sizeof *argv);
		argv[0] = xstrdup(path);
	}
	envp = hook_strings(json_object_get(hook, "env"));
	h->pid = fork();
	if (h->pid == 0)
		hook_exec(path, argv, envp, p[0]);
	close(p[0]);
	core_argv_free(argv);
	core_argv_free(envp);
	if (h->pid < 0)
		return err_set(err, errno, "fork: %m");
	reactor_child_free(h->child);
	h->child = reactor_child_new(h->r, h->pid, hook_exit_cb, h);
	reactor_timer_start(h->timer, (uint64_t)(secs > 0 ? secs :
	    HOOK_DEFAULT_S) * 1000, false);
	return 0;
}

static void
hooks_next_cb(void *arg)
{
	struct core_hooks *h = arg;
	struct err err;

	if (h->next >= json_array_size(h->list)) {
		hooks_end(h, false);
		return;
	}
	h->next++;
	if (hook_spawn(h, json_array_get(h->list, h->next - 1), &err) < 0) {
		snprintf(h->error, sizeof h->error, "%s", err.msg);
		hooks_end(h, true);
	}
}

/* The spec's hooks of each kind in order, as one array (a new one). */
static json_t *
hooks_collect(const json_t *spec, const char *const *kinds)
{
	const json_t *hooks = json_object_get(spec, "hooks"), *h;
	json_t *all = json_array();
	size_t i;

	for (; *kinds != NULL; kinds++)
		json_array_foreach(json_object_get(hooks, *kinds), i, h)
			if (json_is_object(h))
				json_array_append(all, (json_t *)(uintptr_t)h);
	return all;
}

struct core_hooks *
core_hooks_run(struct reactor *r, const json_t *spec,
    const char *const *kinds, const char *state, core_hooks_done_cb done,
    void *arg)
{
	struct core_hooks *h = xcalloc(1, sizeof *h);

	h->r = r;
	h->list = hooks_collect(spec, kinds);
	h->state = xstrdup(state);
	h->done = done;
	h->arg = arg;
	h->timer = reactor_timer_new(r, hook_timeout_cb, h);
	reactor_defer(r, hooks_next_cb, h);
	return h;
}

size_t
core_hooks_count(const json_t *spec, const char *const *kinds)
{
	json_t *all = hooks_collect(spec, kinds);
	size_t n = json_array_size(all);

	json_decref(all);
	return n;
}

/* A hook still running is killed: nobody waits for it any more. */
void
core_hooks_free(struct core_hooks *h)
{
	if (h == NULL)
		return;
	if (h->pid > 0) {
		kill(h->pid, SIGKILL);
		waitpid(h->pid, NULL, 0);
	}
	reactor_defer_cancel(h->r, h);
	reactor_child_free(h->child);
	reactor_timer_free(h->timer);
	json_decref(h->list);
	free(h->state);
	free(h);
}

/* The OCI state document a hook reads on its stdin. */
char *
core_oci_state(const char *id, const char *status, pid_t pid,
    const char *bundle, const json_t *spec)
{
	json_t *st = json_pack("{ss ss ss si ss}", "ociVersion", "1.0.2",
	    "id", id, "status", status, "pid", (int)pid, "bundle", bundle);
	const json_t *ann = json_object_get(spec, "annotations");
	char *s;

	if (json_is_object(ann))
		json_object_set(st, "annotations", (json_t *)(uintptr_t)ann);
	s = json_dumps(st, JSON_COMPACT);
	json_decref(st);
	return s;
}

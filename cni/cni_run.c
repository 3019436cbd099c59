/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One plugin run (CNI spec, "Execution protocol"): the plugin binary found
 * in CNI_PATH, forked into a process group of its own with the CNI_*
 * environment, its config on stdin and stdout/stderr on pipes, all three
 * non-blocking in the reactor. A run is done only when the child has
 * exited and both pipes are at EOF (tmux job.c): output written just
 * before exit is never lost. Its deadline SIGKILLs the whole group, so a
 * shell-script plugin's children go too, closes the pipes (a grandchild
 * that escaped the group may hold them open) and waits for the exit only.
 *
 * stdout is bounded by CNI_OUTPUT_MAX (beyond it the group is killed);
 * stderr keeps its first CNI_STDERR_KEEP bytes for error messages and
 * drains the rest, so a chatty plugin never blocks on a full pipe.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "cni/cni_int.h"

#define CNI_STDERR_KEEP	4096
#define CNI_READ_CHUNK	(64 * 1024)

extern char **environ;

struct cni_pipe {
	int			 fd;
	struct reactor_io	*io;
	struct buf		 buf;
	size_t			 limit;		/* bytes kept */
	bool			 over;		/* more than limit arrived */
};

struct cni_run {
	struct cni_attach	*a;		/* borrowed */
	struct reactor		*r;		/* borrowed */
	enum cni_cmd		 cmd;
	char			 type[72];
	pid_t			 pid;
	struct reactor_child	*child;
	struct reactor_timer	*timer;
	struct cni_pipe		 in, out, errp;
	int			 status;
	bool			 exited;
	bool			 killed;	/* deadline or output bound */
	bool			 timed_out;
	bool			 abandoned;	/* owner gone; free at exit */
	cni_run_cb		 cb;
	void			*arg;		/* borrowed */
};

static void	cni_run_io_cb(int, int, void *);
static void	cni_run_exit_cb(pid_t, int, void *);
static void	cni_run_deadline_cb(void *);

const char *
cni_cmd_name(enum cni_cmd c)
{
	switch (c) {
	case CNI_CMD_ADD:
		return "ADD";
	case CNI_CMD_CHECK:
		return "CHECK";
	case CNI_CMD_DEL:
		return "DEL";
	}
	return "?";
}

static void
cni_pipe_close(struct cni_pipe *p)
{
	reactor_io_free(p->io);
	p->io = NULL;
	close_fd(&p->fd);
}

static void
cni_run_free(struct cni_run *run)
{
	cni_pipe_close(&run->in);
	cni_pipe_close(&run->out);
	cni_pipe_close(&run->errp);
	buf_fini(&run->in.buf);
	buf_fini(&run->out.buf);
	buf_fini(&run->errp.buf);
	reactor_timer_free(run->timer);
	reactor_child_free(run->child);
	free(run);
}

/* The first dir of bin_dirs holding an executable type; NULL if none. */
static char *
cni_run_find(const char *bin_dirs, const char *type)
{
	_cleanup_free_ char *dirs = xstrdup(bin_dirs);
	char *dir, *save = NULL, *path;

	for (dir = strtok_r(dirs, ":", &save); dir != NULL;
	    dir = strtok_r(NULL, ":", &save)) {
		path = xasprintf("%s/%s", dir, type);
		if (access(path, X_OK) == 0)
			return path;
		free(path);
	}
	return NULL;
}

/* The parent's environment minus CNI_*, then ours (spec "Parameters"). */
static char **
cni_run_env(const struct cni_attach *a, enum cni_cmd cmd)
{
	size_t n = 0, k = 0, i;
	char **env;

	while (environ[n] != NULL)
		n++;
	env = xcalloc(n + 8, sizeof *env);
	for (i = 0; i < n; i++)
		if (strncmp(environ[i], "CNI_", 4) != 0)
			env[k++] = xstrdup(environ[i]);
	env[k++] = xasprintf("CNI_COMMAND=%s", cni_cmd_name(cmd));
	env[k++] = xasprintf("CNI_CONTAINERID=%s", a->container_id);
	env[k++] = xasprintf("CNI_NETNS=%s", a->netns != NULL ? a->netns : "");
	env[k++] = xasprintf("CNI_IFNAME=%s", a->ifname);
	env[k++] = xasprintf("CNI_ARGS=%s", a->cni_args != NULL ?
	    a->cni_args : "");
	env[k++] = xasprintf("CNI_PATH=%s", a->bin_dirs);
	env[k] = NULL;
	return env;
}

static void
cni_strv_free(char **v)
{
	size_t i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* In the child: stdio onto the pipes, default signals, own group, exec. */
static void __attribute__((noreturn))
cni_run_exec(const char *path, char **env, int in, int out, int errfd)
{
	char *argv[] = { (char *)(uintptr_t)path, NULL };
	sigset_t none;

	setpgid(0, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* The reactor ignores SIGPIPE; that would survive exec. */
	signal(SIGPIPE, SIG_DFL);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(errfd, 2) < 0)
		_exit(127);
	execve(path, argv, env);
	_exit(127);
}

/* A pipe whose parent end (ours) is non-blocking; the child's blocks. */
static int
cni_run_pipe(int fds[2], bool parent_reads)
{
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	return fd_set_nonblock_cloexec(fds[parent_reads ? 0 : 1]);
}

static void
cni_close2(int fds[2])
{
	close_fd(&fds[0]);
	close_fd(&fds[1]);
}

static int
cni_run_fork(struct cni_run *run, const char *path, struct err *err)
{
	int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
	char **env = cni_run_env(run->a, run->cmd);

	if (cni_run_pipe(pin, false) < 0 || cni_run_pipe(pout, true) < 0 ||
	    cni_run_pipe(perr, true) < 0) {
		err_set(err, errno, "pipe: %m");
		goto fail;
	}
	run->pid = fork();
	if (run->pid == 0)
		cni_run_exec(path, env, pin[0], pout[1], perr[1]);
	if (run->pid < 0) {
		err_set(err, errno, "fork: %m");
		goto fail;
	}
	/* Also here, so a kill before the child's setpgid() finds it. */
	(void)setpgid(run->pid, run->pid);
	run->in.fd = take_fd(&pin[1]);
	run->out.fd = take_fd(&pout[0]);
	run->errp.fd = take_fd(&perr[0]);
	cni_close2(pin);
	cni_close2(pout);
	cni_close2(perr);
	cni_strv_free(env);
	return 0;
fail:
	cni_close2(pin);
	cni_close2(pout);
	cni_close2(perr);
	cni_strv_free(env);
	return -1;
}

static void
cni_run_watch(struct cni_run *run)
{
	run->child = reactor_child_new(run->r, run->pid, cni_run_exit_cb, run);
	run->in.io = reactor_io_new(run->r, run->in.fd, REACTOR_WRITE,
	    cni_run_io_cb, run);
	run->out.io = reactor_io_new(run->r, run->out.fd, REACTOR_READ,
	    cni_run_io_cb, run);
	run->errp.io = reactor_io_new(run->r, run->errp.fd, REACTOR_READ,
	    cni_run_io_cb, run);
	run->timer = reactor_timer_new(run->r, cni_run_deadline_cb, run);
	reactor_timer_start(run->timer, run->a->timeout_ms, false);
}

struct cni_run *
cni_run_start(struct cni_attach *a, enum cni_cmd cmd, int idx,
    cni_run_cb cb, void *arg, struct err *err)
{
	json_t *conf = cni_conf_plugin_stdin(a->conf, idx, a->prev,
	    a->cap_args);
	const char *type = json_string_value(json_object_get(a->conf->plugins[
	    idx], "type"));
	_cleanup_free_ char *path = cni_run_find(a->bin_dirs, type);
	struct cni_run *run;
	char *s;

	if (path == NULL) {
		json_decref(conf);
		return err_set(err, ENOENT, "cni %s: plugin %s %s: not found "
		    "in %s", a->conf->name, type, cni_cmd_name(cmd),
		    a->bin_dirs), NULL;
	}
	s = json_dumps(conf, JSON_COMPACT);
	json_decref(conf);
	if (s == NULL)
		return err_set(err, EINVAL, "cni %s: plugin %s %s: cannot "
		    "encode its config", a->conf->name, type,
		    cni_cmd_name(cmd)), NULL;
	run = xcalloc(1, sizeof *run);
	run->a = a;
	run->r = a->r;
	run->cmd = cmd;
	str_copy(run->type, type, sizeof run->type);
	run->cb = cb;
	run->arg = arg;
	run->in.fd = run->out.fd = run->errp.fd = -1;
	buf_init(&run->in.buf);
	buf_init(&run->out.buf);
	buf_init(&run->errp.buf);
	buf_append(&run->in.buf, s, strlen(s));
	free(s);
	run->out.limit = CNI_OUTPUT_MAX;
	run->errp.limit = CNI_STDERR_KEEP;
	if (cni_run_fork(run, path, err) < 0) {
		err_wrap(err, "cni %s: plugin %s %s", a->conf->name, type,
		    cni_cmd_name(cmd));
		cni_run_free(run);
		return NULL;
	}
	cni_run_watch(run);
	log_debug("cni=%s plugin=%s cmd=%s pid=%d container=%s",
	    a->conf->name, type, cni_cmd_name(cmd), (int)run->pid,
	    a->container_id);
	return run;
}

/* The whole group, so a script's children die with it. */
static void
cni_run_kill(struct cni_run *run)
{
	run->killed = true;
	if (!run->exited || run->out.fd >= 0 || run->errp.fd >= 0)
		(void)kill(-run->pid, SIGKILL);
	cni_pipe_close(&run->in);
	cni_pipe_close(&run->out);
	cni_pipe_close(&run->errp);
	reactor_timer_stop(run->timer);
}

/* stderr's first line or so, for a message. */
static const char *
cni_run_stderr(struct cni_run *run, char *dst, size_t n)
{
	size_t len = buf_used(&run->errp.buf), i;

	if (len >= n)
		len = n - 1;
	memcpy(dst, buf_head(&run->errp.buf), len);
	dst[len] = '\0';
	for (i = 0; i < len; i++)
		if (dst[i] == '\n' || dst[i] == '\r' || dst[i] == '\t')
			dst[i] = ' ';
	while (len > 0 && dst[len - 1] == ' ')
		dst[--len] = '\0';
	return dst;
}

/* Spec "Error": {"code": N, "msg": "...", "details": "..."}. */
static void
cni_run_error(struct cni_run *run, struct err *err)
{
	const char *net = run->a->conf->name, *cmd = cni_cmd_name(run->cmd);
	json_t *o = json_loadb((const char *)buf_head(&run->out.buf),
	    buf_used(&run->out.buf), 0, NULL);
	const char *msg = json_string_value(json_object_get(o, "msg"));
	const char *det = json_string_value(json_object_get(o, "details"));
	json_t *code = json_object_get(o, "code");
	char text[256];

	if (msg != NULL)
		err_set(err, EIO, "cni %s: plugin %s %s: %.200s (code %lld)"
		    "%s%.100s", net, run->type, cmd, msg,
		    (long long)json_integer_value(code), det != NULL &&
		    det[0] != '\0' ? ": " : "", det != NULL ? det : "");
	else if (WIFSIGNALED(run->status))
		err_set(err, EIO, "cni %s: plugin %s %s: killed by signal %d%s"
		    "%s", net, run->type, cmd, WTERMSIG(run->status),
		    buf_used(&run->errp.buf) > 0 ? ": " : "",
		    cni_run_stderr(run, text, sizeof text));
	else
		err_set(err, EIO, "cni %s: plugin %s %s: exited with status %d"
		    "%s%s", net, run->type, cmd, WEXITSTATUS(run->status),
		    buf_used(&run->errp.buf) > 0 ? ": " : "",
		    cni_run_stderr(run, text, sizeof text));
	json_decref(o);
}

/* Both exited and at EOF (or killed and exited): report, once. */
static void
cni_run_maybe_done(struct cni_run *run)
{
	const char *net = run->a != NULL ? run->a->conf->name : "";
	struct err err;
	bool failed = true;

	if (!run->exited || (!run->killed && (run->out.fd >= 0 ||
	    run->errp.fd >= 0)))
		return;
	if (run->abandoned) {
		cni_run_free(run);
		return;
	}
	if (run->timed_out)
		err_set(&err, ERR_TIMEOUT, "cni %s: plugin %s %s: no answer "
		    "within %llu ms, killed", net, run->type,
		    cni_cmd_name(run->cmd),
		    (unsigned long long)run->a->timeout_ms);
	else if (run->killed)
		err_set(&err, EMSGSIZE, "cni %s: plugin %s %s: more than %u "
		    "bytes of output, killed", net, run->type,
		    cni_cmd_name(run->cmd), CNI_OUTPUT_MAX);
	else if (!WIFEXITED(run->status) || WEXITSTATUS(run->status) != 0)
		cni_run_error(run, &err);
	else
		failed = false;
	/* The owner frees the run in its callback (it is spent now). */
	run->cb(run, failed ? &err : NULL, (const char *)buf_head(
	    &run->out.buf), buf_used(&run->out.buf), run->arg);
}

static void
cni_run_exit_cb(pid_t pid, int status, void *arg)
{
	struct cni_run *run = arg;

	(void)pid;
	run->status = status;
	run->exited = true;
	cni_run_maybe_done(run);
}

static void
cni_run_deadline_cb(void *arg)
{
	struct cni_run *run = arg;

	log_warnx("cni=%s plugin=%s cmd=%s pid=%d deadline passed, killing",
	    run->a->conf->name, run->type, cni_cmd_name(run->cmd),
	    (int)run->pid);
	run->timed_out = true;
	cni_run_kill(run);
	cni_run_maybe_done(run);
}

/* Feed stdin; close it once written so the plugin sees EOF. */
static void
cni_run_write(struct cni_run *run)
{
	ssize_t n;

	n = write(run->in.fd, buf_head(&run->in.buf), buf_used(&run->in.buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	/* EPIPE: the plugin does not read its config; its exit tells. */
	if (n < 0) {
		cni_pipe_close(&run->in);
		return;
	}
	buf_consume(&run->in.buf, (size_t)n);
	if (buf_used(&run->in.buf) == 0)
		cni_pipe_close(&run->in);
}

/* One bounded read; true when the pipe reached EOF or failed. */
static bool
cni_run_read(struct cni_pipe *p)
{
	uint8_t scratch[4096], *dst;
	size_t room = p->limit > buf_used(&p->buf) ? p->limit -
	    buf_used(&p->buf) : 0;
	size_t want = room < CNI_READ_CHUNK ? room : CNI_READ_CHUNK;
	ssize_t n;

	/* Past the limit, read into scratch and drop (but note it). */
	dst = want > 0 ? buf_reserve(&p->buf, want) : scratch;
	if (want == 0)
		want = sizeof scratch;
	n = read(p->fd, dst, want);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return false;
	if (n <= 0)
		return true;
	if (dst == scratch)
		p->over = true;
	else
		buf_commit(&p->buf, (size_t)n);
	return false;
}

static void
cni_run_io_cb(int fd, int what, void *arg)
{
	struct cni_run *run = arg;

	(void)what;
	if (fd == run->in.fd) {
		cni_run_write(run);
		return;
	}
	if (fd == run->out.fd && cni_run_read(&run->out))
		cni_pipe_close(&run->out);
	else if (fd == run->errp.fd && cni_run_read(&run->errp))
		cni_pipe_close(&run->errp);
	if (run->out.over && !run->killed) {
		log_warnx("cni=%s plugin=%s output over %u bytes, killing",
		    run->a->conf->name, run->type, CNI_OUTPUT_MAX);
		cni_run_kill(run);
	}
	cni_run_maybe_done(run);
}

/*
 * The owner goes away: kill the group and let the reactor reap it later
 * (the run frees itself at the exit). A run already spent is freed now.
 */
void
cni_run_abandon(struct cni_run *run)
{
	if (run == NULL)
		return;
	if (run->exited) {
		cni_run_free(run);
		return;
	}
	run->abandoned = true;
	run->a = NULL;
	cni_run_kill(run);
}

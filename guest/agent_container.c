/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Container and process objects of the agent: creation, lookup, the
 * dispatch wrappers, and teardown. Their lives are the tables in
 * agent_container_fsm.c and agent_process_fsm.c.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "guest/agent.h"

char *
agent_path(const struct agent_container *c, const char *name)
{
	return xasprintf("%s/%s", c->dir, name);
}

void
agent_cgroup_path(char *out, size_t size, const char *cid, const char *file)
{
	snprintf(out, size, "%s/fs/cgroup/%s/%s%s%s", agent_sysfs,
	    AGENT_CGROUP_PARENT, cid, file != NULL ? "/" : "",
	    file != NULL ? file : "");
}

struct agent_container *
agent_container_find(struct agent *a, const char *id)
{
	struct agent_container *c;

	TAILQ_FOREACH(c, &a->containers, entry)
		if (!c->dead && strcmp(c->id, id) == 0)
			return c;
	return NULL;
}

static void	agent_ctr_timer_cb(void *);

/*
 * PAUSING: the freezer works asynchronously; cgroup.events says
 * "frozen 1" once every process is stopped. Polled, for a few seconds.
 */
static void
agent_ctr_freeze_poll_cb(void *arg)
{
	struct agent_container *c = arg;
	char path[256], line[64];
	bool frozen = false;
	struct err err;
	FILE *f;

	agent_cgroup_path(path, sizeof path, c->id, "cgroup.events");
	if ((f = fopen(path, "re")) != NULL) {
		while (fgets(line, sizeof line, f) != NULL)
			if (strcmp(line, "frozen 1\n") == 0)
				frozen = true;
		fclose(f);
	}
	if (frozen) {
		reactor_timer_stop(c->freeze_poll);
		(void)agent_ctr_event(c, AGENT_CTR_EV_FROZEN, &err);
	}
}

struct agent_container *
agent_container_new(struct agent *a, const char *id)
{
	struct agent_container *c = xcalloc(1, sizeof *c);

	c->a = a;
	snprintf(c->id, sizeof c->id, "%s", id);
	c->dir = xasprintf("%s/%s", agent_run_dir, id);
	c->rootfs = xasprintf("%s/rootfs", c->dir);
	c->oom_wd = -1;
	TAILQ_INIT(&c->procs);
	c->timer = reactor_timer_new(a->r, agent_ctr_timer_cb, c);
	c->freeze_poll = reactor_timer_new(a->r, agent_ctr_freeze_poll_cb, c);
	fsm_init(&c->fsm, &agent_ctr_fsm_def, a->env, id, c);
	TAILQ_INSERT_TAIL(&a->containers, c, entry);
	a->ncontainers++;
	return c;
}

void
agent_container_free(struct agent_container *c)
{
	struct agent_process *p;

	if (c == NULL)
		return;
	while ((p = TAILQ_FIRST(&c->procs)) != NULL)
		agent_process_free(p);
	agent_oom_unwatch(c);
	TAILQ_REMOVE(&c->a->containers, c, entry);
	c->a->ncontainers--;
	reactor_defer_cancel(c->a->r, c);
	reactor_child_free(c->helper);
	reactor_timer_free(c->timer);
	reactor_timer_free(c->freeze_poll);
	if (c->pending != NULL)
		proto_call_fail(c->pending, PROTO_UNAVAILABLE, "container gone");
	fsm_fini(&c->fsm);
	/* Empty once removed (ctr_act_cleanup and the execs above). */
	if (c->dead)
		rmdir(c->dir);
	free(c->dir);
	free(c->rootfs);
	free(c);
}

static void
agent_ctr_timer_cb(void *arg)
{
	struct agent_container *c = arg;
	struct err err;

	(void)agent_ctr_event(c, AGENT_CTR_EV_TIMEOUT, &err);
}

int
agent_ctr_event(struct agent_container *c, int ev, struct err *err)
{
	return fsm_dispatch(&c->fsm, ev, NULL, err);
}

/* Pids of the container's cgroup, at most max. */
int
agent_container_pids(struct agent_container *c, pid_t *pids, int max,
    struct err *err)
{
	char path[256];
	FILE *f;
	int n = 0;
	long pid;

	agent_cgroup_path(path, sizeof path, c->id, "cgroup.procs");
	if ((f = fopen(path, "re")) == NULL)
		return err_set(err, errno, "open %s: %m", path);
	while (n < max && fscanf(f, "%ld", &pid) == 1)
		pids[n++] = (pid_t)pid;
	fclose(f);
	return n;
}

void
agent_container_kill_all(struct agent_container *c, int sig)
{
	struct agent_process *p;
	pid_t pids[1024];
	struct err err;
	int i, n;

	n = agent_container_pids(c, pids, (int)ARRAY_SIZE(pids), &err);
	for (i = 0; i < n; i++)
		kill(pids[i], sig);
	/* Processes not in the cgroup yet (crun init) by their own pids. */
	TAILQ_FOREACH(p, &c->procs, entry)
		if (p->pid > 0 && !p->exited)
			kill(p->pid, sig);
}

/* ---- processes ------------------------------------------------------- */

struct agent_process *
agent_process_find(struct agent_container *c, const char *exec_id)
{
	struct agent_process *p;

	TAILQ_FOREACH(p, &c->procs, entry)
		if (strcmp(p->exec_id, exec_id) == 0)
			return p;
	return NULL;
}

struct agent_process *
agent_process_find_pid(struct agent *a, pid_t pid)
{
	struct agent_container *c;
	struct agent_process *p;

	TAILQ_FOREACH(c, &a->containers, entry)
		TAILQ_FOREACH(p, &c->procs, entry)
			if (p->pid == pid && !p->exited)
				return p;
	return NULL;
}

static void
agent_proc_timer_cb(void *arg)
{
	struct agent_process *p = arg;
	struct err err;

	(void)agent_proc_event(p, AGENT_PROC_EV_TIMEOUT, NULL, &err);
}

struct agent_process *
agent_process_new(struct agent_container *c, const char *exec_id)
{
	struct agent_process *p = xcalloc(1, sizeof *p);
	char id[2 * PROTO_ID_MAX + 2];
	int i;

	p->c = c;
	snprintf(p->exec_id, sizeof p->exec_id, "%s", exec_id);
	p->is_init = exec_id[0] == '\0';
	for (i = 0; i < 3; i++) {
		p->streams[i].p = p;
		p->streams[i].fd_no = (uint32_t)i;
		p->streams[i].fd = -1;
		p->streams[i].credit = PROTO_STREAM_WINDOW;
		buf_init(&p->streams[i].pending);
	}
	TAILQ_INIT(&p->waiters);
	p->console_fd = -1;
	p->timer = reactor_timer_new(c->a->r, agent_proc_timer_cb, p);
	snprintf(id, sizeof id, "%s/%s", c->id, p->is_init ? "init" :
	    exec_id);
	fsm_init(&p->fsm, &agent_proc_fsm_def, c->a->env, id, p);
	TAILQ_INSERT_TAIL(&c->procs, p, entry);
	c->nprocs++;
	if (p->is_init)
		c->init = p;
	return p;
}

void
agent_process_free(struct agent_process *p)
{
	struct agent_waiter *w;

	reactor_defer_cancel(p->c->a->r, p);
	agent_stdio_close(p);
	/* An exec's files go with it: a long-lived container's execs must
	 * not pile up in the guest's tmpfs. */
	if (!p->is_init) {
		static const char *const what[] = { "json", "pid", "console" };
		char name[PROTO_ID_MAX + 32];
		size_t i;

		for (i = 0; i < ARRAY_SIZE(what); i++) {
			snprintf(name, sizeof name, "exec-%s.%s", p->exec_id,
			    what[i]);
			_cleanup_free_ char *path = agent_path(p->c, name);

			unlink(path);
		}
	}
	while ((w = TAILQ_FIRST(&p->waiters)) != NULL) {
		TAILQ_REMOVE(&p->waiters, w, entry);
		proto_call_fail(w->call, PROTO_NOT_FOUND, "process removed");
		free(w);
	}
	if (p->pending != NULL)
		proto_call_fail(p->pending, PROTO_UNAVAILABLE, "process gone");
	reactor_child_free(p->helper);
	reactor_timer_free(p->timer);
	close_fd(&p->console_fd);
	fsm_fini(&p->fsm);
	TAILQ_REMOVE(&p->c->procs, p, entry);
	p->c->nprocs--;
	if (p->c->init == p)
		p->c->init = NULL;
	free(p);
}

int
agent_proc_event(struct agent_process *p, int ev, const void *data,
    struct err *err)
{
	return fsm_dispatch(&p->fsm, ev, data, err);
}

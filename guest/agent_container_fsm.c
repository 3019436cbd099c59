/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The container machine of the agent.
 *
 *   NEW --PREPARE--> PREPARED (rootfs mounted: agent_rootfs.c; config.json)
 *   PREPARED --INIT_CREATED--> ACTIVE --INIT_STOPPED--> STOPPED
 *   ACTIVE --PAUSE--> PAUSING --FROZEN--> PAUSED --RESUME--> ACTIVE
 *   PAUSING --TIMEOUT--> ACTIVE (thawed), or PAUSED if the thaw failed
 *   STOPPED --REMOVE--> REMOVING (crun delete) --HELPER_OK--> REMOVED
 *
 * REMOVE of a container whose init still runs has no row: the host gets
 * FAILED_PRECONDITION and must kill and wait first. REMOVED is terminal;
 * the object is freed on the next loop turn.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "guest/agent.h"

/* What CreateContainer hands to PREPARE. */
struct agent_prepare {
	const char	*rootfs_type;	/* "9p" or "erofs" (agent_rootfs.c) */
	const char	*rootfs_tag;
	const json_t	*spec;
};

static const char *const agent_ctr_state_names[] = {
	AGENT_CTR_STATES(FSM_X_NAME, AGENT_CTR_ST_)
};
static const char *const agent_ctr_event_names[] = {
	AGENT_CTR_EVENTS(FSM_X_NAME, AGENT_CTR_EV_)
};

#define CTR(m)	((struct agent_container *)(m)->ctx)

static int
ctr_act_prepare(struct fsm *m, const void *data, struct err *err)
{
	const struct agent_prepare *prep = data;
	struct agent_container *c = CTR(m);
	_cleanup_free_ char *cfg = agent_path(c, "config.json");

	if (agent_rootfs_mount(c, prep->rootfs_type, prep->rootfs_tag,
	    err) < 0)
		return -1;
	return agent_json_write(prep->spec, cfg, err);
}

static void
ctr_helper_cb(pid_t pid, int status, void *arg)
{
	struct agent_container *c = arg;
	struct err err;

	(void)pid;
	reactor_child_free(c->helper);
	c->helper = NULL;
	c->helper_pid = 0;
	(void)agent_ctr_event(c, WIFEXITED(status) && WEXITSTATUS(status) == 0 ?
	    AGENT_CTR_EV_HELPER_OK : AGENT_CTR_EV_HELPER_FAILED, &err);
}

/* crun delete -f, if crun ever knew the container. */
static int
ctr_act_remove(struct fsm *m, const void *data, struct err *err)
{
	struct agent_container *c = CTR(m);
	char *argv[] = { (char *)AGENT_CRUN, (char *)"delete", (char *)"-f",
	    c->id, NULL };
	int none[3] = { -1, -1, -1 };

	(void)data;
	agent_container_kill_all(c, SIGKILL);
	c->helper_pid = agent_spawn(c->a, argv, none, NULL, ctr_helper_cb, c,
	    &c->helper, err);
	if (c->helper_pid < 0)
		return -1;
	reactor_timer_start(c->timer, AGENT_HELPER_MS, false);
	return 0;
}

/* crun made the cgroup: watch it for OOM kills from now on. */
static int
ctr_act_active(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	agent_oom_watch(CTR(m));
	return 0;
}

static void
ctr_free_cb(void *arg)
{
	agent_container_free(arg);
}

/* Undo everything PREPARE did; answer RemoveContainer; free later. */
static int
ctr_act_cleanup(struct fsm *m, const void *data, struct err *err)
{
	Google__Protobuf__Empty e = GOOGLE__PROTOBUF__EMPTY__INIT;
	struct agent_container *c = CTR(m);
	static const char *const files[] = { "config.json", "crun.log",
	    "init.pid", "init.console" };
	size_t i;

	(void)data;
	(void)err;
	reactor_timer_stop(c->timer);
	if (c->helper_pid > 0)
		kill(c->helper_pid, SIGKILL);
	agent_container_kill_all(c, SIGKILL);
	agent_rootfs_unmount(c);
	for (i = 0; i < ARRAY_SIZE(files); i++) {
		_cleanup_free_ char *path = agent_path(c, files[i]);

		unlink(path);
	}
	if (c->pending != NULL)
		proto_call_reply(TAKE_PTR(c->pending), &e.base);
	c->dead = true;
	reactor_defer(c->a->r, ctr_free_cb, c);
	return 0;
}

/*
 * Pause: the cgroup v2 freezer of the container (what crun pause does),
 * so a paused container's processes get no CPU at all.
 */
static int
ctr_freeze(struct agent_container *c, const char *value, struct err *err)
{
	char path[256];

	agent_cgroup_path(path, sizeof path, c->id, "cgroup.freeze");
	return agent_write_file(path, value, err);
}

static int
ctr_act_freeze(struct fsm *m, const void *data, struct err *err)
{
	struct agent_container *c = CTR(m);

	(void)data;
	if (ctr_freeze(c, "1", err) < 0)
		return -1;
	reactor_timer_start(c->freeze_poll, 10, true);
	reactor_timer_start(c->timer, AGENT_FREEZE_MS, false);
	return 0;
}

static void
ctr_answer(struct agent_container *c, const char *error)
{
	Google__Protobuf__Empty e = GOOGLE__PROTOBUF__EMPTY__INIT;

	reactor_timer_stop(c->timer);
	reactor_timer_stop(c->freeze_poll);
	if (c->pending == NULL)
		return;
	if (error == NULL)
		proto_call_reply(TAKE_PTR(c->pending), &e.base);
	else
		proto_call_fail(TAKE_PTR(c->pending), PROTO_UNKNOWN, "%s",
		    error);
}

static int
ctr_act_frozen(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	ctr_answer(CTR(m), NULL);
	return 0;
}

/*
 * Never reported frozen: give up and thaw what was frozen. If the thaw
 * write fails too, cgroup.freeze stays "1" and the container is (or will
 * soon be) frozen: the caller is told so, and the action fails, so the
 * PAUSING FAIL row records PAUSED (where Resume retries the thaw) rather
 * than this row claiming an ACTIVE container that cannot run.
 */
static int
ctr_act_freeze_failed(struct fsm *m, const void *data, struct err *err)
{
	struct agent_container *c = CTR(m);
	char msg[ERR_MSG_MAX + 128];

	(void)data;
	if (ctr_freeze(c, "0", err) == 0) {
		ctr_answer(c, "the container did not freeze in time");
		return 0;
	}
	snprintf(msg, sizeof msg, "the container did not freeze in time and "
	    "could not be thawed (%s): it stays paused, resume to retry",
	    err->msg);
	ctr_answer(c, msg);
	return -1;
}

static int
ctr_act_stopped_pausing(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	(void)err;
	ctr_answer(CTR(m), "the container exited");
	return 0;
}

static int
ctr_act_thaw(struct fsm *m, const void *data, struct err *err)
{
	(void)data;
	return ctr_freeze(CTR(m), "0", err);
}

#define S(x)	AGENT_CTR_ST_##x
#define E(x)	AGENT_CTR_EV_##x
static const struct fsm_row agent_ctr_fsm_rows[] = {
	FSM_ROW(S(NEW), E(PREPARE), NULL, ctr_act_prepare, S(PREPARED)),
	FSM_ROW(S(NEW), E(FAIL), NULL, ctr_act_cleanup, S(REMOVED)),

	FSM_ROW(S(PREPARED), E(INIT_CREATED), NULL, ctr_act_active, S(ACTIVE)),
	FSM_ROW(S(PREPARED), E(INIT_STOPPED), NULL, NULL, S(STOPPED)),
	FSM_ROW(S(PREPARED), E(REMOVE), NULL, ctr_act_remove, S(REMOVING)),

	FSM_ROW(S(ACTIVE), E(INIT_STOPPED), NULL, NULL, S(STOPPED)),
	FSM_ROW(S(ACTIVE), E(EXEC), NULL, NULL, FSM_SAME),
	FSM_ROW(S(ACTIVE), E(PAUSE), NULL, ctr_act_freeze, S(PAUSING)),

	FSM_ROW(S(PAUSING), E(FROZEN), NULL, ctr_act_frozen, S(PAUSED)),
	FSM_ROW(S(PAUSING), E(TIMEOUT), NULL, ctr_act_freeze_failed,
	    S(ACTIVE)),
	FSM_ROW(S(PAUSING), E(INIT_STOPPED), NULL, ctr_act_stopped_pausing,
	    S(STOPPED)),
	/* ctr_act_freeze_failed could not thaw: the cgroup stays frozen. */
	FSM_ROW(S(PAUSING), E(FAIL), NULL, NULL, S(PAUSED)),

	FSM_ROW(S(PAUSED), E(RESUME), NULL, ctr_act_thaw, S(ACTIVE)),
	FSM_ROW(S(PAUSED), E(INIT_STOPPED), NULL, NULL, S(STOPPED)),

	FSM_ROW(S(STOPPED), E(REMOVE), NULL, ctr_act_remove, S(REMOVING)),

	FSM_ROW(S(REMOVING), E(HELPER_OK), NULL, ctr_act_cleanup, S(REMOVED)),
	FSM_ROW(S(REMOVING), E(HELPER_FAILED), NULL, ctr_act_cleanup,
	    S(REMOVED)),
	FSM_ROW(S(REMOVING), E(TIMEOUT), NULL, ctr_act_cleanup, S(REMOVED)),
	FSM_ROW(S(REMOVING), E(INIT_STOPPED), NULL, NULL, FSM_SAME),

	/* A failed action was answered by its caller; the state holds. */
	FSM_ROW(FSM_ANY, E(FAIL), NULL, NULL, FSM_SAME),
};
#undef S
#undef E

const struct fsm_def agent_ctr_fsm_def = {
	.name = "agent_container",
	.version = 3,
	.state_names = agent_ctr_state_names,
	.nstates = AGENT_CTR_ST__COUNT,
	.event_names = agent_ctr_event_names,
	.nevents = AGENT_CTR_EV__COUNT,
	.rows = agent_ctr_fsm_rows,
	.nrows = (int)ARRAY_SIZE(agent_ctr_fsm_rows),
	.initial = AGENT_CTR_ST_NEW,
	.fail_event = AGENT_CTR_EV_FAIL,
	.timeout_event = AGENT_CTR_EV_TIMEOUT,
	.terminal = FSM_BIT(AGENT_CTR_ST_REMOVED),
	.waiting = FSM_BIT(AGENT_CTR_ST_PAUSING) |
	    FSM_BIT(AGENT_CTR_ST_REMOVING),
};
FSM_REGISTER(agent_ctr_fsm_def);

/* PREPARE with its payload (used by the CreateContainer handler). */
int
agent_ctr_prepare(struct agent_container *c, const char *type,
    const char *tag, const json_t *spec, struct err *err)
{
	struct agent_prepare prep = { type, tag, spec };

	return fsm_dispatch(&c->fsm, AGENT_CTR_EV_PREPARE, &prep, err);
}

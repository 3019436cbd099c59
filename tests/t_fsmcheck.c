/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln-fsmcheck's checks in make check: every table in the tree explored
 * (fsm_explore), the task x VM x exec product on the real tables with zero
 * violations, and a deliberately broken task table (built only here) and
 * a broken exec coupling caught with a counter-example.
 */
#include <stdio.h>
#include <string.h>

#include "core/core_int.h"
#include "core/task_vm_model.h"
#include "guest/agent.h"
#include "tests/tap.h"

/* Stands in for task_act_vm_died in the broken table: same name. */
static int
broken_vm_died(struct fsm *m, const void *data, struct err *err)
{
	(void)m;
	(void)data;
	(void)err;
	return 0;
}

/*
 * The agent's PAUSING TIMEOUT row run for real on a container whose
 * cgroup does not exist here, so the thaw write fails as it might in the
 * guest: the container must end PAUSED (still frozen), never ACTIVE.
 */
static void
test_thaw_failure(void)
{
	struct agent a = { 0 };
	struct agent_container *c;
	const struct fsm_trace_rec *fail, *to;
	struct err err = { 0 };

	a.r = reactor_new(&err);
	a.env = fsm_env_new();
	TAILQ_INIT(&a.containers);
	c = agent_container_new(&a, "t-fsmcheck-no-such-cgroup");
	/* PAUSING needs a mounted rootfs and crun to reach; start there. */
	c->fsm.state = AGENT_CTR_ST_PAUSING;
	(void)agent_ctr_event(c, AGENT_CTR_EV_TIMEOUT, &err);
	fail = fsm_env_last(a.env, 1);
	to = fsm_env_last(a.env, 0);
	ok(c->fsm.state == AGENT_CTR_ST_PAUSED, "agent: PAUSING TIMEOUT "
	    "whose thaw fails ends PAUSED, not ACTIVE (%s)",
	    fsm_state_name(&agent_ctr_fsm_def, c->fsm.state));
	ok(fail != NULL && fail->event == AGENT_CTR_EV_TIMEOUT &&
	    fail->result == FSM_RES_FAILED && strstr(fail->detail,
	    "cgroup.freeze") != NULL && to != NULL &&
	    to->event == AGENT_CTR_EV_FAIL && to->to == AGENT_CTR_ST_PAUSED,
	    "agent: traced as a failed ctr_act_freeze_failed, then FAIL to "
	    "PAUSED (%s)", fail != NULL ? fail->detail : "");
	agent_container_free(c);
	fsm_env_free(a.env);
	reactor_free(a.r);
}

/*
 * The exec is in the product: reached RUNNING and published its exit, and
 * a broken coupling (on_stopped telling the exec only while the task is
 * CREATING..RESUMING, as before tla/Exec.tla) is caught with the path.
 */
static void
test_exec_coupling(const struct model_defs *real)
{
	struct model_defs d = *real;
	struct model_stats st;
	struct err err = { 0 };
	char *cex = NULL;
	size_t len = 0;
	FILE *f;
	int k;

	d.broken_exec_news = true;
	f = open_memstream(&cex, &len);
	k = task_vm_model_check(&d, 40, &st, f, &err);
	fclose(f);
	ok(k < 0 && strstr(err.msg, "NoLiveExecWithStoppedVM") != NULL,
	    "fsmcheck catches the broken exec coupling: %s", err.msg);
	ok(cex != NULL && strstr(cex, "\"step\":\"reactor "
	    "task_vm_stopped_cb\"") != NULL && strstr(cex, "\"exec\":"
	    "\"ADDING\"") != NULL, "with a path through on_stopped");
	diag("counter-example:\n%s", cex != NULL ? cex : "");
	free(cex);
}

int
main(void)
{
	const struct fsm_def *const *defs;
	struct fsm_def broken = task_fsm_def;
	struct fsm_explore_stats es;
	struct model_defs d = { &task_fsm_def, &vm_fsm_def, &exec_fsm_def,
	    false };
	struct fsm_row rows[128];
	struct model_stats st;
	struct err err = { 0 };
	char *cex = NULL;
	size_t i, n, len = 0;
	int k, patched = 0;
	FILE *f;

	log_init("t_fsmcheck", LOG_LVL_ERROR, 2);
	defs = fsm_registry(&n);
	ok(n >= 8, "registry holds every machine (%zu)", n);
	for (i = 0; i < n; i++) {
		/* Explore first: ok()'s other arguments read the results. */
		int r = fsm_explore(defs[i], &es, &err);

		ok(r == 0, "explore %s: %llu states, %llu transitions, no "
		    "violation", defs[i]->name, (unsigned long long)es.states,
		    (unsigned long long)es.transitions);
	}
	test_thaw_failure();
	k = task_vm_model_check(&d, 40, &st, NULL, &err);
	ok(k == 0, "task x vm x exec: zero violations (%llu states, %llu "
	    "transitions) %s", (unsigned long long)st.states,
	    (unsigned long long)st.transitions, err.msg);
	test_exec_coupling(&d);

	/* Broken: a VM dying under a STOPPED task publishes TaskExit again. */
	memcpy(rows, task_fsm_def.rows, sizeof rows[0] *
	    (size_t)task_fsm_def.nrows);
	for (k = 0; k < task_fsm_def.nrows; k++)
		if (rows[k].from == TASK_ST_STOPPED &&
		    rows[k].event == TASK_EV_VM_DIED) {
			rows[k].action = broken_vm_died;
			rows[k].action_name = "task_act_vm_died";
			patched++;
		}
	broken.rows = rows;
	ok(patched == 1, "broken table built (STOPPED --VM_DIED--> publishes "
	    "an exit)");
	d.task = &broken;
	f = open_memstream(&cex, &len);
	ok(task_vm_model_check(&d, 40, &st, f, &err) < 0 &&
	    strstr(err.msg, "ExitPublishedOnce") != NULL, "fsmcheck catches "
	    "it: %s", err.msg);
	fclose(f);
	ok(cex != NULL && strstr(cex, "\"step\":\"task STOPPED --VM_DIED--> "
	    "STOPPED ok\"") != NULL && strstr(cex, "\"exits\":2") != NULL,
	    "with a counter-example ending in the second exit");
	diag("counter-example:\n%s", cex != NULL ? cex : "");
	free(cex);
	return tap_done();
}

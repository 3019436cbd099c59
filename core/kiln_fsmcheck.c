/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln-fsmcheck: every state machine table linked into kiln, checked.
 * Each table: fsm_check() and an exhaustive walk (fsm_explore: guards and
 * action outcomes free). The task x VM x exec product: every reachable
 * state up to a bound, against the invariants of tla/TaskVM.tla and
 * tla/Exec.tla. A violation prints its counter-example as JSON lines and
 * exits 1.
 *
 *   kiln-fsmcheck [--depth N]     (default 40)
 *   kiln-fsmcheck --promela       the product as Promela for SPIN, on
 *                                 stdout (tests/e2e/t_spin.sh)
 *   --broken-exec-news            with either: the product with a broken
 *                                 coupling (test only, t_spin.sh): the
 *                                 VM's death reaches the exec only while
 *                                 the task is CREATING..RESUMING
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"
#include "core/task_vm_model.h"

static int
check_tables(void)
{
	const struct fsm_def *const *defs;
	struct fsm_explore_stats st;
	struct err err;
	size_t i, n;
	int bad = 0;

	defs = fsm_registry(&n);
	for (i = 0; i < n; i++) {
		if (fsm_check(defs[i], &err) < 0 ||
		    fsm_explore(defs[i], &st, &err) < 0) {
			printf("%-16s VIOLATION: %s\n", defs[i]->name, err.msg);
			bad++;
			continue;
		}
		printf("%-16s ok: %llu states, %llu transitions explored\n",
		    defs[i]->name, (unsigned long long)st.states,
		    (unsigned long long)st.transitions);
	}
	return bad;
}

static int
usage(void)
{
	fprintf(stderr, "usage: kiln-fsmcheck [--depth N | --promela] "
	    "[--broken-exec-news]\n");
	return 2;
}

int
main(int argc, char **argv)
{
	struct model_defs d = { &task_fsm_def, &vm_fsm_def, &exec_fsm_def,
	    false };
	struct model_stats st;
	struct err err;
	int depth = 40, bad, i;
	bool promela = false;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--promela") == 0)
			promela = true;
		else if (strcmp(argv[i], "--broken-exec-news") == 0)
			d.broken_exec_news = true;
		else if (strcmp(argv[i], "--depth") == 0 && i + 1 < argc)
			depth = atoi(argv[++i]);
		else
			return usage();
	}
	if (promela) {
		task_vm_promela(&d, stdout);
		return 0;
	}
	log_init("kiln-fsmcheck", LOG_LVL_ERROR, 2);
	bad = d.broken_exec_news ? 0 : check_tables();
	if (task_vm_model_check(&d, depth, &st, stdout, &err) < 0) {
		printf("task_x_vm_x_exec VIOLATION: %s\n", err.msg);
		bad++;
	} else
		printf("task_x_vm_x_exec ok: %llu states, %llu transitions "
		    "explored to depth %d (ExitPublishedOnce, "
		    "NoRunningTaskWithStoppedVM, DeleteStopsVM, "
		    "NoLostMessage, ExecExitPublishedOnce, "
		    "NoLiveExecWithStoppedVM)\n",
		    (unsigned long long)st.states,
		    (unsigned long long)st.transitions, depth);
	printf("%d violation%s\n", bad, bad == 1 ? "" : "s");
	return bad > 0 ? 1 : 0;
}

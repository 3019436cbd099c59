/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln-fsmcheck: every state machine table linked into kiln, checked.
 * Each table: fsm_check() and an exhaustive walk (fsm_explore: guards and
 * action outcomes free). The task x VM product: every reachable state up
 * to a bound, against the invariants of tla/TaskVM.tla. A violation
 * prints its counter-example as JSON lines and exits 1.
 *
 *   kiln-fsmcheck [--depth N]     (default 40)
 *   kiln-fsmcheck --promela       the product as Promela for SPIN, on
 *                                 stdout (tests/e2e/t_spin.sh)
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

int
main(int argc, char **argv)
{
	struct model_defs d = { &task_fsm_def, &vm_fsm_def };
	struct model_stats st;
	struct err err;
	int depth = 40, bad;

	if (argc == 2 && strcmp(argv[1], "--promela") == 0) {
		task_vm_promela(&d, stdout);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "--depth") == 0)
		depth = atoi(argv[2]);
	else if (argc != 1) {
		fprintf(stderr, "usage: kiln-fsmcheck [--depth N | "
		    "--promela]\n");
		return 2;
	}
	log_init("kiln-fsmcheck", LOG_LVL_ERROR, 2);
	bad = check_tables();
	if (task_vm_model_check(&d, depth, &st, stdout, &err) < 0) {
		printf("task_x_vm        VIOLATION: %s\n", err.msg);
		bad++;
	} else
		printf("task_x_vm        ok: %llu states, %llu transitions "
		    "explored to depth %d (ExitPublishedOnce, "
		    "NoRunningTaskWithStoppedVM, DeleteStopsVM, "
		    "NoLostMessage)\n", (unsigned long long)st.states,
		    (unsigned long long)st.transitions, depth);
	printf("%d violation%s\n", bad, bad == 1 ? "" : "s");
	return bad > 0 ? 1 : 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The task x VM product checker (task_vm_model.c), for kiln-fsmcheck and
 * its test. */
#ifndef KILN_CORE_TASK_VM_MODEL_H
#define KILN_CORE_TASK_VM_MODEL_H

#include <stdio.h>

#include "fsm/fsm.h"

struct model_defs {
	const struct fsm_def	*task;	/* borrowed: the task table */
	const struct fsm_def	*vm;	/* borrowed: the VM table */
};

struct model_stats {
	uint64_t	states;
	uint64_t	transitions;
};

/*
 * Explore every product state reachable in max_depth steps. Returns 0, or
 * -1 with the violated invariant in err and the path to it written to
 * counterexample (JSON lines; may be NULL).
 */
int	task_vm_model_check(const struct model_defs *, int max_depth,
	    struct model_stats *, FILE *counterexample, struct err *);

/*
 * Can row r's action fail? Only the actions whose C function can return
 * an error; shared with the Promela composition (task_vm_promela.c).
 */
bool	task_vm_model_fallible(const struct fsm_row *);

/*
 * Write the task x VM composition as Promela to f (kiln-fsmcheck
 * --promela): the real tables, this model's environment and effects,
 * its invariants as assertions and two liveness claims.
 */
void	task_vm_promela(const struct model_defs *, FILE *);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The task x VM x exec composition (task_vm_model.c), for kiln-fsmcheck and
 * its test: the environment the three real tables run in, written once as
 * data (tvm_effects, tvm_rules, tvm_guards) that the C explorer
 * (task_vm_model.c) interprets and the Promela writer (task_vm_promela.c)
 * turns into SPIN's input, so that the two cannot drift apart.
 */
#ifndef KILN_CORE_TASK_VM_MODEL_H
#define KILN_CORE_TASK_VM_MODEL_H

#include <stdio.h>

#include "fsm/fsm.h"

/* The machines of the composition, in this order everywhere. */
enum tvm_machine { TVM_TASK, TVM_VM, TVM_EXEC, TVM__COUNT };

struct model_defs {
	const struct fsm_def	*task;	/* borrowed: the task table */
	const struct fsm_def	*vm;	/* borrowed: the VM table */
	const struct fsm_def	*exec;	/* borrowed: the exec table */
	/*
	 * Test only: on_stopped tells the exec only while the task is
	 * CREATING..RESUMING (the coupling tla/Exec.tla found wanting), so
	 * that the checkers' tests can show it caught.
	 */
	bool			 broken_exec_news;
};

/* The table of machine m. */
const struct fsm_def *tvm_def(const struct model_defs *, int m);

/*
 * The environment's variables, one byte each, named as in the Promela.
 * EXEC: 0 no exec yet, 1 in t->execs, 2 freed (exec_free_cb ran). The
 * *_EXITED flags are the guest's word on an exit (read by the exited
 * guards).
 */
#define TVM_VARS(X)							\
	X(EXITS, exits)		/* the task's TaskExits */		\
	X(STOP_REQ, stop_requested)					\
	X(PEND_CREATE, pend_create)	/* CreateContainer */		\
	X(PEND_START, pend_start)	/* Start/Pause/ResumeContainer */ \
	X(PEND_WAIT, pend_wait)		/* WaitProcess of the init */	\
	X(PEND_NET, pend_net)		/* NICs being wired */		\
	X(PEND_HOOKS, pend_hooks)	/* OCI hooks running */		\
	X(PEND_ROOTFS, pend_rootfs)	/* the rootfs image being built */ \
	X(TEXITED, task_exited)		/* the init's exit reported */	\
	X(KILLED, killed)		/* QEMU sent SIGKILL */		\
	X(EXEC, exec)							\
	X(EXEC_OP, exec_op)	/* 1 ExecProcess, 2 StartProcess */	\
	X(EXEC_WAIT, exec_wait)		/* WaitProcess of the exec */	\
	X(EEXITED, exec_exited)		/* the exec's exit reported */	\
	X(EXEC_EXITS, exec_exits)	/* the exec's TaskExits */
#define TVM_X_ENUM(id, name)	TVM_V_##id,
/* TVM_V_NONE (0) is no variable: a field of the tables left out. */
enum tvm_var { TVM_V_NONE, TVM_VARS(TVM_X_ENUM) TVM__NVARS };
#undef TVM_X_ENUM
extern const char *const tvm_var_names[TVM__NVARS];

/* What the code around an action does, besides the row's own state. */
enum tvm_op {
	TVM_SET,	/* var a = b */
	TVM_INC,	/* var a++ */
	TVM_POST,	/* fsm_post event b to machine a (drains first) */
	TVM_CALL,	/* an agent call: var a = b if the channel is open,
			   else this machine is posted event c */
	TVM_STOP_VM,	/* task_stop_vm: the VM STOPPED? post the task
			   VM_STOPPED; else stop_requested, post vm STOP */
	TVM_KILL_VM,	/* vm_kill unless STOPPED: stop_requested, STOP */
	TVM_DEFER,	/* reactor_defer telling the task event b */
	TVM_DEFER_STOPPED, /* on_stopped: VM_STOPPED if stop_requested,
			   else VM_DIED (the exec hears VM_DIED first) */
	TVM_DEFER_FREE,	/* exec_free_cb: cancels the exec's agent calls */
};

struct tvm_effect {
	enum tvm_machine	 m;
	const char		*action;	/* the row's action_name */
	enum tvm_op		 op;
	int			 a, b, c;
};
extern const struct tvm_effect tvm_effects[];
extern const size_t tvm_neffects;

/*
 * One thing the world (containerd, the agent, QEMU, the stdio drain) may
 * send machine m: when every condition given holds. TVM_V_NONE, a mask
 * of 0 and false leave a condition out.
 */
struct tvm_rule {
	enum tvm_machine	 m;
	int			 event;
	int			 var;	/* must be nonzero (val 0) or == val */
	int			 val;
	int			 unless;	/* must be 0 */
	bool			 chan;	/* the agent channel is open */
	bool			 qemu;	/* QEMU runs */
	int			 in;	/* machine whose state is in mask */
	uint64_t		 mask;	/* FSM_BIT()s; 0: any */
	int			 clear;	/* set to 0 when sent (answered) */
	int			 set;	/* set to setval when sent */
	int			 setval;
	const char		*who;	/* comment */
};
extern const struct tvm_rule tvm_rules[];
extern const size_t tvm_nrules;

/*
 * Guards that read what the composition tracks: the row's guard holds iff
 * var is nonzero. Every other guard is a free choice.
 */
struct tvm_guard {
	enum tvm_machine	 m;
	const char		*guard;		/* the row's guard_name */
	int			 var;
};
extern const struct tvm_guard tvm_guards[];
extern const size_t tvm_nguards;

/* States: the task's CREATING..RESUMING; the exec's ADDING..EXITING. */
extern const uint64_t tvm_task_live, tvm_task_running, tvm_exec_live;

/* The deferred queue's entry for exec_free_cb (never a task event). */
#define TVM_Q_FREE	0x7f

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
 * Write the task x VM x exec composition as Promela to f (kiln-fsmcheck
 * --promela): the real tables, this model's environment and effects,
 * its invariants as assertions and the liveness claims.
 */
void	task_vm_promela(const struct model_defs *, FILE *);

#endif

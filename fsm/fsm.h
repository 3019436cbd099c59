/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fsm: the table-driven state machine engine every kiln lifecycle uses.
 *
 * A machine is const data (struct fsm_def): state and event names made with
 * X-macros, and rows {from, event, guard, action, to}. fsm_dispatch() alone
 * changes state: it finds the first row whose from/event match and whose
 * guard (a pure predicate) holds, runs the action, and moves to `to`. An
 * event with no row is rejected with ERR_UNHANDLED and counted, never
 * dropped in silence. A failed action leaves the state as it was and posts
 * the machine's failure event. Every dispatch, accepted or not, becomes one
 * trace record (docs/trace-format.md).
 *
 * Run-to-completion: an action may fsm_post() events to any machine in the
 * same fsm_env; posted events drain FIFO when the outermost dispatch
 * returns, and a nested dispatch is queued the same way (its payload
 * copied, so it must come with a length). This module knows nothing of
 * libevent, so it is pure and easy to test; it sits just above core/base.
 */
#ifndef KILN_FSM_H
#define KILN_FSM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/base/base.h"

#define FSM_ANY		(-1)	/* row "from": any state */
#define FSM_SAME	(-2)	/* row "to": stay in the current state */
#define FSM_NONE	(-3)	/* no failure / timeout event */

#define FSM_BIT(s)	(1ull << (s))
#define FSM_MAX_STATES	64

/* X-macro helpers: LIST(X, PREFIX) expands X(PREFIX, NAME) per item. */
#define FSM_X_ENUM(p, n)	p##n,
#define FSM_X_NAME(p, n)	#n,

struct fsm;
struct fsm_env;

/* A guard is a pure predicate on the machine and the event's data. */
typedef bool (*fsm_guard_fn)(const struct fsm *, const void *data);
/* An action returns 0 or -1 with err filled. */
typedef int (*fsm_action_fn)(struct fsm *, const void *data, struct err *);

struct fsm_row {
	int		 from;
	int		 event;
	fsm_guard_fn	 guard;
	const char	*guard_name;
	fsm_action_fn	 action;
	const char	*action_name;
	int		 to;
};

/* A row; guard and action may be NULL. Names come from the identifiers. */
#define FSM_ROW(from, ev, guard, action, to)				\
	{ (from), (ev), (guard), #guard, (action), #action, (to) }

struct fsm_def {
	const char		 *name;
	unsigned		  version;	/* bump when rows change */
	const char *const	 *state_names;
	int			  nstates;
	const char *const	 *event_names;
	int			  nevents;
	const struct fsm_row	 *rows;
	int			  nrows;
	int			  initial;
	int			  fail_event;	/* posted when an action fails */
	int			  timeout_event; /* every waiting state has it */
	uint64_t		  terminal;	/* FSM_BIT() mask */
	uint64_t		  waiting;	/* states that wait on a peer */
};

/*
 * Register a table so that tools built from the real objects
 * (kiln-fsmcheck, kiln-trace, make docs) find every machine in the binary.
 */
#define FSM_REGISTER(def)						\
	static const struct fsm_def *const fsm_reg_##def		\
	    __attribute__((used, section("kiln_fsm_defs"))) = &(def)

/* Every table linked into this binary; *n receives the count. */
const struct fsm_def *const *fsm_registry(size_t *n);
const struct fsm_def *fsm_registry_find(const char *name);

enum fsm_result {
	FSM_RES_OK,		/* a row matched and its action succeeded */
	FSM_RES_REJECTED,	/* no row for (state, event) */
	FSM_RES_GUARDED,	/* rows exist but every guard said no */
	FSM_RES_FAILED,		/* the action failed; state unchanged */
};
const char *fsm_result_name(enum fsm_result);

#define FSM_ID_MAX	64
#define FSM_GUARDS_MAX	128
#define FSM_DETAIL_MAX	200

/* One dispatch, as traced. */
struct fsm_trace_rec {
	uint64_t		 ts_ns;		/* CLOCK_MONOTONIC at dispatch */
	uint64_t		 elapsed_ns;	/* time spent in the dispatch */
	const struct fsm_def	*def;		/* borrowed, static */
	char			 id[FSM_ID_MAX];
	uint64_t		 seq;
	int			 from;
	int			 event;
	int			 to;
	int			 row;		/* matched row index or -1 */
	enum fsm_result		 result;
	char			 guards[FSM_GUARDS_MAX]; /* "g=1,h=0" */
	char			 detail[FSM_DETAIL_MAX];
};

#define FSM_RING_LEN	16

/* An instance; owners embed it. Fields are read-only outside fsm/. */
struct fsm {
	const struct fsm_def	*def;
	struct fsm_env		*env;		/* borrowed */
	void			*ctx;		/* borrowed: the owner */
	int			 state;
	char			 id[FSM_ID_MAX];
	uint64_t		 seq;
	uint64_t		 rejected;
	/* This instance's last transitions, oldest first from ring_pos. */
	struct fsm_trace_rec	 ring[FSM_RING_LEN];
	unsigned		 ring_pos;
	unsigned		 ring_len;
};

/*
 * The environment shared by the machines of one process: the run queue of
 * posted events and the trace sinks. Returns a new env; never fails.
 */
struct fsm_env	*fsm_env_new(void);
/* Frees env and its queue; instances must be fini'd first. */
void		 fsm_env_free(struct fsm_env *);
/* Append every record as JSON Lines to path (O_APPEND). */
int		 fsm_env_trace_file(struct fsm_env *, const char *path,
		    struct err *);
/* Call fn for each record (e.g. to log it); arg is borrowed. */
typedef void	(*fsm_trace_hook)(const struct fsm_trace_rec *, void *arg);
void		 fsm_env_set_hook(struct fsm_env *, fsm_trace_hook, void *);
/* Process-wide ring: the k-th newest record (0 = last) or NULL. */
const struct fsm_trace_rec *fsm_env_last(const struct fsm_env *, unsigned k);
/* Counters over the env's life. */
uint64_t	 fsm_env_dispatched(const struct fsm_env *);
uint64_t	 fsm_env_rejected(const struct fsm_env *);

/* Start an instance in def->initial. id is copied; ctx is borrowed. */
void		 fsm_init(struct fsm *, const struct fsm_def *,
		    struct fsm_env *, const char *id, void *ctx);
/* Drop events still queued for this instance. */
void		 fsm_fini(struct fsm *);

/*
 * Dispatch event now. Returns 0, or -1 with err->code ERR_UNHANDLED,
 * ERR_GUARD or the action's code. data is borrowed for the call. Events
 * posted meanwhile drain before it returns; their outcomes are traced, not
 * returned. Called while another dispatch runs (from inside an action,
 * directly or through a module), it queues the event like fsm_post() and
 * returns 0; as it knows no payload size to copy, it then refuses data
 * other than NULL (-1, EINVAL, logged and counted as rejected): use
 * fsm_send() with the size where a nested call may carry data.
 */
int		 fsm_dispatch(struct fsm *, int event, const void *data,
		    struct err *);
/*
 * For callbacks that may run inside or outside a dispatch: dispatch now
 * when none is running (returning its result), else post a copy of len
 * bytes of data (returning 0). Inside a dispatch, data without a length
 * is refused as by fsm_dispatch().
 */
int		 fsm_send(struct fsm *, int event, const void *data,
		    size_t len, struct err *);
/* Queue event with a copy of len bytes of data (data != NULL needs
 * len > 0, else fatalx); drains at once when no dispatch is running. */
void		 fsm_post(struct fsm *, int event, const void *data,
		    size_t len);
/* Attach a short detail string to the record of the running dispatch. */
void		 fsm_detail(struct fsm *, const char *fmt, ...)
		    PRINTF_LIKE(2, 3);

bool		 fsm_is_terminal(const struct fsm *);
const char	*fsm_state_name(const struct fsm_def *, int state);
const char	*fsm_event_name(const struct fsm_def *, int event);
int		 fsm_state_by_name(const struct fsm_def *, const char *);
int		 fsm_event_by_name(const struct fsm_def *, const char *);

/* Format rec as one JSON line (no newline) into out. */
void		 fsm_trace_json(const struct fsm_trace_rec *, char *out,
		    size_t len);

/*
 * Static checks of a table (docs/fsm.md): ids in range, no row shadowed by
 * an earlier unguarded one, every state reachable, every non-terminal
 * state has a way out, a failure row wherever a fallible action runs, a
 * timeout row in every waiting state. Returns 0 or -1 with the first
 * problem in err.
 */
int		 fsm_check(const struct fsm_def *, struct err *);
/* Write the table as a Graphviz digraph. */
void		 fsm_dot(const struct fsm_def *, FILE *);
/* Every row as an edge (ANY rows from each state they cover). */
void		 fsm_dot_full(const struct fsm_def *, FILE *);

/*
 * Pure lookup used by dispatch and by trace replay: the index of the row
 * that (state, event) selects when guard k evaluates to outcome(k).
 * outcome is called for guarded rows only, in table order.
 */
typedef bool	(*fsm_guard_oracle)(const struct fsm_row *, void *arg);
int		 fsm_select(const struct fsm_def *, int state, int event,
		    fsm_guard_oracle, void *arg, char *guards, size_t glen);
/* The state after row r fires in state s. */
int		 fsm_row_target(const struct fsm_row *, int state);

/*
 * Exploration with guards and action outcomes as free choices
 * (fsm_explore.c). fsm_each_choice calls fn for every row (state, event)
 * can select; fsm_explore walks every reachable state checking
 * TerminalIsFinal, NoDeadEnd and WaitingStatesTimeout.
 */
struct fsm_explore_stats {
	uint64_t	states;
	uint64_t	transitions;
};
void		 fsm_each_choice(const struct fsm_def *, int state, int event,
		    void (*fn)(const struct fsm_row *, int row, void *),
		    void *arg);
bool		 fsm_has_choice(const struct fsm_def *, int state, int event);
int		 fsm_explore(const struct fsm_def *, struct fsm_explore_stats *,
		    struct err *);

/*
 * Promela for SPIN (fsm_promela.c). fsm_promela writes one table with its
 * open world (an environment sending any event over a bounded channel, a
 * timer armed in waiting states) and the claim "every waiting state is
 * left"; the fsm_explore checks become assertions. The parts are public
 * for compositions of several machines: each machine's ids, state and
 * P_dispatch(e)/P_drain() inlines under the name prefix P. opts may say
 * which actions can fail (NULL: every one), add Promela after a row
 * fires (its effects on the rest of a composition) and turn guards into
 * conditions. Every dispatch prints
 * "KILN <machine> from event to result row" for fsm_promela_trail.
 */
struct fsm_promela_opts {
	bool	(*fallible)(const struct fsm_row *, void *arg);
	void	(*effects)(const struct fsm_def *, const struct fsm_row *,
		    FILE *, void *arg);
	/*
	 * A guarded row's guard as a Promela condition over the
	 * composition's variables, or NULL: a free choice (as is every
	 * guard without this hook). The string need only last the call.
	 */
	const char *(*guard)(const struct fsm_def *, const struct fsm_row *,
		    void *arg);
	void	 *arg;		/* borrowed, for all three */
};
void		 fsm_promela(const struct fsm_def *, FILE *);
void		 fsm_promela_prelude(FILE *);
void		 fsm_promela_ids(const struct fsm_def *, const char *prefix,
		    FILE *);
void		 fsm_promela_machine(const struct fsm_def *, const char *prefix,
		    const struct fsm_promela_opts *, FILE *);
void		 fsm_promela_ltl_left(const struct fsm_def *,
		    const char *prefix, const char *name, FILE *);
/*
 * Translate SPIN's replay of a trail (`spin -T -t model.pml`, read from
 * in) into trace JSON lines (docs/trace-format.md) on out: one record per
 * KILN line, machines looked up in the registry; steps after SPIN's
 * "START OF CYCLE" carry detail "cycle". Returns the number of records,
 * or -1 with err set on a line naming an unknown machine or id.
 */
int		 fsm_promela_trail(FILE *in, FILE *out, struct err *);

/*
 * The table as the TLA+ module <Name>Rows (fsm_tla.c): States, Events,
 * Waiting, Terminal, Initial, FailEvent, TimeoutEvent, Actions and Guards
 * (the names used), Rows in table order and HasRow, with the engine's rules
 * over them (Match, CanSelect, Select, Target, PostsFail) and
 * WaitingStatesTimeout. fsm_tla_module_name writes the module name to out
 * (len bytes).
 */
void		 fsm_tla(const struct fsm_def *, FILE *);
void		 fsm_tla_module_name(const struct fsm_def *, char *out,
		    size_t len);

#endif

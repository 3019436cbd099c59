/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fsm engine: accepted, rejected, guarded and failed transitions,
 * run-to-completion posting, trace records and JSON lines, dot output and
 * the table checker catching broken tables.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fsm/fsm.h"
#include "tests/fsm_door.h"
#include "tests/tap.h"

/* One scripted run: events in, expected state after each. */
struct door_script {
	const char	*name;
	bool		 has_key;
	int		 events[8];
	int		 states[8];
	int		 n;
};

static const struct door_script door_scripts[] = {
	{ "open, opened, close", false,
	  { DOOR_EV_OPEN, DOOR_EV_OPENED, DOOR_EV_CLOSE },
	  { DOOR_ST_OPENING, DOOR_ST_OPEN, DOOR_ST_CLOSED }, 3 },
	{ "lock with key, open ignored on purpose, unlock", true,
	  { DOOR_EV_LOCK, DOOR_EV_OPEN, DOOR_EV_UNLOCK },
	  { DOOR_ST_LOCKED, DOOR_ST_LOCKED, DOOR_ST_CLOSED }, 3 },
	{ "opening times out, back to closed", false,
	  { DOOR_EV_OPEN, DOOR_EV_TIMEOUT },
	  { DOOR_ST_OPENING, DOOR_ST_CLOSED }, 2 },
	{ "smash from any state is terminal", true,
	  { DOOR_EV_LOCK, DOOR_EV_SMASH },
	  { DOOR_ST_LOCKED, DOOR_ST_BROKEN }, 2 },
};

static void
test_scripts(struct fsm_env *env)
{
	size_t i;
	int k;

	for (i = 0; i < ARRAY_SIZE(door_scripts); i++) {
		const struct door_script *sc = &door_scripts[i];
		struct door d = { .has_key = sc->has_key };
		struct err err = { 0 };
		bool good = true;

		fsm_init(&d.fsm, &door_fsm_def, env, "d1", &d);
		for (k = 0; k < sc->n; k++) {
			if (fsm_dispatch(&d.fsm, sc->events[k], NULL,
			    &err) < 0 || d.fsm.state != sc->states[k]) {
				diag("step %d: state %s", k, fsm_state_name(
				    &door_fsm_def, d.fsm.state));
				good = false;
			}
		}
		ok(good, "fsm: script '%s' visits the expected states",
		    sc->name);
		fsm_fini(&d.fsm);
	}
}

static void
test_rejected(struct fsm_env *env)
{
	struct door d = { .has_key = true };
	const struct fsm_trace_rec *rec;
	uint64_t before = fsm_env_rejected(env);
	struct err err = { 0 };
	int ret;

	fsm_init(&d.fsm, &door_fsm_def, env, "rej", &d);
	fsm_dispatch(&d.fsm, DOOR_EV_LOCK, NULL, &err);
	ret = fsm_dispatch(&d.fsm, DOOR_EV_CLOSE, NULL, &err);
	is_int(ret, -1, "fsm: event with no row is rejected");
	is_int(err.code, ERR_UNHANDLED, "fsm: rejection code is "
	    "ERR_UNHANDLED");
	ok(strstr(err.msg, "CLOSE not allowed in state LOCKED") != NULL,
	    "fsm: rejection message names event and state (%s)", err.msg);
	is_int(d.fsm.state, DOOR_ST_LOCKED, "fsm: rejected event keeps the "
	    "state");
	is_int(d.fsm.rejected, 1, "fsm: rejection counted on the machine");
	is_int(fsm_env_rejected(env) - before, 1, "fsm: rejection counted "
	    "in the env");
	rec = fsm_env_last(env, 0);
	ok(rec != NULL && rec->result == FSM_RES_REJECTED &&
	    rec->event == DOOR_EV_CLOSE && rec->from == DOOR_ST_LOCKED &&
	    rec->to == DOOR_ST_LOCKED && rec->row == -1,
	    "fsm: rejection is traced");
	fsm_fini(&d.fsm);
}

static void
test_guarded(struct fsm_env *env)
{
	struct door d = { .has_key = false };
	const struct fsm_trace_rec *rec;
	struct err err = { 0 };

	fsm_init(&d.fsm, &door_fsm_def, env, "grd", &d);
	is_int(fsm_dispatch(&d.fsm, DOOR_EV_LOCK, NULL, &err), -1,
	    "fsm: guard false refuses the transition");
	is_int(err.code, ERR_GUARD, "fsm: guard refusal code is ERR_GUARD");
	rec = fsm_env_last(env, 0);
	is_str(rec->guards, "door_guard_has_key=0", "fsm: guard outcome "
	    "recorded in the trace");
	d.has_key = true;
	is_int(fsm_dispatch(&d.fsm, DOOR_EV_LOCK, NULL, &err), 0,
	    "fsm: guard true lets it through");
	is_str(fsm_env_last(env, 0)->guards, "door_guard_has_key=1",
	    "fsm: passing guard recorded");
	fsm_fini(&d.fsm);
}

static void
test_failed_action(struct fsm_env *env)
{
	struct door d = { .motor_broken = true };
	const struct fsm_trace_rec *fail, *alarm;
	struct err err = { 0 };

	fsm_init(&d.fsm, &door_fsm_def, env, "fail", &d);
	is_int(fsm_dispatch(&d.fsm, DOOR_EV_OPEN, NULL, &err), -1,
	    "fsm: failing action makes dispatch fail");
	is_str(err.msg, "motor does not start", "fsm: action's error "
	    "returned");
	is_int(d.fsm.state, DOOR_ST_CLOSED, "fsm: failed action keeps the "
	    "state");
	is_int(d.alarms, 1, "fsm: failure event posted and handled");
	fail = fsm_env_last(env, 1);
	alarm = fsm_env_last(env, 0);
	ok(fail->result == FSM_RES_FAILED && strcmp(fail->detail,
	    "motor does not start") == 0, "fsm: failure traced with the "
	    "error as detail");
	ok(alarm->event == DOOR_EV_FAIL && alarm->seq == fail->seq + 1,
	    "fsm: failure event traced right after");
	fsm_fini(&d.fsm);
}

static void
test_post_order(struct fsm_env *env)
{
	struct door d = { .auto_open = true };
	const struct fsm_trace_rec *a, *b;
	struct err err = { 0 };

	fsm_init(&d.fsm, &door_fsm_def, env, "post", &d);
	is_int(fsm_dispatch(&d.fsm, DOOR_EV_OPEN, NULL, &err), 0,
	    "fsm: dispatch with a posting action succeeds");
	is_int(d.fsm.state, DOOR_ST_OPEN, "fsm: posted event drained before "
	    "dispatch returned");
	a = fsm_env_last(env, 1);
	b = fsm_env_last(env, 0);
	ok(a->event == DOOR_EV_OPEN && a->to == DOOR_ST_OPENING &&
	    b->event == DOOR_EV_OPENED && b->to == DOOR_ST_OPEN,
	    "fsm: run-to-completion: the posting transition completes first");
	is_str(a->detail, "motor_starts=1", "fsm: action detail in trace");
	fsm_fini(&d.fsm);

	/* An event posted to a machine that finishes is dropped. */
	fsm_init(&d.fsm, &door_fsm_def, env, "gone", &d);
	fsm_fini(&d.fsm);
	ok(d.fsm.env == NULL, "fsm: fini detaches the machine");
}

/*
 * The relay: a two-state machine whose action takes a payload and, while
 * it runs, hands the same payload on to another relay the way a module
 * would (nested dispatch or send). Used to show a nested payload arrives
 * whole or not at all.
 */
#define RELAY_STATES(X, P) X(P, IDLE) X(P, GOT)
#define RELAY_EVENTS(X, P) X(P, MSG) X(P, RESET) X(P, FAIL)

enum relay_state { RELAY_STATES(FSM_X_ENUM, RELAY_ST_) RELAY_ST__COUNT };
enum relay_event { RELAY_EVENTS(FSM_X_ENUM, RELAY_EV_) RELAY_EV__COUNT };

static const char *const relay_state_names[] = {
	RELAY_STATES(FSM_X_NAME, RELAY_ST_)
};
static const char *const relay_event_names[] = {
	RELAY_EVENTS(FSM_X_NAME, RELAY_EV_)
};

/* Big enough that a 1-byte copy read as one is an overflow. */
struct relay_msg {
	int	v[32];
};

enum relay_how { RELAY_DISPATCH, RELAY_SEND, RELAY_SEND_NOLEN };

struct relay {
	struct fsm	 fsm;
	struct relay	*next;		/* borrowed: forward to it */
	enum relay_how	 how;
	struct relay_msg got;
	bool		 got_data;
	int		 fwd_ret;
	struct err	 fwd_err;
};

static int
relay_act_take(struct fsm *m, const void *data, struct err *err)
{
	struct relay *r = m->ctx;
	const struct relay_msg *msg = data;

	(void)err;
	r->got_data = msg != NULL;
	if (msg != NULL)
		r->got = *msg;
	if (r->next == NULL)
		return 0;
	switch (r->how) {
	case RELAY_DISPATCH:
		r->fwd_ret = fsm_dispatch(&r->next->fsm, RELAY_EV_MSG, data,
		    &r->fwd_err);
		break;
	case RELAY_SEND:
		r->fwd_ret = fsm_send(&r->next->fsm, RELAY_EV_MSG, data,
		    data != NULL ? sizeof *msg : 0, &r->fwd_err);
		break;
	case RELAY_SEND_NOLEN:
		r->fwd_ret = fsm_send(&r->next->fsm, RELAY_EV_MSG, data, 0,
		    &r->fwd_err);
		break;
	}
	return 0;
}

static const struct fsm_row relay_fsm_rows[] = {
	FSM_ROW(RELAY_ST_IDLE, RELAY_EV_MSG, NULL, relay_act_take,
	    RELAY_ST_GOT),
	FSM_ROW(RELAY_ST_GOT, RELAY_EV_MSG, NULL, relay_act_take, FSM_SAME),
	FSM_ROW(RELAY_ST_GOT, RELAY_EV_RESET, NULL, NULL, RELAY_ST_IDLE),
	FSM_ROW(FSM_ANY, RELAY_EV_FAIL, NULL, NULL, FSM_SAME),
};

static const struct fsm_def relay_fsm_def = {
	.name = "relay",
	.version = 1,
	.state_names = relay_state_names,
	.nstates = RELAY_ST__COUNT,
	.event_names = relay_event_names,
	.nevents = RELAY_EV__COUNT,
	.rows = relay_fsm_rows,
	.nrows = (int)ARRAY_SIZE(relay_fsm_rows),
	.initial = RELAY_ST_IDLE,
	.fail_event = RELAY_EV_FAIL,
	.timeout_event = FSM_NONE,
	.terminal = 0,
	.waiting = 0,
};

/* a takes msg (or NULL) and hands it on to b as how says. */
static void
relay_run(struct fsm_env *env, struct relay *a, struct relay *b,
    enum relay_how how, const struct relay_msg *msg)
{
	struct err err = { 0 };

	memset(a, 0, sizeof *a);
	memset(b, 0, sizeof *b);
	fsm_init(&a->fsm, &relay_fsm_def, env, "a", a);
	fsm_init(&b->fsm, &relay_fsm_def, env, "b", b);
	a->next = b;
	a->how = how;
	a->fwd_ret = 99;
	if (fsm_dispatch(&a->fsm, RELAY_EV_MSG, msg, &err) < 0)
		diag("outer dispatch: %s", err.msg);
	fsm_fini(&a->fsm);
	fsm_fini(&b->fsm);
}

static void
test_nested_data(struct fsm_env *env)
{
	struct relay_msg msg;
	struct relay a, b;
	struct err err = { 0 };
	uint64_t before;
	int i;

	for (i = 0; i < 32; i++)
		msg.v[i] = 1000 + i;
	ok(fsm_check(&relay_fsm_def, &err) == 0, "fsm: the relay table "
	    "passes fsm_check %s", err.msg);
	before = fsm_env_rejected(env);
	relay_run(env, &a, &b, RELAY_DISPATCH, &msg);
	ok(a.fwd_ret == -1 && a.fwd_err.code == EINVAL &&
	    strstr(a.fwd_err.msg, "without its length") != NULL,
	    "fsm: nested dispatch with data is refused (%s)", a.fwd_err.msg);
	ok(b.fsm.state == RELAY_ST_IDLE && !b.got_data &&
	    fsm_env_rejected(env) == before + 1, "fsm: the refused event "
	    "never reaches the target and is counted");
	relay_run(env, &a, &b, RELAY_SEND_NOLEN, &msg);
	ok(a.fwd_ret == -1 && a.fwd_err.code == EINVAL && !b.got_data,
	    "fsm: nested send with data and length 0 is refused");
	relay_run(env, &a, &b, RELAY_SEND, &msg);
	ok(a.fwd_ret == 0 && b.fsm.state == RELAY_ST_GOT && b.got_data &&
	    memcmp(&b.got, &msg, sizeof msg) == 0, "fsm: nested send with "
	    "the length delivers the whole payload after the outer dispatch");
	relay_run(env, &a, &b, RELAY_DISPATCH, NULL);
	ok(a.fwd_ret == 0 && b.fsm.state == RELAY_ST_GOT && !b.got_data,
	    "fsm: nested dispatch without data is queued and runs");
}

static void
test_trace_file(struct fsm_env *env)
{
	char path[] = "/tmp/kiln-t_fsm-XXXXXX", line[1024];
	struct door d = { 0 };
	struct err err = { 0 };
	FILE *f;
	int fd, lines = 0;

	fd = mkstemp(path);
	close(fd);
	ok(fsm_env_trace_file(env, path, &err) == 0, "fsm: trace file "
	    "opened");
	fsm_init(&d.fsm, &door_fsm_def, env, "json\"id", &d);
	fsm_dispatch(&d.fsm, DOOR_EV_OPEN, NULL, &err);
	fsm_dispatch(&d.fsm, DOOR_EV_LOCK, NULL, &err);
	fsm_fini(&d.fsm);
	f = fopen(path, "r");
	while (f != NULL && fgets(line, sizeof line, f) != NULL) {
		lines++;
		if (lines == 1)
			ok(strstr(line, "\"machine\":\"door\",\"version\":1,"
			    "\"id\":\"json\\\"id\",\"seq\":1,\"from\":"
			    "\"CLOSED\",\"event\":\"OPEN\",\"to\":\"OPENING\","
			    "\"result\":\"ok\",\"row\":0,\"action\":"
			    "\"door_act_start_motor\"") != NULL,
			    "fsm: JSON line has the transition, escaped id");
		if (lines == 2)
			ok(strstr(line, "\"result\":\"rejected\"") != NULL,
			    "fsm: JSON line of a rejection");
	}
	if (f != NULL)
		fclose(f);
	is_int(lines, 2, "fsm: one JSON line per dispatch");
	unlink(path);
}

static void
test_dot(void)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	fsm_dot(&door_fsm_def, f);
	fclose(f);
	ok(strstr(out, "digraph \"door\"") != NULL, "fsm: dot has a digraph");
	ok(strstr(out, "\"CLOSED\" -> \"OPENING\" [label=\"OPEN\\n/ "
	    "door_act_start_motor\"") != NULL, "fsm: dot has an edge with "
	    "event and action");
	ok(strstr(out, "[door_guard_has_key]") != NULL, "fsm: dot shows "
	    "guards");
	/* LOCKED --OPEN--> itself with nothing to do: inside the state. */
	ok(strstr(out, "\"LOCKED\" -> \"LOCKED\"") == NULL &&
	    strstr(out, "<b>LOCKED</b><br/><font point-size=\"8\" "
	    "color=\"gray40\">ignores OPEN</font>") != NULL, "fsm: dot lists "
	    "ignored events inside the state, not as loops");
	ok(strstr(out, "\"(any state)\" -> \"BROKEN\" [label=\"SMASH") !=
	    NULL && strstr(out, "\"OPEN\" -> \"BROKEN\"") == NULL,
	    "fsm: dot draws an ANY row once");
	ok(strstr(out, "\"OPENING\" -> \"CLOSED\" [label=\"TIMEOUT\\n/ "
	    "door_act_alarm\", color=darkorange") != NULL, "fsm: dot draws a "
	    "timeout in its own style");
	free(out);
	out = NULL;
	f = open_memstream(&out, &len);
	fsm_dot_full(&door_fsm_def, f);
	fclose(f);
	ok(strstr(out, "\"LOCKED\" -> \"LOCKED\" [label=\"OPEN\"]") != NULL &&
	    strstr(out, "\"OPEN\" -> \"BROKEN\"") != NULL,
	    "fsm: the full dot has every row, ANY rows from each state");
	free(out);
}

/* A broken copy of the door table, one defect at a time. */
static int
check_broken(const struct fsm_row *rows, int nrows, uint64_t waiting,
    struct err *err)
{
	struct fsm_def def = door_fsm_def;

	def.rows = rows;
	def.nrows = nrows;
	def.waiting = waiting;
	return fsm_check(&def, err);
}

#define BROKEN(name, want, waiting, ...) do {				\
	const struct fsm_row rows[] = { __VA_ARGS__ };			\
	struct err e;							\
	ok(check_broken(rows, (int)ARRAY_SIZE(rows), (waiting), &e) < 0 \
	    && strstr(e.msg, (want)) != NULL,				\
	    "fsm_check catches %s (%s)", (name), e.msg);		\
} while (0)

static void
test_check(void)
{
	struct err err = { 0 };

	ok(fsm_check(&door_fsm_def, &err) == 0, "fsm_check: door table is "
	    "valid");
	BROKEN("a shadowed row", "shadowed", 0,
	    FSM_ROW(DOOR_ST_CLOSED, DOOR_EV_OPEN, NULL, NULL, DOOR_ST_OPEN),
	    FSM_ROW(DOOR_ST_CLOSED, DOOR_EV_OPEN, NULL, NULL, DOOR_ST_LOCKED));
	BROKEN("an unreachable state", "unreachable", 0,
	    FSM_ROW(DOOR_ST_CLOSED, DOOR_EV_OPEN, NULL, NULL, DOOR_ST_OPEN),
	    FSM_ROW(DOOR_ST_OPEN, DOOR_EV_CLOSE, NULL, NULL, DOOR_ST_CLOSED),
	    FSM_ROW(DOOR_ST_OPEN, DOOR_EV_SMASH, NULL, NULL, DOOR_ST_BROKEN));
	BROKEN("a dead end", "no way out", 0,
	    FSM_ROW(DOOR_ST_CLOSED, DOOR_EV_OPEN, NULL, NULL, DOOR_ST_OPEN),
	    FSM_ROW(FSM_ANY, DOOR_EV_LOCK, NULL, NULL, DOOR_ST_LOCKED),
	    FSM_ROW(DOOR_ST_CLOSED, DOOR_EV_SMASH, NULL, NULL,
	    DOOR_ST_BROKEN),
	    FSM_ROW(DOOR_ST_CLOSED, DOOR_EV_TIMEOUT, NULL, NULL,
	    DOOR_ST_OPENING));
	BROKEN("an action without a failure row", "no FAIL row", 0,
	    FSM_ROW(DOOR_ST_CLOSED, DOOR_EV_OPEN, NULL, door_fsm_def.rows[0]
	    .action, DOOR_ST_OPENING),
	    FSM_ROW(FSM_ANY, DOOR_EV_SMASH, NULL, NULL, DOOR_ST_BROKEN),
	    FSM_ROW(DOOR_ST_OPENING, DOOR_EV_TIMEOUT, NULL, NULL,
	    DOOR_ST_OPEN),
	    FSM_ROW(DOOR_ST_OPEN, DOOR_EV_LOCK, NULL, NULL, DOOR_ST_LOCKED),
	    FSM_ROW(DOOR_ST_LOCKED, DOOR_EV_UNLOCK, NULL, NULL,
	    DOOR_ST_CLOSED));
	BROKEN("a waiting state without timeout", "no timeout row",
	    FSM_BIT(DOOR_ST_OPEN),
	    FSM_ROW(DOOR_ST_CLOSED, DOOR_EV_OPEN, NULL, NULL, DOOR_ST_OPEN),
	    FSM_ROW(DOOR_ST_CLOSED, DOOR_EV_TIMEOUT, NULL, NULL,
	    DOOR_ST_OPENING),
	    FSM_ROW(FSM_ANY, DOOR_EV_LOCK, NULL, NULL, DOOR_ST_LOCKED),
	    FSM_ROW(FSM_ANY, DOOR_EV_SMASH, NULL, NULL, DOOR_ST_BROKEN));
	BROKEN("an out-of-range target", "out of range", 0,
	    FSM_ROW(DOOR_ST_CLOSED, DOOR_EV_OPEN, NULL, NULL, 42));
}

int
main(void)
{
	struct fsm_env *env = fsm_env_new();
	size_t n;

	log_init("t_fsm", LOG_LVL_ERROR, 2);
	test_scripts(env);
	test_rejected(env);
	test_guarded(env);
	test_failed_action(env);
	test_post_order(env);
	test_nested_data(env);
	test_trace_file(env);
	test_dot();
	test_check();
	fsm_registry(&n);
	ok(n >= 1 && fsm_registry_find("door") == &door_fsm_def,
	    "fsm: registry finds the door table");
	fsm_env_free(env);
	return tap_done();
}

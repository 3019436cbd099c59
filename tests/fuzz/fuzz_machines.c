/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the FSM engine over every table linked into the binary
 * (fsm_registry(): the library's machines, the agent's and the shim's).
 * Real actions need live objects, so each table gets a shadow fsm_def at
 * start-up: the same rows (from, event, to, names) with every guard
 * replaced by fz_guard() and every action by fz_act(), stubs whose
 * outcome the input decides.
 *
 * The input is a tape. It starts with a table's registered name and a NUL
 * (seeds name their table, so they keep driving it whatever is added to
 * the registry; tests/fuzz/mkseeds_machines.py writes them from
 * `kiln-fsm list`), or else its first byte picks the table (sorted by
 * name, modulo their count). Then, until the tape runs out, one byte is an
 * event to fsm_dispatch(), and the stubs read theirs as they are called: a
 * guard one byte (bit 0: holds), an action one byte (5, 7: fail; 6, 7:
 * fsm_post() the event in the next byte, at most FZ_POSTS per dispatch,
 * with a payload: a length byte (mod FZ_PAYLOAD + 1) and that many bytes).
 * Past the end every byte reads 0: guards fail, actions succeed.
 *
 * A payload travels as [n, bytes..., sum]: every stub that receives data
 * checks it against its own length and sum, so a copy of the wrong length
 * by the engine is a read out of bounds (ASan) or a bad sum (abort).
 *
 * A reference model (fz_model_dispatch) computes, from the same tape, the
 * records a dispatch must trace (first unguarded or holding row, FIFO run
 * queue, failure event after a failed action); they are compared with the
 * env's ring (fsm_env_last). On top of that, after each step: the state is
 * in range; a rejected or guarded event and a failed action leave the
 * state alone; a failed action is followed by the failure event; a
 * terminal state with no way out is never left; fsm_check() accepts the
 * original table (not the shadow: its guards are all one function, which
 * the checker would take for rows shadowing each other).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fsm/fsm.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FZ_POSTS	8	/* fsm_post()s by actions per dispatch */
#define FZ_RECS		64	/* records one dispatch may trace, at most */
#define FZ_PAYLOAD	15	/* bytes of one posted payload, at most */

/* An invariant broke: report it and crash, so the fuzzer keeps the input. */
#define FZ_ASSERT(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: invariant failed: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

/* One table: the original and its shadow with stubbed rows. */
struct fz_table {
	const struct fsm_def	*orig;		/* borrowed, static */
	struct fsm_def		 shadow;
	struct fsm_row		*rows;		/* shadow.rows */
	uint64_t		 sealed;	/* terminal, no row leaves */
};

/* A trace record as the model predicts it. */
struct fz_rec {
	int		 from;
	int		 event;
	int		 to;
	int		 row;
	enum fsm_result	 result;
};

/* What an action stub does with its byte. */
struct fz_act_out {
	bool	fail;
	int	post;		/* event to post, or -1 */
	size_t	len;		/* its payload's size, 0: none */
	uint8_t	payload[FZ_PAYLOAD + 2];
};

static struct fsm_env	*fz_env;
static struct fz_table	*fz_tables;
static size_t		 fz_ntables;

/* The tape of the running input, and the stubs' read position. */
static const uint8_t	*fz_tape;
static size_t		 fz_len;
static size_t		 fz_pos;
static int		 fz_posts_left;

/* The byte at *pos (0 past the end); advances *pos. */
static uint8_t
fz_take(size_t *pos)
{
	uint8_t b = 0;

	if (*pos < fz_len)
		b = fz_tape[*pos];
	(*pos)++;
	return b;
}

/* Decode an action's bytes; shared by the stub and the model. */
static struct fz_act_out
fz_act_decide(size_t *pos, int nevents, int *posts_left)
{
	struct fz_act_out o = { .fail = false, .post = -1 };
	uint8_t b = fz_take(pos), n, sum = 0, i;

	if ((b & 6) == 6 && *posts_left > 0) {
		(*posts_left)--;
		o.post = fz_take(pos) % nevents;
		n = fz_take(pos) % (FZ_PAYLOAD + 1);
		if (n > 0) {
			o.payload[0] = n;
			for (i = 1; i <= n; i++)
				sum += o.payload[i] = fz_take(pos);
			o.payload[n + 1] = sum;
			o.len = (size_t)n + 2;
		}
	}
	o.fail = (b & 5) == 5;
	return o;
}

/* A payload the engine handed over is the one posted, byte for byte. */
static void
fz_payload_check(const void *data)
{
	const uint8_t *p = data;
	uint8_t sum = 0, i;

	if (p == NULL)
		return;
	FZ_ASSERT(p[0] > 0 && p[0] <= FZ_PAYLOAD);
	for (i = 1; i <= p[0]; i++)
		sum += p[i];
	FZ_ASSERT(p[p[0] + 1] == sum);
}

static bool
fz_guard(const struct fsm *m, const void *data)
{
	(void)m;
	fz_payload_check(data);
	return (fz_take(&fz_pos) & 1) != 0;
}

static int
fz_act(struct fsm *m, const void *data, struct err *err)
{
	struct fz_act_out o;

	fz_payload_check(data);
	o = fz_act_decide(&fz_pos, m->def->nevents, &fz_posts_left);
	if (o.post >= 0)
		fsm_post(m, o.post, o.len > 0 ? o.payload : NULL, o.len);
	if (o.fail)
		return err_set(err, EIO, "fuzz: action failed");
	return 0;
}

/* Does any row of def take state s elsewhere? */
static bool
fz_can_leave(const struct fsm_def *def, int s)
{
	int i;

	for (i = 0; i < def->nrows; i++) {
		const struct fsm_row *r = &def->rows[i];

		if ((r->from == FSM_ANY || r->from == s) &&
		    fsm_row_target(r, s) != s)
			return true;
	}
	return false;
}

static void
fz_teardown(void)
{
	size_t i;

	for (i = 0; i < fz_ntables; i++)
		free(fz_tables[i].rows);
	free(fz_tables);
	fsm_env_free(fz_env);
}

static int
fz_by_name(const void *a, const void *b)
{
	const struct fz_table *ta = a, *tb = b;

	return strcmp(ta->orig->name, tb->orig->name);
}

static void
fz_setup(void)
{
	const struct fsm_def *const *defs;
	struct fz_table *t;
	struct err err;
	size_t i, n;
	int j, s;

	if (fz_env != NULL)
		return;
	atexit(fz_teardown);
	log_init("fuzz", LOG_LVL_ERROR, -1);
	fz_env = fsm_env_new();
	defs = fsm_registry(&n);
	/* The agent's, the task's and the VM's tables must be linked in. */
	FZ_ASSERT(fsm_registry_find("agent_process") != NULL);
	FZ_ASSERT(fsm_registry_find("agent_container") != NULL);
	FZ_ASSERT(fsm_registry_find("task") != NULL);
	FZ_ASSERT(fsm_registry_find("vm") != NULL);
	fz_tables = xcalloc(n, sizeof *fz_tables);
	fz_ntables = n;
	for (i = 0; i < n; i++) {
		t = &fz_tables[i];
		t->orig = defs[i];
		FZ_ASSERT(fsm_check(t->orig, &err) == 0);
		t->shadow = *t->orig;
		t->rows = xcalloc((size_t)t->orig->nrows, sizeof *t->rows);
		for (j = 0; j < t->orig->nrows; j++) {
			t->rows[j] = t->orig->rows[j];
			if (t->rows[j].guard != NULL)
				t->rows[j].guard = fz_guard;
			if (t->rows[j].action != NULL)
				t->rows[j].action = fz_act;
		}
		t->shadow.rows = t->rows;
		for (s = 0; s < t->orig->nstates; s++)
			if ((t->orig->terminal & FSM_BIT(s)) != 0 &&
			    !fz_can_leave(t->orig, s))
				t->sealed |= FSM_BIT(s);
	}
	qsort(fz_tables, n, sizeof *fz_tables, fz_by_name);
}

/*
 * The reference: the records dispatching event in *state must trace,
 * reading the tape from *pos as the stubs do. Returns their count.
 */
static int
fz_model_dispatch(const struct fsm_def *def, int *state, int event,
    size_t *pos, struct fz_rec *out)
{
	int queue[FZ_RECS], qhead = 0, qtail = 0, nout = 0;
	int posts_left = FZ_POSTS, i, ev;
	struct fz_act_out o;
	struct fz_rec *rec;
	bool any;

	queue[qtail++] = event;
	while (qhead < qtail) {
		ev = queue[qhead++];
		FZ_ASSERT(nout < FZ_RECS);
		rec = &out[nout++];
		rec->from = rec->to = *state;
		rec->event = ev;
		rec->row = -1;
		any = false;
		for (i = 0; i < def->nrows; i++) {
			const struct fsm_row *r = &def->rows[i];

			if (r->event != ev ||
			    (r->from != FSM_ANY && r->from != *state))
				continue;
			any = true;
			if (r->guard == NULL || (fz_take(pos) & 1) != 0) {
				rec->row = i;
				break;
			}
		}
		if (rec->row < 0) {
			rec->result = any ? FSM_RES_GUARDED : FSM_RES_REJECTED;
			continue;
		}
		o.fail = false;
		if (def->rows[rec->row].action != NULL) {
			o = fz_act_decide(pos, def->nevents, &posts_left);
			if (o.post >= 0) {
				FZ_ASSERT(qtail < FZ_RECS);
				queue[qtail++] = o.post;
			}
		}
		if (o.fail) {
			rec->result = FSM_RES_FAILED;
			if (def->fail_event != FSM_NONE &&
			    ev != def->fail_event) {
				FZ_ASSERT(qtail < FZ_RECS);
				queue[qtail++] = def->fail_event;
			}
			continue;
		}
		rec->result = FSM_RES_OK;
		rec->to = fsm_row_target(&def->rows[rec->row], *state);
		*state = rec->to;
	}
	return nout;
}

/* One dispatch against the model and the invariants. */
static void
fz_step(struct fz_table *t, struct fsm *m, int event)
{
	const struct fsm_def *def = &t->shadow;
	struct fz_rec want[FZ_RECS];
	const struct fsm_trace_rec *got[FZ_RECS];
	int before = m->state, mstate = m->state, nwant, ngot, k, j, ret;
	uint64_t n0 = fsm_env_dispatched(fz_env);
	size_t mpos = fz_pos;
	bool fail_seen;
	struct err err;

	nwant = fz_model_dispatch(def, &mstate, event, &mpos, want);
	fz_posts_left = FZ_POSTS;
	memset(&err, 0, sizeof err);
	ret = fsm_dispatch(m, event, NULL, &err);

	/* The same tape read, the same end state, the same records. */
	FZ_ASSERT(fz_pos == mpos);
	FZ_ASSERT(m->state == mstate);
	FZ_ASSERT(m->state >= 0 && m->state < def->nstates);
	ngot = (int)(fsm_env_dispatched(fz_env) - n0);
	FZ_ASSERT(ngot == nwant);
	for (k = 0; k < ngot; k++) {
		got[k] = fsm_env_last(fz_env, (unsigned)(ngot - 1 - k));
		FZ_ASSERT(got[k] != NULL);
		FZ_ASSERT(got[k]->def == def);
		FZ_ASSERT(got[k]->from == want[k].from);
		FZ_ASSERT(got[k]->event == want[k].event);
		FZ_ASSERT(got[k]->to == want[k].to);
		FZ_ASSERT(got[k]->row == want[k].row);
		FZ_ASSERT(got[k]->result == want[k].result);
	}

	/* The dispatch's own outcome is the first record's. */
	FZ_ASSERT(got[0]->from == before && got[0]->event == event);
	switch (got[0]->result) {
	case FSM_RES_OK:
		FZ_ASSERT(ret == 0);
		break;
	case FSM_RES_REJECTED:
		FZ_ASSERT(ret == -1 && err.code == ERR_UNHANDLED);
		break;
	case FSM_RES_GUARDED:
		FZ_ASSERT(ret == -1 && err.code == ERR_GUARD);
		break;
	case FSM_RES_FAILED:
		FZ_ASSERT(ret == -1 && err.code == EIO);
		break;
	}

	/* Records chain; only an accepted row moves; failures post FAIL. */
	for (k = 0; k < ngot; k++) {
		FZ_ASSERT(got[k]->from >= 0 && got[k]->from < def->nstates);
		FZ_ASSERT(got[k]->to >= 0 && got[k]->to < def->nstates);
		if (k > 0)
			FZ_ASSERT(got[k]->from == got[k - 1]->to);
		if (got[k]->result != FSM_RES_OK)
			FZ_ASSERT(got[k]->to == got[k]->from);
		if ((t->sealed & FSM_BIT(got[k]->from)) != 0)
			FZ_ASSERT(got[k]->to == got[k]->from);
		if (got[k]->result != FSM_RES_FAILED ||
		    def->fail_event == FSM_NONE ||
		    got[k]->event == def->fail_event)
			continue;
		fail_seen = false;
		for (j = k + 1; j < ngot; j++)
			if (got[j]->event == def->fail_event)
				fail_seen = true;
		FZ_ASSERT(fail_seen);
	}
	if ((t->sealed & FSM_BIT(before)) != 0)
		FZ_ASSERT(m->state == before);
}

/* The table the tape names ("name\0..."), else its first byte's. */
static struct fz_table *
fz_pick(const uint8_t *data, size_t size, size_t *start)
{
	const uint8_t *nul = memchr(data, '\0', size < 64 ? size : 64);
	size_t i;

	if (nul != NULL && nul > data)
		for (i = 0; i < fz_ntables; i++)
			if (strlen(fz_tables[i].orig->name) ==
			    (size_t)(nul - data) && memcmp(data,
			    fz_tables[i].orig->name, (size_t)(nul - data)) == 0) {
				*start = (size_t)(nul - data) + 1;
				return &fz_tables[i];
			}
	*start = 1;
	return &fz_tables[data[0] % fz_ntables];
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_table *t;
	struct fsm m;

	if (size < 1)
		return 0;
	fz_setup();
	t = fz_pick(data, size, &fz_pos);
	fz_tape = data;
	fz_len = size;
	fsm_init(&m, &t->shadow, fz_env, "fuzz", NULL);
	FZ_ASSERT(m.state == t->orig->initial);
	while (fz_pos < fz_len)
		fz_step(t, &m, fz_take(&fz_pos) % t->shadow.nevents);
	fsm_fini(&m);
	fz_tape = NULL;
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The dispatcher, the run queue of posted events and the trace sinks.
 * See fsm.h for the contract.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/queue.h>

#include "fsm.h"

#define FSM_ENV_RING	256

struct fsm_posted {
	TAILQ_ENTRY(fsm_posted)	 entry;
	struct fsm		*target;	/* borrowed */
	int			 event;
	void			*data;
	size_t			 len;
};
TAILQ_HEAD(fsm_posted_q, fsm_posted);

struct fsm_env {
	struct fsm_posted_q	 queue;
	int			 depth;		/* dispatches on the stack */
	struct fsm_trace_rec	*current;	/* record being built */
	int			 trace_fd;
	fsm_trace_hook		 hook;
	void			*hook_arg;
	uint64_t		 dispatched;
	uint64_t		 rejected;
	struct fsm_trace_rec	 ring[FSM_ENV_RING];
	unsigned		 ring_pos;
	unsigned		 ring_len;
};

static void	fsm_drain(struct fsm_env *);

extern const struct fsm_def *const __start_kiln_fsm_defs[]
    __attribute__((weak));
extern const struct fsm_def *const __stop_kiln_fsm_defs[]
    __attribute__((weak));

const struct fsm_def *const *
fsm_registry(size_t *n)
{
	if (__start_kiln_fsm_defs == NULL) {
		*n = 0;
		return NULL;
	}
	*n = (size_t)(__stop_kiln_fsm_defs - __start_kiln_fsm_defs);
	return __start_kiln_fsm_defs;
}

const struct fsm_def *
fsm_registry_find(const char *name)
{
	const struct fsm_def *const *defs;
	size_t i, n;

	defs = fsm_registry(&n);
	for (i = 0; i < n; i++)
		if (strcmp(defs[i]->name, name) == 0)
			return defs[i];
	return NULL;
}

const char *
fsm_result_name(enum fsm_result r)
{
	switch (r) {
	case FSM_RES_OK:
		return "ok";
	case FSM_RES_REJECTED:
		return "rejected";
	case FSM_RES_GUARDED:
		return "guarded";
	case FSM_RES_FAILED:
		return "failed";
	}
	return "?";
}

struct fsm_env *
fsm_env_new(void)
{
	struct fsm_env *env = xcalloc(1, sizeof *env);

	TAILQ_INIT(&env->queue);
	env->trace_fd = -1;
	return env;
}

void
fsm_env_free(struct fsm_env *env)
{
	struct fsm_posted *p;

	if (env == NULL)
		return;
	while ((p = TAILQ_FIRST(&env->queue)) != NULL) {
		TAILQ_REMOVE(&env->queue, p, entry);
		free(p->data);
		free(p);
	}
	close_fd(&env->trace_fd);
	free(env);
}

int
fsm_env_trace_file(struct fsm_env *env, const char *path, struct err *err)
{
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_set(err, errno, "open trace file %s: %s", path,
		    strerror(errno));
	close_fd(&env->trace_fd);
	env->trace_fd = fd;
	return 0;
}

void
fsm_env_set_hook(struct fsm_env *env, fsm_trace_hook hook, void *arg)
{
	env->hook = hook;
	env->hook_arg = arg;
}

const struct fsm_trace_rec *
fsm_env_last(const struct fsm_env *env, unsigned k)
{
	if (k >= env->ring_len)
		return NULL;
	return &env->ring[(env->ring_pos + FSM_ENV_RING - 1 - k) %
	    FSM_ENV_RING];
}

uint64_t
fsm_env_dispatched(const struct fsm_env *env)
{
	return env->dispatched;
}

uint64_t
fsm_env_rejected(const struct fsm_env *env)
{
	return env->rejected;
}

void
fsm_init(struct fsm *m, const struct fsm_def *def, struct fsm_env *env,
    const char *id, void *ctx)
{
	memset(m, 0, sizeof *m);
	m->def = def;
	m->env = env;
	m->ctx = ctx;
	m->state = def->initial;
	snprintf(m->id, sizeof m->id, "%s", id);
}

void
fsm_fini(struct fsm *m)
{
	struct fsm_posted *p, *next;

	if (m->env == NULL)
		return;
	for (p = TAILQ_FIRST(&m->env->queue); p != NULL; p = next) {
		next = TAILQ_NEXT(p, entry);
		if (p->target != m)
			continue;
		TAILQ_REMOVE(&m->env->queue, p, entry);
		free(p->data);
		free(p);
	}
	m->env = NULL;
}

const char *
fsm_state_name(const struct fsm_def *def, int s)
{
	if (s == FSM_ANY)
		return "ANY";
	if (s == FSM_SAME)
		return "SAME";
	if (s < 0 || s >= def->nstates)
		return "?";
	return def->state_names[s];
}

const char *
fsm_event_name(const struct fsm_def *def, int e)
{
	if (e < 0 || e >= def->nevents)
		return "?";
	return def->event_names[e];
}

int
fsm_state_by_name(const struct fsm_def *def, const char *name)
{
	int i;

	for (i = 0; i < def->nstates; i++)
		if (strcmp(def->state_names[i], name) == 0)
			return i;
	return -1;
}

int
fsm_event_by_name(const struct fsm_def *def, const char *name)
{
	int i;

	for (i = 0; i < def->nevents; i++)
		if (strcmp(def->event_names[i], name) == 0)
			return i;
	return -1;
}

bool
fsm_is_terminal(const struct fsm *m)
{
	return (m->def->terminal & FSM_BIT(m->state)) != 0;
}

int
fsm_row_target(const struct fsm_row *row, int state)
{
	return row->to == FSM_SAME ? state : row->to;
}

/* A guard name as written in the table ("NULL" means none). */
static bool
fsm_row_guarded(const struct fsm_row *row)
{
	return row->guard_name != NULL && strcmp(row->guard_name, "NULL") != 0;
}

/* Append "name=0|1" to the guards string, truncating quietly. */
static void
fsm_note_guard(char *guards, size_t glen, const char *name, bool ok)
{
	size_t used;

	if (guards == NULL || glen == 0)
		return;
	used = strlen(guards);
	snprintf(guards + used, glen - used, "%s%s=%d", used > 0 ? "," : "",
	    name, ok ? 1 : 0);
}

int
fsm_select(const struct fsm_def *def, int state, int event,
    fsm_guard_oracle oracle, void *arg, char *guards, size_t glen)
{
	int i;

	if (guards != NULL && glen > 0)
		guards[0] = '\0';
	for (i = 0; i < def->nrows; i++) {
		const struct fsm_row *row = &def->rows[i];
		bool ok;

		if (row->event != event)
			continue;
		if (row->from != FSM_ANY && row->from != state)
			continue;
		if (!fsm_row_guarded(row))
			return i;
		ok = oracle(row, arg);
		fsm_note_guard(guards, glen, row->guard_name, ok);
		if (ok)
			return i;
	}
	return -1;
}

struct fsm_live_guard {
	const struct fsm	*m;
	const void		*data;
};

static bool
fsm_live_oracle(const struct fsm_row *row, void *arg)
{
	struct fsm_live_guard *lg = arg;

	return row->guard(lg->m, lg->data);
}

/* Does any row exist for (state, event), guarded or not? */
static bool
fsm_has_rows(const struct fsm_def *def, int state, int event)
{
	int i;

	for (i = 0; i < def->nrows; i++)
		if (def->rows[i].event == event &&
		    (def->rows[i].from == FSM_ANY ||
		    def->rows[i].from == state))
			return true;
	return false;
}

static void
fsm_json_str(char **p, size_t *left, const char *s)
{
	int n;

	n = snprintf(*p, *left, "\"");
	for (; *s != '\0' && n >= 0 && (size_t)n < *left; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			n += snprintf(*p + n, *left - n, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			n += snprintf(*p + n, *left - n, "\\u%04x", c);
		else
			n += snprintf(*p + n, *left - n, "%c", c);
	}
	if (n >= 0 && (size_t)n < *left)
		n += snprintf(*p + n, *left - n, "\"");
	if (n < 0 || (size_t)n >= *left)
		n = (int)*left - 1;
	*p += n;
	*left -= (size_t)n;
}

static void
fsm_json_raw(char **p, size_t *left, const char *fmt, ...)
    PRINTF_LIKE(3, 4);

static void
fsm_json_raw(char **p, size_t *left, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(*p, *left, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= *left)
		n = (int)*left - 1;
	*p += n;
	*left -= (size_t)n;
}

void
fsm_trace_json(const struct fsm_trace_rec *r, char *out, size_t len)
{
	const struct fsm_def *def = r->def;
	char *p = out;
	size_t left = len;

	fsm_json_raw(&p, &left, "{\"ts\":%llu,\"machine\":",
	    (unsigned long long)r->ts_ns);
	fsm_json_str(&p, &left, def->name);
	fsm_json_raw(&p, &left, ",\"version\":%u,\"id\":", def->version);
	fsm_json_str(&p, &left, r->id);
	fsm_json_raw(&p, &left, ",\"seq\":%llu,\"from\":\"%s\",\"event\":"
	    "\"%s\",\"to\":\"%s\",\"result\":\"%s\",\"row\":%d,\"action\":",
	    (unsigned long long)r->seq, fsm_state_name(def, r->from),
	    fsm_event_name(def, r->event), fsm_state_name(def, r->to),
	    fsm_result_name(r->result), r->row);
	fsm_json_str(&p, &left, r->row >= 0 &&
	    def->rows[r->row].action != NULL ?
	    def->rows[r->row].action_name : "");
	fsm_json_raw(&p, &left, ",\"guards\":");
	fsm_json_str(&p, &left, r->guards);
	fsm_json_raw(&p, &left, ",\"elapsed_ns\":%llu,\"detail\":",
	    (unsigned long long)r->elapsed_ns);
	fsm_json_str(&p, &left, r->detail);
	fsm_json_raw(&p, &left, "}");
}

/* Store the finished record in both rings and the sinks. */
static void
fsm_emit(struct fsm *m, const struct fsm_trace_rec *rec)
{
	struct fsm_env *env = m->env;
	char line[1024];
	size_t n;

	m->ring[m->ring_pos] = *rec;
	m->ring_pos = (m->ring_pos + 1) % FSM_RING_LEN;
	if (m->ring_len < FSM_RING_LEN)
		m->ring_len++;
	env->ring[env->ring_pos] = *rec;
	env->ring_pos = (env->ring_pos + 1) % FSM_ENV_RING;
	if (env->ring_len < FSM_ENV_RING)
		env->ring_len++;
	env->dispatched++;
	if (env->trace_fd >= 0) {
		fsm_trace_json(rec, line, sizeof line - 1);
		n = strlen(line);
		line[n++] = '\n';
		/* A trace write that fails must not stop the machine. */
		(void)write_all(env->trace_fd, line, n);
	}
	if (env->hook != NULL)
		env->hook(rec, env->hook_arg);
}

void
fsm_detail(struct fsm *m, const char *fmt, ...)
{
	struct fsm_trace_rec *rec = m->env->current;
	va_list ap;

	if (rec == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(rec->detail, sizeof rec->detail, fmt, ap);
	va_end(ap);
}

/* Mark a rejected dispatch in rec and err. */
static int
fsm_reject(struct fsm *m, struct fsm_trace_rec *rec, struct err *err)
{
	const struct fsm_def *def = m->def;
	bool guarded = fsm_has_rows(def, m->state, rec->event);

	rec->result = guarded ? FSM_RES_GUARDED : FSM_RES_REJECTED;
	m->rejected++;
	m->env->rejected++;
	log_warnx("machine=%s id=%s state=%s event=%s result=%s",
	    def->name, m->id, fsm_state_name(def, m->state),
	    fsm_event_name(def, rec->event), fsm_result_name(rec->result));
	return err_set(err, guarded ? ERR_GUARD : ERR_UNHANDLED,
	    "%s %s: event %s not allowed in state %s", def->name, m->id,
	    fsm_event_name(def, rec->event), fsm_state_name(def, m->state));
}

/* The body of a dispatch; the caller manages depth and draining. */
static int
fsm_step(struct fsm *m, int event, const void *data, struct err *err)
{
	const struct fsm_def *def = m->def;
	struct fsm_live_guard lg = { m, data };
	struct fsm_trace_rec rec;
	struct err aerr;
	int ret = 0, row;

	if (event < 0 || event >= def->nevents)
		fatalx("machine %s: event %d out of range", def->name, event);
	memset(&rec, 0, sizeof rec);
	rec.ts_ns = time_mono_ns();
	rec.def = def;
	memcpy(rec.id, m->id, sizeof rec.id);
	rec.seq = ++m->seq;
	rec.from = rec.to = m->state;
	rec.event = event;
	row = fsm_select(def, m->state, event, fsm_live_oracle, &lg,
	    rec.guards, sizeof rec.guards);
	rec.row = row;
	m->env->current = &rec;
	if (row < 0)
		ret = fsm_reject(m, &rec, err);
	else if (def->rows[row].action != NULL &&
	    def->rows[row].action(m, data, &aerr) < 0) {
		rec.result = FSM_RES_FAILED;
		if (rec.detail[0] == '\0')
			str_copy(rec.detail, aerr.msg, sizeof rec.detail);
		if (err != NULL)
			*err = aerr;
		ret = -1;
		if (def->fail_event != FSM_NONE && event != def->fail_event)
			fsm_post(m, def->fail_event, NULL, 0);
	} else {
		rec.to = fsm_row_target(&def->rows[row], m->state);
		m->state = rec.to;
	}
	m->env->current = NULL;
	rec.elapsed_ns = time_mono_ns() - rec.ts_ns;
	fsm_emit(m, &rec);
	return ret;
}

/*
 * A dispatch or send that arrives while another dispatch runs must be
 * queued, and queuing copies the payload, so it needs the payload's size.
 * Without one the copy would be short and the action would read past it:
 * refuse, so the caller sees the loss instead of a garbled payload.
 */
static int
fsm_queue_nested(struct fsm *m, int event, const void *data, size_t len,
    struct err *err)
{
	const struct fsm_def *def = m->def;

	if (data == NULL || len > 0) {
		fsm_post(m, event, data, len);
		return 0;
	}
	m->rejected++;
	m->env->rejected++;
	log_warnx("machine=%s id=%s state=%s event=%s result=refused "
	    "reason=nested-data-without-length", def->name, m->id,
	    fsm_state_name(def, m->state), fsm_event_name(def, event));
	return err_set(err, EINVAL, "%s %s: event %s with data sent during "
	    "another dispatch without its length (use fsm_send with the "
	    "size)", def->name, m->id, fsm_event_name(def, event));
}

int
fsm_dispatch(struct fsm *m, int event, const void *data, struct err *err)
{
	struct fsm_env *env = m->env;
	int ret;

	/*
	 * Run-to-completion: a dispatch that arrives while another runs
	 * (an action called into a module whose machine reacts at once) is
	 * queued like a post; its outcome is traced, not returned.
	 */
	if (env->depth > 0)
		return fsm_queue_nested(m, event, data, 0, err);
	env->depth++;
	ret = fsm_step(m, event, data, err);
	fsm_drain(env);
	env->depth--;
	return ret;
}

/* Run posted events FIFO until the queue is empty. */
static void
fsm_drain(struct fsm_env *env)
{
	struct fsm_posted *p;
	struct err err;

	while ((p = TAILQ_FIRST(&env->queue)) != NULL) {
		TAILQ_REMOVE(&env->queue, p, entry);
		(void)fsm_step(p->target, p->event, p->data, &err);
		free(p->data);
		free(p);
	}
}

void
fsm_post(struct fsm *m, int event, const void *data, size_t len)
{
	struct fsm_env *env = m->env;
	struct fsm_posted *p;

	if (env == NULL)
		fatalx("post to a finished machine");
	/* The copy below is all the action will see; a short one is a bug. */
	if (data != NULL && len == 0)
		fatalx("machine %s: post of %s with data but no length",
		    m->def->name, fsm_event_name(m->def, event));
	p = xcalloc(1, sizeof *p);
	p->target = m;
	p->event = event;
	p->data = data != NULL ? xmemdup(data, len) : NULL;
	p->len = len;
	TAILQ_INSERT_TAIL(&env->queue, p, entry);
	if (env->depth == 0) {
		env->depth++;
		fsm_drain(env);
		env->depth--;
	}
}

int
fsm_send(struct fsm *m, int event, const void *data, size_t len,
    struct err *err)
{
	if (m->env->depth == 0)
		return fsm_dispatch(m, event, data, err);
	return fsm_queue_nested(m, event, data, len, err);
}

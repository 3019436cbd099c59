/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The QMP client: a fake QEMU on a unix socket (accept and scripted replies
 * on the same reactor) drives the handshake, calls with arguments, replies
 * out of order, error replies, events, timeouts, cancels, calls queued
 * before READY, the pending-call bound, a peer that hangs up, garbage,
 * over-long lines, connect retry and timeout, handshake failures, frees
 * from inside callbacks, and the machine's table and trace. Then the same
 * client against a real qemu-system-x86_64 (-M none): query-status,
 * query-version, quit, SHUTDOWN, exit 0. Waits are event-driven with a
 * 10 s deadline; nothing sleeps.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "qmp/qmp.h"
#include "tests/tap.h"

extern char **environ;

#define GREETING "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, " \
	"\"minor\": 2, \"major\": 7}, \"package\": \"fake\"}, " \
	"\"capabilities\": [\"oob\"]}}\r\n"
#define NSLOTS	300

/* A scripted QEMU: one listening socket, one peer at a time. */
struct fake {
	char			 path[108];
	int			 lfd;
	struct reactor_io	*lio;
	int			 fd;
	struct reactor_io	*io;
	struct buf		 in;
	struct buf		 out;
	bool			 greet;		/* send the banner on accept */
	bool			 caps_fail;	/* refuse qmp_capabilities */
	int			 accepted;
	int			 ncmds;
	char			 cmds[16][32];	/* first commands, in order */
	int			 held[16];	/* ids of "hold" calls */
	int			 nheld;
	bool			 hangup;	/* close after this command */
};

struct result {
	bool	 done;
	int	 code;
	char	 msg[ERR_MSG_MAX];
	char	*json;
};

struct world {
	struct reactor	*r;
	struct fsm_env	*env;
	char		 dir[64];
	struct fake	 fk;
	bool		 deadline;
	bool		 ready;
	bool		 closed;
	struct err	 why;
	int		 replies_at_close;
	int		 nreplies;
	struct result	 res[NSLOTS];
	int		 order[NSLOTS];
	int		 nevents;
	char		 ev_name[64];
	char		*ev_data;
	bool		 shutdown_seen;
	struct qmp	*free_in_reply;	/* free this qmp in a reply cb */
	struct qmp	*free_in_closed; /* ... in on_closed */
	int		 retries;	/* RETRY dispatches seen */
	bool		 child_done;
	int		 child_status;
};

static struct world W;

/* ---- waiting ---------------------------------------------------------- */

static void
deadline_cb(void *arg)
{
	(void)arg;
	W.deadline = true;
}

/* Turn the loop until cond holds or 10 s passed; true if cond holds. */
#define RUN_UNTIL(cond) ({						\
	struct reactor_timer *_t = reactor_timer_new(W.r, deadline_cb,	\
	    NULL);							\
	W.deadline = false;						\
	reactor_timer_start(_t, 10000, false);				\
	while (!(cond) && !W.deadline)					\
		reactor_run_once(W.r, true);				\
	reactor_timer_free(_t);						\
	(cond);								\
})

/* ---- the fake QEMU ---------------------------------------------------- */

static void	fake_io_cb(int, int, void *);

static void
fake_rearm(struct fake *fk)
{
	if (fk->io != NULL)
		reactor_io_set(fk->io, REACTOR_READ |
		    (buf_used(&fk->out) > 0 ? REACTOR_WRITE : 0));
}

static void
fake_send(struct fake *fk, const char *s, size_t len)
{
	buf_append(&fk->out, s, len);
	fake_rearm(fk);
}

static void
fake_sends(struct fake *fk, const char *s)
{
	fake_send(fk, s, strlen(s));
}

/* {"return":ret,"id":id}, ret as JSON text. */
static void
fake_return(struct fake *fk, int id, const char *ret)
{
	char *s = xasprintf("{\"return\": %s, \"id\": %d}\r\n", ret, id);

	fake_sends(fk, s);
	free(s);
}

static void
fake_hangup(struct fake *fk)
{
	reactor_io_free(fk->io);
	fk->io = NULL;
	close_fd(&fk->fd);
	buf_fini(&fk->in);
	buf_fini(&fk->out);
}

/* Over-long line: QMP_LINE_MAX + 16 bytes and no newline. */
static void
fake_long(struct fake *fk)
{
	size_t n = QMP_LINE_MAX + 16;
	char *s = xmalloc(n);

	memset(s, 'x', n);
	fake_send(fk, s, n);
	free(s);
}

/* Things QEMU never sends; the client must shrug them off. */
static void
fake_strays(struct fake *fk, int id)
{
	fake_sends(fk, "{\"return\": {}, \"id\": 9999}\r\n");
	fake_sends(fk, "{\"return\": {}, \"id\": \"text\"}\r\n");
	fake_sends(fk, "{\"return\": {}}\r\n");
	fake_sends(fk, "{\"foo\": 1}\r\n");
	fake_sends(fk, "{\"event\": 5}\r\n");
	fake_sends(fk, "\r\n");
	fake_sends(fk, "{\"return\": {}, \"id\": 0}\r\n");
	fake_return(fk, id, "{\"stray\": true}");
}

/* Script: what the fake does with one command. */
static void
fake_command(struct fake *fk, const char *cmd, int id, const json_t *args)
{
	char *s;

	if (fk->ncmds < 16)
		str_copy(fk->cmds[fk->ncmds++], cmd, sizeof fk->cmds[0]);
	if (strcmp(cmd, "qmp_capabilities") == 0 && fk->caps_fail)
		fake_sends(fk, "{\"id\": 0, \"error\": {\"class\": "
		    "\"GenericError\", \"desc\": \"no\"}}\r\n");
	else if (strcmp(cmd, "qmp_capabilities") == 0)
		fake_return(fk, id, "{}");
	else if (strcmp(cmd, "echo") == 0) {
		s = args != NULL ? json_dumps(args, JSON_COMPACT) :
		    xstrdup("{}");
		fake_return(fk, id, s);
		free(s);
	} else if (strcmp(cmd, "hold") == 0 && fk->nheld < 16)
		fk->held[fk->nheld++] = id;
	else if (strcmp(cmd, "fail") == 0) {
		s = xasprintf("{\"id\": %d, \"error\": {\"class\": "
		    "\"DeviceNotFound\", \"desc\": \"Device 'vdz' not "
		    "found\"}}\r\n", id);
		fake_sends(fk, s);
		free(s);
	} else if (strcmp(cmd, "emit") == 0) {
		fake_sends(fk, "{\"timestamp\": {\"seconds\": 1, "
		    "\"microseconds\": 2}, \"event\": \"DEVICE_DELETED\", "
		    "\"data\": {\"device\": \"d1\", \"path\": \"/m/d1\"}}\r\n");
		fake_return(fk, id, "{}");
	} else if (strcmp(cmd, "malformed") == 0) {
		s = xasprintf("{\"id\": %d, \"error\": \"flat\"}\r\n", id);
		fake_sends(fk, s);
		free(s);
	} else if (strcmp(cmd, "stray") == 0)
		fake_strays(fk, id);
	else if (strcmp(cmd, "garbage") == 0)
		fake_sends(fk, "this is not json\r\n");
	else if (strcmp(cmd, "array") == 0)
		fake_sends(fk, "[1, 2, 3]\r\n");
	else if (strcmp(cmd, "long") == 0)
		fake_long(fk);
	else if (strcmp(cmd, "hangup") == 0)
		fk->hangup = true;
	else if (strcmp(cmd, "echo-free") == 0) {
		/* A reply and an event in one write: the reply's callback
		 * frees the qmp, the event must not be delivered. */
		fake_return(fk, id, "{}");
		fake_sends(fk, "{\"event\": \"STOP\"}\r\n");
	}
}

/* Parse each complete line the client sent. */
static void
fake_lines(struct fake *fk)
{
	const uint8_t *nl;
	json_t *cmd;
	size_t len;

	while (fk->fd >= 0 && (nl = memchr(buf_head(&fk->in), '\n',
	    buf_used(&fk->in))) != NULL) {
		len = (size_t)(nl - buf_head(&fk->in));
		cmd = json_loadb((const char *)buf_head(&fk->in), len, 0,
		    NULL);
		buf_consume(&fk->in, len + 1);
		if (cmd == NULL)
			continue;
		fake_command(fk, json_string_value(json_object_get(cmd,
		    "execute")), (int)json_integer_value(json_object_get(cmd,
		    "id")), json_object_get(cmd, "arguments"));
		json_decref(cmd);
		if (fk->hangup)
			fake_hangup(fk);
	}
}

static void
fake_io_cb(int fd, int what, void *arg)
{
	struct fake *fk = arg;
	ssize_t n;

	if (what & REACTOR_READ) {
		n = read(fd, buf_reserve(&fk->in, 65536), 65536);
		if (n == 0 || (n < 0 && errno != EAGAIN)) {
			fake_hangup(fk);
			return;
		}
		if (n > 0) {
			buf_commit(&fk->in, (size_t)n);
			fake_lines(fk);
		}
	}
	if ((what & REACTOR_WRITE) && fk->fd >= 0 && buf_used(&fk->out) > 0) {
		n = write(fd, buf_head(&fk->out), buf_used(&fk->out));
		if (n < 0 && errno != EAGAIN) {
			fake_hangup(fk);
			return;
		}
		if (n > 0)
			buf_consume(&fk->out, (size_t)n);
		fake_rearm(fk);
	}
}

static void
fake_accept_cb(int lfd, int what, void *arg)
{
	struct fake *fk = arg;
	int fd;

	(void)what;
	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	fake_hangup(fk);
	fk->fd = fd;
	fk->accepted++;
	fk->ncmds = fk->nheld = 0;
	fk->hangup = false;
	fk->io = reactor_io_new(W.r, fd, REACTOR_READ, fake_io_cb, fk);
	if (fk->greet)
		fake_sends(fk, GREETING);
}

static void
fake_listen(struct fake *fk)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	str_copy(sun.sun_path, fk->path, sizeof sun.sun_path);
	fk->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (bind(fk->lfd, (struct sockaddr *)&sun, sizeof sun) < 0 ||
	    listen(fk->lfd, 8) < 0)
		fatal("fake listen %s", fk->path);
	fk->lio = reactor_io_new(W.r, fk->lfd, REACTOR_READ, fake_accept_cb,
	    fk);
}

static void
fake_listen_cb(void *arg)
{
	fake_listen(arg);
}

static void
fake_stop(struct fake *fk)
{
	fake_hangup(fk);
	reactor_io_free(fk->lio);
	fk->lio = NULL;
	close_fd(&fk->lfd);
	unlink(fk->path);
}

static void
fake_init(struct fake *fk, const char *name)
{
	memset(fk, 0, sizeof *fk);
	fk->fd = fk->lfd = -1;
	fk->greet = true;
	snprintf(fk->path, sizeof fk->path, "%s/%s", W.dir, name);
}

/* ---- the client's callbacks ------------------------------------------- */

static void
reset(void)
{
	int i;

	for (i = 0; i < NSLOTS; i++) {
		free(W.res[i].json);
		memset(&W.res[i], 0, sizeof W.res[i]);
	}
	free(W.ev_data);
	W.ev_data = NULL;
	W.ev_name[0] = '\0';
	W.nevents = W.nreplies = 0;
	W.ready = W.closed = W.shutdown_seen = false;
	W.replies_at_close = -1;
	err_clear(&W.why);
}

static void
reply_cb(const json_t *ret, const struct err *err, void *arg)
{
	struct result *res = &W.res[(intptr_t)arg];

	res->done = true;
	res->code = err != NULL ? err->code : 0;
	str_copy(res->msg, err != NULL ? err->msg : "", sizeof res->msg);
	res->json = ret != NULL ? json_dumps(ret, JSON_COMPACT |
	    JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
	W.order[W.nreplies++] = (int)(intptr_t)arg;
	if (W.free_in_reply != NULL)
		qmp_free(TAKE_PTR(W.free_in_reply));
}

static void
event_cb(struct qmp *q, const char *name, const json_t *data, void *arg)
{
	(void)q;
	(void)arg;
	W.nevents++;
	str_copy(W.ev_name, name, sizeof W.ev_name);
	free(W.ev_data);
	W.ev_data = data != NULL ? json_dumps(data, JSON_COMPACT |
	    JSON_SORT_KEYS) : NULL;
	if (strcmp(name, "SHUTDOWN") == 0)
		W.shutdown_seen = true;
}

static void
ready_cb(struct qmp *q, void *arg)
{
	(void)q;
	(void)arg;
	W.ready = true;
}

static void
closed_cb(struct qmp *q, const struct err *why, void *arg)
{
	(void)arg;
	W.closed = true;
	W.why = *why;
	W.replies_at_close = W.nreplies;
	if (W.free_in_closed == q)
		qmp_free(TAKE_PTR(W.free_in_closed));
}

static struct qmp_opts
opts(const char *name)
{
	struct qmp_opts o = {
		.name = name, .on_event = event_cb, .on_ready = ready_cb,
		.on_closed = closed_cb,
	};

	return o;
}

static int
call(struct qmp *q, const char *cmd, json_t *args, uint64_t ms, int slot)
{
	struct err err = { 0 };
	int id;

	id = qmp_call(q, cmd, args, ms, reply_cb, (void *)(intptr_t)slot,
	    &err);
	if (id < 0)
		diag("qmp_call %s: %s", cmd, err.msg);
	return id;
}

/* Connect a client to the fake and wait for READY. */
static struct qmp *
connect_ready(const char *name)
{
	struct qmp_opts o = opts(name);
	struct err err = { 0 };
	struct qmp *q;

	reset();
	q = qmp_new(W.r, W.env, W.fk.path, &o, &err);
	if (q != NULL && !RUN_UNTIL(W.ready))
		diag("%s: not READY", name);
	return q;
}

/* ---- tests ------------------------------------------------------------ */

static void
test_table(void)
{
	const struct fsm_def *def = fsm_registry_find("qmp");
	struct err err = { 0 };

	ok(def != NULL, "qmp: the machine is registered as \"qmp\"");
	ok(def != NULL && fsm_check(def, &err) == 0, "qmp: the table passes "
	    "fsm_check");
	if (def != NULL && fsm_check(def, &err) < 0)
		diag("%s", err.msg);
}

/* The last k+1 records, newest last, are qmp transitions FROM -> TO. */
static bool
trace_has(unsigned k, const char *from, const char *ev, const char *to)
{
	const struct fsm_trace_rec *rec = fsm_env_last(W.env, k);

	return rec != NULL && strcmp(rec->def->name, "qmp") == 0 &&
	    strcmp(fsm_state_name(rec->def, rec->from), from) == 0 &&
	    strcmp(fsm_event_name(rec->def, rec->event), ev) == 0 &&
	    strcmp(fsm_state_name(rec->def, rec->to), to) == 0;
}

static void
test_handshake(struct qmp *q)
{
	ok(q != NULL && W.ready && qmp_ready(q), "qmp: greeting then "
	    "capabilities reaches READY and on_ready runs");
	ok(trace_has(2, "CONNECTING", "CONNECTED", "GREETING") &&
	    trace_has(1, "GREETING", "GREETING_RX", "NEGOTIATING") &&
	    trace_has(0, "NEGOTIATING", "CAPS_OK", "READY"), "qmp: trace "
	    "shows CONNECTING->GREETING->NEGOTIATING->READY");
	is_str(W.fk.cmds[0], "qmp_capabilities", "qmp: the first command on "
	    "the wire is qmp_capabilities");
}

static void
test_calls(struct qmp *q)
{
	int a, b;

	call(q, "echo", json_pack("{s:s, s:i}", "device", "vda", "n", 42), 0,
	    0);
	ok(RUN_UNTIL(W.res[0].done) && W.res[0].code == 0 &&
	    W.res[0].json != NULL &&
	    strcmp(W.res[0].json, "{\"device\":\"vda\",\"n\":42}") == 0,
	    "qmp: a call with arguments gets its \"return\"");
	a = call(q, "hold", NULL, 0, 1);
	b = call(q, "hold", NULL, 0, 2);
	ok(RUN_UNTIL(W.fk.nheld == 2) && a > 0 && b > a && qmp_pending(q) == 2,
	    "qmp: two calls in flight, ids %d and %d", a, b);
	W.nreplies = 0;
	fake_return(&W.fk, b, "\"second\"");
	fake_return(&W.fk, a, "\"first\"");
	ok(RUN_UNTIL(W.nreplies == 2) && W.order[0] == 2 && W.order[1] == 1 &&
	    strcmp(W.res[1].json, "\"first\"") == 0 &&
	    strcmp(W.res[2].json, "\"second\"") == 0, "qmp: replies out of "
	    "order are matched by id");
	call(q, "fail", NULL, 0, 3);
	ok(RUN_UNTIL(W.res[3].done) && W.res[3].code == EIO &&
	    W.res[3].json == NULL, "qmp: an {\"error\"} reply fails the call "
	    "with EIO");
	ok(strstr(W.res[3].msg, "DeviceNotFound") != NULL &&
	    strstr(W.res[3].msg, "Device 'vdz' not found") != NULL &&
	    strstr(W.res[3].msg, "fail") != NULL, "qmp: the error names "
	    "command, class and desc");
	diag("%s", W.res[3].msg);
	call(q, "emit", NULL, 0, 4);
	ok(RUN_UNTIL(W.res[4].done) && W.nevents == 1 &&
	    strcmp(W.ev_name, "DEVICE_DELETED") == 0 && W.ev_data != NULL &&
	    strcmp(W.ev_data, "{\"device\":\"d1\",\"path\":\"/m/d1\"}") == 0,
	    "qmp: an event is delivered with its name and data");
}

static void
test_timeouts(struct qmp *q)
{
	int id, gone;

	W.fk.nheld = 0;
	id = call(q, "hold", NULL, 50, 10);
	ok(RUN_UNTIL(W.res[10].done) && W.res[10].code == ERR_TIMEOUT &&
	    qmp_pending(q) == 0, "qmp: a call past its timeout fails "
	    "ERR_TIMEOUT and is forgotten");
	diag("%s", W.res[10].msg);
	gone = call(q, "hold", NULL, 0, 11);
	RUN_UNTIL(W.fk.nheld == 2);
	qmp_cancel(q, gone);
	qmp_cancel(q, 12345);
	W.nreplies = 0;
	fake_return(&W.fk, id, "{}");
	fake_return(&W.fk, gone, "{}");
	call(q, "echo", NULL, 0, 12);
	ok(RUN_UNTIL(W.res[12].done) && W.nreplies == 1 && !W.res[11].done &&
	    qmp_ready(q), "qmp: late replies to timed-out and cancelled "
	    "calls are ignored");
	call(q, "stray", NULL, 0, 13);
	ok(RUN_UNTIL(W.res[13].done) && W.res[13].code == 0 &&
	    qmp_ready(q) && strcmp(W.res[13].json, "{\"stray\":true}") == 0,
	    "qmp: unknown ids, odd ids, idless and shapeless messages are "
	    "ignored");
	call(q, "malformed", NULL, 0, 14);
	ok(RUN_UNTIL(W.res[14].done) && W.res[14].code == ERR_PROTOCOL &&
	    qmp_ready(q), "qmp: a malformed reply fails only its call, "
	    "ERR_PROTOCOL");
}

static void
test_errors_args(struct qmp *q)
{
	struct err err = { 0 };

	ok(qmp_call(q, "x", json_integer(1), 0, reply_cb, NULL, &err) < 0 &&
	    err.code == EINVAL, "qmp: non-object arguments are refused "
	    "(and released)");
	ok(qmp_call(q, "", NULL, 0, reply_cb, NULL, &err) < 0 &&
	    err.code == EINVAL, "qmp: an empty command is refused");
	ok(qmp_call(q, "bad\xff", NULL, 0, reply_cb, NULL, &err) < 0 &&
	    err.code == EINVAL, "qmp: a command that is not UTF-8 is refused");
}

/* 255 held calls plus the hangup: the bound, then ERR_CLOSED for all. */
static void
test_hangup(struct qmp *q)
{
	struct err err = { 0 };
	int i, closed = 0;

	reset();
	for (i = 0; i < QMP_CALLS_MAX - 1; i++)
		call(q, "hold", NULL, 0, i);
	call(q, "hangup", NULL, 0, QMP_CALLS_MAX - 1);
	ok(qmp_call(q, "echo", NULL, 0, reply_cb, NULL, &err) < 0 &&
	    err.code == EAGAIN, "qmp: call %d is refused EAGAIN",
	    QMP_CALLS_MAX + 1);
	ok(RUN_UNTIL(W.closed) && W.why.code == ERR_CLOSED, "qmp: peer "
	    "closing ends the connection with ERR_CLOSED");
	diag("%s", W.why.msg);
	for (i = 0; i < QMP_CALLS_MAX; i++)
		closed += W.res[i].done && W.res[i].code == ERR_CLOSED &&
		    strcmp(W.res[i].msg, "qmp: connection closed") == 0;
	is_int(closed, QMP_CALLS_MAX, "qmp: every pending call failed "
	    "ERR_CLOSED \"qmp: connection closed\"");
	is_int(W.replies_at_close, QMP_CALLS_MAX, "qmp: ... before on_closed "
	    "ran");
	ok(qmp_call(q, "echo", NULL, 0, reply_cb, NULL, &err) < 0 &&
	    err.code == ERR_CLOSED && !qmp_ready(q), "qmp: calls on a closed "
	    "connection fail at once with ERR_CLOSED");
}

/* Calls made right after qmp_new wait for READY, then go in order. */
static void
test_queued(void)
{
	struct qmp_opts o = opts("queued");
	struct qmp *q;

	reset();
	q = qmp_new(W.r, W.env, W.fk.path, &o, NULL);
	call(q, "echo", json_pack("{s:i}", "k", 1), 0, 0);
	call(q, "echo", json_pack("{s:i}", "k", 2), 0, 1);
	ok(!qmp_ready(q) && qmp_pending(q) == 2, "qmp: calls before READY "
	    "are queued");
	ok(RUN_UNTIL(W.res[0].done && W.res[1].done) && W.ready &&
	    strcmp(W.res[0].json, "{\"k\":1}") == 0 &&
	    strcmp(W.res[1].json, "{\"k\":2}") == 0, "qmp: queued calls are "
	    "answered once READY");
	ok(W.fk.ncmds == 3 && strcmp(W.fk.cmds[0], "qmp_capabilities") == 0 &&
	    strcmp(W.fk.cmds[1], "echo") == 0, "qmp: ... sent after "
	    "qmp_capabilities, in call order");
	qmp_free(q);
}

/* What closes the connection with ERR_PROTOCOL. */
static void
test_protocol_error(const char *cmd, const char *what)
{
	struct qmp *q = connect_ready(cmd);

	call(q, cmd, NULL, 0, 0);
	ok(RUN_UNTIL(W.closed) && W.why.code == ERR_PROTOCOL &&
	    W.res[0].code == ERR_CLOSED, "qmp: %s closes with ERR_PROTOCOL",
	    what);
	diag("%s", W.why.msg);
	qmp_free(q);
}

/* Counts connect retries from the trace. */
static void
retry_hook(const struct fsm_trace_rec *rec, void *arg)
{
	(void)arg;
	if (strcmp(rec->def->name, "qmp") == 0 &&
	    strcmp(fsm_event_name(rec->def, rec->event), "RETRY") == 0)
		W.retries++;
}

static void
test_connect_retry(void)
{
	struct qmp_opts o = opts("retry");
	struct reactor_timer *t;
	uint64_t t0 = time_mono_ns();
	struct qmp *q;
	bool up;

	reset();
	fake_stop(&W.fk);
	t = reactor_timer_new(W.r, fake_listen_cb, &W.fk);
	reactor_timer_start(t, 50, false);
	q = qmp_new(W.r, W.env, W.fk.path, &o, NULL);
	W.retries = 0;
	fsm_env_set_hook(W.env, retry_hook, NULL);
	up = RUN_UNTIL(W.ready);
	fsm_env_set_hook(W.env, NULL, NULL);
	ok(up && time_mono_ns() - t0 >= 50000000ull && W.retries >= 3 &&
	    trace_has(0, "NEGOTIATING", "CAPS_OK", "READY"), "qmp: qmp_new "
	    "before the socket exists retries and connects (%.1f ms, %d "
	    "retries)", (double)(time_mono_ns() - t0) / 1e6, W.retries);
	reactor_timer_free(t);
	qmp_free(q);
}

static void
test_connect_timeout(void)
{
	struct qmp_opts o = opts("nobody");
	char path[128];
	struct qmp *q;

	reset();
	o.connect_ms = 100;
	snprintf(path, sizeof path, "%s/nobody.sock", W.dir);
	q = qmp_new(W.r, W.env, path, &o, NULL);
	call(q, "echo", NULL, 0, 0);
	ok(RUN_UNTIL(W.closed) && W.why.code == ERR_TIMEOUT &&
	    strstr(W.why.msg, "No such file") != NULL &&
	    W.res[0].code == ERR_CLOSED, "qmp: nobody listening: ERR_TIMEOUT "
	    "after connect_ms, queued call ERR_CLOSED");
	diag("%s", W.why.msg);
	ok(trace_has(0, "CONNECTING", "TIMEOUT", "CLOSED"), "qmp: trace "
	    "ends CONNECTING --TIMEOUT--> CLOSED");
	qmp_free(q);
}

static void
test_handshake_failures(void)
{
	struct qmp_opts o = opts("mute");
	struct qmp *q;

	reset();
	W.fk.greet = false;
	o.handshake_ms = 100;
	q = qmp_new(W.r, W.env, W.fk.path, &o, NULL);
	ok(RUN_UNTIL(W.closed) && W.why.code == ERR_TIMEOUT && !W.ready &&
	    trace_has(0, "GREETING", "TIMEOUT", "CLOSED"), "qmp: no greeting "
	    "within handshake_ms: ERR_TIMEOUT");
	diag("%s", W.why.msg);
	qmp_free(q);
	W.fk.greet = true;

	reset();
	W.fk.caps_fail = true;
	o = opts("refused");
	q = qmp_new(W.r, W.env, W.fk.path, &o, NULL);
	ok(RUN_UNTIL(W.closed) && W.why.code == EIO && !W.ready &&
	    strstr(W.why.msg, "GenericError") != NULL, "qmp: refused "
	    "capabilities close the connection with QEMU's error");
	qmp_free(q);
	W.fk.caps_fail = false;
}

/*
 * Freeing from inside callbacks: a reply's while more input waits, a
 * pending call's ERR_CLOSED callback (on_closed must then not run), and
 * on_closed itself.
 */
static void
test_free_in_callbacks(void)
{
	struct qmp *q = connect_ready("free-in-reply");
	struct qmp_opts o;

	call(q, "echo-free", NULL, 0, 0);
	call(q, "hold", NULL, 0, 1);
	W.free_in_reply = q;
	ok(RUN_UNTIL(W.res[0].done && W.fk.fd < 0) &&
	    W.free_in_reply == NULL && W.nevents == 0 && !W.res[1].done &&
	    !W.closed, "qmp: qmp_free in a reply callback stops everything "
	    "else");

	q = connect_ready("free-in-closing");
	call(q, "hold", NULL, 0, 0);
	call(q, "hold", NULL, 0, 1);
	RUN_UNTIL(W.fk.nheld == 2);
	W.free_in_reply = q;
	fake_hangup(&W.fk);
	ok(RUN_UNTIL(W.res[0].done) && W.free_in_reply == NULL &&
	    W.res[0].code == ERR_CLOSED && !W.res[1].done && !W.closed,
	    "qmp: qmp_free in an ERR_CLOSED callback drops the rest and "
	    "on_closed");

	o = opts("free-in-closed");
	reset();
	q = qmp_new(W.r, W.env, W.fk.path, &o, NULL);
	RUN_UNTIL(W.ready);
	W.free_in_closed = q;
	fake_hangup(&W.fk);
	ok(RUN_UNTIL(W.closed) && W.free_in_closed == NULL, "qmp: qmp_free "
	    "in on_closed is safe");
}

static void
test_adopt(void)
{
	static const char second[] = "{\"return\": {}, \"id\": 0}\r\n"
	    "{\"QMP\": {}}\r\n";
	struct qmp_opts o = opts("adopted");
	struct qmp *q;
	int sv[2];

	reset();
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	q = qmp_adopt(W.r, W.env, sv[0], &o);
	ok(!qmp_ready(q) && trace_has(0, "CONNECTING", "CONNECTED",
	    "GREETING"), "qmp: qmp_adopt starts in GREETING");
	qmp_feed(q, (const uint8_t *)GREETING, strlen(GREETING));
	qmp_feed(q, (const uint8_t *)second, strlen(second));
	ok(RUN_UNTIL(W.closed) && W.why.code == ERR_PROTOCOL &&
	    trace_has(0, "READY", "GREETING_RX", "CLOSED"), "qmp: a second "
	    "greeting in READY is a protocol error");
	qmp_free(q);
	close(sv[1]);
}

static void
test_bad_path(void)
{
	char path[200];
	struct err err = { 0 };

	memset(path, 'a', sizeof path - 1);
	path[sizeof path - 1] = '\0';
	ok(qmp_new(W.r, W.env, path, NULL, &err) == NULL &&
	    err.code == ENAMETOOLONG, "qmp: a path too long for sun_path "
	    "fails at once");
}

/* ---- real QEMU -------------------------------------------------------- */

/* arg: where the watcher is kept; it is spent once this runs. */
static void
child_cb(pid_t pid, int status, void *arg)
{
	struct reactor_child **cp = arg;

	(void)pid;
	reactor_child_free(*cp);
	*cp = NULL;
	W.child_done = true;
	W.child_status = status;
}

static pid_t
qemu_spawn(const char *sock)
{
	posix_spawn_file_actions_t fa;
	char spec[160];
	char *argv[] = {
		(char *)"qemu-system-x86_64", (char *)"-M", (char *)"none",
		(char *)"-nodefaults", (char *)"-display", (char *)"none",
		(char *)"-qmp", spec, NULL,
	};
	pid_t pid = -1;

	snprintf(spec, sizeof spec, "unix:%s,server=on,wait=off", sock);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0)
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	return pid;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Sequential query-status round trips: min, median, p99 in microseconds. */
static void
qemu_measure(struct qmp *q)
{
	uint64_t rtt[200], t0;
	int i;

	for (i = 0; i < 200; i++) {
		reset();
		t0 = time_mono_ns();
		call(q, "query-status", NULL, 5000, 0);
		if (!RUN_UNTIL(W.res[0].done))
			break;
		rtt[i] = time_mono_ns() - t0;
	}
	if (i < 200)
		return;
	qsort(rtt, 200, sizeof rtt[0], cmp_u64);
	diag("real QEMU: query-status round trip over 200 calls: min %.1f us, "
	    "median %.1f us, p99 %.1f us", rtt[0] / 1e3, rtt[100] / 1e3,
	    rtt[197] / 1e3);
}

static void
qemu_queries(struct qmp *q)
{
	json_t *ret = NULL;
	bool status;

	reset();
	call(q, "query-status", NULL, 5000, 0);
	call(q, "query-version", NULL, 5000, 1);
	call(q, "no-such-command", NULL, 5000, 2);
	if (RUN_UNTIL(W.res[2].done) && W.res[0].json != NULL)
		ret = json_loads(W.res[0].json, 0, NULL);
	status = json_is_string(json_object_get(ret, "status"));
	json_decref(ret);
	ok(W.res[0].code == 0 && status, "real QEMU: query-status returns a "
	    "\"status\" string (%s)", W.res[0].json);
	ok(W.res[1].code == 0 && W.res[1].json != NULL &&
	    strstr(W.res[1].json, "\"major\":7") != NULL, "real QEMU: "
	    "query-version says 7.x");
	ok(W.res[2].code == EIO && strstr(W.res[2].msg, "CommandNotFound"),
	    "real QEMU: an unknown command fails EIO CommandNotFound");
	diag("%s", W.res[2].msg);
}

static void
test_real_qemu(void)
{
	struct reactor_child *child;
	struct qmp_opts o = opts("qemu");
	char sock[128];
	uint64_t t0 = time_mono_ns();
	struct qmp *q;
	pid_t pid;
	bool up;

	snprintf(sock, sizeof sock, "%s/qemu.qmp", W.dir);
	if ((pid = qemu_spawn(sock)) < 0) {
		skip(6, "qemu-system-x86_64 cannot be spawned");
		return;
	}
	W.child_done = false;
	child = reactor_child_new(W.r, pid, child_cb, &child);
	reset();
	W.retries = 0;
	fsm_env_set_hook(W.env, retry_hook, NULL);
	q = qmp_new(W.r, W.env, sock, &o, NULL);
	up = RUN_UNTIL(W.ready);
	ok(up, "real QEMU: READY %.1f ms after spawn (%d connect retries)",
	    (double)(time_mono_ns() - t0) / 1e6, W.retries);
	fsm_env_set_hook(W.env, NULL, NULL);
	qemu_queries(q);
	qemu_measure(q);
	reset();
	call(q, "quit", NULL, 5000, 0);
	ok(RUN_UNTIL(W.closed && W.child_done) && W.shutdown_seen &&
	    W.res[0].done && W.why.code == ERR_CLOSED, "real QEMU: quit: "
	    "SHUTDOWN event, connection closed");
	diag("quit reply: %s; SHUTDOWN data %s", W.res[0].code == 0 ?
	    "return" : W.res[0].msg, W.ev_data != NULL ? W.ev_data : "-");
	ok(W.child_done && WIFEXITED(W.child_status) &&
	    WEXITSTATUS(W.child_status) == 0, "real QEMU: exits 0");
	if (!W.child_done) {
		kill(pid, SIGKILL);
		RUN_UNTIL(W.child_done);
	}
	qmp_free(q);
	unlink(sock);
}

int
main(void)
{
	struct qmp *q;
	struct err err = { 0 };

	log_init("t_qmp", LOG_LVL_ERROR, 2);
	str_copy(W.dir, "/tmp/t_qmp.XXXXXX", sizeof W.dir);
	if (mkdtemp(W.dir) == NULL)
		fatal("mkdtemp");
	W.r = reactor_new(&err);
	W.env = fsm_env_new();
	fake_init(&W.fk, "fake.sock");
	fake_listen(&W.fk);

	test_table();
	test_bad_path();
	q = connect_ready("main");
	test_handshake(q);
	test_calls(q);
	test_timeouts(q);
	test_errors_args(q);
	test_hangup(q);
	qmp_free(q);
	test_queued();
	test_protocol_error("garbage", "a line that is not JSON");
	test_protocol_error("array", "JSON that is not an object");
	test_protocol_error("long", "a line over QMP_LINE_MAX");
	test_connect_retry();
	test_connect_timeout();
	test_handshake_failures();
	test_free_in_callbacks();
	test_adopt();
	test_real_qemu();

	reset();
	fake_stop(&W.fk);
	rmdir(W.dir);
	fsm_env_free(W.env);
	reactor_free(W.r);
	return tap_done();
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A QMP connection: a non-blocking unix-socket dial that retries while
 * QEMU has not created its socket, newline-delimited JSON in both
 * directions (QEMU ends its lines with "\r\n"), a write queue that asks
 * for write readiness only while it holds data, and pending calls matched
 * to replies by id, each with its own timer. Its life is the qmp machine
 * (qmp_fsm.c); user callbacks run outside any dispatch, from I/O
 * callbacks, timers or deferred calls, so they may dispatch other
 * machines. Events into our own machine are posted, never dispatched, so
 * qmp_new() and friends work even from inside another machine's action.
 *
 * Lifetime (as proto_conn.c): callbacks may free the qmp. While one of its
 * callbacks is on the stack (busy > 0) qmp_free() only marks it doomed,
 * and the outermost callback frees it on the way out.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "qmp/qmp_int.h"

/* Bytes read per callback, and at most one input warning a second. */
#define QMP_READ_CHUNK		(64 * 1024)
#define QMP_WARN_INTERVAL_NS	1000000000ull

static void	qmp_io_cb(int, int, void *);
static void	qmp_connect_io_cb(int, int, void *);
static void	qmp_deadline_cb(void *);
static void	qmp_retry_cb(void *);
static void	qmp_pending_timeout_cb(void *);
static void	qmp_free_now(struct qmp *);

static unsigned qmp_serial;

/* Post a life event; data, if any, is a reason copied into the queue. */
static void
qmp_event(struct qmp *q, int event, const struct err *why)
{
	fsm_post(&q->fsm, event, why, why != NULL ? sizeof *why : 0);
}

/* The outermost callback frees a qmp that was freed under it. */
static void
qmp_unbusy(struct qmp *q)
{
	q->busy--;
	if (q->doomed && q->busy == 0)
		qmp_free_now(q);
}

/*
 * Warnings caused by what QEMU sends: at most one a second per qmp, so a
 * hostile peer cannot flood the log; the rest go to debug and are counted.
 */
static void PRINTF_LIKE(2, 3)
qmp_warn_input(struct qmp *q, const char *fmt, ...)
{
	uint64_t now = time_mono_ns();
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (q->warn_ns != 0 && now - q->warn_ns < QMP_WARN_INTERVAL_NS) {
		q->warn_dropped++;
		log_debug("qmp=%s %s", q->name, msg);
		return;
	}
	log_warnx("qmp=%s %s dropped=%u", q->name, msg, q->warn_dropped);
	q->warn_ns = now;
	q->warn_dropped = 0;
}

static struct qmp *
qmp_create(struct reactor *r, struct fsm_env *env, const struct qmp_opts *o)
{
	struct qmp *q = xcalloc(1, sizeof *q);

	q->r = r;
	q->fd = -1;
	q->pass_fd = -1;
	q->next_id = 1;
	if (o != NULL)
		q->opts = *o;
	if (q->opts.connect_ms == 0)
		q->opts.connect_ms = 10000;
	if (q->opts.handshake_ms == 0)
		q->opts.handshake_ms = 5000;
	snprintf(q->name, sizeof q->name, "%s#%u", q->opts.name != NULL ?
	    q->opts.name : "qmp", ++qmp_serial);
	q->opts.name = q->name;
	err_set(&q->why, ERR_CLOSED, "qmp %s: connection closed", q->name);
	buf_init(&q->in);
	buf_init(&q->out);
	TAILQ_INIT(&q->pending);
	q->timer = reactor_timer_new(r, qmp_deadline_cb, q);
	q->retry = reactor_timer_new(r, qmp_retry_cb, q);
	fsm_init(&q->fsm, &qmp_fsm_def, env, q->name, q);
	return q;
}

struct qmp *
qmp_new(struct reactor *r, struct fsm_env *env, const char *path,
    const struct qmp_opts *opts, struct err *err)
{
	struct sockaddr_un sun;
	struct qmp *q;

	if (path == NULL || path[0] == '\0')
		return err_set(err, EINVAL, "qmp: empty socket path"), NULL;
	if (strlen(path) >= sizeof sun.sun_path)
		return err_set(err, ENAMETOOLONG, "qmp: socket path too "
		    "long: %s", path), NULL;
	q = qmp_create(r, env, opts);
	q->path = xstrdup(path);
	qmp_event(q, QMP_EV_START, NULL);
	return q;
}

struct qmp *
qmp_adopt(struct reactor *r, struct fsm_env *env, int fd,
    const struct qmp_opts *opts)
{
	struct qmp *q = qmp_create(r, env, opts);

	q->fd = fd;
	(void)fd_set_nonblock_cloexec(fd);
	qmp_event(q, QMP_EV_CONNECTED, NULL);
	return q;
}

bool
qmp_ready(const struct qmp *q)
{
	return q->fsm.state == QMP_ST_READY;
}

size_t
qmp_pending(const struct qmp *q)
{
	return q->npending;
}

const char *
qmp_name(const struct qmp *q)
{
	return q->name;
}

/* Watch for reading while open and for writing while output is queued. */
static void
qmp_rearm(struct qmp *q)
{
	if (q->io == NULL || q->fd < 0)
		return;
	reactor_io_set(q->io, REACTOR_READ |
	    (buf_used(&q->out) > 0 ? REACTOR_WRITE : 0));
}

/* ---- dialing ---------------------------------------------------------- */

/* QEMU has not created or not yet listened on its socket: try again. */
static bool
qmp_dial_transient(int e)
{
	return e == ENOENT || e == ECONNREFUSED || e == EAGAIN;
}

/* Act on the outcome of a connect(): e is 0 or an errno. */
static void
qmp_dial_result(struct qmp *q, int e)
{
	struct err why;

	if (e == 0) {
		qmp_event(q, QMP_EV_CONNECTED, NULL);
		return;
	}
	if (e == EINPROGRESS) {
		/* Completion (or failure) shows up as write readiness. */
		q->io = reactor_io_new(q->r, q->fd, REACTOR_WRITE,
		    qmp_connect_io_cb, q);
		return;
	}
	close_fd(&q->fd);
	q->dial_errno = e;
	if (qmp_dial_transient(e)) {
		reactor_timer_start(q->retry, QMP_RETRY_MS, false);
		return;
	}
	err_set(&why, e, "qmp %s: connect %s: %s", q->name, q->path,
	    strerror(e));
	log_warnx("qmp=%s path=%s connect error=\"%s\"", q->name, q->path,
	    strerror(e));
	qmp_event(q, QMP_EV_CONNECT_FAILED, &why);
}

void
qmp_do_start(struct qmp *q)
{
	reactor_timer_start(q->timer, q->opts.connect_ms, false);
	qmp_do_dial(q);
}

void
qmp_do_dial(struct qmp *q)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	/* qmp_new() checked the length. */
	str_copy(sun.sun_path, q->path, sizeof sun.sun_path);
	q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (q->fd < 0) {
		qmp_dial_result(q, errno);
		return;
	}
	if (connect(q->fd, (struct sockaddr *)&sun, sizeof sun) == 0)
		qmp_dial_result(q, 0);
	else
		qmp_dial_result(q, errno);
}

/* A non-blocking connect finished; SO_ERROR says how. */
static void
qmp_connect_io_cb(int fd, int what, void *arg)
{
	struct qmp *q = arg;
	socklen_t len = sizeof(int);
	int soerr = 0;

	(void)what;
	q->busy++;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		soerr = errno;
	reactor_io_free(q->io);
	q->io = NULL;
	qmp_dial_result(q, soerr);
	qmp_unbusy(q);
}

static void
qmp_retry_cb(void *arg)
{
	struct qmp *q = arg;

	q->busy++;
	qmp_event(q, QMP_EV_RETRY, NULL);
	qmp_unbusy(q);
}

static void
qmp_deadline_cb(void *arg)
{
	struct qmp *q = arg;

	q->busy++;
	qmp_event(q, QMP_EV_TIMEOUT, NULL);
	qmp_unbusy(q);
}

/* ---- handshake actions ------------------------------------------------ */

void
qmp_do_connected(struct qmp *q)
{
	reactor_timer_stop(q->retry);
	/* One budget for the greeting and the negotiation together. */
	reactor_timer_start(q->timer, q->opts.handshake_ms, false);
	q->dial_errno = 0;
	q->io = reactor_io_new(q->r, q->fd, REACTOR_READ, qmp_io_cb, q);
}

/* qmp-spec 4: leave capabilities negotiation mode, enabling no extras. */
void
qmp_do_negotiate(struct qmp *q)
{
	char line[64];
	int n;

	n = snprintf(line, sizeof line,
	    "{\"execute\":\"qmp_capabilities\",\"id\":%d}\n", QMP_CAPS_ID);
	buf_append(&q->out, line, (size_t)n);
	qmp_rearm(q);
}

static void
qmp_ready_notify_cb(void *arg)
{
	struct qmp *q = arg;

	q->busy++;
	if (!q->doomed && q->opts.on_ready != NULL)
		q->opts.on_ready(q, q->opts.arg);
	qmp_unbusy(q);
}

/* Queue a call's line for writing; it counts as sent from now on. */
static void
qmp_send(struct qmp *q, struct qmp_pending *p)
{
	if (p->pass_fd >= 0) {
		/* The fd rides on the first byte of this call's line. */
		q->pass_fd = take_fd(&p->pass_fd);
		q->pass_at = buf_used(&q->out);
	}
	buf_append(&q->out, p->line, strlen(p->line));
	free(p->line);
	p->line = NULL;
	qmp_rearm(q);
}

/* READY: send what was queued, in call order, and tell the owner. */
void
qmp_do_ready(struct qmp *q)
{
	struct qmp_pending *p;

	reactor_timer_stop(q->timer);
	TAILQ_FOREACH(p, &q->pending, entry)
		if (p->line != NULL)
			qmp_send(q, p);
	reactor_defer(q->r, qmp_ready_notify_cb, q);
}

/* ---- calls ------------------------------------------------------------ */

static void
qmp_pending_unlink(struct qmp *q, struct qmp_pending *p)
{
	TAILQ_REMOVE(&q->pending, p, entry);
	q->npending--;
}

static void
qmp_pending_free(struct qmp_pending *p)
{
	reactor_timer_free(p->timer);
	close_fd(&p->pass_fd);
	free(p->command);
	free(p->line);
	free(p);
}

/* Finish a call: unlink it, run its callback, free it. */
static void
qmp_pending_finish(struct qmp *q, struct qmp_pending *p, const json_t *ret,
    const struct err *err)
{
	qmp_pending_unlink(q, p);
	if (q->opts.call_hist != NULL)
		hist_add(q->opts.call_hist, time_mono_ns() - p->sent_ns);
	q->busy++;
	if (p->cb != NULL)
		p->cb(ret, err, p->arg);
	q->busy--;
	qmp_pending_free(p);
}

static void
qmp_pending_timeout_cb(void *arg)
{
	struct qmp_pending *p = arg;
	struct qmp *q = p->q;
	struct err err;

	err_set(&err, ERR_TIMEOUT, "qmp %s: %s timed out after %llu ms",
	    q->name, p->command, (unsigned long long)p->timeout_ms);
	q->busy++;
	qmp_pending_finish(q, p, NULL, &err);
	qmp_unbusy(q);
}

/* Any call with this id, queued or sent. */
static struct qmp_pending *
qmp_pending_find(struct qmp *q, int id)
{
	struct qmp_pending *p;

	TAILQ_FOREACH(p, &q->pending, entry)
		if (p->id == id)
			return p;
	return NULL;
}

/* The next free id > 0; ids wrap and skip calls still pending. */
static int
qmp_next_id(struct qmp *q)
{
	int id;

	do {
		id = q->next_id;
		q->next_id = q->next_id == INT32_MAX ? 1 : q->next_id + 1;
	} while (qmp_pending_find(q, id) != NULL);
	return id;
}

/* {"execute":command,"arguments":args,"id":id} and a newline. */
static char *
qmp_encode(const char *command, json_t *args, int id, struct err *err)
{
	json_t *o = json_object();
	char *s, *line;
	int bad;

	bad = json_object_set_new(o, "execute", json_string(command));
	if (args != NULL)
		bad |= json_object_set_new(o, "arguments", args);
	bad |= json_object_set_new(o, "id", json_integer(id));
	s = bad == 0 ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (s == NULL)
		return err_set(err, EINVAL, "qmp: cannot encode %s (not "
		    "UTF-8?)", command), NULL;
	/* JSON_COMPACT never emits a raw newline, so the line is one line. */
	line = xasprintf("%s\n", s);
	free(s);
	return line;
}

/* Argument checks for qmp_call(); args is released on failure. */
static int
qmp_call_check(struct qmp *q, const char *command, json_t *args,
    struct err *err)
{
	int ret = 0;

	if (q->fsm.state == QMP_ST_CLOSED || q->doomed)
		ret = err_set(err, ERR_CLOSED, "qmp %s: connection closed",
		    q->name);
	else if (command == NULL || command[0] == '\0')
		ret = err_set(err, EINVAL, "qmp %s: empty command", q->name);
	else if (args != NULL && !json_is_object(args))
		ret = err_set(err, EINVAL, "qmp %s: %s: arguments must be "
		    "an object", q->name, command);
	else if (q->npending >= QMP_CALLS_MAX)
		ret = err_set(err, EAGAIN, "qmp %s: %s: %d calls pending",
		    q->name, command, QMP_CALLS_MAX);
	if (ret < 0)
		json_decref(args);
	return ret;
}

static int
qmp_call_common(struct qmp *q, const char *command, json_t *args, int fd,
    uint64_t timeout_ms, qmp_reply_cb cb, void *arg, struct err *err)
{
	struct qmp_pending *p;
	char *line;
	int id;

	if (qmp_call_check(q, command, args, err) < 0)
		return -1;
	id = qmp_next_id(q);
	/* qmp_encode() takes args, encoded or not. */
	if ((line = qmp_encode(command, args, id, err)) == NULL)
		return -1;
	p = xcalloc(1, sizeof *p);
	p->q = q;
	p->id = id;
	p->command = xstrdup(command);
	p->line = line;
	p->cb = cb;
	p->arg = arg;
	p->pass_fd = fd;
	p->timeout_ms = timeout_ms;
	p->timer = reactor_timer_new(q->r, qmp_pending_timeout_cb, p);
	p->sent_ns = time_mono_ns();
	if (timeout_ms > 0)
		reactor_timer_start(p->timer, timeout_ms, false);
	TAILQ_INSERT_TAIL(&q->pending, p, entry);
	q->npending++;
	if (qmp_ready(q))
		qmp_send(q, p);
	return id;
}

int
qmp_call(struct qmp *q, const char *command, json_t *args,
    uint64_t timeout_ms, qmp_reply_cb cb, void *arg, struct err *err)
{
	return qmp_call_common(q, command, args, -1, timeout_ms, cb, arg,
	    err);
}

/* One fd in flight at a time keeps the byte it rides on unambiguous. */
static bool
qmp_fd_in_flight(const struct qmp *q)
{
	const struct qmp_pending *p;

	if (q->pass_fd >= 0)
		return true;
	TAILQ_FOREACH(p, &q->pending, entry)
		if (p->pass_fd >= 0)
			return true;
	return false;
}

int
qmp_call_fd(struct qmp *q, const char *command, json_t *args, int fd,
    uint64_t timeout_ms, qmp_reply_cb cb, void *arg, struct err *err)
{
	int dup_fd;

	if (qmp_fd_in_flight(q)) {
		json_decref(args);
		return err_set(err, EBUSY, "qmp %s: %s: an fd is already "
		    "being passed", q->name, command);
	}
	if ((dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0) {
		json_decref(args);
		return err_set(err, errno, "qmp %s: %s: dup fd: %m", q->name,
		    command);
	}
	return qmp_call_common(q, command, args, dup_fd, timeout_ms, cb,
	    arg, err);
}

void
qmp_cancel(struct qmp *q, int id)
{
	struct qmp_pending *p = qmp_pending_find(q, id);

	if (p == NULL)
		return;
	qmp_pending_unlink(q, p);
	qmp_pending_free(p);
}

/* ---- input ------------------------------------------------------------ */

/* "Class: desc" of an {"error":...} member, or -1 if it is malformed. */
static int
qmp_error_text(const json_t *e, const char **class, const char **desc)
{
	*class = json_string_value(json_object_get(e, "class"));
	*desc = json_string_value(json_object_get(e, "desc"));
	return *class != NULL && *desc != NULL ? 0 : -1;
}

/* A reply whose id names a sent call (qmp-spec 2.4). */
static void
qmp_reply(struct qmp *q, struct qmp_pending *p, const json_t *msg)
{
	const json_t *ret = json_object_get(msg, "return");
	const json_t *e = json_object_get(msg, "error");
	const char *class, *desc;
	struct err err;

	if (ret != NULL && e == NULL) {
		qmp_pending_finish(q, p, ret, NULL);
		return;
	}
	if (ret == NULL && qmp_error_text(e, &class, &desc) == 0) {
		err_set(&err, EIO, "qmp %s: %s: %s: %s", q->name, p->command,
		    class, desc);
		qmp_pending_finish(q, p, NULL, &err);
		return;
	}
	qmp_warn_input(q, "id=%d command=%s malformed reply", p->id,
	    p->command);
	err_set(&err, ERR_PROTOCOL, "qmp %s: %s: malformed reply", q->name,
	    p->command);
	qmp_pending_finish(q, p, NULL, &err);
}

/* The reply to our qmp_capabilities: an event for the machine. */
static void
qmp_caps_reply(struct qmp *q, const json_t *msg)
{
	const char *class, *desc;
	struct err why;

	if (json_object_get(msg, "return") != NULL) {
		qmp_event(q, QMP_EV_CAPS_OK, NULL);
		return;
	}
	if (qmp_error_text(json_object_get(msg, "error"), &class, &desc) < 0)
		class = desc = "malformed error";
	err_set(&why, EIO, "qmp %s: qmp_capabilities: %s: %s", q->name, class,
	    desc);
	qmp_event(q, QMP_EV_CAPS_FAILED, &why);
}

/* Route a reply by its id: ours, a sent call's, or nobody's. */
static void
qmp_route_reply(struct qmp *q, const json_t *msg)
{
	const json_t *idv = json_object_get(msg, "id");
	struct qmp_pending *p;
	json_int_t id;

	if (!json_is_integer(idv)) {
		qmp_warn_input(q, "reply without an integer id ignored");
		return;
	}
	id = json_integer_value(idv);
	if (id == QMP_CAPS_ID) {
		qmp_caps_reply(q, msg);
		return;
	}
	/* Queued calls were never sent: a reply to one is a stray. */
	p = id > 0 && id <= INT32_MAX ? qmp_pending_find(q, (int)id) : NULL;
	if (p == NULL || p->line != NULL) {
		log_debug("qmp=%s id=%lld reply for no pending call ignored",
		    q->name, (long long)id);
		return;
	}
	qmp_reply(q, p, msg);
}

/* qmp-spec 2.5: {"event":name,"data":{...},"timestamp":{...}}. */
static void
qmp_deliver_event(struct qmp *q, const char *name, const json_t *msg)
{
	const json_t *data = json_object_get(msg, "data");

	if (data != NULL && !json_is_object(data)) {
		qmp_warn_input(q, "event=%s data is not an object", name);
		data = NULL;
	}
	log_debug("qmp=%s event=%s", q->name, name);
	if (q->opts.on_event != NULL)
		q->opts.on_event(q, name, data, q->opts.arg);
}

/* One JSON object from QEMU: greeting, reply or event. */
static void
qmp_message(struct qmp *q, const json_t *msg)
{
	const json_t *banner = json_object_get(msg, "QMP");
	const char *event = json_string_value(json_object_get(msg, "event"));
	const json_t *v;

	if (json_is_object(banner)) {
		v = json_object_get(json_object_get(banner, "version"),
		    "qemu");
		log_debug("qmp=%s greeting qemu=%lld.%lld.%lld", q->name,
		    (long long)json_integer_value(json_object_get(v, "major")),
		    (long long)json_integer_value(json_object_get(v, "minor")),
		    (long long)json_integer_value(json_object_get(v,
		    "micro")));
		qmp_event(q, QMP_EV_GREETING_RX, NULL);
	} else if (event != NULL)
		qmp_deliver_event(q, event, msg);
	else if (json_object_get(msg, "return") != NULL ||
	    json_object_get(msg, "error") != NULL)
		qmp_route_reply(q, msg);
	else
		qmp_warn_input(q, "message neither greeting, reply nor event "
		    "ignored");
}

/* QEMU broke the protocol: log it once and close. */
static void
qmp_protocol_error(struct qmp *q, const char *what)
{
	struct err why;

	err_set(&why, ERR_PROTOCOL, "qmp %s: %s", q->name, what);
	log_warnx("qmp=%s protocol error, closing: %s", q->name, what);
	qmp_event(q, QMP_EV_PROTOCOL_ERROR, &why);
}

/* One line without its "\n"; anything but a JSON object is fatal. */
static void
qmp_line(struct qmp *q, const char *s, size_t len)
{
	json_error_t jerr;
	json_t *msg;
	char what[ERR_MSG_MAX / 2];

	while (len > 0 && (s[len - 1] == '\r' || s[len - 1] == ' ' ||
	    s[len - 1] == '\t'))
		len--;
	if (len == 0)
		return;
	msg = json_loadb(s, len, 0, &jerr);
	if (msg == NULL) {
		snprintf(what, sizeof what, "bad JSON at column %d: %s",
		    jerr.column, jerr.text);
		qmp_protocol_error(q, what);
		return;
	}
	if (json_is_object(msg))
		qmp_message(q, msg);
	else
		qmp_protocol_error(q, "message is not a JSON object");
	json_decref(msg);
}

/*
 * Handle every complete line in the input. Stops when a callback freed the
 * qmp or the connection closed. scanned remembers how far a previous call
 * looked for "\n", so a long line is scanned once, not once per read.
 */
static void
qmp_parse(struct qmp *q)
{
	const uint8_t *head, *nl;
	size_t used, len;
	char what[64];

	while (!q->doomed && q->io != NULL) {
		head = buf_head(&q->in);
		used = buf_used(&q->in);
		nl = memchr(head + q->scanned, '\n', used - q->scanned);
		len = nl != NULL ? (size_t)(nl - head) : used;
		if (len > QMP_LINE_MAX) {
			buf_consume(&q->in, used);
			q->scanned = 0;
			snprintf(what, sizeof what, "line longer than %u bytes",
			    QMP_LINE_MAX);
			qmp_protocol_error(q, what);
			return;
		}
		if (nl == NULL) {
			q->scanned = used;
			return;
		}
		q->scanned = 0;
		qmp_line(q, (const char *)head, len);
		buf_consume(&q->in, len + 1);
	}
}

void
qmp_feed(struct qmp *q, const uint8_t *data, size_t len)
{
	q->busy++;
	buf_append(&q->in, data, len);
	qmp_parse(q);
	qmp_unbusy(q);
}

/* EOF or an I/O error ends the connection. */
static void
qmp_eof(struct qmp *q, const char *op, int error)
{
	struct err why;

	if (buf_used(&q->in) > 0)
		log_debug("qmp=%s %zu bytes of a partial line at close",
		    q->name, buf_used(&q->in));
	if (error == 0)
		err_set(&why, ERR_CLOSED, "qmp %s: connection closed by peer",
		    q->name);
	else
		err_set(&why, ERR_CLOSED, "qmp %s: %s: %s", q->name, op,
		    strerror(error));
	qmp_event(q, QMP_EV_PEER_CLOSED, &why);
}

/* One bounded read per callback; the loop calls again if more is there. */
static void
qmp_read(struct qmp *q)
{
	ssize_t n;

	n = read(q->fd, buf_reserve(&q->in, QMP_READ_CHUNK), QMP_READ_CHUNK);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		qmp_eof(q, "read", n < 0 ? errno : 0);
		return;
	}
	buf_commit(&q->in, (size_t)n);
	qmp_parse(q);
}

/* Write the bytes before the fd plainly; the fd goes with the next. */
static ssize_t
qmp_write_some(struct qmp *q)
{
	union {
		struct cmsghdr	c;
		char		buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { (void *)(uintptr_t)buf_head(&q->out),
	    buf_used(&q->out) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (q->pass_fd < 0)
		return write(q->fd, iov.iov_base, iov.iov_len);
	if (q->pass_at > 0) {
		iov.iov_len = q->pass_at;
		if ((n = write(q->fd, iov.iov_base, iov.iov_len)) > 0)
			q->pass_at -= (size_t)n;
		return n;
	}
	memset(&ctl, 0, sizeof ctl);
	mh.msg_control = ctl.buf;
	mh.msg_controllen = sizeof ctl.buf;
	ctl.c.cmsg_level = SOL_SOCKET;
	ctl.c.cmsg_type = SCM_RIGHTS;
	ctl.c.cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(&ctl.c), &q->pass_fd, sizeof(int));
	if ((n = sendmsg(q->fd, &mh, MSG_NOSIGNAL)) > 0)
		close_fd(&q->pass_fd);
	return n;
}

static void
qmp_write(struct qmp *q)
{
	ssize_t n;

	n = qmp_write_some(q);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		qmp_eof(q, "write", errno);
		return;
	}
	buf_consume(&q->out, (size_t)n);
	qmp_rearm(q);
}

static void
qmp_io_cb(int fd, int what, void *arg)
{
	struct qmp *q = arg;

	(void)fd;
	q->busy++;
	if ((what & REACTOR_READ) && !q->doomed && q->io != NULL)
		qmp_read(q);
	/* The read may have closed the connection: re-check the fd. */
	if ((what & REACTOR_WRITE) && !q->doomed && q->io != NULL &&
	    buf_used(&q->out) > 0)
		qmp_write(q);
	qmp_unbusy(q);
}

/* ---- teardown --------------------------------------------------------- */

/*
 * Deferred after the qmp reached CLOSED: fail the pending calls, then tell
 * the owner. Runs outside any dispatch, so callbacks may do anything.
 */
static void
qmp_closed_notify_cb(void *arg)
{
	struct qmp *q = arg;
	struct qmp_pending *p;
	struct err err;

	q->busy++;
	err_set(&err, ERR_CLOSED, "qmp: connection closed");
	while (!q->doomed && (p = TAILQ_FIRST(&q->pending)) != NULL)
		qmp_pending_finish(q, p, NULL, &err);
	if (!q->doomed && q->opts.on_closed != NULL)
		q->opts.on_closed(q, &q->why, q->opts.arg);
	qmp_unbusy(q);
}

void
qmp_do_teardown(struct qmp *q, const struct err *why)
{
	struct qmp_pending *p;

	if (why != NULL)
		q->why = *why;
	log_debug("qmp=%s closed: %s", q->name, q->why.msg);
	reactor_timer_stop(q->timer);
	reactor_timer_stop(q->retry);
	/* Every pending call fails the same way: ERR_CLOSED, not a race. */
	TAILQ_FOREACH(p, &q->pending, entry)
		reactor_timer_stop(p->timer);
	reactor_io_free(q->io);
	q->io = NULL;
	close_fd(&q->fd);
	/* The input stays until the free: a line handler may be above us. */
	buf_consume(&q->out, buf_used(&q->out));
	reactor_defer(q->r, qmp_closed_notify_cb, q);
}

static void
qmp_free_now(struct qmp *q)
{
	struct qmp_pending *p;

	reactor_defer_cancel(q->r, q);
	while ((p = TAILQ_FIRST(&q->pending)) != NULL) {
		qmp_pending_unlink(q, p);
		qmp_pending_free(p);
	}
	fsm_fini(&q->fsm);
	reactor_timer_free(q->timer);
	reactor_timer_free(q->retry);
	reactor_io_free(q->io);
	close_fd(&q->fd);
	close_fd(&q->pass_fd);
	buf_fini(&q->in);
	buf_fini(&q->out);
	free(q->path);
	free(q);
}

void
qmp_free(struct qmp *q)
{
	if (q == NULL)
		return;
	if (q->busy > 0) {
		q->doomed = true;
		return;
	}
	qmp_free_now(q);
}

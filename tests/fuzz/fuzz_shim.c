/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the shim's trust boundary: the real Task service
 * (shim_task_methods[]), the real task and exec machines and their agent
 * reply callbacks (task_wait_cb, task_guest_event_cb, task_started_cb,
 * exec_wait_cb, exec_started_cb, stats_cb, pids_cb; GetMetrics, checked
 * and printed as Prometheus text), the stream path
 * (task_stream_cb, core_stdio_frame and its credit accounting) and the
 * agent channel's greeting (vsock_hello_cb), all in process.
 *
 * Only QEMU is fake: tests/fuzz/fake_vm.c replaces core/vm.c at link time
 * (no fork, no QMP, no signal sent), and its agent channel is the real
 * vsock serial dial to a unix socket this harness listens on. The harness
 * plays both peers. containerd's end is a socketpair adopted by the shim's
 * ttrpc server; the agent's end is what the dial connects to. The input is
 * a tape (tests/fuzz/fz_msg.h); byte 0 bit 0 sends the agent's greeting
 * as soon as the shim connects. Then each op byte is one of:
 *   containerd calls a Task method (a valid request with fuzzed fields,
 *   sometimes raw payload bytes); the agent answers one of the shim's
 *   pending requests (by method: a valid reply type with fuzzed fields,
 *   an error status, or raw bytes), sends a stream frame, raw bytes or
 *   a greeting, or closes; QEMU exits.
 * After each op the reactor runs a few turns and the invariants
 * kiln-fsmcheck states are checked: an exit is published at most once
 * per process; no live task has a stopped VM once the VM's news was
 * delivered. Teardown frees everything, so LeakSanitizer sees any leak.
 *
 * Host safety: mount(2) is wrapped to fail (a fuzzed Create names rootfs
 * mounts), and nothing is ever forked or signalled.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/fuzz/fake_vm.h"
#include "tests/fuzz/fz_msg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Linker-wrapped (-Wl,--wrap=...): see tests/fuzz/module.mk. */
void	__real_core_events_publish(struct core_events *, const char *,
	    const char *, const ProtobufCMessage *);
void	__wrap_core_events_publish(struct core_events *, const char *,
	    const char *, const ProtobufCMessage *);
int	__wrap_mount(const char *, const char *, const char *,
	    unsigned long, const void *);
int	__wrap_umount2(const char *, int);


#define FZ_MAX_REQS	64	/* the shim's requests we may answer */
#define FZ_MAX_PROCS	8	/* processes whose exits are counted */
#define FZ_ABUF		(256 * 1024)
#define FZ_TURNS	6
#define FZ_OPS		256

struct fz_req {
	uint32_t	 stream;
	char		 method[32];
};

struct fz_proc {
	char		 id[PROTO_ID_MAX + 1];
	int		 exits;
};

/* Process-wide: the bundle and the socket the fake VM dials. */
static struct {
	char		 dir[64];
	char		 bundle[128];
	char		 out[160];
	int		 lfd;
} fz;

/* One input's world. */
static struct {
	struct shim		 s;
	struct proto_service	 svc;
	int			 cfd;		/* containerd's end */
	int			 afd;		/* the agent's end, or -1 */
	bool			 auto_hello;
	uint32_t		 next_stream;
	struct fz_req		 reqs[FZ_MAX_REQS];
	int			 nreqs;
	uint8_t			 abuf[FZ_ABUF];
	size_t			 alen;
	struct fz_proc		 procs[FZ_MAX_PROCS];
	int			 nprocs;
} run;

static uint8_t	fz_big[PROTO_STREAM_CHUNK];

static void	fz_pump(int);

/* ---- wrapped calls ----------------------------------------------------- */

/* Count exits per process id; an exec's added event starts a new life. */
void
__wrap_core_events_publish(struct core_events *ev, const char *topic,
    const char *type_url, const ProtobufCMessage *msg)
{
	const char *id = NULL;
	bool reset = false;
	int i;

	if (strcmp(topic, "/tasks/exit") == 0)
		id = ((const Containerd__Events__TaskExit *)(const void *)
		    msg)->id;
	else if (strcmp(topic, "/tasks/exec-added") == 0) {
		id = ((const Containerd__Events__TaskExecAdded *)(const void *)
		    msg)->exec_id;
		reset = true;
	}
	if (id != NULL) {
		for (i = 0; i < run.nprocs; i++)
			if (strcmp(run.procs[i].id, id) == 0)
				break;
		if (i == run.nprocs && i < FZ_MAX_PROCS) {
			snprintf(run.procs[i].id, sizeof run.procs[i].id, "%s",
			    id);
			run.procs[i].exits = 0;
			run.nprocs++;
		}
		if (i < run.nprocs) {
			if (reset)
				run.procs[i].exits = 0;
			else
				FZ_ASSERT(++run.procs[i].exits <= 1);
		}
	}
	__real_core_events_publish(ev, topic, type_url, msg);
}

int
__wrap_mount(const char *src, const char *target, const char *type,
    unsigned long flags, const void *data)
{
	(void)src;
	(void)target;
	(void)type;
	(void)flags;
	(void)data;
	errno = EPERM;
	return -1;
}

int
__wrap_umount2(const char *target, int flags)
{
	(void)target;
	(void)flags;
	return 0;
}

/* ---- set-up ------------------------------------------------------------ */

static void
fz_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		abort();
	fputs(text, f);
	fclose(f);
}

static void
fz_cleanup(void)
{
	char p[256];

	close(fz.lfd);
	snprintf(p, sizeof p, "%s/agent.sock", fz.dir);
	unlink(p);
	snprintf(p, sizeof p, "%s/config.json", fz.bundle);
	unlink(p);
	snprintf(p, sizeof p, "%s/%s", fz.bundle, SHIM_STATE_FILE);
	unlink(p);
	snprintf(p, sizeof p, "%s/rootfs", fz.bundle);
	rmdir(p);
	rmdir(fz.bundle);
	unlink(fz.out);
	rmdir(fz.dir);
}

/* A bundle without network namespace or hooks, and the agent's socket. */
static void
fz_setup(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	if (fz.dir[0] != '\0')
		return;
	log_init("fuzz", LOG_LVL_ERROR, -1);
	snprintf(fz.dir, sizeof fz.dir, "/tmp/kiln-fuzz-shim-XXXXXX");
	if (mkdtemp(fz.dir) == NULL)
		abort();
	snprintf(fz.bundle, sizeof fz.bundle, "%s/bundle", fz.dir);
	snprintf(fz.out, sizeof fz.out, "%s/stdout", fz.dir);
	mkdir(fz.bundle, 0700);
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s/config.json",
	    fz.bundle);
	fz_write_file(sun.sun_path, "{\"ociVersion\":\"1.0.2\",\"process\":"
	    "{\"args\":[\"sh\"],\"cwd\":\"/\"},\"root\":{\"path\":"
	    "\"rootfs\"},\"hostname\":\"fz\",\"linux\":{\"namespaces\":"
	    "[{\"type\":\"pid\"},{\"type\":\"mount\"}]}}");
	snprintf(fake_vm_agent_path, sizeof fake_vm_agent_path,
	    "%s/agent.sock", fz.dir);
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", fake_vm_agent_path);
	fz.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fz.lfd < 0 || bind(fz.lfd, (struct sockaddr *)&sun,
	    sizeof sun) < 0 || listen(fz.lfd, 8) < 0)
		abort();
	atexit(fz_cleanup);
}

/* FZ_TRACE=1: every transition on stderr, to read a crash's story. */
static void
fz_trace_hook(const struct fsm_trace_rec *rec, void *arg)
{
	(void)arg;
	fprintf(stderr, "fsm %s/%s: %s --%s--> %s %s\n", rec->def->name,
	    rec->id, fsm_state_name(rec->def, rec->from),
	    fsm_event_name(rec->def, rec->event),
	    fsm_state_name(rec->def, rec->to), fsm_result_name(rec->result));
}

static void
fz_world_new(bool auto_hello)
{
	struct shim *s = &run.s;
	struct proto_conn_opts o = { .name = "containerd" };
	struct err err;
	int sv[2];

	memset(&run, 0, offsetof(typeof(run), abuf));
	run.alen = 0;
	run.nprocs = 0;
	run.afd = -1;
	run.auto_hello = auto_hello;
	run.next_stream = 1;
	s->r = reactor_new(&err);
	s->env = fsm_env_new();
	if (getenv("FZ_TRACE") != NULL)
		fsm_env_set_hook(s->env, fz_trace_hook, NULL);
	s->cfg.qemu = (char *)(uintptr_t)"/nonexistent/qemu";
	s->cfg.kernel = s->cfg.initrd = s->cfg.image_dir =
	    (char *)(uintptr_t)"/nonexistent";
	s->cfg.accel = (char *)(uintptr_t)"tcg";
	s->cfg.transport = (char *)(uintptr_t)"serial";
	/* 9p: an EROFS rootfs would fork mkfs.erofs (t_jail covers it). */
	s->cfg.rootfs = (char *)(uintptr_t)"9p";
	s->cfg.vcpus = 1;
	s->cfg.mem_mib = 128;
	s->cfg.boot_timeout_ms = 60000;
	s->cfg.stop_timeout_ms = 60000;
	s->cfg.agent_timeout_ms = 60000;
	s->namespace = (char *)(uintptr_t)"fuzz";
	s->id = (char *)(uintptr_t)"fz";
	s->bundle = fz.bundle;
	TAILQ_INIT(&s->members);
	run.svc.name = "containerd.task.v2.Task";
	run.svc.methods = shim_task_methods;
	run.svc.nmethods = shim_task_nmethods;
	run.svc.arg = s;
	s->server = proto_server_new(s->r, s->env, &run.svc, 1);
	s->events = core_events_new(s->r, s->env, NULL, "fuzz");
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) < 0)
		abort();
	proto_server_adopt(s->server, sv[0], &o);
	run.cfd = sv[1];
}

static void
fz_world_free(void)
{
	struct shim *s = &run.s;
	char p[256];

	/* The shim's life ends after its VM's: QEMU goes first. */
	if (fake_vm_current != NULL && !vm_is_stopped(fake_vm_current))
		fake_vm_qemu_exited(fake_vm_current, 9);
	fz_pump(FZ_TURNS);
	close_fd(&run.afd);
	close_fd(&run.cfd);
	/* Never block on a peer: drain what is ready, then free. */
	reactor_run_once(s->r, false);
	if (s->task != NULL && s->task->run_dir != NULL)
		rmdir(s->task->run_dir);
	task_free(s->task);
	proto_server_free(s->server);
	core_events_free(s->events);
	reactor_timer_free(s->exit_timer);
	reactor_free(s->r);
	fsm_env_free(s->env);
	snprintf(p, sizeof p, "%s/%s", fz.bundle, SHIM_STATE_FILE);
	unlink(p);
	/* Anything a straggler left for the next input. */
	while (accept4(fz.lfd, NULL, NULL, SOCK_CLOEXEC) >= 0)
		;
}

/* ---- the peers' wire --------------------------------------------------- */

static void
fz_send(int fd, uint32_t stream, uint8_t type, const uint8_t *body,
    size_t len)
{
	struct proto_hdr h = { (uint32_t)len, stream, type, 0 };
	uint8_t hdr[PROTO_HDR_LEN];

	if (fd < 0)
		return;
	proto_hdr_encode(hdr, &h);
	/* A full socket drops the frame: the shim must cope with that too. */
	if (write(fd, hdr, sizeof hdr) != (ssize_t)sizeof hdr)
		return;
	if (len > 0 && write(fd, body, len) < 0)
		return;
}

static void
fz_hello(int variant)
{
	static const char body[] = PROTO_AGENT_HELLO;

	switch (variant) {
	case 0:
		fz_send(run.afd, 0, PROTO_FT_KILN_HELLO, (const uint8_t *)body,
		    strlen(body));
		break;
	case 1:
		fz_send(run.afd, 0, PROTO_FT_KILN_HELLO,
		    (const uint8_t *)"kiln.agent.v0", strlen(body));
		break;
	case 2:
		fz_send(run.afd, 0, PROTO_FT_RESPONSE, (const uint8_t *)body,
		    strlen(body));
		break;
	default:
		/* Half a greeting: the rest may come with a later op. */
		fz_send(run.afd, 0, PROTO_FT_KILN_HELLO, (const uint8_t *)body,
		    strlen(body) / 2);
		break;
	}
}

static void
fz_accept(void)
{
	int fd;

	if (run.afd >= 0)
		return;
	fd = accept4(fz.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	run.afd = fd;
	if (run.auto_hello)
		fz_hello(0);
}

/* The shim's frames to the agent: requests are kept to be answered. */
static void
fz_agent_read(void)
{
	struct proto_hdr h;
	Ttrpc__Request *req;
	ssize_t n;
	size_t off = 0;

	if (run.afd < 0)
		return;
	while ((n = read(run.afd, run.abuf + run.alen, sizeof run.abuf -
	    run.alen)) > 0)
		run.alen += (size_t)n;
	while (run.alen - off >= PROTO_HDR_LEN) {
		proto_hdr_decode(run.abuf + off, &h);
		if (h.len > sizeof run.abuf - PROTO_HDR_LEN) {
			close_fd(&run.afd);	/* not a shim we know */
			run.alen = 0;
			return;
		}
		if (run.alen - off < PROTO_HDR_LEN + h.len)
			break;
		if (h.type == PROTO_FT_REQUEST && run.nreqs < FZ_MAX_REQS &&
		    (req = ttrpc__request__unpack(NULL, h.len, run.abuf + off +
		    PROTO_HDR_LEN)) != NULL) {
			run.reqs[run.nreqs].stream = h.stream;
			snprintf(run.reqs[run.nreqs].method,
			    sizeof run.reqs[0].method, "%s", req->method);
			run.nreqs++;
			ttrpc__request__free_unpacked(req, NULL);
		}
		off += PROTO_HDR_LEN + h.len;
	}
	memmove(run.abuf, run.abuf + off, run.alen - off);
	run.alen -= off;
}

/* containerd reads its replies (and ignores them). */
static void
fz_ctrd_drain(void)
{
	uint8_t buf[65536];

	while (read(run.cfd, buf, sizeof buf) > 0)
		;
}

static void
fz_pump(int turns)
{
	int i;

	for (i = 0; i < turns; i++) {
		reactor_run_once(run.s.r, false);
		fz_accept();
		fz_agent_read();
		fz_ctrd_drain();
	}
}

/* ---- containerd's calls ------------------------------------------------ */

/* Ids and paths that name what exists most of the time. */
static const char *
fz_shim_str(const ProtobufCFieldDescriptor *f, struct fz_tape *t, void *arg)
{
	static const char *const ids[] = { "fz", "fz", "fz", "other" };
	static const char *const eids[] = { "", "e1", "e2", "", "e1" };
	static const char *const none[] = { "" };
	const char *outs[] = { "", fz.out, "", "/dev/null", fz.dir };
	const char *bundles[] = { fz.bundle, fz.bundle, "relative" };

	(void)arg;
	if (strcmp(f->name, "id") == 0 || strcmp(f->name, "container_id") == 0)
		return fz_pick(t, ids, ARRAY_SIZE(ids));
	if (strcmp(f->name, "exec_id") == 0)
		return fz_pick(t, eids, ARRAY_SIZE(eids));
	if (strcmp(f->name, "bundle") == 0)
		return fz_pick(t, bundles, ARRAY_SIZE(bundles));
	/* Never a fuzzed path: the shim would create it wherever it names. */
	if (strcmp(f->name, "stdout") == 0 || strcmp(f->name, "stderr") == 0)
		return outs[fz_u8(t) % ARRAY_SIZE(outs)];
	if (strcmp(f->name, "stdin") == 0)
		return outs[fz_u8(t) % ARRAY_SIZE(outs)];
	if (strcmp(f->name, "checkpoint") == 0 ||
	    strcmp(f->name, "parent_checkpoint") == 0)
		return fz_pick(t, none, 1);
	return NULL;
}

static void
fz_ctrd_call(struct fz_tape *t)
{
	const struct proto_method *m = &shim_task_methods[fz_u8(t) %
	    shim_task_nmethods];
	Ttrpc__Request req = TTRPC__REQUEST__INIT;
	ProtobufCMessage *msg = NULL;
	uint8_t *payload = NULL, *frame;
	uint8_t mode = fz_u8(t);
	size_t len;

	req.service = (char *)(uintptr_t)(mode == 0xff ? "containerd.task."
	    "v3.Task" : "containerd.task.v2.Task");
	req.method = (char *)(uintptr_t)m->name;
	if (mode >= 0xe0) {
		req.payload.data = (uint8_t *)(uintptr_t)fz_bytes(t, fz_u8(t),
		    &req.payload.len);
	} else {
		msg = fz_msg_new(m->input, t, 3, fz_shim_str, NULL);
		payload = fz_msg_pack(msg, &len);
		req.payload.data = payload;
		req.payload.len = len;
	}
	if (getenv("FZ_TRACE") != NULL)
		fprintf(stderr, "containerd: %s (%zu bytes)\n", m->name,
		    req.payload.len);
	frame = fz_msg_pack(&req.base, &len);
	fz_send(run.cfd, run.next_stream, PROTO_FT_REQUEST, frame, len);
	run.next_stream += 2;
	free(frame);
	free(payload);
	if (msg != NULL)
		protobuf_c_message_free_unpacked(msg, NULL);
}

/* ---- the agent's answers ----------------------------------------------- */

static const ProtobufCMessageDescriptor *
fz_reply_type(const char *method)
{
	static const struct {
		const char			*method;
		const ProtobufCMessageDescriptor *d;
	} types[] = {
		{ "WaitProcess",
		  &kiln__agent__v1__wait_process_response__descriptor },
		{ "StartProcess",
		  &kiln__agent__v1__start_process_response__descriptor },
		{ "ListPids", &kiln__agent__v1__list_pids_response__descriptor },
		{ "Stats", &kiln__agent__v1__stats_response__descriptor },
		{ "NextEvent", &kiln__agent__v1__guest_event__descriptor },
		{ "Ping", &kiln__agent__v1__ping_response__descriptor },
		{ "GetMetrics",
		  &kiln__agent__v1__metrics_response__descriptor },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(types); i++)
		if (strcmp(types[i].method, method) == 0)
			return types[i].d;
	return &google__protobuf__empty__descriptor;
}

/*
 * A metrics answer the shim accepts must print: whatever the guest put
 * in it, the Prometheus text of a checked answer is built without a bad
 * read (the scrape path, core/metrics_srv.c, does exactly this).
 */
static void
fz_metrics_print(const ProtobufCMessage *msg)
{
	const Kiln__Agent__V1__MetricsResponse *r = (const void *)msg;
	struct err err;
	struct buf b;

	if (core_metrics_check(r, NULL, &err) < 0)
		return;
	buf_init(&b);
	core_metrics_prom(&b, "fuzz", NULL, r);
	buf_fini(&b);
}

static void
fz_agent_reply(struct fz_tape *t)
{
	Ttrpc__Response resp = TTRPC__RESPONSE__INIT;
	Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
	ProtobufCMessage *msg = NULL;
	uint8_t *payload = NULL, *frame;
	struct fz_req r;
	uint8_t mode;
	size_t len;
	int i;

	if (run.nreqs == 0)
		return;
	i = fz_u8(t) % run.nreqs;
	r = run.reqs[i];
	run.reqs[i] = run.reqs[--run.nreqs];
	mode = fz_u8(t);
	if (mode < 0x20) {
		st.code = 1 + mode % 15;
		st.message = (char *)(uintptr_t)"fuzzed failure";
		resp.status = &st;
	} else if (mode < 0x40)
		resp.payload.data = (uint8_t *)(uintptr_t)fz_bytes(t, fz_u8(t),
		    &resp.payload.len);
	else {
		msg = fz_msg_new(fz_reply_type(r.method), t, 3, fz_shim_str,
		    NULL);
		if (strcmp(r.method, "GetMetrics") == 0)
			fz_metrics_print(msg);
		payload = fz_msg_pack(msg, &len);
		resp.payload.data = payload;
		resp.payload.len = len;
	}
	frame = fz_msg_pack(&resp.base, &len);
	fz_send(run.afd, mode == 0xff ? r.stream + 2 : r.stream,
	    PROTO_FT_RESPONSE, frame, len);
	free(frame);
	free(payload);
	if (msg != NULL)
		protobuf_c_message_free_unpacked(msg, NULL);
}

static void
fz_agent_stream(struct fz_tape *t)
{
	Kiln__Agent__V1__StreamFrame *f;
	uint8_t *body;
	size_t len;
	uint8_t mode = fz_u8(t);

	if (mode >= 0xf0) {
		const uint8_t *p = fz_bytes(t, fz_u8(t), &len);

		fz_send(run.afd, 0, PROTO_FT_KILN_STREAM, p, len);
		return;
	}
	f = (void *)fz_msg_new(&kiln__agent__v1__stream_frame__descriptor, t,
	    1, fz_shim_str, NULL);
	if (mode >= 0xd0) {
		/* A full chunk: many of them overrun the output window. */
		free(f->data.data);
		f->data.data = xmalloc(sizeof fz_big);
		memcpy(f->data.data, fz_big, sizeof fz_big);
		f->data.len = sizeof fz_big;
	}
	if (mode < 0x80)
		f->fd = mode % 4;
	body = fz_msg_pack(&f->base, &len);
	fz_send(run.afd, 0, PROTO_FT_KILN_STREAM, body, len);
	free(body);
	protobuf_c_message_free_unpacked(&f->base, NULL);
}

/* ---- invariants -------------------------------------------------------- */

/* A task past create whose VM is stopped must have heard of it. */
static bool
fz_live_on_dead_vm(void)
{
	const struct task *t = run.s.task;

	if (t == NULL || t->vm == NULL || !vm_is_stopped(t->vm))
		return false;
	switch ((enum task_state)t->fsm.state) {
	case TASK_ST_CREATED:
	case TASK_ST_STARTING:
	case TASK_ST_RUNNING:
	case TASK_ST_PAUSING:
	case TASK_ST_PAUSED:
	case TASK_ST_RESUMING:
		return true;
	case TASK_ST_NEW:
	case TASK_ST_CREATING:
	case TASK_ST_EXITING:
	case TASK_ST_STOPPED:
	case TASK_ST_DELETING:
	case TASK_ST_DELETED:
	case TASK_ST__COUNT:
		return false;
	}
	return false;
}

static void
fz_check(void)
{
	if (fz_live_on_dead_vm())
		fz_pump(FZ_TURNS);	/* the news may be one turn away */
	FZ_ASSERT(!fz_live_on_dead_vm());
	if (run.s.task != NULL)
		FZ_ASSERT(run.s.task->fsm.state < TASK_ST__COUNT);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_tape t = { data, size, 0 };
	int ops = 0;
	size_t len;

	if (size < 1)
		return 0;
	fz_setup();
	fz_world_new(fz_u8(&t) & 1);
	while (!fz_done(&t) && ops++ < FZ_OPS) {
		switch (fz_u8(&t) % 12) {
		case 0:
		case 1:
		case 2:
			fz_ctrd_call(&t);
			break;
		case 3:
		case 4:
		case 5:
			fz_agent_reply(&t);
			break;
		case 6:
		case 7:
			fz_agent_stream(&t);
			break;
		case 8:
			if (run.afd >= 0) {
				const uint8_t *p = fz_bytes(&t, fz_u8(&t),
				    &len);

				if (write(run.afd, p, len) < 0)
					break;
			}
			break;
		case 9:
			fz_hello(fz_u8(&t) % 4);
			break;
		case 10:
			if (fake_vm_current != NULL &&
			    !vm_is_stopped(fake_vm_current))
				fake_vm_qemu_exited(fake_vm_current,
				    fz_u8(&t));
			break;
		case 11:
			close_fd(&run.afd);
			run.alen = 0;
			run.nreqs = 0;
			break;
		}
		fz_pump(FZ_TURNS);
		fz_check();
	}
	fz_world_free();
	return 0;
}

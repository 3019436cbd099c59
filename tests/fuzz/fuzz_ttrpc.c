/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for ttrpc framing, with raw bytes, on both of the shim's
 * connections, in the shim's real world (tests/fuzz/fz_world.c: the real
 * Task service registry, shim_task_methods[], served on the shim's
 * listening socket as shim.c registers it; the real task and exec
 * machines; the real agent channel; only QEMU is fake).
 * tests/fuzz/fuzz_shim.c drives the same world message by message; this
 * harness is its framing layer.
 *
 * Byte 0 sets the scene; the rest is the wire.
 *   bit 0     the side. 0 (server): the wire is containerd's, written to
 *             the shim's server connection: requests for every Task method,
 *             other frame types, garbage, partial frames, oversize lengths,
 *             calls in flight up to the 1024 limit and past it. The agent
 *             is a well-behaved fake that answers the shim's calls.
 *             1 (client): the wire is the agent's, written to the channel
 *             the shim dialled: the greeting, then replies to the shim's
 *             real agent calls (Empty, StartProcessResponse,
 *             WaitProcessResponse, ListPidsResponse, StatsResponse,
 *             MetricsResponse, GuestEvent) through the real reply
 *             callbacks, and StreamFrames through task_stream_cb.
 *   bits 1-2  how far a prelude takes the world first: 0 nowhere (server)
 *             or the VM dialled the agent, no greeting yet (client); 1 the
 *             task created; 2 started; 3 started, with containerd's Stats,
 *             Pids, ResizePty, Kill (SIGHUP), Exec e1 and Waits for both
 *             processes in flight (on the client side their agent calls
 *             are left for the wire to answer).
 *   bits 3-7  n: the wire is written 2^n bytes at a time (n >= 17: all at
 *             once; never more than 512 slices), the reactor turning in
 *             between, so frames split anywhere.
 * FZ_TRACE=1 prints the shim's agent calls with their stream ids (what a
 * client-side seed answers) and every transition.
 *
 * Checked after each slice: fz_world_check. After the input: every frame
 * containerd reads is a well-formed Response to a request it sent, and no
 * stream is answered more often than it was asked; a connection that
 * still serves has answered every request or holds it in flight; one that
 * closed was closed by an oversize frame, after answering it
 * RESOURCE_EXHAUSTED. On the agent's side, a channel the shim hung up on
 * is one its VM has heard of. Teardown frees everything (LeakSanitizer).
 *
 * A path "/tmp/kiln-fz-XXXXXX/bundle" on the wire names the scratch bundle
 * (fz_world_paths rewrites it in place: same length).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/fuzz/fz_world.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FZ_SLICES_MAX	512
#define FZ_STUCK	64	/* pumps without a byte written: give up */
#define FZ_SETTLE	64	/* rounds of FZ_TURNS for the world to settle */
#define FZ_WAITS	16	/* WaitProcess calls the fake agent holds */
#define FZ_PRELUDE_ID	0x7ff00001u	/* containerd's own stream ids */
#define FZ_TASK_SVC	"containerd.task.v2.Task"

enum fz_stage { FZ_FRESH, FZ_CREATED, FZ_STARTED, FZ_BUSY };

struct fz_ids {
	uint32_t	*v;
	size_t		 n;
	size_t		 cap;
};

struct fz_wait {
	uint32_t	 stream;
	char		 exec_id[PROTO_ID_MAX + 1];
};

/* One input's view of the wire, beside fz_run. */
static struct {
	struct fz_ids	 asked;		/* request frames containerd sent */
	struct fz_ids	 answered;	/* response frames it read */
	bool		 oversize;	/* an oversize header went out */
	uint32_t	 oversize_stream;
	bool		 exhausted;	/* ... and was answered so */
	struct buf	 in;		/* containerd's partial reply */
	uint32_t	 next_id;
	bool		 agent_auto;	/* the fake agent answers */
	struct fz_wait	 waits[FZ_WAITS];
	int		 nwaits;
	uint32_t	 next_pid;
	bool		 trace;
} fzt;

/* ---- bookkeeping ------------------------------------------------------- */

static void
fz_ids_add(struct fz_ids *ids, uint32_t id)
{
	if (ids->n == ids->cap) {
		ids->cap = ids->cap == 0 ? 256 : ids->cap * 2;
		ids->v = xreallocarray(ids->v, ids->cap, sizeof *ids->v);
	}
	ids->v[ids->n++] = id;
}

static int
fz_ids_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Every id of sub is in all, as often at least (a multiset inclusion). */
static bool
fz_ids_within(struct fz_ids *sub, struct fz_ids *all)
{
	size_t i, j = 0;

	if (sub->n == 0)
		return true;
	qsort(sub->v, sub->n, sizeof *sub->v, fz_ids_cmp);
	if (all->n > 0)
		qsort(all->v, all->n, sizeof *all->v, fz_ids_cmp);
	for (i = 0; i < sub->n; i++) {
		while (j < all->n && all->v[j] < sub->v[i])
			j++;
		if (j == all->n || all->v[j] != sub->v[i])
			return false;
		j++;
	}
	return true;
}

/*
 * What the shim's parser will make of containerd's wire: the request
 * frames it will route (each must be answered once), and where an
 * oversize header ends the connection. A partial frame is never routed.
 */
static void
fz_model(const uint8_t *p, size_t n)
{
	struct proto_hdr h;
	size_t off = 0;

	while (n - off >= PROTO_HDR_LEN) {
		proto_hdr_decode(p + off, &h);
		if (h.len > PROTO_FRAME_MAX) {
			fzt.oversize = true;
			fzt.oversize_stream = h.stream;
			fz_ids_add(&fzt.asked, h.stream);
			return;
		}
		if (n - off - PROTO_HDR_LEN < h.len)
			return;
		if (h.type == PROTO_FT_REQUEST)
			fz_ids_add(&fzt.asked, h.stream);
		off += PROTO_HDR_LEN + h.len;
	}
}

static void
fz_trace_answer(uint32_t stream, const Ttrpc__Response *resp)
{
	const Google__Rpc__Status *st = resp->status;

	fprintf(stderr, "containerd: stream %u answered %s%s%s\n", stream,
	    proto_code_name(st != NULL ? st->code : 0),
	    st != NULL && st->message[0] != '\0' ? ": " : "",
	    st != NULL ? st->message : "");
}

/* containerd reads the shim's replies: each a decodable Response. */
static void
fz_ctrd_reply(const uint8_t *p, size_t n)
{
	Ttrpc__Response *resp;
	struct proto_hdr h;

	buf_append(&fzt.in, p, n);
	while (buf_used(&fzt.in) >= PROTO_HDR_LEN) {
		proto_hdr_decode(buf_head(&fzt.in), &h);
		FZ_ASSERT(h.type == PROTO_FT_RESPONSE);
		FZ_ASSERT(h.len <= PROTO_FRAME_MAX);
		if (buf_used(&fzt.in) - PROTO_HDR_LEN < h.len)
			break;
		resp = ttrpc__response__unpack(NULL, h.len, buf_head(&fzt.in) +
		    PROTO_HDR_LEN);
		FZ_ASSERT(resp != NULL);
		fz_ids_add(&fzt.answered, h.stream);
		if (fzt.trace)
			fz_trace_answer(h.stream, resp);
		if (fzt.oversize && h.stream == fzt.oversize_stream &&
		    resp->status != NULL &&
		    resp->status->code == PROTO_RESOURCE_EXHAUSTED)
			fzt.exhausted = true;
		ttrpc__response__free_unpacked(resp, NULL);
		buf_consume(&fzt.in, PROTO_HDR_LEN + h.len);
	}
}

/* ---- the wire ---------------------------------------------------------- */

/*
 * Write p[0..n) to *fdp, slice bytes at a time, the world turning in
 * between and checked after each slice. Stops early once the shim hangs
 * up or stops reading (a connection draining after a protocol error).
 */
static void
fz_feed(int *fdp, const uint8_t *p, size_t n, size_t slice)
{
	size_t off = 0, end;
	int stuck = 0;
	ssize_t w;

	while (off < n && *fdp >= 0) {
		end = n - off < slice ? n : off + slice;
		while (off < end && *fdp >= 0) {
			w = send(*fdp, p + off, end - off, MSG_NOSIGNAL |
			    MSG_DONTWAIT);
			if (w > 0) {
				off += (size_t)w;
				stuck = 0;
				continue;
			}
			if (w < 0 && errno != EAGAIN && errno != EINTR)
				return;
			if (++stuck > FZ_STUCK)
				return;
			fz_world_pump(1);
		}
		fz_world_pump(FZ_TURNS);
		fz_world_check();
	}
}

/* containerd calls method(arg) on a stream of its own. */
static void
fz_ctrd_call(const char *method, const ProtobufCMessage *arg)
{
	Ttrpc__Request req = TTRPC__REQUEST__INIT;
	struct proto_hdr h = { 0, fzt.next_id, PROTO_FT_REQUEST, 0 };
	uint8_t *body, *frame;
	size_t len;

	req.service = (char *)(uintptr_t)FZ_TASK_SVC;
	req.method = (char *)(uintptr_t)method;
	req.payload.data = fz_msg_pack(arg, &req.payload.len);
	body = fz_msg_pack(&req.base, &len);
	frame = xmalloc(PROTO_HDR_LEN + len);
	h.len = (uint32_t)len;
	proto_hdr_encode(frame, &h);
	memcpy(frame + PROTO_HDR_LEN, body, len);
	fz_ids_add(&fzt.asked, fzt.next_id);
	fzt.next_id += 2;
	fz_feed(&fz_run.cfd, frame, PROTO_HDR_LEN + len, SIZE_MAX);
	free(frame);
	free(body);
	free(req.payload.data);
}

/* ---- the fake agent ---------------------------------------------------- */

static void
fz_agent_answer(uint32_t stream, const ProtobufCMessage *m)
{
	Ttrpc__Response resp = TTRPC__RESPONSE__INIT;
	uint8_t *frame;
	size_t len;

	resp.payload.data = fz_msg_pack(m, &resp.payload.len);
	frame = fz_msg_pack(&resp.base, &len);
	fz_world_send(fz_run.afd, stream, PROTO_FT_RESPONSE, frame, len);
	free(frame);
	free(resp.payload.data);
}

/* A WaitProcess is held until a signal ends that process. */
static void
fz_agent_hold_wait(uint32_t stream, const Ttrpc__Request *req)
{
	Kiln__Agent__V1__ProcessRef *ref;

	ref = kiln__agent__v1__process_ref__unpack(NULL, req->payload.len,
	    req->payload.data);
	if (ref != NULL && fzt.nwaits < FZ_WAITS) {
		fzt.waits[fzt.nwaits].stream = stream;
		snprintf(fzt.waits[fzt.nwaits].exec_id,
		    sizeof fzt.waits[0].exec_id, "%s", ref->exec_id);
		fzt.nwaits++;
	}
	if (ref != NULL)
		kiln__agent__v1__process_ref__free_unpacked(ref, NULL);
}

/* The end of a process's output, as the agent reports it before its exit. */
static void
fz_agent_eofs(const char *cid, const char *eid)
{
	Kiln__Agent__V1__StreamFrame f = KILN__AGENT__V1__STREAM_FRAME__INIT;
	uint8_t *body;
	size_t len;

	f.container_id = (char *)(uintptr_t)cid;
	f.exec_id = (char *)(uintptr_t)eid;
	f.eof = true;
	for (f.fd = 1; f.fd <= 2; f.fd++) {
		body = fz_msg_pack(&f.base, &len);
		fz_world_send(fz_run.afd, 0, PROTO_FT_KILN_STREAM, body, len);
		free(body);
	}
}

/*
 * SIGINT, SIGKILL and SIGTERM end the process: its output ends, its Wait
 * is answered.
 */
static void
fz_agent_signal(const Ttrpc__Request *req)
{
	Kiln__Agent__V1__WaitProcessResponse wr =
	    KILN__AGENT__V1__WAIT_PROCESS_RESPONSE__INIT;
	Kiln__Agent__V1__SignalRequest *sr;
	int i;

	sr = kiln__agent__v1__signal_request__unpack(NULL, req->payload.len,
	    req->payload.data);
	if (sr == NULL)
		return;
	if (sr->signal == SIGINT || sr->signal == SIGKILL ||
	    sr->signal == SIGTERM) {
		wr.exit_status = 128 + sr->signal;
		wr.signaled = true;
		wr.signal = sr->signal;
		fz_agent_eofs(sr->container_id, sr->exec_id);
		for (i = 0; i < fzt.nwaits; i++) {
			if (strcmp(fzt.waits[i].exec_id, sr->exec_id) != 0)
				continue;
			fz_agent_answer(fzt.waits[i].stream, &wr.base);
			fzt.waits[i--] = fzt.waits[--fzt.nwaits];
		}
	}
	kiln__agent__v1__signal_request__free_unpacked(sr, NULL);
}

/*
 * The shim called the agent. The fake answers at once with the method's
 * reply type (a pid for StartProcess, two pids for ListPids, empty but
 * valid metrics, defaults otherwise), holds WaitProcess and NextEvent, and
 * has QEMU exit after Shutdown. When the wire plays the agent, calls are
 * only traced.
 */
static bool
fz_agent_req(uint32_t stream, const Ttrpc__Request *req)
{
	Kiln__Agent__V1__StartProcessResponse sp =
	    KILN__AGENT__V1__START_PROCESS_RESPONSE__INIT;
	Kiln__Agent__V1__ListPidsResponse lp =
	    KILN__AGENT__V1__LIST_PIDS_RESPONSE__INIT;
	Kiln__Agent__V1__MetricsResponse mr =
	    KILN__AGENT__V1__METRICS_RESPONSE__INIT;
	Kiln__Agent__V1__StatsResponse st =
	    KILN__AGENT__V1__STATS_RESPONSE__INIT;
	Io__Containerd__Cgroups__V2__Metrics cg =
	    IO__CONTAINERD__CGROUPS__V2__METRICS__INIT;
	const ProtobufCMessageDescriptor *d;
	uint32_t pids[2] = { 1, 7 };
	ProtobufCMessage *m;

	if (fzt.trace)
		fprintf(stderr, "agent: stream %u %s\n", stream, req->method);
	if (!fzt.agent_auto || strcmp(req->method, "NextEvent") == 0)
		return true;
	if (strcmp(req->method, "WaitProcess") == 0)
		return fz_agent_hold_wait(stream, req), true;
	if (strcmp(req->method, "StartProcess") == 0) {
		sp.pid = ++fzt.next_pid;
		fz_agent_answer(stream, &sp.base);
	} else if (strcmp(req->method, "ListPids") == 0) {
		lp.pids = pids;
		lp.n_pids = ARRAY_SIZE(pids);
		fz_agent_answer(stream, &lp.base);
	} else if (strcmp(req->method, "GetMetrics") == 0) {
		mr.runq_buckets = CORE_METRICS_BUCKETS;
		fz_agent_answer(stream, &mr.base);
	} else if (strcmp(req->method, "Stats") == 0) {
		st.metrics = &cg;
		fz_agent_answer(stream, &st.base);
	} else {
		d = fz_agent_reply_type(req->method);
		m = xcalloc(1, d->sizeof_message);
		protobuf_c_message_init(d, m);
		fz_agent_answer(stream, m);
		free(m);
	}
	if (strcmp(req->method, "SignalProcess") == 0)
		fz_agent_signal(req);
	if (strcmp(req->method, "Shutdown") == 0 && fake_vm_current != NULL &&
	    !vm_is_stopped(fake_vm_current))
		fake_vm_qemu_exited(fake_vm_current, 0);
	return true;
}

/* ---- the prelude ------------------------------------------------------- */

/* Turn the world until the task is in state st (or give up). */
static void
fz_settle_task(enum task_state st)
{
	int i;

	for (i = 0; i < FZ_SETTLE; i++) {
		if (fz_run.s.task != NULL &&
		    fz_run.s.task->fsm.state == (int)st)
			return;
		fz_world_pump(FZ_TURNS);
	}
}

/* containerd's calls with the task running: each waits on the agent. */
static void
fz_prelude_busy(void)
{
	Containerd__Task__V2__StatsRequest st =
	    CONTAINERD__TASK__V2__STATS_REQUEST__INIT;
	Containerd__Task__V2__PidsRequest pr =
	    CONTAINERD__TASK__V2__PIDS_REQUEST__INIT;
	Containerd__Task__V2__ResizePtyRequest rp =
	    CONTAINERD__TASK__V2__RESIZE_PTY_REQUEST__INIT;
	Containerd__Task__V2__KillRequest k =
	    CONTAINERD__TASK__V2__KILL_REQUEST__INIT;
	Containerd__Task__V2__ExecProcessRequest ex =
	    CONTAINERD__TASK__V2__EXEC_PROCESS_REQUEST__INIT;
	Containerd__Task__V2__WaitRequest w =
	    CONTAINERD__TASK__V2__WAIT_REQUEST__INIT;
	Google__Protobuf__Any spec = GOOGLE__PROTOBUF__ANY__INIT;
	static const char process[] = "{\"args\":[\"ls\"],\"cwd\":\"/\"}";
	char *id = (char *)(uintptr_t)"fz";

	st.id = pr.id = rp.id = k.id = ex.id = w.id = id;
	fz_ctrd_call("Stats", &st.base);
	fz_ctrd_call("Pids", &pr.base);
	rp.width = 80;
	rp.height = 24;
	fz_ctrd_call("ResizePty", &rp.base);
	k.signal = SIGHUP;
	fz_ctrd_call("Kill", &k.base);
	spec.type_url = (char *)(uintptr_t)"types.containerd.io/"
	    "opencontainers/runtime-spec/1/Process";
	spec.value.data = (uint8_t *)(uintptr_t)process;
	spec.value.len = strlen(process);
	ex.exec_id = (char *)(uintptr_t)"e1";
	ex.spec = &spec;
	ex.stdout = fz_host.out;
	fz_ctrd_call("Exec", &ex.base);
	fz_ctrd_call("Wait", &w.base);
	w.exec_id = (char *)(uintptr_t)"e1";
	fz_ctrd_call("Wait", &w.base);
	fz_world_pump(FZ_TURNS);
}

/*
 * Take the world to stage. On the client side the agent answers only
 * until the stage is reached: from then on, the wire is the agent.
 */
static void
fz_prelude(enum fz_stage stage, bool client)
{
	Containerd__Task__V2__CreateTaskRequest cr =
	    CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT;
	Containerd__Task__V2__StartRequest sr =
	    CONTAINERD__TASK__V2__START_REQUEST__INIT;
	int i;

	fzt.agent_auto = !(client && stage == FZ_FRESH);
	if (stage == FZ_FRESH && !client)
		return;
	cr.id = sr.id = (char *)(uintptr_t)"fz";
	cr.bundle = fz_host.bundle;
	cr.stdout = fz_host.out;
	fz_ctrd_call("Create", &cr.base);
	if (stage == FZ_FRESH) {
		for (i = 0; i < FZ_SETTLE && fz_run.afd < 0; i++)
			fz_world_pump(FZ_TURNS);
		return;
	}
	fz_settle_task(TASK_ST_CREATED);
	if (stage >= FZ_STARTED) {
		fz_ctrd_call("Start", &sr.base);
		fz_settle_task(TASK_ST_RUNNING);
	}
	fzt.agent_auto = !client;
	if (stage == FZ_BUSY)
		fz_prelude_busy();
}

/* ---- after the input --------------------------------------------------- */

/* Turn the world until nothing more is answered or held. */
static void
fz_settle(void)
{
	size_t answered = SIZE_MAX, calls = SIZE_MAX;
	int i;

	for (i = 0; i < FZ_SETTLE; i++) {
		fz_world_pump(FZ_TURNS);
		if (fzt.answered.n == answered &&
		    proto_server_calls(fz_run.s.server) == calls)
			break;
		answered = fzt.answered.n;
		calls = proto_server_calls(fz_run.s.server);
	}
}

/* The peer's end of fd saw the other hang up (after reading what's left). */
static bool
fz_hung_up(int fd, fz_reply_hook sink)
{
	uint8_t buf[4096];
	ssize_t n;

	if (fd < 0)
		return true;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		if (sink != NULL)
			sink(buf, (size_t)n);
	return n == 0;
}

static void
fz_verify(bool client)
{
	struct vm *vm = fake_vm_current;
	bool gone;

	fz_settle();
	fz_world_check();
	/* Each answer is to a request sent, none twice. */
	FZ_ASSERT(fz_ids_within(&fzt.answered, &fzt.asked));
	gone = fz_hung_up(fz_run.cfd, fz_ctrd_reply);
	if (fzt.oversize) {
		/* Refused with a clear error, then closed. */
		FZ_ASSERT(fzt.exhausted);
		FZ_ASSERT(gone && proto_server_conns(fz_run.s.server) == 0);
	} else {
		/* Still serving: all answered, or held. */
		FZ_ASSERT(!gone && proto_server_conns(fz_run.s.server) == 1);
		FZ_ASSERT(fzt.answered.n +
		    proto_server_calls(fz_run.s.server) == fzt.asked.n);
	}
	if (client && vm != NULL && vm == fake_vm_current) {
		/* An agent connection is serving, or the VM knows it's gone. */
		if (vm->conn != NULL)
			FZ_ASSERT(proto_conn_ready(vm->conn));
		if (fz_hung_up(fz_run.afd, NULL))
			FZ_ASSERT(vm->conn == NULL);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool client;
	enum fz_stage stage;
	unsigned n;
	size_t slice;
	uint8_t *wire;

	if (size < 1)
		return 0;
	fz_world_setup();
	client = data[0] & 1;
	stage = (enum fz_stage)((data[0] >> 1) & 3);
	n = data[0] >> 3;
	slice = n >= 17 ? SIZE_MAX : (size_t)1 << n;
	if (slice < (size - 1) / FZ_SLICES_MAX + 1)
		slice = (size - 1) / FZ_SLICES_MAX + 1;
	memset(&fzt, 0, sizeof fzt);
	fzt.next_id = FZ_PRELUDE_ID;
	fzt.trace = getenv("FZ_TRACE") != NULL;
	buf_init(&fzt.in);
	fz_world_new(!(client && stage == FZ_FRESH));
	fz_run.on_req = fz_agent_req;
	fz_run.on_reply = fz_ctrd_reply;
	fz_prelude(stage, client);

	wire = xmemdup(data + 1, size - 1);
	fz_world_paths(wire, size - 1);
	if (client)
		fz_feed(&fz_run.afd, wire, size - 1, slice);
	else {
		fz_model(wire, size - 1);
		fz_feed(&fz_run.cfd, wire, size - 1, slice);
	}
	free(wire);
	fz_verify(client);

	fz_world_free();
	buf_fini(&fzt.in);
	free(fzt.asked.v);
	free(fzt.answered.v);
	return 0;
}

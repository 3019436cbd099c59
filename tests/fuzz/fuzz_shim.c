/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the shim's trust boundary: the real Task service
 * (shim_task_methods[]), the real task and exec machines and their agent
 * reply callbacks (task_wait_cb, task_guest_event_cb, task_started_cb,
 * exec_wait_cb, exec_started_cb, stats_cb, pids_cb; GetMetrics, checked
 * and printed as Prometheus text), the stream path
 * (task_stream_cb, core_stdio_frame and its credit accounting) and the
 * agent channel's greeting (vsock_hello_cb), all in process, at the
 * message level (tests/fuzz/fuzz_ttrpc.c covers the same world's framing
 * with raw bytes).
 *
 * The world is tests/fuzz/fz_world.c's: only QEMU is fake, and the
 * harness plays both peers. The input is a tape (tests/fuzz/fz_msg.h);
 * byte 0 bit 0 sends the agent's greeting as soon as the shim connects.
 * Then each op byte is one of:
 *   containerd calls a Task method (a valid request with fuzzed fields,
 *   sometimes raw payload bytes); the agent answers one of the shim's
 *   pending requests (by method: a valid reply type with fuzzed fields,
 *   an error status, or raw bytes), sends a stream frame, raw bytes or
 *   a greeting, or closes; QEMU exits.
 * After each op the reactor runs a few turns and the invariants
 * kiln-fsmcheck states are checked (fz_world_check).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/fuzz/fz_world.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FZ_OPS		256

static uint8_t	fz_big[PROTO_STREAM_CHUNK];

/* ---- containerd's calls ------------------------------------------------ */

/* Ids and paths that name what exists most of the time. */
static const char *
fz_shim_str(const ProtobufCFieldDescriptor *f, struct fz_tape *t, void *arg)
{
	static const char *const ids[] = { "fz", "fz", "fz", "other" };
	static const char *const eids[] = { "", "e1", "e2", "", "e1" };
	static const char *const none[] = { "" };
	const char *outs[] = { "", fz_host.out, "", "/dev/null", fz_host.dir };
	const char *bundles[] = { fz_host.bundle, fz_host.bundle, "relative" };

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
	fz_world_send(fz_run.cfd, fz_run.next_stream, PROTO_FT_REQUEST, frame,
	    len);
	fz_run.next_stream += 2;
	free(frame);
	free(payload);
	if (msg != NULL)
		protobuf_c_message_free_unpacked(msg, NULL);
}

/* ---- the agent's answers ----------------------------------------------- */

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

	if (fz_run.nreqs == 0)
		return;
	i = fz_u8(t) % fz_run.nreqs;
	r = fz_run.reqs[i];
	fz_run.reqs[i] = fz_run.reqs[--fz_run.nreqs];
	mode = fz_u8(t);
	if (mode < 0x20) {
		st.code = 1 + mode % 15;
		st.message = (char *)(uintptr_t)"fuzzed failure";
		resp.status = &st;
	} else if (mode < 0x40)
		resp.payload.data = (uint8_t *)(uintptr_t)fz_bytes(t, fz_u8(t),
		    &resp.payload.len);
	else {
		msg = fz_msg_new(fz_agent_reply_type(r.method), t, 3,
		    fz_shim_str, NULL);
		if (strcmp(r.method, "GetMetrics") == 0)
			fz_metrics_print(msg);
		payload = fz_msg_pack(msg, &len);
		resp.payload.data = payload;
		resp.payload.len = len;
	}
	frame = fz_msg_pack(&resp.base, &len);
	fz_world_send(fz_run.afd, mode == 0xff ? r.stream + 2 : r.stream,
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

		fz_world_send(fz_run.afd, 0, PROTO_FT_KILN_STREAM, p, len);
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
	fz_world_send(fz_run.afd, 0, PROTO_FT_KILN_STREAM, body, len);
	free(body);
	protobuf_c_message_free_unpacked(&f->base, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_tape t = { data, size, 0 };
	int ops = 0;
	size_t len;

	if (size < 1)
		return 0;
	fz_world_setup();
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
			if (fz_run.afd >= 0) {
				const uint8_t *p = fz_bytes(&t, fz_u8(&t),
				    &len);

				if (write(fz_run.afd, p, len) < 0)
					break;
			}
			break;
		case 9:
			fz_world_hello(fz_u8(&t) % 4);
			break;
		case 10:
			if (fake_vm_current != NULL &&
			    !vm_is_stopped(fake_vm_current))
				fake_vm_qemu_exited(fake_vm_current,
				    fz_u8(&t));
			break;
		case 11:
			close_fd(&fz_run.afd);
			fz_run.alen = 0;
			fz_run.nreqs = 0;
			break;
		}
		fz_world_pump(FZ_TURNS);
		fz_world_check();
	}
	fz_world_free();
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the ttrpc frame decoder and request dispatcher. The
 * first input byte picks the side: even bytes feed a server connection
 * (frames parsed, requests decoded and routed to a small service, some
 * answered at once, some held), odd bytes a client connection with two
 * calls pending (responses decoded against their calls). Whatever the
 * bytes, nothing may crash, leak or trip a sanitizer.
 */
#include <string.h>
#include <sys/socket.h>

#include "proto/proto.h"
#include "containerd/task.pb-c.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct reactor		*fz_r;
static struct fsm_env		*fz_env;
static struct proto_server	*fz_server;
static struct proto_call	*fz_held[PROTO_HDR_LEN * 1024];
static size_t			 fz_nheld;

static void
fz_connect(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	Containerd__Task__V2__ConnectResponse resp =
	    CONTAINERD__TASK__V2__CONNECT_RESPONSE__INIT;

	(void)m;
	(void)arg;
	resp.shim_pid = 1;
	proto_call_reply(call, &resp.base);
}

static void
fz_wait(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	(void)m;
	(void)arg;
	if (fz_nheld < sizeof fz_held / sizeof fz_held[0])
		fz_held[fz_nheld++] = call;
	else
		proto_call_fail(call, PROTO_RESOURCE_EXHAUSTED, "full");
}

static void
fz_close(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	(void)m;
	(void)arg;
	proto_conn_close(proto_call_conn(call));
	proto_call_fail(call, PROTO_CANCELLED, "closing");
}

static const struct proto_method fz_methods[] = {
	{ "Connect", &containerd__task__v2__connect_request__descriptor,
	  fz_connect },
	{ "Wait", &containerd__task__v2__wait_request__descriptor, fz_wait },
	{ "Shutdown", &containerd__task__v2__shutdown_request__descriptor,
	  fz_close },
};
static const struct proto_service fz_services[] = {
	{ "containerd.task.v2.Task", fz_methods, 3, NULL },
};

static void
fz_reply_cb(const struct proto_reply *rep, void *arg)
{
	(void)rep;
	(void)arg;
}

static void
fz_stream_cb(struct proto_conn *c, const uint8_t *d, size_t n, void *arg)
{
	(void)c;
	(void)d;
	(void)n;
	(void)arg;
}

/* Free the process-wide fixtures so leak checkers see a clean exit. */
static void
fz_teardown(void)
{
	proto_server_free(fz_server);
	reactor_free(fz_r);
	fsm_env_free(fz_env);
}

static void
fz_setup(void)
{
	struct err err;

	if (fz_r != NULL)
		return;
	atexit(fz_teardown);
	log_init("fuzz", LOG_LVL_ERROR, -1);
	fz_r = reactor_new(&err);
	fz_env = fsm_env_new();
	fz_server = proto_server_new(fz_r, fz_env, fz_services, 1);
}

/* Pending calls on the client side so that responses have a target. */
static void
fz_client_calls(struct proto_conn *c)
{
	Containerd__Task__V2__ConnectRequest req =
	    CONTAINERD__TASK__V2__CONNECT_REQUEST__INIT;

	req.id = (char *)(uintptr_t)"fuzz";
	proto_conn_call(c, "containerd.task.v2.Task", "Connect", &req.base,
	    &containerd__task__v2__connect_response__descriptor, NULL,
	    fz_reply_cb, NULL, NULL);
	proto_conn_call(c, "containerd.task.v2.Task", "Connect", &req.base,
	    &containerd__task__v2__wait_response__descriptor, NULL,
	    fz_reply_cb, NULL, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_conn_opts o = { .on_stream = fz_stream_cb };
	struct proto_conn *c;
	int sv[2];
	size_t i;

	if (size < 1)
		return 0;
	fz_setup();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	if (data[0] % 2 == 0)
		c = proto_server_adopt(fz_server, sv[0], &o);
	else {
		c = proto_conn_adopt(fz_r, fz_env, sv[0], &o);
		fz_client_calls(c);
	}
	proto_conn_feed(c, data + 1, size - 1);
	for (i = 0; i < fz_nheld; i++)
		proto_call_fail(fz_held[i], PROTO_CANCELLED, "done");
	fz_nheld = 0;
	proto_conn_free(c);
	/* Let deferred teardown notifications run before the next input. */
	reactor_run_once(fz_r, false);
	close(sv[1]);
	return 0;
}

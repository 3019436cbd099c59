/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln-forward: publish one containerd.events.TaskCreate through
 * containerd's ttrpc Events/Forward with kiln's own ttrpc client, the path
 * the shim uses for every task event (reference section 4.1). Used by
 * tests/e2e/t_forward.sh to prove our bytes are what containerd expects.
 *
 *   kiln-forward SOCKET NAMESPACE CONTAINER_ID [--no-timestamp]
 *
 * Prints the reply's code and message; exits 0 when containerd said OK.
 */
#include <stdio.h>
#include <string.h>

#include "proto/proto.h"
#include "containerd/events.pb-c.h"
#include "containerd/events_service.pb-c.h"

struct fwd {
	struct reactor	*r;
	int		 code;
	bool		 done;
};

static void
fwd_reply_cb(const struct proto_reply *rep, void *arg)
{
	struct fwd *f = arg;

	f->code = rep->code;
	f->done = true;
	printf("code=%s message=\"%s\"\n", proto_code_name(rep->code),
	    rep->message != NULL ? rep->message : "");
	reactor_stop(f->r);
}

static void
fwd_timeout_cb(void *arg)
{
	struct fwd *f = arg;

	printf("code=TIMEOUT\n");
	reactor_stop(f->r);
}

/* Send Forward{Envelope{now, ns, /tasks/create, Any(TaskCreate)}}. */
static uint32_t
fwd_send(struct proto_conn *c, const char *ns, const char *id, bool no_ts,
    struct fwd *f, struct err *err)
{
	Containerd__Services__Events__Ttrpc__V1__ForwardRequest req =
	    CONTAINERD__SERVICES__EVENTS__TTRPC__V1__FORWARD_REQUEST__INIT;
	Containerd__Services__Events__Ttrpc__V1__Envelope env =
	    CONTAINERD__SERVICES__EVENTS__TTRPC__V1__ENVELOPE__INIT;
	Containerd__Events__TaskCreate ev = CONTAINERD__EVENTS__TASK_CREATE__INIT;
	struct proto_call_opts opts = { 5000, ns };
	Google__Protobuf__Timestamp ts;
	Google__Protobuf__Any any;
	uint32_t id_call;

	ev.container_id = (char *)(uintptr_t)id;
	ev.bundle = (char *)(uintptr_t)"/run/kiln/forward-test";
	ev.pid = 4242;
	proto_any_pack(&any, "containerd.events.TaskCreate", &ev.base);
	proto_timestamp_from_ns(&ts, time_real_ns());
	/* Without a timestamp containerd must refuse the envelope. */
	env.timestamp = no_ts ? NULL : &ts;
	env.namespace_ = (char *)(uintptr_t)ns;
	env.topic = (char *)(uintptr_t)"/tasks/create";
	env.event = &any;
	req.envelope = &env;
	id_call = proto_conn_call(c, "containerd.services.events.ttrpc.v1.Events",
	    "Forward", &req.base, &google__protobuf__empty__descriptor, &opts,
	    fwd_reply_cb, f, err);
	proto_any_clear(&any);
	return id_call;
}

int
main(int argc, char **argv)
{
	struct fwd f = { .code = -1 };
	struct reactor_timer *t;
	struct fsm_env *env;
	struct proto_conn *c;
	struct err err = { 0 };

	if (argc < 4) {
		fprintf(stderr, "usage: kiln-forward SOCKET NAMESPACE ID "
		    "[--no-timestamp]\n");
		return 2;
	}
	log_init("kiln-forward", LOG_LVL_WARN, 2);
	f.r = reactor_new(&err);
	env = fsm_env_new();
	c = proto_conn_dial(f.r, env, argv[1], NULL, &err);
	if (c == NULL || fwd_send(c, argv[2], argv[3], argc > 4 &&
	    strcmp(argv[4], "--no-timestamp") == 0, &f, &err) == 0) {
		fprintf(stderr, "kiln-forward: %s\n", err.msg);
		return 1;
	}
	t = reactor_timer_new(f.r, fwd_timeout_cb, &f);
	reactor_timer_start(t, 30000, false);
	reactor_run(f.r);
	proto_conn_free(c);
	reactor_free(f.r);
	fsm_env_free(env);
	return f.done && f.code == PROTO_OK ? 0 : 1;
}

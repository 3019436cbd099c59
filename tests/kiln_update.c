/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln-update: send the shim's Task/Update exactly as containerd does
 * (ctr has no `task update`): UpdateTaskRequest{id, resources = Any{
 * "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources",
 * JSON}} on the shim's ttrpc socket, in the namespace's metadata.
 *
 *   kiln-update SOCKET NAMESPACE ID RESOURCES_JSON
 *
 * Prints the reply's code and message; exits 0 when the shim said OK.
 */
#include <stdio.h>
#include <string.h>

#include "proto/proto.h"
#include "containerd/task.pb-c.h"

#define RESOURCES_URL \
	"types.containerd.io/opencontainers/runtime-spec/1/LinuxResources"

struct upd {
	struct reactor	*r;
	int		 code;
	bool		 done;
};

static void
upd_reply_cb(const struct proto_reply *rep, void *arg)
{
	struct upd *u = arg;

	u->code = rep->code;
	u->done = true;
	printf("code=%s message=\"%s\"\n", proto_code_name(rep->code),
	    rep->message != NULL ? rep->message : "");
	reactor_stop(u->r);
}

static void
upd_timeout_cb(void *arg)
{
	struct upd *u = arg;

	printf("code=TIMEOUT\n");
	reactor_stop(u->r);
}

static uint32_t
upd_send(struct proto_conn *c, const char *ns, const char *id,
    const char *json, struct upd *u, struct err *err)
{
	Containerd__Task__V2__UpdateTaskRequest req =
	    CONTAINERD__TASK__V2__UPDATE_TASK_REQUEST__INIT;
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
	struct proto_call_opts opts = { 180000, ns };

	any.type_url = (char *)(uintptr_t)RESOURCES_URL;
	any.value.data = (uint8_t *)(uintptr_t)json;
	any.value.len = strlen(json);
	req.id = (char *)(uintptr_t)id;
	req.resources = &any;
	return proto_conn_call(c, "containerd.task.v2.Task", "Update",
	    &req.base, &google__protobuf__empty__descriptor, &opts,
	    upd_reply_cb, u, err);
}

int
main(int argc, char **argv)
{
	struct upd u = { .code = -1 };
	struct reactor_timer *t;
	struct fsm_env *env;
	struct proto_conn *c;
	struct err err = { 0 };

	if (argc != 5) {
		fprintf(stderr, "usage: kiln-update SOCKET NAMESPACE ID "
		    "RESOURCES_JSON\n");
		return 2;
	}
	log_init("kiln-update", LOG_LVL_WARN, 2);
	u.r = reactor_new(&err);
	env = fsm_env_new();
	c = proto_conn_dial(u.r, env, argv[1], NULL, &err);
	if (c == NULL || upd_send(c, argv[2], argv[3], argv[4], &u,
	    &err) == 0) {
		fprintf(stderr, "kiln-update: %s\n", err.msg);
		return 1;
	}
	t = reactor_timer_new(u.r, upd_timeout_cb, &u);
	reactor_timer_start(t, 200000, false);
	reactor_run(u.r);
	reactor_timer_free(t);
	proto_conn_free(c);
	reactor_free(u.r);
	fsm_env_free(env);
	return u.done && u.code == PROTO_OK ? 0 : 1;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench-ttrpc: round trips per second of kiln's ttrpc over a unix socket,
 * one connection, with 1 and with 64 calls in flight. The server is a
 * forked process with its own reactor, as containerd and the shim are.
 *
 *   bench-ttrpc [CALLS]     (default 200000)
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "proto/proto.h"
#include "containerd/task.pb-c.h"

struct bench {
	struct reactor		*r;
	struct proto_conn	*c;
	long			 total;
	long			 sent;
	long			 done;
	int			 errors;
};

static void
b_connect(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	Containerd__Task__V2__ConnectResponse resp =
	    CONTAINERD__TASK__V2__CONNECT_RESPONSE__INIT;

	(void)m;
	(void)arg;
	resp.shim_pid = 1234;
	resp.task_pid = 5678;
	proto_call_reply(call, &resp.base);
}

static const struct proto_method b_methods[] = {
	{ "Connect", &containerd__task__v2__connect_request__descriptor,
	  b_connect },
};
static const struct proto_service b_services[] = {
	{ "containerd.task.v2.Task", b_methods, 1, NULL },
};

static void
b_serve(int lfd)
{
	struct reactor *r;
	struct fsm_env *env;
	struct err err = { 0 };

	r = reactor_new(&err);
	env = fsm_env_new();
	proto_server_listen(proto_server_new(r, env, b_services, 1), lfd,
	    true);
	reactor_run(r);
	_exit(0);
}

static void	b_send(struct bench *);

static void
b_reply_cb(const struct proto_reply *rep, void *arg)
{
	struct bench *b = arg;

	if (rep->code != PROTO_OK)
		b->errors++;
	if (++b->done == b->total)
		reactor_stop(b->r);
	else if (b->sent < b->total)
		b_send(b);
}

static void
b_send(struct bench *b)
{
	Containerd__Task__V2__ConnectRequest req =
	    CONTAINERD__TASK__V2__CONNECT_REQUEST__INIT;
	struct proto_call_opts o = { 0, "default" };

	req.id = (char *)(uintptr_t)"bench";
	b->sent++;
	proto_conn_call(b->c, "containerd.task.v2.Task", "Connect", &req.base,
	    &containerd__task__v2__connect_response__descriptor, &o,
	    b_reply_cb, b, NULL);
}

static void
b_run(struct bench *b, int depth, long calls)
{
	uint64_t t0;
	int i;

	b->total = calls;
	b->sent = b->done = 0;
	b->errors = 0;
	t0 = time_mono_ns();
	for (i = 0; i < depth; i++)
		b_send(b);
	reactor_run(b->r);
	printf("in_flight=%-3d calls=%ld errors=%d seconds=%.3f "
	    "round_trips_per_sec=%.0f\n", depth, calls, b->errors,
	    (double)(time_mono_ns() - t0) / 1e9,
	    (double)calls * 1e9 / (double)(time_mono_ns() - t0));
}

int
main(int argc, char **argv)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	long calls = argc > 1 ? atol(argv[1]) : 200000;
	struct bench b = { 0 };
	struct fsm_env *env;
	struct err err = { 0 };
	pid_t pid;
	int lfd;

	log_init("bench-ttrpc", LOG_LVL_WARN, 2);
	snprintf(sun.sun_path, sizeof sun.sun_path, "/tmp/kiln-bench-%d",
	    (int)getpid());
	unlink(sun.sun_path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (bind(lfd, (struct sockaddr *)&sun, sizeof sun) < 0 ||
	    listen(lfd, 16) < 0)
		fatal("bind %s", sun.sun_path);
	pid = fork();
	if (pid == 0)
		b_serve(lfd);
	close(lfd);
	b.r = reactor_new(&err);
	env = fsm_env_new();
	b.c = proto_conn_dial(b.r, env, sun.sun_path, NULL, &err);
	if (b.c == NULL)
		fatalx("%s", err.msg);
	b_run(&b, 1, calls / 4);
	b_run(&b, 64, calls);
	proto_conn_free(b.c);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	unlink(sun.sun_path);
	reactor_free(b.r);
	fsm_env_free(env);
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fake-qemu: stands in for qemu-system-x86_64 (config field "qemu") so the
 * shim can be shown a hostile or broken guest. It takes QEMU's command
 * line, serves QMP on the QMP chardev's socket and plays the agent on the
 * virtio-serial chardev socket, misbehaving as the file named by
 * $KILN_FAKE_MODE_FILE says (one word; default "good"):
 *
 *   good          greets, creates, starts, then reports exit 42
 *   garbage       greets, then sends bytes that are no ttrpc frame
 *   bad-hello     sends a greeting that is not the agent's
 *   silent        never greets (the boot must time out)
 *   die-create    exits when CreateContainer arrives
 *   hostile-exit  reports an exit status of 4000000000 and sends stream
 *                 frames for other containers and with broken fields
 *   hang          runs the container, then never answers SignalProcess
 *   refuse-plug   runs the container until signalled; QMP refuses every
 *                 device_add (as QEMU does with no room for a CPU)
 *   ost-refuse    the same, but device_add succeeds and the guest's
 *                 ACPI _OST then reports a failure (ACPI_DEVICE_OST)
 *   bad-metrics   runs the container until signalled; answers GetMetrics
 *                 with 1000 histogram buckets and a label-breaking id
 *
 * It exits when QMP asks it to quit or power down, or when killed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "proto/proto.h"
#include "kiln/agent.pb-c.h"

struct fake {
	struct reactor		*r;
	struct fsm_env		*env;
	struct proto_server	*server;
	char			 mode[32];
	struct proto_call	*wait;
	struct buf		 qmp_in;
	int			 qmp_fd;
};

static struct fake F;

/* The value of key=... in a QEMU option string. */
static char *
opt_value(const char *opts, const char *key)
{
	const char *p = strstr(opts, key);
	char *v, *q;

	if (p == NULL)
		return NULL;
	/* The value runs to the first single comma; ",," is a literal one. */
	v = q = xmalloc(strlen(p) + 1);
	for (p += strlen(key); *p != '\0'; p++) {
		if (*p == ',' && p[1] != ',')
			break;
		if (*p == ',')
			p++;
		*q++ = *p;
	}
	*q = '\0';
	return v;
}

static int
listen_unix(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0 ||
	    listen(fd, 4) < 0)
		fatal("listen %s", path);
	return fd;
}

/*
 * A socket chardev's listener: the socket the shim made and passed as
 * fd=N (kiln's way), or one bound at path= (tests that run QEMU alone).
 */
static int
chardev_listener(const char *opts)
{
	_cleanup_free_ char *fd = opt_value(opts, ",fd=");
	_cleanup_free_ char *path = NULL;

	if (fd != NULL)
		return atoi(fd);
	if ((path = opt_value(opts, "path=")) == NULL)
		fatalx("fake-qemu: %s: neither fd= nor path=", opts);
	return listen_unix(path);
}

static void
qmp_send(const char *line)
{
	(void)write_all(F.qmp_fd, line, strlen(line));
}

/* Answer the command in line with body (a JSON member), echoing its id. */
static void
qmp_answer(const char *line, const char *body)
{
	char reply[512];
	const char *id = NULL, *p;
	unsigned long n = 1;

	/* The command's id is the last "id" (device_add's arguments have one). */
	for (p = line; (p = strstr(p, "\"id\"")) != NULL; p++)
		id = p;
	if (id != NULL)
		n = strtoul(id + 4 + strspn(id + 4, ": "), NULL, 10);
	snprintf(reply, sizeof reply, "{%s, \"id\": %lu}\r\n", body, n);
	qmp_send(reply);
}

/* One vCPU present (booted), one free slot: what q35 with maxcpus says. */
#define FAKE_CPUS	"\"return\": [{\"type\": \"max-x86_64-cpu\", " \
	"\"vcpus-count\": 1, \"props\": {\"socket-id\": 0, \"core-id\": 1, " \
	"\"thread-id\": 0}}, {\"type\": \"max-x86_64-cpu\", \"vcpus-count\": " \
	"1, \"qom-path\": \"/machine/unattached/device[0]\", \"props\": " \
	"{\"socket-id\": 0, \"core-id\": 0, \"thread-id\": 0}}]"

static void
qmp_line(const char *line)
{
	if (strstr(line, "qmp_capabilities") != NULL)
		qmp_send("{\"return\": {}, \"id\": 0}\r\n");
	else if (strstr(line, "query-status") != NULL)
		qmp_answer(line, "\"return\": {\"status\": \"running\", "
		    "\"running\": true}");
	else if (strstr(line, "query-hotpluggable-cpus") != NULL)
		qmp_answer(line, FAKE_CPUS);
	else if (strstr(line, "device_add") != NULL &&
	    strcmp(F.mode, "ost-refuse") == 0) {
		/* QEMU plugged it; the guest's _OST says it could not. */
		qmp_answer(line, "\"return\": {}");
		qmp_send("{\"event\": \"ACPI_DEVICE_OST\", \"data\": {\"info\": "
		    "{\"device\": \"kcpu1\", \"slot\": \"1\", \"slot-type\": "
		    "\"CPU\", \"source\": 1, \"status\": 143}}, \"timestamp\": "
		    "{\"seconds\": 1, \"microseconds\": 0}}\r\n");
	} else if (strstr(line, "device_add") != NULL)
		qmp_answer(line, "\"error\": {\"class\": \"GenericError\", "
		    "\"desc\": \"fake: no room for this device\"}");
	else if (strstr(line, "qom-get") != NULL)
		qmp_answer(line, "\"return\": 0");
	else if (strstr(line, "qom-set") != NULL)
		qmp_answer(line, "\"return\": {}");
	else if (strstr(line, "quit") != NULL ||
	    strstr(line, "system_powerdown") != NULL)
		exit(0);
}

static void
qmp_read_cb(int fd, int what, void *arg)
{
	uint8_t buf[4096];
	ssize_t n;
	char *nl;

	(void)what;
	(void)arg;
	n = read(fd, buf, sizeof buf);
	if (n <= 0)
		exit(0);
	buf_append(&F.qmp_in, buf, (size_t)n);
	buf_append(&F.qmp_in, "", 1);
	F.qmp_in.len--;
	for (;;) {
		char *head = (char *)(F.qmp_in.data + F.qmp_in.off);

		if ((nl = strchr(head, '\n')) == NULL)
			break;
		*nl = '\0';
		qmp_line(head);
		buf_consume(&F.qmp_in, (size_t)(nl - head) + 1);
	}
}

static void
qmp_accept_cb(int fd, int what, void *arg)
{
	(void)what;
	(void)arg;
	F.qmp_fd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	qmp_send("{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7, \"minor\":"
	    " 2, \"micro\": 0}, \"package\": \"fake\"}, \"capabilities\": "
	    "[]}}\r\n");
	reactor_io_new(F.r, F.qmp_fd, REACTOR_READ, qmp_read_cb, NULL);
}

/* ---- the agent's side ------------------------------------------------ */

static void
h_create(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	(void)m;
	(void)arg;
	if (strcmp(F.mode, "die-create") == 0)
		exit(3);
	proto_call_reply_empty(call);
}

/* Stream frames no honest agent sends. */
static void
send_hostile_frames(struct proto_conn *c)
{
	struct proto_stream_msg m = { "someone-else", "", 1,
	    (const uint8_t *)"x", 1, false, 0 };
	static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0x0f };
	struct err err = { 0 };

	(void)proto_stream_send(c, &m, &err);
	(void)proto_conn_send_frame(c, PROTO_FT_KILN_STREAM, junk,
	    sizeof junk, &err);
}

static void
h_start(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	Kiln__Agent__V1__StartProcessResponse r =
	    KILN__AGENT__V1__START_PROCESS_RESPONSE__INIT;
	Kiln__Agent__V1__WaitProcessResponse w =
	    KILN__AGENT__V1__WAIT_PROCESS_RESPONSE__INIT;
	struct proto_conn *c = proto_call_conn(call);

	(void)m;
	(void)arg;
	r.pid = 7;
	proto_call_reply(call, &r.base);
	if (strcmp(F.mode, "hostile-exit") == 0 && c != NULL)
		send_hostile_frames(c);
	w.exit_status = strcmp(F.mode, "hostile-exit") == 0 ? 4000000000u :
	    42;
	if (F.wait != NULL && strcmp(F.mode, "hang") != 0 &&
	    strcmp(F.mode, "refuse-plug") != 0 &&
	    strcmp(F.mode, "ost-refuse") != 0 &&
	    strcmp(F.mode, "bad-metrics") != 0)
		proto_call_reply(TAKE_PTR(F.wait), &w.base);
}

static void
h_wait(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	(void)m;
	(void)arg;
	F.wait = call;
}

static void
h_signal(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	Kiln__Agent__V1__WaitProcessResponse w =
	    KILN__AGENT__V1__WAIT_PROCESS_RESPONSE__INIT;

	(void)m;
	(void)arg;
	if (strcmp(F.mode, "hang") == 0)
		return proto_call_drop(call);
	proto_call_reply_empty(call);
	/* refuse-plug and bad-metrics run until signalled: killed, then. */
	w.exit_status = 137;
	if (F.wait != NULL)
		proto_call_reply(TAKE_PTR(F.wait), &w.base);
}

/* What the guest has after a resize: the one vCPU it booted with. */
static void
h_resources(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	Kiln__Agent__V1__ResourcesResponse r =
	    KILN__AGENT__V1__RESOURCES_RESPONSE__INIT;

	(void)m;
	(void)arg;
	r.online_cpus = 1;
	r.mem_total_bytes = 256ull << 20;
	r.memory_max = -1;
	proto_call_reply(call, &r.base);
}

/* Out of agent.proto's bounds: the shim must refuse it, not print it. */
static void
h_metrics(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	Kiln__Agent__V1__MetricsResponse r =
	    KILN__AGENT__V1__METRICS_RESPONSE__INIT;
	Kiln__Agent__V1__ContainerMetrics c =
	    KILN__AGENT__V1__CONTAINER_METRICS__INIT, *cp = &c;

	(void)m;
	(void)arg;
	c.container_id = (char *)"x\"} 1\nevil";
	r.n_containers = 1;
	r.containers = &cp;
	r.runq_buckets = 1000;
	proto_call_reply(call, &r.base);
}

static void
h_stats(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	Kiln__Agent__V1__StatsResponse r = KILN__AGENT__V1__STATS_RESPONSE__INIT;
	Io__Containerd__Cgroups__V2__Metrics mt =
	    IO__CONTAINERD__CGROUPS__V2__METRICS__INIT;

	(void)m;
	(void)arg;
	r.metrics = &mt;
	proto_call_reply(call, &r.base);
}

static void
h_other(struct proto_call *call, const ProtobufCMessage *m, void *arg)
{
	(void)m;
	(void)arg;
	proto_call_reply_empty(call);
}

#define D(name)	&kiln__agent__v1__##name##__descriptor
static const struct proto_method fake_methods[] = {
	{ "CreateContainer", D(create_container_request), h_create },
	{ "StartProcess", D(process_ref), h_start },
	{ "WaitProcess", D(process_ref), h_wait },
	{ "SignalProcess", D(signal_request), h_signal },
	{ "UpdateResources", D(resources_request), h_resources },
	{ "RemoveContainer", D(container_ref), h_other },
	{ "GetMetrics", D(container_ref), h_metrics },
	{ "Stats", D(container_ref), h_stats },
	{ "Shutdown", &google__protobuf__empty__descriptor, h_other },
};
#undef D
static const struct proto_service fake_services[] = {
	{ "kiln.agent.v1.Agent", fake_methods, ARRAY_SIZE(fake_methods), NULL },
};

static void
agent_accept_cb(int fd, int what, void *arg)
{
	static const uint8_t garbage[] = "GET / HTTP/1.1\r\n\r\n0123456789";
	struct proto_hdr h = { 13, 0, PROTO_FT_KILN_HELLO, 0 };
	uint8_t hdr[PROTO_HDR_LEN];
	int cfd;

	(void)what;
	(void)arg;
	cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	if (cfd < 0 || strcmp(F.mode, "silent") == 0)
		return;
	if (strcmp(F.mode, "bad-hello") == 0)
		h.type = 0x42;
	proto_hdr_encode(hdr, &h);
	(void)write_all(cfd, hdr, sizeof hdr);
	(void)write_all(cfd, PROTO_AGENT_HELLO, 13);
	if (strcmp(F.mode, "garbage") == 0) {
		(void)write_all(cfd, garbage, sizeof garbage);
		return;
	}
	proto_server_adopt(F.server, cfd, NULL);
}

static void
read_mode(void)
{
	const char *path = getenv("KILN_FAKE_MODE_FILE");
	FILE *f;

	snprintf(F.mode, sizeof F.mode, "good");
	if (path == NULL || (f = fopen(path, "re")) == NULL)
		return;
	if (fgets(F.mode, sizeof F.mode, f) == NULL)
		snprintf(F.mode, sizeof F.mode, "good");
	F.mode[strcspn(F.mode, "\n")] = '\0';
	fclose(f);
}

int
main(int argc, char **argv)
{
	const char *agent = NULL, *qmp = NULL;
	struct err err = { 0 };
	int i;

	log_init("fake-qemu", LOG_LVL_WARN, 2);
	read_mode();
	for (i = 1; i + 1 < argc; i++) {
		if (strcmp(argv[i], "-chardev") == 0 &&
		    strstr(argv[i + 1], "id=agent,") != NULL)
			agent = argv[i + 1];
		if (strcmp(argv[i], "-chardev") == 0 &&
		    strstr(argv[i + 1], "id=qmp,") != NULL)
			qmp = argv[i + 1];
	}
	if (agent == NULL || qmp == NULL)
		fatalx("fake-qemu: no agent chardev or QMP socket");
	F.r = reactor_new(&err);
	F.env = fsm_env_new();
	F.server = proto_server_new(F.r, F.env, fake_services, 1);
	buf_init(&F.qmp_in);
	reactor_io_new(F.r, chardev_listener(qmp), REACTOR_READ,
	    qmp_accept_cb, NULL);
	reactor_io_new(F.r, chardev_listener(agent), REACTOR_READ,
	    agent_accept_cb, NULL);
	reactor_run(F.r);
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest end to end, without containerd: one VM (QEMU started directly,
 * TCG here), kiln-agent as PID 1, containers run by crun over a busybox
 * rootfs shared with virtio-9p, driven over the virtio-serial channel.
 * Each scenario is its own container in the same VM, so the VM also runs
 * many containers in sequence.
 */
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "tests/tap.h"
#include "tests/vmtest.h"

static struct vmt V;

static const char *
out_str(const char *cid, int fd)
{
	struct vmt_proc *p = vmt_proc(&V, cid, "");

	buf_append(&p->out[fd], "", 1);
	p->out[fd].len--;
	return (const char *)buf_head(&p->out[fd]);
}

static void
test_ping(char *release, size_t len)
{
	Kiln__Agent__V1__PingRequest req = KILN__AGENT__V1__PING_REQUEST__INIT;
	Kiln__Agent__V1__PingResponse *r = NULL;
	struct vmt_reply rep;

	ok(vmt_call(&V, "Ping", &req.base,
	    &kiln__agent__v1__ping_response__descriptor,
	    (ProtobufCMessage **)&r, &rep, 30000) == 0 && r != NULL,
	    "agent: Ping answered");
	snprintf(release, len, "%s", r != NULL ? r->kernel_release : "");
	ok(r != NULL && r->ready_ns >= r->boot_ns && r->boot_ns > 0,
	    "agent: Ping reports boot and ready times (ready %.2f s after "
	    "guest boot)", r != NULL ? (double)r->ready_ns / 1e9 : 0.0);
	if (r != NULL)
		kiln__agent__v1__ping_response__free_unpacked(r, NULL);
	vmt_reply_fini(&rep);
}

#define ARGS(...)	((const char *const[]){ __VA_ARGS__, NULL })

/* The guest's console (the agent logs there) has NEEDLE. */
static bool
console_has(const char *needle)
{
	_cleanup_free_ char *path = xasprintf("%s/console.log", V.dir);
	char line[1024];
	bool found = false;
	FILE *f = fopen(path, "re");

	while (f != NULL && !found && fgets(line, sizeof line, f) != NULL)
		found = strstr(line, needle) != NULL;
	if (f != NULL)
		fclose(f);
	return found;
}

static void
test_basic(const char *release)
{
	struct utsname host;
	struct err err = { 0 };
	uint32_t st = 0;

	ok(vmt_run(&V, "echo", ARGS("echo", "hello"), true, NULL, 0, &st,
	    &err) == 0 && st == 0, "crun: echo hello exits 0 (%s)",
	    err.msg);
	is_str(out_str("echo", 1), "hello\n", "stdio: stdout is \"hello\"");
	ok(vmt_run(&V, "exit7", ARGS("sh", "-c", "exit 7"), true, NULL, 0, &st,
	    &err) == 0 && st == 7, "crun: sh -c 'exit 7' reports 7");
	ok(vmt_run(&V, "uname", ARGS("uname", "-r"), true, NULL, 0, &st,
	    &err) == 0 && st == 0, "crun: uname -r runs");
	ok(console_has("crun sealed"), "crun runs from PID 1's sealed copy "
	    "(no copy of itself per run: CVE-2019-5736 guard)");
	uname(&host);
	ok(strncmp(out_str("uname", 1), release, strlen(release)) == 0,
	    "guest kernel: container sees %s", release);
	ok(strncmp(out_str("uname", 1), host.release, strlen(host.release)) !=
	    0, "guest kernel differs from the host's %s", host.release);
	ok(vmt_run(&V, "stderr", ARGS("sh", "-c", "echo oops >&2; exit 3"),
	    true, NULL, 0, &st, &err) == 0 && st == 3 &&
	    strcmp(out_str("stderr", 2), "oops\n") == 0,
	    "stdio: stderr is a stream of its own");
}

/* A running process: state RUNNING with a pid, and the cgroup's pids. */
static void
test_state_and_pids(const Kiln__Agent__V1__ProcessRef *pref)
{
	Kiln__Agent__V1__ContainerRef ref = KILN__AGENT__V1__CONTAINER_REF__INIT;
	Kiln__Agent__V1__ProcessStateResponse *st = NULL;
	Kiln__Agent__V1__ListPidsResponse *lp = NULL;
	struct vmt_reply rep;

	ok(vmt_call(&V, "ProcessState", &pref->base,
	    &kiln__agent__v1__process_state_response__descriptor,
	    (ProtobufCMessage **)&st, &rep, 30000) == 0 && st != NULL &&
	    st->status == 2 && st->pid > 1, "state: RUNNING with a guest pid "
	    "(%u)", st != NULL ? st->pid : 0);
	vmt_reply_fini(&rep);
	ref.container_id = pref->container_id;
	ok(vmt_call(&V, "ListPids", &ref.base,
	    &kiln__agent__v1__list_pids_response__descriptor,
	    (ProtobufCMessage **)&lp, &rep, 30000) == 0 && lp != NULL &&
	    lp->n_pids >= 1 && st != NULL && lp->pids[0] == st->pid,
	    "pids: the container's cgroup lists its process");
	vmt_reply_fini(&rep);
	if (st != NULL)
		kiln__agent__v1__process_state_response__free_unpacked(st,
		    NULL);
	if (lp != NULL)
		kiln__agent__v1__list_pids_response__free_unpacked(lp, NULL);
}

/* Kill a sleeping container: the signal comes back as 128+15. */
static void
test_kill(void)
{
	Kiln__Agent__V1__SignalRequest sr = KILN__AGENT__V1__SIGNAL_REQUEST__INIT;
	Kiln__Agent__V1__CreateContainerRequest cr =
	    KILN__AGENT__V1__CREATE_CONTAINER_REQUEST__INIT;
	Kiln__Agent__V1__ContainerRef ref = KILN__AGENT__V1__CONTAINER_REF__INIT;
	Kiln__Agent__V1__WaitProcessResponse *wr = NULL;
	Kiln__Agent__V1__ProcessRef pref = KILN__AGENT__V1__PROCESS_REF__INIT;
	_cleanup_free_ char *spec = vmt_spec(ARGS("sleep", "1000"), false);
	struct vmt_reply rep, wait;

	cr.container_id = pref.container_id = ref.container_id = sr.container_id =
	    (char *)"sleeper";
	pref.exec_id = sr.exec_id = (char *)"";
	cr.rootfs_tag = (char *)VMT_TAG;
	cr.spec_json.data = (uint8_t *)spec;
	cr.spec_json.len = strlen(spec);
	ok(vmt_call(&V, "CreateContainer", &cr.base, NULL, NULL, &rep,
	    30000) == 0, "kill: sleeper created (%s)", rep.message);
	vmt_call_async(&V, "WaitProcess", &pref.base, &wait);
	ok(vmt_call(&V, "StartProcess", &pref.base, NULL, NULL, &rep,
	    30000) == 0, "kill: sleeper started");
	test_state_and_pids(&pref);
	ok(vmt_call(&V, "RemoveContainer", &ref.base, NULL, NULL, &rep,
	    30000) < 0 && rep.code == PROTO_FAILED_PRECONDITION,
	    "kill: removing a running container is refused (%s)", rep.message);
	sr.signal = 15;
	ok(vmt_call(&V, "SignalProcess", &sr.base, NULL, NULL, &rep,
	    30000) == 0, "kill: SIGTERM delivered");
	ok(vmt_run_until(&V, &wait.done, 30000) && wait.code == 0,
	    "kill: WaitProcess answered after the signal");
	wr = kiln__agent__v1__wait_process_response__unpack(NULL, wait.len,
	    wait.packed);
	ok(wr != NULL && wr->signaled && wr->signal == 15 &&
	    wr->exit_status == 143 && wr->exited_at_sec > 0,
	    "kill: death by SIGTERM reported as 143 with a time");
	if (wr != NULL)
		kiln__agent__v1__wait_process_response__free_unpacked(wr, NULL);
	vmt_reply_fini(&wait);
	ok(vmt_call(&V, "SignalProcess", &sr.base, NULL, NULL, &rep,
	    30000) < 0 && rep.code == PROTO_NOT_FOUND,
	    "kill: signalling a finished process is NOT_FOUND");
	vmt_call_async(&V, "WaitProcess", &pref.base, &wait);
	ok(vmt_run_until(&V, &wait.done, 30000) && wait.code == 0,
	    "kill: a later Wait answers at once");
	vmt_reply_fini(&wait);
	ok(vmt_call(&V, "RemoveContainer", &ref.base, NULL, NULL, &rep,
	    30000) == 0, "kill: stopped container removed");
}

static uint64_t
fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	while (n-- > 0)
		h = (h ^ *p++) * 1099511628211ull;
	return h;
}

/* Does md5sum(1) of data print want? */
static bool
md5_matches(const uint8_t *data, size_t len, const char *want)
{
	char path[] = "/tmp/kiln-md5-XXXXXX", cmd[128], got[40] = "";
	FILE *f;
	int fd;

	if ((fd = mkstemp(path)) < 0)
		return false;
	write_all(fd, data, len);
	close(fd);
	snprintf(cmd, sizeof cmd, "md5sum %s", path);
	if ((f = popen(cmd, "r")) != NULL) {
		if (fgets(got, 33, f) == NULL)
			got[0] = '\0';
		pclose(f);
	}
	unlink(path);
	return strcmp(got, want) == 0;
}

static void
test_stdin_and_bulk(void)
{
	struct vmt_proc *p;
	struct err err = { 0 };
	uint8_t *data;
	uint32_t st = 0;
	size_t i, n = 3 * 1024 * 1024 + 123;
	char want[64];

	data = xmalloc(n);
	for (i = 0; i < n; i++)
		data[i] = (uint8_t)(i * 2654435761u >> 13);
	ok(vmt_run(&V, "cat", ARGS("cat"), true, data, n, &st, &err) == 0 &&
	    st == 0, "stdin: cat of %zu bytes exits 0 (%s)", n, err.msg);
	p = vmt_proc(&V, "cat", "");
	ok(buf_used(&p->out[1]) == n && fnv1a(buf_head(&p->out[1]), n) ==
	    fnv1a(data, n), "stdin: bytes come back exactly (%zu of %zu)",
	    buf_used(&p->out[1]), n);
	free(data);

	ok(vmt_run(&V, "bulk", ARGS("sh", "-c", "head -c 16777216 "
	    "/dev/urandom > /dev/shm/d && md5sum /dev/shm/d >&2 && "
	    "cat /dev/shm/d"), true, NULL, 0, &st, &err) == 0 && st == 0,
	    "stdout: 16 MiB container exits 0 (%s)", err.msg);
	p = vmt_proc(&V, "bulk", "");
	is_int(buf_used(&p->out[1]), 16777216, "stdout: 16 MiB arrived");
	snprintf(want, sizeof want, "%.32s", out_str("bulk", 2));
	ok(strlen(want) == 32 && md5_matches(buf_head(&p->out[1]),
	    buf_used(&p->out[1]), want), "stdout: md5 matches the guest's "
	    "(%s)", want);
}

/* Whatever the host sends wrong, the agent answers and keeps serving. */
static void
test_malformed(void)
{
	Kiln__Agent__V1__CreateContainerRequest cr =
	    KILN__AGENT__V1__CREATE_CONTAINER_REQUEST__INIT;
	Kiln__Agent__V1__SignalRequest sr = KILN__AGENT__V1__SIGNAL_REQUEST__INIT;
	Kiln__Agent__V1__StreamFrame junk = KILN__AGENT__V1__STREAM_FRAME__INIT;
	_cleanup_free_ char *good = vmt_spec(ARGS("true"), true);
	Kiln__Agent__V1__PingRequest ping = KILN__AGENT__V1__PING_REQUEST__INIT;
	const char *noargs = "{\"ociVersion\":\"1.0.2\",\"process\":"
	    "{\"args\":[]}}";
	struct vmt_reply rep;

	cr.container_id = (char *)"bad";
	cr.rootfs_tag = (char *)VMT_TAG;
	cr.spec_json.data = (uint8_t *)"{not json";
	cr.spec_json.len = 9;
	ok(vmt_call(&V, "CreateContainer", &cr.base, NULL, NULL, &rep,
	    30000) < 0 && rep.code == PROTO_INVALID_ARGUMENT,
	    "malformed: spec that is not JSON refused (%s)", rep.message);
	cr.spec_json.data = (uint8_t *)(uintptr_t)noargs;
	cr.spec_json.len = strlen(noargs);
	ok(vmt_call(&V, "CreateContainer", &cr.base, NULL, NULL, &rep,
	    30000) < 0 && rep.code == PROTO_INVALID_ARGUMENT,
	    "malformed: spec without args refused (%s)", rep.message);
	cr.container_id = (char *)"../escape";
	cr.spec_json.data = (uint8_t *)good;
	cr.spec_json.len = strlen(good);
	ok(vmt_call(&V, "CreateContainer", &cr.base, NULL, NULL, &rep,
	    30000) < 0 && rep.code == PROTO_INVALID_ARGUMENT,
	    "malformed: path-escaping container id refused (%s)", rep.message);
	cr.container_id = (char *)"badtag";
	cr.rootfs_tag = (char *)"no/such tag";
	ok(vmt_call(&V, "CreateContainer", &cr.base, NULL, NULL, &rep,
	    30000) < 0 && rep.code == PROTO_INVALID_ARGUMENT,
	    "malformed: bad rootfs tag refused (%s)", rep.message);
	junk.fd = 7;
	ok(vmt_call(&V, "CreateContainer", &junk.base, NULL, NULL, &rep,
	    30000) < 0 && rep.code == PROTO_INVALID_ARGUMENT,
	    "malformed: undecodable payload refused (%s)", rep.message);
	ok(vmt_call(&V, "NoSuchMethod", &ping.base, NULL, NULL, &rep,
	    30000) < 0 && rep.code == PROTO_UNIMPLEMENTED,
	    "malformed: unknown method is UNIMPLEMENTED");
	sr.container_id = (char *)"nobody";
	sr.exec_id = (char *)"";
	sr.signal = 9;
	ok(vmt_call(&V, "SignalProcess", &sr.base, NULL, NULL, &rep,
	    30000) < 0 && rep.code == PROTO_NOT_FOUND,
	    "malformed: unknown container is NOT_FOUND");
	ok(vmt_call(&V, "Ping", &ping.base, NULL, NULL, &rep, 30000) == 0,
	    "malformed: the agent still serves afterwards");
}

/*
 * TestHang: the agent stops answering. Every call then times out with a
 * clear error, and the VM can still be powered off (the agent's loop runs).
 */
static void
test_hang(void)
{
	Google__Protobuf__Empty e = GOOGLE__PROTOBUF__EMPTY__INIT;
	Kiln__Agent__V1__PingRequest ping = KILN__AGENT__V1__PING_REQUEST__INIT;
	struct vmt_reply hang, rep;

	vmt_call_deadline(&V, "TestHang", &e.base, &hang, 2000);
	vmt_call_deadline(&V, "Ping", &ping.base, &rep, 2000);
	ok(vmt_run_until(&V, &rep.done, 60000) && rep.code ==
	    PROTO_DEADLINE_EXCEEDED, "hang: a Ping after TestHang times out "
	    "(%s)", rep.message);
	ok(vmt_run_until(&V, &hang.done, 60000) && hang.code ==
	    PROTO_DEADLINE_EXCEEDED, "hang: TestHang itself is never "
	    "answered");
	vmt_reply_fini(&rep);
	vmt_reply_fini(&hang);
}

int
main(void)
{
	char release[65] = "", rootfs[64] = "/tmp/kiln-rootfs-XXXXXX", cmd[256];
	struct err err = { 0 };

	log_init("t_guest", LOG_LVL_WARN, 2);
	if (mkdtemp(rootfs) == NULL)
		return 1;
	snprintf(cmd, sizeof cmd, "tests/e2e/lib/mkbusybox-rootfs.sh %s",
	    rootfs);
	ok(system(cmd) == 0, "busybox rootfs built in %s", rootfs);
	ok(vmt_init(&V, &err) == 0, "driver ready");
	diag("accelerator: %s", V.accel);
	if (!ok(vmt_boot(&V, rootfs, &err) == 0, "VM boots and the agent "
	    "greets (%s)", err.msg)) {
		vmt_fini(&V);
		return tap_done();
	}
	diag("agent ready %.2f s after QEMU spawn",
	    (double)(V.t_ready_ns - V.t_spawn_ns) / 1e9);
	test_ping(release, sizeof release);
	test_basic(release);
	test_kill();
	test_stdin_and_bulk();
	test_malformed();
	ok(!V.protocol_error, "no malformed stream frame from the guest");
	test_hang();
	ok(vmt_powerdown(&V, &err) == 0, "the ACPI power button (QMP "
	    "system_powerdown) powers the guest off (%s)", err.msg);
	ok(WIFEXITED(V.qemu_status) && WEXITSTATUS(V.qemu_status) == 0,
	    "QEMU exited 0");
	vmt_fini(&V);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", rootfs);
	(void)system(cmd);
	return tap_done();
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The guest test driver; see vmtest.h. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <jansson.h>

#include "tests/vmtest.h"
#include "qmp/qmp.h"

#define VMT_BOOT_MS	60000	/* ~25x the measured TCG boot */

static const char *
vmt_image_dir(void)
{
	const char *d = getenv("KILN_GUEST_DIR");

	return d != NULL ? d : "build/guest";
}

int
vmt_init(struct vmt *v, struct err *err)
{
	memset(v, 0, sizeof *v);
	snprintf(v->dir, sizeof v->dir, "/tmp/kiln-vmt-XXXXXX");
	if (mkdtemp(v->dir) == NULL)
		return err_set(err, errno, "mkdtemp: %m");
	v->r = reactor_new(err);
	if (v->r == NULL)
		return -1;
	v->env = fsm_env_new();
	v->image_dir = xstrdup(vmt_image_dir());
	v->accel = core_accel_resolve("auto", v->image_dir);
	return 0;
}

static void
vmt_qemu_exit_cb(pid_t pid, int status, void *arg)
{
	struct vmt *v = arg;

	(void)pid;
	v->qemu_exited = true;
	v->qemu_status = status;
}

/* A frame from the guest: capture output, credit it, pump stdin. */
static void
vmt_stream_cb(struct proto_conn *c, const uint8_t *d, size_t n, void *arg)
{
	struct Kiln__Agent__V1__StreamFrame *f;
	struct proto_stream_msg m, credit;
	struct vmt *v = arg;
	struct vmt_proc *p;
	struct err err = { 0 };

	if (proto_stream_decode(d, n, &f, &m, &err) < 0) {
		v->protocol_error = true;
		return;
	}
	p = vmt_proc(v, m.container_id, m.exec_id);
	if (m.fd == 0) {
		p->stdin_credit += m.credit;
		vmt_stdin(v, p, NULL, 0, p->stdin_close);
	} else {
		buf_append(&p->out[m.fd], m.data, m.len);
		if (m.eof)
			p->eof[m.fd] = true;
		if (m.len > 0) {
			credit = (struct proto_stream_msg){ m.container_id,
			    m.exec_id, m.fd, NULL, 0, false, (uint32_t)m.len };
			(void)proto_stream_send(c, &credit, &err);
		}
	}
	proto_stream_free(f);
}

static void
vmt_chan_closed_cb(struct vsock_chan *ch, const struct err *why, void *arg)
{
	struct vmt *v = arg;

	(void)ch;
	(void)why;
	v->chan_closed = true;
	v->conn = NULL;
}

static void
vmt_chan_ready_cb(struct vsock_chan *ch, struct proto_conn *c, void *arg)
{
	struct vmt *v = arg;

	(void)ch;
	v->conn = c;
	v->t_ready_ns = time_mono_ns();
}

static int
vmt_spawn(struct vmt *v, const char *rootfs, struct err *err)
{
	_cleanup_free_ char *kernel = xasprintf("%s/vmlinux", v->image_dir);
	_cleanup_free_ char *initrd = xasprintf("%s/initrd.img", v->image_dir);
	_cleanup_free_ char *sock = xasprintf("%s/agent.sock", v->dir);
	_cleanup_free_ char *console = xasprintf("%s/console.log", v->dir);
	_cleanup_free_ char *qmp = xasprintf("%s/qmp.sock", v->dir);
	struct core_vm_opts o = {
		.kernel = kernel, .initrd = initrd, .mem_mib = 256, .vcpus = 1,
		.accel = v->accel, .agent_sock = sock, .console_log = console,
		.qmp_sock = qmp,
		.shares = { { rootfs, VMT_TAG } }, .nshares = 1,
		.cmdline_extra = getenv("KILN_GUEST_CMDLINE"),
		.tcg_cpu = CORE_TCG_CPU,
	};
	char **argv = core_qemu_argv(&o);

	v->t_spawn_ns = time_mono_ns();
	v->qemu_pid = fork();
	if (v->qemu_pid == 0) {
		int null = open("/dev/null", O_RDWR);

		/* QEMU dies with the test and never holds prove's pipes. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		signal(SIGPIPE, SIG_DFL);
		execvp(argv[0], argv);
		_exit(127);
	}
	core_argv_free(argv);
	if (v->qemu_pid < 0)
		return err_set(err, errno, "fork: %m");
	v->qemu_watch = reactor_child_new(v->r, v->qemu_pid, vmt_qemu_exit_cb,
	    v);
	return 0;
}

int
vmt_boot(struct vmt *v, const char *rootfs, struct err *err)
{
	_cleanup_free_ char *sock = xasprintf("%s/agent.sock", v->dir);
	struct vsock_opts o = {
		.name = "agent", .timeout_ms = VMT_BOOT_MS,
		.on_ready = vmt_chan_ready_cb, .on_closed = vmt_chan_closed_cb,
		.on_stream = vmt_stream_cb, .arg = v,
	};
	bool up = false;

	if (vmt_spawn(v, rootfs, err) < 0)
		return -1;
	v->chan = vsock_dial_serial(v->r, v->env, sock, &o, err);
	if (v->chan == NULL)
		return -1;
	while (v->conn == NULL && !v->chan_closed && !v->qemu_exited)
		reactor_run_once(v->r, true);
	up = v->conn != NULL;
	if (!up)
		return err_set(err, ERR_TIMEOUT, "agent did not greet (qemu %s;"
		    " console in %s/console.log)", v->qemu_exited ? "exited" :
		    "running", v->dir);
	return 0;
}

static void
vmt_deadline_cb(void *arg)
{
	*(bool *)arg = true;
}

bool
vmt_run_until(struct vmt *v, const bool *flag, uint64_t timeout_ms)
{
	struct reactor_timer *t;
	bool late = false;

	t = reactor_timer_new(v->r, vmt_deadline_cb, &late);
	reactor_timer_start(t, timeout_ms, false);
	while (!*flag && !late)
		reactor_run_once(v->r, true);
	reactor_timer_free(t);
	return *flag;
}

static void
vmt_reply_cb(const struct proto_reply *rep, void *arg)
{
	struct vmt_reply *r = arg;

	r->code = rep->code;
	snprintf(r->message, sizeof r->message, "%s", rep->message != NULL ?
	    rep->message : "");
	if (rep->msg != NULL) {
		r->len = protobuf_c_message_get_packed_size(rep->msg);
		r->packed = xmalloc(r->len);
		protobuf_c_message_pack(rep->msg, r->packed);
		/* Replies are reused by the tests: the driver owns buffers. */
		r->v->allocs = xreallocarray(r->v->allocs, r->v->nallocs + 1,
		    sizeof *r->v->allocs);
		r->v->allocs[r->v->nallocs++] = r->packed;
	}
	r->done = true;
}

/* The reply type of each Agent method (the client must know it). */
static const ProtobufCMessageDescriptor *
vmt_reply_desc(const char *method)
{
	const ProtobufCServiceDescriptor *sd =
	    &kiln__agent__v1__agent__descriptor;
	unsigned i;

	for (i = 0; i < sd->n_methods; i++)
		if (strcmp(sd->methods[i].name, method) == 0)
			return sd->methods[i].output;
	return &google__protobuf__empty__descriptor;
}

void
vmt_call_async(struct vmt *v, const char *method, const ProtobufCMessage *req,
    struct vmt_reply *rep)
{
	vmt_call_deadline(v, method, req, rep, 0);
}

void
vmt_call_deadline(struct vmt *v, const char *method,
    const ProtobufCMessage *req, struct vmt_reply *rep, uint64_t ttrpc_ms)
{
	struct proto_call_opts o = { ttrpc_ms, NULL };
	struct err err = { 0 };

	memset(rep, 0, sizeof *rep);
	rep->v = v;
	if (v->conn == NULL || proto_conn_call(v->conn, "kiln.agent.v1.Agent",
	    method, req, vmt_reply_desc(method), &o, vmt_reply_cb, rep,
	    &err) == 0) {
		rep->done = true;
		rep->code = PROTO_UNAVAILABLE;
		snprintf(rep->message, sizeof rep->message, "no channel");
	}
}

int
vmt_call(struct vmt *v, const char *method, const ProtobufCMessage *req,
    const ProtobufCMessageDescriptor *desc, ProtobufCMessage **resp,
    struct vmt_reply *rep, uint64_t timeout_ms)
{
	vmt_call_async(v, method, req, rep);
	if (!vmt_run_until(v, &rep->done, timeout_ms)) {
		rep->code = PROTO_DEADLINE_EXCEEDED;
		snprintf(rep->message, sizeof rep->message, "test deadline");
		return -1;
	}
	if (resp != NULL)
		*resp = rep->code == PROTO_OK && desc != NULL ?
		    protobuf_c_message_unpack(desc, NULL, rep->len,
		    rep->packed) : NULL;
	return rep->code == PROTO_OK ? 0 : -1;
}

void
vmt_reply_fini(struct vmt_reply *rep)
{
	rep->packed = NULL;
	rep->len = 0;
}

struct vmt_proc *
vmt_proc(struct vmt *v, const char *cid, const char *eid)
{
	struct vmt_proc *free_slot = NULL;
	int i;

	for (i = 0; i < VMT_MAX_PROCS; i++) {
		struct vmt_proc *p = &v->procs[i];

		if (p->used && strcmp(p->cid, cid) == 0 &&
		    strcmp(p->eid, eid) == 0)
			return p;
		if (!p->used && free_slot == NULL)
			free_slot = p;
	}
	if (free_slot == NULL)
		fatalx("vmtest: too many processes");
	memset(free_slot, 0, sizeof *free_slot);
	free_slot->used = true;
	snprintf(free_slot->cid, sizeof free_slot->cid, "%s", cid);
	snprintf(free_slot->eid, sizeof free_slot->eid, "%s", eid);
	free_slot->stdin_credit = PROTO_STREAM_WINDOW;
	for (i = 0; i < 3; i++)
		buf_init(&free_slot->out[i]);
	return free_slot;
}

static void
vmt_proc_release(struct vmt_proc *p)
{
	int i;

	for (i = 0; i < 3; i++)
		buf_fini(&p->out[i]);
	p->used = false;
}

void
vmt_stdin(struct vmt *v, struct vmt_proc *p, const void *data, size_t len,
    bool close)
{
	struct proto_stream_msg m = { p->cid, p->eid, 0, NULL, 0, false, 0 };
	struct err err = { 0 };

	if (data != NULL) {
		p->stdin_data = data;
		p->stdin_len = len;
		p->stdin_off = 0;
	}
	p->stdin_close = close;
	while (v->conn != NULL && p->stdin_off < p->stdin_len &&
	    p->stdin_credit > 0) {
		m.data = p->stdin_data + p->stdin_off;
		m.len = p->stdin_len - p->stdin_off;
		if (m.len > PROTO_STREAM_CHUNK)
			m.len = PROTO_STREAM_CHUNK;
		if (m.len > p->stdin_credit)
			m.len = p->stdin_credit;
		(void)proto_stream_send(v->conn, &m, &err);
		p->stdin_off += m.len;
		p->stdin_credit -= (uint32_t)m.len;
	}
	if (v->conn != NULL && p->stdin_off == p->stdin_len && p->stdin_close &&
	    !p->stdin_eof_sent) {
		m.data = NULL;
		m.len = 0;
		m.eof = true;
		(void)proto_stream_send(v->conn, &m, &err);
		p->stdin_eof_sent = true;
	}
}

char *
vmt_spec(const char *const *args, bool pidns)
{
	static const char *const ns[] = { "ipc", "uts", "mount", "network" };
	json_t *spec = json_object(), *proc = json_object(), *a = json_array();
	json_t *env = json_array(), *lin = json_object(), *nss = json_array();
	char *out;
	size_t i;

	for (i = 0; args[i] != NULL; i++)
		json_array_append_new(a, json_string(args[i]));
	json_array_append_new(env, json_string("PATH=/bin:/sbin:/usr/bin"));
	json_object_set_new(proc, "args", a);
	json_object_set_new(proc, "env", env);
	json_object_set_new(proc, "cwd", json_string("/"));
	json_object_set_new(spec, "ociVersion", json_string("1.0.2"));
	json_object_set_new(spec, "process", proc);
	json_object_set_new(spec, "hostname", json_string("kiln-test"));
	if (pidns)
		json_array_append_new(nss, json_pack("{s:s}", "type", "pid"));
	for (i = 0; i < ARRAY_SIZE(ns); i++)
		json_array_append_new(nss, json_pack("{s:s}", "type", ns[i]));
	json_object_set_new(lin, "namespaces", nss);
	json_object_set_new(spec, "linux", lin);
	json_object_set_new(spec, "mounts", json_pack("[{s:s,s:s,s:s},"
	    "{s:s,s:s,s:s,s:[s,s]},{s:s,s:s,s:s,s:[s,s,s]}]",
	    "destination", "/proc", "type", "proc", "source", "proc",
	    "destination", "/dev", "type", "tmpfs", "source", "tmpfs",
	    "options", "nosuid", "mode=755",
	    "destination", "/dev/shm", "type", "tmpfs", "source", "shm",
	    "options", "nosuid", "nodev", "size=65536k"));
	out = json_dumps(spec, JSON_COMPACT);
	json_decref(spec);
	return out;
}

static void
vmt_pref(Kiln__Agent__V1__ProcessRef *ref, const char *cid)
{
	kiln__agent__v1__process_ref__init(ref);
	ref->container_id = (char *)(uintptr_t)cid;
	ref->exec_id = (char *)(uintptr_t)"";
}

static int
vmt_fail(struct err *err, const char *what, const struct vmt_reply *rep)
{
	return err_set(err, rep->code, "%s: %s (%s)", what,
	    proto_code_name(rep->code), rep->message);
}

int
vmt_run(struct vmt *v, const char *id, const char *const *args, bool pidns,
    const void *stdin_data, size_t stdin_len, uint32_t *exit_status,
    struct err *err)
{
	Kiln__Agent__V1__CreateContainerRequest cr =
	    KILN__AGENT__V1__CREATE_CONTAINER_REQUEST__INIT;
	Kiln__Agent__V1__ContainerRef ref = KILN__AGENT__V1__CONTAINER_REF__INIT;
	Kiln__Agent__V1__WaitProcessResponse *wr = NULL;
	Kiln__Agent__V1__ProcessRef pref;
	_cleanup_free_ char *spec = vmt_spec(args, pidns);
	struct vmt_reply rep, wait;
	int ret = -1;

	vmt_proc(v, id, "");
	cr.container_id = (char *)(uintptr_t)id;
	cr.rootfs_tag = (char *)(uintptr_t)VMT_TAG;
	cr.spec_json.data = (uint8_t *)spec;
	cr.spec_json.len = strlen(spec);
	cr.stdin = stdin_data != NULL;
	cr.stdout = cr.stderr = true;
	if (vmt_call(v, "CreateContainer", &cr.base, NULL, NULL, &rep,
	    30000) < 0)
		return vmt_fail(err, "CreateContainer", &rep);
	vmt_pref(&pref, id);
	vmt_call_async(v, "WaitProcess", &pref.base, &wait);
	if (vmt_call(v, "StartProcess", &pref.base, NULL, NULL, &rep,
	    30000) < 0) {
		vmt_fail(err, "StartProcess", &rep);
		goto remove;
	}
	if (stdin_data != NULL)
		vmt_stdin(v, vmt_proc(v, id, ""), stdin_data, stdin_len, true);
	if (!vmt_run_until(v, &wait.done, 120000) || wait.code != PROTO_OK) {
		vmt_fail(err, "WaitProcess", &wait);
		goto remove;
	}
	wr = kiln__agent__v1__wait_process_response__unpack(NULL, wait.len,
	    wait.packed);
	*exit_status = wr != NULL ? wr->exit_status : 9999;
	if (wr != NULL)
		kiln__agent__v1__wait_process_response__free_unpacked(wr, NULL);
	ret = 0;
remove:
	vmt_reply_fini(&wait);
	ref.container_id = (char *)(uintptr_t)id;
	if (vmt_call(v, "RemoveContainer", &ref.base, NULL, NULL, &rep,
	    30000) < 0 && ret == 0)
		ret = vmt_fail(err, "RemoveContainer", &rep);
	return ret;
}

int
vmt_shutdown(struct vmt *v, struct err *err)
{
	Google__Protobuf__Empty e = GOOGLE__PROTOBUF__EMPTY__INIT;
	struct vmt_reply rep;

	if (v->qemu_pid <= 0)
		return 0;
	if (v->conn != NULL)
		vmt_call(v, "Shutdown", &e.base, NULL, NULL, &rep, 10000);
	if (!vmt_run_until(v, &v->qemu_exited, 30000)) {
		kill(v->qemu_pid, SIGKILL);
		vmt_run_until(v, &v->qemu_exited, 30000);
		return err_set(err, ERR_TIMEOUT, "guest did not power off");
	}
	return 0;
}

static void
vmt_qmp_ready_cb(struct qmp *q, void *arg)
{
	(void)q;
	*(bool *)arg = true;
}

static void
vmt_qmp_reply_cb(const json_t *ret, const struct err *err, void *arg)
{
	(void)ret;
	*(int *)arg = err != NULL && err->code != 0 ? -1 : 1;
}

int
vmt_powerdown(struct vmt *v, struct err *err)
{
	_cleanup_free_ char *sock = xasprintf("%s/qmp.sock", v->dir);
	bool ready = false;
	struct qmp_opts o = { .name = "vmt-qmp", .on_ready = vmt_qmp_ready_cb,
	    .arg = &ready };
	struct qmp *q = qmp_new(v->r, v->env, sock, &o, err);
	int done = 0;

	if (q == NULL)
		return -1;
	if (!vmt_run_until(v, &ready, 30000) || qmp_call(q,
	    "system_powerdown", NULL, 10000, vmt_qmp_reply_cb, &done,
	    err) < 0) {
		qmp_free(q);
		return err_set(err, ERR_TIMEOUT, "QMP not ready");
	}
	vmt_run_until(v, &v->qemu_exited, 30000);
	qmp_free(q);
	if (!v->qemu_exited)
		return err_set(err, ERR_TIMEOUT, "no power off after the "
		    "power button");
	return done == 1 ? 0 : err_set(err, EIO, "system_powerdown failed");
}

void
vmt_fini(struct vmt *v)
{
	char cmd[128];
	int i;

	if (v->qemu_pid > 0 && !v->qemu_exited) {
		kill(v->qemu_pid, SIGKILL);
		vmt_run_until(v, &v->qemu_exited, 30000);
	}
	for (i = 0; i < VMT_MAX_PROCS; i++)
		if (v->procs[i].used)
			vmt_proc_release(&v->procs[i]);
	vsock_free(v->chan);
	reactor_child_free(v->qemu_watch);
	while (v->nallocs > 0)
		free(v->allocs[--v->nallocs]);
	free(v->allocs);
	reactor_free(v->r);
	fsm_env_free(v->env);
	free(v->image_dir);
	if (getenv("KILN_KEEP") == NULL) {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", v->dir);
		(void)system(cmd);
	}
}

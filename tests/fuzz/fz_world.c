/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shim in process for the fuzz harnesses (tests/fuzz/fz_world.h).
 * Only QEMU is fake: tests/fuzz/fake_vm.c replaces core/vm.c at link time
 * (no fork, no QMP, no signal sent), and its agent channel is the real
 * vsock serial dial to a unix socket this file listens on. containerd's
 * end is a client of the shim's listening socket, accepted by the real
 * proto_server (with its limits), as in shim.c.
 *
 * Every path the shim creates, writes or removes must lie in the scratch
 * directory or the shim's run directory: a fuzzed request names stdio
 * paths and bundles, and a fuzzer runs as whoever started it.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/fuzz/fz_world.h"

/* Linker-wrapped (-Wl,--wrap=...): see tests/fuzz/module.mk. */
void	__real_core_events_publish(struct core_events *, const char *,
	    const char *, const ProtobufCMessage *);
void	__wrap_core_events_publish(struct core_events *, const char *,
	    const char *, const ProtobufCMessage *);
int	__wrap_mount(const char *, const char *, const char *,
	    unsigned long, const void *);
int	__wrap_umount2(const char *, int);
int	__real_open(const char *, int, ...);
int	__wrap_open(const char *, int, ...);
int	__real_mkdir(const char *, mode_t);
int	__wrap_mkdir(const char *, mode_t);
int	__real_unlink(const char *);
int	__wrap_unlink(const char *);
int	__real_rmdir(const char *);
int	__wrap_rmdir(const char *);
int	__real_rename(const char *, const char *);
int	__wrap_rename(const char *, const char *);

struct fz_host	 fz_host = { .lfd = -1, .cfd_listen = -1 };
struct fz_world	 fz_run;

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
		for (i = 0; i < fz_run.nprocs; i++)
			if (strcmp(fz_run.procs[i].id, id) == 0)
				break;
		if (i == fz_run.nprocs && i < FZ_MAX_PROCS) {
			snprintf(fz_run.procs[i].id, sizeof fz_run.procs[i].id,
			    "%s", id);
			fz_run.procs[i].exits = 0;
			fz_run.nprocs++;
		}
		if (i < fz_run.nprocs) {
			if (reset)
				fz_run.procs[i].exits = 0;
			else
				FZ_ASSERT(++fz_run.procs[i].exits <= 1);
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

/* Below dir (or dir itself), by name: no "..", so no way out. */
static bool
fz_path_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && (path[n] == '\0' ||
	    path[n] == '/');
}

/* A path the shim may create, write or remove. */
static bool
fz_path_ok(const char *path)
{
	if (path[0] != '/' || strstr(path, "..") != NULL)
		return false;
	return (fz_host.dir[0] != '\0' && fz_path_under(path, fz_host.dir)) ||
	    fz_path_under(path, SHIM_RUN_DIR) || strcmp(path, "/dev/null") == 0;
}

/*
 * Writing or creating: only where fz_path_ok says. Reading: anywhere but
 * a device other than /dev/null (opening some has side effects).
 */
int
__wrap_open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	if ((flags & O_CREAT) != 0) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if ((flags & (O_CREAT | O_TRUNC)) != 0 ||
	    (flags & O_ACCMODE) != O_RDONLY ? !fz_path_ok(path) :
	    (fz_path_under(path, "/dev") && strcmp(path, "/dev/null") != 0)) {
		errno = EACCES;
		return -1;
	}
	return __real_open(path, flags, mode);
}

int
__wrap_mkdir(const char *path, mode_t mode)
{
	if (!fz_path_ok(path))
		return errno = EACCES, -1;
	return __real_mkdir(path, mode);
}

int
__wrap_unlink(const char *path)
{
	if (!fz_path_ok(path))
		return errno = EACCES, -1;
	return __real_unlink(path);
}

int
__wrap_rmdir(const char *path)
{
	if (!fz_path_ok(path))
		return errno = EACCES, -1;
	return __real_rmdir(path);
}

int
__wrap_rename(const char *from, const char *to)
{
	if (!fz_path_ok(from) || !fz_path_ok(to))
		return errno = EACCES, -1;
	return __real_rename(from, to);
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
fz_unlink_in(const char *dir, const char *name)
{
	char p[256];

	snprintf(p, sizeof p, "%s/%s", dir, name);
	__real_unlink(p);
}

/* What a scratch directory holds, then the directory. */
static void
fz_remove_scratch(const char *dir)
{
	char p[256];

	fz_unlink_in(dir, "agent.sock");
	fz_unlink_in(dir, "shim.sock");
	fz_unlink_in(dir, "bundle/config.json");
	fz_unlink_in(dir, "bundle/" SHIM_STATE_FILE);
	fz_unlink_in(dir, "stdout");
	fz_unlink_in(dir, "pid");
	snprintf(p, sizeof p, "%s/bundle/rootfs", dir);
	__real_rmdir(p);
	snprintf(p, sizeof p, "%s/bundle", dir);
	__real_rmdir(p);
	__real_rmdir(dir);
}

static void
fz_cleanup(void)
{
	close_fd(&fz_host.lfd);
	close_fd(&fz_host.cfd_listen);
	fz_remove_scratch(fz_host.dir);
}

/*
 * libFuzzer ends a timed run without atexit, so a scratch directory can
 * outlive its fuzzer: each names its process in "pid", and those of
 * processes gone are removed when the next one starts.
 */
static void
fz_sweep(void)
{
	char dir[sizeof FZ_DIR_TEMPLATE], pat[sizeof FZ_DIR_TEMPLATE + 4], *x;
	glob_t g;
	size_t i;
	FILE *f;
	int pid;

	snprintf(pat, sizeof pat, "%s/pid", FZ_DIR_TEMPLATE);
	for (x = pat; (x = strchr(x, 'X')) != NULL; x++)
		*x = '?';
	if (glob(pat, 0, NULL, &g) != 0)
		return;
	for (i = 0; i < g.gl_pathc; i++) {
		if ((f = fopen(g.gl_pathv[i], "r")) == NULL)
			continue;
		if (fscanf(f, "%d", &pid) == 1 && pid > 0 && kill(pid, 0) < 0 &&
		    errno == ESRCH) {
			snprintf(dir, sizeof dir, "%s", g.gl_pathv[i]);
			fz_remove_scratch(dir);
		}
		fclose(f);
	}
	globfree(&g);
}

/* A listening unix socket at dir/name. */
static int
fz_listen(const char *name)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	snprintf(sun.sun_path, sizeof sun.sun_path, "%s/%s", fz_host.dir,
	    name);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0 ||
	    listen(fd, 8) < 0)
		abort();
	return fd;
}

/* A bundle without network namespace or hooks, and the two sockets. */
void
fz_world_setup(void)
{
	char p[256], pid[16];

	if (fz_host.dir[0] != '\0')
		return;
	log_init("fuzz", LOG_LVL_ERROR, -1);
	fz_sweep();
	snprintf(fz_host.dir, sizeof fz_host.dir, "%s", FZ_DIR_TEMPLATE);
	if (mkdtemp(fz_host.dir) == NULL)
		abort();
	snprintf(p, sizeof p, "%s/pid", fz_host.dir);
	snprintf(pid, sizeof pid, "%d\n", (int)getpid());
	fz_write_file(p, pid);
	snprintf(fz_host.bundle, sizeof fz_host.bundle, "%s/bundle",
	    fz_host.dir);
	snprintf(fz_host.out, sizeof fz_host.out, "%s/stdout", fz_host.dir);
	mkdir(fz_host.bundle, 0700);
	snprintf(p, sizeof p, "%s/config.json", fz_host.bundle);
	fz_write_file(p, "{\"ociVersion\":\"1.0.2\",\"process\":"
	    "{\"args\":[\"sh\"],\"cwd\":\"/\"},\"root\":{\"path\":"
	    "\"rootfs\"},\"hostname\":\"fz\",\"linux\":{\"namespaces\":"
	    "[{\"type\":\"pid\"},{\"type\":\"mount\"}]}}");
	snprintf(fake_vm_agent_path, sizeof fake_vm_agent_path,
	    "%s/agent.sock", fz_host.dir);
	fz_host.lfd = fz_listen("agent.sock");
	fz_host.cfd_listen = fz_listen("shim.sock");
	atexit(fz_cleanup);
}

void
fz_world_paths(uint8_t *p, size_t n)
{
	const size_t len = strlen(FZ_DIR_TEMPLATE);
	uint8_t *at;

	while ((at = memmem(p, n, FZ_DIR_TEMPLATE, len)) != NULL) {
		memcpy(at, fz_host.dir, len);
		n -= (size_t)(at - p) + len;
		p = at + len;
	}
}

/*
 * containerd connects to the shim's listening socket (a dup of the
 * process-wide one: proto_server_free closes what it was given), and the
 * server accepts it on the next turn.
 */
static void
fz_world_connect(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, i;

	proto_server_listen(fz_run.s.server, fcntl(fz_host.cfd_listen,
	    F_DUPFD_CLOEXEC, 3), true);
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s/shim.sock",
	    fz_host.dir);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0)
		abort();
	fd_set_nonblock_cloexec(fd);
	fz_run.cfd = fd;
	for (i = 0; i < 8 && proto_server_conns(fz_run.s.server) == 0; i++)
		reactor_run_once(fz_run.s.r, false);
	FZ_ASSERT(proto_server_conns(fz_run.s.server) == 1);
}

void
fz_world_new(bool auto_hello)
{
	struct shim *s = &fz_run.s;
	struct err err;

	memset(&fz_run, 0, offsetof(struct fz_world, abuf));
	fz_run.alen = 0;
	fz_run.nprocs = 0;
	fz_run.afd = -1;
	fz_run.auto_hello = auto_hello;
	fz_run.next_stream = 1;
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
	s->bundle = fz_host.bundle;
	TAILQ_INIT(&s->members);
	/* As shim_setup() registers it. */
	fz_run.svc.name = "containerd.task.v2.Task";
	fz_run.svc.methods = shim_task_methods;
	fz_run.svc.nmethods = shim_task_nmethods;
	fz_run.svc.arg = s;
	s->server = proto_server_new(s->r, s->env, &fz_run.svc, 1);
	s->events = core_events_new(s->r, s->env, NULL, "fuzz");
	fz_world_connect();
}

void
fz_world_free(void)
{
	struct shim *s = &fz_run.s;

	/* The shim's life ends after its VM's: QEMU goes first. */
	if (fake_vm_current != NULL && !vm_is_stopped(fake_vm_current))
		fake_vm_qemu_exited(fake_vm_current, 9);
	fz_world_pump(FZ_TURNS);
	close_fd(&fz_run.afd);
	close_fd(&fz_run.cfd);
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
	fz_unlink_in(fz_host.bundle, SHIM_STATE_FILE);
	/* Anything a straggler left for the next input. */
	while (accept4(fz_host.lfd, NULL, NULL, SOCK_CLOEXEC) >= 0)
		;
}

/* ---- the peers' wire --------------------------------------------------- */

void
fz_world_send(int fd, uint32_t stream, uint8_t type, const uint8_t *body,
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

void
fz_world_hello(int variant)
{
	static const char body[] = PROTO_AGENT_HELLO;

	switch (variant) {
	case 0:
		fz_world_send(fz_run.afd, 0, PROTO_FT_KILN_HELLO,
		    (const uint8_t *)body, strlen(body));
		break;
	case 1:
		fz_world_send(fz_run.afd, 0, PROTO_FT_KILN_HELLO,
		    (const uint8_t *)"kiln.agent.v0", strlen(body));
		break;
	case 2:
		fz_world_send(fz_run.afd, 0, PROTO_FT_RESPONSE,
		    (const uint8_t *)body, strlen(body));
		break;
	default:
		/* Half a greeting: the rest may come with a later op. */
		fz_world_send(fz_run.afd, 0, PROTO_FT_KILN_HELLO,
		    (const uint8_t *)body, strlen(body) / 2);
		break;
	}
}

static void
fz_accept(void)
{
	int fd;

	if (fz_run.afd >= 0)
		return;
	fd = accept4(fz_host.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	fz_run.afd = fd;
	if (fz_run.auto_hello)
		fz_world_hello(0);
}

/* The shim's frames to the agent: requests go to the hook, or are kept. */
static void
fz_agent_read(void)
{
	struct proto_hdr h;
	Ttrpc__Request *req;
	ssize_t n;
	size_t off = 0;

	if (fz_run.afd < 0)
		return;
	while ((n = read(fz_run.afd, fz_run.abuf + fz_run.alen,
	    sizeof fz_run.abuf - fz_run.alen)) > 0)
		fz_run.alen += (size_t)n;
	while (fz_run.alen - off >= PROTO_HDR_LEN) {
		proto_hdr_decode(fz_run.abuf + off, &h);
		if (h.len > sizeof fz_run.abuf - PROTO_HDR_LEN) {
			close_fd(&fz_run.afd);	/* not a shim we know */
			fz_run.alen = 0;
			return;
		}
		if (fz_run.alen - off < PROTO_HDR_LEN + h.len)
			break;
		if (h.type == PROTO_FT_REQUEST &&
		    (req = ttrpc__request__unpack(NULL, h.len, fz_run.abuf +
		    off + PROTO_HDR_LEN)) != NULL) {
			if ((fz_run.on_req == NULL || !fz_run.on_req(h.stream,
			    req)) && fz_run.nreqs < FZ_MAX_REQS) {
				fz_run.reqs[fz_run.nreqs].stream = h.stream;
				snprintf(fz_run.reqs[fz_run.nreqs].method,
				    sizeof fz_run.reqs[0].method, "%s",
				    req->method);
				fz_run.nreqs++;
			}
			ttrpc__request__free_unpacked(req, NULL);
		}
		off += PROTO_HDR_LEN + h.len;
		/* The hook may have hung up. */
		if (fz_run.afd < 0)
			return;
	}
	memmove(fz_run.abuf, fz_run.abuf + off, fz_run.alen - off);
	fz_run.alen -= off;
}

/* containerd reads its replies (and hands them to the hook, if any). */
static void
fz_ctrd_drain(void)
{
	uint8_t buf[65536];
	ssize_t n;

	while (fz_run.cfd >= 0 && (n = read(fz_run.cfd, buf, sizeof buf)) >
	    0)
		if (fz_run.on_reply != NULL)
			fz_run.on_reply(buf, (size_t)n);
}

void
fz_world_pump(int turns)
{
	int i;

	for (i = 0; i < turns; i++) {
		reactor_run_once(fz_run.s.r, false);
		fz_accept();
		fz_agent_read();
		fz_ctrd_drain();
	}
}

/* ---- invariants -------------------------------------------------------- */

/* A task past create whose VM is stopped must have heard of it. */
static bool
fz_live_on_dead_vm(void)
{
	const struct task *t = fz_run.s.task;

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

void
fz_world_check(void)
{
	if (fz_live_on_dead_vm())
		/* The news may be one turn away. */
		fz_world_pump(FZ_TURNS);
	FZ_ASSERT(!fz_live_on_dead_vm());
	if (fz_run.s.task != NULL)
		FZ_ASSERT(fz_run.s.task->fsm.state < TASK_ST__COUNT);
}

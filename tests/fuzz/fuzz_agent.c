/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the agent's side of the trust boundary: the real
 * kiln.agent.v1.Agent service (agent_methods[], served by the real
 * proto_server on the connection agent_serve_fd() adopts, so every request
 * goes through the ttrpc framing and decode path the shim's requests take),
 * the real container, process and NIC machines behind it, the stdio path
 * (agent_stdio.c: pipes, credit, EOF, a terminal's pty), stats and metrics
 * read from cgroup files, OOM events through inotify, and PID 1's reaping,
 * all in process.
 *
 * The harness plays the host and everything crun would do. The input is a
 * tape (tests/fuzz/fz_msg.h): byte 0 holds failure switches (mounts,
 * netlink, fork), then each op byte is one of:
 *   the host calls an Agent method (a valid request with fuzzed fields,
 *   or raw payload bytes), sends a StreamFrame or raw bytes, or drops and
 *   reconnects the channel; a fake child exits (a crun helper or a
 *   container process, by status); a container process writes output,
 *   reads its stdin or closes its stdout; a cgroup file changes (freezer,
 *   memory.events, cgroup.procs, cpu.stat, ...); a NIC appears; time
 *   passes for one armed timer.
 * After each op the reactor runs a few turns, the host reads what the
 * agent sent and the invariants are checked: every frame is a known type;
 * every response answers a request sent on that connection, once, and an
 * OK one decodes as the method's reply type; stdout/stderr data stays
 * within the credit the host granted and none follows an EOF; stdin
 * credit never exceeds the stdin bytes sent; a process's exit is queued
 * at most once. At the end every child exits, time runs out for every
 * timer, agent_fini() answers what is left and frees the rest, so
 * LeakSanitizer sees any call or object left behind.
 *
 * Host safety, all by -Wl,--wrap (tests/fuzz/module.mk, FUZZ_WRAP_agent):
 * fork() returns a fake pid (1 << 30 and up) and agent_spawn() records
 * crun's argv (pid file, console socket, stdio) so the tape can play
 * crun; waitpid() reaps only fake pids, kill() only marks them (SIGKILL
 * ends them); exec*, clone, posix_spawn, reboot, sync, settimeofday and
 * sethostname abort if ever reached; clock_settime and sched_setaffinity
 * do nothing; mount/umount2 act only below the scratch tree; cni_nl_* (the
 * netlink calls of agent_net.c) answer from a fake link table; netlink and
 * vsock sockets abort. agent_run_dir and agent_sysfs point into a scratch
 * tree made per process (/tmp/kiln-fuzz-agent-*), emptied after each
 * input. BPF is never loaded (agent_bpf_start is only called from the
 * agent's boot path): GetMetrics reports it missing. Timers are virtual
 * (reactor_timer_*, time_mono_ns) so runs are deterministic.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guest/agent.h"
#include "tests/fuzz/fz_msg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);


#define FZ_OPS		256
#define FZ_TURNS	4
#define FZ_MAX_CHILDREN	512
#define FZ_MAX_REQS	(FZ_OPS + 8)
#define FZ_MAX_STREAMS	64
#define FZ_MAX_PUSHED	256
#define FZ_MAX_LINKS	8
#define FZ_PID0		(1 << 30)	/* above any pid_max: never real */
#define FZ_HBUF		(512 * 1024)

/* Byte 0 of the tape. */
#define FZ_F_MOUNT_FAIL	0x01
#define FZ_F_NL_FAIL	0x02
#define FZ_F_FORK_FAIL	0x04

enum fz_kind {
	FZ_K_CREATE, FZ_K_START, FZ_K_EXEC, FZ_K_DELETE, FZ_K_OTHER, FZ_K_CTR,
};

/* A fake child: a crun run, the onlining helper, or a container process. */
struct fz_child {
	pid_t		 pid;
	enum fz_kind	 kind;
	bool		 exited, reaped;
	int		 status;
	int		 last_sig;
	int		 fd[3];			/* a container's stdio, or -1 */
	char		 console[256];		/* --console-socket, or "" */
	char		 log[256];		/* crun's stderr log, or "" */
	char		 cid[PROTO_ID_MAX + 1];
	struct fz_child	*ctr;			/* what create/exec makes */
};

struct fz_timer {
	struct reactor_timer	*t;
	uint64_t		 ms;
	bool			 periodic, armed;
};

struct fz_req {
	uint32_t	 stream;
	int		 method;	/* index in agent_methods[] */
	int		 gen;		/* the connection it went on */
	bool		 answered;
	char		 cid[PROTO_ID_MAX + 1];	/* Create/Exec: whose life */
	char		 eid[PROTO_ID_MAX + 1];
};

/* The host's view of one stdio stream. */
struct fz_stream {
	char		 cid[PROTO_ID_MAX + 1];
	char		 eid[PROTO_ID_MAX + 1];
	uint32_t	 fd;
	uint64_t	 budget;	/* out: what the agent may send */
	bool		 eof;		/* out: EOF seen */
	uint64_t	 in_sent;	/* in: stdin bytes sent, ever */
	uint64_t	 in_credit;	/* in: stdin credit received, ever */
};

/* Process-wide: the scratch tree. */
static struct {
	char	 dir[64];
	char	 run[96];
	char	 sys[96];
	char	 cg[128];
} fz;

/* One input's world. */
static struct {
	struct agent		 a;
	uint8_t			 flags;
	int			 hfd;		/* the host's end, or -1 */
	int			 gen;
	bool			 dirty;		/* raw bytes on the wire */
	uint32_t		 next_stream;
	uint64_t		 clock_ns;	/* virtual time passed */
	struct fz_child		 kids[FZ_MAX_CHILDREN];
	int			 nkids;
	struct fz_child		*next_fork;
	struct fz_timer		*timers;
	size_t			 ntimers, timers_cap;
	struct fz_req		 reqs[FZ_MAX_REQS];
	int			 nreqs;
	struct fz_stream	 streams[FZ_MAX_STREAMS];
	int			 nstreams;
	const struct agent_process *pushed[FZ_MAX_PUSHED];
	int			 npushed;
	struct cni_nl_link	 links[FZ_MAX_LINKS];
	int			 nlinks;
	uint8_t			 hbuf[FZ_HBUF];
	size_t			 hlen;
} run;

static uint8_t	fz_big[PROTO_STREAM_CHUNK];

static void	fz_pump(int);
static void	fz_rm_below(const char *);

/* ---- wrapped calls: processes --------------------------------------- */

pid_t	__real_agent_spawn(struct agent *, char *const [], const int [3],
	    const char *, reactor_child_cb, void *, struct reactor_child **,
	    struct err *);
pid_t	__wrap_agent_spawn(struct agent *, char *const [], const int [3],
	    const char *, reactor_child_cb, void *, struct reactor_child **,
	    struct err *);
pid_t	__wrap_fork(void);
pid_t	__wrap_vfork(void);
pid_t	__real_waitpid(pid_t, int *, int);
pid_t	__wrap_waitpid(pid_t, int *, int);
int	__wrap_kill(pid_t, int);
int	__wrap_execv(const char *, char *const []);
int	__wrap_execve(const char *, char *const [], char *const []);
int	__wrap_execvp(const char *, char *const []);
int	__wrap_clone(int (*)(void *), void *, int, void *, ...);
int	__wrap_posix_spawn(void);
int	__wrap_posix_spawnp(void);
int	__wrap_reboot(int);
void	__wrap_sync(void);
int	__wrap_settimeofday(const void *, const void *);
int	__wrap_sethostname(const char *, size_t);
int	__wrap_clock_settime(clockid_t, const struct timespec *);
int	__wrap_sched_setaffinity(pid_t, size_t, const void *);
int	__wrap_nanosleep(const struct timespec *, struct timespec *);
int	__wrap_mount(const char *, const char *, const char *,
	    unsigned long, const void *);
int	__wrap_umount2(const char *, int);
int	__real_socket(int, int, int);
int	__wrap_socket(int, int, int);
void	__real_agent_push_exit_event(struct agent *, struct agent_process *);
void	__wrap_agent_push_exit_event(struct agent *, struct agent_process *);

static struct fz_child *
fz_child_new(enum fz_kind kind)
{
	struct fz_child *c;

	if (run.nkids == FZ_MAX_CHILDREN)
		return NULL;
	c = &run.kids[run.nkids];
	memset(c, 0, sizeof *c);
	c->pid = FZ_PID0 + run.nkids++;
	c->kind = kind;
	c->fd[0] = c->fd[1] = c->fd[2] = -1;
	return c;
}

static struct fz_child *
fz_child_find(pid_t pid)
{
	if (pid < FZ_PID0 || pid >= FZ_PID0 + run.nkids)
		return NULL;
	return &run.kids[pid - FZ_PID0];
}

static void
fz_child_close(struct fz_child *c)
{
	int i;

	for (i = 0; i < 3; i++)
		close_fd(&c->fd[i]);
}

/*
 * crun's terminal handshake: connect to --console-socket and pass the
 * "pty master" (one end of a socketpair: TIOCSWINSZ fails on it, which
 * the agent must take), keeping the other end as the process's stdio.
 */
static void
fz_console_send(struct fz_child *h)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { (char *)"t", 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	struct cmsghdr *cm;
	int fd, sv[2];

	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", h->console);
	fd = __real_socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
	    sv) < 0) {
		close(fd);
		return;
	}
	memset(cbuf, 0, sizeof cbuf);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &sv[0], sizeof(int));
	(void)!sendmsg(fd, &msg, 0);
	close(fd);
	close(sv[0]);
	if (h->ctr != NULL) {
		fz_child_close(h->ctr);
		h->ctr->fd[1] = sv[1];
		h->ctr->fd[0] = fcntl(sv[1], F_DUPFD_CLOEXEC, 3);
	} else
		close(sv[1]);
}

static void
fz_write_text(const char *path, const char *text, bool append)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC |
	    (append ? O_APPEND : O_TRUNC), 0644);

	if (fd < 0)
		return;
	(void)!write_all(fd, text, strlen(text));
	close(fd);
}

/* What crun create makes: the container's cgroup with its files. */
static void
fz_cgroup_make(const char *cid, pid_t pid)
{
	static const char *const files[][2] = {
		{ "cgroup.freeze", "0\n" }, { "cgroup.events", "frozen 0\n" },
		{ "memory.events", "oom_kill 0\n" }, { "memory.max", "max\n" },
		{ "cpu.max", "max 100000\n" }, { "pids.current", "1\n" },
		{ "cpu.stat", "usage_usec 10\nuser_usec 5\n" },
		{ "io.stat", "8:0 rbytes=1 wbytes=2 rios=3 wios=4\n" },
	};
	char path[512], text[32];
	size_t i;

	agent_cgroup_path(path, sizeof path, cid, NULL);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return;
	for (i = 0; i < ARRAY_SIZE(files); i++) {
		agent_cgroup_path(path, sizeof path, cid, files[i][0]);
		fz_write_text(path, files[i][1], false);
	}
	agent_cgroup_path(path, sizeof path, cid, "cgroup.procs");
	snprintf(text, sizeof text, "%d\n", (int)pid);
	fz_write_text(path, text, false);
}

/* A child ends: crun's work is done first, as crun would before exiting. */
static void
fz_exit(struct fz_child *c, int status)
{
	char path[512];

	if (c->exited)
		return;
	if (c->kind != FZ_K_CTR && status == 0 && c->console[0] != '\0')
		fz_console_send(c);
	if (c->kind == FZ_K_DELETE && status == 0) {
		agent_cgroup_path(path, sizeof path, c->cid, NULL);
		fz_rm_below(path);
		rmdir(path);
	}
	if (c->kind != FZ_K_CTR && status != 0 && c->log[0] != '\0')
		fz_write_text(c->log, "error: fuzzed crun failure\n", true);
	/* A failed create or exec never made its process. */
	if ((c->kind == FZ_K_CREATE || c->kind == FZ_K_EXEC) && status != 0 &&
	    c->ctr != NULL && !c->ctr->exited) {
		c->ctr->exited = c->ctr->reaped = true;
		fz_child_close(c->ctr);
	}
	c->exited = true;
	c->status = status;
	fz_child_close(c);
	raise(SIGCHLD);
}

static const char *
fz_arg_after(char *const argv[], const char *opt)
{
	int i;

	for (i = 1; argv[i] != NULL; i++)
		if (strcmp(argv[i], opt) == 0)
			return argv[i + 1];
	return NULL;
}

static enum fz_kind
fz_crun_kind(char *const argv[])
{
	int i;

	for (i = 1; argv[i] != NULL; i++) {
		if (argv[i][0] == '-')
			continue;
		if (strcmp(argv[i], "create") == 0)
			return FZ_K_CREATE;
		if (strcmp(argv[i], "start") == 0)
			return FZ_K_START;
		if (strcmp(argv[i], "exec") == 0)
			return FZ_K_EXEC;
		if (strcmp(argv[i], "delete") == 0)
			return FZ_K_DELETE;
		break;
	}
	return FZ_K_OTHER;
}

/* The container process crun create/exec makes, with the helper's stdio. */
static void
fz_crun_process(struct fz_child *h, char *const argv[], const int stdio[3])
{
	const char *pidf = fz_arg_after(argv, "--pid-file");
	const char *console = fz_arg_after(argv, "--console-socket");
	struct fz_child *p = fz_child_new(FZ_K_CTR);
	char text[32];
	int i;

	if (p == NULL)
		return;
	h->ctr = p;
	snprintf(p->cid, sizeof p->cid, "%s", h->cid);
	for (i = 0; i < 3; i++) {
		if (stdio[i] < 0)
			continue;
		p->fd[i] = fcntl(stdio[i], F_DUPFD_CLOEXEC, 3);
		if (p->fd[i] >= 0)
			fd_set_nonblock_cloexec(p->fd[i]);
	}
	if (console != NULL)
		snprintf(h->console, sizeof h->console, "%s", console);
	if (pidf != NULL) {
		snprintf(text, sizeof text, "%d", (int)p->pid);
		fz_write_text(pidf, text, false);
	}
	if (h->kind == FZ_K_CREATE)
		fz_cgroup_make(h->cid, p->pid);
}

pid_t
__wrap_agent_spawn(struct agent *a, char *const argv[], const int stdio[3],
    const char *log_path, reactor_child_cb cb, void *arg,
    struct reactor_child **watch, struct err *err)
{
	struct fz_child *h;
	int n;

	FZ_ASSERT(strcmp(argv[0], AGENT_CRUN) == 0);
	for (n = 0; argv[n] != NULL; n++)
		;
	if ((run.flags & FZ_F_FORK_FAIL) != 0 ||
	    (h = fz_child_new(fz_crun_kind(argv))) == NULL)
		return err_set(err, EAGAIN, "fork %s: fuzzed failure", argv[0]);
	snprintf(h->cid, sizeof h->cid, "%s", argv[n - 1]);
	if (log_path != NULL)
		snprintf(h->log, sizeof h->log, "%s", log_path);
	if (h->kind == FZ_K_CREATE || h->kind == FZ_K_EXEC)
		fz_crun_process(h, argv, stdio);
	run.next_fork = h;
	return __real_agent_spawn(a, argv, stdio, log_path, cb, arg, watch,
	    err);
}

/* The parent's side of a fork only: the child never exists. */
pid_t
__wrap_fork(void)
{
	struct fz_child *c = run.next_fork;

	run.next_fork = NULL;
	if (c == NULL && ((run.flags & FZ_F_FORK_FAIL) != 0 ||
	    (c = fz_child_new(FZ_K_OTHER)) == NULL)) {
		errno = EAGAIN;
		return -1;
	}
	return c->pid;
}

pid_t
__wrap_vfork(void)
{
	abort();
}

pid_t
__wrap_waitpid(pid_t pid, int *status, int options)
{
	bool live = false;
	int i;

	if (pid > 0 && fz_child_find(pid) == NULL)
		return __real_waitpid(pid, status, options);
	/* Callbacks never block (STYLE 2.6). */
	FZ_ASSERT((options & WNOHANG) != 0);
	for (i = 0; i < run.nkids; i++) {
		struct fz_child *c = &run.kids[i];

		if (c->reaped || (pid > 0 && c->pid != pid))
			continue;
		if (!c->exited) {
			live = true;
			continue;
		}
		c->reaped = true;
		if (status != NULL)
			*status = c->status;
		return c->pid;
	}
	if (live)
		return 0;
	errno = ECHILD;
	return -1;
}

/* Only fake pids are ever signalled; SIGKILL ends them. */
int
__wrap_kill(pid_t pid, int sig)
{
	struct fz_child *c = fz_child_find(pid);

	if (c == NULL || c->exited) {
		errno = ESRCH;
		return -1;
	}
	if (sig != 0)
		c->last_sig = sig;
	if (sig == SIGKILL)
		fz_exit(c, SIGKILL);
	return 0;
}

/* Never reached: the fake fork has no child side. */
int
__wrap_execv(const char *p, char *const argv[])
{
	(void)p;
	(void)argv;
	abort();
}

int
__wrap_execve(const char *p, char *const argv[], char *const envp[])
{
	(void)p;
	(void)argv;
	(void)envp;
	abort();
}

int
__wrap_execvp(const char *p, char *const argv[])
{
	(void)p;
	(void)argv;
	abort();
}

int
__wrap_clone(int (*fn)(void *), void *stack, int flags, void *arg, ...)
{
	(void)fn;
	(void)stack;
	(void)flags;
	(void)arg;
	abort();
}

int
__wrap_posix_spawn(void)
{
	abort();
}

int
__wrap_posix_spawnp(void)
{
	abort();
}

/* Power off is a timer the harness never fires: reboot is never reached. */
int
__wrap_reboot(int how)
{
	(void)how;
	abort();
}

void
__wrap_sync(void)
{
	abort();
}

int
__wrap_settimeofday(const void *tv, const void *tz)
{
	(void)tv;
	(void)tz;
	abort();
}

int
__wrap_sethostname(const char *name, size_t len)
{
	(void)name;
	(void)len;
	abort();
}

/* SetClock succeeds without touching the host's clock. */
int
__wrap_clock_settime(clockid_t id, const struct timespec *ts)
{
	FZ_ASSERT(id == CLOCK_REALTIME && ts->tv_nsec >= 0 &&
	    ts->tv_nsec < 1000000000L);
	return 0;
}

int
__wrap_sched_setaffinity(pid_t pid, size_t size, const void *set)
{
	(void)pid;
	(void)size;
	(void)set;
	return 0;
}

/* The agent's bounded waits (a hot-added disk) cost no real time here. */
int
__wrap_nanosleep(const struct timespec *req, struct timespec *rem)
{
	(void)req;
	(void)rem;
	return 0;
}

static bool
fz_in_scratch(const char *path)
{
	size_t n = strlen(fz.dir);

	return path != NULL && strncmp(path, fz.dir, n) == 0 &&
	    (path[n] == '/' || path[n] == '\0') &&
	    strstr(path, "/../") == NULL;
}

/* A mounted rootfs has an etc/ for the NIC's resolv.conf and hosts. */
int
__wrap_mount(const char *src, const char *target, const char *type,
    unsigned long flags, const void *data)
{
	char path[512];

	(void)src;
	(void)flags;
	(void)data;
	if (!fz_in_scratch(target) || (run.flags & FZ_F_MOUNT_FAIL) != 0) {
		errno = EPERM;
		return -1;
	}
	if (strcmp(type, "9p") == 0 || strcmp(type, "overlay") == 0) {
		snprintf(path, sizeof path, "%s/etc", target);
		mkdir(path, 0755);
	}
	return 0;
}

int
__wrap_umount2(const char *target, int flags)
{
	(void)flags;
	if (!fz_in_scratch(target)) {
		errno = EINVAL;
		return -1;
	}
	fz_rm_below(target);
	return 0;
}

/* agent_net.c's netlink goes to cni_nl_* (wrapped below); nothing else. */
int
__wrap_socket(int domain, int type, int proto)
{
	FZ_ASSERT(domain != AF_NETLINK && domain != AF_VSOCK);
	return __real_socket(domain, type, proto);
}

/* The process must not have been reported before in its life. */
void
__wrap_agent_push_exit_event(struct agent *a, struct agent_process *p)
{
	int i;

	FZ_ASSERT(p->exited);
	for (i = 0; i < run.npushed; i++)
		FZ_ASSERT(run.pushed[i] != p);
	if (run.npushed < FZ_MAX_PUSHED)
		run.pushed[run.npushed++] = p;
	__real_agent_push_exit_event(a, p);
}

/* ---- wrapped calls: netlink ------------------------------------------ */

int	__wrap_cni_nl_open(struct cni_nl *, struct err *);
void	__wrap_cni_nl_close(struct cni_nl *);
int	__wrap_cni_nl_links(struct cni_nl *, struct cni_nl_link *, int, int *,
	    struct err *);
int	__wrap_cni_nl_link_set(struct cni_nl *, int, uint32_t, const char *,
	    bool, struct err *);
int	__wrap_cni_nl_addr_add(struct cni_nl *, const struct cni_nl_addr *,
	    struct err *);
int	__wrap_cni_nl_route_add(struct cni_nl *, const struct cni_nl_route *,
	    struct err *);

int
__wrap_cni_nl_open(struct cni_nl *nl, struct err *err)
{
	(void)err;
	nl->fd = -1;
	nl->seq = 1;
	return 0;
}

void
__wrap_cni_nl_close(struct cni_nl *nl)
{
	nl->fd = -1;
}

int
__wrap_cni_nl_links(struct cni_nl *nl, struct cni_nl_link *out, int max,
    int *n, struct err *err)
{
	(void)nl;
	(void)err;
	*n = run.nlinks < max ? run.nlinks : max;
	memcpy(out, run.links, (size_t)*n * sizeof *out);
	return 0;
}

/* Links that exist accept what is asked, unless the tape says no. */
static int
fz_nl_result(int ifindex, struct err *err)
{
	int i;

	if ((run.flags & FZ_F_NL_FAIL) != 0)
		return err_set(err, EPERM, "netlink: fuzzed failure");
	for (i = 0; i < run.nlinks; i++)
		if (run.links[i].ifindex == ifindex)
			return 0;
	return err_set(err, ENODEV, "netlink: no link %d", ifindex);
}

int
__wrap_cni_nl_link_set(struct cni_nl *nl, int ifindex, uint32_t mtu,
    const char *name, bool up, struct err *err)
{
	(void)nl;
	(void)up;
	FZ_ASSERT(mtu == 0 || (mtu >= 68 && mtu <= 65535));
	FZ_ASSERT(name == NULL || ident_valid(name, IF_NAMESIZE - 1));
	return fz_nl_result(ifindex, err);
}

int
__wrap_cni_nl_addr_add(struct cni_nl *nl, const struct cni_nl_addr *a,
    struct err *err)
{
	(void)nl;
	FZ_ASSERT((a->family == AF_INET && a->prefix <= 32) ||
	    (a->family == AF_INET6 && a->prefix <= 128));
	return fz_nl_result(a->ifindex, err);
}

int
__wrap_cni_nl_route_add(struct cni_nl *nl, const struct cni_nl_route *r,
    struct err *err)
{
	(void)nl;
	FZ_ASSERT(r->family == AF_INET || r->family == AF_INET6);
	return fz_nl_result(r->oif, err);
}

/* ---- wrapped calls: virtual time ------------------------------------- */

struct reactor_timer *__real_reactor_timer_new(struct reactor *,
	    reactor_timer_cb, void *);
struct reactor_timer *__wrap_reactor_timer_new(struct reactor *,
	    reactor_timer_cb, void *);
void	__real_reactor_timer_start(struct reactor_timer *, uint64_t, bool);
void	__wrap_reactor_timer_start(struct reactor_timer *, uint64_t, bool);
void	__real_reactor_timer_stop(struct reactor_timer *);
void	__wrap_reactor_timer_stop(struct reactor_timer *);
bool	__real_reactor_timer_pending(const struct reactor_timer *);
bool	__wrap_reactor_timer_pending(const struct reactor_timer *);
void	__real_reactor_timer_free(struct reactor_timer *);
void	__wrap_reactor_timer_free(struct reactor_timer *);
uint64_t __real_time_mono_ns(void);
uint64_t __wrap_time_mono_ns(void);

static struct fz_timer *
fz_timer_find(const struct reactor_timer *t)
{
	size_t i;

	for (i = 0; i < run.ntimers; i++)
		if (run.timers[i].t == t)
			return &run.timers[i];
	return NULL;
}

struct reactor_timer *
__wrap_reactor_timer_new(struct reactor *r, reactor_timer_cb cb, void *arg)
{
	struct reactor_timer *t = __real_reactor_timer_new(r, cb, arg);

	if (run.ntimers == run.timers_cap) {
		run.timers_cap = run.timers_cap * 2 + 16;
		run.timers = xreallocarray(run.timers, run.timers_cap,
		    sizeof *run.timers);
	}
	run.timers[run.ntimers++] = (struct fz_timer){ t, 0, false, false };
	return t;
}

/*
 * Armed, not started: the tape decides when time has passed. A 0 ms
 * one-shot (run on the next turn) does not depend on time and is real.
 */
void
__wrap_reactor_timer_start(struct reactor_timer *t, uint64_t ms,
    bool periodic)
{
	struct fz_timer *ft = fz_timer_find(t);

	if (ft == NULL || (ms == 0 && !periodic)) {
		if (ft != NULL)
			ft->armed = false;
		__real_reactor_timer_start(t, ms, periodic);
		return;
	}
	__real_reactor_timer_stop(t);
	ft->ms = ms;
	ft->periodic = periodic;
	ft->armed = true;
}

void
__wrap_reactor_timer_stop(struct reactor_timer *t)
{
	struct fz_timer *ft = fz_timer_find(t);

	if (ft != NULL)
		ft->armed = false;
	__real_reactor_timer_stop(t);
}

bool
__wrap_reactor_timer_pending(const struct reactor_timer *t)
{
	struct fz_timer *ft = fz_timer_find(t);

	return (ft != NULL && ft->armed) || __real_reactor_timer_pending(t);
}

void
__wrap_reactor_timer_free(struct reactor_timer *t)
{
	struct fz_timer *ft = fz_timer_find(t);

	if (ft != NULL)
		*ft = run.timers[--run.ntimers];
	__real_reactor_timer_free(t);
}

uint64_t
__wrap_time_mono_ns(void)
{
	return __real_time_mono_ns() + run.clock_ns;
}

/* Fire timer ft on the next turn, as if its time had come. */
static void
fz_timer_fire(struct fz_timer *ft)
{
	run.clock_ns += ft->ms * 1000000;
	ft->armed = ft->periodic;
	__real_reactor_timer_start(ft->t, 0, false);
}

/* Power off would exit the process: its timer never fires here. */
static bool
fz_timer_may_fire(const struct fz_timer *ft)
{
	return ft->armed && ft->t != run.a.off_timer;
}

static void
fz_time_passes(struct fz_tape *t)
{
	size_t i, n = 0, k = fz_u8(t);

	for (i = 0; i < run.ntimers; i++)
		n += fz_timer_may_fire(&run.timers[i]);
	if (n == 0)
		return;
	k %= n;
	for (i = 0; i < run.ntimers; i++)
		if (fz_timer_may_fire(&run.timers[i]) && k-- == 0) {
			fz_timer_fire(&run.timers[i]);
			return;
		}
}

/* ---- the scratch tree ------------------------------------------------ */

static const char *fz_rm_root;

static int
fz_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	if (strcmp(path, fz_rm_root) == 0)
		return 0;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

/* Everything below dir (which stays), never outside the scratch tree. */
static void
fz_rm_below(const char *dir)
{
	if (!fz_in_scratch(dir))
		return;
	fz_rm_root = dir;
	nftw(dir, fz_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void
fz_mkdirs(const char *path)
{
	char p[512], *s;

	snprintf(p, sizeof p, "%s", path);
	for (s = p + 1; *s != '\0'; s++)
		if (*s == '/') {
			*s = '\0';
			mkdir(p, 0755);
			*s = '/';
		}
	mkdir(p, 0755);
}

static void
fz_cleanup(void)
{
	fz_rm_below(fz.dir);
	rmdir(fz.dir);
}

/* The guest's sysfs as the agent reads it: one virtio disk, two CPUs. */
static void
fz_setup(void)
{
	const char *tmp;
	char p[512];

	if (fz.dir[0] != '\0')
		return;
	log_init("fuzz", LOG_LVL_ERROR, -1);
	/* Children are fake: pidfd_open() must never see their pids. */
	setenv("KILN_REACTOR_NO_PIDFD", "1", 1);
	/*
	 * $TMPDIR: make fuzz-ci points it at a directory it removes, since
	 * libFuzzer ends a timed run with _Exit (no atexit). Short ones
	 * only: the agent binds unix sockets (108 bytes) below it.
	 */
	tmp = getenv("TMPDIR");
	if (tmp == NULL || tmp[0] != '/' || strlen(tmp) > 24)
		tmp = "/tmp";
	snprintf(fz.dir, sizeof fz.dir, "%s/kiln-fuzz-agent-XXXXXX", tmp);
	if (mkdtemp(fz.dir) == NULL)
		abort();
	snprintf(fz.run, sizeof fz.run, "%s/run", fz.dir);
	snprintf(fz.sys, sizeof fz.sys, "%s/sys", fz.dir);
	snprintf(fz.cg, sizeof fz.cg, "%s/fs/cgroup/%s", fz.sys,
	    AGENT_CGROUP_PARENT);
	fz_mkdirs(fz.run);
	fz_mkdirs(fz.cg);
	snprintf(p, sizeof p, "%s/block/vda", fz.sys);
	fz_mkdirs(p);
	snprintf(p, sizeof p, "%s/block/vda/serial", fz.sys);
	fz_write_text(p, "ser1\n", false);
	snprintf(p, sizeof p, "%s/block/vda/device", fz.sys);
	(void)!symlink("../../bus/virtio/devices/virtio3", p);
	snprintf(p, sizeof p, "%s/bus/virtio/drivers/virtio_blk", fz.sys);
	fz_mkdirs(p);
	snprintf(p, sizeof p, "%s/bus/virtio/drivers/virtio_blk/bind", fz.sys);
	fz_write_text(p, "", false);
	snprintf(p, sizeof p, "%s/bus/virtio/drivers/virtio_blk/unbind",
	    fz.sys);
	fz_write_text(p, "", false);
	snprintf(p, sizeof p, "%s/devices/system/cpu", fz.sys);
	fz_mkdirs(p);
	snprintf(p, sizeof p, "%s/devices/system/cpu/online", fz.sys);
	fz_write_text(p, "0-1\n", false);
	agent_run_dir = fz.run;
	agent_sysfs = fz.sys;
	memset(fz_big, 'o', sizeof fz_big);
	atexit(fz_cleanup);
}

/* ---- the host's wire ------------------------------------------------- */

static struct fz_stream *
fz_stream_get(const char *cid, const char *eid, uint32_t fd)
{
	struct fz_stream *s;
	int i;

	for (i = 0; i < run.nstreams; i++) {
		s = &run.streams[i];
		if (s->fd == fd && strcmp(s->cid, cid) == 0 &&
		    strcmp(s->eid, eid) == 0)
			return s;
	}
	if (run.nstreams == FZ_MAX_STREAMS)
		return NULL;
	s = &run.streams[run.nstreams++];
	memset(s, 0, sizeof *s);
	snprintf(s->cid, sizeof s->cid, "%s", cid);
	snprintf(s->eid, sizeof s->eid, "%s", eid);
	s->fd = fd;
	s->budget = PROTO_STREAM_WINDOW;
	return s;
}

/*
 * A new process life may begin (Create or Exec sent or answered): its
 * output streams start with a full window and no EOF. Resetting at both
 * ends of the call only ever makes the host more lenient.
 */
static void
fz_streams_reset(const char *cid, const char *eid, bool all_of_cid)
{
	int i;

	for (i = 0; i < run.nstreams; i++) {
		struct fz_stream *s = &run.streams[i];

		if (strcmp(s->cid, cid) != 0 ||
		    (!all_of_cid && strcmp(s->eid, eid) != 0))
			continue;
		s->budget = PROTO_STREAM_WINDOW;
		s->eof = false;
	}
}

/* The agent's stream frame: output within credit, stdin credit earned. */
static void
fz_host_stream(const uint8_t *body, size_t len)
{
	struct Kiln__Agent__V1__StreamFrame *f;
	struct proto_stream_msg m;
	struct fz_stream *s;
	struct err err;

	FZ_ASSERT(proto_stream_decode(body, len, &f, &m, &err) == 0);
	s = fz_stream_get(m.container_id, m.exec_id, m.fd);
	if (m.fd == 0) {
		FZ_ASSERT(m.len == 0 && !m.eof);
		if (s != NULL) {
			s->in_credit += m.credit;
			FZ_ASSERT(s->in_credit <= s->in_sent);
		}
	} else {
		FZ_ASSERT(m.credit == 0);
		if (s != NULL) {
			FZ_ASSERT(!s->eof);
			FZ_ASSERT(m.len <= s->budget);
			s->budget -= m.len;
			s->eof = m.eof;
		}
	}
	proto_stream_free(f);
}

static struct fz_req *
fz_req_find(uint32_t stream)
{
	int i;

	for (i = 0; i < run.nreqs; i++)
		if (run.reqs[i].stream == stream)
			return &run.reqs[i];
	return NULL;
}

/* What an OK reply says must make sense. */
static void
fz_check_reply(const char *method, const ProtobufCMessage *msg)
{
	if (strcmp(method, "ProcessState") == 0) {
		const Kiln__Agent__V1__ProcessStateResponse *r =
		    (const void *)msg;

		FZ_ASSERT(r->status <= 3);
	} else if (strcmp(method, "WaitProcess") == 0) {
		const Kiln__Agent__V1__WaitProcessResponse *r =
		    (const void *)msg;

		FZ_ASSERT(!r->signaled || r->exit_status == 128 + r->signal);
	} else if (strcmp(method, "NextEvent") == 0) {
		const Kiln__Agent__V1__GuestEvent *e = (const void *)msg;

		FZ_ASSERT(e->kind_case !=
		    KILN__AGENT__V1__GUEST_EVENT__KIND__NOT_SET);
		if (e->exited != NULL)
			FZ_ASSERT(ident_valid(e->exited->container_id,
			    PROTO_ID_MAX));
	} else if (strcmp(method, "ListPids") == 0) {
		const Kiln__Agent__V1__ListPidsResponse *r = (const void *)msg;

		FZ_ASSERT(r->n_pids <= 1024);
	}
}

/* A response: to a request of ours, on its connection, once, typed. */
static void
fz_host_response(uint32_t stream, const uint8_t *body, size_t len)
{
	struct fz_req *q = fz_req_find(stream);
	const char *method;
	Ttrpc__Response *r;
	ProtobufCMessage *msg;

	/* Raw bytes may have carried requests of their own. */
	if (!run.dirty) {
		FZ_ASSERT(q != NULL);
		FZ_ASSERT(!q->answered);
		FZ_ASSERT(q->gen == run.gen);
	}
	r = ttrpc__response__unpack(NULL, len, body);
	FZ_ASSERT(r != NULL);
	if (q == NULL || q->answered || q->gen != run.gen) {
		ttrpc__response__free_unpacked(r, NULL);
		return;
	}
	q->answered = true;
	method = agent_methods[q->method].name;
	if (r->status == NULL || r->status->code == 0) {
		msg = protobuf_c_message_unpack(fz_agent_reply_type(method),
		    NULL, r->payload.len, r->payload.data);
		FZ_ASSERT(msg != NULL);
		fz_check_reply(method, msg);
		protobuf_c_message_free_unpacked(msg, NULL);
		if (q->cid[0] != '\0')
			fz_streams_reset(q->cid, q->eid, q->eid[0] == '\0');
	}
	ttrpc__response__free_unpacked(r, NULL);
}

static void
fz_host_frame(const struct proto_hdr *h, const uint8_t *body)
{
	switch (h->type) {
	case PROTO_FT_RESPONSE:
		fz_host_response(h->stream, body, h->len);
		break;
	case PROTO_FT_KILN_STREAM:
		fz_host_stream(body, h->len);
		break;
	case PROTO_FT_KILN_HELLO:
		FZ_ASSERT(h->len == strlen(PROTO_AGENT_HELLO) &&
		    memcmp(body, PROTO_AGENT_HELLO, h->len) == 0);
		break;
	default:
		FZ_ASSERT(!"the agent sent a frame of an unknown type");
	}
}

/* Read and check everything the agent sent. */
static void
fz_host_read(void)
{
	struct proto_hdr h;
	ssize_t n;
	size_t off = 0;

	if (run.hfd < 0)
		return;
	while ((n = read(run.hfd, run.hbuf + run.hlen, sizeof run.hbuf -
	    run.hlen)) > 0) {
		run.hlen += (size_t)n;
		off = 0;
		while (run.hlen - off >= PROTO_HDR_LEN) {
			proto_hdr_decode(run.hbuf + off, &h);
			FZ_ASSERT(h.len <= sizeof run.hbuf - PROTO_HDR_LEN);
			if (run.hlen - off < PROTO_HDR_LEN + h.len)
				break;
			fz_host_frame(&h, run.hbuf + off + PROTO_HDR_LEN);
			off += PROTO_HDR_LEN + h.len;
		}
		memmove(run.hbuf, run.hbuf + off, run.hlen - off);
		run.hlen -= off;
	}
}

/* Write all of p, letting the agent read (and answer) when the pipe fills. */
static void
fz_host_write(const uint8_t *p, size_t len)
{
	int tries = 0;
	ssize_t n;

	while (len > 0 && run.hfd >= 0 && tries < 64) {
		n = write(run.hfd, p, len);
		if (n < 0) {
			if (errno != EAGAIN)
				return;
			tries++;
			fz_pump(1);
			continue;
		}
		p += n;
		len -= (size_t)n;
	}
	if (len > 0)
		run.dirty = true;
}

static void
fz_host_send(uint32_t stream, uint8_t type, const uint8_t *body, size_t len)
{
	struct proto_hdr h = { (uint32_t)len, stream, type, 0 };
	uint8_t hdr[PROTO_HDR_LEN];

	proto_hdr_encode(hdr, &h);
	fz_host_write(hdr, sizeof hdr);
	if (len > 0)
		fz_host_write(body, len);
}

/* A fresh host channel: the agent's end is adopted as the shim's would be. */
static void
fz_connect(void)
{
	int sv[2];

	close_fd(&run.hfd);
	run.hlen = 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) < 0)
		abort();
	run.gen++;
	run.dirty = false;
	run.hfd = sv[1];
	agent_serve_fd(&run.a, sv[0]);
}

/* ---- the host's requests --------------------------------------------- */

/* Ids and names that name what exists most of the time. */
static const char *
fz_agent_str(const ProtobufCFieldDescriptor *f, struct fz_tape *t, void *arg)
{
	static const char *const cids[] = { "c1", "c1", "c1", "c2" };
	static const char *const eids[] = { "", "", "e1", "e2" };
	static const char *const tags[] = { "rootfs", "ser1" };
	static const char *const types[] = { "", "9p", "erofs", "9p" };
	static const char *const ifs[] = { "eth0", "eth1" };
	static const char *const ns[] = { "10.0.0.1", "fd00::1", "bogus" };

	(void)arg;
	if (strcmp(f->name, "container_id") == 0)
		return fz_pick(t, cids, ARRAY_SIZE(cids));
	if (strcmp(f->name, "exec_id") == 0)
		return fz_pick(t, eids, ARRAY_SIZE(eids));
	if (strcmp(f->name, "rootfs_tag") == 0)
		return fz_pick(t, tags, ARRAY_SIZE(tags));
	if (strcmp(f->name, "rootfs_type") == 0)
		return fz_pick(t, types, ARRAY_SIZE(types));
	if (strcmp(f->name, "name") == 0)
		return fz_pick(t, ifs, ARRAY_SIZE(ifs));
	if (strcmp(f->name, "nameservers") == 0)
		return fz_pick(t, ns, ARRAY_SIZE(ns));
	return NULL;
}

static const char *const fz_specs[] = {
	"{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"sh\"],"
	    "\"cwd\":\"/\"},\"root\":{\"path\":\"rootfs\"},\"linux\":"
	    "{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\","
	    "\"path\":\"/proc/1/ns/net\"}]},\"hooks\":{}}",
	"{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"sh\",\"-c\","
	    "\"x\"],\"env\":[\"A=1\"],\"terminal\":true},\"mounts\":"
	    "[{\"type\":\"bind\",\"source\":\"/nonexistent\","
	    "\"destination\":\"/x\"},{\"type\":\"tmpfs\"}]}",
	"{\"ociVersion\":1}",
	"{\"ociVersion\":\"1\",\"process\":{\"args\":[]}}",
};
static const char *const fz_procs[] = {
	"{\"args\":[\"ls\",\"-l\"],\"cwd\":\"/\"}",
	"{\"args\":[\"sh\"],\"env\":[\"X=1\"],\"terminal\":true}",
	"{\"args\":[\"sh\"],\"cwd\":\"relative\"}",
	"[1,2]",
};
static const uint8_t fz_macs[2][6] = {
	{ 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 },
	{ 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 },
};

/* Bytes that decode to a spec, a process or a MAC, most of the time. */
static void
fz_set_bytes(ProtobufCBinaryData *bd, struct fz_tape *t,
    const char *const *pool, size_t n)
{
	uint8_t b = fz_u8(t);

	if (b >= 0xc0)
		return;
	free(bd->data);
	bd->len = strlen(pool[b % n]);
	bd->data = (uint8_t *)xstrdup(pool[b % n]);
}

static void
fz_fix_request(ProtobufCMessage *msg, struct fz_tape *t)
{
	if (msg->descriptor ==
	    &kiln__agent__v1__create_container_request__descriptor) {
		Kiln__Agent__V1__CreateContainerRequest *r = (void *)msg;

		fz_set_bytes(&r->spec_json, t, fz_specs, ARRAY_SIZE(fz_specs));
	} else if (msg->descriptor ==
	    &kiln__agent__v1__exec_process_request__descriptor) {
		Kiln__Agent__V1__ExecProcessRequest *r = (void *)msg;

		fz_set_bytes(&r->process_json, t, fz_procs,
		    ARRAY_SIZE(fz_procs));
	} else if (msg->descriptor ==
	    &kiln__agent__v1__network_config__descriptor) {
		Kiln__Agent__V1__NetworkConfig *r = (void *)msg;
		uint8_t b = fz_u8(t);

		if (r->interface != NULL && b < 0xc0) {
			free(r->interface->mac.data);
			r->interface->mac.len = 6;
			r->interface->mac.data = xmalloc(6);
			memcpy(r->interface->mac.data, fz_macs[b & 1], 6);
		}
	} else if (msg->descriptor ==
	    &kiln__agent__v1__set_clock_request__descriptor) {
		Kiln__Agent__V1__SetClockRequest *r = (void *)msg;
		uint8_t b = fz_u8(t);

		if (b < 0xc0)
			r->realtime_ns = 1700000000LL * 1000000000LL +
			    (int64_t)b * 999999937LL;
	}
}

/* The ids of a Create or Exec: a new life for their streams. */
static void
fz_note_life(struct fz_req *q, const ProtobufCMessage *msg)
{
	const char *cid = NULL, *eid = "";

	if (msg->descriptor ==
	    &kiln__agent__v1__create_container_request__descriptor)
		cid = ((const Kiln__Agent__V1__CreateContainerRequest *)
		    (const void *)msg)->container_id;
	else if (msg->descriptor ==
	    &kiln__agent__v1__exec_process_request__descriptor) {
		cid = ((const Kiln__Agent__V1__ExecProcessRequest *)
		    (const void *)msg)->container_id;
		eid = ((const Kiln__Agent__V1__ExecProcessRequest *)
		    (const void *)msg)->exec_id;
	}
	if (cid == NULL || !ident_valid(cid, PROTO_ID_MAX) ||
	    strlen(eid) > PROTO_ID_MAX)
		return;
	snprintf(q->cid, sizeof q->cid, "%s", cid);
	snprintf(q->eid, sizeof q->eid, "%s", eid);
	fz_streams_reset(cid, eid, eid[0] == '\0');
}

/*
 * One request: method from the registry; a message built from the tape
 * (mode < 0xe0), or a payload of raw tape bytes (the seeds' form: a
 * 16-bit length, then the encoded request); 0xff names another service.
 */
static void
fz_request(struct fz_tape *t)
{
	int mi = fz_u8(t) % (int)agent_nmethods;
	const struct proto_method *m = &agent_methods[mi];
	Ttrpc__Request req = TTRPC__REQUEST__INIT;
	ProtobufCMessage *msg = NULL;
	uint8_t *payload = NULL, *frame, mode = fz_u8(t);
	struct fz_req *q;
	size_t len;

	if (run.nreqs == FZ_MAX_REQS || run.hfd < 0)
		return;
	q = &run.reqs[run.nreqs++];
	memset(q, 0, sizeof *q);
	q->stream = run.next_stream;
	q->method = mi;
	q->gen = run.gen;
	run.next_stream += 2;
	req.service = (char *)(uintptr_t)(mode == 0xff ? "kiln.agent.v2.Agent" :
	    "kiln.agent.v1.Agent");
	req.method = (char *)(uintptr_t)m->name;
	if (mode >= 0xe0) {
		len = (size_t)fz_u8(t) << 8;
		len |= fz_u8(t);
		req.payload.data = (uint8_t *)(uintptr_t)fz_bytes(t, len,
		    &req.payload.len);
		msg = protobuf_c_message_unpack(m->input, NULL, req.payload.len,
		    req.payload.data);
	} else {
		msg = fz_msg_new(m->input, t, 3, fz_agent_str, NULL);
		fz_fix_request(msg, t);
		payload = fz_msg_pack(msg, &len);
		req.payload.data = payload;
		req.payload.len = len;
	}
	if (msg != NULL)
		fz_note_life(q, msg);
	if (getenv("FZ_TRACE") != NULL)
		fprintf(stderr, "host: %s #%u (%zu bytes)\n", m->name,
		    q->stream, req.payload.len);
	frame = fz_msg_pack(&req.base, &len);
	fz_host_send(q->stream, PROTO_FT_REQUEST, frame, len);
	free(frame);
	free(payload);
	if (msg != NULL)
		protobuf_c_message_free_unpacked(msg, NULL);
}

/*
 * What a frame the host sends grants, if the agent accepts it (the same
 * decoder decides): stdin bytes sent, or output credit.
 */
static void
fz_host_note_frame(const uint8_t *body, size_t len)
{
	struct Kiln__Agent__V1__StreamFrame *f;
	struct proto_stream_msg m;
	struct fz_stream *s;
	struct err err;

	if (proto_stream_decode(body, len, &f, &m, &err) < 0)
		return;
	if ((s = fz_stream_get(m.container_id, m.exec_id, m.fd)) != NULL) {
		if (m.fd == 0)
			s->in_sent += m.len;
		else {
			s->budget += m.credit;
			if (s->budget > PROTO_STREAM_WINDOW)
				s->budget = PROTO_STREAM_WINDOW;
		}
	}
	proto_stream_free(f);
}

/* A StreamFrame from the host: stdin data or EOF, or output credit. */
static void
fz_host_stdio(struct fz_tape *t)
{
	Kiln__Agent__V1__StreamFrame *f;
	uint8_t *body, mode = fz_u8(t);
	size_t len;

	if (mode >= 0xf0) {
		const uint8_t *p = fz_bytes(t, fz_u8(t), &len);

		fz_host_note_frame(p, len);
		fz_host_send(0, PROTO_FT_KILN_STREAM, p, len);
		return;
	}
	f = (void *)fz_msg_new(&kiln__agent__v1__stream_frame__descriptor, t,
	    1, fz_agent_str, NULL);
	if (mode < 0xc0)
		f->fd = mode % 3;
	if (mode >= 0xb0 && mode < 0xc0 && f->fd == 0) {
		/* A full chunk: a few of them overrun the stdin window. */
		free(f->data.data);
		f->data.data = xmalloc(sizeof fz_big);
		memcpy(f->data.data, fz_big, sizeof fz_big);
		f->data.len = sizeof fz_big;
	}
	if (f->fd != 0) {
		free(f->data.data);
		f->data.data = NULL;
		f->data.len = 0;
	}
	body = fz_msg_pack(&f->base, &len);
	fz_host_note_frame(body, len);
	fz_host_send(0, PROTO_FT_KILN_STREAM, body, len);
	free(body);
	protobuf_c_message_free_unpacked(&f->base, NULL);
}

/* ---- the container side ---------------------------------------------- */

static struct fz_child *
fz_pick_child(struct fz_tape *t, bool ctr_only)
{
	int i, n = 0, k = fz_u8(t);

	for (i = 0; i < run.nkids; i++)
		n += !run.kids[i].exited &&
		    (!ctr_only || run.kids[i].kind == FZ_K_CTR);
	if (n == 0)
		return NULL;
	k %= n;
	for (i = 0; i < run.nkids; i++)
		if (!run.kids[i].exited &&
		    (!ctr_only || run.kids[i].kind == FZ_K_CTR) && k-- == 0)
			return &run.kids[i];
	return NULL;
}

/* A child exits: crun mostly succeeds; a process by code or signal. */
static void
fz_child_exits(struct fz_tape *t)
{
	struct fz_child *c = fz_pick_child(t, false);
	uint8_t b = fz_u8(t);
	int status;

	if (c == NULL)
		return;	/* b was read all the same */
	if (c->kind != FZ_K_CTR)
		status = b < 0xc0 ? 0 : b < 0xf0 ? (1 + b % 3) << 8 : SIGKILL;
	else if (b < 0x80)
		status = (b & 3) << 8;
	else
		status = c->last_sig != 0 ? c->last_sig : SIGTERM;
	fz_exit(c, status);
}

/* A container process writes output, reads its stdin, or closes stdout. */
static void
fz_child_io(struct fz_tape *t)
{
	struct fz_child *c = fz_pick_child(t, true);
	uint8_t b = fz_u8(t), buf[4096];
	const uint8_t *p = NULL;
	size_t len = 0;
	int fd = 1 + (b & 1);

	/* The tape is read the same whether or not c exists. */
	if (b >> 6 == 0)
		p = fz_bytes(t, fz_u8(t), &len);
	if (c == NULL)
		return;
	switch (b >> 6) {
	case 0:
		if (c->fd[fd] >= 0 && len > 0)
			(void)!write(c->fd[fd], p, len);
		break;
	case 1:
		if (c->fd[fd] >= 0)
			(void)!write(c->fd[fd], fz_big, sizeof fz_big);
		break;
	case 2:
		while (c->fd[0] >= 0 && read(c->fd[0], buf, sizeof buf) > 0)
			;
		break;
	default:
		close_fd(&c->fd[fd]);
		break;
	}
}

/* A cgroup file of a container changes (the kernel's side). */
static void
fz_cgroup_change(struct fz_tape *t)
{
	static const char *const files[] = { "cgroup.events",
	    "memory.events", "cgroup.procs", "cpu.stat", "memory.stat",
	    "io.stat", "memory.max", "pids.max", "memory.pressure" };
	static const char *const canned[] = { "frozen 1\n",
	    "low 0\nhigh 0\nmax 1\noom 1\noom_kill 1\n", "",
	    "some avg10=0.00 avg60=0.00 avg300=0.00 total=123\n" };
	const char *cid = (fz_u8(t) & 1) != 0 ? "c2" : "c1";
	const char *file = files[fz_u8(t) % ARRAY_SIZE(files)];
	char path[512], text[256];
	uint8_t b = fz_u8(t);
	const uint8_t *p;
	size_t len;

	agent_cgroup_path(path, sizeof path, cid, NULL);
	if (access(path, F_OK) < 0)
		return;
	agent_cgroup_path(path, sizeof path, cid, file);
	if (b < 0x80) {
		fz_write_text(path, canned[b % ARRAY_SIZE(canned)], false);
		return;
	}
	p = fz_bytes(t, b & 0x7f, &len);
	memcpy(text, p, len);
	text[len] = '\0';
	fz_write_text(path, text, false);
}

/* The link of a NIC being configured shows up (or one with another MAC). */
static void
fz_link_appears(struct fz_tape *t)
{
	struct cni_nl_link *l;
	uint8_t b = fz_u8(t);

	if (run.nlinks == FZ_MAX_LINKS)
		return;
	l = &run.links[run.nlinks];
	memset(l, 0, sizeof *l);
	l->ifindex = 2 + run.nlinks++;
	snprintf(l->name, sizeof l->name, "eth%d", l->ifindex);
	l->has_mac = (b & 0x80) == 0;
	memcpy(l->mac, fz_macs[b & 1], 6);
	if ((b & 0x40) != 0)
		l->mac[5] = b;
}

/* ---- the world ------------------------------------------------------- */

/* Drop exits recorded for processes that no longer exist. */
static void
fz_prune_pushed(void)
{
	struct agent_container *c;
	struct agent_process *p;
	int i;
	bool found;

	for (i = 0; i < run.npushed; ) {
		found = false;
		TAILQ_FOREACH(c, &run.a.containers, entry)
			TAILQ_FOREACH(p, &c->procs, entry)
				found |= p == run.pushed[i];
		if (found)
			i++;
		else
			run.pushed[i] = run.pushed[--run.npushed];
	}
}

static void
fz_pump(int turns)
{
	int i;

	for (i = 0; i < turns; i++) {
		reactor_run_once(run.a.r, false);
		fz_prune_pushed();
		fz_host_read();
	}
}

static void
fz_check(void)
{
	struct agent_container *c;
	struct agent_process *p;
	int n = 0;

	TAILQ_FOREACH(c, &run.a.containers, entry) {
		FZ_ASSERT(c->fsm.state < AGENT_CTR_ST__COUNT);
		FZ_ASSERT(c->nprocs <= AGENT_MAX_PROCESSES);
		TAILQ_FOREACH(p, &c->procs, entry) {
			FZ_ASSERT(p->fsm.state < AGENT_PROC_ST__COUNT);
			FZ_ASSERT(p->streams[1].credit <= PROTO_STREAM_WINDOW);
			FZ_ASSERT(buf_used(&p->streams[0].pending) <=
			    PROTO_STREAM_WINDOW);
		}
		n++;
	}
	FZ_ASSERT(n == run.a.ncontainers && n <= AGENT_MAX_CONTAINERS);
	FZ_ASSERT(run.a.nevents <= AGENT_MAX_EVENTS);
}

static void
fz_world_new(uint8_t flags)
{
	struct err err;

	memset(&run, 0, offsetof(typeof(run), hbuf));
	run.hlen = 0;
	run.flags = flags;
	run.hfd = -1;
	run.next_stream = 1;
	if (agent_init(&run.a, &err) < 0)
		abort();
	if (getenv("FZ_TRACE") != NULL)
		fsm_env_set_hook(run.a.env, fz_trace_hook, NULL);
	snprintf(run.a.kernel_release, sizeof run.a.kernel_release, "fuzz");
	fz_connect();
}

/*
 * The end: every child exits, then time runs out for every timer (an
 * hour passes), twice over, since the first round can start more.
 */
static void
fz_world_end(void)
{
	int round, i;
	size_t k;

	for (round = 0; round < 3; round++) {
		for (i = 0; i < run.nkids; i++)
			fz_exit(&run.kids[i], run.kids[i].kind == FZ_K_CTR ?
			    SIGKILL : 0);
		fz_pump(FZ_TURNS);
		run.clock_ns += 3600ull * 1000000000ull;
		for (k = 0; k < run.ntimers; k++)
			if (fz_timer_may_fire(&run.timers[k]))
				fz_timer_fire(&run.timers[k]);
		fz_pump(FZ_TURNS);
	}
}

static struct agent_container *
fz_live_container(const char *id)
{
	struct agent_container *c;

	TAILQ_FOREACH(c, &run.a.containers, entry)
		if (!c->dead && strcmp(c->id, id) == 0)
			return c;
	return NULL;
}

/*
 * Once everything has ended, the run directory holds only what lives: a
 * directory per container not removed, exec files only of its execs.
 */
static void
fz_check_run_dir(void)
{
	struct agent_container *c;
	struct dirent *de, *fe;
	char path[512], eid[PROTO_ID_MAX + 1];
	DIR *d, *f;

	if ((d = opendir(fz.run)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		c = fz_live_container(de->d_name);
		FZ_ASSERT(c != NULL);
		snprintf(path, sizeof path, "%s/%s", fz.run, de->d_name);
		if ((f = opendir(path)) == NULL)
			continue;
		while ((fe = readdir(f)) != NULL) {
			if (strncmp(fe->d_name, "exec-", 5) != 0)
				continue;
			snprintf(eid, sizeof eid, "%.*s",
			    (int)strcspn(fe->d_name + 5, "."), fe->d_name + 5);
			FZ_ASSERT(agent_process_find(c, eid) != NULL);
		}
		closedir(f);
	}
	closedir(d);
}

static void
fz_world_free(void)
{
	int i;

	fz_world_end();
	fz_check_run_dir();
	agent_fini(&run.a);
	close_fd(&run.hfd);
	for (i = 0; i < run.nkids; i++)
		fz_child_close(&run.kids[i]);
	free(run.timers);
	run.timers = NULL;
	run.ntimers = run.timers_cap = 0;
	fz_rm_below(fz.run);
	fz_rm_below(fz.cg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_tape t = { data, size, 0 };
	int ops = 0;
	size_t len;

	if (size < 1)
		return 0;
	fz_setup();
	fz_world_new(fz_u8(&t));
	while (!fz_done(&t) && ops++ < FZ_OPS) {
		switch (fz_u8(&t) % 16) {
		case 0: case 1: case 2: case 3: case 4: case 5:
			fz_request(&t);
			break;
		case 6:
		case 7:
			fz_child_exits(&t);
			break;
		case 8:
			fz_child_io(&t);
			break;
		case 9:
			fz_host_stdio(&t);
			break;
		case 10:
			fz_time_passes(&t);
			break;
		case 11:
			fz_cgroup_change(&t);
			break;
		case 12:
			fz_link_appears(&t);
			break;
		case 13: {
			const uint8_t *p = fz_bytes(&t, fz_u8(&t), &len);

			fz_host_write(p, len);
			run.dirty = true;
			break;
		}
		case 14:
			fz_connect();
			break;
		default:
			fz_pump(FZ_TURNS);
			break;
		}
		fz_pump(FZ_TURNS);
		fz_check();
	}
	fz_world_free();
	return 0;
}

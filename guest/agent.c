/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln-agent's process: early init, the reactor, the host channel
 * (virtio-serial port named PROTO_AGENT_PORT_NAME, and AF_VSOCK port
 * PROTO_AGENT_VSOCK_PORT when the guest has vsock), PID 1's reaping, the
 * NextEvent queue, crun helper processes, and power off (on request or on
 * the ACPI power button after QMP system_powerdown).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/inotify.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <linux/input.h>
#include <linux/vm_sockets.h>

#include "guest/agent.h"

static void	agent_open_channel(struct agent *);

const char	*agent_run_dir = AGENT_RUN_DIR;
const char	*agent_sysfs = "/sys";

uint64_t
agent_boottime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- helper processes ------------------------------------------------ */

/* In the child: stdio, default signal dispositions, then exec. */
static void __attribute__((noreturn))
agent_exec_child(char *const argv[], const int stdio[3], const char *log)
{
	sigset_t none;
	int i, null;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (i = 1; i < NSIG; i++)
		signal(i, SIG_DFL);
	null = open("/dev/null", O_RDWR);
	for (i = 0; i < 3; i++)
		dup2(stdio[i] >= 0 ? stdio[i] : null, i);
	if (log != NULL && stdio[2] < 0) {
		int lfd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (lfd >= 0)
			dup2(lfd, 2);
	}
	if (agent_crun_fd >= 0 && strcmp(argv[0], AGENT_CRUN) == 0)
		fexecve(agent_crun_fd, argv, environ);
	execv(argv[0], argv);
	_exit(127);
}

pid_t
agent_spawn(struct agent *a, char *const argv[], const int stdio[3],
    const char *log_path, reactor_child_cb cb, void *arg,
    struct reactor_child **watch, struct err *err)
{
	pid_t pid = fork();

	if (pid < 0)
		return err_set(err, errno, "fork %s: %m", argv[0]);
	if (pid == 0)
		agent_exec_child(argv, stdio, log_path);
	*watch = reactor_child_new(a->r, pid, cb, arg);
	return pid;
}

/* ---- exits and events ------------------------------------------------ */

bool
agent_claim_exit(struct agent *a, pid_t pid, int *status)
{
	int i;

	for (i = 0; i < a->nunclaimed; i++) {
		if (a->unclaimed[i].pid != pid)
			continue;
		*status = a->unclaimed[i].status;
		a->unclaimed[i] = a->unclaimed[--a->nunclaimed];
		return true;
	}
	return false;
}

/*
 * Every exit nobody watches by pid: container processes (crun's children,
 * reparented to PID 1) and orphans. A container pid whose process is not
 * known yet (crun create has not been reaped) is kept for the claim.
 */
static void
agent_orphan_cb(pid_t pid, int status, void *arg)
{
	struct agent *a = arg;
	struct agent_process *p = agent_process_find_pid(a, pid);
	struct err err;

	if (p != NULL) {
		(void)agent_proc_event(p, AGENT_PROC_EV_EXITED, &status, &err);
		return;
	}
	if (a->nunclaimed == AGENT_MAX_UNCLAIMED)
		memmove(a->unclaimed, a->unclaimed + 1,
		    sizeof a->unclaimed - sizeof a->unclaimed[0]),
		    a->nunclaimed--;
	a->unclaimed[a->nunclaimed].pid = pid;
	a->unclaimed[a->nunclaimed++].status = status;
}

/* Hand the oldest queued event to a waiting NextEvent call. */
void
agent_events_flush(struct agent *a)
{
	struct agent_event *e = TAILQ_FIRST(&a->events);

	if (e == NULL || a->event_call == NULL)
		return;
	TAILQ_REMOVE(&a->events, e, entry);
	a->nevents--;
	proto_call_reply(a->event_call, &e->ev.base);
	a->event_call = NULL;
	free(e);
}

void
agent_push_exit_event(struct agent *a, struct agent_process *p)
{
	struct agent_event *e;

	if (a->nevents >= AGENT_MAX_EVENTS) {
		/* The host stopped fetching; WaitProcess still answers. */
		log_warnx("event queue full, exit of %s/%s not queued",
		    p->c->id, p->exec_id);
		return;
	}
	e = xcalloc(1, sizeof *e);
	kiln__agent__v1__guest_event__init(&e->ev);
	kiln__agent__v1__process_exited__init(&e->exited);
	snprintf(e->cid, sizeof e->cid, "%s", p->c->id);
	snprintf(e->eid, sizeof e->eid, "%s", p->exec_id);
	e->exited.container_id = e->cid;
	e->exited.exec_id = e->eid;
	e->exited.exit_status = WIFSIGNALED(p->wait_status) ?
	    128 + (uint32_t)WTERMSIG(p->wait_status) :
	    (uint32_t)WEXITSTATUS(p->wait_status);
	e->exited.signaled = WIFSIGNALED(p->wait_status);
	e->exited.signal = e->exited.signaled ?
	    (uint32_t)WTERMSIG(p->wait_status) : 0;
	e->ev.kind_case = KILN__AGENT__V1__GUEST_EVENT__KIND_EXITED;
	e->ev.exited = &e->exited;
	TAILQ_INSERT_TAIL(&a->events, e, entry);
	a->nevents++;
	agent_events_flush(a);
}

/* ---- OOM ------------------------------------------------------------- */

/* memory.events' oom_kill count of c, or 0. */
static uint64_t
agent_oom_count(const struct agent_container *c)
{
	unsigned long long v, n = 0;
	char path[256], key[32];
	FILE *f;

	agent_cgroup_path(path, sizeof path, c->id, "memory.events");
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	while (fscanf(f, "%31s %llu", key, &v) == 2)
		if (strcmp(key, "oom_kill") == 0)
			n = v;
	fclose(f);
	return n;
}

static void
agent_push_oom_event(struct agent *a, const struct agent_container *c)
{
	struct agent_event *e;

	if (a->nevents >= AGENT_MAX_EVENTS)
		return;
	e = xcalloc(1, sizeof *e);
	kiln__agent__v1__guest_event__init(&e->ev);
	kiln__agent__v1__container_oom__init(&e->oom);
	snprintf(e->cid, sizeof e->cid, "%s", c->id);
	e->oom.container_id = e->cid;
	e->ev.kind_case = KILN__AGENT__V1__GUEST_EVENT__KIND_OOM;
	e->ev.oom = &e->oom;
	TAILQ_INSERT_TAIL(&a->events, e, entry);
	a->nevents++;
	agent_events_flush(a);
}

/* memory.events changed somewhere: report new OOM kills, once each. */
static void
agent_inotify_cb(int fd, int what, void *arg)
{
	char buf[4096] __attribute__((aligned(8)));
	struct agent *a = arg;
	struct agent_container *c;
	uint64_t n;

	(void)what;
	if (read(fd, buf, sizeof buf) <= 0)
		return;
	TAILQ_FOREACH(c, &a->containers, entry) {
		if (c->oom_wd < 0 || (n = agent_oom_count(c)) <= c->oom_kills)
			continue;
		c->oom_kills = n;
		log_info("container=%s oom_kill=%llu", c->id,
		    (unsigned long long)n);
		agent_push_oom_event(a, c);
	}
}

void
agent_oom_watch(struct agent_container *c)
{
	struct agent *a = c->a;
	char path[256];

	if (a->inotify_fd < 0) {
		a->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (a->inotify_fd < 0)
			return;
		a->inotify_io = reactor_io_new(a->r, a->inotify_fd,
		    REACTOR_READ, agent_inotify_cb, a);
	}
	agent_cgroup_path(path, sizeof path, c->id, "memory.events");
	c->oom_kills = agent_oom_count(c);
	c->oom_wd = inotify_add_watch(a->inotify_fd, path, IN_MODIFY);
}

void
agent_oom_unwatch(struct agent_container *c)
{
	if (c->oom_wd >= 0 && c->a->inotify_fd >= 0)
		inotify_rm_watch(c->a->inotify_fd, c->oom_wd);
	c->oom_wd = -1;
}

/* ---- power ----------------------------------------------------------- */

static void
agent_off_now(struct agent *a)
{
	struct agent_container *c;

	TAILQ_FOREACH(c, &a->containers, entry)
		agent_container_kill_all(c, SIGKILL);
	sync();
	log_info("powering off");
	if (getpid() == 1)
		reboot(RB_POWER_OFF);
	exit(0);
}

/* Give queued replies a moment to reach the host, then power off. */
static void
agent_off_timer_cb(void *arg)
{
	struct agent *a = arg;

	if (a->conn == NULL || proto_conn_out_pending(a->conn) == 0 ||
	    ++a->off_polls > 100)
		agent_off_now(a);
}

void
agent_power_off(struct agent *a)
{
	if (a->powering_off)
		return;
	a->powering_off = true;
	a->off_timer = reactor_timer_new(a->r, agent_off_timer_cb, a);
	reactor_timer_start(a->off_timer, 10, true);
}

static void
agent_power_cb(int fd, int what, void *arg)
{
	struct input_event ev[16];
	struct agent *a = arg;
	ssize_t n;
	size_t i;

	(void)what;
	n = read(fd, ev, sizeof ev);
	for (i = 0; n > 0 && i < (size_t)n / sizeof ev[0]; i++)
		if (ev[i].type == EV_KEY && ev[i].code == KEY_POWER &&
		    ev[i].value == 1) {
			log_info("power button pressed");
			agent_power_off(a);
		}
}

/* The ACPI power button's evdev node (QMP system_powerdown presses it). */
static void
agent_watch_power_button(struct agent *a)
{
	char path[300], name[64];
	struct dirent *de;
	DIR *dir;
	FILE *f;

	if ((dir = opendir("/sys/class/input")) == NULL)
		return;
	while (a->power_fd < 0 && (de = readdir(dir)) != NULL) {
		if (strncmp(de->d_name, "event", 5) != 0)
			continue;
		snprintf(path, sizeof path, "/sys/class/input/%s/device/name",
		    de->d_name);
		if ((f = fopen(path, "re")) == NULL)
			continue;
		if (fgets(name, sizeof name, f) != NULL &&
		    strncmp(name, "Power Button", 12) == 0) {
			snprintf(path, sizeof path, "/dev/input/%s",
			    de->d_name);
			a->power_fd = open(path, O_RDONLY | O_NONBLOCK |
			    O_CLOEXEC);
		}
		fclose(f);
	}
	closedir(dir);
	if (a->power_fd >= 0)
		a->power_io = reactor_io_new(a->r, a->power_fd, REACTOR_READ,
		    agent_power_cb, a);
}

/* ---- the host channel ------------------------------------------------ */

#define AGENT_REOPEN_MS	50
#define AGENT_HELLO_MS	25

static void
agent_send_hello(struct agent *a)
{
	struct err err;

	if (a->conn != NULL && !a->settling)
		(void)proto_conn_send_frame(a->conn, PROTO_FT_KILN_HELLO,
		    (const uint8_t *)PROTO_AGENT_HELLO,
		    strlen(PROTO_AGENT_HELLO), &err);
}

/*
 * Repeat the greeting until the host speaks: a greeting written while no
 * host is attached to the port is lost. Every AGENT_HELLO_MS: a VM
 * restored from a template resumes with the template's unanswered
 * greeting, and its new host waits for the next one (250 ms cost restores
 * ~0.13 s on average; the repeats stop once the host speaks).
 */
static void
agent_hello_cb(void *arg)
{
	struct agent *a = arg;

	if (a->heard_host)
		reactor_timer_stop(a->hello_timer);
	else
		agent_send_hello(a);
}

static void
agent_stream_cb(struct proto_conn *c, const uint8_t *d, size_t n, void *arg)
{
	(void)c;
	agent_stdio_frame(arg, d, n);
}

static void
agent_conn_closed_cb(struct proto_conn *c, void *arg)
{
	struct agent *a = arg;

	/*
	 * An unattached port reads as EOF: this repeats until a host comes.
	 * A VM restored from a template starts here, so the period is what
	 * its first greeting waits on average half of (50 ms: 20 wake-ups a
	 * second only while no host is attached at all).
	 */
	log_debug("host channel %s closed", proto_conn_name(c));
	if (a->conn == c)
		a->conn = NULL;
	proto_conn_free(c);
	if (a->port_path != NULL)
		reactor_timer_start(a->reopen_timer, AGENT_REOPEN_MS, false);
}

void
agent_serve_fd(struct agent *a, int fd)
{
	struct proto_conn_opts o = {
		.name = "host", .on_closed = agent_conn_closed_cb,
		.on_stream = agent_stream_cb, .arg = a,
	};
	struct agent_container *c;
	struct agent_process *p;

	if (a->conn != NULL)
		proto_conn_free(a->conn);
	a->conn = proto_server_adopt(a->server, fd, &o);
	a->heard_host = false;
	agent_send_hello(a);
	reactor_timer_start(a->hello_timer, AGENT_HELLO_MS, true);
	/* Output paused for want of a host may flow again. */
	TAILQ_FOREACH(c, &a->containers, entry)
		TAILQ_FOREACH(p, &c->procs, entry)
			agent_stdio_kick(p);
}

/* Find /dev/vportNpM whose name is PROTO_AGENT_PORT_NAME. */
static char *
agent_find_port(void)
{
	char path[300], name[64];
	struct dirent *de;
	char *found = NULL;
	DIR *dir;
	FILE *f;

	if ((dir = opendir("/sys/class/virtio-ports")) == NULL)
		return NULL;
	while (found == NULL && (de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/sys/class/virtio-ports/%s/name",
		    de->d_name);
		if ((f = fopen(path, "re")) == NULL)
			continue;
		if (fgets(name, sizeof name, f) != NULL) {
			name[strcspn(name, "\n")] = '\0';
			if (strcmp(name, PROTO_AGENT_PORT_NAME) == 0)
				found = xasprintf("/dev/%s", de->d_name);
		}
		fclose(f);
	}
	closedir(dir);
	return found;
}

static void
agent_reopen_cb(void *arg)
{
	agent_open_channel(arg);
}

static void
agent_open_channel(struct agent *a)
{
	int fd;

	if (a->port_path == NULL)
		a->port_path = agent_find_port();
	if (a->port_path == NULL)
		return;
	/* The port can be open only once: one fd, read and write. */
	fd = open(a->port_path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		log_warn("open %s", a->port_path);
		reactor_timer_start(a->reopen_timer, AGENT_REOPEN_MS, false);
		return;
	}
	agent_serve_fd(a, fd);
}

static void
agent_vsock_accept_cb(int fd, int what, void *arg)
{
	struct agent *a = arg;
	int cfd;

	(void)what;
	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd >= 0)
		agent_serve_fd(a, cfd);
}

/* Listen on AF_VSOCK too when the guest has a vsock transport. */
static void
agent_listen_vsock(struct agent *a)
{
	struct sockaddr_vm svm = {
		.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
		.svm_port = PROTO_AGENT_VSOCK_PORT,
	};
	int fd;

	if (access("/dev/vsock", F_OK) < 0)
		return;
	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&svm, sizeof svm) < 0 ||
	    listen(fd, 4) < 0) {
		close_fd(&fd);
		return;
	}
	a->vsock_fd = fd;
	a->vsock_io = reactor_io_new(a->r, fd, REACTOR_READ,
	    agent_vsock_accept_cb, a);
}

static void
agent_sigterm_cb(int signo, void *arg)
{
	(void)signo;
	agent_power_off(arg);
}

/* kiln.bpf=off: no metrics programs; kiln.bpf_btf=PATH: BTF for CO-RE. */
static bool agent_bpf_off;
static char agent_btf_path[256];
/* kiln.settle: greet only once settled (struct agent's settling). */
static bool agent_settle;

/* The value of word=VALUE in the command line line, into out. */
static void
agent_cmdline_value(const char *line, const char *word, char *out,
    size_t size)
{
	const char *p = strstr(line, word);

	if (p == NULL || (p != line && p[-1] != ' '))
		return;
	p += strlen(word);
	snprintf(out, size, "%.*s", (int)strcspn(p, " \n"), p);
}

/*
 * Settings from the kernel command line: kiln.debug raises the log level;
 * kiln.probe only proves the guest boots (make guest's accelerator probe);
 * kiln.bpf=off and kiln.bpf_btf=PATH as above; kiln.settle: a template
 * is being built (struct agent's settling).
 */
static void
agent_cmdline(void)
{
	char bpf[8] = "";

	char line[4096] = "";
	FILE *f = fopen("/proc/cmdline", "re");

	if (f != NULL) {
		if (fgets(line, sizeof line, f) == NULL)
			line[0] = '\0';
		fclose(f);
	}
	if (strstr(line, "kiln.debug") != NULL)
		log_set_level(LOG_LVL_DEBUG);
	agent_cmdline_value(line, "kiln.bpf=", bpf, sizeof bpf);
	agent_bpf_off = strcmp(bpf, "off") == 0;
	agent_cmdline_value(line, "kiln.bpf_btf=", agent_btf_path,
	    sizeof agent_btf_path);
	agent_settle = strstr(line, "kiln.settle") != NULL;
	if (strstr(line, "kiln.probe") != NULL) {
		log_info("KILN-PROBE-OK");
		sync();
		if (getpid() == 1)
			reboot(RB_POWER_OFF);
		exit(0);
	}
}

/*
 * The metrics programs load on a deferred call once the late modules are
 * in: the first container never waits for the verifier. A kernel that
 * refuses is said once; GetMetrics then lists "bpf" as missing and keeps
 * serving the cgroup values.
 */
static void
agent_bpf_load(struct agent *a)
{
	uint64_t t0 = agent_boottime_ns();
	struct err err;

	if (agent_bpf_off) {
		snprintf(a->bpf_missing, sizeof a->bpf_missing,
		    "disabled (kiln.bpf=off)");
		log_info("bpf metrics disabled (kiln.bpf=off)");
		return;
	}
	a->bpf = agent_bpf_start(a->r, agent_btf_path[0] != '\0' ?
	    agent_btf_path : NULL, &err);
	if (a->bpf == NULL) {
		snprintf(a->bpf_missing, sizeof a->bpf_missing, "%s",
		    err.msg);
		log_warnx("bpf metrics unavailable, cgroup values only: %s",
		    err.msg);
		return;
	}
	log_info("bpf metrics attached load_ms=%llu", (unsigned long long)
	    ((agent_boottime_ns() - t0) / 1000000));
}

/* Loaded (or refused): a template's guest is settled, it may greet now. */
static void
agent_bpf_load_cb(void *arg)
{
	struct agent *a = arg;

	agent_bpf_load(a);
	if (a->settling) {
		a->settling = false;
		log_info("settled at %llu ms: greeting", (unsigned long long)
		    (agent_boottime_ns() / 1000000));
		agent_send_hello(a);
	}
}

/*
 * The late modules (vsock, net, blk, memory, power button) loaded: listen
 * on vsock and watch the power button now.
 */
static void
agent_late_loaded_cb(pid_t pid, int status, void *arg)
{
	struct agent *a = arg;

	(void)pid;
	reactor_child_free(a->late_loader);
	a->late_loader = NULL;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		log_warnx("late modules: loader exited with 0x%x", status);
	log_debug("late modules loaded at %llu ms", (unsigned long long)
	    (agent_boottime_ns() / 1000000));
	agent_listen_vsock(a);
	agent_watch_power_button(a);
	reactor_defer(a->r, agent_bpf_load_cb, a);
}

/*
 * Modules nothing needs to serve or to start a container load in a child
 * process (module loading is system-wide), off the path to the first
 * container and off the reactor.
 */
static void
agent_load_late(struct agent *a)
{
	struct err err;
	pid_t pid = fork();

	if (pid < 0) {
		log_warn("fork");
		agent_late_loaded_cb(0, 0, a);
		return;
	}
	if (pid == 0)
		_exit(agent_load_modules("load-order.late", &err) < 0 ? 1 : 0);
	a->late_loader = reactor_child_new(a->r, pid, agent_late_loaded_cb, a);
}

static struct proto_service agent_service;

int
agent_init(struct agent *a, struct err *err)
{
	a->vsock_fd = -1;
	a->power_fd = -1;
	a->inotify_fd = -1;
	TAILQ_INIT(&a->containers);
	TAILQ_INIT(&a->events);
	TAILQ_INIT(&a->nics);
	a->r = reactor_new(err);
	if (a->r == NULL)
		return -1;
	a->env = fsm_env_new();
	agent_service.name = "kiln.agent.v1.Agent";
	agent_service.methods = agent_methods;
	agent_service.nmethods = agent_nmethods;
	agent_service.arg = a;
	a->server = proto_server_new(a->r, a->env, &agent_service, 1);
	a->hello_timer = reactor_timer_new(a->r, agent_hello_cb, a);
	a->reopen_timer = reactor_timer_new(a->r, agent_reopen_cb, a);
	reactor_reap_orphans(a->r, agent_orphan_cb, a);
	reactor_sig_new(a->r, SIGTERM, agent_sigterm_cb, a);
	return 0;
}

/* Containers first: freeing them answers the calls waiting on them. */
void
agent_fini(struct agent *a)
{
	struct agent_container *c;
	struct agent_event *e;

	while ((c = TAILQ_FIRST(&a->containers)) != NULL)
		agent_container_free(c);
	agent_nics_free(a);
	while ((e = TAILQ_FIRST(&a->events)) != NULL) {
		TAILQ_REMOVE(&a->events, e, entry);
		free(e);
	}
	a->nevents = 0;
	if (a->event_call != NULL)
		proto_call_fail(TAKE_PTR(a->event_call), PROTO_UNAVAILABLE,
		    "agent exiting");
	agent_bpf_stop(a->bpf);
	proto_server_free(a->server);	/* and a->conn */
	a->conn = NULL;
	reactor_io_free(a->inotify_io);
	reactor_io_free(a->vsock_io);
	reactor_io_free(a->power_io);
	close_fd(&a->inotify_fd);
	close_fd(&a->vsock_fd);
	close_fd(&a->power_fd);
	free(a->port_path);
	reactor_free(a->r);		/* timers, children, signals */
	fsm_env_free(a->env);
	memset(a, 0, sizeof *a);
}

static int
agent_setup(struct agent *a, struct err *err)
{
	struct utsname u;

	if (agent_init(a, err) < 0)
		return -1;
	a->settling = agent_settle;
	uname(&u);
	snprintf(a->kernel_release, sizeof a->kernel_release, "%s",
	    u.release);
	agent_open_channel(a);
	agent_load_late(a);
	if (a->conn == NULL && a->port_path == NULL)
		log_warnx("no %s port yet; waiting for vsock",
		    PROTO_AGENT_PORT_NAME);
	return 0;
}

int
agent_main(struct agent *a)
{
	struct err err;
	int logfd;

	a->boot_ns = agent_boottime_ns();
	if (getpid() == 1 && agent_early_init(&err) < 0)
		fatalx("early init: %s", err.msg);
	if (getpid() == 1) {
		agent_net_lo_up();
		agent_resources_init();
	}
	logfd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
	log_init("kiln-agent", LOG_LVL_INFO, logfd >= 0 ? logfd : 2);
	agent_cmdline();
	log_debug("init done at %llu ms", (unsigned long long)
	    (agent_boottime_ns() / 1000000));
	if (agent_load_modules("load-order", &err) < 0)
		log_warnx("%s", err.msg);
	log_debug("modules loaded at %llu ms", (unsigned long long)
	    (agent_boottime_ns() / 1000000));
	if (agent_setup(a, &err) < 0)
		fatalx("%s", err.msg);
	a->ready_ns = agent_boottime_ns();
	log_info("serving boot_ms=%llu ready_ms=%llu",
	    (unsigned long long)(a->boot_ns / 1000000),
	    (unsigned long long)(a->ready_ns / 1000000));
	reactor_run(a->r);
	agent_off_now(a);
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A container's VM: QEMU as a child process (killed with us: PDEATHSIG),
 * its QMP socket (qmp/) and the agent channel (vsock/). The machine is in
 * vm_fsm.c; this file holds what its actions do and the callbacks that
 * turn QEMU's, QMP's and the agent's news into its events. The owner hears
 * of READY and STOPPED through deferred callbacks, outside any dispatch.
 */
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/core_int.h"

static char	*vm_which(const char *);
static void	 vm_migration_event(struct vm *, const json_t *);

static void
vm_event(struct vm *vm, int ev)
{
	struct err err;

	(void)fsm_dispatch(&vm->fsm, ev, NULL, &err);
}

static void
vm_timer_cb(void *arg)
{
	struct vm *vm = arg;

	snprintf(vm->why, sizeof vm->why, "vm %s: timed out in %s",
	    vm->fsm.id, fsm_state_name(&vm_fsm_def, vm->fsm.state));
	vm_event(vm, VM_EV_TIMEOUT);
}

struct vm *
vm_new(struct reactor *r, struct fsm_env *env, const struct vm_opts *o)
{
	struct vm *vm = xcalloc(1, sizeof *vm);

	vm->r = r;
	vm->env = env;
	vm->opts = *o;
	vm->run_dir = xstrdup(o->run_dir);
	vm->share_dir = xstrdup(o->share_dir);
	vm->opts.run_dir = vm->run_dir;
	vm->opts.share_dir = vm->share_dir;
	vm->rootfs_image = o->rootfs_image != NULL ?
	    xstrdup(o->rootfs_image) : NULL;
	vm->opts.rootfs_image = vm->rootfs_image;
	vm->bundle = o->bundle != NULL ? xstrdup(o->bundle) : NULL;
	vm->opts.bundle = vm->bundle;
	vm->accel = core_accel_resolve(o->cfg->accel, o->cfg->image_dir);
	vm->timer = reactor_timer_new(r, vm_timer_cb, vm);
	vm->mig_fd = -1;
	fsm_init(&vm->fsm, &vm_fsm_def, env, o->id, vm);
	return vm;
}

/*
 * The owner's requests are posted, not dispatched: the owner's own actions
 * make them, and machines never dispatch each other. A spawn that fails
 * ends in STOPPED and the on_stopped callback.
 */
void
vm_start(struct vm *vm)
{
	const struct core_config *cfg = vm->opts.cfg;
	_cleanup_free_ char *qemu = NULL, *key = NULL;

	/* The template's LOOKUP drains first: SPAWN's guards read it. */
	if (cfg->snapshot && vm->tmpl == NULL) {
		qemu = vm_which(cfg->qemu);
		key = vm_snap_key(vm, qemu);
		vm->tmpl = core_tmpl_new(vm->r, vm->env, cfg, vm->fsm.id, key);
	}
	fsm_post(&vm->fsm, VM_EV_SPAWN, NULL, 0);
}

void
vm_stop(struct vm *vm)
{
	vm->stop_requested = true;
	fsm_post(&vm->fsm, VM_EV_STOP, NULL, 0);
}

void
vm_kill(struct vm *vm)
{
	vm->stop_requested = true;
	if (vm->qemu_pid > 0 && !vm_is_stopped(vm))
		kill(vm->qemu_pid, SIGKILL);
	fsm_post(&vm->fsm, VM_EV_STOP, NULL, 0);
}

void
vm_abort(struct vm *vm, const char *why)
{
	if (vm_is_stopped(vm))
		return;
	log_warnx("vm=%s aborted: %s", vm->fsm.id, why);
	snprintf(vm->why, sizeof vm->why, "%s", why);
	if (vm->qemu_pid > 0)
		kill(vm->qemu_pid, SIGKILL);
	fsm_post(&vm->fsm, VM_EV_FAIL, NULL, 0);
}

bool
vm_is_stopped(const struct vm *vm)
{
	return fsm_is_terminal(&vm->fsm);
}

void
vm_free(struct vm *vm)
{
	if (vm == NULL)
		return;
	if (vm->qemu_pid > 0 && !vm_is_stopped(vm)) {
		/* Never leave a QEMU behind; reap it if it is quick. */
		kill(vm->qemu_pid, SIGKILL);
		waitpid(vm->qemu_pid, NULL, 0);
	}
	reactor_defer_cancel(vm->r, vm);
	reactor_child_free(vm->qemu_watch);
	qmp_free(vm->qmp);
	vsock_free(vm->chan);
	reactor_timer_free(vm->timer);
	core_jail_free(vm->jail);
	core_tmpl_free(vm->tmpl);
	if (vm->mig_fd >= 0)
		close(vm->mig_fd);
	free(vm->ram_path);
	fsm_fini(&vm->fsm);
	free(vm->run_dir);
	free(vm->share_dir);
	free(vm->rootfs_image);
	free(vm->bundle);
	free(vm);
}

/* ---- QEMU, QMP and agent news ---------------------------------------- */

/* The jail's own words, if it is what failed (a line in qemu.log). */
static void
vm_jail_why(struct vm *vm)
{
	_cleanup_free_ char *path = xasprintf("%s/qemu.log", vm->run_dir);
	char line[200];
	FILE *f = fopen(path, "re");

	if (f == NULL)
		return;
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, "kiln: ", 6) == 0) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(vm->why, sizeof vm->why, "%s", line + 6);
			break;
		}
	fclose(f);
}

static void
vm_qemu_exit_cb(pid_t pid, int status, void *arg)
{
	struct vm *vm = arg;

	(void)pid;
	vm->qemu_status = status;
	if (vm->why[0] == '\0')
		vm_jail_why(vm);
	if (vm->why[0] == '\0')
		snprintf(vm->why, sizeof vm->why, "qemu exited (status 0x%x)",
		    status);
	vm_event(vm, VM_EV_QEMU_EXITED);
}

/* QEMU's own view of the VM once QMP is up: logged, for the record. */
static void
vm_status_cb(const json_t *ret, const struct err *err, void *arg)
{
	struct vm *vm = arg;
	const char *st = json_string_value(json_object_get(ret, "status"));

	if (err != NULL && err->code != 0)
		log_warnx("vm=%s query-status: %s", vm->fsm.id, err->msg);
	else
		log_info("vm=%s qemu status=%s", vm->fsm.id, st != NULL ? st :
		    "?");
}

static void
vm_qmp_ready_cb(struct qmp *q, void *arg)
{
	struct vm *vm = arg;
	struct err err;

	vm->qmp_up = true;
	(void)qmp_call(q, "query-status", NULL, 5000, vm_status_cb, vm, &err);
	vm_event(vm, VM_EV_QMP_READY);
}

/* QEMU's events are logged; its exit is what ends the VM. */
static void
vm_qmp_event_cb(struct qmp *q, const char *event, const json_t *data,
    void *arg)
{
	struct vm *vm = arg;
	char *text = data != NULL ? json_dumps(data, JSON_COMPACT) : NULL;

	(void)q;
	log_info("vm=%s qmp_event=%s data=%s", vm->fsm.id, event,
	    text != NULL ? text : "{}");
	free(text);
	if (strcmp(event, "GUEST_PANICKED") == 0)
		snprintf(vm->why, sizeof vm->why, "guest kernel panicked");
	if (strcmp(event, "MIGRATION") == 0)
		vm_migration_event(vm, data);
	if (vm->opts.on_qmp_event != NULL)
		vm->opts.on_qmp_event(vm, event, data, vm->opts.arg);
}

/*
 * A snapshot's save or restore ended (the "events" capability is on only
 * then). setup, active and the like are steps on the way.
 */
static void
vm_migration_event(struct vm *vm, const json_t *data)
{
	const char *st = json_string_value(json_object_get(data, "status"));

	if (st == NULL)
		return;
	if (strcmp(st, "completed") == 0)
		vm_event(vm, VM_EV_MIGRATED);
	else if (strcmp(st, "failed") == 0 || strcmp(st, "cancelled") == 0) {
		snprintf(vm->why, sizeof vm->why, "migration %s", st);
		vm_event(vm, VM_EV_MIGRATE_FAILED);
	}
}

static void
vm_qmp_closed_cb(struct qmp *q, const struct err *why, void *arg)
{
	struct vm *vm = arg;

	(void)q;
	log_debug("vm=%s qmp closed: %s", vm->fsm.id, why->msg);
}

static void
vm_agent_ready_cb(struct vsock_chan *ch, struct proto_conn *c, void *arg)
{
	struct vm *vm = arg;

	(void)ch;
	vm->conn = c;
	vm->agent_up = true;
	vm_event(vm, VM_EV_AGENT_READY);
}

/* An agent call went unanswered for its whole deadline: end the VM. */
static void
vm_agent_timeout_cb(struct vsock_chan *ch, void *arg)
{
	(void)ch;
	vm_abort(arg, "the agent stopped answering");
}

static void
vm_agent_closed_cb(struct vsock_chan *ch, const struct err *why, void *arg)
{
	struct vm *vm = arg;

	(void)ch;
	vm->conn = NULL;
	/* Nothing may keep the conn: it is freed once this returns. */
	if (vm->opts.on_conn_lost != NULL)
		vm->opts.on_conn_lost(vm, vm->opts.arg);
	if (vm->why[0] == '\0')
		snprintf(vm->why, sizeof vm->why, "%s", why->msg);
	vm_event(vm, VM_EV_AGENT_LOST);
}

/* ---- actions --------------------------------------------------------- */

/*
 * In the child: QEMU dies with the shim; stdio to /dev/null and a log;
 * it runs in the VM's network namespace, never the runtime's, and in its
 * jail (joined last: setns needs the capabilities the jail drops).
 */
/*
 * What the shim opens for QEMU before the fork (core_vm_opts' *_fd): the
 * agent's and QMP's listening sockets, the console log and the rootfs
 * image. QEMU inherits them; -1: not opened.
 */
struct vm_qemu_fds {
	int	agent;
	int	qmp;
	int	console;
	int	rootfs;
};

static void
vm_qemu_fds_close(struct vm_qemu_fds *f)
{
	close_fd(&f->agent);
	close_fd(&f->qmp);
	close_fd(&f->console);
	close_fd(&f->rootfs);
}

/* Open them all, or none (err). */
static int
vm_qemu_fds_open(struct vm_qemu_fds *f, const struct core_vm_opts *o,
    struct err *err)
{
	*f = (struct vm_qemu_fds){ -1, -1, -1, -1 };
	/* A backlog of one: the shim is QEMU's only peer. */
	if ((f->agent = unix_listen(o->agent_sock, 1, err)) < 0 ||
	    (f->qmp = unix_listen(o->qmp_sock, 1, err)) < 0)
		goto fail;
	f->console = open(o->console_log, O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC, 0600);
	if (f->console < 0) {
		err_set(err, errno, "%s: %m", o->console_log);
		goto fail;
	}
	if (o->rootfs_image != NULL && (f->rootfs = open(o->rootfs_image,
	    O_RDONLY | O_CLOEXEC)) < 0) {
		err_set(err, errno, "rootfs image %s: %m", o->rootfs_image);
		goto fail;
	}
	return 0;
fail:
	vm_qemu_fds_close(f);
	return -1;
}

/* In the child: the fds QEMU inherits lose close-on-exec. */
static void
vm_qemu_fds_inherit(const struct vm_qemu_fds *f)
{
	const int fds[] = { f->agent, f->qmp, f->console, f->rootfs };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fds); i++)
		if (fds[i] >= 0 && fcntl(fds[i], F_SETFD, 0) < 0) {
			dprintf(2, "kiln: keep fd %d for QEMU: %m\n", fds[i]);
			_exit(126);
		}
}

static void __attribute__((noreturn))
vm_exec_qemu(char **argv, const char *log, int netns_fd,
    const struct vm_qemu_fds *fds, const struct core_jail *jail,
    const struct core_jail_paths *jp)
{
	int null = open("/dev/null", O_RDWR), lfd;
	sigset_t none;
	int i;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/*
	 * Inherited across exec: QEMU's MADV_HUGEPAGE on guest RAM is then
	 * ignored (THP is "madvise" on Debian hosts), so a guest that touches
	 * a few bytes of a 2 MiB range costs 4 KiB, not 2 MiB (issue 15).
	 */
	if (!jail->cfg->qemu_thp)
		(void)prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
	setpgid(0, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (i = 1; i < NSIG; i++)
		signal(i, SIG_DFL);
	lfd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(null, 0);
	dup2(null, 1);
	dup2(lfd >= 0 ? lfd : null, 2);
	vm_qemu_fds_inherit(fds);
	if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) < 0) {
		dprintf(2, "kiln: setns to the VM's network namespace: %m\n");
		_exit(126);
	}
	core_jail_enter(jail, jp);
	execvp(argv[0], argv);
	dprintf(2, "kiln: exec %s: %m\n", argv[0]);
	_exit(127);
}

/* name on $PATH, as execvp would find it (the jail has no $PATH view). */
static char *
vm_which(const char *name)
{
	_cleanup_free_ char *path = xstrdup(getenv("PATH") != NULL ?
	    getenv("PATH") : "/usr/local/bin:/usr/bin:/bin");
	char *dir, *save = NULL, *full;

	if (strchr(name, '/') != NULL) {
		full = realpath(name, NULL);
		return full != NULL ? full : xstrdup(name);
	}
	for (dir = strtok_r(path, ":", &save); dir != NULL;
	    dir = strtok_r(NULL, ":", &save)) {
		full = xasprintf("%s/%s", dir, name);
		if (access(full, X_OK) == 0)
			return full;
		free(full);
	}
	return xstrdup(name);
}

static void
vm_dial(struct vm *vm, const char *agent_sock, const char *qmp_sock)
{
	struct qmp_opts qo = {
		.name = vm->fsm.id, .on_ready = vm_qmp_ready_cb,
		.on_event = vm_qmp_event_cb, .on_closed = vm_qmp_closed_cb,
		.arg = vm, .call_hist = vm->opts.qmp_hist,
	};
	struct vsock_opts vo = {
		.name = vm->fsm.id, .timeout_ms = vm->opts.cfg->boot_timeout_ms,
		.on_ready = vm_agent_ready_cb, .on_closed = vm_agent_closed_cb,
		.on_stream = vm->opts.on_stream, .arg = vm,
		.stream_arg = vm->opts.arg, .on_timeout = vm_agent_timeout_cb,
		.call_hist = vm->opts.agent_hist,
	};
	struct err err;

	vm->qmp = qmp_new(vm->r, vm->env, qmp_sock, &qo, &err);
	if (vm->qmp == NULL)
		log_warnx("vm=%s qmp: %s", vm->fsm.id, err.msg);
	vm->chan = vsock_dial_serial(vm->r, vm->env, agent_sock, &vo, &err);
}

/*
 * QEMU for mode: its RAM from the template file and the state file open
 * for vm_snap.c's getfd (a build or a restore), or as it always was.
 */
static int
vm_snap_files(struct vm *vm, enum vm_mode mode, struct core_vm_opts *o,
    struct core_jail_paths *jp, struct err *err)
{
	_cleanup_free_ char *state = NULL;

	vm->mode = mode;
	o->vmgenid = vm->opts.cfg->snapshot;
	if (mode == VM_MODE_COLD)
		return 0;
	state = core_tmpl_path(vm->tmpl, "state");
	vm->ram_path = core_tmpl_path(vm->tmpl, "ram");
	o->ram_path = jp->ram = vm->ram_path;
	/* QEMU's own uid opens it O_RDWR through the template group. */
	if (vm->opts.cfg->jail_user && (chown(vm->ram_path, 0,
	    (gid_t)vm->opts.cfg->jail_template_gid) < 0 ||
	    chmod(vm->ram_path, 0660) < 0))
		return err_set(err, errno, "template: %s: %m", vm->ram_path);
	o->ram_shared = mode == VM_MODE_BUILD;
	o->incoming = mode == VM_MODE_RESTORE;
	vm->mig_fd = open(state, (mode == VM_MODE_BUILD ? O_WRONLY | O_TRUNC :
	    O_RDONLY) | O_CLOEXEC);
	if (vm->mig_fd < 0)
		return err_set(err, errno, "template: %s: %m", state);
	return 0;
}

int
vm_do_spawn(struct vm *vm, enum vm_mode mode, struct err *err)
{
	const struct core_config *cfg = vm->opts.cfg;
	_cleanup_free_ char *agent = xasprintf("%s/agent.sock", vm->run_dir);
	_cleanup_free_ char *qmp = xasprintf("%s/qmp.sock", vm->run_dir);
	_cleanup_free_ char *console = xasprintf("%s/console.log",
	    vm->run_dir);
	_cleanup_free_ char *qlog = xasprintf("%s/qemu.log", vm->run_dir);
	const char *extra = vm_cmdline_extra(cfg);
	/*
	 * A template's guest greets only once settled (its eBPF programs
	 * loaded): the saved guest has them, and no VM restored from it
	 * loads them again (agent.c, kiln.settle).
	 */
	_cleanup_free_ char *settle = xasprintf("%s%skiln.settle",
	    extra != NULL ? extra : "", extra != NULL ? " " : "");
	struct core_vm_opts o = {
		.qemu = cfg->qemu, .kernel = cfg->kernel, .initrd = cfg->initrd,
		.mem_mib = vm->opts.mem_mib, .vcpus = vm->opts.vcpus,
		.max_vcpus = cfg->max_vcpus, .max_mem_mib = cfg->max_mem_mib,
		.accel = vm->accel, .agent_sock = agent, .qmp_sock = qmp,
		.console_log = console,
		.shares = { { vm->share_dir, "rootfs" } },
		.nshares = vm->rootfs_image == NULL ? 1 : 0,
		.rootfs_image = vm->rootfs_image, .name = vm->bundle,
		.cmdline_extra = mode == VM_MODE_BUILD ? settle : extra,
		.hotplug_ports = vm_hotplug_ports(&vm->opts),
	};
	_cleanup_free_ char *qemu_path = vm_which(cfg->qemu);
	struct core_jail_paths jp = {
		.qemu = qemu_path, .kernel = cfg->kernel, .initrd = cfg->initrd,
		/* An image is in the run dir: the host's files stay out. */
		.share = vm->rootfs_image == NULL ? vm->share_dir : NULL,
		.kvm = strcmp(vm->accel, "kvm") == 0,
	};
	struct vm_qemu_fds fds;
	char **argv;

	o.qemu = qemu_path;
	o.share_model = cfg->share_model;
	o.sandbox = cfg->jail_seccomp;
	o.tb_mib = cfg->tcg_tb_mib;
	o.tcg_single = strcmp(cfg->tcg_thread, "single") == 0;
	o.tcg_cpu = cfg->tcg_cpu;
	if (vm_snap_files(vm, mode, &o, &jp, err) < 0)
		return -1;
	vm->t_spawn_ns = time_mono_ns();
	vm->jail = core_jail_new(cfg, vm->fsm.id, vm->run_dir, err);
	if (vm->jail == NULL) {
		snprintf(vm->why, sizeof vm->why, "%s", err->msg);
		return -1;
	}
	if (vm_qemu_fds_open(&fds, &o, err) < 0) {
		snprintf(vm->why, sizeof vm->why, "%s", err->msg);
		return -1;
	}
	o.agent_fd = fds.agent;
	o.qmp_fd = fds.qmp;
	o.console_fd = fds.console;
	o.rootfs_fd = fds.rootfs;
	argv = core_qemu_argv(&o);
	vm->qemu_pid = core_jail_fork(vm->jail);
	if (vm->qemu_pid == 0)
		vm_exec_qemu(argv, qlog, vm->opts.netns_fd, &fds, vm->jail,
		    &jp);
	core_argv_free(argv);
	vm_qemu_fds_close(&fds);
	if (vm->qemu_pid < 0)
		return err_set(err, errno, "fork qemu: %m");
	vm->qemu_watch = reactor_child_new(vm->r, vm->qemu_pid,
	    vm_qemu_exit_cb, vm);
	vm_dial(vm, agent, qmp);
	reactor_timer_start(vm->timer, cfg->boot_timeout_ms, false);
	fsm_detail(&vm->fsm, "pid=%d accel=%s mode=%s", (int)vm->qemu_pid,
	    vm->accel, vm_mode_name(mode));
	log_info("vm=%s qemu pid=%d accel=%s start=%s", vm->fsm.id,
	    (int)vm->qemu_pid, vm->accel, vm_mode_name(mode));
	return 0;
}

/*
 * The QEMU that built or failed to restore a template is reaped: drop
 * what belonged to it (its child watch, QMP, agent channel, jail), then
 * spawn the next one. Nothing of the old one's is on the stack: this runs
 * from QEMU's exit.
 */
int
vm_do_respawn(struct vm *vm, enum vm_mode mode, struct err *err)
{
	reactor_child_free(vm->qemu_watch);
	vm->qemu_watch = NULL;
	vm->qemu_pid = 0;
	qmp_free(vm->qmp);
	vm->qmp = NULL;
	vsock_free(vm->chan);
	vm->chan = NULL;
	vm->conn = NULL;
	core_jail_free(vm->jail);
	vm->jail = NULL;
	if (vm->mig_fd >= 0)
		close(vm->mig_fd);
	vm->mig_fd = -1;
	free(vm->ram_path);
	vm->ram_path = NULL;
	vm->qmp_up = vm->agent_up = false;
	vm->kills = 0;
	vm->why[0] = '\0';
	return vm_do_spawn(vm, mode, err);
}

static void
vm_notify_ready_cb(void *arg)
{
	struct vm *vm = arg;

	if (vm->opts.on_ready != NULL)
		vm->opts.on_ready(vm, vm->conn, vm->opts.arg);
}

void
vm_do_ready(struct vm *vm)
{
	reactor_timer_stop(vm->timer);
	vm->t_ready_ns = time_mono_ns();
	vm->restored = vm->mode == VM_MODE_RESTORE;
	if (vm->restored)
		fsm_post(&vm->tmpl->fsm, TMPL_EV_RESTORED, NULL, 0);
	if (vm->mig_fd >= 0)
		close(vm->mig_fd);
	vm->mig_fd = -1;
	fsm_detail(&vm->fsm, "boot_ms=%llu start=%s", (unsigned long long)
	    ((vm->t_ready_ns - vm->t_spawn_ns) / 1000000),
	    vm_mode_name(vm->mode));
	log_info("vm=%s ready in %llu ms start=%s", vm->fsm.id,
	    (unsigned long long)((vm->t_ready_ns - vm->t_spawn_ns) / 1000000),
	    vm_mode_name(vm->mode));
	reactor_defer(vm->r, vm_notify_ready_cb, vm);
}

static void
vm_ignore_reply_cb(const struct proto_reply *rep, void *arg)
{
	(void)rep;
	(void)arg;
}

static void
vm_ignore_qmp_cb(const json_t *ret, const struct err *err, void *arg)
{
	(void)ret;
	(void)err;
	(void)arg;
}

/*
 * Ask nicely twice over: the agent's Shutdown (fast, when it answers) and
 * the ACPI power button through QMP (works even if the agent's channel is
 * wedged). A timer escalates to SIGKILL.
 */
void
vm_do_powerdown(struct vm *vm)
{
	Google__Protobuf__Empty e = GOOGLE__PROTOBUF__EMPTY__INIT;
	struct err err;

	vm->stop_requested = true;
	if (vm->conn != NULL)
		(void)proto_conn_call(vm->conn, "kiln.agent.v1.Agent",
		    "Shutdown", &e.base, &google__protobuf__empty__descriptor,
		    NULL, vm_ignore_reply_cb, NULL, &err);
	if (vm->qmp != NULL)
		(void)qmp_call(vm->qmp, "system_powerdown", NULL, 1000,
		    vm_ignore_qmp_cb, NULL, &err);
	reactor_timer_start(vm->timer, vm->opts.cfg->stop_timeout_ms, false);
}

void
vm_do_kill(struct vm *vm)
{
	struct err err;

	vm->kills++;
	if (vm->qmp != NULL && vm->kills == 1)
		(void)qmp_call(vm->qmp, "quit", NULL, 1000, vm_ignore_qmp_cb,
		    NULL, &err);
	if (vm->qemu_pid > 0)
		kill(vm->qemu_pid, SIGKILL);
	reactor_timer_start(vm->timer, vm->opts.cfg->stop_timeout_ms, false);
}

/*
 * The agent channel goes only now, outside the dispatch: calls still
 * waiting on the guest (containerd's Stats, Pids, Kill, ResizePty; the
 * task's and execs' own) are answered UNAVAILABLE first, so none hangs
 * and none leaks (found by tests/fuzz/fuzz_shim.c).
 */
static void
vm_notify_stopped_cb(void *arg)
{
	struct vm *vm = arg;
	struct vsock_chan *ch = TAKE_PTR(vm->chan);

	if (ch != NULL)
		proto_conn_fail_calls(vsock_conn(ch), "the VM stopped");
	vsock_free(ch);
	if (vm->opts.on_stopped != NULL)
		vm->opts.on_stopped(vm, !vm->stop_requested, vm->why,
		    vm->opts.arg);
}

/* QEMU is gone: drop its sockets; the owner hears of it next turn. */
void
vm_do_stopped(struct vm *vm)
{
	_cleanup_free_ char *agent = xasprintf("%s/agent.sock", vm->run_dir);
	_cleanup_free_ char *qmp = xasprintf("%s/qmp.sock", vm->run_dir);

	reactor_timer_stop(vm->timer);
	qmp_free(vm->qmp);
	vm->qmp = NULL;
	vm->conn = NULL;	/* the channel goes in vm_notify_stopped_cb */
	unlink(agent);
	unlink(qmp);
	/* QEMU is reaped: its cgroup is empty and its uid is free again. */
	core_jail_free(vm->jail);
	vm->jail = NULL;
	reactor_defer(vm->r, vm_notify_stopped_cb, vm);
}

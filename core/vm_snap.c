/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Snapshot start, the VM's half (the template's is tmpl.c): what the VM
 * machine's restore and save rows do. The QMP sequence and its pitfalls
 * are measured in qemu-guest-notes.md, "Snapshot start":
 *
 *   save:    migrate-set-capabilities x-ignore-shared (the shared RAM file
 *            stays out of the stream) + events, getfd, stop, migrate fd:
 *   restore: -incoming defer, migrate-set-capabilities (it cannot be set
 *            on the command line), getfd, migrate-incoming fd:, cont
 *
 * and the end of a migration is QEMU's MIGRATION event (vm.c). The state
 * file goes to QEMU by SCM_RIGHTS: the jail has no shell for exec: URIs,
 * and -sandbox spawn=deny would refuse one anyway. After `cont` the
 * guest's wall clock is the template's: the agent's SetClock sets it from
 * ours before the owner hears the VM is ready.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/core_int.h"

#define VM_MIG_FDNAME	"kiln-mig"

#define VM_KEY_MAX	4096

/* Append to the key text (bounded: paths are at most PATH_MAX each). */
static void PRINTF_LIKE(2, 3)
vm_key_add(char *key, const char *fmt, ...)
{
	size_t n = strlen(key);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(key + n, VM_KEY_MAX - n, fmt, ap);
	va_end(ap);
}

/* One file's identity in the key: path, size, mtime, inode. */
static void
vm_key_file(char *key, const char *what, const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		memset(&st, 0, sizeof st);
	vm_key_add(key, "%s=%s:%lld:%lld.%09ld:%llu\n", what, path,
	    (long long)st.st_size, (long long)st.st_mtim.tv_sec,
	    st.st_mtim.tv_nsec, (unsigned long long)st.st_ino);
}

/*
 * Everything a saved VM depends on: the QEMU binary (its version moves
 * its size and mtime), the kernel, the initrd (the agent is inside it),
 * the size, the device set and what changes the command line.
 */
char *
vm_snap_key(const struct vm *vm, const char *qemu_path)
{
	const struct core_config *c = vm->opts.cfg;
	char key[VM_KEY_MAX] = "kiln-template 3\n";

	vm_key_file(key, "qemu", qemu_path);
	vm_key_file(key, "kernel", c->kernel);
	vm_key_file(key, "initrd", c->initrd);
	vm_key_add(key, "accel=%s cpu=%s vcpus=%u max_vcpus=%u mem=%u "
	    "max_mem=%u\n", vm->accel, strcmp(vm->accel, "kvm") == 0 ? "host" :
	    c->tcg_cpu, vm->opts.vcpus, c->max_vcpus, vm->opts.mem_mib,
	    c->max_mem_mib);
	vm_key_add(key, "ports=%d rootfs=%s share_model=%s sandbox=%d tb=%u "
	    "tcg_thread=%s jail=%d cmdline=%s\n", vm_hotplug_ports(&vm->opts),
	    vm->rootfs_image != NULL ? "erofs" : "9p", c->share_model,
	    c->jail_seccomp, c->tcg_tb_mib, c->tcg_thread, c->jail_namespaces,
	    vm_cmdline_extra(c) != NULL ? vm_cmdline_extra(c) : "");
	return xstrdup(key);
}

/* ---- the QMP sequence -------------------------------------------------- */

static int	vm_mig_next(struct vm *, struct err *);

static void
vm_mig_reply_cb(const json_t *ret, const struct err *qerr, void *arg)
{
	struct vm *vm = arg;
	struct err err;

	(void)ret;
	if (qerr != NULL && qerr->code != 0) {
		snprintf(vm->why, sizeof vm->why, "template step %d: %s",
		    vm->mig_step, qerr->msg);
		(void)fsm_dispatch(&vm->fsm, VM_EV_MIGRATE_FAILED, NULL, &err);
		return;
	}
	vm->mig_step++;
	if (vm_mig_next(vm, &err) < 0) {
		snprintf(vm->why, sizeof vm->why, "%s", err.msg);
		(void)fsm_dispatch(&vm->fsm, VM_EV_MIGRATE_FAILED, NULL, &err);
	}
}

static json_t *
vm_mig_caps(void)
{
	return json_pack("{s[{sssb}{sssb}]}", "capabilities",
	    "capability", "x-ignore-shared", "state", 1,
	    "capability", "events", "state", 1);
}

/*
 * The next command of the sequence; past the last one the MIGRATION
 * event says how it ended. Any error is the template's failure.
 */
static int
vm_mig_next(struct vm *vm, struct err *err)
{
	bool save = vm->mode == VM_MODE_BUILD;
	const char *uri = "fd:" VM_MIG_FDNAME;
	int id;

	if (vm->qmp == NULL)
		return err_set(err, ENOTCONN, "template: no QMP");
	switch (vm->mig_step) {
	case 0:
		id = qmp_call(vm->qmp, "migrate-set-capabilities",
		    vm_mig_caps(), 5000, vm_mig_reply_cb, vm, err);
		break;
	case 1:
		id = qmp_call_fd(vm->qmp, "getfd", json_pack("{ss}", "fdname",
		    VM_MIG_FDNAME), vm->mig_fd, 5000, vm_mig_reply_cb, vm, err);
		break;
	case 2:
		id = save ? qmp_call(vm->qmp, "stop", NULL, 5000,
		    vm_mig_reply_cb, vm, err) : qmp_call(vm->qmp,
		    "migrate-incoming", json_pack("{ss}", "uri", uri), 5000,
		    vm_mig_reply_cb, vm, err);
		break;
	case 3:
		if (!save)
			return 0;
		id = qmp_call(vm->qmp, "migrate", json_pack("{ss}", "uri", uri),
		    5000, vm_mig_reply_cb, vm, err);
		break;
	default:
		return 0;
	}
	return id < 0 ? -1 : 0;
}

int
vm_do_migrate(struct vm *vm, struct err *err)
{
	vm->mig_step = 0;
	fsm_detail(&vm->fsm, "%s", vm->mode == VM_MODE_BUILD ? "save" :
	    "restore");
	return vm_mig_next(vm, err);
}

/* ---- after the migration ------------------------------------------------ */

static void
vm_cont_cb(const json_t *ret, const struct err *qerr, void *arg)
{
	struct vm *vm = arg;
	struct err err;

	(void)ret;
	if (qerr == NULL || qerr->code == 0)
		return;
	snprintf(vm->why, sizeof vm->why, "cont: %s", qerr->msg);
	(void)fsm_dispatch(&vm->fsm, VM_EV_MIGRATE_FAILED, NULL, &err);
}

/* Loaded and paused (the template was saved stopped): run it. */
int
vm_do_cont(struct vm *vm, struct err *err)
{
	if (vm->mig_fd >= 0)
		close(vm->mig_fd);
	vm->mig_fd = -1;
	fsm_detail(&vm->fsm, "loaded_ms=%llu", (unsigned long long)
	    ((time_mono_ns() - vm->t_spawn_ns) / 1000000));
	return qmp_call(vm->qmp, "cont", NULL, 5000, vm_cont_cb, vm, err) < 0 ?
	    -1 : 0;
}

static void
vm_clock_cb(const struct proto_reply *rep, void *arg)
{
	struct vm *vm = arg;
	struct err err;

	if (rep->code != 0)
		snprintf(vm->why, sizeof vm->why, "SetClock: %s",
		    rep->message != NULL ? rep->message : "failed");
	(void)fsm_dispatch(&vm->fsm, rep->code == 0 ? VM_EV_CLOCK_SET :
	    VM_EV_CLOCK_FAILED, NULL, &err);
}

/* The guest resumed at the template's moment: our wall clock, now. */
int
vm_do_set_clock(struct vm *vm, struct err *err)
{
	Kiln__Agent__V1__SetClockRequest req =
	    KILN__AGENT__V1__SET_CLOCK_REQUEST__INIT;
	struct proto_call_opts co = {
		.timeout_ms = vm->opts.cfg->agent_timeout_ms,
	};
	struct timespec ts;

	if (vm->conn == NULL)
		return err_set(err, ENOTCONN, "SetClock: no agent channel");
	clock_gettime(CLOCK_REALTIME, &ts);
	req.realtime_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	return proto_conn_call(vm->conn, "kiln.agent.v1.Agent", "SetClock",
	    &req.base, &google__protobuf__empty__descriptor, &co, vm_clock_cb,
	    vm, err) == 0 ? -1 : 0;
}

/*
 * The template is on disk: the source QEMU must go (it would keep writing
 * into the shared RAM file), and this VM restarts from the template.
 */
void
vm_do_saved(struct vm *vm)
{
	fsm_post(&vm->tmpl->fsm, TMPL_EV_SAVED, NULL, 0);
	fsm_detail(&vm->fsm, "saved_ms=%llu", (unsigned long long)
	    ((time_mono_ns() - vm->t_spawn_ns) / 1000000));
	if (vm->qemu_pid > 0)
		kill(vm->qemu_pid, SIGKILL);
	reactor_timer_start(vm->timer, vm->opts.cfg->stop_timeout_ms, false);
}

/*
 * Saving or restoring failed: the template is bad (stale) or not built;
 * QEMU goes, and the VM cold-boots once it is reaped (FALLBACK).
 */
void
vm_do_unusable(struct vm *vm)
{
	log_warnx("vm=%s %s from the template failed: %s; cold boot",
	    vm->fsm.id, vm->mode == VM_MODE_BUILD ? "saving" : "restoring",
	    vm->why);
	fsm_detail(&vm->fsm, "why=%s", vm->why);
	fsm_post(&vm->tmpl->fsm, TMPL_EV_FAILED, NULL, 0);
	if (vm->qemu_pid > 0)
		kill(vm->qemu_pid, SIGKILL);
	reactor_timer_start(vm->timer, vm->opts.cfg->stop_timeout_ms, false);
}

const char *
vm_mode_name(enum vm_mode mode)
{
	switch (mode) {
	case VM_MODE_COLD:
		return "cold";
	case VM_MODE_BUILD:
		return "template-build";
	case VM_MODE_RESTORE:
		return "template-restore";
	}
	return "?";
}

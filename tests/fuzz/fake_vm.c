/* SPDX-License-Identifier: Apache-2.0 */
/*
 * core/vm.c without QEMU, for tests/fuzz/fuzz_shim.c: the same functions
 * over the real vm machine (vm_fsm.c), but nothing is forked and there is
 * no QMP. vm_do_spawn dials the agent channel with the real
 * vsock_dial_serial() at fake_vm_agent_path, where the harness plays the
 * agent, and reports QMP as ready on the next turn. QEMU's exit is the
 * harness's call (fake_vm_qemu_exited). Killing sends no signal: there is
 * no process, and no pid may ever be signalled by a fuzzer.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tests/fuzz/fake_vm.h"

char		 fake_vm_agent_path[108];
struct vm	*fake_vm_current;

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

	snprintf(vm->why, sizeof vm->why, "vm %s: timed out", vm->fsm.id);
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
	vm->accel = "tcg";
	vm->timer = reactor_timer_new(r, vm_timer_cb, vm);
	fsm_init(&vm->fsm, &vm_fsm_def, env, o->id, vm);
	fake_vm_current = vm;
	return vm;
}

void
vm_start(struct vm *vm)
{
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
	fsm_post(&vm->fsm, VM_EV_STOP, NULL, 0);
}

void
vm_abort(struct vm *vm, const char *why)
{
	if (vm_is_stopped(vm))
		return;
	snprintf(vm->why, sizeof vm->why, "%s", why);
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
	if (fake_vm_current == vm)
		fake_vm_current = NULL;
	reactor_defer_cancel(vm->r, vm);
	vsock_free(vm->chan);
	reactor_timer_free(vm->timer);
	fsm_fini(&vm->fsm);
	free(vm->run_dir);
	free(vm->share_dir);
	free(vm);
}

void
fake_vm_qemu_exited(struct vm *vm, int status)
{
	vm->qemu_status = status;
	if (vm->why[0] == '\0')
		snprintf(vm->why, sizeof vm->why, "qemu exited (status 0x%x)",
		    status);
	vm_event(vm, VM_EV_QEMU_EXITED);
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

static void
vm_qmp_ready_cb(void *arg)
{
	struct vm *vm = arg;

	vm->qmp_up = true;
	vm_event(vm, VM_EV_QMP_READY);
}

/*
 * The fake has no snapshot templates (vm->tmpl stays NULL, so the VM
 * machine's restore and build rows never match): respawning is refused.
 */
int
vm_do_respawn(struct vm *vm, enum vm_mode mode, struct err *err)
{
	(void)vm;
	return err_set(err, ENOTSUP, "fake vm: no respawn (mode %d)",
	    (int)mode);
}

int
vm_do_spawn(struct vm *vm, enum vm_mode mode, struct err *err)
{
	struct vsock_opts vo = {
		.name = vm->fsm.id, .timeout_ms = vm->opts.cfg->boot_timeout_ms,
		.on_ready = vm_agent_ready_cb, .on_closed = vm_agent_closed_cb,
		.on_stream = vm->opts.on_stream, .arg = vm,
		.stream_arg = vm->opts.arg, .on_timeout = vm_agent_timeout_cb,
	};

	if (mode != VM_MODE_COLD)
		return err_set(err, ENOTSUP, "fake vm: cold boots only");
	vm->t_spawn_ns = time_mono_ns();
	vm->chan = vsock_dial_serial(vm->r, vm->env, fake_vm_agent_path, &vo,
	    err);
	if (vm->chan == NULL)
		return -1;
	reactor_defer(vm->r, vm_qmp_ready_cb, vm);
	reactor_timer_start(vm->timer, vm->opts.cfg->boot_timeout_ms, false);
	return 0;
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
	reactor_defer(vm->r, vm_notify_ready_cb, vm);
}

static void
vm_ignore_reply_cb(const struct proto_reply *rep, void *arg)
{
	(void)rep;
	(void)arg;
}

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
	reactor_timer_start(vm->timer, vm->opts.cfg->stop_timeout_ms, false);
}

void
vm_do_kill(struct vm *vm)
{
	vm->kills++;
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

void
vm_do_stopped(struct vm *vm)
{
	reactor_timer_stop(vm->timer);
	vm->conn = NULL;	/* the channel goes in vm_notify_stopped_cb */
	reactor_defer(vm->r, vm_notify_stopped_cb, vm);
}

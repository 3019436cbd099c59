/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The parts of struct vm that never touch QEMU's process: linked into the
 * shim next to core/vm.c and into the fuzz harness next to its fake
 * (tests/fuzz/fake_vm.c), so both run the same code.
 */
#include "core/core_int.h"

/* QMP of a VM still running, for the device machines (NIC, resize). */
struct qmp *
vm_qmp_live(struct vm *vm, struct err *err)
{
	if (vm == NULL || vm->qmp == NULL || vm_is_stopped(vm)) {
		err_set(err, ERR_CLOSED, "the VM is gone");
		return NULL;
	}
	return vm->qmp;
}

/*
 * A device machine's calls in flight, cancelled: no answer may reach a
 * machine that has moved on or is gone. vm may be NULL (nothing to cancel).
 */
void
vm_calls_cancel(struct vm *vm, int *qmp_id, uint32_t *agent_id)
{
	if (*qmp_id > 0 && vm != NULL && vm->qmp != NULL)
		qmp_cancel(vm->qmp, *qmp_id);
	if (*agent_id != 0 && vm != NULL && vm->conn != NULL)
		proto_conn_cancel(vm->conn, *agent_id);
	*qmp_id = 0;
	*agent_id = 0;
}

/*
 * What the agent reads from the kernel command line (agent.c). Debug also
 * has the kernel report tasks blocked for 30 s, with their stacks, on the
 * console: a guest hang then leaves its cause in console.log (how a vCPU
 * that answered no IPI was found, docs/resources.md). The console level
 * is raised by a sysctl, which applies just before /init runs, so the
 * boot itself stays as quiet (and as fast under TCG) as without debug.
 */
#define DEBUG_CMDLINE "kiln.debug sysctl.kernel.printk=7 " \
	"sysctl.kernel.hung_task_timeout_secs=30"

const char *
vm_cmdline_extra(const struct core_config *cfg)
{
	if (cfg->debug)
		return cfg->guest_bpf ? DEBUG_CMDLINE :
		    DEBUG_CMDLINE " kiln.bpf=off";
	return cfg->guest_bpf ? NULL : "kiln.bpf=off";
}

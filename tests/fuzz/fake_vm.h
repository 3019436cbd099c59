/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A VM without QEMU for the shim's fuzz harness (fake_vm.c replaces
 * core/vm.c at link time). The real vm table runs; the agent channel is
 * the real vsock serial dial, to a socket the harness listens on.
 */
#ifndef KILN_TESTS_FUZZ_FAKE_VM_H
#define KILN_TESTS_FUZZ_FAKE_VM_H

#include "core/core_int.h"

/* Where vm_do_spawn dials the agent (the harness listens there). */
extern char		 fake_vm_agent_path[108];
/* The live VM, or NULL (one task per shim: one VM at a time). */
extern struct vm	*fake_vm_current;

/* QEMU's exit as the reactor would report it (outside any dispatch). */
void	fake_vm_qemu_exited(struct vm *, int status);

#endif

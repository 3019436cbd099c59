/* SPDX-License-Identifier: Apache-2.0 */
/*
 * core without a VM: the shim's command line (Go flag rules), the
 * configuration's defaults and its exact error messages, the QEMU command
 * line, the accelerator choice, and the task and VM tables.
 */
#include <stdio.h>
#include <string.h>

#include "core/core_int.h"
#include "core/shim.h"
#include "tests/tap.h"

static void
test_args(void)
{
	char *v1[] = { "shim", "-namespace", "k8s", "-address",
	    "/run/c.sock", "-publish-binary", "/usr/bin/containerd", "-id",
	    "demo", "-debug", "start", NULL };
	char *v2[] = { "shim", "--namespace=ns2", "-id=x1", "--bundle", "/b",
	    "-debug=false", "-unknown", "delete", NULL };
	char *v3[] = { "shim", "-v", NULL };
	struct shim_args a;

	shim_parse_args(11, v1, &a);
	ok(strcmp(a.namespace, "k8s") == 0 && strcmp(a.address, "/run/c.sock")
	    == 0 && strcmp(a.id, "demo") == 0 && a.debug &&
	    strcmp(a.action, "start") == 0, "args: containerd's start line");
	shim_parse_args(8, v2, &a);
	ok(strcmp(a.namespace, "ns2") == 0 && strcmp(a.id, "x1") == 0 &&
	    strcmp(a.bundle, "/b") == 0 && !a.debug &&
	    strcmp(a.action, "delete") == 0, "args: --x=v, -x=v, -b=false, "
	    "unknown flags tolerated");
	shim_parse_args(2, v3, &a);
	ok(a.version && a.action == NULL, "args: -v");
}

/* A document that must be refused with exactly want. */
static void
cfg_bad(const char *json, const char *want)
{
	struct core_config c;
	struct err e;
	int r;

	setenv("KILN_GUEST_DIR", "/img", 1);
	unsetenv("KILN_CONFIG");
	core_config_load(&c, &e);
	r = core_config_parse(&c, json, strlen(json), "cfg.json", &e);
	ok(r < 0 && strcmp(e.msg, want) == 0, "config: %s -> %s", json,
	    r < 0 ? e.msg : "(accepted)");
	core_config_fini(&c);
}

static void
test_config(void)
{
	struct core_config c;
	struct err e;
	const char *good = "{\"memory_mib\": 512, \"vcpus\": 2, \"accel\": "
	    "\"tcg\", \"image_dir\": \"/opt/k\", \"debug\": true}";

	setenv("KILN_GUEST_DIR", "/img", 1);
	unsetenv("KILN_CONFIG");
	ok(core_config_load(&c, &e) == 0, "config: no file is fine");
	ok(strcmp(c.kernel, "/img/vmlinux") == 0 && c.mem_mib == 256 &&
	    c.vcpus == 1 && strcmp(c.accel, "auto") == 0,
	    "config: embedded defaults");
	ok(core_config_parse(&c, good, strlen(good), "x", &e) == 0 &&
	    c.mem_mib == 512 && c.vcpus == 2 && c.debug &&
	    strcmp(c.kernel, "/opt/k/vmlinux") == 0, "config: fields "
	    "override, image_dir moves the kernel");
	core_config_fini(&c);
	cfg_bad("{\"memory_mib\": 1}",
	    "cfg.json: memory_mib: must be an integer from 64 to 65536");
	cfg_bad("{\"accel\": \"hvf\"}",
	    "cfg.json: accel: must be one of auto, kvm, tcg");
	cfg_bad("{\"mem\": 1}", "cfg.json: mem: unknown field");
	cfg_bad("{\"debug\": 1}", "cfg.json: debug: must be true or false");
	cfg_bad("{\"kernel\": \"\"}",
	    "cfg.json: kernel: must be a non-empty string");
	cfg_bad("[1]", "cfg.json: must be a JSON object");
	cfg_bad("{\"vcpus\": 1, \"vcpus\": 2}",
	    "cfg.json: line 1: duplicate object key near '\"vcpus\"'");
	setenv("KILN_CONFIG", "/nonexistent/kiln.json", 1);
	ok(core_config_load(&c, &e) < 0 && strcmp(e.msg,
	    "/nonexistent/kiln.json: No such file or directory") == 0,
	    "config: a named file that is missing is an error (%s)", e.msg);
	core_config_fini(&c);
	unsetenv("KILN_CONFIG");
}

static bool
argv_has(char **argv, const char *a, const char *b)
{
	int i;

	for (i = 0; argv[i] != NULL && argv[i + 1] != NULL; i++)
		if (strcmp(argv[i], a) == 0 && strstr(argv[i + 1], b) != NULL)
			return true;
	return false;
}

static void
test_qemu(void)
{
	struct core_vm_opts o = {
		.kernel = "/k/vmlinux", .initrd = "/k/initrd.img",
		.mem_mib = 384, .vcpus = 2, .accel = "tcg",
		.agent_sock = "/run/kiln/x/agent.sock",
		.qmp_sock = "/run/kiln/x/qmp.sock",
		.shares = { { "/b/rootfs", "rootfs" } }, .nshares = 1,
	};
	char **argv = core_qemu_argv(&o);

	ok(argv_has(argv, "-accel", "tcg") && argv_has(argv, "-cpu", "max") &&
	    argv_has(argv, "-m", "384") && argv_has(argv, "-smp", "2"),
	    "qemu: accelerator, cpu, memory, vcpus");
	ok(argv_has(argv, "-kernel", "/k/vmlinux") &&
	    argv_has(argv, "-append", "panic=-1"), "qemu: PVH kernel and a "
	    "command line that never reboots");
	ok(argv_has(argv, "-chardev", "path=/run/kiln/x/agent.sock") &&
	    argv_has(argv, "-device", "name=kiln.agent"), "qemu: agent on a "
	    "virtio-serial port named kiln.agent");
	ok(argv_has(argv, "-fsdev", "path=/b/rootfs") &&
	    argv_has(argv, "-device", "mount_tag=rootfs"), "qemu: rootfs over "
	    "virtio-9p");
	ok(argv_has(argv, "-qmp", "unix:/run/kiln/x/qmp.sock"), "qemu: QMP");
	core_argv_free(argv);
	ok(strcmp(core_accel_resolve("kvm", "/nowhere"), "kvm") == 0 &&
	    strcmp(core_accel_resolve("auto", "/nowhere"), "tcg") == 0,
	    "accel: explicit choice passes, auto without a probe is tcg");
}

int
main(void)
{
	struct err err = { 0 };

	log_init("t_core", LOG_LVL_ERROR, 2);
	test_args();
	test_config();
	test_qemu();
	ok(fsm_check(&task_fsm_def, &err) == 0, "task table passes fsm_check "
	    "(%s)", err.msg);
	ok(fsm_check(&vm_fsm_def, &err) == 0, "vm table passes fsm_check");
	return tap_done();
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * core: the shim (containerd-shim-kiln-v1) and the VM it runs per
 * container. This header is the module's public face; today it holds what
 * the tests share with the shim: how a guest VM's QEMU command line is
 * built and which accelerator runs it.
 */
#ifndef KILN_CORE_H
#define KILN_CORE_H

#include <stdbool.h>

#include "core/base/base.h"

/* A 9p share of a host directory under a mount tag. */
struct core_share {
	const char	*dir;
	const char	*tag;
};

#define CORE_MAX_SHARES	8

struct core_vm_opts {
	const char		*qemu;		/* NULL: qemu-system-x86_64 */
	const char		*name;		/* -name: the bundle, or NULL */
	const char		*kernel;	/* uncompressed vmlinux (PVH) */
	const char		*initrd;
	unsigned		 mem_mib;
	unsigned		 vcpus;
	unsigned		 max_vcpus;	/* > vcpus: CPU hotplug room */
	unsigned		 max_mem_mib;	/* > mem_mib: a virtio-mem device */
	const char		*accel;		/* "kvm" or "tcg" */
	const char		*agent_sock;	/* virtio-serial chardev */
	const char		*qmp_sock;	/* NULL: no QMP */
	const char		*console_log;	/* NULL: console discarded */
	struct core_share	 shares[CORE_MAX_SHARES];
	int			 nshares;
	/* Read-only virtio-blk, serial CORE_ROOTFS_SERIAL; NULL: none. */
	const char		*rootfs_image;
	const char		*cmdline_extra;	/* appended, may be NULL */
	int			 hotplug_ports;	/* PCIe root ports kiln-rpN */
	const char		*share_model;	/* NULL: "passthrough" */
	bool			 sandbox;	/* QEMU's seccomp -sandbox */
	unsigned		 tb_mib;	/* TCG tb-size; 0: QEMU's */
	bool			 tcg_single;	/* -accel tcg,thread=single */
	const char		*tcg_cpu;	/* -cpu under TCG; NULL: max */
	/*
	 * Guest RAM in a file (a snapshot template, tmpl.c): shared (the
	 * template being built) or private, copy on write (a restore).
	 * NULL: anonymous RAM, as QEMU does by default.
	 */
	const char		*ram_path;
	bool			 ram_shared;
	bool			 incoming;	/* -incoming defer */
	bool			 vmgenid;	/* -device vmgenid,guid=auto */
	/*
	 * What the shim opened for QEMU, inherited across its exec (> 2;
	 * 0: none, QEMU opens the path above itself): the agent's and
	 * QMP's listening sockets, the console log (write-only), the
	 * rootfs image (read-only). Passed as fds, a jailed QEMU needs no
	 * view of the run directory (issue 16).
	 */
	int			 agent_fd;
	int			 qmp_fd;
	int			 console_fd;
	int			 rootfs_fd;
};

/*
 * The guest's CPU under TCG unless configured (config tcg_cpu): all TCG
 * emulates but ERMS and FSRM, whose "rep movsb" copies TCG runs a byte
 * at a time.
 */
#define CORE_TCG_CPU		"max,-erms,-fsrm"

/*
 * QEMU fd sets (-add-fd / QMP add-fd) of the files the shim opens for it:
 * the console, the rootfs, and from CORE_FDSET_DISK0 on a pod's disks.
 */
#define CORE_FDSET_CONSOLE	1
#define CORE_FDSET_ROOTFS	2
#define CORE_FDSET_DISK0	16

/*
 * The QEMU argv for opts: a NULL-terminated array of malloc'd strings,
 * freed with core_argv_free(). Never fails.
 */
char		**core_qemu_argv(const struct core_vm_opts *);
void		  core_argv_free(char **);
/*
 * s escaped for use as a value inside a QEMU option string (QemuOpts
 * "key=value,..."): every ',' doubled, the only character QEMU treats
 * specially there. Returns a malloc'd string the caller frees; never
 * fails. Anything that puts a path or name into -chardev, -fsdev,
 * -device, -netdev and the like must go through this.
 */
char		 *core_qemu_opt_escape(const char *s);
/*
 * Resolve "auto" to "kvm" or "tcg" from the probe result that `make guest`
 * left in image_dir/accel (a KVM that cannot boot the guest counts as
 * none); "kvm" and "tcg" pass through. Returns a static string.
 */
const char	 *core_accel_resolve(const char *want, const char *image_dir);

#endif

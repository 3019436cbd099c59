/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The QEMU command line of a kiln VM, from the facts measured in
 * ../shared/reference/qemu-guest-notes.md: q35, the uncompressed vmlinux
 * booted through PVH (saves the 2.4 s decompression under TCG), a quiet
 * kernel command line, no default devices, the agent on a virtio-serial
 * port backed by a unix socket, the rootfs as a read-only image on
 * virtio-blk or shared over virtio-9p, QMP on a unix socket. The shim
 * opens the sockets and files itself and QEMU inherits them (fd=, -add-fd),
 * so a jailed QEMU sees none of the shim's paths. QEMU never reboots the
 * guest: a guest reboot is its end.
 *
 * Every value spliced into a QEMU option string (QemuOpts: "key=value,...")
 * goes through core_qemu_opt_escape(): paths come from the bundle, and an
 * unescaped comma in one would start a new option. QMP and the console are
 * plain -chardev backends (not the legacy "-qmp unix:" and "-serial file:"
 * forms) so that one escaping rule covers every path.
 */
#include <stdio.h>
#include <string.h>

#include "core/core.h"

/*
 * compaction_proactiveness=0: kcompactd otherwise wakes the idle guest every
 * 500 ms to score fragmentation (no huge pages in the guest to compact for);
 * under TCG each wake-up costs the host real CPU (idle QEMU 0.6 -> 0.23 %
 * of a core). Changing this line changes every template: vm_snap_key.
 */
#define CORE_CMDLINE "console=ttyS0 quiet loglevel=0 panic=-1 " \
	"tsc=reliable no_timer_check mitigations=off " \
	"sysctl.vm.compaction_proactiveness=0"

struct argv_builder {
	char	**v;
	size_t	  n;
};

static void
argv_add(struct argv_builder *b, char *s)
{
	b->v = xreallocarray(b->v, b->n + 2, sizeof *b->v);
	b->v[b->n++] = s;
	b->v[b->n] = NULL;
}

static void
argv_pair(struct argv_builder *b, const char *flag, char *value)
{
	argv_add(b, xstrdup(flag));
	argv_add(b, value);
}

char *
core_qemu_opt_escape(const char *s)
{
	size_t i, n = 0;
	char *out, *p;

	for (i = 0; s[i] != '\0'; i++)
		n += s[i] == ',' ? 2 : 1;
	out = p = xmalloc(n + 1);
	for (i = 0; s[i] != '\0'; i++) {
		/* QemuOpts reads ",," inside a value as one literal comma. */
		if (s[i] == ',')
			*p++ = ',';
		*p++ = s[i];
	}
	*p = '\0';
	return out;
}

/*
 * A unix socket chardev QEMU listens on, without waiting for a peer: the
 * listening socket the shim made (fd > 0), or one QEMU binds at path.
 */
static void
core_qemu_sock_chardev(struct argv_builder *b, const char *id,
    const char *path, int fd)
{
	_cleanup_free_ char *e = NULL;

	if (fd > 0) {
		argv_pair(b, "-chardev", xasprintf("socket,id=%s,fd=%d,"
		    "server=on,wait=off", id, fd));
		return;
	}
	e = core_qemu_opt_escape(path);
	argv_pair(b, "-chardev", xasprintf("socket,id=%s,path=%s,"
	    "server=on,wait=off", id, e));
}

/*
 * The file QEMU opens for a path option: fd > 0 goes into fd set `set`
 * and QEMU opens "/dev/fdset/<set>" (qemu_open() takes a dup of the set's
 * fd with the same access mode); else the path itself, escaped.
 */
static char *
core_qemu_file(struct argv_builder *b, const char *path, int fd, int set)
{
	if (fd <= 0)
		return core_qemu_opt_escape(path);
	argv_pair(b, "-add-fd", xasprintf("fd=%d,set=%d", fd, set));
	return xasprintf("/dev/fdset/%d", set);
}

/*
 * The security model is the caller's (NULL: passthrough). mapped-xattr
 * would keep the guest's owners, modes and device nodes in user.virtfs.*
 * xattrs, plain files on the host, but QEMU 7.2 then reads the host's
 * symlinks as files (ELOOP): an image's /bin/sh -> busybox breaks.
 */
static void
core_qemu_share(struct argv_builder *b, int i, const struct core_share *sh,
    const char *model)
{
	_cleanup_free_ char *dir = core_qemu_opt_escape(sh->dir);
	_cleanup_free_ char *tag = core_qemu_opt_escape(sh->tag);
	_cleanup_free_ char *m = core_qemu_opt_escape(model != NULL ? model :
	    "passthrough");

	argv_pair(b, "-fsdev", xasprintf("local,id=fs%d,path=%s,"
	    "security_model=%s", i, dir, m));
	argv_pair(b, "-device", xasprintf("virtio-9p-pci,fsdev=fs%d,"
	    "mount_tag=%s", i, tag));
}

/*
 * The rootfs image, read-only on virtio-blk; the guest finds it by its
 * serial ("kiln-rootfs", core_int.h's CORE_ROOTFS_SERIAL).
 */
static void
core_qemu_rootfs_image(struct argv_builder *b, const char *image, int fd)
{
	_cleanup_free_ char *e = core_qemu_file(b, image, fd,
	    CORE_FDSET_ROOTFS);

	argv_pair(b, "-blockdev", xasprintf("driver=file,node-name=rootfs-file,"
	    "filename=%s,read-only=on", e));
	argv_pair(b, "-blockdev", xstrdup("driver=raw,node-name=rootfs,"
	    "file=rootfs-file,read-only=on"));
	argv_pair(b, "-device", xstrdup("virtio-blk-pci,drive=rootfs,"
	    "id=rootfs,serial=kiln-rootfs"));
}

static void
core_qemu_devices(struct argv_builder *b, const struct core_vm_opts *o)
{
	int i;

	argv_pair(b, "-device", xstrdup("virtio-serial-pci,id=vser0"));
	core_qemu_sock_chardev(b, "agent", o->agent_sock, o->agent_fd);
	argv_pair(b, "-device", xstrdup("virtserialport,bus=vser0.0,"
	    "chardev=agent,name=kiln.agent"));
	for (i = 0; i < o->nshares; i++)
		core_qemu_share(b, i, &o->shares[i], o->share_model);
	if (o->rootfs_image != NULL)
		core_qemu_rootfs_image(b, o->rootfs_image, o->rootfs_fd);
	if (o->qmp_sock != NULL || o->qmp_fd > 0) {
		/* Same as "-qmp unix:...", but the path is QemuOpts-escaped. */
		core_qemu_sock_chardev(b, "qmp", o->qmp_sock, o->qmp_fd);
		argv_pair(b, "-mon", xstrdup("chardev=qmp,mode=control"));
	}
	/* q35 hot-adds PCIe devices only below a root port. */
	for (i = 0; i < o->hotplug_ports; i++)
		argv_pair(b, "-device", xasprintf("pcie-root-port,id=kiln-rp%d,"
		    "chassis=%d", i, i + 1));
}

/* The guest's serial console: a log file, or nowhere. */
static void
core_qemu_console(struct argv_builder *b, const char *log, int fd)
{
	_cleanup_free_ char *e = NULL;

	if (log == NULL && fd <= 0) {
		argv_pair(b, "-serial", xstrdup("null"));
		return;
	}
	e = core_qemu_file(b, log, fd, CORE_FDSET_CONSOLE);
	argv_pair(b, "-chardev", xasprintf("file,id=console,path=%s", e));
	argv_pair(b, "-serial", xstrdup("chardev:console"));
}

/*
 * Boot RAM from a template file (qemu-guest-notes.md, "Snapshot start"):
 * share=on while the template is built, so that x-ignore-shared leaves it
 * out of the migration stream; share=off (MAP_PRIVATE) on restore, so
 * that pages the guest only reads stay shared between VMs. The
 * virtio-mem backend stays anonymous: a template is saved with nothing
 * plugged, and migration skips unplugged blocks.
 */
static void
core_qemu_ram_file(struct argv_builder *b, const struct core_vm_opts *o,
    unsigned mem)
{
	_cleanup_free_ char *e = NULL;

	if (o->ram_path == NULL)
		return;
	e = core_qemu_opt_escape(o->ram_path);
	argv_pair(b, "-object", xasprintf("memory-backend-file,id=kiln-ram,"
	    "size=%uM,mem-path=%s,share=%s", mem, e, o->ram_shared ? "on" :
	    "off"));
}

/*
 * vCPUs and memory at boot, and the room to grow: maxcpus for CPU hotplug
 * and, above the boot memory, one virtio-mem device (2 MiB blocks) whose
 * requested-size starts at 0 (qemu-guest-notes.md, "QMP hotplug").
 */
static void
core_qemu_size(struct argv_builder *b, const struct core_vm_opts *o)
{
	unsigned vcpus = o->vcpus > 0 ? o->vcpus : 1;
	unsigned mem = o->mem_mib > 0 ? o->mem_mib : 256;

	/*
	 * One socket of max_vcpus cores: a hot-added vCPU is then a sibling
	 * of cpu0, and the guest takes its loops_per_jiffy instead of
	 * calibrating it (seconds under TCG).
	 */
	if (o->max_vcpus > vcpus)
		argv_pair(b, "-smp", xasprintf("%u,sockets=1,cores=%u,"
		    "threads=1,maxcpus=%u", vcpus, o->max_vcpus, o->max_vcpus));
	else
		argv_pair(b, "-smp", xasprintf("%u", vcpus));
	if (o->max_mem_mib <= mem) {
		argv_pair(b, "-m", xasprintf("%u", mem));
		core_qemu_ram_file(b, o, mem);
		return;
	}
	argv_pair(b, "-m", xasprintf("%u,maxmem=%uM", mem, o->max_mem_mib));
	core_qemu_ram_file(b, o, mem);
	argv_pair(b, "-object", xasprintf("memory-backend-ram,id=kiln-vmem,"
	    "size=%uM", o->max_mem_mib - mem));
	argv_pair(b, "-device", xstrdup("virtio-mem-pci,id=kiln-mem,"
	    "memdev=kiln-vmem,block-size=2M,requested-size=0"));
}

/*
 * TCG's options: the translation buffer's size (0: QEMU's) and one host
 * thread for all vCPUs (thread=single). One thread has one region of the
 * buffer, so a small buffer is safe with CPU hotplug there: with a thread
 * per vCPU, QEMU 7.2 cuts it into regions the running vCPUs use up, and a
 * hot-added vCPU's thread that finds none asserts.
 */
static char *
core_qemu_tcg(const struct core_vm_opts *o)
{
	char tb[32] = "";

	if (o->tb_mib > 0)
		snprintf(tb, sizeof tb, ",tb-size=%u", o->tb_mib);
	return xasprintf("tcg%s%s", o->tcg_single ? ",thread=single" : "", tb);
}

char **
core_qemu_argv(const struct core_vm_opts *o)
{
	struct argv_builder b = { NULL, 0 };
	bool kvm = o->accel != NULL && strcmp(o->accel, "kvm") == 0;

	argv_add(&b, xstrdup(o->qemu != NULL ? o->qemu :
	    "qemu-system-x86_64"));
	/* Named after its bundle: ps and query-name tell whose VM it is. */
	if (o->name != NULL)
		argv_pair(&b, "-name", core_qemu_opt_escape(o->name));
	argv_pair(&b, "-machine", xstrdup(o->ram_path != NULL ?
	    "q35,memory-backend=kiln-ram" : "q35"));
	if (kvm)
		argv_pair(&b, "-accel", xstrdup("kvm"));
	else
		argv_pair(&b, "-accel", core_qemu_tcg(o));
	argv_pair(&b, "-cpu", xstrdup(kvm ? "host" : o->tcg_cpu != NULL ?
	    o->tcg_cpu : "max"));
	core_qemu_size(&b, o);
	argv_add(&b, xstrdup("-nodefaults"));
	argv_add(&b, xstrdup("-no-user-config"));
	argv_add(&b, xstrdup("-no-reboot"));
	argv_pair(&b, "-display", xstrdup("none"));
	core_qemu_console(&b, o->console_log, o->console_fd);
	argv_pair(&b, "-kernel", xstrdup(o->kernel));
	argv_pair(&b, "-initrd", xstrdup(o->initrd));
	argv_pair(&b, "-append", xasprintf("%s%s%s", CORE_CMDLINE,
	    o->cmdline_extra != NULL ? " " : "", o->cmdline_extra != NULL ?
	    o->cmdline_extra : ""));
	core_qemu_devices(&b, o);
	/* A restored clone's guest reseeds its RNG from a fresh generation id. */
	if (o->vmgenid)
		argv_pair(&b, "-device", xstrdup("vmgenid,guid=auto"));
	if (o->incoming)
		argv_pair(&b, "-incoming", xstrdup("defer"));
	/* QEMU's own seccomp filter, installed before the guest runs. */
	if (o->sandbox)
		argv_pair(&b, "-sandbox", xstrdup("on,obsolete=deny,"
		    "elevateprivileges=deny,spawn=deny,resourcecontrol=deny"));
	return b.v;
}

void
core_argv_free(char **argv)
{
	size_t i;

	if (argv == NULL)
		return;
	for (i = 0; argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}

const char *
core_accel_resolve(const char *want, const char *image_dir)
{
	char path[4096], word[16] = "";
	FILE *f;

	if (want != NULL && strcmp(want, "kvm") == 0)
		return "kvm";
	if (want != NULL && strcmp(want, "tcg") == 0)
		return "tcg";
	snprintf(path, sizeof path, "%s/accel", image_dir);
	if ((f = fopen(path, "re")) != NULL) {
		if (fgets(word, sizeof word, f) == NULL)
			word[0] = '\0';
		fclose(f);
	}
	return strncmp(word, "kvm", 3) == 0 ? "kvm" : "tcg";
}

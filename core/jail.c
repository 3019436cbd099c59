/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VMM's jail, after Firecracker's jailer but without a helper binary:
 * the shim prepares what needs the host's view (a uid from the configured
 * range, the VM's cgroup, an empty root directory), and the forked child
 * confines itself before it execs QEMU: the VM's cgroup, new mount, IPC and
 * UTS namespaces, a tmpfs root holding only QEMU's files, the kernel, the
 * initrd and the 9p share (its sockets, console log and rootfs image are
 * fds it inherits), then pivot_root, the uid, rlimits, no_new_privs and an
 * empty capability set. QEMU's seccomp filter is its
 * own -sandbox option (vm_qemu.c).
 *
 * The jail's mounts live only in the child's mount namespace: they vanish
 * with QEMU, so teardown is the uid lock, the cgroup dirs and the empty
 * root directory. Each step can be loosened by the configuration, never
 * silently (a warning at every VM start).
 *
 * A PID namespace of its own: QEMU is forked by clone(CLONE_NEWPID), so it
 * is the namespace's PID 1 and still the shim's direct child, with the pid
 * containerd sees (Create's pid, kill -9 cleanup in `delete`); unshare()
 * would only move later children and leave QEMU a grandchild. It sees no
 * other process (no /proc is mounted) and none can be started in its
 * namespace (-sandbox spawn=deny; the namespace ends with it).
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/magic.h>

#include "core/core_int.h"

#define JAIL_UID_DIR	SHIM_RUN_DIR "/uids"
#define JAIL_CG_ROOT	"/sys/fs/cgroup"

/* Host paths QEMU reads (measured with strace on Debian 12's QEMU 7.2). */
static const char *const jail_sys_paths[] = {
	"/usr/lib/x86_64-linux-gnu",	/* libraries, QEMU's modules */
	"/usr/lib64", "/lib64", "/lib",	/* the loader (or symlinks) */
	"/usr/share/qemu", "/usr/share/seabios", "/usr/lib/ipxe",
	"/etc/ld.so.cache", "/dev/null", "/dev/urandom",
	NULL
};

static bool
jail_cgroup_v2(void)
{
	struct statfs s;

	return statfs(JAIL_CG_ROOT, &s) == 0 && s.f_type == CGROUP2_SUPER_MAGIC;
}

static int
jail_write(const char *path, const char *text, struct err *err)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		return err_set(err, errno, "jail: write %s: %m", path);
	return 0;
}

/* The cgroup dirs of the VM named name: v2 one, v1 memory and pids. */
static void
jail_cgroup_paths(const char *name, char *out[2])
{
	if (jail_cgroup_v2()) {
		out[0] = xasprintf(JAIL_CG_ROOT "/kiln/%s", name);
		out[1] = NULL;
	} else {
		out[0] = xasprintf(JAIL_CG_ROOT "/memory/kiln/%s", name);
		out[1] = xasprintf(JAIL_CG_ROOT "/pids/kiln/%s", name);
	}
}

static int
jail_cgroup_make(struct core_jail *j, const struct core_config *cfg,
    struct err *err)
{
	char mem[32], pids[32];
	bool v2 = j->cg[1] == NULL;

	/* The most the guest may grow to (resize.c), plus QEMU's own. */
	snprintf(mem, sizeof mem, "%llu", (unsigned long long)
	    ((cfg->max_mem_mib > cfg->mem_mib ? cfg->max_mem_mib :
	    cfg->mem_mib) + cfg->jail_mem_overhead_mib) << 20);
	snprintf(pids, sizeof pids, "%u", cfg->jail_pids_max);
	if (v2) {
		mkdir(JAIL_CG_ROOT "/kiln", 0755);
		/* Delegation: the controllers must reach kiln/<vm>. */
		if (jail_write(JAIL_CG_ROOT "/cgroup.subtree_control",
		    "+memory +pids", err) < 0 ||
		    jail_write(JAIL_CG_ROOT "/kiln/cgroup.subtree_control",
		    "+memory +pids", err) < 0)
			return -1;
	} else {
		mkdir(JAIL_CG_ROOT "/memory/kiln", 0755);
		mkdir(JAIL_CG_ROOT "/pids/kiln", 0755);
	}
	if (mkdir(j->cg[0], 0755) < 0 && errno != EEXIST)
		return err_set(err, errno, "jail: mkdir %s: %m", j->cg[0]);
	if (!v2 && mkdir(j->cg[1], 0755) < 0 && errno != EEXIST)
		return err_set(err, errno, "jail: mkdir %s: %m", j->cg[1]);
	if (v2) {
		_cleanup_free_ char *m = xasprintf("%s/memory.max", j->cg[0]);
		_cleanup_free_ char *p = xasprintf("%s/pids.max", j->cg[0]);

		return jail_write(m, mem, err) < 0 ? -1 :
		    jail_write(p, pids, err);
	} else {
		_cleanup_free_ char *m = xasprintf("%s/memory.limit_in_bytes",
		    j->cg[0]);
		_cleanup_free_ char *p = xasprintf("%s/pids.max", j->cg[1]);

		return jail_write(m, mem, err) < 0 ? -1 :
		    jail_write(p, pids, err);
	}
}

/* A free uid of the range: its lock file, made O_EXCL, names the run dir. */
static int
jail_uid_take(struct core_jail *j, const struct core_config *cfg,
    const char *run_dir, struct err *err)
{
	unsigned i;
	int fd;

	if (cfg->jail_uid_count == 0)
		return err_set(err, EINVAL, "jail: jail_uid_count is 0: no "
		    "uid for the VM");
	mkdir(JAIL_UID_DIR, 0700);
	for (i = 0; i < cfg->jail_uid_count; i++) {
		char *path = xasprintf(JAIL_UID_DIR "/%u",
		    cfg->jail_uid_base + i);

		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dprintf(fd, "%s\n", run_dir);
			close(fd);
			j->uid = cfg->jail_uid_base + i;
			j->uid_lock = path;
			return 0;
		}
		free(path);
		if (errno != EEXIST)
			return err_set(err, errno, "jail: %s: %m",
			    JAIL_UID_DIR);
	}
	return err_set(err, EAGAIN, "jail: all %u uids from %u are in use",
	    cfg->jail_uid_count, cfg->jail_uid_base);
}

static void
jail_warn_loose(const struct core_config *cfg, const char *id)
{
	if (!cfg->jail_namespaces)
		log_warnx("vm=%s jail: namespaces off (jail_namespaces): QEMU "
		    "sees the host's filesystem", id);
	if (!cfg->jail_user)
		log_warnx("vm=%s jail: jail_user off: QEMU keeps uid 0 "
		    "(capabilities are still dropped)", id);
	if (!cfg->jail_cgroup)
		log_warnx("vm=%s jail: cgroup off (jail_cgroup): no memory or "
		    "pids ceiling", id);
	if (!cfg->jail_seccomp)
		log_warnx("vm=%s jail: seccomp off (jail_seccomp): no -sandbox",
		    id);
	if (strcmp(cfg->rootfs, "9p") == 0 && cfg->jail_user)
		log_warnx("vm=%s jail: rootfs 9p with jail_user: QEMU's uid "
		    "cannot write the image's root-owned files", id);
	if (strcmp(cfg->rootfs, "9p") == 0 &&
	    strcmp(cfg->share_model, "passthrough") != 0)
		log_warnx("vm=%s 9p share_model=%s: the image's symlinks do "
		    "not resolve in the guest", id, cfg->share_model);
}

struct core_jail *
core_jail_new(const struct core_config *cfg, const char *id,
    const char *run_dir, struct err *err)
{
	struct core_jail *j = xcalloc(1, sizeof *j);
	const char *name = strrchr(run_dir, '/');

	jail_warn_loose(cfg, id);
	j->cfg = cfg;
	j->root = xasprintf("%s/root", run_dir);
	if (cfg->jail_user && jail_uid_take(j, cfg, run_dir, err) < 0)
		goto fail;
	if (cfg->jail_namespaces && mkdir(j->root, 0755) < 0 &&
	    errno != EEXIST) {
		err_set(err, errno, "jail: mkdir %s: %m", j->root);
		goto fail;
	}
	if (cfg->jail_cgroup) {
		jail_cgroup_paths(name != NULL ? name + 1 : run_dir, j->cg);
		if (jail_cgroup_make(j, cfg, err) < 0)
			goto fail;
	}
	return j;
fail:
	core_jail_free(j);
	return NULL;
}

static void
jail_cgroup_remove(char *const cg[2])
{
	int i;

	for (i = 0; i < 2; i++)
		if (cg[i] != NULL && rmdir(cg[i]) < 0 && errno != ENOENT)
			log_warn("jail: rmdir %s", cg[i]);
}

void
core_jail_free(struct core_jail *j)
{
	if (j == NULL)
		return;
	jail_cgroup_remove(j->cg);
	if (j->uid_lock != NULL)
		unlink(j->uid_lock);
	rmdir(j->root);
	free(j->cg[0]);
	free(j->cg[1]);
	free(j->uid_lock);
	free(j->root);
	free(j);
}

/* What a dead shim left (the `delete` action after kill -9). */
void
core_jail_cleanup(const char *run_dir)
{
	const char *name = strrchr(run_dir, '/');
	_cleanup_free_ char *root = xasprintf("%s/root", run_dir);
	char *cg[2] = { NULL, NULL }, line[4096];
	struct dirent *de;
	DIR *d;

	jail_cgroup_paths(name != NULL ? name + 1 : run_dir, cg);
	jail_cgroup_remove(cg);
	free(cg[0]);
	free(cg[1]);
	rmdir(root);
	if ((d = opendir(JAIL_UID_DIR)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		_cleanup_free_ char *p = xasprintf(JAIL_UID_DIR "/%s",
		    de->d_name);
		FILE *f = de->d_name[0] != '.' ? fopen(p, "re") : NULL;

		if (f == NULL)
			continue;
		if (fgets(line, sizeof line, f) != NULL &&
		    strncmp(line, run_dir, strlen(run_dir)) == 0 &&
		    line[strlen(run_dir)] == '\n')
			unlink(p);
		fclose(f);
	}
	closedir(d);
}

/* ---- in the child, before exec --------------------------------------- */

#define JAIL_FAIL(...) do {						\
	dprintf(2, "kiln: jail: " __VA_ARGS__);				\
	_exit(125);							\
} while (0)

/* Every directory of path below root, then the mount point itself. */
static void
jail_mkpath(const char *root, const char *path, bool dir)
{
	char buf[4096], *p;
	int fd;

	snprintf(buf, sizeof buf, "%s%s", root, path);
	for (p = buf + strlen(root) + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		mkdir(buf, 0755);
		*p = '/';
	}
	if (dir)
		mkdir(buf, 0755);
	else if ((fd = open(buf, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) >= 0)
		close(fd);
}

#define JAIL_RW		0x1
#define JAIL_REC	0x2	/* with the mounts below it */
#define JAIL_OPT	0x4	/* may be missing */

/*
 * Bind host path at the same path under root. A symlink is copied as a
 * symlink (Debian's /lib -> usr/lib).
 */
static void
jail_bind(const char *root, const char *path, int how)
{
	char dst[4096], link[4096];
	unsigned long fl = MS_BIND | MS_REMOUNT | MS_NOSUID;
	struct stat st;
	ssize_t n;

	if (lstat(path, &st) < 0) {
		if (how & JAIL_OPT)
			return;
		JAIL_FAIL("%s: %m\n", path);
	}
	snprintf(dst, sizeof dst, "%s%s", root, path);
	if (S_ISLNK(st.st_mode)) {
		if ((n = readlink(path, link, sizeof link - 1)) < 0)
			JAIL_FAIL("readlink %s: %m\n", path);
		link[n] = '\0';
		jail_mkpath(root, path, false);
		unlink(dst);
		if (symlink(link, dst) < 0)
			JAIL_FAIL("symlink %s: %m\n", dst);
		return;
	}
	jail_mkpath(root, path, S_ISDIR(st.st_mode));
	if (mount(path, dst, NULL, MS_BIND | (how & JAIL_REC ? MS_REC : 0),
	    NULL) < 0)
		JAIL_FAIL("bind %s: %m\n", path);
	if (!S_ISCHR(st.st_mode))
		fl |= MS_NODEV;
	if (mount(NULL, dst, NULL, fl | (how & JAIL_RW ? 0 : MS_RDONLY), NULL) < 0)
		JAIL_FAIL("remount %s: %m\n", dst);
}

/* The empty root, QEMU's files in it, and pivot_root into it. */
static void
jail_enter_root(const struct core_jail *j, const struct core_jail_paths *p)
{
	const char *r = j->root;
	int i;

	if (unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS) < 0)
		JAIL_FAIL("unshare mount, IPC and UTS namespaces: %m\n");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		JAIL_FAIL("make mounts private: %m\n");
	if (mount("kiln-jail", r, "tmpfs", MS_NOSUID | MS_NODEV,
	    "mode=0755,size=64k,nr_inodes=512") < 0)
		JAIL_FAIL("tmpfs on %s: %m\n", r);
	for (i = 0; jail_sys_paths[i] != NULL; i++)
		jail_bind(r, jail_sys_paths[i], JAIL_OPT);
	if (p->kvm)
		jail_bind(r, "/dev/kvm", 0);
	jail_bind(r, p->qemu, 0);
	jail_bind(r, p->kernel, 0);
	jail_bind(r, p->initrd, 0);
	if (p->share != NULL)	/* 9p; an EROFS image is in the run dir */
		jail_bind(r, p->share, JAIL_RW | JAIL_REC);
	/*
	 * XXX: read-write although a restore maps it MAP_PRIVATE: QEMU 7.2's
	 * memory-backend-file opens mem-path O_RDWR whatever share= says
	 * (readonly=on would map it PROT_READ). A QEMU taken over could so
	 * write the template, and pages other VMs have not yet copied; see
	 * docs/configuration.md, "Snapshot start".
	 */
	if (p->ram != NULL)
		jail_bind(r, p->ram, JAIL_RW);
	/*
	 * No run directory: QEMU's sockets, console log and rootfs image
	 * are fds the shim opened (vm.c), so nothing of the shim's is in
	 * reach. 9p's mapped-xattr sets xattrs through /proc/self/fd/N/name:
	 * this process's own fd dir is all of /proc it sees.
	 */
	jail_bind(r, "/proc/self/fd", 0);
	if (mount(NULL, r, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID |
	    MS_NODEV, NULL) < 0)
		JAIL_FAIL("remount %s read-only: %m\n", r);
	if (chdir(r) < 0 || syscall(SYS_pivot_root, ".", ".") < 0)
		JAIL_FAIL("pivot_root %s: %m\n", r);
	/* The old root is stacked under the new one: detach it. */
	if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		JAIL_FAIL("detach the old root: %m\n");
}

/* Lower a limit; without CAP_SYS_RESOURCE it can never be raised. */
static void
jail_rlimit(int res, rlim_t want, const char *name)
{
	struct rlimit rl;

	if (getrlimit(res, &rl) < 0)
		JAIL_FAIL("getrlimit %s: %m\n", name);
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
		want = rl.rlim_max;
	rl.rlim_cur = rl.rlim_max = want;
	if (setrlimit(res, &rl) < 0)
		JAIL_FAIL("setrlimit %s: %m\n", name);
}

/* No groups, the VM's uid, no way back to privilege. */
static void
jail_drop(const struct core_jail *j, bool kvm_wanted)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	int cap;

	gid_t groups[2] = { (gid_t)j->cfg->jail_template_gid, 0 };
	size_t ngroups = j->cfg->jail_user ? 1 : 0;
	struct stat kvm;

	/*
	 * Its own uid and gid, the one group that may open template RAM and,
	 * under KVM, /dev/kvm's group (already bound: stat sees the node).
	 */
	if (j->cfg->jail_user && kvm_wanted && stat("/dev/kvm", &kvm) == 0)
		groups[ngroups++] = kvm.st_gid;
	if (setgroups(ngroups, groups) < 0)
		JAIL_FAIL("setgroups: %m\n");
	jail_rlimit(RLIMIT_NOFILE, 4096, "RLIMIT_NOFILE");
	jail_rlimit(RLIMIT_CORE, 0, "RLIMIT_CORE");
	if (j->cfg->jail_user)
		jail_rlimit(RLIMIT_NPROC, 512, "RLIMIT_NPROC");
	for (cap = 0; prctl(PR_CAPBSET_READ, cap) >= 0; cap++)
		if (prctl(PR_CAPBSET_DROP, cap) < 0)
			JAIL_FAIL("drop capability %d from the bounding set: "
			    "%m\n", cap);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		JAIL_FAIL("clear ambient capabilities: %m\n");
	if (j->cfg->jail_user && (setresgid(j->uid, j->uid, j->uid) < 0 ||
	    setresuid(j->uid, j->uid, j->uid) < 0))
		JAIL_FAIL("setresuid %u: %m\n", (unsigned)j->uid);
	/*
	 * A new uid clears the parent-death signal vm.c set (prctl(2)):
	 * set it again, or QEMU would outlive a killed shim until
	 * containerd's `delete`.
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		JAIL_FAIL("parent-death signal: %m\n");
	memset(d, 0, sizeof d);
	if (syscall(SYS_capset, &h, d) < 0)
		JAIL_FAIL("capset: %m\n");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		JAIL_FAIL("no_new_privs: %m\n");
}

pid_t
core_jail_fork(const struct core_jail *j)
{
	if (!j->cfg->jail_namespaces)
		return fork();
	/* fork() with a flag: no new stack, SIGCHLD to the shim. */
	return (pid_t)syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, NULL, NULL,
	    NULL, NULL);
}

void
core_jail_enter(const struct core_jail *j, const struct core_jail_paths *p)
{
	/* "0": the writer itself (its pid is 1 in its own PID namespace). */
	const char *pid = "0";
	int i;

	for (i = 0; i < 2; i++) {
		_cleanup_free_ char *procs = j->cg[i] != NULL ?
		    xasprintf("%s/cgroup.procs", j->cg[i]) : NULL;
		struct err err;

		if (procs != NULL && jail_write(procs, pid, &err) < 0)
			JAIL_FAIL("cgroup: %s\n", err.msg);
	}
	if (j->cfg->jail_namespaces)
		jail_enter_root(j, p);
	jail_drop(j, p->kvm);
}

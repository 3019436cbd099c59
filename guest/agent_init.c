/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Early boot of the guest, run once by PID 1 before the reactor starts:
 * move the root off the initramfs mount (crun's pivot_root refuses the
 * root of the mount tree; qemu-guest-notes "crun"), mount the pseudo
 * filesystems crun needs, set the hostname, load the kernel modules.
 * These are blocking syscalls by nature, and nothing else runs yet.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/magic.h>

#include "guest/agent.h"

#define NEWROOT	"/newroot"

/*
 * switch_root by hand. pivot_root(2) refuses the initramfs because it is
 * the root of the mount tree (qemu-guest-notes, "crun"); a bind mount of
 * it is an ordinary mount, so bind / onto NEWROOT, move that over / and
 * chroot into it: the same files, now on a mount crun can pivot away
 * from, and nothing copied (a copy into a tmpfs cost ~0.1 s of boot).
 */
static int
agent_switch_root(struct err *err)
{
	struct statfs sfs;

	if (statfs("/", &sfs) < 0 || (sfs.f_type != RAMFS_MAGIC &&
	    sfs.f_type != TMPFS_MAGIC))
		return 0;
	if (mkdir(NEWROOT, 0755) < 0 && errno != EEXIST)
		return err_set(err, errno, "mkdir %s: %m", NEWROOT);
	if (mount("/", NEWROOT, NULL, MS_BIND | MS_REC, NULL) < 0)
		return err_set(err, errno, "bind / on %s: %m", NEWROOT);
	if (chdir(NEWROOT) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 ||
	    chroot(".") < 0 || chdir("/") < 0)
		return err_set(err, errno, "switch root: %m");
	return 0;
}

struct agent_mount {
	const char	*src;
	const char	*target;
	const char	*type;
	unsigned long	 flags;
	const char	*data;
};

static const struct agent_mount agent_mounts[] = {
	{ "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL },
	{ "sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL },
	{ "devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755" },
	{ "cgroup2", "/sys/fs/cgroup", "cgroup2",
	  MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL },
	{ "tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755" },
	{ "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777" },
	{ "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
	  "newinstance,ptmxmode=0666,mode=0620" },
	{ "tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777" },
};

static int
agent_mount_all(struct err *err)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(agent_mounts); i++) {
		const struct agent_mount *m = &agent_mounts[i];

		mkdir(m->target, 0755);
		if (mount(m->src, m->target, m->type, m->flags, m->data) < 0 &&
		    errno != EBUSY)
			return err_set(err, errno, "mount %s on %s: %m",
			    m->type, m->target);
	}
	return 0;
}

/*
 * Load every module named in the list file (load-order or load-order.late),
 * in that order: dependencies first, as guest/mkimage.sh computed them
 * from modules.dep.
 */
int
agent_load_modules(const char *list, struct err *err)
{
	char dir[128], path[512], name[256];
	struct utsname u;
	FILE *order;
	int fd;

	uname(&u);
	snprintf(dir, sizeof dir, "/lib/modules/%s/kiln", u.release);
	snprintf(path, sizeof path, "%s/%s", dir, list);
	/* kiln's own kernel has everything built in: no list for it. */
	if ((order = fopen(path, "re")) == NULL && errno == ENOENT &&
	    access(dir, F_OK) != 0)
		return 0;
	if (order == NULL)
		return err_set(err, errno, "open %s: %m", path);
	while (fgets(name, sizeof name, order) != NULL) {
		name[strcspn(name, "\n")] = '\0';
		if (name[0] == '\0')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || (syscall(SYS_finit_module, fd, "", 0) < 0 &&
		    errno != EEXIST)) {
			err_set(err, errno, "load module %s: %m", name);
			close_fd(&fd);
			fclose(order);
			return -1;
		}
		close(fd);
	}
	fclose(order);
	return 0;
}

static void
agent_enable_controllers(const char *path)
{
	static const char *const ctl[] = { "+cpu", "+memory", "+pids", "+io" };
	size_t i;
	int fd;

	for (i = 0; i < ARRAY_SIZE(ctl); i++) {
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return;
		if (write(fd, ctl[i], strlen(ctl[i])) < 0)
			log_debug("path=%s controller=%s not enabled", path,
			    ctl[i]);
		close(fd);
	}
}

/* The seals crun's is_self_cloned() takes as "cannot be written". */
#define CRUN_SEALS	(F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

int	agent_crun_fd = -1;

/*
 * Every crun run guards against CVE-2019-5736 (a container overwriting the
 * runtime through /proc/PID/exe) by copying itself into a sealed memfd and
 * re-executing that: twice per run here, since a binary on the initramfs
 * (tmpfs) answers F_GET_SEALS with F_SEAL_SEAL alone, which crun reads as
 * "writable" before it looks for a read-only mount. Under TCG each start of
 * the dynamically linked binary costs ~60 ms, ~120 ms of an exec's ~180 ms
 * in the guest. crun skips the copy when it runs from a fully sealed memfd,
 * so PID 1 makes that copy once and runs crun from it (agent_exec_child):
 * the same protection (nothing can write a sealed memfd), one copy per VM,
 * carried by a snapshot template. Binding the memfd over AGENT_CRUN would
 * be simpler; this kernel's mount refuses it (EINVAL). On failure crun
 * runs from its path and keeps copying itself.
 */
static int
agent_seal_crun(struct err *err)
{
	_cleanup_close_ int bin = open(AGENT_CRUN, O_RDONLY | O_CLOEXEC);
	int mfd;
	struct stat st;
	off_t off = 0;

	if (bin < 0 || fstat(bin, &st) < 0)
		return err_set(err, errno, "open %s: %m", AGENT_CRUN);
	mfd = memfd_create("kiln-crun", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		return err_set(err, errno, "memfd_create: %m");
	while (off < st.st_size)
		if (sendfile(mfd, bin, &off, (size_t)(st.st_size - off)) <= 0)
			break;
	if (off != st.st_size || fcntl(mfd, F_ADD_SEALS, CRUN_SEALS) < 0) {
		err_set(err, errno, "copy and seal %s: %m", AGENT_CRUN);
		close(mfd);
		return -1;
	}
	agent_crun_fd = mfd;
	return 0;
}

int
agent_early_init(struct err *err)
{
	struct err serr;

	if (agent_switch_root(err) < 0 || agent_mount_all(err) < 0)
		return -1;
	if (sethostname("kiln", 4) < 0)
		log_warn("sethostname");
	symlink("/proc/self/fd", "/dev/fd");
	mkdir(AGENT_RUN_DIR, 0700);
	if (agent_seal_crun(&serr) < 0)
		log_warnx("crun not sealed (it copies itself per run): %s",
		    serr.msg);
	else
		log_info("crun sealed: runs from a sealed memfd");
	/*
	 * crun makes container cgroups below this one; delegate the
	 * controllers the stats and limits need (best effort: a missing
	 * controller only costs metrics).
	 */
	mkdir("/sys/fs/cgroup/" AGENT_CGROUP_PARENT, 0755);
	agent_enable_controllers("/sys/fs/cgroup/cgroup.subtree_control");
	agent_enable_controllers("/sys/fs/cgroup/" AGENT_CGROUP_PARENT
	    "/cgroup.subtree_control");
	return 0;
}

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
#include <sys/mount.h>
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

int
agent_early_init(struct err *err)
{
	if (agent_switch_root(err) < 0 || agent_mount_all(err) < 0)
		return -1;
	if (sethostname("kiln", 4) < 0)
		log_warn("sethostname");
	symlink("/proc/self/fd", "/dev/fd");
	mkdir(AGENT_RUN_DIR, 0700);
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

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The container's rootfs as a read-only EROFS image (config `rootfs`
 * "erofs", the default): mkfs.erofs turns the bundle's rootfs into
 * <run_dir>/rootfs.erofs at Create, QEMU serves it on virtio-blk
 * (serial kiln-rootfs) and the guest stacks an overlay with a tmpfs
 * upper layer on it. The guest's writes (a chmod 4755, a mknod) stay in
 * the guest's memory; QEMU never touches the host's snapshot, so it needs
 * no access to the host's files at all (issue 16). mkfs.erofs keeps the
 * image's owners, modes, xattrs and device nodes.
 *
 * One build is one child with a deadline; its end is a callback from the
 * reactor, never from inside core_rootfs_build. A failed or killed build
 * leaves no image behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/core_int.h"

struct core_rootfs {
	struct reactor		*r;		/* borrowed */
	char			*image;
	pid_t			 pid;
	bool			 timed_out;
	uint64_t		 started_ns;
	struct reactor_child	*child;
	struct reactor_timer	*timer;
	core_rootfs_done_cb	 done;
	void			*arg;
	char			 error[512];
};

/* In the child: mkfs.erofs's own output goes to the shim's log (stderr). */
static void __attribute__((noreturn))
rootfs_exec(const char *mkfs, const char *image, const char *src)
{
	sigset_t none;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
	}
	execl(mkfs, mkfs, "--quiet", image, src, (char *)NULL);
	fprintf(stderr, "kiln: exec %s: %s\n", mkfs, strerror(errno));
	_exit(127);
}

static void
rootfs_exit_cb(pid_t pid, int status, void *arg)
{
	struct core_rootfs *b = arg;
	bool ok = !b->timed_out && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0;

	(void)pid;
	b->pid = 0;
	reactor_timer_stop(b->timer);
	if (b->timed_out)
		snprintf(b->error, sizeof b->error, "mkfs.erofs timed out");
	else if (!ok)
		snprintf(b->error, sizeof b->error, "mkfs.erofs failed (%s %d)",
		    WIFEXITED(status) ? "exit status" : "signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) :
		    WTERMSIG(status));
	if (!ok)
		unlink(b->image);
	else
		log_info("rootfs image %s built in %llu ms", b->image,
		    (unsigned long long)((time_mono_ns() - b->started_ns) /
		    1000000));
	b->done(ok ? NULL : b->error, b->arg);
}

static void
rootfs_timeout_cb(void *arg)
{
	struct core_rootfs *b = arg;

	b->timed_out = true;
	if (b->pid > 0)
		kill(b->pid, SIGKILL);
}

struct core_rootfs *
core_rootfs_build(struct reactor *r, const char *mkfs, const char *src,
    const char *image, uint64_t timeout_ms, core_rootfs_done_cb done,
    void *arg, struct err *err)
{
	struct core_rootfs *b;

	if (access(mkfs, X_OK) < 0) {
		err_set(err, errno, "rootfs erofs: %s: %m (install erofs-utils "
		    "or set rootfs to \"9p\")", mkfs);
		return NULL;
	}
	unlink(image);
	b = xcalloc(1, sizeof *b);
	b->r = r;
	b->image = xstrdup(image);
	b->done = done;
	b->arg = arg;
	b->started_ns = time_mono_ns();
	b->timer = reactor_timer_new(r, rootfs_timeout_cb, b);
	b->pid = fork();
	if (b->pid == 0)
		rootfs_exec(mkfs, image, src);
	if (b->pid < 0) {
		err_set(err, errno, "rootfs erofs: fork: %m");
		core_rootfs_free(b);
		return NULL;
	}
	b->child = reactor_child_new(r, b->pid, rootfs_exit_cb, b);
	reactor_timer_start(b->timer, timeout_ms, false);
	return b;
}

/* A build still running is killed and its partial image removed. */
void
core_rootfs_free(struct core_rootfs *b)
{
	if (b == NULL)
		return;
	if (b->pid > 0) {
		kill(b->pid, SIGKILL);
		waitpid(b->pid, NULL, 0);
		unlink(b->image);
	}
	reactor_child_free(b->child);
	reactor_timer_free(b->timer);
	free(b->image);
	free(b);
}

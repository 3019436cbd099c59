/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A container's rootfs in the guest, as the host sends it:
 *   - "9p": the host's directory, shared over virtio-9p under a tag;
 *   - "erofs": a read-only EROFS image on the virtio-blk disk whose serial
 *     is the tag, under an overlay whose upper layer is a tmpfs. What the
 *     container writes (a setuid bit, a device node) lives in guest memory
 *     and never reaches the host.
 *
 * The disk is on QEMU's command line from boot. A VM restored from a
 * snapshot template resumes with the template's view of that disk (its
 * size, the pages its partition scan read), so the agent rebinds the disk
 * to virtio_blk first: the driver probes it anew and reads the size of
 * this VM's image. The unbind and bind are synchronous writes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "guest/agent.h"

#define VIRTIO_BLK_DRIVER	"bus/virtio/drivers/virtio_blk"	/* in sysfs */

/* The first line of a small sysfs file, newline cut; -1 if unreadable. */
static int
sysfs_read(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* The vdX whose virtio-blk serial is serial, into name. */
static int
rootfs_find_disk(const char *serial, char name[NAME_MAX + 1],
    struct err *err)
{
	char path[PATH_MAX], value[64];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof path, "%s/block", agent_sysfs);
	if ((d = opendir(path)) == NULL)
		return err_set(err, errno, "%s: %m", path);
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "vd", 2) != 0)
			continue;
		snprintf(path, sizeof path, "%s/block/%s/serial", agent_sysfs,
		    de->d_name);
		if (sysfs_read(path, value, sizeof value) == 0 &&
		    strcmp(value, serial) == 0) {
			snprintf(name, NAME_MAX + 1, "%s", de->d_name);
			closedir(d);
			return 0;
		}
	}
	closedir(d);
	return err_set(err, ENODEV, "no virtio disk with serial %s", serial);
}

/* Unbind and bind the disk's virtio device: a fresh probe of its size. */
static int
rootfs_rebind(const char *disk, struct err *err)
{
	char link[PATH_MAX], path[PATH_MAX], drv[PATH_MAX];
	const char *dev;
	ssize_t n;

	snprintf(path, sizeof path, "%s/block/%s/device", agent_sysfs, disk);
	if ((n = readlink(path, link, sizeof link - 1)) < 0)
		return err_set(err, errno, "%s: %m", path);
	link[n] = '\0';
	dev = strrchr(link, '/') != NULL ? strrchr(link, '/') + 1 : link;
	snprintf(drv, sizeof drv, "%s/" VIRTIO_BLK_DRIVER "/unbind",
	    agent_sysfs);
	if (agent_write_file(drv, dev, err) < 0)
		return err_wrap(err, "rebind %s", dev);
	snprintf(drv, sizeof drv, "%s/" VIRTIO_BLK_DRIVER "/bind", agent_sysfs);
	if (agent_write_file(drv, dev, err) < 0)
		return err_wrap(err, "rebind %s", dev);
	return 0;
}

static int
rootfs_mkdir(const char *path, mode_t mode, struct err *err)
{
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return err_set(err, errno, "mkdir %s: %m", path);
	return 0;
}

/* The image read-only on dir/image, a tmpfs with upper/ and work/ on dir/rw. */
static int
rootfs_mount_layers(struct agent_container *c, const char *disk,
    struct err *err)
{
	_cleanup_free_ char *image = agent_path(c, "image");
	_cleanup_free_ char *rw = agent_path(c, "rw");
	_cleanup_free_ char *upper = agent_path(c, "rw/upper");
	_cleanup_free_ char *work = agent_path(c, "rw/work");
	char dev[PATH_MAX];
	struct stat st;

	snprintf(dev, sizeof dev, "/dev/%s", disk);
	if (rootfs_mkdir(image, 0755, err) < 0 || rootfs_mkdir(rw, 0755, err) < 0)
		return -1;
	if (mount(dev, image, "erofs", MS_RDONLY, NULL) < 0)
		return err_set(err, errno, "mount erofs %s: %m", dev);
	c->rootfs_layers |= AGENT_ROOTFS_IMAGE;
	if (mount("tmpfs", rw, "tmpfs", MS_NOSUID, "mode=0755") < 0)
		return err_set(err, errno, "mount tmpfs on %s: %m", rw);
	c->rootfs_layers |= AGENT_ROOTFS_RW;
	if (rootfs_mkdir(upper, 0755, err) < 0 ||
	    rootfs_mkdir(work, 0700, err) < 0)
		return -1;
	/* The merged root takes the upper dir's owner and mode: the image's. */
	if (stat(image, &st) < 0 || chown(upper, st.st_uid, st.st_gid) < 0 ||
	    chmod(upper, st.st_mode & 07777) < 0)
		return err_set(err, errno, "%s: owner and mode of the image: %m",
		    upper);
	return 0;
}

/*
 * A pod's app container gets its disk hot-added just before CreateContainer
 * (the shim's disk machine): the guest's PCI hotplug may not have probed it
 * yet. Bounded (AGENT_DISK_WAIT_TRIES x 5 ms); only these serials wait, the
 * boot disk is there before the agent runs.
 */
#define AGENT_DISK_WAIT_TRIES	1000

static int
rootfs_wait_disk(const char *serial, char name[NAME_MAX + 1],
    struct err *err)
{
	struct timespec ts = { 0, 5 * 1000 * 1000 };
	int i;

	for (i = 0; strncmp(serial, AGENT_POD_DISK_PREFIX,
	    strlen(AGENT_POD_DISK_PREFIX)) == 0 &&
	    i < AGENT_DISK_WAIT_TRIES; i++) {
		if (rootfs_find_disk(serial, name, err) == 0)
			return 0;
		nanosleep(&ts, NULL);
	}
	return rootfs_find_disk(serial, name, err);
}

static int
rootfs_mount_erofs(struct agent_container *c, const char *serial,
    struct err *err)
{
	_cleanup_free_ char *opts = NULL;
	char disk[NAME_MAX + 1];

	if (rootfs_wait_disk(serial, disk, err) < 0 ||
	    rootfs_rebind(disk, err) < 0 ||
	    rootfs_find_disk(serial, disk, err) < 0 ||
	    rootfs_mount_layers(c, disk, err) < 0)
		return -1;
	opts = xasprintf("lowerdir=%s/image,upperdir=%s/rw/upper,"
	    "workdir=%s/rw/work", c->dir, c->dir, c->dir);
	if (mount("overlay", c->rootfs, "overlay", 0, opts) < 0)
		return err_set(err, errno, "mount overlay on %s: %m", c->rootfs);
	c->rootfs_mounted = true;
	return 0;
}

int
agent_rootfs_mount(struct agent_container *c, const char *type,
    const char *tag, struct err *err)
{
	if (rootfs_mkdir(c->dir, 0700, err) < 0 ||
	    rootfs_mkdir(c->rootfs, 0755, err) < 0)
		return -1;
	if (strcmp(type, "erofs") == 0)
		return rootfs_mount_erofs(c, tag, err);
	if (mount(tag, c->rootfs, "9p", 0, "trans=virtio,version=9p2000.L,"
	    "msize=524288,cache=loose") < 0)
		return err_set(err, errno, "mount 9p tag %s: %m", tag);
	c->rootfs_mounted = true;
	return 0;
}

/* Whatever agent_rootfs_mount mounted, in reverse; the dirs go too. */
void
agent_rootfs_unmount(struct agent_container *c)
{
	_cleanup_free_ char *image = agent_path(c, "image");
	_cleanup_free_ char *rw = agent_path(c, "rw");

	if (c->rootfs_mounted && umount2(c->rootfs, MNT_DETACH) < 0)
		log_warn("umount %s", c->rootfs);
	c->rootfs_mounted = false;
	rmdir(c->rootfs);
	if ((c->rootfs_layers & AGENT_ROOTFS_RW) && umount2(rw, MNT_DETACH) < 0)
		log_warn("umount %s", rw);
	if ((c->rootfs_layers & AGENT_ROOTFS_IMAGE) &&
	    umount2(image, MNT_DETACH) < 0)
		log_warn("umount %s", image);
	c->rootfs_layers = 0;
	rmdir(rw);
	rmdir(image);
}

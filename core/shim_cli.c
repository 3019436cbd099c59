/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerd-shim-kiln-v1's command line (containerd 1.6's contract,
 * reference section 2) and its two short-lived actions. `start` binds the
 * task socket, writes the address file, re-executes itself as the daemon
 * with the socket as fd 3 and prints the address; `delete` cleans up what
 * a dead daemon left and prints a DeleteResponse.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "core/core_int.h"
#include "core/shim.h"

static const char *const shim_value_flags[] = { "namespace", "address",
	"publish-binary", "id", "bundle", "socket", NULL };

static bool
flag_takes_value(const char *name)
{
	size_t i;

	for (i = 0; shim_value_flags[i] != NULL; i++)
		if (strcmp(shim_value_flags[i], name) == 0)
			return true;
	return false;
}

static void
flag_set(struct shim_args *a, const char *name, const char *value)
{
	if (strcmp(name, "namespace") == 0)
		a->namespace = value;
	else if (strcmp(name, "address") == 0)
		a->address = value;
	else if (strcmp(name, "publish-binary") == 0)
		a->publish_binary = value;
	else if (strcmp(name, "id") == 0)
		a->id = value;
	else if (strcmp(name, "bundle") == 0)
		a->bundle = value;
	else if (strcmp(name, "debug") == 0)
		a->debug = value == NULL || strcmp(value, "true") == 0;
	else if (strcmp(name, "v") == 0)
		a->version = true;
	/* Unknown flags are tolerated: newer containerds may add some. */
}

int
shim_parse_args(int argc, char **argv, struct shim_args *a)
{
	char name[64];
	const char *arg, *eq;
	int i;

	memset(a, 0, sizeof *a);
	a->namespace = "default";
	for (i = 1; i < argc; i++) {
		arg = argv[i];
		if (arg[0] != '-' || strcmp(arg, "-") == 0) {
			a->action = arg;
			break;
		}
		arg += arg[1] == '-' ? 2 : 1;
		eq = strchr(arg, '=');
		snprintf(name, sizeof name, "%.*s", eq != NULL ?
		    (int)(eq - arg) : (int)strlen(arg), arg);
		if (eq != NULL)
			flag_set(a, name, eq + 1);
		else if (flag_takes_value(name) && i + 1 < argc)
			flag_set(a, name, argv[++i]);
		else
			flag_set(a, name, NULL);
	}
	return 0;
}

/* Bind the task socket; reuse a stale path, never a live one. */
static int
start_listen(const char *path, struct err *err)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof sun.sun_path)
		return err_set(err, ENAMETOOLONG, "%s: too long", path);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	mkdir(SHIM_RUN_DIR, 0700);
	{
		_cleanup_free_ char *dir = xasprintf("%s/s", SHIM_RUN_DIR);

		mkdir(dir, 0700);
	}
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
		return err_set(err, errno, "socket: %m");
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0 &&
	    errno == EADDRINUSE) {
		unlink(path);
		if (bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
			close(fd);
			return err_set(err, errno, "bind %s: %m", path);
		}
	}
	/* A burst of containerd connects must not overflow the backlog. */
	if (listen(fd, SOMAXCONN) < 0 || chmod(path, 0600) < 0) {
		close(fd);
		return err_set(err, errno, "listen %s: %m", path);
	}
	return fd;
}

/* The address file, atomically, with no newline (reference 9.2). */
static int
start_write_address(const char *address, struct err *err)
{
	int fd;

	unlink(".address");
	fd = open(".address", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || write_all(fd, address, strlen(address)) < 0) {
		close_fd(&fd);
		return err_set(err, errno, "write address: %m");
	}
	close(fd);
	if (rename(".address", "address") < 0)
		return err_set(err, errno, "rename address: %m");
	return 0;
}

/* Re-exec ourselves as the daemon, listening socket as fd 3. */
static int
start_daemon(const struct shim_args *a, int lfd, const char *self,
    struct err *err)
{
	char *argv[12];
	int n = 0, null;
	pid_t pid;

	argv[n++] = (char *)(uintptr_t)self;
	argv[n++] = (char *)"-namespace";
	argv[n++] = (char *)(uintptr_t)a->namespace;
	argv[n++] = (char *)"-id";
	argv[n++] = (char *)(uintptr_t)a->id;
	argv[n++] = (char *)"-address";
	argv[n++] = (char *)(uintptr_t)(a->address != NULL ? a->address : "");
	if (a->debug)
		argv[n++] = (char *)"-debug";
	argv[n] = NULL;
	pid = fork();
	if (pid < 0)
		return err_set(err, errno, "fork: %m");
	if (pid > 0)
		return 0;
	setsid();
	null = open("/dev/null", O_RDWR);
	dup2(null, 0);
	dup2(null, 1);
	dup2(null, 2);
	if (lfd != 3) {
		dup2(lfd, 3);
		close(lfd);
	}
	execv(self, argv);
	_exit(127);
}

/*
 * A pod's app container goes to the shim of its sandbox, as runc-v2 and
 * Kata group them: that shim's address, if it is there. 0: not a pod's
 * app container (*address untouched); -1 with err.
 */
static int
start_pod_address(const struct shim_args *a, char **address,
    struct err *err)
{
	char sandbox[PROTO_ID_MAX + 1];
	_cleanup_free_ char *path = NULL;
	enum core_pod_role role;
	struct stat st;

	/* No readable config.json: Create will say so; this is no pod's. */
	if (core_pod_role_of_bundle(a->bundle != NULL ? a->bundle : ".",
	    &role, sandbox, err) < 0)
		return 0;
	if (role != CORE_POD_CONTAINER || strcmp(sandbox, a->id) == 0)
		return 0;
	path = shim_socket_path(a->address, a->namespace, sandbox);
	if (stat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return err_set(err, ENOENT, "pod sandbox %s: no shim (%s: %m)",
		    sandbox, path);
	*address = xasprintf("unix://%s", path);
	return 1;
}

int
shim_start(const struct shim_args *a, char **argv)
{
	_cleanup_free_ char *path = NULL, *address = NULL;
	char self[PATH_MAX];
	struct err err;
	ssize_t n;
	int lfd;

	if (a->id == NULL || !ident_valid(a->id, PROTO_ID_MAX))
		return fprintf(stderr, "start: invalid or missing -id\n"), 1;
	n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		snprintf(self, sizeof self, "%s", argv[0]);
	else
		self[n] = '\0';
	if ((n = start_pod_address(a, &address, &err)) != 0) {
		if (n < 0 || start_write_address(address, &err) < 0) {
			fprintf(stderr, "start: %s\n", err.msg);
			return 1;
		}
		printf("%s", address);
		return 0;
	}
	path = shim_socket_path(a->address, a->namespace, a->id);
	address = xasprintf("unix://%s", path);
	if ((lfd = start_listen(path, &err)) < 0 ||
	    start_write_address(address, &err) < 0 ||
	    start_daemon(a, lfd, self, &err) < 0) {
		fprintf(stderr, "start: %s\n", err.msg);
		return 1;
	}
	printf("%s", address);
	return 0;
}

/* ---- delete ---------------------------------------------------------- */

/*
 * Is pid a QEMU of ours? The state file's pid may have been reused: its
 * command line must be QEMU's and name our bundle (-name, vm_qemu.c; the
 * run dir is not in it, QEMU's files are fds).
 */
static bool
delete_is_our_qemu(pid_t pid, const char *bundle)
{
	_cleanup_free_ char *e = core_qemu_opt_escape(bundle);
	_cleanup_free_ char *name = xasprintf(" -name %s ", e);
	char path[64], buf[8192];
	ssize_t n, i;
	int fd;

	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return false;
	/* Arguments end in NUL: each becomes a space, the last one too. */
	for (i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[n] = '\0';
	return strstr(buf, "qemu") != NULL && strstr(buf, name) != NULL;
}

static void
delete_kill_qemu(pid_t pid, const char *bundle)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int i;

	if (pid <= 1 || !delete_is_our_qemu(pid, bundle))
		return;
	kill(pid, SIGKILL);
	/* Not our child: watch /proc until it is gone (bounded). */
	for (i = 0; i < 300 && delete_is_our_qemu(pid, bundle); i++)
		nanosleep(&ts, NULL);
}

static void
delete_remove_dir(const char *dir)
{
	static const char *const files[] = { "agent.sock", "qmp.sock",
	    "console.log", "qemu.log", CORE_METRICS_SOCK, CORE_ROOTFS_IMAGE };
	_cleanup_free_ char *netns = xasprintf("%s/netns", dir);
	struct err err;
	size_t i;

	/* kiln's network namespace: its veths and TAPs go with it. */
	if (cni_netns_remove(netns, &err) < 0)
		log_warnx("%s", err.msg);
	for (i = 0; i < ARRAY_SIZE(files); i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", dir, files[i]);

		unlink(p);
	}
	/* A pod's app containers' images (pod.c), if their Delete never came. */
	for (i = 0; i < CORE_POD_DISKS; i++) {
		_cleanup_free_ char *p = xasprintf(CORE_POD_IMAGE_FMT, dir,
		    (int)i);

		unlink(p);
	}
	rmdir(dir);
}

/* CNI DEL of what kiln's own ADD left (the shim died before Delete). */
static void
delete_cni(const struct shim_args *a)
{
	_cleanup_free_ char *id = core_net_cni_id(a->namespace,
	    a->id != NULL ? a->id : "");
	struct cni_cache_ref *refs = NULL;
	struct core_config cfg;
	struct err err;
	size_t n = 0, i;

	if (core_config_load(&cfg, &err) < 0) {
		log_warnx("delete: %s", err.msg);
		return;
	}
	if (cni_cache_list(cfg.cni_cache_dir, id, &refs, &n, &err) < 0)
		n = 0;
	for (i = 0; i < n; i++)
		if (cni_del_cached(cfg.cni_cache_dir, refs[i].network, id,
		    refs[i].ifname, cfg.cni_bin_dirs, cfg.cni_timeout_ms,
		    &err) < 0)
			log_warnx("delete: %s", err.msg);
	free(refs);
	core_config_fini(&cfg);
}

int
shim_delete(const struct shim_args *a)
{
	Containerd__Task__V2__DeleteResponse r =
	    CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
	const char *bundle = a->bundle != NULL ? a->bundle : ".";
	_cleanup_free_ char *state = xasprintf("%s/%s", bundle, SHIM_STATE_FILE);
	_cleanup_free_ char *rootfs = xasprintf("%s/rootfs", bundle);
	_cleanup_free_ char *sock = NULL, *run_dir = NULL, *bundle_abs = NULL;
	Google__Protobuf__Timestamp ts;
	json_t *j = json_load_file(state, 0, NULL);
	uint8_t out[128];
	pid_t qemu = 0;

	if (j != NULL)
		qemu = (pid_t)json_integer_value(json_object_get(j,
		    "qemu_pid"));
	run_dir = core_run_dir(a->namespace, a->id != NULL ? a->id : "");
	/*
	 * containerd names the bundle as it did at Create (-bundle) and runs
	 * delete in it: a relative one is made absolute from there.
	 */
	if (bundle[0] != '/')
		bundle_abs = realpath(bundle, NULL);
	delete_kill_qemu(qemu, bundle_abs != NULL ? bundle_abs : bundle);
	/* QEMU is gone (or was never ours): its cgroup, uid and root too. */
	core_jail_cleanup(run_dir);
	json_decref(j);
	while (umount2(rootfs, MNT_DETACH) == 0)
		;
	delete_cni(a);
	delete_remove_dir(run_dir);
	unlink(state);
	sock = shim_socket_path(a->address, a->namespace, a->id);
	unlink(sock);
	proto_timestamp_from_ns(&ts, time_real_ns());
	r.pid = (uint32_t)(qemu > 0 ? qemu : 0);
	r.exit_status = 137;
	r.exited_at = &ts;
	(void)write_all(1, out, protobuf_c_message_pack(&r.base, out));
	return 0;
}


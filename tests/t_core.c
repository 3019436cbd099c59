/* SPDX-License-Identifier: Apache-2.0 */
/*
 * core without a VM: the shim's command line (Go flag rules), the
 * configuration's defaults and its exact error messages, the QEMU command
 * line, the accelerator choice, and the task and VM tables.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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
	ok(strstr(vm_cmdline_extra(&c), "kiln.debug sysctl.kernel.printk=7 "
	    "sysctl.kernel.hung_task_timeout_secs=30") != NULL, "config: debug boots the "
	    "guest verbose, hung tasks reported (%s)", vm_cmdline_extra(&c));
	c.debug = false;
	ok(vm_cmdline_extra(&c) == NULL, "config: no debug, nothing added");
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
	cfg_bad("{\"tcg_tb_mib\": 5000}",
	    "cfg.json: tcg_tb_mib: must be an integer from 0 to 4096");
	cfg_bad("{\"template_dir\": \"rel\"}",
	    "cfg.json: template_dir: must be an absolute path");
	cfg_bad("{\"snapshot\": \"yes\"}",
	    "cfg.json: snapshot: must be true or false");
	cfg_bad("{\"tcg_cpu\": \"max -S\"}", "cfg.json: tcg_cpu: must be a "
	    "QEMU CPU model and features (letters, digits and ,+-_.=)");
	cfg_bad("{\"tcg_thread\": \"many\"}", "cfg.json: tcg_thread: must be "
	    "one of multi, single");
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
	ok(argv_has(argv, "-chardev", "socket,id=qmp,path=/run/kiln/x/qmp.sock,")
	    && argv_has(argv, "-mon", "chardev=qmp,mode=control"), "qemu: QMP");
	core_argv_free(argv);
	/* What the shim opened is passed as fds: no path of its in argv. */
	o.agent_fd = 5;
	o.qmp_fd = 6;
	o.console_fd = 7;
	o.console_log = "/run/kiln/x/console.log";
	o.rootfs_fd = 8;
	o.rootfs_image = "/run/kiln/x/rootfs.erofs";
	o.nshares = 0;
	argv = core_qemu_argv(&o);
	ok(argv_has(argv, "-chardev", "socket,id=agent,fd=5,server=on") &&
	    argv_has(argv, "-chardev", "socket,id=qmp,fd=6,server=on") &&
	    argv_has(argv, "-add-fd", "fd=7,set=1") &&
	    argv_has(argv, "-chardev", "file,id=console,path=/dev/fdset/1") &&
	    argv_has(argv, "-add-fd", "fd=8,set=2") &&
	    argv_has(argv, "-blockdev", "filename=/dev/fdset/2,read-only=on") &&
	    !argv_has(argv, "-chardev", "/run/kiln") &&
	    !argv_has(argv, "-blockdev", "/run/kiln"), "qemu: sockets, "
	    "console and rootfs image as inherited fds, no run-dir path");
	core_argv_free(argv);
	ok(strcmp(core_accel_resolve("kvm", "/nowhere"), "kvm") == 0 &&
	    strcmp(core_accel_resolve("auto", "/nowhere"), "tcg") == 0,
	    "accel: explicit choice passes, auto without a probe is tcg");
}

/* The memory levers and snapshot start on the command line (issue 15). */
static void
test_qemu_snapshot(void)
{
	struct core_vm_opts o = {
		.kernel = "/k/vmlinux", .initrd = "/k/initrd.img",
		.mem_mib = 256, .max_mem_mib = 1024, .accel = "tcg",
		.agent_sock = "/a.sock", .tb_mib = 64,
		.ram_path = "/t/a,b/ram", .ram_shared = false, .incoming = true,
		.vmgenid = true,
	};
	char **argv = core_qemu_argv(&o);

	ok(argv_has(argv, "-accel", "tcg,tb-size=64"), "qemu: tcg_tb_mib "
	    "is -accel tcg,tb-size");
	core_argv_free(argv);
	o.tcg_single = true;
	argv = core_qemu_argv(&o);
	ok(argv_has(argv, "-accel", "tcg,thread=single,tb-size=64"), "qemu: "
	    "tcg_thread single is -accel tcg,thread=single");
	o.tcg_single = false;
	ok(argv_has(argv, "-machine", "q35,memory-backend=kiln-ram") &&
	    argv_has(argv, "-object", "memory-backend-file,id=kiln-ram,"
	    "size=256M,mem-path=/t/a,,b/ram,share=off") &&
	    argv_has(argv, "-object", "memory-backend-ram,id=kiln-vmem"),
	    "qemu: boot RAM from the template file, private; virtio-mem "
	    "stays anonymous");
	ok(argv_has(argv, "-incoming", "defer") &&
	    argv_has(argv, "-device", "vmgenid,guid=auto"), "qemu: a "
	    "restore waits for migrate-incoming, with a fresh vmgenid");
	core_argv_free(argv);
	o.tb_mib = 0;
	o.ram_path = NULL;
	o.incoming = o.vmgenid = false;
	argv = core_qemu_argv(&o);
	ok(argv_has(argv, "-accel", "tcg") && !argv_has(argv, "-accel",
	    "tb-size") && !argv_has(argv, "-incoming", "") &&
	    !argv_has(argv, "-object", "memory-backend-file"), "qemu: a cold "
	    "boot has neither, and tcg_tb_mib 0 keeps QEMU's default");
	core_argv_free(argv);
}

/* A template's life on disk: build (locked), busy, commit, found, stale. */
static void
test_tmpl(void)
{
	char tmp[] = "/tmp/t_core-tmpl.XXXXXX";
	struct core_config c;
	struct reactor *r;
	struct fsm_env *env = fsm_env_new();
	struct core_tmpl *a, *b, *d;
	_cleanup_free_ char *ram = NULL, *state = NULL;
	struct err e;

	if (mkdtemp(tmp) == NULL || (r = reactor_new(&e)) == NULL) {
		skip(5, "no temp dir or reactor");
		return;
	}
	unsetenv("KILN_CONFIG");
	(void)core_config_load(&c, &e);
	free(c.template_dir);
	c.template_dir = xasprintf("%s/t", tmp);
	a = core_tmpl_new(r, env, &c, "a", "key 1\n");
	b = core_tmpl_new(r, env, &c, "b", "key 1\n");
	ok(a->fsm.state == TMPL_ST_BUILDING && b->fsm.state == TMPL_ST_NONE,
	    "template: the first takes the lock and builds, the second "
	    "cold-boots at once (%s, %s)", fsm_state_name(&tmpl_fsm_def,
	    a->fsm.state), fsm_state_name(&tmpl_fsm_def, b->fsm.state));
	ram = core_tmpl_path(a, "ram");
	ok(access(ram, F_OK) == 0 && strstr(ram, ".build-") != NULL,
	    "template: building in its own directory (%s)", ram);
	fsm_post(&a->fsm, TMPL_EV_SAVED, NULL, 0);
	free(ram);
	ram = core_tmpl_path(a, "ram");
	d = core_tmpl_new(r, env, &c, "d", "key 1\n");
	ok(a->fsm.state == TMPL_ST_READY && d->fsm.state == TMPL_ST_READY &&
	    access(ram, F_OK) == 0, "template: saved, renamed into place, "
	    "found ready by the next VM");
	core_tmpl_free(b);
	b = core_tmpl_new(r, env, &c, "b", "key 2\n");
	ok(b->fsm.state == TMPL_ST_BUILDING, "template: another key is "
	    "another template");
	core_tmpl_free(b);
	/* The same files rebuilt (other size/mtime): the old one is pruned. */
	b = core_tmpl_new(r, env, &c, "b", "kernel=/k:1:2.0:3\nmem=256\n");
	fsm_post(&b->fsm, TMPL_EV_SAVED, NULL, 0);
	free(state);
	state = core_tmpl_path(b, "ok");
	core_tmpl_free(b);
	b = core_tmpl_new(r, env, &c, "b", "kernel=/k:9:9.0:9\nmem=256\n");
	fsm_post(&b->fsm, TMPL_EV_SAVED, NULL, 0);
	ok(b->fsm.state == TMPL_ST_READY && access(state, F_OK) < 0 &&
	    access(ram, F_OK) == 0, "template: a rebuilt kernel's template "
	    "prunes the superseded one, not another key's");
	core_tmpl_free(b);
	fsm_post(&d->fsm, TMPL_EV_FAILED, NULL, 0);
	ok(d->fsm.state == TMPL_ST_STALE && access(ram, F_OK) < 0,
	    "template: one that fails to restore is removed");
	core_tmpl_free(a);
	core_tmpl_free(d);
	free(state);
	state = xasprintf("rm -rf %s", tmp);
	if (system(state) != 0)
		diag("could not remove %s", tmp);
	core_config_fini(&c);
	reactor_free(r);
	fsm_env_free(env);
}

/* A bundle path with commas must not add QEMU options. */
static void
test_qemu_escape(void)
{
	struct core_vm_opts o = {
		.kernel = "/k/vmlinux", .initrd = "/k/initrd.img",
		.agent_sock = "/run/a,b/agent.sock",
		.qmp_sock = "/run/a,b/qmp.sock",
		.console_log = "/run/a,b/console.log",
		.shares = { { "/b/x,security_model=none,readonly=on/rootfs",
		    "t,ag" } }, .nshares = 1,
	};
	char **argv = core_qemu_argv(&o);
	_cleanup_free_ char *e1 = core_qemu_opt_escape(",a,,b,");
	_cleanup_free_ char *e2 = core_qemu_opt_escape("");
	int i;
	bool legacy = false;

	is_str(e1, ",,a,,,,b,,", "qemu escape: every comma doubled");
	is_str(e2, "", "qemu escape: the empty string stays empty");
	ok(argv_has(argv, "-fsdev", "path=/b/x,,security_model=none,,"
	    "readonly=on/rootfs,security_model=passthrough") &&
	    argv_has(argv, "-device", "mount_tag=t,,ag"), "qemu escape: a "
	    "comma in the share dir and tag is doubled, no option injected");
	ok(argv_has(argv, "-chardev", "id=agent,path=/run/a,,b/agent.sock,") &&
	    argv_has(argv, "-chardev", "id=qmp,path=/run/a,,b/qmp.sock,") &&
	    argv_has(argv, "-chardev", "file,id=console,path=/run/a,,b/"
	    "console.log") && argv_has(argv, "-serial", "chardev:console"),
	    "qemu escape: agent, QMP and console paths are doubled too");
	for (i = 0; argv[i] != NULL; i++)
		legacy |= strcmp(argv[i], "-qmp") == 0 ||
		    strncmp(argv[i], "file:", 5) == 0;
	ok(!legacy, "qemu escape: no legacy -qmp unix: or -serial file: form, "
	    "whose paths cannot be escaped");
	core_argv_free(argv);
}

/* argv without -kernel, -initrd and -append, plus -S -daemonize: QEMU
 * parses every option and opens every backend, but no guest runs. */
static char **
qemu_parse_only_argv(char **argv, char *pidfile)
{
	static const char *drop[] = { "-kernel", "-initrd", "-append" };
	char **v;
	size_t i, j, n = 0;

	for (i = 0; argv[i] != NULL; i++)
		;
	v = xreallocarray(NULL, i + 5, sizeof *v);
	for (i = 0; argv[i] != NULL; i++) {
		for (j = 0; j < 3 && strcmp(argv[i], drop[j]) != 0; j++)
			;
		if (j < 3 && argv[i + 1] != NULL)
			i++;
		else
			v[n++] = argv[i];
	}
	v[n++] = (char *)"-S";
	v[n++] = (char *)"-daemonize";
	v[n++] = (char *)"-pidfile";
	v[n++] = pidfile;
	v[n] = NULL;
	return v;
}

/* Run QEMU on argv until it daemonizes; its exit status, -1 on failure. */
static int
qemu_daemonize(char **argv)
{
	int status, null = open("/dev/null", O_RDWR | O_CLOEXEC);
	pid_t pid = fork();

	if (pid == 0) {
		dup2(null, 0);
		dup2(null, 1);
		alarm(20);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(null);
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Talk QMP on a (blocking) socket: say quit so the daemon goes away. */
static bool
qmp_quit(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static const char cmds[] = "{\"execute\": \"qmp_capabilities\"}\r\n"
	    "{\"execute\": \"quit\"}\r\n";
	char buf[4096];
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool greeted;

	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	greeted = read(fd, buf, sizeof buf - 1) > 0 &&
	    write(fd, cmds, sizeof cmds - 1) == (ssize_t)(sizeof cmds - 1);
	while (read(fd, buf, sizeof buf) > 0)
		;
	close(fd);
	return greeted;
}

/* The real QEMU accepts the argv built from comma paths, and its sockets
 * sit at the exact paths asked for. */
static void
test_qemu_escape_real(void)
{
	char tmp[] = "/tmp/t_core.XXXXXX";
	_cleanup_free_ char *d = NULL, *share = NULL, *qmp = NULL;
	_cleanup_free_ char *agent = NULL, *log = NULL, *pidf = NULL;
	struct core_vm_opts o = { .accel = "tcg", .kernel = "-", .initrd = "-" };
	char **argv, **v;
	int rc;

	if (system("command -v qemu-system-x86_64 >/dev/null 2>&1") != 0 ||
	    mkdtemp(tmp) == NULL) {
		skip(2, "no qemu-system-x86_64");
		return;
	}
	d = xasprintf("%s/r,un", tmp);
	share = xasprintf("%s/x,security_model=none", tmp);
	qmp = xasprintf("%s/qmp.sock", d);
	agent = xasprintf("%s/agent.sock", d);
	log = xasprintf("%s/console.log", d);
	pidf = xasprintf("%s/qemu.pid", tmp);
	mkdir(d, 0700);
	mkdir(share, 0700);
	o.qmp_sock = qmp;
	o.agent_sock = agent;
	o.console_log = log;
	o.shares[0] = (struct core_share){ share, "rootfs" };
	o.nshares = 1;
	argv = core_qemu_argv(&o);
	v = qemu_parse_only_argv(argv, pidf);
	rc = qemu_daemonize(v);
	ok(rc == 0, "qemu escape: real QEMU accepts comma paths in -fsdev, "
	    "-chardev and the console (exit %d)", rc);
	ok(rc == 0 && qmp_quit(qmp) && access(log, F_OK) == 0, "qemu escape: "
	    "QMP answers and the console log exists at the comma paths");
	free(v);
	core_argv_free(argv);
	unlink(qmp);
	unlink(agent);
	unlink(log);
	unlink(pidf);
	rmdir(share);
	rmdir(d);
	rmdir(tmp);
}

/*
 * The real QEMU takes what the shim opens as fds: listening sockets for
 * the agent and QMP, the console log and a rootfs image in fd sets.
 */
static void
test_qemu_fds_real(void)
{
	char tmp[] = "/tmp/t_core-fds.XXXXXX";
	_cleanup_free_ char *qmp = NULL, *agent = NULL, *log = NULL;
	_cleanup_free_ char *img = NULL, *pidf = NULL;
	struct core_vm_opts o = { .accel = "tcg", .kernel = "-", .initrd = "-" };
	struct err err;
	char **argv, **v;
	int rc, fds[4], i;

	if (system("command -v qemu-system-x86_64 >/dev/null 2>&1") != 0 ||
	    mkdtemp(tmp) == NULL) {
		skip(1, "no qemu-system-x86_64");
		return;
	}
	qmp = xasprintf("%s/qmp.sock", tmp);
	agent = xasprintf("%s/agent.sock", tmp);
	log = xasprintf("%s/console.log", tmp);
	img = xasprintf("%s/rootfs.img", tmp);
	pidf = xasprintf("%s/qemu.pid", tmp);
	fds[0] = unix_listen(agent, 1, &err);
	fds[1] = unix_listen(qmp, 1, &err);
	fds[2] = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	close(open(img, O_WRONLY | O_CREAT | O_TRUNC, 0600));
	(void)truncate(img, 1 << 20);
	fds[3] = open(img, O_RDONLY);
	for (i = 0; i < 4; i++)
		(void)fcntl(fds[i], F_SETFD, 0);
	o.agent_fd = fds[0];
	o.qmp_fd = fds[1];
	o.console_fd = fds[2];
	o.rootfs_fd = fds[3];
	o.rootfs_image = img;
	argv = core_qemu_argv(&o);
	v = qemu_parse_only_argv(argv, pidf);
	rc = qemu_daemonize(v);
	for (i = 0; i < 4; i++)
		close(fds[i]);
	ok(rc == 0 && qmp_quit(qmp), "qemu fds: real QEMU serves QMP on the "
	    "socket it inherited, with the console and rootfs in fd sets "
	    "(exit %d)", rc);
	free(v);
	core_argv_free(argv);
	unlink(qmp);
	unlink(agent);
	unlink(log);
	unlink(img);
	unlink(pidf);
	rmdir(tmp);
}

/* A well-formed GetMetrics answer, then each way a guest can lie. */
static void
test_metrics(void)
{
	Kiln__Agent__V1__MetricsResponse r =
	    KILN__AGENT__V1__METRICS_RESPONSE__INIT;
	Kiln__Agent__V1__ContainerMetrics c =
	    KILN__AGENT__V1__CONTAINER_METRICS__INIT, *cp = &c;
	Kiln__Agent__V1__OomVictim v = KILN__AGENT__V1__OOM_VICTIM__INIT,
	    *vp = &v;
	Kiln__Agent__V1__MissingSource miss =
	    KILN__AGENT__V1__MISSING_SOURCE__INIT, *missp = &miss;
	uint64_t buckets[CORE_METRICS_BUCKETS] = { 0 };
	uint64_t blk[CORE_METRICS_BUCKETS] = { 0 };
	struct err err = { 0 };
	struct buf b;
	FILE *f;

	blk[23] = 2;		/* the last bucket: past 2^22 us */
	buckets[3] = 5;
	buckets[12] = 7;
	c.container_id = (char *)"web";
	c.cpu_usage_usec = 1500000;
	c.n_runq_buckets = c.n_blkio_buckets = CORE_METRICS_BUCKETS;
	c.runq_buckets = buckets;
	c.blkio_buckets = blk;
	c.blkio_read_bytes = 4096;
	c.runq_count = 12;
	c.runq_sum_ns = 30000000;
	v.comm = (char *)"stress";
	c.n_oom_victims = 1;
	c.oom_victims = &vp;
	r.n_containers = 1;
	r.containers = &cp;
	r.runq_buckets = CORE_METRICS_BUCKETS;
	ok(core_metrics_check(&r, "web", &err) == 0, "metrics: a sane "
	    "answer passes (%s)", err.msg);
	ok(core_metrics_check(&r, "db", &err) < 0, "metrics: another "
	    "container than asked is refused (%s)", err.msg);
	c.n_runq_buckets = 23;
	ok(core_metrics_check(&r, "", &err) < 0, "metrics: a short "
	    "histogram is refused (%s)", err.msg);
	c.n_runq_buckets = CORE_METRICS_BUCKETS;
	c.n_blkio_buckets = 0;
	ok(core_metrics_check(&r, "", &err) < 0, "metrics: a block I/O "
	    "histogram without buckets is refused (%s)", err.msg);
	c.n_blkio_buckets = CORE_METRICS_BUCKETS;
	r.runq_buckets = 1000;
	ok(core_metrics_check(&r, "", &err) < 0, "metrics: 1000 buckets "
	    "refused (%s)", err.msg);
	r.runq_buckets = CORE_METRICS_BUCKETS;
	r.n_containers = 65;
	ok(core_metrics_check(&r, "", &err) < 0, "metrics: 65 containers "
	    "refused (%s)", err.msg);
	r.n_containers = 1;
	c.container_id = (char *)"a\"}\nevil 1";
	ok(core_metrics_check(&r, "", &err) < 0, "metrics: a label-breaking "
	    "container id is refused (%s)", err.msg);
	c.container_id = (char *)"web";
	v.comm = (char *)"bad\ncomm";
	ok(core_metrics_check(&r, "", &err) < 0, "metrics: a victim comm "
	    "with a newline is refused (%s)", err.msg);
	v.comm = (char *)"stress";
	c.n_oom_victims = 5;
	ok(core_metrics_check(&r, "", &err) < 0, "metrics: 5 OOM victims "
	    "refused (%s)", err.msg);
	c.n_oom_victims = 1;
	miss.source = (char *)"bpf";
	miss.reason = (char *)"not loaded yet";
	r.n_missing = 1;
	r.missing = &missp;
	buf_init(&b);
	core_metrics_prom(&b, "default", "web", &r);
	f = fopen("build/t_core-metrics.prom", "w");
	if (f != NULL) {
		fwrite(buf_head(&b), 1, b.len, f);
		fclose(f);
	}
	buf_fini(&b);
	ok(system("/usr/bin/python3 -c 'import sys\n"
	    "from prometheus_client.parser import "
	    "text_string_to_metric_families as p\n"
	    "fs = {f.name: f for f in p(open(sys.argv[1]).read())}\n"
	    "h = fs[\"kiln_container_runqueue_latency_seconds\"]\n"
	    "assert fs[\"kiln_container_cpu_seconds\"].samples[0].value == 1.5\n"
	    "assert [s.value for s in h.samples if s.name.endswith"
	    "(\"_count\")] == [12]\n"
	    "assert len([s for s in h.samples if s.name.endswith"
	    "(\"_bucket\")]) == 24\n"
	    "k = {s.labels.get(\"le\"): s.value for s in "
	    "fs[\"kiln_container_blkio_latency_seconds\"].samples}\n"
	    "assert k[\"+Inf\"] == 2 and k[None] == 2 and k[\"4.194304\"] == 0, k\n"
	    "assert fs[\"kiln_container_blkio_read_bytes\"].samples[0].value"
	    " == 4096\n"
	    "m = fs[\"kiln_metrics_source_missing\"].samples[0].labels\n"
	    "assert m == {\"namespace\": \"default\", \"container\": "
	    "\"web\", \"source\": \"bpf\"}, m' build/t_core-metrics.prom")
	    == 0, "metrics: Prometheus text parses with prometheus_client, "
	    "missing sources per container");
}

/* Stats: zero cgroup fields take the eBPF values; the rest stay. */
static void
test_stats_fill(void)
{
	Io__Containerd__Cgroups__V2__Metrics m =
	    IO__CONTAINERD__CGROUPS__V2__METRICS__INIT;
	Io__Containerd__Cgroups__V2__MemoryStat mem =
	    IO__CONTAINERD__CGROUPS__V2__MEMORY_STAT__INIT;
	struct core_bpf_values v = { 2500000000ull, 77, 1, 4096 };
	struct core_metrics_fill fill;

	mem.usage = 8192;
	m.memory = &mem;
	core_metrics_fill(&m, &v, &fill);
	ok(m.cpu != NULL && m.cpu->usage_usec == 2500000, "stats: no cpu "
	    "block: usage_usec from eBPF on-CPU time");
	ok(mem.pgfault == 77 && mem.usage == 8192, "stats: pgfault filled, "
	    "the cgroup's memory.current kept");
	ok(m.memory_events != NULL && m.memory_events->oom_kill == 1,
	    "stats: oom_kill from eBPF");
	core_metrics_unfill(&m, &fill);
	ok(m.cpu == NULL && m.memory_events == NULL && m.memory == &mem,
	    "stats: what fill added is detached before the free");
	mem.pgfault = 5;
	core_metrics_fill(&m, &v, &fill);
	ok(mem.pgfault == 5, "stats: a cgroup value wins over eBPF");
	core_metrics_unfill(&m, &fill);
}

/* The shim's own series: histograms, dispatch counts, VM size. */
static void
test_shim_prom(void)
{
	struct core_stats st = { 0 };
	struct core_vm_size size = { .vcpus = 2, .mem_mib = 512 };
	struct fsm_trace_rec rec = { 0 };
	struct buf b;
	FILE *f;

	hist_add(&st.agent, 3000000);		/* 3 ms */
	hist_add(&st.agent, 100000000000ull);	/* 100 s: +Inf only */
	hist_add(&st.qmp, 10000);
	rec.def = &task_fsm_def;
	rec.event = TASK_EV_CREATE;
	rec.result = FSM_RES_OK;
	core_stats_fsm(&st, &rec);
	core_stats_fsm(&st, &rec);
	rec.def = &vm_fsm_def;
	rec.event = VM_EV_SPAWN;
	rec.result = FSM_RES_REJECTED;
	core_stats_fsm(&st, &rec);
	ok(st.nfsm == 2, "shim metrics: dispatches counted per machine");
	buf_init(&b);
	core_stats_prom(&b, "default", "web", &st, &size);
	f = fopen("build/t_core-shim.prom", "w");
	if (f != NULL) {
		fwrite(buf_head(&b), 1, b.len, f);
		fclose(f);
	}
	buf_fini(&b);
	core_stats_fini(&st);
	ok(system("/usr/bin/python3 -c 'import sys\n"
	    "from prometheus_client.parser import "
	    "text_string_to_metric_families as p\n"
	    "fs = {f.name: f for f in p(open(sys.argv[1]).read())}\n"
	    "a = fs[\"kiln_shim_agent_call_seconds\"].samples\n"
	    "c = [s.value for s in a if s.name.endswith(\"_count\")]\n"
	    "b = [s.value for s in a if s.labels.get(\"le\") == \"0.004096\"]\n"
	    "assert c == [2] and b == [1], (c, b)\n"
	    "t = fs[\"kiln_shim_fsm_transitions\"].samples\n"
	    "d = {(s.labels[\"machine\"], s.labels[\"event\"], "
	    "s.labels[\"result\"]): s.value for s in t}\n"
	    "assert d == {(\"task\", \"CREATE\", \"ok\"): 2, "
	    "(\"vm\", \"SPAWN\", \"rejected\"): 1}, d\n"
	    "assert fs[\"kiln_vm_memory_bytes\"].samples[0].value == 512 << 20\n"
	    "' build/t_core-shim.prom") == 0,
	    "shim metrics: histograms, dispatch counts and VM size parse "
	    "with prometheus_client");
}

/* A bad exposition: refused, with the parser's word on why. */
static void
prom_bad(const char *text, const char *what)
{
	struct core_prom p;
	struct err err = { 0 };
	int r = core_prom_parse(&p, text, strlen(text), &err);

	ok(r < 0, "prom: %s is refused (%s)", what, err.msg);
	core_prom_fini(&p);
}

/* The kiln command's reader: our own text back, merged, and lies. */
static void
test_prom_parse(void)
{
	const char *a = "# HELP x_total X.\n# TYPE x_total counter\n"
	    "x_total{namespace=\"default\",container=\"a\"} 1\n"
	    "# HELP h H.\n# TYPE h histogram\n"
	    "h_bucket{container=\"a\",le=\"0.5\"} 2\n"
	    "h_bucket{container=\"a\",le=\"+Inf\"} 3\n"
	    "h_sum{container=\"a\"} 1.5\nh_count{container=\"a\"} 3\n";
	const char *b = "# HELP x_total X.\n# TYPE x_total counter\n"
	    "x_total{namespace=\"default\",container=\"b\"} 2.5e3\n";
	struct core_prom pa, pb;
	const struct core_prom *both[2] = { &pa, &pb };
	const struct core_prom_family *f;
	struct err err = { 0 };
	char v[32] = "";
	struct buf out;
	FILE *fp;

	ok(core_prom_parse(&pa, a, strlen(a), &err) == 0 &&
	    core_prom_parse(&pb, b, strlen(b), &err) == 0, "prom: our text "
	    "parses (%s)", err.msg);
	f = core_prom_family(&pa, "h");
	ok(f != NULL && f->ns == 4 && f->s[1].value == 3 && f->s[2].value == 1.5 &&
	    core_prom_label(f->s[0].labels, "le", v, sizeof v) &&
	    strcmp(v, "0.5") == 0, "prom: a histogram is one family, le "
	    "read back (%s)", v);
	buf_init(&out);
	core_prom_merge(&out, both, 2);
	fp = fopen("build/t_core-merged.prom", "w");
	if (fp != NULL) {
		fwrite(buf_head(&out), 1, buf_used(&out), fp);
		fclose(fp);
	}
	buf_fini(&out);
	core_prom_fini(&pa);
	core_prom_fini(&pb);
	ok(system("/usr/bin/python3 -c 'import sys\n"
	    "from prometheus_client.parser import "
	    "text_string_to_metric_families as p\n"
	    "fs = list(p(open(sys.argv[1]).read()))\n"
	    "assert [f.name for f in fs] == [\"x\", \"h\"], fs\n"
	    "assert [s.value for s in fs[0].samples] == [1, 2500]\n"
	    "' build/t_core-merged.prom") == 0, "prom: two expositions "
	    "merge into one family each (prometheus_client agrees)");
	prom_bad("x 1", "a last line without newline");
	prom_bad("x{a=\"b\\\"\"} 1\n", "an escaped label value");
	prom_bad("x{a=\"b\"\n", "an unclosed label set");
	prom_bad("9x 1\n", "a name starting with a digit");
	prom_bad("x abc\n", "a value that is not a number");
	prom_bad("# TYPE x bogus\n", "an unknown type");
	prom_bad("x{a=b} 1\n", "an unquoted label value");
}

/* A sample 5 s after the last, the guest's counters as given. */
static struct scaler_sample
sc_next(const struct scaler_sample *prev, double util, unsigned n,
    double cpu_psi, double mem_psi, unsigned avail_pct)
{
	struct scaler_sample x = *prev;
	uint64_t dt = 5000000;

	x.t_us += dt;
	x.cpu_usec += (uint64_t)(util * (double)dt * n);
	x.cpu_some_usec += (uint64_t)(cpu_psi * (double)dt);
	x.mem_some_usec += (uint64_t)(mem_psi * (double)dt);
	x.mem_total = 512ull << 20;
	x.mem_avail = x.mem_total * avail_pct / 100;
	return x;
}

/* n samples in a row; true when the last one decided to scale. */
static bool
sc_run(const struct scaler_policy *p, struct scaler_streaks *st,
    struct scaler_sample *x, int n, double util, unsigned vcpus,
    double cpu_psi, unsigned mem, double mem_psi, unsigned avail_pct,
    struct scaler_decision *d)
{
	struct scaler_sample y;
	bool scale = false;
	int i;

	for (i = 0; i < n; i++) {
		y = sc_next(x, util, vcpus, cpu_psi, mem_psi, avail_pct);
		scale = scaler_decide(p, st, x, &y, vcpus, mem, d);
		*x = y;
	}
	return scale;
}

static void
test_scaler_policy(void)
{
	struct scaler_policy p = { 1, 4, 256, 1024, 2, 6 };
	struct scaler_streaks st = { 0 };
	struct scaler_sample x = { .mem_total = 512ull << 20,
	    .mem_avail = 256ull << 20 };
	struct scaler_decision d = { .why = "" };
	bool r;

	r = sc_run(&p, &st, &x, 1, 1.0, 1, 0.9, 256, 0, 40, &d);
	ok(!r, "scaler: one hot sample is not enough (%s)", d.why);
	r = sc_run(&p, &st, &x, 1, 1.0, 1, 0.9, 256, 0, 40, &d);
	ok(r && d.to_vcpus == 2 && d.to_mem == 256, "scaler: two hot samples "
	    "(busy, tasks waiting): 1 -> %u vCPUs (%s)", d.to_vcpus, d.why);
	memset(&st, 0, sizeof st);
	r = sc_run(&p, &st, &x, 4, 1.0, 1, 0.0, 256, 0, 40, &d);
	ok(!r, "scaler: one busy thread alone (no one waits) adds nothing");
	r = sc_run(&p, &st, &x, 4, 1.0, 4, 0.9, 256, 0, 40, &d);
	ok(!r, "scaler: never above the cap (4 vCPUs)");
	memset(&st, 0, sizeof st);
	r = sc_run(&p, &st, &x, 5, 0.1, 2, 0.0, 256, 0, 40, &d);
	ok(!r, "scaler: five cold samples are not enough");
	r = sc_run(&p, &st, &x, 1, 0.1, 2, 0.0, 256, 0, 40, &d);
	ok(r && d.to_vcpus == 1, "scaler: the sixth: 2 -> %u vCPUs (%s)",
	    d.to_vcpus, d.why);
	r = sc_run(&p, &st, &x, 8, 0.0, 1, 0.0, 256, 0, 40, &d);
	ok(!r, "scaler: never below the boot size (1 vCPU)");
	memset(&st, 0, sizeof st);
	r = sc_run(&p, &st, &x, 8, 0.1, 2, 0.6, 256, 0, 40, &d);
	ok(!r, "scaler: little used but tasks waiting: not cold (%s)", d.why);
	memset(&st, 0, sizeof st);
	r = sc_run(&p, &st, &x, 2, 0.3, 1, 0.0, 256, 0.2, 40, &d);
	ok(r && d.to_mem == 384, "scaler: memory stalls: 256 -> %u MiB (%s)",
	    d.to_mem, d.why);
	memset(&st, 0, sizeof st);
	r = sc_run(&p, &st, &x, 2, 0.3, 1, 0.0, 1000, 0, 10, &d);
	ok(r && d.to_mem == 1024, "scaler: low on memory near the cap: "
	    "1000 -> %u MiB", d.to_mem);
	memset(&st, 0, sizeof st);
	r = sc_run(&p, &st, &x, 2, 0.3, 1, 0.0, 256, 0.2, 0, &d);
	ok(!r && strstr(d.why, "refused") != NULL, "scaler: no room for the "
	    "memory map: %s", d.why);
	memset(&st, 0, sizeof st);
	r = sc_run(&p, &st, &x, 6, 0.3, 1, 0.0, 512, 0, 80, &d);
	ok(r && d.to_mem == 384, "scaler: plenty free: 512 -> %u MiB",
	    d.to_mem);
	memset(&st, 0, sizeof st);
	r = sc_run(&p, &st, &x, 12, 0.3, 1, 0.0, 256, 0, 90, &d);
	ok(!r, "scaler: never below the boot memory (256 MiB)");
}

int
main(void)
{
	struct err err = { 0 };

	log_init("t_core", LOG_LVL_ERROR, 2);
	test_args();
	test_config();
	test_qemu();
	test_qemu_snapshot();
	test_tmpl();
	test_qemu_escape();
	test_qemu_escape_real();
	test_qemu_fds_real();
	test_metrics();
	test_scaler_policy();
	test_stats_fill();
	test_shim_prom();
	test_prom_parse();
	ok(fsm_check(&task_fsm_def, &err) == 0, "task table passes fsm_check "
	    "(%s)", err.msg);
	ok(fsm_check(&vm_fsm_def, &err) == 0, "vm table passes fsm_check");
	ok(fsm_check(&tmpl_fsm_def, &err) == 0, "template table passes "
	    "fsm_check (%s)", err.msg);
	return tap_done();
}

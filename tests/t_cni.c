/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CNI runner against Debian's real plugins (bridge + host-local from
 * /usr/lib/cni) and fake ones (shell scripts this test writes): ADD puts
 * an address on eth0 of a "container" netns, the cache entry is in
 * libcni's layout, CHECK passes, DEL releases the lease and the entry,
 * DEL from the cache alone works (new attachment, then the blocking
 * cni_del_cached in a child process) and is idempotent; a plugin's error
 * JSON, garbage output, output over the bound and a plugin that never
 * answers (killed at its deadline with its children) give clear errors
 * naming plugin and network; a chain whose second plugin fails rolls the
 * first back. Plus the result parser over good and hostile documents and
 * the machine's table.
 *
 * Isolation: the process first moves into network and mount namespaces of
 * its own (sysfs remounted there), so the bridge and veths it makes vanish
 * with it; the host's namespace is never touched and no packet leaves.
 * Waits are event-driven with a deadline; nothing sleeps.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "cni/cni_int.h"
#include "tests/tap.h"

#define NET	"kilntest"
#define CID	"kiln-t1"
#define SUBNET	"10.88.77.0/24"

static char	 tmp[64];
static char	 netns[128];
static char	 bins[256];
static char	 cache[128];
static char	 ipam[128];
static char	 self[4096];	/* this binary, for del-cached */

struct ctx {
	struct reactor	*r;
	struct fsm_env	*env;
	bool		 done;
	bool		 failed;
	bool		 deadline;
	struct err	 err;
};

static void
done_cb(struct cni_attach *a, const struct err *result, void *arg)
{
	struct ctx *c = arg;

	(void)a;
	c->done = true;
	c->failed = result != NULL;
	if (result != NULL)
		c->err = *result;
	else
		err_clear(&c->err);
	reactor_stop(c->r);
}

static void
deadline_cb(void *arg)
{
	struct ctx *c = arg;

	c->deadline = true;
	reactor_stop(c->r);
}

/* Run the loop until on_done or 30 s pass; true if on_done ran. */
static bool
wait_done(struct ctx *c)
{
	struct reactor_timer *t = reactor_timer_new(c->r, deadline_cb, c);

	c->deadline = false;
	reactor_timer_start(t, 30000, false);
	while (!c->done && !c->deadline)
		reactor_run(c->r);
	reactor_timer_free(t);
	return c->done;
}

/* Start op on a, wait; 0 on success, -1 with c->err on failure. */
static int
run_op(struct ctx *c, struct cni_attach *a,
    int (*op)(struct cni_attach *, struct err *))
{
	c->done = c->failed = false;
	err_clear(&c->err);
	if (op(a, &c->err) < 0)
		return -1;
	if (!wait_done(c)) {
		err_set(&c->err, ERR_TIMEOUT, "test: no on_done within 30 s");
		return -1;
	}
	return c->failed ? -1 : 0;
}

static struct cni_attach *
attach(struct ctx *c, const char *conflist, const char *id, uint64_t ms)
{
	struct cni_opts o = { .conflist_json = conflist, .network = NULL,
	    .container_id = id, .netns = netns, .ifname = "eth0",
	    .bin_dirs = bins, .cache_dir = cache, .timeout_ms = ms,
	    .cni_args = "IgnoreUnknown=1", .capability_args = "{\"mac\":"
	    "\"02:00:00:00:00:01\"}", .on_done = done_cb, .arg = c };
	struct err err;
	struct cni_attach *a = cni_attach_new(c->r, c->env, &o, &err);

	if (a == NULL)
		diag("cni_attach_new: %s", err.msg);
	return a;
}

/* ---- namespaces and files --------------------------------------------- */

static int
write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	int ret;

	if (fd < 0)
		return -1;
	ret = write_all(fd, text, strlen(text));
	close(fd);
	return ret;
}

static int
lo_up(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = -1;

	if (s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		ret = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	if (s >= 0)
		close(s);
	return ret;
}

/* Our own net and mount namespaces, sysfs showing our devices. */
static int
isolate(void)
{
	if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0)
		return -1;
	if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0)
		return -1;
	(void)umount2("/sys", MNT_DETACH);
	if (mount("sysfs", "/sys", "sysfs", 0, NULL) < 0)
		return -1;
	return lo_up();
}

/* The "container": a child's fresh netns, bind-mounted onto a file. */
static int
make_netns(void)
{
	char src[64], b;
	int p[2], q[2], status, ret = -1;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0 || pipe2(q, O_CLOEXEC) < 0)
		return -1;
	if ((pid = fork()) == 0) {
		/* Our copy of q's write end would keep the read below open. */
		close(q[1]);
		close(p[0]);
		b = unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
		(void)write(p[1], &b, 1);
		(void)read(q[0], &b, 1);
		_exit(0);
	}
	close(p[1]);
	close(q[0]);
	if (read(p[0], &b, 1) == 1 && b == 'y' &&
	    write_file(netns, "", 0600) == 0) {
		snprintf(src, sizeof src, "/proc/%d/ns/net", (int)pid);
		ret = mount(src, netns, "none", MS_BIND, NULL);
	}
	close(q[1]);
	close(p[0]);
	waitpid(pid, &status, 0);
	return ret;
}

static const char *fake_fail =
    "#!/bin/sh\ncat >/dev/null\n[ \"$CNI_COMMAND\" = DEL ] && exit 0\n"
    "echo '{\"cniVersion\":\"1.0.0\",\"code\":7,\"msg\":\"no pasaran\","
    "\"details\":\"fake plugin\"}'\nexit 1\n";
static const char *fake_garbage =
    "#!/bin/sh\ncat >/dev/null\n[ \"$CNI_COMMAND\" = DEL ] && exit 0\n"
    "echo 'this is { not json'\n";
static const char *fake_chatty =
    "#!/bin/sh\ncat >/dev/null\n[ \"$CNI_COMMAND\" = DEL ] && exit 0\n"
    "head -c 3000000 /dev/zero | tr '\\0' 'x'\n";
/* Records its pid and its child's, then waits for ever (on ADD). */
static const char *fake_hang =
    "#!/bin/sh\ncat >/dev/null\n[ \"$CNI_COMMAND\" = DEL ] && exit 0\n"
    "sleep 100000 &\necho $$ $! > \"$KILN_T_PIDS\"\nwait\n";

static int
write_fakes(void)
{
	char path[256];
	const struct { const char *name, *text; } f[] = {
		{ "kiln-fail", fake_fail }, { "kiln-garbage", fake_garbage },
		{ "kiln-chatty", fake_chatty }, { "kiln-hang", fake_hang },
	};
	size_t i;

	snprintf(path, sizeof path, "%s/bin", tmp);
	if (mkdir(path, 0700) < 0)
		return -1;
	for (i = 0; i < ARRAY_SIZE(f); i++) {
		snprintf(path, sizeof path, "%s/bin/%s", tmp, f[i].name);
		if (write_file(path, f[i].text, 0700) < 0)
			return -1;
	}
	snprintf(bins, sizeof bins, "%s/bin:/usr/lib/cni", tmp);
	return 0;
}

/* bridge + host-local, then extra plugins (a JSON fragment or ""). */
static char *
conflist(const char *name, const char *extra)
{
	return xasprintf("{\"cniVersion\":\"1.0.0\",\"name\":\"%s\","
	    "\"plugins\":[{\"type\":\"bridge\",\"bridge\":\"kilnbr0\","
	    "\"isGateway\":true,\"ipMasq\":false,\"ipam\":{\"type\":"
	    "\"host-local\",\"subnet\":\"" SUBNET "\",\"dataDir\":\"%s\"}}%s]}",
	    name, ipam, extra);
}

static char *
single(const char *name, const char *type)
{
	return xasprintf("{\"cniVersion\":\"0.4.0\",\"name\":\"%s\","
	    "\"plugins\":[{\"type\":\"%s\"}]}", name, type);
}

/* Addresses host-local holds for network: files named like an IPv4. */
static int
leases(const char *network)
{
	char cmd[512], line[256];
	int n = 0;
	FILE *f;

	snprintf(cmd, sizeof cmd, "ls %s/%s 2>/dev/null", ipam, network);
	if ((f = popen(cmd, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL) {
		struct in_addr in;

		line[strcspn(line, "\n")] = '\0';
		if (inet_pton(AF_INET, line, &in) == 1)
			n++;
	}
	pclose(f);
	return n;
}

/* The IPv4 addresses of eth0 inside the container netns, as text. */
static void
netns_addrs(char *out, size_t n)
{
	char cmd[512];
	size_t len;
	FILE *f;

	out[0] = '\0';
	snprintf(cmd, sizeof cmd, "nsenter --net=%s ip -4 -o addr show dev "
	    "eth0 2>&1", netns);
	if ((f = popen(cmd, "r")) == NULL)
		return;
	len = fread(out, 1, n - 1, f);
	out[len] = '\0';
	pclose(f);
}

static bool
exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* ---- the result parser ------------------------------------------------ */

struct parse_case {
	const char	*name;
	const char	*json;
	bool		 good;
	const char	*msg;		/* substring of the error */
};

#define IFACES "\"interfaces\":[{\"name\":\"eth0\",\"mac\":" \
	"\"0A:58:0a:58:4d:02\",\"sandbox\":\"/run/netns/x\"}]"

static const struct parse_case parse_cases[] = {
	{ "1.0.0 result", "{\"cniVersion\":\"1.0.0\"," IFACES ",\"ips\":[{"
	    "\"address\":\"10.88.77.2/24\",\"gateway\":\"10.88.77.1\","
	    "\"interface\":0},{\"address\":\"fd00::2/64\"}],\"routes\":[{"
	    "\"dst\":\"0.0.0.0/0\",\"gw\":\"10.88.77.1\",\"mtu\":1400,"
	    "\"advmss\":1360}],\"dns\":{\"nameservers\":[\"10.0.0.53\","
	    "\"fd00::53\"],\"domain\":\"example\",\"search\":[\"a.example\"],"
	    "\"options\":[\"ndots:2\"]}}", true, NULL },
	{ "0.4.0 result with version", "{\"cniVersion\":\"0.4.0\",\"ips\":[{"
	    "\"version\":\"4\",\"address\":\"10.1.2.3/8\"}]}", true, NULL },
	{ "version does not match", "{\"cniVersion\":\"0.4.0\",\"ips\":[{"
	    "\"version\":\"6\",\"address\":\"10.1.2.3/8\"}]}", false,
	    "ips[0].version" },
	{ "interface index outside", "{\"cniVersion\":\"1.0.0\"," IFACES
	    ",\"ips\":[{\"address\":\"10.0.0.2/24\",\"interface\":1}]}", false,
	    "ips[0].interface" },
	{ "negative interface index", "{\"cniVersion\":\"1.0.0\",\"ips\":[{"
	    "\"address\":\"10.0.0.2/24\",\"interface\":-1}]}", false,
	    "interface" },
	{ "prefix out of range", "{\"cniVersion\":\"1.0.0\",\"ips\":[{"
	    "\"address\":\"10.0.0.2/33\"}]}", false, "ips[0].address" },
	{ "no prefix", "{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":"
	    "\"10.0.0.2\"}]}", false, "address/prefix" },
	{ "garbage address", "{\"cniVersion\":\"1.0.0\",\"ips\":[{"
	    "\"address\":\"10.0.0.256/24\"}]}", false, "ips[0].address" },
	{ "gateway of the other family", "{\"cniVersion\":\"1.0.0\",\"ips\":"
	    "[{\"address\":\"10.0.0.2/24\",\"gateway\":\"fd00::1\"}]}", false,
	    "gateway" },
	{ "bad MAC", "{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":"
	    "\"eth0\",\"mac\":\"0a:58:0a:58:4d\"}]}", false, "mac" },
	{ "interface name too long", "{\"cniVersion\":\"1.0.0\","
	    "\"interfaces\":[{\"name\":\"0123456789abcdef\"}]}", false,
	    "interfaces[0].name" },
	{ "route without dst", "{\"cniVersion\":\"1.0.0\",\"routes\":[{"
	    "\"gw\":\"10.0.0.1\"}]}", false, "routes[0].dst" },
	{ "mtu out of range", "{\"cniVersion\":\"1.0.0\",\"routes\":[{"
	    "\"dst\":\"0.0.0.0/0\",\"mtu\":70000}]}", false, "mtu" },
	{ "bad nameserver", "{\"cniVersion\":\"1.0.0\",\"dns\":{"
	    "\"nameservers\":[\"ns.example\"]}}", false, "nameservers[0]" },
	{ "ips not a list", "{\"cniVersion\":\"1.0.0\",\"ips\":{}}", false,
	    "ips: wrong type" },
	{ "not an object", "[1,2,3]", false, "not a JSON object" },
	{ "truncated", "{\"cniVersion\":\"1.0.0\",\"ips\":[", false,
	    "bad JSON" },
	{ "no cniVersion", "{\"ips\":[]}", false, "cniVersion" },
	{ "NUL in a string", "{\"cniVersion\":\"1.0\\u0000\"}", false,
	    "NUL" },
};

static void
test_parser(void)
{
	struct cni_result *r;
	struct err err;
	struct buf b;
	size_t i;
	int k;

	for (i = 0; i < ARRAY_SIZE(parse_cases); i++) {
		const struct parse_case *pc = &parse_cases[i];
		int ret;

		err_clear(&err);
		ret = cni_result_parse(pc->json, strlen(pc->json), &r, &err);
		if (pc->good)
			ok(ret == 0 && r != NULL, "result: %s parses %s",
			    pc->name, err.msg);
		else
			ok(ret < 0 && r == NULL && strstr(err.msg, pc->msg) !=
			    NULL, "result: %s rejected (%s)", pc->name,
			    err.msg);
		if (i == 0 && r != NULL)
			ok(r->nips == 2 && r->ips[0].interface == 0 &&
			    r->ips[0].prefix_len == 24 && r->ips[1].family ==
			    AF_INET6 && r->ips[1].interface == -1 &&
			    strcmp(r->interfaces[0].mac, "0a:58:0a:58:4d:02")
			    == 0 && r->routes[0].mtu == 1400 &&
			    r->dns.nnameservers == 2 && strcmp(r->dns.domain,
			    "example") == 0, "result: fields read back "
			    "(mac lower-cased, v6, mtu, dns)");
		cni_result_free(r);
	}
	/* 17 ips: over the bound. */
	buf_init(&b);
	buf_append(&b, "{\"cniVersion\":\"1.0.0\",\"ips\":[", 29);
	for (k = 0; k < CNI_RESULT_MAX + 1; k++) {
		char one[64];
		int n = snprintf(one, sizeof one, "%s{\"address\":"
		    "\"10.0.0.%d/24\"}", k > 0 ? "," : "", k + 1);

		buf_append(&b, one, (size_t)n);
	}
	buf_append(&b, "]}", 2);
	ok(cni_result_parse((const char *)buf_head(&b), buf_used(&b), &r,
	    &err) < 0 && strstr(err.msg, "at most 16") != NULL, "result: 17 "
	    "ips rejected (%s)", err.msg);
	buf_fini(&b);
}

/* ---- the table -------------------------------------------------------- */

static void
test_table(void)
{
	struct fsm_explore_stats st;
	struct err err = { 0 };
	int r1 = fsm_check(&cni_fsm_def, &err);

	ok(r1 == 0, "cni: the table passes fsm_check %s", err.msg);
	r1 = fsm_explore(&cni_fsm_def, &st, &err);
	ok(r1 == 0, "cni: fsm_explore finds no violation (%llu states)",
	    (unsigned long long)st.states);
	ok(fsm_registry_find("cni") == &cni_fsm_def, "cni: the table is "
	    "registered");
}

/* ---- real plugins ----------------------------------------------------- */

static void
check_cache_entry(const char *path)
{
	struct cni_cache_entry *e = NULL;
	struct err err = { 0 };
	char raw[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, raw, sizeof raw - 1) : -1;

	if (fd >= 0)
		close(fd);
	raw[n > 0 ? n : 0] = '\0';
	ok(strstr(raw, "\"kind\":\"cniCacheV1\"") != NULL &&
	    strstr(raw, "\"containerId\":\"" CID "\"") != NULL &&
	    strstr(raw, "\"ifName\":\"eth0\"") != NULL &&
	    strstr(raw, "\"networkName\":\"" NET "\"") != NULL &&
	    strstr(raw, "\"cniArgs\":[[\"IgnoreUnknown\",\"1\"]]") != NULL &&
	    strstr(raw, "\"capabilityArgs\":{") != NULL,
	    "cache: libcni's fields (kind, containerId, ifName, networkName, "
	    "cniArgs, capabilityArgs)");
	ok(cni_cache_read(path, &e, &err) == 0 && e != NULL &&
	    e->result != NULL && strstr(e->config, "host-local") != NULL,
	    "cache: config (base64) and result read back %s", err.msg);
	cni_cache_entry_free(e);
}

static void
test_add_check_del(struct ctx *c)
{
	char *cl = conflist(NET, "");
	struct cni_attach *a = attach(c, cl, CID, 20000);
	const struct cni_result *res;
	struct cni_cache_ref *refs = NULL;
	char addrs[4096], want[64], lease[256];
	struct err err;
	size_t n = 0;
	int ret;

	ret = a != NULL ? run_op(c, a, cni_attach_add) : -1;
	if (!ok(ret == 0, "ADD bridge+host-local succeeds %s", c->err.msg)) {
		cni_attach_free(a);
		free(cl);
		return;
	}
	res = cni_attach_result(a);
	ok(res != NULL && res->nips == 1 && res->ips[0].family == AF_INET &&
	    strncmp(res->ips[0].address, "10.88.77.", 9) == 0 &&
	    res->ips[0].prefix_len == 24 && res->ips[0].interface >= 0 &&
	    strcmp(res->interfaces[res->ips[0].interface].name, "eth0") == 0 &&
	    strcmp(res->interfaces[res->ips[0].interface].sandbox, netns) == 0,
	    "ADD result: 10.88.77.x/24 on eth0 in the container netns (%s)",
	    res != NULL && res->nips > 0 ? res->ips[0].address : "none");
	is_str(cni_attach_state(a), "ATTACHED", "state ATTACHED after ADD");
	netns_addrs(addrs, sizeof addrs);
	snprintf(want, sizeof want, "inet %s/24", res->ips[0].address);
	ok(strstr(addrs, want) != NULL, "eth0 in the netns has %s", want);
	snprintf(lease, sizeof lease, "%s/%s/%s", ipam, NET,
	    res->ips[0].address);
	ok(exists(lease), "host-local holds the lease %s", lease);
	ok(strstr(cni_attach_cache_path(a), "/cache/" NET "-" CID "-eth0") !=
	    NULL && exists(cni_attach_cache_path(a)), "cache entry at "
	    "<cache>/<network>-<id>-<ifname>");
	check_cache_entry(cni_attach_cache_path(a));
	ret = cni_cache_list(cache, CID, &refs, &n, &err);
	ok(ret == 0 && n == 1 &&
	    strcmp(refs[0].network, NET) == 0 && strcmp(refs[0].ifname,
	    "eth0") == 0, "cache list of " CID ": one entry (%zu)", n);
	free(refs);
	ok(cni_attach_add(a, &err) < 0 && err.code == ERR_UNHANDLED,
	    "second ADD refused at once: %s", err.msg);

	ret = run_op(c, a, cni_attach_check);
	ok(ret == 0, "CHECK succeeds %s", c->err.msg);
	is_str(cni_attach_state(a), "ATTACHED", "state ATTACHED after CHECK");

	ret = run_op(c, a, cni_attach_del);
	ok(ret == 0, "DEL succeeds %s", c->err.msg);
	is_str(cni_attach_state(a), "DETACHED", "state DETACHED after DEL");
	ok(!exists(lease) && leases(NET) == 0, "DEL released the lease");
	ok(!exists(cni_attach_cache_path(a)), "DEL removed the cache entry");
	netns_addrs(addrs, sizeof addrs);
	ok(strstr(addrs, "10.88.77.") == NULL, "eth0 is gone from the netns");
	ret = run_op(c, a, cni_attach_del);
	ok(ret == 0, "DEL again on the detached attachment succeeds");
	cni_attach_free(a);
	free(cl);
}

/*
 * The blocking DEL in a fresh process, as the shim's delete action runs
 * it: this binary again (main's "del-cached" mode), not a fork, so it has
 * a reactor of its own and nothing of ours.
 */
static int
del_cached_in_child(void)
{
	char *argv[] = { "t_cni", "del-cached", tmp, NULL };
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		execv(self, argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* main's del-cached mode: DEL of NET/CID/eth0 from dir's cache. */
static int
del_cached_main(const char *dir)
{
	char c[256], b[512];
	struct err err;

	log_init("t_cni", LOG_LVL_ERROR, 2);
	snprintf(c, sizeof c, "%s/cache", dir);
	snprintf(b, sizeof b, "%s/bin:/usr/lib/cni", dir);
	if (cni_del_cached(c, NET, CID, "eth0", b, 10000, &err) < 0) {
		fprintf(stderr, "cni_del_cached: %s\n", err.msg);
		return 1;
	}
	return 0;
}

static void
test_del_from_cache(struct ctx *c)
{
	char *cl = conflist(NET, "");
	struct cni_attach *a = attach(c, cl, CID, 20000);
	struct cni_opts o = { .network = NET, .container_id = CID,
	    .ifname = "eth0", .bin_dirs = bins, .cache_dir = cache,
	    .timeout_ms = 20000, .on_done = done_cb, .arg = c };
	char path[256];
	struct err err;
	int ret;

	ret = a != NULL ? run_op(c, a, cni_attach_add) : -1;
	ok(ret == 0 && leases(NET) == 1, "ADD again: one lease %s",
	    c->err.msg);
	str_copy(path, a != NULL ? cni_attach_cache_path(a) : "", sizeof path);
	/* A crash: the attachment and its config are gone. */
	cni_attach_free(a);
	free(cl);
	a = cni_attach_new(c->r, c->env, &o, &err);
	ok(a != NULL && cni_attach_result(a) != NULL, "attachment from the "
	    "cache alone has the cached result");
	ret = a != NULL ? run_op(c, a, cni_attach_check) : -1;
	ok(ret == 0, "CHECK from the cache succeeds %s", c->err.msg);
	ret = a != NULL ? run_op(c, a, cni_attach_del) : -1;
	ok(ret == 0 && leases(NET) == 0 && !exists(path), "DEL from the "
	    "cache: lease released, entry removed %s", c->err.msg);
	cni_attach_free(a);
	ok(del_cached_in_child() == 0, "cni_del_cached with no entry left: "
	    "success (DEL is idempotent)");
	a = cni_attach_new(c->r, c->env, &o, &err);
	ret = a != NULL ? run_op(c, a, cni_attach_del) : -1;
	ok(ret == 0 && a != NULL && strcmp(cni_attach_state(a), "DETACHED") ==
	    0, "DEL of a missing entry by a new attachment: success");
	ok(a != NULL && cni_attach_check(a, &err) < 0, "CHECK without a "
	    "config is refused: %s", err.msg);
	cni_attach_free(a);
}

static void
test_blocking_del(struct ctx *c)
{
	char *cl = conflist(NET, "");
	struct cni_attach *a = attach(c, cl, CID, 20000);
	int ret = a != NULL ? run_op(c, a, cni_attach_add) : -1;

	cni_attach_free(a);
	free(cl);
	ok(ret == 0 && leases(NET) == 1, "ADD, then the attachment dropped");
	ok(del_cached_in_child() == 0 && leases(NET) == 0, "cni_del_cached "
	    "in another process released the lease");
}

/* ---- failures --------------------------------------------------------- */

static void
test_plugin_error(struct ctx *c)
{
	char *cl = single("kilnfail", "kiln-fail");
	struct cni_attach *a = attach(c, cl, "kiln-f1", 10000);
	int ret = a != NULL ? run_op(c, a, cni_attach_add) : -1;

	ok(ret < 0 && strstr(c->err.msg, "cni kilnfail: plugin kiln-fail ADD: "
	    "no pasaran (code 7): fake plugin") != NULL,
	    "error JSON: %s", c->err.msg);
	is_str(a != NULL ? cni_attach_state(a) : "", "FAILED", "state FAILED "
	    "after a failed ADD");
	ok(a != NULL && !exists(cni_attach_cache_path(a)), "no cache entry "
	    "after a failed ADD");
	cni_attach_free(a);
	free(cl);
}

static void
test_garbage(struct ctx *c)
{
	char *cl = single("kilngarbage", "kiln-garbage");
	struct cni_attach *a = attach(c, cl, "kiln-g1", 10000);
	int ret = a != NULL ? run_op(c, a, cni_attach_add) : -1;

	ok(ret < 0 && strstr(c->err.msg, "cni kilngarbage: plugin kiln-garbage "
	    "ADD: output is not JSON") != NULL, "garbage output: %s",
	    c->err.msg);
	cni_attach_free(a);
	free(cl);
	cl = single("kilnchatty", "kiln-chatty");
	a = attach(c, cl, "kiln-c1", 10000);
	ret = a != NULL ? run_op(c, a, cni_attach_add) : -1;
	ok(ret < 0 && strstr(c->err.msg, "plugin kiln-chatty ADD: more than")
	    != NULL, "output over 1 MiB: %s", c->err.msg);
	cni_attach_free(a);
	free(cl);
	cl = single("kilnmissing", "kiln-nonesuch");
	a = attach(c, cl, "kiln-m1", 10000);
	ret = a != NULL ? run_op(c, a, cni_attach_add) : -1;
	ok(ret < 0 && strstr(c->err.msg, "plugin kiln-nonesuch ADD: not "
	    "found") != NULL, "missing plugin binary: %s", c->err.msg);
	cni_attach_free(a);
	free(cl);
}

/*
 * The plugin's own child, orphaned when the plugin died, came to us (a
 * subreaper): wait for it, bounded by an alarm. True if SIGKILL ended it.
 */
static bool
reap_orphan(pid_t pid)
{
	int status;
	pid_t p;

	alarm(10);
	do
		p = waitpid(pid, &status, 0);
	while (p < 0 && errno == EINTR);
	alarm(0);
	return p == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

static void
test_deadline(struct ctx *c)
{
	char *cl = single("kilnhang", "kiln-hang");
	char pids[256], text[64] = "";
	struct cni_attach *a;
	int sh = 0, child = 0, fd, ret, status;
	uint64_t t0;
	ssize_t n;

	snprintf(pids, sizeof pids, "%s/hang.pids", tmp);
	setenv("KILN_T_PIDS", pids, 1);
	a = attach(c, cl, "kiln-h1", 300);
	t0 = time_mono_ns();
	ret = a != NULL ? run_op(c, a, cni_attach_add) : -1;
	ok(ret < 0 && c->err.code == ERR_TIMEOUT && strstr(c->err.msg,
	    "cni kilnhang: plugin kiln-hang ADD: no answer within 300 ms") !=
	    NULL, "deadline: %s", c->err.msg);
	ok(time_mono_ns() - t0 < 5000000000ull, "the deadline error came "
	    "within 5 s");
	if ((fd = open(pids, O_RDONLY | O_CLOEXEC)) >= 0) {
		n = read(fd, text, sizeof text - 1);
		text[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	ret = sscanf(text, "%d %d", &sh, &child);
	ok(ret == 2, "the plugin wrote its pids (%d, %d)", sh, child);
	ok(sh > 0 && waitpid(sh, &status, WNOHANG) < 0 && errno == ECHILD,
	    "the plugin was reaped (no zombie)");
	ok(sh > 0 && kill(sh, 0) < 0 && errno == ESRCH, "the plugin is gone");
	ok(child > 0 && reap_orphan(child), "its child died of SIGKILL with "
	    "its group");
	cni_attach_free(a);
	free(cl);
	unsetenv("KILN_T_PIDS");
}

static void
test_rollback(struct ctx *c)
{
	char *cl = conflist(NET, ",{\"type\":\"kiln-fail\"}");
	struct cni_attach *a = attach(c, cl, "kiln-r1", 20000);
	char addrs[4096];
	int ret = a != NULL ? run_op(c, a, cni_attach_add) : -1;

	ok(ret < 0 && strstr(c->err.msg, "plugin kiln-fail ADD: no pasaran") !=
	    NULL, "second plugin fails the ADD: %s", c->err.msg);
	ok(leases(NET) == 0, "the first plugin was rolled back (no lease)");
	ok(a != NULL && !exists(cni_attach_cache_path(a)), "no cache entry "
	    "after the rollback");
	netns_addrs(addrs, sizeof addrs);
	ok(strstr(addrs, "10.88.77.") == NULL, "no address left in the netns");
	is_str(a != NULL ? cni_attach_state(a) : "", "FAILED", "state FAILED");
	ret = a != NULL ? run_op(c, a, cni_attach_del) : -1;
	ok(ret == 0, "DEL after the failed ADD succeeds %s", c->err.msg);
	cni_attach_free(a);
	free(cl);
}

static void
test_bad_config(struct ctx *c)
{
	const char *bad[] = {
		"{\"cniVersion\":\"0.3.1\",\"name\":\"x\",\"plugins\":[{"
		    "\"type\":\"bridge\"}]}",
		"{\"cniVersion\":\"1.0.0\",\"name\":\"x\",\"plugins\":[]}",
		"{\"cniVersion\":\"1.0.0\",\"name\":\"x\",\"plugins\":[{"
		    "\"type\":\"../../bin/sh\"}]}",
		"{\"cniVersion\":\"1.0.0\",\"name\":\"../x\",\"plugins\":[{"
		    "\"type\":\"bridge\"}]}",
		"not json",
	};
	struct cni_opts o = { .container_id = CID, .netns = netns,
	    .cache_dir = cache, .bin_dirs = bins, .on_done = done_cb,
	    .arg = c };
	struct cni_attach *a;
	struct err err;
	size_t i;
	int rejected = 0;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		o.conflist_json = bad[i];
		a = cni_attach_new(c->r, c->env, &o, &err);
		if (a == NULL && err.code == EINVAL)
			rejected++;
		else
			diag("accepted: %s", bad[i]);
		cni_attach_free(a);
	}
	is_int(rejected, ARRAY_SIZE(bad), "bad conflists rejected (version, "
	    "no plugins, a path as type, a path as name, not JSON)");
	o.conflist_json = NULL;
	o.container_id = "../etc";
	o.network = NET;
	ok(cni_attach_new(c->r, c->env, &o, &err) == NULL, "a container id "
	    "that is a path is rejected: %s", err.msg);
}

static void
cleanup(void)
{
	char cmd[128];

	(void)umount2(netns, MNT_DETACH);
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
	(void)system(cmd);
}

int
main(int argc, char **argv)
{
	struct ctx c = { 0 };
	struct err err;

	if (argc == 3 && strcmp(argv[1], "del-cached") == 0)
		return del_cached_main(argv[2]);
	if (realpath(argv[0], self) == NULL)
		return 1;
	log_init("t_cni", LOG_LVL_ERROR, 2);
	test_parser();
	test_table();
	if (geteuid() != 0 || isolate() < 0) {
		skip(1, "needs root for network namespaces (%s)", strerror(
		    errno));
		return tap_done();
	}
	/* Orphans of plugins come to us, so a test can wait for them. */
	(void)prctl(PR_SET_CHILD_SUBREAPER, 1);
	snprintf(tmp, sizeof tmp, "/tmp/kiln-t-cni-XXXXXX");
	if (mkdtemp(tmp) == NULL)
		return 1;
	snprintf(netns, sizeof netns, "%s/netns", tmp);
	snprintf(cache, sizeof cache, "%s/cache", tmp);
	snprintf(ipam, sizeof ipam, "%s/ipam", tmp);
	if (!ok(make_netns() == 0 && write_fakes() == 0, "container netns "
	    "and fake plugins set up") ||
	    !ok(access("/usr/lib/cni/bridge", X_OK) == 0, "Debian's CNI "
	    "plugins are installed (make deps)")) {
		cleanup();
		return tap_done();
	}
	c.r = reactor_new(&err);
	c.env = fsm_env_new();
	test_bad_config(&c);
	test_add_check_del(&c);
	test_del_from_cache(&c);
	test_blocking_del(&c);
	test_plugin_error(&c);
	test_garbage(&c);
	test_deadline(&c);
	test_rollback(&c);
	reactor_free(c.r);
	fsm_env_free(c.env);
	cleanup();
	return tap_done();
}

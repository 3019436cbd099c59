/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VM's network: its namespace and its NICs. QEMU never runs in the
 * runtime's namespace. With a namespace path in the spec (what CRI gives a
 * pod) QEMU joins it; with a network namespace but no path (ctr run, ctr
 * run --cni) kiln makes one, kept by a bind mount in the task's run dir,
 * so `ctr run --cni` runs its plugins in /proc/<QEMU>/ns/net, which is
 * ours. Whatever veth CNI leaves there is wired into the guest by a NIC
 * machine (nic_fsm.c): at Create for what exists then, at Start for what
 * CNI added between the two.
 */
#include <arpa/inet.h>
#include <linux/rtnetlink.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "core/core_int.h"

#define NET_RESOLV	"/etc/resolv.conf"
#define NET_DNS_MAX	8

static const char *
spec_netns_path(const json_t *spec, bool *wants_ns)
{
	const json_t *nss = json_object_get(json_object_get(spec, "linux"),
	    "namespaces"), *ns;
	const char *type;
	size_t i;

	*wants_ns = false;
	json_array_foreach(nss, i, ns) {
		type = json_string_value(json_object_get(ns, "type"));
		if (type == NULL || strcmp(type, "network") != 0)
			continue;
		*wants_ns = true;
		return json_string_value(json_object_get(ns, "path"));
	}
	return NULL;
}

static int
net_open_ns(struct core_net *n, struct err *err)
{
	n->nsfd = open(n->netns_path, O_RDONLY | O_CLOEXEC);
	if (n->nsfd < 0)
		return err_set(err, errno, "network namespace %s: %m",
		    n->netns_path);
	return 0;
}

struct core_net *
core_net_new(struct task *t, const json_t *spec, const char *run_dir,
    struct err *err)
{
	struct core_net *n = xcalloc(1, sizeof *n);
	const char *path;
	bool wants_ns;

	n->t = t;
	n->nsfd = -1;
	n->plugging = -1;
	path = spec_netns_path(spec, &wants_ns);
	if (path != NULL && path[0] != '/') {
		err_set(err, EINVAL, "network namespace path %s is not "
		    "absolute", path);
		goto fail;
	}
	if (path != NULL)
		n->netns_path = xstrdup(path);
	else if (wants_ns) {
		n->netns_path = xasprintf("%s/netns", run_dir);
		if (cni_netns_create(n->netns_path, err) < 0)
			goto fail;
		n->owned = true;
	}
	/* No network namespace at all: the host's network, as runc has it. */
	if (n->netns_path != NULL && net_open_ns(n, err) < 0)
		goto fail;
	return n;
fail:
	core_net_free(n);
	return NULL;
}

/* ---- finding what CNI made ---------------------------------------------- */

/* A netlink socket in the VM's namespace (the socket stays bound to it). */
static int
net_nl_open(struct core_net *n, struct cni_nl *nl, struct err *err)
{
	int old;

	if ((old = cni_netns_enter(n->nsfd, err)) < 0)
		return -1;
	if (cni_nl_open(nl, err) < 0) {
		cni_netns_leave(old, err);
		return -1;
	}
	return cni_netns_leave(old, err);
}

static bool
net_is_wired(const struct core_net *n, int ifindex)
{
	int i;

	for (i = 0; i < n->nnics; i++)
		if (n->nics[i]->veth_ifindex == ifindex)
			return true;
	return false;
}

/* What the guest should copy: global addresses of the veth. */
static void
nic_take_addrs(struct nic *nic, const struct cni_nl_addr *a, int na)
{
	int i;

	for (i = 0; i < na && nic->naddrs < NIC_MAX_ADDRS; i++) {
		if (a[i].ifindex != nic->veth_ifindex)
			continue;
		if (a[i].family == AF_INET6 && a[i].addr[0] == 0xfe &&
		    (a[i].addr[1] & 0xc0) == 0x80)
			continue;	/* link-local: the guest makes its own */
		nic->addrs[nic->naddrs++] = a[i];
	}
}

/* Routes through the veth that the kernel did not derive by itself. */
static void
nic_take_routes(struct nic *nic, const struct cni_nl_route *r, int nr)
{
	int i;

	for (i = 0; i < nr && nic->nroutes < NIC_MAX_ROUTES; i++) {
		if (r[i].oif != nic->veth_ifindex ||
		    r[i].protocol == RTPROT_KERNEL)
			continue;
		if (r[i].family == AF_INET6 && r[i].dst[0] == 0xfe)
			continue;
		nic->routes[nic->nroutes++] = r[i];
	}
}

static void
nic_timer_cb(void *arg)
{
	struct nic *nic = arg;
	struct err err;

	snprintf(nic->error, sizeof nic->error, "timed out in %s",
	    fsm_state_name(&nic_fsm_def, nic->fsm.state));
	(void)fsm_dispatch(&nic->fsm, NIC_EV_TIMEOUT, NULL, &err);
}

static struct nic *
nic_new(struct core_net *n, const struct cni_nl_link *l)
{
	struct nic *nic = xcalloc(1, sizeof *nic);
	char id[FSM_ID_MAX];

	nic->net = n;
	nic->index = n->nnics;
	nic->tap_fd = -1;
	nic->veth_ifindex = l->ifindex;
	snprintf(nic->name, sizeof nic->name, "%s", l->name);
	memcpy(nic->mac, l->mac, 6);
	nic->mtu = l->mtu;
	nic->timer = reactor_timer_new(n->t->shim->r, nic_timer_cb, nic);
	snprintf(id, sizeof id, "%s/%s", n->t->id, l->name);
	fsm_init(&nic->fsm, &nic_fsm_def, n->t->shim->env, id, nic);
	return nic;
}

static void	nic_cancel_calls(struct nic *);

static void
nic_free(struct nic *nic)
{
	nic_cancel_calls(nic);
	reactor_timer_free(nic->timer);
	close_fd(&nic->tap_fd);
	fsm_fini(&nic->fsm);
	free(nic);
}

/* Every Ethernet link but kiln's TAPs is CNI's work. */
static bool
net_link_wanted(const struct cni_nl_link *l)
{
	return l->has_mac && strncmp(l->name, "kt", 2) != 0 &&
	    strcmp(l->kind, "tun") != 0;
}

static int
net_scan(struct core_net *n, struct err *err)
{
	struct cni_nl_link links[CNI_NL_MAX_ITEMS];
	struct cni_nl_addr addrs[CNI_NL_MAX_ITEMS];
	struct cni_nl_route routes[CNI_NL_MAX_ITEMS];
	int nl_n, na, nr, i;
	struct cni_nl nl;
	int rc = -1;

	if (net_nl_open(n, &nl, err) < 0)
		return -1;
	if (cni_nl_links(&nl, links, CNI_NL_MAX_ITEMS, &nl_n, err) < 0 ||
	    cni_nl_addrs(&nl, AF_UNSPEC, addrs, CNI_NL_MAX_ITEMS, &na,
	    err) < 0 || cni_nl_routes(&nl, AF_UNSPEC, routes,
	    CNI_NL_MAX_ITEMS, &nr, err) < 0)
		goto out;
	for (i = 0; i < nl_n; i++) {
		struct nic *nic;

		if (!net_link_wanted(&links[i]) ||
		    net_is_wired(n, links[i].ifindex))
			continue;
		if (n->nnics == CORE_MAX_NICS) {
			err_set(err, ENOSPC, "interface %s: at most %d NICs "
			    "per VM", links[i].name, CORE_MAX_NICS);
			goto out;
		}
		nic = n->nics[n->nnics++] = nic_new(n, &links[i]);
		nic_take_addrs(nic, addrs, na);
		nic_take_routes(nic, routes, nr);
	}
	rc = 0;
out:
	cni_nl_close(&nl);
	return rc;
}

/* Plug the next NIC that has not been, or tell the task all are up. */
static void
net_next(struct core_net *n)
{
	int i;

	for (i = 0; i < n->nnics; i++)
		if (n->nics[i]->fsm.state == NIC_ST_NEW) {
			n->plugging = i;
			fsm_post(&n->nics[i]->fsm, NIC_EV_PLUG, NULL, 0);
			return;
		}
	n->plugging = -1;
	fsm_post(&n->t->fsm, TASK_EV_NET_READY, NULL, 0);
}

static void
net_failed(struct core_net *n, const char *why)
{
	snprintf(n->t->error, sizeof n->t->error, "network: %s", why);
	fsm_post(&n->t->fsm, TASK_EV_NET_FAILED, NULL, 0);
}

static void
net_scan_and_plug(struct core_net *n)
{
	struct err err;

	if (net_scan(n, &err) < 0)
		return net_failed(n, err.msg);
	net_next(n);
}

char *
core_net_cni_id(const char *ns, const char *id)
{
	return xasprintf("kiln-%s-%s", ns, id);
}

static void	net_cni_deleted(struct core_net *, const struct err *);

/*
 * kiln's own ADD is done: keep the result (DNS), then wire its veth. The
 * same callback ends the DEL that core_net_release starts.
 */
static void
net_cni_done_cb(struct cni_attach *a, const struct err *e, void *arg)
{
	struct core_net *n = arg;
	const struct cni_result *r;

	if (n->cni_added)
		return net_cni_deleted(n, e);
	if (e != NULL && e->code != 0)
		return net_failed(n, e->msg);
	n->cni_added = true;
	if ((r = cni_attach_result(a)) != NULL)
		n->cni_result = xmemdup(r, sizeof *r);
	net_scan_and_plug(n);
}

/*
 * With cni_conflist in the config, kiln networks the containers it made a
 * namespace for (plain ctr run): ADD now, DEL at Delete or, after a
 * crash, from the cache in the delete action.
 */
static int
net_cni_add(struct core_net *n, struct err *err)
{
	const struct core_config *cfg = &n->t->shim->cfg;
	_cleanup_free_ char *id = core_net_cni_id(n->t->shim->namespace,
	    n->t->id);
	struct cni_opts o = {
		.conflist_path = cfg->cni_conflist, .container_id = id,
		.netns = n->netns_path, .bin_dirs = cfg->cni_bin_dirs,
		.cache_dir = cfg->cni_cache_dir,
		.timeout_ms = cfg->cni_timeout_ms, .on_done = net_cni_done_cb,
		.arg = n,
	};

	n->cni = cni_attach_new(n->t->shim->r, n->t->shim->env, &o, err);
	if (n->cni == NULL)
		return -1;
	return cni_attach_add(n->cni, err);
}

void
core_net_wire(struct core_net *n)
{
	struct err err;

	if (n->nsfd < 0) {
		fsm_post(&n->t->fsm, TASK_EV_NET_READY, NULL, 0);
		return;
	}
	if (n->owned && n->t->shim->cfg.cni_conflist != NULL &&
	    n->cni == NULL) {
		if (net_cni_add(n, &err) < 0)
			net_failed(n, err.msg);
		return;
	}
	net_scan_and_plug(n);
}

static void
net_released_cb(void *arg)
{
	struct core_net *n = arg;

	if (n->released != NULL)
		n->released(n->released_arg);
}

static void
net_cni_deleted(struct core_net *n, const struct err *e)
{
	if (e != NULL && e->code != 0)
		log_warnx("task=%s cni DEL: %s", n->t->id, e->msg);
	net_released_cb(n);
}

void
core_net_release(struct core_net *n, void (*done)(void *), void *arg)
{
	struct err err;

	n->released = done;
	n->released_arg = arg;
	if (n->cni != NULL && n->cni_added &&
	    cni_attach_del(n->cni, &err) == 0)
		return;
	reactor_defer(n->t->shim->r, net_released_cb, n);
}

void
core_net_vm_gone(struct core_net *n)
{
	int i;

	if (n == NULL)
		return;
	for (i = 0; i < n->nnics; i++)
		fsm_post(&n->nics[i]->fsm, NIC_EV_VM_GONE, NULL, 0);
}

/* The veth goes back to what CNI left: no qdisc of ours on it. */
static void
net_unwire(struct core_net *n)
{
	struct cni_nl nl;
	struct err err;
	int i;

	if (n->nsfd < 0 || n->nnics == 0 || net_nl_open(n, &nl, &err) < 0)
		return;
	for (i = 0; i < n->nnics; i++)
		if (n->nics[i]->fsm.state != NIC_ST_NEW)
			(void)cni_nl_ingress_del(&nl, n->nics[i]->veth_ifindex,
			    &err);
	cni_nl_close(&nl);
}

void
core_net_free(struct core_net *n)
{
	struct err err;
	int i;

	if (n == NULL)
		return;
	net_unwire(n);
	reactor_defer_cancel(n->t->shim->r, n);
	cni_attach_free(n->cni);
	free(n->cni_result);
	for (i = 0; i < n->nnics; i++)
		nic_free(n->nics[i]);
	close_fd(&n->nsfd);
	if (n->owned && cni_netns_remove(n->netns_path, &err) < 0)
		log_warnx("%s", err.msg);
	free(n->netns_path);
	free(n);
}

/* ---- the NIC machine's actions ------------------------------------------ */

static void
nic_tap_name(const struct nic *nic, char out[IF_NAMESIZE])
{
	snprintf(out, IF_NAMESIZE, "kt%d", nic->index);
}

/* The TAP's ifindex by name, through the namespace's netlink socket. */
static int
nic_find_tap(struct nic *nic, struct cni_nl *nl, struct err *err)
{
	struct cni_nl_link links[CNI_NL_MAX_ITEMS];
	char tap[IF_NAMESIZE];
	int n, i;

	nic_tap_name(nic, tap);
	if (cni_nl_links(nl, links, CNI_NL_MAX_ITEMS, &n, err) < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (strcmp(links[i].name, tap) == 0)
			return nic->tap_ifindex = links[i].ifindex;
	return err_set(err, ENODEV, "tap %s vanished", tap);
}

/* TAP with the veth's MTU, up; ingress on both; u32 redirects both ways. */
static int
nic_make_tap(struct nic *nic, struct err *err)
{
	struct cni_nl nl;
	char tap[IF_NAMESIZE];
	int old, rc = -1;

	nic_tap_name(nic, tap);
	if ((old = cni_netns_enter(nic->net->nsfd, err)) < 0)
		return -1;
	nic->tap_fd = cni_tap_open(tap, err);
	if (nic->tap_fd >= 0 && cni_nl_open(&nl, err) == 0)
		rc = 0;
	cni_netns_leave(old, err);
	if (rc < 0)
		return -1;
	rc = -1;
	if (nic_find_tap(nic, &nl, err) >= 0 &&
	    cni_nl_link_set(&nl, nic->tap_ifindex, nic->mtu, NULL, true,
	    err) == 0 &&
	    cni_nl_ingress_add(&nl, nic->veth_ifindex, err) == 0 &&
	    cni_nl_ingress_add(&nl, nic->tap_ifindex, err) == 0 &&
	    cni_nl_redirect_add(&nl, nic->veth_ifindex, nic->tap_ifindex,
	    err) == 0 &&
	    cni_nl_redirect_add(&nl, nic->tap_ifindex, nic->veth_ifindex,
	    err) == 0)
		rc = 0;
	cni_nl_close(&nl);
	return rc;
}

static void
nic_qmp_cb(const json_t *ret, const struct err *e, void *arg)
{
	struct nic *nic = arg;
	struct err err;

	(void)ret;
	nic->qmp_id = 0;
	if (e != NULL && e->code != 0)
		snprintf(nic->error, sizeof nic->error, "%s", e->msg);
	(void)fsm_dispatch(&nic->fsm, e != NULL && e->code != 0 ?
	    NIC_EV_QMP_FAILED : NIC_EV_QMP_OK, NULL, &err);
}

static struct qmp *
nic_qmp(struct nic *nic, struct err *err)
{
	return vm_qmp_live(nic->net->t->vm, err);
}

static int
nic_qmp_call(struct nic *nic, const char *cmd, json_t *args, int fd,
    struct err *err)
{
	struct qmp *q = nic_qmp(nic, err);
	uint64_t ms = AGENT_MS(nic->net->t);

	if (q == NULL) {
		json_decref(args);
		return -1;
	}
	nic->qmp_id = fd >= 0 ? qmp_call_fd(q, cmd, args, fd, ms, nic_qmp_cb,
	    nic, err) : qmp_call(q, cmd, args, ms, nic_qmp_cb, nic, err);
	return nic->qmp_id < 0 ? -1 : 0;
}

int
nic_do_plug(struct nic *nic, struct err *err)
{
	char tap[IF_NAMESIZE];

	nic_tap_name(nic, tap);
	reactor_timer_start(nic->timer, AGENT_MS(nic->net->t), false);
	if (nic_make_tap(nic, err) < 0)
		return err_wrap(err, "nic %s", nic->name);
	fsm_detail(&nic->fsm, "veth=%d tap=%d mtu=%u", nic->veth_ifindex,
	    nic->tap_ifindex, nic->mtu);
	return nic_qmp_call(nic, "getfd", json_pack("{ss}", "fdname", tap),
	    nic->tap_fd, err);
}

int
nic_do_netdev(struct nic *nic, struct err *err)
{
	char tap[IF_NAMESIZE], id[16];

	/* QEMU holds the TAP now; it goes away with QEMU. */
	close_fd(&nic->tap_fd);
	nic_tap_name(nic, tap);
	snprintf(id, sizeof id, "net%d", nic->index);
	nic->netdev_added = true;
	return nic_qmp_call(nic, "netdev_add", json_pack("{ssssss}", "type",
	    "tap", "id", id, "fd", tap), -1, err);
}

int
nic_do_device(struct nic *nic, struct err *err)
{
	char id[16], netdev[16], bus[16], mac[18];

	snprintf(id, sizeof id, "nic%d", nic->index);
	snprintf(netdev, sizeof netdev, "net%d", nic->index);
	snprintf(bus, sizeof bus, "kiln-rp%d", nic->index);
	cni_mac_format(nic->mac, mac);
	nic->device_added = true;
	return nic_qmp_call(nic, "device_add", json_pack("{ssssssssss}",
	    "driver", "virtio-net-pci", "id", id, "netdev", netdev, "mac", mac,
	    "bus", bus), -1, err);
}

/* ---- the guest's part --------------------------------------------------- */

struct net_dns {
	char	*ns[NET_DNS_MAX], *search[NET_DNS_MAX], *opts[NET_DNS_MAX];
	size_t	 nns, nsearch, nopts;
};

static void
dns_add(char **v, size_t *n, const char *word)
{
	if (*n < NET_DNS_MAX && strlen(word) < 256)
		v[(*n)++] = xstrdup(word);
}

static void
dns_from_result(struct net_dns *d, const struct cni_result *r)
{
	size_t i;

	for (i = 0; i < r->dns.nnameservers; i++)
		dns_add(d->ns, &d->nns, r->dns.nameservers[i]);
	if (r->dns.domain[0] != '\0')
		dns_add(d->search, &d->nsearch, r->dns.domain);
	for (i = 0; i < r->dns.nsearch; i++)
		dns_add(d->search, &d->nsearch, r->dns.search[i]);
	for (i = 0; i < r->dns.noptions; i++)
		dns_add(d->opts, &d->nopts, r->dns.options[i]);
}

/* What ctr --cni cached for this container (gocni: <ns>-<id>). */
static struct cni_result *
dns_ctr_result(const struct task *t, const char *ifname)
{
	const char *dir = t->shim->cfg.cni_cache_dir;
	_cleanup_free_ char *id = xasprintf("%s-%s", t->shim->namespace,
	    t->id);
	struct cni_cache_ref *refs = NULL;
	struct cni_result *r = NULL;
	struct err err;
	size_t n = 0, i;

	if (cni_cache_list(dir, id, &refs, &n, &err) < 0)
		return NULL;
	for (i = 0; i < n && r == NULL; i++)
		if (strcmp(refs[i].ifname, ifname) == 0 &&
		    cni_cache_result(dir, refs[i].network, id, ifname, &r,
		    &err) < 0)
			r = NULL;
	free(refs);
	return r;
}

/*
 * The resolver settings: the CNI result's DNS (kiln's own ADD, or what
 * ctr --cni cached), else the host's, as runc users get from their tools.
 */
static void
dns_load(struct net_dns *d, const struct nic *nic)
{
	char line[512], *key, *w, *save;
	struct cni_result *ctr = NULL;
	FILE *f;

	memset(d, 0, sizeof *d);
	if (nic->net->cni_result != NULL)
		dns_from_result(d, nic->net->cni_result);
	else if ((ctr = dns_ctr_result(nic->net->t, nic->name)) != NULL)
		dns_from_result(d, ctr);
	cni_result_free(ctr);
	if (d->nns > 0 || (f = fopen(NET_RESOLV, "re")) == NULL)
		return;
	while (fgets(line, sizeof line, f) != NULL) {
		if ((key = strtok_r(line, " \t\n", &save)) == NULL)
			continue;
		while ((w = strtok_r(NULL, " \t\n", &save)) != NULL) {
			if (strcmp(key, "nameserver") == 0)
				dns_add(d->ns, &d->nns, w);
			else if (strcmp(key, "search") == 0 ||
			    strcmp(key, "domain") == 0)
				dns_add(d->search, &d->nsearch, w);
			else if (strcmp(key, "options") == 0)
				dns_add(d->opts, &d->nopts, w);
		}
	}
	fclose(f);
}

static void
dns_free(struct net_dns *d)
{
	size_t i;

	for (i = 0; i < d->nns; i++)
		free(d->ns[i]);
	for (i = 0; i < d->nsearch; i++)
		free(d->search[i]);
	for (i = 0; i < d->nopts; i++)
		free(d->opts[i]);
}

static size_t
addr_len(int family)
{
	return family == AF_INET6 ? 16 : 4;
}

static void
nic_agent_cb(const struct proto_reply *rep, void *arg)
{
	struct nic *nic = arg;
	struct err err;

	nic->agent_id = 0;
	if (rep->code != PROTO_OK)
		snprintf(nic->error, sizeof nic->error, "agent: %s",
		    rep->message);
	(void)fsm_dispatch(&nic->fsm, rep->code == PROTO_OK ? NIC_EV_AGENT_OK :
	    NIC_EV_AGENT_FAILED, NULL, &err);
}

int
nic_do_configure(struct nic *nic, struct err *err)
{
	Kiln__Agent__V1__NetworkConfig c = KILN__AGENT__V1__NETWORK_CONFIG__INIT;
	Kiln__Agent__V1__NetInterface ifc = KILN__AGENT__V1__NET_INTERFACE__INIT;
	Kiln__Agent__V1__DnsConfig dns = KILN__AGENT__V1__DNS_CONFIG__INIT;
	Kiln__Agent__V1__NetAddress a[NIC_MAX_ADDRS], *ap[NIC_MAX_ADDRS];
	Kiln__Agent__V1__NetRoute r[NIC_MAX_ROUTES], *rp[NIC_MAX_ROUTES];
	struct task *t = nic->net->t;
	struct net_dns d;
	int i;

	for (i = 0; i < nic->naddrs; i++) {
		kiln__agent__v1__net_address__init(&a[i]);
		a[i].address.data = nic->addrs[i].addr;
		a[i].address.len = addr_len(nic->addrs[i].family);
		a[i].prefix_len = (uint32_t)nic->addrs[i].prefix;
		ap[i] = &a[i];
	}
	for (i = 0; i < nic->nroutes; i++) {
		const struct cni_nl_route *ro = &nic->routes[i];

		kiln__agent__v1__net_route__init(&r[i]);
		r[i].destination.data = (uint8_t *)(uintptr_t)ro->dst;
		r[i].destination.len = ro->dst_len > 0 ?
		    addr_len(ro->family) : 0;
		r[i].prefix_len = (uint32_t)ro->dst_len;
		r[i].gateway.data = (uint8_t *)(uintptr_t)ro->gw;
		r[i].gateway.len = ro->has_gw ? addr_len(ro->family) : 0;
		r[i].mtu = ro->mtu;
		rp[i] = &r[i];
	}
	ifc.name = nic->name;
	ifc.mac.data = nic->mac;
	ifc.mac.len = 6;
	ifc.mtu = nic->mtu;
	ifc.addresses = ap;
	ifc.n_addresses = (size_t)nic->naddrs;
	dns_load(&d, nic);
	dns.nameservers = d.ns;
	dns.n_nameservers = d.nns;
	dns.search = d.search;
	dns.n_search = d.nsearch;
	dns.options = d.opts;
	dns.n_options = d.nopts;
	c.container_id = t->id;
	c.interface = &ifc;
	c.routes = rp;
	c.n_routes = (size_t)nic->nroutes;
	c.dns = &dns;
	c.hostname = t->hostname;
	nic->agent_id = task_agent_call(t, "ConfigureNetwork", &c.base,
	    &google__protobuf__empty__descriptor, AGENT_MS(t), nic_agent_cb,
	    nic);
	dns_free(&d);
	if (nic->agent_id == 0)
		return err_set(err, ERR_CLOSED, "agent channel closed");
	return 0;
}

void
nic_do_up(struct nic *nic)
{
	reactor_timer_stop(nic->timer);
	log_info("task=%s nic %s up in the guest (kt%d, nic%d)",
	    nic->net->t->id, nic->name, nic->index, nic->index);
	net_next(nic->net);
}

static void
nic_ignore_cb(const json_t *ret, const struct err *e, void *arg)
{
	(void)ret;
	(void)e;
	(void)arg;
}

/* No answer may reach a NIC that has moved on or is gone. */
static void
nic_cancel_calls(struct nic *nic)
{
	vm_calls_cancel(nic->net->t->vm, &nic->qmp_id, &nic->agent_id);
}

/* Undo in reverse; the VM may be gone, then there is nothing to undo. */
static void
nic_rollback(struct nic *nic)
{
	struct err err;
	struct qmp *q = nic_qmp(nic, &err);
	char id[16];

	nic_cancel_calls(nic);
	if (q != NULL && !nic->netdev_added && nic->fsm.state == NIC_ST_GETFD) {
		nic_tap_name(nic, id);
		(void)qmp_call(q, "closefd", json_pack("{ss}", "fdname", id),
		    5000, nic_ignore_cb, NULL, &err);
	}
	if (q != NULL && nic->device_added) {
		snprintf(id, sizeof id, "nic%d", nic->index);
		(void)qmp_call(q, "device_del", json_pack("{ss}", "id", id),
		    5000, nic_ignore_cb, NULL, &err);
	}
	if (q != NULL && nic->netdev_added) {
		snprintf(id, sizeof id, "net%d", nic->index);
		(void)qmp_call(q, "netdev_del", json_pack("{ss}", "id", id),
		    5000, nic_ignore_cb, NULL, &err);
	}
	close_fd(&nic->tap_fd);
}

void
nic_do_failed(struct nic *nic)
{
	struct task *t = nic->net->t;

	reactor_timer_stop(nic->timer);
	nic_rollback(nic);
	if (nic->error[0] == '\0')
		snprintf(nic->error, sizeof nic->error, "failed");
	log_warnx("task=%s nic %s: %s", t->id, nic->name, nic->error);
	if (nic->net->plugging != nic->index)
		return;		/* not the NIC the task waits for */
	nic->net->plugging = -1;
	snprintf(t->error, sizeof t->error, "network: nic %s: %s", nic->name,
	    nic->error);
	fsm_post(&t->fsm, TASK_EV_NET_FAILED, NULL, 0);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest's NICs: ConfigureNetwork names a hot-added virtio-net device
 * by its MAC. The device shows up a little after the host's device_add
 * (PCI hotplug, then virtio_net, which may still be loading in the
 * background), so the NIC machine polls for the link, then sets its name
 * and MTU, brings it up, adds the addresses and routes CNI gave the veth
 * on the host, and writes the container's /etc/resolv.conf and /etc/hosts
 * inside its rootfs. Everything in the request is checked first: the host
 * is the agent's peer, but its words are input. No `ip` binary is used.
 */
#include "cni/cni.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>

#include "guest/agent.h"

#define NIC_POLL_MS	20
#define NIC_WAIT_MS	30000
#define NIC_DNS_MAX	8

static const char *const agent_nic_state_names[] = {
	AGENT_NIC_STATES(FSM_X_NAME, AGENT_NIC_ST_)
};
static const char *const agent_nic_event_names[] = {
	AGENT_NIC_EVENTS(FSM_X_NAME, AGENT_NIC_EV_)
};

#define NIC(m)	((struct agent_nic *)(m)->ctx)

/* ---- checking the request ------------------------------------------------ */

static bool
addr_ok(const ProtobufCBinaryData *a, uint32_t prefix)
{
	return (a->len == 4 && prefix <= 32) || (a->len == 16 &&
	    prefix <= 128);
}

/* Resolver words: printable, no spaces, no line breaks. */
static bool
word_ok(const char *w)
{
	size_t n = strlen(w), i;

	if (n == 0 || n > 253)
		return false;
	for (i = 0; i < n; i++)
		if (w[i] <= ' ' || w[i] > '~')
			return false;
	return true;
}

static bool
words_ok(char **v, size_t n)
{
	size_t i;

	if (n > NIC_DNS_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!word_ok(v[i]))
			return false;
	return true;
}

static int
nic_check_dns(const Kiln__Agent__V1__DnsConfig *d, struct err *err)
{
	struct in6_addr a;
	size_t i;

	if (d == NULL)
		return 0;
	if (!words_ok(d->nameservers, d->n_nameservers) ||
	    !words_ok(d->search, d->n_search) ||
	    !words_ok(d->options, d->n_options))
		return err_set(err, EINVAL, "invalid dns settings");
	for (i = 0; i < d->n_nameservers; i++)
		if (inet_pton(AF_INET, d->nameservers[i], &a) != 1 &&
		    inet_pton(AF_INET6, d->nameservers[i], &a) != 1)
			return err_set(err, EINVAL, "invalid nameserver %s",
			    d->nameservers[i]);
	return 0;
}

static int
nic_check(const Kiln__Agent__V1__NetworkConfig *c, struct err *err)
{
	const Kiln__Agent__V1__NetInterface *i = c->interface;
	size_t k;

	if (!ident_valid(c->container_id, PROTO_ID_MAX))
		return err_set(err, EINVAL, "invalid container id");
	if (i == NULL || i->mac.len != 6)
		return err_set(err, EINVAL, "interface: MAC of 6 bytes needed");
	if (!ident_valid(i->name, IF_NAMESIZE - 1))
		return err_set(err, EINVAL, "invalid interface name");
	if (i->mtu != 0 && (i->mtu < 68 || i->mtu > 65535))
		return err_set(err, EINVAL, "mtu %u out of range", i->mtu);
	if (i->n_addresses > AGENT_NIC_MAX_ADDRS ||
	    c->n_routes > AGENT_NIC_MAX_ROUTES)
		return err_set(err, E2BIG, "too many addresses or routes");
	for (k = 0; k < i->n_addresses; k++)
		if (!addr_ok(&i->addresses[k]->address,
		    i->addresses[k]->prefix_len))
			return err_set(err, EINVAL, "invalid address %zu", k);
	for (k = 0; k < c->n_routes; k++) {
		const Kiln__Agent__V1__NetRoute *r = c->routes[k];

		if ((r->destination.len != 0 &&
		    !addr_ok(&r->destination, r->prefix_len)) ||
		    (r->destination.len == 0 && r->prefix_len != 0) ||
		    (r->gateway.len != 0 && r->gateway.len != 4 &&
		    r->gateway.len != 16) ||
		    (r->destination.len != 0 && r->gateway.len != 0 &&
		    r->destination.len != r->gateway.len) ||
		    (r->destination.len == 0 && r->gateway.len == 0) ||
		    r->mtu > 65535)
			return err_set(err, EINVAL, "invalid route %zu", k);
	}
	if (c->hostname[0] != '\0' && !ident_valid(c->hostname, 63))
		return err_set(err, EINVAL, "invalid hostname");
	return nic_check_dns(c->dns, err);
}

/* ---- the request, kept as plain data -------------------------------------- */

static void
nic_copy_dns(struct agent_nic *n, const Kiln__Agent__V1__DnsConfig *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->n_nameservers; i++)
		n->dns_ns[n->ndns_ns++] = xstrdup(d->nameservers[i]);
	for (i = 0; i < d->n_search; i++)
		n->dns_search[n->ndns_search++] = xstrdup(d->search[i]);
	for (i = 0; i < d->n_options; i++)
		n->dns_opts[n->ndns_opts++] = xstrdup(d->options[i]);
}

static int
family_of(size_t len)
{
	return len == 16 ? AF_INET6 : AF_INET;
}

static void
nic_copy(struct agent_nic *n, const Kiln__Agent__V1__NetworkConfig *c)
{
	const Kiln__Agent__V1__NetInterface *i = c->interface;
	size_t k;

	str_copy(n->cid, c->container_id, sizeof n->cid);
	str_copy(n->name, i->name, sizeof n->name);
	str_copy(n->hostname, c->hostname, sizeof n->hostname);
	memcpy(n->mac, i->mac.data, 6);
	n->mtu = i->mtu;
	for (k = 0; k < i->n_addresses; k++) {
		struct cni_nl_addr *a = &n->addrs[n->naddrs++];

		a->family = family_of(i->addresses[k]->address.len);
		memcpy(a->addr, i->addresses[k]->address.data,
		    i->addresses[k]->address.len);
		a->prefix = (int)i->addresses[k]->prefix_len;
	}
	for (k = 0; k < c->n_routes; k++) {
		const Kiln__Agent__V1__NetRoute *r = c->routes[k];
		struct cni_nl_route *o = &n->routes[n->nroutes++];

		o->family = family_of(r->destination.len != 0 ?
		    r->destination.len : r->gateway.len);
		/* An empty bytes field has no data pointer: memcpy(NULL) is UB
		 * even for 0 bytes (a default route has no destination). */
		if (r->destination.len != 0)
			memcpy(o->dst, r->destination.data, r->destination.len);
		o->dst_len = (int)r->prefix_len;
		if (r->gateway.len != 0)
			memcpy(o->gw, r->gateway.data, r->gateway.len);
		o->has_gw = r->gateway.len != 0;
		o->mtu = r->mtu;
	}
	nic_copy_dns(n, c->dns);
}

static void
nic_free(struct agent_nic *n)
{
	size_t i;

	TAILQ_REMOVE(&n->a->nics, n, entry);
	n->a->nnics--;
	if (n->pending != NULL)
		proto_call_fail(n->pending, PROTO_UNAVAILABLE, "agent exiting");
	for (i = 0; i < n->ndns_ns; i++)
		free(n->dns_ns[i]);
	for (i = 0; i < n->ndns_search; i++)
		free(n->dns_search[i]);
	for (i = 0; i < n->ndns_opts; i++)
		free(n->dns_opts[i]);
	reactor_timer_free(n->timer);
	fsm_fini(&n->fsm);
	free(n);
}

static void
nic_free_cb(void *arg)
{
	nic_free(arg);
}

void
agent_nics_free(struct agent *a)
{
	while (!TAILQ_EMPTY(&a->nics)) {
		reactor_defer_cancel(a->r, TAILQ_FIRST(&a->nics));
		nic_free(TAILQ_FIRST(&a->nics));
	}
}

/* ---- finding the link ------------------------------------------------------ */

static int
nic_find(struct agent_nic *n, struct err *err)
{
	struct cni_nl_link links[CNI_NL_MAX_ITEMS];
	struct cni_nl nl;
	int cnt, i, found = 0;

	if (cni_nl_open(&nl, err) < 0)
		return -1;
	if (cni_nl_links(&nl, links, CNI_NL_MAX_ITEMS, &cnt, err) < 0) {
		cni_nl_close(&nl);
		return -1;
	}
	cni_nl_close(&nl);
	for (i = 0; i < cnt; i++)
		if (links[i].has_mac && memcmp(links[i].mac, n->mac, 6) == 0) {
			n->ifindex = links[i].ifindex;
			found = 1;
		}
	return found;
}

static void
nic_poll_cb(void *arg)
{
	struct agent_nic *n = arg;
	struct err err;
	int found = nic_find(n, &err);

	if (found == 1)
		(void)fsm_dispatch(&n->fsm, AGENT_NIC_EV_LINK_FOUND, NULL, &err);
	else if (time_mono_ns() >= n->deadline_ns) {
		snprintf(n->error, sizeof n->error, "no link with the MAC "
		    "after %d ms", NIC_WAIT_MS);
		(void)fsm_dispatch(&n->fsm, AGENT_NIC_EV_TIMEOUT, NULL, &err);
	} else
		reactor_timer_start(n->timer, NIC_POLL_MS, false);
}

/* ---- configuring ----------------------------------------------------------- */

static int
nic_setup_link(struct agent_nic *n, struct err *err)
{
	struct cni_nl nl;
	int i, rc = -1;

	if (cni_nl_open(&nl, err) < 0)
		return -1;
	/* A name can change only while the link is down. */
	if (cni_nl_link_set(&nl, n->ifindex, n->mtu, n->name, false,
	    err) < 0 || cni_nl_link_set(&nl, n->ifindex, 0, NULL, true,
	    err) < 0)
		goto out;
	for (i = 0; i < n->naddrs; i++) {
		n->addrs[i].ifindex = n->ifindex;
		if (cni_nl_addr_add(&nl, &n->addrs[i], err) < 0)
			goto out;
	}
	for (i = 0; i < n->nroutes; i++) {
		n->routes[i].oif = n->ifindex;
		if (cni_nl_route_add(&nl, &n->routes[i], err) < 0)
			goto out;
	}
	rc = 0;
out:
	cni_nl_close(&nl);
	return rc;
}

/*
 * Open rel inside the container's rootfs for writing; symlinks in the
 * image resolve inside that root, never to the agent's own files.
 */
static int
nic_open_in_root(const char *root, const char *rel, struct err *err)
{
	struct open_how how = {
		.flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		.mode = 0644, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	_cleanup_close_ int dir = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int fd;

	if (dir < 0)
		return err_set(err, errno, "open %s: %m", root);
	fd = (int)syscall(SYS_openat2, dir, rel, &how, sizeof how);
	if (fd < 0)
		return err_set(err, errno, "open %s in the rootfs: %m", rel);
	return fd;
}

static void
nic_put_words(struct buf *b, const char *key, char **v, size_t n)
{
	size_t i;

	if (n == 0)
		return;
	buf_append(b, key, strlen(key));
	for (i = 0; i < n; i++) {
		buf_append(b, " ", 1);
		buf_append(b, v[i], strlen(v[i]));
	}
	buf_append(b, "\n", 1);
}

static int
nic_write_file(struct agent_nic *n, const char *root, const char *rel,
    struct buf *b, struct err *err)
{
	int fd = nic_open_in_root(root, rel, err), rc;

	(void)n;
	if (fd < 0)
		return -1;
	rc = write_all(fd, buf_head(b), buf_used(b));
	close(fd);
	if (rc < 0)
		return err_set(err, errno, "write %s: %m", rel);
	return 0;
}

static void
nic_hosts(struct agent_nic *n, struct buf *b)
{
	char line[INET6_ADDRSTRLEN + 80], a[INET6_ADDRSTRLEN];
	int i, len;

	len = snprintf(line, sizeof line, "127.0.0.1\tlocalhost\n::1\t"
	    "localhost ip6-localhost ip6-loopback\n");
	buf_append(b, line, (size_t)len);
	for (i = 0; i < n->naddrs && n->hostname[0] != '\0'; i++) {
		inet_ntop(n->addrs[i].family, n->addrs[i].addr, a, sizeof a);
		len = snprintf(line, sizeof line, "%s\t%s\n", a, n->hostname);
		buf_append(b, line, (size_t)len);
	}
}

static int
nic_write_files(struct agent_nic *n, struct err *err)
{
	struct agent_container *c = agent_container_find(n->a, n->cid);
	struct buf b;
	size_t i;
	int rc;

	if (c == NULL || c->rootfs == NULL)
		return 0;	/* removed meanwhile: nothing to write into */
	buf_init(&b);
	for (i = 0; i < n->ndns_ns; i++)
		nic_put_words(&b, "nameserver", &n->dns_ns[i], 1);
	nic_put_words(&b, "search", n->dns_search, n->ndns_search);
	nic_put_words(&b, "options", n->dns_opts, n->ndns_opts);
	rc = nic_write_file(n, c->rootfs, "etc/resolv.conf", &b, err);
	buf_fini(&b);
	if (rc < 0)
		return -1;
	buf_init(&b);
	nic_hosts(n, &b);
	rc = nic_write_file(n, c->rootfs, "etc/hosts", &b, err);
	buf_fini(&b);
	return rc;
}

/* ---- the machine's actions -------------------------------------------------- */

static int
agent_nic_act_wait(struct fsm *m, const void *data, struct err *err)
{
	struct agent_nic *n = NIC(m);

	(void)data;
	(void)err;
	n->deadline_ns = time_mono_ns() + (uint64_t)NIC_WAIT_MS * 1000000;
	reactor_timer_start(n->timer, 0, false);
	return 0;
}

static void
nic_finish(struct agent_nic *n)
{
	reactor_timer_stop(n->timer);
	reactor_defer(n->a->r, nic_free_cb, n);
}

static int
agent_nic_act_configure(struct fsm *m, const void *data, struct err *err)
{
	struct agent_nic *n = NIC(m);

	(void)data;
	if (nic_setup_link(n, err) < 0 || nic_write_files(n, err) < 0) {
		snprintf(n->error, sizeof n->error, "%s: %s", n->name,
		    err->msg);
		return -1;
	}
	fsm_detail(m, "ifindex=%d addrs=%d routes=%d", n->ifindex, n->naddrs,
	    n->nroutes);
	proto_call_reply_empty(TAKE_PTR(n->pending));
	nic_finish(n);
	return 0;
}

static int
agent_nic_act_fail(struct fsm *m, const void *data, struct err *err)
{
	struct agent_nic *n = NIC(m);

	(void)data;
	(void)err;
	log_warnx("nic %s: %s", n->name, n->error);
	if (n->pending != NULL)
		proto_call_fail(TAKE_PTR(n->pending), PROTO_UNKNOWN, "nic %s: %s",
		    n->name, n->error[0] != '\0' ? n->error : "failed");
	nic_finish(n);
	return 0;
}

#define S(x)	AGENT_NIC_ST_##x
#define E(x)	AGENT_NIC_EV_##x
static const struct fsm_row agent_nic_fsm_rows[] = {
	FSM_ROW(S(NEW), E(CONFIGURE), NULL, agent_nic_act_wait, S(WAITING)),
	FSM_ROW(S(WAITING), E(LINK_FOUND), NULL, agent_nic_act_configure,
	    S(UP)),
	FSM_ROW(S(WAITING), E(TIMEOUT), NULL, agent_nic_act_fail, S(FAILED)),
	FSM_ROW(S(UP), E(FAIL), NULL, NULL, FSM_SAME),
	FSM_ROW(S(FAILED), E(FAIL), NULL, NULL, FSM_SAME),
	FSM_ROW(FSM_ANY, E(FAIL), NULL, agent_nic_act_fail, S(FAILED)),
	FSM_ROW(S(UP), E(LINK_FOUND), NULL, NULL, FSM_SAME),
	FSM_ROW(S(UP), E(TIMEOUT), NULL, NULL, FSM_SAME),
	FSM_ROW(S(FAILED), E(LINK_FOUND), NULL, NULL, FSM_SAME),
	FSM_ROW(S(FAILED), E(TIMEOUT), NULL, NULL, FSM_SAME),
};
#undef S
#undef E

const struct fsm_def agent_nic_fsm_def = {
	.name = "agent_nic",
	.version = 1,
	.state_names = agent_nic_state_names,
	.nstates = AGENT_NIC_ST__COUNT,
	.event_names = agent_nic_event_names,
	.nevents = AGENT_NIC_EV__COUNT,
	.rows = agent_nic_fsm_rows,
	.nrows = (int)ARRAY_SIZE(agent_nic_fsm_rows),
	.initial = AGENT_NIC_ST_NEW,
	.fail_event = AGENT_NIC_EV_FAIL,
	.timeout_event = AGENT_NIC_EV_TIMEOUT,
	.terminal = FSM_BIT(AGENT_NIC_ST_UP) | FSM_BIT(AGENT_NIC_ST_FAILED),
	.waiting = FSM_BIT(AGENT_NIC_ST_WAITING),
};
FSM_REGISTER(agent_nic_fsm_def);

/* ---- the handler ------------------------------------------------------------ */

void
agent_net_configure(struct agent *a, struct proto_call *call,
    const Kiln__Agent__V1__NetworkConfig *c)
{
	struct agent_nic *n;
	struct err err;

	if (nic_check(c, &err) < 0)
		return proto_call_fail_err(call, &err);
	if (a->nnics >= AGENT_MAX_NICS)
		return (void)proto_call_fail(call, PROTO_RESOURCE_EXHAUSTED,
		    "too many NICs");
	n = xcalloc(1, sizeof *n);
	n->a = a;
	n->pending = call;
	nic_copy(n, c);
	n->timer = reactor_timer_new(a->r, nic_poll_cb, n);
	TAILQ_INSERT_TAIL(&a->nics, n, entry);
	a->nnics++;
	fsm_init(&n->fsm, &agent_nic_fsm_def, a->env, n->name, n);
	(void)fsm_dispatch(&n->fsm, AGENT_NIC_EV_CONFIGURE, NULL, &err);
}

void
agent_net_lo_up(void)
{
	struct cni_nl nl;
	struct err err;

	if (cni_nl_open(&nl, &err) < 0 ||
	    cni_nl_link_set(&nl, 1, 0, NULL, true, &err) < 0)
		log_warnx("lo up: %s", err.msg);
	if (nl.fd >= 0)
		cni_nl_close(&nl);
}

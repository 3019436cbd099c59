/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rtnetlink for kiln's networking (see cni_nl.h). A request is built in a
 * fixed buffer (struct nl_req: header, family header, attributes), sent,
 * and answered by an ACK or a dump; every reply is walked with NLMSG_OK
 * and every attribute with RTA_OK before a byte of it is read.
 */
/* glibc's net/if.h (through cni_nl.h) must come before linux/if.h. */
#include "cni/cni_nl.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_arp.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_mirred.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define NL_BUF		8192
#define NL_RECV_BUF	32768

struct nl_req {
	struct nlmsghdr	*h;
	uint8_t		 buf[NL_BUF] __attribute__((aligned(NLMSG_ALIGNTO)));
};

/* ---- building ---------------------------------------------------------- */

static void *
nl_init(struct nl_req *r, uint16_t type, uint16_t flags, size_t fam_len)
{
	memset(r->buf, 0, sizeof r->buf);
	r->h = (struct nlmsghdr *)(void *)r->buf;
	r->h->nlmsg_type = type;
	r->h->nlmsg_flags = NLM_F_REQUEST | flags;
	r->h->nlmsg_len = NLMSG_LENGTH(fam_len);
	return NLMSG_DATA(r->h);
}

/* Append an attribute; the buffer is sized for every message we build. */
static struct rtattr *
nl_put(struct nl_req *r, uint16_t type, const void *data, size_t len)
{
	size_t off = NLMSG_ALIGN(r->h->nlmsg_len);
	struct rtattr *a = (struct rtattr *)(void *)(r->buf + off);

	if (off + RTA_SPACE(len) > sizeof r->buf)
		fatalx("netlink request overflows %zu bytes", sizeof r->buf);
	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	if (len > 0)
		memcpy(RTA_DATA(a), data, len);
	r->h->nlmsg_len = (uint32_t)(off + RTA_SPACE(len));
	return a;
}

static void
nl_put_u32(struct nl_req *r, uint16_t type, uint32_t v)
{
	nl_put(r, type, &v, sizeof v);
}

static void
nl_put_str(struct nl_req *r, uint16_t type, const char *s)
{
	nl_put(r, type, s, strlen(s) + 1);
}

static struct rtattr *
nl_nest(struct nl_req *r, uint16_t type)
{
	/* Without NLA_F_NESTED, as iproute2 sends tc's legacy nests. */
	return nl_put(r, type, NULL, 0);
}

static void
nl_nest_end(struct nl_req *r, struct rtattr *nest)
{
	nest->rta_len = (unsigned short)((uint8_t *)r->buf +
	    r->h->nlmsg_len - (uint8_t *)nest);
}

/* ---- sending and receiving -------------------------------------------- */

int
cni_nl_open(struct cni_nl *nl, struct err *err)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int one = 1;

	nl->seq = (uint32_t)time_mono_ns();
	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (nl->fd < 0)
		return err_set(err, errno, "netlink socket: %m");
	(void)setsockopt(nl->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one,
	    sizeof one);
	if (bind(nl->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		err_set(err, errno, "netlink bind: %m");
		close_fd(&nl->fd);
		return -1;
	}
	return 0;
}

void
cni_nl_close(struct cni_nl *nl)
{
	close_fd(&nl->fd);
}

typedef int	(*nl_msg_fn)(const struct nlmsghdr *, void *arg);

/* One reply datagram: NLMSG_ERROR ends a request, NLMSG_DONE a dump. */
static int
nl_walk(uint8_t *buf, ssize_t n, uint32_t seq, nl_msg_fn fn, void *arg,
    bool *done, struct err *err)
{
	struct nlmsghdr *h;
	size_t left = (size_t)n;

	for (h = (struct nlmsghdr *)(void *)buf; NLMSG_OK(h, left);
	    h = NLMSG_NEXT(h, left)) {
		if (h->nlmsg_seq != seq)
			continue;
		if (h->nlmsg_type == NLMSG_DONE) {
			*done = true;
			return 0;
		}
		if (h->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = NLMSG_DATA(h);

			*done = true;
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof *e))
				return err_set(err, EPROTO, "short netlink "
				    "error");
			if (e->error != 0)
				return err_set(err, -e->error, "%s",
				    strerror(-e->error));
			return 0;
		}
		if (fn != NULL && fn(h, arg) < 0)
			return err_set(err, EPROTO, "malformed netlink reply");
	}
	return 0;
}

static int
nl_talk(struct cni_nl *nl, struct nl_req *r, nl_msg_fn fn, void *arg,
    struct err *err)
{
	_cleanup_free_ uint8_t *buf = xmalloc(NL_RECV_BUF);
	bool done = false;
	ssize_t n;

	r->h->nlmsg_seq = ++nl->seq;
	if (fn == NULL)
		r->h->nlmsg_flags |= NLM_F_ACK;
	if (send(nl->fd, r->buf, r->h->nlmsg_len, 0) < 0)
		return err_set(err, errno, "netlink send: %m");
	while (!done) {
		n = recv(nl->fd, buf, NL_RECV_BUF, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return err_set(err, n < 0 ? errno : EPROTO,
			    "netlink recv: %m");
		if (nl_walk(buf, n, nl->seq, fn, arg, &done, err) < 0)
			return -1;
	}
	return 0;
}

/* Index attributes of a message body starting off bytes into it. */
static void
nl_attrs(const struct nlmsghdr *h, size_t off, const struct rtattr **tb,
    int max)
{
	const struct rtattr *a;
	int len;

	memset(tb, 0, sizeof *tb * (size_t)(max + 1));
	if (h->nlmsg_len < NLMSG_LENGTH(off))
		return;
	len = (int)(h->nlmsg_len - NLMSG_LENGTH(off));
	a = (const struct rtattr *)(const void *)((const uint8_t *)
	    NLMSG_DATA(h) + NLMSG_ALIGN(off));
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
		if ((a->rta_type & ~NLA_F_NESTED) <= max)
			tb[a->rta_type & ~NLA_F_NESTED] = a;
}

static size_t
rta_len(const struct rtattr *a)
{
	return a != NULL ? RTA_PAYLOAD(a) : 0;
}

/* ---- links --------------------------------------------------------------- */

struct nl_list {
	void	*out;
	int	 max;
	int	 n;
	int	 family;
};

static void
link_kind(const struct rtattr *info, struct cni_nl_link *l)
{
	const struct rtattr *a;
	int len;

	if (info == NULL)
		return;
	len = (int)RTA_PAYLOAD(info);
	for (a = RTA_DATA(info); RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == IFLA_INFO_KIND)
			snprintf(l->kind, sizeof l->kind, "%.*s",
			    (int)strnlen(RTA_DATA(a), RTA_PAYLOAD(a)),
			    (const char *)RTA_DATA(a));
}

static int
link_cb(const struct nlmsghdr *h, void *arg)
{
	const struct ifinfomsg *ifi = NLMSG_DATA(h);
	const struct rtattr *tb[IFLA_MAX + 1];
	struct nl_list *ls = arg;
	struct cni_nl_link *l;

	if (h->nlmsg_type != RTM_NEWLINK)
		return 0;
	if (h->nlmsg_len < NLMSG_LENGTH(sizeof *ifi))
		return -1;
	if (ls->n >= ls->max)
		return 0;
	l = (struct cni_nl_link *)ls->out + ls->n;
	memset(l, 0, sizeof *l);
	nl_attrs(h, sizeof *ifi, tb, IFLA_MAX);
	l->ifindex = ifi->ifi_index;
	l->flags = ifi->ifi_flags;
	if (tb[IFLA_IFNAME] != NULL)
		snprintf(l->name, sizeof l->name, "%.*s",
		    (int)strnlen(RTA_DATA(tb[IFLA_IFNAME]),
		    rta_len(tb[IFLA_IFNAME])),
		    (const char *)RTA_DATA(tb[IFLA_IFNAME]));
	if (rta_len(tb[IFLA_ADDRESS]) == 6 && ifi->ifi_type == ARPHRD_ETHER) {
		memcpy(l->mac, RTA_DATA(tb[IFLA_ADDRESS]), 6);
		l->has_mac = true;
	}
	if (rta_len(tb[IFLA_MTU]) == 4)
		memcpy(&l->mtu, RTA_DATA(tb[IFLA_MTU]), 4);
	link_kind(tb[IFLA_LINKINFO], l);
	ls->n++;
	return 0;
}

int
cni_nl_links(struct cni_nl *nl, struct cni_nl_link *out, int max, int *n,
    struct err *err)
{
	struct nl_list ls = { out, max, 0, 0 };
	struct nl_req r;
	struct ifinfomsg *ifi;

	ifi = nl_init(&r, RTM_GETLINK, NLM_F_DUMP, sizeof *ifi);
	ifi->ifi_family = AF_UNSPEC;
	if (nl_talk(nl, &r, link_cb, &ls, err) < 0)
		return err_wrap(err, "list links");
	*n = ls.n;
	return 0;
}

int
cni_nl_link_set(struct cni_nl *nl, int ifindex, uint32_t mtu,
    const char *name, bool up, struct err *err)
{
	struct nl_req r;
	struct ifinfomsg *ifi;

	ifi = nl_init(&r, RTM_NEWLINK, 0, sizeof *ifi);
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_change = IFF_UP;
	ifi->ifi_flags = up ? IFF_UP : 0;
	if (mtu > 0)
		nl_put_u32(&r, IFLA_MTU, mtu);
	if (name != NULL)
		nl_put_str(&r, IFLA_IFNAME, name);
	if (nl_talk(nl, &r, NULL, NULL, err) < 0)
		return err_wrap(err, "set link %d", ifindex);
	return 0;
}

/* ---- addresses and routes ------------------------------------------------ */

static size_t
family_len(int family)
{
	return family == AF_INET6 ? 16 : 4;
}

static int
addr_cb(const struct nlmsghdr *h, void *arg)
{
	const struct ifaddrmsg *ifa = NLMSG_DATA(h);
	const struct rtattr *tb[IFA_MAX + 1], *a;
	struct nl_list *ls = arg;
	struct cni_nl_addr *o;

	if (h->nlmsg_type != RTM_NEWADDR)
		return 0;
	if (h->nlmsg_len < NLMSG_LENGTH(sizeof *ifa))
		return -1;
	if (ls->n >= ls->max || (ifa->ifa_family != AF_INET &&
	    ifa->ifa_family != AF_INET6))
		return 0;
	nl_attrs(h, sizeof *ifa, tb, IFA_MAX);
	a = tb[IFA_LOCAL] != NULL ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (rta_len(a) != family_len(ifa->ifa_family))
		return 0;
	o = (struct cni_nl_addr *)ls->out + ls->n++;
	memset(o, 0, sizeof *o);
	o->family = ifa->ifa_family;
	o->prefix = ifa->ifa_prefixlen;
	o->ifindex = (int)ifa->ifa_index;
	memcpy(o->addr, RTA_DATA(a), rta_len(a));
	return 0;
}

int
cni_nl_addrs(struct cni_nl *nl, int family, struct cni_nl_addr *out,
    int max, int *n, struct err *err)
{
	struct nl_list ls = { out, max, 0, family };
	struct nl_req r;
	struct ifaddrmsg *ifa;

	ifa = nl_init(&r, RTM_GETADDR, NLM_F_DUMP, sizeof *ifa);
	ifa->ifa_family = (uint8_t)family;
	if (nl_talk(nl, &r, addr_cb, &ls, err) < 0)
		return err_wrap(err, "list addresses");
	*n = ls.n;
	return 0;
}

int
cni_nl_addr_add(struct cni_nl *nl, const struct cni_nl_addr *a,
    struct err *err)
{
	size_t len = family_len(a->family);
	struct nl_req r;
	struct ifaddrmsg *ifa;

	ifa = nl_init(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE,
	    sizeof *ifa);
	ifa->ifa_family = (uint8_t)a->family;
	ifa->ifa_prefixlen = (uint8_t)a->prefix;
	ifa->ifa_index = (uint32_t)a->ifindex;
	nl_put(&r, IFA_LOCAL, a->addr, len);
	nl_put(&r, IFA_ADDRESS, a->addr, len);
	if (nl_talk(nl, &r, NULL, NULL, err) < 0)
		return err_wrap(err, "add address");
	return 0;
}

static void
route_metrics(const struct rtattr *m, struct cni_nl_route *o)
{
	const struct rtattr *a;
	int len;

	if (m == NULL)
		return;
	len = (int)RTA_PAYLOAD(m);
	for (a = RTA_DATA(m); RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == RTAX_MTU && RTA_PAYLOAD(a) == 4)
			memcpy(&o->mtu, RTA_DATA(a), 4);
}

static int
route_cb(const struct nlmsghdr *h, void *arg)
{
	const struct rtmsg *rt = NLMSG_DATA(h);
	const struct rtattr *tb[RTA_MAX + 1];
	struct nl_list *ls = arg;
	struct cni_nl_route *o;
	size_t alen;

	if (h->nlmsg_type != RTM_NEWROUTE)
		return 0;
	if (h->nlmsg_len < NLMSG_LENGTH(sizeof *rt))
		return -1;
	if (ls->n >= ls->max || rt->rtm_table != RT_TABLE_MAIN ||
	    rt->rtm_type != RTN_UNICAST || (rt->rtm_family != AF_INET &&
	    rt->rtm_family != AF_INET6))
		return 0;
	nl_attrs(h, sizeof *rt, tb, RTA_MAX);
	alen = family_len(rt->rtm_family);
	o = (struct cni_nl_route *)ls->out + ls->n;
	memset(o, 0, sizeof *o);
	o->family = rt->rtm_family;
	o->dst_len = rt->rtm_dst_len;
	o->protocol = rt->rtm_protocol;
	o->scope = rt->rtm_scope;
	if (rta_len(tb[RTA_DST]) == alen)
		memcpy(o->dst, RTA_DATA(tb[RTA_DST]), alen);
	if (rta_len(tb[RTA_GATEWAY]) == alen) {
		memcpy(o->gw, RTA_DATA(tb[RTA_GATEWAY]), alen);
		o->has_gw = true;
	}
	if (rta_len(tb[RTA_OIF]) == 4)
		memcpy(&o->oif, RTA_DATA(tb[RTA_OIF]), 4);
	route_metrics(tb[RTA_METRICS], o);
	ls->n++;
	return 0;
}

int
cni_nl_routes(struct cni_nl *nl, int family, struct cni_nl_route *out,
    int max, int *n, struct err *err)
{
	struct nl_list ls = { out, max, 0, family };
	struct nl_req r;
	struct rtmsg *rt;

	rt = nl_init(&r, RTM_GETROUTE, NLM_F_DUMP, sizeof *rt);
	rt->rtm_family = (uint8_t)family;
	if (nl_talk(nl, &r, route_cb, &ls, err) < 0)
		return err_wrap(err, "list routes");
	*n = ls.n;
	return 0;
}

int
cni_nl_route_add(struct cni_nl *nl, const struct cni_nl_route *ro,
    struct err *err)
{
	size_t len = family_len(ro->family);
	struct nl_req r;
	struct rtmsg *rt;
	struct rtattr *m;

	rt = nl_init(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE,
	    sizeof *rt);
	rt->rtm_family = (uint8_t)ro->family;
	rt->rtm_dst_len = (uint8_t)ro->dst_len;
	rt->rtm_table = RT_TABLE_MAIN;
	rt->rtm_protocol = RTPROT_BOOT;
	rt->rtm_type = RTN_UNICAST;
	rt->rtm_scope = ro->has_gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	if (ro->dst_len > 0)
		nl_put(&r, RTA_DST, ro->dst, len);
	if (ro->has_gw)
		nl_put(&r, RTA_GATEWAY, ro->gw, len);
	nl_put_u32(&r, RTA_OIF, (uint32_t)ro->oif);
	if (ro->mtu > 0) {
		m = nl_nest(&r, RTA_METRICS);
		nl_put_u32(&r, RTAX_MTU, ro->mtu);
		nl_nest_end(&r, m);
	}
	if (nl_talk(nl, &r, NULL, NULL, err) < 0)
		return err_wrap(err, "add route /%d", ro->dst_len);
	return 0;
}

/* ---- tc: ingress qdisc and u32 mirred redirect --------------------------- */

static int
ingress_msg(struct cni_nl *nl, uint16_t type, uint16_t flags, int ifindex,
    struct err *err)
{
	struct nl_req r;
	struct tcmsg *tc;

	tc = nl_init(&r, type, flags, sizeof *tc);
	tc->tcm_family = AF_UNSPEC;
	tc->tcm_ifindex = ifindex;
	tc->tcm_handle = TC_H_MAKE(TC_H_INGRESS, 0);
	tc->tcm_parent = TC_H_INGRESS;
	nl_put_str(&r, TCA_KIND, "ingress");
	return nl_talk(nl, &r, NULL, NULL, err);
}

int
cni_nl_ingress_add(struct cni_nl *nl, int ifindex, struct err *err)
{
	if (ingress_msg(nl, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, ifindex,
	    err) < 0)
		return err_wrap(err, "ingress qdisc on %d", ifindex);
	return 0;
}

int
cni_nl_ingress_del(struct cni_nl *nl, int ifindex, struct err *err)
{
	if (ingress_msg(nl, RTM_DELQDISC, 0, ifindex, err) < 0)
		return err_wrap(err, "delete ingress qdisc on %d", ifindex);
	return 0;
}

/* The action list of the filter: one mirred that steals the frame. */
static void
redirect_action(struct nl_req *r, int to_ifindex)
{
	struct tc_mirred parms = {
		.action = TC_ACT_STOLEN, .eaction = TCA_EGRESS_REDIR,
		.ifindex = (uint32_t)to_ifindex,
	};
	struct rtattr *acts, *act, *opts;

	acts = nl_nest(r, TCA_U32_ACT);
	act = nl_nest(r, 1);		/* the first action's priority */
	nl_put_str(r, TCA_ACT_KIND, "mirred");
	opts = nl_nest(r, TCA_ACT_OPTIONS);
	nl_put(r, TCA_MIRRED_PARMS, &parms, sizeof parms);
	nl_nest_end(r, opts);
	nl_nest_end(r, act);
	nl_nest_end(r, acts);
}

/* tc filter add dev FROM parent ffff: protocol all u32 match u8 0 0
 * action mirred egress redirect dev TO */
int
cni_nl_redirect_add(struct cni_nl *nl, int from_ifindex, int to_ifindex,
    struct err *err)
{
	struct {
		struct tc_u32_sel	sel;
		struct tc_u32_key	key;
	} sel;
	struct nl_req r;
	struct tcmsg *tc;
	struct rtattr *opts;

	tc = nl_init(&r, RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL,
	    sizeof *tc);
	tc->tcm_family = AF_UNSPEC;
	tc->tcm_ifindex = from_ifindex;
	tc->tcm_parent = TC_H_MAKE(TC_H_INGRESS, 0);
	tc->tcm_info = TC_H_MAKE(1u << 16, htons(ETH_P_ALL));
	nl_put_str(&r, TCA_KIND, "u32");
	opts = nl_nest(&r, TCA_OPTIONS);
	memset(&sel, 0, sizeof sel);
	sel.sel.flags = TC_U32_TERMINAL;
	sel.sel.nkeys = 1;
	nl_put(&r, TCA_U32_SEL, &sel, sizeof sel);
	redirect_action(&r, to_ifindex);
	nl_nest_end(&r, opts);
	if (nl_talk(nl, &r, NULL, NULL, err) < 0)
		return err_wrap(err, "redirect %d -> %d", from_ifindex,
		    to_ifindex);
	return 0;
}

/* ---- TAP and namespaces -------------------------------------------------- */

int
cni_tap_open(const char *name, struct err *err)
{
	struct ifreq ifr;
	int fd;

	if (strlen(name) >= IF_NAMESIZE)
		return err_set(err, EINVAL, "tap name %s too long", name);
	if ((fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC)) < 0)
		return err_set(err, errno, "open /dev/net/tun: %m");
	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		err_set(err, errno, "tap %s: %m", name);
		close(fd);
		return -1;
	}
	return fd;
}

int
cni_netns_enter(int nsfd, struct err *err)
{
	int old = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);

	if (old < 0)
		return err_set(err, errno, "open own netns: %m");
	if (setns(nsfd, CLONE_NEWNET) < 0) {
		err_set(err, errno, "setns: %m");
		close(old);
		return -1;
	}
	return old;
}

int
cni_netns_leave(int oldfd, struct err *err)
{
	int rc = setns(oldfd, CLONE_NEWNET);

	close(oldfd);
	/* Staying in the wrong namespace would misplace everything after. */
	if (rc < 0)
		fatal("setns back to the shim's network namespace");
	(void)err;
	return 0;
}

/* In the new namespace: loopback up, as every runtime leaves it. */
static void
netns_lo_up(void)
{
	struct cni_nl nl;
	struct err err;

	if (cni_nl_open(&nl, &err) < 0)
		return;
	if (cni_nl_link_set(&nl, 1, 0, NULL, true, &err) < 0)
		log_warnx("netns: lo up: %s", err.msg);
	cni_nl_close(&nl);
}

int
cni_netns_create(const char *path, struct err *err)
{
	_cleanup_close_ int old = open("/proc/self/ns/net", O_RDONLY |
	    O_CLOEXEC);
	int fd, rc = 0;

	if (old < 0)
		return err_set(err, errno, "open own netns: %m");
	if ((fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0444)) < 0)
		return err_set(err, errno, "create %s: %m", path);
	close(fd);
	if (unshare(CLONE_NEWNET) < 0) {
		unlink(path);
		return err_set(err, errno, "unshare netns: %m");
	}
	if (mount("/proc/self/ns/net", path, NULL, MS_BIND, NULL) < 0)
		rc = err_set(err, errno, "bind netns on %s: %m", path);
	else
		netns_lo_up();
	if (setns(old, CLONE_NEWNET) < 0)
		fatal("setns back to the shim's network namespace");
	if (rc < 0)
		unlink(path);
	return rc;
}

int
cni_netns_remove(const char *path, struct err *err)
{
	if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL &&
	    errno != ENOENT)
		return err_set(err, errno, "umount %s: %m", path);
	if (unlink(path) < 0 && errno != ENOENT)
		return err_set(err, errno, "unlink %s: %m", path);
	return 0;
}

void
cni_mac_format(const uint8_t mac[6], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
	    mac[2], mac[3], mac[4], mac[5]);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Part of cni/'s public face, included by cni/cni.h (use that).
 *
 * cni_nl: the rtnetlink calls kiln's networking makes, host and guest side:
 * links (list, up, MTU, rename), addresses, routes, a TAP, tc ingress
 * qdiscs and u32 "mirred egress redirect" filters between a veth and a
 * TAP, network namespaces (create, keep by bind mount, enter for a call).
 *
 * Why not libmnl: Debian ships libmnl only as a shared library and the
 * shim is linked statically; the few message shapes kiln needs fit in one
 * small file. Every reply from the kernel is length-checked before use.
 *
 * All calls are synchronous (netlink to the local kernel answers at once)
 * and return 0 or -1 with err. A struct cni_nl is one NETLINK_ROUTE
 * socket bound to the network namespace it was opened in.
 */
#ifndef KILN_CNI_NL_H
#define KILN_CNI_NL_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/base/base.h"

struct cni_nl {
	int		fd;
	uint32_t	seq;
};

struct cni_nl_link {
	int		ifindex;
	char		name[IF_NAMESIZE];
	char		kind[16];	/* "veth", "tun", "" if none */
	uint8_t		mac[6];
	bool		has_mac;
	uint32_t	mtu;
	unsigned	flags;		/* IFF_* */
};

struct cni_nl_addr {
	int		family;		/* AF_INET or AF_INET6 */
	uint8_t		addr[16];
	int		prefix;
	int		ifindex;
};

struct cni_nl_route {
	int		family;
	uint8_t		dst[16];
	int		dst_len;
	uint8_t		gw[16];
	bool		has_gw;
	uint32_t	mtu;		/* RTAX_MTU, 0 if none */
	int		oif;
	int		protocol;	/* RTPROT_* */
	int		scope;
};

#define CNI_NL_MAX_ITEMS	64	/* links, addresses or routes listed */

/* Open a NETLINK_ROUTE socket in the caller's current namespace. */
int	cni_nl_open(struct cni_nl *, struct err *);
void	cni_nl_close(struct cni_nl *);

/* Fill out[max]; *n gets the count (lists stop at max, never overflow). */
int	cni_nl_links(struct cni_nl *, struct cni_nl_link *out, int max,
	    int *n, struct err *);
int	cni_nl_addrs(struct cni_nl *, int family, struct cni_nl_addr *out,
	    int max, int *n, struct err *);
int	cni_nl_routes(struct cni_nl *, int family, struct cni_nl_route *out,
	    int max, int *n, struct err *);

/* Set a link's MTU (0: keep), name (NULL: keep), and up or down. */
int	cni_nl_link_set(struct cni_nl *, int ifindex, uint32_t mtu,
	    const char *name, bool up, struct err *);
int	cni_nl_addr_add(struct cni_nl *, const struct cni_nl_addr *,
	    struct err *);
int	cni_nl_route_add(struct cni_nl *, const struct cni_nl_route *,
	    struct err *);
/* tc: an ingress qdisc on ifindex, and its u32 redirect to target. */
int	cni_nl_ingress_add(struct cni_nl *, int ifindex, struct err *);
int	cni_nl_ingress_del(struct cni_nl *, int ifindex, struct err *);
int	cni_nl_redirect_add(struct cni_nl *, int from_ifindex,
	    int to_ifindex, struct err *);

/*
 * A TAP named name (vnet_hdr, no packet info) in the current namespace;
 * returns its fd (close-on-exec). The TAP is not persistent: it goes
 * away with the last fd, so a crashed VM leaves none behind.
 */
int	cni_tap_open(const char *name, struct err *);

/*
 * Network namespaces. cni_netns_create makes a new one and keeps it by a
 * bind mount on path (created); the caller stays in its own namespace.
 * cni_netns_remove unmounts and unlinks path (missing is fine).
 * cni_netns_enter switches the calling (single-threaded) process into
 * the namespace of fd and returns an fd of the previous one, for
 * cni_netns_leave; both fail with err and leave the namespace as it was.
 */
int	cni_netns_create(const char *path, struct err *);
int	cni_netns_remove(const char *path, struct err *);
int	cni_netns_enter(int nsfd, struct err *);
int	cni_netns_leave(int oldfd, struct err *);

/* "aa:bb:cc:dd:ee:ff" into out (18 bytes). */
void	cni_mac_format(const uint8_t mac[6], char out[18]);

#endif

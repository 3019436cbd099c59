/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cni: a CNI conflist runner on the reactor. One struct cni_attach is one
 * attachment of one container (container id, netns, ifname) to one
 * network (a conflist): ADD runs the conflist's plugins in order, feeding
 * each the previous one's result as prevResult; CHECK runs them in order
 * and DEL in reverse, both with the cached result. Plugins are child
 * processes driven by the reactor (non-blocking pipes, a deadline each,
 * SIGKILL to their process group on expiry); nothing here blocks the loop
 * but cni_del_cached(), which runs a reactor of its own. An ADD that fails
 * part way runs DEL for the plugins already added before it reports.
 *
 * Results are cached in libcni's layout (docs/cni.md), so a process that
 * knows only the network, container id and ifname can DEL after a crash.
 * The attachment's life is the "cni" machine (cni/cni_fsm.c). Above
 * reactor/ and fsm/; used by core/.
 *
 * Facts followed: the CNI specification 1.0 (sections "Parameters",
 * "Execution of Network Configurations", "Result", "Error") and libcni's
 * cache format (cniCacheV1). Plugin output is untrusted: it is bounded
 * (CNI_OUTPUT_MAX) and validated (cni_result_parse) before use.
 */
#ifndef KILN_CNI_H
#define KILN_CNI_H

/* glibc's net/if.h before any linux/ header: cni_nl.h comes first. */
#include "cni/cni_nl.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/base.h"
#include "fsm/fsm.h"
#include "reactor/reactor.h"

#define CNI_OUTPUT_MAX		(1u << 20)	/* stdout a plugin may print */
#define CNI_CONFLIST_MAX	(1u << 20)	/* conflist bytes */
#define CNI_PLUGINS_MAX		16
#define CNI_RESULT_MAX		16	/* interfaces, ips, routes, dns lists */
#define CNI_NAME_MAX		128	/* network name, container id */
#define CNI_IFNAME_MAX		15	/* IFNAMSIZ - 1 */
#define CNI_PATH_MAX		1024	/* sandbox, netns */
#define CNI_ADDR_MAX		46	/* INET6_ADDRSTRLEN */
#define CNI_DOMAIN_MAX		253
#define CNI_DNS_OPT_MAX		64
#define CNI_DEFAULT_CACHE_DIR	"/var/lib/cni/results"
#define CNI_DEFAULT_BIN_DIRS	"/opt/cni/bin:/usr/lib/cni"
#define CNI_DEFAULT_TIMEOUT_MS	10000

/* ---- results ---------------------------------------------------------- */

struct cni_interface {
	char		name[CNI_IFNAME_MAX + 1];
	char		mac[18];		/* "aa:bb:..", "" if absent */
	char		sandbox[CNI_PATH_MAX + 1];	/* "" = host side */
};

struct cni_ip {
	int		family;			/* AF_INET or AF_INET6 */
	char		address[CNI_ADDR_MAX];	/* canonical, no prefix */
	unsigned	prefix_len;
	char		gateway[CNI_ADDR_MAX];	/* "" if absent */
	int		interface;		/* index or -1 if absent */
};

struct cni_route {
	int		family;
	char		dst[CNI_ADDR_MAX];	/* canonical network address */
	unsigned	dst_prefix;
	char		gw[CNI_ADDR_MAX];	/* "" if absent */
	unsigned	mtu;			/* 0 if absent */
	unsigned	advmss;			/* 0 if absent */
};

struct cni_dns {
	char		nameservers[CNI_RESULT_MAX][CNI_ADDR_MAX];
	size_t		nnameservers;
	char		domain[CNI_DOMAIN_MAX + 1];
	char		search[CNI_RESULT_MAX][CNI_DOMAIN_MAX + 1];
	size_t		nsearch;
	char		options[CNI_RESULT_MAX][CNI_DNS_OPT_MAX + 1];
	size_t		noptions;
};

/* A validated CNI result (spec "Result"), plain data the caller reads. */
struct cni_result {
	char			cni_version[16];
	struct cni_interface	interfaces[CNI_RESULT_MAX];
	size_t			ninterfaces;
	struct cni_ip		ips[CNI_RESULT_MAX];
	size_t			nips;
	struct cni_route	routes[CNI_RESULT_MAX];
	size_t			nroutes;
	struct cni_dns		dns;
};

/*
 * Parse and validate len bytes of a result (0.4.0 or 1.0.0 shape; json
 * need not be NUL-terminated; json is borrowed). Every count is at most
 * CNI_RESULT_MAX, every string bounded, addresses parse with inet_pton,
 * prefixes are in range, interface indexes point into interfaces[], MACs
 * are six hex octets. Returns 0 with *out (the caller's, free with
 * cni_result_free) or -1 with err (EINVAL, a message naming the field);
 * never crashes on any input.
 */
int		 cni_result_parse(const char *json, size_t len,
		    struct cni_result **out, struct err *);
/* NULL is a no-op. */
void		 cni_result_free(struct cni_result *);

/* ---- attachments ------------------------------------------------------ */

struct cni_attach;

/*
 * The end of an add, check or del: result is NULL on success, else the
 * error (borrowed for the call). Runs from a deferred call of the
 * reactor, never inside the cni_attach_* call that started the operation
 * and never inside a dispatch; it may call any function here, including
 * cni_attach_free() on a.
 */
typedef void	(*cni_done_cb)(struct cni_attach *a, const struct err *result,
		    void *arg);

/*
 * Options, copied by cni_attach_new() (strings too). Give the conflist as
 * a file (conflist_path) or as JSON text (conflist_json), or neither to
 * load config and result from the cache entry of (network, container_id,
 * ifname): DEL (and CHECK) after a crash.
 */
struct cni_opts {
	const char	*conflist_path;
	const char	*conflist_json;
	const char	*network;	/* without a conflist: cache lookup */
	const char	*container_id;	/* required */
	const char	*netns;		/* path; required for ADD and CHECK */
	const char	*ifname;	/* NULL: "eth0" */
	const char	*bin_dirs;	/* CNI_PATH; NULL: CNI_DEFAULT_BIN_DIRS */
	const char	*cache_dir;	/* NULL: CNI_DEFAULT_CACHE_DIR */
	const char	*cni_args;	/* CNI_ARGS "K=V;K2=V2", or NULL */
	const char	*capability_args; /* a JSON object, or NULL */
	uint64_t	 timeout_ms;	/* per plugin; 0: CNI_DEFAULT_TIMEOUT_MS */
	cni_done_cb	 on_done;
	void		*arg;		/* borrowed, for on_done */
};

/*
 * A new attachment in IDLE. r and env are borrowed and must outlive it.
 * With a conflist, the conflist is read and checked now (cniVersion 0.4.0
 * or 1.0.0, a name, 1..CNI_PLUGINS_MAX plugins with a type each). Without
 * one, the cache entry is read now: a missing entry is not an error (DEL
 * then succeeds at once, as CNI requires of DEL), a corrupt one is.
 * Returns NULL with err (EINVAL for bad options or config, errno for I/O).
 * Never runs a callback.
 */
struct cni_attach *cni_attach_new(struct reactor *, struct fsm_env *,
		    const struct cni_opts *, struct err *);
/*
 * Start ADD (state IDLE, with a config), CHECK (IDLE or ATTACHED, with a
 * config and a cached result) or DEL (any state but while an operation
 * runs). Returns 0 and on_done runs later exactly once with the outcome;
 * or -1 with err (ERR_UNHANDLED or ERR_GUARD: not allowed in this state)
 * and on_done does not run for this call.
 */
int		 cni_attach_add(struct cni_attach *, struct err *);
int		 cni_attach_check(struct cni_attach *, struct err *);
int		 cni_attach_del(struct cni_attach *, struct err *);
/*
 * The result of the last successful ADD (or the cached one), borrowed:
 * valid until the next operation or the free. NULL if there is none.
 */
const struct cni_result *cni_attach_result(const struct cni_attach *);
/* The machine's state name ("IDLE", "ATTACHED", ...), for logs and tests. */
const char	*cni_attach_state(const struct cni_attach *);
/* Path of this attachment's cache entry; valid for the attach's life. */
const char	*cni_attach_cache_path(const struct cni_attach *);
/*
 * Free a. A plugin still running is killed (SIGKILL to its group) and
 * reaped by the reactor later; on_done does not run any more. Safe from
 * inside on_done. NULL is a no-op.
 */
void		 cni_attach_free(struct cni_attach *);

/* ---- the cache -------------------------------------------------------- */

/* One cache entry's key, as cni_cache_list() finds it. */
struct cni_cache_ref {
	char	network[CNI_NAME_MAX + 1];
	char	ifname[CNI_IFNAME_MAX + 1];
};

/*
 * The cache entries of container_id in cache_dir (NULL: the default),
 * by their containerId field. *refs is malloc'ed (free() it; NULL when
 * *n is 0). A missing directory is an empty list. Entries that cannot be
 * parsed are skipped with a warning. Returns 0 or -1 with err (errno).
 */
int		 cni_cache_list(const char *cache_dir, const char *container_id,
		    struct cni_cache_ref **refs, size_t *n, struct err *);

/*
 * The validated result of one cache entry (another runtime's, such as
 * ctr's, in the same layout): *out to cni_result_free. -1 with err if the
 * entry is missing (ENOENT), unreadable or holds no valid result.
 */
int		 cni_cache_result(const char *cache_dir, const char *network,
		    const char *container_id, const char *ifname,
		    struct cni_result **out, struct err *);
/*
 * Blocking DEL from the cache, for short-lived processes (the shim's
 * delete action) that have no reactor running: it makes its own reactor,
 * loads the entry, runs DEL with its config and result and removes it.
 * A missing entry is success. Returns 0 or -1 with err.
 */
int		 cni_del_cached(const char *cache_dir, const char *network,
		    const char *container_id, const char *ifname,
		    const char *bin_dirs, uint64_t timeout_ms, struct err *);

#endif

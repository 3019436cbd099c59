/* SPDX-License-Identifier: Apache-2.0 */
/* Internals shared by the files of cni/; only cni/ and tests include it. */
#ifndef KILN_CNI_INT_H
#define KILN_CNI_INT_H

#include <sys/queue.h>
#include <sys/types.h>

#include <jansson.h>

#include "cni/cni.h"

#define CNI_STATES(X, P) X(P, IDLE) X(P, ADDING) X(P, ATTACHED) \
	X(P, CHECKING) X(P, ROLLING_BACK) X(P, DELETING) X(P, DETACHED) \
	X(P, FAILED)
#define CNI_EVENTS(X, P) X(P, ADD) X(P, CHECK) X(P, DEL) X(P, PLUGIN_OK) \
	X(P, PLUGIN_FAILED) X(P, TIMEOUT) X(P, FAIL)

enum cni_state {
	CNI_STATES(FSM_X_ENUM, CNI_ST_) CNI_ST__COUNT
};
enum cni_event {
	CNI_EVENTS(FSM_X_ENUM, CNI_EV_) CNI_EV__COUNT
};

extern const struct fsm_def cni_fsm_def;

enum cni_cmd { CNI_CMD_ADD, CNI_CMD_CHECK, CNI_CMD_DEL };

/* A parsed conflist: the parts the runner needs, and the bytes. */
struct cni_conf {
	char		*bytes;		/* as read, for the cache */
	size_t		 len;
	json_t		*root;
	char		 name[CNI_NAME_MAX + 1];
	char		 version[16];
	json_t		*plugins[CNI_PLUGINS_MAX];	/* borrowed from root */
	int		 nplugins;
};

/* A libcni cache entry (cniCacheV1), as cni_cache_parse() reads it. */
struct cni_cache_entry {
	char		 container_id[CNI_NAME_MAX + 1];
	char		 network[CNI_NAME_MAX + 1];
	char		 ifname[CNI_IFNAME_MAX + 1];
	char		*netns;		/* or NULL */
	char		*config;	/* decoded conflist bytes */
	size_t		 config_len;
	char		*cni_args;	/* "K=V;K2=V2" or NULL */
	char		*capability_args; /* JSON text or NULL */
	json_t		*result;	/* NULL if the entry has none */
};

struct cni_run;

/* One plugin run's outcome: err NULL or the reason; out is its stdout. */
typedef void	(*cni_run_cb)(struct cni_run *, const struct err *err,
		    const char *out, size_t len, void *arg);

/* One operation's outcome waiting for its deferred delivery. */
struct cni_note {
	TAILQ_ENTRY(cni_note)	 entry;
	bool			 failed;
	struct err		 err;
};
TAILQ_HEAD(cni_note_q, cni_note);

struct cni_attach {
	struct fsm		 fsm;
	struct reactor		*r;		/* borrowed */
	char			*container_id;
	char			*netns;
	char			*ifname;
	char			*bin_dirs;
	char			*cache_dir;
	char			*cni_args;
	json_t			*cap_args;	/* object or NULL */
	uint64_t		 timeout_ms;
	cni_done_cb		 on_done;
	void			*arg;		/* borrowed */
	char			*cache_path;
	struct cni_conf		*conf;		/* NULL: nothing to run */
	json_t			*prev;		/* prevResult for the next run */
	struct cni_result	*result;	/* parsed last ADD result */
	struct cni_run		*run;		/* the plugin running now */
	enum cni_cmd		 cmd;
	int			 idx;		/* plugin running or next */
	int			 added;		/* plugins ADD succeeded on + 1 */
	struct err		 run_err;	/* last plugin's failure */
	struct err		 op_err;	/* the operation's outcome */
	bool			 op_failed;	/* rolling back an ADD */
	struct cni_note_q	 notes;
};

/* Action bodies called by the table (cni_fsm.c), defined in cni.c. */
int	cni_do_begin(struct cni_attach *, enum cni_cmd, struct err *);
void	cni_do_next(struct cni_attach *);
int	cni_do_add_done(struct cni_attach *, struct err *);
void	cni_do_rollback(struct cni_attach *);
void	cni_do_rolled_back(struct cni_attach *);
void	cni_do_finish(struct cni_attach *, bool ok);
int	cni_do_del_done(struct cni_attach *, struct err *);
void	cni_do_nothing_to_delete(struct cni_attach *);
void	cni_do_report(struct cni_attach *);
bool	cni_more(const struct cni_attach *);

/* Conflists (cni_conf.c). */
struct cni_conf	*cni_conf_parse(const char *bytes, size_t len, struct err *);
struct cni_conf	*cni_conf_load(const char *path, struct err *);
void		 cni_conf_free(struct cni_conf *);
bool		 cni_name_valid(const char *);
bool		 cni_ifname_valid(const char *);
/* The JSON a plugin gets on stdin; caller frees with json_decref. */
json_t		*cni_conf_plugin_stdin(const struct cni_conf *, int i,
		    json_t *prev, json_t *cap_args);

/* Validate a decoded result (cni_result.c). */
int	 cni_result_check(const json_t *, struct cni_result **, struct err *);

/* The cache (cni_cache.c). */
char	*cni_cache_path(const char *dir, const char *network,
	    const char *container_id, const char *ifname);
int	 cni_cache_parse(const char *json, size_t len,
	    struct cni_cache_entry **, struct err *);
/* Read path; *out is NULL (and 0 returned) when it does not exist. */
int	 cni_cache_read(const char *path, struct cni_cache_entry **out,
	    struct err *);
void	 cni_cache_entry_free(struct cni_cache_entry *);
int	 cni_cache_write(const struct cni_attach *, struct err *);
int	 cni_cache_remove(const char *path, struct err *);
char	*cni_base64_encode(const void *, size_t);
int	 cni_base64_decode(const char *, size_t, char **out, size_t *outlen);

/* Plugin runs (cni_run.c). */
struct cni_run	*cni_run_start(struct cni_attach *, enum cni_cmd, int idx,
		    cni_run_cb, void *arg, struct err *);
/* Kill (if running) and forget: the callback will not run. */
void		 cni_run_abandon(struct cni_run *);
const char	*cni_cmd_name(enum cni_cmd);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An attachment: options, the conflist, the result chain and the plugin
 * running now; its life is the cni machine (cni_fsm.c), whose actions
 * call the cni_do_* bodies here. A plugin's end (cni_run.c) becomes
 * PLUGIN_OK, PLUGIN_FAILED or TIMEOUT, sent from the reactor callback;
 * which plugin runs next, and whether a chain is over, is decided by the
 * table's guards on idx. A plugin that cannot even be started counts as a
 * failed plugin (posted PLUGIN_FAILED), so spawning never fails an action.
 *
 * The owner hears of each operation's end once, from a deferred call
 * (notes queue in order), never from inside a cni_attach_* call.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cni/cni_int.h"

static void	cni_run_done_cb(struct cni_run *, const struct err *,
		    const char *, size_t, void *);

/* ---- notifications ---------------------------------------------------- */

static void
cni_notify_cb(void *arg)
{
	struct cni_attach *a = arg;
	struct cni_note *n = TAILQ_FIRST(&a->notes);
	struct err e;
	bool failed;

	if (n == NULL)
		return;
	TAILQ_REMOVE(&a->notes, n, entry);
	failed = n->failed;
	e = n->err;
	free(n);
	/* The callback may free a: touch nothing after it. */
	if (a->on_done != NULL)
		a->on_done(a, failed ? &e : NULL, a->arg);
}

static void
cni_notify(struct cni_attach *a, const struct err *why)
{
	struct cni_note *n = xcalloc(1, sizeof *n);

	if (why != NULL) {
		n->failed = true;
		n->err = *why;
		log_debug("cni=%s failed: %s", a->fsm.id, why->msg);
	}
	TAILQ_INSERT_TAIL(&a->notes, n, entry);
	reactor_defer(a->r, cni_notify_cb, a);
}

/* ---- results ---------------------------------------------------------- */

/* Take res (a checked result document) as the chain's latest. */
static void
cni_set_prev(struct cni_attach *a, json_t *res, struct cni_result *parsed)
{
	json_decref(a->prev);
	a->prev = res;
	cni_result_free(a->result);
	a->result = parsed;
}

/* An ADD's stdout must be a result we can parse and pass on. */
static int
cni_take_result(struct cni_attach *a, const char *out, size_t len,
    struct err *err)
{
	const char *type = json_string_value(json_object_get(
	    a->conf->plugins[a->idx], "type"));
	struct cni_result *parsed;
	json_error_t jerr;
	json_t *res;

	res = json_loadb(out, len, 0, &jerr);
	if (res == NULL)
		return err_set(err, ERR_PROTOCOL, "cni %s: plugin %s ADD: "
		    "output is not JSON: %s (line %d)", a->conf->name, type,
		    jerr.text, jerr.line);
	if (cni_result_check(res, &parsed, err) < 0) {
		json_decref(res);
		return err_wrap(err, "cni %s: plugin %s ADD: invalid result",
		    a->conf->name, type);
	}
	cni_set_prev(a, res, parsed);
	return 0;
}

/* A plugin ended: keep what it said, then tell the machine. */
static void
cni_run_done_cb(struct cni_run *run, const struct err *why, const char *out,
    size_t len, void *arg)
{
	struct cni_attach *a = arg;
	int ev = CNI_EV_PLUGIN_OK;

	err_clear(&a->run_err);
	if (why != NULL)
		a->run_err = *why;
	else if (a->cmd == CNI_CMD_ADD && !a->op_failed &&
	    cni_take_result(a, out, len, &a->run_err) < 0)
		why = &a->run_err;
	else if (a->cmd == CNI_CMD_ADD && !a->op_failed)
		a->added = a->idx + 1;
	if (why != NULL)
		ev = why->code == ERR_TIMEOUT ? CNI_EV_TIMEOUT :
		    CNI_EV_PLUGIN_FAILED;
	cni_run_abandon(run);
	a->run = NULL;
	(void)fsm_send(&a->fsm, ev, NULL, 0, NULL);
}

/* Start the plugin at idx; failing to start is that plugin failing. */
static void
cni_spawn(struct cni_attach *a)
{
	err_clear(&a->run_err);
	a->run = cni_run_start(a, a->cmd, a->idx, cni_run_done_cb, a,
	    &a->run_err);
	if (a->run == NULL)
		fsm_post(&a->fsm, CNI_EV_PLUGIN_FAILED, NULL, 0);
	else
		fsm_detail(&a->fsm, "plugin=%d cmd=%s", a->idx,
		    cni_cmd_name(a->cmd));
}

/* ---- action bodies (cni_fsm.c) ---------------------------------------- */

/* A failing action also keeps its reason for the FAIL row's report. */
static int
cni_fail(struct cni_attach *a, struct err *err)
{
	a->run_err = *err;
	return -1;
}

/* DEL and CHECK pass the cached result; an in-memory one is as good. */
static int
cni_load_cached(struct cni_attach *a, struct err *err)
{
	struct cni_cache_entry *e;
	struct cni_result *parsed;

	if (a->prev != NULL)
		return 0;
	if (cni_cache_read(a->cache_path, &e, err) < 0)
		return -1;
	if (e != NULL && e->result != NULL &&
	    cni_result_check(e->result, &parsed, err) == 0)
		cni_set_prev(a, json_incref(e->result), parsed);
	cni_cache_entry_free(e);
	return 0;
}

int
cni_do_begin(struct cni_attach *a, enum cni_cmd cmd, struct err *err)
{
	a->cmd = cmd;
	a->op_failed = false;
	err_clear(&a->op_err);
	switch (cmd) {
	case CNI_CMD_ADD:
		if (a->netns == NULL)
			return err_set(err, EINVAL, "cni %s: ADD needs a netns",
			    a->conf->name), cni_fail(a, err);
		cni_set_prev(a, NULL, NULL);
		a->idx = 0;
		a->added = 0;
		break;
	case CNI_CMD_CHECK:
		if (cni_load_cached(a, err) < 0)
			return cni_fail(a, err);
		if (a->prev == NULL)
			return err_set(err, ENOENT, "cni %s: CHECK: no cached "
			    "result for %s", a->conf->name, a->container_id),
			    cni_fail(a, err);
		a->idx = 0;
		break;
	case CNI_CMD_DEL:
		if (cni_load_cached(a, err) < 0)
			return cni_fail(a, err);
		a->idx = a->conf->nplugins - 1;
		break;
	}
	cni_spawn(a);
	return 0;
}

/* Is there a plugin after the one that just ended, in this direction? */
bool
cni_more(const struct cni_attach *a)
{
	if (a->cmd == CNI_CMD_DEL)
		return a->idx > 0;
	return a->idx + 1 < a->conf->nplugins;
}

void
cni_do_next(struct cni_attach *a)
{
	if (a->op_failed && a->run_err.code != 0)
		log_warnx("cni=%s rollback continues past: %s", a->fsm.id,
		    a->run_err.msg);
	a->idx += a->cmd == CNI_CMD_DEL ? -1 : 1;
	cni_spawn(a);
}

int
cni_do_add_done(struct cni_attach *a, struct err *err)
{
	if (cni_cache_write(a, err) < 0)
		return cni_fail(a, err);
	log_info("cni=%s attached ip=%s", a->fsm.id, a->result != NULL &&
	    a->result->nips > 0 ? a->result->ips[0].address : "none");
	cni_notify(a, NULL);
	return 0;
}

/*
 * ADD failed at plugin idx (its error in run_err): DEL idx..0 in reverse,
 * best effort, each with the same deadline, then report the first error.
 */
void
cni_do_rollback(struct cni_attach *a)
{
	a->op_err = a->run_err;
	a->op_failed = true;
	a->cmd = CNI_CMD_DEL;
	log_warnx("cni=%s ADD failed, rolling back %d plugin%s: %s", a->fsm.id,
	    a->idx + 1, a->idx == 0 ? "" : "s", a->op_err.msg);
	cni_spawn(a);
}

void
cni_do_rolled_back(struct cni_attach *a)
{
	struct err err;

	if (a->run_err.code != 0)
		log_warnx("cni=%s rollback: %s", a->fsm.id, a->run_err.msg);
	if (cni_cache_remove(a->cache_path, &err) < 0)
		log_warnx("cni=%s %s", a->fsm.id, err.msg);
	cni_set_prev(a, NULL, NULL);
	cni_notify(a, &a->op_err);
}

/* The end of a CHECK (ok or not) or of a DEL that failed. */
void
cni_do_finish(struct cni_attach *a, bool ok)
{
	cni_notify(a, ok ? NULL : &a->run_err);
}

int
cni_do_del_done(struct cni_attach *a, struct err *err)
{
	if (cni_cache_remove(a->cache_path, err) < 0)
		return cni_fail(a, err);
	cni_set_prev(a, NULL, NULL);
	log_info("cni=%s detached", a->fsm.id);
	cni_notify(a, NULL);
	return 0;
}

/* DEL of what is not there succeeds (spec: DEL must be idempotent). */
void
cni_do_nothing_to_delete(struct cni_attach *a)
{
	cni_notify(a, NULL);
}

/* An operation could not start: its reason is in run_err. */
void
cni_do_report(struct cni_attach *a)
{
	cni_notify(a, &a->run_err);
}

/* ---- construction ----------------------------------------------------- */

static char *
cni_dup(const char *s, const char *dflt)
{
	return s != NULL ? xstrdup(s) : dflt != NULL ? xstrdup(dflt) : NULL;
}

static int
cni_opts_check(const struct cni_opts *o, struct err *err)
{
	const char *ifname = o->ifname != NULL ? o->ifname : "eth0";

	if (o->container_id == NULL || !cni_name_valid(o->container_id))
		return err_set(err, EINVAL, "cni: invalid container id");
	if (!cni_ifname_valid(ifname))
		return err_set(err, EINVAL, "cni: invalid ifname");
	if (o->conflist_path == NULL && o->conflist_json == NULL &&
	    (o->network == NULL || !cni_name_valid(o->network)))
		return err_set(err, EINVAL, "cni: no conflist and no valid "
		    "network name");
	if (o->netns != NULL && (o->netns[0] != '/' ||
	    strlen(o->netns) > CNI_PATH_MAX))
		return err_set(err, EINVAL, "cni: netns must be an absolute "
		    "path");
	return 0;
}

static int
cni_cap_args(struct cni_attach *a, const char *text, struct err *err)
{
	json_error_t jerr;

	if (text == NULL)
		return 0;
	a->cap_args = json_loads(text, 0, &jerr);
	if (!json_is_object(a->cap_args))
		return err_set(err, EINVAL, "cni: capability args are not a "
		    "JSON object");
	return 0;
}

/* Without a conflist: config, args and result come from the cache. */
static int
cni_from_cache(struct cni_attach *a, const char *network, struct err *err)
{
	struct cni_cache_entry *e;
	struct cni_result *parsed;

	a->cache_path = cni_cache_path(a->cache_dir, network,
	    a->container_id, a->ifname);
	if (cni_cache_read(a->cache_path, &e, err) < 0)
		return -1;
	if (e == NULL)
		return 0;
	a->conf = cni_conf_parse(e->config, e->config_len, err);
	if (a->conf == NULL || strcmp(e->container_id, a->container_id) != 0 ||
	    strcmp(e->ifname, a->ifname) != 0) {
		cni_cache_entry_free(e);
		return a->conf == NULL ? -1 : err_set(err, EINVAL, "cni cache: "
		    "%s belongs to another attachment", a->cache_path);
	}
	if (a->cni_args == NULL)
		a->cni_args = TAKE_PTR(e->cni_args);
	if (a->netns == NULL)
		a->netns = TAKE_PTR(e->netns);
	if (a->cap_args == NULL && e->capability_args != NULL)
		a->cap_args = json_loads(e->capability_args, 0, NULL);
	if (e->result != NULL && cni_result_check(e->result, &parsed, err) == 0)
		cni_set_prev(a, json_incref(e->result), parsed);
	cni_cache_entry_free(e);
	return 0;
}

static int
cni_load(struct cni_attach *a, const struct cni_opts *o, struct err *err)
{
	if (o->conflist_path != NULL)
		a->conf = cni_conf_load(o->conflist_path, err);
	else if (o->conflist_json != NULL)
		a->conf = cni_conf_parse(o->conflist_json,
		    strlen(o->conflist_json), err);
	else
		return cni_from_cache(a, o->network, err);
	if (a->conf == NULL)
		return -1;
	if (o->network != NULL && strcmp(o->network, a->conf->name) != 0)
		return err_set(err, EINVAL, "cni: conflist is network %s, not "
		    "%s", a->conf->name, o->network);
	a->cache_path = cni_cache_path(a->cache_dir, a->conf->name,
	    a->container_id, a->ifname);
	return 0;
}

struct cni_attach *
cni_attach_new(struct reactor *r, struct fsm_env *env,
    const struct cni_opts *o, struct err *err)
{
	struct cni_attach *a;
	char id[FSM_ID_MAX];

	if (cni_opts_check(o, err) < 0)
		return NULL;
	a = xcalloc(1, sizeof *a);
	TAILQ_INIT(&a->notes);
	a->r = r;
	a->container_id = xstrdup(o->container_id);
	a->netns = cni_dup(o->netns, NULL);
	a->ifname = cni_dup(o->ifname, "eth0");
	a->bin_dirs = cni_dup(o->bin_dirs, CNI_DEFAULT_BIN_DIRS);
	a->cache_dir = cni_dup(o->cache_dir, CNI_DEFAULT_CACHE_DIR);
	a->cni_args = cni_dup(o->cni_args, NULL);
	a->timeout_ms = o->timeout_ms != 0 ? o->timeout_ms :
	    CNI_DEFAULT_TIMEOUT_MS;
	a->on_done = o->on_done;
	a->arg = o->arg;
	if (cni_cap_args(a, o->capability_args, err) < 0 ||
	    cni_load(a, o, err) < 0) {
		cni_attach_free(a);
		return NULL;
	}
	snprintf(id, sizeof id, "%s/%s/%s", a->conf != NULL ? a->conf->name :
	    o->network, a->container_id, a->ifname);
	fsm_init(&a->fsm, &cni_fsm_def, env, id, a);
	return a;
}

/* Dispatch an operation's event: only a refusal is the caller's error. */
static int
cni_attach_op(struct cni_attach *a, int ev, struct err *err)
{
	struct err e;

	err_clear(&e);
	if (fsm_dispatch(&a->fsm, ev, NULL, &e) == 0)
		return 0;
	if (e.code != ERR_UNHANDLED && e.code != ERR_GUARD)
		return 0;
	if (err != NULL)
		*err = e;
	return -1;
}

int
cni_attach_add(struct cni_attach *a, struct err *err)
{
	return cni_attach_op(a, CNI_EV_ADD, err);
}

int
cni_attach_check(struct cni_attach *a, struct err *err)
{
	return cni_attach_op(a, CNI_EV_CHECK, err);
}

int
cni_attach_del(struct cni_attach *a, struct err *err)
{
	return cni_attach_op(a, CNI_EV_DEL, err);
}

const struct cni_result *
cni_attach_result(const struct cni_attach *a)
{
	return a->result;
}

const char *
cni_attach_state(const struct cni_attach *a)
{
	return fsm_state_name(a->fsm.def, a->fsm.state);
}

const char *
cni_attach_cache_path(const struct cni_attach *a)
{
	return a->cache_path;
}

void
cni_attach_free(struct cni_attach *a)
{
	struct cni_note *n;

	if (a == NULL)
		return;
	reactor_defer_cancel(a->r, a);
	while ((n = TAILQ_FIRST(&a->notes)) != NULL) {
		TAILQ_REMOVE(&a->notes, n, entry);
		free(n);
	}
	cni_run_abandon(a->run);
	if (a->fsm.def != NULL)
		fsm_fini(&a->fsm);
	cni_conf_free(a->conf);
	json_decref(a->prev);
	json_decref(a->cap_args);
	cni_result_free(a->result);
	free(a->container_id);
	free(a->netns);
	free(a->ifname);
	free(a->bin_dirs);
	free(a->cache_dir);
	free(a->cni_args);
	free(a->cache_path);
	free(a);
}

/* ---- blocking DEL from the cache -------------------------------------- */

struct cni_sync {
	struct reactor	*r;
	bool		 done;
	bool		 failed;
	struct err	 err;
};

static void
cni_sync_cb(struct cni_attach *a, const struct err *result, void *arg)
{
	struct cni_sync *s = arg;

	(void)a;
	s->done = true;
	if (result != NULL) {
		s->failed = true;
		s->err = *result;
	}
	reactor_stop(s->r);
}

int
cni_del_cached(const char *cache_dir, const char *network,
    const char *container_id, const char *ifname, const char *bin_dirs,
    uint64_t timeout_ms, struct err *err)
{
	struct cni_sync s = { 0 };
	struct cni_opts o = { .network = network, .container_id = container_id,
	    .ifname = ifname, .bin_dirs = bin_dirs, .cache_dir = cache_dir,
	    .timeout_ms = timeout_ms, .on_done = cni_sync_cb, .arg = &s };
	struct fsm_env *env;
	struct cni_attach *a;
	int ret = -1;

	if ((s.r = reactor_new(err)) == NULL)
		return -1;
	env = fsm_env_new();
	if ((a = cni_attach_new(s.r, env, &o, err)) != NULL &&
	    cni_attach_del(a, err) == 0) {
		/* Every plugin has a deadline, so this loop ends. */
		while (!s.done && reactor_run(s.r) == 0)
			;
		if (s.done && s.failed && err != NULL)
			*err = s.err;
		ret = s.done && !s.failed ? 0 : -1;
		if (!s.done)
			err_set(err, EIO, "cni: the reactor failed");
	}
	cni_attach_free(a);
	fsm_env_free(env);
	reactor_free(s.r);
	return ret;
}

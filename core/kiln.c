/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln: one command for operators. `kiln metrics` prints one container's
 * Prometheus text (its shim's GET /metrics), `kiln top` tabulates every
 * kiln container, `kiln monitor` serves them all to Prometheus; `kiln
 * trace`, `kiln fsm` and `kiln fsmcheck` run the table tools installed
 * beside this binary (kiln-trace, kiln-fsm, kiln-fsmcheck), which stay
 * what they were.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/kiln.h"

static void
kiln_usage(void)
{
	fprintf(stderr, "usage: kiln metrics [-n NAMESPACE] ID\n"
	    "       kiln top [-n NAMESPACE] [--once | --json]\n"
	    "       kiln monitor --listen ADDR:PORT\n"
	    "       kiln trace|fsm|fsmcheck ARGS...\n");
}

/* A run dir's name: the 16 hex digits core_run_dir makes. */
static bool
kiln_is_run_dir(const char *name)
{
	size_t i;

	for (i = 0; name[i] != '\0'; i++)
		if (!((name[i] >= '0' && name[i] <= '9') ||
		    (name[i] >= 'a' && name[i] <= 'f')))
			return false;
	return i == 16;
}

static int
kiln_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t
kiln_find_sockets(char ***out)
{
	DIR *d = opendir(SHIM_RUN_DIR);
	struct dirent *e;
	struct stat st;
	char **v = NULL;
	size_t n = 0;

	while (d != NULL && (e = readdir(d)) != NULL && n < KILN_MAX_TARGETS) {
		char *p;

		if (!kiln_is_run_dir(e->d_name))
			continue;
		p = xasprintf("%s/%s/%s", SHIM_RUN_DIR, e->d_name,
		    CORE_METRICS_SOCK);
		if (stat(p, &st) < 0 || !S_ISSOCK(st.st_mode)) {
			free(p);
			continue;
		}
		v = xreallocarray(v, n + 1, sizeof *v);
		v[n++] = p;
	}
	if (d != NULL)
		closedir(d);
	if (n > 0)
		qsort(v, n, sizeof *v, kiln_cmp);
	*out = v;
	return n;
}

void
kiln_free_sockets(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* ---- fetching every shim at once ------------------------------------ */

struct kiln_fetch_one {
	struct kiln_fetch	*f;
	size_t			 i;
};

static void
kiln_fetch_done_cb(void *arg)
{
	struct kiln_fetch *f = arg;

	f->done(f, f->arg);
}

static void
kiln_fetch_cb(int status, const uint8_t *body, size_t len,
    const struct err *err, void *arg)
{
	struct kiln_fetch_one *o = arg;
	struct kiln_fetch *f = o->f;
	struct kiln_target *t = &f->t[o->i];

	free(o);
	t->done = true;
	t->status = status;
	if (err != NULL)
		snprintf(t->err, sizeof t->err, "%s", err->msg);
	else
		buf_append(&t->body, body, len);
	if (--f->left == 0)
		f->done(f, f->arg);
}

void
kiln_fetch_start(struct kiln_fetch *f, struct reactor *r, char **socks,
    size_t n, void (*done)(struct kiln_fetch *, void *), void *arg)
{
	size_t i;

	memset(f, 0, sizeof *f);
	f->r = r;
	f->n = f->left = n;
	f->done = done;
	f->arg = arg;
	f->t = xcalloc(n > 0 ? n : 1, sizeof *f->t);
	if (n == 0) {
		/* Callbacks run from the reactor, never from here. */
		reactor_defer(r, kiln_fetch_done_cb, f);
		return;
	}
	for (i = 0; i < n; i++) {
		struct kiln_fetch_one *o = xcalloc(1, sizeof *o);

		o->f = f;
		o->i = i;
		f->t[i].sock = xstrdup(socks[i]);
		buf_init(&f->t[i].body);
		reactor_http_get(r, socks[i], "/metrics", KILN_FETCH_MS,
		    KILN_FETCH_MAX, kiln_fetch_cb, o);
	}
}

void
kiln_fetch_fini(struct kiln_fetch *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		free(f->t[i].sock);
		buf_fini(&f->t[i].body);
	}
	free(f->t);
	f->t = NULL;
	f->n = 0;
}

/* ---- kiln metrics ------------------------------------------------------ */

static void
kiln_metrics_done(struct kiln_fetch *f, void *arg)
{
	int *rc = arg;
	struct kiln_target *t = &f->t[0];

	if (t->status == 200) {
		fwrite(buf_head(&t->body), 1, buf_used(&t->body), stdout);
		*rc = 0;
	} else if (t->status != 0)
		fprintf(stderr, "kiln: %s: HTTP %d: %.*s", t->sock, t->status,
		    (int)buf_used(&t->body), (const char *)buf_head(&t->body));
	else
		fprintf(stderr, "kiln: %s: %s (is it running under kiln?)\n",
		    t->sock, t->err);
	reactor_stop(f->r);
}

static int
kiln_metrics_main(int argc, char **argv)
{
	const char *ns = "default", *id = NULL;
	_cleanup_free_ char *dir = NULL, *sock = NULL;
	struct kiln_fetch f;
	struct reactor *r;
	struct err err;
	int i, rc = 1;

	for (i = 1; i < argc; i++)
		if ((strcmp(argv[i], "-n") == 0 ||
		    strcmp(argv[i], "--namespace") == 0) && i + 1 < argc)
			ns = argv[++i];
		else if (id == NULL && argv[i][0] != '-')
			id = argv[i];
		else
			return kiln_usage(), 2;
	if (id == NULL || !ident_valid(id, PROTO_ID_MAX) ||
	    !ident_valid(ns, PROTO_ID_MAX))
		return kiln_usage(), 2;
	dir = core_run_dir_path(ns, id);
	sock = xasprintf("%s/%s", dir, CORE_METRICS_SOCK);
	if ((r = reactor_new(&err)) == NULL)
		return fprintf(stderr, "kiln: %s\n", err.msg), 1;
	kiln_fetch_start(&f, r, &sock, 1, kiln_metrics_done, &rc);
	reactor_run(r);
	kiln_fetch_fini(&f);
	reactor_free(r);
	return rc;
}

/* ---- the table tools ------------------------------------------------- */

/* Run tool (kiln-trace, ...) from this binary's own directory. */
static int
kiln_exec_tool(const char *tool, int argc, char **argv)
{
	char self[PATH_MAX], *slash, **args;
	_cleanup_free_ char *path = NULL;
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	int i;

	if (n <= 0)
		return fprintf(stderr, "kiln: /proc/self/exe: %s\n",
		    strerror(errno)), 1;
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) != NULL)
		*slash = '\0';
	path = xasprintf("%s/%s", self, tool);
	args = xcalloc((size_t)argc + 1, sizeof *args);
	args[0] = path;
	for (i = 1; i < argc; i++)
		args[i] = argv[i];
	execv(path, args);
	fprintf(stderr, "kiln: %s: %s\n", path, strerror(errno));
	free(args);
	return 127;
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	log_init("kiln", LOG_LVL_WARN, 2);
	if (argc < 2)
		return kiln_usage(), 2;
	if (strcmp(argv[1], "metrics") == 0)
		return kiln_metrics_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "top") == 0)
		return kiln_top_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "monitor") == 0)
		return kiln_monitor_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "trace") == 0)
		return kiln_exec_tool("kiln-trace", argc - 1, argv + 1);
	if (strcmp(argv[1], "fsm") == 0)
		return kiln_exec_tool("kiln-fsm", argc - 1, argv + 1);
	if (strcmp(argv[1], "fsmcheck") == 0)
		return kiln_exec_tool("kiln-fsmcheck", argc - 1, argv + 1);
	kiln_usage();
	return 2;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * core: the shim's Prometheus endpoint. GET /metrics on a unix socket in
 * the task's run dir (libevent's evhttp through reactor/): each scrape
 * asks the guest for this container's metrics (pull: nothing runs between
 * scrapes, so an idle shim never wakes for this), checks the answer and
 * answers with it and the shim's own metrics. The wait is bounded by the
 * agent call's deadline; no VM, no answer or a bad one is a 503.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "core/core_int.h"

#define PROM_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

struct core_metrics_srv {
	struct task		*t;		/* borrowed: owner */
	char			*path;
	struct reactor_http	*http;
	TAILQ_HEAD(, core_scrape) scrapes;
};

/* One scrape waiting on the guest. */
struct core_scrape {
	TAILQ_ENTRY(core_scrape) entry;
	struct core_metrics_srv	*srv;		/* borrowed */
	struct reactor_http_req	*req;
	uint32_t		 call;		/* agent call id */
};

static void
scrape_text(struct reactor_http_req *req, int code, const char *msg)
{
	reactor_http_reply(req, code, "text/plain; charset=utf-8", msg,
	    strlen(msg));
}

static void
scrape_free(struct core_scrape *sc)
{
	TAILQ_REMOVE(&sc->srv->scrapes, sc, entry);
	free(sc);
}

/* The guest's answer, checked, then the shim's own series after it. */
static void
scrape_reply(struct core_scrape *sc,
    const Kiln__Agent__V1__MetricsResponse *mr)
{
	struct task *t = sc->srv->t;
	struct core_vm_size size = { .vcpus = t->size.vcpus,
	    .mem_mib = t->size.mem_mib };
	struct buf b;
	struct err err;

	if (core_metrics_check(mr, t->id, &err) < 0) {
		log_warnx("task=%s hostile guest: %s", t->id, err.msg);
		return scrape_text(sc->req, 503, "the guest's metrics are "
		    "malformed\n");
	}
	if (t->resize != NULL) {
		size.vcpus = t->resize->vcpus;
		size.mem_mib = t->resize->mem_mib;
		size.resize_failures = t->resize->failures;
	}
	if (t->scaler != NULL) {
		size.scaler_up = t->scaler->ups;
		size.scaler_down = t->scaler->downs;
		size.scaler_refused = t->scaler->refused;
		size.scaler_failed = t->scaler->failures;
	}
	buf_init(&b);
	core_metrics_prom(&b, t->shim->namespace, t->id, mr);
	core_stats_prom(&b, t->shim->namespace, t->id, &t->shim->stats, &size);
	reactor_http_reply(sc->req, 200, PROM_CONTENT_TYPE, buf_head(&b),
	    buf_used(&b));
	buf_fini(&b);
}

static void
scrape_cb(const struct proto_reply *rep, void *arg)
{
	struct core_scrape *sc = arg;
	char msg[512];

	if (rep->code == PROTO_OK && rep->msg != NULL)
		scrape_reply(sc, (const void *)rep->msg);
	else {
		snprintf(msg, sizeof msg, "the guest did not answer: %s\n",
		    rep->message);
		scrape_text(sc->req, 503, msg);
	}
	scrape_free(sc);
}

static void
scrape_start(struct core_metrics_srv *srv, struct reactor_http_req *req)
{
	Kiln__Agent__V1__ContainerRef ref = KILN__AGENT__V1__CONTAINER_REF__INIT;
	struct core_scrape *sc = xcalloc(1, sizeof *sc);
	struct task *t = srv->t;

	sc->srv = srv;
	sc->req = req;
	TAILQ_INSERT_TAIL(&srv->scrapes, sc, entry);
	ref.container_id = t->id;
	sc->call = task_agent_call(t, "GetMetrics", &ref.base,
	    &kiln__agent__v1__metrics_response__descriptor, CORE_SCRAPE_MS,
	    scrape_cb, sc);
	if (sc->call == 0) {
		scrape_text(req, 503, "the container's VM is not running\n");
		scrape_free(sc);
	}
}

static void
metrics_http_cb(struct reactor_http_req *req, const char *path, void *arg)
{
	struct core_metrics_srv *srv = arg;

	if (strcmp(path, "/metrics") != 0)
		return scrape_text(req, 404, "only /metrics is served here\n");
	if (!ident_valid(srv->t->shim->namespace, PROTO_ID_MAX))
		return scrape_text(req, 500, "namespace is not a valid "
		    "label value\n");
	scrape_start(srv, req);
}

struct core_metrics_srv *
core_metrics_srv_new(struct task *t, const char *run_dir, struct err *err)
{
	struct core_metrics_srv *srv = xcalloc(1, sizeof *srv);
	int fd;

	srv->t = t;
	TAILQ_INIT(&srv->scrapes);
	srv->path = xasprintf("%s/%s", run_dir, CORE_METRICS_SOCK);
	if ((fd = unix_listen(srv->path, 16, err)) < 0)
		goto fail;
	srv->http = reactor_http_new(t->shim->r, fd, metrics_http_cb, srv, err);
	if (srv->http == NULL) {
		unlink(srv->path);
		goto fail;
	}
	return srv;
fail:
	free(srv->path);
	free(srv);
	return NULL;
}

void
core_metrics_srv_free(struct core_metrics_srv *srv)
{
	struct core_scrape *sc;

	if (srv == NULL)
		return;
	/* The VM's connection still stands: its calls can be forgotten. */
	while ((sc = TAILQ_FIRST(&srv->scrapes)) != NULL) {
		if (srv->t->vm != NULL && srv->t->vm->conn != NULL)
			proto_conn_cancel(srv->t->vm->conn, sc->call);
		scrape_text(sc->req, 503, "the shim is going away\n");
		scrape_free(sc);
	}
	reactor_http_free(srv->http);
	unlink(srv->path);
	free(srv->path);
	free(srv);
}

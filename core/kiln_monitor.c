/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln monitor: one HTTP endpoint (evhttp on TCP) for Prometheus. Each
 * GET /metrics scrapes every shim found in the run dirs at that moment,
 * all at once, checks each answer as Prometheus text and merges the
 * families (one HELP/TYPE each, the samples of every shim under it); a
 * shim that fails or sends something malformed is left out and counted.
 * Nothing runs between scrapes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "core/kiln.h"

#define MONITOR_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"
#define MONITOR_MAX_SCRAPES	16	/* at once; more get a 503 */

struct monitor;

struct monitor_scrape {
	struct monitor		*m;		/* borrowed */
	struct reactor_http_req	*req;
	struct kiln_fetch	 fetch;
	uint64_t		 start_ns;
	bool			 busy;
};

struct monitor {
	struct reactor		*r;
	struct reactor_http	*http;
	struct monitor_scrape	 scrapes[MONITOR_MAX_SCRAPES];
	uint64_t		 failures;	/* shims left out, ever */
	uint64_t		 served;
};

/* The monitor's own series, after the shims'. */
static void
monitor_self(struct monitor *m, struct buf *b, size_t targets, size_t good,
    double secs)
{
	buf_printf(b, "# HELP kiln_monitor_targets Shims found in the run "
	    "dirs at this scrape.\n# TYPE kiln_monitor_targets gauge\n"
	    "kiln_monitor_targets %zu\n", targets);
	buf_printf(b, "# HELP kiln_monitor_targets_up Shims whose answer "
	    "is in this scrape.\n# TYPE kiln_monitor_targets_up gauge\n"
	    "kiln_monitor_targets_up %zu\n", good);
	buf_printf(b, "# HELP kiln_monitor_target_failures_total Shim "
	    "answers left out (error or malformed).\n"
	    "# TYPE kiln_monitor_target_failures_total counter\n"
	    "kiln_monitor_target_failures_total %llu\n",
	    (unsigned long long)m->failures);
	buf_printf(b, "# HELP kiln_monitor_scrape_seconds Time to gather "
	    "this scrape.\n# TYPE kiln_monitor_scrape_seconds gauge\n"
	    "kiln_monitor_scrape_seconds %.6f\n", secs);
}

static void
monitor_fetched(struct kiln_fetch *f, void *arg)
{
	struct monitor_scrape *sc = arg;
	struct core_prom *p = xcalloc(f->n + 1, sizeof *p);
	const struct core_prom **ok = xcalloc(f->n + 1, sizeof *ok);
	size_t i, n = 0;
	struct err err;
	struct buf b;

	for (i = 0; i < f->n; i++) {
		const struct kiln_target *t = &f->t[i];

		if (t->status == 200 && core_prom_parse(&p[i],
		    (const char *)buf_head(&t->body), buf_used(&t->body),
		    &err) == 0) {
			ok[n++] = &p[i];
			continue;
		}
		sc->m->failures++;
		log_warnx("target=%s %s", t->sock, t->status == 200 ?
		    err.msg : t->status != 0 ? "the shim answered an error" :
		    t->err);
	}
	buf_init(&b);
	core_prom_merge(&b, ok, n);
	monitor_self(sc->m, &b, f->n, n, (double)(time_mono_ns() -
	    sc->start_ns) / 1e9);
	reactor_http_reply(sc->req, 200, MONITOR_CONTENT_TYPE, buf_head(&b),
	    buf_used(&b));
	buf_fini(&b);
	for (i = 0; i < f->n; i++)
		core_prom_fini(&p[i]);
	free(p);
	free(ok);
	kiln_fetch_fini(f);
	sc->busy = false;
	sc->m->served++;
}

static void
monitor_http_cb(struct reactor_http_req *req, const char *path, void *arg)
{
	struct monitor *m = arg;
	struct monitor_scrape *sc = NULL;
	char **socks;
	size_t i, n;

	if (strcmp(path, "/metrics") != 0)
		return reactor_http_reply(req, 404, "text/plain",
		    "kiln monitor serves /metrics\n", 29);
	for (i = 0; i < MONITOR_MAX_SCRAPES && sc == NULL; i++)
		if (!m->scrapes[i].busy)
			sc = &m->scrapes[i];
	if (sc == NULL)
		return reactor_http_reply(req, 503, "text/plain",
		    "too many scrapes at once\n", 25);
	sc->m = m;
	sc->req = req;
	sc->busy = true;
	sc->start_ns = time_mono_ns();
	n = kiln_find_sockets(&socks);
	kiln_fetch_start(&sc->fetch, m->r, socks, n, monitor_fetched, sc);
	kiln_free_sockets(socks, n);
}

/* ADDR:PORT, ADDR an IPv4 address or [IPv6]: no resolver is involved. */
static int
monitor_listen(const char *spec, struct err *err)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	_cleanup_free_ char *host = xstrdup(spec);
	char *colon = strrchr(host, ':'), *end;
	long port;
	int fd, one = 1;

	if (colon == NULL)
		return err_set(err, EINVAL, "--listen %s: no :PORT", spec);
	*colon = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port < 1 || port > 65535)
		return err_set(err, EINVAL, "--listen %s: bad port", spec);
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		host[strlen(host) - 1] = '\0';
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host + 1, &sin6->sin6_addr) != 1)
			return err_set(err, EINVAL, "--listen %s: bad IPv6 "
			    "address", spec);
	} else {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return err_set(err, EINVAL, "--listen %s: bad IPv4 "
			    "address", spec);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0)
		return err_set(err, errno, "socket: %m");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, ss.ss_family == AF_INET ?
	    sizeof *sin : sizeof *sin6) < 0 || listen(fd, 64) < 0) {
		err_set(err, errno, "listen %s: %m", spec);
		close(fd);
		return -1;
	}
	return fd;
}

static void
monitor_sig_cb(int signo, void *arg)
{
	struct monitor *m = arg;

	log_info("signal %d: exiting", signo);
	reactor_stop(m->r);
}

int
kiln_monitor_main(int argc, char **argv)
{
	struct monitor m = { 0 };
	const char *listen_spec = NULL;
	struct err err;
	int fd, i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
			listen_spec = argv[++i];
		else
			return fprintf(stderr, "usage: kiln monitor --listen "
			    "ADDR:PORT\n"), 2;
	if (listen_spec == NULL)
		return fprintf(stderr, "usage: kiln monitor --listen "
		    "ADDR:PORT\n"), 2;
	if ((m.r = reactor_new(&err)) == NULL ||
	    (fd = monitor_listen(listen_spec, &err)) < 0 ||
	    (m.http = reactor_http_new(m.r, fd, monitor_http_cb, &m,
	    &err)) == NULL) {
		fprintf(stderr, "kiln monitor: %s\n", err.msg);
		reactor_free(m.r);
		return 1;
	}
	reactor_sig_new(m.r, SIGINT, monitor_sig_cb, &m);
	reactor_sig_new(m.r, SIGTERM, monitor_sig_cb, &m);
	log_info("serving http://%s/metrics", listen_spec);
	reactor_run(m.r);
	/* XXX: scrapes in flight at a signal are dropped: we are exiting. */
	for (i = 0; i < MONITOR_MAX_SCRAPES; i++)
		if (m.scrapes[i].busy)
			kiln_fetch_fini(&m.scrapes[i].fetch);
	reactor_http_free(m.http);
	reactor_free(m.r);
	return 0;
}

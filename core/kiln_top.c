/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln top: every kiln container on this host, from two scrapes of each
 * shim's GET /metrics KILN_TOP_INTERVAL_MS apart: CPU % and page faults
 * per second over the interval, run-queue wait p50/p99 of the waits in
 * the interval (the histogram's difference, interpolated within a bucket
 * as Prometheus' histogram_quantile does), block I/O and network bytes
 * per second, memory now, the VM's vCPUs and memory. --once prints one
 * table, --json the same as a JSON array; without either the table is
 * redrawn every interval until interrupted.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "core/kiln.h"

#define KILN_TOP_INTERVAL_MS	1000
#define KILN_TOP_LIVE_MS	2000
#define KILN_TOP_BUCKETS	32

/* One container's values in one scrape. */
struct top_row {
	bool		 ok;
	char		 ns[PROTO_ID_MAX + 1];
	char		 id[PROTO_ID_MAX + 1];
	double		 cpu_s, faults, mem, vcpus, vm_mem;
	double		 io_bytes, net_bytes;	/* read+written, rx+tx */
	double		 le[KILN_TOP_BUCKETS], cum[KILN_TOP_BUCKETS];
	size_t		 nb;
	double		 count;
};

struct top {
	struct reactor		*r;
	const char		*ns;		/* filter, or NULL */
	bool			 json, live;
	char			**socks;
	size_t			 nsocks;
	struct top_row		*prev, *cur;
	uint64_t		 prev_ns, cur_ns;
	int			 round;
	struct kiln_fetch	 fetch;
	struct reactor_timer	*timer;
	int			 rc;
};

static double
top_value(const struct core_prom *p, const char *name)
{
	const struct core_prom_family *f = core_prom_family(p, name);

	return f != NULL && f->ns > 0 ? f->s[0].value : NAN;
}

/* The run-queue histogram's cumulative buckets, in le order. */
static void
top_hist(const struct core_prom *p, struct top_row *row)
{
	const struct core_prom_family *f = core_prom_family(p,
	    "kiln_container_runqueue_latency_seconds");
	char le[32];
	size_t i;

	for (i = 0; f != NULL && i < f->ns; i++) {
		const struct core_prom_sample *s = &f->s[i];

		if (strcmp(s->name, "kiln_container_runqueue_latency_seconds_"
		    "count") == 0)
			row->count = s->value;
		else if (core_prom_label(s->labels, "le", le, sizeof le) &&
		    row->nb < KILN_TOP_BUCKETS) {
			row->le[row->nb] = strtod(le, NULL);
			row->cum[row->nb++] = s->value;
		}
	}
}

static void
top_parse(const struct kiln_target *t, struct top_row *row)
{
	const struct core_prom_family *f;
	struct core_prom p;
	struct err err;

	memset(row, 0, sizeof *row);
	if (t->status != 200) {
		fprintf(stderr, "kiln top: %s: %s\n", t->sock, t->status != 0 ?
		    "the shim could not ask its guest" : t->err);
		return;
	}
	if (core_prom_parse(&p, (const char *)buf_head(&t->body),
	    buf_used(&t->body), &err) < 0) {
		fprintf(stderr, "kiln top: %s: %s\n", t->sock, err.msg);
		core_prom_fini(&p);
		return;
	}
	f = core_prom_family(&p, "kiln_container_cpu_seconds_total");
	if (f != NULL && f->ns > 0 &&
	    core_prom_label(f->s[0].labels, "namespace", row->ns,
	    sizeof row->ns) &&
	    core_prom_label(f->s[0].labels, "container", row->id,
	    sizeof row->id)) {
		row->ok = true;
		row->cpu_s = f->s[0].value;
		row->faults = top_value(&p, "kiln_container_page_faults_total");
		row->mem = top_value(&p, "kiln_container_memory_bytes");
		row->vcpus = top_value(&p, "kiln_vm_vcpus");
		row->vm_mem = top_value(&p, "kiln_vm_memory_bytes");
		row->io_bytes = top_value(&p,
		    "kiln_container_blkio_read_bytes_total") + top_value(&p,
		    "kiln_container_blkio_write_bytes_total");
		row->net_bytes = top_value(&p,
		    "kiln_container_network_receive_bytes_total") +
		    top_value(&p, "kiln_container_network_transmit_bytes_total");
		top_hist(&p, row);
	}
	core_prom_fini(&p);
}

/* The q-quantile of the waits between a and b; NAN if there were none. */
static double
top_quantile(const struct top_row *a, const struct top_row *b, double q)
{
	double total = b->count - a->count, rank = q * total, lo = 0, c0 = 0;
	size_t i;

	if (a->nb != b->nb || total <= 0)
		return NAN;
	for (i = 0; i < b->nb; i++) {
		double c = b->cum[i] - a->cum[i];

		if (c >= rank) {
			if (isinf(b->le[i]))
				return lo;
			return lo + (b->le[i] - lo) * (c > c0 ?
			    (rank - c0) / (c - c0) : 1);
		}
		lo = b->le[i];
		c0 = c;
	}
	return lo;
}

static void
top_human(char *out, size_t n, double bytes)
{
	if (isnan(bytes))
		snprintf(out, n, "-");
	else if (bytes >= 1 << 30)
		snprintf(out, n, "%.1fG", bytes / (1 << 30));
	else
		snprintf(out, n, "%.1fM", bytes / (1 << 20));
}

/* A rate in bytes per second: B, K, M or G. */
static void
top_rate(char *out, size_t n, double bps)
{
	if (isnan(bps))
		snprintf(out, n, "-");
	else if (bps >= 1 << 30)
		snprintf(out, n, "%.1fG", bps / (1 << 30));
	else if (bps >= 1 << 20)
		snprintf(out, n, "%.1fM", bps / (1 << 20));
	else if (bps >= 1 << 10)
		snprintf(out, n, "%.1fK", bps / (1 << 10));
	else
		snprintf(out, n, "%.0fB", bps);
}

static void
top_secs(char *out, size_t n, double s)
{
	if (isnan(s))
		snprintf(out, n, "-");
	else if (s < 1e-3)
		snprintf(out, n, "%.0fus", s * 1e6);
	else
		snprintf(out, n, "%.2fms", s * 1e3);
}

static bool
top_wanted(const struct top *tp, const struct top_row *a,
    const struct top_row *b)
{
	return a->ok && b->ok && strcmp(a->id, b->id) == 0 &&
	    strcmp(a->ns, b->ns) == 0 && (tp->ns == NULL ||
	    strcmp(tp->ns, b->ns) == 0);
}

static void
top_print_table(const struct top *tp, double dt)
{
	char mem[32], vmm[32], p50[32], p99[32], io[32], net[32];
	size_t i;

	if (tp->live)
		printf("\033[H\033[2J");
	printf("%-12s %-24s %6s %9s %9s %8s %9s %7s %7s %5s %8s\n",
	    "NAMESPACE", "CONTAINER", "CPU%", "RUNQ-P50", "RUNQ-P99", "MEMORY",
	    "FAULTS/S", "IO/S", "NET/S", "VCPUS", "VM-MEM");
	for (i = 0; i < tp->nsocks; i++) {
		const struct top_row *a = &tp->prev[i], *b = &tp->cur[i];

		if (!top_wanted(tp, a, b))
			continue;
		top_human(mem, sizeof mem, b->mem);
		top_human(vmm, sizeof vmm, b->vm_mem);
		top_secs(p50, sizeof p50, top_quantile(a, b, 0.5));
		top_secs(p99, sizeof p99, top_quantile(a, b, 0.99));
		top_rate(io, sizeof io, (b->io_bytes - a->io_bytes) / dt);
		top_rate(net, sizeof net, (b->net_bytes - a->net_bytes) / dt);
		printf("%-12s %-24s %6.1f %9s %9s %8s %9.0f %7s %7s %5.0f "
		    "%8s\n", b->ns, b->id, (b->cpu_s - a->cpu_s) / dt * 100,
		    p50, p99, mem, (b->faults - a->faults) / dt, io, net,
		    b->vcpus, vmm);
	}
	fflush(stdout);
}

/* A number, or null for what was not measured (JSON has no NaN). */
static json_t *
top_num(double v)
{
	return isnan(v) ? json_null() : json_real(v);
}

static void
top_print_json(const struct top *tp, double dt)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; i < tp->nsocks; i++) {
		const struct top_row *a = &tp->prev[i], *b = &tp->cur[i];

		if (!top_wanted(tp, a, b))
			continue;
		json_array_append_new(arr, json_pack("{s:s,s:s,s:o,s:o,s:o,"
		    "s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "namespace", b->ns,
		    "container", b->id, "cpu_percent",
		    top_num((b->cpu_s - a->cpu_s) / dt * 100),
		    "cpu_seconds_total", top_num(b->cpu_s),
		    "runq_p50_seconds", top_num(top_quantile(a, b, 0.5)),
		    "runq_p99_seconds", top_num(top_quantile(a, b, 0.99)),
		    "memory_bytes", top_num(b->mem),
		    "page_faults_per_second",
		    top_num((b->faults - a->faults) / dt),
		    "page_faults_total", top_num(b->faults),
		    "blkio_bytes_per_second",
		    top_num((b->io_bytes - a->io_bytes) / dt),
		    "network_bytes_per_second",
		    top_num((b->net_bytes - a->net_bytes) / dt),
		    "vcpus", top_num(b->vcpus),
		    "vm_memory_bytes", top_num(b->vm_mem)));
	}
	json_dumpf(arr, stdout, JSON_INDENT(2));
	printf("\n");
	json_decref(arr);
}

static void	top_round(struct top *);

static void
top_fetched(struct kiln_fetch *f, void *arg)
{
	struct top *tp = arg;
	struct top_row *swap;
	size_t i;

	for (i = 0; i < f->n; i++)
		top_parse(&f->t[i], &tp->cur[i]);
	kiln_fetch_fini(f);
	if (tp->round++ > 0) {
		double dt = (double)(tp->cur_ns - tp->prev_ns) / 1e9;

		if (tp->json)
			top_print_json(tp, dt);
		else
			top_print_table(tp, dt);
		tp->rc = 0;
		if (!tp->live)
			return reactor_stop(tp->r);
	}
	swap = tp->prev;
	tp->prev = tp->cur;
	tp->cur = swap;
	tp->prev_ns = tp->cur_ns;
	reactor_timer_start(tp->timer, tp->round > 1 ? KILN_TOP_LIVE_MS :
	    KILN_TOP_INTERVAL_MS, false);
}

static void
top_round(struct top *tp)
{
	tp->cur_ns = time_mono_ns();
	kiln_fetch_start(&tp->fetch, tp->r, tp->socks, tp->nsocks, top_fetched,
	    tp);
}

static void
top_timer_cb(void *arg)
{
	top_round(arg);
}

static void
top_sig_cb(int signo, void *arg)
{
	struct top *tp = arg;

	(void)signo;
	reactor_stop(tp->r);
}

static int
top_args(struct top *tp, int argc, char **argv)
{
	bool once = false;
	int i;

	for (i = 1; i < argc; i++)
		if ((strcmp(argv[i], "-n") == 0 ||
		    strcmp(argv[i], "--namespace") == 0) && i + 1 < argc)
			tp->ns = argv[++i];
		else if (strcmp(argv[i], "--once") == 0)
			once = true;
		else if (strcmp(argv[i], "--json") == 0)
			tp->json = true;
		else {
			fprintf(stderr, "usage: kiln top [-n NAMESPACE] "
			    "[--once | --json]\n");
			return -1;
		}
	tp->live = !once && !tp->json;
	return 0;
}

int
kiln_top_main(int argc, char **argv)
{
	struct top tp = { .rc = 1 };
	struct err err;

	if (top_args(&tp, argc, argv) < 0)
		return 2;
	if ((tp.r = reactor_new(&err)) == NULL)
		return fprintf(stderr, "kiln: %s\n", err.msg), 1;
	tp.nsocks = kiln_find_sockets(&tp.socks);
	tp.prev = xcalloc(tp.nsocks + 1, sizeof *tp.prev);
	tp.cur = xcalloc(tp.nsocks + 1, sizeof *tp.cur);
	tp.timer = reactor_timer_new(tp.r, top_timer_cb, &tp);
	reactor_sig_new(tp.r, SIGINT, top_sig_cb, &tp);
	reactor_sig_new(tp.r, SIGTERM, top_sig_cb, &tp);
	top_round(&tp);
	reactor_run(tp.r);
	/*
	 * XXX: interrupted mid-round, the GETs in flight are not freed
	 * (their watchers go with the reactor): the process is exiting.
	 */
	if (tp.fetch.t != NULL)
		kiln_fetch_fini(&tp.fetch);
	reactor_free(tp.r);
	kiln_free_sockets(tp.socks, tp.nsocks);
	free(tp.prev);
	free(tp.cur);
	return tp.rc;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln-trace: tools for trace files (JSON Lines, docs/trace-format.md),
 * built from the real tables of every machine linked in.
 *
 *   kiln-trace replay FILE   re-drive the tables with the recorded events
 *                            and guard outcomes; report the first divergence
 *   kiln-trace show FILE     a timeline per machine instance
 *   kiln-trace svg FILE      that timeline as SVG
 *   kiln-trace stats FILE    counts and latency percentiles per transition
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "fsm/fsm.h"

/* One parsed record; names point into the JSON object. */
struct trec {
	int			 line;
	uint64_t		 ts;
	uint64_t		 elapsed;
	const struct fsm_def	*def;
	const char		*machine;
	unsigned		 version;
	const char		*id;
	uint64_t		 seq;
	const char		*from, *event, *to, *result, *guards;
	const char		*detail;
	int			 row;
	json_t			*j;
};

struct trace {
	struct trec	*recs;
	size_t		 n;
};

static const char *usage_text =
    "usage: kiln-trace COMMAND FILE\n"
    "  replay FILE  re-drive the real tables with the recorded events and\n"
    "               guard outcomes; report the first divergence (exit 1)\n"
    "  show FILE    readable timeline per machine instance, with the time\n"
    "               between transitions\n"
    "  svg FILE     the timeline as SVG on stdout\n"
    "  stats FILE   counts and latency percentiles per transition\n"
    "FILE is JSON Lines as written by the shim's trace_file\n"
    "(docs/trace-format.md). COMMAND --help prints this.\n";

static int
usage(int code)
{
	fputs(usage_text, code == 0 ? stdout : stderr);
	return code;
}

static const char *
jstr(json_t *j, const char *k)
{
	const char *s = json_string_value(json_object_get(j, k));

	return s;
}

/* Fill r from object j; NULL on success, else what is wrong. */
static const char *
trec_fill(struct trec *r, json_t *j)
{
	static const char *const keys[] = { "machine", "id", "from", "event",
	    "to", "result" };
	size_t i;

	if (!json_is_object(j))
		return "not a JSON object";
	for (i = 0; i < ARRAY_SIZE(keys); i++)
		if (jstr(j, keys[i]) == NULL)
			return keys[i];
	if (!json_is_integer(json_object_get(j, "ts")) ||
	    !json_is_integer(json_object_get(j, "seq")))
		return "ts or seq";
	r->j = j;
	r->machine = jstr(j, "machine");
	r->id = jstr(j, "id");
	r->from = jstr(j, "from");
	r->event = jstr(j, "event");
	r->to = jstr(j, "to");
	r->result = jstr(j, "result");
	r->guards = jstr(j, "guards") != NULL ? jstr(j, "guards") : "";
	r->detail = jstr(j, "detail") != NULL ? jstr(j, "detail") : "";
	r->ts = (uint64_t)json_integer_value(json_object_get(j, "ts"));
	r->seq = (uint64_t)json_integer_value(json_object_get(j, "seq"));
	r->elapsed = (uint64_t)json_integer_value(json_object_get(j,
	    "elapsed_ns"));
	r->version = (unsigned)json_integer_value(json_object_get(j,
	    "version"));
	r->row = json_is_integer(json_object_get(j, "row")) ?
	    (int)json_integer_value(json_object_get(j, "row")) : -1;
	r->def = fsm_registry_find(r->machine);
	return NULL;
}

/* Read FILE; on a bad line print FILE:LINE and fail. */
static int
trace_load(const char *path, struct trace *t)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int lineno = 0;
	FILE *f;

	memset(t, 0, sizeof *t);
	if ((f = fopen(path, "re")) == NULL) {
		fprintf(stderr, "kiln-trace: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((len = getline(&line, &cap, f)) >= 0) {
		json_error_t jerr;
		const char *bad;
		json_t *j;

		lineno++;
		if (len <= 1)
			continue;
		j = json_loads(line, 0, &jerr);
		if (j == NULL) {
			fprintf(stderr, "kiln-trace: %s:%d: not JSON: %s\n",
			    path, lineno, jerr.text);
			goto fail;
		}
		t->recs = xreallocarray(t->recs, t->n + 1, sizeof *t->recs);
		memset(&t->recs[t->n], 0, sizeof t->recs[t->n]);
		t->recs[t->n].line = lineno;
		if ((bad = trec_fill(&t->recs[t->n], j)) != NULL) {
			fprintf(stderr, "kiln-trace: %s:%d: missing or bad "
			    "field: %s\n", path, lineno, bad);
			json_decref(j);
			goto fail;
		}
		t->n++;
	}
	free(line);
	fclose(f);
	return 0;
fail:
	free(line);
	fclose(f);
	return -1;
}

static void
trace_free(struct trace *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		json_decref(t->recs[i].j);
	free(t->recs);
}

/* ---- replay ---------------------------------------------------------- */

struct inst {
	const char	*machine;
	const char	*id;
	int		 state;
	uint64_t	 last_ts;
	uint64_t	 first_ts;
};

struct insts {
	struct inst	*v;
	size_t		 n;
};

static struct inst *
inst_get(struct insts *is, const struct trec *r, bool *fresh)
{
	size_t i;

	*fresh = false;
	for (i = 0; i < is->n; i++)
		if (strcmp(is->v[i].machine, r->machine) == 0 &&
		    strcmp(is->v[i].id, r->id) == 0)
			return &is->v[i];
	is->v = xreallocarray(is->v, is->n + 1, sizeof *is->v);
	memset(&is->v[is->n], 0, sizeof is->v[is->n]);
	is->v[is->n].machine = r->machine;
	is->v[is->n].id = r->id;
	is->v[is->n].state = -1;
	*fresh = true;
	return &is->v[is->n++];
}

/* The recorded outcome of guard row->guard_name, in order of use. */
struct oracle {
	const char	*guards;
	const char	*pos;
	bool		 missing;
};

static bool
oracle_cb(const struct fsm_row *row, void *arg)
{
	struct oracle *o = arg;
	const char *p = strstr(o->pos, row->guard_name);
	size_t n = strlen(row->guard_name);

	if (p == NULL || p[n] != '=') {
		o->missing = true;
		return false;
	}
	o->pos = p + n + 2;
	return p[n + 1] == '1';
}

static int
diverge(const char *path, const struct trec *r, const char *what)
{
	printf("%s:%d: divergence: %s %s seq %llu: %s\n", path, r->line,
	    r->machine, r->id, (unsigned long long)r->seq, what);
	return 1;
}

/* Check one record against the tables; 0 or a printed divergence. */
static int
replay_one(const char *path, const struct trec *r, struct inst *in,
    bool fresh)
{
	const struct fsm_def *d = r->def;
	int from, ev, to, row, want_to;
	struct oracle o = { r->guards, r->guards, false };
	const char *want_res;
	char msg[512], guards[FSM_GUARDS_MAX];

	if (d == NULL)
		return diverge(path, r, "unknown machine");
	if (r->version != d->version) {
		snprintf(msg, sizeof msg, "table version %u, trace has %u",
		    d->version, r->version);
		return diverge(path, r, msg);
	}
	from = fsm_state_by_name(d, r->from);
	to = fsm_state_by_name(d, r->to);
	ev = fsm_event_by_name(d, r->event);
	if (from < 0 || to < 0 || ev < 0) {
		snprintf(msg, sizeof msg, "unknown %s %s", from < 0 || to < 0 ?
		    "state" : "event", from < 0 ? r->from : to < 0 ? r->to :
		    r->event);
		return diverge(path, r, msg);
	}
	if (fresh && r->seq == 1 && from != d->initial)
		return diverge(path, r, "first transition not from the "
		    "initial state");
	if (!fresh && from != in->state) {
		snprintf(msg, sizeof msg, "recorded from %s, but the machine "
		    "is in %s", r->from, fsm_state_name(d, in->state));
		return diverge(path, r, msg);
	}
	row = fsm_select(d, from, ev, oracle_cb, &o, guards, sizeof guards);
	if (o.missing)
		return diverge(path, r, "a guard the table evaluates is not "
		    "recorded");
	if (row < 0)
		want_res = r->guards[0] != '\0' ? "guarded" : "rejected";
	else if (strcmp(r->result, "failed") == 0)
		want_res = "failed";
	else
		want_res = "ok";
	want_to = row >= 0 && strcmp(want_res, "ok") == 0 ?
	    fsm_row_target(&d->rows[row], from) : from;
	if (strcmp(want_res, r->result) != 0 || want_to != to ||
	    (row >= 0 && r->row != row)) {
		snprintf(msg, sizeof msg, "tables give %s --%s--> %s (%s, row "
		    "%d), trace has %s (%s, row %d)", r->from, r->event,
		    fsm_state_name(d, want_to), want_res, row, r->to,
		    r->result, r->row);
		return diverge(path, r, msg);
	}
	in->state = to;
	return 0;
}

static int
cmd_replay(const char *path)
{
	struct insts is = { NULL, 0 };
	struct trace t;
	size_t i;
	int bad = 0;

	if (trace_load(path, &t) < 0)
		return 2;
	for (i = 0; i < t.n && bad == 0; i++) {
		bool fresh;
		struct inst *in = inst_get(&is, &t.recs[i], &fresh);

		bad = replay_one(path, &t.recs[i], in, fresh);
	}
	if (bad == 0)
		printf("%s: replayed %zu transitions of %zu machine instances "
		    "against the tables: no divergence\n", path, t.n, is.n);
	free(is.v);
	trace_free(&t);
	return bad;
}

/* ---- show, svg, stats ------------------------------------------------ */

static int
cmd_show(const char *path)
{
	struct insts is = { NULL, 0 };
	struct trace t;
	size_t i, k;

	if (trace_load(path, &t) < 0)
		return 2;
	for (i = 0; i < t.n; i++) {
		bool fresh;

		(void)inst_get(&is, &t.recs[i], &fresh);
	}
	for (k = 0; k < is.n; k++) {
		uint64_t prev = 0, first = 0;

		printf("%s %s\n", is.v[k].machine, is.v[k].id);
		for (i = 0; i < t.n; i++) {
			const struct trec *r = &t.recs[i];

			if (strcmp(r->machine, is.v[k].machine) != 0 ||
			    strcmp(r->id, is.v[k].id) != 0)
				continue;
			if (first == 0)
				first = prev = r->ts;
			printf("  %+10.3f ms (%+9.3f)  %s --%s--> %s%s%s%s%s\n",
			    (double)(r->ts - first) / 1e6,
			    (double)(r->ts - prev) / 1e6, r->from, r->event,
			    r->to, strcmp(r->result, "ok") != 0 ? "  [" : "",
			    strcmp(r->result, "ok") != 0 ? r->result : "",
			    strcmp(r->result, "ok") != 0 ? "]" : "",
			    r->detail[0] != '\0' ? "  " : "");
			if (r->detail[0] != '\0')
				printf("%*s%s\n", 26, "", r->detail);
			prev = r->ts;
		}
	}
	free(is.v);
	trace_free(&t);
	return 0;
}

/*
 * A state's colour: a pastel hue from its name (the same state looks the
 * same in every machine and every trace); failures in red, waiting for
 * nothing (a terminal state) in grey.
 */
static void
svg_fill(const char *state, char out[32])
{
	unsigned h = 2166136261u;
	const char *s;

	for (s = state; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	if (strstr(state, "FAIL") != NULL || strstr(state, "STALE") != NULL)
		snprintf(out, 32, "hsl(0,70%%,72%%)");
	else if (strcmp(state, "DELETED") == 0 || strcmp(state, "STOPPED") == 0 ||
	    strcmp(state, "REMOVED") == 0 || strcmp(state, "CLOSED") == 0)
		snprintf(out, 32, "hsl(0,0%%,85%%)");
	else
		snprintf(out, 32, "hsl(%u,55%%,78%%)", h % 360);
}

/* A time axis: ten ticks or fewer, at 1, 2 or 5 x 10^k ms. */
static void
svg_axis(double left, double width, double y, double ms)
{
	static const double m[] = { 1, 2, 5 };
	double mag = 0.001, step = m[0] * mag, t;
	int j = 0;

	while (ms / step > 10) {
		if (++j == 3) {
			j = 0;
			mag *= 10;
		}
		step = m[j] * mag;
	}
	for (t = 0; t <= ms; t += step) {
		double x = left + width * t / ms;

		printf("<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" "
		    "stroke=\"#ccc\"/><text x=\"%.1f\" y=\"%.0f\" fill=\"#666\" "
		    "text-anchor=\"middle\">%g ms</text>\n", x, y, x, y + 6, x,
		    y + 18, t);
	}
}

/* s as XML character data: a trace's details may quote anything. */
static void
svg_escaped(const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '<')
			fputs("&lt;", stdout);
		else if (*s == '>')
			fputs("&gt;", stdout);
		else if (*s == '&')
			fputs("&amp;", stdout);
		else if ((unsigned char)*s >= 0x20)
			putchar(*s);
	}
}

/* One state's box; its name inside when it fits, always as the tooltip. */
static void
svg_box(double x0, double x1, double y, double h, const struct trec *r)
{
	double w = x1 - x0 > 1 ? x1 - x0 : 1;
	char fill[32];

	svg_fill(r->to, fill);
	printf("<rect x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" height=\"%.0f\" "
	    "rx=\"3\" fill=\"%s\" stroke=\"white\"><title>", x0, y, w, h,
	    fill);
	svg_escaped(r->to);
	printf(" (after ");
	svg_escaped(r->event);
	if (r->detail[0] != '\0')
		printf(": ");
	svg_escaped(r->detail);
	printf(")</title></rect>\n");
	if (w > 6.5 * (double)strlen(r->to) + 4)
		printf("<text x=\"%.1f\" y=\"%.0f\">%s</text>\n", x0 + 3,
		    y + h - 7, r->to);
}

/* One row per instance (striped); a box per state, as long as it lasted. */
static int
cmd_svg(const char *path)
{
	struct insts is = { NULL, 0 };
	uint64_t t0 = UINT64_MAX, t1 = 0;
	const double width = 1200, rowh = 28, left = 260, top = 44;
	struct trace t;
	size_t i, k;

	if (trace_load(path, &t) < 0)
		return 2;
	for (i = 0; i < t.n; i++) {
		bool fresh;

		(void)inst_get(&is, &t.recs[i], &fresh);
		t0 = t.recs[i].ts < t0 ? t.recs[i].ts : t0;
		t1 = t.recs[i].ts > t1 ? t.recs[i].ts : t1;
	}
	if (t1 <= t0)
		t1 = t0 + 1;
	printf("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
	    "height=\"%.0f\" font-family=\"Helvetica\" font-size=\"11\">\n"
	    "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
	    width + left + 40, top + rowh * (double)is.n + 10);
	printf("<text x=\"4\" y=\"16\" font-weight=\"bold\">%s: %.1f ms, %zu "
	    "transitions</text>\n", path, (double)(t1 - t0) / 1e6, t.n);
	svg_axis(left, width, 22, (double)(t1 - t0) / 1e6);
	for (k = 0; k < is.n; k++) {
		double y = top + rowh * (double)k;
		const struct trec *prev = NULL;

		if (k % 2 == 1)
			printf("<rect x=\"0\" y=\"%.0f\" width=\"100%%\" "
			    "height=\"%.0f\" fill=\"#f4f4f4\"/>\n", y, rowh);
		printf("<text x=\"4\" y=\"%.0f\"><tspan font-weight=\"bold\">"
		    "%s</tspan> %s</text>\n", y + 18, is.v[k].machine,
		    is.v[k].id);
		for (i = 0; i <= t.n; i++) {
			const struct trec *r = i < t.n ? &t.recs[i] : NULL;

			if (r != NULL && (strcmp(r->machine, is.v[k].machine)
			    != 0 || strcmp(r->id, is.v[k].id) != 0))
				continue;
			if (prev != NULL)
				svg_box(left + width * (double)(prev->ts - t0) /
				    (double)(t1 - t0), left + width * (double)
				    ((r != NULL ? r->ts : t1) - t0) /
				    (double)(t1 - t0), y + 4, rowh - 6, prev);
			if (r != NULL)
				prev = r;
		}
	}
	printf("</svg>\n");
	free(is.v);
	trace_free(&t);
	return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double
pct(const uint64_t *v, size_t n, double p)
{
	return (double)v[(size_t)(p * (double)(n - 1))] / 1e3;
}

/*
 * Per transition (machine FROM --EVENT--> TO): how often, how long the
 * machine had been in FROM (dwell), and how long the dispatch took.
 */
static int
cmd_stats(const char *path)
{
	struct insts is = { NULL, 0 };
	struct trace t;
	size_t i, j, *done;
	uint64_t *dwell, *disp;

	if (trace_load(path, &t) < 0)
		return 2;
	done = xcalloc(t.n + 1, sizeof *done);
	dwell = xcalloc(t.n + 1, sizeof *dwell);
	disp = xcalloc(t.n + 1, sizeof *disp);
	for (i = 0; i < t.n; i++) {
		bool fresh;
		struct inst *in = inst_get(&is, &t.recs[i], &fresh);

		dwell[i] = fresh ? 0 : t.recs[i].ts - in->last_ts;
		in->last_ts = t.recs[i].ts;
	}
	printf("%-44s %6s %10s %10s %10s %10s\n", "transition", "count",
	    "dwell p50", "dwell p90", "dwell p99", "disp p50");
	printf("%-44s %6s %10s %10s %10s %10s\n", "", "", "(us)", "(us)",
	    "(us)", "(us)");
	for (i = 0; i < t.n; i++) {
		const struct trec *r = &t.recs[i];
		uint64_t *dv = xcalloc(t.n, sizeof *dv), *dd = xcalloc(t.n,
		    sizeof *dd);
		char name[160];
		size_t n = 0;

		if (done[i])
			goto next;
		for (j = i; j < t.n; j++) {
			const struct trec *q = &t.recs[j];

			if (strcmp(q->machine, r->machine) || strcmp(q->from,
			    r->from) || strcmp(q->event, r->event) ||
			    strcmp(q->to, r->to))
				continue;
			done[j] = 1;
			dv[n] = dwell[j];
			dd[n++] = q->elapsed;
		}
		qsort(dv, n, sizeof *dv, cmp_u64);
		qsort(dd, n, sizeof *dd, cmp_u64);
		snprintf(name, sizeof name, "%s %s --%s--> %s", r->machine,
		    r->from, r->event, r->to);
		printf("%-44s %6zu %10.0f %10.0f %10.0f %10.1f\n", name, n,
		    pct(dv, n, 0.5), pct(dv, n, 0.9), pct(dv, n, 0.99),
		    pct(dd, n, 0.5));
next:
		free(dv);
		free(dd);
	}
	free(done);
	free(dwell);
	free(disp);
	free(is.v);
	trace_free(&t);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0))
		return usage(0);
	if (argc >= 3 && strcmp(argv[2], "--help") == 0)
		return usage(0);
	if (argc != 3)
		return usage(2);
	if (strcmp(argv[1], "replay") == 0)
		return cmd_replay(argv[2]);
	if (strcmp(argv[1], "show") == 0)
		return cmd_show(argv[2]);
	if (strcmp(argv[1], "svg") == 0)
		return cmd_svg(argv[2]);
	if (strcmp(argv[1], "stats") == 0)
		return cmd_stats(argv[2]);
	return usage(2);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * core: reading Prometheus text exposition 0.0.4 back, for the kiln
 * command (top reads values, monitor merges every shim's families into
 * one exposition). A strict subset: what core_metrics_prom and
 * core_stats_prom print. Label values with escapes are refused rather
 * than unescaped, so a line that passes can be copied out verbatim, and
 * anything else (a stray socket, a bad shim) is refused whole.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/core_int.h"

#define PROM_NAME_MAX		200
#define PROM_LINE_MAX		4096
#define PROM_MAX_FAMILIES	1024
#define PROM_MAX_SAMPLES	200000

static bool
prom_name_ok(const char *s, size_t len, bool label)
{
	size_t i;

	if (len == 0 || len > PROM_NAME_MAX)
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    c == '_' || (!label && c == ':');

		if (!alpha && (i == 0 || c < '0' || c > '9'))
			return false;
	}
	return true;
}

/* {k="v",...}: names checked, values without '"', '\' or control. */
static int
prom_labels_ok(const char *s, size_t len)
{
	size_t i = 1, k;

	if (len < 2 || s[0] != '{' || s[len - 1] != '}')
		return -1;
	while (i < len - 1) {
		for (k = i; k < len && s[k] != '='; k++)
			;
		if (k + 1 >= len || !prom_name_ok(s + i, k - i, true) ||
		    s[k + 1] != '"')
			return -1;
		for (i = k + 2; i < len && s[i] != '"'; i++)
			if (s[i] == '\\' || (unsigned char)s[i] < 0x20)
				return -1;
		if (i >= len - 1)
			return -1;
		i++;
		if (s[i] == ',')
			i++;
		else if (i != len - 1)
			return -1;
	}
	return 0;
}

static struct core_prom_family *
prom_family_add(struct core_prom *p, const char *name, size_t len)
{
	struct core_prom_family *f;

	if (p->nf >= PROM_MAX_FAMILIES)
		return NULL;
	p->f = xreallocarray(p->f, p->nf + 1, sizeof *p->f);
	f = &p->f[p->nf++];
	memset(f, 0, sizeof *f);
	f->name = xstrndup(name, len);
	return f;
}

/* "# HELP name text" / "# TYPE name type"; other comments are skipped. */
static int
prom_comment(struct core_prom *p, const char *l, size_t len, struct err *err)
{
	struct core_prom_family *f = p->nf > 0 ? &p->f[p->nf - 1] : NULL;
	const char *name, *sp;
	bool help;

	if (len < 7 || (memcmp(l, "# HELP ", 7) != 0 &&
	    memcmp(l, "# TYPE ", 7) != 0))
		return 0;
	help = l[2] == 'H';
	name = l + 7;
	sp = memchr(name, ' ', len - 7);
	if (sp == NULL || !prom_name_ok(name, (size_t)(sp - name), false))
		return err_set(err, EPROTO, "prom: bad %s line", help ?
		    "HELP" : "TYPE");
	if (f == NULL || strlen(f->name) != (size_t)(sp - name) ||
	    memcmp(f->name, name, (size_t)(sp - name)) != 0 ||
	    (help && f->help != NULL) || (!help && f->type != NULL) ||
	    f->ns > 0) {
		if ((f = prom_family_add(p, name, (size_t)(sp - name))) == NULL)
			return err_set(err, E2BIG, "prom: too many families");
	}
	if (help)
		f->help = xstrndup(sp + 1, len - (size_t)(sp + 1 - l));
	else
		f->type = xstrndup(sp + 1, len - (size_t)(sp + 1 - l));
	if (!help && strcmp(f->type, "counter") != 0 &&
	    strcmp(f->type, "gauge") != 0 && strcmp(f->type, "histogram") != 0 &&
	    strcmp(f->type, "summary") != 0 && strcmp(f->type, "untyped") != 0)
		return err_set(err, EPROTO, "prom: type %s", f->type);
	return 0;
}

/* Does sample name (len) belong to family f? */
static bool
prom_in_family(const struct core_prom_family *f, const char *n, size_t len)
{
	static const char *const sfx[] = { "_bucket", "_sum", "_count" };
	size_t fl = strlen(f->name), i;

	if (len < fl || memcmp(n, f->name, fl) != 0)
		return false;
	if (len == fl)
		return true;
	if (f->type == NULL || (strcmp(f->type, "histogram") != 0 &&
	    strcmp(f->type, "summary") != 0))
		return false;
	for (i = 0; i < ARRAY_SIZE(sfx); i++)
		if (len - fl == strlen(sfx[i]) &&
		    memcmp(n + fl, sfx[i], len - fl) == 0)
			return true;
	return false;
}

static int
prom_sample(struct core_prom *p, const char *l, size_t len, struct err *err)
{
	struct core_prom_family *f = p->nf > 0 ? &p->f[p->nf - 1] : NULL;
	struct core_prom_sample *s;
	size_t n = 0, lb;
	char num[64], *end;
	const char *v;

	while (n < len && l[n] != '{' && l[n] != ' ')
		n++;
	lb = n;
	if (n < len && l[n] == '{')
		while (lb < len && l[lb] != '}')
			lb++;
	if (!prom_name_ok(l, n, false) || lb >= len ||
	    (lb > n && prom_labels_ok(l + n, lb - n + 1) < 0))
		return err_set(err, EPROTO, "prom: bad sample %.*s",
		    (int)(len < 40 ? len : 40), l);
	v = l + (lb > n ? lb + 1 : n);
	if (v >= l + len || *v != ' ' || (size_t)(l + len - v) >= sizeof num)
		return err_set(err, EPROTO, "prom: no value in %.*s",
		    (int)(len < 40 ? len : 40), l);
	snprintf(num, sizeof num, "%.*s", (int)(l + len - v - 1), v + 1);
	if ((end = strchr(num, ' ')) != NULL)
		*end = '\0';	/* a timestamp follows */
	if (f == NULL || !prom_in_family(f, l, n))
		if ((f = prom_family_add(p, l, n)) == NULL)
			return err_set(err, E2BIG, "prom: too many families");
	if (p->nsamples++ >= PROM_MAX_SAMPLES)
		return err_set(err, E2BIG, "prom: too many samples");
	f->s = xreallocarray(f->s, f->ns + 1, sizeof *f->s);
	s = &f->s[f->ns++];
	s->value = strtod(num, &end);
	s->name = xstrndup(l, n);
	s->labels = lb > n ? xstrndup(l + n, lb - n + 1) : xstrdup("");
	s->line = xstrndup(l, len);
	if (*end != '\0' || num[0] == '\0')
		return err_set(err, EPROTO, "prom: bad value %s", num);
	return 0;
}

int
core_prom_parse(struct core_prom *p, const char *text, size_t len,
    struct err *err)
{
	const char *l = text, *end = text + len, *nl;

	memset(p, 0, sizeof *p);
	while (l < end) {
		nl = memchr(l, '\n', (size_t)(end - l));
		if (nl == NULL)
			return err_set(err, EPROTO, "prom: last line has no "
			    "newline");
		if (nl - l > PROM_LINE_MAX || memchr(l, '\0', (size_t)(nl - l))
		    != NULL)
			return err_set(err, EPROTO, "prom: bad line");
		if (nl > l && (l[0] == '#' ? prom_comment(p, l,
		    (size_t)(nl - l), err) : prom_sample(p, l,
		    (size_t)(nl - l), err)) < 0)
			return -1;
		l = nl + 1;
	}
	return 0;
}

void
core_prom_fini(struct core_prom *p)
{
	size_t i, j;

	for (i = 0; i < p->nf; i++) {
		for (j = 0; j < p->f[i].ns; j++) {
			free(p->f[i].s[j].name);
			free(p->f[i].s[j].labels);
			free(p->f[i].s[j].line);
		}
		free(p->f[i].s);
		free(p->f[i].name);
		free(p->f[i].help);
		free(p->f[i].type);
	}
	free(p->f);
	memset(p, 0, sizeof *p);
}

bool
core_prom_label(const char *labels, const char *key, char *val, size_t n)
{
	size_t kl = strlen(key);
	const char *p = labels, *q;

	/* Parsed labels: k="v" pairs, values with no '"' inside. */
	while (p != NULL && (p = strstr(p, key)) != NULL) {
		if ((p[-1] == '{' || p[-1] == ',') && strncmp(p + kl, "=\"", 2)
		    == 0) {
			q = strchr(p + kl + 2, '"');
			snprintf(val, n, "%.*s", (int)(q - (p + kl + 2)),
			    p + kl + 2);
			return true;
		}
		p += kl;
	}
	return false;
}

/* The family named name in p, or NULL. */
const struct core_prom_family *
core_prom_family(const struct core_prom *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->nf; i++)
		if (strcmp(p->f[i].name, name) == 0)
			return &p->f[i];
	return NULL;
}

/*
 * One exposition from many: each family once (the first HELP and TYPE
 * seen), then its samples from every source in order.
 */
void
core_prom_merge(struct buf *b, const struct core_prom *const *src, size_t n)
{
	size_t i, j, k, m;

	for (i = 0; i < n; i++)
		for (j = 0; j < src[i]->nf; j++) {
			const struct core_prom_family *f = &src[i]->f[j];
			bool seen = false;

			for (k = 0; k < i && !seen; k++)
				seen = core_prom_family(src[k], f->name) !=
				    NULL;
			if (seen)
				continue;
			if (f->help != NULL)
				buf_printf(b, "# HELP %s %s\n", f->name,
				    f->help);
			if (f->type != NULL)
				buf_printf(b, "# TYPE %s %s\n", f->name,
				    f->type);
			for (k = i; k < n; k++) {
				const struct core_prom_family *g =
				    core_prom_family(src[k], f->name);

				for (m = 0; g != NULL && m < g->ns; m++)
					buf_printf(b, "%s\n", g->s[m].line);
			}
		}
}

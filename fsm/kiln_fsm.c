/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln-fsm: tools over every state machine table linked into the binary.
 *   kiln-fsm list        one machine name per line
 *   kiln-fsm dot [--full] NAME  the table as Graphviz (make docs renders
 *                        both: late news inside the states, or every row)
 *   kiln-fsm check       fsm_check() on every table; exit 1 on a problem
 *   kiln-fsm promela NAME   the table as a Promela model for SPIN
 *   kiln-fsm promela-trail  SPIN's trail replay (spin -T -t) on stdin as
 *                        trace JSON lines; exit 1 if it holds no step
 *   kiln-fsm tla NAME [DIR] write DIR/<Name>Rows.tla (default tla/gen),
 *                        the table's rows as TLA+
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fsm/fsm.h"

static int
usage(void)
{
	fprintf(stderr, "usage: kiln-fsm list | dot [--full] NAME | check | "
	    "promela NAME |\n\tpromela-trail | tla NAME [DIR]\n");
	return 2;
}

static int
cmd_list(void)
{
	const struct fsm_def *const *defs;
	size_t i, n;

	defs = fsm_registry(&n);
	for (i = 0; i < n; i++)
		printf("%s\n", defs[i]->name);
	return 0;
}

static int
cmd_check(void)
{
	const struct fsm_def *const *defs;
	struct err err;
	size_t i, n;
	int bad = 0;

	defs = fsm_registry(&n);
	for (i = 0; i < n; i++) {
		if (fsm_check(defs[i], &err) < 0) {
			printf("%s: FAIL: %s\n", defs[i]->name, err.msg);
			bad++;
		} else
			printf("%s: ok (%d states, %d events, %d rows)\n",
			    defs[i]->name, defs[i]->nstates,
			    defs[i]->nevents, defs[i]->nrows);
	}
	return bad > 0 ? 1 : 0;
}

static int
cmd_trail(void)
{
	struct err err;
	int n;

	if ((n = fsm_promela_trail(stdin, stdout, &err)) < 0) {
		fprintf(stderr, "kiln-fsm: %s\n", err.msg);
		return 1;
	}
	return n > 0 ? 0 : 1;
}

/* Write dir/<Name>Rows.tla. */
static int
cmd_tla(const struct fsm_def *def, const char *dir)
{
	char mod[80], path[4096];
	FILE *f;

	fsm_tla_module_name(def, mod, sizeof mod);
	snprintf(path, sizeof path, "%s/%s.tla", dir, mod);
	if ((f = fopen(path, "w")) == NULL) {
		fprintf(stderr, "kiln-fsm: %s: %s\n", path, strerror(errno));
		return 1;
	}
	fsm_tla(def, f);
	if (fclose(f) != 0) {
		fprintf(stderr, "kiln-fsm: %s: %s\n", path, strerror(errno));
		return 1;
	}
	printf("%s\n", path);
	return 0;
}

static const struct fsm_def *
find_def(const char *name)
{
	const struct fsm_def *def = fsm_registry_find(name);

	if (def == NULL)
		fprintf(stderr, "kiln-fsm: no machine named %s\n", name);
	return def;
}

int
main(int argc, char **argv)
{
	const struct fsm_def *def;

	if (argc == 2 && strcmp(argv[1], "list") == 0)
		return cmd_list();
	if (argc == 2 && strcmp(argv[1], "check") == 0)
		return cmd_check();
	if (argc == 2 && strcmp(argv[1], "promela-trail") == 0)
		return cmd_trail();
	if (argc == 3 && strcmp(argv[1], "dot") == 0) {
		if ((def = find_def(argv[2])) == NULL)
			return 1;
		fsm_dot(def, stdout);
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "dot") == 0 &&
	    strcmp(argv[2], "--full") == 0) {
		if ((def = find_def(argv[3])) == NULL)
			return 1;
		fsm_dot_full(def, stdout);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "promela") == 0) {
		if ((def = find_def(argv[2])) == NULL)
			return 1;
		fsm_promela(def, stdout);
		return 0;
	}
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "tla") == 0) {
		if ((def = find_def(argv[2])) == NULL)
			return 1;
		return cmd_tla(def, argc == 4 ? argv[3] : "tla/gen");
	}
	return usage();
}

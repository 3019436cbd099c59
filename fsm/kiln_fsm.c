/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln-fsm: tools over every state machine table linked into the binary.
 *   kiln-fsm list        one machine name per line
 *   kiln-fsm dot NAME    the table as Graphviz (make docs renders it)
 *   kiln-fsm check       fsm_check() on every table; exit 1 on a problem
 */
#include <stdio.h>
#include <string.h>

#include "fsm/fsm.h"

static int
usage(void)
{
	fprintf(stderr, "usage: kiln-fsm list | dot NAME | check\n");
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

int
main(int argc, char **argv)
{
	const struct fsm_def *def;

	if (argc == 2 && strcmp(argv[1], "list") == 0)
		return cmd_list();
	if (argc == 2 && strcmp(argv[1], "check") == 0)
		return cmd_check();
	if (argc == 3 && strcmp(argv[1], "dot") == 0) {
		def = fsm_registry_find(argv[2]);
		if (def == NULL) {
			fprintf(stderr, "kiln-fsm: no machine named %s\n",
			    argv[2]);
			return 1;
		}
		fsm_dot(def, stdout);
		return 0;
	}
	return usage();
}

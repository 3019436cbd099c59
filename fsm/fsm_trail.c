/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SPIN counter-examples in kiln's trace format. A model from
 * fsm_promela.c prints "KILN <machine> <from> <event> <to> <result> <row>"
 * at every dispatch; replaying a trail (`spin -T -t model.pml`) prints
 * exactly the dispatches of the counter-example, which become trace
 * records here, so kiln-trace and a reader of shim traces can read them.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fsm.h"

#define TRAIL_NOROW	255

/* The guard oracle of the row SPIN chose: that one held, no other. */
static bool
trail_oracle(const struct fsm_row *r, void *arg)
{
	return r == arg;
}

/* One KILN line into rec; -1 with err on a malformed or unknown one. */
static int
trail_parse(const char *line, uint64_t seq, struct fsm_trace_rec *rec,
    struct err *err)
{
	const struct fsm_def *def;
	char name[64];
	int from, ev, to, res, row;

	if (sscanf(line, "KILN %63s %d %d %d %d %d", name, &from, &ev, &to,
	    &res, &row) != 6)
		return err_set(err, EINVAL, "malformed trail line: %s", line);
	if ((def = fsm_registry_find(name)) == NULL)
		return err_set(err, EINVAL, "trail names unknown machine %s",
		    name);
	if (from < 0 || from >= def->nstates || to < 0 ||
	    to >= def->nstates || ev < 0 || ev >= def->nevents ||
	    res < FSM_RES_OK || res > FSM_RES_FAILED ||
	    (row != TRAIL_NOROW && (row < 0 || row >= def->nrows)))
		return err_set(err, EINVAL, "%s: id out of range in trail "
		    "line: %s", name, line);
	memset(rec, 0, sizeof *rec);
	rec->def = def;
	snprintf(rec->id, sizeof rec->id, "spin");
	rec->seq = seq;
	rec->from = from;
	rec->event = ev;
	rec->to = to;
	rec->row = row == TRAIL_NOROW ? -1 : row;
	rec->result = (enum fsm_result)res;
	/* Replay the selection to name the guards SPIN chose, as dispatch. */
	(void)fsm_select(def, from, ev, trail_oracle, rec->row >= 0 ?
	    (void *)(uintptr_t)&def->rows[rec->row] : NULL, rec->guards,
	    sizeof rec->guards);
	return 0;
}

int
fsm_promela_trail(FILE *in, FILE *out, struct err *err)
{
	struct fsm_trace_rec rec;
	char line[512], json[1024];
	const char *k;
	bool cycle = false;
	int n = 0;

	while (fgets(line, sizeof line, in) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strstr(line, "START OF CYCLE") != NULL) {
			cycle = true;
			continue;
		}
		/* SPIN may indent a process's output: find the tag. */
		if ((k = strstr(line, "KILN ")) == NULL)
			continue;
		if (trail_parse(k, (uint64_t)n + 1, &rec, err) < 0)
			return -1;
		if (cycle)
			snprintf(rec.detail, sizeof rec.detail, "cycle");
		fsm_trace_json(&rec, json, sizeof json);
		fprintf(out, "%s\n", json);
		n++;
	}
	return n;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Replays a fuzz target over files without libFuzzer, so `make check` runs
 * every harness over its committed seed corpus (and any crash reproducer
 * added to it). Prints TAP: one test per file.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>

#include "tests/tap.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Read a whole file; NULL on error. */
static uint8_t *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0) {
		data = malloc((size_t)n + 1);
		*len = fread(data, 1, (size_t)n, f);
	}
	fclose(f);
	return data;
}

static void
replay(const char *path)
{
	size_t len = 0;
	uint8_t *data = slurp(path, &len);

	if (!ok(data != NULL, "read %s", path))
		return;
	LLVMFuzzerTestOneInput(data, len);
	ok(1, "replayed %s (%zu bytes) without a crash", path, len);
	free(data);
}

static int
by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Without arguments: every file of the harness's committed corpus. */
int
main(int argc, char **argv)
{
	const char *dir = "tests/fuzz/corpus/" FUZZ_NAME;
	struct dirent **names;
	char path[4096];
	int i, n;

	if (argc > 1) {
		for (i = 1; i < argc; i++)
			replay(argv[i]);
		return tap_done();
	}
	n = scandir(dir, &names, NULL, by_name);
	ok(n > 0, "corpus %s has seeds", dir);
	for (i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.') {
			snprintf(path, sizeof path, "%s/%s", dir,
			    names[i]->d_name);
			replay(path);
		}
		free(names[i]);
	}
	if (n > 0)
		free(names);
	return tap_done();
}

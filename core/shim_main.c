/* SPDX-License-Identifier: Apache-2.0 */
/* containerd-shim-kiln-v1's entry point: start, delete, -v, or the daemon. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "core/core_int.h"
#include "core/shim.h"

int
main(int argc, char **argv)
{
	struct shim_args a;

	signal(SIGPIPE, SIG_IGN);
	log_init(SHIM_NAME, LOG_LVL_INFO, -1);
	shim_parse_args(argc, argv, &a);
	if (a.version) {
		printf("%s version %s\n", SHIM_NAME, KILN_VERSION);
		return 0;
	}
	if (a.action != NULL && strcmp(a.action, "start") == 0)
		return shim_start(&a, argv);
	if (a.action != NULL && strcmp(a.action, "delete") == 0)
		return shim_delete(&a);
	if (a.action != NULL) {
		fprintf(stderr, "%s: unknown action %s\n", SHIM_NAME,
		    a.action);
		return 2;
	}
	if (a.id == NULL)
		return fprintf(stderr, "%s: -id is required\n", SHIM_NAME), 2;
	return shim_daemon(&a);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The shim binary's command line, shared by its actions (core/ only). */
#ifndef KILN_CORE_SHIM_H
#define KILN_CORE_SHIM_H

#include <stdbool.h>

struct shim_args {
	const char	*namespace;
	const char	*address;	/* containerd's gRPC socket */
	const char	*publish_binary;
	const char	*id;
	const char	*bundle;
	bool		 debug;
	bool		 version;
	const char	*action;	/* "start", "delete" or NULL: daemon */
};

/* Go flag package rules: -x v, --x v, -x=v; booleans take no value. */
int	 shim_parse_args(int argc, char **argv, struct shim_args *);
char	*shim_socket_path(const char *address, const char *ns, const char *id);
int	 shim_start(const struct shim_args *, char **argv);
int	 shim_delete(const struct shim_args *);
int	 shim_daemon(const struct shim_args *);

#endif

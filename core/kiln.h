/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kiln command (kiln.c, kiln_top.c, kiln_monitor.c): what its
 * subcommands share. Every shim serves GET /metrics on
 * SHIM_RUN_DIR/<hash>/metrics.sock; the command finds them there.
 */
#ifndef KILN_CORE_KILN_H
#define KILN_CORE_KILN_H

#include "core/core_int.h"

#define KILN_FETCH_MS	8000		/* above a shim's CORE_SCRAPE_MS */
#define KILN_FETCH_MAX	(4u << 20)	/* bytes of one shim's answer */
#define KILN_MAX_TARGETS 1024

/* One shim's metrics socket and what it answered. */
struct kiln_target {
	char		*sock;
	bool		 done;
	int		 status;	/* HTTP status, 0 on error */
	struct buf	 body;
	char		 err[256];
};

struct kiln_fetch {
	struct reactor		*r;		/* borrowed */
	struct kiln_target	*t;
	size_t			 n;
	size_t			 left;
	void			(*done)(struct kiln_fetch *, void *);
	void			*arg;
};

/* Every metrics socket under SHIM_RUN_DIR (malloc'd paths), sorted. */
size_t		 kiln_find_sockets(char ***out);
void		 kiln_free_sockets(char **, size_t);
/*
 * GET /metrics from every socket at once; done(f, arg) runs from the
 * reactor once all answered or failed (each within KILN_FETCH_MS).
 * f->t is f's until kiln_fetch_fini. socks are borrowed for the call.
 */
void		 kiln_fetch_start(struct kiln_fetch *, struct reactor *,
		    char **socks, size_t n,
		    void (*done)(struct kiln_fetch *, void *), void *);
void		 kiln_fetch_fini(struct kiln_fetch *);

int		 kiln_top_main(int argc, char **argv);
int		 kiln_monitor_main(int argc, char **argv);

#endif

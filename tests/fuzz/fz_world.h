/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shim in process, for the fuzz harnesses that drive it
 * (fuzz_shim.c, fuzz_ttrpc.c): one input's world (the shim's real Task
 * service registered as shim.c registers it, its events, the fake VM of
 * fake_vm.c), both peers' ends of the wire (containerd's connection to
 * the shim's listening socket; the agent's end of the channel the fake VM
 * dials), the reactor pump, and the invariants kiln-fsmcheck states,
 * checked after each step. Teardown frees everything, so LeakSanitizer
 * sees any leak.
 *
 * Host safety: mount(2) is wrapped to fail (a fuzzed Create names rootfs
 * mounts), and nothing is ever forked or signalled. Harnesses that link
 * this file wrap core_events_publish, mount and umount2
 * (tests/fuzz/module.mk).
 */
#ifndef KILN_TESTS_FUZZ_FZ_WORLD_H
#define KILN_TESTS_FUZZ_FZ_WORLD_H

#include "tests/fuzz/fake_vm.h"
#include "tests/fuzz/fz_msg.h"

#define FZ_MAX_REQS	64	/* the shim's requests kept to be answered */
#define FZ_MAX_PROCS	8	/* processes whose exits are counted */
#define FZ_ABUF		(256 * 1024)
#define FZ_TURNS	6

/*
 * The scratch directory's name has a fixed length, so an input may name
 * a path inside it with this placeholder and have it rewritten in place
 * (fz_world_paths): "/tmp/kiln-fz-XXXXXX/bundle".
 */
#define FZ_DIR_TEMPLATE	"/tmp/kiln-fz-XXXXXX"

struct fz_req {
	uint32_t	 stream;
	char		 method[32];
};

struct fz_proc {
	char		 id[PROTO_ID_MAX + 1];
	int		 exits;
};

/*
 * The agent saw one of the shim's requests (its envelope, borrowed).
 * true: the hook dealt with it; false: keep it in reqs[] for the caller.
 */
typedef bool	(*fz_req_hook)(uint32_t stream, const Ttrpc__Request *);
/* containerd read these bytes of the shim's replies (borrowed). */
typedef void	(*fz_reply_hook)(const uint8_t *, size_t);

/* Process-wide: the bundle, and the sockets the shim is reached on. */
struct fz_host {
	char		 dir[sizeof FZ_DIR_TEMPLATE];
	char		 bundle[64];
	char		 out[64];
	int		 lfd;		/* where the fake VM dials the agent */
	int		 cfd_listen;	/* the shim's listening socket */
};
extern struct fz_host	fz_host;

/* One input's world. */
struct fz_world {
	struct shim		 s;
	struct proto_service	 svc;
	int			 cfd;		/* containerd's end */
	int			 afd;		/* the agent's end, or -1 */
	bool			 auto_hello;
	uint32_t		 next_stream;
	fz_req_hook		 on_req;	/* NULL: keep in reqs[] */
	fz_reply_hook		 on_reply;	/* NULL: discarded */
	struct fz_req		 reqs[FZ_MAX_REQS];
	int			 nreqs;
	uint8_t			 abuf[FZ_ABUF];
	size_t			 alen;
	struct fz_proc		 procs[FZ_MAX_PROCS];
	int			 nprocs;
};
extern struct fz_world	fz_run;

/* Once per process: the scratch directory, the bundle, the sockets. */
void	fz_world_setup(void);
/*
 * A fresh world in fz_run: a shim serving the real Task service on its
 * listening socket, with containerd connected (fz_run.cfd). auto_hello:
 * the agent greets as soon as the shim's VM dials it.
 */
void	fz_world_new(bool auto_hello);
/* QEMU exits, the peers hang up, everything is freed. */
void	fz_world_free(void);
/* turns reactor turns, each followed by both peers reading. */
void	fz_world_pump(int turns);
/* One frame on fd (a full socket drops it: the shim must cope). */
void	fz_world_send(int fd, uint32_t stream, uint8_t type,
	    const uint8_t *body, size_t len);
/* The agent's greeting: 0 right, 1 wrong body, 2 wrong type, 3 half. */
void	fz_world_hello(int variant);
/* The invariants, after a step (abort on a broken one). */
void	fz_world_check(void);
/*
 * Rewrite, in p[0..n), every FZ_DIR_TEMPLATE to this process's scratch
 * directory (the same length), so an input can name the bundle.
 */
void	fz_world_paths(uint8_t *p, size_t n);

#endif

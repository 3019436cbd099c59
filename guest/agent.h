/* SPDX-License-Identifier: Apache-2.0 */
/*
 * guest: kiln-agent, PID 1 inside the VM. It brings the guest up (mounts,
 * kernel modules, a tmpfs root that crun can pivot_root away from), serves
 * the kiln.agent.v1 ttrpc API on the virtio-serial port (or AF_VSOCK), runs
 * containers with crun, carries their stdio as flow-controlled stream
 * frames and reports exits exactly once. Everything the host sends is
 * validated here; the host in turn trusts nothing the agent says.
 *
 * Module layout: agent.c (process, channel, events), agent_init.c
 * (early boot), agent_service.c (RPC handlers), agent_container*.c and
 * agent_process*.c (the two machines and their actions), agent_stdio.c
 * (pipes <-> stream frames), agent_spec.c (OCI spec checks).
 */
#ifndef KILN_GUEST_AGENT_H
#define KILN_GUEST_AGENT_H

#include <sys/queue.h>
#include <sys/types.h>
#include <linux/types.h>

#include <jansson.h>

#include "cni/cni.h"
#include "proto/proto.h"
#include "kiln/agent.pb-c.h"
#include "guest/kiln_metrics_event.h"

#define AGENT_RUN_DIR		"/run/kiln"
#define AGENT_CRUN		"/usr/bin/crun"
/* A sealed copy of AGENT_CRUN that crun runs from (agent_init.c), or -1. */
extern int	agent_crun_fd;
#define AGENT_CGROUP_PARENT	"kiln"
/* The serials of the disks a pod's app containers get hot-added. */
#define AGENT_POD_DISK_PREFIX	"kiln-rootfs-"
#define AGENT_MAX_CONTAINERS	64
#define AGENT_MAX_PROCESSES	64	/* per container, execs included */
#define AGENT_MAX_EVENTS	256	/* guest events not yet fetched */
#define AGENT_MAX_SPEC		(1024 * 1024)
#define AGENT_HELPER_MS		120000	/* crun create/start/delete; under load */
#define AGENT_DRAIN_MS		30000	/* no output progress after exit */
#define AGENT_FREEZE_MS		10000	/* cgroup freezer to report frozen */

struct agent;
struct agent_bpf;
struct agent_container;
struct agent_process;

/* ---- process machine (agent_process_fsm.c) ---------------------------- */

#define AGENT_PROC_STATES(X, P) X(P, NEW) X(P, CREATING) X(P, CREATED) \
	X(P, STARTING) X(P, RUNNING) X(P, DRAINING) X(P, STOPPED)
#define AGENT_PROC_EVENTS(X, P) X(P, CREATE) X(P, HELPER_OK) \
	X(P, HELPER_FAILED) X(P, START) X(P, EXITED) X(P, IO_DONE) \
	X(P, TIMEOUT) X(P, FAIL)

enum agent_proc_state {
	AGENT_PROC_STATES(FSM_X_ENUM, AGENT_PROC_ST_) AGENT_PROC_ST__COUNT
};
enum agent_proc_event {
	AGENT_PROC_EVENTS(FSM_X_ENUM, AGENT_PROC_EV_) AGENT_PROC_EV__COUNT
};
extern const struct fsm_def agent_proc_fsm_def;

/* ---- container machine (agent_container_fsm.c) ----------------------- */

#define AGENT_CTR_STATES(X, P) X(P, NEW) X(P, PREPARED) X(P, ACTIVE) \
	X(P, PAUSING) X(P, PAUSED) X(P, STOPPED) X(P, REMOVING) X(P, REMOVED)
#define AGENT_CTR_EVENTS(X, P) X(P, PREPARE) X(P, INIT_CREATED) \
	X(P, INIT_STOPPED) X(P, EXEC) X(P, PAUSE) X(P, FROZEN) X(P, RESUME) \
	X(P, REMOVE) \
	X(P, HELPER_OK) X(P, HELPER_FAILED) \
	X(P, TIMEOUT) X(P, FAIL)

enum agent_ctr_state {
	AGENT_CTR_STATES(FSM_X_ENUM, AGENT_CTR_ST_) AGENT_CTR_ST__COUNT
};
enum agent_ctr_event {
	AGENT_CTR_EVENTS(FSM_X_ENUM, AGENT_CTR_EV_) AGENT_CTR_EV__COUNT
};
extern const struct fsm_def agent_ctr_fsm_def;

/* ---- NIC machine (agent_net.c) ----------------------------------------- */
#define AGENT_NIC_STATES(X, P) X(P, NEW) X(P, WAITING) X(P, UP) X(P, FAILED)
#define AGENT_NIC_EVENTS(X, P) X(P, CONFIGURE) X(P, LINK_FOUND) \
	X(P, TIMEOUT) X(P, FAIL)

enum agent_nic_state {
	AGENT_NIC_STATES(FSM_X_ENUM, AGENT_NIC_ST_) AGENT_NIC_ST__COUNT
};
enum agent_nic_event {
	AGENT_NIC_EVENTS(FSM_X_ENUM, AGENT_NIC_EV_) AGENT_NIC_EV__COUNT
};
extern const struct fsm_def agent_nic_fsm_def;

#define AGENT_MAX_NICS		8	/* being configured at once */
#define AGENT_NIC_MAX_ADDRS	8
#define AGENT_NIC_MAX_ROUTES	16
#define AGENT_NIC_DNS_MAX	8

/* One ConfigureNetwork in progress: the request as plain data. */
struct agent_nic {
	struct fsm		 fsm;
	TAILQ_ENTRY(agent_nic)	 entry;
	struct agent		*a;		/* borrowed */
	struct proto_call	*pending;
	struct reactor_timer	*timer;		/* link poll */
	uint64_t		 deadline_ns;
	char			 cid[PROTO_ID_MAX + 1];
	char			 name[16];
	char			 hostname[64];
	uint8_t			 mac[6];
	uint32_t		 mtu;
	int			 ifindex;
	struct cni_nl_addr	 addrs[AGENT_NIC_MAX_ADDRS];
	int			 naddrs;
	struct cni_nl_route	 routes[AGENT_NIC_MAX_ROUTES];
	int			 nroutes;
	char			*dns_ns[AGENT_NIC_DNS_MAX];
	char			*dns_search[AGENT_NIC_DNS_MAX];
	char			*dns_opts[AGENT_NIC_DNS_MAX];
	size_t			 ndns_ns, ndns_search, ndns_opts;
	char			 error[256];
};
TAILQ_HEAD(agent_nic_q, agent_nic);

/* ---- stdio ------------------------------------------------------------ */

/* One stdio pipe of a process; the agent owns its end. */
struct agent_stream {
	struct agent_process	*p;		/* borrowed: owner */
	uint32_t		 fd_no;		/* 0, 1, 2 */
	int			 fd;		/* our end, or -1 */
	struct reactor_io	*io;
	uint32_t		 credit;	/* out: bytes we may send */
	struct buf		 pending;	/* in: bytes for the pipe */
	size_t			 unacked;	/* in: received, not credited */
	bool			 eof_seen;	/* out: pipe EOF; in: host EOF */
	bool			 eof_sent;	/* out: EOF frame queued */
	bool			 opened;	/* the pipe exists (or existed) */
};

/* ---- objects ---------------------------------------------------------- */

struct agent_waiter {
	TAILQ_ENTRY(agent_waiter) entry;
	struct proto_call	*call;
};
TAILQ_HEAD(agent_waiter_q, agent_waiter);

struct agent_process {
	struct fsm		 fsm;
	TAILQ_ENTRY(agent_process) entry;
	struct agent_container	*c;		/* borrowed: owner */
	char			 exec_id[PROTO_ID_MAX + 1];
	bool			 is_init;
	bool			 want_stdin;
	bool			 terminal;	/* a pty from crun's console */
	int			 console_fd;	/* listening, until crun sends */
	struct winsize_req {
		uint16_t	rows, cols;
	}			 winsize;
	pid_t			 pid;
	bool			 exited;
	int			 wait_status;
	uint64_t		 exited_ns;	/* CLOCK_REALTIME */
	bool			 io_done;
	struct agent_stream	 streams[3];
	pid_t			 helper_pid;
	struct reactor_child	*helper;
	struct reactor_timer	*timer;
	struct proto_call	*pending;	/* Create/Start awaiting crun */
	struct agent_waiter_q	 waiters;
	char			 last_error[256];
};
TAILQ_HEAD(agent_process_q, agent_process);

struct agent_container {
	struct fsm		 fsm;
	TAILQ_ENTRY(agent_container) entry;
	struct agent		*a;		/* borrowed */
	char			 id[PROTO_ID_MAX + 1];
	char			*dir;		/* AGENT_RUN_DIR/<id> */
	char			*rootfs;	/* dir/rootfs (9p mount) */
	bool			 rootfs_mounted;
	unsigned		 rootfs_layers;	/* AGENT_ROOTFS_* mounted */
	struct agent_process_q	 procs;
	int			 nprocs;
	struct agent_process	*init;		/* borrowed, in procs */
	pid_t			 helper_pid;
	struct reactor_child	*helper;
	struct reactor_timer	*timer;
	struct proto_call	*pending;	/* Remove or Pause */
	struct reactor_timer	*freeze_poll;	/* PAUSING: cgroup.events */
	int			 oom_wd;	/* inotify watch of memory.events */
	uint64_t		 oom_kills;	/* oom_kill seen so far */
	bool			 dead;		/* freed on the next turn */
};
TAILQ_HEAD(agent_container_q, agent_container);

/* A guest event not yet fetched by NextEvent. */
struct agent_event {
	TAILQ_ENTRY(agent_event) entry;
	Kiln__Agent__V1__GuestEvent ev;
	Kiln__Agent__V1__ProcessExited exited;
	Kiln__Agent__V1__ContainerOOM oom;
	char			 cid[PROTO_ID_MAX + 1];
	char			 eid[PROTO_ID_MAX + 1];
};
TAILQ_HEAD(agent_event_q, agent_event);

/* An exit reaped before anyone claimed its pid. */
struct agent_exit {
	pid_t	pid;
	int	status;
};
#define AGENT_MAX_UNCLAIMED	64

struct agent {
	struct reactor		*r;
	struct fsm_env		*env;
	struct proto_server	*server;
	struct proto_conn	*conn;		/* host connection */
	char			*port_path;	/* /dev/vportNpM or NULL */
	int			 vsock_fd;	/* listening, or -1 */
	struct reactor_io	*vsock_io;
	struct reactor_timer	*hello_timer;
	struct reactor_timer	*reopen_timer;
	bool			 heard_host;
	bool			 hanging;	/* TestHang */
	bool			 powering_off;
	uint64_t		 boot_ns;	/* CLOCK_BOOTTIME at start */
	uint64_t		 ready_ns;	/* CLOCK_BOOTTIME when serving */
	char			 kernel_release[65];
	struct agent_container_q containers;
	int			 ncontainers;
	struct agent_nic_q	 nics;
	int			 nnics;
	struct agent_event_q	 events;
	int			 nevents;
	struct proto_call	*event_call;	/* NextEvent long-poll */
	struct agent_exit	 unclaimed[AGENT_MAX_UNCLAIMED];
	int			 nunclaimed;
	int			 power_fd;
	struct reactor_io	*power_io;
	struct reactor_timer	*off_timer;
	struct reactor_child	*late_loader;	/* load-order.late */
	int			 inotify_fd;	/* memory.events of containers */
	struct reactor_io	*inotify_io;
	int			 off_polls;
	struct agent_bpf	*bpf;		/* NULL until loaded, or failed */
	char			 bpf_missing[256]; /* why not, once known */
	/*
	 * kiln.settle (a snapshot template being built): no greeting until
	 * the late modules and the eBPF programs are in, so that the saved
	 * guest has them and every VM restored from it starts settled.
	 */
	bool			 settling;
};

/* agent.c */
/*
 * Where the agent keeps its run files (AGENT_RUN_DIR) and finds sysfs
 * ("/sys": cgroups, block devices): a harness that runs the agent in
 * process points both at a scratch tree before agent_init().
 */
extern const char *agent_run_dir;
extern const char *agent_sysfs;
/* Run the agent (PID 1 or not); returns only when powering off fails. */
int		 agent_main(struct agent *);
/*
 * Set a (zeroed) up to serve: reactor, machines, the Agent service, the
 * greeting timer, PID 1's reaping. Touches nothing outside the process.
 * Returns -1 with err if the reactor cannot start.
 */
int		 agent_init(struct agent *, struct err *);
/*
 * Serve the host on connected fd (taken), replacing any earlier host
 * connection: the greeting is sent, and repeated until the host speaks.
 */
void		 agent_serve_fd(struct agent *, int fd);
/*
 * Free everything agent_init() and the requests since made, answering
 * the calls still waiting (tests; the guest powers off instead). Call it
 * once every child the agent started has been reaped.
 */
void		 agent_fini(struct agent *);
uint64_t	 agent_boottime_ns(void);
void		 agent_push_exit_event(struct agent *, struct agent_process *);
void		 agent_events_flush(struct agent *);
/* Watch the container's memory.events for OOM kills (after create). */
void		 agent_oom_watch(struct agent_container *);
void		 agent_oom_unwatch(struct agent_container *);
void		 agent_power_off(struct agent *);
/* Fork and exec argv with stdio fds (-1: /dev/null); watch its exit. */
pid_t		 agent_spawn(struct agent *, char *const argv[],
		    const int stdio[3], const char *log_path,
		    reactor_child_cb, void *arg, struct reactor_child **,
		    struct err *);
bool		 agent_claim_exit(struct agent *, pid_t, int *status);

/* agent_init.c */
int		 agent_early_init(struct err *);
int		 agent_load_modules(const char *list, struct err *);

/* agent_net.c */
void		 agent_net_configure(struct agent *, struct proto_call *,
		    const Kiln__Agent__V1__NetworkConfig *);
void		 agent_nics_free(struct agent *);
/* Loopback up: the container shares the guest's network namespace. */
void		 agent_net_lo_up(void);
/* agent_resources.c */
void		 agent_resources_init(void);
void		 agent_update_resources(struct agent *, struct proto_call *,
		    const Kiln__Agent__V1__ResourcesRequest *);
/* agent_service.c */
extern const struct proto_method agent_methods[];
extern const size_t agent_nmethods;

/* agent_spec.c */
/*
 * Validate the host's OCI spec and rewrite it for this guest. join_pid > 0:
 * a pod's app container, whose namespace paths become join_pid's.
 */
json_t		*agent_spec_prepare(const uint8_t *, size_t, const char *id,
		    const char *rootfs, pid_t join_pid, struct err *);
/* Validate an OCI process object (exec). */
json_t		*agent_spec_process(const uint8_t *, size_t, struct err *);
int		 agent_json_write(const json_t *, const char *path,
		    struct err *);

/* agent_container.c */
struct agent_container *agent_container_find(struct agent *, const char *);
struct agent_container *agent_container_new(struct agent *, const char *id);
void		 agent_container_free(struct agent_container *);
void		 agent_container_kill_all(struct agent_container *, int sig);
int		 agent_container_pids(struct agent_container *, pid_t *, int,
		    struct err *);
struct agent_process *agent_process_find(struct agent_container *,
		    const char *exec_id);
struct agent_process *agent_process_find_pid(struct agent *, pid_t);
struct agent_process *agent_process_new(struct agent_container *,
		    const char *exec_id);
void		 agent_process_free(struct agent_process *);
/* Dispatch helpers that log a refused transition. */
int		 agent_proc_event(struct agent_process *, int ev,
		    const void *data, struct err *);
int		 agent_ctr_event(struct agent_container *, int ev,
		    struct err *);

/* PREPARE: the rootfs of type "9p" or "erofs" with its tag (a mount
 * tag, a disk serial), the spec written for crun. */
int		 agent_ctr_prepare(struct agent_container *, const char *type,
		    const char *tag, const json_t *spec, struct err *);

/* agent_rootfs.c: mount the container's rootfs on c->rootfs, or undo. */
#define AGENT_ROOTFS_IMAGE	0x1	/* the EROFS image on dir/image */
#define AGENT_ROOTFS_RW		0x2	/* the tmpfs on dir/rw */
int		 agent_rootfs_mount(struct agent_container *, const char *type,
		    const char *tag, struct err *);
void		 agent_rootfs_unmount(struct agent_container *);

/* Write text to an existing file (sysfs, cgroupfs); err names it. */
int		 agent_write_file(const char *path, const char *text,
		    struct err *);

/* Container and process file locations. */
char		*agent_path(const struct agent_container *, const char *name);
/* The container's cgroup v2 directory, or file in it if not NULL. */
void		 agent_cgroup_path(char *, size_t, const char *cid,
		    const char *file);

/* agent_stats.c: answer call with the container's cgroup v2 metrics;
 * -1 if its cgroup is gone (the caller answers NOT_FOUND). */
int		 agent_stats_reply(struct agent_container *, struct proto_call *);

/* agent_stats.c: answer GetMetrics for cid ("" for every container). */
void		 agent_metrics_reply(struct agent *, struct proto_call *,
		    const char *cid);

/* agent_bpf.c: the metrics programs (kiln_metrics.bpf.c). */
/* Open, load and attach (CO-RE against btf, or the kernel's BTF if
 * NULL); the ring buffer joins r. NULL and err (why) if the kernel
 * refuses. Blocks for the verifier's time: call it once. */
struct agent_bpf *agent_bpf_start(struct reactor *r, const char *btf,
		    struct err *);
void		 agent_bpf_stop(struct agent_bpf *);	/* NULL: no-op */
/* Counters of cgroup cgid summed over CPUs; false (zeroed) if none. */
bool		 agent_bpf_read(struct agent_bpf *, uint64_t cgid,
		    struct kiln_cg_stats *);
/* The last max OOM victims of cgid, oldest first; returns how many. */
int		 agent_bpf_victims(struct agent_bpf *, uint64_t cgid,
		    struct kiln_oom_event *, int max);
/* Run time and runs of each program (BPF_ENABLE_STATS), at most max. */
struct agent_bpf_prog {
	const char	*name;		/* borrowed from the skeleton */
	uint64_t	 run_ns, runs;
};
int		 agent_bpf_programs(struct agent_bpf *, struct agent_bpf_prog *,
		    int max);

/* agent_stdio.c */
int		 agent_stdio_open(struct agent_process *, int child[3],
		    bool want_stdin, struct err *);
void		 agent_stdio_close(struct agent_process *);
void		 agent_stdio_frame(struct agent *, const uint8_t *, size_t);
void		 agent_stdio_close_stdin(struct agent_process *);
/* A terminal process: the pty master crun sent becomes stdout and stdin. */
void		 agent_stdio_adopt_pty(struct agent_process *, int master);
int		 agent_stdio_resize(struct agent_process *, uint16_t rows,
		    uint16_t cols, struct err *);
/* Re-evaluate read interest after credit arrived or the host came back. */
void		 agent_stdio_kick(struct agent_process *);

#endif

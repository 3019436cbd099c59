/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of the shim, shared by the files of core/. The shim is one
 * process per task (grouping is not used): containerd's ttrpc server side,
 * the task and VM machines, the event publisher, stdio bridges, config.
 */
#ifndef KILN_CORE_INT_H
#define KILN_CORE_INT_H

#include <sys/queue.h>
#include <sys/types.h>

#include <jansson.h>

#include "core/core.h"
#include "proto/proto.h"
#include "qmp/qmp.h"
#include "vsock/vsock.h"
#include "cni/cni.h"
#include "containerd/task.pb-c.h"
#include "containerd/events.pb-c.h"
#include "kiln/agent.pb-c.h"

#define SHIM_NAME	"containerd-shim-kiln-v1"
#define SHIM_STATE_FILE	"kiln-state.json"	/* in the bundle */
#define SHIM_RUN_DIR	"/run/kiln"		/* short socket paths */

/* ---- configuration (config.c) ----------------------------------------- */

struct core_config {
	char		*qemu;		/* the QEMU binary */
	char		*kernel;
	char		*initrd;
	char		*image_dir;	/* where accel probe lives */
	char		*accel;		/* "auto", "kvm", "tcg" */
	char		*transport;	/* "auto", "serial", "vsock" */
	unsigned	 vcpus;
	unsigned	 mem_mib;
	uint64_t	 boot_timeout_ms;
	uint64_t	 stop_timeout_ms;
	uint64_t	 agent_timeout_ms;	/* each agent call */
	bool		 debug;
	char		*trace_file;	/* JSON Lines trace, or NULL */
	unsigned	 max_vcpus;	/* a VM never grows past these */
	unsigned	 max_mem_mib;
	unsigned	 mem_overhead_mib;	/* guest kernel + agent */
	char		*cni_conflist;	/* kiln runs CNI itself, or NULL */
	char		*cni_bin_dirs;	/* CNI_PATH */
	char		*cni_cache_dir;	/* libcni's result cache */
	uint64_t	 cni_timeout_ms;	/* each plugin */
	char		*share_model;	/* 9p security_model */
	char		*rootfs;	/* "erofs" (a block image) or "9p" */
	char		*mkfs_erofs;	/* the image builder */
	bool		 jail_namespaces;	/* the jail's steps (jail.c) */
	bool		 jail_user;
	bool		 jail_cgroup;
	bool		 jail_seccomp;
	unsigned	 jail_uid_base;
	unsigned	 jail_uid_count;
	unsigned	 jail_template_gid;	/* may open template RAM */
	unsigned	 jail_mem_overhead_mib;
	unsigned	 jail_pids_max;
	bool		 scaler;		/* the vertical scaler */
	uint64_t	 scaler_interval_ms;	/* between samples */
	uint64_t	 scaler_idle_ms;	/* the longest, while idle */
	unsigned	 scaler_up_samples;	/* hot in a row to grow */
	unsigned	 scaler_down_samples;	/* cold in a row to shrink */
	bool		 qemu_thp;	/* THP for QEMU (guest RAM) */
	unsigned	 tcg_tb_mib;	/* TCG code buffer; 0: QEMU's */
	char		*tcg_thread;	/* "multi" (a host thread a vCPU) or "single" */
	char		*tcg_cpu;	/* -cpu under TCG: a model and its +/-features */
	bool		 snapshot;	/* start from a template (tmpl.c) */
	bool		 guest_bpf;	/* the agent's eBPF metrics */
	char		*template_dir;
};

/* Defaults, then $KILN_CONFIG or /etc/kiln/config.json if present. */
int	core_config_load(struct core_config *, struct err *);
/* Parse and validate one JSON document over the current values. */
int	core_config_parse(struct core_config *, const char *json,
	    size_t len, const char *origin, struct err *);
void	core_config_fini(struct core_config *);

/* ---- the VMM's jail (jail.c) ---------------------------------------- */

struct core_jail {
	const struct core_config *cfg;		/* borrowed */
	char		*root;		/* run_dir/root, the empty root */
	uid_t		 uid;		/* uid and gid; 0: jail_user off */
	char		*uid_lock;	/* SHIM_RUN_DIR/uids/<uid> */
	char		*cg[2];		/* cgroup dirs (v1: memory, pids) */
};

/* What QEMU needs inside the jail (borrowed; absolute paths). */
struct core_jail_paths {
	const char	*qemu;
	const char	*kernel;
	const char	*initrd;
	const char	*share;		/* read-write */
	const char	*ram;		/* template RAM (read-write) or NULL */
	bool		 kvm;		/* bind /dev/kvm */
};

/*
 * In the shim: take a uid, make the VM's cgroup and the root directory
 * of the jail, per cfg (borrowed for the jail's life). NULL and err on
 * failure, with nothing left behind. Warns of every loosened step.
 */
struct core_jail *core_jail_new(const struct core_config *, const char *id,
		    const char *run_dir, struct err *);
/* After QEMU is gone: remove the cgroup dirs and the root, free the uid. */
void		 core_jail_free(struct core_jail *);
/* The same from the run dir alone, for the `delete` action. */
void		 core_jail_cleanup(const char *run_dir);
/*
 * fork() for QEMU: with the jail's namespaces, the child is PID 1 of a new
 * PID namespace (clone(CLONE_NEWPID)); the parent gets its pid as usual.
 */
pid_t		 core_jail_fork(const struct core_jail *);
/*
 * In the forked child only: confine it; returns ready to exec, or writes
 * "kiln: jail: ..." to stderr and exits 125.
 */
void		 core_jail_enter(const struct core_jail *,
		    const struct core_jail_paths *);

/* ---- snapshot templates (tmpl.c, tmpl_fsm.c) -------------------------- */

/*
 * One VM's view of the template for its key: found ready (restore from
 * it), built by this VM (it holds the lock), or none (cold boot).
 */
#define TMPL_STATES(X, P) X(P, NEW) X(P, BUILDING) X(P, READY) X(P, USED) \
	X(P, STALE) X(P, NONE)
#define TMPL_EVENTS(X, P) X(P, LOOKUP) X(P, SAVED) X(P, RESTORED) \
	X(P, FAILED) X(P, TIMEOUT) X(P, FAIL)

enum tmpl_state { TMPL_STATES(FSM_X_ENUM, TMPL_ST_) TMPL_ST__COUNT };
enum tmpl_event { TMPL_EVENTS(FSM_X_ENUM, TMPL_EV_) TMPL_EV__COUNT };
extern const struct fsm_def tmpl_fsm_def;

struct core_tmpl {
	struct fsm		 fsm;
	const struct core_config *cfg;		/* borrowed */
	struct reactor_timer	*timer;		/* the build's deadline */
	char			*key;		/* what the template depends on */
	char			*dir;		/* template_dir/<hash> */
	char			*build_dir;	/* dir.build-<pid> */
	char			*lock_path;	/* dir.lock */
	int			 lock_fd;	/* flock'ed while building */
	bool			 found;		/* probe: dir is complete */
	bool			 locked;	/* probe: the lock is ours */
	char			 why[160];	/* why none: the log line */
};

/*
 * The template for key (copied) under cfg->template_dir. Looks on disk
 * and, if no template is ready, tries the lock without waiting; then
 * posts LOOKUP, whose rows decide (READY, BUILDING or NONE). Never fails:
 * any trouble is a cold boot with a log line.
 */
struct core_tmpl *core_tmpl_new(struct reactor *, struct fsm_env *,
		    const struct core_config *, const char *id,
		    const char *key);
void		 core_tmpl_free(struct core_tmpl *);
/* Files of the template this VM restores from or builds (READY/BUILDING). */
char		*core_tmpl_path(const struct core_tmpl *, const char *name);
/* tmpl.c: what tmpl_fsm.c's actions do. */
int		 tmpl_do_build(struct core_tmpl *, struct err *);
int		 tmpl_do_commit(struct core_tmpl *, struct err *);
void		 tmpl_do_discard(struct core_tmpl *);
void		 tmpl_do_stale(struct core_tmpl *);
void		 tmpl_do_cold(struct core_tmpl *);
void		 tmpl_do_use(struct core_tmpl *);

/* ---- the VM machine (vm.c, vm_fsm.c) ---------------------------------- */

/*
 * Besides a cold boot: INCOMING..CLOCKING restore from a template
 * (migrate-incoming, cont, the agent's greeting, SetClock); SAVING and
 * RESPAWN build one from this very VM at its greeting, then restore;
 * FALLBACK waits for a QEMU that failed either to go, then cold-boots.
 */
#define VM_STATES(X, P) X(P, NEW) X(P, SPAWNING) X(P, BOOTING) X(P, READY) \
	X(P, STOPPING) X(P, STOPPED) X(P, INCOMING) X(P, LOADING) \
	X(P, RESUMING) X(P, CLOCKING) X(P, SAVING) X(P, RESPAWN) \
	X(P, FALLBACK)
#define VM_EVENTS(X, P) X(P, SPAWN) X(P, QMP_READY) X(P, AGENT_READY) \
	X(P, STOP) X(P, AGENT_LOST) X(P, QEMU_EXITED) X(P, TIMEOUT) \
	X(P, MIGRATED) X(P, MIGRATE_FAILED) X(P, CLOCK_SET) \
	X(P, CLOCK_FAILED) X(P, FAIL)

/* How QEMU is started: from nothing, as a template, from a template. */
enum vm_mode { VM_MODE_COLD, VM_MODE_BUILD, VM_MODE_RESTORE };

enum vm_state { VM_STATES(FSM_X_ENUM, VM_ST_) VM_ST__COUNT };
enum vm_event { VM_EVENTS(FSM_X_ENUM, VM_EV_) VM_EV__COUNT };
extern const struct fsm_def vm_fsm_def;

struct vm;
/* The VM is serving (agent greeted); conn belongs to the VM. */
typedef void	(*vm_ready_cb)(struct vm *, struct proto_conn *, void *);
/* QEMU is gone; crashed is true if nobody asked it to stop. */
typedef void	(*vm_stopped_cb)(struct vm *, bool crashed, const char *why,
		    void *);
/* A QMP event (name, data: borrowed, data may be NULL), after the VM's. */
typedef void	(*vm_event_fn)(struct vm *, const char *event,
		    const json_t *data, void *);

struct vm_opts {
	const struct core_config *cfg;		/* borrowed */
	const char		*id;		/* trace id */
	const char		*run_dir;	/* sockets and console log */
	const char		*share_dir;	/* rootfs shared over 9p */
	const char		*rootfs_image;	/* or this on virtio-blk */
	const char		*bundle;	/* names the VM */
	int			 netns_fd;	/* QEMU joins it; -1: ours */
	bool			 pod;		/* root ports for app disks */
	unsigned		 vcpus;		/* at boot (sized from the spec) */
	unsigned		 mem_mib;
	vm_ready_cb		 on_ready;
	vm_stopped_cb		 on_stopped;
	vm_event_fn		 on_qmp_event;
	void			(*on_conn_lost)(struct vm *, void *);	/* the
					   agent's conn is freed after it */
	proto_stream_cb		 on_stream;
	void			*arg;
	struct hist		*agent_hist;	/* borrowed: call latencies */
	struct hist		*qmp_hist;	/* borrowed */
};

struct vm {
	struct fsm		 fsm;
	struct reactor		*r;		/* borrowed */
	struct fsm_env		*env;		/* borrowed */
	struct vm_opts		 opts;
	char			*run_dir;
	char			*share_dir;
	char			*rootfs_image;
	char			*bundle;
	const char		*accel;		/* static string */
	pid_t			 qemu_pid;
	struct reactor_child	*qemu_watch;
	int			 qemu_status;
	struct qmp		*qmp;
	struct vsock_chan	*chan;
	struct proto_conn	*conn;		/* borrowed from chan */
	struct reactor_timer	*timer;
	bool			 qmp_up;
	bool			 agent_up;
	bool			 stop_requested;
	int			 kills;
	char			 why[256];
	uint64_t		 t_spawn_ns;
	uint64_t		 t_ready_ns;
	struct core_jail	*jail;
	struct core_tmpl	*tmpl;		/* NULL: snapshot off */
	enum vm_mode		 mode;
	int			 mig_fd;	/* the template's state file */
	int			 mig_step;	/* in the QMP sequence */
	char			*ram_path;	/* the template's RAM file */
	bool			 restored;	/* READY came from a template */
};

struct vm	*vm_new(struct reactor *, struct fsm_env *,
		    const struct vm_opts *);
/* Spawn QEMU; events and callbacks follow from the reactor. */
void		 vm_start(struct vm *);
/* The kernel command line words the agent reads (kiln.debug, kiln.bpf). */
const char	*vm_cmdline_extra(const struct core_config *);
/* Ask for a graceful stop (agent Shutdown, then QMP, then SIGKILL). */
void		 vm_stop(struct vm *);
/* SIGKILL now (the task is being torn down hard). */
void		 vm_kill(struct vm *);
/* The guest misbehaved: kill the VM as a crash (the task exits 137). */
void		 vm_abort(struct vm *, const char *why);
void		 vm_free(struct vm *);
bool		 vm_is_stopped(const struct vm *);
struct qmp	*vm_qmp_live(struct vm *, struct err *);
void		 vm_calls_cancel(struct vm *, int *qmp_id, uint32_t *agent_id);

/* vm.c: what vm_fsm.c's actions do. */
int	vm_do_spawn(struct vm *, enum vm_mode, struct err *);
int	vm_do_respawn(struct vm *, enum vm_mode, struct err *);
int	vm_do_migrate(struct vm *, struct err *);
int	vm_do_cont(struct vm *, struct err *);
int	vm_do_set_clock(struct vm *, struct err *);
void	vm_do_saved(struct vm *);
void	vm_do_unusable(struct vm *);
/* vm_snap.c: the template key of this VM (malloc'd text). */
char	*vm_snap_key(const struct vm *, const char *qemu_path);
const char *vm_mode_name(enum vm_mode);
void	vm_do_ready(struct vm *);
void	vm_do_powerdown(struct vm *);
void	vm_do_kill(struct vm *);
void	vm_do_stopped(struct vm *);

/* ---- stdio bridges (stdio.c) ------------------------------------------ */

struct core_stdio;
/* All output reached the fifos (or could not): Wait may complete. */
typedef void	(*core_stdio_drained_cb)(void *);

struct core_stdio *core_stdio_new(struct reactor *, const char *cid,
		    const char *eid, const char *in, const char *out,
		    const char *err, struct err *);
/* The agent channel to send stdin and credit on (borrowed), or NULL. */
void		 core_stdio_attach(struct core_stdio *, struct proto_conn *);
/* A stream frame for this process from the guest. */
void		 core_stdio_frame(struct core_stdio *,
		    const struct proto_stream_msg *);
/* Call cb once every output stream is flushed and closed. */
void		 core_stdio_when_drained(struct core_stdio *,
		    core_stdio_drained_cb, void *);
void		 core_stdio_close_stdin(struct core_stdio *);
void		 core_stdio_free(struct core_stdio *);

/* ---- the VM's network (net.c, nic_fsm.c) ----------------------------- */

/*
 * One NIC: a veth that CNI made in the VM's namespace, a TAP beside it
 * with tc redirects both ways, and a virtio-net device hot-added through
 * QMP (getfd, netdev_add, device_add) that the agent then configures.
 */
#define NIC_STATES(X, P) X(P, NEW) X(P, GETFD) X(P, NETDEV) X(P, DEVICE) \
	X(P, CONFIGURING) X(P, UP) X(P, FAILED)
#define NIC_EVENTS(X, P) X(P, PLUG) X(P, QMP_OK) X(P, QMP_FAILED) \
	X(P, AGENT_OK) X(P, AGENT_FAILED) X(P, VM_GONE) X(P, TIMEOUT) \
	X(P, FAIL)

enum nic_state { NIC_STATES(FSM_X_ENUM, NIC_ST_) NIC_ST__COUNT };
enum nic_event { NIC_EVENTS(FSM_X_ENUM, NIC_EV_) NIC_EV__COUNT };
extern const struct fsm_def nic_fsm_def;

#define CORE_MAX_NICS	2	/* PCIe root ports on the command line */
#define NIC_MAX_ADDRS	8
#define NIC_MAX_ROUTES	16

struct core_net;

struct nic {
	struct fsm		 fsm;
	struct core_net		*net;		/* borrowed: owner */
	int			 index;		/* names tap/net/nic/port */
	char			 name[IF_NAMESIZE];	/* the veth */
	int			 veth_ifindex;
	uint8_t			 mac[6];
	uint32_t		 mtu;
	int			 tap_fd;
	int			 tap_ifindex;
	struct cni_nl_addr	 addrs[NIC_MAX_ADDRS];
	int			 naddrs;
	struct cni_nl_route	 routes[NIC_MAX_ROUTES];
	int			 nroutes;
	struct reactor_timer	*timer;
	int			 qmp_id;
	uint32_t		 agent_id;
	bool			 netdev_added, device_added;
	char			 error[256];
};

struct task;

struct core_net {
	struct task		*t;		/* borrowed: owner */
	char			*netns_path;	/* the VM's namespace, or NULL */
	bool			 owned;		/* made by kiln: removed by it */
	int			 nsfd;
	struct nic		*nics[CORE_MAX_NICS];
	int			 nnics;
	int			 plugging;	/* nics[plugging] is on, or -1 */
	struct cni_attach	*cni;		/* kiln's own CNI ADD, or NULL */
	struct cni_result	*cni_result;	/* for the guest's DNS */
	bool			 cni_added;
	void			(*released)(void *);	/* after DEL */
	void			*released_arg;
};

/* Pick or make the VM's namespace from the spec's linux.namespaces. */
struct core_net	*core_net_new(struct task *, const json_t *spec,
		    const char *run_dir, struct err *);
/*
 * Wire every interface CNI made in the namespace since the last call;
 * the task hears TASK_EV_NET_READY or TASK_EV_NET_FAILED (posted).
 */
void		 core_net_wire(struct core_net *);
/* The VM is gone: NICs in flight fail. */
void		 core_net_vm_gone(struct core_net *);
/* CNI DEL where kiln ran ADD, then done(arg) from the reactor. */
void		 core_net_release(struct core_net *, void (*done)(void *),
		    void *arg);
/* The CNI container id kiln uses, and the one ctr (gocni) uses. */
char		*core_net_cni_id(const char *ns, const char *id);
/* Close TAPs, drop the tc qdiscs, remove kiln's namespace. */
void		 core_net_free(struct core_net *);
/* nic.c: what nic_fsm.c's actions do. */
int		 nic_do_plug(struct nic *, struct err *);
int		 nic_do_netdev(struct nic *, struct err *);
int		 nic_do_device(struct nic *, struct err *);
int		 nic_do_configure(struct nic *, struct err *);
void		 nic_do_up(struct nic *);
void		 nic_do_failed(struct nic *);

/* ---- resizing the VM (resize.c, resize_fsm.c) ----------------------- */

#define CPU_RZ_STATES(X, P) X(P, IDLE) X(P, QUERYING) X(P, PLUGGING) \
	X(P, UNPLUGGING) X(P, EJECTING) X(P, ONLINING) X(P, ONLINE_WAIT)
#define CPU_RZ_EVENTS(X, P) X(P, RESIZE) X(P, QMP_OK) X(P, QMP_FAILED) \
	X(P, AGENT_OK) X(P, AGENT_FAILED) X(P, POLL) X(P, VM_GONE) \
	X(P, TIMEOUT) X(P, FAIL)
#define MEM_RZ_STATES(X, P) X(P, IDLE) X(P, SETTING) X(P, READING) \
	X(P, WAITING) X(P, ONLINING)
#define MEM_RZ_EVENTS(X, P) X(P, RESIZE) X(P, QMP_OK) X(P, QMP_FAILED) \
	X(P, AGENT_OK) X(P, AGENT_FAILED) X(P, POLL) X(P, VM_GONE) \
	X(P, TIMEOUT) X(P, FAIL)

enum cpu_rz_state { CPU_RZ_STATES(FSM_X_ENUM, CPU_RZ_ST_) CPU_RZ_ST__COUNT };
enum cpu_rz_event { CPU_RZ_EVENTS(FSM_X_ENUM, CPU_RZ_EV_) CPU_RZ_EV__COUNT };
enum mem_rz_state { MEM_RZ_STATES(FSM_X_ENUM, MEM_RZ_ST_) MEM_RZ_ST__COUNT };
enum mem_rz_event { MEM_RZ_EVENTS(FSM_X_ENUM, MEM_RZ_EV_) MEM_RZ_EV__COUNT };
extern const struct fsm_def cpu_rz_fsm_def;
extern const struct fsm_def mem_rz_fsm_def;

#define RESIZE_MAX_CPUS	64
#define MIB		(1024 * 1024)

/* What a container asks for, as the VM's size (from LinuxResources). */
struct core_size {
	unsigned	vcpus;
	unsigned	mem_mib;
	int64_t		mem_limit;	/* bytes; 0 none given, -1 unlimited */
	int64_t		cpu_quota;	/* 0 none given */
	uint64_t	cpu_period;
	bool		cpu_given;	/* the request sized the vCPUs */
	bool		mem_given;	/* ... and the memory */
};

/* Size from a LinuxResources object (may be NULL): defaults, bounded. */
int		 core_size_from(const json_t *resources,
		    const struct core_config *, bool refuse_over_max,
		    struct core_size *, struct err *);

/* Told how a scaler's request ended: ok, or why not. */
typedef void	(*core_resize_done_fn)(void *arg, bool ok, const char *why);

struct resize_req {
	TAILQ_ENTRY(resize_req)	 entry;
	struct proto_call	*call;		/* an Update's, or NULL */
	core_resize_done_fn	 done;		/* the scaler's, a pod's */
	void			*done_arg;
	struct core_size	 size;
	/* Whose cgroup limits follow: a pod's app container; "": owner. */
	char			 cid[PROTO_ID_MAX + 1];
};
TAILQ_HEAD(resize_req_q, resize_req);

struct core_resize {
	struct task		*t;		/* borrowed: owner */
	struct fsm		 cpu, mem;
	struct reactor_timer	*cpu_timer, *mem_timer;	/* deadlines */
	struct reactor_timer	*cpu_poll, *mem_poll;
	unsigned		 boot_vcpus, boot_mem;	/* the floor */
	unsigned		 cap_vcpus, cap_mem;	/* the container's limit */
	unsigned		 floor_mem;	/* the scaler's: see resize_caps */
	unsigned		 vcpus, mem_mib;	/* the VM's now */
	unsigned		 want_vcpus, want_mem;
	struct core_size	 want;		/* the request in progress */
	struct core_size	 prev;		/* restored on failure */
	char			 limits_cid[PROTO_ID_MAX + 1];	/* prev's */
	bool			 restoring;
	struct resize_req_q	 queue;
	struct resize_req	*cur;
	/* What query-hotpluggable-cpus said. */
	unsigned		 present;
	bool			 ejecting;
	unsigned		 unplugging;	/* kcpuN being removed, or 0 */
	bool			 unplug;	/* device_del is safe (KVM) */
	char			*slot_type;
	json_t			*free_slot;	/* props of a free slot */
	unsigned		 added[RESIZE_MAX_CPUS];	/* kcpuN, a stack */
	unsigned		 nadded;
	unsigned		 next_cpu_id;
	unsigned		 guest_cpus;
	uint64_t		 mem_requested, mem_plugged;	/* bytes */
	uint64_t		 guest_mem_total;
	int			 qmp_id;
	uint32_t		 agent_id;
	uint64_t		 failures;	/* counted, for the metrics */
	char			 error[256];
};

struct core_resize *core_resize_new(struct task *, const struct core_size *);
/* Queue an Update (resources: the request's LinuxResources); one at a time. */
void		 core_resize_update(struct core_resize *, struct proto_call *,
		    const json_t *resources);
/*
 * Queue a resize to size (checked) whose limits are container cid's (NULL:
 * the owner's); done (if any) is told how it ended, then call (if any) is
 * answered.
 */
void		 core_resize_queue(struct core_resize *, const struct core_size *,
		    const char *cid, struct proto_call *, core_resize_done_fn,
		    void *);
/*
 * Requests whose done_arg is arg (queued or running) no longer call their
 * done hook: its owner gave up waiting. NULL rz is a no-op.
 */
void		 core_resize_forget(struct core_resize *, void *arg);
/* Queue a resize of the VM alone (the container's cgroup limits stay). */
void		 core_resize_scale(struct core_resize *, unsigned vcpus,
		    unsigned mem_mib, core_resize_done_fn, void *);
void		 core_resize_vm_gone(struct core_resize *);
/* QEMU's events about devices (ACPI_DEVICE_OST: the guest's verdict). */
void		 core_resize_qmp_event(struct core_resize *, const char *event,
		    const json_t *data);
void		 core_resize_free(struct core_resize *);
/* resize.c: what resize_fsm.c's actions do. */
int		 resize_cpu_query(struct core_resize *, struct err *);
int		 resize_cpu_plug(struct core_resize *, struct err *);
int		 resize_cpu_unplug(struct core_resize *, struct err *);
int		 resize_cpu_online(struct core_resize *, struct err *);
int		 resize_poll_later(struct core_resize *, bool cpu, struct err *);
int		 resize_mem_set(struct core_resize *, struct err *);
int		 resize_mem_read(struct core_resize *, struct err *);
int		 resize_mem_limits(struct core_resize *, struct err *);
int		 resize_step_done(struct core_resize *, bool cpu, struct err *);
int		 resize_step_failed(struct core_resize *, bool cpu,
		    struct err *);

/* ---- the rootfs as an EROFS image (rootfs.c) ------------------------ */

/* The image in the run dir, and the serial the guest finds it by. */
#define CORE_ROOTFS_IMAGE	"rootfs.erofs"
#define CORE_ROOTFS_SERIAL	"kiln-rootfs"

struct core_rootfs;
/* The image is built (error NULL) or not (error says why, borrowed). */
typedef void	(*core_rootfs_done_cb)(const char *error, void *arg);
/*
 * Build image from the directory src with mkfs (an absolute path) within
 * timeout_ms; done runs from the reactor, once. NULL and err when the
 * build cannot start. Free with core_rootfs_free (kills a running build).
 */
struct core_rootfs *core_rootfs_build(struct reactor *, const char *mkfs,
		    const char *src, const char *image, uint64_t timeout_ms,
		    core_rootfs_done_cb, void *, struct err *);
void		 core_rootfs_free(struct core_rootfs *);

/* ---- pods: one VM per pod (pod.c, disk_fsm.c) ------------------------ */

/*
 * CRI marks a pod's containers with annotations: the sandbox (pause)
 * container is the first task of its shim and owns the VM; each app
 * container is a task of the same shim whose rootfs image reaches the
 * running VM as a hot-added virtio-blk disk (a disk machine).
 */
#define CORE_POD_DISKS		8	/* root ports for app containers */
#define CORE_POD_DISK_SERIAL	"kiln-rootfs-"	/* + index (the agent's
					   AGENT_POD_DISK_PREFIX) */
#define CORE_POD_IMAGE_FMT	"%s/rootfs-%d.erofs"	/* pod run dir, slot */
#define CORE_POD_TYPE_KEY	"io.kubernetes.cri.container-type"
#define CORE_POD_SANDBOX_KEY	"io.kubernetes.cri.sandbox-id"

enum core_pod_role { CORE_POD_NONE, CORE_POD_SANDBOX, CORE_POD_CONTAINER };

/* PCIe root ports: NICs first (kiln-rp0..), then a pod's disks. */
static inline int
vm_hotplug_ports(const struct vm_opts *o)
{
	if (o->pod)
		return CORE_MAX_NICS + CORE_POD_DISKS;
	return o->netns_fd >= 0 ? CORE_MAX_NICS : 0;
}

/* The role a spec's annotations give; *sandbox_id borrowed (or NULL). */
enum core_pod_role core_pod_role(const json_t *spec,
		    const char **sandbox_id);
/* The same from bundle/config.json; sandbox_id gets the pod's sandbox. */
int		 core_pod_role_of_bundle(const char *bundle,
		    enum core_pod_role *, char sandbox_id[PROTO_ID_MAX + 1],
		    struct err *);

#define DISK_STATES(X, P) X(P, NEW) X(P, BLOCKDEV) X(P, DEVICE) \
	X(P, PLUGGED) X(P, UNPLUGGING) X(P, BLOCKDEL) X(P, UNPLUGGED) \
	X(P, FAILED)
#define DISK_EVENTS(X, P) X(P, PLUG) X(P, QMP_OK) X(P, QMP_FAILED) \
	X(P, UNPLUG) X(P, DELETED) X(P, VM_GONE) X(P, TIMEOUT) X(P, FAIL)
enum disk_state { DISK_STATES(FSM_X_ENUM, DISK_ST_) DISK_ST__COUNT };
enum disk_event { DISK_EVENTS(FSM_X_ENUM, DISK_EV_) DISK_EV__COUNT };
extern const struct fsm_def disk_fsm_def;

/* An app container's rootfs image on a virtio-blk disk of the pod's VM. */
struct disk {
	struct fsm		 fsm;
	struct task		*t;		/* borrowed: owner */
	int			 index;		/* names node, device, serial */
	char			 id[16];	/* device id; node is id-blk */
	struct reactor_timer	*timer;
	int			 qmp_id;
	uint32_t		 agent_id;	/* RemoveContainer */
	bool			 added;		/* blockdev-add done */
	bool			 plugged;	/* the guest has it */
	bool			 unplugging;	/* the task waits for the end */
	char			 error[256];
};

/* Pick a disk slot in the pod's VM for app container t; -1: full. */
int		 core_pod_attach(struct task *t, struct err *);
/* The image is built: hot-add it (VM_READY or ROOTFS_FAILED follows). */
void		 core_pod_plug(struct task *t);
/* Remove the container in the guest, unplug its disk; VM_STOPPED follows. */
void		 core_pod_unplug(struct task *t);
/* The pod's VM news for every app container of sandbox t. */
void		 core_pod_vm_gone(struct task *t);
void		 core_pod_conn_lost(struct task *t);
void		 core_pod_qmp_event(struct task *t, const char *event,
		    const json_t *data);
/* The live app container of sandbox t named id, or NULL. */
struct task	*core_pod_member(struct task *t, const char *id);
/* t itself if it is named id, else core_pod_member. */
struct task	*core_pod_task(struct task *t, const char *id);
void		 core_pod_detach(struct task *t);
/*
 * The pod's VM is the sandbox's size plus its app containers' limits:
 * grown when app container t is created, and at its Update (res: the
 * request's LinuxResources), answered once the VM and t's limits follow.
 */
void		 core_pod_grow(struct task *t);
void		 core_pod_update(struct task *t, struct proto_call *,
		    const json_t *res);

int		 disk_do_blockdev(struct disk *, struct err *);
int		 disk_do_device(struct disk *, struct err *);
int		 disk_do_unplug(struct disk *, struct err *);
int		 disk_do_blockdel(struct disk *, struct err *);
void		 disk_do_plugged(struct disk *);
void		 disk_do_unplugged(struct disk *);
void		 disk_do_failed(struct disk *);

/* ---- OCI hooks in the runtime namespace (hooks.c) ------------------ */

struct core_hooks;
/* All hooks ran (error NULL) or one failed (error says which, borrowed). */
typedef void	(*core_hooks_done_cb)(const char *error, void *arg);
/*
 * Run the spec's hooks of kinds (a NULL-terminated list, e.g.
 * {"createRuntime", "prestart", NULL}) in order with state on stdin;
 * done runs from the reactor, once. Free with core_hooks_free.
 */
struct core_hooks *core_hooks_run(struct reactor *, const json_t *spec,
		    const char *const *kinds, const char *state,
		    core_hooks_done_cb, void *);
size_t		 core_hooks_count(const json_t *spec, const char *const *kinds);
void		 core_hooks_free(struct core_hooks *);
/* The OCI state JSON (malloc'd) a hook reads. */
char		*core_oci_state(const char *id, const char *status, pid_t,
		    const char *bundle, const json_t *spec);

/* ---- the task machine (task.c, task_fsm.c) ---------------------------- */

#define TASK_STATES(X, P) X(P, NEW) X(P, CREATING) X(P, CREATED) \
	X(P, STARTING) X(P, RUNNING) X(P, PAUSING) X(P, PAUSED) \
	X(P, RESUMING) X(P, EXITING) X(P, STOPPED) X(P, DELETING) \
	X(P, DELETED)
#define TASK_EVENTS(X, P) X(P, CREATE) X(P, VM_READY) X(P, AGENT_CREATED) \
	X(P, AGENT_FAILED) X(P, START) X(P, AGENT_STARTED) X(P, KILL) \
	X(P, PAUSE) X(P, AGENT_PAUSED) X(P, RESUME) X(P, AGENT_RESUMED) \
	X(P, EXITED) X(P, IO_DRAINED) X(P, VM_DIED) X(P, DELETE) \
	X(P, VM_STOPPED) X(P, NET_READY) X(P, NET_FAILED) X(P, HOOKS_DONE) \
	X(P, HOOKS_FAILED) X(P, ROOTFS_READY) X(P, ROOTFS_FAILED) \
	X(P, TIMEOUT) X(P, FAIL)

enum task_state { TASK_STATES(FSM_X_ENUM, TASK_ST_) TASK_ST__COUNT };
enum task_event { TASK_EVENTS(FSM_X_ENUM, TASK_EV_) TASK_EV__COUNT };
extern const struct fsm_def task_fsm_def;

struct shim;
struct task;

/* ---- exec processes (exec.c, exec_fsm.c) ------------------------------ */

#define EXEC_STATES(X, P) X(P, NEW) X(P, ADDING) X(P, CREATED) \
	X(P, STARTING) X(P, RUNNING) X(P, EXITING) X(P, STOPPED) X(P, DELETED)
#define EXEC_EVENTS(X, P) X(P, ADD) X(P, AGENT_ADDED) X(P, AGENT_FAILED) \
	X(P, START) X(P, AGENT_STARTED) X(P, KILL) X(P, EXITED) \
	X(P, IO_DRAINED) X(P, VM_DIED) X(P, DELETE) X(P, TIMEOUT) X(P, FAIL)

enum exec_state { EXEC_STATES(FSM_X_ENUM, EXEC_ST_) EXEC_ST__COUNT };
enum exec_event { EXEC_EVENTS(FSM_X_ENUM, EXEC_EV_) EXEC_EV__COUNT };
extern const struct fsm_def exec_fsm_def;

struct task_waiter {
	TAILQ_ENTRY(task_waiter) entry;
	struct proto_call	*call;
};
TAILQ_HEAD(task_waiter_q, task_waiter);

struct task {
	struct fsm		 fsm;
	struct shim		*shim;		/* borrowed */
	char			 id[PROTO_ID_MAX + 1];
	char			*bundle;
	char			*rootfs;	/* bundle/rootfs */
	bool			 rootfs_mounted;
	char			*rootfs_image;	/* EROFS image, or NULL: 9p */
	struct core_rootfs	*rootfs_build;	/* while mkfs.erofs runs */
	char			*stdin_path, *stdout_path, *stderr_path;
	bool			 terminal;
	char			*spec_json;	/* config.json as sent */
	char			*hostname;	/* the spec's, if valid */
	json_t			*spec;		/* parsed, for hooks */
	struct core_hooks	*hooks;		/* createRuntime..., poststop */
	struct core_hooks	*hooks_bg;	/* poststart */
	size_t			 spec_len;
	char			*run_dir;	/* SHIM_RUN_DIR/<hash> */
	struct core_net		*net;
	struct core_size	 size;		/* at boot, from the spec */
	struct core_resize	*resize;
	struct core_scaler	*scaler;
	struct core_metrics_srv	*metrics;	/* GET /metrics, or NULL */
	struct vm		*vm;
	struct core_stdio	*stdio;
	struct reactor_timer	*timer;
	struct proto_call	*pending;	/* Create, Start or Delete */
	struct task_waiter_q	 waiters;
	uint32_t		 guest_pid;
	uint32_t		 exit_status;
	uint64_t		 exited_ns;	/* CLOCK_REALTIME, 0: not yet */
	char			 error[512];
	uint32_t		 wait_call;	/* agent WaitProcess id */
	TAILQ_HEAD(, exec_proc)	 execs;
	int			 nexecs;
	/* Pods (pod.c): an app container's sandbox, or the sandbox's own. */
	struct task		*pod;		/* borrowed: the VM's owner */
	TAILQ_ENTRY(task)	 pod_entry;	/* in the shim's members */
	struct disk		*disk;		/* its rootfs in the pod's VM */
	bool			 pod_sandbox;	/* CRI's sandbox: ports */
	unsigned		 pod_slots;	/* sandbox: disks in use */
};
TAILQ_HEAD(task_q, task);

/* An exec process of a task (ctr task exec): its own machine. */
struct exec_proc {
	struct fsm		 fsm;
	TAILQ_ENTRY(exec_proc)	 entry;
	struct task		*t;		/* borrowed: owner */
	char			 id[PROTO_ID_MAX + 1];
	char			*stdin_path, *stdout_path, *stderr_path;
	uint8_t			*process_json;
	size_t			 process_len;
	struct core_stdio	*stdio;
	struct reactor_timer	*timer;
	struct proto_call	*pending;	/* Exec, Start or Delete */
	struct task_waiter_q	 waiters;
	uint32_t		 guest_pid;
	uint32_t		 exit_status;
	uint64_t		 exited_ns;
	char			 error[512];
	bool			 terminal;
	uint32_t		 op_call;	/* agent Exec/Start in flight */
	uint32_t		 wait_call;	/* agent WaitProcess */
};

#define SHIM_MAX_EXECS	64

/* exec.c */
struct exec_proc *exec_new(struct task *, const char *id,
		    const Containerd__Task__V2__ExecProcessRequest *);
struct exec_proc *exec_find(struct task *, const char *id);
void		 exec_free(struct exec_proc *);
int		 exec_event(struct exec_proc *, int ev, const void *,
		    struct err *);
/* exec.c: what exec_fsm.c's actions do. */
void		 exec_do_add(struct exec_proc *);
void		 exec_do_added(struct exec_proc *);
void		 exec_do_add_failed(struct exec_proc *);
int		 exec_do_start(struct exec_proc *, struct err *);
void		 exec_do_started(struct exec_proc *);
void		 exec_do_start_failed(struct exec_proc *);
int		 exec_do_kill(struct exec_proc *, const void *, struct err *);
void		 exec_do_record_exit(struct exec_proc *, const void *);
void		 exec_do_drain(struct exec_proc *);
void		 exec_do_stopped(struct exec_proc *);
void		 exec_do_vm_died(struct exec_proc *);
void		 exec_do_deleted(struct exec_proc *);

/* The deadline of each agent call of task t (configurable). */
#define AGENT_MS(t)	((t)->shim->cfg.agent_timeout_ms)

/* EXITED's payload. */
struct task_exit {
	uint32_t	status;
	uint64_t	at_ns;		/* CLOCK_REALTIME */
};

/* KILL's payload: the agent's answer answers call. */
struct task_kill {
	const Containerd__Task__V2__KillRequest	*req;
	struct proto_call			*call;
};

/* task.c */
/* Answer every waiter with status and time; the queue ends empty. */
void		 core_answer_waiters(struct task_waiter_q *, uint32_t status,
		    uint64_t exited_ns);
/* An agent call for the task's VM (timeout 0: none); 0 if no channel. */
uint32_t	 task_agent_call(struct task *, const char *method,
		    const ProtobufCMessage *, const ProtobufCMessageDescriptor *,
		    uint64_t timeout_ms, proto_reply_cb, void *);
void		 core_killed_cb(const struct proto_reply *, void *call);
void		 task_publish(struct task *, const char *topic,
		    const char *type_url, const ProtobufCMessage *);
struct task	*task_new(struct shim *, const char *id);
void		 task_free(struct task *);
int		 task_event(struct task *, int ev, const void *, struct err *);
uint32_t	 task_pid(const struct task *);	/* QEMU's pid */
/* task.c: what task_fsm.c's actions do. */
int		 task_do_create(struct task *, const void *req, struct err *);
void		 task_do_agent_create(struct task *);
void		 task_do_reply_created(struct task *);
void		 task_do_fail_create(struct task *);
void		 task_do_boot(struct task *);
int		 task_do_start(struct task *, struct err *);
void		 task_do_wire(struct task *);
void		 task_do_create_hooks(struct task *);
void		 task_do_poststop(struct task *);
void		 task_do_net_failed(struct task *);
void		 task_do_reply_started(struct task *);
void		 task_do_fail_start(struct task *);
int		 task_do_kill(struct task *, const void *req, struct err *);
void		 task_do_record_exit(struct task *, const void *exit);
void		 task_do_drain(struct task *);
void		 task_do_stopped(struct task *);
void		 task_do_vm_died(struct task *);
void		 task_do_delete(struct task *);
int		 task_do_pause(struct task *, bool resume, struct err *);
void		 task_do_paused(struct task *, bool resumed);
void		 task_do_pause_failed(struct task *);
void		 task_do_answer_pending(struct task *, const char *why);
void		 task_do_deleted(struct task *);

/* ---- events to containerd (events.c) ---------------------------------- */

struct core_events;
struct core_events *core_events_new(struct reactor *, struct fsm_env *,
		    const char *ttrpc_address, const char *namespace);
/* Queue topic with the event (packed now; msg is borrowed). */
void		 core_events_publish(struct core_events *, const char *topic,
		    const char *type_url, const ProtobufCMessage *);
bool		 core_events_idle(const struct core_events *);
void		 core_events_free(struct core_events *);

/* ---- the shim's own metrics (metrics.c) ------------------------------ */

/* Dispatches of one machine, by event and result (fsm_result). */
struct core_fsm_count {
	const struct fsm_def	*def;		/* borrowed, static */
	uint64_t		*n;		/* nevents x FSM_RES__COUNT */
};

#define CORE_FSM_RESULTS	4	/* ok, rejected, guarded, failed */

struct core_stats {
	struct hist		 agent;		/* agent call latency */
	struct hist		 qmp;		/* QMP call latency */
	struct core_fsm_count	*fsm;
	size_t			 nfsm;
};

/* Count one dispatch (an fsm trace hook's body); never fails. */
void		 core_stats_fsm(struct core_stats *,
		    const struct fsm_trace_rec *);
void		 core_stats_fini(struct core_stats *);

struct core_metrics_srv;
struct task;
/*
 * Serve GET /metrics over HTTP (libevent's evhttp) on a unix socket at
 * run_dir/metrics.sock, made now (a stale file is replaced). The task is
 * borrowed for the server's life (it owns the server, and frees it
 * before its VM). NULL and err if the socket cannot be
 * made. Each scrape asks the guest (GetMetrics) and is answered when it
 * does, within CORE_SCRAPE_MS, or at once with 503 if no VM serves.
 */
#define CORE_METRICS_SOCK	"metrics.sock"
#define CORE_SCRAPE_MS		5000
struct core_metrics_srv *core_metrics_srv_new(struct task *,
		    const char *run_dir, struct err *);
/* Answer what is in flight with 503, close, unlink the socket. NULL ok. */
void		 core_metrics_srv_free(struct core_metrics_srv *);

/* ---- the shim daemon (shim.c) ----------------------------------------- */

struct shim {
	struct reactor		*r;
	struct fsm_env		*env;
	struct core_config	 cfg;
	char			*namespace;
	char			*id;
	char			*bundle;
	struct proto_server	*server;
	struct core_events	*events;
	struct task		*task;		/* the first: it owns the VM */
	struct task_q		 members;	/* a pod's app containers */
	char			*config_error;	/* Create answers with it */
	bool			 shutting_down;
	struct reactor_timer	*exit_timer;
	int			 exit_polls;
	struct core_stats	 stats;		/* the shim's own metrics */
};

void		 shim_task_gone(const struct task *);
void		 shim_maybe_exit(struct shim *);
extern const struct proto_method shim_task_methods[];
extern const size_t shim_task_nmethods;

/* ---- the vertical scaler (scaler.c, scaler_fsm.c) ---------------------- */

#define SCALER_STATES(X, P) X(P, OFF) X(P, WAITING) X(P, SAMPLING) \
	X(P, RESIZING)
#define SCALER_EVENTS(X, P) X(P, RUN) X(P, TICK) X(P, STEADY) X(P, SCALE) \
	X(P, SAMPLE_FAILED) X(P, RESIZED) X(P, RESIZE_FAILED) X(P, HALT) \
	X(P, TIMEOUT) X(P, FAIL)
enum scaler_state { SCALER_STATES(FSM_X_ENUM, SCALER_ST_) SCALER_ST__COUNT };
enum scaler_event { SCALER_EVENTS(FSM_X_ENUM, SCALER_EV_) SCALER_EV__COUNT };
extern const struct fsm_def scaler_fsm_def;

/* One sample of the guest: counters are totals, differences make rates. */
struct scaler_sample {
	uint64_t	 t_us;		/* the shim's monotonic clock */
	uint64_t	 cpu_usec;	/* the container's cpu.stat usage */
	uint64_t	 cpu_some_usec;	/* the guest's PSI totals */
	uint64_t	 mem_some_usec;
	uint64_t	 runq_sum_ns, runq_count;	/* eBPF; 0 without */
	uint64_t	 mem_total, mem_avail;		/* bytes */
	unsigned	 cpus;		/* online in the guest */
};

/* The bounds and the policy's knobs (config, resize's floor and cap). */
struct scaler_policy {
	unsigned	 floor_vcpus, cap_vcpus, floor_mem, cap_mem;
	unsigned	 up_samples, down_samples;
};

/* What one sample made of it: the inputs, traced, and the next size. */
struct scaler_decision {
	double		 util, cpu_psi, mem_psi, runq_ms, avail;
	unsigned	 vcpus, mem_mib;	/* now, then the target */
	unsigned	 to_vcpus, to_mem;
	const char	*why;		/* "steady", "cpu hot", ... */
	bool		 refused;	/* a memory step with no room */
};

/* Hysteresis: consecutive hot and cold samples per resource. */
struct scaler_streaks {
	unsigned	 cpu_hot, cpu_cold, mem_hot, mem_cold;
};

struct core_scaler {
	struct task		*t;		/* borrowed: owner */
	struct fsm		 fsm;
	struct reactor_timer	*tick, *deadline;
	uint32_t		 agent_id;
	uint64_t		 interval_ms;	/* to the next sample */
	bool			 have_prev;
	struct scaler_sample	 prev;
	struct scaler_streaks	 streaks;
	uint64_t		 ups, downs, refused, failures;	/* counted */
};

/* Pure: prev and now (same VM, now later) through the policy. True when
 * the VM should change size (d says to what and why). */
bool		 scaler_decide(const struct scaler_policy *,
		    struct scaler_streaks *, const struct scaler_sample *prev,
		    const struct scaler_sample *now, unsigned vcpus,
		    unsigned mem_mib, struct scaler_decision *d);

struct core_scaler *core_scaler_new(struct task *);
void		 core_scaler_run(struct core_scaler *);	/* the task runs */
void		 core_scaler_halt(struct core_scaler *);	/* VM gone */
void		 core_scaler_free(struct core_scaler *);
/* scaler.c: what scaler_fsm.c's actions do. */
int		 scaler_arm(struct core_scaler *, struct err *);
int		 scaler_sample(struct core_scaler *, struct err *);
int		 scaler_apply(struct core_scaler *,
		    const struct scaler_decision *, struct err *);
int		 scaler_note(struct core_scaler *,
		    const struct scaler_decision *, struct err *);
int		 scaler_resized(struct core_scaler *, bool ok, struct err *);
int		 scaler_stop(struct core_scaler *, struct err *);
bool		 scaler_task_runs(const struct core_scaler *);

/* ---- guest metrics (metrics.c) ---------------------------------------- */

#define CORE_METRICS_BUCKETS		24	/* agent.proto: runq_buckets */
#define CORE_METRICS_MAX_CONTAINERS	64
#define CORE_METRICS_MAX_VICTIMS	4
#define CORE_METRICS_MAX_MISSING	4
#define CORE_METRICS_MAX_PROGRAMS	32
#define CORE_METRICS_MAX_CPUS		1024

/* Check a GetMetrics answer from the (untrusted) guest against the bounds
 * agent.proto promises; cid non-empty: only that container may appear.
 * -1 and err (EPROTO) on anything out of bounds; r is only read. */
int		 core_metrics_check(const Kiln__Agent__V1__MetricsResponse *r,
		    const char *cid, struct err *);
/* Append r (checked first) as Prometheus text 0.0.4; ns and cid (NULL:
 * no container label on the missing-source series) must be valid
 * identifiers (they become label values unescaped). */
void		 core_metrics_prom(struct buf *, const char *ns, const char *cid,
		    const Kiln__Agent__V1__MetricsResponse *r);

/* What Stats takes from GetMetrics where the cgroup values are 0. */
struct core_bpf_values {
	uint64_t	oncpu_ns;
	uint64_t	page_faults;
	uint64_t	oom_kills;
	uint64_t	memory_bytes;
};
/* Sub-messages core_metrics_fill had to add (they point into it). */
struct core_metrics_fill {
	Io__Containerd__Cgroups__V2__CPUStat		 cpu, *cpu_set;
	Io__Containerd__Cgroups__V2__MemoryStat		 mem, *mem_set;
	Io__Containerd__Cgroups__V2__MemoryEvents	 ev, *ev_set;
};
/* Container cid's values in r (checked); false if r does not have it. */
bool		 core_metrics_values(const Kiln__Agent__V1__MetricsResponse *r,
		    const char *cid, struct core_bpf_values *);
/* Fill m's zero fields from v; undo with core_metrics_unfill before m
 * is freed (fill is borrowed by m meanwhile). */
void		 core_metrics_fill(Io__Containerd__Cgroups__V2__Metrics *m,
		    const struct core_bpf_values *v, struct core_metrics_fill *);
void		 core_metrics_unfill(Io__Containerd__Cgroups__V2__Metrics *m,
		    const struct core_metrics_fill *);
/* The VM's size now and how it changed, for the kiln_vm_* series. */
struct core_vm_size {
	unsigned	vcpus;
	unsigned	mem_mib;
	uint64_t	resize_failures;	/* Updates' and the scaler's */
	uint64_t	scaler_up, scaler_down, scaler_refused, scaler_failed;
};
/* Append the shim's own metrics (latencies, dispatches, VM size) as
 * Prometheus text; ns and cid must be valid identifiers. */
void		 core_stats_prom(struct buf *, const char *ns, const char *cid,
		    const struct core_stats *, const struct core_vm_size *);

/* ---- Prometheus text read back (prom.c), for the kiln command ------- */

struct core_prom_sample {
	char		*name;
	char		*labels;	/* "{k=\"v\",...}" as sent, or "" */
	double		 value;
	char		*line;		/* the whole line, checked */
};
struct core_prom_family {
	char			*name;
	char			*help;		/* NULL if none */
	char			*type;
	struct core_prom_sample	*s;
	size_t			 ns;
};
struct core_prom {
	struct core_prom_family	*f;
	size_t			 nf;
	size_t			 nsamples;
};

/*
 * Parse text (untrusted: names, labels, values and sizes checked; label
 * values with escapes refused) into p, which the caller finis even on
 * failure. -1 and err on the first bad line.
 */
int		 core_prom_parse(struct core_prom *, const char *text,
		    size_t len, struct err *);
void		 core_prom_fini(struct core_prom *);
const struct core_prom_family *core_prom_family(const struct core_prom *,
		    const char *name);
/* The value of label key in a parsed sample's labels, into val. */
bool		 core_prom_label(const char *labels, const char *key,
		    char *val, size_t n);
/* Append the n expositions as one: each family once, samples of all. */
void		 core_prom_merge(struct buf *, const struct core_prom *const *,
		    size_t n);

/* util: the per-task run dir (short, for socket paths) and state file. */
char		*core_run_dir(const char *ns, const char *id);
/* The same path, without making anything (the kiln command). */
char		*core_run_dir_path(const char *ns, const char *id);
int		 core_state_write(const char *bundle, pid_t qemu_pid,
		    const char *run_dir, struct err *);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vmtest: the host-side test driver for the guest, without containerd.
 * It starts QEMU directly (accelerator from core_accel_resolve), dials the
 * agent's virtio-serial channel, shares a rootfs directory over virtio-9p,
 * and offers synchronous helpers on top of the asynchronous client: each
 * helper runs the reactor until its answer arrives or a generous deadline
 * passes. Used by t_guest and bench-guest.
 */
#ifndef KILN_TESTS_VMTEST_H
#define KILN_TESTS_VMTEST_H

#include "core/core.h"
#include "proto/proto.h"
#include "vsock/vsock.h"
#include "kiln/agent.pb-c.h"

#define VMT_MAX_PROCS	16
#define VMT_TAG		"rootfs"

/* Captured stdio of one guest process. */
struct vmt_proc {
	char		 cid[PROTO_ID_MAX + 1];
	char		 eid[PROTO_ID_MAX + 1];
	struct buf	 out[3];	/* [1] stdout, [2] stderr */
	bool		 eof[3];
	uint32_t	 stdin_credit;	/* what the agent lets us send */
	const uint8_t	*stdin_data;	/* borrowed */
	size_t		 stdin_len;
	size_t		 stdin_off;
	bool		 stdin_close;	/* send EOF after the data */
	bool		 stdin_eof_sent;
	bool		 used;
};

struct vmt {
	struct reactor		*r;
	struct fsm_env		*env;
	char			 dir[64];	/* scratch: sockets, console */
	char			*image_dir;
	const char		*accel;
	pid_t			 qemu_pid;
	struct reactor_child	*qemu_watch;
	bool			 qemu_exited;
	int			 qemu_status;
	struct vsock_chan	*chan;
	struct proto_conn	*conn;		/* borrowed from chan */
	bool			 chan_closed;
	uint64_t		 t_spawn_ns;	/* CLOCK_MONOTONIC */
	uint64_t		 t_ready_ns;
	struct vmt_proc		 procs[VMT_MAX_PROCS];
	bool			 protocol_error; /* a bad frame from the guest */
	void			**allocs;	/* reply buffers, freed at fini */
	size_t			 nallocs;
};

/* A finished call: code, message and the packed reply. */
struct vmt_reply {
	struct vmt	*v;		/* borrowed */
	bool		 done;
	int		 code;
	char		 message[512];
	uint8_t		*packed;
	size_t		 len;
};

int	 vmt_init(struct vmt *, struct err *);
/* Boot the VM sharing rootfs_dir as VMT_TAG; wait for the greeting. */
int	 vmt_boot(struct vmt *, const char *rootfs_dir, struct err *);
/* Call method; on success *resp (may be NULL) holds the unpacked reply. */
int	 vmt_call(struct vmt *, const char *method, const ProtobufCMessage *,
	    const ProtobufCMessageDescriptor *, ProtobufCMessage **resp,
	    struct vmt_reply *, uint64_t timeout_ms);
/* Start a call without waiting; its reply lands in rep. */
void	 vmt_call_async(struct vmt *, const char *method,
	    const ProtobufCMessage *, struct vmt_reply *);
/* The same with a ttrpc deadline on the call itself (0: none). */
void	 vmt_call_deadline(struct vmt *, const char *method,
	    const ProtobufCMessage *, struct vmt_reply *, uint64_t ttrpc_ms);
/* Run the loop until *flag or the deadline; true if flag. */
bool	 vmt_run_until(struct vmt *, const bool *flag, uint64_t timeout_ms);
/* Forget the reply's buffer (the driver frees them all at vmt_fini). */
void	 vmt_reply_fini(struct vmt_reply *);
/* The capture slot of cid/eid (created on first use). */
struct vmt_proc *vmt_proc(struct vmt *, const char *cid, const char *eid);
/* Queue data for the process's stdin; close after it if close. */
void	 vmt_stdin(struct vmt *, struct vmt_proc *, const void *, size_t,
	    bool close);
/* An OCI spec running args (NULL-terminated); pidns: own PID namespace. */
char	*vmt_spec(const char *const *args, bool pidns);
/* Press the ACPI power button (QMP system_powerdown); wait for QEMU. */
int	 vmt_powerdown(struct vmt *, struct err *);
/* Shut the guest down and wait for QEMU; SIGKILL after a deadline. */
int	 vmt_shutdown(struct vmt *, struct err *);
void	 vmt_fini(struct vmt *);

/* Create, start, wait for and remove one container; fills *exit_status. */
int	 vmt_run(struct vmt *, const char *id, const char *const *args,
	    bool pidns, const void *stdin_data, size_t stdin_len,
	    uint32_t *exit_status, struct err *);

#endif

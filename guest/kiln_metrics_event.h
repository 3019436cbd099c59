/* SPDX-License-Identifier: Apache-2.0 */
/*
 * guest: the records kiln_metrics.bpf.c (kernel half) and agent_bpf.c
 * (user half) share. Fixed-width types only; each side includes its own
 * definition of __u32/__u64 first (vmlinux.h, <linux/types.h>).
 */
#ifndef KILN_GUEST_KILN_METRICS_EVENT_H
#define KILN_GUEST_KILN_METRICS_EVENT_H

/* Run-queue wait buckets: slot i counts waits < 2^i us (last: the rest). */
#define KILN_RQ_SLOTS		24
#define KILN_MAX_CGROUPS	1024	/* cgroups tracked at once */
#define KILN_MAX_TASKS		16384	/* tasks with a pending timestamp */
#define KILN_COMM_LEN		16

/* Per cgroup and per CPU; user space sums the CPUs. */
struct kiln_cg_stats {
	__u64	oncpu_ns;
	__u64	switches;
	__u64	rq_slots[KILN_RQ_SLOTS];
	__u64	rq_sum_ns;
	__u64	rq_count;
	__u64	faults;
	__u64	execs;
	__u64	exits;
	__u64	oom_kills;
};

/* One OOM victim, sent through the ring buffer. */
struct kiln_oom_event {
	__u64	cgroup_id;
	__u64	time_ns;
	__u32	pid;
	char	comm[KILN_COMM_LEN];
};

#endif

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

/*
 * Per cgroup and per CPU; user space sums the CPUs. Only __u64 fields:
 * the user half sums the record as an array of them.
 */
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
	/* Block I/O completed (block_rq_issue -> block_rq_complete). */
	__u64	blk_read_bytes, blk_write_bytes;
	__u64	blk_read_ios, blk_write_ios;
	__u64	blk_slots[KILN_RQ_SLOTS];	/* latency, as rq_slots */
	__u64	blk_sum_ns;
	/* Network (cgroup_skb on the containers' parent cgroup). */
	__u64	net_rx_bytes, net_tx_bytes;
	__u64	net_rx_packets, net_tx_packets;
	/* Direct reclaim (mm_vmscan_direct_reclaim_begin -> _end). */
	__u64	reclaim_ns;
	__u64	reclaim_count;
};

/* A block request in flight: when it was issued, for whom. */
struct kiln_blk_start {
	__u64	time_ns;
	__u64	cgroup_id;
};

#define KILN_MAX_REQUESTS	4096	/* block requests in flight */

/* One OOM victim, sent through the ring buffer. */
struct kiln_oom_event {
	__u64	cgroup_id;
	__u64	time_ns;
	__u32	pid;
	char	comm[KILN_COMM_LEN];
};

#endif

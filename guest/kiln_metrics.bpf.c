/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/*
 * guest: kiln's metrics programs, the kernel half (user half:
 * agent_bpf.c). Everything is counted per cgroup v2 id in a per-CPU hash,
 * so the hot paths never share a cache line, and read only when the host
 * asks (pull). tp_btf everywhere: the raw tracepoint with typed arguments
 * costs a fraction of a kprobe, and CO-RE reads make one object fit the
 * guest kernel the vmlinux.h came from and its neighbours.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "guest/kiln_metrics_event.h"

char LICENSE[] SEC("license") = "GPL";

#define TASK_RUNNING	0
#define REQ_OP_MASK	((1 << 8) - 1)	/* REQ_OP_BITS 8: linux/blk_types.h */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, KILN_MAX_CGROUPS);
	__type(key, __u64);
	__type(value, struct kiln_cg_stats);
} cg_stats SEC(".maps");

/* pid -> when it became runnable (wakeup or preemption). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KILN_MAX_TASKS);
	__type(key, __u32);
	__type(value, __u64);
} enq_ts SEC(".maps");

/* pid -> when it got a CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KILN_MAX_TASKS);
	__type(key, __u32);
	__type(value, __u64);
} run_ts SEC(".maps");

/* request -> its issue time and cgroup. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KILN_MAX_REQUESTS);
	__type(key, __u64);
	__type(value, struct kiln_blk_start);
} blk_start SEC(".maps");

/* pid -> when its direct reclaim began. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KILN_MAX_TASKS);
	__type(key, __u32);
	__type(value, __u64);
} reclaim_ts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 * 4096);
} oom_events SEC(".maps");

/* The task's cgroup on the default (v2) hierarchy. */
static __always_inline __u64
task_cgid(struct task_struct *t)
{
	return BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
}

/* This CPU's counters of cgroup id, created zeroed on first use. */
static __always_inline struct kiln_cg_stats *
stats_of(__u64 cgid)
{
	static const struct kiln_cg_stats zero;
	struct kiln_cg_stats *s;

	s = bpf_map_lookup_elem(&cg_stats, &cgid);
	if (s != NULL)
		return s;
	/* BPF_NOEXIST: another CPU may have created it meanwhile. */
	bpf_map_update_elem(&cg_stats, &cgid, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&cg_stats, &cgid);
}

static __always_inline void
mark_runnable(struct task_struct *p)
{
	__u32 pid = BPF_CORE_READ(p, pid);
	__u64 now = bpf_ktime_get_ns();

	if (pid != 0)
		bpf_map_update_elem(&enq_ts, &pid, &now, BPF_ANY);
}

/* log2 slot of a wait in microseconds: slot i holds waits < 2^i us. */
static __always_inline __u32
rq_slot(__u64 ns)
{
	__u64 us = ns / 1000;
	__u32 slot = 0;

	while (us != 0 && slot < KILN_RQ_SLOTS - 1) {
		us >>= 1;
		slot++;
	}
	return slot;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(kiln_wakeup, struct task_struct *p)
{
	mark_runnable(p);
	return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(kiln_wakeup_new, struct task_struct *p)
{
	mark_runnable(p);
	return 0;
}

/* prev leaves the CPU: charge its run time; still runnable: it queues. */
static __always_inline void
switch_out(struct task_struct *prev, __u64 now)
{
	__u32 pid = BPF_CORE_READ(prev, pid);
	struct kiln_cg_stats *s;
	__u64 *t;

	if (pid == 0)
		return;
	s = stats_of(task_cgid(prev));
	t = bpf_map_lookup_elem(&run_ts, &pid);
	if (s != NULL) {
		s->switches++;
		if (t != NULL && now > *t)
			s->oncpu_ns += now - *t;
	}
	if (BPF_CORE_READ(prev, __state) == TASK_RUNNING)
		bpf_map_update_elem(&enq_ts, &pid, &now, BPF_ANY);
}

/* next gets the CPU: its wait ends, its run starts. */
static __always_inline void
switch_in(struct task_struct *next, __u64 now)
{
	__u32 pid = BPF_CORE_READ(next, pid);
	struct kiln_cg_stats *s;
	__u64 *t, d;
	__u32 slot;

	if (pid == 0)
		return;
	bpf_map_update_elem(&run_ts, &pid, &now, BPF_ANY);
	t = bpf_map_lookup_elem(&enq_ts, &pid);
	if (t == NULL)
		return;
	d = now > *t ? now - *t : 0;
	bpf_map_delete_elem(&enq_ts, &pid);
	s = stats_of(task_cgid(next));
	if (s == NULL)
		return;
	slot = rq_slot(d);
	/* The verifier wants the bound it cannot infer from the loop. */
	if (slot < KILN_RQ_SLOTS)
		s->rq_slots[slot]++;
	s->rq_sum_ns += d;
	s->rq_count++;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(kiln_switch, bool preempt, struct task_struct *prev,
    struct task_struct *next)
{
	__u64 now = bpf_ktime_get_ns();

	switch_out(prev, now);
	switch_in(next, now);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(kiln_exec, struct task_struct *p)
{
	struct kiln_cg_stats *s = stats_of(task_cgid(p));

	if (s != NULL)
		s->execs++;
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(kiln_exit, struct task_struct *p)
{
	__u32 pid = BPF_CORE_READ(p, pid);
	struct kiln_cg_stats *s;

	bpf_map_delete_elem(&enq_ts, &pid);
	bpf_map_delete_elem(&run_ts, &pid);
	if ((pid_t)pid != BPF_CORE_READ(p, tgid))
		return 0;
	s = stats_of(task_cgid(p));
	if (s != NULL)
		s->exits++;
	return 0;
}

/* x86 exceptions:page_fault_user: one per user fault, minor or major. */
SEC("tp_btf/page_fault_user")
int BPF_PROG(kiln_fault, unsigned long address)
{
	struct kiln_cg_stats *s = stats_of(bpf_get_current_cgroup_id());

	if (s != NULL)
		s->faults++;
	return 0;
}

/* oom:mark_victim (Debian 6.1 passes the task): count and report it. */
SEC("tp_btf/mark_victim")
int BPF_PROG(kiln_oom, struct task_struct *victim)
{
	__u64 cgid = task_cgid(victim);
	struct kiln_cg_stats *s = stats_of(cgid);
	struct kiln_oom_event *e;

	if (s != NULL)
		s->oom_kills++;
	e = bpf_ringbuf_reserve(&oom_events, sizeof *e, 0);
	if (e == NULL)
		return 0;
	e->cgroup_id = cgid;
	e->time_ns = bpf_ktime_get_boot_ns();
	e->pid = BPF_CORE_READ(victim, pid);
	BPF_CORE_READ_STR_INTO(&e->comm, victim, comm);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/*
 * Block I/O: the request's cgroup is its bio's blkcg (the submitter,
 * even when a kworker or the plug flush issues it); without one, whoever
 * runs now.
 */
static __always_inline __u64
rq_cgid(struct request *rq)
{
	struct bio *bio = BPF_CORE_READ(rq, bio);
	struct blkcg_gq *blkg = bio != NULL ? BPF_CORE_READ(bio, bi_blkg) : NULL;

	if (blkg == NULL)
		return bpf_get_current_cgroup_id();
	return BPF_CORE_READ(blkg, blkcg, css.cgroup, kn, id);
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(kiln_blk_issue, struct request *rq)
{
	struct kiln_blk_start st = { bpf_ktime_get_ns(), rq_cgid(rq) };
	__u64 key = (__u64)rq;

	bpf_map_update_elem(&blk_start, &key, &st, BPF_ANY);
	return 0;
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(kiln_blk_complete, struct request *rq, blk_status_t error,
    unsigned int nr_bytes)
{
	__u64 key = (__u64)rq, now = bpf_ktime_get_ns(), d;
	struct kiln_blk_start *st = bpf_map_lookup_elem(&blk_start, &key);
	struct kiln_cg_stats *s;
	__u32 slot;

	if (st == NULL)
		return 0;
	d = now > st->time_ns ? now - st->time_ns : 0;
	s = stats_of(st->cgroup_id);
	bpf_map_delete_elem(&blk_start, &key);
	if (s == NULL)
		return 0;
	if ((BPF_CORE_READ(rq, cmd_flags) & REQ_OP_MASK) == REQ_OP_WRITE) {
		s->blk_write_bytes += nr_bytes;
		s->blk_write_ios++;
	} else {
		s->blk_read_bytes += nr_bytes;
		s->blk_read_ios++;
	}
	slot = rq_slot(d);
	if (slot < KILN_RQ_SLOTS)
		s->blk_slots[slot]++;
	s->blk_sum_ns += d;
	return 0;
}

/*
 * Reclaim the allocating task waits for: global direct reclaim, and the
 * reclaim of a cgroup at its memory limit (a container's usual stall).
 */
static __always_inline void
reclaim_begin(void)
{
	__u32 pid = (__u32)bpf_get_current_pid_tgid();
	__u64 now = bpf_ktime_get_ns();

	bpf_map_update_elem(&reclaim_ts, &pid, &now, BPF_ANY);
}

static __always_inline void
reclaim_end(void)
{
	__u32 pid = (__u32)bpf_get_current_pid_tgid();
	__u64 *t = bpf_map_lookup_elem(&reclaim_ts, &pid), now;
	struct kiln_cg_stats *s;

	if (t == NULL)
		return;
	now = bpf_ktime_get_ns();
	s = stats_of(bpf_get_current_cgroup_id());
	if (s != NULL && now > *t) {
		s->reclaim_ns += now - *t;
		s->reclaim_count++;
	}
	bpf_map_delete_elem(&reclaim_ts, &pid);
}

SEC("tp_btf/mm_vmscan_direct_reclaim_begin")
int BPF_PROG(kiln_reclaim_begin, int order, gfp_t gfp_flags)
{
	reclaim_begin();
	return 0;
}

SEC("tp_btf/mm_vmscan_direct_reclaim_end")
int BPF_PROG(kiln_reclaim_end, unsigned long nr_reclaimed)
{
	reclaim_end();
	return 0;
}

SEC("tp_btf/mm_vmscan_memcg_reclaim_begin")
int BPF_PROG(kiln_memcg_reclaim_begin, int order, gfp_t gfp_flags)
{
	reclaim_begin();
	return 0;
}

SEC("tp_btf/mm_vmscan_memcg_reclaim_end")
int BPF_PROG(kiln_memcg_reclaim_end, unsigned long nr_reclaimed)
{
	reclaim_end();
	return 0;
}

/*
 * Network, on the containers' parent cgroup (attached by the agent): the
 * packet's socket names its cgroup. An skb is one packet here even when
 * it carries a GSO train. 1: let it pass.
 */
static __always_inline int
count_skb(struct __sk_buff *skb, bool egress)
{
	struct kiln_cg_stats *s = stats_of(bpf_skb_cgroup_id(skb));

	if (s == NULL)
		return 1;
	if (egress) {
		s->net_tx_bytes += skb->len;
		s->net_tx_packets++;
	} else {
		s->net_rx_bytes += skb->len;
		s->net_rx_packets++;
	}
	return 1;
}

SEC("cgroup_skb/ingress")
int kiln_skb_in(struct __sk_buff *skb)
{
	return count_skb(skb, false);
}

SEC("cgroup_skb/egress")
int kiln_skb_out(struct __sk_buff *skb)
{
	return count_skb(skb, true);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * guest: the user half of kiln's metrics programs (kernel half:
 * kiln_metrics.bpf.c). Open, load and attach once, in the background after
 * the agent serves; afterwards the per-cgroup counters stay in the kernel
 * until GetMetrics reads them (pull). OOM victims are the one push: a ring
 * buffer whose epoll fd sits on the agent's reactor, remembered here in a
 * small ring so a later GetMetrics can name them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/types.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "guest/agent.h"
/* The generated skeleton casts its const ELF bytes away (bpftool 7.1). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wcast-qual"
#include "kiln_metrics.skel.h"
#pragma GCC diagnostic pop

#define AGENT_BPF_VICTIMS	16	/* remembered, all containers */

struct agent_bpf {
	struct kiln_metrics_bpf	*skel;
	struct bpf_link		*skb_in, *skb_out;	/* on the parent cgroup */
	int			 stats_fd;	/* BPF_ENABLE_STATS while open */
	struct ring_buffer	*rb;
	struct reactor_io	*rb_io;
	int			 ncpus;
	struct kiln_cg_stats	*percpu;	/* lookup buffer, ncpus */
	struct kiln_oom_event	 victims[AGENT_BPF_VICTIMS];
	unsigned		 nvictims;	/* ever seen; ring index */
};

static char agent_bpf_lastmsg[512];

/*
 * libbpf talks through this: debug lines stay at debug; the last warning
 * is kept, since it is what says why a load failed (the verifier log ends
 * with it).
 */
static int __attribute__((format(printf, 2, 0)))
agent_bpf_print(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	vsnprintf(line, sizeof line, fmt, ap);
	n = strlen(line);
	if (n > 0 && line[n - 1] == '\n')
		line[n - 1] = '\0';
	if (lvl == LIBBPF_WARN)
		snprintf(agent_bpf_lastmsg, sizeof agent_bpf_lastmsg, "%s",
		    line);
	log_debug("libbpf: %s", line);
	return 0;
}

static int
agent_bpf_oom_cb(void *ctx, void *data, size_t len)
{
	struct agent_bpf *b = ctx;

	if (len < sizeof(struct kiln_oom_event))
		return 0;
	memcpy(&b->victims[b->nvictims % AGENT_BPF_VICTIMS], data,
	    sizeof(struct kiln_oom_event));
	b->victims[b->nvictims % AGENT_BPF_VICTIMS].comm[KILN_COMM_LEN - 1] =
	    '\0';
	b->nvictims++;
	return 0;
}

static void
agent_bpf_rb_cb(int fd, int what, void *arg)
{
	struct agent_bpf *b = arg;

	(void)fd;
	(void)what;
	/* Bounded: the ring holds 16 pages of 40-byte records at most. */
	ring_buffer__consume(b->rb);
}

void
agent_bpf_stop(struct agent_bpf *b)
{
	if (b == NULL)
		return;
	reactor_io_free(b->rb_io);
	ring_buffer__free(b->rb);
	bpf_link__destroy(b->skb_in);
	bpf_link__destroy(b->skb_out);
	close_fd(&b->stats_fd);
	kiln_metrics_bpf__destroy(b->skel);
	free(b->percpu);
	free(b);
}

/* Why libbpf failed, with the last thing it warned about. */
static struct agent_bpf *
agent_bpf_fail(struct agent_bpf *b, const char *step, int ret,
    struct err *err)
{
	err_set(err, -ret, "%s: %s%s%s", step, strerror(-ret),
	    agent_bpf_lastmsg[0] != '\0' ? ": " : "", agent_bpf_lastmsg);
	agent_bpf_stop(b);
	return NULL;
}

#define AGENT_BPF_CGROUP	"/sys/fs/cgroup/" AGENT_CGROUP_PARENT

/*
 * The network programs sit on the containers' parent cgroup (the skeleton
 * cannot attach cgroup programs itself): every container below it is
 * counted, each packet by its socket's cgroup.
 */
static int
agent_bpf_attach_cgroup(struct agent_bpf *b)
{
	int fd = open(AGENT_BPF_CGROUP, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret = 0;

	if (fd < 0)
		return -errno;
	b->skb_in = bpf_program__attach_cgroup(b->skel->progs.kiln_skb_in, fd);
	if (b->skb_in == NULL)
		ret = -errno;
	b->skb_out = ret == 0 ?
	    bpf_program__attach_cgroup(b->skel->progs.kiln_skb_out, fd) : NULL;
	if (ret == 0 && b->skb_out == NULL)
		ret = -errno;
	close(fd);
	return ret;
}

struct agent_bpf *
agent_bpf_start(struct reactor *r, const char *btf, struct err *err)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .btf_custom_path = btf);
	struct agent_bpf *b = xcalloc(1, sizeof *b);
	int ret;

	b->stats_fd = -1;
	libbpf_set_print(agent_bpf_print);
	agent_bpf_lastmsg[0] = '\0';
	if (access(btf != NULL ? btf : "/sys/kernel/btf/vmlinux", R_OK) != 0)
		return agent_bpf_fail(b, btf != NULL ? btf : "kernel BTF",
		    -errno, err);
	b->ncpus = libbpf_num_possible_cpus();
	if (b->ncpus <= 0)
		return agent_bpf_fail(b, "possible CPUs", b->ncpus < 0 ?
		    b->ncpus : -EINVAL, err);
	b->percpu = xcalloc((size_t)b->ncpus, sizeof *b->percpu);
	b->skel = kiln_metrics_bpf__open_opts(&opts);
	if (b->skel == NULL)
		return agent_bpf_fail(b, "open", -errno, err);
	if ((ret = kiln_metrics_bpf__load(b->skel)) < 0)
		return agent_bpf_fail(b, "load", ret, err);
	if ((ret = kiln_metrics_bpf__attach(b->skel)) < 0)
		return agent_bpf_fail(b, "attach", ret, err);
	if ((ret = agent_bpf_attach_cgroup(b)) < 0)
		return agent_bpf_fail(b, "attach to " AGENT_BPF_CGROUP, ret, err);
	/* The probes' own cost, per program; without it, just not known. */
	if ((b->stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME)) < 0)
		log_warnx("bpf: no run-time statistics: %s", strerror(errno));
	b->rb = ring_buffer__new(bpf_map__fd(b->skel->maps.oom_events),
	    agent_bpf_oom_cb, b, NULL);
	if (b->rb == NULL)
		return agent_bpf_fail(b, "ring buffer", -errno, err);
	b->rb_io = reactor_io_new(r, ring_buffer__epoll_fd(b->rb),
	    REACTOR_READ, agent_bpf_rb_cb, b);
	return b;
}

bool
agent_bpf_read(struct agent_bpf *b, uint64_t cgid, struct kiln_cg_stats *out)
{
	__u64 key = cgid;
	int cpu, i;

	memset(out, 0, sizeof *out);
	if (b == NULL || bpf_map__lookup_elem(b->skel->maps.cg_stats, &key,
	    sizeof key, b->percpu, (size_t)b->ncpus * sizeof *b->percpu,
	    0) != 0)
		return false;
	/* The record is all __u64 counters (kiln_metrics_event.h). */
	for (cpu = 0; cpu < b->ncpus; cpu++) {
		const __u64 *in = (const __u64 *)&b->percpu[cpu];
		__u64 *sum = (__u64 *)out;

		for (i = 0; i < (int)(sizeof *out / sizeof(__u64)); i++)
			sum[i] += in[i];
	}
	return true;
}

int
agent_bpf_victims(struct agent_bpf *b, uint64_t cgid,
    struct kiln_oom_event *out, int max)
{
	unsigned i, first;
	int n = 0;

	if (b == NULL)
		return 0;
	ring_buffer__consume(b->rb);
	first = b->nvictims > AGENT_BPF_VICTIMS ?
	    b->nvictims - AGENT_BPF_VICTIMS : 0;
	/* Newest first into out, then reversed: the last max, oldest first. */
	for (i = b->nvictims; i > first && n < max; i--)
		if (b->victims[(i - 1) % AGENT_BPF_VICTIMS].cgroup_id == cgid)
			out[n++] = b->victims[(i - 1) % AGENT_BPF_VICTIMS];
	for (i = 0; i < (unsigned)n / 2; i++) {
		struct kiln_oom_event t = out[i];

		out[i] = out[n - 1 - (int)i];
		out[n - 1 - (int)i] = t;
	}
	return n;
}

int
agent_bpf_programs(struct agent_bpf *b, struct agent_bpf_prog *out, int max)
{
	struct bpf_program *prog;
	int n = 0;

	if (b == NULL)
		return 0;
	bpf_object__for_each_program(prog, b->skel->obj) {
		struct bpf_prog_info info;
		__u32 len = sizeof info;

		if (n == max)
			break;
		memset(&info, 0, sizeof info);
		if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info,
		    &len) != 0)
			continue;
		out[n].name = bpf_program__name(prog);
		out[n].run_ns = info.run_time_ns;
		out[n].runs = info.run_cnt;
		n++;
	}
	return n;
}

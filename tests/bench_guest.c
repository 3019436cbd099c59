/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench-guest: where the time of one cold start goes, and how fast stdio
 * flows guest -> host. Host instants come from the trace records of the
 * channel machine (vsock_chan: DIALING at spawn, READY at the greeting)
 * and from the replies; guest instants from Ping (CLOCK_BOOTTIME at agent
 * start and when it began serving).
 *
 *   bench-guest [RUNS]      (default 3; prints each run and the medians)
 */
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

#include "tests/vmtest.h"

#define ARGS(...)	((const char *const[]){ __VA_ARGS__, NULL })

struct sample {
	double	spawn_to_greeting;	/* host: QEMU spawned -> agent greeting */
	double	guest_boot;		/* guest: kernel start -> agent start */
	double	guest_init;		/* guest: agent start -> serving */
	double	created;		/* host: spawn -> CreateContainer reply */
	double	started;		/* host: spawn -> StartProcess reply */
	double	exited;			/* host: spawn -> Wait reply (echo) */
	double	mib_per_s;		/* stdout guest -> host */
};

static double
since(const struct vmt *v, uint64_t t)
{
	return (double)(t - v->t_spawn_ns) / 1e9;
}

/* The trace record of the channel reaching READY. */
static uint64_t
trace_ready_ns(const struct vmt *v)
{
	const struct fsm_trace_rec *rec;
	unsigned k;

	for (k = 0; (rec = fsm_env_last(v->env, k)) != NULL; k++)
		if (strcmp(rec->def->name, "vsock_chan") == 0 &&
		    rec->result == FSM_RES_OK &&
		    strcmp(fsm_state_name(rec->def, rec->to), "READY") == 0)
			return rec->ts_ns;
	return v->t_ready_ns;
}

static int
one_echo(struct vmt *v, struct sample *s, struct err *err)
{
	Kiln__Agent__V1__CreateContainerRequest cr =
	    KILN__AGENT__V1__CREATE_CONTAINER_REQUEST__INIT;
	Kiln__Agent__V1__ProcessRef pref = KILN__AGENT__V1__PROCESS_REF__INIT;
	Kiln__Agent__V1__ContainerRef ref = KILN__AGENT__V1__CONTAINER_REF__INIT;
	_cleanup_free_ char *spec = vmt_spec(ARGS("echo", "hello"), true);
	struct vmt_reply rep, wait;

	cr.container_id = pref.container_id = ref.container_id = (char *)"b";
	pref.exec_id = (char *)"";
	cr.rootfs_tag = (char *)VMT_TAG;
	cr.spec_json.data = (uint8_t *)spec;
	cr.spec_json.len = strlen(spec);
	cr.stdout = true;
	if (vmt_call(v, "CreateContainer", &cr.base, NULL, NULL, &rep,
	    60000) < 0)
		return err_set(err, rep.code, "create: %s", rep.message);
	s->created = since(v, time_mono_ns());
	vmt_call_async(v, "WaitProcess", &pref.base, &wait);
	if (vmt_call(v, "StartProcess", &pref.base, NULL, NULL, &rep,
	    60000) < 0)
		return err_set(err, rep.code, "start: %s", rep.message);
	s->started = since(v, time_mono_ns());
	if (!vmt_run_until(v, &wait.done, 60000))
		return err_set(err, ERR_TIMEOUT, "no exit");
	s->exited = since(v, time_mono_ns());
	vmt_reply_fini(&wait);
	return vmt_call(v, "RemoveContainer", &ref.base, NULL, NULL, &rep,
	    60000);
}

static int
throughput(struct vmt *v, struct sample *s, struct err *err)
{
	uint64_t t0 = time_mono_ns();
	uint32_t st;

	if (vmt_run(v, "tput", ARGS("sh", "-c", "dd if=/dev/zero bs=65536 count=1024 2>/dev/null"),
	    true, NULL, 0, &st, err) < 0)
		return -1;
	s->mib_per_s = 64.0 / ((double)(time_mono_ns() - t0) / 1e9);
	if (buf_used(&vmt_proc(v, "tput", "")->out[1]) != 64u << 20)
		return err_set(err, EIO, "short output");
	return 0;
}

static int
one_run(const char *rootfs, struct sample *s, struct err *err)
{
	Kiln__Agent__V1__PingRequest req = KILN__AGENT__V1__PING_REQUEST__INIT;
	Kiln__Agent__V1__PingResponse *r = NULL;
	struct vmt_reply rep;
	struct vmt v;
	int ret = -1;

	if (vmt_init(&v, err) < 0)
		return -1;
	if (vmt_boot(&v, rootfs, err) < 0)
		goto out;
	s->spawn_to_greeting = since(&v, trace_ready_ns(&v));
	if (vmt_call(&v, "Ping", &req.base,
	    &kiln__agent__v1__ping_response__descriptor,
	    (ProtobufCMessage **)&r, &rep, 60000) < 0 || r == NULL)
		goto out;
	s->guest_boot = (double)r->boot_ns / 1e9;
	s->guest_init = (double)(r->ready_ns - r->boot_ns) / 1e9;
	kiln__agent__v1__ping_response__free_unpacked(r, NULL);
	vmt_reply_fini(&rep);
	if (one_echo(&v, s, err) < 0 || throughput(&v, s, err) < 0)
		goto out;
	ret = vmt_shutdown(&v, err);
out:
	vmt_fini(&v);
	return ret;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

#define FIELD_MEDIAN(samples, n, f) ({					\
	double _v[64];							\
	int _i;								\
	for (_i = 0; _i < (n); _i++)					\
		_v[_i] = (samples)[_i].f;				\
	qsort(_v, (size_t)(n), sizeof _v[0], cmp_double);		\
	_v[(n) / 2];							\
})

static void
print(const char *label, const struct sample *s)
{
	printf("%-7s spawn->greeting %.3f s | guest kernel->agent %.3f s, "
	    "agent init %.3f s | created %.3f s, started %.3f s, "
	    "echo exit seen %.3f s | stdout %.0f MiB/s\n", label,
	    s->spawn_to_greeting, s->guest_boot, s->guest_init, s->created,
	    s->started, s->exited, s->mib_per_s);
}

int
main(int argc, char **argv)
{
	char rootfs[] = "/tmp/kiln-bench-rootfs-XXXXXX", cmd[256];
	int runs = argc > 1 ? atoi(argv[1]) : 3, i, n = 0;
	struct sample s[64], med;
	struct err err = { 0 };

	log_init("bench-guest", LOG_LVL_WARN, 2);
	if (runs < 1 || runs > 64 || mkdtemp(rootfs) == NULL)
		return 2;
	snprintf(cmd, sizeof cmd, "tests/e2e/lib/mkbusybox-rootfs.sh %s "
	    ">/dev/null", rootfs);
	if (system(cmd) != 0)
		return 1;
	printf("accelerator: %s\n", core_accel_resolve("auto",
	    getenv("KILN_GUEST_DIR") != NULL ? getenv("KILN_GUEST_DIR") :
	    "build/guest"));
	for (i = 0; i < runs; i++) {
		memset(&s[n], 0, sizeof s[n]);
		if (one_run(rootfs, &s[n], &err) < 0) {
			printf("run %d failed: %s\n", i + 1, err.msg);
			continue;
		}
		snprintf(cmd, sizeof cmd, "run %d", i + 1);
		print(cmd, &s[n++]);
	}
	snprintf(cmd, sizeof cmd, "rm -rf %s", rootfs);
	(void)system(cmd);
	if (n == 0)
		return 1;
	med.spawn_to_greeting = FIELD_MEDIAN(s, n, spawn_to_greeting);
	med.guest_boot = FIELD_MEDIAN(s, n, guest_boot);
	med.guest_init = FIELD_MEDIAN(s, n, guest_init);
	med.created = FIELD_MEDIAN(s, n, created);
	med.started = FIELD_MEDIAN(s, n, started);
	med.exited = FIELD_MEDIAN(s, n, exited);
	med.mib_per_s = FIELD_MEDIAN(s, n, mib_per_s);
	print("median", &med);
	return 0;
}

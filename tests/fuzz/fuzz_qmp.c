/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the QMP client's input path: line splitting, the 1 MiB
 * line bound, JSON decoding, message classification, the handshake
 * machine and reply matching. The input is what QEMU would send to a qmp
 * adopted on a socketpair (so past connect, in GREETING) with two calls
 * pending (ids 1 and 2). The first byte picks the mode:
 *
 *   bits 0-3  0: feed the rest at once; n: feed it in n-byte pieces
 *   bit 4     prepend a greeting and the capabilities reply (reach READY)
 *   bit 5     qmp_free() from inside on_closed and on event "FREE"
 *   bits 6-7  both set: append a line longer than QMP_LINE_MAX
 *
 * Whatever the bytes, nothing may crash, leak or trip a sanitizer.
 */
#include <string.h>
#include <sys/socket.h>

#include "qmp/qmp.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FZ_HANDSHAKE	"{\"QMP\": {\"version\": {}, \"capabilities\": []}}" \
	"\r\n{\"return\": {}, \"id\": 0}\r\n"

static struct reactor	*fz_r;
static struct fsm_env	*fz_env;
static uint8_t		*fz_long;	/* QMP_LINE_MAX + 2 bytes, no \n */
static struct qmp	*fz_q;
static bool		 fz_free_in_cb;

/* Free the process-wide fixtures so leak checkers see a clean exit. */
static void
fz_teardown(void)
{
	reactor_free(fz_r);
	fsm_env_free(fz_env);
	free(fz_long);
}

static void
fz_setup(void)
{
	struct err err;

	if (fz_r != NULL)
		return;
	atexit(fz_teardown);
	log_init("fuzz", LOG_LVL_ERROR, -1);
	fz_r = reactor_new(&err);
	fz_env = fsm_env_new();
	fz_long = xmalloc(QMP_LINE_MAX + 2);
	memset(fz_long, '{', QMP_LINE_MAX + 2);
}

/* A reply may start another call: re-entrancy is part of the contract. */
static void
fz_reply_cb(const json_t *ret, const struct err *err, void *arg)
{
	(void)ret;
	(void)err;
	if (arg != NULL && fz_q != NULL)
		qmp_call(fz_q, "cont", NULL, 0, fz_reply_cb, NULL, NULL);
}

static void
fz_event_cb(struct qmp *q, const char *name, const json_t *data, void *arg)
{
	(void)data;
	(void)arg;
	if (fz_free_in_cb && strcmp(name, "FREE") == 0) {
		qmp_free(q);
		fz_q = NULL;
	}
}

static void
fz_closed_cb(struct qmp *q, const struct err *why, void *arg)
{
	(void)why;
	(void)arg;
	if (fz_free_in_cb) {
		qmp_free(q);
		fz_q = NULL;
	}
}

/* Feed data in pieces of chunk bytes (0: at once) while the qmp lives. */
static void
fz_feed(const uint8_t *data, size_t size, size_t chunk)
{
	size_t n;

	if (chunk == 0)
		chunk = size;
	while (size > 0 && fz_q != NULL) {
		n = size < chunk ? size : chunk;
		qmp_feed(fz_q, data, n);
		data += n;
		size -= n;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qmp_opts o = { .name = "fuzz", .on_event = fz_event_cb,
	    .on_closed = fz_closed_cb };
	uint8_t mode;
	int sv[2];

	if (size < 1)
		return 0;
	fz_setup();
	mode = data[0];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	fz_free_in_cb = (mode & 0x20) != 0;
	fz_q = qmp_adopt(fz_r, fz_env, sv[0], &o);
	qmp_call(fz_q, "query-status", NULL, 0, fz_reply_cb, NULL, NULL);
	qmp_call(fz_q, "device_del", json_pack("{s:s}", "id", "d1"), 1000,
	    fz_reply_cb, fz_q, NULL);
	if (mode & 0x10)
		fz_feed((const uint8_t *)FZ_HANDSHAKE, strlen(FZ_HANDSHAKE), 0);
	fz_feed(data + 1, size - 1, mode & 0x0f);
	if ((mode & 0xc0) == 0xc0)
		fz_feed(fz_long, QMP_LINE_MAX + 2, 0);
	/* Deferred notifications (ready, closed) and writes run here. */
	reactor_run_once(fz_r, false);
	qmp_free(fz_q);
	fz_q = NULL;
	reactor_run_once(fz_r, false);
	close(sv[1]);
	return 0;
}

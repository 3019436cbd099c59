/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers the protocol-level fuzz harnesses share (fuzz_shim.c,
 * fuzz_agent.c, fuzz_ttrpc.c): a tape that reads the fuzz input byte by
 * byte (zeros past its end), a generic protobuf-c message builder that
 * fills any message type from the tape: scalars, strings, bytes, nested
 * messages, repeated fields and oneofs, so that valid messages with fuzzed
 * contents reach the handlers behind the decoder; the agent's reply types;
 * and a trace hook.
 */
#ifndef KILN_TESTS_FUZZ_FZ_MSG_H
#define KILN_TESTS_FUZZ_FZ_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <stdio.h>
#include <stdlib.h>

#include <protobuf-c/protobuf-c.h>

/* An invariant broke: report it and crash, so the fuzzer keeps the input. */
#define FZ_ASSERT(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: invariant failed: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

struct fz_tape {
	const uint8_t	*p;
	size_t		 n;
	size_t		 pos;
};

uint8_t		 fz_u8(struct fz_tape *);
uint32_t	 fz_u32(struct fz_tape *);
bool		 fz_done(const struct fz_tape *);
/* Up to max bytes of the tape (fewer at its end); *len says how many. */
const uint8_t	*fz_bytes(struct fz_tape *, size_t max, size_t *len);
/* One of v[0..n), or (one time in sixteen) NULL: "let the builder pick". */
const char	*fz_pick(struct fz_tape *, const char *const *v, size_t n);

/*
 * A string for field f, or NULL to let fz_msg_new pick one of its own
 * (a short word from a pool, tape bytes, or a long one). The result is
 * copied.
 */
typedef const char *(*fz_str_hook)(const ProtobufCFieldDescriptor *f,
		    struct fz_tape *, void *arg);

/*
 * A message of type d filled from the tape (nesting at most depth deep).
 * Everything is malloc'd: free with protobuf_c_message_free_unpacked(m,
 * NULL). Never fails.
 */
ProtobufCMessage *fz_msg_new(const ProtobufCMessageDescriptor *d,
		    struct fz_tape *, int depth, fz_str_hook, void *arg);
/* m packed into a malloc'd buffer; *len its size. */
uint8_t		*fz_msg_pack(const ProtobufCMessage *m, size_t *len);

/* The reply type of the agent's method (agent.proto; Empty for most). */
const ProtobufCMessageDescriptor *fz_agent_reply_type(const char *method);

/* FZ_TRACE=1: an fsm trace hook printing every transition on stderr. */
struct fsm_trace_rec;
void		 fz_trace_hook(const struct fsm_trace_rec *, void *arg);

#endif

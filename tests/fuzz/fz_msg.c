/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tape and the generic message builder of tests/fuzz/fz_msg.h. The
 * builder walks the descriptor: every field is set or left at its default
 * by a tape byte, so the fuzzer's mutations of the tape move field by
 * field instead of breaking the wire format.
 */
#include <stdlib.h>
#include <string.h>

#include "core/base/base.h"
#include "fsm/fsm.h"
#include "google/protobuf/empty.pb-c.h"
#include "kiln/agent.pb-c.h"
#include "tests/fuzz/fz_msg.h"

#define FZ_MAX_REPEATED	300	/* above the shim's 256-pid bound */

uint8_t
fz_u8(struct fz_tape *t)
{
	return t->pos < t->n ? t->p[t->pos++] : 0;
}

const char *
fz_pick(struct fz_tape *t, const char *const *v, size_t n)
{
	uint8_t b = fz_u8(t);

	return b < 0xf0 ? v[b % n] : NULL;
}

uint32_t
fz_u32(struct fz_tape *t)
{
	uint32_t v = 0;
	int i;

	for (i = 0; i < 4; i++)
		v = v << 8 | fz_u8(t);
	return v;
}

bool
fz_done(const struct fz_tape *t)
{
	return t->pos >= t->n;
}

const uint8_t *
fz_bytes(struct fz_tape *t, size_t max, size_t *len)
{
	const uint8_t *p = t->p + t->pos;

	*len = t->n - t->pos < max ? t->n - t->pos : max;
	t->pos += *len;
	return p;
}

/* A value of interest for a 32-bit field, or four tape bytes. */
static uint32_t
fz_scalar(struct fz_tape *t)
{
	static const uint32_t v[] = { 0, 1, 2, 9, 15, 64, 65, 128, 137, 255,
	    256, 65535, 65536, 0x7fffffff, 0x80000000u, 0xffffffffu };
	uint8_t b = fz_u8(t);

	return b < 16 ? v[b] : b < 128 ? b : fz_u32(t);
}

static char *
fz_string(const ProtobufCFieldDescriptor *f, struct fz_tape *t,
    fz_str_hook hook, void *arg)
{
	static const char *const pool[] = { "", "fz", "e1", "e2", "x",
	    "../etc", "a,b=c", "io.containerd.cgroups.v2.Metrics" };
	const char *s = hook != NULL ? hook(f, t, arg) : NULL;
	uint8_t b;
	size_t len;
	const uint8_t *p;
	char *out;

	if (s != NULL)
		return xstrdup(s);
	b = fz_u8(t);
	if (b < 0xe0)
		return xstrdup(pool[b % ARRAY_SIZE(pool)]);
	if (b < 0xf8) {
		p = fz_bytes(t, b & 0x1f, &len);
		out = xmalloc(len + 1);
		memcpy(out, p, len);
		out[len] = '\0';
		return out;
	}
	len = 64u << (b & 7);		/* 64 .. 8192: past the id limits */
	out = xmalloc(len + 1);
	memset(out, 'a', len);
	out[len] = '\0';
	return out;
}

static void
fz_binary(ProtobufCBinaryData *bd, struct fz_tape *t)
{
	uint8_t b = fz_u8(t);
	const uint8_t *p;
	size_t len;

	p = fz_bytes(t, b, &len);
	bd->len = len;
	bd->data = len > 0 ? xmalloc(len) : NULL;
	if (len > 0)
		memcpy(bd->data, p, len);
}

static size_t
fz_elem_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_ENUM:
		return 4;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	}
	return 8;
}

/* One value of field f at dst. */
static void
fz_value(const ProtobufCFieldDescriptor *f, void *dst, struct fz_tape *t,
    int depth, fz_str_hook hook, void *arg)
{
	uint32_t v;

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_ENUM:
		v = fz_scalar(t);
		memcpy(dst, &v, 4);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE: {
		uint64_t w = (uint64_t)fz_scalar(t) << 32 | fz_scalar(t);

		memcpy(dst, &w, 8);
		break;
	}
	case PROTOBUF_C_TYPE_BOOL:
		*(protobuf_c_boolean *)dst = fz_u8(t) & 1;
		break;
	case PROTOBUF_C_TYPE_STRING:
		*(char **)dst = fz_string(f, t, hook, arg);
		break;
	case PROTOBUF_C_TYPE_BYTES:
		fz_binary(dst, t);
		break;
	case PROTOBUF_C_TYPE_MESSAGE:
		*(ProtobufCMessage **)dst = fz_msg_new(f->descriptor, t,
		    depth - 1, hook, arg);
		break;
	}
}

ProtobufCMessage *
fz_msg_new(const ProtobufCMessageDescriptor *d, struct fz_tape *t, int depth,
    fz_str_hook hook, void *arg)
{
	ProtobufCMessage *m = xcalloc(1, d->sizeof_message);
	unsigned i;

	protobuf_c_message_init(d, m);
	for (i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		uint8_t *base = (uint8_t *)m;
		void *dst = base + f->offset;
		uint8_t b;

		if (f->type == PROTOBUF_C_TYPE_MESSAGE && depth <= 0)
			continue;
		if (f->type == PROTOBUF_C_TYPE_STRING &&
		    f->label != PROTOBUF_C_LABEL_REPEATED &&
		    (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) == 0)
			*(char **)dst = NULL;	/* not the static default */
		b = fz_u8(t);
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			uint32_t *qcase = (uint32_t *)(base +
			    f->quantifier_offset);

			if (*qcase != 0 || (b & 1) == 0)
				continue;
			*qcase = f->id;
			fz_value(f, dst, t, depth, hook, arg);
		} else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = b < 0xf0 ? b % 4 : b == 0xff ?
			    FZ_MAX_REPEATED : (size_t)(b & 0xf) * 8;
			size_t sz = fz_elem_size(f), k;
			uint8_t *arr;

			if (n == 0)
				continue;
			arr = xcalloc(n, sz);
			for (k = 0; k < n; k++)
				fz_value(f, arr + k * sz, t, depth, hook, arg);
			*(size_t *)(base + f->quantifier_offset) = n;
			*(void **)dst = arr;
		} else if (b & 1)
			fz_value(f, dst, t, depth, hook, arg);
		else if (f->type == PROTOBUF_C_TYPE_STRING)
			*(char **)dst = xstrdup("");
	}
	return m;
}

uint8_t *
fz_msg_pack(const ProtobufCMessage *m, size_t *len)
{
	uint8_t *out;

	*len = protobuf_c_message_get_packed_size(m);
	out = xmalloc(*len + 1);
	protobuf_c_message_pack(m, out);
	return out;
}

void
fz_trace_hook(const struct fsm_trace_rec *rec, void *arg)
{
	(void)arg;
	fprintf(stderr, "fsm %s/%s: %s --%s--> %s %s\n", rec->def->name,
	    rec->id, fsm_state_name(rec->def, rec->from),
	    fsm_event_name(rec->def, rec->event),
	    fsm_state_name(rec->def, rec->to), fsm_result_name(rec->result));
}

/* agent.proto: the reply type of each method (Empty for the rest). */
const ProtobufCMessageDescriptor *
fz_agent_reply_type(const char *method)
{
	static const struct {
		const char			*method;
		const ProtobufCMessageDescriptor *d;
	} types[] = {
		{ "Ping", &kiln__agent__v1__ping_response__descriptor },
		{ "StartProcess",
		  &kiln__agent__v1__start_process_response__descriptor },
		{ "WaitProcess",
		  &kiln__agent__v1__wait_process_response__descriptor },
		{ "ProcessState",
		  &kiln__agent__v1__process_state_response__descriptor },
		{ "ListPids",
		  &kiln__agent__v1__list_pids_response__descriptor },
		{ "Stats", &kiln__agent__v1__stats_response__descriptor },
		{ "GetMetrics",
		  &kiln__agent__v1__metrics_response__descriptor },
		{ "NextEvent", &kiln__agent__v1__guest_event__descriptor },
		{ "UpdateResources",
		  &kiln__agent__v1__resources_response__descriptor },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(types); i++)
		if (strcmp(types[i].method, method) == 0)
			return types[i].d;
	return &google__protobuf__empty__descriptor;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the protobuf messages kiln decodes from its peers: the
 * request of every kiln.agent.v1.Agent method (what the agent unpacks from
 * the host), the request of every containerd.task.v2.Task method (what the
 * shim unpacks from containerd) and the agent channel's StreamFrame through
 * proto_stream_decode(). The first input byte picks the message, in that
 * order (modulo their count); the rest is the encoded message.
 *
 * Whatever the bytes, nothing may crash, leak or trip a sanitizer; a
 * message that decodes passes protobuf_c_message_check() and re-encodes
 * to a fixed point (packing what was unpacked from a packing gives the
 * same bytes); a StreamFrame that proto_stream_decode() accepts is within
 * the bounds it promises.
 */
#include <stdio.h>
#include <string.h>

#include "proto/proto.h"
#include "containerd/task.pb-c.h"
#include "kiln/agent.pb-c.h"
#include "tests/fuzz/fz_msg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);


static bool	fz_ready;

static void
fz_setup(void)
{
	if (fz_ready)
		return;
	fz_ready = true;
	log_init("fuzz", LOG_LVL_ERROR, -1);
}

/* Pack m into a new buffer; *len receives its size. */
static uint8_t *
fz_pack(const ProtobufCMessage *m, size_t *len)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *p = xmalloc(n > 0 ? n : 1);

	*len = protobuf_c_message_pack(m, p);
	FZ_ASSERT(*len == n);
	return p;
}

/*
 * Does m or a message inside it keep an unknown field numbered 0?
 * protobuf-c rejects tag 0 written in one byte but takes it written in
 * more (0x80 0x00), and re-encodes it in one: such a message does not
 * survive its own round trip. Harmless to kiln (unknown fields are never
 * read), so those messages are exempt from the fixed-point check.
 */
static bool
fz_has_tag0(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const ProtobufCFieldDescriptor *f;
	const ProtobufCMessage *const *a;
	const char *base = (const char *)m;
	size_t i, k, n;

	for (i = 0; i < m->n_unknown_fields; i++)
		if (m->unknown_fields[i].tag == 0)
			return true;
	for (i = 0; i < d->n_fields; i++) {
		f = &d->fields[i];
		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			n = *(const size_t *)(const void *)
			    (base + f->quantifier_offset);
			a = *(const ProtobufCMessage *const *const *)
			    (const void *)(base + f->offset);
			for (k = 0; k < n; k++)
				if (fz_has_tag0(a[k]))
					return true;
			continue;
		}
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0 &&
		    *(const uint32_t *)(const void *)
		    (base + f->quantifier_offset) != f->id)
			continue;
		a = (const ProtobufCMessage *const *)(const void *)
		    (base + f->offset);
		if (*a != NULL && fz_has_tag0(*a))
			return true;
	}
	return false;
}

/* Decode data as desc; if it decodes, check and re-encode it. */
static void
fz_message(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
    size_t size)
{
	ProtobufCMessage *m, *m2;
	uint8_t *p1, *p2;
	size_t n1, n2;

	m = protobuf_c_message_unpack(desc, NULL, size, data);
	if (m == NULL)
		return;
	FZ_ASSERT(m->descriptor == desc);
	FZ_ASSERT(protobuf_c_message_check(m));
	p1 = fz_pack(m, &n1);
	if (fz_has_tag0(m)) {
		protobuf_c_message_free_unpacked(m, NULL);
		free(p1);
		return;
	}
	protobuf_c_message_free_unpacked(m, NULL);

	m2 = protobuf_c_message_unpack(desc, NULL, n1, p1);
	FZ_ASSERT(m2 != NULL);
	p2 = fz_pack(m2, &n2);
	protobuf_c_message_free_unpacked(m2, NULL);
	FZ_ASSERT(n1 == n2 && memcmp(p1, p2, n1) == 0);
	free(p1);
	free(p2);
}

static void
fz_stream(const uint8_t *data, size_t size)
{
	Kiln__Agent__V1__StreamFrame *f;
	struct proto_stream_msg msg;
	struct err err;

	memset(&msg, 0, sizeof msg);
	if (proto_stream_decode(data, size, &f, &msg, &err) < 0) {
		FZ_ASSERT(f == NULL);
		FZ_ASSERT(err.code == ERR_PROTOCOL);
		return;
	}
	FZ_ASSERT(f != NULL);
	FZ_ASSERT(ident_valid(msg.container_id, PROTO_ID_MAX));
	FZ_ASSERT(msg.exec_id[0] == '\0' ||
	    ident_valid(msg.exec_id, PROTO_ID_MAX));
	FZ_ASSERT(msg.fd <= 2);
	FZ_ASSERT(msg.len <= PROTO_STREAM_CHUNK);
	FZ_ASSERT(msg.len == 0 || msg.data != NULL);
	FZ_ASSERT(msg.credit <= PROTO_STREAM_WINDOW);
	proto_stream_free(f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const ProtobufCServiceDescriptor *agent =
	    &kiln__agent__v1__agent__descriptor;
	const ProtobufCServiceDescriptor *task =
	    &containerd__task__v2__task__descriptor;
	unsigned sel;

	if (size < 1)
		return 0;
	fz_setup();
	sel = data[0] % (agent->n_methods + task->n_methods + 1);
	if (sel < agent->n_methods)
		fz_message(agent->methods[sel].input, data + 1, size - 1);
	else if (sel - agent->n_methods < task->n_methods)
		fz_message(task->methods[sel - agent->n_methods].input,
		    data + 1, size - 1);
	else
		fz_stream(data + 1, size - 1);
	return 0;
}

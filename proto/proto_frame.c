/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pure helpers of the wire layer: the ttrpc frame header (10 bytes,
 * big-endian: length, stream id, type, flags; reference section 1.2),
 * status codes, Any and Timestamp packing.
 */
#include <errno.h>
#include <string.h>

#include "proto/proto.h"

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

void
proto_hdr_encode(uint8_t out[PROTO_HDR_LEN], const struct proto_hdr *h)
{
	put_be32(out, h->len);
	put_be32(out + 4, h->stream);
	out[8] = h->type;
	out[9] = h->flags;
}

void
proto_hdr_decode(const uint8_t in[PROTO_HDR_LEN], struct proto_hdr *h)
{
	h->len = get_be32(in);
	h->stream = get_be32(in + 4);
	h->type = in[8];
	h->flags = in[9];
}

const char *
proto_code_name(int code)
{
	switch (code) {
	case PROTO_OK:			return "OK";
	case PROTO_CANCELLED:		return "CANCELLED";
	case PROTO_UNKNOWN:		return "UNKNOWN";
	case PROTO_INVALID_ARGUMENT:	return "INVALID_ARGUMENT";
	case PROTO_DEADLINE_EXCEEDED:	return "DEADLINE_EXCEEDED";
	case PROTO_NOT_FOUND:		return "NOT_FOUND";
	case PROTO_ALREADY_EXISTS:	return "ALREADY_EXISTS";
	case PROTO_RESOURCE_EXHAUSTED:	return "RESOURCE_EXHAUSTED";
	case PROTO_FAILED_PRECONDITION:	return "FAILED_PRECONDITION";
	case PROTO_UNIMPLEMENTED:	return "UNIMPLEMENTED";
	case PROTO_INTERNAL:		return "INTERNAL";
	case PROTO_UNAVAILABLE:		return "UNAVAILABLE";
	default:			return "CODE_?";
	}
}

int
proto_code_from_err(const struct err *err)
{
	switch (err->code) {
	case 0:
		return PROTO_OK;
	case EINVAL:
	case E2BIG:
	case ERR_PROTOCOL:
		return PROTO_INVALID_ARGUMENT;
	case ENOENT:
	case ESRCH:
		return PROTO_NOT_FOUND;
	case EEXIST:
		return PROTO_ALREADY_EXISTS;
	case ERR_UNHANDLED:
	case ERR_GUARD:
	case EBUSY:
		return PROTO_FAILED_PRECONDITION;
	case ERR_UNIMPLEMENTED:
	case ENOSYS:
		return PROTO_UNIMPLEMENTED;
	case ERR_TIMEOUT:
	case ETIMEDOUT:
		return PROTO_DEADLINE_EXCEEDED;
	case ERR_CLOSED:
		return PROTO_UNAVAILABLE;
	default:
		return PROTO_UNKNOWN;
	}
}

void
proto_any_pack(Google__Protobuf__Any *any, const char *type_url,
    const ProtobufCMessage *msg)
{
	google__protobuf__any__init(any);
	any->type_url = xstrdup(type_url);
	any->value.len = protobuf_c_message_get_packed_size(msg);
	any->value.data = xmalloc(any->value.len);
	protobuf_c_message_pack(msg, any->value.data);
}

void
proto_any_clear(Google__Protobuf__Any *any)
{
	free(any->type_url);
	free(any->value.data);
	google__protobuf__any__init(any);
}

void
proto_timestamp_from_ns(Google__Protobuf__Timestamp *ts, uint64_t ns)
{
	google__protobuf__timestamp__init(ts);
	ts->seconds = (int64_t)(ns / 1000000000ull);
	ts->nanos = (int32_t)(ns % 1000000000ull);
}

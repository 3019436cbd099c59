/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stdio stream frames of the agent channel (kiln.agent.v1.StreamFrame in a
 * PROTO_FT_KILN_STREAM frame). Both ends use these helpers, so the rules
 * an untrusted peer must follow are checked in one place: valid ids, fd
 * 0..2, at most one chunk of data, credit within one window.
 */
#include "proto/proto.h"
#include "kiln/agent.pb-c.h"

int
proto_stream_send(struct proto_conn *c, const struct proto_stream_msg *m,
    struct err *err)
{
	Kiln__Agent__V1__StreamFrame f = KILN__AGENT__V1__STREAM_FRAME__INIT;
	uint8_t stackbuf[256], *p = stackbuf;
	size_t len;
	int ret;

	f.container_id = (char *)(uintptr_t)m->container_id;
	f.exec_id = (char *)(uintptr_t)m->exec_id;
	f.fd = m->fd;
	f.data.data = (uint8_t *)(uintptr_t)m->data;
	f.data.len = m->len;
	f.eof = m->eof;
	f.credit = m->credit;
	len = protobuf_c_message_get_packed_size(&f.base);
	if (len > sizeof stackbuf)
		p = xmalloc(len);
	protobuf_c_message_pack(&f.base, p);
	ret = proto_conn_send_frame(c, PROTO_FT_KILN_STREAM, p, len, err);
	if (p != stackbuf)
		free(p);
	return ret;
}

int
proto_stream_decode(const uint8_t *data, size_t len,
    Kiln__Agent__V1__StreamFrame **framep, struct proto_stream_msg *out,
    struct err *err)
{
	Kiln__Agent__V1__StreamFrame *f;

	*framep = NULL;
	f = kiln__agent__v1__stream_frame__unpack(NULL, len, data);
	if (f == NULL)
		return err_set(err, ERR_PROTOCOL, "undecodable stream frame");
	if (!ident_valid(f->container_id, PROTO_ID_MAX) ||
	    (f->exec_id[0] != '\0' && !ident_valid(f->exec_id, PROTO_ID_MAX)))
		goto bad;
	if (f->fd > 2 || f->data.len > PROTO_STREAM_CHUNK ||
	    f->credit > PROTO_STREAM_WINDOW)
		goto bad;
	out->container_id = f->container_id;
	out->exec_id = f->exec_id;
	out->fd = f->fd;
	out->data = f->data.data;
	out->len = f->data.len;
	out->eof = f->eof;
	out->credit = f->credit;
	*framep = f;
	return 0;
bad:
	kiln__agent__v1__stream_frame__free_unpacked(f, NULL);
	return err_set(err, ERR_PROTOCOL, "stream frame out of bounds");
}

void
proto_stream_free(Kiln__Agent__V1__StreamFrame *f)
{
	if (f != NULL)
		kiln__agent__v1__stream_frame__free_unpacked(f, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Task events to containerd: Events/Forward on TTRPC_ADDRESS (reference
 * section 4.1), in order, one in flight, through a connection dialled
 * lazily and again when it drops. An event that fails is retried with a
 * growing delay and given up after a few tries, as the Go shim does; the
 * queue is bounded so a containerd that is away cannot grow it for ever.
 */
#include <errno.h>
#include <string.h>

#include "core/core_int.h"
#include "containerd/events_service.pb-c.h"

#define EVENTS_MAX	2048
#define EVENTS_TRIES	5
#define EVENTS_CALL_MS	5000

struct core_event {
	TAILQ_ENTRY(core_event)	 entry;
	char			*topic;
	char			*type_url;
	uint8_t			*value;
	size_t			 len;
	uint64_t		 at_ns;		/* CLOCK_REALTIME */
	int			 tries;
};
TAILQ_HEAD(core_event_q, core_event);

struct core_events {
	struct reactor		*r;		/* borrowed */
	struct fsm_env		*env;		/* borrowed */
	char			*address;	/* socket path */
	char			*namespace;
	struct proto_conn	*conn;
	struct core_event_q	 queue;
	int			 nqueued;
	bool			 in_flight;
	struct reactor_timer	*retry;
};

static void	events_pump(struct core_events *);

static void
event_free(struct core_event *e)
{
	free(e->topic);
	free(e->type_url);
	free(e->value);
	free(e);
}

static void
events_retry_cb(void *arg)
{
	events_pump(arg);
}

static void
events_closed_cb(struct proto_conn *c, void *arg)
{
	struct core_events *ev = arg;

	if (ev->conn == c)
		ev->conn = NULL;
	proto_conn_free(c);
}

struct core_events *
core_events_new(struct reactor *r, struct fsm_env *env, const char *address,
    const char *namespace)
{
	struct core_events *ev = xcalloc(1, sizeof *ev);

	ev->r = r;
	ev->env = env;
	if (address != NULL)
		ev->address = xstrdup(strncmp(address, "unix://", 7) == 0 ?
		    address + 7 : address);
	ev->namespace = xstrdup(namespace);
	TAILQ_INIT(&ev->queue);
	ev->retry = reactor_timer_new(r, events_retry_cb, ev);
	return ev;
}

static void
events_done_cb(const struct proto_reply *rep, void *arg)
{
	struct core_events *ev = arg;
	struct core_event *e = TAILQ_FIRST(&ev->queue);

	ev->in_flight = false;
	if (e == NULL)
		return;
	if (rep->code == PROTO_OK || ++e->tries >= EVENTS_TRIES) {
		if (rep->code != PROTO_OK)
			log_warnx("event %s dropped after %d tries: %s",
			    e->topic, e->tries, rep->message);
		TAILQ_REMOVE(&ev->queue, e, entry);
		ev->nqueued--;
		event_free(e);
		events_pump(ev);
		return;
	}
	log_debug("event %s: %s, retrying", e->topic, rep->message);
	reactor_timer_start(ev->retry, 100u << e->tries, false);
}

static int
events_send(struct core_events *ev, struct core_event *e, struct err *err)
{
	Containerd__Services__Events__Ttrpc__V1__ForwardRequest req =
	    CONTAINERD__SERVICES__EVENTS__TTRPC__V1__FORWARD_REQUEST__INIT;
	Containerd__Services__Events__Ttrpc__V1__Envelope env =
	    CONTAINERD__SERVICES__EVENTS__TTRPC__V1__ENVELOPE__INIT;
	struct proto_call_opts o = { EVENTS_CALL_MS, ev->namespace };
	Google__Protobuf__Timestamp ts;
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;

	proto_timestamp_from_ns(&ts, e->at_ns);
	any.type_url = e->type_url;
	any.value.data = e->value;
	any.value.len = e->len;
	env.timestamp = &ts;
	env.namespace_ = ev->namespace;
	env.topic = e->topic;
	env.event = &any;
	req.envelope = &env;
	if (proto_conn_call(ev->conn, "containerd.services.events.ttrpc.v1."
	    "Events", "Forward", &req.base,
	    &google__protobuf__empty__descriptor, &o, events_done_cb, ev,
	    err) == 0)
		return -1;
	ev->in_flight = true;
	return 0;
}

/* Send the head of the queue if nothing is in flight. */
static void
events_pump(struct core_events *ev)
{
	struct proto_conn_opts o = { .name = "events",
	    .on_closed = events_closed_cb };
	struct core_event *e = TAILQ_FIRST(&ev->queue);
	struct proto_reply fail = { PROTO_UNAVAILABLE, "", NULL };
	struct err err;

	if (e == NULL || ev->in_flight || ev->address == NULL)
		return;
	o.arg = ev;
	if (ev->conn == NULL)
		ev->conn = proto_conn_dial(ev->r, ev->env, ev->address, &o,
		    &err);
	if (ev->conn == NULL || events_send(ev, e, &err) < 0) {
		fail.message = err.msg;
		events_done_cb(&fail, ev);
	}
}

void
core_events_publish(struct core_events *ev, const char *topic,
    const char *type_url, const ProtobufCMessage *msg)
{
	struct core_event *e;

	if (ev->nqueued >= EVENTS_MAX) {
		log_warnx("event queue full, %s dropped", topic);
		return;
	}
	e = xcalloc(1, sizeof *e);
	e->topic = xstrdup(topic);
	e->type_url = xstrdup(type_url);
	e->len = protobuf_c_message_get_packed_size(msg);
	e->value = xmalloc(e->len);
	protobuf_c_message_pack(msg, e->value);
	e->at_ns = time_real_ns();
	TAILQ_INSERT_TAIL(&ev->queue, e, entry);
	ev->nqueued++;
	log_debug("event %s queued", topic);
	events_pump(ev);
}

bool
core_events_idle(const struct core_events *ev)
{
	return TAILQ_EMPTY(&ev->queue) || ev->address == NULL;
}

void
core_events_free(struct core_events *ev)
{
	struct core_event *e;

	if (ev == NULL)
		return;
	while ((e = TAILQ_FIRST(&ev->queue)) != NULL) {
		TAILQ_REMOVE(&ev->queue, e, entry);
		event_free(e);
	}
	proto_conn_free(ev->conn);
	reactor_timer_free(ev->retry);
	free(ev->address);
	free(ev->namespace);
	free(ev);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* reactor: what the files of reactor/ share (the libevent base). */
#ifndef KILN_REACTOR_INT_H
#define KILN_REACTOR_INT_H

#include "reactor.h"

struct event_base;
/* The reactor's event_base, borrowed: for adapters inside reactor/. */
struct event_base *reactor_base(struct reactor *);

#endif

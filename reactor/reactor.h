/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reactor: the one event loop of a kiln process (shim or agent), on
 * libevent's epoll backend. It owns fd watchers, one-shot and periodic
 * timers, signals, child processes (pidfd when the kernel has it, SIGCHLD
 * otherwise) and deferred calls. Nothing in kiln starts a thread; callbacks
 * never block.
 *
 * Every watcher belongs to the reactor that made it: reactor_free() frees
 * whatever its owners did not, so a clean stop leaks nothing. Callbacks
 * are never invoked from inside the call that registers them.
 */
#ifndef KILN_REACTOR_H
#define KILN_REACTOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/base/base.h"

struct reactor;
struct reactor_io;
struct reactor_timer;
struct reactor_child;
struct reactor_sig;

#define REACTOR_READ	0x1
#define REACTOR_WRITE	0x2

typedef void	(*reactor_io_cb)(int fd, int what, void *arg);
typedef void	(*reactor_timer_cb)(void *arg);
typedef void	(*reactor_sig_cb)(int signo, void *arg);
/* status is a waitpid() status. */
typedef void	(*reactor_child_cb)(pid_t, int status, void *arg);
typedef void	(*reactor_defer_cb)(void *arg);

/*
 * Create the reactor: SIGPIPE ignored, SIGCHLD watched. Returns NULL with
 * err filled if libevent cannot start.
 */
struct reactor	*reactor_new(struct err *);
/* Free the reactor and every watcher still registered. NULL is a no-op. */
void		 reactor_free(struct reactor *);
/* Run until reactor_stop(); returns 0, or -1 if the loop failed. */
int		 reactor_run(struct reactor *);
/* Run one loop turn without blocking (tests); returns events handled. */
int		 reactor_run_once(struct reactor *, bool block);
/* Make reactor_run() return after the current turn and pending deferred
 * calls. */
void		 reactor_stop(struct reactor *);
/* Wake-ups so far (loop turns that ran at least one callback). */
uint64_t	 reactor_wakeups(const struct reactor *);

/*
 * Watch fd for the REACTOR_* conditions in what (persistent). The fd stays
 * owned by the caller. what may be 0 (registered but idle).
 */
struct reactor_io *reactor_io_new(struct reactor *, int fd, int what,
		    reactor_io_cb, void *arg);
/* Change the conditions watched; e.g. ask for WRITE only while queued. */
void		 reactor_io_set(struct reactor_io *, int what);
int		 reactor_io_get(const struct reactor_io *);
/* Unregister and free; does not close the fd. NULL is a no-op. */
void		 reactor_io_free(struct reactor_io *);

struct reactor_timer *reactor_timer_new(struct reactor *, reactor_timer_cb,
		    void *arg);
/* (Re)arm: fire after ms, then every ms if periodic. */
void		 reactor_timer_start(struct reactor_timer *, uint64_t ms,
		    bool periodic);
void		 reactor_timer_stop(struct reactor_timer *);
bool		 reactor_timer_pending(const struct reactor_timer *);
void		 reactor_timer_free(struct reactor_timer *);

/* Deliver signo as an event (SIGTERM, SIGINT, SIGHUP, ...). */
struct reactor_sig *reactor_sig_new(struct reactor *, int signo,
		    reactor_sig_cb, void *arg);
void		 reactor_sig_free(struct reactor_sig *);

/*
 * Watch child pid; cb runs once with its wait status, after which the
 * watcher is spent (free it with reactor_child_free, in or after cb).
 */
struct reactor_child *reactor_child_new(struct reactor *, pid_t,
		    reactor_child_cb, void *arg);
void		 reactor_child_free(struct reactor_child *);
/* True when pidfd_open() is used for children (else SIGCHLD scanning). */
bool		 reactor_uses_pidfd(const struct reactor *);
/*
 * Reap every child (PID 1 and subreapers): exits of pids nobody watches
 * go to cb. Only one orphan handler per reactor.
 */
void		 reactor_reap_orphans(struct reactor *, reactor_child_cb,
		    void *arg);

/* Run cb(arg) on the next loop turn, in FIFO order with other calls. */
void		 reactor_defer(struct reactor *, reactor_defer_cb, void *arg);
/* Drop deferred calls whose arg is arg (the object is going away). */
void		 reactor_defer_cancel(struct reactor *, void *arg);

/* ---- HTTP (reactor_http.c) ------------------------------------------ */

struct reactor_http;
struct reactor_http_req;
/*
 * A request for path (no query; borrowed until answered). The handler
 * must answer it with reactor_http_reply, now or from a later callback.
 */
typedef void	(*reactor_http_cb)(struct reactor_http_req *,
		    const char *path, void *arg);
/*
 * Serve HTTP (libevent's evhttp, GET only, small headers) on listening
 * socket fd (taken, even on failure). NULL and err if evhttp refuses it.
 */
struct reactor_http *reactor_http_new(struct reactor *, int fd,
		    reactor_http_cb, void *arg, struct err *);
/* Answer with code and body (copied) and forget q. */
void		 reactor_http_reply(struct reactor_http_req *, int code,
		    const char *content_type, const void *body, size_t len);
const char	*reactor_http_path(const struct reactor_http_req *);
/* Requests handed to the handler and not yet answered. */
size_t		 reactor_http_pending(const struct reactor_http *);
/* Close the listener and every connection; unanswered requests are
 * dropped (answer them first). NULL is a no-op. */
void		 reactor_http_free(struct reactor_http *);

/*
 * The answer to a GET: status and body (borrowed for the call) with err
 * NULL, or err (connect, timeout, a malformed answer, over max bytes).
 */
typedef void	(*reactor_http_get_cb)(int status, const uint8_t *body,
		    size_t len, const struct err *err, void *arg);
/*
 * GET path over the unix socket sock; cb runs once, from the reactor,
 * within timeout_ms. Never fails here: failures go to cb.
 */
void		 reactor_http_get(struct reactor *, const char *sock,
		    const char *path, uint64_t timeout_ms, size_t max,
		    reactor_http_get_cb, void *arg);
/*
 * Check an HTTP/1.x answer (status line, end of headers, Content-Length
 * if given, against len): *status and the body's offset, or -1 and err.
 */
int		 reactor_http_parse(const uint8_t *, size_t len, int *status,
		    size_t *body_off, struct err *);

#endif

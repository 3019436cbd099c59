/* SPDX-License-Identifier: Apache-2.0 */
/*
 * core/base: the bottom of kiln's module graph. Errors (struct err), logging,
 * allocators that abort on out-of-memory, cleanup helpers and a growable
 * byte buffer. Nothing here knows about libevent, protobuf or containers, so
 * every other module (and the guest agent) can use it.
 */
#ifndef KILN_BASE_H
#define KILN_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define KILN_VERSION "0.1.0"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))

/*
 * A fallible function returns 0 or a negative value and fills the caller's
 * struct err. code is an errno value (or one of the ERR_* codes below);
 * msg is a human readable, context-prefixed message.
 */
#define ERR_MSG_MAX 512
struct err {
	int	code;
	char	msg[ERR_MSG_MAX];
};

/* Error codes beyond errno, mapped to gRPC codes by the wire layer. */
enum {
	ERR_UNHANDLED = 10001,	/* an FSM event with no row */
	ERR_GUARD,		/* every matching row's guard said no */
	ERR_UNIMPLEMENTED,
	ERR_PROTOCOL,		/* malformed input from a peer */
	ERR_TIMEOUT,
	ERR_CLOSED,		/* connection dropped */
};

/* Set err (which may be NULL) and return -1. */
int	 err_set(struct err *, int code, const char *fmt, ...) PRINTF_LIKE(3, 4);
/* Prefix err's message with context; keep the code; return -1. */
int	 err_wrap(struct err *, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* Clear err to "no error". */
void	 err_clear(struct err *);

/* Logging: one line per record, key=value fields. */
enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };
void	 log_init(const char *prog, enum log_level, int fd);
void	 log_set_level(enum log_level);
bool	 log_enabled(enum log_level);
void	 log_msg(enum log_level, const char *func, const char *fmt, ...)
	    PRINTF_LIKE(3, 4);
void	 fatal_msg(bool with_errno, const char *func, const char *fmt, ...)
	    PRINTF_LIKE(3, 4) __attribute__((noreturn));

#define log_debug(...) do {						\
	if (log_enabled(LOG_LVL_DEBUG))					\
		log_msg(LOG_LVL_DEBUG, __func__, __VA_ARGS__);		\
} while (0)
#define log_info(...)	log_msg(LOG_LVL_INFO, __func__, __VA_ARGS__)
#define log_warnx(...)	log_msg(LOG_LVL_WARN, __func__, __VA_ARGS__)
#define log_error(...)	log_msg(LOG_LVL_ERROR, __func__, __VA_ARGS__)
/* log_warn appends strerror(errno). */
#define log_warn(fmt, ...) \
	log_msg(LOG_LVL_WARN, __func__, fmt " error=\"%m\"", ##__VA_ARGS__)
#define fatal(...)	fatal_msg(true, __func__, __VA_ARGS__)
#define fatalx(...)	fatal_msg(false, __func__, __VA_ARGS__)

/* Allocators: never return NULL, abort on out-of-memory. */
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
void	*xmemdup(const void *, size_t);
char	*xasprintf(const char *, ...) PRINTF_LIKE(1, 2);

/* Cleanup helpers for locals that die with their function. */
void	 freep(void *);
void	 closep(int *);
#define _cleanup_free_	__attribute__((cleanup(freep)))
#define _cleanup_close_	__attribute__((cleanup(closep)))
#define TAKE_PTR(p) ({ __typeof__(p) _p = (p); (p) = NULL; _p; })
static inline int
take_fd(int *fdp)
{
	int fd = *fdp;

	*fdp = -1;
	return fd;
}

/* Close fd if it is valid and set it to -1. */
void	 close_fd(int *);

/* A growable byte buffer; data[off..len) is unread. */
struct buf {
	uint8_t	*data;
	size_t	 off;
	size_t	 len;
	size_t	 cap;
};
void	 buf_init(struct buf *);
void	 buf_fini(struct buf *);
void	 buf_append(struct buf *, const void *, size_t);
/* Append formatted text (no NUL). */
void	 buf_printf(struct buf *, const char *, ...) PRINTF_LIKE(2, 3);
/* Reserve n bytes at the end and return a pointer to them. */
uint8_t	*buf_reserve(struct buf *, size_t n);
void	 buf_commit(struct buf *, size_t n);
size_t	 buf_used(const struct buf *);
const uint8_t *buf_head(const struct buf *);
void	 buf_consume(struct buf *, size_t);

/*
 * A latency histogram of HIST_BUCKETS log2 buckets: bucket i counts
 * values below hist_bound_us(i) = 2^(i + HIST_FIRST_LOG2) us (16 us to
 * 33.5 s) not counted by i-1; longer ones only in count and sum_ns.
 * Zero-initialised is empty.
 */
#define HIST_BUCKETS	22
#define HIST_FIRST_LOG2	4
struct hist {
	uint64_t	buckets[HIST_BUCKETS];
	uint64_t	count;
	uint64_t	sum_ns;
};
void	 hist_add(struct hist *, uint64_t ns);
uint64_t hist_bound_us(unsigned i);

/* Monotonic and wall clock in nanoseconds. */
uint64_t time_mono_ns(void);
uint64_t time_real_ns(void);

/* Read-only identifier check: [A-Za-z0-9]+([._-][A-Za-z0-9]+)*, <= max. */
bool	 ident_valid(const char *, size_t max);

/* Copy src into dst of size n, always terminated, truncating quietly. */
size_t	 str_copy(char *dst, const char *src, size_t n);

/* Write all of buf to a blocking or non-blocking fd; -1 on error. */
int	 write_all(int fd, const void *, size_t);
/* Set O_NONBLOCK and FD_CLOEXEC on fd. */
int	 fd_set_nonblock_cloexec(int fd);
/*
 * A unix stream socket listening at path, bound afresh (whatever was at
 * path is removed first), mode 0600, non-blocking and close-on-exec.
 * Returns the fd, or -1 and err (nothing left at path).
 */
int	 unix_listen(const char *path, int backlog, struct err *);

#endif

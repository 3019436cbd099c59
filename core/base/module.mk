# core/base: errors, logging, allocators, buffers (bottom of the graph).
LIB_SRCS += core/base/err.c core/base/log.c core/base/xmalloc.c \
	core/base/buf.c core/base/util.c \
	core/base/hist.c

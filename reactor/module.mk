# reactor: the single libevent loop.
LIB_SRCS += reactor/reactor.c

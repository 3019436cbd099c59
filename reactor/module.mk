# reactor: the single libevent loop.
LIB_SRCS += reactor/reactor.c reactor/reactor_http.c

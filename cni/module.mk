# cni: networking — rtnetlink (links, addresses, routes, TAP, tc redirect,
# network namespaces).
LIB_SRCS += cni/cni_nl.c

# cni: networking. The CNI conflist runner (plugins as reactor-driven
# children), its attachment machine (cni_fsm.c), result parser and
# libcni-layout cache; rtnetlink (links, addresses, routes, TAP, tc
# redirect, network namespaces) in cni_nl.c.
LIB_SRCS += cni/cni.c cni/cni_fsm.c cni/cni_result.c cni/cni_conf.c \
	cni/cni_cache.c cni/cni_run.c cni/cni_nl.c

# core: the shim, containerd-shim-kiln-v1.
# vm_qemu.c is shared with the guest test driver (tests/vmtest.c).
CORE_SRCS := core/vm_qemu.c
CORE_OBJS := $(CORE_SRCS:%.c=$(B)/%.o)

# Everything but main(), so kiln-fsm can link the task and VM tables.
SHIM_SRCS := core/shim.c core/shim_cli.c core/task_service.c core/task.c core/task_fsm.c \
	core/exec.c core/exec_fsm.c \
	core/vm.c core/vm_common.c core/vm_snap.c core/jail.c core/vm_fsm.c \
	core/net.c core/nic_fsm.c core/pod.c core/disk_fsm.c core/hooks.c \
	core/rootfs.c core/resize.c core/resize_fsm.c \
	core/scaler.c core/scaler_fsm.c core/tmpl.c core/tmpl_fsm.c \
	core/stdio.c core/events.c core/config.c core/metrics.c core/metrics_srv.c \
	core/prom.c
SHIM_OBJS := $(SHIM_SRCS:%.c=$(B)/%.o) $(CORE_OBJS)

# Static outside the sanitizer builds: one process per container, and
# shared libc pages faulted in around our few calls cost more RSS (2.4 MiB
# dynamic, 1.5 MiB static, measured). libevent's resolver, which needs
# glibc's NSS at run time, is never called; the linker's note says so.
SHIM_STATIC_debug := -static
SHIM_STATIC_release := -static
BINS += $(B)/containerd-shim-kiln-v1
$(B)/containerd-shim-kiln-v1: $(B)/core/shim_main.o $(SHIM_OBJS) $(LIBKILN)
	$(Q)$(LINK) $(SHIM_STATIC_$(FLAVOUR)) 2>$@.log || \
	    { cat $@.log; exit 1; }
	@grep -v 'statically linked\|in function .evutil\|test_for_getaddr' \
	    $@.log || true


# core: the shim, containerd-shim-kiln-v1.
# vm_qemu.c is shared with the guest test driver (tests/vmtest.c).
CORE_SRCS := core/vm_qemu.c
CORE_OBJS := $(CORE_SRCS:%.c=$(B)/%.o)

# Everything but main(), so kiln-fsm can link the task and VM tables.
SHIM_SRCS := core/shim.c core/shim_cli.c core/task_service.c core/task.c core/task_fsm.c \
	core/vm.c core/vm_fsm.c core/stdio.c core/events.c core/config.c
SHIM_OBJS := $(SHIM_SRCS:%.c=$(B)/%.o) $(CORE_OBJS)

BINS += $(B)/containerd-shim-kiln-v1
$(B)/containerd-shim-kiln-v1: $(B)/core/shim_main.o $(SHIM_OBJS) $(LIBKILN)
	$(Q)$(LINK)

# core: the shim. For now the VM command line that tests share with it.
CORE_SRCS := core/vm_qemu.c
CORE_OBJS := $(CORE_SRCS:%.c=$(B)/%.o)

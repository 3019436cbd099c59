# guest: kiln-agent (PID 1 in the VM) and the guest image.
# Everything but main(), so tools (kiln-fsm) can link the agent's tables.
AGENT_SRCS := guest/agent.c guest/agent_init.c guest/agent_service.c \
	guest/agent_container.c guest/agent_container_fsm.c \
	guest/agent_process_fsm.c guest/agent_stdio.c guest/agent_spec.c \
	guest/agent_stats.c guest/agent_net.c \
	guest/agent_resources.c
AGENT_OBJS := $(AGENT_SRCS:%.c=$(B)/%.o)

BINS += $(B)/kiln-agent
$(B)/kiln-agent: $(B)/guest/agent_main.o $(AGENT_OBJS) $(LIBKILN)
	$(Q)$(LINK)

# The image always carries the debug flavour's agent (-O2 -g): sanitizer
# runtimes have no place in PID 1 of a 256 MiB guest.
GUEST_DIR := build/guest
guest: $(GUEST_DIR)/initrd.img $(GUEST_DIR)/accel

$(GUEST_DIR)/initrd.img: build/debug/kiln-agent guest/mkimage.sh
	@$(if $(Q),echo "  IMAGE   $(GUEST_DIR)")
	$(Q)guest/mkimage.sh $(GUEST_DIR) build/debug/kiln-agent

# KVM only if it really boots the guest here (else TCG).
$(GUEST_DIR)/accel: $(GUEST_DIR)/initrd.img guest/probe-accel.sh
	$(Q)guest/probe-accel.sh $(GUEST_DIR)

ifneq ($(FLAVOUR),debug)
build/debug/kiln-agent: FORCE
	$(Q)$(MAKE) --no-print-directory FLAVOUR=debug build/debug/kiln-agent
endif

.PHONY: guest FORCE

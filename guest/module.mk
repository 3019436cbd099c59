# guest: kiln-agent (PID 1 in the VM) and the guest image.
# Everything but main(), so tools (kiln-fsm) can link the agent's tables.
AGENT_SRCS := guest/agent.c guest/agent_init.c guest/agent_service.c \
	guest/agent_container.c guest/agent_container_fsm.c \
	guest/agent_process_fsm.c guest/agent_stdio.c guest/agent_spec.c \
	guest/agent_stats.c guest/agent_net.c guest/agent_bpf.c \
	guest/agent_resources.c guest/agent_rootfs.c
AGENT_OBJS := $(AGENT_SRCS:%.c=$(B)/%.o)

# The metrics programs: the guest kernel's own BTF -> vmlinux.h, then
# .bpf.c -> .bpf.o -> .skel.h (libbpf-bootstrap's chain). The kernel half
# gets clang's BPF flags, not the host WARN set.
GUEST_DIR := build/guest
BPF_GEN := $(GEN)/guest
BPF_CFLAGS := -target bpf -O2 -g -D__TARGET_ARCH_x86 -Wall -Wextra -Werror \
	-Wno-unused-parameter -I. -I$(BPF_GEN)
BPF_SKELS := $(BPF_GEN)/kiln_metrics.skel.h
# libbpf and what it needs, static: the initrd then carries no new .so.
# Every binary that links AGENT_OBJS adds it (target-specific LIBS).
AGENT_LIBS := -Wl,-Bstatic -lbpf -lelf -lz -Wl,-Bdynamic

# The guest's kernel: kiln's own (guest/kernel.config, cached under
# build/kernel: minutes on a fresh clone, then only when the fragment
# changes). Debian's, pulled out of its bzImage, stays selectable (the
# config's "kernel") and gives the BTF the CO-RE programs compile
# against, so `make all` needs no kernel build.
$(GUEST_DIR)/vmlinux: guest/kernel.config guest/mkkernel.sh
	@$(if $(Q),echo "  KERNEL  $@")
	$(Q)guest/mkkernel.sh $@ >/dev/null

$(GUEST_DIR)/vmlinux-debian:
	$(Q)guest/mkimage.sh --vmlinux $(GUEST_DIR)

$(BPF_GEN)/vmlinux.h: $(GUEST_DIR)/vmlinux-debian
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  BTF     $@")
	$(Q)bpftool btf dump file $< format c > $@

# bpftool gen object (the BPF static linker) keeps BTF, drops DWARF: the
# skeleton embeds the object, so this is what the agent carries.
$(BPF_GEN)/%.bpf.o: guest/%.bpf.c guest/%_event.h $(BPF_GEN)/vmlinux.h
	@$(if $(Q),echo "  BPF     $<")
	$(Q)clang $(BPF_CFLAGS) -c $< -o $(@:.bpf.o=.tmp.bpf.o)
	$(Q)bpftool gen object $@ $(@:.bpf.o=.tmp.bpf.o)

$(BPF_GEN)/%.skel.h: $(BPF_GEN)/%.bpf.o
	@$(if $(Q),echo "  SKEL    $@")
	$(Q)bpftool gen skeleton $< name $(*F)_bpf > $@

$(B)/guest/agent_bpf.o: $(BPF_SKELS)
$(B)/guest/agent_bpf.o: CPPFLAGS += -I$(BPF_GEN)

BINS += $(B)/kiln-agent
$(B)/kiln-agent: LIBS += $(AGENT_LIBS)
$(B)/kiln-agent: $(B)/guest/agent_main.o $(AGENT_OBJS) $(LIBKILN)
	$(Q)$(LINK)

# The image always carries the debug flavour's agent (-O2 -g): sanitizer
# runtimes have no place in PID 1 of a 256 MiB guest.
guest: $(GUEST_DIR)/initrd.img $(GUEST_DIR)/vmlinux $(GUEST_DIR)/accel

$(GUEST_DIR)/initrd.img: build/debug/kiln-agent guest/mkimage.sh
	@$(if $(Q),echo "  IMAGE   $(GUEST_DIR)")
	$(Q)guest/mkimage.sh $(GUEST_DIR) build/debug/kiln-agent

# KVM only if it really boots the guest here (else TCG).
$(GUEST_DIR)/accel: $(GUEST_DIR)/initrd.img $(GUEST_DIR)/vmlinux \
    guest/probe-accel.sh
	$(Q)guest/probe-accel.sh $(GUEST_DIR)

ifneq ($(FLAVOUR),debug)
build/debug/kiln-agent: FORCE
	$(Q)$(MAKE) --no-print-directory FLAVOUR=debug build/debug/kiln-agent
endif

.PHONY: guest FORCE

# SPDX-License-Identifier: Apache-2.0
# kiln: the only Makefile. Each module adds its sources in <module>/module.mk.
#
#   make            build everything (build/debug)
#   make check      build and run every test under prove
#   make asan       the same with ASan+UBSan (build/asan)
#   make deps       install the Debian packages kiln needs
#   make docs       render every state machine table to build/docs/*.svg
#   make clean

FLAVOUR ?= debug
B	:= build/$(FLAVOUR)
GEN	:= build/gen

CC	?= cc
WARN	:= -std=gnu11 -Werror -Wall -Wextra -Wstrict-prototypes \
	   -Wmissing-prototypes -Wmissing-declarations -Wshadow \
	   -Wpointer-arith -Wcast-qual -Wsign-compare -Wformat=2 \
	   -Wswitch-enum -Wimplicit-fallthrough -Wvla -Wundef -fno-common \
	   -Wno-format-truncation
OPT_debug := -O2 -g
OPT_release := -O2 -g -DNDEBUG
OPT_asan  := -O1 -g -fno-omit-frame-pointer \
	     -fsanitize=address,undefined -fno-sanitize-recover=all
OPT_fuzz  := -O1 -g -fno-omit-frame-pointer \
	     -fsanitize=fuzzer-no-link,address,undefined -Wno-cast-qual \
	     -Wno-gnu-variable-sized-type-not-at-end \
	     -Wno-unknown-warning-option
OPT	:= $(OPT_$(FLAVOUR))
CPPFLAGS := -I. -isystem $(GEN) -D_GNU_SOURCE -MMD -MP
CFLAGS	:= $(WARN) $(OPT)
LDFLAGS	:= $(OPT)
LIBS	:= -levent_extra -levent_core -lprotobuf-c -ljansson
# The fuzz flavour compiles protobuf-c's and jansson's runtimes from
# Debian's source packages with its own instrumentation
# (tests/fuzz/module.mk), so coverage and ASan reach inside the decoders.
ifeq ($(FLAVOUR),fuzz)
LIBS	:= -levent_extra -levent_core build/fuzz/src/protobuf-c.o \
	build/fuzz/src/jansson.a
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

.DELETE_ON_ERROR:
.SECONDARY:
.DEFAULT_GOAL := all

LIBKILN := $(B)/libkiln.a

# Filled in by the module fragments.
LIB_SRCS :=
BINS :=
TEST_BINS :=
CHECK_SCRIPTS :=

include core/base/module.mk
include fsm/module.mk
include reactor/module.mk
include proto/module.mk
include qmp/module.mk
include vsock/module.mk
include cni/module.mk
include guest/module.mk
include core/module.mk
include tests/module.mk
include tests/fuzz/module.mk

LIB_OBJS := $(LIB_SRCS:%.c=$(B)/%.o) $(PROTO_OBJS)

# The table tools link every table of the tree: the library's, the
# agent's, the shim's and the test machine's. kiln-fsm: list / dot /
# check; kiln-trace: replay / show / svg / stats of trace files.
ALL_TABLES := $(B)/tests/fsm_door.o $(AGENT_OBJS) $(SHIM_OBJS)
BINS += $(B)/kiln-fsm $(B)/kiln-trace
$(B)/kiln-fsm $(B)/kiln-trace $(B)/kiln-fsmcheck: LIBS += $(AGENT_LIBS)
$(B)/kiln-fsm: $(B)/fsm/kiln_fsm.o $(ALL_TABLES) $(LIBKILN)
	$(Q)$(LINK)
$(B)/kiln-trace: $(B)/fsm/kiln_trace.o $(ALL_TABLES) $(LIBKILN)
	$(Q)$(LINK)
# kiln: metrics, top, monitor; trace, fsm and fsmcheck run the tools
# above from its own directory.
BINS += $(B)/kiln
$(B)/kiln: $(B)/core/kiln.o $(B)/core/kiln_top.o $(B)/core/kiln_monitor.o \
    $(SHIM_OBJS) $(LIBKILN)
	$(Q)$(LINK)
# kiln-fsmcheck: every table explored, and the task x VM product.
BINS += $(B)/kiln-fsmcheck
$(B)/kiln-fsmcheck: $(B)/core/kiln_fsmcheck.o $(B)/core/task_vm_model.o \
    $(B)/core/task_vm_promela.o $(ALL_TABLES) $(LIBKILN)
	$(Q)$(LINK)

$(LIBKILN): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

# Objects depend on the generated protobuf headers: -isystem keeps them out
# of the -MMD lists, so a changed .proto must rebuild every object (a stale
# one packs messages with the old struct layout).
$(B)/%.o: %.c $(PROTO_HDRS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

# Whole-archive so every FSM_REGISTER'ed table lands in each binary.
LINK = $(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) \
	-Wl,--whole-archive $(LIBKILN) -Wl,--no-whole-archive $(LIBS)

all: $(BINS) $(TEST_BINS)

check: deps
	$(Q)$(MAKE) --no-print-directory check-only

check-only: all guest
	$(Q)KILN_BUILD=$(abspath $(B)) prove -f -e '' $(TEST_BINS) \
	    $(CHECK_SCRIPTS)

# The C tests under valgrind: no leak, no invalid access (SIGCHLD path,
# since valgrind does not know pidfd_open).
valgrind: all
	$(Q)for t in $(TEST_BINS); do \
		KILN_REACTOR_NO_PIDFD=1 valgrind -q --leak-check=full \
		    --errors-for-leak-kinds=all --error-exitcode=99 $$t \
		    > build/valgrind.out 2>&1 || { cat build/valgrind.out; \
		    echo "valgrind: $$t failed"; exit 1; }; \
		echo "valgrind: $$t clean"; \
	done

# Failure scenarios with the shim built with ASan (tests/e2e/t_faults.sh).
check-faults: all guest
	$(Q)$(MAKE) --no-print-directory FLAVOUR=asan all
	$(Q)prove -f -e '' tests/e2e/t_faults.sh

asan:
	$(Q)$(MAKE) --no-print-directory FLAVOUR=asan check-only

DEPS_PKGS := build-essential pkg-config libevent-dev libprotobuf-c-dev \
	protobuf-c-compiler libjansson-dev graphviz perl valgrind \
	clang libclang-rt-14-dev containerd crun runc qemu-system-x86 \
	linux-image-amd64 busybox-static containernetworking-plugins \
	xz-utils cpio gzip hyperfine iproute2 util-linux libbpf-dev bpftool \
	libelf-dev zlib1g-dev python3-prometheus-client \
	spin prometheus curl erofs-utils python3-grpcio python3-grpc-tools \
	linux-source-6.1 dwarves flex bison bc

# Fast when everything is there: one dpkg-query, no apt-get. INITRD=No:
# kiln builds its own initrds (guest/mkimage.sh), so the kernel package's
# hook need not spend a minute on /boot/initrd.img.
deps:
	$(Q)missing=$$(dpkg-query -W -f='$${db:Status-Abbrev} $${Package}\n' \
	    $(DEPS_PKGS) 2>&1 | awk '$$1 != "ii" {print $$NF}'); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		INITRD=No apt-get install -y --no-install-recommends \
		    $(DEPS_PKGS); \
	fi

docs: $(B)/kiln-fsm
	@mkdir -p build/docs
	$(Q)for m in $$($(B)/kiln-fsm list); do \
		$(B)/kiln-fsm dot $$m > build/docs/$$m.dot && \
		dot -Tsvg build/docs/$$m.dot -o build/docs/$$m.svg && \
		$(B)/kiln-fsm dot --full $$m > build/docs/$$m-full.dot && \
		dot -Tsvg build/docs/$$m-full.dot -o build/docs/$$m-full.svg || \
		    exit 1; \
	done; ls build/docs/*.svg

# Benchmarks print figures; they assert nothing (see docs/benchmarks.md).
bench-ttrpc: FLAVOUR := release
bench-ttrpc:
	$(Q)$(MAKE) --no-print-directory FLAVOUR=release build/release/tests/bench-ttrpc
	$(Q)echo "kiln ttrpc over a unix socket, one connection ($$(nproc) cores, $$(date -u +%F))"
	$(Q)build/release/tests/bench-ttrpc $(BENCH_CALLS)

bench-guest: guest
	$(Q)$(MAKE) --no-print-directory FLAVOUR=release build/release/tests/bench-guest
	$(Q)echo "kiln guest cold start ($$(nproc) cores, $$(date -u +%F))"
	$(Q)build/release/tests/bench-guest $(BENCH_RUNS)

# Issue 15's rows are gathered in BENCH_ROWS and printed last as a table.
BENCH_ROWS := $(abspath build/release/bench-rows.tsv)
BENCH_ENV = KILN_BUILD=$(abspath build/release) KILN_BENCH_ROWS=$(BENCH_ROWS)
bench: guest
	$(Q)$(MAKE) --no-print-directory FLAVOUR=release all
	$(Q)rm -f $(BENCH_ROWS)
	$(Q)$(BENCH_ENV) tests/e2e/bench.sh
	$(Q)$(BENCH_ENV) tests/e2e/bench_net.sh
	$(Q)$(BENCH_ENV) tests/e2e/bench_snapshot.sh
	$(Q)$(BENCH_ENV) tests/e2e/bench_rootfs.sh
	$(Q)$(BENCH_ENV) tests/e2e/bench_jail.sh
	$(Q)$(BENCH_ENV) tests/e2e/bench_bpf.sh
	$(Q)$(BENCH_ENV) tests/e2e/bench_cri.sh
	$(Q)bash -c 'source tests/e2e/lib/bench_rows.sh && \
	    bench_rows_print $(BENCH_ROWS)'

# The README's demo: one command on a fresh machine.
demo: deps
	$(Q)$(MAKE) --no-print-directory all guest
	$(Q)KILN_BUILD=$(abspath build/debug) tests/e2e/demo.sh

PREFIX ?= /usr/local
install: all guest
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/kiln
	install -m 0755 $(B)/containerd-shim-kiln-v1 $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 $(GUEST_DIR)/vmlinux $(GUEST_DIR)/vmlinux-debian \
	    $(GUEST_DIR)/initrd.img $(GUEST_DIR)/initrd-debian.img \
	    $(GUEST_DIR)/accel $(DESTDIR)$(PREFIX)/share/kiln/

clean:
	rm -rf build

.PHONY: all check check-only check-faults asan valgrind bench bench-ttrpc bench-guest demo install deps docs clean

# Not under build/kernel: the guest kernel's tree has files of its own named *.d.
-include $(shell find build -path build/kernel -prune -o -name '*.d' -type f -print 2>/dev/null)

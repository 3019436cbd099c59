# tests: TAP programs, one per module, run by `make check` under prove.
TEST_NAMES := t_fsm t_reactor t_proto t_cni t_http
TEST_BINS += $(TEST_NAMES:%=$(B)/tests/%)

$(B)/tests/t_fsm: $(B)/tests/t_fsm.o $(B)/tests/fsm_door.o $(LIBKILN)
	$(Q)$(LINK)
$(B)/tests/t_reactor: $(B)/tests/t_reactor.o $(LIBKILN)
	$(Q)$(LINK)
$(B)/tests/t_proto: $(B)/tests/t_proto.o $(LIBKILN)
	$(Q)$(LINK)
$(B)/tests/t_cni: $(B)/tests/t_cni.o $(LIBKILN)
	$(Q)$(LINK)
$(B)/tests/t_http: $(B)/tests/t_http.o $(LIBKILN)
	$(Q)$(LINK)

# Helpers the e2e scripts run.
BINS += $(B)/tests/kiln-update
$(B)/tests/kiln-update: $(B)/tests/kiln_update.o $(LIBKILN)
	$(Q)$(LINK)
BINS += $(B)/tests/kiln-forward
$(B)/tests/kiln-forward: $(B)/tests/kiln_forward.o $(LIBKILN)
	$(Q)$(LINK)

CHECK_SCRIPTS += tests/e2e/t_env.sh tests/e2e/t_forward.sh tests/e2e/t_shim.sh \
	tests/e2e/t_hostile.sh tests/e2e/t_trace.sh tests/e2e/t_task_api.sh \
	tests/e2e/t_tla.sh tests/e2e/t_spin.sh tests/e2e/t_net.sh \
	tests/e2e/t_resources.sh tests/e2e/t_jail.sh tests/e2e/t_metrics.sh \
	tests/e2e/t_snapshot.sh tests/e2e/t_pod.sh tests/e2e/t_cri.sh

BINS += $(B)/tests/bench-ttrpc
$(B)/tests/bench-ttrpc: $(B)/tests/bench_ttrpc.o $(LIBKILN)
	$(Q)$(LINK)

# The guest end to end (needs `make guest`: check-only depends on it).
VMTEST_OBJS := $(B)/tests/vmtest.o $(CORE_OBJS)
TEST_BINS += $(B)/tests/t_guest
$(B)/tests/t_guest: $(B)/tests/t_guest.o $(VMTEST_OBJS) $(LIBKILN)
	$(Q)$(LINK)

# The guest's eBPF metrics (kiln_metrics.bpf.c via GetMetrics).
TEST_BINS += $(B)/tests/t_bpf
$(B)/tests/t_bpf: $(B)/tests/t_bpf.o $(VMTEST_OBJS) $(LIBKILN)
	$(Q)$(LINK)

BINS += $(B)/tests/bench-guest
$(B)/tests/bench-guest: $(B)/tests/bench_guest.o $(VMTEST_OBJS) $(LIBKILN)
	$(Q)$(LINK)

TEST_BINS += $(B)/tests/t_core
$(B)/tests/t_core: $(B)/tests/t_core.o $(SHIM_OBJS) $(LIBKILN)
	$(Q)$(LINK)

# A stand-in for QEMU that plays a broken or hostile guest (t_hostile.sh).
BINS += $(B)/tests/fake-qemu
$(B)/tests/fake-qemu: $(B)/tests/fake_qemu.o $(LIBKILN)
	$(Q)$(LINK)

TEST_BINS += $(B)/tests/t_fsmcheck
$(B)/tests/t_fsmcheck: LIBS += $(AGENT_LIBS)
$(B)/tests/t_fsmcheck: $(B)/tests/t_fsmcheck.o $(B)/core/task_vm_model.o \
    $(B)/core/task_vm_promela.o \
    $(B)/tests/fsm_door.o $(AGENT_OBJS) $(SHIM_OBJS) $(LIBKILN)
	$(Q)$(LINK)

# kiln-fsm over two deliberately broken tables only (t_spin.sh).
BINS += $(B)/tests/kiln-fsm-broken
$(B)/tests/kiln-fsm-broken: $(B)/fsm/kiln_fsm.o $(B)/tests/fsm_broken.o \
    $(LIBKILN)
	$(Q)$(LINK)

# The CRI tests (t_cri.sh, bench_cri.sh): the pod sandbox's pause process,
# static so that its image holds nothing else (flavour-independent flags:
# sanitizers do not link statically), and the Python gRPC stubs of our
# CRI subset (tests/cri/api.proto) for tests/cri/kiln_cri.py. Debian's
# python3-grpc-tools is importable by /usr/bin/python3 only.
CRI_PYTHON ?= /usr/bin/python3
BINS += $(B)/tests/kiln-pause
$(B)/tests/kiln-pause: tests/pause.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $< (static)")
	$(Q)$(CC) $(WARN) -O2 -static -o $@ $<

CRI_GEN := $(B)/cri/api_pb2.py $(B)/cri/api_pb2_grpc.py
BINS += $(CRI_GEN)
$(B)/cri/api_pb2_grpc.py: $(B)/cri/api_pb2.py
$(B)/cri/api_pb2.py: tests/cri/api.proto
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  PROTOC  $< (python grpc)")
	$(Q)$(CRI_PYTHON) -m grpc_tools.protoc -Itests/cri --python_out=$(dir $@) \
	    --grpc_python_out=$(dir $@) $<

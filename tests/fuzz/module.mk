# Fuzz harnesses. Each tests/fuzz/fuzz_<name>.c defines
# LLVMFuzzerTestOneInput and has a seed corpus in tests/fuzz/corpus/<name>/.
#   make check     replays every corpus (fuzz_replay_<name>, plain build)
#   make fuzz      builds libFuzzer binaries with clang (build/fuzz/)
#   make fuzz-ci   runs each for FUZZ_SECONDS (default 60)
FUZZ_NAMES += ttrpc config spec agentmsg machines cni
FUZZ_SECONDS ?= 60

# Objects a harness needs beyond libkiln (all in terms of $(B), so the
# fuzz flavour links build/fuzz/...): FUZZ_EXTRA_<name>.
FUZZ_EXTRA_config := $(SHIM_OBJS)
FUZZ_EXTRA_spec := $(AGENT_OBJS)
FUZZ_EXTRA_machines := $(AGENT_OBJS) $(SHIM_OBJS)
$(foreach n,$(FUZZ_NAMES),$(eval $(B)/tests/fuzz_replay_$(n) \
    $(B)/tests/fuzz_$(n): $(FUZZ_EXTRA_$(n))))

# The agent's objects bring libbpf (guest/module.mk).
$(foreach n,spec machines,$(eval $(B)/tests/fuzz_replay_$(n) \
    $(B)/tests/fuzz_$(n): LIBS += $(AGENT_LIBS)))

TEST_BINS += $(FUZZ_NAMES:%=$(B)/tests/fuzz_replay_%)

$(B)/tests/fuzz/replay_%.o: tests/fuzz/replay.c | $(PROTO_HDRS)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -DFUZZ_NAME='"$*"' -c $< -o $@

$(B)/tests/fuzz_replay_%: $(B)/tests/fuzz/fuzz_%.o $(B)/tests/fuzz/replay_%.o \
    $(LIBKILN)
	$(Q)$(LINK)

FUZZ_BINS := $(FUZZ_NAMES:%=build/fuzz/tests/fuzz_%)
build/fuzz/tests/fuzz_%: build/fuzz/tests/fuzz/fuzz_%.o build/fuzz/libkiln.a
	$(Q)$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $(filter %.o,$^) \
	    -Wl,--whole-archive build/fuzz/libkiln.a -Wl,--no-whole-archive \
	    $(LIBS)

fuzz:
	$(Q)$(MAKE) --no-print-directory FLAVOUR=fuzz CC=clang fuzz-bins

fuzz-bins: $(FUZZ_BINS)

# Each fuzzer works on a scratch copy of its corpus; crashes fail the run.
fuzz-ci: fuzz
	$(Q)for n in $(FUZZ_NAMES); do \
		work=build/fuzz/corpus/$$n; mkdir -p $$work; \
		cp tests/fuzz/corpus/$$n/* $$work/; \
		echo "fuzz_$$n: $(FUZZ_SECONDS) s"; \
		build/fuzz/tests/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) \
		    -print_final_stats=1 -artifact_prefix=build/fuzz/ $$work \
		    2>build/fuzz/fuzz_$$n.log || { tail -50 build/fuzz/fuzz_$$n.log; \
		    exit 1; }; \
		grep -E 'stat::number_of_executed_units|cov:' \
		    build/fuzz/fuzz_$$n.log | tail -2; \
	done

.PHONY: fuzz fuzz-bins fuzz-ci

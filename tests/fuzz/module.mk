# Fuzz harnesses. Each tests/fuzz/fuzz_<name>.c defines
# LLVMFuzzerTestOneInput and has a seed corpus in tests/fuzz/corpus/<name>/.
#   make check     replays every corpus (fuzz_replay_<name>, plain build)
#   make fuzz      builds libFuzzer binaries with clang (build/fuzz/)
#   make fuzz-ci   runs each for FUZZ_SECONDS (default 60), all in at most
#                  FUZZ_TOTAL (540 s: the per-harness time shrinks)
#   make fuzz-long runs each for FUZZ_SECONDS (default 3600)
FUZZ_NAMES += ttrpc config spec agentmsg machines cni shim agent
FUZZ_SECONDS ?= 60

# Objects a harness needs beyond libkiln (all in terms of $(B), so the
# fuzz flavour links build/fuzz/...): FUZZ_EXTRA_<name>.
FUZZ_EXTRA_config := $(SHIM_OBJS)
FUZZ_EXTRA_spec := $(AGENT_OBJS)
FUZZ_EXTRA_machines := $(AGENT_OBJS) $(SHIM_OBJS)
# The shim without QEMU: tests/fuzz/fake_vm.c stands in for core/vm.c,
# tests/fuzz/fz_world.c sets the scene (shim: messages, ttrpc: raw bytes).
FUZZ_EXTRA_shim := $(filter-out $(B)/core/vm.o,$(SHIM_OBJS)) \
    $(B)/tests/fuzz/fake_vm.o $(B)/tests/fuzz/fz_world.o \
    $(B)/tests/fuzz/fz_msg.o
FUZZ_EXTRA_ttrpc := $(FUZZ_EXTRA_shim)
# The agent in process: its real objects, the tape helpers.
FUZZ_EXTRA_agent := $(AGENT_OBJS) $(B)/tests/fuzz/fz_msg.o
$(foreach n,$(FUZZ_NAMES),$(eval $(B)/tests/fuzz_replay_$(n) \
    $(B)/tests/fuzz_$(n): $(FUZZ_EXTRA_$(n))))

# Calls a harness intercepts at link time (--wrap): what it counts, and
# what must never touch the fuzzing host (mounts; files outside the
# scratch and run directories, tests/fuzz/fz_world.c).
FUZZ_WRAP_shim := core_events_publish mount umount2 open mkdir unlink \
    rmdir rename
FUZZ_WRAP_ttrpc := $(FUZZ_WRAP_shim)
# The agent (tests/fuzz/fuzz_agent.c): crun and every child are fake,
# signals reach only fake pids, netlink answers from a table, the host's
# clock, mounts and power stay untouched, timers are virtual.
FUZZ_WRAP_agent := agent_spawn fork vfork waitpid kill execv execve execvp \
    clone posix_spawn posix_spawnp reboot sync settimeofday sethostname \
    clock_settime sched_setaffinity nanosleep mount umount2 socket \
    cni_nl_open cni_nl_close cni_nl_links cni_nl_link_set cni_nl_addr_add \
    cni_nl_route_add reactor_timer_new reactor_timer_start \
    reactor_timer_stop reactor_timer_pending reactor_timer_free \
    time_mono_ns agent_push_exit_event
$(foreach n,$(FUZZ_NAMES),$(eval $(B)/tests/fuzz_replay_$(n) \
    $(B)/tests/fuzz_$(n): LDFLAGS += $(FUZZ_WRAP_$(n):%=-Wl,--wrap=%)))
# The agent's objects bring libbpf (guest/module.mk).
$(foreach n,spec machines agent,$(eval $(B)/tests/fuzz_replay_$(n) \
    $(B)/tests/fuzz_$(n): LIBS += $(AGENT_LIBS)))

TEST_BINS += $(FUZZ_NAMES:%=$(B)/tests/fuzz_replay_%)

$(B)/tests/fuzz/replay_%.o: tests/fuzz/replay.c | $(PROTO_HDRS)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -DFUZZ_NAME='"$*"' -c $< -o $@

$(B)/tests/fuzz_replay_%: $(B)/tests/fuzz/fuzz_%.o $(B)/tests/fuzz/replay_%.o \
    $(LIBKILN)
	$(Q)$(LINK)

FUZZ_BINS := $(FUZZ_NAMES:%=build/fuzz/tests/fuzz_%)
build/fuzz/tests/fuzz_%: build/fuzz/tests/fuzz/fuzz_%.o build/fuzz/libkiln.a \
    build/fuzz/src/protobuf-c.o build/fuzz/src/jansson.a
	$(Q)$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ \
	    $(filter-out build/fuzz/src/%,$(filter %.o,$^)) \
	    -Wl,--whole-archive build/fuzz/libkiln.a -Wl,--no-whole-archive \
	    $(LIBS)

# protobuf-c's runtime from Debian's source package (fetched once into
# build/src, never committed), built with the fuzz flags.
build/src/protobuf-c/.stamp: tests/fuzz/fetch-src.sh
	$(Q)tests/fuzz/fetch-src.sh protobuf-c
build/src/protobuf-c/protobuf-c/protobuf-c.c: build/src/protobuf-c/.stamp
build/fuzz/src/protobuf-c.o: build/src/protobuf-c/protobuf-c/protobuf-c.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(OPT) -Ibuild/src/protobuf-c -w -c $< -o $@

# jansson's runtime likewise, configured by
# tests/fuzz/jansson_private_config.h (what its configure would write).
JANSSON_SRCS := dump error hashtable hashtable_seed load memory \
	pack_unpack strbuffer strconv utf value version
build/src/jansson/.stamp: tests/fuzz/fetch-src.sh
	$(Q)tests/fuzz/fetch-src.sh jansson
build/fuzz/src/jansson-%.o: build/src/jansson/.stamp
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(OPT) -DHAVE_CONFIG_H -Itests/fuzz -Ibuild/src/jansson/android \
	    -Ibuild/src/jansson/src -w -c build/src/jansson/src/$*.c -o $@
build/fuzz/src/jansson.a: $(JANSSON_SRCS:%=build/fuzz/src/jansson-%.o)
	$(Q)rm -f $@ && ar rcs $@ $^

fuzz:
	$(Q)$(MAKE) --no-print-directory FLAVOUR=fuzz CC=clang fuzz-bins

fuzz-bins: $(FUZZ_BINS)

# Limits past 4 KiB (1024 calls in flight, a 64 KiB stream chunk, the
# window) need longer inputs than libFuzzer's default.
FUZZ_MAX_LEN ?= 131072
# CI: FUZZ_TOTAL seconds in all, shared between the harnesses (at most
# FUZZ_SECONDS each); fuzz-long: FUZZ_SECONDS each (an hour by default).
FUZZ_TOTAL ?= 540
FUZZ_EACH = $(shell n=$(words $(FUZZ_NAMES)); t=$$(( $(FUZZ_TOTAL) / n )); \
    [ $$t -lt $(FUZZ_SECONDS) ] && echo $$t || echo $(FUZZ_SECONDS))

# Each fuzzer works on a scratch copy of its corpus; crashes fail the run.
# Its TMPDIR is removed after it (libFuzzer's timed exit skips atexit).
define FUZZ_RUN
	$(Q)for n in $(FUZZ_NAMES); do \
		work=build/fuzz/corpus/$$n; mkdir -p $$work; \
		cp tests/fuzz/corpus/$$n/* $$work/; \
		echo "fuzz_$$n: $(1) s"; \
		tmp=$$(mktemp -d /tmp/kiln-fuzz-XXXXXX); \
		TMPDIR=$$tmp build/fuzz/tests/fuzz_$$n -max_total_time=$(1) \
		    -max_len=$(FUZZ_MAX_LEN) \
		    -print_final_stats=1 -artifact_prefix=build/fuzz/ $$work \
		    2>build/fuzz/fuzz_$$n.log || { tail -50 build/fuzz/fuzz_$$n.log; \
		    rm -rf "$$tmp"; exit 1; }; \
		rm -rf "$$tmp"; \
		grep -E 'stat::number_of_executed_units|cov:' \
		    build/fuzz/fuzz_$$n.log | tail -2; \
	done
endef

fuzz-ci: fuzz
	$(call FUZZ_RUN,$(FUZZ_EACH))

fuzz-long: FUZZ_SECONDS = 3600
fuzz-long: fuzz
	$(call FUZZ_RUN,$(FUZZ_SECONDS))

.PHONY: fuzz fuzz-bins fuzz-ci fuzz-long

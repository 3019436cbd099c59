# qmp: the asynchronous QMP client (connection machine in qmp_fsm.c), its
# TAP test and its fuzz harness (tests/fuzz/fuzz_qmp.c).
LIB_SRCS += qmp/qmp.c qmp/qmp_fsm.c

TEST_BINS += $(B)/tests/t_qmp
$(B)/tests/t_qmp: $(B)/tests/t_qmp.o $(LIBKILN)
	$(Q)$(LINK)

FUZZ_NAMES += qmp

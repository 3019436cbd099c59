# fsm: the table-driven state machine engine, checker and dot output.
LIB_SRCS += fsm/fsm.c fsm/fsm_check.c

# kiln-fsm: list / dot / check over every table linked into it.
BINS += $(B)/kiln-fsm
$(B)/kiln-fsm: $(B)/fsm/kiln_fsm.o $(B)/tests/fsm_door.o $(LIBKILN)
	$(Q)$(LINK)

# fsm: the table-driven state machine engine, checker and dot output.
LIB_SRCS += fsm/fsm.c fsm/fsm_check.c fsm/fsm_explore.c

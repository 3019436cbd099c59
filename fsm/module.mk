# fsm: the table-driven state machine engine, checker and dot output.
LIB_SRCS += fsm/fsm.c fsm/fsm_check.c fsm/fsm_explore.c fsm/fsm_promela.c \
	fsm/fsm_trail.c fsm/fsm_tla.c

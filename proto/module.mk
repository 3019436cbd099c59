# proto: protobuf-c schemas (generated into build/gen, never committed) and
# the ttrpc wire layer.
PROTO_FILES := $(shell find proto -name '*.proto' | sort)
PROTO_SRCS := $(PROTO_FILES:proto/%.proto=$(GEN)/%.pb-c.c)
PROTO_HDRS := $(PROTO_FILES:proto/%.proto=$(GEN)/%.pb-c.h)
PROTO_OBJS := $(PROTO_FILES:proto/%.proto=$(B)/gen/%.pb-c.o)

LIB_SRCS += proto/proto_frame.c proto/proto_conn.c proto/proto_conn_fsm.c \
	proto/proto_stream.c \
	proto/proto_server.c

# One protoc-c run makes every file; a stamp stands for all of them.
$(GEN)/.stamp: $(PROTO_FILES)
	@mkdir -p $(GEN)
	@$(if $(Q),echo "  PROTOC  $(words $^) files")
	$(Q)protoc-c -Iproto --c_out=$(GEN) $^
	$(Q)touch $@
$(PROTO_SRCS) $(PROTO_HDRS): $(GEN)/.stamp

# Generated code gets the strict flags minus what protoc-c cannot meet.
$(B)/gen/%.pb-c.o: $(GEN)/%.pb-c.c | $(PROTO_HDRS)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes \
	    -Wno-missing-declarations -Wno-cast-qual -c $< -o $@

# vsock: the host end of the agent channel (virtio-serial or AF_VSOCK).
LIB_SRCS += vsock/vsock.c vsock/vsock_fsm.c

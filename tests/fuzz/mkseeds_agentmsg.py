#!/usr/bin/env python3
# Writes the seed corpus for fuzz_agentmsg (run once by hand; the output is
# committed): python3 tests/fuzz/mkseeds_agentmsg.py tests/fuzz/corpus/agentmsg
# The first byte picks the message (see tests/fuzz/fuzz_agentmsg.c): the
# request of kiln.agent.v1.Agent's methods in declaration order, then
# containerd.task.v2.Task's, then StreamFrame. The method lists are read
# from the .proto files so that the selector stays right.
import json, os, re, sys

from fz_pb import ld, varint, vi

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")

def rpcs(path):
    text = open(os.path.join(ROOT, path)).read()
    return re.findall(r"^\s*rpc\s+(\w+)\s*\(", text, re.M)

AGENT = rpcs("proto/kiln/agent.proto")
TASK = rpcs("proto/containerd/task.proto")
STREAM = len(AGENT) + len(TASK)

def sel_agent(name):
    return bytes([AGENT.index(name)])

def sel_task(name):
    return bytes([len(AGENT) + TASK.index(name)])

SPEC = json.dumps({"ociVersion": "1.0.2",
                   "process": {"args": ["sh"], "cwd": "/"}}).encode()
PROC = json.dumps({"args": ["ls", "-l"], "cwd": "/"}).encode()
CID = "ctr1"
ref = ld(1, CID) + ld(2, "exec-1")
mount = ld(1, "overlay") + ld(2, "overlay") + ld(3, "") + \
    ld(4, "lowerdir=/a:/b") + ld(4, "upperdir=/u") + ld(4, "workdir=/w")
any_spec = ld(1, "types.containerd.io/opencontainers/runtime-spec/1/Process") \
    + ld(2, PROC)

seeds = {
    "agent-ping": sel_agent("Ping"),
    "agent-create": sel_agent("CreateContainer") + ld(1, CID) +
        ld(2, "rootfs") + ld(3, SPEC) + vi(4, 1) + vi(5, 1) + vi(6, 1) +
        vi(7, 1) + vi(8, 80) + vi(9, 24),
    "agent-start": sel_agent("StartProcess") + ld(1, CID),
    "agent-exec": sel_agent("ExecProcess") + ref + ld(3, PROC) + vi(6, 1),
    "agent-signal": sel_agent("SignalProcess") + ref + vi(3, 9) + vi(4, 1),
    "agent-wait": sel_agent("WaitProcess") + ref,
    "agent-listpids": sel_agent("ListPids") + ld(1, CID),
    "agent-resize": sel_agent("ResizePty") + ref + vi(3, 0xffffffff) +
        vi(4, 1 << 40),
    "agent-nextevent": sel_agent("NextEvent") + ld(15, "unknown field"),
    "agent-shutdown": sel_agent("Shutdown") + vi(1000, 5),
    "task-create": sel_task("Create") + ld(1, CID) +
        ld(2, "/run/containerd/io.containerd.runtime.v2.task/default/ctr1") +
        ld(3, mount) + ld(3, mount) + ld(5, "/run/fifo/in") +
        ld(6, "/run/fifo/out") + ld(7, "/run/fifo/err") +
        ld(10, ld(1, "x/y") + ld(2, b"\x01\x02")),
    "task-start": sel_task("Start") + ld(1, CID),
    "task-exec": sel_task("Exec") + ld(1, CID) + ld(2, "e1") + vi(3, 0) +
        ld(7, any_spec),
    "task-kill": sel_task("Kill") + ld(1, CID) + vi(3, 15) + vi(4, 1),
    "task-update": sel_task("Update") + ld(1, CID) +
        ld(2, ld(1, "t") + ld(2, b"{}")) +
        ld(3, ld(1, "k1") + ld(2, "v1")) + ld(3, ld(1, "k1") + ld(2, "v2")),
    "task-wait": sel_task("Wait") + ld(1, CID) + ld(2, ""),
    "task-shutdown": sel_task("Shutdown") + ld(1, CID) + vi(2, 1),
    "stream-stdout": bytes([STREAM]) + ld(1, CID) + vi(3, 1) +
        ld(4, b"hello\n") + vi(6, 65536),
    "stream-eof": bytes([STREAM]) + ld(1, CID) + ld(2, "exec-1") + vi(3, 2) +
        vi(5, 1),
    "stream-bad-fd": bytes([STREAM]) + ld(1, CID) + vi(3, 3),
    "stream-bad-id": bytes([STREAM]) + ld(1, "../etc") + vi(3, 0),
    "stream-credit": bytes([STREAM]) + ld(1, CID) + vi(6, (1 << 20) + 1),
    "truncated-varint": sel_agent("SignalProcess") + b"\x18\xff\xff",
    "wrong-wiretype": sel_task("Create") + b"\x0d\x00\x00\x00\x00",
    "length-overflow": sel_task("Create") + b"\x0a\xff\xff\xff\xff\x0f",
    # Field 0 in a two-byte tag: protobuf-c takes it, then cannot read
    # its own re-encoding (the harness exempts such messages).
    "tag0-noncanonical": sel_agent("ListPids") +
        b"\x8a\x92\x00\x00\x80\x00\x00",
    "group-wiretype": sel_agent("CreateContainer") + b"\x0b\x0c",
}
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)

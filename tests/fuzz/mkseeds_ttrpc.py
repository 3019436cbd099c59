#!/usr/bin/env python3
# Writes the seed corpus for fuzz_ttrpc (run by hand; the output is
# committed):
#   python3 tests/fuzz/mkseeds_ttrpc.py build/debug/tests/fuzz_replay_ttrpc \
#       tests/fuzz/corpus/ttrpc
# A seed is byte 0 (side, stage, slice: see tests/fuzz/fuzz_ttrpc.c) and
# then raw ttrpc frames (1.1.1: 10-byte big-endian header). Server seeds
# ("srv-*") are containerd's wire: one per method of shim_task_methods[]
# (read from core/task_service.c, so a new method without a seed is an
# error here), frames at and above the size limit, calls in flight up to
# the 1024 limit and past it, garbage. Client seeds ("cli-*") are the
# agent's wire: the greeting, replies to the shim's agent calls, stream
# frames at and above the 64 KiB chunk. The stream ids of the shim's agent
# calls are asked of the harness itself (FZ_TRACE=1 prints them), so they
# stay right when the shim's order of calls changes.
import json, os, random, re, struct, subprocess, sys, tempfile

from fz_pb import ld, varint, vi

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")

src = open(os.path.join(ROOT, "core/task_service.c")).read()
table = src[src.index("shim_task_methods[] = {"):]
METHODS = re.findall(r'\{ "(\w+)", D\(', table[:table.index("};")])

FRAME_MAX = 4 << 20
CHUNK = 64 * 1024
REQUEST, RESPONSE, STREAM, HELLO, IGNORED = 0x01, 0x02, 0x20, 0x21, 0x7f
FRESH, CREATED, STARTED, BUSY = range(4)
ALL = 31                                # slice: the whole wire at once
DIR = b"/tmp/kiln-fz-XXXXXX"            # rewritten to the scratch dir
BUNDLE, OUT = DIR + b"/bundle", DIR + b"/stdout"
TASK = b"containerd.task.v2.Task"
PROCESS_URL = "types.containerd.io/opencontainers/runtime-spec/1/Process"
RES_URL = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources"

def hdr(length, stream, typ):
    return struct.pack(">IIBB", length, stream, typ, 0)

def frame(stream, typ, body):
    return hdr(len(body), stream, typ) + body

def scene(client, stage, slice_log2):
    return bytes([int(client) | stage << 1 | slice_log2 << 3])

def sliced(groups, n):
    """Frames in groups, each group padded with an ignored frame to a
    multiple of 2^n bytes, so each starts a slice of its own."""
    size, out = 1 << n, b""
    for g in groups:
        pad = -len(g) % size
        if 0 < pad < 10:
            pad += size
        out += g + (frame(0, IGNORED, b"\0" * (pad - 10)) if pad else b"")
    return out

# ---- containerd's side ------------------------------------------------------

def request(method, payload=b"", service=TASK):
    return ld(1, service) + ld(2, method) + ld(3, payload) + ld(
        5, ld(1, "containerd-namespace-ttrpc") + ld(2, "default"))

def any_msg(url, value):
    return ld(1, url) + ld(2, value)

ID = ld(1, "fz")
ARGS = {
    "State": ID,
    "Create": ID + ld(2, BUNDLE) + ld(6, OUT),
    "Start": ID,
    "Delete": ID,
    "Pids": ID,
    "Pause": ID,
    "Resume": ID,
    "Checkpoint": ID + ld(2, DIR + b"/checkpoint"),
    "Kill": ID + vi(3, 9),
    "Exec": ID + ld(2, "e1") + ld(5, OUT) + ld(7, any_msg(
        PROCESS_URL, json.dumps({"args": ["ls"], "cwd": "/"}))),
    "ResizePty": ID + vi(3, 80) + vi(4, 24),
    "CloseIO": ID + vi(3, 1),
    "Update": ID + ld(2, any_msg(RES_URL, json.dumps(
        {"memory": {"limit": 256 << 20},
         "cpu": {"quota": 50000, "period": 100000}}))),
    "Wait": ID,
    "Stats": ID,
    "Connect": ID,
    "Shutdown": ID,
}
missing = [m for m in METHODS if m not in ARGS]
if missing:
    sys.exit("mkseeds_ttrpc: no request for %s" % ", ".join(missing))

class Ctrd:
    """containerd's requests on odd stream ids of its own."""

    def __init__(self):
        self.next = 1

    def call(self, method, payload=None, service=TASK):
        if payload is None:
            payload = ARGS[method]
        f = frame(self.next, REQUEST, request(method, payload, service))
        self.next += 2
        return f

def srv(stage, groups, n=10):
    return scene(False, stage, n) + sliced(groups, n)

def method_seeds():
    """One seed per Task method, in the stage where it does something."""
    out = {}
    for m in METHODS:
        c = Ctrd()
        stage, groups = STARTED, None
        if m == "Create":
            stage = FRESH
            groups = [c.call("Create"), c.call("State"), c.call("Connect")]
        elif m == "Start":
            stage = CREATED
        elif m == "Delete":
            groups = [c.call("Kill"), c.call("Wait"), c.call("Delete"),
                      c.call("State")]
        elif m == "Exec":
            e1 = ID + ld(2, "e1")
            groups = [c.call("Exec"), c.call("Start", e1),
                      c.call("State", e1), c.call("Pids"),
                      c.call("Kill", e1 + vi(3, 15)), c.call("Wait", e1),
                      c.call("Delete", e1)]
        elif m == "Pause":
            groups = [c.call("Pause"), c.call("State"), c.call("Resume"),
                      c.call("State")]
        elif m == "Shutdown":
            groups = [c.call("Kill"), c.call("Delete"), c.call("Shutdown")]
        if groups is None:
            groups = [c.call(m), c.call("State")]
        out["srv-" + m] = srv(stage, groups)
    return out

def waits(c, n):
    return b"".join(c.call("Wait") for _ in range(n))

def server_seeds():
    rng = random.Random(17)
    c = Ctrd()
    connect = c.call("Connect")
    seeds = method_seeds()
    seeds.update({
        # The size limit: a header at it (the frame never completes), one
        # past it (RESOURCE_EXHAUSTED, then closed), a large whole frame.
        "srv-frame-at-limit": scene(False, STARTED, ALL) + connect +
            hdr(FRAME_MAX, 3, REQUEST) + bytes(100000),
        "srv-frame-over-limit": scene(False, STARTED, ALL) + connect +
            hdr(FRAME_MAX + 1, 3, REQUEST) + Ctrd().call("State"),
        "srv-big-method": scene(False, FRESH, ALL) +
            Ctrd().call("X" * 120000, b""),
        "srv-big-payload": scene(False, STARTED, 14) +
            Ctrd().call("State", ID + ld(2, "e" * 120000)),
        # Calls in flight: Waits are held until the task exits.
        "srv-inflight-1030": scene(False, STARTED, ALL) +
            waits(Ctrd(), 1030),
        "srv-inflight-sliced": scene(False, STARTED, 12) +
            waits(Ctrd(), 1030),
        "srv-inflight-busy": scene(False, BUSY, ALL) + waits(Ctrd(), 1024),
        "srv-inflight-create": scene(False, FRESH, ALL) +
            c.call("Create") + waits(c, 1025),
        # Bad frames.
        "srv-even-id": scene(False, FRESH, ALL) + frame(
            2, REQUEST, request("Connect", ID)),
        "srv-unknown-service": scene(False, FRESH, ALL) +
            Ctrd().call("Connect", ID, b"containerd.task.v3.Task"),
        "srv-unknown-method": scene(False, STARTED, ALL) +
            Ctrd().call("Nope", ID),
        "srv-bad-envelope": scene(False, FRESH, ALL) +
            frame(1, REQUEST, b"\xff" * 32),
        "srv-bad-payload": scene(False, STARTED, ALL) +
            Ctrd().call("State", b"\x0a\xff\xff\xff"),
        "srv-empty-frame": scene(False, FRESH, ALL) + hdr(0, 1, REQUEST),
        "srv-other-types": scene(False, STARTED, ALL) +
            frame(1, RESPONSE, b"\x12\x00") +
            frame(0, STREAM, ld(1, "fz") + vi(3, 0) + ld(4, "in")) +
            frame(0, HELLO, b"kiln.agent.v1") + frame(3, 0x03, b"data") +
            Ctrd().call("State"),
        "srv-truncated": scene(False, FRESH, ALL) + connect[:30],
        "srv-split-bytes": scene(False, STARTED, 0) + Ctrd().call("State") +
            Ctrd().call("Pids"),
        "srv-garbage": scene(False, STARTED, 6) +
            bytes(rng.randrange(256) for _ in range(2048)),
    })
    return seeds

# ---- the agent's side -------------------------------------------------------

def agent_calls(replay, stage):
    """The shim's agent calls after the prelude: {method: [stream, ...]}."""
    with tempfile.NamedTemporaryFile(suffix=".seed") as f:
        f.write(scene(True, stage, 0))
        f.flush()
        err = subprocess.run([replay, f.name], env=dict(os.environ,
                             FZ_TRACE="1"), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True,
                             cwd=ROOT).stderr
    calls = {}
    for stream, method in re.findall(r"^agent: stream (\d+) (\w+)$", err,
                                     re.M):
        calls.setdefault(method, []).append(int(stream))
    return calls

def response(payload=b"", code=0, msg=""):
    if code:
        return ld(1, vi(1, code) + ld(2, msg))
    return ld(2, payload) if payload else b""

def answer(stream, payload=b"", code=0, msg=""):
    return frame(stream, RESPONSE, response(payload, code, msg))

def stream_frame(data=b"", fd=1, eof=False, credit=0, cid="fz", eid=""):
    body = ld(1, cid) + (ld(2, eid) if eid else b"") + vi(3, fd)
    body += ld(4, data) if data else b""
    body += vi(5, 1) if eof else b""
    body += vi(6, credit) if credit else b""
    return frame(0, STREAM, body)

HELLO_FRAME = frame(0, HELLO, b"kiln.agent.v1")

def cli(stage, groups, n=10):
    return scene(True, stage, n) + sliced(groups, n)

def client_seeds(replay):
    c1, c2, c3 = (agent_calls(replay, s) for s in (CREATED, STARTED, BUSY))
    for calls, want in ((c1, ("WaitProcess", "NextEvent")),
                        (c3, ("GetMetrics", "ListPids", "ResizePty",
                              "SignalProcess", "ExecProcess"))):
        if any(m not in calls for m in want):
            sys.exit("mkseeds_ttrpc: the shim's agent calls were %s" % calls)
    wait, nev = c1["WaitProcess"][0], c1["NextEvent"][0]
    nxt2 = max(max(v) for v in c2.values()) + 2
    nxt3 = max(max(v) for v in c3.values()) + 2
    oom = ld(2, ld(1, "fz"))
    exited = ld(1, ld(1, "fz") + vi(3, 0))
    metrics = vi(3, 24) + ld(1, ld(1, "fz") + b"".join(
        vi(11, 1) for _ in range(24)) + b"".join(
        vi(26, 0) for _ in range(24)))
    g = lambda m: c3[m][0]
    return {
        "cli-hello": scene(True, FRESH, ALL) + HELLO_FRAME,
        "cli-hello-bytewise": scene(True, FRESH, 0) + HELLO_FRAME +
            stream_frame(b"after the greeting"),
        "cli-hello-wrong": scene(True, FRESH, ALL) +
            frame(0, HELLO, b"kiln.agent.v0"),
        "cli-hello-type": scene(True, FRESH, ALL) +
            frame(0, RESPONSE, b"kiln.agent.v1"),
        "cli-hello-long": scene(True, FRESH, ALL) +
            frame(0, HELLO, b"kiln.agent.v1+"),
        "cli-hello-answers": cli(FRESH, [HELLO_FRAME,
                                         answer(c1["CreateContainer"][0]),
                                         answer(wait, vi(1, 0))]),
        "cli-created-exit": cli(CREATED, [answer(wait, vi(1, 0))]),
        "cli-created-oom": cli(CREATED, [answer(nev, oom)]),
        "cli-exit": cli(STARTED, [answer(wait, vi(1, 3)),
                                  stream_frame(eof=True),
                                  stream_frame(fd=2, eof=True)]),
        "cli-exit-range": cli(STARTED, [answer(wait, vi(1, 300) +
                                               vi(2, 1) + vi(3, 9))]),
        "cli-events": cli(STARTED, [answer(nev, oom), answer(nxt2, exited),
                                    answer(nxt2 + 2, ld(2, ld(1, "x"))),
                                    answer(nxt2 + 4, code=14,
                                           msg="gone")]),
        "cli-stdout": cli(STARTED, [stream_frame(b"hello\n"),
                                    stream_frame(b"err\n", fd=2),
                                    stream_frame(credit=4096, fd=0),
                                    stream_frame(eof=True)]),
        "cli-stream-at-limit": scene(True, STARTED, ALL) +
            stream_frame(bytes(CHUNK)),
        "cli-stream-over-limit": scene(True, STARTED, ALL) +
            stream_frame(bytes(CHUNK + 1)),
        "cli-stream-bad": cli(STARTED, [stream_frame(b"x", fd=3),
                                        stream_frame(b"x", cid="no/pe"),
                                        stream_frame(b"x", eid="e9"),
                                        stream_frame(credit=(1 << 20) + 1,
                                                     fd=0),
                                        frame(0, STREAM, b"\xff\xff")]),
        "cli-stream-many": scene(True, STARTED, 12) + b"".join(
            stream_frame(b"line %d\n" % i) for i in range(1500)),
        "cli-busy-answers": cli(BUSY, [
            answer(g("GetMetrics"), metrics) +
            answer(g("ListPids"), ld(1, b"".join(
                varint(p) for p in range(300)))) +
            answer(g("ResizePty")) + answer(g("SignalProcess")) +
            answer(g("ExecProcess")),
            # The calls those answers made: Stats, then the exec's Wait.
            answer(nxt3, ld(1, ld(1, vi(1, 3) + vi(2, 10)))) +
            answer(nxt3 + 2, vi(1, 1)) +
            answer(wait, vi(1, 0))]),
        "cli-busy-errors": cli(BUSY, [b"".join(
            answer(s[0], code=13, msg="agent error")
            for m, s in sorted(c3.items()) if m != "NextEvent")]),
        "cli-busy-bad-payloads": cli(BUSY, [b"".join(
            answer(s[0], b"\xff\xff\xff") for m, s in sorted(c3.items()))]),
        "cli-unknown-stream": cli(STARTED, [answer(999), answer(0),
                                            answer(2)]),
        "cli-request-frame": cli(STARTED, [frame(1, REQUEST, request(
            "Ping", b"", b"kiln.agent.v1.Agent"))]),
        "cli-frame-over-limit": scene(True, STARTED, ALL) +
            hdr(FRAME_MAX + 1, wait, RESPONSE) + answer(wait, vi(1, 0)),
        # The agent's connection closes with an exec's call pending: the
        # exec's deferred free ran before the VM heard, on a freed
        # connection (vsock_notify_closed_cb now frees it after).
        "cli-busy-frame-over-limit": scene(True, BUSY, ALL) +
            hdr(FRAME_MAX + 1, 1, RESPONSE),
        "cli-truncated": scene(True, STARTED, ALL) +
            answer(wait, vi(1, 0))[:12],
    }

def main():
    replay, out = sys.argv[1], sys.argv[2]
    seeds = server_seeds()
    seeds.update(client_seeds(os.path.abspath(replay)))
    os.makedirs(out, exist_ok=True)
    for name in os.listdir(out):
        os.unlink(os.path.join(out, name))
    for name, data in sorted(seeds.items()):
        assert len(data) <= 131072, name
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)

main()

#!/usr/bin/env python3
# Writes the seed corpus for fuzz_agent (run once by hand; the output is
# committed): python3 tests/fuzz/mkseeds_agent.py tests/fuzz/corpus/agent
# Each seed is a tape (tests/fuzz/fuzz_agent.c): byte 0 holds the failure
# switches, then ops. Requests use the raw-payload form (mode 0xe0, a
# 16-bit length, the encoded request), so the seeds name real containers
# and specs; the fuzzer's own mutations reach the message builder. Method
# numbers are read from agent_methods[] in guest/agent_service.c, so they
# stay right when the registry changes. The fake children (crun runs and
# container processes) are tracked here as the harness tracks them, so an
# exit op names the child it means.
import json, os, re, sys

from fz_pb import ld, varint, vi

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")

src = open(os.path.join(ROOT, "guest/agent_service.c")).read()
table = src[src.index("agent_methods[] = {"):]
METHODS = re.findall(r'\{ "(\w+)",', table[:table.index("};")])

OP_REQ, OP_EXIT, OP_IO, OP_STDIO, OP_TIME, OP_CGROUP, OP_LINK, OP_RAW, \
    OP_RECONNECT, OP_PUMP = 0, 6, 8, 9, 10, 11, 12, 13, 14, 15
MOUNT_FAIL, NL_FAIL, FORK_FAIL = 1, 2, 4

SPEC = json.dumps({"ociVersion": "1.0.2",
                   "process": {"args": ["sh"], "cwd": "/"},
                   "linux": {"namespaces": [{"type": "pid"},
                                            {"type": "network"}]}})
PROC = json.dumps({"args": ["ls", "-l"], "cwd": "/"})
MAC = bytes([2, 0, 0, 0, 0, 1])

def ref(cid, eid=""):
    return ld(1, cid) + (ld(2, eid) if eid else b"")

class Tape:
    """A tape and the harness's list of fake children, in creation order."""

    def __init__(self, flags=0):
        self.b = bytes([flags])
        self.kids = []                  # [name, ctr, alive]

    def req(self, method, payload=b"", mode=0xe0):
        self.b += bytes([OP_REQ, METHODS.index(method), mode,
                         len(payload) >> 8, len(payload) & 0xff]) + payload
        return self

    def spawn(self, name, ctr=None):
        """The request just sent runs crun (and crun makes a process)."""
        self.kids.append([name, False, True])
        if ctr is not None:
            self.kids.append([ctr, True, True])
        return self

    def _live(self, ctr_only=False):
        return [k for k in self.kids if k[2] and (k[1] or not ctr_only)]

    def exit(self, name, status=0):
        live = self._live()
        k = next(k for k in live if k[0] == name)
        self.b += bytes([OP_EXIT, live.index(k), status])
        k[2] = False
        return self

    def io(self, name, mode, data=b""):
        live = self._live(True)
        k = next(k for k in live if k[0] == name)
        self.b += bytes([OP_IO, live.index(k), mode])
        if mode >> 6 == 0:
            self.b += bytes([len(data)]) + data
        return self

    def stdio(self, frame):
        self.b += bytes([OP_STDIO, 0xf0, len(frame)]) + frame
        return self

    def time(self, k=0):
        self.b += bytes([OP_TIME, k])
        return self

    def cgroup(self, c2, file, canned=0, text=None):
        """canned < 0x80 picks a canned text; else text, at most 127."""
        if text is not None:
            canned = 0x80 | len(text)
        self.b += bytes([OP_CGROUP, 1 if c2 else 0, file, canned])
        self.b += text or b""
        return self

    def link(self, b=0):
        self.b += bytes([OP_LINK, b])
        return self

    def raw(self, data):
        self.b += bytes([OP_RAW, len(data)]) + data
        return self

    def reconnect(self):
        self.b += bytes([OP_RECONNECT])
        return self

    def pump(self):
        self.b += bytes([OP_PUMP])
        return self

def create(t, cid="c1", terminal=False, stdin=False, rtype="", tag="rootfs"):
    p = ld(1, cid) + ld(2, tag) + ld(3, SPEC)
    if terminal:
        p += vi(4, 1) + vi(8, 80) + vi(9, 24)
    if stdin:
        p += vi(5, 1)
    p += vi(6, 1) + vi(7, 1)
    if rtype:
        p += ld(10, rtype)
    return t.req("CreateContainer", p).spawn("create:" + cid, "init:" + cid)

def running(t, cid="c1", **kw):
    create(t, cid, **kw).exit("create:" + cid)
    return t.req("StartProcess", ref(cid)).spawn("start:" + cid) \
        .exit("start:" + cid)

def frame(cid, eid, fd, data=b"", eof=False, credit=0):
    f = ld(1, cid) + (ld(2, eid) if eid else b"") + vi(3, fd)
    if data:
        f += ld(4, data)
    if eof:
        f += vi(5, 1)
    if credit:
        f += vi(6, credit)
    return f

seeds = {}

# Every method on its own, on a running container where it needs one.
for m in METHODS:
    t = running(Tape())
    payload = {
        "Ping": b"", "CreateContainer": ld(1, "c2") + ld(2, "rootfs") +
            ld(3, SPEC),
        "StartProcess": ref("c1"), "ExecProcess": ref("c1", "e1") +
            ld(3, PROC),
        "SignalProcess": ref("c1") + vi(3, 15),
        "WaitProcess": ref("c1"), "ProcessState": ref("c1"),
        "ListPids": ref("c1"), "PauseContainer": ref("c1"),
        "ResumeContainer": ref("c1"), "CloseStdin": ref("c1"),
        "ResizePty": ref("c1") + vi(3, 80) + vi(4, 24),
        "Stats": ref("c1"), "GetMetrics": b"", "RemoveContainer": ref("c1"),
        "NextEvent": b"",
        "ConfigureNetwork": ld(1, "c1") + ld(2, ld(1, "eth0") + ld(2, MAC) +
            vi(3, 1500) + ld(4, ld(1, bytes([10, 0, 0, 2])) + vi(2, 24))) +
            ld(3, ld(3, bytes([10, 0, 0, 1]))) +
            ld(4, ld(1, "10.0.0.1") + ld(2, "example.org") + ld(3, "ndots:1"))
            + ld(5, "box"),
        "UpdateResources": ld(1, "c1") + vi(2, 64 << 20) + vi(3, 50000),
        "SetClock": vi(1, 1700000000 * 10**9),
        "Shutdown": b"", "TestHang": b"",
    }[m]
    t.req(m, payload)
    seeds["method-" + m] = t.b

# The whole life: create, start, exec, its output, wait, remove.
t = running(Tape(), stdin=True)
t.req("ExecProcess", ref("c1", "e1") + ld(3, PROC) + vi(5, 1))
t.req("StartProcess", ref("c1", "e1")).spawn("exec:e1", "proc:e1")
t.exit("exec:e1")
t.io("proc:e1", 0x00, b"hello\n").io("proc:e1", 0x01, b"oops\n")
t.stdio(frame("c1", "e1", 0, b"input\n", eof=True))
t.io("proc:e1", 0x80)
t.req("WaitProcess", ref("c1", "e1")).exit("proc:e1", 3)
t.req("NextEvent").req("WaitProcess", ref("c1"))
t.req("SignalProcess", ref("c1") + vi(3, 9))
t.req("NextEvent").req("RemoveContainer", ref("c1")).spawn("delete:c1")
t.exit("delete:c1").req("ProcessState", ref("c1"))
seeds["life-create-start-exec-wait-remove"] = t.b

# Regression: a finished exec left exec-e1.json and .pid behind, and a
# removed container its directory (guest tmpfs grew with every exec).
t = running(Tape())
t.req("ExecProcess", ref("c1", "e1") + ld(3, PROC))
t.req("StartProcess", ref("c1", "e1")).spawn("exec:e1", "proc:e1")
t.exit("exec:e1").exit("proc:e1", 0).pump()
seeds["regress-exec-files"] = t.b

# Output past the window: the agent waits for credit, then drains.
t = running(Tape())
for _ in range(20):
    t.io("init:c1", 0x40)
t.stdio(frame("c1", "", 1, credit=1 << 20)).pump()
t.exit("init:c1", 0).time(0).req("WaitProcess", ref("c1"))
seeds["stdout-credit"] = t.b

# Pause: frozen reported; resume. And a pause that never freezes.
t = running(Tape())
t.req("PauseContainer", ref("c1")).cgroup(False, 0, 0)
t.time(0).time(1).time(2)
t.req("ResumeContainer", ref("c1")).req("Stats", ref("c1"))
seeds["pause-resume"] = t.b
t = running(Tape())
t.req("PauseContainer", ref("c1")).time(0).time(1).time(0)
t.req("ResumeContainer", ref("c1"))
seeds["pause-timeout"] = t.b

# Stats and metrics over changed cgroup files; an OOM kill.
t = running(Tape())
for f in range(9):
    t.cgroup(False, f, text=b"x 1\n12:34 rbytes=5 wios=6\n")
t.cgroup(False, 1, 1).req("NextEvent").req("Stats", ref("c1"))
t.req("GetMetrics", ref("c1")).req("GetMetrics").req("ListPids", ref("c1"))
seeds["stats-metrics-oom"] = t.b

# A terminal; an EROFS rootfs; creation that fails in crun or in mount.
t = running(Tape(), terminal=True, stdin=True)
t.req("ResizePty", ref("c1") + vi(3, 100) + vi(4, 30))
t.io("init:c1", 0x00, b"$ ").stdio(frame("c1", "", 0, b"ls\n"))
seeds["terminal"] = t.b
t = running(Tape(), rtype="erofs", tag="ser1")
seeds["erofs"] = t.b
t = create(Tape()).exit("create:c1", 0xe0)
t.req("StartProcess", ref("c1")).req("RemoveContainer", ref("c1"))
seeds["crun-create-fails"] = t.b
seeds["mount-fails"] = Tape(MOUNT_FAIL).req("CreateContainer", ld(1, "c1") +
    ld(2, "rootfs") + ld(3, SPEC)).b
seeds["fork-fails"] = Tape(FORK_FAIL).req("CreateContainer", ld(1, "c1") +
    ld(2, "rootfs") + ld(3, SPEC)).req("UpdateResources", vi(5, 1)).b

# A NIC whose link shows up; one that never does; netlink refusing.
nic = ld(1, "c1") + ld(2, ld(1, "eth0") + ld(2, MAC) +
    ld(4, ld(1, bytes([10, 0, 0, 2])) + vi(2, 24))) + ld(5, "box")
t = running(Tape()).link(0).req("ConfigureNetwork", nic).time(0)
seeds["nic-up"] = t.b
t = running(Tape()).req("ConfigureNetwork", nic).time(0).time(0)
seeds["nic-never"] = t.b
t = running(Tape(NL_FAIL)).link(0).req("ConfigureNetwork", nic).time(0)
seeds["nic-netlink-fails"] = t.b

# Regression (UBSan): a default route has no destination bytes, and
# nic_copy passed their NULL data to memcpy.
t = running(Tape()).link(0).req("ConfigureNetwork", nic +
    ld(3, ld(3, bytes([10, 0, 0, 1])))).time(0)
seeds["regress-nic-default-route"] = t.b

# Resources: limits, and CPUs onlined by a child.
t = running(Tape()).req("UpdateResources", ld(1, "c1") + vi(2, 1 << 30) +
    vi(5, 1) + vi(6, 2)).spawn("online")
t.exit("online")
seeds["resources-online"] = t.b

# The channel: raw bytes, a reconnect with calls waiting, a stalled frame.
t = running(Tape()).req("WaitProcess", ref("c1")).reconnect()
t.exit("init:c1", 0).req("WaitProcess", ref("c1")).req("NextEvent")
seeds["reconnect"] = t.b
t = Tape().raw(b"\x00\x00\x00\x05\x00\x00\x00\x01\x01\x00\x0a\x03abc")
t.time(0).req("Ping")
seeds["raw-wire"] = t.b

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)

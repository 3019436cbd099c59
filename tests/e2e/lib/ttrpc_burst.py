#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""tests/e2e/lib/ttrpc_burst.py -- a shim's task socket under bursts (issue 16).

Usage: ttrpc_burst.py SOCKET ID SHIM_PID

Speaks ttrpc by hand (frame: 4-byte length, 4-byte stream id, type,
flags; containerd-shim-v2.md) so the test needs nothing but Python:

  1. 500 connect/close pairs in a tight loop, then a State call;
  2. 50 peers that send half a frame and stall, while one normal client
     makes 20 State calls;
  3. the shim's VmRSS before and after.

Prints one "key value" line per figure; exits 0 if every connect and
every call succeeded, 1 otherwise (what failed is printed first).
"""
import socket
import struct
import sys
import time

TYPE_REQUEST, TYPE_RESPONSE = 1, 2


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(num, data):
    """A length-delimited protobuf field (wire type 2)."""
    return varint(num << 3 | 2) + varint(len(data)) + data


def fields(buf):
    """(number, value) of each field of a message (varints and bytes)."""
    i, out = 0, []
    while i < len(buf):
        key, i = read_varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            val, i = read_varint(buf, i)
        elif wire == 2:
            n, i = read_varint(buf, i)
            val, i = buf[i:i + n], i + n
        else:
            raise ValueError("wire type %d" % wire)
        out.append((num, val))
    return out


def read_varint(buf, i):
    n = shift = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def state_request(cid):
    req = field(1, b"containerd.task.v2.Task") + field(2, b"State") + \
        field(3, field(1, cid.encode()))
    return req


def frame(stream, ftype, payload):
    return struct.pack(">IIBB", len(payload), stream, ftype, 0) + payload


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise EOFError("connection closed after %d of %d bytes" %
                           (len(data), n))
        data += chunk
    return data


def state_call(s, stream, cid):
    """One State call; returns the status text ("" when OK)."""
    s.sendall(frame(stream, TYPE_REQUEST, state_request(cid)))
    length, sid, ftype, _ = struct.unpack(">IIBB", recv_exact(s, 10))
    body = recv_exact(s, length)
    if sid != stream or ftype != TYPE_RESPONSE:
        return "unexpected frame: stream %d type %d" % (sid, ftype)
    status = [v for n, v in fields(body) if n == 1]
    if status:
        st = dict(fields(status[0]))
        if st.get(1, 0) != 0:
            return "status %d: %s" % (st[1], st.get(2, b"").decode())
    payload = [v for n, v in fields(body) if n == 2]
    if not payload or cid.encode() not in payload[0]:
        return "no StateResponse naming %s" % cid
    return ""


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(path)
    return s


def rss_kb(pid):
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def main():
    path, cid, shim = sys.argv[1], sys.argv[2], sys.argv[3]
    failures = []
    print("rss_before_kb", rss_kb(shim))

    refused = 0
    for _ in range(500):
        try:
            connect(path).close()
        except OSError as e:
            refused += 1
            last = e
    print("burst_connect_failures", refused)
    if refused:
        failures.append("connect failed %d times (%s)" % (refused, last))
    with connect(path) as s:
        why = state_call(s, 1, cid)
    print("state_after_burst", why or "ok")
    if why:
        failures.append("State after the burst: " + why)

    stallers = []
    for _ in range(50):
        s = connect(path)
        # A header for 4096 bytes, then 100 of them, then nothing.
        s.sendall(struct.pack(">IIBB", 4096, 1, TYPE_REQUEST, 0) +
                  b"\x0a" * 100)
        stallers.append(s)
    worst = 0.0
    with connect(path) as s:
        for i in range(20):
            t0 = time.monotonic()
            why = state_call(s, 2 * i + 1, cid)
            worst = max(worst, time.monotonic() - t0)
            if why:
                failures.append("State %d beside 50 stallers: %s" % (i, why))
                break
    print("state_beside_stallers_worst_ms", int(worst * 1000))
    print("rss_with_stallers_kb", rss_kb(shim))
    for s in stallers:
        s.close()
    print("rss_after_kb", rss_kb(shim))
    for f in failures:
        print("FAIL", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

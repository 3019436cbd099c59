#!/usr/bin/env python3
# Writes the seed corpora for the fuzz harnesses (run once by hand; the
# output is committed). Frames follow ttrpc 1.1.1: 10-byte big-endian header.
import os, struct, sys

def varint(n):
    out = b""
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])

def field(num, data):
    return varint(num << 3 | 2) + varint(len(data)) + data

def frame(stream, typ, body):
    return struct.pack(">IIBB", len(body), stream, typ, 0) + body

def request(service, method, payload=b"", ns=b"default"):
    kv = field(1, b"containerd-namespace-ttrpc") + field(2, ns)
    return (field(1, service) + field(2, method) + field(3, payload) +
            field(5, kv))

def response(code, payload=b""):
    st = (varint(1 << 3) + varint(code)) if code else b""
    return field(1, st) + (field(2, payload) if payload else b"")

task = b"containerd.task.v2.Task"
connect = request(task, b"Connect", field(1, b"demo"))
wait = request(task, b"Wait", field(1, b"demo"))
seeds = {
    "srv-connect": b"\x00" + frame(1, 1, connect),
    "srv-two-calls": b"\x00" + frame(1, 1, connect) + frame(3, 1, wait),
    "srv-even-id": b"\x00" + frame(2, 1, connect),
    "srv-unknown-method": b"\x00" + frame(5, 1, request(task, b"Nope")),
    "srv-shutdown": b"\x00" + frame(7, 1, request(task, b"Shutdown")),
    "srv-oversized": b"\x00" + struct.pack(">IIBB", 5 << 20, 1, 1, 0),
    "srv-truncated": b"\x00" + frame(1, 1, connect)[:30],
    "srv-stream": b"\x00" + frame(0, 0x20, field(1, b"c1") + field(4, b"hi")),
    "cli-ok": b"\x01" + frame(1, 2, response(0, varint(8) + varint(1234))),
    "cli-error": b"\x01" + frame(3, 2, field(1, varint(8) + varint(5) +
                                          field(2, b"not found"))),
    "cli-unknown-id": b"\x01" + frame(99, 2, response(0)),
    "cli-bad-payload": b"\x01" + frame(1, 2, field(2, b"\xff\xff\xff")),
}
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)

#!/usr/bin/env python3
# Writes the seed corpus for fuzz_qmp (run once by hand; the output is
# committed): python3 tests/fuzz/mkseeds_qmp.py tests/fuzz/corpus/qmp
# The first byte is the harness's mode (see tests/fuzz/fuzz_qmp.c); the rest
# is what QEMU 7.2 sends, lines ending "\r\n" as it does.
import os, sys

GREET = (b'{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7},'
         b' "package": "Debian 1:7.2+dfsg-7+deb12u18+b3"},'
         b' "capabilities": ["oob"]}}\r\n')
CAPS = b'{"return": {}, "id": 0}\r\n'
STATUS = (b'{"return": {"status": "running", "singlestep": false,'
          b' "running": true}, "id": 1}\r\n')
ERROR = (b'{"id": 2, "error": {"class": "DeviceNotFound",'
         b' "desc": "Device \'d1\' not found"}}\r\n')
TS = b'"timestamp": {"seconds": 1795387545, "microseconds": 388807}'
def event(name, data=None):
    d = b', "data": ' + data if data is not None else b''
    return b'{' + TS + b', "event": "' + name + b'"' + d + b'}\r\n'

WHOLE, PIECES3, HANDSHAKE, FREE, LONG = 0x00, 0x03, 0x10, 0x20, 0xc0
seeds = {
    "greeting": bytes([WHOLE]) + GREET,
    "handshake": bytes([WHOLE]) + GREET + CAPS,
    "return": bytes([WHOLE]) + GREET + CAPS + STATUS,
    "error": bytes([WHOLE]) + GREET + CAPS + ERROR,
    "both-out-of-order": bytes([HANDSHAKE]) + ERROR + STATUS,
    "events": bytes([HANDSHAKE]) +
        event(b"SHUTDOWN", b'{"guest": false, "reason": "host-qmp-quit"}') +
        event(b"STOP") + event(b"RESUME") +
        event(b"DEVICE_DELETED", b'{"device": "d1", "path": "/m/d1"}') +
        event(b"VSERPORT_CHANGE", b'{"id": "ch0", "open": true}') +
        event(b"ACPI_DEVICE_OST", b'{"info": {"device": "cpu1",'
              b' "source": 1, "status": 0, "slot": "1",'
              b' "slot-type": "CPU"}}') +
        event(b"GUEST_PANICKED", b'{"action": "pause"}'),
    "free-in-event": bytes([HANDSHAKE | FREE]) + event(b"FREE") + STATUS,
    "pieces": bytes([PIECES3]) + GREET + CAPS + STATUS + ERROR,
    "caps-refused": bytes([WHOLE]) + GREET +
        b'{"id": 0, "error": {"class": "GenericError", "desc": "no"}}\r\n',
    "early-caps": bytes([WHOLE]) + CAPS,
    "second-greeting": bytes([HANDSHAKE]) + GREET,
    "garbage": bytes([HANDSHAKE]) + b"this is not json\r\n",
    "not-object": bytes([HANDSHAKE]) + b"[1, 2, 3]\r\n\"str\"\r\n",
    "strays": bytes([HANDSHAKE]) + b'{"return": {}, "id": 9999}\r\n'
        b'{"return": 1, "id": "x"}\r\n{"return": {}}\r\n{"foo": 1}\r\n'
        b'{"event": 5}\r\n{"id": 1}\r\n{"id": 2, "error": "flat"}\r\n'
        b'{"return": {}, "id": -1}\r\n{"return": {}, "id": 1e3}\r\n\r\n',
    "deep": bytes([HANDSHAKE]) + b'{"return": ' + b'[' * 3000 +
        b']' * 3000 + b', "id": 1}\r\n',
    "long-line": bytes([LONG]) + GREET,
    "closed-free": bytes([FREE]) + GREET + b"]\r\n",
    "partial": bytes([HANDSHAKE]) + STATUS[:20],
}
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)

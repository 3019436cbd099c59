#!/usr/bin/env python3
# Writes the seed corpus for fuzz_config (run once by hand; the output is
# committed): python3 tests/fuzz/mkseeds_config.py tests/fuzz/corpus/config
# Inputs are config files as core_config_parse() reads them
# (docs/configuration.md): valid ones, each field wrong, duplicate keys,
# documents that are not objects, deep nesting, broken JSON.
import os, sys

VALID = (b'{"qemu": "/usr/bin/qemu-system-x86_64", "image_dir": "/opt/kiln",'
         b' "kernel": "/opt/kiln/vmlinux", "initrd": "/opt/kiln/initrd.img",'
         b' "accel": "tcg", "transport": "serial", "vcpus": 2,'
         b' "memory_mib": 512, "boot_timeout_ms": 30000,'
         b' "stop_timeout_ms": 1000, "debug": true,'
         b' "trace_file": "/var/log/kiln-trace.jsonl"}\n')
seeds = {
    "valid-full": VALID,
    "valid-doc": b'{ "memory_mib": 512, "vcpus": 2, "trace_file":'
                 b' "/var/log/kiln-trace.jsonl" }\n',
    "valid-empty": b"{}\n",
    "image-dir-only": b'{"image_dir": "/srv/guest", "accel": "kvm",'
                      b' "transport": "vsock", "debug": false}',
    "limits": b'{"vcpus": 64, "memory_mib": 64, "boot_timeout_ms": 600000,'
              b' "stop_timeout_ms": 100}',
    "wrong-qemu": b'{"qemu": ""}',
    "wrong-kernel": b'{"kernel": 5}',
    "wrong-initrd": b'{"initrd": null}',
    "wrong-image-dir": b'{"image_dir": ["/a"]}',
    "wrong-trace-file": b'{"trace_file": {}}',
    "wrong-accel": b'{"accel": "hvf"}',
    "wrong-transport": b'{"transport": 1}',
    "wrong-debug": b'{"debug": "yes"}',
    "wrong-vcpus": b'{"vcpus": 0}',
    "wrong-memory": b'{"memory_mib": 65537}',
    "wrong-boot-timeout": b'{"boot_timeout_ms": 1.5e3}',
    "wrong-stop-timeout": b'{"stop_timeout_ms": -1}',
    "huge-int": b'{"vcpus": 18446744073709551617}',
    "unknown-field": b'{"mem": 512}',
    "late-error": b'{"vcpus": 4, "qemu": "/q", "accel": "tcg", "bogus": 1}',
    "duplicate": b'{"vcpus": 2, "vcpus": 3}',
    "not-object-array": b'[{"vcpus": 2}]',
    "not-object-string": b'"config"',
    "not-object-number": b"42",
    "deep": b'{"qemu": ' + b'[' * 2000 + b']' * 2000 + b'}',
    "truncated": VALID[:60],
    "trailing": b'{"vcpus": 2} {"vcpus": 3}',
    "nul-escape": b'{"qemu": "a\\u0000b"}',
    "empty": b"",
}
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)

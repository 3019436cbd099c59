#!/usr/bin/env python3
# Writes the seed corpus for fuzz_machines from the registry, so that every
# table has seeds and a new table gets its own (the output is committed; the
# replay test t_fuzz_seeds checks no table lacks them):
#   python3 tests/fuzz/mkseeds_machines.py build/debug/kiln-fsm \
#       tests/fuzz/corpus/machines
# An input is a tape (see tests/fuzz/fuzz_machines.c): the table's name and
# a NUL, then event bytes, each followed by the bytes its guards and actions
# read. Per table: a walk through every event with guards failing and
# actions succeeding, a run where every action fails (byte 5), a run whose
# actions post events with payloads (byte 6, event, length, bytes) and a
# pseudo-random tape.
import os, random, subprocess, sys
import zlib

kiln_fsm, out = sys.argv[1], sys.argv[2]
tables = subprocess.run([kiln_fsm, "list"], check=True, capture_output=True,
                        text=True).stdout.split()
seeds = {}
for name in tables:
    head = name.encode() + b"\0"
    seeds[name + "-walk"] = head + bytes(range(16)) * 2
    seeds[name + "-fail"] = head + b"".join(
        bytes([e, 1, 5]) for e in range(16))
    seeds[name + "-post"] = head + b"".join(
        bytes([e, 1, 6, e + 1, 4, 1, 2, 3, 4, 1, 1]) for e in range(16))
    rnd = random.Random(zlib.crc32(name.encode()))
    seeds[name + "-random"] = head + bytes(
        rnd.randrange(256) for _ in range(64))
os.makedirs(out, exist_ok=True)
for old in os.listdir(out):
    os.unlink(os.path.join(out, old))
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)

#!/usr/bin/env python3
# Writes the seed corpus for fuzz_machines (run once by hand; the output is
# committed): python3 tests/fuzz/mkseeds_machines.py tests/fuzz/corpus/machines
# An input is a tape (see tests/fuzz/fuzz_machines.c): the first byte picks
# the table (sorted by name, modulo their count), then event bytes, each
# followed by the bytes its guards and actions read. Per table: a walk
# through every event with guards failing and actions succeeding, a run
# where every action fails (byte 5), and a pseudo-random tape.
import os, random, sys

TABLES = ["agent_container", "agent_process", "qmp", "task", "ttrpc_conn",
          "vm", "vsock_chan"]
seeds = {}
for i, name in enumerate(TABLES):
    seeds[name + "-walk"] = bytes([i]) + bytes(range(16)) * 2
    seeds[name + "-fail"] = bytes([i]) + b"".join(
        bytes([e, 1, 5]) for e in range(16))
    rnd = random.Random(i)
    seeds[name + "-random"] = bytes([i]) + bytes(
        rnd.randrange(256) for _ in range(64))
seeds["post-storm"] = bytes([5]) + bytes([0, 6, 0, 7, 7, 6, 3] * 8)
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)

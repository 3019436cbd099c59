#!/bin/bash
# tests/e2e/bench_bpf.sh -- what the guest's eBPF probes cost: a CPU-bound
# loop and a context-switch-heavy pipe (1-byte writes through `cat`) in a
# container, with the programs (the default) and without them (config
# guest_bpf false: the agent loads nothing), interleaved in one private
# containerd (N rounds, default 3); guest times from /proc/uptime (10 ms
# steps). Then, with the programs on, each program's own run time
# (BPF_ENABLE_STATS) over the switch-heavy run, from `kiln metrics`.
# Prints figures; asserts nothing.
set -uo pipefail
HERE=$(cd "$(dirname -- "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib/containerd.sh"
BUILD=${KILN_BUILD:-$ROOT/build/debug}
IMAGE=docker.io/kiln/busybox:latest
RT=io.containerd.kiln.v1
N=${1:-3}
source "$HERE/lib/bench.sh"
kiln_bench_start bb || exit 1
work='cs() { read u _ </proc/uptime; echo "${u%.*}${u#*.}"; }
a=$(cs); i=0; while [ $i -lt 300000 ]; do i=$((i + 1)); done; b=$(cs)
dd if=/dev/zero bs=1 count=200000 2>/dev/null | cat >/dev/null; c=$(cs)
echo "cpu_ms=$(((b - a) * 10)) switch_ms=$(((c - b) * 10))"'
declare -A cfg=([on]='{}' [off]='{"guest_bpf": false}')
echo "eBPF probes on vs off, $N rounds ($(nproc) cores, $(date -u +%F))"
for mode in on off; do	# each mode's snapshot template
	echo "${cfg[$mode]}" >"$KILN_CONFIG"
	ctr_ run --rm --runtime "$RT" "$IMAGE" w$mode true
done
for ((i = 0; i < N; i++)); do
	for mode in on off; do
		echo "${cfg[$mode]}" >"$KILN_CONFIG"
		echo "$mode $(ctr_ run --rm --runtime "$RT" "$IMAGE" r$i$mode sh -c "$work")"
	done
done
echo '{}' >"$KILN_CONFIG"
ctr_ run -d --runtime "$RT" "$IMAGE" st sh -c "sleep 3; $work; touch /done
	sleep 600" >/dev/null
"$BUILD/kiln" metrics st >"$dir/a.prom"
until ctr_ task exec --exec-id x$RANDOM st test -e /done 2>/dev/null; do
	sleep 1
done
"$BUILD/kiln" metrics st >"$dir/b.prom"
/usr/bin/python3 - "$dir/a.prom" "$dir/b.prom" <<'PYEOF'
import sys
from prometheus_client.parser import text_string_to_metric_families as p
def runs(f):
    out = {}
    for fam in p(open(f).read()):
        for s in fam.samples:
            if s.name.startswith("kiln_guest_bpf_program_"):
                out.setdefault(s.labels["program"], {})[s.name] = s.value
    return out
a, b = runs(sys.argv[1]), runs(sys.argv[2])
tot = 0.0
for prog in sorted(b):
    d = {k: b[prog][k] - a.get(prog, {}).get(k, 0) for k in b[prog]}
    ns = d["kiln_guest_bpf_program_run_seconds_total"] * 1e9
    n = d["kiln_guest_bpf_program_runs_total"]
    tot += ns
    print("%-26s runs=%-8d ns_per_run=%.0f total_ms=%.1f" % (prog, n, ns / n if n else 0, ns / 1e6))
print("all programs over the window: %.1f ms" % (tot / 1e6))
PYEOF

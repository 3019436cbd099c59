#!/bin/bash
# tests/e2e/bench_jail.sh -- `ctr run --rm true` and one exec, jail on vs
# off, interleaved in one private containerd (N rounds, default 5), with
# the medians and what the jail costs.
set -uo pipefail
HERE=$(cd "$(dirname -- "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib/containerd.sh"
BUILD=${KILN_BUILD:-$ROOT/build/debug}
IMAGE=docker.io/kiln/busybox:latest
N=${1:-${BENCH_RUNS:-5}}
source "$HERE/lib/bench.sh"
kiln_bench_start bj || exit 1
ms() { date +%s%N | cut -c1-13; }
on='{}'
off='{"jail_namespaces": false, "jail_cgroup": false, "jail_seccomp": false, "jail_user": false}'
# One start of each first: each mode's snapshot template gets built.
for cfg in "$on" "$off"; do
	echo "$cfg" >"$KILN_CONFIG"
	ctr_ run --rm --runtime io.containerd.kiln.v1 "$IMAGE" w$RANDOM true
done
stopped() { ctr_ task ls | grep -q "^$1 .*STOPPED"; }
rows=$dir/rows
for ((i = 0; i < N; i++)); do
	for mode in on off; do
		[[ $mode == on ]] && echo "$on" >"$KILN_CONFIG" || echo "$off" >"$KILN_CONFIG"
		t0=$(ms); ctr_ run --rm --runtime io.containerd.kiln.v1 "$IMAGE" b$i$mode true; t1=$(ms)
		ctr_ run -d --runtime io.containerd.kiln.v1 "$IMAGE" e$i$mode sleep 60 >/dev/null
		t2=$(ms); ctr_ task exec --exec-id x e$i$mode true; t3=$(ms)
		ctr_ task kill -s KILL e$i$mode >/dev/null
		for ((w = 0; w < 600; w++)); do stopped e$i$mode && break; sleep 0.1; done
		ctr_ task delete e$i$mode >/dev/null 2>&1; ctr_ container rm e$i$mode >/dev/null 2>&1
		echo "$mode run_ms=$((t1 - t0)) exec_ms=$((t3 - t2))" | tee -a "$rows"
	done
done
# Medians of each mode and what the jail costs.
median() { grep "^$1 " "$rows" | grep -o "$2=[0-9]*" | cut -d= -f2 | sort -n |
	awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
ron=$(median on run_ms) roff=$(median off run_ms)
xon=$(median on exec_ms) xoff=$(median off exec_ms)
printf 'jail on vs off, medians of %d: ctr run --rm true %d vs %d ms (%+.1f %%), exec %d vs %d ms (%+.1f %%)\n' \
	"$N" "$ron" "$roff" "$(awk -v a="$ron" -v b="$roff" 'BEGIN {print (a - b) * 100 / b}')" \
	"$xon" "$xoff" "$(awk -v a="$xon" -v b="$xoff" 'BEGIN {print (a - b) * 100 / b}')"

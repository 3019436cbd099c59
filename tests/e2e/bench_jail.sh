#!/bin/bash
# tests/e2e/bench_jail.sh -- `ctr run --rm true` and one exec, jail on vs
# off, interleaved in one private containerd (N rounds, default 3).
set -uo pipefail
HERE=$(cd "$(dirname -- "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib/containerd.sh"
BUILD=${KILN_BUILD:-$ROOT/build/debug}
IMAGE=docker.io/kiln/busybox:latest
N=${1:-3}
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
for ((i = 0; i < N; i++)); do
	for mode in on off; do
		[[ $mode == on ]] && echo "$on" >"$KILN_CONFIG" || echo "$off" >"$KILN_CONFIG"
		t0=$(ms); ctr_ run --rm --runtime io.containerd.kiln.v1 "$IMAGE" b$i$mode true; t1=$(ms)
		ctr_ run -d --runtime io.containerd.kiln.v1 "$IMAGE" e$i$mode sleep 60 >/dev/null
		t2=$(ms); ctr_ task exec --exec-id x e$i$mode true; t3=$(ms)
		ctr_ task kill -s KILL e$i$mode >/dev/null; sleep 1
		ctr_ task delete e$i$mode >/dev/null 2>&1; ctr_ container rm e$i$mode >/dev/null 2>&1
		echo "$mode run_ms=$((t1 - t0)) exec_ms=$((t3 - t2))"
	done
done

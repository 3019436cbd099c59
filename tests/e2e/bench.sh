#!/bin/bash
# tests/e2e/bench.sh -- `make bench`: kiln next to containerd-shim-runc-v2 in
# the same run, on the same private containerd and image. Prints figures,
# asserts nothing.
#
#   ctr run --rm IMAGE ID true, N times per runtime: min / median / max, ratio
#   shim RSS while a container sleeps (ours vs runc's), and QEMU's RSS
#   ctr task exec true, N times: min / median / max, ratio
#   stdout of 256 MiB: through ctr run (start included) and an exec
#   idle CPU of a sleeping container (shim + QEMU vs shim + container)
# Issue 15's rows also go to $KILN_BENCH_ROWS (lib/bench_rows.sh).
set -uo pipefail

HERE=$(cd "$(dirname -- "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib/containerd.sh"
source "$HERE/lib/bench_rows.sh"
BUILD=${KILN_BUILD:-$ROOT/build/release}
export KILN_GUEST_DIR=${KILN_GUEST_DIR:-$ROOT/build/guest}
IMAGE=docker.io/kiln/busybox:latest
N=${BENCH_RUNS:-10}

cleanup() { kiln_containerd_stop >/dev/null 2>&1 || true; }
trap cleanup EXIT

dir=$(mktemp -d /tmp/kiln-bench-XXXXXX)
kiln_containerd_start "$dir" "$BUILD" >/dev/null || exit 1
"$HERE/lib/mkbusybox-oci.sh" "$dir/bb.tar" >/dev/null &&
	kiln_ctr images import "$dir/bb.tar" >/dev/null || exit 1
ctr_() { timeout -s KILL 120 ctr -a "$KILN_CTR_SOCK" "$@"; }

# Time N runs of one runtime after one untimed (kiln's builds its snapshot
# template, runc's warms its caches); prints "min median max" in ms.
time_runs() {
	local rt=$1 i t0 t1 all=()
	ctr_ run --rm --runtime "$rt" "$IMAGE" b-warm true >/dev/null 2>&1
	for ((i = 0; i < N; i++)); do
		t0=$(date +%s%N)
		ctr_ run --rm --runtime "$rt" "$IMAGE" "b-$i" true >/dev/null 2>&1 || return 1
		t1=$(date +%s%N)
		all+=($(( (t1 - t0) / 1000000 )))
	done
	printf '%s\n' "${all[@]}" | sort -n | awk '{v[NR] = $1}
		END {print v[1], v[int((NR + 1) / 2)], v[NR]}'
}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null; }

# RSS of the shim (and QEMU) while a container of rt sleeps.
sleeping_rss() {
	local rt=$1 id=rss-$RANDOM shim qemu
	ctr_ run -d --runtime "$rt" "$IMAGE" "$id" sleep 1000 >/dev/null || return 1
	shim=$(pgrep -f "containerd-shim-.*-id $id" | head -1)
	# QEMU is named after its bundle, whose last part is the id.
	qemu=$(pgrep -f "qemu-system.* -name [^ ]*/$id( |$)" | head -1)
	echo "$(rss_kb "$shim") ${qemu:+$(rss_kb "$qemu")}"
	ctr_ task kill -s SIGKILL "$id" >/dev/null
	local deadline=$((SECONDS + 60))
	while ((SECONDS < deadline)); do
		[[ $(timeout -s KILL 10 ctr -a "$KILN_CTR_SOCK" task ls |
			awk -v id="$id" '$1 == id {print $3}') == STOPPED ]] && break
		sleep 0.1
	done
	ctr_ task delete "$id" >/dev/null 2>&1
	ctr_ container rm "$id" >/dev/null 2>&1
}

# Exec latency: N x `ctr task exec ... true` into a sleeping container.
exec_runs() {
	local rt=$1 id=ex-$RANDOM i t0 t1 all=()
	ctr_ run -d --runtime "$rt" "$IMAGE" "$id" sleep 1000 >/dev/null || return 1
	for ((i = 0; i < N; i++)); do
		t0=$(date +%s%N)
		ctr_ task exec --exec-id "x$i" "$id" true >/dev/null 2>&1
		t1=$(date +%s%N)
		all+=($(( (t1 - t0) / 1000000 )))
	done
	kill_and_remove "$id"
	printf '%s\n' "${all[@]}" | sort -n | awk '{v[NR] = $1}
		END {print v[1], v[int((NR + 1) / 2)], v[NR]}'
}

# Stdout throughput: a container writes 256 MiB, counted at ctr.
throughput() {
	local rt=$1 t0 t1 bytes
	t0=$(date +%s%N)
	bytes=$(ctr_ run --rm --runtime "$rt" "$IMAGE" "tp-$RANDOM" \
		sh -c 'dd if=/dev/zero bs=65536 count=4096 2>/dev/null' | wc -c)
	t1=$(date +%s%N)
	awk -v b="$bytes" -v ns=$((t1 - t0)) 'BEGIN {printf "%.1f", b / 1048576 / (ns / 1e9)}'
}

# The same 256 MiB from an exec into a running container: the VM's start
# is not counted.
exec_throughput() {
	local rt=$1 id=tx-$RANDOM t0 t1 bytes
	ctr_ run -d --runtime "$rt" "$IMAGE" "$id" sleep 1000 >/dev/null || return 1
	t0=$(date +%s%N)
	bytes=$(ctr_ task exec --exec-id tx "$id" \
		sh -c 'dd if=/dev/zero bs=65536 count=4096 2>/dev/null' | wc -c)
	t1=$(date +%s%N)
	kill_and_remove "$id"
	awk -v b="$bytes" -v ns=$((t1 - t0)) 'BEGIN {printf "%.1f", b / 1048576 / (ns / 1e9)}'
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# CPU a sleeping container costs its host, % of one core over 30 s after
# 10 s to settle: the shim and QEMU for kiln, the shim and the container
# for runc (sleep does nothing).
idle_cpu() {
	local rt=$1 id=ic-$RANDOM pids a=0 b=0 p hz
	hz=$(getconf CLK_TCK)
	ctr_ run -d --runtime "$rt" "$IMAGE" "$id" sleep 1000 >/dev/null || return 1
	sleep 10
	pids="$(pgrep -f "containerd-shim-.*-id $id") $(ctr_ task ls | awk -v id="$id" '$1 == id {print $2}')"
	for p in $pids; do a=$((a + $(cpu_ticks "$p"))); done
	sleep 30
	for p in $pids; do b=$((b + $(cpu_ticks "$p"))); done
	kill_and_remove "$id"
	awk -v d=$((b - a)) -v hz="$hz" 'BEGIN {printf "%.2f", d / hz / 30 * 100}'
}

# Context switches of the shim in 5 idle seconds (a benchmark may sleep).
idle_wakeups() {
	local rt=$1 id=idle-$RANDOM pid a b
	ctr_ run -d --runtime "$rt" "$IMAGE" "$id" sleep 1000 >/dev/null || return 1
	pid=$(pgrep -f "containerd-shim-.*-id $id" | head -1)
	sleep 2
	a=$(awk '/ctxt_switches/ {s += $2} END {print s}' /proc/"$pid"/task/*/status)
	sleep 5
	b=$(awk '/ctxt_switches/ {s += $2} END {print s}' /proc/"$pid"/task/*/status)
	kill_and_remove "$id"
	awk -v a="$a" -v b="$b" 'BEGIN {printf "%.1f", (b - a) / 5}'
}

kill_and_remove() {
	ctr_ task kill -s SIGKILL "$1" >/dev/null
	local deadline=$((SECONDS + 60))
	while ((SECONDS < deadline)); do
		[[ $(timeout -s KILL 10 ctr -a "$KILN_CTR_SOCK" task ls |
			awk -v id="$1" '$1 == id {print $3}') == STOPPED ]] && break
		sleep 0.1
	done
	ctr_ task delete "$1" >/dev/null 2>&1
	ctr_ container rm "$1" >/dev/null 2>&1
}

echo "kiln bench: $(nproc) cores, accelerator $(cat "$KILN_GUEST_DIR/accel" 2>/dev/null || echo tcg), $(date -u +%F), N=$N"
read -r kmin kmed kmax < <(time_runs io.containerd.kiln.v1)
read -r rmin rmed rmax < <(time_runs io.containerd.runc.v2)
printf 'ctr run --rm true   kiln: min %5d / median %5d / max %5d ms\n' "$kmin" "$kmed" "$kmax"
printf '                    runc: min %5d / median %5d / max %5d ms\n' "$rmin" "$rmed" "$rmax"
awk -v k="$kmed" -v r="$rmed" 'BEGIN {printf "                    ratio kiln/runc (median): %.1fx\n", k / r}'
read -r kshim kqemu < <(sleeping_rss io.containerd.kiln.v1)
read -r rshim _ < <(sleeping_rss io.containerd.runc.v2)
printf 'shim RSS, sleeping container   kiln: %6d kB   runc: %6d kB   ratio %.2f\n' \
	"$kshim" "$rshim" "$(awk -v a="$kshim" -v b="$rshim" 'BEGIN {print a / b}')"
printf 'QEMU RSS (the VM)              %6d kB\n' "${kqemu:-0}"
read -r emin emed emax < <(exec_runs io.containerd.kiln.v1)
read -r xmin xmed xmax < <(exec_runs io.containerd.runc.v2)
printf 'ctr task exec true  kiln: min %5d / median %5d / max %5d ms\n' "$emin" "$emed" "$emax"
printf '                    runc: min %5d / median %5d / max %5d ms\n' "$xmin" "$xmed" "$xmax"
awk -v k="$emed" -v r="$xmed" 'BEGIN {printf "                    ratio kiln/runc (median): %.1fx\n", k / r}'
ktp=$(throughput io.containerd.kiln.v1) rtp=$(throughput io.containerd.runc.v2)
printf 'stdout, 256 MiB at ctr (run)  kiln: %s MiB/s   runc: %s MiB/s   ratio %.2f\n' \
	"$ktp" "$rtp" "$(awk -v a="$ktp" -v b="$rtp" 'BEGIN {print a / b}')"
kxp=$(exec_throughput io.containerd.kiln.v1) rxp=$(exec_throughput io.containerd.runc.v2)
printf 'stdout, 256 MiB at ctr (exec) kiln: %s MiB/s   runc: %s MiB/s   ratio %.2f\n' \
	"$kxp" "$rxp" "$(awk -v a="$kxp" -v b="$rxp" 'BEGIN {print a / b}')"
kic=$(idle_cpu io.containerd.kiln.v1) ric=$(idle_cpu io.containerd.runc.v2)
printf 'idle CPU, sleeping container  kiln: %s %%   runc: %s %% of a core\n' "$kic" "$ric"
printf 'idle shim wake-ups per second kiln: %s   runc: %s\n' \
	"$(idle_wakeups io.containerd.kiln.v1)" "$(idle_wakeups io.containerd.runc.v2)"
bench_row "ctr run --rm true, median" "$kmed ms" "$rmed ms" \
	"$(awk -v k="$kmed" -v r="$rmed" 'BEGIN {printf "%.1fx", k / r}')" "<= 5x runc"
bench_row "ctr task exec true, median" "$emed ms" "$xmed ms" \
	"$(awk -v k="$emed" -v r="$xmed" 'BEGIN {printf "%.1fx", k / r}')" "<= 2x runc"
bench_row "stdout of 256 MiB at ctr (ctr run)" "$ktp MiB/s" "$rtp MiB/s" \
	"$(awk -v a="$ktp" -v b="$rtp" 'BEGIN {printf "%.2fx", a / b}')" ">= 0.3x runc"
bench_row "stdout of 256 MiB at ctr (exec)" "$kxp MiB/s" "$rxp MiB/s" \
	"$(awk -v a="$kxp" -v b="$rxp" 'BEGIN {printf "%.2fx", a / b}')" ">= 0.3x runc"
bench_row "idle VM CPU (shim + QEMU)" "$kic %" "$ric %" "-" "<= 0.2 %"

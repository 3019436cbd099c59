#!/bin/bash
# tests/e2e/bench_snapshot.sh -- part of `make bench`: snapshot start (issue
# 15) next to a cold boot and runc, in the same run, on one private
# containerd. The shims read KILN_CONFIG at each start, so the mode changes
# between rounds by rewriting it. Prints figures, asserts nothing.
#
#   ctr run --rm true, N runs: snapshot off / on (template built first) / runc
#   the first container of a template key (it builds the template: cold boot,
#   eBPF loaded, saved, restored), 3 runs, next to a cold boot with no template
#   QEMU spawn -> agent ready (the VM machine's boot_ms), off and on
#   PSS of shim + QEMU per container, K sleeping containers, off / on / runc
#   qemu_thp true / false: QEMU's PSS and AnonHugePages, one cold VM each
#   tcg_tb_mib 0 / 64 / 32: cold spawn -> ready and QEMU RSS
#   kernel kiln / debian: cold spawn -> ready, QEMU PSS, guest memory used
# BENCH_SNAP_PARTS picks rows (default "start first pss thp tb kernel").
set -uo pipefail

HERE=$(cd "$(dirname -- "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib/containerd.sh"
source "$HERE/lib/bench_rows.sh"
BUILD=${KILN_BUILD:-$ROOT/build/release}
export KILN_GUEST_DIR=${KILN_GUEST_DIR:-$ROOT/build/guest}
IMAGE=docker.io/kiln/busybox:latest
KRT=io.containerd.kiln.v1
RRT=io.containerd.runc.v2
N=${BENCH_RUNS:-10}
K=${BENCH_SLEEPERS:-10}	# the issue's row: 10 sequential starts
PARTS=" ${BENCH_SNAP_PARTS:-start first pss thp tb kernel} "	# which rows to measure

work=$(mktemp -d /tmp/kiln-bsnap-XXXXXX)
cleanup() { kiln_containerd_stop >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
export KILN_CONFIG=$work/kiln.json
trace=$work/trace.jsonl
# mode JSON-FIELDS: the configuration the next shims start with, plus
# BENCH_SNAP_CONFIG (more fields, for an experiment: e.g. the density
# settings '"tcg_thread": "single", "tcg_tb_mib": 16').
mode() {
	echo "{\"template_dir\": \"${TPL_DIR:-$work/templates}\", \"trace_file\": \"$trace\"${1:+, $1}${BENCH_SNAP_CONFIG:+, $BENCH_SNAP_CONFIG}}" \
	    >"$KILN_CONFIG"
}
mode '"snapshot": false'

dir=$(mktemp -d /tmp/kiln-bsnap-ctr-XXXXXX)
kiln_containerd_start "$dir" "$BUILD" >/dev/null || exit 1
"$HERE/lib/mkbusybox-oci.sh" "$work/bb.tar" >/dev/null &&
	kiln_ctr images import "$work/bb.tar" >/dev/null || exit 1
ctr_() { timeout -s KILL 300 ctr -a "$KILN_CTR_SOCK" "$@"; }

stats() {	# min median max of the numbers on stdin
	sort -n | awk '{v[NR] = $1} END {print v[1], v[int((NR + 1) / 2)], v[NR]}'
}

# N runs of `true` as ids PREFIX-i; prints "min median max" in ms.
time_runs() {
	local rt=$1 prefix=$2 i t0 t1
	for ((i = 0; i < N; i++)); do
		t0=$(date +%s%N)
		ctr_ run --rm --runtime "$rt" "$IMAGE" "$prefix-$i" true >/dev/null 2>&1
		t1=$(date +%s%N)
		echo $(( (t1 - t0) / 1000000 ))
	done | stats
}

# spawn -> ready of the VMs whose ids start with PREFIX (the trace's boot_ms).
boot_ms() {
	grep "\"machine\":\"vm\",[^}]*\"id\":\"$1-[0-9]*\",[^}]*\"to\":\"READY\"" "$trace" |
		grep -o 'boot_ms=[0-9]*' | cut -d= -f2 | stats
}

pss_kb() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }

kill_and_remove() {
	local id
	for id in "$@"; do
		ctr_ task kill -s SIGKILL "$id" >/dev/null 2>&1
	done
	for id in "$@"; do
		local deadline=$((SECONDS + 60))
		while ((SECONDS < deadline)); do
			[[ $(timeout -s KILL 10 ctr -a "$KILN_CTR_SOCK" task ls |
				awk -v id="$id" '$1 == id {print $3}') == STOPPED ]] && break
			sleep 0.1
		done
		ctr_ task delete "$id" >/dev/null 2>&1
		ctr_ container rm "$id" >/dev/null 2>&1
	done
}

# K sleeping containers of rt, one after another; prints the PSS (kB) of
# their shims and QEMUs per container, and the seconds the K starts took.
sleepers_pss() {
	local rt=$1 prefix=$2 i ids=() total=0 p t0
	t0=$(date +%s%N)
	for ((i = 0; i < K; i++)); do
		ctr_ run -d --runtime "$rt" "$IMAGE" "$prefix-$i" sleep 1000 >/dev/null || return 1
		ids+=("$prefix-$i")
	done
	local secs=$(( ($(date +%s%N) - t0) / 1000000 ))
	sleep 3	# let the guests settle (eBPF loading, page reporting)
	for p in $(pgrep -f "containerd-shim-.*-id $prefix-") \
	    $(pgrep -f "qemu-system.*$dir.*/$prefix-"); do
		total=$((total + $(pss_kb "$p")))
	done
	kill_and_remove "${ids[@]}"
	echo $((total / K)) "$secs"
}

# One sleeping container ID started with the config's FIELDS (a cold boot:
# snapshot off), given 3 s to settle; prints its QEMU's pid.
cold_one() { # ID FIELDS
	mode "\"snapshot\": false, $2"
	ctr_ run -d --runtime "$KRT" "$IMAGE" "$1" sleep 1000 >/dev/null || return 1
	sleep 3
	pgrep -f "qemu-system.*$dir.*/$1" | head -1
}

# One sleeping container with tcg_tb_mib=$1 (round $2): spawn -> ready
# and QEMU RSS.
tb_row() {
	local id=tb$1r$2-0 qemu rss
	qemu=$(cold_one "$id" "\"tcg_tb_mib\": $1") || return 1
	rss=$(awk '/^VmRSS/ {print $2}' "/proc/$qemu/status" 2>/dev/null)
	kill_and_remove "$id"
	echo "$(boot_ms "tb$1r$2" | cut -d' ' -f2) ${rss:-0}"
}

# One sleeping cold-booted container with qemu_thp=$1: QEMU's PSS and
# AnonHugePages (kB).
thp_row() {
	local id=thp$1-0 qemu
	qemu=$(cold_one "$id" "\"qemu_thp\": $1") || return 1
	awk '/^Pss:/ {p = $2} /^AnonHugePages:/ {h = $2} END {print p + 0, h + 0}' \
	    "/proc/$qemu/smaps_rollup" 2>/dev/null
	kill_and_remove "$id"
}

# One sleeping cold-booted container on kernel $1 (kiln: vmlinux with
# initrd.img; debian: vmlinux-debian with initrd-debian.img, which has its
# modules), round $2: spawn -> ready (ms), QEMU PSS (kB), guest memory used
# (MemTotal - MemAvailable, kB).
kernel_row() {
	local id=k$1r$2-0 qemu k=$KILN_GUEST_DIR/vmlinux i=$KILN_GUEST_DIR/initrd.img pss used
	if [[ $1 != kiln ]]; then
		k=$KILN_GUEST_DIR/vmlinux-$1 i=$KILN_GUEST_DIR/initrd-$1.img
	fi
	qemu=$(cold_one "$id" "\"kernel\": \"$k\", \"initrd\": \"$i\"") || return 1
	pss=$(pss_kb "$qemu")
	used=$(ctr_ task exec --exec-id m "$id" awk '/^MemTotal/ {t = $2} /^MemAvailable/ {a = $2} END {print t - a}' /proc/meminfo 2>/dev/null)
	kill_and_remove "$id"
	echo "$(boot_ms "k$1r$2" | cut -d' ' -f2) $pss ${used:-0}"
}

echo "kiln snapshot bench: $(nproc) cores, accelerator $(cat "$KILN_GUEST_DIR/accel" 2>/dev/null || echo tcg), $(date -u +%F), N=$N, K=$K"
if [[ $PARTS == *" start "* ]]; then
mode '"snapshot": false'
read -r fmin fmed fmax < <(time_runs "$KRT" off)
mode '"snapshot": true'
ctr_ run --rm --runtime "$KRT" "$IMAGE" warm-0 true >/dev/null 2>&1	# builds the template
read -r smin smed smax < <(time_runs "$KRT" on)
read -r rmin rmed rmax < <(time_runs "$RRT" runc)
printf 'ctr run --rm true  snapshot off: min %5d / median %5d / max %5d ms (%.1fx runc)\n' \
	"$fmin" "$fmed" "$fmax" "$(awk -v a="$fmed" -v b="$rmed" 'BEGIN {print a / b}')"
printf '                   snapshot on:  min %5d / median %5d / max %5d ms (%.1fx runc)\n' \
	"$smin" "$smed" "$smax" "$(awk -v a="$smed" -v b="$rmed" 'BEGIN {print a / b}')"
printf '                   runc:         min %5d / median %5d / max %5d ms\n' "$rmin" "$rmed" "$rmax"
printf 'QEMU spawn -> agent ready, min / median / max: off %s ms, on %s ms\n' \
	"$(boot_ms off | tr ' ' /)" "$(boot_ms on | tr ' ' /)"
bench_row "ctr run --rm true, median, snapshot on" "$smed ms" "$rmed ms" \
	"$(awk -v a="$smed" -v b="$rmed" 'BEGIN {printf "%.1fx", a / b}')" "<= 5x runc"
bench_row "QEMU spawn -> agent ready, median, snapshot" "$(boot_ms on | cut -d' ' -f2) ms" "-" "-" "<= 400 ms"
fi
if [[ $PARTS == *" first "* ]]; then
for round in 1 2 3; do	# each round a template directory of its own: a new key
	TPL_DIR=$work/first-$round mode '"snapshot": true'
	read -r b _ < <(N=1 time_runs "$KRT" "first$round")
	mode '"snapshot": false'
	read -r c _ < <(N=1 time_runs "$KRT" "cold$round")
	echo "$b $c"
done > "$work/first"
read -r bmin bmed bmax < <(cut -d' ' -f1 "$work/first" | stats)
read -r cmin cmed cmax < <(cut -d' ' -f2 "$work/first" | stats)
printf 'first container of a key (builds the template): min %5d / median %5d / max %5d ms\n' "$bmin" "$bmed" "$bmax"
printf 'cold boot, snapshot off, same rounds:            min %5d / median %5d / max %5d ms\n' "$cmin" "$cmed" "$cmax"
fi
if [[ $PARTS == *" pss "* ]]; then
mode '"snapshot": false'
read -r poff toff < <(sleepers_pss "$KRT" poff)
mode '"snapshot": true'
read -r pon ton < <(sleepers_pss "$KRT" pon)
read -r prunc trunc < <(sleepers_pss "$RRT" prunc)
printf 'PSS per container, %d sleeping: off %d kB, on %d kB, runc %d kB\n' "$K" "$poff" "$pon" "$prunc"
printf '%d sequential sleeping starts:  off %d ms, on %d ms, runc %d ms\n' "$K" "$toff" "$ton" "$trunc"
bench_row "PSS of shim + VM per container, $K sleeping" \
	"$(awk -v k="$pon" 'BEGIN {printf "%.1f MiB", k / 1024}')" \
	"$(awk -v k="$prunc" 'BEGIN {printf "%.1f MiB", k / 1024}')" \
	"$(awk -v a="$pon" -v b="$prunc" 'BEGIN {printf "%.0fx", a / b}')" "<= 48 MiB"
bench_row "$K sequential starts while the earlier run" \
	"$(awk -v t="$ton" 'BEGIN {printf "%.1f s", t / 1000}')" \
	"$(awk -v t="$trunc" 'BEGIN {printf "%.1f s", t / 1000}')" \
	"$(awk -v a="$ton" -v b="$trunc" 'BEGIN {printf "%.1fx", a / b}')" "<= 10 s"
fi
if [[ $PARTS == *" thp "* ]]; then
for thp in true false; do
	read -r p h < <(thp_row "$thp")
	printf 'qemu_thp %-5s QEMU PSS %6s kB, AnonHugePages %6s kB\n' "$thp" "$p" "$h"
done
fi
if [[ $PARTS == *" tb "* ]]; then
for round in 1 2 3; do
    for tb in 0 64 32; do
	read -r b r < <(tb_row "$tb" "$round")
	printf 'tcg_tb_mib %-3d cold spawn -> ready %5s ms, QEMU RSS %6s kB (round %d)\n' \
	    "$tb" "$b" "$r" "$round"
    done
done
fi
if [[ $PARTS == *" kernel "* ]]; then
for round in 1 2 3; do
    for kern in kiln debian; do
	read -r b p u < <(kernel_row "$kern" "$round")
	printf 'kernel %-6s cold spawn -> ready %5s ms, QEMU PSS %6s kB, guest used %6s kB (round %d)\n' \
	    "$kern" "$b" "$p" "$u" "$round"
    done
done
fi

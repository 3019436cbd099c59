#!/bin/bash
# tests/e2e/bench_cri.sh -- part of `make bench`: pods through containerd's
# CRI plugin (KILN_CTR_CRI=1, as in t_cri.sh), kiln next to runc in the same
# run, inside a test namespace (lib/net.sh). Prints figures, asserts nothing.
#
#   RunPodSandbox -> first container started (Create + Start), N runs per
#   handler: min / median / max, ratio; RunPodSandbox alone likewise
#   pod overhead: PSS (/proc/PID/smaps_rollup) of the pod's kiln shims and
#   QEMUs with the sandbox only, with 1 and with 3 app containers; the
#   same for runc (shim, pause and container processes); and the
#   RuntimeClass overhead.podFixed memory derived from it (docs/kubernetes.md)
set -uo pipefail

HERE=$(cd "$(dirname -- "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib/tap.sh"
source "$HERE/lib/containerd.sh"
source "$HERE/lib/net.sh"
BUILD=${KILN_BUILD:-$ROOT/build/release}
export KILN_GUEST_DIR=${KILN_GUEST_DIR:-$ROOT/build/guest}
PAUSE=localhost/kiln/pause:3.9-kiln
IMAGE=docker.io/kiln/busybox:latest
N=${BENCH_RUNS:-5}
STEP=120

cleanup() {
	kiln_containerd_stop >/dev/null 2>&1 || true
	kiln_net_teardown
	rm -rf "$netdir"
}
trap cleanup EXIT

dir=$(mktemp -d /tmp/kiln-bcri-XXXXXX)
netdir=$(mktemp -d /tmp/kiln-bcrin-XXXXXX)
cri() {
	timeout -s KILL $((STEP + 60)) /usr/bin/python3 "$ROOT/tests/cri/kiln_cri.py" \
		--gen "$BUILD/cri" -t "$STEP" "$@" 2>>"$dir/cri.err"
}
kiln_net_setup "$netdir" "kiln-bcri-$$" &&
	KILN_CTR_CRI=1 KILN_CTR_CRI_NETD=$netdir/net.d KILN_CTR_NETNS=$KILN_NET_NS \
		kiln_containerd_start "$dir" "$BUILD" >/dev/null &&
	"$HERE/lib/mkpause-oci.sh" "$netdir/pause.tar" "$BUILD/tests/kiln-pause" "$PAUSE" >/dev/null &&
	"$HERE/lib/mkbusybox-oci.sh" "$netdir/bb.tar" "$IMAGE" >/dev/null &&
	kiln_ctr -n k8s.io images import "$netdir/pause.tar" >/dev/null &&
	kiln_ctr -n k8s.io images import "$netdir/bb.tar" >/dev/null &&
	cri img-status "$PAUSE" --wait "$STEP" >/dev/null &&
	cri img-status "$IMAGE" --wait "$STEP" >/dev/null || exit 1

pod_config() {
	cat >"$dir/$1.json" <<EOF
{"metadata": {"name": "$1", "uid": "uid-$1", "namespace": "kiln-bench"}, "hostname": "$1",
 "linux": {"cgroup_parent": "$KILN_CTR_CGROUP_PARENT",
           "security_context": {"namespace_options": {"pid": "CONTAINER"}}}}
EOF
	echo "$dir/$1.json"
}
ctr_config() {
	cat >"$dir/c-$1.json" <<EOF
{"metadata": {"name": "$1"}, "image": {"image": "$IMAGE"},
 "command": ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"],
 "linux": {"security_context": {"namespace_options": {"pid": "CONTAINER"}}}}
EOF
	echo "$dir/c-$1.json"
}
add_ctr() { # POD_ID POD_NAME NAME: create + start, prints the id
	local id
	id=$(cri create "$1" "$(ctr_config "$3")" "$dir/$2.json" -f container_id) &&
		cri start "$id" >/dev/null && echo "$id"
}
remove_pod() { cri stopp "$1" >/dev/null; cri rmp "$1" >/dev/null; }
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
stats() { sort -n | awk '{v[NR] = $1} END {if (NR) print v[1], v[int((NR + 1) / 2)], v[NR]; else print "- - -"}'; }

# HANDLER: N x (RunPodSandbox; first container started), each pod removed
# after; prints "sandbox-min med max first-min med max" in ms.
time_pods() {
	local h=$1 i t0 pod sb=() first=()
	for ((i = 0; i < N; i++)); do
		t0=$(date +%s%N)
		pod=$(cri runp -r "$h" "$(pod_config "t-$h-$i")" -f pod_sandbox_id) || continue
		sb+=("$(ms_since "$t0")")
		add_ctr "$pod" "t-$h-$i" first >/dev/null && first+=("$(ms_since "$t0")")
		remove_pod "$pod"
	done
	echo "$(printf '%s\n' "${sb[@]}" | grep . | stats) $(printf '%s\n' "${first[@]}" | grep . | stats)"
}

pss_kb() { awk '/^Pss:/ {s += $2} END {print s + 0}' "$@" 2>/dev/null; }
# PSS of the processes of this containerd's pods: kiln shims and QEMUs, or
# for runc the runc shims and everything they started.
pod_pss() {
	local h=$1 pids p files=()
	if [[ $h == kiln ]]; then
		pids=$(pgrep -f "containerd-shim-kiln-v1 .*-address $dir/"; pgrep -f "qemu-system.*$dir/")
	else
		pids=$(for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $dir/"); do
			echo "$p"; pgrep -P "$p"; done)
	fi
	for p in $pids; do files+=("/proc/$p/smaps_rollup"); done
	((${#files[@]})) && pss_kb "${files[@]}" || echo 0
}

# HANDLER: PSS with the sandbox only, 1 and 3 containers ("a b c" kB).
overhead() {
	local h=$1 pod p0 p1 p3 i
	pod=$(cri runp -r "$h" "$(pod_config "o-$h")" -f pod_sandbox_id) || { echo "- - -"; return; }
	p0=$(pod_pss "$h")
	if add_ctr "$pod" "o-$h" c1 >/dev/null; then
		cri exec-sync "$(cri ps --pod "$pod" -f containers.0.id)" -- true >/dev/null
		p1=$(pod_pss "$h")
		for i in 2 3; do add_ctr "$pod" "o-$h" "c$i" >/dev/null || break; done
		p3=$(pod_pss "$h")
		[[ $(cri ps --pod "$pod" --state running -f containers | jq length) == 3 ]] || p3=-
	fi
	remove_pod "$pod"
	echo "$p0 ${p1:--} ${p3:--}"
}

echo "kiln CRI pods: $(nproc) cores, accelerator $(cat "$KILN_GUEST_DIR/accel" 2>/dev/null || echo tcg), $(date -u +%F), N=$N"
read -r ks0 ks1 ks2 kf0 kf1 kf2 <<<"$(time_pods kiln)"
read -r rs0 rs1 rs2 rf0 rf1 rf2 <<<"$(time_pods runc)"
ratio() { awk -v k="$1" -v r="$2" 'BEGIN { if (k + 0 > 0 && r + 0 > 0) printf "%.1fx", k / r; else print "?" }'; }
printf '%-44s %22s %22s %7s\n' "ms (min / median / max)" kiln runc ratio
printf '%-44s %22s %22s %7s\n' "RunPodSandbox" "$ks0 / $ks1 / $ks2" "$rs0 / $rs1 / $rs2" "$(ratio "$ks1" "$rs1")"
printf '%-44s %22s %22s %7s\n' "RunPodSandbox -> first container started" "$kf0 / $kf1 / $kf2" "$rf0 / $rf1 / $rf2" "$(ratio "$kf1" "$rf1")"
read -r k0 k1 k3 <<<"$(overhead kiln)"
read -r r0 r1 r3 <<<"$(overhead runc)"
printf '%-44s %10s %10s %10s\n' "pod PSS, kB" "sandbox" "1 ctr" "3 ctrs"
printf '%-44s %10s %10s %10s\n' "kiln (shims + QEMUs)" "$k0" "$k1" "$k3"
printf '%-44s %10s %10s %10s\n' "runc (shims + pause + containers)" "$r0" "$r1" "$r3"
# podFixed: the pod of one container (the sandbox alone if containers
# cannot start yet) less what runc needs for it, rounded up to 16 MiB.
# Like for like: runc's pod of one container, or runc's sandbox only.
base=$k1 ref=$r1
[[ $base =~ ^[0-9]+$ ]] || base=$k0 ref=$r0
[[ $ref =~ ^[0-9]+$ ]] || ref=0
[[ $base =~ ^[0-9]+$ ]] &&
	awk -v k="$base" -v r="$ref" -v from="$([[ $base == "$k1" ]] && echo "1 container" || echo "the sandbox only")" \
		'BEGIN { m = (k - r) / 1024; m = int((m + 15) / 16) * 16;
		printf "RuntimeClass overhead.podFixed memory: %dMi (kiln pod PSS of %s, %d kB, less runc'"'"'s %d kB)\n", m, from, k, r }'

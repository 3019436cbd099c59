#!/bin/bash
# tests/e2e/bench_net.sh -- part of `make bench`: the network, kiln next to
# runc in the same run, inside a test namespace (lib/net.sh): ping RTT to
# the bridge and TCP throughput container -> bridge side and back (64 MiB
# each way, measured on the bridge side from accept to close). Prints
# figures, asserts nothing.
set -uo pipefail

HERE=$(cd "$(dirname -- "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib/tap.sh"
source "$HERE/lib/containerd.sh"
source "$HERE/lib/net.sh"
BUILD=${KILN_BUILD:-$ROOT/build/release}
export KILN_GUEST_DIR=${KILN_GUEST_DIR:-$ROOT/build/guest}
IMAGE=docker.io/kiln/busybox:latest
SERVE=$HERE/lib/tcpserve.py
GW=10.99.0.1
MIB=${BENCH_NET_MIB:-64}

cleanup() {
	kiln_containerd_stop >/dev/null 2>&1 || true
	kiln_net_teardown
	rm -rf "$netdir"
}
trap cleanup EXIT

dir=$(mktemp -d /tmp/kiln-bnet-XXXXXX)
netdir=$(mktemp -d /tmp/kiln-bnetd-XXXXXX)
kiln_net_setup "$netdir" "kiln-bnet-$$" &&
	KILN_CTR_NETNS=$KILN_NET_NS kiln_containerd_start "$dir" "$BUILD" >/dev/null &&
	"$HERE/lib/mkbusybox-oci.sh" "$netdir/bb.tar" >/dev/null &&
	kiln_ctr images import "$netdir/bb.tar" >/dev/null || exit 1

serve() {
	rm -f "$dir/ready"
	kiln_net_ns "$SERVE" "$@" "$dir/ready" >"$dir/served" &
	SERVE_PID=$!
	wait_for 30 test -e "$dir/ready"
}
mibs() { awk '{ if ($2 > 0) printf "%.1f", $1 / 1048576 / $2; else print "?" }' "$1"; }

# rt: ping avg ms, MiB/s out, MiB/s in
measure() {
	local rt=$1 rtt out in
	rtt=$(kiln_ctr_cni run --rm --cni --runtime "$rt" "$IMAGE" "p-$RANDOM" \
		ping -c 10 -i 0.2 "$GW" 2>/dev/null | awk -F/ '/min\/avg/ {print $4}')
	serve sink "$GW" 9200 "$dir/sink"
	kiln_ctr_cni run --rm --cni --runtime "$rt" "$IMAGE" "o-$RANDOM" sh -c \
		"dd if=/dev/zero bs=1M count=$MIB 2>/dev/null | nc $GW 9200" >/dev/null 2>&1
	wait "$SERVE_PID"
	out=$(mibs "$dir/sink")
	serve source "$GW" 9201 "$MIB"
	kiln_ctr_cni run --rm --cni --runtime "$rt" "$IMAGE" "i-$RANDOM" sh -c \
		"nc $GW 9201 >/dev/null" >/dev/null 2>&1
	wait "$SERVE_PID"
	in=$(mibs "$dir/served")
	echo "$rtt $out $in"
}

echo "kiln network, $MIB MiB each way, bridge + host-local in a test namespace ($(nproc) cores, $(date -u +%F))"
read -r r_rtt r_out r_in <<<"$(measure io.containerd.runc.v2)"
read -r k_rtt k_out k_in <<<"$(measure io.containerd.kiln.v1)"
ratio() { awk -v k="$1" -v r="$2" 'BEGIN { if (r > 0 && k != "" && r != "") printf "%.2f", k / r; else print "?" }'; }
printf '%-32s %10s %10s %8s\n' measure kiln runc ratio
printf '%-32s %10s %10s %8s\n' "ping RTT to the bridge, ms" "$k_rtt" "$r_rtt" "$(ratio "$k_rtt" "$r_rtt")"
printf '%-32s %10s %10s %8s\n' "TCP container -> bridge, MiB/s" "$k_out" "$r_out" "$(ratio "$k_out" "$r_out")"
printf '%-32s %10s %10s %8s\n' "TCP bridge -> container, MiB/s" "$k_in" "$r_in" "$(ratio "$k_in" "$r_in")"

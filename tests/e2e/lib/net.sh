# shellcheck shell=bash
# tests/e2e/lib/net.sh -- a test network for kiln: a network namespace that
# the test makes, a bridge + host-local conflist, and ctr with --cni.
#
#   source tests/e2e/lib/net.sh
#   kiln_net_setup DIR NAME       # netns NAME, DIR/net.d/10-kiln.conflist
#   KILN_CTR_NETNS=$KILN_NET_NS kiln_containerd_start DIR SHIM_DIR
#   kiln_ctr_cni run --cni ...    # ctr in the test namespace, CNI dirs bound
#   kiln_net_ns CMD...            # a command in the test namespace
#   kiln_net_teardown
#
# Everything lives in the namespace (the bridge kilnbr0 at 10.99.0.1/24,
# leases under DIR/ipam); nothing is sent anywhere else. ctr reads
# /etc/cni/net.d and /opt/cni/bin: it runs in a private mount namespace
# where both are DIR's conflist and Debian's plugins (empty mount points
# are made if missing and removed afterwards if still empty).

KILN_NET_SUBNET=10.99.0
KILN_NET_MADE_DIRS=

kiln_net_setup() {
	local dir=$1 name=$2 d
	export KILN_NET_NAME=$name KILN_NET_DIR=$dir
	export KILN_NET_NS=/var/run/netns/$name
	ip netns del "$name" 2>/dev/null || true
	ip netns add "$name" || return 1
	ip -n "$name" link set lo up || return 1
	mkdir -p "$dir/net.d" "$dir/ipam" || return 1
	for d in /etc/cni/net.d /opt/cni/bin; do
		if [[ ! -d $d ]]; then
			mkdir -p "$d" && KILN_NET_MADE_DIRS="$d $KILN_NET_MADE_DIRS"
		fi
	done
	kiln_net_conflist "$dir/ipam" >"$dir/net.d/10-kiln.conflist"
}

kiln_net_conflist() {
	cat <<EOF
{"cniVersion": "1.0.0", "name": "kilnnet", "plugins": [
  {"type": "bridge", "bridge": "kilnbr0", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "dataDir": "$1",
            "ranges": [[{"subnet": "$KILN_NET_SUBNET.0/24"}]],
            "routes": [{"dst": "0.0.0.0/0"}]}}]}
EOF
}

kiln_net_ns() {
	nsenter --net="$KILN_NET_NS" "$@"
}

# ctr against the private containerd, in the test namespace, with CNI.
kiln_ctr_cni() {
	nsenter --net="$KILN_NET_NS" unshare -m --propagation private sh -c '
		mount --bind "$1/net.d" /etc/cni/net.d &&
		mount --bind /usr/lib/cni /opt/cni/bin || exit 125
		shift
		exec timeout -s KILL "${KILN_CTR_TIMEOUT:-120}" ctr "$@"' \
		sh "$KILN_NET_DIR" -a "$KILN_CTR_SOCK" "$@"
}

# Leases host-local holds in the test network (one file per address).
kiln_net_leases() {
	find "$KILN_NET_DIR/ipam" -type f -name "$KILN_NET_SUBNET.*" 2>/dev/null | wc -l
}

kiln_net_veths() {
	ip -n "$KILN_NET_NAME" -o link show type veth 2>/dev/null | wc -l
}

kiln_net_teardown() {
	local d
	[[ -n ${KILN_NET_NAME:-} ]] || return 0
	ip netns del "$KILN_NET_NAME" 2>/dev/null || true
	for d in $KILN_NET_MADE_DIRS; do
		rmdir "$d" 2>/dev/null && rmdir "$(dirname "$d")" 2>/dev/null
	done
	KILN_NET_MADE_DIRS=
	true
}

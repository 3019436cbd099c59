#!/bin/bash
# tests/e2e/t_net.sh -- kiln as a networked runtime, through the real
# containerd and ctr --cni, all inside a network namespace this test makes
# (containerd started in it with nsenter --net). A bridge + host-local
# conflist gives containers addresses on 10.99.0.0/24, the bridge side is
# 10.99.0.1; no packet leaves the namespace.
set -uo pipefail

HERE=$(cd "$(dirname -- "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib/tap.sh"
source "$HERE/lib/containerd.sh"
source "$HERE/lib/net.sh"
BUILD=${KILN_BUILD:-$ROOT/build/debug}
IMAGE=docker.io/kiln/busybox:latest
RT=io.containerd.kiln.v1
SERVE=$HERE/lib/tcpserve.py
GW=10.99.0.1
export KILN_GUEST_DIR=$ROOT/build/guest
POD_NS=

cleanup() {
	kiln_containerd_stop >/dev/null 2>&1 || true
	[[ -n $POD_NS ]] && ip netns del "$POD_NS" 2>/dev/null
	kiln_net_teardown
	rm -rf "$netdir"
}
trap cleanup EXIT

dir=$(mktemp -d /tmp/kiln-net-XXXXXX)
# The network's files (conflist, leases, image) outlive each containerd.
netdir=$(mktemp -d /tmp/kiln-netd-XXXXXX)
name=kiln-tnet-$$
kiln_net_setup "$netdir" "$name" &&
	KILN_CTR_NETNS=$KILN_NET_NS kiln_containerd_start "$dir" "$BUILD" >/dev/null &&
	"$HERE/lib/mkbusybox-oci.sh" "$netdir/bb.tar" >/dev/null &&
	kiln_ctr images import "$netdir/bb.tar" >/dev/null
ok $? "test namespace $name, private containerd in it, image imported"
ns_before=$(kiln_net_ns ip -o addr show | awk '{print $2, $4}' | sort)
run() { kiln_ctr_cni run --rm --runtime "$RT" "$@"; }
ip_of() { kiln_ctr task exec --exec-id "ip$RANDOM" "$1" ip -4 -o addr show eth0 |
	awk '{split($4, a, "/"); print a[1]}'; }
# A server on the bridge side; waits until it listens.
serve() {
	rm -f "$dir/ready"
	kiln_net_ns "$SERVE" "$@" "$dir/ready" &
	SERVE_PID=$!
	wait_for 30 test -e "$dir/ready"
}

# ---- one container with --cni --------------------------------------------
out=$(run --cni "$IMAGE" n1 sh -c 'ip -4 -o addr show eth0; ip route;
	echo ---; cat /etc/resolv.conf; echo ---; ping -c 2 -W 5 '$GW' >/dev/null &&
	echo PING-OK' 2>&1)
rc=$?
diag "$out"
[[ $rc == 0 ]] && grep -q "eth0 *inet $KILN_NET_SUBNET\." <<<"$out"
ok $? "ctr run --cni: eth0 has an address from CNI"
grep -q "^default via $GW dev eth0" <<<"$out"
ok $? "the default route CNI set points at the bridge"
grep -q PING-OK <<<"$out"
ok $? "the container pings the gateway"
grep -q '^nameserver ' <<<"$out"
ok $? "/etc/resolv.conf is present with a nameserver"

# ---- TCP out and in, container to container, 64 MiB ------------------------
serve line "$GW" 9101 "$dir/line"
run --cni "$IMAGE" n2 sh -c 'echo hello-from-kiln | nc '$GW' 9101' >/dev/null 2>&1
wait "$SERVE_PID"
[[ $(cat "$dir/line" 2>/dev/null) == hello-from-kiln ]]
ok $? "TCP out: a server on the bridge side got the container's line"

# Not detached: ctr stays to run CNI DEL when the server is killed.
run --cni "$IMAGE" web sh -c \
	'mkdir -p /www && echo served-by-kiln >/www/index.html &&
	 exec httpd -f -p 8080 -h /www' >/dev/null 2>&1 &
web_ctr=$!
wait_for 120 sh -c "ctr -a $KILN_CTR_SOCK task ls | grep -q '^web .*RUNNING'"
web_ip=$(ip_of web)
diag "web at $web_ip"
got=$(kiln_net_ns curl -s --max-time 30 "http://$web_ip:8080/index.html")
[[ $got == served-by-kiln ]]
ok $? "TCP in: the bridge side fetches from a server in the container"

got=$(run --cni "$IMAGE" n3 sh -c "printf 'GET /index.html HTTP/1.0\r\n\r\n' |
	nc $web_ip 8080" 2>&1 | tail -1)
[[ $got == served-by-kiln ]]
ok $? "container to container over the bridge"

head -c $((64 << 20)) /dev/urandom >"$dir/blob"
want=$(md5sum <"$dir/blob" | cut -d' ' -f1)
serve send "$GW" 9102 "$dir/blob"
t0=$(date +%s.%N)
got=$(run --cni "$IMAGE" n4 sh -c "nc $GW 9102 | md5sum" 2>&1 | cut -d' ' -f1)
t1=$(date +%s.%N)
wait "$SERVE_PID"
[[ $got == "$want" ]]
ok $? "64 MiB through the NIC, byte-exact"
diag "64 MiB in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s (whole ctr run)"

kiln_ctr task kill -s KILL web >/dev/null 2>&1
wait_for 120 sh -c "! kill -0 $web_ctr 2>/dev/null"

# ---- no network, and a namespace from the spec ------------------------------
out=$(kiln_ctr run --rm --runtime "$RT" "$IMAGE" plain ip -o link 2>&1)
diag "$out"
[[ $(wc -l <<<"$out") == 1 ]] && grep -q ': lo:' <<<"$out"
ok $? "plain ctr run: loopback only, as with runc"

POD_NS=kiln-tpod-$$
ip netns add "$POD_NS"
plugin_conf() { python3 -c 'import json,sys; c=json.load(open(sys.argv[1]));
p=c["plugins"][0]; p["name"]=c["name"]; p["cniVersion"]=c["cniVersion"];
print(json.dumps(p))' "$netdir/net.d/10-kiln.conflist"; }
cni_pod() {
	plugin_conf | kiln_net_ns env CNI_COMMAND="$1" CNI_CONTAINERID=pod$$ \
		CNI_NETNS=/var/run/netns/$POD_NS CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni \
		/usr/lib/cni/bridge
}
cni_pod ADD >"$dir/pod-result" 2>&1
pod_ip=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ips"][0]["address"].split("/")[0])' \
	"$dir/pod-result" 2>/dev/null)
out=$(kiln_ctr run --rm --runtime "$RT" --with-ns "network:/var/run/netns/$POD_NS" \
	"$IMAGE" withns sh -c "ip -4 -o addr show eth0; ping -c 1 -W 5 $GW >/dev/null && echo PING-OK" 2>&1)
diag "$out"
[[ -n $pod_ip ]] && grep -q "inet $pod_ip/" <<<"$out" && grep -q PING-OK <<<"$out"
ok $? "a namespace path in the spec: QEMU joins it, the guest has its veth's address"
cni_pod DEL >/dev/null 2>&1
ip netns del "$POD_NS"
POD_NS=

# ---- an OCI hook in the runtime namespace -----------------------------------
"$HERE/lib/mkbusybox-rootfs.sh" "$dir/hookroot" >/dev/null
kiln_ctr oci spec >"$dir/spec0.json"
python3 - "$dir" <<'EOP'
import json, sys
d = sys.argv[1]
s = json.load(open(d + "/spec0.json"))
s["process"]["args"] = ["/bin/true"]
s["process"]["terminal"] = False
s["root"] = {"path": d + "/hookroot"}
rec = ('s=$(cat); echo "$s" > %s/hookstate; '
       'p=$(echo "$s" | sed "s/.*\\"pid\\":\\([0-9]*\\).*/\\1/"); '
       'readlink /proc/$p/ns/net > %s/vmns; readlink /proc/self/ns/net > %s/hookns') % (d, d, d)
s["hooks"] = {"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", rec]}]}
json.dump(s, open(d + "/spec.json", "w"))
EOP
kiln_ctr run --rm --config "$dir/spec.json" --runtime "$RT" hooked >/dev/null 2>&1
diag "hook saw: $(cat "$dir/hookstate" 2>/dev/null)"
python3 -c 'import json,sys; s=json.load(open(sys.argv[1]));
sys.exit(not (s["id"] == "hooked" and s["status"] == "creating" and s["pid"] > 0
and s["bundle"].endswith("/hooked")))' "$dir/hookstate" 2>/dev/null
ok $? "a createRuntime hook runs on the host with the OCI state on stdin"
[[ -s $dir/vmns && -s $dir/hookns && $(cat "$dir/vmns") != "$(cat "$dir/hookns")" ]]
ok $? "the hook runs in the runtime namespace and sees the VM's own namespace by pid"

# Create fails while its createRuntime hook still runs (the hook kills
# QEMU, then lingers): the hook is stopped, and the poststop hook runs once
# the VM is gone (CNI DEL and poststop are not skipped; tla/README.md,
# PoststopBeforeDeleted).
python3 - "$dir" <<'EOP'
import json, sys
d = sys.argv[1]
s = json.load(open(d + "/spec.json"))
kill = ('s=$(cat); p=$(echo "$s" | sed "s/.*\\"pid\\":\\([0-9]*\\).*/\\1/"); '
        'kill -9 $p; sleep 5.0417; touch %s/create-hook-finished') % d
s["hooks"] = {"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", kill]}],
              "poststop": [{"path": "/bin/sh", "args": ["sh", "-c", "touch %s/poststop-ran" % d]}]}
json.dump(s, open(d + "/spec-fail.json", "w"))
EOP
rm -f "$dir/poststop-ran" "$dir/create-hook-finished"
! kiln_ctr run --rm --config "$dir/spec-fail.json" --runtime "$RT" hookfail >/dev/null 2>&1
rc=$?
kiln_ctr container rm hookfail >/dev/null 2>&1
wait_for 30 test -e "$dir/poststop-ran"
# The hook's shell was killed: when its sleep is over, nothing follows.
wait_for 30 sh -c '! pgrep -f "sleep 5[.]0417" >/dev/null'
[[ $rc == 0 && -e $dir/poststop-ran && ! -e $dir/create-hook-finished ]]
ok $? "Create failing under a running createRuntime hook: the hook is stopped, poststop still runs"

# ---- kill -9 of a networked container's shim -------------------------------
kiln_ctr_cni run --rm --cni --runtime "$RT" "$IMAGE" victim sleep 600 >/dev/null 2>&1 &
victim_ctr=$!
wait_for 120 sh -c "ctr -a $KILN_CTR_SOCK task ls | grep -q '^victim .*RUNNING'"
shim=$(pgrep -f -- "-id victim .*-address $KILN_CTR_SOCK" | head -1)
[[ -n $shim ]] && kill -9 "$shim"
wait_for 120 sh -c "! kill -0 $victim_ctr 2>/dev/null"
ok $? "kill -9 of the shim: ctr run returns (containerd cleaned up, ctr ran DEL)"

# ---- twenty create/delete cycles ---------------------------------------------
fails=0
for i in $(seq 1 20); do
	run --cni "$IMAGE" "cyc$i" true >/dev/null 2>&1 || fails=$((fails + 1))
done
ok $((fails != 0)) "20 ctr run --rm --cni cycles succeed (failures: $fails)"

# ---- nothing left -------------------------------------------------------------
leases_gone() { [[ $(kiln_net_leases) == 0 ]]; }
veths_gone() { [[ $(kiln_net_veths) == 0 ]]; }
wait_for 60 veths_gone
ok $? "no veth left in the test namespace ($(kiln_net_veths))"
wait_for 30 leases_gone
ok $? "no lease left ($(kiln_net_leases))"
left=$(find /run/kiln -name netns 2>/dev/null | wc -l)
ok $((left != 0)) "no kiln network namespace left ($left)"
grep -q "nsfs /run/kiln" /proc/self/mountinfo
ok $((!$?)) "no namespace bind mount left"
ls /var/lib/cni/results 2>/dev/null | grep -q -- "-\(n[1-4]\|web\|cyc[0-9]*\|victim\)-eth0"
ok $((!$?)) "no CNI cache entry of ours left"
ns_after=$(kiln_net_ns ip -o addr show | awk '{print $2, $4}' | sort)
diag "containerd's namespace: $(tr '\n' ';' <<<"$ns_after")"
! grep -q "^eth0 " <<<"$ns_after" &&
	[[ $(grep -v '^kilnbr0 ' <<<"$ns_after") == "$(grep -v '^kilnbr0 ' <<<"$ns_before")" ]]
ok $? "containerd's own namespace has no eth0 and no foreign address"

# ---- kiln runs CNI itself (config cni_conflist), for plain ctr run ----------
kiln_containerd_stop >/dev/null 2>&1
dir2=$(mktemp -d /tmp/kiln-net2-XXXXXX)
cat >"$dir2/kiln.json" <<EOF
{"cni_conflist": "$netdir/net.d/10-kiln.conflist", "cni_bin_dirs": "/usr/lib/cni",
 "cni_cache_dir": "$dir2/cnicache"}
EOF
KILN_CONFIG=$dir2/kiln.json KILN_CTR_NETNS=$KILN_NET_NS \
	kiln_containerd_start "$dir2" "$BUILD" >/dev/null &&
	kiln_ctr images import "$netdir/bb.tar" >/dev/null
ok $? "containerd with kiln configured to run CNI itself"
out=$(kiln_ctr run --rm --runtime "$RT" "$IMAGE" own sh -c \
	"ip -4 -o addr show eth0; ping -c 1 -W 5 $GW >/dev/null && echo PING-OK" 2>&1)
diag "$out"
grep -q "eth0 *inet $KILN_NET_SUBNET\." <<<"$out" && grep -q PING-OK <<<"$out"
ok $? "plain ctr run: kiln's own CNI ADD gives eth0 an address, the gateway answers"
cache_entries() { find "$dir2/cnicache" -type f 2>/dev/null | wc -l; }
no_cache() { [[ $(cache_entries) == 0 ]]; }
wait_for 30 no_cache && leases_gone
ok $? "Delete ran kiln's CNI DEL: no cache entry, no lease"
kiln_ctr run -d --runtime "$RT" "$IMAGE" own2 sleep 600 >/dev/null 2>&1
wait_for 120 sh -c "ctr -a $KILN_CTR_SOCK task ls | grep -q '^own2 .*RUNNING'"
[[ $(cache_entries) == 1 && $(kiln_net_leases) == 1 ]]
ok $? "a detached container holds its cache entry and lease"
shim=$(pgrep -f -- "-id own2 .*-address $KILN_CTR_SOCK" | head -1)
[[ -n $shim ]] && kill -9 "$shim"
wait_for 120 sh -c "ctr -a $KILN_CTR_SOCK task ls | grep -q '^own2 .*STOPPED'"
kiln_ctr task delete own2 >/dev/null 2>&1
kiln_ctr container delete own2 >/dev/null 2>&1
wait_for 30 no_cache && wait_for 30 leases_gone
ok $? "kill -9 of its shim: the delete action ran CNI DEL from the cache"
wait_for 60 veths_gone
ok $? "no veth left ($(kiln_net_veths))"
kiln_containerd_stop >/dev/null 2>&1

tap_done

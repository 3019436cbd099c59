#!/bin/bash
# tests/e2e/t_cri.sh -- kiln as a Kubernetes RuntimeClass handler: the real
# containerd with its CRI plugin (KILN_CTR_CRI=1 in lib/containerd.sh) and a
# `kiln` handler, driven as the kubelet drives it, through our CRI client
# (tests/cri/kiln_cri.py). All inside a network namespace this test makes
# (lib/net.sh: bridge + host-local on 10.99.0.0/24); the sandbox image is
# built here (tests/pause.c), nothing is pulled.
#
# Checks: Version; RunPodSandbox -> READY with an IP from CNI; two app
# containers in the pod (a busybox httpd on 127.0.0.1 and a client);
# ListContainers / ContainerStatus; ExecSync; the containers talk over
# 127.0.0.1 and see one guest boot id (one VM per pod); a second pod is
# another VM; ContainerStats; UpdateContainerResources (grows the VM, or
# a clear Unimplemented: either passes, the diag says which); stop and
# removal, then nothing left (QEMU, shims, mounts, pod netns, CNI lease and
# cache, veth); and a pod whose VM is killed: EXITED, NOTREADY, removable.
#
# Checks that need one VM per pod (app containers joining the sandbox's
# VM, issue 14's shim side) carry $GROUPING, a TAP TODO while that work
# has not landed: set it to empty when it does.
set -uo pipefail

HERE=$(cd "$(dirname -- "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib/tap.sh"
source "$HERE/lib/containerd.sh"
source "$HERE/lib/net.sh"
BUILD=${KILN_BUILD:-$ROOT/build/debug}
export KILN_GUEST_DIR=$ROOT/build/guest
PAUSE=localhost/kiln/pause:3.9-kiln
IMAGE=docker.io/kiln/busybox:latest
STEP=${KILN_CRI_STEP:-120} # seconds per CRI call (TCG boots take 2-3 s)
GROUPING=""
SUBNET=10.99.0

cleanup() {
	kiln_containerd_stop >/dev/null 2>&1 || true
	kiln_net_teardown
	rm -rf "$netdir"
}
trap cleanup EXIT

dir=$(mktemp -d /tmp/kiln-cri-XXXXXX)
netdir=$(mktemp -d /tmp/kiln-crin-XXXXXX)
mkdir -p "$dir/logs"

exec 3>&1
CRI_QUIET=0 # 1 inside polls: their failures are expected
# cri ARGS...: kiln_cri.py with a deadline per call; stderr kept in
# $dir/cri.err (and shown as a diag on failure).
cri() {
	local rc
	timeout -s KILL $((STEP + 60)) /usr/bin/python3 "$ROOT/tests/cri/kiln_cri.py" \
		--gen "$BUILD/cri" -t "$STEP" "$@" 2>"$dir/cri.err"
	rc=$?
	# To the TAP stream (fd 3), not into the caller's $(...).
	if [[ $rc != 0 && $CRI_QUIET == 0 ]]; then diag "kiln_cri $1: $(cat "$dir/cri.err")" >&3; fi
	return $rc
}
cri_err() { cat "$dir/cri.err" 2>/dev/null; }

# pod_config NAME: a PodSandboxConfig as the kubelet writes one (cgroup
# parent from containerd.sh, so its cgroups are cleaned up; per-container
# PID namespaces, as the kubelet sets for v1 pods).
pod_config() {
	cat >"$dir/$1.json" <<EOF
{"metadata": {"name": "$1", "uid": "uid-$1-$$", "namespace": "kiln-test", "attempt": 0},
 "hostname": "$1", "log_directory": "$dir/logs/$1",
 "linux": {"cgroup_parent": "$KILN_CTR_CGROUP_PARENT",
           "security_context": {"namespace_options": {"network": "POD", "pid": "CONTAINER", "ipc": "POD"}}}}
EOF
	echo "$dir/$1.json"
}

# ctr_config NAME ARGV_JSON: a ContainerConfig running busybox.
ctr_config() { # NAME ARGV_JSON [RESOURCES_JSON]
	local res=${3:-"{}"}
	cat >"$dir/c-$1.json" <<EOF
{"metadata": {"name": "$1", "attempt": 0}, "image": {"image": "$IMAGE"},
 "command": $2, "log_path": "$1.log",
 "linux": {"resources": $res, "security_context": {"namespace_options": {"network": "POD", "pid": "CONTAINER", "ipc": "POD"}}}}
EOF
	echo "$dir/c-$1.json"
}

# run_pod NAME: RunPodSandbox with the kiln handler; prints the id.
run_pod() { cri runp -r kiln "$(pod_config "$1")" -f pod_sandbox_id; }
# run_ctr POD_ID POD_NAME NAME ARGV_JSON [RESOURCES_JSON]: create + start; prints the id.
run_ctr() {
	local id
	id=$(cri create "$1" "$(ctr_config "$3" "$4" "${5:-}")" "$dir/$2.json" -f container_id) || return 1
	echo "$id"
	cri start "$id" >/dev/null
}
# wait_until SECONDS CMD...: poll CMD until it succeeds, by the clock (each
# poll is a CRI call of its own, so tap.sh's wait_for, which counts polls,
# would wait far longer than it says). CMD returning 2 means "never": stop.
wait_until() {
	local end=$((SECONDS + $1)) rc=1
	shift
	CRI_QUIET=1
	while ((SECONDS < end)); do
		"$@"
		rc=$?
		[[ $rc == 0 || $rc == 2 ]] && break
		rc=1
		sleep 0.2
	done
	CRI_QUIET=0
	return $rc
}
# ctr_is ID STATE: 0 when there, 2 when it can no longer get there (no such
# container, or EXITED while waiting for RUNNING), else 1.
ctr_is() {
	local st
	st=$(ctr_state "$1" 2>/dev/null) || return 2
	[[ $st == "$2" ]] && return 0
	[[ $2 == CONTAINER_RUNNING && $st == CONTAINER_EXITED ]] && return 2
	return 1
}
pod_is() {
	local st
	st=$(pod_state "$1" 2>/dev/null) || return 2
	[[ $st == "$2" ]]
}
pod_state() { cri inspectp "$1" -f status.state; }
ctr_state() { cri inspect "$1" -f status.state; }
exec_out() { cri exec-sync "$1" --timeout 60 -f stdout -- "${@:2}"; }
boot_id() { exec_out "$1" cat /proc/sys/kernel/random/boot_id; }
# The container's own cgroup file NAME (in a cgroup namespace or not).
cg_file() { # CONTAINER NAME
	exec_out "$1" sh -c 'f=/sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup)/$0; [ -r "$f" ] || f=/sys/fs/cgroup/$0; cat "$f"' "$2"
}

# Processes of this test: QEMUs and kiln shims whose command line names $dir.
qemu_pids() { pgrep -f "qemu-system.*$dir/" | sort; }
shim_pids() { pgrep -f "containerd-shim-kiln-v1 .*-address $dir/" | sort; }
count() { grep -c . <<<"$1"; }
mounts_under() { awk -v d="$1/" 'index($5, d) == 1' /proc/self/mountinfo | wc -l; }
netns_left() { find "$dir/state/io.containerd.grpc.v1.cri/netns" -mindepth 1 2>/dev/null | wc -l; }
cni_cache_of() { ls /var/lib/cni/results/*-"$1"-* 2>/dev/null | wc -l; }

# nothing_left WHAT POD_IDS...: no VM, shim, mount under the state dir,
# pod netns, lease, CNI cache entry or veth is left of this test's pods.
nothing_left() {
	local what=$1 p cache=0 q s m n l v
	shift
	for p in "$@"; do cache=$((cache + $(cni_cache_of "$p"))); done
	q=$(qemu_pids) s=$(shim_pids) m=$(mounts_under "$dir/state") n=$(netns_left)
	l=$(kiln_net_leases) v=$(kiln_net_veths)
	diag "$what: qemu=[${q//$'\n'/ }] shims=[${s//$'\n'/ }] mounts=$m netns=$n leases=$l cni_cache=$cache veths=$v"
	[[ -z $q && -z $s && $m == 0 && $n == 0 && $l == 0 && $cache == 0 && $v == 0 ]]
}

# ---- containerd with CRI, the images ----------------------------------------
kiln_net_setup "$netdir" "kiln-tcri-$$" &&
	KILN_CTR_CRI=1 KILN_CTR_CRI_NETD=$netdir/net.d KILN_CTR_NETNS=$KILN_NET_NS \
		kiln_containerd_start "$dir" "$BUILD" >/dev/null &&
	"$HERE/lib/mkpause-oci.sh" "$netdir/pause.tar" "$BUILD/tests/kiln-pause" "$PAUSE" >/dev/null &&
	"$HERE/lib/mkbusybox-oci.sh" "$netdir/bb.tar" "$IMAGE" >/dev/null &&
	kiln_ctr -n k8s.io images import "$netdir/pause.tar" >/dev/null &&
	kiln_ctr -n k8s.io images import "$netdir/bb.tar" >/dev/null &&
	cri img-status "$PAUSE" --wait "$STEP" >/dev/null &&
	cri img-status "$IMAGE" --wait "$STEP" >/dev/null
ok $? "containerd with CRI in test namespace kiln-tcri-$$; pause and busybox images known to CRI"

out=$(cri version)
diag "$out"
[[ $(jq -r .runtime_name <<<"$out") == containerd &&
	$(jq -r .runtime_api_version <<<"$out") == v1 ]]
ok $? "Version: runtime containerd, runtime API v1"

# ---- a pod, two containers ------------------------------------------------------
t0=$(date +%s.%N)
pod1=$(run_pod p1)
rc=$?
diag "RunPodSandbox p1: $pod1 in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s"
st=$(cri inspectp "$pod1")
ip1=$(jq -r .status.network.ip <<<"$st" 2>/dev/null)
diag "p1: state $(jq -r .status.state <<<"$st" 2>/dev/null) ip $ip1 handler $(jq -r .status.runtime_handler <<<"$st" 2>/dev/null)"
[[ $rc == 0 && $(jq -r .status.state <<<"$st") == SANDBOX_READY ]]
ok $? "RunPodSandbox (handler kiln): PodSandboxStatus READY"
[[ $ip1 == "$SUBNET".* ]]
ok $? "the pod has an address from CNI ($ip1)"
[[ $(count "$(qemu_pids)") == 1 ]]
ok $? "the sandbox is one VM"

web=$(run_ctr "$pod1" p1 web '["sh", "-c", "mkdir -p /www && cat /proc/sys/kernel/random/boot_id >/www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www"]')
rc_web=$?
cli=$(run_ctr "$pod1" p1 client '["sh", "-c", "trap \"exit 7\" TERM; while :; do sleep 1; done"]')
rc_cli=$?
[[ $rc_web == 0 && $rc_cli == 0 && -n $web && -n $cli ]]
ok $? "CreateContainer + StartContainer x 2 in the pod$GROUPING"

out=$(cri ps --pod "$pod1")
diag "ListContainers: $(jq -c '[.containers[] | {name: .metadata.name, state}]' <<<"$out" 2>/dev/null)"
[[ $(jq '[.containers[] | select(.state == "CONTAINER_RUNNING")] | length' <<<"$out" 2>/dev/null) == 2 ]]
ok $? "ListContainers: both RUNNING$GROUPING"
wait_until "$STEP" ctr_is "$cli" CONTAINER_RUNNING &&
	wait_until "$STEP" ctr_is "$web" CONTAINER_RUNNING
ok $? "ContainerStatus: RUNNING$GROUPING"

out=$(cri exec-sync "$cli" --timeout 60 -- sh -c 'echo out-$((6 * 7)); echo err >&2; exit 3')
diag "ExecSync: $(jq -c . <<<"$out" 2>/dev/null)"
[[ $(jq -r .stdout <<<"$out" 2>/dev/null) == out-42 && $(jq -r .exit_code <<<"$out" 2>/dev/null) == 3 ]]
ok $? "ExecSync: stdout and a non-zero exit code$GROUPING"

# The server may need a moment after StartContainer to listen.
fetch() { exec_out "$cli" sh -c "printf 'GET /index.html HTTP/1.0\r\n\r\n' | nc 127.0.0.1 8080"; }
# Done when a page came back, or when the client is not running at all.
try_fetch() {
	# The body is the boot id (the printed field ends with an empty line).
	got=$(fetch 2>/dev/null | grep -E '^[0-9a-f-]{36}$' | tail -n 1)
	[[ -n $got ]] && return 0
	ctr_is "$cli" CONTAINER_RUNNING || return 2
	return 1
}
got=
wait_until 60 try_fetch
cli_boot=$(boot_id "$cli")
diag "web's page (its boot id): '$got'; client's boot id: '$cli_boot'"
[[ -n $got && $got =~ ^[0-9a-f-]{36}$ ]]
ok $? "the client reaches the server over 127.0.0.1$GROUPING"
[[ -n $cli_boot && $got == "$cli_boot" ]]
ok $? "both containers read the same boot_id: one VM for the pod$GROUPING"

# ---- a second pod is another VM ----------------------------------------------------
pod2=$(run_pod p2)
ip2=$(cri inspectp "$pod2" -f status.network.ip)
other=$(run_ctr "$pod2" p2 other '["sh", "-c", "trap \"exit 0\" TERM; while :; do sleep 1; done"]')
other_boot=$(boot_id "$other")
q=$(qemu_pids)
diag "p2: $pod2 ip $ip2, boot id '$other_boot'; QEMUs: ${q//$'\n'/ }"
[[ -n $other_boot && -n $cli_boot && $other_boot != "$cli_boot" && $ip2 == "$SUBNET".* && $ip2 != "$ip1" ]]
ok $? "a second pod: its own address and another VM (different boot_id)$GROUPING"
[[ $(count "$q") == 2 ]]
ok $? "two pods, three containers: two VMs$GROUPING"

# ---- stats, update -------------------------------------------------------------------
out=$(cri stats "$cli")
diag "ContainerStats: $(jq -c '{cpu: .stats.cpu.usage_core_nano_seconds.value, mem: .stats.memory.working_set_bytes.value}' <<<"$out" 2>/dev/null)"
[[ $(jq '((.stats.cpu.usage_core_nano_seconds.value // "0") | tonumber) > 0 or
	((.stats.memory.working_set_bytes.value // "0") | tonumber) > 0' <<<"$out" 2>/dev/null) == true ]]
ok $? "ContainerStats: CPU and memory values$GROUPING"

cpus0=$(exec_out "$cli" nproc)
mem0=$(exec_out "$cli" awk '/^MemTotal/ {print $2}' /proc/meminfo)
echo '{"cpu_period": 100000, "cpu_quota": 200000, "cpu_shares": 2048, "memory_limit_in_bytes": 805306368}' >"$dir/res.json"
grown() {
	local c m
	c=$(exec_out "$cli" nproc) m=$(exec_out "$cli" awk '/^MemTotal/ {print $2}' /proc/meminfo)
	[[ -n $c && -n $m && -n $cpus0 && -n $mem0 ]] && ((c > cpus0 || m > mem0))
}
# The pod's VM grows by the container's limits, and its cgroup has them.
limits_set() {
	[[ $(cg_file "$cli" memory.max) == 805306368 &&
		$(cg_file "$cli" cpu.max) == "200000 100000" ]]
}
if cri update "$cli" "$dir/res.json" >/dev/null; then
	wait_until "$STEP" grown && limits_set
	rc=$?
else
	rc=1
	diag "UpdateContainerResources failed: $(cri_err)"
fi
diag "the pod's VM had $cpus0 CPUs, $mem0 kB; now $(exec_out "$cli" nproc) CPUs, $(exec_out "$cli" awk '/^MemTotal/ {print $2}' /proc/meminfo) kB; memory.max $(cg_file "$cli" memory.max), cpu.max $(cg_file "$cli" cpu.max)"
ok $rc "UpdateContainerResources: the pod's VM grows by the limits and the container's cgroup has them$GROUPING"
cpus1=$(exec_out "$cli" nproc)
[[ $(exec_out "$web" nproc) == "$cpus1" && $(cg_file "$web" memory.max) == max ]]
ok $? "the other container sees the same CPUs and keeps its own limits$GROUPING"

# ---- stop and remove ------------------------------------------------------------------
cri stop "$cli" --timeout 30 >/dev/null &&
	wait_until "$STEP" ctr_is "$cli" CONTAINER_EXITED
rc=$?
code=$(cri inspect "$cli" -f status.exit_code)
diag "client after StopContainer: $(ctr_state "$cli"), exit code $code"
[[ $rc == 0 && $code == 7 ]]
ok $? "StopContainer: EXITED with the exit code of its TERM trap (7)$GROUPING"
cri stop "$web" --timeout 2 >/dev/null && cri stop "$other" --timeout 30 >/dev/null &&
	wait_until "$STEP" ctr_is "$web" CONTAINER_EXITED
ok $? "StopContainer of the others (httpd ignores TERM as PID 1: killed after 2 s)$GROUPING"
cri rm "$cli" >/dev/null && cri rm "$web" >/dev/null && cri rm "$other" >/dev/null &&
	[[ $(cri ps --pod "$pod1" -f containers) == "[]" ]]
ok $? "RemoveContainer: the pod lists no container$GROUPING"

cri stopp "$pod1" >/dev/null && cri stopp "$pod2" >/dev/null &&
	pod_is "$pod1" SANDBOX_NOTREADY
ok $? "StopPodSandbox: NOTREADY"
cri rmp "$pod1" >/dev/null && cri rmp "$pod2" >/dev/null &&
	! cri inspectp "$pod1" >/dev/null 2>&1 && grep -q NOT_FOUND <<<"$(cri_err)"
ok $? "RemovePodSandbox: the pod is gone (NOT_FOUND)"
[[ $(cri pods -f items) == "[]" ]]
ok $? "ListPodSandbox: empty"
wait_until 60 nothing_left quiet "$pod1" "$pod2" >/dev/null
nothing_left "after removal" "$pod1" "$pod2"
ok $? "nothing left: no QEMU, no shim, no mount, no pod netns, no lease or CNI cache entry, no veth"

# ---- a pod whose VM dies -------------------------------------------------------------
pod3=$(run_pod p3)
ok $? "a third pod runs"
c3=$(run_ctr "$pod3" p3 victim '["sh", "-c", "trap \"exit 0\" TERM; while :; do sleep 1; done"]' \
	'{"cpu_period": 100000, "cpu_quota": 100000, "memory_limit_in_bytes": 268435456}')
wait_until "$STEP" ctr_is "$c3" CONTAINER_RUNNING
ok $? "its container runs$GROUPING"
# Created with 1 CPU and 256 MiB of limits: the pod's VM is its sandbox's and those.
cpus_are() { [[ $(exec_out "$c3" nproc) == "$1" ]]; }
wait_until "$STEP" cpus_are 2 && [[ $(cg_file "$c3" memory.max) == 268435456 ]]
ok $? "CreateContainer with limits: the pod's VM grows by them ($(exec_out "$c3" nproc) CPUs, $(exec_out "$c3" awk '/^MemTotal/ {print $2}' /proc/meminfo) kB)$GROUPING"
# The sandbox's VM: named after the sandbox's bundle, else the only one.
q=$(pgrep -f "qemu-system.* -name [^ ]*/k8s.io/$pod3( |$)")
[[ -n $q ]] || q=$(qemu_pids)
diag "killing the pod's QEMU: ${q//$'\n'/ } (of: $(qemu_pids | tr '\n' ' '))"
[[ $(count "$q") == 1 ]] && kill -KILL $q
ok $? "kill -9 of the pod's QEMU"
wait_until "$STEP" ctr_is "$c3" CONTAINER_EXITED
rc=$?
diag "victim: $(cri inspect "$c3" -f status 2>/dev/null | jq -c '{state, exit_code, reason, message}' 2>/dev/null)"
ok $rc "its container ends: ContainerStatus EXITED$GROUPING"
wait_until "$STEP" pod_is "$pod3" SANDBOX_NOTREADY
ok $? "PodSandboxStatus: NOTREADY"
cri stopp "$pod3" >/dev/null && cri rmp "$pod3" >/dev/null
ok $? "StopPodSandbox, RemovePodSandbox of the dead pod"
wait_until 60 nothing_left quiet "$pod3" >/dev/null
nothing_left "after the dead pod" "$pod3"
ok $? "nothing left of the dead pod"

diag "containerd warnings and errors from kiln:"
diag "$(grep -E 'level=(warning|error)' "$dir/containerd.log" | grep -F containerd-shim-kiln | cut -c1-300 | tail -n 20)"
tap_done

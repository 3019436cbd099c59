#!/bin/bash
# tests/e2e/t_pod.sh -- a pod in one VM, without CRI: the same annotations
# CRI puts in each bundle (io.kubernetes.cri.container-type, ...sandbox-id),
# set with `ctr run --annotation`. The sandbox's shim owns the VM; app
# containers go to that shim (`start` returns its address) and their EROFS
# rootfs is hot-added as a disk (docs/pods.md). Checked: one shim and one
# QEMU for the pod, the same guest boot id, each container its own rootfs,
# processes and writes, an app container deleted and another created (its
# disk slot reused), refusals with clear errors, kill -9 of the pod's QEMU
# (every container ends with a status), and nothing left behind.
# The CRI path itself is t_cri.sh.
set -uo pipefail

HERE=$(cd "$(dirname -- "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib/tap.sh"
source "$HERE/lib/containerd.sh"
BUILD=${KILN_BUILD:-$ROOT/build/debug}
IMAGE=docker.io/kiln/busybox:latest
RT=io.containerd.kiln.v1
TYPE=io.kubernetes.cri.container-type
SBID=io.kubernetes.cri.sandbox-id
export KILN_GUEST_DIR=${KILN_GUEST_DIR:-$ROOT/build/guest}

cleanup() { kiln_containerd_stop >/dev/null 2>&1 || true; }
trap cleanup EXIT

qemus() { pgrep -f "qemu-system.*$KILN_CTR_DIR" | wc -l; }
shims() { pgrep -f "containerd-shim-kiln-v1.*$KILN_CTR_SOCK" | wc -l; }
task_status() { kiln_ctr task ls | awk -v id="$1" '$1 == id {print $3}'; }
is_status() { [[ $(task_status "$1") == "$2" ]]; }
sandbox() { kiln_ctr run -d --runtime "$RT" --annotation "$TYPE=sandbox" \
	--annotation "$SBID=$1" "$IMAGE" "$1" sleep 100000; }
member() { # POD ID [--ctr-option VALUE]... ARGS...
	local pod=$1 id=$2 opts=()
	shift 2
	while [[ $1 == --* ]]; do opts+=("$1" "$2"); shift 2; done
	kiln_ctr run -d --runtime "$RT" --annotation "$TYPE=container" \
		--annotation "$SBID=$pod" "${opts[@]}" "$IMAGE" "$id" "$@"
}
xc() { kiln_ctr task exec --exec-id "x$RANDOM" "$@"; }
gone() { # ID: killed, waited for, deleted
	kiln_ctr task kill -s KILL "$1" >/dev/null 2>&1
	wait_for 60 is_status "$1" STOPPED
	kiln_ctr task rm "$1" >/dev/null && kiln_ctr c rm "$1" >/dev/null
}

dir=$(mktemp -d /tmp/kiln-pod-XXXXXX)
kiln_containerd_start "$dir" "$BUILD" >/dev/null &&
	"$HERE/lib/mkbusybox-oci.sh" "$dir/bb.tar" >/dev/null &&
	kiln_ctr images import "$dir/bb.tar" >/dev/null
ok $? "private containerd, busybox image imported"
timeout -s KILL 600 ctr -a "$KILN_CTR_SOCK" events >"$dir/events" 2>&1 &
run_dirs_before=$(find /run/kiln -mindepth 1 -maxdepth 1 -type d | wc -l)

# ---- one pod: a sandbox and two app containers -----------------------------
sandbox pod1 >/dev/null
ok $? "the sandbox container runs (its own shim and VM)"
out=$(member pod1 app1 sh -c 'echo one > /tmp/mine; exec sleep 100000' 2>&1)
ok $? "an app container joins the pod"
diag "$out"
member pod1 app2 sleep 100000 >/dev/null
ok $? "a second app container joins it"
[[ $(shims) == 1 && $(qemus) == 1 ]]
ok $? "one shim and one QEMU for the pod (shims $(shims), QEMUs $(qemus))"
ids=$(for c in pod1 app1 app2; do xc "$c" cat /proc/sys/kernel/random/boot_id; done | sort -u)
[[ $(wc -l <<<"$ids") == 1 && -n $ids ]]
ok $? "the three containers see one guest boot id"
wait_for 30 xc app1 test -f /tmp/mine
mine=$(xc app1 cat /tmp/mine 2>&1)
[[ $mine == one ]] && ! xc app2 test -e /tmp/mine && ! xc pod1 test -e /tmp/mine
ok $? "each app container has its own rootfs and writes ($mine)"
ps2=$(xc app2 ps -o comm 2>&1)
[[ $(grep -c sleep <<<"$ps2") == 1 ]]
ok $? "an app container sees its own processes only (one sleep)"
diag "$ps2"
xc app2 sh -c 'exit 7'
[[ $? == 7 ]]
ok $? "exec in an app container returns its exit code"

# ---- refusals ------------------------------------------------------------------
err=$(member nopod app9 true 2>&1)
[[ $? != 0 ]] && grep -q "pod sandbox nopod: no shim" <<<"$err"
ok $? "an app container of a pod that is not there is refused"
diag "$err"
addr() { cat "$dir/state/io.containerd.runtime.v2.task/default/$1/address"; }
[[ -n $(addr pod1) && $(addr app1) == "$(addr pod1)" && $(addr app2) == "$(addr pod1)" ]]
ok $? "containerd was given the sandbox's shim for both app containers"
# containerd's Task/Update as CRI sends it (ctr 1.6 has no task update).
# The pod's VM grows by the limit, and app1's cgroup (not app2's) has it.
mem_kb() { xc "$1" awk '/^MemTotal/ { print $2 }' /proc/meminfo; }
# The guest cgroup's memory.max as the task's metrics give it (0: none).
mem_max() { kiln_ctr task metrics "$1" 2>/dev/null | awk '$1 == "memory.usage_limit" {print $2}'; }
m0=$(mem_kb app1)
err=$("$BUILD/tests/kiln-update" "$(addr app1 | sed 's|^unix://||')" default \
	app1 '{"memory":{"limit":134217728}}' 2>&1)
rc=$?
m1=$(mem_kb app1)
diag "Update of app1: rc $rc $err; MemTotal $m0 -> $m1 kB; memory.max app1 $(mem_max app1), app2 $(mem_max app2)"
[[ $rc == 0 && -n $m0 && -n $m1 ]] && ((m1 >= m0 + 120000)) &&
	[[ $(mem_max app1) == 134217728 && $(mem_max app2) != 134217728 ]]
ok $? "Update of an app container: the pod's VM grows by its limit, its cgroup has it"

# ---- pause, OOM: one app container's, not the pod's -------------------------
kiln_ctr task pause app2 && wait_for 30 is_status app2 PAUSED &&
	[[ $(task_status pod1) == RUNNING && $(task_status app1) == RUNNING ]] &&
	xc app1 true
ok $? "pause of an app container: it is PAUSED, the pod's others run and exec"
kiln_ctr task resume app2 && wait_for 30 is_status app2 RUNNING && xc app2 true
ok $? "resume: it runs and execs again"
member pod1 oomer --memory-limit 33554432 sh -c 'x=aaaaaaaaaaaaaaaa; while :; do x=$x$x; done' >/dev/null
oomed() { grep -q '/tasks/oom.*"oomer"' "$dir/events" &&
	grep -q '/tasks/exit.*"oomer".*"exit_status":137' "$dir/events"; }
wait_for 60 is_status oomer STOPPED && wait_for 30 oomed
ok $? "an app container over its memory limit is killed (137) and TaskOOM names it"
diag "$(grep -E '/tasks/(oom|exit).*oomer' "$dir/events" | cut -c1-200)"
[[ $(task_status pod1) == RUNNING && $(task_status app1) == RUNNING &&
	$(task_status app2) == RUNNING ]] && gone oomer
ok $? "the pod and its other containers run on; the OOM-killed one is deleted"

# ---- an app container deleted, another one in its place ---------------------
gone app1
ok $? "app1 killed and deleted"
[[ $(task_status pod1) == RUNNING && $(task_status app2) == RUNNING ]]
ok $? "the pod and its other container run on"
[[ ! -e /run/kiln ]] || ! find /run/kiln -name 'rootfs-0.erofs' | grep -q .
ok $? "app1's rootfs image is gone"
member pod1 app3 sleep 100000 >/dev/null && xc app3 true
ok $? "a new app container takes the freed disk slot"

# ---- kill -9 of the pod's QEMU ------------------------------------------------
pkill -KILL -f "qemu-system.*$KILN_CTR_DIR"
for c in pod1 app2 app3; do
	wait_for 60 is_status "$c" STOPPED
	ok $? "$c ends when the pod's VM is killed"
done
for c in app2 app3 pod1; do
	kiln_ctr task rm "$c" >/dev/null && kiln_ctr c rm "$c" >/dev/null
	ok $? "$c deleted"
done
no_shims() { [[ $(shims) == 0 ]]; }
wait_for 30 no_shims
ok $? "the pod's shim exits with its last task"

# ---- nothing left -----------------------------------------------------------
[[ $(qemus) == 0 ]]
ok $? "no QEMU left"
after=$(find /run/kiln -mindepth 1 -maxdepth 1 -type d | wc -l)
[[ $after -le $run_dirs_before ]]
ok $? "no run dir left ($run_dirs_before before, $after after)"
[[ $(grep -c "$KILN_CTR_DIR" /proc/mounts) == 0 ]]
ok $? "no mount left"

tap_done

#!/bin/bash
# tests/e2e/t_resources.sh -- the VM sized from the container's limits, and
# Update (containerd's Task/Update, sent by tests/kiln-update exactly as
# containerd sends it: JSON LinuxResources in an Any) growing and
# shrinking vCPUs (QMP device_add/device_del) and memory (virtio-mem),
# through the real containerd and QEMU under TCG.
set -uo pipefail

HERE=$(cd "$(dirname -- "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib/tap.sh"
source "$HERE/lib/containerd.sh"
BUILD=${KILN_BUILD:-$ROOT/build/debug}
IMAGE=docker.io/kiln/busybox:latest
RT=io.containerd.kiln.v1
MIB=$((1024 * 1024))
export KILN_GUEST_DIR=$ROOT/build/guest

cleanup() { kiln_containerd_stop >/dev/null 2>&1 || true; }
trap cleanup EXIT

dir=$(mktemp -d /tmp/kiln-res-XXXXXX)
# Updates alone first: the scaler (on by default) has its own part below.
export KILN_CONFIG=$dir/kiln.json
echo '{"scaler": false}' >"$KILN_CONFIG"
kiln_containerd_start "$dir" "$BUILD" >/dev/null &&
	"$HERE/lib/mkbusybox-oci.sh" "$dir/bb.tar" >/dev/null &&
	kiln_ctr images import "$dir/bb.tar" >/dev/null
ok $? "private containerd up, image imported"

in_ctr() { kiln_ctr task exec --exec-id "x$RANDOM" "$1" sh -c "$2" 2>/dev/null; }
nproc_of() { in_ctr "$1" nproc; }
memtotal_mib() { in_ctr "$1" "awk '/^MemTotal/ {print int(\$2 / 1024)}' /proc/meminfo"; }
shim_sock() {
	sed 's|^unix://||' "$dir/state/io.containerd.runtime.v2.task/default/$1/address"
}
update() { "$BUILD/tests/kiln-update" "$(shim_sock "$1")" default "$1" "$2"; }
running() { kiln_ctr task ls | grep -q "^$1 .*RUNNING"; }
between() { [[ -n $1 && $1 -ge $2 && $1 -le $3 ]]; }

# ---- sized at Create -------------------------------------------------------
kiln_ctr run -d --runtime "$RT" --cpus 2 --memory-limit $((512 * MIB)) \
	"$IMAGE" sized sleep 600 >/dev/null 2>&1
wait_for 120 running sized
ok $? "a container with a 2-CPU / 512 MiB limit runs"
n=$(nproc_of sized)
[[ $n == 2 ]]
ok $? "nproc in the container is 2 ($n)"
m=$(memtotal_mib sized)
between "$m" 448 640
ok $? "MemTotal is near 512 MiB ($m MiB)"
qemu=$(pgrep -f "qemu-system.* -name [^ ]*/sized( |$)" | head -1)
kiln_ctr task kill -s KILL sized >/dev/null 2>&1
wait_for 60 sh -c "ctr -a $KILN_CTR_SOCK task ls | grep -q '^sized .*STOPPED'"
kiln_ctr task delete sized >/dev/null 2>&1
kiln_ctr container delete sized >/dev/null 2>&1

# ---- Update: vCPUs ------------------------------------------------------------
kiln_ctr run -d --runtime "$RT" "$IMAGE" grow sleep 600 >/dev/null 2>&1
wait_for 120 running grow
[[ $(nproc_of grow) == 1 ]]
ok $? "a container without limits boots with 1 vCPU"
t0=$(date +%s%N)
out=$(update grow '{"cpu":{"quota":200000,"period":100000}}')
t1=$(date +%s%N)
diag "$out ($(( (t1 - t0) / 1000000 )) ms)"
n=$(nproc_of grow)
[[ $out == code=OK* && $n == 2 ]]
ok $? "Update to 2 CPUs: a vCPU is hot-added and onlined, nproc 2 ($n)"
out=$(update grow '{"cpu":{"quota":100000,"period":100000}}')
diag "$out"
n=$(nproc_of grow)
[[ $out == code=OK* && $n == 1 ]]
ok $? "Update back to 1 CPU: nproc 1 ($n; under TCG the vCPU is offlined, not unplugged)"

# ---- Update: memory ------------------------------------------------------------
m0=$(memtotal_mib grow)
out=$(update grow "{\"memory\":{\"limit\":$((768 * MIB))}}")
diag "$out"
m1=$(memtotal_mib grow)
[[ $out == code=OK* ]] && between "$m1" $((m0 + 400)) $((m0 + 900))
ok $? "Update to 768 MiB: MemTotal grows ($m0 -> $m1 MiB)"
mm=$(kiln_ctr task metrics grow 2>/dev/null | awk '$1 == "memory.usage_limit" {print $2}')
[[ $mm == $((768 * MIB)) ]]
ok $? "the guest cgroup's memory.max follows (ctr task metrics: $mm)"
out=$(update grow "{\"memory\":{\"limit\":$((128 * MIB))}}")
diag "$out"
m2=$(memtotal_mib grow)
[[ $out == code=OK* ]] && between "$m2" $((m0 - 16)) $((m0 + 16))
ok $? "Update to 128 MiB: memory goes back to the boot size ($m2 MiB)"

# ---- refusals and serialization ---------------------------------------------------
out=$(update grow '{"cpu":{"quota":6400000,"period":100000}}')
diag "$out"
[[ $out == code=INVALID_ARGUMENT*maximum* ]]
ok $? "an Update above the maximum is refused with a clear error"
out=$(update grow '{"cpu":{"cpus":"zero"}}')
[[ $out == code=INVALID_ARGUMENT* ]]
ok $? "a malformed cpuset is refused"
# Each names one resource: whatever order they arrive in, both hold after.
update grow '{"cpu":{"quota":200000,"period":100000}}' >"$dir/u1" &
p1=$!
update grow "{\"memory\":{\"limit\":$((512 * MIB))}}" >"$dir/u2" &
p2=$!
wait "$p1"; r1=$?
wait "$p2"; r2=$?
n=$(nproc_of grow)
mm=$(kiln_ctr task metrics grow 2>/dev/null | awk '$1 == "memory.usage_limit" {print $2}')
diag "$(cat "$dir/u1" "$dir/u2")"
[[ $r1 == 0 && $r2 == 0 && $n == 2 && $mm == $((512 * MIB)) ]]
ok $? "two Updates at once are served one after the other (nproc $n, memory.max $mm)"
kiln_ctr task kill -s KILL grow >/dev/null 2>&1
wait_for 60 sh -c "ctr -a $KILN_CTR_SOCK task ls | grep -q '^grow .*STOPPED'"
out=$(update grow '{"cpu":{"quota":200000,"period":100000}}')
[[ $out == code=FAILED_PRECONDITION* ]]
ok $? "Update of a stopped task: FAILED_PRECONDITION"
kiln_ctr task delete grow >/dev/null 2>&1
kiln_ctr container delete grow >/dev/null 2>&1
[[ -z $qemu ]] || wait_for 30 sh -c "! kill -0 $qemu 2>/dev/null"
ok $? "no QEMU left"

# ---- the vertical scaler ----------------------------------------------------------
# Samples every second here (5 s by default; idle, up to every 8 s here,
# 40 s by default), 2 hot in a row to grow, 3 cold to shrink. Two busy loops on one vCPU: busy and waiting (PSI), so
# it adds one; once they stop, what is used would fit in one, so it goes.
# agent_timeout_ms 120 s: room for a slow exec under ASan on 2 TCG cores
# (a timed-out call ends the VM). The exec that once took "over 30 s" here
# was the hot-added vCPU that answered no IPI (docs/resources.md, "Fixed").
printf '{"scaler_interval_ms": 1000, "scaler_idle_ms": 8000, "scaler_up_samples": 2, "scaler_down_samples": 3, "agent_timeout_ms": 120000, "trace_file": "%s"}\n' \
	"$dir/scaler.jsonl" >"$KILN_CONFIG"
nproc_is() { [[ $(nproc_of "$1") == "$2" ]]; }
scale_detail() {
	grep '"machine":"scaler".*"event":"SCALE"' "$dir/scaler.jsonl" |
		sed -n 's/.*"detail":"\([^"]*\)".*/\1/p'
}
# Mostly CPU: the stop file is looked at now and then.
busy='while [ ! -e /tmp/stop ]; do i=0; while [ $i -lt 5000 ]; do i=$((i + 1)); done; done'
kiln_ctr run -d --runtime "$RT" "$IMAGE" scaled sleep 600 >/dev/null 2>&1
wait_for 120 running scaled && nproc_is scaled 1
ok $? "scaler: a container without limits boots with 1 vCPU"
kiln_ctr task exec --exec-id busy scaled sh -c "$busy & $busy & wait" \
	>/dev/null 2>&1 &
busy_pid=$!
t0=$SECONDS
scaling() { grep -q '"machine":"scaler".*"event":"SCALE"' "$dir/scaler.jsonl"; }
wait_for 600 scaling
ok $? "scaler: two busy loops on 1 vCPU: it decides to grow (after $((SECONDS - t0)) s)"
# The step takes seconds under TCG (the guest onlines the vCPU): an Update
# sent now waits in the same queue and both hold afterwards.
out=$(update scaled "{\"memory\":{\"limit\":$((384 * MIB))}}")
wait_for 600 nproc_is scaled 2
n=$?
mm=$(kiln_ctr task metrics scaled 2>/dev/null | awk '$1 == "memory.usage_limit" {print $2}')
[[ $n == 0 && $out == code=OK* && $mm == $((384 * MIB)) ]]
ok $? "scaler: a second vCPU (nproc 2 after $((SECONDS - t0)) s), and the Update sent during the step holds too (memory.max $mm, $out)"
# The lowest free slot: cpu1 is core 1 (APIC ID 1), as it would be at boot.
# Plugged in QEMU's listed order (highest first) it was core 3, and under
# TCG that vCPU never answered an IPI: the next umount in the guest hung.
core=$(in_ctr scaled 'cat /sys/devices/system/cpu/cpu1/topology/core_id')
[[ $core == 1 ]]
ok $? "scaler: the hot-added vCPU takes the lowest free slot (cpu1 core_id $core)"
up=$(scale_detail | head -1)
[[ $up == "cpu hot: util="*"vcpus 1->2"* ]]
ok $? "scaler: the decision is traced with its inputs ($up)"
in_ctr scaled 'touch /tmp/stop'
wait "$busy_pid"
t0=$SECONDS
wait_for 600 nproc_is scaled 1
ok $? "scaler: idle again, back to 1 vCPU (after $((SECONDS - t0)) s)"
down=$(scale_detail | tail -1)
[[ $down == "cpu cold: "*"vcpus 2->1"* ]]
ok $? "scaler: traced ($down)"
# Idle: each quiet sample doubles the interval, up to scaler_idle_ms.
backed_off() { grep '"machine":"scaler".*"event":"STEADY"' "$dir/scaler.jsonl" |
	tail -1 | grep -q 'next=8000ms'; }
wait_for 120 backed_off
ok $? "scaler: an idle container is sampled ever less often (every 8 s here)"
kiln_ctr task kill -s KILL scaled >/dev/null 2>&1
wait_for 60 sh -c "ctr -a $KILN_CTR_SOCK task ls | grep -q '^scaled .*STOPPED'"
# Stopped: the next tick turns the scaler off and arms nothing more (an
# idle shim does not wake up for it); none follows while ctr deletes.
ticks() { grep -c '"machine":"scaler".*"event":"TICK"' "$dir/scaler.jsonl"; }
wait_for 60 grep -q '"machine":"scaler".*"event":"TICK".*"to":"OFF"' \
	"$dir/scaler.jsonl"
ok $? "scaler: off once the task stopped"
n1=$(ticks)
kiln_ctr task delete scaled >/dev/null 2>&1
n2=$(ticks)
[[ $n1 == "$n2" ]]
ok $? "scaler: no tick after that ($n1 ticks in all)"
kiln_ctr container delete scaled >/dev/null 2>&1

tap_done

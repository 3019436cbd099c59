#!/bin/bash
# tests/e2e/t_hostile.sh -- the shim against a broken or hostile guest.
#
# The shim is configured (KILN_CONFIG) to run build/<flavour>/tests/fake-qemu
# instead of QEMU: it serves QMP and plays the agent, misbehaving as the mode
# file says. Whatever the guest does, the shim answers containerd with a
# clear error or an exit status, never crashes or hangs, and leaves nothing.
set -uo pipefail

HERE=$(cd "$(dirname -- "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib/tap.sh"
source "$HERE/lib/containerd.sh"
BUILD=${KILN_BUILD:-$ROOT/build/debug}
IMAGE=docker.io/kiln/busybox:latest

cleanup() { kiln_containerd_stop >/dev/null 2>&1 || true; }
trap cleanup EXIT

dir=$(mktemp -d /tmp/kiln-hostile-XXXXXX)
# The fake reads its mode from $dir (0700 root): outside any jail root and
# as root (fake-only; t_jail tests the jail).
export KILN_FAKE_MODE_FILE=$dir/mode
export KILN_GUEST_DIR=$ROOT/build/guest
echo "{\"qemu\": \"$BUILD/tests/fake-qemu\", \"boot_timeout_ms\": 3000," \
	"\"stop_timeout_ms\": 1000, \"agent_timeout_ms\": 2000," \
	"\"jail_namespaces\": false, \"jail_user\": false}" >"$dir/kiln.json"
export KILN_CONFIG=$dir/kiln.json
kiln_containerd_start "$dir" "$BUILD" >/dev/null
ok $? "private containerd up"
"$HERE/lib/mkbusybox-oci.sh" "$dir/bb.tar" >/dev/null &&
	kiln_ctr images import "$dir/bb.tar" >/dev/null
ok $? "busybox image imported"

# Only this containerd's fakes (rootfs under its state) and shims.
fakes() { pgrep -f "fake-qemu.*$KILN_CTR_DIR" | wc -l; }
shims() { pgrep -f "containerd-shim-kiln-v1.*$KILN_CTR_SOCK" | wc -l; }
clean() { [[ $(fakes) == 0 && $(shims) == 0 ]] &&
	! grep -q "$dir" /proc/mounts; }
# Run one container against the fake in mode $1; sets rc and out.
try() {
	echo "$1" >"$KILN_FAKE_MODE_FILE"
	out=$(timeout -s KILL 120 ctr -a "$KILN_CTR_SOCK" run --rm \
		--runtime io.containerd.kiln.v1 "$IMAGE" "h-$1" true 2>&1)
	rc=$?
	timeout -s KILL 60 ctr -a "$KILN_CTR_SOCK" container rm "h-$1" \
		>/dev/null 2>&1
}

try good
[[ $rc == 42 ]]
ok $? "well-behaved fake guest: its exit status 42 reaches ctr (got $rc)"

try garbage
[[ $rc != 0 && $out == *"create"* ]]
ok $? "garbage on the channel: Create fails clearly ($(tail -c 120 <<<"$out"))"
wait_for 30 clean
ok $? "... and nothing is left (fakes=$(fakes) shims=$(shims))"

try bad-hello
[[ $rc != 0 && $out == *"greeting"* ]]
ok $? "a foreign greeting: Create fails naming it ($(tail -c 100 <<<"$out"))"
wait_for 30 clean
ok $? "... and nothing is left"

try silent
[[ $rc != 0 && $out == *"timed out"* ]]
ok $? "a guest that never greets: Create times out ($(tail -c 100 <<<"$out"))"
wait_for 30 clean
ok $? "... and nothing is left"

try die-create
# Which is seen first, QEMU's exit or the channel closing, is a race.
[[ $rc != 0 && ($out == *"exited"* || $out == *"closed"* || $out == *"VM stopped"*) ]]
ok $? "QEMU exits during Create: Create fails ($(tail -c 100 <<<"$out"))"
wait_for 30 clean
ok $? "... and nothing is left"

try hostile-exit
[[ $rc == 137 || $rc == 255 ]]
ok $? "hostile exit status and stream frames: task ends 137/255 (got $rc)"
grep -q 'hostile guest' "$dir/containerd.log"
ok $? "... the hostile frames are logged"
wait_for 30 clean
ok $? "... and nothing is left"

# An agent that stops answering: the call times out, the VM is torn
# down and the task ends (TaskExit) with 137.
echo hang >"$KILN_FAKE_MODE_FILE"
timeout -s KILL 60 ctr -a "$KILN_CTR_SOCK" run -d --runtime \
	io.containerd.kiln.v1 "$IMAGE" h-hang sleep 1000 >/dev/null 2>&1
ok $? "a container on an agent that will stop answering starts"
out=$(timeout -s KILL 60 ctr -a "$KILN_CTR_SOCK" task kill -s SIGTERM \
	h-hang 2>&1)
[[ $? != 0 && $out == *"timed out"* ]]
ok $? "Kill fails with a clear timeout ($(tail -c 80 <<<"$out"))"
hang_stopped() {
	timeout -s KILL 20 ctr -a "$KILN_CTR_SOCK" task ls |
		grep -q '^h-hang .* STOPPED'
}
wait_for 60 hang_stopped
ok $? "... the VM is torn down and the task is STOPPED"
st=$(timeout -s KILL 60 ctr -a "$KILN_CTR_SOCK" task delete h-hang 2>&1 |
	grep -o 'exit code [0-9]*' | awk '{print $3}')
timeout -s KILL 60 ctr -a "$KILN_CTR_SOCK" container rm h-hang >/dev/null 2>&1
[[ $st == 137 ]]
ok $? "... with exit status 137 (got '$st')"
wait_for 30 clean
ok $? "... and nothing is left"

# Issue 16: a burst of connect/close pairs on a shim's socket, then a real
# call (task ls asks the shim's State) must still be answered.
echo good >"$KILN_FAKE_MODE_FILE"
timeout -s KILL 60 ctr -a "$KILN_CTR_SOCK" run -d --runtime \
	io.containerd.kiln.v1 "$IMAGE" h-burst true >/dev/null 2>&1
sock=$(sed 's|^unix://||' \
	"$KILN_CTR_DIR"/state/io.containerd.runtime.v2.task/*/h-burst/address \
	2>/dev/null)
failed=$(python3 - "$sock" <<'PY' 2>&1
import errno, socket, sys
failed = 0
for _ in range(500):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setblocking(False)
    if s.connect_ex(sys.argv[1]) not in (0, errno.EINPROGRESS):
        failed += 1
    s.close()
print(failed)
PY
)
[[ -S $sock && $failed == 0 ]]
ok $? "500 connect/close pairs on a shim's socket all connect (failed: $failed)"
timeout -s KILL 20 ctr -a "$KILN_CTR_SOCK" task ls | grep -q '^h-burst '
ok $? "... and the next real call (task ls, the shim's State) is answered"
timeout -s KILL 60 ctr -a "$KILN_CTR_SOCK" task delete -f h-burst >/dev/null 2>&1
timeout -s KILL 60 ctr -a "$KILN_CTR_SOCK" container rm h-burst >/dev/null 2>&1
wait_for 30 clean
ok $? "... and nothing is left"

# Issue 13: QEMU refuses the device_add of a vCPU. The Update fails naming
# it, the VM keeps its size and a later Update is served.
# h-plug on the fake in mode $1, its shim's socket in $sock; plug_end
# kills and removes it.
plug_start() {
	echo "$1" >"$KILN_FAKE_MODE_FILE"
	timeout -s KILL 60 ctr -a "$KILN_CTR_SOCK" run -d --runtime \
		io.containerd.kiln.v1 "$IMAGE" h-plug sleep 1000 >/dev/null 2>&1 ||
		return 1
	sock=$(sed 's|^unix://||' \
		"$KILN_CTR_DIR"/state/io.containerd.runtime.v2.task/*/h-plug/address \
		2>/dev/null)
}
plug_end() {
	timeout -s KILL 60 ctr -a "$KILN_CTR_SOCK" task kill -s SIGKILL h-plug >/dev/null 2>&1
	wait_for 60 sh -c "timeout -s KILL 20 ctr -a $KILN_CTR_SOCK task ls | grep -q '^h-plug .* STOPPED'"
	timeout -s KILL 60 ctr -a "$KILN_CTR_SOCK" task delete h-plug >/dev/null 2>&1
	timeout -s KILL 60 ctr -a "$KILN_CTR_SOCK" container rm h-plug >/dev/null 2>&1
}
upd() { timeout -s KILL 120 "$BUILD/tests/kiln-update" "$sock" default h-plug "$1"; }
plug_start refuse-plug
ok $? "a container on a QEMU that refuses device_add starts"
out=$(upd '{"cpu":{"quota":200000,"period":100000}}')
[[ $out == code=UNKNOWN*"no room for this device"*restored* ]]
ok $? "Update to 2 CPUs fails naming QEMU's refusal ($(tail -c 150 <<<"$out"))"
timeout -s KILL 20 ctr -a "$KILN_CTR_SOCK" task ls | grep -q '^h-plug .* RUNNING'
ok $? "... the task still runs"
out=$(upd '{"memory":{"limit":134217728}}')
[[ $out == code=OK* ]]
ok $? "... and the next Update is served ($out)"
plug_end
wait_for 30 clean
ok $? "... and nothing is left"

# The vCPU is plugged but the guest's ACPI _OST reports a failure: the
# step fails on that event, naming it, not at its deadline.
plug_start ost-refuse
out=$(upd '{"cpu":{"quota":200000,"period":100000}}')
[[ $out == code=UNKNOWN*"guest refused kcpu1 (ACPI _OST status 0x8f)"* ]]
ok $? "a vCPU the guest refuses (ACPI_DEVICE_OST): the Update fails naming it ($(tail -c 120 <<<"$out"))"
plug_end
wait_for 30 clean
ok $? "... and nothing is left"

# Metrics a guest lies about: refused with a clear error, the shim lives.
echo bad-metrics >"$KILN_FAKE_MODE_FILE"
timeout -s KILL 60 ctr -a "$KILN_CTR_SOCK" run -d --runtime \
	io.containerd.kiln.v1 "$IMAGE" h-metrics true >/dev/null 2>&1
out=$(timeout -s KILL 30 ctr -a "$KILN_CTR_SOCK" task metrics h-metrics 2>&1)
rc=$?
# containerd's Metrics logs a task's Stats error and goes on without it.
why=$(grep -o "eBPF metrics are malformed[^\"]*" "$dir/containerd.log" | head -1)
[[ $rc != 0 && $why == *buckets* ]]
ok $? "malformed GetMetrics: Stats fails naming it (ctr: $(tail -c 60 <<<"$out"); containerd.log: $why)"
out=$(timeout -s KILL 30 "$BUILD/kiln" metrics h-metrics 2>&1)
rc=$?
[[ $rc != 0 && $out == *"503"*"malformed"* && $out != *evil* ]]
ok $? "... kiln metrics gets a 503, nothing of the lie printed ($(head -c 160 <<<"$out"))"
timeout -s KILL 20 ctr -a "$KILN_CTR_SOCK" task ls | grep -q '^h-metrics .*RUNNING'
ok $? "... and the shim still serves the task"
timeout -s KILL 60 ctr -a "$KILN_CTR_SOCK" task kill -s KILL h-metrics >/dev/null 2>&1
wait_for 30 sh -c "timeout -s KILL 10 ctr -a '$KILN_CTR_SOCK' task ls | grep -q '^h-metrics .*STOPPED'"
timeout -s KILL 60 ctr -a "$KILN_CTR_SOCK" task delete h-metrics >/dev/null 2>&1
timeout -s KILL 60 ctr -a "$KILN_CTR_SOCK" container rm h-metrics >/dev/null 2>&1
wait_for 30 clean
ok $? "... and nothing is left"

try good
[[ $rc == 42 ]]
ok $? "containerd and the shim still work afterwards"
tap_done

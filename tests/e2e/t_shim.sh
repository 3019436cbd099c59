#!/bin/bash
# tests/e2e/t_shim.sh -- containerd-shim-kiln-v1 under a real containerd.
#
# A private containerd (lib/containerd.sh) with the build directory on its
# PATH runs busybox containers through `--runtime io.containerd.kiln.v1`,
# each in its own QEMU VM: output, exit codes, stdin, bulk stdout, the guest
# kernel, detached tasks killed and deleted, task ls / ps, QEMU and the shim
# killed with SIGKILL, and ten runs in a row, counting what is left behind.
# Every ctr call has a hard deadline (~20x the measured run); waits poll for
# the condition, never sleep a fixed time.
set -uo pipefail

HERE=$(cd "$(dirname -- "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib/tap.sh"
source "$HERE/lib/containerd.sh"
BUILD=${KILN_BUILD:-$ROOT/build/debug}
IMAGE=docker.io/kiln/busybox:latest
RT=io.containerd.kiln.v1
export KILN_GUEST_DIR=${KILN_GUEST_DIR:-$ROOT/build/guest}

cleanup() { kiln_containerd_stop >/dev/null 2>&1 || true; }
trap cleanup EXIT

ctr_() { timeout -s KILL 120 ctr -a "$KILN_CTR_SOCK" "$@"; }
run() { ctr_ run --rm --runtime "$RT" "$IMAGE" "$@"; }
# QEMU processes of kiln VMs, kiln shims, our mounts, kiln sockets: counted
# against what was there before this test started (other runs may share the
# machine).
# QEMUs share rootfs paths under this containerd's state; shims name its
# socket: neither can be another run's.
qemus() { pgrep -f "qemu-system.*$KILN_CTR_DIR" | wc -l; }
shims() { pgrep -f "containerd-shim-kiln-v1.*$KILN_CTR_SOCK" | wc -l; }
kiln_mounts() { grep -c "$KILN_CTR_DIR" /proc/mounts; }
kiln_socks() { echo $(( $(find /run/kiln -name '*.sock' 2>/dev/null | wc -l) - BASE_SOCKS )); }
run_dirs() { find /run/kiln -mindepth 1 -maxdepth 1 -type d ! -name s 2>/dev/null | wc -l; }
BASE_SOCKS=$(find /run/kiln -name '*.sock' 2>/dev/null | wc -l)
BASE_DIRS=$(run_dirs)
task_status() { ctr_ task ls | awk -v id="$1" '$1 == id {print $3}'; }
task_pid() { ctr_ task ls | awk -v id="$1" '$1 == id {print $2}'; }
# QEMU's uid locks (jail_user): as many as before the test.
kiln_uids() { find /run/kiln/uids -type f 2>/dev/null | wc -l; }
uids0=$(kiln_uids)
nothing_left() {
	[[ $(qemus) == 0 && $(shims) == 0 && $(kiln_mounts) == 0 &&
		$(kiln_socks) == 0 && $(kiln_uids) == "$uids0" ]]
}
leftovers() {
	diag "qemu=$(qemus) shims=$(shims) mounts=$(kiln_mounts) sockets=$(kiln_socks) uids=$(kiln_uids)/$uids0"
}

dir=$(mktemp -d /tmp/kiln-shim-XXXXXX)
kiln_containerd_start "$dir" "$BUILD" >/dev/null
ok $? "private containerd up with the kiln shim on its PATH"
"$HERE/lib/mkbusybox-oci.sh" "$dir/bb.tar" >/dev/null && ctr_ images import "$dir/bb.tar" >/dev/null
ok $? "busybox image imported"

out=$(run t-echo echo hello 2>&1)
ok $? "ctr run --rm echo exits 0"
[[ $out == hello ]]
ok $? "output is 'hello' (got '$out')"

run t-exit sh -c 'exit 7' >/dev/null 2>&1
rc=$?
[[ $rc == 7 ]]
ok $? "exit code 7 propagated (got $rc)"

guest=$(run t-uname uname -r 2>&1)
[[ -n $guest && $guest != "$(uname -r)" ]]
ok $? "uname -r inside ($guest) differs from the host's ($(uname -r))"

head -c 1048576 /dev/urandom >"$dir/in.bin"
(cat "$dir/in.bin"; sleep 2) | run t-cat cat >"$dir/out.bin" 2>"$dir/cat.err"
cmp -s "$dir/in.bin" "$dir/out.bin"
ok $? "stdin piped to cat comes back byte-exact (1 MiB)"

run t-bulk sh -c 'head -c 16777216 /dev/urandom > /dev/shm/d &&
	md5sum /dev/shm/d >&2 && cat /dev/shm/d' >"$dir/bulk.out" 2>"$dir/bulk.err"
want=$(cut -c1-32 "$dir/bulk.err")
got=$(md5sum <"$dir/bulk.out" | cut -c1-32)
[[ $(stat -c %s "$dir/bulk.out") == 16777216 && $want == "$got" ]]
ok $? "16 MiB of stdout intact (md5 $got)"

ctr_ run -d --runtime "$RT" "$IMAGE" t-bg sleep 1000 >/dev/null
ok $? "ctr run -d starts a detached task"
[[ $(task_status t-bg) == RUNNING ]]
ok $? "ctr task ls shows it RUNNING"
pids=$(ctr_ task ps t-bg | tail -n +2 | wc -l)
[[ $pids -ge 1 ]]
ok $? "ctr task ps lists its processes ($pids)"
ctr_ task kill -s SIGTERM t-bg
ok $? "ctr task kill SIGTERM accepted"
ctr_ task kill -s SIGKILL t-bg
ok $? "ctr task kill SIGKILL accepted"
stopped() { [[ $(task_status "$1") == STOPPED ]]; }
wait_for 60 stopped t-bg
ok $? "ctr task ls shows it STOPPED"
ctr_ task delete t-bg >/dev/null && ctr_ container rm t-bg
ok $? "ctr task delete and container rm"

ctr_ run -d --runtime "$RT" "$IMAGE" t-qkill sleep 1000 >/dev/null
qpid=$(task_pid t-qkill)
kill -9 "$qpid"
wait_for 60 stopped t-qkill
ok $? "QEMU killed with SIGKILL: the task is STOPPED"
status=$(ctr_ task delete t-qkill 2>&1 | grep -o 'exit code [0-9]*' |
	awk '{print $3}')
ctr_ container rm t-qkill
[[ $status == 137 ]]
ok $? "... with exit status 137 (got '$status')"
wait_for 30 nothing_left
ok $? "... and no QEMU, shim, mount or socket is left"
leftovers

ctr_ run -d --runtime "$RT" "$IMAGE" t-skill sleep 1000 >/dev/null
spid=$(pgrep -f "containerd-shim-kiln-v1.*-id t-skill -address $KILN_CTR_SOCK" | head -1)
# containerd stopped: no `delete` action can kill QEMU for the shim, so
# QEMU must go by its parent-death signal (set again after the jail's
# uid change, which clears it).
kill -STOP "$KILN_CTR_PID"
kill -9 "$spid"
no_qemu() { [[ $(qemus) == 0 ]]; }
wait_for 60 no_qemu
rc=$?
kill -CONT "$KILN_CTR_PID"
ok $rc "shim killed with SIGKILL (containerd stopped): its QEMU dies with it"
ctr_ task delete t-skill >/dev/null 2>&1
ctr_ task ls | grep -q '^t-skill ' && rc=1 || rc=0
ok $rc "ctr task delete leaves no task behind"
ctr_ container rm t-skill
ok $? "ctr container rm succeeds"
wait_for 30 nothing_left
ok $? "delete left no QEMU, shim, mount or socket"
leftovers

fds_before=$(ls /proc/"$KILN_CTR_PID"/fd | wc -l)
fails=0
for i in $(seq 1 10); do
	[[ $(run "t-loop-$i" true 2>&1) == "" ]] || fails=$((fails + 1))
done
ok $(( fails != 0 )) "ten runs in a row succeed ($fails failed)"
wait_for 30 nothing_left
ok $? "after ten runs: no QEMU, shim, mount or socket left"
leftovers
fds_after=$(ls /proc/"$KILN_CTR_PID"/fd | wc -l)
[[ $fds_after -le $((fds_before + 2)) ]]
ok $? "containerd's fds steady ($fds_before before, $fds_after after)"
[[ $(run_dirs) == "$BASE_DIRS" ]]
ok $? "no per-task run directory left in /run/kiln"

tap_done

#!/bin/bash
# tests/e2e/t_task_api.sh -- Pause/Resume, metrics, exec, terminals and OOM
# through containerd.
#
# A busy container is paused (ctr task ls says PAUSED, /tasks/paused is
# published, its guest CPU time stops growing), resumed (RUNNING again,
# /tasks/resumed, CPU time grows), measured with ctr task metrics (real
# cgroup v2 numbers from the guest), then killed and deleted.
set -uo pipefail

HERE=$(cd "$(dirname -- "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib/tap.sh"
source "$HERE/lib/containerd.sh"
BUILD=${KILN_BUILD:-$ROOT/build/debug}
IMAGE=docker.io/kiln/busybox:latest
export KILN_GUEST_DIR=$ROOT/build/guest
EVENTS_PID=

cleanup() {
	[[ -n $EVENTS_PID ]] && kill "$EVENTS_PID" 2>/dev/null
	kiln_containerd_stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

dir=$(mktemp -d /tmp/kiln-api-XXXXXX)
kiln_containerd_start "$dir" "$BUILD" >/dev/null &&
	"$HERE/lib/mkbusybox-oci.sh" "$dir/bb.tar" >/dev/null &&
	kiln_ctr images import "$dir/bb.tar" >/dev/null
ok $? "private containerd up, image imported"
ctr_() { timeout -s KILL 120 ctr -a "$KILN_CTR_SOCK" "$@"; }
status() { ctr_ task ls | awk '$1 == "busy" {print $3}'; }
usage_usec() { ctr_ task metrics busy | awk '$1 == "cpu.usage_usec" {print $2}'; }
timeout -s KILL 300 ctr -a "$KILN_CTR_SOCK" events >"$dir/events" 2>&1 &
EVENTS_PID=$!

ctr_ run -d --runtime io.containerd.kiln.v1 "$IMAGE" busy \
	sh -c 'while :; do :; done' >/dev/null
ok $? "a busy container runs detached"
ctr_ task metrics busy >"$dir/metrics" 2>&1
ok $? "ctr task metrics answers"
diag "$(head -20 "$dir/metrics")"
grep -q '^memory.usage ' "$dir/metrics" &&
	awk '$1 == "memory.usage" && $2 > 0 {f=1} END {exit !f}' "$dir/metrics"
ok $? "metrics: memory.usage is a real number"
awk '$1 == "pids.current" && $2 >= 1 {f=1} END {exit !f}' "$dir/metrics"
ok $? "metrics: pids.current counts the container's processes"
grows() {
	local a b
	a=$(usage_usec); b=$(usage_usec)
	[[ -n $a && -n $b && $b -gt $a ]]
}
wait_for 60 grows
ok $? "metrics: cpu.usage_usec grows while it spins"

ctr_ task pause busy
ok $? "ctr task pause"
[[ $(status) == PAUSED ]]
ok $? "ctr task ls shows PAUSED"
a=$(usage_usec)
for _ in 1 2 3 4 5; do ctr_ task ls >/dev/null; done
b=$(usage_usec)
[[ -n $a && $a == "$b" ]]
ok $? "a paused container uses no guest CPU ($a then $b usec)"
ctr_ task resume busy
ok $? "ctr task resume"
[[ $(status) == RUNNING ]]
ok $? "ctr task ls shows RUNNING again"
wait_for 60 grows
ok $? "CPU time grows again after resume"
ctr_ task resume busy >/dev/null 2>&1 && rc=1 || rc=0
ok $rc "resuming a running task is refused"

# Exec processes in the running container.
out=$(ctr_ task exec --exec-id e1 busy sh -c 'echo hi from exec; exit 5' 2>&1)
rc=$?
[[ $rc == 5 && $out == "hi from exec" ]]
ok $? "ctr task exec: output and exit code 5 (got $rc '$out')"
head -c 65536 /dev/urandom >"$dir/exec.in"
(cat "$dir/exec.in"; sleep 1) | ctr_ task exec --exec-id e2 busy cat >"$dir/exec.out"
cmp -s "$dir/exec.in" "$dir/exec.out"
ok $? "ctr task exec: stdin to cat comes back byte-exact"
ctr_ task exec --exec-id e3 busy sleep 1000 >/dev/null 2>&1 &
e3=$!
ctr_ task exec --exec-id e4 busy sleep 1000 >/dev/null 2>&1 &
e4=$!
running() { ctr_ task ps busy | awk 'NR > 1' | wc -l; }
several() { [[ $(running) -ge 3 ]]; }
wait_for 60 several
ok $? "two execs in flight at once (ps lists $(running) processes)"
# An exec still being started refuses signals (FAILED_PRECONDITION): retry.
kill_e3() { ctr_ task kill -s SIGKILL --exec-id e3 busy 2>/dev/null; }
wait_for 60 kill_e3
ok $? "ctr task kill --exec-id"
wait "$e3"
rc=$?
[[ $rc == 137 ]]
ok $? "the killed exec exits 137 (got $rc)"
kill_e4() { ctr_ task kill -s SIGKILL --exec-id e4 busy 2>/dev/null; }
wait_for 60 kill_e4 && wait "$e4"
ctr_ task exec --exec-id e1 busy true >/dev/null 2>&1
ok $? "an exec id can be used again once deleted"
ctr_ task exec --exec-id bad/id busy true >/dev/null 2>&1 && rc=1 || rc=0
ok $rc "an invalid exec id is refused"
added() { grep -q '/tasks/exec-added' "$dir/events" &&
	grep -q '/tasks/exec-started' "$dir/events"; }
wait_for 30 added
ok $? "TaskExecAdded and TaskExecStarted were published"

# Terminals: ctr needs a console, so it runs under script(1)'s pty with a
# known size; the guest's pty must be a tty of that size (ResizePty).
tty_out=$(timeout -s KILL 120 script -qec "stty rows 20 cols 70; ctr -a \
	$KILN_CTR_SOCK task exec -t --exec-id t1 busy sh -c 'tty; stty size; \
	exit 6'" /dev/null 2>&1)
rc=$?
diag "$tty_out"
[[ $tty_out == *"/dev/pts/"* ]]
ok $? "ctr task exec -t: the process has a terminal"
[[ $tty_out == *"20 70"* ]]
ok $? "ctr task exec -t: ResizePty reached the guest (stty size 20 70)"
[[ $rc == 6 ]]
ok $? "ctr task exec -t: exit code 6 (got $rc)"

ctr_ task kill -s SIGKILL busy
stopped() { [[ $(status) == STOPPED ]]; }
wait_for 60 stopped
ok $? "killed: STOPPED"
ctr_ task delete busy >/dev/null && ctr_ container rm busy
ok $? "deleted"
seen() { grep -q '/tasks/paused' "$dir/events" && grep -q '/tasks/resumed' "$dir/events"; }
wait_for 30 seen
ok $? "TaskPaused and TaskResumed were published"
ctr_ task metrics nosuch >/dev/null 2>&1 && rc=1 || rc=0
ok $rc "metrics of an unknown task fail"

tty_out=$(timeout -s KILL 120 script -qec "stty rows 33 cols 111; ctr -a \
	$KILN_CTR_SOCK run --rm -t --runtime io.containerd.kiln.v1 $IMAGE \
	tty1 sh -c 'tty; stty size; exit 4'" /dev/null 2>&1)
rc=$?
diag "$tty_out"
[[ $tty_out == *"/dev/pts/"* && $tty_out == *"33 111"* && $rc == 4 ]]
ok $? "ctr run -t: a terminal of the console's size, exit code 4 (got $rc)"

# Out of memory: the guest's kernel kills it, the status is SIGKILL's, and
# TaskOOM is published, as a runc user would see.
ctr_ run --rm --runtime io.containerd.kiln.v1 --memory-limit 33554432 \
	"$IMAGE" oomer sh -c 'x=aaaaaaaaaaaaaaaa; while :; do x=$x$x; done' \
	>/dev/null 2>&1
rc=$?
[[ $rc == 137 ]]
ok $? "a container over its memory limit is killed: 137 (got $rc)"
oomed() { grep -q '/tasks/oom.*oomer' "$dir/events"; }
wait_for 30 oomed
ok $? "TaskOOM is published for it"
tap_done

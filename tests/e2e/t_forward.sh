#!/bin/bash
# tests/e2e/t_forward.sh -- kiln's ttrpc client against the real containerd.
#
# Starts a private containerd, watches `ctr events`, and publishes a
# containerd.events.TaskCreate through containerd's ttrpc Events/Forward with
# build/<flavour>/tests/kiln-forward (our framing, envelope and Any). The
# event must show up in ctr's stream, decoded; an envelope without a timestamp
# must be refused with containerd's own INVALID_ARGUMENT message.
set -uo pipefail

HERE=$(cd "$(dirname -- "$0")" && pwd)
source "$HERE/lib/tap.sh"
source "$HERE/lib/containerd.sh"
BUILD=${KILN_BUILD:-$HERE/../../build/debug}
FORWARD=$BUILD/tests/kiln-forward
EVENTS_PID=

cleanup() {
	[[ -n $EVENTS_PID ]] && kill "$EVENTS_PID" 2>/dev/null || true
	kiln_containerd_stop || true
}
trap cleanup EXIT

dir=$(mktemp -d /tmp/kiln-fwd-XXXXXX)
kiln_containerd_start "$dir" >/dev/null
ok $? "private containerd is up"

events=$dir/events.txt
timeout -s KILL 120 ctr -a "$KILN_CTR_SOCK" events >"$events" 2>&1 &
EVENTS_PID=$!
# ctr subscribes asynchronously: publish probes until one is seen.
id=kiln-fwd-$$
seen() { grep -q "/tasks/create.*$id" "$events"; }
send() { "$FORWARD" "$KILN_CTR_TTRPC" default "$id" >"$dir/fwd.out" 2>&1; }
wait_for 30 bash -c "$(declare -f seen send); FORWARD=$FORWARD \
    KILN_CTR_TTRPC=$KILN_CTR_TTRPC id=$id events=$events dir=$dir; \
    send; seen" && rc=0 || rc=1
ok $rc "Forward of TaskCreate answered OK and seen by ctr events"
diag "$(cat "$dir/fwd.out" 2>/dev/null)"
grep -q 'code=OK' "$dir/fwd.out"
ok $? "kiln-forward got status OK from containerd"
line=$(grep "/tasks/create" "$events" | grep "$id" | head -1 || true)
diag "$line"
[[ $line == *default* && $line == *'"container_id":"'$id'"'* || \
   $line == *'ContainerID":"'$id'"'* ]]
ok $? "ctr decoded the event: namespace and container id in its JSON"
[[ $line == *4242* ]]
ok $? "ctr decoded the pid field"
! grep -q "cannot unmarshal" "$events"
ok $? "ctr logged no decode error for our Any"

"$FORWARD" "$KILN_CTR_TTRPC" default "$id" --no-timestamp \
    >"$dir/zero.out" 2>&1 && rc=1 || rc=0
diag "$(cat "$dir/zero.out")"
ok $rc "an envelope without a timestamp is refused"
grep -q 'code=INVALID_ARGUMENT.*timestamp must be set' "$dir/zero.out"
ok $? "containerd's INVALID_ARGUMENT message reached our client"

"$FORWARD" "$KILN_CTR_TTRPC" 'bad namespace!' "$id" >"$dir/ns.out" 2>&1 \
    && rc=1 || rc=0
diag "$(cat "$dir/ns.out")"
ok $rc "an invalid namespace is refused by containerd"
tap_done

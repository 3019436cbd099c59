#!/bin/bash
# tests/e2e/t_trace.sh -- kiln-trace on a trace recorded from a real ctr run.
#
# The shim writes every transition (trace_file in KILN_CONFIG) while
# containerd runs one container through it; `kiln-trace replay` re-drives the
# real tables with it and finds no divergence; a hand-edited copy is caught
# at the edited line; show, svg and stats work; bad input names its line.
set -uo pipefail

HERE=$(cd "$(dirname -- "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib/tap.sh"
source "$HERE/lib/containerd.sh"
BUILD=${KILN_BUILD:-$ROOT/build/debug}
KT=$BUILD/kiln-trace
export KILN_GUEST_DIR=$ROOT/build/guest

# The trace and its edited copies outlive containerd's own directory.
dir=$(mktemp -d /tmp/kiln-trace-XXXXXX)
cleanup() { kiln_containerd_stop >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT

trace=$dir/trace.jsonl
# A cold boot: its phases (SPAWNING, BOOTING, READY) are what the stats and
# the picture are checked for; a restore's are t_snapshot's.
echo "{\"trace_file\": \"$trace\", \"snapshot\": false}" >"$dir/kiln.json"
export KILN_CONFIG=$dir/kiln.json
ctrdir=$(mktemp -d /tmp/kiln-trace-ctr-XXXXXX)
kiln_containerd_start "$ctrdir" "$BUILD" >/dev/null &&
	"$HERE/lib/mkbusybox-oci.sh" "$dir/bb.tar" >/dev/null &&
	kiln_ctr images import "$dir/bb.tar" >/dev/null
ok $? "private containerd up, image imported"
out=$(timeout -s KILL 120 ctr -a "$KILN_CTR_SOCK" run --rm \
	--runtime io.containerd.kiln.v1 docker.io/kiln/busybox:latest tr1 \
	echo traced 2>&1)
[[ $out == traced ]]
ok $? "ctr run through kiln with tracing on"
kiln_containerd_stop >/dev/null 2>&1
n=$(wc -l <"$trace")
[[ $n -gt 10 ]]
ok $? "the shim wrote a trace ($n transitions)"
for m in task vm qmp vsock_chan ttrpc_conn; do
	grep -q "\"machine\":\"$m\"" "$trace"
	ok $? "trace has machine $m"
done

"$KT" replay "$trace" >"$dir/replay.out" 2>&1
ok $? "kiln-trace replay: no divergence ($(cat "$dir/replay.out"))"

# Hand-edit: the task's CREATED becomes RUNNING on its line.
line=$(grep -n '"machine":"task".*"to":"CREATED"' "$trace" | head -1 | cut -d: -f1)
sed "${line}s/\"to\":\"CREATED\"/\"to\":\"RUNNING\"/" "$trace" >"$dir/edited.jsonl"
"$KT" replay "$dir/edited.jsonl" >"$dir/edit.out" 2>&1
rc=$?
[[ $rc == 1 ]] && grep -q "edited.jsonl:$line: divergence" "$dir/edit.out"
ok $? "a hand-edited trace: replay names line $line ($(head -c 160 "$dir/edit.out"))"

# (kiln-trace exits non-zero here: capture, then look.)
sed "${line}s/\"version\":[0-9]*/\"version\":99/" "$trace" >"$dir/version.jsonl"
out=$("$KT" replay "$dir/version.jsonl" 2>&1)
[[ $out == *"version.jsonl:$line: divergence"*"trace has 99"* ]]
ok $? "a table version mismatch is reported"
sed "${line}s/\"event\":\"[A-Z_]*\"/\"event\":\"BOGUS\"/" "$trace" >"$dir/event.jsonl"
out=$("$KT" replay "$dir/event.jsonl" 2>&1)
[[ $out == *"unknown event BOGUS"* ]]
ok $? "an unknown event is reported"
{ head -3 "$trace"; echo '{"broken": '; } >"$dir/bad.jsonl"
out=$("$KT" replay "$dir/bad.jsonl" 2>&1)
[[ $out == *"bad.jsonl:4: not JSON"* ]]
ok $? "a line that is not JSON is named"

"$KT" show "$trace" | grep -q -- '--VM_READY--> CREATING'
ok $? "kiln-trace show: a timeline per instance"
"$KT" stats "$trace" | grep -q '^vm SPAWNING --QMP_READY--> BOOTING'
ok $? "kiln-trace stats: counts and percentiles per transition"
"$KT" svg "$trace" >"$dir/t.svg" && grep -q '<svg' "$dir/t.svg" &&
	grep -q '>BOOTING<' "$dir/t.svg"
ok $? "kiln-trace svg: boot phases as boxes"
"$KT" replay --help | grep -q usage && "$KT" --help | grep -q stats
ok $? "--help on every command"
tap_done

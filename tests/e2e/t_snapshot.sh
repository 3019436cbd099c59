#!/bin/bash
# tests/e2e/t_snapshot.sh -- snapshot start (issue 15) under a real containerd.
#
# With "snapshot": true and a private template_dir: the first container's VM
# builds the template (saved at the agent's greeting) and restarts from it;
# the next ones restore from it (the trace says start=template-restore); their
# output is right, their wall clock is the host's (SetClock), two restored
# guests draw different randomness (vmgenid reseeds the CRNG of each clone); a
# template whose state file is corrupt makes the next VM cold-boot (the
# template is removed as stale) and the one after rebuilds it; and no QEMU,
# build directory or lock holder is left. Every ctr call has a hard deadline.
set -uo pipefail

HERE=$(cd "$(dirname -- "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib/tap.sh"
source "$HERE/lib/containerd.sh"
BUILD=${KILN_BUILD:-$ROOT/build/debug}
IMAGE=docker.io/kiln/busybox:latest
RT=io.containerd.kiln.v1
export KILN_GUEST_DIR=${KILN_GUEST_DIR:-$ROOT/build/guest}

dir=$(mktemp -d /tmp/kiln-snap-XXXXXX)
ctrdir=$(mktemp -d /tmp/kiln-snap-ctr-XXXXXX)
cleanup() { kiln_containerd_stop >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
TPL=$dir/templates
trace=$dir/trace.jsonl
cat >"$dir/kiln.json" <<EOF
{"snapshot": true, "template_dir": "$TPL", "trace_file": "$trace"}
EOF
export KILN_CONFIG=$dir/kiln.json

ctr_() { timeout -s KILL 180 ctr -a "$KILN_CTR_SOCK" "$@"; }
run() { ctr_ run --rm --runtime "$RT" "$IMAGE" "$@"; }
qemus() { pgrep -f "qemu-system.*($KILN_CTR_DIR|$TPL)" | wc -l; }
# The VM machine's READY record of container $1 names how it started.
start_of() {
	grep "\"machine\":\"vm\",[^}]*\"id\":\"$1\",[^}]*\"to\":\"READY\"" \
	    "$trace" | grep -o 'start=[a-z-]*' | tail -1
}
tmpl_went() {	# container $1's template machine reached state $2
	grep -q "\"machine\":\"template\",[^}]*\"id\":\"$1\",[^}]*\"to\":\"$2\"" \
	    "$trace"
}
ready_dirs() { find "$TPL" -mindepth 2 -maxdepth 2 -name ok 2>/dev/null | wc -l; }
PROBE='date +%s; cat /proc/sys/kernel/random/uuid; head -c 16 /dev/urandom | od -An -tx1 | tr -d " "; cat /proc/sys/vm/compaction_proactiveness'

kiln_containerd_start "$ctrdir" "$BUILD" >/dev/null &&
	"$HERE/lib/mkbusybox-oci.sh" "$dir/bb.tar" >/dev/null &&
	ctr_ images import "$dir/bb.tar" >/dev/null
ok $? "private containerd up, image imported"

out=$(run s-build echo built 2>&1)
[[ $out == built ]]
ok $? "first container: output right (got '$out')"
tmpl_went s-build BUILDING && tmpl_went s-build READY && [[ $(ready_dirs) == 1 ]]
ok $? "first container built the template ($(ls "$TPL" 2>&1 | tr '\n' ' '))"
st=$(start_of s-build)
[[ $st == start=template-restore ]]
ok $? "the building VM restarted from its own template ($st)"

t0=$(date +%s)
out2=$(run s-r1 sh -c "$PROBE" 2>&1)
t1=$(date +%s)
st=$(start_of s-r1)
[[ $st == start=template-restore ]]
ok $? "second container restored from the template ($st)"
mapfile -t l2 <<<"$out2"
[[ ${#l2[@]} == 4 && ${l2[0]} =~ ^[0-9]+$ && ${#l2[2]} == 32 ]]
ok $? "restored container's output is right ($(tr '\n' ' ' <<<"$out2"))"
[[ ${l2[0]} =~ ^[0-9]+$ && ${l2[0]} -ge $((t0 - 3)) && ${l2[0]} -le $((t1 + 3)) ]]
ok $? "restored guest's clock is the host's (guest ${l2[0]}, host $t0..$t1)"
[[ ${l2[3]} == 0 ]]
ok $? "the guest does not compact proactively (an idle wake-up every 500 ms; got '${l2[3]}')"

# A restore serves its own rootfs image, not the template's: a rootfs 8 MiB
# larger than the one the template was built with reads back whole (the
# agent rebinds the disk; the template's view of its size would cut it).
"$HERE/lib/mkbusybox-rootfs.sh" "$dir/bigger" >/dev/null
head -c $((8 << 20)) /dev/urandom >"$dir/bigger/big"
want=$(md5sum <"$dir/bigger/big" | cut -d' ' -f1)
got=$(ctr_ run --rm --runtime "$RT" --rootfs "$dir/bigger" s-big \
	/bin/sh -c 'md5sum </big' 2>&1 | cut -d' ' -f1)
st=$(start_of s-big)
[[ $st == start=template-restore && $got == "$want" ]]
ok $? "a restored VM reads its own, larger rootfs image ($st, md5 $got)"

# The template was saved settled (kiln.settle: its guest greeted once its
# eBPF programs were in): a restored guest has them and loads none again.
ctr_ run -d --runtime "$RT" "$IMAGE" s-bpf sleep 600 >/dev/null 2>&1
st=$(start_of s-bpf)
m=$("$BUILD/kiln" metrics s-bpf 2>&1)
con=$(ls -t /run/kiln/*/console.log 2>/dev/null | head -1)
[[ $st == start=template-restore && $m == *kiln_guest_bpf_program_runs_total* ]] &&
	[[ -s $con ]] && ! grep -aq "bpf metrics attached" "$con"
ok $? "a restored guest has the template's eBPF programs and loads none ($st)"
ctr_ task kill -s KILL s-bpf >/dev/null 2>&1
wait_for 60 sh -c "ctr -a $KILN_CTR_SOCK task ls | grep -q '^s-bpf .*STOPPED'"
ctr_ task delete s-bpf >/dev/null 2>&1
ctr_ container rm s-bpf >/dev/null 2>&1

out3=$(run s-r2 sh -c "$PROBE" 2>&1)
mapfile -t l3 <<<"$out3"
st=$(start_of s-r2)
[[ $st == start=template-restore && ${#l3[@]} == 4 &&
	${l3[1]} != "${l2[1]}" && ${l3[2]} != "${l2[2]}" ]]
ok $? "two restored guests draw different randomness (uuid ${l2[1]:-?} vs ${l3[1]:-?})"

hash=$(find "$TPL" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | head -1)
head -c 65536 /dev/urandom >"$TPL/$hash/state"
out=$(run s-bad echo fallback 2>&1)
st=$(start_of s-bad)
[[ $out == fallback && $st == start=cold ]]
ok $? "corrupt template: the container still runs, cold-booted ($out, $st)"
tmpl_went s-bad STALE && [[ ! -e $TPL/$hash/ok ]]
ok $? "corrupt template: marked stale and removed"

out=$(run s-again echo rebuilt 2>&1)
[[ $out == rebuilt ]] && tmpl_went s-again BUILDING && tmpl_went s-again READY &&
	[[ $(ready_dirs) == 1 ]]
ok $? "the next container rebuilt the template ($(start_of s-again))"
out=$(run s-after echo restored 2>&1)
st=$(start_of s-after)
[[ $out == restored && $st == start=template-restore ]]
ok $? "and the one after restored from the new template ($st)"

wait_for 10 test "$(qemus)" = 0
ok $? "no QEMU left ($(qemus))"
left=$(find "$TPL" -maxdepth 1 \( -name '*.build-*' -o -name '*.stale-*' \) | wc -l)
[[ $left == 0 ]]
ok $? "no build or stale directory left ($left)"
diag "spawn to ready: $(grep '"machine":"vm",' "$trace" | grep -o '"id":"s-[a-z]*[0-9]*",.*"to":"READY".*"detail":"[^"]*"' | sed 's/"id":"\([^"]*\)".*"detail":"\([^"]*\)"/\1 \2;/' | tr '\n' ' ')"
tap_done

#!/bin/bash
# tests/e2e/t_spin.sh -- TAP: every state machine table model-checked by SPIN.
#
# Usage: KILN_BUILD=$PWD/build/debug tests/e2e/t_spin.sh   (needs spin, cc)
#
# Each table that `kiln-fsm list` names, and the task x VM x exec composition
# (`kiln-fsmcheck --promela`), is generated as Promela from the linked
# fsm_defs into $KILN_BUILD/spin/<model>/ (never the source tree), turned into
# a verifier (`spin -a`, cc), and run twice:
#   safety    pan (compiled -DNOCLAIM): the assertions (fsm_explore's
#             TerminalIsFinal, NoDeadEnd, WaitingStatesTimeout per table; the
#             composition's ExitPublishedOnce, NoRunningTaskWithStoppedVM,
#             DeleteStopsVM, NoLostMessage, ExecExitPublishedOnce,
#             NoLiveExecWithStoppedVM) and invalid end states
#   liveness  pan -a -f: acceptance cycles under weak fairness, for each
#             ltl claim of the model (per table: every waiting state is left;
#             composition: a started task's and exec's exit is published
#             once reported or the VM is gone, Delete stops the VM)
# Each must report "errors: 0" with a complete search, except the
# composition's reach_* claims, which must be violated: they show that the
# states the other claims are about are reached (no vacuous pass).
# tla/gen/*Rows.tla must equal a fresh `kiln-fsm tla`. Then two broken tables
# built only into tests/kiln-fsm-broken, and the composition with a broken
# exec coupling (`kiln-fsmcheck --promela --broken-exec-news`), must each be
# caught, the trail replayed (`spin -T -t`) and translated by `kiln-fsm
# promela-trail` into trace JSON lines (docs/trace-format.md), which are
# printed.
set -euo pipefail

HERE=$(cd "$(dirname -- "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=SCRIPTDIR/lib/tap.sh
source "$HERE/lib/tap.sh"

BUILD=${KILN_BUILD:-$ROOT/build/debug}
FSM=$BUILD/kiln-fsm
BROKEN=$BUILD/tests/kiln-fsm-broken
FSMCHECK=$BUILD/kiln-fsmcheck
OUT=$BUILD/spin
# Depth bound (the task table's DFS goes ~30 k deep) and a 2^20 hash table.
PAN_OPTS=(-m500000 -w20)

if ! command -v spin >/dev/null; then
	echo "1..0 # SKIP spin is not installed (make deps)"
	exit 0
fi
for b in "$FSM" "$BROKEN" "$FSMCHECK"; do
	if [[ ! -x $b ]]; then
		echo "1..0 # SKIP $b not built (make all)"
		exit 0
	fi
done

# gen DIR NAME CMD...: write DIR/NAME.pml with CMD and build both verifiers
# (GEN_SAFETY_ONLY=1: the safety one only). NFAIR=3: weak fairness for up
# to 7 processes (the composition has 6 and the claim).
gen() {
	local dir=$1 name=$2
	shift 2
	rm -rf -- "$dir" && mkdir -p "$dir"
	# The two compiles run side by side (most of this test's time).
	"$@" >"$dir/$name.pml" &&
	    (cd "$dir" && spin -a "$name.pml" >spin-a.log 2>&1 &&
	    { cc -O0 -w -DNOCLAIM -o pan-safety pan.c & } &&
	    { [[ ${GEN_SAFETY_ONLY:-0} == 1 ]] ||
	    cc -O0 -w -DNFAIR=3 -o pan-live pan.c; } && wait $!)
}

# verdict LOG: "errors: N, S states" from a pan report; fails unless the
# search was complete and found nothing.
verdict() {
	local errs states
	errs=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$1")
	states=$(sed -n 's/^ *\([0-9]*\) states, stored.*/\1/p' "$1")
	echo "errors: ${errs:-?}, ${states:-?} states"
	[[ $errs == 0 ]] && ! grep -q 'max search depth too small' "$1"
}

# ltl_names PML: the ltl claims of a model.
ltl_names() { sed -n 's/^ltl \([A-Za-z_0-9]*\) {.*/\1/p' "$1"; }

# check DIR NAME: safety and every claim, one TAP line each.
check() {
	local dir=$1 name=$2 v t claim
	t=$SECONDS
	(cd "$dir" && ./pan-safety "${PAN_OPTS[@]}" >safety.log 2>&1) || true
	if v=$(verdict "$dir/safety.log"); then
		ok 0 "spin $name: safety, $v ($((SECONDS - t)) s)"
	else
		ok 1 "spin $name: safety, $v"
		diag "$(grep -E 'assert|error|pan:' "$dir/safety.log" | head -5)"
	fi
	for claim in $(ltl_names "$dir/$name.pml"); do
		t=$SECONDS
		if [[ $claim == reach_* ]]; then
			reach "$dir" "$name" "$claim"
			continue
		fi
		(cd "$dir" && ./pan-live -a -f -N "$claim" "${PAN_OPTS[@]}" \
		    >"live-$claim.log" 2>&1) || true
		if v=$(verdict "$dir/live-$claim.log"); then
			ok 0 "spin $name: $claim (acceptance cycles, weak fairness), $v ($((SECONDS - t)) s)"
		else
			ok 1 "spin $name: $claim (acceptance cycles, weak fairness), $v"
			diag "$(grep -E 'acceptance|error|pan:' \
			    "$dir/live-$claim.log" | head -5)"
		fi
	done
}

# reach DIR NAME CLAIM: the safety claim [] !(X) must be violated: X is
# reachable (pan stops at the first X).
reach() {
	local dir=$1 name=$2 claim=$3 log=$1/$3.log
	(cd "$dir" && ./pan-live -N "$claim" "${PAN_OPTS[@]}" >"$log" 2>&1) || true
	if grep -q 'errors: [1-9]' "$log"; then
		ok 0 "spin $name: $claim, reached at depth $(sed -n 's/.*(at depth \([0-9]*\)).*/\1/p' "$log" | head -1)"
	else
		ok 1 "spin $name: $claim, not reached: the liveness claims are vacuous"
		diag "$(grep -E 'error|pan:' "$log" | head -5)"
	fi
}

# ---- every table ---------------------------------------------------------
machines=$("$FSM" list)
ok "$([[ -n $machines ]] && echo 0 || echo 1)" "kiln-fsm lists the tables: $(echo $machines)"
for m in $machines; do
	if gen "$OUT/$m" "$m" "$FSM" promela "$m"; then
		check "$OUT/$m" "$m"
	else
		ok 1 "spin $m: model generated and compiled"
		diag "$(cat "$OUT/$m/spin-a.log" 2>/dev/null)"
	fi
done

# ---- the task x VM x exec composition ----------------------------------------
comp=task_x_vm_x_exec
if gen "$OUT/$comp" "$comp" "$FSMCHECK" --promela; then
	check "$OUT/$comp" "$comp"
else
	ok 1 "spin $comp: model generated and compiled"
	diag "$(cat "$OUT/$comp/spin-a.log" 2>/dev/null)"
fi

# ---- the TLA+ row modules are the tables, regenerated -------------------------
# tla/gen/<Machine>Rows.tla is checked in; a table changed without
# `kiln-fsm tla` fails here.
gen_dir=$OUT/tla-gen
rm -rf -- "$gen_dir" && mkdir -p "$gen_dir"
for m in $machines; do
	f=$("$FSM" tla "$m" "$gen_dir")
	rel=tla/gen/${f##*/}
	if cmp -s "$f" "$ROOT/$rel"; then
		ok 0 "$rel is the $m table as generated"
	else
		ok 1 "$rel is the $m table as generated (run: kiln-fsm tla $m tla/gen)"
		diag "$(diff "$ROOT/$rel" "$f" 2>&1 | head -10)"
	fi
done
extra=$(comm -23 <(cd "$ROOT/tla/gen" && ls) <(cd "$gen_dir" && ls))
ok "$([[ -z $extra ]] && echo 0 || echo 1)" "tla/gen holds no stale module${extra:+: $extra}"

# fuzz_machines' seeds name their table: every table has its own, written
# from this list (a new table without seeds would only be reached by chance).
seedless=
for m in $machines; do
	for k in walk fail post random; do
		[[ -s $ROOT/tests/fuzz/corpus/machines/$m-$k ]] || seedless+=" $m-$k"
	done
done
ok "$([[ -z $seedless ]] && echo 0 || echo 1)" "fuzz_machines has seeds for every table${seedless:+, missing:$seedless (run: tests/fuzz/mkseeds_machines.py $FSM tests/fuzz/corpus/machines)}"

# ---- broken tables are caught, with a trail in kiln's trace format ----------
# caught NAME MODE WANT: MODE safety|live must find an error, and the trail's
# trace must contain the JSON fragment WANT.
caught() {
	local name=$1 mode=$2 want=$3 dir=$OUT/broken-$1 log trace
	if ! gen "$dir" "$name" "$BROKEN" promela "$name"; then
		ok 1 "broken $name: model generated and compiled"
		return
	fi
	log=$dir/$mode.log
	# -i: iteratively shorten the counter-example, it is printed below.
	local claim=
	if [[ $mode == safety ]]; then
		(cd "$dir" && ./pan-safety -i "${PAN_OPTS[@]}" >"$log" 2>&1) || true
	else
		# One claim per waiting state: the first one violated.
		for claim in $(ltl_names "$dir/$name.pml"); do
			(cd "$dir" && ./pan-live -a -f -N "$claim" "${PAN_OPTS[@]}" \
			    >"$log" 2>&1) || true
			[[ -f $dir/$name.pml.trail ]] && break
		done
	fi
	if verdict "$log" >/dev/null || [[ ! -f $dir/$name.pml.trail ]]; then
		ok 1 "broken $name: pan reports an error ($mode)"
		return
	fi
	ok 0 "broken $name: pan reports an error ($mode${claim:+, $claim}): $(grep -m1 -E '^pan:1:' "$log" | cut -c1-80)"
	trace=$dir/trace.jsonl
	# -ltlNAME, joined: Debian's spin takes "-ltl NAME" as a file name.
	if (cd "$dir" && spin -T -t ${claim:+"-ltl$claim"} "$name.pml") 2>&1 |
	    "$BROKEN" promela-trail >"$trace" && grep -qF "$want" "$trace"; then
		ok 0 "broken $name: trail translated to $(wc -l <"$trace") trace records, showing $want"
	else
		ok 1 "broken $name: trail translated, showing $want"
	fi
	diag "counter-example of $name ($mode), kiln trace format:"
	diag "$(cat "$trace")"
}
# The composition whose VM death reaches the exec only while the task is
# CREATING..RESUMING (the coupling tla/Exec.tla found wanting): a live
# exec outlives its VM. Safety only; the trail names the real tables.
dir=$OUT/broken-exec-news
if GEN_SAFETY_ONLY=1 gen "$dir" "$comp" "$FSMCHECK" --promela --broken-exec-news; then
	(cd "$dir" && ./pan-safety -i "${PAN_OPTS[@]}" >safety.log 2>&1) || true
	if grep -q 'NoLiveExecWithStoppedVM' "$dir/$comp.pml" &&
	    grep -q '^pan:1: assertion violated.*exec_st' "$dir/safety.log" &&
	    [[ -f $dir/$comp.pml.trail ]]; then
		ok 0 "broken exec coupling: pan reports NoLiveExecWithStoppedVM"
		(cd "$dir" && spin -T -t "$comp.pml") 2>&1 |
		    "$FSM" promela-trail >"$dir/trace.jsonl" || true
		want='"event":"QEMU_EXITED","to":"STOPPED"'
		if grep -qF '"machine":"exec"' "$dir/trace.jsonl" &&
		    grep -qF "$want" "$dir/trace.jsonl"; then
			ok 0 "broken exec coupling: trail translated to $(wc -l <"$dir/trace.jsonl") trace records, an exec made, then $want"
		else
			ok 1 "broken exec coupling: trail translated, an exec made, then $want"
		fi
		diag "counter-example of the broken exec coupling, kiln trace format:"
		diag "$(cat "$dir/trace.jsonl")"
	else
		ok 1 "broken exec coupling: pan reports NoLiveExecWithStoppedVM"
		diag "$(grep -E 'assert|error|pan:' "$dir/safety.log" | head -5)"
	fi
else
	ok 1 "broken exec coupling: model generated and compiled"
	diag "$(cat "$dir/spin-a.log" 2>/dev/null)"
fi

caught spin_leaves_terminal safety \
    '"from":"DONE","event":"GO","to":"WAITING","result":"ok"'
caught spin_guarded_timeout live \
    '"from":"WAITING","event":"TIMEOUT","to":"WAITING","result":"guarded","row":-1,"action":"","guards":"brk_guard_retry_allowed=0","elapsed_ns":0,"detail":"cycle"'

tap_done

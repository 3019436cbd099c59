#!/bin/bash
# tests/e2e/t_tla.sh -- TAP: every TLA+ spec under tla/ parses.
#
# Usage: tests/e2e/t_tla.sh      (needs node >= 18 and npm; network to the npm
#                                 registry on the first run only)
#
# TLC (Java) is not installable here, so CI only parses the specs. The parser
# is the tree-sitter-tlaplus grammar as the prebuilt WebAssembly that its npm
# package ships, run by web-tree-sitter: no native code is compiled and nothing
# but the npm registry is contacted. Both packages are pinned, with integrity
# hashes, by tla/package.json and tla/package-lock.json, and installed with
# `npm ci --ignore-scripts` into $KILN_BUILD/tla-parse (default build/tla-parse,
# git-ignored) when that install is missing or stale.
#
# Checks: each tla/*.tla and tla/gen/*.tla parses with no ERROR or MISSING node
# (tla/parse-check.js walks the tree); no spec writes the temporal form SANY
# reads as a function constructor, `[][x \in S => ...]_vars` (set membership
# right after `[][`, unparenthesised); each spec has a .cfg whose
# SPECIFICATION/INIT/NEXT/INVARIANTS/PROPERTIES/CONSTRAINT names are defined in
# it or in a module of tla/ it EXTENDS (an MC_X.tla wrapper: X.tla); each spec
# but the MC_ wrappers takes its rows from tla/gen (EXTENDS or INSTANCE of a
# <Machine>Rows module) and copies no `Rows ==` of its own; TaskVM.tla defines
# the names kiln-fsmcheck shares; and a deliberately broken spec, and a
# deliberately SANY-breaking line, are rejected (the checks can fail).
set -euo pipefail

HERE=$(cd "$(dirname -- "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=SCRIPTDIR/lib/tap.sh
source "$HERE/lib/tap.sh"

TLA=$ROOT/tla
DIR=${KILN_BUILD:-$ROOT/build}/tla-parse
SCRATCH=$(mktemp -d)
trap 'rm -rf -- "$SCRATCH"' EXIT

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "1..0 # SKIP node and npm are needed to parse the TLA+ specs"
	exit 0
fi

# ---- the parser, installed once --------------------------------------------
installed() {
	cmp -s "$TLA/package-lock.json" "$DIR/package-lock.json" &&
	    [[ -f $DIR/node_modules/web-tree-sitter/tree-sitter.wasm ]] &&
	    [[ -f $DIR/node_modules/@tlaplus/tree-sitter-tlaplus/tree-sitter-tlaplus.wasm ]]
}
if installed; then
	ok 0 "parser installed already ($DIR)"
else
	mkdir -p "$DIR"
	rm -rf -- "$DIR/node_modules"
	cp "$TLA/package.json" "$TLA/package-lock.json" "$DIR/"
	start=$SECONDS
	# --ignore-scripts: the grammar's install script would look for a native
	# binding we do not use; --legacy-peer-deps: do not pull tree-sitter-cli
	# (its install script downloads a binary from GitHub).
	if npm ci --prefix "$DIR" --ignore-scripts --legacy-peer-deps \
	    --no-audit --no-fund --loglevel=error >"$SCRATCH/npm.log" 2>&1 &&
	    installed; then
		ok 0 "parser installed with npm ci in $((SECONDS - start)) s"
	else
		ok 1 "parser installed with npm ci"
		diag "$(tail -20 "$SCRATCH/npm.log")"
		tap_done
		exit 1
	fi
fi

parse() { NODE_PATH=$DIR/node_modules node "$TLA/parse-check.js" "$@"; }

# ---- every spec parses -------------------------------------------------------
shopt -s nullglob
specs=("$TLA"/*.tla "$TLA"/gen/*.tla)
if ((${#specs[@]} == 0)); then
	ok 1 "tla/ holds specs"
fi
parse "${specs[@]}" >"$SCRATCH/parse.out" 2>&1 || true
for f in "${specs[@]}"; do
	rel=${f#"$ROOT"/}
	line=$(grep -F " $f" "$SCRATCH/parse.out" | head -1 || true)
	if [[ $line == "PASS $f" ]]; then
		ok 0 "$rel parses"
	else
		ok 1 "$rel parses"
		diag "${line:-$(cat "$SCRATCH/parse.out")}"
	fi
done

# ---- no `[][x \in S => ...]_vars` -------------------------------------------
# tree-sitter accepts it; SANY reads `[x \in S` as the start of a function
# constructor and fails. Parenthesise: `[][(x \in S) => ...]_vars`.
sany_form() { # FILE...: the offending lines, FILE:LINE:TEXT
	grep -nHE '\[\]\[[[:space:]]*[A-Za-z_][A-Za-z0-9_!]*(\[[^]]*\])?[[:space:]]*\\(in|notin)([^A-Za-z]|$)' "$@" || true
}
bad=$(sany_form "$TLA"/*.tla "$TLA"/gen/*.tla)
ok "$([[ -z $bad ]] && echo 0 || echo 1)" "no spec writes [][x \\in S => ...]_vars (SANY reads a function constructor)"
[[ -z $bad ]] || diag "$bad"
printf '%s\n' 'P == [][x \in S => x'"'"' = x]_vars' \
    'Q == [][(x \in S) => x'"'"' = x]_vars' >"$SCRATCH/sany.tla"
caught=$(sany_form "$SCRATCH/sany.tla" | cut -d: -f2 | tr '\n' ' ')
ok "$([[ $caught == "1 " ]] && echo 0 || echo 1)" "the [][x \\in S form is caught, the parenthesised one is not (lines: ${caught:-none})"

# ---- each spec has a TLC model whose names it defines -------------------------
cfg_names() { # CFG: the operator names a TLC config refers to
	sed 's/\\\*.*//' "$1" | awk '
	    /^[[:space:]]*(SPECIFICATION|INIT|NEXT|INVARIANTS?|PROPERTY|PROPERTIES|CONSTRAINTS?|ACTION_CONSTRAINTS?)([[:space:]]|$)/ {
		kw = 1; sub(/^[[:space:]]*[A-Z_]+/, "") }
	    /^[[:space:]]*(CONSTANTS?|SYMMETRY|VIEW|CHECK_DEADLOCK)([[:space:]]|$)/ {
		kw = 0 }
	    kw { for (i = 1; i <= NF; i++) print $i }'
}
modules_of() { # SPEC: the spec and the modules of tla/ and tla/gen it EXTENDS
	local m
	echo "$1"
	for m in $(sed -n 's/^EXTENDS[[:space:]]*//p' "$1" | tr ',' ' '); do
		[[ -f $TLA/$m.tla ]] && echo "$TLA/$m.tla"
		[[ -f $TLA/gen/$m.tla ]] && echo "$TLA/gen/$m.tla"
	done
	return 0
}
for f in "$TLA"/*.tla; do
	rel=${f#"$ROOT"/}
	cfg=${f%.tla}.cfg
	if [[ ! -f $cfg ]]; then
		ok 1 "${rel%.tla}.cfg exists"
		continue
	fi
	mapfile -t mods < <(modules_of "$f")
	missing=
	for n in $(cfg_names "$cfg"); do
		grep -Eq "^${n}[[:space:]]*==" "${mods[@]}" || missing+=" $n"
	done
	if [[ -z $missing ]] && [[ -n $(cfg_names "$cfg") ]]; then
		ok 0 "${rel%.tla}.cfg names (constraints included) are defined in $rel"
	else
		ok 1 "${rel%.tla}.cfg names (constraints included) are defined in $rel"
		diag "undefined:${missing:- (no names at all)}"
	fi
done

# ---- every spec interprets generated rows --------------------------------------
for f in "$TLA"/*.tla; do
	rel=${f#"$ROOT"/}
	[[ ${f##*/} == MC_* ]] && continue
	uses=$(grep -ohE '(EXTENDS.*|INSTANCE[[:space:]]+)[A-Za-z]+Rows' "$f" |
	    grep -oE '[A-Za-z]+Rows$' | sort -u | tr '\n' ' ' || true)
	gone=
	for m in $uses; do
		[[ -f $TLA/gen/$m.tla ]] || gone+=" $m"
	done
	if [[ -n $uses ]] && [[ -z $gone ]] && ! grep -Eq '^Rows[[:space:]]*==' "$f"; then
		ok 0 "$rel takes its rows from tla/gen (${uses% })"
	else
		ok 1 "$rel takes its rows from tla/gen"
		diag "uses: ${uses:-none}${gone:+; missing:$gone}; own Rows: $(grep -c '^Rows[[:space:]]*==' "$f" || true)"
	fi
done

# ---- the names kiln-fsmcheck shares with TaskVM.tla ---------------------------
# Defined in TaskVM.tla; checked by TaskVM.cfg or its bounded MC_TaskVM.cfg;
# WaitingStatesTimeout, a constant formula over the generated rows, is an
# ASSUME of the spec instead.
missing=
for n in TypeOK ExitPublishedOnce NoRunningTaskWithStoppedVM DeleteStopsVM \
    WaitingStatesTimeout EventuallyDeletedOrLive; do
	grep -Eq "^${n}[[:space:]]*==" "$TLA/TaskVM.tla" || missing+=" $n"
	if [[ $n == WaitingStatesTimeout ]]; then
		grep -Eq "^ASSUME[[:space:]]+${n}[[:space:]]*$" "$TLA/TaskVM.tla" ||
		    missing+=" $n(ASSUME)"
	else
		grep -Eq "^[[:space:]]+${n}[[:space:]]*$" "$TLA/TaskVM.cfg" \
		    "$TLA/MC_TaskVM.cfg" || missing+=" $n(cfg)"
	fi
done
ok "$([[ -z $missing ]] && echo 0 || echo 1)" "TaskVM defines and checks the shared property names"
[[ -z $missing ]] || diag "missing:$missing"

# ---- the check can fail -------------------------------------------------------
# A copy of Task.tla with the == of its Init definition gone.
broken=$SCRATCH/Broken.tla
sed -e 's/^MODULE Task\>/MODULE Broken/' -e 's/^Init ==$/Init/' \
    "$TLA/Task.tla" >"$broken"
want=$(grep -n '^Init$' "$broken" | cut -d: -f1 || true)
if [[ -z $want ]]; then
	ok 1 "a broken spec is rejected (could not break Task.tla)"
elif out=$(parse "$broken" 2>&1); then
	ok 1 "a broken spec is rejected"
	diag "$out"
else
	# The error must be reported at (or just after) the broken line.
	lines=$(grep -o ' [0-9]*:[0-9]*:' <<<"$out" | cut -d: -f1 | tr -d ' ')
	near=1
	for l in $lines; do
		if ((l >= want && l <= want + 2)); then near=0; fi
	done
	ok "$near" "a broken spec is rejected (error at line ${lines//$'\n'/,}, broke line $want)"
	[[ $near == 0 ]] || diag "$out"
fi

tap_done

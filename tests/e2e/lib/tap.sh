# shellcheck shell=bash
# A small TAP emitter for the e2e scripts: `ok STATUS DESCRIPTION`,
# `diag TEXT`, `tap_done` (prints the plan, returns non-zero on failure).
TAP_N=0
TAP_FAILED=0

ok() {
	TAP_N=$((TAP_N + 1))
	if [[ $1 == 0 ]]; then
		echo "ok $TAP_N - $2"
	else
		echo "not ok $TAP_N - $2"
		# A TODO failure is a known gap (TAP): reported, not counted.
		[[ $2 == *"# TODO"* ]] || TAP_FAILED=$((TAP_FAILED + 1))
	fi
}

diag() { sed 's/^/# /' <<<"$*"; }

# Wait up to SECONDS for COMMAND to succeed, polling every 0.1 s.
wait_for() {
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 10; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

tap_done() {
	echo "1..$TAP_N"
	[[ $TAP_FAILED == 0 ]]
}

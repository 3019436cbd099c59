#!/bin/bash
# tests/e2e/t_env.sh -- TAP test of the e2e environment scripts themselves.
#
# Usage: tests/e2e/t_env.sh        (as root; needs containerd, ctr, runc, busybox-static)
#
# Starts a private containerd (lib/containerd.sh) in a temp dir, builds the busybox
# OCI image twice (lib/mkbusybox-oci.sh; must be byte-identical) and imports it,
# runs `echo hello` and `sh -c 'exit 7'` with the stock runc shim, leaves one
# container running, then stops containerd and checks that no containerd, shim or
# container process, shim socket, mount or directory is left behind.
# Everything is cleaned up by an EXIT trap whatever happens.
set -euo pipefail

HERE=$(cd "$(dirname -- "$0")" && pwd)
# An empty CNI result cache of our own: stop must cope with it (CI's stop 21
# failed here when t_cri had left /var/lib/cni/results empty).
KILN_CTR_CNI_CACHE=$(mktemp -d /tmp/kiln-env-cni.XXXXXX)
# shellcheck source=SCRIPTDIR/lib/containerd.sh
source "$HERE/lib/containerd.sh"

readonly IMAGE=docker.io/kiln/busybox:latest
readonly RUNTIME=io.containerd.runc.v2
TESTNO=0
FAILED=0
SCRATCH=
CTR_DIR=

ok() { # STATUS DESCRIPTION
	TESTNO=$((TESTNO + 1))
	if [[ $1 == 0 ]]; then
		echo "ok $TESTNO - $2"
	else
		echo "not ok $TESTNO - $2"
		FAILED=$((FAILED + 1))
	fi
}

diag() { sed 's/^/# /' <<<"$*"; }

cleanup() {
	kiln_containerd_stop || true
	if [[ -n $SCRATCH ]]; then rm -rf -- "$SCRATCH"; fi
	rm -rf -- "$KILN_CTR_CNI_CACHE"
}

# True if PID exists and is not a zombie.
alive() {
	local state
	state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[[ -n $state && $state != Z ]]
}

# True if no pid in the list is alive (zombies waiting for init to reap them count as gone).
all_gone() {
	local pid
	for pid in "$@"; do
		if alive "$pid"; then diag "pid $pid still alive: $(tr '\0' ' ' <"/proc/$pid/cmdline")"; return 1; fi
	done
}

mounts_under() {
	awk -v d="$1/" 'index($5, d) == 1 || $5 == substr(d, 1, length(d) - 1) { print $5 }' /proc/self/mountinfo
}

t_start() {
	local rc=0
	CTR_DIR=$(mktemp -d /tmp/kiln-XXXXXX)
	kiln_containerd_start "$CTR_DIR" || rc=1
	ok "$rc" "private containerd starts (pid ${KILN_CTR_PID:-?}, $CTR_DIR)"
	[[ $rc == 0 ]]
}

t_image() {
	local a=$SCRATCH/a.tar b=$SCRATCH/b.tar rc=0
	"$HERE/lib/mkbusybox-oci.sh" "$a" "$IMAGE" && "$HERE/lib/mkbusybox-oci.sh" "$b" "$IMAGE" || rc=1
	[[ $rc == 0 ]] && cmp -s "$a" "$b" || rc=1
	ok "$rc" "busybox OCI image builds byte-identically ($(sha256sum "$a" | cut -c1-12))"
	rc=0
	kiln_ctr images import "$a" >/dev/null && kiln_ctr images ls -q | grep -qx "$IMAGE" || rc=1
	ok "$rc" "image imports as $IMAGE"
}

t_echo() {
	local out rc=0
	out=$(kiln_ctr run --rm --runtime "$RUNTIME" "$IMAGE" "kiln-env-echo-$$" echo hello 2>&1) || rc=$?
	[[ $rc == 0 && $out == hello ]] || { diag "rc=$rc output: $out"; rc=1; }
	ok "$rc" "ctr run echo hello prints hello"
}

t_exit_code() {
	local rc=0
	kiln_ctr run --rm --runtime "$RUNTIME" "$IMAGE" "kiln-env-exit-$$" sh -c 'exit 7' || rc=$?
	[[ $rc == 7 ]] || diag "exit status $rc"
	ok "$([[ $rc == 7 ]] && echo 0 || echo 1)" "ctr run sh -c 'exit 7' exits 7"
}

# Leave a container running so that stop has a live shim, process and mount to clean.
t_stop() {
	local dir=$KILN_CTR_DIR ctr_pid=$KILN_CTR_PID pids socks rc=0
	kiln_ctr run -d --runtime "$RUNTIME" "$IMAGE" "kiln-env-sleep-$$" sleep 1000 >/dev/null || rc=1
	# The container's own processes live in another mount namespace, so their
	# cwd does not show up under $dir: take the task pid from ctr.
	pids="$(kiln_containerd_pids "$dir" | tr '\n' ' ')$(kiln_ctr task ls |
		awk -v id="kiln-env-sleep-$$" '$1 == id { print $2 }')"
	socks=$(sed 's|^unix://||' "$dir"/state/io.containerd.runtime.v2.task/*/*/address 2>/dev/null | tr '\n' ' ')
	[[ $rc == 0 && -n $(mounts_under "$dir") && -n $socks ]] || rc=1
	ok "$rc" "a detached container runs (pids: $pids)"

	kiln_containerd_stop
	rc=0
	all_gone "$ctr_pid" || rc=1
	ok "$rc" "containerd is gone after stop"
	rc=0
	# shellcheck disable=SC2086
	all_gone $pids && [[ -z $(kiln_containerd_pids "$dir") ]] || rc=1
	ok "$rc" "no shim or container process is left"
	rc=0
	[[ -z $(mounts_under "$dir") && ! -e $dir ]] || rc=1
	ok "$rc" "no mount under the dir is left and the dir is removed"
	rc=0
	for s in $socks; do [[ ! -e $s ]] || { diag "socket $s left"; rc=1; }; done
	ok "$rc" "shim sockets in /run/containerd/s are removed"
}

main() {
	echo "1..10"
	trap cleanup EXIT
	SCRATCH=$(mktemp -d /tmp/kiln-env.XXXXXX)
	if ! t_start; then
		echo "Bail out! containerd did not start"
		exit 1
	fi
	t_image
	t_echo
	t_exit_code
	t_stop
	((FAILED == 0))
}

main "$@"

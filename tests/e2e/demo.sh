#!/bin/bash
# tests/e2e/demo.sh -- the README's demo: a container in its own VM through a
# private containerd. `make demo` builds everything first and runs this.
#
# Starts containerd with its own config, root, state and sockets in a temp
# dir (the kiln shim from build/debug on its PATH), builds and imports a
# busybox image made from busybox-static, runs one container with
# `ctr run --rm --runtime io.containerd.kiln.v1`, prints what it said and
# where the time went (from the shim's trace), and cleans everything up.
set -uo pipefail

HERE=$(cd "$(dirname -- "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib/containerd.sh"
BUILD=${KILN_BUILD:-$ROOT/build/debug}
export KILN_GUEST_DIR=${KILN_GUEST_DIR:-$ROOT/build/guest}
IMAGE=docker.io/kiln/busybox:latest

cleanup() { kiln_containerd_stop >/dev/null 2>&1 || true; }
trap cleanup EXIT

dir=$(mktemp -d /tmp/kiln-demo-XXXXXX)
trace=$dir/trace.jsonl
echo "{\"trace_file\": \"$trace\"}" >"$dir/kiln.json"
export KILN_CONFIG=$dir/kiln.json
echo "== starting a private containerd in $dir"
kiln_containerd_start "$dir" "$BUILD" >/dev/null || exit 1
echo "== building and importing a busybox image"
"$HERE/lib/mkbusybox-oci.sh" "$dir/bb.tar" >/dev/null &&
	kiln_ctr images import "$dir/bb.tar" >/dev/null || exit 1
echo "== host kernel: $(uname -r)"
echo "== ctr run --rm --runtime io.containerd.kiln.v1 $IMAGE demo ..."
start=$(date +%s%N)
timeout -s KILL 120 ctr -a "$KILN_CTR_SOCK" run --rm \
	--runtime io.containerd.kiln.v1 "$IMAGE" demo \
	sh -c 'echo "Hello from inside a kiln VM!"; echo "guest kernel: $(uname -r)"; echo "hostname: $(hostname), pid 1 is $(cat /proc/1/comm)"'
rc=$?
end=$(date +%s%N)
echo "== ctr exited $rc after $(( (end - start) / 1000000 )) ms"
accel=$(cat "$KILN_GUEST_DIR/accel" 2>/dev/null || echo tcg)
echo "== accelerator: $accel"
# One line per transition: print the time of the ones that mark phases.
awk -v t0="" '
	match($0, /"ts":[0-9]+/) { ts = substr($0, RSTART + 5, RLENGTH - 5) }
	/"machine":"vm"/ && /"to":"SPAWNING"/ { spawn = ts }
	/"machine":"vm"/ && /"to":"READY"/ && /"result":"ok"/ { ready = ts }
	/"machine":"task"/ && /"to":"CREATED"/ { created = ts }
	/"machine":"task"/ && /"to":"RUNNING"/ { running = ts }
	/"machine":"task"/ && /"to":"EXITING"/ { exited = ts }
	/"machine":"task"/ && /"to":"STOPPED"/ { stopped = ts }
	/"machine":"task"/ && /"to":"DELETED"/ { deleted = ts }
	END {
		if (spawn == "") { print "   (no trace)"; exit }
		printf "   QEMU spawned          +%6.0f ms\n", 0
		printf "   agent ready (VM up)   +%6.0f ms\n", (ready - spawn) / 1e6
		printf "   container created     +%6.0f ms\n", (created - spawn) / 1e6
		printf "   process running       +%6.0f ms\n", (running - spawn) / 1e6
		printf "   exit seen             +%6.0f ms\n", (exited - spawn) / 1e6
		printf "   output drained        +%6.0f ms\n", (stopped - spawn) / 1e6
		printf "   VM gone, task deleted +%6.0f ms\n", (deleted - spawn) / 1e6
	}' "$trace"
echo "== cleaning up"
exit "$rc"

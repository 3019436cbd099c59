#!/bin/bash
# tests/e2e/lib/mkpause-oci.sh -- build the CRI tests' sandbox image: an OCI
# image layout tar for `ctr -n k8s.io images import`, no registry.
#
# Usage: tests/e2e/lib/mkpause-oci.sh OUT.tar PAUSE_BIN [REF]
#   PAUSE_BIN  the static kiln-pause (tests/pause.c, built by make as
#              build/<flavour>/tests/kiln-pause); if it is missing or not
#              executable, busybox-static stands in (a shell that waits
#              and exits 0 on TERM/INT)
#   REF        default localhost/kiln/pause:3.9-kiln (the sandbox_image of
#              KILN_CTR_CRI=1 in containerd.sh)
#
# One layer holding /pause (and, for the fallback, nothing else: busybox is
# called through its own name); Entrypoint ["/pause"], since containerd's
# CRI plugin runs the sandbox image's entrypoint and has no default. The
# layout is mkbusybox-oci.sh's (deterministic, byte-identical builds).
set -euo pipefail

die() {
	echo "mkpause-oci: $*" >&2
	exit 1
}

[[ $# -ge 2 && $# -le 3 ]] || die "usage: $0 OUT.tar PAUSE_BIN [REF]"
out=$1 bin=$2 ref=${3:-localhost/kiln/pause:3.9-kiln}
here=$(cd "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/kiln-pause.XXXXXX")
trap 'rm -rf -- "$work"' EXIT

mkdir -p "$work/rootfs"
if [[ -x $bin ]]; then
	install -m 0755 "$bin" "$work/rootfs/pause"
	entry='["/pause"]'
else
	echo "mkpause-oci: $bin missing, busybox stands in for pause" >&2
	install -m 0755 "${KILN_BUSYBOX:-/bin/busybox}" "$work/rootfs/pause"
	entry='["/pause","sh","-c","trap \"exit 0\" TERM INT; while :; do /pause sleep 3600 & wait; done"]'
fi
KILN_OCI_ROOTFS=$work/rootfs \
	KILN_OCI_CONFIG='{"Entrypoint":'"$entry"',"Env":["PATH=/"]}' \
	"$here/mkbusybox-oci.sh" "$out" "$ref"

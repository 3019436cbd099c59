#!/bin/bash
# tests/e2e/lib/mkbusybox-rootfs.sh -- build the busybox test root filesystem as a
# plain directory (e.g. to share over virtio-9p without containerd).
#
# Usage: tests/e2e/lib/mkbusybox-rootfs.sh DIR
#   DIR is created if missing and must be empty. Same tree as the layer of
#   mkbusybox-oci.sh (see busybox-tree.sh). Run as root for root-owned files.
set -euo pipefail

main() {
	[[ $# -eq 1 ]] || { echo "usage: $0 DIR" >&2; exit 1; }
	# shellcheck source=SCRIPTDIR/busybox-tree.sh
	source "$(dirname -- "${BASH_SOURCE[0]}")/busybox-tree.sh"
	kiln_busybox_tree "$1" || exit 1
}

main "$@"

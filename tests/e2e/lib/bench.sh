# tests/e2e/lib/bench.sh -- sourced by the benchmarks after containerd.sh:
# kiln_bench_start NAME makes $dir (/tmp/kiln-NAME-XXXXXX), a KILN_CONFIG
# of '{}' in it, a private containerd with the busybox image imported,
# and stops that containerd at exit. ctr_ calls its ctr (300 s at most).
# Needs HERE (tests/e2e) and BUILD set.

ctr_() { timeout -s KILL 300 ctr -a "$KILN_CTR_SOCK" "$@"; }

kiln_bench_start() {
	trap 'kiln_containerd_stop >/dev/null 2>&1' EXIT
	dir=$(mktemp -d "/tmp/kiln-$1-XXXXXX")
	export KILN_CONFIG=$dir/kiln.json
	export KILN_GUEST_DIR=${KILN_GUEST_DIR:-$HERE/../../build/guest}
	echo '{}' >"$KILN_CONFIG"
	kiln_containerd_start "$dir" "$BUILD" >/dev/null &&
		"$HERE/lib/mkbusybox-oci.sh" "$dir/bb.tar" >/dev/null &&
		ctr_ images import "$dir/bb.tar" >/dev/null
}

#!/bin/bash
# tests/e2e/bench_rootfs.sh -- the rootfs as an EROFS image (the default)
# vs shared over 9p, interleaved in one private containerd (N rounds,
# default 3): `ctr run --rm true` on a small rootfs (busybox) and on one
# with a 64 MiB file (the image build grows with the rootfs), then in the
# guest: reading that file (first read) and writing 64 MiB into the rootfs
# with sync. Guest times come from /proc/uptime (10 ms steps). 9p runs
# with jail_user off: QEMU's own uid could not write root-owned files.
# Also the jail on vs off (bench_jail.sh). Prints figures; asserts nothing.
set -uo pipefail
HERE=$(cd "$(dirname -- "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib/containerd.sh"
BUILD=${KILN_BUILD:-$ROOT/build/debug}
RT=io.containerd.kiln.v1
N=${1:-3}
source "$HERE/lib/bench.sh"
kiln_bench_start br || exit 1
"$HERE/lib/mkbusybox-rootfs.sh" "$dir/small" >/dev/null
"$HERE/lib/mkbusybox-rootfs.sh" "$dir/big" >/dev/null
head -c $((64 << 20)) /dev/urandom >"$dir/big/big"
ms() { date +%s%N | cut -c1-13; }
# Centiseconds of guest uptime, read twice around each step.
io='cs() { read u _ </proc/uptime; echo "${u%.*}${u#*.}"; }
a=$(cs); cat /big >/dev/null; b=$(cs)
dd if=/dev/zero of=/w bs=1M count=64 2>/dev/null; sync; c=$(cs); rm -f /w
echo "read_ms=$(((b - a) * 10)) write_ms=$(((c - b) * 10))"'
declare -A cfg=([erofs]='{}' [9p]='{"rootfs": "9p", "jail_user": false}')
echo "rootfs: erofs vs 9p, $N rounds ($(nproc) cores, $(date -u +%F))"
# One start of each first: each mode's snapshot template gets built.
for mode in erofs 9p; do
	echo "${cfg[$mode]}" >"$KILN_CONFIG"
	ctr_ run --rm --runtime "$RT" --rootfs "$dir/small" w$mode /bin/true
done
for ((i = 0; i < N; i++)); do
	for mode in erofs 9p; do
		echo "${cfg[$mode]}" >"$KILN_CONFIG"
		t0=$(ms); ctr_ run --rm --runtime "$RT" --rootfs "$dir/small" s$i$mode /bin/true; t1=$(ms)
		ctr_ run --rm --runtime "$RT" --rootfs "$dir/big" b$i$mode /bin/true; t2=$(ms)
		out=$(ctr_ run --rm --runtime "$RT" --rootfs "$dir/big" i$i$mode /bin/sh -c "$io")
		echo "$mode run_small_ms=$((t1 - t0)) run_64mib_ms=$((t2 - t1)) $out"
	done
done
kiln_containerd_stop >/dev/null 2>&1
echo "jail on vs off:"
"$HERE/bench_jail.sh" "$N"

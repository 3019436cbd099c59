#!/bin/bash
# guest/boottest.sh -- manual smoke test of the guest image (not run by CI).
#
# Usage: guest/boottest.sh [IMAGEDIR] [RUNS]
#   IMAGEDIR  directory with vmlinux and initrd.img from guest/mkimage.sh
#             (default: build/guest next to this script's parent)
#   RUNS      number of boots to time (default 3)
#
# Builds a throwaway variant of IMAGEDIR/initrd.img in a temp dir whose /init is
# a static busybox script: it mounts proc, sys and devtmpfs, insmods every module
# listed in the image's load-order, prints `uname -r` and KILN-BOOT-OK (or
# KILN-BOOT-FAIL), then powers off. Each boot runs under a 60 s timeout with
# QEMU (q35, TCG, PVH boot of the ELF vmlinux); the script prints the time from
# QEMU start to KILN-BOOT-OK and to QEMU exit. Exit status 0 only if every run
# reached KILN-BOOT-OK with all modules loaded.
set -euo pipefail

readonly BUSYBOX=/bin/busybox
readonly BOOT_TIMEOUT=60
readonly APPEND='console=ttyS0 quiet tsc=reliable no_timer_check mitigations=off loglevel=0 panic=-1'
WORK=

die() {
	echo "boottest: $*" >&2
	exit 1
}

cleanup() {
	if [[ -n $WORK ]]; then rm -rf -- "$WORK"; fi
}

# Microseconds since the epoch, without forking.
now_us() {
	local t=${EPOCHREALTIME/./}
	echo "$t"
}

# The ELF vmlinux boots under QEMU only through its PVH entry note (Xen note 0x12).
check_pvh_note() {
	local vmlinux=$1
	command -v readelf >/dev/null || return 0
	readelf -n "$vmlinux" | grep -q 'Unknown note type: (0x00000012)' ||
		die "$vmlinux has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)"
	echo "boottest: $vmlinux carries the PVH entry note"
}

write_init() {
	cat >"$1" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "KILN-INIT $(cut -d' ' -f1 /proc/uptime)"
kdir=/lib/modules/$(uname -r)/kiln
fail=0
want=0
while read -r m; do
	want=$((want + 1))
	insmod "$kdir/$m" || { echo "KILN-INSMOD-FAIL $m"; fail=1; }
done < <(cat "$kdir/load-order" "$kdir/load-order.late")
have=$(wc -l </proc/modules)
echo "KILN-MODULES $have/$want"
[ "$have" -eq "$want" ] || fail=1
echo "KILN-UPTIME $(cut -d' ' -f1 /proc/uptime)"
dmesg -r | grep '^<[0-3]>' | sed 's/^/KILN-DMESG /'
echo "KILN-KVER $(uname -r)"
if [ "$fail" -eq 0 ]; then echo KILN-BOOT-OK; else echo KILN-BOOT-FAIL; fi
poweroff -f
EOF
	chmod 0755 "$1"
}

# Unpack the real initrd, swap /init for the busybox script, repack.
build_test_initrd() {
	local src=$1 out=$2 root=$WORK/root
	mkdir -p "$root"
	(cd "$root" && gzip -dc "$src" | cpio --quiet -id --no-absolute-filenames)
	mkdir -p "$root/bin"
	cp "$BUSYBOX" "$root/bin/busybox"
	write_init "$root/init"
	(cd "$root" && find . -mindepth 1 -printf '%P\0' | LC_ALL=C sort -z |
		cpio --quiet --null --reproducible -R 0:0 -o -H newc) | gzip -n -9 >"$out"
}

# Boot once; print lines of the console log prefixed with ms since QEMU start.
boot_once() {
	local vmlinux=$1 initrd=$2 start line
	start=$(now_us)
	timeout -s KILL "$BOOT_TIMEOUT" qemu-system-x86_64 -M q35 -accel tcg -cpu max -m 256 \
		-nodefaults -no-user-config -display none -serial stdio -no-reboot \
		-kernel "$vmlinux" -initrd "$initrd" -append "$APPEND" </dev/null 2>&1 |
		while IFS= read -r line; do
			printf '%6d %s\n' $((($(now_us) - start) / 1000)) "${line%$'\r'}"
		done
	printf '%6d QEMU-EXIT\n' $((($(now_us) - start) / 1000))
}

# One timed run: print a summary line; return 1 unless KILN-BOOT-OK was seen.
run_one() {
	local n=$1 vmlinux=$2 initrd=$3 log=$WORK/boot$1.log ok_ms exit_ms
	boot_once "$vmlinux" "$initrd" >"$log"
	ok_ms=$(awk '$2 == "KILN-BOOT-OK" { print $1; exit }' "$log")
	grep -E 'KILN-(DMESG|INSMOD-FAIL)' "$log" | sed "s/^ *[0-9]* /run $n: /" >&2 || true
	exit_ms=$(awk '$2 == "QEMU-EXIT" { print $1 }' "$log")
	if [[ -z $ok_ms ]]; then
		if grep -q KILN-BOOT-FAIL "$log"; then
			echo "run $n: FAILED (KILN-BOOT-FAIL); console:" >&2
		else
			echo "run $n: FAILED (no KILN-BOOT-OK within ${BOOT_TIMEOUT}s); console:" >&2
		fi
		sed 's/^/  /' "$log" >&2
		return 1
	fi
	printf 'run %d: KILN-BOOT-OK at %d ms, QEMU exit at %d ms; guest uptime %s; %s, %s\n' \
		"$n" "$ok_ms" "$exit_ms" \
		"$(awk '$2 == "KILN-INIT" { i = $3 } $2 == "KILN-UPTIME" { u = $3 }
			END { print i " s at /init, " u " s after insmod" }' "$log")" \
		"$(awk '$2 == "KILN-KVER" { print "kernel " $3 }' "$log")" \
		"$(awk '$2 == "KILN-MODULES" { print "modules " $3 }' "$log")"
}

main() {
	local here imagedir runs i fails=0
	here=$(cd "$(dirname -- "$0")" && pwd)
	imagedir=${1:-$here/../build/guest}
	runs=${2:-3}
	[[ -f $imagedir/vmlinux && -f $imagedir/initrd.img ]] ||
		die "$imagedir/vmlinux or initrd.img missing; run guest/mkimage.sh first"
	[[ -x $BUSYBOX ]] || die "$BUSYBOX missing (install busybox-static)"
	command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing"
	trap cleanup EXIT
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/kiln-boottest.XXXXXX")

	check_pvh_note "$imagedir/vmlinux"
	build_test_initrd "$imagedir/initrd.img" "$WORK/initrd.img"
	for ((i = 1; i <= runs; i++)); do
		run_one "$i" "$imagedir/vmlinux" "$WORK/initrd.img" || fails=$((fails + 1))
	done
	((fails == 0)) || die "$fails of $runs boots failed"
	echo "boottest: all $runs boots OK"
}

main "$@"

#!/bin/bash
# guest/mkkernel.sh -- build kiln's guest kernel (an ELF vmlinux QEMU boots via PVH).
#
# Usage: guest/mkkernel.sh OUT
#
# From Debian's linux-source-6.1 (/usr/src/linux-source-*.tar.xz): tinyconfig,
# guest/kernel.config merged in, olddefconfig; every line of the fragment must
# survive (else the build stops and names the lines). The result is cached in
# build/kernel/<key>/vmlinux, key = the fragment, this script, the tarball and
# the compiler, so `make guest` rebuilds only when one of them changes; the
# objects stay in build/kernel/obj for quick incremental builds. Debug info is
# stripped after the build, BTF (.BTF, what the agent's eBPF programs need)
# stays. The build log is build/kernel/build.log.
set -euo pipefail

readonly HERE=$(cd "$(dirname -- "$0")" && pwd)
readonly FRAGMENT=$HERE/kernel.config
readonly KDIR=${KILN_KERNEL_DIR:-$HERE/../build/kernel}

die() {
	echo "mkkernel: $*" >&2
	exit 1
}

tarball() {
	local t
	t=$(find /usr/src -maxdepth 1 -name 'linux-source-*.tar.xz' | sort -V | tail -n 1)
	[[ -n $t ]] || die "no /usr/src/linux-source-*.tar.xz (install linux-source-6.1)"
	echo "$t"
}

cache_key() {
	{
		cat "$FRAGMENT" "$0"
		stat -c '%n %s' "$1"
		gcc --version | head -n 1
		pahole --version
	} | sha256sum | cut -c1-16
}

extract() {
	local tar=$1 src=$KDIR/src
	if [[ -f $src/.kiln-from && $(cat "$src/.kiln-from") == "$(stat -c '%n %s' "$tar")" ]]; then
		return 0
	fi
	rm -rf -- "$src"
	mkdir -p -- "$src"
	tar -xJf "$tar" -C "$src" --strip-components=1
	stat -c '%n %s' "$tar" >"$src/.kiln-from"
}

# Every CONFIG_X=y of the fragment is in the final .config.
check_config() {
	local cfg=$1 line missing=()
	while IFS= read -r line; do
		[[ $line == CONFIG_* ]] || continue
		grep -qxF -- "$line" "$cfg" || missing+=("$line")
	done <"$FRAGMENT"
	((${#missing[@]} == 0)) || die "olddefconfig dropped: ${missing[*]}"
}

configure() {
	local src=$1 obj=$2
	mkdir -p -- "$obj"
	make -C "$src" O="$obj" tinyconfig >/dev/null
	"$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" \
		"$FRAGMENT" >"$KDIR/config.log" 2>&1
	# The version names this kernel in the guest (uname -r): no Debian
	# module directory matches it, so the agent loads none.
	"$src/scripts/config" --file "$obj/.config" --set-str LOCALVERSION -kiln \
		--disable LOCALVERSION_AUTO
	make -C "$src" O="$obj" olddefconfig >>"$KDIR/config.log" 2>&1
	check_config "$obj/.config"
}

main() {
	[[ $# -eq 1 ]] || die "usage: $0 OUT"
	local out=$1 tar key cached obj log t0
	tar=$(tarball)
	key=$(cache_key "$tar")
	cached=$KDIR/$key/vmlinux
	if [[ ! -s $cached ]]; then
		command -v pahole >/dev/null || die "pahole missing (install dwarves): BTF needs it"
		t0=$SECONDS
		mkdir -p -- "$KDIR"
		log=$KDIR/build.log
		extract "$tar"
		obj=$KDIR/obj
		configure "$KDIR/src" "$obj"
		echo "mkkernel: building $(basename "$tar") with guest/kernel.config ($key), log in $log" >&2
		# BTF needs DWARF's types, not where each variable lives:
		# without variable tracking gcc compiles the kernel much faster.
		if ! make -C "$KDIR/src" O="$obj" -j"$(nproc)" \
		    KCFLAGS="-fno-var-tracking -fno-var-tracking-assignments" \
		    vmlinux >"$log" 2>&1; then
			tail -n 30 "$log" >&2
			die "kernel build failed (log: $log)"
		fi
		mkdir -p -- "$KDIR/$key"
		strip --strip-debug -R .comment -o "$cached.tmp" "$obj/vmlinux"
		cp -- "$obj/.config" "$KDIR/$key/config"
		mv -f -- "$cached.tmp" "$cached"
		echo "mkkernel: built in $((SECONDS - t0)) s" >&2
	fi
	mkdir -p -- "$(dirname -- "$out")"
	cp -f -- "$cached" "$out.tmp"
	mv -f -- "$out.tmp" "$out"
	echo "mkkernel: $out: $(stat -c %s "$out") bytes, key $key"
}

main "$@"

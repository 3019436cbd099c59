#!/bin/bash
# guest/mkimage.sh -- build the kiln guest image (kernel + initramfs).
#
# Usage: guest/mkimage.sh OUTDIR AGENT_BINARY
#        guest/mkimage.sh --vmlinux OUTDIR   (only OUTDIR/vmlinux-debian: its BTF
#                                             makes the agent's vmlinux.h)
#
# Writes:
#   OUTDIR/vmlinux-debian  uncompressed ELF kernel pulled out of the Debian bzImage
#                      (/boot/vmlinuz-<ver>), bootable by QEMU via PVH. Rebuilt only
#                      when the vmlinuz is newer than it. kiln's own kernel
#                      (OUTDIR/vmlinux, the default) is guest/mkkernel.sh's; the
#                      config's "kernel" selects Debian's, whose modules the
#                      initrd carries (a kernel of another version loads none).
#   OUTDIR/initrd.img  reproducible gzip'd newc cpio: /init = AGENT_BINARY, /usr/bin/crun,
#                      the shared libraries both need (at the paths ldd reports, plus the
#                      loader at /lib64/ld-linux-x86-64.so.2), and empty /proc /sys /dev
#                      /run /tmp /mnt /etc: for kiln's kernel, which has all built in.
#   OUTDIR/initrd-debian.img  the same plus the Debian kernel's modules in
#                      /lib/modules/<ver>/kiln/ with a load-order file (dependencies
#                      first), for vmlinux-debian.
#
# The kernel version is the newest one in /lib/modules that has a /boot/vmlinuz;
# override it with KILN_GUEST_KVER. File times are SOURCE_DATE_EPOCH (default 0).
# Prints one summary line on success; errors go to stderr with exit status 1.
set -euo pipefail

# Modules the guest needs; their dependencies are added from modules.dep.
# The agent loads BOOT_MODULES (load-order) before it serves: the channel
# and the rootfs (9p, or EROFS on virtio-blk under an overlay; a snapshot
# template is saved at the greeting, so what a restored VM needs at
# CreateContainer must be loaded by then). LATE_MODULES (load-order.late)
# load in the background.
readonly BOOT_MODULES=(virtio_pci virtio_console 9pnet_virtio 9p virtio_blk crc32c_generic
	erofs overlay)
readonly LATE_MODULES=(virtio_net vmw_vsock_virtio_transport
	virtio_mem button evdev)
readonly LOADER=/lib64/ld-linux-x86-64.so.2
readonly CRUN=/usr/bin/crun
readonly EPOCH=${SOURCE_DATE_EPOCH:-0}

STAGE=
declare -A MOD_PATH=() MOD_DEPS=() MOD_SEEN=()
MOD_ORDER=()

die() {
	echo "mkimage: $*" >&2
	exit 1
}

cleanup() {
	if [[ -n $STAGE ]]; then rm -rf -- "$STAGE"; fi
}

# Newest kernel version in /lib/modules that also has /boot/vmlinuz-<ver>.
pick_kver() {
	local v
	if [[ -n ${KILN_GUEST_KVER:-} ]]; then
		v=$KILN_GUEST_KVER
		[[ -f /boot/vmlinuz-$v && -f /lib/modules/$v/modules.dep ]] ||
			die "KILN_GUEST_KVER=$v: no /boot/vmlinuz-$v or /lib/modules/$v/modules.dep"
		echo "$v"
		return
	fi
	for v in $(find /lib/modules -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -rV); do
		if [[ -f /boot/vmlinuz-$v && -f /lib/modules/$v/modules.dep ]]; then
			echo "$v"
			return
		fi
	done
	die "no kernel in /lib/modules with a matching /boot/vmlinuz"
}

is_elf() {
	[[ $(head -c 4 "$1" | od -A n -t x1 | tr -d ' \n') == 7f454c46 ]]
}

# Decompress the xz payload of a bzImage into an ELF vmlinux. The payload is
# followed by other data, so xz's trailing-garbage error is expected and ignored.
extract_vmlinux() {
	local vmlinuz=$1 out=$2 off
	if [[ -s $out && ! $vmlinuz -nt $out ]]; then
		return 0
	fi
	for off in $(LC_ALL=C grep -obUaP '\xFD7zXZ\x00' "$vmlinuz" | cut -d: -f1); do
		{ tail -c "+$((off + 1))" "$vmlinuz" | xz -dc >"$out.tmp" 2>/dev/null; } || true
		if [[ -s $out.tmp ]] && is_elf "$out.tmp"; then
			mv -f -- "$out.tmp" "$out"
			return 0
		fi
	done
	rm -f -- "$out.tmp"
	die "no xz-compressed ELF found in $vmlinuz"
}

# Copy FILE's content (symlinks followed) to the same path under the stage.
stage_file() {
	local src=$1 dst=$STAGE$1 mode=${2:-0755}
	mkdir -p -- "$(dirname -- "$dst")"
	cp -L -- "$src" "$dst"
	chmod "$mode" -- "$dst"
}

# Shared libraries of a dynamic ELF, one absolute path a line, as ldd resolves them.
list_libs() {
	local out
	if ! out=$(ldd "$1" 2>&1); then
		[[ $out == *"not a dynamic executable"* ]] && return 0
		die "ldd $1 failed: $out"
	fi
	if grep -q 'not found' <<<"$out"; then
		die "$1: unresolved libraries: $(grep 'not found' <<<"$out" | tr -s ' \t' ' ')"
	fi
	awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$out"
}

stage_binaries() {
	local agent=$1 lib agent_libs crun_libs
	agent_libs=$(list_libs "$agent")
	crun_libs=$(list_libs "$CRUN")
	mkdir -p -- "$STAGE/usr/bin"
	cp -L -- "$agent" "$STAGE/init"
	chmod 0755 -- "$STAGE/init"
	stage_file "$CRUN"
	for lib in $(printf '%s\n' "$agent_libs" "$crun_libs" "$LOADER" | sed '/^$/d' | sort -u); do
		stage_file "$lib"
	done
}

read_modules_dep() {
	local kdir=$1 key deps name
	while IFS=: read -r key deps; do
		name=${key##*/}
		name=${name%.ko}
		MOD_PATH[$name]=$key
		MOD_DEPS[$name]=$deps
	done <"$kdir/modules.dep"
}

# Post-order walk: dependencies first, each module once. modules.dep lists a
# module's dependencies deepest-last, so walk them in reverse like modprobe does.
visit_module() {
	local name=$1 dep i
	local -a deps
	[[ -n ${MOD_SEEN[$name]:-} ]] && return 0
	[[ -n ${MOD_PATH[$name]:-} ]] || die "module $name not in modules.dep"
	MOD_SEEN[$name]=1
	read -r -a deps <<<"${MOD_DEPS[$name]}"
	for ((i = ${#deps[@]} - 1; i >= 0; i--)); do
		dep=${deps[i]##*/}
		visit_module "${dep%.ko}"
	done
	MOD_ORDER+=("$name")
}

stage_modules() {
	local kver=$1 kdir=/lib/modules/$1 dst name m
	dst=$STAGE/lib/modules/$kver/kiln
	local nboot i list
	read_modules_dep "$kdir"
	for m in "${BOOT_MODULES[@]}"; do visit_module "$m"; done
	nboot=${#MOD_ORDER[@]}
	for m in "${LATE_MODULES[@]}"; do visit_module "$m"; done
	mkdir -p -- "$dst"
	: >"$dst/load-order"
	: >"$dst/load-order.late"
	for i in "${!MOD_ORDER[@]}"; do
		name=${MOD_ORDER[$i]}
		[[ ${MOD_PATH[$name]} == *.ko ]] || die "module $name is compressed: ${MOD_PATH[$name]}"
		cp -- "$kdir/${MOD_PATH[$name]}" "$dst/$name.ko"
		chmod 0644 -- "$dst/$name.ko"
		list=load-order
		((i < nboot)) || list=load-order.late
		echo "$name.ko" >>"$dst/$list"
	done
	chmod 0644 -- "$dst/load-order" "$dst/load-order.late"
}

stage_dirs() {
	local d
	for d in proc sys dev run tmp mnt etc; do mkdir -p -- "$STAGE/$d"; done
	find "$STAGE" -type d -exec chmod 0755 {} +
	chmod 1777 -- "$STAGE/tmp"
}

# When root, check that every library resolves inside the image itself.
check_stage() {
	local bin out
	[[ $(id -u) == 0 ]] || return 0
	for bin in /init "$CRUN"; do
		ldd "$STAGE$bin" >/dev/null 2>&1 || continue # static: nothing to resolve
		out=$(chroot "$STAGE" "$LOADER" --list "$bin" 2>&1) || die "$bin in image: $out"
		if grep -q 'not found' <<<"$out"; then die "$bin in image: $out"; fi
	done
}

write_cpio() {
	local out=$1
	find "$STAGE" -exec touch -h -d "@$EPOCH" {} +
	(
		cd "$STAGE"
		find . -mindepth 1 -printf '%P\0' | LC_ALL=C sort -z |
			cpio --quiet --null --reproducible -R 0:0 -o -H newc
	) | gzip -n -9 >"$out.tmp"
	mv -f -- "$out.tmp" "$out"
}

main() {
	if [[ $# -eq 2 && $1 == --vmlinux ]]; then
		local kver
		kver=$(pick_kver)
		mkdir -p -- "$2"
		extract_vmlinux "/boot/vmlinuz-$kver" "$2/vmlinux-debian"
		return
	fi
	[[ $# -eq 2 ]] || die "usage: $0 OUTDIR AGENT_BINARY"
	local outdir=$1 agent=$2 kver
	[[ -f $agent && -x $agent ]] || die "agent binary $agent missing or not executable"
	[[ -x $CRUN ]] || die "$CRUN missing (install crun)"
	kver=$(pick_kver)
	mkdir -p -- "$outdir"
	trap cleanup EXIT
	STAGE=$(mktemp -d "${TMPDIR:-/tmp}/kiln-initrd.XXXXXX")
	chmod 0755 -- "$STAGE"

	extract_vmlinux "/boot/vmlinuz-$kver" "$outdir/vmlinux-debian"
	stage_binaries "$agent"
	stage_dirs
	check_stage
	write_cpio "$outdir/initrd.img"
	stage_modules "$kver"
	find "$STAGE/lib/modules" -type d -exec chmod 0755 {} +
	write_cpio "$outdir/initrd-debian.img"
	echo "mkimage: $outdir: initrd.img $(stat -c %s "$outdir/initrd.img") bytes; vmlinux-debian $kver, initrd-debian.img $(stat -c %s "$outdir/initrd-debian.img") bytes, ${#MOD_ORDER[@]} modules"
}

main "$@"

#!/bin/bash
# tests/e2e/lib/busybox-tree.sh -- shared by mkbusybox-oci.sh and mkbusybox-rootfs.sh.
#
# Usage (sourced): source busybox-tree.sh; kiln_busybox_tree DIR
#
# Fills DIR (created if missing, must be empty) with a minimal busybox root
# filesystem: /bin/busybox from busybox-static plus a /bin symlink for every
# applet it lists, /etc/passwd, /etc/group, and empty /proc /sys /dev /tmp /root.
# Modes and mtimes (SOURCE_DATE_EPOCH, default 0) are fixed so the tree is the
# same on every build. Does not change the caller's shell options.

KILN_BUSYBOX=${KILN_BUSYBOX:-/bin/busybox}

_kiln_bb_die() {
	echo "busybox-tree: $*" >&2
	return 1
}

_kiln_bb_etc() {
	local dir=$1
	printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' \
		'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$dir/etc/passwd"
	printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >"$dir/etc/group"
	chmod 0644 "$dir/etc/passwd" "$dir/etc/group"
}

_kiln_bb_applets() {
	local dir=$1 applet
	for applet in $("$KILN_BUSYBOX" --list); do
		[[ $applet == busybox || $applet == */* ]] && continue
		ln -s busybox "$dir/bin/$applet"
	done
}

kiln_busybox_tree() {
	local dir=${1:?usage: kiln_busybox_tree DIR} epoch=${SOURCE_DATE_EPOCH:-0} d
	[[ -x $KILN_BUSYBOX ]] || _kiln_bb_die "$KILN_BUSYBOX missing (install busybox-static)" || return 1
	mkdir -p "$dir" || return 1
	[[ -z $(ls -A "$dir") ]] || _kiln_bb_die "$dir is not empty" || return 1
	for d in bin etc proc sys dev tmp root; do mkdir "$dir/$d" || return 1; done
	cp "$KILN_BUSYBOX" "$dir/bin/busybox" && chmod 0755 "$dir/bin/busybox" || return 1
	_kiln_bb_applets "$dir" || return 1
	_kiln_bb_etc "$dir" || return 1
	find "$dir" -type d -exec chmod 0755 {} + || return 1
	chmod 1777 "$dir/tmp" && chmod 0700 "$dir/root" || return 1
	find "$dir" -exec touch -h -d "@$epoch" {} +
}

#!/bin/bash
# tests/e2e/lib/containerd.sh -- run a private containerd for tests and the demo.
#
# Usage (sourced, from a bash script that runs under `set -euo pipefail`; this file
# does not change the caller's shell options):
#   source tests/e2e/lib/containerd.sh
#   dir=$(mktemp -d /tmp/kiln-XXXXXX)     # short: unix socket paths are <= 107 bytes
#   kiln_containerd_start "$dir" [SHIM_DIR]
#   kiln_ctr images ls                    # = timeout -s KILL 120 ctr -a $KILN_CTR_SOCK ...
#   kiln_containerd_stop
#
# kiln_containerd_start DIR [SHIM_DIR]
#   Writes DIR/config.toml (root, state, grpc and ttrpc sockets, opt path, all under
#   DIR; debug logging; CRI and the aufs/btrfs/devmapper/zfs snapshotters disabled;
#   no prometheus), starts `containerd --config` in the background with SHIM_DIR
#   first on its PATH, logging to DIR/containerd.log, and waits up to 30 s for
#   `ctr version` to answer. Exports KILN_CTR_DIR, KILN_CTR_SOCK, KILN_CTR_TTRPC,
#   KILN_CTR_PID. Returns 1 (after cleaning up) if containerd does not come up.
# kiln_containerd_stop
#   Stops containerd (TERM, then KILL after 5 s), kills by pid every leftover
#   process whose cwd or arguments lie under DIR (shims, container processes,
#   stray ctr), force-deletes leftover runc containers of DIR's bundles, removes
#   the shims' sockets (containerd 1.6 puts them in /run/containerd/s/<sha256>
#   whatever its own state dir is), unmounts everything under DIR deepest first,
#   and removes DIR. Safe to call twice.
# kiln_ctr ARGS...
#   Runs ctr against the private containerd, killed after KILN_CTR_TIMEOUT (120) s.
# kiln_containerd_pids [DIR]
#   Prints the pids (other than the caller and its ancestors) whose cwd or
#   arguments lie under DIR (default $KILN_CTR_DIR): containerd, shims, containers.
# KILN_CTR_NETNS=/var/run/netns/NAME (optional, set before kiln_containerd_start)
#   containerd runs in that network namespace (nsenter --net, not `ip netns exec`,
#   which remounts /sys and hides the cgroup mount), and so do the shims.
# KILN_CTR_CRI=1 (optional, set before kiln_containerd_start)
#   Enables containerd's CRI plugin (disabled otherwise) for tests that drive
#   containerd as the kubelet does (tests/cri/kiln_cri.py): sandbox_image
#   $KILN_CTR_CRI_SANDBOX (default localhost/kiln/pause:3.9-kiln, to be
#   imported into the k8s.io namespace by the caller: nothing is pulled);
#   restrict_oom_score_adj (root here lacks CAP_SYS_RESOURCE); the cgroupfs
#   driver (cgroup v1 without systemd); the stream server on 127.0.0.1, any
#   port; no TCP service; pod network namespaces under DIR/state; CNI from
#   /usr/lib/cni with the first conflist in $KILN_CTR_CRI_NETD (default
#   DIR/cri-net.d, which must hold it before kiln_containerd_start: the
#   plugin reads it at start); the overlayfs snapshotter; handlers `runc`
#   (the default, io.containerd.runc.v2) and `kiln` (io.containerd.kiln.v1).
#   Exports KILN_CTR_CRI_SOCK (= KILN_CTR_SOCK: CRI is served on containerd's
#   grpc socket) and KILN_CTR_CGROUP_PARENT (/kiln-cri-<DIR's name>), the
#   cgroup_parent pod configs must use so that kiln_containerd_stop can
#   remove the pod cgroups. kiln_containerd_stop then also removes what CRI
#   leaves outside DIR when containerd dies with pods still there: the CNI
#   result cache entries of DIR's sandboxes (/var/lib/cni/results, whatever
#   the config says) and the cgroups under KILN_CTR_CGROUP_PARENT.

KILN_CTR_SHIM_SOCKDIR=/run/containerd/s
KILN_CTR_RUNC_ROOT=/run/containerd/runc

_kiln_ctr_log() {
	echo "containerd.sh: $*" >&2
}

# libcni's result cache; a test without CRI may point it at a scratch dir.
KILN_CTR_CNI_CACHE=${KILN_CTR_CNI_CACHE:-/var/lib/cni/results}

_kiln_ctr_config() {
	local dir=$1 cri=
	[[ ${KILN_CTR_CRI:-0} == 1 ]] || cri='
  "io.containerd.grpc.v1.cri",'
	cat <<EOF
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = [$cri
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
]

[grpc]
  address = "$dir/containerd.sock"

[ttrpc]
  address = "$dir/containerd.sock.ttrpc"

[debug]
  level = "debug"

[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/opt"

[plugins."io.containerd.monitor.v1.cgroups"]
  no_prometheus = true
EOF
	if [[ -z $cri ]]; then _kiln_ctr_cri_config "$dir"; fi
}

# The CRI plugin's section (KILN_CTR_CRI=1), as measured on this machine
# (shared/reference/containerd-test-env.md).
_kiln_ctr_cri_config() {
	local dir=$1
	cat <<EOF

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${KILN_CTR_CRI_SANDBOX:-localhost/kiln/pause:3.9-kiln}"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_tcp_service = true
  netns_mounts_under_state_dir = true

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "${KILN_CTR_CRI_NETD:-$dir/cri-net.d}"
  max_conf_num = 1

[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = false

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kiln]
  runtime_type = "io.containerd.kiln.v1"
EOF
}

# Poll `ctr version` until it answers, containerd dies, or 30 s pass.
_kiln_ctr_wait_up() {
	local i
	for ((i = 0; i < 300; i++)); do
		if timeout -s KILL 5 ctr -a "$KILN_CTR_SOCK" version >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$KILN_CTR_PID" 2>/dev/null || break
		sleep 0.1
	done
	return 1
}

kiln_containerd_start() {
	local dir=${1:?usage: kiln_containerd_start DIR [SHIM_DIR]} shim_dir=${2:-} path=$PATH
	mkdir -p "$dir" || return 1
	dir=$(cd "$dir" && pwd -P) || return 1
	if [[ -n $shim_dir ]]; then
		shim_dir=$(cd "$shim_dir" && pwd -P) || return 1
		path=$shim_dir:$PATH
	fi
	if ((${#dir} + 22 > 107)); then
		_kiln_ctr_log "$dir is too long for unix socket paths"
		return 1
	fi
	export KILN_CTR_DIR=$dir
	export KILN_CTR_SOCK=$dir/containerd.sock
	export KILN_CTR_TTRPC=$dir/containerd.sock.ttrpc
	if [[ ${KILN_CTR_CRI:-0} == 1 ]]; then
		export KILN_CTR_CRI_SOCK=$KILN_CTR_SOCK
		export KILN_CTR_CGROUP_PARENT=/kiln-cri-${dir##*/}
		if ! compgen -G "${KILN_CTR_CRI_NETD:-$dir/cri-net.d}/*.conflist" >/dev/null; then
			_kiln_ctr_log "KILN_CTR_CRI=1: no conflist in ${KILN_CTR_CRI_NETD:-$dir/cri-net.d}"
			return 1
		fi
	fi
	_kiln_ctr_config "$dir" >"$dir/config.toml" || return 1
	# nsenter execs containerd itself: $! stays containerd's pid.
	PATH=$path ${KILN_CTR_NETNS:+nsenter --net="$KILN_CTR_NETNS"} \
		containerd --config "$dir/config.toml" </dev/null >>"$dir/containerd.log" 2>&1 &
	export KILN_CTR_PID=$!
	if ! _kiln_ctr_wait_up; then
		_kiln_ctr_log "containerd did not come up; last log lines:"
		tail -n 20 "$dir/containerd.log" >&2
		kiln_containerd_stop
		return 1
	fi
}

kiln_ctr() {
	timeout -s KILL "${KILN_CTR_TIMEOUT:-120}" ctr -a "$KILN_CTR_SOCK" "$@"
}

# Pids of this shell and its ancestors: never killed, even if their cwd is under DIR.
_kiln_ctr_self_pids() {
	local pid=$BASHPID
	while [[ -n $pid && $pid != 0 ]]; do
		echo "$pid"
		pid=$(awk '/^PPid:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || break
	done
}

# Pids (not ours) whose cwd or command line lies under DIR.
_kiln_ctr_pids_under() {
	local dir=$1 p pid cwd args self
	self=" $(_kiln_ctr_self_pids | tr '\n' ' ') "
	for p in /proc/[0-9]*; do
		pid=${p#/proc/}
		[[ $self == *" $pid "* ]] && continue
		cwd=$(readlink "$p/cwd" 2>/dev/null) || cwd=
		args=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || args=
		if [[ $cwd == "$dir" || $cwd == "$dir"/* || $args == *"$dir"/* ]]; then
			echo "$pid"
		fi
	done
}

# Unix socket paths that process PID listens on under the shim socket dir.
_kiln_ctr_pid_sockets() {
	local pid=$1 inodes
	inodes=$(find "/proc/$pid/fd" -maxdepth 1 -lname 'socket:*' -printf '%l\n' 2>/dev/null |
		sed 's/^socket:\[\(.*\)\]$/\1/' | tr '\n' ' ')
	[[ -n $inodes ]] || return 0
	awk -v inodes=" $inodes " -v sdir="$KILN_CTR_SHIM_SOCKDIR/" \
		'NR > 1 && index(inodes, " " $7 " ") && index($8, sdir) == 1 { print $8 }' /proc/net/unix
}

# Shim sockets recorded in DIR's bundles ("address" files, and the default name
# sha256(<grpc address>/<ns>/<id>) that containerd 1.6 shims listen on).
_kiln_ctr_bundle_sockets() {
	local dir=$1 b ns id
	for b in "$dir"/state/io.containerd.runtime.v2.task/*/*/; do
		[[ -d $b ]] || continue
		b=${b%/}
		id=${b##*/}
		ns=${b%/*}
		ns=${ns##*/}
		if [[ -f $b/address ]]; then sed 's|^unix://||' "$b/address"; echo; fi
		printf '%s/%s\n' "$KILN_CTR_SHIM_SOCKDIR" \
			"$(printf '%s/%s/%s' "$dir/containerd.sock" "$ns" "$id" | sha256sum | cut -d' ' -f1)"
	done
}

# Force-delete runc containers that still exist for DIR's bundles.
_kiln_ctr_runc_delete() {
	local dir=$1 b ns id
	command -v runc >/dev/null || return 0
	for b in "$dir"/state/io.containerd.runtime.v2.task/*/*/; do
		[[ -d $b ]] || continue
		b=${b%/}
		id=${b##*/}
		ns=${b%/*}
		ns=${ns##*/}
		if [[ -d $KILN_CTR_RUNC_ROOT/$ns/$id ]]; then
			runc --root "$KILN_CTR_RUNC_ROOT/$ns" delete --force "$id" >/dev/null 2>&1 || true
		fi
	done
}

kiln_containerd_pids() {
	local dir=${1:-${KILN_CTR_DIR:-}}
	[[ -n $dir ]] || return 0
	_kiln_ctr_pids_under "$dir"
}

_kiln_ctr_kill_containerd() {
	local pid=$1 i
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# Kill everything under DIR, repeating while new processes show up (reparented
# container processes, shims that were just starting).
_kiln_ctr_kill_leftovers() {
	local dir=$1 pids pid round
	for ((round = 0; round < 20; round++)); do
		pids=$(_kiln_ctr_pids_under "$dir")
		[[ -n $pids ]] || return 0
		for pid in $pids; do
			_kiln_ctr_pid_sockets "$pid" >>"$dir/.kiln-sockets" 2>/dev/null || true
			kill -KILL "$pid" 2>/dev/null || true
		done
		sleep 0.1
	done
	_kiln_ctr_log "processes under $dir survive: $(_kiln_ctr_pids_under "$dir" | tr '\n' ' ')"
}

_kiln_ctr_remove_sockets() {
	local dir=$1 sock
	{
		_kiln_ctr_bundle_sockets "$dir"
		cat "$dir/.kiln-sockets" 2>/dev/null || true
	} | sort -u | while IFS= read -r sock; do
		[[ $sock == "$KILN_CTR_SHIM_SOCKDIR"/* && -S $sock ]] && rm -f -- "$sock"
		true
	done
}

# Unmount every mount point under DIR, deepest first (lazily if busy).
_kiln_ctr_unmount_all() {
	local dir=$1 mnt
	awk '{ print $5 }' /proc/self/mountinfo | while IFS= read -r mnt; do
		mnt=$(printf '%b' "$mnt") # mountinfo escapes space, tab, newline, backslash
		[[ $mnt == "$dir"/* || $mnt == "$dir" ]] && echo "$mnt"
		true
	done | LC_ALL=C sort -r -u | while IFS= read -r mnt; do
		umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null ||
			_kiln_ctr_log "cannot unmount $mnt"
	done
}

# What containerd does for a task whose shim is gone: run the shim binary's
# `delete` action in each bundle, so a shim's own leftovers (VMs, run
# dirs, mounts) go too. Quiet; bounded by a timeout.
_kiln_ctr_shim_delete() {
	local dir=$1 b ns id bin
	for b in "$dir"/state/io.containerd.runtime.v2.task/*/*; do
		[[ -f $b/shim-binary-path ]] || continue
		bin=$(cat "$b/shim-binary-path")
		id=${b##*/}
		ns=${b%/*}
		ns=${ns##*/}
		(cd "$b" && timeout -s KILL 30 "$bin" -namespace "$ns" \
			-address "$dir/containerd.sock" -id "$id" -bundle "$b" \
			delete) >/dev/null 2>&1 </dev/null || true
	done
}

# The sandbox ids CRI knew in DIR (its metadata and the task bundles).
_kiln_ctr_cri_sandboxes() {
	local dir=$1 d
	for d in "$dir"/root/io.containerd.grpc.v1.cri/sandboxes/* \
	    "$dir"/state/io.containerd.grpc.v1.cri/sandboxes/* \
	    "$dir"/state/io.containerd.runtime.v2.task/k8s.io/*; do
		if [[ -d $d ]]; then echo "${d##*/}"; fi
	done | sort -u
}

# CRI's CNI result cache (libcni: <network>-<sandbox id>-<ifname>) ignores
# the config's dirs: remove the entries of DIR's sandboxes, and any that
# names DIR (the netns path under DIR/state).
_kiln_ctr_cni_cache_clean() {
	local dir=$1 id f
	[[ -d $KILN_CTR_CNI_CACHE ]] || return 0
	for id in $(_kiln_ctr_cri_sandboxes "$dir"); do
		for f in "$KILN_CTR_CNI_CACHE"/*-"$id"-*; do
			if [[ -f $f ]]; then rm -f -- "$f"; fi
		done
	done
	# grep exits 2 on an empty cache (the glob stays literal): under the
	# callers' pipefail and set -e that must not end the caller.
	{ grep -lsF -- "$dir/" "$KILN_CTR_CNI_CACHE"/* 2>/dev/null || true; } |
		while IFS= read -r f; do rm -f -- "$f"; done
}

# Remove the cgroup directories under PARENT in every hierarchy, deepest
# first; one with tasks left stays (logged).
_kiln_ctr_cgroups_clean() {
	local parent=$1 root d
	[[ $parent == /kiln-cri-* ]] || return 0
	for root in /sys/fs/cgroup/*; do
		[[ -d $root$parent ]] || continue
		{ find "$root$parent" -depth -type d 2>/dev/null || true; } |
			while IFS= read -r d; do
				rmdir "$d" 2>/dev/null || _kiln_ctr_log "cannot remove cgroup $d"
			done
	done
	true
}

kiln_containerd_stop() {
	local dir=${KILN_CTR_DIR:-}
	[[ -n $dir ]] || return 0
	case $dir in /* ) ;; *) _kiln_ctr_log "refusing relative dir $dir"; return 1 ;; esac
	[[ $dir != / ]] || return 1
	_kiln_ctr_kill_containerd "${KILN_CTR_PID:-}"
	_kiln_ctr_kill_leftovers "$dir"
	_kiln_ctr_shim_delete "$dir"
	_kiln_ctr_runc_delete "$dir"
	_kiln_ctr_remove_sockets "$dir"
	_kiln_ctr_cni_cache_clean "$dir"
	_kiln_ctr_unmount_all "$dir"
	_kiln_ctr_cgroups_clean "${KILN_CTR_CGROUP_PARENT:-}"
	rm -rf --one-file-system -- "$dir" 2>/dev/null || rm -rf -- "$dir" ||
		_kiln_ctr_log "cannot remove $dir"
	unset KILN_CTR_DIR KILN_CTR_SOCK KILN_CTR_TTRPC KILN_CTR_PID \
	    KILN_CTR_CRI_SOCK KILN_CTR_CGROUP_PARENT
}

#!/bin/bash
# tests/e2e/t_jail.sh -- every QEMU runs in its jail (core/jail.c).
#
# Under a private containerd: a running container's QEMU has no
# capabilities, no_new_privs, QEMU's seccomp filter, its own mount
# namespace whose root holds no /etc/shadow, and a cgroup with the memory
# ceiling. A hostile container (root in the guest) makes a setuid-root
# binary and a block device: the host's snapshot holds neither (the rootfs
# is a read-only EROFS image with the guest's writes in guest memory),
# while the guest sees both and the image's owners and modes. QEMU gets its
# sockets, console and image as fds and cannot reach the run dir. The
# shim's socket takes bursts and stallers. A jail step that fails (no uid
# to give, the range used up) fails Create clearly and leaves nothing
# behind; a loosened step warns.
set -uo pipefail

HERE=$(cd "$(dirname -- "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib/tap.sh"
source "$HERE/lib/containerd.sh"
BUILD=${KILN_BUILD:-$ROOT/build/debug}
IMAGE=docker.io/kiln/busybox:latest
RT=io.containerd.kiln.v1
export KILN_GUEST_DIR=${KILN_GUEST_DIR:-$ROOT/build/guest}

cleanup() { kiln_containerd_stop >/dev/null 2>&1 || true; }
trap cleanup EXIT

dir=$(mktemp -d /tmp/kiln-jail-XXXXXX)
export KILN_CONFIG=$dir/kiln.json
echo '{}' >"$KILN_CONFIG"
ctr_() { timeout -s KILL 120 ctr -a "$KILN_CTR_SOCK" "$@"; }
kiln_containerd_start "$dir" "$BUILD" >/dev/null &&
	"$HERE/lib/mkbusybox-oci.sh" "$dir/bb.tar" >/dev/null &&
	ctr_ images import "$dir/bb.tar" >/dev/null
ok $? "private containerd up, image imported"

ctr_ run -d --runtime "$RT" "$IMAGE" jailed sh -c \
	'cp /bin/busybox /bb; chmod 4755 /bb; mknod /blk b 8 0;
	 touch /done; sleep 600' >/dev/null
ok $? "a hostile container runs detached"
pid=$(ctr_ task ls | awk '$1 == "jailed" {print $2}')
st=/proc/$pid/status
[[ -n $pid ]] && grep -q "qemu" "/proc/$pid/cmdline"
ok $? "its task pid $pid is QEMU's"
grep -qP '^Seccomp:\t2$' "$st"
ok $? "QEMU: Seccomp 2 (its -sandbox filter)"
grep -qP '^NoNewPrivs:\t1$' "$st"
ok $? "QEMU: NoNewPrivs 1"
grep -qP '^CapEff:\t0{16}$' "$st" && grep -qP '^CapPrm:\t0{16}$' "$st" &&
	grep -qP '^CapBnd:\t0{16}$' "$st"
ok $? "QEMU: no effective, permitted or bounding capabilities"
diag "$(grep -E '^(Uid|Gid|Groups|Cap|NoNew|Seccomp)' "$st")"
uid=$(awk '$1 == "Uid:" {print $2}' "$st")
gid=$(awk '$1 == "Gid:" {print $2}' "$st")
[[ $uid -ge 100000 && $gid == "$uid" ]] &&
	grep -qP "^Uid:\t$uid\t$uid\t$uid\t$uid$" "$st" &&
	[[ -e /run/kiln/uids/$uid ]]
ok $? "QEMU: a uid and gid of its own from the range ($uid:$gid), held in /run/kiln/uids"
[[ $(readlink "/proc/$pid/ns/mnt") != $(readlink /proc/self/ns/mnt) ]]
ok $? "QEMU: its own mount namespace"
nspid=$(awk '$1 == "NSpid:" {print $2, $3}' "$st")
[[ $nspid == "$pid 1" && $(readlink "/proc/$pid/ns/pid") != $(readlink /proc/self/ns/pid) ]]
ok $? "QEMU: PID 1 of its own PID namespace, the shim's child all the same (NSpid $nspid)"
! ls "/proc/$pid/root/etc/shadow" >/dev/null 2>&1 &&
	[[ -e /proc/$pid/root/usr/bin/qemu-system-x86_64 ]]
ok $? "QEMU: /etc/shadow is not in its root, its binary is"
memcg=$(awk -F: '$2 == "memory" {print $3}' "/proc/$pid/cgroup")
lim=$(cat "/sys/fs/cgroup/memory$memcg/memory.limit_in_bytes" 2>/dev/null)
[[ $memcg == /kiln/* && $lim == $(( (2048 + 256) << 20 )) ]]
ok $? "QEMU: in cgroup $memcg with memory ceiling $lim"
pidscg=$(awk -F: '$2 == "pids" {print $3}' "/proc/$pid/cgroup")
[[ $(cat "/sys/fs/cgroup/pids$pidscg/pids.max" 2>/dev/null) == 256 ]]
ok $? "QEMU: pids.max 256 in $pidscg"
lim=/proc/$pid/limits
grep -qP '^Max open files\s+4096\s+4096\s' "$lim" &&
	grep -qP '^Max core file size\s+0\s+0\s' "$lim" &&
	grep -qP '^Max processes\s+512\s+512\s' "$lim"
ok $? "QEMU: rlimits lowered (4096 files, no core, 512 processes)"
for ns in ipc uts; do
	[[ $(readlink "/proc/$pid/ns/$ns") != $(readlink "/proc/self/ns/$ns") ]] || break
done
ok $? "QEMU: its own IPC and UTS namespaces"
# The uid's lock names the VM's run dir: sockets, logs, the rootfs image.
rundir=$(cat "/run/kiln/uids/$uid" 2>/dev/null)
cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline")
[[ -n $rundir && $(stat -c '%u %a' "$rundir") == "0 700" ]] &&
	! ls "/proc/$pid/root$rundir" >/dev/null 2>&1 &&
	[[ $cmd == *"id=agent,fd="* && $cmd == *"id=qmp,fd="* &&
	   $cmd == *"filename=/dev/fdset/"* && $cmd != *"$rundir"* ]]
ok $? "QEMU: sockets, console and rootfs image are fds; the run dir ($rundir) is root's and out of its reach"

done_() { ctr_ task exec --exec-id d"$RANDOM" jailed test -e /done; }
wait_for 60 done_
ok $? "the guest made its setuid copy and its block device"
guest=$(ctr_ task exec --exec-id g1 jailed sh -c \
	'stat -c "%U %a" /bb; stat -c "%F" /blk; stat -c "%U %a" /bin/busybox /etc/passwd' 2>&1)
diag "$guest"
[[ $guest == *"root 4755"* ]]
ok $? "the guest sees its copy as root 4755"
[[ $(sed -n 2p <<<"$guest") == "block special file" ]]
ok $? "the guest's mknod made a block device"
[[ $(sed -n 3p <<<"$guest") == "root 755" && $(sed -n 4p <<<"$guest") == "root 644" ]]
ok $? "the guest sees the image's owners and modes"
rootfs=$KILN_CTR_DIR/state/io.containerd.runtime.v2.task/default/jailed/rootfs
snaps=$KILN_CTR_DIR/root/io.containerd.snapshotter.v1.overlayfs/snapshots
# The rootfs is an EROFS image under a tmpfs overlay in the guest
# (config rootfs "erofs"): the guest's writes stay in the guest.
[[ -z $(find "$rootfs" "$snaps" -xdev -type b -name blk 2>/dev/null) ]]
ok $? "on the host: no block device in the snapshot"
[[ -z $(find "$rootfs" "$snaps" -xdev -perm -4000 -user root -name bb 2>/dev/null) ]]
ok $? "on the host: no setuid-root file in the snapshot"
diag "$(ls -l "$rootfs/bb" "$rootfs/blk" 2>&1)"

# The shim's task socket under bursts, while the hostile container runs.
bundle=$KILN_CTR_DIR/state/io.containerd.runtime.v2.task/default/jailed
sock=$(sed 's|^unix://||' "$bundle/address" 2>/dev/null)
shim=$(pgrep -f "containerd-shim-kiln-v1 .*-id jailed " | head -1)
burst=$(/usr/bin/python3 "$HERE/lib/ttrpc_burst.py" "$sock" jailed "$shim" 2>&1)
rc=$?
diag "$burst"
[[ $rc == 0 && $burst == *"burst_connect_failures 0"* && $burst == *"state_after_burst ok"* ]]
ok $? "shim socket: 500 connect/close pairs all connect, then State is answered"
[[ $rc == 0 && $burst == *"state_beside_stallers_worst_ms"* ]]
ok $? "shim socket: 50 half-frame stallers, a normal client's 20 State calls answered"
rss0=$(awk '$1 == "rss_before_kb" {print $2}' <<<"$burst")
rss1=$(awk '$1 == "rss_with_stallers_kb" {print $2}' <<<"$burst")
# 50 stallers hold a 4 KiB frame buffer each. An ASan shim keeps what is
# freed in its quarantine (and the burst freed 500 connections' worth), so
# its RSS only grows: a looser bound there.
bound=8192
ldd "$BUILD/containerd-shim-kiln-v1" 2>/dev/null | grep -q libasan && bound=65536
[[ -n $rss0 && -n $rss1 ]] && (( rss1 - rss0 < bound ))
ok $? "shim socket: the stallers cost bounded memory (VmRSS $rss0 -> $rss1 kB, bound $bound kB)"

ctr_ task kill -s KILL jailed >/dev/null
wait_for 60 bash -c "! kill -0 $pid 2>/dev/null"
ctr_ task delete jailed >/dev/null; ctr_ container rm jailed >/dev/null
[[ ! -d /sys/fs/cgroup/memory$memcg && ! -d /sys/fs/cgroup/pids$pidscg &&
	! -e /run/kiln/uids/$uid ]]
ok $? "after delete: its cgroups are gone, its uid is free again"

echo '{"jail_user": true, "jail_uid_count": 0}' >"$KILN_CONFIG"
before=$(ls /sys/fs/cgroup/memory/kiln 2>/dev/null | wc -l)
out=$(ctr_ run --rm --runtime "$RT" "$IMAGE" nouid true 2>&1)
rc=$?
diag "$out"
[[ $rc != 0 && $out == *"jail_uid_count is 0"* ]]
ok $? "no uid to give: Create fails naming the reason"
ctr_ container rm nouid >/dev/null 2>&1
left() { ! pgrep -f "qemu-system.*$KILN_CTR_DIR" >/dev/null &&
	[[ $(ls /sys/fs/cgroup/memory/kiln 2>/dev/null | wc -l) == "$before" ]] &&
	[[ ! -d $KILN_CTR_DIR/state/io.containerd.runtime.v2.task/default/nouid ]]; }
wait_for 30 left
ok $? "... and leaves no QEMU, cgroup or bundle behind"

# The uid range used up: a second VM gets no uid, and nothing of it stays.
run_dirs() { find /run/kiln -mindepth 1 -maxdepth 1 -type d ! -name s ! -name uids 2>/dev/null | wc -l; }
uid_locks() { find /run/kiln/uids -type f 2>/dev/null | wc -l; }
echo '{"jail_uid_base": 150000, "jail_uid_count": 1}' >"$KILN_CONFIG"
ctr_ run -d --runtime "$RT" "$IMAGE" holder sleep 600 >/dev/null
ok $? "a container holds the range's only uid"
before=$(ls /sys/fs/cgroup/memory/kiln 2>/dev/null | wc -l)
pbefore=$(ls /sys/fs/cgroup/pids/kiln 2>/dev/null | wc -l)
dirs=$(run_dirs) locks=$(uid_locks)
out=$(ctr_ run --rm --runtime "$RT" "$IMAGE" nouid2 true 2>&1)
rc=$?
diag "$out"
[[ $rc != 0 && $out == *"all 1 uids from 150000 are in use"* ]]
ok $? "the range exhausted: Create fails naming it"
ctr_ container rm nouid2 >/dev/null 2>&1
exhausted_left() { [[ $(ls /sys/fs/cgroup/memory/kiln 2>/dev/null | wc -l) == "$before" &&
	$(ls /sys/fs/cgroup/pids/kiln 2>/dev/null | wc -l) == "$pbefore" &&
	$(run_dirs) == "$dirs" && $(uid_locks) == "$locks" &&
	! -d $KILN_CTR_DIR/state/io.containerd.runtime.v2.task/default/nouid2 ]]; }
wait_for 30 exhausted_left
ok $? "... and leaves no cgroup, run dir, uid lock or bundle behind"
ctr_ task kill -s KILL holder >/dev/null
wait_for 60 sh -c "ctr -a $KILN_CTR_SOCK task ls | grep -q '^holder .*STOPPED'"
ctr_ task delete holder >/dev/null; ctr_ container rm holder >/dev/null

# A loosened step is never silent: the shim warns at every VM start.
echo '{"jail_seccomp": false}' >"$KILN_CONFIG"
out=$(ctr_ run --rm --runtime "$RT" "$IMAGE" loose true 2>&1)
rc=$?
[[ $rc == 0 ]] && grep -q "jail: seccomp off (jail_seccomp): no -sandbox" "$KILN_CTR_DIR/containerd.log"
ok $? "jail_seccomp false: the container runs, and the shim warns that seccomp is off"

# rootfs "9p" still serves a plain directory (and its writes reach it).
# Its path has a comma: QEMU's -fsdev gets it doubled, not as a new option
# (issue 17: an unescaped comma in root.path injected QEMU options).
echo '{"rootfs": "9p", "jail_user": false}' >"$KILN_CONFIG"
"$HERE/lib/mkbusybox-rootfs.sh" "$dir/pl,ain" >/dev/null
out=$(ctr_ run --rm --runtime "$RT" --rootfs "$dir/pl,ain" p9 /bin/sh -c \
	'cat /etc/passwd | head -1; echo from-guest >/written' 2>&1)
[[ $out == root:* && $(cat "$dir/pl,ain/written" 2>/dev/null) == from-guest ]]
ok $? "rootfs 9p: the guest reads the directory (a comma in its path) and its write reaches it"

tap_done

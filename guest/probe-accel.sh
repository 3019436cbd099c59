#!/bin/bash
# guest/probe-accel.sh -- decide which accelerator runs kiln guests here.
#
# Usage: guest/probe-accel.sh IMAGEDIR     (writes IMAGEDIR/accel: kvm or tcg)
#
# /dev/kvm existing is not enough: on some hosts KVM starts but cannot boot
# a stock kernel (QEMU aborts setting MSRs). So boot the real image under
# KVM with kiln.probe on the command line, which makes the agent print
# KILN-PROBE-OK and power off at once; only that line means "kvm".
set -uo pipefail

dir=${1:?usage: probe-accel.sh IMAGEDIR}
accel=tcg
if [[ -r /dev/kvm && -w /dev/kvm ]] &&
	timeout -s KILL 30 qemu-system-x86_64 -machine q35 -accel kvm -cpu host \
		-m 256 -nodefaults -no-user-config -no-reboot -display none \
		-serial stdio -kernel "$dir/vmlinux" -initrd "$dir/initrd.img" \
		-append 'console=ttyS0 quiet panic=-1 kiln.probe' 2>&1 |
	grep -q KILN-PROBE-OK; then
	accel=kvm
fi
echo "$accel" >"$dir/accel"
echo "probe-accel: $accel"

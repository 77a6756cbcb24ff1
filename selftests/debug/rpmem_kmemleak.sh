#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# No leaks (debug kernel only: kmemleak): rpmem goes through its whole life
# -- load, bind both kinds of namespace, block I/O, DAX mounts and mmap,
# sysfs attributes, unbind/bind cycles, unload -- and kmemleak must find no
# new unreferenced object at all (once a module is gone its frames show as
# bare addresses, so leaks cannot be told apart by name). A module that
# leaks on purpose proves the check sees a leak.

. "$(dirname "$0")/../lib.sh"

KMEMLEAK=/sys/kernel/debug/kmemleak

# In the guest: kmemleak's report after running the exercise "$@".
guest()
{
	mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
	[ -w "$KMEMLEAK" ] || die "no $KMEMLEAK: not the debug kernel?"
	echo clear >"$KMEMLEAK"
	"$@" || die "exercise failed: $*"
	# kmemleak ignores objects younger than 5 s; scan twice to be sure.
	sleep 6
	echo scan >"$KMEMLEAK" && echo scan >"$KMEMLEAK" ||
		die "kmemleak does not scan (off: kmemleak=off on the command line?)"
	cat "$KMEMLEAK" >"$RPMEM_OUT/leaks"
	echo "$(grep -c '^unreferenced object' "$RPMEM_OUT/leaks") leak(s)"
}

# DIR: the faulty module, built in DIR (build_faulty), leaks on purpose.
exercise_faulty() { insmod "$1/rpmem_faulty.ko" mode=leak && rmmod rpmem_faulty; }

exercise_rpmem()
{
	local ns d i
	manual_binding
	load_rpmem || return
	for ns in $(namespaces_of ACPI.NFIT) $(namespaces_of e820); do
		bind_ns "$ns" rpmem && udev_settle "$ns" || return
	done
	for d in /sys/block/rpmem*; do
		d=${d##*/}
		cat "/sys/block/$d/dax/"* "/sys/block/$d/badblocks" >/dev/null || return
		echo 0 >"/sys/block/$d/dax/write_cache" && echo 1 >"/sys/block/$d/dax/write_cache" || return
		dd if=/dev/urandom of="/dev/$d" bs=1M count=8 oflag=direct status=none || return
		mkdir -p "/tmp/$d" && mkfs_dax ext4 "/dev/$d" && mount -o dax "/dev/$d" "/tmp/$d" || return
		dd if=/dev/zero of="/tmp/$d/f" bs=1M count=8 status=none &&
			python3 -c 'import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, 8 << 20)
m[0:5] = b"hello"
m.flush()' "/tmp/$d/f" || return
		umount "/tmp/$d" || return
	done
	for ((i = 0; i < 5; i++)); do
		for ns in $(namespaces_of ACPI.NFIT) $(namespaces_of e820); do
			rebind_ns "$ns" rpmem || return
		done
	done
	rmmod rpmem
}

if [ "${1:-}" = guest ]; then
	shift
	guest "$@"
	exit
fi

# On the host: boots a VM (tools/vm.sh VM-ARGS, its run directory RUN-DIR)
# that runs EXERCISE with its ARGs, then prints the leaks
# and, last, the VM's exit status: 0, or 99 when the kernel log reported a
# suspected leak (tools/vm.sh fails a run on that).
leaks()	# RUN-DIR VM-ARGS EXERCISE [ARG...]
{
	local out=$1 vm_args=$2 rc
	shift 2
	# shellcheck disable=SC2086 # VM-ARGS: tools/vm.sh's options, split
	"$RPMEM_TOP/tools/vm.sh" --quiet --out "$out" $vm_args \
		--append kfence.sample_interval=1 -- \
		"$0" guest "$@" >"$out/output" 2>&1
	rc=$?
	[ -f "$out/leaks" ] && cat "$out/leaks" || tail -n 20 "$out/output"
	echo "$rc"
}

# OUTPUT-OF-leaks WANT-STATUS: shows the leaks unless the status is right.
expect_status()
{
	[ "$(tail -n1 <<<"$1")" = "$2" ] && return
	printf '%s\n' "$1" | head -n 60
	return 1
}

ktap_plan 3
work=$(mktemp -d "${RPMEM_CACHE:-$HOME/.cache/rpmem}/runs/kmemleak.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
ko=$work/faulty
mkdir "$ko" "$work/faulty-vm" "$work/rpmem-vm" || exit
check "build the faulty module" build_faulty "$ko"
# The faulty module needs no device, and a smaller guest boots and scans
# sooner.
faulty=$(leaks "$work/faulty-vm" "--mem 1G" exercise_faulty "$ko")
faulty_caught() { expect_status "$faulty" 99 && grep -q '^unreferenced object' <<<"$faulty"; }
check "control: a module that leaks on purpose is caught" faulty_caught
rpmem=$(leaks "$work/rpmem-vm" "--mem 2G --nvdimm 512M --memmap 128M!1G" exercise_rpmem)
check "kmemleak finds no leak after rpmem's whole life" expect_status "$rpmem" 0
ktap_finish

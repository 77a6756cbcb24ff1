#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The main job, inside the test VM ("make run"): load rpmem, show its disks,
# put ext4 on the NFIT namespace and XFS on the memmap= region, mount both
# with -o dax, say whether DAX is active, write and read back a file, then
# unmount and unload. Exits 0 only if every step worked.

set -euo pipefail
. "$(dirname "$0")/../selftests/lib.sh"

step() { printf '\n== %s\n' "$*"; }

# MOUNTPOINT: DAX is active if the mount says dax=always and a file on it
# carries STATX_ATTR_DAX.
dax_active()
{
	local opts dax
	opts=$(findmnt -no OPTIONS "$1")
	: >"$1/.probe"
	dax=$(statx_dax "$1/.probe")
	rm -f "$1/.probe"
	echo "   mount options: $opts"
	echo "   statx of a new file: $dax"
	[[ ,$opts, == *,dax=always,* ]] && [ "$dax" = dax ]
}

# DEVICE FSTYPE MOUNTPOINT
demo_fs()
{
	local dev=$1 fs=$2 mnt=$3
	step "$fs on $dev"
	mkfs_dax "$fs" "$dev"
	mkdir -p "$mnt"
	if mount -o dax "$dev" "$mnt" 2>/tmp/mount.err; then
		echo "   mounted with -o dax"
	else
		echo "   mount -o dax refused: $(cat /tmp/mount.err)"
		mount "$dev" "$mnt"
		echo "   mounted without dax"
	fi
	if dax_active "$mnt"; then
		echo "   DAX: active (dax=always, STATX_ATTR_DAX set)"
	else
		echo "   DAX: NOT active"
		return 1
	fi
	head -c 8M /dev/urandom >/tmp/payload
	cp /tmp/payload "$mnt/payload"
	sync
	echo 3 >/proc/sys/vm/drop_caches
	cmp /tmp/payload "$mnt/payload"
	echo "   wrote and read back 8 MiB: identical"
	umount "$mnt"
}

step "load rpmem"
insmod "$RPMEM_KO"
dmesg | grep -E 'rpmem' | sed 's/^/   /'

step "block devices"
lsblk -o NAME,SIZE,LOG-SEC,PHY-SEC,TYPE /dev/rpmem* | sed 's/^/   /'
for d in /sys/block/rpmem*; do
	echo "   ${d##*/}: namespace $(basename "$(readlink -f "$d/device")")," \
	     "write cache: $(cat "$d/queue/write_cache")," \
	     "fua: $(cat "$d/queue/fua")," \
	     "dax: $(cat "$d/queue/dax")"
	echo "   ${d##*/}: struct pages in $(cat "$d/dax/memmap"):" \
	     "$(($(cat "$d/dax/memmap_bytes") >> 10)) KiB of RAM," \
	     "dax write cache: $(cat "$d/dax/write_cache")"
done

demo_fs "/dev/$(ns_disk "$(namespace_of ACPI.NFIT)")" ext4 /tmp/ext4
demo_fs "/dev/$(ns_disk "$(namespace_of e820)")" xfs /tmp/xfs

step "unload rpmem"
rmmod rpmem
[ ! -e /sys/module/rpmem ]
echo "   done"

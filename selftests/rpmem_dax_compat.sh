#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Cross-driver fsdax: on a namespace ndctl put in fsdax mode, a filesystem
# made through nd_pmem mounts with DAX through rpmem after rebinding, with
# the same files, and the other way round: with the struct pages in RAM
# (--map=mem, XFS) and on the device (--map=dev, ext4).

. "$(dirname "$0")/lib.sh"

MNT=/tmp/dax-compat

# MAP: fsdax mode through nd_pmem, memmap in RAM (mem) or on the device (dev).
make_fsdax()
{
	local pfn
	ndctl create-namespace -f -e "$ns" -m fsdax --map="$1" >/dev/null || return
	pfn=$(pfn_of "$ns") || fail "no pfn device bound for $ns" || return
	[ "$(ns_driver "$pfn")" = nd_pmem ] || fail "$pfn bound to '$(ns_driver "$pfn")'"
}

# DRIVER FILE [NEW-FILE]: mount the pfn device's disk through DRIVER with
# DAX, check FILE is there, the same and served with DAX, then add NEW-FILE.
mount_through()
{
	local drv=$1 disk
	rebind_ns "$pfn" "$drv" && disk=$(ns_disk "$pfn") || fail "cannot bind $pfn to $drv" || return
	mount -o dax "/dev/$disk" "$MNT" || return
	{
		(cd "$MNT" && md5sum -c --quiet /tmp/sums) &&
			dax_file "$MNT/$2" &&
			if [ -n "${3:-}" ]; then
				head -c 3M /dev/urandom >"$MNT/$3" &&
					(cd "$MNT" && md5sum "$3" >>/tmp/sums)
			fi
	}
	local rc=$?
	umount "$MNT" && return $rc
}

# MAP FSTYPE: the whole round trip.
round_trip()
{
	local map=$1 fs=$2 disk memmap
	: >/tmp/sums
	rebind_ns "$pfn" nd_pmem && disk=$(ns_disk "$pfn") || return
	mkfs_dax "$fs" "/dev/$disk" && mount -o dax "/dev/$disk" "$MNT" || return
	head -c 3M /dev/urandom >"$MNT/by-nd_pmem" && (cd "$MNT" && md5sum by-nd_pmem >/tmp/sums)
	umount "$MNT" || return
	mount_through rpmem by-nd_pmem by-rpmem || return
	memmap=$(cat "/sys/block/r$disk/dax/memmap" 2>/dev/null)
	[ "$memmap" = "$( [ "$map" = mem ] && echo ram || echo device)" ] ||
		fail "rpmem's memmap is '$memmap' for --map=$map" || return
	mount_through nd_pmem by-rpmem
}

ktap_plan 4
mkdir -p "$MNT"
load_nd_pmem || die "nd_pmem does not load"
manual_binding
load_rpmem || die "rpmem does not load"
ns=$(namespace_of ACPI.NFIT)

check "ndctl fsdax --map=mem on $ns through nd_pmem" make_fsdax mem
pfn=$(pfn_of "$ns")
check "xfs, memmap in RAM: nd_pmem -> rpmem -> nd_pmem" round_trip mem xfs
unbind_ns "$pfn"
check "ndctl fsdax --map=dev on $ns through nd_pmem" make_fsdax dev
pfn=$(pfn_of "$ns")
check "ext4, memmap on the device: nd_pmem -> rpmem -> nd_pmem" round_trip dev ext4
ktap_finish

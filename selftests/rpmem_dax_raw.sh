#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Zero-config DAX, what nd_pmem cannot do: on a raw NFIT namespace (no
# label, no ndctl step) nd_pmem serves block I/O only, while rpmem gives
# the same namespace struct pages in RAM and DAX at once:
#
#  - nd_pmem's disk has queue/dax 0; rpmem's on the same namespace has 1,
#    dax/memmap "ram" and dax/memmap_bytes the size of its page array (64
#    bytes per 4 KiB page on x86-64), as probe logs it;
#  - ext4 and XFS mount with DAX (dax=always, STATX_ATTR_DAX) and MAP_SYNC
#    works;
#  - the data starts at byte 0, as under nd_pmem: the filesystem made
#    through rpmem mounts through nd_pmem (without DAX) with the same files;
#  - raw_dax=0 (the control): no struct pages, queue/dax 0, dax/memmap
#    "none", and ext4 -o dax fails as on nd_pmem.

. "$(dirname "$0")/lib.sh"

MNT=/tmp/dax
H=	# the dax_mmap helper

attr() { cat "/sys/block/${disk#/dev/}/$1"; }

nd_pmem_no_dax()
{
	local d
	d=$(dax_attach "$ns" nd_pmem) || fail "$d" || return
	[ "$(cat "/sys/block/${d#/dev/}/queue/dax")" = 0 ] || fail "$d has queue/dax 1"
}

rpmem_dax()
{
	local size pages bytes kib
	disk=$(dax_attach "$ns" rpmem) || fail "$disk" || return
	[ "$(attr queue/dax)" = 1 ] || fail "queue/dax is $(attr queue/dax)" || return
	[ "$(attr dax/memmap)" = ram ] || fail "dax/memmap is $(attr dax/memmap)" || return
	size=$(cat "$ND/devices/$ns/size")
	pages=$((size / 4096)) bytes=$(attr dax/memmap_bytes)
	[ "$bytes" = $((pages * 64)) ] || fail "memmap_bytes $bytes for $pages pages" || return
	kib=$((bytes >> 10))
	dmesg | grep -q "${disk#/dev/}: .*; DAX, struct pages for $((size >> 20)) MiB use $kib KiB of RAM" ||
		fail "probe did not log the cost ($kib KiB)"
}

# FS: a DAX mount of rpmem's disk, a DAX file, MAP_SYNC on it.
dax_mount()
{
	mkfs_dax "$1" "$disk" && mount -o dax "$disk" "$MNT" || return
	[[ ,$(findmnt -no OPTIONS "$MNT"), == *,dax=always,* ]] ||
		fail "options: $(findmnt -no OPTIONS "$MNT")" || return
	head -c 3M /dev/urandom >/tmp/data && cp /tmp/data "$MNT/data" && dax_file "$MNT/data" &&
		map_sync_works "$H" "$MNT/data" && umount "$MNT"
}

# The last filesystem (XFS) through nd_pmem, without DAX, then rpmem again.
same_data_on_nd_pmem()
{
	local d
	d=$(dax_attach "$ns" nd_pmem) && mount "$d" "$MNT" || return
	cmp /tmp/data "$MNT/data" && umount "$MNT" || return
	disk=$(dax_attach "$ns" rpmem) && mount -o dax "$disk" "$MNT" || return
	cmp /tmp/data "$MNT/data" && dax_file "$MNT/data" && umount "$MNT"
}

raw_dax_off()
{
	local out
	unbind_ns "$ns" && rmmod rpmem && load_rpmem raw_dax=0 || return
	disk=$(dax_attach "$ns" rpmem) || fail "$disk" || return
	[ "$(attr queue/dax)" = 0 ] || fail "queue/dax is $(attr queue/dax)" || return
	[ "$(attr dax/memmap)" = none ] && [ "$(attr dax/memmap_bytes)" = 0 ] ||
		fail "dax/: $(attr dax/memmap) $(attr dax/memmap_bytes)" || return
	mkfs_dax ext4 "$disk" || return
	out=$(mount -o dax "$disk" "$MNT" 2>&1) && umount "$MNT" && fail "mount -o dax worked" && return 1
	[[ $out == *"wrong fs type, bad option, bad superblock on $disk"* ]] || fail "mount said: $out"
}

ktap_plan 6
manual_binding
mkdir -p "$MNT"
load_nd_pmem || die "nd_pmem does not load"
load_rpmem || die "rpmem does not load"
H=$(build_helper dax_mmap) || die "no dax_mmap helper"
ns=$(namespace_of ACPI.NFIT)
disk=

check "control: nd_pmem on raw $ns has no DAX" nd_pmem_no_dax
check_here "rpmem on raw $ns: DAX, struct pages in RAM, cost shown" rpmem_dax
check "ext4 -o dax: dax=always, STATX_ATTR_DAX, MAP_SYNC" dax_mount ext4
check "xfs -o dax: dax=always, STATX_ATTR_DAX, MAP_SYNC" dax_mount xfs
check_here "the files read the same through nd_pmem, then DAX again" same_data_on_nd_pmem
check_here "control: raw_dax=0: no struct pages, no DAX" raw_dax_off
ktap_finish

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# DAX through the driver under test (DAX_DRIVER: rpmem, the default, or
# nd_pmem), on the memmap= region, for ext4 and XFS:
#
#  - mount -o dax (ext4) / -o dax=always (XFS) gives dax=always in
#    /proc/mounts, and a new file has STATX_ATTR_DAX (XFS mounts without DAX
#    silently, so statx is what counts);
#  - a MAP_SHARED_VALIDATE|MAP_SYNC mapping of it works;
#  - an 8 MiB file on 2 MiB stripes, mapped at a 2 MiB aligned address, is
#    mapped by PMDs (PAGEMAP_SCAN's PAGE_IS_HUGE; smaps' FilePmdMapped leaves
#    ZONE_DEVICE pages out and is always 0 for DAX); the same file mapped
#    4 KiB off a 2 MiB boundary gets none (the control);
#  - -o dax=inode: FS_XFLAG_DAX on a directory makes new files in it DAX,
#    files elsewhere are not, MAP_SYNC fails on those with EOPNOTSUPP; the
#    flag set on an existing closed file makes it DAX; all of it survives a
#    remount.
#
# Control, always nd_pmem on the raw NFIT namespace (no struct pages, so no
# DAX in 7.3): ext4's mount -o dax fails ("DAX unsupported by block
# device."), XFS mounts with dax=never and its files have neither
# STATX_ATTR_DAX nor MAP_SYNC (EOPNOTSUPP).

. "$(dirname "$0")/lib.sh"

MNT=/tmp/dax
H=	# the dax_mmap helper

dax_always_opt() { [ "$1" = ext4 ] && echo dax || echo dax=always; }

# The mount's options in /proc/mounts.
mount_opts() { awk -v m="$1" '$2 == m { print $4 }' /proc/mounts; }

has_opt() { [[ ,$(mount_opts "$1"), == *,$2,* ]]; }

is_dax() { dax_file "$1"; }

# FILE: STATX_ATTR_DAX clear, and statx able to say so.
not_dax()
{
	local out
	out=$(statx_dax "$1")
	[ "$out" = nodax ] || fail "statx of $1 says: $out"
}

# FILE: MAP_SYNC refused with EOPNOTSUPP, and nothing else.
map_sync_refused()
{
	local out
	out=$("$H" sync "$1" 2>&1) && fail "MAP_SYNC mapping of $1 worked: $out" && return 1
	[[ $out == *"mmap MAP_SYNC: EOPNOTSUPP"* ]] || fail "MAP_SYNC on $1: $out"
}

config_has()
{
	local opt missing=
	for opt in "$@"; do
		grep -qx "CONFIG_$opt=y" "$RPMEM_KDIR/.config" || missing+=" $opt"
	done
	[ -z "$missing" ] || fail "not =y in $RPMEM_KDIR/.config:$missing"
}

# Unmount MNT if anything is mounted there.
unmount() { ! mountpoint -q "$MNT" || umount "$MNT"; }

queue_dax() { cat "/sys/block/${1#/dev/}/queue/dax"; }

disks_ok()
{
	[ "$(queue_dax "$disk")" = 1 ] || fail "$disk: queue/dax is $(queue_dax "$disk")" || return
	[ "$(queue_dax "$ctl")" = 0 ] || fail "$ctl: queue/dax is $(queue_dax "$ctl")"
}

# FS: mkfs, mount with DAX always, one file.
mount_always()
{
	local opt
	opt=$(dax_always_opt "$1")
	mkfs_dax_pmd "$1" "$disk" || return
	mount -o "$opt" "$disk" "$MNT" || return
	has_opt "$MNT" dax=always || fail "mounted with -o $opt: $(mount_opts "$MNT")" || return
	echo data >"$MNT/file"
}

# MODE FILE SIZE-KB: the helper's PMD-mapped size is SIZE-KB.
pmd_mapped()
{
	local out kb
	out=$("$H" "$1" "$2" "$3K") || fail "$out" || return
	kb=$(sed -n 's/^PMD-mapped: \([0-9]*\) kB$/\1/p' <<<"$out")
	[ "$kb" = "$4" ] || fail "$1 mapping of $2: PMD-mapped $kb kB, want $4 kB ($out)"
}

pmd_faults()
{
	fallocate -l 8M "$MNT/big" || return
	pmd_mapped pmd "$MNT/big" 8192 8192
}

# The same file, 4 KiB off a 2 MiB boundary: PTEs only.
pte_control() { pmd_mapped pte "$MNT/big" 8192 0; }

# FS: the control on nd_pmem's NFIT disk, which has no DAX.
control_ext4()
{
	local out
	mkfs.ext4 -q -F -b 4096 "$ctl" || return
	out=$(mount -o dax "$ctl" "$MNT" 2>&1) && umount "$MNT" &&
		fail "mount -o dax of $ctl worked" && return 1
	[[ $out == *"wrong fs type, bad option, bad superblock on $ctl"* ]] ||
		fail "mount said: $out" || return
	dmesg | grep -qF "EXT4-fs (${ctl#/dev/}): DAX unsupported by block device." ||
		fail "no 'DAX unsupported by block device.' for ${ctl#/dev/} in dmesg" || return
	# Without the option, the files are plain ones.
	mount "$ctl" "$MNT" || return
	echo data >"$MNT/file"
	not_dax "$MNT/file" && map_sync_refused "$MNT/file"
}

control_xfs()
{
	mkfs.xfs -q -f "$ctl" || return
	mount -o dax=always "$ctl" "$MNT" || return
	echo data >"$MNT/file"
	has_opt "$MNT" dax=never || fail "options: $(mount_opts "$MNT")" || return
	dmesg | grep -qF "XFS (${ctl#/dev/}): DAX unsupported by block device. Turning off DAX." ||
		fail "no 'Turning off DAX' for ${ctl#/dev/} in dmesg" || return
	not_dax "$MNT/file" && map_sync_refused "$MNT/file"
}

# FS: mount -o dax=inode on the DAX disk (the filesystem of the checks
# before), a flagged directory, a plain one.
per_file_dax()
{
	mount -o dax=inode "$disk" "$MNT" || return
	mkdir "$MNT/on" "$MNT/off" || return
	xfs_io -c 'chattr +x' "$MNT/on" || return
	xfs_io -c lsattr "$MNT/on" | grep -q '^[^ ]*x' || fail "no x in: $(xfs_io -c lsattr "$MNT/on")" || return
	echo data >"$MNT/on/file" && echo data >"$MNT/off/file" && echo data >"$MNT/top"
}

inherit_dax() { is_dax "$MNT/on/file" || fail "$MNT/on/file is not DAX"; }

others_not_dax()
{
	not_dax "$MNT/off/file" && not_dax "$MNT/top" && not_dax "$MNT/file"
}

per_file_map_sync()
{
	local out
	out=$("$H" sync "$MNT/on/file" 2>&1) || fail "flagged file: $out" || return
	map_sync_refused "$MNT/off/file"
}

# Docs: the flag changes S_DAX once the file is closed by everyone (it is
# here: xfs_io closes it) and its inode is evicted.
flag_existing_file()
{
	not_dax "$MNT/top" || return
	xfs_io -c 'chattr +x' "$MNT/top" || return
	is_dax "$MNT/top" || fail "$MNT/top not DAX after chattr +x"
}

flags_survive_remount()
{
	umount "$MNT" && mount -o dax=inode "$disk" "$MNT" || return
	is_dax "$MNT/on/file" && is_dax "$MNT/top" || fail "flagged files lost DAX" || return
	not_dax "$MNT/off/file" && {
		echo data >"$MNT/on/new"
		is_dax "$MNT/on/new" || fail "new file in the flagged directory not DAX"
	}
}

ktap_plan 26
manual_binding
mkdir -p "$MNT"
load_nd_pmem || die "nd_pmem does not load"
H=$(build_helper dax_mmap) || die "no dax_mmap helper"
e820=$(namespace_of e820)
nfit=$(namespace_of ACPI.NFIT)
disk=$(dax_attach "$e820" "$DAX_DRIVER") || die "no $DAX_DRIVER disk on $e820: $disk"
ctl=$(dax_attach "$nfit" nd_pmem) || die "no nd_pmem disk on $nfit: $ctl"
echo "# driver under test: $DAX_DRIVER, $disk on $e820; control: nd_pmem, $ctl on $nfit"

check "$DAX_DRIVER disk on the memmap region has queue/dax 1, nd_pmem's on NFIT 0" disks_ok
check "kernel has FS_DAX, FS_DAX_PMD, TRANSPARENT_HUGEPAGE, PROC_PAGE_MONITOR" \
	config_has FS_DAX FS_DAX_PMD TRANSPARENT_HUGEPAGE PROC_PAGE_MONITOR
for fs in ext4 xfs; do
	opt=$(dax_always_opt $fs)
	check "$fs: mount -o $opt shows dax=always in /proc/mounts" mount_always $fs
	check "$fs: a new file has STATX_ATTR_DAX" is_dax "$MNT/file"
	check "$fs: MAP_SHARED_VALIDATE|MAP_SYNC mapping of it works" map_sync_works "$H" "$MNT/file"
	check "$fs: 8 MiB file, 2 MiB aligned mapping: all 8192 kB mapped by PMDs" pmd_faults
	check "$fs: control: mapped 4 KiB off a 2 MiB boundary, 0 kB by PMDs" pte_control
	unmount
	check "$fs: -o dax=inode, chattr +x on a directory" per_file_dax
	check "$fs: a new file in it has STATX_ATTR_DAX" inherit_dax
	check "$fs: files in a plain directory, at the top, from before do not" others_not_dax
	check "$fs: MAP_SYNC works on the flagged file, EOPNOTSUPP on the plain one" per_file_map_sync
	check "$fs: chattr +x on an existing closed file makes it DAX" flag_existing_file
	check "$fs: all of it survives a remount" flags_survive_remount
	unmount
done
check "control: ext4 -o dax on nd_pmem's NFIT disk fails: DAX unsupported" control_ext4
unmount
check "control: XFS -o dax=always on it: dax=never, no STATX_ATTR_DAX, no MAP_SYNC" control_xfs
unmount
ktap_finish

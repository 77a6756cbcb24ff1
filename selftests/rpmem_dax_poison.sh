#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Memory failure under a DAX mapping, with the driver under test
# (DAX_DRIVER: rpmem, the default, or nd_pmem) on the memmap= region. A page
# of a MAP_SYNC mapping is poisoned with madvise(MADV_HWPOISON), which runs
# the kernel's memory failure handling as a machine check on bad media
# would (MF_ACTION_REQUIRED, from the process that touched it). The driver's
# dev_pagemap_ops.memory_failure hands the range to the filesystem on its
# DAX device (dax_holder_notify_failure):
#
#  - ext4 has no notify_failure: the kernel's generic handler signals the
#    process, SIGBUS with BUS_MCEERR_AR and si_addr in the page; ext4 logs
#    nothing and stays up;
#  - XFS with rmapbt finds every owner of the block through its reverse map:
#    the file poisoned, and a second file sharing the extent (cp --reflink)
#    mapped by a second process, which asked for early signals
#    (PR_MCE_KILL_EARLY) and gets BUS_MCEERR_AO at the same offset; XFS
#    reports the lost data (FAN_FS_ERROR, EIO) and stays up.
#
# The XFS rmapbt case runs twice: on the memmap= region (a raw namespace,
# where the disk's data starts at byte 0 and rpmem's struct pages are in
# RAM), and on an NFIT namespace that ndctl put in fsdax mode with its
# struct pages on the device (--map=dev): there the data starts past the
# info block and the memmap, so a driver that handed XFS the poisoned
# page's offset in the namespace instead of in the disk would make it
# look up the wrong block, and signal nobody or the wrong page.
#
# Control: the same on XFS without rmapbt (reflink still on). XFS cannot
# find the owners and says so; the generic handler cannot either, because
# the page is shared by two files: nobody is signalled, madvise fails with
# EBUSY, no FAN_FS_ERROR. So each check above can fail.
#
# After each case the filesystem unmounts, mounts again, its files read back
# as written and new data can be written; the disk still serves block I/O.
# Under rpmem the --map=dev case runs once more through nd_pmem, on
# another page of the file (the first stays poisoned), as the reference;
# DAX_DRIVER=nd_pmem runs every case through nd_pmem. Memory failure
# while the disk goes, or after it went with pages still mapped, is in
# rpmem_dax_unbind.

. "$(dirname "$0")/lib.sh"

MNT=/tmp/dax
OFF=$((16 << 12))	# the page poisoned: the 17th of each file
WATCH_SECS=10
H=	# the dax_mmap helper
E=	# the fs_errors helper
watcher=	# PID of "dax_mmap watch"
errors=		# PID of "fs_errors"

# FS [MKFS-OPTION...]: a new filesystem with DAX, a 1 MiB file "a" of
# random bytes, and for XFS its reflinked copy "b".
make_fs()
{
	local fs=$1
	shift
	case $fs in
	ext4) mkfs.ext4 -q -F -b 4096 "$disk" && mount -o dax "$disk" "$MNT" ;;
	xfs) mkfs.xfs -q -f "$@" "$disk" && mount -o dax=always "$disk" "$MNT" ;;
	esac || return
	head -c 1M /dev/urandom >/tmp/a || return
	cp /tmp/a "$MNT/a" && dax_file "$MNT/a" || return
	if [ "$fs" = xfs ]; then
		cp --reflink=always "$MNT/a" "$MNT/b" || return
	fi
	sync
}

# VAR OUT COMMAND...: start a helper in the background (a child of this
# shell, so run from check_here), its PID in VAR; wait for its "ready".
start_ready()
{
	local -n pid=$1
	local out=$2 i
	shift 2
	"$@" >"$out" 2>&1 &
	pid=$!
	for ((i = 0; i < 100; i++)); do
		grep -qx ready "$out" && return
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	fail "not ready: $*: $(cat "$out")"
}

# Watch the filesystem's error reports, and file b through a second
# process's mapping.
start_watchers()
{
	start_ready errors /tmp/errors.out "$E" "$MNT" $WATCH_SECS || return
	[ ! -e "$MNT/b" ] ||
		start_ready watcher /tmp/watch.out "$H" watch "$MNT/b" $OFF $WATCH_SECS
}

poison_a()
{
	"$H" poison "$MNT/a" $OFF >/tmp/poison.out 2>&1
	sigbus_covers /tmp/poison.out BUS_MCEERR_AR $OFF
}

# PID OUT: wait for a background helper to end, at most WATCH_SECS + 5 s;
# what it saw is in OUT.
reap()
{
	local i
	for ((i = 0; i < (WATCH_SECS + 5) * 10; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$1" 2>/dev/null; then
		kill "$1"
		fail "$1 still running: $(cat "$2")"
		return
	fi
	wait "$1" 2>/dev/null
	return 0
}

watcher_signalled()
{
	reap "$watcher" /tmp/watch.out || return
	sigbus_covers /tmp/watch.out BUS_MCEERR_AO $OFF
}

fs_reported()
{
	reap "$errors" /tmp/errors.out || return
	grep -q '^FAN_FS_ERROR error EIO count [1-9]' /tmp/errors.out ||
		fail "$(cat /tmp/errors.out)"
}

# The kernel log since the case began has the memory failure, and no
# filesystem error or shutdown.
fs_up()
{
	local log
	log=$(kmsg_since)
	grep -q "Memory failure: 0x[0-9a-f]*: recovery action for dax page: Recovered" <<<"$log" ||
		fail "no 'recovery action for dax page: Recovered' in: $log" || return
	! grep -qiE '(EXT4-fs|XFS).*(error|shut|corrupt)' <<<"$log" ||
		fail "the filesystem complained: $log" || return
	echo new >"$MNT/new" && sync
}

# Unmount, mount again, the files read back, new data can be written.
remount_intact()	# FS
{
	local opt=dax f
	[ "$1" = xfs ] && opt=dax=always
	umount "$MNT" && mount -o "$opt" "$disk" "$MNT" || return
	for f in "$MNT"/a "$MNT"/b; do
		[ -e "$f" ] || continue
		cmp "$f" /tmp/a || return
	done
	head -c 1M /dev/urandom >"$MNT/c" && sync && umount "$MNT"
}

# Block I/O on the disk, with nothing mounted: a page written and read
# back past the end of the filesystem's first block group.
block_io()
{
	head -c 4096 /dev/urandom >/tmp/blk &&
		dd if=/tmp/blk of="$disk" bs=4096 seek=1000 oflag=direct status=none &&
		cmp <(dd if="$disk" bs=4096 skip=1000 count=1 iflag=direct status=none) /tmp/blk
}

# The control (XFS, no rmapbt): the poisoning process is not signalled,
# madvise says EBUSY, XFS says it cannot tell the owners.
poison_unseen()
{
	"$H" poison "$MNT/a" $OFF >/tmp/poison.out 2>&1
	grep -qx 'madvise MADV_HWPOISON: EBUSY (Device or resource busy)' /tmp/poison.out &&
		grep -qx 'no SIGBUS' /tmp/poison.out || fail "$(cat /tmp/poison.out)"
}

watcher_unsignalled()
{
	reap "$watcher" /tmp/watch.out || return
	grep -qx 'no SIGBUS' /tmp/watch.out || fail "$(cat /tmp/watch.out)"
}

fs_silent()
{
	reap "$errors" /tmp/errors.out || return
	grep -qx 'no FAN_FS_ERROR' /tmp/errors.out || fail "$(cat /tmp/errors.out)"
}

case_ext4()
{
	check_here "ext4 -o dax, a 1 MiB DAX file" make_fs ext4 || return
	check_here "watching the filesystem's error reports" start_watchers
	check "MADV_HWPOISON on its MAP_SYNC mapping: SIGBUS BUS_MCEERR_AR at the page" poison_a
	check "no FAN_FS_ERROR: ext4 has no notify_failure, nothing to report" fs_silent
	check "memory failure recovered, no ext4 error, still writable" fs_up
	check "umount, mount, files intact, new writes work" remount_intact ext4
}

case_xfs_rmap()	# [WHERE]
{
	local at=${1:+, $1}
	check_here "XFS rmapbt=1,reflink=1 -o dax=always$at, file a and its reflink b" \
		make_fs xfs -m rmapbt=1,reflink=1 || return
	check_here "a second process maps b (PR_MCE_KILL_EARLY)$at" start_watchers
	check "MADV_HWPOISON on a's MAP_SYNC mapping$at: SIGBUS BUS_MCEERR_AR at the page" poison_a
	check "the process mapping b$at: SIGBUS BUS_MCEERR_AO at the same page" watcher_signalled
	check "XFS reports the lost data$at: FAN_FS_ERROR, EIO" fs_reported
	check "memory failure recovered$at, no shutdown, still writable" fs_up
	check "umount, mount, files intact, new writes work$at" remount_intact xfs
}

case_xfs_control()
{
	check_here "control: XFS rmapbt=0,reflink=1, file a and its reflink b" \
		make_fs xfs -m rmapbt=0,reflink=1 || return
	check_here "control: a second process maps b" start_watchers
	check "control: MADV_HWPOISON on a: nobody can tell the owners, madvise EBUSY" poison_unseen
	check "control: the process mapping b gets no SIGBUS" watcher_unsignalled
	check "control: no FAN_FS_ERROR" fs_silent
	check "control: umount, mount, files intact, new writes work" remount_intact xfs
}

# NAMESPACE DRIVER: ndctl puts NAMESPACE in fsdax mode with the struct
# pages on the device (through nd_pmem), unless it is already, and DRIVER
# gets its pfn device; the disk's data starts past the start of the
# namespace.
devmap_disk()
{
	local out= pfn ns_start data_start
	load_nd_pmem || return
	if ! pfn=$(pfn_of "$1"); then
		out=$(ndctl create-namespace -f -e "$1" -m fsdax --map=dev 2>&1) ||
			fail "ndctl: $out" || return
		pfn=$(pfn_of "$1") || fail "no pfn device for $1: $out" || return
	fi
	disk=$(dax_attach "$pfn" "$2") || fail "no $2 disk on $pfn: $disk" || return
	ns_start=$(cat "$ND/devices/$1/resource")
	data_start=$(cat "$ND/devices/$pfn/resource")
	echo "# $disk on $pfn of $1: data at $data_start, $((data_start - ns_start))" \
	     "bytes into the namespace at $ns_start" >&9
	[ $((data_start - ns_start)) -gt 0 ] || fail "the data starts at the namespace's start"
}

plan=36
[ "$DAX_DRIVER" != nd_pmem ] || plan=28
ktap_plan $plan
exec 9>&1
manual_binding
mkdir -p "$MNT"
H=$(build_helper dax_mmap) || die "no dax_mmap helper"
E=$(build_helper fs_errors) || die "no fs_errors helper"
ns=$(namespace_of e820)
nfit=$(namespace_of ACPI.NFIT)
disk=$(dax_attach "$ns" "$DAX_DRIVER") || die "no $DAX_DRIVER disk on $ns: $disk"
echo "# driver under test: $DAX_DRIVER, $disk on $ns"

kmsg_mark
case_ext4
kmsg_mark
case_xfs_rmap
kmsg_mark
case_xfs_control
check "the disk still serves block I/O" block_io
check_here "$DAX_DRIVER on an ndctl fsdax --map=dev namespace ($nfit): data past its start" \
	devmap_disk "$nfit" "$DAX_DRIVER" || die "no fsdax --map=dev disk"
kmsg_mark
case_xfs_rmap "fsdax --map=dev"
if [ "$DAX_DRIVER" != nd_pmem ]; then
	OFF=$((32 << 12))
	check_here "nd_pmem on the same --map=dev namespace, the reference" \
		devmap_disk "$nfit" nd_pmem || die "no nd_pmem disk on the --map=dev namespace"
	kmsg_mark
	case_xfs_rmap "fsdax --map=dev, nd_pmem"
fi
ktap_finish

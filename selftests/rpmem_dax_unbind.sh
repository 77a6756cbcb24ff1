#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Taking a DAX disk away under its users, with the driver under test
# (DAX_DRIVER: rpmem, the default, or nd_pmem) on the memmap= region. What
# nd_pmem does on Linux 7.3, and what rpmem must do too:
#
#  - rmmod is refused ("rmmod: ERROR: Module DRIVER is in use") while a DAX
#    filesystem is mounted, while a file of it is mapped, and while a lazily
#    unmounted one still has a file mapped; it works once the mapping is gone;
#  - unbind with ext4 -o dax mounted: unbind returns, the filesystem shuts
#    down ("shutdown" in /proc/mounts, Input/output error on access), umount
#    works, and after a rebind it mounts again (journal recovery) with the
#    synced data intact; the same for XFS (no "shutdown" option to show);
#  - unbind with a file of an XFS (rmapbt=1) mapped by a process: kill_dax
#    tells XFS ("Device is about to be removed!"), which sends the process
#    SIGBUS and shuts down; unbind returns, umount works, the filesystem
#    mounts again after a rebind.
#
# Not here, because nd_pmem on 7.3 takes the kernel down: unbind while a
# file of ext4, or of XFS without rmapbt, is mapped leaves the mapping in
# place over struct pages that unbind frees; the process exits later with
# an oops in zap_huge_pmd/__zap_vma_range. With rmapbt, any cached DAX
# file with blocks in an allocation group but the last makes unbind spin
# for ever in xfs_dax_failure_fn/mf_dax_kill_procs: the block count of the
# range to notify wraps around there (ri_high.rm_startblock + 1 == 0), hence
# agcount=2 and all files in AG 1 below. And the process holding the
# mapping must not touch it again: with one that kept reading, 7.3 WARNed
# now and then in dax_folio_put (a page still referenced) under
# invalidate_inode_pages2_range in xfs_dax_failure_fn, most likely a read
# fault (XFS freezes the filesystem, which stops write faults only) mapping
# the page again after mf_dax_kill_procs unmapped it. Nor may it die of
# the SIGBUS: once (of some twenty runs) the same WARN came with a holder
# that was exiting, its pages not yet released, while XFS invalidated
# them; so the holder catches SIGBUS, prints it and sleeps on.
#
# rpmem does not crash there: at teardown it counts the pages still
# referenced, and if any are, keeps them (and its claim on the range) until
# reboot and says so. So with rpmem, and last because the namespace cannot
# be bound again afterwards: unbind while a file of ext4 is mapped returns,
# rpmem reports the pages it keeps, the process lives on and exits cleanly,
# umount works, binding the namespace again fails with "Device or resource
# busy", and rmmod says rpmem is in use. A memory failure on a kept page
# still reaches rpmem's memory_failure, whose DAX device is dead by then: it
# must neither use the freed device nor lose the failure, and the kernel's
# generic handler signals a second process that maps the page (SIGBUS,
# BUS_MCEERR_AR).
#
# Every unbind runs in the background, bounded: one that does not return
# fails the test at once (and ends the guest, which could not power off
# with the device lock held).

. "$(dirname "$0")/lib.sh"

MNT=/tmp/dax
UNBIND_SECS=60
drv=$DAX_DRIVER
H=	# the dax_mmap helper
holder=	# PID of a "dax_mmap hold"
data=data	# a file with /tmp/data's bytes, under MNT
holder_status=
poisoner=	# PID of a "dax_mmap poison" waiting for /tmp/go

# Unbind the namespace from whatever driver has it, within UNBIND_SECS.
bounded_unbind()
{
	bounded $UNBIND_SECS "unbind of $ns" unbind_ns "$ns" || fail "unbind failed" || return
	[ -z "$(ns_driver "$ns")" ] || fail "$ns still bound to $(ns_driver "$ns")" || return
	! ns_disk "$ns" >/dev/null || fail "$ns still has disk $(ns_disk "$ns")"
}

attach() { disk=$(dax_attach "$ns" "$drv") || fail "$disk"; }

unmount() { ! mountpoint -q "$MNT" || umount "$MNT"; }

# FILE: a process maps FILE's first 4 MiB, writes every page, and sleeps
# until killed. It does not touch the mapping again: see the header.
start_holder()
{
	local i
	"$H" hold "$1" 4M >/tmp/holder.out 2>&1 &
	holder=$! holder_status=
	for ((i = 0; i < 100; i++)); do
		grep -qx ready /tmp/holder.out && return
		kill -0 $holder 2>/dev/null || break
		sleep 0.1
	done
	fail "holder not ready: $(cat /tmp/holder.out)"
}

# Reap the holder, if it is gone within 10 s (or kill it first with SIG):
# its exit status into holder_status.
reap_holder()	# [SIG]
{
	local i
	[ -n "$holder" ] || return 0
	[ -z "${1:-}" ] || kill -"$1" $holder 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 $holder 2>/dev/null || break
		sleep 0.1
	done
	kill -0 $holder 2>/dev/null && fail "holder $holder still alive" && return 1
	wait $holder
	holder_status=$? holder=
}

# rmmod must fail, say so in these words, and leave everything as it was.
rmmod_refused()
{
	local out
	out=$(rmmod "$drv" 2>&1) && fail "rmmod $drv worked" && return 1
	[ "$out" = "rmmod: ERROR: Module $drv is in use" ] || fail "rmmod said: $out" || return
	[ -d "/sys/module/$drv" ] || fail "$drv is gone" || return
	[ "$(ns_driver "$ns")" = "$drv" ] || fail "$ns is bound to '$(ns_driver "$ns")'"
}

ext4_mounted()
{
	mkfs.ext4 -q -F -b 4096 "$disk" && mount -o dax "$disk" "$MNT" || return
	head -c 1M /dev/urandom >/tmp/data && cp /tmp/data "$MNT/data" &&
		fallocate -l 4M "$MNT/big" && sync
}

lazy_umount_mapped() { umount -l "$MNT" && rmmod_refused; }

# The mapping gone, nothing holds the module: it unloads, and comes back.
rmmod_after_unmap()
{
	local i
	reap_holder TERM || return
	[ "$holder_status" = 143 ] || fail "holder ended with status $holder_status" || return
	# The last file reference of an exiting process, and with it the
	# lazily unmounted filesystem, goes in a workqueue: give it time.
	for ((i = 0; i < 50; i++)); do
		[ "$(cat "/sys/module/$drv/refcnt")" = 0 ] && break
		sleep 0.1
	done
	rmmod "$drv" || return
	[ ! -d "/sys/module/$drv" ] || fail "$drv still loaded" || return
	load_driver "$drv" && attach
}

# FS: the filesystem on MNT lost its disk (I/O errors; ext4 shut down).
fs_dead_here() { fs_dead "$1" "$MNT" "$MNT/$data"; }

# FS: rebind, mount again, the data is still there.
remount_intact()	# FS
{
	local opt=dax
	[ "$1" = xfs ] && opt=dax=always
	attach && mount -o "$opt" "$disk" "$MNT" || return
	cmp "$MNT/$data" /tmp/data || return
	umount "$MNT"
}

xfs_mounted()
{
	mkfs.xfs -q -f "$disk" && mount -o dax=always "$disk" "$MNT" || return
	cp /tmp/data "$MNT/data" && sync
}

ag_of() { xfs_bmap -v "$1" | awk 'NR == 3 { print $4 }'; }

# XFS with rmapbt, and data only in the last of two AGs (see above: 7.3
# spins on any cached DAX file with blocks in another AG). A new directory
# goes to the next AG, its files with it: try a few, keep one in AG 1.
xfs_rmap_mapped()
{
	local i dir
	mkfs.xfs -q -f -m rmapbt=1 -d agcount=2 "$disk" &&
		mount -o dax=always "$disk" "$MNT" || return
	for i in 1 2 3 4; do
		dir=$MNT/d$i
		mkdir "$dir" && fallocate -l 4M "$dir/big" || return
		[ "$(ag_of "$dir/big")" = 1 ] && break
		rm "$dir/big"
	done
	[ -e "$dir/big" ] || fail "no file lands in AG 1" || return
	cp /tmp/data "$dir/data" || return
	[ "$(ag_of "$dir/data")" = 1 ] || fail "$dir/data: $(xfs_bmap -v "$dir/data")" || return
	data=${dir#"$MNT"/}/data
	sync && start_holder "$dir/big"
}

# The holder was sent SIGBUS for its mapping (it prints it and sleeps on:
# an exit racing with unbind's invalidation of the file's pages makes 7.3
# WARN in dax_folio_put, the process's pages not yet released), and ends
# with the SIGTERM that follows.
holder_got_sigbus()
{
	grep -qE '^SIGBUS BUS_MCEERR_A[OR] ' /tmp/holder.out ||
		fail "no SIGBUS for the holder: $(cat /tmp/holder.out)" || return
	reap_holder TERM || return
	[ "$holder_status" = 143 ] || fail "holder ended with status $holder_status" || return
	dmesg | grep -qF "XFS (${disk#/dev/}): Device is about to be removed!" ||
		fail "no 'Device is about to be removed!' for ${disk#/dev/}"
}

unbind_ext4() { ext4_mounted && bounded_unbind; }
remount_ext4() { umount "$MNT" && remount_intact ext4; }
unbind_xfs() { xfs_mounted && bounded_unbind && fs_dead_here xfs; }
remount_xfs() { umount "$MNT" && remount_intact xfs; }
unbind_mapped() { bounded_unbind && holder_got_sigbus; }
remount_xfs_dead() { fs_dead_here xfs && remount_xfs; }

# rpmem only (see the header): ext4 file mapped across the unbind, by the
# holder and by a process that poisons a page of it once told to.
ext4_mapped()
{
	local i
	ext4_mounted && start_holder "$MNT/big" || return
	rm -f /tmp/go
	"$H" poison "$MNT/big" 65536 /tmp/go >/tmp/poison.out 2>&1 &
	poisoner=$!
	for ((i = 0; i < 100; i++)); do
		grep -qx ready /tmp/poison.out && return
		sleep 0.1
	done
	fail "poisoner not ready: $(cat /tmp/poison.out)"
}
kept_page_poisoned()
{
	touch /tmp/go
	wait $poisoner || fail "poisoner failed: $(cat /tmp/poison.out)" || return
	sigbus_covers /tmp/poison.out BUS_MCEERR_AR 65536
}
# The mapping's own Drop reports the pages it keeps: under the prefix of
# the crate it is in, rpmem's out of tree and the kernel crate's in-tree.
if [ "$(modinfo -F intree "$RPMEM_KO" 2>/dev/null)" = Y ]; then
	KEEP_PREFIX=rust_kernel
else
	KEEP_PREFIX=rpmem
fi
unbind_kept()
{
	bounded_unbind || return
	dmesg | grep -qE "^(\\[[ 0-9.]+\\] )?$KEEP_PREFIX: 0x[0-9a-f]+\\+0x[0-9a-f]+: [0-9]+ page\\(s\\) still mapped by processes" ||
		fail "rpmem did not report the pages it keeps"
}
holder_exits()
{
	reap_holder TERM || return
	[ "$holder_status" = 143 ] || fail "holder ended with status $holder_status"
}
kept_claimed()
{
	local out
	umount "$MNT" || return
	out=$(bind_ns "$ns" "$drv" 2>&1) && fail "binding $ns again worked" && return 1
	[[ $out == *"Device or resource busy" ]] || fail "bind said: $out"
}
# The kept pages' memory failures still reach rpmem's code: it stays.
kept_module()
{
	local out
	out=$(rmmod rpmem 2>&1) && fail "rmmod rpmem worked" && return 1
	[ "$out" = "rmmod: ERROR: Module rpmem is in use" ] || fail "rmmod said: $out"
}

exec 9>&1
if [ "$drv" = rpmem ]; then ktap_plan 20; else ktap_plan 14; fi
manual_binding
mkdir -p "$MNT"
H=$(build_helper dax_mmap) || die "no dax_mmap helper"
ns=$(namespace_of e820)
load_driver "$drv" || die "$drv does not load"
attach || die "no $drv disk on $ns: $disk"
echo "# driver under test: $drv, $disk on $ns"

# check_here: disk, holder and holder_status live on from check to check.
check_here "ext4 -o dax on $disk" ext4_mounted ||
	die "no DAX filesystem on $disk: none of the rest can run"
check "rmmod refused while it is mounted" rmmod_refused
check_here "a process maps a file of it" start_holder "$MNT/big"
check "rmmod refused while the file is mapped" rmmod_refused
check "rmmod refused while lazily unmounted with the file still mapped" lazy_umount_mapped
check_here "the mapping gone (holder killed): rmmod works, $drv loads again" rmmod_after_unmap

check "unbind with ext4 -o dax mounted returns, no disk left" unbind_ext4
check "ext4 shut down: 'shutdown' in /proc/mounts, Input/output error" fs_dead_here ext4
check_here "umount works; rebind, mount -o dax again, data intact" remount_ext4

check_here "unbind with XFS -o dax=always mounted returns; Input/output error" unbind_xfs
check_here "umount works; rebind, mount again, data intact" remount_xfs

check_here "XFS (rmapbt=1) file in AG 1 mapped by a process" xfs_rmap_mapped
check_here "unbind returns; XFS kills the process with SIGBUS" unbind_mapped
check_here "XFS shut down; umount works; rebind, mount again, data intact" remount_xfs_dead
reap_holder KILL >/dev/null
unmount

if [ "$drv" = rpmem ]; then
	check_here "ext4 file mapped by two processes" ext4_mapped
	check_here "unbind returns; rpmem keeps the mapped pages and says so" unbind_kept
	check_here "MADV_HWPOISON on a kept page: SIGBUS BUS_MCEERR_AR" kept_page_poisoned
	check_here "the process lives on and exits cleanly" holder_exits
	check "umount works; the range stays claimed: bind gets EBUSY" kept_claimed
	check "rmmod refused: rpmem stays loaded for the pages it keeps" kept_module
fi
ktap_finish

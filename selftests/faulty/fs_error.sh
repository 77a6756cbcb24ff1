#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# fs_error.sh MODE: in the guest, a filesystem that reports corruption, for
# harness_fails: a run whose kernel log has an EXT4-fs error or an XFS
# corruption report must fail even though this command succeeds.
#
#   none  ext4 and XFS on a brd RAM disk, used and unmounted (the control)
#   ext4  ext4 whose root directory block was overwritten: listing it
#         makes ext4 report the bad entries (EXT4-fs error)
#   xfs   XFS whose root inode's magic was cleared: mounting it makes XFS
#         report metadata corruption (the mount fails)
#
# Exits 0 whatever the filesystem does; fails only if it cannot set up.

set -u
mode=$1 dev=/dev/ram0 mnt=/tmp/fs_error
modprobe -d "$RPMEM_KDIR/modinst" brd rd_nr=1 rd_size=$((320 << 10)) || exit 1
mkdir -p $mnt
if [ "$mode" = xfs ] || [ "$mode" = none ]; then
	mkfs.xfs -q -f $dev || exit 1
	[ "$mode" = none ] ||
		xfs_db -x -c 'sb 0' -c 'addr rootino' -c 'write -d core.magic 0' $dev \
			>/dev/null || exit 1
	mount $dev $mnt && ls $mnt >/dev/null && umount $mnt
fi
if [ "$mode" = ext4 ] || [ "$mode" = none ]; then
	mkfs.ext4 -q -F $dev || exit 1
	[ "$mode" = none ] ||
		debugfs -w -R 'zap_block -f / -p 0xff 0' $dev >/dev/null 2>&1 || exit 1
	mount -o errors=continue $dev $mnt && ls $mnt >/dev/null
	umount $mnt
fi
exit 0

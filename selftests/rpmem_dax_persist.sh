#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# MAP_SYNC persistence through the driver under test (DAX_DRIVER: rpmem,
# the default, or nd_pmem). A VM with two memmap= regions makes ext4 on one
# and XFS on the other, mounted with DAX; on each it creates a sparse file,
# writes a pattern into it through a MAP_SHARED_VALIDATE|MAP_SYNC mapping,
# msyncs, and powers off at once (sysrq o: no sync, no unmount). MAP_SYNC
# promises that the blocks a write fault allocated are on the media when the
# fault returns.
#
#  - the host finds the pattern in the RAM backing file, at the region's
#    start plus where the filesystem says the file's blocks are: the DAX
#    mapping reached the right memory, not just some memory;
#  - a second VM on the same RAM file has both filesystems replay their
#    journal (so the power-off was unclean indeed), and reads the pattern
#    back from the file, which is still DAX.

. "$(dirname "$0")/lib.sh"

ext4_start=$((512 << 20)) xfs_start=$((1024 << 20)) len=$((4 << 20))

# In the guest: the namespace of the e820 region that starts at ADDRESS.
ns_at()
{
	local n
	for n in $(namespaces_of e820); do
		[ $(($(cat "$ND/devices/$n/resource"))) = "$1" ] && echo "$n"
	done
	true
}

# In the guest: the disks of DAX_DRIVER on both regions, as e4 and xf.
guest_disks()
{
	manual_binding
	e4=$(dax_attach "$(ns_at $ext4_start)" "$DAX_DRIVER") || { echo "$e4"; return 1; }
	xf=$(dax_attach "$(ns_at $xfs_start)" "$DAX_DRIVER") || { echo "$xf"; return 1; }
	mkdir -p /tmp/e /tmp/x
}

# FILE's extents as LOGICAL PHYSICAL LENGTH, in 4 KiB blocks.
extents()
{
	filefrag -v -b4096 "$1" |
		awk '$1 ~ /^[0-9]+:$/ { gsub(/[.:]+/, " "); print $2, $4, $6 }'
}

# HELPER PATTERN: new filesystems, the pattern written into a file of each
# through MAP_SYNC, the files' extents kept, power off at once.
guest_write()
{
	local m
	mkfs.ext4 -q -F -b 4096 "$e4"
	mkfs.xfs -q -f "$xf"
	mount -o dax "$e4" /tmp/e
	mount -o dax=always "$xf" /tmp/x
	for m in e x; do
		truncate -s $len /tmp/$m/file
		"$1" write /tmp/$m/file "$2"
		extents /tmp/$m/file >"$RPMEM_OUT/extents.$m"
	done
	echo 0 >"$RPMEM_OUT/rc"
	echo o >/proc/sysrq-trigger
	sleep 30
}

# HELPER PATTERN: both journals replay, the files hold the pattern and are
# still DAX.
guest_read()
{
	local m
	mount -o dax "$e4" /tmp/e
	mount -o dax=always "$xf" /tmp/x
	dmesg | grep -qF "EXT4-fs (${e4#/dev/}): recovery complete" || fail "ext4: no journal recovery"
	dmesg | grep -qF "XFS (${xf#/dev/}): Starting recovery" || fail "XFS: no log recovery"
	for m in e x; do
		cmp /tmp/$m/file "$2"
		dax_file /tmp/$m/file
	done
	umount /tmp/e /tmp/x
}

if [ "${1:-}" = guest ]; then
	set -e
	guest_disks
	"guest_$2" "$3" "$4"
	exit
fi

set -e
# Under the cache, not /tmp: the guest sees the host's files, but has its own /tmp.
mkdir -p "${RPMEM_CACHE:=$HOME/.cache/rpmem}/runs"
work=$(mktemp -d "$RPMEM_CACHE/runs/dax-persist.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
ram=$work/ram.img pattern=$work/pattern
head -c $len /dev/urandom >"$pattern"

# N STEP: boot N on the same RAM file, running guest_STEP there; on failure,
# the end of what it printed.
vm()
{
	local rc=0
	"$RPMEM_TOP/tools/vm.sh" --quiet --out "$work/vm$1" --mem 2G \
		--memmap "512M!$ext4_start" --memmap "512M!$xfs_start" --ram-file "$ram" -- \
		"$RPMEM_TOP/selftests/rpmem_dax_persist.sh" guest "$2" "$H" "$pattern" || rc=$?
	[ $rc -eq 0 ] || tr -d '\r' <"$work/vm$1/console.log" | grep -av '^\[ *[0-9.]*\]' | tail -n 12
	return $rc
}

# REGION-START EXTENTS-FILE: every extent of the file holds its part of the
# pattern in the RAM backing file, and the extents cover all of it.
in_backing_file()
{
	local lo ph n sum=0
	[ -s "$2" ] || fail "no extents in $2" || return
	while read -r lo ph n; do
		cmp -n $((n << 12)) -i "$(($1 + (ph << 12))):$((lo << 12))" "$ram" "$pattern" ||
			fail "extent $lo $ph $n differs" || return
		sum=$((sum + n))
	done <"$2"
	[ $((sum << 12)) -eq $len ] || fail "extents cover $((sum << 12)) bytes, not $len"
}

ktap_plan 5
set +e
H=$work/bin/dax_mmap
check "build the dax_mmap helper" build_helper dax_mmap "$work/bin"
check "write the pattern through MAP_SYNC on ext4 and XFS, power off uncleanly" vm 1 write
check "the pattern in the RAM file where ext4 put the file's blocks" \
	in_backing_file $ext4_start "$work/vm1/extents.e"
check "the pattern in the RAM file where XFS put the file's blocks" \
	in_backing_file $xfs_start "$work/vm1/extents.x"
check "second boot: both journals replayed, pattern read back, files still DAX" vm 2 read
ktap_finish

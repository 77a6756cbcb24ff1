#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# CXL persistent memory: the persistent capacity of a CXL type-3 device,
# assembled into a region with "cxl create-region", reaches the nd bus
# (provider "CXL") as a region whose namespaces are defined by labels in
# the device's label storage area. rpmem must serve it as nd_pmem does,
# which is the control, on the same namespace:
#
#  - region: cxl create-region makes a pmem region of mem0, the nd bus
#    gets it, and ndctl create-namespace a raw namespace on it;
#  - block: the same queue settings as nd_pmem (write cache, FUA); fio
#    verify; flushes: a kprobe counts the region flushes (nvdimm_flush)
#    that an fsync and an O_DSYNC write cause, which must be as many as
#    nd_pmem's; a plain O_DIRECT write causes none (the control);
#  - DAX: rpmem on the raw namespace (no ndctl step: the region has no
#    struct pages, nd_pmem serves it without DAX, the control): ext4 and
#    XFS mount with dax=always, STATX_ATTR_DAX, and MAP_SYNC works, since
#    the region is persistent at the memory controller (synchronous); in
#    fsdax mode, rpmem and nd_pmem both give DAX and MAP_SYNC;
#  - teardown: "cxl destroy-region" while rpmem serves a mounted ext4
#    removes the namespace under it: it returns, no oops, the filesystem
#    shuts down (EIO) and unmounts; the region made again brings back the
#    namespace (its label) and what rpmem wrote and synced; after an
#    unbind, destroy-region is clean. (Under a live mapping rpmem keeps the
#    pages and its claim on the range until reboot, rpmem_dax_unbind: the
#    region could not be made again at the same address.)
#
# Hard-kill persistence is rpmem_platform_persist's. TCG emulates no CPU
# caches (see README): the flush counts show what is asked, not that a
# cache line reached the media.

. "$(dirname "$0")/lib.sh"

MNT=/tmp/cxl
H=	# the dax_mmap helper
declare -A QUEUE FLUSHES

# --- the region and its namespace -------------------------------------------

# The region on the CXL nd bus, by its nd name (regionN).
cxl_nd_region()
{
	local r
	for r in "$ND"/devices/region*; do
		[ -e "$r" ] && [ "$(ns_provider "${r##*/}")" = CXL ] &&
			{ echo "${r##*/}"; return; }
	done
	return 1
}

# Make the pmem region of mem0 and wait for the nd bus to register it
# (and bind it: tests turn the bus's autoprobe off); CXL_REGION is the CXL
# region's name (regionN of the cxl bus), NDR the nd region's.
make_region()
{
	local out i
	out=$(cxl create-region -m -t pmem -d decoder0.0 -w 1 mem0 2>/tmp/cxl.err) ||
		fail "cxl create-region: $(cat /tmp/cxl.err)" || return
	CXL_REGION=$(jq -r .region <<<"$out") && [ "$CXL_REGION" != null ] ||
		fail "no region in: $out" || return
	for ((i = 0; i < 100; i++)); do
		if NDR=$(cxl_nd_region); then
			[ -e "$ND/devices/$NDR/driver" ] && return
			[ "$(cat "$ND/drivers_autoprobe")" = 1 ] ||
				echo "$NDR" >"$ND/drivers/nd_region/bind"
		fi
		sleep 0.1
	done
	fail "no nd region bound on the CXL bus after cxl create-region: $(ls "$ND/devices")"
}

# A raw namespace over all of the region (a label in the device's LSA).
make_namespace()
{
	local out
	out=$(ndctl create-namespace -r "$NDR" -m raw 2>/tmp/ndctl.err) ||
		fail "ndctl create-namespace: $(cat /tmp/ndctl.err)" || return
	NS=$(jq -r .dev <<<"$out") && [ -e "$ND/devices/$NS" ] ||
		fail "no namespace in: $out"
}

# The namespace of the CXL region again, after the region was made again.
namespace_back()
{
	local want=$1 ns
	for ns in "$ND"/devices/namespace*; do
		[ "$(ns_provider "${ns##*/}")" = CXL ] || continue
		[ "$(cat "$ns/uuid")" = "$want" ] && { NS=${ns##*/}; return; }
	done
	fail "no CXL namespace with uuid $want: $(ls "$ND/devices")"
}

destroy_region() { cxl destroy-region -f "$CXL_REGION"; }

# --- block --------------------------------------------------------------------

# KEY WANT COMMAND...: COMMAND's region flushes, kept in FLUSHES[KEY], are
# WANT: none, or some.
flushes_are()
{
	local key=$1 want=$2 hits n
	shift 2
	hits=$(kprobe_trace "$@") || fail "$* failed" || return
	n=$(grep -c . <<<"$hits")
	FLUSHES[$key]=$n
	case $want in
	none) [ "$n" -eq 0 ] ;;
	some) [ "$n" -gt 0 ] ;;
	esac || fail "region flushes: $n, want $want"
}

# STEP: rpmem's region flushes for STEP are as many as nd_pmem's.
same_as_nd_pmem()
{
	[ -n "${FLUSHES[rpmem/$1]:-}" ] && [ "${FLUSHES[rpmem/$1]}" = "${FLUSHES[nd_pmem/$1]:-}" ] ||
		fail "rpmem: '${FLUSHES[rpmem/$1]:-}', nd_pmem: '${FLUSHES[nd_pmem/$1]:-}'"
}

same_queue()
{
	local a
	for a in fua write_cache dax; do
		[ "${QUEUE[rpmem/$a]}" = "${QUEUE[nd_pmem/$a]}" ] || [ $a = dax ] ||
			fail "queue/$a: rpmem ${QUEUE[rpmem/$a]}, nd_pmem ${QUEUE[nd_pmem/$a]}" || return
	done
	[ "${QUEUE[rpmem/dax]}" = 1 ] && [ "${QUEUE[nd_pmem/dax]}" = 0 ] ||
		fail "queue/dax: rpmem ${QUEUE[rpmem/dax]}, nd_pmem ${QUEUE[nd_pmem/dax]}, want 1 and 0"
}

block_checks()
{
	local drv=$1 disk a
	disk=$(dax_attach "$NS" "$drv") || die "no $drv disk on $NS: $disk"
	for a in fua write_cache dax; do
		QUEUE[$drv/$a]=$(cat "/sys/block/${disk#/dev/}/queue/$a")
	done
	check "$drv: fio verify, random 4k-256k O_DIRECT writes with fsync" fio_verify_disk "$disk" 64M
	check_here "$drv: control: a plain O_DIRECT write flushes no region" \
		flushes_are "$drv/plain" none xfs_io -d -c 'pwrite -q 0 64k' "$disk"
	check_here "$drv: fsync (REQ_PREFLUSH) flushes the region" \
		flushes_are "$drv/fsync" some xfs_io -d -c 'pwrite -q 0 64k' -c fsync "$disk"
	check_here "$drv: O_DSYNC write (REQ_FUA) flushes the region" \
		flushes_are "$drv/dsync" some dd if=/dev/zero of="$disk" bs=64k count=1 \
		oflag=direct,dsync status=none
}

# --- DAX ----------------------------------------------------------------------

unmount() { ! mountpoint -q "$MNT" || umount "$MNT"; }

# FS DISK: mkfs, mount -o dax, a DAX file, MAP_SYNC on it.
dax_mount()
{
	unmount && mkfs_dax "$1" "$2" && mount -o dax "$2" "$MNT" || return
	[[ ,$(findmnt -no OPTIONS "$MNT"), == *,dax=always,* ]] ||
		fail "mount options: $(findmnt -no OPTIONS "$MNT")" || return
	head -c 3M /dev/urandom >"$MNT/data" && dax_file "$MNT/data" &&
		map_sync_works "$H" "$MNT/data"
}

dax_checks()	# DRIVER DISK WHAT
{
	local fs
	for fs in ext4 xfs; do
		check "$1, $3, $fs: mount -o dax: dax=always, STATX_ATTR_DAX, MAP_SYNC" \
			dax_mount $fs "$2"
		unmount
	done
}

# The namespace in fsdax mode (struct pages in RAM); prints the pfn device.
make_fsdax()
{
	ndctl create-namespace -f -e "$NS" -m fsdax --map=mem >/dev/null || return
	pfn_of "$NS" || fail "no pfn device bound for $NS"
}

# Back to raw (the pfn info block erased), for the teardown checks.
make_raw()
{
	ndctl create-namespace -f -e "$NS" -m raw >/dev/null
}

# --- teardown -----------------------------------------------------------------

# rpmem's disk, ext4 -o dax on it, a file written and synced.
serve_mounted()
{
	local disk
	disk=$(dax_attach "$NS" rpmem) && mkfs_dax ext4 "$disk" && mount -o dax "$disk" "$MNT" ||
		return
	head -c 4M /dev/urandom >/tmp/kept && cp /tmp/kept "$MNT/kept" && sync
}

# The namespace is gone, the filesystem shut down: EIO, and it unmounts.
namespace_gone()
{
	[ ! -e "$ND/devices/$NS" ] || fail "$NS still exists" || return
	fs_dead ext4 "$MNT" "$MNT/kept" && umount "$MNT"
}

# The region made again: the namespace's label brings it back, and the
# file rpmem wrote is there (after ext4's journal recovery).
data_back()
{
	local disk
	make_region && namespace_back "$UUID" || return
	disk=$(dax_attach "$NS" rpmem) && mount -o dax "$disk" "$MNT" || return
	cmp "$MNT/kept" /tmp/kept && umount "$MNT"
}

unbind_then_destroy() { unbind_ns "$NS" && destroy_region; }

ktap_plan 27
exec 9>&1
mkdir -p "$MNT"
H=$(build_helper dax_mmap) || die "no dax_mmap helper"
load_nd_pmem || die "nd_pmem does not load"
check_here "cxl create-region: a pmem region of mem0 on the nd bus" make_region
[ -n "${NDR:-}" ] || die "no CXL region"
check_here "ndctl create-namespace: a raw namespace on $NDR (a label)" make_namespace
[ -n "${NS:-}" ] || die "no CXL namespace"
manual_binding
load_rpmem || die "rpmem does not load"
check "kprobe on nvdimm_flush" kprobes_on nvdimm_flush
echo "# CXL region $CXL_REGION, nd region $NDR, namespace $NS"

for drv in rpmem nd_pmem; do
	block_checks $drv
done
for step in plain fsync dsync; do
	check "rpmem's region flushes for '$step' are nd_pmem's" same_as_nd_pmem $step
done
check "queues: rpmem's write cache and FUA are nd_pmem's; DAX only on rpmem's" same_queue

disk=$(dax_attach "$NS" rpmem) || die "no rpmem disk: $disk"
dax_checks rpmem "$disk" "raw namespace"
pfn=$(make_fsdax) || die "ndctl create-namespace -m fsdax on $NS failed: $pfn"
for drv in nd_pmem rpmem; do
	disk=$(dax_attach "$pfn" "$drv") || die "no $drv disk on $pfn: $disk"
	dax_checks "$drv" "$disk" "fsdax"
done
unbind_ns "$pfn"
check "the namespace back in raw mode" make_raw
UUID=$(cat "$ND/devices/$NS/uuid")	# ndctl gave it a new one

check "rpmem serves ext4 -o dax" serve_mounted
check "cxl destroy-region under it returns" bounded 60 "cxl destroy-region" destroy_region
check "the namespace is gone, ext4 shut down (EIO), it unmounts" namespace_gone
check_here "the region made again brings back the namespace and the synced file" data_back
check "unbind, then cxl destroy-region" unbind_then_destroy
ktap_finish

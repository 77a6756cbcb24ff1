#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# virtio-pmem: a region whose flush is a request to the host (QEMU fsyncs
# the backing file), not a store fence. rpmem must serve it as nd_pmem
# does, which is the control, on the same device:
#
#  - block: the same queue settings as nd_pmem (write cache on; no FUA: on
#    a region without DIMM mappings nvdimm_has_flush() says "unknown", and
#    both drivers log that they cannot guarantee persistence); fio verify;
#  - flush: kprobes count what reaches the host: async_pmem_flush (each
#    flush request of the driver), virtio_pmem_flush_work (the asynchronous
#    path, which completes the bio from a work item instead of blocking the
#    submitter) and virtio_pmem_host_ack (the host's answers). An fsync of
#    the disk (an empty REQ_PREFLUSH bio) must reach the host: through the
#    asynchronous path for rpmem, synchronously for nd_pmem, which waits for
#    the host in its submit_bio; an O_DIRECT O_DSYNC write (a REQ_FUA bio,
#    then an fsync) must reach it, the REQ_FUA through the asynchronous path
#    for both (xfs_io's pwrite -D does not set RWF_DSYNC without -V: it
#    reaches no flush at all); unbinding flushes. The
#    control: a plain O_DIRECT write reaches the host flush 0 times, and
#    rpmem's and nd_pmem's numbers of flushes must be the same;
#  - DAX (the driver under test, DAX_DRIVER, and nd_pmem, on the raw
#    namespace: the region asks for struct pages, so nd_pmem maps them
#    too): ext4 and XFS mount with dax=always and
#    STATX_ATTR_DAX, and MAP_SYNC fails with EOPNOTSUPP because the region is
#    not synchronous; msync of a stored page and fsync of a written file
#    reach the host flush; a store without msync does not (control). The
#    control for MAP_SYNC: the same driver gives it on an NFIT namespace (in
#    fsdax mode, which nd_pmem needs there);
#  - unbind: what rpmem wrote, nd_pmem reads back after rpmem let go.
#
# Not tested: an error from the host flush (nothing here makes QEMU's fsync
# fail); the code path is nd_pmem's (nvdimm_flush's -EIO, the work item's
# bi_status). TCG emulates no CPU caches (see README).

. "$(dirname "$0")/lib.sh"

MNT=/tmp/virtio
H=	# the dax_mmap helper
declare -A FLUSHES	# counts of the last counted command, by driver and step

# flushes_of (lib.sh) counts these: "REQUESTS ASYNC ACKS".
FLUSH_FUNCS=(async_pmem_flush virtio_pmem_flush_work virtio_pmem_host_ack)

# KEY WANT COMMAND...: COMMAND's host flushes, kept in FLUSHES[KEY], are
# WANT: none; sync (some, each answered, none asynchronous); async (some,
# each asynchronous and answered); fua (some, each answered, at least one
# asynchronous); some (some requests, some answers).
flushes_are()
{
	local key=$1 want=$2 got req work ack ok
	shift 2
	got=$(flushes_of "$@") || fail "$* failed" || return
	FLUSHES[$key]=$got
	read -r req work ack <<<"$got"
	case $want in
	none) ok=$((req == 0 && work == 0 && ack == 0)) ;;
	sync) ok=$((req > 0 && work == 0 && ack == req)) ;;
	async) ok=$((req > 0 && work == req && ack == req)) ;;
	fua) ok=$((req > 0 && work > 0 && ack == req)) ;;
	some) ok=$((req > 0 && ack > 0)) ;;
	esac
	[ "$ok" = 1 ] ||
		fail "host flushes (requests, asynchronous, answers): $got, want $want"
}

# STEP: rpmem's requests and answers for STEP are as many as nd_pmem's.
same_as_nd_pmem()
{
	local r n
	r=$(awk '{ print $1, $3 }' <<<"${FLUSHES[rpmem/$1]:-}")
	n=$(awk '{ print $1, $3 }' <<<"${FLUSHES[nd_pmem/$1]:-}")
	[[ $r =~ ^[0-9]+\ [0-9]+$ ]] && [ "$r" = "$n" ] ||
		fail "rpmem: '${FLUSHES[rpmem/$1]:-}', nd_pmem: '${FLUSHES[nd_pmem/$1]:-}'"
}

queue_of() { cat "/sys/block/${1#/dev/}/queue/$2"; }

# Queue settings of rpmem's disk and nd_pmem's.
same_queue()
{
	local a
	for a in fua write_cache; do
		[ "${QUEUE[rpmem/$a]}" = "${QUEUE[nd_pmem/$a]}" ] ||
			fail "queue/$a: rpmem ${QUEUE[rpmem/$a]}, nd_pmem ${QUEUE[nd_pmem/$a]}" || return
	done
	[ "${QUEUE[rpmem/fua]}" = 0 ] && [ "${QUEUE[rpmem/write_cache]}" = "write back" ] ||
		fail "queue/fua ${QUEUE[rpmem/fua]}, write_cache ${QUEUE[rpmem/write_cache]}"
}

# DRIVER: it said it cannot guarantee persistence when it bound.
warned()
{
	kmsg_since | grep -q 'unable to guarantee persistence of writes' ||
		fail "no 'unable to guarantee persistence of writes' from $1"
}

# The block checks for DRIVER on the raw virtio namespace.
block_checks()
{
	local drv=$1 disk
	kmsg_mark
	disk=$(dax_attach "$ns" "$drv") || die "no $drv disk on $ns: $disk"
	QUEUE[$drv/fua]=$(queue_of "$disk" fua)
	QUEUE[$drv/write_cache]=$(queue_of "$disk" write_cache)
	check "$drv: says it cannot guarantee persistence (no DIMM mappings)" warned "$drv"
	check_here "$drv: control: a plain O_DIRECT write reaches no host flush" \
		flushes_are "$drv/plain" none xfs_io -d -c 'pwrite -q 0 64k' "$disk"
	# nd_pmem waits for the host in its submit_bio; rpmem hands the empty
	# flush bio over (rust/pmem/disk.rs).
	local how=sync
	[ "$drv" = nd_pmem ] || how=async
	check_here "$drv: fsync (empty REQ_PREFLUSH) reaches the host flush, ${how}hronously" \
		flushes_are "$drv/fsync" $how xfs_io -d -c 'pwrite -q 0 64k' -c fsync "$disk"
	check_here "$drv: O_DSYNC write (REQ_FUA, then an fsync) reaches it, the FUA asynchronously" \
		flushes_are "$drv/fua" fua dd if=/dev/zero of="$disk" bs=64k count=1 \
		oflag=direct,dsync status=none
	check "$drv: fio verify, random 4k-256k O_DIRECT writes with fsync" fio_verify_disk "$disk" 32M
	if [ "$drv" = rpmem ]; then
		head -c 1M /dev/urandom >/tmp/pattern
		dd if=/tmp/pattern of="$disk" bs=1M seek=100 oflag=direct status=none
	fi
	check_here "$drv: unbind flushes the region" flushes_are "$drv/unbind" sync unbind_ns "$ns"
}

# What rpmem wrote before it was unbound, nd_pmem reads.
rpmem_data_kept()
{
	local disk
	disk=$(dax_attach "$ns" nd_pmem) || fail "no nd_pmem disk: $disk" || return
	dd if="$disk" bs=1M skip=100 count=1 iflag=direct status=none | cmp - /tmp/pattern
}

# Unmount MNT if anything is mounted there.
unmount() { ! mountpoint -q "$MNT" || umount "$MNT"; }

# FS DISK: mkfs, mount with DAX always, one file served by DAX. ext4 commits
# its journal (and flushes) every 60 s, not 5: no commit of its own amid a
# count.
mount_dax()
{
	local opt=dax,commit=60
	[ "$1" = ext4 ] || opt=dax=always
	unmount && mkfs_dax "$1" "$2" && mount -o "$opt" "$2" "$MNT" || return
	[[ ,$(findmnt -no OPTIONS "$MNT"), == *,dax=always,* ]] ||
		fail "mount options: $(findmnt -no OPTIONS "$MNT")" || return
	echo data >"$MNT/file" && dax_file "$MNT/file"
}

# FILE: MAP_SYNC refused with EOPNOTSUPP, and nothing else.
map_sync_refused()
{
	local out
	out=$("$H" sync "$1" 2>&1) && fail "MAP_SYNC mapping of $1 worked: $out" && return 1
	[[ $out == *"mmap MAP_SYNC: EOPNOTSUPP"* ]] || fail "MAP_SYNC on $1: $out"
}


# FILE: a MAP_SHARED store, then (with msync) an msync of the page.
mmap_store() { xfs_io -c 'mmap -w 0 4k' -c 'mwrite -S 0x5a 0 4k' "$1"; }
mmap_msync() { xfs_io -c 'mmap -w 0 4k' -c 'mwrite -S 0x5b 0 4k' -c 'msync -s 0 4k' "$1"; }

# KEY COMMAND...: COMMAND reaches no host flush. A journal commit or a
# writeback of the guest's own can fall into the window now and then (once
# under load, 2026-12-01: nd_pmem, ext4, one answered request): a window
# with flushes is counted once more, and the check fails when the second
# one has flushes too, as a flush the command causes would.
no_flush()
{
	local key=$1 first
	shift
	first=$(flushes_are "$key" none "$@") && return
	echo "# $key: $first; once more" >&9
	flushes_are "$key" none "$@"
}

# The DAX checks for DRIVER's DISK on the virtio region, for FS.
dax_checks()
{
	local drv=$1 disk=$2 fs=$3
	check "$drv, $fs: mount -o dax: dax=always, STATX_ATTR_DAX" mount_dax "$fs" "$disk"
	check "$drv, $fs: MAP_SYNC fails with EOPNOTSUPP (region not synchronous)" \
		map_sync_refused "$MNT/file"
	xfs_io -f -c 'pwrite -q 0 64k' -c fsync "$MNT/mapped" && sync
	check "$drv, $fs: control: a store through a shared mapping, no msync: no host flush" \
		no_flush "$drv/$fs/store" mmap_store "$MNT/mapped"
	check "$drv, $fs: msync of a stored page reaches the host flush" \
		flushes_are "$drv/$fs/msync" some mmap_msync "$MNT/mapped"
	check "$drv, $fs: write + fsync of a file reaches the host flush" \
		flushes_are "$drv/$fs/fsync" some \
		xfs_io -f -c 'pwrite -q 0 64k' -c fsync "$MNT/written"
	unmount
}

# NAMESPACE: ndctl puts it in fsdax mode (struct pages in RAM); prints the
# pfn device.
make_fsdax()
{
	ndctl create-namespace -f -e "$1" -m fsdax --map=mem >/dev/null || return
	pfn_of "$1" || fail "no pfn device bound for $1"
}

declare -A QUEUE
dax_drivers=("$DAX_DRIVER" nd_pmem)
[ "$DAX_DRIVER" != nd_pmem ] || dax_drivers=(nd_pmem)
ktap_plan $((21 + 10 * ${#dax_drivers[@]}))
exec 9>&1
manual_binding
mkdir -p "$MNT"
load_nd_pmem || die "nd_pmem does not load"
load_rpmem || die "rpmem does not load"
H=$(build_helper dax_mmap) || die "no dax_mmap helper"
ns=$(namespace_of virtio-pmem)
nfit=$(namespace_of ACPI.NFIT)
echo "# virtio-pmem namespace $ns, NFIT namespace $nfit; DAX driver under test: $DAX_DRIVER"
check "kprobes on ${FLUSH_FUNCS[*]}" kprobes_on "${FLUSH_FUNCS[@]}"

for drv in rpmem nd_pmem; do
	block_checks $drv
done
for step in plain fsync fua unbind; do
	check "rpmem's host flushes for '$step' are nd_pmem's" same_as_nd_pmem $step
done
check "rpmem's and nd_pmem's queues: write cache on, no FUA" same_queue
check "unbind: what rpmem wrote, nd_pmem reads back" rpmem_data_kept

# The driver under test and nd_pmem, DAX on the raw namespace: the region
# asks for struct pages (ND_REGION_PAGEMAP), so nd_pmem maps them too.
for drv in "${dax_drivers[@]}"; do
	disk=$(dax_attach "$ns" "$drv") || die "no $drv disk on $ns: $disk"
	for fs in ext4 xfs; do
		dax_checks "$drv" "$disk" $fs
	done
done

# The control for MAP_SYNC: the same driver on a synchronous region.
nfit_pfn=$(make_fsdax "$nfit") || die "ndctl create-namespace -m fsdax on $nfit failed: $nfit_pfn"
disk=$(dax_attach "$nfit_pfn" "$DAX_DRIVER") || die "no $DAX_DRIVER disk on $nfit_pfn: $disk"
check "control: $DAX_DRIVER on NFIT fsdax, ext4 -o dax" mount_dax ext4 "$disk"
check "control: MAP_SYNC works there (synchronous region)" map_sync_works "$H" "$MNT/file"
unmount
ktap_finish

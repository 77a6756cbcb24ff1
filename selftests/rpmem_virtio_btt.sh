#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Sector mode on virtio-pmem. The region's flush (async_pmem_flush ->
# virtio_pmem_flush) is a request to the host that sleeps until QEMU has
# fsynced the backing file, and a BTT write makes each of its steps durable
# before the next (the data block, the two halves of the flog entry, the
# map entry: four flushes per sector). Whatever the write path holds across
# a flush must allow sleeping: a spinlock there is "BUG: scheduling while
# atomic" on this kernel (CONFIG_PREEMPT_COUNT), which fails the run (the
# kernel log is scanned). nd_btt holds its map spinlock across those
# flushes and then crashes the kernel here (Documentation/rpmem.rst,
# "Sector mode on virtio-pmem"), so in this test nd_btt only lays the BTT
# out and reads:
#
#  - ndctl puts the virtio-pmem namespace in sector mode (4096-byte
#    sectors), rpmem serves the btt device;
#  - the control: reads reach no host flush (kprobes on async_pmem_flush,
#    each flush request, and virtio_pmem_host_ack, the host's answers);
#  - 256 O_DIRECT O_DSYNC writes of 4 KiB: each sector's four flushes reach
#    the host and are answered, the kernel logs no "scheduling while
#    atomic", the data reads back;
#  - four writers at once over the same sectors, and a reader, on two CPUs
#    (two lanes: writers share a lane and sleep in flushes holding it, the
#    reader announces blocks the writers must wait for): each write and
#    read succeeds, the last data reads back;
#  - after rpmem lets go, nd_btt reads back what rpmem wrote.

. "$(dirname "$0")/lib.sh"

A=/tmp/a B=/tmp/b	# 1 MiB of random data each: 256 sectors
# flushes_of (lib.sh) counts these: "REQUESTS ANSWERS".
FLUSH_FUNCS=(async_pmem_flush virtio_pmem_host_ack)
BTT= DISK=

# DRIVER: DRIVER serves the btt device; sets DISK to its disk node.
serve()
{
	rebind_ns "$BTT" "$1" || fail "$1 did not bind $BTT: $(dmesg | tail -n 3)" || return
	DISK=/dev/$(ns_disk "$BTT") || fail "$1 bound $BTT but made no disk"
}

# NAMESPACE: sector mode, 4096-byte sectors (nd_btt lays the BTT out);
# BTT is the btt device.
sector_mode() { BTT=$(make_sector "$1" 4096) || { echo "$BTT"; return 1; }; }

# rpmem serves the btt device with a 4096-byte sector disk rpmemXs.
rpmem_serves()
{
	serve rpmem || return
	[[ $DISK =~ ^/dev/rpmem[0-9.]+s$ ]] || fail "rpmem's disk is $DISK" || return
	[ "$(cat "/sys/block/${DISK#/dev/}/queue/logical_block_size")" = 4096 ] ||
		fail "sectors of $(cat "/sys/block/${DISK#/dev/}/queue/logical_block_size") bytes"
}

# MIN COMMAND...: COMMAND caused at least MIN host flushes (0: none), each
# answered.
flushes_at_least()
{
	local min=$1 got req ack
	shift
	got=$(flushes_of "$@") || fail "$* failed" || return
	read -r req ack <<<"$got"
	echo "# host flushes (requests, answers): $got" >&9
	if [ "$min" = 0 ]; then
		[ "$req" = 0 ] && [ "$ack" = 0 ] || fail "host flushes: $got, want none"
	else
		[ "$req" -ge "$min" ] && [ "$ack" = "$req" ] ||
			fail "host flushes (requests, answers): $got, want at least $min, each answered"
	fi
}

# FILE BLOCK: DISK holds FILE at 4 KiB block BLOCK.
same_at()
{
	dd if="$DISK" bs=4k skip="$2" count=256 iflag=direct status=none | cmp - "$1"
}

# The kernel log since the mark has no "scheduling while atomic" (nor any
# other BUG: vm.sh fails the run on those too, this says where).
no_sleep_in_atomic()
{
	local n
	n=$(kmsg_since | grep -c 'BUG: ') || true
	[ "$n" = 0 ] || fail "$n BUG reports since the mark, the first:" \
		"$(kmsg_since | grep -m1 -A12 'BUG: ')"
}

# Four writers at once, each writing B's 256 sectors in a different
# order of 64-sector quarters, O_DSYNC, while a reader reads them; then the
# disk holds B.
concurrent()
{
	local i q pids=() rc=0
	for i in 0 1 2 3; do
		(
			for q in $(((i + 0) % 4)) $(((i + 1) % 4)) $(((i + 2) % 4)) $(((i + 3) % 4)); do
				dd if=$B of="$DISK" bs=4k skip=$((q * 64)) seek=$((q * 64)) count=64 \
					oflag=direct,dsync conv=notrunc status=none || exit
			done
		) &
		pids+=($!)
	done
	(
		for i in 1 2 3 4 5 6 7 8; do
			dd if="$DISK" of=/dev/null bs=4k count=256 iflag=direct status=none || exit
		done
	) &
	pids+=($!)
	for i in "${pids[@]}"; do
		wait "$i" || rc=1
	done
	[ $rc = 0 ] || fail "a writer or the reader failed" || return
	same_at $B 0 || fail "the disk does not hold what the writers wrote"
}

# nd_btt serves the btt device and reads back what rpmem wrote.
nd_btt_reads()
{
	serve nd_pmem || return
	[[ $DISK =~ ^/dev/pmem[0-9.]+s$ ]] || fail "nd_btt's disk is $DISK" || return
	same_at $B 0 && same_at $A 256 || fail "nd_btt reads other data than rpmem wrote"
}

ktap_plan 10
exec 9>&1
manual_binding
load_nd_pmem || die "nd_pmem does not load"
modprobe -d "$RPMEM_KDIR/modinst" nd_btt || die "no nd_btt module"
load_rpmem || die "rpmem does not load"
head -c 1M /dev/urandom >$A
head -c 1M /dev/urandom >$B
ns=$(namespace_of virtio-pmem)
echo "# virtio-pmem namespace $ns"
check "kprobes on ${FLUSH_FUNCS[*]}" kprobes_on "${FLUSH_FUNCS[@]}"
check_here "ndctl puts $ns in sector mode, 4096-byte sectors" sector_mode "$ns" ||
	die "no btt device"
check_here "rpmem serves $BTT: a sector disk, 4096-byte sectors" rpmem_serves ||
	die "rpmem does not serve $BTT"
echo "# $BTT: $DISK"
check "control: reads reach no host flush" \
	flushes_at_least 0 dd if="$DISK" of=/dev/null bs=4k count=256 iflag=direct status=none
kmsg_mark
check "256 O_DIRECT O_DSYNC writes of 4 KiB: at least 4 host flushes each, all answered" \
	flushes_at_least 1024 dd if=$A of="$DISK" bs=4k seek=256 count=256 \
	oflag=direct,dsync conv=notrunc status=none
check "no 'scheduling while atomic' (no BUG) in the kernel log" no_sleep_in_atomic
check "the 256 sectors read back" same_at $A 256
check "4 writers at once over the same sectors, and a reader: all succeed, the last data reads back" \
	concurrent
check "no 'scheduling while atomic' (no BUG) after them" no_sleep_in_atomic
check "nd_btt reads back what rpmem wrote" nd_btt_reads
unbind_ns "$BTT"
ktap_finish

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# REQ_NOWAIT: rpmem's disks set BLK_FEAT_NOWAIT (nd_pmem's do not), so the
# block layer opens them with FMODE_NOWAIT, RWF_NOWAIT is allowed on them,
# and io_uring issues each read and write on the submitting task with
# IOCB_NOWAIT (REQ_NOWAIT bios) instead of handing it to an io-wq worker.
# Linux 7.3 shows the flag in no sysfs file (queue/ has no "nowait"): what
# user space sees of it is RWF_NOWAIT accepted (nd_pmem: EOPNOTSUPP).
# Where serving such a bio would sleep, rpmem completes it with
# BLK_STS_AGAIN: a flush on a region whose flush sleeps (virtio-pmem's, a
# request to the host), clearing poison, a BTT write on such a region (each
# of its steps is flushed), a BTT lane or map lock held by another task.
#
# The observable for "submitted inline": io_uring's own tracepoints. Every
# request io_uring takes from the ring is traced (io_uring_submit_req), and
# every one it hands to io-wq too (io_uring_queue_async_work, with the
# opcode): a request whose file lacks FMODE_NOWAIT is handed over before
# it is tried; one that got EAGAIN from the driver is handed over to be
# tried again, blocking. So "N submitted, none handed to io-wq" says each
# I/O went down to the driver on the submitting task, with REQ_NOWAIT, and
# the driver completed it without asking to be called again where it may
# sleep. (It does not prove the driver never slept: rpmem takes no lock
# that sleeps for such a bio, it only tries them.) The control is the same
# fio run on nd_pmem, where every I/O is handed to io-wq.
#
# One VM: two NFIT NVDIMMs (no labels), a memmap= region, a virtio-pmem
# device. Each kind of namespace rpmem serves gets fio verify through
# io_uring (random writes of 4-64 KiB at QD32, then read back) with the
# I/O counted:
#
#  - raw NFIT namespace: nd_pmem first (control: RWF_NOWAIT refused with
#    EOPNOTSUPP, every I/O handed to io-wq), then rpmem (RWF_NOWAIT reads,
#    writes and RWF_DSYNC writes served: an NFIT flush is a fence and flush
#    hint stores);
#  - memmap= region: then sectors marked bad in its badblocks file: an
#    RWF_NOWAIT write over them gets EAGAIN (clearing poison sleeps) and
#    they stay bad, an RWF_NOWAIT read of them EIO at once, a write beside
#    them succeeds (control); a write that may wait clears them;
#  - fsdax (ndctl, --map=dev), rebound to rpmem;
#  - sector mode (a BTT rpmem lays out on the raw NFIT namespace); then
#    four io_uring jobs at once, whose sector reads and writes may find
#    every lane or their map lock held (EAGAIN, retried by io-wq): fio
#    verify passes, how many went to io-wq is printed;
#  - virtio-pmem: plain I/O inline; an RWF_NOWAIT|RWF_DSYNC write (FUA,
#    a host flush) gets EAGAIN with no host flush and nothing written,
#    where RWF_NOWAIT alone and RWF_DSYNC alone succeed (controls, the
#    latter with a host flush, counted by a kprobe on async_pmem_flush);
#    io_uring O_DSYNC writes each go to io-wq after EAGAIN and pass verify,
#    their reads do not;
#  - sector mode on virtio-pmem: every write flushes, so an RWF_NOWAIT
#    write gets EAGAIN and writes nothing, reads are served (control);
#    through io_uring writes go to io-wq, reads do not.

. "$(dirname "$0")/lib.sh"

# flushes_of (lib.sh) counts these.
FLUSH_FUNCS=(async_pmem_flush)
NW=		# the nowait_io helper
URING=(--name=uring --ioengine=io_uring --direct=1 --iodepth=32 --numjobs=1
	--rw=randwrite --bsrange=4k-64k --size=16M --verify=crc32c --verify_fatal=1
	--output-format=json)

# Trace io_uring's submissions and hand-overs to io-wq, with room for all
# of nd_pmem's.
uring_tracing()
{
	local e
	kprobes_on "${FLUSH_FUNCS[@]}" || return
	echo 8192 >"$TRACING/buffer_size_kb" || return
	for e in io_uring_submit_req io_uring_queue_async_work; do
		echo 1 >"$TRACING/events/io_uring/$e/enable" || return
	done
}

# DISK FIO-ARGS...: fio verify through io_uring on DISK (URING, then
# FIO-ARGS, which override); prints "READS WRITES SUBMITTED TO-IOWQ-READS
# TO-IOWQ-WRITES": the I/Os fio did (the verify pass's reads included),
# the requests io_uring took from the ring, and those it handed to io-wq,
# by opcode. Fails if fio or its verify fails, or the trace lost events.
uring_counts()
{
	local disk=$1 json=/tmp/uring.json trace lost ios
	shift
	echo >"$TRACING/trace"
	fio --filename="$disk" "${URING[@]}" "$@" --output="$json" >/tmp/uring.out 2>&1 ||
		fail "fio failed: $(tail -n 5 /tmp/uring.out; grep -m3 -i verify "$json")" ||
		return
	trace=$(grep -v '^#' "$TRACING/trace")
	lost=$(awk '/^overrun:/ { n += $2 } END { print n + 0 }' "$TRACING"/per_cpu/cpu*/stats)
	[ "$lost" = 0 ] || fail "the trace lost $lost events" || return
	# fio may warn above its JSON (jobs sharing a file: they do not
	# overlap here, offset_increment keeps them apart).
	ios=$(sed -n '/^{/,$p' "$json" |
		jq -r '.jobs[0] | "\(.read.total_ios) \(.write.total_ios)"') ||
		fail "no I/O counts from fio" || return
	echo "$ios" \
		"$(grep -c ' io_uring_submit_req: ' <<<"$trace")" \
		"$(grep -cE ' io_uring_queue_async_work: .* opcode READV?,' <<<"$trace")" \
		"$(grep -cE ' io_uring_queue_async_work: .* opcode WRITEV?,' <<<"$trace")"
}

# DISK READS WRITES FIO-ARGS...: fio verify through io_uring on DISK; of
# its I/O, READS and WRITES ("none" or "all") were handed to io-wq.
uring_handed()
{
	local disk=$1 want_r=$2 want_w=$3 n r w s pr pw
	shift 3
	n=$(uring_counts "$disk" "$@") || fail "$n" || return
	read -r r w s pr pw <<<"$n"
	echo "# ${disk#/dev/}: $r reads, $w writes, $s submitted; to io-wq: $pr reads, $pw writes" >&9
	[ "$r" -gt 0 ] && [ "$w" -gt 0 ] && [ "$s" -ge $((r + w)) ] ||
		fail "fio did $r reads and $w writes, io_uring saw $s submissions" || return
	case $want_r in
	none) [ "$pr" = 0 ] ;;
	all) [ "$pr" -ge "$r" ] ;;
	esac || fail "$pr of $r reads handed to io-wq, want $want_r" || return
	case $want_w in
	none) [ "$pw" = 0 ] ;;
	all) [ "$pw" -ge "$w" ] ;;
	esac || fail "$pw of $w writes handed to io-wq, want $want_w"
}

# DISK FIO-ARGS...: rpmem's disk takes RWF_NOWAIT (its block device file
# has FMODE_NOWAIT), and fio verify through io_uring passes with none of
# its I/O handed to io-wq.
served_inline()
{
	says "ok 4096" "$NW" read n "$1" 0 4096 && uring_handed "$1" none none "${@:2}"
}

# WANT COMMAND...: COMMAND prints WANT.
says()
{
	local want=$1 got
	shift
	got=$("$@" 2>&1) || fail "$*: failed: $got" || return
	[ "$got" = "$want" ] || fail "$*: '$got', want '$want'"
}

# COMMAND...: its output and the host flushes it caused: "OUTPUT, N flushes".
with_flushes()
{
	local out n
	echo >"$TRACING/trace"
	out=$("$@") || return
	n=$(grep -c ' rpmem_async_pmem_flush: ' "$TRACING/trace")
	echo "$out, $n flushes"
}

# DISK OFFSET BYTE: the 4 KiB at OFFSET of DISK are all BYTE (two hex
# digits).
holds()
{
	local got
	got=$(dd if="$1" bs=4k skip=$(($2 / 4096)) count=1 iflag=direct status=none |
		od -An -v -tx1 | tr -s ' \n' '\n' | sed '/^$/d' | sort -u | xargs)
	[ "$got" = "$3" ] || fail "${1#/dev/} at $2 holds bytes '$got', want '$3'"
}

# NAMESPACE DRIVER: DRIVER serves NAMESPACE; prints its disk.
serve()
{
	rebind_ns "$1" "$2" || fail "$2 does not bind $1: $(dmesg | tail -n 3)" || return
	echo "/dev/$(ns_disk "$1")"
}

# --- the checks, by kind ------------------------------------------------------

nd_pmem_refuses_nowait()
{
	says EOPNOTSUPP "$NW" read n "$1" 0 4096 && says EOPNOTSUPP "$NW" write n "$1" 0 4096
}

nfit_nowait_served()
{
	says "ok 4096" "$NW" read n "$1" 0 4096 && says "ok 4096" "$NW" write n "$1" 0 4096 &&
		says "ok 4096" "$NW" write nd "$1" 4096 4096
}

# The memmap disk's sectors 64-71 (its ninth 4 KiB) are marked bad.
BAD_AT=32768
mark_bad()
{
	local d=${1#/dev/}
	echo "64 8" >"/sys/block/$d/badblocks" &&
		says "64 8" cat "/sys/block/$d/badblocks"
}

bad_write_again()
{
	mark_bad "$1" && says EAGAIN "$NW" write n "$1" $BAD_AT 4096 &&
		says "64 8" cat "/sys/block/${1#/dev/}/badblocks"
}

bad_read_fails_write_beside()
{
	says EIO "$NW" read n "$1" $BAD_AT 4096 &&
		says "ok 4096" "$NW" write n "$1" $((BAD_AT + 4096)) 4096
}

bad_cleared_by_waiting_write()
{
	says "ok 4096" "$NW" write - "$1" $BAD_AT 4096 &&
		says "" cat "/sys/block/${1#/dev/}/badblocks" &&
		says "ok 4096" "$NW" write n "$1" $BAD_AT 4096
}

# DISK: four fio jobs at once, each verifying its own 4 MiB through
# io_uring at QD32, on two CPUs: sector writes and reads that find a lane
# or map lock held go to io-wq after EAGAIN; how many is printed, not
# judged (it depends on when tasks are preempted).
btt_contended()
{
	local n r w s pr pw
	n=$(uring_counts "$1" --numjobs=4 --offset_increment=4M --size=4M \
		--group_reporting) || fail "$n" || return
	read -r r w s pr pw <<<"$n"
	echo "# ${1#/dev/}, 4 jobs: $r reads, $w writes, $s submitted;" \
		"to io-wq (a lock was held): $pr reads, $pw writes" >&9
	[ "$r" -gt 0 ] && [ "$w" -gt 0 ] && [ "$s" -ge $((r + w)) ] ||
		fail "fio did $r reads and $w writes, io_uring saw $s submissions"
}

btt_nowait_served()
{
	says "ok 4096" "$NW" write n "$1" 0 4096 && says "ok 4096" "$NW" read n "$1" 0 4096
}

# At 1 MiB of the virtio disk: 0x11 written first; an RWF_NOWAIT|RWF_DSYNC
# write of 0x22 gets EAGAIN, reaches no host flush, writes nothing.
VIRT_AT=1048576
virtio_dsync_again()
{
	says "ok 4096" "$NW" write - "$1" $VIRT_AT 4096 0x11 &&
		says "EAGAIN, 0 flushes" with_flushes "$NW" write nd "$1" $VIRT_AT 4096 0x22 &&
		holds "$1" $VIRT_AT 11
}

virtio_controls()
{
	local out
	says "ok 4096, 0 flushes" with_flushes "$NW" write n "$1" $VIRT_AT 4096 0x33 &&
		holds "$1" $VIRT_AT 33 || return
	out=$(with_flushes "$NW" write d "$1" $VIRT_AT 4096 0x44) || return
	[[ $out =~ ^ok\ 4096,\ ([0-9]+)\ flushes$ ]] && [ "${BASH_REMATCH[1]}" -ge 1 ] ||
		fail "RWF_DSYNC write: '$out', want ok and at least one host flush" || return
	holds "$1" $VIRT_AT 44
}

virtio_btt_write_again()
{
	says "ok 4096" "$NW" write - "$1" 0 4096 0x55 &&
		says EAGAIN "$NW" write n "$1" 0 4096 0x66 && holds "$1" 0 55 &&
		says "ok 4096" "$NW" read n "$1" 0 4096 &&
		says "ok 4096" "$NW" write - "$1" 0 4096 0x66 && holds "$1" 0 66
}

ktap_plan 19
exec 9>&1
manual_binding
load_nd_pmem || die "nd_pmem does not load"
modprobe -d "$RPMEM_KDIR/modinst" nd_btt || die "no nd_btt module"
load_rpmem || die "rpmem does not load"
NW=$(build_helper nowait_io) || die "cannot build nowait_io: $NW"
big=$(ns_of_size 256) && small=$(ns_of_size 128) || die "no NFIT namespaces of 256 and 128 MiB"
memmap=$(namespace_of e820)
virt=$(namespace_of virtio-pmem)
echo "# NFIT $big (raw, then sector mode) and $small (fsdax), memmap $memmap, virtio-pmem $virt"
check "tracing io_uring_submit_req, io_uring_queue_async_work, a kprobe on async_pmem_flush" \
	uring_tracing

# Raw NFIT namespace: nd_pmem, the control, then rpmem.
disk=$(serve "$big" nd_pmem) || die "$disk"
check "control: nd_pmem ($disk): RWF_NOWAIT read and write refused (EOPNOTSUPP)" \
	nd_pmem_refuses_nowait "$disk"
check "control: nd_pmem: fio verify through io_uring, every read and write handed to io-wq" \
	uring_handed "$disk" all all
disk=$(serve "$big" rpmem) || die "$disk"
check "raw NFIT ($disk): RWF_NOWAIT taken, fio verify through io_uring, nothing handed to io-wq" \
	served_inline "$disk"
check "raw NFIT: RWF_NOWAIT read, write, RWF_NOWAIT|RWF_DSYNC write served" \
	nfit_nowait_served "$disk"

# memmap= region, then bad sectors on it.
disk=$(serve "$memmap" rpmem) || die "$disk"
check "memmap ($disk): RWF_NOWAIT taken, fio verify through io_uring, nothing handed to io-wq" \
	served_inline "$disk"
check "memmap: RWF_NOWAIT write over bad sectors: EAGAIN, still bad" bad_write_again "$disk"
check "memmap: RWF_NOWAIT read of them EIO; RWF_NOWAIT write beside them served (control)" \
	bad_read_fails_write_beside "$disk"
check "memmap: a write that may wait clears them; then RWF_NOWAIT writes there" \
	bad_cleared_by_waiting_write "$disk"
unbind_ns "$memmap"

# fsdax, the page map on the device.
ndctl create-namespace -f -e "$small" -m fsdax --map=dev >/dev/null || die "no fsdax on $small"
pfn=$(pfn_of "$small") || die "no pfn device on $small"
disk=$(serve "$pfn" rpmem) || die "$disk"
check "fsdax ($pfn, $disk): RWF_NOWAIT taken, fio verify through io_uring, nothing handed to io-wq" \
	served_inline "$disk"
unbind_ns "$pfn"

# Sector mode on the raw NFIT namespace.
make_btt "$big" rpmem || die "rpmem lays out no BTT on $big"
disk=/dev/$(btt_disk_of "$big") || die "no BTT disk on $big"
check "BTT on NFIT ($disk): RWF_NOWAIT taken, fio verify through io_uring, nothing handed to io-wq" \
	served_inline "$disk"
check "BTT on NFIT: RWF_NOWAIT write and read served" btt_nowait_served "$disk"
check "BTT on NFIT: 4 io_uring jobs at once, fio verify passes" btt_contended "$disk"
unbind_ns "$(btt_of "$big")"

# virtio-pmem, raw.
disk=$(serve "$virt" rpmem) || die "$disk"
check "virtio-pmem ($disk): RWF_NOWAIT taken, fio verify through io_uring, nothing handed to io-wq" \
	served_inline "$disk"
check "virtio-pmem: RWF_NOWAIT|RWF_DSYNC write: EAGAIN, no host flush, nothing written" \
	virtio_dsync_again "$disk"
check "virtio-pmem: controls: RWF_NOWAIT write (no flush) and RWF_DSYNC write (a host flush) served" \
	virtio_controls "$disk"
check "virtio-pmem: io_uring O_DSYNC fio verify: each write to io-wq after EAGAIN, no read" \
	uring_handed "$disk" none all --sync=dsync --size=4M
unbind_ns "$virt"

# Sector mode on virtio-pmem: every write flushes.
btt=$(make_sector "$virt" 4096) || die "no sector mode on $virt: $btt"
disk=$(serve "$btt" rpmem) || die "$disk"
check "BTT on virtio-pmem ($disk): RWF_NOWAIT write EAGAIN, nothing written; reads and waiting writes served" \
	virtio_btt_write_again "$disk"
check "BTT on virtio-pmem: io_uring fio verify: each write to io-wq after EAGAIN, no read" \
	uring_handed "$disk" none all --size=1M --bsrange=4k-4k
unbind_ns "$btt"
ktap_finish

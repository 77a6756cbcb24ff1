#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Bad input: I/O past the end of a disk, misaligned and empty O_DIRECT I/O,
# loading rpmem twice or with parameters it does not have or cannot take,
# binding what cannot be bound, and sectors marked bad. Each one must get the exact
# error the kernel gives for it, leave the data alone, and be counted and
# handled as nd_pmem does on the same namespace. Also: the I/O statistics
# count what went through the disk.

. "$(dirname "$0")/lib.sh"

# Sectors marked bad through sysfs: inside the sixth 4 KiB page, which
# starts at sector 40 and ends at sector 47.
BAD_AT=40
BAD_N=4
BAD_PAGE=5
PATTERN=/tmp/pattern	# 64 KiB of random data, written at the start of disks

size_of() { blockdev --getsize64 "/dev/$1"; }

# DISK: checksum of its first 64 KiB, read with O_DIRECT.
sum_of() { dd if="/dev/$1" bs=64k count=1 iflag=direct status=none | md5sum; }

# DISK SUM: its first 64 KiB still has that checksum.
unchanged()
{
	local now
	now=$(sum_of "$1") || return
	[ "$now" = "$2" ] || fail "the first 64 KiB of $1 changed"
}

put_pattern()
{
	dd if="$PATTERN" of="/dev/$1" bs=64k count=1 oflag=direct conv=nocreat,notrunc \
		status=none
}

# --- past the end -------------------------------------------------------------

# A write starting at the end: the block layer refuses it (ENOSPC) before
# the driver sees it, as long as the driver told it the right capacity.
write_at_end()
{
	dd if=/dev/zero of="/dev/$1" bs=4k count=1 seek="$(size_of "$1")" \
		oflag=direct,seek_bytes conv=nocreat,notrunc status=none
}

# A read starting at the end is no error: it reads nothing.
read_at_end()
{
	local out=/tmp/past-end.$1
	rm -f "$out"
	dd if="/dev/$1" of="$out" bs=4k count=1 skip="$(size_of "$1")" \
		iflag=direct,skip_bytes status=none || fail "the read failed" || return
	[ "$(stat -c %s "$out")" -eq 0 ] || fail "read $(stat -c %s "$out") bytes"
}

# 4 KiB written 2 KiB before the end: the 2 KiB that fit land, the 2 KiB
# before them stay as they were, and dd reports the short write and then
# ENOSPC for the rest.
write_across_end()
{
	local d=$1 size out
	size=$(size_of "$d") || return
	dd if=/dev/zero of="/dev/$d" bs=4k count=1 seek=$((size - 4096)) \
		oflag=direct,seek_bytes conv=nocreat,notrunc status=none || return
	if out=$(dd if="$PATTERN" of="/dev/$d" bs=4k count=1 seek=$((size - 2048)) \
		oflag=direct,seek_bytes conv=nocreat,notrunc 2>&1); then
		fail "dd succeeded: $out"
		return
	fi
	[[ $out == *"No space left on device"* ]] || fail "dd said: $out" || return
	[[ $out == *"2048 bytes"* ]] || fail "not a 2048-byte short write: $out" || return
	dd if="/dev/$d" bs=2k count=1 skip=$((size - 2048)) iflag=direct,skip_bytes \
		status=none | cmp -s - <(head -c 2048 "$PATTERN") ||
		fail "the last 2 KiB are not what was written" || return
	dd if="/dev/$d" bs=2k count=1 skip=$((size - 4096)) iflag=direct,skip_bytes \
		status=none | cmp -s - <(head -c 2048 /dev/zero) ||
		fail "the 2 KiB before the write changed"
}

# 4 KiB read 2 KiB before the end: the 2 KiB that are there (what
# write_across_end left), no error.
read_across_end()
{
	local d=$1 size out=/tmp/across-end.$1
	size=$(size_of "$d") || return
	dd if="/dev/$d" of="$out" bs=4k count=1 skip=$((size - 2048)) \
		iflag=direct,skip_bytes status=none || fail "the read failed" || return
	cmp -s "$out" <(head -c 2048 "$PATTERN") ||
		fail "read $(stat -c %s "$out") bytes, not the last 2 KiB"
}

# --- empty I/O ----------------------------------------------------------------

# xfs_io "pwrite 0 0": succeeds and says it wrote nothing.
xfs_io_empty_write()
{
	local out
	out=$(xfs_io -d -c "pwrite -S 0x5a 0 0" "/dev/$1" 2>&1) || fail "$out" || return
	[[ $out == *"wrote 0/0 bytes"* ]] || fail "xfs_io said: $out"
}

# A real pwrite(2) of 0 bytes on an O_DIRECT descriptor (dd count=0 and
# xfs_io may not make the system call at all): returns 0.
syscall_empty_write()
{
	python3 - "/dev/$1" <<-'EOF'
	import os, sys
	fd = os.open(sys.argv[1], os.O_WRONLY | os.O_DIRECT)
	n = os.pwrite(fd, b"", 0)
	sys.exit(f"pwrite returned {n}" if n != 0 else 0)
	EOF
}

# NAMESPACE DISK: the disk ends where the namespace ends, so that "the end"
# below is the namespace's end.
same_size()
{
	local ns_size disk_size
	ns_size=$(cat "$ND/devices/$1/size") && disk_size=$(size_of "$2") || return
	[ "$ns_size" -eq "$disk_size" ] || fail "$1: $ns_size bytes, $2: $disk_size"
}

# NAMESPACE: every check above, on its disk.
io_checks()
{
	local ns=$1 d sum
	d=$(ns_disk "$ns") || die "no disk for $ns"
	put_pattern "$d" || die "cannot write to /dev/$d"
	check "$d: as large as $ns" same_size "$ns" "$d"
	check "$d: read at the end reads 0 bytes, no error" read_at_end "$d"
	expect_fail "No space left on device" "$d: write at the end" write_at_end "$d"
	check "$d: write across the end writes the 2 KiB that fit, then ENOSPC" \
		write_across_end "$d"
	check "$d: read across the end reads the 2 KiB that are there" read_across_end "$d"

	sum=$(sum_of "$d")
	expect_fail "Invalid argument" "$d: O_DIRECT write of 100 bytes" \
		dd if=/dev/urandom of="/dev/$d" bs=100 count=1 oflag=direct \
		conv=nocreat,notrunc status=none
	expect_fail "Invalid argument" "$d: O_DIRECT write at byte 100" \
		xfs_io -d -c "pwrite -S 0x5a 100 512" "/dev/$d"
	expect_fail "Invalid argument" "$d: O_DIRECT read at byte 100" \
		xfs_io -d -c "pread 100 512" "/dev/$d"
	check "$d: misaligned writes changed nothing" unchanged "$d" "$sum"

	check "$d: dd count=0 oflag=direct succeeds" \
		dd if=/dev/urandom of="/dev/$d" bs=4k count=0 oflag=direct \
		conv=nocreat,notrunc status=none
	check "$d: xfs_io -d pwrite 0 0 writes 0 bytes" xfs_io_empty_write "$d"
	check "$d: pwrite(2) of 0 bytes with O_DIRECT returns 0" syscall_empty_write "$d"
	check "$d: empty writes changed nothing" unchanged "$d" "$sum"
}

# --- the module and the nd bus ------------------------------------------------

# The module and both disks survive a failed second insmod.
still_loaded()
{
	[ "$(cat /sys/module/rpmem/initstate)" = live ] || fail "rpmem is not live" || return
	[ "$(ns_driver "$nfit")" = rpmem ] && [ "$(ns_driver "$e820")" = rpmem ] ||
		fail "a namespace lost its driver"
}

# NAMESPACE DRIVER DISK: still bound to DRIVER, with the same disk.
still_bound()
{
	[ "$(ns_driver "$1")" = "$2" ] || fail "$1 is bound to '$(ns_driver "$1")'" || return
	[ "$(ns_disk "$1")" = "$3" ] || fail "$1 has disk '$(ns_disk "$1")', not $3"
}

unbind_from() { echo "$1" >"$ND/drivers/$2/unbind"; }

# The seeds of the NFIT region: unbound, no disk, and no new rpmem disk.
seeds_untouched()
{
	local s disks
	for s in "$@"; do
		[ -z "$(ns_driver "$s")" ] || fail "$s is bound to $(ns_driver "$s")" || return
		[ ! -e "$ND/devices/$s/block" ] || fail "$s has a disk" || return
	done
	disks=$(cd /sys/block && echo rpmem*)
	[ "$disks" = "$rdisks" ] || fail "rpmem disks were '$rdisks', are '$disks'"
}

# Unknown module parameters are not an error in Linux 7.3: load_module()
# passes them to unknown_module_param_cb(), which logs "unknown parameter
# ... ignored" and returns 0, so insmod succeeds (it never says "Unknown
# symbol in module" or "Invalid parameters" for them). Assert exactly that.
insmod_unknown_param()
{
	kmsg_mark
	insmod "$RPMEM_KO" nonexistent=1 || fail "insmod failed" || return
	grep -q '^rpmem ' /proc/modules || fail "rpmem is not loaded" || return
	kmsg_since | grep -qF "rpmem: unknown parameter 'nonexistent' ignored" ||
		fail "no 'unknown parameter' warning in the kernel log"
}

# LOG-LINE ARGS...: insmod rpmem.ko ARGS fails and leaves nothing loaded;
# the kernel log says LOG-LINE.
insmod_refused()
{
	local log=$1
	shift
	kmsg_mark
	! insmod "$RPMEM_KO" "$@" 2>/dev/null || fail "insmod succeeded" || return
	[ ! -e /sys/module/rpmem ] || fail "rpmem is loaded" || return
	kmsg_since | grep -qF "$log" || fail "no '$log' in the kernel log"
}

# --- I/O statistics -----------------------------------------------------------

# DISK: /proc/diskstats shows what the disk's stat file shows, and no I/O is
# left in flight (an unbalanced start/end of accounting would leave some).
stats_agree()
{
	local d=$1 sys proc inflight
	sys=$(awk '{ $1 = $1; print }' "/sys/block/$d/stat")
	proc=$(awk -v d="$d" '$3 == d { $1 = $2 = $3 = ""; $0 = $0; $1 = $1; print }' \
		/proc/diskstats)
	[ -n "$sys" ] && [ "$sys" = "$proc" ] ||
		fail "stat: '$sys', diskstats: '$proc'" || return
	inflight=$(awk '{ print $1 + $2 }' "/sys/block/$d/inflight")
	[ "$inflight" -eq 0 ] || fail "$inflight I/Os in flight"
}

# --- bad sectors --------------------------------------------------------------

mark_bad()
{
	echo "$BAD_AT $BAD_N" >"/sys/block/$1/badblocks" || return
	[ "$(cat "/sys/block/$1/badblocks")" = "$BAD_AT $BAD_N" ] ||
		fail "badblocks says: $(cat "/sys/block/$1/badblocks")"
}

# Reads that do not touch the bad sectors, right before and right after
# them, return the pattern.
reads_around_bad()
{
	local d=$1 after=$((BAD_AT + BAD_N))
	dd if="/dev/$d" bs=512 count=$BAD_AT iflag=direct status=none |
		cmp -s - <(head -c $((BAD_AT * 512)) "$PATTERN") ||
		fail "sectors 0-$((BAD_AT - 1)) read wrong" || return
	dd if="/dev/$d" bs=512 skip=$after count=$((128 - after)) iflag=direct \
		status=none | cmp -s - <(tail -c +$((after * 512 + 1)) "$PATTERN") ||
		fail "sectors $after-127 read wrong"
}

# NAMESPACE DRIVER: with the bad sectors marked, a 4 KiB O_DIRECT write of
# zeros over them, told as one line: the write's result, the list of bad
# sectors after it, an O_DIRECT read of the page after it, and what the
# media holds there (read back through a new binding, whose list starts
# empty again): the old pattern or the new zeros.
write_over_bad()
{
	local ns=$1 drv=$2 d out wrote list reread media page zeros old
	d=$(ns_disk "$ns") || { echo "no disk"; return; }
	if out=$(dd if=/dev/zero of="/dev/$d" bs=4k count=1 seek=$BAD_PAGE oflag=direct \
		conv=nocreat,notrunc status=none 2>&1); then
		wrote=ok
	else
		wrote=${out##*: }
	fi
	list=$(paste -sd, "/sys/block/$d/badblocks")
	if out=$(dd if="/dev/$d" of=/dev/null bs=4k count=1 skip=$BAD_PAGE \
		iflag=direct status=none 2>&1); then
		reread=ok
	else
		reread=${out##*: }
	fi
	rebind_ns "$ns" "$drv" && d=$(ns_disk "$ns") || { echo "rebind failed"; return; }
	page=$(dd if="/dev/$d" bs=4k count=1 skip=$BAD_PAGE iflag=direct status=none | md5sum)
	zeros=$(head -c 4096 /dev/zero | md5sum)
	old=$(dd if="$PATTERN" bs=4k count=1 skip=$BAD_PAGE status=none | md5sum)
	case $page in
	"$zeros") media=new ;;
	"$old") media=old ;;
	*) media=other ;;
	esac
	echo "write: $wrote, bad list after: ${list:-empty}, read after: $reread, media: $media"
}

# STORY-OF-RPMEM STORY-OF-ND_PMEM: the same, and a whole one.
same_story()
{
	[[ $2 =~ ^write:.*media:\ (old|new)$ ]] || fail "nd_pmem: $2" || return
	[ "$1" = "$2" ] || fail "rpmem: $1; nd_pmem: $2"
}

# NAMESPACE DRIVER: bind, mark sectors bad, read over and around them;
# the story of a write over them goes to /tmp/story.NAMESPACE.DRIVER.
bad_sector_checks()
{
	local ns=$1 drv=$2 d
	rebind_ns "$ns" "$drv" && d=$(ns_disk "$ns") || die "cannot bind $ns to $drv"
	put_pattern "$d" || die "cannot write to /dev/$d"
	check "$drv $d: sectors $BAD_AT+$BAD_N marked bad through sysfs" mark_bad "$d"
	expect_fail "Input/output error" "$drv $d: O_DIRECT read over the bad sectors" \
		dd if="/dev/$d" of=/dev/null bs=4k count=1 skip=$BAD_PAGE iflag=direct \
		status=none
	expect_fail "Input/output error" "$drv $d: O_DIRECT read of the last bad sector" \
		dd if="/dev/$d" of=/dev/null bs=512 count=1 skip=$((BAD_AT + BAD_N - 1)) \
		iflag=direct status=none
	check "$drv $d: O_DIRECT reads right next to the bad sectors succeed" \
		reads_around_bad "$d"
	write_over_bad "$ns" "$drv" >"/tmp/story.$ns.$drv"
}

# NAMESPACE: statistics, a busy bind and bad sectors, first under nd_pmem
# (the reference), then under rpmem; rpmem must do what nd_pmem did.
compare_with_nd_pmem()
{
	local ns=$1 pdisk rdisk p_io r_io p_stat r_stat
	rebind_ns "$ns" nd_pmem && pdisk=$(ns_disk "$ns") || die "cannot bind $ns to nd_pmem"
	expect_fail "Device or resource busy" "binding $ns to rpmem while nd_pmem has it" \
		bind_ns "$ns" rpmem
	check "$ns still bound to nd_pmem, still $pdisk" still_bound "$ns" nd_pmem "$pdisk"
	p_stat=$(cat "/sys/block/$pdisk/queue/iostats")
	echo 1 >"/sys/block/$pdisk/queue/iostats"
	p_io=$(counted_io "$pdisk")

	rebind_ns "$ns" rpmem && rdisk=$(ns_disk "$ns") || die "cannot bind $ns to rpmem"
	r_stat=$(cat "/sys/block/$rdisk/queue/iostats")
	# Bio-based disks do not count I/O until asked to (BLK_FEAT_IO_STAT is
	# only a blk-mq default): nd_pmem's default, which rpmem keeps.
	check "$rdisk: queue/iostats defaults to nd_pmem's ($p_stat)" \
		same_as_nd_pmem "$r_stat" "$p_stat"
	echo 1 >"/sys/block/$rdisk/queue/iostats"
	r_io=$(counted_io "$rdisk")
	check "$rdisk: stat grew by at least the known I/O ($r_io)" counted_enough "$r_io"
	check "$rdisk: stat grew as nd_pmem's did ($p_io)" same_as_nd_pmem "$r_io" "$p_io"
	check "$rdisk: /proc/diskstats agrees, nothing in flight" stats_agree "$rdisk"

	bad_sector_checks "$ns" nd_pmem
	bad_sector_checks "$ns" rpmem
	check "rpmem like nd_pmem, $ns: $(cat "/tmp/story.$ns.nd_pmem")" \
		same_story "$(cat "/tmp/story.$ns.rpmem")" "$(cat "/tmp/story.$ns.nd_pmem")"
}

ktap_plan 78
manual_binding
load_rpmem || die "cannot load rpmem"
load_nd_pmem || die "cannot load nd_pmem"
nfit=$(namespace_of ACPI.NFIT)
e820=$(namespace_of e820)
rebind_ns "$nfit" rpmem && rebind_ns "$e820" rpmem || die "cannot bind to rpmem"
head -c 64K /dev/urandom >"$PATTERN"

# 2 x 13
io_checks "$nfit"
io_checks "$e820"

# 13
expect_fail "File exists" "insmod rpmem.ko a second time" insmod "$RPMEM_KO"
check "rpmem still loaded, both namespaces still bound" still_loaded
expect_fail "No such device" "binding a namespace that does not exist" \
	bind_ns namespace99.9 rpmem
rdisk=$(ns_disk "$nfit")
expect_fail "Device or resource busy" "binding $nfit to rpmem a second time" \
	bind_ns "$nfit" rpmem
check "$nfit still bound to rpmem, still $rdisk" still_bound "$nfit" rpmem "$rdisk"
# The region's seeds, personalities not configured yet. btt and pfn seeds
# have the region's device type, so both drivers match them, and their
# probes refuse them in nvdimm_namespace_common_probe(): no namespace is
# attached (ENODEV). (rpmem once refused them before that, with ENXIO;
# nd_pmem is the reference.) A dax seed is of another device type: the
# bus offers it to neither driver (ENODEV from the bind itself).
region=$(readlink -f "$ND/devices/$nfit/..")
btt=$(cat "$region/btt_seed") pfn=$(cat "$region/pfn_seed") dax=$(cat "$region/dax_seed")
rdisks=$(cd /sys/block && echo rpmem*)
for seed in "$btt" "$pfn" "$dax"; do
	for drv in nd_pmem rpmem; do
		expect_fail "No such device" "binding the seed $seed to $drv" \
			bind_ns "$seed" "$drv"
	done
done
check "the seeds stay unbound, no disk appeared" seeds_untouched "$btt" "$pfn" "$dax"
expect_fail "No such device" "unbinding the unbound btt seed $btt" unbind_from "$btt" rpmem

# 2 x 15
compare_with_nd_pmem "$nfit"
compare_with_nd_pmem "$e820"

# 9
check "rmmod rpmem" rmmod rpmem
check "insmod rpmem.ko nonexistent=1 succeeds, warns, ignores it" insmod_unknown_param
check "rmmod rpmem after that" rmmod rpmem
# raw_dax is a Rust module parameter (module! params). A value that is not
# a boolean fails parse_args(), so the load fails with EINVAL.
expect_fail "Invalid parameters" "insmod rpmem.ko raw_dax=banana" insmod "$RPMEM_KO" raw_dax=banana
check "not loaded, the log names the bad value" insmod_refused \
	"rpmem: \`banana' invalid for parameter \`raw_dax'" raw_dax=banana
# Unlike a C bool parameter, whose bare name means true, a Rust one needs a
# value in Linux 7.3 (its ops lack KERNEL_PARAM_OPS_FL_NOARG): EINVAL.
expect_fail "Invalid parameters" "insmod rpmem.ko raw_dax, without a value" \
	insmod "$RPMEM_KO" raw_dax
check "not loaded after that" insmod_refused "invalid for parameter \`raw_dax'" raw_dax
# A Rust parameter can be set once (module_param.rs: populate() or
# EEXIST), where a C one keeps the last value. parse_args() logs the valid
# second value as invalid and passes EEXIST on, which insmod reports as if
# rpmem were loaded already: "File exists".
expect_fail "File exists" "insmod rpmem.ko raw_dax=1 raw_dax=0" \
	insmod "$RPMEM_KO" raw_dax=1 raw_dax=0
check "not loaded after that, the log blames the second value" insmod_refused \
	"rpmem: \`0' invalid for parameter \`raw_dax'" raw_dax=1 raw_dax=0
ktap_finish

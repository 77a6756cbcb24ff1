#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Sector mode: rpmem serves namespaces that ndctl put in sector mode (a btt
# device), with the kernel's BTT on-media format, interchangeably with
# nd_btt, nd_pmem's BTT, which is the control throughout:
#
#  - both ways, for 4096- and 512-byte sectors (and 520 and 4104: with
#    integrity metadata, unused on this kernel), on the NFIT namespace and
#    on the memmap= region, and with BTT 2.0 (a second NVDIMM with v1.2
#    labels, claim class btt2: the BTT starts at the namespace's first
#    byte): what nd_btt wrote (data, then an ext4 with a file) rpmem reads
#    back, with the same capacity; what rpmem wrote nd_btt reads back, and
#    fsck finds the ext4 clean;
#  - a btt device configured by hand (528- and 4096-byte sectors) and
#    bound to rpmem first: rpmem lays the BTT out, nd_btt takes that
#    layout as it is (data written through rpmem reads back through
#    nd_btt: a layout of its own would read zeroes);
#  - fio verify on rpmem's sector disk; it counts its I/O and has no DAX,
#    as nd_btt's;
#  - hostile media, written through the raw namespace (force_raw): the
#    control first, the same raw round trip without damage, binds and
#    reads back; a damaged info block is restored from its backup, data
#    intact; info block and backup damaged, or a flog slot with sequence
#    number 7: rpmem refuses to bind and writes nothing; a map entry that
#    points past the arena: that sector reads as an error, its neighbours
#    do not; a write interrupted between its flog entry and its map entry
#    (made by hand) is finished at probe; a map entry's zero flag reads
#    zeroes, its error flag fails reads until the sector is written.
#
# Atomicity under power failure is rpmem_btt_powerfail's.

. "$(dirname "$0")/lib.sh"

A=/tmp/a B=/tmp/b	# 1 MiB of random data each
MNT=/tmp/btt

# DISK FILE BLOCK: FILE written at 4 KiB block BLOCK, O_DIRECT.
write_at() { dd if="$2" of="/dev/$1" bs=4k seek="$3" oflag=direct conv=notrunc status=none; }
# DISK FILE BLOCK: the disk holds FILE there.
same_at() { dd if="/dev/$1" bs=4k skip="$3" count=256 iflag=direct status=none | cmp -s - "$2"; }

# DEVICE DRIVER: DRIVER serves the btt device; prints its disk.
serve()
{
	rebind_ns "$1" "$2" || fail "$2 did not bind $1: $(dmesg | tail -n 3)" || return
	ns_disk "$1" || fail "$2 bound $1 but made no disk"
}

# Sectors of DISK.
size_of() { cat "/sys/block/$1/size"; }

# NAMESPACE LBS: data written through nd_btt reads back through rpmem with
# the same capacity, and the other way round; the disk's sectors hold 512
# or 4096 bytes of LBS (the rest is integrity metadata).
data_both_ways()
{
	local b pdisk rdisk data=$(($2 >= 4096 ? 4096 : 512))
	b=$(make_sector "$1" "$2") || return
	pdisk=$(ns_disk "$b") || fail "nd_pmem made no disk for $b" || return
	write_at "$pdisk" "$A" 16 || return
	rdisk=$(serve "$b" rpmem) || return
	[ "$rdisk" = "r$pdisk" ] || fail "disks $pdisk and $rdisk" || return
	[ "$(cat "/sys/block/$rdisk/queue/logical_block_size")" = $data ] ||
		fail "rpmem's sectors are not $data bytes" || return
	same_at "$rdisk" "$A" 16 || fail "rpmem reads other data than nd_btt wrote" || return
	write_at "$rdisk" "$B" 1000 || return
	serve "$b" nd_pmem >/dev/null || return
	local psize
	psize=$(size_of "$pdisk")
	same_at "$pdisk" "$B" 1000 || fail "nd_btt reads other data than rpmem wrote" || return
	same_at "$pdisk" "$A" 16 || fail "nd_btt lost its own data" || return
	serve "$b" rpmem >/dev/null || return
	[ "$(size_of "$rdisk")" = "$psize" ] ||
		fail "capacities differ: rpmem $(size_of "$rdisk"), nd_btt $psize sectors"
}

# DEVICE DRIVER FILE: an ext4 on the device's disk holds FILE, intact, and
# fsck finds it clean; then the driver adds FILE as file "by-DRIVER".
fs_check_and_add()
{
	local disk out
	disk=$(serve "$1" "$2") || return
	out=$(fsck.ext4 -fn "/dev/$disk" 2>&1) || fail "fsck.ext4 -fn through $2: $out" || return
	mkdir -p $MNT && mount "/dev/$disk" $MNT || return
	local f
	for f in $MNT/by-*; do
		[ -e "$f" ] || continue
		cmp -s "$f" "$3" || { umount $MNT; fail "$2 reads ${f##*/} wrong"; return; }
	done
	cp "$3" "$MNT/by-$2" && umount $MNT
}

# NAMESPACE: an ext4 made through nd_btt is clean through rpmem with the
# file nd_btt wrote, and back.
fs_both_ways()
{
	local b pdisk
	b=$(btt_of "$1") || return
	pdisk=$(serve "$b" nd_pmem) || return
	mkfs.ext4 -q -F "/dev/$pdisk" || return
	fs_check_and_add "$b" nd_pmem "$A" &&
		fs_check_and_add "$b" rpmem "$A" &&
		fs_check_and_add "$b" nd_pmem "$A" &&
		fs_check_and_add "$b" rpmem "$A"
}

# NAMESPACE: back to raw, with both copies of the first arena's info block
# gone (the namespace's first and last MiB zeroed).
make_raw()
{
	local out disk mib
	out=$(ndctl create-namespace -f -e "$1" -m raw 2>&1) ||
		fail "ndctl create-namespace -m raw: $out" || return
	disk=$(ns_disk "$1") || fail "no raw disk for $1" || return
	mib=$(($(size_of "$disk") / 2048))
	dd if=/dev/zero of="/dev/$disk" bs=1M count=1 oflag=direct status=none &&
		dd if=/dev/zero of="/dev/$disk" bs=1M seek=$((mib - 1)) count=1 \
			oflag=direct status=none && unbind_ns "$1"
}

# DEVICE NAMESPACE UUID LBS: configures the btt device by hand (what
# ndctl does before it binds a driver).
configure()
{
	echo "$3" >"$ND/devices/$1/uuid" && echo "$4" >"$ND/devices/$1/sector_size" &&
		echo "$2" >"$ND/devices/$1/namespace"
}

# NAMESPACE LBS: a fresh btt device bound to rpmem first gets rpmem's
# layout, which nd_btt then uses as it is.
fresh_layout()
{
	local region seed rdisk
	make_raw "$1" || return
	region=$(basename "$(readlink -f "$ND/devices/$1/..")")
	seed=$(cat "$ND/devices/$region/btt_seed")
	configure "$seed" "$1" "$(cat /proc/sys/kernel/random/uuid)" "$2" || return
	kmsg_mark btt-fresh
	rdisk=$(serve "$seed" rpmem) || return
	kmsg_since btt-fresh | grep -q 'new BTT layout' ||
		fail "rpmem did not lay out a new BTT: $(kmsg_since btt-fresh)" || return
	write_at "$rdisk" "$A" 64 || return
	local pdisk
	pdisk=$(serve "$seed" nd_pmem) || return
	! kmsg_since btt-fresh | grep -q 'No existing arenas' ||
		fail "nd_btt did not find rpmem's layout" || return
	same_at "$pdisk" "$A" 64 || fail "nd_btt reads other data than rpmem wrote"
}

# BTT 2.0: on the second, labelled NVDIMM (region REGION), labels of
# version 1.2 give its namespaces the claim class btt2, whose BTT starts at
# the namespace's first byte: data both ways, and rpmem says 2.0.
btt2_both_ways()
{
	local nmem ns out
	nmem=$(cut -d, -f1 "$ND/devices/$1/mapping0") || return
	ndctl disable-region "$1" >/dev/null && ndctl init-labels -f -V 1.2 "$nmem" >/dev/null &&
		ndctl enable-region "$1" >/dev/null || fail "cannot give $nmem v1.2 labels" || return
	out=$(ndctl create-namespace -r "$1" -m sector -l 4096 2>&1) ||
		fail "ndctl create-namespace -r $1: $out" || return
	ns=$(jq -r .dev <<<"$out") || return
	kmsg_mark
	data_both_ways "$ns" 4096 || return
	kmsg_since | grep -q 'sector mode (BTT 2\.0)' ||
		fail "rpmem did not serve BTT 2.0: $(kmsg_since | grep rpmem)"
}

# --- hostile media ----------------------------------------------------------

# Raw access to namespace NS under its btt device: the device lets go of
# it (and goes; the region's seed takes its place), and rpmem binds the
# namespace raw (force_raw: no personality is looked for). Prints the raw
# disk.
raw_open()
{
	local dev
	dev=$(btt_of "$NS") || fail "no btt device on $NS" || return
	unbind_ns "$dev" && echo >"$ND/devices/$dev/namespace" &&
		echo 1 >"$ND/devices/$NS/force_raw" || return
	serve "$NS" rpmem
}

# Back from raw access: the region's btt seed configured for NS as before
# (UUID BTT_UUID, 4096-byte sectors) and bound to rpmem; fails (quietly)
# if rpmem refuses it.
raw_close()
{
	local region seed
	unbind_ns "$NS" && echo 0 >"$ND/devices/$NS/force_raw" || return
	region=$(basename "$(readlink -f "$ND/devices/$NS/..")")
	seed=$(cat "$ND/devices/$region/btt_seed")
	configure "$seed" "$NS" "$BTT_UUID" 4096 || return
	bind_ns "$seed" rpmem 2>/dev/null && udev_settle "$seed"
}

# The disk rpmem serves NS's btt device with.
btt_disk() { ns_disk "$(btt_of "$NS")"; }

# RAW-DISK OFFSET: the little-endian 64-bit number there.
le64_at()
{
	od -An -tu8 -j "$2" -N 8 "/dev/$1" | tr -d ' '
}

# RAW-DISK OFFSET BYTES...: writes the bytes (as printf \\x escapes).
poke()
{
	local disk=$1 at=$2
	shift 2
	printf "$(printf '\\x%s' "$@")" |
		dd of="/dev/$disk" bs=1 seek="$at" conv=notrunc,fsync status=none
}

# Where things are: the first arena's info block (BTT version 1.1 starts
# 4 KiB into the namespace), its backup, its map and its flog.
INFO=4096
arena_layout()
{
	BACKUP=$((INFO + $(le64_at "$1" $((INFO + 112)))))
	MAP=$((INFO + $(le64_at "$1" $((INFO + 96)))))
	FLOG=$((INFO + $(le64_at "$1" $((INFO + 104)))))
	DATA=$((INFO + $(le64_at "$1" $((INFO + 88)))))
	BLOCK=$(le32_at "$1" $((INFO + 64)))
}

# RAW-DISK OFFSET: the little-endian 32-bit number there.
le32_at() { od -An -tu4 -j "$2" -N 4 "/dev/$1" | tr -d ' '; }

# N: its four little-endian bytes, as poke_specs wants them.
le32() { printf '%02x,%02x,%02x,%02x' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24)); }

# Map entry flags, set through the raw namespace: sector 30's zero flag
# (trimmed), sector 31's error flag (a read failed there). Sector 30 reads
# zeroes, sector 31 fails; writing sector 31 recovers it (the block behind
# the error goes to the free list, to be cleared before its next use).
map_flags()
{
	local raw disk m30 m31 b30 b31 zero=/tmp/zero4k
	raw=$(raw_open) || return
	m30=$(le32_at "$raw" $((MAP + 120))) m31=$(le32_at "$raw" $((MAP + 124)))
	b30=$(( m30 == 0 ? 30 : m30 & 0x3fffffff )) b31=$(( m31 == 0 ? 31 : m31 & 0x3fffffff ))
	poke_specs "$raw" "$((MAP + 120)):$(le32 $((b30 | 1 << 31)))" \
		"$((MAP + 124)):$(le32 $((b31 | 1 << 30)))" >/dev/null || return
	raw_close || fail "rpmem refused: $(dmesg | tail -n 2)" || return
	disk=$(btt_disk) || return
	head -c 4096 /dev/zero >$zero
	dd if="/dev/$disk" bs=4k skip=30 count=1 iflag=direct status=none | cmp -s - $zero ||
		fail "the trimmed sector does not read zeroes" || return
	! dd if="/dev/$disk" of=/dev/null bs=4k skip=31 count=1 iflag=direct status=none \
		2>/dev/null || fail "the error-flagged sector reads" || return
	write_at "$disk" <(head -c 4096 $B) 31 || fail "writing the error-flagged sector failed" || return
	dd if="/dev/$disk" bs=4k skip=31 count=1 iflag=direct status=none |
		cmp -s - <(head -c 4096 $B) || fail "the rewritten sector reads other data"
}

# A write the crash interrupted after its flog entry, before its map entry
# (made by hand: pattern B in flog lane 0's free block, a flog entry moving
# sector 20 there, the map unchanged): rpmem finishes it at probe, and
# sector 20 then reads B.
interrupted_write()
{
	local raw disk s0 s1 new old_map free seq sub block
	raw=$(raw_open) || return
	s0=$(le32_at "$raw" $((FLOG + 12))) s1=$(le32_at "$raw" $((FLOG + 28)))
	# The newer of slots 0 and 1 (the next sequence number after the
	# other, or the only one used).
	if [ "$s1" = 0 ] || [ "$s0" = $((s1 % 3 + 1)) ]; then new=0; else new=1; fi
	sub=$((1 - new))
	free=$(($(le32_at "$raw" $((FLOG + new * 16 + 4))) & 0x3fffffff))
	seq=$(($(le32_at "$raw" $((FLOG + new * 16 + 12))) % 3 + 1))
	old_map=$(le32_at "$raw" $((MAP + 80)))
	block=$(( old_map == 0 ? 20 : old_map & 0x3fffffff ))
	dd if=$B of="/dev/$raw" bs=4k count=1 seek=$(((DATA + free * BLOCK) / 4096)) \
		oflag=direct conv=notrunc status=none || return
	poke_specs "$raw" "$((FLOG + sub * 16)):$(le32 20),$(le32 "$block"),$(le32 "$free"),$(le32 "$seq")" \
		>/dev/null || return
	kmsg_mark
	raw_close || fail "rpmem refused: $(kmsg_since)" || return
	kmsg_since | grep -q 'finished 1 interrupted write' ||
		fail "no interrupted write finished: $(kmsg_since)" || return
	disk=$(btt_disk) || return
	dd if="/dev/$disk" bs=4k skip=20 count=1 iflag=direct status=none |
		cmp -s - <(head -c 4096 $B) || fail "sector 20 is not the interrupted write's data"
}

# What the namespace holds, for comparing before and after a refusal.
raw_sum() { md5sum <"/dev/$1"; }

# Control: the raw round trip itself, with no damage, binds and reads back.
raw_control()
{
	local raw disk
	raw=$(raw_open) || return
	arena_layout "$raw"
	[ "$BACKUP" -gt "$MAP" ] && [ "$MAP" -gt "$INFO" ] ||
		fail "implausible layout: backup $BACKUP, map $MAP" || return
	raw_close || fail "rpmem refused the undamaged BTT: $(dmesg | tail -n 2)" || return
	disk=$(btt_disk) && same_at "$disk" "$A" 64 ||
		fail "data differs after the round trip"
}

# A damaged info block (a byte of its UUID) is restored from its backup.
restore_info()
{
	local raw disk
	raw=$(raw_open) || return
	poke "$raw" $((INFO + 20)) ff || return
	kmsg_mark btt-restore
	raw_close || fail "rpmem refused: $(kmsg_since btt-restore)" || return
	kmsg_since btt-restore | grep -q 'restoring it from its backup' ||
		fail "no restore message in: $(kmsg_since btt-restore)" || return
	disk=$(btt_disk) && same_at "$disk" "$A" 64 || fail "data differs"
}

# RAW-DISK SPEC...: writes each SPEC, OFFSET:BYTE,BYTE,... (hex bytes);
# prints the SPECs that put back what was there.
poke_specs()
{
	local disk=$1 spec at bytes old
	shift
	for spec in "$@"; do
		at=${spec%%:*} bytes=${spec#*:}
		old=$(od -An -tx1 -v -j "$at" -N $(((${#bytes} + 1) / 3)) "/dev/$disk" | tr -s ' \n' ',')
		old=${old#,} old=${old%,}
		# shellcheck disable=SC2086 # one byte a word
		poke "$disk" "$at" ${bytes//,/ } || return
		echo "$at:$old"
	done
}

# MESSAGE SPEC...: with the SPECs written (see poke_specs), rpmem refuses
# the BTT with MESSAGE and the namespace is unchanged; put back, the BTT
# binds again.
refused()
{
	local msg=$1 raw saved before after
	shift
	raw=$(raw_open) || return
	saved=$(poke_specs "$raw" "$@") || return
	before=$(raw_sum "$raw")
	kmsg_mark btt-refused
	! raw_close || fail "rpmem bound the damaged BTT" || return
	kmsg_since btt-refused | grep -q "$msg" ||
		fail "no '$msg' in: $(kmsg_since btt-refused)" || return
	raw=$(raw_open) || return
	after=$(raw_sum "$raw")
	[ "$before" = "$after" ] || fail "the refused namespace was written" || return
	# shellcheck disable=SC2086 # one spec a word
	poke_specs "$raw" $saved >/dev/null && raw_close ||
		fail "the repaired BTT does not bind"
}

# A map entry (sector 10's) pointing past the arena: reading that sector
# fails, reading sectors 9 and 11 does not.
bad_map_entry()
{
	local raw disk saved
	raw=$(raw_open) || return
	saved=$(poke_specs "$raw" $((MAP + 40)):ff,ff,ff,cf) || return
	raw_close || fail "rpmem refused: $(dmesg | tail -n 2)" || return
	disk=$(btt_disk) || return
	dd if="/dev/$disk" of=/dev/null bs=4k skip=9 count=1 iflag=direct status=none ||
		fail "sector 9 fails" || return
	dd if="/dev/$disk" of=/dev/null bs=4k skip=11 count=1 iflag=direct status=none ||
		fail "sector 11 fails" || return
	! dd if="/dev/$disk" of=/dev/null bs=4k skip=10 count=1 iflag=direct status=none \
		2>/dev/null || fail "sector 10 reads" || return
	raw=$(raw_open) && poke_specs "$raw" "$saved" >/dev/null && raw_close ||
		fail "the repaired BTT does not bind"
}

ktap_plan 23
manual_binding
load_rpmem
load_nd_pmem
modprobe -d "$RPMEM_KDIR/modinst" nd_btt || die "no nd_btt module"
head -c 1M /dev/urandom >$A
head -c 1M /dev/urandom >$B
E820=$(namespace_of e820)
# The unlabelled NVDIMM's namespace (256 MiB), and the labelled one's region.
NFIT= LABELLED=
for ns in $(namespaces_of ACPI.NFIT); do
	[ "$(cat "$ND/devices/$ns/size")" = $((256 << 20)) ] && NFIT=$ns
done
for r in "$ND"/devices/region*; do
	[ "$(ns_provider "${r##*/}")" = ACPI.NFIT ] && [ ! -e "$r/$NFIT" ] && LABELLED=${r##*/}
done
[ -n "$NFIT" ] && [ -n "$LABELLED" ] || die "want an unlabelled 256 MiB NVDIMM and a labelled one"

for lbs in 4096 512; do
	check "NFIT, $lbs-byte sectors: data both ways between nd_btt and rpmem" \
		data_both_ways "$NFIT" "$lbs"
	check "NFIT, $lbs-byte sectors: an ext4 both ways, fsck clean" fs_both_ways "$NFIT"
done
# Sectors with integrity metadata: on a kernel without
# CONFIG_BLK_DEV_INTEGRITY nd_btt serves their data alone, leaving the
# metadata as it is, and so must rpmem (it refuses them where the kernel
# has integrity profiles: nd_btt would give the disk one).
check "this kernel has no CONFIG_BLK_DEV_INTEGRITY (for the metadata sizes)" \
	grep -qx '# CONFIG_BLK_DEV_INTEGRITY is not set' "$RPMEM_KDIR/.config"
for lbs in 520 4104; do
	check "NFIT, $lbs-byte sectors (with metadata): data both ways" \
		data_both_ways "$NFIT" "$lbs"
done
check "memmap region, 4096-byte sectors: data both ways" data_both_ways "$E820" 4096
check "memmap region: an ext4 both ways, fsck clean" fs_both_ways "$E820"
for lbs in 528 4096; do	# 4096 last: the checks below want it
	check "a btt device of $lbs-byte sectors bound to rpmem first: rpmem's layout, which nd_btt takes" \
		fresh_layout "$NFIT" $lbs
done
check "BTT 2.0 (v1.2 labels): data both ways" btt2_both_ways "$LABELLED"

NS=$NFIT
dev=$(btt_of "$NS") || die "no btt device on $NS"
BTT_UUID=$(cat "$ND/devices/$dev/uuid")
rdisk=$(serve "$dev" rpmem) || die "rpmem does not serve $dev"
check "fio verify on rpmem's sector disk" fio_verify_disk "/dev/$rdisk" 128M
check "rpmem's sector disk has no DAX, as nd_btt's" \
	test "$(cat "/sys/block/$rdisk/queue/dax")" = 0
# DISK: with iostats on (off by default for bio-based disks, as nd_btt's),
# the disk counts the I/O it serves.
counts_io()
{
	echo 1 >"/sys/block/$1/queue/iostats" || return
	counted_enough "$(counted_io "$1")"
}
check "rpmem's sector disk counts its I/O (queue/iostats on)" counts_io "$rdisk"
write_at "$rdisk" "$A" 64 || die "cannot write $rdisk"

check_here "control: raw access and back, no damage: binds, data intact" raw_control
check "a damaged info block: restored from its backup, data intact" restore_info
check "info block and backup damaged: refused, nothing written" \
	refused "fail their checksums" $((INFO + 20)):ff $((BACKUP + 20)):ff
check "a flog slot with sequence number 7: refused, nothing written" \
	refused "sequence number above 3" $((FLOG + 12)):07,00,00,00
check "a map entry past the arena: that sector fails, its neighbours read" bad_map_entry
check "a write interrupted between flog and map: finished at probe" interrupted_write
check "map flags: zero reads zeroes, error fails until rewritten" map_flags
after_all() { fio_verify_disk "/dev/$(btt_disk)" 64M; }
check "after all that, fio verify on rpmem's sector disk" after_all
ktap_finish

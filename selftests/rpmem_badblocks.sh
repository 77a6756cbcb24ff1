#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Hostile input to a disk's writable "badblocks" file, which takes
# "SECTOR LENGTH" lines and adds them to the disk's list of bad sectors
# (block/badblocks.c: the parsing and the list are the kernel's, the same
# for nd_pmem and rpmem; what a driver does with the list is its own). On
# the memmap= namespace, bound to nd_pmem and to rpmem in turn, with a
# fresh (empty) list for each input:
#
#  - zero length, negative numbers, one number, garbage, trailing garbage,
#    hexadecimal, lengths past an int, lines of more than a page: EINVAL,
#    the list stays empty; an empty write never reaches the kernel's
#    parser (0 bytes written);
#  - one range, with and without a newline, leading white space, a
#    leading zero (decimal), the last sector, a range at, across and far
#    past the end, 513 sectors (two entries: one holds at most 512),
#    overlapping and touching ranges (merged), sectors near and past
#    2^64: taken, the list exactly as asserted. Two of them show the
#    kernel's own limits: a sector past 2^64 is kept as 2^54 - 1, and
#    sector 2^54 as sector 0 (the list keeps 54 bits of a sector);
#  - the whole disk (262144 sectors: 512 entries, a full list), and more
#    (ENOSPC, the list full all the same). A full list is not read:
#    badblocks_show() then writes past its page and sysfs WARNs (7.3.4,
#    either driver), which would fail the run.
#
# nd_pmem's answer and list for each input are asserted, and rpmem's must
# be the same. Then, for each input that put bad sectors inside the disk,
# block I/O over them: O_DIRECT reads of each range's first and last
# sector fail with EIO, the sectors just outside it read; the ranges
# written with a pattern (clearing them, on this namespace, under
# nd_pmem; of the whole disk, its first and last 4 KiB); the list after
# that and the data read back: rpmem's story must be nd_pmem's, word for
# word.
#
# DAX (rpmem only: nd_pmem has no DAX on a raw namespace): ext4 -o dax,
# a 64 KiB file, sectors of its pages 3, 5 and 6 marked bad (one sector;
# two overlapping ranges across a page boundary): read() of those pages
# fails with EIO, their neighbours read; a MAP_SYNC mapping gets SIGBUS
# BUS_MCEERR_AR at a bad page (a good page: no SIGBUS, the control); a
# 512-byte write() into a bad page gets EFAULT (a recovery write takes
# whole pages only) and leaves it bad; a whole-page write() clears it;
# the filesystem checks clean.
#
# Controls: an input documented with another list than it makes fails
# its check; a good page of the DAX file maps without SIGBUS; the
# sectors next to each bad range read. The kernel log scan of
# tools/vm.sh fails the run on any oops or WARNING.

. "$(dirname "$0")/lib.sh"

IN=/tmp/bb-inputs
W=			# the sysfs_write helper
bb_writes=0		# disks that had I/O over bad sectors
PATTERN=$IN/pattern	# 1 MiB of random data, written over bad sectors

# The disk's badblocks file takes "SECTOR LENGTH" lines and adds them to
# its list of bad sectors (block/badblocks.c, the same for both drivers);
# a driver fails reads of bad sectors and clears them on writes. The
# inputs go to the memmap= namespace (C sectors), where writes clear bad
# sectors under nd_pmem. Each input: its description, its writes (printf
# formats, several separated by '|', one write(2) each), the answer to the
# last one (EINVAL, ENOSPC, or "" for taken whole), and the list after it
# ("full": more than a page, not read, see bb_list).
bb_desc=() bb_in=() bb_err=() bb_want=()
add_bb() { bb_desc+=("$1") bb_in+=("$2") bb_err+=("$3") bb_want+=("$4"); }

make_bb_inputs()	# C
{
	local c=$1 e54=18014398509481984
	add_bb "empty (0 bytes)" '' "" ""
	add_bb "zero length" '8 0' EINVAL ""
	add_bb "negative length" '8 -1' EINVAL ""
	add_bb "negative sector" '-8 8' EINVAL ""
	add_bb "one number" '8' EINVAL ""
	add_bb "garbage" 'x' EINVAL ""
	add_bb "trailing garbage" '8 8x' EINVAL ""
	add_bb "space before the newline" '8 8 \n' EINVAL ""
	add_bb "hexadecimal sector" '0x10 8' EINVAL ""
	add_bb "hexadecimal length" '8 0x8' EINVAL ""
	add_bb "length 2^31 (past int)" '0 2147483648' EINVAL ""
	add_bb "length 2^32" '0 4294967296' EINVAL ""
	add_bb "4 KiB+ of '1'" "$(printf '1%.0s' {1..5000})" EINVAL ""
	add_bb "'8 8' and 5000 spaces" "8 8$(printf ' %.0s' {1..5000})" EINVAL ""
	add_bb "'8 ' and a 5000-digit length" "8 $(printf '1%.0s' {1..5000})" EINVAL ""
	add_bb "one range" '8 8' "" "8 8"
	add_bb "one range, newline" '8 8\n' "" "8 8"
	add_bb "leading space" ' 8 8' "" "8 8"
	add_bb "tab, two newlines" '8\t8\n\n' "" "8 8"
	add_bb "leading zero: decimal" '010 8' "" "10 8"
	add_bb "the last sector" "$((c - 1)) 1" "" "$((c - 1)) 1"
	add_bb "at the end" "$c 8" "" "$c 8"
	add_bb "across the end" "$((c - 4)) 8" "" "$((c - 4)) 8"
	add_bb "far past the end" "$((c + 1000000)) 8" "" "$((c + 1000000)) 8"
	add_bb "513 sectors: two entries" '0 513' "" "0 512,512 1"
	add_bb "overlapping and touching ranges" '8 8|12 8|4 8|100 16|104 4' "" "4 16,100 16"
	add_bb "sector 2^54 - 1" "$((e54 - 1)) 8" "" "$((e54 - 1)) 8"
	add_bb "sector 2^64 - 1" '18446744073709551615 8' "" "$((e54 - 1)) 8"
	add_bb "sector 2^64 (past u64)" '18446744073709551616 8' "" "$((e54 - 1)) 8"
	add_bb "sector 2^54: kept as sector 0" "$e54 8" "" "0 8"
	add_bb "the whole disk: 512 entries, the list full" "0 $c" "" full
	add_bb "the whole disk and a sector: ENOSPC" "0 $((c + 1))" ENOSPC full
	add_bb "length 2^31 - 1: ENOSPC" '0 2147483647' ENOSPC full
}

bb_file() { echo "/sys/block/$1/badblocks"; }

# DISK: the list, one line, ranges separated by commas. A full list (512
# entries) is not read: badblocks_show() then writes past its page and
# sysfs WARNs (block/badblocks.c of 7.3, for either driver).
bb_list() { paste -sd, "$(bb_file "$1")"; }

# DISK I: input I written; prints the answer to each write.
bb_write()
{
	local d=$1 fmt out all=() IFS='|'
	for fmt in ${bb_in[$2]}; do
		# shellcheck disable=SC2059 # the format is the input
		printf -- "$fmt" >"$IN/bb"
		out=$("$W" "$(bb_file "$d")" <"$IN/bb" 2>&1) || out=${out##*: }
		all+=("$out")
	done
	[ ${#all[@]} -gt 0 ] || all=("$("$W" "$(bb_file "$d")" </dev/null 2>&1)")
	IFS=';'
	echo "${all[*]}"
}

# I: what input I must get: each write taken whole, the last one the
# error of bb_err, if any.
bb_answer()
{
	local fmt all=() n last IFS='|'
	for fmt in ${bb_in[$1]}; do
		# shellcheck disable=SC2059 # the format is the input
		n=$(printf -- "$fmt" | wc -c)
		all+=("wrote $n of $n")
	done
	[ ${#all[@]} -gt 0 ] || all=("wrote 0 of 0")
	last=$((${#all[@]} - 1))
	case ${bb_err[$1]} in
	EINVAL) all[last]="Invalid argument" ;;
	ENOSPC) all[last]="No space left on device" ;;
	esac
	IFS=';'
	echo "${all[*]}"
}

# NAMESPACE DRIVER I: a fresh binding (an empty list) gets input I: the
# answer and the list must be as documented. Then the I/O story of what
# it took (bb_io_story) goes to $IN/story.DRIVER.
bb_taken()
{
	local ns=$1 drv=$2 i=$3 d got want list=
	rm -f "$IN/story.$drv"
	rebind_ns "$ns" "$drv" && d=$(ns_disk "$ns") || fail "cannot bind $ns to $drv" || return
	[ -z "$(bb_list "$d")" ] || fail "$d: the list is not empty: $(bb_list "$d")" || return
	got=$(bb_write "$d" "$i")
	want=$(bb_answer "$i")
	[ "${bb_want[i]}" = full ] || list=$(bb_list "$d")
	bb_io_story "$d" "$i" >"$IN/story.$drv"
	[ "$got" = "$want" ] || fail "$d: got '$got', want '$want'" || return
	[ "${bb_want[i]}" = full ] || [ "$list" = "${bb_want[i]}" ] ||
		fail "$d: list '$list', want '${bb_want[i]}'"
}

# LIST C: the bad ranges of LIST ("S L,S L" or full) inside a disk of C
# sectors, merged where they touch, as "START END" lines (END exclusive).
bb_ranges()
{
	local list=$1 c=$2
	[ "$list" != full ] || list="0 $c"
	tr ',' '\n' <<<"$list" | awk -v c="$c" 'NF == 2 && $1 < c {
		e = $1 + $2; if (e > c) e = c; print $1, e }' | sort -n |
		awk 'NR > 1 && $1 <= e { if ($2 > e) e = $2; next }
		     NR > 1 { print s, e } { s = $1; e = $2 } END { if (NR) print s, e }'
}

# DISK SECTOR: an O_DIRECT read of the sector: "ok" or the error's text.
bb_read()
{
	local out
	out=$(dd if="/dev/$1" of=/dev/null bs=512 count=1 skip="$2" iflag=direct \
		status=none 2>&1) && echo ok || echo "${out##*: }"
}

# START END: the largest block size (1 MiB, 4 KiB, 512) both are multiples
# of, in sectors.
bb_bs()
{
	local b
	for b in 2048 8 1; do
		[ $(($1 % b)) -ne 0 ] || [ $(($2 % b)) -ne 0 ] || { echo $b; return; }
	done
}

# COUNT: COUNT sectors of the pattern (PATTERN repeated).
bb_pattern()
{
	local n=$(($1 * 512))
	while cat "$PATTERN"; do :; done 2>/dev/null | head -c $n
}

# DISK I: with input I in DISK's list, for each bad range inside the
# disk: reads of its first and last sector, and of the sectors just
# outside it; then the range is written with the pattern: the write's
# answer, the list after all the writes, and whether every range reads
# back what was written. One line, none without such a range. A full list
# (the whole disk) gets its first and last 4 KiB written, and stays full:
# not read.
bb_io_story()
{
	local d=$1 i=$2 c s e bs out reads=() wr=() back=same list
	c=$(blockdev --getsz "/dev/$d")
	while read -r s e; do
		reads+=("$s:$(bb_read "$d" "$s")" "$((e - 1)):$(bb_read "$d" $((e - 1)))")
		[ "$s" -eq 0 ] || reads+=("$((s - 1)):$(bb_read "$d" $((s - 1)))")
		[ "$e" -ge "$c" ] || reads+=("$e:$(bb_read "$d" "$e")")
	done < <(bb_ranges "${bb_want[i]}" "$c")
	[ ${#reads[@]} -gt 0 ] || return 0
	while read -r s e; do
		bs=$(bb_bs "$s" "$e")
		if out=$(bb_pattern $((e - s)) | dd of="/dev/$d" bs=$((bs * 512)) seek=$((s / bs)) \
			iflag=fullblock oflag=direct conv=nocreat,notrunc status=none 2>&1); then
			wr+=(ok)
		else
			wr+=("${out##*: }")
		fi
	done < <(bb_written "$i" "$c")
	while read -r s e; do
		bs=$(bb_bs "$s" "$e")
		cmp -s <(dd if="/dev/$d" bs=$((bs * 512)) skip=$((s / bs)) count=$(((e - s) / bs)) \
			iflag=direct status=none) <(bb_pattern $((e - s))) || back="differs at $s"
	done < <(bb_written "$i" "$c")
	if [ "${bb_want[i]}" = full ]; then
		list="full (not read)"
	else
		list=$(bb_list "$d")
	fi
	echo "reads ${reads[*]}; writes ${wr[*]}; list after: $list; read back: $back"
}

# I C: the ranges bb_io_story writes: the bad ranges, or the first and
# last 4 KiB of a full list.
bb_written()
{
	if [ "${bb_want[$1]}" = full ]; then
		printf '0 8\n%s %s\n' $(($2 - 8)) "$2"
	else
		bb_ranges "${bb_want[$1]}" "$2"
	fi
}

# STORY I C: nd_pmem's story of input I: each range's own sectors fail
# with EIO, those around them read, and the data written reads back.
bb_nd_story()
{
	local r s e want=() c=$3
	while read -r s e; do
		want+=("$s:Input/output error" "$((e - 1)):Input/output error")
		[ "$s" -eq 0 ] || want+=("$((s - 1)):ok")
		[ "$e" -ge "$c" ] || want+=("$e:ok")
	done < <(bb_ranges "${bb_want[$2]}" "$c")
	r=${1%%;*}
	[ "$r" = "reads ${want[*]}" ] || fail "reads: '$r', want 'reads ${want[*]}'" || return
	[[ $1 == *"; read back: same" ]] || fail "$1"
}

# --- bad sectors under DAX (rpmem: nd_pmem has no DAX on a raw namespace)

MNT=/tmp/bbdax
H=	# the dax_mmap helper
fs=	# the first sector of the file's data

# A 64 KiB file on ext4 -o dax on DISK, in one extent starting at sector fs.
bb_dax_file()
{
	local d=$1 ext
	mkdir -p "$MNT" && mkfs_dax ext4 "/dev/$d" && mount -o dax "/dev/$d" "$MNT" || return
	head -c 64K /dev/urandom >"$IN/f" && cp "$IN/f" "$MNT/f" && sync || return
	dax_file "$MNT/f" || return
	ext=$(xfs_io -r -c fiemap "$MNT/f" | awk '$1 == "0:" { print $2, $3 }')
	[[ $ext =~ ^\[0\.\.127\]:\ ([0-9]+)\.\.([0-9]+)$ ]] ||
		fail "want one extent of 128 sectors, fiemap says: $ext" || return
	fs=${BASH_REMATCH[1]}
}

# Sectors of the file's pages 3 (one sector), 5 and 6 (two overlapping
# ranges across the page boundary) marked bad through the disk's file.
bb_dax_mark()
{
	local d=$1 f want
	f=$(bb_file "$d")
	echo "$((fs + 27)) 1" >"$f" && echo "$((fs + 46)) 4" >"$f" && echo "$((fs + 48)) 4" >"$f" ||
		return
	want="$((fs + 27)) 1,$((fs + 46)) 6"
	[ "$(bb_list "$d")" = "$want" ] || fail "list: $(bb_list "$d"), want $want"
}

# PAGE: read() of the file's page PAGE: "ok" if it reads back what was
# written, else the error's text.
bb_dax_read()
{
	local out
	out=$(dd if="$MNT/f" bs=4k skip="$1" count=1 status=none 2>&1 >/tmp/page) ||
		{ echo "${out##*: }"; return; }
	cmp -s /tmp/page <(dd if="$IN/f" bs=4k skip="$1" count=1 status=none) && echo ok ||
		echo differs
}

bb_dax_reads()
{
	local p got=
	for p in 2 3 4 5 6 7; do got+=" $p:$(bb_dax_read $p)"; done
	[ "$got" = " 2:ok 3:Input/output error 4:ok 5:Input/output error 6:Input/output error 7:ok" ] ||
		fail "read() of pages:$got"
}

# PAGE: a MAP_SYNC mapping of the file gets SIGBUS BUS_MCEERR_AR at PAGE.
bb_dax_sigbus()
{
	"$H" touch "$MNT/f" $(($1 << 12)) >/tmp/touch.out 2>&1
	sigbus_covers /tmp/touch.out BUS_MCEERR_AR $(($1 << 12))
}

bb_dax_no_sigbus()
{
	local out
	out=$("$H" touch "$MNT/f" $(($1 << 12)) 2>&1) && fail "$out" && return 1
	[ "$out" = "no SIGBUS" ] || fail "$out"
}

# A write() of 512 bytes into bad page 5 is refused with EFAULT (a
# recovery write takes whole pages only): the list stays.
bb_dax_part_write()
{
	local d=$1 out want="$((fs + 46)) 6"
	out=$(dd if=/dev/zero of="$MNT/f" bs=512 seek=41 count=1 conv=notrunc status=none 2>&1) &&
		fail "the write worked" && return 1
	[ "${out##*: }" = "Bad address" ] || fail "$out" || return
	[ "$(bb_list "$d")" = "$((fs + 27)) 1,$want" ] || fail "list: $(bb_list "$d")"
}

# A whole-page write() over bad page 3 clears it (a recovery write): the
# list loses it, the page reads the new data.
bb_dax_page_write()
{
	local d=$1
	dd if="$IN/f" of="$MNT/f" bs=4k skip=8 seek=3 count=1 conv=notrunc status=none || return
	dd if="$IN/f" of="$IN/f" bs=4k skip=8 seek=3 count=1 conv=notrunc status=none || return
	[ "$(bb_list "$d")" = "$((fs + 46)) 6" ] || fail "list: $(bb_list "$d")" || return
	[ "$(bb_dax_read 3)" = ok ] || fail "page 3: $(bb_dax_read 3)" || return
	bb_dax_sigbus 5 && bb_dax_no_sigbus 3
}

ns=$(namespace_of e820)
bb_c=$(($(cat "$ND/devices/$ns/size") / 512))
make_bb_inputs "$bb_c"
n_bb=${#bb_desc[@]} n_bb_io=0
for ((i = 0; i < n_bb; i++)); do
	[ -z "$(bb_ranges "${bb_want[i]}" "$bb_c")" ] || n_bb_io=$((n_bb_io + 1))
done
# 2 per input, 2 more per input with bad sectors inside the disk, 1
# control, 9 DAX.
ktap_plan $((2 * n_bb + 2 * n_bb_io + 1 + 9))
mkdir -p "$IN"
W=$(build_helper sysfs_write) || die "no sysfs_write helper"
H=$(build_helper dax_mmap) || die "no dax_mmap helper"
head -c 1M /dev/urandom >"$PATTERN"
manual_binding
load_rpmem || die "cannot load rpmem"
load_nd_pmem || die "cannot load nd_pmem"

echo "# ${#bb_desc[@]} inputs on $ns ($bb_c sectors), nd_pmem and rpmem"
for ((i = 0; i < ${#bb_desc[@]}; i++)); do
	case ${bb_err[i]} in
	EINVAL) what="Invalid argument" ;;
	ENOSPC) what="No space left on device" ;;
	*) what="taken" ;;
	esac
	list=${bb_want[i]:-empty}
	[ "$list" != full ] || list="full (not read)"
	for drv in nd_pmem rpmem; do
		check "$drv badblocks: ${bb_desc[i]}: $what, list $list" bb_taken "$ns" "$drv" "$i"
	done
	[ -n "$(bb_ranges "${bb_want[i]}" "$bb_c")" ] || continue
	nd_story=$(cat "$IN/story.nd_pmem" 2>/dev/null)
	check "nd_pmem badblocks: ${bb_desc[i]}: bad sectors EIO, neighbours read, writes land" \
		bb_nd_story "$nd_story" "$i" "$bb_c"
	check "rpmem badblocks: ${bb_desc[i]}: as nd_pmem: $nd_story" \
		same_as_nd_pmem "$(cat "$IN/story.rpmem" 2>/dev/null)" "$nd_story"
	bb_writes=$((bb_writes + 2))
done
add_bb "control: '8 8' documented as taking 8 9" '8 8' "" "8 9"
check "control: a list other than the one documented fails the check" \
	eval "! bb_taken $ns rpmem $n_bb"
rebind_ns "$ns" rpmem && bd=$(ns_disk "$ns") || die "cannot bind $ns to rpmem"
check_here "rpmem $bd: ext4 -o dax, a 64 KiB file in one extent" bb_dax_file "$bd" ||
	die "no file for the DAX checks"
check "rpmem $bd: the file's pages 3, 5, 6 marked bad (one sector; two overlapping ranges)" \
	bb_dax_mark "$bd"
check "read() of pages 3, 5, 6: EIO; pages 2, 4, 7 read back" bb_dax_reads
check "MAP_SYNC mapping, page 3: SIGBUS BUS_MCEERR_AR at the page" bb_dax_sigbus 3
check "MAP_SYNC mapping, page 6: SIGBUS BUS_MCEERR_AR at the page" bb_dax_sigbus 6
check "control: MAP_SYNC mapping, page 4: no SIGBUS" bb_dax_no_sigbus 4
check "a 512-byte write() into page 5: Bad address (whole pages only), still bad" \
	bb_dax_part_write "$bd"
check "a whole-page write() over page 3 clears it: reads back, no SIGBUS; page 5 still bad" \
	bb_dax_page_write "$bd"
check "umount, e2fsck clean" eval 'umount "$MNT" && e2fsck -fn "/dev/$bd"'
rebind_ns "$ns" rpmem || die "cannot bind $ns to rpmem again"
echo "# $n_bb badblocks inputs to each driver, I/O over bad sectors $bb_writes times"
ktap_finish

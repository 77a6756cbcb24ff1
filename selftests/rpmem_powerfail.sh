#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Power failure, again and again: RPMEM_POWERFAIL_CYCLES (default 50) times,
# a VM writes self-checking records (selftests/powerfail.c) through rpmem to
# four NVDIMMs at once and reports each record it saw acknowledged in an ack
# log on the host (the 9p run directory: a write there is in the host's file
# when it returns); the host kills QEMU with SIGKILL at a random moment
# (0.2-2 s after every workload acknowledged its first record). The next
# boot, on the same backing files, checks the previous cycle before it
# starts the next one:
#
#  - raw: a raw namespace, 4 KiB O_DIRECT records, alternately written
#    with RWF_DSYNC (FUA) and with write + fsync (PREFLUSH);
#  - ext4 -o dax: 256-byte appends, each followed by fsync;
#  - xfs -o dax: 256-byte records stored through a MAP_SYNC mapping of a
#    sparse file (each store's page fault allocates blocks), each written
#    back with clwb + sfence;
#
# every acknowledged record must be at its place with a valid checksum and
# the right identity; each filesystem must then pass fsck.ext4 -fn or
# xfs_repair -n. Both have a dirty journal after the kill and a read-only
# check cannot replay it (xfs_repair -n refuses a dirty log, e2fsck -n
# skips the replay and checks stale metadata): the check mounts the
# filesystem (the kernel replays its journal), reads the records, unmounts,
# and then runs the read-only fsck, with DAX on. Every boot after a kill
# writing and acknowledging new records shows the device still works.
# A kernel problem logged before a kill fails the test (tools/vm.sh
# --pidfile). It prints "N power-fail cycles, N records acknowledged, N
# lost" per target.
#
# Controls: a fourth NVDIMM holds ext4 mounted with commit=60, whose
# workload acknowledges each append before any fsync: the check must find
# lost records there. On the last boot, an acknowledgement forged for a
# record never written must be counted as lost on each target, and ext4's
# fsck must fail on a filesystem whose root inode was cleared.
#
# TCG emulates no CPU caches: a missing clwb or a missing flush in the
# driver cannot lose data here; this tests ordering and acknowledgement.

. "$(dirname "$0")/lib.sh"

CYCLES=${RPMEM_POWERFAIL_CYCLES:-50}
# NVDIMM sizes in MiB, which tell the namespaces apart in the guest; XFS
# needs 300 MiB at least.
declare -A SIZE=([raw]=64 [ext4]=128 [xfs]=512 [ctl]=96)
MNT=/tmp/pf

# --- the guest ---------------------------------------------------------------

# DEV[NAME]: the disk of each namespace, told apart by size (one pass: every
# program started costs tens of milliseconds under TCG).
find_disks()
{
	local ns size name
	for ns in "$ND"/devices/namespace*; do
		read -r size <"$ns/size"
		for name in "${!SIZE[@]}"; do
			[ "$size" = $((SIZE[$name] << 20)) ] || continue
			DEV[$name]=/dev/$(ns_disk "${ns##*/}") || return
		done
	done
	for name in "${!SIZE[@]}"; do
		[ -b "${DEV[$name]:-}" ] || fail "no disk for $name (${SIZE[$name]} MiB)" || return
	done
}

# NAME: ext4 or xfs made on the first boot; where a cycle's file goes.
fs_of() { case $1 in xfs) echo xfs ;; *) echo ext4 ;; esac; }

# NAME DEV: mount NAME's filesystem with DAX (the control: commit=60).
fs_mount()
{
	local opts=dax
	[ "$1" != ctl ] || opts+=,commit=60
	mkdir -p "$MNT/$1" && mount -o "$opts" "$2" "$MNT/$1" &&
		[[ ,$(findmnt -no OPTIONS "$MNT/$1"), == *,dax=always,* ]] ||
		fail "$1: no DAX mount"
}

# NAME DEV: the read-only fsck, on the unmounted, replayed filesystem.
fs_check()
{
	case $(fs_of "$1") in
	ext4) fsck.ext4 -fn "$2" ;;
	xfs) xfs_repair -n "$2" ;;
	esac
}

# The previous cycle PREV of every target (NAME:TARGET-IN-THE-HELPER),
# verdicts into $RPMEM_OUT/verdict: "NAME ACKED LOST" and "fsck NAME STATUS".
guest_check()	# PREV ACKDIR
{
	local prev=$1 acks=$2 name t dev st
	for name in raw ext4 xfs ctl; do
		t=$name
		[ $name != ctl ] || t=ext4-nosync
		dev=${DEV[$name]}
		if [ $name = raw ]; then
			"$H" check $t "$prev" "$dev" "$acks/acks.$name" || return
			continue
		fi
		fs_mount $name "$dev" || return
		"$H" check $t "$prev" "$MNT/$name/c$prev" "$acks/acks.$name" || return
		umount "$MNT/$name" || return
		st=0
		fs_check $name "$dev" >"$RPMEM_OUT/fsck.$name" 2>&1 || st=$?
		echo "fsck $name $st"
	done >"$RPMEM_OUT/verdict"
}

# The controls, on the last boot: forged acks, a damaged filesystem.
guest_controls()	# PREV
{
	local name t forged=/tmp/forged st
	# Record 10000: inside the raw disk and the XFS file, which the
	# checker must read and reject; past the end of the ext4 file.
	for name in raw ext4 xfs; do
		echo "$name $1 10000" >$forged
		if [ $name = raw ]; then
			"$H" check $name "$1" "${DEV[$name]}" $forged || return
			continue
		fi
		fs_mount $name "${DEV[$name]}" || return
		"$H" check $name "$1" "$MNT/$name/c$1" $forged || return
		umount "$MNT/$name" || return
	done | sed -n 's/^\([a-z0-9]*\) 1 1$/forged \1 detected/p'
	# lost+found's inode cleared: its directory entry points nowhere.
	debugfs -w -R 'clri <11>' "${DEV[ctl]}" >/dev/null 2>&1 || return
	st=0
	fsck.ext4 -fn "${DEV[ctl]}" >/dev/null 2>&1 || st=$?
	echo "fsck damaged $st"
}

# Cycle CYCLE: check cycle PREV (the last whose workloads ran; its acks in
# WORK/PREV), then, unless this is the last boot, start cycle CYCLE and wait
# for the kill.
guest()	# CYCLE PREV WORK LAST
{
	local c=$1 prev=$2 name t
	declare -gA DEV
	H=$3/bin/powerfail
	load_rpmem || die "rpmem does not load"
	find_disks || die "the NVDIMMs' disks are not all there"
	if [ "$prev" -eq 0 ]; then
		for name in ext4 xfs ctl; do
			mkfs_dax "$(fs_of $name)" "${DEV[$name]}" || die "mkfs $name"
		done
	else
		guest_check "$prev" "$3/$prev" || die "checking cycle $prev failed"
	fi
	if [ "${4:-}" = last ]; then
		guest_controls "$prev" >"$RPMEM_OUT/controls" || die "controls failed"
		return 0
	fi
	for name in ext4 xfs ctl; do
		fs_mount $name "${DEV[$name]}" || die "mount $name"
		rm -f "$MNT/$name"/c*
	done
	for name in raw ext4 xfs ctl; do
		t=$name
		[ $name != ctl ] || t=ext4-nosync
		if [ $name = raw ]; then
			"$H" write $t "$c" "${DEV[$name]}" "$RPMEM_OUT/acks.$name" &
		else
			"$H" write $t "$c" "$MNT/$name/c$c" "$RPMEM_OUT/acks.$name" &
		fi 2>"$RPMEM_OUT/error.$name"
	done
	await_kill "$RPMEM_OUT"/acks.{raw,ext4,xfs,ctl}
}

if [ "${1:-}" = guest ]; then
	shift
	guest "$@"
	exit
fi

# --- the host ------------------------------------------------------------------

mkdir -p "${RPMEM_CACHE:=$HOME/.cache/rpmem}/runs"
work=$(mktemp -d "$RPMEM_CACHE/runs/powerfail.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
declare -A acked lost fsck_bad
for name in raw ext4 xfs ctl; do acked[$name]=0 lost[$name]=0 fsck_bad[$name]=0; done
boots_bad=0

# N [LAST]: boot N; cycle N's run directory is $work/N.
boot()
{
	local n=$1 dir=$work/$1 args=() name
	for name in raw ext4 xfs ctl; do
		args+=(--nvdimm "${SIZE[$name]}M,file=$work/$name.img")
	done
	# vm.sh's messages (and bash's "Killed") are shown only on failure.
	"$RPMEM_TOP/tools/vm.sh" --quiet --out "$dir" --pidfile "$dir/qemu.pid" \
		"${args[@]}" -- "$RPMEM_TOP/selftests/rpmem_powerfail.sh guest $n $prev $work ${2:-}" \
		2>"$work/vm$n.log"
}

# N: add up boot N's verdict on cycle $prev; print what went wrong.
tally()
{
	local v=$work/$1/verdict a b c rest
	[ "$(grep -cE '^(raw|ext4|xfs|ext4-nosync) [0-9]+ [0-9]+$' "$v" 2>/dev/null)" = 4 ] &&
		[ "$(grep -cE '^fsck (ext4|xfs|ctl) [0-9]+$' "$v")" = 3 ] ||
		{ show_boot "$1" "no complete verdict"; return 1; }
	while read -r a b c rest; do
		case $a in
		fsck)
			[ "$c" = 0 ] && continue
			fsck_bad[$b]=$((fsck_bad[$b] + 1))
			echo "# cycle $prev: $b: fsck status $c"
			tail -n 20 "$work/$1/fsck.$b" | sed 's/^/#   /' ;;
		lost) [ "$b" = ext4-nosync ] || echo "# $a $b $c $rest" ;;
		*)
			[ "$a" != ext4-nosync ] || a=ctl
			acked[$a]=$((acked[$a] + b)) lost[$a]=$((lost[$a] + c)) ;;
		esac
	done <"$v"
	cat "$work/$1/error."* 2>/dev/null | sed 's/^/# workload: /'
}

ktap_plan 7
[ -x "$(build_helper powerfail "$work/bin")" ] || die "cannot build selftests/powerfail.c"
[[ $CYCLES =~ ^[1-9][0-9]*$ ]] || die "RPMEM_POWERFAIL_CYCLES=$CYCLES is not a number of cycles"
powerfail_loop "$CYCLES"
last=$((CYCLES + 1))
if [ $boots_bad -eq 0 ]; then
	ktap_result ok "$CYCLES power-fail cycles: each boot killed while writing, clean kernel logs"
else
	ktap_result fail "$CYCLES power-fail cycles: $boots_bad boots went wrong"
fi
for name in raw ext4 xfs; do
	echo "# $name: $CYCLES power-fail cycles, ${acked[$name]} records acknowledged, ${lost[$name]} lost"
	if [ "${acked[$name]}" -gt 0 ] && [ "${lost[$name]}" -eq 0 ] && [ $boots_bad -eq 0 ]; then
		r=ok
	else
		r=fail
	fi
	if [ $name != raw ]; then
		[ "${fsck_bad[$name]}" -eq 0 ] || r=fail
		ktap_result $r "$name -o dax: no acknowledged record lost, fsck clean (${fsck_bad[$name]} failures)"
	else
		ktap_result $r "raw disk: no acknowledged record lost"
	fi
done
echo "# control ext4 commit=60, ack before fsync: $CYCLES power-fail cycles, ${acked[ctl]} records acknowledged, ${lost[ctl]} lost"
[ "${lost[ctl]}" -gt 0 ] && [ "${fsck_bad[ctl]}" -eq 0 ] && r=ok || r=fail
ktap_result $r "control: records acknowledged before fsync are lost (fsck clean: ${fsck_bad[ctl]} failures)"
r=ok
for name in raw ext4 xfs; do
	grep -qx "forged $name detected" "$work/$last/controls" 2>/dev/null || r=fail
done
ktap_result $r "control: a forged acknowledgement is counted lost on each target"
# e2fsck's status 4: errors found, left uncorrected.
grep -qx 'fsck damaged 4' "$work/$last/controls" 2>/dev/null && r=ok || r=fail
ktap_result $r "control: fsck.ext4 -fn finds a cleared inode"
ktap_finish

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A host crash under virtio-pmem. The device's persistence is the host's:
# QEMU maps the backing file shared, so every guest store is in the host's
# page cache at once and a SIGKILL of QEMU loses nothing; the guest's flush
# is a request that QEMU answers after an fsync of the file, and only what
# that fsync wrote back survives a crash of the host. tools/vm.sh
# --host-crash runs QEMU with tools/model/hostcrash.c preloaded, which
# keeps each backing file as of its last fsync (copied before the fsync
# starts, in place before the guest hears the answer); the host checks
# that copy, the host-crash image, as the host would find the file after
# a crash, and the next boot runs on it.
#
# RPMEM_VIRTIO_CRASH_CYCLES (default 3) boots for each driver, rpmem and
# then nd_pmem, each with two virtio-pmem devices and killed with SIGKILL
# at a random moment (0.2-2.2 s after both workloads acknowledged a record):
#
#  - raw: selftests/powerfail.c writes 4 KiB records O_DIRECT to the first
#    device's disk, alternately with RWF_DSYNC (FUA) and write + fsync
#    (PREFLUSH), and reports each acknowledged one: every acknowledged
#    record must be whole in the host-crash image;
#  - the shim must have seen at least one fsync of that file per
#    acknowledged record (each is acknowledged after its own flush): QEMU's
#    flushes do go through the wrapped call;
#  - control, on the second device: 4 records written with a flush each,
#    then records written O_DIRECT with no flush at all (raw-nosync) and
#    acknowledged: those must all be in the live file (what a SIGKILL
#    alone keeps) and lost in the host-crash image, which must hold the 4
#    flushed ones of the same boot: the image is the file as of its last
#    fsync, not a stale copy; and the shim's count of fsyncs of that file
#    must stay below its records acknowledged, so that the count above
#    can fail.
#
# Prints per driver the cycles, records acknowledged and lost, the host's
# fsyncs, and the control's records. About 3 minutes.

. "$(dirname "$0")/lib.sh"

CYCLES=${RPMEM_VIRTIO_CRASH_CYCLES:-3}
DRIVERS=(rpmem nd_pmem)
# Device sizes in MiB, which tell them apart in the guest: the acknowledged
# workload's and the control's. Small, since each fsync copies the file.
RAW_MIB=16 CTL_MIB=8
SYNCED=4	# records written with a flush each on the control's device

# --- the guest ---------------------------------------------------------------

# CYCLE DRIVER WORK: bind both devices to DRIVER, start the workloads,
# wait for the kill.
guest()
{
	local c=$1 drv=$2 h=$3/bin/powerfail ns size raw= ctl=
	manual_binding
	load_driver "$drv" || die "$drv does not load"
	for ns in $(namespaces_of virtio-pmem); do
		read -r size <"$ND/devices/$ns/size"
		case $size in
		$((RAW_MIB << 20))) raw=$(dax_attach "$ns" "$drv") || die "no $drv disk: $raw" ;;
		$((CTL_MIB << 20))) ctl=$(dax_attach "$ns" "$drv") || die "no $drv disk: $ctl" ;;
		esac
	done
	[ -n "$raw" ] && [ -n "$ctl" ] ||
		die "want virtio-pmem namespaces of $RAW_MIB and $CTL_MIB MiB"
	"$h" write raw "$c" "$raw" "$RPMEM_OUT/acks.raw" 2>"$RPMEM_OUT/error.raw" &
	{
		POWERFAIL_RECORDS=$SYNCED "$h" write raw "$c" "$ctl" "$RPMEM_OUT/acks.synced" &&
			POWERFAIL_FIRST=$SYNCED "$h" write raw-nosync "$c" "$ctl" \
				"$RPMEM_OUT/acks.nosync"
	} 2>"$RPMEM_OUT/error.ctl" &
	await_kill "$RPMEM_OUT"/acks.{raw,nosync}
}

if [ "${1:-}" = guest ]; then
	shift
	guest "$@"
	exit
fi

# --- the host ------------------------------------------------------------------

mkdir -p "${RPMEM_CACHE:=$HOME/.cache/rpmem}/runs"
work=$(mktemp -d "$RPMEM_CACHE/runs/virtio-crash.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
declare -A T	# tallies, by driver/what

# N: boot N on the current backing files, its driver $drv; kill_cycle
# (lib.sh) kills it.
boot()
{
	"$RPMEM_TOP/tools/vm.sh" --quiet --out "$work/$1" --pidfile "$work/$1/qemu.pid" \
		--host-crash "$work/$1/crash" \
		--virtio-pmem "${RAW_MIB}M,file=$work/raw.img" \
		--virtio-pmem "${CTL_MIB}M,file=$work/ctl.img" \
		-- "$RPMEM_TOP/selftests/rpmem_virtio_crash.sh guest $1 $drv $work" \
		2>"$work/vm$1.log"
}

# TARGET N FILE ACKS: "ACKED LOST" of boot N's records of TARGET in FILE;
# the lost ones are shown.
verdict()
{
	local out
	out=$("$H" check "$1" "$2" "$3" "$4") || { echo "# $1: $out" >&2; return 1; }
	grep '^lost ' <<<"$out" | sed "s|^|# ${3##*/}: |" >&2
	awk -v t="$1" '$1 == t { print $2, $3 }' <<<"$out"
}

# KEY ACKED LOST: add to T[$drv/KEY.acked] and T[$drv/KEY.lost].
add()
{
	T[$drv/$1.acked]=$((${T[$drv/$1.acked]:-0} + $2))
	T[$drv/$1.lost]=$((${T[$drv/$1.lost]:-0} + $3))
}

# N: boot N's host-crash images (crash/synced-0.img: the raw workload's
# device, -1: the control's) and live files against its acknowledgements;
# then the next boot starts from the images, as after a host crash.
tally()
{
	local n=$1 d=$work/$1 a l syncs ctl_syncs
	read -r a l < <(verdict raw "$n" "$d/crash/synced-0.img" "$d/acks.raw") &&
		[ -n "$a" ] || return
	add raw "$a" "$l"
	syncs=$(grep -c '^0 [a-z]* 0 ' "$d/crash/hostcrash.log")
	echo "# boot $n ($drv): $a records acknowledged, $l lost, $syncs host fsyncs of the file"
	T[$drv/syncs]=$((${T[$drv/syncs]:-0} + syncs))
	[ "$syncs" -ge "$a" ] || T[$drv/few_syncs]=1
	read -r a l < <(verdict raw "$n" "$d/crash/synced-1.img" "$d/acks.synced") &&
		[ -n "$a" ] || return
	add synced "$a" "$l"
	# Lost, as they should be: not shown.
	read -r a l < <(verdict raw-nosync "$n" "$d/crash/synced-1.img" "$d/acks.nosync" \
		2>/dev/null) && [ -n "$a" ] || return
	add nosync "$a" "$l"
	ctl_syncs=$(grep -c '^1 [a-z]* 0 ' "$d/crash/hostcrash.log")
	T[$drv/ctl_syncs]=$((${T[$drv/ctl_syncs]:-0} + ctl_syncs))
	[ "$ctl_syncs" -lt $((SYNCED + a)) ] || T[$drv/ctl_many_syncs]=1
	read -r a l < <(verdict raw-nosync "$n" "$work/ctl.img" "$d/acks.nosync") &&
		[ -n "$a" ] || return
	add live "$a" "$l"
	cp --sparse=always "$d/crash/synced-0.img" "$work/raw.img" &&
		cp --sparse=always "$d/crash/synced-1.img" "$work/ctl.img"
}

# RESULT DESCRIPTION: ok if RESULT is 0, for this driver's boots.
result()
{
	local r=fail
	[ "$1" != 0 ] || [ "${T[$drv/bad]}" != 0 ] || r=ok
	ktap_result $r "$drv: $2"
}

ktap_plan $((7 * ${#DRIVERS[@]}))
H=$(build_helper powerfail "$work/bin") || die "cannot build selftests/powerfail.c"
[[ $CYCLES =~ ^[1-9][0-9]*$ ]] || die "RPMEM_VIRTIO_CRASH_CYCLES=$CYCLES is not a number of cycles"
n=0
for drv in "${DRIVERS[@]}"; do
	T[$drv/bad]=0 start=$SECONDS
	for ((i = 0; i < CYCLES; i++)); do
		n=$((n + 1))
		if ! kill_cycle $n; then
			T[$drv/bad]=$((T[$drv/bad] + 1))
		elif ! tally $n; then
			T[$drv/bad]=$((T[$drv/bad] + 1))
			show_boot $n "no complete verdict"
		fi
	done
	echo "# $drv: $CYCLES host crashes in $((SECONDS - start)) s," \
		"${T[$drv/raw.acked]:-0} records acknowledged, ${T[$drv/raw.lost]:-0} lost," \
		"${T[$drv/syncs]:-0} host fsyncs"
	echo "# $drv: control: ${T[$drv/nosync.acked]:-0} records acknowledged without a flush," \
		"${T[$drv/live.lost]:-0} lost in the live file, ${T[$drv/nosync.lost]:-0} in the" \
		"host-crash image; ${T[$drv/synced.acked]:-0} flushed ones before them," \
		"${T[$drv/synced.lost]:-0} lost; ${T[$drv/ctl_syncs]:-0} host fsyncs of the file"
	result 0 "$CYCLES boots killed while writing, clean kernel logs, every image checked"
	result $((${T[$drv/raw.acked]:-0} == 0 || ${T[$drv/raw.lost]:-0} > 0)) \
		"raw (RWF_DSYNC, write + fsync): no acknowledged record lost in the host-crash image"
	result "${T[$drv/few_syncs]:-0}" \
		"the host fsynced the file at least once per acknowledged record"
	result $((${T[$drv/synced.acked]:-0} != CYCLES * SYNCED || ${T[$drv/synced.lost]:-0} > 0)) \
		"control: the $SYNCED records flushed before it are in the host-crash image"
	result $((${T[$drv/nosync.acked]:-0} == 0 || ${T[$drv/live.lost]:-0} > 0)) \
		"control: records written without a flush are all in the live file (SIGKILL alone)"
	result $((${T[$drv/nosync.acked]:-0} == 0 ||
		  ${T[$drv/nosync.lost]:-0} != ${T[$drv/nosync.acked]:-0})) \
		"control: ... and all lost in the host-crash image"
	result "${T[$drv/ctl_many_syncs]:-0}" \
		"control: its file was fsynced fewer times than records were acknowledged on it"
done
ktap_finish

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Power failure at a random moment loses nothing that was acknowledged.
#
# One VM with four emulated NVDIMMs on backing files that outlive it, each
# bound to rpmem, each with a workload (selftests/powerfail.c) that writes
# self-checking records and logs each one in the run directory (a host
# file) once it is acknowledged as durable:
#
#   raw      the raw disk, O_DIRECT: RWF_DSYNC (REQ_FUA) and
#            write + fdatasync (REQ_PREFLUSH), alternately;
#   ext4     appends to a file on ext4 -o dax, fsync after each;
#   xfs      stores through a MAP_SYNC mapping of a file on XFS -o dax,
#            each followed by a cache line flush;
#   control  appends on ext4 -o dax,commit=60 logged before they are
#            written and never fsynced: it must lose records, or the check
#            could not see a loss.
#
# The host kills QEMU with SIGKILL at a random moment 0.2-2 s after the
# workloads started. The next boot, on the same backing files, first checks
# the cycle before: each filesystem is mounted once (journal or log
# replay: fsck.ext4 -n and xfs_repair -n cannot replay, and call a
# filesystem that needs it unclean), unmounted, checked with fsck.ext4 -fn
# or xfs_repair -n, which must be clean, and mounted again; every
# acknowledged record must be at its place, intact. Then the next workloads
# start on the same devices, which shows they still work. A last boot only
# checks. A kernel problem logged in any boot (oops, WARNING, ...) fails the
# test. TCG has no CPU caches: what this shows is ordering and
# acknowledgement, not cache flushing.
#
# RPMEM_POWERFAIL_CYCLES (default 50) sets the number of cycles.
#
# host

. "$(dirname "$0")/../tools/lib.sh"
. "$(dirname "$0")/lib.sh"

CYCLES=${RPMEM_POWERFAIL_CYCLES:-50}
TARGETS=(raw ext4 xfs control)
# NVDIMM sizes, MiB: the guest tells the disks apart by size.
declare -A SIZE=([raw]=64 [ext4]=96 [xfs]=320 [control]=32)
declare -A KIND=([raw]=raw [ext4]=append [xfs]=mapsync [control]=early)
BOOT_SECS=180	# from boot to "workloads running", at most

# --- in the guest -----------------------------------------------------------

MNT=/tmp/pf

# The disk of each target, found by its size, bound to rpmem.
guest_disks()
{
	local ns mib t
	manual_binding
	load_rpmem || return
	for ns in $(namespaces_of ACPI.NFIT); do
		bind_ns "$ns" rpmem && udev_settle "$ns" || return
		mib=$(($(blockdev --getsize64 "/dev/$(ns_disk "$ns")") >> 20))
		for t in "${TARGETS[@]}"; do
			[ "${SIZE[$t]}" = "$mib" ] && disk[$t]=/dev/$(ns_disk "$ns")
		done
	done
	for t in "${TARGETS[@]}"; do
		[ -n "${disk[$t]:-}" ] || fail "no ${SIZE[$t]} MiB disk for $t" || return
	done
}

mount_target()	# TARGET
{
	local opts=dax
	case $1 in
	xfs) opts=dax=always ;;
	control) opts=dax,commit=60 ;;
	esac
	mkdir -p "$MNT/$1" && mount -o "$opts" "${disk[$1]}" "$MNT/$1"
}

# TARGET: replay the journal or log, check the filesystem, mount it again.
fsck_target()
{
	mount_target "$1" && umount "$MNT/$1" || return
	if [ "$1" = xfs ]; then
		xfs_repair -n "${disk[$1]}" >/tmp/fsck.out 2>&1
	else
		fsck.ext4 -fn "${disk[$1]}" >/tmp/fsck.out 2>&1
	fi || fail "$1: $(tail -n 5 /tmp/fsck.out)" || return
	mount_target "$1"
}

# TARGET: where its records go.
target_path()
{
	case $1 in
	raw) echo "${disk[raw]}" ;;
	*) echo "$MNT/$1/records" ;;
	esac
}

# TARGET CYCLE: check the records the cycle acknowledged; one verdict line.
guest_check()
{
	local t=$1 out fsck=ok
	if [ "$t" != raw ]; then
		fsck_target "$t" >/tmp/fsck.err 2>&1 || fsck="unclean: $(cat /tmp/fsck.err)"
	fi
	out=$("$PF" check "${KIND[$t]}" "$(target_path "$t")" "$RPMEM_OUT/prev/acks.$t" "$2" 2>&1) ||
		out="error: $out"
	echo "$t $out fsck $fsck" | head -n 1 >>"$RPMEM_OUT/verdict"
	[ "$t" = raw ] || rm -f "$(target_path "$t")"
}

# TARGET CYCLE: start the workload, in the background.
guest_run()
{
	local t=$1 path
	path=$(target_path "$t")
	if [ "$t" = xfs ]; then
		fallocate -l 4M "$path" && sync || return
	fi
	"$PF" run "${KIND[$t]}" "$path" "$RPMEM_OUT/acks.$t" "$2" 2>>"$RPMEM_OUT/workload.err" &
}

# CYCLE first|next|last, with the powerfail helper in PF
guest()
{
	local t
	declare -gA disk=()
	guest_disks || return
	for t in ext4 xfs control; do
		if [ "$2" = first ]; then
			mkfs_dax "${t/control/ext4}" "${disk[$t]}" >/dev/null && mount_target "$t"
		else
			guest_check "$t" "$(($1 - 1))"
		fi || return
	done
	[ "$2" = first ] || guest_check raw "$(($1 - 1))"
	[ "$2" != last ] || return 0
	for t in "${TARGETS[@]}"; do
		guest_run "$t" "$1" || return
	done
	touch "$RPMEM_OUT/started"
	sleep 3600
}

if [ "${1:-}" = guest ]; then
	PF=$4
	guest "$2" "$3"
	exit
fi

# --- on the host ------------------------------------------------------------

dir=$RPMEM_CACHE/runs/powerfail
declare -A acked=() lost=() unclean=()
problems=0 errors=0

# CYCLE MODE: one boot; killed once its workloads run, unless MODE is last.
boot()
{
	local c=$1 mode=$2 out=$dir/boot t args=() pid i ms
	rm -rf "$out" && mkdir -p "$out/prev" || return
	for t in "${TARGETS[@]}"; do
		args+=(--nvdimm "${SIZE[$t]}M,file=$dir/$t.img")
		[ ! -f "$dir/acks.$t" ] || mv "$dir/acks.$t" "$out/prev/"
	done
	tools/vm.sh --quiet --out "$out" --mem 1G --timeout $BOOT_SECS "${args[@]}" \
		-- "$RPMEM_TOP/selftests/rpmem_powerfail.sh" guest "$c" "$mode" "$PF" \
		>"$out/vm.out" 2>&1 &
	pid=$!
	if [ "$mode" != last ]; then
		for ((i = 0; i < BOOT_SECS * 10; i++)); do
			[ -e "$out/started" ] || ! kill -0 $pid 2>/dev/null && break
			sleep 0.1
		done
		if [ -e "$out/started" ]; then
			ms=$((200 + RANDOM % 1800))
			sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
			pkill -KILL -f "qemu-system-x86_64 .*path=$out,mount_tag=rpmem_out"
		fi
	fi
	wait $pid
	for t in "${TARGETS[@]}"; do
		[ ! -f "$out/acks.$t" ] || cp "$out/acks.$t" "$dir/"
	done
}

# The boot's kernel log, verdicts and workload errors into the totals.
tally()	# CYCLE MODE
{
	local out=$dir/boot t line n m
	if grep -qaE "$KERNEL_PROBLEMS" "$out/kernel.log"; then
		problems=$((problems + 1))
		echo "# cycle $1: kernel problems:"
		grep -aE -B2 -A10 "$KERNEL_PROBLEMS" "$out/kernel.log" | head -n 40 | sed 's/^/# /'
	fi
	if [ "$2" != last ] && [ ! -e "$out/started" ]; then
		errors=$((errors + 1))
		echo "# cycle $1: the workloads never started:"
		tail -n 20 "$out/console.log" | sed 's/^/# /'
	fi
	if [ -s "$out/workload.err" ]; then
		errors=$((errors + 1))
		echo "# cycle $1: workload errors:"
		sed 's/^/# /' "$out/workload.err" | head -n 10
	fi
	[ "$2" != first ] || return 0
	for t in "${TARGETS[@]}"; do
		line=$(grep "^$t " "$out/verdict" 2>/dev/null)
		if [[ $line =~ ^$t\ acked\ ([0-9]+)\ lost\ ([0-9]+)\ fsck\ ok$ ]]; then
			n=${BASH_REMATCH[1]} m=${BASH_REMATCH[2]}
		else
			errors=$((errors + 1))
			echo "# cycle $1: $t: ${line:-no verdict}"
			[[ $line == *fsck\ unclean* ]] && unclean[$t]=$((${unclean[$t]:-0} + 1))
			n=0 m=0
		fi
		acked[$t]=$((${acked[$t]:-0} + n)) lost[$t]=$((${lost[$t]:-0} + m))
		[ "$m" -eq 0 ] || [ "$t" = control ] || echo "# cycle $1: $t lost $m of $n"
	done
}

totals()	# TARGET
{
	echo "$CYCLES power-fail cycles, ${acked[$1]:-0} records acknowledged, ${lost[$1]:-0} lost"
}

# TARGET: nothing acknowledged lost, every fsck clean.
target_ok()
{
	[ "${acked[$1]:-0}" -gt 0 ] || fail "no record was acknowledged" || return
	[ "${lost[$1]:-0}" -eq 0 ] || fail "records lost" || return
	[ "${unclean[$1]:-0}" -eq 0 ] || fail "${unclean[$1]} unclean filesystem checks"
}

control_lost() { [ "${lost[control]:-0}" -gt 0 ] || fail "the control lost nothing"; }

cd "$RPMEM_TOP" || exit 1
[[ $CYCLES =~ ^[1-9][0-9]*$ ]] || die "RPMEM_POWERFAIL_CYCLES=$CYCLES: not a positive number"
ktap_plan 6
rm -rf "$dir" && mkdir -p "$dir" || die "cannot make $dir"
PF=$(build_helper powerfail "$dir/bin") || die "cannot build the powerfail helper"
start=$SECONDS
for ((c = 0; c <= CYCLES; c++)); do
	mode=next
	[ $c -gt 0 ] || mode=first
	[ $c -lt "$CYCLES" ] || mode=last
	boot $c $mode
	tally $c $mode
	[ $((c % 10)) -ne 0 ] || [ $c -eq 0 ] ||
		log "cycle $c of $CYCLES, $((SECONDS - start)) s: acknowledged/lost" \
		    "raw ${acked[raw]}/${lost[raw]} ext4 ${acked[ext4]}/${lost[ext4]}" \
		    "xfs ${acked[xfs]}/${lost[xfs]}"
done
for t in raw ext4 xfs; do
	echo "# $t: $(totals $t)"
	check "$t: $(totals $t)" target_ok $t
done
echo "# control: $(totals control)"
check "control: acknowledging before fsync loses records (${lost[control]:-0})" control_lost
check "no kernel problem in any of $((CYCLES + 1)) boots" test $problems -eq 0
check "every workload started and every check ran" test $errors -eq 0
echo "# $((SECONDS - start)) s"
# Backing files stay for a look when something failed.
# shellcheck disable=SC2154 # ktap_failed: selftests/lib.sh
[ "$ktap_failed" -ne 0 ] || rm -rf "$dir"
ktap_finish

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Sector atomicity under power failure: RPMEM_BTT_POWERFAIL_CYCLES (default
# 20) times, a VM overwrites every 4 KiB sector of two disks, round after
# round, each sector with a pattern of its own for each round
# (selftests/torn.c), and the host kills QEMU with SIGKILL at a random
# moment (0.2-2.2 s after both writers' first write returned). The next
# boot, on the same backing files, reads every sector of both before it
# starts the next cycle:
#
#  - btt: a namespace in sector mode (4096-byte sectors) that rpmem laid
#    out on the first boot and serves: every sector must hold one complete
#    pattern, whatever the kill interrupted, and no older one than the
#    round of that cycle the writer last saw acknowledged for it (its
#    progress is in a file of the 9p run directory, in the host's file
#    when the write returns): a recovery that rolled back a completed
#    write, or brought back the previous cycle's data, fails;
#  - raw: the control, a raw rpmem disk under the same writes (4 MiB at a
#    time, so that a kill most likely lands in a copy): persistent memory
#    has no atomic unit larger than 8 bytes, so torn sectors must show up
#    here, or the check could not see them.
#
# It prints the cycles and the sectors checked, found torn and found stale
# per disk. Control, on the last boot: the last cycle checked against a
# progress one round further (an acknowledgement forged for writes that
# never happened) must find stale sectors.
# TCG emulates no CPU caches: this tests the order of the BTT's durable
# updates, not cache flushing.

. "$(dirname "$0")/lib.sh"

CYCLES=${RPMEM_BTT_POWERFAIL_CYCLES:-20}
# NVDIMM sizes in MiB, which tell the namespaces apart in the guest.
declare -A SIZE=([btt]=64 [raw]=48)

# --- the guest ---------------------------------------------------------------

# The namespace of NAME, by its size.
ns_sized()
{
	local ns size
	for ns in "$ND"/devices/namespace*; do
		read -r size <"$ns/size"
		[ "$size" = $((SIZE[$1] << 20)) ] && { echo "${ns##*/}"; return; }
	done
	fail "no namespace of ${SIZE[$1]} MiB"
}

# Check cycle PREV (the last whose writers ran, its run directory in
# WORK/PREV; 0: none yet, lay the BTT out), then, unless LAST, start cycle
# CYCLE and wait for the kill.
guest()	# CYCLE PREV WORK LAST
{
	local c=$1 prev=$2 h=$3/bin/torn btt raw ns p=$3/$2/progress
	load_rpmem || die "rpmem does not load"
	ns=$(ns_sized btt) && raw=$(ns_sized raw) || die "namespaces missing"
	[ "$prev" -gt 0 ] || make_btt "$ns" rpmem || die "cannot put $ns in sector mode"
	btt=/dev/$(btt_disk_of "$ns") || die "rpmem serves no BTT on $ns"
	raw=/dev/$(ns_disk "$raw") || die "no raw disk"
	if [ "$prev" -gt 0 ]; then
		{
			echo "btt $("$h" check "$btt" "$prev" "$p.btt")" &&
				echo "raw $("$h" check "$raw" "$prev" "$p.raw")" &&
				echo "finished $(dmesg | grep -c 'interrupted write')"
		} >"$RPMEM_OUT/verdict" || die "checking failed"
	fi
	if [ "${4:-}" = last ]; then
		"$h" forge "$p.btt" /tmp/forged &&
			echo "forged $("$h" check "$btt" "$prev" /tmp/forged)" \
			>>"$RPMEM_OUT/verdict" || die "the forged check failed"
		return 0
	fi
	"$h" write "$btt" 1024 "$RPMEM_OUT/ready.btt" "$c" "$RPMEM_OUT/progress.btt" \
		2>"$RPMEM_OUT/error.btt" &
	"$h" write "$raw" 4096 "$RPMEM_OUT/ready.raw" "$c" "$RPMEM_OUT/progress.raw" \
		2>"$RPMEM_OUT/error.raw" &
	await_kill "$RPMEM_OUT"/ready.{btt,raw}
}

if [ "${1:-}" = guest ]; then
	shift
	guest "$@"
	exit
fi

# --- the host ------------------------------------------------------------------

mkdir -p "${RPMEM_CACHE:=$HOME/.cache/rpmem}/runs"
work=$(mktemp -d "$RPMEM_CACHE/runs/btt-powerfail.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
declare -A checked torn stale
checked=([btt]=0 [raw]=0) torn=([btt]=0 [raw]=0) stale=([btt]=0 [raw]=0)
boots_bad=0 finished=0

# N [LAST]: boot N; its run directory is $work/N.
boot()
{
	"$RPMEM_TOP/tools/vm.sh" --quiet --out "$work/$1" --pidfile "$work/$1/qemu.pid" \
		--nvdimm "${SIZE[btt]}M,file=$work/btt.img" \
		--nvdimm "${SIZE[raw]}M,file=$work/raw.img" \
		-- "$RPMEM_TOP/selftests/rpmem_btt_powerfail.sh guest $1 $prev $work ${2:-}" \
		2>"$work/vm$1.log"
}

# N: add up boot N's verdict on cycle $prev.
tally()
{
	local v=$work/$1/verdict name n t st
	[ "$(grep -cE '^(btt|raw) [0-9]+ [0-9]+ [0-9]+$' "$v" 2>/dev/null)" = 2 ] ||
		{ show_boot "$1" "no verdict"; return 1; }
	while read -r name n t st; do
		checked[$name]=$((checked[$name] + n)) torn[$name]=$((torn[$name] + t))
		stale[$name]=$((stale[$name] + st))
		[ "$t" = 0 ] || [ "$name" = raw ] || echo "# cycle $prev: btt: $t torn sectors"
		[ "$st" = 0 ] || echo "# cycle $prev: $name: $st stale sectors"
	done < <(grep -E '^(btt|raw) ' "$v")
	sed -n '/^btt/,/^raw/s/^\(torn\|stale\) sectors/# btt: &/p' "$v"
	read -r name n < <(grep '^finished ' "$v")
	finished=$((finished + ${n:-0}))
}

ktap_plan 5
[ -x "$(build_helper torn "$work/bin")" ] || die "cannot build selftests/torn.c"
[[ $CYCLES =~ ^[1-9][0-9]*$ ]] || die "RPMEM_BTT_POWERFAIL_CYCLES=$CYCLES is not a number of cycles"
powerfail_loop "$CYCLES"
for name in btt raw; do
	echo "# $name: $CYCLES power-fail cycles, ${checked[$name]} sectors checked, ${torn[$name]} torn, ${stale[$name]} stale"
done
echo "# btt: $finished boots found a write the kill interrupted and finished its map update"
r=fail
[ $boots_bad -eq 0 ] && r=ok
ktap_result $r "$CYCLES power-fail cycles: each boot killed while writing, clean kernel logs ($boots_bad bad)"
r=fail
[ "${checked[btt]}" -gt 0 ] && [ "${torn[btt]}" -eq 0 ] && [ $boots_bad -eq 0 ] && r=ok
ktap_result $r "btt: every sector whole after every kill (${torn[btt]} torn of ${checked[btt]})"
r=fail
[ "${torn[raw]}" -gt 0 ] && r=ok
ktap_result $r "control: the raw disk under the same writes has torn sectors (${torn[raw]})"
r=fail
[ "${checked[btt]}" -gt 0 ] && [ "${stale[btt]}" -eq 0 ] && [ "${stale[raw]}" -eq 0 ] && r=ok
ktap_result $r "btt and raw: no sector older than its last acknowledged round (${stale[btt]} and ${stale[raw]} stale)"
read -r _ n t st < <(grep '^forged ' "$work/$((CYCLES + 1))/verdict" 2>/dev/null)
r=fail
[ "${st:-0}" -gt 0 ] && r=ok
ktap_result $r "control: a progress forged one round further finds stale sectors (${st:-no verdict} of ${n:-?})"
ktap_finish

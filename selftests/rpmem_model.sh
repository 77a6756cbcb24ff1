#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Durability under the persistence model (Documentation/persistence-model.rst):
# the flushes and fences that a machine with an ADR platform needs, which
# the plain power-fail loops cannot see (TCG has no cache: every store is in
# the NVDIMM's file at once, so killing QEMU models an eADR machine).
#
# One boot under tools/vm.sh --model, seven NVDIMMs without labels (raw
# namespaces at offset 0 of their files):
#
#  - raw: selftests/powerfail.c writes RPMEM_MODEL_RECORDS (default 40)
#    4 KiB records through rpmem's disk with O_DIRECT, alternately with
#    RWF_DSYNC (FUA) and write + fsync (PREFLUSH), acknowledging each;
#  - nd_pmem-raw: the same through nd_pmem, the C driver, on the second;
#  - btt, nd_btt: the same through a BTT (sector mode, 4096-byte sectors,
#    laid out by hand through the region's btt seed) that rpmem serves,
#    and one that nd_btt serves; the checker reads each image through the
#    BTT's map and flog as the drivers do when they open it after a crash:
#    no acknowledged record may be lost, and the record in flight must
#    read as zeroes or whole (a BTT's sectors are atomic; a raw disk's are
#    not, which is the control: the same check finds torn records there);
#  - ext4: 256-byte appends to a file on ext4 -o dax on rpmem, each
#    followed by fsync; at 24 crash points right after an acknowledgement
#    the worst-case and a random image get their journal replayed on the
#    host, must pass e2fsck -fn and hold every acknowledged record
#    (debugfs reads the file);
#  - nd_pmem-ext4: the same through nd_pmem, on a namespace ndctl put in
#    fsdax mode (nd_pmem has no DAX on a raw NFIT namespace);
#  - controls, on ext4 -o dax on the other: selftests/faulty/pm_faulty.c
#    stores 256-byte records through a MAP_SYNC mapping, "good" with CLWB +
#    SFENCE and a commit count after the data, the others each with one
#    durability bug: plain stores (memcpy), MOVNTI without SFENCE
#    (nt-nofence), CLWB of the wrong lines (wrong-line), a commit count made
#    durable before its record (wal).
#
# A crash point is taken after every acknowledgement and before one fence in
# ten that has something to make durable; tools/model/check.py checks the
# worst-case image and two random images of each. Expected: raw,
# nd_pmem-raw, btt, nd_btt, ext4, nd_pmem-ext4 and good lose nothing, no
# BTT sector is torn, the ext4 images check clean; each faulty control
# loses records. The same boot again with the plugin's eadr=on (every store
# durable at once, what the SIGKILL loops see): nothing lost anywhere, the
# controls included -- which is why the model is needed. The checker's own
# controls: raw records looked for 4 KiB off are lost; the BTT's records
# read without its map are lost; ext4 records read from a missing file are
# lost; an ext4 image looked for 1 MiB off does not check clean.
# RPMEM_MODEL_ARGS adds plugin arguments (max=, seed=, ...;
# tools/model/pmem_model.c), e.g. more crash points.

. "$(dirname "$0")/lib.sh"

RECORDS=${RPMEM_MODEL_RECORDS:-40}
CONTROL_RECORDS=24
CONTROLS=(good memcpy nt-nofence wrong-line wal)
# NVDIMM sizes in MiB, which tell the namespaces apart in the guest (an
# fsdax namespace's a multiple of 16 MiB, ndctl's default alignment).
RAW_MIB=64 CRAW_MIB=48 DAX_MIB=96 EXT4_MIB=80 BTT_MIB=72 NBTT_MIB=56
NEXT4_MIB=112
FS_RECORDS=30
MNT=/tmp/model

# --- the guest ---------------------------------------------------------------

# The disk of the namespace of SIZE MiB.
disk_of_size()
{
	local ns
	ns=$(ns_of_size "$1") && echo "/dev/$(ns_disk "$ns")"
}

guest()	# WORK
{
	local bin=$1/bin raw craw dax ext4 btt nbtt next4 pfn at spec=$RPMEM_OUT/spec
	local i mode c ns
	load_rpmem || die "rpmem does not load"
	raw=$(disk_of_size $RAW_MIB) && dax=$(disk_of_size $DAX_MIB) &&
		ext4=$(disk_of_size $EXT4_MIB) || die "the NVDIMMs' disks are not there"
	ns=$(ns_of_size $CRAW_MIB) && craw=$(dax_attach "$ns" nd_pmem) ||
		die "nd_pmem does not take the $CRAW_MIB MiB namespace"
	ns=$(ns_of_size $BTT_MIB) && make_btt "$ns" rpmem && btt=/dev/$(btt_disk_of "$ns") ||
		die "rpmem serves no BTT on the $BTT_MIB MiB namespace"
	ns=$(ns_of_size $NBTT_MIB) && make_btt "$ns" nd_pmem && nbtt=/dev/$(btt_disk_of "$ns") ||
		die "nd_btt serves no BTT on the $NBTT_MIB MiB namespace"
	# fsdax through nd_pmem (it has no DAX on a raw NFIT namespace); the
	# filesystem starts where the pfn device's data does.
	ns=$(ns_of_size $NEXT4_MIB) &&
		ndctl create-namespace -f -e "$ns" -m fsdax --map=mem >/dev/null &&
		pfn=$(claim_of pfn "$ns") && rebind_ns "$pfn" nd_pmem &&
		next4=$(driver_disk "$pfn" nd_pmem) &&
		at=$(($(cat "$ND/devices/$pfn/resource") - $(cat "$ND/devices/$ns/resource"))) ||
		die "nd_pmem serves no fsdax disk on the $NEXT4_MIB MiB namespace"
	cat /proc/kallsyms >"$RPMEM_OUT/kallsyms"
	# A raw namespace is the whole label-less NVDIMM: disk offset ==
	# file offset. Channel 0: rpmem, 1: nd_pmem; 3 and 4: BTTs laid out
	# by rpmem and by nd_btt, records at their disks' offsets.
	{
		echo "chan 0 raw 0 4096 0 1 0 rec,whole"
		echo "extent 0 0 0 $((RAW_MIB << 20))"
		echo "chan 1 nd_pmem-raw 1 4096 0 1 0 rec,whole"
		echo "extent 1 0 0 $((CRAW_MIB << 20))"
		echo "chan 2 ext4 3 256 1 1 0 ext4:/c1"
		echo "extent 2 0 0 $((EXT4_MIB << 20))"
		echo "chan 3 btt 4 4096 0 1 0 rec,whole,btt"
		echo "extent 3 0 0 $((BTT_MIB << 20))"
		echo "chan 4 nd_btt 5 4096 0 1 0 rec,whole,btt"
		echo "extent 4 0 0 $((NBTT_MIB << 20))"
		echo "chan 5 nd_pmem-ext4 6 256 1 1 0 ext4:/c1"
		echo "extent 5 0 $at $(blockdev --getsize64 "$next4")"
	} >"$spec"
	POWERFAIL_RECORDS=$RECORDS "$bin/powerfail" write raw 1 "$raw" \
		"$RPMEM_OUT/acks.raw" || die "the raw workload failed"
	POWERFAIL_RECORDS=$RECORDS POWERFAIL_CHANNEL=1 "$bin/powerfail" write \
		raw 1 "$craw" "$RPMEM_OUT/acks.craw" || die "the nd_pmem workload failed"
	POWERFAIL_RECORDS=$RECORDS POWERFAIL_CHANNEL=3 "$bin/powerfail" write \
		raw 1 "$btt" "$RPMEM_OUT/acks.btt" || die "the BTT workload failed"
	POWERFAIL_RECORDS=$RECORDS POWERFAIL_CHANNEL=4 "$bin/powerfail" write \
		raw 1 "$nbtt" "$RPMEM_OUT/acks.nbtt" || die "the nd_btt workload failed"
	mkfs_dax ext4 "$ext4" && mkdir -p $MNT.ext4 && mount -o dax "$ext4" $MNT.ext4 ||
		die "no ext4 -o dax on $ext4"
	POWERFAIL_RECORDS=$FS_RECORDS POWERFAIL_CHANNEL=2 "$bin/powerfail" write \
		ext4 1 $MNT.ext4/c1 "$RPMEM_OUT/acks.ext4" || die "the ext4 workload failed"
	umount $MNT.ext4 || die "umount ext4"
	mkfs_dax ext4 "$next4" && mount -o dax "$next4" $MNT.ext4 ||
		die "no ext4 -o dax on $next4"
	POWERFAIL_RECORDS=$FS_RECORDS POWERFAIL_CHANNEL=5 "$bin/powerfail" write \
		ext4 1 $MNT.ext4/c1 "$RPMEM_OUT/acks.next4" || die "the nd_pmem ext4 workload failed"
	umount $MNT.ext4 || die "umount nd_pmem's ext4"
	mkfs_dax ext4 "$dax" && mkdir -p $MNT && mount -o dax "$dax" $MNT ||
		die "no ext4 -o dax"
	for i in "${!CONTROLS[@]}"; do
		mode=${CONTROLS[i]} c=$((8 + i))
		case $mode in
		good) echo "chan $c $mode 2 256 $c 1 4096 rec,commit" ;;
		wal) echo "chan $c $mode 2 256 $c 1 4096 commit" ;;
		*) echo "chan $c $mode 2 256 $c 1 4096 rec" ;;
		esac >>"$spec"
		"$bin/pm_faulty" "$mode" "$MNT/$mode" $c 1 $CONTROL_RECORDS \
			"$RPMEM_OUT/extents" || die "pm_faulty $mode failed"
		cat "$RPMEM_OUT/extents" >>"$spec"
	done
	umount $MNT || die "umount"
}

if [ "${1:-}" = guest ]; then
	shift
	guest "$@"
	exit
fi

# --- the host ------------------------------------------------------------------

mkdir -p "${RPMEM_CACHE:=$HOME/.cache/rpmem}/runs"
work=$(mktemp -d "$RPMEM_CACHE/runs/model.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

# RULES (adr or eadr): one boot under the model, then check.py's verdict in
# $work/RULES/verdict.
model_run()
{
	local rules=$1 dir=$work/$1 args=ack=1,fence=0.1,max=3000
	[ "$rules" = adr ] || args+=,eadr=on
	model_boot "$dir" "$args" "$RPMEM_TOP/selftests/rpmem_model.sh guest $work" \
		--nvdimm "${RAW_MIB}M,file=$dir/raw.img" \
		--nvdimm "${CRAW_MIB}M,file=$dir/craw.img" \
		--nvdimm "${DAX_MIB}M,file=$dir/dax.img" \
		--nvdimm "${EXT4_MIB}M,file=$dir/ext4.img" \
		--nvdimm "${BTT_MIB}M,file=$dir/btt.img" \
		--nvdimm "${NBTT_MIB}M,file=$dir/nbtt.img" \
		--nvdimm "${NEXT4_MIB}M,file=$dir/next4.img" || return
	python3 "$RPMEM_TOP/tools/model/check.py" "$dir/model/model.log" \
		"$dir/vm/spec" "$dir"/model/init-{0..6}.img \
		--kallsyms "$dir/vm/kallsyms" --binary "$work/bin/pm_faulty" \
		>"$dir/verdict" 2>&1 || { sed 's/^/# /' "$dir/verdict"; return 1; }
	sed "s/^/# $rules: /" "$dir/verdict"
}

# RULES NAME: the records NAME lost under RULES ("" if no verdict).
lost()
{
	sed -n "s/^$2: .* \([0-9]*\) lost$/\1/p" "$work/$1/verdict" 2>/dev/null
}

# RULES NAME: the images with a torn record of NAME under RULES.
torn()
{
	sed -n "s/^$2: .* \([0-9]*\) images with a torn record, .*/\1/p" \
		"$work/$1/verdict" 2>/dev/null
}

# RULES NAME: NAME's crash points under RULES.
crash_points()
{
	sed -n "s/^$2: \([0-9]*\) crash points, .*/\1/p" "$work/$1/verdict" 2>/dev/null
}

ktap_plan 17
[ -x "$(build_helper powerfail "$work/bin")" ] || die "cannot build selftests/powerfail.c"
gcc -O2 -no-pie -Wall -Wextra -Werror -o "$work/bin/pm_faulty" \
	"$RPMEM_TOP/selftests/faulty/pm_faulty.c" || die "cannot build pm_faulty.c"
"$RPMEM_TOP/tools/model.sh" >/dev/null || die "tools/model.sh failed"

for rules in adr eadr; do
	model_run $rules && r=ok || r=fail
	ktap_result $r "$rules: a boot under the model writes every workload, clean kernel log"
done

n=$(crash_points adr raw) l=$(lost adr raw)
[ "${n:-0}" -ge 30 ] && [ "$l" = 0 ] && r=ok || r=fail
ktap_result $r "adr: raw disk (RWF_DSYNC, write + fsync): no acknowledged record lost at ${n:-no} crash points"
l=$(lost adr nd_pmem-raw)
[ "$l" = 0 ] && r=ok || r=fail
ktap_result $r "adr: nd_pmem's raw disk, the same: ${l:-no verdict} lost"
for name in ext4 nd_pmem-ext4; do
	l=$(lost adr $name)
	c=$(sed -n "s/^$name: .* \([0-9]*\) of \([0-9]*\) filesystem images clean.*/\1 \2/p" \
		"$work/adr/verdict" 2>/dev/null)
	[ "$l" = 0 ] && [ -n "$c" ] && [ "${c% *}" = "${c#* }" ] && [ "${c#* }" -ge 30 ] &&
		r=ok || r=fail
	ktap_result $r "adr: $name -o dax (append + fsync): ${l:-no verdict} lost, ${c% *} of ${c#* } images clean after journal replay"
done
for name in btt nd_btt; do
	l=$(lost adr $name) t=$(torn adr $name)
	[ "$l" = 0 ] && [ "$t" = 0 ] && r=ok || r=fail
	ktap_result $r "adr: $name (sector mode, RWF_DSYNC, write + fsync): ${l:-no verdict} lost, ${t:-no verdict} images with a torn sector"
done
t=$(torn adr raw) u=$(torn adr nd_pmem-raw)
[ "${t:-0}" -gt 0 ] || [ "${u:-0}" -gt 0 ] && r=ok || r=fail
ktap_result $r "control: raw disks have no atomic sectors: images with a torn record: rpmem ${t:-no verdict}, nd_pmem ${u:-no verdict}"
l=$(lost adr good)
[ "$l" = 0 ] && r=ok || r=fail
ktap_result $r "adr: control good (CLWB + SFENCE, commit after data): nothing lost"
for mode in memcpy nt-nofence wrong-line wal; do
	l=$(lost adr $mode)
	[ "${l:-0}" -gt 0 ] || { echo "# adr: $mode lost nothing"; r=fail; }
done
ktap_result $r "adr: controls memcpy, nt-nofence, wrong-line and wal lose records"
r=ok
for mode in raw nd_pmem-raw ext4 nd_pmem-ext4 btt nd_btt "${CONTROLS[@]}"; do
	l=$(lost eadr "$mode")
	[ "$l" = 0 ] || { echo "# eadr: $mode lost ${l:-(no verdict)}"; r=fail; }
done
ktap_result $r "eadr (a plain SIGKILL's model): nothing lost, controls included"
n=$(crash_points eadr raw)
[ "${n:-0}" -ge 30 ] && r=ok || r=fail
ktap_result $r "eadr: ${n:-no} crash points"
# SED-SCRIPT NAME: the records of NAME lost on the ADR run, its spec edited
# (worst-case images only, one filesystem check).
lost_if()
{
	sed "$1" "$work/adr/vm/spec" >"$work/bad.spec"
	python3 "$RPMEM_TOP/tools/model/check.py" "$work/adr/model/model.log" \
		"$work/bad.spec" "$work"/adr/model/init-{0..6}.img --random 0 \
		--fs-checks 1 | sed -n "s/^$2: .* \([0-9]*\) lost$/\1/p"
}
# The checker finds a record that is not where the spec says.
l=$(lost_if 's/^extent 0 0 0 /extent 0 0 4096 /' raw)
[ "${l:-0}" -gt 0 ] && r=ok || r=fail
ktap_result $r "control: the checker finds records moved by 4 KiB lost (${l:-no verdict})"
# The BTT oracle reads through the map: without it, records are lost.
l=$(lost_if 's/^\(chan 3 .*\),btt$/\1/' btt)
[ "${l:-0}" -gt 0 ] && r=ok || r=fail
ktap_result $r "control: the BTT's records read without its map are lost (${l:-no verdict})"
# The filesystem oracle: a file that is not there loses every record; a
# filesystem looked for 1 MiB further on does not check clean.
recheck() { model_recheck "$work/adr" "$1" ext4 4 "$work"/adr/model/init-{0..6}.img; }
v=$(recheck 's|ext4:/c1|ext4:/missing|')
[[ $v =~ ^([0-9]+)\ of\ ([0-9]+),\ ([1-9][0-9]*)\ lost$ ]] &&
	[ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] && r=ok || r=fail
ktap_result $r "control: ext4 records read from a missing file are lost (${v:-no verdict})"
v=$(recheck "s|^extent 2 0 0 .*|extent 2 0 1048576 $(((EXT4_MIB - 1) << 20))|")
[[ $v =~ ^0\ of\ [1-9][0-9]*,\ 0\ lost$ ]] && r=ok || r=fail
ktap_result $r "control: a filesystem image 1 MiB off does not check clean (${v:-no verdict})"
ktap_finish

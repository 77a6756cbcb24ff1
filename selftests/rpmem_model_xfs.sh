#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# XFS -o dax under the persistence model (Documentation/persistence-model.rst):
# what a machine with an ADR platform keeps of XFS on pmem at a power
# failure, which the SIGKILL loop of rpmem_powerfail cannot see.
#
# One boot under tools/vm.sh --model, two NVDIMMs without labels: one a raw
# namespace through rpmem, the other in fsdax mode (ndctl, memmap in RAM)
# through nd_pmem, the C driver. On each, XFS -o dax and two workloads of
# selftests/powerfail.c, RPMEM_MODEL_XFS_RECORDS (default 40) 256-byte
# records each:
#
#  - map: records stored through a MAP_SYNC mapping of a sparse file (each
#    new page's fault allocates a block and commits it to the log before
#    the store), each written back with CLWB + SFENCE (libpmem's way;
#    powerfail's "xfs" mode);
#  - append: records appended to a file, each followed by fsync
#    (powerfail's "ext4" mode, on XFS).
#
# A crash point is taken after every acknowledgement and before one fence
# in ten that has something to make durable. tools/model/check.py checks
# the worst-case image and two random images of each: every acknowledged
# record whole where FIEMAP put it (rec), and, at about
# RPMEM_MODEL_XFS_FS_CHECKS (default 8; 9 for 40 records) crash points
# after an acknowledgement per workload, the worst-case and one random
# image of the whole filesystem: mounted on the host through a loop device
# (the kernel replays the log), the file read, unmounted, xfs_repair -n
# clean, every acknowledged record in the file (xfs: oracle). Expected: nothing lost, at
# least 30 crash points after the acknowledgements of each workload, every
# filesystem image clean. The checker's controls: records read from a file
# that is not there are lost; a filesystem image taken 1 MiB off does not
# check clean. No eadr=on boot (rpmem_model shows what it adds, with its
# faulty writers): it would double the test's 4 minutes.
# RPMEM_MODEL_ARGS adds plugin arguments (max=, seed=, ...;
# tools/model/pmem_model.c).

. "$(dirname "$0")/lib.sh"

RECORDS=${RPMEM_MODEL_XFS_RECORDS:-40}
FS_CHECKS=${RPMEM_MODEL_XFS_FS_CHECKS:-8}
# NVDIMM sizes in MiB, which tell the namespaces apart in the guest (XFS
# needs 300 MiB at least; nd_pmem's fsdax mode takes 2 MiB for itself).
RPMEM_MIB=320 ND_MIB=336
# The workloads on each filesystem: NAME (file /NAME) and powerfail's mode.
WORKLOADS=(map:xfs append:ext4)
MNT=/tmp/model

# --- the guest ---------------------------------------------------------------

# NAMESPACE: in fsdax mode (memmap in RAM) through nd_pmem; prints its
# disk and where that starts in the NVDIMM's file.
nd_pmem_fsdax()
{
	local pfn
	load_nd_pmem && manual_binding &&
		ndctl create-namespace -f -e "$1" -m fsdax --map=mem >/dev/null || return
	pfn=$(pfn_of "$1") || fail "no pfn device bound for $1" || return
	[ "$(ns_driver "$pfn")" = nd_pmem ] || fail "$pfn bound to '$(ns_driver "$pfn")'" || return
	echo "/dev/$(ns_disk "$pfn")" \
		$(($(cat "$ND/devices/$pfn/resource") - $(cat "$ND/devices/$1/resource")))
}

# LABEL DEV: XFS -o dax on DEV, mounted on $MNT.LABEL.
xfs_dax()
{
	mkfs_dax xfs "$2" && mkdir -p "$MNT.$1" && mount -o dax "$2" "$MNT.$1" &&
		[[ ,$(findmnt -no OPTIONS "$MNT.$1"), == *,dax=always,* ]] ||
		fail "$1: no XFS -o dax on $2"
}

# LABEL DEV FILE BASE CHANNEL: the workloads on XFS LABEL (DEV, at BASE of
# modelled file FILE), channels CHANNEL on; their spec lines.
xfs_workloads()
{
	local label=$1 dev=$2 file=$3 base=$4 c=$5 w name mode t
	for w in "${WORKLOADS[@]}"; do
		name=${w%:*} mode=${w#*:}
		t=2
		[ "$mode" = xfs ] || t=1
		POWERFAIL_RECORDS=$RECORDS POWERFAIL_CHANNEL=$c "$bin/powerfail" write \
			"$mode" 1 "$MNT.$label/$name" "$RPMEM_OUT/acks.$label-$name" ||
			fail "$label: the $name workload failed" || return
		dax_file "$MNT.$label/$name" || return
		echo "chan $c $label-$name $file 256 $t 1 0 rec,xfs:/$name"
		echo "fs $c $base $(blockdev --getsize64 "$dev")"
		extents_of "$MNT.$label/$name" | while read -r lo ph ln; do
			echo "extent $c $lo $((base + ph)) $ln"
		done
		c=$((c + 1))
	done
}

# The filesystems are made before any workload starts: mkfs's writes
# (XFS's 64 MiB log) then come before the first acknowledgement, where
# check.py makes no random images.
guest()	# WORK
{
	local rp nd bin=$1/bin
	load_rpmem || die "rpmem does not load"
	rp=$(ns_of_size $RPMEM_MIB) && rp=$(driver_disk "$rp" rpmem) ||
		die "no rpmem disk of $RPMEM_MIB MiB: $rp"
	nd=$(ns_of_size $ND_MIB) && nd=$(nd_pmem_fsdax "$nd") ||
		die "nd_pmem: no fsdax disk of $ND_MIB MiB: $nd"
	cat /proc/kallsyms >"$RPMEM_OUT/kallsyms"
	xfs_dax xfs "$rp" && xfs_dax nd_pmem-xfs "${nd% *}" || die "no XFS -o dax"
	{
		xfs_workloads xfs "$rp" 0 0 0 &&
			xfs_workloads nd_pmem-xfs "${nd% *}" 1 "${nd#* }" 2
	} >"$RPMEM_OUT/spec" || die "$(tail -n 1 "$RPMEM_OUT/spec")"
	umount $MNT.xfs && umount $MNT.nd_pmem-xfs || die "umount"
}

if [ "${1:-}" = guest ]; then
	shift
	guest "$@"
	exit
fi

# --- the host ------------------------------------------------------------------

mkdir -p "${RPMEM_CACHE:=$HOME/.cache/rpmem}/runs"
work=$(mktemp -d "$RPMEM_CACHE/runs/model-xfs.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
TARGETS=(xfs-map xfs-append nd_pmem-xfs-map nd_pmem-xfs-append)

# One boot under the model with ADR rules, then check.py's verdict in
# $work/adr/verdict.
model_run()
{
	local dir=$work/adr
	model_boot "$dir" ack=1,fence=0.1,max=3000 \
		"$RPMEM_TOP/selftests/rpmem_model_xfs.sh guest $work" \
		--nvdimm "${RPMEM_MIB}M,file=$dir/rpmem.img" \
		--nvdimm "${ND_MIB}M,file=$dir/nd.img" || return
	python3 "$RPMEM_TOP/tools/model/check.py" "$dir/model/model.log" \
		"$dir/vm/spec" "$dir"/model/init-{0,1}.img --fs-checks "$FS_CHECKS" \
		--kallsyms "$dir/vm/kallsyms" >"$dir/verdict" 2>&1 ||
		{ sed 's/^/# /' "$dir/verdict"; return 1; }
	sed "s/^/# adr: /" "$dir/verdict"
}

# NAME: "ACK-POINTS CLEAN IMAGES LOST" of workload NAME, from its line
# "NAME: N crash points, N after its acknowledgements, ..., N of N
# filesystem images clean, N acknowledged, N lost"; nothing if none.
figures()
{
	sed -n "s/^$1: [0-9]* crash points, \([0-9]*\) after .*, \([0-9]*\) of \([0-9]*\) filesystem images clean, [0-9]* acknowledged, \([0-9]*\) lost$/\1 \2 \3 \4/p" \
		"$work/adr/verdict" 2>/dev/null
}

ktap_plan 7
[ -x "$(build_helper powerfail "$work/bin")" ] || die "cannot build selftests/powerfail.c"
"$RPMEM_TOP/tools/model.sh" >/dev/null || die "tools/model.sh failed"
[[ $RECORDS =~ ^[1-9][0-9]*$ ]] && [[ $FS_CHECKS =~ ^[1-9][0-9]*$ ]] ||
	die "RPMEM_MODEL_XFS_RECORDS=$RECORDS, RPMEM_MODEL_XFS_FS_CHECKS=$FS_CHECKS: want numbers"

model_run && r=ok || r=fail
ktap_result $r "adr: a boot under the model writes every workload, clean kernel log"

for name in "${TARGETS[@]}"; do
	read -r n c i l < <(figures "$name")
	# check.py checks the filesystem after every ceil(N / FS_CHECKS)-th of
	# N acknowledgements, and the last: with N >= FS_CHECKS, at least
	# FS_CHECKS / 2 crash points, two images each.
	[ "${n:-0}" -ge 30 ] && [ "${l:-1}" = 0 ] && [ "${i:-0}" -ge "$FS_CHECKS" ] &&
		[ "$c" = "$i" ] && r=ok || r=fail
	ktap_result $r "adr: $name: ${l:-no verdict} lost at ${n:-no} crash points after acknowledgements, ${c:-no} of ${i:-no} images clean after log replay"
done

# The filesystem oracle, on the first workload alone: a file that is not
# there loses every record; a filesystem looked for 1 MiB further on does
# not check clean.
recheck()	# SED-SCRIPT: of the first workload's lines only
{
	model_recheck "$work/adr" "/^[a-z]* 0 /!d;$1" xfs-map 2 "$work"/adr/model/init-{0,1}.img
}
v=$(recheck 's|xfs:/map|xfs:/missing|')
[[ $v =~ ^([0-9]+)\ of\ ([0-9]+),\ ([1-9][0-9]*)\ lost$ ]] &&
	[ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] && r=ok || r=fail
ktap_result $r "control: xfs records read from a missing file are lost (${v:-no verdict})"
v=$(recheck "s|^fs 0 0 .*|fs 0 1048576 $(((RPMEM_MIB - 1) << 20))|")
[[ $v =~ ^0\ of\ [1-9][0-9]*,\ 0\ lost$ ]] && r=ok || r=fail
ktap_result $r "control: an XFS image 1 MiB off does not check clean (${v:-no verdict})"
ktap_finish

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Namespaces at the edge of what can be served. Two memmap= regions that
# cannot be: one not starting on a page boundary, one smaller than a page;
# rpmem must refuse them as nd_pmem does, with the same error, and leave
# them without a disk. Labelled NFIT namespaces: the smallest a label can
# describe (one page, once the region's alignment is lowered to a page),
# served at that size while nothing follows it and refused, as nd_pmem
# refuses it, once another namespace does; and one with 4096-byte sectors,
# served with that logical block size.
#
# tools/vm.sh --memmap only makes 2 MiB aligned regions, so the two bad ones
# go straight onto the kernel command line with --append.

. "$(dirname "$0")/lib.sh"

PAGE=4096

# --- memmap= regions that cannot be served -----------------------------------

# The namespaces of the two bad memmap= regions, into misaligned and tiny.
find_bad_regions()
{
	local ns start size
	misaligned= tiny=
	for ns in $(namespaces_of e820); do
		start=$(($(cat "$ND/devices/$ns/resource")))
		size=$(cat "$ND/devices/$ns/size")
		if [ $((start % PAGE)) -ne 0 ]; then
			misaligned=$ns
		elif [ "$size" -lt $PAGE ]; then
			tiny=$ns
		fi
	done
	[ -n "$misaligned" ] && [ -n "$tiny" ] ||
		die "want a misaligned and a tiny memmap= region, have: $(namespaces_of e820)"
}

# NAMESPACE: no driver, no disk.
not_served()
{
	[ -z "$(ns_driver "$1")" ] || fail "$1 is bound to $(ns_driver "$1")" || return
	! ns_disk "$1" >/dev/null || fail "$1 has a disk: $(ns_disk "$1")"
}

# EXTENDED-REGEX...: each matches a kernel log line since the last mark.
logged()
{
	local re log
	log=$(kmsg_since)
	for re in "$@"; do
		grep -qE "$re" <<<"$log" || fail "nothing like '$re' in the log:" "$log" || return
	done
}

# DRIVER: both bad regions refused. nvdimm_namespace_common_probe(), which
# both drivers call first, refuses them: a region not starting on a page
# boundary with EOPNOTSUPP and a log line; one smaller than a page with
# ENODEV and only a dev_dbg() line (and the driver core logs ENODEV from a
# probe at debug level too), so there is no message to check for that one,
# under either driver.
refuses_bad_regions()
{
	local drv=$1 start size
	start=$(cat "$ND/devices/$misaligned/resource")
	kmsg_mark
	expect_fail "Operation not supported" "$drv refuses $misaligned, at $start" \
		bind_ns "$misaligned" "$drv"
	check "$drv logs that $misaligned is misaligned" logged \
		"$drv $misaligned: \[mem $start-0x[0-9a-f]+ flags [0-9a-fx]+\] misaligned, unable to map" \
		"$drv $misaligned: probe with driver $drv failed with error -95"
	check "$misaligned has no driver, no disk" not_served "$misaligned"

	size=$(cat "$ND/devices/$tiny/size")
	expect_fail "No such device" "$drv refuses $tiny, $size bytes" bind_ns "$tiny" "$drv"
	check "$tiny has no driver, no disk" not_served "$tiny"
}

# --- labelled namespaces at the edge ------------------------------------------

# Labels on the NVDIMM, the region aligned to a page, and two raw
# namespaces: 8 MiB with 4096-byte sectors, then one page right after it.
# ndctl enables them, which binds them to nd_pmem.
make_namespaces()
{
	local nmem
	for region in "$ND"/devices/region*; do
		[ "$(ns_provider "${region##*/}")" = ACPI.NFIT ] && break
	done
	[ "$(ns_provider "${region##*/}")" = ACPI.NFIT ] || die "no NFIT region"
	region=${region##*/}
	nmem=$(cd "$ND/devices" && echo nmem*)
	ndctl disable-region "$region" >/dev/null 2>&1 &&
		ndctl init-labels -f "$nmem" >/dev/null 2>&1 &&
		ndctl enable-region "$region" >/dev/null 2>&1 ||
		die "cannot write labels on $nmem"
	echo $PAGE >"$ND/devices/$region/align" || die "cannot align $region to a page"
	sector4k=$(new_namespace -l 4096 -s 8M -n sector4k) || die "$sector4k"
	onepage=$(new_namespace -s $PAGE -n onepage) || die "$onepage"
}

# NDCTL-OPTIONS...: a new raw namespace in the NFIT region; prints its name,
# or why there is none.
new_namespace()
{
	local out ns
	out=$(ndctl create-namespace -r "$region" -m raw "$@" 2>&1) ||
		fail "ndctl create-namespace $*: $out" || return
	ns=$(sed -n 's/.*"dev":"\(namespace[0-9.]*\)".*/\1/p' <<<"$out")
	[ -n "$ns" ] || fail "ndctl create-namespace $*: no namespace in: $out" || return
	echo "$ns"
}

# DISK SECTORS LBS: capacity in 512-byte sectors and logical block size.
geometry()
{
	local have
	have="$(cat "/sys/block/$1/size") $(cat "/sys/block/$1/queue/logical_block_size")"
	[ "$have" = "$2 $3" ] || fail "$1: $have, want $2 $3"
}

# DISK: one 4 KiB block written at the start with O_DIRECT reads back.
page_round_trip()
{
	head -c $PAGE /dev/urandom >/tmp/page
	dd if=/tmp/page of="/dev/$1" bs=$PAGE count=1 oflag=direct conv=nocreat,notrunc \
		status=none || return
	dd if="/dev/$1" bs=$PAGE count=1 iflag=direct status=none | cmp -s - /tmp/page ||
		fail "read back other data"
}

write_at_end()
{
	dd if=/dev/zero of="/dev/$1" bs=512 count=1 seek="$(blockdev --getsize64 "/dev/$1")" \
		oflag=direct,seek_bytes conv=nocreat,notrunc status=none
}

# The sector size selected in a labelled namespace's label ("512 [4096]").
has_4k_sectors()
{
	grep -qF '[4096]' "$ND/devices/$1/sector_size" ||
		fail "sector_size: $(cat "$ND/devices/$1/sector_size")"
}

sum_of() { dd if="/dev/$1" bs=64k count=1 iflag=direct status=none | md5sum; }

unchanged() { [ "$(sum_of "$1")" = "$2" ] || fail "the first 64 KiB of $1 changed"; }

ktap_plan 26
manual_binding
load_rpmem || die "cannot load rpmem"
load_nd_pmem || die "cannot load nd_pmem"
find_bad_regions

# 2 x 5: nd_pmem first, the reference.
refuses_bad_regions nd_pmem
refuses_bad_regions rpmem

# 3 + 5 + 8
make_namespaces
rebind_ns "$onepage" rpmem && disk=$(ns_disk "$onepage") || die "cannot bind $onepage"
check "$disk ($onepage, $PAGE bytes): 8 sectors of 512 bytes" geometry "$disk" 8 512
check "$disk: its one page written and read back" page_round_trip "$disk"
expect_fail "No space left on device" "$disk: write at the end" write_at_end "$disk"

# Too small to serve, with labels: both drivers first map the namespace's
# first 8 KiB (devm_namespace_enable() with nd_info_block_reserve()) to
# look for a btt/pfn/dax info block. One page followed right away by
# another namespace has no 8 KiB to give: EBUSY, "could not reserve region".
unbind_ns "$onepage"
out=$(new_namespace -s 8K -n neighbour) || die "$out"
start=$(cat "$ND/devices/$onepage/resource")
for drv in nd_pmem rpmem; do
	kmsg_mark
	expect_fail "Device or resource busy" "$drv refuses $onepage, one page before another" \
		bind_ns "$onepage" "$drv"
	check "$drv logs that it could not reserve $onepage's first 8 KiB" logged \
		"$drv $onepage: could not reserve region \[.*$start-0x[0-9a-f]+.*\]"
done
check "$onepage has no driver, no disk" not_served "$onepage"

rebind_ns "$sector4k" rpmem && disk=$(ns_disk "$sector4k") || die "cannot bind $sector4k"
check "$sector4k has 4096-byte sectors" has_4k_sectors "$sector4k"
check "$disk ($sector4k, 8 MiB): 4096-byte logical blocks" geometry "$disk" 16384 4096
check "$disk: a 4 KiB block written and read back" page_round_trip "$disk"
sum=$(sum_of "$disk")
expect_fail "Invalid argument" "$disk: O_DIRECT write of 512 bytes" \
	dd if=/dev/urandom of="/dev/$disk" bs=512 count=1 oflag=direct conv=nocreat,notrunc \
	status=none
expect_fail "Invalid argument" "$disk: O_DIRECT write of 4 KiB at byte 512" \
	xfs_io -d -c "pwrite -S 0x5a 512 4096" "/dev/$disk"
expect_fail "Invalid argument" "$disk: O_DIRECT read of 4 KiB at byte 512" \
	xfs_io -d -c "pread 512 4096" "/dev/$disk"
check "$disk: the refused writes changed nothing" unchanged "$disk" "$sum"
expect_fail "No space left on device" "$disk: write at the end" write_at_end "$disk"
ktap_finish

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Compatibility with nd_pmem: on the same raw namespace, data written by
# rpmem reads back identically through nd_pmem after rebinding, and the
# other way round, on an NFIT namespace and on a memmap= region.

. "$(dirname "$0")/lib.sh"

# DISK-NAME PATTERN SECTOR: O_DIRECT write, then read back.
write_at() { dd if="$2" of="/dev/$1" bs=4k seek="$3" oflag=direct status=none; }
same_at() { dd if="/dev/$1" bs=4k skip="$3" count=64 iflag=direct status=none | cmp - "$2"; }

# NAMESPACE: rpmem -> nd_pmem -> rpmem, comparing both ways; the disk is
# pmemX under nd_pmem and rpmemX under rpmem.
round_trip()
{
	local ns=$1 a=/tmp/a.$1 b=/tmp/b.$1 rdisk pdisk
	head -c 256K /dev/urandom >"$a"
	head -c 256K /dev/urandom >"$b"
	rebind_ns "$ns" rpmem && rdisk=$(ns_disk "$ns") || return 1
	write_at "$rdisk" "$a" 100 || return 1
	rebind_ns "$ns" nd_pmem && pdisk=$(ns_disk "$ns") || return 1
	[ "$rdisk" = "r$pdisk" ] || { echo "disks $rdisk and $pdisk"; return 1; }
	same_at "$pdisk" "$a" 100 || { echo "nd_pmem reads other data"; return 1; }
	write_at "$pdisk" "$b" 300 || return 1
	rebind_ns "$ns" rpmem || return 1
	same_at "$rdisk" "$b" 300 || { echo "rpmem reads other data"; return 1; }
	same_at "$rdisk" "$a" 100
}

ktap_plan 3
manual_binding
load_rpmem
nfit=$(namespace_of ACPI.NFIT)
e820=$(namespace_of e820)

# nd_pmem must really be there, and must leave both namespaces alone while
# the bus does not autoprobe.
nd_pmem_idle()
{
	load_nd_pmem || return
	[ -d "$ND/drivers/nd_pmem" ] || fail "no nd_pmem driver on the nd bus" || return
	[ -z "$(ns_driver "$nfit")$(ns_driver "$e820")" ] || fail "a namespace got bound"
}

check "nd_pmem loads and binds nothing by itself" nd_pmem_idle
check "rpmem to nd_pmem and back, NFIT namespace $nfit" round_trip "$nfit"
check "rpmem to nd_pmem and back, memmap region $e820" round_trip "$e820"
ktap_finish

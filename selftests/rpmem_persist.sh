#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Persistence: a VM writes a pattern through rpmem (O_DIRECT, no sync) to an
# NFIT namespace and to a memmap= region, then powers off at once (sysrq o:
# no unmount, no flush from userspace). A second VM on the same backing
# files reads the pattern back through rpmem, and the host finds the bytes
# in the backing files at the right offsets.

. "$(dirname "$0")/lib.sh"

memmap_start=$((512 << 20))
nv_off=$((64 << 20)) mm_off=$((32 << 20)) len=$((4 << 20))

# In the guest: rpmem's disks on the NVDIMM and on the memmap= region.
guest_disks()
{
	load_rpmem
	nfit=/dev/$(ns_disk "$(namespace_of ACPI.NFIT)")
	e820=/dev/$(ns_disk "$(namespace_of e820)")
}

# PATTERN: write it to both disks, power off at once.
guest_write()
{
	dd if="$1" of="$nfit" bs=1M seek=$((nv_off >> 20)) oflag=direct status=none
	dd if="$1" of="$e820" bs=1M seek=$((mm_off >> 20)) oflag=direct status=none
	echo 0 >"$RPMEM_OUT/rc"
	echo o >/proc/sysrq-trigger
	sleep 30
}

# PATTERN: both disks hold it.
guest_read()
{
	dd if="$nfit" bs=1M skip=$((nv_off >> 20)) count=$((len >> 20)) iflag=direct \
		status=none | cmp - "$1"
	dd if="$e820" bs=1M skip=$((mm_off >> 20)) count=$((len >> 20)) iflag=direct \
		status=none | cmp - "$1"
}

if [ "${1:-}" = guest ]; then
	set -e
	guest_disks
	"guest_$2" "$3"
	exit
fi

set -e
# Under the cache, not /tmp: the guest sees the host's files, but has its own /tmp.
mkdir -p "${RPMEM_CACHE:=$HOME/.cache/rpmem}/runs"
work=$(mktemp -d "$RPMEM_CACHE/runs/persist.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
nv=$work/nvdimm.img ram=$work/ram.img pattern=$work/pattern
head -c $len /dev/urandom >"$pattern"

# N STEP: boot N on the same backing files, running guest_STEP there.
vm()
{
	"$RPMEM_TOP/tools/vm.sh" --quiet --out "$work/vm$1" --nvdimm "512M,file=$nv" \
		--memmap "256M!$memmap_start" --ram-file "$ram" -- \
		"$RPMEM_TOP/selftests/rpmem_persist.sh" guest "$2" "$pattern"
}

# The pattern is nowhere else in the NVDIMM's backing file.
not_elsewhere() { ! cmp -s -n $len -i $((nv_off + len)):0 "$nv" "$pattern"; }

ktap_plan 5
set +e
check "write pattern and power off uncleanly" vm 1 write
check "read pattern back after reboot" vm 2 read
check "pattern in the NVDIMM backing file at the namespace offset" \
	cmp -n $len -i "$nv_off:0" "$nv" "$pattern"
check "pattern in the RAM backing file at the memmap= offset" \
	cmp -n $len -i "$((memmap_start + mm_off)):0" "$ram" "$pattern"
check "control: the pattern is not elsewhere in the backing file" not_elsewhere
ktap_finish

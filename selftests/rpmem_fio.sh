#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Data integrity: fio writes checksummed blocks through rpmem, the caches
# are dropped, and a second pass verifies every block read back through the
# driver. Block sizes 512 B to 1 MiB, sequential and random, O_DIRECT and
# buffered, six jobs at once (one with its buffer in a huge page), on an
# NFIT namespace and a memmap= region. RPMEM_FIO_MIB (default 16) scales
# the volume: each pass writes and verifies 9 times that many MiB per
# target (the KASAN tier runs a smaller
# pass: the same jobs and paths, less time on KASAN's instrumented copies).

. "$(dirname "$0")/lib.sh"

mib=${RPMEM_FIO_MIB:-16}
[[ $mib =~ ^[1-9][0-9]*$ ]] && [ "$mib" -le 16 ] ||
	die "RPMEM_FIO_MIB=$mib: a whole number of MiB, 1 to 16"

# TARGET DIRECT: write, drop caches, verify.
fio_verify()
{
	local dev=$1 direct=$2 job=/tmp/verify.fio
	cat >"$job" <<-JOB
	[global]
	filename=$dev
	direct=$direct
	ioengine=psync
	verify=crc32c
	verify_fatal=1
	do_verify=0
	size=${mib}M
	[seq512]
	rw=write
	bs=512
	offset=0
	[rand4k]
	rw=randwrite
	bs=4k
	offset=$((2 * mib))M
	[rand64k]
	rw=randwrite
	bs=64k
	offset=$((4 * mib))M
	[seq1m]
	rw=write
	bs=1M
	offset=$((6 * mib))M
	size=$((2 * mib))M
	[mixed]
	rw=randwrite
	bsrange=512-1M
	offset=$((10 * mib))M
	size=$((2 * mib))M
	[huge1m]
	rw=randwrite
	bs=1M
	iomem=shmhuge
	hugepage-size=2M
	offset=$((12 * mib))M
	size=$((2 * mib))M
	JOB
	fio --output-format=terse "$job" >/tmp/fio.out 2>&1 || { cat /tmp/fio.out; return 1; }
	sync
	echo 3 >/proc/sys/vm/drop_caches
	blockdev --flushbufs "$dev"
	sed -i 's/^do_verify=0/do_verify=1/' "$job"
	fio --verify_only "$job" >/tmp/fio.out 2>&1 || { cat /tmp/fio.out; return 1; }
}

# The verify pass must notice a block changed behind fio's back.
fio_detects_corruption()
{
	local dev=$1
	fio_verify "$dev" 1 || return 1
	dd if=/dev/zero of="$dev" bs=4k seek=$((2 * mib * 256 + 17)) count=1 oflag=direct \
		status=none || return 1
	! fio --verify_only /tmp/verify.fio >/tmp/fio.out 2>&1
}

ktap_plan 6
# The buffer of the job huge1m: one 2 MiB page, whose 1 MiB I/Os reach
# the driver as single multi-page bio_vecs.
echo 2 >/proc/sys/vm/nr_hugepages
load_rpmem
bound=("$ND"/drivers/rpmem/namespace*)
check "rpmem bound to the NFIT and the e820 namespace" test ${#bound[@]} -eq 2
nfit=/dev/$(ns_disk "$(namespace_of ACPI.NFIT)")
e820=/dev/$(ns_disk "$(namespace_of e820)")
check "fio verify, O_DIRECT, NFIT namespace $nfit" fio_verify "$nfit" 1
check "fio verify, buffered, NFIT namespace $nfit" fio_verify "$nfit" 0
check "fio verify, O_DIRECT, memmap region $e820" fio_verify "$e820" 1
check "fio verify, buffered, memmap region $e820" fio_verify "$e820" 0
check "fio verify notices a corrupted block" fio_detects_corruption "$nfit"
ktap_finish

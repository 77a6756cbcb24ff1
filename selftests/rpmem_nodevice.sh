#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Nothing to serve: in a VM with no NVDIMM and no memmap= region, rpmem
# loads, registers its driver, makes no disk, logs no error and unloads,
# twice. (The runner fails the test on any WARNING or oops besides.)

. "$(dirname "$0")/lib.sh"

# The VM really has no persistent memory: no namespace, no region, and
# nothing of the kind in the physical address map.
no_pmem()
{
	local devs
	devs=$(compgen -G "$ND/devices/namespace*"; compgen -G "$ND/devices/region*")
	[ -z "$devs" ] || fail "nd devices:" $devs || return
	! grep -qi 'persistent memory' /proc/iomem || fail "$(grep -i persistent /proc/iomem)"
}

no_disk()
{
	! ls -d /sys/block/rpmem* >/dev/null 2>&1 || fail "disks: $(ls -d /sys/block/rpmem*)" ||
		return
	! grep -q rpmem /proc/partitions || fail "in /proc/partitions: $(grep rpmem /proc/partitions)"
}

# Loaded, its driver on the nd bus, bound to nothing.
registered()
{
	local f
	[ "$(cat /sys/module/rpmem/initstate)" = live ] || fail "rpmem is not live" || return
	[ -d "$ND/drivers/rpmem" ] || fail "no rpmem driver on the nd bus" || return
	# Bound devices are links in the driver's directory, as is "module".
	for f in "$ND"/drivers/rpmem/*; do
		[ ! -L "$f" ] || [ "${f##*/}" = module ] || fail "bound to ${f##*/}" || return
	done
}

unloaded()
{
	[ ! -e /sys/module/rpmem ] || fail "/sys/module/rpmem is still there" || return
	[ ! -e "$ND/drivers/rpmem" ] || fail "the rpmem driver is still on the nd bus"
}

# Kernel log lines of level warning or worse since the mark, except the
# notice that an out-of-tree module taints the kernel.
quiet_log()
{
	local bad
	bad=$(kmsg_since | grep -E '^<[0-4]>' | grep -v 'loading out-of-tree module taints kernel')
	[ -z "$bad" ] || fail "$bad"
}

ktap_plan 14
check "no NVDIMM, no memmap= region in this VM" no_pmem
kmsg_mark
for i in 1 2; do
	check "insmod rpmem.ko ($i)" insmod "$RPMEM_KO"
	check "rpmem registered, bound to nothing ($i)" registered
	check "no rpmem disk ($i)" no_disk
	check "rmmod rpmem ($i)" rmmod rpmem
	check "rpmem gone ($i)" unloaded
done
# Nothing to bind: the bus says so, as for any unknown name.
check "insmod rpmem.ko (3)" insmod "$RPMEM_KO"
expect_fail "No such device" "binding namespace0.0, which does not exist" \
	bind_ns namespace0.0 rpmem
check "no warning or error in the kernel log" quiet_log
ktap_finish

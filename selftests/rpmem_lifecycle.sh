#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Lifecycle: bind/unbind and insmod/rmmod cycles with a device open and with
# I/O running, on two namespaces at once. Nothing may oops, hang or leak a
# module reference.

. "$(dirname "$0")/lib.sh"

CYCLES=${CYCLES:-20}

# Background readers and writers on every rpmem disk; they may see errors
# when the disk goes away, which is the point. Writers never create a file
# in place of a node that is gone (conv=nocreat), and the I/O is under way
# before this returns.
start_io()
{
	local d
	for d in /sys/block/rpmem*; do
		dd if=/dev/urandom of="/dev/${d##*/}" bs=64k count=100000 oflag=direct \
			conv=nocreat,notrunc status=none 2>/dev/null &
		dd if="/dev/${d##*/}" of=/dev/null bs=64k count=100000 iflag=direct \
			status=none 2>/dev/null &
	done
	sleep 0.5
}

# shellcheck disable=SC2046 # one argument per job
stop_io() { kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; true; }

bind_cycles()
{
	local i ns
	for ((i = 0; i < CYCLES; i++)); do
		start_io
		for ns in "$@"; do
			unbind_ns "$ns" || return
			[ -z "$(ns_driver "$ns")" ] || fail "cycle $i: $ns still bound" || return
		done
		stop_io
		for ns in "$@"; do
			bind_ns "$ns" rpmem || return
			udev_settle "$ns" || fail "cycle $i: no disk for $ns"
		done
	done
}

open_unbind_cycles()
{
	local i ns=$1 disk
	for ((i = 0; i < CYCLES; i++)); do
		disk=$(ns_disk "$ns") || fail "cycle $i: no disk for $ns" || return
		[ -b "/dev/$disk" ] || fail "cycle $i: /dev/$disk is no block device" || return
		exec 3<>"/dev/$disk"
		unbind_ns "$ns" || return
		# I/O on the stale descriptor fails cleanly once the disk is gone.
		if dd if=/dev/zero bs=4k count=1 oflag=direct status=none >&3 2>/dev/null; then
			fail "cycle $i: write to a deleted disk succeeded"
			return
		fi
		exec 3>&-
		bind_ns "$ns" rpmem || return
		udev_settle "$ns" || fail "cycle $i: no disk for $ns" || return
	done
}

module_cycles()
{
	local i
	for ((i = 0; i < CYCLES; i++)); do
		insmod "$RPMEM_KO" || return
		disks=(/sys/block/rpmem*)
		[ ${#disks[@]} -eq 2 ] || fail "cycle $i: disks ${disks[*]}" || return
		start_io
		sleep 0.2
		stop_io
		rmmod rpmem || return
	done
	[ ! -e /sys/module/rpmem ]
}

rmmod_while_open()
{
	local out
	[ -b "/dev/$(ns_disk "$1")" ] || fail "no block device for $1" || return
	exec 3<"/dev/$(ns_disk "$1")"
	out=$(rmmod rpmem 2>&1) && fail "rmmod succeeded" && return 1
	exec 3<&-
	[[ $out == *"in use"* ]] || fail "rmmod said: $out" || return
	[ "$(cat /sys/module/rpmem/refcnt)" -eq 0 ]
}

ktap_plan 5
load_rpmem
nfit=$(namespace_of ACPI.NFIT)
e820=$(namespace_of e820)
check "$CYCLES unbind/bind cycles of two namespaces under I/O" bind_cycles "$nfit" "$e820"
check "$CYCLES unbinds with the disk open" open_unbind_cycles "$nfit"
check "rmmod fails while a disk is open, refcount back to 0 after" rmmod_while_open "$nfit"
rmmod rpmem
check "$CYCLES insmod/rmmod cycles with I/O running" module_cycles
check "no rpmem disk left behind" bash -c '! ls -d /sys/block/rpmem* 2>/dev/null'
ktap_finish

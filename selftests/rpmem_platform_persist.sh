#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Hard-kill persistence where the pmem is a host file: virtio-pmem (two
# devices) and CXL (one type-3 device, a region, two namespaces). A VM
# writes through rpmem, then the host kills QEMU with SIGKILL (no
# shutdown, no flush from anyone):
#
#  - raw: a pattern written O_DIRECT and fsync'd (dd conv=fsync) to a disk
#    must be in the backing file where the namespace puts that disk offset;
#  - ext4 -o dax: a file written and fsync'd must be in the backing file at
#    the place its extent map (FIEMAP, read in the guest) says;
#  - a second boot on the same files (for CXL: the region made again, the
#    namespaces back from their labels) reads both back through rpmem
#    (ext4 replays its journal first).
#
# Where a namespace starts in its backing file the guest works out: a
# virtio-pmem namespace at 0 of its device's file; a CXL one at its
# device physical address, the endpoint decoder's DPA base plus the
# namespace's offset in the (one-way) region.
#
# Control: a pattern written to a raw disk through the guest's page cache
# (buffered, no fsync, the guest's periodic writeback off, the disk kept
# open so that its last close does not write it back) must not be in
# the backing file: a write that stays in the guest is lost, so the check
# that finds the others can fail.
#
# What this cannot show: QEMU maps the backing files shared, so a store of
# the guest is in the host's page cache at once and a killed QEMU loses
# nothing the guest stored; what the host flush adds (the host's own fsync,
# for a host crash) is not observable here. rpmem_virtio counts those
# flushes instead, rpmem_cxl the region flushes, and rpmem_virtio_crash
# models the host crash.

. "$(dirname "$0")/lib.sh"

PLATFORMS=(virtio cxl)
# Namespace sizes in MiB, which tell them apart in the guest.
RAW_MIB=128 DAX_MIB=192
# Byte offsets on the raw disks, and the pattern length.
RAW_OFF=$((64 << 20)) CTL_OFF=$((96 << 20)) LEN=$((4 << 20))

# --- the guest ---------------------------------------------------------------

# The CXL region (made again at each boot: nothing keeps it) and, at the
# first boot, its two namespaces; rpmem binds them as they come.
cxl_setup()
{
	local out r i ns
	out=$(cxl create-region -m -t pmem -d decoder0.0 -w 1 mem0) || return
	CXL_REGION=$(jq -r .region <<<"$out")
	for ((i = 0; i < 100; i++)); do
		for r in "$ND"/devices/region*; do
			[ -e "$r/driver" ] && [ "$(ns_provider "${r##*/}")" = CXL ] &&
				NDR=${r##*/} && break 2
		done
		sleep 0.1
	done
	[ -n "${NDR:-}" ] || fail "no CXL region on the nd bus" || return
	if [ "$1" = write ]; then
		ndctl create-namespace -r "$NDR" -m raw -s ${RAW_MIB}M >/dev/null &&
			ndctl create-namespace -r "$NDR" -m raw -s ${DAX_MIB}M >/dev/null ||
			return
	fi
	# ndctl loads nd_pmem and binds what it enables: rpmem's, all of them.
	for ns in "$ND"/devices/namespace*; do
		[ "$(ns_provider "${ns##*/}")" = CXL ] && [ -n "$(ns_driver "${ns##*/}")" ] &&
			[ "$(ns_driver "${ns##*/}")" != rpmem ] &&
			{ rebind_ns "${ns##*/}" rpmem || return; }
	done
	return 0
}

# NAMESPACE: where it starts in its backing file.
file_offset()
{
	local dec dpa
	[ "$(ns_provider "$1")" = CXL ] || { echo 0; return; }
	dec=$(cat "/sys/bus/cxl/devices/$CXL_REGION/target0") &&
		dpa=$(cat "/sys/bus/cxl/devices/$dec/dpa_resource") || return
	echo $((dpa + $(cat "$ND/devices/$1/resource") - $(cat "$ND/devices/$NDR/resource")))
}

# DISK[PLATFORM/raw], DISK[PLATFORM/dax]: rpmem's disks, by provider and
# namespace size; "PLATFORM/KIND OFFSET" lines (where each starts in its
# backing file) into the run directory.
find_disks()
{
	local ns size plat kind i
	for ((i = 0; i < 50; i++)); do
		for ns in "$ND"/devices/namespace*; do
			read -r size <"$ns/size"
			case $(ns_provider "${ns##*/}") in
			virtio-pmem) plat=virtio ;;
			CXL) plat=cxl ;;
			*) continue ;;
			esac
			case $size in
			$((RAW_MIB << 20))) kind=raw ;;
			$((DAX_MIB << 20))) kind=dax ;;
			*) continue ;;
			esac
			[ "$(ns_driver "${ns##*/}")" = rpmem ] && udev_settle "${ns##*/}" ||
				continue
			DISK[$plat/$kind]=/dev/$(ns_disk "${ns##*/}")
			echo "$plat/$kind $(file_offset "${ns##*/}")"
		done >/tmp/layout
		[ ${#DISK[@]} -eq 4 ] && break
		sleep 0.1
	done
	[ ${#DISK[@]} -eq 4 ] || fail "want 4 rpmem disks, have: $(cat /tmp/layout)"
}

# PLATFORM: write to its disks; keep the extents of the DAX file.
write_platform()
{
	local plat=$1
	dd if="$work/raw" of="${DISK[$plat/raw]}" bs=1M seek=$((RAW_OFF >> 20)) \
		oflag=direct conv=fsync status=none || return
	mkfs.ext4 -q -F -b 4096 "${DISK[$plat/dax]}" && mkdir -p "/tmp/$plat" &&
		mount -o dax "${DISK[$plat/dax]}" "/tmp/$plat" || return
	xfs_io -f -c "pwrite -q -i $work/dax 0 $LEN" -c fsync "/tmp/$plat/file" || return
	extents_of "/tmp/$plat/file" >"/tmp/$plat.extents" ||
		{ cat "/tmp/$plat.extents"; return 1; }
	# The last close of a block device writes its dirty pages back: keep
	# it open until the end (fd never closed, never read).
	# shellcheck disable=SC2034
	exec {fd}<"${DISK[$plat/raw]}"
	dd if="$work/ctl" of="${DISK[$plat/raw]}" bs=1M seek=$((CTL_OFF >> 20)) status=none
}

# Boot 1: write, report where, wait to be killed.
guest_write()
{
	local plat
	declare -A DISK
	load_rpmem && cxl_setup write && find_disks || return
	# The control stays in the page cache: no periodic writeback.
	echo 0 >/proc/sys/vm/dirty_writeback_centisecs
	echo 360000 >/proc/sys/vm/dirty_expire_centisecs
	for plat in "${PLATFORMS[@]}"; do
		write_platform "$plat" || fail "$plat: writes failed" || return
		cp "/tmp/$plat.extents" "$RPMEM_OUT/$plat.extents"
	done
	grep -q '^Dirty: *[1-9]' /proc/meminfo || fail "the controls are not dirty in the page cache" || return
	cp /tmp/layout "$RPMEM_OUT/layout"
	: >"$RPMEM_OUT/ready"
	sleep 600
}

# Boot 2: read all back through rpmem.
guest_read()
{
	local plat
	declare -A DISK
	load_rpmem && cxl_setup read && find_disks || return
	for plat in "${PLATFORMS[@]}"; do
		dd if="${DISK[$plat/raw]}" bs=1M skip=$((RAW_OFF >> 20)) count=$((LEN >> 20)) \
			iflag=direct status=none | cmp - "$work/raw" || return
		mkdir -p "/tmp/$plat" && mount -o dax "${DISK[$plat/dax]}" "/tmp/$plat" || return
		cmp "/tmp/$plat/file" "$work/dax" && umount "/tmp/$plat" || return
	done
}

if [ "${1:-}" = guest ]; then
	work=$3
	"guest_$2" || { echo "guest_$2 failed" >&2; exit 1; }
	exit
fi

# --- the host ----------------------------------------------------------------

mkdir -p "${RPMEM_CACHE:=$HOME/.cache/rpmem}/runs"
work=$(mktemp -d "$RPMEM_CACHE/runs/platform-persist.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
for p in raw dax ctl; do
	head -c $LEN /dev/urandom >"$work/$p"
done
CXL_MIB=512

# N WHAT: boot N of the guest, doing WHAT; output in $work/vmN.
vm()
{
	"$RPMEM_TOP/tools/vm.sh" --quiet --out "$work/vm$1" --pidfile "$work/vm$1/qemu.pid" \
		--virtio-pmem "${RAW_MIB}M,file=$work/virtio-raw.img" \
		--virtio-pmem "${DAX_MIB}M,file=$work/virtio-dax.img" \
		--cxl-pmem "${CXL_MIB}M,file=$work/cxl.img,lsa=$work/cxl-lsa.img" \
		-- "$RPMEM_TOP/selftests/rpmem_platform_persist.sh guest $2 $work" 2>"$work/vm$1.log"
}

# Boot 1, killed with SIGKILL once the guest is ready; vm.sh must say 95.
write_and_kill()
{
	local pid st=0 dir=$work/vm1
	mkdir -p "$dir"
	vm 1 write &
	pid=$!
	kill_on_sign $pid "$dir" ready
	wait $pid || st=$?
	[ -e "$dir/ready" ] && [ $st -eq 95 ] && return
	echo "vm.sh: $st; guest ready: $([ -e "$dir/ready" ] && echo yes || echo no)"
	cat "$work/vm1.log"
	tr -d '\r' <"$dir/console.log" | grep -av '^\[ *[0-9.]*\]' | tail -n 12
	return 1
}

# PLATFORM/KIND: its backing file and where its namespace starts there.
image_of()
{
	local off
	off=$(awk -v k="$1" '$1 == k { print $2 }' "$work/vm1/layout" 2>/dev/null)
	[[ $off =~ ^[0-9]+$ ]] || fail "no offset for $1 from the guest" || return
	case $1 in
	virtio/*) echo "$work/virtio-${1#*/}.img $off" ;;
	cxl/*) echo "$work/cxl.img $off" ;;
	esac
}

# PLATFORM NAME OFFSET: the pattern NAME is in the raw disk's backing file
# at disk offset OFFSET.
pattern_at()
{
	local where img base
	where=$(image_of "$1/raw") || fail "$where" || return
	read -r img base <<<"$where"
	cmp -n $LEN -i "$(($3 + base)):0" "$img" "$work/$2"
}

# PLATFORM: the DAX file's extents, as the guest saw them, hold the
# pattern and add up to all of it.
file_in_image()
{
	local at disk len sum=0 where img base ext=$work/vm1/$1.extents
	where=$(image_of "$1/dax") || fail "$where" || return
	read -r img base <<<"$where"
	[ -s "$ext" ] || fail "no extent list from the guest" || return
	while read -r at disk len; do
		[ $((at + len)) -le $LEN ] || len=$((LEN - at))
		cmp -n "$len" -i "$((disk + base)):$at" "$img" "$work/dax" || return
		sum=$((sum + len))
	done <"$ext"
	[ $sum -eq $LEN ] || fail "the extents hold $sum bytes of $LEN"
}

# PLATFORM: the control pattern is not in the raw disk's backing file.
control_lost()
{
	image_of "$1/raw" >/dev/null || return
	! pattern_at "$1" ctl $CTL_OFF >/dev/null 2>&1
}

ktap_plan $((2 + 3 * ${#PLATFORMS[@]}))
check "write through rpmem (raw O_DIRECT + fsync, ext4 DAX file + fsync), SIGKILL QEMU" \
	write_and_kill
for plat in "${PLATFORMS[@]}"; do
	check "$plat: raw: the pattern is in the backing file at its disk offset" \
		pattern_at "$plat" raw $RAW_OFF
	check "$plat: ext4 -o dax: the file is in the backing file where FIEMAP put it" \
		file_in_image "$plat"
	check "$plat: control: a buffered write without fsync is not in the backing file" \
		control_lost "$plat"
done
check "a second boot reads all back through rpmem" vm 2 read
ktap_finish

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Hard-kill persistence on virtio-pmem: a VM writes through rpmem to two
# virtio-pmem devices backed by host files, then the host kills QEMU with
# SIGKILL (no shutdown, no flush from anyone):
#
#  - raw: a pattern written O_DIRECT and fsync'd (dd conv=fsync) to the
#    disk must be in the backing file at the same offset;
#  - ext4 -o dax: a file written and fsync'd must be in the backing file at
#    the place its extent map (FIEMAP, read in the guest) says;
#  - a second boot on the same files reads both back through rpmem (ext4
#    replays its journal first).
#
# Control: a pattern written to the raw disk through the guest's page cache
# (buffered, no fsync, the guest's periodic writeback off, the disk kept
# open so that its last close does not write it back) must not be in
# the backing file: a write that stays in the guest is lost, so the check
# that finds the others can fail.
#
# What this cannot show: QEMU maps the backing files shared, so a store of
# the guest is in the host's page cache at once and a killed QEMU loses
# nothing the guest stored; what the host flush adds (the host's own fsync,
# for a host crash) is not observable here. rpmem_virtio counts those
# flushes instead.

. "$(dirname "$0")/lib.sh"

# Device sizes in MiB, which tell the namespaces apart in the guest.
RAW_MIB=128 DAX_MIB=192
# Byte offsets on the raw disk, and the pattern length.
RAW_OFF=$((64 << 20)) CTL_OFF=$((96 << 20)) LEN=$((4 << 20))

# --- the guest ---------------------------------------------------------------

# DISK[raw], DISK[dax]: the disks, by namespace size.
find_disks()
{
	local ns size
	for ns in "$ND"/devices/namespace*; do
		read -r size <"$ns/size"
		case $size in
		$((RAW_MIB << 20))) DISK[raw]=/dev/$(ns_disk "${ns##*/}") ;;
		$((DAX_MIB << 20))) DISK[dax]=/dev/$(ns_disk "${ns##*/}") ;;
		esac
	done
	[ -b "${DISK[raw]:-}" ] && [ -b "${DISK[dax]:-}" ] ||
		fail "no rpmem disks of $RAW_MIB and $DAX_MIB MiB: ${DISK[*]}"
}

# FILE: where its data is on the disk, from FIEMAP: one line per extent,
# "OFFSET-IN-FILE OFFSET-ON-DISK LENGTH" in bytes. xfs_io prints an extent
# as "N: [FIRST..LAST]: DISK-FIRST..DISK-LAST", in 512-byte units.
extents_of()
{
	local map line n=0
	map=$(xfs_io -c 'fiemap' "$1") || return
	while IFS= read -r line; do
		[[ $line =~ ^[[:space:]]*[0-9]+:\ \[([0-9]+)\.\.([0-9]+)\]:\ ([0-9]+)\.\. ]] || continue
		echo "$((BASH_REMATCH[1] * 512)) $((BASH_REMATCH[3] * 512))" \
			"$(((BASH_REMATCH[2] - BASH_REMATCH[1] + 1) * 512))"
		n=$((n + 1))
	done <<<"$map"
	[ $n -gt 0 ] || fail "no extents for $1: $map"
}

# Boot 1: write, report where, wait to be killed.
guest_write()
{
	local work=$1
	declare -A DISK
	load_rpmem && find_disks || return
	# The control stays in the page cache: no periodic writeback.
	echo 0 >/proc/sys/vm/dirty_writeback_centisecs
	echo 360000 >/proc/sys/vm/dirty_expire_centisecs
	dd if="$work/raw" of="${DISK[raw]}" bs=1M seek=$((RAW_OFF >> 20)) \
		oflag=direct conv=fsync status=none || return
	mkfs.ext4 -q -F -b 4096 "${DISK[dax]}" && mkdir -p /tmp/m &&
		mount -o dax "${DISK[dax]}" /tmp/m || return
	xfs_io -f -c "pwrite -q -i $work/dax 0 $LEN" -c fsync /tmp/m/file || return
	extents_of /tmp/m/file >/tmp/extents || { cat /tmp/extents; return 1; }
	# The last close of a block device writes its dirty pages back: keep
	# it open until the end.
	exec 7<"${DISK[raw]}"
	dd if="$work/ctl" of="${DISK[raw]}" bs=1M seek=$((CTL_OFF >> 20)) status=none || return
	grep -q '^Dirty: *[1-9]' /proc/meminfo || fail "the control is not dirty in the page cache" || return
	cp /tmp/extents "$RPMEM_OUT/extents"
	: >"$RPMEM_OUT/ready"
	sleep 600
}

# Boot 2: read both back through rpmem.
guest_read()
{
	local work=$1
	declare -A DISK
	load_rpmem && find_disks || return
	dd if="${DISK[raw]}" bs=1M skip=$((RAW_OFF >> 20)) count=$((LEN >> 20)) \
		iflag=direct status=none | cmp - "$work/raw" || return
	mkdir -p /tmp/m && mount -o dax "${DISK[dax]}" /tmp/m || return
	cmp /tmp/m/file "$work/dax" && umount /tmp/m
}

if [ "${1:-}" = guest ]; then
	"guest_$2" "$3" || { echo "guest_$2 failed" >&2; exit 1; }
	exit
fi

# --- the host ----------------------------------------------------------------

mkdir -p "${RPMEM_CACHE:=$HOME/.cache/rpmem}/runs"
work=$(mktemp -d "$RPMEM_CACHE/runs/virtio-persist.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
for p in raw dax ctl; do
	head -c $LEN /dev/urandom >"$work/$p"
done

# N WHAT: boot N of the guest, doing WHAT; output in $work/vmN.
vm()
{
	"$RPMEM_TOP/tools/vm.sh" --quiet --out "$work/vm$1" --pidfile "$work/vm$1/qemu.pid" \
		--virtio-pmem "${RAW_MIB}M,file=$work/raw.img" \
		--virtio-pmem "${DAX_MIB}M,file=$work/dax.img" \
		-- "$RPMEM_TOP/selftests/rpmem_virtio_persist.sh guest $2 $work" 2>"$work/vm$1.log"
}

# Boot 1, killed with SIGKILL once the guest is ready; vm.sh must say 95.
write_and_kill()
{
	local pid qpid i st=0 dir=$work/vm1
	mkdir -p "$dir"
	vm 1 write &
	pid=$!
	for ((i = 0; i < 3000 * ${RPMEM_VM_SLOWDOWN:-1}; i++)); do
		[ -e "$dir/ready" ] && [ -s "$dir/qemu.pid" ] && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	if [ -e "$dir/ready" ]; then
		qpid=$(cat "$dir/qemu.pid")
		[[ $qpid =~ ^[0-9]+$ ]] && kill -0 $pid 2>/dev/null && kill -KILL "$qpid"
	fi
	wait $pid || st=$?
	[ -e "$dir/ready" ] && [ $st -eq 95 ] && return
	echo "vm.sh: $st; guest ready: $([ -e "$dir/ready" ] && echo yes || echo no)"
	cat "$work/vm1.log"
	tr -d '\r' <"$dir/console.log" | grep -av '^\[ *[0-9.]*\]' | tail -n 12
	return 1
}

# NAME IMG OFFSET: the pattern NAME is in IMG at OFFSET.
pattern_at() { cmp -n $LEN -i "$3:0" "$2" "$work/$1"; }

# The DAX file's extents, as the guest saw them, hold the pattern and add
# up to all of it.
file_in_image()
{
	local at disk len sum=0
	[ -s "$work/vm1/extents" ] || fail "no extent list from the guest" || return
	while read -r at disk len; do
		[ $((at + len)) -le $LEN ] || len=$((LEN - at))
		cmp -n "$len" -i "$disk:$at" "$work/dax.img" "$work/dax" || return
		sum=$((sum + len))
	done <"$work/vm1/extents"
	[ $sum -eq $LEN ] || fail "the extents hold $sum bytes of $LEN"
}

ktap_plan 5
check "write through rpmem (raw O_DIRECT + fsync, ext4 DAX file + fsync), SIGKILL QEMU" \
	write_and_kill
check "raw: the pattern is in the backing file at its disk offset" \
	pattern_at raw "$work/raw.img" $RAW_OFF
check "ext4 -o dax: the file is in the backing file where FIEMAP put it" \
	file_in_image
check "control: a buffered write without fsync is not in the backing file" \
	bash -c "! cmp -s -n $LEN -i $CTL_OFF:0 $work/raw.img $work/ctl"
check "a second boot reads both back through rpmem" vm 2 read
ktap_finish

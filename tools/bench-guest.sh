#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The guest half of tools/bench.sh: runs inside one VM with three NFIT
# NVDIMMs, two equal data ones and a large sparse one for the probe rows.
# Both data namespaces are put in fsdax mode (--map=dev) by ndctl; one pfn
# device is bound to rpmem, the other to nd_pmem, and a brd RAM disk of the
# same size is the memory-copy ceiling. For the last rows, both go to sector
# mode: a BTT each, served by rpmem and by nd_pmem (nd_btt). Every row runs BENCH_REPS times per
# driver, the drivers in an order that rotates from one repetition to the
# next.
#
# Writes to $RPMEM_OUT/bench: rows.tsv (the rows: name, group, what,
# metric, unit, drivers), results.tsv (row, driver, repetition, value),
# raw/ (fio's JSON of each run), env.txt (guest facts, the kernel command
# line among them), disks.tsv (each disk's namespace mode and its
# /sys/block/*/queue settings, per set-up), and a line per step
# to $RPMEM_OUT/progress for the host to show. Exits non-zero if a run
# failed; the results so far stay.
#
# BENCH_REPS (5), BENCH_RUNTIME (seconds per fio run, 4), BENCH_ROWS (an
# extended regular expression: only the rows whose name matches),
# BENCH_DATA_MIB (MiB each block and file row works on, 512) and
# BENCH_SPLIT (1: the QEMU plugin tools/bench/insn_split.c is counting;
# each fio run is one of its windows, listed in split.tsv: row, driver,
# repetition, window, I/Os; kallsyms is the guest's /proc/kallsyms).

set -uo pipefail
. "$RPMEM_TOP/selftests/lib.sh"

REPS=${BENCH_REPS:-5}
RUNTIME=${BENCH_RUNTIME:-4}
ROWS=${BENCH_ROWS:-.}
DATA_MIB=${BENCH_DATA_MIB:-512}
SPLIT=${BENCH_SPLIT:-0}
OUT=$RPMEM_OUT/bench
MNT=/tmp/bench
FILE_MIB=$((DATA_MIB / 2))
MAP_MIB=64

progress() { echo "$*" >>"$RPMEM_OUT/progress"; }
bail() { progress "error: $*"; exit 1; }

# --- the devices ------------------------------------------------------------

# NAMESPACE MODE [MAP]: ndctl reconfigures it (nd_pmem binds the result);
# prints the device the drivers then bind: the namespace, or its pfn.
make_mode()
{
	local args=(-f -e "$1" -m "$2")
	[ -z "${3:-}" ] || args+=(--map="$3")
	load_nd_pmem || return
	ndctl create-namespace "${args[@]}" >/dev/null || return
	if [ "$2" = fsdax ]; then pfn_of "$1"; else echo "$1"; fi
}

# NAMESPACE: the namespace's size in bytes.
ns_size() { cat "$ND/devices/$1/size"; }

# Each data NVDIMM's driver, its bound device, and its disk node.
declare -A dev_of disk_of
setup_data()
{
	local i=0 ns drv
	for ns in $(namespaces_of ACPI.NFIT); do
		[ "$ns" != "$probe_ns" ] || continue
		drv=$([ $i -eq 0 ] && echo rpmem || echo nd_pmem)
		i=$((i + 1))
		dev_of[$drv]=$(make_mode "$ns" fsdax dev) || bail "ndctl fsdax on $ns failed"
		rebind_ns "${dev_of[$drv]}" "$drv" || bail "cannot bind ${dev_of[$drv]} to $drv"
		disk_of[$drv]=$(driver_disk "${dev_of[$drv]}" "$drv") || bail "${dev_of[$drv]}: no $drv disk"
	done
	[ $i -eq 2 ] || bail "want 2 data NVDIMMs and a larger probe one, have $((i + 1)) NVDIMMs"
	modprobe -d "$RPMEM_KDIR/modinst" brd rd_nr=1 rd_size=$((DATA_MIB * 1024)) ||
		bail "brd does not load"
	disk_of[brd]=/dev/ram0
	# Every page written once, so that no run pays for first touches (brd
	# allocates its pages on the first write, QEMU the backing file's).
	for drv in rpmem nd_pmem brd; do
		dd if=/dev/zero of="${disk_of[$drv]}" bs=1M count="$DATA_MIB" \
			oflag=direct status=none || bail "cannot fill ${disk_of[$drv]}"
	done
}

# SETUP: the disks as the rows of SETUP (fsdax, sector) find them, into
# disks.tsv: set-up, driver, disk, key, value. Keys: "device" (the bound
# device), "mode" (its namespace's, from ndctl; brd: ram) and queue/NAME
# for each readable file of the disk's /sys/block/*/queue.
record_disks()
{
	local drv disk f ns mode
	for drv in "${!disk_of[@]}"; do
		disk=${disk_of[$drv]##*/}
		if [ "$drv" = brd ]; then
			mode=ram
		else
			ns=$(cat "$ND/devices/${dev_of[$drv]}/namespace" 2>/dev/null ||
				echo "${dev_of[$drv]}")
			mode=$(ndctl list -N -n "$ns" | jq -r '.[0].mode // "?"')
			printf '%s\t%s\t%s\tdevice\t%s\n' "$1" "$drv" "$disk" \
				"${dev_of[$drv]}" >>"$OUT/disks.tsv"
		fi
		printf '%s\t%s\t%s\tmode\t%s\n' "$1" "$drv" "$disk" "$mode" >>"$OUT/disks.tsv"
		for f in /sys/block/"$disk"/queue/*; do
			[ -f "$f" ] && [ -r "$f" ] || continue
			printf '%s\t%s\t%s\tqueue/%s\t%s\n' "$1" "$drv" "$disk" "${f##*/}" \
				"$(tr '\n\t' '  ' <"$f" 2>/dev/null | sed 's/ *$//')" >>"$OUT/disks.tsv"
		done
	done
}

# --- rows -------------------------------------------------------------------

# NAME GROUP WHAT METRIC UNIT DRIVERS...: declare a row; false if BENCH_ROWS
# leaves it out.
row()
{
	[[ $1 =~ $ROWS ]] || return 1
	local IFS=,
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "${*:6}" >>"$OUT/rows.tsv"
}

# A / B with one decimal; A may be an expression.
div() { awk "BEGIN { printf \"%.1f\", ($1) / ($2) }"; }

# NAME...: whether BENCH_ROWS keeps any of these rows.
any_row()
{
	local n
	for n; do [[ $n =~ $ROWS ]] && return 0; done
	return 1
}

# ROW DRIVER REP VALUE
record() { printf '%s\t%s\t%s\t%s\n' "$@" >>"$OUT/results.tsv"; }

# The drivers of repetition REP, rotated by REP.
rotate()	# REP DRIVER...
{
	local n=$(($# - 1)) r=$1 i
	shift
	for ((i = 0; i < n; i++)); do
		echo "${@:$(((i + r) % n + 1)):1}"
	done
}

# Under BENCH_SPLIT: the plugin's windows so far (each mark ends one).
marks=0
mark()
{
	"$INSN_MARK" || bail "insn_mark failed"
	marks=$((marks + 1))
}

# ROW METRIC DRIVER REP TARGET FIO-ARGS...: one fio run; records IOPS (read
# plus write) or bandwidth in MiB/s.
fio_run()
{
	local row=$1 metric=$2 drv=$3 rep=$4 target=$5 json v
	shift 5
	json=$OUT/raw/$row.$drv.$rep.json
	[ "$SPLIT" != 1 ] || mark
	fio --name="$row" --filename="$target" --time_based --runtime="$RUNTIME" \
		--group_reporting --output-format=json --output="$json" "$@" ||
		bail "$row on $drv: fio failed"
	if [ "$SPLIT" = 1 ]; then
		mark
		printf '%s\t%s\t%s\t%s\t%s\n' "$row" "$drv" "$rep" "$marks" \
			"$(jq '.jobs | map(.read.total_ios + .write.total_ios) | add' "$json")" \
			>>"$OUT/split.tsv"
	fi
	case $metric in
	iops) v=$(jq '.jobs[0] | .read.iops + .write.iops' "$json") ;;
	bw) v=$(jq '.jobs[0] | (.read.bw_bytes + .write.bw_bytes) / 1048576' "$json") ;;
	esac
	[[ $v =~ ^[0-9.e+]+$ ]] || bail "$row on $drv: no $metric in fio's output"
	record "$row" "$drv" "$rep" "$v"
}

# ROW METRIC DRIVERS TARGET-FN FIO-ARGS...: all repetitions of a fio row;
# TARGET-FN DRIVER prints the file or disk to run on.
fio_row()
{
	local row=$1 metric=$2 drivers=$3 target=$4 rep drv
	shift 4
	for ((rep = 0; rep < REPS; rep++)); do
		# shellcheck disable=SC2086
		for drv in $(rotate $rep $drivers); do
			fio_run "$row" "$metric" "$drv" "$rep" "$($target "$drv")" "$@"
		done
	done
	progress "$row done"
}

block_target() { echo "${disk_of[$1]}"; }
file_target() { echo "$MNT/$1/data"; }

# A file of each page fault row of its own: once a file has a PTE fault's
# DAX entry at an index, faults there no longer get PMDs.
fault_file() { echo "$MNT/$1/$2"; }

# The raw block rows, on all three disks.
block_rows()
{
	local d="rpmem nd_pmem brd" r name what metric unit args
	local io=(--direct=1 --size="${DATA_MIB}M")
	local qd1=(--ioengine=psync --iodepth=1 --numjobs=1)
	local qd32=(--ioengine=io_uring --iodepth=32 --numjobs=4)
	# io_uring one I/O at a time: the cost of each I/O's trip through
	# io_uring, with no queue to hide it, where io_uring hands every I/O
	# to an io-wq worker (a disk without BLK_FEAT_NOWAIT: nd_pmem) or
	# issues it itself (rpmem, brd).
	local uring1=(--ioengine=io_uring --iodepth=1 --numjobs=1)
	while IFS='|' read -r name what metric unit args; do
		row "$name" block "$what" "$metric" "$unit" $d || continue
		# shellcheck disable=SC2086
		fio_row "$name" "$metric" "$d" block_target "${io[@]}" $args
	done <<-ROWS
	rand-read-4k-qd1|4 KiB random read, psync QD1|iops|IOPS|--rw=randread --bs=4k ${qd1[*]}
	rand-write-4k-qd1|4 KiB random write, psync QD1|iops|IOPS|--rw=randwrite --bs=4k ${qd1[*]}
	rand-read-4k-qd32x4|4 KiB random read, io_uring QD32 x 4 jobs|iops|IOPS|--rw=randread --bs=4k ${qd32[*]}
	rand-write-4k-qd32x4|4 KiB random write, io_uring QD32 x 4 jobs|iops|IOPS|--rw=randwrite --bs=4k ${qd32[*]}
	rand-read-4k-uring-qd1|4 KiB random read, io_uring QD1|iops|IOPS|--rw=randread --bs=4k ${uring1[*]}
	rand-write-4k-uring-qd1|4 KiB random write, io_uring QD1|iops|IOPS|--rw=randwrite --bs=4k ${uring1[*]}
	rand-read-512-qd1|512 B random read, psync QD1|iops|IOPS|--rw=randread --bs=512 ${qd1[*]}
	rand-write-512-qd1|512 B random write, psync QD1|iops|IOPS|--rw=randwrite --bs=512 ${qd1[*]}
	seq-read-1m|1 MiB sequential read|bw|MiB/s|--rw=read --bs=1M ${qd1[*]}
	seq-write-1m|1 MiB sequential write|bw|MiB/s|--rw=write --bs=1M ${qd1[*]}
	mix-16k-70-30|16 KiB random 70/30 read/write, psync QD1|iops|IOPS|--rw=randrw --rwmixread=70 --bs=16k ${qd1[*]}
	ROWS
}

# ROW DRIVERS FILE [pte]: all repetitions of a page fault row: faults per
# second of "dax_mmap faults"; PMD rows must be mapped by PMDs.
fault_row()
{
	local row=$1 drivers=$2 pte=${3:-} rep drv out f u kb
	for ((rep = 0; rep < REPS; rep++)); do
		# shellcheck disable=SC2086
		for drv in $(rotate $rep $drivers); do
			out=$("$DAX_MMAP" faults "$(fault_file "$drv" "$row")" "${MAP_MIB}M" \
				"$RUNTIME" $pte) ||
				bail "$row on $drv: dax_mmap failed: $out"
			read -r _ f _ _ _ u _ kb _ <<<"$out"
			if [ -z "$pte" ] && [ "$kb" -ne $((MAP_MIB * 1024)) ]; then
				bail "$row on $drv: only $kb kB of ${MAP_MIB} MiB mapped by PMDs"
			fi
			record "$row" "$drv" "$rep" "$(div "$f * 1000000" "$u")"
		done
	done
	progress "$row done"
}

# FILE MIB: a DAX file of MIB MiB, allocated at once and written.
make_file()
{
	xfs_io -f -c "falloc 0 ${2}M" -c "pwrite -q -b 1M 0 ${2}M" "$1" && dax_file "$1"
}

# FSTYPE: the file rows on FSTYPE -o dax, over rpmem and nd_pmem.
fs_rows()
{
	local fs=$1 d="rpmem nd_pmem" drv io=(--size="${FILE_MIB}M" --direct=0 --ioengine=psync)
	any_row "$fs"-{rand-read-4k,rand-write-4k,seq-read-1m,seq-write-1m,mmap-pte,mmap-pmd} ||
		return 0
	for drv in $d; do
		mkdir -p "$MNT/$drv"
		mkfs_dax_pmd "$fs" "${disk_of[$drv]}" >/dev/null &&
			mount -o dax "${disk_of[$drv]}" "$MNT/$drv" || bail "$fs on $drv: no DAX mount"
		# The files, laid out once in 2 MiB extents, written in full.
		make_file "$(file_target "$drv")" "$FILE_MIB" &&
			make_file "$(fault_file "$drv" "$fs-mmap-pte")" "$MAP_MIB" &&
			make_file "$(fault_file "$drv" "$fs-mmap-pmd")" "$MAP_MIB" ||
			bail "$fs on $drv: cannot write the files"
	done
	row "$fs-rand-read-4k" "$fs" "$fs -o dax, 4 KiB random read(2)" iops IOPS $d &&
		fio_row "$fs-rand-read-4k" iops "$d" file_target "${io[@]}" --rw=randread --bs=4k
	row "$fs-rand-write-4k" "$fs" "$fs -o dax, 4 KiB random write(2)" iops IOPS $d &&
		fio_row "$fs-rand-write-4k" iops "$d" file_target "${io[@]}" --rw=randwrite --bs=4k
	row "$fs-seq-read-1m" "$fs" "$fs -o dax, 1 MiB sequential read(2)" bw MiB/s $d &&
		fio_row "$fs-seq-read-1m" bw "$d" file_target "${io[@]}" --rw=read --bs=1M
	row "$fs-seq-write-1m" "$fs" "$fs -o dax, 1 MiB sequential write(2)" bw MiB/s $d &&
		fio_row "$fs-seq-write-1m" bw "$d" file_target "${io[@]}" --rw=write --bs=1M
	row "$fs-mmap-pte" "$fs" "$fs -o dax, mmap write faults, 4 KiB pages" faults faults/s $d &&
		fault_row "$fs-mmap-pte" "$d" pte
	row "$fs-mmap-pmd" "$fs" "$fs -o dax, mmap write faults, 2 MiB PMDs" faults faults/s $d &&
		fault_row "$fs-mmap-pmd" "$d"
	for drv in $d; do umount "$MNT/$drv" || bail "cannot unmount $fs on $drv"; done
}

# The sector mode rows: both data namespaces put in sector mode (4 KiB
# sectors), one BTT served by rpmem, the other by nd_pmem (nd_btt).
btt_rows()
{
	local d="rpmem nd_pmem" drv ns b name what metric unit args
	local io=(--direct=1 --size="$((DATA_MIB / 2))M")
	local qd1=(--ioengine=psync --iodepth=1 --numjobs=1)
	local qd32=(--ioengine=io_uring --iodepth=32 --numjobs=4)
	any_row btt-{rand-read-4k-qd1,rand-write-4k-qd1,rand-read-4k-qd32x4} \
		btt-{rand-write-4k-qd32x4,seq-read-1m,seq-write-1m} || return 0
	modprobe -d "$RPMEM_KDIR/modinst" nd_btt || bail "nd_btt does not load"
	for drv in $d; do
		ns=$(cat "$ND/devices/${dev_of[$drv]}/namespace")
		unbind_ns "${dev_of[$drv]}"
		ndctl create-namespace -f -e "$ns" -m sector -l 4096 >/dev/null ||
			bail "ndctl sector on $ns failed"
		for b in "$ND"/devices/btt*; do
			[ "$(cat "$b/namespace" 2>/dev/null)" = "$ns" ] && dev_of[$drv]=${b##*/}
		done
		rebind_ns "${dev_of[$drv]}" "$drv" || bail "cannot bind ${dev_of[$drv]} to $drv"
		disk_of[$drv]=$(driver_disk "${dev_of[$drv]}" "$drv") || bail "no $drv sector disk"
		# Every sector written once: each then has a block of its own.
		dd if=/dev/zero of="${disk_of[$drv]}" bs=1M count=$((DATA_MIB / 2)) oflag=direct \
			status=none || bail "cannot fill ${disk_of[$drv]}"
	done
	unset 'disk_of[brd]'
	record_disks sector
	while IFS='|' read -r name what metric unit args; do
		row "$name" btt "$what" "$metric" "$unit" $d || continue
		# shellcheck disable=SC2086
		fio_row "$name" "$metric" "$d" block_target "${io[@]}" $args
	done <<-ROWS
	btt-rand-read-4k-qd1|sector mode, 4 KiB random read, psync QD1|iops|IOPS|--rw=randread --bs=4k ${qd1[*]}
	btt-rand-write-4k-qd1|sector mode, 4 KiB random write, psync QD1|iops|IOPS|--rw=randwrite --bs=4k ${qd1[*]}
	btt-rand-read-4k-qd32x4|sector mode, 4 KiB random read, io_uring QD32 x 4 jobs|iops|IOPS|--rw=randread --bs=4k ${qd32[*]}
	btt-rand-write-4k-qd32x4|sector mode, 4 KiB random write, io_uring QD32 x 4 jobs|iops|IOPS|--rw=randwrite --bs=4k ${qd32[*]}
	btt-seq-read-1m|sector mode, 1 MiB sequential read|bw|MiB/s|--rw=read --bs=1M ${qd1[*]}
	btt-seq-write-1m|sector mode, 1 MiB sequential write|bw|MiB/s|--rw=write --bs=1M ${qd1[*]}
	ROWS
}

# --- probe ----------------------------------------------------------------

mem_free_kib() { awk '/^MemFree:/ { print $2 }' /proc/meminfo; }

# ROW DRIVER REP DEVICE: bind DEVICE to DRIVER; record the bind's time in ms
# (row ROW-time) and how much less RAM is free afterwards in MiB (ROW-ram).
probe_once()
{
	local row=$1 drv=$2 rep=$3 dev=$4 t0 t1 m0 m1
	unbind_ns "$dev" || bail "cannot unbind $dev"
	sync && echo 3 >/proc/sys/vm/drop_caches
	m0=$(mem_free_kib) t0=$(date +%s%N)
	bind_ns "$dev" "$drv" || bail "$row: cannot bind $dev to $drv"
	t1=$(date +%s%N) m1=$(mem_free_kib)
	driver_disk "$dev" "$drv" >/dev/null || bail "$row: $dev has no $drv disk"
	record "$row-time" "$drv" "$rep" "$(div "$t1 - $t0" 1000000)"
	record "$row-ram" "$drv" "$rep" "$(div "$m0 - $m1" 1024)"
	unbind_ns "$dev"
}

# ROW DEVICE DRIVERS...: all repetitions of a probe row.
probe_row()
{
	local row=$1 dev=$2 rep drv
	shift 2
	for ((rep = 0; rep < REPS; rep++)); do
		for drv in $(rotate $rep "$@"); do probe_once "$row" "$drv" "$rep" "$dev"; done
	done
	progress "$row done"
}

# RAW-DAX: rpmem loaded again with raw_dax=RAW-DAX (no disk of it may be
# open: the probe rows run first).
reload_rpmem()
{
	if grep -q '^rpmem ' /proc/modules; then rmmod rpmem || bail "cannot unload rpmem"; fi
	load_rpmem raw_dax="$1" || bail "rpmem does not load with raw_dax=$1"
}

# NAME WHAT: the two rows of a probe: NAME-time and NAME-ram.
probe_decl()
{
	ROWS=. row "$1-time" probe "probe time, $2" ms ms rpmem nd_pmem
	ROWS=. row "$1-ram" probe "page map RAM, $2" mib MiB rpmem nd_pmem
}

# Probe time and page map RAM of the large namespace: raw (rpmem without
# and with its zero-config DAX), fsdax with the page map in RAM and on the
# device.
probe_rows()
{
	local gib dev r rep copy
	gib=$(($(ns_size "$probe_ns") >> 30))
	r="rpmem nd_pmem"
	any_row probe-{raw,raw-dax,fsdax-mem,fsdax-dev}-{time,ram} || return 0
	probe_decl probe-raw "$gib GiB raw namespace (rpmem raw_dax=0)"
	probe_decl probe-fsdax-mem "$gib GiB fsdax --map=mem"
	probe_decl probe-fsdax-dev "$gib GiB fsdax --map=dev"
	probe_decl probe-raw-dax "$gib GiB raw, rpmem zero-config DAX (nd_pmem: fsdax --map=mem)"

	reload_rpmem 0
	dev=$(make_mode "$probe_ns" raw) || bail "ndctl raw on $probe_ns failed"
	probe_row probe-raw "$dev" $r
	reload_rpmem 1
	for ((rep = 0; rep < REPS; rep++)); do
		probe_once probe-raw-dax rpmem "$rep" "$dev"
	done
	dev=$(make_mode "$probe_ns" fsdax mem) || bail "ndctl fsdax --map=mem on $probe_ns failed"
	probe_row probe-fsdax-mem "$dev" $r
	# nd_pmem's DAX with the page map in RAM is what zero-config DAX does:
	# its figures are the reference of the probe-raw-dax rows.
	copy=$(awk -F'\t' -v OFS='\t' '$1 ~ /^probe-fsdax-mem-(time|ram)$/ &&
		$2 == "nd_pmem" { sub(/probe-fsdax-mem/, "probe-raw-dax", $1); print }' \
		"$OUT/results.tsv") && printf '%s\n' "$copy" >>"$OUT/results.tsv"
	dev=$(make_mode "$probe_ns" fsdax dev) || bail "ndctl fsdax --map=dev on $probe_ns failed"
	probe_row probe-fsdax-dev "$dev" $r
	unbind_ns "$dev"
}

# --- main -------------------------------------------------------------------

rm -rf "$OUT" && mkdir -p "$OUT/raw" "$MNT" || exit
: >"$OUT/rows.tsv" && : >"$OUT/results.tsv"
{
	echo "kernel $(uname -r)"
	echo "cpu $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
	echo "cpus $(nproc)"
	echo "mem_mib $(($(awk '/^MemTotal:/ { print $2 }' /proc/meminfo) / 1024))"
	echo "fio $(fio --version)"
	echo "reps $REPS"
	echo "runtime $RUNTIME"
	echo "data_mib $DATA_MIB"
	echo "cmdline $(cat /proc/cmdline)"
} >"$OUT/env.txt"
: >"$OUT/disks.tsv"
DAX_MMAP=$(build_helper dax_mmap) || bail "cannot build selftests/dax_mmap.c"
if [ "$SPLIT" = 1 ]; then
	INSN_MARK=$RPMEM_OUT/bin/insn_mark
	gcc -O2 -Wall -Werror -o "$INSN_MARK" "$RPMEM_TOP/tools/bench/insn_mark.c" ||
		bail "cannot build tools/bench/insn_mark.c"
	: >"$OUT/split.tsv"
fi
manual_binding
progress "probe rows"
probe_ns=
for ns in $(namespaces_of ACPI.NFIT); do
	s=$(ns_size "$ns")
	[ -n "$probe_ns" ] && [ "$s" -le "$(ns_size "$probe_ns")" ] || probe_ns=$ns
done
[ -n "$probe_ns" ] || bail "no NFIT namespaces"
probe_rows
reload_rpmem 1
progress "setting up: fsdax namespaces, brd, filling the disks"
setup_data
record_disks fsdax
progress "block rows"
block_rows
for fs in ext4 xfs; do
	progress "$fs rows"
	fs_rows "$fs"
done
progress "sector mode rows"
btt_rows
if [ "$SPLIT" = 1 ]; then
	# Module text moves from load to load: the addresses of this boot.
	echo 0 >/proc/sys/kernel/kptr_restrict
	cat /proc/kallsyms >"$OUT/kallsyms" || bail "cannot read /proc/kallsyms"
fi
progress "done"

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
# raw/ (fio's JSON of each run: the report takes the QD1 rows' latency
# percentiles from it), ceiling.tsv (the copy ceiling: routine,
# repetition, bytes, ns; "failed" for both if the module failed), env.txt
# (guest facts, the kernel command line among them), disks.tsv (each
# disk's namespace mode and its
# /sys/block/*/queue settings, per set-up), and a line per step
# to $RPMEM_OUT/progress for the host to show. Exits non-zero if a run
# failed; the results so far stay.
#
# BENCH_REPS (5), BENCH_RUNTIME (seconds per fio run, 4), BENCH_ROWS (an
# extended regular expression: only the rows whose name matches),
# BENCH_COPY_KO (tools/bench/copy_ceiling.c built for this kernel, for the
# copy ceiling; without it that measurement is left out),
# BENCH_DATA_MIB (MiB each block and file row works on, 512) and
# BENCH_SPLIT (1: the QEMU plugin tools/bench/insn_split.c is counting;
# each fio run, page fault run, and bind or unbind of a probe row that
# BENCH_ROWS names is one of its windows, listed in split.tsv: row,
# driver, repetition, window, operations (I/Os, faults, or 1 bind);
# kallsyms is the guest's /proc/kallsyms).

set -uo pipefail
. "$RPMEM_TOP/selftests/lib.sh"

REPS=${BENCH_REPS:-5}
RUNTIME=${BENCH_RUNTIME:-4}
ROWS=${BENCH_ROWS:-.}
DATA_MIB=${BENCH_DATA_MIB:-512}
SPLIT=${BENCH_SPLIT:-0}
COPY_KO=${BENCH_COPY_KO:-}
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
		[[ " ${probe_nss[*]} " != *" $ns "* ]] || continue
		drv=$([ $i -eq 0 ] && echo rpmem || echo nd_pmem)
		i=$((i + 1))
		dev_of[$drv]=$(make_mode "$ns" fsdax dev) || bail "ndctl fsdax on $ns failed"
		rebind_ns "${dev_of[$drv]}" "$drv" || bail "cannot bind ${dev_of[$drv]} to $drv"
		disk_of[$drv]=$(driver_disk "${dev_of[$drv]}" "$drv") || bail "${dev_of[$drv]}: no $drv disk"
	done
	[ $i -eq 2 ] || bail "want 2 data NVDIMMs, have $i"
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

# ROW DRIVER REP WHY: a run whose helper failed. It is recorded as
# "failed", which the report shows as such and refuses (exit 1), and the
# other rows go on.
record_failed()
{
	progress "error: $1 on $2: $4"
	record "$1" "$2" "$3" failed
}

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

# DRIVER: freezes (fsfreeze) the other drivers' filesystems mounted under
# $MNT, after thawing what was frozen: their background work (XFS covers
# an idle log every 30 s, writeback) would land in DRIVER's run, and count
# against it. Each file system then does its own in its own driver's runs.
frozen=()
freeze_others()
{
	local m
	thaw_others
	for m in "$MNT"/*; do
		[ "$m" != "$MNT/$1" ] && mountpoint -q "$m" || continue
		fsfreeze -f "$m" || bail "cannot freeze $m"
		frozen+=("$m")
	done
}

thaw_others()
{
	local m
	for m in "${frozen[@]}"; do
		fsfreeze -u "$m" || bail "cannot thaw $m"
	done
	frozen=()
}

# ROW METRIC DRIVER REP TARGET FIO-ARGS...: one fio run; records IOPS (read
# plus write) or bandwidth in MiB/s.
fio_run()
{
	local row=$1 metric=$2 drv=$3 rep=$4 target=$5 json v
	shift 5
	json=$OUT/raw/$row.$drv.$rep.json
	[ "$SPLIT" != 1 ] || mark
	# --lat_percentiles: the percentiles of each I/O's whole latency, from
	# submission to completion (completion latency alone leaves out the
	# work of an io_uring I/O that rpmem or brd completes while it is
	# submitted).
	fio --name="$row" --filename="$target" --time_based --runtime="$RUNTIME" \
		--group_reporting --lat_percentiles=1 --output-format=json \
		--output="$json" "$@" ||
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
			freeze_others "$drv"
			fio_run "$row" "$metric" "$drv" "$rep" "$($target "$drv")" "$@"
		done
	done
	thaw_others
	progress "$row done"
}

block_target() { echo "${disk_of[$1]}"; }
file_target() { echo "$MNT/$1/data"; }

# A file of each page fault row of its own: once a file has a PTE fault's
# DAX entry at an index, faults there no longer get PMDs.
fault_file() { echo "$MNT/$1/$2"; }

# Two 2 MiB huge pages for fio's buffer (one job) in the huge page rows,
# or a failed run.
reserve_huge_pages()
{
	echo 2 >/proc/sys/vm/nr_hugepages
	[ "$(cat /proc/sys/vm/nr_hugepages)" -ge 2 ] ||
		bail "no 2 MiB huge pages for the huge page rows"
}

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
	# fio's buffer in a huge page (SysV shm, SHM_HUGETLB): one physically
	# contiguous 1 MiB, which the block layer hands on as one multi-page
	# bio_vec. malloc's buffer is 256 pages scattered, 256 bio_vecs.
	local huge=(--iomem=shmhuge --hugepage-size=2M)
	any_row seq-read-1m-huge seq-write-1m-huge && reserve_huge_pages
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
	seq-read-1m-huge|1 MiB sequential read into a huge page|bw|MiB/s|--rw=read --bs=1M ${qd1[*]} ${huge[*]}
	seq-write-1m-huge|1 MiB sequential write from a huge page|bw|MiB/s|--rw=write --bs=1M ${qd1[*]} ${huge[*]}
	mix-16k-70-30|16 KiB random 70/30 read/write, psync QD1|iops|IOPS|--rw=randrw --rwmixread=70 --bs=16k ${qd1[*]}
	ROWS
}

# The durability rows of the raw disks: a 4 KiB write made durable before
# it returns, by O_DSYNC (each direct write a REQ_FUA bio) or by an fsync
# after each write (a REQ_PREFLUSH bio after it). brd has no write cache:
# the block layer drops both flags for it, its figure is the write alone.
durability_block_rows()
{
	local d="rpmem nd_pmem brd" name what metric unit args
	local io=(--direct=1 --size="${DATA_MIB}M" --ioengine=psync --iodepth=1 --numjobs=1)
	while IFS='|' read -r name what metric unit args; do
		row "$name" durability "$what" "$metric" "$unit" $d || continue
		# shellcheck disable=SC2086
		fio_row "$name" "$metric" "$d" block_target "${io[@]}" $args
	done <<-ROWS
	dsync-write-4k-qd1|4 KiB random O_DSYNC write (REQ_FUA), psync QD1|iops|IOPS|--rw=randwrite --bs=4k --sync=dsync
	fsync-write-4k-qd1|4 KiB random write + fsync (PREFLUSH), psync QD1|iops|IOPS|--rw=randwrite --bs=4k --fsync=1
	ROWS
}

# ROW DRIVERS [pte] [read|sync]: all repetitions of a page fault row:
# faults per second of "dax_mmap faults" (write faults; read faults; write
# faults of a MAP_SYNC mapping); PMD rows must be mapped by PMDs. The
# report derives the cost of one fault from it.
fault_row()
{
	local row=$1 drivers=$2 rep drv out f u kb
	shift 2
	for ((rep = 0; rep < REPS; rep++)); do
		# shellcheck disable=SC2086
		for drv in $(rotate $rep $drivers); do
			freeze_others "$drv"
			[ "$SPLIT" != 1 ] || mark
			if ! out=$("$DAX_MMAP" faults "$(fault_file "$drv" "$row")" "${MAP_MIB}M" \
				"$RUNTIME" "$@" 2>&1); then
				[ "$SPLIT" != 1 ] || mark
				record_failed "$row" "$drv" "$rep" "dax_mmap failed: $out"
				continue
			fi
			read -r _ f _ _ _ u _ kb _ <<<"$out"
			if [ "$SPLIT" = 1 ]; then
				# The window: dax_mmap's whole run, its faults counted
				# (getrusage) as the operations.
				mark
				printf '%s\t%s\t%s\t%s\t%s\n' "$row" "$drv" "$rep" "$marks" "$f" \
					>>"$OUT/split.tsv"
			fi
			if [[ " $* " != *" pte "* ]] && [ "$kb" -ne $((MAP_MIB * 1024)) ]; then
				record_failed "$row" "$drv" "$rep" \
					"only $kb kB of ${MAP_MIB} MiB mapped by PMDs"
				continue
			fi
			record "$row" "$drv" "$rep" "$(div "$f * 1000000" "$u")"
		done
	done
	thaw_others
	progress "$row done"
}

# ROW DRIVERS BYTES: all repetitions of a MAP_SYNC persist row: "dax_mmap
# persist" stores BYTES, writes back their cache lines and fences, as
# libpmem's pmem_persist(); persists per second. After its first write
# fault a page costs the kernel nothing: this is user space's cost of
# durability on each driver's DAX, which must come out equal.
persist_row()
{
	local row=$1 drivers=$2 bytes=$3 rep drv out n u f insn
	for ((rep = 0; rep < REPS; rep++)); do
		# shellcheck disable=SC2086
		for drv in $(rotate $rep $drivers); do
			freeze_others "$drv"
			if ! out=$("$DAX_MMAP" persist "$(fault_file "$drv" persist)" "${MAP_MIB}M" \
				"$RUNTIME" "$bytes" 2>&1); then
				record_failed "$row" "$drv" "$rep" "dax_mmap persist failed: $out"
				continue
			fi
			read -r _ n _ u _ f _ insn <<<"$out"
			grep -q '^persist_flush ' "$OUT/env.txt" ||
				echo "persist_flush $insn" >>"$OUT/env.txt"
			record "$row" "$drv" "$rep" "$(div "$n * 1000000" "$u")"
		done
	done
	thaw_others
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
	local fs=$1 d="rpmem nd_pmem" drv f io=(--size="${FILE_MIB}M" --direct=0 --ioengine=psync)
	local faults=(mmap-pte mmap-pmd mmap-pte-read mmap-pmd-read mmap-pte-sync mmap-pmd-sync)
	any_row "$fs"-{rand-read-4k,rand-write-4k,seq-read-1m,seq-write-1m} \
		"${faults[@]/#/$fs-}" "$fs"-{dsync-write-4k,fsync-write-4k,persist-64,persist-4k} ||
		return 0
	for drv in $d; do
		mkdir -p "$MNT/$drv"
		mkfs_dax_pmd "$fs" "${disk_of[$drv]}" >/dev/null &&
			mount -o dax "${disk_of[$drv]}" "$MNT/$drv" || bail "$fs on $drv: no DAX mount"
		# The files, laid out once in 2 MiB extents, written in full.
		make_file "$(file_target "$drv")" "$FILE_MIB" &&
			make_file "$(fault_file "$drv" persist)" "$MAP_MIB" ||
			bail "$fs on $drv: cannot write the files"
		for f in "${faults[@]}"; do
			any_row "$fs-$f" || continue
			make_file "$(fault_file "$drv" "$fs-$f")" "$MAP_MIB" ||
				bail "$fs on $drv: cannot write the files"
		done
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
	row "$fs-mmap-pte-read" "$fs" "$fs -o dax, mmap read faults, 4 KiB pages" faults faults/s $d &&
		fault_row "$fs-mmap-pte-read" "$d" pte read
	row "$fs-mmap-pmd-read" "$fs" "$fs -o dax, mmap read faults, 2 MiB PMDs" faults faults/s $d &&
		fault_row "$fs-mmap-pmd-read" "$d" read
	row "$fs-mmap-pte-sync" "$fs" "$fs -o dax, MAP_SYNC write faults, 4 KiB pages" faults \
		faults/s $d && fault_row "$fs-mmap-pte-sync" "$d" pte sync
	row "$fs-mmap-pmd-sync" "$fs" "$fs -o dax, MAP_SYNC write faults, 2 MiB PMDs" faults \
		faults/s $d && fault_row "$fs-mmap-pmd-sync" "$d" sync
	# Durability: O_DSYNC writes and write + fsync through the filesystem
	# (DAX copies the data with non-temporal stores; the sync writes the
	# metadata back and flushes the disk: a REQ_PREFLUSH, or FUA log
	# writes), and user space's own way, MAP_SYNC stores, cache line
	# write-backs and a fence.
	row "$fs-dsync-write-4k" durability "$fs -o dax, 4 KiB random O_DSYNC write(2)" iops IOPS $d &&
		fio_row "$fs-dsync-write-4k" iops "$d" file_target "${io[@]}" --rw=randwrite --bs=4k \
			--sync=dsync
	row "$fs-fsync-write-4k" durability "$fs -o dax, 4 KiB random write(2) + fsync" iops IOPS $d &&
		fio_row "$fs-fsync-write-4k" iops "$d" file_target "${io[@]}" --rw=randwrite --bs=4k \
			--fsync=1
	row "$fs-persist-64" durability "$fs -o dax, MAP_SYNC 64 B store + clwb + sfence" \
		persists persists/s $d && persist_row "$fs-persist-64" "$d" 64
	row "$fs-persist-4k" durability "$fs -o dax, MAP_SYNC 4 KiB store + clwb + sfence" \
		persists persists/s $d && persist_row "$fs-persist-4k" "$d" 4096
	for drv in $d; do umount "$MNT/$drv" || bail "cannot unmount $fs on $drv"; done
}

# The unbind after DAX use (row probe-1g-dax-used-unbind): each data
# namespace (1 GiB, fsdax, page map on the device) gets XFS -o dax, a
# 4 MiB file written through a mapping (dax_mmap pte: page faults, so the
# driver handed out pages), unmounted; the unbind of the namespace is
# timed as a probe row's, and the namespace bound again. An unbind with no
# DAX use is the probe rows' (rpmem then skips the scan of its struct
# pages for ones still mapped; after DAX use it must read every one).
dax_unbind_row()
{
	local row=probe-1g-dax-used-unbind d="rpmem nd_pmem" rep drv dev t0 t1
	row "$row" probe "unbind time after DAX use, 1 GiB fsdax --map=dev" ms ms $d || return 0
	for ((rep = 0; rep < REPS; rep++)); do
		# shellcheck disable=SC2086
		for drv in $(rotate $rep $d); do
			dev=${dev_of[$drv]}
			mkdir -p "$MNT/$drv"
			mkfs_dax_pmd xfs "${disk_of[$drv]}" >/dev/null &&
				mount -o dax "${disk_of[$drv]}" "$MNT/$drv" || bail "$row: no DAX mount on $drv"
			make_file "$MNT/$drv/used" 4 && "$DAX_MMAP" pte "$MNT/$drv/used" 4M >/dev/null &&
				umount "$MNT/$drv" || bail "$row: mapping a file on $drv failed"
			sync && echo 3 >/proc/sys/vm/drop_caches
			t0=${EPOCHREALTIME/./}
			sysfs_op "$row" "$drv" "$rep" "$dev" unbind || bail "$row: cannot unbind $dev"
			t1=${EPOCHREALTIME/./}
			record "$row" "$drv" "$rep" "$(div $((t1 - t0)) 1000)"
			bind_ns "$dev" "$drv" && udev_settle "$dev" ||
				bail "$row: cannot bind $dev to $drv again"
			disk_of[$drv]=$(driver_disk "$dev" "$drv") || bail "$row: $dev: no $drv disk"
		done
	done
	progress "$row done"
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
# (row ROW-time), how much less RAM is free afterwards in MiB (ROW-ram) and
# the time of the unbind that follows in ms (ROW-unbind).
#
# Only the sysfs write is timed, between two reads of bash's
# $EPOCHREALTIME (microseconds, the dot taken out). The first version ran
# date(1) before and after the bind, and so timed the exec of the second
# date as well: tens of ms under TCG, and its opens and reads of the
# guest's root go to the host over virtio-9p. A guest waiting for the
# host is idle, and on the instruction-counting clock (sleep=off) its
# clock jumps from timer to timer for as long as the host takes: a busy
# host made some of those binds 2 to 9 s of guest time. Nothing between
# the two timestamps here runs a program or reads a file of the root.
probe_once()
{
	local row=$1 drv=$2 rep=$3 dev=$4 t0 t1 m0 m1
	unbind_ns "$dev" || bail "cannot unbind $dev"
	sync && echo 3 >/proc/sys/vm/drop_caches
	m0=$(mem_free_kib)
	t0=${EPOCHREALTIME/./}
	sysfs_op "$row-time" "$drv" "$rep" "$dev" bind || bail "$row: cannot bind $dev to $drv"
	t1=${EPOCHREALTIME/./}
	m1=$(mem_free_kib)
	driver_disk "$dev" "$drv" >/dev/null || bail "$row: $dev has no $drv disk"
	record "$row-time" "$drv" "$rep" "$(div $((t1 - t0)) 1000)"
	record "$row-ram" "$drv" "$rep" "$(div "$m0 - $m1" 1024)"
	t0=${EPOCHREALTIME/./}
	sysfs_op "$row-unbind" "$drv" "$rep" "$dev" unbind ||
		bail "$row: cannot unbind $dev from $drv"
	t1=${EPOCHREALTIME/./}
	record "$row-unbind" "$drv" "$rep" "$(div $((t1 - t0)) 1000)"
}

# ROW DRIVER REP DEVICE bind|unbind: binds DEVICE to DRIVER or unbinds it.
# When the split counts ROW, insn_mark does the write, between two marks:
# its window holds the bind's write(2) and nothing else of user space's
# (no exec, no open), one operation in split.tsv.
sysfs_op()
{
	if [ "$SPLIT" != 1 ] || ! [[ $1 =~ $ROWS ]]; then
		echo "$4" >"$ND/drivers/$2/$5"
		return
	fi
	"$INSN_MARK" "$ND/drivers/$2/$5" "$4"
	local st=$?
	marks=$((marks + 2))
	printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$marks" 1 >>"$OUT/split.tsv"
	return $st
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

# NAME WHAT: the three rows of a probe: NAME-time, NAME-ram, NAME-unbind.
probe_decl()
{
	ROWS=. row "$1-time" probe "probe time, $2" ms ms rpmem nd_pmem
	ROWS=. row "$1-ram" probe "page map RAM, $2" mib MiB rpmem nd_pmem
	ROWS=. row "$1-unbind" probe "unbind time, $2" ms ms rpmem nd_pmem
}

# NAMESPACE: probe time, page map RAM and unbind time of a large
# namespace: raw (rpmem without and with its zero-config DAX), fsdax with
# the page map in RAM and on the device. Rows probe-SIZEg-*.
probe_rows()
{
	local ns=$1 gib p dev r rep copy
	gib=$(($(ns_size "$ns") >> 30))
	p=probe-${gib}g
	r="rpmem nd_pmem"
	any_row "$p"-{raw,raw-dax,fsdax-mem,fsdax-dev}-{time,ram,unbind} || return 0
	probe_decl "$p-raw" "$gib GiB raw namespace (rpmem raw_dax=0)"
	probe_decl "$p-fsdax-mem" "$gib GiB fsdax --map=mem"
	probe_decl "$p-fsdax-dev" "$gib GiB fsdax --map=dev"
	probe_decl "$p-raw-dax" "$gib GiB raw, rpmem zero-config DAX (nd_pmem: fsdax --map=mem)"

	reload_rpmem 0
	dev=$(make_mode "$ns" raw) || bail "ndctl raw on $ns failed"
	probe_row "$p-raw" "$dev" $r
	reload_rpmem 1
	for ((rep = 0; rep < REPS; rep++)); do
		probe_once "$p-raw-dax" rpmem "$rep" "$dev"
	done
	dev=$(make_mode "$ns" fsdax mem) || bail "ndctl fsdax --map=mem on $ns failed"
	probe_row "$p-fsdax-mem" "$dev" $r
	# nd_pmem's DAX with the page map in RAM is what zero-config DAX does:
	# its figures are the reference of the probe-raw-dax rows.
	copy=$(awk -F'\t' -v OFS='\t' -v p="$p" '$1 ~ "^" p "-fsdax-mem-(time|ram|unbind)$" &&
		$2 == "nd_pmem" { sub(/-fsdax-mem-/, "-raw-dax-", $1); print }' \
		"$OUT/results.tsv") && printf '%s\n' "$copy" >>"$OUT/results.tsv"
	dev=$(make_mode "$ns" fsdax dev) || bail "ndctl fsdax --map=dev on $ns failed"
	probe_row "$p-fsdax-dev" "$dev" $r
	unbind_ns "$dev"
}

# --- copy ceiling -----------------------------------------------------------

# The copy routines' cost in this guest: tools/bench/copy_ceiling.c times
# memcpy, copy_mc_to_kernel and memcpy_flushcache (4 KiB at a time, as the
# drivers copy) and prints bytes and guest ns of each; into ceiling.tsv,
# one line per routine and repetition, "failed" if the module failed.
copy_ceiling()
{
	local rep out name bytes ns dbg=/sys/kernel/debug/rpmem_copy_ceiling
	any_row copy-ceiling && [ -n "$COPY_KO" ] || return 0
	: >"$OUT/ceiling.tsv"
	mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
	if ! out=$(insmod "$COPY_KO" 2>&1); then
		progress "error: copy ceiling: insmod failed: $out"
		printf 'copy\t0\tfailed\tfailed\n' >>"$OUT/ceiling.tsv"
		return
	fi
	for ((rep = 0; rep < REPS; rep++)); do
		if ! out=$(cat "$dbg" 2>&1) || [ "$(wc -l <<<"$out")" -ne 3 ]; then
			progress "error: copy ceiling: reading $dbg failed: $out"
			printf 'copy\t%s\tfailed\tfailed\n' "$rep" >>"$OUT/ceiling.tsv"
			continue
		fi
		while read -r name bytes ns; do
			printf '%s\t%s\t%s\t%s\n' "$name" "$rep" "$bytes" "$ns" >>"$OUT/ceiling.tsv"
		done <<<"$out"
	done
	rmmod rpmem_copy_ceiling || progress "error: copy ceiling: rmmod failed"
	progress "copy ceiling done"
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
progress "copy ceiling"
copy_ceiling
progress "probe rows"
# The two smallest NFIT namespaces are the data ones, the others (larger)
# are probed, smallest first.
mapfile -t by_size < <(for ns in $(namespaces_of ACPI.NFIT); do
	echo "$(ns_size "$ns") $ns"
done | sort -n | awk '{ print $2 }')
[ ${#by_size[@]} -ge 3 ] || bail "want 2 data NVDIMMs and larger probe ones, have ${#by_size[@]}"
probe_nss=("${by_size[@]:2}")
for ns in "${probe_nss[@]}"; do probe_rows "$ns"; done
reload_rpmem 1
progress "setting up: fsdax namespaces, brd, filling the disks"
setup_data
record_disks fsdax
progress "block rows"
block_rows
progress "durability rows"
durability_block_rows
for fs in ext4 xfs; do
	progress "$fs rows"
	fs_rows "$fs"
done
progress "unbind after DAX use"
dax_unbind_row
progress "sector mode rows"
btt_rows
if [ "$SPLIT" = 1 ]; then
	# Module text moves from load to load: the addresses of this boot.
	echo 0 >/proc/sys/kernel/kptr_restrict
	cat /proc/kallsyms >"$OUT/kallsyms" || bail "cannot read /proc/kallsyms"
fi
progress "done"

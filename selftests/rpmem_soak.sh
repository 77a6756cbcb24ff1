#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Soak and teardown under load. For RPMEM_SOAK_SECS (default 180) seconds,
# eight fio jobs do mixed random reads and writes with verify=crc32c
# (verify_backlog: each block checked soon after it is written;
# verify_fatal: the first mismatch ends the job) on three rpmem disks at
# once:
#
#  - "steady": three jobs on the raw disk of one NFIT namespace (A) and
#    three on files of ext4 -o dax on the memmap= region (psync, mmap:
#    DAX page faults, and fsync), which must run clean to the end;
#  - "victim": two jobs on the raw disk of a second NFIT namespace (B),
#    which is unbound under them again and again, and beside them a writer
#    of self-checking 4 KiB records (selftests/powerfail.c, "raw": O_DIRECT,
#    RWF_DSYNC or fsync) on B's second half, which logs each record once
#    its write returned.
#
# Meanwhile, every STEP seconds: rmmod rpmem, which must be refused
# ("Module rpmem is in use": open disks, a mounted filesystem), umount of
# the busy DAX filesystem, which must be refused ("target is busy"), and
# every other step (each victim round gets STEP seconds of I/O at least)
# B is unbound under its fio jobs and bound again. The
# documented outcome (Documentation/rpmem.rst, Teardown): unbind returns,
# the jobs on the old disk die of an I/O error (never a verify failure),
# the namespace binds again and a new victim round starts on its new disk.
# Before it starts, every record the last round's writer saw complete is
# read back from the new disk: it must be there, whole, and of that round
# (a record of an earlier round is stale data, and fails).
# An unbind or bind that does not return within BOUND seconds stops the
# guest (red), and the kernel's hung task detector (60 s here) fails the
# run through the kernel log scan of tools/vm.sh, as any oops, WARNING or
# lockdep report does.
#
# Afterwards: the steady jobs ended without error, each having read and
# written; B serves a clean fio write-and-verify pass; the filesystem
# unmounts and e2fsck finds it clean; all three namespaces unbind, rmmod
# works, and no namespace range stays claimed in /proc/iomem.
#
# "No leak", without kmemleak: rmmod working proves nothing holds a
# reference to the module (no open disk, no DAX device holder); the
# released /proc/iomem claims and the empty driver show that each disk's
# teardown got past the pages (the claim goes after them). It does
# not prove that no memory was leaked: on a kernel with kmemleak
# (VARIANT=debug), the test also scans and fails on any unreferenced
# object.
#
# Controls: a fio pass that finds a block zeroed behind its back fails with
# a verify error (84, EILSEQ), and the check that passes the steady jobs
# rejects it; that check also rejects a job that verifies nothing; the
# read-back of the last round's records finds one record zeroed and one
# overwritten by a record of an earlier round.
#
# The VM may run 1500 s (selftests/vm-settings): RPMEM_SOAK_SECS up to 900
# fits; for more, run tools/vm.sh --timeout with the test's other options.

. "$(dirname "$0")/lib.sh"

SOAK=${RPMEM_SOAK_SECS:-180}
STEP=10			# seconds between teardown attempts
PROGRESS=30		# seconds between progress lines
BOUND=60		# seconds an unbind or bind, or a dying fio, may take
MNT=/tmp/soak
OUT=/tmp/soak-out
KMEMLEAK=/sys/kernel/debug/kmemleak
# What the jobs of a victim round may die of when their disk goes: ENOENT
# (fio reopening the gone node), EIO (a read at or past the end of a disk
# gone to size 0 reads 0 bytes, which fio takes for EIO), EINTR, ENXIO,
# ENODEV, ENOSPC (a write past that end). The other job of the round may
# end without error: the first error stops it (exitall_on_error).
DIE_OK=" 2 4 5 6 19 28 "
STEADY_JOBS=6
DAX_MIB=48		# size of each DAX file (f1, f2, f3)
REC_FIRST=32768		# the victim's records: from 128 MiB (record 32768) on,
REC_GAP_US=5000		# at most 200 a second (the steady jobs need the CPU)

rmmod_n=0 umount_n=0 cycle_n=0 round=0
rmmod_bad=() umount_bad=() cycle_bad=() victim_bad=() rec_bad=()
recs_acked=0 recs_lost=0 recs_rounds=0
declare -A died_of	# victim jobs per error number
vpid= wpid= steady= round_start=0
PF=		# the powerfail helper: the victim's records

# --- fio --------------------------------------------------------------------

# What all jobs share: mixed random I/O, every block written verified.
fio_global()
{
	cat <<-EOF
	[global]
	rw=randrw
	verify=crc32c
	verify_fatal=1
	do_verify=1
	verify_backlog=256
	verify_state_save=0
	EOF
}

# DISK SECS: the steady jobs, on the raw DISK and on files in MNT. No job
# may create its disk's node: fio reopens files (between its write and
# verify phases, say), and one that found /dev/rpmemN gone after an
# unbind would go on on a new regular file in devtmpfs, and keep the
# name from the next disk.
steady_jobs()
{
	fio_global
	cat <<-EOF
	time_based=1
	runtime=$2
	[nfit-4k]
	filename=$1
	allow_file_create=0
	direct=1
	ioengine=psync
	bs=4k
	offset=0
	size=64M
	[nfit-512-64k]
	filename=$1
	allow_file_create=0
	direct=1
	ioengine=psync
	bsrange=512-64k
	offset=64M
	size=64M
	[nfit-aio-16k]
	filename=$1
	allow_file_create=0
	direct=1
	ioengine=libaio
	iodepth=8
	bs=16k
	offset=128M
	size=64M
	[dax-4k]
	filename=$MNT/f1
	ioengine=psync
	bs=4k
	size=${DAX_MIB}M
	[dax-mmap]
	filename=$MNT/f2
	ioengine=mmap
	bs=4k
	size=${DAX_MIB}M
	[dax-fsync]
	filename=$MNT/f3
	ioengine=psync
	bsrange=4k-1M
	fsync=16
	size=${DAX_MIB}M
	EOF
}

# DISK [SECS]: the victim jobs on DISK, running until their disk goes, or
# for one pass, write then verify, without SECS. Threads of one process
# (one kill ends them all), stopping together at the first error, and
# synchronous: an asynchronous engine takes a read that returns 0 bytes
# (at the end of a disk whose capacity went to 0 on unbind) as a short
# read and verifies the stale buffer ("bad header offset"), where psync
# fails it with EIO.
victim_jobs()
{
	fio_global
	[ -z "${2:-}" ] || printf 'time_based=1\nruntime=%s\n' "$2"
	cat <<-EOF
	thread=1
	exitall_on_error=1
	filename=$1
	allow_file_create=0
	direct=1
	ioengine=psync
	[victim-4k]
	bs=4k
	offset=0
	size=64M
	[victim-4k-128k]
	bsrange=4k-128k
	offset=64M
	size=64M
	EOF
}

# OUTPUT: fio's terse output, the last line of each job: NAME ERROR
# READ-KIB WRITE-KIB.
job_results() { awk -F';' 'NF > 47 { r[$3] = $3 " " $5 " " $6 " " $47 } END { for (j in r) print r[j] }' "$1" | sort; }

# OUTPUT STATUS JOBS: fio exited 0 and each of its JOBS jobs ended without
# error, having read and written; verify reads show: a job reads what its
# mix reads (about what it writes) plus what it reads back. At least a
# quarter of what it wrote must have been read back: fio verifies a batch
# only when its list of unverified writes reaches a multiple of
# verify_backlog right after a write, so batches are skipped now and then,
# and what is still unverified when the time runs out is never read; a job
# that wrote little (on a KASAN kernel) can miss a good part of it.
fio_clean()
{
	local out=$1 rc=$2 n=$3 name err r w jobs=0 bad=
	while read -r name err r w; do
		jobs=$((jobs + 1))
		[ "$err" = 0 ] || bad+=" $name: error $err;"
		[ "$r" -gt 0 ] && [ "$w" -gt 0 ] || bad+=" $name: read $r KiB, wrote $w KiB;"
		[ $((r * 4)) -ge $((w * 5)) ] || bad+=" $name: read $r KiB for $w KiB written: no verify reads?;"
	done < <(job_results "$out")
	[ "$jobs" -eq "$n" ] || bad+=" $jobs jobs reported, not $n;"
	[ "$rc" = 0 ] || bad+=" fio exited with $rc;"
	[ -z "$bad" ] || fail "$bad" "$(grep -v '^[0-9];' "$out" | tail -n 5)"
}

# OUTPUT: the I/O done so far, summed: "R MiB read, W MiB written".
io_so_far()
{
	job_results "$1" |
		awk '{ r += $3; w += $4 } END { printf "%d MiB read, %d MiB written", r / 1024, w / 1024 }'
}

# --- the victim ---------------------------------------------------------------

victim_start()
{
	local d
	d=$(ns_disk "$nsb") && [ -b "/dev/$d" ] ||
		{ victim_bad+=("round $((round + 1)): no disk node for $nsb"); return 1; }
	round=$((round + 1))
	victim_jobs "/dev/$d" 100000 >"$OUT/victim.fio"
	fio --output-format=terse "$OUT/victim.fio" >"$OUT/victim.$round.out" \
		2>"$OUT/victim.$round.err" &
	vpid=$! round_start=$SECONDS
	POWERFAIL_FIRST=$REC_FIRST POWERFAIL_GAP_US=$REC_GAP_US "$PF" write raw $round "/dev/$d" "$OUT/acks.$round" \
		2>"$OUT/records.$round.err" &
	wpid=$!
}

# The records writer of the round ends of its disk going too; one that
# filled its area waits, and is stopped.
writer_end()
{
	local i
	for ((i = 0; i < 50; i++)); do
		kill -0 "$wpid" 2>/dev/null || break
		sleep 0.2
	done
	kill "$wpid" 2>/dev/null
	wait "$wpid"
	wpid=
}

# After the bind: every record the last round's writer logged as written
# is on the new disk, whole and of that round.
records_back()
{
	local d out acked lost
	recs_rounds=$((recs_rounds + 1))
	d=$(ns_disk "$nsb") ||
		{ rec_bad+=("round $round: no disk for $nsb to read back"); return; }
	if ! out=$("$PF" check raw $round "/dev/$d" "$OUT/acks.$round" 2>&1); then
		rec_bad+=("round $round: check failed: $out")
		return
	fi
	read -r _ acked lost < <(tail -n 1 <<<"$out")
	recs_acked=$((recs_acked + acked)) recs_lost=$((recs_lost + lost))
	[ "$acked" -gt 0 ] || rec_bad+=("round $round: no record written")
	[ "$lost" -eq 0 ] || rec_bad+=("round $round: $lost of $acked records lost:" "$out")
}

# The round's jobs died of their disk going: one at least of an I/O error,
# the other of one too or stopped by it (error 0).
victim_end()
{
	local i rc name err r w t jobs=0 io_errs=0
	for ((i = 0; i < BOUND * 5; i++)); do
		kill -0 "$vpid" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$vpid" 2>/dev/null; then
		victim_bad+=("round $round: fio still running $BOUND s after the unbind")
		{
			echo "# fio $vpid still running $BOUND s after the unbind:"
			for t in /proc/"$vpid"/task/*; do
				echo "# task ${t##*/}: $(awk '/^State/ { print $2, $3 }' "$t/status")"
				sed 's/^/#   /' "$t/stack"
			done
		} >&9 2>&1
		kill -9 "$vpid"
	fi
	wait "$vpid"
	rc=$?
	vpid=
	[ $rc -ne 0 ] || victim_bad+=("round $round: fio exited 0 on a disk that went away")
	while read -r name err r w; do
		jobs=$((jobs + 1))
		died_of[$err]=$((${died_of[$err]:-0} + 1))
		[ "$err" = 0 ] || [[ $DIE_OK == *" $err "* ]] ||
			victim_bad+=("round $round: $name ended with error $err: $(grep -m1 -E 'verify|err=' "$OUT/victim.$round.err")")
		[ "$err" = 0 ] || io_errs=$((io_errs + 1))
		[ "$w" -gt 0 ] || victim_bad+=("round $round: $name wrote nothing")
	done < <(job_results "$OUT/victim.$round.out")
	[ $jobs -eq 2 ] || victim_bad+=("round $round: $jobs jobs reported: $(tail -n 3 "$OUT/victim.$round.err")")
	[ $io_errs -gt 0 ] || victim_bad+=("round $round: no job saw an error")
}

# --- teardown attempts ----------------------------------------------------------

try_rmmod()
{
	local out
	rmmod_n=$((rmmod_n + 1))
	if out=$(rmmod rpmem 2>&1); then
		rmmod_bad+=("attempt $rmmod_n: rmmod worked")
	elif [ "$out" != "rmmod: ERROR: Module rpmem is in use" ]; then
		rmmod_bad+=("attempt $rmmod_n: $out")
	fi
}

try_umount()
{
	local out
	umount_n=$((umount_n + 1))
	if out=$(umount "$MNT" 2>&1); then
		umount_bad+=("attempt $umount_n: umount worked")
	elif [ "$out" != "umount: $MNT: target is busy." ]; then
		umount_bad+=("attempt $umount_n: $out")
	fi
}

# Unbind B under its victim round, end the round, bind B again, start the
# next round.
# Bytes the victim's fio (one process, its jobs threads) wrote so far.
victim_wrote() { awk '/^wchar:/ { print $2; f = 1 } END { if (!f) print 0 }' "/proc/$vpid/io" 2>/dev/null; }

# Waits until a process has a file of the DAX filesystem open: a umount
# attempt must meet a busy filesystem.
wait_busy()
{
	local i
	for ((i = 0; i < BOUND * 5; i++)); do
		find /proc/[0-9]*/fd -lname "$MNT/*" 2>/dev/null | grep -q . && return
		sleep 0.2
	done
	fail "no process has a file of $MNT open after $BOUND s"
}

cycle_victim()
{
	local i
	cycle_n=$((cycle_n + 1))
	# Each round gets STEP seconds of I/O before its disk goes, and its
	# jobs must have written 1 MiB (fio starts slowly on a KASAN kernel).
	[ $((SECONDS - round_start)) -ge $STEP ] || sleep $((STEP - (SECONDS - round_start)))
	for ((i = 0; i < BOUND * 5; i++)); do
		[ "$(victim_wrote)" -ge $((1 << 20)) ] && break
		kill -0 "$vpid" 2>/dev/null || break
		sleep 0.2
	done
	kill -0 "$vpid" 2>/dev/null ||
		victim_bad+=("round $round: fio gone before the unbind: $(tail -n 3 "$OUT/victim.$round.err")")
	kill -0 "$wpid" 2>/dev/null ||
		victim_bad+=("round $round: records writer gone before the unbind: $(cat "$OUT/records.$round.err")")
	bounded $BOUND "unbind of $nsb" unbind_ns "$nsb" ||
		cycle_bad+=("cycle $cycle_n: unbind failed")
	[ -z "$(ns_driver "$nsb")" ] || cycle_bad+=("cycle $cycle_n: $nsb still bound")
	victim_end
	writer_end
	[ "${1:-}" = last ] && return
	bounded $BOUND "bind of $nsb" bind_ns "$nsb" rpmem && udev_settle "$nsb" ||
		cycle_bad+=("cycle $cycle_n: no disk for $nsb after the bind")
	records_back
	victim_start
}

progress()	# [LABEL]
{
	echo "# ${1:-$((SECONDS - start)) of $SOAK s}: steady jobs $(io_so_far "$OUT/steady.out");" \
	     "rmmod refused $((rmmod_n - ${#rmmod_bad[@]}))/$rmmod_n," \
	     "umount refused $((umount_n - ${#umount_bad[@]}))/$umount_n," \
	     "$cycle_n unbind/bind cycles, $round victim rounds"
}

# The teardown loop, while the steady jobs run; the last victim round ends
# with an unbind too. An attempt comes STEP seconds after the loop's test,
# and it must find the jobs busy: the last one lands at least STEP seconds
# before their runtime ends (an umount after it works, and rightly so).
soak()
{
	local next=$((start + PROGRESS)) i=0
	while [ $((SECONDS - start)) -le $((SOAK - 2 * STEP)) ] && kill -0 "$steady" 2>/dev/null; do
		sleep $STEP
		try_rmmod
		try_umount
		((i++ % 2 == 0)) || cycle_victim
		[ $SECONDS -lt "$next" ] || { progress; next=$((next + PROGRESS)); }
	done
	cycle_victim last
	bounded $BOUND "bind of $nsb" bind_ns "$nsb" rpmem && udev_settle "$nsb" ||
		cycle_bad+=("no disk for $nsb after the last bind")
	records_back
}

# --- checks -------------------------------------------------------------------

none_bad()	# WHAT COUNT MESSAGES...
{
	local what=$1 n=$2
	shift 2
	[ "$n" -gt 0 ] || fail "no $what at all" || return
	[ $# -eq 0 ] || fail "$# of $n $what went wrong:" "$@"
}

victim_rounds()
{
	local e summary=
	for e in "${!died_of[@]}"; do summary+=" error $e: ${died_of[$e]} job(s);"; done
	echo "victim jobs ended by:${summary:- nothing}"
	none_bad "victim rounds" "$round" "${victim_bad[@]}"
}

victim_records()
{
	echo "$recs_rounds rounds read back: $recs_acked records written, $recs_lost lost"
	none_bad "read-backs" "$recs_rounds" "${rec_bad[@]}"
}

# Wait for the steady fio (within BOUND after its runtime), its status in
# steady_rc.
steady_wait()
{
	local end=$((busy + SOAK + BOUND * 3))
	while kill -0 "$steady" 2>/dev/null && [ $SECONDS -lt $end ]; do
		sleep 1
	done
	kill -0 "$steady" 2>/dev/null && { kill -9 "$steady"; echo "# fio still running, killed"; }
	wait "$steady"
	steady_rc=$?
}

# B after all the cycles: one clean pass, write then verify.
victim_clean()
{
	local d rc
	d=$(ns_disk "$nsb") && [ -b "/dev/$d" ] || fail "no disk node for $nsb" || return
	victim_jobs "/dev/$d" >"$OUT/clean.fio"
	fio --output-format=terse "$OUT/clean.fio" >"$OUT/clean.out" 2>"$OUT/clean.err"
	rc=$?
	fio_clean "$OUT/clean.out" $rc 2
}

# The control: on B, fio writes a 16 MiB area with verify headers, a block
# of it is zeroed with dd, and fio's verify pass over the area must fail
# with a verify error (84, EILSEQ), which fio_clean must reject.
verify_control()
{
	local d rc job=$OUT/control.fio
	d=$(ns_disk "$nsb") || fail "no disk for $nsb" || return
	printf '[control]\nfilename=/dev/%s\ndirect=1\nrw=randwrite\nbs=4k\nsize=16M\nverify=crc32c\nverify_fatal=1\nverify_state_save=0\ndo_verify=0\nallow_file_create=0\n' \
		"$d" >"$job"
	fio --output-format=terse "$job" >"$OUT/control.out" 2>&1 ||
		fail "writing failed: $(tail -n 3 "$OUT/control.out")" || return
	dd if=/dev/zero of="/dev/$d" bs=4k seek=1234 count=1 oflag=direct conv=nocreat,notrunc \
		status=none || return
	sed -i 's/^do_verify=0/do_verify=1/' "$job"
	fio --output-format=terse --verify_only "$job" >"$OUT/control.out" 2>&1
	rc=$?
	[ "$(job_results "$OUT/control.out" | awk '{ print $2 }')" = 84 ] ||
		fail "fio's verify pass: status $rc, $(job_results "$OUT/control.out")," \
		     "$(grep -m2 -E 'verify|err=' "$OUT/control.out")" || return
	! fio_clean "$OUT/control.out" $rc 1 >/dev/null || fail "fio_clean passed it"
}

# The control for fio_clean's verify reads: a mixed job on B without
# verify, which runs clean, so that fio_clean has nothing but its reads
# to reject.
no_verify_control()
{
	local d rc err r w out=$OUT/noverify.out
	d=$(ns_disk "$nsb") || fail "no disk for $nsb" || return
	fio --output-format=terse --name=noverify --filename="/dev/$d" --direct=1 \
		--rw=randrw --bs=4k --size=16M --time_based=1 --runtime=5 \
		--allow_file_create=0 >"$out" 2>&1
	rc=$?
	read -r _ err r w < <(job_results "$out")
	[ $rc = 0 ] && [ "$err" = 0 ] && [ "${r:-0}" -gt 0 ] && [ "${w:-0}" -gt 0 ] ||
		fail "the job did not run clean: status $rc, $(tail -n 3 "$out")" || return
	! fio_clean "$out" $rc 1 >/dev/null ||
		fail "fio_clean passed it: read $r KiB for $w KiB written"
}

# The control for the read-back: of the last round's records, one is
# zeroed and one overwritten by the same record of an earlier round (0);
# the read-back must find exactly those two.
records_control()
{
	local d acks=$OUT/acks.$round n s1 s2 out
	d=$(ns_disk "$nsb") || fail "no disk for $nsb" || return
	n=$(wc -l <"$acks")
	[ "$n" -ge 2 ] || fail "round $round wrote $n records" || return
	s1=$(sed -n "$((n / 2))p" "$acks" | awk '{ print $3 }')
	s2=$(sed -n "${n}p" "$acks" | awk '{ print $3 }')
	dd if=/dev/zero of="/dev/$d" bs=4k seek="$s1" count=1 oflag=direct \
		conv=nocreat,notrunc status=none || return
	POWERFAIL_FIRST=$s2 POWERFAIL_RECORDS=1 "$PF" write raw 0 "/dev/$d" \
		"$OUT/acks.stale" || fail "cannot write the stale record" || return
	out=$("$PF" check raw $round "/dev/$d" "$acks" 2>&1) || fail "$out" || return
	grep -qx "lost raw cycle $round seq $s1: another record (bad checksum)" <<<"$out" &&
		grep -qx "lost raw cycle $round seq $s2: a valid record, but another one" <<<"$out" &&
		[ "$(tail -n 1 <<<"$out")" = "raw $n 2" ] ||
		fail "want seq $s1 zeroed and $s2 stale found, of $n: $out"
}

fs_clean() { umount "$MNT" && e2fsck -fn "$fsdisk"; }

# All three namespaces unbind, rpmem unloads.
all_down()
{
	local ns
	for ns in "$nsa" "$nsb" "$e820"; do
		bounded $BOUND "unbind of $ns" unbind_ns "$ns" || fail "unbind of $ns failed" || return
	done
	rmmod rpmem || return
	[ ! -e /sys/module/rpmem ] || fail "rpmem still loaded"
}

# Nothing left: no namespace range claimed, no namespace bound, no disk.
nothing_held()
{
	local ns claims
	claims=$(grep -E 'namespace[0-9]+\.[0-9]+' /proc/iomem)
	[ -z "$claims" ] || fail "still claimed in /proc/iomem:" "$claims" || return
	for ns in "$nsa" "$nsb" "$e820"; do
		[ -z "$(ns_driver "$ns")" ] || fail "$ns bound to $(ns_driver "$ns")" || return
	done
	! compgen -G "/sys/block/rpmem*" >/dev/null || fail "disks left: $(ls /sys/block)"
}

no_kmemleak()
{
	local n
	sleep 6	# kmemleak ignores objects younger than 5 s
	echo scan >"$KMEMLEAK" && echo scan >"$KMEMLEAK" || return
	cat "$KMEMLEAK" >"$RPMEM_OUT/leaks"
	n=$(grep -c '^unreferenced object' "$RPMEM_OUT/leaks")
	[ "$n" -eq 0 ] || fail "$n unreferenced object(s):" "$(head -n 20 "$RPMEM_OUT/leaks")"
}

summary()
{
	local name err r w
	echo "# summary: $SOAK s; rmmod attempts $rmmod_n, umount attempts $umount_n," \
	     "unbind/bind cycles of $nsb $cycle_n, victim rounds $round"
	while read -r name err r w; do
		echo "#   steady $name: read $((r / 1024)) MiB, wrote $((w / 1024)) MiB, error $err"
	done < <(job_results "$OUT/steady.out")
	for ((i = 1; i <= round; i++)); do
		while read -r name err r w; do
			echo "#   victim round $i $name: read $((r / 1024)) MiB, wrote $((w / 1024)) MiB, error $err"
		done < <(job_results "$OUT/victim.$i.out")
	done
}

exec 9>&1
[[ $SOAK =~ ^[0-9]+$ ]] && [ "$SOAK" -ge $((2 * STEP + 10)) ] ||
	die "RPMEM_SOAK_SECS=$SOAK: want a number of seconds, at least $((2 * STEP + 10))"
if [ -n "${RPMEM_VM_TIMEOUT:-}" ] && [ $((SOAK + 600)) -gt "$RPMEM_VM_TIMEOUT" ]; then
	die "RPMEM_SOAK_SECS=$SOAK does not fit the VM's $RPMEM_VM_TIMEOUT s: run" \
	    "tools/vm.sh --timeout $((SOAK + 900)) with this test's other options in selftests/vm-settings"
fi
leakcheck=0
[ -w "$KMEMLEAK" ] && leakcheck=1
ktap_plan $((15 + leakcheck))
mkdir -p "$MNT" "$OUT"
manual_binding
load_rpmem || die "cannot load rpmem"
read -r nsa nsb < <(namespaces_of ACPI.NFIT | xargs)
e820=$(namespace_of e820)
[ -n "$nsb" ] || die "want two NFIT namespaces, have: $nsa"
[ $leakcheck -eq 0 ] || echo clear >"$KMEMLEAK"
PF=$(build_helper powerfail) || die "no powerfail helper"

setup()
{
	local ns
	for ns in "$nsa" "$nsb" "$e820"; do
		rebind_ns "$ns" rpmem || fail "cannot bind $ns to rpmem" || return
	done
	diska=/dev/$(ns_disk "$nsa") fsdisk=/dev/$(ns_disk "$e820")
	mkfs_dax ext4 "$fsdisk" && mount -o dax "$fsdisk" "$MNT" || return
	touch "$MNT/probe" && dax_file "$MNT/probe" && rm "$MNT/probe" || return
	[ "$(grep -cE 'namespace[0-9]+\.[0-9]+' /proc/iomem)" -eq 3 ] ||
		fail "/proc/iomem does not show the 3 claims:" "$(cat /proc/iomem)"
}
check_here "three namespaces bound to rpmem, ext4 -o dax on the memmap disk, 3 claims in /proc/iomem" \
	setup || die "no soak without its disks"
# The DAX files, written here in 1 MiB blocks: fio would lay them out in
# its jobs' blocks before any job starts (minutes on a KASAN kernel), and
# that is not what the soak's clock is for.
for f in f1 f2 f3; do
	dd if=/dev/zero of="$MNT/$f" bs=1M count=$DAX_MIB status=none ||
		die "cannot write $MNT/$f"
done
echo "# A: $nsa $diska, B (unbound again and again): $nsb, DAX: $e820 $fsdisk on $MNT;" \
     "$SOAK s, a teardown attempt every $STEP s"
steady_jobs "$diska" "$SOAK" >"$OUT/steady.fio"
start=$SECONDS
fio --output-format=terse --status-interval=$PROGRESS "$OUT/steady.fio" \
	>"$OUT/steady.out" 2>"$OUT/steady.err" &
steady=$!
wait_busy || die "the steady jobs do not start"
busy=$SECONDS
victim_start
soak
steady_wait
progress "all fio jobs done after $((SECONDS - start)) s"
summary

check "steady: 6 jobs (3 on $diska, 3 on DAX files) ran clean: no error, verify reads" \
	fio_clean "$OUT/steady.out" "$steady_rc" $STEADY_JOBS
check "rmmod refused each time: Module rpmem is in use ($rmmod_n)" \
	none_bad "rmmod attempts" "$rmmod_n" "${rmmod_bad[@]}"
check "umount of the busy DAX filesystem refused each time: target is busy ($umount_n)" \
	none_bad "umount attempts" "$umount_n" "${umount_bad[@]}"
check "$nsb unbound under its fio jobs and bound again ($cycle_n cycles)" \
	none_bad "unbind/bind cycles" "$cycle_n" "${cycle_bad[@]}"
check "each victim round ($round) ended at its unbind, of I/O errors only" victim_rounds
check "each victim round's completed records read back after the bind ($recs_acked in $recs_rounds rounds), whole, of that round" \
	victim_records
check "control: a record zeroed and one of an earlier round fail the read-back" \
	records_control
check "$nsb after $cycle_n cycles: fio write and verify pass clean" victim_clean
check "control: a zeroed block fails fio's verify (84), and the steady check with it" \
	verify_control
check "control: a mixed job without verify fails the steady check (no verify reads)" \
	no_verify_control
check "the DAX filesystem unmounts, e2fsck finds it clean" fs_clean
check "the three namespaces unbind, rmmod rpmem works" all_down
check "no namespace range claimed in /proc/iomem, nothing bound, no disk" nothing_held
check "rpmem loads again, binds $nsa, which does I/O" \
	eval 'load_rpmem && rebind_ns "$nsa" rpmem &&
	      dd if=/dev/urandom of=/tmp/blk bs=64k count=1 status=none &&
	      dd if=/tmp/blk of="/dev/$(ns_disk "$nsa")" bs=64k oflag=direct conv=nocreat,notrunc status=none &&
	      dd if="/dev/$(ns_disk "$nsa")" bs=64k count=1 iflag=direct status=none | cmp - /tmp/blk &&
	      unbind_ns "$nsa" && rmmod rpmem'
if [ $leakcheck -eq 1 ]; then
	check "kmemleak: no unreferenced object" no_kmemleak
else
	echo "# no $KMEMLEAK (not the debug kernel): no leak scan; VARIANT=debug has one"
fi
ktap_finish

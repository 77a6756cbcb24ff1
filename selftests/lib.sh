# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2034
#
# Helpers for rpmem's selftests, sourced by each test. Tests run as root
# inside the test VM (tools/vm.sh), print KTAP and exit non-zero if any
# check failed. A check that cannot run is a failure, never a skip.

set -u
RPMEM_TOP=${RPMEM_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
# The module under test: tools/check.sh's KASAN tests build one of their own.
RPMEM_KO=${RPMEM_KO:-$RPMEM_TOP/rpmem.ko}
ND=/sys/bus/nd

ktap_nr=0
ktap_failed=0
ktap_planned=

# The output matches kselftest's ktap_helpers.sh (tools/testing/selftests/
# kselftest/) line for line: "TAP version 13", the plan, "ok N ..." and
# "not ok N ...", "Bail out! ...", and the "# Totals: ..." line, then ours,
# "# N passed, N failed". Those helpers are not sourced: they expand
# descriptions unquoted, and the shell would glob a '*' in one.
ktap_plan()
{
	ktap_planned=$1
	echo "TAP version 13"
	echo "1..$1"
}

ktap_totals()
{
	echo "# Totals: pass:$((ktap_nr - ktap_failed)) fail:$ktap_failed xfail:0 xpass:0 skip:0 error:0"
}

# ok|fail DESCRIPTION
ktap_result()
{
	ktap_nr=$((ktap_nr + 1))
	if [ "$1" = ok ]; then
		echo "ok $ktap_nr $2"
	else
		echo "not ok $ktap_nr $2"
		ktap_failed=$((ktap_failed + 1))
	fi
}

# check DESCRIPTION COMMAND...: one result, from the command's status; its
# output is shown, as diagnostics, only on failure.
check()
{
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then
		ktap_result ok "$desc"
	else
		ktap_result fail "$desc"
		printf '%s\n' "$out" | tail -n 20 | sed 's/^/# /'
	fi
}

# check_here DESCRIPTION COMMAND...: like check, but the command runs in
# this shell, not a subshell, so that what it sets (variables, background
# jobs to wait for) stays for the next checks.
check_here()
{
	local desc=$1 log rc
	shift
	log=$(mktemp)
	"$@" >"$log" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		ktap_result ok "$desc"
	else
		ktap_result fail "$desc"
		tail -n 20 "$log" | sed 's/^/# /'
	fi
	rm -f "$log"
	return $rc
}

# expect_fail ERRTEXT DESCRIPTION COMMAND...: the command must fail, and a
# line of its messages must end in ": ERRTEXT" (strerror text, e.g. "Device
# or resource busy"), so that "No such device" is not taken for "No such
# device or address".
expect_fail()
{
	local err=$1 desc=$2 out line
	shift 2
	if out=$("$@" 2>&1); then
		ktap_result fail "$desc"
		echo "# succeeded, expected: $err"
		return
	fi
	while IFS= read -r line; do
		[[ $line == *": $err" ]] || continue
		ktap_result ok "$desc"
		return
	done <<<"$out"
	ktap_result fail "$desc"
	echo "# expected '$err', got:"
	printf '%s\n' "$out" | head -n 5 | sed 's/^/# /'
}

# The end of a test: it fails if a check failed, or if it ran other than
# the checks its plan promised (a check skipped by mistake is no pass).
ktap_finish()
{
	local planned=1
	if [ -n "$ktap_planned" ] && [ "$ktap_nr" -ne "$ktap_planned" ]; then
		echo "# the plan promised $ktap_planned checks, $ktap_nr ran"
		planned=0
	fi
	ktap_totals
	echo "# $((ktap_nr - ktap_failed)) passed, $ktap_failed failed"
	[ "$ktap_failed" -eq 0 ] && [ $planned -eq 1 ]
	exit
}

die() { echo "Bail out! $*"; ktap_totals; exit 1; }

# Explain why a check fails, and fail it.
fail() { echo "$*"; return 1; }

# --- teardown that must return ----------------------------------------------

# Stop the guest at once, red: a teardown that does not return holds the
# device lock, and the guest could not power off. Messages go to fd 9, the
# test's own output (exec 9>&1 first), even from inside a check.
abort_guest()
{
	echo "Bail out! $*" >&9
	echo 1 >"$RPMEM_OUT/rc"
	echo c >/proc/sysrq-trigger
	sleep 30
}

# SECS WHAT COMMAND...: COMMAND, in the background, within SECS seconds, or
# the guest stops with COMMAND's kernel stack; COMMAND's status.
bounded()
{
	local secs=$1 what=$2 pid end=$((SECONDS + $1))
	shift 2
	"$@" &
	pid=$!
	while kill -0 $pid 2>/dev/null && [ $SECONDS -lt $end ]; do
		sleep 0.2
	done
	if kill -0 $pid 2>/dev/null; then
		{
			echo "# $what still running after $secs s, in:"
			sed 's/^/# /' "/proc/$pid/stack"
		} >&9 2>&1
		abort_guest "$what does not return"
	fi
	wait $pid
}

# --- the nd bus -------------------------------------------------------------

# The provider of the bus a namespace sits on: ACPI.NFIT or e820.
ns_provider()
{
	local bus
	bus=$(readlink -f "$ND/devices/$1" | grep -o 'ndbus[0-9]*' | head -n1)
	cat "$ND/devices/$bus/provider"
}

# Namespaces of a provider, by name.
namespaces_of()
{
	local ns
	for ns in "$ND"/devices/namespace*; do
		[ "$(ns_provider "${ns##*/}")" = "$1" ] && echo "${ns##*/}"
	done
}

# The one namespace of a provider; fails the test if there is not exactly one.
namespace_of()
{
	local ns
	ns=$(namespaces_of "$1")
	[ "$(echo "$ns" | wc -w)" -eq 1 ] || die "want one $1 namespace, have: '$ns'"
	echo "$ns"
}

# The driver bound to a namespace, or nothing.
ns_driver()
{
	local d
	d=$(readlink "$ND/devices/$1/driver") && echo "${d##*/}"
}

# The disk of a namespace bound to rpmem or nd_pmem (rpmemX or pmemX).
ns_disk()
{
	local d
	for d in "$ND/devices/$1"/block/*; do
		[ -e "$d" ] && { echo "${d##*/}"; return; }
	done
	return 1
}

# The namespace of SIZE MiB.
ns_of_size()
{
	local ns size
	for ns in "$ND"/devices/namespace*; do
		read -r size <"$ns/size"
		[ "$size" = $(($1 << 20)) ] && { echo "${ns##*/}"; return; }
	done
	fail "no namespace of $1 MiB"
}

# The pfn device of NAMESPACE that a driver serves (once ndctl put the
# namespace in fsdax mode); fails if there is none.
pfn_of()
{
	local p
	for p in "$ND"/devices/pfn*; do
		[ "$(cat "$p/namespace" 2>/dev/null)" = "$1" ] && [ -e "$p/driver" ] &&
			{ echo "${p##*/}"; return; }
	done
	return 1
}

# The KIND (btt, pfn or dax) device claiming NAMESPACE, served or not.
claim_of()	# KIND NAMESPACE
{
	local d
	for d in "$ND"/devices/"$1"*; do
		[ "$(cat "$d/namespace" 2>/dev/null)" = "$2" ] && { echo "${d##*/}"; return; }
	done
	return 1
}

btt_of() { claim_of btt "$1"; }

# NAMESPACE LBS: ndctl puts the namespace in sector mode, which nd_pmem
# (nd_btt) then serves; prints the btt device.
make_sector()
{
	local out
	out=$(ndctl create-namespace -f -e "$1" -m sector -l "$2" 2>&1) ||
		fail "ndctl create-namespace -m sector -l $2: $out" || return
	btt_of "$1" || fail "no btt device claims $1 after: $out"
}

# NAMESPACE DRIVER: sector mode by hand, as ndctl does it on a namespace
# without labels: the region's btt seed gets a UUID, 4096-byte sectors and
# the namespace, and DRIVER (rpmem, or nd_pmem for nd_btt) lays the BTT out
# when it binds the seed.
make_btt()
{
	local region seed
	unbind_ns "$1" || return
	region=$(basename "$(readlink -f "$ND/devices/$1/..")")
	seed=$(cat "$ND/devices/$region/btt_seed")
	cat /proc/sys/kernel/random/uuid >"$ND/devices/$seed/uuid" &&
		echo 4096 >"$ND/devices/$seed/sector_size" &&
		echo "$1" >"$ND/devices/$seed/namespace" &&
		bind_ns "$seed" "$2"
}

# The disk of the btt device on NAMESPACE, once the bus has made it and a
# driver serves it.
btt_disk_of()
{
	local b i
	for ((i = 0; i < 100; i++)); do
		for b in "$ND"/devices/btt*; do
			[ "$(cat "$b/namespace" 2>/dev/null)" = "$1" ] && [ -e "$b/driver" ] &&
				ns_disk "${b##*/}" && return
		done
		sleep 0.1
	done
	fail "no btt disk on $1"
}

# Stop the bus binding new devices by itself: tests bind explicitly.
manual_binding()
{
	echo 0 >"$ND/drivers_autoprobe"
}

bind_ns()	# NAMESPACE DRIVER
{
	echo "$1" >"$ND/drivers/$2/bind"
}

unbind_ns()	# NAMESPACE
{
	local drv
	drv=$(ns_driver "$1") || return 0
	echo "$1" >"$ND/drivers/$drv/unbind"
}

load_rpmem()
{
	grep -q '^rpmem ' /proc/modules || insmod "$RPMEM_KO" "$@"
}

load_nd_pmem()
{
	grep -q '^nd_pmem ' /proc/modules ||
		modprobe -d "$RPMEM_KDIR/modinst" nd_pmem
}

# Make DRIVER own NAMESPACE, whoever had it before.
rebind_ns()	# NAMESPACE DRIVER
{
	unbind_ns "$1" && bind_ns "$1" "$2" && udev_settle "$1"
}

# Wait until the namespace's disk node exists (devtmpfs creates it).
udev_settle()
{
	local i d
	for ((i = 0; i < 50; i++)); do
		d=$(ns_disk "$1") && [ -b "/dev/$d" ] && return 0
		sleep 0.1
	done
	return 1
}

# --- DAX ------------------------------------------------------------------

# FILE: print "dax" or "nodax" from statx's STATX_ATTR_DAX (0x200000);
# fails if statx does not report that attribute at all.
statx_dax()
{
	local out attrs mask
	out=$(xfs_io -r -c 'statx -r' "$1") || return
	attrs=$(sed -n 's/^stat.attributes = //p' <<<"$out")
	mask=$(sed -n 's/^stat.attributes_mask = //p' <<<"$out")
	[ -n "$attrs" ] && (( mask & 0x200000 )) ||
		fail "statx does not report STATX_ATTR_DAX for $1 (mask ${mask:-none})" || return
	if (( attrs & 0x200000 )); then echo dax; else echo nodax; fi
}

# FILE: whether the kernel serves FILE with DAX.
dax_file()
{
	local out
	out=$(statx_dax "$1") || fail "$out" || return
	[ "$out" = dax ] || fail "$1: not DAX"
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

# OUT CODE OFFSET: the output OUT of "dax_mmap poison|watch" reports a
# SIGBUS with si_code CODE (BUS_MCEERR_AR or _AO) whose range (si_addr and
# si_addr_lsb: a page, or the 2 MiB of a PMD mapping) holds byte OFFSET of
# the mapping.
sigbus_covers()
{
	local line n lsb
	line=$(grep -E '^(SIGBUS|no SIGBUS|madvise)' "$1")
	[[ $line =~ ^SIGBUS\ $2\ offset\ ([0-9]+)\ lsb\ ([0-9]+)$ ]] ||
		fail "want a SIGBUS $2, got: $(cat "$1")" || return
	n=${BASH_REMATCH[1]} lsb=${BASH_REMATCH[2]}
	[ "$lsb" -ge 12 ] && [ $((n % (1 << lsb))) -eq 0 ] &&
		[ "$n" -le "$3" ] && [ "$3" -lt $((n + (1 << lsb))) ] ||
		fail "SIGBUS range $n+2^$lsb does not hold byte $3: $line"
}

# HELPER FILE: a MAP_SHARED_VALIDATE|MAP_SYNC mapping of FILE works
# (HELPER: the dax_mmap binary, from build_helper).
map_sync_works()
{
	local out
	out=$("$1" sync "$2" 2>&1) && [ "$out" = "MAP_SYNC ok" ] || fail "$out"
}

# FS MOUNTPOINT FILE: the filesystem lost its disk: reading FILE fails with
# EIO, and ext4 says "shutdown" in its mount options.
fs_dead()
{
	local out
	if [ "$1" = ext4 ]; then
		[[ ,$(awk -v m="$2" '$2 == m { print $4 }' /proc/mounts), == *,shutdown,* ]] ||
			fail "no shutdown in: $(grep " $2 " /proc/mounts)" || return
	fi
	out=$(cat "$3" 2>&1 >/dev/null) && fail "reading $3 worked" && return 1
	[[ $out == *"Input/output error"* ]] || fail "reading $3: $out"
}

# DISK SIZE: fio writes checksummed random 4 KiB-256 KiB blocks O_DIRECT
# over SIZE of DISK, an fsync every 8, and verifies them.
fio_verify_disk()
{
	fio --name=verify --filename="$1" --direct=1 --ioengine=psync --rw=randwrite \
		--bsrange=4k-256k --size="$2" --fsync=8 --verify=crc32c --verify_fatal=1 \
		--output-format=terse >/tmp/fio.out 2>&1 || { cat /tmp/fio.out; return 1; }
}

# FSTYPE DEVICE: a new filesystem, with the block size DAX needs.
mkfs_dax()
{
	case $1 in
	ext4) mkfs.ext4 -q -F -b 4096 "$2" ;;
	xfs) mkfs.xfs -q -f "$2" ;;
	*) fail "mkfs_dax: unknown filesystem $1" ;;
	esac
}

# FSTYPE DEVICE: like mkfs_dax, with big files on 2 MiB boundaries so that
# PMDs can map them. XFS: -d su=2m needs a 64 MiB log, which needs AGs
# bigger than the default four give on 512 MiB.
mkfs_dax_pmd()
{
	case $1 in
	ext4) mkfs.ext4 -q -F -b 4096 -E stride=512,stripe_width=512 "$2" ;;
	xfs) mkfs.xfs -q -f -d su=2m,sw=1,agcount=2 "$2" ;;
	*) fail "mkfs_dax_pmd: unknown filesystem $1" ;;
	esac
}

# The driver whose DAX the rpmem_dax* tests exercise: rpmem, or nd_pmem to
# prove the tests against the in-tree driver (DAX_DRIVER=nd_pmem make check
# T=rpmem_dax: tools/vm.sh hands DAX_DRIVER on to the guest).
DAX_DRIVER=${DAX_DRIVER:-rpmem}

# Load DRIVER's module (rpmem or nd_pmem: driver and module share the name).
load_driver()	# DRIVER [MODULE-PARAMETERS...]
{
	case $1 in
	rpmem) load_rpmem "${@:2}" ;;
	nd_pmem) load_nd_pmem ;;
	*) fail "unknown driver '$1' (rpmem or nd_pmem)" ;;
	esac
}

# The disk node of NAMESPACE as DRIVER names it: /dev/rpmemN for rpmem,
# /dev/pmemN for nd_pmem. Fails if the namespace has no disk, or one that
# another driver made.
driver_disk()	# NAMESPACE DRIVER
{
	local d prefix
	case $2 in
	rpmem) prefix=rpmem ;;
	nd_pmem) prefix=pmem ;;
	*) fail "unknown driver '$2' (rpmem or nd_pmem)"; return ;;
	esac
	d=$(ns_disk "$1") || fail "$1 has no disk" || return
	[[ $d =~ ^${prefix}[0-9] ]] || fail "$1 has disk $d, not one of $2's" || return
	[ -b "/dev/$d" ] || fail "/dev/$d is not a block device" || return
	echo "/dev/$d"
}

# Bind NAMESPACE to DRIVER (loading it first) and print its disk node.
dax_attach()	# NAMESPACE DRIVER
{
	load_driver "$2" >&2 && rebind_ns "$1" "$2" && driver_disk "$1" "$2"
}

# selftests/NAME.c built with the host's gcc (the guest runs the same one)
# into DIR (default: $RPMEM_OUT/bin, the run directory), unless the binary
# there is newer than its source; prints the binary's path.
build_helper()	# NAME [DIR]
{
	local src=$RPMEM_TOP/selftests/$1.c dir=${2:-${RPMEM_OUT:-}/bin} bin
	[ "$dir" != /bin ] || fail "no RPMEM_OUT and no directory for $1" || return
	bin=$dir/$1
	if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ]; then
		mkdir -p "$dir" &&
			gcc -O2 -Wall -Wextra -Werror -o "$bin.tmp" "$src" >&2 &&
			mv "$bin.tmp" "$bin" || fail "cannot build $src" || return
	fi
	echo "$bin"
}

# The module of selftests/faulty (a WARN, an oops, a leak, a use after
# free, on request), built for $RPMEM_KDIR in DIR, from a copy of its
# sources: harness_fails and rpmem_kmemleak, which make check may run at
# the same time, would otherwise build it in the same directory at once.
build_faulty()	# DIR
{
	mkdir -p "$1" && cp "$RPMEM_TOP"/selftests/faulty/{Kbuild,rpmem_faulty.c} "$1/" &&
		make -s -C "$RPMEM_KDIR" M="$1" modules
}

# --- kprobes -----------------------------------------------------------------

TRACING=/sys/kernel/tracing

# FUNCTION...: a kprobe on each, named rpmem_FUNCTION, enabled.
kprobes_on()
{
	local f
	[ -d "$TRACING/events" ] || fail "no tracefs at $TRACING" || return
	for f; do
		echo "p:rpmem_$f $f" >>"$TRACING/kprobe_events" || return
	done
	echo 1 >"$TRACING/events/kprobes/enable"
}

# COMMAND...: run it; print how often it made each kprobe of FLUSH_FUNCS
# (an array the test sets) hit, in that order, on one line.
flushes_of()
{
	local hits f
	hits=$(kprobe_trace "$@") || return
	for f in "${FLUSH_FUNCS[@]}"; do
		grep -cx "$f" <<<"$hits"
	done | xargs
}

# COMMAND...: run it; print the functions it made the kprobes hit, one line
# per hit, in order.
kprobe_trace()
{
	echo >"$TRACING/trace"
	"$@" >/dev/null || return
	grep -v '^#' "$TRACING/trace" | sed -n 's/.* rpmem_\([a-z0-9_]*\): .*/\1/p'
}

# --- the kernel log -----------------------------------------------------------

# Mark the kernel log; kmsg_since prints what the kernel logged after the
# last mark, one "<LEVEL>[time] message" line each (dmesg -r: LEVEL is the
# priority, 0 emerg ... 7 debug).
kmsg_mark()
{
	kmsg_tag="rpmem-selftest mark $RANDOM$RANDOM"
	echo "$kmsg_tag" >/dev/kmsg
}

kmsg_since()
{
	dmesg -r | sed -n "/$kmsg_tag/,\$p" | tail -n +2
}

# RPMEM NDPMEM: what rpmem did is what nd_pmem did.
same_as_nd_pmem() { [ "$1" = "$2" ] || fail "rpmem: '$1', nd_pmem: '$2'"; }

# --- I/O statistics ----------------------------------------------------------

# DISK: reads, sectors read, writes, sectors written (fields 1, 3, 5, 7 of
# its stat file).
io_counts() { awk '{ print $1, $3, $5, $7 }' "/sys/block/$1/stat"; }

# DISK: 10 O_DIRECT writes of 4 KiB (80 sectors) and 2 O_DIRECT reads of
# 64 KiB (256 sectors), each one bio; prints how much each counter of
# io_counts grew.
counted_io()
{
	local d=$1 a b
	read -ra a < <(io_counts "$d")
	dd if=/dev/urandom of="/dev/$d" bs=4k count=10 seek=256 oflag=direct \
		conv=nocreat,notrunc status=none || return
	dd if="/dev/$d" of=/dev/null bs=64k count=2 skip=16 iflag=direct status=none || return
	read -ra b < <(io_counts "$d")
	echo $((b[0] - a[0])) $((b[1] - a[1])) $((b[2] - a[2])) $((b[3] - a[3]))
}

# DELTAS ("READS SECTORS WRITES SECTORS"): at least what counted_io did.
counted_enough()
{
	local n
	read -ra n <<<"$1"
	[ ${#n[@]} -eq 4 ] || fail "no counts: '$1'" || return
	[ "${n[0]}" -ge 2 ] && [ "${n[1]}" -ge 256 ] && [ "${n[2]}" -ge 10 ] &&
		[ "${n[3]}" -ge 80 ] ||
		fail "counters grew by '$1', want at least '2 256 10 80'"
}

# --- power failure ---------------------------------------------------------

# The host side of a power-fail test: boot after boot on the same backing
# files, each killed with SIGKILL at a random moment while the guest's
# workloads run; each boot first checks what the last cycle whose workloads
# ran ($prev, 0 before the first) left. The test defines boot N [last]
# (tools/vm.sh --quiet --out $work/N --pidfile $work/N/qemu.pid ..., its
# messages to $work/vmN.log; the guest checks cycle $prev, starts its
# workloads and calls await_kill) and tally N (adds up boot N's verdict on
# cycle $prev, fails if there is none); $work holds the runs. A boot that
# goes wrong fails the test, and the next one checks the same cycle again.

# FILE...: the guest's side of a killed boot: once every workload has
# acknowledged a write (each FILE holds a line), tell the host to kill the
# VM ($RPMEM_OUT/running) and wait; a workload that ends first fails the boot.
await_kill()
{
	local i f ready
	for ((i = 0; i < 600; i++)); do
		ready=1
		for f; do
			[ -s "$f" ] || ready=0
		done
		if [ $ready = 1 ]; then
			touch "$RPMEM_OUT/running"
			wait -n
			die "a workload ended: $(cat "$RPMEM_OUT"/error.*)"
		fi
		sleep 0.1
	done
	die "the workloads acknowledged nothing in 60 s: $(cat "$RPMEM_OUT"/error.*)"
}

# N WHY: why boot N went wrong, from vm.sh and the guest's console.
# shellcheck disable=SC2154 # work is the test's
show_boot()
{
	echo "# boot $1: $2"
	grep -v Killed "$work/vm$1.log" | sed 's/^/# /'
	tr -d '\r' <"$work/$1/console.log" | grep -av '^\[ *[0-9.]*\]' | tail -n 12 | sed 's/^/# /'
}

# PID DIR SIGN [DELAY]: once the guest of the tools/vm.sh run PID (run
# directory DIR, --pidfile DIR/qemu.pid) has made DIR/SIGN, and DELAY
# seconds later, kill its QEMU with SIGKILL (a power failure). Waits at
# most 600 s (times RPMEM_VM_SLOWDOWN: two boots, if the first hung) and
# not past the run's end; fails if no sign came.
kill_on_sign()
{
	local pid=$1 dir=$2 sign=$3 i qpid
	for ((i = 0; i < 6000 * ${RPMEM_VM_SLOWDOWN:-1}; i++)); do
		[ -e "$dir/$sign" ] && [ -s "$dir/qemu.pid" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	[ -e "$dir/$sign" ] || return
	sleep "${4:-0}"
	# Only while vm.sh waits for it: a PID read after QEMU's end could
	# be another process's by now.
	qpid=$(cat "$dir/qemu.pid")
	[[ $qpid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && kill -KILL "$qpid"
}

# N: boot N, killed at a random moment 0.2 to 2.2 s after its workloads
# started; vm.sh must then say 95 (killed, clean kernel log).
# shellcheck disable=SC2154 # work is the test's
kill_cycle()
{
	local dir=$work/$1 pid ms st=0
	mkdir -p "$dir"
	boot "$1" &
	pid=$!
	ms=$((200 + RANDOM % 1000 + RANDOM % 2 * 1000))
	kill_on_sign "$pid" "$dir" running "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
	wait "$pid" || st=$?
	! grep -q 'booting once more' "$work/vm$1.log" ||
		echo "# boot $1: hung before its init; vm.sh booted it once more"
	[ -e "$dir/running" ] || { show_boot "$1" "the workloads did not start (vm.sh: $st)"; return 1; }
	[ $st -eq 95 ] || { show_boot "$1" "vm.sh ended with $st, not 95 (killed, clean log)"; return 1; }
}

# CYCLES: CYCLES killed boots, then a last one that only checks; counts the
# boots that went wrong in boots_bad. Boot N's verdict counts if its own
# workloads started (else the next boot checks cycle $prev again); prev is
# then N. Progress every 10 cycles on stderr.
# shellcheck disable=SC2154 # work is the test's
powerfail_loop()
{
	local cycles=$1 n last st=0 start=$SECONDS
	prev=0
	for ((n = 1; n <= cycles; n++)); do
		kill_cycle $n || boots_bad=$((boots_bad + 1))
		if [ -e "$work/$n/running" ]; then
			[ $prev -eq 0 ] || tally $n || boots_bad=$((boots_bad + 1))
			prev=$n
		fi
		[ $((n % 10)) -ne 0 ] || echo "# $n of $cycles cycles, $((SECONDS - start)) s" >&2
	done
	last=$((cycles + 1))
	mkdir -p "$work/$last"
	boot $last last >/dev/null || st=$?
	[ $st -eq 0 ] || { show_boot $last "vm.sh ended with $st"; boots_bad=$((boots_bad + 1)); }
	tally $last || boots_bad=$((boots_bad + 1))
	echo "# $((SECONDS - start)) s for $cycles cycles" >&2
}

# --- the persistence model ---------------------------------------------------

# DIR EDIT NAME FS-CHECKS INIT...: "CLEAN of IMAGES, LOST lost" for
# workload NAME from tools/model/check.py on the model run in DIR (its
# modelled files as at boot: INIT...), the run's spec edited by the sed
# script EDIT; worst-case images only. The checker's own controls.
model_recheck()
{
	local dir=$1 edit=$2 name=$3 checks=$4
	shift 4
	sed "$edit" "$dir/vm/spec" >"$dir/bad.spec"
	python3 "$RPMEM_TOP/tools/model/check.py" "$dir/model/model.log" \
		"$dir/bad.spec" "$@" --random 0 --fs-checks "$checks" |
		sed -n "s/^$name: .* \([0-9]* of [0-9]*\) filesystem images clean, .* \([0-9]*\) lost$/\1, \2 lost/p"
}

# DIR PLUGIN-ARGS COMMAND VM-OPTION...: COMMAND in a guest under the
# persistence model (tools/vm.sh --model; RPMEM_MODEL_ARGS adds plugin
# arguments): the guest's run directory is DIR/vm, the model's DIR/model.
# Prints the plugin's summary, or, if the boot failed, the tails of its
# logs (and fails).
model_boot()
{
	local dir=$1 args=$2 cmd=$3 st=0
	shift 3
	mkdir -p "$dir"
	"$RPMEM_TOP/tools/vm.sh" --quiet --out "$dir/vm" --model "$dir/model" \
		--model-args "$args${RPMEM_MODEL_ARGS:+,$RPMEM_MODEL_ARGS}" "$@" -- "$cmd" \
		>"$dir/vm.log" 2>&1 || st=$?
	if [ $st -ne 0 ]; then
		echo "# the boot under the model failed ($st):"
		tail -n 30 "$dir/vm.log" | sed 's/^/#   /'
		tail -n 20 "$dir/vm/console.log" 2>/dev/null | sed 's/^/#   /'
		return 1
	fi
	sed 's/^/# /' "$dir/model/plugin.log"
}

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The harness can fail: a test that runs fewer checks than its KTAP plan
# must fail, the checks it ran passed or not; a module that WARNs, and one
# that oopses, must turn the VM run red even though the command itself
# succeeds; the same module loaded harmlessly is the control. A guest that
# hangs before its init must be stopped early, with a backtrace, not wait
# for the run's timeout, and booted once more (under --pidfile too). On a
# kernel with KASAN (the debug variant), a module that reads freed memory
# must turn it red too, through KASAN's report, and rpmem.ko's Rust code
# must carry KASAN's checks. On a kernel without KASAN those checks mean
# nothing: they are left out of the plan (not passed as skips), and a line
# says so. A filesystem that reports corruption (an EXT4-fs error, XFS
# metadata corruption) must turn the run red too; the same filesystems
# used without damage are the control. RPMEM_HARNESS_KASAN_ONLY=1 (the
# KASAN tier of make check, beside this test on the default kernel) runs
# only what the debug kernel adds: the plan checks, the faulty module's
# build and harmless control, and the two KASAN checks; a kernel without
# KASAN fails it.

. "$(dirname "$0")/lib.sh"

dir=$RPMEM_TOP/selftests/faulty
mkdir -p "${RPMEM_CACHE:=$HOME/.cache/rpmem}/runs"
# The faulty module, built here (build_faulty).
ko=$(mktemp -d "$RPMEM_CACHE/runs/faulty-build.XXXXXX")
trap 'rm -rf "$ko"' EXIT

# MODE EXPECTED-STATUS...: load the module with mode=MODE in a VM (the
# command always exits 0) and expect vm.sh to exit with one of the statuses.
# With LOG_MATCH set, the guest's kernel log must also have a line matching
# that extended regular expression (the report that failed the run).
run_faulty()
{
	local mode=$1 rc out
	shift
	out=$(mktemp -d "$RPMEM_CACHE/runs/faulty-$mode.XXXXXX")
	"$RPMEM_TOP/tools/vm.sh" --quiet --out "$out" ${VM_APPEND:+--append "$VM_APPEND"} -- \
		"insmod $ko/rpmem_faulty.ko mode=$mode; true" >/dev/null 2>&1
	rc=$?
	if [ -n "${LOG_MATCH:-}" ] && ! grep -qE "$LOG_MATCH" "$out"/*.log; then
		rm -rf "$out"
		fail "no line matching '$LOG_MATCH' in the guest's kernel log"
		return
	fi
	rm -rf "$out"
	[[ " $* " == *" $rc "* ]] || fail "vm.sh exited $rc, expected one of: $*"
}

# MODE EXPECTED-STATUS: faulty/fs_error.sh MODE in a VM (it exits 0), and
# the status vm.sh must end with; for 99, its kernel log must have the
# filesystem's report.
run_fs_error()
{
	local mode=$1 rc out
	out=$(mktemp -d "$RPMEM_CACHE/runs/fs-error-$mode.XXXXXX")
	"$RPMEM_TOP/tools/vm.sh" --quiet --out "$out" -- "$dir/fs_error.sh $mode" \
		>/dev/null 2>&1
	rc=$?
	if [ "$2" = 99 ] && ! grep -qE 'EXT4-fs error|XFS .*[Cc]orrupt' "$out/kernel.log"; then
		rm -rf "$out"
		fail "$mode: no report of the corruption in the kernel log"
		return
	fi
	rm -rf "$out"
	[ $rc -eq "$2" ] || fail "vm.sh exited $rc, expected $2"
}

# A guest whose PID 1 never becomes guest-init.sh (tail, reading the
# console) hangs at boot: vm.sh must stop it with an NMI, show PID 1's
# stack, boot once more, and end with 94 when that hangs too.
run_hang()
{
	local out err rc
	out=$(mktemp -d "$RPMEM_CACHE/runs/hang.XXXXXX")
	err=$("$RPMEM_TOP/tools/vm.sh" --quiet --out "$out" --boot-timeout 20 \
		--append init=/usr/bin/tail -- true 2>&1 >/dev/null)
	rc=$?
	rm -rf "$out"
	[ $rc -eq 94 ] || fail "vm.sh exited $rc, expected 94: $err" || return
	[ "$(grep -c 'booting once more' <<<"$err")" -eq 1 ] ||
		fail "not one second boot: $err" || return
	grep -q 'task:tail .* pid:1 ' <<<"$err" || fail "no stack of PID 1 in: $err"
}

# The same under --pidfile, the first boot alone hung (faulty/
# hang_once_init.sh), as the power-fail tests meet it: once the command
# has signalled, the QEMU the PID file names is killed (kill_on_sign),
# and vm.sh must say 95 (killed, as --pidfile allows). Had the PID file
# still named the first QEMU, gone by then, the kill would miss and the
# command end by itself (0). The second boot must reach its init within
# the boot time limit, which it shares with the first: 60 s, for a host
# busy with other tests (a TCG guest reaches its init in some 4 s on an
# idle one); run_hang's limit is no such race: its boots never get there.
run_hang_pidfile()
{
	local out err rc=0 vm
	out=$(mktemp -d "$RPMEM_CACHE/runs/hang-pidfile.XXXXXX")
	"$RPMEM_TOP/tools/vm.sh" --quiet --out "$out" --boot-timeout 60 \
		--pidfile "$out/qemu.pid" \
		--append "init=$dir/hang_once_init.sh HANG_ONCE_OUT=$out" -- \
		'touch "$RPMEM_OUT/running"; sleep 120' >/dev/null 2>"$out.err" &
	vm=$!
	kill_on_sign "$vm" "$out" running
	wait "$vm" || rc=$?
	err=$(cat "$out.err")
	rm -rf "$out" "$out.err"
	[ "$(grep -c 'booting once more' <<<"$err")" -eq 1 ] ||
		fail "not one second boot: $err" || return
	[ $rc -eq 95 ] || fail "vm.sh exited $rc, expected 95: $err"
}

# A test that runs fewer checks than its plan promised fails, all of them
# passed or not; the plan kept is the control.
plan_kept()	# PLANNED
{
	(
		# shellcheck disable=SC2034 # the counters of lib.sh, afresh
		ktap_nr=0 ktap_failed=0
		ktap_plan "$1"
		check "one" true
		check "two" true
		ktap_finish
	)
}
short_of_plan()
{
	local out
	if out=$(plan_kept 3); then
		fail "a test with 2 of its 3 checks passed: $out"
		return
	fi
	grep -q 'the plan promised 3 checks, 2 ran' <<<"$out" || fail "no word of the plan in: $out"
}

# Whether rpmem.ko's Rust object calls KASAN's checks (inline instrumentation
# reports through __asan_report_*): the Rust side was built with KASAN.
rust_instrumented()
{
	local syms
	syms=$(nm -u "$(dirname "$RPMEM_KO")/rust/rpmem.o") || return
	grep -q '__asan_report_' <<<"$syms" ||
		fail "rust/rpmem.o has no __asan_report_* calls: Rust code not instrumented"
}

kasan=0
grep -qx CONFIG_KASAN=y "$RPMEM_KDIR/.config" && kasan=1

# What the harness checks on any kernel, beyond the faulty module's build
# and its harmless control.
harness_checks()
{
	check "a WARN in the guest fails the run (99)" run_faulty warn 99
	check "an oops in the guest fails the run (98 or 99)" run_faulty oops 98 99
	check "control: ext4 and XFS used without damage pass" run_fs_error none 0
	check "an EXT4-fs error in the guest fails the run (99)" run_fs_error ext4 99
	check "XFS metadata corruption in the guest fails the run (99)" run_fs_error xfs 99
	check "a guest hung before its init: PID 1's stack, one more boot, 94" run_hang
	check "under --pidfile: a first boot hung, the PID file names the second QEMU" \
		run_hang_pidfile
}

kasan_only=${RPMEM_HARNESS_KASAN_ONLY:-0}
if [ "$kasan_only" = 1 ]; then
	[ $kasan -eq 1 ] || die "RPMEM_HARNESS_KASAN_ONLY=1 on $RPMEM_KDIR, which has no KASAN"
	ktap_plan 6
else
	ktap_plan $((11 + 2 * kasan))
fi
check "control: a test that runs the 2 checks it plans passes" plan_kept 2
check "a test that runs 2 of the 3 checks it plans fails" short_of_plan
check "build the faulty module" build_faulty "$ko"
check "control: harmless load passes" run_faulty none 0
if [ "$kasan_only" = 1 ]; then
	echo "# the other 7 checks of the harness run in harness_fails, on the default kernel"
else
	harness_checks
fi
if [ $kasan -eq 1 ]; then
	# KFENCE (also in the debug kernel) samples an allocation now and
	# then and would report this one itself: off for this run.
	LOG_MATCH='BUG: KASAN: slab-use-after-free' VM_APPEND=kfence.sample_interval=0 \
		check "a KASAN report in the guest fails the run (99)" run_faulty uaf 99
	check "rpmem.ko's Rust code is KASAN-instrumented" rust_instrumented
else
	echo "# this kernel has no KASAN: its two checks run on the debug kernel (make check VARIANT=debug)"
fi
ktap_finish

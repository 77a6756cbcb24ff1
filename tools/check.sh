#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# check.sh [TEST...]: every test of rpmem, as "make check" runs it.
#
# Host checks first (build, rustfmt, clippy), then the selftests, in the
# order of selftests/vm-settings: a test that file says runs in a "vm ARGS"
# runs inside a fresh VM (tools/vm.sh ARGS), a "host" one runs here and
# boots VMs itself. TAP on stdout, each test's own KTAP nested under it,
# and a last line "N passed, N failed".
# Exits non-zero if anything failed. TEST names a selftest (rpmem_fio) or a
# host check (build, rustfmt, clippy).
#
# VARIANT=debug runs everything on the debug kernel (KASAN, built with clang),
# plus the tests in selftests/debug/ that need it (kmemleak).
#
# RPMEM_JOBS=N (default: the number of CPUs; "make check J=N") runs up to N
# selftests at a time, each in its own run directory; a host test, which
# boots its VMs one after the other, is one of them. Their results are
# printed in the order of vm-settings all the same, each as soon as it and
# every test before it have ended. RPMEM_JOBS=1 runs one at a time.
#
# The KASAN tests: a line "kasan/NAME kasan [ARGS]" of vm-settings runs
# selftest NAME (selftests/NAME.sh or selftests/debug/NAME.sh, where its own
# line says) once more on the debug kernel, reported as kasan/NAME among
# the others, every guest booted with kernel arguments ARGS, by default
# $KASAN_ARGS; words RPMEM_VAR=VALUE among ARGS are the test's environment
# instead (say, a smaller volume where the volume is not what KASAN checks).
# "check.sh kasan/NAME" runs any selftest so, listed or not.
# The debug kernel is built first if it is not cached, and rpmem.ko for it
# in a directory of its own ($runs-kasan/src), so that it runs beside the
# default one.

set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$RPMEM_TOP" || exit

# SECONDS as "M min S s".
duration() { echo "$(($1 / 60)) min $(($1 % 60)) s"; }

# What each setup step took, "STEP M min S s", for the "# setup:" line
# (a warm run's are a few seconds; a cold run's are where its time goes).
setup_times=()
setup_took()	# STEP START
{
	setup_times+=("$1 $(duration $((SECONDS - $2)))")
}

# Everything the tests need, installed or built before the first result.
# LLVM (the debug variant's clang) is exported: the tests that build modules
# against the kernel (selftests/faulty) must use its compiler too.
export RPMEM_KDIR VARIANT=${VARIANT:-default}
unset LLVM
eval "$(tools/toolchain.sh "$VARIANT")" || die "toolchain setup failed"
[ -z "${LLVM:-}" ] || export LLVM
setup_took toolchain 0
# RPMEM_CHECK_KDIR: another kernel to boot (tools/check-series.sh: the
# series built in-tree, with RPMEM_KO its rpmem.ko).
began=$SECONDS
RPMEM_KDIR=${RPMEM_CHECK_KDIR:-$(tools/kernel.sh "$VARIANT")} || die "test kernel build failed"
setup_took "$VARIANT kernel" $began

# The debug kernel's checks (KASAN, page poisoning, lockdep) make a guest
# several times slower under TCG: its VMs get four times the time limit,
# and the power-fail loops, which would take hours there at 50 and 30
# boots, run 5 and 10 cycles unless told otherwise.
debug_defaults()
{
	export RPMEM_VM_SLOWDOWN=${RPMEM_VM_SLOWDOWN:-4}
	export RPMEM_POWERFAIL_CYCLES=${RPMEM_POWERFAIL_CYCLES:-5}
	export RPMEM_BTT_POWERFAIL_CYCLES=${RPMEM_BTT_POWERFAIL_CYCLES:-10}
}
[ "$VARIANT" = default ] || debug_defaults

# A KASAN test's guests keep KASAN, KFENCE, lockdep, UBSAN and the atomic
# sleep checks of the debug kernel, but boot without its page allocator
# and SLUB debugging, whose use-after-free and overflow checks KASAN's own
# cover, and without kmemleak (its own test keeps it): half the time.
KASAN_ARGS="debug_pagealloc=off slab_debug=- kmemleak=off"

# Each test's output, by name, under a directory of its own for this tree
# and variant: two trees (or variants) checked at once do not share them.
runs=$RPMEM_CACHE/runs/check-$VARIANT-$(printf %s "$RPMEM_TOP" | md5sum | cut -c1-8)

passed=0 failed=0 nr=0
want=("$@")
jobs=${RPMEM_JOBS:-$(nproc)}
[[ $jobs =~ ^[1-9][0-9]*$ ]] || die "RPMEM_JOBS=$jobs: want a number of jobs, 1 or more"

wanted()
{
	# The selftests load rpmem.ko: it is always built for the kernel under
	# test, whichever tests are asked for.
	[ "$1" = build ] && return 0
	[ ${#want[@]} -eq 0 ] && return 0
	local w
	for w in "${want[@]}"; do [ "$w" = "$1" ] && return 0; done
	return 1
}

# The persistence model's QEMU, from Debian's source (a few minutes the
# first time), before the first result too.
if wanted rpmem_model || wanted rpmem_model_xfs; then
	began=$SECONDS
	tools/model.sh >/dev/null || die "building the persistence model failed"
	setup_took "model QEMU" $began
fi

# NAME STATUS [OUTPUT-FILE [SECONDS]]
result()
{
	nr=$((nr + 1))
	[ -n "${3:-}" ] && sed 's/^/    /' "$3"
	[ -n "${4:-}" ] && echo "# $1: $(duration "$4")"
	if [ "$2" -eq 0 ]; then
		echo "ok $nr $1"
		passed=$((passed + 1))
	else
		echo "not ok $nr $1 # exit status $2"
		failed=$((failed + 1))
	fi
}

# NAME COMMAND...: a host check; output shown only on failure.
host_check()
{
	local name=$1 log rc began=$SECONDS
	shift
	wanted "$name" || return 0
	log=$(mktemp)
	"$@" >"$log" 2>&1
	rc=$?
	[ $rc -ne 0 ] || : >"$log"
	result "$name" $rc "$log" $((SECONDS - began))
	rm -f "$log"
}

# The selftests' C helpers (selftests/*.c), built here with the host's gcc
# into the guest's run directory DIR/bin, where selftests/lib.sh's
# build_helper finds them: it would build them in the guest too, but TCG
# takes seconds for it. A failure shows in the guest, which tries again.
prebuild_helpers()	# DIR
{
	local c
	for c in selftests/*.c; do
		[ -e "$c" ] || continue
		( . selftests/lib.sh && build_helper "$(basename "$c" .c)" "$1/bin" ) \
			>/dev/null 2>&1
	done
}

# Where selftest NAME of directory DIR runs: "host", or "vm ARGS" (the
# tools/vm.sh options), from DIR/vm-settings.
test_setting()	# DIR NAME
{
	awk -v t="$2" '$1 == t { $1 = ""; sub(/^ +/, ""); print; found = 1; exit }
		END { exit !found }' "$1/vm-settings"
}

# kasan/NAME: the script of selftest NAME, in selftests or selftests/debug.
kasan_script()
{
	local s=selftests/${1#kasan/}.sh
	[ -f "$s" ] || [ ! -f "selftests/debug/${1#kasan/}.sh" ] || s=selftests/debug/${1#kasan/}.sh
	echo "$s"
}

# The selftests of DIR, "SCRIPT NAME" each: those DIR/vm-settings names,
# in its order, then any DIR/*.sh it does not name (run_selftest fails
# those). A KASAN test's script is the selftest it names, in DIR or in
# selftests/debug; none on the debug kernel, where every test is one.
selftests_of()	# DIR
{
	local t listed
	listed=$(awk '$1 ~ /^[[:alnum:]_]/ { print $1 }' "$1/vm-settings")
	for t in $listed; do
		case $t in
		kasan/*) [ "$VARIANT" != default ] || echo "$(kasan_script "$t") $t" ;;
		*) echo "$1/$t.sh $t" ;;
		esac
	done
	for t in "$1"/*.sh; do
		[ "$t" != selftests/lib.sh ] && [ -e "$t" ] || continue
		grep -qx "$(basename "$t" .sh)" <<<"$listed" || echo "$t $(basename "$t" .sh)"
	done
}

# The debug kernel, and rpmem.ko for it built in a copy of the sources
# (the tree's own rpmem.ko is the default kernel's, in use by the tests
# beside): the kasan/ tests' environment into kasan_env, or a failed
# result "kasan/build".
kasan_env=()
kasan_prepare()
{
	local src=$runs-kasan/src kdir log llvm began=$SECONDS
	log=$(mktemp)
	mkdir -p "$src" &&
	tar -C "$RPMEM_TOP" -c --exclude='*.o' --exclude='*.ko' --exclude='*.cmd' \
		--exclude='*.mod' --exclude='*.mod.c' --exclude='*_generated.rs' \
		Makefile Kbuild rust tools selftests/config selftests/config.debug |
		tar -C "$src" -x &&
	llvm=$(tools/toolchain.sh debug | sed -n 's/^LLVM=//p') &&
	kdir=$(tools/kernel.sh debug) &&
	make -s -C "$src" VARIANT=debug KDIR="$kdir" modules >"$log" 2>&1
	if [ $? -ne 0 ]; then
		result kasan/build 1 "$log" $((SECONDS - began))
		rm -f "$log"
		return 1
	fi
	rm -f "$log"
	result kasan/build 0 "" $((SECONDS - began))
	kasan_env=(VARIANT=debug RPMEM_KDIR="$kdir" RPMEM_KO="$src/rpmem.ko" LLVM="$llvm"
		   RPMEM_BUILT=debug)
}

# SCRIPT NAME: the selftest, its output into its run directory's file
# output; returns its status. No output on stdout: several run at once.
# A kasan/ test runs in the debug kernel's environment (kasan_prepare),
# its guests booted with its line's kernel arguments.
run_selftest()
{
	local t=$1 name=$2 where out rc args w words kargs
	out=$runs/${name//\//-}
	rm -rf "$out" && mkdir -p "$out"
	if [[ $name == kasan/* ]]; then
		if [ ${#kasan_env[@]} -eq 0 ]; then
			echo "# no debug kernel or no rpmem.ko for it (kasan/build)" >"$out/output"
			return 1
		fi
		export "${kasan_env[@]}"
		args=$(test_setting selftests "$name") || args=kasan
		kargs=()
		read -ra words <<<"${args#kasan}"
		for w in "${words[@]}"; do
			if [[ $w =~ ^RPMEM_[A-Z0-9_]+= ]]; then
				export "${w?}"
			else
				kargs+=("$w")
			fi
		done
		export RPMEM_VM_APPEND=${kargs[*]:-$KASAN_ARGS}
		debug_defaults
	fi
	where=$(test_setting "$(dirname "$t")" "$(basename "$t" .sh)")
	[ -f "$t" ] || where=missing
	case $where in
	missing)
		echo "# no test script $t" >"$out/output"
		rc=1 ;;
	host)
		"$t" >"$out/output" 2>&1
		rc=$? ;;
	vm|"vm "*)
		prebuild_helpers "$out/vm"
		# shellcheck disable=SC2086
		tools/vm.sh --quiet --out "$out/vm" ${where#vm} -- "$RPMEM_TOP/$t" >"$out/output" 2>&1
		rc=$?
		cat "$out/vm/console.log" >>"$out/output" 2>/dev/null ;;
	*)
		echo "# $(dirname "$t")/vm-settings says neither 'host' nor 'vm ARGS' for $name" \
			>"$out/output"
		rc=1 ;;
	esac
	return $rc
}

# The running selftests' PIDs, by their index in run_selftests; each is
# the leader of a process group that holds everything the test started.
running=()

# Ending with tests still running (interrupted): they end too, VMs and all.
stop_selftests()
{
	local pid
	for pid in "${running[@]}"; do kill -TERM -- "-$pid" 2>/dev/null; done
	running=()
}
trap stop_selftests EXIT
trap 'stop_selftests; exit 130' INT
trap 'stop_selftests; exit 143' TERM

# "SCRIPT NAME"...: the selftests asked for, up to $jobs at a time, each
# in a process group of its own; their results in the order given, each
# printed once it and all before it have ended.
run_selftests()
{
	local t name n next=0 shown=0 pid st i
	local -a scripts=() names=() rcs=() began=() took=()
	for t; do
		name=${t#* }
		wanted "$name" || continue
		scripts+=("${t%% *}") names+=("$name")
	done
	n=${#scripts[@]}
	# The KVM probe of tools/vm.sh once, not in each test at the same time.
	[ "$n" -eq 0 ] || tools/vm.sh --which-accel >/dev/null || die "tools/vm.sh does not start"
	while [ $shown -lt $n ]; do
		while [ $next -lt $n ] && [ ${#running[@]} -lt "$jobs" ]; do
			set -m	# the job's own process group (stop_selftests)
			run_selftest "${scripts[next]}" "${names[next]}" </dev/null &
			running[next]=$! began[next]=$SECONDS
			set +m
			next=$((next + 1))
		done
		pid=
		wait -n -p pid
		st=$?
		[ -n "$pid" ] || die "lost track of the running tests (wait: $st)"
		for i in "${!running[@]}"; do
			[ "${running[i]}" = "$pid" ] || continue
			rcs[i]=$st took[i]=$((SECONDS - began[i]))
			unset 'running[i]'
		done
		while [ $shown -lt $n ] && [ -n "${rcs[shown]:-}" ]; do
			result "${names[shown]}" "${rcs[shown]}" \
				"$runs/${names[shown]//\//-}/output" "${took[shown]}"
			shown=$((shown + 1))
		done
	done
}

echo "TAP version 13"
printf '# setup: %s' "${setup_times[0]}"
printf ', %s' "${setup_times[@]:1}"
echo
host_check build make -s modules
host_check rustfmt make -s fmtcheck
host_check clippy make -s clippy
# From here on nothing is built but what a test builds for itself (in a
# directory of its own): tests run at the same time must not rebuild the
# toolchain, the kernel or rpmem.ko under each other (tools/bench.sh).
export RPMEM_BUILT=$VARIANT
mapfile -t tests < <(selftests_of selftests)
[ "$VARIANT" = debug ] && mapfile -t -O ${#tests[@]} tests < <(selftests_of selftests/debug)
# kasan/NAME asked for and not listed: NAME's script, where it is.
for t in "${want[@]}"; do
	[[ $t == kasan/* ]] && [ "$VARIANT" = default ] || continue
	printf '%s\n' "${tests[@]}" | grep -q " $t\$" || tests+=("$(kasan_script "$t") $t")
done
for t in "${tests[@]}"; do
	[[ $t == *" kasan/"* ]] && wanted "${t#* }" && { kasan_prepare; break; }
done
run_selftests "${tests[@]}"
echo "# make check: $(duration $SECONDS)"
echo "1..$nr"
[ $nr -gt 0 ] || { echo "no test matched: ${want[*]}"; failed=1; }
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]

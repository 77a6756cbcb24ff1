#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The harness can fail: a module that WARNs, and one that oopses, must turn
# the VM run red even though the command itself succeeds; the same module
# loaded harmlessly is the control.
#
# host

. "$(dirname "$0")/lib.sh"

dir=$RPMEM_TOP/selftests/faulty
mkdir -p "${RPMEM_CACHE:=$HOME/.cache/rpmem}/runs"

# MODE EXPECTED-STATUS...: load the module with mode=MODE in a VM (the
# command always exits 0) and expect vm.sh to exit with one of the statuses.
run_faulty()
{
	local mode=$1 rc out
	shift
	out=$(mktemp -d "$RPMEM_CACHE/runs/faulty-$mode.XXXXXX")
	"$RPMEM_TOP/tools/vm.sh" --quiet --out "$out" -- \
		"insmod $dir/rpmem_faulty.ko mode=$mode; true" >/dev/null 2>&1
	rc=$?
	rm -rf "$out"
	[[ " $* " == *" $rc "* ]] || fail "vm.sh exited $rc, expected one of: $*"
}

ktap_plan 4
check "build the faulty module" make -s -C "$RPMEM_KDIR" M="$dir" modules
check "control: harmless load passes" run_faulty none 0
check "a WARN in the guest fails the run (99)" run_faulty warn 99
check "an oops in the guest fails the run (98 or 99)" run_faulty oops 98 99
ktap_finish

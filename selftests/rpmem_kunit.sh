#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# rpmem's KUnit suites (rust/kunit.rs): the BTT's info block, flog, map
# and layout, the bad sector arithmetic of DAX, the sector conversions;
# and rpmem_doctests, the examples of the doc comments of rust/ (those
# that run: tools/doctests.py).
# They are in rpmem_kunit.ko, the driver's crate built with --cfg
# rpmem_kunit (Kbuild), which registers no driver; KUnit runs them when
# it is loaded. Their KTAP, from the kernel log, is shown nested here, and
# any case that fails fails this test; the results KUnit keeps in debugfs
# must say the same. rpmem.ko has no suite: loading it runs none.
#
# Control: rpmem_kunit_broken.ko is the same with one expectation wrong
# (a known checksum, one bit off): exactly that case must fail, with that
# expectation as the reason, and its suite with it; every other passes.
#
# In-tree (RPMEM_KO an in-tree module: make check-series), the suites are
# in rpmem.ko itself (NVDIMM_RPMEM_KUNIT_TEST): loading it runs them. The
# examples are the kernel crate's doctests there (RUST_KERNEL_DOCTESTS),
# run by KUnit at boot in suite rust_doctests_kernel: each of rpmem's
# abstractions' files must have as many passed as its doc comments have
# examples that compile. Control: the same check over a copy of the boot
# log with one of those results turned "not ok" fails for that case. The
# broken module is built out of tree only: its control runs in make check.

. "$(dirname "$0")/lib.sh"

# Built beside rpmem.ko (for the debug kernel, in the KASAN tier).
KUNIT_KO=$(dirname "$RPMEM_KO")/rpmem_kunit.ko
BROKEN_KO=$(dirname "$RPMEM_KO")/rpmem_kunit_broken.ko
DEBUGFS=/sys/kernel/debug
SUITES=(rpmem_btt_info rpmem_btt_flog rpmem_btt_map rpmem_btt_layout
	rpmem_sectors rpmem_badblocks rpmem_doctests)
INTREE=$(modinfo -F intree "$RPMEM_KO" 2>/dev/null)
[ "$INTREE" != Y ] || unset 'SUITES[6]'

# The KTAP KUnit logged since the mark: from its "KTAP version 1" at the
# top level on, the kernel log's level and time cut off.
kunit_ktap()
{
	kmsg_since | sed -E 's/^<[0-9]+>\[[^]]*\] ?//' |
		sed -n '/^KTAP version 1$/,$p'
}

# MODULE: load it, keep its KTAP in $KTAP and show it, nested.
kunit_load()
{
	kmsg_mark
	insmod "$1" || return
	KTAP=$(kunit_ktap)
	[ -n "$KTAP" ] || fail "no KTAP from KUnit in the kernel log" || return
	printf '%s\n' "$KTAP" | sed 's/^/    /' >&9
}

# The top-level result of each of our suites, sorted by name (KUnit runs
# them in the order of the module's section): "NAME ok" or "NAME not ok",
# one line each.
suite_results() { sed -nE 's/^((not )?ok) [0-9]+ (rpmem_[a-z_]+)$/\3 \1/p' <<<"$KTAP" | sort; }

# Every suite ran, in one run of the seven, and passed, as did each case.
all_passed()
{
	local want
	grep -qx "1\.\.${#SUITES[@]}" <<<"$KTAP" ||
		fail "KUnit did not plan ${#SUITES[@]} suites" || return
	want=$(printf '%s ok\n' "${SUITES[@]}" | sort)
	[ "$(suite_results)" = "$want" ] || fail "suites: $(suite_results | xargs)" || return
	! grep -qE '^ *not ok ' <<<"$KTAP" || fail "$(grep -E '^ *not ok ' <<<"$KTAP")" || return
	CASES=$(grep -cE '^    ok [0-9]+ ' <<<"$KTAP")
	[ "$CASES" -gt 0 ] || fail "no case ran"
}

# What KUnit keeps in debugfs agrees: each suite's results end "ok 1 NAME".
debugfs_agrees()
{
	local s r
	mountpoint -q "$DEBUGFS" || mount -t debugfs none "$DEBUGFS" || return
	for s in "${SUITES[@]}"; do
		r=$(cat "$DEBUGFS/kunit/$s/results") || return
		[ "$(tail -n 1 <<<"$r")" = "ok 1 $s" ] || fail "$s: $(tail -n 1 <<<"$r")" || return
	done
}

# The control: one case fails, checksum_known_answer of rpmem_btt_info,
# for its expectation (the one that reads BROKEN), and only its suite.
only_the_broken_case_failed()
{
	local failed suites want s
	failed=$(grep -E '^    not ok [0-9]+ ' <<<"$KTAP" | sed -E 's/^    not ok [0-9]+ //')
	[ "$failed" = checksum_known_answer ] || fail "failed cases: '$failed'" || return
	suites=$(suite_results)
	want=$(for s in "${SUITES[@]}"; do
		if [ "$s" = rpmem_btt_info ]; then echo "$s not ok"; else echo "$s ok"; fi
	done | sort)
	[ "$suites" = "$want" ] || fail "suites: $(xargs <<<"$suites")" || return
	grep -qE '# checksum_known_answer: ASSERTION FAILED at .*kunit\.rs:[0-9]+$' <<<"$KTAP" ||
		fail "no assertion failure reported for checksum_known_answer" || return
	grep -qE '^ +Expected .*\^ BROKEN to be true, but is false$' <<<"$KTAP" ||
		fail "the failed expectation is not the broken one"
}

# rpmem.ko has no suite: loading it logs no KTAP, adds no suite to debugfs.
no_suite_in_rpmem()
{
	local s
	kmsg_mark
	insmod "$RPMEM_KO" || return
	[ -z "$(kunit_ktap)" ] || fail "KTAP in the kernel log: $(kunit_ktap | head -n 3)" || return
	for s in "${SUITES[@]}"; do
		[ ! -e "$DEBUGFS/kunit/$s" ] || fail "$s in debugfs" || return
	done
	rmmod rpmem
}

# The doc comments' examples rustdoc compiles (code blocks but "ignore"
# and "text" ones) in each file of rust/ext, "FILE COUNT", FILE as the
# kernel's doctests name it: rust/ext/block/bio.rs is rust/kernel/block/bio.rs
# in the series, its doctests rust_doctest_kernel_block_bio_rs_N.
doctest_files()
{
	local f n
	while read -r f; do
		n=$(awk '/^[ \t]*\/\/[\/!] ?```/ {
				fence++
				if (fence % 2 == 1 && $0 !~ /ignore|text/) n++
			}
			END { print n + 0 }' "$f")
		[ "$n" -eq 0 ] || echo "$(sed 's|^.*/rust/ext/||; s|[/.]|_|g' <<<"$f") $n"
	done < <(find "$RPMEM_TOP/rust/ext" -name '*.rs' | sort)
}

# LOG (a kernel log): every example of rust/ext ran as a doctest, passed.
doctests_passed()
{
	local file n ok bad total=0
	while read -r file n; do
		bad=$(grep -E "^ +not ok [0-9]+ rust_doctest_kernel_${file}_[0-9]+( |\$)" "$1" |
			head -n 1)
		[ -z "$bad" ] || fail "$bad" || return
		ok=$(grep -cE "^ +ok [0-9]+ rust_doctest_kernel_${file}_[0-9]+\$" "$1")
		[ "$ok" -eq "$n" ] || fail "$file: $ok of $n doctests passed" || return
		total=$((total + n))
	done < <(doctest_files)
	[ "$total" -gt 0 ] || fail "no example in rust/ext"
}

doctests_at_boot()
{
	doctests_passed "$BOOT_LOG" &&
		echo "# $(doctest_files | awk '{ n += $2 } END { print n }') doctests of rust/ext passed" >&9
}

# Control: one passed doctest of rust/ext made "not ok" in a copy.
doctest_failure_seen()
{
	local copy case out
	copy=$(mktemp)
	case=$(grep -m1 -oE "rust_doctest_kernel_$(doctest_files | awk 'NR == 1 { print $1 }')_[0-9]+\$" \
		"$BOOT_LOG") || fail "no doctest of rust/ext in the boot log" || return
	sed -E "s/^( +)ok ([0-9]+ $case)\$/\1not ok \2/" "$BOOT_LOG" >"$copy"
	if out=$(doctests_passed "$copy"); then
		fail "passed with $case failed"
	else
		grep -q "not ok [0-9]* $case" <<<"$out" || fail "failed for another reason: $out"
	fi
}

exec 9>&1
if [ "$INTREE" = Y ]; then
	BOOT_LOG=$(mktemp)
	dmesg | sed -E 's/^\[[^]]*\] ?//' >"$BOOT_LOG"
	ktap_plan 6
	check_here "insmod rpmem.ko (in-tree): KUnit runs its suites" kunit_load "$RPMEM_KO"
	check_here "every suite and case passed" all_passed
	echo "# ${#SUITES[@]} suites, ${CASES:-0} cases"
	check "debugfs results agree" debugfs_agrees
	check "rmmod rpmem" rmmod rpmem
	check_here "the examples of rust/ext passed as the kernel's doctests at boot" \
		doctests_at_boot
	check "control: a doctest of rust/ext failed is seen" doctest_failure_seen
	ktap_finish
	exit
fi
ktap_plan 8
check_here "insmod rpmem_kunit.ko: KUnit runs its suites" kunit_load "$KUNIT_KO"
check_here "every suite and case passed" all_passed
echo "# ${#SUITES[@]} suites, ${CASES:-0} cases"
check "debugfs results agree" debugfs_agrees
check "rmmod rpmem_kunit" rmmod rpmem_kunit
check_here "control: insmod rpmem_kunit_broken.ko: KUnit runs its suites" kunit_load "$BROKEN_KO"
check "control: the broken case fails, for its wrong expectation, and it alone" \
	only_the_broken_case_failed
check "rmmod rpmem_kunit_broken" rmmod rpmem_kunit_broken
check "rpmem.ko runs no KUnit suite" no_suite_in_rpmem
ktap_finish

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The benchmark does not rot: "tools/bench.sh --smoke" (one short
# repetition of every row, a 2 GiB probe namespace) runs in its own VM and
# its report has every row with a figure for every driver. Its numbers are
# printed, never judged: speed is the benchmark's business ("make bench"),
# not a test's. Control: the report refuses results that lack a driver's
# figure for a row.

. "$(dirname "$0")/lib.sh"

work=$(mktemp -d "${RPMEM_CACHE:-$HOME/.cache/rpmem}/runs/bench-smoke.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The smoke run, its log shown if it fails.
smoke()
{
	[ "$smoke_rc" -eq 0 ] || { tail -n 30 "$work/log"; return 1; }
}

# Every row of the guest's list is in the report, with every driver's median.
complete()
{
	local rows
	rows=$(wc -l <"$work/vm/bench/rows.tsv")
	# 11 block rows, 8 probe rows, 6 on each filesystem, 6 in sector mode.
	[ "$rows" -eq 37 ] || fail "$rows rows declared, not 37" || return
	python3 - "$work/report.json" "$rows" <<-'EOF'
	import json, sys
	report = json.load(open(sys.argv[1]))
	rows = report["rows"]
	assert len(rows) == int(sys.argv[2]), f"{len(rows)} rows in the report"
	for r in rows:
	    for d in r["drivers"]:
	        assert r["stats"][d]["median"] >= 0, f"{r['name']}: {d}"
	EOF
	[ -s "$work/ratios.svg" ] || fail "no plot"
}

# Control: one driver's figure for one row gone, the report must fail.
missing_detected()
{
	local cut=$work/cut
	mkdir -p "$cut/out" && cp "$work/vm/bench/"{rows.tsv,env.txt} "$cut/" &&
		grep -v -P '^seq-read-1m\tnd_pmem\t' "$work/vm/bench/results.tsv" >"$cut/results.tsv" ||
		return
	! python3 "$RPMEM_TOP/tools/bench-report.py" "$cut" "$cut/out" >/dev/null 2>&1 ||
		fail "the report accepted seq-read-1m without nd_pmem's figure"
}

ktap_plan 3
smoke_rc=0
"$RPMEM_TOP/tools/bench.sh" --smoke --out "$work" >"$work/table" 2>"$work/log" || smoke_rc=$?
sed 's/^/# /' "$work/table"
check "bench.sh --smoke runs every row" smoke
check "the report has every row, with every driver's figure, and the plot" complete
check "control: a missing figure fails the report" missing_detected
ktap_finish

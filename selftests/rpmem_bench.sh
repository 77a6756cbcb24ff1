#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The benchmark does not rot: "tools/bench.sh --smoke" (one short
# repetition of every row, a 2 GiB probe namespace) runs in its own VM
# and its report has every row with a figure for every driver, the latency
# percentiles of every queue depth 1 row, the cost per fault and the copy
# ceiling. Its numbers are printed, never judged: speed is the benchmark's
# business ("make bench"), not a test's. Controls: the report refuses
# results that lack a driver's figure for a row, a queue depth 1 row whose
# fio JSON lacks a percentile, and a row whose helper failed.

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
	# 13 block rows, 2 raw durability rows, 12 probe rows, 14 on each
	# filesystem, the unbind after DAX use, 6 in sector mode.
	[ "$rows" -eq 62 ] || fail "$rows rows declared, not 62" || return
	python3 - "$work/report.json" "$rows" <<-'EOF'
	import json, sys
	report = json.load(open(sys.argv[1]))
	rows = report["rows"]
	assert len(rows) == int(sys.argv[2]), f"{len(rows)} rows in the report"
	for r in rows:
	    for d in r["drivers"]:
	        assert r["stats"][d]["median"] >= 0, f"{r['name']}: {d}"
	# Latency: every fio row at QD1 (all but the QD32 x 4 ones), each
	# direction with I/O, every driver, every percentile.
	qd1 = {r["name"] for r in rows if r["metric"] in ("iops", "bw")
	       and "qd32" not in r["name"]}
	lat = {e["row"] for e in report["latency"]}
	assert lat == qd1, f"latency rows {sorted(lat ^ qd1)}"
	for e in report["latency"]:
	    for d, st in e["stats"].items():
	        assert set(st) == {"p50", "p99", "p99.9"}, f"{e['row']}: {d}"
	        assert st["p50"]["median"] <= st["p99.9"]["median"], e["row"]
	faults = [r for r in rows if r["metric"] == "faults"]
	assert len(report["per_event"]) == len(faults) + 4, "per_event rows"
	c = report["copy_ceiling"]
	assert set(c["routines"]) == {"memcpy", "copy_mc_to_kernel", "memcpy_flushcache"}
	assert len(c["rows"]) == 6 and all(len(x["shares"]) >= 2 for x in c["rows"])
	EOF
	[ -s "$work/ratios.svg" ] || fail "no plot"
}

# NAME: a copy of the smoke run's results in $work/NAME, and a folder for
# its report; the report of the copy as it is must pass (so that a control
# fails for what it changed, not for what the copy lacks).
results_copy()
{
	local cut=$work/$1
	rm -rf "$cut" && mkdir -p "$cut/out" &&
		cp -r "$work/vm/bench/"{rows.tsv,env.txt,results.tsv,ceiling.tsv,raw} "$cut/" &&
		python3 "$RPMEM_TOP/tools/bench-report.py" "$cut" "$cut/out" >/dev/null 2>&1 ||
		fail "the report of an unchanged copy failed"
}

# Control: one driver's figure for one row gone, the report must fail.
missing_detected()
{
	local cut=$work/cut
	results_copy cut && grep -v -P '^seq-read-1m\tnd_pmem\t' "$work/vm/bench/results.tsv" \
		>"$cut/results.tsv" || return
	! python3 "$RPMEM_TOP/tools/bench-report.py" "$cut" "$cut/out" >/dev/null 2>&1 ||
		fail "the report accepted seq-read-1m without nd_pmem's figure"
}

# Control: the p99.9 latency gone from one QD1 run's fio JSON, the report
# must fail.
percentile_detected()
{
	local cut=$work/pct j
	results_copy pct || return
	j=$cut/raw/rand-read-4k-qd1.rpmem.0.json
	jq 'del(.jobs[0].read.lat_ns.percentile["99.900000"])' "$j" >"$j.new" &&
		mv "$j.new" "$j" || return
	! python3 "$RPMEM_TOP/tools/bench-report.py" "$cut" "$cut/out" >/dev/null 2>&1 ||
		fail "the report accepted rand-read-4k-qd1 without rpmem's p99.9"
}

# Control: a fault row's helper failed on one driver ("failed" recorded),
# the report must fail and show FAILED, not a figure.
failed_detected()
{
	local cut=$work/failed
	results_copy failed && sed -i -E 's/^(ext4-mmap-pte-read\tnd_pmem\t0\t).*/\1failed/' \
		"$cut/results.tsv" || return
	grep -q -P '^ext4-mmap-pte-read\tnd_pmem\t0\tfailed$' "$cut/results.tsv" ||
		fail "no failed run to control with" || return
	! python3 "$RPMEM_TOP/tools/bench-report.py" "$cut" "$cut/out" >/dev/null 2>&1 ||
		fail "the report accepted a failed run" || return
	grep -q -E '^ext4-mmap-pte-read .* FAILED ' "$cut/out/report.txt" ||
		fail "the report does not show the failed run as FAILED"
}

ktap_plan 5
smoke_rc=0
"$RPMEM_TOP/tools/bench.sh" --smoke --out "$work" >"$work/table" 2>"$work/log" || smoke_rc=$?
sed 's/^/# /' "$work/table"
check "bench.sh --smoke runs every row" smoke
check "the report has every row, with every driver's figure, and the plot" complete
check "control: a missing figure fails the report" missing_detected
check "control: a missing latency percentile fails the report" percentile_detected
check "control: a failed helper fails the report and shows FAILED" failed_detected
ktap_finish

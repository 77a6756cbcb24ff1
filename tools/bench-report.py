#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The report of one benchmark run (tools/bench.sh).

bench-report.py RESULTS OUT: RESULTS is the folder tools/bench-guest.sh
wrote (rows.tsv, results.tsv, raw/, ceiling.tsv, env.txt, disks.tsv);
OUT gets report.txt (the tables, also printed), report.json and
ratios.svg. Exits 1 if a row lacks a result for one of its drivers, a
result is not a positive number or is "failed" (its helper failed: shown
as FAILED, never as a figure), a fio run's JSON is missing, a QD1 row's
JSON lacks a latency percentile, or the copy ceiling failed, so that a
broken benchmark does not pass for a slow one.

Each row shows the median, minimum and maximum of each driver's
repetitions and rpmem's performance relative to nd_pmem and to brd. A
repetition's ratio is rpmem's figure over the other driver's in the same
repetition (they ran back to back, so noise on the machine hits both
alike) for rates, the inverse for times and memory, so a ratio above 1.00
always means rpmem did better; the row shows the median of those paired
ratios, their range, and a 95% bootstrap interval of that median (the
paired ratios resampled with replacement, 10,000 times, a fixed seed per
row; none under 3 repetitions). A row is above or below nd_pmem only when
its whole interval is. Memory figures under 1 MiB count as 1 MiB: smaller
differences are noise.

Under QEMU's instruction-counting clock (accel "tcg icount shift=N") the
guest's time advances 2^N ns per instruction executed: rates and times are
then instruction counts in disguise, and every figure on that clock says
so ("IOPS at 8 ns/insn").

Three more tables. Latency: for every fio row run at queue depth 1 (one
job, iodepth 1, as fio's JSON records the options), the p50, p99 and
p99.9 latency of each direction with I/O (fio's "lat": submission to
completion, --lat_percentiles), in microseconds of
guest time, each driver's median over the repetitions, and rpmem's ratio
to nd_pmem per percentile: nd_pmem's latency over rpmem's in the same
repetition (lower is better, so the inverse of rpmem's over nd_pmem's),
above 1.00 when rpmem's was shorter. Cost per event: for the page fault
and persist rows, the guest ns (and instructions) per fault or persist,
1e9 over the rate, with the same ratio as the row's. The copy ceiling:
ns (instructions) per byte of memcpy, copy_mc_to_kernel and
memcpy_flushcache in the guest, the MiB/s each allows, and each driver's
sequential block and sector rows as a share of the routine it copies
with (its distance to the ceiling).
"""

import json
import math
import os
import random
import re
import statistics
import sys

LOWER_BETTER = {"ms", "mib", "lat"}
FLOOR = {"mib": 1.0}
# Metrics measured on the guest's clock (RAM is not).
CLOCKED = {"iops", "bw", "faults", "persists", "ms"}
# Rows with a cost per event (1e9 / rate ns): metric, what an event is.
PER_EVENT = {"faults": "fault", "persists": "persist"}
# fio rows: their JSON is in raw/.
FIO = {"iops", "bw"}
PERCENTILES = [("p50", "50.000000"), ("p99", "99.000000"), ("p99.9", "99.900000")]
# The copy routines each driver's sequential rows copy with.
ROUTINES = ["memcpy", "copy_mc_to_kernel", "memcpy_flushcache"]
COPIES = {("read", "rpmem"): "copy_mc_to_kernel", ("read", "nd_pmem"): "copy_mc_to_kernel",
          ("write", "rpmem"): "memcpy_flushcache", ("write", "nd_pmem"): "memcpy_flushcache",
          ("read", "brd"): "memcpy", ("write", "brd"): "memcpy"}
CEILING_ROWS = ["seq-read-1m", "seq-write-1m", "seq-read-1m-huge", "seq-write-1m-huge",
                "btt-seq-read-1m", "btt-seq-write-1m"]
BOOTSTRAP = 10000
# The plot's groups, in order (latency: the QD1 rows' p99).
GROUPS = ["block", "durability", "file", "fault", "sector", "probe", "latency"]
# queue/ settings always shown in report.txt (all are in report.json).
QUEUE_KEYS = ["logical_block_size", "physical_block_size", "max_sectors_kb",
              "max_segments", "nomerges", "rotational", "add_random",
              "iostats", "write_cache", "fua", "dax"]


def read_tsv(path):
    with open(path) as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition(" ")
            env[key] = value
    return env


def ns_per_insn(env):
    """Guest ns per instruction on the instruction-counting clock, or None."""
    m = re.search(r"icount shift=(\d+)", env.get("accel", ""))
    return 2 ** int(m.group(1)) if m else None


def clock(env):
    """The clock's name, and the suffix of units on it ('' if wall)."""
    m = re.search(r"icount shift=(\d+)", env.get("accel", ""))
    if not m:
        return "the host's clock", ""
    ns = 2 ** int(m.group(1))
    return (f"QEMU's instruction clock, {ns} ns of guest time per instruction "
            f"(-icount shift={m.group(1)}): rates and times count instructions",
            f" at {ns} ns/insn")


def plot_group(row):
    if row["group"] in ("probe", "durability", "latency"):
        return row["group"]
    if row["group"] == "btt":
        return "sector"
    if row["metric"] == "faults":
        return "fault"
    if row["group"] == "block":
        return "block"
    return "file"


def interval(name, ref, paired):
    """95% bootstrap interval of the median of PAIRED, or None."""
    if len(paired) < 3:
        return None
    rnd = random.Random(f"{name}/{ref}")
    n = len(paired)
    meds = sorted(statistics.median(rnd.choices(paired, k=n))
                  for _ in range(BOOTSTRAP))
    return [meds[int(0.025 * BOOTSTRAP)], meds[int(0.975 * BOOTSTRAP) - 1]]


def verdict(r):
    """above, below or par (the interval holds 1.00); '?' without one."""
    if r.get("ci") is None:
        return "?"
    if r["ci"][0] > 1.0:
        return "above"
    if r["ci"][1] < 1.0:
        return "below"
    return "par"


def relative(metric, value, ref):
    """rpmem's VALUE against REF, above 1 when rpmem did better."""
    floor = FLOOR.get(metric, 0.0)
    value, ref = max(value, floor), max(ref, floor)
    if metric in LOWER_BETTER:
        return ref / value
    return value / ref


def load(results):
    rows = []
    for name, group, what, metric, unit, drivers in read_tsv(
            os.path.join(results, "rows.tsv")):
        rows.append({"name": name, "group": group, "what": what,
                     "metric": metric, "unit": unit,
                     "drivers": drivers.split(","), "runs": {}})
    by_name = {r["name"]: r for r in rows}
    for name, driver, rep, value in read_tsv(
            os.path.join(results, "results.tsv")):
        row = by_name.get(name)
        if row is None:
            raise SystemExit(f"bench-report: result for unknown row {name}")
        if value == "failed":
            row.setdefault("failed", {}).setdefault(driver, []).append(int(rep))
            continue
        row["runs"].setdefault(driver, {})[int(rep)] = float(value)
    return rows


def summarise(row, problems, suffix):
    row["clock_unit"] = row["unit"] + (suffix if row["metric"] in CLOCKED else "")
    row["plot_group"] = plot_group(row)
    for driver, reps in row.get("failed", {}).items():
        problems.append(f"{row['name']}: {driver} failed "
                        f"(repetition {', '.join(map(str, reps))})")
    for driver in row["drivers"]:
        runs = row["runs"].get(driver, {})
        if not runs and driver not in row.get("failed", {}):
            problems.append(f"{row['name']}: no result for {driver}")
        elif runs and min(runs.values()) <= 0 and row["metric"] not in FLOOR:
            problems.append(f"{row['name']}: {driver} measured nothing")
    row["stats"] = {d: stats_of(r) for d, r in row["runs"].items() if r}
    row["ratios"] = {}
    mine = row["runs"].get("rpmem", {})
    for ref in ("nd_pmem", "brd"):
        theirs = row["runs"].get(ref, {})
        if ref not in row["drivers"] or not mine or not theirs:
            continue
        r = paired_ratio(row["name"], ref, row["metric"], mine, theirs)
        if r is None:
            problems.append(f"{row['name']}: no repetition of rpmem and {ref} to pair")
            continue
        row["ratios"][ref] = r


def paired_ratio(name, ref, metric, mine, theirs):
    """rpmem's figures MINE against REF's THEIRS ({repetition: value}),
    paired by repetition: median, range, paired ratios, interval, verdict."""
    paired = [relative(metric, mine[k], theirs[k]) for k in sorted(mine) if k in theirs]
    if not paired:
        return None
    r = {"median": statistics.median(paired), "min": min(paired),
         "max": max(paired), "paired": paired, "ci": interval(name, ref, paired)}
    r["verdict"] = verdict(r)
    return r


def stats_of(runs):
    """Median, minimum, maximum and the values of {repetition: value}."""
    return {"median": statistics.median(runs.values()), "min": min(runs.values()),
            "max": max(runs.values()), "runs": [runs[k] for k in sorted(runs)]}


def fio_json(results, row, driver, rep):
    path = os.path.join(results, "raw", f"{row}.{driver}.{rep}.json")
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        return e


def latency(results, rows, problems):
    """The latency table: for each fio row at queue depth 1, per direction
    with I/O, each driver's p50/p99/p99.9 completion latency in us (median
    over the repetitions) and rpmem's paired ratio to nd_pmem and brd per
    percentile (theirs over rpmem's: above 1.00, rpmem was faster).

    Every fio run must have its JSON; at queue depth 1, every percentile.
    """
    out = []
    for row in rows:
        if row["metric"] not in FIO:
            continue
        # {direction: {percentile: {driver: {rep: us}}}}
        lat = {}
        qd1 = None
        for driver, runs in row["runs"].items():
            for rep in runs:
                j = fio_json(results, row["name"], driver, rep)
                if isinstance(j, Exception):
                    problems.append(f"{row['name']}: {driver} repetition {rep}: "
                                    f"no fio JSON ({j})")
                    continue
                job = j["jobs"][0]
                opts = {**j.get("global options", {}), **job.get("job options", {})}
                this = (int(opts.get("iodepth", 1)) == 1
                        and int(opts.get("numjobs", 1)) == 1)
                if qd1 is not None and qd1 != this:
                    problems.append(f"{row['name']}: runs at different queue depths")
                qd1 = this
                if not this:
                    continue
                for d in ("read", "write"):
                    if job[d]["total_ios"] == 0:
                        continue
                    pct = job[d].get("lat_ns", {}).get("percentile", {})
                    for p, key in PERCENTILES:
                        if key not in pct:
                            problems.append(f"{row['name']}: {driver} repetition {rep}: "
                                            f"no {d} {p} latency in fio's JSON")
                            continue
                        lat.setdefault(d, {}).setdefault(p, {}).setdefault(
                            driver, {})[rep] = pct[key] / 1000
        for d, per in lat.items():
            entry = {"row": row["name"], "dir": d, "group": row["plot_group"],
                     "what": f"{row['what']}, {d} p99", "stats": {}, "ratios": {}}
            for driver in row["drivers"]:
                for p, _ in PERCENTILES:
                    runs = per.get(p, {}).get(driver)
                    if not runs:
                        problems.append(f"{row['name']}: no {d} {p} latency of {driver}")
                        continue
                    entry["stats"].setdefault(driver, {})[p] = stats_of(runs)
            for ref in ("nd_pmem", "brd"):
                if ref not in row["drivers"]:
                    continue
                for p, _ in PERCENTILES:
                    mine = per.get(p, {}).get("rpmem", {})
                    theirs = per.get(p, {}).get(ref, {})
                    r = paired_ratio(f"{row['name']}/{d}/{p}", ref, "lat", mine, theirs)
                    if r is not None:
                        entry["ratios"].setdefault(ref, {})[p] = r
            out.append(entry)
    return out


def per_event(rows, ns_per_insn):
    """Guest ns (and instructions) per fault or persist: 1e9 / rate."""
    out = []
    for row in rows:
        if row["metric"] not in PER_EVENT:
            continue
        e = {"row": row["name"], "event": PER_EVENT[row["metric"]], "stats": {}}
        for driver, runs in row["runs"].items():
            if runs:
                e["stats"][driver] = stats_of({k: 1e9 / v for k, v in runs.items()})
                if ns_per_insn:
                    e["stats"][driver]["insn"] = e["stats"][driver]["median"] / ns_per_insn
        e["ratio"] = row["ratios"].get("nd_pmem")
        out.append(e)
    return out


def ceiling(results, rows, ns_per_insn, problems):
    """The copy ceiling (ceiling.tsv: routine, repetition, bytes, ns) and
    each driver's sequential rows against the routine it copies with.
    None if the run did not measure it."""
    path = os.path.join(results, "ceiling.tsv")
    if not os.path.exists(path):
        return None
    per = {}
    for name, rep, nbytes, ns in read_tsv(path):
        if nbytes == "failed" or ns == "failed":
            problems.append(f"copy ceiling: repetition {rep} failed")
            continue
        if float(ns) <= 0:
            problems.append(f"copy ceiling: {name} took no time")
            continue
        per.setdefault(name, {})[int(rep)] = float(ns) / float(nbytes)
    out = {"routines": {}, "rows": []}
    for name in ROUTINES:
        if name not in per:
            problems.append(f"copy ceiling: no figure for {name}")
            continue
        st = stats_of(per[name])
        st["mib_s"] = 1e9 / st["median"] / 2**20
        if ns_per_insn:
            st["insn_per_byte"] = st["median"] / ns_per_insn
        out["routines"][name] = st
    for row in rows:
        if row["name"] not in CEILING_ROWS:
            continue
        way = "read" if "-read-" in row["name"] else "write"
        shares = {}
        for driver, st in row["stats"].items():
            routine = COPIES.get((way, driver))
            if routine in out["routines"]:
                shares[driver] = {"routine": routine,
                                  "share": st["median"] / out["routines"][routine]["mib_s"]}
        out["rows"].append({"row": row["name"], "shares": shares})
    return out


def number(v):
    if v >= 1000:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def cell(stats):
    if stats is None:
        return "-"
    return (f"{number(stats['median'])} "
            f"[{number(stats['min'])}-{number(stats['max'])}]")


def ratio_cell(r):
    if r is None:
        return "-"
    return f"{r['median']:.3f} [{r['min']:.3f}-{r['max']:.3f}]"


def ci_cell(r):
    if r is None or r.get("ci") is None:
        return "-"
    mark = {"above": " >", "below": " <"}.get(r["verdict"], "")
    return f"{r['ci'][0]:.3f}-{r['ci'][1]:.3f}{mark}"


def disks(path):
    """disks.tsv as {setup: {driver: {"disk": name, key: value}}}."""
    out = {}
    if not os.path.exists(path):
        return out
    for setup, drv, disk, key, value in (x + [""] * (5 - len(x))
                                         for x in read_tsv(path)):
        d = out.setdefault(setup, {}).setdefault(drv, {"disk": disk})
        d[key] = value
    return out


def disk_lines(dk):
    """The disks' modes and queue settings: the usual ones, and any other
    that differs between the disks of a set-up."""
    out = []
    for setup, drvs in dk.items():
        out.append(f"disks, {setup} rows:")
        keys = sorted({k for d in drvs.values() for k in d})
        shown = [k for k in keys if k.startswith("queue/") and (
            k[6:] in QUEUE_KEYS or len({d.get(k) for d in drvs.values()}) > 1)]
        for drv in sorted(drvs):
            d = drvs[drv]
            q = " ".join(f"{k[6:]}={d.get(k, '?')}" for k in shown)
            dev = f" {d['device']}" if "device" in d else ""
            out.append(f"  {drv} {d['disk']}{dev} mode {d.get('mode', '?')}: {q}")
    return out


def columns(head, lines):
    """LINES under HEAD, the first two columns left-aligned."""
    widths = [max(len(x[i]) for x in lines + [head]) for i in range(len(head))]
    return ["  ".join(x[i].ljust(widths[i]) if i < 2 else x[i].rjust(widths[i])
                      for i in range(len(head))).rstrip() for x in [head] + lines]


def driver_cell(r, d):
    """A driver's cell of row R: FAILED if a repetition's helper failed."""
    if d in r.get("failed", {}):
        return "FAILED"
    return cell(r["stats"].get(d))


def latency_lines(lat, env):
    out = [f"latency at queue depth 1, submission to completion (fio lat) in us "
           f"{clock(env)[1].strip() or 'of host time'}: median over the repetitions "
           "of p50 / p99 / p99.9; vs nd_pmem: nd_pmem's latency over rpmem's, "
           "paired by repetition (above 1.00: rpmem faster), median per percentile",
           ""]
    head = ["row", "dir", "rpmem", "nd_pmem", "brd", "vs nd_pmem", "vs brd"]

    def pcts(st):
        if st is None:
            return "-"
        return " / ".join(number(st[p]["median"]) if p in st else "?"
                          for p, _ in PERCENTILES)

    def ratios(r):
        if not r:
            return "-"
        return " / ".join(f"{r[p]['median']:.3f}" if p in r else "?" for p, _ in PERCENTILES)
    lines = [[e["row"], e["dir"], pcts(e["stats"].get("rpmem")),
              pcts(e["stats"].get("nd_pmem")), pcts(e["stats"].get("brd")),
              ratios(e["ratios"].get("nd_pmem")), ratios(e["ratios"].get("brd"))]
             for e in lat]
    return out + columns(head, lines)


def per_event_lines(ev, env):
    shift = clock(env)[1]
    out = [f"cost per event: guest ns per fault or persist (1e9 over the rate)"
           + (f", and instructions{shift}" if shift else "")
           + "; vs nd_pmem as in the table above (nd_pmem's cost over rpmem's)", ""]
    head = ["row", "per", "rpmem ns", "nd_pmem ns", "rpmem insn", "nd_pmem insn",
            "vs nd_pmem"]

    def get(e, d, k):
        st = e["stats"].get(d)
        return number(st[k]) if st and k in st else "-"
    lines = [[e["row"], e["event"], get(e, "rpmem", "median"), get(e, "nd_pmem", "median"),
              get(e, "rpmem", "insn"), get(e, "nd_pmem", "insn"),
              f"{e['ratio']['median']:.3f}" if e["ratio"] else "-"] for e in ev]
    return out + columns(head, lines)


def ceiling_lines(ceil, env):
    shift = clock(env)[1]
    out = ["copy ceiling: each routine copying 4 KiB at a time in this guest, "
           "median over the repetitions" + (f" ({shift.strip()})" if shift else ""), ""]
    head = ["routine", "ns/byte", "insn/byte", "MiB/s"]
    lines = [[n, f"{st['median']:.3f}", f"{st['insn_per_byte']:.3f}"
              if "insn_per_byte" in st else "-", number(st["mib_s"])]
             for n, st in ceil["routines"].items()]
    out += columns(head, lines)
    out += ["", "distance to the ceiling: each driver's median over the MiB/s of "
            "the routine it copies with (pmem reads copy_mc_to_kernel, writes "
            "memcpy_flushcache; brd memcpy)", ""]
    head = ["row", "", "rpmem", "nd_pmem", "brd"]

    def share(x, d):
        s = x["shares"].get(d)
        return f"{100 * s['share']:.1f}% of {s['routine']}" if s else "-"
    lines = [[x["row"], "", share(x, "rpmem"), share(x, "nd_pmem"), share(x, "brd")]
             for x in ceil["rows"]]
    return out + columns(head, lines)


def table(rows, env, dk, lat=None, ev=None, ceil=None):
    head = ["row", "unit", "rpmem", "nd_pmem", "brd",
            "vs nd_pmem [range]", "95% interval", "vs brd"]
    lines = []
    for r in rows:
        nd = r["ratios"].get("nd_pmem")
        lines.append([r["name"], r["clock_unit"], driver_cell(r, "rpmem"),
                      driver_cell(r, "nd_pmem"), driver_cell(r, "brd"),
                      ratio_cell(nd), ci_cell(nd),
                      ratio_cell(r["ratios"].get("brd"))])
    out = [
        "rpmem benchmark: median [min-max] of "
        f"{env.get('reps', '?')} repetitions per driver, "
        f"{env.get('runtime', '?')} s per run",
        f"kernel {env.get('kernel', '?')}, {env.get('qemu', '?')}, "
        f"accel {env.get('accel', '?')}, {env.get('date', '?')}",
        f"host {env.get('host_cpu', '?')} x{env.get('host_cpus', '?')}, "
        f"guest {env.get('cpus', '?')} CPUs {env.get('mem_mib', '?')} MiB, "
        f"host load {env.get('host_load', '?')}",
        f"clock: {clock(env)[0]}",
        "ratios: rpmem's performance relative to the other driver, median of "
        "the repetitions' paired ratios [their range] (above 1.00: rpmem did "
        "better); 95% interval: bootstrap of that median, '>' or '<' when "
        "it excludes 1.00",
        ""]
    out += columns(head, lines)
    nd = [r for r in rows if "nd_pmem" in r["ratios"]]
    by = {v: [r["name"] for r in nd if r["ratios"]["nd_pmem"]["verdict"] == v]
          for v in ("above", "par", "below", "?")}
    out.append("")
    out.append(f"against nd_pmem, by the 95% interval: {len(by['above'])} rows above, "
               f"{len(by['par'])} at par (the interval holds 1.00), "
               f"{len(by['below'])} below" +
               (f" ({', '.join(by['below'])})" if by["below"] else "") +
               (f", {len(by['?'])} with too few repetitions for an interval"
                if by["?"] else ""))
    if env.get("smoke") == "1":
        out.append("smoke run: one short repetition, the numbers say little")
    for part, fn in ((lat, latency_lines), (ev, per_event_lines), (ceil, ceiling_lines)):
        if part:
            out.append("")
            out.extend(fn(part, env))
    out.append("")
    out.append(f"kernel command line: {env.get('cmdline', '?')}")
    out.extend(disk_lines(dk))
    return "\n".join(out) + "\n"


def svg(rows, env):
    """One bar per row, rpmem relative to nd_pmem, rows grouped (block,
    durability, file, fault, sector, probe, latency: the QD1 rows' p99):
    the bar is the median of the paired
    ratios, the thick line its 95% interval, the thin one their range. The
    numbers, and rpmem against brd where brd ran, are printed on the right.

    The scale follows the medians (at least 0.95 to 1.05: 1% is 4 pixels
    or more while every median is under 2), not the intervals or ranges:
    one outlier repetition would squeeze every bar into a pixel. A range
    past the edge ends in an arrow, an interval is cut at the edge.
    """
    rows = [r for r in rows if "nd_pmem" in r["ratios"]]
    groups = [(g, [r for r in rows if r["plot_group"] == g]) for g in GROUPS]
    groups = [(g, rs) for g, rs in groups if rs]
    # About 6.5 pixels a character at 11 px sans-serif.
    label_w = 20 + int(6.5 * max([len(r["what"]) for r in rows] + [10]))
    plot_w, num_w, bar_h, top, group_h = 460, 330, 18, 78, 22
    height = top + bar_h * len(rows) + group_h * len(groups) + 50
    meds = [r["ratios"]["nd_pmem"]["median"] for r in rows]
    lo = min([0.95] + [m - 0.01 for m in meds])
    hi = max([1.05] + [m + 0.01 for m in meds])

    def x(v):
        return label_w + (min(max(v, lo), hi) - lo) / (hi - lo) * plot_w

    def esc(s):
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    def arrow(v, y, d):
        return (f'<polygon points="{x(v):.1f},{y:.1f} {x(v) - 5 * d:.1f},{y - 4:.1f} '
                f'{x(v) - 5 * d:.1f},{y + 4:.1f}"/>')

    name, _ = clock(env)
    p = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + plot_w + num_w}" '
         f'height="{height}" font-family="sans-serif" font-size="11">',
         '<rect width="100%" height="100%" fill="white"/>',
         '<text x="10" y="20" font-size="14">rpmem relative to nd_pmem '
         '(&gt; 1: rpmem better): median of paired repetitions, '
         'thick line its 95% bootstrap interval, thin line their range</text>',
         f'<text x="10" y="38">clock: {esc(name)}</text>',
         f'<text x="10" y="54">{esc(env.get("kernel", ""))}, '
         f'{esc(env.get("accel", ""))}, {esc(env.get("date", ""))}, '
         f'{esc(env.get("reps", ""))} repetitions; red: below nd_pmem, green: above, '
         'grey: the interval holds 1.00</text>',
         f'<text x="{label_w + plot_w + 10}" y="{top - 8}" font-weight="bold">'
         'vs nd_pmem [range]</text>',
         f'<text x="{label_w + plot_w + 215}" y="{top - 8}" font-weight="bold">'
         'vs brd</text>']
    # Ticks 1, 2, 2.5 or 5 times a power of ten apart, at most 12 of them.
    base = 10 ** math.floor(math.log10((hi - lo) / 10))
    step = next(m * base for m in (1, 2, 2.5, 5, 10) if (hi - lo) / (m * base) <= 12 + 1e-9)
    tick = math.ceil(lo / step) * step
    while tick <= hi + 1e-9:
        p.append(f'<line x1="{x(tick):.1f}" y1="{top - 5}" x2="{x(tick):.1f}" '
                 f'y2="{height - 40}" stroke="#ddd"/>')
        p.append(f'<text x="{x(tick):.1f}" y="{height - 25}" '
                 f'text-anchor="middle">{tick:g}</text>')
        tick = round(tick + step, 6)
    y = top
    for g, rs in groups:
        p.append(f'<text x="10" y="{y + 15}" font-weight="bold">{g}</text>')
        p.append(f'<line x1="10" y1="{y + 19}" x2="{label_w + plot_w + num_w - 10}" '
                 f'y2="{y + 19}" stroke="#999"/>')
        y += group_h
        for r in rs:
            q = r["ratios"]["nd_pmem"]
            colour = {"below": "#d64", "above": "#4a7"}.get(q["verdict"], "#aaa")
            p.append(f'<text x="{label_w - 8}" y="{y + 13}" text-anchor="end">'
                     f'{esc(r["what"])}</text>')
            x0, x1 = sorted((x(1.0), x(q["median"])))
            p.append(f'<rect x="{x0:.1f}" y="{y + 4}" width="{max(x1 - x0, 1):.1f}" '
                     f'height="{bar_h - 8}" fill="{colour}"/>')
            mid = y + bar_h / 2
            p.append(f'<line x1="{x(q["min"]):.1f}" y1="{mid}" '
                     f'x2="{x(q["max"]):.1f}" y2="{mid}" stroke="black"/>')
            if q["ci"]:
                p.append(f'<line x1="{x(q["ci"][0]):.1f}" y1="{mid}" '
                         f'x2="{x(q["ci"][1]):.1f}" y2="{mid}" stroke="black" '
                         'stroke-width="4"/>')
            if q["min"] < lo:
                p.append(arrow(q["min"], mid, -1))
            if q["max"] > hi:
                p.append(arrow(q["max"], mid, 1))
            brd = r["ratios"].get("brd")
            p.append(f'<text x="{label_w + plot_w + 10}" y="{y + 13}">'
                     f'{esc(ratio_cell(q))}</text>')
            if brd:
                p.append(f'<text x="{label_w + plot_w + 215}" y="{y + 13}">'
                         f'{brd["median"]:.3f}</text>')
            y += bar_h
    p.append(f'<line x1="{x(1.0):.1f}" y1="{top - 5}" x2="{x(1.0):.1f}" '
             f'y2="{height - 40}" stroke="black"/>')
    p.append("</svg>")
    return "\n".join(p) + "\n"


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: bench-report.py RESULTS OUT")
    results, out = sys.argv[1:]
    env = read_env(os.path.join(results, "env.txt"))
    env["clock"] = clock(env)[0]
    dk = disks(os.path.join(results, "disks.tsv"))
    rows = load(results)
    problems = [] if rows else ["no rows"]
    for r in rows:
        summarise(r, problems, clock(env)[1])
    lat = latency(results, rows, problems)
    ev = per_event(rows, ns_per_insn(env))
    ceil = ceiling(results, rows, ns_per_insn(env), problems)
    text = table(rows, env, dk, lat, ev, ceil)
    sys.stdout.write(text)
    with open(os.path.join(out, "report.txt"), "w") as f:
        f.write(text)
    with open(os.path.join(out, "report.json"), "w") as f:
        json.dump({"env": env, "disks": dk,
                   "rows": [{k: v for k, v in r.items() if k != "runs"}
                            for r in rows],
                   "latency_unit": "us" + clock(env)[1],
                   "latency": lat, "per_event": ev, "copy_ceiling": ceil},
                  f, indent=1)
    # The latency group of the plot: each QD1 row's p99, per direction.
    bars = [{"what": e["what"], "plot_group": "latency",
             "ratios": {ref: r["p99"] for ref, r in e["ratios"].items() if "p99" in r}}
            for e in lat]
    with open(os.path.join(out, "ratios.svg"), "w") as f:
        f.write(svg(rows + bars, env))
    for p in problems:
        print(f"bench-report: {p}", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()

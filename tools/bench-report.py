#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The report of one benchmark run (tools/bench.sh).

bench-report.py RESULTS OUT: RESULTS is the folder tools/bench-guest.sh
wrote (rows.tsv, results.tsv, env.txt, disks.tsv); OUT gets report.txt
(the table, also printed), report.json and ratios.svg. Exits 1 if a row
lacks a result for one of its drivers or a result is not a positive
number, so that a broken benchmark does not pass for a slow one.

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
"""

import json
import math
import os
import random
import re
import statistics
import sys

LOWER_BETTER = {"ms", "mib"}
FLOOR = {"mib": 1.0}
# Metrics measured on the guest's clock (RAM is not).
CLOCKED = {"iops", "bw", "faults", "ms"}
BOOTSTRAP = 10000
# The plot's groups, in order.
GROUPS = ["block", "file", "fault", "sector", "probe"]
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
    if row["group"] == "probe":
        return "probe"
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
        row["runs"].setdefault(driver, {})[int(rep)] = float(value)
    return rows


def summarise(row, problems, suffix):
    row["clock_unit"] = row["unit"] + (suffix if row["metric"] in CLOCKED else "")
    row["plot_group"] = plot_group(row)
    for driver in row["drivers"]:
        runs = row["runs"].get(driver, {})
        if not runs:
            problems.append(f"{row['name']}: no result for {driver}")
        elif min(runs.values()) <= 0 and row["metric"] not in FLOOR:
            problems.append(f"{row['name']}: {driver} measured nothing")
    row["stats"] = {
        d: {"median": statistics.median(r.values()), "min": min(r.values()),
            "max": max(r.values()), "runs": [r[k] for k in sorted(r)]}
        for d, r in row["runs"].items() if r}
    row["ratios"] = {}
    mine = row["runs"].get("rpmem", {})
    for ref in ("nd_pmem", "brd"):
        theirs = row["runs"].get(ref, {})
        if ref not in row["drivers"] or not mine or not theirs:
            continue
        paired = [relative(row["metric"], mine[k], theirs[k])
                  for k in sorted(mine) if k in theirs]
        if not paired:
            problems.append(f"{row['name']}: no repetition of rpmem and {ref} to pair")
            continue
        row["ratios"][ref] = {"median": statistics.median(paired),
                              "min": min(paired), "max": max(paired),
                              "paired": paired,
                              "ci": interval(row["name"], ref, paired)}
        row["ratios"][ref]["verdict"] = verdict(row["ratios"][ref])


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


def table(rows, env, dk):
    head = ["row", "unit", "rpmem", "nd_pmem", "brd",
            "vs nd_pmem [range]", "95% interval", "vs brd"]
    lines = []
    for r in rows:
        s = r["stats"]
        nd = r["ratios"].get("nd_pmem")
        lines.append([r["name"], r["clock_unit"], cell(s.get("rpmem")),
                      cell(s.get("nd_pmem")), cell(s.get("brd")),
                      ratio_cell(nd), ci_cell(nd),
                      ratio_cell(r["ratios"].get("brd"))])
    widths = [max(len(x[i]) for x in lines + [head]) for i in range(len(head))]
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
    for x in [head] + lines:
        out.append("  ".join(x[i].ljust(widths[i]) if i < 2
                             else x[i].rjust(widths[i])
                             for i in range(len(head))).rstrip())
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
    out.append("")
    out.append(f"kernel command line: {env.get('cmdline', '?')}")
    out.extend(disk_lines(dk))
    return "\n".join(out) + "\n"


def svg(rows, env):
    """One bar per row, rpmem relative to nd_pmem, rows grouped (block,
    file, fault, sector, probe): the bar is the median of the paired
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
    text = table(rows, env, dk)
    sys.stdout.write(text)
    with open(os.path.join(out, "report.txt"), "w") as f:
        f.write(text)
    with open(os.path.join(out, "report.json"), "w") as f:
        json.dump({"env": env, "disks": dk,
                   "rows": [{k: v for k, v in r.items() if k != "runs"}
                            for r in rows]}, f, indent=1)
    with open(os.path.join(out, "ratios.svg"), "w") as f:
        f.write(svg(rows, env))
    for p in problems:
        print(f"bench-report: {p}", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()

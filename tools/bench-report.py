#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The report of one benchmark run (tools/bench.sh).

bench-report.py RESULTS OUT: RESULTS is the folder tools/bench-guest.sh
wrote (rows.tsv, results.tsv, env.txt); OUT gets report.txt (the table,
also printed), report.json and ratios.svg. Exits 1 if a row lacks a
result for one of its drivers or a result is not a positive number, so
that a broken benchmark does not pass for a slow one.

Each row shows the median, minimum and maximum of each driver's
repetitions and rpmem's performance relative to nd_pmem and to brd. A
repetition's ratio is rpmem's figure over the other driver's in the same
repetition (they ran back to back, so noise on the machine hits both
alike) for rates, the inverse for times and memory, so a ratio above 1.00
always means rpmem did better; the row shows the median of those ratios
and their range. Memory figures under 1 MiB count as 1 MiB: smaller
differences are noise.
"""

import json
import math
import os
import statistics
import sys

LOWER_BETTER = {"ms", "mib"}
FLOOR = {"mib": 1.0}


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


def summarise(row, problems):
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
                              "min": min(paired), "max": max(paired)}


def below_parity(ratio):
    """Below 1.00 as the table shows it (two decimals)."""
    return round(ratio["median"], 2) < 1.0


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
    return f"{r['median']:.2f} [{r['min']:.2f}-{r['max']:.2f}]"


def table(rows, env):
    head = ["row", "unit", "rpmem", "nd_pmem", "brd",
            "vs nd_pmem", "vs brd"]
    lines = []
    for r in rows:
        s = r["stats"]
        flag = ""
        nd = r["ratios"].get("nd_pmem")
        if nd and below_parity(nd):
            flag = " <"
        lines.append([r["name"], r["unit"], cell(s.get("rpmem")),
                      cell(s.get("nd_pmem")), cell(s.get("brd")),
                      ratio_cell(nd) + flag,
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
        "ratios: rpmem's performance relative to the other driver "
        "(above 1.00: rpmem did better; '<': below nd_pmem)",
        ""]
    for x in [head] + lines:
        out.append("  ".join(x[i].ljust(widths[i]) if i < 2
                             else x[i].rjust(widths[i])
                             for i in range(len(head))).rstrip())
    nd = [r for r in rows if "nd_pmem" in r["ratios"]]
    below = [r["name"] for r in nd if below_parity(r["ratios"]["nd_pmem"])]
    out.append("")
    out.append(f"{len(nd) - len(below)} of {len(nd)} rows at parity with "
               "nd_pmem or better" +
               (f"; below: {', '.join(below)}" if below else ""))
    if env.get("smoke") == "1":
        out.append("smoke run: one short repetition, the numbers say little")
    return "\n".join(out) + "\n"


def svg(rows, env):
    """One bar per row: rpmem relative to nd_pmem, whiskers for the spread.

    The scale follows the medians (at least 0.9 to 1.1), not the whiskers:
    one outlier repetition would squeeze every bar into a pixel. A whisker
    past the edge ends in an arrow; the numbers are printed on the right.
    """
    rows = [r for r in rows if "nd_pmem" in r["ratios"]]
    # About 6.5 pixels a character at 11 px sans-serif.
    label_w = 20 + int(6.5 * max([len(r["what"]) for r in rows] + [10]))
    plot_w, num_w, bar_h, top = 420, 130, 18, 60
    height = top + bar_h * len(rows) + 50
    meds = [r["ratios"]["nd_pmem"]["median"] for r in rows]
    lo = min([0.9] + [m - 0.02 for m in meds])
    hi = max([1.1] + [m + 0.02 for m in meds])

    def x(v):
        return label_w + (min(max(v, lo), hi) - lo) / (hi - lo) * plot_w

    def esc(s):
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    def arrow(v, y, d):
        return (f'<polygon points="{x(v):.1f},{y:.1f} {x(v) - 5 * d:.1f},{y - 4:.1f} '
                f'{x(v) - 5 * d:.1f},{y + 4:.1f}"/>')

    p = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + plot_w + num_w}" '
         f'height="{height}" font-family="sans-serif" font-size="11">',
         '<rect width="100%" height="100%" fill="white"/>',
         '<text x="10" y="20" font-size="14">rpmem relative to nd_pmem '
         '(median of paired runs, whiskers: their range; &gt; 1: rpmem better)</text>',
         f'<text x="10" y="38">{esc(env.get("kernel", ""))}, '
         f'{esc(env.get("accel", ""))}, {esc(env.get("date", ""))}, '
         f'{esc(env.get("reps", ""))} repetitions</text>']
    # Ticks 1, 2, 2.5 or 5 times a power of ten apart, at most 10 of them.
    base = 10 ** math.floor(math.log10((hi - lo) / 10))
    step = next(m * base for m in (1, 2, 2.5, 5, 10) if (hi - lo) / (m * base) <= 10 + 1e-9)
    tick = math.ceil(lo / step) * step
    while tick <= hi + 1e-9:
        p.append(f'<line x1="{x(tick):.1f}" y1="{top - 5}" x2="{x(tick):.1f}" '
                 f'y2="{height - 40}" stroke="#ddd"/>')
        p.append(f'<text x="{x(tick):.1f}" y="{height - 25}" '
                 f'text-anchor="middle">{tick:g}</text>')
        tick = round(tick + step, 6)
    for i, r in enumerate(rows):
        y = top + i * bar_h
        q = r["ratios"]["nd_pmem"]
        colour = "#d64" if below_parity(q) else "#4a7"
        p.append(f'<text x="{label_w - 8}" y="{y + 13}" text-anchor="end">'
                 f'{esc(r["what"])}</text>')
        x0, x1 = sorted((x(1.0), x(q["median"])))
        p.append(f'<rect x="{x0:.1f}" y="{y + 3}" width="{max(x1 - x0, 1):.1f}" '
                 f'height="{bar_h - 6}" fill="{colour}"/>')
        p.append(f'<line x1="{x(q["min"]):.1f}" y1="{y + bar_h / 2}" '
                 f'x2="{x(q["max"]):.1f}" y2="{y + bar_h / 2}" stroke="black"/>')
        if q["min"] < lo:
            p.append(arrow(q["min"], y + bar_h / 2, -1))
        if q["max"] > hi:
            p.append(arrow(q["max"], y + bar_h / 2, 1))
        p.append(f'<text x="{label_w + plot_w + 10}" y="{y + 13}">'
                 f'{esc(ratio_cell(q).strip())}</text>')
    p.append(f'<line x1="{x(1.0):.1f}" y1="{top - 5}" x2="{x(1.0):.1f}" '
             f'y2="{height - 40}" stroke="black"/>')
    p.append("</svg>")
    return "\n".join(p) + "\n"


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: bench-report.py RESULTS OUT")
    results, out = sys.argv[1:]
    env = read_env(os.path.join(results, "env.txt"))
    rows = load(results)
    problems = [] if rows else ["no rows"]
    for r in rows:
        summarise(r, problems)
    text = table(rows, env)
    sys.stdout.write(text)
    with open(os.path.join(out, "report.txt"), "w") as f:
        f.write(text)
    with open(os.path.join(out, "report.json"), "w") as f:
        json.dump({"env": env, "rows": [{k: v for k, v in r.items() if k != "runs"}
                                        for r in rows]}, f, indent=1)
    with open(os.path.join(out, "ratios.svg"), "w") as f:
        f.write(svg(rows, env))
    for p in problems:
        print(f"bench-report: {p}", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()

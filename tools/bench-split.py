#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The instruction split of tools/bench.sh --split.

bench-split.py RESULTS PREFIX KDIR [--misalign]: RESULTS is the folder
tools/bench-guest.sh wrote (split.tsv: row, driver, repetition, window,
operations; kallsyms), PREFIX the plugin's window files (PREFIX.N, from
tools/bench/insn_split.c), KDIR the test kernel's build tree (the names
of the functions in block/*.o).

For each row split and each driver it prints instructions per operation
(an I/O of a fio row, a page fault of a fault row, one bind or unbind of
a probe row; the median over its repetitions) in five parts:

  driver  rpmem.ko, nd_pmem.ko, libnvdimm.ko, nd_btt.ko or brd.ko, and the
          kernel's rust_helper_* (only Rust code calls them)
  block   functions of block/*.o (not a copy routine)
  copy    the copy and fill routines: memcpy*, memmove, memset,
          copy_mc_*, copy_user_*, rep_movs*, clear_page*, copy_page...
  other   the rest of the kernel (system calls, fio's file, the
          scheduler, timers, interrupts, iomap, DAX, filesystems...)
  user    user space (fio itself)

and the functions with the most instructions per I/O, each with how many
times per I/O it was entered (the count of its first instruction).

Controls, checked on every window (exit status 1 if one fails): the
window holds no instruction of the other drivers' modules (but those it
calls itself: rpmem calls libnvdimm, nvdimm_flush() on a flush); a kernel
function every operation of the row enters was entered a whole number
of times per operation (to 2%), at least once: submit_bio() on block and
sector mode rows, dax_iomap_rw() on the file rows, dax_direct_access()
on page fault rows, really_probe() on binds,
device_release_driver_internal() on unbinds (CONTROL). A window
paired with the wrong run fails them: --misalign pairs each run with the
window before its own, to show that.
"""

import bisect
import glob
import os
import re
import statistics
import subprocess
import sys

COPY = re.compile(r"^_*(memcpy|memmove|memset|copy_mc|copy_user|rep_movs|rep_stos|"
                  r"clear_user|clear_page|copy_page)")
MODULES = {"rpmem": {"rpmem"}, "nd_pmem": {"nd_pmem", "libnvdimm", "nd_btt"},
           "brd": {"brd"}}
# Modules of another driver's set that a driver calls itself: not a sign
# of a window paired with the wrong run.
CALLS = {"rpmem": {"libnvdimm"}}
PARTS = ["driver", "block", "copy", "other", "user"]


def demangle(name):
    """Rust v0 symbol names as their identifiers joined by ::, roughly
    (generic arguments flattened into the path); other names unchanged."""
    if not name.startswith("_R"):
        return name
    idents, i = [], 2
    while i < len(name):
        # Disambiguators (s..._) and back references (B..._) name nothing.
        m = re.match(r"[sB][0-9A-Za-z]*_", name[i:])
        if m:
            i += len(m.group(0))
            continue
        m = re.match(r"(\d+)_?", name[i:])
        if m:
            n = int(m.group(1))
            start = i + len(m.group(0))
            idents.append(name[start:start + n])
            i = start + n
            continue
        i += 1
    return "::".join(x for x in idents if x) or name


def kallsyms(path):
    syms = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3 or parts[1] not in "tTwW":
                continue
            mod = parts[3].strip("[]") if len(parts) > 3 else ""
            syms.append((int(parts[0], 16), parts[2], mod))
    syms.sort()
    return syms


def block_names(kdir):
    objs = glob.glob(os.path.join(kdir, "block", "**", "*.o"), recursive=True)
    objs = [o for o in objs if not o.endswith(".mod.o")]
    out = subprocess.run(["nm", "--defined-only"] + objs, capture_output=True,
                         text=True).stdout
    return {p[2] for p in (line.split() for line in out.splitlines())
            if len(p) == 3 and p[1] in "tTwW"}


def part(name, mod, block):
    if any(mod in m for m in MODULES.values()) or name.startswith("rust_helper_"):
        return "driver"
    if COPY.match(name):
        return "copy"
    if name in block and not mod:
        return "block"
    return "other"


def window(path, syms, addrs, block):
    """Instructions and entries per function of one window file."""
    funcs, entries, user, total = {}, {}, 0, 0
    with open(path) as f:
        for line in f:
            a, c = line.split()
            if a == "user":
                user = int(c)
                continue
            if a == "kernel":
                total = int(c)
                continue
            a, c = int(a, 16), int(c)
            i = bisect.bisect_right(addrs, a) - 1
            key = syms[i] if i >= 0 else (0, "?", "")
            funcs[key] = funcs.get(key, 0) + c
            if i >= 0 and a == syms[i][0]:
                entries[key] = c
    return funcs, entries, user, total


def unit_of(row):
    """What one operation of ROW is: an I/O, a page fault, a bind."""
    if row.startswith("probe-"):
        return "unbind" if row.endswith("-unbind") else "bind"
    if "-mmap-" in row:
        return "fault"
    return "I/O"


# The control of each kind of row: a kernel function (not a module's)
# every operation enters, a whole number of times, at least once.
# Block and sector mode I/Os each reach submit_bio; a read(2) or
# write(2) of a DAX file reaches no bio, but dax_iomap_rw; a DAX page
# fault asks its driver for the memory through dax_direct_access (a PTE
# fault for its page, a PMD fault once for its 2 MiB); a bind probes
# the device (really_probe), an unbind releases it.
CONTROL = {"I/O": "submit_bio", "file I/O": "dax_iomap_rw",
           "fault": "dax_direct_access", "bind": "really_probe",
           "unbind": "device_release_driver_internal"}


def control_of(row):
    """The function CONTROL checks on ROW."""
    unit = unit_of(row)
    if unit == "I/O" and row.startswith(("ext4-", "xfs-")):
        return CONTROL["file I/O"]
    return CONTROL[unit]


def split_row(row, runs, prefix, syms, addrs, block, ns, runtime, problems):
    """Prints the split of one row, from its runs: (driver, repetition,
    window, operations)."""
    unit, ctl = unit_of(row), control_of(row)
    per = {}
    for drv, rep, win, ios in runs:
        path = f"{prefix}.{win}"
        if not os.path.exists(path):
            problems.append(f"{row} {drv} rep {rep}: no window {win}")
            continue
        funcs, entries, user, total = window(path, syms, addrs, block)
        if ios <= 0:
            problems.append(f"{row} {drv} rep {rep}: no operation")
            continue
        parts = dict.fromkeys(PARTS, 0)
        parts["user"] = user
        for (a, name, mod), c in funcs.items():
            parts[part(name, mod, block)] += c
        others = {m for d, ms in MODULES.items() if d != drv for m in ms}
        others -= CALLS.get(drv, set())
        mine = sum(c for (a, n, m), c in funcs.items() if m in MODULES[drv])
        theirs = sum(c for (a, n, m), c in funcs.items() if m in others)
        if theirs > mine / 1000:
            problems.append(f"{row} {drv} rep {rep}: {theirs} instructions of "
                            f"{'/'.join(sorted(others))} in its window ({mine} of its own)")
        sb = sum(c for (a, n, m), c in entries.items() if n == ctl and not m)
        k = sb / ios
        if k < 0.98 or abs(k - round(k)) > 0.02 * round(k):
            problems.append(f"{row} {drv} rep {rep}: {ctl} entered "
                            f"{k:.3f} times per {unit}")
        d = per.setdefault(drv, {"parts": [], "funcs": [], "total": [], "sb": [],
                                 "clock": []})
        # The figure's own instructions per operation: fio's and dax_mmap's
        # runs last RUNTIME; a bind's figure is its time, not a rate.
        if ns and unit in ("I/O", "fault"):
            d["clock"].append(runtime * 1e9 / ns / ios)
        d["parts"].append({p: v / ios for p, v in parts.items()})
        d["total"].append((total + user) / ios)
        d["sb"].append(sb / ios)
        d["funcs"].append({k: (c / ios, entries.get(k, 0) / ios) for k, c in funcs.items()})
    print(f"instruction split of {row}: guest instructions per {unit}, median of "
          f"{max(len(d['total']) for d in per.values()) if per else 0} run(s) per driver")
    print("(per-block counts: a block cut short by an interrupt counts whole; the window")
    if unit in ("bind", "unbind"):
        print(f" is the {unit}'s write(2) to sysfs alone)")
    else:
        what = "dax_mmap" if unit == "fault" else "fio"
        print(f" is the whole {what} run, its start and exit included: 'total' exceeds")
        print(" 'clock', the instructions per operation the figure implies, runtime /")
        print(" ns per insn / operations, by that)")
    print()
    ctl_head = f"{ctl}/op"
    head = (f"{'driver':<9}" + "".join(f"{p:>10}" for p in PARTS + ["total"]) +
            f"{'clock':>10}{ctl_head:>30}")
    print(head)
    for drv, d in per.items():
        med = {p: statistics.median(x[p] for x in d["parts"]) for p in PARTS}
        print(f"{drv:<9}" + "".join(f"{med[p]:>10,.0f}" for p in PARTS) +
              f"{statistics.median(d['total']):>10,.0f}"
              f"{statistics.median(d['clock']) if d['clock'] else 0:>10,.0f}"
              f"{statistics.median(d['sb']):>30.3f}")
    meds = {}
    for drv, d in per.items():
        keys = set().union(*d["funcs"])
        meds[drv] = {}
        tops = []
        for k in keys:
            ins = statistics.median(f.get(k, (0, 0))[0] for f in d["funcs"])
            ent = statistics.median(f.get(k, (0, 0))[1] for f in d["funcs"])
            tops.append((ins, ent, k))
            meds[drv][(k[1], k[2])] = (ins, ent)
        tops.sort(key=lambda t: -t[0])
        # The top functions, then any other of the driver's, down to one
        # instruction per 10 operations.
        shown = tops[:25] + [t for t in tops[25:] if t[0] >= 0.1 and
                             part(t[2][1], t[2][2], block) == "driver"]
        print()
        print(f"{drv}: top functions and the driver's, instructions and entries per {unit}")
        for ins, ent, (a, name, mod) in shown:
            where = f" [{mod}]" if mod else ""
            print(f"  {ins:>9,.1f} {ent:>7.2f}  {part(name, mod, block):<6} "
                  f"{demangle(name)[:70]}{where}")
    # Where rpmem's operation and nd_pmem's differ most, function by
    # function (by name: module text moves, a name stays).
    if "rpmem" in meds and "nd_pmem" in meds:
        a, b = meds["rpmem"], meds["nd_pmem"]
        diff = [(a.get(k, (0, 0))[0] - b.get(k, (0, 0))[0], k) for k in set(a) | set(b)]
        diff.sort(key=lambda t: -abs(t[0]))
        print()
        print(f"rpmem - nd_pmem: the 20 largest differences, instructions per {unit}"
              " (entries rpmem / nd_pmem)")
        for dv, (name, mod) in diff[:20]:
            where = f" [{mod}]" if mod else ""
            print(f"  {dv:>+10,.1f}  {a.get((name, mod), (0, 0))[1]:>7.2f} / "
                  f"{b.get((name, mod), (0, 0))[1]:<7.2f} {part(name, mod, block):<6} "
                  f"{demangle(name)[:60]}{where}")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    misalign = "--misalign" in sys.argv
    if len(args) != 3:
        raise SystemExit("usage: bench-split.py RESULTS PREFIX KDIR [--misalign]")
    results, prefix, kdir = args
    env = {}
    with open(os.path.join(results, "env.txt")) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition(" ")
            env[k] = v
    # Guest nanoseconds per instruction (the bench always runs on icount).
    m = re.search(r"icount shift=(\d+)", env.get("accel", ""))
    ns = 2 ** int(m.group(1)) if m else None
    runtime = float(env.get("runtime", "0"))
    syms = kallsyms(os.path.join(results, "kallsyms"))
    addrs = [s[0] for s in syms]
    block = block_names(kdir)
    rows = {}
    with open(os.path.join(results, "split.tsv")) as f:
        for line in f:
            row, drv, rep, win, ios = line.split()
            rows.setdefault(row, []).append((drv, int(rep), int(win) - misalign,
                                             int(ios)))
    problems = []
    for i, (row, runs) in enumerate(rows.items()):
        if i:
            print()
        split_row(row, runs, prefix, syms, addrs, block, ns, runtime, problems)
    for p in problems:
        print(f"bench-split: control failed: {p}", file=sys.stderr)
    sys.exit(1 if problems or not rows else 0)


if __name__ == "__main__":
    main()

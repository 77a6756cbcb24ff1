#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Check the crash points of a persistence-model run on the host.

tools/model/pmem_model.c logged, for each crash point, what a machine with
an ADR platform would have kept of each modelled backing file; this script
rebuilds those images from the files as they were at boot and checks each
workload's records in them: the worst-case image (every store not yet
durable lost) and --random images per crash point in which each 8-byte word
of a line not yet durable was or was not written back (what a cache may
have evicted, in any order), once any record was acknowledged or a commit
oracle is there to check.

The workloads are described by a spec file (lines, # comments):

  chan C NAME FILE RECSIZE TARGET CYCLE RECS_AT ORACLES
      channel C (the model_ack() channel, selftests/records.h) is workload
      NAME in modelled file FILE (its index in the plugin's pmem= list):
      record SEQ (selftests/records.h's make_rec() of TARGET, CYCLE and
      SEQ) at logical offset RECS_AT + SEQ * RECSIZE. ORACLES, comma-separated:
        rec     every acknowledged record is there, whole
        whole   the record after the acknowledged ones (the one a writer
                that waits for each acknowledgement may have in flight)
                reads as zeroes or as itself, whole: the sector is atomic
                (counted as torn, not lost)
        btt     the channel's first extent is a namespace holding a BTT
                (drivers/nvdimm/btt.h's format, info block at 0 or 4096)
                and logical offsets are its disk's: each image is read
                through the BTT's map, with the map updates that the
                newest flog entries name finished, as rpmem and nd_btt do
                when they open it after a crash; a BTT they would refuse
                loses every record
        commit  the 8-byte commit count at logical offset 0 names only
                records that are there, whole (acknowledged or not)
        ext4:PATH
                the channel's filesystem (its fs line, else its first
                extent) is ext4 and record SEQ is at RECS_AT + SEQ *
                RECSIZE of its file PATH: at the crash points after every
                ceil(N / --fs-checks)-th of its N acknowledgements and the
                last, the worst-case and one random image (if --random)
                are written out, get their journal
                replayed (e2fsck -E journal_only), must check clean
                (e2fsck -fn) and hold every acknowledged record (debugfs
                cat PATH)
        xfs:PATH
                the same for XFS: the image is mounted through a loop
                device (the kernel replays the log; root only), PATH read,
                unmounted, and then it must check clean (xfs_repair -n)
  extent C LOGICAL PHYSICAL LENGTH
      bytes [LOGICAL, +LENGTH) of channel C are at PHYSICAL of its file
  fs C PHYSICAL LENGTH
      channel C's filesystem is bytes [PHYSICAL, +LENGTH) of its file

Prints one line per channel, "NAME: N crash points, N after its
acknowledgements, N images, ... N lost", and for the first lost (and
torn) records what was not durable and the guest PC of the last store to
each such line (symbolized with --kallsyms and
--binary). The last line is "model: N lost in all, N filesystem images
not clean". Exits 2 on bad input, else 0: what a loss means is the
caller's to judge (selftests/rpmem_model.sh expects some for controls).
"""

import argparse
import bisect
import os
import random
import struct
import subprocess
import sys
import tempfile

LINE = 64
CHANNELS = 64
ENTRY = struct.Struct("<BBHIQQ")


def die(msg):
    print(f"check.py: {msg}", file=sys.stderr)
    sys.exit(2)


def fnv1a(b):
    h = 2166136261
    for x in b:
        h = ((h ^ x) * 16777619) & 0xFFFFFFFF
    return h


def make_rec(length, target, cycle, seq):
    """selftests/records.h's make_rec(), byte for byte."""
    head = struct.pack("<IIII", 0x52504D46, target, cycle, seq)
    x = (((cycle << 32) | seq) * 0x9E3779B97F4A7C15 + target) & (2**64 - 1)
    body = bytearray(length - 16 - 4)
    m = 2**64 - 1
    for i in range(len(body)):
        x ^= (x << 13) & m
        x ^= x >> 7
        x ^= (x << 17) & m
        body[i] = x & 0xFF
    rec = head + bytes(body)
    return rec + struct.pack("<I", fnv1a(rec))


def run(*cmd):
    return subprocess.run(cmd, capture_output=True)


def output(r, first=0, n=3, skip=()):
    """Lines FIRST to FIRST + N of a command's output, on one line, less
    those that hold a string of SKIP."""
    out = (r.stdout + r.stderr).decode(errors="replace").splitlines()
    out = [x for x in out if not any(k in x for k in skip)]
    return " / ".join(out[first : first + n])


def write_sparse(path, img, ph, ln):
    """Bytes [PH, +LN) of Image IMG into a new file PATH, a MiB at a time,
    the all-zero ones left as holes."""
    chunk = 1 << 20
    zero = bytes(chunk)
    near = {}  # overlay lines by the chunks they touch
    for a in img.overlay:
        for k in {(a - ph) // chunk, (a + LINE - 1 - ph) // chunk}:
            near.setdefault(k, []).append(a)
    with open(path, "wb") as f:
        for at in range(0, ln, chunk):
            part = img.read([(ph + at, min(chunk, ln - at))], near.get(at // chunk, ()))
            if part != zero[: len(part)]:
                f.seek(at)
                f.write(part)
        f.truncate(ln)


def ext4_read(image, path, tmp):
    """(why IMAGE is not clean or None, file PATH's bytes) for ext4: its
    journal replayed, e2fsck -fn clean, then PATH as debugfs reads it."""
    r = run("e2fsck", "-E", "journal_only", "-y", image)
    if r.returncode not in (0, 1):
        return f"journal replay failed ({r.returncode})", b""
    r = run("e2fsck", "-fn", image)
    if r.returncode != 0:
        return f"e2fsck -fn status {r.returncode}: {output(r, 1)}", b""
    return None, run("debugfs", "-R", f"cat {path}", image).stdout


def xfs_read(image, path, tmp):
    """The same for XFS. xfs_repair -n refuses a dirty log and cannot
    replay it (-L would throw it away): IMAGE is mounted through a loop
    device, which replays the log, PATH read (a missing file reads as
    empty), unmounted, and then xfs_repair -n must find it clean."""
    mnt = os.path.join(tmp, "mnt")
    os.makedirs(mnt, exist_ok=True)
    r = run("losetup", "--find", "--show", image)
    if r.returncode != 0:
        die(f"losetup: {output(r)}")
    dev = r.stdout.decode().strip()
    got, bad = b"", None
    try:
        r = run("mount", "-t", "xfs", "-o", "nouuid", dev, mnt)
        if r.returncode != 0:
            return f"mount (log replay) failed ({r.returncode}): {output(r)}", b""
        try:
            with open(os.path.join(mnt, path.lstrip("/")), "rb") as f:
                got = f.read()
        except FileNotFoundError:
            pass
        except OSError as e:  # the kernel found it corrupt, say
            bad = f"reading {path}: {e.strerror}"
        finally:
            r = run("umount", mnt)
            if r.returncode != 0:
                run("umount", "-l", mnt)
                die(f"umount {mnt}: {output(r)}")
    finally:
        run("losetup", "-d", dev)
    if bad:
        return bad, b""
    r = run("xfs_repair", "-n", image)
    if r.returncode != 0:
        # Its warnings about an image in a file are no verdict.
        why = output(r, 0, 4, ("host filesystem geometry", "sector size mismatch"))
        return f"xfs_repair -n status {r.returncode}: {why}", got
    return None, got


FS_READERS = {"ext4": ext4_read, "xfs": xfs_read}


class Symbols:
    """Address to "symbol+0xoff" from kallsyms or nm -n lines."""

    def __init__(self):
        self.addrs, self.names = [], []

    def load(self, lines, suffix=""):
        pairs = []
        for line in lines:
            f = line.split()
            if len(f) < 3 or f[1] not in "tTwW":
                continue
            try:
                a = int(f[0], 16)
            except ValueError:
                continue
            if a:
                mod = f" {f[3]}" if len(f) > 3 else suffix
                pairs.append((a, f[2] + mod))
        pairs += zip(self.addrs, self.names)
        pairs.sort()
        self.addrs = [p[0] for p in pairs]
        self.names = [p[1] for p in pairs]

    def name(self, pc):
        i = bisect.bisect_right(self.addrs, pc) - 1
        where = "kernel" if pc >= 1 << 63 else "user space"
        if i < 0 or pc - self.addrs[i] > 1 << 20:
            return f"{pc:#x} ({where})"
        n = self.names[i].split(" ")
        mod = f" {n[1]}" if len(n) > 1 else ""
        return f"{n[0]}+{pc - self.addrs[i]:#x}{mod} ({pc:#x})"


class Channel:
    def __init__(self, c, name, file, recsize, target, cycle, recs_at, oracles):
        self.c, self.name, self.file = c, name, file
        self.recsize, self.target, self.cycle = recsize, target, cycle
        self.recs_at = recs_at
        self.oracles = oracles
        self.extents = []  # (logical, physical, length)
        self.want = {}
        self.verified = set()  # records whole in the durable image
        self.lost = {}  # seq -> first report
        self.acked = 0
        self.max_nd = 0
        self.busy = 0  # crash points with lines of the channel not durable
        self.checked = 0
        self.ack_points = 0  # crash points right after its acknowledgements
        self.fs = None  # (kind, path) of an ext4: or xfs: oracle
        for o in oracles:
            kind, _, path = o.partition(":")
            if o in ("rec", "commit", "whole", "btt"):
                continue
            if kind not in FS_READERS or not path.startswith("/") or self.fs:
                raise ValueError(f"bad oracle {o}")
            self.fs = (kind, path)
        self.fs_region = None  # (physical, length)
        self.fs_at = set()  # crash points to check the filesystem at
        self.fs_images = self.fs_bad = 0
        self.btt = "btt" in oracles
        self.whole = "whole" in oracles
        self.torn = {}  # seq -> first report, for "whole"
        self.torn_images = 0

    def expected(self, seq):
        r = self.want.get(seq)
        if r is None:
            r = self.want[seq] = make_rec(self.recsize, self.target, self.cycle, seq)
        return r

    def phys(self, logical, n):
        """[(physical, length)] of logical bytes [logical, +n)."""
        out = []
        while n > 0:
            for lo, ph, ln in self.extents:
                if lo <= logical < lo + ln:
                    k = min(n, lo + ln - logical)
                    out.append((ph + logical - lo, k))
                    logical += k
                    n -= k
                    break
            else:
                return None
        return out

    def seqs_at(self, line):
        """Records that physical line LINE holds part of."""
        out = []
        for lo, ph, ln in self.extents:
            if line + LINE <= ph or line >= ph + ln:
                continue
            a = max(line, ph) - ph + lo - self.recs_at
            b = min(line + LINE, ph + ln) - ph + lo - self.recs_at
            if b <= 0:
                continue
            out.extend(range(max(a, 0) // self.recsize, (b - 1) // self.recsize + 1))
        return out


class Image:
    """A modelled file's durable image, and an overlay for random images."""

    def __init__(self, data):
        self.data = data
        self.overlay = {}

    def read(self, parts, lines=None):
        """The bytes of PARTS [(physical, length)]; LINES: the overlay's
        lines that may lie in them, if the caller knows."""
        out = bytearray()
        for ph, ln in parts:
            chunk = self.data[ph : ph + ln]
            first = ph - ph % LINE
            near = self.overlay if lines is None else lines
            if not self.overlay:
                near = ()
            elif lines is None and ln // LINE + 2 < len(self.overlay):
                near = range(first, ph + ln, LINE)
            for a in near:
                o = self.overlay.get(a)
                if o is not None and first <= a < ph + ln:
                    lo, hi = max(a, ph), min(a + LINE, ph + ln)
                    chunk[lo - ph : hi - ph] = o[lo - a : hi - a]
            if len(parts) == 1:
                return chunk
            out += chunk
        return out


BTT_SIG = b"BTT_ARENA_INFO\0\0"
BTT_INFO = struct.Struct("<16s16s16sIHHIIIIIIQQQQQ")
MAP_ZERO, MAP_ERROR = 1 << 31, 1 << 30


class BttError(Exception):
    """A BTT that rpmem and nd_btt would not open as it is."""


def fletcher64(block):
    """nd_sb_checksum(): over little-endian words, the checksum counted as 0."""
    lo = hi = 0
    words = struct.unpack_from("<1022I", block)
    for w in words:
        lo = (lo + w) & 0xFFFFFFFF
        hi = (hi + lo) & 0xFFFFFFFFFFFFFFFF
    for _ in range(2):
        hi = (hi + lo) & 0xFFFFFFFFFFFFFFFF
    return ((hi << 32) | lo) & 0xFFFFFFFFFFFFFFFF


class Btt:
    """The disk a BTT in IMAGE at physical BASE (LENGTH bytes) serves, read
    as rpmem (rust/pmem/btt/) and nd_btt read it when they open it after a
    crash: each arena's map, where the newest flog entry of a lane names a
    write whose map update did not happen, finished."""

    def __init__(self, img, base, length):
        self.img, self.base, self.length = img, base, length
        self.arenas = []  # (first sector, the arena's fields and "redo")
        start = next((o for o in (0, 4096) if self.raw(o, 16) == BTT_SIG), None)
        if start is None:
            raise BttError("the BTT does not open: no info block at 0 or 4096")
        first = 0
        try:
            while True:
                a = self.arena(start)
                self.arenas.append((first, a))
                first += a["external_nlba"]
                if not a["nextoff"]:
                    break
                start += a["nextoff"]
        except BttError as e:
            raise BttError(f"the BTT does not open: {e}") from None

    def raw(self, off, n):
        if off < 0 or off + n > self.length:
            raise BttError(f"a read at {off:#x} past the namespace")
        return self.img.read([(self.base + off, n)])

    def arena(self, start):
        b = self.raw(start, 4096)
        if b[:16] != BTT_SIG:
            raise BttError(f"no info block at {start:#x}")
        if struct.unpack_from("<Q", b, 4088)[0] != fletcher64(b):
            raise BttError(f"the info block at {start:#x} fails its checksum")
        f = BTT_INFO.unpack_from(b)
        keys = ("flags", "major", "minor", "external_lbasize", "external_nlba",
                "internal_lbasize", "internal_nlba", "nfree", "infosize",
                "nextoff", "dataoff", "mapoff", "logoff", "info2off")
        a = dict(zip(keys, f[3:]))
        a["start"] = start
        for k in ("dataoff", "mapoff", "logoff"):
            a[k] += start
        if a["nfree"] == 0 or a["external_nlba"] + a["nfree"] > a["internal_nlba"]:
            raise BttError(f"arena at {start:#x}: impossible geometry")
        groups = [self.raw(a["logoff"] + lane * 64, 64) for lane in range(a["nfree"])]
        slots = self.slots(groups)
        a["redo"] = {}
        for lane, g in enumerate(groups):
            lba, old, new = self.newest(g, slots)
            old, new = old & ~(MAP_ZERO | MAP_ERROR), new & ~(MAP_ZERO | MAP_ERROR)
            if lba >= a["external_nlba"] or max(old, new) >= a["internal_nlba"]:
                raise BttError(f"flog lane {lane} names a sector or block past the arena")
            if old != new:
                raw = self.entry(a, lba)
                mapped = raw & ~(MAP_ZERO | MAP_ERROR) if raw & (MAP_ZERO | MAP_ERROR) else lba
                if mapped != new and mapped == old:
                    a["redo"][lba] = new
        return a

    @staticmethod
    def entries(g):
        return [struct.unpack_from("<IIII", g, 16 * i) for i in range(4)]

    def slots(self, groups):
        """log_set_indices(): which two of the four slots are used."""
        found = None
        for lane, g in enumerate(groups):
            used = [i for i, e in enumerate(self.entries(g)) if any(e)]
            if not used:
                raise BttError(f"flog lane {lane} has no entry")
            if used == [0]:
                continue
            if len(used) != 2 or (found and used != found):
                raise BttError(f"flog lane {lane} uses slots {used}")
            found = used
        found = found or [0, 1]
        if found not in ([0, 1], [0, 2]):
            raise BttError(f"unknown flog slot scheme {found}")
        return found

    def newest(self, g, slots):
        """btt_log_get_old()'s other slot: (lba, old_map, new_map)."""
        e = self.entries(g)
        a, b = e[slots[0]], e[slots[1]]
        if a[3] > 3 or b[3] > 3:
            raise BttError("a flog sequence number above 3")
        if a[3] == 0:
            old = 0
        else:
            if a[3] == b[3]:
                raise BttError("two flog slots with the same sequence number")
            old = int(b[3] - a[3] != 1) if a[3] < b[3] else int(a[3] - b[3] == 1)
        return (a, b)[1 - old][:3]

    def entry(self, a, lba):
        return struct.unpack("<I", self.raw(a["mapoff"] + 4 * lba, 4))[0]

    def mapped(self, a, lba):
        """The block of sector LBA by the map alone; None: reads as zeroes."""
        raw = self.entry(a, lba)
        flags = raw & (MAP_ZERO | MAP_ERROR)
        if flags == 0:
            return lba
        if flags == MAP_ERROR:
            raise BttError(f"sector {lba} reads as an error (its map entry's flag)")
        return None if flags == MAP_ZERO else raw & ~(MAP_ZERO | MAP_ERROR)

    def parts(self, logical, n):
        """[(physical, length)] of disk bytes [logical, +n); (None, length)
        for a trimmed sector."""
        out = []
        while n > 0:
            for first, a in self.arenas:
                size = a["external_lbasize"]
                lba = logical // size - first
                if 0 <= lba < a["external_nlba"]:
                    break
            else:
                raise BttError(f"disk byte {logical} past the BTT")
            block = a["redo"].get(lba)
            if block is None:
                block = self.mapped(a, lba)
            k = min(n, size - logical % size)
            at = None if block is None else (self.base + a["dataoff"] +
                                             block * a["internal_lbasize"] + logical % size)
            out.append((at, k))
            logical += k
            n -= k
        return out


def read_log(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"PMMH":
        die(f"{path}: not a pmem_model log")
    _, n = struct.unpack_from("<II", data, 4)
    pos, files = 12, []
    for _ in range(n):
        size, ln = struct.unpack_from("<QQ", data, pos)
        pos += 16
        files.append((size, data[pos : pos + ln].decode()))
        pos += ln
    return data, pos, files


def crash_points(data, pos):
    """Yield (index, reason, insns, acked, entries); a cut-off one is dropped."""
    while pos + 4 <= len(data) and data[pos : pos + 4] == b"PMMC":
        head = 4 + 4 + 4 + 8 + 8 * CHANNELS
        if pos + head > len(data):
            return
        idx, reason, insns = struct.unpack_from("<IIQ", data, pos + 4)
        acked = struct.unpack_from(f"<{CHANNELS}Q", data, pos + 20)
        p, entries = pos + head, []
        while True:
            if p + ENTRY.size > len(data):
                return
            kind, t, ln, off, line, pc = ENTRY.unpack_from(data, p)
            p += ENTRY.size
            if kind == 0:
                break
            entries.append((kind, t, off, line, pc, data[p : p + ln]))
            p += ln
            if p > len(data):
                return
        yield idx, reason, insns, acked, entries
        pos = p


def load_spec(path):
    chans = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            w = line.split("#")[0].split()
            if not w:
                continue
            try:
                if w[0] == "chan" and len(w) == 9:
                    c = int(w[1])
                    chans[c] = Channel(c, w[2], *map(int, w[3:8]), w[8].split(","))
                elif w[0] == "extent" and len(w) == 5:
                    chans[int(w[1])].extents.append(tuple(map(int, w[2:])))
                elif w[0] == "fs" and len(w) == 4:
                    chans[int(w[1])].fs_region = tuple(map(int, w[2:]))
                else:
                    raise ValueError
            except ValueError as e:
                die(f"{path}:{n}: {e.args[0] if e.args else 'bad line'}: {line.strip()}")
            except KeyError:
                die(f"{path}:{n}: bad line: {line.strip()}")
    for ch in chans.values():
        if not ch.extents:
            die(f"{path}: channel {ch.c} ({ch.name}) has no extent")
        if ch.fs and ch.fs_region is None:
            ch.fs_region = ch.extents[0][1:]
    return chans


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("log", help="the plugin's log")
    ap.add_argument("spec", help="the workloads' spec file")
    ap.add_argument("init", nargs="+", help="each modelled file as at boot")
    ap.add_argument("--random", type=int, default=2, help="random images per crash point")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--kallsyms", help="the guest's /proc/kallsyms")
    ap.add_argument("--binary", action="append", default=[], help="a non-PIE user program")
    ap.add_argument("--report", type=int, default=3, help="lost records shown per channel")
    ap.add_argument("--fs-checks", type=int, default=24,
                    help="crash points at which a filesystem is checked")
    args = ap.parse_args()

    data, pos, files = read_log(args.log)
    if len(args.init) != len(files):
        die(f"the log models {len(files)} files, {len(args.init)} given")
    images = []
    for (size, name), path in zip(files, args.init):
        if os.path.getsize(path) != size:
            die(f"{path} has {os.path.getsize(path)} bytes, {name} had {size}")
        with open(path, "rb") as f:
            images.append(Image(bytearray(f.read())))
    chans = load_spec(args.spec)
    for ch in chans.values():
        if ch.file >= len(images):
            die(f"channel {ch.c}: no modelled file {ch.file}")
        ph, ln = ch.fs_region or (0, 1)
        if ph < 0 or ln <= 0 or ph + ln > len(images[ch.file].data):
            die(f"channel {ch.c}: its filesystem {ch.fs_region} is not inside file {ch.file}")
        if ch.fs and ch.fs[0] == "xfs" and os.geteuid() != 0:
            die(f"channel {ch.c}: the xfs: oracle mounts images: run as root")
    syms = Symbols()
    if args.kallsyms:
        with open(args.kallsyms) as f:
            syms.load(f)
    for b in args.binary:
        out = subprocess.run(["nm", "-n", b], capture_output=True, text=True, check=True)
        syms.load(out.stdout.splitlines(), f" [{os.path.basename(b)}]")
    rng = random.Random(args.seed)

    # The line -> records map, per file, for invalidation.
    def touched(t, line):
        for ch in chans.values():
            if ch.file == t:
                for s in ch.seqs_at(line):
                    ch.verified.discard(s)

    def locate(ch, view, seq):
        """[(physical or None for zeroes, length)] of record SEQ, through
        VIEW (a Btt, or a BttError) for a BTT."""
        logical = ch.recs_at + seq * ch.recsize
        if ch.btt:
            if isinstance(view, BttError):
                raise view
            return view.parts(logical, ch.recsize)
        parts = ch.phys(logical, ch.recsize)
        if parts is None:
            die(f"{ch.name}: record {seq} lies outside its extents")
        return parts

    def read(img, parts):
        return b"".join(bytes(ln) if at is None else img.read([(at, ln)]) for at, ln in parts)

    def report(ch, seq, why, cp, img, nd, parts, into=None):
        into = ch.lost if into is None else into
        if seq in into:
            return
        lines = set()
        for ph, ln in parts:
            if ph is None:
                continue
            a = ph - ph % LINE
            while a < ph + ln:
                lines.add(a)
                a += LINE
        detail = []
        for a in sorted(lines):
            e = nd.get((ch.file, a))
            if e is None:
                continue
            if e["cur"] is not None:
                detail.append(f"line {a:#x} dirty, last store at {syms.name(e['pc'])}")
            for off, ln, _, pc in e["queued"]:
                detail.append(f"line {a:#x} bytes {off}-{off + ln - 1} queued, not fenced, "
                              f"by {syms.name(pc)}")
        if ch.btt:
            rest = sum(1 for (t, a) in nd if t == ch.file and a not in lines)
            detail.append(f"{rest} other lines of the namespace (map, flog, other "
                          "sectors) not durable")
        elif not detail:
            detail.append("no line of it was stored to and not durable: never written")
        into[seq] = (f"{ch.name}: record {seq} {why} at crash point {cp[0]} "
                     f"({'after an acknowledgement' if cp[1] == 0 else 'before a fence'}, "
                     f"{cp[2]} instructions in), {img} image", detail)

    def check_rec(ch, img, view, seq, cp, name, nd):
        ch.checked += 1
        try:
            parts = locate(ch, view, seq)
        except BttError as e:
            report(ch, seq, f"{name} ({e})", cp,
                   "worst-case" if not img.overlay else "random", nd, [])
            return False
        got = read(img, parts)
        if got == ch.expected(seq):
            return True
        report(ch, seq, name, cp, "worst-case" if not img.overlay else "random", nd, parts)
        return False

    def check_whole(ch, img, view, cp, nd):
        """The record after the acknowledged ones: zeroes or itself."""
        seq = ch.acked
        try:
            parts = locate(ch, view, seq)
        except BttError as e:
            if not ch.btt or not ch.acked:
                # Past the channel's extents: never written; or no record
                # acknowledged yet, the BTT perhaps not laid out.
                return
            parts, why = [], f"unreadable ({e})"
        else:
            got = read(img, parts)
            if got in (ch.expected(seq), bytes(len(got))):
                return
            why = "torn: neither zeroes nor the whole record"
        ch.torn_images += 1
        report(ch, seq, why, cp, "worst-case" if not img.overlay else "random", nd,
               parts, ch.torn)

    def check_all(ch, img, cp, nd, only=None):
        """The channel's oracles on IMG; ONLY: the records to look at."""
        want = set()
        if "rec" in ch.oracles:
            want.update(range(ch.acked))
        if "commit" in ch.oracles:
            parts = ch.phys(0, 8)
            n = struct.unpack("<Q", img.read(parts))[0]
            want.update(range(min(n, 1 << 20)))
        view = None
        if ch.btt:
            try:
                view = Btt(img, ch.extents[0][1], ch.extents[0][2])
            except BttError as e:
                view = e
        if ch.whole:
            check_whole(ch, img, view, cp, nd)
        for seq in sorted(want):
            if only is not None and seq not in only:
                continue
            if not img.overlay and seq in ch.verified:
                continue
            why = "acknowledged but lost" if seq < ch.acked else "committed but not there"
            if check_rec(ch, img, view, seq, cp, why, nd) and not img.overlay and not ch.btt:
                ch.verified.add(seq)

    # A filesystem is checked right after some of its acknowledgements,
    # spread over the run.
    fs_chans = [ch for ch in chans.values() if ch.fs]
    if fs_chans:
        last = {ch.c: 0 for ch in fs_chans}
        acks = {ch.c: [] for ch in fs_chans}
        for idx, _, _, acked, _ in crash_points(data, pos):
            for ch in fs_chans:
                if acked[ch.c] > last[ch.c]:
                    acks[ch.c].append(idx)
                last[ch.c] = acked[ch.c]
        for ch in fs_chans:
            a = acks[ch.c]
            step = max(1, -(-len(a) // max(1, args.fs_checks)))
            ch.fs_at = set(a[::step]) | set(a[-1:])
    tmpdir = tempfile.TemporaryDirectory(prefix="model-check.")

    def fs_check(ch, img, cp, nd):
        """The filesystem of CH in IMG: replayed, clean, records there."""
        path = os.path.join(tmpdir.name, "fs.img")
        write_sparse(path, img, *ch.fs_region)
        kind = "random" if img.overlay else "worst-case"
        ch.fs_images += 1
        bad, got = FS_READERS[ch.fs[0]](path, ch.fs[1], tmpdir.name)
        if bad:
            ch.fs_bad += 1
            if ch.fs_bad <= args.report:
                print(f"  {ch.name}: crash point {cp[0]}, {kind} image: {bad}")
            return
        for seq in range(ch.acked):
            at = ch.recs_at + seq * ch.recsize
            if got[at : at + ch.recsize] == ch.expected(seq) or seq in ch.lost:
                continue
            why = "acknowledged but lost" if len(got) >= at + ch.recsize else \
                f"acknowledged but lost (the file has {len(got)} bytes)"
            lines = sorted(a for (t, a) in nd if t == ch.file)
            detail = [f"line {a:#x} not durable, last store at {syms.name(nd[(ch.file, a)]['pc'])}"
                      for a in lines[:6] if nd[(ch.file, a)]["cur"] is not None]
            ch.lost[seq] = (f"{ch.name}: record {seq} {why} at crash point {cp[0]} "
                            f"(after an acknowledgement, {cp[2]} instructions in), "
                            f"{kind} image, {len(lines)} lines of the filesystem not durable",
                            detail or ["no line of the filesystem is not durable"])

    nr_cp = nr_img = 0
    for cp in crash_points(data, pos):
        idx, reason, insns, acked, entries = cp
        nd = {}
        for kind, t, off, line, pc, payload in entries:
            if kind == 1:
                images[t].data[line : line + LINE] = payload
                touched(t, line)
            else:
                e = nd.setdefault((t, line), {"cur": None, "pc": 0, "queued": []})
                if kind == 2:
                    e["cur"], e["pc"] = payload, pc
                else:
                    e["queued"].append((off, len(payload), payload, pc))
        nr_cp += 1
        for ch in chans.values():
            if reason == 0 and acked[ch.c] > ch.acked:
                ch.ack_points += 1
            ch.acked = acked[ch.c]
            mine = [a for (t, a) in nd if t == ch.file and ch.seqs_at(a)]
            ch.max_nd = max(ch.max_nd, len(mine))
            ch.busy += bool(mine)
            check_all(ch, images[ch.file], cp, nd)
            if idx in ch.fs_at:
                fs_check(ch, images[ch.file], cp, nd)
        nr_img += 1
        # Before the first acknowledgement a random image has nothing to
        # hold (mkfs's writes, say): none is made.
        wanted = any(ch.acked or "commit" in ch.oracles for ch in chans.values())
        for r in range(args.random if wanted else 0):
            for (t, a), e in nd.items():
                line = bytearray(images[t].data[a : a + LINE])
                for off, ln, payload, _ in e["queued"]:
                    for w in range(off - off % 8, off + ln, 8):
                        if rng.random() < 0.5:
                            lo, hi = max(w, off), min(w + 8, off + ln)
                            line[lo:hi] = payload[lo - off : hi - off]
                if e["cur"] is not None:
                    for w in range(0, LINE, 8):
                        if rng.random() < 0.5:
                            line[w : w + 8] = e["cur"][w : w + 8]
                images[t].overlay[a] = bytes(line)
            for ch in chans.values():
                touched_seqs = set()
                for (t, a) in nd:
                    if t == ch.file:
                        touched_seqs.update(ch.seqs_at(a))
                if "commit" in ch.oracles or ch.btt:
                    # The commit count, or a BTT's map, may differ too.
                    touched_seqs = None
                check_all(ch, images[ch.file], cp, nd, touched_seqs)
                if idx in ch.fs_at and r == 0:
                    fs_check(ch, images[ch.file], cp, nd)
            for img in images:
                img.overlay = {}
            nr_img += 1

    i = data.rfind(b"PMMS")
    stores = []
    if i >= 0 and len(data) >= i + 4 + 24 * len(files):
        stores = [struct.unpack_from("<QQQ", data, i + 4 + 24 * t) for t in range(len(files))]
    else:
        print("# the log has no summary: QEMU did not exit normally")
    total = unclean = 0
    for ch in sorted(chans.values(), key=lambda c: c.c):
        st = stores[ch.file] if stores else (0, 0, 0)
        print(f"{ch.name}: {nr_cp} crash points, {ch.ack_points} after its "
              f"acknowledgements, {nr_img} images, "
              f"{st[0]} stores + {st[1]} non-temporal + {st[2]} flushes tracked "
              f"(file {ch.file}), at most {ch.max_nd} lines not durable at a crash "
              f"({ch.busy} with some), "
              + (f"{ch.fs_images - ch.fs_bad} of {ch.fs_images} filesystem images clean, "
                 if ch.fs else "")
              + (f"{ch.torn_images} images with a torn record, " if ch.whole else "")
              + f"{ch.acked} acknowledged, {len(ch.lost)} lost")
        for found, shown, lines in ((ch.lost, args.report, 8), (ch.torn, 1, 4)):
            for seq in sorted(found)[:shown]:
                head, detail = found[seq]
                print(f"  {head}")
                for d in detail[:lines]:
                    print(f"    {d}")
        total += len(ch.lost)
        unclean += ch.fs_bad
    print(f"model: {total} lost in all, {unclean} filesystem images not clean")


if __name__ == "__main__":
    main()

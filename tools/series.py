#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# series.py TOP GIT_DIR BASE OUTDIR: the in-tree form of rpmem, as a
# git format-patch series against the Linux 7.3 commit BASE of GIT_DIR.
#
# series.py --examples TOP: checks that each example of rust/ext/'s doc
# comments names only items of its own patch and of earlier ones (in-tree
# they are the kernel crate's doctests, built with every patch); for
# selftests/series_check.sh.
#
# series.py --doc TOP: prints Documentation/rpmem.rst as the series has it
# (in_tree_doc()); for selftests/series_check.sh.
#
# Called by tools/series.sh, which says where things are. Each patch is
# built from the files of this repository as they are (rust/ext/ into
# rust/kernel/, rust/sys/shim.c into rust/helpers/, rust/pmem/ into
# drivers/nvdimm/rpmem/, Documentation/rpmem.rst into driver-api, its
# passages about this repository left out, in_tree_doc()): nothing
# of the series is kept here but how the paths and names map, the kernel
# files each patch edits, and the commit messages. The new tree of each
# patch is written straight into GIT_DIR's object store (git hash-object,
# a private index, commit-tree): no checkout of the kernel is made.
#
# The mapping, which Documentation/rpmem.rst ("The patch series") explains:
#   crate::ext::X         -> crate::X in rust/kernel/, kernel::X in the driver
#                            and in doc comments (examples are doctests)
#   crate::sys::bindings  -> kernel::bindings (crate::bindings in rust/kernel/)
#   crate::pmem::X        -> crate::X (the driver is a crate of its own)
#   pub(crate)            -> pub in rust/kernel/ (the driver is another crate)
#   RPMEM_X constants     -> RUST_CONST_HELPER_X, bound as bindings::X
#   shim rpmem_f()        -> rust/helpers/ rust_helper_g(), bound as bindings::g
#   #[cfg(rpmem_kunit)]   -> the attribute left out in rust/kernel/ (the
#                            item is kept: the driver's KUnit suites use it)
#   rust/kunit.rs         -> drivers/nvdimm/rpmem/kunit.rs, its suites under
#                            NVDIMM_RPMEM_KUNIT_TEST; the examples of the doc
#                            comments run as the kernel crate's doctests

import os
import re
import subprocess
import sys
import textwrap

if sys.argv[1] in ('--cover', '--examples', '--doc'):
    TOP = sys.argv[2]
else:
    TOP, GIT_DIR, BASE, OUT = sys.argv[1:5]

# Shim function -> (helper name, rust/helpers/ file). The helper is named
# after the C function it wraps where there is one.
HELPERS = {
    'ndns_res': ('nd_namespace_io_res', 'nvdimm.c'),
    'dev_to_node': ('dev_to_node', 'device.c'),
    'memcpy_flushcache': ('memcpy_flushcache', 'nvdimm.c'),
    'invalidate_pmem': ('nd_invalidate_pmem', 'nvdimm.c'),
    'flush_dcache_page': ('flush_dcache_page', 'page.c'),
    'dev_to_disk': ('dev_to_disk', 'blk.c'),
    'region_ro': ('nd_region_ro', 'nvdimm.c'),
    'region_own_flush': ('nd_region_own_flush', 'nvdimm.c'),
    'info_block_reserve': ('nd_info_block_reserve', 'nvdimm.c'),
    'unpoison_page': ('nd_pmem_unpoison_pfn', 'nvdimm.c'),
    'disk_sysfs_file': ('disk_sysfs_get_dirent', 'blk.c'),
    'busy_pages': ('pfn_range_busy_pages', 'page.c'),
}

# The headers each new helper file includes.
HELPER_INCLUDES = {
    'nvdimm.c': ['<linux/libnvdimm.h>', '<linux/nd.h>', '<linux/set_memory.h>',
                 '<linux/string.h>',
                 '"../../drivers/nvdimm/nd.h"', '"../../drivers/nvdimm/pmem.h"'],
}


def read(path):
    with open(os.path.join(TOP, path)) as f:
        return f.read()


def git(*args, stdin=None):
    env = dict(os.environ, GIT_DIR=GIT_DIR)
    return subprocess.run(['git'] + list(args), input=stdin, env=env, check=True,
                          capture_output=True, text=True).stdout


def rustfmt(text):
    """text formatted as the kernel formats Rust (its .rustfmt.toml)."""
    return subprocess.run([os.environ.get('RUSTFMT', 'rustfmt'), '--edition', '2021',
                           '--config-path', os.environ['RPMEM_RUSTFMT_TOML']],
                          input=text, check=True, capture_output=True, text=True).stdout


def base_file(path):
    return git('show', f'{BASE}:{path}')


# --- use trees --------------------------------------------------------------

def parse_use(text):
    """Flattens a use tree ("a::{b, c::{self, D as E}}") into full paths."""
    toks = re.findall(r'[A-Za-z_][A-Za-z0-9_]*|::|[{},*]', text)
    pos = 0

    def tree(prefix):
        nonlocal pos
        path = list(prefix)
        while pos < len(toks):
            t = toks[pos]
            if t == '{':
                pos += 1
                out = []
                while toks[pos] != '}':
                    out += tree(path)
                    if toks[pos] == ',':
                        pos += 1
                pos += 1
                return out
            if t in (',', '}'):
                return [path]
            if t == '::':
                pos += 1
                continue
            if t == 'as':
                path = path[:-1] + [path[-1] + ' as ' + toks[pos + 1]]
                pos += 2
                continue
            path.append(t)
            pos += 1
        return [path]
    return tree([])


def emit_use(paths):
    """The use tree of full paths, nested as rustfmt would group them."""
    root = {}
    for p in paths:
        node = root
        for seg in p[:-1]:
            if node.get(seg) is None:
                # A leaf that gets children keeps itself as `self`.
                node[seg] = {'self': None} if seg in node else {}
            node = node[seg]
        if node.get(p[-1]) is None:
            node[p[-1]] = None
        else:
            node[p[-1]]['self'] = None

    def render(node):
        items = []
        for name in sorted(node, key=lambda n: (n != 'self', n.lower())):
            sub = node[name]
            items.append(name if sub is None else name + '::' + render(sub))
        return items[0] if len(items) == 1 else '{' + ', '.join(items) + '}'
    out = []
    for first in sorted(root, key=str.lower):
        sub = root[first]
        out.append(f'use {first};' if sub is None else f'use {first}::{render(sub)};')
    return out


def map_uses(src, mapper):
    """Rewrites every `use crate::...;` item of src through mapper."""
    def repl(m):
        indent, vis = m.group(1), m.group(2) or ''
        paths = [mapper(p) for p in parse_use(m.group(3))]
        return '\n'.join(indent + (vis if line.startswith('use ') else '') + line
                         for line in emit_use(paths))
    return re.sub(r'^([ \t]*)(pub\(\w+\) )?use (crate::[^;]*);', repl, src, flags=re.M | re.S)


# --- the kernel crate side ---------------------------------------------------

def kernel_path(p):
    if p[:2] == ['crate', 'ext']:
        return ['crate'] + p[2:]
    if p[:3] == ['crate', 'sys', 'bindings']:
        return ['crate', 'bindings'] + p[3:]
    return p


def doc_paths(src):
    """In doc comments, crate::ext::X is kernel::X: their examples are
    doctests, crates of their own that use the kernel crate."""
    def repl(m):
        return m.group(0).replace('crate::ext::', 'kernel::').replace(
            'crate::sys::bindings', 'kernel::bindings')
    return re.sub(r'^[ \t]*//[/!].*$', repl, src, flags=re.M)


def names(src):
    src = re.sub(r'\bRPMEM_(\w+)', r'\1', src)
    return re.sub(r'\brpmem_(\w+)\b(?=\()', lambda m: HELPERS[m.group(1)][0], src)


def to_kernel(path):
    src = re.sub(r'^[ \t]*#\[cfg\(rpmem_kunit\)\]\n', '', read(path), flags=re.M)
    src = doc_paths(map_uses(src, kernel_path))
    src = src.replace('$crate::ext::', '$crate::').replace('crate::ext::', 'crate::')
    src = src.replace('crate::sys::bindings', 'crate::bindings')
    src = re.sub(r'(?<![\w:])ext::', 'kernel::', src)
    src = re.sub(r'^(#\[cfg_attr\(rpmem_kunit, allow\(unused_imports\)\)\]\n)?'
                 r'pub\(crate\) use (\w+);\n', '', src, flags=re.M)
    src = re.sub(r'^#\[cfg_attr\(rpmem_kunit, allow\(unused_macros\)\)\]$', '#[macro_export]',
                 src, flags=re.M)
    src = src.replace('kernel::module_driver!', '$crate::module_driver!')
    src = src.replace('pub(crate) ', 'pub ')
    src = src.replace('Documentation/rpmem.rst', 'Documentation/driver-api/nvdimm/rpmem.rst')
    return names(src)


# --- the driver side ---------------------------------------------------------

def driver_path(p):
    if p[:2] == ['crate', 'ext']:
        return ['kernel'] + p[2:]
    if p[:2] == ['crate', 'pmem']:
        return ['crate'] + p[2:]
    return p


def to_driver(path):
    src = map_uses(read(path), driver_path)
    src = src.replace('crate::ext::', 'kernel::').replace('crate::pmem::', 'crate::')
    src = re.sub(r'(?<![\w:])ext::', 'kernel::', src)
    src = re.sub(r'(?<![\w:])pmem::', 'crate::', src)
    src = src.replace('Documentation/rpmem.rst', 'Documentation/driver-api/nvdimm/rpmem.rst')
    return names(src)


def driver_root():
    """drivers/nvdimm/rpmem/rpmem.rs from rust/rpmem.rs: its documentation,
    the driver's modules and the module declaration of rpmem.ko."""
    src = read('rust/rpmem.rs')
    head = src.split('\n\n')[0] + '\n\n' + re.search(r'(//!.*?)\n\n(?!//!)', src, re.S).group(1)
    mods = re.search(r'mod pmem \{\n(.*?)\n\}', src, re.S).group(1)
    mods = [m.strip().replace('pub(crate) ', '') for m in mods.split('\n')]
    body = re.search(r'\$module! \{\n(.*?)\n        \}', src, re.S).group(1)
    inv = re.search(r'#\[cfg\(not\(rpmem_kunit\)\)\]\nrpmem_module!\(\n(.*?)\n\);', src, re.S)
    args = [a.strip().rstrip(',') for a in inv.group(1).split('\n')]
    body = body.replace('$type', args[1].replace('pmem::', '')).replace('$name', args[2])
    body = body.replace('$description', args[3])
    body = '\n'.join(line[8:] for line in body.split('\n'))
    out = head + '\n\n'
    out += '// The driver is safe Rust: an `unsafe` block in it fails the build.\n'
    for m in mods:
        out += '#[forbid(unsafe_code)]\n' + m + '\n'
    out += KUNIT_MOD
    out += '\nkernel::module_nd_driver! {\n' + body + '\n}\n'
    return out


def driver_kunit():
    """drivers/nvdimm/rpmem/kunit.rs from rust/kunit.rs: the suites, without
    the test module of their own, its control and the doctests' suite
    (in-tree, the examples are the kernel crate's doctests)."""
    src = to_driver('rust/kunit.rs')
    paras = re.search(r'((?://!.*\n)+)', src).group(1).split('//!\n')
    first, last = paras[0], paras[-1]
    last = must_replace(last, 'outside `crate::pmem`, which is', 'outside the driver\'s modules, which are')
    last = textwrap.fill(' '.join(ln[4:] for ln in last.strip('\n').split('\n')), 76,
                         initial_indent='//! ', subsequent_indent='//! ') + '\n'
    doc = (first + '//!\n//! They are built with `CONFIG_NVDIMM_RPMEM_KUNIT_TEST`; KUnit runs them\n'
           '//! when rpmem is loaded.\n//!\n' + last)
    src = src.replace(re.search(r'((?://!.*\n)+)', src).group(1), doc, 1)
    src = re.sub(r'/// The test module.*?\nimpl kernel::Module for RpmemKunit \{.*?\n\}\n\n', '',
                 src, count=1, flags=re.S)
    src = re.sub(r'/// What the control module gets wrong.*?\n\n', '', src, count=1, flags=re.S)
    src = must_replace(src, ' ^ BROKEN', '')
    src = re.sub(r'\n// The examples of the doc comments.*\Z', '\n', src, flags=re.S)
    for gone in ['RpmemKunit', 'BROKEN', 'include!', 'rpmem_kunit']:
        if gone in src:
            sys.exit(f'series.py: {gone} is left in the in-tree kunit.rs')
    return src


# --- the documentation ------------------------------------------------------

# Documentation/rpmem.rst is the driver's in-tree documentation too. Two
# kinds of reST comments, invisible where the repository's file is
# rendered, mark what differs in-tree:
#
#   .. repo-only                 the lines between these two markers (each
#                                with a blank line after it) are about this
#   .. end of repo-only          repository and left out in-tree;
#
#   .. in-tree                   a comment block: its text, indented three
#      Text that only the        columns more than the marker, is put in
#      in-tree copy has.         its place, unindented, in-tree only.
#
# Every ``rust/ext/X``, ``ext/X``, ``rust/pmem/X`` and ``pmem/X`` literal
# then becomes the path the series gives X (a cell of a simple table keeps
# its column), a selftest's ``selftests/rpmem_x.sh`` its name,
# ``rpmem_x`` (the in-tree text says what those are), and the result must
# name nothing of this repository (selftests/series_check.sh checks that).

def doc_path(m):
    """An rpmem.rst literal's path, mapped as the series maps the file."""
    where, rest = m.group(1), m.group(2)
    if where in ('rust/ext/', 'ext/'):
        return '``rust/kernel/' + rest + '``'
    return '``drivers/nvdimm/rpmem/' + rest + '``'


DOC_PATH = re.compile(r'``(rust/ext/|rust/pmem/|ext/|pmem/)([^`]*)``')


def in_tree_doc(text):
    """Documentation/rpmem.rst as the series has it."""
    out, lines, i, border = [], text.split('\n'), 0, None
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        indent = len(line) - len(line.lstrip(' '))
        if stripped == '.. repo-only':
            end = next((j for j in range(i + 1, len(lines))
                        if lines[j].strip() == '.. end of repo-only'), None)
            if end is None or '.. repo-only' in (ln.strip() for ln in lines[i + 1:end]):
                sys.exit(f'series.py: rpmem.rst:{i + 1}: .. repo-only without its end')
            i = end + 1
            # One blank line stays where the passage was.
            if out and out[-1] == '' and i < len(lines) and lines[i] == '':
                i += 1
            continue
        if stripped == '.. end of repo-only':
            sys.exit(f'series.py: rpmem.rst:{i + 1}: .. end of repo-only without a start')
        if stripped == '.. in-tree':
            i += 1
            block = []
            while i < len(lines) and (lines[i] == '' or lines[i].startswith(' ' * (indent + 3))):
                block.append(lines[i][:indent] + lines[i][indent + 3:])
                i += 1
            while block and block[-1] == '':
                block.pop()
                i -= 1
            while block and block[0] == '':
                block.pop(0)
            if not block:
                sys.exit(f'series.py: rpmem.rst:{i}: an empty .. in-tree block')
            out += block
            continue
        # A simple table's border gives its columns; a mapped first cell
        # keeps the second column where it was.
        if re.fullmatch(r'=+( +=+)+', line):
            border = [m.start() for m in re.finditer(r'=+', line)]
        elif line == '' and out and re.fullmatch(r'=+( +=+)+', out[-1]):
            border = None
        m = DOC_PATH.search(line)
        if border and m and m.start() == 0:
            cell = DOC_PATH.sub(doc_path, line[:border[1]].rstrip())
            if len(cell) >= border[1] - 1:
                sys.exit(f'series.py: rpmem.rst:{i + 1}: {cell} does not fit its column')
            line = cell.ljust(border[1]) + line[border[1]:]
        else:
            line = DOC_PATH.sub(doc_path, line)
        line = re.sub(r'``(?:selftests/)?(rpmem_\w+)\.sh``', r'``\1``', line)
        out.append(line)
        i += 1
    text = '\n'.join(out)
    for left in ['.. repo-only', '.. end of repo-only', '.. in-tree']:
        if left in text:
            sys.exit(f'series.py: rpmem.rst: a misplaced {left!r} is left in-tree')
    return text


# --- C ----------------------------------------------------------------------

def shim_functions():
    """The shim's functions, as rust/helpers/ helpers: {file: [text]}."""
    out = {}
    for m in re.finditer(r'^(\S[^\n(]*?)\brpmem_(\w+)\(([^)]*)\)\n\{\n(.*?)\n\}\n',
                         read('rust/sys/shim.c'), re.M | re.S):
        ret, name, args, body = m.groups()
        helper, where = HELPERS[name]
        sep = '' if ret.endswith('*') else ' '
        sig = wrap_c(f'__rust_helper {ret.rstrip()}{sep}rust_helper_{helper}({args})')
        out.setdefault(where, []).append(f'{sig}\n{{\n{body}\n}}\n')
    return out


def wrap_c(line):
    """A C declaration over 100 columns, its arguments wrapped and aligned
    with the open parenthesis, as the kernel's style has it."""
    if len(line) <= 100:
        return line
    col = line.index('(') + 1
    indent = '\t' * (col // 8) + ' ' * (col % 8)
    args = line[col:-1].split(', ')
    out, cur = [], line[:col] + args[0]
    for arg in args[1:]:
        if len(cur.expandtabs(8)) + len(arg) + 3 > 100:
            out.append(cur + ',')
            cur = indent + arg
        else:
            cur += ', ' + arg
    out.append(cur + ')')
    return '\n'.join(out)


def const_helpers():
    """RPMEM_X = X of bindings_helper.h as RUST_CONST_HELPER_X lines."""
    return re.findall(r'^const (.*?) RPMEM_(\w+) = (.*);$',
                      read('rust/sys/bindings_helper.h'), re.M)


def must_replace(text, old, new):
    """text with old replaced by new, once; old must be there."""
    if old not in text:
        sys.exit(f'series.py: the 7.3 tree has no {old!r} where expected')
    return text.replace(old, new, 1)


def insert_sorted(text, line, pattern):
    """Inserts line among the lines matching pattern, in order."""
    lines = text.split('\n')
    # The longest run of such lines (bindings_helper.h has a first include
    # of its own before its sorted list).
    runs, run = [], []
    for i, ln in enumerate(lines):
        if re.match(pattern, ln):
            run.append(i)
        elif run:
            runs.append(run)
            run = []
    idx = max(runs + [run], key=len)
    pos = next((i for i in idx if lines[i] > line), idx[-1] + 1)
    lines.insert(pos, line)
    return '\n'.join(lines)


def add_mod(text, name, cfg=None):
    """Adds `pub mod name;` to a module list, in order, with its #[cfg]."""
    lines = text.split('\n')
    mods = [i for i, ln in enumerate(lines) if re.match(r'pub mod \w+;$', ln)]
    pos = next((i for i in mods if lines[i][8:-1] > name), mods[-1] + 1)
    while pos > 0 and lines[pos - 1].startswith('#['):
        pos -= 1
    new = ([cfg] if cfg else []) + [f'pub mod {name};']
    lines[pos:pos] = new
    return '\n'.join(lines)


# --- the patches -------------------------------------------------------------

# The abstractions' patches, in the series' order (after nd.h's, before the
# driver's): each only uses what the ones before it add.
ABSTRACTIONS = ['sysfs', 'badblocks', 'memregion', 'pagemap', 'block', 'dax', 'nvdimm']

KERNEL_FILES = {
    'sysfs': ['rust/ext/sysfs.rs'],
    'badblocks': ['rust/ext/badblocks.rs'],
    'memregion': ['rust/ext/memregion.rs'],
    'pagemap': ['rust/ext/mm/pagemap.rs'],
    'block': ['rust/ext/block/bio.rs', 'rust/ext/block/bio_disk.rs'],
    'dax': ['rust/ext/dax.rs'],
    'nvdimm': ['rust/ext/nvdimm.rs', 'rust/ext/nvdimm/btt.rs', 'rust/ext/nvdimm/mapping.rs',
               'rust/ext/nvdimm/pfn.rs', 'rust/ext/nvdimm/region.rs'],
}

# Which patch binds which RPMEM_ constant, by prefix.
CONST_PATCH = [('BLK_', 'block'), ('REQ_', 'block'), ('ARCH_FLUSH', 'block'),
               ('MEMREMAP_', 'nvdimm'), ('ND_', 'nvdimm')]

# Headers each patch adds to rust/bindings/bindings_helper.h.
BINDINGS_INCLUDES = {
    'badblocks': ['<linux/badblocks.h>'],
    'pagemap': ['<linux/memremap.h>'],
    'dax': ['<linux/dax.h>', '<linux/uio.h>'],
    'nvdimm': ['<linux/libnvdimm.h>', '<linux/nd.h>'],
}

# Where each module goes: (file, name, cfg).
MODS = {
    'sysfs': [('rust/kernel/lib.rs', 'sysfs', None)],
    'badblocks': [('rust/kernel/lib.rs', 'badblocks', '#[cfg(CONFIG_BLOCK)]')],
    'memregion': [('rust/kernel/lib.rs', 'memregion', None)],
    'pagemap': [('rust/kernel/mm.rs', 'pagemap', '#[cfg(CONFIG_ZONE_DEVICE)]')],
    'block': [('rust/kernel/block.rs', 'bio', None), ('rust/kernel/block.rs', 'bio_disk', None)],
    'dax': [('rust/kernel/lib.rs', 'dax', '#[cfg(CONFIG_DAX = "y")]')],
    'nvdimm': [('rust/kernel/lib.rs', 'nvdimm', '#[cfg(CONFIG_LIBNVDIMM = "y")]')],
}

MSG = {}
MSG['nd_h'] = ('rust: bindings: include libnvdimm\'s private nd.h', '''\
The Rust abstractions of the nd bus (namespace drivers, regions, the pfn
and BTT info blocks) need what a namespace driver such as nd_pmem gets
from drivers/nvdimm/nd.h: nvdimm_namespace_common_probe(),
devm_namespace_enable(), nd_btt_probe() and nd_pfn_probe(), struct nd_pfn
and struct nd_btt, nvdimm_setup_pfn() and nd_region's flush and badblocks
helpers. nd.h is private to drivers/nvdimm, and kernel::bindings is
generated from rust/bindings/bindings_helper.h only.

Include nd.h and pfn.h there, as is done for drivers/base/base.h and
rust_binder.h, when libnvdimm is built in. This is the smallest change
that lets Rust see the interface; the cleaner one, moving the namespace
driver interface to include/linux/nd.h, is for the libnvdimm maintainers
to decide, and nothing after this patch depends on which it is.''')
MSG['sysfs'] = ('rust: sysfs: add device attribute groups', '''\
A block driver publishes attributes in its disk's sysfs directory
through the gendisk's attribute groups, which must exist before the disk
is added and stay until it is gone. Add a small abstraction of struct
attribute_group and struct device_attribute: static attribute lists whose
show and store callbacks get the driver's data, and group lists built
once per disk.

Its user is the rpmem driver later in this series.''')
MSG['badblocks'] = ('rust: badblocks: add the bad block list', '''\
libnvdimm reports media errors of persistent memory as a struct
badblocks list per disk: reads of a bad sector must fail, writes clear
it, and user space sees and edits the list in the disk's "badblocks"
sysfs file. Add an abstraction of the list that owns its
initialisation and teardown and notifies the sysfs file on change.''')
MSG['memregion'] = ('rust: memregion: add a claimed region of physical memory', '''\
A persistent memory driver claims the physical range it serves in
iomem_resource before it maps it or gives it struct pages. Add MemRegion,
a claim built on kernel::io::resource::Region, which is the proof the
page map and mapping abstractions later in this series ask for.''')
MSG['pagemap'] = ('rust: mm: add device page maps (memremap_pages)', '''\
DAX needs struct pages for the memory it hands out. Add PageMap, an
abstraction of devm_memremap_pages() for MEMORY_DEVICE_FS_DAX ranges with
their optional altmap, tied to a claim of the range, and the memory
failure plumbing (dev_pagemap_ops.memory_failure) that reaches the
filesystem through the DAX holder.''')
MSG['block'] = ('rust: block: add bios and bio-based disks', '''\
The Rust block layer abstractions cover blk-mq only. Drivers of memory
that needs no queueing (brd, pmem, zram) are bio-based: the block layer
calls their submit_bio on the submitting task. Add Bio (operation, flags,
sector, segments of a page or of a whole multi-page bio_vec where one
mapping covers it, completion with a status) and
BioDisk, a gendisk with bio-based fops, its queue limits and features
(write cache, FUA, DAX, NOWAIT), badblocks and attribute groups.''')
MSG['dax'] = ('rust: dax: add DAX devices and their operations', '''\
Filesystems mounted with -o dax reach a pmem disk's memory through its
dax_device. Add an abstraction of alloc_dax() and its dax_operations
(direct_access, zero_page_range, recovery_write) as a #[vtable] trait,
the registration of the device as its disk's DAX host, and Access, the
only way to tell the dax core an address, which only a mapping of
persistent memory with struct pages makes.''')
MSG['nvdimm'] = ('rust: nvdimm: add nd bus drivers, regions and mappings', '''\
Add the abstractions a libnvdimm namespace driver needs: the nd bus
driver core adapter (module_nd_driver!, probe, remove and notify),
namespaces and their claims, the region (flush, read-only, badblocks,
deep flush), the pfn (fsdax) and BTT info blocks, and Mapping, a
memremap()ed namespace with machine-check-safe reads, flushing writes
and poison clearing.

The C side reaches nd.h through the previous patches; the helpers that
wrap its static inlines are in rust/helpers/nvdimm.c.''')
MSG['driver'] = ('nvdimm: add rpmem, a persistent memory block driver in Rust', '''\
rpmem serves the same namespaces as nd_pmem and nd_btt: raw pmem and io
namespaces, fsdax namespaces with their own layout, and sector mode
namespaces through a Block Translation Table in nd_btt's on-media format,
so that disks move between the C and the Rust drivers. Its disks take
REQ_NOWAIT bios and give DAX to raw namespaces too (struct pages in
RAM, module parameter raw_dax). The driver is safe Rust: every unsafe
operation is in the abstractions of the previous patches.

It declares no device aliases: a namespace is bound to it on purpose,
with the nd bus's bind and unbind files.

KUnit suites (NVDIMM_RPMEM_KUNIT_TEST, run when rpmem is loaded, as
nova-core's are) test what it computes without a device: the BTT info
block (a known checksum, every flipped bit refused), flog slots and map
entries, the arena layout against nd_btt's figures, the sector
conversions and the bad sector ranges DAX reports.''')
MSG['docs'] = ('Documentation: nvdimm: add rpmem', '''\
Describe rpmem in the driver API book beside nd_pmem's and the BTT's
documents: binding, the data path, DAX, teardown, sector mode, the
persistence and failure model, and the layering between the driver and
its abstractions.''')

MAINTAINERS_TITLE = 'RPMEM PERSISTENT MEMORY BLOCK DRIVER [RUST]'


def maintainers(text, files, ident):
    """MAINTAINERS with rpmem's entry, its F: lines for files."""
    entry = [MAINTAINERS_TITLE, f'M:\t{ident}', 'L:\tnvdimm@lists.linux.dev',
             'L:\trust-for-linux@vger.kernel.org', 'S:\tMaintained']
    entry += ['F:\t' + f for f in sorted(files)]
    lines = text.split('\n')
    first = next(j for j, ln in enumerate(lines) if ln.startswith('3C59X NETWORK DRIVER'))
    end = lines.index('THE REST')
    titles = [j for j in range(first, end) if lines[j] and not lines[j - 1]]
    # Sections are sorted by title, mostly: the entry goes between two of
    # its letter that are in order around it.
    t = MAINTAINERS_TITLE
    i = next(b for a, b in zip(titles, titles[1:])
             if lines[a].upper() < t < lines[b].upper() and lines[a][0] == lines[b][0] == t[0])
    return '\n'.join(lines[:i] + entry + [''] + lines[i:])


def main():
    ident = git('var', 'GIT_AUTHOR_IDENT').rsplit(' ', 2)[0]
    tree = {}       # path -> new text, cumulative
    maint_files = []
    patches = []    # (key, {path: text})

    def kfile(path):
        return tree[path] if path in tree else base_file(path)

    def step(key, files):
        tree.update(files)
        patches.append((key, dict(files)))

    bh = 'rust/bindings/bindings_helper.h'
    files = {}
    text = must_replace(kfile(bh), '#include <../../drivers/base/base.h>\n',
                        '#include <../../drivers/base/base.h>\n\n'
                        '/*\n * The nd bus abstractions need libnvdimm\'s namespace driver'
                        ' interface.\n */\n#if IS_ENABLED(CONFIG_LIBNVDIMM)\n'
                        '#include "../../drivers/nvdimm/nd.h"\n'
                        '#include "../../drivers/nvdimm/pfn.h"\n#endif\n')
    files[bh] = text
    step('nd_h', files)

    helpers = shim_functions()
    consts = const_helpers()
    for key in ABSTRACTIONS:
        files = {}
        for src in KERNEL_FILES[key]:
            dst = src.replace('rust/ext/', 'rust/kernel/')
            files[dst] = rustfmt(to_kernel(src))
        for src in KERNEL_FILES[key]:
            dst = src.replace('rust/ext/', 'rust/kernel/')
            if src.startswith('rust/ext/nvdimm/'):
                dst = 'rust/kernel/nvdimm/'
            if dst not in maint_files:
                maint_files.append(dst)
        for path, name, cfg in MODS[key]:
            files[path] = add_mod(files.get(path, kfile(path)), name, cfg)
        text = files.get(bh, kfile(bh))
        for inc in BINDINGS_INCLUDES.get(key, []):
            text = insert_sorted(text, f'#include {inc}', r'#include <linux/')
        # After the block features the kernel binds already, in the order
        # of rpmem's bindings_helper.h.
        for ctype, name, value in consts:
            if next(p for pre, p in CONST_PATCH if name.startswith(pre)) == key:
                lines = text.split('\n')
                last = max(i for i, ln in enumerate(lines) if re.match(
                    r'const \w+ RUST_CONST_HELPER_(BLK_|REQ_|ARCH_FLUSH|MEMREMAP_|ND_)', ln))
                lines.insert(last + 1, f'const {ctype} RUST_CONST_HELPER_{name} = {value};')
                text = '\n'.join(lines)
        if text != kfile(bh):
            files[bh] = text
        for where, funcs in helpers.items():
            mine = [f for f in funcs if any(
                HELPERS[n][1] == where and f'rust_helper_{HELPERS[n][0]}(' in f and
                helper_patch(n) == key for n in HELPERS)]
            if not mine:
                continue
            path = 'rust/helpers/' + where
            try:
                text = files.get(path, kfile(path))
            except subprocess.CalledProcessError:
                text = '// SPDX-License-Identifier: GPL-2.0\n\n' + ''.join(
                    f'#include {inc}\n' for inc in HELPER_INCLUDES[where])
                hc = 'rust/helpers/helpers.c'
                files[hc] = insert_sorted(files.get(hc, kfile(hc)), f'#include "{where}"',
                                          r'#include "[a-z]')
            text = text.rstrip('\n') + '\n\n' + '\n'.join(mine)
            files[path] = text
        files['MAINTAINERS'] = maintainers(base_file('MAINTAINERS'),
                                           maint_files + helper_files(key), ident)
        step(key, files)

    # The driver.
    files = {}
    pmem = os.path.join(TOP, 'rust/pmem')
    for dirpath, _, fnames in os.walk(pmem):
        for fn in fnames:
            if fn.endswith('.rs'):
                rel = os.path.relpath(os.path.join(dirpath, fn), TOP)
                files['drivers/nvdimm/rpmem/' + rel[len('rust/pmem/'):]] = rustfmt(to_driver(rel))
    files['drivers/nvdimm/rpmem/rpmem.rs'] = rustfmt(driver_root())
    files['drivers/nvdimm/rpmem/kunit.rs'] = rustfmt(driver_kunit())
    files['drivers/nvdimm/rpmem/Makefile'] = (
        '# SPDX-License-Identifier: GPL-2.0\n\nobj-$(CONFIG_NVDIMM_RPMEM) += rpmem.o\n')
    mk = 'drivers/nvdimm/Makefile'
    files[mk] = must_replace(kfile(mk), 'obj-$(CONFIG_ND_BTT) += nd_btt.o\n',
                             'obj-$(CONFIG_ND_BTT) += nd_btt.o\n'
                             'obj-$(CONFIG_NVDIMM_RPMEM) += rpmem/\n')
    kc = 'drivers/nvdimm/Kconfig'
    files[kc] = must_replace(kfile(kc), '\nconfig ND_CLAIM\n',
                             '\n' + KCONFIG + '\n' + KCONFIG_KUNIT + '\nconfig ND_CLAIM\n')
    maint_files.append('drivers/nvdimm/rpmem/')
    files['MAINTAINERS'] = maintainers(base_file('MAINTAINERS'),
                                       maint_files + helper_files('driver'), ident)
    step('driver', files)

    files = {}
    doc = in_tree_doc(read('Documentation/rpmem.rst'))
    files['Documentation/driver-api/nvdimm/rpmem.rst'] = doc
    idx = 'Documentation/driver-api/nvdimm/index.rst'
    files[idx] = must_replace(kfile(idx), '   btt\n', '   btt\n   rpmem\n')
    maint_files.append('Documentation/driver-api/nvdimm/rpmem.rst')
    files['MAINTAINERS'] = maintainers(base_file('MAINTAINERS'),
                                       maint_files + helper_files('docs'), ident)
    step('docs', files)

    commit(patches)


KCONFIG = '''config NVDIMM_RPMEM
	tristate "PMEM: Persistent memory block device driver in Rust"
	depends on RUST && LIBNVDIMM=y && DAX=y && ZONE_DEVICE
	help
	  rpmem serves persistent memory namespaces as block devices,
	  like BLK_DEV_PMEM, with DAX, and sector mode namespaces
	  through a Block Translation Table in the format of ND_BTT.
	  It is written in Rust. Namespaces are bound to it with the nd
	  bus's bind file: it does not take them by default.

	  Say N unless you want to try the Rust driver.
'''


# The suites' module in the driver's crate root.
KUNIT_MOD = '''
// KUnit suites: `#[kunit_tests]` generates the unsafe glue KUnit needs.
#[cfg(CONFIG_NVDIMM_RPMEM_KUNIT_TEST)]
mod kunit;
'''

KCONFIG_KUNIT = '''config NVDIMM_RPMEM_KUNIT_TEST
	bool "KUnit tests for rpmem" if !KUNIT_ALL_TESTS
	depends on NVDIMM_RPMEM && KUNIT=y
	default KUNIT_ALL_TESTS
	help
	  KUnit suites of rpmem's on-media formats and arithmetic: the
	  BTT info block, flog, map entries and arena layout, bad sector
	  ranges of DAX and sector conversions. KUnit runs them when
	  rpmem is loaded.

	  If unsure, say N.
'''


def helper_patch(name):
    """The patch that adds helper name: the first whose sources call it."""
    for key in ABSTRACTIONS:
        if any(f'rpmem_{name}(' in read(src) for src in KERNEL_FILES[key]):
            return key
    return 'nvdimm'


def helper_files(upto):
    order = ABSTRACTIONS + ['driver', 'docs']
    out = set()
    for name, (_, where) in HELPERS.items():
        if where == 'nvdimm.c' and order.index(helper_patch(name)) <= order.index(upto):
            out.add('rust/helpers/nvdimm.c')
    return sorted(out)


def commit(patches):
    env = dict(os.environ, GIT_DIR=GIT_DIR, GIT_INDEX_FILE=os.path.join(OUT, '.index'))

    def run(*args, stdin=None):
        return subprocess.run(['git'] + list(args), input=stdin, env=env, check=True,
                              capture_output=True, text=True).stdout.strip()
    run('read-tree', BASE)
    head = BASE
    for key, files in patches:
        for path, text in files.items():
            blob = run('hash-object', '-w', '--stdin', stdin=text)
            run('update-index', '--add', '--cacheinfo', f'100644,{blob},{path}')
        tree = run('write-tree')
        subject, body = MSG[key]
        ident = run('var', 'GIT_AUTHOR_IDENT').rsplit(' ', 2)[0]
        msg = f'{subject}\n\n{body}\n\nSigned-off-by: {ident}\n'
        head = run('commit-tree', tree, '-p', head, stdin=msg)
    os.remove(os.path.join(OUT, '.index'))
    print(head)


COVER_SUBJECT = 'rpmem: a persistent memory block driver in Rust, and its abstractions'

COVER = '''\
This series adds rpmem, a libnvdimm namespace driver written in Rust that
serves persistent memory (NFIT NVDIMMs, memmap= regions, virtio-pmem, CXL)
as block devices, like nd_pmem and nd_btt, and the Rust abstractions it is
the first user of: bios and bio-based disks, DAX devices, device page
maps, the bad block list, sysfs attribute groups and the nd bus. Upstream
Rust block support is blk-mq only; nothing here exists in Rust yet.

The driver is safe Rust (#[forbid(unsafe_code)] on each of its modules):
every unsafe operation is in the abstractions, each with its SAFETY
argument. It reads and writes nd_pmem's fsdax layout and nd_btt's on-media
format, so namespaces move between the C and the Rust drivers, gives raw
namespaces DAX with struct pages in RAM, and takes REQ_NOWAIT bios.

Patch 1 is the one C change: libnvdimm's namespace driver interface is in
the private drivers/nvdimm/nd.h, which kernel::bindings cannot see.
It includes nd.h (and pfn.h) in rust/bindings/bindings_helper.h, as is
done for drivers/base/base.h: the smallest change that works. Moving that
interface to include/linux/nd.h would be cleaner and is the libnvdimm
maintainers' call; the Rust side does not change either way.

Patches 2-8 add the abstractions, each with the C helpers it needs in
rust/helpers/ and a line of the MAINTAINERS entry, patch 9 the driver in
drivers/nvdimm/rpmem/ (NVDIMM_RPMEM, off by default, no device aliases),
with its KUnit tests, patch 10 its documentation. kernel::nvdimm and kernel::dax are built only
when LIBNVDIMM and DAX are built in (the kernel crate is), so is the
driver.

This series is generated from the out-of-tree module's own sources
(tools/series.sh of rpmem), where it is developed and tested.

Performance
===========

fio and a page fault helper in a QEMU guest (TCG, instruction-counting
clock, so the figures measure each driver's work), rpmem against nd_pmem
and brd on equal namespaces, 5 repetitions interleaved:

%s
Testing
=======

Out of tree, on Linux 7.3.4 in QEMU, each selftest (KTAP) in fresh
guests, any oops, WARNING, lockdep, KASAN or UBSAN report failing it:

%s
In-tree (make check-series of rpmem): each patch builds with CLIPPY=1
and CONFIG_WERROR and with RUST_KERNEL_DOCTESTS (each abstraction's
examples name only what its patch and the earlier ones add),
rustfmtcheck and rustdoc are clean, and a kernel of the whole series
boots with rpmem built as a module and passes the selftests above
(all but series_check, a host check) with the in-tree rpmem.ko, its
KUnit suites and the abstractions' doctests included.
'''


def first_sentence(text):
    """text up to its first '.' or ':' that ends a clause (not one
    inside parentheses)."""
    depth = 0
    for i, c in enumerate(text):
        depth += (c == '(') - (c == ')')
        if c in '.:' and depth == 0 and (i + 1 == len(text) or text[i + 1] == ' '):
            return text[:i]
    return text


def test_summary():
    """One line per selftest: its name and the first sentence saying what
    it checks, from the script's own header."""
    out = []
    for line in read('selftests/vm-settings').split('\n'):
        if not re.match(r'[a-z]', line):
            continue
        name = line.split()[0]
        path = os.path.join(TOP, 'selftests', name + '.sh')
        if not os.path.exists(path):
            continue
        head = []
        for ln in read('selftests/' + name + '.sh').split('\n')[3:]:
            if not ln.startswith('#') or ln == '#':
                break
            head.append(ln[2:])
        first = first_sentence(' '.join(head))
        out.append(textwrap.fill(f'{name}: {first}', 72, initial_indent='- ',
                                 subsequent_indent='  '))
    return '\n'.join(out) + '\n'


def cover(path):
    with open(path) as f:
        text = f.read()
    bench = read('Documentation/bench/report.txt')
    text = text.replace('*** SUBJECT HERE ***', COVER_SUBJECT)
    text = text.replace('*** BLURB HERE ***', COVER % (bench, test_summary()))
    with open(path, 'w') as f:
        f.write(text)


# --- the examples ------------------------------------------------------------

def ext_file(path):
    """The file of rust/ext/ that defines path (a list of names after
    `crate::ext::`, or after `kernel::`), or None."""
    for n in range(len(path), 0, -1):
        name = 'rust/ext/' + '/'.join(path[:n]) + '.rs'
        if os.path.exists(os.path.join(TOP, name)):
            return name
    return None


def example_paths(code):
    """The paths an example names that may be rust/ext/'s: those of its
    use items and the others written out, as lists of names after
    `crate::ext::` ('ext') or after `kernel::` ('kernel')."""
    out = []
    uses = r'(?<![\w:])use\s+((?:crate::ext|ext|kernel)::[^;]*);'
    for tree in re.findall(uses, code, re.S):
        out += parse_use(tree)
    rest = re.sub(uses, '', code, flags=re.S)
    for path in re.findall(r'(?<![\w:])((?:crate::ext|ext|kernel)(?:::[A-Za-z_]\w*)+)', rest):
        out.append(path.split('::'))
    paths = []
    for p in out:
        p = [n.split(' as ')[0] for n in p if n != 'self']
        if p[:2] == ['crate', 'ext']:
            paths.append(('ext', p[2:]))
        elif p[0] in ('ext', 'kernel'):
            paths.append((p[0], p[1:]))
    return paths


def examples_order():
    """Checks that every example of the abstractions (tools/doctests.py
    extracts them as rustdoc does) names only items of its own patch and
    of earlier ones: in-tree the examples are the kernel crate's doctests
    (RUST_KERNEL_DOCTESTS), built with each patch. Exits 1 naming each
    example that names a later patch's item, or an unknown module of
    rust/ext/."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import doctests
    patch_of = {src: i for i, key in enumerate(ABSTRACTIONS) for src in KERNEL_FILES[key]}
    bad, count = [], 0
    for dirpath, _, fnames in sorted(os.walk(os.path.join(TOP, 'rust/ext'))):
        for fn in sorted(fnames):
            src = os.path.relpath(os.path.join(dirpath, fn), TOP)
            if fn.endswith('.rs') and src not in patch_of:
                bad.append(f'{src}: in no patch of KERNEL_FILES')
    for src, n in sorted(patch_of.items(), key=lambda kv: (kv[1], kv[0])):
        for line, info, body in doctests.examples(os.path.join(TOP, src), src):
            if info.replace(' ', '') not in doctests.RUN | doctests.COMPILE_ONLY:
                continue
            count += 1
            for root, path in example_paths('\n'.join(body)):
                dep = ext_file(path)
                name = '::'.join(['crate::ext' if root == 'ext' else root] + path)
                if dep is None:
                    if root == 'ext':
                        bad.append(f'{src}:{line}: {name}: not in rust/ext/')
                elif patch_of[dep] > n:
                    bad.append(f'{src}:{line}: {name} is patch {ABSTRACTIONS[patch_of[dep]]}\'s '
                               f'({dep}), after {ABSTRACTIONS[n]}')
    for b in dict.fromkeys(bad):
        print(b)
    if bad or not count:
        sys.exit(1)
    print(f'{count} examples, each naming only items of its own patch and earlier ones')


if __name__ == '__main__':
    if sys.argv[1] == '--cover':
        cover(sys.argv[3])
    elif sys.argv[1] == '--examples':
        examples_order()
    elif sys.argv[1] == '--doc':
        sys.stdout.write(in_tree_doc(read('Documentation/rpmem.rst')))
    else:
        main()

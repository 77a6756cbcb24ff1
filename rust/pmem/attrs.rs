// SPDX-License-Identifier: GPL-2.0

//! The sysfs attributes of an rpmem disk, in `/sys/block/rpmemX/dax/`:
//!
//! - `write_cache`: whether filesystems write back CPU caches on `fsync`
//!   (as nd_pmem's file of the same name); writable: `1`, `y`, `on`, ... or `0`,
//!   `n`, `off`, ..., whole words only.
//! - `memmap`: where the struct pages of the disk live: `ram`, `device`, or
//!   `none` (no DAX).
//! - `memmap_bytes`: the RAM those struct pages take.

use crate::{
    ext::block::bio_disk::BioDisk,
    ext::mm::pagemap::Memmap,
    ext::sysfs::{AttrGroup, AttrGroups, AttrList, Attribute, DevAttr, Groups},
    pmem::disk::PmemDisk,
};
use kernel::fmt;
use kernel::{
    error::code::{EINVAL, EOPNOTSUPP},
    prelude::*,
    str::CStr,
};

struct WriteCache;

impl Attribute<PmemDisk> for WriteCache {
    const NAME: &'static CStr = c"write_cache";
    const WRITABLE: bool = true;

    fn show(pmem: &PmemDisk, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let on = pmem.dax().is_some_and(|dax| dax.write_cache());
        write!(f, "{}", u8::from(on))
    }

    fn store(pmem: &PmemDisk, input: &[u8]) -> Result {
        let dax = pmem.dax().ok_or(EOPNOTSUPP)?;
        dax.set_write_cache(parse_bool(input)?);
        Ok(())
    }
}

/// The words `kstrtobool()` knows for true, matched in any case.
const TRUE_WORDS: [&[u8]; 8] = [b"1", b"y", b"yes", b"t", b"true", b"on", b"e", b"enable"];
/// The words `kstrtobool()` knows for false, matched in any case.
const FALSE_WORDS: [&[u8]; 8] = [b"0", b"n", b"no", b"f", b"false", b"off", b"d", b"disable"];

/// `input` (sysfs input: one trailing newline allowed) as a boolean, if it
/// is one of the words `kstrtobool()` knows, whole. nd_pmem's
/// `kstrtobool()` decides on the first one or two bytes and takes the rest
/// of any string (`10`, `yjunk`, `1 2`, `y\0junk`) silently; rpmem refuses
/// those with `EINVAL`, and so leaves the value alone.
fn parse_bool(input: &[u8]) -> Result<bool> {
    let word = input.strip_suffix(b"\n").unwrap_or(input);
    let is = |words: &[&[u8]]| words.iter().any(|w| word.eq_ignore_ascii_case(w));
    if is(&TRUE_WORDS) {
        Ok(true)
    } else if is(&FALSE_WORDS) {
        Ok(false)
    } else {
        Err(EINVAL)
    }
}

struct MemmapLocation;

impl Attribute<PmemDisk> for MemmapLocation {
    const NAME: &'static CStr = c"memmap";

    fn show(pmem: &PmemDisk, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match pmem.pmem().mapping().pages().map(|p| p.memmap()) {
            Some(Memmap::Ram) => "ram",
            Some(Memmap::Device) => "device",
            None => "none",
        })
    }
}

struct MemmapBytes;

impl Attribute<PmemDisk> for MemmapBytes {
    const NAME: &'static CStr = c"memmap_bytes";

    fn show(pmem: &PmemDisk, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = pmem
            .pmem()
            .mapping()
            .pages()
            .map_or(0, |p| p.memmap_ram_bytes());
        write!(f, "{bytes}")
    }
}

/// An rpmem disk, the owner of the attributes.
type Disk = BioDisk<PmemDisk>;

static WRITE_CACHE: DevAttr<Disk> = DevAttr::new::<WriteCache>();
static MEMMAP: DevAttr<Disk> = DevAttr::new::<MemmapLocation>();
static MEMMAP_BYTES: DevAttr<Disk> = DevAttr::new::<MemmapBytes>();
static DAX_ATTRS: AttrList<Disk, 3> = AttrList::new([&WRITE_CACHE, &MEMMAP, &MEMMAP_BYTES]);
static DAX: AttrGroup<Disk> = AttrGroup::new(c"dax", &DAX_ATTRS);
static GROUPS: AttrGroups<Disk, 1> = AttrGroups::new([&DAX]);

/// The attribute groups of an rpmem disk.
pub(crate) fn groups() -> Groups<Disk> {
    GROUPS.get()
}

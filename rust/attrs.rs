// SPDX-License-Identifier: GPL-2.0

//! The sysfs attributes of an rpmem disk, in `/sys/block/rpmemX/dax/`:
//!
//! - `write_cache`: whether filesystems write back CPU caches on `fsync`
//!   (as nd_pmem's file of the same name); writable, `0` or `1`.
//! - `memmap`: where the struct pages of the disk live: `ram`, `device`, or
//!   `none` (no DAX).
//! - `memmap_bytes`: the RAM those struct pages take.

use crate::{
    pagemap::Memmap,
    pmem::Pmem,
    sysfs::{AttrGroup, AttrGroups, AttrList, Attribute, DiskAttr, Groups},
};
use kernel::fmt;
use kernel::{error::code::EOPNOTSUPP, prelude::*, str::CStr};

struct WriteCache;

impl Attribute<Pmem> for WriteCache {
    const NAME: &'static CStr = c"write_cache";
    const WRITABLE: bool = true;

    fn show(pmem: &Pmem, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let on = pmem.dax().is_some_and(|dax| dax.write_cache());
        write!(f, "{}", u8::from(on))
    }

    fn store(pmem: &Pmem, input: &[u8]) -> Result {
        let dax = pmem.dax().ok_or(EOPNOTSUPP)?;
        dax.set_write_cache(kernel::str::kstrtobool_bytes(input)?);
        Ok(())
    }
}

struct MemmapLocation;

impl Attribute<Pmem> for MemmapLocation {
    const NAME: &'static CStr = c"memmap";

    fn show(pmem: &Pmem, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match pmem.mapping().pages().map(|p| p.memmap()) {
            Some(Memmap::Ram) => "ram",
            Some(Memmap::Device) => "device",
            None => "none",
        })
    }
}

struct MemmapBytes;

impl Attribute<Pmem> for MemmapBytes {
    const NAME: &'static CStr = c"memmap_bytes";

    fn show(pmem: &Pmem, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = pmem.mapping().pages().map_or(0, |p| p.memmap_ram_bytes());
        write!(f, "{bytes}")
    }
}

static WRITE_CACHE: DiskAttr<Pmem> = DiskAttr::new::<WriteCache>();
static MEMMAP: DiskAttr<Pmem> = DiskAttr::new::<MemmapLocation>();
static MEMMAP_BYTES: DiskAttr<Pmem> = DiskAttr::new::<MemmapBytes>();
static DAX_ATTRS: AttrList<Pmem, 3> = AttrList::new([&WRITE_CACHE, &MEMMAP, &MEMMAP_BYTES]);
static DAX: AttrGroup<Pmem> = AttrGroup::new(c"dax", &DAX_ATTRS);
static GROUPS: AttrGroups<Pmem, 1> = AttrGroups::new([&DAX]);

/// The attribute groups of an rpmem disk.
pub(crate) fn groups() -> Groups<Pmem> {
    GROUPS.get()
}

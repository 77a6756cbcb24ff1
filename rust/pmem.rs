// SPDX-License-Identifier: GPL-2.0

//! The data path: bios in, persistent copies out.
//!
//! Mirrors `pmem_submit_bio` of `drivers/nvdimm/pmem.c`: a `REQ_PREFLUSH`
//! flushes the region first, each segment is copied with non-temporal
//! stores (writes) or machine-check-safe loads (reads), known bad sectors
//! fail reads and are cleared by writes, and `REQ_FUA` flushes again once the
//! data is in place.

use crate::{
    badblocks::Badblocks,
    bio::{Bio, Op, Segment, Status},
    gendisk,
    mapping::Mapping,
    nd::NdDevice,
    region::{Flushed, Region},
};
use kernel::{block::SECTOR_SHIFT, device::Device, prelude::*, sync::aref::ARef};

/// One namespace served as a disk.
pub(crate) struct Pmem {
    /// The namespace device, for poison clearing.
    dev: ARef<Device>,
    /// Where the namespace's durability is decided.
    region: Region,
    /// Physical address of the first byte.
    phys: u64,
    /// The whole namespace, mapped.
    mapping: Mapping,
    /// Known media errors, in disk sectors.
    bb: Badblocks,
}

impl Pmem {
    /// State for serving `mapping` (at physical `phys`) of `dev`.
    pub(crate) fn new(dev: &NdDevice, phys: u64, mapping: Mapping, bb: Badblocks) -> Self {
        Self {
            dev: dev.dev().into(),
            region: dev.region(),
            phys,
            mapping,
            bb,
        }
    }

    /// Re-reads the region's media errors into the bad sector list.
    pub(crate) fn populate_badblocks(&self) {
        let end = self.phys + self.mapping.size() - 1;
        self.region.populate_badblocks(&self.bb, self.phys, end);
    }

    fn read(&self, seg: &Segment<'_>) -> Result<(), Status> {
        if self.bb.is_bad(seg.sector(), seg.len()) {
            return Err(Status::IOERR);
        }
        let offset = seg.sector() << SECTOR_SHIFT;
        self.mapping.read(offset, &seg.map()).map_err(Status::from)
    }

    fn write(&self, seg: &Segment<'_>) -> Result<(), Status> {
        let offset = seg.sector() << SECTOR_SHIFT;
        if self.bb.is_bad(seg.sector(), seg.len()) {
            self.clear_poison(offset, seg.len())?;
        }
        self.mapping.write(offset, &seg.map()).map_err(Status::from)
    }

    /// Clears media errors under `len` bytes at `offset` before they are
    /// overwritten; fails unless all of them are gone.
    fn clear_poison(&self, offset: u64, len: u32) -> Result<(), Status> {
        let cleared = crate::nd::clear_poison(&self.dev, self.phys + offset, len)
            .map_err(|_| Status::IOERR)?;
        if cleared > 0 {
            self.mapping
                .invalidate(offset, cleared as usize)
                .map_err(Status::from)?;
            self.bb
                .clear(offset >> SECTOR_SHIFT, cleared >> SECTOR_SHIFT);
        }
        if cleared < u64::from(len) {
            return Err(Status::IOERR);
        }
        Ok(())
    }

    fn transfer(&self, bio: &mut Bio<'_>) {
        let write = bio.op() == Op::Write;
        let status = bio.segments().try_for_each(|seg| {
            if write {
                self.write(&seg)
            } else {
                self.read(&seg)
            }
        });
        if let Err(status) = status {
            bio.fail(status);
        }
    }
}

impl gendisk::Operations for Pmem {
    fn submit_bio(this: &Self, mut bio: Bio<'_>) {
        if bio.op() == Op::Other {
            return bio.fail(Status::NOTSUPP);
        }
        if bio.is_preflush() {
            if let Err(e) = this.region.flush(None) {
                return bio.fail(e.into());
            }
        }
        if bio.size() != 0 {
            bio.accounted(|bio| this.transfer(bio));
        }
        if bio.is_fua() && !bio.is_failed() {
            match this.region.flush(Some(&bio)) {
                Ok(Flushed::Async) => bio.hand_over(),
                Ok(Flushed::Done) => (),
                Err(e) => bio.fail(e.into()),
            }
        }
    }

    fn badblocks(this: &Self) -> Option<&Badblocks> {
        Some(&this.bb)
    }
}

// SPDX-License-Identifier: GPL-2.0

//! The namespace under a BTT, as its info blocks, map, flog and data blocks
//! are read and written: known bad sectors fail, reads are
//! machine-check-safe copies, writes non-temporal stores each made durable
//! by a region flush before the next one starts (what `nsio_rw_bytes`
//! does for nd_btt), which is the order the BTT's atomicity rests on.

use crate::ext::{
    badblocks::Badblocks,
    block::bio::MappedSegment,
    nvdimm::{mapping::Mapping, region::NdRegion, NdDevice},
};
use kernel::{
    block::SECTOR_SHIFT,
    device::{Core, Device},
    error::code::EIO,
    prelude::*,
    sync::{aref::ARef, Arc},
};

const SECTOR: u64 = 1 << SECTOR_SHIFT;

/// The BTT's part of a namespace, addressed from the BTT's first byte.
pub(crate) struct Media {
    /// The btt device: clearing poison goes through its nd bus.
    dev: ARef<Device>,
    region: ARef<NdRegion>,
    /// The whole namespace.
    mapping: Mapping,
    /// Known bad sectors, counted from the namespace's first byte.
    bb: Arc<Badblocks>,
    /// Where the BTT starts in the namespace.
    base: u64,
}

impl Media {
    /// The bytes of `mapping` (a whole namespace) from `base` on, for the
    /// BTT of `dev`; its bad sectors are loaded into `bb`.
    pub(crate) fn new(
        dev: &NdDevice<Core<'_>>,
        mapping: Mapping,
        bb: Arc<Badblocks>,
        base: u64,
    ) -> Self {
        let media = Self {
            dev: dev.dev().into(),
            region: dev.region().into(),
            mapping,
            bb,
            base,
        };
        media.populate_badblocks();
        media
    }

    /// The btt device, for messages.
    pub(crate) fn dev(&self) -> &Device {
        &self.dev
    }

    /// Bytes available to the BTT.
    pub(crate) fn space(&self) -> u64 {
        self.mapping.size().saturating_sub(self.base)
    }

    /// Re-reads the region's media errors under the namespace.
    pub(crate) fn populate_badblocks(&self) {
        let start = self.mapping.phys();
        let end = start + self.mapping.size() - 1;
        self.region.populate_badblocks(&self.bb, start, end);
    }

    /// Whether any of `len` bytes at `offset` is in a known bad sector.
    #[inline]
    pub(crate) fn is_bad(&self, offset: u64, len: usize) -> bool {
        if self.bb.is_empty() {
            return false;
        }
        let start = self.base + offset;
        let end = start + len as u64;
        let first = start / SECTOR;
        self.bb
            .first_bad(first, end.div_ceil(SECTOR) - first)
            .is_some()
    }

    fn check(&self, offset: u64, len: usize) -> Result {
        if self.is_bad(offset, len) {
            return Err(EIO);
        }
        Ok(())
    }

    /// Makes every write so far durable; may sleep.
    pub(crate) fn flush(&self) -> Result {
        self.region.flush()
    }

    /// Whether [`Self::flush`] may sleep (virtio-pmem's does): then no
    /// write can serve a bio that must not wait.
    pub(crate) fn flush_may_sleep(&self) -> bool {
        self.region.flush_may_sleep()
    }

    /// Reads `buf.len()` bytes at `offset`.
    pub(crate) fn read(&self, offset: u64, buf: &mut [u8]) -> Result {
        self.check(offset, buf.len())?;
        self.mapping.read_bytes(self.base + offset, buf)
    }

    /// Writes `buf` at `offset`, durably: 4 and 8 aligned bytes at once.
    pub(crate) fn write(&self, offset: u64, buf: &[u8]) -> Result {
        self.check(offset, buf.len())?;
        self.mapping.write_bytes(self.base + offset, buf)?;
        self.flush()
    }

    /// Zeroes `len` bytes at `offset`, durably.
    pub(crate) fn zero(&self, offset: u64, len: u64) -> Result {
        let len = usize::try_from(len)?;
        self.check(offset, len)?;
        self.mapping.zero(self.base + offset, len)?;
        self.flush()
    }

    /// Reads `len` bytes at `offset` into the segment at `at`.
    pub(crate) fn read_to(
        &self,
        offset: u64,
        seg: &MappedSegment<'_>,
        at: usize,
        len: usize,
    ) -> Result {
        self.check(offset, len)?;
        self.mapping.read_part(self.base + offset, seg, at, len)
    }

    /// Writes `len` bytes of the segment at `at` to `offset`, durably.
    pub(crate) fn write_from(
        &self,
        offset: u64,
        seg: &MappedSegment<'_>,
        at: usize,
        len: usize,
    ) -> Result {
        self.check(offset, len)?;
        self.mapping.write_part(self.base + offset, seg, at, len)?;
        self.flush()
    }

    /// Zeroes `len` bytes at `offset` (whole sectors), clearing the media
    /// errors under them first: may sleep.
    pub(crate) fn clear(&self, offset: u64, len: u32) -> Result {
        let at = self.base + offset;
        if self.is_bad(offset, len as usize) {
            let cleared = self.mapping.clear_poison(&self.dev, at, len)?;
            if cleared > 0 {
                self.bb.clear(at / SECTOR, cleared / SECTOR);
            }
            if cleared < u64::from(len) {
                return Err(EIO);
            }
        }
        self.mapping.zero(at, len as usize)?;
        self.flush()
    }
}

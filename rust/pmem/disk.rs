// SPDX-License-Identifier: GPL-2.0

//! The data path: bios in, persistent copies out.
//!
//! Mirrors `pmem_submit_bio` of `drivers/nvdimm/pmem.c`: a `REQ_PREFLUSH`
//! flushes the region first, each segment is copied with non-temporal
//! stores (writes) or machine-check-safe loads (reads), known bad sectors
//! fail reads and are cleared by writes, and `REQ_FUA` flushes again once the
//! data is in place. Unlike nd_pmem, an empty `REQ_PREFLUSH` bio is handed
//! to a region with an asynchronous flush, like a `REQ_FUA` one.
//!
//! Also unlike nd_pmem, the disk takes `REQ_NOWAIT` bios (`BLK_FEAT_NOWAIT`,
//! as brd): copies to and from the memory never sleep, so io_uring submits
//! on the caller's own task instead of handing each I/O to a worker. The
//! two places that may sleep send such a bio back with `BLK_STS_AGAIN`, to
//! be submitted again by a task that may wait: a flush on a region whose
//! flush sleeps (virtio-pmem's, a request to the host), and a write over
//! known bad sectors, whose poison is cleared through the nd bus (a
//! firmware call on an NFIT bus) and whose struct pages are made cacheable
//! again.

use crate::{
    ext::badblocks::Badblocks,
    ext::block::bio::{Bio, Op, Segment, Status},
    ext::block::bio_disk,
    ext::dax::{self, Access, Dax, Mode},
    ext::nvdimm::mapping::Mapping,
    ext::nvdimm::region::{Flushed, NdRegion},
    ext::nvdimm::NdDevice,
};
use kernel::{
    block::SECTOR_SHIFT,
    device::{Core, Device},
    error::code::{EHWPOISON, EIO},
    iov::IovIterSource,
    page::{PAGE_SHIFT, PAGE_SIZE},
    prelude::*,
    sync::{aref::ARef, Arc},
};

/// One namespace's memory, as its disk and its DAX device reach it.
pub(crate) struct Pmem {
    /// The namespace device, for poison clearing.
    dev: ARef<Device>,
    /// Where the namespace's durability is decided.
    region: ARef<NdRegion>,
    /// The data area of the namespace, mapped.
    mapping: Mapping,
    /// Known media errors, in disk sectors.
    bb: Arc<Badblocks>,
}

/// The data of an rpmem disk: the memory its bios go to, and the DAX
/// device its attributes show, if it has one.
pub(crate) struct PmemDisk {
    pmem: Arc<Pmem>,
    dax: Option<Arc<Dax>>,
}

impl PmemDisk {
    /// The data of a disk serving `pmem`, with `dax` as its DAX device.
    pub(crate) fn new(pmem: Arc<Pmem>, dax: Option<Arc<Dax>>) -> Result<KBox<Self>> {
        Ok(KBox::new(Self { pmem, dax }, GFP_KERNEL)?)
    }

    /// The memory the disk serves.
    pub(crate) fn pmem(&self) -> &Pmem {
        &self.pmem
    }

    /// The DAX device, if the memory can be accessed directly.
    pub(crate) fn dax(&self) -> Option<&Arc<Dax>> {
        self.dax.as_ref()
    }
}

/// The disk owns its data, boxed; it lends each bio a `&PmemDisk`.
#[vtable]
impl bio_disk::Operations for PmemDisk {
    type QueueData = KBox<Self>;

    fn submit_bio(this: &Self, bio: Bio<'_>) {
        this.pmem.submit_bio(bio);
    }
}

impl Pmem {
    /// State for serving `mapping` of `dev`, whose known media errors go to
    /// `bb`.
    pub(crate) fn new(
        dev: &NdDevice<Core<'_>>,
        mapping: Mapping,
        bb: Arc<Badblocks>,
    ) -> Result<Arc<Self>> {
        let pmem = Self {
            dev: dev.dev().into(),
            region: dev.region().into(),
            mapping,
            bb,
        };
        Ok(Arc::new(pmem, GFP_KERNEL)?)
    }

    /// The mapping of the data area.
    pub(crate) fn mapping(&self) -> &Mapping {
        &self.mapping
    }

    /// Re-reads the region's media errors into the bad sector list.
    pub(crate) fn populate_badblocks(&self) {
        let start = self.mapping.phys();
        let end = start + self.mapping.size() - 1;
        self.region.populate_badblocks(&self.bb, start, end);
        self.bb.notify();
    }

    fn read(&self, seg: &Segment<'_>) -> Result<(), Status> {
        if self.bb.is_bad(seg.sector(), seg.len()) {
            return Err(Status::IOERR);
        }
        let offset = seg.sector() << SECTOR_SHIFT;
        seg.with_mapped(|mapped| self.mapping.read(offset, mapped))
            .map_err(Status::from)
    }

    fn write(&self, seg: &Segment<'_>, nowait: bool) -> Result<(), Status> {
        let offset = seg.sector() << SECTOR_SHIFT;
        if self.bb.is_bad(seg.sector(), seg.len()) {
            // Clearing poison sleeps. The segments before this one are
            // written already, and will be again: as under brd, whose
            // `REQ_NOWAIT` writes stop at the first page it cannot allocate.
            if nowait {
                return Err(Status::AGAIN);
            }
            self.clear_poison(offset, seg.len())?;
        }
        seg.with_mapped(|mapped| self.mapping.write(offset, mapped))
            .map_err(Status::from)
    }

    /// Clears media errors under `len` bytes at `offset` before they are
    /// overwritten; fails unless all of them are gone.
    fn clear_poison(&self, offset: u64, len: u32) -> Result<(), Status> {
        let cleared = self
            .mapping
            .clear_poison(&self.dev, offset, len)
            .map_err(|_| Status::IOERR)?;
        if cleared > 0 {
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
        let nowait = bio.is_nowait();
        // A copy per bio_vec: nothing here depends on a segment's length.
        let status = bio.bvecs().try_for_each(|seg| {
            if write {
                self.write(&seg, nowait)
            } else {
                self.read(&seg)
            }
        });
        if let Err(status) = status {
            bio.fail(status);
        }
    }

    /// Serves `bio` (`pmem_submit_bio`).
    fn submit_bio(&self, mut bio: Bio<'_>) {
        if bio.op() == Op::Other {
            return bio.fail(Status::NOTSUPP);
        }
        // A flush that may sleep is no place for a bio that must not: it
        // goes back whole, before any data is written. (Even an empty
        // flush, which the region completes later: virtio-pmem allocates
        // its work item with GFP_NOIO first.)
        if bio.is_nowait() && (bio.is_preflush() || bio.is_fua()) && self.region.flush_may_sleep() {
            return bio.fail(Status::AGAIN);
        }
        if bio.is_preflush() {
            // An empty flush orders nothing after it: a region with an
            // asynchronous flush (virtio-pmem) completes it once the host
            // answers, instead of the submitter waiting for the host here
            // (nd_pmem waits). A flush before data waits: the data must
            // not be written before earlier writes are durable.
            if bio.size() == 0 {
                return Self::flushed(self.region.flush_bio(bio));
            }
            if let Err(e) = self.region.flush() {
                return bio.fail(e.into());
            }
        }
        if bio.size() != 0 {
            bio.accounted(|bio| self.transfer(bio));
        }
        if bio.is_fua() && !bio.is_failed() {
            Self::flushed(self.region.flush_bio(bio));
        }
    }

    /// Completes a bio after its flush, unless the region took it over.
    fn flushed(flushed: Flushed<'_>) {
        match flushed {
            Flushed::Done(bio) => drop(bio),
            Flushed::Async => (),
            Flushed::Failed(mut bio, e) => bio.fail(e.into()),
        }
    }
}

/// Disk sectors in `pages` pages; none for a negative count, which the
/// dax core may pass.
pub(crate) fn page_sectors(pages: i64) -> u64 {
    (pages.max(0) as u64) << (PAGE_SHIFT - SECTOR_SHIFT as usize)
}

/// The pages a recovery write at the page whose first sector is `sector`
/// may reach when `bad` is the first bad sector `badblocks_check` found
/// for it (`pmem_dax_direct_access`): the bytes before `bad` rounded up to
/// whole pages, at least one. `badblocks_check` gives the start of a bad
/// range that overlaps the page's first sector, which may lie before it:
/// then the page itself is bad, and one page is the answer (C's
/// subtraction wraps there).
pub(crate) fn pages_to_bad(sector: u64, bad: u64) -> u64 {
    let bytes = bad.saturating_sub(sector) << SECTOR_SHIFT;
    bytes.div_ceil(PAGE_SIZE as u64).max(1)
}

#[vtable]
impl dax::Operations for Pmem {
    // Inlined into the dax core's callback, and one `access` on the way
    // of every page fault: a call and a second `access` to check the first
    // page were half of the driver's instructions per fault.
    #[inline]
    fn direct_access(this: &Self, pgoff: u64, pages: i64, mode: Mode) -> Result<Access<'_>> {
        // The pages from `pgoff` to the end; none if `pgoff` is past it,
        // which `access` refuses, as it refuses a mapping without struct
        // pages.
        let left = (this.mapping.size() >> PAGE_SHIFT).saturating_sub(pgoff);
        if left == 0 || this.bb.is_empty() {
            // Known good up to the end.
            return this.mapping.access(pgoff, left);
        }
        // The first page must be there, and have a struct page.
        this.mapping.access(pgoff, 0)?;
        let sector = pgoff << (PAGE_SHIFT - SECTOR_SHIFT as usize);
        let pages = match this.bb.first_bad(sector, page_sectors(pages)) {
            // Known good at least as far as asked.
            None => (pages.max(0) as u64).min(left),
            Some(_) if mode == Mode::Access => return Err(EHWPOISON),
            // Recovery writes go page by page up to and over bad pages.
            Some(bad) => pages_to_bad(sector, bad),
        };
        this.mapping.access(pgoff, pages)
    }

    fn zero_page_range(this: &Self, pgoff: u64, pages: u64) -> Result {
        for page in pgoff..pgoff + pages {
            let offset = page << PAGE_SHIFT;
            if this.bb.is_bad(offset >> SECTOR_SHIFT, PAGE_SIZE as u32) {
                this.clear_poison(offset, PAGE_SIZE as u32)
                    .map_err(|_| EIO)?;
            }
            this.mapping.zero(offset, PAGE_SIZE)?;
        }
        Ok(())
    }

    fn recovery_write(
        this: &Self,
        pgoff: u64,
        offset: usize,
        bytes: usize,
        iter: &mut IovIterSource<'_>,
    ) -> usize {
        let start = (pgoff << PAGE_SHIFT) + offset as u64;
        let len = (offset + bytes).next_multiple_of(PAGE_SIZE);
        let Ok(len32) = u32::try_from(len) else {
            return 0;
        };
        if this
            .bb
            .is_bad(pgoff << (PAGE_SHIFT - SECTOR_SHIFT as usize), len32)
        {
            // Only whole pages can be recovered.
            if offset != 0 || bytes % PAGE_SIZE != 0 || this.clear_poison(start, len32).is_err() {
                return 0;
            }
        }
        this.mapping.write_iter(start, bytes, iter).unwrap_or(0)
    }
}

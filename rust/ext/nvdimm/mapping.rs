// SPDX-License-Identifier: GPL-2.0

//! Persistent memory mapped into the kernel, and the copies that keep data
//! durable on the way in and poison contained on the way out.
//!
//! Writes use non-temporal stores (`memcpy_flushcache`): the data leaves the
//! CPU caches as it is written, so a store fence (`nvdimm_flush`) is all that
//! is left to make it durable. Reads use `copy_mc_to_kernel`, which turns a
//! machine check on poisoned media into a short copy instead of a crash.

use crate::{
    ext::block::bio::MappedSegment, ext::dax::Access, ext::memregion::MemRegion,
    ext::mm::pagemap::PageMap, sys::bindings,
};
use core::ptr::NonNull;
use kernel::{
    device::Device,
    error::code::{EINVAL, EIO, ENOMEM, EOPNOTSUPP},
    iov::IovIterSource,
    page::{PAGE_SHIFT, PAGE_SIZE},
    prelude::*,
    sync::atomic::{Atomic, Relaxed},
};

/// Persistent memory mapped into the kernel: with `memremap` (no struct
/// pages, block I/O only), or in the direct map by a [`PageMap`] (DAX).
///
/// # Examples
///
/// A namespace mapped for block I/O, written and read back, as the BTT's
/// media does (every offset is checked against the mapping: `EINVAL`
/// outside it):
///
/// ```no_run
/// use crate::ext::{nvdimm::mapping::Mapping, nvdimm::Namespace};
///
/// fn round_trip(ns: &Namespace<'_>) -> Result {
///     let mapping = Mapping::new(ns.claim()?)?;
///     mapping.write_bytes(0, b"persistent")?;
///     let mut back = [0u8; 10];
///     mapping.read_bytes(0, &mut back)?; // `EIO` on poison, not a crash.
///     assert_eq!(&back, b"persistent");
///     mapping.zero(0, 4096)?;
///     assert!(mapping.write_bytes(mapping.size(), b"x").is_err());
///     // No struct pages: no DAX.
///     assert!(mapping.pages().is_none() && mapping.access(0, 1).is_err());
///     Ok(())
/// }
/// ```
///
/// # Invariants
///
/// `addr` maps `size` bytes of persistent memory starting at physical
/// address `phys`, unmapped only on drop (or never, once kept). With
/// `Backing::Pages` or `Backing::Kept`, `addr` lies in the range a page
/// map covers, which lives as long as `self` (or for good). While
/// `handed_out` is false, no [`Access`] was made of `self`, so no page of
/// it was handed out, and none is referenced.
pub(crate) struct Mapping {
    addr: NonNull<u8>,
    phys: u64,
    size: u64,
    backing: Backing,
    /// Whether [`Mapping::access`] ever handed out pages: until then no
    /// page can be referenced, and dropping the mapping need not look.
    handed_out: Atomic<bool>,
    /// The claim on the range, released after the mapping is gone (or
    /// never, once kept).
    claim: Option<MemRegion>,
}

/// What maps a [`Mapping`].
enum Backing {
    /// `memremap`: no struct pages.
    Remap,
    /// The direct map, over struct pages.
    Pages(PageMap),
    /// Struct pages kept for good (see [`Mapping::keep`]).
    Kept,
}

// SAFETY: The mapping is plain memory; all access goes through the copy
// helpers, which may run concurrently on any CPU. Ordering between
// overlapping I/O is the submitter's business, as on any block device.
unsafe impl Send for Mapping {}
// SAFETY: See `Send`.
unsafe impl Sync for Mapping {}

/// Zeroes, for zeroing persistent memory with the same copies as a write.
static ZEROES: [u8; PAGE_SIZE] = [0; PAGE_SIZE];

impl Mapping {
    /// Maps the range `claim` holds, without struct pages.
    pub(crate) fn new(claim: MemRegion) -> Result<Self> {
        let (phys, size) = claim.range();
        let len = usize::try_from(size).map_err(|_| EINVAL)?;
        // SAFETY: `memremap` validates the range itself and returns null on
        // failure.
        let addr = unsafe { kernel::bindings::memremap(phys, len, bindings::RPMEM_MEMREMAP_PMEM) };
        let addr = NonNull::new(addr.cast::<u8>()).ok_or(ENOMEM)?;
        // INVARIANT: mapped above.
        Ok(Self {
            addr,
            phys,
            size,
            backing: Backing::Remap,
            handed_out: Atomic::new(false),
            claim: Some(claim),
        })
    }

    /// The part of `pages` from byte `offset` on, which is where the data
    /// starts when the page map also covers metadata. `pages` must lie
    /// inside the range `claim` holds and `offset` inside `pages`, else
    /// `EINVAL`.
    pub(crate) fn with_pages(claim: MemRegion, pages: PageMap, offset: u64) -> Result<Self> {
        if offset >= pages.size() || !claim.contains(pages.start(), pages.size()) {
            return Err(EINVAL);
        }
        // SAFETY: `offset` is within the page map's range (checked above).
        let addr = unsafe { pages.addr().add(offset as usize) };
        // INVARIANT: the direct map covers the page map's range, which is
        // claimed (checked above).
        Ok(Self {
            addr,
            phys: pages.start() + offset,
            size: pages.size() - offset,
            backing: Backing::Pages(pages),
            handed_out: Atomic::new(false),
            claim: Some(claim),
        })
    }

    /// The struct pages behind the mapping, if it has them.
    pub(crate) fn pages(&self) -> Option<&PageMap> {
        match &self.backing {
            Backing::Pages(pages) => Some(pages),
            Backing::Remap | Backing::Kept => None,
        }
    }

    /// How many pages of the mapping are referenced, by user mappings of
    /// a DAX file for one; none without struct pages, and none if no page
    /// was ever handed out: then no struct page is read (reading each one
    /// is most of an unbind that has to).
    pub(crate) fn busy_pages(&self) -> u64 {
        if !self.handed_out.load(Relaxed) {
            return 0;
        }
        self.pages()
            .map_or(0, |pages| pages.busy_pages(self.phys, self.size))
    }

    /// Keeps the struct pages, the mapping and the claim for good, for
    /// processes that still map the pages: nothing waits for their
    /// mappings, and removing the pages under them would crash the kernel
    /// when they go. So do the modules their memory failures reach
    /// ([`PageMap::keep`]).
    fn keep(&mut self) {
        if let Backing::Pages(pages) = core::mem::replace(&mut self.backing, Backing::Kept) {
            pages.keep();
            core::mem::forget(self.claim.take());
        }
    }

    /// Physical address of the first byte.
    pub(crate) fn phys(&self) -> u64 {
        self.phys
    }

    /// Size in bytes.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// The kernel address of `len` bytes at `offset`, if in bounds.
    #[inline]
    fn at(&self, offset: u64, len: usize) -> Result<*mut u8> {
        match offset.checked_add(len as u64) {
            Some(end) if end <= self.size => {
                // SAFETY: `offset` is within the mapping (checked above).
                Ok(unsafe { self.addr.as_ptr().add(offset as usize) })
            }
            _ => Err(EIO),
        }
    }

    /// Copies the segment to `offset` with non-temporal stores.
    #[inline]
    pub(crate) fn write(&self, offset: u64, src: &MappedSegment<'_>) -> Result {
        self.write_part(offset, src, 0, src.len())
    }

    /// Copies from `offset` into the segment, failing with `EIO` instead of
    /// consuming poison.
    #[inline]
    pub(crate) fn read(&self, offset: u64, dst: &MappedSegment<'_>) -> Result {
        self.read_part(offset, dst, 0, dst.len())
    }

    /// Copies `len` bytes at `at` in the segment to `offset`, as
    /// [`Mapping::write`] does.
    #[inline]
    pub(crate) fn write_part(
        &self,
        offset: u64,
        src: &MappedSegment<'_>,
        at: usize,
        len: usize,
    ) -> Result {
        let src = part(src, at, len)?;
        // SAFETY: `src` is valid for reads of `len` bytes (checked by
        // `part`).
        unsafe { self.write_raw(offset, src, len) }
    }

    /// Copies from `offset` into `len` bytes at `at` in the segment, as
    /// [`Mapping::read`] does.
    #[inline]
    pub(crate) fn read_part(
        &self,
        offset: u64,
        dst: &MappedSegment<'_>,
        at: usize,
        len: usize,
    ) -> Result {
        let dst = part(dst, at, len)?;
        // SAFETY: `dst` is valid for writes of `len` bytes (checked by
        // `part`).
        unsafe { self.read_raw(offset, dst, len) }
    }

    /// Copies `src` to `offset` with non-temporal stores: aligned 4 and 8
    /// byte copies are single stores, which a crash cannot tear.
    pub(crate) fn write_bytes(&self, offset: u64, src: &[u8]) -> Result {
        // SAFETY: a slice is valid for reads of its length.
        unsafe { self.write_raw(offset, src.as_ptr(), src.len()) }
    }

    /// Copies from `offset` into `dst`, failing with `EIO` instead of
    /// consuming poison.
    pub(crate) fn read_bytes(&self, offset: u64, dst: &mut [u8]) -> Result {
        // SAFETY: a mutable slice is valid for writes of its length.
        unsafe { self.read_raw(offset, dst.as_mut_ptr(), dst.len()) }
    }

    /// # Safety
    ///
    /// `src` must be valid for reads of `len` bytes outside the mapping.
    #[inline]
    unsafe fn write_raw(&self, offset: u64, src: *const u8, len: usize) -> Result {
        let dst = self.at(offset, len)?;
        // SAFETY: `dst` is valid for `len` bytes (bounds checked), `src` by
        // the caller; kernel memory never overlaps persistent memory.
        unsafe { bindings::rpmem_memcpy_flushcache(dst.cast(), src.cast(), len) };
        Ok(())
    }

    /// # Safety
    ///
    /// `dst` must be valid for writes of `len` bytes outside the mapping.
    #[inline]
    unsafe fn read_raw(&self, offset: u64, dst: *mut u8, len: usize) -> Result {
        let src = self.at(offset, len)?;
        let len32 = u32::try_from(len).map_err(|_| EINVAL)?;
        // SAFETY: as in `write_raw`, with the roles swapped.
        let left = unsafe { kernel::bindings::copy_mc_to_kernel(dst.cast(), src.cast(), len32) };
        if left != 0 {
            return Err(EIO);
        }
        Ok(())
    }

    /// Zeroes `len` bytes at `offset` with non-temporal stores.
    pub(crate) fn zero(&self, offset: u64, len: usize) -> Result {
        let dst = self.at(offset, len)?;
        for done in (0..len).step_by(PAGE_SIZE) {
            let n = (len - done).min(PAGE_SIZE);
            // SAFETY: `dst` is valid for `len` bytes (bounds checked) and
            // `ZEROES` for `n <= PAGE_SIZE`.
            unsafe {
                bindings::rpmem_memcpy_flushcache(dst.add(done).cast(), ZEROES.as_ptr().cast(), n)
            };
        }
        Ok(())
    }

    /// Copies `len` bytes from `iter` to `offset` with non-temporal stores;
    /// returns the bytes copied.
    pub(crate) fn write_iter(
        &self,
        offset: u64,
        len: usize,
        iter: &mut IovIterSource<'_>,
    ) -> Result<usize> {
        let dst = self.at(offset, len)?;
        // SAFETY: `dst` is valid for `len` bytes (bounds checked); `iter` is
        // a live source iterator that may be read (type invariant of
        // `IovIterSource`).
        Ok(unsafe { bindings::_copy_from_iter_flushcache(dst.cast(), len, iter.as_raw()) })
    }

    /// `pages` pages from page `pgoff` of the mapping, for handing out
    /// directly through a DAX device: only where struct pages back them
    /// (else `EOPNOTSUPP`), and only inside the mapping (else `EIO`; the
    /// first page must be there even when `pages` is 0).
    pub(crate) fn access(&self, pgoff: u64, pages: u64) -> Result<Access<'_>> {
        if self.pages().is_none() {
            return Err(EOPNOTSUPP);
        }
        let offset = pgoff.checked_mul(PAGE_SIZE as u64).ok_or(EIO)?;
        let len = pages.max(1).checked_mul(PAGE_SIZE as u64).ok_or(EIO)?;
        let len = usize::try_from(len).map_err(|_| EIO)?;
        let kaddr = self.at(offset, len)?;
        let phys = self.phys + offset;
        if phys % PAGE_SIZE as u64 != 0 {
            return Err(EINVAL);
        }
        let pages = i64::try_from(pages).map_err(|_| EIO)?;
        // Struct pages are only ever referenced once handed out here. The
        // store, once, is seen by `busy_pages` in `drop` at the latest:
        // dropping needs `&mut self`, which no `Access` outlives.
        if !self.handed_out.load(Relaxed) {
            self.handed_out.store(true, Relaxed);
        }
        // INVARIANT: `handed_out` is set before an `Access` exists.
        // SAFETY: `kaddr` maps `phys` (type invariant), page aligned
        // (checked above), and the `pages` pages from there on are inside
        // the mapping (bounds checked by `at`), which has struct pages
        // (checked above) and keeps them, mapped and claimed, as long as
        // `self` (or for good once kept).
        Ok(unsafe { Access::new(kaddr, (phys >> PAGE_SHIFT) as usize, pages) })
    }

    /// Asks the platform to clear the media errors under `len` bytes at
    /// `offset` (inside the mapping, else `EINVAL`), through the nd bus
    /// above `dev`; returns how many bytes were cleared. Their struct
    /// pages, if any, are returned to normal use, and cached copies of them
    /// dropped, so that the next access reads the media.
    pub(crate) fn clear_poison(&self, dev: &Device, offset: u64, len: u32) -> Result<u64> {
        if self.at(offset, len as usize).is_err() {
            return Err(EINVAL);
        }
        let phys = self.phys + offset;
        let cleared = super::clear_poison(dev, phys, len)?.min(len.into());
        if cleared == 0 {
            return Ok(0);
        }
        if let Some(pages) = self.pages() {
            // SAFETY: the platform just cleared the media errors under
            // these bytes.
            unsafe { pages.unpoison(phys, cleared) };
        }
        let addr = self.at(offset, cleared as usize)?;
        // SAFETY: `addr` is valid for `cleared` bytes (bounds checked).
        unsafe { bindings::rpmem_invalidate_pmem(addr.cast(), cleared as usize) };
        Ok(cleared)
    }
}

/// The start of `len` bytes at `at` in `seg`, if they are inside it.
#[inline]
fn part(seg: &MappedSegment<'_>, at: usize, len: usize) -> Result<*mut u8> {
    match at.checked_add(len) {
        // SAFETY: `at` is within the segment (checked), whose bytes are
        // valid while it is mapped (type invariant of `MappedSegment`).
        Some(end) if end <= seg.len() => Ok(unsafe { seg.as_ptr().add(at) }),
        _ => Err(EINVAL),
    }
}

impl Drop for Mapping {
    /// Processes may still map pages of a DAX file after the filesystem
    /// was told the device is going (not every filesystem can unmap them),
    /// and nothing waits for those mappings: removing the struct pages
    /// under them would crash the kernel when they are unmapped. So busy
    /// pages stay, with the mapping and the claim, until reboot; and the
    /// module with them, whose code their memory failures still reach.
    /// Otherwise the pages, the mapping and the claim go now.
    fn drop(&mut self) {
        let busy = self.busy_pages();
        if let Some(pages) = self.pages().filter(|_| busy != 0) {
            pr_warn!(
                "{:#x}+{:#x}: {busy} page(s) still mapped by processes: kept until reboot\n",
                pages.start(),
                pages.size()
            );
            self.keep();
        }
        if let Backing::Remap = self.backing {
            // SAFETY: mapped by `memremap` (type invariant) and no longer
            // used.
            unsafe { kernel::bindings::memunmap(self.addr.as_ptr().cast()) };
        }
        // Struct pages, unless kept, go with `backing`, then the claim.
    }
}

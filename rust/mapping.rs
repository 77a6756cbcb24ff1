// SPDX-License-Identifier: GPL-2.0

//! Persistent memory mapped into the kernel, and the copies that keep data
//! durable on the way in and poison contained on the way out.
//!
//! Writes use non-temporal stores (`memcpy_flushcache`): the data leaves the
//! CPU caches as it is written, so a store fence (`nvdimm_flush`) is all that
//! is left to make it durable. Reads use `copy_mc_to_kernel`, which turns a
//! machine check on poisoned media into a short copy instead of a crash.

use crate::{bindings, bio::MappedSegment};
use core::ptr::NonNull;
use kernel::{
    error::code::{EINVAL, EIO, ENOMEM},
    prelude::*,
};

/// A write-back mapping of a range of persistent memory (`memremap`).
///
/// # Invariants
///
/// `addr` maps `size` bytes of persistent memory, unmapped only on drop.
pub(crate) struct Mapping {
    addr: NonNull<u8>,
    size: u64,
}

// SAFETY: The mapping is plain memory; all access goes through the copy
// helpers, which may run concurrently on any CPU. Ordering between
// overlapping I/O is the submitter's business, as on any block device.
unsafe impl Send for Mapping {}
// SAFETY: See `Send`.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps `size` bytes at physical address `phys`, which the caller has
    /// claimed.
    pub(crate) fn new(phys: u64, size: u64) -> Result<Self> {
        let len = usize::try_from(size).map_err(|_| EINVAL)?;
        // SAFETY: `memremap` validates the range itself and returns null on
        // failure.
        let addr = unsafe { kernel::bindings::memremap(phys, len, bindings::RPMEM_MEMREMAP_PMEM) };
        let addr = NonNull::new(addr.cast::<u8>()).ok_or(ENOMEM)?;
        // INVARIANT: mapped above.
        Ok(Self { addr, size })
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
        let dst = self.at(offset, src.len())?;
        // SAFETY: `dst` is valid for `src.len()` bytes (bounds checked) and
        // `src` for as many (type invariant of `MappedSegment`); a kernel page
        // never overlaps persistent memory.
        unsafe { bindings::rpmem_memcpy_flushcache(dst.cast(), src.as_ptr().cast(), src.len()) };
        Ok(())
    }

    /// Copies from `offset` into the segment, failing with `EIO` instead of
    /// consuming poison.
    #[inline]
    pub(crate) fn read(&self, offset: u64, dst: &MappedSegment<'_>) -> Result {
        let src = self.at(offset, dst.len())?;
        // SAFETY: as in `write`, with the roles swapped.
        let left = unsafe {
            kernel::bindings::copy_mc_to_kernel(dst.as_ptr().cast(), src.cast(), dst.len() as u32)
        };
        if left != 0 {
            return Err(EIO);
        }
        Ok(())
    }

    /// Drops any cached copy of `len` bytes at `offset` after their poison
    /// was cleared, so that the next access reads the media.
    pub(crate) fn invalidate(&self, offset: u64, len: usize) -> Result {
        let addr = self.at(offset, len)?;
        // SAFETY: `addr` is valid for `len` bytes (bounds checked).
        unsafe { bindings::rpmem_invalidate_pmem(addr.cast(), len) };
        Ok(())
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: mapped by `memremap` (type invariant) and no longer used.
        unsafe { kernel::bindings::memunmap(self.addr.as_ptr().cast()) };
    }
}

// SPDX-License-Identifier: GPL-2.0

//! Exclusive claims on ranges of physical address space.
//!
//! C header: [`include/linux/ioport.h`](srctree/include/linux/ioport.h)

use kernel::{
    bindings,
    error::code::EBUSY,
    prelude::*,
    str::{CStr, CString},
};

/// A busy `iomem_resource` range (`request_mem_region`), released on drop.
///
/// # Invariants
///
/// `start..start + size` was claimed by `request_mem_region` and is released
/// only on drop.
pub(crate) struct MemRegion {
    start: u64,
    size: u64,
    /// The claim's name, which the resource points to.
    _name: CString,
}

impl MemRegion {
    /// Claims `size` bytes at physical address `start` under (a copy of)
    /// `name`.
    ///
    /// Fails with `EBUSY` when any part of the range is already claimed.
    ///
    /// # Safety
    ///
    /// The range must be memory that the caller's device owns and that may
    /// be mapped and written once claimed (the resource of a namespace the
    /// caller is bound to): a claim is what the mappings of this crate take
    /// as proof that they may write there.
    pub(crate) unsafe fn request(start: u64, size: u64, name: &CStr) -> Result<Self> {
        let name = CString::try_from(name)?;
        // SAFETY: `name` is a valid C string, kept in `self`, so it outlives
        // the claim (and is forgotten with it).
        let res = unsafe { bindings::request_mem_region(start, size, name.as_char_ptr()) };
        if res.is_null() {
            return Err(EBUSY);
        }
        // INVARIANT: claimed above.
        Ok(Self {
            start,
            size,
            _name: name,
        })
    }

    /// Physical start address and size in bytes.
    pub(crate) fn range(&self) -> (u64, u64) {
        (self.start, self.size)
    }

    /// Whether the `size` bytes at physical address `start` are a
    /// non-empty part of the claim.
    pub(crate) fn contains(&self, start: u64, size: u64) -> bool {
        size != 0
            && start >= self.start
            && start
                .checked_add(size)
                .is_some_and(|end| end <= self.start + self.size)
    }
}

impl Drop for MemRegion {
    fn drop(&mut self) {
        // SAFETY: claimed by `request` (type invariant).
        unsafe { bindings::release_mem_region(self.start, self.size) };
    }
}

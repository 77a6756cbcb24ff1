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
    pub(crate) fn request(start: u64, size: u64, name: &CStr) -> Result<Self> {
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
}

impl Drop for MemRegion {
    fn drop(&mut self) {
        // SAFETY: claimed by `request` (type invariant).
        unsafe { bindings::release_mem_region(self.start, self.size) };
    }
}

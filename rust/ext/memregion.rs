// SPDX-License-Identifier: GPL-2.0

//! Exclusive claims on ranges of physical address space.
//!
//! C header: [`include/linux/ioport.h`](srctree/include/linux/ioport.h)

use kernel::{
    bindings,
    error::code::EBUSY,
    io::resource::{Flags, Region, Resource},
    prelude::*,
    str::{CStr, CString},
};

/// A busy `iomem_resource` range (`request_mem_region`), released on drop:
/// a [`Region`] of `rust/kernel/`, which only this crate's code that owns
/// the range may make, since the mappings of this crate take it as proof
/// that they may write there.
///
/// # Examples
///
/// A bound driver claims its namespace's range through `Namespace::claim`
/// of `ext::nvdimm`, the safe way to one (`EBUSY` if any of it is claimed
/// already). What a claim covers:
///
/// ```no_run
/// use crate::ext::memregion::MemRegion;
///
/// fn bounds(claim: &MemRegion) {
///     let (start, size) = claim.range();
///     assert!(claim.contains(start, size));
///     assert!(!claim.contains(start, size + 1));
///     assert!(!claim.contains(start, 0));
/// }
/// ```
///
/// # Invariants
///
/// `region` is a part of `iomem_resource` that `request` claimed for memory
/// the caller's device owns.
pub(crate) struct MemRegion {
    region: Region,
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
        // SAFETY: `iomem_resource` is the root of the physical address
        // space, a static valid for the kernel's life, and `Resource` is a
        // `#[repr(transparent)]` wrapper of `struct resource`: the cast is
        // what `Resource::from_raw` (crate-private) does. Its fields are
        // only changed under the resource lock, which `request_region`
        // takes.
        let iomem = unsafe { &*core::ptr::addr_of!(bindings::iomem_resource).cast::<Resource>() };
        // Under `iomem_resource` the new region has IORESOURCE_MEM whatever
        // the flags say, and is released with `release_mem_region`.
        let region = iomem
            .request_region(start, size, CString::try_from(name)?, Flags::IORESOURCE_MEM)
            .ok_or(EBUSY)?;
        // INVARIANT: claimed above, by the safety requirements memory the
        // caller's device owns.
        Ok(Self { region })
    }

    /// Physical start address and size in bytes.
    pub(crate) fn range(&self) -> (u64, u64) {
        (self.region.start(), self.region.size())
    }

    /// Whether the `size` bytes at physical address `start` are a
    /// non-empty part of the claim.
    pub(crate) fn contains(&self, start: u64, size: u64) -> bool {
        let (first, len) = self.range();
        size != 0
            && start >= first
            && start
                .checked_add(size)
                .is_some_and(|end| end <= first + len)
    }
}

// SPDX-License-Identifier: GPL-2.0

//! Lists of known bad sectors.
//!
//! C header: [`include/linux/badblocks.h`](srctree/include/linux/badblocks.h)

use crate::sys::bindings;
use core::ptr;
use kernel::{
    bindings as kb,
    prelude::*,
    sync::atomic::{Acquire, Atomic, Full},
    types::Opaque,
};

/// A `struct badblocks`, initialised and enabled.
///
/// # Examples
///
/// A disk's list, as its data path asks it (the KUnit build can mark
/// sectors bad; the driver learns them from its region):
///
/// ```
/// use crate::ext::badblocks::Badblocks;
///
/// let bb = Badblocks::new()?;
/// assert!(bb.is_empty());
/// assert_eq!(bb.first_bad(0, 1 << 20), None);
///
/// bb.set(16, 8)?;
/// assert!(bb.is_bad(16, 512));
/// assert!(!bb.is_bad(0, 8 * 512));
/// assert_eq!(bb.first_bad(8, 16), Some(16));
///
/// // A write over the sectors cleared their poison: forget them.
/// bb.clear(16, 8);
/// assert!(bb.is_empty());
/// # Ok::<(), Error>(())
/// ```
///
/// # Invariants
///
/// `bb` was initialised by `badblocks_init` and is torn down only on drop.
/// It is heap allocated, so its address is stable for the gendisk that
/// points to it.
pub(crate) struct Badblocks {
    bb: KBox<Opaque<bindings::badblocks>>,
    /// The disk's `badblocks` sysfs file once `show_in` found it, else
    /// null: a reference on the kernfs node, dropped with `self`. A node
    /// stays allocated, and may be notified, as long as it is referenced,
    /// even after the disk and its files are gone.
    file: Atomic<*mut kb::kernfs_node>,
}

// SAFETY: `struct badblocks` has its own seqlock; every function used here
// may be called concurrently from any thread.
unsafe impl Send for Badblocks {}
// SAFETY: See `Send`.
unsafe impl Sync for Badblocks {}

impl Badblocks {
    /// Allocates an empty, enabled list.
    pub(crate) fn new() -> Result<Self> {
        let bb = KBox::new(Opaque::uninit(), GFP_KERNEL)?;
        // SAFETY: `bb.get()` is valid for writes of a `struct badblocks`.
        kernel::error::to_result(unsafe { bindings::badblocks_init(bb.get(), 1) })?;
        // INVARIANT: initialised above.
        Ok(Self {
            bb,
            file: Atomic::new(ptr::null_mut()),
        })
    }

    /// Starts notifying pollers of the `badblocks` file of `disk`, whose
    /// list this is, when the list changes, for as long as `self` lives. A
    /// list shows in one disk: once it has a file, later calls change
    /// nothing.
    ///
    /// # Safety
    ///
    /// `disk` must be a live, added disk.
    pub(crate) unsafe fn show_in(&self, disk: *mut kb::gendisk) {
        // SAFETY: by the safety requirements.
        let file = unsafe { bindings::rpmem_disk_sysfs_file(disk, c"badblocks".as_char_ptr()) };
        if file.is_null() {
            pr_warn!("'badblocks' notification disabled\n");
        } else if self.file.cmpxchg(ptr::null_mut(), file, Full).is_err() {
            // SAFETY: the reference just taken, which nobody else saw.
            unsafe { kb::kernfs_put(file) };
        }
    }

    /// Wakes up pollers of the disk's `badblocks` file.
    pub(crate) fn notify(&self) {
        let file = self.file.load(Acquire);
        if !file.is_null() {
            // SAFETY: `file` is a reference taken by `show_in` and dropped
            // only when `self` is, which cannot happen while `self` is
            // borrowed here; `kernfs_notify` may be called from any context
            // on a referenced node, removed or not.
            unsafe { kb::kernfs_notify(file) };
        }
    }

    /// The raw list, for C functions that fill it or point to it.
    pub(crate) fn as_raw(&self) -> *mut bindings::badblocks {
        self.bb.get()
    }

    /// Whether no sector is known bad.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        // SAFETY: initialised (type invariant). A racy read of the count is
        // what the C helper `is_bad_pmem` does too: `badblocks_check` takes
        // the seqlock.
        unsafe { core::ptr::read_volatile(&raw const (*self.as_raw()).count) == 0 }
    }

    /// The first bad sector among `sectors` sectors at `sector`, if any.
    #[inline]
    pub(crate) fn first_bad(&self, sector: u64, sectors: u64) -> Option<u64> {
        if self.is_empty() {
            return None;
        }
        let (mut first, mut count) = (0, 0);
        // SAFETY: initialised (type invariant); the out pointers are valid.
        let bad = unsafe {
            bindings::badblocks_check(self.as_raw(), sector, sectors, &mut first, &mut count)
        };
        (bad != 0).then_some(first)
    }

    /// Whether any sector of the `len` bytes at `sector` is bad.
    #[inline]
    pub(crate) fn is_bad(&self, sector: u64, len: u32) -> bool {
        self.first_bad(sector, (len >> kernel::block::SECTOR_SHIFT).into())
            .is_some()
    }

    /// Marks `sectors` sectors at `sector` bad, acknowledged, as the
    /// region's error list does (`nvdimm_badblocks_populate`); only the
    /// KUnit suites need it. Fails (`ENOSPC`) unless the list took the
    /// range (it is full, or the range is empty).
    #[cfg(rpmem_kunit)]
    pub(crate) fn set(&self, sector: u64, sectors: u64) -> Result {
        // SAFETY: initialised (type invariant); `badblocks_set` takes the
        // list's own lock and checks its arguments.
        if unsafe { bindings::badblocks_set(self.as_raw(), sector, sectors, 1) } {
            self.notify();
            Ok(())
        } else {
            Err(ENOSPC)
        }
    }

    /// Forgets `sectors` bad sectors at `sector`.
    pub(crate) fn clear(&self, sector: u64, sectors: u64) {
        // SAFETY: initialised (type invariant).
        unsafe { bindings::badblocks_clear(self.as_raw(), sector, sectors) };
        self.notify();
    }
}

impl Drop for Badblocks {
    fn drop(&mut self) {
        let file = *self.file.get_mut();
        if !file.is_null() {
            // SAFETY: the reference taken by `show_in`; no `notify` can run
            // any more, as `self` is borrowed by nobody.
            unsafe { kb::kernfs_put(file) };
        }
        // SAFETY: initialised (type invariant) and no longer referenced: the
        // disk that pointed here holds an `Arc` of `self` until it is gone.
        unsafe { bindings::badblocks_exit(self.as_raw()) };
    }
}

// SPDX-License-Identifier: GPL-2.0

//! Struct pages for persistent memory (`ZONE_DEVICE`, `MEMORY_DEVICE_FS_DAX`).
//!
//! fsdax hands out the memory's pages to user mappings, so every page of the
//! range needs a `struct page`. Their array (the "memmap") lives in RAM, or,
//! for namespaces ndctl set up with `--map=dev`, in a reserved area at the
//! start of the namespace itself (the altmap).
//!
//! C header: [`include/linux/memremap.h`](srctree/include/linux/memremap.h)

use crate::ext::memregion::MemRegion;
use core::ptr::NonNull;
use kernel::{
    bindings as kb,
    error::{
        code::{EINVAL, EOPNOTSUPP},
        from_err_ptr, from_result,
    },
    module::this_module,
    page::{PAGE_SHIFT, PAGE_SIZE},
    prelude::*,
    sync::Arc,
    types::Opaque,
    ThisModule,
};

/// The alignment memory hotplug needs: one subsection.
pub(crate) const ALIGN: u64 = 2 << 20;

/// Where a page map keeps its `struct page` array.
///
/// # Examples
///
/// See [`PageMap`].
///
/// ```no_run
/// use crate::ext::mm::pagemap::{Memmap, PageMap};
///
/// fn ram_cost(pages: &PageMap) -> u64 {
///     match pages.memmap() {
///         Memmap::Ram => pages.memmap_ram_bytes(),
///         Memmap::Device => 0,
///     }
/// }
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Memmap {
    /// In RAM.
    Ram,
    /// In the persistent memory itself, before the data.
    Device,
}

/// The `MF_*` flags of a memory failure (`enum mf_flags`), passed on as they
/// came.
///
/// # Examples
///
/// See [`MemoryFailure`].
///
/// ```no_run
/// use crate::ext::mm::pagemap::FailureFlags;
///
/// fn raw(flags: FailureFlags) -> i32 {
///     flags.as_raw()
/// }
/// ```
#[derive(Clone, Copy)]
pub(crate) struct FailureFlags(c_int);

impl FailureFlags {
    /// The raw flags, for C functions that take them on.
    pub(crate) fn as_raw(self) -> c_int {
        self.0
    }
}

/// What happens when memory under a page map fails (`dev_pagemap_ops`'s
/// `memory_failure`): a machine check on poisoned media, or poison injected
/// with `madvise(MADV_HWPOISON)`.
///
/// # Examples
///
/// A handler that leaves every failure to the kernel's generic one (rpmem's
/// `DaxFailure` tells the DAX device's filesystem first):
///
/// ```no_run
/// use crate::ext::mm::pagemap::{FailureFlags, MemoryFailure};
///
/// struct Generic;
///
/// #[vtable]
/// impl MemoryFailure for Generic {
///     fn memory_failure(&self, phys: u64, len: u64, _flags: FailureFlags) -> Result {
///         pr_info!("{len} bytes lost at {phys:#x}\n");
///         Err(EOPNOTSUPP)
///     }
/// }
/// ```
///
/// As with `kernel::miscdevice`, `#[vtable]` sets the implementation's
/// `OwnerModule` to the module it is written in: the one whose code the
/// handler is, which kept pages keep loaded ([`PageMap::keep`]).
#[vtable]
pub(crate) trait MemoryFailure: Send + Sync + 'static {
    /// `len` bytes at physical address `phys` are lost. `Err(EOPNOTSUPP)`
    /// leaves them to the kernel's generic handler, which signals the
    /// processes that map the pages; any other result is final.
    fn memory_failure(&self, phys: u64, len: u64, flags: FailureFlags) -> Result;
}

/// A [`MemoryFailure`] handler of any type, as a page map keeps it.
trait Handler: Send + Sync {
    /// See [`MemoryFailure::memory_failure`].
    fn fail(&self, phys: u64, len: u64, flags: FailureFlags) -> Result;
}

impl<F: MemoryFailure> Handler for F {
    fn fail(&self, phys: u64, len: u64, flags: FailureFlags) -> Result {
        self.memory_failure(phys, len, flags)
    }
}

/// A `struct dev_pagemap` and the handler its `memory_failure` reaches.
///
/// The page map comes first, so that a pointer to it is a pointer to the
/// whole (`container_of`).
#[repr(C)]
struct Pgmap {
    pgmap: Opaque<kb::dev_pagemap>,
    failure: Option<Arc<dyn Handler>>,
}

/// A range of persistent memory described for [`PageMap::new`]: where it
/// is, and where its struct pages go.
///
/// # Examples
///
/// A raw namespace's range with its memmap in RAM, as rpmem maps it (the
/// page map then goes with the claim into `Mapping::with_pages` of
/// `ext::nvdimm::mapping`; `PageRange::unset` is for `NdPfn::setup`, which
/// fills it in from a pfn info block):
///
/// ```no_run
/// use crate::ext::{
///     memregion::MemRegion,
///     mm::pagemap::{MemoryFailure, PageMap, PageRange},
/// };
/// use kernel::sync::Arc;
///
/// fn map<F: MemoryFailure>(claim: &MemRegion, node: i32, failure: Arc<F>) -> Result<PageMap> {
///     // `EINVAL` unless the claim is 2 MiB aligned.
///     let range = PageRange::in_ram(claim)?;
///     // `EINVAL` unless the range is inside the claim.
///     PageMap::new(range, claim, node, failure)
/// }
/// ```
pub(crate) struct PageRange(KBox<Pgmap>);

impl PageRange {
    /// The range `claim` holds (2 MiB aligned, else `EINVAL`), with the
    /// memmap in RAM.
    pub(crate) fn in_ram(claim: &MemRegion) -> Result<Self> {
        let (start, size) = claim.range();
        if start % ALIGN != 0 || size % ALIGN != 0 || size == 0 {
            return Err(EINVAL);
        }
        let mut range = Self::unset()?;
        // SAFETY: the page map is ours alone until `PageMap::new`.
        let pgmap = unsafe { &mut *range.as_raw() };
        // SAFETY: `range` is the union member for a single range.
        *unsafe { pgmap.__bindgen_anon_1.range.as_mut() } = kb::range {
            start,
            end: start + size - 1,
        };
        pgmap.nr_range = 1;
        Ok(range)
    }

    /// An empty description, for a C function to fill in.
    pub(crate) fn unset() -> Result<Self> {
        let pgmap = Pgmap {
            pgmap: Opaque::zeroed(),
            failure: None,
        };
        Ok(Self(KBox::new(pgmap, GFP_KERNEL)?))
    }

    /// The raw page map, for C functions that fill it in.
    pub(crate) fn as_raw(&mut self) -> *mut kb::dev_pagemap {
        self.0.pgmap.get()
    }
}

/// A range of persistent memory with struct pages, mapped into the kernel's
/// direct map.
///
/// # Examples
///
/// Made as in [`PageRange`]; what it tells about the pages:
///
/// ```no_run
/// use crate::ext::mm::pagemap::PageMap;
///
/// fn describe(pages: &PageMap) {
///     pr_info!(
///         "{:#x}+{:#x}: {} KiB of struct pages in RAM, {} pages in use\n",
///         pages.start(),
///         pages.size(),
///         pages.memmap_ram_bytes() >> 10,
///         pages.busy_pages(pages.start(), pages.size()),
///     );
/// }
/// ```
///
/// # Invariants
///
/// `pgmap` was set up by `memremap_pages`, which returned `addr`: the
/// kernel address of `pgmap.range.start`; its `failure` handler is not
/// changed after that, and `owner` is the module whose code it is.
/// Dropping `self` removes the pages once no `get_dev_pagemap` reference
/// (held by every `memory_failure` call) is left; it does not wait for
/// user mappings of the pages.
pub(crate) struct PageMap {
    pgmap: KBox<Pgmap>,
    addr: NonNull<u8>,
    owner: &'static ThisModule,
}

// SAFETY: The page map is only read after setup; `memunmap_pages` may be
// called from any thread.
unsafe impl Send for PageMap {}
// SAFETY: See `Send`.
unsafe impl Sync for PageMap {}

impl PageMap {
    /// Creates the struct pages of `range` on NUMA node `node`, for fsdax;
    /// memory failures under them go to `failure` first. `range` must be
    /// one range inside `claim`, else `EINVAL`; the kernel refuses System
    /// RAM and ranges that have struct pages already.
    pub(crate) fn new<F: MemoryFailure>(
        range: PageRange,
        claim: &MemRegion,
        node: i32,
        failure: Arc<F>,
    ) -> Result<Self> {
        let mut pgmap = range.0;
        // SAFETY: the page map is ours alone until `memremap_pages`.
        let raw = unsafe { &mut *pgmap.pgmap.get() };
        if raw.nr_range != 1 {
            return Err(EINVAL);
        }
        // SAFETY: `nr_range == 1`, so the union holds `range`.
        let kb::range { start, end } = unsafe { *raw.__bindgen_anon_1.range.as_ref() };
        if !claim.contains(start, end.wrapping_sub(start).wrapping_add(1)) {
            return Err(EINVAL);
        }
        raw.type_ = kb::memory_type_MEMORY_DEVICE_FS_DAX;
        raw.owner = pgmap.pgmap.get().cast();
        raw.ops = &FAILURE_OPS;
        pgmap.failure = Some(failure);
        // SAFETY: `pgmap` describes one claimed range (checked above) and
        // stays at its address (boxed) until `memunmap_pages` in `drop`.
        let addr = from_err_ptr(unsafe { kb::memremap_pages(pgmap.pgmap.get(), node) })?;
        let addr = NonNull::new(addr.cast::<u8>()).ok_or(EINVAL)?;
        // INVARIANT: set up by `memremap_pages` above; `owner` is the
        // handler's `OwnerModule`, set by `#[vtable]` where it is written.
        Ok(Self {
            pgmap,
            addr,
            owner: this_module::<F::OwnerModule>(),
        })
    }

    fn raw(&self) -> &kb::dev_pagemap {
        // SAFETY: set up (type invariant) and only changed by the kernel in
        // fields this module does not read (`ref`, `done`).
        unsafe { &*self.pgmap.pgmap.get() }
    }

    /// The physical range covered (inclusive end).
    fn range(&self) -> kb::range {
        // SAFETY: every page map here has `nr_range == 1`, so the union
        // holds `range`.
        unsafe { *self.raw().__bindgen_anon_1.range.as_ref() }
    }

    /// Physical address of the first page.
    pub(crate) fn start(&self) -> u64 {
        self.range().start
    }

    /// Bytes covered.
    pub(crate) fn size(&self) -> u64 {
        self.range().end - self.range().start + 1
    }

    /// Kernel address of the first page.
    pub(crate) fn addr(&self) -> NonNull<u8> {
        self.addr
    }

    /// Where the struct pages live.
    pub(crate) fn memmap(&self) -> Memmap {
        if self.raw().flags & kb::PGMAP_ALTMAP_VALID != 0 {
            Memmap::Device
        } else {
            Memmap::Ram
        }
    }

    /// RAM taken by the struct pages: none when they are on the device.
    pub(crate) fn memmap_ram_bytes(&self) -> u64 {
        match self.memmap() {
            Memmap::Device => 0,
            Memmap::Ram => self.size() / PAGE_SIZE as u64 * core::mem::size_of::<kb::page>() as u64,
        }
    }

    /// How many pages of `len` bytes at physical `phys` are referenced, by
    /// user mappings for one. Only pages that can be handed out count: the
    /// struct pages of an altmap's own reserved area are never initialised.
    pub(crate) fn busy_pages(&self, phys: u64, len: u64) -> u64 {
        let range = self.range();
        let first = phys.max(range.start) >> PAGE_SHIFT;
        let end = phys.saturating_add(len).min(range.end + 1) >> PAGE_SHIFT;
        if first >= end {
            return 0;
        }
        // One call for the range: a call per page cost more than the rest
        // of an unbind after DAX use (3 times nd_pmem's on 2 GiB).
        // SAFETY: the pfns are ours (clamped to the range above), so their
        // struct pages exist while `self` does.
        unsafe { crate::sys::bindings::rpmem_busy_pages(first as usize, end as usize) as u64 }
    }

    /// Keeps the pages for good, for processes that still map them:
    /// `memunmap_pages` waits for `get_dev_pagemap` references, not for
    /// user mappings, and removing the pages under them would crash the
    /// kernel when they go. Their memory failures still reach this file's
    /// operations and the handler: the modules of both stay loaded as long
    /// (built-in code has none).
    pub(crate) fn keep(self) {
        for module in [this_module::<crate::LocalModule>(), self.owner] {
            // SAFETY: both modules are live: this code is part of the
            // first, and the handler, which `self` owns, of the second
            // (type invariant); the reference is never put.
            unsafe { kb::__module_get(module.as_ptr()) };
        }
        core::mem::forget(self);
    }

    /// Returns the pages of `len` bytes at physical `phys`, whose media
    /// errors were just cleared, to normal use: clears their `HWPoison`
    /// flag and restores their direct mapping. Pages outside the page map
    /// are left alone.
    ///
    /// # Safety
    ///
    /// The media under the pages must be free of errors (the platform
    /// cleared them): the kernel reads an unpoisoned page with ordinary,
    /// not machine-check-safe, loads.
    pub(crate) unsafe fn unpoison(&self, phys: u64, len: u64) {
        let range = self.range();
        let first = phys.max(range.start) >> PAGE_SHIFT;
        let end = phys.saturating_add(len).min(range.end + 1) >> PAGE_SHIFT;
        for pfn in first..end {
            // SAFETY: the pfn is one of ours (clamped to the range above), so
            // its struct page exists while `self` does.
            unsafe { crate::sys::bindings::rpmem_unpoison_page(pfn as usize) };
        }
    }
}

impl Drop for PageMap {
    fn drop(&mut self) {
        // SAFETY: set up by `memremap_pages` (type invariant). This waits
        // for every `get_dev_pagemap` reference, so no `memory_failure`
        // call runs when the handler is dropped after it.
        unsafe { kb::memunmap_pages(self.pgmap.pgmap.get()) };
    }
}

/// The operations of page maps with a [`MemoryFailure`] handler.
static FAILURE_OPS: kb::dev_pagemap_ops = kb::dev_pagemap_ops {
    memory_failure: Some(memory_failure_callback),
    ..pin_init::zeroed()
};

extern "C" fn memory_failure_callback(
    pgmap: *mut kb::dev_pagemap,
    pfn: usize,
    nr_pages: usize,
    flags: c_int,
) -> c_int {
    // SAFETY: only `PageMap::new` sets `FAILURE_OPS`, on the first field of
    // a `Pgmap`, alive while the caller's `get_dev_pagemap` reference lasts
    // (`PageMap::drop` waits for it); its handler no longer changes.
    let pgmap = unsafe { &*pgmap.cast::<Pgmap>() };
    let Some(failure) = &pgmap.failure else {
        return EOPNOTSUPP.to_errno();
    };
    let (phys, len) = ((pfn as u64) << PAGE_SHIFT, (nr_pages as u64) << PAGE_SHIFT);
    from_result(|| {
        failure.fail(phys, len, FailureFlags(flags))?;
        Ok(0)
    })
}

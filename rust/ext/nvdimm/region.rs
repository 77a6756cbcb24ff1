// SPDX-License-Identifier: GPL-2.0

//! libnvdimm regions: the persistence domain of a namespace.
//!
//! C header: [`include/linux/libnvdimm.h`](srctree/include/linux/libnvdimm.h)

use crate::{ext::badblocks::Badblocks, ext::block::bio::Bio, sys::bindings};
use core::ptr::{self, NonNull};
use kernel::{error::to_result, prelude::*, sync::aref::AlwaysRefCounted, types::Opaque};

/// How a region makes CPU stores durable.
///
/// # Examples
///
/// How rpmem sets up its disk from it:
///
/// ```no_run
/// use crate::ext::nvdimm::region::{FlushSupport, NdRegion};
///
/// fn fua(region: &NdRegion) -> bool {
///     match region.flush_support() {
///         FlushSupport::Hints => true,
///         FlushSupport::Fence => false,
///         FlushSupport::Unknown => {
///             pr_warn!("unable to guarantee persistence of writes\n");
///             false
///         }
///     }
/// }
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlushSupport {
    /// Flush hints or an asynchronous flush: `REQ_FUA` needs a real flush.
    Hints,
    /// A store fence is enough (ADR platform, no flush hints).
    Fence,
    /// The platform cannot guarantee persistence (for example `memmap=`).
    Unknown,
}

/// Outcome of [`NdRegion::flush_bio`]: who has the bio now.
///
/// # Examples
///
/// A `REQ_FUA` bio after its data is written, as rpmem completes it:
///
/// ```no_run
/// use crate::ext::{
///     block::bio::Bio,
///     nvdimm::region::{Flushed, NdRegion},
/// };
///
/// fn fua(region: &NdRegion, bio: Bio<'_>) {
///     match region.flush_bio(bio) {
///         Flushed::Done(bio) => drop(bio), // Completed.
///         Flushed::Async => (),            // The region completes it.
///         Flushed::Failed(mut bio, e) => bio.fail(e.into()),
///     }
/// }
/// ```
pub(crate) enum Flushed<'a> {
    /// Writes are durable now; the bio is the caller's again.
    Done(Bio<'a>),
    /// The region took the bio over: it completes the bio once writes are
    /// durable, or fails it.
    Async,
    /// The flush failed; the bio is the caller's again.
    Failed(Bio<'a>, Error),
}

/// A libnvdimm region (`struct nd_region`): the parent of namespaces and
/// their personalities on the nd bus.
///
/// # Examples
///
/// A bound device's region, kept past the bind (rpmem flushes it at
/// remove):
///
/// ```no_run
/// use crate::ext::nvdimm::{region::NdRegion, NdDevice};
/// use kernel::{device::Core, sync::aref::ARef};
///
/// fn region(dev: &NdDevice<Core<'_>>) -> Result<ARef<NdRegion>> {
///     let region = dev.region();
///     if region.is_read_only() {
///         pr_info!("read-only region\n");
///     }
///     pr_info!("sync: {}, cache: {}\n", region.is_sync(), region.has_cache());
///     if !region.flush_may_sleep() {
///         // A flush here needs no process context.
///     }
///     region.flush()?;
///     Ok(region.into())
/// }
/// ```
///
/// # Invariants
///
/// A reference to an `NdRegion` is a reference to a live `struct nd_region`,
/// whose device holds at least one reference: borrowed from a child device
/// (a region outlives its children), or counted in an `ARef<NdRegion>`.
#[repr(transparent)]
pub(crate) struct NdRegion(Opaque<bindings::nd_region>);

// SAFETY: The libnvdimm region functions used here may be called from any
// context that may sleep, on any CPU, concurrently.
unsafe impl Send for NdRegion {}
// SAFETY: See `Send`: all methods only read the region or go through its
// own locking.
unsafe impl Sync for NdRegion {}

// SAFETY: A region's lifetime is that of its `struct device`, whose
// reference count `get_device`/`put_device` change.
unsafe impl AlwaysRefCounted for NdRegion {
    fn inc_ref(&self) {
        // SAFETY: the region is live (type invariant).
        unsafe { kernel::bindings::get_device(bindings::nd_region_dev(self.as_raw())) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: the caller gives up a reference taken by `inc_ref`.
        unsafe { kernel::bindings::put_device(bindings::nd_region_dev(obj.as_ptr().cast())) };
    }
}

impl NdRegion {
    /// Borrows the region `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` must be a live `struct nd_region` that outlives `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::nd_region) -> &'a Self {
        // SAFETY: `NdRegion` is a transparent wrapper; liveness by the
        // safety requirements.
        unsafe { &*ptr.cast() }
    }

    fn as_raw(&self) -> *mut bindings::nd_region {
        self.0.get()
    }

    /// Whether the region only allows reads (its `read_only` attribute,
    /// or a platform that says so).
    pub(crate) fn is_read_only(&self) -> bool {
        // SAFETY: the region is live (type invariant).
        unsafe { bindings::rpmem_region_ro(self.as_raw()) }
    }

    /// Makes all writes accepted so far durable (`nvdimm_flush`); may
    /// sleep (virtio-pmem waits for the host).
    pub(crate) fn flush(&self) -> Result {
        // SAFETY: the region is live (type invariant); with no bio, the
        // flush is synchronous and hands nothing over.
        let ret = unsafe { bindings::nvdimm_flush(self.as_raw(), ptr::null_mut()) };
        to_result(ret)
    }

    /// Like [`Self::flush`], for `bio`: a region whose flush is
    /// asynchronous (virtio-pmem) may take the bio over and complete it
    /// once writes are durable, so the bio is moved in and given back only
    /// if the region did not take it.
    pub(crate) fn flush_bio<'a>(&self, bio: Bio<'a>) -> Flushed<'a> {
        let raw = bio.into_raw();
        // SAFETY: the region is live (type invariant); `raw` is a bio that
        // was ours and not completed, and `nvdimm_flush` either takes it
        // over (and says so with `NVDIMM_FLUSH_ASYNC`) or leaves it to us.
        let ret = unsafe { bindings::nvdimm_flush(self.as_raw(), raw.as_ptr()) };
        if ret > 0 && ret as u32 == bindings::NVDIMM_FLUSH_ASYNC {
            return Flushed::Async;
        }
        // SAFETY: `nvdimm_flush` did not take the bio over: it is a bio
        // handed to `->submit_bio`, not completed, that we own again.
        let bio = unsafe { Bio::from_raw(raw) };
        match to_result(ret) {
            Ok(()) => Flushed::Done(bio),
            Err(e) => Flushed::Failed(bio, e),
        }
    }

    /// Whether [`Self::flush`] and [`Self::flush_bio`] may sleep: the
    /// region has a flush of its own (virtio-pmem's, a request to the
    /// host), not the generic one (a fence and stores to flush hints,
    /// which never sleeps). A bio that must not wait (`REQ_NOWAIT`) cannot
    /// be flushed here.
    pub(crate) fn flush_may_sleep(&self) -> bool {
        // SAFETY: the region is live (type invariant).
        unsafe { bindings::rpmem_region_own_flush(self.as_raw()) }
    }

    /// What a flush means on this region (`nvdimm_has_flush`).
    pub(crate) fn flush_support(&self) -> FlushSupport {
        // SAFETY: the region is live (type invariant).
        match unsafe { bindings::nvdimm_has_flush(self.as_raw()) } {
            r if r > 0 => FlushSupport::Hints,
            0 => FlushSupport::Fence,
            _ => FlushSupport::Unknown,
        }
    }

    /// Whether stores are durable once they leave the CPU, with no flush
    /// hint writes (`is_nvdimm_sync`): what `MAP_SYNC` needs.
    pub(crate) fn is_sync(&self) -> bool {
        // SAFETY: the region is live (type invariant).
        unsafe { bindings::is_nvdimm_sync(self.as_raw()) }
    }

    /// Whether CPU caches must be written back for durability
    /// (`nvdimm_has_cache`).
    pub(crate) fn has_cache(&self) -> bool {
        // SAFETY: the region is live (type invariant).
        unsafe { bindings::nvdimm_has_cache(self.as_raw()) != 0 }
    }

    /// Loads the region's known media errors within `start..=end` (physical
    /// addresses) into `bb` (`nvdimm_badblocks_populate`).
    pub(crate) fn populate_badblocks(&self, bb: &Badblocks, start: u64, end: u64) {
        let range = kernel::bindings::range { start, end };
        // SAFETY: the region is live (type invariant), `bb` is initialised
        // and `range` outlives the call.
        unsafe { bindings::nvdimm_badblocks_populate(self.as_raw(), bb.as_raw(), &range) };
    }
}

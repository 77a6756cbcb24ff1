// SPDX-License-Identifier: GPL-2.0

//! DAX devices: how filesystems reach a disk's memory directly, with no page
//! cache in between.
//!
//! A driver allocates a `struct dax_device` whose operations go to its data
//! ([`Registration`]) and makes it the DAX device of its disk ([`DaxHost`]);
//! `fs_dax_get_by_bdev` then finds it at mount time and the filesystem asks
//! `direct_access` for kernel addresses and pfns. A [`Dax`] is a reference
//! on the device for what may outlive the registration.
//!
//! C header: [`include/linux/dax.h`](srctree/include/linux/dax.h)

use crate::{
    ext::{
        block::bio_disk::{self, NewBioDisk},
        mm::pagemap::FailureFlags,
    },
    sys::bindings,
};
use core::{marker::PhantomData, ptr::NonNull};
use kernel::{
    bindings as kb,
    error::{
        code::{EINVAL, EOPNOTSUPP},
        from_err_ptr, to_result,
    },
    iov::IovIterSource,
    page::PAGE_SIZE,
    prelude::*,
    sync::{Arc, UniqueArc},
};

/// Where `direct_access` found the memory behind a page offset: what the
/// dax core maps, into the kernel and into processes.
///
/// # Examples
///
/// The one way to an `Access` is a mapping with struct pages, here any
/// `Memory`; see [`Operations`].
///
/// ```no_run
/// use crate::ext::dax::Access;
///
/// /// Persistent memory with struct pages, mapped.
/// trait Memory {
///     fn access(&self, pgoff: u64, pages: u64) -> Result<Access<'_>>;
/// }
///
/// fn first_pages(mapping: &impl Memory) -> Result<Access<'_>> {
///     // rpmem's `Mapping`: `EOPNOTSUPP` without struct pages, `EIO` past
///     // the end, else the four pages.
///     let access = mapping.access(0, 4)?;
///     assert_eq!(access.pages(), 4);
///     Ok(access)
/// }
/// ```
///
/// Only a mapping of persistent memory with struct pages makes one
/// (`Mapping::access` of `ext::nvdimm::mapping`), so safe code cannot hand
/// the dax core an address it made up.
///
/// # Invariants
///
/// `kaddr` is the kernel address of page frame `pfn`; that page and the
/// `pages - 1` after it are persistent memory with struct pages, mapped
/// and claimed for at least `'a`.
pub(crate) struct Access<'a> {
    kaddr: *mut u8,
    pfn: usize,
    pages: i64,
    _memory: PhantomData<&'a ()>,
}

impl Access<'_> {
    /// `pages` pages from page frame `pfn` on, mapped at `kaddr`.
    ///
    /// # Safety
    ///
    /// `kaddr` must be the kernel address of page frame `pfn`, and that
    /// page and the `pages - 1` pages after it persistent memory with struct
    /// pages (`MEMORY_DEVICE_FS_DAX`), mapped and claimed by the caller for
    /// at least `'a`.
    pub(crate) unsafe fn new(kaddr: *mut u8, pfn: usize, pages: i64) -> Self {
        // INVARIANT: by the safety requirements.
        Self {
            kaddr,
            pfn,
            pages,
            _memory: PhantomData,
        }
    }

    /// How many pages may be accessed directly.
    pub(crate) fn pages(&self) -> i64 {
        self.pages
    }
}

/// Why `direct_access` is asked.
///
/// # Examples
///
/// See [`Operations`].
///
/// ```no_run
/// use crate::ext::dax::Mode;
///
/// fn may_hand_out_bad_pages(mode: Mode) -> bool {
///     mode == Mode::RecoveryWrite
/// }
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Ordinary access: known bad pages must be refused.
    Access,
    /// A write that will go through `recovery_write`: bad pages are handed
    /// out one at a time.
    RecoveryWrite,
}

/// What a DAX device does on behalf of its filesystem; `recovery_write` is
/// optional, as in `struct dax_operations` (without it, a write over a
/// media error fails).
///
/// # Examples
///
/// The DAX device of a mapping with struct pages and no media errors
/// (rpmem's, `Pmem`, also keeps a bad sector list and recovers writes; its
/// `Memory` is `Mapping` of `ext::nvdimm::mapping`, which is what makes an
/// [`Access`]):
///
/// ```no_run
/// use crate::ext::dax::{self, Access, Mode, Registration};
/// use kernel::{
///     page::{PAGE_SHIFT, PAGE_SIZE},
///     sync::Arc,
/// };
///
/// /// Persistent memory with struct pages, mapped.
/// trait Memory: Send + Sync + 'static {
///     fn size(&self) -> u64;
///     fn access(&self, pgoff: u64, pages: u64) -> Result<Access<'_>>;
///     fn zero(&self, offset: u64, len: usize) -> Result;
/// }
///
/// struct Direct<M> {
///     mapping: M,
/// }
///
/// #[vtable]
/// impl<M: Memory> dax::Operations for Direct<M> {
///     fn direct_access(this: &Self, pgoff: u64, pages: i64, _mode: Mode) -> Result<Access<'_>> {
///         let left = (this.mapping.size() >> PAGE_SHIFT).saturating_sub(pgoff);
///         this.mapping.access(pgoff, (pages.max(0) as u64).min(left))
///     }
///
///     fn zero_page_range(this: &Self, pgoff: u64, pages: u64) -> Result {
///         for page in pgoff..pgoff + pages {
///             this.mapping.zero(page << PAGE_SHIFT, PAGE_SIZE)?;
///         }
///         Ok(())
///     }
/// }
///
/// fn register<M: Memory>(mapping: M) -> Result<Option<Registration<Direct<M>>>> {
///     let direct = Arc::new(Direct { mapping }, GFP_KERNEL)?;
///     let reg = Registration::new(direct)?; // `None` without CONFIG_DAX.
///     if let Some(dax) = reg.as_ref().map(Registration::dax) {
///         dax.set_flags(true);
///         dax.set_write_cache(false);
///     }
///     Ok(reg)
/// }
/// ```
#[vtable]
pub(crate) trait Operations: Sync + Sized {
    /// Translates `pages` pages at page offset `pgoff` into memory, which
    /// lives at least as long as `this`.
    fn direct_access(this: &Self, pgoff: u64, pages: i64, mode: Mode) -> Result<Access<'_>>;

    /// Zeroes `pages` pages at `pgoff`, clearing media errors there.
    fn zero_page_range(this: &Self, pgoff: u64, pages: u64) -> Result;

    /// Copies `bytes` from `iter` to byte `offset` of page `pgoff`, clearing
    /// the media errors under them first; returns the bytes copied.
    fn recovery_write(
        _this: &Self,
        _pgoff: u64,
        _offset: usize,
        _bytes: usize,
        _iter: &mut IovIterSource<'_>,
    ) -> usize {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

/// A reference on a DAX device: what may be done with one whether or not
/// it is still alive (its operations are the [`Registration`]'s business).
///
/// # Examples
///
/// A memory failure under the device, passed on to the filesystem that
/// holds it (rpmem's `DaxFailure`):
///
/// ```no_run
/// use crate::ext::{dax::Dax, mm::pagemap::FailureFlags};
///
/// fn lost(dax: &Dax, offset: u64, len: u64, flags: FailureFlags) -> Result {
///     if dax.write_cache() {
///         pr_info!("fsync writes back CPU caches\n");
///     }
///     // `EOPNOTSUPP` when no holder can find the owners.
///     dax.notify_failure(offset, len, flags)
/// }
/// ```
///
/// # Invariants
///
/// `dax` holds a reference on a dax device allocated by `alloc_dax`,
/// dropped on drop. Its private data is only used by the dax core until
/// the device is killed, which its [`Registration`] does before it lets go
/// of the data.
pub(crate) struct Dax {
    dax: NonNull<bindings::dax_device>,
}

// SAFETY: The dax functions used here may be called from any thread.
unsafe impl Send for Dax {}
// SAFETY: See `Send`; the flag setters are atomic bit operations.
unsafe impl Sync for Dax {}

/// A DAX device whose operations go to a `T`, until it is killed: by
/// [`Registration::kill`], or on drop.
///
/// # Examples
///
/// Registered as in [`Operations`]; at remove, the host goes first, then
/// direct access ends (rpmem's `RpmemDevice::drop`):
///
/// ```no_run
/// use crate::ext::dax::{DaxHost, Operations, Registration};
///
/// fn remove<T: Operations>(host: Option<DaxHost>, reg: Registration<T>) {
///     drop(host); // `dax_remove_host`
///     reg.kill(); // No operation runs once this returns.
/// }
/// ```
///
/// # Invariants
///
/// `dax` was allocated by `alloc_dax` with the `T` in `_data` as private
/// data and `Adapter<T>`'s operations, and is not killed while `self`
/// lives, so the private data is valid whenever the dax core uses it.
pub(crate) struct Registration<T: Operations> {
    dax: Arc<Dax>,
    _data: Arc<T>,
}

impl<T: Operations> Registration<T> {
    /// Allocates a dax device whose operations go to `data`; `None` when
    /// the kernel has no DAX support.
    pub(crate) fn new(data: Arc<T>) -> Result<Option<Self>> {
        // Allocated first, so that nothing can fail once the device exists.
        let slot = UniqueArc::new_uninit(GFP_KERNEL)?;
        // SAFETY: `OPS` is static and `data` is kept in `self`, which kills
        // the device before it lets go of `data`.
        let dax = unsafe {
            bindings::alloc_dax(Arc::as_ptr(&data).cast_mut().cast(), &Adapter::<T>::OPS)
        };
        let dax = match from_err_ptr(dax) {
            Ok(dax) => dax,
            Err(e) if e == EOPNOTSUPP => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(dax) = NonNull::new(dax) else {
            return Ok(None);
        };
        // INVARIANT: allocated above, with `data` as private data.
        Ok(Some(Self {
            dax: slot.write(Dax { dax }).into(),
            _data: data,
        }))
    }

    /// The device, for what may outlive the registration (a memory failure
    /// handler).
    pub(crate) fn dax(&self) -> &Arc<Dax> {
        &self.dax
    }

    /// Ends direct access: tells the holder (a mounted filesystem) its
    /// memory is going away, waits until no operation runs any more, and
    /// lets go of the data.
    pub(crate) fn kill(self) {
        drop(self);
    }
}

impl<T: Operations> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: the device is live (type invariant of `Dax`); no
        // operation runs once `kill_dax` returns, so `data` may go after
        // it.
        unsafe { bindings::kill_dax(self.dax.as_raw()) };
    }
}

impl Dax {
    fn as_raw(&self) -> *mut bindings::dax_device {
        self.dax.as_ptr()
    }

    /// Declares the memory needs no cache flushing by the filesystem (the
    /// driver's copies are non-temporal) and no machine-check-safe copies by
    /// it (the driver's reads are), and, if `synchronous`, that a store is
    /// durable once it left the CPU (so `MAP_SYNC` may be offered).
    pub(crate) fn set_flags(&self, synchronous: bool) {
        // SAFETY: the device is live (type invariant).
        unsafe {
            bindings::set_dax_nocache(self.as_raw());
            bindings::set_dax_nomc(self.as_raw());
            if synchronous {
                bindings::set_dax_synchronous(self.as_raw());
            }
        }
    }

    /// Sets whether filesystems must write back CPU caches on `fsync`.
    pub(crate) fn set_write_cache(&self, enabled: bool) {
        // SAFETY: the device is live (type invariant).
        unsafe { bindings::dax_write_cache(self.as_raw(), enabled) };
    }

    /// Whether filesystems write back CPU caches on `fsync`.
    pub(crate) fn write_cache(&self) -> bool {
        // SAFETY: the device is live (type invariant).
        unsafe { bindings::dax_write_cache_enabled(self.as_raw()) }
    }

    /// Tells the holder (a mounted filesystem) that `len` bytes at byte
    /// `offset` of the device are lost, so that it can find their owners
    /// and signal the processes that map them. Fails with `EOPNOTSUPP` when
    /// no holder can (none, or one without `notify_failure`), with `ENXIO`
    /// once the device is killed.
    pub(crate) fn notify_failure(&self, offset: u64, len: u64, flags: FailureFlags) -> Result {
        // SAFETY: the device is live (type invariant); the dax core checks
        // under its lock that it is not killed.
        to_result(unsafe {
            bindings::dax_holder_notify_failure(self.as_raw(), offset, len, flags.as_raw())
        })
    }
}

impl Drop for Dax {
    fn drop(&mut self) {
        // SAFETY: drops the reference from `alloc_dax` (type invariant).
        unsafe { bindings::put_dax(self.as_raw()) };
    }
}

/// A disk's DAX device, found there by `fs_dax_get_by_bdev` at mount time
/// (`dax_add_host`).
///
/// # Examples
///
/// A DAX device becomes the host of a new disk before the disk appears, as
/// in rpmem's probe; see [`Registration`] for its removal.
///
/// ```no_run
/// use crate::ext::{
///     block::bio_disk::{BioDisk, NewBioDisk, Operations},
///     dax::{Dax, DaxHost},
/// };
/// use kernel::{
///     device::{Bound, Device},
///     sync::Arc,
/// };
///
/// fn add<T: Operations>(
///     parent: &Device<Bound>,
///     disk: NewBioDisk<T>,
///     dax: &Arc<Dax>,
/// ) -> Result<(DaxHost, BioDisk<T>)> {
///     let host = DaxHost::add(dax, &disk)?;
///     Ok((host, disk.add(parent, None)?))
/// }
/// ```
///
/// # Invariants
///
/// `dax_add_host` succeeded for `dax` and `disk`, on which `self` holds a
/// reference, so the disk is not freed before the host is removed on drop.
pub(crate) struct DaxHost {
    disk: NonNull<kb::gendisk>,
    _dax: Arc<Dax>,
}

// SAFETY: `dax_remove_host` and `put_disk` may be called from any thread.
unsafe impl Send for DaxHost {}
// SAFETY: Nothing is reachable through `&DaxHost`.
unsafe impl Sync for DaxHost {}

impl DaxHost {
    /// Makes `dax` the DAX device of `disk`, before the disk is added, so
    /// that a filesystem mounted as soon as it appears finds it.
    pub(crate) fn add<T: bio_disk::Operations>(
        dax: &Arc<Dax>,
        disk: &NewBioDisk<T>,
    ) -> Result<Self> {
        let raw = NonNull::new(disk.as_raw()).ok_or(EINVAL)?;
        // SAFETY: both are live; the binding's `gendisk` is the kernel
        // crate's.
        to_result(unsafe { bindings::dax_add_host(dax.as_raw(), raw.as_ptr()) })?;
        // SAFETY: `raw` is a live disk, whose `part0` is set up at
        // allocation; the reference is dropped with `put_disk` in `drop`.
        unsafe { kb::get_device(&raw mut (*(*raw.as_ptr()).part0).bd_device) };
        // INVARIANT: added, with a reference on the disk.
        Ok(Self {
            disk: raw,
            _dax: dax.clone(),
        })
    }
}

impl Drop for DaxHost {
    fn drop(&mut self) {
        // SAFETY: added in `add`; the disk is still allocated, as `self`
        // holds a reference on it (type invariant), which is dropped last.
        unsafe {
            bindings::dax_remove_host(self.disk.as_ptr());
            kb::put_disk(self.disk.as_ptr());
        }
    }
}

/// The C side of [`Operations`].
struct Adapter<T: Operations>(PhantomData<T>);

impl<T: Operations> Adapter<T> {
    const OPS: bindings::dax_operations = bindings::dax_operations {
        direct_access: Some(Self::direct_access),
        zero_page_range: Some(Self::zero_page_range),
        recovery_write: if T::HAS_RECOVERY_WRITE {
            Some(Self::recovery_write)
        } else {
            None
        },
    };

    /// # Safety
    ///
    /// `dax` is a live device of a [`Registration<T>`].
    unsafe fn private<'a>(dax: *mut bindings::dax_device) -> &'a T {
        // SAFETY: the private data is the `T` of the registration, valid
        // until the device is killed, and the dax core calls no operation
        // after that.
        unsafe { &*bindings::dax_get_private(dax).cast::<T>() }
    }

    extern "C" fn direct_access(
        dax: *mut bindings::dax_device,
        pgoff: usize,
        pages: isize,
        mode: bindings::dax_access_mode,
        kaddr: *mut *mut c_void,
        pfn: *mut usize,
    ) -> isize {
        let mode = if mode == bindings::dax_access_mode_DAX_RECOVERY_WRITE {
            Mode::RecoveryWrite
        } else {
            Mode::Access
        };
        // SAFETY: called by the dax core on a live device of ours.
        let this = unsafe { Self::private(dax) };
        match T::direct_access(this, pgoff as u64, pages as i64, mode) {
            Ok(a) => {
                // SAFETY: the out pointers are null or valid for writes. The
                // memory `a` describes is persistent memory with struct
                // pages, mapped and claimed for as long as `this` (type
                // invariant of `Access`): the dax core uses `kaddr` only
                // until `kill_dax`, which the registration calls before it
                // lets go of `this`.
                unsafe {
                    if !kaddr.is_null() {
                        *kaddr = a.kaddr.cast();
                    }
                    if !pfn.is_null() {
                        *pfn = a.pfn;
                    }
                }
                a.pages() as isize
            }
            Err(e) => e.to_errno() as isize,
        }
    }

    extern "C" fn zero_page_range(
        dax: *mut bindings::dax_device,
        pgoff: usize,
        pages: usize,
    ) -> c_int {
        // SAFETY: called by the dax core on a live device of ours.
        let this = unsafe { Self::private(dax) };
        match T::zero_page_range(this, pgoff as u64, pages as u64) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    extern "C" fn recovery_write(
        dax: *mut bindings::dax_device,
        pgoff: usize,
        addr: *mut c_void,
        bytes: usize,
        iter: *mut kb::iov_iter,
    ) -> usize {
        // SAFETY: called by the dax core on a live device of ours.
        let this = unsafe { Self::private(dax) };
        if iter.is_null() {
            return 0;
        }
        // `addr` is what `direct_access` returned for `pgoff`, plus the
        // offset of the write in its first page.
        let offset = addr as usize & (PAGE_SIZE - 1);
        // SAFETY: the dax core hands the callback the live source of a
        // write (`ITER_SOURCE`), used by nobody else until it returns, whose
        // data may be read with the iov_iter functions meanwhile.
        let iter = unsafe { IovIterSource::from_raw(iter) };
        T::recovery_write(this, pgoff as u64, offset, bytes, iter)
    }
}

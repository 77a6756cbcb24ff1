// SPDX-License-Identifier: GPL-2.0

//! Bio-based disks: the block layer hands each bio straight to the driver's
//! `submit_bio`, with no request queueing in between (unlike the blk-mq
//! `GenDisk` of `kernel::block::mq`).
//!
//! A disk is described with a [`BioDiskBuilder`], allocated with
//! [`BioDiskBuilder::build`] (a [`NewBioDisk`], which other pieces such as a
//! DAX host may be attached to before anyone can open it) and made visible
//! with [`NewBioDisk::add`]. Dropping the [`BioDisk`] deletes it.
//!
//! As with `kernel::block::mq`, the disk owns its driver's data, an
//! [`Operations::QueueData`]: `build` hands it to C with
//! [`ForeignOwnable::into_foreign`] (the disk's `private_data`, where C's
//! bio-based drivers keep theirs), each callback borrows it with
//! [`ForeignOwnable::borrow`], and the disk takes it back with
//! [`ForeignOwnable::from_foreign`] and drops it once C can no longer reach
//! it: after `del_gendisk` and `put_disk` (or `put_disk` alone for a disk
//! never added).
//!
//! C header: [`include/linux/blkdev.h`](srctree/include/linux/blkdev.h)

use crate::ext::{badblocks::Badblocks, block::bio::Bio, sysfs};
use core::{fmt::Write, ops::Deref, ptr::NonNull};
use kernel::{
    bindings as kb,
    device::{Bound, Device},
    error::{code::EINVAL, from_err_ptr, to_result},
    fmt,
    module::this_module,
    page::PAGE_SIZE,
    prelude::*,
    static_lock_class,
    str::{CStr, NullTerminatedFormatter},
    sync::Arc,
    types::{ForeignOwnable, ScopeGuard},
};

/// What the block layer lends a callback: the disk's data, borrowed.
///
/// # Examples
///
/// For the data types of 7.3's `ForeignOwnable`:
///
/// ```no_run
/// use crate::ext::block::bio_disk::ForeignBorrowed;
/// use kernel::sync::{Arc, ArcBorrow};
///
/// fn boxed(data: ForeignBorrowed<'_, KBox<u32>>) -> &u32 {
///     data
/// }
///
/// fn counted(data: ForeignBorrowed<'_, Arc<u32>>) -> ArcBorrow<'_, u32> {
///     data
/// }
/// ```
pub(crate) type ForeignBorrowed<'a, T> = <T as ForeignOwnable>::Borrowed<'a>;

/// What a bio-based disk does with its bios.
///
/// # Examples
///
/// A disk that reads zeroes and forgets what is written to it, its data
/// boxed (rpmem's disks own a `KBox<PmemDisk>` or a `KBox<Btt>` the same
/// way):
///
/// ```
/// use crate::ext::block::{
///     bio::{Bio, Op, Status},
///     bio_disk::{BioDiskBuilder, Operations},
/// };
///
/// struct Zero {
///     sectors: u64,
/// }
///
/// #[vtable]
/// impl Operations for Zero {
///     type QueueData = KBox<Self>;
///
///     fn submit_bio(this: &Self, mut bio: Bio<'_>) {
///         if bio.op() != Op::Read {
///             return; // Dropping the bio completes it.
///         }
///         let status = bio.segments().try_for_each(|seg| {
///             if seg.sector() >= this.sectors {
///                 return Err(Status::IOERR);
///             }
///             seg.with_mapped(|m| m.zero(0, m.len())).map_err(Status::from)
///         });
///         if let Err(status) = status {
///             bio.fail(status);
///         }
///     }
/// }
///
/// let zero = KBox::new(Zero { sectors: 8 }, GFP_KERNEL)?;
/// let disk = BioDiskBuilder::new()
///     .capacity_sectors(zero.sectors)
///     .synchronous(true)
///     .build::<Zero>(fmt!("rpmem_doctest"), zero)?;
/// // Never added, so never opened: dropping it puts the disk, then drops
/// // the `Zero` it owns.
/// drop(disk);
/// # Ok::<(), Error>(())
/// ```
///
/// As with `kernel::miscdevice`, `#[vtable]` sets the implementation's
/// `OwnerModule` to the module it is written in: the one whose code the
/// disk's callbacks are, which an open disk keeps loaded.
#[vtable]
pub(crate) trait Operations: Sized + 'static {
    /// The data the disk owns and lends to each callback.
    type QueueData: ForeignOwnable + Send + Sync;

    /// Serves `bio`; dropping it completes it.
    fn submit_bio(queue_data: ForeignBorrowed<'_, Self::QueueData>, bio: Bio<'_>);
}

/// `BLK_FEAT_*` values, which bindgen cannot evaluate (they are casts).
mod feat {
    pub(super) use crate::sys::bindings::{
        RPMEM_BLK_FEAT_DAX as DAX, RPMEM_BLK_FEAT_FUA as FUA, RPMEM_BLK_FEAT_NOWAIT as NOWAIT,
        RPMEM_BLK_FEAT_SYNCHRONOUS as SYNCHRONOUS, RPMEM_BLK_FEAT_WRITE_CACHE as WRITE_CACHE,
    };
}

/// Geometry and features of a bio-based disk to be built.
///
/// # Examples
///
/// The disk of a namespace in fsdax mode, as rpmem's probe describes it:
///
/// ```
/// use crate::ext::{badblocks::Badblocks, block::bio_disk::BioDiskBuilder};
/// use kernel::sync::Arc;
///
/// let bb = Arc::new(Badblocks::new()?, GFP_KERNEL)?;
/// let _builder = BioDiskBuilder::new()
///     .logical_block_size(512)?
///     .physical_block_size(4096)?
///     .capacity_sectors(1 << 21)
///     .write_cache(true)
///     .synchronous(true)
///     .nowait(true)
///     .fua(true)
///     .dax(true)
///     .badblocks(bb);
///
/// // A block size must be a power of two from 512 to `PAGE_SIZE`.
/// assert!(BioDiskBuilder::new().logical_block_size(768).is_err());
/// assert!(BioDiskBuilder::new().physical_block_size(8192).is_err());
/// # Ok::<(), Error>(())
/// ```
pub(crate) struct BioDiskBuilder {
    logical_block_size: u32,
    physical_block_size: u32,
    capacity_sectors: u64,
    features: kb::blk_features_t,
    node: i32,
    badblocks: Option<Arc<Badblocks>>,
    dma_alignment: u32,
}

impl Default for BioDiskBuilder {
    fn default() -> Self {
        Self {
            logical_block_size: 512,
            physical_block_size: 512,
            capacity_sectors: 0,
            features: 0,
            node: kb::NUMA_NO_NODE,
            badblocks: None,
            dma_alignment: 0,
        }
    }
}

impl BioDiskBuilder {
    /// A disk of 512-byte sectors, no capacity and no features.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Checks that `size` is a power of two from 512 to `PAGE_SIZE`.
    fn validate_block_size(size: u32) -> Result {
        if !(512..=PAGE_SIZE as u32).contains(&size) || !size.is_power_of_two() {
            return Err(EINVAL);
        }
        Ok(())
    }

    /// The smallest addressable unit, in bytes.
    pub(crate) fn logical_block_size(mut self, size: u32) -> Result<Self> {
        Self::validate_block_size(size)?;
        self.logical_block_size = size;
        Ok(self)
    }

    /// The smallest unit written without read-modify-write, in bytes.
    pub(crate) fn physical_block_size(mut self, size: u32) -> Result<Self> {
        Self::validate_block_size(size)?;
        self.physical_block_size = size;
        Ok(self)
    }

    /// The capacity in 512-byte sectors.
    pub(crate) fn capacity_sectors(mut self, sectors: u64) -> Self {
        self.capacity_sectors = sectors;
        self
    }

    fn feature(mut self, feature: kb::blk_features_t, on: bool) -> Self {
        if on {
            self.features |= feature;
        } else {
            self.features &= !feature;
        }
        self
    }

    /// Whether completed writes may sit in a volatile cache until a
    /// `REQ_PREFLUSH` (`BLK_FEAT_WRITE_CACHE`).
    pub(crate) fn write_cache(self, on: bool) -> Self {
        self.feature(feat::WRITE_CACHE, on)
    }

    /// Whether the disk honours `REQ_FUA` itself (`BLK_FEAT_FUA`).
    pub(crate) fn fua(self, on: bool) -> Self {
        self.feature(feat::FUA, on)
    }

    /// Whether bios complete before `submit_bio` returns
    /// (`BLK_FEAT_SYNCHRONOUS`).
    pub(crate) fn synchronous(self, on: bool) -> Self {
        self.feature(feat::SYNCHRONOUS, on)
    }

    /// Whether the disk takes bios whose submitter must not sleep
    /// (`BLK_FEAT_NOWAIT`): the driver then completes a `REQ_NOWAIT` bio
    /// with `BLK_STS_AGAIN` wherever serving it would sleep. Without it,
    /// the block layer fails such bios with `EOPNOTSUPP`, and io_uring
    /// hands every I/O on the disk to a worker thread.
    pub(crate) fn nowait(self, on: bool) -> Self {
        self.feature(feat::NOWAIT, on)
    }

    /// Whether the disk has a DAX device (`BLK_FEAT_DAX`).
    pub(crate) fn dax(self, on: bool) -> Self {
        self.feature(feat::DAX, on)
    }

    /// The NUMA node to allocate on.
    pub(crate) fn node(mut self, node: i32) -> Self {
        self.node = node;
        self
    }

    /// The alignment every data buffer must have, as a mask (`size - 1`;
    /// by default 511): with the logical block size's, no sector is split
    /// between two pages.
    pub(crate) fn dma_alignment(mut self, mask: u32) -> Self {
        self.dma_alignment = mask;
        self
    }

    /// The disk's list of bad sectors, shown in its `badblocks` file.
    pub(crate) fn badblocks(mut self, bb: Arc<Badblocks>) -> Self {
        self.badblocks = Some(bb);
        self
    }

    /// Allocates the disk, named `name`, which owns `queue_data` from now
    /// on and lends it to each of `T`'s callbacks. On failure,
    /// `queue_data` is dropped.
    pub(crate) fn build<T: Operations>(
        self,
        name: fmt::Arguments<'_>,
        queue_data: T::QueueData,
    ) -> Result<NewBioDisk<T>> {
        let data = queue_data.into_foreign();
        let recover_data = ScopeGuard::new(|| {
            // SAFETY: `data` came from `into_foreign` above, and no disk
            // points to it on this path.
            drop(unsafe { T::QueueData::from_foreign(data) });
        });

        let mut lim: kb::queue_limits = pin_init::zeroed();
        lim.logical_block_size = self.logical_block_size;
        lim.physical_block_size = self.physical_block_size;
        lim.max_hw_sectors = u32::MAX;
        lim.features = self.features;
        lim.dma_alignment = self.dma_alignment;

        // SAFETY: `lim` is a valid limits structure for the call.
        let disk = from_err_ptr(unsafe {
            kb::__blk_alloc_disk(&mut lim, self.node, static_lock_class!().as_ptr())
        })?;
        // SAFETY: `from_err_ptr` passed, so `disk` is a valid new gendisk.
        let disk = unsafe { NonNull::new_unchecked(disk) };
        // SAFETY: the new disk is ours alone until it is added.
        let raw = unsafe { &mut *disk.as_ptr() };
        raw.private_data = data;
        recover_data.dismiss();
        // INVARIANT: allocated above, not added, `private_data` set to
        // `data` just now; `bb` is set below, before anyone else sees the
        // disk. From here on, dropping `new` puts the disk and then takes
        // `data` back.
        let new = NewBioDisk {
            disk,
            badblocks: self.badblocks,
            _ops: core::marker::PhantomData,
        };

        NullTerminatedFormatter::new(&mut raw.disk_name)
            .ok_or(EINVAL)?
            .write_fmt(name)
            .map_err(|_| EINVAL)?;
        raw.fops = &NewBioDisk::<T>::FOPS;
        if let Some(bb) = &new.badblocks {
            raw.bb = bb.as_raw().cast();
        }
        // SAFETY: `disk` is valid.
        unsafe { kb::set_capacity(disk.as_ptr(), self.capacity_sectors) };
        Ok(new)
    }
}

/// The queue data of a live disk of `T`'s, borrowed.
///
/// # Safety
///
/// `disk` is a disk set up by [`BioDiskBuilder::build`] for `T` (its
/// `private_data` came from `T::QueueData::into_foreign`), whose data is
/// not taken back, nor borrowed mutably, for `'a`.
unsafe fn borrow<'a, T: Operations>(disk: *mut kb::gendisk) -> ForeignBorrowed<'a, T::QueueData> {
    // SAFETY: by the safety requirements, `disk` is live and its
    // `private_data` came from `into_foreign`, not given back with
    // `from_foreign`, nor borrowed mutably, for `'a`.
    unsafe { T::QueueData::borrow((*disk).private_data) }
}

/// A bio-based disk allocated and set up, not added yet: nobody can open
/// it. Dropped, it is freed, and then its queue data.
///
/// # Examples
///
/// A disk added with its sysfs files, static groups of `ext::sysfs`: a disk
/// whose queue data is a `KBox<T>` lends its attributes a `&T`. (A DAX
/// host, `DaxHost::add` of `ext::dax`, is attached before the disk is
/// added, so that it is there when the disk appears.)
///
/// ```no_run
/// use crate::ext::{
///     block::bio_disk::{BioDisk, NewBioDisk, Operations},
///     sysfs::{AttrGroups, AttributeOwner},
/// };
/// use kernel::device::{Bound, Device};
///
/// fn add<T: Operations<QueueData = KBox<T>>>(
///     parent: &Device<Bound>,
///     disk: NewBioDisk<T>,
///     groups: &'static AttrGroups<BioDisk<T>, 2>,
/// ) -> Result<BioDisk<T>>
/// where
///     BioDisk<T>: AttributeOwner<Data = T>,
/// {
///     disk.add(parent, Some(groups.get()))
/// }
/// ```
///
/// # Invariants
///
/// `disk` was allocated by `__blk_alloc_disk`, is not added, and its
/// `private_data` came from `T::QueueData::into_foreign`, which only
/// `drop` undoes; its `bb`, when set, points to the list in `badblocks`.
pub(crate) struct NewBioDisk<T: Operations> {
    disk: NonNull<kb::gendisk>,
    badblocks: Option<Arc<Badblocks>>,
    _ops: core::marker::PhantomData<T>,
}

impl<T: Operations> NewBioDisk<T> {
    /// The operations every disk of `T` shares. Their owner, the module
    /// `T` is implemented in (`submit_bio_callback::<T>` is its code), is
    /// pinned while a disk is open, so `rmmod` fails with `EBUSY` instead
    /// of pulling code from under an opener.
    const FOPS: kb::block_device_operations = kb::block_device_operations {
        owner: this_module::<T::OwnerModule>().as_ptr(),
        submit_bio: Some(submit_bio_callback::<T>),
        ..pin_init::zeroed()
    };

    /// The raw gendisk, for abstractions that attach to a disk before it is
    /// added (a DAX host).
    pub(crate) fn as_raw(&self) -> *mut kb::gendisk {
        self.disk.as_ptr()
    }

    /// Adds the disk below `parent`, with the attribute `groups`: it
    /// appears, and may be opened. On failure, the disk is freed and its
    /// queue data dropped.
    pub(crate) fn add(
        self,
        parent: &Device<Bound>,
        groups: Option<sysfs::Groups<BioDisk<T>>>,
    ) -> Result<BioDisk<T>> {
        // SAFETY: `parent` (`Device` is a transparent wrapper of
        // `struct device`) is a live bound device and the disk is fully set
        // up (type invariant); `private_data` stays valid as the
        // `BioDisk` takes the queue data back only after deleting the disk.
        to_result(unsafe {
            kb::device_add_disk(
                core::ptr::from_ref(parent).cast_mut().cast(),
                self.disk.as_ptr(),
                groups.map_or(core::ptr::null_mut(), sysfs::Groups::as_ptr),
            )
        })?;
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: the one field that needs dropping is read once, and
        // `this` is never dropped: the queue data stays with the disk.
        let (disk, badblocks) = (this.disk, unsafe { core::ptr::read(&this.badblocks) });
        if let Some(bb) = &badblocks {
            // SAFETY: added above.
            unsafe { bb.show_in(disk.as_ptr()) };
        }
        // INVARIANT: added above; `private_data` is still the queue data
        // from `into_foreign`.
        Ok(BioDisk {
            disk,
            _badblocks: badblocks,
            _ops: core::marker::PhantomData,
        })
    }
}

impl<T: Operations> Drop for NewBioDisk<T> {
    fn drop(&mut self) {
        // SAFETY: allocated (type invariant).
        let data = unsafe { (*self.disk.as_ptr()).private_data };
        // SAFETY: allocated and not added (type invariant): this puts the
        // last reference, and C never read `private_data`.
        unsafe { kb::put_disk(self.disk.as_ptr()) };
        // SAFETY: `data` came from `into_foreign` (type invariant); this is
        // the one place a new disk gives it back, and the disk is gone.
        drop(unsafe { T::QueueData::from_foreign(data) });
    }
}

/// A live bio-based disk whose bios go to `T`.
///
/// # Examples
///
/// A disk lends its data through [`BioDisk::data`] (for a `KBox<T>`, a
/// `&T`) for as long as it is borrowed:
///
/// ```no_run
/// use crate::ext::block::bio_disk::{BioDisk, Operations};
///
/// fn data<T: Operations<QueueData = KBox<T>>>(disk: &BioDisk<T>) -> &T {
///     pr_info!("{}: up\n", disk.name());
///     disk.data()
/// }
/// ```
///
/// # Invariants
///
/// `disk` was added with `device_add_disk` and its `private_data` came
/// from `T::QueueData::into_foreign`, which only `drop` undoes, after
/// deleting the disk; its `bb`, when set, points to the list in
/// `_badblocks`.
pub(crate) struct BioDisk<T: Operations> {
    disk: NonNull<kb::gendisk>,
    /// The list the disk's `bb` points to, kept as long as the disk.
    _badblocks: Option<Arc<Badblocks>>,
    _ops: core::marker::PhantomData<T>,
}

// SAFETY: The gendisk functions used here may be called from any thread,
// and the disk owns its queue data, which is `Send`.
unsafe impl<T: Operations> Send for BioDisk<T> {}
// SAFETY: `&BioDisk` reads the disk's name and lends the queue data, which
// is `Sync`.
unsafe impl<T: Operations> Sync for BioDisk<T> {}

// SAFETY: A device whose attribute groups are `Groups<BioDisk<T>>` is the
// `part0` device of a disk added by `NewBioDisk::add`, which is the only
// user of such groups; `del_gendisk` removes the attributes before the
// `BioDisk` takes its data back.
unsafe impl<T, D> sysfs::AttributeOwner for BioDisk<T>
where
    T: Operations,
    for<'a> ForeignBorrowed<'a, T::QueueData>: Deref<Target = D>,
    D: 'static,
{
    type Data = D;

    unsafe fn with_data<R>(dev: *mut kb::device, f: impl FnOnce(&D) -> R) -> R {
        // SAFETY: by the safety requirements, `dev` is the device of a live
        // disk of ours, in one of its attribute callbacks, during which
        // `del_gendisk` cannot finish, so the data is not taken back.
        let data = unsafe { borrow::<T>(crate::sys::bindings::rpmem_dev_to_disk(dev)) };
        f(&data)
    }
}

impl<T: Operations> BioDisk<T> {
    /// The raw gendisk, for abstractions that act on a live disk.
    pub(crate) fn as_raw(&self) -> *mut kb::gendisk {
        self.disk.as_ptr()
    }

    /// The disk's queue data, borrowed.
    pub(crate) fn data(&self) -> ForeignBorrowed<'_, T::QueueData> {
        // SAFETY: the disk is live and set up by `build` (type invariant);
        // its data is taken back only by `drop`, which cannot run while
        // `self` is borrowed, and never borrowed mutably.
        unsafe { borrow::<T>(self.disk.as_ptr()) }
    }

    /// The disk's name.
    pub(crate) fn name(&self) -> &CStr {
        // SAFETY: the disk is live (type invariant) and its name, set and
        // NUL-terminated in `build`, never changes.
        unsafe { CStr::from_char_ptr((*self.disk.as_ptr()).disk_name.as_ptr()) }
    }
}

impl<T: Operations> Drop for BioDisk<T> {
    /// Deletes the disk, then drops its queue data, then (the field) lets
    /// go of its bad sector list.
    fn drop(&mut self) {
        // SAFETY: live (type invariant).
        let data = unsafe { (*self.disk.as_ptr()).private_data };
        // SAFETY: added in `add` (type invariant). `del_gendisk` waits for
        // bios in flight and removes the attributes, so no callback
        // borrows the data once it returns.
        unsafe { kb::del_gendisk(self.disk.as_ptr()) };
        // SAFETY: deleted above; the last use of the disk.
        unsafe { kb::put_disk(self.disk.as_ptr()) };
        // SAFETY: `data` came from `into_foreign` (type invariant); this is
        // the one place it is given back, nothing can borrow it any more
        // (above), and `self` lends nothing past this point.
        drop(unsafe { T::QueueData::from_foreign(data) });
    }
}

extern "C" fn submit_bio_callback<T: Operations>(bio: *mut kb::bio) {
    // SAFETY: the block layer only submits valid bios to a live disk of
    // ours, set up by `build` for `T`, and `del_gendisk` waits for this
    // call before the disk's data can be taken back.
    let data = unsafe { borrow::<T>((*(*bio).bi_bdev).bd_disk) };
    // SAFETY: `bio` is non-null and handed to us for completion.
    let bio = unsafe { Bio::from_raw(NonNull::new_unchecked(bio)) };
    T::submit_bio(data, bio);
}

// SPDX-License-Identifier: GPL-2.0

//! Bio-based disks: the block layer hands each bio straight to the driver's
//! `submit_bio`, with no request queueing in between.
//!
//! C header: [`include/linux/blkdev.h`](srctree/include/linux/blkdev.h)

use crate::{
    ext::badblocks::Badblocks, ext::block::bio::Bio, ext::dax::Dax, ext::nvdimm::NdDevice,
    ext::sysfs::Groups,
};
use core::ptr::NonNull;
use kernel::{
    bindings as kb,
    error::{code::EINVAL, from_err_ptr, to_result},
    prelude::*,
    static_lock_class,
    sync::Arc,
    ModuleMetadata,
};

/// What a bio-based disk does with its bios.
pub(crate) trait Operations: Send + Sync + Sized + 'static {
    /// Serves `bio`; dropping it completes it.
    fn submit_bio(this: &Self, bio: Bio<'_>);

    /// The disk's list of bad sectors, if it keeps one.
    fn badblocks(this: &Self) -> Option<&Badblocks>;

    /// The DAX device the disk hosts, if its memory can be accessed
    /// directly.
    fn dax(this: &Self) -> Option<&Dax>;
}

/// Geometry and features of a new disk.
pub(crate) struct Params<'a, T> {
    /// The disk's name, at most `DISK_NAME_LEN - 1` bytes.
    pub(crate) name: &'a [u8],
    /// Capacity in 512-byte sectors.
    pub(crate) sectors: u64,
    /// Smallest addressable unit, in bytes.
    pub(crate) logical_block_size: u32,
    /// Smallest unit written without read-modify-write, in bytes.
    pub(crate) physical_block_size: u32,
    /// `BLK_FEAT_*` flags.
    pub(crate) features: kb::blk_features_t,
    /// NUMA node to allocate on.
    pub(crate) node: i32,
    /// Directories of sysfs attributes below the disk.
    pub(crate) groups: Option<Groups<T>>,
}

/// A live bio-based gendisk whose bios go to `T`.
///
/// # Invariants
///
/// `disk` was added with `device_add_disk` and its `private_data` points to
/// the `T` in `data`, which lives as long as `self`. Dropping `self`
/// deletes the disk, so `T` is never reached again after that.
pub(crate) struct GenDisk<T: Operations> {
    disk: NonNull<kb::gendisk>,
    data: Arc<T>,
}

// SAFETY: The gendisk functions used here may be called from any thread.
unsafe impl<T: Operations> Send for GenDisk<T> {}
// SAFETY: See `Send`; `&GenDisk` only reads.
unsafe impl<T: Operations> Sync for GenDisk<T> {}

impl<T: Operations> GenDisk<T> {
    /// The operations every disk of this module shares. The owner pins the
    /// module while a disk is open, so `rmmod` fails with `EBUSY` instead of
    /// pulling code from under an opener.
    const FOPS: kb::block_device_operations = kb::block_device_operations {
        owner: <crate::LocalModule as ModuleMetadata>::THIS_MODULE.as_ptr(),
        submit_bio: Some(Self::submit_bio_callback),
        ..pin_init::zeroed()
    };

    /// Allocates a disk for `data`, names and sizes it, and adds it below
    /// `parent`.
    pub(crate) fn add(parent: &NdDevice, p: &Params<'_, T>, data: Arc<T>) -> Result<Self> {
        let mut lim: kb::queue_limits = pin_init::zeroed();
        lim.logical_block_size = p.logical_block_size;
        lim.physical_block_size = p.physical_block_size;
        lim.max_hw_sectors = u32::MAX;
        lim.features = p.features;

        // SAFETY: `lim` is a valid limits structure for the call.
        let disk = from_err_ptr(unsafe {
            kb::__blk_alloc_disk(&mut lim, p.node, static_lock_class!().as_ptr())
        })?;
        // SAFETY: `from_err_ptr` passed, so `disk` is a valid new gendisk.
        let disk = unsafe { NonNull::new_unchecked(disk) };
        let put = kernel::types::ScopeGuard::new(|| {
            // SAFETY: allocated above and not added.
            unsafe { kb::put_disk(disk.as_ptr()) }
        });

        // SAFETY: the new disk is ours alone until it is added.
        let raw = unsafe { &mut *disk.as_ptr() };
        if p.name.len() >= raw.disk_name.len() {
            return Err(EINVAL);
        }
        for (d, s) in raw.disk_name.iter_mut().zip(p.name) {
            *d = *s as c_char;
        }
        raw.fops = &Self::FOPS;
        raw.private_data = Arc::as_ptr(&data).cast_mut().cast();
        if let Some(bb) = T::badblocks(&data) {
            raw.bb = bb.as_raw().cast();
        }
        // SAFETY: `disk` is valid.
        unsafe { kb::set_capacity(disk.as_ptr(), p.sectors) };

        // The DAX host is known before the disk appears, so a filesystem
        // mounted as soon as it does finds it.
        let dax = T::dax(&data);
        if let Some(dax) = dax {
            // SAFETY: `disk` is live; `drop` (or the guard below) removes the
            // host before the disk goes.
            unsafe { dax.add_host(disk.as_ptr())? };
        }
        let unhost = kernel::types::ScopeGuard::new(|| {
            if dax.is_some() {
                // SAFETY: added above.
                unsafe { Dax::remove_host(disk.as_ptr()) };
            }
        });

        // SAFETY: `parent` is a live bound device and `disk` is fully set
        // up; `private_data` stays valid as `data` is kept in `Self`.
        to_result(unsafe {
            kb::device_add_disk(
                parent.as_raw(),
                disk.as_ptr(),
                p.groups.map_or(core::ptr::null_mut(), Groups::as_ptr),
            )
        })?;
        unhost.dismiss();
        put.dismiss();
        if let Some(bb) = T::badblocks(&data) {
            bb.show_in(disk.as_ptr());
        }
        // INVARIANT: added above, `private_data` points into `data`.
        Ok(Self { disk, data })
    }

    /// The raw gendisk, for C functions that borrow it.
    pub(crate) fn as_raw(&self) -> *mut kb::gendisk {
        self.disk.as_ptr()
    }

    /// The data the disk's bios go to.
    pub(crate) fn data(&self) -> &T {
        &self.data
    }

    /// The data of a disk from its `struct gendisk`.
    ///
    /// # Safety
    ///
    /// `disk` must be a disk added by a live `GenDisk<T>`, and stay so for
    /// `'a`, as it does in the callbacks of its own sysfs attributes
    /// (`del_gendisk` removes them first).
    pub(crate) unsafe fn data_of<'a>(disk: *mut kb::gendisk) -> &'a T {
        // SAFETY: `private_data` is the `T` of a live `GenDisk<T>` (type
        // invariant and safety requirements).
        unsafe { &*(*disk).private_data.cast::<T>() }
    }

    extern "C" fn submit_bio_callback(bio: *mut kb::bio) {
        // SAFETY: the block layer only submits valid bios to a live disk of
        // ours, whose `private_data` is a `T` (type invariant).
        let data = unsafe { &*(*(*(*bio).bi_bdev).bd_disk).private_data.cast::<T>() };
        // SAFETY: `bio` is non-null and handed to us for completion.
        let bio = unsafe { Bio::from_raw(NonNull::new_unchecked(bio)) };
        T::submit_bio(data, bio);
    }
}

impl<T: Operations> Drop for GenDisk<T> {
    fn drop(&mut self) {
        // Direct access ends first: the filesystem on the disk learns its
        // memory is going, and no DAX operation runs after `kill`.
        if let Some(dax) = T::dax(&self.data) {
            // SAFETY: hosted since `add` (type invariant).
            unsafe { Dax::remove_host(self.disk.as_ptr()) };
            dax.kill();
        }
        // SAFETY: added in `add` (type invariant). `del_gendisk` waits for
        // bios in flight, so `data` is unused once it returns.
        unsafe { kb::del_gendisk(self.disk.as_ptr()) };
        if let Some(bb) = T::badblocks(&self.data) {
            bb.hide();
        }
        // SAFETY: deleted above; the last use of the disk.
        unsafe { kb::put_disk(self.disk.as_ptr()) };
    }
}

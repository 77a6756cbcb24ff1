// SPDX-License-Identifier: GPL-2.0

//! sysfs attributes of a device, shown and stored by the device's data.
//!
//! An attribute is a type implementing [`Attribute`]; [`DevAttr::new`]
//! turns it into the `struct device_attribute` sysfs wants, and a static
//! [`AttrGroup`] of those becomes a directory below the device. The kind of
//! device, an [`AttributeOwner`], says how its data is found: for a
//! bio-based disk, `BioDisk<T>` (its data is what its queue data, a
//! `T::QueueData`, lends: a `T` for a `KBox<T>`).
//!
//! C header: [`include/linux/sysfs.h`](srctree/include/linux/sysfs.h)

use core::{marker::PhantomData, ptr};
use kernel::{
    bindings as kb,
    error::code::{EINVAL, EIO},
    fmt,
    page::PAGE_SIZE,
    prelude::*,
    str::{CStr, CString},
};

/// Devices whose attributes reach data of type [`AttributeOwner::Data`].
///
/// # Examples
///
/// The abstraction of a kind of device implements it: `BioDisk<T>` of
/// `ext::block::bio_disk` lends a disk's attributes what the disk's queue
/// data lends. The simplest kind lends one static to all its devices:
///
/// ```no_run
/// use crate::ext::sysfs::AttributeOwner;
/// use kernel::{bindings, sync::atomic::Atomic};
///
/// /// Devices whose attributes all reach one global limit.
/// struct Global;
///
/// static LIMIT: Atomic<u32> = Atomic::new(0);
///
/// // SAFETY: `with_data` lends every device the same static.
/// unsafe impl AttributeOwner for Global {
///     type Data = Atomic<u32>;
///
///     unsafe fn with_data<R>(
///         _dev: *mut bindings::device,
///         f: impl FnOnce(&Atomic<u32>) -> R,
///     ) -> R {
///         f(&LIMIT)
///     }
/// }
/// ```
///
/// See [`Attribute`] for a whole group.
///
/// # Safety
///
/// [`AttributeOwner::with_data`] must lend `f` the data of any device that
/// has attribute groups of type [`Groups<Self>`], called in the callback of
/// one of these attributes.
pub(crate) unsafe trait AttributeOwner: 'static {
    /// What the attributes show and store.
    type Data;

    /// Calls `f` with the data of `dev`.
    ///
    /// # Safety
    ///
    /// `dev` must be a device with attribute groups of type
    /// [`Groups<Self>`], in the callback of one of its attributes.
    unsafe fn with_data<R>(dev: *mut kb::device, f: impl FnOnce(&Self::Data) -> R) -> R;
}

/// One value of a device with data `T`, as a sysfs file.
///
/// # Examples
///
/// A writable file of devices whose data is a `Disk`, its directory and
/// the list such a device is added with. The kind of device here, `Disks`
/// (hidden; see [`AttributeOwner`]), lends them all the one `DISK`; a
/// bio-based disk lends each disk its own (rpmem's files are in
/// `rust/pmem/attrs.rs`):
///
/// ```
/// use crate::ext::sysfs::{AttrGroup, AttrGroups, AttrList, Attribute, DevAttr, Groups};
/// use kernel::{fmt, str::CStr, sync::atomic::{Atomic, Relaxed}};
/// # use crate::ext::sysfs::AttributeOwner;
/// # use kernel::bindings;
///
/// struct Disk {
///     limit: Atomic<u32>,
/// }
///
/// static DISK: Disk = Disk { limit: Atomic::new(0) };
/// # struct Disks;
/// # // SAFETY: `with_data` lends every device the same static.
/// # unsafe impl AttributeOwner for Disks {
/// #     type Data = Disk;
/// #     unsafe fn with_data<R>(_dev: *mut bindings::device, f: impl FnOnce(&Disk) -> R) -> R {
/// #         f(&DISK)
/// #     }
/// # }
///
/// /// `limit`, a file root may write a number to.
/// struct Limit;
///
/// impl Attribute<Disk> for Limit {
///     const NAME: &'static CStr = c"limit";
///     const WRITABLE: bool = true;
///
///     fn show(disk: &Disk, f: &mut fmt::Formatter<'_>) -> fmt::Result {
///         write!(f, "{}", disk.limit.load(Relaxed))
///     }
///
///     fn store(disk: &Disk, input: &[u8]) -> Result {
///         let text = core::str::from_utf8(input).map_err(|_| EINVAL)?;
///         let value = text.trim_end_matches('\n').parse().map_err(|_| EINVAL)?;
///         disk.limit.store(value, Relaxed);
///         Ok(())
///     }
/// }
///
/// // The files of the device, in a directory `ops` below it.
/// static LIMIT: DevAttr<Disks> = DevAttr::new::<Limit>();
/// static ATTRS: AttrList<Disks, 1> = AttrList::new([&LIMIT]);
/// static OPS: AttrGroup<Disks> = AttrGroup::new(c"ops", &ATTRS);
/// static GROUPS: AttrGroups<Disks, 1> = AttrGroups::new([&OPS]);
///
/// // What the device is added with (for a disk, `NewBioDisk::add`).
/// let groups: Groups<Disks> = GROUPS.get();
/// assert!(!groups.as_ptr().is_null());
///
/// // What writes of "42" and of "lots" to the file do.
/// Limit::store(&DISK, b"42\n")?;
/// assert_eq!(DISK.limit.load(Relaxed), 42);
/// assert_eq!(Limit::store(&DISK, b"lots\n"), Err(EINVAL));
/// # Ok::<(), Error>(())
/// ```
pub(crate) trait Attribute<T>: 'static {
    /// The file's name.
    const NAME: &'static CStr;
    /// Whether root may write it.
    const WRITABLE: bool = false;

    /// Writes the value, without the trailing newline.
    fn show(data: &T, f: &mut fmt::Formatter<'_>) -> fmt::Result;

    /// Takes a new value, as written (trailing newline included).
    fn store(_data: &T, _input: &[u8]) -> Result {
        Err(EINVAL)
    }
}

/// A `struct device_attribute` of devices of kind `O`, for use in statics.
///
/// # Examples
///
/// See [`Attribute`] for a whole group.
///
/// ```no_run
/// use crate::ext::sysfs::{Attribute, AttributeOwner, DevAttr};
///
/// // The file `A` of devices of kind `O`, which shows their data.
/// const fn file<O: AttributeOwner, A: Attribute<O::Data>>() -> DevAttr<O> {
///     DevAttr::new::<A>()
/// }
/// ```
#[repr(C)]
pub(crate) struct DevAttr<T>(kb::device_attribute, PhantomData<fn(&T)>);

// SAFETY: Only read after construction (by sysfs).
unsafe impl<T> Sync for DevAttr<T> {}

impl<O: AttributeOwner> DevAttr<O> {
    /// The attribute `A`.
    pub(crate) const fn new<A: Attribute<O::Data>>() -> Self {
        let mut attr: kb::device_attribute = pin_init::zeroed();
        attr.attr.name = const_char_ptr(A::NAME);
        attr.attr.mode = if A::WRITABLE { 0o644 } else { 0o444 };
        attr.__bindgen_anon_1.show = Some(show::<O, A>);
        if A::WRITABLE {
            attr.__bindgen_anon_2.store = Some(store::<O, A>);
        }
        Self(attr, PhantomData)
    }

    const fn as_ptr(&'static self) -> *mut kb::attribute {
        ptr::from_ref(&self.0.attr).cast_mut()
    }
}

/// A null-terminated list of attributes, for an [`AttrGroup`].
///
/// # Examples
///
/// See [`Attribute`] for a whole group.
///
/// ```no_run
/// use crate::ext::sysfs::{AttrList, AttributeOwner, DevAttr};
///
/// const fn two<O: AttributeOwner>(
///     a: &'static DevAttr<O>,
///     b: &'static DevAttr<O>,
/// ) -> AttrList<O, 2> {
///     AttrList::new([a, b])
/// }
/// ```
#[repr(C)]
pub(crate) struct AttrList<T, const N: usize> {
    attrs: [*mut kb::attribute; N],
    end: *mut kb::attribute,
    _data: PhantomData<fn(&T)>,
}

// SAFETY: Only read after construction (by sysfs).
unsafe impl<T, const N: usize> Sync for AttrList<T, N> {}

impl<T: AttributeOwner, const N: usize> AttrList<T, N> {
    /// Lists `attrs`.
    pub(crate) const fn new(attrs: [&'static DevAttr<T>; N]) -> Self {
        let mut ptrs = [ptr::null_mut(); N];
        let mut i = 0;
        while i < N {
            ptrs[i] = attrs[i].as_ptr();
            i += 1;
        }
        Self {
            attrs: ptrs,
            end: ptr::null_mut(),
            _data: PhantomData,
        }
    }
}

/// A named group of attributes: a directory below the disk.
///
/// # Examples
///
/// See [`Attribute`] for a whole group.
///
/// ```no_run
/// use crate::ext::sysfs::{AttrGroup, AttrList, AttributeOwner};
///
/// // The directory `dax` of rpmem's disks is one of these.
/// const fn dax<O: AttributeOwner>(files: &'static AttrList<O, 3>) -> AttrGroup<O> {
///     AttrGroup::new(c"dax", files)
/// }
/// ```
#[repr(C)]
pub(crate) struct AttrGroup<T>(kb::attribute_group, PhantomData<fn(&T)>);

// SAFETY: Only read after construction (by sysfs).
unsafe impl<T> Sync for AttrGroup<T> {}

impl<T: AttributeOwner> AttrGroup<T> {
    /// The directory `name` holding `list`.
    pub(crate) const fn new<const N: usize>(
        name: &'static CStr,
        list: &'static AttrList<T, N>,
    ) -> Self {
        let mut group: kb::attribute_group = pin_init::zeroed();
        group.name = const_char_ptr(name);
        group.__bindgen_anon_2.attrs = ptr::from_ref(list).cast::<*mut kb::attribute>().cast_mut();
        Self(group, PhantomData)
    }
}

/// The null-terminated list of groups a disk is added with.
///
/// # Examples
///
/// See [`Attribute`] for a whole group.
///
/// ```no_run
/// use crate::ext::sysfs::{AttrGroup, AttrGroups, AttributeOwner};
///
/// const fn one<O: AttributeOwner>(group: &'static AttrGroup<O>) -> AttrGroups<O, 1> {
///     AttrGroups::new([group])
/// }
/// ```
#[repr(C)]
pub(crate) struct AttrGroups<T, const N: usize> {
    groups: [*const kb::attribute_group; N],
    end: *const kb::attribute_group,
    _data: PhantomData<fn(&T)>,
}

// SAFETY: Only read after construction (by sysfs).
unsafe impl<T, const N: usize> Sync for AttrGroups<T, N> {}

impl<T: AttributeOwner, const N: usize> AttrGroups<T, N> {
    /// Lists `groups`.
    pub(crate) const fn new(groups: [&'static AttrGroup<T>; N]) -> Self {
        let mut ptrs = [ptr::null(); N];
        let mut i = 0;
        while i < N {
            ptrs[i] = ptr::from_ref(&groups[i].0);
            i += 1;
        }
        Self {
            groups: ptrs,
            end: ptr::null(),
            _data: PhantomData,
        }
    }

    /// The list, for adding a device with it.
    pub(crate) const fn get(&'static self) -> Groups<T> {
        Groups(
            ptr::from_ref(self)
                .cast::<*const kb::attribute_group>()
                .cast_mut(),
            PhantomData,
        )
    }
}

/// A static null-terminated list of attribute groups for devices of kind
/// `T`.
///
/// # Examples
///
/// See [`Attribute`] for a whole group.
///
/// The abstraction of the kind of device takes it when it adds one (a
/// bio-based disk's `NewBioDisk::add`) and hands C the raw list:
///
/// ```no_run
/// use crate::ext::sysfs::{AttrGroups, AttributeOwner, Groups};
/// use kernel::bindings;
///
/// fn raw<O: AttributeOwner>(
///     list: &'static AttrGroups<O, 2>,
/// ) -> *mut *const bindings::attribute_group {
///     // `Copy`: one static list serves every device of the kind.
///     let groups: Groups<O> = list.get();
///     groups.as_ptr()
/// }
/// ```
///
/// # Invariants
///
/// Points to an [`AttrGroups<T, _>`] static.
pub(crate) struct Groups<T>(*mut *const kb::attribute_group, PhantomData<fn(&T)>);

impl<T> Clone for Groups<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Groups<T> {}

impl<T> Groups<T> {
    /// The list, for `device_add_disk` and the like.
    pub(crate) fn as_ptr(self) -> *mut *const kb::attribute_group {
        self.0
    }
}

/// `CStrExt::as_char_ptr`, which is not `const`, for statics.
#[allow(clippy::disallowed_methods)] // The same cast `as_char_ptr` does.
const fn const_char_ptr(s: &'static CStr) -> *const c_char {
    s.as_ptr().cast()
}

/// Formats one line of sysfs output: the value and a newline.
struct Line<'a, T, A>(&'a T, PhantomData<A>);

impl<T, A: Attribute<T>> fmt::Display for Line<'_, T, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        A::show(self.0, f)?;
        f.write_str("\n")
    }
}

extern "C" fn show<O: AttributeOwner, A: Attribute<O::Data>>(
    dev: *mut kb::device,
    _attr: *mut kb::device_attribute,
    buf: *mut c_char,
) -> isize {
    // SAFETY: sysfs calls this for attributes of live devices of kind `O`,
    // the only ones given `Groups<O>`.
    let line = unsafe {
        O::with_data(dev, |data| {
            let value = Line::<O::Data, A>(data, PhantomData);
            CString::try_from_fmt(fmt!("{value}"))
        })
    };
    let Ok(line) = line else {
        return EIO.to_errno() as isize;
    };
    let bytes = line.to_bytes();
    let len = bytes.len().min(PAGE_SIZE - 1);
    // SAFETY: sysfs hands out a `PAGE_SIZE` buffer.
    unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), buf.cast::<u8>(), len) };
    len as isize
}

extern "C" fn store<O: AttributeOwner, A: Attribute<O::Data>>(
    dev: *mut kb::device,
    _attr: *mut kb::device_attribute,
    buf: *const c_char,
    count: usize,
) -> isize {
    // SAFETY: sysfs passes `count` bytes of input at `buf`.
    let input = unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), count) };
    // SAFETY: as in `show`.
    match unsafe { O::with_data(dev, |data| A::store(data, input)) } {
        Ok(()) => count as isize,
        Err(e) => e.to_errno() as isize,
    }
}

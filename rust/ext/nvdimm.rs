// SPDX-License-Identifier: GPL-2.0

//! libnvdimm namespace drivers: devices on the nd bus and their
//! registration.
//!
//! C headers: [`include/linux/nd.h`](srctree/include/linux/nd.h),
//! [`drivers/nvdimm/nd.h`](srctree/drivers/nvdimm/nd.h)

pub(crate) mod btt;
pub(crate) mod mapping;
pub(crate) mod pfn;
pub(crate) mod region;

use crate::{
    ext::{
        block::bio_disk::{self, BioDisk},
        memregion::MemRegion,
        mm::pagemap::PageRange,
        nvdimm::region::NdRegion,
    },
    sys::bindings,
};
use core::{marker::PhantomData, ptr::NonNull};
use kernel::{
    bindings as kb,
    device::{Core, CoreInternal, Device, DeviceContext, Normal},
    driver,
    error::{
        code::{EINVAL, ENXIO, EOPNOTSUPP},
        from_err_ptr, from_result, to_result,
    },
    prelude::*,
    str::{CStr, CString},
    types::Opaque,
    ThisModule,
};

/// A device on the nd bus offered to a namespace driver: a namespace, or a
/// btt/pfn/dax personality of one.
///
/// # Examples
///
/// What a probe asks of the device it is offered (see [`Driver`]):
///
/// ```no_run
/// use crate::ext::nvdimm::{Kind, NdDevice};
/// use kernel::device::Core;
///
/// fn probe(dev: &NdDevice<Core<'_>>) -> Result {
///     // Unconfigured personalities (seeds) have no namespace.
///     let ns = dev.namespace()?;
///     match dev.kind() {
///         Kind::Dax => return Err(ENXIO), // dax_pmem's.
///         Kind::Btt | Kind::Pfn | Kind::Namespace => (),
///     }
///     dev_info!(dev.dev(), "{} on node {}\n", ns.name(), dev.numa_node());
///     let _ = dev.region();
///     Ok(())
/// }
/// ```
///
/// # Invariants
///
/// Wraps a live `struct device` of the nd bus, for as long as a reference to
/// it is handed out by the bus callbacks below, in the device context `Ctx`
/// (`Core` in a bus callback, as for any bus device).
#[repr(transparent)]
pub(crate) struct NdDevice<Ctx: DeviceContext = Normal>(Opaque<kb::device>, PhantomData<Ctx>);

// SAFETY: `NdDevice<Ctx>` is a transparent wrapper of `struct device`,
// whatever `Ctx`.
kernel::impl_device_context_deref!(unsafe { NdDevice });

impl<Ctx: DeviceContext> NdDevice<Ctx> {
    /// The raw device.
    pub(crate) fn as_raw(&self) -> *mut kb::device {
        self.0.get()
    }

    /// The generic device, in the same context.
    pub(crate) fn dev(&self) -> &Device<Ctx> {
        // SAFETY: `Device<Ctx>` is a transparent wrapper of the same live
        // `struct device` (type invariant), in the same context.
        unsafe { &*self.as_raw().cast::<Device<Ctx>>() }
    }
}

impl<Ctx: DeviceContext> AsRef<Device<Ctx>> for NdDevice<Ctx> {
    fn as_ref(&self) -> &Device<Ctx> {
        self.dev()
    }
}

impl NdDevice {
    /// Makes `disk`, a disk added below this device, read-only if and only
    /// if the region is (`nvdimm_check_and_set_ro`); a disk added below
    /// another device is left alone.
    pub(crate) fn check_and_set_ro<T: bio_disk::Operations>(&self, disk: &BioDisk<T>) {
        let disk = disk.as_raw();
        // SAFETY: `disk` is live and added, so its `part0` device is set up.
        let parent = unsafe { (*(*disk).part0).bd_device.parent };
        if parent != self.as_raw() {
            return;
        }
        // SAFETY: `disk` is live and its parent is this nd device, whose
        // parent is its region, as `nvdimm_check_and_set_ro` expects; it
        // may change the disk's read-only state (`set_disk_ro`).
        unsafe { bindings::nvdimm_check_and_set_ro(disk) };
    }

    /// What the device is.
    pub(crate) fn kind(&self) -> Kind {
        let dev = self.as_raw();
        // SAFETY: `dev` is live (type invariant); the checks only compare
        // its device type.
        unsafe {
            if bindings::is_nd_btt(dev) {
                Kind::Btt
            } else if bindings::is_nd_pfn(dev) {
                Kind::Pfn
            } else if bindings::is_nd_dax(dev) {
                Kind::Dax
            } else {
                Kind::Namespace
            }
        }
    }

    /// Validates the device for a driver and returns the namespace behind it
    /// (`nvdimm_namespace_common_probe`): fails if another personality
    /// claims it, if it is locked, or if it is too small.
    pub(crate) fn namespace(&self) -> Result<Namespace<'_>> {
        // SAFETY: `self` is live (type invariant).
        let ndns = from_err_ptr(unsafe { bindings::nvdimm_namespace_common_probe(self.as_raw()) })?;
        let ndns = NonNull::new(ndns).ok_or(ENXIO)?;
        // INVARIANT: the namespace is this device or the one it claims; it
        // lives at least as long as `self`.
        Ok(Namespace {
            ndns,
            _dev: PhantomData,
        })
    }

    /// The region the device belongs to, which outlives it.
    pub(crate) fn region(&self) -> &NdRegion {
        // SAFETY: nd bus devices sit below their region, so the parent is a
        // live `struct nd_region` device.
        let region = unsafe { bindings::to_nd_region((*self.as_raw()).parent) };
        // SAFETY: the region outlives its child devices, so it lives as
        // long as `self` is borrowed.
        unsafe { NdRegion::from_raw(region) }
    }

    /// The device's NUMA node.
    pub(crate) fn numa_node(&self) -> i32 {
        // SAFETY: `self` is live (type invariant).
        unsafe { bindings::rpmem_dev_to_node(self.as_raw()) }
    }
}

/// The kinds of device a namespace driver is offered.
///
/// # Examples
///
/// See [`NdDevice`].
///
/// ```no_run
/// use crate::ext::nvdimm::Kind;
///
/// fn needs_a_btt(kind: Kind) -> bool {
///     kind == Kind::Btt
/// }
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A namespace, used raw.
    Namespace,
    /// A namespace with a Block Translation Table (a `btt` info block).
    Btt,
    /// A namespace with struct pages set up by ndctl (fsdax mode: a `pfn`
    /// info block).
    Pfn,
    /// A namespace for device-dax.
    Dax,
}

/// Asks the platform to clear media errors in `len` bytes at physical
/// address `phys` (`nvdimm_clear_poison`), through the nd bus above `dev`;
/// returns how many bytes were cleared. Private: drivers clear poison in
/// what they mapped ([`mapping::Mapping::clear_poison`]).
fn clear_poison(dev: &Device, phys: u64, len: u32) -> Result<u64> {
    // `Device` is a transparent wrapper of `struct device`.
    let dev = core::ptr::from_ref(dev).cast_mut().cast::<kb::device>();
    // SAFETY: `dev` is live; a device with no nd bus above it gets `ENXIO`.
    let cleared = unsafe { bindings::nvdimm_clear_poison(dev, phys, len) };
    if cleared < 0 {
        return Err(Error::from_errno(cleared as i32));
    }
    Ok(cleared as u64)
}

/// A namespace: a range of persistent memory described by its region.
///
/// # Examples
///
/// What rpmem reads from a namespace before claiming it:
///
/// ```no_run
/// use crate::ext::nvdimm::{Namespace, NdDevice};
/// use kernel::device::Core;
///
/// fn describe(dev: &NdDevice<Core<'_>>) -> Result {
///     let ns: Namespace<'_> = dev.namespace()?;
///     let (start, size) = ns.resource();
///     let name = ns.disk_name()?; // "pmem0", "pmem0.1", ...
///     pr_info!("{}: {size:#x} bytes at {start:#x}, {}-byte sectors, disk {}\n",
///              ns.name(), ns.sector_size(), &*name);
///     let _claim = ns.claim()?;
///     Ok(())
/// }
/// ```
///
/// # Invariants
///
/// `ndns` is a live `struct nd_namespace_common` of a pmem or io namespace
/// (both embed a `struct nd_namespace_io`), alive for `'a`.
pub(crate) struct Namespace<'a> {
    ndns: NonNull<bindings::nd_namespace_common>,
    _dev: PhantomData<&'a NdDevice>,
}

impl<'a> Namespace<'a> {
    fn as_raw(&self) -> *mut bindings::nd_namespace_common {
        self.ndns.as_ptr()
    }

    /// The namespace's name (`namespaceX.Y`), borrowed from its device.
    pub(crate) fn name(&self) -> &'a CStr {
        // SAFETY: the namespace is live for `'a` (type invariant), and the
        // name of a registered device lives as long as the device.
        unsafe { CStr::from_char_ptr(kb::dev_name(&raw mut (*self.as_raw()).dev)) }
    }

    /// Physical start address and size in bytes.
    pub(crate) fn resource(&self) -> (u64, u64) {
        // SAFETY: a pmem or io namespace (type invariant) embeds its
        // resource, which is set up before the device is registered.
        let res = unsafe { &*bindings::rpmem_ndns_res(self.as_raw()) };
        (res.start, res.end.wrapping_sub(res.start).wrapping_add(1))
    }

    /// Claims the namespace's range under its name, for mapping it; fails
    /// with `EBUSY` when any part of it is claimed already.
    pub(crate) fn claim(&self) -> Result<MemRegion> {
        let (start, size) = self.resource();
        // SAFETY: the range is the namespace's persistent memory, described
        // by its region, which a driver of the namespace may map and write.
        unsafe { MemRegion::request(start, size, self.name()) }
    }

    /// Logical sector size: 512, or 4096 when a label says so.
    pub(crate) fn sector_size(&self) -> u32 {
        // SAFETY: `self` is live (type invariant).
        unsafe { bindings::pmem_sector_size(self.as_raw()) }
    }

    /// Opens the namespace's raw byte access (`devm_namespace_enable`), which
    /// reading info blocks needs, for `dev` (the namespace or a personality
    /// of it). Closed when the guard drops; `dev` must outlive the guard.
    pub(crate) fn enable<'b>(&'b self, dev: &'b NdDevice) -> Result<EnabledNamespace<'b>> {
        // SAFETY: both are live (type invariants).
        to_result(unsafe {
            bindings::devm_namespace_enable(
                dev.as_raw(),
                self.as_raw(),
                bindings::rpmem_info_block_reserve().into(),
            )
        })?;
        // INVARIANT: enabled above.
        Ok(EnabledNamespace { ns: self, dev })
    }

    /// The disk name nd_pmem gives this namespace (`pmemX[.Y]`).
    pub(crate) fn disk_name(&self) -> Result<CString> {
        let mut name = [0u8; kb::DISK_NAME_LEN as usize];
        // SAFETY: `name` has room for `DISK_NAME_LEN` bytes, as required.
        let ret = unsafe {
            bindings::nvdimm_namespace_disk_name(self.as_raw(), name.as_mut_ptr().cast())
        };
        if ret.is_null() {
            return Err(ENXIO);
        }
        let name = CStr::from_bytes_until_nul(&name).map_err(|_| EINVAL)?;
        Ok(CString::try_from(name)?)
    }
}

/// A namespace whose raw byte access is open, for reading info blocks.
///
/// # Examples
///
/// A raw namespace with an info block is handed to its personality, as
/// nd_pmem does:
///
/// ```no_run
/// use crate::ext::nvdimm::NdDevice;
/// use kernel::device::Core;
///
/// fn raw(dev: &NdDevice<Core<'_>>) -> Result {
///     let ns = dev.namespace()?;
///     let enabled = ns.enable(dev)?;
///     if enabled.probe_personality()? {
///         return Err(ENXIO); // The personality is probed on its own.
///     }
///     Ok(())
/// }
/// ```
///
/// # Invariants
///
/// `devm_namespace_enable` succeeded for `dev` and `ns`.
pub(crate) struct EnabledNamespace<'a> {
    ns: &'a Namespace<'a>,
    dev: &'a NdDevice,
}

impl EnabledNamespace<'_> {
    /// Looks for a btt, pfn or dax info block and, if one is found,
    /// registers the personality device it describes, which then claims
    /// the namespace. Returns whether it did.
    pub(crate) fn probe_personality(&self) -> Result<bool> {
        let (dev, ndns) = (self.dev.as_raw(), self.ns.as_raw());
        // SAFETY: both are live and the namespace is enabled (type
        // invariant). Like nd_pmem, a BTT's absence is any error, while a
        // pfn or dax block that is found but unusable fails the probe.
        unsafe {
            if bindings::nd_btt_probe(dev, ndns) == 0 {
                return Ok(true);
            }
            for probe in [bindings::nd_pfn_probe, bindings::nd_dax_probe] {
                match probe(dev, ndns) {
                    0 => return Ok(true),
                    e if e == EOPNOTSUPP.to_errno() => return Err(EOPNOTSUPP),
                    _ => (),
                }
            }
        }
        Ok(false)
    }

    /// The pfn personality `dev` of this namespace, whose info block may be
    /// read while the namespace is enabled.
    pub(crate) fn pfn(&self) -> Result<NdPfn<'_>> {
        if self.dev.kind() != Kind::Pfn {
            return Err(EINVAL);
        }
        // SAFETY: `dev` is a live pfn device (checked above).
        let pfn = unsafe { bindings::to_nd_pfn(self.dev.as_raw()) };
        // INVARIANT: a live pfn device whose namespace is enabled, both for
        // as long as `self` is borrowed.
        Ok(NdPfn {
            pfn: NonNull::new(pfn).ok_or(EINVAL)?,
            _ns: PhantomData,
        })
    }
}

/// A pfn personality (`struct nd_pfn`) of an enabled namespace: the info
/// block of a namespace in fsdax mode.
///
/// # Examples
///
/// What [`PfnLayout::read`](crate::ext::nvdimm::pfn::PfnLayout::read)
/// does:
///
/// ```no_run
/// use crate::ext::{mm::pagemap::PageRange, nvdimm::EnabledNamespace};
///
/// fn data_offset(ns: &EnabledNamespace<'_>) -> Result<u64> {
///     let mut pages = PageRange::unset()?;
///     let info = ns.pfn()?.setup(&mut pages)?;
///     if info.start_pad != 0 {
///         return Err(EOPNOTSUPP);
///     }
///     Ok(info.data_offset)
/// }
/// ```
///
/// # Invariants
///
/// `pfn` is a live pfn device whose namespace stays enabled for `'a`.
pub(crate) struct NdPfn<'a> {
    pfn: NonNull<bindings::nd_pfn>,
    _ns: PhantomData<&'a EnabledNamespace<'a>>,
}

/// What [`NdPfn::setup`] read from a valid info block.
///
/// # Examples
///
/// See [`NdPfn`].
///
/// ```no_run
/// use crate::ext::nvdimm::PfnInfo;
///
/// fn data_start(info: &PfnInfo) -> u64 {
///     info.data_offset + u64::from(info.start_pad)
/// }
/// ```
pub(crate) struct PfnInfo {
    /// Padding before the data (deprecated), in bytes.
    pub(crate) start_pad: u32,
    /// Where the data starts, from the start of the page range.
    pub(crate) data_offset: u64,
}

impl NdPfn<'_> {
    /// Reads and validates the info block (`nvdimm_setup_pfn`) and
    /// describes in `pages` the range that gets struct pages, with the
    /// altmap if the struct pages are on the device.
    pub(crate) fn setup(&self, pages: &mut PageRange) -> Result<PfnInfo> {
        let pfn = self.pfn.as_ptr();
        // SAFETY: `pfn` is a live pfn device whose namespace is enabled
        // (type invariant), as reading the info block needs; `pages` is an
        // unset page map, which is what the call fills in.
        to_result(unsafe { bindings::nvdimm_setup_pfn(pfn, pages.as_raw()) })?;
        // SAFETY: `nvdimm_setup_pfn` succeeded, so the info block was read
        // and validated into `pfn_sb`, which lives as long as the device.
        let sb = unsafe { &*(*pfn).pfn_sb };
        Ok(PfnInfo {
            start_pad: u32::from_le(sb.start_pad),
            data_offset: u64::from_le(sb.dataoff),
        })
    }
}

impl Drop for EnabledNamespace<'_> {
    fn drop(&mut self) {
        // SAFETY: enabled (type invariant).
        unsafe { bindings::devm_namespace_disable(self.dev.as_raw(), self.ns.as_raw()) };
    }
}

/// libnvdimm events a bound driver is told about.
///
/// # Examples
///
/// See [`Driver`].
///
/// ```no_run
/// use crate::ext::nvdimm::Event;
///
/// fn what(event: Event) -> &'static str {
///     match event {
///         Event::RevalidatePoison => "media errors",
///         Event::RevalidateRegion => "region state",
///     }
/// }
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// The region's list of media errors changed.
    RevalidatePoison,
    /// The region's state (read-only, for one) changed.
    RevalidateRegion,
}

/// A namespace driver, in the shape of 7.3's bus drivers (auxiliary,
/// platform): `Self` names the driver, [`Driver::Data`] is the state of one
/// bound device (the driver data), which [`Driver::probe`] initialises in
/// place and the driver core drops once the device is unbound (after
/// [`Driver::unbind`]), so its `Drop` is the driver's teardown.
///
/// libnvdimm matches by device type, not by an id table: every raw pmem
/// or io namespace, and every btt/pfn/dax personality of one, is offered
/// (`ND_DRIVER_NAMESPACE_IO | ND_DRIVER_NAMESPACE_PMEM`). Unlike the
/// auxiliary and platform drivers, an nd driver also has `shutdown` and
/// `notify`.
///
/// # Examples
///
/// A driver that binds every namespace and only logs, declared as a module
/// with `module_nd_driver!` (as `rust/rpmem.rs` declares rpmem's; not
/// here, since a crate is one module):
///
/// ```no_run
/// use crate::ext::nvdimm::{Driver, Event, NdDevice};
/// use kernel::{device::Core, str::CString};
///
/// struct Logger;
///
/// /// The state of a bound namespace: its name.
/// struct Bound {
///     name: CString,
/// }
///
/// impl Driver for Logger {
///     type Data<'bound> = Bound;
///
///     fn probe<'bound>(dev: &'bound NdDevice<Core<'_>>) -> impl PinInit<Bound, Error> + 'bound {
///         let name = dev.namespace().and_then(|ns| ns.disk_name());
///         name.map(|name| Bound { name })
///     }
///
///     fn shutdown(dev: &NdDevice<Core<'_>>, this: Pin<&Bound>) {
///         dev_info!(dev.dev(), "{}: shutdown\n", &*this.name);
///     }
///
///     fn notify(dev: &NdDevice<Core<'_>>, this: Pin<&Bound>, event: Event) {
///         if event == Event::RevalidatePoison {
///             dev_info!(dev.dev(), "{}: new media errors\n", &*this.name);
///         }
///     }
/// }
/// ```
pub(crate) trait Driver {
    /// The state of one bound device.
    type Data<'bound>: Send + Sync + 'bound;

    /// Binds to `dev`, or fails with the reason it cannot.
    fn probe<'bound>(
        dev: &'bound NdDevice<Core<'_>>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound;

    /// `dev` is being unbound; `this` is dropped after this returns.
    fn unbind<'bound>(dev: &'bound NdDevice<Core<'_>>, this: Pin<&Self::Data<'bound>>) {
        let _ = (dev, this);
    }

    /// The system is going down.
    fn shutdown<'bound>(dev: &'bound NdDevice<Core<'_>>, this: Pin<&Self::Data<'bound>>);

    /// Something changed in the region of `dev`.
    fn notify<'bound>(
        dev: &'bound NdDevice<Core<'_>>,
        this: Pin<&Self::Data<'bound>>,
        event: Event,
    );
}

/// Declares a kernel module that registers one nd namespace driver, as
/// `module_auxiliary_driver!` does for an auxiliary one: the fields of
/// `module!`, `type` naming the [`Driver`]; the driver takes the module's
/// name. (The test modules register no driver: unused there.)
///
/// # Examples
///
/// Not compiled as a test, since a crate is one module and this declares
/// one: `rust/rpmem.rs` declares rpmem's this way (with its `params`), and
/// that is compiled in every build of `rpmem.ko`. `Logger` is the driver of
/// [`Driver`]'s example.
///
/// ```ignore
/// module_nd_driver! {
///     type: Logger,
///     name: "nd_logger",
///     authors: ["The rpmem developers"],
///     description: "Logs the namespaces it is bound to",
///     license: "GPL",
/// }
/// ```
#[cfg_attr(rpmem_kunit, allow(unused_macros))]
macro_rules! module_nd_driver {
    ($($f:tt)*) => {
        kernel::module_driver!(<T>, $crate::ext::nvdimm::Adapter<T>, { $($f)* });
    };
}
#[cfg_attr(rpmem_kunit, allow(unused_imports))]
pub(crate) use module_nd_driver;

/// The nd bus side of [`driver::Registration`] for a [`Driver`] `T`.
///
/// # Examples
///
/// Only `module_nd_driver!` names it; this is what it registers:
///
/// ```no_run
/// use crate::ext::nvdimm::{Adapter, Driver};
/// use kernel::{driver::Registration, str::CStr, ThisModule};
///
/// fn register<T: Driver + 'static>(
///     name: &'static CStr,
///     module: &'static ThisModule,
/// ) -> impl PinInit<Registration<Adapter<T>>, Error> {
///     Registration::new(name, module)
/// }
/// ```
pub(crate) struct Adapter<T: Driver>(PhantomData<T>);

// SAFETY:
// - `nd_device_driver` is a C type (`repr(C)`).
// - `T::Data` is the driver data: `probe_callback` stores it.
// - `struct nd_device_driver` embeds its `struct device_driver` at `drv`.
unsafe impl<T: Driver> driver::DriverLayout for Adapter<T> {
    type DriverType = bindings::nd_device_driver;
    type DriverData<'bound> = T::Data<'bound>;
    const DEVICE_DRIVER_OFFSET: usize = core::mem::offset_of!(Self::DriverType, drv);
}

// SAFETY: `unregister` is only valid after a successful `register` of the
// same driver, which `driver::Registration` guarantees.
unsafe impl<T: Driver> driver::RegistrationOps for Adapter<T> {
    unsafe fn register(
        drv: &Opaque<Self::DriverType>,
        name: &'static CStr,
        module: &'static ThisModule,
    ) -> Result {
        let d = drv.get();
        // SAFETY: the driver is not registered yet, so its fields may be
        // set; `d` is valid and pinned until `unregister`.
        unsafe {
            (*d).type_ = (bindings::RPMEM_ND_DRIVER_NAMESPACE_IO
                | bindings::RPMEM_ND_DRIVER_NAMESPACE_PMEM) as usize;
            (*d).probe = Some(Self::probe_callback);
            (*d).remove = Some(Self::remove_callback);
            (*d).shutdown = Some(Self::shutdown_callback);
            (*d).notify = Some(Self::notify_callback);
            (*d).drv.name = name.as_char_ptr();
            to_result(bindings::__nd_driver_register(
                d,
                module.as_ptr(),
                name.as_char_ptr(),
            ))
        }
    }

    unsafe fn unregister(drv: &Opaque<Self::DriverType>) {
        // SAFETY: registered (safety requirements).
        unsafe { kb::driver_unregister(&raw mut (*drv.get()).drv) };
    }
}

impl<T: Driver> Adapter<T> {
    /// # Safety
    ///
    /// `dev` must be a device of the nd bus in one of its driver callbacks,
    /// which `'a` does not outlive.
    unsafe fn device<'a>(dev: *mut kb::device) -> &'a NdDevice<CoreInternal<'a>> {
        // SAFETY: `NdDevice` is a transparent wrapper of `struct device`;
        // the device is live and in a bus callback (safety requirements).
        unsafe { &*dev.cast() }
    }

    /// # Safety
    ///
    /// `dev` must be bound to this driver: `probe_callback` stored its
    /// driver data, which the driver core has not dropped yet.
    unsafe fn data<'a>(dev: &'a NdDevice<CoreInternal<'_>>) -> Pin<&'a T::Data<'a>> {
        // SAFETY: by the safety requirements.
        unsafe { dev.dev().drvdata_borrow::<T::Data<'a>>() }
    }

    extern "C" fn probe_callback(dev: *mut kb::device) -> c_int {
        // SAFETY: the bus probes live devices, under the device lock.
        let dev = unsafe { Self::device(dev) };
        from_result(|| {
            dev.dev().set_drvdata(T::probe(dev))?;
            Ok(0)
        })
    }

    extern "C" fn remove_callback(dev: *mut kb::device) {
        // SAFETY: the bus only removes live devices bound to us, under the
        // device lock.
        let dev = unsafe { Self::device(dev) };
        // SAFETY: bound to us, so `probe_callback` stored the data.
        T::unbind(dev, unsafe { Self::data(dev) });
    }

    extern "C" fn shutdown_callback(dev: *mut kb::device) {
        // SAFETY: the bus only shuts down live devices bound to us, under
        // the device lock.
        let dev = unsafe { Self::device(dev) };
        // SAFETY: bound to us, so `probe_callback` stored the data.
        T::shutdown(dev, unsafe { Self::data(dev) });
    }

    extern "C" fn notify_callback(dev: *mut kb::device, event: bindings::nvdimm_event) {
        let event = match event {
            bindings::nvdimm_event_NVDIMM_REVALIDATE_POISON => Event::RevalidatePoison,
            bindings::nvdimm_event_NVDIMM_REVALIDATE_REGION => Event::RevalidateRegion,
            _ => return,
        };
        // SAFETY: the bus notifies live devices bound to us, under the
        // device lock, which excludes their unbinding.
        let dev = unsafe { Self::device(dev) };
        // SAFETY: bound to us, so `probe_callback` stored the data.
        T::notify(dev, unsafe { Self::data(dev) }, event);
    }
}

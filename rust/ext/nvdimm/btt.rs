// SPDX-License-Identifier: GPL-2.0

//! Namespaces in sector mode: the btt personality (`struct nd_btt`) that
//! ndctl configures, or that an info block found on the namespace
//! registered, holds what a Block Translation Table on the namespace needs
//! from libnvdimm: its UUID, its sector size and which version of the
//! on-media format the namespace's claim class asks for.
//!
//! C header: [`drivers/nvdimm/nd.h`](srctree/drivers/nvdimm/nd.h)

use crate::{ext::nvdimm::NdDevice, sys::bindings};
use core::{marker::PhantomData, ptr::NonNull};
use kernel::{
    error::code::{EINVAL, ENODEV},
    prelude::*,
};

/// The version of the BTT on-media format, and where it starts.
///
/// # Examples
///
/// ```
/// use crate::ext::nvdimm::btt::BttVersion;
///
/// assert_eq!(BttVersion::V1_1.number(), (1, 1));
/// assert_eq!(BttVersion::V1_1.initial_offset(), 4096);
/// assert_eq!(BttVersion::V2_0.number(), (2, 0));
/// assert_eq!(BttVersion::V2_0.initial_offset(), 0);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum BttVersion {
    /// Version 1.1, after the first 4 KiB of the namespace (claim class
    /// none or `btt`).
    V1_1,
    /// Version 2.0, from the first byte (claim class `btt2`, EFI labels).
    V2_0,
}

impl BttVersion {
    /// `(major, minor)` as stored in the info block.
    pub(crate) fn number(self) -> (u16, u16) {
        match self {
            Self::V1_1 => (1, 1),
            Self::V2_0 => (2, 0),
        }
    }

    /// Where in the namespace the first arena starts, in bytes.
    pub(crate) fn initial_offset(self) -> u64 {
        match self {
            Self::V1_1 => 4096,
            Self::V2_0 => 0,
        }
    }
}

/// The btt personality of a namespace, borrowed from the nd device it is.
///
/// # Examples
///
/// What rpmem reads from it before opening the BTT on the namespace:
///
/// ```no_run
/// use crate::ext::nvdimm::NdDevice;
/// use kernel::device::Core;
///
/// fn describe(dev: &NdDevice<Core<'_>>) -> Result<u64> {
///     let btt = dev.btt()?; // `ENODEV` unless `dev` is a btt personality.
///     let Some(uuid) = btt.uuid() else {
///         return Err(ENODEV); // Not configured yet.
///     };
///     let (major, minor) = btt.version().number();
///     pr_info!("BTT {major}.{minor}, {}-byte sectors, {:?}\n", btt.lbasize(), uuid);
///     let _ = btt.parent_uuid();
///     // Once the disk is up: its size, in bytes, shown in sysfs.
///     btt.set_size(1 << 30);
///     Ok(btt.lbasize())
/// }
/// ```
///
/// # Invariants
///
/// `btt` is the live `struct nd_btt` of an nd device borrowed for `'a`,
/// bound to a namespace (`ndns` set, as `nvdimm_namespace_common_probe`
/// checked), and not reconfigured while a driver probes or serves it (its
/// sysfs attributes refuse changes while it is bound).
pub(crate) struct NdBtt<'a> {
    btt: NonNull<bindings::nd_btt>,
    _dev: PhantomData<&'a NdDevice>,
}

impl NdDevice {
    /// The btt personality this device is, once a namespace is attached.
    pub(crate) fn btt(&self) -> Result<NdBtt<'_>> {
        if self.kind() != super::Kind::Btt {
            return Err(EINVAL);
        }
        // SAFETY: `self` is a live btt device (checked above).
        let btt = NonNull::new(unsafe { bindings::to_nd_btt(self.as_raw()) }).ok_or(EINVAL)?;
        // SAFETY: `btt` is live as long as `self` is borrowed.
        if unsafe { btt.as_ref() }.ndns.is_null() {
            return Err(ENODEV);
        }
        // INVARIANT: a live btt device with a namespace, borrowed for as
        // long as `self`.
        Ok(NdBtt {
            btt,
            _dev: PhantomData,
        })
    }
}

impl NdBtt<'_> {
    fn raw(&self) -> &bindings::nd_btt {
        // SAFETY: live for the borrow (type invariant).
        unsafe { self.btt.as_ref() }
    }

    /// The configured sector size with any per-sector metadata, in bytes.
    pub(crate) fn lbasize(&self) -> u64 {
        self.raw().lbasize as u64
    }

    /// The BTT's UUID, if one is configured (or was found on the media).
    pub(crate) fn uuid(&self) -> Option<[u8; 16]> {
        let uuid = self.raw().uuid;
        // SAFETY: a non-null `uuid` points to the personality's UUID, which
        // lives as long as the device and changes only while unbound (type
        // invariant); `uuid_t` is 16 bytes.
        (!uuid.is_null()).then(|| unsafe { (*uuid).b })
    }

    /// The UUID of the namespace the BTT lives on (all zeroes for a
    /// namespace without a label), which info blocks name as their parent.
    pub(crate) fn parent_uuid(&self) -> [u8; 16] {
        let ndns = self.raw().ndns;
        // SAFETY: `ndns` is the live namespace the personality is attached
        // to (type invariant).
        let uuid = unsafe { bindings::nd_dev_to_uuid(&raw mut (*ndns).dev) };
        // SAFETY: `nd_dev_to_uuid` returns the namespace's UUID or the null
        // UUID, both alive as long as the namespace.
        unsafe { (*uuid).b }
    }

    /// The on-media format the namespace's claim class asks for
    /// (`nd_btt_version`).
    pub(crate) fn version(&self) -> BttVersion {
        let ndns = self.raw().ndns;
        // SAFETY: as in `parent_uuid`.
        match unsafe { (*ndns).claim_class } {
            bindings::nvdimm_claim_class_NVDIMM_CCLASS_BTT2 => BttVersion::V2_0,
            _ => BttVersion::V1_1,
        }
    }

    /// Records the capacity of the disk made of it, in bytes, for the
    /// personality's `size` attribute.
    pub(crate) fn set_size(&self, bytes: u64) {
        // SAFETY: the personality is live (type invariant); `size` is only
        // read by its `size` attribute, which the device lock held around
        // probe serializes with this store.
        unsafe { (*self.btt.as_ptr()).size = bytes };
    }
}

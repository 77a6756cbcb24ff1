// SPDX-License-Identifier: GPL-2.0

//! Memory failures under a disk's struct pages, forwarded to the filesystem
//! on its DAX device, as nd_pmem's `pmem_pagemap_memory_failure` does.
//!
//! The filesystem knows who owns a block: XFS with its reverse map finds
//! every file that shares a failed extent (reflinks included) and the
//! processes mapping any of them; the kernel's generic handler only finds
//! the processes of the one file the page is cached for.
//!
//! Lifetime: the page map holds an `Arc` of the handler, and the handler an
//! `Arc` of the DAX device, so the device outlives every callback: until
//! the page map is gone (`memunmap_pages` waits for callbacks in flight), or
//! for good when the driver keeps the pages after an unbind because
//! processes still map them. Once the device is killed, the dax core
//! refuses the notification (`ENXIO`) and the generic handler signals the
//! processes instead.

use crate::{
    ext::dax::Dax,
    ext::mm::pagemap::{FailureFlags, MemoryFailure},
};
use kernel::{
    error::code::{ENXIO, EOPNOTSUPP},
    prelude::*,
    sync::{Arc, SetOnce},
};

/// Where memory failures of a disk go: its DAX device, once it has one.
pub(crate) struct DaxFailure {
    /// The DAX device, and the physical address of its first byte (the
    /// first data byte: a fsdax namespace keeps metadata before it).
    target: SetOnce<(Arc<Dax>, u64)>,
}

impl DaxFailure {
    /// A handler with no DAX device yet: failures go to the generic
    /// handler until [`DaxFailure::attach`].
    pub(crate) fn new() -> Result<Arc<Self>> {
        Ok(Arc::new(
            Self {
                target: SetOnce::new(),
            },
            GFP_KERNEL,
        )?)
    }

    /// Sends failures to `dax`, whose byte 0 is at physical address
    /// `data_start`, from now on.
    pub(crate) fn attach(&self, dax: Arc<Dax>, data_start: u64) {
        self.target.populate((dax, data_start));
    }
}

#[vtable]
impl MemoryFailure for DaxFailure {
    fn memory_failure(&self, phys: u64, len: u64, flags: FailureFlags) -> Result {
        let Some((dax, data_start)) = self.target.as_ref() else {
            return Err(EOPNOTSUPP);
        };
        // Metadata (the info block, an altmap) belongs to no file.
        let offset = phys.checked_sub(*data_start).ok_or(EOPNOTSUPP)?;
        match dax.notify_failure(offset, len, flags) {
            // The device is killed (its disk is going or gone): nobody is
            // left to ask but the processes that still map the pages.
            Err(e) if e == ENXIO => Err(EOPNOTSUPP),
            result => result,
        }
    }
}

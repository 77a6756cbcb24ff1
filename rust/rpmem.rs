// SPDX-License-Identifier: GPL-2.0

//! rpmem: persistent memory as block devices, in Rust.
//!
//! A libnvdimm namespace driver, like `drivers/nvdimm/pmem.c`: every raw pmem
//! or io namespace it is bound to (an NFIT NVDIMM namespace or a `memmap=`
//! legacy region), and every namespace in fsdax mode, becomes a bio-based
//! disk, `/dev/rpmemX[.Y]`, whose writes are durable once flushed and whose
//! reads never consume poison, with a DAX device for filesystems when its
//! memory has struct pages.
//!
//! The module declares no device aliases: it is loaded on purpose, and which
//! driver owns a namespace is chosen with the nd bus's `bind`/`unbind` and
//! `drivers_autoprobe` (see `Documentation/rpmem.rst`).

/// The C side: generated bindings and the shim for static inline helpers.
mod sys {
    pub(crate) mod bindings;
}

/// Abstractions of kernel interfaces, each in the file it would have below
/// `rust/kernel/`: every `unsafe` of the module is here.
mod ext {
    pub(crate) mod badblocks;
    pub(crate) mod block {
        pub(crate) mod bio;
        pub(crate) mod bio_disk;
    }
    pub(crate) mod dax;
    pub(crate) mod memregion;
    pub(crate) mod mm {
        pub(crate) mod pagemap;
    }
    pub(crate) mod nvdimm;
    pub(crate) mod sysfs;
}

/// The driver: probe, I/O, attributes and remove, in safe Rust: an
/// `unsafe` block here fails the build.
#[forbid(unsafe_code)]
mod pmem {
    pub(crate) mod attrs;
    pub(crate) mod btt;
    pub(crate) mod disk;
    pub(crate) mod driver;
    pub(crate) mod failure;
}

use kernel::prelude::*;

module! {
    type: Rpmem,
    name: "rpmem",
    authors: ["The rpmem developers"],
    description: "Persistent memory block driver in Rust",
    license: "GPL",
    params: {
        raw_dax: bool {
            default: true,
            description: "Give raw namespaces struct pages (in RAM: 64 bytes per 4 KiB) for DAX without ndctl",
        },
    },
}

/// The module: the nd driver registration, for as long as it is loaded.
#[pin_data]
struct Rpmem {
    #[pin]
    driver: ext::nvdimm::Registration<pmem::driver::RpmemDevice>,
}

impl kernel::InPlaceModule for Rpmem {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            driver <- ext::nvdimm::Registration::new(c"rpmem", module),
        })
    }
}

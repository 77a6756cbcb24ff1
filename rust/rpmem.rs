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

// The test modules register no driver: what only the driver reaches is
// unused there.
#![cfg_attr(rpmem_kunit, allow(dead_code))]

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

/// KUnit suites of the driver's pure logic. Only the test modules
/// (`rpmem_kunit.ko`, `rpmem_kunit_broken.ko`: this crate built with
/// `--cfg rpmem_kunit`, see `Kbuild`) have them, and run them when loaded;
/// `rpmem.ko` has none and registers no suite.
#[cfg(rpmem_kunit)]
mod kunit;

/// The module: rpmem's nd driver, registered while it is loaded
/// ([`ext::nvdimm::module_nd_driver`]), or for a test module of the same
/// code, no driver (`module!`); both with the parameters the driver's code
/// reads.
macro_rules! rpmem_module {
    ($module:ident, $type:ty, $name:tt, $description:tt) => {
        $module! {
            type: $type,
            name: $name,
            authors: ["The rpmem developers"],
            description: $description,
            license: "GPL",
            params: {
                raw_dax: bool {
                    default: true,
                    description: "Struct pages in RAM (64 bytes per 4 KiB) for DAX on raw namespaces",
                },
            },
        }
    };
}

#[cfg(not(rpmem_kunit))]
use ext::nvdimm::module_nd_driver;
#[cfg(rpmem_kunit)]
use kernel::prelude::module;

#[cfg(not(rpmem_kunit))]
rpmem_module!(
    module_nd_driver,
    pmem::driver::RpmemDriver,
    "rpmem",
    "Persistent memory block driver in Rust"
);
#[cfg(all(rpmem_kunit, not(rpmem_kunit_broken)))]
rpmem_module!(
    module,
    kunit::RpmemKunit,
    "rpmem_kunit",
    "KUnit tests of rpmem"
);
#[cfg(rpmem_kunit_broken)]
rpmem_module!(
    module,
    kunit::RpmemKunit,
    "rpmem_kunit_broken",
    "KUnit tests of rpmem, one broken on purpose (the control)"
);

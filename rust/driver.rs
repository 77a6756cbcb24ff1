// SPDX-License-Identifier: GPL-2.0

//! Binding: one raw pmem or io namespace becomes one disk, `/dev/rpmemX[.Y]`.
//!
//! Setup follows `pmem_attach_disk` of `drivers/nvdimm/pmem.c` and teardown
//! undoes it in reverse: the disk goes first (waiting for bios in flight),
//! then the mapping and bad sector list, then the claim on the address range;
//! last the region is flushed.

use crate::{
    badblocks::Badblocks,
    bindings,
    gendisk::{self, GenDisk},
    mapping::Mapping,
    memregion::MemRegion,
    nd::{self, NdDevice},
    pmem::Pmem,
    region::FlushSupport,
};
use kernel::{
    bindings as kb,
    block::SECTOR_SHIFT,
    error::code::{EINVAL, ENXIO},
    page::PAGE_SIZE,
    prelude::*,
    str::BStr,
    sync::Arc,
};

/// A namespace bound to rpmem. Fields drop in declaration order, which is
/// the reverse of setup.
pub(crate) struct RpmemDevice {
    disk: GenDisk<Pmem>,
    _claim: MemRegion,
}

impl RpmemDevice {
    fn attach(dev: &NdDevice) -> Result<KBox<Self>> {
        let ns = dev.namespace()?;
        let (start, size) = ns.resource();
        let lbs = ns.sector_size();
        if start % PAGE_SIZE as u64 != 0 || size < PAGE_SIZE as u64 {
            dev_err!(
                dev.dev(),
                "{}: {size:#x} bytes at {start:#x}: not page aligned, cannot serve\n",
                ns.name()
            );
            return Err(EINVAL);
        }
        let name = disk_name(&ns.disk_name()?)?;

        let region = dev.region();
        let flush = region.flush_support();
        if flush == FlushSupport::Unknown {
            dev_warn!(dev.dev(), "unable to guarantee persistence of writes\n");
        }

        let claim = MemRegion::request(start, size, ns.name()).inspect_err(|_| {
            dev_warn!(dev.dev(), "could not reserve {start:#x}+{size:#x}\n");
        })?;
        let pmem = Pmem::new(dev, start, Mapping::new(start, size)?, Badblocks::new()?);
        pmem.populate_badblocks();

        let mut features =
            bindings::RPMEM_BLK_FEAT_WRITE_CACHE | bindings::RPMEM_BLK_FEAT_SYNCHRONOUS;
        if flush == FlushSupport::Hints {
            features |= bindings::RPMEM_BLK_FEAT_FUA;
        }
        let params = gendisk::Params {
            name: &name[..name.iter().position(|&c| c == 0).unwrap_or(name.len())],
            sectors: (size & !(u64::from(lbs) - 1)) >> SECTOR_SHIFT,
            logical_block_size: lbs,
            physical_block_size: PAGE_SIZE as u32,
            features,
            node: dev.numa_node(),
        };
        let disk = GenDisk::add(dev, &params, Arc::new(pmem, GFP_KERNEL)?)?;
        // SAFETY: `disk` is live; this only reads the region's state.
        unsafe { bindings::nvdimm_check_and_set_ro(disk.as_raw()) };

        let fua = if flush == FlushSupport::Hints {
            ", FUA"
        } else {
            ""
        };
        dev_info!(
            dev.dev(),
            "{}: {} MiB at {start:#x}, {lbs}-byte sectors{fua}\n",
            BStr::from_bytes(params.name),
            size >> 20
        );
        Ok(KBox::new(
            Self {
                disk,
                _claim: claim,
            },
            GFP_KERNEL,
        )?)
    }
}

/// `rpmem` followed by what nd_pmem would call the disk (`pmemX[.Y]`),
/// so names follow the namespaces and never collide with nd_pmem's.
fn disk_name(pmem_name: &[u8]) -> Result<[u8; kb::DISK_NAME_LEN as usize]> {
    let mut name = [0u8; kb::DISK_NAME_LEN as usize];
    let len = pmem_name.iter().position(|&c| c == 0).ok_or(EINVAL)?;
    if len + 1 >= name.len() {
        return Err(EINVAL);
    }
    name[0] = b'r';
    name[1..=len].copy_from_slice(&pmem_name[..len]);
    Ok(name)
}

impl nd::Driver for RpmemDevice {
    fn probe(dev: &NdDevice) -> Result<KBox<Self>> {
        // btt, pfn and dax personalities belong to nd_pmem and dax_pmem.
        if dev.is_personality() {
            return Err(ENXIO);
        }
        Self::attach(dev)
    }

    fn remove(this: KBox<Self>, dev: &NdDevice) {
        drop(this);
        // Nothing is left to fail: make whatever was written durable.
        let _ = dev.region().flush(None);
    }

    fn shutdown(&self, dev: &NdDevice) {
        let _ = dev.region().flush(None);
    }

    fn notify(&self, _dev: &NdDevice, event: nd::Event) {
        match event {
            nd::Event::RevalidatePoison => self.disk.data().populate_badblocks(),
            // SAFETY: the disk is live; this only reads the region's state.
            nd::Event::RevalidateRegion => unsafe {
                bindings::nvdimm_check_and_set_ro(self.disk.as_raw())
            },
        }
    }
}

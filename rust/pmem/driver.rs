// SPDX-License-Identifier: GPL-2.0

//! Binding: one raw pmem or io namespace, or one namespace in fsdax mode,
//! becomes one disk, `/dev/rpmemX[.Y]`, with DAX when it has struct pages.
//!
//! Setup follows `pmem_attach_disk` of `drivers/nvdimm/pmem.c`: claim, map
//! (with pages), bad sectors, dax device, disk. Teardown undoes it in
//! reverse: direct access ends (`kill_dax`), the disk goes (waiting for bios
//! in flight), then the dax device, the bad sector list, the pages and the
//! claim; last the region is flushed.

use crate::{
    ext::badblocks::Badblocks,
    ext::block::bio_disk::{self, GenDisk},
    ext::memregion::MemRegion,
    ext::mm::pagemap::{Memmap, PageMap, PageRange},
    ext::nvdimm::mapping::Mapping,
    ext::nvdimm::pfn::PfnLayout,
    ext::nvdimm::region::FlushSupport,
    ext::nvdimm::{self, Kind, Namespace, NdDevice},
    pmem::attrs,
    pmem::disk::Pmem,
    pmem::failure::DaxFailure,
    sys::bindings,
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

/// A namespace bound to rpmem: its disk, which owns everything else.
pub(crate) struct RpmemDevice {
    disk: GenDisk<Pmem>,
}

/// Where the data and the struct pages of a namespace are.
enum Layout {
    /// A raw namespace: data from the first byte, pages (when it is 2 MiB
    /// aligned) with their memmap in RAM.
    Raw,
    /// A fsdax namespace, as its pfn info block describes it.
    Pfn(PfnLayout),
}

impl RpmemDevice {
    fn attach(dev: &NdDevice, ns: &Namespace<'_>, layout: Layout) -> Result<KBox<Self>> {
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
        let failure = DaxFailure::new()?;
        let mapping = map(dev, claim, layout, &failure)?;
        let pmem = Pmem::new(dev, mapping, Badblocks::new()?)?;
        if let Some(dax) = pmem.dax() {
            failure.attach(dax.clone(), pmem.mapping().phys());
        }
        pmem.populate_badblocks();

        let mut features =
            bindings::RPMEM_BLK_FEAT_WRITE_CACHE | bindings::RPMEM_BLK_FEAT_SYNCHRONOUS;
        if flush == FlushSupport::Hints {
            features |= bindings::RPMEM_BLK_FEAT_FUA;
        }
        if pmem.dax().is_some() {
            features |= bindings::RPMEM_BLK_FEAT_DAX;
        }
        let data_size = pmem.mapping().size();
        let params = bio_disk::Params {
            name: &name[..name.iter().position(|&c| c == 0).unwrap_or(name.len())],
            sectors: (data_size & !(u64::from(lbs) - 1)) >> SECTOR_SHIFT,
            logical_block_size: lbs,
            physical_block_size: PAGE_SIZE as u32,
            features,
            node: dev.numa_node(),
            groups: Some(attrs::groups()),
        };
        let disk = GenDisk::add(dev, &params, pmem)?;
        // SAFETY: `disk` is live; this only reads the region's state.
        unsafe { bindings::nvdimm_check_and_set_ro(disk.as_raw()) };

        let fua = if flush == FlushSupport::Hints {
            ", FUA"
        } else {
            ""
        };
        let name = BStr::from_bytes(params.name);
        let (size, unit) = if data_size >= 1 << 20 {
            (data_size >> 20, "MiB")
        } else {
            (data_size >> 10, "KiB")
        };
        let phys = disk.data().mapping().phys();
        dev_info!(
            dev.dev(),
            "{name}: {size} {unit} at {phys:#x}, {lbs}-byte sectors{fua}\n"
        );
        match disk.data().mapping().pages() {
            Some(pages) if pages.memmap() == Memmap::Ram => dev_info!(
                dev.dev(),
                "{name}: DAX, struct pages for {} MiB use {} KiB of RAM\n",
                pages.size() >> 20,
                pages.memmap_ram_bytes() >> 10
            ),
            Some(_) => dev_info!(dev.dev(), "{name}: DAX, struct pages on the device\n"),
            None => dev_info!(dev.dev(), "{name}: no DAX\n"),
        }
        Ok(KBox::new(Self { disk }, GFP_KERNEL)?)
    }
}

/// Maps the claimed namespace: with struct pages, whose memory failures go
/// to `failure`, when it can have them, else for block I/O only.
fn map(
    dev: &NdDevice,
    claim: MemRegion,
    layout: Layout,
    failure: &Arc<DaxFailure>,
) -> Result<Mapping> {
    let node = dev.numa_node();
    let (start, size) = claim.range();
    let new_pages = |range| PageMap::new(range, node, Some(failure.clone()));
    match layout {
        Layout::Pfn(pfn) => Mapping::with_pages(claim, new_pages(pfn.pages)?, pfn.data_offset),
        Layout::Raw if !crate::module_parameters::raw_dax.value() => {
            dev_info!(dev.dev(), "raw_dax=0: no struct pages, no DAX\n");
            Mapping::new(claim)
        }
        Layout::Raw => {
            let pages = PageRange::in_ram(start, size).and_then(new_pages);
            match pages {
                Ok(pages) => Mapping::with_pages(claim, pages, 0),
                Err(e) => {
                    dev_info!(
                        dev.dev(),
                        "no struct pages for {start:#x}+{size:#x} ({e:?}; needs 2 MiB alignment): no DAX\n"
                    );
                    Mapping::new(claim)
                }
            }
        }
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

impl nvdimm::Driver for RpmemDevice {
    fn probe(dev: &NdDevice) -> Result<KBox<Self>> {
        // Seeds (unconfigured personalities) fail here, quietly.
        let ns = dev.namespace()?;
        let kind = dev.kind();
        if kind == Kind::Btt || kind == Kind::Dax {
            dev_info!(
                dev.dev(),
                "btt and device-dax are served by nd_pmem and dax_pmem\n"
            );
            return Err(ENXIO);
        }
        let enabled = ns.enable(dev)?;
        if kind == Kind::Pfn {
            let layout = PfnLayout::read(&enabled)?;
            drop(enabled);
            return Self::attach(dev, &ns, Layout::Pfn(layout));
        }
        // An info block hands the namespace to the personality it describes,
        // which is then probed on its own.
        if enabled.probe_personality()? {
            return Err(ENXIO);
        }
        drop(enabled);
        Self::attach(dev, &ns, Layout::Raw)
    }

    fn remove(this: KBox<Self>, dev: &NdDevice) {
        drop(this);
        // Nothing is left to fail: make whatever was written durable.
        let _ = dev.region().flush(None);
    }

    fn shutdown(&self, dev: &NdDevice) {
        let _ = dev.region().flush(None);
    }

    fn notify(&self, _dev: &NdDevice, event: nvdimm::Event) {
        match event {
            nvdimm::Event::RevalidatePoison => self.disk.data().populate_badblocks(),
            // SAFETY: the disk is live; this only reads the region's state.
            nvdimm::Event::RevalidateRegion => unsafe {
                bindings::nvdimm_check_and_set_ro(self.disk.as_raw())
            },
        }
    }
}

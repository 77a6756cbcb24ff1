// SPDX-License-Identifier: GPL-2.0

//! Binding: one raw pmem or io namespace, or one namespace in fsdax mode,
//! becomes one disk, `/dev/rpmemX[.Y]`, with DAX when it has struct pages;
//! one namespace in sector mode becomes a disk with atomic sector writes,
//! `/dev/rpmemX[.Y]s`, through a BTT ([`crate::pmem::btt`]).
//!
//! Setup follows `pmem_attach_disk` of `drivers/nvdimm/pmem.c`: claim, map
//! (with pages), bad sectors, dax device, disk. Teardown, in
//! [`RpmemDevice`]'s `remove`, undoes it in reverse: the DAX host goes and
//! direct access ends (`kill_dax`), the disk goes (waiting for bios in
//! flight), then the pages (unless processes still map them), the mapping,
//! the claim and the bad sector list; last the region is flushed.

use crate::{
    ext::badblocks::Badblocks,
    ext::block::bio_disk::{BioDisk, BioDiskBuilder},
    ext::dax::{self, DaxHost},
    ext::memregion::MemRegion,
    ext::mm::pagemap::{Memmap, PageMap, PageRange},
    ext::nvdimm::mapping::Mapping,
    ext::nvdimm::pfn::PfnLayout,
    ext::nvdimm::region::FlushSupport,
    ext::nvdimm::{self, region::NdRegion, Kind, Namespace, NdDevice},
    pmem::attrs,
    pmem::btt::{Btt, Identity, Media},
    pmem::disk::{Pmem, PmemDisk},
    pmem::failure::DaxFailure,
};
use kernel::{
    block::SECTOR_SHIFT,
    device::Core,
    error::code::{EINVAL, ENODEV, ENXIO},
    page::PAGE_SIZE,
    prelude::*,
    sync::{aref::ARef, Arc},
};

/// A namespace bound to rpmem: its disk and, with DAX, its DAX device and
/// that device's place as the disk's host.
///
/// The driver core drops it once the namespace is unbound: its `Drop` is
/// the remove path. The fields are only `None` there.
pub(crate) struct RpmemDevice {
    dax_host: Option<DaxHost>,
    dax: Option<dax::Registration<Pmem>>,
    disk: Option<Disk>,
    region: ARef<NdRegion>,
}

/// The disk of a bound namespace.
enum Disk {
    /// The namespace's bytes, with DAX when they have struct pages.
    Pmem(BioDisk<PmemDisk>),
    /// Sector mode: a BTT over the namespace.
    Btt(BioDisk<Btt>),
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
    fn attach(dev: &NdDevice<Core<'_>>, ns: &Namespace<'_>, layout: Layout) -> Result<Self> {
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

        let region = dev.region();
        let flush = region.flush_support();
        if flush == FlushSupport::Unknown {
            dev_warn!(dev.dev(), "unable to guarantee persistence of writes\n");
        }

        let claim = ns.claim().inspect_err(|_| {
            dev_warn!(dev.dev(), "could not reserve {start:#x}+{size:#x}\n");
        })?;
        let failure = DaxFailure::new()?;
        let raw_dax_off =
            matches!(layout, Layout::Raw) && !crate::module_parameters::raw_dax.value();
        let mapping = map(dev, claim, layout, &failure)?;
        let bb = Arc::new(Badblocks::new()?, GFP_KERNEL)?;
        let direct = mapping.pages().is_some();
        let pmem = Pmem::new(dev, mapping, bb.clone())?;
        let dax = match direct {
            true => dax::Registration::new(pmem.clone())?,
            false => None,
        };
        if let Some(dax) = dax.as_ref().map(dax::Registration::dax) {
            dax.set_flags(region.is_sync());
            dax.set_write_cache(region.has_cache());
            failure.attach(dax.clone(), pmem.mapping().phys());
        }
        pmem.populate_badblocks();

        let data_size = pmem.mapping().size();
        let pmem_name = ns.disk_name()?;
        let new_disk = BioDiskBuilder::new()
            .logical_block_size(lbs)?
            .physical_block_size(PAGE_SIZE as u32)?
            .capacity_sectors((data_size & !(u64::from(lbs) - 1)) >> SECTOR_SHIFT)
            .write_cache(true)
            .synchronous(true)
            .nowait(true)
            .fua(flush == FlushSupport::Hints)
            .dax(dax.is_some())
            .node(dev.numa_node())
            .badblocks(bb)
            .build(
                fmt!("r{}", &*pmem_name),
                PmemDisk::new(pmem, dax.as_ref().map(|dax| dax.dax().clone()))?,
            )?;
        // The DAX host is known before the disk appears, so a filesystem
        // mounted as soon as it does finds it.
        let dax_host = match &dax {
            Some(dax) => Some(DaxHost::add(dax.dax(), &new_disk)?),
            None => None,
        };
        let disk = new_disk.add(dev.dev(), Some(attrs::groups()))?;
        dev.check_and_set_ro(&disk);

        let fua = if flush == FlushSupport::Hints {
            ", FUA"
        } else {
            ""
        };
        let name = disk.name();
        let (size, unit) = if data_size >= 1 << 20 {
            (data_size >> 20, "MiB")
        } else {
            (data_size >> 10, "KiB")
        };
        let phys = disk.data().pmem().mapping().phys();
        // One line a bind (nd_pmem logs none): each line costs the bind
        // the formatting and the wake-up of whoever reads the log, as
        // many instructions as the rest of a raw bind's driver work.
        match disk.data().pmem().mapping().pages() {
            Some(pages) if pages.memmap() == Memmap::Ram => dev_info!(
                dev.dev(),
                "{name}: {size} {unit} at {phys:#x}, {lbs}-byte sectors{fua}; DAX, struct pages for {} MiB use {} KiB of RAM\n",
                pages.size() >> 20,
                pages.memmap_ram_bytes() >> 10
            ),
            Some(_) => dev_info!(
                dev.dev(),
                "{name}: {size} {unit} at {phys:#x}, {lbs}-byte sectors{fua}; DAX, struct pages on the device\n"
            ),
            None => dev_info!(
                dev.dev(),
                "{name}: {size} {unit} at {phys:#x}, {lbs}-byte sectors{fua}; no DAX{}\n",
                if raw_dax_off { " (raw_dax=0)" } else { "" }
            ),
        }
        Ok(Self {
            dax_host,
            dax,
            disk: Some(Disk::Pmem(disk)),
            region: region.into(),
        })
    }

    /// Serves the btt personality `dev` of a namespace
    /// (`nvdimm_namespace_attach_btt`): its BTT, found on the namespace or
    /// laid out anew, becomes a disk of 512- or 4096-byte sectors, each
    /// written atomically.
    fn attach_btt(dev: &NdDevice<Core<'_>>, ns: &Namespace<'_>) -> Result<Self> {
        let btt = dev.btt()?;
        let Some(uuid) = btt.uuid() else {
            dev_info!(dev.dev(), "no UUID: incomplete btt configuration\n");
            return Err(ENODEV);
        };
        let lbasize = u32::try_from(btt.lbasize()).map_err(|_| EINVAL)?;
        let (start, size) = ns.resource();
        let claim = ns.claim().inspect_err(|_| {
            dev_warn!(dev.dev(), "could not reserve {start:#x}+{size:#x}\n");
        })?;
        let bb = Arc::new(Badblocks::new()?, GFP_KERNEL)?;
        let version = btt.version();
        let media = Media::new(dev, Mapping::new(claim)?, bb, version.initial_offset());
        let id = Identity {
            uuid,
            parent_uuid: btt.parent_uuid(),
            version,
            lbasize,
        };
        let region = dev.region();
        let table = KBox::new(Btt::open(media, &id, region.is_read_only())?, GFP_KERNEL)?;
        let sector_size = table.sector_size();
        let bytes = table.sectors() * u64::from(sector_size);
        let name = ns.disk_name()?;
        let disk = BioDiskBuilder::new()
            .logical_block_size(sector_size)?
            .capacity_sectors(bytes >> SECTOR_SHIFT)
            .synchronous(true)
            .nowait(true)
            .dma_alignment(sector_size - 1)
            .node(dev.numa_node())
            .build(fmt!("r{}", &*name), table)?
            .add(dev.dev(), None)?;
        dev.check_and_set_ro(&disk);
        btt.set_size(bytes);
        let (major, minor) = version.number();
        dev_info!(
            dev.dev(),
            "{}: sector mode (BTT {major}.{minor}), {} MiB, {sector_size}-byte sectors\n",
            disk.name(),
            bytes >> 20
        );
        if lbasize != sector_size {
            dev_info!(
                dev.dev(),
                "{}: {} bytes of integrity metadata per sector on media, unused\n",
                disk.name(),
                lbasize - sector_size
            );
        }
        Ok(Self {
            dax_host: None,
            dax: None,
            disk: Some(Disk::Btt(disk)),
            region: region.into(),
        })
    }
}

/// Maps the claimed namespace: with struct pages, whose memory failures go
/// to `failure`, when it can have them, else for block I/O only.
fn map(
    dev: &NdDevice<Core<'_>>,
    claim: MemRegion,
    layout: Layout,
    failure: &Arc<DaxFailure>,
) -> Result<Mapping> {
    let node = dev.numa_node();
    let (start, size) = claim.range();
    let new_pages = |range| PageMap::new(range, &claim, node, failure.clone());
    match layout {
        Layout::Pfn(pfn) => {
            let pages = new_pages(pfn.pages)?;
            Mapping::with_pages(claim, pages, pfn.data_offset)
        }
        // Said in the bind's one line.
        Layout::Raw if !crate::module_parameters::raw_dax.value() => Mapping::new(claim),
        Layout::Raw => {
            let pages = PageRange::in_ram(&claim).and_then(new_pages);
            match pages {
                Ok(pages) => Mapping::with_pages(claim, pages, 0),
                Err(e) => {
                    dev_info!(
                        dev.dev(),
                        "{start:#x}+{size:#x}: no struct pages ({e:?}; DAX needs 2 MiB alignment)\n"
                    );
                    Mapping::new(claim)
                }
            }
        }
    }
}

/// rpmem's nd driver; the state of a bound namespace is an
/// [`RpmemDevice`].
pub(crate) struct RpmemDriver;

impl nvdimm::Driver for RpmemDriver {
    type Data<'bound> = RpmemDevice;

    fn probe<'bound>(dev: &'bound NdDevice<Core<'_>>) -> impl PinInit<RpmemDevice, Error> + 'bound {
        RpmemDevice::probe(dev)
    }

    fn shutdown(dev: &NdDevice<Core<'_>>, _this: Pin<&RpmemDevice>) {
        let _ = dev.region().flush();
    }

    fn notify(dev: &NdDevice<Core<'_>>, this: Pin<&RpmemDevice>, event: nvdimm::Event) {
        match (&this.disk, event) {
            (Some(Disk::Pmem(disk)), nvdimm::Event::RevalidatePoison) => {
                disk.data().pmem().populate_badblocks()
            }
            (Some(Disk::Btt(disk)), nvdimm::Event::RevalidatePoison) => {
                disk.data().media().populate_badblocks()
            }
            (Some(Disk::Pmem(disk)), nvdimm::Event::RevalidateRegion) => dev.check_and_set_ro(disk),
            (Some(Disk::Btt(disk)), nvdimm::Event::RevalidateRegion) => dev.check_and_set_ro(disk),
            (None, _) => (),
        }
    }
}

impl RpmemDevice {
    /// Binds to `dev`: the namespace, or its fsdax or sector personality,
    /// becomes a disk.
    fn probe(dev: &NdDevice<Core<'_>>) -> Result<Self> {
        // Seeds (unconfigured personalities) fail here, quietly.
        let ns = dev.namespace()?;
        let kind = dev.kind();
        match kind {
            Kind::Dax => {
                dev_info!(dev.dev(), "device-dax is served by dax_pmem\n");
                return Err(ENXIO);
            }
            Kind::Btt => return Self::attach_btt(dev, &ns),
            Kind::Pfn | Kind::Namespace => (),
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
}

/// The remove path: the driver core drops the device's state once the
/// namespace is unbound.
impl Drop for RpmemDevice {
    fn drop(&mut self) {
        // `pmem_release_disk`: the DAX device stops being the disk's host
        // (`dax_remove_host`); direct access ends: the filesystem on the
        // disk learns its memory is going, no DAX operation runs after
        // `kill_dax`, and the DAX device lets go of the memory.
        drop(self.dax_host.take());
        if let Some(dax) = self.dax.take() {
            dax.kill();
        }
        // The disk is deleted (`del_gendisk` waits for bios in flight), its
        // `badblocks` file removed, and the disk put; then the disk drops
        // the data it owns (its `QueueData`, the boxed `PmemDisk` or
        // `Btt`). With it goes the last reference to the memory, which
        // undoes the rest of probe in
        // reverse: the struct pages (kept while processes map them, see
        // `Mapping`'s `Drop`) and the mapping, the claim, the bad sector
        // list (with its reference on the `badblocks` file). The DAX
        // device is put once nothing refers to it.
        drop(self.disk.take());
        // `nd_pmem_remove`'s flush, but after the disk is gone rather than
        // before (nd_pmem's disk goes in the devres teardown that follows
        // its remove): every write the disk completed is before this
        // flush, none can come after it. Nothing is left to fail.
        let _ = self.region.flush();
    }
}

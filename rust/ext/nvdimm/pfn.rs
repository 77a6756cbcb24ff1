// SPDX-License-Identifier: GPL-2.0

//! Namespaces that ndctl put in fsdax mode: a pfn info block at 4 KiB, then,
//! with `--map=dev`, the struct page array (the altmap), then the data.
//!
//! The kernel parses and validates the info block (`nvdimm_setup_pfn`);
//! rpmem takes the resulting page range and data offset from it, exactly as
//! nd_pmem does, so a filesystem made through either driver is found at the
//! same place by the other.
//!
//! C header: [`drivers/nvdimm/pfn.h`](srctree/drivers/nvdimm/pfn.h)

use crate::ext::{mm::pagemap::PageRange, nvdimm::EnabledNamespace};
use kernel::{error::code::EOPNOTSUPP, prelude::*};

/// Where a fsdax namespace keeps its pages and its data.
///
/// # Examples
///
/// As rpmem maps a namespace in fsdax mode:
///
/// ```no_run
/// use crate::ext::{
///     mm::pagemap::{MemoryFailure, PageMap},
///     nvdimm::{mapping::Mapping, pfn::PfnLayout, NdDevice},
/// };
/// use kernel::{device::Core, sync::Arc};
///
/// fn map<F: MemoryFailure>(dev: &NdDevice<Core<'_>>, failure: Arc<F>) -> Result<Mapping> {
///     let ns = dev.namespace()?;
///     let enabled = ns.enable(dev)?;
///     let layout = PfnLayout::read(&enabled)?;
///     drop(enabled);
///     let claim = ns.claim()?;
///     let pages = PageMap::new(layout.pages, &claim, dev.numa_node(), failure)?;
///     Mapping::with_pages(claim, pages, layout.data_offset)
/// }
/// ```
pub(crate) struct PfnLayout {
    /// The range that gets struct pages, with the altmap if any.
    pub(crate) pages: PageRange,
    /// Where the data starts, from the start of the page range.
    pub(crate) data_offset: u64,
}

impl PfnLayout {
    /// Reads the layout of the pfn device `ns` was enabled for.
    pub(crate) fn read(ns: &EnabledNamespace<'_>) -> Result<Self> {
        let mut pages = PageRange::unset()?;
        let info = ns.pfn()?.setup(&mut pages)?;
        // The deprecated start padding puts the data somewhere DAX cannot
        // address correctly; nd_pmem only serves block I/O there.
        if info.start_pad != 0 {
            return Err(EOPNOTSUPP);
        }
        Ok(Self {
            pages,
            data_offset: info.data_offset,
        })
    }
}

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

use crate::{ext::mm::pagemap::PageRange, ext::nvdimm::EnabledNamespace, sys::bindings};
use kernel::{
    error::{code::EOPNOTSUPP, to_result},
    prelude::*,
};

/// Where a fsdax namespace keeps its pages and its data.
pub(crate) struct PfnLayout {
    /// The range that gets struct pages, with the altmap if any.
    pub(crate) pages: PageRange,
    /// Where the data starts, from the start of the page range.
    pub(crate) data_offset: u64,
}

impl PfnLayout {
    /// Reads the layout of the pfn device `ns` was enabled for.
    pub(crate) fn read(ns: &EnabledNamespace<'_>) -> Result<Self> {
        let nd_pfn = ns.pfn()?;
        let mut pages = PageRange::unset()?;
        // SAFETY: `nd_pfn` is a live pfn device whose namespace is enabled,
        // as reading the info block needs; `pages` is a zeroed page map.
        to_result(unsafe { bindings::nvdimm_setup_pfn(nd_pfn, pages.as_raw()) })?;
        // SAFETY: `nvdimm_setup_pfn` succeeded, so the info block was read
        // and validated into `pfn_sb`, which lives as long as the device.
        let sb = unsafe { &*(*nd_pfn).pfn_sb };
        // The deprecated start padding puts the data somewhere DAX cannot
        // address correctly; nd_pmem only serves block I/O there.
        if u32::from_le(sb.start_pad) != 0 {
            return Err(EOPNOTSUPP);
        }
        Ok(Self {
            pages,
            data_offset: u64::from_le(sb.dataoff),
        })
    }
}

// SPDX-License-Identifier: GPL-2.0

//! Bios as a bio-based disk receives them, and their data segments.
//!
//! C header: [`include/linux/bio.h`](srctree/include/linux/bio.h)

use crate::sys::bindings;
use core::{marker::PhantomData, ptr::NonNull};
use kernel::{bindings as kb, error::code::EINVAL, page::PAGE_SIZE, prelude::*};

/// A block layer status (`blk_status_t`).
///
/// # Examples
///
/// ```
/// use crate::ext::block::bio::Status;
///
/// assert!(Status::from(EIO) == Status::IOERR);
/// assert!(Status::from(EOPNOTSUPP) == Status::NOTSUPP);
/// assert!(Status::from(EAGAIN) == Status::AGAIN);
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Status(kb::blk_status_t);

impl Status {
    /// `BLK_STS_IOERR`.
    pub(crate) const IOERR: Self = Self(bindings::RPMEM_BLK_STS_IOERR);
    /// `BLK_STS_NOTSUPP`.
    pub(crate) const NOTSUPP: Self = Self(bindings::RPMEM_BLK_STS_NOTSUPP);
    /// `BLK_STS_AGAIN`: the bio would have had to wait, and its submitter
    /// said it must not (`REQ_NOWAIT`); it is to be submitted again from a
    /// context that may.
    pub(crate) const AGAIN: Self = Self(bindings::RPMEM_BLK_STS_AGAIN);
}

impl From<Error> for Status {
    fn from(e: Error) -> Self {
        // SAFETY: `errno_to_blk_status` is a pure table lookup.
        Self(unsafe { kb::errno_to_blk_status(e.to_errno()) })
    }
}

/// The operations rpmem tells apart.
///
/// # Examples
///
/// ```no_run
/// use crate::ext::block::bio::{Bio, Op, Status};
///
/// fn serve(mut bio: Bio<'_>) {
///     match bio.op() {
///         Op::Read | Op::Write => (), // ...
///         Op::Other => bio.fail(Status::NOTSUPP),
///     }
/// }
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// `REQ_OP_READ`.
    Read,
    /// `REQ_OP_WRITE`, possibly empty with `REQ_PREFLUSH`.
    Write,
    /// Anything else: not advertised, so not expected.
    Other,
}

/// A bio submitted to a bio-based disk.
///
/// The holder owns the bio until it completes: dropping a `Bio` ends it
/// (`bio_endio`) with the status set so far, so each bio completes exactly
/// once.
///
/// # Examples
///
/// What rpmem's disks do with a bio, in short (`Pmem::submit_bio`):
///
/// ```no_run
/// use crate::ext::block::bio::{Bio, Op, Status};
///
/// fn submit(mut bio: Bio<'_>, flush_sleeps: bool) {
///     if bio.is_nowait() && (bio.is_preflush() || bio.is_fua()) && flush_sleeps {
///         // Sent back whole, to be submitted again where it may wait.
///         return bio.fail(Status::AGAIN);
///     }
///     if bio.size() != 0 {
///         bio.accounted(|bio| {
///             let write = bio.op() == Op::Write;
///             let status = bio.segments().try_for_each(|seg| {
///                 // Copy `seg` to or from the media (see `Segment`).
///                 let _ = (seg, write);
///                 Ok::<(), Status>(())
///             });
///             if let Err(status) = status {
///                 bio.fail(status);
///             }
///         });
///     }
///     if bio.is_fua() && !bio.is_failed() {
///         // Flush again.
///     }
///     // `bio` completes here, once, with the status set.
/// }
/// ```
///
/// # Invariants
///
/// `ptr` is a bio handed to `->submit_bio` and not yet completed; nobody else
/// touches it until it is.
pub(crate) struct Bio<'a> {
    ptr: NonNull<kb::bio>,
    _bio: PhantomData<&'a mut kb::bio>,
}

impl Bio<'_> {
    /// Takes ownership of a bio handed to `->submit_bio`.
    ///
    /// # Safety
    ///
    /// `ptr` must be a bio received by `->submit_bio`, not completed yet,
    /// that the caller now gives up (received itself, or given back by
    /// [`Self::into_raw`]'s taker).
    pub(crate) unsafe fn from_raw(ptr: NonNull<kb::bio>) -> Self {
        // INVARIANT: by the safety requirements.
        Self {
            ptr,
            _bio: PhantomData,
        }
    }

    /// The raw bio, for C functions that borrow it.
    fn as_raw(&self) -> *mut kb::bio {
        self.ptr.as_ptr()
    }

    fn raw(&self) -> &kb::bio {
        // SAFETY: the bio is ours until completion (type invariant).
        unsafe { self.ptr.as_ref() }
    }

    fn opf(&self) -> kb::blk_opf_t {
        self.raw().bi_opf
    }

    /// The operation (`bio_op`).
    #[inline]
    pub(crate) fn op(&self) -> Op {
        match self.opf() & bindings::RPMEM_REQ_OP_MASK {
            kb::req_op_REQ_OP_READ => Op::Read,
            kb::req_op_REQ_OP_WRITE => Op::Write,
            _ => Op::Other,
        }
    }

    /// Whether earlier completed writes must be made durable first.
    #[inline]
    pub(crate) fn is_preflush(&self) -> bool {
        self.opf() & bindings::RPMEM_REQ_PREFLUSH != 0
    }

    /// Whether this bio's own data must be durable when it completes.
    #[inline]
    pub(crate) fn is_fua(&self) -> bool {
        self.opf() & bindings::RPMEM_REQ_FUA != 0
    }

    /// Whether the submitter must not be put to sleep (`REQ_NOWAIT`, only
    /// sent to a disk with `BLK_FEAT_NOWAIT`): where serving the bio would
    /// wait, the driver completes it with [`Status::AGAIN`] instead.
    #[inline]
    pub(crate) fn is_nowait(&self) -> bool {
        self.opf() & bindings::RPMEM_REQ_NOWAIT != 0
    }

    /// Bytes of data left to transfer.
    #[inline]
    pub(crate) fn size(&self) -> u32 {
        self.raw().bi_iter.bi_size
    }

    /// Whether the bio failed so far.
    pub(crate) fn is_failed(&self) -> bool {
        self.raw().bi_status != 0
    }

    /// Sets the status the bio completes with.
    pub(crate) fn fail(&mut self, status: Status) {
        // SAFETY: the bio is ours until completion (type invariant).
        unsafe { (*self.ptr.as_ptr()).bi_status = status.0 };
    }

    /// Iterates over the data as single-page segments
    /// (`bio_for_each_segment`).
    pub(crate) fn segments(&self) -> Segments<'_> {
        self.segments_of(false)
    }

    /// Iterates over the data in segments as long as one mapping can make
    /// them: whole bio_vecs (`bio_for_each_bvec`) where [`WHOLE_BVECS`]
    /// allows, single pages (as [`Self::segments`]) elsewhere. A copy per
    /// bio_vec instead of one per page, for callers whose work on a
    /// segment does not depend on its length.
    pub(crate) fn bvecs(&self) -> Segments<'_> {
        self.segments_of(WHOLE_BVECS)
    }

    #[inline]
    fn segments_of(&self, whole: bool) -> Segments<'_> {
        let bio = self.raw();
        // INVARIANT: a submitted bio's iterator describes its data, and
        // `whole` only where `WHOLE_BVECS`.
        Segments {
            vec: bio.bi_io_vec,
            iter: bio.bi_iter,
            whole,
            _bio: PhantomData,
        }
    }

    /// Runs `f` on the bio, counted in the disk's I/O statistics when they
    /// are enabled (`bio_start_io_acct` ... `bio_end_io_acct`).
    #[inline]
    pub(crate) fn accounted(&mut self, f: impl FnOnce(&mut Self)) {
        // SAFETY: a submitted bio has a block device whose disk and queue
        // live at least until the bio completes.
        let features = unsafe { (*(*(*self.raw().bi_bdev).bd_disk).queue).limits.features };
        if features & bindings::RPMEM_BLK_FEAT_IO_STAT == 0 {
            return f(self);
        }
        // SAFETY: the bio is ours until completion (type invariant).
        let start = unsafe { kb::bio_start_io_acct(self.as_raw()) };
        f(self);
        // SAFETY: as above; `start` came from `bio_start_io_acct`.
        unsafe { kb::bio_end_io_acct_remapped(self.as_raw(), start, self.raw().bi_bdev) };
    }

    /// Gives the bio up without completing it, for a C function that
    /// takes it over and completes it: `self` is gone, so nothing here
    /// completes it again ([`Self::from_raw`] makes a `Bio` of it again if
    /// the C side gave it back).
    pub(crate) fn into_raw(self) -> NonNull<kb::bio> {
        core::mem::ManuallyDrop::new(self).ptr
    }
}

impl Drop for Bio<'_> {
    fn drop(&mut self) {
        // SAFETY: the bio is ours and not completed yet (type invariant);
        // `self` is gone after this, so it completes exactly once.
        unsafe { kb::bio_endio(self.as_raw()) };
    }
}

/// Whether one `kmap_local_page` of a bio_vec's first page maps the whole
/// bio_vec: without highmem it is `page_address`, the direct map, where
/// the bio_vec's pages, physically contiguous, are contiguous too; and
/// whether a copy needs no cache maintenance page by page
/// (`flush_dcache_page`; parisc, the one architecture that also flushes
/// on `kunmap_local`, implements it). True on x86-64.
pub(crate) const WHOLE_BVECS: bool =
    !cfg!(CONFIG_HIGHMEM) && bindings::RPMEM_ARCH_FLUSH_DCACHE_PAGE == 0;

/// Iterator over the segments of a bio: single pages, or whole bio_vecs
/// (see [`Bio::bvecs`]).
///
/// # Examples
///
/// A read served with zeroes, one single-page segment at a time (rpmem's
/// copies are `Mapping::read` and `Mapping::write` of the mapped segment):
///
/// ```no_run
/// use crate::ext::block::bio::{Bio, Status};
///
/// fn zero(mut bio: Bio<'_>, sectors: u64) {
///     let status = bio.segments().try_for_each(|seg| {
///         if seg.sector() + u64::from(seg.len() >> 9) > sectors {
///             return Err(Status::IOERR);
///         }
///         seg.with_mapped(|m| m.zero(0, m.len())).map_err(Status::from)
///     });
///     if let Err(status) = status {
///         bio.fail(status);
///     }
/// }
/// ```
///
/// # Invariants
///
/// `iter` describes data within the bio_vec array `vec` of a bio borrowed
/// for `'a`, as the block layer guarantees for a submitted bio. `whole`
/// only if [`WHOLE_BVECS`].
pub(crate) struct Segments<'a> {
    vec: *mut kb::bio_vec,
    iter: kb::bvec_iter,
    whole: bool,
    _bio: PhantomData<&'a Bio<'a>>,
}

impl<'a> Iterator for Segments<'a> {
    type Item = Segment<'a>;

    #[inline]
    fn next(&mut self) -> Option<Segment<'a>> {
        let it = &mut self.iter;
        if it.bi_size == 0 {
            return None;
        }
        // SAFETY: a non-zero `bi_size` means `bi_idx` indexes a bio_vec of
        // the array (type invariant).
        let bv = unsafe { &*self.vec.add(it.bi_idx as usize) };
        let offset = bv.bv_offset as usize + it.bi_offset as usize;
        let page_off = offset % PAGE_SIZE;
        let mut len = it.bi_size.min(bv.bv_len - it.bi_offset);
        if !self.whole {
            len = len.min((PAGE_SIZE - page_off) as u32);
        }
        // INVARIANT: `page_off + len` is within the page, or, `whole`
        // being set only if `WHOLE_BVECS`, within the bio_vec.
        let seg = Segment {
            // SAFETY: the bio_vec's pages are contiguous `struct page`s
            // covering `bv_offset + bv_len`; `offset` is within them.
            page: unsafe { bv.bv_page.add(offset / PAGE_SIZE) },
            offset: page_off as u32,
            len,
            sector: it.bi_sector,
            _bio: PhantomData,
        };
        it.bi_sector += u64::from(len >> kernel::block::SECTOR_SHIFT);
        it.bi_size -= len;
        it.bi_offset += len;
        if it.bi_offset == bv.bv_len {
            it.bi_idx += 1;
            it.bi_offset = 0;
        }
        Some(seg)
    }
}

/// `len` bytes at `offset` in a page of a bio, and on in the pages after it
/// in the same bio_vec for a segment of [`Bio::bvecs`], going to or from
/// `sector`.
///
/// # Examples
///
/// One segment copied to or from the disk's memory, as rpmem's data path
/// does (its `Media` is `Mapping` of `ext::nvdimm::mapping`, persistent
/// memory):
///
/// ```no_run
/// use crate::ext::block::bio::{MappedSegment, Segment};
/// use kernel::block::SECTOR_SHIFT;
///
/// /// Where the disk's data is.
/// trait Media {
///     fn read(&self, offset: u64, to: &MappedSegment<'_>) -> Result;
///     fn write(&self, offset: u64, from: &MappedSegment<'_>) -> Result;
/// }
///
/// fn copy(media: &impl Media, seg: &Segment<'_>, write: bool) -> Result {
///     let offset = seg.sector() << SECTOR_SHIFT;
///     // Mapped for the closure only: local mappings are released in the
///     // reverse order of their making.
///     seg.with_mapped(|mapped| {
///         if write {
///             media.write(offset, mapped)
///         } else {
///             media.read(offset, mapped)
///         }
///     })
/// }
/// ```
///
/// # Invariants
///
/// `page` is a page of a bio borrowed for `'a`, `offset` is less than
/// `PAGE_SIZE`, and `offset + len` does not exceed `PAGE_SIZE` unless
/// [`WHOLE_BVECS`]: then the `offset + len` bytes from the page's start
/// are within one bio_vec.
pub(crate) struct Segment<'a> {
    page: *mut kb::page,
    offset: u32,
    len: u32,
    sector: u64,
    _bio: PhantomData<&'a ()>,
}

// A bio's segments are never empty: `len` has no `is_empty`.
#[allow(clippy::len_without_is_empty)]
impl Segment<'_> {
    /// The first disk sector of the segment.
    pub(crate) fn sector(&self) -> u64 {
        self.sector
    }

    /// Length in bytes.
    pub(crate) fn len(&self) -> u32 {
        self.len
    }

    /// Runs `f` on the segment's bytes, mapped (`kmap_local_page`) for a
    /// copy; unmapped when `f` returns. Local mappings must be released in
    /// the reverse order of mapping: `f` only borrows the mapped segment,
    /// so mappings nest, and the inner one goes first.
    pub(crate) fn with_mapped<R>(&self, f: impl FnOnce(&MappedSegment<'_>) -> R) -> R {
        flush_dcache_page(self.page);
        // SAFETY: `page` is a valid page of the bio (type invariant).
        let base = unsafe { kb::kmap_local_page(self.page) };
        // INVARIANT: `offset + len` stays inside the mapped page, or, with
        // `WHOLE_BVECS` (type invariant), inside the bio_vec, contiguous in
        // the direct map from `base` on; mapped until the guard drops below.
        let mapped = MappedSegment {
            page: self.page,
            base,
            // SAFETY: `offset < PAGE_SIZE` (type invariant of `Segment`).
            ptr: unsafe { base.cast::<u8>().add(self.offset as usize) },
            len: self.len as usize,
            _seg: PhantomData,
        };
        f(&mapped)
    }
}

/// A segment mapped into the kernel's address space, lent to the closure of
/// [`Segment::with_mapped`]; unmapped on drop, which only that function
/// does (nobody else owns one).
///
/// # Examples
///
/// The part of a read segment past the end of the data zeroed, as a
/// BTT's read of a block that holds fewer bytes than a sector would:
///
/// ```no_run
/// use crate::ext::block::bio::Segment;
///
/// fn zero_past(seg: &Segment<'_>, have: usize) -> Result {
///     seg.with_mapped(|m| {
///         let have = have.min(m.len());
///         // `EINVAL` unless the bytes are inside the segment.
///         m.zero(have, m.len() - have)
///     })
/// }
/// ```
///
/// The page's data cache is kept coherent both before the copy (for writes to
/// the disk) and after it (for reads).
///
/// # Invariants
///
/// `ptr` is valid for reads and writes of `len` bytes until drop; `base` is
/// the address `kmap_local_page` returned, and every local mapping made
/// after it is released before it.
pub(crate) struct MappedSegment<'a> {
    page: *mut kb::page,
    base: *mut c_void,
    ptr: *mut u8,
    len: usize,
    _seg: PhantomData<&'a Segment<'a>>,
}

// A bio's segments are never empty: `len` has no `is_empty`.
#[allow(clippy::len_without_is_empty)]
impl MappedSegment<'_> {
    /// Start of the segment's bytes, valid for `len()` bytes while `self`
    /// lives.
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr
    }

    /// Length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Zeroes `len` bytes at `at`, for a read that finds nothing written.
    pub(crate) fn zero(&self, at: usize, len: usize) -> Result {
        if at.checked_add(len).is_none_or(|end| end > self.len) {
            return Err(EINVAL);
        }
        // SAFETY: `ptr` is valid for writes of `self.len` bytes (type
        // invariant), of which `at..at + len` is a part (checked above).
        unsafe { core::ptr::write_bytes(self.ptr.add(at), 0, len) };
        Ok(())
    }
}

impl Drop for MappedSegment<'_> {
    fn drop(&mut self) {
        // SAFETY: `base` came from `kmap_local_page` and the mappings made
        // after it are released (type invariant): `with_mapped` owns `self`
        // and drops it once its closure, which only borrowed it, returned.
        unsafe { kb::kunmap_local(self.base) };
        flush_dcache_page(self.page);
    }
}

/// Keeps a page's cache aliases coherent around a kernel copy, on the
/// architectures that need it (`flush_dcache_page`; free on x86).
#[inline(always)]
fn flush_dcache_page(page: *mut kb::page) {
    if bindings::RPMEM_ARCH_FLUSH_DCACHE_PAGE != 0 {
        // SAFETY: `page` is a page of a bio in flight.
        unsafe { bindings::rpmem_flush_dcache_page(page) };
    }
}

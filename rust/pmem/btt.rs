// SPDX-License-Identifier: GPL-2.0

//! Sector mode: a Block Translation Table over a namespace, in the
//! kernel's on-media format (`Documentation/driver-api/nvdimm/btt.rst`), so
//! that a sector write is atomic: after a crash a sector reads as it was
//! before the write or as it is after, never torn.
//!
//! The BTT is a row of arenas of at most 512 GiB ([`arena`]); each keeps
//! its own map, flog and free blocks. At probe the arenas are read and
//! checked, and an interrupted write finished; a namespace without a BTT
//! gets a new layout, as nd_btt would write it. A damaged BTT is refused,
//! never overwritten (see `Documentation/rpmem.rst`).

mod arena;
// The on-media formats are the crate's for its KUnit suites (`crate::kunit`).
pub(crate) mod flog;
pub(crate) mod info;
pub(crate) mod layout;
pub(crate) mod map;
mod media;

pub(crate) use media::Media;

use crate::ext::{
    block::bio::{Bio, Op, Segment, Status},
    block::bio_disk,
    nvdimm::btt::BttVersion,
};
use arena::{Arena, Checked, Wait};
use info::{Found, Info, INFO_SIZE};
use kernel::{
    block::SECTOR_SHIFT,
    error::code::{EINVAL, EIO, ENXIO, EROFS},
    prelude::*,
};
use layout::{Geometry, ARENA_MAX, LBASIZES};

/// Who a BTT belongs to: what its info blocks must name, and hold.
pub(crate) struct Identity {
    /// The BTT's UUID.
    pub(crate) uuid: [u8; 16],
    /// The namespace's UUID (zero without a label).
    pub(crate) parent_uuid: [u8; 16],
    pub(crate) version: BttVersion,
    /// Bytes per sector on media, integrity metadata included.
    pub(crate) lbasize: u32,
}

/// A namespace's BTT, ready for I/O: the disk data of a sector-mode disk.
pub(crate) struct Btt {
    media: Media,
    arenas: KVec<Pin<KBox<Arena>>>,
    /// Bytes of data per sector: 512 or 4096.
    sector_size: u32,
}

impl Btt {
    /// Opens the BTT on `media`, first laying it out if the namespace has
    /// none (unless `read_only`). Refuses a damaged one, with a message
    /// saying what is wrong.
    pub(crate) fn open(media: Media, id: &Identity, read_only: bool) -> Result<Self> {
        if !LBASIZES.contains(&id.lbasize) {
            dev_err!(
                media.dev(),
                "{}-byte sectors: no BTT has them\n",
                id.lbasize
            );
            return Err(EINVAL);
        }
        let sector_size = layout::data_size(id.lbasize);
        // nd_btt gives such a disk an integrity profile for the metadata
        // where the kernel has them; rpmem has none to give.
        if cfg!(CONFIG_BLK_DEV_INTEGRITY) && id.lbasize != sector_size {
            dev_err!(
                media.dev(),
                "{}-byte sectors: integrity metadata is not supported\n",
                id.lbasize
            );
            return Err(EINVAL);
        }
        let mut buf = KVec::from_elem(0u8, INFO_SIZE, GFP_KERNEL)?;
        let buf: &mut [u8; INFO_SIZE] = buf.as_mut_slice().try_into().map_err(|_| EINVAL)?;
        let mut btt = Self {
            media,
            arenas: KVec::new(),
            sector_size,
        };
        // Every arena is checked before anything is written: a BTT that is
        // refused is left as it was found.
        let space = btt.media.space();
        let mut checked = KVec::new();
        let mut start = 0;
        loop {
            let (info, restore) = match btt.find_info(start, buf, id)? {
                Some(found) => found,
                None if start == 0 && read_only => {
                    dev_err!(
                        btt.media.dev(),
                        "no BTT on the namespace, and its region is read-only\n"
                    );
                    return Err(EROFS);
                }
                None if start == 0 => return btt.create(buf, id),
                None => return Err(btt.refuse(start, "no info block after the one before")),
            };
            let geo = Geometry::from_info(&info, start, space, id.lbasize)
                .map_err(|why| btt.refuse(start, why))?;
            let (size, has_next) = (geo.size, geo.has_next);
            let first = checked
                .iter()
                .map(|(c, _): &(Checked, _)| c.sectors())
                .sum();
            let arena = Arena::check(&btt.media, geo, info.flags, first)?
                .map_err(|why| btt.refuse(start, why))?;
            checked.push((arena, restore.then_some((start, info))), GFP_KERNEL)?;
            if !has_next {
                break;
            }
            start += size;
        }
        for (arena, restore) in checked {
            if let Some((start, info)) = restore {
                dev_warn!(
                    btt.media.dev(),
                    "arena at {start:#x}: info block damaged, restoring it from its backup\n"
                );
                info.encode(buf);
                btt.media.write(start, buf)?;
            }
            let arena = arena.open(&btt.media)?;
            btt.arenas.push(arena, GFP_KERNEL)?;
        }
        Ok(btt)
    }

    /// Logs why the arena at `start` is refused; the error for it.
    fn refuse(&self, start: u64, why: &str) -> Error {
        dev_err!(
            self.media.dev(),
            "arena at {start:#x}: {why}: refusing the BTT (nothing was written)\n"
        );
        ENXIO
    }

    /// The info block of the arena at `start`, from its first copy or, if
    /// that is unusable, from the backup where a layout made by nd_btt or
    /// rpmem keeps it (then with `true`: the first copy is to be restored);
    /// `None` if neither was ever written. A block that is not for this
    /// namespace is refused.
    fn find_info(
        &self,
        start: u64,
        buf: &mut [u8; INFO_SIZE],
        id: &Identity,
    ) -> Result<Option<(Info, bool)>> {
        self.media.read(start, buf)?;
        let first = Info::decode(buf);
        let (info, from_backup) = match first {
            Found::Valid(info) => (info, false),
            found => {
                let size = (self.media.space() - start).min(ARENA_MAX);
                let backup = Geometry::new(start, size, id.lbasize, false).map(|g| g.info2off);
                let backup = match backup {
                    Some(at) => {
                        self.media.read(at, buf)?;
                        Info::decode(buf)
                    }
                    None => Found::Blank,
                };
                match (found, backup) {
                    (_, Found::Valid(info)) => (info, true),
                    (Found::Blank, Found::Blank) => return Ok(None),
                    _ => {
                        return Err(self.refuse(start, "info block and backup fail their checksums"))
                    }
                }
            }
        };
        let (major, minor) = info.version;
        if info.version != id.version.number() {
            dev_err!(
                self.media.dev(),
                "arena at {start:#x}: version {major}.{minor}, the namespace's claim class asks for {:?}\n",
                id.version
            );
            return Err(ENXIO);
        }
        if info.parent_uuid != [0; 16] && info.parent_uuid != id.parent_uuid {
            return Err(self.refuse(start, "info block of another namespace (parent UUID)"));
        }
        Ok(Some((info, from_backup)))
    }

    /// Lays out a new BTT, as nd_btt does (`btt_meta_init`): for each
    /// arena, the map (all sectors in their own blocks), the flog (each
    /// lane's free block past the sectors), then the backup info block and
    /// the info block, which makes the arena valid last.
    fn create(mut self, buf: &mut [u8; INFO_SIZE], id: &Identity) -> Result<Self> {
        let space = self.media.space();
        for geo in layout::new_arenas(space, id.lbasize) {
            let geo = geo.ok_or(ENXIO)?;
            self.media.zero(geo.mapoff, geo.info2off - geo.mapoff)?;
            for lane in 0..geo.nfree {
                let free = geo.external_nlba + lane;
                let entry = flog::Entry {
                    lba: lane,
                    old_map: free,
                    new_map: free,
                    seq: 1,
                };
                self.media.write(geo.log_group(lane), &entry.encode())?;
            }
            let info = geo.info(id.uuid, id.parent_uuid, id.version.number());
            info.encode(buf);
            self.media.write(geo.info2off, buf)?;
            self.media.write(geo.infooff, buf)?;
            let first = self.sectors();
            let arena = Arena::check(&self.media, geo, 0, first)?.map_err(|_| EIO)?;
            self.arenas.push(arena.open(&self.media)?, GFP_KERNEL)?;
        }
        if self.arenas.is_empty() {
            dev_err!(self.media.dev(), "{space} bytes is too small for a BTT\n");
            return Err(ENXIO);
        }
        dev_info!(
            self.media.dev(),
            "new BTT layout, {} arena(s)\n",
            self.arenas.len()
        );
        Ok(self)
    }

    /// The namespace under the BTT.
    pub(crate) fn media(&self) -> &Media {
        &self.media
    }

    /// Bytes of data per sector of the disk.
    pub(crate) fn sector_size(&self) -> u32 {
        self.sector_size
    }

    /// Sectors of the disk.
    pub(crate) fn sectors(&self) -> u64 {
        self.arenas.iter().map(|arena| arena.sectors()).sum()
    }

    /// The arena holding disk sector `lba`, and the sector's number in it.
    fn locate(&self, lba: u64) -> Result<(&Arena, u32), Status> {
        self.arenas
            .iter()
            .find_map(|arena| {
                let lba = arena_sector(lba, arena.first(), arena.sectors())?;
                Some((&**arena, lba))
            })
            .ok_or(Status::IOERR)
    }

    /// Reads or writes the sectors of one segment; `EAGAIN` (as
    /// `BLK_STS_AGAIN`) where that would sleep and `wait` does not allow it.
    fn transfer(&self, seg: &Segment<'_>, write: bool, wait: Wait) -> Result<(), Status> {
        let lbs = self.sector_size as usize;
        let len = seg.len() as usize;
        if len % lbs != 0 {
            return Err(Status::IOERR);
        }
        let first = disk_sector(seg.sector(), self.sector_size);
        seg.with_mapped(|mapped| {
            for (i, at) in (0..len).step_by(lbs).enumerate() {
                let (arena, lba) = self.locate(first + i as u64)?;
                if write {
                    arena.write(&self.media, lba, mapped, at, wait)?;
                } else {
                    arena.read(&self.media, lba, mapped, at, wait)?;
                }
            }
            Ok(())
        })
    }
}

/// The disk sector of `sector_size` bytes that holds 512-byte sector
/// `sector` (a bio's `bi_sector`).
pub(crate) fn disk_sector(sector: u64, sector_size: u32) -> u64 {
    (sector << SECTOR_SHIFT) / u64::from(sector_size)
}

/// Disk sector `lba`'s number in the arena whose `sectors` sectors start
/// at disk sector `first`, if it is one of them.
pub(crate) fn arena_sector(lba: u64, first: u64, sectors: u64) -> Option<u32> {
    let lba = lba.checked_sub(first)?;
    u32::try_from(lba)
        .ok()
        .filter(|&lba| u64::from(lba) < sectors)
}

/// The disk owns its BTT, boxed; it lends each bio a `&Btt`.
#[vtable]
impl bio_disk::Operations for Btt {
    type QueueData = KBox<Self>;

    fn submit_bio(this: &Self, mut bio: Bio<'_>) {
        if bio.op() == Op::Other {
            return bio.fail(Status::NOTSUPP);
        }
        // Every write is durable when it completes: there is no cache to
        // flush, and the block layer sends no REQ_PREFLUSH or REQ_FUA.
        if bio.size() == 0 {
            return;
        }
        let write = bio.op() == Op::Write;
        let wait = if bio.is_nowait() {
            Wait::Not
        } else {
            Wait::May
        };
        bio.accounted(|bio| {
            let status = bio
                .segments()
                .try_for_each(|seg| this.transfer(&seg, write, wait));
            if let Err(status) = status {
                bio.fail(status);
            }
        });
    }
}

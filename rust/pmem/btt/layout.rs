// SPDX-License-Identifier: GPL-2.0

//! Where an arena keeps what: its info block, data blocks, map, flog and
//! the info block's copy, in this order (`Documentation/driver-api/nvdimm/
//! btt.rst`). A new arena is laid out as nd_btt lays it out
//! (`alloc_arena`), so either driver accepts what the other wrote; a found
//! one is checked region by region, so that no offset, size or count read
//! from the media can point outside the arena or the namespace.

use super::info::{Info, INFO_SIZE};

/// Smallest and largest arena, in bytes.
pub(crate) const ARENA_MIN: u64 = 16 << 20;
pub(crate) const ARENA_MAX: u64 = 1 << 39;
/// Free blocks (and flog lanes) of a new arena (`BTT_DEFAULT_NFREE`).
pub(crate) const NFREE: u32 = 256;
/// Bytes of a map entry and of a flog lane (four 16-byte slots).
pub(crate) const MAP_ENTRY: u64 = 4;
pub(crate) const LOG_GROUP: u64 = 64;
/// Internal blocks are multiples of this.
const INTERNAL_ALIGN: u32 = 64;
const PAGE: u64 = 4096;
/// Sector sizes a BTT may have (`btt_lbasize_supported`): 512 or 4096
/// bytes of data, some with integrity metadata after it.
pub(crate) const LBASIZES: [u32; 7] = [512, 520, 528, 4096, 4104, 4160, 4224];

/// Bytes of data in a sector of `lbasize` bytes on media (`btt_init`); the
/// rest is integrity metadata.
pub(crate) fn data_size(lbasize: u32) -> u32 {
    if lbasize >= 4096 {
        4096
    } else {
        512
    }
}

/// One arena's geometry: byte offsets from the start of the BTT (the
/// namespace's first byte, or 4 KiB later for version 1.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub(crate) infooff: u64,
    pub(crate) dataoff: u64,
    pub(crate) mapoff: u64,
    pub(crate) logoff: u64,
    pub(crate) info2off: u64,
    /// The arena's size; the next arena, if any, starts right after it.
    pub(crate) size: u64,
    /// Whether another arena follows.
    pub(crate) has_next: bool,
    /// Sectors the arena serves, and blocks it has (`external_nlba + nfree`
    /// for a layout nd_btt or rpmem made).
    pub(crate) external_nlba: u32,
    pub(crate) internal_nlba: u32,
    pub(crate) external_lbasize: u32,
    pub(crate) internal_lbasize: u32,
    pub(crate) nfree: u32,
}

impl Geometry {
    /// A new arena of `size` bytes at `start` for sectors of `lbasize`
    /// bytes, or `None` if it would be too small.
    pub(crate) fn new(start: u64, size: u64, lbasize: u32, has_next: bool) -> Option<Self> {
        let internal_lbasize = lbasize.checked_next_multiple_of(INTERNAL_ALIGN)?;
        let logsize = (u64::from(NFREE) * LOG_GROUP).next_multiple_of(PAGE);
        let available = (size - size % PAGE)
            .checked_sub(2 * PAGE)?
            .checked_sub(logsize)?;
        let internal_nlba =
            available.checked_sub(PAGE)? / (u64::from(internal_lbasize) + MAP_ENTRY);
        let internal_nlba = u32::try_from(internal_nlba).ok()?;
        let external_nlba = internal_nlba.checked_sub(NFREE).filter(|&n| n > 0)?;
        let mapsize = (u64::from(external_nlba) * MAP_ENTRY).next_multiple_of(PAGE);
        let datasize = available.checked_sub(mapsize)?;
        let dataoff = start + PAGE;
        let mapoff = dataoff + datasize;
        let logoff = mapoff + mapsize;
        Some(Self {
            infooff: start,
            dataoff,
            mapoff,
            logoff,
            info2off: logoff + logsize,
            size,
            has_next,
            external_nlba,
            internal_nlba,
            external_lbasize: lbasize,
            internal_lbasize,
            nfree: NFREE,
        })
    }

    /// The geometry `info`, found at `start`, describes, if it is one that
    /// fits in a BTT of `space` bytes and serves sectors of `lbasize`
    /// bytes; else why not.
    pub(crate) fn from_info(
        info: &Info,
        start: u64,
        space: u64,
        lbasize: u32,
    ) -> Result<Self, &'static str> {
        if info.infosize as usize != INFO_SIZE {
            return Err("info block size is not 4096");
        }
        if info.external_lbasize != lbasize {
            return Err("sector size differs from the namespace's");
        }
        if info.internal_lbasize < lbasize
            || info.internal_lbasize % INTERNAL_ALIGN != 0
            || info.internal_lbasize > lbasize + PAGE as u32
        {
            return Err("internal block size not a sector rounded up to 64 bytes");
        }
        if info.nfree == 0 || info.external_nlba == 0 {
            return Err("no free blocks or no sectors");
        }
        if u64::from(info.external_nlba) + u64::from(info.nfree) > u64::from(info.internal_nlba) {
            return Err("more sectors and free blocks than blocks");
        }
        let at = |off: u64| start.checked_add(off).ok_or("offset overflows");
        let (dataoff, mapoff) = (at(info.dataoff)?, at(info.mapoff)?);
        let (logoff, info2off) = (at(info.logoff)?, at(info.info2off)?);
        let offsets = [dataoff, mapoff, logoff, info2off];
        if offsets.iter().any(|&off| off >= space) {
            return Err("an offset points past the namespace");
        }
        if offsets.iter().any(|off| off % 512 != 0) {
            return Err("an offset is not 512-byte aligned");
        }
        // Below `space`, and counts below 2^32 of at most 2^13 bytes: no
        // sum overflows. Each part starts after the one before it ends.
        let span = |n: u32, each: u64| u64::from(n) * each;
        let data_end = dataoff + span(info.internal_nlba, info.internal_lbasize.into());
        let map_end = mapoff + span(info.external_nlba, MAP_ENTRY);
        let log_end = logoff + span(info.nfree, LOG_GROUP);
        let end = info2off + INFO_SIZE as u64;
        if dataoff < start + INFO_SIZE as u64
            || mapoff < data_end
            || logoff < map_end
            || info2off < log_end
        {
            return Err("data, map, flog and backup info block overlap");
        }
        let size = match info.nextoff {
            0 => end - start,
            next if next % PAGE == 0 && next >= end - start && next < space => next,
            _ => return Err("next arena starts inside this one"),
        };
        if size < ARENA_MIN {
            return Err("arena smaller than 16 MiB");
        }
        match start.checked_add(size) {
            Some(arena_end) if arena_end > space => return Err("arena ends past the namespace"),
            Some(arena_end) if info.nextoff != 0 && arena_end + ARENA_MIN > space => {
                return Err("next arena would not fit in the namespace")
            }
            None => return Err("arena ends past the namespace"),
            Some(_) => (),
        }
        Ok(Self {
            infooff: start,
            dataoff,
            mapoff,
            logoff,
            info2off,
            size,
            has_next: info.nextoff != 0,
            external_nlba: info.external_nlba,
            internal_nlba: info.internal_nlba,
            external_lbasize: info.external_lbasize,
            internal_lbasize: info.internal_lbasize,
            nfree: info.nfree,
        })
    }

    /// The info block describing this arena.
    pub(crate) fn info(&self, uuid: [u8; 16], parent_uuid: [u8; 16], version: (u16, u16)) -> Info {
        Info {
            uuid,
            parent_uuid,
            flags: 0,
            version,
            external_lbasize: self.external_lbasize,
            external_nlba: self.external_nlba,
            internal_lbasize: self.internal_lbasize,
            internal_nlba: self.internal_nlba,
            nfree: self.nfree,
            infosize: INFO_SIZE as u32,
            nextoff: if self.has_next { self.size } else { 0 },
            dataoff: self.dataoff - self.infooff,
            mapoff: self.mapoff - self.infooff,
            logoff: self.logoff - self.infooff,
            info2off: self.info2off - self.infooff,
        }
    }

    /// Bytes of data in each of the arena's sectors.
    pub(crate) fn data_size(&self) -> u32 {
        data_size(self.external_lbasize)
    }

    /// Where internal block `block` (below `internal_nlba`) is.
    pub(crate) fn block(&self, block: u32) -> u64 {
        self.dataoff + u64::from(block) * u64::from(self.internal_lbasize)
    }

    /// Where the map entry of sector `lba` (below `external_nlba`) is.
    pub(crate) fn map_entry(&self, lba: u32) -> u64 {
        self.mapoff + u64::from(lba) * MAP_ENTRY
    }

    /// Where flog lane `lane` (below `nfree`) is.
    pub(crate) fn log_group(&self, lane: u32) -> u64 {
        self.logoff + u64::from(lane) * LOG_GROUP
    }
}

/// The arenas nd_btt makes of `space` bytes: as many of the largest size
/// as fit, the rest in a last one unless it is below the smallest
/// (`create_arenas`).
pub(crate) fn new_arenas(space: u64, lbasize: u32) -> impl Iterator<Item = Option<Geometry>> {
    let mut start = 0;
    core::iter::from_fn(move || {
        let left = space - start;
        let size = left.min(ARENA_MAX);
        if size < ARENA_MIN {
            return None;
        }
        let has_next = left - size >= ARENA_MIN;
        let arena = Geometry::new(start, size, lbasize, has_next);
        start += size;
        Some(arena)
    })
}

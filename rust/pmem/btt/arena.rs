// SPDX-License-Identifier: GPL-2.0

//! One arena at work: sector reads and atomic sector writes.
//!
//! A write never touches the block that holds the sector. It fills a free
//! block, records (sector, old block, new block) in its lane's flog slot,
//! then points the sector's map entry at the new block; each step is
//! durable before the next begins (see [`super::media`]), and the map
//! entry and the flog halves are single 4- and 8-byte stores. A crash
//! leaves either the old block in the map or the new one, and the flog
//! tells which block is free again; at probe, [`Checked::open`] finishes a
//! map update the flog recorded but the map missed (`btt_freelist_init`).
//!
//! In RAM, per lane: the free block, which flog slot is next and its
//! sequence number (`struct free_entry`), under a mutex; a lane is chosen
//! by CPU. The read tracking table tells writers which blocks readers are
//! copying from: a writer waits until no reader is on the free block it is
//! about to fill. Map entries are updated under one of a set of mutexes
//! hashed by sector.
//!
//! Both locks are mutexes because a write holds them across region
//! flushes, which may sleep: virtio-pmem's waits for the host (7.3's own
//! lanes, `nd_region_acquire_lane`, are mutexes too). The CPU only spreads
//! tasks over the lanes: a task may move to another CPU while it holds
//! one, and another task then waits for that lane's mutex; what a lane
//! keeps (free block, flog position, read tracking slot) belongs to whoever
//! holds its mutex, wherever it runs.
//!
//! A bio that must not sleep (`REQ_NOWAIT`, [`Wait::Not`]) only tries the
//! locks: it takes any free lane, from its CPU's on, and fails with
//! `EAGAIN` where every lane or its map lock is held, where its write would
//! flush a region whose flush sleeps, or where a free block's poison is to
//! be cleared; it is then submitted again by a task that may wait. Each
//! sector is still written atomically: a write given up leaves its free
//! block free.
//!
//! Only a sector's data moves: the integrity metadata after it in a block
//! of a 520- or 4104-byte (...) sector is neither read nor written, as
//! nd_btt leaves it on a kernel without `CONFIG_BLK_DEV_INTEGRITY`.

use super::{
    flog,
    info::FLAG_ERROR,
    layout::{Geometry, LOG_GROUP},
    map::{self, Entry},
    media::Media,
};
use crate::ext::block::bio::MappedSegment;
use kernel::{
    cpu::CpuId,
    error::code::{EAGAIN, EIO},
    new_mutex,
    prelude::*,
    processor::cpu_relax,
    sync::{
        atomic::{Atomic, Relaxed, Release},
        barrier::{smp_mb, Full},
        Mutex, MutexGuard,
    },
};

/// Whether a sector's reader or writer may sleep: not for a `REQ_NOWAIT`
/// bio.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// It may: locks are waited for.
    May,
    /// It must not: where it would sleep, it fails with `EAGAIN`.
    Not,
}

impl Wait {
    /// Takes `lock`; if another task holds it, waits for it, or fails with
    /// `EAGAIN` if that is not allowed.
    fn lock<T>(self, lock: &Mutex<T>) -> Result<MutexGuard<'_, T>> {
        match self {
            Wait::May => Ok(lock.lock()),
            Wait::Not => lock.try_lock().ok_or(EAGAIN),
        }
    }
}

/// Lanes in use at most: one per possible CPU up to this many, each with
/// its own free block; an arena with fewer free blocks uses fewer.
const LANES: usize = 256;
/// Map locks, each for a 64-byte line of map entries (`lock_map`).
const MAP_LOCKS: usize = 256;
/// A read tracking table entry: a reader is copying from this block.
const RTT_VALID: u32 = 1 << 31;

/// A lane's free block and flog position (`struct free_entry`).
#[derive(Clone, Copy, Default)]
struct Lane {
    /// The free block the lane's next write fills.
    block: u32,
    /// Which of the two flog slots the next write records in.
    sub: usize,
    /// The sequence number it records.
    seq: u32,
    /// Reading the block failed once: clear its poison before filling it.
    has_err: bool,
}

/// An arena, ready for I/O.
#[pin_data]
pub(crate) struct Arena {
    geo: Geometry,
    /// The disk's sector number of the arena's first sector.
    first: u64,
    /// Which two of each flog lane's four slots are used.
    slots: [usize; 2],
    /// Lanes in use.
    nlanes: usize,
    /// Writes fail: the info block says the arena had an error.
    read_only: bool,
    /// Held across region flushes, which may sleep: mutexes.
    #[pin]
    lanes: [Mutex<Lane>; LANES],
    rtt: [Atomic<u32>; LANES],
    /// Held across region flushes, as the lanes.
    #[pin]
    map_locks: [Mutex<()>; MAP_LOCKS],
    /// Serializes clearing the poison of free blocks.
    #[pin]
    clearing: Mutex<()>,
}

impl Arena {
    /// Checks the arena `geo` of `media`, whose info block had `flags`, for
    /// the disk's sectors from `first` on, without writing anything: finds
    /// the flog's slots, each lane's free block, and the map updates of
    /// writes a crash interrupted. Fails with why if the flog makes no
    /// sense.
    pub(crate) fn check(
        media: &Media,
        geo: Geometry,
        flags: u32,
        first: u64,
    ) -> Result<Result<Checked, &'static str>> {
        let groups = (0..geo.nfree).map(|lane| read_group(media, &geo, lane));
        let slots = match flog::find_slots(groups)? {
            Ok(slots) => slots,
            Err(why) => return Ok(Err(why)),
        };
        // A lane per possible CPU at most: readers announce their blocks
        // in their lane's slot only, so writers look at these slots only.
        let nlanes = (geo.nfree as usize)
            .min(LANES)
            .min(kernel::cpu::nr_cpu_ids() as usize);
        let mut lanes = KVec::with_capacity(LANES, GFP_KERNEL)?;
        let mut redo = KVec::new();
        for lane in 0..geo.nfree {
            let group = read_group(media, &geo, lane)?;
            let (new, at) = match group.newest(slots) {
                Ok(newest) => newest,
                Err(why) => return Ok(Err(why)),
            };
            let (old_block, new_block) = (map::block_of(new.old_map), map::block_of(new.new_map));
            if new.lba >= geo.external_nlba
                || old_block >= geo.internal_nlba
                || new_block >= geo.internal_nlba
            {
                return Ok(Err("a flog entry names a sector or block past the arena"));
            }
            if (lane as usize) < LANES {
                lanes.push(
                    Lane {
                        block: old_block,
                        sub: 1 - at,
                        seq: flog::next_seq(new.seq),
                        has_err: map::has_error(new.old_map),
                    },
                    GFP_KERNEL,
                )?;
            }
            // The flog has the write, the map may not: its update is to
            // be redone.
            if old_block != new_block {
                let mapped = map_read(media, &geo, new.lba)?.block();
                if mapped != new_block && mapped == old_block {
                    redo.push((new.lba, new_block), GFP_KERNEL)?;
                }
            }
        }
        let used = &lanes[..nlanes];
        let shared = |(i, lane): (usize, &Lane)| used[..i].iter().any(|l| l.block == lane.block);
        if used.iter().enumerate().any(shared) {
            return Ok(Err("two flog lanes have the same free block"));
        }
        lanes.resize(LANES, Lane::default(), GFP_KERNEL)?;
        Ok(Ok(Checked {
            geo,
            flags,
            first,
            slots,
            nlanes,
            lanes,
            redo,
        }))
    }

    /// The disk sectors (of the external size) the arena serves.
    pub(crate) fn sectors(&self) -> u64 {
        self.geo.external_nlba.into()
    }

    /// The disk's sector number of the arena's first sector.
    pub(crate) fn first(&self) -> u64 {
        self.first
    }

    /// The lane to take: by CPU (`nd_region_acquire_lane`), which spreads
    /// tasks over the lanes; the task may move to another CPU meanwhile,
    /// and the lane's mutex still serializes its users.
    fn lane(&self) -> usize {
        CpuId::current().as_u32() as usize % self.nlanes
    }

    /// Takes a lane: the CPU's. A task that must not sleep takes the first
    /// free one from there on, and fails with `EAGAIN` only if every lane
    /// is held: any lane serves any sector.
    fn take_lane(&self, wait: Wait) -> Result<(usize, MutexGuard<'_, Lane>)> {
        let first = self.lane();
        if wait == Wait::May {
            return Ok((first, self.lanes[first].lock()));
        }
        (0..self.nlanes)
            .map(|i| (first + i) % self.nlanes)
            .find_map(|lane| Some((lane, self.lanes[lane].try_lock()?)))
            .ok_or(EAGAIN)
    }

    /// Reads sector `lba` of the arena into the segment at `at`.
    pub(crate) fn read(
        &self,
        media: &Media,
        lba: u32,
        seg: &MappedSegment<'_>,
        at: usize,
        wait: Wait,
    ) -> Result {
        let len = self.geo.data_size() as usize;
        // The lane's read tracking slot is ours while the lane is.
        let (lane, _lane) = self.take_lane(wait)?;
        let tracking = Tracking(&self.rtt[lane]);
        let mut entry = map_read(media, &self.geo, lba)?;
        // Announce the block, then make sure the map still names it: from
        // then on no writer reuses it until the slot is cleared.
        let block = loop {
            let block = match entry {
                Entry::Zero(_) => return seg.zero(at, len),
                Entry::Error(_) => return Err(EIO),
                Entry::Block(block) => block,
            };
            tracking.0.store(RTT_VALID | block, Relaxed);
            smp_mb(Full);
            let again = map_read(media, &self.geo, lba)?;
            if again == entry {
                break block;
            }
            entry = again;
        };
        let ret = if block < self.geo.internal_nlba {
            media.read_to(self.geo.block(block), seg, at, len)
        } else {
            dev_err!(
                media.dev(),
                "sector {lba} maps to block {block}, past the arena\n"
            );
            Err(EIO)
        };
        // The copy is over: writers may fill the block again. Nothing
        // below sleeps with the block announced (a writer spins on it).
        drop(tracking);
        if ret.is_err() && block < self.geo.internal_nlba {
            // A media error: remember it in the map, as nd_btt does, so
            // that the sector reads as an error until it is written; unless
            // a writer moved the sector meanwhile (the map lock orders the
            // two). A reader that must not sleep leaves that to its retry,
            // where the map write's flush would sleep.
            if wait == Wait::Not && media.flush_may_sleep() {
                return Err(EAGAIN);
            }
            let _map = wait.lock(&self.map_locks[map_lock(lba)])?;
            if map_read(media, &self.geo, lba) == Ok(entry) {
                let _ = map_write(media, &self.geo, lba, Entry::Error(block));
            }
        }
        ret
    }

    /// Writes sector `lba` of the arena from the segment at `at`,
    /// atomically: after a crash it reads as before or as after.
    pub(crate) fn write(
        &self,
        media: &Media,
        lba: u32,
        seg: &MappedSegment<'_>,
        at: usize,
        wait: Wait,
    ) -> Result {
        if self.read_only {
            return Err(EIO);
        }
        // Every step below is made durable by a region flush.
        if wait == Wait::Not && media.flush_may_sleep() {
            return Err(EAGAIN);
        }
        let len = self.geo.data_size() as usize;
        loop {
            let (lane_no, mut lane) = self.take_lane(wait)?;
            let new = lane.block;
            if lane.has_err || media.is_bad(self.geo.block(new), len) {
                lane.has_err = true;
                drop(lane);
                // Clearing poison sleeps.
                if wait == Wait::Not {
                    return Err(EAGAIN);
                }
                self.clear_free(media, lane_no)?;
                continue;
            }
            // Wait for readers still copying from the free block.
            smp_mb(Full);
            for rtt in &self.rtt[..self.nlanes] {
                while rtt.load(Relaxed) == RTT_VALID | new {
                    cpu_relax();
                }
            }
            media.write_from(self.geo.block(new), seg, at, len)?;

            let _map = wait.lock(&self.map_locks[map_lock(lba)])?;
            let (old, error) = match map_read(media, &self.geo, lba)? {
                Entry::Block(block) | Entry::Zero(block) => (block, false),
                Entry::Error(block) => (block, true),
            };
            if old >= self.geo.internal_nlba {
                dev_err!(
                    media.dev(),
                    "sector {lba} maps to block {old}, past the arena\n"
                );
                return Err(EIO);
            }
            let record = flog::Entry {
                lba,
                old_map: map::with_error(old, error),
                new_map: new,
                seq: lane.seq,
            };
            self.flog_write(media, lane_no, lane.sub, &record)?;
            *lane = Lane {
                block: old,
                sub: 1 - lane.sub,
                seq: flog::next_seq(lane.seq),
                has_err: error,
            };
            map_write(media, &self.geo, lba, Entry::Block(new))?;
            return Ok(());
        }
    }

    /// Records `entry` in slot `sub` of flog lane `lane`, in two atomic
    /// halves: the sequence number, in the second, makes it count.
    fn flog_write(&self, media: &Media, lane: usize, sub: usize, entry: &flog::Entry) -> Result {
        let at = self.geo.log_group(lane as u32) + (self.slots[sub] * flog::SLOT) as u64;
        let bytes = entry.encode();
        let half = flog::SLOT / 2;
        media.write(at, &bytes[..half])?;
        media.write(at + half as u64, &bytes[half..])
    }

    /// Clears the poison of lane `lane`'s free block, if reading it had
    /// failed, by zeroing it; may sleep (`arena_clear_freelist_error`).
    fn clear_free(&self, media: &Media, lane: usize) -> Result {
        let _clearing = self.clearing.lock();
        let block = {
            let lane = self.lanes[lane].lock();
            if !lane.has_err {
                return Ok(());
            }
            lane.block
        };
        media.clear(self.geo.block(block), self.geo.data_size())?;
        let mut lane = self.lanes[lane].lock();
        if lane.block == block {
            lane.has_err = false;
        }
        Ok(())
    }
}

/// An arena that [`Arena::check`] found sound, not written to yet.
pub(crate) struct Checked {
    geo: Geometry,
    flags: u32,
    first: u64,
    slots: [usize; 2],
    nlanes: usize,
    lanes: KVec<Lane>,
    /// Map updates the flog recorded and the map missed: (sector, block).
    redo: KVec<(u32, u32)>,
}

impl Checked {
    /// The disk sectors the arena serves.
    pub(crate) fn sectors(&self) -> u64 {
        self.geo.external_nlba.into()
    }

    /// Opens the arena for I/O: finishes the interrupted map updates and
    /// clears the poison of free blocks that had a media error
    /// (`btt_freelist_init`).
    pub(crate) fn open(self, media: &Media) -> Result<Pin<KBox<Arena>>> {
        for &(lba, block) in self.redo.iter() {
            map_write(media, &self.geo, lba, Entry::Block(block))?;
        }
        if !self.redo.is_empty() {
            dev_info!(
                media.dev(),
                "arena at {:#x}: finished {} interrupted write(s)\n",
                self.geo.infooff,
                self.redo.len()
            );
        }
        let lanes = self.lanes;
        let arena = KBox::pin_init(
            try_pin_init!(Arena {
                geo: self.geo,
                first: self.first,
                slots: self.slots,
                nlanes: self.nlanes,
                read_only: self.flags & FLAG_ERROR != 0,
                lanes <- pin_init::pin_init_array_from_fn(|i| new_mutex!(lanes[i])),
                rtt: core::array::from_fn(|_| Atomic::new(0)),
                map_locks <- pin_init::pin_init_array_from_fn(|_| new_mutex!(())),
                clearing <- new_mutex!(()),
            }? Error),
            GFP_KERNEL,
        )?;
        for lane in 0..arena.nlanes {
            arena.clear_free(media, lane)?;
        }
        Ok(arena)
    }
}

/// A reader's read tracking table entry, cleared when the read ends.
struct Tracking<'a>(&'a Atomic<u32>);

impl Drop for Tracking<'_> {
    fn drop(&mut self) {
        self.0.store(0, Release);
    }
}

/// The map lock of sector `lba`: one per 16 entries (a cache line).
fn map_lock(lba: u32) -> usize {
    (lba as usize / 16) % MAP_LOCKS
}

fn read_group(media: &Media, geo: &Geometry, lane: u32) -> Result<flog::Group> {
    let mut b = [0; LOG_GROUP as usize];
    media.read(geo.log_group(lane), &mut b)?;
    Ok(flog::Group::decode(&b))
}

fn map_read(media: &Media, geo: &Geometry, lba: u32) -> Result<Entry> {
    let mut b = [0; 4];
    media.read(geo.map_entry(lba), &mut b)?;
    Ok(Entry::decode(u32::from_le_bytes(b), lba))
}

fn map_write(media: &Media, geo: &Geometry, lba: u32, entry: Entry) -> Result {
    media.write(geo.map_entry(lba), &entry.encode().to_le_bytes())
}

// SPDX-License-Identifier: GPL-2.0

//! The BTT flog: per lane, a group of four 16-byte slots of which two are
//! used in turn. A write records (sector, old block, new block, sequence
//! number) in the older slot before it changes the map; the newer slot
//! tells, after a crash, which block is the lane's free one and whether
//! the map change must be redone (`struct log_group` of
//! `drivers/nvdimm/btt.h`).
//!
//! Sequence numbers cycle 1, 2, 3, 1; 0 marks an unused slot. Which two of
//! the four slots are used depends on the writer: (0, 1) today, (0, 2) for
//! layouts of older kernels, told apart by which slots are all zeroes
//! (`log_set_indices`).

use super::info::u32_at;
use super::layout::LOG_GROUP;

/// Size of a slot; it is written in two atomic 8-byte halves.
pub(crate) const SLOT: usize = 16;

/// A flog entry.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub(crate) struct Entry {
    /// The sector the write was for.
    pub(crate) lba: u32,
    /// The block that held it before (free after the write), with the
    /// error flag if reading it had failed.
    pub(crate) old_map: u32,
    /// The block that holds it after.
    pub(crate) new_map: u32,
    pub(crate) seq: u32,
}

impl Entry {
    fn decode(b: &[u8]) -> Self {
        Self {
            lba: u32_at(b, 0),
            old_map: u32_at(b, 4),
            new_map: u32_at(b, 8),
            seq: u32_at(b, 12),
        }
    }

    /// The slot's bytes.
    pub(crate) fn encode(&self) -> [u8; SLOT] {
        let mut b = [0; SLOT];
        for (i, v) in [self.lba, self.old_map, self.new_map, self.seq]
            .into_iter()
            .enumerate()
        {
            b[i * 4..i * 4 + 4].copy_from_slice(&v.to_le_bytes());
        }
        b
    }

    fn is_padding(&self) -> bool {
        *self == Self::default()
    }
}

/// The sequence number after `seq` (`nd_inc_seq`).
pub(crate) fn next_seq(seq: u32) -> u32 {
    [0, 2, 3, 1][(seq & 3) as usize]
}

/// One lane's group of four slots.
pub(crate) struct Group([Entry; 4]);

impl Group {
    pub(crate) fn decode(b: &[u8; LOG_GROUP as usize]) -> Self {
        Self(core::array::from_fn(|i| Entry::decode(&b[i * SLOT..])))
    }

    /// The newer of the two used slots, and its index (0 or 1) among them
    /// (`btt_log_get_old`); an error for sequence numbers no writer leaves.
    pub(crate) fn newest(&self, slots: [usize; 2]) -> Result<(Entry, usize), &'static str> {
        let (a, b) = (self.0[slots[0]], self.0[slots[1]]);
        if a.seq > 3 || b.seq > 3 {
            return Err("sequence number above 3");
        }
        // A first slot never written counts as 1 and as the older one.
        let seq_a = if a.seq == 0 { 1 } else { a.seq };
        let old = if a.seq == 0 {
            0
        } else if seq_a == b.seq {
            return Err("two slots with the same sequence number");
        } else if seq_a < b.seq {
            usize::from(b.seq - seq_a != 1)
        } else {
            usize::from(seq_a - b.seq == 1)
        };
        let new = 1 - old;
        Ok((self.0[slots[new]], new))
    }
}

/// Finds which two slots of each group are used (`log_set_indices`), from
/// the groups of all lanes: the first group with two used slots decides,
/// every other one must agree; groups still as a new layout leaves them
/// (one entry, in the first slot) say nothing. `(0, 1)` if none decides.
/// The outer error is one reading a group; the inner one says what is
/// wrong with the flog.
pub(crate) fn find_slots(
    groups: impl Iterator<Item = Result<Group, kernel::error::Error>>,
) -> Result<Result<[usize; 2], &'static str>, kernel::error::Error> {
    let mut found: Option<[usize; 2]> = None;
    for group in groups {
        let group = group?;
        let used: ([usize; 4], usize) =
            group
                .0
                .iter()
                .enumerate()
                .fold(([0; 4], 0), |(mut at, n), (i, entry)| {
                    if !entry.is_padding() {
                        at[n] = i;
                    }
                    (at, n + usize::from(!entry.is_padding()))
                });
        let slots = match used {
            (_, 0) => return Ok(Err("a flog lane with no entry")),
            ([0, ..], 1) => continue,
            (_, 1) => return Ok(Err("a new flog lane's entry is not in its first slot")),
            ([first, second, ..], 2) => [first, second],
            _ => return Ok(Err("a flog lane with more than two entries")),
        };
        match found {
            None => found = Some(slots),
            Some(f) if f == slots => (),
            Some(_) => return Ok(Err("flog lanes disagree on their slots")),
        }
    }
    let slots = found.unwrap_or([0, 1]);
    if slots != [0, 1] && slots != [0, 2] {
        return Ok(Err("unknown flog slot scheme"));
    }
    Ok(Ok(slots))
}

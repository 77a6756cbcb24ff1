// SPDX-License-Identifier: GPL-2.0

//! The BTT info block: 4 KiB at the start of every arena, and its copy at
//! the arena's end, describing the arena (`struct btt_sb` of
//! `drivers/nvdimm/btt.h`, little-endian on the media).
//!
//! Whatever is read here comes from the media, which may hold anything: a
//! block counts only with the signature and a matching Fletcher-64
//! checksum, and its numbers are checked again against the arena they
//! describe ([`super::layout`]) before anything is read where they point.

/// Size of an info block, in bytes.
pub(crate) const INFO_SIZE: usize = 4096;

const SIGNATURE: [u8; 16] = *b"BTT_ARENA_INFO\0\0";
/// Offset of the checksum, the block's last eight bytes.
const CHECKSUM: usize = INFO_SIZE - 8;

/// The contents of a valid info block.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct Info {
    pub(crate) uuid: [u8; 16],
    pub(crate) parent_uuid: [u8; 16],
    /// `IB_FLAG_ERROR` (bit 0): the arena had an error, writes fail.
    pub(crate) flags: u32,
    pub(crate) version: (u16, u16),
    pub(crate) external_lbasize: u32,
    pub(crate) external_nlba: u32,
    pub(crate) internal_lbasize: u32,
    pub(crate) internal_nlba: u32,
    pub(crate) nfree: u32,
    pub(crate) infosize: u32,
    /// The following offsets count from the start of the arena; `nextoff`
    /// is 0 in the last arena.
    pub(crate) nextoff: u64,
    pub(crate) dataoff: u64,
    pub(crate) mapoff: u64,
    pub(crate) logoff: u64,
    pub(crate) info2off: u64,
}

/// What an info block's place holds.
pub(crate) enum Found {
    /// No BTT signature: never written, or not a BTT.
    Blank,
    /// The signature, but the block fails its checksum.
    BadChecksum,
    /// A valid block.
    Valid(Info),
}

/// The flag that marks an arena unusable for writes.
pub(crate) const FLAG_ERROR: u32 = 1;

impl Info {
    /// Reads the block in `b`.
    pub(crate) fn decode(b: &[u8; INFO_SIZE]) -> Found {
        if b[..16] != SIGNATURE {
            return Found::Blank;
        }
        if u64_at(b, CHECKSUM) != checksum(b) {
            return Found::BadChecksum;
        }
        Found::Valid(Self {
            uuid: b[16..32].try_into().unwrap_or_default(),
            parent_uuid: b[32..48].try_into().unwrap_or_default(),
            flags: u32_at(b, 48),
            version: (u16_at(b, 52), u16_at(b, 54)),
            external_lbasize: u32_at(b, 56),
            external_nlba: u32_at(b, 60),
            internal_lbasize: u32_at(b, 64),
            internal_nlba: u32_at(b, 68),
            nfree: u32_at(b, 72),
            infosize: u32_at(b, 76),
            nextoff: u64_at(b, 80),
            dataoff: u64_at(b, 88),
            mapoff: u64_at(b, 96),
            logoff: u64_at(b, 104),
            info2off: u64_at(b, 112),
        })
    }

    /// Writes the block, with its checksum, into `b`.
    pub(crate) fn encode(&self, b: &mut [u8; INFO_SIZE]) {
        b.fill(0);
        b[..16].copy_from_slice(&SIGNATURE);
        b[16..32].copy_from_slice(&self.uuid);
        b[32..48].copy_from_slice(&self.parent_uuid);
        put(b, 48, &self.flags.to_le_bytes());
        put(b, 52, &self.version.0.to_le_bytes());
        put(b, 54, &self.version.1.to_le_bytes());
        for (at, v) in [
            (56, self.external_lbasize),
            (60, self.external_nlba),
            (64, self.internal_lbasize),
            (68, self.internal_nlba),
            (72, self.nfree),
            (76, self.infosize),
        ] {
            put(b, at, &v.to_le_bytes());
        }
        for (at, v) in [
            (80, self.nextoff),
            (88, self.dataoff),
            (96, self.mapoff),
            (104, self.logoff),
            (112, self.info2off),
        ] {
            put(b, at, &v.to_le_bytes());
        }
        let sum = checksum(b);
        put(b, CHECKSUM, &sum.to_le_bytes());
    }
}

/// The block's Fletcher-64 checksum over little-endian 32-bit words, with
/// the checksum field counted as zero (`nd_sb_checksum`).
fn checksum(b: &[u8; INFO_SIZE]) -> u64 {
    let (mut lo, mut hi) = (0u32, 0u64);
    for (i, word) in b.chunks_exact(4).enumerate() {
        let v = if i * 4 >= CHECKSUM {
            0
        } else {
            u32_at(word, 0)
        };
        lo = lo.wrapping_add(v);
        hi = hi.wrapping_add(u64::from(lo));
    }
    (hi << 32) | u64::from(lo)
}

fn put(b: &mut [u8], at: usize, v: &[u8]) {
    b[at..at + v.len()].copy_from_slice(v);
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

pub(super) fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from(u32_at(b, at)) | (u64::from(u32_at(b, at + 4)) << 32)
}

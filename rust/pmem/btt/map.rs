// SPDX-License-Identifier: GPL-2.0

//! BTT map entries: for each sector of an arena, the internal block that
//! holds it, in a little-endian 32-bit word whose top two bits are flags
//! (`MAP_TRIM_SHIFT`, `MAP_ERR_SHIFT` of `drivers/nvdimm/btt.h`). Both
//! flags clear is the state of a new map: the sector is in the block of
//! its own number.

const ZERO: u32 = 1 << 31;
const ERROR: u32 = 1 << 30;
const NORMAL: u32 = ZERO | ERROR;
const BLOCK: u32 = !NORMAL;

/// What a map entry says about a sector.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Entry {
    /// The sector's data is in this block.
    Block(u32),
    /// The sector reads as zeroes (trimmed); the block is still its own.
    Zero(u32),
    /// Reading the block failed: the sector reads as an error until it is
    /// written.
    Error(u32),
}

impl Entry {
    /// The entry `raw` for sector `lba` (`btt_map_read`).
    pub(crate) fn decode(raw: u32, lba: u32) -> Self {
        let block = raw & BLOCK;
        match raw & NORMAL {
            0 => Self::Block(lba),
            ZERO => Self::Zero(block),
            ERROR => Self::Error(block),
            _ => Self::Block(block),
        }
    }

    /// The raw entry (`btt_map_write`).
    pub(crate) fn encode(self) -> u32 {
        match self {
            Self::Block(block) => (block & BLOCK) | NORMAL,
            Self::Zero(block) => (block & BLOCK) | ZERO,
            Self::Error(block) => (block & BLOCK) | ERROR,
        }
    }

    /// The internal block the entry names.
    pub(crate) fn block(self) -> u32 {
        match self {
            Self::Block(block) | Self::Zero(block) | Self::Error(block) => block,
        }
    }
}

/// The block number in a map word as flog entries carry it, without flags.
pub(crate) fn block_of(raw: u32) -> u32 {
    raw & BLOCK
}

/// Whether a flog entry's old block carries the error flag alone, which
/// nd_btt records when it replaces a block that failed a read.
pub(crate) fn has_error(raw: u32) -> bool {
    raw & NORMAL == ERROR
}

/// A flog entry's old block, with the error flag if `error`.
pub(crate) fn with_error(block: u32, error: bool) -> u32 {
    if error {
        block | ERROR
    } else {
        block
    }
}

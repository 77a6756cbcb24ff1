// SPDX-License-Identifier: GPL-2.0

//! KUnit suites of rpmem's pure logic: the BTT's on-media formats (info
//! block, flog, map, arena layout) and their validation, the bad sector
//! arithmetic of DAX and the sector conversions of the data paths.
//!
//! They are compiled into the test modules only (`--cfg rpmem_kunit`, see
//! `Kbuild`), which register no driver: loading `rpmem_kunit.ko` runs
//! them, and KUnit prints their KTAP to the kernel log and to
//! `/sys/kernel/debug/kunit/SUITE/results` (`selftests/rpmem_kunit.sh`).
//! `rpmem_kunit_broken.ko` (`--cfg rpmem_kunit_broken` as well) is the
//! control: one expectation in it is wrong, and exactly that case fails.
//!
//! The suites sit outside `crate::pmem`, which is `#[forbid(unsafe_code)]`:
//! `#[kunit_tests]` generates `unsafe extern "C"` wrappers and a
//! `link_section` static for each suite. Only the test functions assert
//! (there `assert!` reports to KUnit; elsewhere it would panic), so the
//! helpers return values.

use kernel::prelude::*;

/// The test module: no driver, no device; KUnit runs the suites of
/// `.kunit_test_suites` when the module is loaded.
pub(crate) struct RpmemKunit;

impl kernel::Module for RpmemKunit {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(Self)
    }
}

/// What the control module gets wrong: one bit of a known checksum.
const BROKEN: u64 = if cfg!(rpmem_kunit_broken) { 1 } else { 0 };

/// A 16-byte UUID whose bytes count up from `first`.
fn uuid(first: u8) -> [u8; 16] {
    core::array::from_fn(|i| first.wrapping_add(i as u8))
}

/// Little-endian words of a block, as the tests read them back.
fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from(le32(b, at)) | (u64::from(le32(b, at + 4)) << 32)
}

#[kunit_tests(rpmem_btt_info)]
mod btt_info {
    use super::*;
    use crate::pmem::btt::{
        info::{Found, Info, INFO_SIZE},
        layout::{Geometry, ARENA_MIN},
    };

    /// The info block nd_btt writes for a 16 MiB namespace of 4096-byte
    /// sectors (its `alloc_arena` figures, worked out by hand).
    fn sample() -> Info {
        Info {
            uuid: uuid(1),
            parent_uuid: uuid(0x11),
            flags: 0,
            version: (2, 0),
            external_lbasize: 4096,
            external_nlba: 3829,
            internal_lbasize: 4096,
            internal_nlba: 4085,
            nfree: 256,
            infosize: 4096,
            nextoff: 0,
            dataoff: 0x1000,
            mapoff: 0xff7000,
            logoff: 0xffb000,
            info2off: 0xfff000,
        }
    }

    fn encoded(info: &Info) -> Result<KBox<[u8; INFO_SIZE]>> {
        let mut b = KBox::new([0u8; INFO_SIZE], GFP_KERNEL)?;
        info.encode(&mut b);
        Ok(b)
    }

    #[test]
    fn round_trip() -> Result {
        let b = encoded(&sample())?;
        assert!(matches!(Info::decode(&b), Found::Valid(info) if info == sample()));
        Ok(())
    }

    /// Every field at the offset `struct btt_sb` has, little-endian.
    #[test]
    fn btt_sb_layout() -> Result {
        let b = encoded(&sample())?;
        assert_eq!(&b[..16], b"BTT_ARENA_INFO\0\0");
        assert_eq!(&b[16..32], &uuid(1));
        assert_eq!(&b[32..48], &uuid(0x11));
        assert_eq!(le32(&b[..], 48), 0);
        assert_eq!(le32(&b[..], 52), 2);
        assert_eq!(le32(&b[..], 56), 4096);
        assert_eq!(le32(&b[..], 60), 3829);
        assert_eq!(le32(&b[..], 64), 4096);
        assert_eq!(le32(&b[..], 68), 4085);
        assert_eq!(le32(&b[..], 72), 256);
        assert_eq!(le32(&b[..], 76), 4096);
        assert_eq!(le64(&b[..], 80), 0);
        assert_eq!(le64(&b[..], 88), 0x1000);
        assert_eq!(le64(&b[..], 96), 0xff7000);
        assert_eq!(le64(&b[..], 104), 0xffb000);
        assert_eq!(le64(&b[..], 112), 0xfff000);
        // Padding up to the checksum.
        assert!(b[120..INFO_SIZE - 8].iter().all(|&x| x == 0));
        Ok(())
    }

    /// The Fletcher-64 of the sample as `nd_sb_checksum` computes it
    /// (worked out apart from this code, over little-endian words with the
    /// checksum field zero). The control module expects one bit more.
    #[test]
    fn checksum_known_answer() -> Result {
        let b = encoded(&sample())?;
        assert_eq!(le64(&b[..], INFO_SIZE - 8), 0x8fa5_3b85_8f6b_456e ^ BROKEN);
        Ok(())
    }

    #[test]
    fn blank() -> Result {
        let mut b = KBox::new([0u8; INFO_SIZE], GFP_KERNEL)?;
        assert!(matches!(Info::decode(&b), Found::Blank));
        // A whole valid block but for one byte of the signature.
        sample().encode(&mut b);
        b[13] ^= 0x20;
        assert!(matches!(Info::decode(&b), Found::Blank));
        Ok(())
    }

    /// A flipped bit anywhere past the signature, checksum included, fails
    /// the checksum.
    #[test]
    fn any_flipped_bit_fails_the_checksum() -> Result {
        let mut b = encoded(&sample())?;
        for at in Iterator::chain((16..INFO_SIZE).step_by(7), [INFO_SIZE - 1]) {
            b[at] ^= 1 << (at % 8);
            assert!(matches!(Info::decode(&b), Found::BadChecksum));
            b[at] ^= 1 << (at % 8);
        }
        assert!(matches!(Info::decode(&b), Found::Valid(_)));
        Ok(())
    }

    /// The info block of a new arena is the sample.
    #[test]
    fn new_arena_info() {
        let geo = Geometry::new(0, ARENA_MIN, 4096, false);
        assert!(geo.is_some());
        if let Some(geo) = geo {
            assert!(geo.info(uuid(1), uuid(0x11), (2, 0)) == sample());
        }
    }
}

#[kunit_tests(rpmem_btt_flog)]
mod btt_flog {
    use super::*;
    use crate::pmem::btt::flog::{find_slots, next_seq, Entry, Group, SLOT};
    use kernel::error::code::EIO;

    fn entry(lba: u32, seq: u32) -> Entry {
        Entry {
            lba,
            old_map: 1000 + lba,
            new_map: 2000 + lba,
            seq,
        }
    }

    const NONE: Entry = Entry {
        lba: 0,
        old_map: 0,
        new_map: 0,
        seq: 0,
    };

    fn group(slots: [Entry; 4]) -> Group {
        let mut b = [0u8; 4 * SLOT];
        for (i, e) in slots.iter().enumerate() {
            b[i * SLOT..(i + 1) * SLOT].copy_from_slice(&e.encode());
        }
        Group::decode(&b)
    }

    /// The slots `find_slots` finds in these groups.
    fn slots_of<const N: usize>(
        groups: [[Entry; 4]; N],
    ) -> Result<Result<[usize; 2], &'static str>> {
        find_slots(groups.into_iter().map(|g| Ok(group(g))))
    }

    /// `struct log_entry`: lba, old_map, new_map, seq, little-endian.
    #[test]
    fn entry_layout() {
        let e = Entry {
            lba: 0x0403_0201,
            old_map: 0x0807_0605,
            new_map: 0x0c0b_0a09,
            seq: 3,
        };
        assert_eq!(
            e.encode(),
            [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 3, 0, 0, 0]
        );
    }

    /// 1, 2, 3, 1 (`nd_inc_seq`); 0 stays 0.
    #[test]
    fn sequence() {
        assert_eq!(next_seq(1), 2);
        assert_eq!(next_seq(2), 3);
        assert_eq!(next_seq(3), 1);
        assert_eq!(next_seq(0), 0);
    }

    /// The newer of two slots (`btt_log_get_old`), in both slot schemes.
    #[test]
    fn newest() {
        for slots in [[0, 1], [0, 2]] {
            let pair = |a: u32, b: u32| {
                let mut g = [NONE; 4];
                g[slots[0]] = entry(7, a);
                g[slots[1]] = entry(8, b);
                group(g).newest(slots).map(|(e, i)| (e.lba, i))
            };
            assert_eq!(pair(1, 2), Ok((8, 1)));
            assert_eq!(pair(2, 3), Ok((8, 1)));
            assert_eq!(pair(3, 1), Ok((8, 1)));
            assert_eq!(pair(2, 1), Ok((7, 0)));
            assert_eq!(pair(3, 2), Ok((7, 0)));
            assert_eq!(pair(1, 3), Ok((7, 0)));
            // A first slot never written is the older one.
            assert_eq!(pair(0, 1), Ok((8, 1)));
            assert!(pair(2, 2).is_err());
            assert!(pair(4, 1).is_err());
            assert!(pair(1, 7).is_err());
        }
    }

    #[test]
    fn slot_schemes() {
        let new = [entry(0, 1), NONE, NONE, NONE];
        let today = [entry(0, 1), entry(0, 2), NONE, NONE];
        let old = [entry(0, 1), NONE, entry(0, 2), NONE];
        // A new layout says nothing: (0, 1).
        assert_eq!(slots_of([new, new]), Ok(Ok([0, 1])));
        assert_eq!(slots_of([new, today, today]), Ok(Ok([0, 1])));
        assert_eq!(slots_of([old, new, old]), Ok(Ok([0, 2])));
    }

    #[test]
    fn bad_slot_schemes() {
        let today = [entry(0, 1), entry(0, 2), NONE, NONE];
        let old = [entry(0, 1), NONE, entry(0, 2), NONE];
        let unknown = [NONE, entry(0, 1), entry(0, 2), NONE];
        let empty = [NONE; 4];
        let late = [NONE, NONE, entry(0, 1), NONE];
        let three = [entry(0, 1), entry(0, 2), entry(0, 3), NONE];
        assert_eq!(
            slots_of([today, old]),
            Ok(Err("flog lanes disagree on their slots"))
        );
        assert_eq!(slots_of([unknown]), Ok(Err("unknown flog slot scheme")));
        assert_eq!(
            slots_of([today, empty]),
            Ok(Err("a flog lane with no entry"))
        );
        assert_eq!(
            slots_of([late]),
            Ok(Err("a new flog lane's entry is not in its first slot"))
        );
        assert_eq!(
            slots_of([three]),
            Ok(Err("a flog lane with more than two entries"))
        );
    }

    /// An error reading a group is the outer error.
    #[test]
    fn read_error() {
        let groups = [Ok(group([entry(0, 1), NONE, NONE, NONE])), Err(EIO)];
        assert_eq!(find_slots(groups.into_iter()), Err(EIO));
    }
}

#[kunit_tests(rpmem_btt_map)]
mod btt_map {
    use crate::pmem::btt::map::{block_of, has_error, with_error, Entry};

    const ZERO: u32 = 1 << 31;
    const ERROR: u32 = 1 << 30;

    /// `btt_map_read`: no flag is a new map's identity entry, both flags a
    /// plain block, one flag trimmed or failed.
    #[test]
    fn decode() {
        assert_eq!(Entry::decode(0, 77), Entry::Block(77));
        assert_eq!(Entry::decode(5 | ZERO | ERROR, 77), Entry::Block(5));
        assert_eq!(Entry::decode(5 | ZERO, 77), Entry::Zero(5));
        assert_eq!(Entry::decode(5 | ERROR, 77), Entry::Error(5));
        assert_eq!(Entry::decode(u32::MAX, 77), Entry::Block(ERROR - 1));
    }

    #[test]
    fn encode() {
        assert_eq!(Entry::Block(5).encode(), 5 | ZERO | ERROR);
        assert_eq!(Entry::Zero(5).encode(), 5 | ZERO);
        assert_eq!(Entry::Error(5).encode(), 5 | ERROR);
        // A block number never reaches the flags.
        assert_eq!(Entry::Zero(u32::MAX).encode(), !ERROR);
    }

    #[test]
    fn round_trip() {
        for block in [0, 1, 4095, ERROR - 1] {
            for e in [Entry::Block(block), Entry::Zero(block), Entry::Error(block)] {
                assert_eq!(Entry::decode(e.encode(), 9), e);
                assert_eq!(e.block(), block);
            }
        }
    }

    /// Flog entries carry blocks without flags, or with the error flag
    /// alone where nd_btt replaced a block that failed a read.
    #[test]
    fn flog_blocks() {
        assert_eq!(block_of(5 | ZERO | ERROR), 5);
        assert!(has_error(5 | ERROR));
        assert!(!has_error(5 | ZERO | ERROR));
        assert!(!has_error(5 | ZERO));
        assert!(!has_error(5));
        assert_eq!(with_error(5, true), 5 | ERROR);
        assert_eq!(with_error(5, false), 5);
    }
}

#[kunit_tests(rpmem_btt_layout)]
mod btt_layout {
    use super::*;
    use crate::pmem::btt::{
        info::Info,
        layout::{data_size, new_arenas, Geometry, ARENA_MAX, ARENA_MIN, LBASIZES},
    };

    const MIB: u64 = 1 << 20;

    /// (infooff, dataoff, mapoff, logoff, info2off, internal_nlba,
    /// external_nlba, internal_lbasize) of an arena.
    type Figures = (u64, u64, u64, u64, u64, u32, u32, u32);

    /// The figures of a new arena at 0.
    fn figures(size: u64, lbasize: u32) -> Option<Figures> {
        let g = Geometry::new(0, size, lbasize, false)?;
        Some((
            g.infooff,
            g.dataoff,
            g.mapoff,
            g.logoff,
            g.info2off,
            g.internal_nlba,
            g.external_nlba,
            g.internal_lbasize,
        ))
    }

    /// What nd_btt's `alloc_arena` gives, worked out by hand.
    #[test]
    fn new_arena_as_nd_btt() {
        assert_eq!(
            figures(ARENA_MIN, 4096),
            Some((0, 0x1000, 0xff7000, 0xffb000, 0xfff000, 4085, 3829, 4096))
        );
        assert_eq!(
            figures(ARENA_MIN, 512),
            Some((0, 0x1000, 0xfdb000, 0xffb000, 0xfff000, 32458, 32202, 512))
        );
        assert_eq!(
            figures(ARENA_MIN, 520),
            Some((0, 0x1000, 0xfdf000, 0xffb000, 0xfff000, 28876, 28620, 576))
        );
        assert_eq!(
            figures(1 << 30, 4096),
            Some((0, 0x1000, 0x3fefb000, 0x3fffb000, 0x3ffff000, 261881, 261625, 4096))
        );
        // Too small for one sector past the free blocks.
        assert_eq!(figures(64 << 10, 4096), None);
    }

    #[test]
    fn sector_data_size() {
        for lbasize in LBASIZES {
            assert_eq!(data_size(lbasize), if lbasize < 4096 { 512 } else { 4096 });
        }
    }

    /// (size, has_next) of each arena of a new BTT over `space` bytes;
    /// `None` if they do not follow each other or one could not be made.
    fn arenas(space: u64) -> Option<KVec<(u64, bool)>> {
        let mut v = KVec::new();
        let mut start = 0;
        for g in new_arenas(space, 4096) {
            let g = g?;
            if g.infooff != start {
                return None;
            }
            start += g.size;
            v.push((g.size, g.has_next), GFP_KERNEL).ok()?;
        }
        Some(v)
    }

    /// As many arenas of 512 GiB as fit, the rest in a last one unless it
    /// is below 16 MiB (`create_arenas`).
    #[test]
    fn arenas_of_a_btt() {
        assert_eq!(arenas(ARENA_MIN - 1).as_deref(), Some(&[][..]));
        assert_eq!(
            arenas(ARENA_MIN).as_deref(),
            Some(&[(ARENA_MIN, false)][..])
        );
        assert_eq!(
            arenas(2 * ARENA_MAX + 20 * MIB).as_deref(),
            Some(&[(ARENA_MAX, true), (ARENA_MAX, true), (20 * MIB, false)][..])
        );
        assert_eq!(
            arenas(2 * ARENA_MAX + 8 * MIB).as_deref(),
            Some(&[(ARENA_MAX, true), (ARENA_MAX, false)][..])
        );
    }

    /// Every new arena's info block, read back, gives the same geometry.
    #[test]
    fn from_info_round_trip() {
        for lbasize in LBASIZES {
            for space in [ARENA_MIN, 1 << 30, 2 * ARENA_MAX + 20 * MIB] {
                for g in new_arenas(space, lbasize) {
                    assert!(g.is_some());
                    let Some(g) = g else { continue };
                    let info = g.info(uuid(1), uuid(2), (1, 1));
                    assert_eq!(Geometry::from_info(&info, g.infooff, space, lbasize), Ok(g));
                }
            }
        }
    }

    /// Where a block, a map entry and a flog lane are.
    #[test]
    fn places() {
        let g = Geometry::new(ARENA_MAX, 1 << 30, 520, false);
        assert!(g.is_some());
        let Some(g) = g else { return };
        assert_eq!(g.block(0), ARENA_MAX + 0x1000);
        assert_eq!(g.block(3), ARENA_MAX + 0x1000 + 3 * 576);
        assert_eq!(g.map_entry(5), g.mapoff + 20);
        assert_eq!(g.log_group(2), g.logoff + 128);
        assert_eq!(g.data_size(), 512);
    }

    /// What `from_info` says of the 16 MiB sample arena changed by `f`,
    /// found at `start` in `space` bytes of 4096-byte sectors.
    fn refused(start: u64, space: u64, f: impl FnOnce(&mut Info)) -> Result<(), &'static str> {
        let g = Geometry::new(0, ARENA_MIN, 4096, false).ok_or("no sample")?;
        let mut info = g.info(uuid(1), uuid(2), (2, 0));
        f(&mut info);
        Geometry::from_info(&info, start, space, 4096).map(|_| ())
    }

    /// Each check of a found info block, on a block that fails it alone.
    #[test]
    fn from_info_refuses() {
        let m = ARENA_MIN;
        assert_eq!(refused(0, m, |_| ()), Ok(()));
        assert_eq!(
            refused(0, m, |i| i.infosize = 512),
            Err("info block size is not 4096")
        );
        assert_eq!(
            refused(0, m, |i| i.external_lbasize = 512),
            Err("sector size differs from the namespace's")
        );
        assert_eq!(
            refused(0, m, |i| i.internal_lbasize = 4100),
            Err("internal block size not a sector rounded up to 64 bytes")
        );
        assert_eq!(
            refused(0, m, |i| i.nfree = 0),
            Err("no free blocks or no sectors")
        );
        assert_eq!(
            refused(0, m, |i| i.external_nlba = i.internal_nlba),
            Err("more sectors and free blocks than blocks")
        );
        assert_eq!(
            refused(4096, m, |i| i.dataoff = u64::MAX),
            Err("offset overflows")
        );
        assert_eq!(
            refused(0, m, |i| i.info2off = m),
            Err("an offset points past the namespace")
        );
        assert_eq!(
            refused(0, m, |i| i.mapoff += 4),
            Err("an offset is not 512-byte aligned")
        );
        // The sample's map starts a page after its data ends.
        assert_eq!(refused(0, m, |i| i.mapoff -= 4096), Ok(()));
        assert_eq!(
            refused(0, m, |i| i.mapoff -= 8192),
            Err("data, map, flog and backup info block overlap")
        );
        assert_eq!(
            refused(0, m, |i| i.nextoff = 4096),
            Err("next arena starts inside this one")
        );
        assert_eq!(
            refused(0, m + 8 * MIB, |i| i.nextoff = m),
            Err("next arena would not fit in the namespace")
        );
        // The backup info block's last bytes past a namespace 512 bytes
        // short of the arena.
        assert_eq!(
            refused(0, m - 512, |_| ()),
            Err("arena ends past the namespace")
        );
        // An arena laid out in 8 MiB: valid otherwise, but too small.
        let small =
            Geometry::new(0, 8 * MIB, 4096, false).map(|g| g.info(uuid(1), uuid(2), (2, 0)));
        assert!(small.is_some());
        if let Some(info) = small {
            assert_eq!(
                Geometry::from_info(&info, 0, 8 * MIB, 4096),
                Err("arena smaller than 16 MiB")
            );
        }
    }
}

#[kunit_tests(rpmem_sectors)]
mod sectors {
    use crate::pmem::{
        btt::{arena_sector, disk_sector},
        disk::{page_sectors, pages_to_bad},
    };

    #[test]
    fn pages_in_sectors() {
        assert_eq!(page_sectors(0), 0);
        assert_eq!(page_sectors(1), 8);
        assert_eq!(page_sectors(512), 4096);
        // The dax core's count is signed: a negative one asks for nothing.
        assert_eq!(page_sectors(-1), 0);
        assert_eq!(page_sectors(i64::MIN), 0);
    }

    /// `pmem_dax_direct_access`'s recovery stride: the bytes before the
    /// first bad sector in whole pages, at least one.
    #[test]
    fn pages_up_to_a_bad_sector() {
        assert_eq!(pages_to_bad(0, 0), 1);
        assert_eq!(pages_to_bad(0, 3), 1);
        assert_eq!(pages_to_bad(0, 8), 1);
        assert_eq!(pages_to_bad(0, 9), 2);
        assert_eq!(pages_to_bad(8, 8 + 8 * 511), 511);
        // A bad range that starts before the page (badblocks_check gives
        // its start): the page itself is bad, one page.
        assert_eq!(pages_to_bad(8, 4), 1);
        assert_eq!(pages_to_bad(u64::MAX / 1024, 0), 1);
    }

    #[test]
    fn btt_disk_sectors() {
        assert_eq!(disk_sector(0, 4096), 0);
        assert_eq!(disk_sector(8, 4096), 1);
        assert_eq!(disk_sector(17, 4096), 2);
        assert_eq!(disk_sector(17, 512), 17);
    }

    /// A disk sector in an arena, by the arena's first sector and count.
    #[test]
    fn btt_arena_sectors() {
        assert_eq!(arena_sector(100, 100, 10), Some(0));
        assert_eq!(arena_sector(109, 100, 10), Some(9));
        assert_eq!(arena_sector(110, 100, 10), None);
        assert_eq!(arena_sector(99, 100, 10), None);
        assert_eq!(arena_sector(1 << 32, 0, u64::MAX), None);
        assert_eq!(arena_sector(u64::MAX, 0, u64::MAX), None);
    }
}

#[kunit_tests(rpmem_badblocks)]
mod badblocks {
    use crate::{ext::badblocks::Badblocks, pmem::disk::pages_to_bad};
    use kernel::prelude::*;

    /// A list with sectors 4 to 11 bad.
    fn list() -> Result<Badblocks> {
        let bb = Badblocks::new()?;
        bb.set(4, 8)?;
        Ok(bb)
    }

    /// The wrapper's queries against the kernel's list, and the byte to
    /// sector arithmetic of `is_bad`.
    #[test]
    fn queries() -> Result {
        let bb = list()?;
        assert!(!bb.is_empty());
        assert_eq!(bb.first_bad(0, 4), None);
        assert_eq!(bb.first_bad(0, 5), Some(4));
        assert_eq!(bb.first_bad(11, 1), Some(4));
        assert_eq!(bb.first_bad(12, 100), None);
        assert!(!bb.is_bad(0, 2048));
        assert!(bb.is_bad(0, 2560));
        assert!(bb.is_bad(11, 512));
        assert!(!bb.is_bad(12, 4096));
        Ok(())
    }

    /// The second page of the list's disk starts inside the bad range,
    /// whose start `first_bad` gives: its recovery is that one page.
    #[test]
    fn range_before_the_page() -> Result {
        let bb = list()?;
        let bad = bb.first_bad(8, 8);
        assert_eq!(bad, Some(4));
        assert_eq!(bad.map(|bad| pages_to_bad(8, bad)), Some(1));
        Ok(())
    }

    #[test]
    fn clear() -> Result {
        let bb = list()?;
        bb.clear(4, 4);
        assert_eq!(bb.first_bad(0, 16), Some(8));
        bb.clear(8, 4);
        assert!(bb.is_empty());
        assert_eq!(bb.first_bad(0, 16), None);
        Ok(())
    }
}

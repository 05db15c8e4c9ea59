//! Power-loss torn batches: the pages of the last, not yet fdatasync'd sync unit can persist
//! in any order, so a hole inside the last unit with later frames of that unit intact is a
//! torn tail (truncated, logged); the same hole in an earlier unit (a flagged unit start
//! follows it) is corruption.
#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

mod common;

use std::fs;
use std::path::Path;

use journal::format::{check_frame, FrameCheck};
use journal::segment::{list_segments, segment_path};
use journal::{scan, Journal, JournalError, RecordKind};

const SEGMENT: u64 = 64 << 10;
/// Records appended one sync unit each before the batch.
const SINGLES: u64 = 4;
/// Records in the batch that forms one sync unit.
const BATCH: u64 = 6;

fn payload(index: u64) -> Vec<u8> {
    let len = 20 + (index * 37 % 90) as usize;
    (0..len)
        .map(|b| (b as u64 * 13 + index) as u8 | 1)
        .collect()
}

/// Builds `SINGLES` one-record units, then one `BATCH`-record unit, then `after` more
/// one-record units. Returns the frames `(offset, end, index, flagged)` of the segment.
fn build(dir: &Path, after: u64) -> Vec<(usize, usize, u64, bool)> {
    let j = Journal::open(common::small(dir, SEGMENT)).unwrap();
    for i in 1..=SINGLES {
        let idx = j.append(RecordKind::Command, &payload(i)).unwrap();
        j.wait_durable_blocking(idx).unwrap();
    }
    let batch: Vec<Vec<u8>> = (SINGLES + 1..=SINGLES + BATCH).map(payload).collect();
    let first = j.append_batch(RecordKind::Command, &batch).unwrap();
    j.wait_durable_blocking(first + BATCH - 1).unwrap();
    for i in 0..after {
        let idx = j
            .append(RecordKind::Event, &payload(SINGLES + BATCH + 1 + i))
            .unwrap();
        j.wait_durable_blocking(idx).unwrap();
    }
    j.close().unwrap();
    assert_eq!(list_segments(dir).unwrap(), vec![1]);
    let data = fs::read(segment_path(dir, 1)).unwrap();
    let mut frames = Vec::new();
    let mut off = 0;
    while let FrameCheck::Valid(h) = check_frame(&data[off..]) {
        frames.push((off, off + h.frame_len(), h.index, h.is_sync_unit_start()));
        off += h.frame_len();
    }
    frames
}

#[derive(Debug, Clone, Copy)]
enum Fill {
    Zero,
    Garbage,
}

/// Holes inside the batch unit: (first damaged record of the batch, byte offset into it,
/// last damaged record of the batch, whether the hole covers that record's end).
const HOLES: &[(u64, usize, u64)] = &[
    (2, 0, 2),  // exactly record 2
    (2, 5, 3),  // from the CRC of record 2 through record 3
    (2, 40, 3), // from the payload of record 2 through record 3
    (1, 0, 1),  // the unit's own flagged start frame
    (1, 12, 4), // from the kind byte of the start frame through record 4
    (3, 33, 3), // a payload byte of record 3 only
];

fn punch(dir: &Path, frames: &[(usize, usize, u64, bool)], hole: (u64, usize, u64), fill: Fill) {
    let seg = segment_path(dir, 1);
    let mut data = fs::read(&seg).unwrap();
    let unit_first = SINGLES as usize; // position of the batch's first frame
    let from = frames[unit_first + hole.0 as usize - 1].0 + hole.1;
    let to = frames[unit_first + hole.2 as usize - 1].1;
    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ from as u64;
    for b in &mut data[from..to] {
        *b = match fill {
            Fill::Zero => 0,
            Fill::Garbage => {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            }
        };
    }
    fs::write(&seg, &data).unwrap();
}

#[test]
fn only_unit_starts_are_flagged() {
    let tmp = tempfile::tempdir().unwrap();
    let frames = build(tmp.path(), 2);
    let flagged: Vec<u64> = frames
        .iter()
        .filter(|f| f.3)
        .map(|f| f.2)
        .collect::<Vec<_>>();
    let batch_start = SINGLES + 1;
    let after = SINGLES + BATCH + 1;
    assert_eq!(flagged, vec![1, 2, 3, 4, batch_start, after, after + 1]);
}

#[test]
fn hole_in_the_last_unit_is_a_torn_tail_and_later_frames_of_it_are_dropped() {
    for &hole in HOLES {
        for fill in [Fill::Zero, Fill::Garbage] {
            let what = format!("{hole:?} {fill:?}");
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path();
            let frames = build(dir, 0);
            punch(dir, &frames, hole, fill);
            let last_good = SINGLES + hole.0 - 1;
            let cut = frames[last_good as usize].0 as u64;
            // Frames of the unit after the hole are still valid on disk.
            assert!(hole.2 < BATCH, "{what}: the hole must leave later frames");

            let report = scan(dir).unwrap();
            assert_eq!(report.last_index, Some(last_good), "{what}");
            let torn = report.torn_tail.expect(&what);
            assert_eq!(torn.offset, cut, "{what}: {}", torn.reason);

            let log = common::capture_logs(|| {
                let j = Journal::open(common::small(dir, SEGMENT)).unwrap();
                assert_eq!(j.durable_index(), last_good, "{what}");
                // Rewrite the lost indexes with frames of the same sizes, so the old
                // remnants would line up with the next expected index if they survived.
                for i in last_good + 1..=SINGLES + hole.2 {
                    let idx = j.append(RecordKind::Command, &payload(i)).unwrap();
                    j.wait_durable_blocking(idx).unwrap();
                }
                j.close().unwrap();
            });
            assert!(log.contains("WARN"), "{what}: {log}");
            assert!(log.contains("torn tail"), "{what}: {log}");
            assert!(log.contains(&format!("offset={cut}")), "{what}: {log}");

            // The remnants were truncated with the tail: they do not come back.
            let report = scan(dir).unwrap();
            assert_eq!(report.torn_tail, None, "{what}");
            assert_eq!(report.last_index, Some(SINGLES + hole.2), "{what}");
            let all = common::read_all(dir);
            assert_eq!(all.len() as u64, SINGLES + hole.2, "{what}");
            for r in &all {
                assert_eq!(r.payload, payload(r.index), "{what}");
            }
            // A reopened journal keeps counting from there.
            let j = Journal::open(common::small(dir, SEGMENT)).unwrap();
            assert_eq!(j.next_index(), SINGLES + hole.2 + 1, "{what}");
            j.close().unwrap();
        }
    }
}

#[test]
fn the_same_hole_in_an_earlier_unit_is_corruption() {
    for &hole in HOLES {
        for fill in [Fill::Zero, Fill::Garbage] {
            let what = format!("{hole:?} {fill:?}");
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path();
            let frames = build(dir, 1);
            punch(dir, &frames, hole, fill);
            let cut = frames[(SINGLES + hole.0 - 1) as usize].0 as u64;
            let seg = segment_path(dir, 1);
            let before = fs::read(&seg).unwrap();
            for err in [
                scan(dir).unwrap_err(),
                Journal::open(common::small(dir, SEGMENT)).unwrap_err(),
            ] {
                match err {
                    JournalError::Corrupt {
                        segment,
                        offset,
                        reason,
                    } => {
                        assert_eq!(segment, seg, "{what}");
                        assert_eq!(offset, cut, "{what}: {reason}");
                        assert!(reason.contains("sync-unit start"), "{what}: {reason}");
                    }
                    other => panic!("{what}: expected Corrupt, got {other}"),
                }
            }
            assert_eq!(
                fs::read(&seg).unwrap(),
                before,
                "{what}: refusing must not write"
            );
        }
    }
}

#[test]
fn a_torn_unit_followed_by_records_in_a_later_segment_is_corruption() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let frames = build(dir, 0);
    // Records in a later segment mean the damaged segment was sealed (synced) long ago.
    let next = SINGLES + BATCH + 1;
    let later = segment_path(dir, next);
    {
        let j = Journal::open(common::small(&dir.join("other"), SEGMENT)).unwrap();
        for _ in 1..next {
            j.append(RecordKind::Noop, b"").unwrap();
        }
        let idx = j.append(RecordKind::Event, b"later").unwrap();
        j.wait_durable_blocking(idx).unwrap();
        j.close().unwrap();
        // Borrow a real frame with index `next` as the first record of the later segment.
        let data = fs::read(segment_path(&dir.join("other"), 1)).unwrap();
        let mut off = 0;
        let mut seg = vec![0u8; SEGMENT as usize];
        while let FrameCheck::Valid(h) = check_frame(&data[off..]) {
            if h.index == next {
                seg[..h.frame_len()].copy_from_slice(&data[off..off + h.frame_len()]);
            }
            off += h.frame_len();
        }
        fs::write(&later, &seg).unwrap();
        fs::remove_dir_all(dir.join("other")).unwrap();
    }
    punch(dir, &frames, (2, 0, 2), Fill::Zero);
    match scan(dir).unwrap_err() {
        JournalError::Corrupt {
            segment, offset, ..
        } => {
            assert_eq!(segment, segment_path(dir, 1));
            assert_eq!(offset, frames[SINGLES as usize + 1].0 as u64);
        }
        other => panic!("expected Corrupt, got {other}"),
    }
}

//! Recovery: torn tails at every byte offset are truncated; corruption in the middle is
//! refused with the right segment and offset, and `scan` reports the same.
#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use journal::format::{check_frame, FrameCheck};
use journal::segment::{list_segments, segment_path};
use journal::{scan, Journal, JournalError, RecordKind};

const SEGMENT: u64 = 640;

/// Payload sizes chosen so the log spans several segments and the last segment holds
/// several records of different paddings.
const SIZES: [usize; 14] = [100, 200, 150, 90, 300, 10, 64, 250, 180, 33, 0, 13, 40, 7];

fn payload(i: usize) -> Vec<u8> {
    (0..SIZES[i]).map(|b| (b * 31 + i * 7 + 1) as u8).collect()
}

/// Every record is its own sync unit (appended once the previous one is durable), so every
/// frame carries the sync-unit-start flag.
fn build(dir: &Path) {
    let j = Journal::open(common::small(dir, SEGMENT)).unwrap();
    for i in 0..SIZES.len() {
        let index = j.append(RecordKind::Command, &payload(i)).unwrap();
        j.wait_durable_blocking(index).unwrap();
    }
    j.close().unwrap();
}

/// (offset, header+payload end, frame end, index) of each record in a segment file.
fn frames(data: &[u8]) -> Vec<(usize, usize, usize, u64)> {
    let mut out = Vec::new();
    let mut off = 0;
    while let FrameCheck::Valid(h) = check_frame(&data[off..]) {
        out.push((
            off,
            off + 32 + h.payload_len as usize,
            off + h.frame_len(),
            h.index,
        ));
        off += h.frame_len();
    }
    out
}

#[derive(Debug, Clone, Copy)]
enum Damage {
    Truncate,
    Zero,
    Garbage,
}

/// Writes the damaged segment and returns its bytes.
fn damage(path: &Path, pristine: &[u8], at: usize, end: usize, how: Damage) -> Vec<u8> {
    let mut data = pristine.to_vec();
    match how {
        Damage::Truncate => data.truncate(at),
        Damage::Zero => data[at..].iter_mut().for_each(|b| *b = 0),
        Damage::Garbage => {
            let mut x = 0x1234_5678_9abc_def1u64 ^ at as u64;
            // Garbage over the rest of the records and a little beyond.
            for b in &mut data[at..(end + 64).min(pristine.len())] {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = (x as u8) | 1;
            }
        }
    }
    fs::write(path, &data).unwrap();
    data
}

#[test]
fn torn_tail_at_every_offset_is_truncated_and_appends_continue() {
    let tmp = tempfile::tempdir().unwrap();
    let pristine_dir = tmp.path().join("pristine");
    build(&pristine_dir);
    let firsts = list_segments(&pristine_dir).unwrap();
    assert!(
        firsts.len() >= 3,
        "the log should span several segments: {firsts:?}"
    );
    let last_seg = *firsts.last().unwrap();
    let seg_name = segment_path(&pristine_dir, last_seg)
        .file_name()
        .unwrap()
        .to_owned();
    let pristine = fs::read(pristine_dir.join(&seg_name)).unwrap();
    let recs = frames(&pristine);
    assert!(
        recs.len() >= 3,
        "last segment should hold at least 3 records"
    );
    let tail = &recs[recs.len() - 3..];
    let end = tail[2].2;
    let total = SIZES.len() as u64;

    let work = tmp.path().join("work");
    let mut cases = 0;
    for how in [Damage::Truncate, Damage::Zero, Damage::Garbage] {
        for at in tail[0].0..end {
            // Fresh copy of the pristine journal.
            let _ = fs::remove_dir_all(&work);
            fs::create_dir_all(&work).unwrap();
            for entry in fs::read_dir(&pristine_dir).unwrap() {
                let entry = entry.unwrap();
                fs::copy(entry.path(), work.join(entry.file_name())).unwrap();
            }
            let seg_path = work.join(&seg_name);
            let damaged = damage(&seg_path, &pristine, at, end, how);

            // Which records survive: a truncation or garbage must leave the whole frame
            // (padding included); zeros only hurt if they reach the header or payload.
            let survivors = tail
                .iter()
                .filter(|&&(_, data_end, frame_end, _)| match how {
                    Damage::Zero => at >= data_end,
                    Damage::Truncate | Damage::Garbage => at >= frame_end,
                })
                .count() as u64;
            let expected_last = total - 3 + survivors;
            // The log is cut where the first lost record starts; anything non-zero from
            // there on is a torn tail to repair.
            let cut = tail[survivors as usize..].first().map_or(end, |r| r.0);
            let expect_torn = damaged[cut.min(damaged.len())..].iter().any(|&b| b != 0);

            let report = scan(&work).unwrap();
            assert_eq!(report.last_index, Some(expected_last), "{how:?} at {at}");
            match (&report.torn_tail, expect_torn) {
                (Some(t), true) => {
                    assert_eq!(t.segment, seg_path, "{how:?} at {at}");
                    assert_eq!(t.offset, cut as u64, "{how:?} at {at}: {}", t.reason);
                }
                (None, false) => {}
                (t, _) => panic!("{how:?} at {at}: torn tail {t:?}, expected torn: {expect_torn}"),
            }

            let j = Journal::open(common::small(&work, SEGMENT)).unwrap();
            assert_eq!(j.durable_index(), expected_last, "{how:?} at {at}");
            let next = j.append(RecordKind::Event, b"after recovery").unwrap();
            assert_eq!(next, expected_last + 1);
            j.wait_durable_blocking(next).unwrap();
            j.close().unwrap();

            // The repaired log is clean and holds exactly the survivors plus the new record.
            let report = scan(&work).unwrap();
            assert_eq!(report.torn_tail, None, "{how:?} at {at}");
            let all = common::read_all(&work);
            assert_eq!(all.len() as u64, expected_last + 1);
            for (i, rec) in all.iter().enumerate().take(expected_last as usize) {
                assert_eq!(rec.payload, payload(i), "{how:?} at {at}: record {}", i + 1);
            }
            assert_eq!(all.last().unwrap().payload, b"after recovery");
            cases += 1;
        }
    }
    assert!(cases > 300, "only {cases} cases");
}

/// Where a byte is flipped and what opening must say.
struct FlipCase {
    name: &'static str,
    /// Which segment (position in the listing, negative from the end).
    segment: isize,
    /// Which record inside that segment (negative from the end).
    record: isize,
    /// Byte inside that record's frame.
    byte: usize,
}

const FLIPS: &[FlipCase] = &[
    FlipCase {
        name: "payload of a middle record in the last segment",
        segment: -1,
        record: 0,
        byte: 40,
    },
    FlipCase {
        name: "length field of a middle record in the last segment",
        segment: -1,
        record: 1,
        byte: 1,
    },
    FlipCase {
        name: "magic of a middle record in the last segment",
        segment: -1,
        record: 1,
        byte: 9,
    },
    FlipCase {
        name: "index of a middle record in the last segment",
        segment: -1,
        record: 0,
        byte: 24,
    },
    FlipCase {
        name: "payload of the first record of the first segment",
        segment: 0,
        record: 0,
        byte: 33,
    },
    FlipCase {
        name: "checksum of the last record of the first (sealed) segment",
        segment: 0,
        record: -1,
        byte: 5,
    },
    FlipCase {
        name: "kind byte of a record in a middle segment",
        segment: 1,
        record: 0,
        byte: 12,
    },
];

fn copy_dir(from: &Path, to: &Path) {
    let _ = fs::remove_dir_all(to);
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

fn pick<T: Copy>(v: &[T], i: isize) -> T {
    if i < 0 {
        v[(v.len() as isize + i) as usize]
    } else {
        v[i as usize]
    }
}

fn assert_corrupt(err: JournalError, segment: &Path, offset: u64, what: &str) {
    match err {
        JournalError::Corrupt {
            segment: s,
            offset: o,
            reason,
        } => {
            assert_eq!(s, segment, "{what}: {reason}");
            assert_eq!(o, offset, "{what}: {reason}");
        }
        other => panic!("{what}: expected Corrupt, got {other}"),
    }
}

#[test]
fn flipped_byte_in_the_middle_is_refused_with_segment_and_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let pristine = tmp.path().join("pristine");
    build(&pristine);
    let firsts = list_segments(&pristine).unwrap();
    let work = tmp.path().join("work");
    for case in FLIPS {
        copy_dir(&pristine, &work);
        let seg: PathBuf = segment_path(&work, pick(&firsts, case.segment));
        let mut data = fs::read(&seg).unwrap();
        let recs = frames(&data);
        let (off, _, _, _) = pick(&recs, case.record);
        data[off + case.byte] ^= 0x40;
        fs::write(&seg, &data).unwrap();

        assert_corrupt(scan(&work).unwrap_err(), &seg, off as u64, case.name);
        assert_corrupt(
            Journal::open(common::small(&work, SEGMENT)).unwrap_err(),
            &seg,
            off as u64,
            case.name,
        );
        // Refusing must not have modified anything.
        assert_eq!(fs::read(&seg).unwrap(), data, "{}", case.name);
    }
}

#[test]
fn damage_to_the_very_last_record_is_a_torn_tail_not_corruption() {
    let tmp = tempfile::tempdir().unwrap();
    build(tmp.path());
    let last = *list_segments(tmp.path()).unwrap().last().unwrap();
    let seg = segment_path(tmp.path(), last);
    let mut data = fs::read(&seg).unwrap();
    let (off, _, _, index) = *frames(&data).last().unwrap();
    data[off + 33] ^= 1;
    fs::write(&seg, &data).unwrap();
    let report = scan(tmp.path()).unwrap();
    assert_eq!(
        report.torn_tail.as_ref().map(|t| t.offset),
        Some(off as u64)
    );
    assert_eq!(report.torn_tail.unwrap().reason, "checksum mismatch");
    let j = Journal::open(common::small(tmp.path(), SEGMENT)).unwrap();
    assert_eq!(j.durable_index(), index - 1);
}

#[test]
fn missing_or_misnamed_segments_are_corruption() {
    let tmp = tempfile::tempdir().unwrap();
    let pristine = tmp.path().join("pristine");
    build(&pristine);
    let firsts = list_segments(&pristine).unwrap();
    let work = tmp.path().join("work");

    // A middle segment removed: a gap between the neighbours.
    copy_dir(&pristine, &work);
    fs::remove_file(segment_path(&work, firsts[1])).unwrap();
    let err = scan(&work).unwrap_err();
    assert_corrupt(err, &segment_path(&work, firsts[2]), 0, "gap");
    assert!(Journal::open(common::small(&work, SEGMENT)).is_err());

    // The last segment renamed to a later first index: its records do not match its name.
    copy_dir(&pristine, &work);
    let last = *firsts.last().unwrap();
    let renamed = segment_path(&work, last + 1);
    fs::rename(segment_path(&work, last), &renamed).unwrap();
    assert_corrupt(scan(&work).unwrap_err(), &renamed, 0, "misnamed");
}

#[test]
fn stray_bytes_in_a_sealed_segment_are_corruption() {
    let tmp = tempfile::tempdir().unwrap();
    build(tmp.path());
    let first = list_segments(tmp.path()).unwrap()[0];
    let seg = segment_path(tmp.path(), first);
    let mut data = fs::read(&seg).unwrap();
    let end = frames(&data).last().unwrap().2;
    data[end + 3] = 0xAA;
    fs::write(&seg, &data).unwrap();
    assert_corrupt(scan(tmp.path()).unwrap_err(), &seg, end as u64, "sealed");
}

#[test]
fn torn_tail_repair_logs_segment_offset_and_reason() {
    let tmp = tempfile::tempdir().unwrap();
    build(tmp.path());
    let last = *list_segments(tmp.path()).unwrap().last().unwrap();
    let seg = segment_path(tmp.path(), last);
    let mut data = fs::read(&seg).unwrap();
    let (off, data_end, _, _) = *frames(&data).last().unwrap();
    data.truncate(data_end - 1); // cut the last payload byte off
    fs::write(&seg, &data).unwrap();

    let mut opened = None;
    let log = common::capture_logs(|| {
        opened = Some(Journal::open(common::small(tmp.path(), SEGMENT)).unwrap());
    });
    let j = opened.unwrap();
    assert!(log.contains("WARN"), "{log}");
    assert!(log.contains(&format!("segment={}", seg.display())), "{log}");
    assert!(log.contains(&format!("offset={off}")), "{log}");
    assert!(
        log.contains("reason=\"frame extends past the end of the segment\""),
        "{log}"
    );
    j.close().unwrap();
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, ..Default::default() })]

    /// Arbitrary bytes spliced into the last segment never make recovery panic: opening
    /// either refuses with `Corrupt` or yields a log that accepts appends and reads back.
    #[test]
    fn arbitrary_damage_never_panics(
        at in 0usize..600,
        junk in proptest::collection::vec(proptest::prelude::any::<u8>(), 1..200),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        build(tmp.path());
        let last = *list_segments(tmp.path()).unwrap().last().unwrap();
        let seg = segment_path(tmp.path(), last);
        let mut data = fs::read(&seg).unwrap();
        let at = at.min(data.len() - 1);
        let end = (at + junk.len()).min(data.len());
        data[at..end].copy_from_slice(&junk[..end - at]);
        fs::write(&seg, &data).unwrap();
        let scanned = scan(tmp.path());
        match Journal::open(common::small(tmp.path(), SEGMENT)) {
            Err(JournalError::Corrupt { segment, .. }) => {
                proptest::prop_assert!(scanned.is_err());
                proptest::prop_assert_eq!(segment, seg);
            }
            Err(other) => proptest::prop_assert!(false, "unexpected error {}", other),
            Ok(j) => {
                let report = scanned.unwrap();
                let next = j.append(RecordKind::Event, b"x").unwrap();
                proptest::prop_assert_eq!(next, report.last_index.unwrap_or(0) + 1);
                j.wait_durable_blocking(next).unwrap();
                j.close().unwrap();
                let all = common::read_all(tmp.path());
                proptest::prop_assert_eq!(all.len() as u64, next);
                for (i, rec) in all.iter().enumerate().take(next as usize - 1) {
                    proptest::prop_assert_eq!(&rec.payload, &payload(i));
                }
            }
        }
    }
}

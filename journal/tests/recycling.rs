//! Segment recycling: retention moves retired segments into a bounded pool, rolls reuse them,
//! and the stale frames they still hold (all with lower indexes) read as the end of the log
//! everywhere: recovery, `scan`, readers; never as a torn tail or corruption.
#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

mod common;

use std::fs;
use std::path::Path;

use journal::format::{check_frame, FrameCheck, HEADER_LEN};
use journal::segment::{list_recycled, list_segments, segment_path};
use journal::snapshot::write_snapshot;
use journal::{scan, Journal, JournalConfig, JournalError, JournalReader, RecordKind};

const SEGMENT: u64 = 4096;
/// Every payload has this size, so stale frames line up exactly with new frame positions and
/// look like a valid continuation of the log except for their index.
const SIZE: usize = 100;

fn payload(index: u64) -> Vec<u8> {
    (0..SIZE)
        .map(|b| (b as u64 * 7 + index * 13) as u8)
        .collect()
}

fn config(dir: &Path, pool: usize) -> JournalConfig {
    let mut c = common::small(dir, SEGMENT);
    c.max_recycled_segments = pool;
    c
}

/// Appends `n` records as one sync unit and waits for them, including the writer's
/// publication in the `durable` file (which follows waking in-process waiters).
fn append(j: &Journal, n: u64) -> u64 {
    let first = j.next_index();
    let batch: Vec<Vec<u8>> = (first..first + n).map(payload).collect();
    j.append_batch(RecordKind::Command, &batch).unwrap();
    let last = first + n - 1;
    j.wait_durable_blocking(last).unwrap();
    while journal::durable_file::read(j.dir()).unwrap() != Some(last) {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    last
}

/// Writes in rounds with a snapshot and retention after each, the way production does.
fn churn(j: &Journal, rounds: u64) {
    for round in 0..rounds {
        let last = append(j, 1 + round % 9);
        write_snapshot(j.dir(), last, b"state").unwrap();
        j.retain(1).unwrap();
    }
}

/// Checks that `dir` holds exactly the records `first..=last` with the right payloads, read
/// by `scan` and by a cross-process reader, and that the reader then reports nothing more.
fn check_log(dir: &Path, last: u64) {
    let report = scan(dir).unwrap();
    assert_eq!(report.torn_tail, None);
    assert_eq!(report.last_index, Some(last));
    let first = report.first_index.unwrap();
    let mut r = JournalReader::open(dir, first).unwrap();
    for i in first..=last {
        let rec = r.try_next().unwrap().unwrap();
        assert_eq!((rec.index, &rec.payload), (i, &payload(i)));
    }
    assert!(r.try_next().unwrap().is_none());
}

/// Whether the bytes after the last record of the last segment hold stale frames.
fn last_segment_has_stale_frames(dir: &Path) -> bool {
    let report = scan(dir).unwrap();
    let last = report.segments.last().unwrap();
    let data = fs::read(&last.path).unwrap();
    let mut at = last.used_bytes as usize + 8;
    while at + HEADER_LEN <= data.len() {
        if let FrameCheck::Valid(h) = check_frame(&data[at..]) {
            if h.index < last.first_index {
                return true;
            }
        }
        at += 8;
    }
    false
}

#[test]
fn steady_state_rolls_reuse_the_pool_and_stale_frames_are_the_end() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let j = Journal::open(config(dir, 2)).unwrap();
    churn(&j, 150);
    let stats = j.stats();
    assert!(stats.rolls_recycled > 10, "{stats:?}");
    // Only the first rolls (before anything was retired) need fresh segments.
    assert!(stats.rolls_fresh <= 2, "{stats:?}");
    assert!(list_recycled(dir).unwrap().len() <= 2);
    let last = j.durable_index();
    // The active segment is a recycled one with stale frames after its records.
    while !last_segment_has_stale_frames(dir) {
        append(&j, 1);
    }
    let last = last.max(j.durable_index());
    check_log(dir, last);
    // In-process readers agree.
    let first = scan(dir).unwrap().first_index.unwrap();
    let mut r = j.reader(first).unwrap();
    for i in first..=last {
        assert_eq!(r.try_next().unwrap().unwrap().payload, payload(i));
    }
    assert!(r.try_next().unwrap().is_none());
    j.close().unwrap();

    // Reopening (as after a crash right after the last sync) finds the same end, logs no
    // torn tail and does not touch the stale data.
    let seg = scan(dir).unwrap().segments.last().unwrap().path.clone();
    let before = fs::read(&seg).unwrap();
    let log = common::capture_logs(|| {
        let j = Journal::open(config(dir, 2)).unwrap();
        assert_eq!(j.next_index(), last + 1);
        j.close().unwrap();
    });
    assert!(!log.contains("WARN"), "{log}");
    assert_eq!(fs::read(&seg).unwrap(), before);

    // And keeps going through more recycled segments.
    let j = Journal::open(config(dir, 2)).unwrap();
    churn(&j, 60);
    let last = j.durable_index();
    j.close().unwrap();
    check_log(dir, last);
}

#[test]
fn with_mixed_sizes_stale_bytes_after_the_end_are_no_torn_tail() {
    // Sizes vary, so the end of the new records falls inside some stale frame: only the end
    // marker written after every sync unit makes that a clean end.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let j = Journal::open(config(dir, 2)).unwrap();
    let mut sizes = Vec::new();
    for round in 0..200u64 {
        let n = 1 + round % 5;
        let batch: Vec<Vec<u8>> = (0..n)
            .map(|k| vec![(round + k) as u8 | 1; ((round * 31 + k * 17) % 300) as usize])
            .collect();
        sizes.extend(batch.iter().map(Vec::len));
        let first = j.append_batch(RecordKind::Event, &batch).unwrap();
        j.wait_durable_blocking(first + n - 1).unwrap();
        write_snapshot(dir, first + n - 1, b"s").unwrap();
        j.retain(1).unwrap();
        if round > 100 && last_segment_has_stale_frames(dir) {
            break;
        }
    }
    assert!(j.stats().rolls_recycled > 5);
    let last = j.durable_index();
    j.close().unwrap();
    let report = scan(dir).unwrap();
    assert_eq!((report.last_index, report.torn_tail), (Some(last), None));
    let log = common::capture_logs(|| {
        let j = Journal::open(config(dir, 2)).unwrap();
        assert_eq!(j.next_index(), last + 1);
        j.close().unwrap();
    });
    assert!(!log.contains("WARN"), "{log}");
    let first = report.first_index.unwrap();
    let mut r = JournalReader::open(dir, first).unwrap();
    for i in first..=last {
        let rec = r.try_next().unwrap().unwrap();
        assert_eq!(rec.payload.len(), sizes[i as usize - 1]);
    }
    assert!(r.try_next().unwrap().is_none());
}

#[test]
fn a_stale_frame_right_after_the_end_is_the_end_not_a_record() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let j = Journal::open(config(dir, 2)).unwrap();
    churn(&j, 150);
    while !last_segment_has_stale_frames(dir) {
        append(&j, 1);
    }
    let last = j.durable_index();
    j.close().unwrap();
    // Put back the stale frame that the end marker covered: with equal sizes it sits exactly
    // where record `last + 1` would start and differs from one only by its index.
    let report = scan(dir).unwrap();
    let info = report.segments.last().unwrap().clone();
    let mut data = fs::read(&info.path).unwrap();
    let end = info.used_bytes as usize;
    let frame_len = end / info.records as usize;
    assert_eq!(frame_len * info.records as usize, end, "equal frames");
    let stale_at = (end + frame_len..data.len() - frame_len)
        .step_by(frame_len)
        .find(|&at| matches!(check_frame(&data[at..]), FrameCheck::Valid(h) if h.index < info.first_index))
        .expect("a stale frame at a frame boundary");
    let stale = data[stale_at..stale_at + frame_len].to_vec();
    data[end..end + frame_len].copy_from_slice(&stale);
    fs::write(&info.path, &data).unwrap();
    assert!(
        matches!(check_frame(&data[end..]), FrameCheck::Valid(h) if h.index < info.first_index)
    );

    check_log(dir, last);
    let log = common::capture_logs(|| {
        let j = Journal::open(config(dir, 2)).unwrap();
        assert_eq!(j.next_index(), last + 1);
        assert_eq!(append(&j, 3), last + 3);
        j.close().unwrap();
    });
    assert!(!log.contains("WARN"), "{log}");
    check_log(dir, last + 3);
}

#[test]
fn a_torn_unit_in_a_recycled_segment_is_truncated_and_stale_data_is_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let j = Journal::open(config(dir, 2)).unwrap();
    churn(&j, 150);
    while !last_segment_has_stale_frames(dir) {
        append(&j, 1);
    }
    let good = j.durable_index();
    let report = scan(dir).unwrap();
    let info = report.segments.last().unwrap().clone();
    if (SEGMENT - info.used_bytes) < 5 * 136 + 32 {
        // Make room for a 5-record unit in this segment by rolling on.
        panic!("test setup: the last segment is too full: {info:?}");
    }
    let last = append(&j, 5);
    j.close().unwrap();
    assert_eq!(scan(dir).unwrap().segments.last().unwrap().path, info.path);
    // Lose the second frame of the 5-record unit (a page that did not reach the disk).
    let mut data = fs::read(&info.path).unwrap();
    let cut = info.used_bytes as usize + 136;
    data[cut..cut + 136].iter_mut().for_each(|b| *b = 0);
    fs::write(&info.path, &data).unwrap();

    let report = scan(dir).unwrap();
    assert_eq!(report.last_index, Some(good + 1));
    assert_eq!(report.torn_tail.unwrap().offset, cut as u64);
    let log = common::capture_logs(|| {
        let j = Journal::open(config(dir, 2)).unwrap();
        assert_eq!(j.next_index(), good + 2);
        j.close().unwrap();
    });
    assert!(log.contains("torn tail"), "{log}");
    check_log(dir, good + 1);
    // Records 3..5 of the unit are gone for good; stale data after them is untouched.
    let after = fs::read(&info.path).unwrap();
    assert!(after[cut..cut + 4 * 136].iter().all(|&b| b == 0));
    assert_eq!(after[cut + 4 * 136..], data[cut + 4 * 136..]);
    assert!(last > good + 1);
}

#[test]
fn a_reader_inside_a_segment_that_is_recycled_under_it_gets_not_retained() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let j = Journal::open(config(dir, 1)).unwrap();
    append(&j, 5);
    let mut reader = JournalReader::open(dir, 1).unwrap();
    for i in 1..=5 {
        assert_eq!(reader.try_next().unwrap().unwrap().index, i);
    }
    // Seal segment 1 and a few more, retire them (segment 1 goes into the pool), and roll
    // into it so its bytes are overwritten with new records.
    while list_segments(dir).unwrap().len() < 4 {
        append(&j, 7);
    }
    let first_segment = segment_path(dir, 1);
    write_snapshot(dir, j.durable_index(), b"s").unwrap();
    let report = j.retain(1).unwrap();
    assert_eq!(report.recycled_segments, 1);
    assert!(!first_segment.exists());
    let rolls = j.stats().rolls_recycled;
    while j.stats().rolls_recycled == rolls {
        append(&j, 7);
    }
    append(&j, 7);
    match reader.try_next() {
        Err(JournalError::IndexNotRetained { requested: 6, .. }) => {}
        other => panic!("expected IndexNotRetained for 6, got {other:?}"),
    }
    j.close().unwrap();
}

//! Reading a journal whose writer is dead: the `durable` file can lag the log by a batch, but
//! with no live writer holding the lock every record recovery would keep is returned; with a
//! live writer only what it published is.
#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

mod common;

use std::fs;
use std::path::Path;

use journal::durable_file::{self, DURABLE_FILE_NAME};
use journal::format::{check_frame, FrameCheck};
use journal::segment::{list_segments, segment_path};
use journal::{scan, Journal, JournalReader, RecordKind};

const SEGMENT: u64 = 2048;

fn payload(i: u64) -> Vec<u8> {
    vec![i as u8 | 1; (i * 29 % 120) as usize]
}

/// Appends records `from..=to`, one sync unit each, and waits until the writer has also
/// published the last one in the `durable` file (it does so after waking in-process waiters).
fn append(j: &Journal, from: u64, to: u64) {
    for i in from..=to {
        assert_eq!(j.append(RecordKind::Command, &payload(i)).unwrap(), i);
        j.wait_durable_blocking(i).unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while durable_file::read(j.dir()).unwrap() != Some(to) {
        assert!(
            std::time::Instant::now() < deadline,
            "durable file never showed {to}"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// Overwrites the published durable index, as a writer that died before publishing leaves it.
fn set_published(dir: &Path, index: u64) {
    fs::write(dir.join(DURABLE_FILE_NAME), durable_file::encode(index)).unwrap();
}

fn read_indexes(dir: &Path, from: u64) -> Vec<u64> {
    let mut r = JournalReader::open(dir, from).unwrap();
    let mut out = Vec::new();
    while let Some(rec) = r.try_next().unwrap() {
        assert_eq!(rec.payload, payload(rec.index));
        out.push(rec.index);
    }
    out
}

#[test]
fn a_live_writer_is_trusted_and_a_dead_one_is_read_to_the_end_of_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let j = Journal::open(common::small(dir, SEGMENT)).unwrap();
    append(&j, 1, 40);
    assert!(list_segments(dir).unwrap().len() > 1);

    // A live writer: the published index is the limit, even when it is behind.
    set_published(dir, 25);
    assert_eq!(read_indexes(dir, 1), (1..=25).collect::<Vec<_>>());
    j.close().unwrap();

    // The writer is gone and its last publication lags (it died before publishing).
    for published in [40, 39, 25, 0] {
        set_published(dir, published);
        assert_eq!(
            read_indexes(dir, 1),
            (1..=40).collect::<Vec<_>>(),
            "{published}"
        );
        assert_eq!(read_indexes(dir, 33), (33..=40).collect::<Vec<_>>());
    }
    // No durable file at all.
    fs::remove_file(dir.join(DURABLE_FILE_NAME)).unwrap();
    assert_eq!(read_indexes(dir, 1).len(), 40);

    // A reader that reached the end while no writer ran follows a new writer's records.
    let mut r = JournalReader::open(dir, 1).unwrap();
    while r.try_next().unwrap().is_some() {}
    let j = Journal::open(common::small(dir, SEGMENT)).unwrap();
    append(&j, 41, 45);
    for i in 41..=45 {
        assert_eq!(r.try_next().unwrap().unwrap().index, i);
    }
    assert!(r.try_next().unwrap().is_none());
    j.close().unwrap();
}

#[test]
fn a_dead_writer_torn_tail_is_not_read_and_matches_what_recovery_keeps() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let j = Journal::open(common::small(dir, SEGMENT)).unwrap();
    append(&j, 1, 30);
    j.close().unwrap();
    set_published(dir, 20);
    // Tear the last record.
    let last = *list_segments(dir).unwrap().last().unwrap();
    let seg = segment_path(dir, last);
    let mut data = fs::read(&seg).unwrap();
    let mut off = 0;
    let mut last_off = 0;
    while let FrameCheck::Valid(h) = check_frame(&data[off..]) {
        last_off = off;
        off += h.frame_len();
    }
    data[last_off + 3] ^= 0x55;
    fs::write(&seg, &data).unwrap();
    assert!(scan(dir).unwrap().torn_tail.is_some());

    assert_eq!(read_indexes(dir, 1), (1..=29).collect::<Vec<_>>());
    let j = Journal::open(common::small(dir, SEGMENT)).unwrap();
    assert_eq!(j.durable_index(), 29);
    j.close().unwrap();
}

#[test]
fn a_dead_writer_with_corruption_falls_back_to_the_published_index() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let j = Journal::open(common::small(dir, SEGMENT)).unwrap();
    append(&j, 1, 30);
    j.close().unwrap();
    set_published(dir, 12);
    // Damage a record in the middle of the last segment (later unit starts follow it).
    let last = *list_segments(dir).unwrap().last().unwrap();
    let seg = segment_path(dir, last);
    let mut data = fs::read(&seg).unwrap();
    data[40] ^= 0x01;
    fs::write(&seg, &data).unwrap();
    assert!(scan(dir).is_err());
    let got = read_indexes(dir, 1);
    assert_eq!(got, (1..=12).collect::<Vec<_>>());
}

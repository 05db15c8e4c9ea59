//! Snapshots: atomic, checksummed, newest valid wins, retention removes old snapshots and
//! the segments wholly covered by the oldest kept one (never the active segment).
#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

mod common;

use std::fs;

use journal::segment::list_segments;
use journal::snapshot::{
    latest_snapshot, list_snapshots, read_snapshot, retain, retain_snapshots, write_snapshot,
    write_snapshot_parts,
};
use journal::{scan, Journal, RecordKind};

#[test]
fn a_snapshot_written_in_parts_is_the_same_file() {
    // Parts of every shape: empty, tiny, and one crossing the 1 MiB write-back pieces.
    let big: Vec<u8> = (0..(1 << 20) + 3).map(|i| (i % 251) as u8).collect();
    let parts: [&[u8]; 4] = [b"abc", b"", &big, b"xyz"];
    let whole: Vec<u8> = parts.concat();
    let one = tempfile::tempdir().unwrap();
    let two = tempfile::tempdir().unwrap();
    let a = write_snapshot(one.path(), 7, &whole).unwrap();
    let b = write_snapshot_parts(two.path(), 7, &parts).unwrap();
    assert!(fs::read(&a).unwrap() == fs::read(&b).unwrap());
    assert!(read_snapshot(two.path(), 7).unwrap() == Some(whole));
    // No parts at all is an empty blob.
    write_snapshot_parts(two.path(), 8, &[]).unwrap();
    assert_eq!(read_snapshot(two.path(), 8).unwrap(), Some(Vec::new()));
}

/// A fresh directory holding copies of `dir`'s snapshot files.
fn copy_of(dir: &std::path::Path) -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    fs::create_dir(copy.path().join("snapshots")).unwrap();
    for entry in fs::read_dir(dir.join("snapshots")).unwrap() {
        let from = entry.unwrap().path();
        fs::copy(
            &from,
            copy.path()
                .join("snapshots")
                .join(from.file_name().unwrap()),
        )
        .unwrap();
    }
    copy
}

#[test]
fn newest_valid_snapshot_wins_and_corrupt_ones_are_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    assert_eq!(latest_snapshot(dir).unwrap(), None);
    write_snapshot(dir, 10, b"ten").unwrap();
    write_snapshot(dir, 20, b"").unwrap();
    let p30 = write_snapshot(dir, 30, b"thirty").unwrap();
    assert_eq!(list_snapshots(dir).unwrap(), vec![10, 20, 30]);
    assert_eq!(
        latest_snapshot(dir).unwrap(),
        Some((30, b"thirty".to_vec()))
    );

    // Every kind of damage to the newest one makes the previous one the latest.
    let good = fs::read(&p30).unwrap();
    let damages: Vec<(&str, Vec<u8>)> = vec![
        ("flipped blob byte", {
            let mut d = good.clone();
            *d.last_mut().unwrap() ^= 1;
            d
        }),
        ("flipped index", {
            let mut d = good.clone();
            d[8] ^= 1;
            d
        }),
        ("truncated", good[..good.len() - 1].to_vec()),
        ("appended byte", {
            let mut d = good.clone();
            d.push(0);
            d
        }),
        ("empty", Vec::new()),
    ];
    for (what, bytes) in damages {
        fs::write(&p30, &bytes).unwrap();
        assert_eq!(
            latest_snapshot(dir).unwrap(),
            Some((20, Vec::new())),
            "{what}"
        );
        // Retention (which checks files without reading them into memory) agrees: the
        // damaged newest one is not counted as kept, so 20 stays and only 10 could go.
        let copy = copy_of(dir);
        assert_eq!(
            retain_snapshots(copy.path(), 1).unwrap(),
            vec![10],
            "{what}"
        );
        assert_eq!(list_snapshots(copy.path()).unwrap(), vec![20, 30], "{what}");
    }
    // Undamaged, the newest one is kept alone.
    fs::write(&p30, &good).unwrap();
    let copy = copy_of(dir);
    assert_eq!(retain_snapshots(copy.path(), 1).unwrap(), vec![10, 20]);
    // No temporary files are left behind.
    let names: Vec<String> = fs::read_dir(dir.join("snapshots"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names.iter().all(|n| n.ends_with(".snap")), "{names:?}");
}

#[test]
fn retain_keeps_newest_snapshots_and_drops_covered_segments() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let j = Journal::open(common::small(dir, 1024)).unwrap();
    let payloads: Vec<Vec<u8>> = (0..200).map(|i| common::payload_for(1, i)).collect();
    let first = j.append_batch(RecordKind::Command, &payloads).unwrap();
    j.wait_durable_blocking(first + 199).unwrap();
    let before = scan(dir).unwrap();
    assert!(before.segments.len() > 5);

    for s in [20u64, 90, 150] {
        write_snapshot(dir, s, format!("state@{s}").as_bytes()).unwrap();
    }
    let report = retain(dir, 2, 2).unwrap();
    assert_eq!(report.removed_snapshots, vec![20]);
    assert_eq!(list_snapshots(dir).unwrap(), vec![90, 150]);
    // Exactly the segments whose last record is <= 90 are gone.
    let firsts: Vec<u64> = before.segments.iter().map(|s| s.first_index).collect();
    let expect_removed: Vec<_> = before
        .segments
        .iter()
        .filter(|s| {
            s.last_index.is_some_and(|l| l <= 90) && s.first_index != *firsts.last().unwrap()
        })
        .map(|s| s.path.clone())
        .collect();
    assert!(!expect_removed.is_empty());
    assert_eq!(report.removed_segments, expect_removed);
    // The first two went into the recycle pool, the rest were deleted.
    assert_eq!(report.recycled_segments, expect_removed.len().min(2));
    assert_eq!(
        journal::segment::list_recycled(dir).unwrap().len(),
        report.recycled_segments
    );
    let after = scan(dir).unwrap();
    let first_kept = after.first_index.unwrap();
    assert!(
        first_kept <= 91,
        "record 91 must be retained, first is {first_kept}"
    );
    assert_eq!(after.last_index, Some(200));

    // A snapshot past the end never removes the active segment.
    write_snapshot(dir, 10_000, b"future").unwrap();
    retain(dir, 1, 2).unwrap();
    let segs = list_segments(dir).unwrap();
    assert_eq!(segs.len(), 1);
    j.close().unwrap();

    // The journal reopens on the retained suffix and keeps counting.
    let j = Journal::open(common::small(dir, 1024)).unwrap();
    assert_eq!(j.append(RecordKind::Command, b"next").unwrap(), 201);
    // Nothing is removed without a kept valid snapshot.
    assert_eq!(retain(dir, 0, 2).unwrap(), Default::default());
}

//! Readers tailing a live writer fed by several producer threads: an in-process reader and a
//! cross-process-style follower (its own file handles, the `durable` file and inotify) both
//! see every record exactly once, in order, across segment rolls.
#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

mod common;

use std::collections::HashMap;
use std::time::Duration;

use journal::{Journal, JournalError, JournalReader, Record, RecordKind};

const PRODUCERS: u64 = 4;
const PER_PRODUCER: u64 = 1500;

fn check_stream(name: &str, records: &[Record]) {
    let total = PRODUCERS * PER_PRODUCER;
    assert_eq!(records.len() as u64, total, "{name}");
    let mut next_seq: HashMap<u64, u64> = HashMap::new();
    for (i, rec) in records.iter().enumerate() {
        assert_eq!(
            rec.index,
            i as u64 + 1,
            "{name}: indices must be gap-free and ordered"
        );
        let (producer, seq) = common::identity_of(&rec.payload);
        let expected = next_seq.entry(producer).or_insert(0);
        assert_eq!(
            seq, *expected,
            "{name}: producer {producer} out of order or duplicated"
        );
        *expected += 1;
    }
    assert!(next_seq.values().all(|&n| n == PER_PRODUCER), "{name}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_tail_a_live_writer_exactly_once_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let journal = Journal::open(common::small(tmp.path(), 32 << 10)).unwrap();
    let total = PRODUCERS * PER_PRODUCER;

    // Readers start before anything is written.
    let mut local = journal.reader(1).unwrap();
    let mut remote = JournalReader::open(tmp.path(), 1).unwrap();
    let local_task = tokio::spawn(async move {
        let mut out = Vec::new();
        while (out.len() as u64) < total {
            out.push(local.next().await.unwrap());
        }
        (out, local)
    });
    let remote_task = tokio::spawn(async move {
        let mut out = Vec::new();
        while (out.len() as u64) < total {
            out.push(remote.next().await.unwrap());
        }
        (out, remote)
    });

    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let j = journal.clone();
            std::thread::spawn(move || {
                for seq in 0..PER_PRODUCER {
                    let idx = j
                        .append(RecordKind::Command, &common::payload_for(p, seq))
                        .unwrap();
                    if seq % 100 == 99 {
                        j.wait_durable_blocking(idx).unwrap();
                    }
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }

    let deadline = Duration::from_secs(60);
    let (local_records, mut local) = tokio::time::timeout(deadline, local_task)
        .await
        .expect("in-process reader timed out")
        .unwrap();
    let (remote_records, mut remote) = tokio::time::timeout(deadline, remote_task)
        .await
        .expect("cross-process reader timed out")
        .unwrap();
    check_stream("in-process", &local_records);
    check_stream("cross-process", &remote_records);
    assert!(
        journal::scan(tmp.path()).unwrap().segments.len() > 3,
        "the test must cross segment rolls"
    );

    // Both are at the durable end now.
    assert!(local.try_next().unwrap().is_none());
    assert!(remote.try_next().unwrap().is_none());

    // A record appended later wakes a waiting follower.
    let waiting = tokio::spawn(async move { remote.next().await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let idx = journal.append(RecordKind::Event, b"late").unwrap();
    let late = tokio::time::timeout(Duration::from_millis(900), waiting)
        .await
        .expect("follower was not woken before the fallback timer")
        .unwrap()
        .unwrap();
    assert_eq!((late.index, late.payload.as_slice()), (idx, &b"late"[..]));

    // Closing ends the in-process reader cleanly after the last durable record.
    assert_eq!(local.next().await.unwrap().index, idx);
    journal.close().unwrap();
    assert!(matches!(local.next().await, Err(JournalError::Closed)));
}

#[tokio::test]
async fn reader_from_the_middle_and_before_the_first_retained_index() {
    let tmp = tempfile::tempdir().unwrap();
    let journal = Journal::open(common::small(tmp.path(), 4096)).unwrap();
    let payloads: Vec<Vec<u8>> = (0..500).map(|i| common::payload_for(9, i)).collect();
    let last = journal
        .append_batch(RecordKind::Command, &payloads)
        .unwrap()
        + 499;
    journal.wait_durable(last).await.unwrap();

    for from in [1u64, 2, 250, 499, 500] {
        let mut r = journal.reader(from).unwrap();
        let mut x = JournalReader::open(tmp.path(), from).unwrap();
        for i in from..=500 {
            assert_eq!(r.next().await.unwrap().payload, payloads[i as usize - 1]);
            assert_eq!(x.next().await.unwrap().payload, payloads[i as usize - 1]);
        }
    }

    // Drop the oldest segments behind a snapshot; older indexes are then a clear error.
    journal::snapshot::write_snapshot(tmp.path(), 300, b"state@300").unwrap();
    let removed = journal::snapshot::retain(tmp.path(), 1, 2).unwrap();
    assert!(!removed.removed_segments.is_empty());
    let first_retained = journal::scan(tmp.path()).unwrap().first_index.unwrap();
    assert!(first_retained > 1 && first_retained <= 301);
    for reader in [
        journal.reader(1).unwrap(),
        JournalReader::open(tmp.path(), 1).unwrap(),
    ] {
        let mut reader = reader;
        match reader.try_next() {
            Err(JournalError::IndexNotRetained {
                requested: 1,
                first_retained: f,
            }) => assert_eq!(f, first_retained),
            other => panic!("expected IndexNotRetained, got {other:?}"),
        }
    }
    let mut r = journal.reader(first_retained).unwrap();
    assert_eq!(r.next().await.unwrap().index, first_retained);
}

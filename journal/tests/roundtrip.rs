//! Random records round-trip across segment rolls and reopens, read back from random indexes.
#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

mod common;

use journal::{scan, Journal, JournalReader, RecordKind};
use proptest::prelude::*;

fn record_strategy() -> impl Strategy<Value = (u8, Vec<u8>)> {
    (
        0u8..6,
        prop_oneof![
            3 => proptest::collection::vec(any::<u8>(), 0..64),
            1 => proptest::collection::vec(any::<u8>(), 0..3000),
        ],
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn records_round_trip_across_rolls_and_reopen(
        first in proptest::collection::vec(record_strategy(), 0..40),
        second in proptest::collection::vec(record_strategy(), 0..40),
        starts in proptest::collection::vec(any::<prop::sample::Index>(), 1..6),
        segment_bytes in prop_oneof![Just(4096u64), Just(8192u64), Just(1u64 << 16)],
        use_batch in any::<bool>(),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let mut expected = Vec::new();
        // Two sessions: the second appends to the reopened journal.
        for session in [&first, &second] {
            let j = Journal::open(common::small(dir, segment_bytes)).unwrap();
            prop_assert_eq!(j.next_index(), expected.len() as u64 + 1);
            let mut last = 0;
            if use_batch && !session.is_empty() {
                // One append_batch per kind run.
                for chunk in session.chunk_by(|a, b| a.0 == b.0) {
                    let payloads: Vec<&[u8]> = chunk.iter().map(|r| r.1.as_slice()).collect();
                    let first_index = j.append_batch(RecordKind::from_byte(chunk[0].0), &payloads).unwrap();
                    prop_assert_eq!(first_index, expected.len() as u64 + 1);
                    for (kind, payload) in chunk {
                        expected.push((RecordKind::from_byte(*kind), payload.clone()));
                    }
                    last = expected.len() as u64;
                }
            } else {
                for (kind, payload) in session {
                    let kind = RecordKind::from_byte(*kind);
                    last = j.append(kind, payload).unwrap();
                    expected.push((kind, payload.clone()));
                    prop_assert_eq!(last, expected.len() as u64);
                }
            }
            if last > 0 {
                j.wait_durable_blocking(last).unwrap();
            }
            j.close().unwrap();
        }

        let report = scan(dir).unwrap();
        prop_assert_eq!(report.records, expected.len() as u64);
        prop_assert_eq!(report.torn_tail, None);
        prop_assert_eq!(report.last_index, (!expected.is_empty()).then_some(expected.len() as u64));
        let payload_bytes: usize = expected.iter().map(|e| e.1.len()).sum();
        prop_assert_eq!(report.payload_bytes, payload_bytes as u64);

        let j = Journal::open(common::small(dir, segment_bytes)).unwrap();
        for start in starts {
            let from = start.index(expected.len() + 1) as u64 + 1;
            let mut local = j.reader(from).unwrap();
            let mut remote = JournalReader::open(dir, from).unwrap();
            for want_index in from..=expected.len() as u64 {
                let (kind, payload) = &expected[want_index as usize - 1];
                for reader in [&mut local, &mut remote] {
                    let rec = reader.try_next().unwrap().expect("record missing");
                    prop_assert_eq!(rec.index, want_index);
                    prop_assert_eq!(rec.kind, *kind);
                    prop_assert_eq!(rec.term, 0);
                    prop_assert_eq!(rec.version, journal::format::FORMAT_VERSION);
                    prop_assert_eq!(&rec.payload, payload);
                }
            }
            prop_assert!(local.try_next().unwrap().is_none());
            prop_assert!(remote.try_next().unwrap().is_none());
        }
        j.close().unwrap();
    }
}

#[test]
fn oversized_records_are_refused_and_do_not_consume_an_index() {
    let tmp = tempfile::tempdir().unwrap();
    let j = Journal::open(common::small(tmp.path(), 4096)).unwrap();
    let err = j.append(RecordKind::Command, &[0u8; 4096]).unwrap_err();
    assert!(
        matches!(err, journal::JournalError::RecordTooLarge { .. }),
        "{err}"
    );
    // Exactly a segment is fine.
    let i = j.append(RecordKind::Command, &[7u8; 4096 - 32]).unwrap();
    assert_eq!(i, 1);
    j.wait_durable_blocking(i).unwrap();
    j.close().unwrap();
    assert_eq!(
        common::read_all(tmp.path())[0].payload,
        vec![7u8; 4096 - 32]
    );
}

#[test]
fn a_second_writer_is_refused_until_the_first_closes() {
    let tmp = tempfile::tempdir().unwrap();
    let j = Journal::open(common::small(tmp.path(), 4096)).unwrap();
    let err = Journal::open(common::small(tmp.path(), 4096)).unwrap_err();
    assert!(
        matches!(err, journal::JournalError::AlreadyOpen { .. }),
        "{err}"
    );
    j.close().unwrap();
    Journal::open(common::small(tmp.path(), 4096)).unwrap();
}

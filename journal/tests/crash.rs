//! Crash safety: a child process (this test binary re-executed) appends records with
//! deterministic payloads from several threads and prints each index once it is reported
//! durable; the parent SIGKILLs it at a random moment, reopens the journal and checks that
//! every record reported durable is present and intact and the log is well-formed.
#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use journal::{scan, Journal, RecordKind};

const CHILD_ENV: &str = "JOURNAL_CRASH_CHILD_DIR";
const CHILD_TEST: &str = "crash_child_process";
const THREADS: u64 = 3;

/// The child's body. It does nothing unless started by the parent with `CHILD_ENV` set.
#[test]
#[ignore = "helper: run as a child process by crash_mid_batch_loses_nothing_reported_durable"]
fn crash_child_process() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let journal = Journal::open(common::small(Path::new(&dir), 64 << 10)).unwrap();
    // Streams are unique per child run so payloads from earlier runs are told apart.
    let run = std::process::id() as u64;
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let j = journal.clone();
            std::thread::spawn(move || {
                let stream = run * 16 + t;
                let mut seq = 0u64;
                let mut x = stream | 1;
                loop {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let batch = 1 + x % 40;
                    let mut appended = Vec::new();
                    for _ in 0..batch {
                        let idx = j
                            .append(RecordKind::Command, &common::payload_for(stream, seq))
                            .unwrap();
                        appended.push((idx, seq));
                        seq += 1;
                    }
                    j.wait_durable_blocking(appended.last().unwrap().0).unwrap();
                    let mut out = std::io::stdout().lock();
                    for (idx, s) in appended {
                        writeln!(out, "D {idx} {stream} {s}").unwrap();
                    }
                    out.flush().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

fn rng_seed() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1
}

#[test]
fn crash_mid_batch_loses_nothing_reported_durable() {
    let tmp = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut x = rng_seed();
    println!("crash test seed {x}");
    let mut reported_total = 0usize;
    for round in 0..4 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let kill_after = Duration::from_millis(150 + x % 350);
        let mut child = Command::new(&exe)
            .args([
                CHILD_TEST,
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, tmp.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let collector = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let parts: Vec<&str> = line.split(' ').collect();
                if parts.len() == 4 && parts[0] == "D" {
                    let nums: Vec<u64> = parts[1..].iter().map(|p| p.parse().unwrap()).collect();
                    if tx.send((nums[0], nums[1], nums[2])).is_err() {
                        break;
                    }
                }
            }
        });
        // Wait until the child is really appending, then let it run a random while.
        let first = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("child never reported");
        let started = Instant::now();
        while started.elapsed() < kill_after {
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        collector.join().unwrap();
        let mut reported = vec![first];
        reported.extend(rx.try_iter());
        assert!(
            reported.len() > 1,
            "round {round}: child reported too little"
        );

        // The writer is dead: a reader returns every record recovery will keep, even those
        // the child wrote but never published in the durable file.
        let before_recovery: Vec<u64> = common::read_all(tmp.path())
            .iter()
            .map(|r| r.index)
            .collect();
        let published = journal::durable_file::read(tmp.path())
            .unwrap()
            .unwrap_or(0);
        assert!(before_recovery.len() as u64 >= published);

        // Reopen (runs recovery), then check well-formedness and every reported record.
        let j = Journal::open(common::small(tmp.path(), 64 << 10)).unwrap();
        assert_eq!(
            j.durable_index(),
            before_recovery.len() as u64,
            "round {round}"
        );
        let report = scan(tmp.path()).unwrap();
        assert_eq!(report.torn_tail, None);
        let all = common::read_all(tmp.path());
        assert_eq!(all.len() as u64, report.records);
        for (i, rec) in all.iter().enumerate() {
            assert_eq!(rec.index, i as u64 + 1);
            common::identity_of(&rec.payload);
        }
        for &(idx, stream, seq) in &reported {
            let rec = all
                .get(idx as usize - 1)
                .unwrap_or_else(|| panic!("round {round}: durable record {idx} lost"));
            assert_eq!(
                common::identity_of(&rec.payload),
                (stream, seq),
                "record {idx}"
            );
        }
        println!(
            "round {round}: killed after {kill_after:?}; {} reported durable, {} on disk, {} segments",
            reported.len(),
            all.len(),
            report.segments.len()
        );
        reported_total += reported.len();
        j.close().unwrap();
    }
    assert!(reported_total > 100);
}

//! Exactly once across crashes: SIGKILL of a separate settlement process mid-batch, and a
//! Postgres restart under a running consumer.
#![allow(clippy::unwrap_used)]

mod common;

use common::{digest, duplicates, session, FEE_ACCOUNT};
use matcher::AccountId;
use pgcluster::TempCluster;
use settlement::{Metrics, SettlementConfig, SettlementHandle};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn config(data_dir: &Path, url: &str, stop_at: Option<u64>, batch: usize) -> SettlementConfig {
    let mut c = SettlementConfig::new(data_dir.join("events"), url);
    c.genesis_fee_account = AccountId(FEE_ACCOUNT);
    c.stop_at = stop_at;
    c.max_batch_events = batch;
    c.retry_initial = Duration::from_millis(20);
    c.retry_max = Duration::from_millis(200);
    c
}

fn settle_to(c: SettlementConfig) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (_stop, rx) = tokio::sync::watch::channel(false);
    rt.block_on(settlement::run(c, Arc::new(Metrics::default()), rx))
        .unwrap();
}

fn offset(cluster: &pgcluster::Cluster, db: &str) -> u64 {
    cluster
        .psql(
            db,
            "SELECT coalesce((SELECT last_seq FROM consumer_offsets), 0)",
        )
        .map(|s| s.trim().parse().unwrap_or(0))
        .unwrap_or(0)
}

#[test]
fn sigkill_of_the_settlement_process_mid_batch_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let last = session(dir.path(), 21, 10, 6_000);
    let pg = TempCluster::shared().unwrap();
    let c = pg.cluster();
    let reference = pg.create_database().unwrap();
    settle_to(config(
        dir.path(),
        &reference.connection_string,
        Some(last),
        1_000_000,
    ));
    let want = digest(c, &reference.name);

    let db = pg.create_database().unwrap();
    let mut seeds = common::Rng::new(99);
    let (mut kills_in_transaction, mut offsets) = (0, Vec::new());
    for _ in 0..4 {
        if offsets.last().is_some_and(|o| *o >= last) {
            break;
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_settlement-follow"))
            .args(["--events", &dir.path().join("events").display().to_string()])
            .args(["--database-url", &db.connection_string])
            .args(["--fee-account", &FEE_ACCOUNT.to_string()])
            .args(["--max-batch-events", "1500"])
            .env("RUST_LOG", "warn")
            .spawn()
            .unwrap();
        // Let it connect and get into its batches, then kill it at a random moment.
        let start = Instant::now();
        while offset(c, &db.name) == *offsets.last().unwrap_or(&0)
            && start.elapsed() < Duration::from_secs(20)
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(seeds.below(60)));
        // Kill right after seeing the follower inside an open transaction (up to 2 s of looking).
        let query = format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' \
             AND xact_start IS NOT NULL AND pid <> pg_backend_pid()",
            db.name
        );
        let look = Instant::now();
        let mut open = c.psql(&db.name, &query).unwrap();
        while open.trim() == "0" && look.elapsed() < Duration::from_secs(2) {
            open = c.psql(&db.name, &query).unwrap();
        }
        // SAFETY: plain kill(2) of our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "the follower finished before it was killed"
        );
        if open.trim() != "0" {
            kills_in_transaction += 1;
        }
        offsets.push(offset(c, &db.name));
    }
    eprintln!("offsets after each kill {offsets:?}, kills inside a transaction {kills_in_transaction}, last event {last}");
    assert!(
        kills_in_transaction >= 1,
        "no kill landed inside a transaction"
    );
    assert!(offsets.windows(2).all(|w| w[0] <= w[1]), "{offsets:?}");
    // Resume to the end: identical to the uninterrupted run.
    settle_to(config(dir.path(), &db.connection_string, Some(last), 4_000));
    assert_eq!(digest(c, &db.name), want);
    assert_eq!(duplicates(c, &db.name), 0);
}

#[test]
fn postgres_restart_under_a_running_consumer_resumes_without_loss() {
    let dir = tempfile::tempdir().unwrap();
    let last = session(dir.path(), 31, 8, 3_000);
    let pg = TempCluster::new().unwrap();
    let c = pg.cluster();
    let reference = pg.create_database().unwrap();
    settle_to(config(
        dir.path(),
        &reference.connection_string,
        Some(last),
        1_000_000,
    ));
    let want = digest(c, &reference.name);

    let db = pg.create_database().unwrap();
    let handle =
        SettlementHandle::spawn(config(dir.path(), &db.connection_string, None, 25)).unwrap();
    let metrics = handle.metrics();
    let wait = |what: &str, f: &dyn Fn() -> bool| {
        let start = Instant::now();
        while !f() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "timed out waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    wait("progress", &|| {
        metrics.applied_seq.load(Ordering::Relaxed) > 0
    });
    c.stop_immediate().unwrap();
    let at_stop = metrics.applied_seq.load(Ordering::Relaxed);
    assert!(at_stop < last, "settled everything before the restart");
    wait("a failed attempt", &|| {
        metrics.retries.load(Ordering::Relaxed) >= 2
    });
    assert_eq!(metrics.applied_seq.load(Ordering::Relaxed), at_stop);
    assert!(metrics.lag() > 0);
    c.resume().unwrap();
    wait("catching up", &|| {
        metrics.applied_seq.load(Ordering::Relaxed) == last
    });
    assert_eq!(metrics.lag(), 0);
    let report = handle.stop().unwrap();
    assert_eq!(report.applied_seq, last);
    assert_eq!(digest(c, &db.name), want);
}

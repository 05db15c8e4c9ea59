//! Durable-append benchmark for the journal.
//!
//! `cargo bench -p journal --bench durable_append [-- --dir PATH] [--secs N] [--only tput|lat]
//! [--batch B] [--segment-mib M]`
//!
//! Every journal run measures the steady state: before it, the journal directory is brought
//! into the state production reaches (records written, snapshot, retention, so the recycle
//! pool holds `max_recycled_segments` retired segments), and during it a retention thread
//! snapshots and retires the old segment after every roll, as production does. Each row
//! reports how many rolls in the measured window reused a pooled segment and how many had to
//! preallocate (zero-fill) a fresh one.
//!
//! 1. Throughput: durable 100-byte appends per second with exactly `B` records per fdatasync
//!    (`max_batch_records = B`, a producer thread keeping the queue full with `append_batch`),
//!    for B = 1, 10, 100, 1000, next to the raw limit measured in the same run on the same file
//!    system: a loop of one `pwrite` of B x 100 bytes + one `fdatasync` into a preallocated,
//!    zero-written file, measured right before and right after the journal and averaged (also
//!    at B = 10000, to show whether the device is bandwidth-bound).
//!    Both are also given in bytes/s: a journal record is 136 bytes on disk (32-byte header,
//!    100-byte payload, 4 bytes of padding), so where raw writes are bandwidth-bound the
//!    journal cannot exceed 100/136 = 73.5% of the raw record rate.
//! 2. Open-loop latency: records are offered on a fixed schedule (50k, 200k, 1M records/s);
//!    each record's latency runs from its *intended* send time (so a producer that falls
//!    behind still pays for it) until a waiter thread observes it durable. The first 0.5 s of
//!    each run is a warm-up and not recorded. For reference the same table first shows the
//!    device's own floor: the duration of single back-to-back write(100 B) + fdatasync calls.

// Rates and percent ratios are reporting arithmetic, nowhere near money.
#![allow(clippy::float_arithmetic)]

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use journal::format::frame_len;
use journal::segment::{list_recycled, list_segments};
use journal::snapshot::write_snapshot;
use journal::{Durations, Journal, JournalConfig, JournalStats, RecordKind};

const RECORD: usize = 100;
/// Bytes one record occupies on disk.
const FRAMED: usize = frame_len(RECORD);
const WARMUP: Duration = Duration::from_millis(500);

struct Args {
    dir: Option<PathBuf>,
    secs: u64,
    segment_mib: u64,
    only: Option<String>,
    settle_ms: u64,
    /// Only this batch size in the throughput table.
    batch: Option<usize>,
}

fn parse_args() -> Args {
    let mut args = Args {
        dir: None,
        secs: 3,
        segment_mib: 64,
        only: None,
        settle_ms: 0,
        batch: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--dir" => args.dir = it.next().map(PathBuf::from),
            "--secs" => {
                if let Some(s) = it.next().and_then(|s| s.parse().ok()) {
                    args.secs = s;
                }
            }
            "--segment-mib" => {
                if let Some(s) = it.next().and_then(|s| s.parse().ok()) {
                    args.segment_mib = s;
                }
            }
            "--settle-ms" => {
                if let Some(s) = it.next().and_then(|s| s.parse().ok()) {
                    args.settle_ms = s;
                }
            }
            "--only" => args.only = it.next(),
            "--batch" => args.batch = it.next().and_then(|s| s.parse().ok()),
            _ => {} // `cargo bench` passes `--bench`; ignore anything unknown.
        }
    }
    args
}

fn fs_type(dir: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return "unknown".into();
    };
    // SAFETY: `c` is a valid NUL-terminated path and `st` a properly sized out-parameter.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return "unknown".into();
    }
    match st.f_type {
        0xEF53 => "ext4".into(),
        0x0102_1994 => "tmpfs".into(),
        0x5846_5342 => "xfs".into(),
        0x9123_683E => "btrfs".into(),
        other => format!("0x{other:x}"),
    }
}

/// Creates `path` as `size` bytes of written (not sparse) zeros, synced: the raw loops write
/// into preallocated space, as the journal's segments are.
fn zeroed_file(path: &Path, size: u64) -> std::fs::File {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .expect("create raw file");
    let zeros = vec![0u8; 1 << 20];
    for i in 0..(size >> 20) {
        file.write_all_at(&zeros, i << 20).expect("zero raw file");
    }
    file.sync_all().expect("sync raw file");
    file
}

/// Raw limit: pwrite(B x 100 bytes) + fdatasync in a loop, into a preallocated file.
fn raw_limit(dir: &Path, batch: usize, run: Duration) -> f64 {
    let path = dir.join(format!("raw-{batch}.dat"));
    let size: u64 = 256 << 20;
    let file = zeroed_file(&path, size);
    let buf = vec![0x5Au8; batch * RECORD];
    let mut off = 0u64;
    let mut records = 0u64;
    let start = Instant::now();
    while start.elapsed() < run {
        if off + buf.len() as u64 > size {
            off = 0;
        }
        file.write_all_at(&buf, off).expect("raw write");
        file.sync_data().expect("raw fdatasync");
        off += buf.len() as u64;
        records += batch as u64;
    }
    let rate = records as f64 / start.elapsed().as_secs_f64();
    drop(file);
    let _ = std::fs::remove_file(&path);
    rate
}

/// The device's own latency floor: durations of single write(100 B) + fdatasync calls into
/// a preallocated file, back to back.
fn raw_sync_latency(dir: &Path, run: Duration) -> Histogram<u64> {
    let path = dir.join("raw-latency.dat");
    let size: u64 = 64 << 20;
    let file = zeroed_file(&path, size);
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("hist");
    let buf = [0x5Au8; RECORD];
    let mut off = 0u64;
    let start = Instant::now();
    while start.elapsed() < run {
        let t = Instant::now();
        file.write_all_at(&buf, off).expect("raw write");
        file.sync_data().expect("raw fdatasync");
        hist.record(t.elapsed().as_nanos().max(1) as u64)
            .expect("record");
        off = (off + RECORD as u64) % size;
    }
    drop(file);
    let _ = std::fs::remove_file(&path);
    hist
}

/// Brings `config.dir` into production's steady state: writes records, with a snapshot and
/// retention after every roll, until a roll has reused a pooled segment and retention has
/// put another one into the pool. (In steady state each roll takes the segment the previous
/// retention put there, so the pool holds about one segment at a time.)
fn prefill_pool(config: &JournalConfig) {
    let mut fill = config.clone();
    fill.max_batch_records = 65_536;
    let journal = Journal::open(fill).expect("open journal for prefill");
    let payload = [0x3Cu8; RECORD];
    let chunk: Vec<&[u8]> = vec![&payload[..]; 1000];
    let deadline = Instant::now() + Duration::from_secs(120);
    while journal.stats().rolls_recycled == 0
        || list_recycled(&config.dir).expect("list pool").is_empty()
    {
        assert!(Instant::now() < deadline, "prefill did not fill the pool");
        let first = journal
            .append_batch(RecordKind::Command, &chunk)
            .expect("append");
        journal
            .wait_durable_blocking(first + chunk.len() as u64 - 1)
            .expect("durable");
        retire_behind(&journal);
    }
    journal.close().expect("close prefill");
}

/// What production does after a roll: snapshot at the durable index, keep one snapshot, and
/// retire the segments it covers into the pool.
fn retire_behind(journal: &Journal) {
    if list_segments(journal.dir()).expect("list").len() >= 2 {
        write_snapshot(journal.dir(), journal.durable_index(), b"bench state").expect("snapshot");
        journal.retain(1).expect("retain");
    }
}

/// Runs [`retire_behind`] every 10 ms until `stop`.
fn retention_thread(journal: &Journal, stop: &Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    let j = journal.clone();
    let stop = Arc::clone(stop);
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            retire_behind(&j);
            std::thread::sleep(Duration::from_millis(10));
        }
    })
}

/// Rolls during a measured window: (reused from the pool, freshly preallocated).
fn rolls(s0: &JournalStats, s1: &JournalStats) -> (u64, u64) {
    (
        s1.rolls_recycled - s0.rolls_recycled,
        s1.rolls_fresh - s0.rolls_fresh,
    )
}

fn bench_config(dir: &Path, args: &Args) -> JournalConfig {
    let mut config = JournalConfig::new(dir);
    config.segment_bytes = args.segment_mib << 20;
    config
}

struct Throughput {
    rate: f64,
    per_sync: f64,
    rolls: (u64, u64),
}

/// Journal with exactly `batch` records per fdatasync, queue kept full by a producer.
fn journal_throughput(dir: &Path, args: &Args, batch: usize, run: Duration) -> Throughput {
    let jdir = dir.join(format!("tput-{batch}"));
    let mut config = bench_config(&jdir, args);
    config.max_batch_records = batch;
    config.max_pending_bytes = (batch * FRAMED * 8).max(1 << 20);
    prefill_pool(&config);
    let journal = Journal::open(config).expect("open journal");
    std::thread::sleep(Duration::from_millis(args.settle_ms));
    let stop = Arc::new(AtomicBool::new(false));
    let retention = retention_thread(&journal, &stop);
    let producer = {
        let j = journal.clone();
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let payload = [0x5Au8; RECORD];
            let chunk: Vec<&[u8]> = vec![&payload[..]; batch.clamp(1, 100)];
            while !stop.load(Ordering::Relaxed) {
                if j.append_batch(RecordKind::Command, &chunk).is_err() {
                    break;
                }
            }
        })
    };
    std::thread::sleep(WARMUP);
    let (d0, s0, t0) = (journal.durable_index(), journal.stats(), Instant::now());
    std::thread::sleep(run);
    let (d1, s1, t1) = (journal.durable_index(), journal.stats(), Instant::now());
    stop.store(true, Ordering::Relaxed);
    producer.join().expect("producer");
    retention.join().expect("retention");
    journal.close().expect("close");
    let _ = std::fs::remove_dir_all(&jdir);
    Throughput {
        rate: (d1 - d0) as f64 / (t1 - t0).as_secs_f64(),
        per_sync: (s1.records - s0.records) as f64 / (s1.syncs - s0.syncs).max(1) as f64,
        rolls: rolls(&s0, &s1),
    }
}

struct Latency {
    hist: Histogram<u64>,
    achieved: f64,
    per_sync: f64,
    rolls: (u64, u64),
    /// The writer's own timings over the run (warm-up included): fdatasync, whole chunk.
    sync: Durations,
    chunk: Durations,
    /// Length of the run those timings cover, seconds.
    secs: f64,
}

/// Open-loop: offer `rate` records/s for `run`, latency from intended send time to observed
/// durability.
fn open_loop(dir: &Path, args: &Args, rate: u64, run: Duration) -> Latency {
    let jdir = dir.join(format!("lat-{rate}"));
    let config = bench_config(&jdir, args);
    prefill_pool(&config);
    let journal = Journal::open(config).expect("open journal");
    std::thread::sleep(Duration::from_millis(args.settle_ms));
    let stop = Arc::new(AtomicBool::new(false));
    let retention = retention_thread(&journal, &stop);
    let total = rate * (run + WARMUP).as_millis() as u64 / 1000;
    let interval_ns = 1_000_000_000f64 / rate as f64;
    let start = Instant::now() + Duration::from_millis(10);
    let intended = move |i: u64| start + Duration::from_nanos((i as f64 * interval_ns) as u64);
    let warmup_records = rate * WARMUP.as_millis() as u64 / 1000;
    let s0 = journal.stats();
    // Records already in the (prefilled) journal; ours are base+1 ..= base+total.
    let base = journal.next_index() - 1;

    let observer = {
        let j = journal.clone();
        std::thread::spawn(move || {
            let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("hist");
            let mut next = 1u64;
            while next <= total {
                if j.wait_durable_blocking(base + next).is_err() {
                    break;
                }
                let now = Instant::now();
                let durable = (j.durable_index() - base).min(total);
                for idx in next..=durable {
                    let i = idx - 1;
                    if i >= warmup_records {
                        let lat = now.saturating_duration_since(intended(i));
                        hist.record(lat.as_nanos().max(1) as u64).expect("record");
                    }
                }
                next = durable + 1;
            }
            (hist, Instant::now())
        })
    };

    let payload = [0x5Au8; RECORD];
    let mut sent = 0u64;
    while sent < total {
        let now = Instant::now();
        let due = intended(sent);
        if due > now {
            std::thread::sleep(due - now);
            continue;
        }
        // Send everything that is due by now (the schedule, not the producer, sets the pace).
        while sent < total && intended(sent) <= now {
            journal
                .append(RecordKind::Command, &payload)
                .expect("append");
            sent += 1;
        }
    }
    let (hist, end) = observer.join().expect("observer");
    let s1 = journal.stats();
    stop.store(true, Ordering::Relaxed);
    retention.join().expect("retention");
    journal.close().expect("close");
    let _ = std::fs::remove_dir_all(&jdir);
    let measured = (total - warmup_records) as f64;
    let span = end
        .saturating_duration_since(intended(warmup_records))
        .as_secs_f64();
    Latency {
        hist,
        achieved: measured / span,
        per_sync: (s1.records - s0.records) as f64 / (s1.syncs - s0.syncs).max(1) as f64,
        rolls: rolls(&s0, &s1),
        sync: s1.sync_durations.since(&s0.sync_durations),
        chunk: s1.chunk_durations.since(&s0.chunk_durations),
        secs: end.saturating_duration_since(start).as_secs_f64(),
    }
}

fn us(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1000.0)
}

fn main() {
    let args = parse_args();
    let base = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")));
    std::fs::create_dir_all(&base).expect("create bench dir");
    let tmp = tempfile::Builder::new()
        .prefix("durable_append-")
        .tempdir_in(&base)
        .expect("tempdir");
    let dir = tmp.path();
    let fs = fs_type(dir);
    let run = Duration::from_secs(args.secs);
    println!(
        "durable_append: dir {} ({fs}), {RECORD}-byte records, {}s per point",
        dir.display(),
        args.secs
    );
    if fs == "tmpfs" {
        println!("WARNING: tmpfs has no real fdatasync; numbers are meaningless");
    }

    if args.only.as_deref() != Some("lat") {
        println!();
        println!("Throughput (records per fdatasync = batch)");
        println!(
            "(raw MB/s counts {RECORD} bytes per record, journal MB/s the {FRAMED} framed bytes; \
             rolls = pooled/fresh segments taken in the measured window)"
        );
        println!(
            "{:>6} {:>13} {:>9} {:>14} {:>9} {:>7} {:>10} {:>8}",
            "batch",
            "raw rec/s",
            "raw MB/s",
            "journal rec/s",
            "jrnl MB/s",
            "ratio",
            "rec/fsync",
            "rolls"
        );
        let mb = |rate: f64, bytes: usize| rate * bytes as f64 / 1e6;
        for batch in [1usize, 10, 100, 1000, 10_000] {
            if args.batch.is_some_and(|b| b != batch) {
                continue;
            }
            let raw = raw_limit(dir, batch, run);
            if batch > 1000 {
                // Raw only: shows whether the device is bandwidth-bound at large batches.
                println!("{:>6} {:>13.0} {:>9.1}", batch, raw, mb(raw, RECORD));
                continue;
            }
            let j = journal_throughput(dir, &args, batch, run);
            // The device's speed drifts on this shared VM: compare with the mean of raw
            // runs right before and right after the journal's.
            let raw_after = raw_limit(dir, batch, run);
            let raw = (raw + raw_after) / 2.0;
            println!(
                "{:>6} {:>13.0} {:>9.1} {:>14.0} {:>9.1} {:>6.1}% {:>10.1} {:>8}",
                batch,
                raw,
                mb(raw, RECORD),
                j.rate,
                mb(j.rate, FRAMED),
                100.0 * j.rate / raw,
                j.per_sync,
                format!("{}/{}", j.rolls.0, j.rolls.1)
            );
        }
    }
    if args.only.as_deref() != Some("tput") {
        println!();
        println!("Open-loop latency, intended send time -> observed durable (microseconds)");
        println!(
            "{:>10} {:>12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>7}",
            "offered/s",
            "achieved/s",
            "p50",
            "p99",
            "p99.9",
            "max",
            "rec/fsync",
            "samples",
            "rolls"
        );
        let raw = raw_sync_latency(dir, run);
        println!(
            "{:>10} {:>12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>7}",
            "raw sync",
            "-",
            us(raw.value_at_quantile(0.50)),
            us(raw.value_at_quantile(0.99)),
            us(raw.value_at_quantile(0.999)),
            us(raw.max()),
            "1.0",
            raw.len(),
            "-"
        );
        let mut runs = Vec::new();
        for rate in [50_000u64, 200_000, 1_000_000] {
            let l = open_loop(dir, &args, rate, run);
            let h = &l.hist;
            println!(
                "{:>10} {:>12.0} {:>9} {:>9} {:>9} {:>9} {:>9.1} {:>10} {:>7}",
                rate,
                l.achieved,
                us(h.value_at_quantile(0.50)),
                us(h.value_at_quantile(0.99)),
                us(h.value_at_quantile(0.999)),
                us(h.max()),
                l.per_sync,
                h.len(),
                format!("{}/{}", l.rolls.0, l.rolls.1)
            );
            runs.push((rate, l));
        }
        print_writer_timings(&runs);
    }
}

/// Where the open-loop time went, from the journal's own timings: the device's fdatasync and
/// the writer's whole chunk cycle (write, fdatasync, roll, publication). A stall of T ms at R
/// records/s delays about T x R records, so the share of the run spent in long fdatasyncs
/// bounds how many records can meet a latency target.
fn print_writer_timings(runs: &[(u64, Latency)]) {
    println!();
    println!("Writer timings in those runs (warm-up included; bucket upper bounds, microseconds)");
    println!(
        "{:>10} {:>8} {:>10} {:>10} {:>10} {:>10} {:>16} {:>16}",
        "offered/s",
        "fsyncs",
        "fsync p50",
        "fsync p99",
        "fsync max",
        "chunk p99",
        "fsync>=512us ms",
        "chunk>=512us ms"
    );
    let q = |d: &Durations, pm: u64| {
        d.quantile_upper_us(pm)
            .map_or("-".to_owned(), |v| format!("<{v}"))
    };
    for (rate, l) in runs {
        let long = |d: &Durations| {
            let ms = d.time_in_buckets_from_us(512) as f64 / 1000.0;
            format!("{ms:.1} ({:.2}%)", 100.0 * ms / 1000.0 / l.secs.max(1e-9))
        };
        println!(
            "{:>10} {:>8} {:>10} {:>10} {:>10} {:>10} {:>16} {:>16}",
            rate,
            l.sync.count(),
            q(&l.sync, 500),
            q(&l.sync, 990),
            us(l.sync.max_ns),
            q(&l.chunk, 990),
            long(&l.sync),
            long(&l.chunk)
        );
    }
}

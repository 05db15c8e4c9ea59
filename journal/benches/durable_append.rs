//! Durable-append benchmark for the journal.
//!
//! `cargo bench -p journal --bench durable_append [-- --dir PATH] [--secs N]`
//!
//! 1. Throughput: durable 100-byte appends per second with exactly `B` records per fdatasync
//!    (`max_batch_records = B`, a producer thread keeping the queue full with `append_batch`),
//!    for B = 1, 10, 100, 1000, next to the raw limit measured in the same run on the same file
//!    system: a loop of one `pwrite` of B x 100 bytes + one `fdatasync` into a preallocated,
//!    zero-written file.
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
use journal::{Journal, JournalConfig, RecordKind};

const RECORD: usize = 100;
const WARMUP: Duration = Duration::from_millis(500);

struct Args {
    dir: Option<PathBuf>,
    secs: u64,
    segment_mib: u64,
    only: Option<String>,
    settle_ms: u64,
}

fn parse_args() -> Args {
    let mut args = Args {
        dir: None,
        secs: 3,
        segment_mib: 64,
        only: None,
        settle_ms: 0,
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

/// Raw limit: pwrite(B x 100 bytes) + fdatasync in a loop, into a preallocated file.
fn raw_limit(dir: &Path, batch: usize, run: Duration) -> f64 {
    let path = dir.join(format!("raw-{batch}.dat"));
    let size: u64 = 256 << 20;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .expect("create raw file");
    let zeros = vec![0u8; 1 << 20];
    for i in 0..(size >> 20) {
        file.write_all_at(&zeros, i << 20).expect("zero raw file");
    }
    file.sync_all().expect("sync raw file");
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
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .expect("create raw file");
    let zeros = vec![0u8; 1 << 20];
    for i in 0..(size >> 20) {
        file.write_all_at(&zeros, i << 20).expect("zero raw file");
    }
    file.sync_all().expect("sync raw file");
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

struct Throughput {
    rate: f64,
    per_sync: f64,
}

/// Journal with exactly `batch` records per fdatasync, queue kept full by a producer.
fn journal_throughput(dir: &Path, args: &Args, batch: usize, run: Duration) -> Throughput {
    let jdir = dir.join(format!("tput-{batch}"));
    let mut config = JournalConfig::new(&jdir);
    config.segment_bytes = args.segment_mib << 20;
    config.max_batch_records = batch;
    config.max_pending_bytes = (batch * 136 * 8).max(1 << 20);
    let journal = Journal::open(config).expect("open journal");
    std::thread::sleep(Duration::from_millis(args.settle_ms));
    let stop = Arc::new(AtomicBool::new(false));
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
    journal.close().expect("close");
    let _ = std::fs::remove_dir_all(&jdir);
    Throughput {
        rate: (d1 - d0) as f64 / (t1 - t0).as_secs_f64(),
        per_sync: (s1.records - s0.records) as f64 / (s1.syncs - s0.syncs).max(1) as f64,
    }
}

struct Latency {
    hist: Histogram<u64>,
    achieved: f64,
    per_sync: f64,
}

/// Open-loop: offer `rate` records/s for `run`, latency from intended send time to observed
/// durability.
fn open_loop(dir: &Path, args: &Args, rate: u64, run: Duration) -> Latency {
    let jdir = dir.join(format!("lat-{rate}"));
    let mut config = JournalConfig::new(&jdir);
    config.segment_bytes = args.segment_mib << 20;
    let journal = Journal::open(config).expect("open journal");
    std::thread::sleep(Duration::from_millis(args.settle_ms));
    let total = rate * (run + WARMUP).as_millis() as u64 / 1000;
    let interval_ns = 1_000_000_000f64 / rate as f64;
    let start = Instant::now() + Duration::from_millis(10);
    let intended = move |i: u64| start + Duration::from_nanos((i as f64 * interval_ns) as u64);
    let warmup_records = rate * WARMUP.as_millis() as u64 / 1000;
    let s0 = journal.stats();

    let observer = {
        let j = journal.clone();
        std::thread::spawn(move || {
            let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("hist");
            let mut next = 1u64;
            while next <= total {
                if j.wait_durable_blocking(next).is_err() {
                    break;
                }
                let now = Instant::now();
                let durable = j.durable_index().min(total);
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
            "{:>6} {:>14} {:>14} {:>7} {:>12}",
            "batch", "raw rec/s", "journal rec/s", "ratio", "rec/fsync"
        );
        for batch in [1usize, 10, 100, 1000] {
            let raw = raw_limit(dir, batch, run);
            let j = journal_throughput(dir, &args, batch, run);
            println!(
                "{:>6} {:>14.0} {:>14.0} {:>6.1}% {:>12.1}",
                batch,
                raw,
                j.rate,
                100.0 * j.rate / raw,
                j.per_sync
            );
        }
    }
    if args.only.as_deref() != Some("tput") {
        println!();
        println!("Open-loop latency, intended send time -> observed durable (microseconds)");
        println!(
            "{:>10} {:>12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}",
            "offered/s", "achieved/s", "p50", "p99", "p99.9", "max", "rec/fsync", "samples"
        );
        let raw = raw_sync_latency(dir, run);
        println!(
            "{:>10} {:>12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}",
            "raw sync",
            "-",
            us(raw.value_at_quantile(0.50)),
            us(raw.value_at_quantile(0.99)),
            us(raw.value_at_quantile(0.999)),
            us(raw.max()),
            "1.0",
            raw.len()
        );
        for rate in [50_000u64, 200_000, 1_000_000] {
            let l = open_loop(dir, &args, rate, run);
            let h = &l.hist;
            println!(
                "{:>10} {:>12.0} {:>9} {:>9} {:>9} {:>9} {:>9.1} {:>10}",
                rate,
                l.achieved,
                us(h.value_at_quantile(0.50)),
                us(h.value_at_quantile(0.99)),
                us(h.value_at_quantile(0.999)),
                us(h.max()),
                l.per_sync,
                h.len()
            );
        }
    }
}

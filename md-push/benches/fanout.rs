//! The issue-6 benchmark: N WebSocket subscribers on loopback to depth and trade streams
//! while orders arrive at a fixed open-loop rate, all in one process. Reports delivered
//! messages per second and the delay from the matcher's event (the instant the node's
//! broadcast hands the command's events to its subscribers, observed by a probe beside
//! md-push's own receiver) to the client's receipt, as hdrhistogram percentiles.
//!
//! `cargo bench -p md-push --bench fanout -- [subscribers] [orders/s] [seconds] [streams]`
//! (defaults: 1000 50000 10 depth@100ms,trade). Every subscriber takes one symbol's streams
//! (round robin over the three symbols) on one combined connection; every 20th subscriber
//! records per-message delays (the others only count), so that recording does not dominate
//! the client side.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_arithmetic)]

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use md_push::MdPushConfig;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// Instants at which the broadcast delivered: per command (keyed by its last event
/// sequence) and per trade id. Both keys increase, so lookups are binary searches.
#[derive(Default)]
struct Probe {
    commands: Vec<(u64, Instant)>,
    trades: Vec<(u64, Instant)>,
}

fn lookup(v: &[(u64, Instant)], key: u64) -> Option<Instant> {
    v.binary_search_by_key(&key, |x| x.0).ok().map(|i| v[i].1)
}

/// The integer after `"<field>":` in a JSON text (no full parse on the client side).
fn field(text: &str, field: &str) -> Option<u64> {
    let pat = format!("\"{field}\":");
    let at = text.find(&pat)? + pat.len();
    let digits: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

struct Recorded {
    depth: Vec<(u64, Instant)>,
    trades: Vec<(u64, Instant)>,
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let subscribers: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let rate: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(50_000);
    let seconds: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(10);
    let kinds = args
        .get(3)
        .cloned()
        .unwrap_or_else(|| "depth@100ms,trade".into());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(subscribers, rate, seconds, kinds));
}

async fn run(subscribers: usize, rate: u64, seconds: u64, kinds: String) {
    let x = Arc::new(Exchange::start(MdPushConfig::default()).await);
    let probe = Arc::new(Mutex::new(Probe::default()));
    {
        let mut rx = x.handle.subscribe();
        let probe = Arc::clone(&probe);
        tokio::spawn(async move {
            loop {
                let batch = match rx.recv().await {
                    Ok(b) => b,
                    // An overloaded runtime can make the probe itself lag: the commands it
                    // missed show up as unmatched samples.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                };
                let now = Instant::now();
                let mut p = probe.lock().unwrap();
                if let Some(last) = batch.events.last() {
                    p.commands.push((last.seq, now));
                }
                for e in &batch.events {
                    if let matcher::EventKind::Trade(t) = &e.kind {
                        p.trades.push((t.trade_id.0, now));
                    }
                }
            }
        });
    }
    // Scheduling probe: a task that sleeps 1 ms at a time and records how late it wakes.
    // Stalls it sees are the runtime's or the machine's, not md-push's.
    let lateness = Arc::new(Mutex::new(
        Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap(),
    ));
    {
        let lateness = Arc::clone(&lateness);
        tokio::spawn(async move {
            loop {
                let due = Instant::now() + Duration::from_millis(1);
                tokio::time::sleep_until(due.into()).await;
                let late = Instant::now().saturating_duration_since(due).as_nanos() as u64;
                lateness.lock().unwrap().record(late.max(1)).unwrap();
            }
        });
    }
    let delivered = Arc::new(AtomicU64::new(0));
    let measuring = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::with_capacity(subscribers);
    for i in 0..subscribers {
        let symbol = SYMBOLS[i % SYMBOLS.len()].1.to_ascii_lowercase();
        let streams: Vec<String> = kinds.split(',').map(|k| format!("{symbol}@{k}")).collect();
        let path = format!("/stream?streams={}", streams.join("/"));
        let mut ws = ws(x.addr(), &path).await;
        let delivered = Arc::clone(&delivered);
        let measuring = Arc::clone(&measuring);
        let record = i % 20 == 0;
        clients.push(tokio::spawn(async move {
            let mut rec = Recorded {
                depth: Vec::new(),
                trades: Vec::new(),
            };
            let mut closed_by_server = false;
            while let Some(m) = ws.next().await {
                match m {
                    Ok(Message::Text(t)) => {
                        let now = Instant::now();
                        delivered.fetch_add(1, Ordering::Relaxed);
                        if measuring.load(Ordering::Relaxed) == 2 {
                            break;
                        }
                        if record && measuring.load(Ordering::Relaxed) == 1 {
                            let t = t.as_str();
                            if t.contains("\"e\":\"trade\"") {
                                if let Some(id) = field(t, "t") {
                                    rec.trades.push((id, now));
                                }
                            } else if let Some(u) = field(t, "u") {
                                rec.depth.push((u, now));
                            }
                        }
                    }
                    Ok(Message::Close(_)) | Err(_) => {
                        closed_by_server = true;
                        break;
                    }
                    Ok(_) => {}
                }
            }
            (rec, closed_by_server)
        }));
    }
    println!("{subscribers} subscribers connected ({kinds}, one symbol each)");
    // Open-loop load: every millisecond, the commands due by then.
    let load = {
        let x = Arc::clone(&x);
        tokio::spawn(async move {
            let mut flow = Flow::new(42);
            let start = tokio::time::Instant::now();
            let total = rate * (seconds + 2);
            let mut sent = 0u64;
            let mut overloaded = 0u64;
            let mut tick = tokio::time::interval(Duration::from_millis(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
            let drain = tokio::spawn(async move {
                let mut failed = 0u64;
                while let Some(rx) = done_rx.recv().await {
                    let rx: tokio::sync::oneshot::Receiver<Result<_, node::NodeError>> = rx;
                    if !matches!(rx.await, Ok(Ok(_))) {
                        failed += 1;
                    }
                }
                failed
            });
            while sent < total {
                tick.tick().await;
                let due = (start.elapsed().as_micros() as u64 * rate / 1_000_000).min(total);
                while sent < due {
                    match x.handle.enqueue(flow.command()) {
                        Ok(rx) => {
                            let _ = done_tx.send(rx);
                        }
                        Err(_) => overloaded += 1,
                    }
                    sent += 1;
                }
            }
            drop(done_tx);
            let failed = drain.await.unwrap();
            (sent, overloaded, failed, start.elapsed())
        })
    };
    // Warm-up, then the measured window.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let m0 = delivered.load(Ordering::Relaxed);
    let cut0 = x.md().metrics().slow_cut;
    let t0 = Instant::now();
    measuring.store(1, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    measuring.store(2, Ordering::Relaxed);
    let window = t0.elapsed();
    let m1 = delivered.load(Ordering::Relaxed);
    let (sent, overloaded, failed, load_time) = load.await.unwrap();
    x.wait_md_caught_up().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let metrics = x.md().metrics();
    let mut depth_h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
    let mut trade_h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
    let probe = std::mem::take(&mut *probe.lock().unwrap());
    let mut cut_clients = 0;
    let mut missing = 0u64;
    for c in clients {
        // Each client stops at its next message after the window (depth diffs come every
        // 100 ms or second).
        let Ok(Ok((rec, closed))) = tokio::time::timeout(Duration::from_secs(5), c).await else {
            continue;
        };
        cut_clients += usize::from(closed);
        for (u, at) in rec.depth {
            match lookup(&probe.commands, u) {
                Some(p) => depth_h
                    .record(at.saturating_duration_since(p).as_nanos() as u64)
                    .unwrap(),
                None => missing += 1,
            }
        }
        for (id, at) in rec.trades {
            match lookup(&probe.trades, id) {
                Some(p) => trade_h
                    .record(at.saturating_duration_since(p).as_nanos() as u64)
                    .unwrap(),
                None => missing += 1,
            }
        }
    }
    let us = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "load: {sent} orders in {:.2} s = {:.0}/s offered (open loop), {overloaded} refused (queue full), {failed} failed",
        load_time.as_secs_f64(),
        sent as f64 / load_time.as_secs_f64()
    );
    println!(
        "matcher output: {} commands, {} trades ({:.0} trades/s)",
        probe.commands.len(),
        probe.trades.len(),
        probe.trades.len() as f64 / load_time.as_secs_f64()
    );
    println!(
        "delivered: {:.0} messages/s to {subscribers} subscribers over {:.1} s (md-push queued {} in total)",
        (m1 - m0) as f64 / window.as_secs_f64(),
        window.as_secs_f64(),
        metrics.messages
    );
    println!(
        "slow consumers cut: {} during the window, {} in all; clients closed by the server: {cut_clients}; unmatched samples: {missing}",
        metrics.slow_cut - cut0,
        metrics.slow_cut
    );
    {
        let l = lateness.lock().unwrap();
        println!(
            "scheduling probe (1 ms sleeps, how late they wake): p50 {:.0} us, p99 {:.0} us, p99.9 {:.0} us, max {:.0} us",
            us(&l, 0.5),
            us(&l, 0.99),
            us(&l, 0.999),
            l.max() as f64 / 1000.0
        );
    }
    for (name, h) in [("trade", &trade_h), ("depth", &depth_h)] {
        println!(
            "{name}: {} samples, event -> receipt p50 {:.0} us, p90 {:.0} us, p99 {:.0} us, p99.9 {:.0} us, max {:.0} us",
            h.len(),
            us(h, 0.5),
            us(h, 0.9),
            us(h, 0.99),
            us(h, 0.999),
            h.max() as f64 / 1000.0
        );
    }
}

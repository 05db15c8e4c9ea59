//! A client that follows Binance's documented local-book procedure (buffer the diff stream,
//! take a REST snapshot, drop what it covers, apply the rest checking `U`/`u`) ends with the
//! matcher's book, level for level, for every symbol: subscribed from the start, subscribed
//! mid-session, and against an md-push started late that caught up from the events journal.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::type_complexity)]

mod common;

use common::*;
use md_push::checksum::book_checksum;
use md_push::MdPushConfig;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

#[derive(Debug, Default)]
struct Book {
    bids: BTreeMap<u64, u64>,
    asks: BTreeMap<u64, u64>,
    last_u: u64,
    applied: u64,
    checksums_checked: u64,
}

impl Book {
    fn set(side: &mut BTreeMap<u64, u64>, levels: &Value) {
        for l in levels.as_array().unwrap() {
            let (p, q) = (ticks(l[0].as_str().unwrap()), lots(l[1].as_str().unwrap()));
            if q == 0 {
                side.remove(&p);
            } else {
                side.insert(p, q);
            }
        }
    }

    fn printed(levels: impl Iterator<Item = (u64, u64)>) -> Vec<(String, String)> {
        let dec = |u: u64| format!("{}.{:08}", u / 100_000_000, u % 100_000_000);
        levels
            .take(10)
            .map(|(p, q)| (dec(p * 1_000_000), dec(q * 1_000)))
            .collect()
    }

    fn checksum(&self) -> u32 {
        let asks = Book::printed(self.asks.iter().map(|(p, q)| (*p, *q)));
        let bids = Book::printed(self.bids.iter().rev().map(|(p, q)| (*p, *q)));
        book_checksum(&asks, &bids)
    }

    /// Step 7 of the procedure: ignore what the book already has, refuse a gap, apply.
    fn apply(&mut self, ev: &Value, stream: &str) {
        let (first, last) = (ev["U"].as_u64().unwrap(), ev["u"].as_u64().unwrap());
        if last <= self.last_u {
            return;
        }
        assert!(
            first <= self.last_u + 1,
            "{stream}: gap: U {first} after local update id {}",
            self.last_u
        );
        Book::set(&mut self.bids, &ev["b"]);
        Book::set(&mut self.asks, &ev["a"]);
        self.last_u = last;
        self.applied += 1;
        if let Some(cs) = ev.get("cs") {
            assert_eq!(
                cs.as_u64().unwrap(),
                u64::from(self.checksum()),
                "{stream}: checksum after u {last}"
            );
            self.checksums_checked += 1;
        }
    }

    fn sides(&self) -> (Vec<(u64, u64)>, Vec<(u64, u64)>) {
        (
            self.bids.iter().rev().map(|(p, q)| (*p, *q)).collect(),
            self.asks.iter().map(|(p, q)| (*p, *q)).collect(),
        )
    }
}

/// Runs the documented procedure on `<symbol>@<stream>` until `stop`, then drains.
async fn follow(
    addr: SocketAddr,
    symbol: &'static str,
    stream: &'static str,
    mut stop: watch::Receiver<bool>,
) -> Book {
    let name = format!("{}@{stream}", symbol.to_ascii_lowercase());
    let mut ws = ws(addr, &format!("/ws/{name}")).await;
    // Steps 1-2: open the stream, buffer, note the first event's U.
    let first = loop {
        tokio::select! {
            ev = next_json(&mut ws, Duration::from_secs(30)) => break ev.expect("first event"),
            _ = stop.changed() => {}
        }
    };
    let mut buffered = vec![first];
    // Steps 3-4: snapshot until it is not older than the first buffered event.
    let (snapshot, last_update_id) = loop {
        let (status, snap) =
            http_get(addr, &format!("/api/v3/depth?symbol={symbol}&limit=5000")).await;
        assert_eq!(status, 200);
        let l = snap["lastUpdateId"].as_u64().unwrap();
        if l >= buffered[0]["U"].as_u64().unwrap() {
            break (snap, l);
        }
        // Keep buffering while waiting for a newer snapshot.
        if let Some(ev) = next_json(&mut ws, Duration::from_millis(200)).await {
            buffered.push(ev);
        }
    };
    let mut book = Book::default();
    Book::set(&mut book.bids, &snapshot["bids"]);
    Book::set(&mut book.asks, &snapshot["asks"]);
    book.last_u = last_update_id;
    // Step 5: drop buffered events the snapshot covers; the first one left must straddle it.
    buffered.retain(|ev| ev["u"].as_u64().unwrap() > last_update_id);
    if let Some(ev) = buffered.first() {
        let (u0, u1) = (ev["U"].as_u64().unwrap(), ev["u"].as_u64().unwrap());
        assert!(
            u0 <= last_update_id + 1 && last_update_id < u1,
            "{name}: first event [{u0};{u1}] vs snapshot {last_update_id}"
        );
    }
    for ev in &buffered {
        book.apply(ev, &name);
    }
    // Steps 6-7: apply the stream.
    loop {
        tokio::select! {
            ev = next_json(&mut ws, Duration::from_secs(60)) => book.apply(&ev.expect("stream ended"), &name),
            _ = stop.changed() => break,
        }
    }
    // Drain what is already on its way.
    while let Some(ev) = next_json(&mut ws, Duration::from_millis(300)).await {
        book.apply(&ev, &name);
    }
    book
}

const STREAMS: [&str; 4] = [
    "depth@100ms",
    "depth",
    "depth@0ms@checksum",
    "depth@100ms@checksum",
];

type Clients = Vec<(&'static str, &'static str, tokio::task::JoinHandle<Book>)>;

fn start_clients(addr: SocketAddr, stop: &watch::Receiver<bool>) -> Clients {
    let mut v = Vec::new();
    for (_, symbol) in SYMBOLS {
        for stream in STREAMS {
            let stop = stop.clone();
            v.push((
                symbol,
                stream,
                tokio::spawn(follow(addr, symbol, stream, stop)),
            ));
        }
    }
    v
}

/// Waits until md-push applied everything, lets the slowest cadence (1 s) pass, stops the
/// clients and compares each book with the matcher's.
async fn check(x: &Exchange, clients: Clients, stop: watch::Sender<bool>) {
    x.wait_md_caught_up().await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    stop.send(true).unwrap();
    for (symbol, stream, task) in clients {
        let book = task.await.unwrap();
        let id = SYMBOLS.iter().find(|(_, n)| *n == symbol).unwrap().0;
        let (bids, asks) = x.engine_book(id).await;
        assert!(
            !bids.is_empty() && !asks.is_empty(),
            "the session leaves both sides of {symbol} non-empty"
        );
        let (got_bids, got_asks) = book.sides();
        assert_eq!(got_bids, bids, "{symbol}@{stream} bids");
        assert_eq!(got_asks, asks, "{symbol}@{stream} asks");
        assert!(book.applied > 0, "{symbol}@{stream} applied no diff");
        if stream.ends_with("@checksum") {
            assert_eq!(book.checksums_checked, book.applied);
        }
        // The REST snapshot agrees as well.
        let (_, snap) = http_get(
            x.addr(),
            &format!("/api/v3/depth?symbol={symbol}&limit=5000"),
        )
        .await;
        let mut rest = Book::default();
        Book::set(&mut rest.bids, &snap["bids"]);
        Book::set(&mut rest.asks, &snap["asks"]);
        assert_eq!(rest.sides(), (bids, asks), "{symbol} REST depth");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribed_from_the_start() {
    let x = Exchange::start(MdPushConfig::default()).await;
    let (stop_tx, stop) = watch::channel(false);
    let clients = start_clients(x.addr(), &stop);
    // The clients wait for their first event; let them connect first.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut flow = Flow::new(7);
    // Spread over about three seconds, so that every cadence (up to 1 s) delivers diffs after
    // the clients' snapshots, however fast the machine runs the commands.
    for _ in 0..12 {
        x.run_flow(&mut flow, 500).await;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    check(&x, clients, stop_tx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribed_mid_session() {
    let x = Arc::new(Exchange::start(MdPushConfig::default()).await);
    let mut flow = Flow::new(11);
    x.run_flow(&mut flow, 3000).await;
    // The session goes on while the clients connect and synchronise.
    let (stop_tx, stop) = watch::channel(false);
    let runner = {
        let x = Arc::clone(&x);
        tokio::spawn(async move {
            // About three seconds: every cadence (up to 1 s) delivers diffs after the
            // clients' snapshots.
            for _ in 0..60 {
                x.run_flow(&mut flow, 60).await;
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let clients = start_clients(x.addr(), &stop);
    runner.await.unwrap();
    check(&x, clients, stop_tx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn md_push_started_late_catches_up_from_the_journal() {
    let mut x = Exchange::node_only().await;
    let mut flow = Flow::new(23);
    x.run_flow(&mut flow, 4000).await;
    x.start_md(MdPushConfig::default()).await;
    x.wait_md_caught_up().await;
    let (stop_tx, stop) = watch::channel(false);
    let clients = start_clients(x.addr(), &stop);
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..60 {
        x.run_flow(&mut flow, 60).await;
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    check(&x, clients, stop_tx).await;
}

/// REST answers wait for the catch-up: asked at once after a start over a long journal,
/// they describe the state the node had when md-push started (no `-1121` for a symbol the
/// journal has not reached yet, no stale book).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_answers_wait_for_the_catch_up() {
    let mut x = Exchange::node_only().await;
    let mut flow = Flow::new(29);
    x.run_flow(&mut flow, 6000).await;
    let last = x.last_event_seq().await;
    x.start_md(MdPushConfig::default()).await;
    let (depth, trades, klines) = tokio::join!(
        http_get(x.addr(), "/api/v3/depth?symbol=BTCUSDT&limit=5"),
        http_get(x.addr(), "/api/v3/trades?symbol=BTCUSDT&limit=5"),
        http_get(
            x.addr(),
            "/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=5"
        ),
    );
    assert!(x.md().applied_seq() >= last);
    assert_eq!(depth.0, 200, "{}", depth.1);
    assert!(
        depth.1["lastUpdateId"].as_u64().unwrap() >= last,
        "stale book: {} < {last}",
        depth.1["lastUpdateId"]
    );
    assert_eq!(trades.0, 200, "{}", trades.1);
    assert_eq!(trades.1.as_array().unwrap().len(), 5, "{}", trades.1);
    assert_eq!(klines.0, 200, "{}", klines.1);
    assert!(!klines.1.as_array().unwrap().is_empty(), "{}", klines.1);
}

/// A REST read that cannot be answered within `rest_wait` (the hub is still catching up)
/// gets HTTP 503 `-1001` instead of hanging; once caught up, the same read is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_reads_during_a_long_catch_up_time_out_cleanly() {
    let mut x = Exchange::node_only().await;
    let mut flow = Flow::new(37);
    x.run_flow(&mut flow, 6000).await;
    x.start_md(MdPushConfig {
        rest_wait: Duration::from_millis(10),
        ..MdPushConfig::default()
    })
    .await;
    let (status, body) = http_get(x.addr(), "/api/v3/depth?symbol=BTCUSDT&limit=5").await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (503, Some(-1001)),
        "{body}"
    );
    // (The catch-up of these 6000 commands takes ~80 ms in a debug build.)
    x.wait_md_caught_up().await;
    // Caught up, the hub answers at once (well within 10 ms, unless the machine stalls: a
    // few tries).
    let mut answered = false;
    for _ in 0..20 {
        let (status, _) = http_get(x.addr(), "/api/v3/depth?symbol=BTCUSDT&limit=5").await;
        if status == 200 {
            answered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(answered, "no answer after the catch-up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_broadcast_is_bridged_from_the_journal() {
    // A broadcast ring of one command: md-push falls behind it again and again and fills
    // every gap from the events journal, while clients keep their books.
    let mut x = Exchange::node_with(1).await;
    x.start_md(MdPushConfig::default()).await;
    let (stop_tx, stop) = watch::channel(false);
    let clients = start_clients(x.addr(), &stop);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut flow = Flow::new(31);
    for _ in 0..40 {
        x.run_flow(&mut flow, 150).await;
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    check(&x, clients, stop_tx).await;
    let gaps = x.md().metrics().broadcast_gaps;
    assert!(gaps > 0, "the broadcast skipped events: {gaps}");
}

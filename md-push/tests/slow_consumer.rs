//! A deliberately slow subscriber is cut off (error message, then close) while a fast one
//! keeps its p99 delivery delay within twice that of a run without the slow one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use futures_util::StreamExt;
use md_push::{MdPushConfig, SLOW_CONSUMER_CODE};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

const QUEUE: usize = 256;

fn config() -> MdPushConfig {
    MdPushConfig {
        subscriber_queue: QUEUE,
        ..MdPushConfig::default()
    }
}

/// When each trade left the matcher (the node's broadcast, in this process).
fn probe(x: &Exchange) -> Arc<Mutex<HashMap<u64, Instant>>> {
    let seen = Arc::new(Mutex::new(HashMap::new()));
    let mut rx = x.handle.subscribe();
    let s = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok(batch) = rx.recv().await {
            let now = Instant::now();
            let mut g = s.lock().unwrap();
            for e in &batch.events {
                if let matcher::EventKind::Trade(t) = &e.kind {
                    g.insert(t.trade_id.0, now);
                }
            }
        }
    });
    seen
}

/// A fast client of every symbol's trade stream: receipt time per trade id.
async fn fast_client(x: &Exchange) -> tokio::task::JoinHandle<HashMap<u64, Instant>> {
    let streams: Vec<String> = SYMBOLS
        .iter()
        .map(|(_, s)| format!("{}@trade", s.to_ascii_lowercase()))
        .collect();
    let mut ws = ws(x.addr(), &format!("/stream?streams={}", streams.join("/"))).await;
    tokio::spawn(async move {
        let mut got = HashMap::new();
        while let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::from_secs(2), ws.next()).await {
            if let Message::Text(t) = m {
                let now = Instant::now();
                let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
                got.insert(v["data"]["t"].as_u64().unwrap(), now);
            }
        }
        got
    })
}

/// A paced session (open loop: 30 chunks of 100 commands, one every 40 ms).
async fn paced_session(x: &Exchange, seed: u64) {
    let mut flow = Flow::new(seed);
    let start = tokio::time::Instant::now();
    for i in 0..30u32 {
        tokio::time::sleep_until(start + Duration::from_millis(40) * i).await;
        x.run_flow(&mut flow, 100).await;
    }
}

fn p99(probe: &HashMap<u64, Instant>, got: &HashMap<u64, Instant>) -> Duration {
    let mut delays: Vec<Duration> = got
        .iter()
        .map(|(id, at)| at.saturating_duration_since(*probe.get(id).expect("probe saw the trade")))
        .collect();
    assert!(
        delays.len() > 500,
        "enough trades to measure: {}",
        delays.len()
    );
    delays.sort();
    delays[delays.len() * 99 / 100]
}

/// One run: (fast client's p99, trades it received, slow-consumer cuts).
async fn run(with_slow: bool) -> (Duration, usize, u64) {
    let mut x = Exchange::node_only().await;
    x.start_md_with(config(), true).await;
    let probe = probe(&x);
    let fast = fast_client(&x).await;
    let slow = if with_slow {
        // The same streams as the fast client, from a client with a tiny receive buffer that
        // stops reading: its queue must overflow.
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let tcp = socket.connect(x.addr()).await.unwrap();
        let streams: Vec<String> = SYMBOLS
            .iter()
            .map(|(_, s)| format!("{}@trade", s.to_ascii_lowercase()))
            .collect();
        let url = format!("ws://{}/stream?streams={}", x.addr(), streams.join("/"));
        let (ws, _) = tokio_tungstenite::client_async(url, tcp).await.unwrap();
        Some(ws)
    } else {
        None
    };
    paced_session(&x, 99).await;
    x.wait_md_caught_up().await;
    let cuts = x.md().metrics().slow_cut;
    if let Some(mut slow) = slow {
        assert!(cuts >= 1, "the slow subscriber was cut off");
        // Reading now, it finds what was queued, then the error message and the close.
        let mut error = None;
        let mut closed = None;
        while let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(5), slow.next()).await {
            match m {
                Ok(Message::Text(t)) => {
                    let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
                    if v.get("error").is_some() {
                        error = Some(v);
                    }
                }
                Ok(Message::Close(f)) => {
                    closed = f.map(|f| u16::from(f.code));
                    break;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        let error = error.expect("slow-consumer error message");
        assert_eq!(error["error"]["code"].as_i64(), Some(SLOW_CONSUMER_CODE));
        assert_eq!(closed, Some(1008));
    }
    let got = fast.await.unwrap();
    let probe = probe.lock().unwrap().clone();
    let p = p99(&probe, &got);
    // The fast client lost nothing.
    assert_eq!(got.len(), probe.len(), "fast client received every trade");
    (p, got.len(), cuts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_subscriber_is_cut_and_fast_one_keeps_its_latency() {
    // Three alternating pairs of runs, compared by their medians: this machine is shared
    // with other builds, and single runs of the same configuration differ by up to 2x.
    let mut alone = Vec::new();
    let mut with_slow = Vec::new();
    for _ in 0..3 {
        let (p, _, cuts) = run(false).await;
        assert_eq!(cuts, 0);
        alone.push(p);
        let (p, _, cuts) = run(true).await;
        assert!(cuts >= 1);
        with_slow.push(p);
    }
    alone.sort();
    with_slow.sort();
    eprintln!("fast client's p99: alone {alone:?}, with a slow subscriber {with_slow:?}");
    // Sub-millisecond p99s jitter by more than 2x: the bound is taken against at least 1 ms.
    let bound = 2 * alone[1].max(Duration::from_millis(1));
    assert!(
        with_slow[1] <= bound,
        "median p99 with a slow subscriber {:?} > 2 x {:?}",
        with_slow[1],
        alone[1]
    );
}

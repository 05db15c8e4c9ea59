//! The demo traders against the in-test fake exchange: what the report counts equals what
//! the exchange saw and sent.
#![allow(clippy::unwrap_used)]

mod common;

use bench::demo::{run, run_with_stats, DemoConfig, DemoError, ErrorKind, Stats, TraderKey};
use bench::flow::SymbolSpec;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

fn keys(n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| (format!("key{i:061}"), format!("secret{i:058}")))
        .collect()
}

fn traders(keys: &[(String, String)]) -> Vec<TraderKey> {
    keys.iter()
        .enumerate()
        .map(|(i, (k, s))| TraderKey {
            account: i as u64 + 1,
            api_key: k.clone(),
            secret: s.clone(),
        })
        .collect()
}

fn symbols() -> Vec<SymbolSpec> {
    vec![
        SymbolSpec::new(
            "BTCUSDT", "0.01", "0.00001", "50000.00", "0.00020", "0.01000",
        ),
        SymbolSpec::new("ETHUSDT", "0.01", "0.0001", "3000.00", "0.0050", "0.5000"),
    ]
}

const ORDER_METHODS: &[&str] = &["order.place", "order.cancel", "order.cancelReplace"];

fn count(log: &[(String, serde_json::Map<String, Value>)], method: &str) -> usize {
    log.iter().filter(|(m, _)| m == method).count()
}

async fn run_for(config: DemoConfig, ms: u64) -> bench::demo::DemoReport {
    run(config, tokio::time::sleep(Duration::from_millis(ms)))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_matches_what_the_exchange_saw() {
    let keys = keys(4);
    let pairs: Vec<(&str, &str)> = keys.iter().map(|(k, s)| (k.as_str(), s.as_str())).collect();
    let fake = common::start(&pairs).await;
    let mut symbols = symbols();
    symbols.push(SymbolSpec::new(
        common::REJECTED_SYMBOL,
        "0.01",
        "1",
        "10.00",
        "1",
        "5",
    ));
    let rate = 400;
    let config = DemoConfig::new(&fake.url, traders(&keys), rate, symbols);
    assert_eq!(config.takers, 1);
    let report = run_for(config, 1_500).await;
    println!("{report}");

    let log = fake.stats.log.lock().unwrap().clone();
    let seen: usize = ORDER_METHODS.iter().map(|m| count(&log, m)).sum();
    // Every request sent arrived, and every one was answered before the report.
    assert_eq!(report.sent, seen as u64);
    assert_eq!(report.responses, report.sent);
    assert_eq!(report.latency.count, report.responses);
    assert_eq!(report.disconnected, 0);
    // Trades are the fills the exchange sent, each counted once.
    assert_eq!(
        report.trades,
        fake.stats.fills.load(std::sync::atomic::Ordering::Relaxed)
    );
    assert!(report.trades > 0);
    // Errors by code are the error responses the exchange sent (and only -1121 here).
    let fake_errors: BTreeMap<ErrorKind, u64> = fake
        .stats
        .errors()
        .into_iter()
        .map(|(c, n)| (ErrorKind::Api(c), n))
        .collect();
    assert_eq!(report.errors, fake_errors);
    assert!(
        report
            .errors
            .get(&ErrorKind::Api(-1121))
            .copied()
            .unwrap_or(0)
            > 0
    );
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    // Open loop: never more than the schedule allows, and not far below it.
    let elapsed_ms = report.elapsed.as_millis() as u64;
    assert!(report.sent <= rate * elapsed_ms / 1_000 + 4, "{report}");
    assert!(report.sent >= rate * elapsed_ms / 1_000 / 2, "{report}");
    // Every connection logged on; makers subscribed to their execution reports; after
    // logon no request carries a signature.
    assert_eq!(count(&log, "session.logon"), 4);
    assert_eq!(count(&log, "userDataStream.subscribe"), 3);
    for (m, p) in &log {
        if ORDER_METHODS.contains(&m.as_str()) {
            assert!(!p.contains_key("signature"), "{m} {p:?}");
        }
    }
    // The flow's kinds all appear: passive GTC, marketable IOC, MARKET, cancels, moves.
    let places: Vec<_> = log
        .iter()
        .filter(|(m, _)| m == "order.place")
        .map(|(_, p)| p)
        .collect();
    let tif = |t: &str| {
        places
            .iter()
            .filter(|p| p.get("timeInForce").and_then(Value::as_str) == Some(t))
            .count()
    };
    assert!(tif("GTC") > 0 && tif("IOC") > 0);
    assert!(places.iter().any(|p| p["type"] == "MARKET"));
    assert!(count(&log, "order.cancel") > 0 && count(&log, "order.cancelReplace") > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_logon_every_request_is_signed_and_verifies() {
    let keys = keys(2);
    let pairs: Vec<(&str, &str)> = keys.iter().map(|(k, s)| (k.as_str(), s.as_str())).collect();
    let fake = common::start(&pairs).await;
    let config = DemoConfig {
        logon: false,
        ..DemoConfig::new(&fake.url, traders(&keys), 200, symbols())
    };
    let stats = Arc::new(Stats::new());
    let report = run_with_stats(
        config,
        Arc::clone(&stats),
        tokio::time::sleep(Duration::from_millis(800)),
    )
    .await
    .unwrap();
    assert!(report.sent > 0);
    // The fake verified every signature: no -1022, no errors at all.
    assert!(report.errors.is_empty(), "{report}");
    assert_eq!(fake.stats.errors().len(), 0);
    let log = fake.stats.log.lock().unwrap().clone();
    assert_eq!(count(&log, "session.logon"), 0);
    assert!(log.iter().all(|(_, p)| p.contains_key("signature")));
    assert_eq!(stats.sent(), report.sent);
    let line = stats.summary_line();
    assert!(
        line.starts_with("orders/s ") && line.ends_with("errors 0"),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_or_no_server_fails_before_trading() {
    let keys = keys(2);
    let fake = common::start(&[(keys[0].0.as_str(), keys[0].1.as_str())]).await;
    // Trader 1's key is unknown to the exchange: logon fails with -2015.
    let config = DemoConfig::new(&fake.url, traders(&keys), 100, symbols());
    match run(config, std::future::ready(())).await {
        Err(DemoError::Trader {
            index: 1,
            account: 2,
            source,
        }) => {
            assert_eq!(source.api_code(), Some(-2015))
        }
        other => panic!("{other:?}"),
    }
    let log = fake.stats.log.lock().unwrap().clone();
    assert!(ORDER_METHODS.iter().all(|m| count(&log, m) == 0));

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/ws-api/v3", listener.local_addr().unwrap());
    drop(listener);
    let config = DemoConfig::new(url, traders(&keys), 100, symbols());
    assert!(matches!(
        run(config, std::future::ready(())).await,
        Err(DemoError::Trader { index: 0, .. })
    ));
    let config = DemoConfig::new(&fake.url, vec![], 100, symbols());
    assert!(matches!(
        run(config, std::future::ready(())).await,
        Err(DemoError::NoTraders)
    ));
    let config = DemoConfig::new(&fake.url, traders(&keys[..1]), 0, symbols());
    assert!(matches!(
        run(config, std::future::ready(())).await,
        Err(DemoError::ZeroRate)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traders_end_when_the_exchange_goes_away() {
    let keys = keys(2);
    let pairs: Vec<(&str, &str)> = keys.iter().map(|(k, s)| (k.as_str(), s.as_str())).collect();
    let fake = common::start(&pairs).await;
    let config = DemoConfig::new(&fake.url, traders(&keys), 200, symbols());
    // The shutdown never fires: the run ends because every connection closed.
    let handle = tokio::spawn(run(config, std::future::pending()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!handle.is_finished());
    fake.close_all();
    let report = tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(report.disconnected, 2, "{report}");
    assert!(report.sent > 0);
    // Every request sent was answered or failed as closed (those in flight when the
    // connection closed; a trader sees the close as it reads and sends nothing after it).
    let closed = report.errors.get(&ErrorKind::Closed).copied().unwrap_or(0);
    assert_eq!(report.errors.len(), usize::from(closed > 0), "{report}");
    assert!(report.responses <= report.sent, "{report}");
    assert!(report.sent <= report.responses + closed, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_warm_up_is_sent_but_not_counted() {
    let keys = keys(2);
    let pairs: Vec<(&str, &str)> = keys.iter().map(|(k, s)| (k.as_str(), s.as_str())).collect();
    let fake = common::start(&pairs).await;
    let rate = 400;
    let config = DemoConfig {
        warmup: Duration::from_millis(500),
        user_data: false,
        exec_reports: true,
        ..DemoConfig::new(&fake.url, traders(&keys), rate, symbols())
    };
    let report = run_for(config, 1_500).await;
    let log = fake.stats.log.lock().unwrap().clone();
    let seen = ORDER_METHODS.iter().map(|m| count(&log, m)).sum::<usize>() as u64;
    // The report covers the second after the warm-up: about 400 of the about 600 sent.
    let elapsed_ms = report.elapsed.as_millis() as u64;
    assert!((950..=1_100).contains(&elapsed_ms), "{report}");
    assert!(report.sent < seen, "{report} vs {seen} seen");
    assert!(report.sent <= rate * elapsed_ms / 1_000 + 2, "{report}");
    assert!(report.sent >= rate * elapsed_ms / 1_000 / 2, "{report}");
    assert!(
        seen - report.sent >= rate / 2 / 2,
        "{report} vs {seen} seen"
    );
    assert_eq!(report.responses, report.sent);
    assert_eq!(report.latency.count, report.sent);
    assert_eq!(report.send_lag.count, report.sent);
    // Not overloaded: about as many answers arrive in the window as requests are due in it.
    assert!(
        report.answered_in_window.abs_diff(report.sent) <= 20,
        "{} answered in the window, {} sent",
        report.answered_in_window,
        report.sent
    );
    // No user data stream: no execution report measured, none subscribed.
    assert_eq!(report.exec_report_latency.count, 0);
    assert_eq!(count(&log, "userDataStream.subscribe"), 0);
}

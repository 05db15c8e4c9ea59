//! The `bench` binary end to end: a 5-second run against a real node and gateway
//! (in-process here, durable journal in a temp dir), the echo limit against its own echo
//! server process, and refusals of bad options. This is the CI smoke test.
#![allow(clippy::unwrap_used)]

use gateway::server::GatewayConfig;
use serde_json::Value;
use std::process::{Command, Output};

const ACCOUNTS: [u64; 4] = [1001, 1002, 1003, 1004];

async fn bench(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_bench"))
            .args(args)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Every counted request was answered, nothing failed, and the numbers agree.
fn check_consistent(v: &Value, min_rate: u64) {
    let sent = v["sent"].as_u64().unwrap();
    assert!(sent > 0, "{v}");
    assert_eq!(v["responses"].as_u64().unwrap(), sent, "{v}");
    assert_eq!(v["failures"], 0, "{v}");
    assert_eq!(v["disconnected"], 0, "{v}");
    let ack = &v["ack_latency_us"];
    assert_eq!(ack["count"].as_u64().unwrap(), sent, "{v}");
    let p = |name: &str| ack[name].as_u64().unwrap();
    assert!(
        p("p50") > 0 && p("p50") <= p("p90") && p("p90") <= p("p99"),
        "{v}"
    );
    assert!(p("p99") <= p("p99_9") && p("p99_9") <= p("p99_99") && p("p99_99") <= p("max"));
    assert!(v["achieved_rate"].as_u64().unwrap() >= min_rate, "{v}");
    // The client's own CPU time is always measured over the window.
    assert!(v["cpu"]["client_us"].is_u64(), "{v}");
    assert!(v["cpu_ns_per_response"]["client"].is_u64(), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_seconds_against_a_real_node() {
    let config = GatewayConfig {
        request_weight_per_minute: 1_000_000,
        orders_per_10s: 1_000_000,
        ..GatewayConfig::default()
    };
    let ex = gateway::testing::TestExchange::start(config, &ACCOUNTS)
        .await
        .unwrap();
    let mut keys = String::new();
    for k in &ex.keys {
        keys.push_str(&format!(
            "account {}\napiKey    {}\nsecretKey {}\n",
            k.account, k.api_key, k.secret
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let keys_file = dir.path().join("keys.txt");
    std::fs::write(&keys_file, keys).unwrap();
    let out = bench(args(&[
        "run",
        "--url",
        &ex.url(),
        "--keys-file",
        keys_file.to_str().unwrap(),
        "--connections",
        "4",
        "--rate",
        "1000",
        "--duration",
        "5",
        "--warmup",
        "1",
        "--exec-reports",
        "--fail-on-errors",
        "--json",
        "--quiet",
    ]))
    .await;
    let v = json_of(&out);
    check_consistent(&v, 900);
    // A node given by --url is not this run's child: its CPU time is not measured.
    assert!(v["cpu_ns_per_response"]["server"].is_null(), "{v}");
    assert_eq!(v["settings"]["target"], "exchange");
    assert_eq!(v["settings"]["accounts"], 4);
    assert_eq!(v["settings"]["mix"], "exchange-core");
    // About 5 s of 1,000/s after the warm-up.
    let sent = v["sent"].as_u64().unwrap();
    assert!((4_500..=5_500).contains(&sent), "{v}");
    // Every new order (91% of the mix) reported an execution report.
    let exec = v["exec_report_latency_us"]["count"].as_u64().unwrap();
    assert!(exec > sent / 2, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_echo_limit_runs_against_its_own_server() {
    let out = bench(args(&[
        "limit",
        "--connections",
        "2",
        "--rate",
        "2000",
        "--duration",
        "2",
        "--warmup",
        "1",
        "--json",
        "--quiet",
    ]))
    .await;
    let v = json_of(&out);
    check_consistent(&v, 1_800);
    assert_eq!(v["settings"]["target"], "echo");
    // The bench started the echo server, so its CPU time is in the report.
    assert!(v["cpu_ns_per_response"]["server"].is_u64(), "{v}");
    // The echo's answers read as resting orders: the flow goes on moving and cancelling.
    assert_eq!(v["errors"], serde_json::json!({}), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_options_are_refused() {
    for bad in [
        args(&["run", "--url", "ws://127.0.0.1:1/ws-api/v3"]),
        args(&["run", "--connections", "2", "--accounts", "3"]),
        args(&["run", "--mix", "buy=1"]),
        args(&["run", "--symbols", "DOGEUSDT"]),
        args(&[
            "run",
            "--exchange-bin",
            "/nonexistent/exchange",
            "--duration",
            "1",
        ]),
    ] {
        let out = bench(bad.clone()).await;
        assert!(!out.status.success(), "{bad:?}");
        assert!(!out.stderr.is_empty(), "{bad:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overloaded_run_reports_what_arrived() {
    // Far more than can be served: the generator never catches up with the warm-up's
    // schedule, so no request due after it is even sent, yet answers arrive all along.
    let out = bench(args(&[
        "limit",
        "--connections",
        "2",
        "--rate",
        "50000000",
        "--duration",
        "2",
        "--warmup",
        "1",
        "--json",
        "--quiet",
    ]))
    .await;
    let v = json_of(&out);
    assert!(v["achieved_rate"].as_u64().unwrap() >= 1_000, "{v}");
    assert!(v["sent"].as_u64().unwrap() < 2 * 50_000_000 / 100, "{v}");
    assert_eq!(v["failures"], 0, "{v}");
}

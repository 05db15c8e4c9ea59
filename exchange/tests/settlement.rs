//! Settlement inside a real `exchange run` with the embedded Postgres: trades reach Postgres,
//! `GET /api/v3/myTrades` serves them signed, `exchange reconcile` is clean and then names a
//! tampered balance, `exchange clearing trades` prints them, and `exchange settlement` as a
//! separate process settles the same journal into another database identically.
#![allow(clippy::unwrap_used)]

use bench::client::{Client, ClientConfig};
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod common;

use common::{create_key, free_port, http_get, EXE};

fn exchange(args: &[&str], data: &Path) -> Output {
    Command::new(EXE)
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn signed(query: &str, secret: &str) -> String {
    format!(
        "{query}&signature={}",
        gateway::auth::sign(secret.as_bytes(), query)
    )
}

#[test]
fn settlement_runs_inside_the_exchange_and_clearing_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    // The embedded cluster runs as the postgres user when we are root: it must reach the dir.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let config = dir.path().join("exchange.toml");
    let mut text = format!(
        "data_dir = \"{}\"\nlisten = \"127.0.0.1:{port}\"\n[gateway]\norders_per_10s = 1000000\nrequest_weight_per_minute = 10000000\n",
        data.display()
    );
    for a in [1001, 1002] {
        text.push_str(&format!(
            "[[deposits]]\naccount = {a}\nasset = \"BTC\"\namount = \"100\"\n[[deposits]]\naccount = {a}\nasset = \"USDT\"\namount = \"10000000\"\n"
        ));
    }
    std::fs::write(&config, text).unwrap();
    let keys = [create_key(&data, 1001), create_key(&data, 1002)];
    let log = std::fs::File::create(dir.path().join("exchange.log")).unwrap();
    let mut child = Command::new(EXE)
        .args(["run", "--config"])
        .arg(&config)
        .env_remove("DATABASE_URL")
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let my_trades = rt.block_on(async {
        let url = format!("ws://127.0.0.1:{port}/ws-api/v3");
        let mut clients = Vec::new();
        for k in &keys {
            let deadline = Instant::now() + Duration::from_secs(30);
            let client = loop {
                let c = ClientConfig { credentials: Some(k.clone()), ..ClientConfig::default() };
                match Client::connect_with(&url, c).await {
                    Ok(c) => break c,
                    Err(e) if Instant::now() < deadline => {
                        let _ = e;
                        tokio::time::sleep(Duration::from_millis(50)).await
                    }
                    Err(e) => panic!("cannot connect: {e}"),
                }
            };
            clients.push(client);
        }
        // 1001 rests asks, 1002 lifts them: 40 trades.
        for n in 0..40 {
            for (i, side) in [(0, "SELL"), (1, "BUY")] {
                let p = json!({"symbol": "BTCUSDT", "side": side, "type": "LIMIT", "timeInForce": "GTC",
                    "price": format!("{}.00", 30_000 + n % 5), "quantity": "0.01000",
                    "newClientOrderId": format!("s{n}{side}")});
                clients[i].signed_request("order.place", p.as_object().unwrap().clone()).await.unwrap();
            }
        }
        // Settlement is asynchronous: wait for the 40 trades to reach Postgres.
        let query = |extra: &str| format!("symbol=BTCUSDT&limit=1000{extra}&timestamp={}", now_ms());
        let deadline = Instant::now() + Duration::from_secs(30);
        let trades = loop {
            let (status, body) = http_get(port, &format!("/api/v3/myTrades?{}", signed(&query(""), keys[0].secret())), &keys[0].api_key).await;
            assert_eq!(status, 200, "{body}");
            let v: Value = serde_json::from_str(&body).unwrap();
            if v.as_array().unwrap().len() == 40 || Instant::now() > deadline {
                break v;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        // A bad signature, an unknown key, a missing symbol, an unknown symbol.
        let (status, body) = http_get(port, &format!("/api/v3/myTrades?{}&signature={}", query(""), "00".repeat(32)), &keys[0].api_key).await;
        assert_eq!((status, serde_json::from_str::<Value>(&body).unwrap()["code"].as_i64()), (400, Some(-1022)), "{body}");
        let (status, body) = http_get(port, &format!("/api/v3/myTrades?{}", signed(&query(""), keys[0].secret())), "nokey").await;
        assert_eq!((status, serde_json::from_str::<Value>(&body).unwrap()["code"].as_i64()), (401, Some(-2015)), "{body}");
        let q = format!("limit=10&timestamp={}", now_ms());
        let (_, body) = http_get(port, &format!("/api/v3/myTrades?{}", signed(&q, keys[0].secret())), &keys[0].api_key).await;
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["code"].as_i64(), Some(-1102), "{body}");
        let q = format!("symbol=NOPE&timestamp={}", now_ms());
        let (_, body) = http_get(port, &format!("/api/v3/myTrades?{}", signed(&q, keys[0].secret())), &keys[0].api_key).await;
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["code"].as_i64(), Some(-1121), "{body}");
        // The newest 5, from an id on.
        let (_, body) = http_get(port, &format!("/api/v3/myTrades?{}", signed(&query("&limit=5").replace("limit=1000&", ""), keys[0].secret())), &keys[0].api_key).await;
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap().as_array().unwrap().len(), 5, "{body}");
        let (_, metrics) = http_get(port, "/metrics/settlement", "").await;
        assert!(metrics.contains("settlement_lag_events"), "{metrics}");
        trades
    });
    let trades = my_trades.as_array().unwrap();
    assert_eq!(trades.len(), 40, "{my_trades}");
    let t = &trades[0];
    assert_eq!(t["symbol"], "BTCUSDT");
    assert_eq!(t["qty"], "0.01000000");
    assert_eq!(t["isBuyer"], false);
    assert_eq!(t["isMaker"], true);
    assert_eq!(t["commissionAsset"], "USDT");
    assert_eq!(t["orderListId"], -1);
    assert!(t["price"].as_str().unwrap().starts_with("3000"));

    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    assert!(child.wait().unwrap().success());
    let log = std::fs::read_to_string(dir.path().join("exchange.log")).unwrap();
    assert!(log.contains("settlement: settled up to event"), "{log}");

    // The operator commands against the (now stopped) embedded cluster.
    let out = exchange(&["reconcile"], &data);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("clean") && text.contains("postgres 40 matcher 40"),
        "{text}"
    );

    let out = exchange(
        &["clearing", "trades", "--account", "1002", "--json"],
        &data,
    );
    assert!(out.status.success(), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 40);
    assert!(v.as_array().unwrap().iter().all(|t| t["isBuyer"] == true));
    let out = exchange(
        &[
            "clearing",
            "trades",
            "--account",
            "1001",
            "--from",
            "0",
            "--to",
            &now_ms().to_string(),
        ],
        &data,
    );
    let csv = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(csv.lines().count(), 41, "{csv}");
    assert!(csv.lines().nth(1).unwrap().contains(",BTCUSDT,"), "{csv}");

    // Tamper with a balance: reconcile names it and fails.
    let cluster = pgcluster::Cluster::start(data.join("pg")).unwrap();
    cluster
        .psql("exchange", "UPDATE balances SET frozen = frozen + 5 WHERE account = 1002 AND asset = (SELECT asset_id FROM assets WHERE code = 'USDT')")
        .unwrap();
    let usdt = cluster
        .psql(
            "exchange",
            "SELECT asset_id FROM assets WHERE code = 'USDT'",
        )
        .unwrap();
    let out = exchange(&["reconcile"], &data);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains(&format!("DIFFERENCE account 1002 asset {}", usdt.trim())),
        "{text}"
    );
    assert!(text.contains("1 balance difference(s)"), "{text}");

    // `exchange settlement` as a process of its own, into a fresh database.
    cluster.psql("postgres", "CREATE DATABASE again").unwrap();
    let mut follower = Command::new(EXE)
        .args(["settlement", "--data-dir"])
        .arg(&data)
        .args(["--database-url", &cluster.connection_string("again")])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let want = cluster
        .psql("exchange", "SELECT last_seq FROM consumer_offsets")
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while cluster
        .psql("again", "SELECT last_seq FROM consumer_offsets")
        .unwrap_or_default()
        != want
    {
        assert!(
            Instant::now() < deadline,
            "the separate settlement process did not catch up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(Command::new("kill")
        .args(["-TERM", &follower.id().to_string()])
        .status()
        .unwrap()
        .success());
    assert!(follower.wait().unwrap().success());
    let digest = |db: &str| {
        cluster
            .psql(
                db,
                "SELECT md5(string_agg(t::text, '|' ORDER BY trade_id)) FROM trades t",
            )
            .unwrap()
    };
    assert_eq!(digest("again"), digest("exchange"));
}

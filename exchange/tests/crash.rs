//! Crash safety of a real `exchange run` process: clients send orders and record every
//! acknowledgement; the server is killed with SIGKILL at a random moment and restarted;
//! every acknowledged order must be there with the same state (or one its later trades
//! explain), funds must be conserved, and at the end an offline replay of the commands
//! journal must give the state hash the live node reported.
#![allow(clippy::unwrap_used)]

use bench::client::{Client, ClientConfig, ClientError, Credentials};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{create_key, free_port, http_get, EXE};
const ACCOUNTS: [u64; 2] = [1001, 1002];
/// Each account's genesis deposits, whole units.
const BTC: u128 = 1_000;
const USDT: u128 = 100_000_000;

fn write_config(dir: &Path, port: u16) -> std::path::PathBuf {
    let mut text = format!(
        "data_dir = \"{}\"\nlisten = \"127.0.0.1:{port}\"\n\
         [engine]\nmax_open_orders_per_account = 1000000\n[node]\nsnapshot_every = 250\n\
         [gateway]\norders_per_10s = 10000000\norders_per_day = 100000000\nrequest_weight_per_minute = 100000000\n",
        dir.join("data").display()
    );
    for a in ACCOUNTS {
        text.push_str(&format!(
            "[[deposits]]\naccount = {a}\nasset = \"BTC\"\namount = \"{BTC}\"\n\
             [[deposits]]\naccount = {a}\nasset = \"USDT\"\namount = \"{USDT}\"\n"
        ));
    }
    let path = dir.join("exchange.toml");
    std::fs::write(&path, text).unwrap();
    path
}

use common::KillOnDrop as Server;

fn start(config: &Path, log: &Path) -> Server {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(EXE)
        .arg("run")
        .arg("--config")
        .arg(config)
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .map(Server)
        .unwrap()
}

async fn connect(port: u16, credentials: &Credentials) -> Client {
    let url = format!("ws://127.0.0.1:{port}/ws-api/v3");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let config = ClientConfig {
            credentials: Some(credentials.clone()),
            max_in_flight: 64,
            ..ClientConfig::default()
        };
        match Client::connect_with(&url, config).await {
            Ok(c) => return c,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("cannot connect: {e}"),
        }
    }
}

/// An acknowledged order as its acknowledgement described it.
#[derive(Clone, Debug)]
struct Acked {
    account: u64,
    client_order_id: String,
    status: String,
    executed_qty: String,
}

fn params(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

/// Sends orders from one account until the connection dies; returns what was acknowledged.
async fn trade(client: Client, account: u64, round: usize, rng_seed: u64) -> Vec<(u64, Acked)> {
    let mut acked = Vec::new();
    let mut pending = std::collections::VecDeque::new();
    let mut x = rng_seed | 1;
    for n in 0u64.. {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let side = if (x >> 3).is_multiple_of(2) {
            "BUY"
        } else {
            "SELL"
        };
        let price = format!("{}.00", 30_000 + (x >> 8) % 20);
        let qty = format!("0.{:05}", 20 + (x >> 16) % 200);
        let coid = format!("r{round}a{account}n{n}");
        let p = params(json!({
            "symbol": "BTCUSDT", "side": side, "type": "LIMIT", "timeInForce": "GTC",
            "price": price, "quantity": qty, "newClientOrderId": coid, "newOrderRespType": "RESULT",
        }));
        match client.start_signed("order.place", p).await {
            Ok(p) => pending.push_back((coid, p)),
            Err(_) => break,
        }
        if pending.len() >= 32 {
            let (coid, p) = pending.pop_front().unwrap();
            match p.wait().await {
                Ok(r) => acked.push((
                    r["orderId"].as_u64().unwrap(),
                    Acked {
                        account,
                        client_order_id: coid,
                        status: r["status"].as_str().unwrap().to_string(),
                        executed_qty: r["executedQty"].as_str().unwrap().to_string(),
                    },
                )),
                Err(ClientError::Api { code, msg, .. }) => panic!("order refused: {code} {msg}"),
                Err(_) => break,
            }
        }
    }
    // Responses that were already received count; the rest were never acknowledged.
    for (coid, p) in pending {
        if let Ok(Ok(r)) = tokio::time::timeout(Duration::from_millis(10), p.wait()).await {
            acked.push((
                r["orderId"].as_u64().unwrap(),
                Acked {
                    account,
                    client_order_id: coid,
                    status: r["status"].as_str().unwrap().to_string(),
                    executed_qty: r["executedQty"].as_str().unwrap().to_string(),
                },
            ));
        }
    }
    acked
}

fn dec(s: &str) -> u128 {
    gateway::units::parse_units("x", s, 8).unwrap()
}

async fn check(port: u16, keys: &BTreeMap<u64, Credentials>, acked: &BTreeMap<u64, Acked>) {
    let mut clients = BTreeMap::new();
    for (&a, c) in keys {
        clients.insert(a, connect(port, c).await);
    }
    let all: Vec<(u64, Acked)> = acked.iter().map(|(k, v)| (*k, v.clone())).collect();
    for chunk in all.chunks(64) {
        let mut pending = Vec::new();
        for (order_id, a) in chunk {
            let p = params(json!({"symbol": "BTCUSDT", "orderId": order_id}));
            pending.push((
                *order_id,
                a,
                clients[&a.account]
                    .start_signed("order.status", p)
                    .await
                    .unwrap(),
            ));
        }
        for (order_id, a, p) in pending {
            let r = p
                .wait()
                .await
                .unwrap_or_else(|e| panic!("acknowledged order {order_id} ({a:?}) lost: {e}"));
            assert_eq!(r["clientOrderId"], a.client_order_id.as_str(), "{r}");
            let final_status = matches!(a.status.as_str(), "FILLED" | "CANCELED" | "EXPIRED");
            if final_status {
                assert_eq!(r["status"], a.status.as_str(), "order {order_id}: {r}");
                assert_eq!(
                    r["executedQty"],
                    a.executed_qty.as_str(),
                    "order {order_id}: {r}"
                );
            } else {
                // Later trades may have filled it further, never less.
                assert!(
                    dec(r["executedQty"].as_str().unwrap()) >= dec(&a.executed_qty),
                    "order {order_id} went backwards: acked {a:?}, now {r}"
                );
            }
        }
    }
    // Funds conserved: everything deposited is still held by the traders and the fee account.
    let mut totals: BTreeMap<String, u128> = BTreeMap::new();
    for c in clients.values() {
        let r = c
            .signed_request("account.status", Map::new())
            .await
            .unwrap();
        for b in r["balances"].as_array().unwrap() {
            let t = dec(b["free"].as_str().unwrap()) + dec(b["locked"].as_str().unwrap());
            *totals
                .entry(b["asset"].as_str().unwrap().to_string())
                .or_default() += t;
        }
    }
    let n = ACCOUNTS.len() as u128;
    assert_eq!(totals["BTC"], n * BTC * 100_000_000, "{totals:?}");
    assert_eq!(totals["USDT"], n * USDT * 100_000_000, "{totals:?}");
}

#[test]
fn acknowledged_orders_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(dir.path(), port);
    let log = dir.path().join("exchange.log");
    let mut keys: BTreeMap<u64, Credentials> = BTreeMap::new();
    for a in ACCOUNTS.into_iter().chain([1]) {
        keys.insert(a, create_key(&dir.path().join("data"), a));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut acked: BTreeMap<u64, Acked> = BTreeMap::new();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    println!("seed {seed}");
    for round in 0..4 {
        let mut child = start(&config, &log);
        rt.block_on(async {
            check(port, &keys, &acked).await;
            let mut tasks = Vec::new();
            for a in ACCOUNTS {
                let client = connect(port, &keys[&a]).await;
                tasks.push(tokio::spawn(trade(
                    client,
                    a,
                    round,
                    seed ^ (a << 20) ^ round as u64,
                )));
            }
            // Kill at a random moment.
            let wait = 300 + (seed >> (round * 8)) % 1200;
            tokio::time::sleep(Duration::from_millis(wait)).await;
            child.0.kill().unwrap();
            child.0.wait().unwrap();
            let mut n = 0;
            for t in tasks {
                for (id, a) in t.await.unwrap() {
                    acked.insert(id, a);
                    n += 1;
                }
            }
            println!("round {round}: killed after {wait} ms, {n} orders acknowledged");
            assert!(n > 0, "no order was acknowledged in round {round}");
        });
    }
    // A last restart: everything checked, then a graceful stop and the offline replay.
    let mut child = start(&config, &log);
    let live_hash = rt.block_on(async {
        check(port, &keys, &acked).await;
        let (status, body) = http_get(port, "/admin/state", "").await;
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        v["stateHash"].as_str().unwrap().to_string()
    });
    let pid = child.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = child.0.wait().unwrap();
    assert!(status.success(), "SIGTERM did not stop cleanly: {status:?}");
    let out = Command::new(EXE)
        .args(["replay", "--data-dir"])
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "replay: {text}");
    assert!(
        text.contains(&live_hash),
        "replay hash differs from the live {live_hash}: {text}"
    );
    println!(
        "{} acknowledged orders checked; replay hash {live_hash}",
        acked.len()
    );
}

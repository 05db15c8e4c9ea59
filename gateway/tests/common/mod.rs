//! A real node and gateway on a loopback port, and a raw WebSocket client that signs
//! requests as Binance documents.
#![allow(clippy::unwrap_used, dead_code)]

use futures_util::{SinkExt, StreamExt};
use gateway::api::OrderIndex;
use gateway::keys::KeyStore;
use gateway::server::{Gateway, GatewayConfig};
use matcher::{AccountId, AssetConfig, AssetId, Command, SymbolConfig, SymbolId, TxId};
use node::{Node, NodeConfig};
use serde_json::{json, Map, Value};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_tungstenite::tungstenite::Message;

pub const ALICE: u64 = 1001;
pub const BOB: u64 = 1002;

/// BTCUSDT (tick 0.01, lot 0.00001, min notional 5, fees 0.1%) and a halted ETHUSDT; Alice
/// and Bob funded.
pub fn genesis() -> Vec<Command> {
    let symbol = |id, name: &str, base| SymbolConfig {
        id: SymbolId(id),
        name: name.into(),
        base: AssetId(base),
        quote: AssetId(3),
        tick_size: 1_000_000,
        lot_size: 1_000,
        min_qty: 1,
        max_qty: 900_000_000,
        max_price: 100_000_000,
        min_notional: 500_000_000,
        maker_fee_ppm: 1000,
        taker_fee_ppm: 1000,
    };
    let mut g = vec![
        Command::UpsertAsset(AssetConfig {
            id: AssetId(1),
            code: "BTC".into(),
            scale: 8,
        }),
        Command::UpsertAsset(AssetConfig {
            id: AssetId(2),
            code: "ETH".into(),
            scale: 8,
        }),
        Command::UpsertAsset(AssetConfig {
            id: AssetId(3),
            code: "USDT".into(),
            scale: 8,
        }),
        Command::UpsertSymbol(symbol(1, "BTCUSDT", 1)),
        Command::UpsertSymbol(symbol(2, "ETHUSDT", 2)),
        Command::HaltSymbol {
            symbol: SymbolId(2),
        },
    ];
    for account in [ALICE, BOB] {
        for (asset, amount) in [(1u32, 10 * 100_000_000u128), (3, 1_000_000 * 100_000_000)] {
            g.push(Command::Deposit {
                account: AccountId(account),
                asset: AssetId(asset),
                amount,
                tx_id: TxId::new(&format!("d{account}-{asset}")).unwrap(),
            });
        }
    }
    g
}

pub struct TestExchange {
    pub addr: SocketAddr,
    pub node: Option<Node<OrderIndex>>,
    pub gateway: Arc<Gateway>,
    pub keys: Vec<(u64, String, String)>,
    pub dir: tempfile::TempDir,
}

impl TestExchange {
    pub async fn start(config: GatewayConfig) -> TestExchange {
        let dir = tempfile::tempdir().unwrap();
        let mut nc = NodeConfig::new(dir.path());
        nc.genesis = genesis();
        nc.segment_bytes = 4 << 20;
        let path = dir.path().to_path_buf();
        let node = tokio::task::spawn_blocking(move || Node::start(nc, OrderIndex::default()))
            .await
            .unwrap()
            .unwrap();
        let mut store = KeyStore::open(dir.path()).unwrap();
        let mut keys = Vec::new();
        for account in [ALICE, BOB] {
            let k = store.create_key(AccountId(account)).unwrap();
            keys.push((account, k.api_key.clone(), k.secret.expose().to_string()));
        }
        let handle = node.handle();
        // Wait for the genesis commands to be applied.
        let genesis_len = genesis().len() as u64;
        while handle.query(|e, _| e.last_cmd_seq()).await.unwrap() < genesis_len {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let gateway = Gateway::start(handle, store, path, config).await.unwrap();
        let app = gateway::server::router(Arc::clone(&gateway));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(gateway::server::nodelay(listener), app).await });
        TestExchange {
            addr,
            node: Some(node),
            gateway,
            keys,
            dir,
        }
    }

    pub fn url(&self) -> String {
        format!("ws://{}/ws-api/v3", self.addr)
    }

    pub async fn client(&self, account: u64) -> Client {
        let (_, key, secret) = self.keys.iter().find(|k| k.0 == account).unwrap().clone();
        Client::connect(&self.url(), key, secret).await
    }

    /// Commands journaled so far.
    pub fn journaled(&self) -> u64 {
        self.node
            .as_ref()
            .unwrap()
            .handle()
            .commands_journal()
            .next_index()
            - 1
    }
}

impl Drop for TestExchange {
    fn drop(&mut self) {
        if let Some(node) = self.node.take() {
            let _ = std::thread::spawn(move || node.shutdown()).join();
        }
    }
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

pub struct Client {
    pub ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    pub api_key: String,
    pub secret: String,
    next_id: u64,
    /// Pushes (frames without a matching id) seen while waiting for responses.
    pub pushes: VecDeque<Value>,
}

impl Client {
    pub async fn connect(url: &str, api_key: String, secret: String) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        Client {
            ws,
            api_key,
            secret,
            next_id: 1,
            pushes: VecDeque::new(),
        }
    }

    /// Adds apiKey and timestamp, then the signature over every parameter sorted by name.
    pub fn sign(&self, params: Value) -> Value {
        let mut map: Map<String, Value> = params.as_object().cloned().unwrap_or_default();
        map.entry("apiKey").or_insert(json!(self.api_key));
        map.entry("timestamp").or_insert(json!(now_ms()));
        let pairs: Vec<(String, String)> = map
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    },
                )
            })
            .collect();
        let payload =
            gateway::auth::signature_payload(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        map.insert(
            "signature".into(),
            json!(gateway::auth::sign(self.secret.as_bytes(), &payload)),
        );
        Value::Object(map)
    }

    pub async fn send_text(&mut self, text: String) {
        self.ws.send(Message::Text(text.into())).await.unwrap();
    }

    /// Sends a request and returns its response (pushes seen meanwhile are kept).
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let req = json!({"id": id, "method": method, "params": params});
        self.send_text(req.to_string()).await;
        self.response(json!(id)).await
    }

    pub async fn signed(&mut self, method: &str, params: Value) -> Value {
        let p = self.sign(params);
        self.call(method, p).await
    }

    /// The next response with this id.
    pub async fn response(&mut self, id: Value) -> Value {
        loop {
            let v = self.next_frame().await;
            if v.get("id") == Some(&id) && v.get("status").is_some() {
                return v;
            }
            self.pushes.push_back(v);
        }
    }

    pub async fn next_frame(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                .await
                .expect("no frame within 10 s")
                .expect("connection closed")
                .unwrap();
            match msg {
                Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected frame {other:?}"),
            }
        }
    }

    /// The next push (`{"subscriptionId", "event"}`).
    pub async fn push(&mut self) -> Value {
        if let Some(p) = self.pushes.pop_front() {
            return p;
        }
        self.next_frame().await
    }
}

/// The error code of a response (panics on success).
pub fn code(resp: &Value) -> i64 {
    resp["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("not an error: {resp}"))
}

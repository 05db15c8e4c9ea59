//! A real node and gateway on a loopback port, and a raw WebSocket client that signs
//! requests as Binance documents.
#![allow(clippy::unwrap_used, dead_code)]

use futures_util::{SinkExt, StreamExt};
use gateway::server::GatewayConfig;
use serde_json::{json, Map, Value};
use std::collections::VecDeque;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_tungstenite::tungstenite::Message;

pub const ALICE: u64 = 1001;
pub const BOB: u64 = 1002;

/// The in-process exchange with Alice and Bob funded, and raw clients for them.
pub struct TestExchange(pub gateway::testing::TestExchange);

impl std::ops::Deref for TestExchange {
    type Target = gateway::testing::TestExchange;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl TestExchange {
    pub async fn start(config: GatewayConfig) -> TestExchange {
        TestExchange(
            gateway::testing::TestExchange::start(config, &[ALICE, BOB])
                .await
                .unwrap(),
        )
    }

    pub async fn client(&self, account: u64) -> Client {
        let k = self.key(account).unwrap().clone();
        Client::connect(&self.url(), k.api_key, k.secret).await
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

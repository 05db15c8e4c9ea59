//! A tiny in-test exchange speaking Binance's WebSocket API shapes, for the client and demo
//! tests. It verifies every signed request with `gateway::auth::verify` (and the timing rule)
//! and answers canned Binance-shaped results; it is not a matching engine: LIMIT GTC orders
//! rest (status NEW) until cancelled, IOC and MARKET orders fill completely with one fill.
#![allow(dead_code, clippy::unwrap_used)]

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// Methods that need a signature (or a logged-on session).
const SIGNED: &[&str] = &[
    "order.place",
    "order.cancel",
    "order.cancelReplace",
    "openOrders.cancelAll",
    "order.status",
    "openOrders.status",
    "account.status",
    "userDataStream.subscribe",
];

/// Orders for this symbol are refused with -1121.
pub const REJECTED_SYMBOL: &str = "REJECTUSDT";

/// What the fake saw and sent, for the tests to check against.
#[derive(Debug, Default)]
pub struct FakeStats {
    /// Requests received (all methods).
    pub requests: AtomicU64,
    /// Orders accepted by `order.place` / the new half of `order.cancelReplace`.
    pub orders: AtomicU64,
    /// Fills sent in responses.
    pub fills: AtomicU64,
    /// Error responses sent, by code.
    pub errors: Mutex<BTreeMap<i64, u64>>,
    /// Every request's method and params, in arrival order (first 10,000).
    pub log: Mutex<Vec<(String, Map<String, Value>)>>,
    /// Connections accepted.
    pub connections: AtomicU64,
}

impl FakeStats {
    pub fn errors(&self) -> BTreeMap<i64, u64> {
        self.errors.lock().unwrap().clone()
    }
    pub fn last(&self, method: &str) -> Option<Map<String, Value>> {
        let log = self.log.lock().unwrap();
        log.iter()
            .rev()
            .find(|(m, _)| m == method)
            .map(|(_, p)| p.clone())
    }
}

/// A running fake exchange.
pub struct FakeExchange {
    pub url: String,
    pub stats: Arc<FakeStats>,
    closer: tokio::sync::watch::Sender<bool>,
}

impl FakeExchange {
    /// Closes every connection (now and later).
    pub fn close_all(&self) {
        let _ = self.closer.send(true);
    }
}

/// Starts the fake on 127.0.0.1 with these `(apiKey, secret)` pairs.
pub async fn start(keys: &[(&str, &str)]) -> FakeExchange {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let keys: Arc<HashMap<String, String>> = Arc::new(
        keys.iter()
            .map(|(k, s)| (k.to_string(), s.to_string()))
            .collect(),
    );
    let stats = Arc::new(FakeStats::default());
    let st = Arc::clone(&stats);
    let (closer, closed) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            st.connections.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(serve(
                tcp,
                Arc::clone(&keys),
                Arc::clone(&st),
                closed.clone(),
            ));
        }
    });
    FakeExchange {
        url: format!("ws://{addr}/ws-api/v3"),
        stats,
        closer,
    }
}

struct Session {
    keys: Arc<HashMap<String, String>>,
    stats: Arc<FakeStats>,
    logged_on: Option<String>,
    subscribed: bool,
    next_order: u64,
    next_trade: u64,
    open: BTreeMap<u64, Value>,
}

fn now_ms() -> u64 {
    bench::client::now_ms()
}

fn error(code: i64, msg: &str) -> (u16, Value) {
    (400, json!({"code": code, "msg": msg}))
}

async fn serve(
    tcp: TcpStream,
    keys: Arc<HashMap<String, String>>,
    stats: Arc<FakeStats>,
    mut closed: tokio::sync::watch::Receiver<bool>,
) {
    tcp.set_nodelay(true).unwrap();
    let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
        return;
    };
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::channel::<Option<String>>(1024);
    let writer = tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            match frame {
                Some(text) => {
                    if sink.send(Message::text(text)).await.is_err() {
                        break;
                    }
                }
                None => {
                    let _ = sink.close().await;
                    break;
                }
            }
        }
    });
    let mut session = Session {
        keys,
        stats,
        logged_on: None,
        subscribed: false,
        next_order: 1,
        next_trade: 1,
        open: BTreeMap::new(),
    };
    loop {
        let msg = tokio::select! {
            m = stream.next() => Some(m),
            r = closed.wait_for(|c| *c) => {
                drop(r);
                None
            }
        };
        let Some(msg) = msg else {
            let _ = tx.send(None).await;
            break;
        };
        let Some(Ok(msg)) = msg else { break };
        let Message::Text(text) = msg else { continue };
        let req: Value = serde_json::from_str(text.as_str()).unwrap();
        let id = req["id"].clone();
        let method = req["method"].as_str().unwrap().to_string();
        let params = req
            .get("params")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        session.stats.requests.fetch_add(1, Ordering::Relaxed);
        {
            let mut log = session.stats.log.lock().unwrap();
            if log.len() < 10_000 {
                log.push((method.clone(), params.clone()));
            }
        }
        match method.as_str() {
            "test.close" => {
                let _ = tx.send(None).await;
                break;
            }
            "test.silence" => continue,
            "test.echo" => {
                // Answers after `delayMs`, so responses overtake each other.
                let delay = params["delayMs"].as_u64().unwrap();
                let tx = tx.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                    let body = json!({"id": id, "status": 200, "result": {"echo": params}});
                    let _ = tx.send(Some(body.to_string())).await;
                });
                continue;
            }
            _ => {}
        }
        let (status, body, pushes) = session.handle(&method, &params);
        let reply = if status == 200 {
            json!({"id": id, "status": 200, "result": body, "rateLimits": []})
        } else {
            *session
                .stats
                .errors
                .lock()
                .unwrap()
                .entry(body["code"].as_i64().unwrap())
                .or_default() += 1;
            json!({"id": id, "status": status, "error": body, "rateLimits": []})
        };
        if tx.send(Some(reply.to_string())).await.is_err() {
            break;
        }
        for push in pushes {
            if tx.send(Some(push.to_string())).await.is_err() {
                break;
            }
        }
    }
    drop(tx);
    let _ = writer.await;
}

impl Session {
    fn authenticate(
        &self,
        params: &Map<String, Value>,
        force: bool,
    ) -> Result<String, (u16, Value)> {
        let ts = params
            .get("timestamp")
            .and_then(Value::as_u64)
            .ok_or_else(|| error(-1102, "Mandatory parameter 'timestamp' was not sent."))?;
        let window = params.get("recvWindow").and_then(Value::as_u64);
        let window =
            gateway::auth::recv_window(window).map_err(|e| error(e.code().into(), &e.message()))?;
        gateway::auth::check_timestamp(ts, window, now_ms())
            .map_err(|e| error(e.code().into(), &e.message()))?;
        if !force {
            if let Some(key) = &self.logged_on {
                if params.contains_key("signature") || params.contains_key("apiKey") {
                    // A logged-on client need not sign; this client never should.
                    return Err(error(-1104, "Not all sent parameters were read."));
                }
                return Ok(key.clone());
            }
        }
        let key = params
            .get("apiKey")
            .and_then(Value::as_str)
            .ok_or_else(|| error(-1102, "Mandatory parameter 'apiKey' was not sent."))?;
        let secret = self
            .keys
            .get(key)
            .ok_or_else(|| error(-2015, "Invalid API-key, IP, or permissions for action."))?;
        let signature = params
            .get("signature")
            .and_then(Value::as_str)
            .ok_or_else(|| error(-1102, "Mandatory parameter 'signature' was not sent."))?;
        let pairs = gateway::auth::json_params_as_sent(params)
            .map_err(|e| error(e.code().into(), &e.message()))?;
        let payload =
            gateway::auth::signature_payload(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        gateway::auth::verify(secret.as_bytes(), &payload, signature)
            .map_err(|e| error(e.code().into(), &e.message()))?;
        Ok(key.to_string())
    }

    fn place(&mut self, symbol: &str, params: &Map<String, Value>) -> Result<Value, (u16, Value)> {
        let s = |n: &str| params.get(n).and_then(Value::as_str).map(str::to_string);
        let side = s("side").ok_or_else(|| error(-1102, "side"))?;
        let kind = s("type").ok_or_else(|| error(-1102, "type"))?;
        let qty = s("quantity").ok_or_else(|| error(-1102, "quantity"))?;
        let tif = s("timeInForce");
        let price = s("price").unwrap_or_else(|| "0.00000000".into());
        let client_id = s("newClientOrderId").unwrap_or_else(|| format!("fake{}", self.next_order));
        let order_id = self.next_order;
        self.next_order += 1;
        self.stats.orders.fetch_add(1, Ordering::Relaxed);
        let rests = kind == "LIMIT" && tif.as_deref() == Some("GTC");
        let (status, executed, fills) = if rests {
            ("NEW", "0.00000000".to_string(), vec![])
        } else {
            let trade_id = self.next_trade;
            self.next_trade += 1;
            self.stats.fills.fetch_add(1, Ordering::Relaxed);
            (
                "FILLED",
                qty.clone(),
                vec![
                    json!({"price": price, "qty": qty, "commission": "0.00000000",
                            "commissionAsset": "BNB", "tradeId": trade_id}),
                ],
            )
        };
        let order = json!({
            "symbol": symbol, "orderId": order_id, "orderListId": -1,
            "clientOrderId": client_id, "transactTime": now_ms(), "price": price,
            "origQty": qty, "executedQty": executed, "cummulativeQuoteQty": "0.00000000",
            "status": status, "timeInForce": tif.unwrap_or_else(|| "GTC".into()), "type": kind,
            "side": side, "workingTime": now_ms(), "fills": fills,
            "selfTradePreventionMode": "NONE"
        });
        if rests {
            let mut resting = order.clone();
            resting.as_object_mut().unwrap().remove("fills");
            self.open.insert(order_id, resting);
        }
        Ok(order)
    }

    fn cancel(&mut self, params: &Map<String, Value>, name: &str) -> Result<Value, (u16, Value)> {
        let id = params.get(name).and_then(Value::as_u64);
        match id.and_then(|id| self.open.remove(&id)) {
            Some(mut order) => {
                order["status"] = json!("CANCELED");
                Ok(order)
            }
            None => Err(error(-2011, "Unknown order sent.")),
        }
    }

    fn execution_report(&self, order: &Value) -> Value {
        json!({"subscriptionId": 0, "event": {
            "e": "executionReport", "E": now_ms(), "s": order["symbol"], "c": order["clientOrderId"],
            "S": order["side"], "o": order["type"], "X": order["status"], "i": order["orderId"]
        }})
    }

    fn handle(&mut self, method: &str, params: &Map<String, Value>) -> (u16, Value, Vec<Value>) {
        match self.handle_inner(method, params) {
            Ok((body, pushes)) => (200, body, pushes),
            Err((status, body)) => (status, body, vec![]),
        }
    }

    fn handle_inner(
        &mut self,
        method: &str,
        params: &Map<String, Value>,
    ) -> Result<(Value, Vec<Value>), (u16, Value)> {
        if SIGNED.contains(&method) {
            self.authenticate(params, false)?;
        }
        let symbol = params
            .get("symbol")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let mut pushes = vec![];
        let body = match method {
            "session.logon" => {
                let key = self.authenticate(params, true)?;
                self.logged_on = Some(key.clone());
                json!({"apiKey": key, "authorizedSince": now_ms(), "connectedSince": now_ms(),
                       "returnRateLimits": true, "serverTime": now_ms()})
            }
            "userDataStream.subscribe" => {
                // Authenticated above: by the logged-on session or by the signature.
                self.subscribed = true;
                json!({"subscriptionId": 0})
            }
            "ping" => json!({}),
            "time" => json!({"serverTime": now_ms()}),
            "exchangeInfo" => json!({"timezone": "UTC", "serverTime": now_ms(),
                "rateLimits": [], "exchangeFilters": [],
                "symbols": [{"symbol": "BTCUSDT", "status": "TRADING"}]}),
            "account.status" => json!({"makerCommission": 10, "canTrade": true,
                "balances": [{"asset": "BTC", "free": "1.00000000", "locked": "0.00000000"}]}),
            "order.place" | "order.cancelReplace" if symbol == REJECTED_SYMBOL => {
                return Err(error(-1121, "Invalid symbol."));
            }
            "order.place" => {
                let order = self.place(&symbol, params)?;
                if self.subscribed {
                    pushes.push(self.execution_report(&order));
                    pushes.push(json!({"subscriptionId": 0, "event": {
                        "e": "outboundAccountPosition", "E": now_ms(), "B": []}}));
                }
                order
            }
            "order.cancel" => self.cancel(params, "orderId")?,
            "order.cancelReplace" => {
                let canceled = match self.cancel(params, "cancelOrderId") {
                    Ok(c) => c,
                    Err(_) => {
                        return Err((
                            400,
                            json!({"code": -2022, "msg": "Order cancel-replace failed.",
                            "data": {"cancelResult": "FAILURE", "newOrderResult": "NOT_ATTEMPTED",
                                     "cancelResponse": {"code": -2011, "msg": "Unknown order sent."},
                                     "newOrderResponse": null}}),
                        ));
                    }
                };
                let new_order = self.place(&symbol, params)?;
                json!({"cancelResult": "SUCCESS", "newOrderResult": "SUCCESS",
                       "cancelResponse": canceled, "newOrderResponse": new_order})
            }
            "openOrders.cancelAll" => {
                let all: Vec<Value> = std::mem::take(&mut self.open)
                    .into_values()
                    .map(|mut o| {
                        o["status"] = json!("CANCELED");
                        o
                    })
                    .collect();
                Value::Array(all)
            }
            "order.status" => {
                let id = params.get("orderId").and_then(Value::as_u64).unwrap_or(0);
                self.open
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| error(-2013, "Order does not exist."))?
            }
            "openOrders.status" => Value::Array(self.open.values().cloned().collect()),
            _ => return Err(error(-1000, "Unknown method.")),
        };
        Ok((body, pushes))
    }
}

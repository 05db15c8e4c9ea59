//! One market-data WebSocket connection: `/ws/<stream>[/<stream>..]`, `/ws`, and
//! `/stream?streams=a/b/c` (combined payloads), the live `SUBSCRIBE` / `UNSUBSCRIBE` /
//! `LIST_SUBSCRIPTIONS` / `SET_PROPERTY` / `GET_PROPERTY` requests, pings and idle handling.

use crate::registry::Subscriber;
use crate::stream::StreamName;
use crate::MdPush;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Notify};

/// `GET /ws`: a raw connection with no stream yet (subscribe live).
pub(crate) async fn ws_bare(ws: WebSocketUpgrade, State(md): State<Arc<MdPush>>) -> Response {
    upgrade(ws, md, Vec::new(), false)
}

/// `GET /ws/<stream>[/<stream>..]`: raw payloads.
pub(crate) async fn ws_raw(
    ws: WebSocketUpgrade,
    State(md): State<Arc<MdPush>>,
    Path(streams): Path<String>,
) -> Response {
    upgrade(ws, md, split_streams(&streams), false)
}

/// `GET /stream?streams=a/b/c`: combined payloads `{"stream","data"}`.
pub(crate) async fn ws_combined(
    ws: WebSocketUpgrade,
    State(md): State<Arc<MdPush>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let streams = q
        .get("streams")
        .map(|s| split_streams(s))
        .unwrap_or_default();
    upgrade(ws, md, streams, true)
}

fn split_streams(s: &str) -> Vec<String> {
    s.split('/')
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

fn upgrade(
    ws: WebSocketUpgrade,
    md: Arc<MdPush>,
    streams: Vec<String>,
    combined: bool,
) -> Response {
    let mut names = Vec::with_capacity(streams.len());
    for s in &streams {
        match StreamName::parse(s) {
            Ok(n) => {
                let n = n.to_string();
                if !names.contains(&n) {
                    names.push(n);
                }
            }
            Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
        }
    }
    if names.len() > md.config.max_streams_per_connection {
        return (StatusCode::BAD_REQUEST, "too many streams").into_response();
    }
    let open = md.connections.fetch_add(1, Ordering::AcqRel);
    if open >= md.config.max_connections {
        md.connections.fetch_sub(1, Ordering::AcqRel);
        return (StatusCode::SERVICE_UNAVAILABLE, "too many connections").into_response();
    }
    let max = md.config.max_message_bytes;
    ws.max_message_size(max)
        .max_frame_size(max)
        .on_failed_upgrade({
            let md = Arc::clone(&md);
            move |_| {
                md.connections.fetch_sub(1, Ordering::AcqRel);
            }
        })
        .on_upgrade(move |socket| async move {
            run(Arc::clone(&md), socket, names, combined).await;
            md.connections.fetch_sub(1, Ordering::AcqRel);
        })
}

fn close_frame(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

type Sink = SplitSink<WebSocket, Message>;

/// Writes the queue to the socket; on a cut, sends the slow-consumer error and closes.
async fn write_loop(
    mut sink: Sink,
    mut rx: mpsc::Receiver<Message>,
    cut: Arc<Notify>,
    goodbye: String,
    goodbye_timeout: Duration,
) {
    loop {
        let next = tokio::select! {
            biased;
            _ = cut.notified() => break,
            m = rx.recv() => m,
        };
        let Some(m) = next else {
            let _ = sink.close().await;
            return;
        };
        let sent = tokio::select! {
            biased;
            _ = cut.notified() => break,
            r = write_batch(&mut sink, m, &mut rx) => r,
        };
        match sent {
            Ok(false) => {}
            Ok(true) | Err(_) => return,
        }
    }
    // Cut off: the error message and a close frame, if the socket takes them at all.
    drop(rx);
    let _ = tokio::time::timeout(goodbye_timeout, async {
        sink.send(Message::Text(goodbye.into())).await?;
        sink.send(close_frame(1008, "slow consumer")).await
    })
    .await;
}

/// Most messages written between two flushes.
const WRITE_BATCH: usize = 256;

/// Writes `first` and whatever else is already queued (up to [`WRITE_BATCH`]) with one flush:
/// one socket write for a burst instead of one per message. True when a close frame went out.
async fn write_batch(
    sink: &mut Sink,
    first: Message,
    rx: &mut mpsc::Receiver<Message>,
) -> Result<bool, axum::Error> {
    let mut closing = matches!(first, Message::Close(_));
    sink.feed(first).await?;
    let mut n = 1;
    while !closing && n < WRITE_BATCH {
        match rx.try_recv() {
            Ok(m) => {
                closing = matches!(m, Message::Close(_));
                sink.feed(m).await?;
                n += 1;
            }
            Err(_) => break,
        }
    }
    sink.flush().await?;
    Ok(closing)
}

struct Conn {
    md: Arc<MdPush>,
    sub: Subscriber,
    streams: Vec<String>,
}

impl Conn {
    /// Queues a message; false when the queue is full (the connection is then cut).
    fn send(&self, m: Message) -> bool {
        match self.sub.tx.try_send(m) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                if !self.sub.is_cut.swap(true, Ordering::AcqRel) {
                    self.sub.cut.notify_one();
                    self.md
                        .registry
                        .metrics
                        .slow_cut
                        .fetch_add(1, Ordering::Relaxed);
                }
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    fn subscribe(&mut self, name: String) {
        if !self.streams.contains(&name) {
            self.md.registry.subscribe(&name, &self.sub);
            self.streams.push(name);
        }
    }

    fn unsubscribe(&mut self, name: &str) {
        self.md.registry.unsubscribe(name, self.sub.conn);
        self.streams.retain(|s| s != name);
    }

    /// Answers one request frame.
    fn request(&mut self, text: &str) -> Value {
        let v: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => return error(3, format!("Invalid JSON: {e}"), Value::Null),
        };
        let Value::Object(obj) = v else {
            return error(3, "Invalid JSON: expected an object".into(), Value::Null);
        };
        let id = obj.get("id").cloned().unwrap_or(Value::Null);
        if !(id.is_null() || id.is_u64() || id.is_string()) {
            return error(
                2,
                "Invalid request: request ID must be an unsigned integer".into(),
                Value::Null,
            );
        }
        let Some(method) = obj.get("method").and_then(Value::as_str) else {
            return error(2, "Invalid request: missing field `method`".into(), id);
        };
        let params = match obj.get("params") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(_) => return error(2, "Invalid request: params must be an array".into(), id),
        };
        match method {
            "SUBSCRIBE" | "UNSUBSCRIBE" => {
                let mut names = Vec::with_capacity(params.len());
                for p in &params {
                    let parsed = p.as_str().map(StreamName::parse);
                    match parsed {
                        Some(Ok(n)) => names.push(n.to_string()),
                        _ => {
                            return error(
                                2,
                                format!("Invalid request: invalid stream name {p}"),
                                id,
                            )
                        }
                    }
                }
                if method == "SUBSCRIBE" {
                    let mut total = self.streams.clone();
                    for n in &names {
                        if !total.contains(n) {
                            total.push(n.clone());
                        }
                    }
                    if total.len() > self.md.config.max_streams_per_connection {
                        return error(
                            2,
                            format!(
                                "Invalid request: at most {} streams per connection",
                                self.md.config.max_streams_per_connection
                            ),
                            id,
                        );
                    }
                    for n in names {
                        self.subscribe(n);
                    }
                } else {
                    for n in &names {
                        self.unsubscribe(n);
                    }
                }
                json!({"result": null, "id": id})
            }
            "LIST_SUBSCRIPTIONS" => json!({"result": self.streams, "id": id}),
            "SET_PROPERTY" => match params.as_slice() {
                [Value::String(p), Value::Bool(b)] if p == "combined" => {
                    self.sub.combined.store(*b, Ordering::Relaxed);
                    json!({"result": null, "id": id})
                }
                [Value::String(p), _] if p == "combined" => {
                    error(1, "Invalid value type: expected Boolean".into(), id)
                }
                [Value::String(_), _] => error(0, "Unknown property".into(), id),
                [_, _] => error(2, "Invalid request: property name must be a string".into(), id),
                _ => error(2, "Invalid request: too many parameters".into(), id),
            },
            "GET_PROPERTY" => match params.as_slice() {
                [Value::String(p)] if p == "combined" => {
                    json!({"result": self.sub.combined.load(Ordering::Relaxed), "id": id})
                }
                [Value::String(_)] => error(0, "Unknown property".into(), id),
                [_] => error(2, "Invalid request: property name must be a string".into(), id),
                _ => error(2, "Invalid request: too many parameters".into(), id),
            },
            other => error(
                2,
                format!(
                    "Invalid request: unknown variant `{other}`, expected one of `SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`"
                ),
                id,
            ),
        }
    }
}

fn error(code: i64, msg: String, id: Value) -> Value {
    json!({"error": {"code": code, "msg": msg}, "id": id})
}

async fn run(md: Arc<MdPush>, socket: WebSocket, streams: Vec<String>, combined: bool) {
    let config = md.config.clone();
    let (sink, mut incoming) = socket.split();
    let (tx, rx) = mpsc::channel::<Message>(config.subscriber_queue.max(1));
    let cut = Arc::new(Notify::new());
    let goodbye = json!({"error": {"code": SLOW_CONSUMER_CODE, "msg": format!(
        "Slow consumer: more than {} messages queued; disconnecting. Reconnect and resynchronise (GET /api/v3/depth).",
        config.subscriber_queue
    )}})
    .to_string();
    let mut writer = tokio::spawn(write_loop(
        sink,
        rx,
        Arc::clone(&cut),
        goodbye,
        config.goodbye_timeout,
    ));
    let sub = Subscriber {
        conn: md.next_conn.fetch_add(1, Ordering::Relaxed),
        tx,
        combined: Arc::new(AtomicBool::new(combined)),
        cut,
        is_cut: Arc::new(AtomicBool::new(false)),
    };
    let mut conn = Conn {
        md: Arc::clone(&md),
        sub,
        streams: Vec::new(),
    };
    for s in streams {
        conn.subscribe(s);
    }
    let mut last_heard = Instant::now();
    let mut ping = tokio::time::interval(config.ping_interval);
    ping.tick().await;
    let mut window = (Instant::now(), 0u32);
    let end: Option<Message> = loop {
        tokio::select! {
            biased;
            _ = &mut writer => break None,
            frame = incoming.next() => {
                last_heard = Instant::now();
                let counted = matches!(frame, Some(Ok(Message::Text(_) | Message::Ping(_) | Message::Binary(_))));
                if counted {
                    if window.0.elapsed() >= Duration::from_secs(1) {
                        window = (Instant::now(), 0);
                    }
                    window.1 += 1;
                    if window.1 > config.max_incoming_per_second {
                        break Some(close_frame(1008, "too many messages"));
                    }
                }
                match frame {
                    Some(Ok(Message::Text(text))) => {
                        let answer = conn.request(text.as_str());
                        if !conn.send(Message::Text(Utf8Bytes::from(answer.to_string()))) {
                            break None;
                        }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        let answer = error(3, "Invalid JSON: binary frames are not accepted".into(), Value::Null);
                        if !conn.send(Message::Text(Utf8Bytes::from(answer.to_string()))) {
                            break None;
                        }
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    Some(Ok(Message::Close(_))) | None => break None,
                    Some(Err(e)) => {
                        tracing::debug!(conn = conn.sub.conn, error = %e, "read error");
                        break None;
                    }
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > config.idle_timeout {
                    break Some(close_frame(1001, "idle timeout"));
                }
                if !conn.send(Message::Ping(Vec::new().into())) {
                    break None;
                }
            }
        }
    };
    for s in std::mem::take(&mut conn.streams) {
        md.registry.unsubscribe(&s, conn.sub.conn);
    }
    let server_closed = end.is_some();
    if let Some(frame) = end {
        let _ = conn.sub.tx.try_send(frame);
    }
    drop(conn);
    if !writer.is_finished()
        && tokio::time::timeout(Duration::from_secs(2), &mut writer)
            .await
            .is_err()
    {
        writer.abort();
    }
    if server_closed {
        // The closing handshake: keep reading (and discarding) until the peer's close frame,
        // for at most a second, so that a client that answers a ping late still reads our
        // close frame instead of a reset connection.
        let _ = tokio::time::timeout(CLOSE_LINGER, async {
            while let Some(Ok(m)) = incoming.next().await {
                if matches!(m, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }
}

/// How long a connection the server closed waits for the peer's close frame.
const CLOSE_LINGER: Duration = Duration::from_secs(1);

/// The `error.code` of the slow-consumer message (an extension; Binance documents none).
pub const SLOW_CONSUMER_CODE: i64 = 4;

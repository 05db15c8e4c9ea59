//! An async client for Binance's Spot WebSocket API (`ws://HOST:PORT/ws-api/v3`).
//!
//! One connection carries many requests in flight: [`Client`] methods queue a request on a
//! writer task and wait on a oneshot that a reader task completes when the response with the
//! same `id` arrives. Requests are signed as Binance documents (parameters sorted by name,
//! `name=value` joined with `&`, lowercase hex HMAC-SHA256 with the secret, then `apiKey`,
//! `timestamp` and `signature` sent as parameters) unless the session is logged on with
//! `session.logon`, after which signed methods send only `timestamp`.
//!
//! Requests are encoded from typed [`Params`] straight into the frame text, and responses are
//! read once into typed fields: one envelope type, generic over what a result, an error's
//! `data` and a push's `event` are read into. [`Client`] reads them as `serde_json::Value`s;
//! the load generator's [`Connection`] (its owner's task drives the socket: no per-request
//! channel, timer or task) as the small summaries [`OrderReply`], [`Failure`] and
//! [`ExecutionReport`], skipping the rest. Both encode, sign and send the same way.
//!
//! Bounds: at most [`ClientConfig::max_in_flight`] requests await a response (further
//! requests wait for a slot: backpressure); the outbound queue holds
//! [`ClientConfig::outbound_queue`] frames (senders wait when it is full); the user data
//! stream buffers [`ClientConfig::user_data_queue`] events and, when its reader falls behind,
//! drops new events and counts them ([`UserDataStream::dropped`]) rather than stall responses.

mod connection;
mod error;
mod frame;
mod order;
mod response;
mod summary;
mod wire;

pub use connection::{Connection, Receiver};
pub use error::ClientError;
pub use order::{
    order_id_param, write_cancel_replace_params, CancelReplaceMode, OrderRef, OrderRequest,
    OrderType, RespType, Side, TimeInForce,
};
pub use response::{CancelReplaceAck, Fill, OrderAck, OrderStatus, UserEvent, UserEventKind};
pub use summary::{ApiFailure, ExecutionReport, Failure, OrderReply, OrderSummary, Outcome};
pub use wire::{sign_params, ParamValue, Params};

use frame::{read_frame, Incoming};
use wire::{encode_request, Security};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The socket read buffer (see [`Client::connect_with`]).
const READ_BUFFER_BYTES: usize = 8 * 1024;

/// Largest number of queued frames the writer hands to the socket before one flush.
const WRITE_BATCH: usize = 64;

/// An API key and its secret.
#[derive(Clone)]
pub struct Credentials {
    /// The API key (sent as `apiKey`).
    pub api_key: String,
    /// The HMAC secret (never sent).
    secret: String,
    /// The secret, keyed once.
    signer: gateway::auth::Signer,
}

impl Credentials {
    /// The key `api_key` with its secret.
    pub fn new(api_key: impl Into<String>, secret: impl Into<String>) -> Credentials {
        let secret = secret.into();
        Credentials {
            api_key: api_key.into(),
            signer: gateway::auth::Signer::new(secret.as_bytes()),
            secret,
        }
    }

    /// The HMAC secret's text.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The secret as an HMAC-SHA256 key.
    pub fn signer(&self) -> &gateway::auth::Signer {
        &self.signer
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix: String = self.api_key.chars().take(8).collect();
        f.debug_struct("Credentials")
            .field("api_key", &format_args!("{prefix}..."))
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Client settings.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Key and secret for signed methods; `None` allows only public methods.
    pub credentials: Option<Credentials>,
    /// Most requests awaiting a response at once (at least 1).
    pub max_in_flight: usize,
    /// Capacity of the outbound frame queue (at least 1).
    pub outbound_queue: usize,
    /// Capacity of the user data event buffer (at least 1).
    pub user_data_queue: usize,
    /// How long a request waits for its response.
    pub request_timeout: Duration,
    /// `recvWindow` sent with signed requests (milliseconds); `None` sends none (5000 ms).
    pub recv_window_ms: Option<u64>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            credentials: None,
            max_in_flight: 1024,
            outbound_queue: 1024,
            user_data_queue: 4096,
            request_timeout: Duration::from_secs(10),
            recv_window_ms: None,
        }
    }
}

/// A connected client. Cheap to clone; clones share the connection. The connection closes
/// when the last clone is dropped.
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    out: mpsc::Sender<Message>,
    shared: Arc<Shared>,
    in_flight: Arc<Semaphore>,
    next_id: AtomicU64,
    logged_on: AtomicBool,
    config: ClientConfig,
}

/// State shared with the reader task.
#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    user_data: Mutex<Option<UserDataSink>>,
}

#[derive(Debug, Default)]
struct State {
    closed: bool,
    pending: HashMap<u64, Waiter>,
}

#[derive(Debug)]
struct Waiter {
    /// The response with the moment the reader task received it.
    tx: oneshot::Sender<(Instant, Result<Value, ClientError>)>,
    /// Released when the response arrives (or the connection closes), not when the caller
    /// gets round to reading it, so a caller that is busy sending never deadlocks itself.
    _permit: OwnedSemaphorePermit,
}

#[derive(Debug)]
struct UserDataSink {
    tx: mpsc::Sender<UserEvent>,
    dropped: Arc<AtomicU64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Marks the connection closed and fails every request in flight.
    fn close(&self) {
        let pending = {
            let mut st = self.state();
            st.closed = true;
            std::mem::take(&mut st.pending)
        };
        for (_, waiter) in pending {
            let _ = waiter.tx.send((Instant::now(), Err(ClientError::Closed)));
        }
        lock(&self.user_data).take();
    }

    fn dispatch(&self, text: &str) {
        // Arrival: before parsing, so latency does not depend on the response's size.
        let arrived = Instant::now();
        match read_frame::<Value, Value, Value>(text) {
            Incoming::Response { id, outcome } => {
                let waiter = self.state().pending.remove(&id);
                match waiter {
                    Some(w) => {
                        let result = outcome
                            .map(|r| r.unwrap_or(Value::Null))
                            .map_err(ClientError::from);
                        let _ = w.tx.send((arrived, result));
                    }
                    None => tracing::debug!(id, "response to a request nobody awaits"),
                }
            }
            Incoming::Push {
                subscription_id,
                event,
            } => match event.and_then(|e| UserEvent::from_event(e, subscription_id)) {
                Some(event) => self.push_user_event(event),
                None => tracing::debug!(message = text, "unrecognised push"),
            },
            Incoming::Ignored => {}
        }
    }

    fn push_user_event(&self, event: UserEvent) {
        let mut sink = lock(&self.user_data);
        let Some(s) = sink.as_ref() else {
            return;
        };
        match s.tx.try_send(event) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                s.dropped.fetch_add(1, Ordering::Relaxed);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                sink.take();
            }
        }
    }
}

async fn read_loop(mut stream: SplitStream<Ws>, shared: Arc<Shared>) {
    while let Some(frame) = stream.next().await {
        match frame {
            Ok(Message::Text(text)) => shared.dispatch(text.as_str()),
            Ok(Message::Close(frame)) => {
                tracing::debug!(?frame, "server closed the connection");
                break;
            }
            Ok(_) => {}
            Err(error) => {
                tracing::debug!(%error, "read failed");
                break;
            }
        }
    }
    shared.close();
}

async fn write_loop(
    mut sink: SplitSink<Ws, Message>,
    mut rx: mpsc::Receiver<Message>,
    shared: Arc<Shared>,
) {
    'outer: while let Some(first) = rx.recv().await {
        if let Err(error) = sink.feed(first).await {
            tracing::debug!(%error, "write failed");
            break;
        }
        for _ in 1..WRITE_BATCH {
            match rx.try_recv() {
                Ok(frame) => {
                    if let Err(error) = sink.feed(frame).await {
                        tracing::debug!(%error, "write failed");
                        break 'outer;
                    }
                }
                Err(_) => break,
            }
        }
        if let Err(error) = sink.flush().await {
            tracing::debug!(%error, "flush failed");
            break;
        }
    }
    let _ = sink.close().await;
    shared.close();
}

/// Milliseconds since the Unix epoch by the system clock (0 if the clock is before 1970).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A request on the wire, awaiting its response. Dropping it forgets the request (a late
/// response is then discarded).
#[derive(Debug)]
pub struct PendingResponse {
    id: u64,
    rx: oneshot::Receiver<(Instant, Result<Value, ClientError>)>,
    shared: Arc<Shared>,
    timeout: Duration,
}

impl PendingResponse {
    /// The request's `id`.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Waits for the response: the `result`, a [`ClientError::Api`] for an error response,
    /// [`ClientError::Timeout`] or [`ClientError::Closed`].
    pub async fn wait(self) -> Result<Value, ClientError> {
        self.wait_timed().await.1
    }

    /// Like [`PendingResponse::wait`], with the moment the response arrived: when the
    /// reader task received the frame (for a timeout or close: when it was noticed), so
    /// latency excludes however long the caller took to look.
    pub async fn wait_timed(mut self) -> (Instant, Result<Value, ClientError>) {
        match tokio::time::timeout(self.timeout, &mut self.rx).await {
            Ok(Ok(timed)) => timed,
            Ok(Err(_)) => (Instant::now(), Err(ClientError::Closed)),
            Err(_) => (
                Instant::now(),
                Err(ClientError::Timeout {
                    id: self.id,
                    timeout_ms: u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
                }),
            ),
        }
    }
}

impl Drop for PendingResponse {
    fn drop(&mut self) {
        // Usually already removed by the reader; after a timeout or an early drop, this
        // frees the slot.
        self.shared.state().pending.remove(&self.id);
    }
}

/// Opens a WebSocket connection (TCP_NODELAY on) with a small read buffer: tungstenite
/// zero-fills the free part of its read buffer before every read, so its 128 KiB default
/// costs a 128 KiB memset per read; responses are a few hundred bytes.
pub(crate) async fn open_socket(url: &str) -> Result<Ws, ClientError> {
    let ws_config = WebSocketConfig::default().read_buffer_size(READ_BUFFER_BYTES);
    let (ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(ws_config), true)
        .await
        .map_err(|e| ClientError::Connect {
            url: url.to_string(),
            source: Box::new(e),
        })?;
    Ok(ws)
}

impl Client {
    /// Connects with default settings and no credentials.
    pub async fn connect(url: &str) -> Result<Client, ClientError> {
        Client::connect_with(url, ClientConfig::default()).await
    }

    /// Connects (TCP_NODELAY on) and starts the reader and writer tasks on the current
    /// tokio runtime.
    pub async fn connect_with(url: &str, config: ClientConfig) -> Result<Client, ClientError> {
        let ws = open_socket(url).await?;
        let (sink, stream) = ws.split();
        let (out, rx) = mpsc::channel(config.outbound_queue.max(1));
        let shared = Arc::new(Shared::default());
        tokio::spawn(read_loop(stream, Arc::clone(&shared)));
        tokio::spawn(write_loop(sink, rx, Arc::clone(&shared)));
        Ok(Client {
            inner: Arc::new(Inner {
                out,
                shared,
                in_flight: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
                next_id: AtomicU64::new(1),
                logged_on: AtomicBool::new(false),
                config,
            }),
        })
    }

    /// Whether `session.logon` succeeded on this connection.
    pub fn is_logged_on(&self) -> bool {
        self.inner.logged_on.load(Ordering::Acquire)
    }

    /// Whether the connection has closed.
    pub fn is_closed(&self) -> bool {
        self.inner.shared.state().closed
    }

    /// Requests awaiting a response.
    pub fn in_flight(&self) -> usize {
        self.inner.shared.state().pending.len()
    }

    /// Queues an unsigned request and returns once it is on the outbound queue (waiting
    /// first for an in-flight slot and queue space).
    pub async fn start(
        &self,
        method: &str,
        params: Map<String, Value>,
    ) -> Result<PendingResponse, ClientError> {
        self.start_with(method, params, Security::None).await
    }

    /// Like [`Client::start`] for a signed method: adds `timestamp` (and `recvWindow` if
    /// configured), then `apiKey` and `signature` unless the session is logged on.
    pub async fn start_signed(
        &self,
        method: &str,
        params: Map<String, Value>,
    ) -> Result<PendingResponse, ClientError> {
        let security =
            Security::for_signed(&self.inner.config, method, self.is_logged_on(), false)?;
        self.start_with(method, params, security).await
    }

    async fn start_with(
        &self,
        method: &str,
        params: Map<String, Value>,
        security: Security<'_>,
    ) -> Result<PendingResponse, ClientError> {
        let inner = &self.inner;
        let permit = Arc::clone(&inner.in_flight)
            .acquire_owned()
            .await
            .map_err(|_| ClientError::Closed)?;
        let id = inner.next_id.fetch_add(1, Ordering::Relaxed);
        let mut text = String::with_capacity(512);
        encode_request(
            &mut text,
            &mut String::new(),
            id,
            method,
            Params::from_map(&params),
            security,
        )?;
        let (tx, rx) = oneshot::channel();
        {
            let mut st = inner.shared.state();
            if st.closed {
                return Err(ClientError::Closed);
            }
            st.pending.insert(
                id,
                Waiter {
                    tx,
                    _permit: permit,
                },
            );
        }
        let pending = PendingResponse {
            id,
            rx,
            shared: Arc::clone(&inner.shared),
            timeout: inner.config.request_timeout,
        };
        inner
            .out
            .send(Message::text(text))
            .await
            .map_err(|_| ClientError::Closed)?;
        Ok(pending)
    }

    /// Sends an unsigned request and waits for its result.
    pub async fn request(
        &self,
        method: &str,
        params: Map<String, Value>,
    ) -> Result<Value, ClientError> {
        self.start(method, params).await?.wait().await
    }

    /// Sends a signed request and waits for its result.
    pub async fn signed_request(
        &self,
        method: &str,
        params: Map<String, Value>,
    ) -> Result<Value, ClientError> {
        self.start_signed(method, params).await?.wait().await
    }

    /// `session.logon`: authenticates the connection with a signed request; afterwards signed
    /// methods carry only `timestamp`.
    pub async fn logon(&self) -> Result<Value, ClientError> {
        let security = Security::for_signed(&self.inner.config, "session.logon", false, true)?;
        let result = self
            .start_with("session.logon", Map::new(), security)
            .await?
            .wait()
            .await?;
        self.inner.logged_on.store(true, Ordering::Release);
        Ok(result)
    }

    /// `order.place`. Read the result with [`OrderAck::from_result`].
    pub async fn place_order(&self, order: &OrderRequest) -> Result<Value, ClientError> {
        self.signed_request("order.place", order.to_params()).await
    }

    /// `order.cancel`.
    pub async fn cancel_order(&self, symbol: &str, order: &OrderRef) -> Result<Value, ClientError> {
        self.signed_request("order.cancel", order_params(symbol, order))
            .await
    }

    /// `order.cancelReplace`: cancels `cancel` and places `new_order` (same symbol). Read the
    /// result with [`CancelReplaceAck::from_result`]; a failed half is a
    /// [`ClientError::Api`] whose `data` carries both halves.
    pub async fn cancel_replace(
        &self,
        cancel: &OrderRef,
        mode: CancelReplaceMode,
        new_order: &OrderRequest,
    ) -> Result<Value, ClientError> {
        self.signed_request(
            "order.cancelReplace",
            cancel_replace_params(cancel, mode, new_order),
        )
        .await
    }

    /// `openOrders.cancelAll` for a symbol.
    pub async fn cancel_all(&self, symbol: &str) -> Result<Value, ClientError> {
        self.signed_request("openOrders.cancelAll", symbol_param(symbol))
            .await
    }

    /// `order.status`.
    pub async fn order_status(&self, symbol: &str, order: &OrderRef) -> Result<Value, ClientError> {
        self.signed_request("order.status", order_params(symbol, order))
            .await
    }

    /// `openOrders.status`, for one symbol or all.
    pub async fn open_orders(&self, symbol: Option<&str>) -> Result<Value, ClientError> {
        let params = symbol.map(symbol_param).unwrap_or_default();
        self.signed_request("openOrders.status", params).await
    }

    /// `account.status`.
    pub async fn account_status(&self) -> Result<Value, ClientError> {
        self.signed_request("account.status", Map::new()).await
    }

    /// `ping`.
    pub async fn ping(&self) -> Result<Value, ClientError> {
        self.request("ping", Map::new()).await
    }

    /// `time`: the server's `serverTime` in milliseconds.
    pub async fn time(&self) -> Result<u64, ClientError> {
        let result = self.request("time", Map::new()).await?;
        result
            .get("serverTime")
            .and_then(Value::as_u64)
            .ok_or_else(|| ClientError::Protocol("time without serverTime".into()))
    }

    /// `exchangeInfo`, for one symbol or all.
    pub async fn exchange_info(&self, symbol: Option<&str>) -> Result<Value, ClientError> {
        let params = symbol.map(symbol_param).unwrap_or_default();
        self.request("exchangeInfo", params).await
    }

    /// `userDataStream.subscribe`: returns the stream of `executionReport` /
    /// `outboundAccountPosition` pushes. Sent as a signed request (`timestamp`, plus `apiKey`
    /// and `signature` unless the session is logged on), which is what this exchange's
    /// gateway reads. One stream per client: a second successful call replaces the first
    /// stream (this exchange refuses a second subscription on one connection, and then the
    /// first stream carries on).
    pub async fn subscribe_user_data(&self) -> Result<UserDataStream, ClientError> {
        let capacity = self.inner.config.user_data_queue.max(1);
        let (tx, rx) = mpsc::channel(capacity);
        let dropped = Arc::new(AtomicU64::new(0));
        // Installed before the request so that no event after the subscription is missed;
        // the previous stream (if any) is put back if the server refuses.
        let previous = lock(&self.inner.shared.user_data).replace(UserDataSink {
            tx,
            dropped: Arc::clone(&dropped),
        });
        match self
            .signed_request("userDataStream.subscribe", Map::new())
            .await
        {
            Ok(result) => Ok(UserDataStream {
                rx,
                dropped,
                subscription_id: result.get("subscriptionId").and_then(Value::as_u64),
            }),
            Err(e) => {
                *lock(&self.inner.shared.user_data) = previous;
                Err(e)
            }
        }
    }
}

fn symbol_param(symbol: &str) -> Map<String, Value> {
    let mut params = Map::new();
    params.insert("symbol".into(), Value::String(symbol.to_string()));
    params
}

fn order_params(symbol: &str, order: &OrderRef) -> Map<String, Value> {
    let mut params = Params::with_capacity(2);
    params.push("symbol", ParamValue::Str(symbol));
    let (name, value) = order.param(false);
    params.push(name, value);
    params.to_map()
}

/// The parameters of `order.cancelReplace` (unsigned).
pub fn cancel_replace_params(
    cancel: &OrderRef,
    mode: CancelReplaceMode,
    new_order: &OrderRequest,
) -> Map<String, Value> {
    let mut params = Params::with_capacity(12);
    write_cancel_replace_params(&mut params, cancel.param(true), mode, new_order);
    params.to_map()
}

/// Pushed user data events of one subscription.
#[derive(Debug)]
pub struct UserDataStream {
    rx: mpsc::Receiver<UserEvent>,
    dropped: Arc<AtomicU64>,
    subscription_id: Option<u64>,
}

impl UserDataStream {
    /// The next event; `None` once the connection has closed and the buffer is drained.
    pub async fn next(&mut self) -> Option<UserEvent> {
        self.rx.recv().await
    }

    /// Events dropped because this stream's buffer was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// `subscriptionId` from the subscribe response, when the server sent one.
    pub fn subscription_id(&self) -> Option<u64> {
        self.subscription_id
    }
}

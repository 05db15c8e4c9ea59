//! md-push: Binance-shaped public market data over WebSocket and REST.
//!
//! ```text
//! events journal --catch up / fill gaps--+
//!                                        +--> Feed --> hub task: MarketState (books from
//! node broadcast ------------live--------+             BookLevel events, trades, tickers,
//!                                                      candles) --render once--> Registry
//!                                                      --try_send--> bounded queue per
//!                                                      connection --> socket writer
//! ```
//!
//! * Streams (`/ws/<stream>`, `/stream?streams=a/b`, live `SUBSCRIBE`): `<s>@depth`,
//!   `<s>@depth@100ms` (diffs with `U`/`u`), `<s>@depth5|10|20[@100ms]` (top-N with
//!   `lastUpdateId`), `<s>@trade`, `<s>@bookTicker`, `<s>@ticker`, `<s>@kline_<interval>`.
//!   Extensions: `<s>@depth@0ms` (one diff per command) and the suffix `@checksum` on any
//!   diff stream, which adds `"cs"`: the CRC32 of the book's top 10 levels after the message
//!   ([`checksum`], Kraken's algorithm).
//! * REST: `GET /api/v3/depth`, `/trades`, `/ticker/24hr`, `/klines`, `/exchangeInfo`.
//! * Update ids: `u`, `lastUpdateId` and the book ticker's `u` are **event sequence
//!   numbers** (global, gapless). A symbol's diffs of one cadence tile the sequence line:
//!   each diff's `U` is the previous diff's `u + 1`, and `u` is the last event applied when
//!   it was cut, so a client that follows Binance's local-book procedure against
//!   `GET /api/v3/depth` (whose `lastUpdateId` is the last event applied to the book it
//!   returns) ends with the matcher's book.
//! * Durable only: the feed reads the node's broadcast, which carries only commands that
//!   are durable in the commands journal, and the events journal.
//! * Start late or restart: the hub rebuilds everything from event 1 of the events journal,
//!   then follows the broadcast; a `Lagged` broadcast is bridged from the journal too.
//! * Slow subscribers: every connection has a bounded queue
//!   ([`MdPushConfig::subscriber_queue`]); when a push finds it full, the connection is
//!   removed from every stream, sent `{"error":{"code":4,"msg":"Slow consumer: .."}}` and
//!   closed (1008). The hub never waits for a socket.
//! * Pings every 20 s; a connection that sent nothing (not even a pong) for 60 s is closed;
//!   more than 5 incoming messages per second closes it; at most 1024 streams each.
//! * Klines: intervals without trades are omitted from REST (as Binance does); the stream
//!   reports the current interval even when empty (`o=h=l=c` = previous close, `n` 0, `f`
//!   and `L` -1) and closes every interval on time with `x: true`.

pub mod book;
pub mod checksum;
mod error;
pub mod feed;
mod hub;
mod market;
mod registry;
mod render;
mod rest;
mod session;
pub mod stream;
pub mod ticker;

pub use error::{MdPushError, RestError};
pub use registry::PushMetrics;
pub use session::SLOW_CONSUMER_CODE;

use futures_util::future::BoxFuture;
use gateway::api::markets::{exchange_info, ExchangeLimits, Markets, SymbolSelection};
use node::{NodeHandle, Projection};
use serde_json::Value;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// md-push limits and behaviour.
#[derive(Debug, Clone)]
pub struct MdPushConfig {
    /// Messages queued per connection before it is cut off as a slow consumer.
    pub subscriber_queue: usize,
    /// Most streams per connection (Binance: 1024).
    pub max_streams_per_connection: usize,
    /// Most simultaneous connections (more are refused with HTTP 503).
    pub max_connections: usize,
    /// Largest incoming frame, bytes.
    pub max_message_bytes: usize,
    /// Incoming messages (text, binary, ping) per second before the connection is closed
    /// (Binance: 5).
    pub max_incoming_per_second: u32,
    /// How often the server pings (Binance: 20 s).
    pub ping_interval: Duration,
    /// Close a connection silent for this long (Binance: one minute).
    pub idle_timeout: Duration,
    /// Trades kept per symbol for `GET /api/v3/trades`.
    pub trades_kept: usize,
    /// Closed candles kept in memory per symbol and interval for `GET /api/v3/klines`.
    pub kline_history: usize,
    /// How long after an interval's end (wall clock) a kline stream closes it when no later
    /// event arrived; covers commands stamped before the end but not yet applied.
    pub kline_close_grace: Duration,
    /// REST reads waiting for the hub before `-1003` busy.
    pub request_queue: usize,
    /// How long a REST read waits for its answer before `-1001` (HTTP 503). The hub answers
    /// only once its feed has caught up (after a start over a long journal, or after
    /// falling behind the broadcast), so that it never answers from a partly replayed state.
    pub rest_wait: Duration,
    /// How long a connection cut off as a slow consumer is given to take the error message
    /// and the close frame before its socket is dropped.
    pub goodbye_timeout: Duration,
}

impl Default for MdPushConfig {
    fn default() -> Self {
        MdPushConfig {
            subscriber_queue: 4096,
            max_streams_per_connection: 1024,
            max_connections: 10_000,
            max_message_bytes: 64 << 10,
            max_incoming_per_second: 5,
            ping_interval: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            trades_kept: 1000,
            kline_history: 1000,
            kline_close_grace: Duration::from_millis(250),
            request_queue: 1024,
            rest_wait: Duration::from_secs(5),
            goodbye_timeout: Duration::from_secs(5),
        }
    }
}

type ExchangeInfoFn =
    dyn Fn(Option<Vec<String>>) -> BoxFuture<'static, Result<Value, RestError>> + Send + Sync;

/// A running md-push: the hub task and what the connections share.
pub struct MdPush {
    config: MdPushConfig,
    registry: Arc<registry::Registry>,
    hub: mpsc::Sender<hub::Request>,
    status: Arc<hub::HubStatus>,
    connections: AtomicUsize,
    next_conn: AtomicU64,
    exchange_info: Box<ExchangeInfoFn>,
}

impl std::fmt::Debug for MdPush {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MdPush")
            .field("config", &self.config)
            .field("applied_seq", &self.applied_seq())
            .finish_non_exhaustive()
    }
}

/// A point-in-time copy of md-push's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MdPushMetrics {
    /// Last event applied to the market state.
    pub applied_seq: u64,
    /// Messages queued to subscribers since start.
    pub messages: u64,
    /// Subscribers cut off as slow consumers since start.
    pub slow_cut: u64,
    /// Open connections.
    pub connections: usize,
    /// Times the node's broadcast skipped events (a lagging subscriber) and the events
    /// journal filled the gap.
    pub broadcast_gaps: u64,
}

impl MdPush {
    /// Starts the hub on the current tokio runtime: it replays the events journal from the
    /// first event, then follows `node`'s broadcast.
    pub fn start<P: Projection>(
        node: &NodeHandle<P>,
        config: MdPushConfig,
    ) -> Result<Arc<MdPush>, MdPushError> {
        // Subscribe before reading the journal: nothing can fall between the two.
        let live = node.subscribe();
        let feed = feed::Feed::new(live, node.events_journal().clone(), 1);
        let (hub_tx, hub_rx) = mpsc::channel(config.request_queue.max(1));
        let registry = Arc::new(registry::Registry::default());
        let status = Arc::new(hub::HubStatus::default());
        let hub = hub::Hub::new(Arc::clone(&registry), Arc::clone(&status), config.clone());
        tokio::spawn(hub.run(feed, hub_rx));
        let n = node.clone();
        let exchange_info: Box<ExchangeInfoFn> = Box::new(move |selection| {
            let n = n.clone();
            Box::pin(async move { engine_exchange_info(&n, selection).await })
        });
        Ok(Arc::new(MdPush {
            config,
            registry,
            hub: hub_tx,
            status,
            connections: AtomicUsize::new(0),
            next_conn: AtomicU64::new(1),
            exchange_info,
        }))
    }

    /// The last event applied to the market state.
    pub fn applied_seq(&self) -> u64 {
        self.status.applied_seq.load(Ordering::Acquire)
    }

    /// Whether the hub follows the live broadcast (false while catching up from the journal).
    pub fn is_live(&self) -> bool {
        self.status.live.load(Ordering::Acquire)
    }

    /// Counters.
    pub fn metrics(&self) -> MdPushMetrics {
        MdPushMetrics {
            applied_seq: self.applied_seq(),
            messages: self.registry.metrics.messages.load(Ordering::Relaxed),
            slow_cut: self.registry.metrics.slow_cut.load(Ordering::Relaxed),
            connections: self.connections.load(Ordering::Relaxed),
            broadcast_gaps: self.status.gaps.load(Ordering::Relaxed),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &MdPushConfig {
        &self.config
    }
}

async fn engine_exchange_info<P: Projection>(
    node: &NodeHandle<P>,
    selection: Option<Vec<String>>,
) -> Result<Value, RestError> {
    let (markets, max_num_orders) = node
        .query(|engine, _| {
            (
                Markets::from_engine(engine),
                engine.max_open_orders_per_account(),
            )
        })
        .await
        .map_err(|e| RestError::unavailable(e.to_string()))?;
    let selection = match selection {
        None => SymbolSelection::All,
        Some(names) => SymbolSelection::Only(
            names
                .iter()
                .map(|n| {
                    markets
                        .by_name(n)
                        .map(|m| m.id())
                        .map_err(|_| RestError::bad_symbol())
                })
                .collect::<Result<_, _>>()?,
        ),
    };
    let limits = ExchangeLimits {
        rate_limits: Vec::new(),
        max_num_orders,
    };
    Ok(exchange_info(&markets, &selection, &limits, hub::now_ms()))
}

/// The routes: `/ws`, `/ws/<streams>`, `/stream`, and the REST reads under `/api/v3`.
pub fn router(md: Arc<MdPush>) -> axum::Router {
    use axum::routing::get;
    axum::Router::new()
        .route("/ws", get(session::ws_bare))
        .route("/ws/{*streams}", get(session::ws_raw))
        .route("/stream", get(session::ws_combined))
        .route("/api/v3/depth", get(rest::depth))
        .route("/api/v3/trades", get(rest::trades))
        .route("/api/v3/ticker/24hr", get(rest::ticker))
        .route("/api/v3/klines", get(rest::klines))
        .route("/api/v3/exchangeInfo", get(rest::exchange_info))
        .with_state(md)
}

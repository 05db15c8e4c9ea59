//! The WebSocket order-entry server: Binance's Spot WebSocket API at `/ws-api/v3`, plus
//! `/metrics` (Prometheus text).
//!
//! * One tokio task per connection ([`session`]): it reads frames, answers in request order
//!   (many requests in flight; a bounded number per connection), and writes pushes.
//! * Order requests are validated here (never journaled when invalid), counted against the
//!   rate limits ([`limits`]), then submitted to the node; the answer leaves only after the
//!   command is durable and applied (the node resolves the submit only then).
//! * The user data stream ([`user_stream`]): one task follows the node's event broadcast and
//!   routes `executionReport` / `outboundAccountPosition` pushes to the sessions subscribed
//!   for the account.
//!
//! # Limits and the slow-reader policy
//! * At most [`GatewayConfig::max_connections`] connections: more are refused with HTTP 503
//!   before the upgrade.
//! * A frame larger than [`GatewayConfig::max_message_bytes`] closes the connection with
//!   close code 1009 (message too big): that is abuse, not a request error.
//! * At most [`GatewayConfig::max_in_flight`] requests in progress per connection: beyond it
//!   the server stops reading from that socket until answers go out (TCP backpressure).
//! * Each connection writes its own answers, several to a write when they are ready together.
//!   While an answer cannot be written the session reads none of that client's requests; if
//!   it stays unwritten for [`GatewayConfig::slow_client_timeout`], the client is taken not
//!   to read and is disconnected. User-data pushes wait for the session in a queue of
//!   [`GatewayConfig::outbound_queue`] messages; a push that finds it full disconnects at once
//!   (the router never waits for one client). The server never buffers without bound and
//!   never slows other clients for one. Orders a disconnected client sent keep their effect;
//!   it can reconnect and query them.

mod dispatch;
pub mod limits;
mod metrics;
mod orders;
mod session;
mod user_stream;

pub use metrics::GatewayMetrics;

use crate::api::{OrderIndex, RateLimitInterval, RateLimitType};
use crate::keys::KeyStore;
use limits::{AccountLimits, Limit};
use node::NodeHandle;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Gateway limits and behaviour.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Most simultaneous WebSocket connections.
    pub max_connections: usize,
    /// Largest accepted frame, bytes.
    pub max_message_bytes: usize,
    /// User-data pushes queued per connection (waiting for it to write them) before it is cut
    /// off.
    pub outbound_queue: usize,
    /// Requests in progress per connection before the server stops reading from it.
    pub max_in_flight: usize,
    /// `REQUEST_WEIGHT` per minute per connection.
    pub request_weight_per_minute: u64,
    /// `ORDERS` per 10 seconds, per connection and per account.
    pub orders_per_10s: u64,
    /// `ORDERS` per day per account.
    pub orders_per_day: u64,
    /// Close a connection that sent nothing (not even a pong) for this long.
    pub idle_timeout: Duration,
    /// How often the server pings each connection.
    pub ping_interval: Duration,
    /// How long an answer may wait for room in a full outbound queue before the client is
    /// considered not to read and is disconnected.
    pub slow_client_timeout: Duration,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            max_connections: 4096,
            max_message_bytes: 64 << 10,
            outbound_queue: 8192,
            max_in_flight: 4096,
            request_weight_per_minute: 6000,
            orders_per_10s: 10_000,
            orders_per_day: 10_000_000,
            idle_timeout: Duration::from_secs(180),
            ping_interval: Duration::from_secs(20),
            slow_client_timeout: Duration::from_secs(5),
        }
    }
}

impl GatewayConfig {
    /// The per-connection request-weight limit.
    pub fn weight_limit(&self) -> Limit {
        Limit {
            rate_limit_type: RateLimitType::RequestWeight,
            interval: RateLimitInterval::Minute,
            interval_num: 1,
            limit: self.request_weight_per_minute,
        }
    }

    /// The order limits: per 10 s (per connection and per account) and per day (per account).
    pub fn order_limits(&self) -> [Limit; 2] {
        [
            Limit {
                rate_limit_type: RateLimitType::Orders,
                interval: RateLimitInterval::Second,
                interval_num: 10,
                limit: self.orders_per_10s,
            },
            Limit {
                rate_limit_type: RateLimitType::Orders,
                interval: RateLimitInterval::Day,
                interval_num: 1,
                limit: self.orders_per_day,
            },
        ]
    }
}

/// Everything the connections share.
pub struct Gateway {
    /// The node.
    pub node: NodeHandle<OrderIndex>,
    /// API keys (read on every signed request; written by operator tools at start).
    pub keys: RwLock<KeyStore>,
    /// Where the key store lives (reloaded, at most once a second, when an unknown key is
    /// presented, so keys issued while the node runs work at once).
    keys_dir: std::path::PathBuf,
    last_key_reload: std::sync::Mutex<Option<std::time::Instant>>,
    /// Cancel-on-disconnect: each account whose timer task runs, with its deadline (`None`:
    /// disarmed, the task ends when it wakes). One task per account, however often re-armed.
    pub(crate) dead_man: std::sync::Mutex<
        std::collections::HashMap<matcher::AccountId, Option<tokio::time::Instant>>,
    >,
    /// Limits.
    pub config: GatewayConfig,
    /// Per-account order counters.
    pub account_limits: AccountLimits,
    /// The symbol catalogue, swapped whole when the configuration changes.
    pub markets: RwLock<Arc<crate::api::markets::Markets>>,
    /// Counters for `/metrics`.
    pub metrics: GatewayMetrics,
    /// The engine's open-order cap per account (for `exchangeInfo`).
    pub max_open_orders: u32,
    /// User-data-stream routing.
    pub(crate) user_streams: user_stream::Registry,
    next_connection: AtomicU64,
    started_s: u64,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// A gateway in front of `node`, with its symbol catalogue loaded from the engine. Also
    /// starts the user-data-stream routing task (on the current tokio runtime).
    pub async fn start(
        node: NodeHandle<OrderIndex>,
        keys: KeyStore,
        keys_dir: std::path::PathBuf,
        config: GatewayConfig,
    ) -> Result<Arc<Self>, node::NodeError> {
        // Subscribe before loading the catalogue, so no configuration change falls between.
        let events = node.subscribe();
        let markets = load_markets(&node).await?;
        let max_open_orders = node
            .query(|engine, _| engine.max_open_orders_per_account())
            .await?;
        let gateway = Arc::new(Gateway {
            node,
            keys: RwLock::new(keys),
            keys_dir,
            last_key_reload: std::sync::Mutex::new(None),
            dead_man: std::sync::Mutex::new(std::collections::HashMap::new()),
            config,
            account_limits: AccountLimits::default(),
            markets: RwLock::new(Arc::new(markets)),
            max_open_orders,
            metrics: GatewayMetrics::default(),
            user_streams: user_stream::Registry::default(),
            next_connection: AtomicU64::new(1),
            started_s: now_ms() / 1000,
        });
        tokio::spawn(user_stream::route(Arc::clone(&gateway), events));
        Ok(gateway)
    }

    /// The current symbol catalogue.
    pub fn markets(&self) -> Arc<crate::api::markets::Markets> {
        Arc::clone(
            &self
                .markets
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// `f` of the key `api_key` (under the store's read lock, so nothing is copied),
    /// reloading the store from disk (at most once a second) when the key is unknown.
    pub(crate) fn with_api_key<R>(
        &self,
        api_key: &str,
        f: impl FnOnce(&crate::keys::ApiKey) -> R,
    ) -> Option<R> {
        let mut f = Some(f);
        let mut read = |g: &RwLock<KeyStore>| {
            let store = g.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            let key = store.get(api_key)?;
            f.take().map(|f| f(key))
        };
        if let Some(r) = read(&self.keys) {
            return Some(r);
        }
        {
            let mut last = self
                .last_key_reload
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.is_some_and(|t| t.elapsed() < Duration::from_secs(1)) {
                return None;
            }
            *last = Some(std::time::Instant::now());
        }
        match KeyStore::open(&self.keys_dir) {
            Ok(store) => {
                *self
                    .keys
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = store;
            }
            Err(e) => tracing::warn!(error = %e, "reloading API keys failed"),
        }
        read(&self.keys)
    }

    /// A number unique to a connection across restarts, for generated client order ids:
    /// the gateway's start time in seconds above a 24-bit connection counter.
    pub(crate) fn client_id_prefix(&self, connection: u64) -> u64 {
        (self.started_s << 24) | (connection & 0xff_ffff)
    }

    pub(crate) fn connection_id(&self) -> u64 {
        self.next_connection.fetch_add(1, Ordering::Relaxed)
    }
}

/// Builds the catalogue from the engine.
pub(crate) async fn load_markets(
    node: &NodeHandle<OrderIndex>,
) -> Result<crate::api::markets::Markets, node::NodeError> {
    node.query(|engine, _| crate::api::markets::Markets::from_engine(engine))
        .await
}

/// The routes: `/ws-api/v3` and `/metrics`.
pub fn router(gateway: Arc<Gateway>) -> axum::Router {
    use axum::routing::get;
    axum::Router::new()
        .route("/ws-api/v3", get(session::upgrade))
        .route("/metrics", get(metrics::handler))
        .with_state(gateway)
}

/// The listener type [`nodelay`] returns.
pub type NoDelayListener =
    axum::serve::TapIo<tokio::net::TcpListener, fn(&mut tokio::net::TcpStream)>;

fn set_nodelay(tcp: &mut tokio::net::TcpStream) {
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(error = %e, "cannot set TCP_NODELAY");
    }
}

/// Wraps `listener` so that every accepted connection has `TCP_NODELAY` set: answers are
/// small frames, and Nagle's algorithm would hold one behind the peer's delayed ACK (up to
/// 40 ms on Linux).
pub fn nodelay(listener: tokio::net::TcpListener) -> NoDelayListener {
    use axum::serve::ListenerExt;
    listener.tap_io(set_nodelay as fn(&mut tokio::net::TcpStream))
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

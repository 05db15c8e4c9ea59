//! Gateway counters and the `/metrics` endpoint (Prometheus text format).

use super::Gateway;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Gateway counters.
#[derive(Debug, Default)]
pub struct GatewayMetrics {
    /// Open WebSocket connections.
    pub connections: AtomicU64,
    /// Connections accepted since start.
    pub connections_total: AtomicU64,
    /// Upgrades refused because of the connection cap.
    pub connections_refused: AtomicU64,
    /// Connections closed because their outbound queue was full.
    pub slow_consumers_cut: AtomicU64,
    /// Requests received.
    pub requests: AtomicU64,
    /// Error responses sent.
    pub errors: AtomicU64,
    /// Requests refused by a rate limit.
    pub rate_limited: AtomicU64,
    /// Requests refused for a bad signature, key or timestamp.
    pub auth_failures: AtomicU64,
    /// User-data pushes queued.
    pub pushes: AtomicU64,
    /// Times the user-data router fell behind the event broadcast (subscribers were cut).
    pub user_stream_lagged: AtomicU64,
}

pub(crate) fn inc(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl GatewayMetrics {
    /// Appends the gateway's metrics in Prometheus text format.
    pub fn render_prometheus(&self, out: &mut String) {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# HELP exchange_ws_connections Open WebSocket API connections.\n\
             # TYPE exchange_ws_connections gauge\nexchange_ws_connections {}",
            get(&self.connections)
        );
        for (name, help, c) in [
            (
                "exchange_ws_connections_total",
                "Connections accepted.",
                &self.connections_total,
            ),
            (
                "exchange_ws_connections_refused_total",
                "Upgrades refused at the connection cap.",
                &self.connections_refused,
            ),
            (
                "exchange_ws_slow_consumers_cut_total",
                "Connections closed with a full outbound queue.",
                &self.slow_consumers_cut,
            ),
            (
                "exchange_ws_requests_total",
                "Requests received.",
                &self.requests,
            ),
            (
                "exchange_ws_errors_total",
                "Error responses sent.",
                &self.errors,
            ),
            (
                "exchange_ws_rate_limited_total",
                "Requests refused by a rate limit.",
                &self.rate_limited,
            ),
            (
                "exchange_ws_auth_failures_total",
                "Requests refused for key, signature or timestamp.",
                &self.auth_failures,
            ),
            (
                "exchange_ws_user_data_pushes_total",
                "User-data pushes queued.",
                &self.pushes,
            ),
            (
                "exchange_ws_user_stream_lagged_total",
                "Times the user-data router fell behind.",
                &self.user_stream_lagged,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                get(c)
            );
        }
    }
}

/// `GET /metrics`.
pub(crate) async fn handler(State(gateway): State<Arc<Gateway>>) -> impl IntoResponse {
    let mut out = String::with_capacity(8192);
    gateway.node.metrics().render_prometheus(&mut out);
    gateway.metrics.render_prometheus(&mut out);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
}

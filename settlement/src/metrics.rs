//! Settlement's progress counters, shared with whoever reports them.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one settlement consumer (all monotonic except `head_seq`).
#[derive(Debug, Default)]
pub struct Metrics {
    /// The last event committed to Postgres.
    pub applied_seq: AtomicU64,
    /// The newest durable event of the journal, as last seen.
    pub head_seq: AtomicU64,
    /// Batches committed.
    pub batches: AtomicU64,
    /// Events committed.
    pub events: AtomicU64,
    /// Trades committed.
    pub trades: AtomicU64,
    /// Ledger transfers committed.
    pub ledger_rows: AtomicU64,
    /// Failed attempts (each followed by a backoff and a reconnect).
    pub retries: AtomicU64,
}

impl Metrics {
    /// Events behind the journal head (0 when caught up).
    pub fn lag(&self) -> u64 {
        self.head_seq
            .load(Ordering::Relaxed)
            .saturating_sub(self.applied_seq.load(Ordering::Relaxed))
    }

    /// Prometheus text exposition of the counters.
    pub fn render_prometheus(&self) -> String {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        format!(
            "# TYPE settlement_applied_seq gauge\nsettlement_applied_seq {}\n\
             # TYPE settlement_head_seq gauge\nsettlement_head_seq {}\n\
             # TYPE settlement_lag_events gauge\nsettlement_lag_events {}\n\
             # TYPE settlement_batches_total counter\nsettlement_batches_total {}\n\
             # TYPE settlement_events_total counter\nsettlement_events_total {}\n\
             # TYPE settlement_trades_total counter\nsettlement_trades_total {}\n\
             # TYPE settlement_ledger_rows_total counter\nsettlement_ledger_rows_total {}\n\
             # TYPE settlement_retries_total counter\nsettlement_retries_total {}\n",
            g(&self.applied_seq),
            g(&self.head_seq),
            self.lag(),
            g(&self.batches),
            g(&self.events),
            g(&self.trades),
            g(&self.ledger_rows),
            g(&self.retries),
        )
    }
}

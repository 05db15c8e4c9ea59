//! The node's counters, and their Prometheus text rendering.

use crate::node::Shared;
use journal::{Durations, JournalStats};
use matcher::{CancelReason, Event, EventKind, RejectReason};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// A relaxed counter.
#[derive(Debug, Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    pub(crate) fn inc(&self) {
        self.add(1);
    }
    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Power-of-two buckets of matcher batch sizes: bucket `i` counts batches of
/// `[2^i, 2^(i+1))` requests.
const BATCH_BUCKETS: usize = 17;
/// Reject reasons have codes 1..=REJECT_SLOTS-1.
const REJECT_SLOTS: usize = 32;
/// Cancel reasons, by their position in [`CANCEL_REASONS`].
const CANCEL_REASONS: [(CancelReason, &str); 12] = [
    (CancelReason::UserCancel, "user_cancel"),
    (CancelReason::CancelAll, "cancel_all"),
    (CancelReason::Replaced, "replaced"),
    (CancelReason::IocRemainder, "ioc_remainder"),
    (CancelReason::FokNotFilled, "fok_not_filled"),
    (CancelReason::MarketNoLiquidity, "market_no_liquidity"),
    (
        CancelReason::MarketInsufficientBalance,
        "market_insufficient_balance",
    ),
    (
        CancelReason::MarketAmountTooSmall,
        "market_amount_too_small",
    ),
    (CancelReason::StpExpireTaker, "stp_expire_taker"),
    (CancelReason::StpExpireMaker, "stp_expire_maker"),
    (CancelReason::StpExpireBoth, "stp_expire_both"),
    (CancelReason::StpDecrement, "stp_decrement"),
];

/// Live counters, updated by the matcher thread and the handles.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub commands: Counter,
    pub overloaded: Counter,
    pub accepted: Counter,
    pub rejected: [Counter; REJECT_SLOTS],
    pub cancelled: [Counter; CANCEL_REASONS.len()],
    pub cancel_replaced: Counter,
    pub trades: Counter,
    pub events: Counter,
    batches: [Counter; BATCH_BUCKETS],
    batched_requests: Counter,
}

impl Counters {
    pub(crate) fn record_batch(&self, n: usize) {
        let bucket = (usize::BITS - 1 - n.max(1).leading_zeros()) as usize;
        self.batches[bucket.min(BATCH_BUCKETS - 1)].inc();
        self.batched_requests.add(n as u64);
    }

    fn reject(&self, reason: RejectReason) {
        let i = usize::from(reason.code()).min(REJECT_SLOTS - 1);
        self.rejected[i].inc();
    }

    /// Counts one command's events.
    pub(crate) fn count_events(&self, events: &[Event]) {
        self.commands.inc();
        self.events.add(events.len() as u64);
        for e in events {
            match &e.kind {
                EventKind::OrderAccepted(_) => self.accepted.inc(),
                EventKind::Rejected { reason, .. } => self.reject(*reason),
                EventKind::Trade(_) => self.trades.inc(),
                EventKind::OrderCancelled { reason, .. } => {
                    if let Some(i) = CANCEL_REASONS.iter().position(|(r, _)| r == reason) {
                        self.cancelled[i].inc();
                    }
                }
                EventKind::CancelReplaced(cr) => {
                    self.cancel_replaced.inc();
                    if let matcher::event::NewOrderOutcome::Placed(_) = cr.new_order {
                        self.accepted.inc();
                    }
                    if let matcher::event::NewOrderOutcome::Failed { reason, .. } = cr.new_order {
                        self.reject(reason);
                    }
                }
                _ => {}
            }
        }
    }
}

/// Orders by outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderOutcomes {
    /// Orders accepted (including the new half of cancel-replaces).
    pub accepted: u64,
    /// Rejections by reason code ([`RejectReason::code`]), only the non-zero ones.
    pub rejected: Vec<(u16, u64)>,
    /// Orders closed without being filled, by reason (snake_case name), only the non-zero ones.
    pub cancelled: Vec<(&'static str, u64)>,
    /// Cancel-replace requests processed.
    pub cancel_replaced: u64,
    /// Trades.
    pub trades: u64,
}

/// A point-in-time copy of the node's metrics.
#[derive(Debug, Clone)]
pub struct NodeMetrics {
    /// Commands applied since start.
    pub commands: u64,
    /// Events emitted since start.
    pub events: u64,
    /// Submits refused because the request queue was full.
    pub overloaded: u64,
    /// Orders by outcome.
    pub orders: OrderOutcomes,
    /// Matcher batches (requests taken from the queue at once) by size bucket
    /// (`[2^i, 2^(i+1))` requests).
    pub batch_buckets: Vec<u64>,
    /// Requests taken by the matcher thread.
    pub batched_requests: u64,
    /// Requests (journaled commands and queries) waiting for the matcher thread.
    pub request_queue_depth: usize,
    /// Event subscribers (broadcast receivers).
    pub subscribers: usize,
    /// The commands journal's writer statistics.
    pub commands_journal: JournalStats,
    /// The events journal's writer statistics.
    pub events_journal: JournalStats,
    /// Last durable command index.
    pub commands_durable: u64,
    /// Last durable event index.
    pub events_durable: u64,
}

impl NodeMetrics {
    pub(crate) fn collect(shared: &Shared, request_queue_depth: usize, subscribers: usize) -> Self {
        let c = &shared.counters;
        NodeMetrics {
            commands: c.commands.get(),
            events: c.events.get(),
            overloaded: c.overloaded.get(),
            orders: OrderOutcomes {
                accepted: c.accepted.get(),
                rejected: (0..REJECT_SLOTS)
                    .filter(|&i| c.rejected[i].get() > 0)
                    .map(|i| (i as u16, c.rejected[i].get()))
                    .collect(),
                cancelled: CANCEL_REASONS
                    .iter()
                    .enumerate()
                    .filter(|&(i, _)| c.cancelled[i].get() > 0)
                    .map(|(i, (_, name))| (*name, c.cancelled[i].get()))
                    .collect(),
                cancel_replaced: c.cancel_replaced.get(),
                trades: c.trades.get(),
            },
            batch_buckets: c.batches.iter().map(Counter::get).collect(),
            batched_requests: c.batched_requests.get(),
            request_queue_depth,
            subscribers,
            commands_journal: shared.commands.stats(),
            events_journal: shared.events.stats(),
            commands_durable: shared.commands.durable_index(),
            events_durable: shared.events.durable_index(),
        }
    }

    /// Appends the metrics in Prometheus text exposition format (version 0.0.4).
    pub fn render_prometheus(&self, out: &mut String) {
        let mut counter = |name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        counter(
            "exchange_commands_total",
            "Commands applied by the matcher.",
            self.commands,
        );
        counter(
            "exchange_events_total",
            "Events emitted by the matcher.",
            self.events,
        );
        counter(
            "exchange_overloaded_total",
            "Submits refused: request queue full.",
            self.overloaded,
        );
        counter(
            "exchange_trades_total",
            "Trades executed.",
            self.orders.trades,
        );
        counter(
            "exchange_orders_accepted_total",
            "Orders accepted.",
            self.orders.accepted,
        );
        counter(
            "exchange_cancel_replace_total",
            "Cancel-replace requests processed.",
            self.orders.cancel_replaced,
        );
        counter(
            "exchange_matcher_requests_total",
            "Requests taken by the matcher thread.",
            self.batched_requests,
        );
        let _ = writeln!(
            out,
            "# HELP exchange_orders_rejected_total Requests rejected by the matcher, by reason code.\n\
             # TYPE exchange_orders_rejected_total counter"
        );
        for (code, n) in &self.orders.rejected {
            let _ = writeln!(
                out,
                "exchange_orders_rejected_total{{reason=\"{code}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP exchange_orders_closed_unfilled_total Orders cancelled or expired, by reason.\n\
             # TYPE exchange_orders_closed_unfilled_total counter"
        );
        for (name, n) in &self.orders.cancelled {
            let _ = writeln!(
                out,
                "exchange_orders_closed_unfilled_total{{reason=\"{name}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP exchange_matcher_batch_size Requests the matcher thread takes at once.\n\
             # TYPE exchange_matcher_batch_size histogram"
        );
        let mut cumulative = 0;
        for (i, n) in self.batch_buckets.iter().enumerate() {
            cumulative += n;
            let le = (1u64 << (i + 1)) - 1;
            let _ = writeln!(
                out,
                "exchange_matcher_batch_size_bucket{{le=\"{le}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "exchange_matcher_batch_size_bucket{{le=\"+Inf\"}} {cumulative}\n\
             exchange_matcher_batch_size_sum {}\nexchange_matcher_batch_size_count {cumulative}",
            self.batched_requests
        );
        let mut gauge = |name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        };
        gauge(
            "exchange_request_queue_depth",
            "Requests (journaled commands and queries) waiting for the matcher thread.",
            self.request_queue_depth as u64,
        );
        gauge(
            "exchange_event_subscribers",
            "Event fan-out subscribers.",
            self.subscribers as u64,
        );
        gauge(
            "exchange_commands_durable_index",
            "Last durable command.",
            self.commands_durable,
        );
        gauge(
            "exchange_events_durable_index",
            "Last durable event.",
            self.events_durable,
        );
        for (journal, stats) in [
            ("commands", &self.commands_journal),
            ("events", &self.events_journal),
        ] {
            render_journal(out, journal, stats);
        }
    }
}

fn render_journal(out: &mut String, journal: &str, stats: &JournalStats) {
    let _ = writeln!(
        out,
        "# TYPE exchange_journal_syncs_total counter\nexchange_journal_syncs_total{{journal=\"{journal}\"}} {}\n\
         # TYPE exchange_journal_records_total counter\nexchange_journal_records_total{{journal=\"{journal}\"}} {}\n\
         # TYPE exchange_journal_bytes_total counter\nexchange_journal_bytes_total{{journal=\"{journal}\"}} {}",
        stats.syncs, stats.records, stats.bytes
    );
    render_durations(
        out,
        "exchange_journal_fdatasync_seconds",
        journal,
        &stats.sync_durations,
    );
}

fn render_durations(out: &mut String, name: &str, journal: &str, d: &Durations) {
    let _ = writeln!(out, "# TYPE {name} histogram");
    let mut cumulative = 0;
    for (i, n) in d.buckets.iter().enumerate() {
        cumulative += n;
        // Bucket i holds durations below 2^(i+1) microseconds.
        let le_us = 2u64 << i;
        let _ = writeln!(
            out,
            "{name}_bucket{{journal=\"{journal}\",le=\"{}.{:06}\"}} {cumulative}",
            le_us / 1_000_000,
            le_us % 1_000_000
        );
    }
    let _ = writeln!(
        out,
        "{name}_bucket{{journal=\"{journal}\",le=\"+Inf\"}} {cumulative}\n\
         {name}_sum{{journal=\"{journal}\"}} {}.{:09}\n{name}_count{{journal=\"{journal}\"}} {cumulative}",
        d.total_ns / 1_000_000_000,
        d.total_ns % 1_000_000_000
    );
}

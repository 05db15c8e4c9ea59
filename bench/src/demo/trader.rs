//! One simulated trader: an open-loop sender driven by its flow.

use super::stats::{new_histogram, record_latency, ErrorKind, Stats};
use crate::client::{Client, ClientError, PendingResponse, UserDataStream, UserEvent};
use crate::flow::Flow;
use futures_util::stream::FuturesUnordered;
use futures_util::StreamExt;
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How often a trader merges its local latency histogram into the shared one.
const MERGE_EVERY: Duration = Duration::from_millis(100);

/// A trader's schedule.
#[derive(Clone, Copy, Debug)]
pub(super) struct Plan {
    pub start: tokio::time::Instant,
    pub offset: Duration,
    pub period: Duration,
    pub walk_interval: Duration,
    pub drain_timeout: Duration,
}

/// How a trader ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ending {
    /// The stop signal.
    Stopped,
    /// Its connection closed.
    Disconnected,
}

type Done = (u64, Instant, Instant, Result<Value, ClientError>);
type InFlight = FuturesUnordered<Pin<Box<dyn Future<Output = Done> + Send>>>;

fn track(in_flight: &mut InFlight, tag: u64, due: Instant, pending: PendingResponse) {
    in_flight.push(Box::pin(async move {
        let (arrived, result) = pending.wait_timed().await;
        (tag, due, arrived, result)
    }));
}

async fn next_event(user: &mut Option<UserDataStream>) -> Option<UserEvent> {
    match user {
        Some(stream) => stream.next().await,
        None => std::future::pending().await,
    }
}

struct Trader {
    flow: Flow,
    stats: Arc<Stats>,
    local: hdrhistogram::Histogram<u64>,
}

impl Trader {
    /// Accounts for one completed request; true when the connection is gone.
    fn complete(&mut self, (tag, due, arrived, result): Done) -> bool {
        let us =
            u64::try_from(arrived.saturating_duration_since(due).as_micros()).unwrap_or(u64::MAX);
        let feedback = self.flow.on_result(tag, &result);
        match &result {
            Ok(_) => {
                record_latency(&mut self.local, us);
                self.stats.record_ok(feedback.fills as u64);
                false
            }
            Err(e) => {
                tracing::debug!(error = ?e, tag, "request failed");
                let kind = ErrorKind::of(e);
                if matches!(kind, ErrorKind::Api(_)) {
                    // An error response is an acknowledgement too.
                    record_latency(&mut self.local, us);
                }
                self.stats.record_error(kind);
                matches!(e, ClientError::Closed)
            }
        }
    }
}

/// Runs one trader until `stop` or its connection closes.
pub(super) async fn run(
    index: usize,
    client: Client,
    mut user: Option<UserDataStream>,
    flow: Flow,
    plan: Plan,
    stats: Arc<Stats>,
    mut stop: watch::Receiver<bool>,
) -> Ending {
    let mut t = Trader {
        flow,
        stats,
        local: new_histogram(),
    };
    let mut in_flight: InFlight = FuturesUnordered::new();
    let mut k: u64 = 0;
    let mut next_merge = tokio::time::Instant::now() + MERGE_EVERY;
    let walk_ns = plan.walk_interval.as_nanos().max(1);
    let mut ending = Ending::Stopped;
    'run: loop {
        let since_start = u64::try_from(plan.period.as_nanos() * u128::from(k)).unwrap_or(u64::MAX);
        let due = plan.start + plan.offset + Duration::from_nanos(since_start);
        tokio::select! {
            biased;
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break 'run;
                }
            }
            Some(done) = in_flight.next(), if !in_flight.is_empty() => {
                if t.complete(done) {
                    ending = Ending::Disconnected;
                    break 'run;
                }
            }
            event = next_event(&mut user) => match event {
                Some(e) => t.flow.on_execution_report(&e),
                None => user = None,
            },
            () = tokio::time::sleep_until(next_merge) => {
                t.stats.merge(&t.local);
                t.local.reset();
                next_merge += MERGE_EVERY;
            }
            () = tokio::time::sleep_until(due) => {
                let step = due.saturating_duration_since(plan.start).as_nanos() / walk_ns;
                t.flow.advance_to(u64::try_from(step).unwrap_or(u64::MAX));
                let action = t.flow.next_action();
                let due_std = due.into_std();
                match client.start_signed(action.method(), action.params()).await {
                    Ok(pending) => {
                        t.stats.record_sent();
                        track(&mut in_flight, action.tag, due_std, pending);
                    }
                    Err(e) => {
                        let closed = matches!(e, ClientError::Closed);
                        t.complete((action.tag, due_std, Instant::now(), Err(e)));
                        if closed {
                            ending = Ending::Disconnected;
                            break 'run;
                        }
                    }
                }
                k += 1;
            }
        }
    }
    // Let the responses in flight arrive (they were sent and count), within a limit.
    let drain = async {
        while let Some(done) = in_flight.next().await {
            t.complete(done);
        }
    };
    if tokio::time::timeout(plan.drain_timeout, drain)
        .await
        .is_err()
    {
        tracing::warn!(
            trader = index,
            "responses still in flight after the drain timeout"
        );
    }
    t.stats.merge(&t.local);
    if let Some(dropped) = user
        .as_ref()
        .map(UserDataStream::dropped)
        .filter(|&d| d > 0)
    {
        tracing::warn!(
            trader = index,
            dropped,
            "execution reports dropped (the trader fell behind its user data stream)"
        );
    }
    tracing::debug!(trader = index, requests = k, ?ending, "trader finished");
    ending
}

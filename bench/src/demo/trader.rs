//! One simulated trader: an open-loop sender driven by its flow.

use super::stats::{new_histogram, record_latency, ErrorKind, Stats};
use crate::client::{Client, ClientError, PendingResponse, UserDataStream, UserEvent};
use crate::flow::{ActionKind, Flow};
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How often a trader merges its local latency histograms into the shared ones. Each merge
/// walks and each reset clears a histogram's whole bucket array (tens of kilobytes), so this
/// is not done more often than the once-a-second live line needs.
const MERGE_EVERY: Duration = Duration::from_millis(250);

/// Most requests a trader sends in one go before it looks at responses again.
const SEND_BURST: usize = 64;

/// Most completed requests a trader accounts for in one go before it looks at its other
/// work again (more than [`SEND_BURST`], so accounting keeps up with sending).
const COMPLETE_BURST: usize = 4 * SEND_BURST;

/// How long a new order waits for its first execution report before it is forgotten.
const EXEC_REPORT_WAIT: Duration = Duration::from_secs(10);

/// A trader's schedule.
#[derive(Clone, Copy, Debug)]
pub(super) struct Plan {
    pub start: tokio::time::Instant,
    pub offset: Duration,
    pub period: Duration,
    pub walk_interval: Duration,
    pub drain_timeout: Duration,
    /// Requests due before this are not counted (warm-up).
    pub measure_from: Instant,
    /// Measure new orders' execution report latency.
    pub exec_reports: bool,
    /// Most requests tracked at once (in flight, or answered and not yet accounted for);
    /// at this many the trader accounts before it sends more.
    pub max_tracked: usize,
}

impl Plan {
    /// When request `k` is due.
    fn due(&self, k: u64) -> tokio::time::Instant {
        let since_start = u64::try_from(self.period.as_nanos() * u128::from(k)).unwrap_or(u64::MAX);
        self.start + self.offset + Duration::from_nanos(since_start)
    }
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
    send_lag: hdrhistogram::Histogram<u64>,
    exec_report: hdrhistogram::Histogram<u64>,
    measure_from: Instant,
    /// Counted requests sent and not yet completed.
    measured_in_flight: u64,
    /// When the trader saw the stop signal (the end of the measured window).
    window_end: Option<Instant>,
    /// Intended send times of counted new orders awaiting their first execution report,
    /// by `clientOrderId`.
    awaiting_report: HashMap<String, Instant>,
}

fn micros_between(from: Instant, to: Instant) -> u64 {
    u64::try_from(to.saturating_duration_since(from).as_micros()).unwrap_or(u64::MAX)
}

impl Trader {
    fn merge(&mut self) {
        if !self.local.is_empty() {
            self.stats.merge(&self.local);
            self.local.reset();
        }
        if !self.send_lag.is_empty() || !self.exec_report.is_empty() {
            self.stats
                .merge_secondary(&self.send_lag, &self.exec_report);
            self.send_lag.reset();
            self.exec_report.reset();
        }
    }

    /// Feeds a user data event to the flow and, when it is the first execution report of a
    /// counted new order, records its latency.
    fn on_event(&mut self, event: &UserEvent) {
        if !self.awaiting_report.is_empty() {
            if let Some(id) = event.event.get("c").and_then(Value::as_str) {
                if let Some(due) = self.awaiting_report.remove(id) {
                    record_latency(&mut self.exec_report, micros_between(due, Instant::now()));
                }
            }
        }
        self.flow.on_execution_report(event);
    }

    /// Forgets new orders that never got an execution report (rejected ones).
    fn prune_awaiting(&mut self, now: Instant) {
        self.awaiting_report
            .retain(|_, due| now.saturating_duration_since(*due) < EXEC_REPORT_WAIT);
    }

    /// Accounts for one completed request; true when the connection is gone.
    fn complete(&mut self, (tag, due, arrived, result): Done) -> bool {
        let us = micros_between(due, arrived);
        let feedback = self.flow.on_result(tag, &result);
        // Throughput counts answers by arrival inside the measured window, whenever they
        // were due (an overloaded run answers warm-up requests after the warm-up).
        let answered = matches!(result, Ok(_) | Err(ClientError::Api { .. }));
        if answered
            && arrived >= self.measure_from
            && self.window_end.is_none_or(|end| arrived <= end)
        {
            self.stats.record_answered_in_window();
        }
        if due < self.measure_from {
            return matches!(result, Err(ClientError::Closed));
        }
        self.measured_in_flight = self.measured_in_flight.saturating_sub(1);
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
        send_lag: new_histogram(),
        exec_report: new_histogram(),
        measure_from: plan.measure_from,
        measured_in_flight: 0,
        window_end: None,
        awaiting_report: HashMap::new(),
    };
    let mut in_flight: InFlight = FuturesUnordered::new();
    let mut k: u64 = 0;
    let mut next_merge = tokio::time::Instant::now() + MERGE_EVERY;
    let walk_ns = plan.walk_interval.as_nanos().max(1);
    let mut ending = Ending::Stopped;
    // Branches are polled in random order (no `biased`), so neither a stream of responses
    // nor a backlog of due requests starves the other.
    'run: loop {
        let due = plan.due(k);
        tokio::select! {
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    t.window_end = Some(Instant::now());
                    break 'run;
                }
            }
            Some(done) = in_flight.next(), if !in_flight.is_empty() => {
                let mut closed = t.complete(done);
                // Every other response already in, up to more than a burst of sends, so
                // answers are accounted for faster than requests go out.
                for _ in 1..COMPLETE_BURST {
                    match in_flight.next().now_or_never() {
                        Some(Some(done)) => closed |= t.complete(done),
                        _ => break,
                    }
                }
                if closed {
                    ending = Ending::Disconnected;
                    break 'run;
                }
            }
            event = next_event(&mut user) => match event {
                Some(e) => t.on_event(&e),
                None => user = None,
            },
            () = tokio::time::sleep_until(next_merge) => {
                t.merge();
                t.prune_awaiting(Instant::now());
                next_merge += MERGE_EVERY;
            }
            // At `max_tracked`, more than `max_in_flight` of them are answered: the branch
            // above is ready, and sending resumes after it.
            () = tokio::time::sleep_until(due), if in_flight.len() < plan.max_tracked => {
                // Every request due by now, up to a burst.
                let now = tokio::time::Instant::now();
                for _ in 0..SEND_BURST {
                    let due = plan.due(k);
                    // Answered requests not yet accounted for stay bounded too.
                    if due > now || in_flight.len() >= plan.max_tracked {
                        break;
                    }
                    let step = due.saturating_duration_since(plan.start).as_nanos() / walk_ns;
                    t.flow.advance_to(u64::try_from(step).unwrap_or(u64::MAX));
                    let mut action = t.flow.next_action();
                    let due_std = due.into_std();
                    let measured = due_std >= plan.measure_from;
                    if plan.exec_reports && measured {
                        if let ActionKind::Place(o) | ActionKind::Replace { order: o, .. } =
                            &mut action.kind
                        {
                            let id = format!("lb{index}x{k}");
                            o.client_order_id = Some(id.clone());
                            t.awaiting_report.insert(id, due_std);
                        }
                    }
                    k += 1;
                    match client.start_signed(action.method(), action.params()).await {
                        Ok(pending) => {
                            if measured {
                                t.stats.record_sent();
                                t.measured_in_flight += 1;
                                record_latency(
                                    &mut t.send_lag,
                                    micros_between(due_std, Instant::now()),
                                );
                            }
                            track(&mut in_flight, action.tag, due_std, pending);
                        }
                        Err(e) => {
                            let closed = matches!(e, ClientError::Closed);
                            if measured {
                                // Counted as failed without having been sent.
                                t.measured_in_flight += 1;
                            }
                            t.complete((action.tag, due_std, Instant::now(), Err(e)));
                            if closed {
                                ending = Ending::Disconnected;
                                break 'run;
                            }
                        }
                    }
                }
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
            unanswered = t.measured_in_flight,
            "responses still in flight after the drain timeout"
        );
    }
    t.stats
        .record_errors(ErrorKind::Unanswered, t.measured_in_flight);
    t.merge();
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

//! One simulated trader: an open-loop sender driven by its flow, on a connection its task
//! owns (it sends what is due, reads what arrived and accounts for each response in place).

use super::pacer::Pace;
use super::stats::{new_histogram, record_latency, ErrorKind, Stats};
use crate::client::{ClientError, Connection, ExecutionReport, Failure, Outcome, Params, Receiver};
use crate::flow::{ActionKind, Flow};
use std::collections::HashMap;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How often a trader merges its local latency histograms into the shared ones (and fails
/// overdue requests). Each merge walks and each reset clears a histogram's whole bucket
/// array (tens of kilobytes), so this is not done more often than the once-a-second live
/// line needs.
const MERGE_EVERY: Duration = Duration::from_millis(250);

/// Most requests a trader sends in one go before it looks at responses again.
const SEND_BURST: usize = 64;

/// Most frames a trader reads in one go before it looks at its other work again (more than
/// [`SEND_BURST`], so accounting keeps up with sending).
const COMPLETE_BURST: usize = 4 * SEND_BURST;

/// How long a new order waits for its first execution report before it is forgotten.
const EXEC_REPORT_WAIT: Duration = Duration::from_secs(10);

/// What a trader's connection carries with each request: the flow's tag and the request's
/// intended send time.
pub(super) type Token = (u64, Instant);

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

    /// Forgets new orders that never got an execution report (rejected ones).
    fn prune_awaiting(&mut self, now: Instant) {
        self.awaiting_report
            .retain(|_, due| now.saturating_duration_since(*due) < EXEC_REPORT_WAIT);
    }

    /// Accounts for one completed request.
    fn complete(&mut self, tag: u64, due: Instant, arrived: Instant, outcome: &Outcome) {
        let us = micros_between(due, arrived);
        let feedback = self.flow.on_result(tag, outcome);
        // Throughput counts answers by arrival inside the measured window, whenever they
        // were due (an overloaded run answers warm-up requests after the warm-up).
        let answered = matches!(outcome, Ok(_) | Err(Failure::Api(_)));
        if answered
            && arrived >= self.measure_from
            && self.window_end.is_none_or(|end| arrived <= end)
        {
            self.stats.record_answered_in_window();
        }
        if due < self.measure_from {
            return;
        }
        self.measured_in_flight = self.measured_in_flight.saturating_sub(1);
        match outcome {
            Ok(_) => {
                record_latency(&mut self.local, us);
                self.stats.record_ok(feedback.fills as u64);
            }
            Err(e) => {
                tracing::debug!(error = ?e, tag, "request failed");
                let kind = ErrorKind::of_failure(e);
                if matches!(kind, ErrorKind::Api(_)) {
                    // An error response is an acknowledgement too.
                    record_latency(&mut self.local, us);
                }
                self.stats.record_error(kind);
            }
        }
    }
}

impl Receiver<Token> for Trader {
    fn on_reply(&mut self, (tag, due): Token, arrived: Instant, outcome: Outcome) {
        self.complete(tag, due, arrived, &outcome);
    }

    /// Feeds an execution report to the flow and, when it is the first of a counted new
    /// order, records its latency.
    fn on_report(&mut self, report: &ExecutionReport<'_>, arrived: Instant) {
        if !self.awaiting_report.is_empty() {
            if let Some(id) = &report.client_order_id {
                if let Some(due) = self.awaiting_report.remove(id.as_ref()) {
                    record_latency(&mut self.exec_report, micros_between(due, arrived));
                }
            }
        }
        self.flow.on_execution_report(report);
    }
}

/// Runs one trader until `stop` or its connection closes.
pub(super) async fn run(
    index: usize,
    mut conn: Connection<Token>,
    flow: Flow,
    plan: Plan,
    pace: Pace,
    stats: Arc<Stats>,
    stop: watch::Receiver<bool>,
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
    let mut k: u64 = 0;
    let walk_ns = plan.walk_interval.as_nanos().max(1);
    let mut ending = Ending::Stopped;
    // The futures below live across loop turns: a turn (one per wake-up) creates no timer
    // entry and no watch registration (the send branch's wait, on the pacer, is a store).
    let mut stopped = pin!(async move {
        let mut stop = stop;
        while stop.changed().await.is_ok() && !*stop.borrow() {}
    });
    let mut next_tick = tokio::time::Instant::now() + MERGE_EVERY;
    let mut tick = pin!(tokio::time::sleep_until(next_tick));
    // Branches are polled in random order (no `biased`), so neither a stream of responses
    // nor a backlog of due requests starves the other.
    'run: loop {
        // False at `max_in_flight` requests awaiting a response (`receive` returns when one
        // comes, and sending resumes after it) and while earlier frames are being written.
        let can_send = conn.can_send();
        let next_due = plan.due(k).into_std();
        tokio::select! {
            () = &mut stopped => {
                t.window_end = Some(Instant::now());
                break 'run;
            }
            open = conn.receive(&mut t, COMPLETE_BURST) => {
                if !open {
                    ending = Ending::Disconnected;
                    break 'run;
                }
            }
            () = &mut tick => {
                t.merge();
                let now = Instant::now();
                t.prune_awaiting(now);
                conn.expire(now, &mut t);
                next_tick += MERGE_EVERY;
                tick.as_mut().reset(next_tick);
            }
            () = pace.until(next_due), if can_send => {
                // Every request due by now, up to a burst.
                let now = tokio::time::Instant::now();
                for _ in 0..SEND_BURST {
                    let due = plan.due(k);
                    if due > now || !conn.can_send() {
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
                    let mut params = Params::with_capacity(16);
                    action.write_params(&mut params);
                    let queued = Instant::now();
                    let sent = conn.send_signed(action.method(), params, (action.tag, due_std), queued);
                    match sent {
                        Ok(_) => {
                            if measured {
                                t.stats.record_sent();
                                t.measured_in_flight += 1;
                                record_latency(&mut t.send_lag, micros_between(due_std, queued));
                            }
                        }
                        Err(((tag, due_at), e)) => {
                            let closed = matches!(e, ClientError::Closed);
                            if measured {
                                // Counted as failed without having been sent.
                                t.measured_in_flight += 1;
                            }
                            t.complete(tag, due_at, Instant::now(), &Err(Failure::from(e)));
                            if closed {
                                ending = Ending::Disconnected;
                                break 'run;
                            }
                        }
                    }
                }
                conn.flush();
            }
        }
    }
    // Let the responses in flight arrive (they were sent and count), within a limit; the
    // request timeout still applies meanwhile.
    let drain = async {
        while conn.in_flight() > 0 {
            tokio::select! {
                open = conn.receive(&mut t, COMPLETE_BURST) => {
                    if !open {
                        break;
                    }
                }
                () = tokio::time::sleep(MERGE_EVERY) => conn.expire(Instant::now(), &mut t),
            }
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
    conn.close(Duration::from_secs(1)).await;
    tracing::debug!(trader = index, requests = k, ?ending, "trader finished");
    ending
}

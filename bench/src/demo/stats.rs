//! The shared statistics of a demo or load run: counters, errors by code, and hdrhistograms
//! of acknowledgement latency (microseconds, from each request's intended send time to the
//! arrival of its response).

use crate::client::{ClientError, Failure};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Highest latency the histograms hold, microseconds (longer ones are clamped to it).
pub const MAX_LATENCY_US: u64 = 60_000_000;

/// A latency histogram in microseconds, 3 significant digits, 1 us .. 60 s.
pub fn new_histogram() -> Histogram<u64> {
    // Constant, valid bounds (low >= 1, high >= 2 * low, sigfig <= 5): cannot fail.
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("constant histogram bounds are valid")
}

/// Records `us` into `h`, clamped to the histogram's range.
pub fn record_latency(h: &mut Histogram<u64>, us: u64) {
    h.saturating_record(us.clamp(1, MAX_LATENCY_US));
}

/// What went wrong with one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorKind {
    /// The server answered with this Binance error code.
    Api(i64),
    /// No response within the client's timeout.
    Timeout,
    /// The connection closed with the request in flight.
    Closed,
    /// Still unanswered when the run's drain timeout ended.
    Unanswered,
    /// Anything else (a malformed response, a request that could not be built).
    Other,
}

impl ErrorKind {
    /// Classifies a failed request of the load generator.
    pub fn of_failure(f: &Failure) -> ErrorKind {
        match f {
            Failure::Api(a) => ErrorKind::Api(a.code),
            Failure::Timeout => ErrorKind::Timeout,
            Failure::Closed => ErrorKind::Closed,
            Failure::Other(_) => ErrorKind::Other,
        }
    }

    /// Classifies a client error.
    pub fn of(e: &ClientError) -> ErrorKind {
        match e {
            ClientError::Api { code, .. } => ErrorKind::Api(*code),
            ClientError::Timeout { .. } => ErrorKind::Timeout,
            ClientError::Closed => ErrorKind::Closed,
            _ => ErrorKind::Other,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Api(code) => write!(f, "{code}"),
            ErrorKind::Timeout => f.write_str("timeout"),
            ErrorKind::Closed => f.write_str("closed"),
            ErrorKind::Unanswered => f.write_str("unanswered"),
            ErrorKind::Other => f.write_str("other"),
        }
    }
}

/// Percentiles of a latency histogram, microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LatencySummary {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// 99.99th percentile.
    pub p9999: u64,
    /// Largest.
    pub max: u64,
}

impl LatencySummary {
    /// Reads the percentiles of `h` (all zero when empty).
    pub fn of(h: &Histogram<u64>) -> LatencySummary {
        if h.is_empty() {
            return LatencySummary::default();
        }
        // Percentiles as exact ratios, by rank: no float arithmetic on our side.
        let q = |num: u64, den: u64| h.value_at_quantile_ratio(num, den);
        LatencySummary {
            count: h.len(),
            p50: q(50, 100),
            p90: q(90, 100),
            p99: q(99, 100),
            p999: q(999, 1_000),
            p9999: q(9_999, 10_000),
            max: h.max(),
        }
    }
}

/// hdrhistogram's quantile API takes an f64; this wraps it once.
trait QuantileRatio {
    fn value_at_quantile_ratio(&self, num: u64, den: u64) -> u64;
}

impl QuantileRatio for Histogram<u64> {
    #[allow(clippy::float_arithmetic)]
    fn value_at_quantile_ratio(&self, num: u64, den: u64) -> u64 {
        // num and den are small constants: exact in f64.
        #[allow(clippy::cast_precision_loss)]
        let q = num as f64 / den as f64;
        self.value_at_quantile(q)
    }
}

#[derive(Debug)]
struct Histograms {
    total: Histogram<u64>,
    interval: Histogram<u64>,
    send_lag: Histogram<u64>,
    exec_report: Histogram<u64>,
}

#[derive(Debug)]
struct Mark {
    at: Instant,
    responses: u64,
    trades: u64,
}

/// Counters and histograms shared by every trader of a run. Traders keep a local
/// histogram and [`Stats::merge`] it now and then, so the shared lock is taken rarely.
#[derive(Debug)]
pub struct Stats {
    started: Instant,
    sent: AtomicU64,
    responses: AtomicU64,
    answered_in_window: AtomicU64,
    trades: AtomicU64,
    errors_total: AtomicU64,
    errors: Mutex<BTreeMap<ErrorKind, u64>>,
    hist: Mutex<Histograms>,
    last: Mutex<Mark>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats::new()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `12345` as `12,345`.
pub fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && matches!((digits.len() - i) % 3, 0) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Microseconds as milliseconds with one decimal: `1234` as `1.2 ms` (truncated).
pub fn format_ms(us: u64) -> String {
    format!("{}.{} ms", us / 1_000, (us % 1_000) / 100)
}

fn per_second(count: u64, elapsed: Duration) -> u64 {
    let us = elapsed.as_micros().max(1);
    u64::try_from(u128::from(count) * 1_000_000 / us).unwrap_or(u64::MAX)
}

impl Stats {
    /// Empty statistics; the rate clock starts now.
    pub fn new() -> Stats {
        let now = Instant::now();
        Stats {
            started: now,
            sent: AtomicU64::new(0),
            responses: AtomicU64::new(0),
            answered_in_window: AtomicU64::new(0),
            trades: AtomicU64::new(0),
            errors_total: AtomicU64::new(0),
            errors: Mutex::new(BTreeMap::new()),
            hist: Mutex::new(Histograms {
                total: new_histogram(),
                interval: new_histogram(),
                send_lag: new_histogram(),
                exec_report: new_histogram(),
            }),
            last: Mutex::new(Mark {
                at: now,
                responses: 0,
                trades: 0,
            }),
        }
    }

    /// A request went on the wire.
    pub fn record_sent(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
    }

    /// A successful response carrying `fills` trades.
    pub fn record_ok(&self, fills: u64) {
        self.responses.fetch_add(1, Ordering::Relaxed);
        self.trades.fetch_add(fills, Ordering::Relaxed);
    }

    /// A response (success or error) arrived inside the measured window, whenever its
    /// request was due.
    pub fn record_answered_in_window(&self) {
        self.answered_in_window.fetch_add(1, Ordering::Relaxed);
    }

    /// Responses that arrived inside the measured window.
    pub fn answered_in_window(&self) -> u64 {
        self.answered_in_window.load(Ordering::Relaxed)
    }

    /// A failed request. Error responses from the server count as responses too.
    pub fn record_error(&self, kind: ErrorKind) {
        self.record_errors(kind, 1);
    }

    /// `n` failed requests of one kind.
    pub fn record_errors(&self, kind: ErrorKind, n: u64) {
        if n == 0 {
            return;
        }
        if matches!(kind, ErrorKind::Api(_)) {
            self.responses.fetch_add(n, Ordering::Relaxed);
        }
        self.errors_total.fetch_add(n, Ordering::Relaxed);
        *lock(&self.errors).entry(kind).or_default() += n;
    }

    /// Adds a trader's local latency histogram (which the caller then resets).
    pub fn merge(&self, local: &Histogram<u64>) {
        if local.is_empty() {
            return;
        }
        let mut h = lock(&self.hist);
        // Same bounds on both sides: `add` cannot fail; clamped values keep it so.
        let _ = h.total.add(local);
        let _ = h.interval.add(local);
    }

    /// Adds a trader's local histograms of send lag (intended send time to the moment the
    /// request was queued on its connection) and of execution report latency.
    pub fn merge_secondary(&self, send_lag: &Histogram<u64>, exec_report: &Histogram<u64>) {
        if send_lag.is_empty() && exec_report.is_empty() {
            return;
        }
        let mut h = lock(&self.hist);
        if !send_lag.is_empty() {
            let _ = h.send_lag.add(send_lag);
        }
        if !exec_report.is_empty() {
            let _ = h.exec_report.add(exec_report);
        }
    }

    /// Requests sent.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Responses received (successes and error responses).
    pub fn responses(&self) -> u64 {
        self.responses.load(Ordering::Relaxed)
    }

    /// Trades counted from fills in responses.
    pub fn trades(&self) -> u64 {
        self.trades.load(Ordering::Relaxed)
    }

    /// Failed requests.
    pub fn errors_total(&self) -> u64 {
        self.errors_total.load(Ordering::Relaxed)
    }

    /// Failed requests by kind.
    pub fn errors(&self) -> BTreeMap<ErrorKind, u64> {
        lock(&self.errors).clone()
    }

    /// Latency percentiles over the whole run.
    pub fn latency(&self) -> LatencySummary {
        LatencySummary::of(&lock(&self.hist).total)
    }

    /// Send lag percentiles over the whole run (see [`Stats::merge_secondary`]).
    pub fn send_lag(&self) -> LatencySummary {
        LatencySummary::of(&lock(&self.hist).send_lag)
    }

    /// Execution report latency percentiles over the whole run.
    pub fn exec_report_latency(&self) -> LatencySummary {
        LatencySummary::of(&lock(&self.hist).exec_report)
    }

    /// Time since the statistics were created.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The live line: responses and trades per second since the previous call, the p99
    /// acknowledgement latency of the responses merged since then, and the errors so far:
    /// `orders/s 12,345  trades/s 2,345  ack p99 1.2 ms  errors 0`.
    pub fn summary_line(&self) -> String {
        self.summary_line_at(Instant::now())
    }

    /// [`Stats::summary_line`] as of `now`.
    pub fn summary_line_at(&self, now: Instant) -> String {
        let responses = self.responses();
        let trades = self.trades();
        let (dt, dr, dtr) = {
            let mut last = lock(&self.last);
            let out = (
                now.saturating_duration_since(last.at),
                responses.saturating_sub(last.responses),
                trades.saturating_sub(last.trades),
            );
            *last = Mark {
                at: now,
                responses,
                trades,
            };
            out
        };
        let p99 = {
            let mut h = lock(&self.hist);
            let s = LatencySummary::of(&h.interval);
            h.interval.reset();
            (s.count > 0).then_some(s.p99)
        };
        format!(
            "orders/s {}  trades/s {}  ack p99 {}  errors {}",
            group_thousands(per_second(dr, dt)),
            group_thousands(per_second(dtr, dt)),
            p99.map_or_else(|| "-".to_string(), format_ms),
            group_thousands(self.errors_total()),
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn number_formats() {
        for (n, s) in [
            (0, "0"),
            (7, "7"),
            (999, "999"),
            (1_000, "1,000"),
            (12_345, "12,345"),
            (1_234_567, "1,234,567"),
            (u64::MAX, "18,446,744,073,709,551,615"),
        ] {
            assert_eq!(group_thousands(n), s);
        }
        for (us, s) in [
            (0, "0.0 ms"),
            (99, "0.0 ms"),
            (150, "0.1 ms"),
            (1_234, "1.2 ms"),
            (12_999, "12.9 ms"),
        ] {
            assert_eq!(format_ms(us), s);
        }
    }

    #[test]
    fn summary_line_reports_the_interval() {
        let stats = Stats::new();
        let t0 = Instant::now();
        let _ = stats.summary_line_at(t0);
        let mut local = new_histogram();
        for us in 1..=1_000u64 {
            record_latency(&mut local, us * 10); // 10 us .. 10 ms
            stats.record_sent();
            stats.record_ok(if us % 4 == 0 { 1 } else { 0 });
        }
        stats.record_error(ErrorKind::Api(-2010));
        stats.record_error(ErrorKind::Timeout);
        stats.merge(&local);
        let line = stats.summary_line_at(t0 + Duration::from_millis(500));
        // 1001 responses (1000 ok + one error response) in 0.5 s; 250 trades; p99 ~ 9.9 ms.
        assert_eq!(
            line,
            "orders/s 2,002  trades/s 500  ack p99 9.9 ms  errors 2"
        );
        // Nothing new: zero rates, no p99, errors stay cumulative.
        let line = stats.summary_line_at(t0 + Duration::from_millis(1_500));
        assert_eq!(line, "orders/s 0  trades/s 0  ack p99 -  errors 2");
        let total = stats.latency();
        assert_eq!(total.count, 1_000);
        assert!(total.p50.abs_diff(5_000) <= 10, "{total:?}");
        assert!(total.max.abs_diff(10_000) <= 10, "{total:?}");
        assert_eq!(
            stats.errors().into_iter().collect::<Vec<_>>(),
            vec![(ErrorKind::Api(-2010), 1), (ErrorKind::Timeout, 1)]
        );
        assert_eq!(stats.responses(), 1_001);
    }

    #[test]
    fn out_of_range_latencies_are_clamped() {
        let mut h = new_histogram();
        record_latency(&mut h, 0);
        record_latency(&mut h, u64::MAX);
        assert_eq!(h.len(), 2);
        assert_eq!(h.min(), 1);
        assert!(h.max() >= MAX_LATENCY_US);
    }
}

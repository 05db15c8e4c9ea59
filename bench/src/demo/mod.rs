//! Simulated market makers and takers trading over real WebSocket connections.
//!
//! Each trader is a task with its own connection and API key, driven by a [`Flow`] at its
//! share of the target rate, open loop: request `k` of a trader is due at
//! `start + offset + k * period`, is sent at that moment (within the generator's tick, [`DemoConfig::pace`]) or,
//! when the trader is behind, at once, and its acknowledgement latency is measured from the due time (so a stalled server
//! cannot hide its stall by slowing the generator: no coordinated omission). Makers keep
//! two-sided passive quotes near the mid and move and pull them; takers send marketable IOC
//! and MARKET orders. All traders share one mid-price walk (one walk seed, stepped by time).
//!
//! Bounds: each connection has at most [`DemoConfig::max_in_flight`] requests awaiting a
//! response; when they are all taken the trader waits for a slot (the wait counts in the
//! latency of the waiting request, which is due already).
//!
//! ```no_run
//! # async fn demo(traders: Vec<bench::demo::TraderKey>) -> Result<(), bench::demo::DemoError> {
//! use bench::demo::{run_with_stats, DemoConfig, Stats};
//! use bench::flow::SymbolSpec;
//! use std::sync::Arc;
//! let symbols = vec![SymbolSpec::new("BTCUSDT", "0.01", "0.00001", "50000.00", "0.00020", "0.01000")];
//! let config = DemoConfig::new("ws://127.0.0.1:8080/ws-api/v3", traders, 1_000, symbols);
//! let stats = Arc::new(Stats::new());
//! let printer = {
//!     let stats = Arc::clone(&stats);
//!     tokio::spawn(async move {
//!         let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
//!         loop {
//!             tick.tick().await;
//!             println!("{}", stats.summary_line());
//!         }
//!     })
//! };
//! let report = run_with_stats(config, stats, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! printer.abort();
//! println!("{report}");
//! # Ok(()) }
//! ```

pub mod cpu;
mod pacer;
mod stats;
mod trader;

pub use stats::{
    format_ms, group_thousands, new_histogram, record_latency, ErrorKind, LatencySummary, Stats,
    MAX_LATENCY_US,
};

use crate::client::{ClientConfig, ClientError, Connection, Credentials};
use crate::flow::{Flow, FlowConfig, FlowError, Mix, SymbolSpec};
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The generator's default tick ([`DemoConfig::pace`]).
pub const DEFAULT_PACE: Duration = Duration::from_micros(250);

/// One trader's account and API key.
#[derive(Clone)]
pub struct TraderKey {
    /// The account id (for reports).
    pub account: u64,
    /// API key.
    pub api_key: String,
    /// HMAC secret.
    pub secret: String,
}

impl fmt::Debug for TraderKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix: String = self.api_key.chars().take(8).collect();
        f.debug_struct("TraderKey")
            .field("account", &self.account)
            .field("api_key", &format_args!("{prefix}..."))
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// What a trader does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Passive quotes near the mid, moved and pulled.
    Maker,
    /// Marketable orders across the spread.
    Taker,
}

/// Settings of a demo run.
#[derive(Clone, Debug)]
pub struct DemoConfig {
    /// `ws://HOST:PORT/ws-api/v3`.
    pub url: String,
    /// The traders; the last [`DemoConfig::takers`] take, the others make.
    pub traders: Vec<TraderKey>,
    /// How many of the traders are takers.
    pub takers: usize,
    /// Target requests per second over all traders.
    pub rate: u64,
    /// The symbols traded.
    pub symbols: Vec<SymbolSpec>,
    /// Seed of the flows (trader `i` uses a seed derived from it and `i`) and of the shared
    /// mid walk.
    pub seed: u64,
    /// Makers' mix.
    pub maker_mix: Mix,
    /// Takers' mix.
    pub taker_mix: Mix,
    /// The mid walks take one step per this interval.
    pub walk_interval: Duration,
    /// Passive orders rest up to this many ticks from the mid; takers cross it by as much.
    pub depth_ticks: u64,
    /// Most resting orders per maker and symbol.
    pub max_open_per_symbol: usize,
    /// Most requests awaiting a response per connection.
    pub max_in_flight: usize,
    /// How long a request waits for its response.
    pub request_timeout: Duration,
    /// Log each connection on with `session.logon`; afterwards requests carry no signature.
    pub logon: bool,
    /// After the shutdown signal, how long to wait for responses still in flight.
    pub drain_timeout: Duration,
    /// Requests due in this first stretch of the run are sent and answered as usual but not
    /// counted: the report covers the requests due after it.
    pub warmup: Duration,
    /// Makers subscribe to their execution reports (signed, when not logged on), so fills of
    /// their resting orders are known at once.
    pub user_data: bool,
    /// Give every new order a `newClientOrderId` and measure, besides the acknowledgement,
    /// the latency from its intended send time to its first execution report (needs
    /// [`DemoConfig::user_data`]; only makers subscribe, so only their orders count).
    pub exec_reports: bool,
    /// How often the generator looks for due requests: a request is sent at most about this
    /// long after its due time (tokio's own timer would round every wait up to the next
    /// millisecond). Each trader sends what is due in one write, so a longer tick means
    /// fewer, larger writes.
    pub pace: Duration,
    /// A process whose CPU time over the measured window the report gives beside the
    /// client's own ([`DemoReport::cpu`]): the server under load, when it runs here.
    pub server_pid: Option<u32>,
}

impl DemoConfig {
    /// Defaults: a quarter of the traders take (at least one when there are two or more),
    /// [`Mix::MAKER`] and [`Mix::TAKER`], a walk step every 100 ms, 10 ticks of depth,
    /// 20 resting orders per maker and symbol, 256 requests in flight per connection,
    /// logon on, makers subscribed to their execution reports, no warm-up, a
    /// [`DEFAULT_PACE`] tick.
    pub fn new(
        url: impl Into<String>,
        traders: Vec<TraderKey>,
        rate: u64,
        symbols: Vec<SymbolSpec>,
    ) -> DemoConfig {
        let takers = match traders.len() {
            0 | 1 => 0,
            n => (n / 4).max(1),
        };
        DemoConfig {
            url: url.into(),
            traders,
            takers,
            rate,
            symbols,
            seed: 1,
            maker_mix: Mix::MAKER,
            taker_mix: Mix::TAKER,
            walk_interval: Duration::from_millis(100),
            depth_ticks: 10,
            max_open_per_symbol: 20,
            max_in_flight: 256,
            request_timeout: Duration::from_secs(10),
            logon: true,
            drain_timeout: Duration::from_secs(2),
            warmup: Duration::ZERO,
            user_data: true,
            exec_reports: false,
            pace: DEFAULT_PACE,
            server_pid: None,
        }
    }

    /// The role of trader `i`.
    pub fn role(&self, i: usize) -> Role {
        if i + self.takers >= self.traders.len() && self.takers > 0 {
            Role::Taker
        } else {
            Role::Maker
        }
    }

    fn flow_config(&self, i: usize) -> FlowConfig {
        let mix = match self.role(i) {
            Role::Maker => self.maker_mix,
            Role::Taker => self.taker_mix,
        };
        let seed = self
            .seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(i as u64);
        FlowConfig {
            walk_seed: self.seed,
            depth_ticks: self.depth_ticks,
            cross_ticks: self.depth_ticks,
            max_open_per_symbol: self.max_open_per_symbol,
            ..FlowConfig::new(self.symbols.clone(), mix, seed)
        }
    }
}

/// Why a demo could not run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// No traders.
    #[error("the demo needs at least one trader")]
    NoTraders,
    /// A zero rate.
    #[error("the rate must be at least 1 request per second")]
    ZeroRate,
    /// The flow configuration is invalid.
    #[error(transparent)]
    Flow(#[from] FlowError),
    /// A trader could not connect, log on or subscribe.
    #[error("trader {index} (account {account}): {source}")]
    Trader {
        /// Index in [`DemoConfig::traders`].
        index: usize,
        /// Its account.
        account: u64,
        /// What failed.
        source: ClientError,
    },
}

/// The outcome of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoReport {
    /// How long the traders sent after the warm-up (until the shutdown signal; responses
    /// drained after it still count).
    pub elapsed: Duration,
    /// The target rate.
    pub target_rate: u64,
    /// Requests sent.
    pub sent: u64,
    /// Responses received (successes and error responses) to the requests due after the
    /// warm-up.
    pub responses: u64,
    /// Responses that arrived between the end of the warm-up and the stop, whenever their
    /// requests were due: the throughput, also when the run is overloaded and answers
    /// warm-up requests late.
    pub answered_in_window: u64,
    /// Trades, counted from fills in responses.
    pub trades: u64,
    /// Failed requests by kind.
    pub errors: BTreeMap<ErrorKind, u64>,
    /// Acknowledgement latency from the intended send time, microseconds.
    pub latency: LatencySummary,
    /// How late requests went on the wire after their intended send time (the generator's
    /// own lag, part of [`DemoReport::latency`]), microseconds.
    pub send_lag: LatencySummary,
    /// Latency from a new order's intended send time to its first execution report,
    /// microseconds (empty unless [`DemoConfig::exec_reports`]).
    pub exec_report_latency: LatencySummary,
    /// Traders whose connection closed before the end.
    pub disconnected: usize,
    /// CPU time of the client and of [`DemoConfig::server_pid`] from the end of the warm-up
    /// to the stop (`None` when the run stopped before its warm-up ended).
    pub cpu: Option<cpu::CpuUse>,
}

impl DemoReport {
    /// Responses per second over the run.
    pub fn responses_per_sec(&self) -> u64 {
        per_second(self.responses, self.elapsed)
    }

    /// Responses per second that arrived inside the measured window
    /// ([`DemoReport::answered_in_window`]).
    pub fn throughput(&self) -> u64 {
        per_second(self.answered_in_window, self.elapsed)
    }

    /// Trades per second over the run.
    pub fn trades_per_sec(&self) -> u64 {
        per_second(self.trades, self.elapsed)
    }
}

fn per_second(count: u64, elapsed: Duration) -> u64 {
    let us = elapsed.as_micros().max(1);
    u64::try_from(u128::from(count) * 1_000_000 / us).unwrap_or(u64::MAX)
}

impl fmt::Display for DemoReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = &self.latency;
        writeln!(
            f,
            "ran {} ms at a target of {} req/s: sent {}, responses {} ({}/s), trades {} ({}/s)",
            self.elapsed.as_millis(),
            group_thousands(self.target_rate),
            group_thousands(self.sent),
            group_thousands(self.responses),
            group_thousands(self.responses_per_sec()),
            group_thousands(self.trades),
            group_thousands(self.trades_per_sec()),
        )?;
        writeln!(
            f,
            "ack latency from intended send (us): p50 {}  p90 {}  p99 {}  p99.9 {}  p99.99 {}  max {}  (n={})",
            l.p50, l.p90, l.p99, l.p999, l.p9999, l.max, l.count
        )?;
        let errors: Vec<String> = self
            .errors
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect();
        write!(
            f,
            "errors: {}{}",
            if errors.is_empty() {
                "none".to_string()
            } else {
                errors.join(", ")
            },
            if self.disconnected > 0 {
                format!("; {} traders disconnected", self.disconnected)
            } else {
                String::new()
            }
        )
    }
}

/// Runs the demo until `shutdown` completes (or every trader's connection has closed) and
/// reports. See [`run_with_stats`] to print a live line meanwhile.
pub async fn run(
    config: DemoConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<DemoReport, DemoError> {
    run_with_stats(config, Arc::new(Stats::new()), shutdown).await
}

/// [`run`], recording into `stats`, which the caller may read meanwhile (e.g. print
/// [`Stats::summary_line`] once per second).
///
/// Every trader connects (and logs on) before any starts trading; any failure there is an
/// error and nothing is sent.
pub async fn run_with_stats(
    config: DemoConfig,
    stats: Arc<Stats>,
    shutdown: impl Future<Output = ()>,
) -> Result<DemoReport, DemoError> {
    if config.traders.is_empty() {
        return Err(DemoError::NoTraders);
    }
    if config.rate == 0 {
        return Err(DemoError::ZeroRate);
    }
    let n = config.traders.len();
    let flows = (0..n)
        .map(|i| Flow::new(config.flow_config(i)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut connections = Vec::with_capacity(n);
    for (index, key) in config.traders.iter().enumerate() {
        let err = |source| DemoError::Trader {
            index,
            account: key.account,
            source,
        };
        let mut conn = Connection::connect(
            &config.url,
            ClientConfig {
                credentials: Some(Credentials::new(key.api_key.clone(), key.secret.clone())),
                max_in_flight: config.max_in_flight,
                request_timeout: config.request_timeout,
                ..ClientConfig::default()
            },
        )
        .await
        .map_err(err)?;
        if config.logon {
            conn.logon().await.map_err(err)?;
        }
        if config.user_data && config.role(index) == Role::Maker {
            conn.subscribe_user_data().await.map_err(err)?;
        }
        connections.push(conn);
    }

    // Every trader has the same period; their first requests are staggered over it.
    let period_ns = u64::try_from(u128::from(n as u64) * 1_000_000_000 / u128::from(config.rate))
        .unwrap_or(u64::MAX)
        .max(1);
    let (stop_tx, stop_rx) = watch::channel(false);
    let start = tokio::time::Instant::now();
    let config = Arc::new(config);
    let mut tasks = Vec::with_capacity(n);
    let pacer = pacer::Pacer::start(n, config.pace);
    for (i, (conn, flow)) in connections.into_iter().zip(flows).enumerate() {
        let plan = trader::Plan {
            start,
            offset: Duration::from_nanos(period_ns / n as u64 * i as u64),
            period: Duration::from_nanos(period_ns),
            walk_interval: config.walk_interval,
            drain_timeout: config.drain_timeout,
            measure_from: (start + config.warmup).into_std(),
            exec_reports: config.exec_reports && config.user_data,
        };
        tasks.push(tokio::spawn(trader::run(
            i,
            conn,
            flow,
            plan,
            pacer.pace(i),
            Arc::clone(&stats),
            stop_rx.clone(),
        )));
    }
    drop(stop_rx);
    // The CPU window opens when the warm-up ends, as the latency's does.
    let (server_pid, warmup) = (config.server_pid, config.warmup);
    let cpu_from = tokio::spawn(async move {
        tokio::time::sleep_until(start + warmup).await;
        cpu::CpuMark::now(server_pid)
    });

    let all_done = futures_util::future::join_all(tasks);
    tokio::pin!(all_done);
    tokio::pin!(shutdown);
    let (results, elapsed, cpu_to) = tokio::select! {
        results = &mut all_done => (results, start.elapsed(), cpu::CpuMark::now(server_pid)),
        () = &mut shutdown => {
            let elapsed = start.elapsed();
            let cpu_to = cpu::CpuMark::now(server_pid);
            let _ = stop_tx.send(true);
            (all_done.await, elapsed, cpu_to)
        }
    };
    let cpu = if cpu_from.is_finished() {
        cpu_from.await.ok().map(|from| from.until(&cpu_to))
    } else {
        cpu_from.abort();
        None
    };
    drop(pacer);
    let mut disconnected = 0;
    for r in results {
        match r {
            Ok(trader::Ending::Stopped) => {}
            Ok(trader::Ending::Disconnected) => disconnected += 1,
            Err(join) => {
                tracing::error!(error = %join, "a trader task failed");
                disconnected += 1;
            }
        }
    }
    Ok(DemoReport {
        elapsed: elapsed.saturating_sub(config.warmup),
        target_rate: config.rate,
        sent: stats.sent(),
        responses: stats.responses(),
        answered_in_window: stats.answered_in_window(),
        trades: stats.trades(),
        errors: stats.errors(),
        latency: stats.latency(),
        send_lag: stats.send_lag(),
        exec_report_latency: stats.exec_report_latency(),
        disconnected,
        cpu,
    })
}

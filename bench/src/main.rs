//! `bench`: open-loop load over real WebSocket connections against the exchange (a running
//! node, or one it starts), a sweep of rising rates, and the loopback limit measured with an
//! echo server. See `bench --help` and docs/benchmarks.md.

use anyhow::{bail, Context, Result};
use bench::demo::{run_with_stats, DemoConfig, Stats, TraderKey};
use bench::flow::Mix;
use bench::load::report::{RunReport, RunSettings, Target, Verdict, ROW_HEADER};
use bench::load::server::{ChildServer, NodeSetup, SpawnedNode};
use bench::load::{builtin_symbol, keys::parse_keys, parse_mix, MixChoice};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "bench",
    version,
    about = "Open-loop load over real WebSocket connections to the exchange",
    long_about = "Open-loop load over real WebSocket connections to the exchange.\n\n\
        Each connection is a trader sending Binance WebSocket API requests (order.place, \
        order.cancel, order.cancelReplace) from a seeded, realistic order flow at its share of \
        the offered rate. Request k of a connection is due at a fixed time; it is sent then (or \
        at once when the generator is behind), and its latency runs from that intended send \
        time to the arrival of its response, so a stalled server cannot hide its stall \
        (no coordinated omission). Latencies go into hdrhistograms (1 us resolution up to \
        60 s, 3 significant digits).\n\n\
        Without --url, a node is started for every run: `exchange run` (the binary next to \
        this one, or --exchange-bin) in a fresh data directory under --node-dir, with \
        durable journaling (fdatasync) as always, rate limits lifted, every account funded, \
        and one API key per account from `exchange keys create`."
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// One run at a fixed offered rate: latency percentiles, achieved rate, errors by code,
    /// and the CPU time per answer of the client and of a node or echo server it started.
    Run {
        #[command(flatten)]
        load: LoadArgs,
        /// Offered requests per second, over all connections.
        #[arg(long, default_value_t = 50_000)]
        rate: u64,
        /// Measured seconds (after the warm-up).
        #[arg(long, default_value_t = 60)]
        duration: u64,
        /// Exit with status 1 when a request failed (anything but an order-flow race), a
        /// connection was lost, or nothing was answered: for a smoke test in CI. Latency is
        /// not checked.
        #[arg(long)]
        fail_on_errors: bool,
    },
    /// Raises the offered rate step by step (a fresh node for each step when the bench
    /// starts it) until a step misses the bar (p99 above --p99-limit-us, a failed request, a
    /// lost connection, or less than 99% of the offered rate achieved), then narrows the gap
    /// between the last rate met and the first missed (--refine); reports the highest rate
    /// that met the bar.
    Sweep {
        #[command(flatten)]
        load: LoadArgs,
        /// The first rates to try, in order; after the last, the rate doubles each step.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "10000,25000,50000,100000,200000"
        )]
        rates: Vec<u64>,
        /// No step above this rate.
        #[arg(long, default_value_t = 3_200_000)]
        max_rate: u64,
        /// Measured seconds per step (after each step's warm-up).
        #[arg(long, default_value_t = 10)]
        step_duration: u64,
        /// The bar: p99 acknowledgement latency at most this many microseconds.
        #[arg(long, default_value_t = 10_000)]
        p99_limit_us: u64,
        /// Runs per step at most: a step that misses the bar is run again (a fresh node each
        /// time) up to this many times in all, and meets it if any run does. Every run is
        /// printed. For a machine shared with other work, where one burst of someone else's
        /// CPU use can sink a run; 1 (the default) stops at the first miss.
        #[arg(long, default_value_t = 1)]
        attempts: u32,
        /// After the first step that misses the bar, this many more steps halve the gap
        /// between the best rate met and the lowest missed (rates rounded to 1,000/s), so
        /// the best rate is known closer than the step list alone tells it.
        #[arg(long, default_value_t = 2)]
        refine: u32,
    },
    /// The same load against a trivial WebSocket echo server (started as a separate process,
    /// like the node): what this machine's loopback, WebSocket framing and this client reach
    /// with no exchange behind them. Offer far more than can be served: the achieved rate
    /// is the limit.
    Limit {
        #[command(flatten)]
        load: LoadArgs,
        /// Offered requests per second (far above what can be served, to saturate).
        #[arg(long, default_value_t = 2_000_000)]
        rate: u64,
        /// Measured seconds (after the warm-up).
        #[arg(long, default_value_t = 10)]
        duration: u64,
    },
    /// Runs the echo server alone until killed (what `limit` starts); prints
    /// `echo listening on ws://ADDR/ws-api/v3`.
    EchoServer {
        /// Listen address (port 0: any free port).
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
    },
}

/// How requests are authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Auth {
    /// Every request signed with HMAC-SHA256 (apiKey, timestamp, signature), as Binance
    /// documents for signed requests.
    Sign,
    /// `session.logon` once per connection (signed); afterwards requests carry only a
    /// timestamp.
    Logon,
}

impl Auth {
    fn as_str(self) -> &'static str {
        match self {
            Auth::Sign => "sign",
            Auth::Logon => "logon",
        }
    }
}

#[derive(Debug, Clone, Args)]
struct LoadArgs {
    /// WebSocket API of a running node (ws://HOST:PORT/ws-api/v3); needs --keys-file. Without
    /// it, the bench starts a node itself.
    #[arg(long, requires = "keys_file")]
    url: Option<String>,
    /// API keys for --url: the output of `exchange keys create`, one block per account,
    /// concatenated. Connection i uses key i modulo their number.
    #[arg(long)]
    keys_file: Option<PathBuf>,
    /// The `exchange` binary for a node the bench starts [default: `exchange` next to this
    /// binary].
    #[arg(long)]
    exchange_bin: Option<PathBuf>,
    /// Where the started node's temporary data directory goes; it must be on the disk being
    /// measured (the journals fdatasync there) [default: the system temp directory].
    #[arg(long)]
    node_dir: Option<PathBuf>,
    /// Let a node the bench starts run settlement (Postgres) beside it, as `exchange run`
    /// does by default; without this flag it runs with EXCHANGE_SETTLEMENT=off and the load
    /// measures order entry (gateway, sequencer, journals, matcher, market data) alone.
    #[arg(long)]
    node_settlement: bool,
    /// Connections, each one trader with its own order flow.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Accounts the connections trade for (connection i uses account i modulo this)
    /// [default: one per connection]. With --url, at most the keys given.
    #[arg(long)]
    accounts: Option<usize>,
    /// First account number of a started node (accounts are consecutive).
    #[arg(long, default_value_t = 1001)]
    first_account: u64,
    /// Seconds of load before measuring (sent and answered, not counted).
    #[arg(long, default_value_t = 5)]
    warmup: u64,
    /// The order flow's mix: `exchange-core` (9% GTC, 3% IOC, 6% cancel, 82% move, on every
    /// connection), `maker-taker` (a quarter of the connections take with IOC and MARKET
    /// orders, the rest quote, move and cancel), or weights such as
    /// `gtc=35,ioc=10,market=5,cancel=10,replace=40`.
    #[arg(long, default_value = "exchange-core")]
    mix: String,
    /// Symbols traded (of the built-in BTCUSDT, ETHUSDT, ETHBTC), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "BTCUSDT")]
    symbols: Vec<String>,
    /// Request authentication.
    #[arg(long, value_enum, default_value_t = Auth::Sign)]
    auth: Auth,
    /// Most requests awaiting a response per connection; a connection with all of them
    /// taken waits (and that wait counts in the latency of the due request).
    #[arg(long, default_value_t = 256)]
    max_in_flight: usize,
    /// Threads of the load generator (its tokio runtime's workers). With 1, the default, every
    /// connection runs on one thread with no hand-offs between workers: each wake-up of a
    /// second worker costs a context switch that the node, sharing the machine, pays for.
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// Subscribe every connection to its user data stream (userDataStream.subscribe), so
    /// the exchange pushes an executionReport for every order event and the flow learns of
    /// fills at once. Off by default: on a small machine the client's parsing of those pushes
    /// competes with the exchange for the same cores; without them a cancel or move of an
    /// order a fill has closed is refused (-2011/-2022, counted as order-flow races).
    #[arg(long)]
    user_data: bool,
    /// Also measure each new order's latency from its intended send time to its first
    /// executionReport (each order gets a newClientOrderId; implies --user-data).
    #[arg(long)]
    exec_reports: bool,
    /// How often, in microseconds, the generator sends what is due: a request leaves at most
    /// about this long after its intended send time (and that lag counts in its latency).
    /// Each connection sends what is due in one write, so a longer tick means fewer, larger
    /// writes for client and exchange alike (docs/benchmarks.md measures the trade).
    #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u64).range(1..1_000_000))]
    pace_us: u64,
    /// Seconds a request waits for its response before it counts as a timeout.
    #[arg(long, default_value_t = 10)]
    request_timeout: u64,
    /// Seed of the order flows (same seed, same requests at the same offsets).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print the report as JSON on stdout (the live lines still go to stderr).
    #[arg(long)]
    json: bool,
    /// No live line on stderr once per second.
    #[arg(long)]
    quiet: bool,
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "-".into())
}

/// Where the load goes, for one run.
enum Endpoint {
    /// A node the caller runs.
    External { url: String, keys: Vec<TraderKey> },
    /// A node started for this run.
    Node(SpawnedNode),
    /// The echo server, started for this run.
    Echo(ChildServer),
}

impl Endpoint {
    /// The server's process, when this run started it (its CPU time goes in the report).
    fn pid(&self) -> Option<u32> {
        match self {
            Endpoint::External { .. } => None,
            Endpoint::Node(n) => Some(n.server.pid()),
            Endpoint::Echo(e) => Some(e.pid()),
        }
    }

    fn url(&self) -> &str {
        match self {
            Endpoint::External { url, .. } => url,
            Endpoint::Node(n) => n.server.url(),
            Endpoint::Echo(e) => e.url(),
        }
    }

    fn stop(self) -> Result<()> {
        match self {
            Endpoint::External { .. } => Ok(()),
            Endpoint::Node(n) => {
                let status = n.stop()?;
                if !status.success() {
                    bail!("the node exited with {status}");
                }
                Ok(())
            }
            Endpoint::Echo(e) => {
                e.stop(Duration::from_secs(5))?;
                Ok(())
            }
        }
    }
}

impl LoadArgs {
    fn accounts(&self) -> usize {
        self.accounts.unwrap_or(self.connections).max(1)
    }

    fn check(&self) -> Result<()> {
        if self.connections == 0 {
            bail!("--connections must be at least 1");
        }
        if self.accounts() > self.connections {
            bail!("--accounts must not exceed --connections (an account with no connection sends nothing)");
        }
        if self.max_in_flight == 0 {
            bail!("--max-in-flight must be at least 1");
        }
        if self.client_threads == 0 {
            bail!("--client-threads must be at least 1");
        }
        Ok(())
    }

    fn start_endpoint(&self, target: Target) -> Result<Endpoint> {
        let accounts: Vec<u64> = (0..self.accounts() as u64)
            .map(|i| self.first_account + i)
            .collect();
        match (target, &self.url) {
            (Target::Echo, _) => {
                let exe = std::env::current_exe().context("locating this binary")?;
                let mut cmd = Command::new(exe);
                cmd.arg("echo-server");
                Ok(Endpoint::Echo(ChildServer::start(
                    "echo server",
                    cmd,
                    "echo listening on",
                    None,
                )?))
            }
            (Target::Exchange, Some(url)) => {
                let path = self.keys_file.as_ref().context("--url needs --keys-file")?;
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                let mut keys = parse_keys(&text)?;
                if keys.len() < self.accounts() {
                    bail!(
                        "{} holds {} keys; --accounts asks for {}",
                        path.display(),
                        keys.len(),
                        self.accounts()
                    );
                }
                keys.truncate(self.accounts());
                Ok(Endpoint::External {
                    url: url.clone(),
                    keys,
                })
            }
            (Target::Exchange, None) => {
                let exchange_bin = match &self.exchange_bin {
                    Some(p) => p.clone(),
                    None => std::env::current_exe()
                        .context("locating this binary")?
                        .with_file_name("exchange"),
                };
                let per_account = self.connections.div_ceil(self.accounts());
                let open = per_account * self.symbols.len() * 20 * 2;
                let setup = NodeSetup {
                    exchange_bin,
                    parent_dir: self.node_dir.clone().unwrap_or_else(std::env::temp_dir),
                    accounts,
                    max_open_orders_per_account: u32::try_from(open.max(200)).unwrap_or(u32::MAX),
                    settlement: self.node_settlement,
                };
                let node = SpawnedNode::start(&setup)?;
                tracing::info!(url = node.server.url(), dir = %node.dir().display(), "node started");
                Ok(Endpoint::Node(node))
            }
        }
    }

    fn traders(&self, endpoint: &Endpoint) -> Vec<TraderKey> {
        let keys: Vec<TraderKey> = match endpoint {
            Endpoint::External { keys, .. } => keys.clone(),
            Endpoint::Node(n) => n.keys.clone(),
            // The echo server checks nothing; the client still signs every request.
            Endpoint::Echo(_) => (0..self.accounts() as u64)
                .map(|i| TraderKey {
                    account: self.first_account + i,
                    api_key: format!("echo{:060}", i),
                    secret: format!("secret{:058}", i),
                })
                .collect(),
        };
        (0..self.connections)
            .map(|i| keys[i % keys.len()].clone())
            .collect()
    }

    fn settings(&self, target: Target, url: &str, rate: u64, duration: u64) -> RunSettings {
        RunSettings {
            target,
            url: url.to_string(),
            target_rate: rate,
            duration_s: duration,
            warmup_s: self.warmup,
            connections: self.connections,
            accounts: self.accounts(),
            mix: self.mix.clone(),
            symbols: self.symbols.clone(),
            auth: self.auth.as_str().to_string(),
            max_in_flight: self.max_in_flight,
            client_threads: self.client_threads,
            pace_us: self.pace_us,
            user_data: self.user_data || self.exec_reports,
        }
    }

    /// One run: start the endpoint, load it, stop it.
    fn run_once(&self, target: Target, rate: u64, duration: u64) -> Result<RunReport> {
        self.check()?;
        let mix = parse_mix(&self.mix)?;
        let symbols = self
            .symbols
            .iter()
            .map(|s| builtin_symbol(s))
            .collect::<Result<Vec<_>, _>>()?;
        let endpoint = self.start_endpoint(target)?;
        let url = endpoint.url().to_string();
        let traders = self.traders(&endpoint);
        let mut config = DemoConfig::new(&url, traders, rate, symbols);
        match mix {
            MixChoice::All(m) => {
                config.maker_mix = m;
                config.taker_mix = m;
                config.takers = 0;
            }
            MixChoice::MakerTaker => {
                config.maker_mix = Mix::MAKER;
                config.taker_mix = Mix::TAKER;
            }
        }
        config.seed = self.seed;
        config.logon = self.auth == Auth::Logon;
        config.user_data = self.user_data || self.exec_reports;
        config.exec_reports = self.exec_reports;
        config.max_in_flight = self.max_in_flight;
        config.request_timeout = Duration::from_secs(self.request_timeout);
        config.drain_timeout = Duration::from_secs(self.request_timeout);
        config.warmup = Duration::from_secs(self.warmup);
        config.pace = Duration::from_micros(self.pace_us);
        config.server_pid = endpoint.pid();
        let settings = self.settings(target, &url, rate, duration);
        let rt = match self.client_threads {
            1 => tokio::runtime::Builder::new_current_thread(),
            n => {
                let mut b = tokio::runtime::Builder::new_multi_thread();
                b.worker_threads(n);
                b
            }
        }
        .enable_all()
        .build()
        .context("starting the runtime")?;
        let load_before = load_average();
        let pressure = bench::load::pressure::PressureMark::now();
        let quiet = self.quiet;
        let demo = rt.block_on(async {
            let stats = Arc::new(Stats::new());
            let printer = (!quiet).then(|| {
                let stats = Arc::clone(&stats);
                tokio::spawn(async move {
                    let mut tick = tokio::time::interval(Duration::from_secs(1));
                    tick.tick().await;
                    loop {
                        tick.tick().await;
                        eprintln!("{}", stats.summary_line());
                    }
                })
            });
            let total = Duration::from_secs(self.warmup + duration);
            // Lazy: the clock starts when the traders start, after every connection is up.
            let stop = async move { tokio::time::sleep(total).await };
            let report = run_with_stats(config, stats, stop).await;
            if let Some(p) = printer {
                p.abort();
            }
            report
        });
        let pressure = pressure.since();
        let load_after = load_average();
        drop(rt);
        let stopped = endpoint.stop();
        let demo = demo.context("the load could not run")?;
        stopped?;
        let mut report =
            RunReport::new(settings, &demo, self.exec_reports, load_before, load_after);
        report.pressure = pressure;
        Ok(report)
    }
}

fn print_run(report: &RunReport, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        println!("{report}");
    }
    Ok(())
}

/// A sweep's outcome (the JSON of `sweep --json`).
#[derive(Debug, Serialize)]
struct SweepReport {
    p99_limit_us: u64,
    steps: Vec<SweepStep>,
    /// The highest offered rate that met the bar, if any did.
    best_rate: Option<u64>,
}

#[derive(Debug, Serialize)]
struct SweepStep {
    report: RunReport,
    #[serde(flatten)]
    verdict: Verdict,
}

/// The sweep's rates: `first` in order, then doubling the last, up to `max`.
fn sweep_rates(first: &[u64], max: u64) -> Vec<u64> {
    let mut rates: Vec<u64> = first
        .iter()
        .copied()
        .filter(|&r| r > 0 && r <= max)
        .collect();
    let mut next = rates.last().copied().unwrap_or(0).saturating_mul(2);
    while next > 0 && next <= max {
        rates.push(next);
        next = next.saturating_mul(2);
    }
    rates
}

/// What a sweep is asked to do.
#[derive(Debug, Clone, Copy)]
struct SweepPlan<'a> {
    rates: &'a [u64],
    max_rate: u64,
    secs: u64,
    p99_limit_us: u64,
    attempts: u32,
    refine: u32,
}

/// The rate halfway between the best rate met (`low`, 0 if none) and the lowest missed
/// (`high`), rounded down to 1,000/s; none when no such rate lies strictly between them.
fn refine_rate(low: u64, high: u64) -> Option<u64> {
    let mid = (low + (high.saturating_sub(low)) / 2) / 1_000 * 1_000;
    (mid > low && mid < high).then_some(mid)
}

fn sweep(load: &LoadArgs, plan: SweepPlan<'_>) -> Result<()> {
    let limit = plan.p99_limit_us;
    let mut out = SweepReport {
        p99_limit_us: limit,
        steps: Vec::new(),
        best_rate: None,
    };
    if !load.json {
        println!("sweep: bar p99 <= {limit} us, no failures, >= 99% of the offered rate");
        println!("{ROW_HEADER}  verdict");
    }
    let step = |rate: u64, out: &mut SweepReport| -> Result<bool> {
        let mut met = false;
        for _ in 0..plan.attempts.max(1) {
            let report = load.run_once(Target::Exchange, rate, plan.secs)?;
            let verdict = report.verdict(limit);
            if !load.json {
                let v = match &verdict {
                    Verdict::Met => "met".to_string(),
                    Verdict::Failed { why } => format!("missed: {why}"),
                };
                println!("{}  {v}", report.row());
            }
            met = verdict == Verdict::Met;
            out.steps.push(SweepStep { report, verdict });
            if met {
                break;
            }
        }
        Ok(met)
    };
    let mut missed = None;
    for rate in sweep_rates(plan.rates, plan.max_rate) {
        if !step(rate, &mut out)? {
            missed = Some(rate);
            break;
        }
        out.best_rate = Some(rate);
    }
    if let Some(mut high) = missed {
        for _ in 0..plan.refine {
            let Some(rate) = refine_rate(out.best_rate.unwrap_or(0), high) else {
                break;
            };
            if step(rate, &mut out)? {
                out.best_rate = Some(rate);
            } else {
                high = rate;
            }
        }
    }
    if load.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        match out.best_rate {
            Some(r) => println!("best rate that met the bar: {r} requests/s"),
            None => println!("no rate met the bar"),
        }
    }
    Ok(())
}

fn echo_server(listen: SocketAddr) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding {listen}"))?;
        let addr = listener.local_addr()?;
        println!("echo listening on ws://{addr}/ws-api/v3");
        bench::load::echo::serve(listener).await;
        anyhow::Ok(())
    })
}

/// mimalloc: the request path allocates small JSON values per request; glibc's malloc spent
/// about a fifth of the WebSocket workers' time at 30k requests/s (perf, docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Run {
            load,
            rate,
            duration,
            fail_on_errors,
        } => load
            .run_once(Target::Exchange, rate, duration)
            .and_then(|r| {
                print_run(&r, load.json)?;
                if fail_on_errors && (r.failures > 0 || r.disconnected > 0 || r.responses == 0) {
                    bail!(
                        "{} failed requests, {} connections lost, {} responses",
                        r.failures,
                        r.disconnected,
                        r.responses
                    );
                }
                Ok(())
            }),
        Cmd::Limit {
            load,
            rate,
            duration,
        } => load
            .run_once(Target::Echo, rate, duration)
            .and_then(|r| print_run(&r, load.json)),
        Cmd::Sweep {
            load,
            rates,
            max_rate,
            step_duration,
            p99_limit_us,
            attempts,
            refine,
        } => sweep(
            &load,
            SweepPlan {
                rates: &rates,
                max_rate,
                secs: step_duration,
                p99_limit_us,
                attempts,
                refine,
            },
        ),
        Cmd::EchoServer { listen } => echo_server(listen),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refinement_halves_the_gap_in_whole_thousands() {
        assert_eq!(refine_rate(50_000, 100_000), Some(75_000));
        assert_eq!(refine_rate(75_000, 100_000), Some(87_000));
        assert_eq!(refine_rate(50_000, 75_000), Some(62_000));
        assert_eq!(refine_rate(0, 10_000), Some(5_000));
        assert_eq!(refine_rate(9_000, 10_000), None);
        assert_eq!(refine_rate(9_000, 11_000), Some(10_000));
        assert_eq!(refine_rate(10_000, 10_000), None);
    }

    #[test]
    fn sweep_rates_double_after_the_list() {
        assert_eq!(
            sweep_rates(&[10_000, 25_000, 50_000, 100_000, 200_000], 1_000_000),
            vec![10_000, 25_000, 50_000, 100_000, 200_000, 400_000, 800_000]
        );
        assert_eq!(sweep_rates(&[10, 20], 20), vec![10, 20]);
        assert_eq!(sweep_rates(&[10, 0, 30], 100), vec![10, 30, 60]);
        assert_eq!(sweep_rates(&[], 100), Vec::<u64>::new());
        assert_eq!(sweep_rates(&[500], 100), Vec::<u64>::new());
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}

//! Matching engine benchmark (`cargo bench -p matcher --bench matching`).
//!
//! Two pre-generated workloads (generation is not timed):
//! 1. exchange-core's mix: 9% GTC, 3% IOC, 6% cancel, 82% move (cancel-replace to a new
//!    price), 1K accounts, one symbol, ~1K resting orders over ~750 price levels.
//! 2. a trade-heavy mix over 8 symbols: aggressive IOC/GTC limits and MARKET orders sweeping
//!    several levels, passive GTC replenishment, cancels and moves.
//!
//! For each: single-thread throughput (commands/s, closed loop), then per-command latency at a
//! fixed offered load of 1M commands/s, open loop: command i is due at t0 + i us; latency is
//! measured from the due time to the end of `apply` (so falling behind counts). Risk checks,
//! fees and event generation are included in every measurement.
//!
//! Machine pauses are measured, never removed: a 1 s busy-loop probe before the workloads
//! reports the gap distribution, and the open-loop run counts pauses (an `apply` or an idle
//! gap over 10 us) and how many of the commands slower than 1 us were queued behind one.
//! The latency of the commands outside such backlogs is printed as a labelled diagnostic
//! next to the metric, which always includes everything.

// Floats only for reporting rates and percentages, never near a balance.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_arithmetic)]

use hdrhistogram::Histogram;
use matcher::*;
use std::time::{Duration, Instant};

/// Small deterministic PRNG (splitmix64) so the workload is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    fn chance(&mut self, per_10k: u64) -> bool {
        self.below(10_000) < per_10k
    }
}

const ACCOUNTS: u64 = 1000;
const CENTER: u64 = 100_000;
const HALF_SPREAD_LEVELS: u64 = 850;

struct Gen {
    rng: Rng,
    engine: Engine,
    commands: Vec<SequencedCommand>,
    setup_len: usize,
    seq: u64,
    coid: u64,
    out: Vec<Event>,
    symbols: u32,
}

impl Gen {
    fn new(seed: u64, symbols: u32) -> Self {
        let mut g = Gen {
            rng: Rng(seed),
            engine: Engine::new(EngineConfig {
                fee_account: AccountId(0),
                max_open_orders_per_account: 1000,
            }),
            commands: Vec::new(),
            setup_len: 0,
            seq: 0,
            coid: 0,
            out: Vec::new(),
            symbols,
        };
        g.push(Command::UpsertAsset(AssetConfig {
            id: AssetId(1),
            code: "USDT".into(),
            scale: 6,
        }));
        for s in 1..=symbols {
            g.push(Command::UpsertAsset(AssetConfig {
                id: AssetId(1 + s),
                code: format!("COIN{s}"),
                scale: 8,
            }));
            g.push(Command::UpsertSymbol(SymbolConfig {
                id: SymbolId(s),
                name: format!("COIN{s}USDT"),
                base: AssetId(1 + s),
                quote: AssetId(1),
                tick_size: 100,
                lot_size: 1_000_000,
                min_qty: 1,
                max_qty: 1_000_000,
                max_price: 10_000_000,
                min_notional: 1,
                maker_fee_ppm: 1000,
                taker_fee_ppm: 2000,
            }));
        }
        for a in 1..=ACCOUNTS {
            for asset in 1..=symbols + 1 {
                g.push(Command::Deposit {
                    account: AccountId(a),
                    asset: AssetId(asset),
                    amount: 1_000_000_000_000_000,
                    tx_id: TxId::new(&format!("d{a}-{asset}")).unwrap(),
                });
            }
        }
        g
    }

    fn push(&mut self, command: Command) {
        self.seq += 1;
        let cmd = SequencedCommand {
            seq: self.seq,
            ts_ms: 1_700_000_000_000,
            command,
        };
        self.out.clear();
        self.engine.apply(&cmd, &mut self.out);
        self.commands.push(cmd);
    }

    fn next_coid(&mut self) -> ClientOrderId {
        self.coid += 1;
        ClientOrderId::new(&format!("c{}", self.coid)).unwrap()
    }

    fn account(&mut self) -> AccountId {
        AccountId(self.rng.range(1, ACCOUNTS))
    }

    fn symbol(&mut self) -> SymbolId {
        SymbolId(self.rng.range(1, u64::from(self.symbols)) as u32)
    }

    fn passive_price(&mut self, side: Side) -> u64 {
        let d = self.rng.range(1, HALF_SPREAD_LEVELS);
        match side {
            Side::Buy => CENTER - d,
            Side::Sell => CENTER + d,
        }
    }

    fn aggressive_price(&mut self, side: Side, depth: u64) -> u64 {
        let d = self.rng.range(0, depth);
        match side {
            Side::Buy => CENTER + d,
            Side::Sell => CENTER - d,
        }
    }

    fn side(&mut self) -> Side {
        if self.rng.chance(5000) {
            Side::Buy
        } else {
            Side::Sell
        }
    }

    fn limit(&mut self, symbol: SymbolId, side: Side, price: u64, qty: u64, tif: TimeInForce) {
        let client_order_id = self.next_coid();
        let account = self.account();
        self.push(Command::PlaceOrder(PlaceOrder {
            account,
            symbol,
            side,
            order_type: OrderType::Limit { price, qty, tif },
            client_order_id,
            stp: StpMode::None,
        }));
    }

    /// A random open order of the symbol (by scanning a random account's orders, then any).
    fn random_open(&mut self, symbol: SymbolId) -> Option<RestingOrder> {
        for _ in 0..50 {
            let a = self.account();
            let open = self.engine.open_orders(a, Some(symbol));
            if !open.is_empty() {
                let i = self.rng.below(open.len() as u64) as usize;
                return Some(*open[i]);
            }
        }
        None
    }

    fn cancel(&mut self, symbol: SymbolId) {
        if let Some(o) = self.random_open(symbol) {
            self.push(Command::Cancel {
                account: o.account,
                symbol,
                target: CancelTarget::OrderId(o.order_id),
            });
        }
    }

    fn moves(&mut self, symbol: SymbolId, aggressive_per_10k: u64) {
        let Some(o) = self.random_open(symbol) else {
            return;
        };
        let price = if self.rng.chance(aggressive_per_10k) {
            self.aggressive_price(o.side, 3)
        } else {
            self.passive_price(o.side)
        };
        let client_order_id = self.next_coid();
        self.push(Command::CancelReplace(CancelReplace {
            target: CancelTarget::OrderId(o.order_id),
            mode: CancelReplaceMode::StopOnFailure,
            new_order: PlaceOrder {
                account: o.account,
                symbol,
                side: o.side,
                order_type: OrderType::Limit {
                    price,
                    qty: o.remaining_qty,
                    tif: TimeInForce::Gtc,
                },
                client_order_id,
                stp: StpMode::None,
            },
        }));
    }

    fn prefill(&mut self, per_symbol: usize) {
        for s in 1..=self.symbols {
            for _ in 0..per_symbol {
                let side = self.side();
                let price = self.passive_price(side);
                let qty = self.rng.range(1, 100);
                self.limit(SymbolId(s), side, price, qty, TimeInForce::Gtc);
            }
        }
        self.setup_len = self.commands.len();
    }
}

/// exchange-core's mix on one symbol.
fn exchange_core_mix(n: usize) -> Gen {
    let mut g = Gen::new(42, 1);
    g.prefill(1000);
    let s = SymbolId(1);
    while g.commands.len() - g.setup_len < n {
        let r = g.rng.below(100);
        let open = g.engine.open_order_total();
        if r < 9 || open < 900 {
            // GTC, mostly passive; a few cross.
            let side = g.side();
            let price = if g.rng.chance(1000) {
                g.aggressive_price(side, 3)
            } else {
                g.passive_price(side)
            };
            let qty = g.rng.range(1, 100);
            g.limit(s, side, price, qty, TimeInForce::Gtc);
        } else if r < 12 {
            let side = g.side();
            let price = g.aggressive_price(side, 3);
            let qty = g.rng.range(1, 100);
            g.limit(s, side, price, qty, TimeInForce::Ioc);
        } else if r < 18 || open > 1100 {
            g.cancel(s);
        } else {
            g.moves(s, 1000);
        }
    }
    g
}

/// Trade-heavy mix over 8 symbols.
fn trade_heavy_mix(n: usize) -> Gen {
    let mut g = Gen::new(7, 8);
    g.prefill(500);
    while g.commands.len() - g.setup_len < n {
        let s = g.symbol();
        let r = g.rng.below(100);
        let side = g.side();
        if r < 30 {
            let price = g.aggressive_price(side, 10);
            let qty = g.rng.range(1, 300);
            let tif = if g.rng.chance(5000) {
                TimeInForce::Ioc
            } else {
                TimeInForce::Gtc
            };
            g.limit(s, side, price, qty, tif);
        } else if r < 45 {
            let client_order_id = g.next_coid();
            let account = g.account();
            let amount = if g.rng.chance(5000) {
                MarketAmount::Base(g.rng.range(1, 300))
            } else {
                MarketAmount::Quote(u128::from(g.rng.range(1, 300)) * u128::from(CENTER))
            };
            g.push(Command::PlaceOrder(PlaceOrder {
                account,
                symbol: s,
                side,
                order_type: OrderType::Market { amount },
                client_order_id,
                stp: StpMode::None,
            }));
        } else if r < 85 {
            let price = g.passive_price(side);
            let qty = g.rng.range(1, 100);
            g.limit(s, side, price, qty, TimeInForce::Gtc);
        } else if r < 95 {
            g.cancel(s);
        } else {
            g.moves(s, 1000);
        }
    }
    g
}

fn fresh_engine(g: &Gen) -> Engine {
    let mut e = Engine::new(EngineConfig {
        fee_account: AccountId(0),
        max_open_orders_per_account: 1000,
    });
    let mut out = Vec::new();
    for c in &g.commands[..g.setup_len] {
        out.clear();
        e.apply(c, &mut out);
    }
    e
}

struct Stats {
    events: u64,
    trades: u64,
    trading_commands: u64,
}

/// Event statistics of a workload (untimed pass).
fn stats(g: &Gen) -> Stats {
    let mut e = fresh_engine(g);
    let mut out = Vec::with_capacity(1024);
    let mut s = Stats {
        events: 0,
        trades: 0,
        trading_commands: 0,
    };
    for c in &g.commands[g.setup_len..] {
        out.clear();
        e.apply(c, &mut out);
        s.events += out.len() as u64;
        let t = out
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Trade(_)))
            .count() as u64;
        s.trades += t;
        s.trading_commands += u64::from(t > 0);
    }
    s
}

/// CPU time consumed by this thread (unaffected by time spent preempted on a shared machine).
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the valid timespec we pass.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Closed-loop throughput in commands per wall-clock second and per CPU second (events are
/// produced into a reused Vec and counted).
fn throughput(g: &Gen) -> (f64, f64) {
    let mut e = fresh_engine(g);
    let cmds = &g.commands[g.setup_len..];
    let mut out = Vec::with_capacity(1024);
    let mut events = 0usize;
    let start = Instant::now();
    let cpu_start = thread_cpu_time();
    for c in cmds {
        out.clear();
        e.apply(c, &mut out);
        events += out.len();
    }
    let cpu = (thread_cpu_time() - cpu_start).as_secs_f64();
    let secs = start.elapsed().as_secs_f64();
    assert!(events >= cmds.len());
    assert_eq!(e.last_cmd_seq(), g.commands.len() as u64);
    (cmds.len() as f64 / secs, cmds.len() as f64 / cpu)
}

/// Result of an open-loop run.
struct OpenLoop {
    /// From the due time to the end of `apply` (so queueing behind a slow command or a
    /// machine pause counts). THE metric.
    latency: Histogram<u64>,
    /// `apply` alone.
    service: Histogram<u64>,
    /// Commands that started more than 1 us after their due time.
    late: u64,
    /// Machine pauses seen during the run: an `apply` that took more than `PAUSE_NS`, or a gap
    /// of more than `PAUSE_NS` between the previous command's end (or this command's due
    /// time, if later) and this command's start. Values are the pause lengths.
    pauses: Histogram<u64>,
    /// Latency of the commands that were in a backlog (a run of commands each starting
    /// behind its due time) that began with or contained a pause.
    in_paused_backlog: Histogram<u64>,
    /// Latency of all other commands (diagnostic only: the metric is `latency`).
    elsewhere: Histogram<u64>,
}

/// An `apply` or an idle gap longer than this is counted as a machine pause: `apply` alone
/// has p99.99 well under it when the thread is not preempted.
const PAUSE_NS: u64 = 10_000;

fn hist() -> Histogram<u64> {
    Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap()
}

/// Open-loop run: command i is due at t0 + i * interval. Latency counts from the due time.
fn open_loop_latency(g: &Gen, per_second: u64) -> OpenLoop {
    let mut e = fresh_engine(g);
    let cmds = &g.commands[g.setup_len..];
    let mut out = Vec::with_capacity(1024);
    let mut r = OpenLoop {
        latency: hist(),
        service: hist(),
        late: 0,
        pauses: hist(),
        in_paused_backlog: hist(),
        elsewhere: hist(),
    };
    let interval_ns = 1_000_000_000 / per_second;
    // Start almost at once: a long initial sleep could overshoot into the measurement.
    let t0 = Instant::now() + Duration::from_micros(50);
    let mut prev_end = t0;
    let mut paused_backlog = false;
    for (i, c) in cmds.iter().enumerate() {
        let due = t0 + Duration::from_nanos(i as u64 * interval_ns);
        let mut now = Instant::now();
        if now < due {
            // Only ever ahead by about one interval (1 us): a short spin, never a sleep that
            // could overshoot; sleep only if far ahead (cannot happen at this rate).
            if due - now > Duration::from_millis(2) {
                std::thread::sleep(due - now - Duration::from_millis(1));
            }
            while Instant::now() < due {
                std::hint::spin_loop();
            }
            now = Instant::now();
        } else if now > due + Duration::from_micros(1) {
            r.late += 1;
        }
        out.clear();
        e.apply(c, &mut out);
        let end = Instant::now();
        let latency = (end - due).as_nanos().max(1) as u64;
        let service = (end - now).as_nanos().max(1) as u64;
        // Idle gap: from when this command could have started to when it did.
        let ready = due.max(prev_end);
        let gap = now.saturating_duration_since(ready).as_nanos() as u64;
        if prev_end <= due {
            // No backlog: this command starts a new one (or none).
            paused_backlog = false;
        }
        for pause in [gap, service] {
            if pause > PAUSE_NS {
                r.pauses.record(pause).unwrap();
                paused_backlog = true;
            }
        }
        r.latency.record(latency).unwrap();
        r.service.record(service).unwrap();
        if paused_backlog {
            r.in_paused_backlog.record(latency).unwrap();
        } else {
            r.elsewhere.record(latency).unwrap();
        }
        prev_end = end;
    }
    r
}

fn percentiles(h: &Histogram<u64>) -> String {
    format!(
        "p50 {} ns, p99 {} ns, p99.9 {} ns, p99.99 {} ns, max {} ns",
        h.value_at_quantile(0.50),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999),
        h.value_at_quantile(0.9999),
        h.max()
    )
}

fn report(name: &str, g: &Gen) {
    let n = g.commands.len() - g.setup_len;
    println!(
        "== {name}: {n} commands (after {} setup commands)",
        g.setup_len
    );
    let e = fresh_engine(g);
    let levels: usize = (1..=8)
        .filter_map(|s| e.depth(SymbolId(s), usize::MAX))
        .map(|d| d.bids.len() + d.asks.len())
        .sum();
    println!(
        "   at start: {} resting orders over {levels} price levels",
        e.open_order_total()
    );
    let s = stats(g);
    println!(
        "   {:.2} events/command, {:.1}% of commands trade, {:.3} trades/command",
        s.events as f64 / n as f64,
        100.0 * s.trading_commands as f64 / n as f64,
        s.trades as f64 / n as f64
    );
    for run in 1..=3 {
        let (wall, cpu) = throughput(g);
        println!(
            "   throughput run {run}: {:.2} M commands/s wall clock ({:.2} M per CPU-second of the thread)",
            wall / 1e6,
            cpu / 1e6
        );
    }
    if std::env::var_os("MATCHER_BENCH_THROUGHPUT_ONLY").is_some() {
        return;
    }
    let r = open_loop_latency(g, 1_000_000);
    println!(
        "   latency @ 1M commands/s offered (open loop, from due time): {}; {:.2}% started >1us late",
        percentiles(&r.latency),
        100.0 * r.late as f64 / n as f64
    );
    println!(
        "   service time (apply alone) in that run: {}",
        percentiles(&r.service)
    );
    let paused_ns: u64 = r
        .pauses
        .iter_recorded()
        .map(|v| v.value_iterated_to() * v.count_at_value())
        .sum();
    println!(
        "   machine pauses (>{} us) during that run: {} ({:.3}% of the run), lengths p50 {} ns, p99 {} ns, max {} ns",
        PAUSE_NS / 1000,
        r.pauses.len(),
        100.0 * paused_ns as f64 / (n as f64 * 1000.0),
        r.pauses.value_at_quantile(0.5),
        r.pauses.value_at_quantile(0.99),
        r.pauses.max()
    );
    let slow = |h: &Histogram<u64>| h.count_between(1_001, u64::MAX);
    let slow_total = slow(&r.latency).max(1);
    println!(
        "   commands over 1 us: {} ({:.2}%), of which {:.1}% queued behind a machine pause",
        slow(&r.latency),
        100.0 * slow(&r.latency) as f64 / n as f64,
        100.0 * slow(&r.in_paused_backlog) as f64 / slow_total as f64
    );
    println!(
        "   (diagnostic, not the metric) the {:.2}% of commands outside pause backlogs: {}",
        100.0 * r.elsewhere.len() as f64 / n as f64,
        percentiles(&r.elsewhere)
    );
}

/// How often this machine stalls a busy thread: gaps between consecutive clock reads in a
/// tight loop for one second (preemption, interrupts, hypervisor steal). Any such gap delays
/// every command due during it in the open-loop run.
fn jitter_probe() {
    let thresholds_ns = [1_000u64, 10_000, 20_000, 50_000, 100_000, 1_000_000];
    let mut counts = [0u64; 6];
    let mut gaps = hist();
    let start = Instant::now();
    let mut last = start;
    while last - start < Duration::from_secs(1) {
        let now = Instant::now();
        let gap = (now - last).as_nanos() as u64;
        for (c, t) in counts.iter_mut().zip(thresholds_ns) {
            *c += u64::from(gap > t);
        }
        if gap > 1_000 {
            gaps.record(gap).unwrap();
        }
        last = now;
    }
    let paused_ns: u64 = gaps
        .iter_recorded()
        .map(|v| v.value_iterated_to() * v.count_at_value())
        .sum();
    println!(
        "machine jitter probe (1 s busy loop): gaps >1us {}, >10us {}, >20us {}, >50us {}, >100us {}, >1ms {}; \
         gaps >1us: p50 {} ns, p99 {} ns, max {} ns, {:.2}% of the second",
        counts[0],
        counts[1],
        counts[2],
        counts[3],
        counts[4],
        counts[5],
        gaps.value_at_quantile(0.5),
        gaps.value_at_quantile(0.99),
        gaps.max(),
        paused_ns as f64 / 1e7
    );
}

fn main() {
    jitter_probe();
    // `cargo bench` passes `--bench`; any other argument is ignored.
    let n: usize = std::env::var("MATCHER_BENCH_COMMANDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000);
    println!(
        "command size: {} bytes, event size: {} bytes",
        std::mem::size_of::<SequencedCommand>(),
        std::mem::size_of::<Event>()
    );
    let t = Instant::now();
    let g = exchange_core_mix(n);
    println!(
        "(generated workload 1 in {:.1}s)",
        t.elapsed().as_secs_f64()
    );
    report("workload 1: exchange-core mix (9% GTC, 3% IOC, 6% cancel, 82% move), 1 symbol, 1K accounts", &g);
    drop(g);
    let t = Instant::now();
    let g = trade_heavy_mix(n);
    println!(
        "(generated workload 2 in {:.1}s)",
        t.elapsed().as_secs_f64()
    );
    report("workload 2: trade-heavy, 8 symbols, 1K accounts", &g);
}

//! Settlement benchmark (issue 5). Run with
//! `flock /work/bench.lock cargo bench -p settlement --bench settle -- [--trades N] [--lag-secs S] [--lag-rate R]`.
//!
//! 1. Throughput: trades per second fully settled (trade rows, ledger transfers, orders and
//!    balances, with the offset, one transaction per batch) from an events journal written
//!    beforehand, at batch sizes of 1k, 10k and 100k trades, each into a fresh database.
//! 2. The trade rows alone: our binary COPY next to Postgres's own limit (psql `\copy ... FROM`
//!    of the same rows in the same binary format) and to multi-row INSERT (1000 rows per
//!    statement), each into an identical indexed table, all rows in one transaction.
//! 3. Lag: events appended to a real journal open-loop at a fixed trade rate while settlement
//!    follows it; each event's lag runs from its intended append time (not the actual one) to
//!    the moment its batch is committed (polled every 1 ms), in hdrhistogram.
//!
//! The event stream comes from the real matcher: 1000 accounts, one symbol, rounds of ten
//! maker orders swept by one IOC taker (ten trades per round), about 7 events per trade.
#![allow(clippy::unwrap_used, clippy::float_arithmetic)]

use hdrhistogram::Histogram;
use journal::{Journal, JournalConfig, RecordKind};
use matcher::{
    codec, AccountId, AssetConfig, AssetId, ClientOrderId, Command, Engine, EngineConfig, Event,
    EventKind, OrderType, PlaceOrder, SequencedCommand, Side, StpMode, SymbolConfig, SymbolId,
    TimeInForce, TxId,
};
use pgcluster::TempCluster;
use settlement::batch::Batch;
use settlement::catalog::Catalog;
use settlement::{Metrics, SettlementConfig, SettlementHandle};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ACCOUNTS: u64 = 1000;

struct Flow {
    engine: Engine,
    seq: u64,
    out: Vec<Event>,
    events: Vec<Event>,
    trades: u64,
    rng: u64,
}

impl Flow {
    fn new() -> Flow {
        Flow {
            engine: Engine::new(EngineConfig::default()),
            seq: 0,
            out: Vec::new(),
            events: Vec::new(),
            trades: 0,
            rng: 0x9E37_79B9_7F4A_7C15,
        }
    }
    fn rand(&mut self, n: u64) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng % n
    }
    fn apply(&mut self, command: Command) {
        self.seq += 1;
        let cmd = SequencedCommand {
            seq: self.seq,
            ts_ms: 1_700_000_000_000 + self.seq,
            command,
        };
        self.out.clear();
        self.engine.apply(&cmd, &mut self.out);
        self.trades += self
            .out
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Trade(_)))
            .count() as u64;
        self.events.append(&mut self.out);
    }
    fn order(&mut self, account: u64, side: Side, order_type: OrderType) {
        let cid = ClientOrderId::new(&format!("o{}", self.seq)).unwrap();
        self.apply(Command::PlaceOrder(PlaceOrder {
            account: AccountId(account),
            symbol: SymbolId(1),
            side,
            order_type,
            client_order_id: cid,
            stp: StpMode::None,
        }));
    }
}

/// The events of a session with at least `trades` trades.
fn generate(trades: u64) -> Vec<Event> {
    let mut f = Flow::new();
    f.apply(Command::UpsertAsset(AssetConfig {
        id: AssetId(1),
        code: "BTC".into(),
        scale: 8,
    }));
    f.apply(Command::UpsertAsset(AssetConfig {
        id: AssetId(2),
        code: "USDT".into(),
        scale: 6,
    }));
    f.apply(Command::UpsertSymbol(SymbolConfig {
        id: SymbolId(1),
        name: "BTCUSDT".into(),
        base: AssetId(1),
        quote: AssetId(2),
        tick_size: 10_000,
        lot_size: 100_000,
        min_qty: 1,
        max_qty: 1_000_000_000,
        max_price: 100_000_000,
        min_notional: 0,
        maker_fee_ppm: 1_000,
        taker_fee_ppm: 2_000,
    }));
    for a in 1..=ACCOUNTS {
        for (asset, amount) in [(1u32, 10u128.pow(16)), (2, 10u128.pow(20))] {
            f.apply(Command::Deposit {
                account: AccountId(a),
                asset: AssetId(asset),
                amount,
                tx_id: TxId::new(&format!("g{a}-{asset}")).unwrap(),
            });
        }
    }
    let mut round = 0u64;
    while f.trades < trades {
        let (maker, taker) = if round.is_multiple_of(2) {
            (Side::Sell, Side::Buy)
        } else {
            (Side::Buy, Side::Sell)
        };
        let base: u64 = 3_000_000;
        let mut total = 0;
        for i in 0..10u64 {
            let qty = 1 + f.rand(3);
            total += qty;
            let price = if maker == Side::Sell {
                base + i % 5
            } else {
                base - i % 5
            };
            let account = 1 + f.rand(ACCOUNTS);
            f.order(
                account,
                maker,
                OrderType::Limit {
                    price,
                    qty,
                    tif: TimeInForce::Gtc,
                },
            );
        }
        let price = if taker == Side::Buy {
            base + 4
        } else {
            base - 4
        };
        let account = 1 + f.rand(ACCOUNTS);
        f.order(
            account,
            taker,
            OrderType::Limit {
                price,
                qty: total,
                tif: TimeInForce::Ioc,
            },
        );
        round += 1;
    }
    f.events
}

fn encode(events: &[Event]) -> Vec<Vec<u8>> {
    events
        .iter()
        .map(|e| {
            let mut b = Vec::new();
            codec::encode_event(e, &mut b).unwrap();
            b
        })
        .collect()
}

fn write_journal(dir: &Path, payloads: &[Vec<u8>]) {
    let j = Journal::open(JournalConfig::new(dir)).unwrap();
    for chunk in payloads.chunks(10_000) {
        let last = j.append_batch(RecordKind::Event, chunk).unwrap();
        if last % 500_000 < 10_000 {
            j.wait_durable_blocking(last).unwrap();
        }
    }
    j.close().unwrap();
}

fn settle_all(events_dir: &Path, url: &str, batch_trades: usize, last: u64) -> (Duration, u64) {
    let mut c = SettlementConfig::new(events_dir, url);
    c.max_batch_trades = batch_trades;
    c.max_batch_events = batch_trades * 20;
    c.stop_at = Some(last);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (_stop, rx) = tokio::sync::watch::channel(false);
    let start = Instant::now();
    let r = rt
        .block_on(settlement::run(c, Arc::new(Metrics::default()), rx))
        .unwrap();
    assert_eq!(r.applied_seq, last);
    (start.elapsed(), r.batches)
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().unwrap())
}

fn per_sec(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn main() {
    let trades_wanted = arg("--trades", 300_000);
    let lag_secs = arg("--lag-secs", 10);
    let lag_rate = arg("--lag-rate", 50_000);
    let pg = TempCluster::new().unwrap();
    let cluster = pg.cluster();
    println!(
        "postgres: {}",
        cluster.psql("postgres", "SELECT version()").unwrap().trim()
    );

    let t = Instant::now();
    let events = generate(trades_wanted.max(lag_rate * lag_secs));
    let all_trades = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Trade(_)))
        .count();
    let payloads = encode(&events);
    println!(
        "generated {} events, {} trades ({:.1} events/trade) in {:.1} s",
        events.len(),
        all_trades,
        events.len() as f64 / all_trades as f64,
        t.elapsed().as_secs_f64()
    );

    // 1. Throughput at batch sizes.
    let n_thr = events
        .iter()
        .scan(0u64, |c, e| {
            if matches!(e.kind, EventKind::Trade(_)) {
                *c += 1;
            }
            Some(*c)
        })
        .position(|c| c >= trades_wanted)
        .map_or(events.len(), |i| i + 1);
    let thr_events = &events[..n_thr];
    let thr_trades = thr_events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Trade(_)))
        .count() as u64;
    let dir = tempfile::tempdir().unwrap();
    write_journal(dir.path(), &payloads[..n_thr]);
    let mut full = Batch::new(0, AccountId(0));
    let mut catalog = Catalog::default();
    for e in thr_events {
        full.add(e, &mut catalog).unwrap();
    }
    println!(
        "\n## throughput: {} events, {} trades, {} ledger transfers, {} orders, {} balances",
        n_thr,
        thr_trades,
        full.ledger.len(),
        full.orders().len(),
        full.balances().len()
    );
    println!("| batch (trades) | batches | seconds | trades/s | events/s | ledger rows/s |");
    println!("|---|---|---|---|---|---|");
    for batch in [1_000usize, 10_000, 100_000] {
        let db = pg.create_database().unwrap();
        let (d, batches) = settle_all(dir.path(), &db.connection_string, batch, n_thr as u64);
        let settled = cluster
            .psql(&db.name, "SELECT count(*) FROM trades")
            .unwrap();
        assert_eq!(settled.trim(), thr_trades.to_string());
        println!(
            "| {batch} | {batches} | {:.2} | {:.0} | {:.0} | {:.0} |",
            d.as_secs_f64(),
            per_sec(thr_trades, d),
            per_sec(n_thr as u64, d),
            per_sec(full.ledger.len() as u64, d)
        );
    }

    // 2. Trade rows alone.
    trade_rows(&pg, &full.trades);

    // 3. Lag at a sustained rate.
    lag(&pg, &events, &payloads, lag_rate, lag_secs);
}

fn trade_rows(pg: &TempCluster, rows: &[settlement::batch::TradeRow]) {
    let cluster = pg.cluster();
    let db = pg.create_database().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut client = rt
        .block_on(settlement::connect(&db.connection_string))
        .unwrap();
    let file = tempfile::Builder::new()
        .prefix("trades-")
        .suffix(".bin")
        .tempfile_in("/tmp")
        .unwrap();
    let path = file.path().display().to_string();
    std::fs::set_permissions(
        file.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o666),
    )
    .unwrap();
    println!(
        "\n## trade rows alone: {} rows per transaction, into (LIKE trades INCLUDING ALL)",
        rows.len()
    );
    println!("| round | ours: binary COPY rows/s | psql \\copy FROM (binary) rows/s | ours / psql | multi-row INSERT rows/s |");
    println!("|---|---|---|---|---|");
    for round in 1..=3 {
        let fresh = |name: &str| {
            cluster.psql(&db.name, &format!("DROP TABLE IF EXISTS {name}; CREATE TABLE {name} (LIKE trades INCLUDING ALL)")).unwrap();
        };
        fresh("t_ours");
        let start = Instant::now();
        rt.block_on(async {
            let tx = client.transaction().await.unwrap();
            settlement::store::copy_trade_rows(&tx, "t_ours", rows)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        });
        let ours = per_sec(rows.len() as u64, start.elapsed());
        if round == 1 {
            cluster
                .psql(
                    &db.name,
                    &format!("\\copy t_ours TO '{path}' WITH (FORMAT binary)"),
                )
                .unwrap();
        }
        fresh("t_psql");
        let start = Instant::now();
        cluster
            .psql(
                &db.name,
                &format!("\\copy t_psql FROM '{path}' WITH (FORMAT binary)"),
            )
            .unwrap();
        let psql = per_sec(rows.len() as u64, start.elapsed());
        let same = cluster.psql(&db.name, "SELECT (SELECT md5(string_agg(t::text, '|' ORDER BY trade_id)) FROM t_ours t) = (SELECT md5(string_agg(t::text, '|' ORDER BY trade_id)) FROM t_psql t)").unwrap();
        assert_eq!(same.trim(), "t", "psql loaded different rows");
        fresh("t_insert");
        let start = Instant::now();
        rt.block_on(insert_rows(&mut client, "t_insert", rows));
        let insert = per_sec(rows.len() as u64, start.elapsed());
        println!(
            "| {round} | {ours:.0} | {psql:.0} | {:.0}% | {insert:.0} |",
            100.0 * ours / psql
        );
    }
}

async fn insert_rows(
    client: &mut tokio_postgres::Client,
    table: &str,
    rows: &[settlement::batch::TradeRow],
) {
    use settlement::Amount;
    use tokio_postgres::types::ToSql;
    let tx = client.transaction().await.unwrap();
    for chunk in rows.chunks(1000) {
        let mut sql = format!(
            "INSERT INTO {table} ({}) VALUES ",
            settlement::store::TRADE_COLUMNS
        );
        let mut values: Vec<Box<dyn ToSql + Sync>> = Vec::with_capacity(chunk.len() * 17);
        for (i, r) in chunk.iter().enumerate() {
            let t = &r.trade;
            if i > 0 {
                sql.push(',');
            }
            sql.push('(');
            for c in 0..17 {
                if c > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!("${}", i * 17 + c + 1));
            }
            sql.push(')');
            let side = if t.taker_side == Side::Buy {
                "BUY"
            } else {
                "SELL"
            };
            values.push(Box::new(t.trade_id.0 as i64));
            values.push(Box::new(r.event_seq as i64));
            values.push(Box::new(r.cmd_seq as i64));
            values.push(Box::new(r.ts_ms as i64));
            values.push(Box::new(i64::from(t.symbol.0)));
            values.push(Box::new(t.price as i64));
            values.push(Box::new(t.qty as i64));
            values.push(Box::new(Amount(r.base_qty)));
            values.push(Box::new(Amount(t.quote_qty)));
            values.push(Box::new(side));
            values.push(Box::new(t.buy_order_id.0 as i64));
            values.push(Box::new(t.sell_order_id.0 as i64));
            values.push(Box::new(t.buyer.0 as i64));
            values.push(Box::new(t.seller.0 as i64));
            values.push(Box::new(Amount(t.buyer_fee)));
            values.push(Box::new(Amount(t.seller_fee)));
            values.push(Box::new(i64::from(t.fee_asset.0)));
        }
        let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v.as_ref()).collect();
        tx.execute(sql.as_str(), &params).await.unwrap();
    }
    tx.commit().await.unwrap();
}

fn lag(pg: &TempCluster, events: &[Event], payloads: &[Vec<u8>], rate: u64, secs: u64) {
    let total_trades = rate * secs;
    // Intended append time of each event: when the trade count it completes is due.
    let mut due_ns = Vec::with_capacity(events.len());
    let mut trades = 0u64;
    for e in events {
        if matches!(e.kind, EventKind::Trade(_)) {
            trades += 1;
        }
        due_ns.push(trades * 1_000_000_000 / rate);
    }
    let n = due_ns
        .iter()
        .position(|&d| d > total_trades * 1_000_000_000 / rate)
        .unwrap_or(events.len());
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(JournalConfig::new(dir.path())).unwrap();
    let db = pg.create_database().unwrap();
    // The first events (assets, symbol, deposits) go in before the clock starts.
    let warm = due_ns.iter().position(|&d| d > 0).unwrap_or(0);
    let last_warm = journal
        .append_batch(RecordKind::Event, &payloads[..warm])
        .unwrap();
    journal.wait_durable_blocking(last_warm).unwrap();
    let mut c = SettlementConfig::new(dir.path(), db.connection_string.clone());
    c.stop_at = Some(n as u64);
    let handle = SettlementHandle::spawn(c).unwrap();
    let metrics = handle.metrics();
    while metrics.applied_seq.load(Ordering::Relaxed) < last_warm {
        std::thread::sleep(Duration::from_millis(5));
    }
    let start = Instant::now();
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let metrics = Arc::clone(&metrics);
        let due: Vec<u64> = due_ns[..n].to_vec();
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let mut h = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).unwrap();
            let mut seen = warm as u64;
            while seen < n as u64 {
                let applied = metrics.applied_seq.load(Ordering::Relaxed);
                let now = start.elapsed().as_nanos() as u64;
                while seen < applied {
                    seen += 1;
                    let lag_us = now.saturating_sub(due[seen as usize - 1]) / 1000;
                    h.record(lag_us.max(1)).unwrap();
                }
                if done.load(Ordering::Relaxed)
                    && start.elapsed() > Duration::from_secs(secs * 4 + 30)
                {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            (h, seen)
        })
    };
    let mut next = warm;
    while next < n {
        let now = start.elapsed().as_nanos() as u64;
        let end = next + due_ns[next..n].partition_point(|&d| d <= now);
        if end > next {
            journal
                .append_batch(RecordKind::Event, &payloads[next..end])
                .unwrap();
            next = end;
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    let append_secs = start.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    let (h, seen) = sampler.join().unwrap();
    let _ = handle.stop();
    journal.close().unwrap();
    let q = |p: f64| h.value_at_quantile(p) as f64 / 1000.0;
    println!("\n## lag at {rate} trades/s offered for {secs} s ({} events appended in {append_secs:.2} s, {} settled)", n - warm, seen as usize - warm);
    println!("| p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | batches |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
        q(0.5),
        q(0.9),
        q(0.99),
        q(0.999),
        h.max() as f64 / 1000.0,
        metrics.batches.load(Ordering::Relaxed)
    );
}

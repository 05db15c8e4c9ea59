//! Shared test helpers: a real node producing a random trading session, and table digests.
#![allow(dead_code, clippy::unwrap_used)]

use matcher::command::{CancelReplace, CancelReplaceMode, CancelTarget, MarketAmount};
use matcher::{
    AccountId, AssetConfig, AssetId, ClientOrderId, Command, EngineConfig, OrderId, OrderType,
    PlaceOrder, Side, StpMode, SymbolConfig, SymbolId, TimeInForce, TxId,
};
use node::{NoProjection, Node, NodeConfig};
use std::path::Path;

pub const FEE_ACCOUNT: u64 = 99;
pub const BTC: AssetId = AssetId(1);
pub const USDT: AssetId = AssetId(2);
pub const ETH: AssetId = AssetId(3);

/// A small deterministic generator (xorshift64*).
pub struct Rng(u64);
impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn symbol(
    id: u32,
    name: &str,
    base: AssetId,
    quote: AssetId,
    tick: u128,
    lot: u128,
) -> SymbolConfig {
    SymbolConfig {
        id: SymbolId(id),
        name: name.into(),
        base,
        quote,
        tick_size: tick,
        lot_size: lot,
        min_qty: 1,
        max_qty: 1_000_000,
        max_price: 10_000_000,
        min_notional: 0,
        maker_fee_ppm: 1_000,
        taker_fee_ppm: 2_000,
    }
}

/// Assets, two symbols (BTCUSDT, ETHBTC) and deposits for accounts 1..=accounts.
pub fn genesis(accounts: u64) -> Vec<Command> {
    let mut g = vec![
        Command::UpsertAsset(AssetConfig {
            id: BTC,
            code: "BTC".into(),
            scale: 8,
        }),
        Command::UpsertAsset(AssetConfig {
            id: USDT,
            code: "USDT".into(),
            scale: 6,
        }),
        Command::UpsertAsset(AssetConfig {
            id: ETH,
            code: "ETH".into(),
            scale: 18,
        }),
        // tick 0.01 USDT, lot 0.001 BTC
        Command::UpsertSymbol(symbol(1, "BTCUSDT", BTC, USDT, 10_000, 100_000)),
        // tick 0.00001 BTC, lot 0.01 ETH
        Command::UpsertSymbol(symbol(2, "ETHBTC", ETH, BTC, 1_000, 10_000_000_000_000_000)),
    ];
    for a in 1..=accounts {
        for (asset, amount) in [
            (BTC, 1_000u128 * 100_000_000),
            (USDT, 50_000_000u128 * 1_000_000),
            (ETH, 10_000u128 * 10u128.pow(18)),
        ] {
            g.push(Command::Deposit {
                account: AccountId(a),
                asset,
                amount,
                tx_id: TxId::new(&format!("genesis-{a}-{}", asset.0)).unwrap(),
            });
        }
    }
    g
}

/// Runs a node in `data_dir` through a random session of `commands` commands (limit orders
/// around a drifting mid, IOC, market orders, cancels, cancel-replaces, deposits, withdrawals
/// and one fee-account change), then shuts it down. Returns the last event sequence.
pub fn session(data_dir: &Path, seed: u64, accounts: u64, commands: usize) -> u64 {
    let mut config = NodeConfig::new(data_dir);
    config.engine = EngineConfig {
        fee_account: AccountId(FEE_ACCOUNT),
        ..EngineConfig::default()
    };
    config.genesis = genesis(accounts);
    config.events_sync_interval = None;
    let node = Node::start(config, NoProjection).unwrap();
    let handle = node.handle();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut rng = Rng::new(seed);
        let mut pending = Vec::new();
        let mut next_order = 1u64;
        for i in 0..commands {
            let cmd = random_command(&mut rng, i, accounts, next_order);
            if matches!(cmd, Command::PlaceOrder(_)) {
                next_order += 1;
            }
            pending.push(handle.enqueue(cmd).unwrap());
            if pending.len() >= 256 {
                for rx in pending.drain(..) {
                    rx.await.unwrap().unwrap();
                }
            }
        }
        for rx in pending.drain(..) {
            rx.await.unwrap().unwrap();
        }
    });
    drop(rt);
    node.shutdown().unwrap().last_event_seq
}

pub fn random_command(rng: &mut Rng, i: usize, accounts: u64, orders_so_far: u64) -> Command {
    let account = AccountId(1 + rng.below(accounts));
    let sym = if rng.below(4) == 0 { 2 } else { 1 };
    let mid: u64 = if sym == 1 { 3_000_000 } else { 5_000 };
    let side = if rng.below(2) == 0 {
        Side::Buy
    } else {
        Side::Sell
    };
    let cid = ClientOrderId::new(&format!("c{i}")).unwrap();
    let place = |order_type| PlaceOrder {
        account,
        symbol: SymbolId(sym),
        side,
        order_type,
        client_order_id: cid,
        stp: StpMode::None,
    };
    let price = mid - 20 + rng.below(41);
    let qty = 1 + rng.below(20);
    if i == 1_000 {
        return Command::SetFeeAccount {
            account: AccountId(FEE_ACCOUNT + 1),
        };
    }
    match rng.below(100) {
        0..=54 => Command::PlaceOrder(place(OrderType::Limit {
            price,
            qty,
            tif: TimeInForce::Gtc,
        })),
        55..=64 => Command::PlaceOrder(place(OrderType::Limit {
            price,
            qty,
            tif: TimeInForce::Ioc,
        })),
        65..=69 => Command::PlaceOrder(place(OrderType::Market {
            amount: MarketAmount::Base(qty),
        })),
        70..=84 => Command::Cancel {
            account,
            symbol: SymbolId(sym),
            target: CancelTarget::OrderId(OrderId(1 + rng.below(orders_so_far.max(1)))),
        },
        85..=92 => Command::CancelReplace(CancelReplace {
            target: CancelTarget::OrderId(OrderId(1 + rng.below(orders_so_far.max(1)))),
            mode: CancelReplaceMode::AllowFailure,
            new_order: place(OrderType::Limit {
                price,
                qty,
                tif: TimeInForce::Gtc,
            }),
        }),
        93..=95 => Command::Deposit {
            account,
            asset: USDT,
            amount: 1 + u128::from(rng.below(1_000_000)),
            tx_id: TxId::new(&format!("dep-{i}")).unwrap(),
        },
        96..=98 => Command::Withdraw {
            account,
            asset: BTC,
            amount: 1 + u128::from(rng.below(10_000)),
            tx_id: TxId::new(&format!("wd-{i}")).unwrap(),
        },
        _ => Command::CancelAll {
            account,
            symbol: None,
        },
    }
}

/// An md5 digest of every settlement table's content (ordered by key), one line per table.
pub fn digest(cluster: &pgcluster::Cluster, db: &str) -> String {
    let tables = [
        ("trades", "trade_id"),
        ("orders", "order_id"),
        ("ledger", "event_seq, entry"),
        ("balances", "account, asset"),
        ("assets", "asset_id"),
        ("symbols", "symbol_id"),
    ];
    let mut out = String::new();
    for (t, key) in tables {
        let sql = format!(
            "SELECT count(*) || ' ' || coalesce(md5(string_agg(x::text, '|' ORDER BY {key})), '-') FROM {t} x"
        );
        out.push_str(&format!("{t} {}\n", cluster.psql(db, &sql).unwrap().trim()));
    }
    let off = cluster
        .psql(
            db,
            "SELECT consumer || ' ' || last_seq || ' ' || fee_account FROM consumer_offsets",
        )
        .unwrap();
    out.push_str(&format!("offsets {}\n", off.trim()));
    out
}

/// Count of rows whose key appears twice (must be 0).
pub fn duplicates(cluster: &pgcluster::Cluster, db: &str) -> u64 {
    let sql = "SELECT (SELECT count(*) FROM (SELECT event_seq, entry FROM ledger GROUP BY 1, 2 HAVING count(*) > 1) d)";
    cluster.psql(db, sql).unwrap().trim().parse().unwrap()
}

#![allow(clippy::unwrap_used)]
//! Shared fixtures for the integration tests: a market setup with a 6-, an 8- and an
//! 18-decimal asset, and a random command generator.
#![allow(dead_code)]

use matcher::*;
use proptest::prelude::*;

pub const USDT: AssetId = AssetId(1);
pub const BTC: AssetId = AssetId(2);
pub const ETH: AssetId = AssetId(3);
pub const FEE_ACCOUNT: AccountId = AccountId(100);

pub fn asset(id: AssetId, code: &str, scale: u8) -> Command {
    Command::UpsertAsset(AssetConfig {
        id,
        code: code.into(),
        scale,
    })
}

#[allow(clippy::too_many_arguments)]
pub fn symbol(
    id: u32,
    name: &str,
    base: AssetId,
    quote: AssetId,
    tick_size: u128,
    lot_size: u128,
    min_notional: u128,
    maker: u32,
    taker: u32,
) -> SymbolConfig {
    SymbolConfig {
        id: SymbolId(id),
        name: name.into(),
        base,
        quote,
        tick_size,
        lot_size,
        min_qty: 1,
        max_qty: 1_000_000,
        max_price: 1_000_000_000,
        min_notional,
        maker_fee_ppm: maker,
        taker_fee_ppm: taker,
    }
}

/// Four symbols over USDT (6 decimals), BTC (8) and ETH (18), one quoted in ETH.
pub fn random_setup() -> Vec<Command> {
    vec![
        asset(USDT, "USDT", 6),
        asset(BTC, "BTC", 8),
        asset(ETH, "ETH", 18),
        // unit = 10_000 * 100_000 / 1e8 = 10 USDT units per tick-lot
        Command::UpsertSymbol(symbol(
            1, "BTCUSDT", BTC, USDT, 10_000, 100_000, 100, 1000, 2000,
        )),
        // unit = 10_000 * 1e15 / 1e18 = 10
        Command::UpsertSymbol(symbol(
            2,
            "ETHUSDT",
            ETH,
            USDT,
            10_000,
            1_000_000_000_000_000,
            100,
            0,
            1500,
        )),
        // unit = 1000 * 1e15 / 1e18 = 1 satoshi
        Command::UpsertSymbol(symbol(
            3,
            "ETHBTC",
            ETH,
            BTC,
            1000,
            1_000_000_000_000_000,
            1,
            333,
            777,
        )),
        // unit = 1e12 * 1000 / 1e8 = 1e7 wei (18-decimal quote)
        Command::UpsertSymbol(symbol(
            4,
            "BTCETH",
            BTC,
            ETH,
            1_000_000_000_000,
            1000,
            1,
            250,
            1000,
        )),
    ]
}

/// (base, quote, unit) of the random symbols.
pub fn sym_info(sym: u8) -> (AssetId, AssetId, u128) {
    match sym {
        1 => (BTC, USDT, 10),
        2 => (ETH, USDT, 10),
        3 => (ETH, BTC, 1),
        _ => (BTC, ETH, 10_000_000),
    }
}

fn deposit_unit(asset: u8) -> u128 {
    match asset {
        1 => 500,
        2 => 50_000,
        _ => 500_000_000_000_000,
    }
}

/// A generated order request (resolved against the engine at apply time).
#[derive(Clone, Debug)]
pub struct GenOrder {
    pub acct: u8,
    pub sym: u8,
    pub buy: bool,
    pub kind: u8,
    pub price: u8,
    pub qty: u8,
    pub amount: u16,
    pub coid: u8,
    pub stp: u8,
}

#[derive(Clone, Debug)]
pub enum Op {
    Deposit {
        acct: u8,
        asset: u8,
        r: u16,
        tx: u8,
    },
    Withdraw {
        acct: u8,
        asset: u8,
        r: u16,
        tx: u8,
    },
    Place(GenOrder),
    Cancel {
        acct: u8,
        sym: u8,
        pick: u8,
        by_coid: bool,
    },
    CancelAll {
        acct: u8,
        sym: Option<u8>,
    },
    Replace {
        pick: u8,
        by_coid: bool,
        allow: bool,
        amend: bool,
        order: GenOrder,
    },
    Halt {
        sym: u8,
    },
    Resume {
        sym: u8,
    },
    Fees {
        sym: u8,
        maker: u16,
        taker: u16,
    },
    FeeAccount {
        acct: u8,
    },
}

pub fn gen_order() -> impl Strategy<Value = GenOrder> {
    (
        (
            1u8..=10,
            prop_oneof![20 => 1u8..=4, 1 => Just(5u8)],
            any::<bool>(),
            0u8..10,
        ),
        (0u8..=24, 0u8..=30, 0u16..400, 0u8..12, 0u8..5),
    )
        .prop_map(
            |((acct, sym, buy, kind), (price, qty, amount, coid, stp))| GenOrder {
                acct,
                sym,
                buy,
                kind,
                price,
                qty,
                amount,
                coid,
                stp,
            },
        )
}

pub fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        14 => (1u8..=10, 1u8..=4, 1u16..2000, 0u8..250)
            .prop_map(|(acct, asset, r, tx)| Op::Deposit { acct, asset, r, tx }),
        2 => (1u8..=10, 1u8..=4, 1u16..2000, 0u8..40)
            .prop_map(|(acct, asset, r, tx)| Op::Withdraw { acct, asset, r, tx }),
        30 => gen_order().prop_map(Op::Place),
        5 => (1u8..=10, 1u8..=4, any::<u8>(), any::<bool>())
            .prop_map(|(acct, sym, pick, by_coid)| Op::Cancel { acct, sym, pick, by_coid }),
        1 => (1u8..=10, proptest::option::of(1u8..=5))
            .prop_map(|(acct, sym)| Op::CancelAll { acct, sym }),
        8 => (any::<u8>(), any::<bool>(), any::<bool>(), any::<bool>(), gen_order())
            .prop_map(|(pick, by_coid, allow, amend, order)| Op::Replace { pick, by_coid, allow, amend, order }),
        1 => (1u8..=5).prop_map(|sym| Op::Halt { sym }),
        8 => (1u8..=5).prop_map(|sym| Op::Resume { sym }),
        1 => (1u8..=4, 0u16..3000, 0u16..3000)
            .prop_map(|(sym, maker, taker)| Op::Fees { sym, maker, taker }),
        1 => (1u8..=7).prop_map(|acct| Op::FeeAccount { acct }),
    ]
}

fn stp(v: u8) -> StpMode {
    match v {
        0 => StpMode::None,
        1 => StpMode::ExpireTaker,
        2 => StpMode::ExpireMaker,
        3 => StpMode::ExpireBoth,
        _ => StpMode::Decrement,
    }
}

pub fn place_order(g: &GenOrder) -> PlaceOrder {
    let side = if g.buy { Side::Buy } else { Side::Sell };
    // Prices around 100 so that orders cross often; 0 and huge values test validation.
    let price = match g.price {
        0 => 0,
        24 => 2_000_000_000,
        p => 94 + u64::from(p % 12),
    };
    let qty = u64::from(g.qty);
    let (_, _, unit) = sym_info(g.sym);
    let amount = u128::from(g.amount) * unit * 10;
    let order_type = match g.kind {
        0..=3 => OrderType::Limit {
            price,
            qty,
            tif: TimeInForce::Gtc,
        },
        4 => OrderType::Limit {
            price,
            qty,
            tif: TimeInForce::Ioc,
        },
        5 => OrderType::Limit {
            price,
            qty,
            tif: TimeInForce::Fok,
        },
        6 => OrderType::LimitMaker { price, qty },
        7 => OrderType::Market {
            amount: MarketAmount::Base(qty),
        },
        _ => OrderType::Market {
            amount: MarketAmount::Quote(amount),
        },
    };
    PlaceOrder {
        account: AccountId(u64::from(g.acct)),
        symbol: SymbolId(u32::from(g.sym)),
        side,
        order_type,
        client_order_id: ClientOrderId::new(&format!("c{}", g.coid)).unwrap(),
        stp: stp(g.stp),
    }
}

fn target<B: matcher::book::Book>(
    engine: &Engine<B>,
    acct: AccountId,
    sym: SymbolId,
    pick: u8,
    by_coid: bool,
) -> CancelTarget {
    let open = engine.open_orders(acct, Some(sym));
    // Mostly existing orders; sometimes an id/client id that does not exist.
    if !open.is_empty() && !pick.is_multiple_of(8) {
        let o = open[usize::from(pick) % open.len()];
        if by_coid {
            CancelTarget::ClientOrderId(o.client_order_id)
        } else {
            CancelTarget::OrderId(o.order_id)
        }
    } else if by_coid {
        CancelTarget::ClientOrderId(ClientOrderId::new(&format!("c{}", pick % 12)).unwrap())
    } else {
        CancelTarget::OrderId(OrderId(u64::from(pick)))
    }
}

/// Turns a generated op into a command, resolving order references against `engine`.
pub fn to_command<B: matcher::book::Book>(engine: &Engine<B>, op: &Op) -> Command {
    match op {
        Op::Deposit { acct, asset, r, tx } => Command::Deposit {
            account: AccountId(u64::from(*acct)),
            asset: AssetId(u32::from(*asset)),
            amount: u128::from(*r) * deposit_unit(*asset),
            tx_id: TxId::new(&format!("d{tx}")).unwrap(),
        },
        Op::Withdraw { acct, asset, r, tx } => Command::Withdraw {
            account: AccountId(u64::from(*acct)),
            asset: AssetId(u32::from(*asset)),
            amount: u128::from(*r) * deposit_unit(*asset),
            tx_id: TxId::new(&format!("w{tx}")).unwrap(),
        },
        Op::Place(g) => Command::PlaceOrder(place_order(g)),
        Op::Cancel {
            acct,
            sym,
            pick,
            by_coid,
        } => {
            let account = AccountId(u64::from(*acct));
            let symbol = SymbolId(u32::from(*sym));
            Command::Cancel {
                account,
                symbol,
                target: target(engine, account, symbol, *pick, *by_coid),
            }
        }
        Op::CancelAll { acct, sym } => Command::CancelAll {
            account: AccountId(u64::from(*acct)),
            symbol: sym.map(|s| SymbolId(u32::from(s))),
        },
        Op::Replace {
            pick,
            by_coid,
            allow,
            amend,
            order,
        } => {
            let mut new_order = place_order(order);
            let t = target(engine, new_order.account, new_order.symbol, *pick, *by_coid);
            // Often turn the request into a same-price decrease to exercise amend-in-place.
            if *amend {
                if let CancelTarget::OrderId(id) = t {
                    if let Some(o) = engine.order(id) {
                        new_order.side = o.side;
                        new_order.stp = o.stp;
                        let qty = o.remaining_qty.saturating_sub(u64::from(order.qty % 3));
                        new_order.order_type = match o.kind {
                            RestingKind::Limit => OrderType::Limit {
                                price: o.price,
                                qty,
                                tif: TimeInForce::Gtc,
                            },
                            RestingKind::LimitMaker => OrderType::LimitMaker {
                                price: o.price,
                                qty,
                            },
                        };
                    }
                }
            }
            Command::CancelReplace(CancelReplace {
                target: t,
                mode: if *allow {
                    CancelReplaceMode::AllowFailure
                } else {
                    CancelReplaceMode::StopOnFailure
                },
                new_order,
            })
        }
        Op::Halt { sym } => Command::HaltSymbol {
            symbol: SymbolId(u32::from(*sym)),
        },
        Op::Resume { sym } => Command::ResumeSymbol {
            symbol: SymbolId(u32::from(*sym)),
        },
        Op::Fees { sym, maker, taker } => {
            let mut cfg = match random_setup().into_iter().nth(2 + usize::from(*sym)) {
                Some(Command::UpsertSymbol(c)) => c,
                _ => unreachable!(),
            };
            cfg.maker_fee_ppm = u32::from(*maker);
            cfg.taker_fee_ppm = u32::from(*taker);
            Command::UpsertSymbol(cfg)
        }
        Op::FeeAccount { acct } => Command::SetFeeAccount {
            account: if *acct == 7 {
                FEE_ACCOUNT
            } else {
                AccountId(u64::from(*acct))
            },
        },
    }
}

pub fn sequenced(seq: u64, command: Command) -> SequencedCommand {
    SequencedCommand {
        seq,
        ts_ms: 1_700_000_000_000 + seq * 3,
        command,
    }
}

pub fn encode_events(events: &[Event]) -> Vec<u8> {
    let mut buf = Vec::new();
    for e in events {
        codec::encode_event(e, &mut buf).unwrap();
    }
    buf
}

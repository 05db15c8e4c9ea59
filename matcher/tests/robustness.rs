//! The engine never panics on any command content and keeps its invariants: commands with
//! arbitrary field values (extreme prices, quantities, amounts, unknown ids, odd symbol
//! configurations) become rejections or valid actions. Runs in debug, so any arithmetic
//! overflow would panic here.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use matcher::book::{FastBook, NaiveBook};
use matcher::*;
use proptest::prelude::*;

fn big_u64() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..200, Just(u64::MAX), Just(u64::MAX / 2), any::<u64>()]
}

fn big_u128() -> impl Strategy<Value = u128> {
    prop_oneof![
        0u128..1_000_000,
        Just(u128::MAX),
        Just(config::MAX_ASSET_SUPPLY),
        Just(config::MAX_ASSET_SUPPLY + 1),
        any::<u128>(),
        (0u128..1000).prop_map(|x| x * 1_000_000_000_000_000_000_000_000),
    ]
}

/// Powers of ten make symbol configurations that pass the exactness check, with extreme units.
fn power_or_any() -> impl Strategy<Value = u128> {
    prop_oneof![big_u128(), (0u32..=31).prop_map(|e| 10u128.pow(e))]
}

fn stp() -> impl Strategy<Value = StpMode> {
    prop_oneof![
        Just(StpMode::None),
        Just(StpMode::ExpireTaker),
        Just(StpMode::ExpireMaker),
        Just(StpMode::ExpireBoth),
        Just(StpMode::Decrement),
    ]
}

fn order_type() -> impl Strategy<Value = OrderType> {
    let tif = prop_oneof![
        Just(TimeInForce::Gtc),
        Just(TimeInForce::Ioc),
        Just(TimeInForce::Fok)
    ];
    prop_oneof![
        (big_u64(), big_u64(), tif).prop_map(|(price, qty, tif)| OrderType::Limit {
            price,
            qty,
            tif
        }),
        (big_u64(), big_u64()).prop_map(|(price, qty)| OrderType::LimitMaker { price, qty }),
        big_u64().prop_map(|q| OrderType::Market {
            amount: MarketAmount::Base(q)
        }),
        big_u128().prop_map(|q| OrderType::Market {
            amount: MarketAmount::Quote(q)
        }),
    ]
}

fn place() -> impl Strategy<Value = PlaceOrder> {
    (0u64..4, 0u32..7, any::<bool>(), order_type(), 0u8..4, stp()).prop_map(
        |(acct, sym, buy, order_type, coid, stp)| PlaceOrder {
            account: AccountId(acct),
            symbol: SymbolId(sym),
            side: if buy { Side::Buy } else { Side::Sell },
            order_type,
            client_order_id: ClientOrderId::new(&format!("x{coid}")).unwrap(),
            stp,
        },
    )
}

fn symbol_config() -> impl Strategy<Value = SymbolConfig> {
    (
        (5u32..7, 0u32..5, 0u32..5, power_or_any(), power_or_any()),
        (
            big_u64(),
            big_u64(),
            big_u64(),
            big_u128(),
            0u32..2_000_000,
            0u32..2_000_000,
        ),
    )
        .prop_map(
            |((id, base, quote, tick, lot), (min_qty, max_qty, max_price, mn, mk, tk))| {
                SymbolConfig {
                    id: SymbolId(id),
                    name: format!("S{id}"),
                    base: AssetId(base),
                    quote: AssetId(quote),
                    tick_size: tick,
                    lot_size: lot,
                    min_qty,
                    max_qty,
                    max_price,
                    min_notional: mn,
                    maker_fee_ppm: mk,
                    taker_fee_ppm: tk,
                }
            },
        )
}

fn command() -> impl Strategy<Value = Command> {
    let target = prop_oneof![
        (0u64..40).prop_map(|i| CancelTarget::OrderId(OrderId(i))),
        (0u8..4).prop_map(|c| CancelTarget::ClientOrderId(
            ClientOrderId::new(&format!("x{c}")).unwrap()
        )),
    ];
    prop_oneof![
        4 => (0u64..4, 0u32..5, big_u128(), 0u8..6).prop_map(|(a, asset, amount, tx)| Command::Deposit {
            account: AccountId(a),
            asset: AssetId(asset),
            amount,
            tx_id: TxId::new(&format!("t{tx}")).unwrap(),
        }),
        1 => (0u64..4, 0u32..5, big_u128(), 0u8..6).prop_map(|(a, asset, amount, tx)| Command::Withdraw {
            account: AccountId(a),
            asset: AssetId(asset),
            amount,
            tx_id: TxId::new(&format!("t{tx}")).unwrap(),
        }),
        10 => place().prop_map(Command::PlaceOrder),
        2 => (0u64..4, 0u32..7, target.clone()).prop_map(|(a, s, target)| Command::Cancel {
            account: AccountId(a),
            symbol: SymbolId(s),
            target,
        }),
        1 => (0u64..4, proptest::option::of(0u32..7))
            .prop_map(|(a, s)| Command::CancelAll { account: AccountId(a), symbol: s.map(SymbolId) }),
        3 => (target, any::<bool>(), place()).prop_map(|(target, allow, new_order)| {
            Command::CancelReplace(CancelReplace {
                target,
                mode: if allow {
                    CancelReplaceMode::AllowFailure
                } else {
                    CancelReplaceMode::StopOnFailure
                },
                new_order,
            })
        }),
        1 => symbol_config().prop_map(Command::UpsertSymbol),
        1 => (0u32..5, 0u8..30).prop_map(|(id, scale)| Command::UpsertAsset(AssetConfig {
            id: AssetId(id),
            code: format!("A{id}"),
            scale,
        })),
        1 => (0u32..7).prop_map(|s| Command::HaltSymbol { symbol: SymbolId(s) }),
        1 => (0u32..7).prop_map(|s| Command::ResumeSymbol { symbol: SymbolId(s) }),
        1 => (0u64..4).prop_map(|a| Command::SetFeeAccount { account: AccountId(a) }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("ROBUSTNESS_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(192), ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_commands_never_panic(
        cmds in proptest::collection::vec(command(), 1..250),
        seqs in proptest::collection::vec(0u64..3, 250),
    ) {
        let cfg = EngineConfig { fee_account: AccountId(0), max_open_orders_per_account: 8 };
        let mut fast: Engine<FastBook> = Engine::new(cfg);
        let mut naive: Engine<NaiveBook> = Engine::new(cfg);
        let (mut ev_f, mut ev_n) = (Vec::new(), Vec::new());
        let mut seq = 0;
        for c in random_setup() {
            seq += 1;
            fast.apply(&sequenced(seq, c.clone()), &mut ev_f);
            naive.apply(&sequenced(seq, c), &mut ev_n);
        }
        for (i, c) in cmds.into_iter().enumerate() {
            // Mostly increasing sequences, sometimes a repeated (stale) one.
            seq += seqs[i];
            let cmd = sequenced(seq, c);
            let before = fast.last_cmd_seq();
            let (from_f, from_n) = (ev_f.len(), ev_n.len());
            fast.apply(&cmd, &mut ev_f);
            naive.apply(&cmd, &mut ev_n);
            prop_assert_eq!(&ev_f[from_f..], &ev_n[from_n..]);
            if cmd.seq <= before {
                prop_assert_eq!(ev_f.len(), from_f + 1);
                let stale = matches!(
                    ev_f[from_f].kind,
                    EventKind::Rejected { reason: RejectReason::StaleSequence, .. }
                );
                prop_assert!(stale, "stale sequence not rejected");
            }
            if let Err(v) = fast.check_invariants() {
                return Err(TestCaseError::fail(format!("{v} after {cmd:?}")));
            }
        }
        prop_assert_eq!(fast.state_hash(), naive.state_hash());
    }
}

/// A symbol whose bounds allow quantities that are astronomically large in base units: orders
/// beyond the supply limit are rejected instead of overflowing.
#[test]
fn extreme_symbol_bounds_reject_instead_of_overflowing() {
    let mut e: Engine = Engine::new(EngineConfig::default());
    let mut out = Vec::new();
    let mut seq = 0;
    let mut run = |e: &mut Engine, c: Command, out: &mut Vec<Event>| {
        seq += 1;
        out.clear();
        e.apply(&sequenced(seq, c), out);
    };
    run(&mut e, asset(AssetId(1), "Q", 0), &mut out);
    run(&mut e, asset(AssetId(2), "B", 0), &mut out);
    let mut cfg = symbol(
        1,
        "BQ",
        AssetId(2),
        AssetId(1),
        1,
        1_000_000_000_000_000_000_000_000,
        1,
        0,
        0,
    );
    cfg.max_qty = u64::MAX;
    cfg.max_price = u64::MAX;
    run(&mut e, Command::UpsertSymbol(cfg), &mut out);
    assert!(
        matches!(out[0].kind, EventKind::SymbolUpserted(_)),
        "{out:?}"
    );
    for order_type in [
        OrderType::Limit {
            price: 1,
            qty: u64::MAX,
            tif: TimeInForce::Gtc,
        },
        OrderType::LimitMaker {
            price: 1,
            qty: u64::MAX,
        },
        OrderType::Market {
            amount: MarketAmount::Base(u64::MAX),
        },
        OrderType::Limit {
            price: u64::MAX,
            qty: u64::MAX,
            tif: TimeInForce::Ioc,
        },
    ] {
        for side in [Side::Buy, Side::Sell] {
            let req = PlaceOrder {
                account: AccountId(1),
                symbol: SymbolId(1),
                side,
                order_type,
                client_order_id: ClientOrderId::new("big").unwrap(),
                stp: StpMode::None,
            };
            run(&mut e, Command::PlaceOrder(req), &mut out);
            assert!(
                matches!(
                    out[0].kind,
                    EventKind::Rejected {
                        reason: RejectReason::QuantityTooLarge | RejectReason::NotionalTooLarge,
                        ..
                    }
                ),
                "{order_type:?} {side:?}: {out:?}"
            );
        }
    }
    e.check_invariants().unwrap();
}

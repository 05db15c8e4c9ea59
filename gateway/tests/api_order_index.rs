//! The order index: agrees with the engine's open orders after every command of random
//! flows, survives save/load, seeds from the engine, evicts closed orders FIFO within its
//! bound, never answers for another account; and the execution reports of expiries, STP and
//! cancels.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_support;

use api_support::*;
use gateway::api::user_data::execution_reports;
use gateway::api::{OrderIndex, OrderLookup};
use matcher::*;
use node::Projection;
use proptest::prelude::*;

fn place(
    account: AccountId,
    side: Side,
    order_type: OrderType,
    cid: &str,
    stp: StpMode,
) -> Command {
    Command::PlaceOrder(PlaceOrder {
        account,
        symbol: BTCUSDT,
        side,
        order_type,
        client_order_id: ClientOrderId::new(cid).unwrap(),
        stp,
    })
}

fn gtc(price: u64, qty: u64) -> OrderType {
    OrderType::Limit {
        price,
        qty,
        tif: TimeInForce::Gtc,
    }
}

/// Index view of an account's open orders vs the engine's.
fn check_against_engine(h: &Harness) -> Result<(), TestCaseError> {
    for account in [ALICE, BOB] {
        let from_index: Vec<_> = h
            .index
            .open_orders(account, None)
            .iter()
            .map(|o| {
                (
                    o.info.order_id,
                    o.client_order_id,
                    o.state.remaining_qty,
                    o.state.executed_qty,
                    o.state.prevented_qty,
                    o.state.cum_quote,
                )
            })
            .collect();
        let from_engine: Vec<_> = h
            .engine
            .open_orders(account, None)
            .iter()
            .map(|o| {
                (
                    o.order_id,
                    o.client_order_id,
                    o.remaining_qty,
                    o.executed_qty,
                    o.prevented_qty,
                    o.cum_quote,
                )
            })
            .collect();
        prop_assert_eq!(from_index, from_engine);
    }
    Ok(())
}

#[derive(Clone, Debug)]
enum Op {
    Place(bool, bool, u8, u64, u64, u8, u8),
    Cancel(bool, u64),
    Replace(bool, u64, u64, u64, bool),
    CancelAll(bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (any::<bool>(), any::<bool>(), 0u8..4, 4_999_995u64..5_000_005, 1u64..8, 0u8..5, 0u8..6)
            .prop_map(|(a, s, k, p, q, stp, c)| Op::Place(a, s, k, p, q, stp, c)),
        2 => (any::<bool>(), 1u64..40).prop_map(|(a, id)| Op::Cancel(a, id)),
        2 => (any::<bool>(), 1u64..40, 4_999_995u64..5_000_005, 1u64..8, any::<bool>())
            .prop_map(|(a, id, p, q, m)| Op::Replace(a, id, p, q, m)),
        1 => any::<bool>().prop_map(Op::CancelAll),
    ]
}

fn to_command(op: &Op, n: usize) -> Command {
    let acc = |a: bool| if a { ALICE } else { BOB };
    let stps = [
        StpMode::None,
        StpMode::ExpireTaker,
        StpMode::ExpireMaker,
        StpMode::ExpireBoth,
        StpMode::Decrement,
    ];
    match *op {
        Op::Place(a, buy, kind, price, qty, stp, cid) => {
            let side = if buy { Side::Buy } else { Side::Sell };
            let order_type = match kind {
                0 => gtc(price, qty),
                1 => OrderType::Limit {
                    price,
                    qty,
                    tif: TimeInForce::Ioc,
                },
                2 => OrderType::LimitMaker { price, qty },
                _ => OrderType::Market {
                    amount: MarketAmount::Base(qty),
                },
            };
            // A few client ids are reused on purpose (duplicates and reuse after close).
            let cid = if cid < 3 {
                format!("c{cid}")
            } else {
                format!("u{n}")
            };
            place(acc(a), side, order_type, &cid, stps[usize::from(stp)])
        }
        Op::Cancel(a, id) => Command::Cancel {
            account: acc(a),
            symbol: BTCUSDT,
            target: CancelTarget::OrderId(OrderId(id)),
        },
        Op::Replace(a, id, price, qty, allow) => Command::CancelReplace(CancelReplace {
            target: CancelTarget::OrderId(OrderId(id)),
            mode: if allow {
                CancelReplaceMode::AllowFailure
            } else {
                CancelReplaceMode::StopOnFailure
            },
            new_order: PlaceOrder {
                account: acc(a),
                symbol: BTCUSDT,
                side: Side::Buy,
                order_type: gtc(price, qty),
                client_order_id: ClientOrderId::new(&format!("r{n}")).unwrap(),
                stp: StpMode::None,
            },
        }),
        Op::CancelAll(a) => Command::CancelAll {
            account: acc(a),
            symbol: None,
        },
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// After every command the index's open orders are exactly the engine's; the index
    /// survives save/load byte for byte; every execution report names an order of its own
    /// account; a seeded index has the same open orders.
    #[test]
    fn index_tracks_the_engine(
        ops in proptest::collection::vec(op(), 1..60),
        bound in prop_oneof![Just(usize::MAX), 0usize..6],
    ) {
        let mut h = Harness::new();
        h.index = OrderIndex::new(bound);
        for (n, op) in ops.iter().enumerate() {
            let batch = h.run(to_command(op, n));
            check_against_engine(&h)?;
            for account in [ALICE, BOB] {
                // The subset a reply renders from: the account's orders the batch names,
                // once each, by ascending id, as the index has them.
                let subset = h.index.subset(account, &batch);
                let ids: Vec<OrderId> = subset.orders().iter().map(|o| o.info.order_id).collect();
                prop_assert!(ids.windows(2).all(|w| w[0] < w[1]), "{:?}", ids);
                for o in subset.orders() {
                    prop_assert_eq!(Some(o), h.index.get(account, o.info.order_id));
                    prop_assert_eq!(Some(o), subset.order(account, o.info.order_id));
                    let other = if account == ALICE { BOB } else { ALICE };
                    prop_assert_eq!(None, subset.order(other, o.info.order_id));
                }
                prop_assert_eq!(
                    execution_reports(&batch, account, &h.markets, &subset),
                    execution_reports(&batch, account, &h.markets, &h.index)
                );
                for r in execution_reports(&batch, account, &h.markets, &h.index) {
                    let id = OrderId(r["i"].as_u64().unwrap());
                    prop_assert!(h.index.get(account, id).is_some());
                    prop_assert_eq!(r["s"].as_str(), Some("BTCUSDT"));
                }
            }
        }
        let bytes = h.index.save()()();
        prop_assert_eq!(&h.index.to_bytes(), &bytes);
        let mut back = OrderIndex::new(1);
        back.load(&bytes).unwrap();
        back.assert_consistent();
        prop_assert_eq!(back.save()()(), bytes);
        let mut seeded = OrderIndex::default();
        seeded.seed(&h.engine);
        for account in [ALICE, BOB] {
            let a: Vec<_> = seeded.open_orders(account, None).iter()
                .map(|o| (o.info.order_id, o.client_order_id, o.state)).collect();
            let b: Vec<_> = h.index.open_orders(account, None).iter()
                .map(|o| (o.info.order_id, o.client_order_id, o.state)).collect();
            prop_assert_eq!(a, b);
        }
    }

    /// A save taken between commands encodes the index as it was then, however the index
    /// (which shares its orders with the save until it writes them) and a copy of it change
    /// before the save's capture and between its capture and its encoding; the copy follows
    /// its own commands independently.
    #[test]
    fn saves_and_copies_are_isolated_from_later_commands(
        before in proptest::collection::vec(op(), 1..40),
        after in proptest::collection::vec(op(), 1..40),
        split in 0usize..40,
        bound in prop_oneof![Just(usize::MAX), 0usize..4],
    ) {
        let mut h = Harness::new();
        h.index = OrderIndex::new(bound);
        for (n, op) in before.iter().enumerate() {
            h.run(to_command(op, n));
        }
        let expected = h.index.to_bytes();
        let save = h.index.save();
        let mut copy = h.index.clone();
        let mut batches = Vec::new();
        let split = split.min(after.len());
        for (n, op) in after[..split].iter().enumerate() {
            batches.push(h.run(to_command(op, before.len() + n)));
        }
        let encode = save();
        for (n, op) in after[split..].iter().enumerate() {
            batches.push(h.run(to_command(op, before.len() + split + n)));
        }
        prop_assert_eq!(encode(), expected);
        copy.assert_consistent();
        for batch in &batches {
            copy.apply_events(batch);
            copy.assert_consistent();
        }
        prop_assert_eq!(copy.to_bytes(), h.index.to_bytes());
    }
}

#[test]
fn lookups_never_cross_accounts() {
    let mut h = Harness::new();
    h.run(place(
        ALICE,
        Side::Buy,
        gtc(5_000_000, 1),
        "same",
        StpMode::None,
    ));
    h.run(place(
        BOB,
        Side::Buy,
        gtc(5_000_000, 2),
        "same",
        StpMode::None,
    ));
    let cid = ClientOrderId::new("same").unwrap();
    assert_eq!(h.index.get(ALICE, OrderId(1)).unwrap().orig_qty, 1);
    assert!(h.index.get(BOB, OrderId(1)).is_none());
    assert!(h.index.get(ALICE, OrderId(2)).is_none());
    assert_eq!(
        h.index
            .by_client_id(ALICE, BTCUSDT, &cid)
            .unwrap()
            .info
            .order_id,
        OrderId(1)
    );
    assert_eq!(
        h.index
            .by_client_id(BOB, BTCUSDT, &cid)
            .unwrap()
            .info
            .order_id,
        OrderId(2)
    );
    assert!(h.index.by_client_id(ALICE, ETHBTC, &cid).is_none());
    assert_eq!(h.index.open_orders(ALICE, None).len(), 1);
    assert_eq!(h.index.open_orders(AccountId(9), None).len(), 0);
}

#[test]
fn closed_orders_are_evicted_fifo_within_the_bound() {
    let mut h = Harness::new();
    h.index = OrderIndex::new(2);
    h.run(place(
        ALICE,
        Side::Buy,
        gtc(4_000_000, 1),
        "open",
        StpMode::None,
    )); // order 1 stays open
    for i in 0..4 {
        h.run(place(
            ALICE,
            Side::Buy,
            gtc(4_000_000, 1),
            &format!("k{i}"),
            StpMode::None,
        ));
        h.run(Command::Cancel {
            account: ALICE,
            symbol: BTCUSDT,
            target: CancelTarget::OrderId(OrderId(2 + i)),
        });
    }
    // Orders 2..=5 closed in that order; eviction runs before each batch, so after the
    // last cancel the 2 closed before it plus the one it closed remain.
    assert!(h.index.get(ALICE, OrderId(2)).is_none());
    assert!(h.index.get(ALICE, OrderId(3)).is_some());
    assert!(h.index.get(ALICE, OrderId(4)).is_some());
    assert!(h.index.get(ALICE, OrderId(5)).is_some());
    let cid = ClientOrderId::new("k0").unwrap();
    assert!(h.index.by_client_id(ALICE, BTCUSDT, &cid).is_none());
    // One more batch trims to the bound; the open order is never evicted.
    h.run(Command::CancelAll {
        account: BOB,
        symbol: None,
    });
    assert_eq!(h.index.len(), 3);
    assert!(h.index.get(ALICE, OrderId(1)).is_some());
    assert!(h.index.get(ALICE, OrderId(3)).is_none());
}

#[test]
fn client_id_reuse_and_amendment() {
    let mut h = Harness::new();
    let cid = |s: &str| ClientOrderId::new(s).unwrap();
    h.run(place(
        ALICE,
        Side::Buy,
        gtc(4_000_000, 5),
        "x",
        StpMode::None,
    )); // 1
    h.run(Command::Cancel {
        account: ALICE,
        symbol: BTCUSDT,
        target: CancelTarget::ClientOrderId(cid("x")),
    });
    h.run(place(
        ALICE,
        Side::Buy,
        gtc(4_000_000, 5),
        "x",
        StpMode::None,
    )); // 2 reuses "x"
    assert_eq!(
        h.index
            .by_client_id(ALICE, BTCUSDT, &cid("x"))
            .unwrap()
            .info
            .order_id,
        OrderId(2)
    );
    // Amend order 2 in place to client id "y" and 3 lots.
    let batch = h.run(Command::CancelReplace(CancelReplace {
        target: CancelTarget::OrderId(OrderId(2)),
        mode: CancelReplaceMode::StopOnFailure,
        new_order: PlaceOrder {
            account: ALICE,
            symbol: BTCUSDT,
            side: Side::Buy,
            order_type: gtc(4_000_000, 3),
            client_order_id: cid("y"),
            stp: StpMode::None,
        },
    }));
    let o = h.index.by_client_id(ALICE, BTCUSDT, &cid("y")).unwrap();
    assert_eq!(
        (o.info.order_id, o.orig_qty, o.state.remaining_qty),
        (OrderId(2), 3, 3)
    );
    // "x" now names the closed order 1 no more (order 2 took it, then gave it up).
    assert!(h.index.by_client_id(ALICE, BTCUSDT, &cid("x")).is_none());
    let reports = execution_reports(&batch, ALICE, &h.markets, &h.index);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0]["x"], "REPLACED");
    assert_eq!(reports[0]["c"], "y");
    assert_eq!(reports[0]["C"], "x");
    assert_eq!(reports[0]["q"], "0.00300000");
}

#[test]
fn expiry_and_stp_reports() {
    let mut h = Harness::new();
    h.run(place(
        ALICE,
        Side::Sell,
        gtc(5_000_000, 2),
        "m1",
        StpMode::None,
    )); // 1
        // IOC buy for 5 lots: 2 fill, 3 expire.
    let batch = h.run(place(
        BOB,
        Side::Buy,
        OrderType::Limit {
            price: 5_000_000,
            qty: 5,
            tif: TimeInForce::Ioc,
        },
        "t1",
        StpMode::None,
    ));
    let xs: Vec<(String, String)> = execution_reports(&batch, BOB, &h.markets, &h.index)
        .iter()
        .map(|r| {
            (
                r["x"].as_str().unwrap().into(),
                r["X"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        xs,
        [
            ("NEW".into(), "NEW".into()),
            ("TRADE".into(), "PARTIALLY_FILLED".into()),
            ("EXPIRED".into(), "EXPIRED".into())
        ]
    );

    // Alice rests a sell, then crosses it with an EXPIRE_TAKER buy: her taker expires in
    // match, her maker stays.
    h.run(place(
        ALICE,
        Side::Sell,
        gtc(5_100_000, 2),
        "m2",
        StpMode::None,
    )); // 3
    let batch = h.run(place(
        ALICE,
        Side::Buy,
        gtc(5_100_000, 2),
        "t2",
        StpMode::ExpireTaker,
    ));
    let r = execution_reports(&batch, ALICE, &h.markets, &h.index);
    assert_eq!(r.len(), 2);
    assert_eq!(
        (r[1]["x"].as_str(), r[1]["X"].as_str()),
        (Some("TRADE_PREVENTION"), Some("EXPIRED_IN_MATCH"))
    );
    assert_eq!(r[1]["v"], serde_json::json!(batch.events[1].seq));
    assert_eq!(r[1]["V"], "EXPIRE_TAKER");

    // DECREMENT: both of Alice's orders shrink by 1 lot without a trade.
    let batch = h.run(place(
        ALICE,
        Side::Buy,
        gtc(5_100_000, 1),
        "t3",
        StpMode::Decrement,
    ));
    let r = execution_reports(&batch, ALICE, &h.markets, &h.index);
    let prevented: Vec<_> = r.iter().filter(|r| r.get("B").is_some()).collect();
    assert_eq!(prevented.len(), 2);
    assert!(prevented
        .iter()
        .all(|r| r["x"] == "TRADE_PREVENTION" && r["B"] == "0.00100000"));
    let maker = prevented.iter().find(|r| r["i"] == 3).unwrap();
    assert_eq!(
        (maker["X"].as_str(), maker["A"].as_str()),
        (Some("NEW"), Some("0.00100000"))
    );
    assert_eq!(maker["U"], serde_json::json!(5));
}

#[test]
fn corrupt_saves_are_refused() {
    let mut h = Harness::new();
    h.run(place(
        ALICE,
        Side::Buy,
        gtc(5_000_000, 1),
        "a",
        StpMode::None,
    ));
    let bytes = h.index.save()()();
    let mut ix = OrderIndex::default();
    assert!(ix.load(&bytes[..bytes.len() - 1]).is_err());
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(ix.load(&longer).is_err());
    assert!(ix.load(&[]).is_err());
    ix.load(&bytes).unwrap();
    assert_eq!(
        ix.get(ALICE, OrderId(1)).unwrap().client_order_id.as_str(),
        "a"
    );
}

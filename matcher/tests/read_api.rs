//! The read API used by the gateway and market data: lookups agree with the events.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use matcher::*;

fn run(e: &mut Engine, seq: &mut u64, c: Command) -> Vec<Event> {
    *seq += 1;
    let mut out = Vec::new();
    e.apply(&sequenced(*seq, c), &mut out);
    out
}

fn limit(account: u64, side: Side, price: u64, qty: u64, coid: &str) -> Command {
    Command::PlaceOrder(PlaceOrder {
        account: AccountId(account),
        symbol: SymbolId(1),
        side,
        order_type: OrderType::Limit {
            price,
            qty,
            tif: TimeInForce::Gtc,
        },
        client_order_id: ClientOrderId::new(coid).unwrap(),
        stp: StpMode::None,
    })
}

#[test]
fn lookups() {
    let mut e: Engine = Engine::new(EngineConfig {
        fee_account: FEE_ACCOUNT,
        ..Default::default()
    });
    let mut seq = 0;
    for c in random_setup() {
        run(&mut e, &mut seq, c);
    }
    let deposit = |a: u64, asset: AssetId, amount: u128, tx: &str| Command::Deposit {
        account: AccountId(a),
        asset,
        amount,
        tx_id: TxId::new(tx).unwrap(),
    };
    run(&mut e, &mut seq, deposit(1, USDT, 1_000_000, "a"));
    run(&mut e, &mut seq, deposit(1, BTC, 50_000_000, "b"));
    run(&mut e, &mut seq, limit(1, Side::Buy, 99, 3, "b1"));
    run(&mut e, &mut seq, limit(1, Side::Buy, 98, 2, "b2"));
    run(&mut e, &mut seq, limit(1, Side::Buy, 99, 1, "b3"));
    let out = run(&mut e, &mut seq, limit(1, Side::Sell, 101, 4, "s1"));

    assert_eq!(e.last_cmd_seq(), seq);
    assert_eq!(e.last_event_seq(), out.last().unwrap().seq);
    assert_eq!(e.fee_account(), FEE_ACCOUNT);
    assert_eq!(e.symbol_by_name("BTCUSDT").unwrap().config.id, SymbolId(1));
    assert_eq!(e.symbol(SymbolId(1)).unwrap().quote_per_tick_lot, 10);
    assert_eq!(e.symbols().count(), 4);
    assert_eq!(e.asset_by_code("ETH").unwrap().scale, 18);
    assert_eq!(
        e.assets().map(|a| a.id).collect::<Vec<_>>(),
        vec![USDT, BTC, ETH]
    );

    let d = e.depth(SymbolId(1), 10).unwrap();
    assert_eq!(d.bids, vec![(99, 4), (98, 2)]);
    assert_eq!(d.asks, vec![(101, 4)]);
    assert_eq!(e.depth(SymbolId(1), 1).unwrap().bids, vec![(99, 4)]);
    assert_eq!(
        e.best_bid_ask(SymbolId(1)),
        Some((Some((99, 4)), Some((101, 4))))
    );
    assert_eq!(e.best_bid_ask(SymbolId(9)), None);

    let open: Vec<u64> = e
        .open_orders(AccountId(1), None)
        .iter()
        .map(|o| o.order_id.0)
        .collect();
    assert_eq!(open, vec![1, 2, 3, 4]);
    assert!(e.open_orders(AccountId(1), Some(SymbolId(2))).is_empty());
    let o = e
        .order_by_client_id(AccountId(1), &ClientOrderId::new("b2").unwrap())
        .unwrap();
    assert_eq!((o.order_id, o.price, o.remaining_qty), (OrderId(2), 98, 2));
    assert!(e
        .order_by_client_id(AccountId(2), &ClientOrderId::new("b2").unwrap())
        .is_none());
    assert_eq!(e.order(OrderId(4)).unwrap().side, Side::Sell);
    assert_eq!(e.open_order_total(), 4);

    // Balances agree with the last Balance events and with the orders' reserves.
    let frozen_usdt: u128 = e
        .open_orders(AccountId(1), None)
        .iter()
        .filter(|o| o.side == Side::Buy)
        .map(|o| o.frozen)
        .sum();
    assert_eq!(e.balance(AccountId(1), USDT).frozen, frozen_usdt);
    assert_eq!(e.balance(AccountId(1), BTC).frozen, 4 * 100_000);
    let all = e.balances(AccountId(1));
    assert_eq!(
        all.iter().map(|(a, _)| *a).collect::<Vec<_>>(),
        vec![USDT, BTC]
    );
    assert_eq!(all[1].1.available, 50_000_000 - 400_000);
    assert_eq!(e.balance(AccountId(7), USDT), Balance::default());
    assert_eq!(e.supply(USDT).deposited, 1_000_000);
    e.check_invariants().unwrap();
}

/// Client order ids resolve the same way whether the account's orders are few (scanned) or
/// many (indexed by a map), across the switch in both directions.
#[test]
fn client_ids_with_few_and_many_open_orders() {
    let mut e: Engine = Engine::new(EngineConfig {
        fee_account: FEE_ACCOUNT,
        ..Default::default()
    });
    let mut seq = 0;
    for c in random_setup() {
        run(&mut e, &mut seq, c);
    }
    let deposit = Command::Deposit {
        account: AccountId(1),
        asset: USDT,
        amount: 1_000_000_000,
        tx_id: TxId::new("u").unwrap(),
    };
    run(&mut e, &mut seq, deposit);
    let coid = |i: u64| ClientOrderId::new(&format!("c{i}")).unwrap();
    let rejected = |out: &[Event]| {
        out.iter().any(|ev| {
            matches!(
                ev.kind,
                EventKind::Rejected {
                    reason: RejectReason::DuplicateClientOrderId,
                    ..
                }
            )
        })
    };
    for i in 1..=20u64 {
        let out = run(
            &mut e,
            &mut seq,
            limit(1, Side::Buy, 50 + i, 1, &format!("c{i}")),
        );
        assert!(!rejected(&out));
        // Every open order is found by its client id; a reused id is rejected.
        for j in 1..=i {
            let o = e.order_by_client_id(AccountId(1), &coid(j)).unwrap();
            assert_eq!(o.price, 50 + j);
        }
        let again = run(
            &mut e,
            &mut seq,
            limit(1, Side::Buy, 10, 1, &format!("c{i}")),
        );
        assert!(rejected(&again));
        e.check_invariants().unwrap();
    }
    // Cancel by client id down to one order, checking lookups on the way.
    for i in (2..=20u64).rev() {
        run(
            &mut e,
            &mut seq,
            Command::Cancel {
                account: AccountId(1),
                symbol: SymbolId(1),
                target: CancelTarget::ClientOrderId(coid(i)),
            },
        );
        assert!(e.order_by_client_id(AccountId(1), &coid(i)).is_none());
        assert_eq!(
            e.order_by_client_id(AccountId(1), &coid(1)).unwrap().price,
            51
        );
        e.check_invariants().unwrap();
    }
    assert_eq!(e.open_orders(AccountId(1), None).len(), 1);
    // A freed client id can be used again.
    let out = run(&mut e, &mut seq, limit(1, Side::Buy, 60, 1, "c20"));
    assert!(!rejected(&out));
    assert_eq!(
        e.order_by_client_id(AccountId(1), &coid(20)).unwrap().price,
        60
    );
}

//! Every valid decimal price and quantity round-trips: formatted as Binance prints it, or
//! written with fewer trailing zeros, it parses through `order.place` to the same ticks and
//! lots, and the order's responses print it back identically.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_support;

use api_support::*;
use gateway::api::orders::{parse_account_request, AccountRequest, ClientIdGen};
use gateway::api::{Method, Params};
use matcher::{OrderType, SymbolId, TimeInForce};
use proptest::prelude::*;

/// Writes a decimal with trailing fractional zeros removed (and the point when nothing is
/// left after it).
fn trimmed(text: &str) -> String {
    if !text.contains('.') {
        return text.to_string();
    }
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn place(h: &Harness, symbol: &str, price: &str, qty: &str) -> Result<AccountRequest, i32> {
    let p = Params::from_pairs([
        ("symbol", symbol),
        ("side", "SELL"),
        ("type", "LIMIT"),
        ("timeInForce", "GTC"),
        ("price", price),
        ("quantity", qty),
    ]);
    parse_account_request(Method::OrderPlace, p, &h.markets, &mut ClientIdGen::new(1))
        .map_err(|f| f.code)
}

fn check(h: &Harness, symbol: SymbolId, ticks: u64, lots: u64) -> Result<(), TestCaseError> {
    let m = h.markets.get(symbol).unwrap();
    let price = m.units.format_price(ticks);
    let qty = m.units.format_quantity(lots);
    let enough = m.units.check_notional(ticks, lots).is_ok();
    for (p, q) in [
        (price.clone(), qty.clone()),
        (trimmed(&price), trimmed(&qty)),
    ] {
        match place(h, m.name(), &p, &q) {
            Ok(AccountRequest::Place(o)) => {
                prop_assert!(enough);
                prop_assert_eq!(
                    o.order_type,
                    OrderType::Limit {
                        price: ticks,
                        qty: lots,
                        tif: TimeInForce::Gtc
                    }
                );
            }
            Ok(other) => prop_assert!(false, "unexpected {:?}", other),
            Err(code) => {
                prop_assert!(!enough);
                prop_assert_eq!(code, -1013);
            }
        }
    }
    // Binance prints at least 8 decimals.
    prop_assert!(price.split_once('.').unwrap().1.len() >= 8);
    prop_assert!(qty.split_once('.').unwrap().1.len() >= 8);
    Ok(())
}

proptest! {
    #[test]
    fn btcusdt_prices_and_quantities_round_trip(
        ticks in 1u64..=100_000_000,
        lots in 1u64..=1_000_000,
    ) {
        let h = Harness::new();
        check(&h, BTCUSDT, ticks, lots)?;
    }

    /// ETH has 18 decimals: quantities in wei-scale units still round-trip exactly.
    #[test]
    fn ethbtc_prices_and_quantities_round_trip(
        ticks in 1u64..=10_000_000,
        lots in 1u64..=1_000_000,
    ) {
        let h = Harness::new();
        check(&h, ETHBTC, ticks, lots)?;
    }

    /// Off-grid values (one minimal unit off the tick or lot) are refused with a filter
    /// failure, never rounded.
    #[test]
    fn off_grid_values_are_refused(ticks in 1u64..=99_999_999, lots in 1u64..=999_999) {
        let h = Harness::new();
        let m = h.markets.get(BTCUSDT).unwrap();
        // One minimal USDT unit (0.000001) above a tick multiple; one satoshi above a lot.
        let price = m.units.format_quote(u128::from(ticks) * 10_000 + 1);
        let qty = m.units.format_base(u128::from(lots) * 100_000 + 1);
        let good_qty = m.units.format_quantity(lots);
        let good_price = m.units.format_price(ticks);
        prop_assert_eq!(place(&h, "BTCUSDT", &price, &good_qty).err(), Some(-1013));
        prop_assert_eq!(place(&h, "BTCUSDT", &good_price, &qty).err(), Some(-1013));
    }
}

#[test]
fn trimmed_forms() {
    assert_eq!(trimmed("50000.00000000"), "50000");
    assert_eq!(trimmed("0.01000000"), "0.01");
    assert_eq!(trimmed("12"), "12");
}

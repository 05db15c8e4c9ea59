//! Fee and reserve arithmetic (all exact integers).
//!
//! # Fee rounding
//! A fee is charged in the quote asset on every fill, at the order's maker or taker rate
//! (parts per million). Rounding is defined on the order's **cumulative** fee basis
//! `basis = Σ notional_i × rate_i`: after every fill, the order's total fee equals
//! `ceil(basis / 1_000_000)`, and the fill's fee is the increase of that total. So an order
//! never pays more than `ceil` of its whole executed notional at its rate, however it is split
//! into fills, and an up-front reserve computed with the maximum rate always suffices.
//!
//! # Reserve of a buy order
//! A buy order with `remaining` lots at limit `price` must keep frozen exactly
//! `N + ceil((basis + N × rate) / 1e6) − cum_fee` quote units, where `N = remaining × price ×
//! quote_per_tick_lot` and `rate` is the highest rate it can still pay (max(maker, taker) while
//! it is a taker, the maker rate once it rests). Anything frozen above that is released.
//! A sell order keeps exactly `remaining × lot_size` base units frozen.

use crate::config::FEE_RATE_DENOMINATOR;

/// `ceil(a / FEE_RATE_DENOMINATOR)`.
#[inline]
pub(crate) fn ceil_div_rate(a: u128) -> u128 {
    // Fast path: a 64-bit division by a constant compiles to a multiplication; the 128-bit
    // one is a library call.
    match u64::try_from(a) {
        Ok(small) => u128::from(small.div_ceil(FEE_RATE_DENOMINATOR as u64)),
        Err(_) => a.div_ceil(FEE_RATE_DENOMINATOR),
    }
}

/// Adds a fill of `notional` at `rate_ppm` to an order's fee basis and returns the fee to
/// charge for it.
#[inline]
pub(crate) fn charge(basis: &mut u128, cum_fee: &mut u128, notional: u128, rate_ppm: u32) -> u128 {
    *basis += notional * u128::from(rate_ppm);
    let total = ceil_div_rate(*basis);
    let fee = total - *cum_fee;
    *cum_fee = total;
    fee
}

/// The exact quote amount a buy order must keep frozen (see the module docs).
#[inline]
pub(crate) fn buy_reserve(
    remaining_notional: u128,
    basis: u128,
    cum_fee: u128,
    rate_ppm: u32,
) -> u128 {
    remaining_notional + ceil_div_rate(basis + remaining_notional * u128::from(rate_ppm)) - cum_fee
}

/// Cost (notional + fee) of buying `lots` more at `lot_notional` per lot for an order with the
/// given fee state.
#[inline]
fn buy_cost(lots: u128, lot_notional: u128, basis: u128, cum_fee: u128, rate: u32) -> u128 {
    let notional = lots * lot_notional;
    notional + ceil_div_rate(basis + notional * u128::from(rate)) - cum_fee
}

/// Largest number of lots (<= `max_lots`) whose cost including the fee fits in `budget`.
pub(crate) fn affordable_lots(
    budget: u128,
    lot_notional: u128,
    basis: u128,
    cum_fee: u128,
    rate: u32,
    max_lots: u64,
) -> u64 {
    if lot_notional == 0 {
        return 0;
    }
    let mut hi = (budget / lot_notional).min(u128::from(max_lots));
    let mut lo = 0u128;
    // Invariant: cost(lo) <= budget; answer in [lo, hi].
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if buy_cost(mid, lot_notional, basis, cum_fee, rate) <= budget {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    // lo <= max_lots: fits u64.
    lo as u64
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cumulative_rounding() {
        let (mut basis, mut cum) = (0u128, 0u128);
        // 1000 ppm (0.1%) of 1 unit three times: ceil(0.001) = 1, then 0, 0.
        assert_eq!(charge(&mut basis, &mut cum, 1, 1000), 1);
        assert_eq!(charge(&mut basis, &mut cum, 1, 1000), 0);
        assert_eq!(charge(&mut basis, &mut cum, 1, 1000), 0);
        assert_eq!(cum, 1);
        assert_eq!(charge(&mut basis, &mut cum, 2_000_000, 1000), 2000);
    }

    proptest! {
        #[test]
        fn reserve_always_covers_fills(
            price in 1u64..1000, unit in 1u128..1000, qty in 1u64..1000,
            maker in 0u32..5000, taker in 0u32..5000,
            fills in proptest::collection::vec((1u64..300, 0u64..1000, any::<bool>()), 1..20),
        ) {
            let max_rate = maker.max(taker);
            let mut remaining = qty;
            let (mut basis, mut cum) = (0u128, 0u128);
            let mut frozen = buy_reserve(u128::from(qty) * u128::from(price) * unit, 0, 0, max_rate);
            for (q, improve, is_maker) in fills {
                let q = q.min(remaining);
                if q == 0 { break; }
                let fill_price = price - improve % price; // never above the limit
                let notional = u128::from(q) * u128::from(fill_price) * unit;
                let fee = charge(&mut basis, &mut cum, notional, if is_maker { maker } else { taker });
                prop_assert!(frozen >= notional + fee);
                frozen -= notional + fee;
                remaining -= q;
                let reserve = buy_reserve(u128::from(remaining) * u128::from(price) * unit, basis, cum, max_rate);
                prop_assert!(frozen >= reserve);
            }
        }

        #[test]
        fn affordable_is_maximal(budget in 0u128..10_000_000, lot in 1u128..10_000, rate in 0u32..1_000_000, basis in 0u128..1_000_000) {
            let cum = ceil_div_rate(basis);
            let n = affordable_lots(budget, lot, basis, cum, rate, u64::MAX);
            prop_assert!(buy_cost(u128::from(n), lot, basis, cum, rate) <= budget);
            prop_assert!(buy_cost(u128::from(n) + 1, lot, basis, cum, rate) > budget);
        }
    }
}

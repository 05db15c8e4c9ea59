//! Differential property test of the two book implementations through the trait.

use super::*;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Insert { buy: bool, price: u64, qty: u64 },
    Remove { pick: usize },
    SetQty { pick: usize, qty: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (any::<bool>(), 1u64..8, 1u64..50).prop_map(|(buy, price, qty)| Op::Insert { buy, price, qty }),
        // Many prices: empty levels accumulate below the top and get compacted.
        2 => (any::<bool>(), 1u64..400, 1u64..50).prop_map(|(buy, price, qty)| Op::Insert { buy, price, qty }),
        // Extreme prices: the ladder stores asks as `!price`.
        1 => (any::<bool>(), prop_oneof![Just(1u64), Just(u64::MAX), Just(u64::MAX - 1), Just(1u64 << 63)], 1u64..50)
            .prop_map(|(buy, price, qty)| Op::Insert { buy, price, qty }),
        1 => any::<usize>().prop_map(|pick| Op::Remove { pick }),
        1 => (any::<usize>(), 1u64..50).prop_map(|(pick, qty)| Op::SetQty { pick, qty }),
    ]
}

type Walker<'a> = &'a dyn Fn(Side, &mut dyn FnMut(&BookEntry) -> bool);

fn all(book: Walker<'_>) -> Vec<(u64, u64, u64, u32)> {
    let mut v = Vec::new();
    for side in [Side::Buy, Side::Sell] {
        book(side, &mut |e| {
            v.push((e.order_id.0, e.price, e.qty, e.tag));
            true
        });
    }
    v
}

proptest! {
    #[test]
    fn fast_equals_naive(ops in proptest::collection::vec(op(), 1..200)) {
        let mut fast = FastBook::default();
        let mut naive = NaiveBook::default();
        // (side, price, id, handle in fast)
        let mut live: Vec<(Side, u64, OrderId, u32)> = Vec::new();
        let mut next = 1u64;
        for op in ops {
            match op {
                Op::Insert { buy, price, qty } => {
                    let side = if buy { Side::Buy } else { Side::Sell };
                    let id = OrderId(next);
                    next += 1;
                    let tag = (next * 7) as u32;
                    let (h, total) = fast.insert(side, price, id, AccountId(next % 3), qty, tag);
                    prop_assert_eq!(naive.insert(side, price, id, AccountId(next % 3), qty, tag).1, total);
                    live.push((side, price, id, h));
                }
                Op::Remove { pick } if !live.is_empty() => {
                    let (side, price, id, h) = live.remove(pick % live.len());
                    let total = fast.remove(side, price, id, h);
                    prop_assert_eq!(naive.remove(side, price, id, 0), total);
                    prop_assert_eq!(fast.level_qty(side, price), total);
                }
                Op::SetQty { pick, qty } if !live.is_empty() => {
                    let (side, price, id, h) = live[pick % live.len()];
                    let total = fast.set_qty(side, price, id, h, qty);
                    prop_assert_eq!(naive.set_qty(side, price, id, 0, qty), total);
                    prop_assert_eq!(fast.level_qty(side, price), total);
                }
                _ => {}
            }
            prop_assert_eq!(all(&|s, f| fast.walk(s, f)), all(&|s, f| naive.walk(s, f)));
            for side in [Side::Buy, Side::Sell] {
                let (mut a, mut b) = (Vec::new(), Vec::new());
                fast.depth(side, 5, &mut a);
                naive.depth(side, 5, &mut b);
                prop_assert_eq!(&a, &b);
                for (p, q) in a {
                    prop_assert_eq!(fast.level_qty(side, p), q);
                }
                prop_assert_eq!(fast.best(side).map(|e| e.order_id), naive.best(side).map(|e| e.order_id));
            }
            prop_assert_eq!(fast.order_count(), naive.order_count());
        }
    }
}

/// Empty levels kept below the top are bounded and invisible; reusing one revives it.
#[test]
fn empty_levels_are_bounded_and_invisible() {
    let mut fast = FastBook::default();
    let mut naive = NaiveBook::default();
    let mut live = Vec::new();
    for i in 0..300u64 {
        let id = OrderId(i + 1);
        let price = 1000 + i;
        let (h, _) = fast.insert(Side::Buy, price, id, AccountId(1), 5, i as u32);
        naive.insert(Side::Buy, price, id, AccountId(1), 5, i as u32);
        live.push((price, id, h));
    }
    // Empty every level but the best ten: they stay as empty entries, then get compacted.
    for &(price, id, h) in &live[..290] {
        assert_eq!(fast.remove(Side::Buy, price, id, h), 0);
        naive.remove(Side::Buy, price, id, 0);
    }
    assert!(fast.ladder_len(Side::Buy) <= 10 + 64 + 1);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    fast.depth(Side::Buy, 100, &mut a);
    naive.depth(Side::Buy, 100, &mut b);
    assert_eq!(a, b);
    assert_eq!(a.len(), 10);
    assert_eq!(all(&|s, f| fast.walk(s, f)), all(&|s, f| naive.walk(s, f)));
    // Reuse a price whose level is kept empty, and one below everything.
    for (n, price) in [(1u64, 1289u64), (2, 5)] {
        let id = OrderId(1000 + n);
        let (_, total) = fast.insert(Side::Buy, price, id, AccountId(2), 7, 0);
        naive.insert(Side::Buy, price, id, AccountId(2), 7, 0);
        assert_eq!(total, 7);
        assert_eq!(fast.level_qty(Side::Buy, price), 7);
    }
    assert_eq!(all(&|s, f| fast.walk(s, f)), all(&|s, f| naive.walk(s, f)));
    // Emptying the best levels from the top keeps the best entry live.
    for &(price, id, h) in live[290..].iter().rev() {
        fast.remove(Side::Buy, price, id, h);
        naive.remove(Side::Buy, price, id, 0);
        assert_eq!(
            fast.best(Side::Buy).map(|e| e.order_id),
            naive.best(Side::Buy).map(|e| e.order_id)
        );
    }
    assert_eq!(fast.best(Side::Buy).map(|e| e.price), Some(1289));
}

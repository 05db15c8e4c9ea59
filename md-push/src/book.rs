//! The local order book md-push keeps per symbol, built only from `BookLevel` events.

use matcher::Side;
use std::collections::BTreeMap;

/// Price levels of one symbol: price (ticks) to total quantity (lots).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LocalBook {
    bids: BTreeMap<u64, u64>,
    asks: BTreeMap<u64, u64>,
}

impl LocalBook {
    /// Sets a level's new absolute quantity (0 removes it).
    pub fn set(&mut self, side: Side, price: u64, qty: u64) {
        let levels = match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        if qty == 0 {
            levels.remove(&price);
        } else {
            levels.insert(price, qty);
        }
    }

    /// The best `n` levels of a side: bids highest first, asks lowest first.
    pub fn top(&self, side: Side, n: usize) -> Vec<(u64, u64)> {
        match side {
            Side::Buy => self
                .bids
                .iter()
                .rev()
                .take(n)
                .map(|(p, q)| (*p, *q))
                .collect(),
            Side::Sell => self.asks.iter().take(n).map(|(p, q)| (*p, *q)).collect(),
        }
    }

    /// The best level of a side.
    pub fn best(&self, side: Side) -> Option<(u64, u64)> {
        match side {
            Side::Buy => self.bids.iter().next_back(),
            Side::Sell => self.asks.iter().next(),
        }
        .map(|(p, q)| (*p, *q))
    }

    /// Number of levels on a side.
    pub fn len(&self, side: Side) -> usize {
        match side {
            Side::Buy => self.bids.len(),
            Side::Sell => self.asks.len(),
        }
    }
}

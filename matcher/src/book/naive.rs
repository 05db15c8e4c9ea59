//! The reference book: a flat `Vec` scanned linearly.

use super::{Book, BookEntry};
use crate::command::Side;
use crate::ids::{AccountId, OrderId};

#[derive(Clone, Debug)]
struct NaiveOrder {
    side: Side,
    entry: BookEntry,
    /// Insertion counter: the time priority.
    arrival: u64,
}

/// Reference order book: every operation scans one vector. Slow and obviously right.
#[derive(Debug, Default)]
pub struct NaiveBook {
    orders: Vec<NaiveOrder>,
    arrivals: u64,
}

impl NaiveBook {
    fn position(&self, order_id: OrderId) -> Option<usize> {
        self.orders
            .iter()
            .position(|o| o.entry.order_id == order_id)
    }

    /// Orders of a side sorted by priority.
    fn sorted(&self, side: Side) -> Vec<&NaiveOrder> {
        let mut v: Vec<&NaiveOrder> = self.orders.iter().filter(|o| o.side == side).collect();
        v.sort_by(|a, b| {
            let by_price = match side {
                Side::Buy => b.entry.price.cmp(&a.entry.price),
                Side::Sell => a.entry.price.cmp(&b.entry.price),
            };
            by_price.then(a.arrival.cmp(&b.arrival))
        });
        v
    }
}

impl Book for NaiveBook {
    fn insert(
        &mut self,
        side: Side,
        price: u64,
        order_id: OrderId,
        account: AccountId,
        qty: u64,
        tag: u32,
    ) -> (u32, u64) {
        self.arrivals += 1;
        let entry = BookEntry {
            order_id,
            account,
            price,
            qty,
            handle: 0,
            tag,
        };
        self.orders.push(NaiveOrder {
            side,
            entry,
            arrival: self.arrivals,
        });
        (0, self.level_qty(side, price))
    }

    fn remove(&mut self, side: Side, price: u64, order_id: OrderId, _handle: u32) -> u64 {
        if let Some(i) = self.position(order_id) {
            self.orders.remove(i);
        }
        self.level_qty(side, price)
    }

    fn set_qty(
        &mut self,
        side: Side,
        price: u64,
        order_id: OrderId,
        _handle: u32,
        qty: u64,
    ) -> u64 {
        if let Some(i) = self.position(order_id) {
            self.orders[i].entry.qty = qty;
        }
        self.level_qty(side, price)
    }

    fn best(&self, side: Side) -> Option<BookEntry> {
        self.sorted(side).first().map(|o| o.entry)
    }

    fn walk(&self, side: Side, visit: &mut dyn FnMut(&BookEntry) -> bool) {
        for o in self.sorted(side) {
            if !visit(&o.entry) {
                break;
            }
        }
    }

    fn level_qty(&self, side: Side, price: u64) -> u64 {
        self.orders
            .iter()
            .filter(|o| o.side == side && o.entry.price == price)
            .map(|o| o.entry.qty)
            .sum()
    }

    fn depth(&self, side: Side, levels: usize, out: &mut Vec<(u64, u64)>) {
        let mut result: Vec<(u64, u64)> = Vec::new();
        for o in self.sorted(side) {
            match result.last_mut() {
                Some(last) if last.0 == o.entry.price => last.1 += o.entry.qty,
                _ => result.push((o.entry.price, o.entry.qty)),
            }
        }
        result.truncate(levels);
        out.extend(result);
    }

    fn order_count(&self) -> usize {
        self.orders.len()
    }
}

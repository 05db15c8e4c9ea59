//! The fast book: `BTreeMap` of price levels, each an intrusive FIFO in a slab.

use super::{Book, BookEntry};
use crate::command::Side;
use crate::ids::{AccountId, OrderId};
use std::collections::BTreeMap;

const NIL: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
struct Node {
    order_id: OrderId,
    account: AccountId,
    price: u64,
    qty: u64,
    prev: u32,
    next: u32,
}

#[derive(Clone, Copy, Debug)]
struct Level {
    total: u64,
    head: u32,
    tail: u32,
}

/// Fast order book. Handles are slab indices (reused after removal; never persisted).
#[derive(Debug, Default)]
pub struct FastBook {
    nodes: Vec<Node>,
    free: Vec<u32>,
    bids: BTreeMap<u64, Level>,
    asks: BTreeMap<u64, Level>,
    count: usize,
}

impl FastBook {
    fn levels(&self, side: Side) -> &BTreeMap<u64, Level> {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    fn levels_mut(&mut self, side: Side) -> &mut BTreeMap<u64, Level> {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    fn entry(&self, handle: u32) -> BookEntry {
        let n = &self.nodes[handle as usize];
        BookEntry {
            order_id: n.order_id,
            account: n.account,
            price: n.price,
            qty: n.qty,
            handle,
        }
    }

    fn best_level(&self, side: Side) -> Option<&Level> {
        match side {
            Side::Buy => self.bids.last_key_value().map(|(_, l)| l),
            Side::Sell => self.asks.first_key_value().map(|(_, l)| l),
        }
    }

    fn walk_level(&self, level: &Level, visit: &mut dyn FnMut(&BookEntry) -> bool) -> bool {
        let mut h = level.head;
        while h != NIL {
            if !visit(&self.entry(h)) {
                return false;
            }
            h = self.nodes[h as usize].next;
        }
        true
    }
}

impl Book for FastBook {
    fn insert(
        &mut self,
        side: Side,
        price: u64,
        order_id: OrderId,
        account: AccountId,
        qty: u64,
    ) -> (u32, u64) {
        let node = Node {
            order_id,
            account,
            price,
            qty,
            prev: NIL,
            next: NIL,
        };
        let handle = match self.free.pop() {
            Some(h) => {
                self.nodes[h as usize] = node;
                h
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        self.count += 1;
        let level = self.levels_mut(side).entry(price).or_insert(Level {
            total: 0,
            head: NIL,
            tail: NIL,
        });
        level.total += qty;
        let total = level.total;
        let old_tail = level.tail;
        level.tail = handle;
        if old_tail == NIL {
            level.head = handle;
        } else {
            self.nodes[old_tail as usize].next = handle;
            self.nodes[handle as usize].prev = old_tail;
        }
        (handle, total)
    }

    fn remove(&mut self, side: Side, price: u64, order_id: OrderId, handle: u32) -> u64 {
        let Some(node) = self.nodes.get(handle as usize).copied() else {
            debug_assert!(false, "remove: bad handle");
            return self.level_qty(side, price);
        };
        debug_assert_eq!(node.order_id, order_id);
        debug_assert_eq!(node.price, price);
        if node.prev != NIL {
            self.nodes[node.prev as usize].next = node.next;
        }
        if node.next != NIL {
            self.nodes[node.next as usize].prev = node.prev;
        }
        let levels = self.levels_mut(side);
        let mut total = 0;
        if let Some(level) = levels.get_mut(&price) {
            if level.head == handle {
                level.head = node.next;
            }
            if level.tail == handle {
                level.tail = node.prev;
            }
            level.total -= node.qty;
            total = level.total;
            if level.head == NIL {
                levels.remove(&price);
            }
        }
        self.free.push(handle);
        self.count -= 1;
        total
    }

    fn set_qty(&mut self, side: Side, price: u64, order_id: OrderId, handle: u32, qty: u64) -> u64 {
        let Some(node) = self.nodes.get_mut(handle as usize) else {
            debug_assert!(false, "set_qty: bad handle");
            return self.level_qty(side, price);
        };
        debug_assert_eq!(node.order_id, order_id);
        let old = node.qty;
        node.qty = qty;
        match self.levels_mut(side).get_mut(&price) {
            Some(level) => {
                level.total = level.total - old + qty;
                level.total
            }
            None => 0,
        }
    }

    #[inline]
    fn best(&self, side: Side) -> Option<BookEntry> {
        self.best_level(side).map(|l| self.entry(l.head))
    }

    fn walk(&self, side: Side, visit: &mut dyn FnMut(&BookEntry) -> bool) {
        match side {
            Side::Buy => {
                for level in self.bids.values().rev() {
                    if !self.walk_level(level, visit) {
                        return;
                    }
                }
            }
            Side::Sell => {
                for level in self.asks.values() {
                    if !self.walk_level(level, visit) {
                        return;
                    }
                }
            }
        }
    }

    fn level_qty(&self, side: Side, price: u64) -> u64 {
        self.levels(side).get(&price).map_or(0, |l| l.total)
    }

    fn depth(&self, side: Side, levels: usize, out: &mut Vec<(u64, u64)>) {
        match side {
            Side::Buy => out.extend(
                self.bids
                    .iter()
                    .rev()
                    .take(levels)
                    .map(|(p, l)| (*p, l.total)),
            ),
            Side::Sell => out.extend(self.asks.iter().take(levels).map(|(p, l)| (*p, l.total))),
        }
    }

    fn order_count(&self) -> usize {
        self.count
    }
}

//! The fast book: price levels indexed by a [`Ladder`] per side (price -> level slot, best
//! price last), each level an intrusive FIFO of nodes stored in a slab. A node knows its
//! level, so removing an order or changing its quantity is O(1). A level that empties below
//! the top stays in the ladder, empty, until its price is reused or empty levels outnumber
//! live ones by `EMPTY_SLACK` (then one O(levels) compaction): recurring prices cost no
//! ladder shifts.
//!
//! Handles and slot indices come only from this book and the engine that owns it; they are
//! never persisted (snapshots store orders in priority order).

use super::ladder::Ladder;
use super::{Book, BookEntry};
use crate::command::Side;
use crate::ids::{AccountId, OrderId};

const NIL: u32 = u32::MAX;

/// Empty levels a ladder may keep beyond its number of live levels.
const EMPTY_SLACK: usize = 64;

/// Takes a free level slot (or a new one) for a new, empty level.
fn new_level(levels: &mut Vec<Level>, free: &mut Vec<u32>) -> u32 {
    let level = Level {
        total: 0,
        head: NIL,
        tail: NIL,
    };
    match free.pop() {
        Some(slot) => {
            levels[slot as usize] = level;
            slot
        }
        None => {
            levels.push(level);
            (levels.len() - 1) as u32
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Node {
    order_id: OrderId,
    account: AccountId,
    price: u64,
    qty: u64,
    prev: u32,
    next: u32,
    level: u32,
    tag: u32,
}

#[derive(Clone, Copy, Debug)]
struct Level {
    total: u64,
    head: u32,
    tail: u32,
}

/// Fast order book. Handles are node slots (reused after removal).
#[derive(Debug)]
pub struct FastBook {
    nodes: Vec<Node>,
    free_nodes: Vec<u32>,
    levels: Vec<Level>,
    free_levels: Vec<u32>,
    bids: Ladder,
    asks: Ladder,
    count: usize,
}

impl Default for FastBook {
    fn default() -> Self {
        Self {
            nodes: Vec::new(),
            free_nodes: Vec::new(),
            levels: Vec::new(),
            free_levels: Vec::new(),
            bids: Ladder::new(Side::Buy),
            asks: Ladder::new(Side::Sell),
            count: 0,
        }
    }
}

impl FastBook {
    fn side_map(&self, side: Side) -> &Ladder {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
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
            tag: n.tag,
        }
    }

    fn best_level(&self, side: Side) -> Option<&Level> {
        let slot = self.side_map(side).best()?;
        self.levels.get(slot as usize)
    }

    /// A level of `side` just emptied: it stays in the ladder, except that empty levels are
    /// dropped from the top (so the best entry is always live) and all of them are dropped
    /// once they outnumber the live levels by more than `EMPTY_SLACK` (bounded memory).
    fn level_emptied(&mut self, side: Side) {
        let (ladder, levels, free) = match side {
            Side::Buy => (&mut self.bids, &self.levels, &mut self.free_levels),
            Side::Sell => (&mut self.asks, &self.levels, &mut self.free_levels),
        };
        ladder.empties += 1;
        while let Some(slot) = ladder.best() {
            if levels[slot as usize].head != NIL {
                break;
            }
            ladder.pop_best();
            ladder.empties -= 1;
            free.push(slot);
        }
        let live = ladder.len() - ladder.empties;
        if ladder.empties > live + EMPTY_SLACK {
            ladder.retain_slots(|slot| {
                let keep = levels[slot as usize].head != NIL;
                if !keep {
                    free.push(slot);
                }
                keep
            });
            ladder.empties = 0;
        }
    }

    fn walk_level(&self, slot: u32, visit: &mut dyn FnMut(&BookEntry) -> bool) -> bool {
        let mut h = self.levels[slot as usize].head;
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
        tag: u32,
    ) -> (u32, u64) {
        // One search whether or not the level exists.
        let map = match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        let (levels, free) = (&mut self.levels, &mut self.free_levels);
        let mut created = false;
        let slot = map.get_or_insert_with(price, || {
            created = true;
            new_level(levels, free)
        });
        if !created && self.levels[slot as usize].head == NIL {
            // An empty level kept in the ladder comes back to life.
            map.empties -= 1;
        }
        let node = Node {
            order_id,
            account,
            price,
            qty,
            prev: NIL,
            next: NIL,
            level: slot,
            tag,
        };
        let handle = match self.free_nodes.pop() {
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
        let level = &mut self.levels[slot as usize];
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
        let level = &mut self.levels[node.level as usize];
        if level.head == handle {
            level.head = node.next;
        }
        if level.tail == handle {
            level.tail = node.prev;
        }
        level.total -= node.qty;
        let total = level.total;
        if level.head == NIL {
            self.level_emptied(side);
        }
        self.free_nodes.push(handle);
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
        let level = &mut self.levels[node.level as usize];
        level.total = level.total - old + qty;
        level.total
    }

    #[inline]
    fn best(&self, side: Side) -> Option<BookEntry> {
        self.best_level(side).map(|l| self.entry(l.head))
    }

    fn walk(&self, side: Side, visit: &mut dyn FnMut(&BookEntry) -> bool) {
        for (_, slot) in self.side_map(side).iter() {
            if !self.walk_level(slot, visit) {
                return;
            }
        }
    }

    fn level_qty(&self, side: Side, price: u64) -> u64 {
        self.side_map(side)
            .get(price)
            .and_then(|slot| self.levels.get(slot as usize))
            .map_or(0, |l| l.total)
    }

    fn depth(&self, side: Side, levels: usize, out: &mut Vec<(u64, u64)>) {
        let total = |slot: u32| self.levels.get(slot as usize).map_or(0, |l| l.total);
        out.extend(
            self.side_map(side)
                .iter()
                .map(|(p, s)| (p, total(s)))
                .filter(|(_, q)| *q > 0)
                .take(levels),
        );
    }

    fn order_count(&self) -> usize {
        self.count
    }
}

#[cfg(test)]
impl FastBook {
    /// Ladder entries (live and empty levels) of a side.
    pub(super) fn ladder_len(&self, side: Side) -> usize {
        self.side_map(side).len()
    }
}

//! The price levels of one book side: a sorted `Vec` with the best price last.
//!
//! Prices are stored as keys that grow toward the best price (`price` for bids, `!price` for
//! asks), so both sides keep the best level at the end: reading it is O(1), and the common
//! changes near the top of the book (new best levels, levels emptied by matching) move few
//! entries. Keys and level slots sit in two parallel vectors so the binary search reads only
//! keys.
//!
//! A level that empties in the middle of the ladder stays in it (empty) until its price is
//! used again or the ladder is compacted, so the churn of orders placed and cancelled at
//! recurring prices moves no entries; the owner keeps the best entry non-empty and compacts
//! when empty levels outnumber live ones (see `FastBook`).

use crate::command::Side;

/// Price -> level slot for one side, best price last.
#[derive(Debug, Default)]
pub(super) struct Ladder {
    /// Ascending keys (see the module docs).
    keys: Vec<u64>,
    /// Level slot of each key.
    slots: Vec<u32>,
    /// Asks store `!price`.
    asks: bool,
    /// How many of the entries are empty levels (maintained by the owner).
    pub(super) empties: usize,
}

impl Ladder {
    /// An empty ladder for `side`.
    pub(super) fn new(side: Side) -> Self {
        Self {
            keys: Vec::new(),
            slots: Vec::new(),
            asks: side == Side::Sell,
            empties: 0,
        }
    }

    #[inline]
    fn key(&self, price: u64) -> u64 {
        if self.asks {
            !price
        } else {
            price
        }
    }

    #[inline]
    fn price(&self, key: u64) -> u64 {
        if self.asks {
            !key
        } else {
            key
        }
    }

    /// Index of `price`'s key, or where it would be inserted (binary search over the keys).
    #[inline]
    fn find(&self, price: u64) -> Result<usize, usize> {
        let key = self.key(price);
        self.keys.binary_search(&key)
    }

    /// The level slot at `price`.
    #[inline]
    pub(super) fn get(&self, price: u64) -> Option<u32> {
        self.find(price)
            .ok()
            .and_then(|i| self.slots.get(i).copied())
    }

    /// The level slot at `price`, created with `make` if there is none.
    #[inline]
    pub(super) fn get_or_insert_with(&mut self, price: u64, make: impl FnOnce() -> u32) -> u32 {
        match self.find(price) {
            Ok(i) => self.slots[i],
            Err(i) => {
                let slot = make();
                self.keys.insert(i, self.key(price));
                self.slots.insert(i, slot);
                slot
            }
        }
    }

    /// The best level's slot.
    #[inline]
    pub(super) fn best(&self) -> Option<u32> {
        self.slots.last().copied()
    }

    /// Removes the best entry; returns its slot.
    #[inline]
    pub(super) fn pop_best(&mut self) -> Option<u32> {
        self.keys.pop();
        self.slots.pop()
    }

    /// Number of entries (live and empty levels).
    pub(super) fn len(&self) -> usize {
        self.keys.len()
    }

    /// Keeps the entries whose slot satisfies `keep`, in order.
    pub(super) fn retain_slots(&mut self, mut keep: impl FnMut(u32) -> bool) {
        let mut w = 0;
        for r in 0..self.keys.len() {
            let slot = self.slots[r];
            if keep(slot) {
                self.keys[w] = self.keys[r];
                self.slots[w] = slot;
                w += 1;
            }
        }
        self.keys.truncate(w);
        self.slots.truncate(w);
    }

    /// `(price, slot)` of every level, best first.
    pub(super) fn iter(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.keys
            .iter()
            .rev()
            .zip(self.slots.iter().rev())
            .map(|(k, s)| (self.price(*k), *s))
    }
}

//! The price levels of one book side: a sorted `Vec` with the best price last.
//!
//! Prices are stored as keys that grow toward the best price (`price` for bids, `!price` for
//! asks), so both sides keep the best level at the end: reading it is O(1), and the common
//! changes near the top of the book (new best levels, levels emptied by matching) move few
//! entries. Keys and level slots sit in two parallel vectors so the binary search reads only
//! keys.

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
}

impl Ladder {
    /// An empty ladder for `side`.
    pub(super) fn new(side: Side) -> Self {
        Self {
            keys: Vec::new(),
            slots: Vec::new(),
            asks: side == Side::Sell,
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

    /// Removes the level at `price`; returns its slot.
    #[inline]
    pub(super) fn remove(&mut self, price: u64) -> Option<u32> {
        let i = self.find(price).ok()?;
        self.keys.remove(i);
        Some(self.slots.remove(i))
    }

    /// The best level's slot.
    #[inline]
    pub(super) fn best(&self) -> Option<u32> {
        self.slots.last().copied()
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

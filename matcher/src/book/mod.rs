//! Order books: the [`Book`] trait and its two implementations.
//!
//! * [`FastBook`]: price levels in a sorted `Vec` per side (best last), each level an intrusive doubly linked FIFO of
//!   nodes stored in a slab (`Vec`) with a free list; O(1) cancel by handle.
//! * [`NaiveBook`]: one `Vec` of orders scanned linearly; obviously right, used as the
//!   reference in differential tests.
//!
//! A book only knows order ids, owners, prices (ticks) and open quantities (lots); everything
//! else about an order lives in the engine. Both implementations must behave identically
//! through this trait (the engine's events and snapshots depend only on it).

mod fast;
mod ladder;
mod naive;

pub use fast::FastBook;
pub use naive::NaiveBook;

use crate::command::Side;
use crate::ids::{AccountId, OrderId};

/// An order as seen by the book.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BookEntry {
    /// Order id.
    pub order_id: OrderId,
    /// Owner (for self-trade prevention).
    pub account: AccountId,
    /// Price, ticks.
    pub price: u64,
    /// Open quantity, lots (> 0).
    pub qty: u64,
    /// Implementation-specific handle returned by [`Book::insert`].
    pub handle: u32,
    /// The caller's value given to [`Book::insert`] (the engine's order slot, so a fill
    /// reaches the order without an id lookup).
    pub tag: u32,
}

/// A price-time priority order book of one symbol (both sides).
///
/// Priority: bids by descending price, asks by ascending price, then by insertion order.
/// Callers must only pass `(side, price, order_id, handle)` tuples of orders currently in the
/// book, and quantities > 0; implementations may ignore `handle` or `order_id` as they see fit.
pub trait Book: Default + std::fmt::Debug {
    /// Appends an order at the back of its price level; returns its handle and the level's
    /// new total quantity. `tag` is returned in the order's [`BookEntry`].
    #[allow(clippy::too_many_arguments)]
    fn insert(
        &mut self,
        side: Side,
        price: u64,
        order_id: OrderId,
        account: AccountId,
        qty: u64,
        tag: u32,
    ) -> (u32, u64);
    /// Removes an order; returns the level's new total quantity.
    fn remove(&mut self, side: Side, price: u64, order_id: OrderId, handle: u32) -> u64;
    /// Changes an order's open quantity in place (keeps its priority); returns the level's new
    /// total quantity.
    fn set_qty(&mut self, side: Side, price: u64, order_id: OrderId, handle: u32, qty: u64) -> u64;
    /// The highest-priority order of a side.
    fn best(&self, side: Side) -> Option<BookEntry>;
    /// Visits the orders of a side in priority order while `visit` returns `true`.
    fn walk(&self, side: Side, visit: &mut dyn FnMut(&BookEntry) -> bool);
    /// Total open quantity at a price level (0 if the level is empty).
    fn level_qty(&self, side: Side, price: u64) -> u64;
    /// Appends up to `levels` `(price, total qty)` levels of a side, best first, to `out`.
    fn depth(&self, side: Side, levels: usize, out: &mut Vec<(u64, u64)>);
    /// Number of orders in the book (both sides).
    fn order_count(&self) -> usize;
}

/// Whether a taker on `taker_side` with limit `limit` (None = market) accepts `maker_price`.
#[inline]
pub(crate) fn crosses(taker_side: Side, limit: Option<u64>, maker_price: u64) -> bool {
    match (taker_side, limit) {
        (_, None) => true,
        (Side::Buy, Some(p)) => maker_price <= p,
        (Side::Sell, Some(p)) => maker_price >= p,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

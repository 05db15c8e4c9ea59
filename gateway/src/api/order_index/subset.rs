//! [`OrderSubset`]: the few orders one command's answer describes, copied out of the
//! [`OrderIndex`] on the matcher thread and read where the answer is rendered.

use super::{IndexedOrder, OrderIndex};
use matcher::event::{CancelOutcome, NewOrderOutcome};
use matcher::{AccountId, EventKind, OrderId};
use node::CommandEvents;

/// Looking up an order of an account by id: what rendering a command's answer or its
/// execution reports needs of the orders, from the full index or from a subset of it.
pub trait OrderLookup {
    /// The order `order_id` of `account` (never another account's order).
    fn order(&self, account: AccountId, order_id: OrderId) -> Option<&IndexedOrder>;
}

impl OrderLookup for OrderIndex {
    fn order(&self, account: AccountId, order_id: OrderId) -> Option<&IndexedOrder> {
        self.get(account, order_id)
    }
}

/// Copies of one account's orders, by ascending id. A command names one or two orders (a
/// cancel-all: every order it cancelled), so this is one sorted vector: a single allocation
/// on the matcher thread, where a small [`OrderIndex`] with its maps and chunks took several.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderSubset {
    orders: Vec<IndexedOrder>,
}

impl OrderSubset {
    /// The orders of `account` that `batch` mentions, as `index` has them (an order `index`
    /// no longer holds is left out).
    pub fn of(index: &OrderIndex, account: AccountId, batch: &CommandEvents) -> OrderSubset {
        let mut orders: Vec<IndexedOrder> = Vec::new();
        let mut add = |id: OrderId| {
            // A taker's id recurs in every trade of its sweep: skip what was just added
            // (later repeats go with the final dedup).
            if orders.iter().rev().take(4).any(|o| o.info.order_id == id) {
                return;
            }
            if let Some(o) = index.get(account, id) {
                orders.push(*o);
            }
        };
        for event in &batch.events {
            match &event.kind {
                EventKind::OrderAccepted(a) => add(a.order.order_id),
                EventKind::Trade(t) => {
                    add(t.buy_order_id);
                    add(t.sell_order_id);
                }
                EventKind::OrderCancelled { order, .. } => add(order.order_id),
                EventKind::SelfTradePrevented(s) => {
                    add(s.taker_order_id);
                    add(s.maker_order_id);
                }
                EventKind::CancelReplaced(cr) => {
                    match &cr.cancel {
                        CancelOutcome::Cancelled(u) => add(u.order_id),
                        CancelOutcome::Amended { order, .. } => add(order.order_id),
                        CancelOutcome::Failed(_) => {}
                    }
                    if let NewOrderOutcome::Placed(a) = &cr.new_order {
                        add(a.order.order_id);
                    }
                }
                _ => {}
            }
        }
        orders.sort_unstable_by_key(|o| o.info.order_id);
        orders.dedup_by_key(|o| o.info.order_id);
        OrderSubset { orders }
    }

    /// The orders held, by ascending id.
    pub fn orders(&self) -> &[IndexedOrder] {
        &self.orders
    }
}

impl OrderLookup for OrderSubset {
    fn order(&self, account: AccountId, order_id: OrderId) -> Option<&IndexedOrder> {
        let at = self
            .orders
            .binary_search_by_key(&order_id, |o| o.info.order_id)
            .ok()?;
        self.orders.get(at).filter(|o| o.info.account == account)
    }
}

//! Full invariant check (called after every command in tests; O(state)).

use super::state::{CLIENT_INDEX_BUILD, CLIENT_INDEX_DROP};
use super::Engine;
use crate::book::Book;
use crate::command::Side;
use crate::ids::{AccountId, AssetId, OrderId, SymbolId};
use std::collections::BTreeMap;

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvariantViolation {
    /// Best bid >= best ask.
    #[error("book {symbol} crossed: bid {bid} >= ask {ask}")]
    CrossedBook {
        /// Symbol.
        symbol: SymbolId,
        /// Best bid.
        bid: u64,
        /// Best ask.
        ask: u64,
    },
    /// A book entry disagrees with the open-order registry (or is missing from it).
    #[error("book {symbol} disagrees with order {order_id}")]
    BookMismatch {
        /// Symbol.
        symbol: SymbolId,
        /// Order.
        order_id: OrderId,
    },
    /// The registry holds orders that no book holds.
    #[error("{registry} open orders registered, {in_books} in books")]
    OrderCount {
        /// Orders in the registry.
        registry: usize,
        /// Orders in the books.
        in_books: usize,
    },
    /// An order's frozen amount differs from what it must reserve.
    #[error("order {order_id}: frozen {frozen} != required {required}")]
    OrderReserve {
        /// Order.
        order_id: OrderId,
        /// Frozen.
        frozen: u128,
        /// Required.
        required: u128,
    },
    /// A frozen balance differs from the sum of its orders' frozen amounts.
    #[error("account {account} asset {asset}: frozen {frozen} != orders {orders}")]
    FrozenMismatch {
        /// Account.
        account: AccountId,
        /// Asset.
        asset: AssetId,
        /// Balance frozen.
        frozen: u128,
        /// Sum over open orders.
        orders: u128,
    },
    /// Deposits minus withdrawals differ from the sum of balances.
    #[error("asset {asset}: deposited - withdrawn = {expected} but balances hold {held}")]
    Supply {
        /// Asset.
        asset: AssetId,
        /// Deposited minus withdrawn.
        expected: u128,
        /// Sum of available + frozen.
        held: u128,
    },
    /// An account's open-order set or client-id map disagrees with the registry.
    #[error("account {0}: open-order index inconsistent")]
    AccountIndex(AccountId),
    /// An order id is not below the next id to assign.
    #[error("order {0} not below next_order_id")]
    OrderIdCounter(OrderId),
}

impl<B: Book> Engine<B> {
    /// Checks every invariant of the state (see [`InvariantViolation`]). Balances are unsigned,
    /// so "never negative" is checked through its consequences: frozen balances equal their
    /// orders' reserves and every asset's supply is conserved.
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        let mut in_books = 0usize;
        let mut frozen_by: BTreeMap<(AccountId, AssetId), u128> = BTreeMap::new();
        for (symbol, m) in &self.markets {
            let symbol = *symbol;
            if let (Some(b), Some(a)) = (m.book.best(Side::Buy), m.book.best(Side::Sell)) {
                if b.price >= a.price {
                    return Err(InvariantViolation::CrossedBook {
                        symbol,
                        bid: b.price,
                        ask: a.price,
                    });
                }
            }
            for side in [Side::Buy, Side::Sell] {
                let mut bad = None;
                m.book.walk(side, &mut |e| {
                    in_books += 1;
                    let tagged = self
                        .st
                        .orders
                        .by_slot(e.tag)
                        .is_some_and(|o| o.order.order_id == e.order_id);
                    let ok = tagged
                        && self.st.orders.get(&e.order_id).is_some_and(|o| {
                            let o = &o.order;
                            o.symbol == symbol
                                && o.side == side
                                && o.price == e.price
                                && o.account == e.account
                                && o.remaining_qty == e.qty
                                && e.qty > 0
                        });
                    if !ok {
                        bad = Some(e.order_id);
                    }
                    ok
                });
                if let Some(order_id) = bad {
                    return Err(InvariantViolation::BookMismatch { symbol, order_id });
                }
            }
        }
        if in_books != self.st.orders.len() {
            return Err(InvariantViolation::OrderCount {
                registry: self.st.orders.len(),
                in_books,
            });
        }
        for (id, open) in self.st.orders.iter() {
            let o = &open.order;
            if id.0 >= self.st.next_order_id {
                return Err(InvariantViolation::OrderIdCounter(*id));
            }
            let Some(m) = self.markets.get(&o.symbol) else {
                return Err(InvariantViolation::BookMismatch {
                    symbol: o.symbol,
                    order_id: *id,
                });
            };
            let required = o.required_frozen(m.unit, m.config.lot_size);
            if o.frozen != required {
                return Err(InvariantViolation::OrderReserve {
                    order_id: *id,
                    frozen: o.frozen,
                    required,
                });
            }
            let asset = match o.side {
                Side::Buy => m.config.quote,
                Side::Sell => m.config.base,
            };
            *frozen_by.entry((o.account, asset)).or_default() += o.frozen;
            let slot_ok = self.st.account_slot(o.account) == Some(open.acct);
            let indexed = slot_ok
                && self.st.account(o.account).is_some_and(|a| {
                    a.open.binary_search_by_key(id, |e| e.0).is_ok()
                        && self.st.client_owner_in(a, &o.client_order_id) == Some(*id)
                });
            if !indexed {
                return Err(InvariantViolation::AccountIndex(o.account));
            }
        }
        let mut held: BTreeMap<AssetId, u128> = BTreeMap::new();
        if self.st.account_index.len() != self.st.accounts.len()
            || self.st.asset_index.len() != self.st.asset_ids.len()
        {
            return Err(InvariantViolation::AccountIndex(AccountId(0)));
        }
        for (slot, acc) in self.st.accounts.iter().enumerate() {
            let account = &acc.id;
            if self.st.account_slot(*account) != Some(slot as u32) {
                return Err(InvariantViolation::AccountIndex(*account));
            }
            let map_ok = match &acc.by_client_id {
                Some(map) => map.len() == acc.open.len() && acc.open.len() >= CLIENT_INDEX_DROP,
                None => acc.open.len() <= CLIENT_INDEX_BUILD,
            };
            if !map_ok
                || acc.open.iter().any(|(id, slot)| {
                    self.st
                        .orders
                        .get(id)
                        .is_none_or(|o| o.order.account != *account)
                        || self
                            .st
                            .orders
                            .by_slot(*slot)
                            .is_none_or(|o| o.order.order_id != *id)
                })
            {
                return Err(InvariantViolation::AccountIndex(*account));
            }
            // The asset list names exactly the assets with a balance entry.
            let entries = acc.balances.iter().filter(|b| b.is_some()).count();
            let listed = acc.assets.len() == entries
                && acc.assets.iter().all(|a| {
                    self.st
                        .asset_slot(*a)
                        .and_then(|s| acc.balances.get(s as usize))
                        .is_some_and(|b| b.is_some())
                });
            if !listed {
                return Err(InvariantViolation::AccountIndex(*account));
            }
        }
        for (account, asset, b) in self.st.balance_entries() {
            let (account, asset) = (&account, &asset);
            let orders = frozen_by.remove(&(*account, *asset)).unwrap_or(0);
            if orders != b.frozen {
                return Err(InvariantViolation::FrozenMismatch {
                    account: *account,
                    asset: *asset,
                    frozen: b.frozen,
                    orders,
                });
            }
            *held.entry(*asset).or_default() += b.available + b.frozen;
        }
        if let Some(((account, asset), orders)) = frozen_by.into_iter().next() {
            return Err(InvariantViolation::FrozenMismatch {
                account,
                asset,
                frozen: 0,
                orders,
            });
        }
        for asset in self
            .assets
            .keys()
            .chain(self.st.supply.keys())
            .chain(held.keys())
        {
            let s = self.supply(*asset);
            let expected = s.deposited - s.withdrawn;
            let h = held.get(asset).copied().unwrap_or(0);
            if expected != h {
                return Err(InvariantViolation::Supply {
                    asset: *asset,
                    expected,
                    held: h,
                });
            }
        }
        Ok(())
    }
}

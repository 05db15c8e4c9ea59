//! Engine state other than the books: accounts, balances, open orders, counters, and the
//! per-command scratch used to emit events.

use crate::book::BookEntry;
use crate::command::{Side, StpMode};
use crate::event::{Event, EventKind, OrderState, OrderStatus, OrderUpdate};
use crate::fees;
use crate::ids::{AccountId, AssetId, ClientOrderId, OrderId, SymbolId, TxId};
use bincode::{Decode, Encode};
use rustc_hash::FxHashMap;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet};

/// An account's balance of one asset, in minimal units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct Balance {
    /// Free to spend or withdraw.
    pub available: u128,
    /// Held by open orders.
    pub frozen: u128,
}

/// The kind of a resting order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum RestingKind {
    /// LIMIT GTC.
    Limit,
    /// LIMIT_MAKER.
    LimitMaker,
}

/// An open (resting) order. The matcher keeps only open orders; closed orders live on in the
/// event stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct RestingOrder {
    /// Id.
    pub order_id: OrderId,
    /// Owner.
    pub account: AccountId,
    /// Symbol.
    pub symbol: SymbolId,
    /// Side.
    pub side: Side,
    /// LIMIT or LIMIT_MAKER.
    pub kind: RestingKind,
    /// Price, ticks.
    pub price: u64,
    /// Open quantity, lots (> 0).
    pub remaining_qty: u64,
    /// Executed quantity, lots.
    pub executed_qty: u64,
    /// Quantity removed by STP DECREMENT, lots.
    pub prevented_qty: u64,
    /// Executed notional, quote units.
    pub cum_quote: u128,
    /// Cumulative fee basis (Σ notional × rate), see [`crate::fees`].
    pub fee_basis: u128,
    /// Fee charged so far, quote units.
    pub cum_fee: u128,
    /// Maker rate fixed at placement (ppm).
    pub maker_fee_ppm: u32,
    /// Taker rate fixed at placement (ppm).
    pub taker_fee_ppm: u32,
    /// Amount still frozen for this order (quote units for a buy, base for a sell).
    pub frozen: u128,
    /// Client order id.
    pub client_order_id: ClientOrderId,
    /// STP mode.
    pub stp: StpMode,
}

impl RestingOrder {
    /// Current state with the given status.
    pub(crate) fn state_with(&self, status: OrderStatus) -> OrderState {
        OrderState {
            status,
            executed_qty: self.executed_qty,
            cum_quote: self.cum_quote,
            remaining_qty: if status.is_final() {
                0
            } else {
                self.remaining_qty
            },
            prevented_qty: self.prevented_qty,
            cum_fee: self.cum_fee,
        }
    }

    /// State while open.
    pub(crate) fn open_state(&self) -> OrderState {
        let status = if self.executed_qty > 0 {
            OrderStatus::PartiallyFilled
        } else {
            OrderStatus::New
        };
        self.state_with(status)
    }

    pub(crate) fn update(&self, status: OrderStatus) -> OrderUpdate {
        OrderUpdate {
            order_id: self.order_id,
            account: self.account,
            symbol: self.symbol,
            side: self.side,
            client_order_id: self.client_order_id,
            state: self.state_with(status),
        }
    }

    /// What a resting order must keep frozen (see [`crate::fees`]).
    pub(crate) fn required_frozen(&self, quote_per_tick_lot: u128, lot_size: u128) -> u128 {
        match self.side {
            Side::Buy => {
                let notional =
                    u128::from(self.remaining_qty) * u128::from(self.price) * quote_per_tick_lot;
                fees::buy_reserve(notional, self.fee_basis, self.cum_fee, self.maker_fee_ppm)
            }
            Side::Sell => u128::from(self.remaining_qty) * lot_size,
        }
    }
}

/// An open order plus its book handle and its owner's account slot (not persisted).
#[derive(Clone, Copy, Debug)]
pub(crate) struct OpenOrder {
    pub(crate) order: RestingOrder,
    pub(crate) handle: u32,
    pub(crate) acct: u32,
}
/// Open orders: a slab of orders plus a small id -> slot index (hash operations move 12-byte
/// entries instead of whole orders).
#[derive(Debug, Default)]
pub(crate) struct OrderStore {
    index: FxHashMap<OrderId, u32>,
    slots: Vec<OpenOrder>,
    free: Vec<u32>,
}

impl OrderStore {
    #[inline]
    pub(crate) fn get(&self, id: &OrderId) -> Option<&OpenOrder> {
        self.index.get(id).and_then(|i| self.slots.get(*i as usize))
    }

    /// The slot of an open order.
    #[inline]
    pub(crate) fn slot_of(&self, id: &OrderId) -> Option<u32> {
        self.index.get(id).copied()
    }

    /// An open order by its slot (the book entry's tag).
    pub(crate) fn by_slot(&self, slot: u32) -> Option<&OpenOrder> {
        self.slots.get(slot as usize)
    }

    /// The open order in `slot`, mutably, if that slot still holds order `id` (slots are
    /// reused once an order closes, so a slot alone does not name an order).
    #[inline]
    pub(crate) fn open_mut(&mut self, slot: u32, id: OrderId) -> Option<&mut OpenOrder> {
        self.slots
            .get_mut(slot as usize)
            .filter(|o| o.order.order_id == id)
    }

    /// The resting order behind a book entry being filled. An entry whose order is not open
    /// means the book and the order registry disagree: a matcher bug. It stops the matcher (in
    /// release builds too, like a balance shortfall) rather than settle one side of a fill.
    #[inline]
    pub(crate) fn maker_mut(&mut self, maker: &BookEntry) -> &mut OpenOrder {
        match self.open_mut(maker.tag, maker.order_id) {
            Some(open) => open,
            None => panic!(
                "matcher invariant broken: book entry for order {:?} in slot {} has no open order",
                maker.order_id, maker.tag
            ),
        }
    }

    /// The slot the next [`OrderStore::insert`] will use.
    #[inline]
    pub(crate) fn next_slot(&self) -> u32 {
        self.free.last().copied().unwrap_or(self.slots.len() as u32)
    }

    pub(crate) fn contains_key(&self, id: &OrderId) -> bool {
        self.index.contains_key(id)
    }

    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// Inserts a new order (the id must not be present); returns its slot.
    pub(crate) fn insert(&mut self, id: OrderId, order: OpenOrder) -> u32 {
        let slot = match self.free.pop() {
            Some(i) => {
                if let Some(s) = self.slots.get_mut(i as usize) {
                    *s = order;
                }
                i
            }
            None => {
                self.slots.push(order);
                (self.slots.len() - 1) as u32
            }
        };
        let previous = self.index.insert(id, slot);
        debug_assert!(previous.is_none(), "order inserted twice");
        slot
    }

    pub(crate) fn remove(&mut self, id: &OrderId) -> Option<OpenOrder> {
        let i = self.index.remove(id)?;
        self.free.push(i);
        self.slots.get(i as usize).copied()
    }

    /// All open orders, in no particular order (callers must not depend on it).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&OrderId, &OpenOrder)> {
        self.index
            .iter()
            .filter_map(|(id, i)| self.slots.get(*i as usize).map(|o| (id, o)))
    }
}

/// A balance plus the number of the last command that changed it (so each touched balance
/// is recorded once per command).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct BalanceEntry {
    pub(crate) balance: Balance,
    /// `State::epoch` of the last command that touched it (0: none since restore).
    touched_in: u64,
}

/// Per-account data, stored at the account's dense slot.
///
/// Slots are assigned on first sight (a balance entry or an open order), in command order,
/// so they are deterministic; they are internal and never persisted (snapshots are keyed by
/// ids and sorted).
#[derive(Clone, Debug)]
pub(crate) struct Account {
    /// The account's id.
    pub(crate) id: AccountId,
    /// Balance entries by dense asset slot (`None`: no entry).
    pub(crate) balances: Vec<Option<BalanceEntry>>,
    /// Assets this account has a balance entry for, ascending.
    pub(crate) assets: Vec<AssetId>,
    /// Open orders as (id, order slot), by ascending id (new ids are always the largest, so
    /// inserts are pushes).
    pub(crate) open: Vec<(OrderId, u32)>,
    /// Client order id -> open order id, kept only while the account has many open orders
    /// (built above `CLIENT_INDEX_BUILD`, dropped below `CLIENT_INDEX_DROP`); otherwise a
    /// client id is found by scanning `open` through the order slab, which beats hashing a
    /// 36-byte key three times per placement.
    pub(crate) by_client_id: Option<FxHashMap<ClientOrderId, OrderId>>,
}

/// Open orders above which an account keeps a client order id map.
pub(crate) const CLIENT_INDEX_BUILD: usize = 8;
/// Open orders below which the map is dropped again (hysteresis).
pub(crate) const CLIENT_INDEX_DROP: usize = 4;

impl Account {
    fn new(id: AccountId) -> Self {
        Self {
            id,
            balances: Vec::new(),
            assets: Vec::new(),
            open: Vec::new(),
            by_client_id: None,
        }
    }
}

/// Per-asset supply counters (for the conservation invariant).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct Supply {
    /// Total deposited, minimal units.
    pub deposited: u128,
    /// Total withdrawn, minimal units.
    pub withdrawn: u128,
}

/// Everything but the markets.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) fee_account: AccountId,
    pub(crate) max_open_orders: u32,
    pub(crate) next_order_id: u64,
    pub(crate) next_trade_id: u64,
    pub(crate) last_event_seq: u64,
    pub(crate) last_cmd_seq: u64,
    pub(crate) supply: BTreeMap<AssetId, Supply>,
    /// Account id -> dense account slot (consulted once per command and account).
    pub(crate) account_index: FxHashMap<AccountId, u32>,
    /// Accounts by slot.
    pub(crate) accounts: Vec<Account>,
    /// Asset id -> dense asset slot (assigned on first sight, like account slots).
    pub(crate) asset_index: FxHashMap<AssetId, u32>,
    /// Asset ids by slot.
    pub(crate) asset_ids: Vec<AssetId>,
    /// Slot of the fee account, once it has been resolved (reset when the fee account changes).
    pub(crate) fee_slot: Option<u32>,
    pub(crate) orders: OrderStore,
    pub(crate) deposit_ids: BTreeSet<TxId>,
    pub(crate) withdrawal_ids: BTreeSet<TxId>,
    // Per-command scratch (never persisted).
    pub(crate) cmd_seq: u64,
    pub(crate) ts_ms: u64,
    /// Counts `apply` calls; marks balance entries touched by the current command.
    pub(crate) epoch: u64,
    /// (account, asset, account slot, asset slot) of each balance this command changed, once
    /// each, in order of first change.
    pub(crate) touched_balances: Vec<(AccountId, AssetId, u32, u32)>,
    /// (symbol, side, price, level total after the change), in order of change.
    pub(crate) touched_levels: Vec<(SymbolId, Side, u64, u64)>,
    pub(crate) scratch_ids: Vec<OrderId>,
}

impl State {
    /// Appends an event with the next event sequence.
    #[inline(always)]
    pub(crate) fn emit(&mut self, out: &mut Vec<Event>, kind: EventKind) {
        self.emit_with(out, move || kind);
    }

    /// Appends the event `kind()` builds, with the next event sequence.
    ///
    /// The slot is reserved before `kind` runs and the event is written straight into it,
    /// so the payload can be built in place: `Vec::push` of an event built beforehand
    /// copied it from the stack with wider moves than the stores that built it, and the
    /// stalled store forwarding was the largest single cost of `apply` in the profile.
    #[inline(always)]
    pub(crate) fn emit_with(&mut self, out: &mut Vec<Event>, kind: impl FnOnce() -> EventKind) {
        self.last_event_seq += 1;
        out.reserve(1);
        let len = out.len();
        if let Some(slot) = out.spare_capacity_mut().first_mut() {
            slot.write(Event {
                seq: self.last_event_seq,
                cmd_seq: self.cmd_seq,
                ts_ms: self.ts_ms,
                kind: kind(),
            });
            // SAFETY: `len < capacity` (the slot exists) and the element at `len` was fully
            // initialised by the write just above.
            unsafe { out.set_len(len + 1) };
        }
    }

    /// The slot of an account, if it has been seen.
    #[inline]
    pub(crate) fn account_slot(&self, id: AccountId) -> Option<u32> {
        self.account_index.get(&id).copied()
    }

    /// The slot of an account, assigned now if it is new.
    #[inline]
    pub(crate) fn account_slot_or_insert(&mut self, id: AccountId) -> u32 {
        match self.account_index.entry(id) {
            Entry::Occupied(e) => *e.get(),
            Entry::Vacant(v) => {
                let slot = self.accounts.len() as u32;
                self.accounts.push(Account::new(id));
                *v.insert(slot)
            }
        }
    }

    /// An account by id.
    pub(crate) fn account(&self, id: AccountId) -> Option<&Account> {
        self.account_slot(id)
            .and_then(|s| self.accounts.get(s as usize))
    }

    /// The slot of an asset, if it has been seen.
    pub(crate) fn asset_slot(&self, asset: AssetId) -> Option<u32> {
        self.asset_index.get(&asset).copied()
    }

    /// The slot of an asset, assigned now if it is new.
    pub(crate) fn asset_slot_or_insert(&mut self, asset: AssetId) -> u32 {
        match self.asset_index.entry(asset) {
            Entry::Occupied(e) => *e.get(),
            Entry::Vacant(v) => {
                let slot = self.asset_ids.len() as u32;
                self.asset_ids.push(asset);
                *v.insert(slot)
            }
        }
    }

    /// The fee account's slot (resolved once per fee account).
    #[inline]
    pub(crate) fn fee_slot(&mut self) -> u32 {
        match self.fee_slot {
            Some(s) => s,
            None => {
                let s = self.account_slot_or_insert(self.fee_account);
                self.fee_slot = Some(s);
                s
            }
        }
    }

    /// Changes the fee account.
    pub(crate) fn set_fee_account(&mut self, account: AccountId) {
        self.fee_account = account;
        self.fee_slot = None;
    }

    /// A balance by ids (zero if there is no entry).
    pub(crate) fn balance(&self, account: AccountId, asset: AssetId) -> Balance {
        match (self.account_slot(account), self.asset_slot(asset)) {
            (Some(acct), Some(asset)) => self.balance_at(acct, asset),
            _ => Balance::default(),
        }
    }

    /// A balance by slots (zero if there is no entry).
    #[inline]
    pub(crate) fn balance_at(&self, acct: u32, asset: u32) -> Balance {
        self.accounts
            .get(acct as usize)
            .and_then(|a| a.balances.get(asset as usize))
            .copied()
            .flatten()
            .map(|e| e.balance)
            .unwrap_or_default()
    }

    /// All balance entries as (account, asset, balance), in no particular order.
    pub(crate) fn balance_entries(
        &self,
    ) -> impl Iterator<Item = (AccountId, AssetId, Balance)> + '_ {
        self.accounts.iter().flat_map(move |a| {
            a.balances.iter().enumerate().filter_map(move |(slot, b)| {
                let asset = self.asset_ids.get(slot)?;
                b.map(|e| (a.id, *asset, e.balance))
            })
        })
    }

    /// The balance entry of (account slot, asset slot), created on demand (registering the
    /// asset with the account). Does not mark it touched: use [`State::update_balance`] for
    /// changes.
    #[inline]
    pub(crate) fn balance_slot(&mut self, acct: u32, asset: u32) -> &mut Balance {
        &mut self.balance_entry(acct, asset).balance
    }

    #[inline]
    fn balance_entry(&mut self, acct: u32, asset: u32) -> &mut BalanceEntry {
        let asset_id = self.asset_ids[asset as usize];
        let a = &mut self.accounts[acct as usize];
        let i = asset as usize;
        if a.balances.len() <= i {
            a.balances.resize(i + 1, None);
        }
        let entry = &mut a.balances[i];
        if entry.is_none() {
            if let Err(at) = a.assets.binary_search(&asset_id) {
                a.assets.insert(at, asset_id);
            }
        }
        entry.get_or_insert_with(BalanceEntry::default)
    }

    /// Applies `change` to a balance and records it (once per command) for this command's
    /// `Balance` events, which carry the final values.
    #[inline]
    pub(crate) fn update_balance(
        &mut self,
        acct: u32,
        asset: u32,
        change: impl FnOnce(&mut Balance),
    ) {
        let epoch = self.epoch;
        let e = self.balance_entry(acct, asset);
        change(&mut e.balance);
        if e.touched_in != epoch {
            e.touched_in = epoch;
            let ids = (
                self.accounts[acct as usize].id,
                self.asset_ids[asset as usize],
            );
            self.touched_balances.push((ids.0, ids.1, acct, asset));
        }
    }

    pub(crate) fn credit(&mut self, acct: u32, asset: u32, amount: u128) {
        if amount == 0 {
            return;
        }
        self.update_balance(acct, asset, |b| b.available += amount);
    }

    /// Moves `amount` from available to frozen. Callers check availability first.
    pub(crate) fn freeze(&mut self, acct: u32, asset: u32, amount: u128) {
        self.update_balance(acct, asset, |b| {
            take(&mut b.available, amount, "freeze beyond available");
            b.frozen += amount;
        });
    }

    /// Moves `amount` from frozen back to available.
    pub(crate) fn release(&mut self, acct: u32, asset: u32, amount: u128) {
        if amount == 0 {
            return;
        }
        self.update_balance(acct, asset, |b| {
            take(&mut b.frozen, amount, "release beyond frozen");
            b.available += amount;
        });
    }

    /// Removes `amount` from frozen (spent by a fill).
    pub(crate) fn spend_frozen(&mut self, acct: u32, asset: u32, amount: u128) {
        self.update_balance(acct, asset, |b| {
            take(&mut b.frozen, amount, "spend beyond frozen");
        });
    }

    /// Removes `amount` from available (a withdrawal). Callers check availability first.
    pub(crate) fn debit_available(&mut self, acct: u32, asset: u32, amount: u128) {
        self.update_balance(acct, asset, |b| {
            take(&mut b.available, amount, "debit beyond available");
        });
    }

    /// Registers a new open order with its account; returns its order slot (which
    /// [`OrderStore::next_slot`] predicted).
    pub(crate) fn open_order(&mut self, order: RestingOrder, handle: u32, acct: u32) -> u32 {
        debug_assert_eq!(self.account_slot(order.account), Some(acct));
        let slot = self.orders.insert(
            order.order_id,
            OpenOrder {
                order,
                handle,
                acct,
            },
        );
        let orders = &self.orders;
        let acc = &mut self.accounts[acct as usize];
        match acc.open.binary_search_by_key(&order.order_id, |e| e.0) {
            Ok(_) => debug_assert!(false, "order registered twice"),
            Err(i) => acc.open.insert(i, (order.order_id, slot)),
        }
        match acc.by_client_id.as_mut() {
            Some(map) => {
                map.insert(order.client_order_id, order.order_id);
            }
            None if acc.open.len() > CLIENT_INDEX_BUILD => {
                let map = acc
                    .open
                    .iter()
                    .filter_map(|(id, s)| {
                        orders.by_slot(*s).map(|o| (o.order.client_order_id, *id))
                    })
                    .collect();
                acc.by_client_id = Some(map);
            }
            None => {}
        }
        slot
    }

    /// Unregisters an open order; returns it.
    pub(crate) fn close_order(&mut self, order_id: OrderId) -> Option<OpenOrder> {
        let open = self.orders.remove(&order_id)?;
        if let Some(acc) = self.accounts.get_mut(open.acct as usize) {
            if let Ok(i) = acc.open.binary_search_by_key(&order_id, |e| e.0) {
                acc.open.remove(i);
            }
            let coid = open.order.client_order_id;
            if acc.open.len() < CLIENT_INDEX_DROP {
                acc.by_client_id = None;
            } else if let Some(map) = acc.by_client_id.as_mut() {
                if let Some(owner) = map.remove(&coid) {
                    if owner != order_id {
                        // Not ours (cannot happen while the indexes are consistent).
                        debug_assert!(false, "client id index points at another order");
                        map.insert(coid, owner);
                    }
                }
            }
        }
        Some(open)
    }

    /// The open order of an account with a client order id.
    pub(crate) fn client_owner_in(&self, acc: &Account, id: &ClientOrderId) -> Option<OrderId> {
        match &acc.by_client_id {
            Some(map) => map.get(id).copied(),
            None => acc
                .open
                .iter()
                .find(|(_, slot)| {
                    self.orders
                        .by_slot(*slot)
                        .is_some_and(|o| o.order.client_order_id == *id)
                })
                .map(|(order_id, _)| *order_id),
        }
    }

    pub(crate) fn client_id_owner(
        &self,
        account: AccountId,
        id: &ClientOrderId,
    ) -> Option<OrderId> {
        self.account(account)
            .and_then(|a| self.client_owner_in(a, id))
    }
}

/// Subtracts `amount` from a balance field. Every caller has checked sufficiency first, so a
/// shortfall can only be a matcher bug. It stops the matcher (in release builds too) rather
/// than let a clamped or wrapped value silently create or destroy money: the journal stays
/// intact, and the bug replays deterministically for diagnosis.
#[inline]
fn take(field: &mut u128, amount: u128, what: &'static str) {
    match field.checked_sub(amount) {
        Some(rest) => *field = rest,
        None => panic!("matcher invariant broken: {what} (balance {field}, amount {amount})"),
    }
}

//! [`OrderIndex`]: every order's description and current state, kept beside the engine on the
//! matcher thread as a `node::Projection`, for `order.status`, `openOrders.status`, cancel
//! responses and execution reports.
//!
//! * Open orders are always kept. Closed orders (filled, cancelled, expired) are kept up to
//!   a bound ([`DEFAULT_MAX_CLOSED`] = the most recent 200,000), evicted oldest-closed first
//!   (FIFO), before each batch is applied; an evicted order answers `order.status` with `-2013 "Order does not exist."`.
//! * Lookups take the account and never return another account's order.
//! * A client order id maps to the most recent order of that (account, symbol) that carried
//!   it (Binance resolves `origClientOrderId` the same way).
//! * `save` / `load` encode the index with bincode (the project's codec config), orders by
//!   ascending id and the closed queue in eviction order.
//! * `seed` (after a snapshot without usable index bytes) rebuilds the OPEN orders from the
//!   engine. It cannot know what only events told: an order's `time`, `updateTime` and
//!   `workingTime` are set to 0, its `origQty` to executed + remaining + prevented, its time
//!   in force to GTC (only GTC and LIMIT_MAKER orders rest), and closed orders are gone.

use bincode::{Decode, Encode};
use matcher::event::{CancelOutcome, NewOrderOutcome, OrderInfo, OrderUpdate};
use matcher::{
    AccountId, ClientOrderId, EventKind, OrderId, OrderState, OrderStatus, OrderType, RestingKind,
    SymbolId, TimeInForce,
};
use node::{CommandEvents, Engine, Projection};
use std::collections::{HashMap, VecDeque};

/// Orders by id: ids are the matcher's own sequence numbers, so the fast multiplicative
/// FxHash is safe here.
type ById = HashMap<OrderId, IndexedOrder, rustc_hash::FxBuildHasher>;
/// Orders by client id: the key is the client's choice, so the hash is seeded per process
/// (foldhash; SipHash, the std default, was a visible share of the matcher thread).
type ByClient = HashMap<(AccountId, SymbolId, ClientOrderId), OrderId, foldhash::fast::RandomState>;

/// Closed orders kept by default. Each kept order costs about 400 bytes (the 272-byte
/// [`IndexedOrder`], its client-id key, both maps' slots and slack), so this bound holds
/// roughly 80 MB of closed orders (1,000,000 would be about 400 MB); pass another bound to
/// [`OrderIndex::new`].
pub const DEFAULT_MAX_CLOSED: usize = 200_000;

/// Layout version of [`OrderIndex::save`]'s bytes.
const SAVE_VERSION: u16 = 1;

/// One order as the index knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct IndexedOrder {
    /// The order as accepted (type, price and quantity as placed).
    pub info: OrderInfo,
    /// Current client order id (changes when amended by a cancel-replace).
    pub client_order_id: ClientOrderId,
    /// Current state.
    pub state: OrderState,
    /// Original quantity in lots (for a MARKET order by quote: the executed quantity).
    pub orig_qty: u64,
    /// Acceptance time, ms (`time`).
    pub time_ms: u64,
    /// Last change, ms (`updateTime`).
    pub update_time_ms: u64,
    /// When it started working, ms (`workingTime`; the acceptance time).
    pub working_time_ms: u64,
}

impl IndexedOrder {
    /// Whether the order is still open.
    pub fn is_open(&self) -> bool {
        !self.state.status.is_final()
    }
}

/// The index. See the module docs.
#[derive(Clone, Debug)]
pub struct OrderIndex {
    orders: ById,
    by_client: ByClient,
    closed: VecDeque<OrderId>,
    max_closed: usize,
    buffers: SaveBuffers,
}

/// The vectors of the last snapshot copy, handed back by the snapshot thread once it has
/// encoded them, so the next copy on the matcher thread writes into memory that is already
/// mapped (fresh memory for ~50 MB of orders cost page faults on every snapshot).
#[derive(Clone, Default)]
struct SaveBuffers(std::sync::Arc<std::sync::Mutex<Option<Saved>>>);

impl std::fmt::Debug for SaveBuffers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SaveBuffers")
    }
}

impl SaveBuffers {
    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Saved>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Default for OrderIndex {
    fn default() -> Self {
        OrderIndex::new(DEFAULT_MAX_CLOSED)
    }
}

#[derive(Default, Encode, Decode)]
struct Saved {
    version: u16,
    max_closed: u64,
    orders: Vec<IndexedOrder>,
    closed: Vec<OrderId>,
    by_client: Vec<(AccountId, SymbolId, ClientOrderId, OrderId)>,
}

impl Saved {
    /// Sorts (so equal indexes give equal bytes) and encodes.
    fn sorted_bytes(&mut self) -> Vec<u8> {
        self.orders.sort_unstable_by_key(|o| o.info.order_id);
        self.by_client.sort_unstable();
        match bincode::encode_to_vec(&*self, matcher::codec::config()) {
            Ok(bytes) => bytes,
            Err(e) => {
                // Encoding plain integers and validated ids into a Vec does not fail; an
                // empty save makes recovery seed from the engine instead.
                tracing::error!(error = %e, "order index could not be encoded");
                Vec::new()
            }
        }
    }
}

impl OrderIndex {
    /// An empty index keeping at most `max_closed` closed orders. Its maps are sized for
    /// that bound at once (the memory is only touched as orders arrive), so they never
    /// rehash everything in one go on the matcher thread as the index fills.
    pub fn new(max_closed: usize) -> Self {
        // Room for the closed orders kept plus as many open ones, so a busy index never
        // doubles (and rehashes everything) on the matcher thread.
        let capacity = max_closed
            .saturating_mul(2)
            .saturating_add(4096)
            .min(1 << 22);
        OrderIndex {
            orders: ById::with_capacity_and_hasher(capacity, Default::default()),
            by_client: ByClient::with_capacity_and_hasher(capacity, Default::default()),
            closed: VecDeque::with_capacity(max_closed.min(1 << 22)),
            max_closed,
            buffers: SaveBuffers::default(),
        }
    }

    /// A full working copy with room for its bound (a clone would copy the whole
    /// preallocated table, empty slots included).
    pub fn working_copy(&self) -> OrderIndex {
        let mut copy = OrderIndex::new(self.max_closed);
        copy.orders
            .extend(self.orders.iter().map(|(k, v)| (*k, *v)));
        copy.by_client
            .extend(self.by_client.iter().map(|(k, v)| (*k, *v)));
        copy.closed.extend(self.closed.iter().copied());
        copy
    }

    /// The orders of `account` that `batch` mentions, copied into a small index of their own:
    /// what rendering the command's answer needs, taken on the matcher thread so that the
    /// rendering itself can happen elsewhere.
    pub fn subset(&self, account: AccountId, batch: &CommandEvents) -> OrderIndex {
        let mut out = OrderIndex {
            orders: ById::default(),
            by_client: ByClient::default(),
            closed: VecDeque::new(),
            max_closed: usize::MAX,
            buffers: SaveBuffers::default(),
        };
        let mut add = |id: OrderId| {
            if let Some(o) = self.get(account, id) {
                out.by_client
                    .insert((o.info.account, o.info.symbol, o.client_order_id), id);
                out.orders.insert(id, *o);
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
        out
    }

    /// An order of `account` by id.
    pub fn get(&self, account: AccountId, order_id: OrderId) -> Option<&IndexedOrder> {
        self.orders
            .get(&order_id)
            .filter(|o| o.info.account == account)
    }

    /// An order of `account` on `symbol` by its current client order id (the most recent such
    /// order).
    pub fn by_client_id(
        &self,
        account: AccountId,
        symbol: SymbolId,
        client_order_id: &ClientOrderId,
    ) -> Option<&IndexedOrder> {
        self.by_client
            .get(&(account, symbol, *client_order_id))
            .and_then(|id| self.get(account, *id))
            .filter(|o| o.info.symbol == symbol)
    }

    /// The open orders of `account` (optionally on one symbol), by ascending order id.
    /// Linear in the number of indexed orders; an account's orders are not indexed
    /// separately.
    pub fn open_orders(&self, account: AccountId, symbol: Option<SymbolId>) -> Vec<&IndexedOrder> {
        let mut out: Vec<&IndexedOrder> = self
            .orders
            .values()
            .filter(|o| {
                o.info.account == account
                    && o.is_open()
                    && symbol.is_none_or(|s| o.info.symbol == s)
            })
            .collect();
        out.sort_unstable_by_key(|o| o.info.order_id);
        out
    }

    /// Number of orders held (open and closed).
    pub fn len(&self) -> usize {
        self.orders.len()
    }

    /// Whether the index holds no order.
    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
    }

    /// Folds one command's events.
    ///
    /// Eviction runs first, so orders closed by this batch are still there for rendering its
    /// responses: the bound holds before each batch (plus what one batch closes).
    pub fn apply_events(&mut self, batch: &CommandEvents) {
        self.evict();
        let ts = batch.ts_ms;
        for event in &batch.events {
            match &event.kind {
                EventKind::OrderAccepted(a) => self.insert(&a.order, a.state, ts),
                EventKind::Trade(t) => {
                    self.update(t.buy_order_id, t.buy_state, None, ts);
                    self.update(t.sell_order_id, t.sell_state, None, ts);
                }
                EventKind::OrderCancelled { order, .. } => self.update_from(order, ts),
                EventKind::SelfTradePrevented(s) => {
                    self.update(s.taker_order_id, s.taker_state, None, ts);
                    self.update(s.maker_order_id, s.maker_state, None, ts);
                }
                EventKind::CancelReplaced(cr) => {
                    match &cr.cancel {
                        CancelOutcome::Cancelled(u) => self.update_from(u, ts),
                        CancelOutcome::Amended { order, .. } => {
                            self.update(
                                order.order_id,
                                order.state,
                                Some(order.client_order_id),
                                ts,
                            );
                        }
                        CancelOutcome::Failed(_) => {}
                    }
                    if let NewOrderOutcome::Placed(a) = &cr.new_order {
                        self.insert(&a.order, a.state, ts);
                    }
                }
                _ => {}
            }
        }
    }

    fn insert(&mut self, info: &OrderInfo, state: OrderState, ts: u64) {
        let orig_qty = match info.order_type {
            OrderType::Limit { qty, .. } | OrderType::LimitMaker { qty, .. } => qty,
            OrderType::Market {
                amount: matcher::MarketAmount::Base(qty),
            } => qty,
            OrderType::Market { .. } => state.executed_qty,
        };
        let order = IndexedOrder {
            info: *info,
            client_order_id: info.client_order_id,
            state,
            orig_qty,
            time_ms: ts,
            update_time_ms: ts,
            working_time_ms: ts,
        };
        self.by_client.insert(
            (info.account, info.symbol, info.client_order_id),
            info.order_id,
        );
        self.orders.insert(info.order_id, order);
        if state.status.is_final() {
            self.closed.push_back(info.order_id);
        }
    }

    fn update_from(&mut self, u: &OrderUpdate, ts: u64) {
        self.update(u.order_id, u.state, None, ts);
    }

    fn update(
        &mut self,
        id: OrderId,
        state: OrderState,
        new_client: Option<ClientOrderId>,
        ts: u64,
    ) {
        let Some(o) = self.orders.get_mut(&id) else {
            // Unknown after `seed` lost it or after eviction: nothing to update.
            return;
        };
        let was_open = o.is_open();
        o.state = state;
        o.update_time_ms = ts;
        if matches!(
            o.info.order_type,
            OrderType::Market {
                amount: matcher::MarketAmount::Quote(_)
            }
        ) {
            o.orig_qty = state.executed_qty;
        }
        if let Some(client) = new_client {
            // An amendment: the remaining quantity is the new one.
            o.orig_qty = state.executed_qty + state.remaining_qty + state.prevented_qty;
            let old = o.client_order_id;
            o.client_order_id = client;
            let key = (o.info.account, o.info.symbol, old);
            if self.by_client.get(&key) == Some(&id) {
                self.by_client.remove(&key);
            }
            self.by_client
                .insert((o.info.account, o.info.symbol, client), id);
        }
        if was_open && state.status.is_final() {
            self.closed.push_back(id);
        }
    }

    fn evict(&mut self) {
        while self.closed.len() > self.max_closed {
            let Some(id) = self.closed.pop_front() else {
                break;
            };
            if let Some(o) = self.orders.remove(&id) {
                let key = (o.info.account, o.info.symbol, o.client_order_id);
                if self.by_client.get(&key) == Some(&id) {
                    self.by_client.remove(&key);
                }
            }
        }
    }

    /// Rebuilds the open orders from the engine (see the module docs for what is
    /// approximated). The engine has no iterator over all orders, so ids are probed from 1
    /// until every open order was found: linear in the highest open order id.
    pub fn seed_from_engine(&mut self, engine: &Engine) {
        let keep = self.max_closed;
        *self = OrderIndex::new(keep);
        let total = engine.open_order_total();
        let mut found = 0usize;
        let mut id = 1u64;
        while found < total && id < u64::MAX {
            if let Some(r) = engine.order(OrderId(id)) {
                found += 1;
                let qty = r.executed_qty + r.remaining_qty + r.prevented_qty;
                let order_type = match r.kind {
                    RestingKind::Limit => OrderType::Limit {
                        price: r.price,
                        qty,
                        tif: TimeInForce::Gtc,
                    },
                    RestingKind::LimitMaker => OrderType::LimitMaker {
                        price: r.price,
                        qty,
                    },
                };
                let status = if r.executed_qty > 0 {
                    OrderStatus::PartiallyFilled
                } else {
                    OrderStatus::New
                };
                let info = OrderInfo {
                    order_id: r.order_id,
                    account: r.account,
                    symbol: r.symbol,
                    side: r.side,
                    order_type,
                    client_order_id: r.client_order_id,
                    stp: r.stp,
                    maker_fee_ppm: r.maker_fee_ppm,
                    taker_fee_ppm: r.taker_fee_ppm,
                    frozen: r.frozen,
                };
                let state = OrderState {
                    status,
                    executed_qty: r.executed_qty,
                    cum_quote: r.cum_quote,
                    remaining_qty: r.remaining_qty,
                    prevented_qty: r.prevented_qty,
                    cum_fee: r.cum_fee,
                };
                self.insert(&info, state, 0);
            }
            id += 1;
        }
    }

    /// Encodes the index (see the module docs).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.saved().sorted_bytes()
    }

    /// The index's contents as plain vectors, unsorted: a sequential copy with no hashing,
    /// cheap enough for the matcher thread ([`Saved::sorted_bytes`] sorts and encodes elsewhere).
    fn saved(&self) -> Saved {
        let mut saved = self.buffers.slot().take().unwrap_or_default();
        saved.version = SAVE_VERSION;
        saved.max_closed = self.max_closed as u64;
        saved.orders.clear();
        saved.orders.extend(self.orders.values().copied());
        saved.closed.clear();
        saved.closed.extend(self.closed.iter().copied());
        saved.by_client.clear();
        saved.by_client.extend(
            self.by_client
                .iter()
                .map(|((a, s, c), id)| (*a, *s, *c, *id)),
        );
        saved
    }

    /// Decodes bytes written by [`OrderIndex::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<OrderIndex, String> {
        let (saved, used): (Saved, usize) =
            bincode::decode_from_slice(bytes, matcher::codec::config())
                .map_err(|e| e.to_string())?;
        if used != bytes.len() {
            return Err(format!("{} trailing bytes", bytes.len() - used));
        }
        if saved.version != SAVE_VERSION {
            return Err(format!("order index layout {} unknown", saved.version));
        }
        let max_closed = usize::try_from(saved.max_closed).map_err(|e| e.to_string())?;
        let mut index = OrderIndex::new(max_closed);
        for o in saved.orders {
            index.orders.insert(o.info.order_id, o);
        }
        for (account, symbol, client, id) in saved.by_client {
            if !index.orders.contains_key(&id) {
                return Err(format!("client id of order {id} not in the index"));
            }
            index.by_client.insert((account, symbol, client), id);
        }
        for id in saved.closed {
            if !index.orders.contains_key(&id) {
                return Err(format!("closed order {id} not in the index"));
            }
            index.closed.push_back(id);
        }
        Ok(index)
    }
}

impl Projection for OrderIndex {
    fn apply(&mut self, batch: &CommandEvents) {
        self.apply_events(batch);
    }

    fn seed(&mut self, engine: &Engine) {
        self.seed_from_engine(engine);
    }

    fn save(&self) -> Box<dyn FnOnce() -> Vec<u8> + Send> {
        // A plain copy here (on the matcher thread: no hashing, no sorting), the sorting and
        // encoding on the snapshot thread.
        let mut saved = self.saved();
        let buffers = self.buffers.clone();
        Box::new(move || {
            let bytes = saved.sorted_bytes();
            *buffers.slot() = Some(saved);
            bytes
        })
    }

    fn load(&mut self, bytes: &[u8]) -> Result<(), String> {
        *self = OrderIndex::from_bytes(bytes)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The memory estimate in [`DEFAULT_MAX_CLOSED`]'s docs rests on this size.
    #[test]
    fn indexed_order_stays_small() {
        let size = std::mem::size_of::<IndexedOrder>();
        assert!(size <= 272, "{size}");
    }
}

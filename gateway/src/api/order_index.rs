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
use std::collections::VecDeque;
use std::sync::Arc;

mod maps;
mod subset;
use maps::{ByClient, ById, ClientKey, Slot};
pub use subset::{OrderLookup, OrderSubset};

/// Closed orders kept by default. Each kept order costs about 350 bytes (its ~290-byte slot,
/// a few bytes in each map and slack), so this bound holds roughly 70 MB of closed orders
/// (1,000,000 would be about 350 MB); pass another bound to [`OrderIndex::new`].
pub const DEFAULT_MAX_CLOSED: usize = 200_000;

/// Layout version of [`OrderIndex::to_bytes`]'s bytes.
const SAVE_VERSION: u16 = 1;

/// Slots per chunk of [`Slots`]: what the first write to a chunk copies while a snapshot (or
/// another copy of the index) still holds it, about 4.7 KB. Small, because the writes during
/// a snapshot's capture land all over the slots: with 128-slot chunks nearly every chunk was
/// copied each time.
const CHUNK: usize = 16;

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

    fn client_key(&self) -> ClientKey {
        (self.info.account, self.info.symbol, self.client_order_id)
    }
}

/// An order in its slot, with what the saved form needs to know about the maps, so that a
/// snapshot is the slots alone.
#[derive(Clone, Copy, Debug)]
struct Entry {
    order: IndexedOrder,
    /// Position in the eviction queue (`closed`), in closing order; 0 while not in it.
    closed_seq: u64,
    /// Whether `by_client` maps this order's current client key to it.
    owns_client_key: bool,
}

/// Up to [`CHUNK`] slots. A vector rather than an array so that a small index (an account
/// mirror of the user-data router) allocates only what it holds.
type Chunk = Vec<Option<Entry>>;

/// The orders, in fixed slots grouped in shared chunks. Copying the index (for a snapshot)
/// clones the chunk pointers, not the orders; the first later write to a chunk that a copy
/// still holds copies that chunk alone. So the matcher thread never copies all orders in one
/// go: a snapshot costs it a pointer per [`CHUNK`] slots, and a few chunk copies while the
/// snapshot thread reads the orders out.
#[derive(Clone, Debug, Default)]
struct Slots {
    /// Every chunk but the last is full.
    chunks: Vec<Arc<Chunk>>,
    /// Empty slots, reused before the slots grow.
    free: Vec<Slot>,
    /// Empty chunks with their memory already touched ([`OrderIndex::warm_up`]), taken
    /// before fresh ones are allocated; none outside a node's index.
    spare: Option<ChunkPool>,
}

/// Spare chunks, prepared off the matcher thread: a fresh chunk faults its pages in on first
/// write, and while the index grows towards its bound of closed orders (a fresh node's first
/// ~200,000 orders) those faults stretched the matcher thread's batches (p99 7-12 ms instead
/// of ~2 ms over the first seconds at 40k requests/s).
#[derive(Clone, Default)]
struct ChunkPool(Arc<std::sync::Mutex<PoolState>>);

#[derive(Default)]
struct PoolState {
    chunks: Vec<Chunk>,
    /// How many chunks the pool should hold at most: what the index may still grow into.
    wanted: usize,
}

impl std::fmt::Debug for ChunkPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChunkPool")
    }
}

impl ChunkPool {
    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn take(&self) -> Option<Chunk> {
        let mut pool = self.lock();
        let chunk = pool.chunks.pop();
        if chunk.is_some() {
            pool.wanted = pool.wanted.saturating_sub(1);
        }
        chunk
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().chunks.len()
    }

    /// Sets how many chunks the pool should hold (an index that grew by recovery needs fewer),
    /// dropping any beyond it.
    fn want(&self, chunks: usize) {
        let mut pool = self.lock();
        pool.wanted = chunks;
        pool.chunks.truncate(chunks);
    }

    /// Prepares chunks until the pool holds what is wanted (in batches, so that a taker never
    /// waits long for the lock).
    fn fill(&self) {
        const BATCH: usize = 256;
        loop {
            let missing = {
                let pool = self.lock();
                pool.wanted.saturating_sub(pool.chunks.len())
            };
            if missing == 0 {
                return;
            }
            let batch: Vec<Chunk> = (0..missing.min(BATCH))
                .map(|_| {
                    let mut chunk = Chunk::with_capacity(CHUNK);
                    chunk.resize(CHUNK, None);
                    chunk.clear();
                    chunk
                })
                .collect();
            let mut pool = self.lock();
            let room = pool.wanted.saturating_sub(pool.chunks.len());
            pool.chunks.extend(batch.into_iter().take(room));
        }
    }
}

/// Where `slot` is: its chunk and its place in the chunk.
fn chunk_of(slot: Slot) -> (usize, usize) {
    let slot = slot as usize;
    (slot / CHUNK, slot % CHUNK)
}

impl Slots {
    fn get(&self, slot: Slot) -> Option<&Entry> {
        let (chunk, at) = chunk_of(slot);
        self.chunks.get(chunk)?.get(at)?.as_ref()
    }

    fn get_mut(&mut self, slot: Slot) -> Option<&mut Entry> {
        let (chunk, at) = chunk_of(slot);
        Arc::make_mut(self.chunks.get_mut(chunk)?)
            .get_mut(at)?
            .as_mut()
    }

    /// Puts `entry` in a free slot (or a new one) and returns the slot; `None` when all
    /// `u32::MAX` slots are taken (about a terabyte of orders; the maps store slots in 32
    /// bits and `u32::MAX` is never handed out).
    fn insert(&mut self, entry: Entry) -> Option<Slot> {
        if let Some(slot) = self.free.pop() {
            let (chunk, at) = chunk_of(slot);
            if let Some(chunk) = self.chunks.get_mut(chunk) {
                if let Some(s) = Arc::make_mut(chunk).get_mut(at) {
                    *s = Some(entry);
                    return Some(slot);
                }
            }
        }
        let chunks = self.chunks.len();
        // Every chunk but the last is full.
        let next = chunks.saturating_sub(1) * CHUNK + self.chunks.last().map_or(0, |c| c.len());
        let slot = Slot::try_from(next).ok().filter(|s| *s < Slot::MAX)?;
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < CHUNK => Arc::make_mut(chunk).push(Some(entry)),
            _ => {
                // The first chunk grows as it fills (room for two: a small index, such as
                // an account mirror, often holds one or two orders); later ones get their
                // room at once.
                let spare = self.spare.as_ref().and_then(ChunkPool::take);
                let mut chunk = spare
                    .unwrap_or_else(|| Vec::with_capacity(if chunks == 0 { 2 } else { CHUNK }));
                chunk.push(Some(entry));
                self.chunks.push(Arc::new(chunk));
            }
        }
        Some(slot)
    }

    /// Empties `slot`, returning what it held.
    fn remove(&mut self, slot: Slot) -> Option<Entry> {
        let (chunk, at) = chunk_of(slot);
        let chunk = self.chunks.get_mut(chunk)?;
        let entry = Arc::make_mut(chunk).get_mut(at)?.take();
        if entry.is_some() {
            self.free.push(slot);
        }
        entry
    }

    /// Number of slots, full or free.
    fn capacity(&self) -> usize {
        self.chunks.iter().map(|c| c.len()).sum()
    }

    fn entries_and_gaps(&self) -> impl Iterator<Item = &Option<Entry>> {
        self.chunks.iter().flat_map(|c| c.iter())
    }

    fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries_and_gaps().flatten()
    }
}

/// The index. See the module docs. A clone shares the orders until either side writes them
/// (see [`Slots`]); the maps are copied.
#[derive(Clone, Debug)]
pub struct OrderIndex {
    slots: Slots,
    by_id: ById,
    by_client: ByClient,
    /// Slots of closed orders, oldest closed first (the eviction queue).
    closed: VecDeque<Slot>,
    /// The next `closed_seq` (starts at 1).
    next_closed_seq: u64,
    max_closed: usize,
    /// The snapshot capture's buffer, kept between snapshots.
    capture_buffer: CaptureBuffer,
}

/// The buffer a snapshot capture copies the slots into, handed back after encoding so the
/// next capture writes into memory already mapped (tens of MB of fresh memory cost page
/// faults and zeroing on every snapshot).
#[derive(Clone, Default)]
struct CaptureBuffer(Arc<std::sync::Mutex<Vec<Option<Entry>>>>);

impl std::fmt::Debug for CaptureBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CaptureBuffer")
    }
}

impl CaptureBuffer {
    fn take(&self) -> Vec<Option<Entry>> {
        std::mem::take(
            &mut *self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    fn give_back(&self, buffer: Vec<Option<Entry>>) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = buffer;
    }

    /// Offers `buffer` unless the pool already holds one at least as large (a capture may
    /// have taken the pool's buffer meanwhile; it hands its own back afterwards).
    fn offer(&self, buffer: Vec<Option<Entry>>) {
        let mut pooled = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if pooled.capacity() < buffer.capacity() {
            *pooled = buffer;
        }
    }
}

impl Default for OrderIndex {
    fn default() -> Self {
        OrderIndex::new(DEFAULT_MAX_CLOSED)
    }
}

/// The saved form (see the module docs), as it is read back; [`SavedRef`] writes it.
#[derive(Encode, Decode)]
struct Saved {
    version: u16,
    max_closed: u64,
    orders: Vec<IndexedOrder>,
    closed: Vec<OrderId>,
    by_client: Vec<(AccountId, SymbolId, ClientOrderId, OrderId)>,
}

/// The saved form as it is written: [`Saved`]'s layout, with the orders borrowed from the
/// slots (bincode writes a reference as the value behind it, so the bytes are the same).
/// Building a [`Saved`] copied every order (~290 bytes each, tens of MB for a full index)
/// into a vector grown by doubling: fresh memory, zeroed page by page, that was most of a
/// snapshot's cost.
#[derive(Encode)]
struct SavedRef<'a> {
    version: u16,
    max_closed: u64,
    orders: Vec<&'a IndexedOrder>,
    closed: Vec<OrderId>,
    by_client: Vec<(AccountId, SymbolId, ClientOrderId, OrderId)>,
}

impl<'a> SavedRef<'a> {
    /// The saved form of `entries` (at most `capacity` of them hold an order): the maps and
    /// the eviction queue are read back from what each entry records; orders by ascending
    /// id and client keys in order, so that equal indexes give equal bytes.
    fn collect(
        entries: impl IntoIterator<Item = &'a Option<Entry>>,
        capacity: usize,
        max_closed: usize,
    ) -> SavedRef<'a> {
        let mut orders: Vec<(OrderId, &'a IndexedOrder)> = Vec::with_capacity(capacity);
        let mut by_client = Vec::with_capacity(capacity);
        let mut closed = Vec::with_capacity(capacity.min(max_closed.saturating_add(1)));
        for e in entries.into_iter().flatten() {
            let id = e.order.info.order_id;
            orders.push((id, &e.order));
            if e.owns_client_key {
                let (account, symbol, client) = e.order.client_key();
                by_client.push((account, symbol, client, id));
            }
            if e.closed_seq != 0 {
                closed.push((e.closed_seq, id));
            }
        }
        // Sorted by the ids beside the references: no order is read while sorting.
        orders.sort_unstable_by_key(|(id, _)| *id);
        by_client.sort_unstable();
        closed.sort_unstable();
        SavedRef {
            version: SAVE_VERSION,
            max_closed: max_closed as u64,
            orders: orders.into_iter().map(|(_, o)| o).collect(),
            closed: closed.into_iter().map(|(_, id)| id).collect(),
            by_client,
        }
    }

    fn to_bytes(&self) -> Vec<u8> {
        // bincode sizes the vector exactly before it writes.
        match bincode::encode_to_vec(self, matcher::codec::config()) {
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
            slots: Slots::default(),
            by_id: ById::paged(),
            by_client: ByClient::with_capacity(capacity),
            closed: VecDeque::with_capacity(max_closed.min(1 << 22)),
            next_closed_seq: 1,
            max_closed,
            capture_buffer: CaptureBuffer::default(),
        }
    }

    /// An empty index with no room reserved.
    fn unreserved(max_closed: usize) -> Self {
        OrderIndex {
            slots: Slots::default(),
            by_id: ById::default(),
            by_client: ByClient::default(),
            closed: VecDeque::new(),
            next_closed_seq: 1,
            max_closed,
            capture_buffer: CaptureBuffer::default(),
        }
    }

    /// An index of `orders` alone (no room reserved beyond them) keeping at most
    /// `max_closed` closed orders: the user-data router's mirror of one account, seeded with
    /// its open orders and fed with [`OrderIndex::apply_events_of`].
    pub fn of_orders(orders: impl IntoIterator<Item = IndexedOrder>, max_closed: usize) -> Self {
        let mut index = OrderIndex::unreserved(max_closed);
        for order in orders {
            if let Some(slot) = index.put(order) {
                if !order.is_open() {
                    index.close(slot);
                }
            }
        }
        index
    }

    /// The orders of `account` that `batch` mentions, copied out: what rendering the
    /// command's answer needs, taken on the matcher thread so that the rendering itself can
    /// happen elsewhere.
    pub fn subset(&self, account: AccountId, batch: &CommandEvents) -> OrderSubset {
        OrderSubset::of(self, account, batch)
    }

    /// An order of `account` by id.
    pub fn get(&self, account: AccountId, order_id: OrderId) -> Option<&IndexedOrder> {
        self.entry(order_id)
            .map(|e| &e.order)
            .filter(|o| o.info.account == account)
    }

    fn entry(&self, order_id: OrderId) -> Option<&Entry> {
        self.slots.get(self.by_id.get(order_id)?)
    }

    /// The client key of the order in `slot`, for [`ByClient`]'s comparisons.
    fn key_of(slots: &Slots) -> impl Fn(Slot) -> Option<ClientKey> + '_ {
        |slot| slots.get(slot).map(|e| e.order.client_key())
    }

    /// An order of `account` on `symbol` by its current client order id (the most recent such
    /// order).
    pub fn by_client_id(
        &self,
        account: AccountId,
        symbol: SymbolId,
        client_order_id: &ClientOrderId,
    ) -> Option<&IndexedOrder> {
        let key = (account, symbol, *client_order_id);
        let slot = self.by_client.get(&key, Self::key_of(&self.slots))?;
        self.slots
            .get(slot)
            .map(|e| &e.order)
            .filter(|o| o.info.account == account && o.info.symbol == symbol)
    }

    /// The open orders of `account` (optionally on one symbol), by ascending order id.
    /// Linear in the number of indexed orders; an account's orders are not indexed
    /// separately.
    pub fn open_orders(&self, account: AccountId, symbol: Option<SymbolId>) -> Vec<&IndexedOrder> {
        let mut out: Vec<&IndexedOrder> = self
            .slots
            .entries()
            .map(|e| &e.order)
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
        self.by_id.len()
    }

    /// Whether the index holds no order.
    pub fn is_empty(&self) -> bool {
        self.by_id.len() == 0
    }

    /// Folds one command's events.
    ///
    /// Eviction runs first, so orders closed by this batch are still there for rendering its
    /// responses: the bound holds before each batch (plus what one batch closes).
    pub fn apply_events(&mut self, batch: &CommandEvents) {
        self.fold(batch, None);
    }

    /// Folds one command's events as far as they concern `account`'s orders (other accounts'
    /// new orders are not added).
    pub fn apply_events_of(&mut self, account: AccountId, batch: &CommandEvents) {
        self.fold(batch, Some(account));
    }

    fn fold(&mut self, batch: &CommandEvents, only: Option<AccountId>) {
        self.evict();
        let ts = batch.ts_ms;
        let wanted = |info: &OrderInfo| only.is_none_or(|a| a == info.account);
        for event in &batch.events {
            match &event.kind {
                EventKind::OrderAccepted(a) if wanted(&a.order) => {
                    self.insert(&a.order, a.state, ts)
                }
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
                        if wanted(&a.order) {
                            self.insert(&a.order, a.state, ts);
                        }
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
        if let Some(slot) = self.put(order) {
            if state.status.is_final() {
                self.close(slot);
            }
        }
    }

    /// Stores `order` as open (replacing an order of the same id) and maps its client key
    /// to it. Returns its slot.
    fn put(&mut self, order: IndexedOrder) -> Option<Slot> {
        let id = order.info.order_id;
        if let Some(old) = self.by_id.get(id) {
            // The matcher never reuses an id; should it, the old order goes entirely.
            if self.remove_slot(old).is_some_and(|e| e.closed_seq != 0) {
                self.closed.retain(|s| *s != old);
            }
        }
        let key = order.client_key();
        let Some(slot) = self.slots.insert(Entry {
            order,
            closed_seq: 0,
            owns_client_key: true,
        }) else {
            tracing::error!(order = %id, "order index full: order not indexed");
            return None;
        };
        self.by_id.insert(id, slot);
        self.claim_client_key(slot, &key);
        Some(slot)
    }

    /// Maps `key` to the order in `slot`, taking it from the order that had it. The order
    /// must already have `key` as its client key and record owning it.
    fn claim_client_key(&mut self, slot: Slot, key: &ClientKey) {
        if let Some(previous) = self.by_client.claim(key, slot, Self::key_of(&self.slots)) {
            if let Some(e) = self.slots.get_mut(previous) {
                e.owns_client_key = false;
            }
        }
    }

    /// Puts the order in `slot` at the end of the eviction queue.
    fn close(&mut self, slot: Slot) {
        let seq = self.next_closed_seq;
        if let Some(e) = self.slots.get_mut(slot) {
            e.closed_seq = seq;
            self.next_closed_seq += 1;
            self.closed.push_back(slot);
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
        // Unknown after `seed` lost it or after eviction: nothing to update.
        let Some(slot) = self.by_id.get(id) else {
            return;
        };
        let Some(entry) = self.slots.get_mut(slot) else {
            return;
        };
        let o = &mut entry.order;
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
            let old_key = o.client_key();
            o.client_order_id = client;
            let new_key = o.client_key();
            let owned = std::mem::replace(&mut entry.owns_client_key, true);
            if owned {
                self.by_client.remove(&old_key, slot);
            }
            self.claim_client_key(slot, &new_key);
        }
        if was_open && state.status.is_final() {
            self.close(slot);
        }
    }

    /// Removes the order in `slot` from the slots and both maps (not from `closed`).
    fn remove_slot(&mut self, slot: Slot) -> Option<Entry> {
        let e = self.slots.remove(slot)?;
        self.by_id.remove(e.order.info.order_id);
        if e.owns_client_key {
            self.by_client.remove(&e.order.client_key(), slot);
        }
        Some(e)
    }

    fn evict(&mut self) {
        while self.closed.len() > self.max_closed {
            let Some(slot) = self.closed.pop_front() else {
                break;
            };
            self.remove_slot(slot);
        }
    }

    /// Panics unless the maps, the eviction queue and the slots agree: every order's slot is
    /// where `by_id` says and `by_id` names no other slot, `by_client` maps exactly the keys
    /// of the orders that record owning theirs (each map's own invariants hold too: see
    /// [`ById::assert_consistent`], [`ByClient::assert_consistent`]), the queue holds exactly
    /// the closed orders with a `closed_seq`, in rising order, and no open order is queued.
    /// For tests, after every step.
    #[doc(hidden)]
    pub fn assert_consistent(&self) {
        let free: std::collections::HashSet<Slot> = self.slots.free.iter().copied().collect();
        assert_eq!(free.len(), self.slots.free.len(), "a slot freed twice");
        self.by_id.assert_consistent();
        self.by_client.assert_consistent(Self::key_of(&self.slots));
        let mut entries = 0;
        let mut owners = 0;
        for (c, chunk) in self.slots.chunks.iter().enumerate() {
            for (i, e) in chunk.iter().enumerate() {
                let slot = Slot::try_from(c * CHUNK + i).expect("slot numbers fit in 32 bits");
                assert!(slot < Slot::MAX, "slot u32::MAX handed out");
                let Some(e) = e else {
                    assert!(free.contains(&slot), "empty slot {slot} not free");
                    continue;
                };
                entries += 1;
                let id = e.order.info.order_id;
                assert_eq!(self.by_id.get(id), Some(slot), "by_id of order {id}");
                let key = e.order.client_key();
                assert_eq!(
                    self.by_client.get(&key, Self::key_of(&self.slots)) == Some(slot),
                    e.owns_client_key,
                    "client key ownership of order {id}"
                );
                owners += usize::from(e.owns_client_key);
                if e.closed_seq != 0 {
                    assert!(!e.order.is_open(), "open order {id} queued for eviction");
                }
            }
        }
        assert_eq!(entries, self.by_id.len(), "orders vs by_id");
        for (id, slot) in self.by_id.iter() {
            let e = self.slots.get(slot).expect("by_id names a full slot");
            assert_eq!(e.order.info.order_id, id, "by_id of slot {slot}");
        }
        assert_eq!(
            entries + self.slots.free.len(),
            self.slots.capacity(),
            "slots vs free list"
        );
        assert_eq!(
            owners,
            self.by_client.len(),
            "client key owners vs by_client"
        );
        for slot in self.by_client.slots() {
            let e = self.slots.get(slot).expect("by_client names a full slot");
            assert!(
                e.owns_client_key,
                "by_client names slot {slot}, not its owner"
            );
        }
        let mut last = 0;
        for slot in &self.closed {
            let e = self.slots.get(*slot).expect("queued slot holds an order");
            assert!(e.closed_seq > last, "closing order of slot {slot}");
            last = e.closed_seq;
        }
        let queued = self.slots.entries().filter(|e| e.closed_seq != 0).count();
        assert_eq!(queued, self.closed.len(), "queued orders vs queue");
    }

    /// Prepares memory the index will need, in a background thread, its pages touched: spare
    /// chunks for `max_closed` closed orders and half again (taken as the index grows, see
    /// [`ChunkPool`]), then the snapshot capture's buffer for as many. Without the buffer the
    /// first snapshot's capture faults in tens of MB of fresh memory (~170 ms at 75k
    /// requests/s instead of ~20), and the matcher thread copies every chunk it writes while
    /// the capture still holds it. Both are about the memory a full index holds anyway, so
    /// this moves page faults off the hot path without adding memory; an index recovered from
    /// a snapshot keeps only the spare chunks it may still grow into. For a node's index,
    /// called before `Node::start` (recovery keeps both).
    pub fn warm_up(&mut self) {
        let entries = self.prepared_entries();
        let spare = self
            .slots
            .spare
            .get_or_insert_with(ChunkPool::default)
            .clone();
        spare.want(
            entries
                .div_ceil(CHUNK)
                .saturating_sub(self.slots.chunks.len()),
        );
        let pool = self.capture_buffer.clone();
        let spawned = std::thread::Builder::new()
            .name("index-warmup".into())
            .spawn(move || {
                spare.fill();
                let mut buffer: Vec<Option<Entry>> = Vec::with_capacity(entries);
                buffer.resize(entries, None);
                buffer.clear();
                pool.offer(buffer);
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "index warm-up thread not started");
        }
    }

    /// Slots the warm-up prepares for: `max_closed` closed orders and half again.
    fn prepared_entries(&self) -> usize {
        self.max_closed
            .saturating_add(self.max_closed / 2)
            .min(1 << 22)
    }

    /// The prepared memory of `from` (see [`OrderIndex::warm_up`]), kept by an index that
    /// replaces it; the spare chunks are cut to what this index may still grow into.
    fn keep_prepared(&mut self, from: (CaptureBuffer, Option<ChunkPool>)) {
        self.capture_buffer = from.0;
        if let Some(spare) = &from.1 {
            let wanted = self.prepared_entries().div_ceil(CHUNK);
            spare.want(wanted.saturating_sub(self.slots.chunks.len()));
        }
        self.slots.spare = from.1;
    }

    fn prepared(&self) -> (CaptureBuffer, Option<ChunkPool>) {
        (self.capture_buffer.clone(), self.slots.spare.clone())
    }

    /// Rebuilds the open orders from the engine (see the module docs for what is
    /// approximated). The engine has no iterator over all orders, so ids are probed from 1
    /// until every open order was found: linear in the highest open order id.
    pub fn seed_from_engine(&mut self, engine: &Engine) {
        let keep = self.max_closed;
        let prepared = self.prepared();
        *self = OrderIndex::new(keep);
        self.keep_prepared(prepared);
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
        SavedRef::collect(
            self.slots.entries_and_gaps(),
            self.slots.capacity(),
            self.max_closed,
        )
        .to_bytes()
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
        for order in saved.orders {
            let id = order.info.order_id;
            if index.by_id.contains(id) {
                return Err(format!("order {id} saved twice"));
            }
            let slot = index
                .slots
                .insert(Entry {
                    order,
                    closed_seq: 0,
                    owns_client_key: false,
                })
                .ok_or_else(|| format!("too many orders (at order {id})"))?;
            index.by_id.insert(id, slot);
        }
        for (account, symbol, client, id) in saved.by_client {
            let key = (account, symbol, client);
            let Some((slot, e)) = index
                .by_id
                .get(id)
                .and_then(|slot| Some((slot, index.slots.get_mut(slot)?)))
            else {
                return Err(format!("client id of order {id} not in the index"));
            };
            if e.order.client_key() != key || e.owns_client_key {
                return Err(format!("client id of order {id} does not match it"));
            }
            e.owns_client_key = true;
            if index
                .by_client
                .claim(&key, slot, Self::key_of(&index.slots))
                .is_some()
            {
                return Err(format!("client id of order {id} saved twice"));
            }
        }
        for id in saved.closed {
            let Some(slot) = index.by_id.get(id) else {
                return Err(format!("closed order {id} not in the index"));
            };
            let seq = index.next_closed_seq;
            let Some(e) = index.slots.get_mut(slot) else {
                return Err(format!("closed order {id} not in the index"));
            };
            if e.closed_seq != 0 || e.order.is_open() {
                return Err(format!("closed order {id} is open or saved twice"));
            }
            e.closed_seq = seq;
            index.next_closed_seq += 1;
            index.closed.push_back(slot);
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

    fn save(&self) -> node::Capture {
        // On the matcher thread only the chunk pointers are copied. The capture copies the
        // slots out as they are (one block copy per chunk, into the previous snapshot's
        // buffer, so no fresh memory faults in), letting each chunk go as soon as it is read:
        // the matcher thread copies a chunk it writes only while the capture still holds it.
        // The encoder reads the saved form out of the copy, sorts and encodes at low priority.
        let chunks = self.slots.chunks.clone();
        let max_closed = self.max_closed;
        let pool = self.capture_buffer.clone();
        Box::new(move || {
            let mut slots = pool.take();
            slots.clear();
            let needed = chunks.len() * CHUNK;
            if slots.capacity() < needed {
                // Room to grow by half before the next snapshot needs fresh memory again.
                slots = Vec::with_capacity(needed + needed / 2);
            }
            for chunk in chunks {
                slots.extend_from_slice(&chunk);
            }
            Box::new(move || {
                let bytes = SavedRef::collect(&slots, slots.len(), max_closed).to_bytes();
                pool.give_back(slots);
                bytes
            })
        })
    }

    fn load(&mut self, bytes: &[u8]) -> Result<(), String> {
        let prepared = self.prepared();
        *self = OrderIndex::from_bytes(bytes)?;
        self.keep_prepared(prepared);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use matcher::{Side, StpMode};

    fn order(id: u64, status: OrderStatus) -> IndexedOrder {
        let client_order_id = ClientOrderId::new(&format!("c{id}")).unwrap_or_else(|_| panic!());
        IndexedOrder {
            info: OrderInfo {
                order_id: OrderId(id),
                account: AccountId(1 + id % 3),
                symbol: SymbolId(1),
                side: Side::Buy,
                order_type: OrderType::Limit {
                    price: 100 + id,
                    qty: 5,
                    tif: TimeInForce::Gtc,
                },
                client_order_id,
                stp: StpMode::None,
                maker_fee_ppm: 0,
                taker_fee_ppm: 0,
                frozen: 500,
            },
            client_order_id,
            state: OrderState {
                status,
                executed_qty: 0,
                cum_quote: 0,
                remaining_qty: 5,
                prevented_qty: 0,
                cum_fee: 0,
            },
            orig_qty: 5,
            time_ms: id,
            update_time_ms: id,
            working_time_ms: id,
        }
    }

    /// The warm-up fills the chunk pool and the capture buffer; recovery (a load) keeps
    /// both; the index grows into the pool's chunks (their pages already touched) and reads
    /// back every order put into them.
    #[test]
    fn the_warmed_memory_is_kept_through_a_load_and_used_as_the_index_grows() {
        use node::Projection;
        let pooled = |index: &OrderIndex| {
            index
                .capture_buffer
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .capacity()
        };
        let spare = |index: &OrderIndex| index.slots.spare.as_ref().map_or(0, ChunkPool::len);
        let mut index = OrderIndex::new(1000);
        index.warm_up();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while pooled(&index) < 1500 {
            assert!(std::time::Instant::now() < deadline, "no warmed buffer");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        // The chunks are prepared before the buffer.
        assert_eq!(spare(&index), 1500usize.div_ceil(CHUNK));
        let bytes = (index.save())()();
        let pool = Arc::clone(&index.capture_buffer.0);
        index.load(&bytes).unwrap_or_else(|e| panic!("{e}"));
        assert!(Arc::ptr_eq(&pool, &index.capture_buffer.0));
        assert!(pooled(&index) >= 1500);
        let before = spare(&index);
        let orders = 10 * CHUNK as u64;
        for id in 1..=orders {
            let status = if id % 2 == 0 {
                OrderStatus::Filled
            } else {
                OrderStatus::New
            };
            let slot = index
                .put(order(id, status))
                .unwrap_or_else(|| panic!("no slot"));
            if id % 2 == 0 {
                index.close(slot);
            }
        }
        index.assert_consistent();
        assert_eq!(
            before - spare(&index),
            10,
            "each new chunk came from the pool"
        );
        for id in 1..=orders {
            let got = index.get(AccountId(1 + id % 3), OrderId(id));
            assert_eq!(got.map(|o| o.info.order_id), Some(OrderId(id)));
        }
        // An index recovered with more orders keeps only the spare chunks it may still grow
        // into.
        for id in orders + 1..=50 * CHUNK as u64 {
            index.put(order(id, OrderStatus::New));
        }
        let bytes = (index.save())()();
        let mut other = OrderIndex::new(1000);
        other.warm_up();
        while spare(&other) < 94 {
            assert!(std::time::Instant::now() < deadline, "no warmed chunks");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        other.load(&bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(other.slots.chunks.len(), 50);
        assert_eq!(spare(&other), 94 - 50);
        // Seeding from an engine (recovery without an index snapshot) keeps them too.
        let engine = Engine::new(matcher::EngineConfig::default());
        index.seed_from_engine(&engine);
        assert!(index.slots.spare.is_some());
        assert!(Arc::ptr_eq(&pool, &index.capture_buffer.0));
    }

    #[test]
    fn the_borrowed_saved_form_writes_the_owned_layout() {
        // Open and closed orders, a client key taken over by a later order, slots reused.
        let mut index = OrderIndex::new(2);
        for id in 1..=6u64 {
            let status = if id % 2 == 0 {
                OrderStatus::Filled
            } else {
                OrderStatus::New
            };
            let mut o = order(id, status);
            if id == 4 {
                // Same account as order 1, and its client id: the key moves to order 4.
                o.client_order_id = order(1, status).client_order_id;
            }
            index.put(o);
            if id % 2 == 0 {
                let slot = index.by_id.get(OrderId(id)).expect("just put");
                index.close(slot);
            }
            index.evict();
        }
        let bytes = index.to_bytes();
        let (saved, used): (Saved, usize) =
            bincode::decode_from_slice(&bytes, matcher::codec::config()).expect("decodes");
        assert_eq!(used, bytes.len());
        let ids: Vec<u64> = saved.orders.iter().map(|o| o.info.order_id.0).collect();
        assert_eq!(
            ids,
            [1, 3, 4, 5, 6],
            "orders by id, the oldest closed one evicted"
        );
        assert_eq!(saved.closed, [OrderId(4), OrderId(6)]);
        let keyed: Vec<u64> = saved.by_client.iter().map(|k| k.3 .0).collect();
        assert!(!keyed.contains(&1) && keyed.contains(&4), "{keyed:?}");
        // The owned form encodes to exactly the bytes the borrowed one wrote.
        assert_eq!(
            bincode::encode_to_vec(&saved, matcher::codec::config()).expect("encodes"),
            bytes
        );
        let back = OrderIndex::from_bytes(&bytes).expect("loads");
        back.assert_consistent();
        assert_eq!(back.to_bytes(), bytes);
    }

    #[test]
    fn indexed_order_stays_small() {
        let size = std::mem::size_of::<IndexedOrder>();
        assert!(size <= 272, "{size}");
        let entry = std::mem::size_of::<Option<Entry>>();
        assert!(entry <= 296, "{entry}");
    }
}

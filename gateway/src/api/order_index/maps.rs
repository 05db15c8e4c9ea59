//! The order index's two lookups, both to slot numbers of its [`super::Slots`]:
//!
//! * [`ById`]: order id -> slot. Order ids are the matcher's own rising sequence, so a big
//!   index keeps slot numbers in pages of [`PAGE`] consecutive ids (1 KB each), found by page
//!   number in a small map that stays in cache: the recent orders' numbers sit together in a
//!   few pages instead of all over a big hash table. A page goes when its last order goes, so
//!   memory follows the live orders (at worst a page per order), never the span of ids. A
//!   handful of orders (a fresh account mirror of the user-data router) is a short inline
//!   list instead.
//! * [`ByClient`]: client key -> slot, a linear-probing table of 8-byte buckets (the slot and
//!   32 bits of the key's hash) that compares keys through the slots, so that a bucket is
//!   not a copy of the ~48-byte key. The key is the client's choice, so its hash is seeded
//!   per process (foldhash); the stored hash lets the table grow without reading any slot.
//!   A handful of keys is a short inline list instead.
//!
//! Both are checked against a plain map by the property tests below.

use matcher::{AccountId, ClientOrderId, OrderId, SymbolId};
use std::hash::BuildHasher;

/// A slot number of [`super::Slots`]. Slots never hands out `u32::MAX`.
pub(super) type Slot = u32;

/// An order's client key: the (account, symbol) it belongs to and its client order id.
pub(super) type ClientKey = (AccountId, SymbolId, ClientOrderId);

/// Order ids per page of [`ById`] (a page is 1 KB).
const PAGE_BITS: u32 = 8;
const PAGE: usize = 1 << PAGE_BITS;

/// Entries a [`ById`] keeps in a list before it switches to pages.
const FEW: usize = 8;

/// Keys a [`ByClient`] keeps in a list before it makes a table.
const FEW_KEYS: usize = 4;

/// Up to `N` values kept inline: a small index (an account mirror with an order or two)
/// allocates nothing for its maps.
#[derive(Clone, Copy, Debug)]
pub(super) struct Few<T, const N: usize> {
    items: [T; N],
    len: usize,
}

impl<T: Copy + Default, const N: usize> Default for Few<T, N> {
    fn default() -> Self {
        Few {
            items: [T::default(); N],
            len: 0,
        }
    }
}

impl<T: Copy + Default, const N: usize> Few<T, N> {
    fn as_slice(&self) -> &[T] {
        self.items.get(..self.len).unwrap_or_default()
    }

    fn as_mut_slice(&mut self) -> &mut [T] {
        self.items.get_mut(..self.len).unwrap_or_default()
    }

    fn len(&self) -> usize {
        self.len
    }

    /// Appends `value`; false (and nothing changes) when full.
    fn push(&mut self, value: T) -> bool {
        let Some(place) = self.items.get_mut(self.len) else {
            return false;
        };
        *place = value;
        self.len += 1;
        true
    }

    /// Removes the value at `at`, moving the last one there.
    fn swap_remove(&mut self, at: usize) -> Option<T> {
        let last = *self.as_slice().last()?;
        let removed = std::mem::replace(self.as_mut_slice().get_mut(at)?, last);
        self.len -= 1;
        Some(removed)
    }

    /// Empties the list, returning what it held.
    fn take(&mut self) -> Few<T, N> {
        std::mem::take(self)
    }
}

/// Order id -> slot. See the module docs.
#[derive(Clone, Debug)]
pub(super) enum ById {
    /// At most [`FEW`] orders, unordered.
    Few(Few<(OrderId, Slot), FEW>),
    Paged(Pages),
}

#[derive(Clone, Debug, Default)]
pub(super) struct Pages {
    /// Pages by page number (`id >> PAGE_BITS`); none is empty. The order ids are the
    /// matcher's own, so the fast unseeded hash is safe here.
    pages: rustc_hash::FxHashMap<u64, Page>,
    /// Orders held.
    len: usize,
}

#[derive(Clone, Debug)]
struct Page {
    /// Slot + 1 of each id of the page, 0 for none.
    slots: Box<[u32]>,
    /// Non-zero entries of `slots`.
    live: u32,
}

impl Page {
    fn new() -> Page {
        Page {
            // Zeroed memory: calloc, no initialising pass.
            slots: vec![0u32; PAGE].into_boxed_slice(),
            live: 0,
        }
    }
}

fn split(id: OrderId) -> (u64, usize) {
    (id.0 >> PAGE_BITS, (id.0 as usize) & (PAGE - 1))
}

impl Default for ById {
    fn default() -> Self {
        ById::Few(Few::default())
    }
}

impl ById {
    /// An empty map that expects many orders (pages from the start).
    pub(super) fn paged() -> Self {
        ById::Paged(Pages::default())
    }

    pub(super) fn len(&self) -> usize {
        match self {
            ById::Few(few) => few.len(),
            ById::Paged(p) => p.len,
        }
    }

    pub(super) fn get(&self, id: OrderId) -> Option<Slot> {
        match self {
            ById::Few(few) => few
                .as_slice()
                .iter()
                .find(|(i, _)| *i == id)
                .map(|(_, s)| *s),
            ById::Paged(p) => {
                let (page, at) = split(id);
                let stored = *p.pages.get(&page)?.slots.get(at)?;
                stored.checked_sub(1)
            }
        }
    }

    pub(super) fn contains(&self, id: OrderId) -> bool {
        self.get(id).is_some()
    }

    /// Maps `id` to `slot`, returning the slot it had.
    pub(super) fn insert(&mut self, id: OrderId, slot: Slot) -> Option<Slot> {
        if let ById::Few(few) = self {
            if let Some(e) = few.as_mut_slice().iter_mut().find(|(i, _)| *i == id) {
                return Some(std::mem::replace(&mut e.1, slot));
            }
            if few.push((id, slot)) {
                return None;
            }
            let mut pages = Pages::default();
            for (i, s) in few.take().as_slice() {
                pages.insert(*i, *s);
            }
            *self = ById::Paged(pages);
        }
        match self {
            ById::Paged(p) => p.insert(id, slot),
            // Turned into pages above.
            ById::Few(_) => None,
        }
    }

    /// Unmaps `id`, returning its slot.
    pub(super) fn remove(&mut self, id: OrderId) -> Option<Slot> {
        match self {
            ById::Few(few) => {
                let at = few.as_slice().iter().position(|(i, _)| *i == id)?;
                Some(few.swap_remove(at)?.1)
            }
            ById::Paged(p) => {
                let (number, at) = split(id);
                let page = p.pages.get_mut(&number)?;
                let stored = std::mem::take(page.slots.get_mut(at)?);
                let slot = stored.checked_sub(1)?;
                page.live -= 1;
                p.len -= 1;
                if page.live == 0 {
                    p.pages.remove(&number);
                }
                Some(slot)
            }
        }
    }

    /// Every (id, slot), in no particular order.
    pub(super) fn iter(&self) -> Box<dyn Iterator<Item = (OrderId, Slot)> + '_> {
        match self {
            ById::Few(few) => Box::new(few.as_slice().iter().copied()),
            ById::Paged(p) => Box::new(p.pages.iter().flat_map(|(number, page)| {
                page.slots
                    .iter()
                    .enumerate()
                    .filter_map(move |(at, stored)| {
                        let slot = stored.checked_sub(1)?;
                        Some((OrderId((number << PAGE_BITS) | at as u64), slot))
                    })
            })),
        }
    }

    /// Panics unless the counts agree with the entries, no page is empty, no id is listed
    /// twice and a short list is short.
    pub(super) fn assert_consistent(&self) {
        match self {
            ById::Few(few) => {
                assert!(few.len() <= FEW, "a list of {} ids", few.len());
                let ids: std::collections::HashSet<OrderId> =
                    few.as_slice().iter().map(|e| e.0).collect();
                assert_eq!(ids.len(), few.len(), "an id listed twice");
            }
            ById::Paged(p) => {
                let mut total = 0;
                for (number, page) in &p.pages {
                    assert_eq!(page.slots.len(), PAGE, "page {number} size");
                    let live = page.slots.iter().filter(|s| **s != 0).count();
                    assert_eq!(live, page.live as usize, "live ids of page {number}");
                    assert!(live > 0, "page {number} kept empty");
                    total += live;
                }
                assert_eq!(total, p.len, "ids vs count");
            }
        }
    }
}

impl Pages {
    fn insert(&mut self, id: OrderId, slot: Slot) -> Option<Slot> {
        let (number, at) = split(id);
        let page = self.pages.entry(number).or_insert_with(Page::new);
        // `at` < PAGE = the page's length.
        let e = page.slots.get_mut(at)?;
        // Slots never hands out u32::MAX, so slot + 1 does not wrap.
        let old = std::mem::replace(e, slot.wrapping_add(1)).checked_sub(1);
        if old.is_none() {
            page.live += 1;
            self.len += 1;
        }
        old
    }
}

/// Client key -> slot. See the module docs. Every method that compares keys is handed
/// `key_of`, the current client key of the order in a slot.
///
/// Open addressing with linear probing over 8-byte buckets, `(slot + 1) << 32 | hash` (0:
/// empty), at most 3/4 full; a removal shifts the buckets after it back (no tombstones, so
/// probe runs stay short however many keys come and go, and nothing is ever cleaned up in
/// one go). A lookup reads one cache line of buckets, usually, and the slot it finds. Up to
/// [`FEW_KEYS`] keys are a list until the table is made.
#[derive(Clone, Debug, Default)]
pub(super) struct ByClient {
    /// A power of two long, or empty (then the keys are in `few`).
    buckets: Box<[u64]>,
    /// The buckets while there is no table.
    few: Few<u64, FEW_KEYS>,
    len: usize,
    hasher: foldhash::fast::RandomState,
}

fn bucket(slot: Slot, hash: u32) -> u64 {
    // Slots never hands out u32::MAX, so slot + 1 does not wrap.
    (u64::from(slot.wrapping_add(1)) << 32) | u64::from(hash)
}

/// The slot in a full bucket.
fn slot_of(bucket: u64) -> Slot {
    ((bucket >> 32) as u32).wrapping_sub(1)
}

fn hash_of(bucket: u64) -> u32 {
    bucket as u32
}

/// Buckets for `capacity` keys at most 3/4 full (at least 8: one cache line).
fn buckets_for(capacity: usize) -> usize {
    capacity
        .saturating_add(capacity / 3)
        .saturating_add(1)
        .max(8)
        .checked_next_power_of_two()
        .unwrap_or(1 << (usize::BITS - 1))
}

impl ByClient {
    /// Room for `capacity` keys before the table grows. The buckets are zeroed memory, so
    /// the room costs pages only as it is used.
    pub(super) fn with_capacity(capacity: usize) -> Self {
        ByClient {
            buckets: vec![0u64; buckets_for(capacity)].into_boxed_slice(),
            few: Few::default(),
            len: 0,
            hasher: Default::default(),
        }
    }

    fn hash(&self, key: &ClientKey) -> u32 {
        let h = self.hasher.hash_one(key);
        (h ^ (h >> 32)) as u32
    }

    fn mask(&self) -> usize {
        self.buckets.len().wrapping_sub(1)
    }

    fn home(&self, hash: u32) -> usize {
        hash as usize & self.mask()
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The place in `few` of `key`'s bucket (no table yet).
    fn find_few(
        &self,
        key: &ClientKey,
        hash: u32,
        key_of: impl Fn(Slot) -> Option<ClientKey>,
    ) -> Option<usize> {
        self.few
            .as_slice()
            .iter()
            .position(|b| hash_of(*b) == hash && key_of(slot_of(*b)).as_ref() == Some(key))
    }

    /// The bucket index holding `key`, if any.
    fn find(
        &self,
        key: &ClientKey,
        hash: u32,
        key_of: impl Fn(Slot) -> Option<ClientKey>,
    ) -> Option<usize> {
        let mask = self.mask();
        let mut i = self.home(hash);
        // At most 3/4 full, so an empty bucket ends every probe run.
        loop {
            let b = *self.buckets.get(i)?;
            if b == 0 {
                return None;
            }
            if hash_of(b) == hash && key_of(slot_of(b)).as_ref() == Some(key) {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    /// The slot `key` maps to.
    pub(super) fn get(
        &self,
        key: &ClientKey,
        key_of: impl Fn(Slot) -> Option<ClientKey>,
    ) -> Option<Slot> {
        let hash = self.hash(key);
        if self.buckets.is_empty() {
            let i = self.find_few(key, hash, key_of)?;
            return self.few.as_slice().get(i).map(|b| slot_of(*b));
        }
        let i = self.find(key, hash, key_of)?;
        self.buckets.get(i).map(|b| slot_of(*b))
    }

    /// Maps `key` (the current key of the order in `slot`) to `slot`, returning the slot
    /// that had it, if another.
    pub(super) fn claim(
        &mut self,
        key: &ClientKey,
        slot: Slot,
        key_of: impl Fn(Slot) -> Option<ClientKey>,
    ) -> Option<Slot> {
        let hash = self.hash(key);
        if self.buckets.is_empty() {
            if let Some(i) = self.find_few(key, hash, &key_of) {
                let b = self.few.as_mut_slice().get_mut(i)?;
                let previous = slot_of(*b);
                *b = bucket(slot, hash);
                return (previous != slot).then_some(previous);
            }
            if self.few.push(bucket(slot, hash)) {
                self.len += 1;
                return None;
            }
        }
        if let Some(i) = self.find(key, hash, key_of) {
            let b = self.buckets.get_mut(i)?;
            let previous = slot_of(*b);
            *b = bucket(slot, hash);
            return (previous != slot).then_some(previous);
        }
        if (self.len + 1).saturating_mul(4) > self.buckets.len().saturating_mul(3) {
            self.grow();
        }
        self.place(bucket(slot, hash));
        self.len += 1;
        None
    }

    /// Puts a bucket of a key not in the table in the first empty bucket of its run.
    fn place(&mut self, new: u64) {
        let mask = self.mask();
        let mut i = self.home(hash_of(new));
        while let Some(b) = self.buckets.get_mut(i) {
            if *b == 0 {
                *b = new;
                return;
            }
            i = (i + 1) & mask;
        }
    }

    /// Doubles the buckets (or makes the table from the list), placing each key again by
    /// its stored hash (no slot is read).
    fn grow(&mut self) {
        let size = buckets_for(self.len.saturating_add(1).saturating_mul(2));
        let old = std::mem::replace(&mut self.buckets, vec![0u64; size].into_boxed_slice());
        for b in old.iter().copied().filter(|b| *b != 0) {
            self.place(b);
        }
        for b in self.few.take().as_slice() {
            self.place(*b);
        }
    }

    /// Unmaps `key` if it maps to `slot` (no key is compared: `key` only finds the bucket).
    pub(super) fn remove(&mut self, key: &ClientKey, slot: Slot) -> bool {
        let hash = self.hash(key);
        let wanted = bucket(slot, hash);
        if self.buckets.is_empty() {
            let Some(at) = self.few.as_slice().iter().position(|b| *b == wanted) else {
                return false;
            };
            self.few.swap_remove(at);
            self.len -= 1;
            return true;
        }
        let mask = self.mask();
        let mut i = self.home(hash);
        loop {
            match self.buckets.get(i) {
                Some(&b) if b == wanted => break,
                Some(&b) if b != 0 => i = (i + 1) & mask,
                _ => return false,
            }
        }
        // Shift back each later bucket of the run that may sit at the hole (its home is not
        // between the hole and it), so no run has a gap.
        let mut hole = i;
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let b = match self.buckets.get(j) {
                Some(&b) if b != 0 => b,
                _ => break,
            };
            let home = self.home(hash_of(b));
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
                if let Some(h) = self.buckets.get_mut(hole) {
                    *h = b;
                }
                hole = j;
            }
        }
        if let Some(h) = self.buckets.get_mut(hole) {
            *h = 0;
        }
        self.len -= 1;
        true
    }

    /// The slots mapped to, in no particular order.
    pub(super) fn slots(&self) -> impl Iterator<Item = Slot> + '_ {
        self.few
            .as_slice()
            .iter()
            .copied()
            .chain(self.full_buckets().map(|(_, b)| b))
            .map(slot_of)
    }

    /// The table's full buckets and where they are, skipping empty stretches a block at a
    /// time (a table sized for a big bound is mostly empty; this is for the checks).
    fn full_buckets(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        const BLOCK: usize = 64;
        self.buckets
            .chunks(BLOCK)
            .enumerate()
            .filter(|(_, block)| *block != [0u64; BLOCK].as_slice())
            .flat_map(|(n, block)| {
                block
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| **b != 0)
                    .map(move |(i, b)| (n * BLOCK + i, *b))
            })
    }

    /// Panics unless the count is right, the table is at most 3/4 full, every bucket's stored
    /// hash is its key's, every bucket sits in the probe run from its home (no empty bucket
    /// between), no two buckets hold the same key or slot, and every key finds its own
    /// bucket.
    pub(super) fn assert_consistent(&self, key_of: impl Fn(Slot) -> Option<ClientKey>) {
        let full = self.full_buckets().count();
        assert!(
            self.few.len() == 0 || self.buckets.is_empty(),
            "a list beside a table"
        );
        assert_eq!(full + self.few.len(), self.len, "keys vs count");
        assert!(
            self.buckets.is_empty() || self.buckets.len().is_power_of_two(),
            "table of {} buckets",
            self.buckets.len()
        );
        assert!(full * 4 <= self.buckets.len() * 3, "table over 3/4 full");
        let mask = self.mask();
        let mut keys = std::collections::HashSet::new();
        let mut slots = std::collections::HashSet::new();
        for (i, b) in self.full_buckets() {
            let slot = slot_of(b);
            assert_ne!(slot, Slot::MAX, "bucket {i} names slot u32::MAX");
            let key = key_of(slot).expect("a client key maps to an empty slot");
            assert_eq!(hash_of(b), self.hash(&key), "stored hash of slot {slot}");
            let mut k = self.home(hash_of(b));
            while k != i {
                assert_ne!(self.buckets[k], 0, "gap before bucket {i}");
                k = (k + 1) & mask;
            }
            assert!(keys.insert(key), "a client key mapped twice");
            assert!(slots.insert(slot), "slot {slot} mapped twice");
            assert_eq!(self.get(&key, &key_of), Some(slot), "lookup of slot {slot}");
        }
        for &b in self.few.as_slice() {
            let slot = slot_of(b);
            assert!(b != 0 && slot != Slot::MAX, "listed bucket {b:#x}");
            let key = key_of(slot).expect("a client key maps to an empty slot");
            assert_eq!(hash_of(b), self.hash(&key), "stored hash of slot {slot}");
            assert!(keys.insert(key), "a client key mapped twice");
            assert!(slots.insert(slot), "slot {slot} mapped twice");
            assert_eq!(self.get(&key, &key_of), Some(slot), "lookup of slot {slot}");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, HashMap};

    #[derive(Clone, Debug)]
    enum IdOp {
        Insert(u64, Slot),
        Remove(u64),
    }

    /// Ids clustered the way the matcher's are (a rising run) with some far away.
    fn id() -> impl Strategy<Value = u64> {
        prop_oneof![
            4 => 0u64..2000,
            1 => any::<u64>(),
            1 => (0u64..4).prop_map(|k| u64::MAX - k),
        ]
    }

    fn id_op() -> impl Strategy<Value = IdOp> {
        prop_oneof![
            3 => (id(), 0u32..u32::MAX).prop_map(|(i, s)| IdOp::Insert(i, s)),
            2 => id().prop_map(IdOp::Remove),
        ]
    }

    #[derive(Clone, Debug)]
    enum KeyOp {
        /// Put an order with this key (account, client id) in a new slot and claim it.
        Add(u8, u8),
        /// Give the order in the n-th live slot a new key and claim it (an amendment).
        Rekey(usize, u8, u8),
        /// Empty the n-th live slot, unmapping its key if it owns it.
        Drop(usize),
    }

    fn key_op() -> impl Strategy<Value = KeyOp> {
        prop_oneof![
            3 => (0u8..3, client()).prop_map(|(a, c)| KeyOp::Add(a, c)),
            1 => (any::<usize>(), 0u8..3, client()).prop_map(|(n, a, c)| KeyOp::Rekey(n, a, c)),
            2 => any::<usize>().prop_map(KeyOp::Drop),
        ]
    }

    /// Client ids: a few (many reuses) or many (a table that grows, with long probe runs).
    fn client() -> impl Strategy<Value = u8> {
        prop_oneof![0u8..6, 0u8..CLIENTS]
    }

    const CLIENTS: u8 = 60;

    fn key(account: u8, client: u8) -> ClientKey {
        (
            AccountId(u64::from(account)),
            SymbolId(1),
            ClientOrderId::new(&format!("c{client}")).unwrap(),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// `ById`, short list or pages, answers as a map does after every step.
        #[test]
        fn by_id_is_a_map(ops in proptest::collection::vec(id_op(), 0..200), paged: bool) {
            let mut map = if paged { ById::paged() } else { ById::default() };
            let mut model = BTreeMap::new();
            for op in ops {
                match op {
                    IdOp::Insert(i, s) => {
                        prop_assert_eq!(map.insert(OrderId(i), s), model.insert(i, s));
                    }
                    IdOp::Remove(i) => {
                        prop_assert_eq!(map.remove(OrderId(i)), model.remove(&i));
                    }
                }
                map.assert_consistent();
                prop_assert_eq!(map.len(), model.len());
                for (&i, &s) in &model {
                    prop_assert_eq!(map.get(OrderId(i)), Some(s));
                }
                let mut listed: Vec<_> = map.iter().map(|(i, s)| (i.0, s)).collect();
                listed.sort_unstable();
                let expected: Vec<_> = model.iter().map(|(i, s)| (*i, *s)).collect();
                prop_assert_eq!(listed, expected);
                for i in [0, 1, 255, 256, 257, 1999, u64::MAX] {
                    prop_assert_eq!(map.get(OrderId(i)), model.get(&i).copied());
                }
            }
            // Everything removed: no page is left behind.
            let ids: Vec<u64> = model.keys().copied().collect();
            for i in ids {
                prop_assert_eq!(map.remove(OrderId(i)), model.remove(&i));
            }
            map.assert_consistent();
            if let ById::Paged(p) = &map {
                prop_assert!(p.pages.is_empty());
            }
        }

        /// `ByClient` keeps, for each key, the slot that claimed it last (while that slot
        /// still holds the key), like a map from key to slot.
        #[test]
        fn by_client_is_a_map(ops in proptest::collection::vec(key_op(), 0..300)) {
            // slots[s] = the key of the order in slot s (None: empty slot).
            let mut slots: Vec<Option<ClientKey>> = Vec::new();
            let mut map = ByClient::default();
            let mut model: HashMap<ClientKey, Slot> = HashMap::new();
            for op in ops {
                let live: Vec<Slot> = (0..slots.len() as u32)
                    .filter(|s| slots[*s as usize].is_some())
                    .collect();
                match op {
                    KeyOp::Add(a, c) => {
                        let k = key(a, c);
                        let s = slots.len() as u32;
                        slots.push(Some(k));
                        let key_of = |s: Slot| slots.get(s as usize).copied().flatten();
                        let previous = map.claim(&k, s, key_of);
                        prop_assert_eq!(previous, model.insert(k, s));
                    }
                    KeyOp::Rekey(n, a, c) if !live.is_empty() => {
                        let s = live[n % live.len()];
                        let old = slots[s as usize].unwrap();
                        let k = key(a, c);
                        if model.get(&old) == Some(&s) {
                            prop_assert!(map.remove(&old, s));
                            model.remove(&old);
                        } else {
                            prop_assert!(!map.remove(&old, s));
                        }
                        slots[s as usize] = Some(k);
                        let key_of = |s: Slot| slots.get(s as usize).copied().flatten();
                        let previous = map.claim(&k, s, key_of);
                        let expected = model.insert(k, s).filter(|p| *p != s);
                        prop_assert_eq!(previous, expected);
                    }
                    KeyOp::Drop(n) if !live.is_empty() => {
                        let s = live[n % live.len()];
                        let old = slots[s as usize].take().unwrap();
                        let owned = model.get(&old) == Some(&s);
                        prop_assert_eq!(map.remove(&old, s), owned);
                        if owned {
                            model.remove(&old);
                        }
                    }
                    _ => {}
                }
                let key_of = |s: Slot| slots.get(s as usize).copied().flatten();
                map.assert_consistent(key_of);
                prop_assert_eq!(map.len(), model.len());
                for a in 0..3 {
                    for c in 0..CLIENTS {
                        let k = key(a, c);
                        prop_assert_eq!(map.get(&k, key_of), model.get(&k).copied());
                    }
                }
            }
        }
    }

    /// A table that grows (rehashes) keeps every key and reads only its stored hashes: the
    /// slots are read to compare keys alone (on a 32-bit hash match, which distinct keys
    /// rarely give).
    #[test]
    fn by_client_grows_without_reading_slots() {
        let mut map = ByClient::default();
        let keys: Vec<ClientKey> = (0..5000u64)
            .map(|i| {
                (
                    AccountId(i % 7),
                    SymbolId(1),
                    ClientOrderId::new(&format!("x{i}")).unwrap(),
                )
            })
            .collect();
        let reads = std::cell::Cell::new(0);
        let key_of = |s: Slot| {
            reads.set(reads.get() + 1);
            keys.get(s as usize).copied()
        };
        for (s, k) in keys.iter().enumerate() {
            assert_eq!(map.claim(k, s as u32, key_of), None);
        }
        assert!(reads.get() < 50, "{} slot reads", reads.get());
        map.assert_consistent(key_of);
        assert_eq!(map.len(), keys.len());
    }
}

//! Snapshot, restore and state hash.
//!
//! A [`Snapshot`] is the canonical, layout-independent form of the whole engine state: every
//! collection is ordered (assets and symbols by id, each book side in priority order, balances
//! by (account, asset) with all-zero balances omitted, transaction ids sorted). Two engines in
//! the same logical state produce byte-identical snapshots whatever their history or book
//! implementation, so [`Engine::state_hash`] (SHA-256 of the encoded snapshot) identifies the
//! state.

use crate::book::Book;
use crate::codec::{self, CodecError};
use crate::command::Side;
use crate::config::{quote_per_tick_lot, AssetConfig, SymbolConfig, SymbolStatus};
use crate::engine::state::State;
use crate::engine::{Balance, Engine, InvariantViolation, RestingOrder, Supply};
use crate::ids::{AccountId, AssetId, TxId};
use bincode::{Decode, Encode};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// One asset and its supply counters.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct AssetSnapshot {
    /// Configuration.
    pub config: AssetConfig,
    /// Deposited / withdrawn totals.
    pub supply: Supply,
}

/// One symbol and its book.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SymbolSnapshot {
    /// Configuration.
    pub config: SymbolConfig,
    /// Status.
    pub status: SymbolStatus,
    /// Bids in priority order.
    pub bids: Vec<RestingOrder>,
    /// Asks in priority order.
    pub asks: Vec<RestingOrder>,
}

/// One non-zero balance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct BalanceSnapshot {
    /// Account.
    pub account: AccountId,
    /// Asset.
    pub asset: AssetId,
    /// Balance.
    pub balance: Balance,
}

/// The whole engine state in canonical form.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Snapshot {
    /// Fee account.
    pub fee_account: AccountId,
    /// Open-order cap per account.
    pub max_open_orders_per_account: u32,
    /// Next order id to assign.
    pub next_order_id: u64,
    /// Next trade id to assign.
    pub next_trade_id: u64,
    /// Last event sequence emitted.
    pub last_event_seq: u64,
    /// Last command sequence applied.
    pub last_cmd_seq: u64,
    /// Assets by id.
    pub assets: Vec<AssetSnapshot>,
    /// Symbols by id.
    pub symbols: Vec<SymbolSnapshot>,
    /// Non-zero balances by (account, asset).
    pub balances: Vec<BalanceSnapshot>,
    /// Deposit transaction ids seen, sorted.
    pub deposit_tx_ids: Vec<TxId>,
    /// Withdrawal transaction ids seen, sorted.
    pub withdrawal_tx_ids: Vec<TxId>,
}

/// Why a snapshot cannot be restored.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// A symbol's configuration is invalid.
    #[error("symbol {0}: invalid configuration")]
    InvalidSymbol(u32),
    /// An order is listed twice or on the wrong side/symbol.
    #[error("order {0} is inconsistent")]
    InvalidOrder(u64),
    /// The restored state breaks an invariant.
    #[error("invariant: {0}")]
    Invariant(#[from] InvariantViolation),
    /// The bytes do not decode.
    #[error(transparent)]
    Codec(#[from] CodecError),
}

fn side_orders<B: Book>(engine: &Engine<B>, book: &B, side: Side) -> Vec<RestingOrder> {
    let mut v = Vec::new();
    book.walk(side, &mut |e| {
        if let Some(o) = engine.order(e.order_id) {
            v.push(*o);
        }
        true
    });
    v
}

impl<B: Book> Engine<B> {
    /// The canonical snapshot of the current state.
    pub fn snapshot(&self) -> Snapshot {
        let assets = self
            .assets
            .values()
            .map(|c| AssetSnapshot {
                config: c.clone(),
                supply: self.supply(c.id),
            })
            .collect();
        let symbols = self
            .markets
            .values()
            .map(|m| SymbolSnapshot {
                config: m.config.clone(),
                status: m.status,
                bids: side_orders(self, &m.book, Side::Buy),
                asks: side_orders(self, &m.book, Side::Sell),
            })
            .collect();
        let mut balances: Vec<BalanceSnapshot> = self
            .st
            .balance_entries()
            .filter(|(_, _, b)| *b != Balance::default())
            .map(|(account, asset, balance)| BalanceSnapshot {
                account,
                asset,
                balance,
            })
            .collect();
        balances.sort_unstable_by_key(|b| (b.account, b.asset));
        Snapshot {
            fee_account: self.st.fee_account,
            max_open_orders_per_account: self.st.max_open_orders,
            next_order_id: self.st.next_order_id,
            next_trade_id: self.st.next_trade_id,
            last_event_seq: self.st.last_event_seq,
            last_cmd_seq: self.st.last_cmd_seq,
            assets,
            symbols,
            balances,
            deposit_tx_ids: self.st.deposit_ids.iter().copied().collect(),
            withdrawal_tx_ids: self.st.withdrawal_ids.iter().copied().collect(),
        }
    }

    /// Rebuilds an engine from a snapshot and checks every invariant.
    pub fn restore(snapshot: &Snapshot) -> Result<Self, RestoreError> {
        let mut st = State {
            fee_account: snapshot.fee_account,
            max_open_orders: snapshot.max_open_orders_per_account,
            next_order_id: snapshot.next_order_id,
            next_trade_id: snapshot.next_trade_id,
            last_event_seq: snapshot.last_event_seq,
            last_cmd_seq: snapshot.last_cmd_seq,
            ..State::default()
        };
        let mut assets = BTreeMap::new();
        for a in &snapshot.assets {
            assets.insert(a.config.id, a.config.clone());
            if a.supply != Supply::default() {
                st.supply.insert(a.config.id, a.supply);
            }
        }
        for b in &snapshot.balances {
            let acct = st.account_slot_or_insert(b.account);
            let asset = st.asset_slot_or_insert(b.asset);
            *st.balance_slot(acct, asset) = b.balance;
        }
        let mut markets = BTreeMap::new();
        for s in &snapshot.symbols {
            let c = &s.config;
            let base = assets
                .get(&c.base)
                .ok_or(RestoreError::InvalidSymbol(c.id.0))?;
            let unit = quote_per_tick_lot(c.tick_size, c.lot_size, base.scale)
                .map_err(|_| RestoreError::InvalidSymbol(c.id.0))?;
            let mut book = B::default();
            for (side, orders) in [(Side::Buy, &s.bids), (Side::Sell, &s.asks)] {
                for o in orders {
                    if o.side != side
                        || o.symbol != c.id
                        || o.remaining_qty == 0
                        || st.orders.contains_key(&o.order_id)
                    {
                        return Err(RestoreError::InvalidOrder(o.order_id.0));
                    }
                    let tag = st.orders.next_slot();
                    let (h, _) =
                        book.insert(side, o.price, o.order_id, o.account, o.remaining_qty, tag);
                    let acct = st.account_slot_or_insert(o.account);
                    let slot = st.open_order(*o, h, acct);
                    debug_assert_eq!(slot, tag, "order slot prediction");
                }
            }
            markets.insert(
                c.id,
                crate::engine::Market {
                    config: c.clone(),
                    status: s.status,
                    unit,
                    base_slot: st.asset_slot_or_insert(c.base),
                    quote_slot: st.asset_slot_or_insert(c.quote),
                    book,
                },
            );
        }
        st.deposit_ids = snapshot.deposit_tx_ids.iter().copied().collect();
        st.withdrawal_ids = snapshot.withdrawal_tx_ids.iter().copied().collect();
        let engine = Engine {
            assets,
            markets,
            st,
        };
        engine.check_invariants()?;
        Ok(engine)
    }

    /// Restores from the versioned encoding produced by [`codec::encode_snapshot`].
    pub fn restore_from_bytes(bytes: &[u8]) -> Result<Self, RestoreError> {
        let snapshot = codec::decode_snapshot(bytes)?;
        Self::restore(&snapshot)
    }

    /// SHA-256 of the canonical snapshot encoding.
    pub fn state_hash(&self) -> [u8; 32] {
        let mut buf = Vec::new();
        // Encoding into a Vec cannot fail (no size limit applies to encoding).
        if codec::encode_snapshot(&self.snapshot(), &mut buf).is_err() {
            debug_assert!(false, "snapshot encoding failed");
        }
        Sha256::digest(&buf).into()
    }
}

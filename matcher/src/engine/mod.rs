//! The exchange state machine.
//!
//! [`Engine::apply`] consumes one [`SequencedCommand`] and appends its events to a
//! caller-owned `Vec`. It never panics on command content: every invalid request becomes a
//! rejection event and leaves the state unchanged.

mod admin;
mod cancel;
mod invariants;
mod matching;
mod place;
pub(crate) mod state;

pub use invariants::InvariantViolation;
pub use state::{Balance, RestingKind, RestingOrder, Supply};

use crate::book::{Book, FastBook};
use crate::command::{Command, SequencedCommand, Side};
use crate::config::{AssetConfig, SymbolConfig, SymbolStatus};
use crate::event::{Event, EventKind, RejectReason, RequestKind};
use crate::ids::{AccountId, AssetId, ClientOrderId, OrderId, SymbolId};
use state::State;
use std::collections::BTreeMap;

/// Stable sort by key: insertion sort for the usual tiny per-command lists (where it beats
/// the general-purpose sort), the standard stable sort beyond 16 entries.
fn insertion_sort_by_key<T: Copy, K: Ord>(v: &mut [T], key: impl Fn(&T) -> K) {
    if v.len() > 16 {
        v.sort_by_key(key);
        return;
    }
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && key(&v[j - 1]) > key(&v[j]) {
            v.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// Default cap on open orders per account (Binance's `MAX_NUM_ORDERS` default is 200).
pub const DEFAULT_MAX_OPEN_ORDERS: u32 = 200;

/// Genesis parameters of an engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// The account that receives fees (can be changed by `SetFeeAccount`).
    pub fee_account: AccountId,
    /// Open orders allowed per account; more are rejected with `TooManyOpenOrders`.
    pub max_open_orders_per_account: u32,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            fee_account: AccountId(0),
            max_open_orders_per_account: DEFAULT_MAX_OPEN_ORDERS,
        }
    }
}

/// One symbol: configuration, status, derived units and its book.
#[derive(Debug)]
pub(crate) struct Market<B> {
    pub(crate) config: SymbolConfig,
    pub(crate) status: SymbolStatus,
    /// Quote minimal units per (tick x lot).
    pub(crate) unit: u128,
    /// Dense slot of the base asset (see `State::asset_slot`).
    pub(crate) base_slot: u32,
    /// Dense slot of the quote asset.
    pub(crate) quote_slot: u32,
    pub(crate) book: B,
}

/// Read-only view of a symbol.
#[derive(Clone, Copy, Debug)]
pub struct SymbolView<'a> {
    /// Configuration.
    pub config: &'a SymbolConfig,
    /// Status.
    pub status: SymbolStatus,
    /// Quote minimal units per (tick x lot): `price * qty * quote_per_tick_lot` is a notional.
    pub quote_per_tick_lot: u128,
}

/// Top-of-book depth of a symbol: `(price ticks, total qty lots)` per level, best first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Depth {
    /// Bids, highest price first.
    pub bids: Vec<(u64, u64)>,
    /// Asks, lowest price first.
    pub asks: Vec<(u64, u64)>,
}

/// The matcher. `B` is the order book implementation ([`FastBook`] in production,
/// [`crate::book::NaiveBook`] as the test reference).
#[derive(Debug)]
pub struct Engine<B: Book = FastBook> {
    pub(crate) assets: BTreeMap<AssetId, AssetConfig>,
    pub(crate) markets: BTreeMap<SymbolId, Market<B>>,
    pub(crate) st: State,
}

impl<B: Book> Engine<B> {
    /// An empty engine (genesis).
    pub fn new(config: EngineConfig) -> Self {
        let st = State {
            fee_account: config.fee_account,
            max_open_orders: config.max_open_orders_per_account,
            next_order_id: 1,
            next_trade_id: 1,
            ..State::default()
        };
        Self {
            assets: BTreeMap::new(),
            markets: BTreeMap::new(),
            st,
        }
    }

    /// Open orders allowed per account (the genesis parameter).
    pub fn max_open_orders_per_account(&self) -> u32 {
        self.st.max_open_orders
    }

    /// Applies one command, appending its events to `out` (which is not cleared).
    ///
    /// `cmd.seq` must exceed the previous command's (journal sequences start at 1); a stale one
    /// is rejected with `StaleSequence` and changes nothing else.
    pub fn apply(&mut self, cmd: &SequencedCommand, out: &mut Vec<Event>) {
        self.st.cmd_seq = cmd.seq;
        self.st.ts_ms = cmd.ts_ms;
        self.st.touched_balances.clear();
        self.st.epoch += 1;
        self.st.touched_levels.clear();
        if cmd.seq <= self.st.last_cmd_seq {
            self.st.emit(
                out,
                EventKind::Rejected {
                    request: RequestKind::Any,
                    account: None,
                    symbol: None,
                    client_order_id: None,
                    reason: RejectReason::StaleSequence,
                },
            );
            return;
        }
        self.st.last_cmd_seq = cmd.seq;
        match &cmd.command {
            Command::UpsertAsset(c) => self.upsert_asset(c, out),
            Command::UpsertSymbol(c) => self.upsert_symbol(c, out),
            Command::HaltSymbol { symbol } => self.set_status(*symbol, SymbolStatus::Halted, out),
            Command::ResumeSymbol { symbol } => {
                self.set_status(*symbol, SymbolStatus::Trading, out)
            }
            Command::SetFeeAccount { account } => {
                self.st.set_fee_account(*account);
                self.st
                    .emit(out, EventKind::FeeAccountSet { account: *account });
            }
            Command::Deposit {
                account,
                asset,
                amount,
                tx_id,
            } => self.deposit(*account, *asset, *amount, *tx_id, out),
            Command::Withdraw {
                account,
                asset,
                amount,
                tx_id,
            } => self.withdraw(*account, *asset, *amount, *tx_id, out),
            Command::PlaceOrder(req) => {
                let _ = self.place_or_reject(req, out);
            }
            Command::Cancel {
                account,
                symbol,
                target,
            } => self.cancel(*account, *symbol, *target, out),
            Command::CancelAll { account, symbol } => self.cancel_all(*account, *symbol, out),
            Command::CancelReplace(req) => self.cancel_replace(req, out),
        }
        self.emit_touched(out);
    }

    /// Emits `BookLevel` and `Balance` events for everything this command touched.
    fn emit_touched(&mut self, out: &mut Vec<Event>) {
        let mut levels = std::mem::take(&mut self.st.touched_levels);
        // Stable sort by level: the last entry of each level holds its final total.
        insertion_sort_by_key(&mut levels, |l| (l.0, l.1, l.2));
        for (i, &(symbol, side, price, qty)) in levels.iter().enumerate() {
            let last_of_level = levels
                .get(i + 1)
                .is_none_or(|n| (n.0, n.1, n.2) != (symbol, side, price));
            if last_of_level {
                self.st.emit_with(out, || EventKind::BookLevel {
                    symbol,
                    side,
                    price,
                    qty,
                });
            }
        }
        levels.clear();
        self.st.touched_levels = levels;

        let mut balances = std::mem::take(&mut self.st.touched_balances);
        // One record per (account, asset); the values are read now, after all changes.
        insertion_sort_by_key(&mut balances, |b| (b.0, b.1));
        for &(account, asset, acct_slot, asset_slot) in &balances {
            let b = self.st.balance_at(acct_slot, asset_slot);
            self.st.emit_with(out, || EventKind::Balance {
                account,
                asset,
                available: b.available,
                frozen: b.frozen,
            });
        }
        balances.clear();
        self.st.touched_balances = balances;
    }

    // ----- Read API -----

    /// An open order by id.
    pub fn order(&self, order_id: OrderId) -> Option<&RestingOrder> {
        self.st.orders.get(&order_id).map(|o| &o.order)
    }

    /// An open order by (account, client order id).
    pub fn order_by_client_id(
        &self,
        account: AccountId,
        client_order_id: &ClientOrderId,
    ) -> Option<&RestingOrder> {
        self.st
            .client_id_owner(account, client_order_id)
            .and_then(|id| self.order(id))
    }

    /// An account's open orders (optionally on one symbol), by ascending order id.
    pub fn open_orders(&self, account: AccountId, symbol: Option<SymbolId>) -> Vec<&RestingOrder> {
        let Some(acc) = self.st.account(account) else {
            return Vec::new();
        };
        acc.open
            .iter()
            .filter_map(|(id, _)| self.order(*id))
            .filter(|o| symbol.is_none_or(|s| o.symbol == s))
            .collect()
    }

    /// An account's balance of one asset (zero if none).
    pub fn balance(&self, account: AccountId, asset: AssetId) -> Balance {
        self.st.balance(account, asset)
    }

    /// All balances of an account, by ascending asset id.
    pub fn balances(&self, account: AccountId) -> Vec<(AssetId, Balance)> {
        self.st.account(account).map_or_else(Vec::new, |a| {
            a.assets
                .iter()
                .map(|asset| (*asset, self.st.balance(account, *asset)))
                .collect()
        })
    }

    /// Top `levels` price levels of each side of a symbol.
    pub fn depth(&self, symbol: SymbolId, levels: usize) -> Option<Depth> {
        let m = self.markets.get(&symbol)?;
        let mut d = Depth::default();
        m.book.depth(Side::Buy, levels, &mut d.bids);
        m.book.depth(Side::Sell, levels, &mut d.asks);
        Some(d)
    }

    /// Best bid and best ask `(price, level qty)` of a symbol.
    #[allow(clippy::type_complexity)]
    pub fn best_bid_ask(
        &self,
        symbol: SymbolId,
    ) -> Option<(Option<(u64, u64)>, Option<(u64, u64)>)> {
        let m = self.markets.get(&symbol)?;
        let best = |side| {
            m.book
                .best(side)
                .map(|e| (e.price, m.book.level_qty(side, e.price)))
        };
        Some((best(Side::Buy), best(Side::Sell)))
    }

    /// A symbol's configuration and status.
    pub fn symbol(&self, symbol: SymbolId) -> Option<SymbolView<'_>> {
        self.markets.get(&symbol).map(|m| SymbolView {
            config: &m.config,
            status: m.status,
            quote_per_tick_lot: m.unit,
        })
    }

    /// All symbols, by ascending id.
    pub fn symbols(&self) -> impl Iterator<Item = SymbolView<'_>> {
        self.markets.values().map(|m| SymbolView {
            config: &m.config,
            status: m.status,
            quote_per_tick_lot: m.unit,
        })
    }

    /// A symbol by name.
    pub fn symbol_by_name(&self, name: &str) -> Option<SymbolView<'_>> {
        self.symbols().find(|s| s.config.name == name)
    }

    /// An asset's configuration.
    pub fn asset(&self, asset: AssetId) -> Option<&AssetConfig> {
        self.assets.get(&asset)
    }

    /// An asset by code.
    pub fn asset_by_code(&self, code: &str) -> Option<&AssetConfig> {
        self.assets.values().find(|a| a.code == code)
    }

    /// All assets, by ascending id.
    pub fn assets(&self) -> impl Iterator<Item = &AssetConfig> {
        self.assets.values()
    }

    /// Deposited and withdrawn totals of an asset.
    pub fn supply(&self, asset: AssetId) -> Supply {
        self.st.supply.get(&asset).copied().unwrap_or_default()
    }

    /// The fee account.
    pub fn fee_account(&self) -> AccountId {
        self.st.fee_account
    }

    /// Sequence of the last event emitted (0 before any).
    pub fn last_event_seq(&self) -> u64 {
        self.st.last_event_seq
    }

    /// Sequence of the last command applied (0 before any).
    pub fn last_cmd_seq(&self) -> u64 {
        self.st.last_cmd_seq
    }

    /// Number of open orders across all symbols.
    pub fn open_order_total(&self) -> usize {
        self.st.orders.len()
    }
}

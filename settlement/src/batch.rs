//! Turning events into rows: one [`Batch`] per transaction. Pure (no I/O), so it is tested
//! without a database.
//!
//! * trades: one row per `Trade` event;
//! * ledger: per trade a base transfer (seller -> buyer), a quote transfer (buyer -> seller)
//!   and one fee transfer per non-zero fee (payer -> fee account); per deposit and withdrawal
//!   a transfer from / to the outside world;
//! * orders: merged per order id within the batch (the last state wins), split into orders
//!   accepted in this batch (inserted) and earlier orders (updated);
//! * balances: the matcher's absolute values, the last per (account, asset) in the batch.

use crate::catalog::{Catalog, SymbolUnits};
use crate::SettleError;
use matcher::event::{CancelOutcome, NewOrderOutcome, OrderAccepted, OrderUpdate};
use matcher::{
    AccountId, AssetConfig, AssetId, Event, EventKind, OrderState, Side, SymbolConfig, Trade,
};
use std::collections::HashMap;

/// A trade and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TradeRow {
    /// The trade.
    pub trade: Trade,
    /// Its event.
    pub event_seq: u64,
    /// Its command.
    pub cmd_seq: u64,
    /// The command's time, ms.
    pub ts_ms: u64,
    /// `qty * lot_size`, base minimal units.
    pub base_qty: u128,
}

/// What a ledger transfer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// Base asset, seller to buyer.
    TradeBase,
    /// Quote asset (the notional), buyer to seller.
    TradeQuote,
    /// A trading fee, payer to the fee account.
    Fee,
    /// From the outside world to an account.
    Deposit,
    /// From an account to the outside world.
    Withdrawal,
}

impl EntryKind {
    /// The `ledger.kind` text.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::TradeBase => "TRADE_BASE",
            EntryKind::TradeQuote => "TRADE_QUOTE",
            EntryKind::Fee => "FEE",
            EntryKind::Deposit => "DEPOSIT",
            EntryKind::Withdrawal => "WITHDRAWAL",
        }
    }
}

/// One balanced ledger transfer: `amount` of `asset` leaves `debit` and reaches `credit`
/// (`None` is the outside world).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRow {
    /// The event.
    pub event_seq: u64,
    /// Position among the event's transfers, from 0.
    pub entry: i16,
    /// The command's time, ms.
    pub ts_ms: u64,
    /// Why.
    pub kind: EntryKind,
    /// Asset.
    pub asset: AssetId,
    /// Debited holder.
    pub debit: Option<AccountId>,
    /// Credited holder.
    pub credit: Option<AccountId>,
    /// Amount, minimal units (> 0).
    pub amount: u128,
    /// Trade id for trade and fee transfers.
    pub reference: Option<u64>,
    /// External transaction id of deposits and withdrawals.
    pub tx_id: Option<String>,
}

/// An order's static description (known from its acceptance).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderStatic {
    /// Acceptance payload.
    pub accepted: OrderAccepted,
    /// Time of acceptance, ms.
    pub created_ms: u64,
    /// Event of acceptance.
    pub created_seq: u64,
}

/// An order's state after the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRow {
    /// Order id.
    pub order_id: u64,
    /// Present when the order was accepted in this batch (the row is inserted), absent when it
    /// was accepted earlier (the row is updated).
    pub created: Option<OrderStatic>,
    /// Current client order id (amendments change it), if an event of the batch named it.
    pub client_order_id: Option<String>,
    /// State after the batch.
    pub state: OrderState,
    /// Time of the last change, ms.
    pub updated_ms: u64,
    /// Event of the last change.
    pub updated_seq: u64,
}

/// An (account, asset) balance after the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BalanceRow {
    /// Account.
    pub account: AccountId,
    /// Asset.
    pub asset: AssetId,
    /// Available.
    pub available: u128,
    /// Frozen.
    pub frozen: u128,
    /// The event that set it.
    pub event_seq: u64,
}

/// The rows of a run of consecutive events, written in one transaction.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The offset before the batch (the last event already settled).
    pub prev_seq: u64,
    /// The last event in the batch (`prev_seq` when empty).
    pub last_seq: u64,
    /// Events in the batch.
    pub events: usize,
    /// Trades.
    pub trades: Vec<TradeRow>,
    /// Ledger transfers.
    pub ledger: Vec<LedgerRow>,
    orders: Vec<OrderRow>,
    order_index: HashMap<u64, usize>,
    balances: Vec<BalanceRow>,
    balance_index: HashMap<(AccountId, AssetId), usize>,
    /// Asset upserts, with their event.
    pub assets: Vec<(AssetConfig, u64)>,
    /// Symbol upserts, with their event.
    pub symbols: Vec<(SymbolConfig, u64)>,
    /// The fee account after the batch.
    pub fee_account: AccountId,
}

impl Batch {
    /// An empty batch after event `prev_seq`.
    pub fn new(prev_seq: u64, fee_account: AccountId) -> Batch {
        Batch {
            prev_seq,
            last_seq: prev_seq,
            events: 0,
            trades: Vec::new(),
            ledger: Vec::new(),
            orders: Vec::new(),
            order_index: HashMap::new(),
            balances: Vec::new(),
            balance_index: HashMap::new(),
            assets: Vec::new(),
            symbols: Vec::new(),
            fee_account,
        }
    }

    /// Whether the batch holds no event.
    pub fn is_empty(&self) -> bool {
        self.events == 0
    }

    /// Orders changed by the batch.
    pub fn orders(&self) -> &[OrderRow] {
        &self.orders
    }

    /// Balances changed by the batch.
    pub fn balances(&self) -> &[BalanceRow] {
        &self.balances
    }

    /// Adds the next event (it must be `last_seq + 1`), updating `catalog` with symbol and
    /// fee-account changes.
    pub fn add(&mut self, event: &Event, catalog: &mut Catalog) -> Result<(), SettleError> {
        let seq = event.seq;
        if seq != self.last_seq + 1 {
            return Err(inconsistent(
                seq,
                format!("expected event {}", self.last_seq + 1),
            ));
        }
        let ts = event.ts_ms;
        match &event.kind {
            EventKind::AssetUpserted(a) => self.assets.push(((**a).clone(), seq)),
            EventKind::SymbolUpserted(s) => {
                catalog.symbols.insert(s.id, SymbolUnits::from(&**s));
                self.symbols.push(((**s).clone(), seq));
            }
            EventKind::FeeAccountSet { account } => {
                catalog.fee_account = *account;
                self.fee_account = *account;
            }
            EventKind::Deposited {
                account,
                asset,
                amount,
                tx_id,
            } => {
                self.transfer(
                    event,
                    0,
                    EntryKind::Deposit,
                    *asset,
                    None,
                    Some(*account),
                    *amount,
                )
                .tx_id = Some(tx_id.as_str().to_string());
            }
            EventKind::Withdrawn {
                account,
                asset,
                amount,
                tx_id,
            } => {
                self.transfer(
                    event,
                    0,
                    EntryKind::Withdrawal,
                    *asset,
                    Some(*account),
                    None,
                    *amount,
                )
                .tx_id = Some(tx_id.as_str().to_string());
            }
            EventKind::Trade(t) => self.add_trade(event, t, catalog)?,
            EventKind::OrderAccepted(a) => self.accept(seq, ts, a),
            EventKind::OrderCancelled { order, .. } => self.update_from(seq, ts, order),
            EventKind::SelfTradePrevented(s) => {
                self.update(seq, ts, s.taker_order_id.0, None, s.taker_state);
                self.update(seq, ts, s.maker_order_id.0, None, s.maker_state);
            }
            EventKind::CancelReplaced(cr) => {
                match &cr.cancel {
                    CancelOutcome::Cancelled(order) => self.update_from(seq, ts, order),
                    CancelOutcome::Amended { order, .. } => self.update_from(seq, ts, order),
                    CancelOutcome::Failed(_) => {}
                }
                if let NewOrderOutcome::Placed(a) = &cr.new_order {
                    self.accept(seq, ts, a);
                }
            }
            EventKind::Balance {
                account,
                asset,
                available,
                frozen,
            } => {
                let row = BalanceRow {
                    account: *account,
                    asset: *asset,
                    available: *available,
                    frozen: *frozen,
                    event_seq: seq,
                };
                match self.balance_index.get(&(*account, *asset)) {
                    Some(&i) => self.balances[i] = row,
                    None => {
                        self.balance_index
                            .insert((*account, *asset), self.balances.len());
                        self.balances.push(row);
                    }
                }
            }
            EventKind::SymbolStatusChanged { .. }
            | EventKind::DepositDuplicate { .. }
            | EventKind::DepositRejected { .. }
            | EventKind::WithdrawalDuplicate { .. }
            | EventKind::WithdrawalRejected { .. }
            | EventKind::Rejected { .. }
            | EventKind::CancelAllDone { .. }
            | EventKind::BookLevel { .. } => {}
        }
        self.last_seq = seq;
        self.events += 1;
        Ok(())
    }

    fn add_trade(
        &mut self,
        event: &Event,
        t: &Trade,
        catalog: &Catalog,
    ) -> Result<(), SettleError> {
        let seq = event.seq;
        let units = catalog
            .symbols
            .get(&t.symbol)
            .ok_or_else(|| inconsistent(seq, format!("trade on unknown symbol {}", t.symbol)))?;
        if units.quote != t.fee_asset {
            return Err(inconsistent(seq, "fee asset is not the quote asset".into()));
        }
        let base_qty = u128::from(t.qty)
            .checked_mul(units.lot_size)
            .ok_or_else(|| inconsistent(seq, "base quantity overflows u128".into()))?;
        self.trades.push(TradeRow {
            trade: *t,
            event_seq: seq,
            cmd_seq: event.cmd_seq,
            ts_ms: event.ts_ms,
            base_qty,
        });
        let fee = catalog.fee_account;
        let id = t.trade_id.0;
        let mut entry = 0;
        let legs = [
            (
                EntryKind::TradeBase,
                units.base,
                t.seller,
                t.buyer,
                base_qty,
            ),
            (
                EntryKind::TradeQuote,
                units.quote,
                t.buyer,
                t.seller,
                t.quote_qty,
            ),
            (EntryKind::Fee, units.quote, t.buyer, fee, t.buyer_fee),
            (EntryKind::Fee, units.quote, t.seller, fee, t.seller_fee),
        ];
        for (kind, asset, from, to, amount) in legs {
            if amount > 0 {
                self.transfer(event, entry, kind, asset, Some(from), Some(to), amount)
                    .reference = Some(id);
                entry += 1;
            }
        }
        // Both orders' states after the trade.
        self.update(seq, event.ts_ms, t.buy_order_id.0, None, t.buy_state);
        self.update(seq, event.ts_ms, t.sell_order_id.0, None, t.sell_state);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn transfer(
        &mut self,
        event: &Event,
        entry: i16,
        kind: EntryKind,
        asset: AssetId,
        debit: Option<AccountId>,
        credit: Option<AccountId>,
        amount: u128,
    ) -> &mut LedgerRow {
        self.ledger.push(LedgerRow {
            event_seq: event.seq,
            entry,
            ts_ms: event.ts_ms,
            kind,
            asset,
            debit,
            credit,
            amount,
            reference: None,
            tx_id: None,
        });
        let last = self.ledger.len() - 1;
        &mut self.ledger[last]
    }

    fn accept(&mut self, seq: u64, ts: u64, a: &OrderAccepted) {
        let id = a.order.order_id.0;
        let row = OrderRow {
            order_id: id,
            created: Some(OrderStatic {
                accepted: *a,
                created_ms: ts,
                created_seq: seq,
            }),
            client_order_id: Some(a.order.client_order_id.as_str().to_string()),
            state: a.state,
            updated_ms: ts,
            updated_seq: seq,
        };
        match self.order_index.get(&id) {
            // An order id is accepted once; a second acceptance replaces the row as the
            // matcher would have no other meaning for it.
            Some(&i) => self.orders[i] = row,
            None => {
                self.order_index.insert(id, self.orders.len());
                self.orders.push(row);
            }
        }
    }

    fn update_from(&mut self, seq: u64, ts: u64, u: &OrderUpdate) {
        let cid = Some(u.client_order_id.as_str().to_string());
        self.update(seq, ts, u.order_id.0, cid, u.state);
    }

    fn update(&mut self, seq: u64, ts: u64, id: u64, cid: Option<String>, state: OrderState) {
        match self.order_index.get(&id) {
            Some(&i) => {
                let row = &mut self.orders[i];
                row.state = state;
                row.updated_ms = ts;
                row.updated_seq = seq;
                if cid.is_some() {
                    row.client_order_id = cid;
                }
            }
            None => {
                self.order_index.insert(id, self.orders.len());
                self.orders.push(OrderRow {
                    order_id: id,
                    created: None,
                    client_order_id: cid,
                    state,
                    updated_ms: ts,
                    updated_seq: seq,
                });
            }
        }
    }
}

fn inconsistent(seq: u64, reason: String) -> SettleError {
    SettleError::Inconsistent { seq, reason }
}

/// `"BUY"` / `"SELL"`.
pub fn side_text(side: Side) -> &'static str {
    match side {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

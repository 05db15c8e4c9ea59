//! Cancel, cancel-all and cancel-replace.

use super::state::{RestingKind, State};
use super::{Engine, Market};
use crate::book::Book;
use crate::command::PlaceOrder;
use crate::command::{CancelReplace, CancelReplaceMode, CancelTarget, OrderType, TimeInForce};
use crate::event::{
    CancelOutcome, CancelReason, CancelReplaced, Event, EventKind, NewOrderOutcome, OrderAccepted,
    OrderStatus, RejectReason, RequestKind,
};
use crate::ids::{AccountId, ClientOrderId, OrderId, SymbolId};

impl State {
    /// Finds an open order of `account` on `symbol`: its id and slab slot.
    fn resolve(
        &self,
        account: AccountId,
        symbol: SymbolId,
        target: CancelTarget,
    ) -> Result<(OrderId, u32), RejectReason> {
        let id = match target {
            CancelTarget::OrderId(id) => id,
            CancelTarget::ClientOrderId(c) => self
                .client_id_owner(account, &c)
                .ok_or(RejectReason::UnknownOrder)?,
        };
        let slot = self.orders.slot_of(&id).ok_or(RejectReason::UnknownOrder)?;
        match self.orders.by_slot(slot) {
            Some(o) if o.order.account == account && o.order.symbol == symbol => Ok((id, slot)),
            _ => Err(RejectReason::UnknownOrder),
        }
    }

    /// Whether `req` only decreases the open quantity of the order at `slot` at the same
    /// price, side, kind and STP mode (so the order can be amended in place).
    fn is_amend(&self, slot: u32, req: &PlaceOrder) -> bool {
        let Some(open) = self.orders.by_slot(slot) else {
            return false;
        };
        let o = &open.order;
        let (price, qty) = match (o.kind, req.order_type) {
            (
                RestingKind::Limit,
                OrderType::Limit {
                    price,
                    qty,
                    tif: TimeInForce::Gtc,
                },
            )
            | (RestingKind::LimitMaker, OrderType::LimitMaker { price, qty }) => (price, qty),
            _ => return false,
        };
        req.side == o.side
            && price == o.price
            && req.stp == o.stp
            && qty > 0
            && qty < o.remaining_qty
    }

    /// Decreases an open order's quantity in place, keeping its priority. Returns the
    /// outcome to report (`None`: not an amendable open order; nothing changed).
    fn amend<B: Book>(
        &mut self,
        m: &mut Market<B>,
        id: OrderId,
        slot: u32,
        req: &PlaceOrder,
    ) -> Option<CancelOutcome> {
        let new_qty = match req.order_type {
            OrderType::Limit { qty, .. } | OrderType::LimitMaker { qty, .. } => qty,
            OrderType::Market { .. } => return None,
        };
        let open = self.orders.open_mut(slot, id)?;
        let o = &mut open.order;
        let old_client_id = o.client_order_id;
        o.remaining_qty = new_qty;
        o.client_order_id = req.client_order_id;
        let required = o.required_frozen(m.unit, m.config.lot_size);
        let surplus = o.frozen - required;
        o.frozen = required;
        let o = *o;
        let (handle, open_acct) = (open.handle, open.acct);
        let total = m.book.set_qty(o.side, o.price, id, handle, new_qty);
        self.touched_levels.push((o.symbol, o.side, o.price, total));
        if old_client_id != o.client_order_id {
            if let Some(map) = self
                .accounts
                .get_mut(open_acct as usize)
                .and_then(|acc| acc.by_client_id.as_mut())
            {
                map.remove(&old_client_id);
                map.insert(o.client_order_id, id);
            }
        }
        let asset = match o.side {
            crate::command::Side::Buy => m.quote_slot,
            crate::command::Side::Sell => m.base_slot,
        };
        self.release(open_acct, asset, surplus);
        Some(CancelOutcome::Amended {
            order: o.update(o.open_state().status),
            old_client_order_id: old_client_id,
        })
    }
}

impl<B: Book> Engine<B> {
    fn reject_cancel(
        &mut self,
        request: RequestKind,
        account: AccountId,
        symbol: Option<SymbolId>,
        client_order_id: Option<ClientOrderId>,
        reason: RejectReason,
        out: &mut Vec<Event>,
    ) {
        let kind = EventKind::Rejected {
            request,
            account: Some(account),
            symbol,
            client_order_id: client_order_id.map(Box::new),
            reason,
        };
        self.st.emit(out, kind);
    }

    pub(super) fn cancel(
        &mut self,
        account: AccountId,
        symbol: SymbolId,
        target: CancelTarget,
        out: &mut Vec<Event>,
    ) {
        let client_id = match target {
            CancelTarget::ClientOrderId(c) => Some(c),
            CancelTarget::OrderId(_) => None,
        };
        let Some(m) = self.markets.get_mut(&symbol) else {
            let r = RejectReason::UnknownSymbol;
            return self.reject_cancel(
                RequestKind::Cancel,
                account,
                Some(symbol),
                client_id,
                r,
                out,
            );
        };
        match self.st.resolve(account, symbol, target) {
            Ok((id, _)) => {
                self.st
                    .remove_resting(m, id, OrderStatus::Canceled, CancelReason::UserCancel, out)
            }
            Err(r) => self.reject_cancel(
                RequestKind::Cancel,
                account,
                Some(symbol),
                client_id,
                r,
                out,
            ),
        }
    }

    pub(super) fn cancel_all(
        &mut self,
        account: AccountId,
        symbol: Option<SymbolId>,
        out: &mut Vec<Event>,
    ) {
        if let Some(s) = symbol {
            if !self.markets.contains_key(&s) {
                let r = RejectReason::UnknownSymbol;
                return self.reject_cancel(RequestKind::CancelAll, account, symbol, None, r, out);
            }
        }
        let mut ids = std::mem::take(&mut self.st.scratch_ids);
        ids.clear();
        if let Some(acc) = self.st.account(account) {
            for (id, slot) in &acc.open {
                let on_symbol = self.st.orders.by_slot(*slot).map(|o| o.order.symbol);
                if on_symbol.is_some_and(|s| symbol.is_none_or(|want| want == s)) {
                    ids.push(*id);
                }
            }
        }
        let mut cancelled = 0u32;
        for id in &ids {
            let Some(sym) = self.st.orders.get(id).map(|o| o.order.symbol) else {
                continue;
            };
            if let Some(m) = self.markets.get_mut(&sym) {
                self.st
                    .remove_resting(m, *id, OrderStatus::Canceled, CancelReason::CancelAll, out);
                cancelled += 1;
            }
        }
        self.st.scratch_ids = ids;
        self.st.emit(
            out,
            EventKind::CancelAllDone {
                account,
                symbol,
                cancelled,
            },
        );
    }

    /// Cancel-replace: cancels (or amends) the old order, then places the new one, and emits
    /// one `CancelReplaced` where the old order's `OrderCancelled` would have been (before
    /// any trade or expiry of the new order).
    pub(super) fn cancel_replace(&mut self, req: &CancelReplace, out: &mut Vec<Event>) {
        let new = &req.new_order;
        let (account, symbol) = (new.account, new.symbol);
        let resolved = if self.markets.contains_key(&symbol) {
            self.st.resolve(account, symbol, req.target)
        } else {
            Err(RejectReason::UnknownSymbol)
        };
        let cancel = match resolved {
            Err(reason) => CancelOutcome::Failed(reason),
            Ok((old, slot)) => match self.markets.get_mut(&symbol) {
                Some(m) => {
                    let amended = if self.st.is_amend(slot, new)
                        && self.st.check_order(m, new, Some(old)).is_ok()
                    {
                        self.st.amend(m, old, slot, new)
                    } else {
                        None
                    };
                    if let Some(cancel) = amended {
                        let r = Replacing::new(req, cancel);
                        return self.st.emit_with(out, || r.event(NewOrderOutcome::Amended));
                    }
                    match self.st.close_resting(m, old) {
                        Some(o) => CancelOutcome::Cancelled(o.update(OrderStatus::Canceled)),
                        None => CancelOutcome::Failed(RejectReason::UnknownOrder),
                    }
                }
                None => CancelOutcome::Failed(RejectReason::UnknownSymbol),
            },
        };
        let r = Replacing::new(req, cancel);
        if matches!(cancel, CancelOutcome::Failed(_))
            && req.mode == CancelReplaceMode::StopOnFailure
        {
            return self
                .st
                .emit_with(out, || r.event(NewOrderOutcome::NotAttempted));
        }
        let placed = match self.markets.get_mut(&symbol) {
            Some(m) => self.st.place(m, new, Some(&r), out),
            None => Err(RejectReason::UnknownSymbol),
        };
        if let Err(reason) = placed {
            let failed = NewOrderOutcome::Failed {
                reason,
                client_order_id: new.client_order_id,
            };
            self.st.emit_with(out, || r.event(failed));
        }
    }
}

/// A cancel-replace whose cancel half is done: what its `CancelReplaced` needs besides the
/// new-order outcome.
pub(super) struct Replacing {
    account: AccountId,
    symbol: SymbolId,
    mode: CancelReplaceMode,
    cancel: CancelOutcome,
}

impl Replacing {
    fn new(req: &CancelReplace, cancel: CancelOutcome) -> Self {
        Replacing {
            account: req.new_order.account,
            symbol: req.new_order.symbol,
            mode: req.mode,
            cancel,
        }
    }

    /// The `CancelReplaced` event with the new-order outcome `new_order`.
    fn event(&self, new_order: NewOrderOutcome) -> EventKind {
        EventKind::CancelReplaced(Box::new(CancelReplaced {
            account: self.account,
            symbol: self.symbol,
            mode: self.mode,
            cancel: self.cancel,
            new_order,
        }))
    }

    /// The `CancelReplaced` event of a new order that was accepted.
    pub(super) fn placed(&self, accepted: OrderAccepted) -> EventKind {
        self.event(NewOrderOutcome::Placed(accepted))
    }
}

//! Order placement: validation, risk (freezing), and the taker's outcome after matching
//! (filled, resting or expired). The matching itself is in `matching`.
//!
//! # MARKET orders and funds
//! * BUY by quote amount: freezes the amount; spends at most it, fees included.
//! * BUY by base quantity: freezes the whole available quote balance as a spending cap,
//!   matches up to the quantity within that cap, then releases the rest. If the cap stops it,
//!   the remainder expires with `MarketInsufficientBalance`. Rejected if nothing is available.
//! * SELL by base quantity: freezes the quantity.
//! * SELL by quote amount: freezes all whole lots of the available base; sells until the
//!   notional would exceed the amount; releases the rest.

use super::cancel::Replacing;
use super::matching::{fok_fillable, Exit, Taker};
use super::state::{RestingKind, RestingOrder, State};
use super::{Engine, Market};
use crate::book::{crosses, Book};
use crate::command::{MarketAmount, OrderType, PlaceOrder, Side, TimeInForce};
use crate::config::{SymbolStatus, MAX_ASSET_SUPPLY};
use crate::event::{
    CancelReason, Event, EventKind, OrderAccepted, OrderInfo, OrderStatus, RejectReason,
    RequestKind,
};
use crate::fees;
use crate::ids::OrderId;

fn check_qty<B>(m: &Market<B>, qty: u64) -> Result<(), RejectReason> {
    if qty == 0 {
        Err(RejectReason::ZeroQuantity)
    } else if qty > m.config.max_qty
        || u128::from(qty)
            .checked_mul(m.config.lot_size)
            .is_none_or(|b| b > MAX_ASSET_SUPPLY)
    {
        // Beyond the supply limit in base units: no balance could ever cover it.
        Err(RejectReason::QuantityTooLarge)
    } else if qty < m.config.min_qty {
        Err(RejectReason::QuantityBelowMinimum)
    } else {
        Ok(())
    }
}

fn check_price<B>(m: &Market<B>, price: u64) -> Result<(), RejectReason> {
    if price == 0 {
        Err(RejectReason::ZeroPrice)
    } else if price > m.config.max_price {
        Err(RejectReason::PriceTooHigh)
    } else {
        Ok(())
    }
}

/// `price * qty * unit`, bounded by the supply limit.
pub(super) fn notional<B>(m: &Market<B>, price: u64, qty: u64) -> Result<u128, RejectReason> {
    u128::from(price)
        .checked_mul(u128::from(qty))
        .and_then(|v| v.checked_mul(m.unit))
        .filter(|v| *v <= MAX_ASSET_SUPPLY)
        .ok_or(RejectReason::NotionalTooLarge)
}

impl State {
    /// Request checks shared by placement and amendment. `amending` is the open order being
    /// amended (it may keep its client order id and does not count as a new open order).
    pub(super) fn check_order<B>(
        &self,
        m: &Market<B>,
        req: &PlaceOrder,
        amending: Option<OrderId>,
    ) -> Result<(), RejectReason> {
        self.check_order_at(m, req, amending, self.account_slot(req.account))
    }

    /// [`State::check_order`] with the account's slot already resolved.
    fn check_order_at<B>(
        &self,
        m: &Market<B>,
        req: &PlaceOrder,
        amending: Option<OrderId>,
        acct: Option<u32>,
    ) -> Result<(), RejectReason> {
        if m.status != SymbolStatus::Trading {
            return Err(RejectReason::SymbolHalted);
        }
        match req.order_type {
            OrderType::Limit { price, qty, .. } | OrderType::LimitMaker { price, qty } => {
                check_qty(m, qty)?;
                check_price(m, price)?;
                if notional(m, price, qty)? < m.config.min_notional {
                    return Err(RejectReason::NotionalBelowMinimum);
                }
            }
            OrderType::Market {
                amount: MarketAmount::Base(qty),
            } => check_qty(m, qty)?,
            OrderType::Market {
                amount: MarketAmount::Quote(amount),
            } => {
                if amount == 0 {
                    return Err(RejectReason::ZeroQuantity);
                }
                if amount > MAX_ASSET_SUPPLY {
                    return Err(RejectReason::NotionalTooLarge);
                }
                if amount < m.config.min_notional {
                    return Err(RejectReason::NotionalBelowMinimum);
                }
            }
        }
        let acc = acct.and_then(|a| self.accounts.get(a as usize));
        let open_count = acc.map_or(0, |a| a.open.len());
        if amending.is_none() && open_count >= self.max_open_orders as usize {
            return Err(RejectReason::TooManyOpenOrders);
        }
        match acc.and_then(|a| self.client_owner_in(a, &req.client_order_id)) {
            Some(owner) if Some(owner) != amending => Err(RejectReason::DuplicateClientOrderId),
            _ => Ok(()),
        }
    }

    /// Validates, freezes, matches and rests or expires a new order. On acceptance emits
    /// `OrderAccepted`, or, when the order is the new half of a cancel-replace (`replacing`),
    /// the `CancelReplaced` that carries it; either comes before any trade or expiry of the
    /// order. On `Err` nothing changed and nothing was emitted.
    pub(super) fn place<B: Book>(
        &mut self,
        m: &mut Market<B>,
        req: &PlaceOrder,
        replacing: Option<&Replacing>,
        out: &mut Vec<Event>,
    ) -> Result<OrderId, RejectReason> {
        let acct = self.account_slot(req.account);
        self.check_order_at(m, req, None, acct)?;
        let lot = m.config.lot_size;
        let (maker_fee, taker_fee) = (m.config.maker_fee_ppm, m.config.taker_fee_ppm);
        if let OrderType::LimitMaker { price, .. } = req.order_type {
            if m.book
                .best(req.side.opposite())
                .is_some_and(|e| crosses(req.side, Some(price), e.price))
            {
                return Err(RejectReason::WouldTakeLiquidity);
            }
        }
        let frozen_asset = match req.side {
            Side::Buy => m.quote_slot,
            Side::Sell => m.base_slot,
        };
        let available = acct.map_or(0, |a| self.balance_at(a, frozen_asset).available);
        let mut t = Taker {
            acct: u32::MAX,
            o: RestingOrder {
                order_id: OrderId(0),
                account: req.account,
                symbol: req.symbol,
                side: req.side,
                kind: RestingKind::Limit,
                price: 0,
                remaining_qty: 0,
                executed_qty: 0,
                prevented_qty: 0,
                cum_quote: 0,
                fee_basis: 0,
                cum_fee: 0,
                maker_fee_ppm: maker_fee,
                taker_fee_ppm: taker_fee,
                frozen: 0,
                client_order_id: req.client_order_id,
                stp: req.stp,
            },
            limit: None,
            tif: None,
            kind: None,
            by_quote: false,
            lots_left: 0,
            lots_is_balance: false,
            quote_left: None,
            quote_is_balance: false,
        };
        let freeze = match (req.side, req.order_type) {
            (side, OrderType::Limit { price, qty, tif }) => {
                t.limit = Some(price);
                t.tif = Some(tif);
                t.kind = Some(RestingKind::Limit);
                t.lots_left = qty;
                match side {
                    Side::Buy => {
                        fees::buy_reserve(notional(m, price, qty)?, 0, 0, maker_fee.max(taker_fee))
                    }
                    Side::Sell => u128::from(qty) * lot,
                }
            }
            (side, OrderType::LimitMaker { price, qty }) => {
                t.limit = Some(price);
                t.kind = Some(RestingKind::LimitMaker);
                t.o.kind = RestingKind::LimitMaker;
                t.lots_left = qty;
                match side {
                    Side::Buy => fees::buy_reserve(notional(m, price, qty)?, 0, 0, maker_fee),
                    Side::Sell => u128::from(qty) * lot,
                }
            }
            (
                Side::Buy,
                OrderType::Market {
                    amount: MarketAmount::Quote(amount),
                },
            ) => {
                t.by_quote = true;
                t.lots_left = u64::MAX;
                t.quote_left = Some(amount);
                amount
            }
            (
                Side::Buy,
                OrderType::Market {
                    amount: MarketAmount::Base(qty),
                },
            ) => {
                if available == 0 {
                    return Err(RejectReason::InsufficientBalance);
                }
                t.lots_left = qty;
                t.quote_left = Some(available);
                t.quote_is_balance = true;
                available
            }
            (
                Side::Sell,
                OrderType::Market {
                    amount: MarketAmount::Base(qty),
                },
            ) => {
                t.lots_left = qty;
                u128::from(qty) * lot
            }
            (
                Side::Sell,
                OrderType::Market {
                    amount: MarketAmount::Quote(amount),
                },
            ) => {
                let lots = u64::try_from(available / lot).unwrap_or(u64::MAX);
                if lots == 0 {
                    return Err(RejectReason::InsufficientBalance);
                }
                t.by_quote = true;
                t.lots_left = lots;
                t.lots_is_balance = true;
                t.quote_left = Some(amount);
                u128::from(lots) * lot
            }
        };
        if available < freeze {
            return Err(RejectReason::InsufficientBalance);
        }

        // Accepted: from here on the order exists.
        let order_id = OrderId(self.next_order_id);
        self.next_order_id += 1;
        t.o.order_id = order_id;
        // Every accepted order freezes a non-zero amount, so its account already has a slot.
        t.acct = match acct {
            Some(a) => a,
            None => self.account_slot_or_insert(req.account),
        };
        t.o.price = t.limit.unwrap_or(0);
        t.o.frozen = freeze;
        t.sync_remaining();
        self.freeze(t.acct, frozen_asset, freeze);
        let info = OrderInfo {
            order_id,
            account: req.account,
            symbol: req.symbol,
            side: req.side,
            order_type: req.order_type,
            client_order_id: req.client_order_id,
            stp: req.stp,
            maker_fee_ppm: maker_fee,
            taker_fee_ppm: taker_fee,
            frozen: freeze,
        };
        let state = t.o.state_with(OrderStatus::New);
        let accepted = OrderAccepted { order: info, state };
        self.emit_with(out, || match replacing {
            None => EventKind::OrderAccepted(Box::new(accepted)),
            Some(r) => r.placed(accepted),
        });

        if let (Some(TimeInForce::Fok), Some(price)) = (t.tif, t.limit) {
            if !fok_fillable(&m.book, req, price, t.lots_left) {
                self.finish_expired(&mut t, frozen_asset, CancelReason::FokNotFilled, false, out);
                return Ok(order_id);
            }
        }
        let (exit, last_trade) = if t.kind == Some(RestingKind::LimitMaker) {
            (Exit::Book, None)
        } else {
            self.match_taker(m, &mut t, out)
        };
        self.finish(m, &mut t, exit, last_trade, out);
        Ok(order_id)
    }
    /// Decides the taker's fate after matching: filled, resting or expired.
    fn finish<B: Book>(
        &mut self,
        m: &mut Market<B>,
        t: &mut Taker,
        exit: Exit,
        last_trade: Option<usize>,
        out: &mut Vec<Event>,
    ) {
        let frozen_asset = match t.o.side {
            Side::Buy => m.quote_slot,
            Side::Sell => m.base_slot,
        };
        let filled = match exit {
            Exit::Stp(_) => false,
            _ if !t.by_quote => t.lots_left == 0,
            Exit::Done => t.o.executed_qty > 0,
            _ => false,
        };
        if filled {
            self.release(t.acct, frozen_asset, t.o.frozen);
            t.o.frozen = 0;
            if let Some(Event {
                kind: EventKind::Trade(trade),
                ..
            }) = last_trade.and_then(|i| out.get_mut(i))
            {
                let state = match t.o.side {
                    Side::Buy => &mut trade.buy_state,
                    Side::Sell => &mut trade.sell_state,
                };
                state.status = OrderStatus::Filled;
                state.remaining_qty = 0;
            }
            return;
        }
        let rests = exit == Exit::Book
            && (t.kind == Some(RestingKind::LimitMaker) || t.tif == Some(TimeInForce::Gtc));
        if rests {
            let mut order = t.o;
            let required = order.required_frozen(m.unit, m.config.lot_size);
            self.release(t.acct, frozen_asset, order.frozen - required);
            order.frozen = required;
            let tag = self.orders.next_slot();
            let (handle, total) = m.book.insert(
                order.side,
                order.price,
                order.order_id,
                order.account,
                order.remaining_qty,
                tag,
            );
            self.touched_levels
                .push((order.symbol, order.side, order.price, total));
            let slot = self.open_order(order, handle, t.acct);
            debug_assert_eq!(slot, tag, "order slot prediction");
            return;
        }
        let (reason, in_match) = match exit {
            Exit::Stp(r) => (r, true),
            _ if t.tif == Some(TimeInForce::Ioc) => (CancelReason::IocRemainder, false),
            _ if t.tif == Some(TimeInForce::Fok) => (CancelReason::FokNotFilled, false),
            Exit::Balance => (CancelReason::MarketInsufficientBalance, false),
            Exit::Done if t.o.prevented_qty > 0 => (CancelReason::StpDecrement, true),
            Exit::Done => (CancelReason::MarketAmountTooSmall, false),
            Exit::Book => (CancelReason::MarketNoLiquidity, false),
        };
        debug_assert!(reason != CancelReason::FokNotFilled, "FOK pre-check missed");
        self.finish_expired(t, frozen_asset, reason, in_match, out);
    }

    fn finish_expired(
        &mut self,
        t: &mut Taker,
        frozen_asset: u32,
        reason: CancelReason,
        in_match: bool,
        out: &mut Vec<Event>,
    ) {
        self.release(t.acct, frozen_asset, t.o.frozen);
        t.o.frozen = 0;
        let status = if in_match {
            OrderStatus::ExpiredInMatch
        } else {
            OrderStatus::Expired
        };
        self.emit_with(out, || EventKind::OrderCancelled {
            order: Box::new(t.o.update(status)),
            reason,
        });
    }
}

impl<B: Book> Engine<B> {
    /// Places an order, emitting `Rejected` on failure.
    pub(super) fn place_or_reject(
        &mut self,
        req: &PlaceOrder,
        out: &mut Vec<Event>,
    ) -> Result<OrderId, RejectReason> {
        let result = match self.markets.get_mut(&req.symbol) {
            Some(m) => self.st.place(m, req, None, out),
            None => Err(RejectReason::UnknownSymbol),
        };
        if let Err(reason) = result {
            self.st.emit(
                out,
                EventKind::Rejected {
                    request: RequestKind::PlaceOrder,
                    account: Some(req.account),
                    symbol: Some(req.symbol),
                    client_order_id: Some(Box::new(req.client_order_id)),
                    reason,
                },
            );
        }
        result
    }
}

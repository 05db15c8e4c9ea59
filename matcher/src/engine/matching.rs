//! The matching loop: walking the opposite side in price-time priority, trades with their
//! fees and funds movements, and self-trade prevention.
//!
//! # FOK
//! Before matching, the opposite side is walked in priority order: orders of the same account
//! are skipped under EXPIRE_MAKER (they would be expired) and stop the check under any other
//! STP mode except NONE (the taker could not fill through them). The order executes only if
//! the crossing quantity found covers its whole quantity; otherwise it is accepted and expires
//! at once (`FokNotFilled`) with no other effect.
//!
//! # STP DECREMENT and orders by quote
//! The prevented quantity reduces an order's own amount: its base quantity, or for a MARKET
//! order by quote, its quote amount by the prevented notional at the maker's price.

use super::state::{RestingKind, RestingOrder, State};
use super::Market;
use crate::book::{crosses, Book, BookEntry};
use crate::command::{PlaceOrder, Side, StpMode, TimeInForce};
use crate::event::{CancelReason, Event, EventKind, OrderStatus, SelfTradePrevented, Trade};
use crate::fees;
use crate::ids::{OrderId, TradeId};

/// Why the matching loop stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Exit {
    /// The order's own amount is used up.
    Done,
    /// No more crossing liquidity.
    Book,
    /// The balance cap of a MARKET order is used up.
    Balance,
    /// Self-trade prevention expired the taker.
    Stp(CancelReason),
}

/// The incoming order while it matches.
#[derive(Debug)]
pub(super) struct Taker {
    pub(super) o: RestingOrder,
    /// The owner's account slot.
    pub(super) acct: u32,
    pub(super) limit: Option<u64>,
    pub(super) tif: Option<TimeInForce>,
    pub(super) kind: Option<RestingKind>,
    pub(super) by_quote: bool,
    pub(super) lots_left: u64,
    pub(super) lots_is_balance: bool,
    pub(super) quote_left: Option<u128>,
    pub(super) quote_is_balance: bool,
}

impl Taker {
    pub(super) fn sync_remaining(&mut self) {
        self.o.remaining_qty = if self.by_quote { 0 } else { self.lots_left };
    }

    pub(super) fn matching_status(&self) -> OrderStatus {
        if !self.by_quote && self.lots_left == 0 {
            OrderStatus::Filled
        } else if self.o.executed_qty > 0 {
            OrderStatus::PartiallyFilled
        } else {
            OrderStatus::New
        }
    }

    /// Lots the taker can still take at `price`, and what limits it.
    pub(super) fn cap(&self, price: u64, unit: u128) -> (u64, Exit) {
        let mut cap = self.lots_left;
        let mut why = if self.lots_is_balance {
            Exit::Balance
        } else {
            Exit::Done
        };
        if let Some(q) = self.quote_left {
            let lot_notional = u128::from(price) * unit;
            let c = match self.o.side {
                Side::Buy => fees::affordable_lots(
                    q,
                    lot_notional,
                    self.o.fee_basis,
                    self.o.cum_fee,
                    self.o.taker_fee_ppm,
                    cap,
                ),
                Side::Sell => u64::try_from(q / lot_notional).unwrap_or(u64::MAX).min(cap),
            };
            if c < cap {
                cap = c;
                why = if self.quote_is_balance {
                    Exit::Balance
                } else {
                    Exit::Done
                };
            }
        }
        (cap, why)
    }
}

/// Whether a FOK order can fill completely (see the module docs).
pub(super) fn fok_fillable<B: Book>(book: &B, req: &PlaceOrder, price: u64, qty: u64) -> bool {
    let mut need = qty;
    book.walk(req.side.opposite(), &mut |e: &BookEntry| {
        if !crosses(req.side, Some(price), e.price) {
            return false;
        }
        if e.account == req.account && req.stp != StpMode::None {
            // EXPIRE_MAKER removes the maker and goes on; other modes stop the taker.
            return req.stp == StpMode::ExpireMaker;
        }
        need = need.saturating_sub(e.qty);
        need > 0
    });
    need == 0
}

impl State {
    /// The matching loop. Returns why it stopped and the index in `out` of the taker's last
    /// trade event.
    pub(super) fn match_taker<B: Book>(
        &mut self,
        m: &mut Market<B>,
        t: &mut Taker,
        out: &mut Vec<Event>,
    ) -> (Exit, Option<usize>) {
        let opp = t.o.side.opposite();
        let mut last_trade = None;
        let exit = loop {
            let Some(maker) = m.book.best(opp) else {
                break Exit::Book;
            };
            if !crosses(t.o.side, t.limit, maker.price) {
                break Exit::Book;
            }
            let self_trade = maker.account == t.o.account && t.o.stp != StpMode::None;
            if self_trade {
                match t.o.stp {
                    StpMode::ExpireTaker => break Exit::Stp(CancelReason::StpExpireTaker),
                    StpMode::ExpireMaker => {
                        self.expire_maker(m, &maker, CancelReason::StpExpireMaker, out);
                        continue;
                    }
                    StpMode::ExpireBoth => {
                        self.expire_maker(m, &maker, CancelReason::StpExpireBoth, out);
                        break Exit::Stp(CancelReason::StpExpireBoth);
                    }
                    StpMode::Decrement | StpMode::None => {}
                }
            }
            let (cap, why) = t.cap(maker.price, m.unit);
            if cap == 0 {
                break why;
            }
            let qty = cap.min(maker.qty);
            if self_trade {
                self.decrement(m, t, &maker, qty, out);
                if !t.by_quote && t.lots_left == 0 {
                    break Exit::Stp(CancelReason::StpDecrement);
                }
            } else {
                self.trade(m, t, &maker, qty, out);
                last_trade = Some(out.len() - 1);
            }
        };
        (exit, last_trade)
    }

    /// Expires a resting order hit by STP.
    pub(super) fn expire_maker<B: Book>(
        &mut self,
        m: &mut Market<B>,
        maker: &BookEntry,
        reason: CancelReason,
        out: &mut Vec<Event>,
    ) {
        self.remove_resting(m, maker.order_id, OrderStatus::ExpiredInMatch, reason, out);
    }

    /// Removes an open order from its book and the registry, releases its frozen funds and
    /// emits `OrderCancelled`.
    pub(super) fn remove_resting<B: Book>(
        &mut self,
        m: &mut Market<B>,
        order_id: OrderId,
        status: OrderStatus,
        reason: CancelReason,
        out: &mut Vec<Event>,
    ) {
        if let Some(o) = self.close_resting(m, order_id) {
            self.emit_with(out, || EventKind::OrderCancelled {
                order: Box::new(o.update(status)),
                reason,
            });
        }
    }

    /// Removes an open order from its book and the registry and releases its frozen funds,
    /// without emitting anything: returns the order as it was (`None`: unknown order).
    #[inline]
    pub(super) fn close_resting<B: Book>(
        &mut self,
        m: &mut Market<B>,
        order_id: OrderId,
    ) -> Option<RestingOrder> {
        let Some(open) = self.close_order(order_id) else {
            debug_assert!(false, "close_resting: unknown order");
            return None;
        };
        let o = open.order;
        let total = m.book.remove(o.side, o.price, o.order_id, open.handle);
        self.touched_levels.push((o.symbol, o.side, o.price, total));
        let asset = match o.side {
            Side::Buy => m.quote_slot,
            Side::Sell => m.base_slot,
        };
        self.release(open.acct, asset, o.frozen);
        Some(o)
    }

    /// STP DECREMENT of `qty` lots on both orders.
    pub(super) fn decrement<B: Book>(
        &mut self,
        m: &mut Market<B>,
        t: &mut Taker,
        maker: &BookEntry,
        qty: u64,
        out: &mut Vec<Event>,
    ) {
        let (unit, lot) = (m.unit, m.config.lot_size);
        t.o.prevented_qty += qty;
        if t.by_quote {
            if let Some(q) = t.quote_left.as_mut() {
                *q -= u128::from(qty) * u128::from(maker.price) * unit;
            }
        } else {
            t.lots_left -= qty;
        }
        t.sync_remaining();
        let taker_state = t.o.state_with(if !t.by_quote && t.lots_left == 0 {
            OrderStatus::ExpiredInMatch
        } else {
            t.matching_status()
        });

        let open = self.orders.maker_mut(maker);
        let mo = &mut open.order;
        mo.remaining_qty -= qty;
        mo.prevented_qty += qty;
        let required = mo.required_frozen(unit, lot);
        let surplus = mo.frozen - required;
        mo.frozen = required;
        let maker_done = mo.remaining_qty == 0;
        let maker_state = if maker_done {
            mo.state_with(OrderStatus::ExpiredInMatch)
        } else {
            mo.open_state()
        };
        let (maker_acct, handle, maker_side) = (open.acct, open.handle, mo.side);
        let asset = match maker_side {
            Side::Buy => m.quote_slot,
            Side::Sell => m.base_slot,
        };
        self.release(maker_acct, asset, surplus);
        self.emit(
            out,
            EventKind::SelfTradePrevented(Box::new(SelfTradePrevented {
                symbol: t.o.symbol,
                account: t.o.account,
                taker_order_id: t.o.order_id,
                maker_order_id: maker.order_id,
                price: maker.price,
                qty,
                taker_state,
                maker_state,
            })),
        );
        if maker_done {
            self.remove_resting(
                m,
                maker.order_id,
                OrderStatus::ExpiredInMatch,
                CancelReason::StpDecrement,
                out,
            );
        } else {
            let total = m.book.set_qty(
                maker_side,
                maker.price,
                maker.order_id,
                handle,
                maker.qty - qty,
            );
            self.touched_levels
                .push((t.o.symbol, maker_side, maker.price, total));
        }
    }

    /// Executes `qty` lots between the taker and a resting maker at the maker's price.
    pub(super) fn trade<B: Book>(
        &mut self,
        m: &mut Market<B>,
        t: &mut Taker,
        maker: &BookEntry,
        qty: u64,
        out: &mut Vec<Event>,
    ) {
        let (unit, lot) = (m.unit, m.config.lot_size);
        let (base, quote) = (m.base_slot, m.quote_slot);
        let price = maker.price;
        let notional = u128::from(qty) * u128::from(price) * unit;
        let base_qty = u128::from(qty) * lot;

        // Taker side.
        let taker_fee = fees::charge(
            &mut t.o.fee_basis,
            &mut t.o.cum_fee,
            notional,
            t.o.taker_fee_ppm,
        );
        t.o.executed_qty += qty;
        t.o.cum_quote += notional;
        t.lots_left -= qty;
        let taker_spend = match t.o.side {
            Side::Buy => notional + taker_fee,
            Side::Sell => base_qty,
        };
        t.o.frozen -= taker_spend;
        if let Some(q) = t.quote_left.as_mut() {
            *q -= match t.o.side {
                Side::Buy => notional + taker_fee,
                Side::Sell => notional,
            };
        }
        t.sync_remaining();
        let taker_state = t.o.state_with(t.matching_status());

        // Maker side.
        let open = self.orders.maker_mut(maker);
        let mo = &mut open.order;
        let maker_fee = fees::charge(
            &mut mo.fee_basis,
            &mut mo.cum_fee,
            notional,
            mo.maker_fee_ppm,
        );
        mo.executed_qty += qty;
        mo.cum_quote += notional;
        mo.remaining_qty -= qty;
        mo.frozen -= match mo.side {
            Side::Buy => notional + maker_fee,
            Side::Sell => base_qty,
        };
        let required = mo.required_frozen(unit, lot);
        let maker_surplus = mo.frozen - required;
        mo.frozen = required;
        let maker_done = mo.remaining_qty == 0;
        let maker_state = if maker_done {
            mo.state_with(OrderStatus::Filled)
        } else {
            mo.open_state()
        };
        let (maker_account, maker_acct, handle, maker_side) =
            (mo.account, open.acct, open.handle, mo.side);
        let total = if maker_done {
            self.close_order(maker.order_id);
            m.book.remove(maker_side, price, maker.order_id, handle)
        } else {
            m.book
                .set_qty(maker_side, price, maker.order_id, handle, maker.qty - qty)
        };
        self.touched_levels
            .push((t.o.symbol, maker_side, price, total));

        // Funds.
        let (buyer, seller, buyer_fee, seller_fee, buy_id, sell_id, buy_state, sell_state) =
            match t.o.side {
                Side::Buy => (
                    t.o.account,
                    maker_account,
                    taker_fee,
                    maker_fee,
                    t.o.order_id,
                    maker.order_id,
                    taker_state,
                    maker_state,
                ),
                Side::Sell => (
                    maker_account,
                    t.o.account,
                    maker_fee,
                    taker_fee,
                    maker.order_id,
                    t.o.order_id,
                    maker_state,
                    taker_state,
                ),
            };
        let (buyer_acct, seller_acct) = match t.o.side {
            Side::Buy => (t.acct, maker_acct),
            Side::Sell => (maker_acct, t.acct),
        };
        self.spend_frozen(buyer_acct, quote, notional + buyer_fee);
        self.credit(buyer_acct, base, base_qty);
        self.spend_frozen(seller_acct, base, base_qty);
        self.credit(seller_acct, quote, notional - seller_fee);
        let fee_acct = self.fee_slot();
        self.credit(fee_acct, quote, buyer_fee + seller_fee);
        if maker_side == Side::Buy {
            self.release(maker_acct, quote, maker_surplus);
        }

        let trade_id = TradeId(self.next_trade_id);
        self.next_trade_id += 1;
        self.emit_with(out, || {
            EventKind::Trade(Box::new(Trade {
                trade_id,
                symbol: t.o.symbol,
                price,
                qty,
                quote_qty: notional,
                taker_side: t.o.side,
                buy_order_id: buy_id,
                sell_order_id: sell_id,
                buyer,
                seller,
                buyer_fee,
                seller_fee,
                fee_asset: m.config.quote,
                buy_state,
                sell_state,
            }))
        });
    }
}

//! Order placement: validation, risk (freezing), matching and the taker's outcome.
//!
//! # MARKET orders and funds
//! * BUY by quote amount: freezes the amount; spends at most it, fees included.
//! * BUY by base quantity: freezes the whole available quote balance as a spending cap,
//!   matches up to the quantity within that cap, then releases the rest. If the cap stops it,
//!   the remainder expires with `MarketInsufficientBalance`. Rejected if nothing is available.
//! * SELL by base quantity: freezes the quantity.
//! * SELL by quote amount: freezes all whole lots of the available base; sells until the
//!   notional would exceed the amount; releases the rest.
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
use super::{Engine, Market};
use crate::book::{crosses, Book, BookEntry};
use crate::command::{MarketAmount, OrderType, PlaceOrder, Side, StpMode, TimeInForce};
use crate::config::{SymbolStatus, MAX_ASSET_SUPPLY};
use crate::event::{
    CancelReason, Event, EventKind, OrderInfo, OrderStatus, RejectReason, RequestKind, Trade,
};
use crate::fees;
use crate::ids::{OrderId, TradeId};

/// Why the matching loop stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exit {
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
struct Taker {
    o: RestingOrder,
    limit: Option<u64>,
    tif: Option<TimeInForce>,
    kind: Option<RestingKind>,
    by_quote: bool,
    lots_left: u64,
    lots_is_balance: bool,
    quote_left: Option<u128>,
    quote_is_balance: bool,
}

impl Taker {
    fn sync_remaining(&mut self) {
        self.o.remaining_qty = if self.by_quote { 0 } else { self.lots_left };
    }

    fn matching_status(&self) -> OrderStatus {
        if !self.by_quote && self.lots_left == 0 {
            OrderStatus::Filled
        } else if self.o.executed_qty > 0 {
            OrderStatus::PartiallyFilled
        } else {
            OrderStatus::New
        }
    }

    /// Lots the taker can still take at `price`, and what limits it.
    fn cap(&self, price: u64, unit: u128) -> (u64, Exit) {
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

/// Whether a FOK order can fill completely (see the module docs).
fn fok_fillable<B: Book>(book: &B, req: &PlaceOrder, price: u64, qty: u64) -> bool {
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
    /// Request checks shared by placement and amendment. `amending` is the open order being
    /// amended (it may keep its client order id and does not count as a new open order).
    pub(super) fn check_order<B>(
        &self,
        m: &Market<B>,
        req: &PlaceOrder,
        amending: Option<OrderId>,
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
        let acc = self.accounts.get(&req.account);
        let open_count = acc.map_or(0, |a| a.open.len());
        if amending.is_none() && open_count >= self.max_open_orders as usize {
            return Err(RejectReason::TooManyOpenOrders);
        }
        match acc.and_then(|a| a.by_client_id.get(&req.client_order_id)) {
            Some(owner) if Some(*owner) != amending => Err(RejectReason::DuplicateClientOrderId),
            _ => Ok(()),
        }
    }

    /// Validates, freezes, matches and rests or expires a new order. On `Err` nothing changed
    /// and nothing was emitted.
    pub(super) fn place<B: Book>(
        &mut self,
        m: &mut Market<B>,
        req: &PlaceOrder,
        out: &mut Vec<Event>,
    ) -> Result<OrderId, RejectReason> {
        self.check_order(m, req, None)?;
        let (base, quote, lot) = (m.config.base, m.config.quote, m.config.lot_size);
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
            Side::Buy => quote,
            Side::Sell => base,
        };
        let available = self.balance(req.account, frozen_asset).available;
        let mut t = Taker {
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
        t.o.price = t.limit.unwrap_or(0);
        t.o.frozen = freeze;
        t.sync_remaining();
        self.freeze(req.account, frozen_asset, freeze);
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
        self.emit(out, EventKind::OrderAccepted { order: info, state });

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

    /// The matching loop. Returns why it stopped and the index in `out` of the taker's last
    /// trade event.
    fn match_taker<B: Book>(
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
    fn expire_maker<B: Book>(
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
        let Some(open) = self.close_order(order_id) else {
            debug_assert!(false, "remove_resting: unknown order");
            return;
        };
        let o = open.order;
        let total = m.book.remove(o.side, o.price, o.order_id, open.handle);
        self.touched_levels.push((o.symbol, o.side, o.price, total));
        let asset = match o.side {
            Side::Buy => m.config.quote,
            Side::Sell => m.config.base,
        };
        self.release(o.account, asset, o.frozen);
        self.emit(
            out,
            EventKind::OrderCancelled {
                order: o.update(status),
                reason,
            },
        );
    }

    /// STP DECREMENT of `qty` lots on both orders.
    fn decrement<B: Book>(
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

        let Some(open) = self.orders.get_mut(&maker.order_id) else {
            debug_assert!(false, "decrement: unknown maker");
            return;
        };
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
        let (maker_account, handle, maker_side) = (mo.account, open.handle, mo.side);
        let asset = match maker_side {
            Side::Buy => m.config.quote,
            Side::Sell => m.config.base,
        };
        self.release(maker_account, asset, surplus);
        self.emit(
            out,
            EventKind::SelfTradePrevented {
                symbol: t.o.symbol,
                account: t.o.account,
                taker_order_id: t.o.order_id,
                maker_order_id: maker.order_id,
                price: maker.price,
                qty,
                taker_state,
                maker_state,
            },
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
    fn trade<B: Book>(
        &mut self,
        m: &mut Market<B>,
        t: &mut Taker,
        maker: &BookEntry,
        qty: u64,
        out: &mut Vec<Event>,
    ) {
        let (unit, lot) = (m.unit, m.config.lot_size);
        let (base, quote) = (m.config.base, m.config.quote);
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
        let Some(open) = self.orders.get_mut(&maker.order_id) else {
            debug_assert!(false, "trade: unknown maker");
            return;
        };
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
        let (maker_account, handle, maker_side) = (mo.account, open.handle, mo.side);
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
        self.spend_frozen(buyer, quote, notional + buyer_fee);
        self.credit(buyer, base, base_qty);
        self.spend_frozen(seller, base, base_qty);
        self.credit(seller, quote, notional - seller_fee);
        let fee_account = self.fee_account;
        self.credit(fee_account, quote, buyer_fee + seller_fee);
        if maker_side == Side::Buy {
            self.release(maker_account, quote, maker_surplus);
        }

        let trade_id = TradeId(self.next_trade_id);
        self.next_trade_id += 1;
        self.emit(
            out,
            EventKind::Trade(Trade {
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
                fee_asset: quote,
                buy_state,
                sell_state,
            }),
        );
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
            Side::Buy => m.config.quote,
            Side::Sell => m.config.base,
        };
        let filled = match exit {
            Exit::Stp(_) => false,
            _ if !t.by_quote => t.lots_left == 0,
            Exit::Done => t.o.executed_qty > 0,
            _ => false,
        };
        if filled {
            self.release(t.o.account, frozen_asset, t.o.frozen);
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
            self.release(order.account, frozen_asset, order.frozen - required);
            order.frozen = required;
            let (handle, total) = m.book.insert(
                order.side,
                order.price,
                order.order_id,
                order.account,
                order.remaining_qty,
            );
            self.touched_levels
                .push((order.symbol, order.side, order.price, total));
            self.open_order(order, handle);
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
        frozen_asset: crate::ids::AssetId,
        reason: CancelReason,
        in_match: bool,
        out: &mut Vec<Event>,
    ) {
        self.release(t.o.account, frozen_asset, t.o.frozen);
        t.o.frozen = 0;
        let status = if in_match {
            OrderStatus::ExpiredInMatch
        } else {
            OrderStatus::Expired
        };
        self.emit(
            out,
            EventKind::OrderCancelled {
                order: t.o.update(status),
                reason,
            },
        );
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
            Some(m) => self.st.place(m, req, out),
            None => Err(RejectReason::UnknownSymbol),
        };
        if let Err(reason) = result {
            self.st.emit(
                out,
                EventKind::Rejected {
                    request: RequestKind::PlaceOrder,
                    account: Some(req.account),
                    symbol: Some(req.symbol),
                    client_order_id: Some(req.client_order_id),
                    reason,
                },
            );
        }
        result
    }
}

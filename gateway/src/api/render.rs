//! Responses rendered from one command's events (`node::CommandEvents`) and the order index.
//!
//! The index passed in must already have applied the batch (it is the node's projection,
//! read through `NodeHandle::query`, or a mirror fed the same batches): descriptions of
//! orders that are not in the batch's own events (price, type, original quantity, times)
//! come from it; states and fills come from the events, so a later command cannot leak into
//! this reply.
//!
//! Shapes follow Binance's WebSocket API: `order.place` ACK / RESULT / FULL, `order.cancel`,
//! `order.cancelReplace` (success, `-2021` with status 409 when exactly one half failed,
//! `-2022` with status 400 when both failed or the new order was not attempted, each with
//! `data.cancelResult`, `newOrderResult`, `cancelResponse`, `newOrderResponse`),
//! `openOrders.cancelAll` (an array; `-2011 "Unknown order sent."` when nothing was open),
//! `order.status` / `openOrders.status` (`-2013 "Order does not exist."` for an unknown,
//! evicted or foreign order) and `account.status`.
//!
//! Extension: when a cancel-replace amended the order in place (it kept its priority), the
//! success reply's `cancelResponse` and `newOrderResponse` both describe that one order
//! (same `orderId`): the former with the old client id as `origClientOrderId`, the latter
//! with the new client id; its status is the order's live status, not `CANCELED`.

use crate::api::failure::Failure;
use crate::api::markets::{Market, Markets};
use crate::api::order_index::{IndexedOrder, OrderIndex, OrderLookup};
use crate::api::orders::{
    side_text, stp_text, type_texts, CancelReplaceRequest, CancelRequest, ClientIdGen, NewOrder,
    RespType,
};
use crate::api::wire::{
    CancelBody, CancelReplaceBody, FillBody, HalfBody, OrderBody, OrderFigures, OrderResultBody,
};
use crate::errors::{from_reject, ApiError};
use crate::units::{format_units, SymbolUnits};
use matcher::event::{CancelOutcome, NewOrderOutcome, OrderInfo, RequestKind};
use matcher::{
    AccountId, AssetId, Balance, CancelTarget, ClientOrderId, EventKind, MarketAmount, OrderId,
    OrderState, OrderStatus, OrderType, SymbolId,
};
use node::CommandEvents;
use serde_json::{json, Value};

/// Binance text of an order status.
pub fn status_text(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::New => "NEW",
        OrderStatus::PartiallyFilled => "PARTIALLY_FILLED",
        OrderStatus::Filled => "FILLED",
        OrderStatus::Canceled => "CANCELED",
        OrderStatus::Expired => "EXPIRED",
        OrderStatus::ExpiredInMatch => "EXPIRED_IN_MATCH",
    }
}

/// One fill of an order, as the FULL response lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fill {
    /// Price, ticks.
    pub price: u64,
    /// Quantity, lots.
    pub qty: u64,
    /// Commission, quote minimal units.
    pub commission: u128,
    /// Trade id.
    pub trade_id: u64,
}

/// An order's state after the batch and its fills in it, traced from the events.
fn trace(
    batch: &CommandEvents,
    order_id: OrderId,
    mut state: OrderState,
) -> (OrderState, Vec<Fill>) {
    let mut fills = Vec::new();
    for e in &batch.events {
        match &e.kind {
            EventKind::Trade(t) if t.buy_order_id == order_id || t.sell_order_id == order_id => {
                let buyer = t.buy_order_id == order_id;
                state = if buyer { t.buy_state } else { t.sell_state };
                fills.push(Fill {
                    price: t.price,
                    qty: t.qty,
                    commission: if buyer { t.buyer_fee } else { t.seller_fee },
                    trade_id: t.trade_id.0,
                });
            }
            EventKind::OrderCancelled { order, .. } if order.order_id == order_id => {
                state = order.state;
            }
            EventKind::SelfTradePrevented(s) if s.taker_order_id == order_id => {
                state = s.taker_state;
            }
            EventKind::SelfTradePrevented(s) if s.maker_order_id == order_id => {
                state = s.maker_state;
            }
            _ => {}
        }
    }
    (state, fills)
}

fn limit_price(t: &OrderType) -> u64 {
    match t {
        OrderType::Limit { price, .. } | OrderType::LimitMaker { price, .. } => *price,
        OrderType::Market { .. } => 0,
    }
}

fn orig_quote(t: &OrderType) -> u128 {
    match t {
        OrderType::Market {
            amount: MarketAmount::Quote(q),
        } => *q,
        _ => 0,
    }
}

fn orig_qty(info: &OrderInfo, state: &OrderState) -> u64 {
    match info.order_type {
        OrderType::Limit { qty, .. } | OrderType::LimitMaker { qty, .. } => qty,
        OrderType::Market {
            amount: MarketAmount::Base(qty),
        } => qty,
        OrderType::Market { .. } => state.executed_qty,
    }
}

/// The `order.place` result for `newOrderRespType` (ACK / RESULT / FULL), or the matcher's
/// reject as its Binance error.
pub fn place_result<'m>(
    order: &NewOrder,
    account: AccountId,
    batch: &CommandEvents,
    markets: &'m Markets,
) -> Result<OrderBody<'m>, Failure> {
    for e in &batch.events {
        match &e.kind {
            EventKind::Rejected {
                request: RequestKind::PlaceOrder,
                reason,
                ..
            } => return Err(from_reject(*reason).into()),
            EventKind::OrderAccepted(a)
                if a.order.account == account
                    && a.order.client_order_id == order.client_order_id =>
            {
                let market = market_of(markets, a.order.symbol)?;
                return Ok(new_order_response(
                    market,
                    &a.order,
                    a.state,
                    order.resp_type,
                    batch,
                ));
            }
            _ => {}
        }
    }
    Err(missing_outcome("order.place", batch))
}

fn market_of(markets: &Markets, symbol: SymbolId) -> Result<&Market, Failure> {
    markets
        .get(symbol)
        .ok_or_else(|| ApiError::BadSymbol.into())
}

fn missing_outcome(method: &str, batch: &CommandEvents) -> Failure {
    tracing::error!(
        method,
        cmd_seq = batch.seq,
        "no outcome event for the request's command"
    );
    ApiError::Unknown.into()
}

/// The ACK / RESULT / FULL object of an accepted order, traced through the batch.
fn new_order_response<'m>(
    market: &'m Market,
    info: &OrderInfo,
    accepted: OrderState,
    resp_type: RespType,
    batch: &CommandEvents,
) -> OrderBody<'m> {
    let mut body = OrderBody {
        symbol: market.name(),
        order_id: info.order_id.0,
        client_order_id: info.client_order_id,
        transact_time: batch.ts_ms,
        result: None,
    };
    if resp_type == RespType::Ack {
        return body;
    }
    let u = &market.units;
    let (state, fills) = trace(batch, info.order_id, accepted);
    let fills = (resp_type == RespType::Full).then(|| {
        fills
            .iter()
            .map(|f| FillBody {
                price: u.price_text(f.price),
                qty: u.quantity_text(f.qty),
                commission: u.quote_text(f.commission),
                commission_asset: &market.quote.code,
                trade_id: f.trade_id,
            })
            .collect()
    });
    body.result = Some(OrderResultBody {
        figures: figures(u, info, orig_qty(info, &state), &state),
        working_time: batch.ts_ms,
        stp: stp_text(info.stp),
        fills,
    });
    body
}

/// The `order.test` result: `{}`, or with `computeCommissionRates` the symbol's rates (no
/// tax, no discount).
pub fn test_result(order: &NewOrder, compute_commission_rates: bool, markets: &Markets) -> Value {
    let Some(m) = markets
        .get(order.symbol)
        .filter(|_| compute_commission_rates)
    else {
        return json!({});
    };
    let zero = format_units(0, 6);
    json!({
        "standardCommissionForOrder": {
            "maker": format_units(u128::from(m.config.maker_fee_ppm), 6),
            "taker": format_units(u128::from(m.config.taker_fee_ppm), 6),
        },
        "taxCommissionForOrder": {"maker": zero, "taker": zero},
        "discount": {
            "enabledForAccount": false,
            "enabledForSymbol": false,
            "discountAsset": null,
            "discount": zero,
        },
    })
}

/// The cancel object of an order (`order.cancel`, `cancelResponse`, `openOrders.cancelAll`).
fn cancel_object<'m>(
    market: &'m Market,
    desc: &IndexedOrder,
    orig_client: &ClientOrderId,
    cancel_client: &ClientOrderId,
    state: &OrderState,
    ts: u64,
) -> CancelBody<'m> {
    let info = &desc.info;
    CancelBody {
        symbol: market.name(),
        orig_client_order_id: *orig_client,
        order_id: info.order_id.0,
        client_order_id: *cancel_client,
        transact_time: ts,
        figures: figures(&market.units, info, desc.orig_qty, state),
        stp: stp_text(info.stp),
    }
}

/// The members an order's RESULT and its cancel object share, for `state`.
fn figures(u: &SymbolUnits, info: &OrderInfo, orig_qty: u64, state: &OrderState) -> OrderFigures {
    let (type_text, tif) = type_texts(&info.order_type);
    OrderFigures {
        price: u.price_text(limit_price(&info.order_type)),
        orig_qty: u.quantity_text(orig_qty),
        executed_qty: u.quantity_text(state.executed_qty),
        orig_quote_order_qty: u.quote_text(orig_quote(&info.order_type)),
        cummulative_quote_qty: u.quote_text(state.cum_quote),
        status: status_text(state.status),
        time_in_force: tif,
        order_type: type_text,
        side: side_text(info.side),
    }
}

fn described(
    index: &impl OrderLookup,
    account: AccountId,
    order_id: OrderId,
) -> Result<&IndexedOrder, Failure> {
    index.order(account, order_id).ok_or_else(|| {
        tracing::error!(order_id = order_id.0, "order missing from the order index");
        ApiError::Unknown.into()
    })
}

/// The `order.cancel` result, or `-2011 "Unknown order sent."`.
pub fn cancel_result<'m>(
    req: &CancelRequest,
    account: AccountId,
    batch: &CommandEvents,
    markets: &'m Markets,
    index: &impl OrderLookup,
) -> Result<CancelBody<'m>, Failure> {
    for e in &batch.events {
        match &e.kind {
            EventKind::Rejected {
                request: RequestKind::Cancel,
                reason,
                ..
            } => return Err(from_reject(*reason).into()),
            EventKind::OrderCancelled { order, .. } if order.account == account => {
                let market = market_of(markets, order.symbol)?;
                let desc = described(index, account, order.order_id)?;
                return Ok(cancel_object(
                    market,
                    desc,
                    &order.client_order_id,
                    &req.cancel_client_order_id,
                    &order.state,
                    batch.ts_ms,
                ));
            }
            _ => {}
        }
    }
    Err(missing_outcome("order.cancel", batch))
}

/// The `openOrders.cancelAll` result: one cancel object per cancelled order (each with a
/// generated `clientOrderId`), or `-2011 "Unknown order sent."` when none was open.
pub fn cancel_all_result<'m>(
    account: AccountId,
    batch: &CommandEvents,
    markets: &'m Markets,
    index: &impl OrderLookup,
    ids: &mut ClientIdGen,
) -> Result<Vec<CancelBody<'m>>, Failure> {
    let mut out = Vec::new();
    for e in &batch.events {
        match &e.kind {
            EventKind::Rejected {
                request: RequestKind::CancelAll,
                reason,
                ..
            } => return Err(from_reject(*reason).into()),
            EventKind::OrderCancelled { order, .. } if order.account == account => {
                let market = market_of(markets, order.symbol)?;
                let desc = described(index, account, order.order_id)?;
                out.push(cancel_object(
                    market,
                    desc,
                    &order.client_order_id,
                    &ids.next_id(),
                    &order.state,
                    batch.ts_ms,
                ));
            }
            _ => {}
        }
    }
    if out.is_empty() {
        return Err(Failure::unknown_order_cancel());
    }
    Ok(out)
}

/// The `order.cancelReplace` result, or its `-2021` / `-2022` failure with `data`.
pub fn cancel_replace_result<'m>(
    req: &CancelReplaceRequest,
    account: AccountId,
    batch: &CommandEvents,
    markets: &'m Markets,
    index: &impl OrderLookup,
) -> Result<CancelReplaceBody<'m>, Failure> {
    let Some(cr) = batch.events.iter().find_map(|e| match &e.kind {
        EventKind::CancelReplaced(cr) if cr.account == account => Some(cr),
        _ => None,
    }) else {
        return Err(missing_outcome("order.cancelReplace", batch));
    };
    let market = market_of(markets, cr.symbol)?;
    let cancel_response = match &cr.cancel {
        CancelOutcome::Cancelled(u) => {
            let desc = described(index, account, u.order_id)?;
            HalfBody::Done(cancel_object(
                market,
                desc,
                &u.client_order_id,
                &req.cancel.cancel_client_order_id,
                &u.state,
                batch.ts_ms,
            ))
        }
        CancelOutcome::Amended {
            order,
            old_client_order_id,
        } => {
            let desc = described(index, account, order.order_id)?;
            HalfBody::Done(cancel_object(
                market,
                desc,
                old_client_order_id,
                &req.cancel.cancel_client_order_id,
                &order.state,
                batch.ts_ms,
            ))
        }
        CancelOutcome::Failed(reason) => failed_half(*reason),
    };
    let cancel_ok = matches!(cancel_response, HalfBody::Done(_));
    let (new_result, new_response) = match &cr.new_order {
        NewOrderOutcome::Placed(a) => (
            "SUCCESS",
            HalfBody::Done(new_order_response(
                market,
                &a.order,
                a.state,
                req.new_order.resp_type,
                batch,
            )),
        ),
        NewOrderOutcome::Amended => match &cr.cancel {
            CancelOutcome::Amended { order, .. } => {
                let desc = described(index, account, order.order_id)?;
                let mut info = desc.info;
                info.client_order_id = order.client_order_id;
                // The amended order's original quantity is executed + new remaining.
                if let OrderType::Limit { qty, .. } | OrderType::LimitMaker { qty, .. } =
                    &mut info.order_type
                {
                    *qty = desc.orig_qty;
                }
                (
                    "SUCCESS",
                    HalfBody::Done(new_order_response(
                        market,
                        &info,
                        order.state,
                        req.new_order.resp_type,
                        batch,
                    )),
                )
            }
            _ => return Err(missing_outcome("order.cancelReplace", batch)),
        },
        NewOrderOutcome::Failed { reason, .. } => ("FAILURE", failed_half(*reason)),
        NewOrderOutcome::NotAttempted => ("NOT_ATTEMPTED", HalfBody::NotAttempted),
    };
    let body = CancelReplaceBody {
        cancel_result: if cancel_ok { "SUCCESS" } else { "FAILURE" },
        new_order_result: new_result,
        cancel_response,
        new_order_response: new_response,
    };
    match (cancel_ok, new_result) {
        (true, "SUCCESS") => Ok(body),
        (true, _) | (false, "SUCCESS") => Err(Failure::cancel_replace_partial(data_value(&body))),
        (false, _) => Err(Failure::cancel_replace_failed(data_value(&body))),
    }
}

/// The error object of a cancel-replace half the matcher refused.
fn failed_half<T>(reason: matcher::RejectReason) -> HalfBody<T> {
    let f = Failure::from(from_reject(reason));
    HalfBody::Failed {
        code: f.code,
        msg: f.msg,
    }
}

/// A failure's `data` as a JSON value (serializing plain strings and integers cannot fail).
fn data_value(body: &CancelReplaceBody<'_>) -> Value {
    serde_json::from_str(&crate::api::wire::to_json_text(body)).unwrap_or(Value::Null)
}

/// The order object of `order.status` / `openOrders.status`.
pub fn order_object(market: &Market, o: &IndexedOrder) -> Value {
    let u = &market.units;
    let info = &o.info;
    let (type_text, tif) = type_texts(&info.order_type);
    json!({
        "symbol": market.name(),
        "orderId": info.order_id.0,
        "orderListId": -1,
        "clientOrderId": o.client_order_id.as_str(),
        "price": u.format_price(limit_price(&info.order_type)),
        "origQty": u.format_quantity(o.orig_qty),
        "executedQty": u.format_quantity(o.state.executed_qty),
        "cummulativeQuoteQty": u.format_quote(o.state.cum_quote),
        "status": status_text(o.state.status),
        "timeInForce": tif,
        "type": type_text,
        "side": side_text(info.side),
        "stopPrice": u.format_price(0),
        "icebergQty": u.format_quantity(0),
        "time": o.time_ms,
        "updateTime": o.update_time_ms,
        "isWorking": o.is_open(),
        "workingTime": o.working_time_ms,
        "origQuoteOrderQty": u.format_quote(orig_quote(&info.order_type)),
        "selfTradePreventionMode": stp_text(info.stp),
    })
}

/// The `order.status` result, or `-2013 "Order does not exist."` (unknown, evicted, on
/// another symbol, or another account's).
pub fn order_status(
    account: AccountId,
    symbol: SymbolId,
    target: &CancelTarget,
    markets: &Markets,
    index: &OrderIndex,
) -> Result<Value, Failure> {
    let found = match target {
        CancelTarget::OrderId(id) => index.get(account, *id).filter(|o| o.info.symbol == symbol),
        CancelTarget::ClientOrderId(c) => index.by_client_id(account, symbol, c),
    };
    let o = found.ok_or_else(|| Failure::from(ApiError::NoSuchOrder))?;
    Ok(order_object(market_of(markets, symbol)?, o))
}

/// The `openOrders.status` result: the account's open orders by ascending id.
pub fn open_orders_status(
    account: AccountId,
    symbol: Option<SymbolId>,
    markets: &Markets,
    index: &OrderIndex,
) -> Value {
    Value::Array(
        index
            .open_orders(account, symbol)
            .into_iter()
            .filter_map(|o| markets.get(o.info.symbol).map(|m| order_object(m, o)))
            .collect(),
    )
}

/// Account-level commission rates shown by `account.status`, parts per million. Fees are
/// per symbol in this exchange; the server chooses what to show here (e.g. its default
/// symbol rates).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommissionRates {
    /// Maker rate, ppm.
    pub maker_ppm: u32,
    /// Taker rate, ppm.
    pub taker_ppm: u32,
}

/// The `account.status` result. `balances` are the account's balances by asset (e.g.
/// `Engine::balances`); every asset of the catalogue is listed (zero when absent) unless
/// `omit_zero_balances`. `uid` is the account id; `updateTime` is `update_time_ms`.
pub fn account_status(
    account: AccountId,
    balances: &[(AssetId, Balance)],
    markets: &Markets,
    omit_zero_balances: bool,
    rates: CommissionRates,
    update_time_ms: u64,
) -> Value {
    let list: Vec<Value> = markets
        .assets()
        .filter_map(|a| {
            let b = balances
                .iter()
                .find(|(id, _)| *id == a.id)
                .map(|(_, b)| *b)
                .unwrap_or_default();
            if omit_zero_balances && b.available == 0 && b.frozen == 0 {
                return None;
            }
            Some(json!({
                "asset": a.code,
                "free": format_units(b.available, a.scale),
                "locked": format_units(b.frozen, a.scale),
            }))
        })
        .collect();
    let rate = |ppm: u32| format_units(u128::from(ppm), 6);
    json!({
        "makerCommission": rates.maker_ppm / 100,
        "takerCommission": rates.taker_ppm / 100,
        "buyerCommission": 0,
        "sellerCommission": 0,
        "canTrade": true,
        "canWithdraw": true,
        "canDeposit": true,
        "commissionRates": {
            "maker": rate(rates.maker_ppm),
            "taker": rate(rates.taker_ppm),
            "buyer": rate(0),
            "seller": rate(0),
        },
        "brokered": false,
        "requireSelfTradePrevention": false,
        "preventSor": false,
        "updateTime": update_time_ms,
        "accountType": "SPOT",
        "balances": list,
        "permissions": ["SPOT"],
        "uid": account.0,
    })
}

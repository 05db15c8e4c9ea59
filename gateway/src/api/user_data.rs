//! User data pushes from one command's events: `executionReport` for every order of an
//! account the command touched, in event order, and one `outboundAccountPosition` with the
//! account's changed balances; wrapped as the WebSocket API pushes them for
//! `userDataStream.subscribe`: `{"subscriptionId": N, "event": {..}}`.
//!
//! Mapping from matcher events (`x` execution type / `X` status):
//! * `OrderAccepted`, and the new order of a cancel-replace: `NEW`;
//! * `Trade`: `TRADE` for the buyer's and the seller's order (`m` tells the maker);
//! * `OrderCancelled`: `CANCELED` for cancel / cancel-all / replaced, `EXPIRED` for IOC / FOK
//!   / MARKET remainders, `TRADE_PREVENTION` with status `EXPIRED_IN_MATCH` for STP expiries
//!   (with `v`, the prevented match id = the event's sequence);
//! * `SelfTradePrevented` (DECREMENT): `TRADE_PREVENTION` for both orders, with `A` (total
//!   prevented quantity), `B` (this decrement), `U` (the counter order) and `v`;
//! * cancel-replace amended in place: `REPLACED`, `C` = the old client id.
//!
//! Not rendered: Binance's `REJECTED` report for a cancel-replace whose new order failed
//! (the event carries only the rejected order's client id); rejected `order.place` requests
//! (Binance sends no report for them either).
//!
//! `I` (execution id) is the matcher event's global sequence (the buyer's and seller's
//! reports of one trade share it); `E` and `T` are the command's timestamp. For cancels `c`
//! and `C` are both the order's client id (the cancel request's own id is not journaled).
//! The order index passed in must already have applied the batch.

use crate::api::markets::{Market, Markets};
use crate::api::order_index::{IndexedOrder, OrderLookup};
use crate::api::orders::{side_text, stp_text, type_texts};
use crate::api::render::status_text;
use crate::units::format_units;
use matcher::event::{CancelOutcome, NewOrderOutcome, OrderInfo};
use matcher::{
    AccountId, CancelReason, ClientOrderId, Event, EventKind, MarketAmount, OrderId, OrderState,
    OrderType,
};
use node::CommandEvents;
use serde_json::{json, Value};

/// The accounts whose orders or balances the batch touched, ascending, each once.
pub fn touched_accounts(batch: &CommandEvents) -> Vec<AccountId> {
    let mut out = Vec::new();
    for e in &batch.events {
        match &e.kind {
            EventKind::OrderAccepted(a) => out.push(a.order.account),
            EventKind::Trade(t) => {
                out.push(t.buyer);
                out.push(t.seller);
            }
            EventKind::OrderCancelled { order, .. } => out.push(order.account),
            EventKind::SelfTradePrevented(s) => out.push(s.account),
            EventKind::CancelReplaced(cr) => out.push(cr.account),
            EventKind::Balance { account, .. } => out.push(*account),
            _ => {}
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Wraps a user-data event as the WebSocket API pushes it.
pub fn push(subscription_id: u64, event: &Value) -> String {
    json!({"subscriptionId": subscription_id, "event": event}).to_string()
}

/// What one report says beyond the order's description.
struct Report<'a> {
    event: &'a Event,
    order: OrderId,
    /// The client id when the event carries it (trades and decrements do not).
    client: Option<ClientOrderId>,
    orig_client: Option<ClientOrderId>,
    exec_type: &'static str,
    state: OrderState,
    last: Option<LastFill>,
    /// STP: `(this decrement's quantity, the counter order)`; `(0, None)` for an expiry.
    prevented: Option<(u64, Option<OrderId>)>,
}

struct LastFill {
    price: u64,
    qty: u64,
    quote: u128,
    fee: u128,
    trade_id: u64,
    maker: bool,
}

/// The `executionReport` payloads (the `event` objects) for `account`'s orders in the batch,
/// in event order.
pub fn execution_reports(
    batch: &CommandEvents,
    account: AccountId,
    markets: &Markets,
    index: &impl OrderLookup,
) -> Vec<Value> {
    let mut reports = Vec::new();
    for e in &batch.events {
        collect(e, account, &mut reports);
    }
    reports
        .into_iter()
        .filter_map(|r| {
            let Some(desc) = index.order(account, r.order) else {
                tracing::warn!(
                    order_id = r.order.0,
                    "execution report for an order missing from the index"
                );
                return None;
            };
            let market = markets.get(desc.info.symbol)?;
            Some(render(&r, desc, market, batch.ts_ms))
        })
        .collect()
}

fn accepted<'a>(e: &'a Event, info: &OrderInfo, state: OrderState) -> Report<'a> {
    Report {
        event: e,
        order: info.order_id,
        client: Some(info.client_order_id),
        orig_client: None,
        exec_type: "NEW",
        state,
        last: None,
        prevented: None,
    }
}

fn collect<'a>(e: &'a Event, account: AccountId, out: &mut Vec<Report<'a>>) {
    match &e.kind {
        EventKind::OrderAccepted(a) if a.order.account == account => {
            out.push(accepted(e, &a.order, a.state));
        }
        EventKind::Trade(t) => {
            for (acc, id, state, fee, is_buyer) in [
                (t.buyer, t.buy_order_id, t.buy_state, t.buyer_fee, true),
                (t.seller, t.sell_order_id, t.sell_state, t.seller_fee, false),
            ] {
                if acc != account {
                    continue;
                }
                let taker_is_buyer = t.taker_side == matcher::Side::Buy;
                out.push(Report {
                    event: e,
                    order: id,
                    client: None,
                    orig_client: None,
                    exec_type: "TRADE",
                    state,
                    last: Some(LastFill {
                        price: t.price,
                        qty: t.qty,
                        quote: t.quote_qty,
                        fee,
                        trade_id: t.trade_id.0,
                        maker: is_buyer != taker_is_buyer,
                    }),
                    prevented: None,
                });
            }
        }
        EventKind::OrderCancelled { order, reason } if order.account == account => {
            let (exec_type, prevented) = match reason {
                CancelReason::UserCancel | CancelReason::CancelAll | CancelReason::Replaced => {
                    ("CANCELED", None)
                }
                CancelReason::StpExpireTaker
                | CancelReason::StpExpireMaker
                | CancelReason::StpExpireBoth
                | CancelReason::StpDecrement => ("TRADE_PREVENTION", Some((0, None))),
                _ => ("EXPIRED", None),
            };
            out.push(Report {
                event: e,
                order: order.order_id,
                client: Some(order.client_order_id),
                orig_client: (exec_type == "CANCELED").then_some(order.client_order_id),
                exec_type,
                state: order.state,
                last: None,
                prevented,
            });
        }
        EventKind::SelfTradePrevented(s) if s.account == account => {
            for (id, counter, state) in [
                (s.taker_order_id, s.maker_order_id, s.taker_state),
                (s.maker_order_id, s.taker_order_id, s.maker_state),
            ] {
                out.push(Report {
                    event: e,
                    order: id,
                    client: None,
                    orig_client: None,
                    exec_type: "TRADE_PREVENTION",
                    state,
                    last: None,
                    prevented: Some((s.qty, Some(counter))),
                });
            }
        }
        EventKind::CancelReplaced(cr) if cr.account == account => {
            match &cr.cancel {
                CancelOutcome::Cancelled(u) => out.push(Report {
                    event: e,
                    order: u.order_id,
                    client: Some(u.client_order_id),
                    orig_client: Some(u.client_order_id),
                    exec_type: "CANCELED",
                    state: u.state,
                    last: None,
                    prevented: None,
                }),
                CancelOutcome::Amended {
                    order,
                    old_client_order_id,
                } => out.push(Report {
                    event: e,
                    order: order.order_id,
                    client: Some(order.client_order_id),
                    orig_client: Some(*old_client_order_id),
                    exec_type: "REPLACED",
                    state: order.state,
                    last: None,
                    prevented: None,
                }),
                CancelOutcome::Failed(_) => {}
            }
            if let NewOrderOutcome::Placed(a) = &cr.new_order {
                out.push(accepted(e, &a.order, a.state));
            }
        }
        _ => {}
    }
}

fn render(r: &Report<'_>, desc: &IndexedOrder, market: &Market, ts: u64) -> Value {
    let u = &market.units;
    let info = &desc.info;
    // Trades and decrements do not carry the client id: the index's current one is right,
    // because only an amendment changes it and that is reported as REPLACED with its own.
    let client = r.client.unwrap_or(desc.client_order_id);
    let (type_text, tif) = type_texts(&info.order_type);
    let (price, quote_qty) = match info.order_type {
        OrderType::Limit { price, .. } | OrderType::LimitMaker { price, .. } => (price, 0),
        OrderType::Market {
            amount: MarketAmount::Quote(q),
        } => (0, q),
        OrderType::Market { .. } => (0, 0),
    };
    let on_book = !r.state.status.is_final()
        && !matches!(info.order_type, OrderType::Market { .. })
        && r.state.remaining_qty > 0;
    let last = r.last.as_ref();
    let mut obj = json!({
        "e": "executionReport",
        "E": ts,
        "s": market.name(),
        "c": client.as_str(),
        "S": side_text(info.side),
        "o": type_text,
        "f": tif,
        "q": u.format_quantity(desc.orig_qty),
        "p": u.format_price(price),
        "P": u.format_price(0),
        "F": u.format_quantity(0),
        "g": -1,
        "C": r.orig_client.map(|c| c.as_str().to_string()).unwrap_or_default(),
        "x": r.exec_type,
        "X": status_text(r.state.status),
        "r": "NONE",
        "i": r.order.0,
        "l": u.format_quantity(last.map_or(0, |l| l.qty)),
        "z": u.format_quantity(r.state.executed_qty),
        "L": u.format_price(last.map_or(0, |l| l.price)),
        "n": u.format_quote(last.map_or(0, |l| l.fee)),
        "N": last.map(|_| market.quote.code.clone()),
        "T": ts,
        "t": last.map_or(-1, |l| i64::try_from(l.trade_id).unwrap_or(i64::MAX)),
        "I": r.event.seq,
        "w": on_book,
        "m": last.is_some_and(|l| l.maker),
        "M": false,
        "O": desc.time_ms,
        "Z": u.format_quote(r.state.cum_quote),
        "Y": u.format_quote(last.map_or(0, |l| l.quote)),
        "Q": u.format_quote(quote_qty),
    });
    if let Value::Object(map) = &mut obj {
        if on_book {
            map.insert("W".into(), json!(desc.working_time_ms));
        }
        map.insert("V".into(), json!(stp_text(info.stp)));
        if let Some((qty, counter)) = r.prevented {
            map.insert("v".into(), json!(r.event.seq));
            if let Some(counter) = counter {
                map.insert("A".into(), json!(u.format_quantity(r.state.prevented_qty)));
                map.insert("B".into(), json!(u.format_quantity(qty)));
                map.insert("U".into(), json!(counter.0));
            }
        }
    }
    obj
}

/// The `outboundAccountPosition` payload for `account`'s balances changed by the batch
/// (`None` when none changed): `{"e","E","u","B":[{"a","f","l"}]}` by ascending asset id.
pub fn account_position(
    batch: &CommandEvents,
    account: AccountId,
    markets: &Markets,
) -> Option<Value> {
    let balances: Vec<Value> = batch
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Balance {
                account: a,
                asset,
                available,
                frozen,
            } if *a == account => markets.asset(*asset).map(|cfg| {
                json!({
                    "a": cfg.code,
                    "f": format_units(*available, cfg.scale),
                    "l": format_units(*frozen, cfg.scale),
                })
            }),
            _ => None,
        })
        .collect();
    if balances.is_empty() {
        return None;
    }
    Some(json!({
        "e": "outboundAccountPosition",
        "E": batch.ts_ms,
        "u": batch.ts_ms,
        "B": balances,
    }))
}

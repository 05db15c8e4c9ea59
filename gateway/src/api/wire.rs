//! Typed bodies of the hot responses (`order.place`, `order.cancel`, `order.cancelReplace`,
//! `openOrders.cancelAll`), written straight to JSON text in Binance's member order.
//!
//! Building these as `serde_json::Value`s cost an ordered map (an allocation per key, a hash
//! per insert) per object, and was the largest single cost of an order's round trip. Through
//! serde's serializer each member still cost its state machine and an escape scan of its
//! name; here every member name is a literal, and values are written as they are (numbers
//! by `itoa`, strings escaped only when they hold something JSON must escape, which ids,
//! symbols and decimals never do). The bodies borrow names from the markets, hold client ids
//! as the matcher's inline ids and decimals as inline [`DecimalText`]s, so building one
//! allocates nothing but its fills.

use crate::api::envelope::RateLimitStatus;
use crate::units::DecimalText;
use matcher::ClientOrderId;

/// A value that writes itself as JSON text.
pub trait WriteJson {
    /// Appends the JSON text of `self` to `out`.
    fn write_json(&self, out: &mut Vec<u8>);
}

/// A JSON string, escaped as serde_json escapes it.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Writing to memory cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

/// An unsigned integer.
pub(crate) fn write_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

fn write_i64(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// `,"name":` then the value: `name` is a literal member name (no escaping needed).
fn member(out: &mut Vec<u8>, name: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
}

/// `,"name":"value"` (see [`member`] and [`write_str`]).
fn str_member(out: &mut Vec<u8>, name: &str, value: &str) {
    member(out, name);
    write_str(out, value);
}

/// `,"name":n`.
fn u64_member(out: &mut Vec<u8>, name: &str, n: u64) {
    member(out, name);
    write_u64(out, n);
}

/// `{"rateLimitType","interval","intervalNum","limit","count"}`, as every response carries it.
impl WriteJson for RateLimitStatus {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"rateLimitType\":\"");
        out.extend_from_slice(self.limit.rate_limit_type.as_str().as_bytes());
        out.push(b'"');
        str_member(out, "interval", self.limit.interval.as_str());
        u64_member(out, "intervalNum", u64::from(self.limit.interval_num));
        u64_member(out, "limit", self.limit.limit);
        u64_member(out, "count", self.count);
        out.push(b'}');
    }
}

/// One fill of a FULL `order.place` response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FillBody<'a> {
    /// Price.
    pub price: DecimalText,
    /// Quantity.
    pub qty: DecimalText,
    /// Commission.
    pub commission: DecimalText,
    /// Commission asset code.
    pub commission_asset: &'a str,
    /// Trade id.
    pub trade_id: u64,
}

impl WriteJson for FillBody<'_> {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"price\":");
        write_str(out, &self.price);
        str_member(out, "qty", &self.qty);
        str_member(out, "commission", &self.commission);
        str_member(out, "commissionAsset", self.commission_asset);
        u64_member(out, "tradeId", self.trade_id);
        out.push(b'}');
    }
}

/// The members an order's RESULT and its cancel object share, `price` to `side`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderFigures {
    /// Limit price (`0.00..` for market orders).
    pub price: DecimalText,
    /// Original quantity.
    pub orig_qty: DecimalText,
    /// Executed quantity.
    pub executed_qty: DecimalText,
    /// Original quote quantity (market orders by quote).
    pub orig_quote_order_qty: DecimalText,
    /// Cumulative quote quantity.
    pub cummulative_quote_qty: DecimalText,
    /// Status text.
    pub status: &'static str,
    /// Time in force text.
    pub time_in_force: &'static str,
    /// Type text.
    pub order_type: &'static str,
    /// Side text.
    pub side: &'static str,
}

impl OrderFigures {
    /// `,"price":..` to `,"side":..`.
    fn write_members(&self, out: &mut Vec<u8>) {
        str_member(out, "price", &self.price);
        str_member(out, "origQty", &self.orig_qty);
        str_member(out, "executedQty", &self.executed_qty);
        str_member(out, "origQuoteOrderQty", &self.orig_quote_order_qty);
        str_member(out, "cummulativeQuoteQty", &self.cummulative_quote_qty);
        str_member(out, "status", self.status);
        str_member(out, "timeInForce", self.time_in_force);
        str_member(out, "type", self.order_type);
        str_member(out, "side", self.side);
    }
}

/// The RESULT part of an order response (absent for ACK).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderResultBody<'a> {
    /// `price` to `side`.
    pub figures: OrderFigures,
    /// Working time, ms.
    pub working_time: u64,
    /// Self-trade prevention mode text.
    pub stp: &'static str,
    /// Fills (FULL only).
    pub fills: Option<Vec<FillBody<'a>>>,
}

/// An `order.place` result (ACK, RESULT or FULL), also `newOrderResponse` of a
/// cancel-replace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderBody<'a> {
    /// Symbol name.
    pub symbol: &'a str,
    /// Order id.
    pub order_id: u64,
    /// Client order id.
    pub client_order_id: ClientOrderId,
    /// Transaction time, ms.
    pub transact_time: u64,
    /// RESULT / FULL fields.
    pub result: Option<OrderResultBody<'a>>,
}

impl WriteJson for OrderBody<'_> {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"symbol\":");
        write_str(out, self.symbol);
        u64_member(out, "orderId", self.order_id);
        out.extend_from_slice(b",\"orderListId\":-1");
        str_member(out, "clientOrderId", self.client_order_id.as_str());
        u64_member(out, "transactTime", self.transact_time);
        if let Some(r) = &self.result {
            r.figures.write_members(out);
            u64_member(out, "workingTime", r.working_time);
            str_member(out, "selfTradePreventionMode", r.stp);
            if let Some(fills) = &r.fills {
                member(out, "fills");
                fills.as_slice().write_json(out);
            }
        }
        out.push(b'}');
    }
}

/// The cancel object of an order (`order.cancel`, `cancelResponse`, `openOrders.cancelAll`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CancelBody<'a> {
    /// Symbol name.
    pub symbol: &'a str,
    /// The order's client id before the cancel.
    pub orig_client_order_id: ClientOrderId,
    /// Order id.
    pub order_id: u64,
    /// The cancel request's client id.
    pub client_order_id: ClientOrderId,
    /// Transaction time, ms.
    pub transact_time: u64,
    /// `price` to `side`.
    pub figures: OrderFigures,
    /// Self-trade prevention mode text.
    pub stp: &'static str,
}

impl WriteJson for CancelBody<'_> {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"symbol\":");
        write_str(out, self.symbol);
        str_member(out, "origClientOrderId", self.orig_client_order_id.as_str());
        u64_member(out, "orderId", self.order_id);
        out.extend_from_slice(b",\"orderListId\":-1");
        str_member(out, "clientOrderId", self.client_order_id.as_str());
        u64_member(out, "transactTime", self.transact_time);
        self.figures.write_members(out);
        str_member(out, "selfTradePreventionMode", self.stp);
        out.push(b'}');
    }
}

impl<T: WriteJson> WriteJson for [T] {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.push(b'[');
        for (i, item) in self.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            item.write_json(out);
        }
        out.push(b']');
    }
}

/// One half of a cancel-replace's `data`: the response, or the error object of the half that
/// failed, or `null` (a new order that was not attempted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HalfBody<T> {
    /// The half succeeded.
    Done(T),
    /// The half failed: `{"code","msg"}`.
    Failed {
        /// Binance code.
        code: i32,
        /// Message.
        msg: String,
    },
    /// Not attempted: `null`.
    NotAttempted,
}

impl<T: WriteJson> WriteJson for HalfBody<T> {
    fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            HalfBody::Done(t) => t.write_json(out),
            HalfBody::Failed { code, msg } => {
                out.extend_from_slice(b"{\"code\":");
                write_i64(out, i64::from(*code));
                str_member(out, "msg", msg);
                out.push(b'}');
            }
            HalfBody::NotAttempted => out.extend_from_slice(b"null"),
        }
    }
}

/// The `order.cancelReplace` result, and the `data` of its `-2021` / `-2022` failures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CancelReplaceBody<'a> {
    /// `SUCCESS` or `FAILURE`.
    pub cancel_result: &'static str,
    /// `SUCCESS`, `FAILURE` or `NOT_ATTEMPTED`.
    pub new_order_result: &'static str,
    /// The cancel half.
    pub cancel_response: HalfBody<CancelBody<'a>>,
    /// The new-order half.
    pub new_order_response: HalfBody<OrderBody<'a>>,
}

impl WriteJson for CancelReplaceBody<'_> {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"cancelResult\":");
        write_str(out, self.cancel_result);
        str_member(out, "newOrderResult", self.new_order_result);
        member(out, "cancelResponse");
        self.cancel_response.write_json(out);
        member(out, "newOrderResponse");
        self.new_order_response.write_json(out);
        out.push(b'}');
    }
}

/// The JSON text of `value`.
pub fn to_json_text<T: WriteJson + ?Sized>(value: &T) -> String {
    let mut out = Vec::with_capacity(512);
    value.write_json(&mut out);
    // Only UTF-8 is ever written (literals, `&str`s, serde_json's escapes).
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::units::units_text;

    fn id(text: &str) -> ClientOrderId {
        ClientOrderId::new(text).unwrap()
    }

    /// `units` with two decimals, as a price in a quote asset of scale 2 prints.
    fn d2(units: u128) -> DecimalText {
        units_text(units, 2)
    }

    /// `units` with five decimals.
    fn d5(units: u128) -> DecimalText {
        units_text(units, 5)
    }

    fn order(result: bool, fills: bool) -> OrderBody<'static> {
        OrderBody {
            symbol: "BTCUSDT",
            order_id: 12,
            client_order_id: id("c1"),
            transact_time: 1_700_000_000_000,
            result: result.then(|| OrderResultBody {
                figures: OrderFigures {
                    price: d2(10_000),
                    orig_qty: d5(50_000),
                    executed_qty: d5(20_000),
                    orig_quote_order_qty: d2(0),
                    cummulative_quote_qty: d2(2_000),
                    status: "PARTIALLY_FILLED",
                    time_in_force: "GTC",
                    order_type: "LIMIT",
                    side: "BUY",
                },
                working_time: 1_700_000_000_000,
                stp: "NONE",
                fills: fills.then(|| {
                    vec![FillBody {
                        price: d2(10_000),
                        qty: d5(20_000),
                        commission: d2(2),
                        commission_asset: "USDT",
                        trade_id: 7,
                    }]
                }),
            }),
        }
    }

    fn cancel() -> CancelBody<'static> {
        CancelBody {
            symbol: "BTCUSDT",
            orig_client_order_id: id("c1"),
            order_id: 12,
            client_order_id: id("x9"),
            transact_time: 5,
            figures: OrderFigures {
                price: d2(10_000),
                orig_qty: d5(50_000),
                executed_qty: d5(0),
                orig_quote_order_qty: d2(0),
                cummulative_quote_qty: d2(0),
                status: "CANCELED",
                time_in_force: "GTC",
                order_type: "LIMIT",
                side: "SELL",
            },
            stp: "NONE",
        }
    }

    /// Every rate limit status, every type and interval, reads as serde writes it.
    #[test]
    fn rate_limits_as_serde_writes_them() {
        use crate::api::envelope::{RateLimit, RateLimitInterval, RateLimitType};
        let mut all = Vec::new();
        for (i, rate_limit_type) in [
            RateLimitType::RequestWeight,
            RateLimitType::Orders,
            RateLimitType::Connections,
        ]
        .into_iter()
        .enumerate()
        {
            for interval in [
                RateLimitInterval::Second,
                RateLimitInterval::Minute,
                RateLimitInterval::Day,
            ] {
                let n = u64::try_from(i).unwrap_or(0);
                all.push(RateLimitStatus {
                    limit: RateLimit {
                        rate_limit_type,
                        interval,
                        interval_num: 10 + u32::try_from(i).unwrap_or(0),
                        limit: 6000 + n,
                    },
                    count: u64::MAX - n,
                });
            }
        }
        assert_eq!(
            to_json_text(all.as_slice()),
            serde_json::to_string(&all).unwrap()
        );
        let none: &[RateLimitStatus] = &[];
        assert_eq!(to_json_text(none), "[]");
    }

    /// The exact text, member order included (Binance's order; a map would not show it).
    #[test]
    fn order_bodies_in_binance_member_order() {
        let ack = r#"{"symbol":"BTCUSDT","orderId":12,"orderListId":-1,"clientOrderId":"c1","transactTime":1700000000000"#;
        let result = r#","price":"100.00000000","origQty":"0.50000000","executedQty":"0.20000000","origQuoteOrderQty":"0.00000000","cummulativeQuoteQty":"20.00000000","status":"PARTIALLY_FILLED","timeInForce":"GTC","type":"LIMIT","side":"BUY","workingTime":1700000000000,"selfTradePreventionMode":"NONE""#;
        let fills = r#","fills":[{"price":"100.00000000","qty":"0.20000000","commission":"0.02000000","commissionAsset":"USDT","tradeId":7}]"#;
        assert_eq!(to_json_text(&order(false, false)), format!("{ack}}}"));
        assert_eq!(
            to_json_text(&order(true, false)),
            format!("{ack}{result}}}")
        );
        assert_eq!(
            to_json_text(&order(true, true)),
            format!("{ack}{result}{fills}}}")
        );
        assert_eq!(
            to_json_text(&cancel()),
            r#"{"symbol":"BTCUSDT","origClientOrderId":"c1","orderId":12,"orderListId":-1,"clientOrderId":"x9","transactTime":5,"price":"100.00000000","origQty":"0.50000000","executedQty":"0.00000000","origQuoteOrderQty":"0.00000000","cummulativeQuoteQty":"0.00000000","status":"CANCELED","timeInForce":"GTC","type":"LIMIT","side":"SELL","selfTradePreventionMode":"NONE"}"#
        );
    }

    #[test]
    fn cancel_replace_halves() {
        let body = CancelReplaceBody {
            cancel_result: "FAILURE",
            new_order_result: "NOT_ATTEMPTED",
            cancel_response: HalfBody::Failed {
                code: -2011,
                msg: "Unknown order sent.".into(),
            },
            new_order_response: HalfBody::NotAttempted,
        };
        assert_eq!(
            to_json_text(&body),
            r#"{"cancelResult":"FAILURE","newOrderResult":"NOT_ATTEMPTED","cancelResponse":{"code":-2011,"msg":"Unknown order sent."},"newOrderResponse":null}"#
        );
        let ok = CancelReplaceBody {
            cancel_result: "SUCCESS",
            new_order_result: "SUCCESS",
            cancel_response: HalfBody::Done(cancel()),
            new_order_response: HalfBody::Done(order(false, false)),
        };
        let text = to_json_text(&ok);
        assert!(text.starts_with(r#"{"cancelResult":"SUCCESS","newOrderResult":"SUCCESS","cancelResponse":{"symbol":"BTCUSDT","origClientOrderId":"c1""#));
        assert!(text.ends_with(r#""newOrderResponse":{"symbol":"BTCUSDT","orderId":12,"orderListId":-1,"clientOrderId":"c1","transactTime":1700000000000}}"#));
    }

    /// The envelope written by hand is exactly serde_json's text of the same response as a
    /// value, for every id type, with and without rate limits, and with strings that need
    /// escaping.
    #[test]
    fn written_responses_equal_serde_json_of_their_value() {
        use crate::api::{render_ok, render_ok_json};
        use serde_json::{json, Value};
        let limits = crate::api::envelope::sample_rate_limits();
        let bodies = [
            CancelReplaceBody {
                cancel_result: "FAILURE",
                new_order_result: "NOT_ATTEMPTED",
                cancel_response: HalfBody::Failed {
                    code: -2011,
                    msg: "Unknown \"order\"\n\tsent\\ \u{1} \u{e9}".into(),
                },
                new_order_response: HalfBody::NotAttempted,
            },
            CancelReplaceBody {
                cancel_result: "SUCCESS",
                new_order_result: "SUCCESS",
                cancel_response: HalfBody::Done(cancel()),
                new_order_response: HalfBody::Done(order(true, true)),
            },
        ];
        for body in &bodies {
            let value: Value = serde_json::from_str(&to_json_text(body)).unwrap();
            for id in [json!("a\"b\\c"), json!(7), json!(-1), Value::Null] {
                for limits in [&limits[..], &[]] {
                    assert_eq!(
                        render_ok_json(&id, body, limits),
                        render_ok(&id, &value, limits)
                    );
                }
            }
        }
        let list = [cancel(), cancel()];
        let value: Value = serde_json::from_str(&to_json_text(&list[..])).unwrap();
        assert_eq!(
            render_ok_json(&json!(1), &list[..], &limits),
            render_ok(&json!(1), &value, &limits)
        );
        assert_eq!(to_json_text::<[CancelBody<'_>]>(&[]), "[]");
    }
}

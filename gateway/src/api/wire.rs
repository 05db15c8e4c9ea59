//! Typed bodies of the hot responses (`order.place`, `order.cancel`, `order.cancelReplace`,
//! `openOrders.cancelAll`), serialized straight to text.
//!
//! Building these as `serde_json::Value`s cost an ordered map (an allocation per key, a hash
//! per insert) per object, and was the largest single cost of an order's round trip; a struct
//! serializes its fields in declaration order with no map at all. Field order is Binance's.
//! The bodies borrow names from the markets, hold client ids as the matcher's inline ids and
//! decimals as inline [`DecimalText`]s, so building one allocates nothing but its fills.

use crate::units::DecimalText;
use matcher::ClientOrderId;
use serde::ser::{Serialize, SerializeStruct, Serializer};

/// One fill of a FULL `order.place` response.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
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

/// The RESULT part of an order response (absent for ACK).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderResultBody<'a> {
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

impl Serialize for OrderBody<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_struct("OrderBody", 18)?;
        m.serialize_field("symbol", self.symbol)?;
        m.serialize_field("orderId", &self.order_id)?;
        m.serialize_field("orderListId", &-1)?;
        m.serialize_field("clientOrderId", self.client_order_id.as_str())?;
        m.serialize_field("transactTime", &self.transact_time)?;
        if let Some(r) = &self.result {
            m.serialize_field("price", &r.price)?;
            m.serialize_field("origQty", &r.orig_qty)?;
            m.serialize_field("executedQty", &r.executed_qty)?;
            m.serialize_field("origQuoteOrderQty", &r.orig_quote_order_qty)?;
            m.serialize_field("cummulativeQuoteQty", &r.cummulative_quote_qty)?;
            m.serialize_field("status", r.status)?;
            m.serialize_field("timeInForce", r.time_in_force)?;
            m.serialize_field("type", r.order_type)?;
            m.serialize_field("side", r.side)?;
            m.serialize_field("workingTime", &r.working_time)?;
            m.serialize_field("selfTradePreventionMode", r.stp)?;
            if let Some(fills) = &r.fills {
                m.serialize_field("fills", fills)?;
            }
        }
        m.end()
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
    /// Limit price.
    pub price: DecimalText,
    /// Original quantity.
    pub orig_qty: DecimalText,
    /// Executed quantity.
    pub executed_qty: DecimalText,
    /// Original quote quantity.
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
    /// Self-trade prevention mode text.
    pub stp: &'static str,
}

impl Serialize for CancelBody<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_struct("CancelBody", 16)?;
        m.serialize_field("symbol", self.symbol)?;
        m.serialize_field("origClientOrderId", self.orig_client_order_id.as_str())?;
        m.serialize_field("orderId", &self.order_id)?;
        m.serialize_field("orderListId", &-1)?;
        m.serialize_field("clientOrderId", self.client_order_id.as_str())?;
        m.serialize_field("transactTime", &self.transact_time)?;
        m.serialize_field("price", &self.price)?;
        m.serialize_field("origQty", &self.orig_qty)?;
        m.serialize_field("executedQty", &self.executed_qty)?;
        m.serialize_field("origQuoteOrderQty", &self.orig_quote_order_qty)?;
        m.serialize_field("cummulativeQuoteQty", &self.cummulative_quote_qty)?;
        m.serialize_field("status", self.status)?;
        m.serialize_field("timeInForce", self.time_in_force)?;
        m.serialize_field("type", self.order_type)?;
        m.serialize_field("side", self.side)?;
        m.serialize_field("selfTradePreventionMode", self.stp)?;
        m.end()
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

impl<T: Serialize> Serialize for HalfBody<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            HalfBody::Done(t) => t.serialize(s),
            HalfBody::Failed { code, msg } => {
                let mut m = s.serialize_struct("Error", 2)?;
                m.serialize_field("code", code)?;
                m.serialize_field("msg", msg)?;
                m.end()
            }
            HalfBody::NotAttempted => s.serialize_unit(),
        }
    }
}

/// The `order.cancelReplace` result, and the `data` of its `-2021` / `-2022` failures.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
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
                price: d2(10_000),
                orig_qty: d5(50_000),
                executed_qty: d5(20_000),
                orig_quote_order_qty: d2(0),
                cummulative_quote_qty: d2(2_000),
                status: "PARTIALLY_FILLED",
                time_in_force: "GTC",
                order_type: "LIMIT",
                side: "BUY",
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
            price: d2(10_000),
            orig_qty: d5(50_000),
            executed_qty: d5(0),
            orig_quote_order_qty: d2(0),
            cummulative_quote_qty: d2(0),
            status: "CANCELED",
            time_in_force: "GTC",
            order_type: "LIMIT",
            side: "SELL",
            stp: "NONE",
        }
    }

    /// The exact text, member order included (Binance's order; a map would not show it).
    #[test]
    fn order_bodies_in_binance_member_order() {
        let ack = r#"{"symbol":"BTCUSDT","orderId":12,"orderListId":-1,"clientOrderId":"c1","transactTime":1700000000000"#;
        let result = r#","price":"100.00000000","origQty":"0.50000000","executedQty":"0.20000000","origQuoteOrderQty":"0.00000000","cummulativeQuoteQty":"20.00000000","status":"PARTIALLY_FILLED","timeInForce":"GTC","type":"LIMIT","side":"BUY","workingTime":1700000000000,"selfTradePreventionMode":"NONE""#;
        let fills = r#","fills":[{"price":"100.00000000","qty":"0.20000000","commission":"0.02000000","commissionAsset":"USDT","tradeId":7}]"#;
        assert_eq!(
            serde_json::to_string(&order(false, false)).unwrap(),
            format!("{ack}}}")
        );
        assert_eq!(
            serde_json::to_string(&order(true, false)).unwrap(),
            format!("{ack}{result}}}")
        );
        assert_eq!(
            serde_json::to_string(&order(true, true)).unwrap(),
            format!("{ack}{result}{fills}}}")
        );
        assert_eq!(
            serde_json::to_string(&cancel()).unwrap(),
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
            serde_json::to_string(&body).unwrap(),
            r#"{"cancelResult":"FAILURE","newOrderResult":"NOT_ATTEMPTED","cancelResponse":{"code":-2011,"msg":"Unknown order sent."},"newOrderResponse":null}"#
        );
        let ok = CancelReplaceBody {
            cancel_result: "SUCCESS",
            new_order_result: "SUCCESS",
            cancel_response: HalfBody::Done(cancel()),
            new_order_response: HalfBody::Done(order(false, false)),
        };
        let text = serde_json::to_string(&ok).unwrap();
        assert!(text.starts_with(r#"{"cancelResult":"SUCCESS","newOrderResult":"SUCCESS","cancelResponse":{"symbol":"BTCUSDT","origClientOrderId":"c1""#));
        assert!(text.ends_with(r#""newOrderResponse":{"symbol":"BTCUSDT","orderId":12,"orderListId":-1,"clientOrderId":"c1","transactTime":1700000000000}}"#));
    }
}

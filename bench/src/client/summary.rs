//! What the load generator reads of a response, in one pass over its text: an order's id,
//! status and number of fills (and those of a cancel-replace's `newOrderResponse`); of an
//! error, its code and message and, for a failed cancel-replace, how its cancel half went;
//! of an `executionReport` push, the order, its status and its client order id. Everything
//! else is skipped without being built (fills are counted, not read).

use super::frame::Refusal;
use super::{ClientError, OrderStatus, UserEvent};
use gateway::api::Text;
use serde::de::IgnoredAny;
use serde::Deserialize;
use std::borrow::Cow;

/// An order in a result, as far as the order flow reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderSummary {
    /// `orderId`.
    pub order_id: u64,
    /// `status` (absent in `ACK` responses).
    pub status: Option<OrderStatus>,
    /// Number of `fills` (`FULL` responses; 0 otherwise).
    pub fills: usize,
}

impl OrderSummary {
    /// Whether the order rests on the book after this response (false when unknown).
    pub fn is_open(&self) -> bool {
        self.status.is_some_and(OrderStatus::is_open)
    }
}

/// A successful result read for the order flow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OrderReply {
    /// The order the result describes (`order.place`, `order.cancel`); `None` when the
    /// result names no `orderId` or has a status this client does not know.
    pub order: Option<OrderSummary>,
    /// `newOrderResponse` of a cancel-replace, read the same way.
    pub new_order: Option<OrderSummary>,
}

impl OrderReply {
    /// Reads a result already parsed as a `Value` (for callers of the general client, and
    /// tests), the same way [`super::Connection`] reads response text.
    pub fn from_result(result: &serde_json::Value) -> Result<OrderReply, ClientError> {
        ReplyWire::deserialize(result)
            .map(OrderReply::from)
            .map_err(|e| ClientError::Protocol(format!("unreadable order result: {e}")))
    }
}

/// An error response, read for the order flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiFailure {
    /// The HTTP-like status.
    pub status: u16,
    /// Binance's error code.
    pub code: i64,
    /// Binance's message.
    pub msg: String,
    /// A failed cancel-replace whose cancel half went through (`data.cancelResult` is
    /// `SUCCESS`).
    pub cancel_succeeded: bool,
    /// A failed cancel-replace's `data.cancelResponse.code`, when its cancel half failed.
    pub cancel_code: Option<i64>,
}

/// Why a request has no result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The server answered with an error.
    Api(ApiFailure),
    /// No response within the request timeout.
    Timeout,
    /// The connection closed before the response came (or before the request was sent).
    Closed,
    /// Anything else: a response that does not read, a request that could not be built.
    Other(String),
}

impl Failure {
    /// Binance's error code when the server answered with an error.
    pub fn api_code(&self) -> Option<i64> {
        match self {
            Failure::Api(a) => Some(a.code),
            _ => None,
        }
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Failure {
        match e {
            ClientError::Closed => Failure::Closed,
            ClientError::Timeout { .. } => Failure::Timeout,
            ClientError::Api {
                status, code, msg, ..
            } => Failure::Api(ApiFailure {
                status,
                code,
                msg,
                cancel_succeeded: false,
                cancel_code: None,
            }),
            other => Failure::Other(other.to_string()),
        }
    }
}

/// The outcome of a request sent by [`super::Connection`].
pub type Outcome = Result<OrderReply, Failure>;

/// An `executionReport` push, as the order flow reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecutionReport<'a> {
    /// `s`.
    pub symbol: Cow<'a, str>,
    /// `i`.
    pub order_id: u64,
    /// `X` (`None` for a status this client does not know).
    pub status: Option<OrderStatus>,
    /// `c`.
    pub client_order_id: Option<Cow<'a, str>>,
}

impl UserEvent {
    /// This event as an [`ExecutionReport`], when it is one (with `s` and `i`).
    pub fn execution_report(&self) -> Option<ExecutionReport<'_>> {
        EventWire::deserialize(&self.event)
            .ok()
            .and_then(EventWire::into_report)
    }
}

/// An order in a result, as sent.
#[derive(Deserialize)]
struct OrderWire<'a> {
    #[serde(rename = "orderId")]
    order_id: Option<u64>,
    #[serde(borrow)]
    status: Option<Text<'a>>,
    fills: Option<Vec<IgnoredAny>>,
}

impl OrderWire<'_> {
    fn summary(self) -> Option<OrderSummary> {
        let status = match self.status {
            None => None,
            Some(text) => Some(OrderStatus::parse(text.as_str())?),
        };
        Some(OrderSummary {
            order_id: self.order_id?,
            status,
            fills: self.fills.map_or(0, |f| f.len()),
        })
    }
}

/// A result as sent: an order's fields, and a cancel-replace's new order (one struct, not
/// `#[serde(flatten)]`, which would buffer every field).
#[derive(Deserialize)]
pub(crate) struct ReplyWire<'a> {
    #[serde(rename = "orderId")]
    order_id: Option<u64>,
    #[serde(borrow)]
    status: Option<Text<'a>>,
    fills: Option<Vec<IgnoredAny>>,
    #[serde(rename = "newOrderResponse", borrow)]
    new_order_response: Option<OrderWire<'a>>,
}

impl From<ReplyWire<'_>> for OrderReply {
    fn from(w: ReplyWire<'_>) -> OrderReply {
        let order = OrderWire {
            order_id: w.order_id,
            status: w.status,
            fills: w.fills,
        };
        OrderReply {
            order: order.summary(),
            new_order: w.new_order_response.and_then(OrderWire::summary),
        }
    }
}

/// A failed cancel-replace's `error.data`, as sent (other errors carry none).
#[derive(Deserialize)]
pub(crate) struct CancelReplaceData<'a> {
    #[serde(rename = "cancelResult", borrow)]
    cancel_result: Option<Text<'a>>,
    #[serde(rename = "cancelResponse")]
    cancel_response: Option<CodeOnly>,
}

#[derive(Deserialize)]
struct CodeOnly {
    code: Option<i64>,
}

impl From<Refusal<CancelReplaceData<'_>>> for Failure {
    fn from(refusal: Refusal<CancelReplaceData<'_>>) -> Failure {
        match refusal {
            Refusal::Api {
                status,
                code,
                msg,
                data,
            } => {
                let (cancel_succeeded, cancel_code) = data.map_or((false, None), |d| {
                    (
                        d.cancel_result.as_ref().map(Text::as_str) == Some("SUCCESS"),
                        d.cancel_response.and_then(|c| c.code),
                    )
                });
                Failure::Api(ApiFailure {
                    status,
                    code,
                    msg,
                    cancel_succeeded,
                    cancel_code,
                })
            }
            Refusal::Protocol(why) => Failure::Other(why),
        }
    }
}

/// A push's `event`, as sent.
#[derive(Deserialize)]
pub(crate) struct EventWire<'a> {
    #[serde(borrow)]
    e: Option<Text<'a>>,
    #[serde(borrow)]
    s: Option<Text<'a>>,
    i: Option<u64>,
    #[serde(rename = "X", borrow)]
    status: Option<Text<'a>>,
    #[serde(borrow)]
    c: Option<Text<'a>>,
}

impl<'a> EventWire<'a> {
    /// The execution report this event is, if it is one.
    pub(crate) fn into_report(self) -> Option<ExecutionReport<'a>> {
        if self.e.as_ref().map(Text::as_str) != Some("executionReport") {
            return None;
        }
        Some(ExecutionReport {
            symbol: self.s?.into_cow(),
            order_id: self.i?,
            status: self
                .status
                .as_ref()
                .and_then(|s| OrderStatus::parse(s.as_str())),
            client_order_id: self.c.map(Text::into_cow),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::client::frame::{read_frame, Incoming};
    use serde_json::json;

    type Lean<'a> = Incoming<ReplyWire<'a>, CancelReplaceData<'a>, EventWire<'a>>;

    fn outcome(text: &str) -> Outcome {
        match read_frame::<ReplyWire<'_>, CancelReplaceData<'_>, EventWire<'_>>(text) {
            Incoming::Response { outcome, .. } => outcome
                .map(|r| r.map(OrderReply::from).unwrap_or_default())
                .map_err(Failure::from),
            _ => panic!("not a response: {text}"),
        }
    }

    #[test]
    fn results_read_as_the_flow_needs_them() {
        let fill = json!({"price": "1.0", "qty": "2", "commission": "0", "commissionAsset": "X",
                          "tradeId": 3});
        let cases = [
            (
                json!({"symbol": "BTCUSDT", "orderId": 12, "clientOrderId": "c\"q",
                       "status": "PARTIALLY_FILLED", "fills": [fill, fill], "price": "1.00"}),
                Some(OrderSummary {
                    order_id: 12,
                    status: Some(OrderStatus::PartiallyFilled),
                    fills: 2,
                }),
                None,
            ),
            // ACK: no status, no fills.
            (
                json!({"symbol": "BTCUSDT", "orderId": 13, "clientOrderId": "c"}),
                Some(OrderSummary {
                    order_id: 13,
                    status: None,
                    fills: 0,
                }),
                None,
            ),
            // An unknown status or no orderId: the order is not readable.
            (json!({"orderId": 14, "status": "WEIRD"}), None, None),
            (json!({"status": "NEW", "fills": []}), None, None),
            (
                json!({"cancelResult": "SUCCESS", "newOrderResult": "SUCCESS",
                       "cancelResponse": {"orderId": 1, "status": "CANCELED"},
                       "newOrderResponse": {"orderId": 15, "status": "NEW", "fills": []}}),
                None,
                Some(OrderSummary {
                    order_id: 15,
                    status: Some(OrderStatus::New),
                    fills: 0,
                }),
            ),
        ];
        for (result, order, new_order) in cases {
            let want = OrderReply { order, new_order };
            let text =
                json!({"id": 1, "status": 200, "result": result, "rateLimits": []}).to_string();
            assert_eq!(outcome(&text), Ok(want), "{text}");
            assert_eq!(OrderReply::from_result(&result).unwrap(), want, "{result}");
        }
        // A result of the wrong shape fails the request instead of reading as empty.
        let text = r#"{"id":1,"status":200,"result":{"orderId":"12"}}"#;
        assert!(matches!(outcome(text), Err(Failure::Other(_))), "{text}");
        assert!(OrderReply::from_result(&json!({"fills": {}})).is_err());
    }

    #[test]
    fn errors_read_with_the_cancel_half() {
        let cases = [
            (
                json!({"code": -2011, "msg": "Unknown order sent."}),
                false,
                None,
            ),
            (
                json!({"code": -2022, "msg": "Order cancel-replace failed.",
                       "data": {"cancelResult": "FAILURE", "newOrderResult": "NOT_ATTEMPTED",
                                "cancelResponse": {"code": -2011, "msg": "Unknown order sent."},
                                "newOrderResponse": null}}),
                false,
                Some(-2011),
            ),
            (
                json!({"code": -2021, "msg": "Order cancel-replace partially failed.",
                       "data": {"cancelResult": "SUCCESS", "newOrderResult": "FAILURE",
                                "cancelResponse": {"orderId": 3, "status": "CANCELED"},
                                "newOrderResponse": {"code": -2010, "msg": "no"}}}),
                true,
                None,
            ),
        ];
        for (error, cancel_succeeded, cancel_code) in cases {
            let text = json!({"id": 1, "status": 400, "error": error}).to_string();
            match outcome(&text) {
                Err(Failure::Api(a)) => {
                    assert_eq!(a.status, 400);
                    assert_eq!(Some(a.code), error["code"].as_i64());
                    assert_eq!(a.msg, error["msg"].as_str().unwrap());
                    assert_eq!(
                        (a.cancel_succeeded, a.cancel_code),
                        (cancel_succeeded, cancel_code)
                    );
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn pushes_read_as_execution_reports() {
        let text = r#"{"subscriptionId":0,"event":{"e":"executionReport","E":1,"s":"BTCUSDT","c":"lb1x2","S":"BUY","X":"FILLED","x":"TRADE","i":77,"I":9,"C":""}}"#;
        let report = match read_frame::<ReplyWire<'_>, CancelReplaceData<'_>, EventWire<'_>>(text) {
            Lean::Push {
                event: Some(e),
                subscription_id: Some(0),
            } => e.into_report().unwrap(),
            _ => panic!("not a push"),
        };
        assert_eq!(
            report,
            ExecutionReport {
                symbol: "BTCUSDT".into(),
                order_id: 77,
                status: Some(OrderStatus::Filled),
                client_order_id: Some("lb1x2".into()),
            }
        );
        // Borrowed from the text, not copied.
        assert!(matches!(report.symbol, Cow::Borrowed(_)));
        assert!(matches!(report.client_order_id, Some(Cow::Borrowed(_))));
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        let event = UserEvent::from_push(&v).unwrap();
        assert_eq!(event.execution_report(), Some(report));
        let other = UserEvent::from_push(
            &json!({"event": {"e": "outboundAccountPosition", "i": 1, "s": "X"}}),
        )
        .unwrap();
        assert_eq!(other.execution_report(), None);
    }
}

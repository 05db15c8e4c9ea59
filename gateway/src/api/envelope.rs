//! The request and response envelopes of Binance's WebSocket API.
//!
//! Request: `{"id": <string|number|null>, "method": "<name>", "params": {..}}` in one text
//! frame. Response: `{"id", "status": 200, "result", "rateLimits"}` or
//! `{"id", "status": <4xx/5xx>, "error": {"code", "msg"[, "data"]}, "rateLimits"}`, `id`
//! echoed verbatim (`null` when the request could not be read).
//!
//! Envelope errors (Binance does not document one code per case; these are the closest
//! documented codes and are stated here so the choice is visible):
//! * not JSON, or JSON that is not an object: `-1135 "Invalid JSON Request"`, id `null`;
//! * `id` of another JSON type (bool, object, array): `-1135 "JSON sent for parameter 'id' is
//!   not valid"`, id `null`;
//! * `method` missing or not a string: `-1102` for `method`;
//! * unknown `method`: `-1020 "This operation is not supported."`;
//! * `params` present but not an object: `-1135 "JSON sent for parameter 'params' is not
//!   valid"` (Binance words it "Invalid 'params' in JSON request; expected an object.").

use crate::api::failure::Failure;
use crate::errors::ApiError;
use serde::Serialize;
use serde_json::{Map, Value};

/// A WebSocket API method this gateway serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// `ping`.
    Ping,
    /// `time`.
    Time,
    /// `exchangeInfo`.
    ExchangeInfo,
    /// `session.logon`.
    SessionLogon,
    /// `session.status`.
    SessionStatus,
    /// `session.logout`.
    SessionLogout,
    /// `order.place`.
    OrderPlace,
    /// `order.test`.
    OrderTest,
    /// `order.cancel`.
    OrderCancel,
    /// `order.cancelReplace`.
    OrderCancelReplace,
    /// `openOrders.cancelAll`.
    OpenOrdersCancelAll,
    /// `order.status`.
    OrderStatus,
    /// `openOrders.status`.
    OpenOrdersStatus,
    /// `account.status`.
    AccountStatus,
    /// `userDataStream.subscribe`.
    UserDataStreamSubscribe,
    /// `userDataStream.unsubscribe`.
    UserDataStreamUnsubscribe,
    /// `order.cancelAllAfter` (extension: cancel-on-disconnect countdown).
    OrderCancelAllAfter,
}

impl Method {
    /// Every method, for tables.
    pub const ALL: [Method; 17] = [
        Method::Ping,
        Method::Time,
        Method::ExchangeInfo,
        Method::SessionLogon,
        Method::SessionStatus,
        Method::SessionLogout,
        Method::OrderPlace,
        Method::OrderTest,
        Method::OrderCancel,
        Method::OrderCancelReplace,
        Method::OpenOrdersCancelAll,
        Method::OrderStatus,
        Method::OpenOrdersStatus,
        Method::AccountStatus,
        Method::UserDataStreamSubscribe,
        Method::UserDataStreamUnsubscribe,
        Method::OrderCancelAllAfter,
    ];

    /// The method's wire name.
    pub fn name(self) -> &'static str {
        match self {
            Method::Ping => "ping",
            Method::Time => "time",
            Method::ExchangeInfo => "exchangeInfo",
            Method::SessionLogon => "session.logon",
            Method::SessionStatus => "session.status",
            Method::SessionLogout => "session.logout",
            Method::OrderPlace => "order.place",
            Method::OrderTest => "order.test",
            Method::OrderCancel => "order.cancel",
            Method::OrderCancelReplace => "order.cancelReplace",
            Method::OpenOrdersCancelAll => "openOrders.cancelAll",
            Method::OrderStatus => "order.status",
            Method::OpenOrdersStatus => "openOrders.status",
            Method::AccountStatus => "account.status",
            Method::UserDataStreamSubscribe => "userDataStream.subscribe",
            Method::UserDataStreamUnsubscribe => "userDataStream.unsubscribe",
            Method::OrderCancelAllAfter => "order.cancelAllAfter",
        }
    }

    /// The method with this wire name (case-sensitive, as Binance is).
    pub fn from_name(name: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Whether the method needs an account: `SIGNED` (trading and account requests, and
    /// `session.logon`), or a logged-on session. The session may authenticate it with
    /// `session.logon` instead of per-request `apiKey` + `signature`, except
    /// `session.logon` itself, which is always signed.
    pub fn is_signed(self) -> bool {
        !matches!(
            self,
            Method::Ping
                | Method::Time
                | Method::ExchangeInfo
                | Method::SessionStatus
                | Method::SessionLogout
                | Method::UserDataStreamUnsubscribe
        )
    }

    /// Whether the method sends a command to the matcher (journaled, counted by the
    /// `ORDERS` rate limits).
    pub fn places_order(self) -> bool {
        matches!(self, Method::OrderPlace | Method::OrderCancelReplace)
    }

    /// Request weight (`REQUEST_WEIGHT`) as Binance's WebSocket API lists it for these
    /// methods: `exchangeInfo` and `account.status` 20, `order.status` 4, `openOrders.status`
    /// 80 without a symbol (6 with one, see [`Method::weight_with_symbol`]), the session and
    /// user-data-stream methods 2, everything else 1. (Taken from Binance's method tables as
    /// remembered, not re-read for every method: treat as configuration, not contract.)
    pub fn weight(self) -> u32 {
        match self {
            Method::ExchangeInfo | Method::AccountStatus => 20,
            Method::OrderStatus => 4,
            Method::OpenOrdersStatus => 80,
            Method::SessionLogon
            | Method::SessionStatus
            | Method::SessionLogout
            | Method::UserDataStreamSubscribe
            | Method::UserDataStreamUnsubscribe => 2,
            _ => 1,
        }
    }

    /// Weight when the request names a symbol (only `openOrders.status` differs: 6).
    pub fn weight_with_symbol(self, has_symbol: bool) -> u32 {
        match (self, has_symbol) {
            (Method::OpenOrdersStatus, true) => 6,
            _ => self.weight(),
        }
    }
}

/// A parsed request frame.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// The request id, echoed verbatim (string, number or null).
    pub id: Value,
    /// The method.
    pub method: Method,
    /// The parameters (empty when absent).
    pub params: Map<String, Value>,
}

/// A request frame that could not be parsed: the id to echo (`null` when unknown) and the
/// error.
#[derive(Clone, Debug, PartialEq)]
pub struct BadRequest {
    /// Id to echo.
    pub id: Value,
    /// Error.
    pub failure: Failure,
}

/// Parses one text frame. See the module docs for the error of each malformed case (boxed:
/// it is large and rare).
pub fn parse_request(text: &str) -> Result<Request, Box<BadRequest>> {
    let bad = |id: Value, failure: Failure| Box::new(BadRequest { id, failure });
    let value: Value =
        serde_json::from_str(text).map_err(|_| bad(Value::Null, Failure::invalid_json()))?;
    let Value::Object(mut obj) = value else {
        return Err(bad(Value::Null, Failure::invalid_json()));
    };
    let id = match obj.remove("id") {
        None | Some(Value::Null) => Value::Null,
        Some(v @ (Value::String(_) | Value::Number(_))) => v,
        Some(_) => return Err(bad(Value::Null, Failure::invalid_json_param("id"))),
    };
    let method = match obj.remove("method") {
        Some(Value::String(name)) if !name.is_empty() => name,
        _ => {
            return Err(bad(
                id,
                ApiError::MandatoryParam {
                    param: "method".into(),
                }
                .into(),
            ))
        }
    };
    let Some(method) = Method::from_name(&method) else {
        return Err(bad(id, Failure::unsupported_operation()));
    };
    let params = match obj.remove("params") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map,
        Some(_) => return Err(bad(id, Failure::invalid_json_param("params"))),
    };
    Ok(Request { id, method, params })
}

/// Binance's rate limit types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RateLimitType {
    /// Request weight.
    RequestWeight,
    /// Orders placed.
    Orders,
    /// Connection attempts.
    Connections,
}

/// Binance's rate limit intervals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RateLimitInterval {
    /// Seconds.
    Second,
    /// Minutes.
    Minute,
    /// Days.
    Day,
}

/// A rate limit as `exchangeInfo` lists it:
/// `{"rateLimitType","interval","intervalNum","limit"}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimit {
    /// Type.
    pub rate_limit_type: RateLimitType,
    /// Interval unit.
    pub interval: RateLimitInterval,
    /// Number of interval units.
    pub interval_num: u32,
    /// Limit per interval.
    pub limit: u64,
}

/// A rate limit's current usage as responses carry it:
/// `{"rateLimitType","interval","intervalNum","limit","count"}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitStatus {
    /// The limit.
    pub limit: RateLimit,
    /// Usage in the current interval, including this request.
    pub count: u64,
}

impl Serialize for RateLimitStatus {
    // By hand rather than `#[serde(flatten)]`, which serializes through a map.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut m = s.serialize_struct("RateLimitStatus", 5)?;
        m.serialize_field("rateLimitType", &self.limit.rate_limit_type)?;
        m.serialize_field("interval", &self.limit.interval)?;
        m.serialize_field("intervalNum", &self.limit.interval_num)?;
        m.serialize_field("limit", &self.limit.limit)?;
        m.serialize_field("count", &self.count)?;
        m.end()
    }
}

/// The response envelope, serialized in Binance's member order without building a map.
struct Envelope<'a, B> {
    id: &'a Value,
    status: u16,
    /// `"result"` or `"error"`.
    key: &'static str,
    body: B,
    rate_limits: &'a [RateLimitStatus],
}

impl<B: Serialize> Serialize for Envelope<'_, B> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut m = s.serialize_struct("Envelope", 4)?;
        m.serialize_field("id", self.id)?;
        m.serialize_field("status", &self.status)?;
        m.serialize_field(self.key, &self.body)?;
        if !self.rate_limits.is_empty() {
            m.serialize_field("rateLimits", self.rate_limits)?;
        }
        m.end()
    }
}

/// `{"code","msg"[,"data"]}` of a failure.
struct ErrorBody<'a>(&'a Failure);

impl Serialize for ErrorBody<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut m = s.serialize_struct("Error", 3)?;
        m.serialize_field("code", &self.0.code)?;
        m.serialize_field("msg", &self.0.msg)?;
        if let Some(data) = &self.0.data {
            m.serialize_field("data", data)?;
        }
        m.end()
    }
}

fn response<B: Serialize>(envelope: &Envelope<'_, B>) -> String {
    // Serializing strings, integers and JSON values into a String cannot fail; an empty
    // string would only show a broken Serialize impl.
    serde_json::to_string(envelope).unwrap_or_default()
}

/// A success response. `rateLimits` is omitted when `rate_limits` is empty (Binance omits it
/// when the session asked `returnRateLimits: false`).
pub fn render_ok<B: Serialize>(id: &Value, result: B, rate_limits: &[RateLimitStatus]) -> String {
    response(&Envelope {
        id,
        status: 200,
        key: "result",
        body: result,
        rate_limits,
    })
}

/// An error response with the failure's status.
pub fn render_error(id: &Value, failure: &Failure, rate_limits: &[RateLimitStatus]) -> String {
    response(&Envelope {
        id,
        status: failure.status,
        key: "error",
        body: ErrorBody(failure),
        rate_limits,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn method_names_round_trip() {
        for m in Method::ALL {
            assert_eq!(Method::from_name(m.name()), Some(m));
        }
        assert_eq!(Method::from_name("ORDER.PLACE"), None);
    }

    #[test]
    fn parses_ids_of_every_allowed_type() {
        for (frame, id) in [
            (r#"{"id":"abc","method":"ping"}"#, json!("abc")),
            (r#"{"id":7,"method":"ping"}"#, json!(7)),
            (r#"{"id":null,"method":"ping"}"#, Value::Null),
            (r#"{"method":"ping"}"#, Value::Null),
            (r#"{"id":-3,"method":"time","params":{}}"#, json!(-3)),
        ] {
            let r = parse_request(frame).unwrap();
            assert_eq!(r.id, id, "{frame}");
            assert!(r.params.is_empty());
        }
    }

    /// Every malformed envelope with the code, message and id of its reply.
    #[test]
    fn malformed_envelopes() {
        let cases: &[(&str, Value, i32, &str)] = &[
            ("not json", Value::Null, -1135, "Invalid JSON Request"),
            ("[1,2]", Value::Null, -1135, "Invalid JSON Request"),
            ("", Value::Null, -1135, "Invalid JSON Request"),
            (
                r#"{"id":1,"method":"ping""#,
                Value::Null,
                -1135,
                "Invalid JSON Request",
            ),
            (
                r#"{"id":true,"method":"ping"}"#,
                Value::Null,
                -1135,
                "JSON sent for parameter 'id' is not valid",
            ),
            (
                r#"{"id":"a"}"#,
                json!("a"),
                -1102,
                "Mandatory parameter 'method' was not sent, was empty/null, or malformed.",
            ),
            (
                r#"{"id":"a","method":5}"#,
                json!("a"),
                -1102,
                "Mandatory parameter 'method' was not sent, was empty/null, or malformed.",
            ),
            (
                r#"{"id":"a","method":"order.fly"}"#,
                json!("a"),
                -1020,
                "This operation is not supported.",
            ),
            (
                r#"{"id":2,"method":"order.place","params":[1]}"#,
                json!(2),
                -1135,
                "JSON sent for parameter 'params' is not valid",
            ),
            (
                r#"{"id":2,"method":"order.place","params":"x"}"#,
                json!(2),
                -1135,
                "JSON sent for parameter 'params' is not valid",
            ),
        ];
        for (frame, id, code, msg) in cases {
            let e = parse_request(frame).unwrap_err();
            assert_eq!(&e.id, id, "{frame}");
            assert_eq!(
                (e.failure.code, e.failure.msg.as_str()),
                (*code, *msg),
                "{frame}"
            );
            assert_eq!(e.failure.status, 400);
        }
    }

    #[test]
    fn renders_binance_envelopes() {
        let limits = [RateLimitStatus {
            limit: RateLimit {
                rate_limit_type: RateLimitType::RequestWeight,
                interval: RateLimitInterval::Minute,
                interval_num: 1,
                limit: 6000,
            },
            count: 3,
        }];
        assert_eq!(
            render_ok(&json!("x"), json!({}), &limits),
            r#"{"id":"x","status":200,"result":{},"rateLimits":[{"rateLimitType":"REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,"limit":6000,"count":3}]}"#
        );
        assert_eq!(
            render_error(&json!(9), &ApiError::BadSymbol.into(), &[]),
            r#"{"id":9,"status":400,"error":{"code":-1121,"msg":"Invalid symbol."}}"#
        );
        assert_eq!(
            render_error(&Value::Null, &ApiError::TooManyOrders.into(), &[]),
            r#"{"id":null,"status":429,"error":{"code":-1015,"msg":"Too many new orders."}}"#
        );
    }
}

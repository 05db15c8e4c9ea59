//! The request and response envelopes of Binance's WebSocket API.
//!
//! Request: `{"id": <string|number|null>, "method": "<name>", "params": {..}}` in one text
//! frame. Response: `{"id", "status": 200, "result", "rateLimits"}` or
//! `{"id", "status": <4xx/5xx>, "error": {"code", "msg"[, "data"]}, "rateLimits"}`, `id`
//! echoed verbatim (`null` when the request could not be read).
//!
//! [`parse_request`] reads the frame without building a `serde_json::Value` for the envelope
//! or its scalars, and the [`Request`] borrows from the frame's text: the method name is
//! matched where it is, parameter names and string values are borrowed unless written with
//! escapes (then unescaped into a `String` of their own), and integers keep their text as
//! sent. Only the id and the rare parameter of another kind (a fraction, null, an array or an
//! object) are read as `Value`. `id`, `method` and every parameter are accepted or refused as
//! reading the whole frame as one `Value` would, down to serde_json's nesting limit (unknown
//! members, and the contents of a `params` that is not an object, are skipped without that
//! limit).
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
use crate::api::wire::WriteJson;
use crate::errors::ApiError;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;

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

/// A parameter value as it arrived, borrowed from the frame: scalars keep their JSON kind and
/// text (so they can be signed as sent); anything else is kept as JSON (only `exchangeInfo`'s
/// `symbols` array is legal; every other method refuses it with `-1102`).
#[derive(Clone, Debug, PartialEq)]
pub enum SentValue<'a> {
    /// A JSON string: borrowed from the frame, or unescaped into its own `String` when it
    /// has escapes.
    Str(Cow<'a, str>),
    /// A JSON integer that fits `i64` or `u64`, as its text in the frame: the integer's
    /// decimal text, as JSON writes an integer one way only (`-0` aside, which serde_json
    /// reads as a fraction).
    Int(&'a str),
    /// A JSON boolean.
    Bool(bool),
    /// Anything else: a fraction, null, an array, an object, `-0`, or an integer beyond
    /// `i64` and `u64` (serde_json reads those as fractions).
    Other(Value),
}

impl SentValue<'_> {
    /// The value as JSON.
    pub fn to_json(&self) -> Value {
        match self {
            SentValue::Str(s) => Value::String(s.to_string()),
            SentValue::Int(t) => t
                .parse::<i64>()
                .map(Value::from)
                .or_else(|_| t.parse::<u64>().map(Value::from))
                .unwrap_or_else(|_| Value::String(t.to_string())),
            SentValue::Bool(b) => Value::Bool(*b),
            SentValue::Other(v) => v.clone(),
        }
    }
}

/// A request's `params` in the order sent, borrowed from the frame (a name sent twice keeps
/// its first place and its last value, as a JSON object parsed into a map does).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SentParams<'a>(pub Vec<(Cow<'a, str>, SentValue<'a>)>);

impl<'a> SentParams<'a> {
    /// Whether `name` was sent.
    pub fn contains_key(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }

    /// Whether no parameter was sent.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The parameters as a JSON object.
    pub fn to_json_map(&self) -> Map<String, Value> {
        self.0
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_json()))
            .collect()
    }

    fn insert(&mut self, name: Cow<'a, str>, value: SentValue<'a>) {
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
    }
}

/// A parsed request frame, borrowing its method's parameters from the frame's text.
#[derive(Clone, Debug, PartialEq)]
pub struct Request<'a> {
    /// The request id, echoed verbatim (string, number or null).
    pub id: Value,
    /// The method.
    pub method: Method,
    /// The parameters (empty when absent).
    pub params: SentParams<'a>,
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

/// The envelope's members as read, checked only after the whole frame parsed (so a syntax
/// error anywhere is `-1135` with id `null`, whatever came before it).
#[derive(Default)]
struct RawEnvelope<'a> {
    id: Option<Value>,
    method: Option<Option<Cow<'a, str>>>,
    params: Option<Option<SentParams<'a>>>,
}

impl<'de> Deserialize<'de> for RawEnvelope<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(EnvelopeVisitor)
    }
}

struct EnvelopeVisitor;

impl<'de> Visitor<'de> for EnvelopeVisitor {
    type Value = RawEnvelope<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a request object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawEnvelope<'de>, A::Error> {
        let mut env = RawEnvelope::default();
        while let Some(key) = map.next_key::<EnvelopeKey>()? {
            match key {
                EnvelopeKey::Id => env.id = Some(map.next_value()?),
                EnvelopeKey::Method => env.method = Some(map.next_value::<MethodName>()?.0),
                EnvelopeKey::Params => env.params = Some(map.next_value::<MaybeParams>()?.0),
                EnvelopeKey::Other => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(env)
    }
}

/// A member name of the envelope, read without allocating.
enum EnvelopeKey {
    Id,
    Method,
    Params,
    Other,
}

impl<'de> Deserialize<'de> for EnvelopeKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = EnvelopeKey;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a member name")
            }
            fn visit_str<E>(self, v: &str) -> Result<EnvelopeKey, E> {
                Ok(match v {
                    "id" => EnvelopeKey::Id,
                    "method" => EnvelopeKey::Method,
                    "params" => EnvelopeKey::Params,
                    _ => EnvelopeKey::Other,
                })
            }
        }
        d.deserialize_identifier(KeyVisitor)
    }
}

/// A JSON string borrowed from the text being read, or unescaped into its own `String` when
/// it has escapes. (Serde borrows a bare `Cow<str>` field with `#[serde(borrow)]`, but not one
/// inside an `Option`; the bench client reads responses with it too.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Text<'a>(Cow<'a, str>);

impl<'a> Text<'a> {
    /// The string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The string, still borrowed when it was.
    pub fn into_cow(self) -> Cow<'a, str> {
        self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Owned(v)))
    }
}

/// `method`: the name (borrowed from the frame unless it has escapes), or `None` for any
/// other JSON value.
struct MethodName<'a>(Option<Cow<'a, str>>);

impl<'a> MethodName<'a> {
    fn of(text: Text<'a>) -> Self {
        MethodName(Some(text.0))
    }
}

impl<'de> Deserialize<'de> for MethodName<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(MethodNameVisitor)
    }
}

struct MethodNameVisitor;

impl<'de> Visitor<'de> for MethodNameVisitor {
    type Value = MethodName<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a method name")
    }

    // A string is read as any other string value ([`TextVisitor`]).
    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<MethodName<'de>, E> {
        TextVisitor.visit_borrowed_str(v).map(MethodName::of)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<MethodName<'de>, E> {
        TextVisitor.visit_str(v).map(MethodName::of)
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<MethodName<'de>, E> {
        TextVisitor.visit_string(v).map(MethodName::of)
    }

    fn visit_unit<E>(self) -> Result<MethodName<'de>, E> {
        Ok(MethodName(None))
    }

    fn visit_bool<E>(self, _: bool) -> Result<MethodName<'de>, E> {
        Ok(MethodName(None))
    }

    fn visit_i64<E>(self, _: i64) -> Result<MethodName<'de>, E> {
        Ok(MethodName(None))
    }

    fn visit_u64<E>(self, _: u64) -> Result<MethodName<'de>, E> {
        Ok(MethodName(None))
    }

    fn visit_f64<E>(self, _: f64) -> Result<MethodName<'de>, E> {
        Ok(MethodName(None))
    }

    // An array or object is read as a `Value` (and dropped), with the checks and the
    // nesting limit of reading the whole frame as one.
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<MethodName<'de>, A::Error> {
        Value::deserialize(SeqAccessDeserializer::new(seq))?;
        Ok(MethodName(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<MethodName<'de>, A::Error> {
        Value::deserialize(MapAccessDeserializer::new(map))?;
        Ok(MethodName(None))
    }
}

/// `params`: an object read into [`SentParams`], an empty set for `null`, `None` for any
/// other JSON value.
struct MaybeParams<'a>(Option<SentParams<'a>>);

impl<'de> Deserialize<'de> for MaybeParams<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ParamsVisitor)
    }
}

struct ParamsVisitor;

impl<'de> Visitor<'de> for ParamsVisitor {
    type Value = MaybeParams<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a params object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MaybeParams<'de>, A::Error> {
        let mut params = SentParams(Vec::with_capacity(16));
        while let Some(Text(name)) = map.next_key()? {
            let SentValueSeed(value) = map.next_value()?;
            params.insert(name, value);
        }
        Ok(MaybeParams(Some(params)))
    }

    fn visit_unit<E>(self) -> Result<MaybeParams<'de>, E> {
        Ok(MaybeParams(Some(SentParams::default())))
    }

    fn visit_none<E>(self) -> Result<MaybeParams<'de>, E> {
        Ok(MaybeParams(Some(SentParams::default())))
    }

    fn visit_bool<E>(self, _: bool) -> Result<MaybeParams<'de>, E> {
        Ok(MaybeParams(None))
    }

    fn visit_i64<E>(self, _: i64) -> Result<MaybeParams<'de>, E> {
        Ok(MaybeParams(None))
    }

    fn visit_u64<E>(self, _: u64) -> Result<MaybeParams<'de>, E> {
        Ok(MaybeParams(None))
    }

    fn visit_f64<E>(self, _: f64) -> Result<MaybeParams<'de>, E> {
        Ok(MaybeParams(None))
    }

    fn visit_str<E>(self, _: &str) -> Result<MaybeParams<'de>, E> {
        Ok(MaybeParams(None))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<MaybeParams<'de>, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(MaybeParams(None))
    }
}

/// One parameter value.
struct SentValueSeed<'a>(SentValue<'a>);

impl<'de> Deserialize<'de> for SentValueSeed<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // The value's text as sent, checked by serde_json; then read by its kind.
        let raw = <&'de RawValue>::deserialize(d)?;
        sent_value(raw.get())
            .map(SentValueSeed)
            .map_err(serde::de::Error::custom)
    }
}

/// Reads one parameter value from its text in the frame (a whole JSON value, as serde_json
/// checked it), into the kind serde_json reads it as: strings and integers borrow their
/// text from the frame.
fn sent_value(text: &str) -> Result<SentValue<'_>, serde_json::Error> {
    Ok(match text {
        "true" => SentValue::Bool(true),
        "false" => SentValue::Bool(false),
        _ if text.starts_with('"') => {
            let Text(s) = Text::deserialize(&mut serde_json::Deserializer::from_str(text))?;
            SentValue::Str(s)
        }
        _ if is_integer(text) => SentValue::Int(text),
        _ => SentValue::Other(nested_value(text)?),
    })
}

/// Whether `text`, a JSON value other than a string, is an integer serde_json reads as a
/// `u64` or an `i64` (it reads a larger integer, and `-0`, as a fraction).
fn is_integer(text: &str) -> bool {
    match text.strip_prefix('-') {
        Some(digits) => digits != "0" && text.parse::<i64>().is_ok(),
        None => text.parse::<u64>().is_ok(),
    }
}

/// Reads a parameter value of another kind (a fraction, null, an array or an object) as a
/// `Value`, as deeply nested as it is in the frame: inside two levels (the envelope and
/// `params`), so that serde_json's nesting limit refuses exactly what it refuses when the
/// whole frame is read as one value. (Rare: `exchangeInfo`'s `symbols` is the only such
/// value a method accepts; copying its text costs nothing that matters.)
fn nested_value(text: &str) -> Result<Value, serde_json::Error> {
    let [[value]]: [[Value; 1]; 1] = serde_json::from_str(&format!("[[{text}]]"))?;
    Ok(value)
}

/// Parses one text frame, borrowing the parameters' names and values from it. See the
/// module docs for the error of each malformed case (boxed: it is large and rare).
pub fn parse_request(text: &str) -> Result<Request<'_>, Box<BadRequest>> {
    let bad = |id: Value, failure: Failure| Box::new(BadRequest { id, failure });
    let env: RawEnvelope<'_> =
        serde_json::from_str(text).map_err(|_| bad(Value::Null, Failure::invalid_json()))?;
    let id = match env.id {
        None | Some(Value::Null) => Value::Null,
        Some(v @ (Value::String(_) | Value::Number(_))) => v,
        Some(_) => return Err(bad(Value::Null, Failure::invalid_json_param("id"))),
    };
    let method = match env.method {
        Some(Some(name)) if !name.is_empty() => name,
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
    let params = match env.params {
        None => SentParams::default(),
        Some(Some(p)) => p,
        Some(None) => return Err(bad(id, Failure::invalid_json_param("params"))),
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

impl RateLimitType {
    /// The name as Binance writes it (and serde serializes it).
    pub fn as_str(self) -> &'static str {
        match self {
            RateLimitType::RequestWeight => "REQUEST_WEIGHT",
            RateLimitType::Orders => "ORDERS",
            RateLimitType::Connections => "CONNECTIONS",
        }
    }
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

impl RateLimitInterval {
    /// The name as Binance writes it (and serde serializes it).
    pub fn as_str(self) -> &'static str {
        match self {
            RateLimitInterval::Second => "SECOND",
            RateLimitInterval::Minute => "MINUTE",
            RateLimitInterval::Day => "DAY",
        }
    }
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

/// Room a response starts with: a cancel-replace's answer (the largest hot one) is about
/// 1 KB, and growing from serde_json's 128 bytes cost three reallocations and copies.
const RESPONSE_CAPACITY: usize = 1280;

fn response<B: Serialize>(envelope: &Envelope<'_, B>) -> String {
    let mut out = Vec::with_capacity(RESPONSE_CAPACITY);
    // Serializing strings, integers and JSON values into memory cannot fail, and serde_json
    // writes UTF-8; an empty string would only show a broken Serialize impl.
    match serde_json::to_writer(&mut out, envelope) {
        Ok(()) => String::from_utf8(out).unwrap_or_default(),
        Err(_) => String::new(),
    }
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

/// A success response whose result writes itself ([`WriteJson`]): the same text as
/// [`render_ok`] of the equivalent JSON value, without serde's serializer for the hot bodies.
pub fn render_ok_json<B: WriteJson + ?Sized>(
    id: &Value,
    result: &B,
    rate_limits: &[RateLimitStatus],
) -> String {
    let mut out = Vec::with_capacity(RESPONSE_CAPACITY);
    out.extend_from_slice(b"{\"id\":");
    // Writing to memory cannot fail.
    if serde_json::to_writer(&mut out, id).is_err() {
        return String::new();
    }
    out.extend_from_slice(b",\"status\":200,\"result\":");
    result.write_json(&mut out);
    if !rate_limits.is_empty() {
        out.extend_from_slice(b",\"rateLimits\":");
        rate_limits.write_json(&mut out);
    }
    out.push(b'}');
    String::from_utf8(out).unwrap_or_default()
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

/// A request-weight status, as the tests' responses carry it.
#[cfg(test)]
pub(crate) fn sample_rate_limits() -> [RateLimitStatus; 1] {
    [RateLimitStatus {
        limit: RateLimit {
            rate_limit_type: RateLimitType::RequestWeight,
            interval: RateLimitInterval::Minute,
            interval_num: 1,
            limit: 6000,
        },
        count: 3,
    }]
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
        let limits = sample_rate_limits();
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

    type ReferenceRequest = (Value, Method, Map<String, Value>);

    /// The reading of an envelope through a whole `serde_json::Value` (how frames were read
    /// before the direct parser): the reference the direct parser must agree with.
    fn reference(text: &str) -> Result<ReferenceRequest, (Value, i32)> {
        let value: Value = serde_json::from_str(text).map_err(|_| (Value::Null, -1135))?;
        let Value::Object(mut obj) = value else {
            return Err((Value::Null, -1135));
        };
        let id = match obj.remove("id") {
            None | Some(Value::Null) => Value::Null,
            Some(v @ (Value::String(_) | Value::Number(_))) => v,
            Some(_) => return Err((Value::Null, -1135)),
        };
        let method = match obj.remove("method") {
            Some(Value::String(name)) if !name.is_empty() => name,
            _ => return Err((id, -1102)),
        };
        let Some(method) = Method::from_name(&method) else {
            return Err((id, -1020));
        };
        let params = match obj.remove("params") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(map)) => map,
            Some(_) => return Err((id, -1135)),
        };
        Ok((id, method, params))
    }

    /// A parameter value of a kind a method accepts.
    fn scalar() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        prop_oneof![
            any::<bool>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[a-zA-Z0-9.\\-_\"\u{e9}]{0,8}".prop_map(Value::from),
        ]
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-1e6f64..1e6).prop_map(Value::from),
            "[a-zA-Z0-9.\\-_\"\u{e9}]{0,8}".prop_map(Value::from),
            prop_oneof![
                Just("order.place"),
                Just("ping"),
                Just(""),
                Just("ORDER.PLACE")
            ]
            .prop_map(Value::from),
        ];
        leaf.prop_recursive(2, 8, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
                proptest::collection::vec(("[a-z]{1,3}", inner), 0..4)
                    .prop_map(|kv| { Value::Object(kv.into_iter().collect()) }),
            ]
        })
    }

    #[test]
    fn names_and_values_borrow_from_the_frame_unless_escaped() {
        let text = r#"{"id":1,"method":"order.pl\u0061ce","params":{"symbol":"BTCUSDT",
            "quantity" : 5 ,"n\u0061me":"x","note":"a\"b","flag":true}}"#;
        let r = parse_request(text).unwrap();
        assert_eq!(r.method, Method::OrderPlace);
        let in_frame = |s: &str| text.as_bytes().as_ptr_range().contains(&s.as_ptr());
        let [(symbol, SentValue::Str(btc)), (quantity, SentValue::Int(five)), (name, SentValue::Str(x)), (note, SentValue::Str(ab)), (flag, SentValue::Bool(true))] =
            r.params.0.as_slice()
        else {
            panic!("{:?}", r.params);
        };
        assert!(matches!(symbol, Cow::Borrowed("symbol")) && in_frame(symbol));
        assert!(matches!(btc, Cow::Borrowed("BTCUSDT")) && in_frame(btc));
        assert!(matches!(quantity, Cow::Borrowed("quantity")) && in_frame(quantity));
        assert!(*five == "5" && in_frame(five));
        assert!(matches!(name, Cow::Owned(n) if n == "name"));
        assert!(matches!(x, Cow::Borrowed("x")) && in_frame(x));
        assert!(matches!(note, Cow::Borrowed("note")) && in_frame(note));
        assert!(matches!(ab, Cow::Owned(v) if v == "a\"b"));
        assert!(matches!(flag, Cow::Borrowed("flag")));
        // Reads hand out the frame's text.
        let mut p = crate::api::Params::from_sent(r.params).unwrap();
        assert!(matches!(p.mandatory("symbol").unwrap(), Cow::Borrowed(s) if in_frame(s)));
        assert!(matches!(p.mandatory("quantity").unwrap(), Cow::Borrowed(s) if in_frame(s)));
        assert_eq!(p.mandatory("name").unwrap(), "x");
        assert_eq!(p.mandatory("note").unwrap(), "a\"b");
        assert_eq!(p.mandatory("flag").unwrap(), "true");
        p.finish().unwrap();
    }

    /// Integers keep their text as sent; those serde_json reads as fractions (beyond `i64`
    /// and `u64`, and `-0`) are `Other`, as reading the frame as a `Value` has them.
    #[test]
    fn integers_keep_their_text_and_minus_zero_reads_as_a_fraction() {
        let text = r#"{"method":"exchangeInfo","params":{"min":-9223372036854775808,
            "max":18446744073709551615,"zero":0,"n":-5,"negzero":-0,"big":18446744073709551616,
            "small":-9223372036854775809,"exp":1e5,"half":0.5}}"#;
        let r = parse_request(text).unwrap();
        let kinds: Vec<(&str, &SentValue)> = r.params.0.iter().map(|(n, v)| (&**n, v)).collect();
        assert_eq!(
            kinds,
            [
                ("min", &SentValue::Int("-9223372036854775808")),
                ("max", &SentValue::Int("18446744073709551615")),
                ("zero", &SentValue::Int("0")),
                ("n", &SentValue::Int("-5")),
                ("negzero", &SentValue::Other(json!(-0.0))),
                ("big", &SentValue::Other(json!(18446744073709551616.0))),
                ("small", &SentValue::Other(json!(-9223372036854775809.0))),
                ("exp", &SentValue::Other(json!(100000.0))),
                ("half", &SentValue::Other(json!(0.5))),
            ]
        );
        let as_json = r.params.to_json_map();
        assert_eq!(as_json, reference(text).unwrap().2);
        assert_eq!(as_json["negzero"].to_string(), "-0.0");
        // So `-0` is refused like any fraction (it always was: serde_json reads it as -0.0).
        for (frame, name) in [
            (r#"{"method":"ping","params":{"a":1,"x":-0}}"#, "x"),
            (r#"{"method":"ping","params":{"x":-0,"a":0.5,"x":-0}}"#, "x"),
            (r#"{"method":"ping","params":{"x":-0,"a":0.5,"x":0}}"#, "a"),
        ] {
            let r = parse_request(frame).unwrap();
            let e = crate::api::Params::from_sent(r.params).unwrap_err();
            assert_eq!(e, crate::api::params::mandatory(name), "{frame}");
        }
    }

    /// serde_json refuses values nested more than 128 levels (counting the envelope and
    /// `params`); the borrowing parser refuses exactly the frames reading the whole frame as
    /// a `Value` refuses, for a parameter value and for `method`.
    #[test]
    fn nesting_limit_as_when_the_frame_is_read_whole() {
        let (mut accepted, mut refused) = (0, 0);
        for depth in 120..=130 {
            let nested = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
            for text in [
                format!(r#"{{"id":1,"method":"exchangeInfo","params":{{"symbols":{nested}}}}}"#),
                format!(r#"{{"id":1,"params":{{"symbols":{nested}}},"method":"ping"}}"#),
                format!(r#"{{"id":1,"method":{nested}}}"#),
            ] {
                match (reference(&text), parse_request(&text)) {
                    (Ok((id, method, params)), Ok(r)) => {
                        assert_eq!((&r.id, r.method), (&id, method));
                        assert_eq!(r.params.to_json_map(), params);
                        accepted += 1;
                    }
                    (Err((id, code)), Err(bad)) => {
                        assert_eq!((&bad.id, bad.failure.code), (&id, code), "depth {depth}");
                        refused += usize::from(code == -1135);
                    }
                    (reference, direct) => {
                        panic!("depth {depth}: reference {reference:?}, direct {direct:?}")
                    }
                }
            }
        }
        // The limit lies within the depths tried.
        assert!(accepted > 0 && refused > 0, "{accepted} {refused}");
    }

    use proptest::strategy::Strategy as _;

    proptest::proptest! {
        /// The direct parser reads every frame as the `Value` reading does: the same id,
        /// method and parameters (values and order), the same error and echoed id, and
        /// the same `-1102` for the first non-scalar parameter. Frames carry duplicate
        /// members, members of every JSON type and, sometimes, a syntax error.
        #[test]
        fn direct_parser_agrees_with_the_value_reading(
            id in proptest::option::of(json_value()),
            method in proptest::option::of(proptest::prop_oneof![
                3 => proptest::strategy::Just(Value::from("order.place")),
                1 => json_value(),
            ]),
            params in proptest::option::of(proptest::prop_oneof![
                4 => proptest::collection::vec(
                    ("[a-e]{1,2}", proptest::prop_oneof![6 => scalar(), 1 => json_value()]),
                    0..8,
                ),
                1 => json_value().prop_map(|v| vec![("".to_string(), v)]),
            ]),
            extra in proptest::collection::vec(
                (proptest::prop_oneof![
                    proptest::strategy::Just("id".to_string()),
                    proptest::strategy::Just("method".to_string()),
                    "[a-z]{1,3}",
                ], json_value()),
                0..3,
            ),
            cut in proptest::option::weighted(0.2, 0usize..200),
        ) {
            let mut members: Vec<(String, String)> = Vec::new();
            if let Some(id) = id {
                members.push(("id".into(), id.to_string()));
            }
            if let Some(m) = method {
                members.push(("method".into(), m.to_string()));
            }
            if let Some(p) = params {
                // An object written by hand, so a name may repeat; a lone unnamed value is
                // written as that value (`params` of another JSON type).
                let text = match p.as_slice() {
                    [(name, v)] if name.is_empty() => v.to_string(),
                    kv => {
                        let inner: Vec<String> = kv
                            .iter()
                            .map(|(k, v)| format!("{}:{}", Value::from(k.as_str()), v))
                            .collect();
                        format!("{{{}}}", inner.join(","))
                    }
                };
                members.push(("params".into(), text));
            }
            for (k, v) in extra {
                members.push((k, v.to_string()));
            }
            let mut text = String::from("{");
            for (i, (k, v)) in members.iter().enumerate() {
                if i > 0 {
                    text.push(',');
                }
                text.push_str(&Value::from(k.as_str()).to_string());
                text.push(':');
                text.push_str(v);
            }
            text.push('}');
            if let Some(cut) = cut {
                let mut at = cut.min(text.len());
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                text.truncate(at);
            }
            let direct = parse_request(&text);
            match (reference(&text), direct) {
                (Ok((id, method, params)), Ok(r)) => {
                    proptest::prop_assert_eq!(&r.id, &id);
                    proptest::prop_assert_eq!(r.method, method);
                    let names: Vec<&str> = params.keys().map(String::as_str).collect();
                    let direct_names: Vec<&str> = r.params.0.iter().map(|(n, _)| &**n).collect();
                    proptest::prop_assert_eq!(direct_names, names);
                    proptest::prop_assert_eq!(r.params.to_json_map(), params.clone());
                    let as_sent = crate::api::Params::from_json(&params);
                    let direct = crate::api::Params::from_sent(r.params.clone());
                    proptest::prop_assert_eq!(as_sent, direct);
                }
                (Err((id, code)), Err(bad)) => {
                    proptest::prop_assert_eq!(&bad.id, &id);
                    proptest::prop_assert_eq!(bad.failure.code, code);
                }
                (reference, direct) => {
                    proptest::prop_assert!(false, "{text}: reference {reference:?}, direct {direct:?}");
                }
            }
        }
    }
}

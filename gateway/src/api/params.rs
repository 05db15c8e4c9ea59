//! Typed access to a request's `params`, with Binance's errors.
//!
//! Every parameter is read "as sent" (strings verbatim, integers as their JSON text, booleans
//! as `true` / `false`; fractional numbers, null, arrays and objects are `-1102` for that
//! parameter), so the values read here are exactly the ones that were signed. A parsed
//! request's names and values are borrowed from its frame ([`Params::from_sent`]): only a
//! name or string written with escapes has a `String` of its own.
//!
//! * Missing or empty mandatory parameter: `-1102 "Mandatory parameter '<name>' was not sent,
//!   was empty/null, or malformed."`; an optional parameter sent empty is the same error.
//! * An integer parameter that is not `^[0-9]{1,20}$` or overflows: `-1100` with that legal
//!   range.
//! * A client order id outside `^[a-zA-Z0-9-_]{1,36}$`: `-1100` with that range. Binance's
//!   own range also allows `.`; the matcher's [`ClientOrderId`] does not, so a `.` is refused
//!   here rather than accepted and failed later.
//! * A parameter left unread by the method: `-1104 "Not all sent parameters were read; read
//!   '<n>' parameter(s) but was sent '<m>'."` ([`Params::finish`]).
//! * `apiKey`, `signature`, `timestamp` and `recvWindow` are taken out by
//!   [`Params::take_security`] before the method reads its own parameters.
//!
//! JSON objects cannot carry a key twice after parsing (serde_json keeps the last value), so
//! Binance's `-1101` duplicate-parameter error cannot arise here.

use crate::api::envelope::{SentParams, SentValue};
use crate::api::failure::Failure;
use crate::auth;
use crate::errors::ApiError;
use matcher::ClientOrderId;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// The legal range of a client order id as this exchange accepts it.
pub const CLIENT_ORDER_ID_RANGE: &str = "^[a-zA-Z0-9-_]{1,36}$";
/// The legal range of an integer parameter.
pub const INTEGER_RANGE: &str = "^[0-9]{1,20}$";

/// The request-security parameters of a signed request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Security<'a> {
    /// `apiKey`, when sent (absent on a logged-on session).
    pub api_key: Option<Cow<'a, str>>,
    /// `signature`, when sent.
    pub signature: Option<Cow<'a, str>>,
    /// `timestamp`, milliseconds (or microseconds when the client said so; the caller knows).
    pub timestamp: u64,
    /// Effective `recvWindow` in microseconds ([`auth::parse_recv_window`]).
    pub recv_window_us: u64,
    /// The signature payload: every parameter except `signature`, sorted, `name=value`
    /// joined with `&`, values as sent.
    pub payload: String,
}

/// A request's parameters as sent, with what has been read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Params<'a> {
    /// Sorted by [`name_order`], names unique; a value is taken out when read. (A dozen
    /// parameters: a sorted vector of the sent strings costs no allocation beyond it, a
    /// B-tree cost nodes and a rebalance per read.) Names and values borrow from the
    /// request's frame, or are owned when unescaped or built from JSON.
    values: Vec<(Cow<'a, str>, Option<Cow<'a, str>>)>,
    read: usize,
    sent: usize,
}

impl<'a> Params<'a> {
    /// Renders `params` as sent (see the module docs).
    pub fn from_json(params: &Map<String, Value>) -> Result<Params<'static>, Failure> {
        let pairs = auth::json_params_as_sent(params)?;
        Ok(Params::from_pairs_in_order(
            pairs
                .into_iter()
                .map(|(n, v)| (Cow::Owned(n), Cow::Owned(v))),
        ))
    }

    /// Params of `(name, value)` pairs in the order sent; of a name sent twice the last value
    /// counts.
    fn from_pairs_in_order(pairs: impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)>) -> Self {
        let mut values: Vec<_> = pairs.map(|(name, value)| (name, Some(value))).collect();
        // A stable sort keeps repeated names in the order sent; of each run the first place
        // stays, with the run's last value.
        values.sort_by(|a, b| name_order(&a.0, &b.0));
        values.dedup_by(|later, kept| {
            let repeated = later.0 == kept.0;
            if repeated {
                kept.1 = later.1.take();
            }
            repeated
        });
        Params::from_sorted(values)
    }

    fn from_sorted(values: Vec<(Cow<'a, str>, Option<Cow<'a, str>>)>) -> Self {
        let sent = values.len();
        Params {
            values,
            read: 0,
            sent,
        }
    }

    fn find(&self, name: &str) -> Option<usize> {
        self.values
            .binary_search_by(|(n, _)| name_order(n, name))
            .ok()
    }

    /// The parameters of a parsed request (see the module docs), borrowing from its frame as
    /// it does: a value that is not a string, an integer or a boolean is `-1102` for its
    /// name (the first such, in the order sent).
    pub fn from_sent(params: SentParams<'a>) -> Result<Self, Failure> {
        let mut values = Vec::with_capacity(params.len());
        for (name, value) in params.0 {
            let text = match value {
                SentValue::Str(s) => s,
                SentValue::Int(t) => Cow::Borrowed(t),
                SentValue::Bool(b) => Cow::Borrowed(if b { "true" } else { "false" }),
                SentValue::Other(_) => return Err(mandatory(&name)),
            };
            values.push((name, Some(text)));
        }
        // `SentParams` holds each name once (with its last value).
        values.sort_unstable_by(|a, b| name_order(&a.0, &b.0));
        Ok(Params::from_sorted(values))
    }

    /// Builds params from `(name, value)` pairs as sent, borrowing them (tests and non-JSON
    /// callers); of a name sent twice the last value counts.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Params::from_pairs_in_order(
            pairs
                .into_iter()
                .map(|(k, v)| (Cow::Borrowed(k), Cow::Borrowed(v))),
        )
    }

    /// Whether a parameter was sent (does not read it).
    pub fn contains(&self, name: &str) -> bool {
        self.find(name)
            .is_some_and(|i| self.values.get(i).is_some_and(|(_, v)| v.is_some()))
    }

    /// Reads an optional parameter; sent empty is `-1102`.
    pub fn optional(&mut self, name: &str) -> Result<Option<Cow<'a, str>>, Failure> {
        let taken = self
            .find(name)
            .and_then(|i| self.values.get_mut(i))
            .and_then(|(_, v)| v.take());
        match taken {
            None => Ok(None),
            Some(v) if v.is_empty() => Err(mandatory(name)),
            Some(v) => {
                self.read += 1;
                Ok(Some(v))
            }
        }
    }

    /// Reads a mandatory parameter; missing or empty is `-1102`.
    pub fn mandatory(&mut self, name: &str) -> Result<Cow<'a, str>, Failure> {
        self.optional(name)?.ok_or_else(|| mandatory(name))
    }

    /// Reads an optional unsigned integer (`-1100` when malformed).
    pub fn optional_u64(&mut self, name: &str) -> Result<Option<u64>, Failure> {
        match self.optional(name)? {
            None => Ok(None),
            Some(text) => parse_u64(name, &text).map(Some),
        }
    }

    /// Reads a mandatory unsigned integer.
    pub fn mandatory_u64(&mut self, name: &str) -> Result<u64, Failure> {
        self.optional_u64(name)?.ok_or_else(|| mandatory(name))
    }

    /// Reads an optional boolean (`true` / `false`, `-1130` otherwise).
    pub fn optional_bool(&mut self, name: &str) -> Result<Option<bool>, Failure> {
        match self.optional(name)?.as_deref() {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(_) => Err(invalid(name)),
        }
    }

    /// Reads an optional client order id (`-1100` outside [`CLIENT_ORDER_ID_RANGE`]).
    pub fn optional_client_id(&mut self, name: &str) -> Result<Option<ClientOrderId>, Failure> {
        match self.optional(name)? {
            None => Ok(None),
            Some(text) => ClientOrderId::new(&text).map(Some).map_err(|_| {
                ApiError::IllegalChars {
                    param: name.to_string(),
                    legal_range: CLIENT_ORDER_ID_RANGE,
                }
                .into()
            }),
        }
    }

    /// Reads an optional enumerated parameter with `parse`; an unknown value is `on_bad`.
    pub fn optional_enum<T>(
        &mut self,
        name: &str,
        parse: impl Fn(&str) -> Option<T>,
        on_bad: impl Fn() -> Failure,
    ) -> Result<Option<T>, Failure> {
        match self.optional(name)? {
            None => Ok(None),
            Some(text) => parse(&text).map(Some).ok_or_else(on_bad),
        }
    }

    /// Refuses a parameter this method does not take here: if sent, `error(name)`.
    pub fn refuse(&self, name: &str, error: impl Fn(&str) -> Failure) -> Result<(), Failure> {
        if self.contains(name) {
            Err(error(name))
        } else {
            Ok(())
        }
    }

    /// Takes the request-security parameters of a signed request and builds the signature
    /// payload from every parameter as sent. `timestamp` is mandatory; `recvWindow` is
    /// Binance's decimal milliseconds ([`auth::parse_recv_window`]).
    pub fn take_security(&mut self) -> Result<Security<'a>, Failure> {
        let payload = auth::signature_payload(
            self.values
                .iter()
                .filter_map(|(k, v)| v.as_deref().map(|v| (&**k, v))),
        );
        let api_key = self.optional("apiKey")?;
        let signature = self.optional(auth::SIGNATURE_PARAM)?;
        let timestamp = self.mandatory_u64("timestamp")?;
        let recv_window = self.optional("recvWindow")?;
        let recv_window_us = auth::parse_recv_window(recv_window.as_deref())?;
        Ok(Security {
            api_key,
            signature,
            timestamp,
            recv_window_us,
            payload,
        })
    }

    /// Ends reading: any parameter left unread is `-1104`.
    pub fn finish(self) -> Result<(), Failure> {
        if self.values.iter().all(|(_, v)| v.is_none()) {
            Ok(())
        } else {
            Err(Failure::unread(self.read, self.sent))
        }
    }
}

/// The order of [`Params`]' names: by length, then bytes. A method reads a few dozen names
/// per request, most of them not sent; comparing lengths first settles nearly every step of
/// a lookup without comparing bytes.
fn name_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// `-1102` for `name`.
pub fn mandatory(name: &str) -> Failure {
    ApiError::MandatoryParam {
        param: name.to_string(),
    }
    .into()
}

/// `-1130` for `name`.
pub fn invalid(name: &str) -> Failure {
    ApiError::InvalidParameter {
        param: name.to_string(),
    }
    .into()
}

fn parse_u64(name: &str, text: &str) -> Result<u64, Failure> {
    let illegal = || -> Failure {
        ApiError::IllegalChars {
            param: name.to_string(),
            legal_range: INTEGER_RANGE,
        }
        .into()
    };
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(illegal());
    }
    text.parse::<u64>().map_err(|_| illegal())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(v: Value) -> Params<'static> {
        match v {
            Value::Object(m) => Params::from_json(&m).unwrap(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn typed_reads_and_their_errors() {
        let mut p = params(json!({"a": "1", "b": 2, "c": "", "d": "x1", "e": true, "f": "no"}));
        assert_eq!(p.optional_u64("a").unwrap(), Some(1));
        assert_eq!(p.mandatory_u64("b").unwrap(), 2);
        assert_eq!(p.optional("c").unwrap_err().code, -1102);
        let e = p.optional_u64("d").unwrap_err();
        assert_eq!(
            (e.code, e.msg.as_str()),
            (
                -1100,
                "Illegal characters found in parameter 'd'; legal range is '^[0-9]{1,20}$'."
            )
        );
        assert_eq!(p.optional_bool("e").unwrap(), Some(true));
        assert_eq!(p.optional_bool("f").unwrap_err().code, -1130);
        assert_eq!(
            p.mandatory("zzz").unwrap_err().msg,
            "Mandatory parameter 'zzz' was not sent, was empty/null, or malformed."
        );
        p.finish().unwrap();
    }

    #[test]
    fn non_scalar_values_are_malformed() {
        for v in [
            json!({"x": 1.5}),
            json!({"x": null}),
            json!({"x": [1]}),
            json!({"x": {}}),
        ] {
            let Value::Object(m) = v else { unreachable!() };
            let e = Params::from_json(&m).unwrap_err();
            assert_eq!(e.code, -1102);
        }
    }

    #[test]
    fn unread_parameters_are_refused() {
        let mut p = params(json!({"symbol": "BTCUSDT", "foo": "1", "bar": "2"}));
        p.mandatory("symbol").unwrap();
        let e = p.finish().unwrap_err();
        assert_eq!(
            e.msg,
            "Not all sent parameters were read; read '1' parameter(s) but was sent '3'."
        );
    }

    #[test]
    fn client_ids() {
        let long = "a".repeat(37);
        let mut p = params(json!({"a": "ok-_9", "b": "has.dot", "c": long, "d": "sp ace"}));
        assert!(p.optional_client_id("a").unwrap().is_some());
        for name in ["b", "c", "d"] {
            let e = p.optional_client_id(name).unwrap_err();
            assert_eq!(e.code, -1100, "{name}");
            assert!(e.msg.contains(CLIENT_ORDER_ID_RANGE));
        }
    }

    #[test]
    fn security_and_payload() {
        // Binance's documented WebSocket API signing example (HMAC section).
        let mut p = params(json!({
            "symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC",
            "quantity": "0.01000000", "price": "52000.00", "newOrderRespType": "ACK",
            "recvWindow": 100, "timestamp": 1645423376532u64,
            "apiKey": "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
            "signature": "x"
        }));
        let s = p.take_security().unwrap();
        assert_eq!(
            s.payload,
            "apiKey=vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A&newOrderRespType=ACK&price=52000.00&quantity=0.01000000&recvWindow=100&side=SELL&symbol=BTCUSDT&timeInForce=GTC&timestamp=1645423376532&type=LIMIT"
        );
        assert_eq!(s.timestamp, 1645423376532);
        assert_eq!(s.recv_window_us, 100_000);
        assert_eq!(s.signature.as_deref(), Some("x"));
        assert!(p.contains("symbol") && !p.contains("apiKey"));
        let mut q = params(json!({"apiKey": "k"}));
        assert_eq!(q.take_security().unwrap_err().code, -1102);
        let mut r = params(json!({"timestamp": 1, "recvWindow": "60001"}));
        assert_eq!(r.take_security().unwrap_err().code, -1131);
    }

    use proptest::prelude::{any, prop_oneof, Strategy};
    use proptest::test_runner::TestCaseError;
    use std::collections::BTreeMap;

    /// Reads `reads` from `p` and checks them against `model`, the values sent: each name's
    /// value once, then nothing (sent empty is `-1102`); `finish` fails exactly while
    /// something is unread, with the counts of what was read and sent.
    fn reads_match_the_model(
        mut p: Params<'_>,
        mut model: BTreeMap<String, String>,
        reads: &[String],
    ) -> Result<(), TestCaseError> {
        let sent = model.len();
        let mut read = 0;
        for name in reads {
            proptest::prop_assert_eq!(p.contains(name), model.contains_key(name));
            let expected = model.remove(name);
            match p.optional(name) {
                Ok(got) => {
                    proptest::prop_assert_eq!(got.as_deref(), expected.as_deref());
                    read += usize::from(got.is_some());
                }
                Err(f) => {
                    proptest::prop_assert_eq!(f.code, -1102);
                    proptest::prop_assert_eq!(expected.as_deref(), Some(""));
                }
            }
        }
        match p.finish() {
            Ok(()) => proptest::prop_assert!(model.is_empty()),
            Err(f) => {
                proptest::prop_assert!(!model.is_empty());
                proptest::prop_assert_eq!(f, Failure::unread(read, sent));
            }
        }
        Ok(())
    }

    /// `s` as a JSON string: as serde_json writes it, or with every character escaped.
    fn json_string(s: &str, escape_all: bool) -> String {
        if !escape_all {
            return Value::from(s).to_string();
        }
        let mut out = String::from("\"");
        for unit in s.encode_utf16() {
            out.push_str(&format!("\\u{unit:04x}"));
        }
        out.push('"');
        out
    }

    /// A parameter value's JSON text, of every kind a client may send (mostly the kinds a
    /// method reads: anything else fails the whole request).
    fn value_text() -> impl Strategy<Value = String> {
        prop_oneof![
            6 => ("[a-z0-9 .\"\\\\\n\u{e9}\u{1F600}]{0,6}", any::<bool>())
                .prop_map(|(s, escape_all)| json_string(&s, escape_all)),
            2 => any::<i64>().prop_map(|n| n.to_string()),
            2 => any::<u64>().prop_map(|n| n.to_string()),
            2 => proptest::sample::select(vec![
                "-9223372036854775808",
                "18446744073709551615",
                "0",
                "-1",
            ])
            .prop_map(String::from),
            2 => any::<bool>().prop_map(|b| b.to_string()),
            // Read as fractions: refused.
            1 => proptest::sample::select(vec![
                "-0",
                "-9223372036854775809",
                "18446744073709551616",
                "-0.0",
                "1e5",
                "2.50",
                "-1E-2",
            ])
            .prop_map(String::from),
            1 => (-1e6f64..1e6).prop_map(|f| Value::from(f).to_string()),
            1 => proptest::sample::select(vec![
                "null",
                "[]",
                "[1,\"x\"]",
                "{}",
                "{\"a\":[null],\"a\":2}",
            ])
            .prop_map(String::from),
        ]
    }

    /// Parameter names: a few, so that they repeat (also in other spellings), one with a
    /// quote, non-ASCII ones, and the one the security reads require.
    const NAMES: &str = "[ab\"\u{e9}]|a[b\u{e9}]|symbol|timestamp";

    proptest::proptest! {
        /// Reading behaves as a map of the pairs (a repeated name keeps its last value):
        /// each name's value once, then nothing; `finish` fails exactly while something is
        /// unread, with the counts of what was read and sent.
        #[test]
        fn reads_behave_as_a_map_of_the_pairs(
            pairs in proptest::collection::vec(("[a-e]{1,2}", "[a-z0-9]{0,3}"), 0..12),
            reads in proptest::collection::vec("[a-e]{1,2}", 0..16),
        ) {
            let model: BTreeMap<String, String> = pairs.iter().cloned().collect();
            let p = Params::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            reads_match_the_model(p, model, &reads)?;
        }

        /// The parameters of a frame, parsed borrowing from it, read as the frame read
        /// whole into a `Value` and rendered as sent (strings verbatim, integers as
        /// serde_json writes them, booleans): the same `-1102` for the first other value,
        /// else the same values (a repeated name keeps its last), signature payload and
        /// unread count; and they equal `Params::from_json` of that `Value`. Names are
        /// written with and without escapes (two spellings of a name are a repeat), values
        /// of every JSON kind, with whitespace around them. Without escapes in the frame,
        /// every name and string is borrowed from it.
        #[test]
        fn borrowed_params_read_as_the_value_reading(
            members in proptest::collection::vec(
                ((NAMES, any::<bool>()), value_text(), "[ \n\t]{0,2}"),
                0..8,
            ),
            timestamp in proptest::option::weighted(0.8, any::<u64>()),
            reads in proptest::collection::vec(proptest::prop_oneof![NAMES, "zz"], 0..16),
        ) {
            let mut members: Vec<String> = members
                .iter()
                .map(|((name, escape_all), value, ws)| {
                    format!("{ws}{}{ws}:{ws}{value}{ws}", json_string(name, *escape_all))
                })
                .collect();
            // Usually a valid timestamp, last, so that the security reads succeed.
            if let Some(t) = timestamp {
                members.push(format!("\"timestamp\":{t}"));
            }
            let text = format!(
                r#"{{"id":1,"method":"order.place","params":{{{}}}}}"#,
                members.join(",")
            );

            let whole: Value = serde_json::from_str(&text).unwrap();
            let sent = whole["params"].as_object().unwrap();
            let mut model = BTreeMap::new();
            let mut malformed = None;
            for (name, value) in sent {
                let as_sent = match value {
                    Value::String(s) => s.clone(),
                    Value::Bool(b) => b.to_string(),
                    Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
                    _ => {
                        malformed = Some(name.clone());
                        break;
                    }
                };
                model.insert(name.clone(), as_sent);
            }

            let request = crate::api::parse_request(&text).unwrap();
            if !text.contains('\\') {
                for (name, value) in &request.params.0 {
                    proptest::prop_assert!(matches!(name, Cow::Borrowed(_)), "{name}");
                    if let SentValue::Str(s) = value {
                        proptest::prop_assert!(matches!(s, Cow::Borrowed(_)), "{s}");
                    }
                }
            }
            let p = match (Params::from_sent(request.params), malformed) {
                (Err(f), Some(name)) => {
                    proptest::prop_assert_eq!(f, mandatory(&name));
                    return Ok(());
                }
                (Ok(p), None) => p,
                (direct, malformed) => {
                    return Err(TestCaseError::fail(format!(
                        "{text}: direct {direct:?}, malformed {malformed:?}"
                    )));
                }
            };
            proptest::prop_assert_eq!(&p, &Params::from_json(sent).unwrap());
            match p.clone().take_security() {
                Ok(security) => {
                    let payload = auth::signature_payload(
                        model.iter().map(|(n, v)| (n.as_str(), v.as_str())),
                    );
                    proptest::prop_assert_eq!(security.payload, payload);
                    let sent_timestamp = model.get("timestamp").map(|t| t.parse::<u64>());
                    proptest::prop_assert_eq!(sent_timestamp, Some(Ok(security.timestamp)));
                }
                Err(f) => {
                    let owned = Params::from_json(sent).unwrap().take_security();
                    proptest::prop_assert_eq!(Err(f), owned);
                }
            }
            reads_match_the_model(p, model, &reads)?;
        }
    }
}

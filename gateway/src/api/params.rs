//! Typed access to a request's `params`, with Binance's errors.
//!
//! Every parameter is first rendered "as sent" by [`crate::auth::json_params_as_sent`]
//! (strings verbatim, integers and booleans as their JSON text; fractional numbers, null,
//! arrays and objects are `-1102` for that parameter), so the values read here are exactly the
//! ones that were signed.
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

/// The legal range of a client order id as this exchange accepts it.
pub const CLIENT_ORDER_ID_RANGE: &str = "^[a-zA-Z0-9-_]{1,36}$";
/// The legal range of an integer parameter.
pub const INTEGER_RANGE: &str = "^[0-9]{1,20}$";

/// The request-security parameters of a signed request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Security {
    /// `apiKey`, when sent (absent on a logged-on session).
    pub api_key: Option<String>,
    /// `signature`, when sent.
    pub signature: Option<String>,
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
pub struct Params {
    /// Sorted by [`name_order`], names unique; a value is taken out when read. (A dozen
    /// parameters: a sorted vector of the sent strings costs no allocation beyond them, a
    /// B-tree cost nodes and a rebalance per read.)
    values: Vec<(String, Option<String>)>,
    read: usize,
    sent: usize,
}

impl Params {
    /// Renders `params` as sent (see the module docs).
    pub fn from_json(params: &Map<String, Value>) -> Result<Params, Failure> {
        Ok(Params::from_owned(auth::json_params_as_sent(params)?))
    }

    /// Params of `(name, value)` pairs; of a name sent twice the last value counts.
    fn from_owned(mut pairs: Vec<(String, String)>) -> Params {
        // A stable sort keeps repeated names in the order sent; the last of each run stays.
        pairs.sort_by(|a, b| name_order(&a.0, &b.0));
        let mut values: Vec<(String, Option<String>)> = Vec::with_capacity(pairs.len());
        for (name, value) in pairs {
            match values.last_mut() {
                Some(last) if last.0 == name => last.1 = Some(value),
                _ => values.push((name, Some(value))),
            }
        }
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

    /// The parameters of a parsed request (see the module docs): a value that is not a
    /// string, an integer or a boolean is `-1102` for its name (the first such, in the
    /// order sent).
    pub fn from_sent(params: SentParams) -> Result<Params, Failure> {
        let mut pairs = Vec::with_capacity(params.len());
        for (name, value) in params.0 {
            let text = match value {
                SentValue::Str(s) | SentValue::Int(s) => s,
                SentValue::Bool(b) => b.to_string(),
                SentValue::Other(_) => return Err(mandatory(&name)),
            };
            pairs.push((name, text));
        }
        Ok(Params::from_owned(pairs))
    }

    /// Builds params from `(name, value)` pairs as sent (tests and non-JSON callers).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Params {
        Params::from_owned(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// Whether a parameter was sent (does not read it).
    pub fn contains(&self, name: &str) -> bool {
        self.find(name)
            .is_some_and(|i| self.values.get(i).is_some_and(|(_, v)| v.is_some()))
    }

    /// Reads an optional parameter; sent empty is `-1102`.
    pub fn optional(&mut self, name: &str) -> Result<Option<String>, Failure> {
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
    pub fn mandatory(&mut self, name: &str) -> Result<String, Failure> {
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
    pub fn take_security(&mut self) -> Result<Security, Failure> {
        let payload = auth::signature_payload(
            self.values
                .iter()
                .filter_map(|(k, v)| v.as_deref().map(|v| (k.as_str(), v))),
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

    fn params(v: Value) -> Params {
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

    proptest::proptest! {
        /// Reading behaves as a map of the pairs (a repeated name keeps its last value):
        /// each name's value once, then nothing; `finish` fails exactly while something is
        /// unread, with the counts of what was read and sent.
        #[test]
        fn reads_behave_as_a_map_of_the_pairs(
            pairs in proptest::collection::vec(("[a-e]{1,2}", "[a-z0-9]{0,3}"), 0..12),
            reads in proptest::collection::vec("[a-e]{1,2}", 0..16),
        ) {
            let mut model: std::collections::BTreeMap<String, String> =
                pairs.iter().cloned().collect();
            let sent = model.len();
            let mut p = Params::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            let mut read = 0;
            for name in &reads {
                proptest::prop_assert_eq!(p.contains(name), model.contains_key(name));
                let expected = model.remove(name);
                match p.optional(name) {
                    Ok(got) => {
                        proptest::prop_assert_eq!(&got, &expected);
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
        }
    }
}

//! Requests on the wire: parameters as typed values, from which the signature payload and
//! the JSON text of the frame are written directly (no `serde_json::Value` in between).
//!
//! Both the general [`super::Client`] and the load generator's [`super::Connection`] encode
//! with [`encode_request`], so what is signed and sent does not depend on the path.

use super::{ClientConfig, ClientError, Credentials};
use serde_json::{Map, Value};
use std::fmt::Write as _;

/// One parameter value as it is sent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ParamValue<'a> {
    /// A JSON string; signed verbatim.
    Str(&'a str),
    /// An unsigned integer; signed as its decimal text.
    U64(u64),
    /// A negative (or any signed) integer; signed as its decimal text.
    I64(i64),
    /// A boolean; signed as `true` / `false`.
    Bool(bool),
    /// Any other JSON value (a fraction, null, an array, an object): sent as it is, but a
    /// request carrying one cannot be signed ([`ClientError::BadParam`]).
    Json(&'a Value),
}

impl<'a> ParamValue<'a> {
    /// The value of a JSON parameter: strings, integers and booleans typed, the rest as JSON.
    pub fn of_json(value: &'a Value) -> ParamValue<'a> {
        match value {
            Value::String(s) => ParamValue::Str(s),
            Value::Bool(b) => ParamValue::Bool(*b),
            Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => ParamValue::U64(u),
                (None, Some(i)) => ParamValue::I64(i),
                (None, None) => ParamValue::Json(value),
            },
            other => ParamValue::Json(other),
        }
    }

    /// The value as a `serde_json::Value`.
    pub fn to_json(&self) -> Value {
        match *self {
            ParamValue::Str(s) => Value::String(s.to_string()),
            ParamValue::U64(n) => Value::from(n),
            ParamValue::I64(n) => Value::from(n),
            ParamValue::Bool(b) => Value::Bool(b),
            ParamValue::Json(v) => v.clone(),
        }
    }
}

/// A request's parameters by name, borrowed from whatever the request is built from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Params<'a> {
    items: Vec<(&'a str, ParamValue<'a>)>,
}

impl<'a> Params<'a> {
    /// No parameters.
    pub fn new() -> Params<'a> {
        Params { items: Vec::new() }
    }

    /// Room for `n` parameters.
    pub fn with_capacity(n: usize) -> Params<'a> {
        Params {
            items: Vec::with_capacity(n),
        }
    }

    /// Adds a parameter the caller knows is not there yet (request builders with fixed
    /// names); see [`Params::set`] otherwise.
    pub fn push(&mut self, name: &'a str, value: ParamValue<'a>) {
        debug_assert!(self.get(name).is_none(), "parameter {name} given twice");
        self.items.push((name, value));
    }

    /// Adds a parameter or replaces the value of the one with this name.
    pub fn set(&mut self, name: &'a str, value: ParamValue<'a>) {
        match self.items.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.items.push((name, value)),
        }
    }

    /// Removes the parameter with this name, if any.
    pub fn remove(&mut self, name: &str) {
        self.items.retain(|(n, _)| *n != name);
    }

    /// The value of the parameter with this name.
    pub fn get(&self, name: &str) -> Option<&ParamValue<'a>> {
        self.items.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// The parameters in their current order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, ParamValue<'a>)> + '_ {
        self.items.iter().copied()
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The parameters of a JSON object (see [`ParamValue::of_json`]).
    pub fn from_map(map: &'a Map<String, Value>) -> Params<'a> {
        Params {
            items: map
                .iter()
                .map(|(n, v)| (n.as_str(), ParamValue::of_json(v)))
                .collect(),
        }
    }

    /// The parameters as a JSON object.
    pub fn to_map(&self) -> Map<String, Value> {
        self.items
            .iter()
            .map(|(n, v)| ((*n).to_string(), v.to_json()))
            .collect()
    }

    fn sort_by_name(&mut self) {
        self.items.sort_unstable_by(|a, b| a.0.cmp(b.0));
    }
}

/// How a request is authenticated.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Security<'a> {
    /// Sent as given.
    None,
    /// `timestamp` (and `recvWindow`) set; with credentials, `apiKey` set and the request
    /// signed (a `signature` given by the caller is replaced).
    Signed {
        timestamp_ms: u64,
        recv_window_ms: Option<u64>,
        sign_with: Option<&'a Credentials>,
    },
}

impl<'a> Security<'a> {
    /// What a signed method needs on a connection: `timestamp` (and `recvWindow` if
    /// configured), then `apiKey` and `signature` unless the session is logged on (or
    /// `force_signature`, for `session.logon` itself).
    pub(crate) fn for_signed(
        config: &'a ClientConfig,
        method: &str,
        logged_on: bool,
        force_signature: bool,
    ) -> Result<Security<'a>, ClientError> {
        let sign_with = if logged_on && !force_signature {
            None
        } else {
            Some(
                config
                    .credentials
                    .as_ref()
                    .ok_or_else(|| ClientError::NoCredentials {
                        method: method.to_string(),
                    })?,
            )
        };
        Ok(Security::Signed {
            timestamp_ms: super::now_ms(),
            recv_window_ms: config.recv_window_ms,
            sign_with,
        })
    }
}

/// Appends the text of a parameter as it is signed: strings verbatim, integers and booleans
/// as their JSON text; anything else cannot be signed.
fn push_signed_text(
    out: &mut String,
    name: &str,
    value: &ParamValue<'_>,
) -> Result<(), ClientError> {
    match *value {
        ParamValue::Str(s) => out.push_str(s),
        ParamValue::U64(n) => push_u64(out, n),
        ParamValue::I64(n) => {
            let _ = write!(out, "{n}");
        }
        ParamValue::Bool(b) => out.push_str(if b { "true" } else { "false" }),
        ParamValue::Json(_) => {
            return Err(ClientError::BadParam {
                param: name.to_string(),
            })
        }
    }
    Ok(())
}

/// The signature of `params` (sorted by name, without `signature`) as Binance documents it:
/// `name=value` joined with `&`, lowercase hex HMAC-SHA256 keyed with the secret.
/// `payload` is scratch space (cleared first) so a caller can reuse its allocation.
pub(crate) fn signature_of_sorted(
    params: &Params<'_>,
    signer: &gateway::auth::Signer,
    payload: &mut String,
) -> Result<String, ClientError> {
    payload.clear();
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            payload.push('&');
        }
        payload.push_str(name);
        payload.push('=');
        push_signed_text(payload, name, &value)?;
    }
    Ok(signer.sign(payload))
}

/// Adds `apiKey` and `signature` to `params` (which already hold `timestamp`): the same
/// signature [`super::Client`] and [`super::Connection`] send.
pub fn sign_params(
    params: &mut Map<String, Value>,
    credentials: &Credentials,
) -> Result<(), ClientError> {
    params.insert("apiKey".into(), Value::String(credentials.api_key.clone()));
    params.remove(gateway::auth::SIGNATURE_PARAM);
    let signature = {
        let mut typed = Params::from_map(params);
        typed.sort_by_name();
        signature_of_sorted(&typed, credentials.signer(), &mut String::new())?
    };
    params.insert(
        gateway::auth::SIGNATURE_PARAM.into(),
        Value::String(signature),
    );
    Ok(())
}

/// Writes the frame `{"id":ID,"method":METHOD,"params":{...}}` of a request into `out`
/// (appending), with the parameters `security` asks for. Signed requests list their
/// parameters sorted by name with `signature` last; unsigned ones in the order given, and
/// without a `params` object when there are none. `scratch` holds the signature payload.
pub(crate) fn encode_request<'a>(
    out: &mut String,
    scratch: &mut String,
    id: u64,
    method: &str,
    mut params: Params<'a>,
    security: Security<'a>,
) -> Result<(), ClientError> {
    let mut signature = None;
    if let Security::Signed {
        timestamp_ms,
        recv_window_ms,
        sign_with,
    } = security
    {
        params.set("timestamp", ParamValue::U64(timestamp_ms));
        if let Some(w) = recv_window_ms {
            params.set("recvWindow", ParamValue::U64(w));
        }
        if let Some(credentials) = sign_with {
            params.set("apiKey", ParamValue::Str(&credentials.api_key));
            params.remove(gateway::auth::SIGNATURE_PARAM);
        }
        params.sort_by_name();
        if let Some(credentials) = sign_with {
            signature = Some(signature_of_sorted(&params, credentials.signer(), scratch)?);
        }
    }
    out.push_str("{\"id\":");
    push_u64(out, id);
    out.push_str(",\"method\":");
    push_json_str(out, method);
    if !params.is_empty() || signature.is_some() {
        out.push_str(",\"params\":{");
        for (i, (name, value)) in params.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_json_str(out, name);
            out.push(':');
            push_json_value(out, &value);
        }
        if let Some(signature) = signature {
            if !params.is_empty() {
                out.push(',');
            }
            push_json_str(out, gateway::auth::SIGNATURE_PARAM);
            out.push(':');
            push_json_str(out, &signature);
        }
        out.push('}');
    }
    out.push('}');
    Ok(())
}

/// Appends the decimal text of `n`.
fn push_u64(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        // n % 10 < 10: the cast keeps the value.
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[at..] {
        out.push(char::from(d));
    }
}

fn push_json_value(out: &mut String, value: &ParamValue<'_>) {
    match *value {
        ParamValue::Str(s) => push_json_str(out, s),
        ParamValue::U64(n) => push_u64(out, n),
        ParamValue::I64(n) => {
            let _ = write!(out, "{n}");
        }
        ParamValue::Bool(b) => out.push_str(if b { "true" } else { "false" }),
        ParamValue::Json(v) => {
            let _ = write!(out, "{v}");
        }
    }
}

/// Whether `s` holds a byte JSON must escape (a control character, `"` or `\`), eight bytes
/// at a time.
fn needs_escape(s: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // The classic word tests, exact as yes/no answers: `x` has a zero byte iff
    // `(x - 0x01..01) & !x & 0x80..80 != 0`; a byte below 0x20 likewise with 0x20..20 (bytes
    // of 0x80 and above never count, `!x` clears their high bit).
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH != 0;
    let has_below_space = |x: u64| x.wrapping_sub(0x20 * ONES) & !x & HIGH != 0;
    let mut chunks = s.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        if has_below_space(x)
            || has_zero(x ^ (u64::from(b'"') * ONES))
            || has_zero(x ^ (u64::from(b'\\') * ONES))
        {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// Appends `s` as a JSON string literal.
fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    if !needs_escape(s.as_bytes()) {
        out.push_str(s);
    } else {
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if u32::from(c) < 0x20 => {
                    let _ = write!(out, "\\u{:04x}", u32::from(c));
                }
                c => out.push(c),
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Binance's documented example (WebSocket API, "Signed request example (HMAC)").
    const KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
    const SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";

    #[test]
    fn binance_worked_example_signs_and_encodes() {
        let credentials = Credentials::new(KEY, SECRET);
        let mut params = Params::new();
        for (name, value) in [
            ("symbol", "BTCUSDT"),
            ("side", "SELL"),
            ("type", "LIMIT"),
            ("timeInForce", "GTC"),
            ("quantity", "0.01000000"),
            ("price", "52000.00"),
        ] {
            params.push(name, ParamValue::Str(value));
        }
        let mut out = String::new();
        encode_request(
            &mut out,
            &mut String::new(),
            7,
            "order.place",
            params,
            Security::Signed {
                timestamp_ms: 1_645_423_376_532,
                recv_window_ms: Some(100),
                sign_with: Some(&credentials),
            },
        )
        .unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["id"], json!(7));
        assert_eq!(v["method"], json!("order.place"));
        assert_eq!(
            v["params"]["signature"],
            json!("aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24")
        );
        assert_eq!(v["params"]["recvWindow"], json!(100));
        assert_eq!(v["params"]["timestamp"], json!(1_645_423_376_532u64));
        assert!(out.starts_with("{\"id\":7,\"method\":\"order.place\",\"params\":{\"apiKey\":"));
        assert!(out.ends_with("\"}}"));
    }

    #[test]
    fn every_value_kind_round_trips_and_escapes() {
        let extra = json!([1, 2.5]);
        let mut params = Params::new();
        params.push("s", ParamValue::Str("a\"b\\c\n\u{1}é"));
        params.push("u", ParamValue::U64(u64::MAX));
        params.push("i", ParamValue::I64(-42));
        params.push("b", ParamValue::Bool(false));
        params.push("j", ParamValue::Json(&extra));
        let map = params.to_map();
        let mut out = String::new();
        encode_request(
            &mut out,
            &mut String::new(),
            0,
            "m\"x",
            params.clone(),
            Security::None,
        )
        .unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["method"], json!("m\"x"));
        assert_eq!(v["params"], Value::Object(map.clone()));
        assert_eq!(Params::from_map(&map).to_map(), map);
        // Unsigned: in the given order; no params object when there are none.
        assert!(out.contains("\"params\":{\"s\":"));
        let mut bare = String::new();
        encode_request(
            &mut bare,
            &mut String::new(),
            1,
            "ping",
            Params::new(),
            Security::None,
        )
        .unwrap();
        assert_eq!(bare, r#"{"id":1,"method":"ping"}"#);
        // A fraction cannot be signed.
        let credentials = Credentials::new(KEY, SECRET);
        let err = encode_request(
            &mut String::new(),
            &mut String::new(),
            2,
            "order.place",
            params,
            Security::Signed {
                timestamp_ms: 1,
                recv_window_ms: None,
                sign_with: Some(&credentials),
            },
        )
        .unwrap_err();
        assert!(matches!(err, ClientError::BadParam { param } if param == "j"));
    }

    proptest::proptest! {
        #[test]
        fn the_escape_check_agrees_with_the_plain_one(bytes in proptest::collection::vec(
            proptest::prop_oneof![0u8..=0x7f, proptest::prelude::Just(b'"'),
                                  proptest::prelude::Just(b'\\'), 0x1fu8..=0x21, 0x80u8..=0xff],
            0..40,
        )) {
            let plain = bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
            proptest::prop_assert_eq!(needs_escape(&bytes), plain);
        }

        #[test]
        fn strings_round_trip_through_the_encoder(s in "\\PC*|[\\x00-\\x7f]{0,30}") {
            let mut out = String::new();
            push_json_str(&mut out, &s);
            let back: String = serde_json::from_str(&out).unwrap();
            proptest::prop_assert_eq!(back, s);
        }
    }

    #[test]
    fn integers_print_like_serde() {
        for n in [0u64, 7, 10, 99, 1_000, 1_645_423_376_532, u64::MAX] {
            let mut s = String::new();
            push_u64(&mut s, n);
            assert_eq!(s, n.to_string());
        }
    }
}

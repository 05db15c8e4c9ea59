//! HMAC-SHA256 request signing and timing security, as Binance documents them for the
//! WebSocket API ("Request security").
//!
//! * The signature payload is every request parameter except `signature`, sorted by name
//!   (byte order of the UTF-8 names), formatted `name=value` and joined with `&`; values are
//!   taken as sent (no URL encoding).
//! * The signature is the lowercase hex HMAC-SHA256 of the payload's UTF-8 bytes, keyed with
//!   the secret's bytes. Verification is case-insensitive and constant-time.
//! * A request is accepted iff `timestamp < serverTime + 1000` and
//!   `serverTime - timestamp <= recvWindow` (`recvWindow` defaults to 5000 ms, at most 60000).
//!   `recvWindow` is a DECIMAL of milliseconds with up to three decimals (microseconds), see
//!   [`parse_recv_window`] and [`check_timestamp_us`].

use crate::errors::ApiError;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// `recvWindow` when the request does not send one, milliseconds.
pub const DEFAULT_RECV_WINDOW_MS: u64 = 5_000;
/// Largest accepted `recvWindow`, milliseconds.
pub const MAX_RECV_WINDOW_MS: u64 = 60_000;
/// How far ahead of the server's clock a `timestamp` may be (exclusive), milliseconds.
pub const MAX_AHEAD_MS: u64 = 1_000;
/// The parameter that carries the signature (excluded from the payload).
pub const SIGNATURE_PARAM: &str = "signature";

/// Builds the signature payload from `(name, value)` pairs: all but `signature`, sorted by
/// name, `name=value` joined with `&`.
pub fn signature_payload<'a, I>(params: I) -> String
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut pairs: Vec<(&str, &str)> = params
        .into_iter()
        .filter(|(name, _)| *name != SIGNATURE_PARAM)
        .collect();
    pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut out = String::with_capacity(pairs.iter().map(|(n, v)| n.len() + v.len() + 2).sum());
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// Renders a JSON request's `params` as `(name, value-as-sent)` pairs: strings verbatim,
/// integers and booleans as their JSON text. Anything else (fractional numbers, which
/// Binance wants as strings, null, arrays, objects) is `-1102` for that parameter.
/// (Without serde_json's `arbitrary_precision` the text of a JSON fraction is lost, so it
/// could not be signed as sent; a fractional `recvWindow` must therefore arrive as a string.)
pub fn json_params_as_sent(
    params: &serde_json::Map<String, serde_json::Value>,
) -> Result<Vec<(String, String)>, ApiError> {
    use serde_json::Value;
    params
        .iter()
        .map(|(name, value)| {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Bool(b) => b.to_string(),
                Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
                _ => {
                    return Err(ApiError::MandatoryParam {
                        param: name.clone(),
                    })
                }
            };
            Ok((name.clone(), text))
        })
        .collect()
}

/// An HMAC-SHA256 key with its inner and outer pads already hashed, so a signature costs
/// only the payload's blocks (two compressions fewer per request than keying afresh).
#[derive(Clone)]
pub struct Signer(HmacSha256);

impl Signer {
    /// Keys a signer with `secret`'s bytes.
    pub fn new(secret: &[u8]) -> Signer {
        // HMAC accepts keys of any length; `new_from_slice` cannot fail for HMAC.
        match HmacSha256::new_from_slice(secret) {
            Ok(m) => Signer(m),
            Err(_) => unreachable!("HMAC takes keys of any length"),
        }
    }

    fn mac(&self, payload: &str) -> HmacSha256 {
        let mut mac = self.0.clone();
        mac.update(payload.as_bytes());
        mac
    }

    /// The lowercase hex HMAC-SHA256 of `payload`.
    pub fn sign(&self, payload: &str) -> String {
        hex::encode(self.mac(payload).finalize().into_bytes())
    }

    /// Verifies a hex `signature` (either case) of `payload` in constant time.
    /// Any malformed or wrong signature is `-1022`.
    pub fn verify(&self, payload: &str, signature: &str) -> Result<(), ApiError> {
        // Upper and lower case digits; anything but 64 of them is malformed. (The client
        // chose the signature, so decoding it in data-dependent time reveals nothing; the
        // comparison with the expected MAC is constant-time.)
        let bytes = decode_hex_32(signature).ok_or(ApiError::InvalidSignature)?;
        self.mac(payload)
            .verify_slice(&bytes)
            .map_err(|_| ApiError::InvalidSignature)
    }
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(<redacted>)")
    }
}

/// Value of each byte as a hex digit (either case), or 0xff.
const HEX_VALUES: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// 64 hex digits (either case) as 32 bytes; `None` for any other text.
fn decode_hex_32(text: &str) -> Option<[u8; 32]> {
    let digits: &[u8; 64] = text.as_bytes().try_into().ok()?;
    let mut out = [0u8; 32];
    let mut bad = 0u8;
    for (o, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let (hi, lo) = (
            HEX_VALUES[usize::from(pair[0])],
            HEX_VALUES[usize::from(pair[1])],
        );
        bad |= hi | lo;
        *o = (hi << 4) | (lo & 0x0f);
    }
    // A valid digit's value is below 16; 0xff marks anything else.
    (bad < 16).then_some(out)
}

/// The lowercase hex HMAC-SHA256 of `payload` keyed with `secret`.
pub fn sign(secret: &[u8], payload: &str) -> String {
    Signer::new(secret).sign(payload)
}

/// Verifies a hex `signature` (either case) of `payload` in constant time.
/// Any malformed or wrong signature is `-1022`.
pub fn verify(secret: &[u8], payload: &str, signature: &str) -> Result<(), ApiError> {
    Signer::new(secret).verify(payload, signature)
}

/// Validates an optional `recvWindow` sent as an integer number of milliseconds and returns
/// the effective window in milliseconds. Above [`MAX_RECV_WINDOW_MS`] is `-1131`.
pub fn recv_window(sent: Option<u64>) -> Result<u64, ApiError> {
    match sent {
        None => Ok(DEFAULT_RECV_WINDOW_MS),
        Some(w) if w <= MAX_RECV_WINDOW_MS => Ok(w),
        Some(_) => Err(ApiError::BadRecvWindow),
    }
}

/// Validates an optional `recvWindow` as sent (Binance's DECIMAL: milliseconds with up to
/// three decimals, e.g. `"6000.346"`, so that microseconds may be specified) and returns the
/// effective window in **microseconds**. Malformed text is `-1100`, a fourth significant
/// decimal `-1111`, above 60000 ms `-1131`.
pub fn parse_recv_window(sent: Option<&str>) -> Result<u64, ApiError> {
    let Some(text) = sent else {
        return Ok(DEFAULT_RECV_WINDOW_MS * 1_000);
    };
    let micros = crate::units::parse_units("recvWindow", text, 3)?;
    match u64::try_from(micros) {
        Ok(us) if us <= MAX_RECV_WINDOW_MS * 1_000 => Ok(us),
        _ => Err(ApiError::BadRecvWindow),
    }
}

/// Binance's timing rule in milliseconds: accept iff `timestamp < server_time + 1000` and
/// `server_time - timestamp <= recv_window`. Both failures are `-1021`, with the wording
/// that says which side was violated.
pub fn check_timestamp(
    timestamp_ms: u64,
    recv_window_ms: u64,
    server_time_ms: u64,
) -> Result<(), ApiError> {
    check_window(
        u128::from(timestamp_ms),
        u128::from(recv_window_ms),
        u128::from(server_time_ms),
        u128::from(MAX_AHEAD_MS),
    )
}

/// The same rule in microseconds (a microsecond `timestamp`, or a millisecond one times
/// 1000, with a window from [`parse_recv_window`]); "ahead" is still 1000 ms.
pub fn check_timestamp_us(
    timestamp_us: u64,
    recv_window_us: u64,
    server_time_us: u64,
) -> Result<(), ApiError> {
    check_window(
        u128::from(timestamp_us),
        u128::from(recv_window_us),
        u128::from(server_time_us),
        u128::from(MAX_AHEAD_MS) * 1_000,
    )
}

fn check_window(ts: u128, window: u128, now: u128, ahead: u128) -> Result<(), ApiError> {
    if ts >= now + ahead {
        return Err(ApiError::TimestampAhead);
    }
    // timestamp may be slightly ahead: then the age is negative and passes.
    if now.saturating_sub(ts) > window {
        return Err(ApiError::TimestampOutsideRecvWindow);
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
    const API_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";

    /// Binance's worked "SIGNED request example (HMAC)" for the WebSocket API, the current
    /// wording (two parameter sets) and the older one (with `newOrderRespType`). Payloads and
    /// signatures are copied from binance-spot-api-docs `web-socket-api.md`; each signature
    /// was also reproduced independently with
    /// `printf '%s' "$payload" | openssl dgst -sha256 -hmac "$secret"`.
    /// (name, params as sent, expected payload, expected signature).
    type Vector = (
        &'static str,
        &'static [(&'static str, &'static str)],
        &'static str,
        &'static str,
    );

    const VECTORS: &[Vector] = &[
        (
            "ascii",
            &[
                ("symbol", "BTCUSDT"),
                ("side", "SELL"),
                ("type", "LIMIT"),
                ("timeInForce", "GTC"),
                ("quantity", "0.01000000"),
                ("price", "52000.00"),
                ("recvWindow", "100"),
                ("timestamp", "1645423376532"),
                ("apiKey", API_KEY),
                ("signature", "------ FILL ME ------"),
            ],
            "apiKey=vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A&price=52000.00&quantity=0.01000000&recvWindow=100&side=SELL&symbol=BTCUSDT&timeInForce=GTC&timestamp=1645423376532&type=LIMIT",
            "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24",
        ),
        (
            "non-ascii",
            &[
                ("symbol", "１２３４５６"),
                ("side", "BUY"),
                ("type", "LIMIT"),
                ("timeInForce", "GTC"),
                ("quantity", "1.00000000"),
                ("price", "0.10000000"),
                ("recvWindow", "5000"),
                ("timestamp", "1645423376532"),
                ("apiKey", API_KEY),
            ],
            "apiKey=vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A&price=0.10000000&quantity=1.00000000&recvWindow=5000&side=BUY&symbol=１２３４５６&timeInForce=GTC&timestamp=1645423376532&type=LIMIT",
            "b33892ae8e687c939f4468c6268ddd4c40ac1af18ad19a064864c47bae0752cd",
        ),
        (
            "older wording",
            &[
                ("symbol", "BTCUSDT"),
                ("side", "SELL"),
                ("type", "LIMIT"),
                ("timeInForce", "GTC"),
                ("quantity", "0.01000000"),
                ("price", "52000.00"),
                ("newOrderRespType", "ACK"),
                ("recvWindow", "100"),
                ("timestamp", "1645423376532"),
                ("apiKey", API_KEY),
            ],
            "apiKey=vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A&newOrderRespType=ACK&price=52000.00&quantity=0.01000000&recvWindow=100&side=SELL&symbol=BTCUSDT&timeInForce=GTC&timestamp=1645423376532&type=LIMIT",
            "cc15477742bd704c29492d96c7ead9414dfd8e0ec4a00f947bb5bb454ddbd08a",
        ),
    ];

    #[test]
    fn binance_worked_examples() {
        for (name, params, payload, signature) in VECTORS {
            let built = signature_payload(params.iter().copied());
            assert_eq!(built, *payload, "{name}");
            assert_eq!(sign(SECRET.as_bytes(), payload), *signature, "{name}");
            verify(SECRET.as_bytes(), payload, signature).unwrap();
            verify(SECRET.as_bytes(), payload, &signature.to_uppercase()).unwrap();
        }
    }

    #[test]
    fn json_request_params_sign_like_the_example() {
        let request: serde_json::Value = serde_json::from_str(
            r#"{"symbol":"BTCUSDT","side":"SELL","type":"LIMIT","timeInForce":"GTC",
                "quantity":"0.01000000","price":"52000.00","recvWindow":100,
                "timestamp":1645423376532,
                "apiKey":"vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
                "signature":"aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"}"#,
        )
        .unwrap();
        let pairs = json_params_as_sent(request.as_object().unwrap()).unwrap();
        let payload = signature_payload(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        assert_eq!(payload, VECTORS[0].2);
        let sent = request["signature"].as_str().unwrap();
        verify(SECRET.as_bytes(), &payload, sent).unwrap();

        for bad in [
            r#"{"price":52000.5}"#,
            r#"{"a":null}"#,
            r#"{"a":[1]}"#,
            r#"{"a":{}}"#,
        ] {
            let v: serde_json::Value = serde_json::from_str(bad).unwrap();
            assert_eq!(
                json_params_as_sent(v.as_object().unwrap())
                    .unwrap_err()
                    .code(),
                -1102
            );
        }
        let v: serde_json::Value = serde_json::from_str(r#"{"b":true,"n":-5}"#).unwrap();
        assert_eq!(
            json_params_as_sent(v.as_object().unwrap()).unwrap(),
            vec![("b".into(), "true".into()), ("n".into(), "-5".into())]
        );
    }

    #[test]
    fn wrong_or_malformed_signatures_are_1022() {
        let (_, _, payload, signature) = VECTORS[0];
        let mut flipped = signature.to_string().into_bytes();
        flipped[10] = if flipped[10] == b'0' { b'1' } else { b'0' };
        let cases = [
            String::from_utf8(flipped).unwrap(),
            signature[..62].to_string(),
            format!("{signature}00"),
            String::new(),
            signature.replace('a', "g"),
            format!(" {}", &signature[1..]),
        ];
        for bad in &cases {
            assert_eq!(
                verify(SECRET.as_bytes(), payload, bad),
                Err(ApiError::InvalidSignature),
                "{bad:?}"
            );
        }
        // Right signature, wrong secret or tampered payload.
        assert!(verify(b"other", payload, signature).is_err());
        assert!(verify(
            SECRET.as_bytes(),
            &payload.replace("SELL", "BUY"),
            signature
        )
        .is_err());
    }

    #[test]
    fn timing_rule_table() {
        let now = 1_000_000u64;
        // (timestamp, recvWindow, accepted?, error)
        let cases: &[(u64, u64, Option<ApiError>)] = &[
            (now, 5_000, None),
            (now + 999, 5_000, None),
            (now + 1_000, 5_000, Some(ApiError::TimestampAhead)),
            (now + 50_000, 60_000, Some(ApiError::TimestampAhead)),
            (now - 5_000, 5_000, None),
            (
                now - 5_001,
                5_000,
                Some(ApiError::TimestampOutsideRecvWindow),
            ),
            (now - 100, 100, None),
            (now - 101, 100, Some(ApiError::TimestampOutsideRecvWindow)),
            (now, 0, None),
            (now - 1, 0, Some(ApiError::TimestampOutsideRecvWindow)),
            (0, 60_000, Some(ApiError::TimestampOutsideRecvWindow)),
            (u64::MAX, 60_000, Some(ApiError::TimestampAhead)),
        ];
        for (ts, window, want) in cases {
            assert_eq!(
                check_timestamp(*ts, *window, now).err(),
                want.clone(),
                "ts {ts} window {window}"
            );
        }
        assert_eq!(recv_window(None), Ok(5_000));
        assert_eq!(recv_window(Some(60_000)), Ok(60_000));
        assert_eq!(recv_window(Some(60_001)), Err(ApiError::BadRecvWindow));
        // Server time near zero and near the top of u64 do not overflow.
        assert!(check_timestamp(0, 5_000, 0).is_ok());
        assert!(check_timestamp(u64::MAX - 1, 5_000, u64::MAX).is_ok());
    }

    #[test]
    fn decimal_recv_window_in_microseconds() {
        let cases: &[(Option<&str>, Result<u64, ApiError>)] = &[
            (None, Ok(5_000_000)),
            (Some("5000"), Ok(5_000_000)),
            (Some("6000.346"), Ok(6_000_346)),
            (Some("0.001"), Ok(1)),
            (Some("60000"), Ok(60_000_000)),
            (Some("60000.000"), Ok(60_000_000)),
            (Some("60000.001"), Err(ApiError::BadRecvWindow)),
            (Some("99999999999999999999"), Err(ApiError::BadRecvWindow)),
            (Some("6000.3461"), Err(ApiError::BadPrecision)),
            (
                Some("-1"),
                Err(ApiError::IllegalChars {
                    param: "recvWindow".into(),
                    legal_range: crate::units::DECIMAL_LEGAL_RANGE,
                }),
            ),
        ];
        for (sent, want) in cases {
            assert_eq!(parse_recv_window(*sent), *want, "{sent:?}");
        }
        let now = 1_700_000_000_000_000u64;
        let window = parse_recv_window(Some("0.5")).unwrap();
        assert!(check_timestamp_us(now - 500, window, now).is_ok());
        assert_eq!(
            check_timestamp_us(now - 501, window, now),
            Err(ApiError::TimestampOutsideRecvWindow)
        );
        assert!(check_timestamp_us(now + 999_999, window, now).is_ok());
        assert_eq!(
            check_timestamp_us(now + 1_000_000, window, now),
            Err(ApiError::TimestampAhead)
        );
    }

    proptest! {
        #[test]
        fn payload_is_order_independent_and_sign_verifies(
            mut params in proptest::collection::btree_map("[a-zA-Z]{1,8}", "[ -~]{0,12}", 0..8),
            secret in proptest::collection::vec(any::<u8>(), 0..100),
            rotate in 0usize..8,
        ) {
            params.remove(SIGNATURE_PARAM);
            let mut list: Vec<(&str, &str)> =
                params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let sorted = signature_payload(list.iter().copied());
            if !list.is_empty() {
                let k = rotate % list.len();
                list.rotate_left(k);
                list.reverse();
            }
            list.push(("signature", "ignored"));
            prop_assert_eq!(&signature_payload(list.iter().copied()), &sorted);
            let sig = sign(&secret, &sorted);
            prop_assert_eq!(sig.len(), 64);
            prop_assert!(sig.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
            prop_assert!(verify(&secret, &sorted, &sig).is_ok());
            prop_assert!(verify(&secret, &sorted, &sig.to_uppercase()).is_ok());
        }

        /// The signature decoder agrees with the `hex` crate on any text, hex-like or not.
        #[test]
        fn signature_decoding_matches_the_hex_crate(
            text in prop_oneof![
                "[0-9a-fA-F]{64}",
                "[0-9a-fA-Fg-z ]{62,66}",
                proptest::collection::vec(any::<char>(), 60..68)
                    .prop_map(|c| c.into_iter().collect::<String>()),
            ],
        ) {
            let mut expected = [0u8; 32];
            let expected = hex::decode_to_slice(&text, &mut expected).ok().map(|()| expected);
            prop_assert_eq!(decode_hex_32(&text), expected);
        }

        #[test]
        fn timing_rule_matches_its_definition(
            ts in any::<u64>(), now in any::<u64>(), window in 0u64..=MAX_RECV_WINDOW_MS
        ) {
            let accept = i128::from(ts) < i128::from(now) + 1000
                && i128::from(now) - i128::from(ts) <= i128::from(window);
            prop_assert_eq!(check_timestamp(ts, window, now).is_ok(), accept);
            let accept_us = i128::from(ts) < i128::from(now) + 1_000_000
                && i128::from(now) - i128::from(ts) <= i128::from(window) * 1000;
            prop_assert_eq!(check_timestamp_us(ts, window * 1000, now).is_ok(), accept_us);
        }
    }
}

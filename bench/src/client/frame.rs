//! Frames from the server, read once into typed fields.
//!
//! The envelope (`{"id","status","result"|"error"}` for a response, `{"subscriptionId",
//! "event"}` for a push) is generic over what the `result`, the error's `data` and the
//! push's `event` are read into: the general [`super::Client`] reads them as
//! `serde_json::Value`s, the load generator's [`super::Connection`] as small summaries
//! that skip every field it does not act on.

use super::ClientError;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// A frame's `id`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum FrameId {
    /// No `id`: a push.
    #[default]
    Missing,
    /// `"id": null` (Binance's answer to a request it could not read).
    Null,
    /// A request id.
    Number(u64),
    /// Something no request of ours carries.
    Other,
}

impl<'de> Deserialize<'de> for FrameId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<FrameId, D::Error> {
        struct IdVisitor;
        impl<'de> Visitor<'de> for IdVisitor {
            type Value = FrameId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a request id")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<FrameId, E> {
                Ok(FrameId::Number(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<FrameId, E> {
                Ok(u64::try_from(v).map_or(FrameId::Other, FrameId::Number))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<FrameId, E> {
                Ok(FrameId::Other)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<FrameId, E> {
                Ok(FrameId::Other)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<FrameId, E> {
                Ok(FrameId::Other)
            }
            fn visit_unit<E: de::Error>(self) -> Result<FrameId, E> {
                Ok(FrameId::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<FrameId, E> {
                Ok(FrameId::Null)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FrameId, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(FrameId::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FrameId, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(FrameId::Other)
            }
        }
        deserializer.deserialize_any(IdVisitor)
    }
}

/// A response's `error`.
#[derive(Debug, serde::Deserialize)]
#[serde(bound(deserialize = "D: Deserialize<'de>"))]
struct ErrorBody<D> {
    code: Option<i64>,
    msg: Option<String>,
    data: Option<D>,
}

/// Every frame the server sends, with the parts read as `R`, `D` and `E`; unknown fields
/// (`rateLimits`, ...) are skipped without being built.
#[derive(Debug, serde::Deserialize)]
#[serde(bound(deserialize = "R: Deserialize<'de>, D: Deserialize<'de>, E: Deserialize<'de>"))]
struct Frame<R, D, E> {
    #[serde(default)]
    id: FrameId,
    status: Option<u64>,
    result: Option<R>,
    error: Option<ErrorBody<D>>,
    #[serde(rename = "subscriptionId")]
    subscription_id: Option<u64>,
    event: Option<E>,
}

/// Just the `id`, to fail the right request when the rest does not read.
#[derive(serde::Deserialize)]
struct IdOnly {
    #[serde(default)]
    id: FrameId,
}

/// Why a response carries no result.
#[derive(Debug, PartialEq)]
pub(crate) enum Refusal<D> {
    /// A Binance error response.
    Api {
        status: u16,
        code: i64,
        msg: String,
        data: Option<D>,
    },
    /// Not a Binance-shaped response.
    Protocol(String),
}

impl From<Refusal<serde_json::Value>> for ClientError {
    fn from(refusal: Refusal<serde_json::Value>) -> ClientError {
        match refusal {
            Refusal::Api {
                status,
                code,
                msg,
                data,
            } => ClientError::Api {
                status,
                code,
                msg,
                data,
            },
            Refusal::Protocol(why) => ClientError::Protocol(why),
        }
    }
}

/// What a frame is.
#[derive(Debug, PartialEq)]
pub(crate) enum Incoming<R, D, E> {
    /// The response to request `id`: its `result` (`None` when absent or null) or why not.
    Response {
        id: u64,
        outcome: Result<Option<R>, Refusal<D>>,
    },
    /// A push (a frame without `id`).
    Push {
        subscription_id: Option<u64>,
        event: Option<E>,
    },
    /// Nothing to act on (logged).
    Ignored,
}

/// Reads one text frame.
pub(crate) fn read_frame<'a, R, D, E>(text: &'a str) -> Incoming<R, D, E>
where
    R: Deserialize<'a>,
    D: Deserialize<'a>,
    E: Deserialize<'a>,
{
    let frame: Frame<R, D, E> = match serde_json::from_str(text) {
        Ok(frame) => frame,
        Err(error) => return read_misshapen(text, &error),
    };
    match frame.id {
        FrameId::Number(id) => Incoming::Response {
            id,
            outcome: response_outcome(frame.status, frame.result, frame.error),
        },
        FrameId::Missing => Incoming::Push {
            subscription_id: frame.subscription_id,
            event: frame.event,
        },
        FrameId::Null | FrameId::Other => {
            // Binance answers a request it could not parse with `"id": null`.
            tracing::warn!(response = text, "response without a usable id");
            Incoming::Ignored
        }
    }
}

/// A frame whose result, error data or event does not read as asked: an error response still
/// counts as that error (without its data), any other response fails its request at once
/// with a protocol error; anything else is dropped.
fn read_misshapen<R, D, E>(text: &str, error: &serde_json::Error) -> Incoming<R, D, E> {
    let unreadable = || Refusal::Protocol(format!("unreadable response: {error}"));
    if let Ok(frame) = serde_json::from_str::<Frame<IgnoredAny, IgnoredAny, IgnoredAny>>(text) {
        if let FrameId::Number(id) = frame.id {
            let outcome = match response_outcome(frame.status, frame.result, frame.error) {
                Err(Refusal::Api {
                    status, code, msg, ..
                }) => Err(Refusal::Api {
                    status,
                    code,
                    msg,
                    data: None,
                }),
                Err(Refusal::Protocol(why)) => Err(Refusal::Protocol(why)),
                Ok(_) => Err(unreadable()),
            };
            return Incoming::Response { id, outcome };
        }
    }
    match serde_json::from_str::<IdOnly>(text) {
        Ok(IdOnly {
            id: FrameId::Number(id),
        }) => Incoming::Response {
            id,
            outcome: Err(unreadable()),
        },
        _ => {
            tracing::warn!(%error, len = text.len(), "unparsable message from server");
            Incoming::Ignored
        }
    }
}

fn response_outcome<R, D>(
    status: Option<u64>,
    result: Option<R>,
    error: Option<ErrorBody<D>>,
) -> Result<Option<R>, Refusal<D>> {
    let status = status
        .and_then(|s| u16::try_from(s).ok())
        .ok_or_else(|| Refusal::Protocol("response without a status".into()))?;
    match error {
        Some(err) => {
            let code = err
                .code
                .ok_or_else(|| Refusal::Protocol("error without a code".into()))?;
            Err(Refusal::Api {
                status,
                code,
                msg: err.msg.unwrap_or_default(),
                data: err.data,
            })
        }
        None => Ok(result),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    type Any = Incoming<Value, Value, Value>;

    #[test]
    fn frames_are_routed_by_id() {
        let cases: Vec<(&str, Any)> = vec![
            (
                r#"{"id":3,"status":200,"result":{"a":1},"rateLimits":[{"x":[1,{}]}]}"#,
                Incoming::Response {
                    id: 3,
                    outcome: Ok(Some(json!({"a": 1}))),
                },
            ),
            (
                r#"{"status":200,"id":4,"result":null}"#,
                Incoming::Response {
                    id: 4,
                    outcome: Ok(None),
                },
            ),
            (
                r#"{"id":5,"status":400,"error":{"code":-2011,"msg":"Unknown order sent.","data":{"k":true}}}"#,
                Incoming::Response {
                    id: 5,
                    outcome: Err(Refusal::Api {
                        status: 400,
                        code: -2011,
                        msg: "Unknown order sent.".into(),
                        data: Some(json!({"k": true})),
                    }),
                },
            ),
            (
                r#"{"id":6,"status":400,"error":{"msg":"no code"}}"#,
                Incoming::Response {
                    id: 6,
                    outcome: Err(Refusal::Protocol("error without a code".into())),
                },
            ),
            (
                r#"{"id":7,"result":{}}"#,
                Incoming::Response {
                    id: 7,
                    outcome: Err(Refusal::Protocol("response without a status".into())),
                },
            ),
            (
                r#"{"subscriptionId":2,"event":{"e":"executionReport"}}"#,
                Incoming::Push {
                    subscription_id: Some(2),
                    event: Some(json!({"e": "executionReport"})),
                },
            ),
            (
                r#"{"id":null,"status":400,"error":{"code":-1000}}"#,
                Incoming::Ignored,
            ),
            (r#"{"id":"7","status":200}"#, Incoming::Ignored),
            (r#"{"id":-1,"status":200}"#, Incoming::Ignored),
            (r#"{"id":[1],"status":200}"#, Incoming::Ignored),
            ("not json", Incoming::Ignored),
        ];
        for (text, want) in cases {
            assert_eq!(read_frame::<Value, Value, Value>(text), want, "{text}");
        }
    }

    #[test]
    fn an_error_whose_data_does_not_read_is_still_that_error() {
        // `data` read as a number: the error counts, its data is dropped.
        let text =
            r#"{"id":8,"status":400,"error":{"code":-1013,"msg":"Filter failure.","data":"x"}}"#;
        assert_eq!(
            read_frame::<Value, u64, Value>(text),
            Incoming::Response {
                id: 8,
                outcome: Err(Refusal::Api {
                    status: 400,
                    code: -1013,
                    msg: "Filter failure.".into(),
                    data: None,
                }),
            }
        );
        // A result that does not read fails its request.
        match read_frame::<u64, Value, Value>(r#"{"id":2,"status":200,"result":{}}"#) {
            Incoming::Response {
                id: 2,
                outcome: Err(Refusal::Protocol(why)),
            } => assert!(why.starts_with("unreadable response"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_misshapen_response_fails_its_request() {
        // The error is a string: the frame does not read, but its id does.
        match read_frame::<Value, Value, Value>(r#"{"id":9,"status":400,"error":"boom"}"#) {
            Incoming::Response {
                id: 9,
                outcome: Err(Refusal::Protocol(why)),
            } => assert!(why.starts_with("unreadable response"), "{why}"),
            other => panic!("{other:?}"),
        }
    }
}

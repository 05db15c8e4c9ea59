//! [`Failure`]: what an error reply carries (HTTP-like status, Binance code, message and,
//! for `order.cancelReplace`, a `data` object).
//!
//! [`ApiError`] (in `crate::errors`) holds the codes shared with the rest of the gateway; this
//! module adds the wordings only the WebSocket API protocol layer needs (`-1014`, `-1020`,
//! `-1101`..`-1117`, `-1135`, the `-2010` "not supported for this symbol" messages, `-2021`,
//! `-2022`), each with its text from Binance's `errors.md`.

use crate::errors::{ApiError, EngineMessage};
use serde_json::Value;

/// An error reply: `{"code": .., "msg": ..}` plus the response's `status`, and an optional
/// `data` object (cancel-replace failures).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// HTTP-like status of the response (400, 401, 409, 429, 500).
    pub status: u16,
    /// Binance error code (negative).
    pub code: i32,
    /// Message.
    pub msg: String,
    /// Extra data (`order.cancelReplace` failures only).
    pub data: Option<Value>,
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure {
            status: e.status(),
            code: e.code(),
            msg: e.message(),
            data: None,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.msg)
    }
}

impl std::error::Error for Failure {}

impl Failure {
    fn new(status: u16, code: i32, msg: impl Into<String>) -> Self {
        Failure {
            status,
            code,
            msg: msg.into(),
            data: None,
        }
    }

    /// The `{"code","msg"}` object (plus `data` when present).
    pub fn error_object(&self) -> Value {
        let mut obj = serde_json::Map::new();
        obj.insert("code".into(), Value::from(self.code));
        obj.insert("msg".into(), Value::from(self.msg.clone()));
        if let Some(data) = &self.data {
            obj.insert("data".into(), data.clone());
        }
        Value::Object(obj)
    }

    /// `-1135 "Invalid JSON Request"`: the frame is not JSON, or not a JSON object.
    pub fn invalid_json() -> Self {
        Failure::new(400, -1135, "Invalid JSON Request")
    }

    /// `-1135 "JSON sent for parameter '<name>' is not valid"`: an envelope member of the
    /// wrong JSON type (`id`, `params`).
    pub fn invalid_json_param(name: &str) -> Self {
        Failure::new(
            400,
            -1135,
            format!("JSON sent for parameter '{name}' is not valid"),
        )
    }

    /// `-1020 "This operation is not supported."`: an unknown `method`.
    pub fn unsupported_operation() -> Self {
        Failure::new(400, -1020, "This operation is not supported.")
    }

    /// `-1014 "Unsupported order combination."`.
    pub fn unsupported_combination() -> Self {
        Failure::new(400, -1014, "Unsupported order combination.")
    }

    /// `-1102 "Param '<a>' or '<b>' must be sent, but both were empty/null!"`.
    pub fn one_of(a: &str, b: &str) -> Self {
        Failure::new(
            400,
            -1102,
            format!("Param '{a}' or '{b}' must be sent, but both were empty/null!"),
        )
    }

    /// `-1128 "Combination of optional parameters invalid."`.
    pub fn bad_combination() -> Self {
        Failure::new(400, -1128, "Combination of optional parameters invalid.")
    }

    /// `-1151 "Symbol is present multiple times in the list."`.
    pub fn duplicate_symbols() -> Self {
        Failure::new(400, -1151, "Symbol is present multiple times in the list.")
    }

    /// `-1104 "Not all sent parameters were read; read '<n>' parameter(s) but was sent
    /// '<m>'."`.
    pub fn unread(read: usize, sent: usize) -> Self {
        Failure::new(
            400,
            -1104,
            format!(
                "Not all sent parameters were read; read '{read}' parameter(s) but was sent '{sent}'."
            ),
        )
    }

    /// `-1106 "Parameter '<name>' sent when not required."`.
    pub fn not_required(name: &str) -> Self {
        Failure::new(
            400,
            -1106,
            format!("Parameter '{name}' sent when not required."),
        )
    }

    /// `-1114 "TimeInForce parameter sent when not required."`.
    pub fn tif_not_required() -> Self {
        Failure::new(400, -1114, "TimeInForce parameter sent when not required.")
    }

    /// `-1115 "Invalid timeInForce."`.
    pub fn invalid_tif() -> Self {
        Failure::new(400, -1115, "Invalid timeInForce.")
    }

    /// `-1116 "Invalid orderType."`.
    pub fn invalid_order_type() -> Self {
        Failure::new(400, -1116, "Invalid orderType.")
    }

    /// `-1117 "Invalid side."`.
    pub fn invalid_side() -> Self {
        Failure::new(400, -1117, "Invalid side.")
    }

    /// `-2010` with one of Binance's "... are not supported for this symbol." messages.
    pub fn not_supported_for_symbol(what: &'static str) -> Self {
        Failure::new(400, -2010, what)
    }

    /// `-2021 "Order cancel-replace partially failed."` (status 409) with its `data`.
    pub fn cancel_replace_partial(data: Value) -> Self {
        Failure {
            status: 409,
            code: -2021,
            msg: "Order cancel-replace partially failed.".into(),
            data: Some(data),
        }
    }

    /// `-2022 "Order cancel-replace failed."` (status 400) with its `data`.
    pub fn cancel_replace_failed(data: Value) -> Self {
        Failure {
            status: 400,
            code: -2022,
            msg: "Order cancel-replace failed.".into(),
            data: Some(data),
        }
    }

    /// `-2011 "Unknown order sent."` (cancels of an order that is not open).
    pub fn unknown_order_cancel() -> Self {
        ApiError::CancelRejected(EngineMessage::UnknownOrder).into()
    }
}

/// Binance's messages for order kinds this exchange does not enable (`-2010`).
pub mod unsupported {
    /// `STOP_LOSS`.
    pub const STOP_LOSS: &str = "Stop loss orders are not supported for this symbol.";
    /// `STOP_LOSS_LIMIT`.
    pub const STOP_LOSS_LIMIT: &str = "Stop loss limit orders are not supported for this symbol.";
    /// `TAKE_PROFIT`.
    pub const TAKE_PROFIT: &str = "Take profit orders are not supported for this symbol.";
    /// `TAKE_PROFIT_LIMIT`.
    pub const TAKE_PROFIT_LIMIT: &str =
        "Take profit limit orders are not supported for this symbol.";
    /// `icebergQty`.
    pub const ICEBERG: &str = "Iceberg orders are not supported for this symbol.";
    /// `trailingDelta`.
    pub const TRAILING: &str = "Trailing stop orders are not supported for this symbol.";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_statuses_and_texts() {
        let cases: Vec<(Failure, u16, i32, &str)> =
            vec![
            (Failure::invalid_json(), 400, -1135, "Invalid JSON Request"),
            (
                Failure::invalid_json_param("params"),
                400,
                -1135,
                "JSON sent for parameter 'params' is not valid",
            ),
            (
                Failure::unsupported_operation(),
                400,
                -1020,
                "This operation is not supported.",
            ),
            (
                Failure::one_of("orderId", "origClientOrderId"),
                400,
                -1102,
                "Param 'orderId' or 'origClientOrderId' must be sent, but both were empty/null!",
            ),
            (
                Failure::unread(3, 4),
                400,
                -1104,
                "Not all sent parameters were read; read '3' parameter(s) but was sent '4'.",
            ),
            (
                Failure::not_required("stopPrice"),
                400,
                -1106,
                "Parameter 'stopPrice' sent when not required.",
            ),
            (
                Failure::tif_not_required(),
                400,
                -1114,
                "TimeInForce parameter sent when not required.",
            ),
            (Failure::invalid_tif(), 400, -1115, "Invalid timeInForce."),
            (Failure::invalid_order_type(), 400, -1116, "Invalid orderType."),
            (Failure::invalid_side(), 400, -1117, "Invalid side."),
            (
                Failure::cancel_replace_partial(Value::Null),
                409,
                -2021,
                "Order cancel-replace partially failed.",
            ),
            (
                Failure::cancel_replace_failed(Value::Null),
                400,
                -2022,
                "Order cancel-replace failed.",
            ),
            (Failure::unknown_order_cancel(), 400, -2011, "Unknown order sent."),
            (
                Failure::from(ApiError::BadSymbol),
                400,
                -1121,
                "Invalid symbol.",
            ),
        ];
        for (f, status, code, msg) in cases {
            assert_eq!((f.status, f.code, f.msg.as_str()), (status, code, msg));
        }
    }

    #[test]
    fn error_object_carries_data_only_when_present() {
        assert_eq!(
            Failure::invalid_side().error_object().to_string(),
            r#"{"code":-1117,"msg":"Invalid side."}"#
        );
        let f = Failure::cancel_replace_failed(serde_json::json!({"cancelResult":"FAILURE"}));
        assert_eq!(
            f.error_object().to_string(),
            r#"{"code":-2022,"msg":"Order cancel-replace failed.","data":{"cancelResult":"FAILURE"}}"#
        );
    }
}

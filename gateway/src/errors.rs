//! Binance Spot error codes, their HTTP-like status, their message text, the JSON error body,
//! and the total mapping from the matcher's [`RejectReason`] to what a client sees.
//!
//! Codes and message texts follow Binance's `errors.md` (binance-spot-api-docs). Where
//! Binance documents several wordings for one code, the variant carries what distinguishes
//! them (a parameter name, a matching-engine message).

use matcher::RejectReason;
use serde::{Deserialize, Serialize};

/// A Binance `-1013` filter that rejected an order (`"Filter failure: <NAME>"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Filter {
    /// Price too low, too high or off the tick size.
    PriceFilter,
    /// Quantity too low, too high or off the step size.
    LotSize,
    /// `price * quantity` outside `[minNotional, maxNotional]` (Binance Spot's current filter;
    /// `MIN_NOTIONAL` is its legacy name).
    Notional,
    /// Too many open orders for the account on the symbol.
    MaxNumOrders,
}

impl Filter {
    /// The filter's name as it appears in the message.
    pub fn name(self) -> &'static str {
        match self {
            Filter::PriceFilter => "PRICE_FILTER",
            Filter::LotSize => "LOT_SIZE",
            Filter::Notional => "NOTIONAL",
            Filter::MaxNumOrders => "MAX_NUM_ORDERS",
        }
    }
}

/// A matching-engine message sent with `-2010 NEW_ORDER_REJECTED` or
/// `-2011 CANCEL_REJECTED`, worded as in Binance's table of such messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EngineMessage {
    /// "Unknown order sent."
    UnknownOrder,
    /// "Duplicate order sent."
    DuplicateOrder,
    /// "Market is closed."
    MarketClosed,
    /// "Account has insufficient balance for requested action."
    InsufficientBalance,
    /// "Order would immediately match and take."
    WouldMatchAndTake,
}

impl EngineMessage {
    /// The message text.
    pub fn text(self) -> &'static str {
        match self {
            EngineMessage::UnknownOrder => "Unknown order sent.",
            EngineMessage::DuplicateOrder => "Duplicate order sent.",
            EngineMessage::MarketClosed => "Market is closed.",
            EngineMessage::InsufficientBalance => {
                "Account has insufficient balance for requested action."
            }
            EngineMessage::WouldMatchAndTake => "Order would immediately match and take.",
        }
    }
}

/// A Binance API error as a client sees it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[error("{} {}", self.code(), self.message())]
pub enum ApiError {
    /// -1000 UNKNOWN.
    Unknown,
    /// -1002 UNAUTHORIZED.
    Unauthorized,
    /// -1003 TOO_MANY_REQUESTS ("Too many requests queued.").
    TooManyRequests,
    /// -1013: an order failed a symbol filter.
    FilterFailure(Filter),
    /// -1015 TOO_MANY_ORDERS ("Too many new orders.").
    TooManyOrders,
    /// -1021 INVALID_TIMESTAMP: older than `recvWindow`.
    TimestampOutsideRecvWindow,
    /// -1021 INVALID_TIMESTAMP: 1000 ms or more ahead of the server's clock.
    TimestampAhead,
    /// -1022 INVALID_SIGNATURE.
    InvalidSignature,
    /// -1100 ILLEGAL_CHARS in the named parameter, with its legal range.
    IllegalChars {
        /// Parameter name.
        param: String,
        /// The legal range as Binance prints it (a regular expression).
        legal_range: &'static str,
    },
    /// -1101 TOO_MANY_PARAMETERS: duplicate values for a parameter.
    DuplicateParameter,
    /// -1102 MANDATORY_PARAM_EMPTY_OR_MALFORMED for the named parameter.
    MandatoryParam {
        /// Parameter name.
        param: String,
    },
    /// -1103 UNKNOWN_PARAM.
    UnknownParam,
    /// -1104 UNREAD_PARAMETERS.
    UnreadParameters,
    /// -1111 BAD_PRECISION.
    BadPrecision,
    /// -1121 BAD_SYMBOL.
    BadSymbol,
    /// -1130 INVALID_PARAMETER for the named parameter.
    InvalidParameter {
        /// Parameter name.
        param: String,
    },
    /// -1131 BAD_RECV_WINDOW.
    BadRecvWindow,
    /// -2010 NEW_ORDER_REJECTED with the engine's message.
    NewOrderRejected(EngineMessage),
    /// -2011 CANCEL_REJECTED with the engine's message.
    CancelRejected(EngineMessage),
    /// -2013 NO_SUCH_ORDER (order queries).
    NoSuchOrder,
    /// -2014 BAD_API_KEY_FMT.
    BadApiKeyFormat,
    /// -2015 REJECTED_MBX_KEY.
    RejectedApiKey,
}

/// The JSON body of an error: `{"code": -1121, "msg": "Invalid symbol."}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Binance error code (negative).
    pub code: i32,
    /// Human-readable message.
    pub msg: String,
}

impl ApiError {
    /// The Binance error code.
    pub fn code(&self) -> i32 {
        match self {
            ApiError::Unknown => -1000,
            ApiError::Unauthorized => -1002,
            ApiError::TooManyRequests => -1003,
            ApiError::FilterFailure(_) => -1013,
            ApiError::TooManyOrders => -1015,
            ApiError::TimestampOutsideRecvWindow | ApiError::TimestampAhead => -1021,
            ApiError::InvalidSignature => -1022,
            ApiError::IllegalChars { .. } => -1100,
            ApiError::DuplicateParameter => -1101,
            ApiError::MandatoryParam { .. } => -1102,
            ApiError::UnknownParam => -1103,
            ApiError::UnreadParameters => -1104,
            ApiError::BadPrecision => -1111,
            ApiError::BadSymbol => -1121,
            ApiError::InvalidParameter { .. } => -1130,
            ApiError::BadRecvWindow => -1131,
            ApiError::NewOrderRejected(_) => -2010,
            ApiError::CancelRejected(_) => -2011,
            ApiError::NoSuchOrder => -2013,
            ApiError::BadApiKeyFormat => -2014,
            ApiError::RejectedApiKey => -2015,
        }
    }

    /// The HTTP-like status Binance's WebSocket API puts in the response's `status` field:
    /// 400 for request errors, 401 for API-key errors, 429 for rate limits, 500 for unknown
    /// internal errors.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::Unknown => 500,
            ApiError::TooManyRequests | ApiError::TooManyOrders => 429,
            ApiError::Unauthorized | ApiError::BadApiKeyFormat | ApiError::RejectedApiKey => 401,
            _ => 400,
        }
    }

    /// The message text as Binance words it.
    pub fn message(&self) -> String {
        match self {
            ApiError::Unknown => "An unknown error occurred while processing the request.".into(),
            ApiError::Unauthorized => "You are not authorized to execute this request.".into(),
            ApiError::TooManyRequests => "Too many requests queued.".into(),
            ApiError::FilterFailure(f) => format!("Filter failure: {}", f.name()),
            ApiError::TooManyOrders => "Too many new orders.".into(),
            ApiError::TimestampOutsideRecvWindow => {
                "Timestamp for this request is outside of the recvWindow.".into()
            }
            ApiError::TimestampAhead => {
                "Timestamp for this request was 1000ms ahead of the server's time.".into()
            }
            ApiError::InvalidSignature => "Signature for this request is not valid.".into(),
            ApiError::IllegalChars { param, legal_range } => format!(
                "Illegal characters found in parameter '{param}'; legal range is '{legal_range}'."
            ),
            ApiError::DuplicateParameter => "Duplicate values for a parameter detected.".into(),
            ApiError::MandatoryParam { param } => {
                format!("Mandatory parameter '{param}' was not sent, was empty/null, or malformed.")
            }
            ApiError::UnknownParam => "An unknown parameter was sent.".into(),
            ApiError::UnreadParameters => "Not all sent parameters were read.".into(),
            ApiError::BadPrecision => {
                "Precision is over the maximum defined for this asset.".into()
            }
            ApiError::BadSymbol => "Invalid symbol.".into(),
            ApiError::InvalidParameter { param } => {
                format!("Data sent for parameter '{param}' is not valid.")
            }
            ApiError::BadRecvWindow => "recvWindow must be less than 60000".into(),
            ApiError::NewOrderRejected(m) | ApiError::CancelRejected(m) => m.text().into(),
            ApiError::NoSuchOrder => "Order does not exist.".into(),
            ApiError::BadApiKeyFormat => "API-key format invalid.".into(),
            ApiError::RejectedApiKey => "Invalid API-key, IP, or permissions for action.".into(),
        }
    }

    /// The JSON error body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code(),
            msg: self.message(),
        }
    }
}

/// The Binance error a client sees when the matcher rejects its request.
///
/// Total over [`RejectReason`] (an exhaustive match: a new variant does not compile until it
/// is mapped). Reasons that only operator commands can produce (asset and symbol
/// configuration, deposits) map to `-1130` for the offending data; a non-increasing sequence
/// number is a sequencer fault a client cannot cause, so it is `-1000`.
///
/// `UnknownOrder` maps to what `order.cancel` answers (`-2011 "Unknown order sent."`);
/// `order.status` answers an unknown order with [`ApiError::NoSuchOrder`] (`-2013`) itself,
/// without a matcher reject.
pub fn from_reject(reason: RejectReason) -> ApiError {
    use RejectReason::*;
    match reason {
        UnknownSymbol => ApiError::BadSymbol,
        SymbolHalted => ApiError::NewOrderRejected(EngineMessage::MarketClosed),
        ZeroQuantity | QuantityTooLarge | QuantityBelowMinimum => {
            ApiError::FilterFailure(Filter::LotSize)
        }
        NotionalBelowMinimum | NotionalTooLarge => ApiError::FilterFailure(Filter::Notional),
        ZeroPrice | PriceTooHigh => ApiError::FilterFailure(Filter::PriceFilter),
        DuplicateClientOrderId => ApiError::NewOrderRejected(EngineMessage::DuplicateOrder),
        UnknownOrder => ApiError::CancelRejected(EngineMessage::UnknownOrder),
        InsufficientBalance => ApiError::NewOrderRejected(EngineMessage::InsufficientBalance),
        WouldTakeLiquidity => ApiError::NewOrderRejected(EngineMessage::WouldMatchAndTake),
        TooManyOpenOrders => ApiError::FilterFailure(Filter::MaxNumOrders),
        UnknownAsset => ApiError::InvalidParameter {
            param: "asset".into(),
        },
        ZeroAmount | SupplyLimitExceeded => ApiError::InvalidParameter {
            param: "amount".into(),
        },
        InvalidName
        | InvalidScale
        | InvalidTickOrLot
        | InexactTickLot
        | InvalidQuantityBounds
        | InvalidFeeRate
        | SameBaseAndQuote
        | ImmutableFieldChanged
        | AlreadyInState => ApiError::InvalidParameter {
            param: "config".into(),
        },
        StaleSequence => ApiError::Unknown,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use matcher::RejectReason::*;

    /// Every reject reason with the code and message a client must see. The exhaustive match
    /// in `all_reasons_listed` makes a new variant fail to compile until it is added here.
    const TABLE: &[(RejectReason, i32, &str)] = &[
        (UnknownSymbol, -1121, "Invalid symbol."),
        (SymbolHalted, -2010, "Market is closed."),
        (
            UnknownAsset,
            -1130,
            "Data sent for parameter 'asset' is not valid.",
        ),
        (ZeroQuantity, -1013, "Filter failure: LOT_SIZE"),
        (QuantityTooLarge, -1013, "Filter failure: LOT_SIZE"),
        (QuantityBelowMinimum, -1013, "Filter failure: LOT_SIZE"),
        (NotionalBelowMinimum, -1013, "Filter failure: NOTIONAL"),
        (NotionalTooLarge, -1013, "Filter failure: NOTIONAL"),
        (ZeroPrice, -1013, "Filter failure: PRICE_FILTER"),
        (PriceTooHigh, -1013, "Filter failure: PRICE_FILTER"),
        (DuplicateClientOrderId, -2010, "Duplicate order sent."),
        (UnknownOrder, -2011, "Unknown order sent."),
        (
            InsufficientBalance,
            -2010,
            "Account has insufficient balance for requested action.",
        ),
        (
            WouldTakeLiquidity,
            -2010,
            "Order would immediately match and take.",
        ),
        (TooManyOpenOrders, -1013, "Filter failure: MAX_NUM_ORDERS"),
        (
            ZeroAmount,
            -1130,
            "Data sent for parameter 'amount' is not valid.",
        ),
        (
            SupplyLimitExceeded,
            -1130,
            "Data sent for parameter 'amount' is not valid.",
        ),
        (
            InvalidName,
            -1130,
            "Data sent for parameter 'config' is not valid.",
        ),
        (
            InvalidScale,
            -1130,
            "Data sent for parameter 'config' is not valid.",
        ),
        (
            InvalidTickOrLot,
            -1130,
            "Data sent for parameter 'config' is not valid.",
        ),
        (
            InexactTickLot,
            -1130,
            "Data sent for parameter 'config' is not valid.",
        ),
        (
            InvalidQuantityBounds,
            -1130,
            "Data sent for parameter 'config' is not valid.",
        ),
        (
            InvalidFeeRate,
            -1130,
            "Data sent for parameter 'config' is not valid.",
        ),
        (
            SameBaseAndQuote,
            -1130,
            "Data sent for parameter 'config' is not valid.",
        ),
        (
            ImmutableFieldChanged,
            -1130,
            "Data sent for parameter 'config' is not valid.",
        ),
        (
            StaleSequence,
            -1000,
            "An unknown error occurred while processing the request.",
        ),
        (
            AlreadyInState,
            -1130,
            "Data sent for parameter 'config' is not valid.",
        ),
    ];

    /// Compile-time completeness: adding a `RejectReason` variant breaks this match.
    fn listed(reason: RejectReason) -> bool {
        match reason {
            UnknownSymbol
            | SymbolHalted
            | UnknownAsset
            | ZeroQuantity
            | QuantityTooLarge
            | QuantityBelowMinimum
            | NotionalBelowMinimum
            | NotionalTooLarge
            | ZeroPrice
            | PriceTooHigh
            | DuplicateClientOrderId
            | UnknownOrder
            | InsufficientBalance
            | WouldTakeLiquidity
            | TooManyOpenOrders
            | ZeroAmount
            | SupplyLimitExceeded
            | InvalidName
            | InvalidScale
            | InvalidTickOrLot
            | InexactTickLot
            | InvalidQuantityBounds
            | InvalidFeeRate
            | SameBaseAndQuote
            | ImmutableFieldChanged
            | StaleSequence
            | AlreadyInState => TABLE.iter().any(|(r, _, _)| *r == reason),
        }
    }

    #[test]
    fn every_reject_reason_maps_as_tabled() {
        // The matcher's stable codes run 1..=27 without gaps; the table must hold each once.
        let mut codes: Vec<u16> = TABLE.iter().map(|(r, _, _)| r.code()).collect();
        codes.sort_unstable();
        assert_eq!(codes, (1..=27).collect::<Vec<u16>>());
        for (reason, code, msg) in TABLE {
            assert!(listed(*reason));
            let e = from_reject(*reason);
            assert_eq!(e.code(), *code, "{reason:?}");
            assert_eq!(e.message(), *msg, "{reason:?}");
            assert_eq!(e.status(), if *code == -1000 { 500 } else { 400 });
        }
    }

    #[test]
    fn codes_statuses_and_messages() {
        let p = || "quantity".to_string();
        let cases: Vec<(ApiError, i32, u16, &str)> = vec![
            (ApiError::Unauthorized, -1002, 401, "You are not authorized to execute this request."),
            (ApiError::TooManyRequests, -1003, 429, "Too many requests queued."),
            (ApiError::TooManyOrders, -1015, 429, "Too many new orders."),
            (
                ApiError::TimestampOutsideRecvWindow,
                -1021,
                400,
                "Timestamp for this request is outside of the recvWindow.",
            ),
            (
                ApiError::TimestampAhead,
                -1021,
                400,
                "Timestamp for this request was 1000ms ahead of the server's time.",
            ),
            (ApiError::InvalidSignature, -1022, 400, "Signature for this request is not valid."),
            (
                ApiError::IllegalChars {
                    param: p(),
                    legal_range: "^([0-9]{1,20})(\\.[0-9]{1,20})?$",
                },
                -1100,
                400,
                "Illegal characters found in parameter 'quantity'; legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.",
            ),
            (ApiError::DuplicateParameter, -1101, 400, "Duplicate values for a parameter detected."),
            (
                ApiError::MandatoryParam { param: p() },
                -1102,
                400,
                "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.",
            ),
            (ApiError::UnknownParam, -1103, 400, "An unknown parameter was sent."),
            (ApiError::UnreadParameters, -1104, 400, "Not all sent parameters were read."),
            (
                ApiError::BadPrecision,
                -1111,
                400,
                "Precision is over the maximum defined for this asset.",
            ),
            (ApiError::BadSymbol, -1121, 400, "Invalid symbol."),
            (ApiError::NoSuchOrder, -2013, 400, "Order does not exist."),
            (ApiError::BadApiKeyFormat, -2014, 401, "API-key format invalid."),
            (
                ApiError::RejectedApiKey,
                -2015,
                401,
                "Invalid API-key, IP, or permissions for action.",
            ),
        ];
        for (e, code, status, msg) in cases {
            assert_eq!(
                (e.code(), e.status(), e.message().as_str()),
                (code, status, msg)
            );
        }
    }

    #[test]
    fn body_serializes_as_binance_does() {
        let json = serde_json::to_string(&ApiError::BadSymbol.body()).unwrap();
        assert_eq!(json, r#"{"code":-1121,"msg":"Invalid symbol."}"#);
        let back: ErrorBody = serde_json::from_str(&json).unwrap();
        assert_eq!(back, ApiError::BadSymbol.body());
        assert_eq!(ApiError::BadSymbol.to_string(), "-1121 Invalid symbol.");
    }
}

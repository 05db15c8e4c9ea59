//! Errors: REST answers in Binance's `{"code","msg"}` shape, and start-up failures.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// A REST error as Binance reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {msg}")]
pub struct RestError {
    /// HTTP status.
    pub status: u16,
    /// Binance error code.
    pub code: i64,
    /// Message.
    pub msg: String,
}

impl RestError {
    fn bad(code: i64, msg: String) -> RestError {
        RestError {
            status: 400,
            code,
            msg,
        }
    }

    /// `-1121 Invalid symbol.`
    pub fn bad_symbol() -> RestError {
        RestError::bad(-1121, "Invalid symbol.".into())
    }

    /// `-1120 Invalid interval.`
    pub fn bad_interval() -> RestError {
        RestError::bad(-1120, "Invalid interval.".into())
    }

    /// `-1102` a mandatory parameter is missing.
    pub fn mandatory(param: &str) -> RestError {
        RestError::bad(
            -1102,
            format!("Mandatory parameter '{param}' was not sent, was empty/null, or malformed."),
        )
    }

    /// `-1100` a number parameter is malformed.
    pub fn illegal_number(param: &str) -> RestError {
        RestError::bad(
            -1100,
            format!("Illegal characters found in parameter '{param}'; legal range is '^[0-9]{{1,20}}$'."),
        )
    }

    /// `-1128` parameters that cannot be combined.
    pub fn bad_combination() -> RestError {
        RestError::bad(-1128, "Combination of optional parameters invalid.".into())
    }

    /// `-1100`/`-1104`-style problems with `symbols`.
    pub fn bad_symbols() -> RestError {
        RestError::bad(
            -1100,
            "Illegal characters found in parameter 'symbols'; legal range is '^\\[(\"[A-Z0-9-_.]{1,20}\"(,\"[A-Z0-9-_.]{1,20}\"){0,}){0,1}\\]$'.".into(),
        )
    }

    /// `-1003`-style overload: the market-data task is too busy to take the request.
    pub fn busy() -> RestError {
        RestError {
            status: 503,
            code: -1003,
            msg: "Market data service busy; retry later.".into(),
        }
    }

    /// The market-data task stopped or the node failed.
    pub fn unavailable(msg: String) -> RestError {
        RestError {
            status: 503,
            code: -1001,
            msg,
        }
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let body = serde_json::json!({"code": self.code, "msg": self.msg}).to_string();
        (
            status,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    }
}

/// Why md-push could not start.
#[derive(Debug, thiserror::Error)]
pub enum MdPushError {
    /// The events journal could not be read.
    #[error(transparent)]
    Journal(#[from] journal::JournalError),
}

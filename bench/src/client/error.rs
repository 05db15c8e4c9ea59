//! The client's error type.

use serde_json::Value;

/// What can go wrong talking to a Binance-style WebSocket API.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The WebSocket handshake or TCP connect failed.
    #[error("connect to {url}: {source}")]
    Connect {
        /// The URL dialled.
        url: String,
        /// The transport error.
        source: Box<tokio_tungstenite::tungstenite::Error>,
    },
    /// The connection is closed (by either side, or after a transport error); every request
    /// in flight when it closed fails with this.
    #[error("connection closed")]
    Closed,
    /// No response arrived within the configured request timeout.
    #[error("no response to request {id} within {timeout_ms} ms")]
    Timeout {
        /// The request id.
        id: u64,
        /// The timeout that elapsed.
        timeout_ms: u64,
    },
    /// The server answered with a Binance error: `{"status": 400, "error": {"code", "msg"}}`.
    #[error("{status} {code} {msg}")]
    Api {
        /// The HTTP-like status of the response.
        status: u16,
        /// Binance's error code (negative).
        code: i64,
        /// Binance's message.
        msg: String,
        /// `error.data` when present (`order.cancelReplace` puts both halves there).
        data: Option<Value>,
    },
    /// A signed request was made on a client that has no credentials.
    #[error("{method} is signed but the client has no API key and secret")]
    NoCredentials {
        /// The method.
        method: String,
    },
    /// A parameter cannot be sent as given (it must be a string, integer or boolean).
    #[error("parameter {param} must be a string, integer or boolean")]
    BadParam {
        /// The parameter.
        param: String,
    },
    /// A setup request (`session.logon`, `userDataStream.subscribe`) on a
    /// [`super::Connection`] with pipelined requests in flight, whose responses it would have
    /// nowhere to put.
    #[error("{method} must be sent before any pipelined request")]
    Busy {
        /// The method.
        method: String,
    },
    /// The server sent something that is not a Binance-shaped response.
    #[error("malformed response: {0}")]
    Protocol(String),
}

impl ClientError {
    /// Binance's error code when the server answered with an error.
    pub fn api_code(&self) -> Option<i64> {
        match self {
            ClientError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }
}

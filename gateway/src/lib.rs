//! The gateway's pure, network-free layer: what order entry needs to speak Binance's Spot
//! WebSocket API exactly, with no sockets and no async runtime.
//!
//! * [`api`]: the WebSocket API protocol: request envelopes and parameters, the market
//!   catalogue, order requests to matcher commands, responses and user-data pushes rendered
//!   from the matcher's events, and the order index projection.
//! * [`auth`]: HMAC-SHA256 request signing and Binance's timing rule (`recvWindow`).
//! * [`errors`]: Binance error codes, statuses and messages; the mapping from the matcher's
//!   reject reasons.
//! * [`keys`]: API keys and secrets persisted atomically in a data directory.
//! * [`units`]: decimal strings <-> ticks, lots and minimal units, per symbol.
pub mod api;
pub mod auth;
pub mod errors;
pub mod keys;
#[cfg(feature = "server")]
pub mod server;
pub mod units;

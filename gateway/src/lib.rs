//! The gateway's pure, network-free layer: what order entry needs to speak Binance's Spot
//! WebSocket API exactly, with no sockets and no async runtime.
//!
//! * [`auth`]: HMAC-SHA256 request signing and Binance's timing rule (`recvWindow`).
//! * [`errors`]: Binance error codes, statuses and messages; the mapping from the matcher's
//!   reject reasons.
//! * [`keys`]: API keys and secrets persisted atomically in a data directory.
//! * [`units`]: decimal strings <-> ticks, lots and minimal units, per symbol.
pub mod auth;
pub mod errors;
pub mod keys;
pub mod units;

//! Order entry: Binance's Spot WebSocket API over WebSocket, in front of the node.
//!
//! * [`server`]: the WebSocket server (`/ws-api/v3`, `/metrics`): sessions, authentication,
//!   rate limits, the user data stream, cancel-on-disconnect, and the stated limits.
//! * [`testing`]: an in-process exchange (node + gateway on loopback) for tests and examples.
//!
//! The rest is the pure, network-free layer (no sockets, no async runtime):
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
pub mod server;
pub mod testing;
pub mod units;

//! md-push: Binance-shaped public market-data streams over WebSocket.
//!
//! Not built yet: this crate is reserved by the workspace layout and is filled by the
//! market-data issue (it depends on the node's events journal).

//! K-lines: candles for 1s .. 1M built only from trade events, persisted to Postgres in batches.
//!
//! Not built yet: this crate is reserved by the workspace layout and is filled by the
//! market-data issue (it depends on the node's events journal).

//! Settlement: reads the events journal and writes trades, orders, a double-entry ledger and
//! balances into Postgres with binary COPY, exactly once.
//!
//! Not built yet: this crate is reserved by the workspace layout and is filled by the
//! settlement issue (it depends on the node's events journal).

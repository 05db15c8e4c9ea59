//! Settlement: reads the events journal and writes trades, orders, a double-entry ledger and
//! balances into Postgres with binary COPY, exactly once; what clearing reads.
//!
//! * [`follow::run`] / [`SettlementHandle::spawn`]: follow the events journal (lossless,
//!   from the journal files; never the node's lossy broadcast), build a [`batch::Batch`] of
//!   everything durable (bounded by [`SettlementConfig::max_batch_events`]), and write it in
//!   one transaction ([`store::write_batch`]): binary COPY of trades, ledger transfers and new
//!   orders, COPY into staging tables merged with one `UPDATE ... FROM` (orders accepted
//!   earlier) and one `INSERT ... ON CONFLICT` (balances), and the consumer offset moved from
//!   the batch's first event - 1 to its last event in the same transaction. After any crash
//!   the consumer resumes right after the committed offset; a batch whose offset was already
//!   moved is rolled back untouched.
//! * Postgres down or slow: the follower waits and retries with backoff (reconnecting and
//!   re-reading the offset); it reads the journal files, so it never blocks the matcher. Its
//!   lag (events behind the journal head) is [`Metrics::lag`].
//! * [`schema`]: versioned SQL migrations applied on start (`migrations/*.sql`).
//! * [`clearing`]: the queries clearing runs (trades of an account in a time range).
//! * [`reconcile`]: Postgres balances at the committed offset against the matcher's state at
//!   the same event, recomputed from the commands journal.
//! * [`numeric`]: exact `u128` amounts as `NUMERIC(39,0)`.

pub mod batch;
pub mod catalog;
pub mod clearing;
mod error;
pub mod follow;
mod genesis;
pub mod metrics;
pub mod numeric;
pub mod reconcile;
pub mod schema;
pub mod store;

pub use error::SettleError;
pub use follow::{connect, run, RunReport, SettlementConfig, SettlementHandle};
pub use metrics::Metrics;
pub use numeric::Amount;

//! K-lines: candles for 1s .. 1M built only from trade events.
//!
//! * [`Interval`]: the sixteen Binance intervals, aligned to UTC (`1w` to Monday 00:00, `1M` to
//!   the first day of the month, `3d` to multiples of three days since the Unix epoch, as
//!   Binance aligns them).
//! * [`Candle`]: every field of a Binance kline, in the matcher's integers (ticks, lots, quote
//!   minimal units); decimals are formatted at the edge (md-push).
//! * [`Aggregator`]: folds events into candles. It reads only `Trade` events and their
//!   command timestamps, so rebuilding from the events journal gives identical candles.
//!
//! * [`KlineStore`] / [`follow`]: persistence to Postgres in batches: the candles a batch of
//!   events changed are COPYed into a session staging table and merged with one upsert, and
//!   the consumer's last event sequence moves in the same transaction (exactly once; a
//!   restart rebuilds the in-memory candles from the events journal and resumes writing
//!   after the committed sequence).
//!
//! # Intervals without trades
//! A candle exists only for an interval that had at least one trade: the REST history
//! (`GET /api/v3/klines`) omits empty intervals, as Binance does, and nothing is persisted for
//! them. The live stream (md-push) still reports the current interval when it is empty, as an
//! open-equals-close candle at the previous close with zero volume and trade ids `-1`, and
//! closes it on time.

mod aggregator;
mod candle;
mod interval;
pub mod store;
mod writer;

pub use aggregator::{Aggregator, SeriesKey};
pub use candle::Candle;
pub use interval::{Interval, ParseIntervalError};
pub use store::{KlineError, KlineStore, WriteOutcome};
pub use writer::{follow, WriterConfig};

//! The kline writer: follows the events journal, folds trades into candles, and writes the
//! changed candles to Postgres in batches, exactly once.

use crate::store::{KlineError, KlineStore, WriteOutcome};
use crate::Aggregator;
use journal::Journal;
use std::time::Duration;

/// Writer settings.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Most events folded into one batch (one transaction).
    pub max_batch_events: usize,
    /// Closed candles kept in memory per series; must exceed what one batch can close.
    pub history: usize,
    /// Wait after a short batch, so that a trickle of events does not become one
    /// transaction per command.
    pub linger: Duration,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            max_batch_events: 50_000,
            history: 100_000,
            linger: Duration::from_millis(20),
        }
    }
}

/// Follows `events` until it closes (the node stopped) or an error: rebuilds the candles
/// from event 1 (so in-progress candles are complete), skips writing what the store already
/// has (events up to its offset), then writes every batch's changed candles with the new
/// offset in one transaction. Returns the last event written.
pub async fn follow(
    store: &mut KlineStore,
    events: &Journal,
    config: &WriterConfig,
) -> Result<u64, KlineError> {
    let mut committed = store.last_seq().await?;
    // One batch cannot close more candles per series than it has events: keep more than that
    // in memory, so that every changed candle is still there to be written.
    let history = config.history.max(config.max_batch_events + 1);
    let mut agg = Aggregator::new(history).track_dirty();
    let mut reader = events.reader(1)?;
    loop {
        let mut n = 0;
        while n < config.max_batch_events {
            match reader.try_next()? {
                Some(r) => {
                    let e = matcher::codec::decode_event(&r.payload).map_err(|e| {
                        KlineError::Decode {
                            index: r.index,
                            reason: e.to_string(),
                        }
                    })?;
                    agg.apply(&e);
                    n += 1;
                }
                None => break,
            }
        }
        let last = agg.last_seq();
        let dirty = agg.take_dirty();
        if last > committed {
            match store.write_batch(committed, last, &dirty).await? {
                WriteOutcome::Committed => {
                    tracing::debug!(last, candles = dirty.len(), "klines written");
                    committed = last;
                }
                WriteOutcome::OffsetMoved => {
                    return Err(KlineError::Data(
                        "the kline offset moved under this writer (two writers?)".into(),
                    ))
                }
            }
        }
        if n < config.max_batch_events {
            // At the durable end: wait for the next event (or the journal's close).
            match reader.next().await {
                Ok(r) => {
                    let e = matcher::codec::decode_event(&r.payload).map_err(|e| {
                        KlineError::Decode {
                            index: r.index,
                            reason: e.to_string(),
                        }
                    })?;
                    agg.apply(&e);
                    tokio::time::sleep(config.linger).await;
                }
                Err(journal::JournalError::Closed) => {
                    let last = agg.last_seq();
                    let dirty = agg.take_dirty();
                    if last > committed
                        && store.write_batch(committed, last, &dirty).await?
                            == WriteOutcome::Committed
                    {
                        committed = last;
                    }
                    return Ok(committed);
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

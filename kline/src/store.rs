//! The Postgres side: schema, batch writes (COPY into a staging table, one upsert, the
//! consumer offset in the same transaction) and reads.
//!
//! Columns keep the matcher's integers: prices in ticks (`bigint`), volumes in lots and quote
//! minimal units (`numeric(39,0)`, written as decimal text by COPY, so no value is rounded).

use crate::{Candle, Interval, SeriesKey};
use bytes::Bytes;
use futures_util::{pin_mut, SinkExt};
use matcher::SymbolId;
use std::fmt::Write as _;
use tokio_postgres::{Client, NoTls};

/// Why a kline store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KlineError {
    /// Postgres.
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// A stored value this build cannot read.
    #[error("stored kline data: {0}")]
    Data(String),
    /// The events journal.
    #[error("events journal: {0}")]
    Journal(#[from] journal::JournalError),
    /// An events-journal record that does not decode.
    #[error("event {index} does not decode: {reason}")]
    Decode {
        /// Journal index.
        index: u64,
        /// The codec's message.
        reason: String,
    },
}

/// What [`KlineStore::write_batch`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Committed; the offset is now the batch's last event.
    Committed,
    /// The offset was not the batch's `prev_seq` (another writer): nothing was written.
    OffsetMoved,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS klines (
    symbol_id              bigint        NOT NULL,
    interval               text          NOT NULL,
    open_time              bigint        NOT NULL,
    close_time             bigint        NOT NULL,
    open_ticks             bigint        NOT NULL,
    high_ticks             bigint        NOT NULL,
    low_ticks              bigint        NOT NULL,
    close_ticks            bigint        NOT NULL,
    volume_lots            numeric(39,0) NOT NULL,
    quote_volume           numeric(39,0) NOT NULL,
    trades                 bigint        NOT NULL,
    taker_buy_volume_lots  numeric(39,0) NOT NULL,
    taker_buy_quote_volume numeric(39,0) NOT NULL,
    first_trade_id         bigint        NOT NULL,
    last_trade_id          bigint        NOT NULL,
    PRIMARY KEY (symbol_id, interval, open_time)
);
CREATE TABLE IF NOT EXISTS kline_offsets (
    consumer text   PRIMARY KEY,
    last_seq bigint NOT NULL
);";

const COLUMNS: &str = "symbol_id, interval, open_time, close_time, open_ticks, high_ticks, \
    low_ticks, close_ticks, volume_lots, quote_volume, trades, taker_buy_volume_lots, \
    taker_buy_quote_volume, first_trade_id, last_trade_id";

/// A connection to the kline tables, for one consumer name.
#[derive(Debug)]
pub struct KlineStore {
    client: Client,
    consumer: String,
}

fn to_i64(v: u64, what: &str) -> Result<i64, KlineError> {
    i64::try_from(v).map_err(|_| KlineError::Data(format!("{what} {v} exceeds bigint")))
}

fn to_u64(v: i64, what: &str) -> Result<u64, KlineError> {
    u64::try_from(v).map_err(|_| KlineError::Data(format!("negative {what} {v}")))
}

impl KlineStore {
    /// Connects (the connection runs on a spawned task), creates the tables if missing, the
    /// session's staging table, and the consumer's offset row (at 0) if missing.
    pub async fn connect(url: &str, consumer: &str) -> Result<KlineStore, KlineError> {
        let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "kline store connection ended");
            }
        });
        // Concurrent creators are serialised by a transaction-scoped advisory lock.
        client
            .batch_execute(&format!(
                "BEGIN; SELECT pg_advisory_xact_lock(4951); {SCHEMA} COMMIT;
                 CREATE TEMP TABLE IF NOT EXISTS klines_stage (LIKE klines) ON COMMIT DELETE ROWS;"
            ))
            .await?;
        client
            .execute(
                "INSERT INTO kline_offsets (consumer, last_seq) VALUES ($1, 0)
                 ON CONFLICT (consumer) DO NOTHING",
                &[&consumer],
            )
            .await?;
        Ok(KlineStore {
            client,
            consumer: consumer.to_string(),
        })
    }

    /// The last event sequence whose candles are committed.
    pub async fn last_seq(&self) -> Result<u64, KlineError> {
        let row = self
            .client
            .query_one(
                "SELECT last_seq FROM kline_offsets WHERE consumer = $1",
                &[&self.consumer],
            )
            .await?;
        to_u64(row.get(0), "offset")
    }

    /// Upserts `candles` (distinct series and open times) and moves the offset from
    /// `prev_seq` to `last_seq`, in one transaction.
    pub async fn write_batch(
        &mut self,
        prev_seq: u64,
        last_seq: u64,
        candles: &[(SeriesKey, Candle)],
    ) -> Result<WriteOutcome, KlineError> {
        let tx = self.client.transaction().await?;
        let moved = tx
            .execute(
                "UPDATE kline_offsets SET last_seq = $1 WHERE consumer = $2 AND last_seq = $3",
                &[
                    &to_i64(last_seq, "event")?,
                    &self.consumer,
                    &to_i64(prev_seq, "event")?,
                ],
            )
            .await?;
        if moved != 1 {
            tx.rollback().await?;
            return Ok(WriteOutcome::OffsetMoved);
        }
        if !candles.is_empty() {
            let mut text = String::with_capacity(candles.len() * 160);
            for (key, c) in candles {
                // Text COPY: tab-separated, one row per line; no field can hold a tab,
                // a newline or a backslash (integers and interval names).
                let _ = writeln!(
                    text,
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    key.symbol.0,
                    key.interval.as_str(),
                    c.open_time,
                    c.close_time,
                    c.open,
                    c.high,
                    c.low,
                    c.close,
                    c.volume,
                    c.quote_volume,
                    c.trades,
                    c.taker_buy_volume,
                    c.taker_buy_quote_volume,
                    c.first_trade_id,
                    c.last_trade_id
                );
            }
            let sink = tx
                .copy_in(&format!("COPY klines_stage ({COLUMNS}) FROM STDIN"))
                .await?;
            pin_mut!(sink);
            sink.send(Bytes::from(text)).await?;
            sink.finish().await?;
            tx.batch_execute(&format!(
                "INSERT INTO klines ({COLUMNS}) SELECT {COLUMNS} FROM klines_stage
                 ON CONFLICT (symbol_id, interval, open_time) DO UPDATE SET
                   close_time = EXCLUDED.close_time,
                   open_ticks = EXCLUDED.open_ticks,
                   high_ticks = EXCLUDED.high_ticks,
                   low_ticks = EXCLUDED.low_ticks,
                   close_ticks = EXCLUDED.close_ticks,
                   volume_lots = EXCLUDED.volume_lots,
                   quote_volume = EXCLUDED.quote_volume,
                   trades = EXCLUDED.trades,
                   taker_buy_volume_lots = EXCLUDED.taker_buy_volume_lots,
                   taker_buy_quote_volume = EXCLUDED.taker_buy_quote_volume,
                   first_trade_id = EXCLUDED.first_trade_id,
                   last_trade_id = EXCLUDED.last_trade_id"
            ))
            .await?;
        }
        tx.commit().await?;
        Ok(WriteOutcome::Committed)
    }

    /// Every stored candle of a series, by open time.
    pub async fn load(&self, key: SeriesKey) -> Result<Vec<Candle>, KlineError> {
        let rows = self
            .client
            .query(
                "SELECT open_time, close_time, open_ticks, high_ticks, low_ticks, close_ticks,
                        volume_lots::text, quote_volume::text, trades,
                        taker_buy_volume_lots::text, taker_buy_quote_volume::text,
                        first_trade_id, last_trade_id
                 FROM klines WHERE symbol_id = $1 AND interval = $2 ORDER BY open_time",
                &[&i64::from(key.symbol.0), &key.interval.as_str()],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let u =
                    |i: usize, what: &str| -> Result<u64, KlineError> { to_u64(r.get(i), what) };
                let big = |i: usize| -> Result<u128, KlineError> {
                    let s: String = r.get(i);
                    s.parse()
                        .map_err(|_| KlineError::Data(format!("volume {s:?} is not a u128")))
                };
                Ok(Candle {
                    interval: key.interval,
                    open_time: u(0, "open time")?,
                    close_time: u(1, "close time")?,
                    open: u(2, "price")?,
                    high: u(3, "price")?,
                    low: u(4, "price")?,
                    close: u(5, "price")?,
                    volume: big(6)?,
                    quote_volume: big(7)?,
                    trades: u(8, "trades")?,
                    taker_buy_volume: big(9)?,
                    taker_buy_quote_volume: big(10)?,
                    first_trade_id: u(11, "trade id")?,
                    last_trade_id: u(12, "trade id")?,
                })
            })
            .collect()
    }

    /// The series that have stored candles.
    pub async fn series(&self) -> Result<Vec<SeriesKey>, KlineError> {
        let rows = self
            .client
            .query("SELECT DISTINCT symbol_id, interval FROM klines", &[])
            .await?;
        rows.iter()
            .map(|r| {
                let id: i64 = r.get(0);
                let i: String = r.get(1);
                Ok(SeriesKey {
                    symbol: SymbolId(
                        u32::try_from(id).map_err(|_| KlineError::Data(format!("symbol {id}")))?,
                    ),
                    interval: Interval::parse(&i).map_err(|e| KlineError::Data(e.to_string()))?,
                })
            })
            .collect()
    }
}

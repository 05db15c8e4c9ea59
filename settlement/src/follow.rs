//! The consumer: follows the events journal, batches, writes, retries.

use crate::batch::Batch;
use crate::catalog::Catalog;
use crate::metrics::Metrics;
use crate::store::{load_consumer, write_batch, WriteOutcome};
use crate::{schema, SettleError};
use journal::JournalReader;
use matcher::{codec, AccountId};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;
use tokio_postgres::{Client, NoTls};

/// How settlement runs.
#[derive(Debug, Clone)]
pub struct SettlementConfig {
    /// The events journal directory (`<data_dir>/events`).
    pub events_dir: PathBuf,
    /// tokio-postgres connection string (key-value or URL).
    pub database_url: String,
    /// Name of the consumer's offset row.
    pub consumer: String,
    /// The fee account of the engine's genesis (before any `FeeAccountSet`).
    pub genesis_fee_account: AccountId,
    /// Most events in one batch (one transaction). Bounds memory.
    pub max_batch_events: usize,
    /// Most trades in one batch.
    pub max_batch_trades: usize,
    /// First wait after a failure; doubles up to `retry_max`.
    pub retry_initial: Duration,
    /// Longest wait between attempts.
    pub retry_max: Duration,
    /// Stop once this event is committed (tests, benchmarks, catch-up runs).
    pub stop_at: Option<u64>,
}

impl SettlementConfig {
    /// Defaults: consumer `settlement`, batches of at most 100,000 events / 20,000 trades,
    /// retries from 100 ms up to 5 s.
    pub fn new(events_dir: impl Into<PathBuf>, database_url: impl Into<String>) -> Self {
        SettlementConfig {
            events_dir: events_dir.into(),
            database_url: database_url.into(),
            consumer: "settlement".into(),
            genesis_fee_account: AccountId(0),
            max_batch_events: 100_000,
            max_batch_trades: 20_000,
            retry_initial: Duration::from_millis(100),
            retry_max: Duration::from_secs(5),
            stop_at: None,
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReport {
    /// The offset at the end.
    pub applied_seq: u64,
    /// Batches committed by this run.
    pub batches: u64,
}

/// Connects, migrates and prepares a session.
pub async fn connect(url: &str) -> Result<Client, SettleError> {
    let (mut client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "postgres connection ended");
        }
    });
    schema::migrate(&mut client).await?;
    schema::create_staging(&client).await?;
    Ok(client)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Follows the journal until `stop` turns true (or `config.stop_at` is reached), retrying
/// with backoff while Postgres is unavailable. Returns early only on an error that retrying
/// cannot fix (a corrupt or inconsistent event stream).
pub async fn run(
    config: SettlementConfig,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) -> Result<RunReport, SettleError> {
    let mut backoff = config.retry_initial;
    let mut report = RunReport {
        applied_seq: 0,
        batches: 0,
    };
    loop {
        if *stop.borrow() {
            return Ok(report);
        }
        let batches_before = report.batches;
        let result = session(&config, &metrics, &mut stop, &mut report).await;
        if report.batches > batches_before {
            // The last session made progress: the next failure starts a fresh backoff.
            backoff = config.retry_initial;
        }
        match result {
            Ok(()) => return Ok(report),
            Err(e) if e.is_retryable() => {
                metrics.retries.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, wait_ms = backoff.as_millis() as u64, "settlement: postgres unavailable, retrying");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.wait_for(|s| *s) => return Ok(report),
                }
                backoff = (backoff * 2).min(config.retry_max);
            }
            Err(e) => {
                tracing::error!(error = %e, "settlement stopped");
                return Err(e);
            }
        }
    }
}

/// One connection's life: returns `Ok` when asked to stop, an error otherwise.
///
/// A builder thread reads and decodes the journal into the next batch while this task writes
/// the current one, and hands over everything it gathered when the writer asks, so that
/// settlement's own CPU work overlaps with Postgres's and each batch holds exactly what
/// arrived during the previous write (no batch waits behind another).
async fn session(
    config: &SettlementConfig,
    metrics: &Arc<Metrics>,
    stop: &mut watch::Receiver<bool>,
    report: &mut RunReport,
) -> Result<(), SettleError> {
    let mut client = connect(&config.database_url).await?;
    let state = load_consumer(&client, &config.consumer, config.genesis_fee_account).await?;
    let mut offset = state.last_seq;
    metrics.applied_seq.store(offset, Ordering::Relaxed);
    report.applied_seq = offset;
    tracing::info!(offset, "settlement resumes after event {offset}");
    if config.stop_at.is_some_and(|s| offset >= s) {
        return Ok(());
    }
    let reader = JournalReader::open(&config.events_dir, offset + 1)?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Batch, SettleError>>(1);
    let (want_tx, want_rx) = tokio::sync::mpsc::channel::<()>(1);
    let builder = Builder {
        config: config.clone(),
        metrics: Arc::clone(metrics),
        reader,
        catalog: state.catalog,
        offset,
    };
    let thread = std::thread::Builder::new()
        .name("settlement-batch".into())
        .spawn(move || builder.run(tx, want_rx))
        .map_err(|e| SettleError::Node(format!("settlement builder thread: {e}")))?;
    let result = loop {
        if config.stop_at.is_some_and(|s| offset >= s) || *stop.borrow() {
            break Ok(());
        }
        // Ask for everything gathered so far (the builder keeps gathering until asked).
        if want_tx.send(()).await.is_err() {
            break Err(SettleError::Node("the batch builder stopped".into()));
        }
        let batch = tokio::select! {
            b = rx.recv() => match b {
                Some(Ok(b)) => b,
                Some(Err(e)) => break Err(e),
                None => break Err(SettleError::Node("the batch builder stopped".into())),
            },
            _ = stop.wait_for(|s| *s) => break Ok(()),
        };
        match write_batch(&mut client, &config.consumer, &batch, now_ms()).await {
            Ok(WriteOutcome::Committed) => {
                offset = batch.last_seq;
                report.applied_seq = offset;
                report.batches += 1;
                metrics.applied_seq.store(offset, Ordering::Relaxed);
                metrics.batches.fetch_add(1, Ordering::Relaxed);
                metrics
                    .events
                    .fetch_add(batch.events as u64, Ordering::Relaxed);
                metrics
                    .trades
                    .fetch_add(batch.trades.len() as u64, Ordering::Relaxed);
                metrics
                    .ledger_rows
                    .fetch_add(batch.ledger.len() as u64, Ordering::Relaxed);
                tracing::debug!(
                    offset,
                    events = batch.events,
                    trades = batch.trades.len(),
                    "batch settled"
                );
            }
            Ok(WriteOutcome::OffsetMoved) => {
                // Another writer moved the offset: a new session reloads what is committed.
                tracing::warn!(
                    expected = offset,
                    "settlement offset moved under us; resuming from the database"
                );
                break Err(SettleError::OffsetMoved);
            }
            Err(e) => break Err(e),
        }
    };
    drop(rx);
    drop(want_tx);
    // The builder notices the closed channels at its next send or wait.
    let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    result
}

/// Reads, decodes and batches on a thread of its own.
struct Builder {
    config: SettlementConfig,
    metrics: Arc<Metrics>,
    reader: JournalReader,
    catalog: Catalog,
    offset: u64,
}

impl Builder {
    fn run(
        mut self,
        tx: tokio::sync::mpsc::Sender<Result<Batch, SettleError>>,
        mut want: tokio::sync::mpsc::Receiver<()>,
    ) {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                let _ = tx.blocking_send(Err(SettleError::Node(format!("builder runtime: {e}"))));
                return;
            }
        };
        rt.block_on(async move {
            let mut wanted = false;
            let mut batch = Batch::new(self.offset, self.catalog.fee_account);
            loop {
                let result = self.gather(&mut batch);
                if let Err(e) = result {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
                if wanted && !batch.is_empty() {
                    let next = Batch::new(batch.last_seq, self.catalog.fee_account);
                    let full = std::mem::replace(&mut batch, next);
                    self.publish_head(full.last_seq);
                    if tx.send(Ok(full)).await.is_err() {
                        return;
                    }
                    wanted = false;
                    continue;
                }
                let room = self.has_room(&batch);
                tokio::select! {
                    r = self.reader.next(), if room => match r {
                        Ok(record) => {
                            if let Err(e) = add_record(&mut batch, &mut self.catalog, &record) {
                                let _ = tx.send(Err(e)).await;
                                return;
                            }
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e.into())).await;
                            return;
                        }
                    },
                    w = want.recv() => match w {
                        Some(()) => wanted = true,
                        None => return,
                    },
                }
            }
        });
    }

    /// Whether the batch may take another event.
    fn has_room(&self, batch: &Batch) -> bool {
        let c = &self.config;
        batch.events < c.max_batch_events
            && batch.trades.len() < c.max_batch_trades
            && c.stop_at.is_none_or(|s| batch.last_seq < s)
    }

    /// Adds every record already durable, up to the batch limits.
    fn gather(&mut self, batch: &mut Batch) -> Result<(), SettleError> {
        while self.has_room(batch) {
            match self.reader.try_next()? {
                Some(r) => add_record(batch, &mut self.catalog, &r)?,
                None => break,
            }
        }
        Ok(())
    }

    fn publish_head(&self, last: u64) {
        if let Ok(Some(head)) = journal::durable_file::read(&self.config.events_dir) {
            self.metrics.head_seq.fetch_max(head, Ordering::Relaxed);
        }
        self.metrics.head_seq.fetch_max(last, Ordering::Relaxed);
    }
}

fn add_record(
    batch: &mut Batch,
    catalog: &mut Catalog,
    record: &journal::Record,
) -> Result<(), SettleError> {
    let event = codec::decode_event(&record.payload).map_err(|source| SettleError::Decode {
        index: record.index,
        source,
    })?;
    if event.seq != record.index {
        return Err(SettleError::Inconsistent {
            seq: event.seq,
            reason: format!("stored at journal index {}", record.index),
        });
    }
    batch.add(&event, catalog)
}

/// A settlement consumer on a thread of its own (with its own single-threaded runtime), so
/// that neither Postgres nor settlement's CPU work can delay the node's threads or runtime.
#[derive(Debug)]
pub struct SettlementHandle {
    metrics: Arc<Metrics>,
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<Result<RunReport, SettleError>>>,
}

impl SettlementHandle {
    /// Starts following the journal.
    pub fn spawn(config: SettlementConfig) -> Result<SettlementHandle, SettleError> {
        let metrics = Arc::new(Metrics::default());
        let (stop, stop_rx) = watch::channel(false);
        let m = Arc::clone(&metrics);
        let thread = std::thread::Builder::new()
            .name("settlement".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| SettleError::Node(format!("settlement runtime: {e}")))?;
                rt.block_on(run(config, m, stop_rx))
            })
            .map_err(|e| SettleError::Node(format!("settlement thread: {e}")))?;
        Ok(SettlementHandle {
            metrics,
            stop,
            thread: Some(thread),
        })
    }

    /// The consumer's counters.
    pub fn metrics(&self) -> Arc<Metrics> {
        Arc::clone(&self.metrics)
    }

    /// Whether the consumer has stopped (asked to, `stop_at` reached, or a fatal error).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Asks the consumer to stop after the batch in progress and waits for it.
    pub fn stop(mut self) -> Result<RunReport, SettleError> {
        let _ = self.stop.send(true);
        self.join()
    }

    /// Waits for the consumer to end by itself (`stop_at`, or a fatal error).
    pub fn join(&mut self) -> Result<RunReport, SettleError> {
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| SettleError::Node("the settlement thread panicked".into()))?,
            None => Err(SettleError::Node("settlement already joined".into())),
        }
    }
}

impl Drop for SettlementHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

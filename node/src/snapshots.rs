//! Node snapshots: the engine's canonical snapshot plus the projection's bytes, written beside
//! the commands journal (in its `snapshots/` directory, named by the last command applied) by
//! background threads, so the matcher thread only pays for taking its state (the engine's
//! snapshot and the projection's shared pointers, tens of microseconds). The `snapshotter`
//! thread, at normal priority, captures the projection's state at once (the shorter that takes,
//! the less the matcher thread copies on writing what is still shared); the
//! `snapshot-writer` thread, at nice 19, encodes and writes it in the machine's idle time.
//!
//! Bytes: `engine_len: u32 LE`, the engine snapshot (`matcher::codec::encode_snapshot`), then
//! the projection's bytes (the rest). The journal's snapshot file adds the checksum.

use crate::config::NodeConfig;
use crate::projection::{Capture, Encode, Projection};
use crate::{Engine, NodeError};
use journal::Journal;
use matcher::{codec, Snapshot};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;

/// One snapshot to write.
pub(crate) struct SnapshotJob {
    /// Last command applied (the snapshot's index).
    pub index: u64,
    /// Last event emitted: the events journal must be durable up to here first, so that
    /// recovery from this snapshot never needs events older than it.
    pub last_event_seq: u64,
    engine: Snapshot,
    /// Captures the projection's state (run first by the snapshot thread).
    projection: Capture,
}

/// A snapshot whose projection state has been captured.
struct Captured {
    index: u64,
    last_event_seq: u64,
    engine: Snapshot,
    projection: Encode,
}

impl std::fmt::Debug for SnapshotJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotJob")
            .field("index", &self.index)
            .field("last_event_seq", &self.last_event_seq)
            .finish_non_exhaustive()
    }
}

impl SnapshotJob {
    pub(crate) fn new<P: Projection>(engine: &Engine, projection: &P) -> Self {
        let started = std::time::Instant::now();
        let engine_copy = engine.snapshot();
        let engine_us = started.elapsed().as_micros();
        let projection_copy = projection.save();
        // The copies are the only part of a snapshot the matcher thread pays for.
        tracing::info!(
            cmd_seq = engine.last_cmd_seq(),
            engine_us = u64::try_from(engine_us).unwrap_or(u64::MAX),
            projection_us =
                u64::try_from(started.elapsed().as_micros() - engine_us).unwrap_or(u64::MAX),
            "snapshot state copied for the background writer"
        );
        SnapshotJob {
            index: engine.last_cmd_seq(),
            last_event_seq: engine.last_event_seq(),
            engine: engine_copy,
            projection: projection_copy,
        }
    }

    /// Copies the projection's state out of what it shares with the matcher thread.
    fn capture(self) -> Captured {
        let started = std::time::Instant::now();
        let projection = (self.projection)();
        tracing::info!(
            index = self.index,
            capture_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            "snapshot projection captured"
        );
        Captured {
            index: self.index,
            last_event_seq: self.last_event_seq,
            engine: self.engine,
            projection,
        }
    }
}

/// A node snapshot's bytes in their three parts (see the module docs): written one after
/// another, never copied into one buffer (a full order index is tens of MB).
struct Encoded {
    engine_len: [u8; 4],
    engine: Vec<u8>,
    projection: Vec<u8>,
}

impl Encoded {
    fn parts(&self) -> [&[u8]; 3] {
        [&self.engine_len, &self.engine, &self.projection]
    }

    fn len(&self) -> usize {
        self.parts().iter().map(|p| p.len()).sum()
    }
}

impl Captured {
    fn encode(self) -> Result<Encoded, NodeError> {
        let mut engine = Vec::new();
        codec::encode_snapshot(&self.engine, &mut engine)?;
        let len = u32::try_from(engine.len())
            .map_err(|_| NodeError::Recovery("engine snapshot larger than 4 GiB".into()))?;
        Ok(Encoded {
            engine_len: len.to_le_bytes(),
            engine,
            projection: (self.projection)(),
        })
    }
}

/// Splits node snapshot bytes into the engine snapshot bytes and the projection bytes.
pub(crate) fn split(bytes: &[u8]) -> Result<(&[u8], &[u8]), NodeError> {
    let bad = || NodeError::Recovery("node snapshot too short for its engine part".into());
    let len_bytes: [u8; 4] = bytes
        .get(..4)
        .ok_or_else(bad)?
        .try_into()
        .map_err(|_| bad())?;
    let len = u32::from_le_bytes(len_bytes) as usize;
    let engine = bytes.get(4..4 + len).ok_or_else(bad)?;
    Ok((engine, &bytes[4 + len..]))
}

struct Writer {
    events: Journal,
    commands: Journal,
    keep: usize,
    retire_segments: bool,
    dir: PathBuf,
    busy: AtomicBool,
}

impl Writer {
    fn write(&self, job: Captured) -> Result<(), NodeError> {
        self.events.wait_durable_blocking(job.last_event_seq)?;
        let index = job.index;
        let encoded = job.encode()?;
        let path = journal::snapshot::write_snapshot_parts(&self.dir, index, &encoded.parts())?;
        tracing::info!(index, bytes = encoded.len(), path = %path.display(), "snapshot written");
        if self.retire_segments {
            self.commands.retain(self.keep)?;
        } else {
            // Only old snapshot files go; every segment stays.
            journal::snapshot::retain_snapshots(&self.dir, self.keep)?;
        }
        Ok(())
    }
}

/// The background snapshot threads (one job in flight at most).
pub(crate) struct Snapshotter {
    tx: Option<SyncSender<SnapshotJob>>,
    capturer: Option<JoinHandle<()>>,
    thread: Option<JoinHandle<Result<(), NodeError>>>,
    writer: std::sync::Arc<Writer>,
}

impl Snapshotter {
    pub(crate) fn start(
        config: &NodeConfig,
        events: Journal,
        commands: Journal,
    ) -> Result<Self, NodeError> {
        let writer = std::sync::Arc::new(Writer {
            events,
            commands,
            keep: config.snapshots_kept.max(1),
            retire_segments: config.retire_journal_segments,
            dir: config.commands_dir(),
            busy: AtomicBool::new(false),
        });
        let spawn_error = |e| NodeError::io("spawn snapshot thread", config.commands_dir(), e);
        let (captured_tx, captured_rx): (SyncSender<Captured>, Receiver<Captured>) =
            sync_channel(1);
        let w = std::sync::Arc::clone(&writer);
        let thread = std::thread::Builder::new()
            .name("snapshot-writer".into())
            .spawn(move || {
                // Encoding and writing a snapshot is background work: it takes idle CPU only.
                journal::background::lower_thread_priority();
                for job in captured_rx {
                    let result = w.write(job);
                    w.busy.store(false, Ordering::Release);
                    result?;
                }
                Ok(())
            })
            .map_err(spawn_error)?;
        let (tx, rx): (SyncSender<SnapshotJob>, Receiver<SnapshotJob>) = sync_channel(1);
        let w = std::sync::Arc::clone(&writer);
        let capturer = std::thread::Builder::new()
            .name("snapshotter".into())
            .spawn(move || {
                for job in rx {
                    if captured_tx.send(job.capture()).is_err() {
                        // The writer stopped after an error. With this thread gone too, the
                        // next `try_submit` finds the channel closed and reports it.
                        w.busy.store(false, Ordering::Release);
                        return;
                    }
                }
            })
            .map_err(spawn_error)?;
        Ok(Snapshotter {
            tx: Some(tx),
            capturer: Some(capturer),
            thread: Some(thread),
            writer,
        })
    }

    /// Hands a snapshot to the writer if it is idle (the job is built only then). Returns
    /// whether it was taken; a writer that failed is reported as an error.
    pub(crate) fn try_submit(&self, job: impl FnOnce() -> SnapshotJob) -> Result<bool, NodeError> {
        let Some(tx) = &self.tx else {
            return Ok(false);
        };
        if self.writer.busy.swap(true, Ordering::AcqRel) {
            return Ok(false);
        }
        match tx.try_send(job()) {
            Ok(()) => Ok(true),
            Err(TrySendError::Full(_)) => {
                self.writer.busy.store(false, Ordering::Release);
                Ok(false)
            }
            Err(TrySendError::Disconnected(_)) => Err(NodeError::Failed(
                "the snapshot writer stopped after an error".into(),
            )),
        }
    }

    /// Waits for the background writer to finish its job, stops it, then writes `last` (the
    /// final snapshot) on the calling thread.
    pub(crate) fn finish(mut self, last: Option<SnapshotJob>) -> Result<(), NodeError> {
        self.stop()?;
        match last {
            Some(job) => self.writer.write(job.capture()),
            None => Ok(()),
        }
    }

    fn stop(&mut self) -> Result<(), NodeError> {
        self.tx.take();
        if let Some(t) = self.capturer.take() {
            t.join()
                .map_err(|_| NodeError::Failed("the snapshot thread panicked".into()))?;
        }
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| NodeError::Failed("the snapshot thread panicked".into()))?,
            None => Ok(()),
        }
    }
}

impl Drop for Snapshotter {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

//! Journal configuration.

use std::path::PathBuf;
use std::time::Duration;

use crate::format::{ALIGN, HEADER_LEN};
use crate::JournalError;

/// How a [`crate::Journal`] is opened and how its writer batches.
#[derive(Debug, Clone)]
pub struct JournalConfig {
    /// Directory holding the segments (created if missing).
    pub dir: PathBuf,
    /// Size every new segment is preallocated to; a multiple of 8. Default 64 MiB.
    pub segment_bytes: u64,
    /// Most records covered by one write + fdatasync. Default 65 536.
    pub max_batch_records: usize,
    /// Most framed bytes covered by one write + fdatasync (a single larger record still goes
    /// alone). Default 4 MiB.
    pub max_batch_bytes: usize,
    /// If set, the writer waits up to this long for a batch to fill (to `max_batch_records` or
    /// `max_batch_bytes`) before writing it. Default `None`: write whatever is queued at once.
    pub batch_wait: Option<Duration>,
    /// Bound on framed bytes appended but not yet durable (queued plus being written).
    /// **Backpressure:** an `append` that would exceed it blocks the calling thread until the
    /// writer has made room (a record is always admitted when nothing is pending, so one
    /// record larger than the bound still goes through). Default 64 MiB.
    pub max_pending_bytes: usize,
    /// Term stamped on every record this writer appends (0 until replication exists).
    pub term: u64,
    /// Most retired segments kept in the recycle pool for reuse by later rolls (see
    /// [`crate::snapshot::retain`]); retired segments beyond it are deleted. 0 disables
    /// recycling. Default 4.
    pub max_recycled_segments: usize,
}

impl JournalConfig {
    /// Defaults for a journal in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        JournalConfig {
            dir: dir.into(),
            segment_bytes: 64 << 20,
            max_batch_records: 65_536,
            max_batch_bytes: 4 << 20,
            batch_wait: None,
            max_pending_bytes: 64 << 20,
            term: 0,
            max_recycled_segments: 4,
        }
    }

    /// Checks that the values are usable.
    pub fn validate(&self) -> Result<(), JournalError> {
        let bad = |m: &str| Err(JournalError::InvalidConfig(m.to_string()));
        if self.segment_bytes < 2 * HEADER_LEN as u64 || self.segment_bytes % ALIGN as u64 != 0 {
            return bad("segment_bytes must be a multiple of 8 and at least 64");
        }
        if self.max_batch_records == 0 || self.max_batch_bytes == 0 {
            return bad("max_batch_records and max_batch_bytes must be at least 1");
        }
        if self.max_pending_bytes == 0 {
            return bad("max_pending_bytes must be at least 1");
        }
        Ok(())
    }
}

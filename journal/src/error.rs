//! The crate's error type.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in the journal.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// An operating-system I/O call failed.
    #[error("I/O error during {op} on {}: {source}", path.display())]
    Io {
        /// What was being done (e.g. "open segment", "fdatasync").
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The log is damaged somewhere other than a repairable torn tail.
    #[error("journal corrupt in {} at byte offset {offset}: {reason}", segment.display())]
    Corrupt {
        /// The segment file holding the damage.
        segment: PathBuf,
        /// Byte offset of the damaged frame inside that segment.
        offset: u64,
        /// Human-readable explanation.
        reason: String,
    },
    /// A write or fdatasync failed earlier; the journal is poisoned and accepts nothing more.
    /// Retrying a failed fsync is unsafe on Linux (the dirty pages may have been dropped), so
    /// this state is permanent for the lifetime of the [`crate::Journal`].
    #[error("journal failed permanently after a fatal I/O error: {0}")]
    Failed(String),
    /// The journal was closed; no more appends or durability waits are possible.
    #[error("journal is closed")]
    Closed,
    /// A record's frame is larger than a whole segment (or than the 32-bit length field).
    #[error(
        "record of {frame_bytes} framed bytes does not fit in a segment of {segment_bytes} bytes"
    )]
    RecordTooLarge {
        /// Size of the record once framed (header + padded payload).
        frame_bytes: u64,
        /// The configured segment size.
        segment_bytes: u64,
    },
    /// A reader asked for an index older than the oldest retained record.
    #[error("index {requested} is no longer retained (oldest retained index is {first_retained})")]
    IndexNotRetained {
        /// The index that was asked for.
        requested: u64,
        /// The first index still on disk.
        first_retained: u64,
    },
    /// Another writer (in this or another process) has the journal directory open.
    #[error("journal directory {} is already open by another writer", dir.display())]
    AlreadyOpen {
        /// The journal directory.
        dir: PathBuf,
    },
    /// The configuration is unusable.
    #[error("invalid journal configuration: {0}")]
    InvalidConfig(String),
}

impl JournalError {
    /// Shorthand for building an [`JournalError::Io`].
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        JournalError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

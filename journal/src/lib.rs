//! The exchange's journal: an append-only, segmented, checksummed log of opaque records.
//!
//! * [`Journal`]: one writer thread with group commit (one write and one fdatasync per
//!   batch), gap-free indices returned at append time, durability notification (async and
//!   blocking), backpressure, fatal handling of write/sync errors.
//! * [`JournalReader`]: tails durable records in order, in process ([`Journal::reader`]) or
//!   from another process ([`JournalReader::open`]), following segment rolls.
//! * Recovery on open truncates a torn tail and refuses corruption in the middle; [`scan`]
//!   does the same checks read-only for operator tools.
//! * [`snapshot`]: checksummed, atomically written snapshots beside the log, and retention,
//!   which moves retired segments into a bounded recycle pool that later segment rolls reuse
//!   (so steady-state appends never wait for zero-filling).
//! * Power-loss safe: the first frame of every sync unit is flagged, so a torn last unit
//!   (pages persisted out of order) is told apart from damage in the middle exactly.
//!
//! Payloads are opaque bytes; this crate knows nothing about their schema. The bytes on disk
//! are specified in [`mod@format`].
//!
//! ```
//! use journal::{Journal, JournalConfig, JournalReader, RecordKind};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let journal = Journal::open(JournalConfig::new(dir.path()))?;
//! let index = journal.append(RecordKind::Command, b"opaque payload")?; // 1
//! journal.wait_durable_blocking(index)?; // durable before visible
//!
//! // Any process can follow the directory; only durable records are handed out.
//! let mut follower = JournalReader::open(dir.path(), 1)?;
//! let record = follower.try_next()?.expect("record 1 is durable");
//! assert_eq!((record.index, record.payload.as_slice()), (1, &b"opaque payload"[..]));
//! assert!(follower.try_next()?.is_none());
//! journal.close()?;
//! # Ok(())
//! # }
//! ```
//!
//! Threads: `Journal::open` starts one writer thread and, around segment rolls when the
//! recycle pool is empty, a short-lived preallocation thread. `append` never waits for I/O;
//! it blocks only for backpressure (see [`JournalConfig::max_pending_bytes`]), so calling it
//! from async code is fine as long as the bound is not hit routinely. Dropping the last `Journal` clone drains, syncs and joins the
//! writer (a blocking operation).

pub mod background;
mod config;
pub mod durable_file;
mod error;
pub mod format;
mod journal;
mod reader;
mod scan;
pub mod segment;
pub mod snapshot;
mod timing;

pub use config::JournalConfig;
pub use error::JournalError;
pub use format::{Record, RecordKind};
pub use journal::{Journal, JournalStats};
pub use reader::{JournalReader, FALLBACK_WAKE};
pub use scan::{scan, ScanReport, SegmentInfo, TornTail};
pub use timing::{Durations, BUCKETS as DURATION_BUCKETS};

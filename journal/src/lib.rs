//! The exchange's journal: an append-only, segmented, checksummed log of opaque records.
//!
//! * [`Journal`]: one writer thread with group commit (one write and one fdatasync per
//!   batch), gap-free indices returned at append time, durability notification (async and
//!   blocking), backpressure, fatal handling of write/sync errors.
//! * [`JournalReader`]: tails durable records in order, in process ([`Journal::reader`]) or
//!   from another process ([`JournalReader::open`]), following segment rolls.
//! * Recovery on open truncates a torn tail and refuses corruption in the middle; [`scan`]
//!   does the same checks read-only for operator tools.
//! * [`snapshot`]: checksummed, atomically written snapshots beside the log, and retention.
//!
//! Payloads are opaque bytes; this crate knows nothing about their schema. The bytes on disk
//! are specified in [`mod@format`].

mod config;
pub mod durable_file;
mod error;
pub mod format;
mod journal;
mod reader;
mod scan;
pub mod segment;
pub mod snapshot;

pub use config::JournalConfig;
pub use error::JournalError;
pub use format::{Record, RecordKind};
pub use journal::{Journal, JournalStats};
pub use reader::{JournalReader, FALLBACK_WAKE};
pub use scan::{scan, ScanReport, SegmentInfo, TornTail};

//! Reading every segment from disk: the read-only [`scan`] for operator tools and the
//! repairing scan run by recovery when a [`crate::Journal`] opens.
//!
//! The rules (what is a torn tail, what is corruption) are stated in [`crate::format`].

use std::fs;
use std::path::{Path, PathBuf};

use crate::format::{check_frame, unchecked_index, FrameCheck, ALIGN, HEADER_LEN, MAGIC};
use crate::segment::{fdatasync, list_segments, open_rw, segment_path, write_zeros};
use crate::JournalError;

/// A sparse-index entry is recorded at least every this many records.
pub(crate) const SPARSE_EVERY: u64 = 1024;

/// What [`scan`] found in one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    /// The segment file.
    pub path: PathBuf,
    /// The index its name says it starts at.
    pub first_index: u64,
    /// The index of its last valid record, `None` if it holds none.
    pub last_index: Option<u64>,
    /// Number of valid records.
    pub records: u64,
    /// Bytes occupied by valid records (framed), from offset 0.
    pub used_bytes: u64,
    /// The file's size on disk (preallocated).
    pub file_bytes: u64,
}

/// A torn (incomplete or garbled) tail after the last whole record of the last segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The segment holding it.
    pub segment: PathBuf,
    /// Byte offset where the last whole record ends and the damage starts.
    pub offset: u64,
    /// Why the bytes there are not a record.
    pub reason: String,
}

/// The result of a read-only [`scan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanReport {
    /// Every segment, oldest first.
    pub segments: Vec<SegmentInfo>,
    /// Index of the oldest retained record.
    pub first_index: Option<u64>,
    /// Index of the newest valid record.
    pub last_index: Option<u64>,
    /// Number of valid records.
    pub records: u64,
    /// Sum of payload sizes.
    pub payload_bytes: u64,
    /// Sum of framed sizes (headers, payloads, padding).
    pub framed_bytes: u64,
    /// A torn tail that recovery would truncate, if any.
    pub torn_tail: Option<TornTail>,
}

/// Reads and verifies every record in `dir` without changing anything.
///
/// Corruption in the middle of the log is returned as [`JournalError::Corrupt`]; a torn tail is
/// reported in [`ScanReport::torn_tail`].
pub fn scan(dir: &Path) -> Result<ScanReport, JournalError> {
    Ok(scan_dir(dir, false)?.report)
}

/// A scan's report plus what recovery and the writer need.
#[derive(Debug)]
pub(crate) struct Scanned {
    pub report: ScanReport,
    /// Index the next appended record gets.
    pub next_index: u64,
    /// Byte offset in the last segment where the next record goes.
    pub tail_offset: u64,
    /// Sparse index entries `(index, segment first index, byte offset)`, ascending.
    pub sparse: Vec<(u64, u64, u64)>,
}

/// Scans all segments; with `repair`, zero-fills a torn tail in the last segment (and
/// fdatasyncs it) instead of only reporting it.
pub(crate) fn scan_dir(dir: &Path, repair: bool) -> Result<Scanned, JournalError> {
    scan_segments(dir, &list_segments(dir)?, repair)
}

/// The index of the last record recovery would keep (0 if none), looking only at the last
/// segment: every earlier segment was fdatasync'd whole before the writer wrote into a later
/// one, so only the last can end in a torn tail. Damage that recovery would refuse is
/// reported as [`JournalError::Corrupt`].
pub(crate) fn last_kept_index(dir: &Path) -> Result<u64, JournalError> {
    let firsts = list_segments(dir)?;
    let last = firsts.len().saturating_sub(1);
    Ok(scan_segments(dir, &firsts[last..], false)?.next_index - 1)
}

/// Scans the segments starting at `firsts` (ascending, the last one being the log's last).
fn scan_segments(dir: &Path, firsts: &[u64], repair: bool) -> Result<Scanned, JournalError> {
    let mut report = ScanReport {
        segments: Vec::with_capacity(firsts.len()),
        first_index: None,
        last_index: None,
        records: 0,
        payload_bytes: 0,
        framed_bytes: 0,
        torn_tail: None,
    };
    let mut sparse = Vec::new();
    let mut expected: Option<u64> = None;
    let mut tail_offset = 0u64;
    let count = firsts.len();
    for (pos, &first) in firsts.iter().enumerate() {
        let path = segment_path(dir, first);
        let is_last = pos + 1 == count;
        if let Some(exp) = expected {
            if first != exp {
                return Err(JournalError::Corrupt {
                    segment: path,
                    offset: 0,
                    reason: format!(
                        "segment starts at index {first} but the previous segment ends before index {exp}"
                    ),
                });
            }
        }
        let data = fs::read(&path).map_err(|e| JournalError::io("read segment", &path, e))?;
        let mut info = SegmentInfo {
            path: path.clone(),
            first_index: first,
            last_index: None,
            records: 0,
            used_bytes: 0,
            file_bytes: data.len() as u64,
        };
        let mut next = first;
        let mut off = 0usize;
        let stop = loop {
            match check_frame(&data[off.min(data.len())..]) {
                FrameCheck::Valid(h) if h.index == next => {
                    if next == first || next % SPARSE_EVERY == 0 {
                        sparse.push((next, first, off as u64));
                    }
                    report.records += 1;
                    report.payload_bytes += u64::from(h.payload_len);
                    report.framed_bytes += h.frame_len() as u64;
                    info.records += 1;
                    info.last_index = Some(next);
                    next += 1;
                    off += h.frame_len();
                }
                // Stale data of a recycled segment: a clean end.
                FrameCheck::Valid(h) if h.index < first => break None,
                FrameCheck::Valid(h) => {
                    return Err(JournalError::Corrupt {
                        segment: path,
                        offset: off as u64,
                        reason: format!(
                            "index discontinuity: expected index {next}, found {}",
                            h.index
                        ),
                    });
                }
                FrameCheck::End => break None,
                FrameCheck::Damaged(why) => break Some(why),
            }
        };
        info.used_bytes = off as u64;
        let rest = &data[off.min(data.len())..];
        let after = look_after_end(rest, next);
        if let Some((found_off, found_index)) = after.unit_start {
            let what = stop.unwrap_or("end of log");
            return Err(JournalError::Corrupt {
                segment: path,
                offset: off as u64,
                reason: format!(
                    "{what} followed by a valid sync-unit start (index {found_index} at offset {})",
                    off + found_off
                ),
            });
        }
        let torn_reason = match (stop, after.remnants_end) {
            (Some(why), _) => Some(why),
            (None, Some(_)) => Some("end of log followed by records of a torn write"),
            (None, None) => None,
        };
        if let Some(reason) = torn_reason {
            if !is_last {
                return Err(JournalError::Corrupt {
                    segment: path,
                    offset: off as u64,
                    reason: format!("{reason} in a sealed (non-final) segment"),
                });
            }
            if repair {
                tracing::warn!(
                    segment = %path.display(),
                    offset = off,
                    reason,
                    "journal recovery: truncating torn tail to the last whole record"
                );
                // Through the last remnant, and at least an end marker at `off`.
                let marker = rest.len().min(HEADER_LEN);
                let zero_to = after.remnants_end.unwrap_or(0).max(marker);
                let file = open_rw(&path)?;
                write_zeros(&file, &path, off as u64, (off + zero_to) as u64)?;
                fdatasync(&file, &path)?;
            } else {
                report.torn_tail = Some(TornTail {
                    segment: path.clone(),
                    offset: off as u64,
                    reason: reason.to_string(),
                });
            }
        }
        if report.first_index.is_none() && info.records > 0 {
            report.first_index = Some(first);
        }
        if info.last_index.is_some() {
            report.last_index = info.last_index;
        }
        expected = Some(next);
        tail_offset = off as u64;
        report.segments.push(info);
    }
    Ok(Scanned {
        report,
        next_index: expected.unwrap_or_else(|| firsts.first().copied().unwrap_or(1)),
        tail_offset,
        sparse,
    })
}

/// What lies after the end of a segment's records.
#[derive(Debug, Default)]
struct AfterEnd {
    /// The first valid frame flagged as a sync-unit start with an index `>= next`: offset
    /// within `rest` and index.
    unit_start: Option<(usize, u64)>,
    /// End (within `rest`) of the last valid unflagged frame with an index `>= next`.
    remnants_end: Option<usize>,
}

/// Looks at every 8-byte-aligned offset after the first one in `rest` for valid frames whose
/// index is at least `next` (the index the log would continue with); lower indexes are stale
/// and skipped before their checksum is computed.
fn look_after_end(rest: &[u8], next: u64) -> AfterEnd {
    let magic = MAGIC.to_le_bytes();
    let mut found = AfterEnd::default();
    let mut at = ALIGN;
    while at + HEADER_LEN <= rest.len() {
        if rest[at + 8..at + 12] == magic && unchecked_index(&rest[at..]) >= next {
            if let FrameCheck::Valid(h) = check_frame(&rest[at..]) {
                if h.is_sync_unit_start() {
                    found.unit_start = Some((at, h.index));
                    return found;
                }
                found.remnants_end = Some(at + h.frame_len());
                // Frames of the torn unit are contiguous; never search inside a payload.
                at += h.frame_len();
                continue;
            }
        }
        at += ALIGN;
    }
    found
}

//! Snapshots beside the log: `snapshots/<index>.snap` in the journal directory.
//!
//! A snapshot is an opaque blob (the state after applying every record up to and including
//! `index`) framed as, little-endian: magic `0x504E534A` (`JSNP`, u32), CRC-32 (u32) of
//! `bytes[8..24] ++ blob`, index (u64), blob length (u64), blob. It is written atomically:
//! temporary file, fsync, rename, fsync of the directory.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::segment::{fsync_dir, list_segments, retire_segment, segment_path, Retired};
use crate::JournalError;

/// Sub-directory of the journal directory that holds snapshots.
pub const SNAPSHOT_DIR: &str = "snapshots";
const MAGIC: u32 = 0x504E_534A;
const HEADER: usize = 24;

fn snapshot_dir(dir: &Path) -> PathBuf {
    dir.join(SNAPSHOT_DIR)
}

fn snapshot_path(dir: &Path, index: u64) -> PathBuf {
    snapshot_dir(dir).join(format!("{index:020}.snap"))
}

fn parse_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".snap")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The header of a snapshot whose blob is `parts` one after another (see the module docs).
fn header(index: u64, parts: &[&[u8]]) -> [u8; HEADER] {
    let blob_len: usize = parts.iter().map(|p| p.len()).sum();
    let mut head = [0u8; HEADER];
    head[0..4].copy_from_slice(&MAGIC.to_le_bytes());
    head[8..16].copy_from_slice(&index.to_le_bytes());
    head[16..24].copy_from_slice(&(blob_len as u64).to_le_bytes());
    let mut h = crc32fast::Hasher::new();
    h.update(&head[8..]);
    for part in parts {
        h.update(part);
    }
    head[4..8].copy_from_slice(&h.finalize().to_le_bytes());
    head
}

/// Checks a snapshot's header against the index its name gives and the length of the blob
/// that follows it; returns the CRC the header records, or why it is invalid.
fn check_header(
    expected_index: u64,
    head: &[u8; HEADER],
    blob_len: u64,
) -> Result<u32, &'static str> {
    let word = |at: usize| [head[at], head[at + 1], head[at + 2], head[at + 3]];
    let dword = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&head[at..at + 8]);
        u64::from_le_bytes(b)
    };
    if u32::from_le_bytes(word(0)) != MAGIC {
        return Err("bad magic");
    }
    if dword(8) != expected_index {
        return Err("index in the header differs from the file name");
    }
    if dword(16) != blob_len {
        return Err("length in the header differs from the file size");
    }
    Ok(u32::from_le_bytes(word(4)))
}

/// Checks a snapshot file's bytes; returns the blob or why it is invalid.
fn decode(expected_index: u64, data: &[u8]) -> Result<&[u8], &'static str> {
    let Some((head, blob)) = data.split_first_chunk::<HEADER>() else {
        return Err("shorter than the snapshot header");
    };
    let crc = check_header(expected_index, head, blob.len() as u64)?;
    if crc32fast::hash(&data[8..]) != crc {
        return Err("checksum mismatch");
    }
    Ok(blob)
}

/// What [`decode`] checks, read through a small buffer instead of into memory: retention
/// checks the newest snapshots on every round, and each is tens of MB.
fn check_file(expected_index: u64, file: &mut File) -> std::io::Result<Result<(), &'static str>> {
    use std::io::Read;
    let size = file.metadata()?.len();
    let mut head = [0u8; HEADER];
    if size < HEADER as u64 {
        return Ok(Err("shorter than the snapshot header"));
    }
    file.read_exact(&mut head)?;
    let crc = match check_header(expected_index, &head, size - HEADER as u64) {
        Ok(crc) => crc,
        Err(reason) => return Ok(Err(reason)),
    };
    let mut h = crc32fast::Hasher::new();
    h.update(&head[8..]);
    let mut buf = vec![0u8; 256 << 10];
    let mut read = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        read += n as u64;
    }
    if read != size - HEADER as u64 {
        return Ok(Err("length in the header differs from the file size"));
    }
    Ok(if h.finalize() == crc {
        Ok(())
    } else {
        Err("checksum mismatch")
    })
}

/// Bytes of a snapshot written back to the disk at a time.
const WRITE_BACK_PIECE: usize = 1 << 20;

/// Atomically writes a snapshot of the state after record `index`.
pub fn write_snapshot(dir: &Path, index: u64, bytes: &[u8]) -> Result<PathBuf, JournalError> {
    write_snapshot_parts(dir, index, &[bytes])
}

/// [`write_snapshot`] of the blob that `parts` make one after another, written from the parts
/// themselves: a caller holding a blob in pieces (tens of MB each) does not copy them into one
/// buffer first, and neither does the framing.
pub fn write_snapshot_parts(
    dir: &Path,
    index: u64,
    parts: &[&[u8]],
) -> Result<PathBuf, JournalError> {
    let sdir = snapshot_dir(dir);
    if !sdir.is_dir() {
        fs::create_dir_all(&sdir).map_err(|e| JournalError::io("create snapshot dir", &sdir, e))?;
        fsync_dir(dir)?;
    }
    let path = snapshot_path(dir, index);
    let tmp = path.with_extension("snap.tmp");
    let mut file = File::create(&tmp).map_err(|e| JournalError::io("create snapshot", &tmp, e))?;
    // Written back a piece at a time: tens of MB left dirty for one final fsync would go
    // to the disk in one burst, and the commands journal's fdatasyncs (every acknowledged
    // order waits on one) would queue behind it.
    let head = header(index, parts);
    let mut offset = 0u64;
    let pieces = std::iter::once(&head[..])
        .chain(parts.iter().copied())
        .flat_map(|part| part.chunks(WRITE_BACK_PIECE));
    for piece in pieces {
        file.write_all(piece)
            .map_err(|e| JournalError::io("write snapshot", &tmp, e))?;
        crate::segment::write_back(&file, &tmp, offset, piece.len() as u64)?;
        offset += piece.len() as u64;
    }
    file.sync_all()
        .map_err(|e| JournalError::io("fsync snapshot", &tmp, e))?;
    fs::rename(&tmp, &path).map_err(|e| JournalError::io("rename snapshot", &path, e))?;
    fsync_dir(&sdir)?;
    Ok(path)
}

/// Indexes of all snapshot files (valid or not), ascending.
pub fn list_snapshots(dir: &Path) -> Result<Vec<u64>, JournalError> {
    let sdir = snapshot_dir(dir);
    let entries = match fs::read_dir(&sdir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(JournalError::io("list snapshots", &sdir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| JournalError::io("list snapshots", &sdir, e))?;
        if let Some(i) = entry.file_name().to_str().and_then(parse_name) {
            out.push(i);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Reads and verifies one snapshot; `Ok(None)` (with a warning logged) if it is invalid.
pub fn read_snapshot(dir: &Path, index: u64) -> Result<Option<Vec<u8>>, JournalError> {
    let path = snapshot_path(dir, index);
    let mut data = fs::read(&path).map_err(|e| JournalError::io("read snapshot", &path, e))?;
    match decode(index, &data) {
        Ok(_) => {
            // The blob moves to the front of the same buffer (no second copy of it).
            data.drain(..HEADER);
            Ok(Some(data))
        }
        Err(reason) => {
            tracing::warn!(snapshot = %path.display(), reason, "skipping invalid snapshot");
            Ok(None)
        }
    }
}

/// Whether a snapshot is valid (what [`read_snapshot`] checks, without keeping its bytes);
/// an invalid one is logged as [`read_snapshot`] logs it.
fn snapshot_is_valid(dir: &Path, index: u64) -> Result<bool, JournalError> {
    let path = snapshot_path(dir, index);
    let checked = File::open(&path).and_then(|mut f| check_file(index, &mut f));
    match checked.map_err(|e| JournalError::io("read snapshot", &path, e))? {
        Ok(()) => Ok(true),
        Err(reason) => {
            tracing::warn!(snapshot = %path.display(), reason, "skipping invalid snapshot");
            Ok(false)
        }
    }
}

/// The newest valid snapshot as `(index, blob)`; invalid ones are logged and skipped.
pub fn latest_snapshot(dir: &Path) -> Result<Option<(u64, Vec<u8>)>, JournalError> {
    for index in list_snapshots(dir)?.into_iter().rev() {
        if let Some(blob) = read_snapshot(dir, index)? {
            return Ok(Some((index, blob)));
        }
    }
    Ok(None)
}

/// What [`retain`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetainReport {
    /// Indexes of the snapshots deleted.
    pub removed_snapshots: Vec<u64>,
    /// Segment files retired (their old paths), oldest first.
    pub removed_segments: Vec<PathBuf>,
    /// How many of them went into the recycle pool (the rest were deleted).
    pub recycled_segments: usize,
}

/// Keeps the newest `keep` valid snapshots and deletes older snapshot files (valid or not),
/// leaving every segment in place (for a deployment that keeps the whole log). Returns the
/// indexes removed, ascending. With `keep == 0` or no valid snapshot, nothing is removed.
pub fn retain_snapshots(dir: &Path, keep: usize) -> Result<Vec<u64>, JournalError> {
    let mut removed = Vec::new();
    if retain_snapshots_only(dir, keep, &mut removed)?.is_some() && !removed.is_empty() {
        fsync_dir(&snapshot_dir(dir))?;
    }
    Ok(removed)
}

/// Deletes snapshot files older than the newest `keep` valid ones; returns the oldest kept
/// index (None: nothing kept, nothing removed).
fn retain_snapshots_only(
    dir: &Path,
    keep: usize,
    removed: &mut Vec<u64>,
) -> Result<Option<u64>, JournalError> {
    if keep == 0 {
        return Ok(None);
    }
    let all = list_snapshots(dir)?;
    let mut kept = Vec::new();
    for &index in all.iter().rev() {
        if kept.len() == keep {
            break;
        }
        if snapshot_is_valid(dir, index)? {
            kept.push(index);
        }
    }
    let Some(&oldest_kept) = kept.last() else {
        return Ok(None);
    };
    for &index in all.iter().filter(|&&i| i < oldest_kept) {
        let path = snapshot_path(dir, index);
        fs::remove_file(&path).map_err(|e| JournalError::io("remove snapshot", &path, e))?;
        removed.push(index);
    }
    Ok(Some(oldest_kept))
}

/// Keeps the newest `keep` valid snapshots and deletes older snapshot files (valid or not),
/// then retires every segment whose records all have indexes at or below the oldest kept
/// snapshot's index: it goes into the recycle pool (for the writer's next roll, so steady
/// state never pays for zero-filling) while the pool holds fewer than
/// `max_recycled_segments`, and is deleted otherwise. The last (active) segment is never
/// retired, nor any segment holding a record after that index. With `keep == 0` or no valid
/// snapshot, nothing is removed. Safe to run while a writer appends (see also
/// [`crate::Journal::retain`], which takes the pool bound from the journal's configuration).
pub fn retain(
    dir: &Path,
    keep: usize,
    max_recycled_segments: usize,
) -> Result<RetainReport, JournalError> {
    let mut report = RetainReport::default();
    let Some(oldest_kept) = retain_snapshots_only(dir, keep, &mut report.removed_snapshots)? else {
        return Ok(report);
    };
    if !report.removed_snapshots.is_empty() {
        fsync_dir(&snapshot_dir(dir))?;
    }
    let firsts = list_segments(dir)?;
    for pair in firsts.windows(2) {
        let (first, next_first) = (pair[0], pair[1]);
        // The segment holds records first..next_first-1.
        if next_first - 1 > oldest_kept {
            break;
        }
        let path = segment_path(dir, first);
        match retire_segment(dir, first, max_recycled_segments)? {
            Retired::Recycled => report.recycled_segments += 1,
            Retired::Deleted => {}
            Retired::Gone => continue,
        }
        report.removed_segments.push(path);
    }
    if !report.removed_segments.is_empty() {
        fsync_dir(dir)?;
    }
    Ok(report)
}

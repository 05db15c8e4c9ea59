//! Segment files: naming, listing, preallocation and directory fsync.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::JournalError;

/// Suffix of segment files.
pub const SEGMENT_SUFFIX: &str = ".seg";
/// Name of the segment being preallocated ahead of a roll.
pub const PREALLOC_NAME: &str = "next.seg.tmp";

/// The file name of the segment whose first record has index `first_index`.
pub fn segment_file_name(first_index: u64) -> String {
    format!("{first_index:020}{SEGMENT_SUFFIX}")
}

/// The path of the segment whose first record has index `first_index`.
pub fn segment_path(dir: &Path, first_index: u64) -> PathBuf {
    dir.join(segment_file_name(first_index))
}

/// Parses a segment file name back into its first index.
pub fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The first indexes of all segments in `dir`, ascending.
pub fn list_segments(dir: &Path) -> Result<Vec<u64>, JournalError> {
    let mut firsts = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| JournalError::io("list directory", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| JournalError::io("list directory", dir, e))?;
        if let Some(first) = entry.file_name().to_str().and_then(parse_segment_name) {
            firsts.push(first);
        }
    }
    firsts.sort_unstable();
    Ok(firsts)
}

/// fsyncs a directory so that creations, renames and removals in it are durable.
pub fn fsync_dir(dir: &Path) -> Result<(), JournalError> {
    let d = File::open(dir).map_err(|e| JournalError::io("open directory", dir, e))?;
    d.sync_all().map_err(|e| JournalError::io("fsync directory", dir, e))
}

/// Writes zeros over `[from, to)` of `file` with real writes (not holes or unwritten extents,
/// whose later overwrite would need a metadata commit on every fdatasync).
pub fn write_zeros(file: &File, path: &Path, from: u64, to: u64) -> Result<(), JournalError> {
    const CHUNK: usize = 1 << 20;
    let zeros = vec![0u8; CHUNK.min(usize::try_from(to.saturating_sub(from)).unwrap_or(CHUNK))];
    let mut at = from;
    while at < to {
        let n = zeros.len().min(usize::try_from(to - at).unwrap_or(zeros.len()));
        file.write_all_at(&zeros[..n], at)
            .map_err(|e| JournalError::io("zero-fill segment", path, e))?;
        at += n as u64;
    }
    Ok(())
}

/// Creates a zero-filled, fdatasync'd file of `bytes` bytes at `path` (replacing any old one).
pub fn preallocate(path: &Path, bytes: u64) -> Result<File, JournalError> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|e| JournalError::io("create segment", path, e))?;
    write_zeros(&file, path, 0, bytes)?;
    file.flush()
        .map_err(|e| JournalError::io("flush segment", path, e))?;
    file.sync_all()
        .map_err(|e| JournalError::io("fsync new segment", path, e))?;
    Ok(file)
}

/// Opens an existing segment for reading and writing.
pub fn open_rw(path: &Path) -> Result<File, JournalError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| JournalError::io("open segment", path, e))
}

/// `fdatasync(2)` on a file.
pub fn fdatasync(file: &File, path: &Path) -> Result<(), JournalError> {
    file.sync_data()
        .map_err(|e| JournalError::io("fdatasync", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sort() {
        assert_eq!(segment_file_name(1), "00000000000000000001.seg");
        for i in [1u64, 9, 10, 12345, u64::MAX] {
            assert_eq!(parse_segment_name(&segment_file_name(i)), Some(i));
        }
        for bad in ["1.seg", "0000000000000000000x.seg", "00000000000000000001.snap", "next.seg.tmp"] {
            assert_eq!(parse_segment_name(bad), None, "{bad}");
        }
    }
}

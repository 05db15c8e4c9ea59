//! Segment files: naming, listing, preallocation and directory fsync.

use std::fs::{self, File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::JournalError;

/// Suffix of segment files.
pub const SEGMENT_SUFFIX: &str = ".seg";
/// Name of the segment being preallocated ahead of a roll.
pub const PREALLOC_NAME: &str = "next.seg.tmp";
/// Prefix of retired segments waiting in the recycle pool: `recycle-<old first index>.seg`.
pub const RECYCLE_PREFIX: &str = "recycle-";

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

/// The pool name of a retired segment that started at `old_first_index` (unique: no two
/// segments of one journal ever start at the same index).
pub fn recycle_file_name(old_first_index: u64) -> String {
    format!("{RECYCLE_PREFIX}{old_first_index}{SEGMENT_SUFFIX}")
}

fn is_recycle_name(name: &str) -> bool {
    name.strip_prefix(RECYCLE_PREFIX)
        .and_then(|rest| rest.strip_suffix(SEGMENT_SUFFIX))
        .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
}

/// The segments waiting in the recycle pool of `dir`, in name order.
pub fn list_recycled(dir: &Path) -> Result<Vec<PathBuf>, JournalError> {
    let mut pool = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| JournalError::io("list directory", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| JournalError::io("list directory", dir, e))?;
        if entry.file_name().to_str().is_some_and(is_recycle_name) {
            pool.push(entry.path());
        }
    }
    pool.sort_unstable();
    Ok(pool)
}

/// What happened to a retired segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retired {
    /// Moved into the recycle pool.
    Recycled,
    /// Deleted (the pool was full).
    Deleted,
    /// Already gone (someone else retired it).
    Gone,
}

/// Retires the segment that starts at `first_index`: moves it into the recycle pool while the
/// pool holds fewer than `max_recycled` segments, deletes it otherwise. The caller fsyncs the
/// directory afterwards.
pub fn retire_segment(
    dir: &Path,
    first_index: u64,
    max_recycled: usize,
) -> Result<Retired, JournalError> {
    let path = segment_path(dir, first_index);
    let outcome = if list_recycled(dir)?.len() < max_recycled {
        let pooled = dir.join(recycle_file_name(first_index));
        fs::rename(&path, &pooled).map(|()| Retired::Recycled)
    } else {
        fs::remove_file(&path).map(|()| Retired::Deleted)
    };
    match outcome {
        Ok(r) => Ok(r),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Retired::Gone),
        Err(e) => Err(JournalError::io("retire segment", &path, e)),
    }
}

/// Takes a segment of exactly `bytes` bytes from the recycle pool and renames it to the
/// segment name for `first_index` (pooled files of another size are deleted). Returns the
/// open file, or `None` if the pool has none. The caller fsyncs the directory before writing.
pub fn take_recycled(
    dir: &Path,
    first_index: u64,
    bytes: u64,
) -> Result<Option<File>, JournalError> {
    for pooled in list_recycled(dir)? {
        let file = match open_rw(&pooled) {
            Ok(f) => f,
            // Deleted meanwhile by a concurrent retention: try the next one.
            Err(JournalError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                continue
            }
            Err(e) => return Err(e),
        };
        let len = file
            .metadata()
            .map_err(|e| JournalError::io("stat recycled segment", &pooled, e))?
            .len();
        if len != bytes {
            tracing::debug!(
                segment = %pooled.display(),
                len,
                want = bytes,
                "deleting a recycled segment of another size"
            );
            match fs::remove_file(&pooled) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(JournalError::io("remove recycled segment", &pooled, e)),
            }
            continue;
        }
        let path = segment_path(dir, first_index);
        match fs::rename(&pooled, &path) {
            Ok(()) => return Ok(Some(file)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(JournalError::io("rename recycled segment", &path, e)),
        }
    }
    Ok(None)
}

/// fsyncs a directory so that creations, renames and removals in it are durable.
pub fn fsync_dir(dir: &Path) -> Result<(), JournalError> {
    let d = File::open(dir).map_err(|e| JournalError::io("open directory", dir, e))?;
    d.sync_all()
        .map_err(|e| JournalError::io("fsync directory", dir, e))
}

/// Writes zeros over `[from, to)` of `file` with real writes (not holes or unwritten extents,
/// whose later overwrite would need a metadata commit on every fdatasync).
pub fn write_zeros(file: &File, path: &Path, from: u64, to: u64) -> Result<(), JournalError> {
    const CHUNK: usize = 1 << 20;
    let zeros = vec![0u8; CHUNK.min(usize::try_from(to.saturating_sub(from)).unwrap_or(CHUNK))];
    let mut at = from;
    while at < to {
        let n = zeros
            .len()
            .min(usize::try_from(to - at).unwrap_or(zeros.len()));
        file.write_all_at(&zeros[..n], at)
            .map_err(|e| JournalError::io("zero-fill segment", path, e))?;
        at += n as u64;
    }
    Ok(())
}

/// Zero-fill granularity of [`preallocate`] while it is ahead of the writer: each chunk is
/// written back before the next, so at most this much preallocation I/O sits in the device
/// queue ahead of an fdatasync.
const PREALLOC_CHUNK: usize = 64 << 10;
/// Zero-fill granularity while the writer is close behind (or waiting): throughput first.
const PREALLOC_CHUNK_BEHIND: usize = 1 << 20;
/// Pause between chunks while a background preallocation is comfortably ahead of the writer.
const PREALLOC_PACE: Duration = Duration::from_millis(2);
/// "Comfortably ahead": the preallocation's progress exceeds the writer's progress through
/// its current segment by this many per mille.
const PREALLOC_LEAD_PERMILLE: u64 = 250;

/// Coordinates a background preallocation with the writer that will need its segment.
#[derive(Debug, Default)]
pub struct PreallocPace {
    /// The writer is waiting for the segment: go at full speed.
    urgent: AtomicBool,
    /// How full the writer's current segment is, in per mille.
    writer_permille: AtomicU64,
}

impl PreallocPace {
    /// A pace for a preallocation someone is already waiting for.
    pub fn urgent() -> Self {
        let p = PreallocPace::default();
        p.set_urgent();
        p
    }

    /// The writer now waits for the segment.
    pub fn set_urgent(&self) {
        self.urgent.store(true, Ordering::Relaxed);
    }

    /// The writer has used `used` of `capacity` bytes of its current segment.
    pub fn set_writer_progress(&self, used: u64, capacity: u64) {
        let permille = used.saturating_mul(1000) / capacity.max(1);
        self.writer_permille.store(permille, Ordering::Relaxed);
    }

    fn should_pause(&self, done: u64, total: u64) -> bool {
        if self.urgent.load(Ordering::Relaxed) {
            return false;
        }
        let mine = done.saturating_mul(1000) / total.max(1);
        mine > self.writer_permille.load(Ordering::Relaxed) + PREALLOC_LEAD_PERMILLE
    }
}

/// Creates a zero-filled, fsynced file of `bytes` bytes at `path` (replacing any old one).
///
/// The zeros are real writes (not holes or unwritten extents: overwriting those later makes
/// every fdatasync commit extent metadata, which costs about half the throughput here), and
/// they go out in small chunks, each written back (`sync_file_range`) before the next, so a
/// background preallocation never floods the device queue in front of the writer's
/// fdatasyncs. While it is comfortably ahead of the writer (see [`PreallocPace`]) it uses
/// small chunks and pauses between them; when the writer is close behind it uses 1 MiB
/// chunks without pauses. The pages stay in the page cache, so appends into them later need
/// no read-modify-write.
pub fn preallocate(path: &Path, bytes: u64, pace: &PreallocPace) -> Result<File, JournalError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|e| JournalError::io("create segment", path, e))?;
    let zeros = vec![0u8; PREALLOC_CHUNK_BEHIND];
    let mut at = 0u64;
    while at < bytes {
        let ahead = pace.should_pause(at, bytes);
        if ahead && at > 0 {
            std::thread::sleep(PREALLOC_PACE);
        }
        let chunk = if ahead {
            PREALLOC_CHUNK
        } else {
            PREALLOC_CHUNK_BEHIND
        };
        let n = chunk.min(usize::try_from(bytes - at).unwrap_or(chunk));
        file.write_all_at(&zeros[..n], at)
            .map_err(|e| JournalError::io("zero-fill segment", path, e))?;
        write_back(&file, path, at, n as u64)?;
        at += n as u64;
    }
    file.sync_all()
        .map_err(|e| JournalError::io("fsync new segment", path, e))?;
    Ok(file)
}

/// Starts writeback of `[offset, offset + len)` and waits for it (no metadata commit).
pub(crate) fn write_back(
    file: &File,
    path: &Path,
    offset: u64,
    len: u64,
) -> Result<(), JournalError> {
    let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE
        | libc::SYNC_FILE_RANGE_WRITE
        | libc::SYNC_FILE_RANGE_WAIT_AFTER;
    let (Ok(off), Ok(n)) = (
        libc::off64_t::try_from(offset),
        libc::off64_t::try_from(len),
    ) else {
        return fdatasync(file, path);
    };
    // SAFETY: plain syscall on a file descriptor we own; no memory is passed.
    let rc = unsafe { libc::sync_file_range(file.as_raw_fd(), off, n, flags) };
    if rc == 0 {
        Ok(())
    } else {
        // Not supported here (or failed): fall back to a full fdatasync of the file.
        fdatasync(file, path)
    }
}

/// Name of the lock file that keeps a second writer out of a journal directory.
pub const LOCK_NAME: &str = "LOCK";

/// Takes the exclusive writer lock on `dir` (an `flock` on `dir/LOCK`, released when the
/// returned file is closed, including when the process dies).
pub fn lock_dir(dir: &Path) -> Result<File, JournalError> {
    let path = dir.join(LOCK_NAME);
    let file = open_or_create_rw(&path, "open lock file")?;
    // A reader's probe (see [`writer_alive`]) holds a shared lock for a moment: retry a few
    // times before concluding that another writer has the directory.
    for attempt in 0..LOCK_ATTEMPTS {
        // SAFETY: plain syscall on a file descriptor we own; no memory is passed.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(file);
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::WouldBlock {
            return Err(JournalError::io("lock journal directory", &path, err));
        }
        if attempt + 1 < LOCK_ATTEMPTS {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    Err(JournalError::AlreadyOpen {
        dir: dir.to_path_buf(),
    })
}

const LOCK_ATTEMPTS: u32 = 4;

/// Whether a live writer holds the directory's `LOCK` (probed with a non-blocking shared
/// `flock`, released at once). `false` if there is no lock file at all.
pub fn writer_alive(dir: &Path) -> Result<bool, JournalError> {
    let path = dir.join(LOCK_NAME);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(JournalError::io("open lock file", &path, e)),
    };
    // SAFETY: plain syscall on a file descriptor we own; no memory is passed.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) };
    if rc == 0 {
        // Closing `file` releases the shared lock.
        return Ok(false);
    }
    let err = std::io::Error::last_os_error();
    if err.kind() == std::io::ErrorKind::WouldBlock {
        Ok(true)
    } else {
        Err(JournalError::io("probe journal lock", &path, err))
    }
}

/// Opens an existing segment for reading and writing.
pub fn open_rw(path: &Path) -> Result<File, JournalError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| JournalError::io("open segment", path, e))
}

/// Opens `path` read-write, creating it empty if missing and never truncating it (small
/// bookkeeping files: the writer lock, the durable-index file). `what` names the step in errors.
pub fn open_or_create_rw(path: &Path, what: &'static str) -> Result<File, JournalError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| JournalError::io(what, path, e))
}

/// `fdatasync(2)` on a file.
pub fn fdatasync(file: &File, path: &Path) -> Result<(), JournalError> {
    file.sync_data()
        .map_err(|e| JournalError::io("fdatasync", path, e))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sort() {
        assert_eq!(segment_file_name(1), "00000000000000000001.seg");
        for i in [1u64, 9, 10, 12345, u64::MAX] {
            assert_eq!(parse_segment_name(&segment_file_name(i)), Some(i));
        }
        for bad in [
            "1.seg",
            "0000000000000000000x.seg",
            "00000000000000000001.snap",
            "next.seg.tmp",
            "recycle-7.seg",
        ] {
            assert_eq!(parse_segment_name(bad), None, "{bad}");
        }
        assert!(is_recycle_name(&recycle_file_name(7)));
        for bad in [
            "recycle-.seg",
            "recycle-7.seg.tmp",
            "recycle-x.seg",
            "00000000000000000001.seg",
        ] {
            assert!(!is_recycle_name(bad), "{bad}");
        }
    }

    #[test]
    fn pool_is_bounded_and_takes_only_matching_sizes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        for (first, len) in [(1u64, 64usize), (5, 64), (9, 32), (13, 64)] {
            fs::write(segment_path(dir, first), vec![7u8; len]).unwrap();
        }
        assert_eq!(retire_segment(dir, 1, 2).unwrap(), Retired::Recycled);
        assert_eq!(retire_segment(dir, 9, 2).unwrap(), Retired::Recycled);
        assert_eq!(retire_segment(dir, 5, 2).unwrap(), Retired::Deleted);
        assert_eq!(retire_segment(dir, 5, 2).unwrap(), Retired::Gone);
        assert_eq!(list_recycled(dir).unwrap().len(), 2);
        assert_eq!(list_segments(dir).unwrap(), vec![13]);
        assert!(take_recycled(dir, 20, 64).unwrap().is_some());
        assert_eq!(list_segments(dir).unwrap(), vec![13, 20]);
        assert_eq!(fs::read(segment_path(dir, 20)).unwrap(), vec![7u8; 64]);
        // The 32-byte one is the wrong size for 64-byte segments: deleted, not taken.
        assert!(take_recycled(dir, 30, 64).unwrap().is_none());
        assert!(list_recycled(dir).unwrap().is_empty());
        assert_eq!(list_segments(dir).unwrap(), vec![13, 20]);
    }
}

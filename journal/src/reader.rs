//! Tailing readers: in-process ([`crate::Journal::reader`]) and cross-process
//! ([`JournalReader::open`]).
//!
//! A reader only hands out records that are durable. In process it learns the durable index
//! from the writer (an atomic, plus a `tokio::sync::watch` channel to sleep on); from another
//! process it reads the `durable` file (see [`crate::durable_file`]) and sleeps on inotify
//! events for the journal directory, with a slow timer ([`FALLBACK_WAKE`]) only as a safety net.
//! Segment data is read in large chunks into a private buffer; a chunk read after observing
//! durable index `D` is trusted only for records up to `D`, so bytes that were not yet written
//! when the chunk was read are never mistaken for the end of the log.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use inotify::{Inotify, WatchMask};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::watch;

use crate::format::{check_frame, unchecked_frame_len, FrameCheck, Record, HEADER_LEN};
use crate::journal::{Published, Shared};
use crate::scan::last_kept_index;
use crate::segment::{self, list_segments, segment_path};
use crate::{durable_file, JournalError};

/// How long a cross-process reader sleeps without an inotify event before re-checking anyway.
pub const FALLBACK_WAKE: Duration = Duration::from_secs(1);
const READ_CHUNK: usize = 256 << 10;

/// How a reader learns about new durable records.
enum Follow {
    Local {
        shared: Arc<Shared>,
        rx: watch::Receiver<Published>,
    },
    Remote {
        durable: Option<File>,
        /// With no live writer: (the durable file's value, the last index recovery would
        /// keep) from the last look at the disk; redone when the durable file moves.
        dead_end: Option<(u64, u64)>,
        /// Created on the first `next().await` (needs a tokio runtime with IO and time).
        inotify: Option<AsyncFd<Inotify>>,
    },
}

impl std::fmt::Debug for Follow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Follow::Local { .. } => f.write_str("Local"),
            Follow::Remote { inotify, .. } => f
                .debug_struct("Remote")
                .field("watching", &inotify.is_some())
                .finish(),
        }
    }
}

/// The segment a reader is positioned in.
#[derive(Debug)]
struct Position {
    file: File,
    path: PathBuf,
    /// The first index the segment's name says it holds (stale frames of a recycled segment
    /// have lower indexes).
    seg_first: u64,
    /// Device and inode of `file`, to notice the segment being retired under the reader.
    identity: (u64, u64),
    file_len: u64,
    /// File offset of the next frame.
    offset: u64,
    /// Buffered bytes of the file starting at `buf_start`.
    buf: Vec<u8>,
    buf_start: u64,
    /// Durable index observed before `buf` was filled: records up to it are in `buf` intact.
    buf_durable: u64,
}

/// A reader of durable records, in order, starting at a chosen index.
#[derive(Debug)]
pub struct JournalReader {
    dir: PathBuf,
    follow: Follow,
    next_index: u64,
    durable: u64,
    pos: Option<Position>,
}

enum Step {
    Record(Record),
    Skipped,
}

impl JournalReader {
    pub(crate) fn in_process(shared: Arc<Shared>, from: u64) -> Result<Self, JournalError> {
        let rx = shared.published.subscribe();
        let dir = shared.config.dir.clone();
        Ok(JournalReader {
            dir,
            follow: Follow::Local { shared, rx },
            next_index: from.max(1),
            durable: 0,
            pos: None,
        })
    }

    /// A reader for a journal directory written by another process, or by none. It shares
    /// nothing with any in-process writer. `from` 0 is treated as 1.
    ///
    /// While a writer holds the directory's `LOCK`, the reader hands out records up to the
    /// durable index the writer publishes in the `durable` file. When no live writer holds it
    /// (a non-blocking shared `flock` probe succeeds), the durable file may lag the log by up
    /// to one batch (the writer died between its fdatasync and its publication), yet every
    /// valid record on disk is what the next [`crate::Journal::open`] will keep: the reader
    /// then reads up to the last record recovery would keep (a torn tail is not read). If the
    /// log is damaged in a way recovery would refuse, it falls back to the durable file.
    pub fn open(dir: impl AsRef<Path>, from: u64) -> Result<Self, JournalError> {
        let dir = dir.as_ref().to_path_buf();
        if !dir.is_dir() {
            return Err(JournalError::io(
                "open journal directory",
                &dir,
                std::io::Error::from(std::io::ErrorKind::NotFound),
            ));
        }
        Ok(JournalReader {
            dir,
            follow: Follow::Remote {
                durable: None,
                dead_end: None,
                inotify: None,
            },
            next_index: from.max(1),
            durable: 0,
            pos: None,
        })
    }

    /// The index the next returned record will have.
    pub fn next_index(&self) -> u64 {
        self.next_index
    }

    /// The next durable record, or `None` if the reader is at the current durable end.
    pub fn try_next(&mut self) -> Result<Option<Record>, JournalError> {
        if self.next_index > self.durable {
            self.refresh_durable()?;
            if self.next_index > self.durable {
                return Ok(None);
            }
        }
        if self.pos.is_none() {
            self.locate()?;
        }
        loop {
            match self.step(true)? {
                Step::Record(r) => return Ok(Some(r)),
                Step::Skipped => continue,
            }
        }
    }

    /// Waits for and returns the next durable record.
    ///
    /// In-process readers fail with [`JournalError::Closed`] once the journal is closed and
    /// everything durable was read, and with [`JournalError::Failed`] if it failed. Readers
    /// from [`JournalReader::open`] need a tokio runtime with IO and time drivers enabled.
    pub async fn next(&mut self) -> Result<Record, JournalError> {
        loop {
            if let Follow::Local { rx, .. } = &mut self.follow {
                // Mark the current publication seen before looking, so that any later one
                // wakes the `changed()` below.
                let _ = rx.borrow_and_update();
            }
            if let Some(r) = self.try_next()? {
                return Ok(r);
            }
            match &mut self.follow {
                Follow::Local { rx, .. } => {
                    {
                        let p = rx.borrow();
                        if let Some(msg) = &p.failed {
                            return Err(JournalError::Failed(msg.clone()));
                        }
                        if p.closed && p.durable < self.next_index {
                            return Err(JournalError::Closed);
                        }
                    }
                    if rx.changed().await.is_err() {
                        return Err(JournalError::Closed);
                    }
                }
                Follow::Remote { inotify, .. } => match inotify {
                    None => {
                        // Watch first, then look again: no publication can slip in between.
                        *inotify = Some(watch_dir(&self.dir)?);
                    }
                    Some(fd) => {
                        tokio::time::timeout(FALLBACK_WAKE, drain_events(fd, &self.dir))
                            .await
                            .unwrap_or(Ok(()))?;
                    }
                },
            }
        }
    }

    fn refresh_durable(&mut self) -> Result<(), JournalError> {
        match &mut self.follow {
            Follow::Local { shared, .. } => {
                self.durable = shared.durable.load(Ordering::Acquire);
                if self.next_index > self.durable {
                    if let Some(msg) = shared.published_failure() {
                        return Err(JournalError::Failed(msg));
                    }
                }
            }
            Follow::Remote {
                durable, dead_end, ..
            } => {
                let path = self.dir.join(durable_file::DURABLE_FILE_NAME);
                if durable.is_none() {
                    match File::open(&path) {
                        Ok(f) => *durable = Some(f),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(JournalError::io("open durable file", &path, e)),
                    }
                }
                let mut published = 0;
                if let Some(f) = durable {
                    if let Some(d) = durable_file::read_from(f, &path)? {
                        published = d;
                        self.durable = self.durable.max(d);
                    }
                }
                if self.next_index > self.durable {
                    if let Some(end) = dead_writer_end(&self.dir, published, dead_end)? {
                        self.durable = self.durable.max(end);
                    }
                }
            }
        }
        Ok(())
    }

    /// Positions the reader at `next_index` (which is durable): finds the segment and the
    /// closest known offset, then skips forward record by record.
    fn locate(&mut self) -> Result<(), JournalError> {
        let target = self.next_index;
        let hint = match &self.follow {
            Follow::Local { shared, .. } => shared
                .sparse
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .range(..=target)
                .next_back()
                .map(|(&index, &(seg, off))| (seg, index, off)),
            Follow::Remote { .. } => None,
        };
        let (seg, start_index, start_off) = match hint {
            Some(h) => h,
            None => {
                let firsts = list_segments(&self.dir)?;
                match firsts.iter().rev().find(|&&f| f <= target) {
                    Some(&f) => (f, f, 0),
                    None => return Err(self.not_retained(target)),
                }
            }
        };
        let path = segment_path(&self.dir, seg);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(self.not_retained(target))
            }
            Err(e) => return Err(JournalError::io("open segment", &path, e)),
        };
        self.set_position(file, path, seg, start_off)?;
        self.next_index = start_index;
        while self.next_index < target {
            self.step(false)?;
        }
        Ok(())
    }

    /// The error for bytes that are not the record the reader expects: if the segment was
    /// retired (recycled or removed) while the reader had it open, the record is simply no
    /// longer retained; otherwise the log is corrupt.
    fn unexpected(&self, reason: String) -> JournalError {
        use std::os::unix::fs::MetadataExt;
        let Some(pos) = self.pos.as_ref() else {
            return self.not_retained(self.next_index);
        };
        let replaced = match std::fs::metadata(&pos.path) {
            Ok(m) => (m.dev(), m.ino()) != pos.identity,
            Err(_) => true,
        };
        if replaced {
            self.not_retained(self.next_index)
        } else {
            pos.corrupt(reason)
        }
    }

    fn not_retained(&self, requested: u64) -> JournalError {
        let first_retained = list_segments(&self.dir)
            .ok()
            .and_then(|f| f.first().copied())
            .unwrap_or(0);
        JournalError::IndexNotRetained {
            requested,
            first_retained,
        }
    }

    fn set_position(
        &mut self,
        file: File,
        path: PathBuf,
        seg_first: u64,
        offset: u64,
    ) -> Result<(), JournalError> {
        use std::os::unix::fs::MetadataExt;
        let meta = file
            .metadata()
            .map_err(|e| JournalError::io("stat segment", &path, e))?;
        let file_len = meta.len();
        self.pos = Some(Position {
            file,
            path,
            seg_first,
            identity: (meta.dev(), meta.ino()),
            file_len,
            offset,
            buf: Vec::new(),
            buf_start: offset,
            buf_durable: 0,
        });
        Ok(())
    }

    /// Reads the record `next_index` (known durable), following a segment roll if needed.
    fn step(&mut self, want: bool) -> Result<Step, JournalError> {
        let index = self.next_index;
        loop {
            let durable = self.durable;
            let Some(pos) = self.pos.as_mut() else {
                return Err(JournalError::Corrupt {
                    segment: self.dir.clone(),
                    offset: 0,
                    reason: "reader lost its segment".into(),
                });
            };
            if pos.file_len.saturating_sub(pos.offset) < HEADER_LEN as u64 {
                self.roll(index)?;
                continue;
            }
            pos.ensure(HEADER_LEN, index, durable)?;
            let at = (pos.offset - pos.buf_start) as usize;
            let header = &pos.buf[at..at + HEADER_LEN];
            if header.iter().all(|&b| b == 0) {
                self.roll(index)?;
                continue;
            }
            let flen = unchecked_frame_len(header);
            let avail = usize::try_from(pos.file_len - pos.offset).unwrap_or(usize::MAX);
            pos.ensure(flen.min(avail), index, durable)?;
            let at = (pos.offset - pos.buf_start) as usize;
            let frame = &pos.buf[at..];
            let header = match check_frame(frame) {
                FrameCheck::Valid(h) if h.index == index => h,
                // Stale data of a recycled segment: the end of this segment's records.
                FrameCheck::Valid(h) if h.index < pos.seg_first => {
                    self.roll(index)?;
                    continue;
                }
                FrameCheck::Valid(h) => {
                    let reason = format!("expected index {index}, found {}", h.index);
                    return Err(self.unexpected(reason));
                }
                FrameCheck::End => {
                    self.roll(index)?;
                    continue;
                }
                FrameCheck::Damaged(why) => {
                    let reason = format!("durable record {index}: {why}");
                    return Err(self.unexpected(reason));
                }
            };
            let step = if want {
                let start = at + HEADER_LEN;
                Step::Record(Record {
                    index,
                    term: header.term,
                    kind: header.kind,
                    version: header.version,
                    payload: pos.buf[start..start + header.payload_len as usize].to_vec(),
                })
            } else {
                Step::Skipped
            };
            pos.offset += header.frame_len() as u64;
            self.next_index += 1;
            return Ok(step);
        }
    }

    /// Moves to the segment that must start at `index` (the current one has no more records).
    fn roll(&mut self, index: u64) -> Result<(), JournalError> {
        let path = segment_path(&self.dir, index);
        match File::open(&path) {
            Ok(file) => self.set_position(file, path, index, 0),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let (segment, offset) = self
                    .pos
                    .as_ref()
                    .map_or((self.dir.clone(), 0), |p| (p.path.clone(), p.offset));
                Err(JournalError::Corrupt {
                    segment,
                    offset,
                    reason: format!(
                        "record {index} is durable but this segment ends here and no segment starts at it"
                    ),
                })
            }
            Err(e) => Err(JournalError::io("open segment", &path, e)),
        }
    }
}

impl Position {
    /// Makes sure `len` bytes from `offset` are buffered and were read after record `index`
    /// became durable.
    fn ensure(&mut self, len: usize, index: u64, durable: u64) -> Result<(), JournalError> {
        let buf_end = self.buf_start + self.buf.len() as u64;
        if self.offset >= self.buf_start
            && self.offset + len as u64 <= buf_end
            && index <= self.buf_durable
        {
            return Ok(());
        }
        let want = len.max(READ_CHUNK);
        let avail = usize::try_from(self.file_len - self.offset).unwrap_or(usize::MAX);
        let n = want.min(avail);
        self.buf.resize(n, 0);
        let mut filled = 0;
        while filled < n {
            let got = self
                .file
                .read_at(&mut self.buf[filled..], self.offset + filled as u64)
                .map_err(|e| JournalError::io("read segment", &self.path, e))?;
            if got == 0 {
                break;
            }
            filled += got;
        }
        self.buf.truncate(filled);
        self.buf_start = self.offset;
        self.buf_durable = durable;
        if filled < len {
            return Err(self.corrupt(format!(
                "durable record {index} is cut short by the end of the file"
            )));
        }
        Ok(())
    }

    fn corrupt(&self, reason: String) -> JournalError {
        JournalError::Corrupt {
            segment: self.path.clone(),
            offset: self.offset,
            reason,
        }
    }
}

/// With no live writer, the last index recovery would keep (cached in `cache` while the
/// durable file stays at `published`); `None` while a writer holds the lock, or if the log
/// is damaged in a way recovery would refuse (then only the durable file is trusted).
fn dead_writer_end(
    dir: &Path,
    published: u64,
    cache: &mut Option<(u64, u64)>,
) -> Result<Option<u64>, JournalError> {
    if segment::writer_alive(dir)? {
        *cache = None;
        return Ok(None);
    }
    if let Some((seen, end)) = *cache {
        if seen == published {
            return Ok(Some(end));
        }
    }
    let end = match last_kept_index(dir) {
        Ok(end) => end,
        Err(JournalError::Corrupt {
            segment,
            offset,
            reason,
        }) => {
            tracing::warn!(
                segment = %segment.display(),
                offset,
                reason,
                "journal reader: log is damaged; reading only up to the published durable index"
            );
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    // A writer that started meanwhile may have been writing what we just looked at; only a
    // writer that is gone again (or never came) makes the bytes on disk final.
    if segment::writer_alive(dir)? {
        *cache = None;
        return Ok(None);
    }
    *cache = Some((published, end));
    Ok(Some(end))
}

fn watch_dir(dir: &Path) -> Result<AsyncFd<Inotify>, JournalError> {
    let inotify = Inotify::init().map_err(|e| JournalError::io("inotify_init", dir, e))?;
    inotify
        .watches()
        .add(
            dir,
            WatchMask::MODIFY | WatchMask::CREATE | WatchMask::MOVED_TO,
        )
        .map_err(|e| JournalError::io("inotify_add_watch", dir, e))?;
    // SAFETY: `Inotify` owns its file descriptor (closed only when the last handle on it is
    // dropped, and the `Watches` handle above is gone), and `as_raw_fd` always returns that
    // same descriptor, so it stays valid and unchanged for the whole life of the `AsyncFd`.
    let registered = unsafe { AsyncFd::register_with_interest(inotify, Interest::READABLE) };
    registered.map_err(|e| JournalError::io("register inotify fd", dir, e.into()))
}

/// Waits until the inotify fd has events, then reads them all (their content does not matter:
/// any change in the directory means "look again").
async fn drain_events(fd: &mut AsyncFd<Inotify>, dir: &Path) -> Result<(), JournalError> {
    let mut buf = [0u8; 4096];
    let mut guard = fd
        .readable_mut()
        .await
        .map_err(|e| JournalError::io("wait for inotify", dir, e))?;
    loop {
        match guard.try_io(|inner| inner.get_mut().read_events(&mut buf).map(|ev| ev.count())) {
            Ok(Ok(_)) => continue,
            Ok(Err(e)) => return Err(JournalError::io("read inotify events", dir, e)),
            Err(_would_block) => return Ok(()),
        }
    }
}

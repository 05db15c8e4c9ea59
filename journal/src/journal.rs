//! The writer side: [`Journal`], group commit on one OS thread, durability notification.
//!
//! Producers encode their frame straight into a shared pending buffer under a short mutex
//! (index assignment and a memcpy; the payload CRC is computed before the lock). The writer
//! thread swaps that buffer for an empty one (double buffering), writes it with one `pwrite`
//! per batch (split only at segment rolls and at the configured batch limits), issues one
//! `fdatasync`, then publishes the new durable index: to an atomic, a `tokio::sync::watch`
//! channel (async waiters, in-process readers), a condvar (blocking waiters) and the `durable`
//! file (followers in other processes). Nothing spins: idle threads block on condvars.
//!
//! A failed write or fdatasync is fatal: it is logged, never retried, and every waiter and
//! every later append gets [`JournalError::Failed`].

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::Instant;

use tokio::sync::watch;

use crate::timing::{AtomicHistogram, Durations};

use crate::durable_file::DurableFile;
use crate::format::{
    encode_frame, frame_len, mark_sync_unit_start, unchecked_frame_len, RecordKind, HEADER_LEN,
};
use crate::reader::JournalReader;
use crate::scan::{scan_dir, SPARSE_EVERY};
use crate::segment::{
    fdatasync, fsync_dir, list_recycled, list_segments, lock_dir, open_rw, preallocate,
    segment_path, take_recycled, write_zeros, PreallocPace, PREALLOC_NAME,
};
use crate::{JournalConfig, JournalError};

/// What the writer publishes to async waiters and in-process readers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Published {
    pub durable: u64,
    pub failed: Option<String>,
    pub closed: bool,
}

/// Counters describing the writer's work so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JournalStats {
    /// Write batches made durable; each ended with one fdatasync (a batch that crosses a
    /// segment roll also syncs the old segment before the roll).
    pub syncs: u64,
    /// Records made durable.
    pub records: u64,
    /// Framed bytes made durable.
    pub bytes: u64,
    /// Segment rolls that reused a segment from the recycle pool.
    pub rolls_recycled: u64,
    /// Segment rolls that needed a freshly preallocated (zero-filled) segment.
    pub rolls_fresh: u64,
    /// How long each fdatasync of a sync unit took (the device's share of commit latency).
    pub sync_durations: Durations,
    /// How long each write chunk took from its write to its publication as durable (write,
    /// fdatasync, any segment roll, publication): the writer's share.
    pub chunk_durations: Durations,
}

#[derive(Debug)]
struct State {
    /// Encoded frames waiting for the writer.
    buf: Vec<u8>,
    /// Records in `buf`.
    buf_records: usize,
    /// How `buf` splits into write chunks within the batch limits: each completed chunk's end
    /// offset in `buf` and record count (the producers know every frame's length, so the
    /// writer never walks the frames to find the cuts).
    chunks: Vec<(usize, usize)>,
    /// Byte offset in `buf` where the open (last, incomplete) chunk starts, and its records.
    open_chunk_start: usize,
    open_chunk_records: usize,
    /// An empty chunk list handed back by the writer.
    spare_chunks: Vec<(usize, usize)>,
    /// An empty buffer handed back by the writer, reused at the next swap.
    spare: Vec<u8>,
    /// Index the next append gets.
    next_index: u64,
    /// Framed bytes appended but not yet durable (queued plus being written).
    pending_bytes: usize,
    /// The writer is blocked waiting for work and must be notified.
    writer_waiting: bool,
    /// The writer is waiting out `batch_wait` for its batch to fill (not for a first record).
    writer_filling: bool,
    failed: Option<String>,
    closing: bool,
}

/// State shared by the journal handles, the writer thread and in-process readers.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: JournalConfig,
    state: Mutex<State>,
    writer_cv: Condvar,
    space_cv: Condvar,
    pub durable: AtomicU64,
    pub published: watch::Sender<Published>,
    blocking_lock: Mutex<()>,
    blocking_cv: Condvar,
    /// Sparse index: record index -> (segment first index, byte offset).
    pub sparse: RwLock<BTreeMap<u64, (u64, u64)>>,
    syncs: AtomicU64,
    synced_records: AtomicU64,
    synced_bytes: AtomicU64,
    rolls_recycled: AtomicU64,
    rolls_fresh: AtomicU64,
    sync_times: AtomicHistogram,
    chunk_times: AtomicHistogram,
    #[cfg(test)]
    pub inject_sync_failure: std::sync::atomic::AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub fn published_failure(&self) -> Option<String> {
        self.published.borrow().failed.clone()
    }

    /// Enters the failed state: logs, poisons appends and wakes every waiter.
    fn fail(&self, msg: String) {
        tracing::error!(
            error = %msg,
            dir = %self.config.dir.display(),
            "journal failed: fatal error, no further appends accepted"
        );
        {
            let mut st = lock(&self.state);
            st.failed.get_or_insert_with(|| msg.clone());
        }
        self.space_cv.notify_all();
        self.published.send_modify(|p| {
            p.failed.get_or_insert(msg);
        });
        let _guard = lock(&self.blocking_lock);
        self.blocking_cv.notify_all();
    }

    fn publish_durable(&self, index: u64) {
        self.durable.store(index, Ordering::Release);
        self.published.send_modify(|p| p.durable = index);
        let _guard = lock(&self.blocking_lock);
        self.blocking_cv.notify_all();
    }
}

/// Stops the writer when the last [`Journal`] clone goes away.
#[derive(Debug)]
struct Handle {
    shared: Arc<Shared>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl Handle {
    fn shutdown(&self) -> Result<(), JournalError> {
        {
            let mut st = lock(&self.shared.state);
            st.closing = true;
        }
        self.shared.writer_cv.notify_all();
        self.shared.space_cv.notify_all();
        let handle = lock(&self.writer).take();
        if let Some(handle) = handle {
            if handle.join().is_err() {
                tracing::error!("journal writer thread panicked");
            }
        }
        self.shared.published.send_modify(|p| p.closed = true);
        {
            let _guard = lock(&self.shared.blocking_lock);
            self.shared.blocking_cv.notify_all();
        }
        match self.shared.published_failure() {
            Some(msg) => Err(JournalError::Failed(msg)),
            None => Ok(()),
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // Drains and syncs what was appended; errors were already logged by the writer.
        let _ = self.shutdown();
    }
}

/// An open journal: appends, durability notification, readers. Cheap to clone; the writer
/// stops (after draining and syncing) when the last clone is dropped or on [`Journal::close`].
#[derive(Debug, Clone)]
pub struct Journal {
    handle: Arc<Handle>,
}

impl Journal {
    /// Opens (creating if needed) the journal in `config.dir`, runs recovery (see
    /// [`crate::format`]: a torn tail is zero-filled and logged, corruption refuses to open)
    /// and starts the writer thread.
    pub fn open(config: JournalConfig) -> Result<Journal, JournalError> {
        config.validate()?;
        let dir = config.dir.clone();
        std::fs::create_dir_all(&dir).map_err(|e| JournalError::io("create directory", &dir, e))?;
        let lock_file = lock_dir(&dir)?;
        let tmp = dir.join(PREALLOC_NAME);
        match std::fs::remove_file(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(JournalError::io("remove stale preallocation", &tmp, e)),
        }
        let scanned = scan_dir(&dir, true)?;
        let next_index = scanned.next_index;
        let mut sparse: BTreeMap<u64, (u64, u64)> = scanned
            .sparse
            .iter()
            .map(|&(index, seg, off)| (index, (seg, off)))
            .collect();

        let (seg_first, file, offset, capacity) = match scanned.report.segments.last() {
            Some(last) => {
                let file = open_rw(&last.path)?;
                let capacity = last.file_bytes.max(config.segment_bytes);
                if last.file_bytes < capacity {
                    write_zeros(&file, &last.path, last.file_bytes, capacity)?;
                }
                // Makes every recovered record durable before it is reported as such.
                file.sync_all()
                    .map_err(|e| JournalError::io("fsync segment", &last.path, e))?;
                (last.first_index, file, scanned.tail_offset, capacity)
            }
            None => {
                // Without any segment, pooled segments are not known to hold only indexes
                // below the ones this log will write: never reuse them.
                for pooled in list_recycled(&dir)? {
                    std::fs::remove_file(&pooled)
                        .map_err(|e| JournalError::io("remove recycled segment", &pooled, e))?;
                }
                let path = segment_path(&dir, next_index);
                let file = preallocate(&tmp, config.segment_bytes, &PreallocPace::urgent())?;
                std::fs::rename(&tmp, &path)
                    .map_err(|e| JournalError::io("rename new segment", &path, e))?;
                sparse.insert(next_index, (next_index, 0));
                (next_index, file, 0, config.segment_bytes)
            }
        };
        fsync_dir(&dir)?;
        let durable = next_index - 1;
        let durable_file = DurableFile::create(&dir, durable)?;
        let (published, _) = watch::channel(Published {
            durable,
            failed: None,
            closed: false,
        });
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                buf: Vec::with_capacity(config.max_batch_bytes.min(1 << 20)),
                buf_records: 0,
                chunks: Vec::new(),
                open_chunk_start: 0,
                open_chunk_records: 0,
                spare_chunks: Vec::new(),
                spare: Vec::new(),
                next_index,
                pending_bytes: 0,
                writer_waiting: false,
                writer_filling: false,
                failed: None,
                closing: false,
            }),
            config,
            writer_cv: Condvar::new(),
            space_cv: Condvar::new(),
            durable: AtomicU64::new(durable),
            published,
            blocking_lock: Mutex::new(()),
            blocking_cv: Condvar::new(),
            sparse: RwLock::new(sparse),
            syncs: AtomicU64::new(0),
            synced_records: AtomicU64::new(0),
            synced_bytes: AtomicU64::new(0),
            rolls_recycled: AtomicU64::new(0),
            rolls_fresh: AtomicU64::new(0),
            sync_times: AtomicHistogram::default(),
            chunk_times: AtomicHistogram::default(),
            #[cfg(test)]
            inject_sync_failure: std::sync::atomic::AtomicBool::new(false),
        });
        let mut writer = Writer {
            shared: Arc::clone(&shared),
            path: segment_path(&dir, seg_first),
            dir,
            file,
            seg_first,
            offset,
            capacity,
            durable_file,
            prealloc: None,
            _lock: lock_file,
            prealloc_pace: Arc::new(PreallocPace::default()),
            last_sparse: durable,
        };
        writer.start_prealloc();
        let thread = std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn({
                let shared = Arc::clone(&shared);
                move || {
                    // A panic in the writer (a bug) must not leave producers blocked forever.
                    let run = std::panic::AssertUnwindSafe(|| writer.run());
                    if std::panic::catch_unwind(run).is_err() {
                        shared.fail("journal writer thread panicked".to_string());
                    }
                }
            })
            .map_err(|e| JournalError::io("spawn writer thread", &shared.config.dir, e))?;
        Ok(Journal {
            handle: Arc::new(Handle {
                shared,
                writer: Mutex::new(Some(thread)),
            }),
        })
    }

    fn shared(&self) -> &Arc<Shared> {
        &self.handle.shared
    }

    /// The directory this journal lives in.
    pub fn dir(&self) -> &Path {
        &self.shared().config.dir
    }

    /// Appends one record and returns its index at once (indices are assigned in append
    /// order, without gaps). The record is durable once [`Journal::durable_index`] reaches
    /// that index. Blocks only for backpressure (see [`JournalConfig::max_pending_bytes`]).
    pub fn append(&self, kind: RecordKind, payload: &[u8]) -> Result<u64, JournalError> {
        let flen = self.check_size(payload.len())?;
        let crc = crc32fast::hash(payload);
        let shared = self.shared();
        let mut st = self.wait_for_room(flen)?;
        let index = st.next_index;
        st.next_index += 1;
        note_frame(&mut st, flen, &shared.config);
        encode_frame(&mut st.buf, kind, shared.config.term, index, payload, crc);
        st.buf_records += 1;
        st.pending_bytes += flen;
        self.wake_writer(st);
        Ok(index)
    }

    /// Appends several records of one kind atomically (consecutive indices) and returns the
    /// index of the first. An empty batch appends nothing and returns the next index.
    pub fn append_batch<P: AsRef<[u8]>>(
        &self,
        kind: RecordKind,
        payloads: &[P],
    ) -> Result<u64, JournalError> {
        let mut total = 0usize;
        let mut crcs = Vec::with_capacity(payloads.len());
        for p in payloads {
            total += self.check_size(p.as_ref().len())?;
            crcs.push(crc32fast::hash(p.as_ref()));
        }
        let config = &self.shared().config;
        let mut st = self.wait_for_room(total)?;
        let first = st.next_index;
        st.buf.reserve(total);
        for (p, crc) in payloads.iter().zip(crcs) {
            let index = st.next_index;
            st.next_index += 1;
            note_frame(&mut st, frame_len(p.as_ref().len()), config);
            encode_frame(&mut st.buf, kind, config.term, index, p.as_ref(), crc);
        }
        st.buf_records += payloads.len();
        st.pending_bytes += total;
        if !payloads.is_empty() {
            self.wake_writer(st);
        }
        Ok(first)
    }

    fn check_size(&self, payload_len: usize) -> Result<usize, JournalError> {
        let flen = frame_len(payload_len);
        let segment_bytes = self.shared().config.segment_bytes;
        if payload_len > u32::MAX as usize || flen as u64 > segment_bytes {
            return Err(JournalError::RecordTooLarge {
                frame_bytes: flen as u64,
                segment_bytes,
            });
        }
        Ok(flen)
    }

    fn wait_for_room(&self, bytes: usize) -> Result<MutexGuard<'_, State>, JournalError> {
        let shared = self.shared();
        let limit = shared.config.max_pending_bytes;
        let mut st = lock(&shared.state);
        loop {
            if let Some(msg) = &st.failed {
                return Err(JournalError::Failed(msg.clone()));
            }
            if st.closing {
                return Err(JournalError::Closed);
            }
            if st.pending_bytes == 0 || st.pending_bytes + bytes <= limit {
                return Ok(st);
            }
            st = shared
                .space_cv
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn wake_writer(&self, mut st: MutexGuard<'_, State>) {
        if !st.writer_waiting {
            return;
        }
        if st.writer_filling {
            // The writer is sitting out `batch_wait` for a batch to fill: wake it only when
            // this append filled it (its timeout ends the wait otherwise). Waking it on every
            // append cost a futex wake and a context switch per append for nothing.
            let config = &self.shared().config;
            if st.buf_records < config.max_batch_records && st.buf.len() < config.max_batch_bytes {
                return;
            }
        }
        st.writer_waiting = false;
        drop(st);
        self.shared().writer_cv.notify_one();
    }

    /// The highest index known durable (0 if nothing is).
    pub fn durable_index(&self) -> u64 {
        self.shared().durable.load(Ordering::Acquire)
    }

    /// The index the next append will get.
    pub fn next_index(&self) -> u64 {
        lock(&self.shared().state).next_index
    }

    /// Waits (asynchronously, without polling) until `index` is durable. Fails if the journal
    /// failed, or was closed before `index` became durable.
    pub async fn wait_durable(&self, index: u64) -> Result<(), JournalError> {
        let mut rx = self.shared().published.subscribe();
        let outcome = rx
            .wait_for(|p| p.durable >= index || p.failed.is_some() || p.closed)
            .await
            .map(|p| p.clone());
        match outcome {
            Ok(p) => durable_outcome(&p, index),
            Err(_) => Err(JournalError::Closed),
        }
    }

    /// Blocks the calling thread until `index` is durable (same outcomes as
    /// [`Journal::wait_durable`]).
    pub fn wait_durable_blocking(&self, index: u64) -> Result<(), JournalError> {
        let shared = self.shared();
        let mut guard = lock(&shared.blocking_lock);
        loop {
            if self.durable_index() >= index {
                return Ok(());
            }
            let p = shared.published.borrow().clone();
            if p.failed.is_some() || p.closed {
                return durable_outcome(&p, index);
            }
            guard = shared
                .blocking_cv
                .wait(guard)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// A reader starting at `from` (1 = the beginning), woken by this journal's durability
    /// publications. It only ever returns durable records.
    pub fn reader(&self, from: u64) -> Result<JournalReader, JournalError> {
        JournalReader::in_process(Arc::clone(self.shared()), from)
    }

    /// Work counters (for benchmarks and monitoring).
    pub fn stats(&self) -> JournalStats {
        let s = self.shared();
        JournalStats {
            syncs: s.syncs.load(Ordering::Relaxed),
            records: s.synced_records.load(Ordering::Relaxed),
            bytes: s.synced_bytes.load(Ordering::Relaxed),
            rolls_recycled: s.rolls_recycled.load(Ordering::Relaxed),
            rolls_fresh: s.rolls_fresh.load(Ordering::Relaxed),
            sync_durations: s.sync_times.snapshot(),
            chunk_durations: s.chunk_times.snapshot(),
        }
    }

    /// [`crate::snapshot::retain`] on this journal's directory with its configured
    /// [`JournalConfig::max_recycled_segments`]: keeps the newest `keep` valid snapshots and
    /// retires the segments they cover into the recycle pool (or deletes them).
    pub fn retain(&self, keep: usize) -> Result<crate::snapshot::RetainReport, JournalError> {
        let config = &self.shared().config;
        crate::snapshot::retain(&config.dir, keep, config.max_recycled_segments)
    }

    /// Stops accepting appends, writes and syncs everything already appended, and joins the
    /// writer. Other clones then get [`JournalError::Closed`]. Returns the fatal error if the
    /// journal had failed.
    pub fn shutdown(&self) -> Result<(), JournalError> {
        self.handle.shutdown()
    }

    /// [`Journal::shutdown`], consuming this handle.
    pub fn close(self) -> Result<(), JournalError> {
        self.handle.shutdown()
    }

    #[cfg(test)]
    pub(crate) fn shared_for_test(&self) -> &Arc<Shared> {
        self.shared()
    }
}

fn durable_outcome(p: &Published, index: u64) -> Result<(), JournalError> {
    if p.durable >= index {
        Ok(())
    } else if let Some(msg) = &p.failed {
        Err(JournalError::Failed(msg.clone()))
    } else {
        Err(JournalError::Closed)
    }
}

/// Accounts for a frame of `flen` bytes about to be encoded at the end of `st.buf`: closes
/// the open chunk first if the frame would take it past `max_batch_records` or
/// `max_batch_bytes` (a chunk always takes at least one frame).
fn note_frame(st: &mut State, flen: usize, config: &JournalConfig) {
    let open_bytes = st.buf.len() - st.open_chunk_start;
    if st.open_chunk_records > 0
        && (st.open_chunk_records == config.max_batch_records
            || open_bytes + flen > config.max_batch_bytes)
    {
        let end = st.buf.len();
        let records = st.open_chunk_records;
        st.chunks.push((end, records));
        st.open_chunk_start = end;
        st.open_chunk_records = 0;
    }
    st.open_chunk_records += 1;
}

/// The end marker written after every sync unit (see [`crate::format`]).
const END_MARKER: [u8; HEADER_LEN] = [0; HEADER_LEN];

/// Writes `a` then `b` at `offset` with one `pwritev` (more only after a short write).
fn write_all_vectored_at(file: &File, a: &[u8], b: &[u8], offset: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let total = a.len() + b.len();
    let iov = [
        libc::iovec {
            iov_base: a.as_ptr() as *mut libc::c_void,
            iov_len: a.len(),
        },
        libc::iovec {
            iov_base: b.as_ptr() as *mut libc::c_void,
            iov_len: b.len(),
        },
    ];
    let off =
        libc::off_t::try_from(offset).map_err(|_| std::io::Error::other("offset too large"))?;
    let written = loop {
        // SAFETY: the iovecs point into live slices for the duration of the call, and
        // pwritev only reads through them.
        let rc = unsafe { libc::pwritev(file.as_raw_fd(), iov.as_ptr(), 2, off) };
        if rc >= 0 {
            break rc as usize;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    };
    if written < total {
        // Short write: finish what is left with plain positioned writes.
        if written < a.len() {
            file.write_all_at(&a[written..], offset + written as u64)?;
            file.write_all_at(b, offset + a.len() as u64)?;
        } else {
            let done_b = written - a.len();
            file.write_all_at(&b[done_b..], offset + written as u64)?;
        }
    }
    Ok(())
}

/// The writer thread's private state.
struct Writer {
    shared: Arc<Shared>,
    dir: PathBuf,
    file: File,
    path: PathBuf,
    seg_first: u64,
    /// Byte offset in the current segment where the next frame goes.
    offset: u64,
    capacity: u64,
    durable_file: DurableFile,
    /// The next segment being preallocated in the background.
    prealloc: Option<JoinHandle<Result<File, JournalError>>>,
    /// The directory lock, held as long as the writer runs.
    _lock: File,
    /// Tells the preallocation how far the writer is, and when the writer waits for it.
    prealloc_pace: Arc<PreallocPace>,
    /// Index of the last sparse-index entry.
    last_sparse: u64,
}

impl Writer {
    fn run(mut self) {
        let shared = Arc::clone(&self.shared);
        let config = &shared.config;
        loop {
            let mut st = lock(&shared.state);
            while st.buf.is_empty() && !st.closing && st.failed.is_none() {
                st.writer_waiting = true;
                st = shared
                    .writer_cv
                    .wait(st)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            st.writer_waiting = false;
            if st.buf.is_empty() || st.failed.is_some() {
                break;
            }
            if let Some(wait) = config.batch_wait {
                // Keep waiting while the batch is below both limits; a producer whose append
                // fills the batch wakes the writer (a notified producer clears
                // `writer_waiting`, so it is set again each time the wait continues); closing
                // wakes it too.
                let below = |s: &mut State| {
                    let keep_waiting = s.buf_records < config.max_batch_records
                        && s.buf.len() < config.max_batch_bytes
                        && !s.closing
                        && s.failed.is_none();
                    s.writer_waiting = keep_waiting;
                    keep_waiting
                };
                if below(&mut st) {
                    st.writer_filling = true;
                    st = shared
                        .writer_cv
                        .wait_timeout_while(st, wait, below)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                    st.writer_waiting = false;
                    st.writer_filling = false;
                }
            }
            let spare = std::mem::take(&mut st.spare);
            let mut batch = std::mem::replace(&mut st.buf, spare);
            let spare_chunks = std::mem::take(&mut st.spare_chunks);
            let mut chunks = std::mem::replace(&mut st.chunks, spare_chunks);
            let first = st.next_index - st.buf_records as u64;
            let tail_records = st.open_chunk_records;
            st.buf_records = 0;
            st.open_chunk_start = 0;
            st.open_chunk_records = 0;
            drop(st);

            if let Err(e) = self.write_batch(&mut batch, &chunks, tail_records, first) {
                shared.fail(e.to_string());
                break;
            }
            batch.clear();
            chunks.clear();
            let mut st = lock(&shared.state);
            st.spare = batch;
            st.spare_chunks = chunks;
        }
        if let Some(handle) = self.prealloc.take() {
            self.prealloc_pace.set_urgent();
            let _ = handle.join();
        }
    }

    /// Writes a swapped-out batch (first index `first`) chunk by chunk, as the producers cut
    /// it within the batch limits: each chunk one pwrite (more only across a segment roll)
    /// and one fdatasync. `tail_records` frames follow the last completed chunk.
    fn write_batch(
        &mut self,
        batch: &mut [u8],
        chunks: &[(usize, usize)],
        tail_records: usize,
        first: u64,
    ) -> Result<(), JournalError> {
        let (mut start, mut index) = (0usize, first);
        for &(end, records) in chunks {
            self.write_chunk(&mut batch[start..end], index, records)?;
            index += records as u64;
            start = end;
        }
        if tail_records > 0 {
            self.write_chunk(&mut batch[start..], index, tail_records)?;
        }
        Ok(())
    }

    /// Writes one chunk: each piece that lands in one segment is a sync unit (its first frame
    /// flagged, one pwrite with the end marker after it, one fdatasync).
    fn write_chunk(
        &mut self,
        chunk: &mut [u8],
        first: u64,
        records: usize,
    ) -> Result<(), JournalError> {
        let chunk_len = chunk.len();
        let started = Instant::now();
        let mut rest = chunk;
        let mut index = first;
        loop {
            let room = usize::try_from(self.capacity - self.offset).unwrap_or(usize::MAX);
            // Take as many whole frames as fit in this segment.
            let (take_bytes, take_records) = if rest.len() <= room {
                (rest.len(), records - (index - first) as usize)
            } else {
                let (mut bytes, mut n) = (0usize, 0usize);
                loop {
                    let flen = unchecked_frame_len(&rest[bytes..bytes + HEADER_LEN]);
                    if bytes + flen > room {
                        break;
                    }
                    bytes += flen;
                    n += 1;
                }
                (bytes, n)
            };
            if take_bytes > 0 {
                if index - self.last_sparse >= SPARSE_EVERY {
                    self.add_sparse(index);
                }
                let unit = &mut rest[..take_bytes];
                mark_sync_unit_start(unit);
                let end = self.offset + take_bytes as u64;
                let marker = usize::try_from(self.capacity - end)
                    .unwrap_or(HEADER_LEN)
                    .min(HEADER_LEN);
                write_all_vectored_at(&self.file, unit, &END_MARKER[..marker], self.offset)
                    .map_err(|e| JournalError::io("write segment", &self.path, e))?;
                self.offset = end;
                self.prealloc_pace
                    .set_writer_progress(self.offset, self.capacity);
                self.sync()?;
            }
            // (Nothing written here means nothing fitted: the segment was already synced.)
            index += take_records as u64;
            rest = &mut rest[take_bytes..];
            if rest.is_empty() {
                break;
            }
            self.roll(index)?;
        }
        let last = first + records as u64 - 1;
        let s = &self.shared;
        s.syncs.fetch_add(1, Ordering::Relaxed);
        s.synced_records
            .fetch_add(records as u64, Ordering::Relaxed);
        s.synced_bytes
            .fetch_add(chunk_len as u64, Ordering::Relaxed);
        // In-process waiters first (they are the latency-critical ones), then other processes.
        s.publish_durable(last);
        self.durable_file.publish(last)?;
        s.chunk_times.record(started.elapsed());
        {
            let mut st = lock(&s.state);
            st.pending_bytes -= chunk_len;
        }
        s.space_cv.notify_all();
        Ok(())
    }

    fn sync(&self) -> Result<(), JournalError> {
        #[cfg(test)]
        if self
            .shared
            .inject_sync_failure
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            return Err(JournalError::io(
                "fdatasync",
                &self.path,
                std::io::Error::other("injected fdatasync failure"),
            ));
        }
        let started = Instant::now();
        fdatasync(&self.file, &self.path)?;
        self.shared.sync_times.record(started.elapsed());
        Ok(())
    }

    fn add_sparse(&mut self, index: u64) {
        self.last_sparse = index;
        self.shared
            .sparse
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(index, (self.seg_first, self.offset));
    }

    /// Drops sparse-index entries for segments that retention has removed.
    fn prune_sparse(&self) -> Result<(), JournalError> {
        if let Some(&first) = list_segments(&self.dir)?.first() {
            let mut sparse = self
                .shared
                .sparse
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            *sparse = sparse.split_off(&first);
        }
        Ok(())
    }

    /// Starts preallocating the next segment in the background, unless one is already being
    /// preallocated or the recycle pool can supply the next roll (then no zeroing competes
    /// with the writer).
    fn start_prealloc(&mut self) {
        if self.prealloc.is_some() {
            return;
        }
        if std::env::var("NO_PREALLOC").is_ok() {
            return;
        }
        match list_recycled(&self.dir) {
            Ok(pool) if !pool.is_empty() => return,
            Ok(_) => {}
            // Listing failed: preallocate anyway; the roll will surface persistent errors.
            Err(e) => tracing::debug!(error = %e, "journal: cannot list the recycle pool"),
        }
        let tmp = self.dir.join(PREALLOC_NAME);
        let bytes = self.shared.config.segment_bytes;
        let pace = Arc::new(PreallocPace::default());
        pace.set_writer_progress(self.offset, self.capacity);
        self.prealloc_pace = Arc::clone(&pace);
        let spawned = std::thread::Builder::new()
            .name("journal-prealloc".into())
            .spawn(move || {
                crate::background::lower_thread_priority();
                preallocate(&tmp, bytes, &pace)
            });
        // If no thread can be spawned, the roll preallocates synchronously instead.
        self.prealloc = spawned.ok();
    }

    /// Switches to a new segment starting at `first_index`. The current segment has been
    /// fdatasync'd. The new one is a segment from the recycle pool if there is one (all its
    /// blocks written long ago; its stale frames have lower indexes), else a preallocated one
    /// (zero-filled and synced); it gets its name, and the directory is fsynced, before any
    /// record goes into it.
    fn roll(&mut self, first_index: u64) -> Result<(), JournalError> {
        let bytes = self.shared.config.segment_bytes;
        let path = segment_path(&self.dir, first_index);
        let file = match take_recycled(&self.dir, first_index, bytes)? {
            Some(file) => {
                self.shared.rolls_recycled.fetch_add(1, Ordering::Relaxed);
                file
            }
            None => {
                let tmp = self.dir.join(PREALLOC_NAME);
                self.prealloc_pace.set_urgent();
                let file = match self.prealloc.take().map(JoinHandle::join) {
                    Some(Ok(result)) => result?,
                    Some(Err(_)) | None => preallocate(&tmp, bytes, &PreallocPace::urgent())?,
                };
                std::fs::rename(&tmp, &path)
                    .map_err(|e| JournalError::io("rename new segment", &path, e))?;
                self.shared.rolls_fresh.fetch_add(1, Ordering::Relaxed);
                file
            }
        };
        fsync_dir(&self.dir)?;
        self.file = file;
        self.path = path;
        self.seg_first = first_index;
        self.offset = 0;
        self.capacity = bytes;
        self.add_sparse(first_index);
        self.prune_sparse()?;
        self.start_prealloc();
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    fn small_config(dir: &Path) -> JournalConfig {
        let mut c = JournalConfig::new(dir);
        c.segment_bytes = 4096;
        c
    }

    #[test]
    fn fatal_sync_error_poisons_appends_and_waiters() {
        let tmp = tempfile::tempdir().unwrap();
        let j = Journal::open(small_config(tmp.path())).unwrap();
        let ok = j.append(RecordKind::Command, b"before").unwrap();
        j.wait_durable_blocking(ok).unwrap();

        j.shared_for_test()
            .inject_sync_failure
            .store(true, Ordering::SeqCst);
        let doomed = j.append(RecordKind::Command, b"doomed").unwrap();
        let err = j.wait_durable_blocking(doomed).unwrap_err();
        assert!(
            matches!(err, JournalError::Failed(ref m) if m.contains("injected")),
            "{err}"
        );
        // Async waiters see the failure too.
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let async_err = rt.block_on(j.wait_durable(doomed)).unwrap_err();
        assert!(matches!(async_err, JournalError::Failed(_)));
        // Every later append fails; the durable index never moves past the failure.
        assert!(matches!(
            j.append(RecordKind::Command, b"after"),
            Err(JournalError::Failed(_))
        ));
        assert_eq!(j.durable_index(), ok);
        // An earlier durable record is still reported durable.
        j.wait_durable_blocking(ok).unwrap();
        assert!(matches!(j.close(), Err(JournalError::Failed(_))));

        // The record that was reported durable survives a reopen.
        let j = Journal::open(small_config(tmp.path())).unwrap();
        let mut r = j.reader(1).unwrap();
        assert_eq!(r.try_next().unwrap().unwrap().payload, b"before");
    }

    #[test]
    fn waiters_blocked_on_a_failing_journal_wake_up() {
        let tmp = tempfile::tempdir().unwrap();
        let j = Journal::open(small_config(tmp.path())).unwrap();
        j.shared_for_test()
            .inject_sync_failure
            .store(true, Ordering::SeqCst);
        let waiter = {
            let j = j.clone();
            std::thread::spawn(move || j.wait_durable_blocking(10))
        };
        for _ in 0..3 {
            // Some of these may already be refused once the failure has happened.
            let _ = j.append(RecordKind::Event, b"x");
        }
        assert!(matches!(
            waiter.join().unwrap(),
            Err(JournalError::Failed(_))
        ));
    }

    #[test]
    fn backpressure_bounds_pending_bytes() {
        let tmp = tempfile::tempdir().unwrap();
        let mut c = small_config(tmp.path());
        c.max_pending_bytes = 256;
        let j = Journal::open(c).unwrap();
        // Far more data than the bound goes through; appends block instead of queueing it.
        let mut last = 0;
        for i in 0..500u32 {
            last = j.append(RecordKind::Command, &i.to_le_bytes()).unwrap();
            let pending = lock(&j.shared_for_test().state).pending_bytes;
            assert!(pending <= 256, "pending {pending}");
        }
        j.wait_durable_blocking(last).unwrap();
        assert_eq!(j.stats().records, 500);
    }

    #[test]
    fn batch_limits_split_one_queued_batch_into_several_syncs() {
        let tmp = tempfile::tempdir().unwrap();
        let mut c = small_config(tmp.path());
        c.max_batch_records = 3;
        let j = Journal::open(c).unwrap();
        let payloads = vec![[1u8; 10]; 10];
        // One atomic append of 10 records reaches an idle writer as one queued batch.
        let first = j.append_batch(RecordKind::Command, &payloads).unwrap();
        j.wait_durable_blocking(first + 9).unwrap();
        let stats = j.stats();
        assert_eq!((stats.syncs, stats.records), (4, 10), "3 + 3 + 3 + 1");

        let tmp = tempfile::tempdir().unwrap();
        let mut c = small_config(tmp.path());
        c.max_batch_bytes = 100; // frames here are 48 bytes: two per sync
        let j = Journal::open(c).unwrap();
        let first = j.append_batch(RecordKind::Command, &payloads).unwrap();
        j.wait_durable_blocking(first + 9).unwrap();
        assert_eq!(j.stats().syncs, 5);
    }

    #[test]
    fn batch_wait_collects_a_full_batch_into_one_sync() {
        let tmp = tempfile::tempdir().unwrap();
        let mut c = small_config(tmp.path());
        c.max_batch_records = 5;
        c.batch_wait = Some(std::time::Duration::from_secs(5));
        let j = Journal::open(c).unwrap();
        let started = Instant::now();
        let mut last = 0;
        for i in 0..5u8 {
            last = j.append(RecordKind::Command, &[i]).unwrap();
            // Let the writer wake up and go back to waiting between appends.
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        j.wait_durable_blocking(last).unwrap();
        // The batch filled up, so the writer did not sit out the whole wait.
        assert!(started.elapsed() < std::time::Duration::from_secs(4));
        assert_eq!((j.stats().syncs, j.stats().records), (1, 5));
        // A batch that never fills still goes out once the wait expires, and close drains.
        let i = j.append(RecordKind::Command, b"alone").unwrap();
        j.close().unwrap();
        assert_eq!(crate::scan(tmp.path()).unwrap().last_index, Some(i));
    }

    #[test]
    fn wait_after_close_reports_closed() {
        let tmp = tempfile::tempdir().unwrap();
        let j = Journal::open(small_config(tmp.path())).unwrap();
        let i = j.append(RecordKind::Command, b"a").unwrap();
        let other = j.clone();
        j.close().unwrap();
        other.wait_durable_blocking(i).unwrap();
        assert!(matches!(
            other.wait_durable_blocking(i + 1),
            Err(JournalError::Closed)
        ));
        assert!(matches!(
            other.append(RecordKind::Command, b"b"),
            Err(JournalError::Closed)
        ));
    }
}

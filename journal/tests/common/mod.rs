//! Helpers shared by the integration tests.
#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report
#![allow(dead_code)]

use std::path::Path;

use journal::{JournalConfig, JournalReader, Record};

/// A deterministic payload for a (stream, sequence) pair: 16 bytes of identity, then a
/// length and content derived from both.
pub fn payload_for(stream: u64, seq: u64) -> Vec<u8> {
    let len = ((stream * 7919 + seq * 104_729) % 300) as usize;
    let mut p = Vec::with_capacity(16 + len);
    p.extend_from_slice(&stream.to_le_bytes());
    p.extend_from_slice(&seq.to_le_bytes());
    let mut x = stream.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ seq;
    for _ in 0..len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p.push(x as u8);
    }
    p
}

/// Decodes the identity of a payload built by [`payload_for`] and checks the rest.
pub fn identity_of(payload: &[u8]) -> (u64, u64) {
    let stream = u64::from_le_bytes(payload[0..8].try_into().unwrap());
    let seq = u64::from_le_bytes(payload[8..16].try_into().unwrap());
    assert_eq!(
        payload,
        payload_for(stream, seq),
        "payload content mismatch"
    );
    (stream, seq)
}

/// Every durable record in `dir`, read with a cross-process reader.
pub fn read_all(dir: &Path) -> Vec<Record> {
    let mut r = JournalReader::open(dir, 1).unwrap();
    let mut out = Vec::new();
    while let Some(rec) = r.try_next().unwrap() {
        out.push(rec);
    }
    out
}

/// A config with small segments.
pub fn small(dir: &Path, segment_bytes: u64) -> JournalConfig {
    init_log_capture();
    let mut c = JournalConfig::new(dir);
    c.segment_bytes = segment_bytes;
    c
}

thread_local! {
    /// The log buffer of a `capture_logs` call running on this thread, if any.
    static CAPTURE: std::cell::RefCell<Option<Vec<u8>>> = const { std::cell::RefCell::new(None) };
}

/// Writes log output into this thread's capture buffer (or nowhere).
struct ThreadCapture;

impl std::io::Write for ThreadCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURE.with(|c| {
            if let Some(v) = c.borrow_mut().as_mut() {
                v.extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs, once per test binary, a global subscriber that writes into per-thread capture
/// buffers. A global one (rather than a scoped `with_default`) matters: while no subscriber is
/// global, a callsite first hit by another test thread can cache "never interested" in a race
/// with a scoped subscriber being installed, and the captured log then misses its lines.
pub fn init_log_capture() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(|| ThreadCapture)
            .with_ansi(false)
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}

/// Runs `f` and returns what it logged on this thread.
pub fn capture_logs(f: impl FnOnce()) -> String {
    init_log_capture();
    CAPTURE.with(|c| *c.borrow_mut() = Some(Vec::new()));
    f();
    let bytes = CAPTURE.with(|c| c.borrow_mut().take()).unwrap_or_default();
    String::from_utf8(bytes).unwrap()
}

//! The on-disk format. Only this crate knows these bytes.
//!
//! # Segments
//!
//! The log is a directory of segment files named by the index of their first record, as a
//! 20-digit zero-padded decimal: `00000000000000000001.seg`. Every segment is preallocated at
//! creation (zero-filled with real writes, then fsynced, so later overwrites never change
//! file metadata and a plain `fdatasync` is enough to make appended records durable). Records
//! are written back to back from offset 0; the unused remainder of a segment stays zero. A
//! segment is *rolled* (a new one started) when the next record does not fit in the rest of
//! the current one; a record whose frame is larger than a whole segment is refused.
//!
//! Besides segments the directory holds `durable` (the last durable index, for followers in
//! other processes, see [`crate::durable_file`]), `LOCK` (an `flock` that keeps a second
//! writer out), an optional `snapshots/` folder (see [`crate::snapshot`]) and, transiently,
//! `next.seg.tmp` (the next segment being preallocated; recovery deletes it).
//!
//! Rolling is crash-safe: the old segment is fdatasync'd, the new one is zero-filled and
//! fsynced under its temporary name, renamed to its final name, and the directory is fsynced,
//! all before the first record is written into it.
//!
//! # Record frame
//!
//! All integers are little-endian. A frame is a 32-byte header, the payload, then zero padding
//! up to the next multiple of 8 bytes, so every header starts 8-byte aligned and can never be
//! split by a sector boundary in a way that tears its length field.
//!
//! | offset | size | field                                                            |
//! |-------:|-----:|------------------------------------------------------------------|
//! | 0      | 4    | payload length in bytes (u32), padding excluded                  |
//! | 4      | 4    | CRC-32/IEEE (crc32fast) of `payload ++ header[8..32]`            |
//! | 8      | 4    | magic `0x4C4E524A` (the bytes `JRNL`); never zero                |
//! | 12     | 1    | record kind (see [`RecordKind`])                                  |
//! | 13     | 1    | format version ([`FORMAT_VERSION`])                              |
//! | 14     | 2    | reserved, must be zero                                           |
//! | 16     | 8    | term (u64; always 0 until replication exists)                     |
//! | 24     | 8    | index (u64; 1 for the first record of an empty journal, gap-free) |
//! | 32     | len  | payload                                                          |
//! | 32+len | pad  | zeros up to a multiple of 8                                      |
//!
//! The CRC covers the payload first and then the rest of the header (everything except the
//! length and the CRC itself; the length is covered indirectly because a wrong length makes
//! the CRC run over the wrong bytes). Putting the payload first lets a producer checksum its
//! payload before it takes the append lock and only fold in the 24 header bytes once its
//! index is known.
//!
//! Because the magic is non-zero, a 32-byte all-zero header is unambiguously "end of log"
//! (zero-filled preallocated space), never a record.
//!
//! # Validity, torn tails and corruption
//!
//! A frame at offset `o` of a segment is *valid* when its whole header and padded payload lie
//! inside the segment, the magic matches, the reserved bytes are zero and the CRC verifies.
//! Reading a segment from the start, the log ends at the first offset `e` where the frame is
//! not a valid record with the next expected index (an all-zero header, or a damaged frame).
//! What lies after `e` decides between a torn tail and corruption:
//!
//! * If any 8-byte-aligned offset after `e` inside the same segment holds a valid frame whose
//!   index is greater than the last good index, the damage is **followed by a valid record**:
//!   that is corruption and opening fails with [`crate::JournalError::Corrupt`] naming the
//!   segment and `e`. (A crash cannot produce this: the writer fdatasyncs a batch before it
//!   writes the next one, and fdatasyncs a segment before it writes into the next segment.)
//! * Otherwise, if the bytes after `e` are not all zero, it is a **torn tail**: recovery zero
//!   fills them (keeping the preallocated layout) and logs a warning with segment, offset and
//!   reason. Read-only [`crate::scan`] reports it as [`crate::TornTail`] without repairing.
//! * Damage in any segment but the last, a valid record with an unexpected index, a segment
//!   whose first record's index differs from its file name, or a gap between segments is
//!   always corruption.

use std::fmt;

/// Size of the fixed frame header in bytes.
pub const HEADER_LEN: usize = 32;
/// Frames start at multiples of this many bytes.
pub const ALIGN: usize = 8;
/// The non-zero marker at header offset 8 (the bytes `JRNL`).
pub const MAGIC: u32 = 0x4C4E_524A;
/// The format version written by this code.
pub const FORMAT_VERSION: u8 = 1;

/// What a record is. Unknown kind bytes are kept as [`RecordKind::Other`] so that older tools
/// can read logs written by newer code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// A command, appended by the sequencer (the source of truth).
    Command,
    /// An event, appended from the matcher's output.
    Event,
    /// An empty marker record (e.g. a new leader's term marker, for future replication).
    Noop,
    /// A kind byte this version does not know.
    Other(u8),
}

impl RecordKind {
    /// The kind's byte on disk.
    pub fn to_byte(self) -> u8 {
        match self {
            RecordKind::Command => 1,
            RecordKind::Event => 2,
            RecordKind::Noop => 3,
            RecordKind::Other(b) => b,
        }
    }

    /// The kind for a byte read from disk (never fails).
    pub fn from_byte(b: u8) -> Self {
        match b {
            1 => RecordKind::Command,
            2 => RecordKind::Event,
            3 => RecordKind::Noop,
            other => RecordKind::Other(other),
        }
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordKind::Command => f.write_str("command"),
            RecordKind::Event => f.write_str("event"),
            RecordKind::Noop => f.write_str("noop"),
            RecordKind::Other(b) => write!(f, "other({b})"),
        }
    }
}

/// One record read back from the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Position in the log (1-based, gap-free).
    pub index: u64,
    /// Replication term (0 for now).
    pub term: u64,
    /// What the payload is.
    pub kind: RecordKind,
    /// Format version the record was written with.
    pub version: u8,
    /// The opaque payload.
    pub payload: Vec<u8>,
}

/// Rounds `n` up to a multiple of [`ALIGN`].
pub const fn pad8(n: usize) -> usize {
    (n + ALIGN - 1) & !(ALIGN - 1)
}

/// Total bytes a record with `payload_len` payload bytes occupies on disk.
pub const fn frame_len(payload_len: usize) -> usize {
    HEADER_LEN + pad8(payload_len)
}

/// A decoded, verified frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Payload length in bytes (without padding).
    pub payload_len: u32,
    /// Record kind.
    pub kind: RecordKind,
    /// Format version.
    pub version: u8,
    /// Replication term.
    pub term: u64,
    /// Record index.
    pub index: u64,
}

impl FrameHeader {
    /// Bytes this frame occupies on disk.
    pub fn frame_len(&self) -> usize {
        frame_len(self.payload_len as usize)
    }
}

/// Appends one frame to `out`. `payload_crc` must be `crc32fast::hash(payload)`; it is taken
/// as an argument so callers can compute it outside a lock.
pub fn encode_frame(
    out: &mut Vec<u8>,
    kind: RecordKind,
    term: u64,
    index: u64,
    payload: &[u8],
    payload_crc: u32,
) {
    let mut rest = [0u8; HEADER_LEN - 8];
    rest[0..4].copy_from_slice(&MAGIC.to_le_bytes());
    rest[4] = kind.to_byte();
    rest[5] = FORMAT_VERSION;
    // rest[6..8] reserved, zero.
    rest[8..16].copy_from_slice(&term.to_le_bytes());
    rest[16..24].copy_from_slice(&index.to_le_bytes());
    let mut hasher = crc32fast::Hasher::new_with_initial_len(payload_crc, payload.len() as u64);
    hasher.update(&rest);
    let crc = hasher.finalize();
    // Callers guarantee the payload length fits in u32 (checked at append).
    let len = payload.len() as u32;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&rest);
    out.extend_from_slice(payload);
    let padding = pad8(payload.len()) - payload.len();
    out.extend_from_slice(&[0u8; ALIGN][..padding]);
}

/// The result of looking at the bytes where a frame should start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameCheck {
    /// An all-zero header, or too little room left for a header and only zeros in it:
    /// the end of the records in this segment.
    End,
    /// A valid frame.
    Valid(FrameHeader),
    /// Something that is neither a valid frame nor the end marker.
    Damaged(&'static str),
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Checks the frame at the start of `buf`, where `buf` runs to the end of the segment (or at
/// least to the end of the frame, if the caller knows it is complete).
pub fn check_frame(buf: &[u8]) -> FrameCheck {
    if buf.len() < HEADER_LEN {
        return if buf.iter().all(|&b| b == 0) {
            FrameCheck::End
        } else {
            FrameCheck::Damaged("incomplete header")
        };
    }
    let h = &buf[..HEADER_LEN];
    if h.iter().all(|&b| b == 0) {
        return FrameCheck::End;
    }
    if u32_at(h, 8) != MAGIC {
        return FrameCheck::Damaged("bad magic");
    }
    if h[14] != 0 || h[15] != 0 {
        return FrameCheck::Damaged("reserved header bytes are not zero");
    }
    let payload_len = u32_at(h, 0);
    let total = frame_len(payload_len as usize);
    if total > buf.len() {
        return FrameCheck::Damaged("frame extends past the end of the segment");
    }
    let payload = &buf[HEADER_LEN..HEADER_LEN + payload_len as usize];
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(payload);
    hasher.update(&h[8..HEADER_LEN]);
    if hasher.finalize() != u32_at(h, 4) {
        return FrameCheck::Damaged("checksum mismatch");
    }
    if buf[HEADER_LEN + payload_len as usize..total]
        .iter()
        .any(|&b| b != 0)
    {
        return FrameCheck::Damaged("non-zero padding");
    }
    FrameCheck::Valid(FrameHeader {
        payload_len,
        kind: RecordKind::from_byte(h[12]),
        version: h[13],
        term: u64_at(h, 16),
        index: u64_at(h, 24),
    })
}

/// Reads the payload length from a frame header without verifying anything (used by the
/// writer to walk frames it encoded itself).
pub(crate) fn unchecked_frame_len(header: &[u8]) -> usize {
    frame_len(u32_at(header, 0) as usize)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn kind_bytes_round_trip_and_unknown_kinds_survive() {
        for b in 0..=u8::MAX {
            assert_eq!(RecordKind::from_byte(b).to_byte(), b);
        }
        assert_eq!(RecordKind::from_byte(200), RecordKind::Other(200));
        assert_eq!(RecordKind::Other(200).to_string(), "other(200)");
        assert_eq!(RecordKind::Command.to_string(), "command");
    }

    #[test]
    fn frames_are_aligned_and_verify() {
        for len in [0usize, 1, 7, 8, 9, 100, 1000] {
            let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut out = Vec::new();
            encode_frame(
                &mut out,
                RecordKind::Event,
                3,
                42,
                &payload,
                crc32fast::hash(&payload),
            );
            assert_eq!(out.len(), frame_len(len));
            assert_eq!(out.len() % ALIGN, 0);
            match check_frame(&out) {
                FrameCheck::Valid(h) => {
                    assert_eq!(h.index, 42);
                    assert_eq!(h.term, 3);
                    assert_eq!(h.kind, RecordKind::Event);
                    assert_eq!(h.payload_len as usize, len);
                }
                other => panic!("expected valid frame, got {other:?}"),
            }
            // Every single-bit flip in header or payload is detected.
            for byte in 0..HEADER_LEN + len {
                let mut bad = out.clone();
                bad[byte] ^= 0x10;
                assert!(
                    !matches!(check_frame(&bad), FrameCheck::Valid(_)),
                    "flip at {byte} of len {len} not detected"
                );
            }
        }
    }

    #[test]
    fn zero_header_is_end_and_short_garbage_is_damage() {
        assert_eq!(check_frame(&[0u8; 64]), FrameCheck::End);
        assert_eq!(check_frame(&[0u8; 5]), FrameCheck::End);
        assert_eq!(
            check_frame(&[1u8; 5]),
            FrameCheck::Damaged("incomplete header")
        );
        assert_eq!(check_frame(&[0xffu8; 64]), FrameCheck::Damaged("bad magic"));
    }
}

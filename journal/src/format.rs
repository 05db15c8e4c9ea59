//! The on-disk format. Only this crate knows these bytes.
//!
//! # Segments
//!
//! The log is a directory of segment files named by the index of their first record, as a
//! 20-digit zero-padded decimal: `00000000000000000001.seg`. A segment's blocks are all
//! written before it gets its name, so later overwrites never change file metadata and a
//! plain `fdatasync` is enough to make appended records durable. A segment is either
//! *fresh* (zero-filled with real writes, then fsynced) or *recycled*: a retired segment from
//! the recycle pool (`recycle-<n>.seg`, see [`crate::segment`]) renamed to its new name. A
//! recycled segment still holds **stale** frames from its previous life; they all carry
//! indexes lower than the segment's first index (a segment is retired only once every record
//! in it precedes a later segment's first index, and every later index is greater), so an
//! index check tells them apart exactly.
//!
//! Records are written back to back from offset 0. A segment is *rolled* (a new one started)
//! when the next record does not fit in the rest of the current one; a record whose frame is
//! larger than a whole segment is refused.
//!
//! Besides segments the directory holds `durable` (the last durable index, for followers in
//! other processes, see [`crate::durable_file`]), `LOCK` (an `flock` that keeps a second
//! writer out), the recycle pool, an optional `snapshots/` folder (see [`crate::snapshot`])
//! and, transiently, `next.seg.tmp` (the next segment being preallocated; recovery deletes
//! it).
//!
//! Rolling is crash-safe: the old segment is fdatasync'd, the new one is complete (zero-filled
//! and fsynced under its temporary name, or taken whole from the pool), renamed to its final
//! name, and the directory is fsynced, all before the first record is written into it.
//!
//! # Sync units and the end marker
//!
//! The writer writes a *sync unit* with one `pwrite` and then fdatasyncs it before it writes
//! anything else: the frames of one group-commit chunk (split at segment rolls). The first
//! frame of every sync unit carries the [`SYNC_UNIT_START`] flag. The same `pwrite` also
//! writes an **end marker** right after the unit: 32 zero bytes (fewer if the segment ends
//! sooner), overwritten by the next unit's first frame. So after a clean stop the frame
//! position after the last record always reads as an all-zero header, even in a recycled
//! segment whose old bytes there are the middle of some stale frame.
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
//! | 14     | 2    | flags (u16): bit 0 [`SYNC_UNIT_START`]; other bits must be zero  |
//! | 16     | 8    | term (u64; always 0 until replication exists)                     |
//! | 24     | 8    | index (u64; 1 for the first record of an empty journal, gap-free) |
//! | 32     | len  | payload                                                          |
//! | 32+len | pad  | zeros up to a multiple of 8                                      |
//!
//! The CRC covers the payload first and then the rest of the header (everything except the
//! length and the CRC itself, so the flags too; the length is covered indirectly because a
//! wrong length makes the CRC run over the wrong bytes). Putting the payload first lets a
//! producer checksum its payload before it takes the append lock and only fold in the 24
//! header bytes once its index is known; the writer sets the flag on one frame per sync unit
//! and recomputes that one frame's CRC.
//!
//! Because the magic is non-zero, a 32-byte all-zero header is unambiguously "end of log"
//! (the end marker, or zero-filled preallocated space), never a record. Logs written before
//! the flags existed (the field always zero, no end markers, only fresh segments) read the
//! same way, except that without flagged unit starts, damage in their last segment followed
//! by valid records is taken for a torn tail.
//!
//! # Validity, end of log, torn tails and corruption
//!
//! A frame at offset `o` of a segment is *valid* when its whole header and padded payload lie
//! inside the segment, the magic matches, the flags hold no unknown bit and the CRC verifies.
//! Reading a segment whose first index is `F` from the start, the log ends at the first
//! offset `e` where the frame is not a valid record with the next expected index `N`:
//!
//! * an all-zero header, or a valid frame with an index below `F` (stale): a clean **end**;
//! * a valid frame with any other index: **corruption** (index discontinuity);
//! * anything else is **damage** at `e`.
//!
//! What lies after `e` in the same segment decides the rest. Only valid frames with an index
//! of at least `N` matter there (stale frames have indexes below `F <= N`, and invalid bytes
//! can be stale data or a torn write alike):
//!
//! * A valid frame flagged [`SYNC_UNIT_START`] with index `>= N` after `e` means
//!   **corruption**: opening fails with [`crate::JournalError::Corrupt`] naming the segment
//!   and `e`. A crash, even a power loss that persists the pages of the last, not yet
//!   fdatasync'd write in any order, cannot produce it. Proof: let `U` be the last sync unit
//!   whose write started before the crash. Every unit before `U` was fdatasync'd before `U`
//!   was written, so all of it and its end marker are on disk; `e` (the first damage) is
//!   therefore inside `U` or at its start (where the previous end marker sits, if `U`'s first
//!   page was lost), i.e. `U`'s own start frame lies at or before `e`. Every frame of `U`
//!   after its start is unflagged, and nothing after `U` was ever written. So a flagged frame
//!   with a new index after `e` can only be a unit that was synced after damaged bytes:
//!   damage in the middle.
//! * Otherwise valid unflagged frames with index `>= N` after `e` are **remnants** of the torn
//!   last unit. They, and damage at `e`, make a **torn tail**: recovery zero-fills from `e`
//!   through the last remnant (at least an end marker's worth), fdatasyncs, and logs a
//!   warning with segment, offset and reason; read-only [`crate::scan`] reports it as
//!   [`crate::TornTail`] without repairing. Remnants must go: a later write of the same
//!   indexes at different offsets could otherwise bring them back as records.
//! * A clean end followed by anything else (zeros, stale frames, other invalid bytes) is no
//!   torn tail: in a recycled segment that is exactly the stale content, and invalid bytes
//!   can never turn valid unless the writer overwrites them.
//! * A torn tail in any segment but the last, a segment whose first record's index differs
//!   from its file name, or a gap between segments is always corruption (the writer syncs a
//!   segment before it writes into the next one).

use std::fmt;

/// Size of the fixed frame header in bytes.
pub const HEADER_LEN: usize = 32;
/// Frames start at multiples of this many bytes.
pub const ALIGN: usize = 8;
/// The non-zero marker at header offset 8 (the bytes `JRNL`).
pub const MAGIC: u32 = 0x4C4E_524A;
/// The format version written by this code. The flags field was "reserved, must be zero" in
/// the first builds of version 1; defining bit 0 kept the version (older builds of this crate
/// would reject flagged frames as damaged; no such reader is deployed).
pub const FORMAT_VERSION: u8 = 1;
/// Header flag: this frame is the first of a sync unit (see the module docs).
pub const SYNC_UNIT_START: u16 = 1;
/// Every flag bit this version defines; frames with other bits set are not valid.
pub const KNOWN_FLAGS: u16 = SYNC_UNIT_START;

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
    /// Header flags (see [`SYNC_UNIT_START`]).
    pub flags: u16,
}

impl FrameHeader {
    /// Bytes this frame occupies on disk.
    pub fn frame_len(&self) -> usize {
        frame_len(self.payload_len as usize)
    }

    /// Whether this frame starts a sync unit.
    pub fn is_sync_unit_start(&self) -> bool {
        self.flags & SYNC_UNIT_START != 0
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
    // rest[6..8]: flags, zero here; the writer marks sync-unit starts.
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
    let flags = u16::from_le_bytes([h[14], h[15]]);
    if flags & !KNOWN_FLAGS != 0 {
        return FrameCheck::Damaged("unknown header flags");
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
        flags,
    })
}

/// Sets [`SYNC_UNIT_START`] on the encoded frame at the start of `frame` and recomputes its
/// CRC (one record's checksum). `frame` must start with a complete frame this crate encoded.
pub(crate) fn mark_sync_unit_start(frame: &mut [u8]) {
    let payload_len = u32_at(frame, 0) as usize;
    let flags = u16::from_le_bytes([frame[14], frame[15]]) | SYNC_UNIT_START;
    frame[14..16].copy_from_slice(&flags.to_le_bytes());
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&frame[HEADER_LEN..HEADER_LEN + payload_len]);
    hasher.update(&frame[8..HEADER_LEN]);
    let crc = hasher.finalize();
    frame[4..8].copy_from_slice(&crc.to_le_bytes());
}

/// The index field of the header at the start of `header`, unverified (used to skip frames
/// that could not matter before paying for their checksum).
pub(crate) fn unchecked_index(header: &[u8]) -> u64 {
    u64_at(header, 24)
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
    fn marking_a_sync_unit_start_keeps_the_frame_valid_and_unknown_flags_are_damage() {
        for len in [0usize, 5, 100] {
            let payload = vec![7u8; len];
            let mut out = Vec::new();
            encode_frame(
                &mut out,
                RecordKind::Command,
                0,
                9,
                &payload,
                crc32fast::hash(&payload),
            );
            match check_frame(&out) {
                FrameCheck::Valid(h) => assert!(!h.is_sync_unit_start()),
                other => panic!("{other:?}"),
            }
            let unmarked = out.clone();
            mark_sync_unit_start(&mut out);
            assert_eq!(
                &out[8..],
                &unmarked[8..]
                    .iter()
                    .enumerate()
                    .map(|(i, &b)| if i == 6 { b | 1 } else { b })
                    .collect::<Vec<u8>>()[..]
            );
            match check_frame(&out) {
                FrameCheck::Valid(h) => {
                    assert!(h.is_sync_unit_start());
                    assert_eq!((h.index, h.payload_len as usize), (9, len));
                }
                other => panic!("{other:?}"),
            }
            // Setting the flag without fixing the CRC is caught, and so is any unknown bit.
            let mut flag_only = unmarked.clone();
            flag_only[14] |= 1;
            assert_eq!(
                check_frame(&flag_only),
                FrameCheck::Damaged("checksum mismatch")
            );
            for bit in 1..16 {
                let mut bad = unmarked.clone();
                let flags = 1u16 << bit;
                bad[14..16].copy_from_slice(&flags.to_le_bytes());
                assert_eq!(
                    check_frame(&bad),
                    FrameCheck::Damaged("unknown header flags")
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

//! The `durable` file: the last durable index, published for followers in other processes.
//!
//! Layout (16 bytes, little-endian): durable index (u64), CRC-32 of those 8 bytes (u32),
//! magic `0x5255444A` (the bytes `JDUR`). The writer overwrites it with one `pwrite` after
//! every fdatasync. It is never fsynced itself: after an OS crash it can only be *behind* the
//! log, which is safe (a follower then waits for records that are in fact durable, until the
//! next writer republishes). A reader that sees a torn update (checksum mismatch) re-reads.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::JournalError;

/// File name of the durable-index file inside the journal directory.
pub const DURABLE_FILE_NAME: &str = "durable";
const MAGIC: u32 = 0x5255_444A;
const LEN: usize = 16;

/// Encodes a durable index.
pub fn encode(index: u64) -> [u8; LEN] {
    let mut b = [0u8; LEN];
    b[0..8].copy_from_slice(&index.to_le_bytes());
    let crc = crc32fast::hash(&index.to_le_bytes());
    b[8..12].copy_from_slice(&crc.to_le_bytes());
    b[12..16].copy_from_slice(&MAGIC.to_le_bytes());
    b
}

/// Decodes a durable index; `None` if the bytes are not a complete, valid update.
pub fn decode(b: &[u8]) -> Option<u64> {
    if b.len() < LEN {
        return None;
    }
    let mut idx = [0u8; 8];
    idx.copy_from_slice(&b[0..8]);
    let mut crc = [0u8; 4];
    crc.copy_from_slice(&b[8..12]);
    let mut magic = [0u8; 4];
    magic.copy_from_slice(&b[12..16]);
    (u32::from_le_bytes(magic) == MAGIC && u32::from_le_bytes(crc) == crc32fast::hash(&idx))
        .then(|| u64::from_le_bytes(idx))
}

/// The writer's handle on the durable file.
#[derive(Debug)]
pub(crate) struct DurableFile {
    file: File,
    path: PathBuf,
}

impl DurableFile {
    /// Creates or opens the file and stores `index` in it.
    pub fn create(dir: &Path, index: u64) -> Result<Self, JournalError> {
        let path = dir.join(DURABLE_FILE_NAME);
        let file = crate::segment::open_or_create_rw(&path, "open durable file")?;
        let me = DurableFile { file, path };
        me.publish(index)?;
        Ok(me)
    }

    /// Overwrites the stored index (one pwrite, no fsync).
    pub fn publish(&self, index: u64) -> Result<(), JournalError> {
        self.file
            .write_all_at(&encode(index), 0)
            .map_err(|e| JournalError::io("write durable file", &self.path, e))
    }
}

/// Reads the durable index another process published; `Ok(None)` when the file does not exist
/// yet. Retries a few times on a torn read before giving up with `Ok(None)`.
pub fn read(dir: &Path) -> Result<Option<u64>, JournalError> {
    let path = dir.join(DURABLE_FILE_NAME);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(JournalError::io("open durable file", &path, e)),
    };
    read_from(&file, &path)
}

/// Like [`read`] on an already open file.
pub fn read_from(file: &File, path: &Path) -> Result<Option<u64>, JournalError> {
    let mut buf = [0u8; LEN];
    for _ in 0..8 {
        let n = file
            .read_at(&mut buf, 0)
            .map_err(|e| JournalError::io("read durable file", path, e))?;
        if let Some(index) = decode(&buf[..n]) {
            return Ok(Some(index));
        }
        std::thread::yield_now();
    }
    Ok(None)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_torn_detection() {
        for i in [0u64, 1, 77, u64::MAX] {
            assert_eq!(decode(&encode(i)), Some(i));
        }
        let mut b = encode(5);
        b[0] = 6;
        assert_eq!(decode(&b), None);
        assert_eq!(decode(&encode(5)[..10]), None);
        assert_eq!(decode(&[0u8; 16]), None);
    }
}

//! THE bincode configuration of the project, and encode/decode helpers.
//!
//! Every crate that puts matcher types into bytes (the journal's payloads, snapshots, event
//! streams, the state hash) must go through this module so that the bytes are identical
//! everywhere. The configuration is bincode 2.0.1 `standard()` with, spelled out:
//! * little-endian byte order,
//! * variable-length (varint) integer encoding,
//! * a decode size limit of [`MAX_DECODE_BYTES`] (a corrupt length prefix cannot make a
//!   decoder allocate more than that).
//!
//! Every top-level record (command, event, snapshot) is prefixed by the `u16` schema version
//! ([`SCHEMA_VERSION`]); decoding refuses any other version.

use crate::command::{SequencedCommand, SCHEMA_VERSION};
use crate::event::Event;
use crate::snapshot::Snapshot;
use bincode::config::{Configuration, LittleEndian, Varint};
use bincode::{Decode, Encode};

/// Largest structure the decoders accept, in bytes (1 GiB: snapshots can be large).
pub const MAX_DECODE_BYTES: usize = 1 << 30;

/// The project's bincode configuration type.
pub type Config = Configuration<LittleEndian, Varint, bincode::config::Limit<MAX_DECODE_BYTES>>;

/// The project's bincode configuration.
pub const fn config() -> Config {
    bincode::config::standard()
        .with_little_endian()
        .with_variable_int_encoding()
        .with_limit::<MAX_DECODE_BYTES>()
}

/// Errors of the codec helpers.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// Encoding failed (cannot happen for in-memory buffers except on size limits).
    #[error("encode: {0}")]
    Encode(#[from] bincode::error::EncodeError),
    /// The bytes are not a valid record.
    #[error("decode: {0}")]
    Decode(#[from] bincode::error::DecodeError),
    /// The record has a schema version this build does not understand.
    #[error("unsupported schema version {found} (this build reads {expected})")]
    UnsupportedVersion {
        /// Version in the record.
        found: u16,
        /// Version this build reads.
        expected: u16,
    },
    /// Bytes left over after the record.
    #[error("{0} trailing bytes after the record")]
    TrailingBytes(usize),
}

fn encode_versioned<T: Encode>(value: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
    bincode::encode_into_std_write(SCHEMA_VERSION, out, config())?;
    bincode::encode_into_std_write(value, out, config())?;
    Ok(())
}

fn decode_versioned<T: Decode<()>>(bytes: &[u8]) -> Result<T, CodecError> {
    let (version, used): (u16, usize) = bincode::decode_from_slice(bytes, config())?;
    if version != SCHEMA_VERSION {
        return Err(CodecError::UnsupportedVersion {
            found: version,
            expected: SCHEMA_VERSION,
        });
    }
    let rest = &bytes[used..];
    let (value, used_body): (T, usize) = bincode::decode_from_slice(rest, config())?;
    if used_body != rest.len() {
        return Err(CodecError::TrailingBytes(rest.len() - used_body));
    }
    Ok(value)
}

/// Appends the versioned encoding of a command to `out`.
pub fn encode_command(cmd: &SequencedCommand, out: &mut Vec<u8>) -> Result<(), CodecError> {
    encode_versioned(cmd, out)
}

/// Decodes one versioned command record (the whole slice).
pub fn decode_command(bytes: &[u8]) -> Result<SequencedCommand, CodecError> {
    decode_versioned(bytes)
}

/// Appends the versioned encoding of an event to `out`.
pub fn encode_event(event: &Event, out: &mut Vec<u8>) -> Result<(), CodecError> {
    encode_versioned(event, out)
}

/// Decodes one versioned event record (the whole slice).
pub fn decode_event(bytes: &[u8]) -> Result<Event, CodecError> {
    decode_versioned(bytes)
}

/// Appends the versioned encoding of a snapshot to `out`.
pub fn encode_snapshot(snapshot: &Snapshot, out: &mut Vec<u8>) -> Result<(), CodecError> {
    encode_versioned(snapshot, out)
}

/// Decodes one versioned snapshot record (the whole slice).
pub fn decode_snapshot(bytes: &[u8]) -> Result<Snapshot, CodecError> {
    decode_versioned(bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::command::Command;
    use crate::ids::AccountId;

    #[test]
    fn command_round_trip_and_version_check() {
        let cmd = SequencedCommand {
            seq: 7,
            ts_ms: 1_700_000_000_000,
            command: Command::SetFeeAccount {
                account: AccountId(3),
            },
        };
        let mut buf = Vec::new();
        encode_command(&cmd, &mut buf).unwrap();
        assert_eq!(decode_command(&buf).unwrap(), cmd);

        let mut bad = buf.clone();
        bad[0] = 9; // version 9
        assert!(matches!(
            decode_command(&bad),
            Err(CodecError::UnsupportedVersion {
                found: 9,
                expected: SCHEMA_VERSION
            })
        ));
        // Version 1 (cancel-replace as three events) is no longer read.
        assert_eq!(buf[0], 2, "varint u16 2 is one byte");
        bad[0] = 1;
        assert!(matches!(
            decode_command(&bad),
            Err(CodecError::UnsupportedVersion {
                found: 1,
                expected: 2
            })
        ));
        let mut long = buf.clone();
        long.push(0);
        assert!(matches!(
            decode_command(&long),
            Err(CodecError::TrailingBytes(1))
        ));
        assert!(decode_command(&buf[..buf.len() - 1]).is_err());
    }
}

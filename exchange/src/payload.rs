//! Human-readable rendering of journal payloads for `exchange journal dump`.
//!
//! Command and event records are decoded with the schema's one codec (`matcher::codec`) and
//! shown as their debug form on one line; anything else, or a payload that does not decode,
//! is shown as a hex preview (with the decode error, which is worth seeing in a dump).

use std::fmt::Write as _;

use journal::{Record, RecordKind};
use matcher::codec;

/// How many payload bytes an undecodable record shows in hex.
const HEX_PREVIEW: usize = 32;

/// Describes a record's payload: decoded where the schema is known, else a hex preview.
pub fn describe(record: &Record) -> String {
    let decoded = match record.kind {
        RecordKind::Command => codec::decode_command(&record.payload).map(|c| format!("{c:?}")),
        RecordKind::Event => codec::decode_event(&record.payload).map(|e| format!("{e:?}")),
        RecordKind::Noop | RecordKind::Other(_) => return hex_preview(&record.payload),
    };
    match decoded {
        Ok(text) => text,
        Err(err) => format!("{} (undecodable: {err})", hex_preview(&record.payload)),
    }
}

fn hex_preview(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(2 * HEX_PREVIEW + 8);
    out.push_str("hex=");
    for b in bytes.iter().take(HEX_PREVIEW) {
        let _ = write!(out, "{b:02x}");
    }
    if bytes.len() > HEX_PREVIEW {
        out.push_str("..");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use matcher::{AccountId, Command, SequencedCommand};

    fn record(kind: RecordKind, payload: Vec<u8>) -> Record {
        Record {
            index: 1,
            term: 0,
            kind,
            version: 1,
            payload,
        }
    }

    #[test]
    fn commands_are_decoded_and_garbage_is_shown_as_hex_with_the_error() {
        let cmd = SequencedCommand {
            seq: 7,
            ts_ms: 1_700_000_000_000,
            command: Command::SetFeeAccount {
                account: AccountId(3),
            },
        };
        let mut bytes = Vec::new();
        codec::encode_command(&cmd, &mut bytes).expect("encode");
        let text = describe(&record(RecordKind::Command, bytes));
        assert!(text.starts_with("SequencedCommand { seq: 7,"), "{text}");
        assert!(text.contains("SetFeeAccount"), "{text}");

        let text = describe(&record(RecordKind::Event, b"record-2".to_vec()));
        assert!(
            text.starts_with("hex=7265636f72642d32 (undecodable: "),
            "{text}"
        );
        assert_eq!(
            describe(&record(RecordKind::Noop, vec![0xab; 40])),
            format!("hex={}..", "ab".repeat(32))
        );
    }
}

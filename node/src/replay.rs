//! Offline replay: the state the commands journal alone determines (invariant 1), and a
//! byte-for-byte comparison of the events it implies with the events journal (invariant 2).

use crate::genesis::read_genesis;
use crate::matcher_thread::hex;
use crate::{Engine, NodeError};
use journal::JournalReader;
use matcher::codec;
use std::path::Path;

/// What a replay found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayReport {
    /// Commands applied.
    pub commands: u64,
    /// Sequence of the last command.
    pub last_cmd_seq: u64,
    /// Sequence of the last event.
    pub last_event_seq: u64,
    /// The state hash after the last command (hex SHA-256).
    pub state_hash: String,
    /// Events compared with the events journal (those it holds).
    pub events_compared: u64,
    /// The first event whose bytes differ from the events journal's record, if any.
    pub first_event_mismatch: Option<u64>,
}

/// Replays the commands journal of `data_dir` from its first command on a fresh engine with
/// the recorded genesis parameters, comparing each event with the events journal when
/// `compare_events` is set. Reads the journals without locking them: run it on a stopped
/// node's directory (or a copy), or accept that a running node's newest records may be
/// missed.
pub fn replay(data_dir: &Path, compare_events: bool) -> Result<ReplayReport, NodeError> {
    let genesis = read_genesis(data_dir)?.ok_or_else(|| {
        NodeError::Recovery(format!(
            "{} has no {} (not a node data directory)",
            data_dir.display(),
            crate::genesis::GENESIS_FILE
        ))
    })?;
    let mut engine = Engine::new(genesis);
    let mut commands = JournalReader::open(data_dir.join("commands"), 1)?;
    let mut events = if compare_events {
        Some(JournalReader::open(data_dir.join("events"), 1)?)
    } else {
        None
    };
    let mut report = ReplayReport {
        commands: 0,
        last_cmd_seq: 0,
        last_event_seq: 0,
        state_hash: String::new(),
        events_compared: 0,
        first_event_mismatch: None,
    };
    let mut out = Vec::new();
    let mut buf = Vec::new();
    let mut events_exhausted = false;
    while let Some(record) = commands.try_next()? {
        let cmd = codec::decode_command(&record.payload)?;
        if cmd.seq != record.index {
            return Err(NodeError::Recovery(format!(
                "command at index {} carries sequence {}",
                record.index, cmd.seq
            )));
        }
        engine.apply(&cmd, &mut out);
        report.commands += 1;
        if let Some(reader) = events.as_mut() {
            for e in &out {
                if events_exhausted {
                    break;
                }
                let Some(stored) = reader.try_next()? else {
                    events_exhausted = true;
                    break;
                };
                buf.clear();
                codec::encode_event(e, &mut buf)?;
                report.events_compared += 1;
                if stored.index != e.seq || stored.payload != buf {
                    report.first_event_mismatch.get_or_insert(e.seq);
                }
            }
        }
        out.clear();
    }
    report.last_cmd_seq = engine.last_cmd_seq();
    report.last_event_seq = engine.last_event_seq();
    report.state_hash = hex(&engine.state_hash());
    Ok(report)
}

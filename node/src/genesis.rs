//! Start-up: the genesis parameters, the newest snapshot, and the replay of the commands
//! journal after it.

use crate::config::NodeConfig;
use crate::matcher_thread::{encode_events, flush_events};
use crate::projection::Projection;
use crate::snapshots;
use crate::{CommandEvents, Engine, NodeError};
use journal::{Journal, JournalConfig};
use matcher::{codec, EngineConfig};
use std::path::Path;

/// The file in the data directory that fixes the engine's genesis parameters.
pub const GENESIS_FILE: &str = "genesis.txt";

/// The recovered state, ready to run.
pub(crate) struct Recovered<P> {
    pub engine: Engine,
    pub projection: P,
    pub commands: Journal,
    pub events: Journal,
    /// Commands replayed from the journal after the snapshot.
    pub replayed: u64,
}

fn parse_genesis(text: &str) -> Result<EngineConfig, String> {
    let mut config = EngineConfig::default();
    let (mut fee, mut max) = (None, None);
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| format!("line {line:?} is not key=value"))?;
        let value = value.trim();
        match key.trim() {
            "fee_account" => {
                fee = Some(
                    value
                        .parse::<u64>()
                        .map_err(|e| format!("fee_account: {e}"))?,
                )
            }
            "max_open_orders_per_account" => {
                max = Some(
                    value
                        .parse::<u32>()
                        .map_err(|e| format!("max_open_orders_per_account: {e}"))?,
                )
            }
            other => return Err(format!("unknown key {other:?}")),
        }
    }
    config.fee_account = matcher::AccountId(fee.ok_or("fee_account missing")?);
    config.max_open_orders_per_account = max.ok_or("max_open_orders_per_account missing")?;
    Ok(config)
}

fn render_genesis(config: &EngineConfig) -> String {
    format!(
        "# Engine genesis parameters, fixed when this data directory was created.\n\
         fee_account={}\nmax_open_orders_per_account={}\n",
        config.fee_account.0, config.max_open_orders_per_account
    )
}

/// Reads the genesis parameters of `data_dir` (None when the directory has none yet).
pub fn read_genesis(data_dir: &Path) -> Result<Option<EngineConfig>, NodeError> {
    let path = data_dir.join(GENESIS_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_genesis(&text)
            .map(Some)
            .map_err(|e| NodeError::Recovery(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(NodeError::io("read", path, e)),
    }
}

/// The genesis parameters: the recorded ones, or `wanted` recorded now (atomically) when the
/// directory is new.
fn genesis(data_dir: &Path, wanted: &EngineConfig) -> Result<EngineConfig, NodeError> {
    if let Some(recorded) = read_genesis(data_dir)? {
        if recorded != *wanted {
            tracing::warn!(
                ?recorded,
                ?wanted,
                "engine parameters differ from the ones this data directory was created with; \
                 keeping the recorded ones"
            );
        }
        return Ok(recorded);
    }
    let path = data_dir.join(GENESIS_FILE);
    let tmp = data_dir.join(format!("{GENESIS_FILE}.tmp"));
    std::fs::write(&tmp, render_genesis(wanted)).map_err(|e| NodeError::io("write", &tmp, e))?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| NodeError::io("fsync", &tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| NodeError::io("rename", &path, e))?;
    journal::segment::fsync_dir(data_dir)?;
    Ok(*wanted)
}

fn journal_config(dir: std::path::PathBuf, config: &NodeConfig) -> JournalConfig {
    let mut c = JournalConfig::new(dir);
    c.segment_bytes = config.segment_bytes;
    c
}

/// Restores the newest valid snapshot of `commands_dir` into an engine and projection.
fn load_snapshot<P: Projection>(
    commands_dir: &Path,
    genesis: EngineConfig,
    projection: &mut P,
) -> Result<Engine, NodeError> {
    let Some((index, bytes)) = journal::snapshot::latest_snapshot(commands_dir)? else {
        return Ok(Engine::new(genesis));
    };
    let (engine_bytes, projection_bytes) = snapshots::split(&bytes)?;
    let engine = Engine::restore_from_bytes(engine_bytes)
        .map_err(|e| NodeError::Recovery(format!("snapshot {index}: {e}")))?;
    if engine.last_cmd_seq() != index {
        return Err(NodeError::Recovery(format!(
            "snapshot {index} holds the state after command {}",
            engine.last_cmd_seq()
        )));
    }
    if let Err(e) = projection.load(projection_bytes) {
        tracing::warn!(index, error = %e, "snapshot's projection unusable; seeding it from the engine");
        projection.seed(&engine);
    }
    tracing::info!(index, "snapshot loaded");
    Ok(engine)
}

pub(crate) fn recover<P: Projection>(
    config: &NodeConfig,
    mut projection: P,
) -> Result<Recovered<P>, NodeError> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| NodeError::io("create data directory", &config.data_dir, e))?;
    let genesis = genesis(&config.data_dir, &config.engine)?;
    let commands = Journal::open(journal_config(config.commands_dir(), config))?;
    // The events journal need not sync as eagerly: every event is a function of durable
    // commands (recovery rebuilds any it lost), so its fsyncs are grouped to leave the device
    // to the commands journal, whose fsync is on every acknowledgement's path.
    let mut events_config = journal_config(config.events_dir(), config);
    events_config.batch_wait = config.events_sync_interval;
    let events = Journal::open(events_config)?;
    let mut engine = load_snapshot(&config.commands_dir(), genesis, &mut projection)?;
    let last_command = commands.next_index() - 1;
    if engine.last_cmd_seq() > last_command {
        return Err(NodeError::Recovery(format!(
            "the snapshot covers command {} but the commands journal ends at {last_command}",
            engine.last_cmd_seq()
        )));
    }
    let mut reader = commands.reader(engine.last_cmd_seq() + 1)?;
    let events_next = events.next_index();
    if events_next <= engine.last_event_seq() {
        return Err(NodeError::Recovery(format!(
            "the events journal ends at event {} but the snapshot covers events up to {}",
            events_next - 1,
            engine.last_event_seq()
        )));
    }
    let mut out = Vec::new();
    let (mut payloads, mut spare) = (Vec::new(), Vec::new());
    let mut first_pending = 0u64;
    let mut replayed = 0u64;
    while let Some(record) = reader.try_next()? {
        let cmd = codec::decode_command(&record.payload)?;
        if cmd.seq != record.index {
            return Err(NodeError::Recovery(format!(
                "command at index {} carries sequence {}",
                record.index, cmd.seq
            )));
        }
        engine.apply(&cmd, &mut out);
        // Events the events journal already has are skipped; the rest are appended.
        let fresh: Vec<_> = out
            .iter()
            .filter(|e| e.seq >= events_next)
            .cloned()
            .collect();
        if !fresh.is_empty() && payloads.is_empty() {
            first_pending = fresh[0].seq;
        }
        encode_events(&fresh, &mut payloads, &mut spare)?;
        if payloads.len() >= 4096 {
            flush_events(&events, first_pending, &mut payloads, &mut spare)?;
        }
        projection.apply(&CommandEvents {
            seq: cmd.seq,
            ts_ms: cmd.ts_ms,
            events: std::mem::take(&mut out),
        });
        replayed += 1;
    }
    flush_events(&events, first_pending, &mut payloads, &mut spare)?;
    if events.next_index() != engine.last_event_seq() + 1 {
        return Err(NodeError::Recovery(format!(
            "the events journal ends at event {} but the commands replay to event {}",
            events.next_index() - 1,
            engine.last_event_seq()
        )));
    }
    if replayed > 0 {
        events.wait_durable_blocking(engine.last_event_seq())?;
    }
    engine
        .check_invariants()
        .map_err(|e| NodeError::Recovery(format!("recovered state breaks an invariant: {e}")))?;
    Ok(Recovered {
        engine,
        projection,
        commands,
        events,
        replayed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genesis_text_round_trips_and_rejects_garbage() {
        let c = EngineConfig {
            fee_account: matcher::AccountId(7),
            max_open_orders_per_account: 33,
        };
        assert_eq!(parse_genesis(&render_genesis(&c)), Ok(c));
        assert!(parse_genesis("fee_account=1").is_err());
        assert!(parse_genesis("fee_account=x\nmax_open_orders_per_account=1").is_err());
        assert!(parse_genesis("bogus=1\nfee_account=1\nmax_open_orders_per_account=1").is_err());
    }
}

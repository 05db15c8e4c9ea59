//! Node configuration.

use matcher::{Command, EngineConfig};
use std::path::PathBuf;

/// How a node runs. Paths under `data_dir`: `commands/` (the commands journal and its
/// `snapshots/`), `events/` (the events journal) and `genesis.bin` (the engine parameters fixed
/// when the commands journal was created).
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Directory for journals and snapshots (created if missing).
    pub data_dir: PathBuf,
    /// Engine parameters used when the node is created. On later starts the ones recorded in
    /// `genesis.bin` win (a different value here is logged and ignored), so that replaying the
    /// commands journal always starts from the same genesis.
    pub engine: EngineConfig,
    /// Commands journaled once, when the commands journal is empty (assets, symbols, demo
    /// deposits). Their events go out like any other.
    pub genesis: Vec<Command>,
    /// Take a snapshot after this many commands since the last one (0: only on shutdown).
    pub snapshot_every: u64,
    /// Valid snapshots kept (older ones are deleted); at least 1.
    pub snapshots_kept: usize,
    /// Retire commands-journal segments wholly covered by the oldest kept snapshot. Off by
    /// default: keeping the whole journal lets [`crate::replay`] recompute the state from the
    /// first command.
    pub retire_journal_segments: bool,
    /// Capacity of the request queue in front of the matcher thread; a submit that finds it full
    /// fails at once with [`crate::NodeError::Overloaded`].
    pub request_queue: usize,
    /// Most requests sequenced into one append.
    pub max_batch: usize,
    /// Capacity (in commands) of the broadcast ring of events; a subscriber that falls further
    /// behind is told how many it missed (`RecvError::Lagged`).
    pub fanout_capacity: usize,
    /// Size of each journal segment, bytes (a multiple of 8).
    pub segment_bytes: u64,
    /// How long the events journal's writer lets appends gather before one write + fdatasync
    /// (`None`: sync whatever is queued at once). The events are a function of the durable
    /// commands, so this delays only downstream readers of the events journal, never an
    /// acknowledgement.
    pub events_sync_interval: Option<std::time::Duration>,
}

impl NodeConfig {
    /// Defaults for a node in `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        NodeConfig {
            data_dir: data_dir.into(),
            engine: EngineConfig::default(),
            genesis: Vec::new(),
            snapshot_every: 1_000_000,
            snapshots_kept: 2,
            retire_journal_segments: false,
            request_queue: 65_536,
            max_batch: 4096,
            fanout_capacity: 65_536,
            segment_bytes: 64 << 20,
            events_sync_interval: Some(std::time::Duration::from_millis(2)),
        }
    }

    /// The commands journal's directory.
    pub fn commands_dir(&self) -> PathBuf {
        self.data_dir.join("commands")
    }

    /// The events journal's directory.
    pub fn events_dir(&self) -> PathBuf {
        self.data_dir.join("events")
    }
}

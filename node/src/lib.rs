//! The exchange node's core: everything between a decoded request and the matcher's events,
//! with no JSON and no sockets (those belong to the gateway and md-push).
//!
//! ```text
//! submit(Command): under the sequencer's lock, on the submitting thread: stamp seq + time,
//!                  append to the commands journal (group commit by the journal's writer
//!                  thread), queue for the matcher (bounded inbox, in sequence order)
//!   --> matcher thread, a batch at a time: wait until durable, Engine::apply, update the
//!       projection, append events to the events journal, reply to the submitter,
//!       broadcast the command's events (bounded ring)
//! ```
//!
//! * [`Node::start`] recovers: newest valid snapshot, then the commands journal after it (the
//!   events of replayed commands that the events journal lacks are appended), then the genesis
//!   commands when the journal is empty.
//! * [`NodeHandle::submit`] resolves only after the command is durable **and** applied
//!   (durable before visible); [`NodeHandle::query`] runs a closure on the matcher thread,
//!   ordered after every command submitted before it.
//! * Snapshots are taken every [`NodeConfig::snapshot_every`] commands and on
//!   [`Node::shutdown`], written by a background thread after the events they cover are
//!   durable.
//! * [`replay`] recomputes the state from the commands journal alone, offline.

mod config;
mod error;
mod genesis;
mod inbox;
mod matcher_thread;
pub mod metrics;
mod node;
mod projection;
pub mod replay;
mod sequencer;
mod snapshots;

pub use config::NodeConfig;
pub use error::NodeError;
pub use genesis::{read_genesis, GENESIS_FILE};
pub use metrics::{NodeMetrics, OrderOutcomes};
pub use node::{Applied, DeferredWakes, Node, NodeHandle, ShutdownReport};
pub use projection::{Capture, Encode, NoProjection, Projection};

use matcher::Event;

/// The events of one command, in order, as the matcher emitted them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandEvents {
    /// The command's sequence number (its index in the commands journal).
    pub seq: u64,
    /// The sequencer's timestamp of the command, milliseconds since the Unix epoch.
    pub ts_ms: u64,
    /// The events (possibly empty for a command that changed nothing and reported nothing).
    pub events: Vec<Event>,
}

/// The engine type the node runs.
pub type Engine = matcher::Engine;

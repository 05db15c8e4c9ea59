//! The matcher thread: takes journaled requests from the inbox in order, applies durable
//! commands, keeps the projection, writes the events journal, replies and broadcasts.

use crate::config::NodeConfig;
use crate::inbox::Inbox;
use crate::node::Shared;
use crate::projection::Projection;
use crate::sequencer::Work;
use crate::snapshots::{SnapshotJob, Snapshotter};
use crate::{CommandEvents, Engine, NodeError};
use journal::{Journal, RecordKind};
use matcher::codec;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use tokio::sync::broadcast;

/// How the matcher thread ended.
#[derive(Debug)]
pub(crate) struct MatcherReport {
    pub last_cmd_seq: u64,
    pub last_event_seq: u64,
    pub state_hash: String,
    pub snapshot: Option<u64>,
}

/// Appends one command's events to the events journal's pending payloads, checking that the
/// journal's indexes stay equal to the event sequence numbers.
pub(crate) fn encode_events(
    events: &[matcher::Event],
    payloads: &mut Vec<Vec<u8>>,
    spare: &mut Vec<Vec<u8>>,
) -> Result<(), NodeError> {
    for e in events {
        let mut buf = spare.pop().unwrap_or_default();
        buf.clear();
        codec::encode_event(e, &mut buf)?;
        payloads.push(buf);
    }
    Ok(())
}

/// Appends pending event payloads; `first_seq` is the sequence of the first of them.
pub(crate) fn flush_events(
    events: &Journal,
    first_seq: u64,
    payloads: &mut Vec<Vec<u8>>,
    spare: &mut Vec<Vec<u8>>,
) -> Result<(), NodeError> {
    if payloads.is_empty() {
        return Ok(());
    }
    let first = events.append_batch(RecordKind::Event, payloads)?;
    if first != first_seq {
        return Err(NodeError::Recovery(format!(
            "events journal assigned index {first} to event {first_seq}"
        )));
    }
    spare.append(payloads);
    spare.truncate(4096);
    Ok(())
}

/// Runs a caller's closure (a reply or a query: it only reads the engine and the projection,
/// so it cannot leave them half-changed). A panic in it is logged and swallowed: its caller
/// loses its answer (its channel is dropped), the exchange goes on.
fn guard(what: &'static str, f: impl FnOnce()) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(f)) {
        let msg = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        tracing::error!(what, panic = %msg, "a caller's closure panicked on the matcher thread");
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn run<P: Projection>(
    config: NodeConfig,
    mut engine: Engine,
    mut projection: P,
    inbox: Arc<Inbox<Work<P>>>,
    shared: Arc<Shared>,
    fanout: broadcast::Sender<Arc<CommandEvents>>,
) -> Result<MatcherReport, NodeError> {
    let snapshotter = Snapshotter::start(&config, shared.events.clone(), shared.commands.clone())?;
    let result = catch_unwind(AssertUnwindSafe(|| {
        main_loop(
            &config,
            &mut engine,
            &mut projection,
            &inbox,
            &shared,
            &fanout,
            &snapshotter,
        )
    }));
    let outcome = match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            shared.fail(format!("matcher thread: {e}"));
            Err(e)
        }
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            shared.fail(format!("the matcher stopped (fail-stop): {msg}"));
            Err(NodeError::Failed(msg))
        }
    };
    // No more work is taken: what is still queued is dropped, so its submitters learn it.
    drop(inbox.close_and_drain());
    if let Err(e) = outcome {
        drop(snapshotter);
        return Err(e);
    }
    // Graceful stop: a final snapshot of the state after the last command.
    let last = (engine.last_cmd_seq() > 0).then(|| SnapshotJob::new(&engine, &projection));
    let snapshot = last.as_ref().map(|job| job.index);
    snapshotter.finish(last)?;
    shared
        .events
        .wait_durable_blocking(engine.last_event_seq())?;
    Ok(MatcherReport {
        last_cmd_seq: engine.last_cmd_seq(),
        last_event_seq: engine.last_event_seq(),
        state_hash: hex(&engine.state_hash()),
        snapshot,
    })
}

fn main_loop<P: Projection>(
    config: &NodeConfig,
    engine: &mut Engine,
    projection: &mut P,
    inbox: &Inbox<Work<P>>,
    shared: &Shared,
    fanout: &broadcast::Sender<Arc<CommandEvents>>,
    snapshotter: &Snapshotter,
) -> Result<(), NodeError> {
    let max_batch = config.max_batch.max(1);
    let mut applier = Applier {
        out: Vec::with_capacity(64),
        payloads: Vec::new(),
        spare: Vec::new(),
        since_snapshot: 0,
    };
    // Taken from the inbox, not yet applied, in sequence order.
    let mut taken: VecDeque<Work<P>> = VecDeque::new();
    let mut incoming = Vec::with_capacity(64);
    loop {
        if taken.is_empty() {
            if !inbox.recv_batch(max_batch, &mut incoming) {
                return Ok(());
            }
        } else if taken.len() < max_batch {
            inbox.try_recv_batch(max_batch - taken.len(), &mut incoming);
        }
        taken.extend(incoming.drain(..));
        // Apply what is durable already (queries and the stop go with the commands before
        // them); the commands journal's writer syncs the rest meanwhile. Taking the queue's
        // tail as well would hold every reply of the batch until the next sync.
        let durable = shared.commands.durable_index();
        let ready = taken
            .iter()
            .position(|w| matches!(w, Work::Command { cmd, .. } if cmd.seq > durable))
            .unwrap_or(taken.len());
        if ready == 0 {
            if let Some(Work::Command { cmd, .. }) = taken.front() {
                shared.commands.wait_durable_blocking(cmd.seq)?;
            }
            continue;
        }
        let batch: Vec<Work<P>> = taken.drain(..ready).collect();
        shared.counters.record_batch(batch.len());
        if applier.apply(
            batch,
            config,
            engine,
            projection,
            shared,
            fanout,
            snapshotter,
        )? {
            return Ok(());
        }
    }
}

/// Applies batches taken from the inbox, with the buffers it reuses between them.
struct Applier {
    out: Vec<matcher::Event>,
    payloads: Vec<Vec<u8>>,
    spare: Vec<Vec<u8>>,
    since_snapshot: u64,
}

impl Applier {
    /// Applies one batch once its commands are durable; true after a stop.
    #[allow(clippy::too_many_arguments)]
    fn apply<P: Projection>(
        &mut self,
        batch: Vec<Work<P>>,
        config: &NodeConfig,
        engine: &mut Engine,
        projection: &mut P,
        shared: &Shared,
        fanout: &broadcast::Sender<Arc<CommandEvents>>,
        snapshotter: &Snapshotter,
    ) -> Result<bool, NodeError> {
        let Applier {
            out,
            payloads,
            spare,
            since_snapshot,
        } = self;
        let last_cmd = batch.iter().rev().find_map(|w| match w {
            Work::Command { cmd, .. } => Some(cmd.seq),
            _ => None,
        });
        if let Some(last) = last_cmd {
            // Durable before visible: nothing of this batch is applied (so nothing is replied
            // or broadcast) before the commands journal has it on disk.
            shared.commands.wait_durable_blocking(last)?;
        }
        let mut first_event_seq = engine.last_event_seq() + 1;
        for work in batch {
            match work {
                Work::Command { cmd, reply } => {
                    engine.apply(&cmd, out);
                    shared.counters.count_events(out);
                    encode_events(out, payloads, spare)?;
                    let batch = Arc::new(CommandEvents {
                        seq: cmd.seq,
                        ts_ms: cmd.ts_ms,
                        events: std::mem::take(out),
                    });
                    projection.apply(&batch);
                    // A send error only means nobody subscribes right now.
                    let _ = fanout.send(Arc::clone(&batch));
                    if let Some(reply) = reply {
                        let (e, p) = (&*engine, &*projection);
                        guard("reply", || reply(Ok((batch, e, p))));
                    }
                    *since_snapshot += 1;
                }
                Work::Query(q) => {
                    flush_events(&shared.events, first_event_seq, payloads, spare)?;
                    first_event_seq = engine.last_event_seq() + 1;
                    let (e, p) = (&*engine, &*projection);
                    guard("query", || q(e, p));
                }
                Work::Stop => {
                    flush_events(&shared.events, first_event_seq, payloads, spare)?;
                    return Ok(true);
                }
            }
        }
        flush_events(&shared.events, first_event_seq, payloads, spare)?;
        if config.snapshot_every > 0
            && *since_snapshot >= config.snapshot_every
            && snapshotter.try_submit(|| SnapshotJob::new(engine, projection))?
        {
            *since_snapshot = 0;
        }
        Ok(false)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::{NoProjection, Node, NodeConfig};
    use matcher::{AccountId, AssetConfig, AssetId, Command, TxId};

    fn deposit(n: u64) -> Command {
        Command::Deposit {
            account: AccountId(1),
            asset: AssetId(1),
            amount: 1,
            tx_id: TxId::new(&format!("d{n}")).unwrap(),
        }
    }

    /// Once the stop is queued, nothing more is journaled: a command submitted after it (here
    /// before the handles stop accepting, which a shutdown does first) is refused, so a
    /// journaled command is always applied before the node stops.
    #[test]
    fn nothing_is_journaled_behind_a_stop() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = NodeConfig::new(dir.path());
        config.genesis = vec![Command::UpsertAsset(AssetConfig {
            id: AssetId(1),
            code: "BTC".into(),
            scale: 8,
        })];
        let node = Node::start(config, NoProjection).unwrap();
        let handle = node.handle();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let first = handle.enqueue(deposit(1)).unwrap();
        handle.queue_stop();
        let late = handle.enqueue(deposit(2));
        assert!(matches!(late, Err(crate::NodeError::ShuttingDown)));
        assert!(rt.block_on(first).unwrap().is_ok());
        let report = node.shutdown().unwrap();
        // The genesis command and the first deposit.
        assert_eq!(report.last_cmd_seq, 2);
        let replay = crate::replay::replay(dir.path(), true).unwrap();
        assert_eq!(replay.last_cmd_seq, 2);
    }
}

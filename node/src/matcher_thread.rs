//! The matcher thread: sequences and journals the requests from the inbox, applies durable
//! commands in order, keeps the projection, writes the events journal, replies and
//! broadcasts.

use crate::config::NodeConfig;
use crate::inbox::Inbox;
use crate::node::{Request, Shared};
use crate::projection::Projection;
use crate::sequencer::{Sequencer, Work};
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
    inbox: Arc<Inbox<Request<P>>>,
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
    inbox: &Inbox<Request<P>>,
    shared: &Shared,
    fanout: &broadcast::Sender<Arc<CommandEvents>>,
    snapshotter: &Snapshotter,
) -> Result<(), NodeError> {
    let max_batch = config.max_batch.max(1);
    let mut sequencer = Sequencer::default();
    let mut requests = Vec::with_capacity(64);
    // Journaled batches not yet applied, oldest first (at most two).
    let mut journaled: VecDeque<Vec<Work<P>>> = VecDeque::with_capacity(2);
    let mut stopping = false;
    let mut applier = Applier {
        out: Vec::with_capacity(64),
        payloads: Vec::new(),
        spare: Vec::new(),
        since_snapshot: 0,
    };
    loop {
        // Journal what waits before applying what was journaled last, so the writer syncs
        // the new batch while this thread applies the previous one. Sleep on the inbox only
        // with nothing journaled; nothing is taken behind a stop.
        let mut fresh = false;
        if !stopping {
            if journaled.is_empty() {
                if !inbox.recv_batch(max_batch, &mut requests) {
                    return Ok(());
                }
            } else {
                inbox.try_recv_batch(max_batch, &mut requests);
            }
            if !requests.is_empty() {
                shared.counters.record_batch(requests.len());
                let batch = sequencer.sequence(std::mem::take(&mut requests), shared)?;
                stopping = batch.stop;
                shared.counters.matcher_queue_push();
                journaled.push_back(batch.work);
                fresh = true;
            }
        }
        // A batch journaled just now waits for one more look at the inbox (what arrived
        // meanwhile joins the writer's next sync), unless it is all there is to do.
        if fresh && journaled.len() == 1 && !stopping && inbox.len() > 0 {
            continue;
        }
        let Some(batch) = journaled.pop_front() else {
            // Only behind a stop, which ends the loop when applied; nothing else is coming.
            return Ok(());
        };
        shared.counters.matcher_queue_pop();
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

/// Applies journaled batches, with the buffers it reuses between them.
struct Applier {
    out: Vec<matcher::Event>,
    payloads: Vec<Vec<u8>>,
    spare: Vec<Vec<u8>>,
    since_snapshot: u64,
}

impl Applier {
    /// Applies one journaled batch once its commands are durable; true after a stop.
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
    use crate::node::Request;
    use crate::{NoProjection, Node, NodeConfig};
    use matcher::{AccountId, AssetConfig, AssetId, Command, TxId};
    use std::sync::{Arc, Mutex};

    fn deposit(n: u64) -> Command {
        Command::Deposit {
            account: AccountId(1),
            asset: AssetId(1),
            amount: 1,
            tx_id: TxId::new(&format!("d{n}")).unwrap(),
        }
    }

    /// A command queued after a stop was sequenced (here: while the batch before the stop is
    /// applied) is neither journaled nor answered as applied: a journaled command is always
    /// applied before the node stops.
    #[test]
    fn nothing_queued_behind_a_stop_is_journaled() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = NodeConfig::new(dir.path());
        config.genesis = vec![Command::UpsertAsset(AssetConfig {
            id: AssetId(1),
            code: "BTC".into(),
            scale: 8,
        })];
        // One request per batch, so the stop is journaled while the command before it waits.
        config.max_batch = 1;
        let node = Node::start(config, NoProjection).unwrap();
        let handle = node.handle();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let inbox = handle.inbox();
        let late: Arc<Mutex<Option<tokio::sync::oneshot::Receiver<u64>>>> = Arc::default();
        let late_rx = Arc::clone(&late);
        // On the matcher thread (so nothing is taken meanwhile): queue a command whose reply
        // queues another command, then a stop.
        rt.block_on(handle.query(move |_, _| {
            let inner = Arc::clone(&inbox);
            let first: crate::node::Reply<NoProjection> = Box::new(move |_| {
                let (tx, rx) = tokio::sync::oneshot::channel();
                *late_rx.lock().unwrap() = Some(rx);
                let reply: crate::node::Reply<NoProjection> = Box::new(move |applied| {
                    if let Ok((events, _, _)) = applied {
                        let _ = tx.send(events.seq);
                    }
                });
                let command = deposit(2);
                let late = Request::Command {
                    command,
                    reply: Some(reply),
                };
                assert!(inner.push(late, false).is_ok());
            });
            let first = Request::Command {
                command: deposit(1),
                reply: Some(first),
            };
            assert!(inbox.push(first, false).is_ok());
            assert!(inbox.push(Request::Stop, false).is_ok());
        }))
        .unwrap();
        // The shutdown's own stop goes in only after the late command.
        let rx = loop {
            if let Some(rx) = late.lock().unwrap().take() {
                break rx;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        };
        let report = node.shutdown().unwrap();
        // The genesis command and the first deposit; the late one was dropped unjournaled.
        assert_eq!(report.last_cmd_seq, 2);
        assert!(rt.block_on(rx).is_err());
        let replay = crate::replay::replay(dir.path(), true).unwrap();
        assert_eq!(replay.last_cmd_seq, 2);
    }
}

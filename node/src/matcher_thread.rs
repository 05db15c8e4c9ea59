//! The matcher thread: applies durable commands in order, keeps the projection, writes the
//! events journal, replies and broadcasts.

use crate::config::NodeConfig;
use crate::node::Shared;
use crate::projection::Projection;
use crate::sequencer::Work;
use crate::snapshots::{SnapshotJob, Snapshotter};
use crate::{CommandEvents, Engine, NodeError};
use journal::{Journal, RecordKind};
use matcher::codec;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::Receiver;
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
    work_rx: Receiver<Vec<Work<P>>>,
    shared: Arc<Shared>,
    fanout: broadcast::Sender<Arc<CommandEvents>>,
) -> Result<MatcherReport, NodeError> {
    let snapshotter = Snapshotter::start(&config, shared.events.clone(), shared.commands.clone())?;
    let result = catch_unwind(AssertUnwindSafe(|| {
        main_loop(
            &config,
            &mut engine,
            &mut projection,
            &work_rx,
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
    // No more work is taken: drop the queue so pending submitters learn it.
    drop(work_rx);
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
    work_rx: &Receiver<Vec<Work<P>>>,
    shared: &Shared,
    fanout: &broadcast::Sender<Arc<CommandEvents>>,
    snapshotter: &Snapshotter,
) -> Result<(), NodeError> {
    let mut out = Vec::with_capacity(64);
    let mut payloads: Vec<Vec<u8>> = Vec::new();
    let mut spare: Vec<Vec<u8>> = Vec::new();
    let mut since_snapshot = 0u64;
    while let Ok(batch) = work_rx.recv() {
        shared.counters.matcher_queue_pop();
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
                    engine.apply(&cmd, &mut out);
                    shared.counters.count_events(&out);
                    encode_events(&out, &mut payloads, &mut spare)?;
                    let batch = Arc::new(CommandEvents {
                        seq: cmd.seq,
                        ts_ms: cmd.ts_ms,
                        events: std::mem::take(&mut out),
                    });
                    projection.apply(&batch);
                    // A send error only means nobody subscribes right now.
                    let _ = fanout.send(Arc::clone(&batch));
                    if let Some(reply) = reply {
                        let (e, p) = (&*engine, &*projection);
                        guard("reply", || reply(Ok((batch, e, p))));
                    }
                    since_snapshot += 1;
                }
                Work::Query(q) => {
                    flush_events(&shared.events, first_event_seq, &mut payloads, &mut spare)?;
                    first_event_seq = engine.last_event_seq() + 1;
                    let (e, p) = (&*engine, &*projection);
                    guard("query", || q(e, p));
                }
                Work::Stop => {
                    flush_events(&shared.events, first_event_seq, &mut payloads, &mut spare)?;
                    return Ok(());
                }
            }
        }
        flush_events(&shared.events, first_event_seq, &mut payloads, &mut spare)?;
        if config.snapshot_every > 0
            && since_snapshot >= config.snapshot_every
            && snapshotter.try_submit(|| SnapshotJob::new(engine, projection))?
        {
            since_snapshot = 0;
        }
    }
    Ok(())
}

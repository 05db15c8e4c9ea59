//! The sequencer thread: stamps each command with its sequence number (its index in the
//! commands journal) and a timestamp, appends it, and hands it to the matcher thread in
//! order. It never waits for durability itself: the journal's writer thread group-commits
//! while the sequencer takes the next batch, and the matcher thread waits for durability
//! before applying.

use crate::inbox::Inbox;
use crate::node::{Reply, Request, Shared};
use crate::projection::Projection;
use crate::NodeError;
use journal::RecordKind;
use matcher::codec;
use matcher::SequencedCommand;
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// What the sequencer hands to the matcher thread.
pub(crate) enum Work<P> {
    /// A journaled command (durable once the journal says so).
    Command {
        cmd: SequencedCommand,
        reply: Option<Reply<P>>,
    },
    /// A query.
    Query(crate::node::QueryFn<P>),
    /// Stop after the work before it.
    Stop,
}

/// Milliseconds since the Unix epoch, never going backwards from `last`.
pub(crate) fn stamp(last: u64) -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    now.max(last)
}

pub(crate) fn run<P: Projection>(
    inbox: &Inbox<Request<P>>,
    work_tx: SyncSender<Vec<Work<P>>>,
    shared: Arc<Shared>,
    max_batch: usize,
) {
    let mut last_ts = 0u64;
    let mut payloads: Vec<Vec<u8>> = Vec::new();
    let mut spare: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut requests = Vec::with_capacity(64);
        if !inbox.recv_batch(max_batch, &mut requests) {
            return;
        }
        shared.counters.record_batch(requests.len());
        let ts = stamp(last_ts);
        last_ts = ts;
        let mut next = shared.commands.next_index();
        let mut work = Vec::with_capacity(requests.len());
        let mut stop = false;
        payloads.clear();
        for request in requests {
            if stop {
                // Anything behind a stop is dropped: its submitter learns the node is shutting
                // down (nothing of it was journaled).
                continue;
            }
            match request {
                Request::Command { command, reply } => {
                    let cmd = SequencedCommand {
                        seq: next,
                        ts_ms: ts,
                        command,
                    };
                    let mut buf = spare.pop().unwrap_or_default();
                    buf.clear();
                    if let Err(e) = codec::encode_command(&cmd, &mut buf) {
                        // Cannot happen for a well-formed command; refuse it without
                        // journaling.
                        if let Some(reply) = reply {
                            reply(Err(NodeError::Codec(e)));
                        }
                        spare.push(buf);
                        continue;
                    }
                    payloads.push(buf);
                    next += 1;
                    work.push(Work::Command { cmd, reply });
                }
                Request::Query(q) => work.push(Work::Query(q)),
                Request::Stop => {
                    work.push(Work::Stop);
                    stop = true;
                }
            }
        }
        if !payloads.is_empty() {
            match shared.commands.append_batch(RecordKind::Command, &payloads) {
                Ok(first_index) => {
                    let expected = next - payloads.len() as u64;
                    if first_index != expected {
                        shared.fail(format!(
                            "commands journal assigned index {first_index}, sequencer expected {expected}"
                        ));
                        return;
                    }
                }
                Err(e) => {
                    shared.fail(format!("commands journal append failed: {e}"));
                    return;
                }
            }
            spare.append(&mut payloads);
        }
        shared.counters.matcher_queue_push();
        if work_tx.send(work).is_err() || stop {
            return;
        }
    }
}

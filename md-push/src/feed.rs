//! The ordered, lossless event feed: the events journal to catch up, the node's broadcast
//! when live, and the journal again to fill any gap (a late start, a `Lagged` broadcast).
//!
//! Every event the node broadcasts belongs to a command that is already durable in the
//! commands journal (the node applies only durable commands), and the events journal holds
//! the same events at index == event sequence, so the feed hands out each event exactly
//! once, in sequence order, whichever source it came from.

use journal::{Journal, JournalError, JournalReader};
use matcher::Event;
use node::CommandEvents;
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::broadcast;

/// Records read from the journal per call before yielding to the runtime.
const CATCH_UP_CHUNK: usize = 4096;

/// Why the feed stopped.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// Reading the events journal failed.
    #[error("events journal: {0}")]
    Journal(#[from] JournalError),
    /// An events-journal record did not decode.
    #[error("event {index} does not decode: {reason}")]
    Decode {
        /// Journal index (= event sequence).
        index: u64,
        /// The codec's message.
        reason: String,
    },
    /// The journal's next record is not the next event (a damaged or foreign journal).
    #[error("events journal index {index} holds event {seq}")]
    OutOfOrder {
        /// Journal index.
        index: u64,
        /// The event's own sequence.
        seq: u64,
    },
}

/// One command's events (or the rest of them).
#[derive(Debug, Clone)]
pub enum Batch {
    /// From the broadcast.
    Live(Arc<CommandEvents>),
    /// From the journal.
    Replayed(Vec<Event>),
}

impl Batch {
    /// The events, in sequence order.
    pub fn events(&self) -> &[Event] {
        match self {
            Batch::Live(b) => &b.events,
            Batch::Replayed(v) => v,
        }
    }
}

#[derive(Debug)]
enum Mode {
    /// Read the journal up to its durable end, then go live.
    CatchUp,
    /// Follow the broadcast.
    Live,
    /// A live batch arrived ahead of the next sequence: read the journal up to it.
    Fill(Arc<CommandEvents>),
    /// The broadcast closed (the node stopped): read the journal to its end.
    Draining,
    /// Nothing more will come.
    Done,
}

/// The feed. [`Feed::next`] is cancel-safe (every await is on a cancel-safe source and state
/// changes happen after it returns).
#[derive(Debug)]
pub struct Feed {
    live: broadcast::Receiver<Arc<CommandEvents>>,
    journal: Journal,
    reader: Option<JournalReader>,
    next_seq: u64,
    mode: Mode,
    group: Vec<Event>,
    ready: VecDeque<Batch>,
    gaps: u64,
}

impl Feed {
    /// A feed from event `from` (1: the whole history). Subscribe `live` before calling, so
    /// that nothing falls between the journal and the broadcast.
    pub fn new(live: broadcast::Receiver<Arc<CommandEvents>>, journal: Journal, from: u64) -> Feed {
        Feed {
            live,
            journal,
            reader: None,
            next_seq: from.max(1),
            mode: Mode::CatchUp,
            group: Vec::new(),
            ready: VecDeque::new(),
            gaps: 0,
        }
    }

    /// The sequence of the next event the feed will hand out.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// How many times the broadcast skipped events (it lagged, or a live batch arrived
    /// ahead of the next sequence) and the journal filled them in.
    pub fn gaps(&self) -> u64 {
        self.gaps
    }

    /// Whether the feed is following the broadcast (caught up: nothing replayed is still
    /// waiting to be taken).
    pub fn is_live(&self) -> bool {
        matches!(self.mode, Mode::Live) && self.ready.is_empty()
    }

    /// The next batch; `None` once the node stopped and everything was read.
    pub async fn next(&mut self) -> Result<Option<Batch>, FeedError> {
        loop {
            if let Some(b) = self.ready.pop_front() {
                return Ok(Some(b));
            }
            match &self.mode {
                Mode::CatchUp | Mode::Draining => {
                    if self.catch_up_chunk()? {
                        self.flush_group();
                        self.mode = match self.mode {
                            Mode::Draining => Mode::Done,
                            _ => Mode::Live,
                        };
                    } else if self.ready.is_empty() {
                        tokio::task::yield_now().await;
                    }
                }
                Mode::Live => match self.live.recv().await {
                    Ok(b) => self.take_live(b),
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        self.gaps += 1;
                        tracing::warn!(
                            missed,
                            next_seq = self.next_seq,
                            "broadcast lagged: reading the events journal"
                        );
                        self.mode = Mode::CatchUp;
                    }
                    Err(broadcast::error::RecvError::Closed) => self.mode = Mode::Draining,
                },
                Mode::Fill(waiting) => {
                    let target = waiting.events.first().map_or(0, |e| e.seq);
                    if self.next_seq >= target {
                        self.flush_group();
                        let Mode::Fill(waiting) = std::mem::replace(&mut self.mode, Mode::Live)
                        else {
                            continue;
                        };
                        self.take_live(waiting);
                    } else {
                        self.position_reader()?;
                        let Some(reader) = self.reader.as_mut() else {
                            continue;
                        };
                        let record = reader.next().await?;
                        self.take_record(record)?;
                    }
                }
                Mode::Done => return Ok(None),
            }
        }
    }

    /// Reads up to a chunk of durable records; true when the durable end was reached.
    fn catch_up_chunk(&mut self) -> Result<bool, FeedError> {
        self.position_reader()?;
        for _ in 0..CATCH_UP_CHUNK {
            let Some(reader) = self.reader.as_mut() else {
                return Ok(true);
            };
            match reader.try_next()? {
                Some(record) => self.take_record(record)?,
                None => return Ok(true),
            }
        }
        Ok(false)
    }

    fn position_reader(&mut self) -> Result<(), FeedError> {
        if self.reader.as_ref().map(|r| r.next_index()) != Some(self.next_seq) {
            self.reader = Some(self.journal.reader(self.next_seq)?);
        }
        Ok(())
    }

    fn take_record(&mut self, record: journal::Record) -> Result<(), FeedError> {
        let event =
            matcher::codec::decode_event(&record.payload).map_err(|e| FeedError::Decode {
                index: record.index,
                reason: e.to_string(),
            })?;
        if event.seq != record.index || event.seq != self.next_seq {
            return Err(FeedError::OutOfOrder {
                index: record.index,
                seq: event.seq,
            });
        }
        if self
            .group
            .last()
            .is_some_and(|g| g.cmd_seq != event.cmd_seq)
        {
            self.flush_group();
        }
        self.next_seq = event.seq + 1;
        self.group.push(event);
        Ok(())
    }

    fn flush_group(&mut self) {
        if !self.group.is_empty() {
            self.ready
                .push_back(Batch::Replayed(std::mem::take(&mut self.group)));
        }
    }

    fn take_live(&mut self, batch: Arc<CommandEvents>) {
        let (Some(first), Some(last)) = (batch.events.first(), batch.events.last()) else {
            return;
        };
        let (first, last) = (first.seq, last.seq);
        if last < self.next_seq {
            return;
        }
        if first > self.next_seq {
            self.gaps += 1;
            self.mode = Mode::Fill(batch);
            return;
        }
        self.flush_group();
        if first == self.next_seq {
            self.ready.push_back(Batch::Live(batch));
        } else {
            let rest = batch
                .events
                .iter()
                .filter(|e| e.seq >= self.next_seq)
                .cloned()
                .collect();
            self.ready.push_back(Batch::Replayed(rest));
        }
        self.next_seq = last + 1;
    }
}

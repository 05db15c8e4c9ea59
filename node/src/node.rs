//! The node: its handle, start-up and shutdown.

use crate::config::NodeConfig;
use crate::error::NodeError;
use crate::inbox::Inbox;
use crate::matcher_thread::{self, MatcherReport};
use crate::metrics::{Counters, NodeMetrics};
use crate::projection::Projection;
use crate::sequencer::{Sequencer, Work};
use crate::{CommandEvents, Engine};
use journal::Journal;
use matcher::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use tokio::sync::{broadcast, oneshot};

/// A closure run on the matcher thread.
pub(crate) type QueryFn<P> = Box<dyn FnOnce(&Engine, &P) + Send>;

/// What the matcher thread hands to a command's reply: its events with the engine and the
/// projection right after it (nothing else applied in between), or why it was not applied.
pub type Applied<'a, P> = Result<(Arc<CommandEvents>, &'a Engine, &'a P), NodeError>;

/// The reply to a submitted command: called once on the matcher thread. Dropped uncalled
/// when the node stops.
pub(crate) type Reply<P> = Box<dyn for<'a> FnOnce(Applied<'a, P>) + Send>;

/// State shared by the handles and the threads.
#[derive(Debug)]
pub(crate) struct Shared {
    pub accepting: AtomicBool,
    pub failure: Mutex<Option<String>>,
    pub counters: Counters,
    pub commands: Journal,
    pub events: Journal,
}

impl Shared {
    /// Records a fatal failure (the first one wins) and stops accepting commands.
    pub(crate) fn fail(&self, msg: String) {
        tracing::error!(error = %msg, "node failed");
        self.accepting.store(false, Ordering::SeqCst);
        let mut f = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        if f.is_none() {
            *f = Some(msg);
        }
    }

    pub(crate) fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn closed_error(&self) -> NodeError {
        match self.failure() {
            Some(msg) => NodeError::Failed(msg),
            None => NodeError::ShuttingDown,
        }
    }
}

/// The sending side of the matcher thread's inbox: commands are sequenced and journaled
/// here, under the sequencer's lock, which also keeps the inbox in sequence order. The inbox
/// closes when the last handle drops.
struct Sender<P> {
    inbox: Arc<Inbox<Work<P>>>,
    sequencer: Mutex<Sequencer>,
}

impl<P> Sender<P> {
    fn sequencer(&self) -> std::sync::MutexGuard<'_, Sequencer> {
        self.sequencer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Journals `command` and queues it for the matcher, unless the node stops or fails, or
    /// the queue is full (checked before anything is journaled).
    fn command(
        &self,
        shared: &Shared,
        command: Command,
        reply: Option<Reply<P>>,
    ) -> Result<(), NodeError> {
        let mut sequencer = self.sequencer();
        if sequencer.stopped || !shared.accepting.load(Ordering::Acquire) {
            return Err(shared.closed_error());
        }
        if !self.inbox.has_room() {
            shared.counters.overloaded.inc();
            return Err(NodeError::Overloaded);
        }
        let cmd = sequencer.journal(command, shared)?;
        // Room was checked under the sequencer's lock, and meanwhile only the matcher thread
        // can have changed the queue (by taking from it).
        self.inbox
            .push(Work::Command { cmd, reply }, false)
            .map_err(|_| shared.closed_error())
    }

    /// Queues a query, waiting for room while the queue is full.
    async fn query(&self, shared: &Shared, job: QueryFn<P>) -> Result<(), NodeError> {
        let mut job = Some(job);
        loop {
            // Registered before the check, so room made in between is not missed.
            let room = self.inbox.room().notified();
            tokio::pin!(room);
            room.as_mut().enable();
            {
                let sequencer = self.sequencer();
                if sequencer.stopped {
                    return Err(shared.closed_error());
                }
                if self.inbox.has_room() {
                    if let Some(job) = job.take() {
                        return self
                            .inbox
                            .push(Work::Query(job), false)
                            .map_err(|_| shared.closed_error());
                    }
                }
            }
            room.await;
        }
    }

    /// Queues the stop (beyond the bound) unless one is queued already; nothing is taken
    /// after it.
    fn stop(&self) {
        let mut sequencer = self.sequencer();
        if !sequencer.stopped {
            sequencer.stopped = true;
            let _ = self.inbox.push(Work::Stop, false);
        }
    }
}

impl<P> Drop for Sender<P> {
    fn drop(&mut self) {
        self.inbox.close();
    }
}

/// A cheap, cloneable handle for submitting commands, querying state and subscribing to
/// events.
pub struct NodeHandle<P: Projection> {
    tx: Arc<Sender<P>>,
    fanout: broadcast::Sender<Arc<CommandEvents>>,
    shared: Arc<Shared>,
}

/// While alive, commands and queries this thread submits through the node's handles are
/// queued without waking the matcher thread; it is woken once when the guard drops. See
/// [`NodeHandle::defer_wakes`].
#[must_use = "the matcher thread is woken when the guard drops"]
pub struct DeferredWakes<'a, P: Projection> {
    _guard: crate::inbox::DeferWakes<'a, Work<P>>,
}

impl<P: Projection> std::fmt::Debug for DeferredWakes<'_, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeferredWakes")
    }
}

impl<P: Projection> Clone for NodeHandle<P> {
    fn clone(&self) -> Self {
        NodeHandle {
            tx: Arc::clone(&self.tx),
            fanout: self.fanout.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<P: Projection> std::fmt::Debug for NodeHandle<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeHandle")
            .field("accepting", &self.shared.accepting.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl<P: Projection> NodeHandle<P> {
    /// Submits a command. Resolves with the command's events once the command is durable in
    /// the commands journal and the matcher has applied it. Fails at once with
    /// [`NodeError::Overloaded`] when the request queue is full and with
    /// [`NodeError::ShuttingDown`] once shutdown has begun; a command that fails is not
    /// acknowledged and the caller must not report it as accepted.
    pub async fn submit(&self, command: Command) -> Result<Arc<CommandEvents>, NodeError> {
        let rx = self.enqueue(command)?;
        match rx.await {
            Ok(result) => result,
            Err(_) => Err(self.shared.closed_error()),
        }
    }

    /// Queues a command and returns the receiver of its outcome (see [`NodeHandle::submit`]).
    /// Lets a caller pipeline many commands from one task.
    pub fn enqueue(
        &self,
        command: Command,
    ) -> Result<oneshot::Receiver<Result<Arc<CommandEvents>, NodeError>>, NodeError> {
        self.enqueue_with(command, |events, _, _| events)
    }

    /// Like [`NodeHandle::enqueue`], but `after` runs on the matcher thread right after the
    /// command is applied, with its events, the engine and the projection in exactly the
    /// state the command left them (no later command applied yet), and its result is what the
    /// receiver gets. Keep `after` short: it runs on the matcher thread (copy out what you
    /// need and format it elsewhere).
    pub fn enqueue_with<R, F>(
        &self,
        command: Command,
        after: F,
    ) -> Result<oneshot::Receiver<Result<R, NodeError>>, NodeError>
    where
        R: Send + 'static,
        F: FnOnce(Arc<CommandEvents>, &Engine, &P) -> R + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let reply: Reply<P> = Box::new(move |applied: Applied<'_, P>| {
            let _ = tx.send(applied.map(|(events, engine, p)| after(events, engine, p)));
        });
        self.tx.command(&self.shared, command, Some(reply))?;
        Ok(rx)
    }

    /// Queues the stop as a shutdown does (without refusing new commands first), for tests.
    #[cfg(test)]
    pub(crate) fn queue_stop(&self) {
        self.tx.stop();
    }

    /// Defers waking the matcher thread for what this thread submits until the returned guard
    /// drops: a caller about to submit several requests in one go (a session with several
    /// frames already read) pays one wake-up instead of one per request. The guard is not
    /// `Send`, so it cannot be held across an `.await`; order and bounds are unchanged.
    pub fn defer_wakes(&self) -> DeferredWakes<'_, P> {
        DeferredWakes {
            _guard: self.tx.inbox.defer_wakes(),
        }
    }

    /// Runs `f` on the matcher thread with the engine and the projection, after every command
    /// queued before this call has been applied (commands queued later are not yet visible).
    pub async fn query<R, F>(&self, f: F) -> Result<R, NodeError>
    where
        R: Send + 'static,
        F: FnOnce(&Engine, &P) -> R + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: QueryFn<P> = Box::new(move |engine: &Engine, p: &P| {
            let _ = tx.send(f(engine, p));
        });
        // Queries are not refused for overload: they wait for room (they add no journal work).
        if let Some(msg) = self.shared.failure() {
            return Err(NodeError::Failed(msg));
        }
        self.tx.query(&self.shared, job).await?;
        rx.await.map_err(|_| self.shared.closed_error())
    }

    /// Subscribes to every command's events from now on, in order. The ring is bounded (see
    /// [`NodeConfig::fanout_capacity`]): a subscriber that falls behind gets
    /// `RecvError::Lagged` and must resynchronise (or read the events journal).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<CommandEvents>> {
        self.fanout.subscribe()
    }

    /// Whether commands are being accepted.
    pub fn is_accepting(&self) -> bool {
        self.shared.accepting.load(Ordering::Acquire)
    }

    /// The fatal error that stopped the node, if any.
    pub fn failure(&self) -> Option<String> {
        self.shared.failure()
    }

    /// Stops accepting commands (submits fail with [`NodeError::ShuttingDown`]); queued ones
    /// are still processed. The first step of a graceful shutdown.
    pub fn stop_accepting(&self) {
        self.shared.accepting.store(false, Ordering::Release);
    }

    /// A point-in-time copy of the node's counters and journal statistics.
    pub fn metrics(&self) -> NodeMetrics {
        NodeMetrics::collect(
            &self.shared,
            self.tx.inbox.len(),
            self.fanout.receiver_count(),
        )
    }

    /// The commands journal (for its durable index and readers).
    pub fn commands_journal(&self) -> &Journal {
        &self.shared.commands
    }

    /// The events journal (for readers that must not miss anything, unlike the broadcast).
    pub fn events_journal(&self) -> &Journal {
        &self.shared.events
    }
}

/// What [`Node::shutdown`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Sequence of the last command applied.
    pub last_cmd_seq: u64,
    /// Sequence of the last event emitted.
    pub last_event_seq: u64,
    /// The state hash at the end (hex).
    pub state_hash: String,
    /// The index of the snapshot written at shutdown, if one was written.
    pub snapshot: Option<u64>,
}

/// A running node: its threads and a handle.
pub struct Node<P: Projection> {
    handle: NodeHandle<P>,
    matcher: Option<JoinHandle<Result<MatcherReport, NodeError>>>,
}

impl<P: Projection> std::fmt::Debug for Node<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("handle", &self.handle)
            .finish_non_exhaustive()
    }
}

impl<P: Projection> Node<P> {
    /// Recovers the state from `config.data_dir` (or creates it) and starts the matcher
    /// thread. Blocking: call it before entering the async runtime or from
    /// `spawn_blocking`.
    pub fn start(config: NodeConfig, projection: P) -> Result<Node<P>, NodeError> {
        let recovered = crate::genesis::recover(&config, projection)?;
        let crate::genesis::Recovered {
            engine,
            projection,
            commands,
            events,
            replayed,
        } = recovered;
        let inbox = Arc::new(Inbox::new(config.request_queue.max(1)));
        let (fanout, _) = broadcast::channel(config.fanout_capacity.max(1));
        let shared = Arc::new(Shared {
            accepting: AtomicBool::new(true),
            failure: Mutex::new(None),
            counters: Counters::default(),
            commands,
            events,
        });
        tracing::info!(
            last_cmd_seq = engine.last_cmd_seq(),
            last_event_seq = engine.last_event_seq(),
            replayed,
            "node recovered"
        );
        let m_inbox = Arc::clone(&inbox);
        let m_shared = Arc::clone(&shared);
        let m_fanout = fanout.clone();
        let m_config = config.clone();
        let matcher = std::thread::Builder::new()
            .name("matcher".into())
            .spawn(move || {
                matcher_thread::run(m_config, engine, projection, m_inbox, m_shared, m_fanout)
            })
            .map_err(|e| NodeError::io("spawn matcher thread", &config.data_dir, e))?;
        let node = Node {
            handle: NodeHandle {
                tx: Arc::new(Sender {
                    inbox,
                    sequencer: Mutex::default(),
                }),
                fanout,
                shared,
            },
            matcher: Some(matcher),
        };
        if !config.genesis.is_empty() && node.handle.shared.commands.next_index() == 1 {
            for command in config.genesis.iter().cloned() {
                node.handle.tx.command(&node.handle.shared, command, None)?;
            }
            tracing::info!(commands = config.genesis.len(), "genesis commands queued");
        }
        Ok(node)
    }

    /// A handle to the node.
    pub fn handle(&self) -> NodeHandle<P> {
        self.handle.clone()
    }

    /// Graceful shutdown: stops accepting, lets every queued command finish (their submitters
    /// get their replies), writes a final snapshot, closes both journals. Blocking.
    pub fn shutdown(mut self) -> Result<ShutdownReport, NodeError> {
        self.handle.stop_accepting();
        // Queue the stop behind everything already queued.
        self.handle.tx.stop();
        self.join()
    }

    fn join(&mut self) -> Result<ShutdownReport, NodeError> {
        let report = match self.matcher.take() {
            Some(m) => match m.join() {
                Ok(r) => r?,
                Err(_) => {
                    return Err(NodeError::Failed(
                        self.handle
                            .shared
                            .failure()
                            .unwrap_or_else(|| "the matcher thread panicked".into()),
                    ))
                }
            },
            None => return Err(NodeError::ShuttingDown),
        };
        self.handle.shared.commands.shutdown()?;
        self.handle.shared.events.shutdown()?;
        if let Some(msg) = self.handle.shared.failure() {
            return Err(NodeError::Failed(msg));
        }
        Ok(ShutdownReport {
            last_cmd_seq: report.last_cmd_seq,
            last_event_seq: report.last_event_seq,
            state_hash: report.state_hash,
            snapshot: report.snapshot,
        })
    }
}

impl<P: Projection> Drop for Node<P> {
    fn drop(&mut self) {
        if self.matcher.is_some() {
            self.handle.stop_accepting();
            self.handle.tx.stop();
        }
    }
}

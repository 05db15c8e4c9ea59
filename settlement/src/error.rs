//! Errors of settlement.

/// What can go wrong settling events.
#[derive(Debug, thiserror::Error)]
pub enum SettleError {
    /// Postgres refused or lost the connection (retried with backoff by the follower).
    #[error("postgres: {0}")]
    Db(#[from] tokio_postgres::Error),
    /// The events journal could not be read.
    #[error("events journal: {0}")]
    Journal(#[from] journal::JournalError),
    /// A record of the events journal is not a valid event.
    #[error("event {index}: {source}")]
    Decode {
        /// The record's index.
        index: u64,
        /// Why.
        source: matcher::codec::CodecError,
    },
    /// The event stream contradicts itself (a gap, an unknown symbol, an order update for an
    /// order never accepted, an amount overflow): settling stops rather than guess.
    #[error("inconsistent event stream at event {seq}: {reason}")]
    Inconsistent {
        /// The event.
        seq: u64,
        /// What is wrong.
        reason: String,
    },
    /// The database holds something settlement did not write (or a newer schema).
    #[error("database: {0}")]
    Schema(String),
    /// Another writer moved the consumer offset: start over from what is committed.
    #[error("the consumer offset moved under this writer")]
    OffsetMoved,
    /// Reading the node's files (genesis, commands journal) for reconcile failed.
    #[error("{0}")]
    Node(String),
}

impl SettleError {
    /// Whether waiting and retrying can help (Postgres down, restarting or slow).
    pub fn is_retryable(&self) -> bool {
        matches!(self, SettleError::Db(_) | SettleError::OffsetMoved)
    }
}

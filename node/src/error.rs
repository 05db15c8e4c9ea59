//! Node errors.

use journal::JournalError;
use matcher::codec::CodecError;
use std::path::PathBuf;

/// What can go wrong in the node.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The request queue is full: the caller should answer "overloaded" and not retry at once.
    #[error("the node is overloaded: request queue full")]
    Overloaded,
    /// The node is shutting down (or has stopped) and takes no more commands.
    #[error("the node is shutting down")]
    ShuttingDown,
    /// The node stopped because of a fatal error (journal failure, matcher panic); see the log.
    #[error("the node has failed: {0}")]
    Failed(String),
    /// A journal error.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A record or snapshot does not decode.
    #[error("decode: {0}")]
    Codec(#[from] CodecError),
    /// Recovery found state that does not fit together.
    #[error("recovery: {0}")]
    Recovery(String),
    /// File I/O outside the journal.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

impl NodeError {
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        NodeError::Io {
            what,
            path: path.into(),
            source,
        }
    }
}

//! Errors of the cluster harness.

use std::path::PathBuf;

/// What can go wrong starting, using or stopping a private cluster.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No PostgreSQL server binaries were found.
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found (looked in {searched}); \
         install them, e.g. `apt-get install postgresql` on Debian/Ubuntu, or set \
         PGCLUSTER_BIN_DIR to the folder holding them, or give a database URL instead"
    )]
    BinariesMissing {
        /// The places searched, comma-separated.
        searched: String,
    },
    /// An I/O operation failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// On which path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A server program exited with a failure.
    #[error("{program} failed ({status}): {output}")]
    Command {
        /// The program (initdb, pg_ctl, psql).
        program: String,
        /// Its exit status.
        status: String,
        /// Its stderr and stdout, trimmed.
        output: String,
    },
    /// The process runs as root and there is no `postgres` user to run the server as.
    #[error("running as root and no `postgres` user exists to run the server as")]
    NoPostgresUser,
    /// `postmaster.pid` of a running cluster could not be understood.
    #[error("cannot read {path}: {reason}")]
    PidFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl ClusterError {
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ClusterError::Io {
            what,
            path: path.into(),
            source,
        }
    }
}

//! Throwaway clusters for tests.

use crate::{Cluster, ClusterError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// A cluster in a temporary directory, removed (server stopped first) when dropped.
#[derive(Debug)]
pub struct TempCluster {
    // Fields drop in order: the server stops before its directory is removed.
    cluster: Cluster,
    dir: tempfile::TempDir,
    next_db: AtomicU64,
}

/// A database of a [`TempCluster`], for one test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TempDatabase {
    /// The database name.
    pub name: String,
    /// Its connection string.
    pub connection_string: String,
}

static SHARED: OnceLock<&'static TempCluster> = OnceLock::new();

/// Prefix of the temporary directories, under `/tmp`.
const PREFIX: &str = "pgtest-";
/// The file in a temporary directory naming the process that made it.
const OWNER_FILE: &str = "owner.pid";
static SHARED_INIT: Mutex<()> = Mutex::new(());

impl TempCluster {
    /// A new cluster of its own (about 1 s): for tests that stop and restart the server.
    ///
    /// First it removes the clusters of test processes that died without cleaning up (killed
    /// by a timeout, say): their servers would otherwise run on forever.
    pub fn new() -> Result<TempCluster, ClusterError> {
        sweep_orphans();
        let dir = tempfile::Builder::new()
            .prefix(PREFIX)
            .tempdir_in("/tmp")
            .map_err(|e| ClusterError::io("create a temp dir in", "/tmp", e))?;
        let owner = dir.path().join(OWNER_FILE);
        std::fs::write(&owner, std::process::id().to_string())
            .map_err(|e| ClusterError::io("write", &owner, e))?;
        let cluster = Cluster::start(dir.path().join("pg"))?;
        Ok(TempCluster {
            cluster,
            dir,
            next_db: AtomicU64::new(1),
        })
    }

    /// The cluster shared by every test of this process, started on first use and stopped
    /// (its directory removed) when the process exits normally.
    pub fn shared() -> Result<&'static TempCluster, ClusterError> {
        if let Some(t) = SHARED.get() {
            return Ok(t);
        }
        let _guard = SHARED_INIT.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = SHARED.get() {
            return Ok(t);
        }
        let leaked: &'static TempCluster = Box::leak(Box::new(TempCluster::new()?));
        let _ = SHARED.set(leaked);
        // SAFETY: registering a plain `extern "C" fn` with no captured state.
        unsafe {
            libc::atexit(stop_shared);
        }
        Ok(leaked)
    }

    /// The cluster.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// A fresh, empty database with a unique name (about 40 ms).
    pub fn create_database(&self) -> Result<TempDatabase, ClusterError> {
        let n = self.next_db.fetch_add(1, Ordering::Relaxed);
        let name = format!("test_{}_{n}", std::process::id());
        self.cluster().psql(
            "postgres",
            &format!("CREATE DATABASE {name} TEMPLATE template0 STRATEGY FILE_COPY"),
        )?;
        Ok(TempDatabase {
            connection_string: self.cluster().connection_string(&name),
            name,
        })
    }
}

/// Stops and removes `/tmp/pgtest-*` clusters whose creating process is gone.
fn sweep_orphans() {
    let Ok(entries) = std::fs::read_dir("/tmp") else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(PREFIX))
        {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(path.join(OWNER_FILE)) else {
            continue; // being created, or made by a build that wrote no owner file
        };
        let Ok(pid) = text.trim().parse::<i32>() else {
            continue;
        };
        if crate::cluster::process_alive(pid) {
            continue;
        }
        match crate::cluster::stop_orphan(&path.join("pg")) {
            Ok(()) => {
                let _ = std::fs::remove_dir_all(&path);
                tracing::info!(dir = %path.display(), pid, "removed the cluster of a dead test process");
            }
            Err(e) => {
                tracing::warn!(dir = %path.display(), error = %e, "cannot stop an orphaned test cluster")
            }
        }
    }
}

extern "C" fn stop_shared() {
    if let Some(t) = SHARED.get() {
        let _ = t.cluster().stop_immediate();
        let _ = std::fs::remove_dir_all(t.dir.path());
    }
}

//! One private cluster: initdb, start, attach, stop.

use crate::owner::Owner;
use crate::{Binaries, ClusterError};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The port every private cluster uses. It only names the socket file
/// (`<socket_dir>/.s.PGSQL.5432`): TCP is off, so clusters never clash.
pub const PORT: u16 = 5432;

/// Longest socket directory we put beside the data (the socket file name adds 14 bytes and
/// unix socket paths are limited to about 107 bytes).
const MAX_SOCKET_DIR_LEN: usize = 90;

/// The settings file written on every start and included from `postgresql.conf`.
const SETTINGS_FILE: &str = "pgcluster.conf";

/// How long `pg_ctl` may wait for a start or stop.
const PG_CTL_TIMEOUT_S: &str = "60";

/// A private PostgreSQL cluster in a directory: `<dir>/data` (PGDATA), `<dir>/server.log`,
/// and the unix socket in `<dir>/run` (or a short folder under the temp dir when `<dir>` is
/// too long for a socket path).
#[derive(Debug)]
pub struct Cluster {
    /// The cluster's directory.
    pub dir: PathBuf,
    /// The folder holding the unix socket (the `host` of connection strings).
    pub socket_dir: PathBuf,
    /// The port (names the socket file).
    pub port: u16,
    binaries: Binaries,
    owner: Owner,
    /// Whether this handle started the server (and stops it on drop).
    owns_server: bool,
    running: AtomicBool,
    /// A short socket folder under the temp dir, removed with the handle.
    _short_socket_dir: Option<tempfile::TempDir>,
}

impl Cluster {
    /// Starts the cluster in `dir` (creating it with `initdb` on first use), or attaches to
    /// the server already running there. Blocks until the server accepts connections.
    ///
    /// When the process is root, `dir` is given to the `postgres` user, which must be able to
    /// reach it (every parent folder traversable by it).
    pub fn start(dir: impl AsRef<Path>) -> Result<Cluster, ClusterError> {
        let dir = absolute(dir.as_ref())?;
        let data = dir.join("data");
        if let Some((socket_dir, port)) = running_server(&data)? {
            tracing::info!(dir = %dir.display(), socket = %socket_dir.display(), "attached to a running postgres cluster");
            return Ok(Cluster {
                dir,
                socket_dir,
                port,
                binaries: Binaries::locate()?,
                owner: Owner::detect()?,
                owns_server: false,
                running: AtomicBool::new(true),
                _short_socket_dir: None,
            });
        }
        let binaries = Binaries::locate()?;
        let owner = Owner::detect()?;
        std::fs::create_dir_all(&dir).map_err(|e| ClusterError::io("create", &dir, e))?;
        owner.chown(&dir)?;
        if let Owner::User { uid, gid } = owner {
            check_reachable(&dir, uid, gid)?;
        }
        let beside = dir.join("run");
        let (socket_dir, short) = if beside.as_os_str().len() <= MAX_SOCKET_DIR_LEN {
            std::fs::create_dir_all(&beside).map_err(|e| ClusterError::io("create", &beside, e))?;
            (beside, None)
        } else {
            let t = tempfile::Builder::new()
                .prefix("pgc-")
                .tempdir_in("/tmp")
                .map_err(|e| ClusterError::io("create a socket folder in", "/tmp", e))?;
            (t.path().to_path_buf(), Some(t))
        };
        owner.chown(&socket_dir)?;
        let cluster = Cluster {
            dir,
            socket_dir,
            port: PORT,
            binaries,
            owner,
            owns_server: true,
            running: AtomicBool::new(false),
            _short_socket_dir: short,
        };
        if !data.join("PG_VERSION").is_file() {
            cluster.initdb()?;
        }
        cluster.resume()?;
        Ok(cluster)
    }

    /// A tokio-postgres / libpq key-value connection string for database `dbname`.
    pub fn connection_string(&self, dbname: &str) -> String {
        format!(
            "host={} port={} user=postgres dbname={}",
            self.socket_dir.display(),
            self.port,
            dbname
        )
    }

    /// The data directory (PGDATA).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The server binaries in use.
    pub fn binaries(&self) -> &Binaries {
        &self.binaries
    }

    /// Whether this handle started the server (and stops it when dropped).
    pub fn owns_server(&self) -> bool {
        self.owns_server
    }

    /// Makes this handle the owner of a server it attached to (it stops the server when
    /// dropped): for a process whose own cluster survived its previous crash.
    pub fn adopt(&mut self) {
        self.owns_server = true;
    }

    /// Stops the server (`pg_ctl stop -m fast`: open sessions are disconnected, everything
    /// committed is kept). Idempotent. An attached handle stops the server too when asked.
    pub fn stop(&self) -> Result<(), ClusterError> {
        self.pg_ctl_stop("fast")
    }

    /// Stops the server abruptly (`-m immediate`: like a crash; recovery runs on the next
    /// start). For tests of crash handling.
    pub fn stop_immediate(&self) -> Result<(), ClusterError> {
        self.pg_ctl_stop("immediate")
    }

    /// Starts the server again after [`Cluster::stop`], with the same socket. No-op when it
    /// runs.
    pub fn resume(&self) -> Result<(), ClusterError> {
        if self.running.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.write_settings()?;
        let log = self.dir.join("server.log");
        let mut cmd = Command::new(self.binaries.program("pg_ctl"));
        cmd.arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", PG_CTL_TIMEOUT_S, "start"]);
        run(cmd, self.owner, "pg_ctl start")?;
        self.running.store(true, Ordering::SeqCst);
        tracing::info!(dir = %self.dir.display(), socket = %self.socket_dir.display(), "postgres cluster started");
        Ok(())
    }

    /// Runs SQL through `psql` (`ON_ERROR_STOP`), returning its unaligned, tuples-only output.
    pub fn psql(&self, dbname: &str, sql: &str) -> Result<String, ClusterError> {
        let mut cmd = Command::new(self.binaries.psql());
        cmd.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(self.connection_string(dbname))
            .arg("-c")
            .arg(sql);
        let out = run(cmd, Owner::Current, "psql")?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn initdb(&self) -> Result<(), ClusterError> {
        let data = self.data_dir();
        let mut cmd = Command::new(self.binaries.program("initdb"));
        cmd.arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-instructions",
        ]);
        run(cmd, self.owner, "initdb")?;
        let conf = data.join("postgresql.conf");
        let mut text =
            std::fs::read_to_string(&conf).map_err(|e| ClusterError::io("read", &conf, e))?;
        text.push_str(&format!("\ninclude_if_exists = '{SETTINGS_FILE}'\n"));
        std::fs::write(&conf, text).map_err(|e| ClusterError::io("write", &conf, e))?;
        tracing::info!(dir = %data.display(), "initdb: new postgres cluster");
        Ok(())
    }

    /// Unix socket only, in our socket folder.
    fn write_settings(&self) -> Result<(), ClusterError> {
        let path = self.data_dir().join(SETTINGS_FILE);
        let text = format!(
            "# Written by pgcluster on every start.\nlisten_addresses = ''\n\
             unix_socket_directories = '{}'\nport = {}\n",
            self.socket_dir.display().to_string().replace('\'', "''"),
            self.port
        );
        std::fs::write(&path, text).map_err(|e| ClusterError::io("write", &path, e))?;
        self.owner.chown(&path)
    }

    fn pg_ctl_stop(&self, mode: &str) -> Result<(), ClusterError> {
        if !self.running.swap(false, Ordering::SeqCst) {
            return Ok(());
        }
        let mut cmd = Command::new(self.binaries.program("pg_ctl"));
        cmd.arg("-D")
            .arg(self.data_dir())
            .args(["-m", mode, "-w", "-t", PG_CTL_TIMEOUT_S, "stop"]);
        run(cmd, self.owner, "pg_ctl stop")?;
        tracing::info!(dir = %self.dir.display(), mode, "postgres cluster stopped");
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.owns_server {
            if let Err(e) = self.stop() {
                tracing::warn!(error = %e, dir = %self.dir.display(), "stopping the postgres cluster");
            }
        }
    }
}

/// Stops (`-m immediate`) a server running in the cluster directory `dir`, if any: for
/// clusters whose owner died without stopping them.
pub(crate) fn stop_orphan(dir: &Path) -> Result<(), ClusterError> {
    let data = dir.join("data");
    if running_server(&data)?.is_none() {
        return Ok(());
    }
    let binaries = Binaries::locate()?;
    let mut cmd = Command::new(binaries.program("pg_ctl"));
    cmd.arg("-D")
        .arg(&data)
        .args(["-m", "immediate", "-w", "-t", PG_CTL_TIMEOUT_S, "stop"]);
    run(cmd, Owner::detect()?, "pg_ctl stop").map(|_| ())
}

fn absolute(dir: &Path) -> Result<PathBuf, ClusterError> {
    std::path::absolute(dir).map_err(|e| ClusterError::io("resolve", dir, e))
}

fn run(mut cmd: Command, owner: Owner, program: &str) -> Result<Output, ClusterError> {
    owner.apply(&mut cmd);
    let out = cmd
        .output()
        .map_err(|e| ClusterError::io("run", PathBuf::from(program), e))?;
    if out.status.success() {
        return Ok(out);
    }
    let mut text = String::from_utf8_lossy(&out.stderr).trim().to_string();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !stdout.trim().is_empty() {
        text.push_str(" | ");
        text.push_str(stdout.trim());
    }
    Err(ClusterError::Command {
        program: program.to_string(),
        status: out.status.to_string(),
        output: text,
    })
}

/// The socket folder and port of a server running on `data`, waiting (bounded) for one that
/// is still starting.
fn running_server(data: &Path) -> Result<Option<(PathBuf, u16)>, ClusterError> {
    let path = data.join("postmaster.pid");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ClusterError::io("read", &path, e)),
        };
        // Lines: pid, data dir, start time, port, socket dir, listen address, shmem key, status.
        let lines: Vec<&str> = text.lines().collect();
        let Some(pid) = lines.first().and_then(|l| l.trim().parse::<i32>().ok()) else {
            return Ok(None);
        };
        if !process_alive(pid) {
            return Ok(None);
        }
        if lines.get(7).map(|s| s.trim()) == Some("ready") {
            let port = lines
                .get(3)
                .and_then(|l| l.trim().parse::<u16>().ok())
                .ok_or_else(|| ClusterError::PidFile {
                    path: path.clone(),
                    reason: "no port".into(),
                })?;
            let socket = lines
                .get(4)
                .map(|l| l.trim())
                .filter(|l| !l.is_empty())
                .ok_or_else(|| ClusterError::PidFile {
                    path: path.clone(),
                    reason: "no unix socket folder".into(),
                })?;
            return Ok(Some((PathBuf::from(socket), port)));
        }
        if Instant::now() > deadline {
            return Err(ClusterError::PidFile {
                path,
                reason: "the server did not become ready within 30 s".into(),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(crate) fn process_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill with signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Fails with a clear message when the `postgres` user cannot traverse a parent of `dir`.
fn check_reachable(dir: &Path, uid: u32, gid: u32) -> Result<(), ClusterError> {
    for ancestor in dir.ancestors().skip(1) {
        let Ok(meta) = std::fs::metadata(ancestor) else {
            continue;
        };
        let mode = meta.mode();
        let ok = mode & 0o001 != 0
            || (meta.uid() == uid && mode & 0o100 != 0)
            || (meta.gid() == gid && mode & 0o010 != 0);
        if !ok {
            return Err(ClusterError::io(
                "the postgres user cannot reach the cluster through",
                ancestor,
                std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    "make it traversable (chmod o+x) or put the cluster elsewhere",
                ),
            ));
        }
    }
    Ok(())
}

//! Server processes the load test starts: an `exchange run` node in a fresh data directory
//! (with API keys issued by `exchange keys create`), or the echo server.

use super::keys::parse_keys;
use super::LoadError;
use crate::demo::TraderKey;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a server may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A child process serving a WebSocket API. Stopped with SIGTERM by [`ChildServer::stop`],
/// killed if dropped while running.
#[derive(Debug)]
pub struct ChildServer {
    what: String,
    child: Child,
    url: String,
    log: Option<PathBuf>,
}

impl ChildServer {
    /// Starts `cmd` and waits until it prints a line containing `marker` followed by a
    /// `ws://` address; that address is [`ChildServer::url`]. The child's stderr goes to
    /// `log` (or is discarded); its later stdout lines are copied to this process's stderr.
    pub fn start(
        what: &str,
        mut cmd: Command,
        marker: &str,
        log: Option<&Path>,
    ) -> Result<ChildServer, LoadError> {
        let server_err = |why: String| LoadError::Server {
            what: what.to_string(),
            why,
        };
        let stderr = match log {
            Some(path) => Stdio::from(
                std::fs::File::create(path)
                    .map_err(LoadError::io(format!("creating {}", path.display())))?,
            ),
            None => Stdio::null(),
        };
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| server_err(format!("cannot start {cmd:?}: {e}")))?;
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            return Err(server_err("no stdout pipe".into()));
        };
        let (tx, rx) = mpsc::channel();
        let marker = marker.to_string();
        let name = what.to_string();
        std::thread::spawn(move || {
            let mut found = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if !found && line.contains(&marker) {
                    if let Some(url) = line.split_whitespace().find(|w| w.starts_with("ws://")) {
                        found = true;
                        let _ = tx.send(url.to_string());
                        continue;
                    }
                }
                eprintln!("[{name}] {line}");
            }
        });
        let mut server = ChildServer {
            what: what.to_string(),
            child,
            url: String::new(),
            log: log.map(Path::to_path_buf),
        };
        // On an error the server is dropped, which kills the process.
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(url) => {
                server.url = url;
                Ok(server)
            }
            Err(_) => Err(server_err(format!(
                "did not print its address{}",
                server
                    .log
                    .as_ref()
                    .map(|l| format!(" (see {})", l.display()))
                    .unwrap_or_default()
            ))),
        }
    }

    /// The server's `ws://` address as it printed it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits up to `grace` for the process to exit; kills it after that.
    pub fn stop(mut self, grace: Duration) -> Result<ExitStatus, LoadError> {
        let pid = libc::pid_t::try_from(self.child.id()).map_err(|_| LoadError::Server {
            what: self.what.clone(),
            why: "process id out of range".into(),
        })?;
        // SAFETY: kill(2) with our own child's pid and a valid signal number has no
        // memory-safety preconditions.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + grace;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Ok(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(None) => {
                    tracing::warn!(what = %self.what, "did not stop after SIGTERM; killing it");
                    let _ = self.child.kill();
                    return self
                        .child
                        .wait()
                        .map_err(LoadError::io(format!("waiting for {}", self.what)));
                }
                Err(e) => {
                    return Err(LoadError::Io {
                        what: format!("waiting for {}", self.what),
                        source: e,
                    })
                }
            }
        }
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// How to start a node for a load test.
#[derive(Clone, Debug)]
pub struct NodeSetup {
    /// The `exchange` binary.
    pub exchange_bin: PathBuf,
    /// Where the temporary data directory is created (it must be on the disk to measure:
    /// the journals fdatasync there).
    pub parent_dir: PathBuf,
    /// Funded accounts, each with one API key.
    pub accounts: Vec<u64>,
    /// Most open orders per account (the engine's limit).
    pub max_open_orders_per_account: u32,
    /// Let the node run settlement into Postgres beside it (`exchange run` does unless
    /// `EXCHANGE_SETTLEMENT=off`); off, the load measures order entry alone.
    pub settlement: bool,
}

/// A running node in its own temporary data directory (removed when dropped).
#[derive(Debug)]
pub struct SpawnedNode {
    /// The node process (`url` is its WebSocket API).
    pub server: ChildServer,
    /// One key per account of [`NodeSetup::accounts`], in that order.
    pub keys: Vec<TraderKey>,
    dir: tempfile::TempDir,
}

/// The configuration file of a load-test node: the built-in markets, rate limits out of the
/// way, every account funded as the built-in demo accounts are.
pub fn node_config_toml(setup: &NodeSetup) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Written by the bench binary for a load test.\n[engine]\nmax_open_orders_per_account = {}\n\
         [gateway]\nrequest_weight_per_minute = 1000000000000\norders_per_10s = 1000000000000\n\
         orders_per_day = 1000000000000",
        setup.max_open_orders_per_account
    );
    for account in &setup.accounts {
        for (asset, amount) in [("BTC", "1000"), ("ETH", "10000"), ("USDT", "100000000")] {
            let _ = writeln!(
                out,
                "[[deposits]]\naccount = {account}\nasset = \"{asset}\"\namount = \"{amount}\""
            );
        }
    }
    out
}

impl SpawnedNode {
    /// Writes the configuration, issues the keys, starts `exchange run` on a free loopback
    /// port and waits until it listens.
    pub fn start(setup: &NodeSetup) -> Result<SpawnedNode, LoadError> {
        let dir = tempfile::Builder::new()
            .prefix("bench-node-")
            .tempdir_in(&setup.parent_dir)
            .map_err(LoadError::io(format!(
                "creating a data directory in {}",
                setup.parent_dir.display()
            )))?;
        let data = dir.path().join("data");
        let config = dir.path().join("exchange.toml");
        std::fs::write(&config, node_config_toml(setup))
            .map_err(LoadError::io(format!("writing {}", config.display())))?;
        let mut keys = Vec::with_capacity(setup.accounts.len());
        for account in &setup.accounts {
            let out = Command::new(&setup.exchange_bin)
                .args(["keys", "create", "--account", &account.to_string()])
                .arg("--data-dir")
                .arg(&data)
                .output()
                .map_err(LoadError::io(format!(
                    "running {} keys create",
                    setup.exchange_bin.display()
                )))?;
            if !out.status.success() {
                return Err(LoadError::Server {
                    what: "exchange keys create".into(),
                    why: String::from_utf8_lossy(&out.stderr).trim().to_string(),
                });
            }
            keys.extend(parse_keys(&String::from_utf8_lossy(&out.stdout))?);
        }
        let mut cmd = Command::new(&setup.exchange_bin);
        cmd.arg("run")
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(&data)
            .args(["--listen", "127.0.0.1:0"]);
        if !setup.settlement {
            cmd.env("EXCHANGE_SETTLEMENT", "off");
        }
        let server = ChildServer::start(
            "exchange run",
            cmd,
            "exchange listening on",
            Some(&dir.path().join("node.log")),
        )?;
        Ok(SpawnedNode { server, keys, dir })
    }

    /// The temporary directory (data, configuration and the node's log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Stops the node (SIGTERM: it finishes queued commands and writes a snapshot) and
    /// removes its directory.
    pub fn stop(self) -> Result<ExitStatus, LoadError> {
        self.server.stop(Duration::from_secs(60))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_node_config_funds_every_account_and_lifts_the_limits() {
        let setup = NodeSetup {
            exchange_bin: PathBuf::from("exchange"),
            parent_dir: PathBuf::from("."),
            accounts: vec![1001, 2002],
            max_open_orders_per_account: 300,
            settlement: false,
        };
        let text = node_config_toml(&setup);
        assert!(text.contains("max_open_orders_per_account = 300\n"));
        assert!(text.contains("orders_per_10s = 1000000000000\n"));
        assert_eq!(text.matches("[[deposits]]").count(), 6);
        assert!(text.contains("account = 2002\nasset = \"USDT\"\namount = \"100000000\""));
    }
}

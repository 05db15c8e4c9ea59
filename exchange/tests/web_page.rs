//! The market page end to end: `exchange demo` (a node with simulated traders) serves the
//! page; headless Chromium (Debian's package, driven by playwright-core) loads it and checks
//! that the book, trades, candles and ticker show and update, that the interval and symbol
//! switches work, and that the page reconnects and resynchronises when the node is killed and
//! restarted on the same data directory. The checks themselves are in
//! web/frontend/e2e/market_page.mjs; this test owns the node and restarts it when the script
//! asks. Screenshots land in the target directory (the paths are printed).
#![allow(clippy::unwrap_used)]

mod common;

use common::{free_port, EXE};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::KillOnDrop as Guard;

/// The browser script, stopped with SIGTERM if the test ends or fails before it finished:
/// playwright then closes the browser it launched (in a process group of its own, which a
/// SIGKILL of node would leave behind); SIGKILL after 5 s.
struct ScriptGuard(Child);

impl Drop for ScriptGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(self.0.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.0.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn frontend() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/frontend")
}

/// What the browser test needs, or a panic that says how to get it.
fn prerequisites() -> PathBuf {
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        chromium.is_file(),
        "{} is missing: the market page's browser test needs Debian's Chromium \
         (`apt-get install -y chromium`; .ci/run installs it), or CHROMIUM=<path>",
        chromium.display()
    );
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.as_ref().is_ok_and(|o| o.status.success()),
        "`node` is missing: the market page's browser test needs Node.js >= 20 ({node:?})"
    );
    let playwright = frontend().join("node_modules/playwright-core/package.json");
    assert!(
        playwright.is_file(),
        "{} is missing: run `npm ci` in web/frontend (.ci/run does)",
        playwright.display()
    );
    chromium
}

/// `exchange demo` on `port` with a few traders at a modest rate; settlement off (no Postgres
/// needed: the page reads md-push only).
fn start_demo(data: &Path, port: u16, log: &Path) -> Guard {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(EXE)
        .args(["demo", "--traders", "4", "--rate", "150", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(data)
        .env("EXCHANGE_SETTLEMENT", "off")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .map(Guard)
        .unwrap()
}

/// Waits until the node answers `GET /api/v3/exchangeInfo` with 200.
fn wait_ready(port: u16, child: &mut Guard, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = child.0.try_wait() {
            panic!(
                "exchange demo exited ({status}):\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let ok = rt.block_on(async {
            match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                Ok(_) => common::http_get(port, "/api/v3/exchangeInfo", "").await.0 == 200,
                Err(_) => false,
            }
        });
        if ok {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the node did not come up on {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn market_page_in_headless_chromium() {
    let chromium = prerequisites();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("demo.log");
    let port = free_port();
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web_page");
    let started = Instant::now();

    let mut node = start_demo(&data, port, &log);
    wait_ready(port, &mut node, &log);

    let mut script = ScriptGuard(
        Command::new("node")
            .arg("e2e/market_page.mjs")
            .arg(format!("http://127.0.0.1:{port}/"))
            .arg(&shots)
            .current_dir(frontend())
            .env("CHROMIUM", &chromium)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let mut to_script = script.0.stdin.take().unwrap();
    let (lines_tx, lines) = mpsc::channel();
    let stdout = script.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if lines_tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });

    let deadline = started + Duration::from_secs(110);
    let mut screenshots = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = match lines.recv_timeout(left) {
            Ok(line) => line,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!(
                "the browser test did not finish in time; node log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            ),
        };
        eprintln!("{line}");
        match line.as_str() {
            "STOP" => {
                // A crash, not a clean stop: the page sees its connection reset.
                node.0.kill().unwrap();
                node.0.wait().unwrap();
                writeln!(to_script, "stopped").unwrap();
            }
            "START" => {
                node = start_demo(&data, port, &log);
                wait_ready(port, &mut node, &log);
                writeln!(to_script, "started").unwrap();
            }
            other => {
                if let Some(path) = other.strip_prefix("SCREENSHOT ") {
                    screenshots.push(path.to_string());
                }
            }
        }
    }
    let status = script.0.wait().unwrap();
    for s in &screenshots {
        println!("screenshot: {s}");
    }
    assert!(
        status.success(),
        "the browser test failed ({status}); screenshots: {screenshots:?}; node log:\n{}",
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        screenshots.iter().any(|s| s.ends_with("market-page.png")),
        "no screenshot: {screenshots:?}"
    );
    eprintln!(
        "market page e2e passed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

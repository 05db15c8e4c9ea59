//! Helpers shared by the tests that run the `exchange` binary.
#![allow(clippy::unwrap_used, dead_code)]

use bench::client::Credentials;
use std::path::Path;
use std::process::Command;

/// The binary under test.
pub const EXE: &str = env!("CARGO_BIN_EXE_exchange");

/// A loopback port nothing listens on (now).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `exchange keys create --account N --data-dir DATA`, parsed.
pub fn create_key(data: &Path, account: u64) -> Credentials {
    let out = Command::new(EXE)
        .args([
            "keys",
            "create",
            "--account",
            &account.to_string(),
            "--data-dir",
        ])
        .arg(data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap()
            .trim()
            .to_string()
    };
    Credentials::new(field("apiKey"), field("secretKey"))
}

/// A GET over a raw socket (with `X-MBX-APIKEY` when `api_key` is not empty): the status and
/// the body.
pub async fn http_get(port: u16, path: &str, api_key: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let header = if api_key.is_empty() {
        String::new()
    } else {
        format!("X-MBX-APIKEY: {api_key}\r\n")
    };
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n{header}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let status = out.split(' ').nth(1).unwrap().parse().unwrap();
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    // Chunked bodies: take the JSON between the first line and the terminator.
    let body = if body.starts_with('[') || body.starts_with('{') || body.starts_with('#') {
        body
    } else {
        body.lines()
            .skip(1)
            .take_while(|l| *l != "0")
            .collect::<Vec<_>>()
            .join("\n")
    };
    (status, body)
}

/// A child process (the exchange) killed if the test ends, or fails, before it stopped.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

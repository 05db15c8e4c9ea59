//! The embedded page over a real socket: every file of `dist/` is served at its path with the
//! right Content-Type, caching headers and bytes; `/` is index.html; revalidation answers 304;
//! paths the page does not have are 404.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Reply {
    status: u16,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

async fn serve() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, web::router()).await });
    port
}

/// One HTTP/1.1 request with `Connection: close`; the body is read to the end (the router
/// sends a Content-Length, never chunks, for these fixed bodies).
async fn request(port: u16, method: &str, path: &str, extra: &str) -> Reply {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let req = format!("{method} {path} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.trim().to_ascii_lowercase(), v.trim().to_string())
        })
        .collect();
    Reply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

fn dist() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("dist")
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// The Content-Type a browser needs for each kind of file the build emits (written out here,
/// independently of build.rs's table).
fn expected_type(path: &str) -> &'static str {
    match path.rsplit_once('.').unwrap().1 {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        other => panic!("the build emitted a .{other} file: add it to this test"),
    }
}

#[tokio::test]
async fn every_file_of_dist_is_served_with_its_type_and_cache_policy() {
    let port = serve().await;
    let mut all = Vec::new();
    files(&dist(), &mut all);
    assert!(
        all.len() >= 3,
        "index.html, a script and a stylesheet at least: {all:?}"
    );
    assert_eq!(web::assets().len(), all.len(), "embedded vs on disk");
    let mut hashed = 0;
    for file in &all {
        let rel = file.strip_prefix(dist()).unwrap().to_str().unwrap();
        let path = format!("/{rel}");
        let r = request(port, "GET", &path, "").await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.headers["content-type"], expected_type(&path), "{path}");
        assert_eq!(r.body, std::fs::read(file).unwrap(), "{path}: bytes");
        assert_eq!(
            r.headers["content-length"],
            r.body.len().to_string(),
            "{path}"
        );
        assert_eq!(r.headers["x-content-type-options"], "nosniff", "{path}");
        let cache = &r.headers["cache-control"];
        if path.starts_with("/assets/") {
            hashed += 1;
            assert_eq!(cache, "public, max-age=31536000, immutable", "{path}");
            // Vite's content hash is in the name: `index-Bby5FaCb.js`.
            let name = path.rsplit('/').next().unwrap();
            assert!(name.contains('-'), "{path} carries no hash");
        } else {
            assert_eq!(cache, "no-cache", "{path}");
        }
        assert!(r.headers["etag"].starts_with('"'), "{path}");
    }
    assert!(hashed >= 2, "the script and the stylesheet are hashed");
}

#[tokio::test]
async fn root_is_index_html_with_a_content_security_policy() {
    let port = serve().await;
    let root = request(port, "GET", "/", "").await;
    let index = std::fs::read(dist().join("index.html")).unwrap();
    assert_eq!(root.status, 200);
    assert_eq!(root.body, index);
    assert_eq!(root.headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(root.headers["cache-control"], "no-cache");
    assert_eq!(
        root.headers["content-security-policy"],
        web::CONTENT_SECURITY_POLICY_VALUE
    );
    // Everything index.html loads from this origin is embedded.
    let text = String::from_utf8(index).unwrap();
    let mut referenced = 0;
    for quote in text.split('"').skip(1).step_by(2) {
        if quote.starts_with('/') && quote.len() > 1 {
            referenced += 1;
            assert!(
                web::asset(quote).is_some(),
                "index.html loads {quote}, not embedded"
            );
            assert_eq!(request(port, "GET", quote, "").await.status, 200, "{quote}");
        }
    }
    assert!(referenced >= 3, "script, stylesheet, icon: {referenced}");
}

#[tokio::test]
async fn revalidation_and_head() {
    let port = serve().await;
    let first = request(port, "GET", "/", "").await;
    let etag = first.headers["etag"].clone();
    for header in [
        format!("If-None-Match: {etag}\r\n"),
        format!("If-None-Match: W/{etag}\r\n"),
        format!("If-None-Match: \"nope\", {etag}\r\n"),
    ] {
        let r = request(port, "GET", "/", &header).await;
        assert_eq!(r.status, 304, "{header}");
        assert!(r.body.is_empty());
        assert_eq!(r.headers["etag"], etag);
    }
    let changed = request(port, "GET", "/", "If-None-Match: \"0000\"\r\n").await;
    assert_eq!(changed.status, 200);
    assert_eq!(changed.body, first.body);
    let head = request(port, "HEAD", "/", "").await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.headers["content-type"], "text/html; charset=utf-8");
}

#[tokio::test]
async fn unknown_paths_are_404() {
    let port = serve().await;
    for path in [
        "/nope",
        "/index.htm",
        "/assets/",
        "/assets/index.js",
        "/assets/../index.html",
        "/src/main.js",
        "/frontend/package.json",
        "/favicon.ico",
    ] {
        let r = request(port, "GET", path, "").await;
        assert_eq!(r.status, 404, "{path}");
    }
    assert!(web::asset("/nope").is_none());
    assert!(web::asset("/").is_some());
}

//! Embeds `dist/` (the built page, committed) in the crate: writes `$OUT_DIR/assets.rs`, a
//! table of every file with its URL path, Content-Type, Cache-Control, ETag and an
//! `include_bytes!` of its contents. A file type without a known Content-Type, or a file name
//! outside `[A-Za-z0-9._-]`, fails the build rather than being served wrong.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    );
    let dist = manifest.join("dist");
    println!("cargo:rerun-if-changed=dist");
    if !dist.join("index.html").is_file() {
        panic!(
            "{} is missing: build the page with `npm ci && npm run build` in web/frontend",
            dist.join("index.html").display()
        );
    }
    let mut files = Vec::new();
    collect(&dist, &mut files);
    files.sort();
    let mut out = String::from(
        "/// Every file of `dist/`, sorted by path.\npub(crate) static ASSETS: &[Asset] = &[\n",
    );
    for file in &files {
        let rel = file.strip_prefix(&dist).expect("collected under dist");
        let parts: Vec<String> = rel
            .components()
            .map(|c| {
                c.as_os_str()
                    .to_str()
                    .expect("UTF-8 file names in dist")
                    .to_string()
            })
            .collect();
        for p in &parts {
            assert!(
                !p.is_empty()
                    && !p.starts_with('.')
                    && p.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
                "dist file name {p:?} ({}) is outside [A-Za-z0-9._-]",
                file.display()
            );
        }
        let url = format!("/{}", parts.join("/"));
        let ext = url.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
        let content_type = content_type(ext).unwrap_or_else(|| {
            panic!("no Content-Type for {url}: add its extension to web/build.rs")
        });
        // Vite names everything under assets/ by content hash: cache forever. Anything else
        // (index.html, public files) is revalidated on every use.
        let cache = if url.starts_with("/assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        let bytes =
            std::fs::read(file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
        let etag = format!("\"{:016x}\"", fnv1a(&bytes));
        writeln!(
            out,
            "    Asset {{ path: {url:?}, content_type: {content_type:?}, cache_control: {cache:?}, etag: {etag:?}, body: include_bytes!({:?}) }},",
            file.display().to_string()
        )
        .expect("writing to a String");
    }
    out.push_str("];\n");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out_dir.join("assets.rs"), out).expect("writing assets.rs");
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("listing dist").path();
        if path.is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}

fn content_type(ext: &str) -> Option<&'static str> {
    Some(match ext {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => return None,
    })
}

/// FNV-1a, 64 bits: an ETag, not a security measure.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

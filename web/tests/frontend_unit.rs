//! Runs the page's own unit tests (`web/frontend/test/*.test.js`: the local-book procedure
//! against a simulated md-push, exact decimals, the checksum, backoff, subscriptions, candle
//! and trade merging) with Node's built-in test runner, so `cargo test` covers them. They
//! import only the page's sources: no `npm ci` needed, only `node` (>= 20).
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

#[test]
fn frontend_unit_tests_pass() {
    let frontend = Path::new(env!("CARGO_MANIFEST_DIR")).join("frontend");
    let out = match Command::new("node")
        .args(["--test", "--test-reporter=tap", "test/"])
        .current_dir(&frontend)
        .output()
    {
        Ok(out) => out,
        Err(e) => panic!(
            "cannot run `node` ({e}): the market page's unit tests need Node.js >= 20 on PATH \
             (the machine's nodejs package)"
        ),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "node --test test/ in {} failed:\n{stdout}\n{stderr}",
        frontend.display()
    );
    // The runner's summary: at least the suites this crate ships, and none failed.
    let count = |key: &str| -> u64 {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("# {key} ")))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no `# {key}` line in node's output:\n{stdout}"))
    };
    assert_eq!(count("fail"), 0, "{stdout}");
    assert!(count("pass") >= 20, "{stdout}");
    eprintln!("node --test: {} passed", count("pass"));
}
